-- Apps connected without OAuth (CardDAV with an app password, APIs with a key): how a
-- connection signs its requests, and where its account lives (the address book URL, a
-- user name, an `instance_url`). The password or key is sealed in access_token_enc.
ALTER TABLE connections
    ADD COLUMN credential_kind text NOT NULL DEFAULT 'oauth2'
        CHECK (credential_kind IN ('oauth2', 'basic', 'api_key')),
    ADD COLUMN settings jsonb NOT NULL DEFAULT '{}';
