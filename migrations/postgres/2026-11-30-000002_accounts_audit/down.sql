DROP FUNCTION IF EXISTS audit_events_append_only() CASCADE;
DROP TABLE audit_events;
DROP TABLE refresh_tokens;
DROP TABLE sessions;
DROP TABLE user_towns;
DROP TABLE users;
