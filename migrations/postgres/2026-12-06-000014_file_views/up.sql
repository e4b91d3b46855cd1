-- Issue 13. Each resident's file as last shown (src/db/file_views.rs): the answer of
-- GET /api/v1/residents/{id}/file, rendered from the file's rows, with the resident's version
-- it shows and the day and settings it was rendered for. A read serves it only while the
-- resident is still at that version (every change to a file moves the version on: it is the
-- file's ETag) and it was rendered for today; else it renders the file again. It holds what a
-- response holds: ID numbers and phones masked, nothing decrypted.
--
-- A cache: UNLOGGED (no WAL; emptied after a crash) and emptied at every start.
CREATE UNLOGGED TABLE file_views (
    resident_id  BIGINT PRIMARY KEY,
    version      INTEGER NOT NULL,
    rendered_for TEXT NOT NULL,
    body         TEXT NOT NULL
);

-- A change to any row of a file, made by the service or not (an operator's SQL), forgets the
-- file's kept view in the same transaction. The service moves the resident's version on with
-- every change as well, which also covers a read that rendered the file just before a change
-- and keeps it just after. Per statement, over the statement's rows, like the indicator facts'
-- triggers (2026-12-06-000009).
CREATE FUNCTION file_views_forget() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_TABLE_NAME = 'residents' THEN
        DELETE FROM file_views WHERE resident_id IN (SELECT id FROM changed);
    ELSE
        DELETE FROM file_views WHERE resident_id IN (SELECT resident_id FROM changed);
    END IF;
    RETURN NULL;
END;
$$;

CREATE TRIGGER residents_file_views_insert AFTER INSERT ON residents REFERENCING NEW TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION file_views_forget();
CREATE TRIGGER residents_file_views_update_old AFTER UPDATE ON residents REFERENCING OLD TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION file_views_forget();
CREATE TRIGGER residents_file_views_update_new AFTER UPDATE ON residents REFERENCING NEW TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION file_views_forget();
CREATE TRIGGER residents_file_views_delete AFTER DELETE ON residents REFERENCING OLD TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION file_views_forget();

CREATE TRIGGER household_statuses_file_views_insert AFTER INSERT ON household_statuses REFERENCING NEW TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION file_views_forget();
CREATE TRIGGER household_statuses_file_views_update_old AFTER UPDATE ON household_statuses REFERENCING OLD TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION file_views_forget();
CREATE TRIGGER household_statuses_file_views_update_new AFTER UPDATE ON household_statuses REFERENCING NEW TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION file_views_forget();
CREATE TRIGGER household_statuses_file_views_delete AFTER DELETE ON household_statuses REFERENCING OLD TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION file_views_forget();

CREATE TRIGGER certificates_file_views_insert AFTER INSERT ON certificates REFERENCING NEW TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION file_views_forget();
CREATE TRIGGER certificates_file_views_update_old AFTER UPDATE ON certificates REFERENCING OLD TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION file_views_forget();
CREATE TRIGGER certificates_file_views_update_new AFTER UPDATE ON certificates REFERENCING NEW TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION file_views_forget();
CREATE TRIGGER certificates_file_views_delete AFTER DELETE ON certificates REFERENCING OLD TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION file_views_forget();

CREATE TRIGGER subsidy_grants_file_views_insert AFTER INSERT ON subsidy_grants REFERENCING NEW TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION file_views_forget();
CREATE TRIGGER subsidy_grants_file_views_update_old AFTER UPDATE ON subsidy_grants REFERENCING OLD TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION file_views_forget();
CREATE TRIGGER subsidy_grants_file_views_update_new AFTER UPDATE ON subsidy_grants REFERENCING NEW TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION file_views_forget();
CREATE TRIGGER subsidy_grants_file_views_delete AFTER DELETE ON subsidy_grants REFERENCING OLD TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION file_views_forget();

CREATE TRIGGER grant_suspensions_file_views_insert AFTER INSERT ON grant_suspensions REFERENCING NEW TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION file_views_forget();
CREATE TRIGGER grant_suspensions_file_views_update_old AFTER UPDATE ON grant_suspensions REFERENCING OLD TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION file_views_forget();
CREATE TRIGGER grant_suspensions_file_views_update_new AFTER UPDATE ON grant_suspensions REFERENCING NEW TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION file_views_forget();
CREATE TRIGGER grant_suspensions_file_views_delete AFTER DELETE ON grant_suspensions REFERENCING OLD TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION file_views_forget();

CREATE TRIGGER home_modifications_file_views_insert AFTER INSERT ON home_modifications REFERENCING NEW TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION file_views_forget();
CREATE TRIGGER home_modifications_file_views_update_old AFTER UPDATE ON home_modifications REFERENCING OLD TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION file_views_forget();
CREATE TRIGGER home_modifications_file_views_update_new AFTER UPDATE ON home_modifications REFERENCING NEW TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION file_views_forget();
CREATE TRIGGER home_modifications_file_views_delete AFTER DELETE ON home_modifications REFERENCING OLD TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION file_views_forget();

CREATE TRIGGER file_records_file_views_insert AFTER INSERT ON file_records REFERENCING NEW TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION file_views_forget();
CREATE TRIGGER file_records_file_views_update_old AFTER UPDATE ON file_records REFERENCING OLD TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION file_views_forget();
CREATE TRIGGER file_records_file_views_update_new AFTER UPDATE ON file_records REFERENCING NEW TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION file_views_forget();
CREATE TRIGGER file_records_file_views_delete AFTER DELETE ON file_records REFERENCING OLD TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION file_views_forget();

CREATE TRIGGER resident_moves_file_views_insert AFTER INSERT ON resident_moves REFERENCING NEW TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION file_views_forget();
CREATE TRIGGER resident_moves_file_views_update_old AFTER UPDATE ON resident_moves REFERENCING OLD TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION file_views_forget();
CREATE TRIGGER resident_moves_file_views_update_new AFTER UPDATE ON resident_moves REFERENCING NEW TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION file_views_forget();
CREATE TRIGGER resident_moves_file_views_delete AFTER DELETE ON resident_moves REFERENCING OLD TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION file_views_forget();

CREATE TRIGGER applications_file_views_insert AFTER INSERT ON applications REFERENCING NEW TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION file_views_forget();
CREATE TRIGGER applications_file_views_update_old AFTER UPDATE ON applications REFERENCING OLD TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION file_views_forget();
CREATE TRIGGER applications_file_views_update_new AFTER UPDATE ON applications REFERENCING NEW TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION file_views_forget();
CREATE TRIGGER applications_file_views_delete AFTER DELETE ON applications REFERENCING OLD TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION file_views_forget();
