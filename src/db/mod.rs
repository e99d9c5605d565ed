//! Storage: sqlx over SQLite (the embedded default) or PostgreSQL, chosen by the URL.
//!
//! One query set serves both back-ends through sqlx's `Any` driver: `$n` placeholders, portable
//! column types (BIGINT ids, cents and microsecond timestamps, TEXT) and one migration set per
//! back-end under `migrations/`. Nothing in here knows HTTP: functions take plain values and
//! return rows or a domain [`Error`]. Constraint violations are mapped here, by sqlx's error
//! kind, never by matching database text.
//!
//! SQLite gets a single-connection write pool (SQLite has one writer anyway; queueing in the
//! pool beats spinning on `SQLITE_BUSY`) and a read pool, in WAL mode.

/// A `SELECT` with `FOR UPDATE` where the back-end has it: PostgreSQL locks the row a write is
/// about to check and change; SQLite's single writer needs no lock.
macro_rules! select_for_update {
    ($db:expr, $sql:expr) => {
        match $db.backend() {
            $crate::db::Backend::Postgres => concat!($sql, " FOR UPDATE"),
            $crate::db::Backend::Sqlite => $sql,
        }
    };
}

pub mod api_keys;
pub mod categories;
pub mod demo;
mod page;
pub mod products;
mod sql;
pub mod tags;
pub mod tokens;
pub mod users;

pub use page::{Page, Start};

use std::time::Duration;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::error::ErrorKind;
use sqlx::{AnyPool, Executor};

use crate::error::Error;

/// Which database the URL names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Pool sizes and timeouts.
#[derive(Debug, Clone)]
pub struct PoolConfig {
    /// Connections for reads (and, on PostgreSQL, for writes too).
    pub max_connections: u32,
    /// How long a request waits for a connection before the API answers 503.
    pub acquire_timeout: Duration,
}

impl Default for PoolConfig {
    fn default() -> Self {
        PoolConfig { max_connections: 8, acquire_timeout: Duration::from_secs(5) }
    }
}

/// The database: a read pool and a write pool (the same pool on PostgreSQL).
#[derive(Clone, Debug)]
pub struct Db {
    read: AnyPool,
    write: AnyPool,
    backend: Backend,
}

impl Db {
    /// Connects and applies the pending migrations of the back-end.
    pub async fn connect(url: &str, config: &PoolConfig) -> Result<Db, String> {
        sqlx::any::install_default_drivers();
        let (backend, url) = if url.starts_with("sqlite:") {
            (Backend::Sqlite, sqlite_url(url))
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            (Backend::Postgres, url.to_string())
        } else {
            return Err("DATABASE_URL must start with sqlite: or postgres://".into());
        };
        let options: AnyConnectOptions =
            url.parse().map_err(|e| format!("DATABASE_URL is not a valid database URL: {e}"))?;
        let pool = |max: u32| {
            let pool = AnyPoolOptions::new().max_connections(max).acquire_timeout(config.acquire_timeout);
            match backend {
                Backend::Postgres => pool,
                // An embedded database does not drop connections: no ping before each use
                // (each one is a round trip to the connection's thread).
                Backend::Sqlite => pool.test_before_acquire(false).after_connect(|conn, _| {
                    Box::pin(async move {
                        conn.execute(
                            "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \
                             PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 5000;",
                        )
                        .await
                        .map(|_| ())
                    })
                }),
            }
        };
        let db = match backend {
            Backend::Postgres => {
                let pool = pool(config.max_connections).connect_with(options).await.map_err(connect_error)?;
                Db { read: pool.clone(), write: pool, backend }
            }
            Backend::Sqlite => {
                let write = pool(1).connect_with(options.clone()).await.map_err(connect_error)?;
                let read = pool(config.max_connections).connect_with(options).await.map_err(connect_error)?;
                Db { read, write, backend }
            }
        };
        db.migrate().await?;
        Ok(db)
    }

