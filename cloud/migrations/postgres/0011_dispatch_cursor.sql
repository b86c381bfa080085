-- How far the dispatcher has read the relayed event log for orders that became ready (or were
-- withdrawn). Replicas share the row and only ever move it forward; creating a delivery is
-- idempotent per order, so reading an event twice does no harm. It starts at the last event
-- written more than 13 hours ago: the dispatcher looks back 12 hours for ready orders, as the
-- poll it replaces did.
CREATE TABLE dispatch_cursor (
    name     TEXT PRIMARY KEY,
    position BIGINT NOT NULL
);
INSERT INTO dispatch_cursor (name, position)
SELECT 'orders', COALESCE(MAX(position), 0) FROM events
 WHERE created_ms < CAST(EXTRACT(EPOCH FROM now()) * 1000 AS BIGINT) - 13 * 3600 * 1000;
