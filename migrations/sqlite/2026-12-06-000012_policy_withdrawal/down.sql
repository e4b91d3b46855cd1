-- Withdrawn versions go with their columns (a corrected version may share their day).
CREATE TABLE subsidy_policies_old (
    id                 INTEGER PRIMARY KEY NOT NULL,
    public_id          TEXT NOT NULL UNIQUE,
    kind               TEXT NOT NULL CHECK (kind IN ('living', 'nursing')),
    effective_from     DATE NOT NULL,
    monthly_amount_fen BIGINT NOT NULL CHECK (monthly_amount_fen > 0),
    rules              TEXT NOT NULL,
    created_at         TIMESTAMP NOT NULL,
    UNIQUE (kind, effective_from)
);
INSERT INTO subsidy_policies_old
    (id, public_id, kind, effective_from, monthly_amount_fen, rules, created_at)
SELECT id, public_id, kind, effective_from, monthly_amount_fen, rules, created_at
FROM subsidy_policies WHERE withdrawn_at IS NULL;
DROP TABLE subsidy_policies;
ALTER TABLE subsidy_policies_old RENAME TO subsidy_policies;
