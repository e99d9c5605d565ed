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

/// Reads run on the request's own thread: short reads without the hand-off to a connection
/// thread and back (two context switches, which cost more than a page of 20 products itself).
///
/// It keeps one [`SqliteBlockingConnection`] per runtime worker (vendor/sqlx-sqlite.patch); a
/// read takes an idle one, or reads through the pool when none is idle. A read may run for
/// `budget` at most: SQLite's progress handler interrupts it past that, and the caller runs it
/// again on the read pool, so a long search or count never holds up the other requests of its
/// runtime thread for longer. A connection whose read fails otherwise is closed (the pool
/// reports the failure), and a new one opened by a later read, unless the database file was
/// replaced meanwhile ([`Guard`]).
pub(crate) struct Inline {
    idle: std::sync::Mutex<Vec<InlineConnection>>,
    /// Connections open, idle or not, and the most there may be.
    open: std::sync::atomic::AtomicUsize,
    max: usize,
    budget: std::time::Duration,
    options: SqliteConnectOptions,
    guard: Guard,
    counts: InlineCounts,
    closed: std::sync::atomic::AtomicBool,
}

/// What the inline reads did (for the metrics and the tests).
#[derive(Default)]
struct InlineCounts {
    done: std::sync::atomic::AtomicU64,
    interrupted: std::sync::atomic::AtomicU64,
    failed: std::sync::atomic::AtomicU64,
}

struct InlineConnection {
    connection: sqlx::sqlite::SqliteBlockingConnection,
    clock: std::sync::Arc<Clock>,
}

/// A connection taken from [`Inline`] (or a place for one, being opened): given back to its idle
/// connections, or else closed and its place freed when dropped (a failed read, a panic, a
/// closed store).
struct Lease<'a> {
    owner: &'a Inline,
    connection: Option<InlineConnection>,
    returned: bool,
}

impl Lease<'_> {
    /// After a read that ended with `rows`: the connection back to the idle ones when it is
    /// sound (the read succeeded, or was interrupted: see [`interrupted`]), else closed.
    fn settle<T>(self, rows: &Result<T, sqlx::Error>) {
        match rows {
            Ok(_) => self.give_back(),
            Err(e) if interrupted(e) => self.give_back(),
            Err(_) => {}
        }
    }

    fn give_back(mut self) {
        if self.owner.closed.load(std::sync::atomic::Ordering::Relaxed) {
            return;
        }
        if let (Some(connection), Ok(mut idle)) = (self.connection.take(), self.owner.idle.lock()) {
            idle.push(connection);
            self.returned = true;
        }
    }
}

impl Drop for Lease<'_> {
    fn drop(&mut self) {
        if !self.returned {
            self.owner.open.fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
        }
    }
}

impl InlineConnection {
    /// The rows of `text` with `arguments`, read within `budget`.
    fn read(
        &mut self,
        budget: std::time::Duration,
        text: &str,
        arguments: Option<sqlx::sqlite::SqliteArguments>,
    ) -> Result<Vec<sqlx::sqlite::SqliteRow>, sqlx::Error> {
        let deadline = self.clock.base.elapsed().saturating_add(budget).as_nanos();
        self.clock
            .deadline
            .store(u64::try_from(deadline).unwrap_or(u64::MAX), std::sync::atomic::Ordering::Relaxed);
        self.connection.fetch_all(sqlx::AssertSqlSafe(text), arguments)
    }
}

/// When the read under way must stop, for the progress handler of one connection; the
/// handler runs on the thread that reads, so a relaxed atomic suffices.
struct Clock {
    base: std::time::Instant,
    /// Nanoseconds after `base`.
    deadline: std::sync::atomic::AtomicU64,
}

/// Whether `e` leaves its connection sound: `SQLITE_INTERRUPT` (only the progress handler
/// interrupts these connections: the budget), `SQLITE_BUSY` or `SQLITE_LOCKED` (a lock held by
/// another connection), any extended code.
fn interrupted(e: &sqlx::Error) -> bool {
    let code = e.as_database_error().and_then(|e| e.code()).and_then(|code| code.parse::<i32>().ok());
    matches!(code.map(|code| code & 0xff), Some(5 | 6 | 9))
}

/// SQLite virtual-machine instructions between two calls of the progress handler: a call
/// reads the clock (tens of nanoseconds), every few microseconds of work.
const PROGRESS_EVERY_OPS: i32 = 1_000;

