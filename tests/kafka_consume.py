"""An independent Kafka consumer for the tests: reads whole topics from the beginning and prints
one JSON line per record (topic, partition, offset, key, value, headers). Uses confluent-kafka,
not the cloud's own client, so the cloud's producing is checked by a different implementation."""
import json
import sys
import time

from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition


def main():
    brokers, expected, timeout = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
    topics = sys.argv[4:]
    consumer = Consumer({"bootstrap.servers": brokers, "group.id": "patty-tests-reader", "enable.auto.commit": False})
    parts = []
    for topic in topics:
        meta = consumer.list_topics(topic, timeout=10).topics[topic]
        if meta.error is not None:
            sys.exit(f"topic {topic}: {meta.error}")
        parts += [TopicPartition(topic, p, OFFSET_BEGINNING) for p in meta.partitions]
    consumer.assign(parts)
    seen = 0
    deadline = time.time() + timeout
    while seen < expected and time.time() < deadline:
        msg = consumer.poll(0.2)
        if msg is None:
            continue
        if msg.error():
            continue
        headers = {k: v.decode() for k, v in (msg.headers() or [])}
        print(json.dumps({
            "topic": msg.topic(), "partition": msg.partition(), "offset": msg.offset(),
            "key": msg.key().decode() if msg.key() else None,
            "value": json.loads(msg.value()), "headers": headers,
        }), flush=True)
        seen += 1
    # Give a short grace period for anything beyond the expected count (duplicates).
    end = time.time() + 1.0
    while time.time() < end:
        msg = consumer.poll(0.2)
        if msg is not None and not msg.error():
            print(json.dumps({
                "topic": msg.topic(), "partition": msg.partition(), "offset": msg.offset(),
                "key": msg.key().decode() if msg.key() else None, "value": json.loads(msg.value()), "headers": {},
            }), flush=True)
    consumer.close()


if __name__ == "__main__":
    main()
