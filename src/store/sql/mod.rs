//! The SQL both back-ends share, compiled once per back-end.
//!
//! `store/sqlite.rs` and `store/postgres.rs` each include this module tree (`#[path]`), after
//! defining `Db` (their sqlx database), `BACKEND`, `MANY_STATEMENTS_PER_QUERY` and the
//! `for_update!`, `tag_names!`, `tag_names_of!` and `last_insert_id!` macros; so this code is
//! plain, non-generic sqlx against one concrete database at a time. Statements use `$n`
//! placeholders, which both understand, and portable types (BIGINT ids, cents and microsecond
//! timestamps, TEXT).

mod accounts;
mod catalog;
mod customers;
mod group;
mod idempotency;
mod orders;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::pool::PoolConnection;

use super::{on_this_thread, Backend, Db, Guard, Inline, BACKEND, MANY_STATEMENTS_PER_QUERY};
use crate::domain::{Check, Id, Page, Start};
use crate::error::Error;
use crate::store::cache::{
    CacheConfig, Generation, ProductCache, SessionCache, Written, SESSIONS, SWEEP_EVERY,
};
use crate::store::Store;

/// The pools of one database: reads, and writes (the same pool on PostgreSQL; one connection on
/// SQLite, whose single writer would make others wait anyway).
pub struct SqlStore {
    read: sqlx::Pool<Db>,
    write: sqlx::Pool<Db>,
    /// Where the database has a single writer (SQLite): the task that commits the catalog's
    /// creates in groups (see `group`).
    group: Option<group::Group>,
    health: Arc<Health>,
    /// What the back-end checks before a write and a readiness probe (SQLite: that the path
    /// still names the file the server opened).
    guard: Guard,
    /// Where reads can run on the request's own thread (SQLite; see [`SqlStore::fetch_all`]).
    inline: Option<Arc<Inline>>,
    /// Moved on by every write this process makes ([`Writer`], [`Tx`]).
    generation: Generation,
    /// Products read by id, valid while `generation` has not moved (see `store::cache`).
    products: Arc<ProductCache>,
    /// Moved on by every write this process makes that may change an account or end a login:
    /// all but the catalog's ([`SqlStore::catalog_writer`], [`SqlStore::catalog_begin`]).
    accounts: Generation,
    /// The callers of authenticated requests, valid while `accounts` has not moved.
    sessions: Arc<SessionCache>,
}

/// Every [`SWEEP_EVERY`], drops what the caches can no longer serve and no reader has replaced
/// within a period (`Cache::drop_stale`), until the store is gone.
async fn sweep(
    products: std::sync::Weak<ProductCache>,
    generation: Generation,
    sessions: std::sync::Weak<SessionCache>,
    accounts: Generation,
) {
    let mut every = tokio::time::interval(SWEEP_EVERY);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        every.tick().await;
        let (Some(products), Some(sessions)) = (products.upgrade(), sessions.upgrade()) else { return };
        products.drop_stale(generation.current(), SWEEP_EVERY);
        sessions.drop_stale(accounts.current(), SWEEP_EVERY);
    }
}

/// Whether the database is known to be unreachable (the last attempt to reach it failed): then
/// a request waits only a short while for a connection, so that clients learn it at once.
struct Health {
    down: AtomicBool,
    short: Duration,
}

impl SqlStore {
    pub(super) fn new(
        read: sqlx::Pool<Db>,
        write: sqlx::Pool<Db>,
        guard: Guard,
        inline: Option<Arc<Inline>>,
        down_acquire_timeout: Duration,
        cache: CacheConfig,
    ) -> SqlStore {
        let health = Arc::new(Health { down: AtomicBool::new(false), short: down_acquire_timeout });
        let generation = Generation::default();
        let group = MANY_STATEMENTS_PER_QUERY
            .then(|| group::Group::start(write.clone(), health.clone(), guard.clone(), generation.clone()));
        let products = Arc::new(ProductCache::new(cache.entries, cache.ttl));
        let accounts = Generation::default();
        let sessions = Arc::new(SessionCache::new(cache.entries.min(SESSIONS), cache.ttl));
        if cache.entries > 0 {
            tokio::spawn(sweep(
                Arc::downgrade(&products),
                generation.clone(),
                Arc::downgrade(&sessions),
                accounts.clone(),
            ));
        }
        SqlStore { read, write, group, health, guard, inline, generation, products, accounts, sessions }
    }

