-- Sign-in throttling per (client, email): one client's failures no longer refuse another
-- client's correct password. Attempts get an id, so that one recorded before its
-- password is checked can be turned into a success (or removed) afterwards.
ALTER TABLE login_attempts
    ADD COLUMN id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    ADD COLUMN client text NOT NULL DEFAULT 'unknown';
DROP INDEX login_attempts_email_at;
CREATE INDEX login_attempts_client_email_at ON login_attempts (client, email, at);
-- Every attempt deletes those past the window.
CREATE INDEX login_attempts_at ON login_attempts (at);
