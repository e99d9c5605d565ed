//! SQLite, the embedded default: a single-connection write pool (SQLite has one writer anyway;
//! queueing in the pool beats spinning on `SQLITE_BUSY`) and a read pool, in WAL mode.

use std::path::{Path, PathBuf};
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

/// A product's tag names in alphabetical order, as one JSON array, from its links: what a write
/// that changes them stores in `products.tags` (a correlated subquery on `products`). The order
/// comes from an ordered subquery (SQLite aggregates a subquery's rows in the order it yields
/// them): the aggregate's own `ORDER BY` would build an ephemeral table per product.
macro_rules! tag_names {
    () => {
        "(SELECT json_group_array(name) FROM (SELECT t.name FROM product_tags pt \
          JOIN tags t ON t.id = pt.tag_id WHERE pt.product_id = products.id ORDER BY t.name_key))"
    };
}

/// The names of the tags whose keys are the `IN` list written between `(open)` and `(close)`, in
/// the same order and shape as [`tag_names!`]: a new product's `tags`, computed in its `INSERT`.
macro_rules! tag_names_of {
    (open) => {
        "(SELECT json_group_array(name) FROM (SELECT name FROM tags WHERE name_key IN ("
    };
    (close) => {
        ") ORDER BY name_key))"
    };
}

/// The id of the row this connection's last `INSERT` into a table with generated ids made. An
/// `INSERT` into `product_tags`, a `WITHOUT ROWID` table (migrations/sqlite/20261130200001),
/// leaves it alone, so it stays a new product's id while that product's links are inserted.
macro_rules! last_insert_id {
    () => {
        "last_insert_rowid()"
    };
}

/// sqlx runs every statement of a query in one call to the connection's thread: a batch of
/// statements is one query (one hand-off instead of one per statement).
const MANY_STATEMENTS_PER_QUERY: bool = true;