    /// A connection from `pool` (see [`acquire`]).
    async fn acquire(&self, pool: &sqlx::Pool<Db>) -> Result<PoolConnection<Db>, Error> {
        Ok(acquire(&self.health, pool).await?)
    }

    /// A connection for reads.
    async fn reader(&self) -> Result<PoolConnection<Db>, Error> {
        self.acquire(&self.read).await
    }

    /// The rows of the read `text` with `args` bound to its placeholders, as `T`: read on the
    /// request's own thread where the back-end can and the read is short (SQLite's `Inline`),
    /// else through a connection of the read pool.
    async fn fetch_all<T>(&self, text: &str, args: &[Arg]) -> Result<Vec<T>, Error>
    where
        T: for<'r> sqlx::FromRow<'r, <Db as sqlx::Database>::Row> + Send + Unpin,
    {
        if let Some(rows) = self.inline.as_ref().and_then(|inline| inline.fetch_all(text, || arguments(args)))
        {
            return Ok(rows.iter().map(T::from_row).collect::<Result<Vec<T>, sqlx::Error>>()?);
        }
        Ok(query_as(text, args).fetch_all(&mut *self.reader().await?).await?)
    }

    /// The first row of the read `text` with `args`, if any (see [`SqlStore::fetch_all`]).
    async fn fetch_optional<T>(&self, text: &str, args: &[Arg]) -> Result<Option<T>, Error>
    where
        T: for<'r> sqlx::FromRow<'r, <Db as sqlx::Database>::Row> + Send + Unpin,
    {
        Ok(self.fetch_all(text, args).await?.into_iter().next())
    }

    /// The first row of the read `text` with `args`; an error when there is none (see
    /// [`SqlStore::fetch_all`]).
    async fn fetch_one<T>(&self, text: &str, args: &[Arg]) -> Result<T, Error>
    where
        T: for<'r> sqlx::FromRow<'r, <Db as sqlx::Database>::Row> + Send + Unpin,
    {
        Ok(self.fetch_optional(text, args).await?.ok_or(sqlx::Error::RowNotFound)?)
    }

    /// A connection for writes, once the back-end's guard allows them; when it is released,
    /// the caches' generations move on.
    async fn writer(&self) -> Result<Writer, Error> {
        self.write_connection(Some(self.accounts.write())).await
    }

    /// A connection for a write to the catalog (categories, products, tags), which changes no
    /// account and ends no login: the product cache's generation moves on, not the sessions'.
    async fn catalog_writer(&self) -> Result<Writer, Error> {
        self.write_connection(None).await
    }

    /// A write connection that moves the product cache's generation on when released, and the
    /// sessions' with `accounts`.
    async fn write_connection(&self, accounts: Option<Written>) -> Result<Writer, Error> {
        let written = self.generation.write();
        Ok(Tracked { inner: self.counters().await?, _written: written, _accounts: accounts })
    }

    /// A connection of the write pool for what the caches do not depend on (the rate limits'
    /// counters): it leaves their generations alone.
    async fn counters(&self) -> Result<PoolConnection<Db>, Error> {
        self.guard.check()?;
        self.acquire(&self.write).await
    }

    /// A write transaction; when it is over, the caches' generations move on.
    async fn begin(&self) -> Result<Tx, Error> {
        self.writer().await?.begin().await
    }

    /// A write transaction on the catalog (see [`SqlStore::catalog_writer`]).
    async fn catalog_begin(&self) -> Result<Tx, Error> {
        self.catalog_writer().await?.begin().await
    }

