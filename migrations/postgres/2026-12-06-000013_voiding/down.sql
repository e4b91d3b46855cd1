-- Void rows go with their columns (they count nowhere, and a corrected row may share their
-- unique place); the audit trail keeps them.
DELETE FROM file_records WHERE voided_at IS NOT NULL;
DELETE FROM grant_suspensions
    WHERE grant_id IN (SELECT id FROM subsidy_grants WHERE voided_at IS NOT NULL);
DELETE FROM subsidy_grants WHERE voided_at IS NOT NULL;
DELETE FROM home_modifications WHERE voided_at IS NOT NULL;

DROP INDEX file_records_natural;
CREATE UNIQUE INDEX file_records_natural ON file_records (resident_id, section, natural_key)
    WHERE natural_key IS NOT NULL;
DROP INDEX subsidy_grants_one_running;
CREATE UNIQUE INDEX subsidy_grants_one_running ON subsidy_grants (resident_id, kind)
    WHERE terminated_on IS NULL;

ALTER TABLE file_records DROP COLUMN void_reason;
ALTER TABLE file_records DROP COLUMN voided_by;
ALTER TABLE file_records DROP COLUMN voided_at;
ALTER TABLE subsidy_grants DROP COLUMN void_reason;
ALTER TABLE subsidy_grants DROP COLUMN voided_by;
ALTER TABLE subsidy_grants DROP COLUMN voided_at;
ALTER TABLE home_modifications DROP COLUMN void_reason;
ALTER TABLE home_modifications DROP COLUMN voided_by;
ALTER TABLE home_modifications DROP COLUMN voided_at;
