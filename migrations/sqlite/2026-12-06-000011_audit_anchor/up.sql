-- Issue 15: the audit trail anchored with AUDIT_CHAIN_KEY, a key the database does not hold
-- (src/audit/anchor.rs). Each event appended from now on carries `mac`, HMAC-SHA256 of its
-- seq and hash under that key; events appended before have none.
ALTER TABLE audit_events ADD COLUMN mac TEXT;

-- Signed checkpoints: (seq, hash) of a head that verified, with its HMAC. The lowest row is
-- where the keyed chain starts: every event after it must carry a valid `mac`. This migration
-- writes that row at the trail's head as it stands (seq 0 on a new database), unsigned; the
-- service signs it when it first starts with the key. A deleted or altered row is found.
CREATE TABLE audit_chain_checkpoints (
    seq         INTEGER PRIMARY KEY NOT NULL,
    hash        TEXT NOT NULL,
    mac         TEXT,
    created_at  TIMESTAMP NOT NULL
);
INSERT INTO audit_chain_checkpoints (seq, hash, mac, created_at)
SELECT COALESCE(MAX(seq), 0),
       COALESCE((SELECT hash FROM audit_events ORDER BY seq DESC LIMIT 1),
                '0000000000000000000000000000000000000000000000000000000000000000'),
       NULL,
       strftime('%Y-%m-%d %H:%M:%f', 'now')
FROM audit_events;
