"""Counts a topic's records from the beginning with confluent-kafka (an independent client):
prints {"records": N, "distinct": M, "partitions": P}, where distinct counts (key, value.seq)
pairs, once `expected` records were read or the timeout passed."""
import json
import sys
import time

from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition


def main():
    brokers, topic, expected, timeout = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
    consumer = Consumer({"bootstrap.servers": brokers, "group.id": "patty-tests-count", "enable.auto.commit": False})
    meta = consumer.list_topics(topic, timeout=10).topics[topic]
    if meta.error is not None:
        sys.exit(f"topic {topic}: {meta.error}")
    consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in meta.partitions])
    records, seen = 0, set()
    deadline = time.time() + timeout
    while records < expected and time.time() < deadline:
        for msg in consumer.consume(num_messages=1000, timeout=0.5):
            if msg.error():
                continue
            records += 1
            seen.add((msg.key(), json.loads(msg.value())["seq"]))
    # A short grace period for anything beyond the expected count (duplicates).
    end = time.time() + 1.0
    while time.time() < end:
        for msg in consumer.consume(num_messages=1000, timeout=0.2):
            if not msg.error():
                records += 1
                seen.add((msg.key(), json.loads(msg.value())["seq"]))
    print(json.dumps({"records": records, "distinct": len(seen), "partitions": len(meta.partitions)}))
    consumer.close()


if __name__ == "__main__":
    main()
