-- Issue 13. Each resident's file as last shown (src/db/file_views.rs): the answer of
-- GET /api/v1/residents/{id}/file, rendered from the file's rows, with the resident's version
-- it shows and the day and settings it was rendered for. A read serves it only while the
-- resident is still at that version (every change to a file moves the version on: it is the
-- file's ETag) and it was rendered for today; else it renders the file again. It holds what a
-- response holds: ID numbers and phones masked, nothing decrypted. A cache, emptied at every
-- start.
CREATE TABLE file_views (
    resident_id  INTEGER PRIMARY KEY NOT NULL,
    version      INTEGER NOT NULL,
    rendered_for TEXT NOT NULL,
    body         TEXT NOT NULL
);

-- A change to any row of a file, made by the service or not (an operator's SQL), forgets the
-- file's kept view in the same transaction. The service moves the resident's version on with
-- every change as well, which also covers a read that rendered the file just before a change
-- and keeps it just after.

CREATE TRIGGER residents_file_views_insert AFTER INSERT ON residents
BEGIN DELETE FROM file_views WHERE resident_id = NEW.id; END;
CREATE TRIGGER residents_file_views_update AFTER UPDATE ON residents
BEGIN DELETE FROM file_views WHERE resident_id IN (OLD.id, NEW.id); END;
CREATE TRIGGER residents_file_views_delete AFTER DELETE ON residents
BEGIN DELETE FROM file_views WHERE resident_id = OLD.id; END;

CREATE TRIGGER household_statuses_file_views_insert AFTER INSERT ON household_statuses
BEGIN DELETE FROM file_views WHERE resident_id = NEW.resident_id; END;
CREATE TRIGGER household_statuses_file_views_update AFTER UPDATE ON household_statuses
BEGIN DELETE FROM file_views WHERE resident_id IN (OLD.resident_id, NEW.resident_id); END;
CREATE TRIGGER household_statuses_file_views_delete AFTER DELETE ON household_statuses
BEGIN DELETE FROM file_views WHERE resident_id = OLD.resident_id; END;

CREATE TRIGGER certificates_file_views_insert AFTER INSERT ON certificates
BEGIN DELETE FROM file_views WHERE resident_id = NEW.resident_id; END;
CREATE TRIGGER certificates_file_views_update AFTER UPDATE ON certificates
BEGIN DELETE FROM file_views WHERE resident_id IN (OLD.resident_id, NEW.resident_id); END;
CREATE TRIGGER certificates_file_views_delete AFTER DELETE ON certificates
BEGIN DELETE FROM file_views WHERE resident_id = OLD.resident_id; END;

CREATE TRIGGER subsidy_grants_file_views_insert AFTER INSERT ON subsidy_grants
BEGIN DELETE FROM file_views WHERE resident_id = NEW.resident_id; END;
CREATE TRIGGER subsidy_grants_file_views_update AFTER UPDATE ON subsidy_grants
BEGIN DELETE FROM file_views WHERE resident_id IN (OLD.resident_id, NEW.resident_id); END;
CREATE TRIGGER subsidy_grants_file_views_delete AFTER DELETE ON subsidy_grants
BEGIN DELETE FROM file_views WHERE resident_id = OLD.resident_id; END;

CREATE TRIGGER grant_suspensions_file_views_insert AFTER INSERT ON grant_suspensions
BEGIN DELETE FROM file_views WHERE resident_id = NEW.resident_id; END;
CREATE TRIGGER grant_suspensions_file_views_update AFTER UPDATE ON grant_suspensions
BEGIN DELETE FROM file_views WHERE resident_id IN (OLD.resident_id, NEW.resident_id); END;
CREATE TRIGGER grant_suspensions_file_views_delete AFTER DELETE ON grant_suspensions
BEGIN DELETE FROM file_views WHERE resident_id = OLD.resident_id; END;

CREATE TRIGGER home_modifications_file_views_insert AFTER INSERT ON home_modifications
BEGIN DELETE FROM file_views WHERE resident_id = NEW.resident_id; END;
CREATE TRIGGER home_modifications_file_views_update AFTER UPDATE ON home_modifications
BEGIN DELETE FROM file_views WHERE resident_id IN (OLD.resident_id, NEW.resident_id); END;
CREATE TRIGGER home_modifications_file_views_delete AFTER DELETE ON home_modifications
BEGIN DELETE FROM file_views WHERE resident_id = OLD.resident_id; END;

CREATE TRIGGER file_records_file_views_insert AFTER INSERT ON file_records
BEGIN DELETE FROM file_views WHERE resident_id = NEW.resident_id; END;
CREATE TRIGGER file_records_file_views_update AFTER UPDATE ON file_records
BEGIN DELETE FROM file_views WHERE resident_id IN (OLD.resident_id, NEW.resident_id); END;
CREATE TRIGGER file_records_file_views_delete AFTER DELETE ON file_records
BEGIN DELETE FROM file_views WHERE resident_id = OLD.resident_id; END;

CREATE TRIGGER resident_moves_file_views_insert AFTER INSERT ON resident_moves
BEGIN DELETE FROM file_views WHERE resident_id = NEW.resident_id; END;
CREATE TRIGGER resident_moves_file_views_update AFTER UPDATE ON resident_moves
BEGIN DELETE FROM file_views WHERE resident_id IN (OLD.resident_id, NEW.resident_id); END;
CREATE TRIGGER resident_moves_file_views_delete AFTER DELETE ON resident_moves
BEGIN DELETE FROM file_views WHERE resident_id = OLD.resident_id; END;

CREATE TRIGGER applications_file_views_insert AFTER INSERT ON applications
BEGIN DELETE FROM file_views WHERE resident_id = NEW.resident_id; END;
CREATE TRIGGER applications_file_views_update AFTER UPDATE ON applications
BEGIN DELETE FROM file_views WHERE resident_id IN (OLD.resident_id, NEW.resident_id); END;
CREATE TRIGGER applications_file_views_delete AFTER DELETE ON applications
BEGIN DELETE FROM file_views WHERE resident_id = OLD.resident_id; END;
