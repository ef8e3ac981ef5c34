-- Exports of sync record lists (CSV or XLSX), made in the background by the job queue.
-- The file lives under $TANDEM_DATA_DIR/exports/<id>.<ext>; the download link
-- (GET /exports/<id>) needs a signed-in user of the portal and expires after 24 hours.

CREATE TABLE exports (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    portal_id   uuid NOT NULL REFERENCES portals (id) ON DELETE CASCADE,
    -- who asked: told in the notification centre (and by email) when it is ready
    user_id     uuid REFERENCES users (id) ON DELETE SET NULL,
    sync_id     uuid REFERENCES syncs (id) ON DELETE SET NULL,
    title       text NOT NULL,
    -- which records: a state (NULL: every visible state), a reason code, a search
    state       text,
    reason      text,
    search      text,
    format      text NOT NULL CHECK (format IN ('csv', 'xlsx')),
    status      text NOT NULL DEFAULT 'queued'
                CHECK (status IN ('queued', 'running', 'ready', 'failed', 'expired')),
    rows        bigint NOT NULL DEFAULT 0,
    file_name   text NOT NULL,
    error       text,
    created_at  timestamptz NOT NULL DEFAULT now(),
    finished_at timestamptz,
    expires_at  timestamptz
);
CREATE INDEX exports_portal ON exports (portal_id, created_at DESC);
CREATE INDEX exports_expiring ON exports (expires_at) WHERE status = 'ready';
