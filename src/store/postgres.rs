//! PostgreSQL, for several instances behind a load balancer: one pool for reads and writes, row
//! locks (`FOR UPDATE`) on the rows a write checks, and rate-limit counters shared by every
//! instance.

use std::str::FromStr;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

use super::{Backend, PoolConfig};

/// The sqlx database the shared SQL is compiled against.
pub(crate) type Db = sqlx::Postgres;
/// The back-end this module serves.
const BACKEND: Backend = Backend::Postgres;

/// `SELECT … FOR UPDATE`: the row a write is about to check and change stays locked for the
/// transaction.
macro_rules! for_update {
    ($sql:expr) => {
        concat!($sql, " FOR UPDATE")
    };
}

/// A product's tag names in alphabetical order, as one JSON array, from its links: what a write
/// that changes them stores in `products.tags` (a correlated subquery on `products`).
macro_rules! tag_names {
    () => {
        "COALESCE((SELECT json_agg(t.name ORDER BY t.name_key) FROM product_tags pt \
          JOIN tags t ON t.id = pt.tag_id WHERE pt.product_id = products.id), '[]'::json)"
    };
}

/// The names of the tags whose keys are the `IN` list written between `(open)` and `(close)`, in
/// the same order and shape as [`tag_names!`]: a new product's `tags`, computed in its `INSERT`.
macro_rules! tag_names_of {
    (open) => {
        "COALESCE((SELECT json_agg(name ORDER BY name_key) FROM tags WHERE name_key IN ("
    };
    (close) => {
        ")), '[]'::json)"
    };
}

/// The id of the row this session's last `INSERT` into a table with generated ids made: the
/// value its identity sequence last gave (`lastval()`). Inserting links into `product_tags`, which
/// has no sequence, leaves it alone.
macro_rules! last_insert_id {
    () => {
        "lastval()"
    };
}

/// PostgreSQL prepares one statement per query: a batch is sent statement by statement.
const MANY_STATEMENTS_PER_QUERY: bool = false;

/// Where SQLite runs a group of writes on the calling thread (`sql/group.rs`); PostgreSQL's
/// writes are not grouped (`MANY_STATEMENTS_PER_QUERY` is false), so this is never called.
fn on_this_thread<R>(
    _: &mut sqlx::PgConnection,
    _: impl FnOnce(&mut sql::Run<'_>) -> R,
) -> Result<R, sqlx::Error> {
    Err(sqlx::Error::Protocol("PostgreSQL's writes are not grouped".to_string()))
}

// The shared SQL, compiled a second time against this back-end's types: by design.
#[allow(clippy::duplicate_mod)]
#[path = "sql/mod.rs"]
mod sql;

/// The PostgreSQL store.
pub type PgStore = sql::SqlStore;

/// PostgreSQL needs no guard of its own: the server is reached over the network.
#[derive(Clone)]
pub(crate) struct Guard;

impl Guard {
    fn check(&self) -> Result<(), crate::error::Error> {
        Ok(())
    }
}

/// PostgreSQL reads go over the network: none runs inline (SQLite's `Inline`); there is no
/// value of this type.
pub(crate) enum Inline {}

impl Inline {
    fn fetch_all(
        &self,
        _: &str,
        _: impl FnOnce() -> Result<sqlx::postgres::PgArguments, sqlx::Error>,
    ) -> Option<Vec<sqlx::postgres::PgRow>> {
        match *self {}
    }

    fn counts(&self) -> crate::store::InlineReads {
        match *self {}
    }

    fn close(&self) {
        match *self {}
    }
}

/// Connects and migrates.
pub async fn connect(url: &str, config: &PoolConfig) -> Result<PgStore, String> {
    use sqlx::ConnectOptions;
    let options = PgConnectOptions::from_str(url)
        .map_err(|e| format!("DATABASE_URL is not a valid PostgreSQL URL: {e}"))?
        .log_slow_statements(log::LevelFilter::Warn, config.slow_statement);
    let pool = PgPoolOptions::new()
        .max_connections(config.connections(BACKEND))
        .acquire_timeout(config.acquire_timeout)
        .connect_with(options)
        .await
        .map_err(|e| format!("connecting to the database: {e}"))?;
    sqlx::migrate!("migrations/postgres")
        .run(&pool)
        .await
        .map_err(|e| format!("migrating the database: {e}"))?;
    Ok(sql::SqlStore::new(pool.clone(), pool, Guard, None, config.down_acquire_timeout, config.cache))
}
