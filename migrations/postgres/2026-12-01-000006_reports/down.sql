DROP TABLE report_snapshots;
DROP FUNCTION IF EXISTS report_snapshots_immutable();
