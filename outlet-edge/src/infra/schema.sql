-- The outlet's store. Applied once per version through PRAGMA user_version (see store.rs).
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

-- Every write appends here in its own transaction: sync ships these rows to the cloud.
CREATE TABLE change_log (
    seq     INTEGER PRIMARY KEY,      -- gap-free from 1
    hlc     INTEGER NOT NULL,         -- hybrid logical clock stamp
    kind    TEXT NOT NULL,            -- the ChangeV1 variant, for reading without decoding
    payload BLOB NOT NULL             -- postcard ChangeEntry
);

CREATE TABLE orders (
    id              TEXT PRIMARY KEY,
    number          INTEGER NOT NULL,
    status          TEXT NOT NULL,
    created_ms      INTEGER NOT NULL,
    updated_ms      INTEGER NOT NULL,
    idempotency_key TEXT UNIQUE,
    request_hash    TEXT,
    recalled        INTEGER NOT NULL DEFAULT 0,
    doc             TEXT NOT NULL     -- the protocol Order as JSON
);
CREATE INDEX orders_created ON orders (created_ms);
CREATE INDEX orders_status ON orders (status, created_ms);

CREATE TABLE counters (
    name  TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);

CREATE TABLE ingredients (
    id            TEXT PRIMARY KEY,
    name          TEXT NOT NULL,
    unit          TEXT NOT NULL,
    reorder_level INTEGER NOT NULL,
    on_hand       INTEGER NOT NULL DEFAULT 0   -- the sum of this ingredient's movements
);

CREATE TABLE stock_movements (
    id            TEXT PRIMARY KEY,
    ingredient_id TEXT NOT NULL REFERENCES ingredients (id),
    kind          TEXT NOT NULL,
    delta         INTEGER NOT NULL,
    order_id      TEXT,
    staff_id      TEXT,
    note          TEXT NOT NULL,
    at_ms         INTEGER NOT NULL
);
CREATE INDEX stock_movements_ingredient ON stock_movements (ingredient_id, at_ms);
CREATE INDEX stock_movements_order ON stock_movements (order_id) WHERE order_id IS NOT NULL;

CREATE TABLE stock_alerts (
    id            INTEGER PRIMARY KEY,
    ingredient_id TEXT NOT NULL REFERENCES ingredients (id),
    raised_ms     INTEGER NOT NULL,
    cleared_ms    INTEGER,
    on_hand       INTEGER NOT NULL,
    reorder_level INTEGER NOT NULL
);
CREATE INDEX stock_alerts_open ON stock_alerts (ingredient_id) WHERE cleared_ms IS NULL;

CREATE TABLE item_state (
    item_id          TEXT PRIMARY KEY,
    sold_out         INTEGER NOT NULL DEFAULT 0,  -- set by staff at this outlet
    auto_unavailable INTEGER NOT NULL DEFAULT 0   -- stock cannot cover one more portion
);

CREATE TABLE staff (
    id       TEXT PRIMARY KEY,
    name     TEXT NOT NULL,
    role     TEXT NOT NULL,
    pin_hash TEXT NOT NULL UNIQUE,
    active   INTEGER NOT NULL DEFAULT 1
);

CREATE TABLE audit (
    id       INTEGER PRIMARY KEY,
    at_ms    INTEGER NOT NULL,
    staff_id TEXT NOT NULL,
    action   TEXT NOT NULL,
    target   TEXT NOT NULL,
    detail   TEXT NOT NULL
);
