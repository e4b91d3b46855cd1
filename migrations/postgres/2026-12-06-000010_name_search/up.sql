-- Issue 13. Name search by any part of the name, through an index on both backends.
--
-- Each resident's name is kept as its pairs of neighbouring characters, the last one paired with
-- U+0001 (a control character, which no name holds), ASCII letters in lower case (lower(…
-- COLLATE "C") folds ASCII only, as SQLite's lower() does; Chinese has no case): 张三丰 is 张三,
-- 三丰 and 丰·. So every character of a name begins a pair, and a query of one character is one
-- range of the primary key (the pairs that begin with it, in code point order: COLLATE "C"); a
-- query of two is one pair; a longer one needs all its pairs, and the name is then checked with
-- LIKE. The same table and rules on both backends: no extension (pg_trgm need not be installed,
-- nor the service's role allowed to create it), and queries of one or two characters (a Chinese
-- given name) are indexed too, which trigram indexes are not.
--
-- Triggers on residents keep the pairs, so every writer (the service, an import, seed-demo, an
-- operator's SQL) keeps them; per statement, over its transition table, so a multi-row insert
-- or COPY writes its pairs in one statement. Derived data: no foreign key (the triggers follow
-- deletions).
CREATE TABLE resident_name_grams (
    gram        TEXT COLLATE "C" NOT NULL,
    resident_id BIGINT NOT NULL,
    PRIMARY KEY (gram, resident_id)
);

-- The pairs of a name, each once (where it first occurs).
CREATE FUNCTION resident_name_grams_of(name TEXT) RETURNS SETOF TEXT
    LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT substr(f, n, 2)
    FROM (SELECT lower(name COLLATE "C") || chr(1) AS f) AS s,
        generate_series(1, char_length(f) - 1) AS n
    WHERE strpos(substr(f, 1, n), substr(f, n, 2)) = 0
$$;

-- The insert trigger spells the pairs out (as resident_name_grams_of does) over the whole
-- statement's rows: a set-returning function called once per row costs more than the rows'
-- index entries. New residents have no pairs yet: nothing to skip.
CREATE FUNCTION resident_name_grams_sync() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO resident_name_grams (gram, resident_id)
            SELECT substr(r.f, n, 2), r.id
            FROM (SELECT id, lower(name COLLATE "C") || chr(1) AS f FROM new_rows) AS r,
                generate_series(1, char_length(r.f) - 1) AS n
            WHERE strpos(substr(r.f, 1, n), substr(r.f, n, 2)) = 0;
    ELSIF TG_OP = 'DELETE' THEN
        DELETE FROM resident_name_grams d USING old_rows o
            WHERE d.resident_id = o.id AND d.gram IN (SELECT resident_name_grams_of(o.name));
    ELSE
        -- Only the residents whose name changed (a transition table takes no column list).
        DELETE FROM resident_name_grams d USING old_rows o JOIN new_rows n ON n.id = o.id
            WHERE o.name IS DISTINCT FROM n.name
              AND d.resident_id = o.id AND d.gram IN (SELECT resident_name_grams_of(o.name));
        INSERT INTO resident_name_grams (gram, resident_id)
            SELECT g, n.id FROM old_rows o JOIN new_rows n ON n.id = o.id,
                resident_name_grams_of(n.name) AS g
            WHERE o.name IS DISTINCT FROM n.name
            ON CONFLICT DO NOTHING;
    END IF;
    RETURN NULL;
END;
$$;

CREATE TRIGGER residents_name_grams_insert AFTER INSERT ON residents
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION resident_name_grams_sync();
CREATE TRIGGER residents_name_grams_update AFTER UPDATE ON residents
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION resident_name_grams_sync();
CREATE TRIGGER residents_name_grams_delete AFTER DELETE ON residents
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION resident_name_grams_sync();

-- The residents registered before this migration.
INSERT INTO resident_name_grams (gram, resident_id)
    SELECT g, r.id FROM residents r, resident_name_grams_of(r.name) AS g;

-- The old index served only prefix search.
DROP INDEX residents_name;
