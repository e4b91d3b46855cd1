-- Accounts, login sessions (refresh-token families) and the hash-chained audit trail.

CREATE TABLE users (
    id              INTEGER PRIMARY KEY NOT NULL,
    public_id       TEXT NOT NULL UNIQUE,
    username        TEXT NOT NULL UNIQUE,
    display_name    TEXT,
    role            TEXT NOT NULL CHECK (role IN ('admin', 'caseworker', 'auditor', 'integration')),
    password_hash   TEXT NOT NULL,
    disabled        BOOLEAN NOT NULL DEFAULT 0,
    failed_logins   INTEGER NOT NULL DEFAULT 0,
    locked_until    TIMESTAMP,
    created_at      TIMESTAMP NOT NULL,
    updated_at      TIMESTAMP NOT NULL,
    version         INTEGER NOT NULL DEFAULT 1
);

-- The towns a caseworker may read and write.
CREATE TABLE user_towns (
    user_id   INTEGER NOT NULL REFERENCES users (id),
    town_code TEXT NOT NULL REFERENCES areas (code),
    PRIMARY KEY (user_id, town_code)
);

-- One login: every refresh token it hands out belongs to it, and so does every access token
-- (claim `sid`). Revoking it ends them all at once.
CREATE TABLE sessions (
    id             INTEGER PRIMARY KEY NOT NULL,
    public_id      TEXT NOT NULL UNIQUE,
    user_id        INTEGER NOT NULL REFERENCES users (id),
    created_at     TIMESTAMP NOT NULL,
    expires_at     TIMESTAMP NOT NULL,
    revoked_at     TIMESTAMP,
    revoked_reason TEXT
);
CREATE INDEX sessions_user_id ON sessions (user_id);

-- Refresh tokens are stored only as SHA-256 hashes; a spent one (used_at set) presented again
-- revokes its session.
CREATE TABLE refresh_tokens (
    id         INTEGER PRIMARY KEY NOT NULL,
    session_id INTEGER NOT NULL REFERENCES sessions (id),
    token_hash TEXT NOT NULL UNIQUE,
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    used_at    TIMESTAMP
);
CREATE INDEX refresh_tokens_session_id ON refresh_tokens (session_id);

-- Append-only. `seq` orders the chain; `hash` covers every column and the previous hash.
CREATE TABLE audit_events (
    seq             INTEGER PRIMARY KEY NOT NULL,
    occurred_at     TIMESTAMP NOT NULL,
    actor_user_id   TEXT,
    actor_username  TEXT,
    actor_role      TEXT,
    action          TEXT NOT NULL,
    entity_type     TEXT,
    entity_id       TEXT,
    resident_id     TEXT,
    request_id      TEXT,
    client_address  TEXT,
    outcome         TEXT NOT NULL CHECK (outcome IN ('success', 'failure', 'denied')),
    changes         TEXT,
    prev_hash       TEXT NOT NULL,
    hash            TEXT NOT NULL UNIQUE
);
CREATE INDEX audit_events_actor ON audit_events (actor_user_id, seq);
CREATE INDEX audit_events_action ON audit_events (action, seq);
CREATE INDEX audit_events_resident ON audit_events (resident_id, seq);
CREATE INDEX audit_events_occurred_at ON audit_events (occurred_at);

CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
BEGIN
    SELECT RAISE(ABORT, 'audit events are append-only');
END;
CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
BEGIN
    SELECT RAISE(ABORT, 'audit events are append-only');
END;
