-- The dispatcher looks each second for delivery orders that became ready: by status and time,
-- not by reading the whole table.
CREATE INDEX orders_status ON orders (status, updated_ms);