    /// Runs `batch` as one write transaction on the catalog (see [`SqlStore::catalog_writer`])
    /// and returns its rows, as [`Batch::run`] does; `failed` says what a failed statement means.
    ///
    /// Where a batch is one query (SQLite), it goes to the task that commits writes in groups
    /// (see `group`): alone, `BEGIN IMMEDIATE; …; COMMIT` in one hand-off to the connection's
    /// thread; with the writes that arrived while the previous group was written, in one
    /// transaction, each in its own savepoint. Elsewhere the batch runs inside an ordinary
    /// transaction of its own.
    async fn catalog_transaction<T>(
        &self,
        batch: Batch,
        failed: fn(sqlx::Error) -> Error,
    ) -> Result<Vec<T>, Error>
    where
        T: for<'r> sqlx::FromRow<'r, <Db as sqlx::Database>::Row> + Send + Unpin,
    {
        let Some(group) = &self.group else {
            let mut tx = self.catalog_begin().await?;
            let rows = batch.run(&mut tx).await.map_err(failed)?;
            tx.commit().await?;
            return Ok(rows);
        };
        // One query: `Batch::then` has kept every statement in `current`.
        let Some(statements) = batch.current else { return Ok(Vec::new()) };
        let rows = group.write(statements).await.map_err(|failure| match failure {
            group::Failed::Own(e) => failed(e),
            group::Failed::Group(e) => e,
        })?;
        Ok(rows.iter().map(T::from_row).collect::<Result<Vec<T>, sqlx::Error>>()?)
    }

    /// Whether writes to the catalog go through the group committer (see `group`).
    fn grouped(&self) -> bool {
        self.group.is_some()
    }
}

/// A connection from `pool`; with the database known to be down (`health`), after a short wait
/// at most.
async fn acquire(health: &Health, pool: &sqlx::Pool<Db>) -> Result<PoolConnection<Db>, sqlx::Error> {
    let acquired = if health.down.load(Ordering::Relaxed) {
        match tokio::time::timeout(health.short, pool.acquire()).await {
            Ok(result) => result,
            Err(_) => Err(sqlx::Error::PoolTimedOut),
        }
    } else {
        pool.acquire().await
    };
    match &acquired {
        Ok(_) => health.down.store(false, Ordering::Relaxed),
        Err(e) if crate::store::is_unavailable(e) => health.down.store(true, Ordering::Relaxed),
        Err(_) => {}
    }
    acquired
}

/// A write connection or transaction (`C`) with the guards that move the caches' generations on
/// when it is dropped: after the write is over (released, committed or rolled back), by the
/// field order.
struct Tracked<C> {
    inner: C,
    _written: Written,
    _accounts: Option<Written>,
}

/// A write connection that may be inside a transaction begun by SQL text (not by sqlx, which
/// would roll it back itself): unless the transaction is known to be over when this is dropped,
/// the connection is closed rather than returned to the pool.
struct OpenTransaction<'c> {
    connection: &'c mut PoolConnection<Db>,
    over: bool,
}

impl Drop for OpenTransaction<'_> {
    fn drop(&mut self) {
        if !self.over {
            self.connection.close_on_drop();
        }
    }
}

/// A write connection.
type Writer = Tracked<PoolConnection<Db>>;

/// A write transaction.
type Tx = Tracked<sqlx::Transaction<'static, Db>>;

impl Writer {
    /// A transaction on this connection, with its generations' guards.
    async fn begin(self) -> Result<Tx, Error> {
        let Tracked { inner, _written, _accounts } = self;
        Ok(Tracked { inner: sqlx::Transaction::begin(inner, None).await?, _written, _accounts })
    }
}

impl Tx {
    async fn commit(self) -> Result<(), sqlx::Error> {
        self.inner.commit().await
    }

    async fn rollback(self) -> Result<(), sqlx::Error> {
        self.inner.rollback().await
    }
}

impl<C: std::ops::DerefMut<Target = <Db as sqlx::Database>::Connection>> std::ops::Deref for Tracked<C> {
    type Target = <Db as sqlx::Database>::Connection;
    fn deref(&self) -> &Self::Target {
        &self.inner
    }
}

impl<C: std::ops::DerefMut<Target = <Db as sqlx::Database>::Connection>> std::ops::DerefMut for Tracked<C> {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.inner
    }
}

impl std::fmt::Debug for SqlStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqlStore").field("backend", &BACKEND).finish_non_exhaustive()
    }
}

