-- Withdrawn versions go with their columns (a corrected version may share their day).
DELETE FROM subsidy_policies WHERE withdrawn_at IS NOT NULL;
DROP INDEX subsidy_policies_in_force;
ALTER TABLE subsidy_policies ADD CONSTRAINT subsidy_policies_kind_effective_from_key
    UNIQUE (kind, effective_from);
ALTER TABLE subsidy_policies DROP COLUMN withdraw_reason;
ALTER TABLE subsidy_policies DROP COLUMN withdrawn_at;