impl Inline {
    fn new(options: SqliteConnectOptions, guard: Guard, budget: std::time::Duration) -> Option<Inline> {
        // Off when asked, and in memory: there each connection would be a database of its own.
        if budget.is_zero() || guard.identity.is_none() {
            return None;
        }
        // One per worker thread of the runtime: a thread reads inline once at a time.
        let max = tokio::runtime::Handle::try_current().map_or(1, |h| h.metrics().num_workers()).max(1);
        // Never wait for a lock on a runtime thread: busy, a read goes to the pool.
        let options = options.busy_timeout(std::time::Duration::ZERO);
        Some(Inline {
            idle: std::sync::Mutex::new(Vec::with_capacity(max)),
            open: Default::default(),
            max,
            budget,
            options,
            guard,
            counts: InlineCounts::default(),
            closed: Default::default(),
        })
    }

    /// The rows of `text` with `arguments`, read on this thread; `None` when the caller must
    /// read through the pool (no connection idle, or the read ran past the budget or failed).
    pub(crate) fn fetch_all(
        &self,
        text: &str,
        arguments: impl FnOnce() -> Result<sqlx::sqlite::SqliteArguments, sqlx::Error>,
    ) -> Option<Vec<sqlx::sqlite::SqliteRow>> {
        use std::sync::atomic::Ordering::Relaxed;
        let mut lease = self.take()?;
        let Ok(arguments) = arguments() else {
            lease.give_back();
            return None;
        };
        let rows = lease.connection.as_mut()?.read(self.budget, text, Some(arguments));
        lease.settle(&rows);
        match rows {
            Ok(rows) => {
                self.counts.done.fetch_add(1, Relaxed);
                Some(rows)
            }
            // Past the budget, or a lock held by another connection: the connection is sound;
            // the pool waits, with SQLite's busy handler, off this thread.
            Err(e) if interrupted(&e) => {
                self.counts.interrupted.fetch_add(1, Relaxed);
                None
            }
            // The lease closed the connection.
            Err(_) => {
                self.counts.failed.fetch_add(1, Relaxed);
                None
            }
        }
    }

    /// An idle connection, or a new one when fewer than `max` are open.
    fn take(&self) -> Option<Lease<'_>> {
        use std::sync::atomic::Ordering::Relaxed;
        if self.closed.load(Relaxed) {
            return None;
        }
        if let Some(inline) = self.idle.lock().ok()?.pop() {
            return Some(Lease { owner: self, connection: Some(inline), returned: false });
        }
        if self.open.fetch_add(1, Relaxed) >= self.max {
            self.open.fetch_sub(1, Relaxed);
            return None;
        }
        // Counted from here: dropped without a connection, the lease gives the place back.
        let mut lease = Lease { owner: self, connection: None, returned: false };
        lease.connection = Some(self.guard.check().ok().and_then(|()| self.open_one())?);
        Some(lease)
    }

    fn open_one(&self) -> Option<InlineConnection> {
        let mut connection = sqlx::sqlite::SqliteBlockingConnection::open(&self.options).ok()?;
        let clock =
            std::sync::Arc::new(Clock { base: std::time::Instant::now(), deadline: Default::default() });
        let handler = clock.clone();
        connection.set_progress_handler(PROGRESS_EVERY_OPS, move || {
            let now = u64::try_from(handler.base.elapsed().as_nanos()).unwrap_or(u64::MAX);
            now <= handler.deadline.load(std::sync::atomic::Ordering::Relaxed)
        });
        Some(InlineConnection { connection, clock })
    }

    /// Begins and ends a read on each idle connection: see [`drop_stale_pages`]. Reads that find
    /// no idle connection meanwhile go through the pool.
    fn drop_stale_pages(&self) {
        let Ok(idle) = self.idle.lock().map(|mut idle| std::mem::take(&mut *idle)) else { return };
        for connection in idle {
            let mut lease = Lease { owner: self, connection: Some(connection), returned: false };
            if let Some(inline) = lease.connection.as_mut() {
                let rows = inline.read(self.budget, STALE_PAGES_CHECK, None);
                lease.settle(&rows);
            }
        }
    }

    /// Closes the idle connections; reads from now on go through the pool.
    fn close(&self) {
        self.closed.store(true, std::sync::atomic::Ordering::Relaxed);
        if let Ok(mut idle) = self.idle.lock() {
            self.open.fetch_sub(idle.len(), std::sync::atomic::Ordering::Relaxed);
            idle.clear();
        }
    }

    /// How many reads ran inline, were interrupted (the budget, a lock), and failed otherwise.
    pub(crate) fn counts(&self) -> crate::store::InlineReads {
        use std::sync::atomic::Ordering::Relaxed;
        crate::store::InlineReads {
            done: self.counts.done.load(Relaxed),
            interrupted: self.counts.interrupted.load(Relaxed),
            failed: self.counts.failed.load(Relaxed),
        }
    }
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
    let read =
        pool(config.connections(BACKEND)).connect_with(options.clone()).await.map_err(connect_error)?;
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
    let guard = Guard { path, identity };
    let inline = Inline::new(options, guard.clone(), config.inline_read_budget).map(std::sync::Arc::new);
    if !in_memory {
        tokio::spawn(checkpoints(read.clone(), inline.clone()));
    }
    Ok(sql::SqlStore::new(read, write, guard, inline, config.down_acquire_timeout, config.cache))
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
///
/// When the WAL has grown or been restarted since the last tick (a commit, by this process or
/// another), the idle read connections drop the pages that commit made stale
/// ([`drop_stale_pages`]).
async fn checkpoints(pool: sqlx::SqlitePool, inline: Option<std::sync::Arc<Inline>>) {
    let mut every = tokio::time::interval(CHECKPOINT_EVERY);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last = None;
    loop {
        every.tick().await;
        if pool.is_closed() {
            return;
        }
        // (busy, frames in the WAL, frames copied into the database file)
        let wal =
            sqlx::query_as::<_, (i64, i64, i64)>("PRAGMA wal_checkpoint(PASSIVE)").fetch_one(&pool).await;
        let frames = wal.ok().map(|(_, frames, _)| frames);
        if frames.is_some() && frames != last {
            drop_stale_pages(&pool, inline.as_deref()).await;
        }
        last = frames;
    }
}

