-- Verification and password-reset events used to carry the live token (and the address): every
-- reader of the event log and of Kafka could take over an account with it. Strip both from the
-- stored events and from what still waits in the outbox (so the relay never publishes them);
-- the event keeps the user and the purpose. Copies already on Kafka cannot be rewritten, so the
-- reset tokens that were exposed and are still unused stop working now.
UPDATE events SET payload = json_remove(payload, '$.data.token', '$.data.email')
WHERE kind IN ('notification.email_verification_requested', 'notification.password_reset_requested');
UPDATE outbox SET payload = json_remove(payload, '$.data.token', '$.data.email')
WHERE kind IN ('notification.email_verification_requested', 'notification.password_reset_requested');
UPDATE one_time_tokens SET expires_ms = 0 WHERE purpose = 'password_reset' AND used_ms IS NULL;
