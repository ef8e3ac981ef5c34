-- Foundation: portals (tenants), users, private app tokens, sign-in attempts and the
-- notification centre. Every table holding customer data carries portal_id.

CREATE TABLE portals (
    id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    slug       text NOT NULL UNIQUE CHECK (slug ~ '^[a-z0-9][a-z0-9-]{0,62}$'),
    name       text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE users (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    portal_id     uuid NOT NULL REFERENCES portals (id) ON DELETE CASCADE,
    -- stored trimmed and lower-cased; sign-in compares the same way
    email         text NOT NULL,
    name          text NOT NULL,
    password_hash text NOT NULL,  -- argon2id PHC string
    role          text NOT NULL DEFAULT 'user'
                  CHECK (role IN ('super_admin', 'app_marketplace', 'user')),
    created_at    timestamptz NOT NULL DEFAULT now(),
    UNIQUE (portal_id, email)
);
CREATE INDEX users_email ON users (email);

-- Private app tokens: only a SHA-256 of the secret is kept; `prefix` lets people tell
-- tokens apart without revealing them.
CREATE TABLE api_tokens (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    portal_id    uuid NOT NULL REFERENCES portals (id) ON DELETE CASCADE,
    user_id      uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name         text NOT NULL,
    prefix       text NOT NULL,
    token_hash   text NOT NULL UNIQUE,
    created_at   timestamptz NOT NULL DEFAULT now(),
    last_used_at timestamptz,
    revoked_at   timestamptz
);
CREATE INDEX api_tokens_portal ON api_tokens (portal_id) WHERE revoked_at IS NULL;

-- Sign-in attempts, for rate limiting by email (kept in Postgres so that every server
-- process sees the same count).
CREATE TABLE login_attempts (
    email     text NOT NULL,
    succeeded boolean NOT NULL,
    at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX login_attempts_email_at ON login_attempts (email, at);

CREATE TABLE notifications (
    id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    portal_id  uuid NOT NULL REFERENCES portals (id) ON DELETE CASCADE,
    user_id    uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind       text NOT NULL,   -- sync_completed, export_ready, reconnect_needed, sync_turned_off
    title      text NOT NULL,
    body       text NOT NULL DEFAULT '',
    link       text,
    read_at    timestamptz,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX notifications_user ON notifications (user_id, created_at DESC);
