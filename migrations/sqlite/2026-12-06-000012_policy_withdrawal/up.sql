-- Issue 14: a subsidy policy version that has not taken effect can be withdrawn by an admin,
-- with a reason. A withdrawn version stays listed and in the audit trail but never takes effect,
-- and holds no day: a corrected version may take effect on the same day, so only the versions
-- not withdrawn are unique by kind and day. SQLite cannot drop a table's UNIQUE constraint:
-- the table is rebuilt (nothing references it).
CREATE TABLE subsidy_policies_new (
    id                 INTEGER PRIMARY KEY NOT NULL,
    public_id          TEXT NOT NULL UNIQUE,
    kind               TEXT NOT NULL CHECK (kind IN ('living', 'nursing')),
    effective_from     DATE NOT NULL,
    monthly_amount_fen BIGINT NOT NULL CHECK (monthly_amount_fen > 0),
    rules              TEXT NOT NULL,
    created_at         TIMESTAMP NOT NULL,
    withdrawn_at       TIMESTAMP,
    withdraw_reason    TEXT
);
INSERT INTO subsidy_policies_new
    (id, public_id, kind, effective_from, monthly_amount_fen, rules, created_at)
SELECT id, public_id, kind, effective_from, monthly_amount_fen, rules, created_at
FROM subsidy_policies;
DROP TABLE subsidy_policies;
ALTER TABLE subsidy_policies_new RENAME TO subsidy_policies;
CREATE UNIQUE INDEX subsidy_policies_in_force ON subsidy_policies (kind, effective_from)
    WHERE withdrawn_at IS NULL;
