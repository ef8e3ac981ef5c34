-- The app ids an app's relisting has seen so far, after the app stopped accepting a
-- sync's change cursor: when the listing ends, paired records it did not see were
-- deleted in the app meanwhile.
CREATE TABLE sync_relist_seen (
    sync_id uuid NOT NULL REFERENCES syncs (id) ON DELETE CASCADE,
    app_id  text NOT NULL,
    PRIMARY KEY (sync_id, app_id)
);
