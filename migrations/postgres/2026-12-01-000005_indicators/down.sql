DROP TABLE indicator_definitions;
DROP INDEX file_records_section;
ALTER TABLE file_records DROP COLUMN holds;
DROP TABLE resident_moves;
