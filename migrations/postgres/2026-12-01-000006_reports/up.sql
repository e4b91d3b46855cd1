-- Frozen reports (DESIGN §4): the figures of a day as they were computed, and what is needed
-- to check them later against the data. Immutable: the database refuses to change or delete
-- one, whatever the service does.
--
-- `audit_seq` is the audit trail's head when the figures were read: every change recorded at
-- or before it is in them, every later one is not. `results` is the report as
-- `GET /api/v1/indicators` answered it; `digests` a SHA-256 per indicator and town over the
-- residents counted and how each counted; `contributions` how each resident counted (so a
-- later check can name who changed); `seal` a SHA-256 over all of it, also written into the
-- audit trail's event of the snapshot.
CREATE TABLE report_snapshots (
    id                  BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    public_id           TEXT NOT NULL UNIQUE,
    as_of               DATE NOT NULL,
    area_code           TEXT NOT NULL REFERENCES areas (code),
    definition_version  INTEGER NOT NULL,
    taken_at            TIMESTAMP NOT NULL,
    taken_by            TEXT,
    taken_by_username   TEXT,
    audit_seq           BIGINT NOT NULL,
    results             TEXT NOT NULL,
    digests             TEXT NOT NULL,
    contributions       TEXT NOT NULL,
    seal                TEXT NOT NULL UNIQUE
);
CREATE INDEX report_snapshots_area ON report_snapshots (area_code, id);

CREATE FUNCTION report_snapshots_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'report snapshots are immutable';
END;
$$;
CREATE TRIGGER report_snapshots_no_change BEFORE UPDATE OR DELETE ON report_snapshots
    FOR EACH ROW EXECUTE FUNCTION report_snapshots_immutable();
-- TRUNCATE skips row triggers.
CREATE TRIGGER report_snapshots_no_truncate BEFORE TRUNCATE ON report_snapshots
    FOR EACH STATEMENT EXECUTE FUNCTION report_snapshots_immutable();