/// Begins and ends a read on each idle read connection, inline ones included. SQLite empties a
/// connection's page cache when it begins a read after another connection's commit (the pages
/// may have changed); a connection left idle after the commit would hold those pages, up to
/// its `cache_size` (2 MB), until its next read. Here they are freed at once, for the writes
/// to use: about 2 MB per connection that read a list before a run of writes. A connection
/// whose pages are still current keeps them: the read only takes and releases WAL locks.
async fn drop_stale_pages(pool: &sqlx::SqlitePool, inline: Option<&Inline>) {
    let mut idle = Vec::new();
    while idle.len() < pool.size() as usize {
        let Some(connection) = pool.try_acquire() else { break };
        idle.push(connection);
    }
    for connection in &mut idle {
        let _ = sqlx::query(STALE_PAGES_CHECK).execute(&mut **connection).await;
    }
    drop(idle);
    if let Some(inline) = inline {
        inline.drop_stale_pages();
    }
}

/// A read of the schema cookie on page 1: it opens a read transaction (which drops the stale
/// pages) and reads one page.
const STALE_PAGES_CHECK: &str = "PRAGMA schema_version";

fn connect_error(e: sqlx::Error) -> String {
    format!("connecting to the database: {e}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{InlineReads, Store};

    /// A migrated database in `dir`, its store reading inline with `budget`.
    async fn store(dir: &Path, budget: std::time::Duration) -> (SqliteStore, String) {
        let url = format!("sqlite://{}", dir.join("inline.db").display());
        let config = PoolConfig { inline_read_budget: budget, ..PoolConfig::default() };
        (connect(&url, &config).await.expect("connect"), url)
    }

    fn inline(url: &str, budget: std::time::Duration) -> Inline {
        let options = SqliteConnectOptions::from_str(url).expect("url");
        let path = options.get_filename().to_path_buf();
        let guard = Guard { identity: Guard::identity(&path), path };
        Inline::new(options, guard, budget).expect("inline reads are on")
    }

    /// Counts to `n` in SQL: a read whose length the test chooses.
    fn count_to(n: i64) -> String {
        format!("WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < {n}) SELECT count(*) FROM c")
    }

    fn no_arguments() -> Result<sqlx::sqlite::SqliteArguments, sqlx::Error> {
        Ok(Default::default())
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_short_read_runs_inline_and_a_long_one_is_interrupted_past_its_budget() {
        let dir = tempfile::tempdir().unwrap();
        let (_store, url) = store(dir.path(), std::time::Duration::from_millis(1)).await;
        let inline = inline(&url, std::time::Duration::from_millis(5));

        let rows = inline.fetch_all(&count_to(10), no_arguments).expect("a short read runs inline");
        assert_eq!(sqlx::Row::get::<i64, _>(&rows[0], 0), 10);

        // A hundred million rows would take seconds: the budget stops it.
        assert!(inline.fetch_all(&count_to(100_000_000), no_arguments).is_none());
        assert_eq!(inline.counts(), InlineReads { done: 1, interrupted: 1, failed: 0 });

        // The connection survives an interruption, with a fresh budget.
        let rows = inline.fetch_all(&count_to(1_000), no_arguments).expect("read inline again");
        assert_eq!(sqlx::Row::get::<i64, _>(&rows[0], 0), 1_000);
        assert_eq!(inline.open.load(std::sync::atomic::Ordering::Relaxed), 1);

        // Closed (the store's `close`), it closes its connections and reads no more.
        inline.close();
        assert_eq!(inline.open.load(std::sync::atomic::Ordering::Relaxed), 0);
        assert!(inline.fetch_all(&count_to(10), no_arguments).is_none());
        assert_eq!(inline.counts(), InlineReads { done: 2, interrupted: 1, failed: 0 });
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_failed_read_closes_its_connection_and_none_opens_on_a_replaced_file() {
        let dir = tempfile::tempdir().unwrap();
        let (_store, url) = store(dir.path(), std::time::Duration::from_millis(1)).await;
        let inline = inline(&url, std::time::Duration::from_millis(5));

        assert!(inline.fetch_all("SELECT * FROM no_such_table", no_arguments).is_none());
        assert_eq!(inline.counts(), InlineReads { done: 0, interrupted: 0, failed: 1 });
        assert_eq!(inline.open.load(std::sync::atomic::Ordering::Relaxed), 0);

        // A later read opens a new connection.
        assert!(inline.fetch_all("SELECT 1", no_arguments).is_some());
        // Closed again by a failure, it is not reopened on a file that replaced the database.
        assert!(inline.fetch_all("SELECT * FROM no_such_table", no_arguments).is_none());
        let path = dir.path().join("inline.db");
        std::fs::remove_file(&path).unwrap();
        std::fs::write(&path, b"").unwrap();
        assert!(inline.fetch_all("SELECT 1", no_arguments).is_none());
        assert_eq!(inline.counts(), InlineReads { done: 1, interrupted: 0, failed: 2 });
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_read_that_would_wait_for_a_lock_goes_to_the_pool_at_once() {
        let dir = tempfile::tempdir().unwrap();
        // A rollback journal, where a writer's exclusive lock keeps readers out (WAL readers
        // almost never wait).
        let path = dir.path().join("journal.db");
        let options = SqliteConnectOptions::new()
            .filename(&path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Delete)
            .busy_timeout(std::time::Duration::from_secs(5));
        let mut other = sqlx::sqlite::SqliteBlockingConnection::open(&options).unwrap();
        other
            .fetch_all(sqlx::AssertSqlSafe("CREATE TABLE t (x INTEGER); INSERT INTO t VALUES (1)"), None)
            .unwrap();
        let guard = Guard { identity: Guard::identity(&path), path };
        let inline = Inline::new(options, guard, std::time::Duration::from_millis(5)).unwrap();
        assert!(inline.fetch_all("SELECT x FROM t", no_arguments).is_some());

        other.fetch_all(sqlx::AssertSqlSafe("BEGIN EXCLUSIVE"), None).unwrap();
        let started = std::time::Instant::now();
        assert!(inline.fetch_all("SELECT x FROM t", no_arguments).is_none());
        // Not the options' 5 s busy timeout: inline, the busy handler is off.
        assert!(started.elapsed() < std::time::Duration::from_millis(2_500), "{:?}", started.elapsed());
        assert_eq!(inline.counts(), InlineReads { done: 1, interrupted: 1, failed: 0 });

        // The connection is kept, and reads once the lock is gone.
        other.fetch_all(sqlx::AssertSqlSafe("COMMIT"), None).unwrap();
        assert!(inline.fetch_all("SELECT x FROM t", no_arguments).is_some());
        assert_eq!(inline.open.load(std::sync::atomic::Ordering::Relaxed), 1);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn reads_past_the_budget_are_answered_by_the_read_pool() {
        use crate::store::CatalogStore;
        let dir = tempfile::tempdir().unwrap();
        // One microsecond: every read long enough to call the progress handler is interrupted.
        let (store, _) = store(dir.path(), std::time::Duration::from_micros(1)).await;
        let category = store.category_create("Things").await.expect("a category");
        let names: Vec<String> = (0..300).map(|i| format!("Product {i}")).collect();
        for (i, name) in names.iter().enumerate() {
            let new = crate::domain::NewProduct {
                name: name.clone(),
                description: String::new(),
                price_cents: 100,
                stock: 1,
                category_id: category.id,
                tags: vec![format!("tag {}", i % 3)],
            };
            store.product_create(&new).await.expect("create");
        }
        // A search scans the catalog: long enough for the progress handler to run.
        let filter = crate::domain::ProductFilter { q: Some("product 2".into()), ..Default::default() };
        let matching: Vec<&String> = names.iter().filter(|name| name.starts_with("Product 2")).collect();
        let page = store
            .products(
                &filter,
                crate::domain::ProductSort { key: crate::domain::SortKey::Id, descending: false },
                &crate::domain::Start::Offset(10),
                20,
            )
            .await
            .expect("a page");
        assert_eq!(page.total, Some(matching.len() as i64));
        let found: Vec<&String> = page.items.iter().map(|p| &p.name).collect();
        assert_eq!(found, matching[10..30]);
        assert!(store.inline_reads().interrupted > 0, "{:?}", store.inline_reads());
    }

    /// The bytes of page cache `db` holds.
    fn cache_used(db: std::ptr::NonNull<libsqlite3_sys::sqlite3>) -> i32 {
        let (mut current, mut highest) = (0, 0);
        // SAFETY: `db` is an open connection, used by this thread alone for the call.
        let rc = unsafe {
            libsqlite3_sys::sqlite3_db_status(
                db.as_ptr(),
                libsqlite3_sys::SQLITE_DBSTATUS_CACHE_USED,
                &mut current,
                &mut highest,
                0,
            )
        };
        assert_eq!(rc, libsqlite3_sys::SQLITE_OK);
        current
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn idle_read_connections_free_the_pages_a_commit_made_stale_and_keep_current_ones() {
        let dir = tempfile::tempdir().unwrap();
        let (store, url) = store(dir.path(), std::time::Duration::from_secs(1)).await;
        store.close().await;
        let options = SqliteConnectOptions::from_str(&url).unwrap();
        let mut writer = sqlx::sqlite::SqliteBlockingConnection::open(&options).unwrap();
        // About 1.2 MB of pages.
        let fill = "CREATE TABLE t (x BLOB); INSERT INTO t SELECT randomblob(100) FROM \
                    (WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM c WHERE n < 10000) \
                    SELECT n FROM c)";
        writer.fetch_all(sqlx::AssertSqlSafe(fill), None).unwrap();
        let scan = "SELECT count(*), sum(length(x)) FROM t";
        let pool = SqlitePoolOptions::new()
            .max_connections(2)
            .test_before_release(false)
            .connect_with(options)
            .await
            .unwrap();
        let inline = inline(&url, std::time::Duration::from_secs(1));
        // Both pool connections and the inline one read the table.
        let (mut first, mut second) = (pool.acquire().await.unwrap(), pool.acquire().await.unwrap());
        for connection in [&mut first, &mut second] {
            sqlx::query(scan).execute(&mut **connection).await.unwrap();
        }
        drop((first, second));
        assert!(inline.fetch_all(scan, no_arguments).is_some());
        let cached = async || {
            let mut pooled = Vec::new();
            let mut held = Vec::new();
            while let Some(mut connection) = pool.try_acquire() {
                pooled.push(cache_used(connection.lock_handle().await.unwrap().as_raw_handle()));
                held.push(connection);
            }
            let idle: Vec<i32> = inline
                .idle
                .lock()
                .unwrap()
                .iter_mut()
                .map(|c| cache_used(c.connection.as_raw_handle()))
                .collect();
            (pooled, idle)
        };
        let (pooled, idle) = cached().await;
        assert_eq!(pooled.len(), 2);
        assert!(pooled.iter().chain(&idle).all(|&bytes| bytes > 1_000_000), "{pooled:?} {idle:?}");

        // Nothing written since: the pages stay.
        drop_stale_pages(&pool, Some(&inline)).await;
        assert_eq!(cached().await, (pooled, idle));

        // A commit by another connection: the stale pages go, the connections stay.
        writer.fetch_all(sqlx::AssertSqlSafe("INSERT INTO t VALUES (x'00')"), None).unwrap();
        drop_stale_pages(&pool, Some(&inline)).await;
        let (pooled, idle) = cached().await;
        assert_eq!((pooled.len(), idle.len()), (2, 1));
        assert!(pooled.iter().chain(&idle).all(|&bytes| bytes < 100_000), "{pooled:?} {idle:?}");
        assert_eq!(inline.open.load(std::sync::atomic::Ordering::Relaxed), 1);
        assert!(inline.fetch_all(scan, no_arguments).is_some());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn with_no_budget_every_read_goes_through_the_pool() {
        use crate::store::CatalogStore;
        let dir = tempfile::tempdir().unwrap();
        let (store, _) = store(dir.path(), std::time::Duration::ZERO).await;
        assert!(matches!(store.product(1).await, Err(crate::error::Error::NotFound("product"))));
        assert_eq!(store.inline_reads(), InlineReads::default());
    }
}
