-- Version 3: refunds of orders paid online, asked of the cloud (the till cannot give that money back).

-- One row per refund asked at the till; the sender moves it queued -> sent -> succeeded | failed.
CREATE TABLE refund_requests (
    id              TEXT PRIMARY KEY,     -- also the Idempotency-Key the cloud sees
    order_id        TEXT NOT NULL REFERENCES orders (id),
    payment_id      TEXT NOT NULL,        -- the cloud's payment, from the order's tender
    destination     TEXT NOT NULL,        -- card | wallet
    amount          INTEGER NOT NULL CHECK (amount > 0),
    reason          TEXT NOT NULL,
    staff_id        TEXT NOT NULL,
    state           TEXT NOT NULL,        -- queued | sent | succeeded | failed
    message         TEXT,                 -- the cloud's refusal, or the last problem reaching it
    cloud_refund_id TEXT,                 -- the cloud's refund (rf_...), once it has it
    tender_id       TEXT NOT NULL,        -- the Refund tender recorded on the order when it succeeds
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_ms         INTEGER NOT NULL,     -- when the sender next looks at it
    created_ms      INTEGER NOT NULL,
    updated_ms      INTEGER NOT NULL
);
CREATE INDEX refund_requests_order ON refund_requests (order_id, created_ms);
CREATE INDEX refund_requests_open ON refund_requests (next_ms) WHERE state IN ('queued', 'sent');
