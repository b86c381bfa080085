-- The delivery event store: every record of the delivery topics that names a delivery, as the
-- store's Kafka consumer group read it, once per (topic, partition, offset).
CREATE TABLE delivery_store (
    topic        TEXT NOT NULL,
    part         BIGINT NOT NULL,
    kafka_offset BIGINT NOT NULL,
    delivery_id  TEXT NOT NULL,
    kind         TEXT NOT NULL,
    at_ms        BIGINT NOT NULL,
    payload      TEXT NOT NULL,
    PRIMARY KEY (topic, part, kafka_offset)
);
CREATE INDEX delivery_store_delivery ON delivery_store (delivery_id, at_ms);
