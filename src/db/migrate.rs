//! Embedded migrations, one folder per backend, run at start and by `migrate`.

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};

use super::conn::DbConn;

const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");

/// Key of the PostgreSQL advisory lock that serialises migrations between instances
/// (the bytes of "fenghua!" as an i64).
const MIGRATION_LOCK_KEY: i64 = 0x6665_6e67_6875_6121;

pub type MigrationError = Box<dyn std::error::Error + Send + Sync>;

/// Applies every pending migration and returns the versions applied.
///
/// Two instances starting at once cannot race: on PostgreSQL the run holds a session advisory
/// lock; on SQLite it holds the write lock (`BEGIN IMMEDIATE`), so the second waits and then
/// finds nothing pending.
pub fn run_pending(conn: &mut DbConn) -> Result<Vec<String>, MigrationError> {
    match conn {
        DbConn::Postgres(pg) => {
            pg.batch_execute(&format!("SELECT pg_advisory_lock({MIGRATION_LOCK_KEY})"))?;
            let result = match all_applied(pg, &POSTGRES_MIGRATIONS) {
                Ok(true) => Ok(Vec::new()),
                Ok(false) => apply(pg, POSTGRES_MIGRATIONS).map_err(|e| {
                    format!(
                        "{e} (migrations run as the tables' owner: set MIGRATION_DATABASE_URL, \
                         or run `fenghua-registry migrate` with the owner's DATABASE_URL)"
                    )
                    .into()
                }),
                Err(e) => Err(e),
            };
            pg.batch_execute(&format!("SELECT pg_advisory_unlock({MIGRATION_LOCK_KEY})"))?;
            result
        }
        DbConn::Sqlite(lite) => lite.immediate_transaction(|c| apply(c, SQLITE_MIGRATIONS)),
    }
}

/// Whether every migration is recorded as applied, found with reads only. The service may run
/// as a role that does not own the tables, and diesel's own check begins with a
/// `CREATE TABLE IF NOT EXISTS` of its bookkeeping table, which such a role may not run even
/// when the table exists.
fn all_applied(
    conn: &mut diesel::PgConnection,
    migrations: &EmbeddedMigrations,
) -> Result<bool, MigrationError> {
    use diesel::migration::MigrationSource;
    use diesel::sql_types::{Bool, Text};

    #[derive(QueryableByName)]
    struct Applied {
        #[diesel(sql_type = Text)]
        version: String,
    }

    let exists: bool = diesel::select(diesel::dsl::sql::<Bool>(
        "to_regclass('__diesel_schema_migrations') IS NOT NULL",
    ))
    .get_result(conn)?;
    if !exists {
        return Ok(false);
    }
    let applied: Vec<String> = diesel::sql_query("SELECT version FROM __diesel_schema_migrations")
        .load::<Applied>(conn)?
        .into_iter()
        .map(|a| a.version)
        .collect();
    let wanted = MigrationSource::<diesel::pg::Pg>::migrations(migrations)?;
    Ok(wanted
        .iter()
        .all(|m| applied.contains(&m.name().version().to_string())))
}

fn apply<C>(conn: &mut C, migrations: EmbeddedMigrations) -> Result<Vec<String>, MigrationError>
where
    C: MigrationHarness<C::Backend> + Connection,
{
    let applied = conn.run_pending_migrations(migrations)?;
    Ok(applied.iter().map(|v| v.to_string()).collect())
}
