-- OwnTracks users and devices linked to a device key, so that app's JSON messages count as that
-- device's fixes.
CREATE TABLE owntracks_links (
    ot_user    TEXT NOT NULL,
    ot_device  TEXT NOT NULL,
    device_id  TEXT NOT NULL UNIQUE,
    created_ms BIGINT NOT NULL,
    PRIMARY KEY (ot_user, ot_device)
);
