-- Issue 9. The row triggers of audit_events (2026-11-30-000002) refuse UPDATE and DELETE, but
-- TRUNCATE fires no row trigger: it emptied the trail, and the chain of no events verified.
CREATE FUNCTION audit_events_refuse_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit events are append-only: TRUNCATE is refused';
END;
$$;
CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events
    FOR EACH STATEMENT EXECUTE FUNCTION audit_events_refuse_truncate();

-- The service runs as a role that does not own the tables (README: Running on PostgreSQL); it
-- gets its rights from the owner's default privileges, which grant every table alike. On the
-- trail it needs to read and append, and on diesel's migration table only to read (to see
-- that nothing is pending): take back the rest from every role but the owner. A role granted
-- rights later gets them from the default privileges again, for the tables created after.
DO $$
DECLARE
    target record;
BEGIN
    FOR target IN
        SELECT c.relname, r.rolname
        FROM pg_class c
        CROSS JOIN LATERAL aclexplode(c.relacl) AS a
        JOIN pg_roles r ON r.oid = a.grantee
        WHERE c.oid IN ('audit_events'::regclass, '__diesel_schema_migrations'::regclass)
          AND a.grantee <> c.relowner
        GROUP BY c.relname, r.rolname
    LOOP
        IF target.relname = 'audit_events' THEN
            EXECUTE format('REVOKE UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER ON audit_events FROM %I',
                           target.rolname);
        ELSE
            EXECUTE format('REVOKE INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER ON __diesel_schema_migrations FROM %I',
                           target.rolname);
        END IF;
    END LOOP;
END;
$$;
