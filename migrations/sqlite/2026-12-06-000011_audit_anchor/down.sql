DROP TABLE audit_chain_checkpoints;
ALTER TABLE audit_events DROP COLUMN mac;