/// Runs `run` on the calling thread with `connection`'s SQLite handle locked away from the
/// connection's own thread: each query made through the function `run` is given (its text and
/// arguments; its rows) goes straight to SQLite, without a round trip to that thread
/// (`LockedSqliteHandle::fetch_all_blocking`, vendor/sqlx-sqlite.patch). The group commit
/// (`sql/group.rs`) runs a whole group this way. It blocks while SQLite works: call it where
/// blocking is allowed (the group commit's own thread, `spawn_blocking`).
fn on_this_thread<R>(
    connection: &mut sqlx::SqliteConnection,
    run: impl FnOnce(&mut sql::Run<'_>) -> R,
) -> Result<R, sqlx::Error> {
    let mut handle = futures::executor::block_on(connection.lock_handle())?;
    Ok(run(&mut |text, arguments| handle.fetch_all_blocking(sqlx::AssertSqlSafe(text), Some(arguments))))
}

// The shared SQL, compiled a second time against this back-end's types: by design.
#[allow(clippy::duplicate_mod)]
#[path = "sql/mod.rs"]
mod sql;

/// The SQLite store.
pub type SqliteStore = sql::SqlStore;

/// What SQLite checks before a write and a readiness probe: that the database's path still
/// names the file the server opened. Deleted or replaced underneath a running server, writes
/// would go into an unlinked file and be lost at the next start.
#[derive(Clone)]
pub(crate) struct Guard {
    path: PathBuf,
    identity: Option<(u64, u64)>,
}

impl Guard {
    fn identity(path: &Path) -> Option<(u64, u64)> {
        use std::os::unix::fs::MetadataExt;
        std::fs::metadata(path).ok().map(|m| (m.dev(), m.ino()))
    }

    fn check(&self) -> Result<(), crate::error::Error> {
        if self.identity.is_some() && Guard::identity(&self.path) != self.identity {
            let gone = std::io::Error::new(
                std::io::ErrorKind::NotFound,
                format!(
                    "the database file {} was deleted or replaced while the server ran",
                    self.path.display()
                ),
            );
            return Err(crate::error::Error::Unavailable(sqlx::Error::Io(gone)));
        }
        Ok(())
    }
}

/// Opens and migrates a database file; creates it when missing, unless `config.no_create` (or
/// the URL's `mode=…`) says otherwise. Refuses a file it cannot write to.
pub async fn connect(url: &str, config: &PoolConfig) -> Result<SqliteStore, String> {
    let options = SqliteConnectOptions::from_str(url)
        .map_err(|e| format!("DATABASE_URL is not a valid SQLite URL: {e}"))?;
    let path = options.get_filename().to_path_buf();
    let in_memory = path.as_os_str().is_empty() || path.as_os_str() == ":memory:";
    if config.no_create && !in_memory && !path.exists() {
        return Err(format!(
            "the database file {} does not exist (STOREFRONT_DB_NO_CREATE, or production: an empty database \
             is not created in its place; run `storefront migrate` without it to create one)",
            path.display()
        ));
    }
    let options =
        sqlx::ConnectOptions::log_slow_statements(options, log::LevelFilter::Warn, config.slow_statement)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(std::time::Duration::from_secs(5))
            .pragma("wal_autocheckpoint", WAL_BACKSTOP_PAGES.to_string());
    // The file is created (when allowed) once, here: a connection the pools open later, after
    // the file was deleted or replaced underneath the server, must not make an empty database
    // in its place (its queries would fail as a bug, "no such table"), but fail as the database
    // being unavailable (503).
    let create = !url.contains("mode=") && !config.no_create;
    if create && !in_memory && !path.exists() {
        use sqlx::{ConnectOptions, Connection};
        let first = options.clone().create_if_missing(true).connect().await.map_err(connect_error)?;
        first.close().await.map_err(connect_error)?;
    }
    let options = options.create_if_missing(in_memory);
    let identity = if in_memory { None } else { Guard::identity(&path) };
    // An embedded database does not drop connections: no ping before each use, nor after (each
    // one is a round trip to the connection's thread; the connection's thread runs its commands
    // in order, so a rollback queued by a dropped transaction runs before the next caller's
    // query anyway). A connection is back in its pool as soon as it is dropped
    // (`test_before_release`: vendor/sqlx-core.patch).
    let pool = |max: u32| {
        let (opened, path) = (identity, path.clone());
        SqlitePoolOptions::new()
            .max_connections(max)
            .acquire_timeout(config.acquire_timeout)
            .test_before_acquire(false)
            .test_before_release(false)
            .after_connect(move |_, _| {
                let replaced = opened.is_some() && Guard::identity(&path) != opened;
                let path = path.clone();
                Box::pin(async move {
                    if replaced {
                        return Err(sqlx::Error::Io(std::io::Error::new(
                            std::io::ErrorKind::NotFound,
                            format!("the database file {} was replaced while the server ran", path.display()),
                        )));
                    }
                    Ok(())
                })
            })
    };
    let writer = options.clone().pragma("cache_size", format!("-{WRITER_CACHE_KIB}"));
    let write = pool(1).connect_with(writer).await.map_err(connect_error)?;
    let read = pool(config.connections(BACKEND)).connect_with(options).await.map_err(connect_error)?;
    sqlx::migrate!("migrations/sqlite")
        .run(&write)
        .await
        .map_err(|e| format!("migrating the database: {e}"))?;
    // A file the server cannot write to would answer every read and fail every write: refuse it.
    let version: i64 =
        sqlx::query_scalar("PRAGMA user_version").fetch_one(&write).await.map_err(connect_error)?;
    sqlx::query(sqlx::AssertSqlSafe(format!("PRAGMA user_version = {version}")))
        .execute(&write)
        .await
        .map_err(|e| {
            format!("the database {} is read-only; Storefront needs to write to it: {e}", path.display())
        })?;
    if !in_memory {
        tokio::spawn(checkpoints(read.clone()));
    }
    Ok(sql::SqlStore::new(read, write, Guard { path, identity }, config.down_acquire_timeout, config.cache))
}

/// The page cache of the write connection, in KiB (SQLite's default, which the read connections
/// keep, is 2,000). Writes touch the pages of the b-trees they change; reads need the pages
/// that lists walk again and again.
const WRITER_CACHE_KIB: u32 = 1_024;

/// How often the WAL is checkpointed in the background ([`checkpoints`]): also the bound on how
/// long a committed write stays only in the WAL, out of the database file, while the server
/// runs (seen by anything that copies the file alone).
const CHECKPOINT_EVERY: std::time::Duration = std::time::Duration::from_millis(200);

/// WAL pages (4 KiB each) past which the connection whose commit takes the WAL there
/// checkpoints it itself, as SQLite does at 1,000 pages by default: a backstop, for when the
/// background checkpoints cannot keep up.
const WAL_BACKSTOP_PAGES: u32 = 10_000;

/// Checkpoints the WAL every [`CHECKPOINT_EVERY`], on a connection of the read pool, until the
/// pool is closed.
///
/// SQLite checkpoints in the connection whose commit takes the WAL past `wal_autocheckpoint`:
/// left to it, the single writer would copy the WAL's pages into the database file and sync it
/// while every write queued behind it waits (with the group commit, every create). `PASSIVE`
/// waits for no reader and no writer and copies what it can, so a checkpoint here holds nobody
/// up. A failure (the database file gone or unwritable) is not logged here, every 200 ms: the
/// writes and `/readyz` report it.
async fn checkpoints(pool: sqlx::SqlitePool) {
    let mut every = tokio::time::interval(CHECKPOINT_EVERY);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        every.tick().await;
        if pool.is_closed() {
            return;
        }
        let _ = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)").execute(&pool).await;
    }
}

fn connect_error(e: sqlx::Error) -> String {
    format!("connecting to the database: {e}")
}
