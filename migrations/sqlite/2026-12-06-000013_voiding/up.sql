-- Issue 14: a section record, a subsidy grant or a home-modification case entered by mistake
-- is voided by a caseworker of its town, with a reason. The row stays (the file shows it marked
-- void, the audit trail keeps the void) but counts nowhere: every query that counts, checks or
-- lists work reads only the rows with `voided_at IS NULL`.
--
-- Voiding is an UPDATE, so the triggers of 000009 (AFTER UPDATE, every column) mark the
-- resident's `resident_facts` stale and the service rewrites it in the same transaction. Adding
-- columns leaves the tables and their triggers as they are (no rebuild).
ALTER TABLE file_records ADD COLUMN voided_at TIMESTAMP;
ALTER TABLE file_records ADD COLUMN voided_by TEXT;
ALTER TABLE file_records ADD COLUMN void_reason TEXT;

ALTER TABLE subsidy_grants ADD COLUMN voided_at TIMESTAMP;
ALTER TABLE subsidy_grants ADD COLUMN voided_by TEXT;
ALTER TABLE subsidy_grants ADD COLUMN void_reason TEXT;

ALTER TABLE home_modifications ADD COLUMN voided_at TIMESTAMP;
ALTER TABLE home_modifications ADD COLUMN voided_by TEXT;
ALTER TABLE home_modifications ADD COLUMN void_reason TEXT;

-- A void record holds no place: the corrected record of the same year and kind, or a new grant
-- of the same subsidy, may be entered after it.
DROP INDEX file_records_natural;
CREATE UNIQUE INDEX file_records_natural ON file_records (resident_id, section, natural_key)
    WHERE natural_key IS NOT NULL AND voided_at IS NULL;
DROP INDEX subsidy_grants_one_running;
CREATE UNIQUE INDEX subsidy_grants_one_running ON subsidy_grants (resident_id, kind)
    WHERE terminated_on IS NULL AND voided_at IS NULL;
