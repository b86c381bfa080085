-- Outlets keep local time by their IANA time zone alone: the fixed offset they also carried was
-- wrong for half of every year where clocks change, and is dropped from the stored documents.
UPDATE outlets SET doc = CAST(CAST(doc AS jsonb) - 'utc_offset_minutes' AS TEXT)
 WHERE doc LIKE '%"utc_offset_minutes"%';
