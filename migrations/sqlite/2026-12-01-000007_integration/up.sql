-- The Zheliban integration (DESIGN §7): integration clients, applications, idempotency keys and
-- the webhook outbox with its delivery attempts.

-- A client authenticates with client credentials. Only the argon2 hash of its secret is kept;
-- `generation` moves on with every rotation, and tokens carry it, so a rotation ends them. The
-- webhook signing secret is needed in clear to sign, so it is kept encrypted.
CREATE TABLE integration_clients (
    id                 INTEGER PRIMARY KEY NOT NULL,
    public_id          TEXT NOT NULL UNIQUE,
    name               TEXT NOT NULL,
    secret_hash        TEXT NOT NULL,
    generation         INTEGER NOT NULL DEFAULT 1,
    scopes             TEXT NOT NULL,
    webhook_url        TEXT,
    webhook_secret_enc TEXT,
    disabled           BOOLEAN NOT NULL DEFAULT 0,
    created_at         TIMESTAMP NOT NULL,
    updated_at         TIMESTAMP NOT NULL,
    version            INTEGER NOT NULL DEFAULT 1
);

-- An application for a service. The ID number and the name are kept encrypted (with a blind
-- index for matching); `resident_id` is empty while the person is not registered yet.
CREATE TABLE applications (
    id              INTEGER PRIMARY KEY NOT NULL,
    public_id       TEXT NOT NULL UNIQUE,
    client_id       INTEGER REFERENCES integration_clients (id),
    channel         TEXT NOT NULL CHECK (channel IN ('zheliban', 'counter', 'caseworker')),
    kind            TEXT NOT NULL CHECK (kind IN ('certificate_new', 'certificate_renewal',
                        'living_subsidy', 'nursing_subsidy', 'home_modification',
                        'assistive_device', 'rehab_service')),
    status          TEXT NOT NULL CHECK (status IN ('submitted', 'accepted', 'approved',
                        'rejected', 'withdrawn')),
    external_ref    TEXT,
    resident_id     INTEGER REFERENCES residents (id),
    id_number_enc   TEXT NOT NULL,
    id_number_index TEXT NOT NULL,
    name_enc        TEXT NOT NULL,
    town_code       TEXT NOT NULL REFERENCES areas (code),
    payload         TEXT NOT NULL,
    reason          TEXT,
    effect_type     TEXT,
    effect_id       TEXT,
    submitted_at    TIMESTAMP NOT NULL,
    decided_at      TIMESTAMP,
    decided_by      TEXT,
    updated_at      TIMESTAMP NOT NULL,
    version         INTEGER NOT NULL DEFAULT 1
);
CREATE UNIQUE INDEX applications_external_ref ON applications (client_id, external_ref);
CREATE INDEX applications_queue ON applications (town_code, status, id);
CREATE INDEX applications_client ON applications (client_id, id);
CREATE INDEX applications_resident ON applications (resident_id);
CREATE INDEX applications_id_number ON applications (id_number_index);

-- The first successful answer to a request with an `Idempotency-Key`, per client and key.
CREATE TABLE idempotency_keys (
    client_id     INTEGER NOT NULL REFERENCES integration_clients (id),
    idem_key      TEXT NOT NULL,
    request_hash  TEXT NOT NULL,
    status        INTEGER NOT NULL,
    response_body TEXT NOT NULL,
    created_at    TIMESTAMP NOT NULL,
    PRIMARY KEY (client_id, idem_key)
);
CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);

-- The outbox: one row per event for a client, written in the transaction of the change. A
-- worker claims due rows with a lease (`claimed_until`), so several instances share the work
-- and a stopped instance's claims expire.
CREATE TABLE webhook_events (
    id              INTEGER PRIMARY KEY NOT NULL,
    public_id       TEXT NOT NULL UNIQUE,
    client_id       INTEGER NOT NULL REFERENCES integration_clients (id),
    application_id  INTEGER NOT NULL REFERENCES applications (id),
    event_type      TEXT NOT NULL,
    body            TEXT NOT NULL,
    state           TEXT NOT NULL CHECK (state IN ('pending', 'delivered', 'failed', 'no_webhook')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMP NOT NULL,
    claimed_until   TIMESTAMP,
    claimed_by      TEXT,
    delivered_at    TIMESTAMP,
    last_error      TEXT,
    created_at      TIMESTAMP NOT NULL
);
CREATE INDEX webhook_events_due ON webhook_events (state, next_attempt_at);
CREATE INDEX webhook_events_client ON webhook_events (client_id, id);

CREATE TABLE webhook_attempts (
    id          INTEGER PRIMARY KEY NOT NULL,
    event_id    INTEGER NOT NULL REFERENCES webhook_events (id),
    attempt     INTEGER NOT NULL,
    instance    TEXT NOT NULL,
    started_at  TIMESTAMP NOT NULL,
    duration_ms BIGINT NOT NULL,
    status_code INTEGER,
    error       TEXT
);
CREATE INDEX webhook_attempts_event ON webhook_attempts (event_id, id);