#[async_trait]
impl Store for SqlStore {
    fn backend(&self) -> Backend {
        BACKEND
    }

    async fn ping(&self) -> Result<(), Error> {
        self.guard.check()?;
        sqlx::query("SELECT 1").execute(&mut *self.reader().await?).await?;
        Ok(())
    }

    async fn rate_limit_add(&self, key: &str, window_start: i64, hits: u64) -> Result<u64, Error> {
        let (count,): (i64,) = sqlx::query_as(
            "INSERT INTO rate_limit_counters (key, window_start, count) VALUES ($1, $2, $3) \
             ON CONFLICT (key, window_start) DO UPDATE SET count = rate_limit_counters.count + excluded.count \
             RETURNING count",
        )
        .bind(key)
        .bind(window_start)
        .bind(i64::try_from(hits).unwrap_or(i64::MAX))
        .fetch_one(&mut *self.counters().await?)
        .await?;
        Ok(u64::try_from(count).unwrap_or(u64::MAX))
    }

    async fn rate_limit_member(&self, key: &str, window_start: i64, member: &str) -> Result<u64, Error> {
        sqlx::query(
            "INSERT INTO rate_limit_members (key, window_start, member) VALUES ($1, $2, $3) \
             ON CONFLICT (key, window_start, member) DO NOTHING",
        )
        .bind(key)
        .bind(window_start)
        .bind(member)
        .execute(&mut *self.counters().await?)
        .await?;
        self.rate_limit_members(key, window_start).await
    }

    async fn rate_limit_members(&self, key: &str, window_start: i64) -> Result<u64, Error> {
        let count: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM rate_limit_members WHERE key = $1 AND window_start = $2",
        )
        .bind(key)
        .bind(window_start)
        .fetch_one(&mut *self.counters().await?)
        .await?;
        Ok(u64::try_from(count).unwrap_or(u64::MAX))
    }

    async fn rate_limit_prune(&self, horizon: i64) -> Result<(), Error> {
        sqlx::query("DELETE FROM rate_limit_members WHERE window_start < $1")
            .bind(horizon)
            .execute(&mut *self.counters().await?)
            .await?;
        sqlx::query("DELETE FROM rate_limit_counters WHERE window_start < $1")
            .bind(horizon)
            .execute(&mut *self.counters().await?)
            .await?;
        Ok(())
    }

    async fn rekey_names(&self) -> Result<Vec<String>, Error> {
        const NAME: &str = "name-keys-nfkc-casefold";
        let mut tx = self.begin().await?;
        let done: Option<String> = sqlx::query_scalar("SELECT name FROM data_migrations WHERE name = $1")
            .bind(NAME)
            .fetch_optional(&mut *tx)
            .await?;
        if done.is_some() {
            return Ok(Vec::new());
        }
        let mut kept = Vec::new();
        // Audited: the table and column names are from this list, never from a request.
        for (table, source, key) in [
            ("categories", "name", "name_key"),
            ("tags", "name", "name_key"),
            ("products", "name", "name_key"),
            ("users", "username", "username_key"),
            ("users", "email", "email_key"),
        ] {
            let rows: Vec<(i64, String, String)> =
                sqlx::query_as(sqlx::AssertSqlSafe(format!("SELECT id, {source}, {key} FROM {table}")))
                    .fetch_all(&mut *tx)
                    .await?;
            for (id, value, stored) in rows {
                let wanted = crate::names::key(&value);
                if wanted == stored {
                    continue;
                }
                // A savepoint per row: a collision keeps that row's old key, not the others'.
                let mut savepoint = sqlx::Acquire::begin(&mut *tx).await?;
                let updated =
                    sqlx::query(sqlx::AssertSqlSafe(format!("UPDATE {table} SET {key} = $1 WHERE id = $2")))
                        .bind(&wanted)
                        .bind(id)
                        .execute(&mut *savepoint)
                        .await;
                match updated {
                    Ok(_) => savepoint.commit().await?,
                    Err(e) if crate::store::violation(&e) == Some(crate::store::Violation::Unique) => {
                        savepoint.rollback().await?;
                        kept.push(format!("{table}.{id}"));
                    }
                    Err(e) => return Err(e.into()),
                }
            }
        }
        sqlx::query("INSERT INTO data_migrations (name, ran_at) VALUES ($1, $2)")
            .bind(NAME)
            .bind(crate::store::now_micros())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(kept)
    }

    async fn close(&self) {
        if let Some(inline) = &self.inline {
            inline.close();
        }
        self.read.close().await;
        self.write.close().await;
    }

    fn grouped_writes(&self) -> crate::store::GroupedWrites {
        self.group.as_ref().map(group::Group::made).unwrap_or_default()
    }

    fn inline_reads(&self) -> crate::store::InlineReads {
        self.inline.as_ref().map(|inline| inline.counts()).unwrap_or_default()
    }

    fn pools(&self) -> Vec<crate::store::PoolStats> {
        let stats = |name, pool: &sqlx::Pool<Db>| crate::store::PoolStats {
            name,
            size: pool.size(),
            idle: pool.num_idle(),
            max: pool.options().get_max_connections(),
        };
        match BACKEND {
            // One pool serves reads and writes.
            Backend::Postgres => vec![stats("main", &self.read)],
            Backend::Sqlite => vec![stats("read", &self.read), stats("write", &self.write)],
        }
    }
}

