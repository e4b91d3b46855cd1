-- Issue 10. The indicators' per-resident projection: everything the indicator rules read of
-- one resident, for every day at once, in one compact value (src/domain/indicators/stored.rs),
-- so a report reads one row per resident instead of joining eight fact tables.
--
-- Triggers on every table the value is made of mark the resident stale; the service rewrites
-- the value of every stale resident in the same transaction, before it commits
-- (db::write_transaction), and a report reads the stale residents' facts from their tables,
-- so a change made outside the service (an operator's SQL) is counted at once all the same.
--
-- On PostgreSQL the triggers are per statement, over the statement's transition table, so a
-- multi-row insert (an import, seed-demo) marks its residents in one statement.
CREATE TABLE resident_facts (
    resident_id BIGINT PRIMARY KEY,
    facts       BYTEA NOT NULL
);

CREATE TABLE resident_facts_stale (
    resident_id BIGINT PRIMARY KEY
);

CREATE FUNCTION resident_facts_mark_stale() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_TABLE_NAME = 'residents' THEN
        INSERT INTO resident_facts_stale (resident_id)
            SELECT DISTINCT id FROM changed ON CONFLICT DO NOTHING;
    ELSE
        INSERT INTO resident_facts_stale (resident_id)
            SELECT DISTINCT resident_id FROM changed ON CONFLICT DO NOTHING;
    END IF;
    RETURN NULL;
END;
$$;

CREATE TRIGGER residents_facts_insert AFTER INSERT ON residents REFERENCING NEW TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION resident_facts_mark_stale();
CREATE TRIGGER residents_facts_update_old AFTER UPDATE ON residents REFERENCING OLD TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION resident_facts_mark_stale();
CREATE TRIGGER residents_facts_update_new AFTER UPDATE ON residents REFERENCING NEW TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION resident_facts_mark_stale();
CREATE TRIGGER residents_facts_delete AFTER DELETE ON residents REFERENCING OLD TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION resident_facts_mark_stale();

CREATE TRIGGER certificates_facts_insert AFTER INSERT ON certificates REFERENCING NEW TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION resident_facts_mark_stale();
CREATE TRIGGER certificates_facts_update_old AFTER UPDATE ON certificates REFERENCING OLD TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION resident_facts_mark_stale();
CREATE TRIGGER certificates_facts_update_new AFTER UPDATE ON certificates REFERENCING NEW TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION resident_facts_mark_stale();
CREATE TRIGGER certificates_facts_delete AFTER DELETE ON certificates REFERENCING OLD TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION resident_facts_mark_stale();

CREATE TRIGGER household_statuses_facts_insert AFTER INSERT ON household_statuses REFERENCING NEW TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION resident_facts_mark_stale();
CREATE TRIGGER household_statuses_facts_update_old AFTER UPDATE ON household_statuses REFERENCING OLD TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION resident_facts_mark_stale();
CREATE TRIGGER household_statuses_facts_update_new AFTER UPDATE ON household_statuses REFERENCING NEW TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION resident_facts_mark_stale();
CREATE TRIGGER household_statuses_facts_delete AFTER DELETE ON household_statuses REFERENCING OLD TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION resident_facts_mark_stale();

CREATE TRIGGER subsidy_grants_facts_insert AFTER INSERT ON subsidy_grants REFERENCING NEW TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION resident_facts_mark_stale();
CREATE TRIGGER subsidy_grants_facts_update_old AFTER UPDATE ON subsidy_grants REFERENCING OLD TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION resident_facts_mark_stale();
CREATE TRIGGER subsidy_grants_facts_update_new AFTER UPDATE ON subsidy_grants REFERENCING NEW TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION resident_facts_mark_stale();
CREATE TRIGGER subsidy_grants_facts_delete AFTER DELETE ON subsidy_grants REFERENCING OLD TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION resident_facts_mark_stale();

CREATE TRIGGER grant_suspensions_facts_insert AFTER INSERT ON grant_suspensions REFERENCING NEW TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION resident_facts_mark_stale();
CREATE TRIGGER grant_suspensions_facts_update_old AFTER UPDATE ON grant_suspensions REFERENCING OLD TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION resident_facts_mark_stale();
CREATE TRIGGER grant_suspensions_facts_update_new AFTER UPDATE ON grant_suspensions REFERENCING NEW TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION resident_facts_mark_stale();
CREATE TRIGGER grant_suspensions_facts_delete AFTER DELETE ON grant_suspensions REFERENCING OLD TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION resident_facts_mark_stale();

CREATE TRIGGER file_records_facts_insert AFTER INSERT ON file_records REFERENCING NEW TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION resident_facts_mark_stale();
CREATE TRIGGER file_records_facts_update_old AFTER UPDATE ON file_records REFERENCING OLD TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION resident_facts_mark_stale();
CREATE TRIGGER file_records_facts_update_new AFTER UPDATE ON file_records REFERENCING NEW TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION resident_facts_mark_stale();
CREATE TRIGGER file_records_facts_delete AFTER DELETE ON file_records REFERENCING OLD TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION resident_facts_mark_stale();

CREATE TRIGGER home_modifications_facts_insert AFTER INSERT ON home_modifications REFERENCING NEW TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION resident_facts_mark_stale();
CREATE TRIGGER home_modifications_facts_update_old AFTER UPDATE ON home_modifications REFERENCING OLD TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION resident_facts_mark_stale();
CREATE TRIGGER home_modifications_facts_update_new AFTER UPDATE ON home_modifications REFERENCING NEW TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION resident_facts_mark_stale();
CREATE TRIGGER home_modifications_facts_delete AFTER DELETE ON home_modifications REFERENCING OLD TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION resident_facts_mark_stale();

CREATE TRIGGER resident_moves_facts_insert AFTER INSERT ON resident_moves REFERENCING NEW TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION resident_facts_mark_stale();
CREATE TRIGGER resident_moves_facts_update_old AFTER UPDATE ON resident_moves REFERENCING OLD TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION resident_facts_mark_stale();
CREATE TRIGGER resident_moves_facts_update_new AFTER UPDATE ON resident_moves REFERENCING NEW TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION resident_facts_mark_stale();
CREATE TRIGGER resident_moves_facts_delete AFTER DELETE ON resident_moves REFERENCING OLD TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION resident_facts_mark_stale();

-- Every resident of an existing database starts stale; the service writes their values when it
-- starts (startup::prepare), in slices.
INSERT INTO resident_facts_stale (resident_id) SELECT id FROM residents;
