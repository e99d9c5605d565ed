//! SQLite, the embedded default: a single-connection write pool (SQLite has one writer anyway;
//! queueing in the pool beats spinning on `SQLITE_BUSY`) and a read pool, in WAL mode.

use std::str::FromStr;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

use super::{Backend, PoolConfig};

/// The sqlx database the shared SQL is compiled against.
pub(crate) type Db = sqlx::Sqlite;
/// The back-end this module serves.
const BACKEND: Backend = Backend::Sqlite;

/// `SELECT … FOR UPDATE` where the back-end has it; SQLite's single writer needs no lock.
macro_rules! for_update {
    ($sql:expr) => {
        $sql
    };
}

// The shared SQL, compiled a second time against this back-end's types: by design.
#[allow(clippy::duplicate_mod)]
#[path = "sql/mod.rs"]
mod sql;

/// The SQLite store.
pub type SqliteStore = sql::SqlStore;

/// Opens (creating it when missing, unless the URL says `mode=…`) and migrates a database file.
pub async fn connect(url: &str, config: &PoolConfig) -> Result<SqliteStore, String> {
    let options = SqliteConnectOptions::from_str(url)
        .map_err(|e| format!("DATABASE_URL is not a valid SQLite URL: {e}"))?
        .create_if_missing(!url.contains("mode="))
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal)
        .foreign_keys(true)
        .busy_timeout(std::time::Duration::from_secs(5));
    // An embedded database does not drop connections: no ping before each use (each one is a
    // round trip to the connection's thread).
    let pool = |max: u32| {
        SqlitePoolOptions::new()
            .max_connections(max)
            .acquire_timeout(config.acquire_timeout)
            .test_before_acquire(false)
    };
    let write = pool(1).connect_with(options.clone()).await.map_err(connect_error)?;
    let read = pool(config.max_connections).connect_with(options).await.map_err(connect_error)?;
    sqlx::migrate!("migrations/sqlite")
        .run(&write)
        .await
        .map_err(|e| format!("migrating the database: {e}"))?;
    Ok(sql::SqlStore { read, write })
}

fn connect_error(e: sqlx::Error) -> String {
    format!("connecting to the database: {e}")
}
