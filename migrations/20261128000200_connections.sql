-- Connected apps: one row per connected external account, OAuth install states, and
-- received webhook deliveries (stored before we answer 2xx, deduplicated by delivery id).

CREATE TABLE connections (
    id                      uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    portal_id               uuid NOT NULL REFERENCES portals (id) ON DELETE CASCADE,
    app                     text NOT NULL,
    account_id              text NOT NULL,       -- the app's id of the connected account
    account_name            text NOT NULL,
    status                  text NOT NULL DEFAULT 'connected'
                            CHECK (status IN ('connected', 'needs_reconnect', 'disconnected')),
    status_message          text,
    -- AES-256-GCM sealed (server::secrets); never plaintext
    access_token_enc        text,
    refresh_token_enc       text,
    token_expires_at        timestamptz,
    scopes                  text[] NOT NULL DEFAULT '{}',
    webhook_secret_enc      text,
    webhook_subscription_id text,
    connected_by            uuid REFERENCES users (id) ON DELETE SET NULL,
    created_at              timestamptz NOT NULL DEFAULT now(),
    updated_at              timestamptz NOT NULL DEFAULT now(),
    -- the same external account connected twice is one connection
    UNIQUE (portal_id, app, account_id)
);

-- An install in progress: the random `state` (stored hashed) binds the OAuth callback to
-- the user who started it; single use, ten minutes.
CREATE TABLE oauth_states (
    state_hash         text PRIMARY KEY,
    portal_id          uuid NOT NULL REFERENCES portals (id) ON DELETE CASCADE,
    user_id            uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    app                text NOT NULL,
    pkce_verifier_enc  text NOT NULL,
    created_at         timestamptz NOT NULL DEFAULT now(),
    expires_at         timestamptz NOT NULL,
    used_at            timestamptz
);

CREATE TABLE webhook_deliveries (
    id            bigserial PRIMARY KEY,
    connection_id uuid NOT NULL REFERENCES connections (id) ON DELETE CASCADE,
    delivery_id   text NOT NULL,
    notice        jsonb NOT NULL,   -- the parsed notification (connectors::WebhookNotice)
    body          jsonb NOT NULL,   -- the raw payload, kept for troubleshooting
    received_at   timestamptz NOT NULL DEFAULT now(),
    processed_at  timestamptz,
    UNIQUE (connection_id, delivery_id)
);
CREATE INDEX webhook_deliveries_unprocessed ON webhook_deliveries (id) WHERE processed_at IS NULL;
