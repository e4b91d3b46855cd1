-- Issue 10. The indicators' per-resident projection: everything the indicator rules read of
-- one resident, for every day at once, in one compact value (src/domain/indicators/stored.rs),
-- so a report reads one row per resident instead of joining eight fact tables.
--
-- Triggers on every table the value is made of mark the resident stale; the service rewrites
-- the value of every stale resident in the same transaction, before it commits
-- (db::write_transaction), and a report reads the stale residents' facts from their tables,
-- so a change made outside the service (an operator's SQL) is counted at once all the same.
CREATE TABLE resident_facts (
    resident_id INTEGER PRIMARY KEY NOT NULL,
    facts       BLOB NOT NULL
);

CREATE TABLE resident_facts_stale (
    resident_id INTEGER PRIMARY KEY NOT NULL
);

CREATE TRIGGER residents_facts_insert AFTER INSERT ON residents BEGIN
    INSERT OR IGNORE INTO resident_facts_stale (resident_id) VALUES (NEW.id);
END;
CREATE TRIGGER residents_facts_update
    AFTER UPDATE OF birth_date, town_code, work_capacity, deceased_on, moved_out_on ON residents BEGIN
    INSERT OR IGNORE INTO resident_facts_stale (resident_id) VALUES (NEW.id);
END;
CREATE TRIGGER residents_facts_delete AFTER DELETE ON residents BEGIN
    INSERT OR IGNORE INTO resident_facts_stale (resident_id) VALUES (OLD.id);
END;

CREATE TRIGGER certificates_facts_insert AFTER INSERT ON certificates BEGIN
    INSERT OR IGNORE INTO resident_facts_stale (resident_id) VALUES (NEW.resident_id);
END;
CREATE TRIGGER certificates_facts_update AFTER UPDATE ON certificates BEGIN
    INSERT OR IGNORE INTO resident_facts_stale (resident_id) VALUES (OLD.resident_id);
    INSERT OR IGNORE INTO resident_facts_stale (resident_id) VALUES (NEW.resident_id);
END;
CREATE TRIGGER certificates_facts_delete AFTER DELETE ON certificates BEGIN
    INSERT OR IGNORE INTO resident_facts_stale (resident_id) VALUES (OLD.resident_id);
END;

CREATE TRIGGER household_statuses_facts_insert AFTER INSERT ON household_statuses BEGIN
    INSERT OR IGNORE INTO resident_facts_stale (resident_id) VALUES (NEW.resident_id);
END;
CREATE TRIGGER household_statuses_facts_update AFTER UPDATE ON household_statuses BEGIN
    INSERT OR IGNORE INTO resident_facts_stale (resident_id) VALUES (OLD.resident_id);
    INSERT OR IGNORE INTO resident_facts_stale (resident_id) VALUES (NEW.resident_id);
END;
CREATE TRIGGER household_statuses_facts_delete AFTER DELETE ON household_statuses BEGIN
    INSERT OR IGNORE INTO resident_facts_stale (resident_id) VALUES (OLD.resident_id);
END;

CREATE TRIGGER subsidy_grants_facts_insert AFTER INSERT ON subsidy_grants BEGIN
    INSERT OR IGNORE INTO resident_facts_stale (resident_id) VALUES (NEW.resident_id);
END;
CREATE TRIGGER subsidy_grants_facts_update AFTER UPDATE ON subsidy_grants BEGIN
    INSERT OR IGNORE INTO resident_facts_stale (resident_id) VALUES (OLD.resident_id);
    INSERT OR IGNORE INTO resident_facts_stale (resident_id) VALUES (NEW.resident_id);
END;
CREATE TRIGGER subsidy_grants_facts_delete AFTER DELETE ON subsidy_grants BEGIN
    INSERT OR IGNORE INTO resident_facts_stale (resident_id) VALUES (OLD.resident_id);
END;

CREATE TRIGGER grant_suspensions_facts_insert AFTER INSERT ON grant_suspensions BEGIN
    INSERT OR IGNORE INTO resident_facts_stale (resident_id) VALUES (NEW.resident_id);
END;
CREATE TRIGGER grant_suspensions_facts_update AFTER UPDATE ON grant_suspensions BEGIN
    INSERT OR IGNORE INTO resident_facts_stale (resident_id) VALUES (OLD.resident_id);
    INSERT OR IGNORE INTO resident_facts_stale (resident_id) VALUES (NEW.resident_id);
END;
CREATE TRIGGER grant_suspensions_facts_delete AFTER DELETE ON grant_suspensions BEGIN
    INSERT OR IGNORE INTO resident_facts_stale (resident_id) VALUES (OLD.resident_id);
END;

CREATE TRIGGER file_records_facts_insert AFTER INSERT ON file_records BEGIN
    INSERT OR IGNORE INTO resident_facts_stale (resident_id) VALUES (NEW.resident_id);
END;
CREATE TRIGGER file_records_facts_update AFTER UPDATE ON file_records BEGIN
    INSERT OR IGNORE INTO resident_facts_stale (resident_id) VALUES (OLD.resident_id);
    INSERT OR IGNORE INTO resident_facts_stale (resident_id) VALUES (NEW.resident_id);
END;
CREATE TRIGGER file_records_facts_delete AFTER DELETE ON file_records BEGIN
    INSERT OR IGNORE INTO resident_facts_stale (resident_id) VALUES (OLD.resident_id);
END;

CREATE TRIGGER home_modifications_facts_insert AFTER INSERT ON home_modifications BEGIN
    INSERT OR IGNORE INTO resident_facts_stale (resident_id) VALUES (NEW.resident_id);
END;
CREATE TRIGGER home_modifications_facts_update AFTER UPDATE ON home_modifications BEGIN
    INSERT OR IGNORE INTO resident_facts_stale (resident_id) VALUES (OLD.resident_id);
    INSERT OR IGNORE INTO resident_facts_stale (resident_id) VALUES (NEW.resident_id);
END;
CREATE TRIGGER home_modifications_facts_delete AFTER DELETE ON home_modifications BEGIN
    INSERT OR IGNORE INTO resident_facts_stale (resident_id) VALUES (OLD.resident_id);
END;

CREATE TRIGGER resident_moves_facts_insert AFTER INSERT ON resident_moves BEGIN
    INSERT OR IGNORE INTO resident_facts_stale (resident_id) VALUES (NEW.resident_id);
END;
CREATE TRIGGER resident_moves_facts_update AFTER UPDATE ON resident_moves BEGIN
    INSERT OR IGNORE INTO resident_facts_stale (resident_id) VALUES (OLD.resident_id);
    INSERT OR IGNORE INTO resident_facts_stale (resident_id) VALUES (NEW.resident_id);
END;
CREATE TRIGGER resident_moves_facts_delete AFTER DELETE ON resident_moves BEGIN
    INSERT OR IGNORE INTO resident_facts_stale (resident_id) VALUES (OLD.resident_id);
END;

-- Every resident of an existing database starts stale; the service writes their values when it
-- starts (startup::prepare), in slices.
INSERT INTO resident_facts_stale (resident_id) SELECT id FROM residents;
