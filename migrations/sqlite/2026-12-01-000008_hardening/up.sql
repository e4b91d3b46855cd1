-- Issue 9. SQLite has no TRUNCATE: `DELETE FROM audit_events` without a WHERE, which SQLite
-- would otherwise run as a truncation, is refused by the trigger audit_events_no_delete
-- (2026-11-30-000002), whose presence also turns that optimisation off. Nothing to add here;
-- the migration keeps the numbering of the two backends alike.
SELECT 1;
