-- Matching looks up a batch's identifiers (a thousand at a time) in the index's GIN on
-- `keys`. With GIN's fast update, new entries wait in an unsorted pending list that
-- every lookup scans once per key: a million-record initial sync slowed to seconds per
-- batch. Entries go straight into the tree instead.
ALTER INDEX sync_index_keys SET (fastupdate = off);