/// The row a write is about to change (`sql` selects it by `$1`; with `for_update!` it stays
/// locked for the transaction on PostgreSQL), once `check` passes for it: 404 when there is no
/// such row.
async fn locked<T>(
    tx: &mut Tx,
    sql: &'static str,
    id: Id,
    what: &'static str,
    check: Check<'_, T>,
) -> Result<T, Error>
where
    T: for<'r> sqlx::FromRow<'r, <Db as sqlx::Database>::Row> + Send + Unpin,
{
    let current: T =
        sqlx::query_as(sql).bind(id).fetch_optional(&mut **tx).await?.ok_or(Error::NotFound(what))?;
    check(&current)?;
    Ok(current)
}

/// A page of rows of `table` in id order: the shared keyset/offset logic of id-ordered lists.
async fn list_by_id<T>(
    store: &SqlStore,
    table: &'static str,
    columns: &'static str,
    start: Start<Id>,
    limit: i64,
) -> Result<Page<T>, Error>
where
    T: for<'r> sqlx::FromRow<'r, <Db as sqlx::Database>::Row> + Send + Unpin,
{
    let mut sql = Sql::new(&format!("SELECT {columns} FROM {table}"));
    sql.page_by_id(&start, limit);
    let items: Vec<T> = store.fetch_all(&sql.text, &sql.args).await?;
    let total = match start {
        // Audited: `table` is a name from the code, never from a request.
        Start::Offset(_) => {
            let (total,): (i64,) = store.fetch_one(&format!("SELECT count(*) FROM {table}"), &[]).await?;
            Some(total)
        }
        _ => None,
    };
    Ok(page_of(items, total, start, limit))
}

/// The page that the rows a [`Sql::page_by_id`] query fetched make (`limit + 1` of them at most,
/// newest first for `Before`): in id order, with whether there are more on either side.
fn page_of<T>(mut items: Vec<T>, total: Option<i64>, start: Start<Id>, limit: i64) -> Page<T> {
    let overflow = items.len() as i64 > limit;
    items.truncate(usize::try_from(limit).unwrap_or(0));
    match start {
        Start::Offset(offset) => Page { items, total, more_after: overflow, more_before: offset > 0 },
        Start::After(_) => Page { items, total: None, more_after: overflow, more_before: true },
        Start::Before(_) => {
            items.reverse();
            Page { items, total: None, more_after: true, more_before: overflow }
        }
    }
}

/// A value bound to a placeholder.
#[derive(Debug, Clone)]
enum Arg {
    Int(i64),
    Text(String),
}

impl From<i64> for Arg {
    fn from(value: i64) -> Self {
        Arg::Int(value)
    }
}

impl From<String> for Arg {
    fn from(value: String) -> Self {
        Arg::Text(value)
    }
}

impl From<&str> for Arg {
    fn from(value: &str) -> Self {
        Arg::Text(value.to_string())
    }
}

