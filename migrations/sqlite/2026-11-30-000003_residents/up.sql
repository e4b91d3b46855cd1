-- One person, one file: the resident, the dated household status, the certificates.
-- ID numbers and phone numbers are stored only encrypted (AES-256-GCM, `*_enc`); the ID number
-- is found by its keyed blind index (HMAC-SHA256).

CREATE TABLE residents (
    id                 INTEGER PRIMARY KEY NOT NULL,
    public_id          TEXT NOT NULL UNIQUE,
    id_number_enc      TEXT NOT NULL,
    id_number_index    TEXT NOT NULL UNIQUE,
    name               TEXT NOT NULL,
    sex                TEXT NOT NULL CHECK (sex IN ('male', 'female')),
    birth_date         DATE NOT NULL,
    town_code          TEXT NOT NULL REFERENCES areas (code),
    village_code       TEXT REFERENCES areas (code),
    address            TEXT,
    phone_enc          TEXT,
    guardian_name      TEXT,
    guardian_phone_enc TEXT,
    household_flags    TEXT NOT NULL DEFAULT '[]',
    work_capacity      BOOLEAN,
    registered_on      DATE NOT NULL,
    deceased_on        DATE,
    moved_out_on       DATE,
    created_at         TIMESTAMP NOT NULL,
    updated_at         TIMESTAMP NOT NULL,
    version            INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX residents_town ON residents (town_code, id);
CREATE INDEX residents_name ON residents (name, id);

-- Each status holds from `since` through `until` (the last day it holds; NULL while current).
CREATE TABLE household_statuses (
    id          INTEGER PRIMARY KEY NOT NULL,
    resident_id INTEGER NOT NULL REFERENCES residents (id),
    status      TEXT NOT NULL CHECK (status IN ('none', 'dibao', 'dibian', 'tekun')),
    since       DATE NOT NULL,
    until       DATE,
    created_at  TIMESTAMP NOT NULL,
    CHECK (until IS NULL OR until >= since)
);
CREATE INDEX household_statuses_resident ON household_statuses (resident_id, since);
CREATE UNIQUE INDEX household_statuses_one_current ON household_statuses (resident_id) WHERE until IS NULL;

-- The number is not stored: it is the holder's ID number, the category and grade digits and
-- the reissue suffix, composed when shown.
CREATE TABLE certificates (
    id            INTEGER PRIMARY KEY NOT NULL,
    public_id     TEXT NOT NULL UNIQUE,
    resident_id   INTEGER NOT NULL REFERENCES residents (id),
    category      TEXT NOT NULL CHECK (category IN ('visual', 'hearing', 'speech', 'physical', 'intellectual', 'mental', 'multiple')),
    components    TEXT,
    grade         INTEGER NOT NULL CHECK (grade BETWEEN 1 AND 4),
    reissue       INTEGER NOT NULL DEFAULT 0 CHECK (reissue BETWEEN 0 AND 9),
    issued_on     DATE NOT NULL,
    valid_until   DATE NOT NULL,
    status        TEXT NOT NULL CHECK (status IN ('active', 'cancelled')),
    cancelled_on  DATE,
    cancel_reason TEXT,
    created_at    TIMESTAMP NOT NULL,
    CHECK ((status = 'active') = (cancelled_on IS NULL)),
    CHECK (valid_until >= issued_on)
);
-- The condition has no value to bind: SQLite re-plans a statement on every run when a bound
-- value decides whether a partial index applies.
CREATE UNIQUE INDEX certificates_one_active ON certificates (resident_id) WHERE cancelled_on IS NULL;
CREATE INDEX certificates_resident ON certificates (resident_id, issued_on);
