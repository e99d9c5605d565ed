//! Storage, behind the interface the application layer calls: [`Store`].
//!
//! Two implementations, chosen by the database URL: SQLite (the embedded default) and
//! PostgreSQL (for several instances), each on sqlx's native driver. They share one SQL
//! implementation (`sql/`), compiled once per back-end against its own sqlx types, and differ
//! where the back-ends do (row locks, pool layout, connection options); either may override a
//! query where it pays. Why native rather than sqlx's `Any` driver: see the README's
//! architecture section (measured).
//!
//! Nothing in here knows HTTP. Writes take a [`Check`] that the application layer's rules
//! (`If-Match`, "keep an admin") are evaluated with, against the locked row, inside the write's
//! transaction. Constraint violations are mapped here, by sqlx's error kind, never by matching
//! database text.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

use crate::domain::*;
use crate::error::Error;

pub mod cache;
pub mod postgres;
pub mod sqlite;

/// Which database the URL names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Pool sizes, timeouts, and how to open the database.
#[derive(Debug, Clone)]
pub struct PoolConfig {
    /// Connections for reads (and, on PostgreSQL, for writes too); 0: the backend's default
    /// ([`PoolConfig::connections`]).
    pub max_connections: u32,
    /// How long a request waits for a connection before the API answers 503.
    pub acquire_timeout: Duration,
    /// The same, while the database is known to be down: short, so that clients learn it fast.
    pub down_acquire_timeout: Duration,
    /// SQLite: refuse a database file that does not exist instead of creating an empty one.
    pub no_create: bool,
    /// Statements that take at least this long are logged as warnings (sqlx's slow-statement
    /// warning, through `tracing`).
    pub slow_statement: Duration,
    /// The product cache (see [`cache`]).
    pub cache: cache::CacheConfig,
    /// SQLite: how long a read may run on the request's own thread before it is interrupted and
    /// run again on the read pool; zero: every read goes through the pool (`sqlite.rs`,
    /// `Inline`).
    pub inline_read_budget: Duration,
}

impl Default for PoolConfig {
    fn default() -> Self {
        PoolConfig {
            max_connections: 0,
            acquire_timeout: Duration::from_secs(5),
            down_acquire_timeout: Duration::from_millis(250),
            no_create: false,
            slow_statement: Duration::from_secs(1),
            cache: cache::CacheConfig::default(),
            inline_read_budget: Duration::from_millis(1),
        }
    }
}

impl PoolConfig {
    /// The pool's size: as configured, or the backend's default.
    ///
    /// SQLite reads run on the CPU, one connection thread each: two connections per core keep
    /// every core busy while a result travels back, and more only add page caches (about
    /// 1.5 MB each on a 10,000-product catalog) and threads. PostgreSQL's connections mostly
    /// wait on the network and the database server: 8.
    pub fn connections(&self, backend: Backend) -> u32 {
        match (self.max_connections, backend) {
            (0, Backend::Sqlite) => {
                let cores = std::thread::available_parallelism().map_or(1, usize::from);
                u32::try_from(cores.saturating_mul(2)).unwrap_or(u32::MAX).max(2)
            }
            (0, Backend::Postgres) => 8,
            (n, _) => n,
        }
    }
}

