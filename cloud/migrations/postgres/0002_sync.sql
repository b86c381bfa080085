-- Sync: what every outlet uploaded, applied once per entry, and what goes down to it.

-- Per outlet (the change log's origin), the highest sequence applied: moved in the same
-- transaction as the entries it covers.
CREATE TABLE sync_cursors (
    origin          TEXT PRIMARY KEY,
    applied_through BIGINT NOT NULL,
    last_hlc        BIGINT NOT NULL,
    seen_ms         BIGINT NOT NULL
);

-- Stock as movements keyed by their id (a movement counts once) and, per outlet, their sum.
CREATE TABLE stock_movements (
    id            TEXT PRIMARY KEY,
    outlet_id     TEXT NOT NULL,
    ingredient_id TEXT NOT NULL,
    kind          TEXT NOT NULL,
    delta         BIGINT NOT NULL,
    order_id      TEXT,
    at_ms         BIGINT NOT NULL
);

CREATE TABLE stock_levels (
    outlet_id     TEXT NOT NULL,
    ingredient_id TEXT NOT NULL,
    name          TEXT NOT NULL,
    unit          TEXT NOT NULL,
    on_hand       BIGINT NOT NULL,
    reorder_level BIGINT NOT NULL,
    PRIMARY KEY (outlet_id, ingredient_id)
);

CREATE TABLE tenders (
    id        TEXT PRIMARY KEY,
    order_id  TEXT NOT NULL,
    outlet_id TEXT NOT NULL,
    kind      TEXT NOT NULL,
    amount    BIGINT NOT NULL,
    at_ms     BIGINT NOT NULL
);
CREATE INDEX tenders_order ON tenders (order_id);

-- Sold-out marks set at each outlet (they win there until cleared there).
CREATE TABLE outlet_items (
    outlet_id  TEXT NOT NULL,
    item_id    TEXT NOT NULL,
    sold_out   BIGINT NOT NULL,
    updated_ms BIGINT NOT NULL,
    PRIMARY KEY (outlet_id, item_id)
);

CREATE TABLE outlet_staff (
    id        TEXT PRIMARY KEY,
    outlet_id TEXT NOT NULL,
    doc       TEXT NOT NULL
);

CREATE TABLE outlet_audit (
    outlet_id TEXT NOT NULL,
    seq       BIGINT NOT NULL,
    at_ms     BIGINT NOT NULL,
    staff_id  TEXT NOT NULL,
    action    TEXT NOT NULL,
    target    TEXT NOT NULL,
    detail    TEXT NOT NULL,
    PRIMARY KEY (outlet_id, seq)
);

CREATE TABLE conflicts (
    id          TEXT PRIMARY KEY,
    outlet_id   TEXT NOT NULL,
    kind        TEXT NOT NULL,
    raised_ms   BIGINT NOT NULL,
    resolved_ms BIGINT,
    doc         TEXT NOT NULL
);
CREATE INDEX conflicts_outlet ON conflicts (outlet_id, raised_ms);

-- Events an outlet must hear of name it here ('*': every outlet); its downward stream follows them.
ALTER TABLE outbox ADD COLUMN down TEXT;
ALTER TABLE events ADD COLUMN down TEXT;
CREATE INDEX events_down ON events (down, position);
