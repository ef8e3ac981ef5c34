-- The sync engine: sync definitions, the per-sync record index, per-record activity,
-- state counters, and the job queue shared by the server and `tandem worker` processes.

CREATE TABLE syncs (
    id                   uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    portal_id            uuid NOT NULL REFERENCES portals (id) ON DELETE CASCADE,
    connection_id        uuid NOT NULL REFERENCES connections (id) ON DELETE CASCADE,
    hub_object           text NOT NULL,
    app_object           text NOT NULL,
    input                jsonb NOT NULL,    -- model::SyncInput, as the admin saved it
    settings             jsonb NOT NULL,    -- engine::plan::SyncSettings built from it
    options              jsonb NOT NULL DEFAULT '{}',  -- engine::definition::SyncOptions
    enabled              boolean NOT NULL DEFAULT true,
    -- scanning → syncing → listening (initial sync done, following changes)
    phase                text NOT NULL DEFAULT 'scanning'
                         CHECK (phase IN ('scanning', 'syncing', 'listening')),
    -- bumped whenever settings are saved: the initial sync starts over
    generation           integer NOT NULL DEFAULT 1,
    -- initial sync checkpoints; they advance only together with the work they cover
    step                 text NOT NULL DEFAULT 'hub_index'
                         CHECK (step IN ('hub_index', 'app_pass', 'hub_pass', 'done')),
    hub_checkpoint       bigint NOT NULL DEFAULT 0,   -- last hub record id done in this step
    app_checkpoint       text,                        -- the app listing's cursor
    progress             jsonb NOT NULL DEFAULT '{}',
    -- incremental sync positions
    hub_feed_position    bigint NOT NULL DEFAULT 0,   -- hub change feed seq consumed
    app_feed_cursor      text,                        -- app change feed cursor
    events_cursor        text,
    last_poll_at         timestamptz,
    initial_started_at   timestamptz,
    initial_completed_at timestamptz,
    last_error           text,
    created_by           uuid REFERENCES users (id) ON DELETE SET NULL,
    created_at           timestamptz NOT NULL DEFAULT now(),
    updated_at           timestamptz NOT NULL DEFAULT now(),
    -- one sync per app object and connected account
    UNIQUE (connection_id, app_object)
);
CREATE INDEX syncs_portal ON syncs (portal_id);

-- One row per record or pair of one sync.
CREATE TABLE sync_index (
    id             bigserial PRIMARY KEY,
    sync_id        uuid NOT NULL REFERENCES syncs (id) ON DELETE CASCADE,
    hub_id         bigint,
    app_id         text,
    -- match identifiers of both sides (engine::plan::Identifier, as text)
    keys           text[] NOT NULL DEFAULT '{}',
    -- what the list pages show and search: an email, a name
    label          text NOT NULL DEFAULT '',
    snapshot       jsonb,     -- engine::plan::Snapshot of the last successful sync
    -- indexed: seen on the hub, not decided yet; pending: an app create is in flight
    state          text NOT NULL CHECK (state IN ('indexed', 'pending', 'syncing', 'failed',
                                                  'excluded', 'queued', 'deleted')),
    reason_code    text,
    message        text,
    field          text,
    hint           text,
    deleted_side   text CHECK (deleted_side IN ('hub', 'app')),
    pending_key    uuid,      -- idempotency key of the app create in flight
    attempts       integer NOT NULL DEFAULT 0,
    retry_at       timestamptz,
    generation     integer NOT NULL,
    last_synced_at timestamptz,
    updated_at     timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX sync_index_hub ON sync_index (sync_id, hub_id) WHERE hub_id IS NOT NULL;
CREATE UNIQUE INDEX sync_index_app ON sync_index (sync_id, app_id) WHERE app_id IS NOT NULL;
CREATE INDEX sync_index_keys ON sync_index USING gin (keys);
CREATE INDEX sync_index_state ON sync_index (sync_id, state, id);
CREATE INDEX sync_index_retry ON sync_index (retry_at) WHERE retry_at IS NOT NULL;

-- Records per state, kept current in the same transactions as the index, so the status
-- view never scans the index.
CREATE TABLE sync_counts (
    sync_id uuid NOT NULL REFERENCES syncs (id) ON DELETE CASCADE,
    state   text NOT NULL,
    n       bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (sync_id, state)
);

-- Per-record sync activity, newest last; and an hourly tally for the status chart.
CREATE TABLE sync_activity (
    id       bigserial PRIMARY KEY,
    sync_id  uuid NOT NULL REFERENCES syncs (id) ON DELETE CASCADE,
    index_id bigint NOT NULL,
    at       timestamptz NOT NULL DEFAULT now(),
    kind     text NOT NULL,   -- created_in_hub, updated_app, failed, excluded, …
    message  text NOT NULL,
    details  jsonb
);
CREATE INDEX sync_activity_record ON sync_activity (index_id, at);
CREATE INDEX sync_activity_sync ON sync_activity (sync_id, at);

CREATE TABLE sync_hourly (
    sync_id uuid NOT NULL REFERENCES syncs (id) ON DELETE CASCADE,
    hour    timestamptz NOT NULL,
    synced  bigint NOT NULL DEFAULT 0,
    failed  bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (sync_id, hour)
);

-- The job queue: leased with FOR UPDATE SKIP LOCKED; a job is deleted in the same
-- transaction that commits its work, by the lease holder only.
CREATE TABLE jobs (
    id           bigserial PRIMARY KEY,
    kind         text NOT NULL,
    sync_id      uuid REFERENCES syncs (id) ON DELETE CASCADE,
    -- at most one waiting job per key (e.g. "hub-changes:<sync>")
    dedupe_key   text,
    payload      jsonb NOT NULL DEFAULT '{}',
    run_at       timestamptz NOT NULL DEFAULT now(),
    attempts     integer NOT NULL DEFAULT 0,
    locked_by    text,
    locked_until timestamptz,
    last_error   text,
    -- set when the job is asked for again while it runs: it runs once more afterwards
    rerun        boolean NOT NULL DEFAULT false,
    created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX jobs_dedupe ON jobs (dedupe_key) WHERE dedupe_key IS NOT NULL;
CREATE INDEX jobs_ready ON jobs (run_at, id);