/// The catalog: categories, tags, products.
#[async_trait]
pub trait CatalogStore {
    async fn categories(&self, start: Start<Id>, limit: i64) -> Result<Page<Category>, Error>;
    async fn category(&self, id: Id) -> Result<Category, Error>;
    /// The category with this name, ignoring case.
    async fn category_named(&self, name: &str) -> Result<Option<Category>, Error>;
    async fn category_create(&self, name: &str) -> Result<Category, Error>;
    async fn category_rename(
        &self,
        id: Id,
        name: &str,
        check: Check<'_, Category>,
    ) -> Result<Category, Error>;
    /// Deletes a category; one that still has products is a conflict.
    async fn category_delete(&self, id: Id, check: Check<'_, Category>) -> Result<(), Error>;

    async fn tags(&self, start: Start<Id>, limit: i64) -> Result<Page<Tag>, Error>;
    async fn tag(&self, id: Id) -> Result<Tag, Error>;

    /// A page of products in `sort` order, with their tags.
    async fn products(
        &self,
        filter: &ProductFilter,
        sort: ProductSort,
        start: &Start<ProductKey>,
        limit: i64,
    ) -> Result<Page<Product>, Error>;
    async fn product(&self, id: Id) -> Result<Product, Error>;
    /// The products of the given categories, with their tags: one query for all of them.
    async fn products_of_categories(&self, category_ids: &[Id]) -> Result<BTreeMap<Id, Vec<Product>>, Error>;
    /// Whether a product has this name, ignoring case.
    async fn product_named(&self, name: &str) -> Result<bool, Error>;
    async fn product_create(&self, new: &NewProduct) -> Result<Product, Error>;
    async fn product_update(
        &self,
        id: Id,
        changes: &ProductChanges,
        check: Check<'_, Product>,
    ) -> Result<Product, Error>;
    async fn product_delete(&self, id: Id, check: Check<'_, Product>) -> Result<(), Error>;
}

/// Customers: one table that both API versions read and write.
#[async_trait]
pub trait CustomerStore {
    /// A page of customers in id order.
    async fn customers(
        &self,
        filter: &CustomerFilter,
        start: Start<Id>,
        limit: i64,
    ) -> Result<Page<Customer>, Error>;
    async fn customer(&self, id: Id) -> Result<Customer, Error>;
    /// The customer with this email, ignoring case.
    async fn customer_by_email(&self, email: &str) -> Result<Option<Customer>, Error>;
    /// A new customer, with the key of a photo already stored (or none); a taken email or phone
    /// is [`Error::Taken`] naming the field.
    async fn customer_create(&self, new: &NewCustomer, photo_key: Option<&str>) -> Result<Customer, Error>;
    async fn customer_update(
        &self,
        id: Id,
        changes: &CustomerChanges,
        check: Check<'_, Customer>,
    ) -> Result<Customer, Error>;
    /// Sets (or, with `None`, clears) the customer's photo key; the updated customer and the
    /// key it had before (whose object the caller deletes from storage).
    async fn customer_set_photo(
        &self,
        id: Id,
        photo_key: Option<&str>,
        check: Check<'_, Customer>,
    ) -> Result<(Customer, Option<String>), Error>;
    /// Deletes a customer; the row as it was (its `photo_key` names the object to delete).
    async fn customer_delete(&self, id: Id, check: Check<'_, Customer>) -> Result<Customer, Error>;
}

/// Accounts and credentials: users, refresh-token families, API keys. Sessions are timed by
/// the application's clock (`now`, microseconds), which the tests move.
#[async_trait]
pub trait AccountStore {
    async fn user_create(&self, new: &NewUser) -> Result<User, Error>;
    async fn user(&self, id: Id) -> Result<User, Error>;
    /// The user with this username (any case) and their password hash, for login.
    async fn user_for_login(&self, username: &str) -> Result<Option<(User, String)>, Error>;
    async fn users(&self, start: Start<Id>, limit: i64) -> Result<Page<User>, Error>;
    async fn user_update(&self, id: Id, changes: &UserChanges, check: UserCheck<'_>) -> Result<User, Error>;
    /// Deletes a user; their tokens and API keys go with them.
    async fn user_delete(&self, id: Id, check: UserCheck<'_>) -> Result<(), Error>;

    /// Starts a login (a refresh-token family, named `family`) with its first refresh token.
    async fn session_start(
        &self,
        user_id: Id,
        family: &str,
        token_hash: &str,
        now: i64,
        expires_at: i64,
    ) -> Result<(), Error>;
    /// Presents `token_hash`: rotates it to `new_hash` when it is current, revokes its family
    /// when it was already rotated.
    async fn session_rotate(
        &self,
        token_hash: &str,
        new_hash: &str,
        now: i64,
        expires_at: i64,
    ) -> Result<Refreshed, Error>;
    /// Revokes the family of `token_hash` (logout); nothing happens for an unknown token.
    async fn session_revoke(&self, token_hash: &str, now: i64) -> Result<(), Error>;
    /// The login a refresh token belongs to (whether or not it is still current).
    async fn session_of(&self, token_hash: &str) -> Result<Option<String>, Error>;
    /// A user, as an access token of the login `family` names them: `None` when the user is gone
    /// or the login has ended (logged out, or revoked for a replayed refresh token). One query.
    async fn user_in_session(&self, id: Id, family: &str) -> Result<Option<User>, Error>;

    /// A new key, unless the user already has `max_active` active ones (a conflict).
    async fn api_key_create(
        &self,
        user_id: Id,
        name: &str,
        prefix: &str,
        key_hash: &str,
        max_active: i64,
    ) -> Result<ApiKey, Error>;
    /// A user's active keys, newest first.
    async fn api_keys_of(&self, user_id: Id) -> Result<Vec<ApiKey>, Error>;
    /// One active key; `owner` limits it to that user's keys (others' are "not found").
    async fn api_key(&self, id: Id, owner: Option<Id>) -> Result<ApiKey, Error>;
    /// The active key with this hash, and its owner.
    async fn api_key_owner(&self, key_hash: &str) -> Result<Option<KeyOwner>, Error>;
    /// Records that a key was used.
    async fn api_key_touch(&self, id: Id) -> Result<(), Error>;
    /// Revokes a key; `owner` limits it to that user's keys (others' are "not found").
    async fn api_key_revoke(&self, id: Id, owner: Option<Id>) -> Result<(), Error>;
}

/// Orders: placing one takes stock, cancelling one gives it back, each in one transaction.
#[async_trait]
pub trait OrderStore {
    /// Places an order for `user_id`, in one transaction: locks the lines' products (in id
    /// order), checks that each exists (422 naming `items.<n>.product_id`) and has the stock
    /// (409 naming every short `items.<n>.quantity`), takes the quantities from stock (bumping
    /// each product's version), records each line's unit price and the exact total. On any
    /// error nothing changes. `lines` name each product at most once.
    async fn order_create(&self, user_id: Id, lines: &[OrderLine]) -> Result<Order, Error>;
    /// A page of orders in id order, with their lines.
    async fn orders(&self, filter: &OrderFilter, start: Start<Id>, limit: i64) -> Result<Page<Order>, Error>;
    /// One order with its lines, whoever owns it (the application decides who may see it).
    async fn order(&self, id: Id) -> Result<Order, Error>;
    /// Moves an order to `status` once `check` passes for the locked order (its lines not
    /// loaded); moving to `cancelled` gives the lines' quantities back to their products (those
    /// that still exist) in the same transaction.
    async fn order_set_status(
        &self,
        id: Id,
        status: OrderStatus,
        check: Check<'_, Order>,
    ) -> Result<Order, Error>;
}

/// A stored answer to a request sent with `Idempotency-Key`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredAnswer {
    pub status: u16,
    /// The headers that describe the answer (`Location`, `ETag`, `Content-Type`…), in order.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// A new claim on an idempotency key.
#[derive(Debug, Clone, Copy)]
pub struct KeyClaim<'a> {
    /// The key, hashed with the caller's scope (the client's text is not kept).
    pub key_hash: &'a str,
    /// What the request is: operation, path and body, hashed. A retry must match it.
    pub fingerprint: &'a str,
    /// A random token: only the request that holds the claim completes or releases it.
    pub claim: &'a str,
    /// Now, in microseconds since the epoch (the server's clock).
    pub now: i64,
    /// Until when the claim holds while its request runs (then it is taken to have died).
    pub locked_until: i64,
    /// When the key expires.
    pub expires_at: i64,
}

/// Who holds an idempotency key, as a request tries to claim it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyState {
    /// Nobody did (or the key had expired): the request now holds it and runs.
    Claimed,
    /// A request with the same key and another fingerprint holds it.
    Mismatch,
    /// The first request with this key is still running.
    Running,
    /// The first request finished: its answer.
    Done(StoredAnswer),
}

/// Idempotency keys: the first answer of a `POST` sent with `Idempotency-Key`, kept so that a
/// retry (to any instance on the same database) gets the same answer.
#[async_trait]
pub trait IdempotencyStore {
    /// Claims a key for a request, unless another holds it; an expired key, or one whose
    /// request died with its server (`locked_until` passed), is claimed anew.
    async fn idempotency_claim(&self, claim: KeyClaim<'_>) -> Result<KeyState, Error>;
    /// Stores the answer of the request that holds the claim.
    async fn idempotency_complete(
        &self,
        key_hash: &str,
        claim: &str,
        answer: &StoredAnswer,
    ) -> Result<(), Error>;
    /// Releases a claim: the request failed, and a retry runs anew.
    async fn idempotency_release(&self, key_hash: &str, claim: &str) -> Result<(), Error>;
    /// Forgets the keys that expired by `now`; how many.
    async fn idempotency_purge(&self, now: i64) -> Result<u64, Error>;
}

/// Everything the application keeps.
#[async_trait]
pub trait Store:
    CatalogStore + AccountStore + CustomerStore + OrderStore + IdempotencyStore + Send + Sync + 'static
{
    fn backend(&self) -> Backend;
    /// Whether the database answers a query (for `/readyz`).
    async fn ping(&self) -> Result<(), Error>;
    /// Adds `hits` to a rate-limit counter in its window; the count so far, every instance's.
    /// Only the back-ends that share counters between instances keep them (PostgreSQL).
    async fn rate_limit_add(&self, key: &str, window_start: i64, hits: u64) -> Result<u64, Error>;
    /// Records `member` (a username's digest, say) in a counter of distinct members; the number
    /// of distinct members so far. Only on back-ends that share counters (PostgreSQL).
    async fn rate_limit_member(&self, key: &str, window_start: i64, member: &str) -> Result<u64, Error>;
    /// The number of distinct members recorded in a counter.
    async fn rate_limit_members(&self, key: &str, window_start: i64) -> Result<u64, Error>;
    /// Forgets the counters of windows that started before `horizon`.
    async fn rate_limit_prune(&self, horizon: i64) -> Result<(), Error>;
    /// Brings stored name keys (uniqueness and search) to the current rule, `crate::names::key`,
    /// once: a data migration SQL cannot express. The rows that keep their old key because the
    /// new one would collide with another row's, as `table.id`.
    async fn rekey_names(&self) -> Result<Vec<String>, Error>;
    /// Closes the pools, waiting for connections in use.
    async fn close(&self);
    /// The connection pools as they are now (for the metrics).
    fn pools(&self) -> Vec<PoolStats>;

    /// The writes committed in groups so far (SQLite: the catalog's creates; see
    /// `store/sql/group.rs`), and the transactions that held them; zero elsewhere.
    fn grouped_writes(&self) -> GroupedWrites;

    /// What SQLite's reads on the request's own thread did so far (see `store/sqlite.rs`,
    /// `Inline`); zero elsewhere.
    fn inline_reads(&self) -> InlineReads;
}

/// Reads run on the request's own thread (SQLite), by outcome.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct InlineReads {
    /// Reads answered inline.
    pub done: u64,
    /// Reads interrupted past their time budget or by a lock held elsewhere, then run again on
    /// the read pool.
    pub interrupted: u64,
    /// Reads that failed inline otherwise, then ran again on the read pool (their connection
    /// closed).
    pub failed: u64,
}

/// Writes committed together: `writes / groups` is the mean group's size.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GroupedWrites {
    /// Transactions committed with at least one write made in them.
    pub groups: u64,
    /// Writes made in them.
    pub writes: u64,
}

/// A connection pool's state.
#[derive(Debug, Clone, Copy)]
pub struct PoolStats {
    /// `read` and `write` (SQLite), or `main` (PostgreSQL: one pool).
    pub name: &'static str,
    /// Connections open.
    pub size: u32,
    /// Connections open and idle.
    pub idle: usize,
    /// The most the pool opens.
    pub max: u32,
}

/// Connects to the database the URL names and applies its pending migrations.
pub async fn connect(url: &str, config: &PoolConfig) -> Result<Arc<dyn Store>, String> {
    if url.starts_with("sqlite:") {
        Ok(Arc::new(sqlite::connect(url, config).await?))
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(Arc::new(postgres::connect(url, config).await?))
    } else {
        Err("DATABASE_URL must start with sqlite: or postgres://".into())
    }
}

/// Now, in microseconds since the epoch (the storage format of timestamps).
pub fn now_micros() -> i64 {
    chrono::Utc::now().timestamp_micros()
}

/// The `updated_at` of a write to a row last updated at `previous`: now, but never earlier than
/// the last write even if the clock stepped back (`Last-Modified` must not go backwards).
pub fn next_update(previous: i64) -> i64 {
    now_micros().max(previous + 1)
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
            sqlx::error::ErrorKind::UniqueViolation => Some(Violation::Unique),
            sqlx::error::ErrorKind::ForeignKeyViolation => Some(Violation::ForeignKey),
            _ => None,
        },
        _ => None,
    }
}

