-- The cloud's schema on SQLite (the embedded default). The PostgreSQL twin in ../postgres keeps the same tables and columns;
-- times are Unix milliseconds (BIGINT), flags are 0/1 (BIGINT), documents are JSON text.
CREATE TABLE users (
    id             TEXT PRIMARY KEY,
    email          TEXT UNIQUE,
    name           TEXT NOT NULL,
    password_hash  TEXT NOT NULL,
    role           TEXT NOT NULL,
    outlet_id      TEXT,
    email_verified BIGINT NOT NULL DEFAULT 0,
    phone          TEXT,
    preferences    TEXT NOT NULL DEFAULT '{}',
    created_ms     BIGINT NOT NULL,
    erased_ms      BIGINT
);

CREATE TABLE refresh_tokens (
    hash       TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES users (id),
    family     TEXT NOT NULL,
    created_ms BIGINT NOT NULL,
    expires_ms BIGINT NOT NULL,
    used       BIGINT NOT NULL DEFAULT 0,
    revoked    BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX refresh_tokens_family ON refresh_tokens (family);

CREATE TABLE one_time_tokens (
    hash       TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES users (id),
    purpose    TEXT NOT NULL,
    expires_ms BIGINT NOT NULL,
    used_ms    BIGINT
);

CREATE TABLE api_keys (
    id           TEXT PRIMARY KEY,
    hash         TEXT NOT NULL UNIQUE,
    kind         TEXT NOT NULL,
    subject      TEXT NOT NULL,
    name         TEXT NOT NULL,
    created_ms   BIGINT NOT NULL,
    revoked_ms   BIGINT
);

CREATE TABLE outlets (
    id                 TEXT PRIMARY KEY,
    doc                TEXT NOT NULL,
    status             TEXT NOT NULL,
    created_ms         BIGINT NOT NULL,
    updated_ms         BIGINT NOT NULL
);

CREATE TABLE catalog_draft (
    id         BIGINT PRIMARY KEY,
    doc        TEXT NOT NULL,
    updated_ms BIGINT NOT NULL,
    updated_by TEXT NOT NULL
);

CREATE TABLE catalog_versions (
    version      BIGINT PRIMARY KEY,
    doc          TEXT NOT NULL,
    published_ms BIGINT NOT NULL,
    published_by TEXT NOT NULL
);

CREATE TABLE addresses (
    id         TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES users (id),
    doc        TEXT NOT NULL,
    created_ms BIGINT NOT NULL
);
CREATE INDEX addresses_user ON addresses (user_id);

CREATE TABLE activity (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id TEXT NOT NULL,
    at_ms   BIGINT NOT NULL,
    kind    TEXT NOT NULL,
    detail  TEXT NOT NULL
);
CREATE INDEX activity_user ON activity (user_id, id);

CREATE TABLE orders (
    id              TEXT PRIMARY KEY,
    customer_id     TEXT NOT NULL,
    outlet_id       TEXT NOT NULL,
    status          TEXT NOT NULL,
    idempotency_key TEXT NOT NULL,
    request_hash    TEXT NOT NULL,
    created_ms      BIGINT NOT NULL,
    updated_ms      BIGINT NOT NULL,
    doc             TEXT NOT NULL,
    UNIQUE (customer_id, idempotency_key)
);
CREATE INDEX orders_customer ON orders (customer_id, created_ms);
CREATE INDEX orders_outlet ON orders (outlet_id, created_ms);

-- The transactional outbox: events written with their change, waiting for the relay. It holds
-- only what is not relayed yet, so it stays small.
CREATE TABLE outbox (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id   TEXT NOT NULL,
    topic      TEXT NOT NULL,
    key        TEXT NOT NULL,
    kind       TEXT NOT NULL,
    payload    TEXT NOT NULL,
    created_ms BIGINT NOT NULL
);

-- Relayed events, append-only, numbered gap-free in the order the single relay moved them, so a
-- reader's cursor never skips an event that committed late.
CREATE TABLE events (
    position   BIGINT PRIMARY KEY,
    event_id   TEXT NOT NULL,
    topic      TEXT NOT NULL,
    key        TEXT NOT NULL,
    kind       TEXT NOT NULL,
    payload    TEXT NOT NULL,
    created_ms BIGINT NOT NULL,
    relayed_ms BIGINT NOT NULL
);
CREATE INDEX events_key ON events (key, position);

CREATE TABLE relay_state (
    name  TEXT PRIMARY KEY,
    value BIGINT NOT NULL
);
INSERT INTO relay_state (name, value) VALUES ('next_position', 1);
