-- Issue 14: a subsidy policy version that has not taken effect can be withdrawn by an admin,
-- with a reason. A withdrawn version stays listed and in the audit trail but never takes effect,
-- and holds no day: a corrected version may take effect on the same day, so only the versions
-- not withdrawn are unique by kind and day.
ALTER TABLE subsidy_policies ADD COLUMN withdrawn_at TIMESTAMP;
ALTER TABLE subsidy_policies ADD COLUMN withdraw_reason TEXT;
ALTER TABLE subsidy_policies DROP CONSTRAINT subsidy_policies_kind_effective_from_key;
CREATE UNIQUE INDEX subsidy_policies_in_force ON subsidy_policies (kind, effective_from)
    WHERE withdrawn_at IS NULL;
