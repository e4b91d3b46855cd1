-- Issue 15: the audit trail anchored with AUDIT_CHAIN_KEY, a key the database does not hold
-- (src/audit/anchor.rs). Each event appended from now on carries `mac`, HMAC-SHA256 of its
-- seq and hash under that key; events appended before have none.
ALTER TABLE audit_events ADD COLUMN mac TEXT;

-- Signed checkpoints: (seq, hash) of a head that verified, with its HMAC. The lowest row is
-- where the keyed chain starts: every event after it must carry a valid `mac`. This migration
-- writes that row at the trail's head as it stands (seq 0 on a new database), unsigned; the
-- service signs it when it first starts with the key. A deleted or altered row is found.
CREATE TABLE audit_chain_checkpoints (
    seq         BIGINT PRIMARY KEY,
    hash        TEXT NOT NULL,
    mac         TEXT,
    created_at  TIMESTAMP NOT NULL
);
INSERT INTO audit_chain_checkpoints (seq, hash, mac, created_at)
SELECT COALESCE(MAX(seq), 0),
       COALESCE((SELECT hash FROM audit_events ORDER BY seq DESC LIMIT 1),
                '0000000000000000000000000000000000000000000000000000000000000000'),
       NULL,
       now() AT TIME ZONE 'UTC'
FROM audit_events;

-- The service reads, adds and signs checkpoints; it never removes one.
DO $$
DECLARE
    target record;
BEGIN
    FOR target IN
        SELECT r.rolname
        FROM pg_class c
        CROSS JOIN LATERAL aclexplode(c.relacl) AS a
        JOIN pg_roles r ON r.oid = a.grantee
        WHERE c.oid = 'audit_chain_checkpoints'::regclass
          AND a.grantee <> c.relowner
        GROUP BY r.rolname
    LOOP
        EXECUTE format('REVOKE DELETE, TRUNCATE, REFERENCES, TRIGGER ON audit_chain_checkpoints FROM %I',
                       target.rolname);
    END LOOP;
END;
$$;
