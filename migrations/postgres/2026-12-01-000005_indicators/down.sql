DROP TABLE indicator_definitions;
ALTER TABLE file_records DROP COLUMN holds;
DROP TABLE resident_moves;
