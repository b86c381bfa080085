-- Crypto-shredding: each customer's data key, wrapped by the cloud's master key. Personal fields
-- in events are sealed with it; erasure deletes the row, and every copy of those fields (the
-- event log, Kafka, consumers' stores) becomes unreadable at once. `key_id` is what sealed
-- fields name: random, so an event leads to no one once the row is gone.
CREATE TABLE customer_keys (
    customer_id TEXT PRIMARY KEY,
    key_id      TEXT NOT NULL UNIQUE,
    wrapped     TEXT NOT NULL,
    created_ms  BIGINT NOT NULL
);
