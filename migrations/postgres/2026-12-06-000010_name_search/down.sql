CREATE INDEX residents_name ON residents (name text_pattern_ops, id);
DROP TRIGGER residents_name_grams_delete ON residents;
DROP TRIGGER residents_name_grams_update ON residents;
DROP TRIGGER residents_name_grams_insert ON residents;
DROP FUNCTION resident_name_grams_sync();
DROP FUNCTION resident_name_grams_of(TEXT);
DROP TABLE resident_name_grams;
