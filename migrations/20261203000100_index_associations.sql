-- The associations each pair had on both sides when last synced, by object, as the hub
-- ids of the associated records: {"companies": [12, 40]}. Without it a removal on one
-- side cannot be told apart from an addition on the other.
ALTER TABLE sync_index ADD COLUMN associations jsonb;