/// A query run on the calling thread ([`on_this_thread`]): its text and arguments, its rows.
pub(super) type Run<'a> = dyn FnMut(String, <Db as sqlx::Database>::Arguments) -> Result<Vec<<Db as sqlx::Database>::Row>, sqlx::Error>
    + 'a;

/// SQL text whose shape depends on the request (filters, sorts, `IN` lists) and the values of
/// its placeholders, in order. It numbers `$n` itself: sqlx's `QueryBuilder` would write `?`
/// for SQLite and `$n` for PostgreSQL, and this text is shared.
#[derive(Debug, Default, Clone)]
struct Sql {
    text: String,
    args: Vec<Arg>,
    /// Whether `WHERE` has been written (see [`Sql::and`]).
    filtered: bool,
}

impl Sql {
    fn new(text: &str) -> Self {
        Sql { text: text.to_string(), args: Vec::new(), filtered: false }
    }

    /// Starts a condition: ` WHERE ` the first time, ` AND ` after. (No `WHERE 1 = 1`: SQLite
    /// then counts row by row instead of reading the smallest index.)
    /// The rest of a list in id order, after its filters: the keyset condition or the offset,
    /// and one row more than `limit`, to tell whether there is a next page ([`page_of`]).
    fn page_by_id(&mut self, start: &Start<Id>, limit: i64) -> &mut Self {
        match start {
            Start::Offset(offset) => {
                self.push(" ORDER BY id").limit(limit + 1).push(" OFFSET ").bind(*offset)
            }
            Start::After(id) => self.and().push("id > ").bind(*id).push(" ORDER BY id").limit(limit + 1),
            Start::Before(id) => {
                self.and().push("id < ").bind(*id).push(" ORDER BY id DESC").limit(limit + 1)
            }
        }
    }

    fn and(&mut self) -> &mut Self {
        self.text.push_str(if self.filtered { " AND " } else { " WHERE " });
        self.filtered = true;
        self
    }

    fn push(&mut self, text: &str) -> &mut Self {
        self.text.push_str(text);
        self
    }

    /// Appends ` LIMIT n`, written out, not bound: SQLite (3.51) plans around a bound LIMIT's
    /// value, so it re-prepares the statement every time the placeholder is bound again, that is
    /// at every run (about 270,000 instructions a page; bench/README.md). A number the server
    /// chose (a page size it checked, plus one) is no injection risk, and page sizes are few.
    fn limit(&mut self, n: i64) -> &mut Self {
        self.text.push_str(" LIMIT ");
        self.text.push_str(&n.to_string());
        self
    }

    /// Appends a placeholder bound to `value`.
    fn bind(&mut self, value: impl Into<Arg>) -> &mut Self {
        self.args.push(value.into());
        self.text.push('$');
        self.text.push_str(&self.args.len().to_string());
        self
    }

    /// Appends `$a, $b, …` bound to `values`.
    fn bind_list<T: Into<Arg> + Clone>(&mut self, values: &[T]) -> &mut Self {
        for (i, value) in values.iter().enumerate() {
            if i > 0 {
                self.push(", ");
            }
            self.bind(value.clone());
        }
        self
    }

    /// The statement, ready to run.
    ///
    /// Audited for injection: the text is built from fragments in the code, `$n` placeholders
    /// and integers ([`Sql::limit`]); every other value from a request is bound.
    fn query(&self) -> sqlx::query::Query<'_, Db, <Db as sqlx::Database>::Arguments> {
        self.query_text(&self.text)
    }

    /// The statement with its text replaced by `text`, which has the same placeholders (this
    /// one's inside a transaction's or a savepoint's statements).
    fn query_text<'q>(
        &'q self,
        text: &'q str,
    ) -> sqlx::query::Query<'q, Db, <Db as sqlx::Database>::Arguments> {
        self.args.iter().fold(sqlx::query(sqlx::AssertSqlSafe(text)), |query, arg| match arg {
            Arg::Int(value) => query.bind(*value),
            Arg::Text(value) => query.bind(value.as_str()),
        })
    }

    /// The statement's arguments, for [`Run`].
    fn arguments(&self) -> Result<<Db as sqlx::Database>::Arguments, sqlx::Error> {
        arguments(&self.args)
    }

    /// The statement, decoding rows as `T`.
    fn query_as<T>(&self) -> sqlx::query::QueryAs<'_, Db, T, <Db as sqlx::Database>::Arguments>
    where
        T: for<'r> sqlx::FromRow<'r, <Db as sqlx::Database>::Row>,
    {
        query_as(&self.text, &self.args)
    }
}