    /// Applies the migrations the database has not seen yet.
    pub async fn migrate(&self) -> Result<(), String> {
        let migrator = match self.backend {
            Backend::Sqlite => sqlx::migrate!("migrations/sqlite"),
            Backend::Postgres => sqlx::migrate!("migrations/postgres"),
        };
        migrator.run(&self.write).await.map_err(|e| format!("migrating the database: {e}"))
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    pub(crate) fn read(&self) -> &AnyPool {
        &self.read
    }

    pub(crate) fn write(&self) -> &AnyPool {
        &self.write
    }

    /// Whether the database answers a query (for `/readyz`).
    pub async fn ping(&self) -> Result<(), Error> {
        sqlx::query("SELECT 1").execute(&self.read).await.map(|_| ()).map_err(Error::from)
    }

    /// Closes both pools, waiting for connections in use.
    pub async fn close(&self) {
        self.read.close().await;
        self.write.close().await;
    }
}

/// SQLite URLs: create the file when missing (`mode=rwc`) unless the URL says otherwise.
fn sqlite_url(url: &str) -> String {
    if url.contains("mode=") || url.contains(":memory:") {
        url.to_string()
    } else if url.contains('?') {
        format!("{url}&mode=rwc")
    } else {
        format!("{url}?mode=rwc")
    }
}

fn connect_error(e: sqlx::Error) -> String {
    format!("connecting to the database: {e}")
}

/// Now, in microseconds since the epoch (the storage format of timestamps).
pub fn now_micros() -> i64 {
    chrono::Utc::now().timestamp_micros()
}

/// The `updated_at` of a write to a row last updated at `previous`: now, but never earlier than
/// the last write even if the clock stepped back (`Last-Modified` must not go backwards).
pub(crate) fn next_update(previous: i64) -> i64 {
    now_micros().max(previous + 1)
}

/// A write transaction.
pub(crate) type Tx = sqlx::Transaction<'static, sqlx::Any>;

/// A stored timestamp as a date-time.
pub fn timestamp(micros: i64) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::from_timestamp_micros(micros).unwrap_or_default()
}

/// Case-folds a name for uniqueness, search and ordering.
pub fn name_key(name: &str) -> String {
    name.to_lowercase()
}

/// The current version of a row and when it was created: what an ETag is made of, handed to
/// the caller's precondition before a write.
#[derive(Debug, Clone, Copy)]
pub struct Version {
    pub version: i64,
    pub created_at: i64,
}

/// A precondition on the current version of a row (`If-Match`), checked inside the write.
pub type Precondition<'a> = &'a (dyn Fn(Version) -> bool + Send + Sync);

/// Rows that carry a version.
pub(crate) trait Versioned {
    fn version(&self) -> Version;
}

/// The row a write is about to change (`sql` selects it by `$1`; with `select_for_update!` it
/// stays locked for the transaction on PostgreSQL), once the caller's precondition holds for
/// its version: 404 when there is no such row, 412 when the precondition fails.
pub(crate) async fn locked<T>(
    tx: &mut Tx,
    sql: &'static str,
    id: i64,
    what: &'static str,
    precondition: Precondition<'_>,
) -> Result<T, Error>
where
    T: for<'r> sqlx::FromRow<'r, sqlx::any::AnyRow> + Versioned + Send + Unpin,
{
    let current: T =
        sqlx::query_as(sql).bind(id).fetch_optional(&mut **tx).await?.ok_or(Error::NotFound(what))?;
    if !precondition(current.version()) {
        return Err(Error::PreconditionFailed);
    }
    Ok(current)
}

/// The precondition that always holds.
pub fn unconditional(_: Version) -> bool {
    true
}

/// A constraint a statement violated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Violation {
    Unique,
    ForeignKey,
}

pub(crate) fn violation(error: &sqlx::Error) -> Option<Violation> {
    match error {
        sqlx::Error::Database(db) => match db.kind() {
            ErrorKind::UniqueViolation => Some(Violation::Unique),
            ErrorKind::ForeignKeyViolation => Some(Violation::ForeignKey),
            _ => None,
        },
        _ => None,
    }
}

/// Database failures that are not the request's fault: unreachable is 503, the rest 500.
impl From<sqlx::Error> for Error {
    fn from(error: sqlx::Error) -> Self {
        match error {
            sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::WorkerCrashed => Error::Unavailable(error),
            other => Error::internal(other),
        }
    }
}