/// Database failures that are not the request's fault: an unreachable database (or one that
/// went away mid-query) is 503, worth a retry; the rest is 500.
impl From<sqlx::Error> for Error {
    fn from(error: sqlx::Error) -> Self {
        if is_unavailable(&error) {
            Error::Unavailable(error)
        } else {
            Error::internal(error)
        }
    }
}

/// Whether a failure says the database cannot be reached (rather than that a query is wrong):
/// pool timeouts, closed pools, I/O and TLS failures, and PostgreSQL's connection-exception
/// class (08…) and shutdown states (57P01 admin shutdown, 57P02 crash shutdown, 57P03 cannot
/// connect now); SQLite's busy, locked, read-only, I/O, full, cannot-open and not-a-database
/// results (a file deleted, replaced or on a failing disk underneath the server).
pub fn is_unavailable(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::Protocol(_)
        | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(db) if db.try_downcast_ref::<sqlx::sqlite::SqliteError>().is_some() => {
            // Extended result codes carry the primary code in their low byte.
            db.code().and_then(|code| code.parse::<u32>().ok()).is_some_and(|code| {
                matches!(
                    code & 0xff,
                    5 /* BUSY */ | 6 /* LOCKED */ | 8 /* READONLY */ | 10 /* IOERR */
                    | 13 /* FULL */ | 14 /* CANTOPEN */ | 26 /* NOTADB */
                )
            })
        }
        sqlx::Error::Database(db) => db
            .code()
            .is_some_and(|code| code.starts_with("08") || matches!(&*code, "57P01" | "57P02" | "57P03")),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use sqlx::Connection;

    #[tokio::test]
    async fn sqlite_refusing_writes_is_unavailable_but_bad_sql_is_not() {
        let mut connection = sqlx::SqliteConnection::connect("sqlite::memory:").await.unwrap();
        sqlx::query("PRAGMA query_only = 1").execute(&mut connection).await.unwrap();
        let read_only = sqlx::query("CREATE TABLE t (x)").execute(&mut connection).await.unwrap_err();
        assert!(super::is_unavailable(&read_only), "{read_only:?}");
        let bad = sqlx::query("SELEC 1").execute(&mut connection).await.unwrap_err();
        assert!(!super::is_unavailable(&bad), "{bad:?}");
    }

    #[test]
    fn a_pool_is_as_configured_or_sized_for_its_backend() {
        use super::{Backend, PoolConfig};
        let configured = PoolConfig { max_connections: 3, ..PoolConfig::default() };
        assert_eq!(configured.connections(Backend::Sqlite), 3);
        assert_eq!(configured.connections(Backend::Postgres), 3);
        let automatic = PoolConfig::default();
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        assert_eq!(automatic.connections(Backend::Sqlite), u32::try_from(2 * cores).unwrap().max(2));
        assert_eq!(automatic.connections(Backend::Postgres), 8);
    }
}
