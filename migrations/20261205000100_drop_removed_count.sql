-- A merged-away index row used to be counted into a `removed` pseudo-state that nothing
-- reads; the engine now only takes it off its own state's count.
DELETE FROM sync_counts WHERE state = 'removed';
