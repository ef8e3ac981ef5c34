-- The internal states (indexed, pending) were not counted when rows entered them, and a
-- pair can now be queued by a webhook while a job works: counters are moved from the
-- states rows had when locked. Start every sync's counters from the index itself.
DELETE FROM sync_counts;
INSERT INTO sync_counts (sync_id, state, n)
SELECT sync_id, state, count(*) FROM sync_index GROUP BY sync_id, state;
