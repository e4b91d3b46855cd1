#!/bin/sh
# Runs once, when the compose database is initialised (an empty pgdata volume): creates the role
# the service runs as. The tables belong to POSTGRES_USER (`registry`), which only the one-shot
# `migrate` service uses; `registry_app` gets read and write rights on the tables `registry`
# creates, through default privileges, and nothing else: it cannot create, alter, drop or
# truncate a table, and migration 2026-12-01-000008_hardening takes back its rights to change
# or delete audit events. For a volume initialised before this script existed, run the same
# SQL by hand (README: Database roles).
set -eu
: "${APP_DB_PASSWORD:?set APP_DB_PASSWORD}"
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
     -v app_password="$APP_DB_PASSWORD" -v owner="$POSTGRES_USER" -v db="$POSTGRES_DB" <<'SQL'
CREATE ROLE registry_app LOGIN PASSWORD :'app_password';
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
GRANT CONNECT ON DATABASE :"db" TO registry_app;
GRANT USAGE ON SCHEMA public TO registry_app;
ALTER DEFAULT PRIVILEGES FOR ROLE :"owner" IN SCHEMA public
    GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO registry_app;
ALTER DEFAULT PRIVILEGES FOR ROLE :"owner" IN SCHEMA public
    GRANT USAGE, SELECT ON SEQUENCES TO registry_app;
SQL
