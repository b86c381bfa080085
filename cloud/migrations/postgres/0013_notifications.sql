-- Notifications (see cloud/src/notify). One row per message: one person, one channel, one
-- template. `dedup` is the idempotency key (the event, the person, the channel and, for push,
-- the subscription), so reading an event twice, a restart or a second notifier never makes a
-- second message. The worker claims a due row by setting `lease_ms` before sending, so two
-- notifiers never send the same row at once. `vars` holds the values the template is rendered
-- from (never a secret); a security message's one-time token is in `secret`, AES-256-GCM under
-- the at-rest key, and is cleared once the message is sent. In-app messages are the inbox.
CREATE TABLE notifications (
    id         TEXT PRIMARY KEY,
    dedup      TEXT NOT NULL UNIQUE,
    event_id   TEXT,
    recipient  TEXT NOT NULL,               -- a user id
    channel    TEXT NOT NULL,               -- email | push | sms | in_app
    template   TEXT NOT NULL,
    lang       TEXT NOT NULL,
    address    TEXT,                        -- the email, the phone number, the push subscription's id
    vars       TEXT NOT NULL,
    secret     TEXT,
    state      TEXT NOT NULL,               -- queued | sent | delivered | failed | suppressed
    reason     TEXT,
    attempts   BIGINT NOT NULL DEFAULT 0,
    due_ms     BIGINT NOT NULL,
    lease_ms   BIGINT,
    read_ms    BIGINT,
    created_ms BIGINT NOT NULL,
    sent_ms    BIGINT
);
CREATE INDEX notifications_due ON notifications (state, due_ms);
CREATE INDEX notifications_inbox ON notifications (recipient, channel, created_ms);

-- Each person's preferences (rules::Prefs as JSON).
CREATE TABLE notification_prefs (
    user_id    TEXT PRIMARY KEY,
    doc        TEXT NOT NULL,
    updated_ms BIGINT NOT NULL
);

-- Web push subscriptions, one per browser a person allowed; removed when the push service says
-- the subscription is gone (404/410).
CREATE TABLE push_subscriptions (
    id         TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL,
    endpoint   TEXT NOT NULL UNIQUE,
    doc        TEXT NOT NULL,
    created_ms BIGINT NOT NULL
);
CREATE INDEX push_subscriptions_user ON push_subscriptions (user_id);

-- The notifier follows the event log from now on (not from its beginning).
INSERT INTO dispatch_cursor (name, position) SELECT 'notify', COALESCE(MAX(position), 0) FROM events;
