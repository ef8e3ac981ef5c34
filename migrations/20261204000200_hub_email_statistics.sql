-- The email index is partial, and the planner takes no statistics from a partial index's
-- expression: it guessed that a batch's lookup of 1,000 emails would match a large part
-- of the table and scanned all of it (130 ms a batch at 100k contacts, growing with the
-- table) instead of probing the index (2 ms). Statistics on the expression itself fix
-- the estimate.
CREATE STATISTICS hub_contacts_email_stats ON (lower(btrim(properties->>'email'))) FROM hub_records;
ANALYZE hub_records;
