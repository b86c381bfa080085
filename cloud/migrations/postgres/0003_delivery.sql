-- Deliveries: one per delivery order that reached `ready`. `doc` holds the whole record as the
-- API shows it; the columns are what the dispatcher and the ingest look rows up by. The hand-over
-- code is kept apart from `doc`: only the order's customer (and HQ) ever see it.
CREATE TABLE deliveries (
    id                TEXT PRIMARY KEY,
    job               BIGINT NOT NULL UNIQUE,
    order_id          TEXT NOT NULL UNIQUE,
    outlet_id         TEXT NOT NULL,
    customer_id       TEXT NOT NULL,
    status            TEXT NOT NULL,
    driver_id         TEXT,
    offered_to        TEXT,
    offer_deadline_ms BIGINT,
    code              TEXT NOT NULL,
    doc               TEXT NOT NULL,
    created_ms        BIGINT NOT NULL,
    updated_ms        BIGINT NOT NULL
);
CREATE INDEX deliveries_status ON deliveries (status);
CREATE INDEX deliveries_driver ON deliveries (driver_id, status);

-- Areas drivers should stay out of (HQ's), as GeoJSON rings of [lon, lat].
CREATE TABLE restricted_areas (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    ring       TEXT NOT NULL,
    created_ms BIGINT NOT NULL
);

-- The fixes of each delivery, for replaying its route.
CREATE TABLE delivery_fixes (
    delivery_id TEXT NOT NULL,
    seq         BIGINT NOT NULL,
    doc         TEXT NOT NULL,
    PRIMARY KEY (delivery_id, seq)
);
