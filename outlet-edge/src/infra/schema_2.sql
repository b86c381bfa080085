-- Version 2: sync with the cloud.

-- Conflicts found here or heard of from the cloud, with both sides, until a manager settles them.
CREATE TABLE conflicts (
    id          TEXT PRIMARY KEY,
    kind        TEXT NOT NULL,
    raised_ms   INTEGER NOT NULL,
    resolved_ms INTEGER,
    doc         TEXT NOT NULL     -- the protocol Conflict as JSON
);
CREATE INDEX conflicts_raised ON conflicts (raised_ms);
