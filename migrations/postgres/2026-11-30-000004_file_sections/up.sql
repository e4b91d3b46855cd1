-- The rest of the file: subsidies under dated policies, the dated records of the other
-- sections, home modification cases, and district data (facilities, GDP growth).

-- A version of one subsidy's rules, in force from `effective_from` until the next version.
CREATE TABLE subsidy_policies (
    id                 BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    public_id          TEXT NOT NULL UNIQUE,
    kind               TEXT NOT NULL CHECK (kind IN ('living', 'nursing')),
    effective_from     DATE NOT NULL,
    monthly_amount_fen BIGINT NOT NULL CHECK (monthly_amount_fen > 0),
    rules              TEXT NOT NULL,
    created_at         TIMESTAMP NOT NULL,
    UNIQUE (kind, effective_from)
);

-- The policies in force at the start of the plan period. The amounts are placeholders for the
-- admin to set (POST a new version).
INSERT INTO subsidy_policies (public_id, kind, effective_from, monthly_amount_fen, rules, created_at) VALUES
  ('00000000-0000-4000-8000-000000000001', 'living', '2021-01-01', 30000,
   '{"household_statuses":["dibao"],"excluded_household_statuses":["tekun"]}', (now() AT TIME ZONE 'UTC')),
  ('00000000-0000-4000-8000-000000000002', 'nursing', '2021-01-01', 30000,
   '{"grades":[1,2],"extension":null,"excluded_household_statuses":["tekun"],"exclude_work_injury_nursing":true}', (now() AT TIME ZONE 'UTC'));

-- A grant runs from the first day of `start_month` until `terminated_on` (effective that day),
-- except while suspended.
CREATE TABLE subsidy_grants (
    id                 BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    public_id          TEXT NOT NULL UNIQUE,
    resident_id        BIGINT NOT NULL REFERENCES residents (id),
    kind               TEXT NOT NULL CHECK (kind IN ('living', 'nursing')),
    start_month        DATE NOT NULL,
    monthly_amount_fen BIGINT NOT NULL CHECK (monthly_amount_fen > 0),
    eligible_at_start  BOOLEAN NOT NULL,
    override_reason    TEXT,
    terminated_on      DATE,
    terminate_reason   TEXT,
    decided_by         TEXT,
    created_at         TIMESTAMP NOT NULL,
    updated_at         TIMESTAMP NOT NULL,
    version            INTEGER NOT NULL DEFAULT 1,
    CHECK (eligible_at_start OR override_reason IS NOT NULL)
);
CREATE INDEX subsidy_grants_resident ON subsidy_grants (resident_id);
CREATE UNIQUE INDEX subsidy_grants_one_running ON subsidy_grants (resident_id, kind) WHERE terminated_on IS NULL;

-- A suspension holds from `suspended_on` until the day before `resumed_on`.
CREATE TABLE grant_suspensions (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    grant_id     BIGINT NOT NULL REFERENCES subsidy_grants (id),
    resident_id  BIGINT NOT NULL REFERENCES residents (id),
    suspended_on DATE NOT NULL,
    resumed_on   DATE,
    reason       TEXT NOT NULL,
    created_at   TIMESTAMP NOT NULL,
    CHECK (resumed_on IS NULL OR resumed_on > suspended_on)
);
CREATE INDEX grant_suspensions_grant ON grant_suspensions (grant_id);
CREATE INDEX grant_suspensions_resident ON grant_suspensions (resident_id);

-- The dated records of the simpler sections (rehabilitation, employment, training, education,
-- insurance, culture and sports, income, other benefits). `kind`, `start_on` and `end_on` are
-- the parts every report filters on; the section's own fields are in `data` (JSON), checked by
-- the service. `natural_key` makes per-year records unique (insurance per year and kind,
-- income per year).
CREATE TABLE file_records (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    public_id   TEXT NOT NULL UNIQUE,
    resident_id BIGINT NOT NULL REFERENCES residents (id),
    section     TEXT NOT NULL,
    kind        TEXT NOT NULL,
    start_on    DATE NOT NULL,
    end_on      DATE,
    natural_key TEXT,
    data        TEXT NOT NULL,
    created_at  TIMESTAMP NOT NULL,
    updated_at  TIMESTAMP NOT NULL,
    version     INTEGER NOT NULL DEFAULT 1,
    CHECK (end_on IS NULL OR end_on >= start_on)
);
CREATE INDEX file_records_resident ON file_records (resident_id, section, start_on);
CREATE UNIQUE INDEX file_records_natural ON file_records (resident_id, section, natural_key) WHERE natural_key IS NOT NULL;

-- Barrier-free home modification (家庭无障碍改造): one case per request, each step dated.
CREATE TABLE home_modifications (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    public_id     TEXT NOT NULL UNIQUE,
    resident_id   BIGINT NOT NULL REFERENCES residents (id),
    status        TEXT NOT NULL CHECK (status IN ('applied', 'assessed', 'in_progress', 'completed', 'cancelled')),
    applied_on    DATE NOT NULL,
    assessed_on   DATE,
    assessment    TEXT CHECK (assessment IN ('eligible', 'ineligible')),
    started_on    DATE,
    completed_on  DATE,
    cancelled_on  DATE,
    cancel_reason TEXT,
    items         TEXT NOT NULL DEFAULT '[]',
    cost_fen      BIGINT CHECK (cost_fen >= 0),
    created_at    TIMESTAMP NOT NULL,
    updated_at    TIMESTAMP NOT NULL,
    version       INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX home_modifications_resident ON home_modifications (resident_id);

-- District data.
CREATE TABLE facilities (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    public_id    TEXT NOT NULL UNIQUE,
    kind         TEXT NOT NULL CHECK (kind IN ('home_for_disabled', 'care_institution', 'child_rehab_institution', 'rehab_institution')),
    name         TEXT NOT NULL,
    town_code    TEXT NOT NULL REFERENCES areas (code),
    standardized BOOLEAN NOT NULL,
    opened_on    DATE NOT NULL,
    closed_on    DATE,
    created_at   TIMESTAMP NOT NULL,
    updated_at   TIMESTAMP NOT NULL,
    version      INTEGER NOT NULL DEFAULT 1,
    CHECK (closed_on IS NULL OR closed_on >= opened_on)
);

-- The district's GDP growth of a year, in basis points (6.5% is 650).
CREATE TABLE gdp_growth (
    year       INTEGER PRIMARY KEY,
    growth_bp  INTEGER NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