/// `args` as a query's arguments, in order.
fn arguments(args: &[Arg]) -> Result<<Db as sqlx::Database>::Arguments, sqlx::Error> {
    use sqlx::Arguments;
    let mut arguments = <Db as sqlx::Database>::Arguments::default();
    for arg in args {
        match arg {
            Arg::Int(value) => arguments.add(*value),
            Arg::Text(value) => arguments.add(value.as_str()),
        }
        .map_err(sqlx::Error::Encode)?;
    }
    Ok(arguments)
}

/// `text` with `args` bound to its placeholders, decoding rows as `T`.
///
/// Audited for injection: every caller's text is built from fragments in the code (see
/// [`Sql::query`]); values from a request are in `args`.
fn query_as<'q, T>(
    text: &'q str,
    args: &'q [Arg],
) -> sqlx::query::QueryAs<'q, Db, T, <Db as sqlx::Database>::Arguments>
where
    T: for<'r> sqlx::FromRow<'r, <Db as sqlx::Database>::Row>,
{
    args.iter().fold(sqlx::query_as(sqlx::AssertSqlSafe(text)), |query, arg| match arg {
        Arg::Int(value) => query.bind(*value),
        Arg::Text(value) => query.bind(value.as_str()),
    })
}

/// Statements run in order in one transaction, their rows returned: where the back-end runs
/// several statements per query (SQLite), as one query, so one hand-off to the connection's
/// thread instead of one per statement; elsewhere one after the other.
#[derive(Debug, Default)]
struct Batch {
    done: Vec<Sql>,
    current: Option<Sql>,
}

impl Batch {
    /// Starts the next statement with `text`; its placeholders are bound through the result.
    fn then(&mut self, text: &str) -> &mut Sql {
        match self.current.take() {
            Some(mut sql) if MANY_STATEMENTS_PER_QUERY => {
                sql.filtered = false;
                sql.push("; ").push(text);
                self.current = Some(sql);
            }
            previous => {
                self.done.extend(previous);
                self.current = Some(Sql::new(text));
            }
        }
        self.current.as_mut().expect("just set")
    }

    /// Runs the statements; the rows of every statement that returns some, in order (all of
    /// the same type `T`).
    async fn run<T>(&self, connection: &mut <Db as sqlx::Database>::Connection) -> Result<Vec<T>, sqlx::Error>
    where
        T: for<'r> sqlx::FromRow<'r, <Db as sqlx::Database>::Row> + Send + Unpin,
    {
        let mut rows = Vec::new();
        for sql in self.done.iter().chain(&self.current) {
            rows.extend(sql.query_as().fetch_all(&mut *connection).await?);
        }
        Ok(rows)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_numbered_in_order() {
        let mut sql = Sql::new("SELECT * FROM t");
        sql.and().push("a = ").bind(1).and().push("b IN (").bind_list(&["x", "y"]).push(")").limit(21);
        assert_eq!(sql.text, "SELECT * FROM t WHERE a = $1 AND b IN ($2, $3) LIMIT 21");
    }

    #[test]
    fn a_batch_is_one_query_where_the_back_end_runs_several() {
        let mut batch = Batch::default();
        batch.then("DELETE FROM t WHERE a = ").bind(1);
        batch.then("SELECT * FROM t").and().push("b = ").bind(2);
        let texts: Vec<&str> = batch.done.iter().chain(&batch.current).map(|sql| sql.text.as_str()).collect();
        if MANY_STATEMENTS_PER_QUERY {
            assert_eq!(texts, ["DELETE FROM t WHERE a = $1; SELECT * FROM t WHERE b = $2"]);
        } else {
            assert_eq!(texts, ["DELETE FROM t WHERE a = $1", "SELECT * FROM t WHERE b = $1"]);
        }
    }
}
