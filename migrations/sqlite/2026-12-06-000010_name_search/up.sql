-- Issue 13. Name search by any part of the name, through an index on both backends.
--
-- Each resident's name is kept as its pairs of neighbouring characters, the last one paired with
-- U+0001 (a control character, which no name holds), ASCII letters in lower case (lower() is
-- ASCII-only in SQLite, as lower(… COLLATE "C") is in PostgreSQL; Chinese has no case): 张三丰
-- is 张三, 三丰 and 丰·. So every character of a name begins a pair, and a query of one
-- character is one range of the primary key (the pairs that begin with it); a query of two is
-- one pair; a longer one needs all its pairs, and the name is then checked with LIKE. The same
-- table and rules on both backends, no extension, and queries of one or two characters (a Chinese
-- given name) are indexed too, which trigram indexes (FTS5 trigram, pg_trgm) are not.
--
-- Triggers on residents keep the pairs, so every writer (the service, an import, seed-demo, an
-- operator's SQL) keeps them. Derived data: no foreign key (the triggers follow deletions).
CREATE TABLE resident_name_grams (
    gram        TEXT NOT NULL,
    resident_id INTEGER NOT NULL,
    PRIMARY KEY (gram, resident_id)
) WITHOUT ROWID;

-- 1 to 200, the character positions of a name (names are at most 50 characters): SQLite allows
-- no WITH clause inside a trigger.
CREATE TABLE name_gram_positions (
    n INTEGER PRIMARY KEY NOT NULL
);
WITH RECURSIVE p(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM p WHERE n < 200)
INSERT INTO name_gram_positions (n) SELECT n FROM p;

CREATE TRIGGER residents_name_grams_insert AFTER INSERT ON residents BEGIN
    INSERT OR IGNORE INTO resident_name_grams (gram, resident_id)
        SELECT substr(lower(NEW.name) || char(1), n, 2), NEW.id FROM name_gram_positions
        WHERE n <= length(NEW.name);
END;

CREATE TRIGGER residents_name_grams_update AFTER UPDATE OF name ON residents
    WHEN OLD.name IS NOT NEW.name BEGIN
    DELETE FROM resident_name_grams WHERE resident_id = OLD.id AND gram IN (
        SELECT substr(lower(OLD.name) || char(1), n, 2) FROM name_gram_positions
        WHERE n <= length(OLD.name));
    INSERT OR IGNORE INTO resident_name_grams (gram, resident_id)
        SELECT substr(lower(NEW.name) || char(1), n, 2), NEW.id FROM name_gram_positions
        WHERE n <= length(NEW.name);
END;

CREATE TRIGGER residents_name_grams_delete AFTER DELETE ON residents BEGIN
    DELETE FROM resident_name_grams WHERE resident_id = OLD.id AND gram IN (
        SELECT substr(lower(OLD.name) || char(1), n, 2) FROM name_gram_positions
        WHERE n <= length(OLD.name));
END;

-- The residents registered before this migration.
INSERT OR IGNORE INTO resident_name_grams (gram, resident_id)
    SELECT substr(lower(r.name) || char(1), p.n, 2), r.id FROM residents r
    JOIN name_gram_positions p ON p.n <= length(r.name);

-- The old index served only prefix search with a case-sensitive LIKE, which SQLite's LIKE is not.
DROP INDEX residents_name;
