//! Embedded migrations, one folder per backend, run at start and by `migrate`.

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};

use super::DbConn;

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
            let result = apply(pg, POSTGRES_MIGRATIONS);
            pg.batch_execute(&format!("SELECT pg_advisory_unlock({MIGRATION_LOCK_KEY})"))?;
            result
        }
        DbConn::Sqlite(lite) => lite.immediate_transaction(|c| apply(c, SQLITE_MIGRATIONS)),
    }
}

fn apply<C>(conn: &mut C, migrations: EmbeddedMigrations) -> Result<Vec<String>, MigrationError>
where
    C: MigrationHarness<C::Backend> + Connection,
{
    let applied = conn.run_pending_migrations(migrations)?;
    Ok(applied.iter().map(|v| v.to_string()).collect())
}
