CREATE INDEX residents_name ON residents (name, id);
DROP TRIGGER residents_name_grams_delete;
DROP TRIGGER residents_name_grams_update;
DROP TRIGGER residents_name_grams_insert;
DROP TABLE name_gram_positions;
DROP TABLE resident_name_grams;
