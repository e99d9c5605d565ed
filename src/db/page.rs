//! Pages of rows: by offset, or by keyset (after or before a key), with the facts the API
//! needs to link to neighbouring pages.

use crate::db::sql::Sql;
use crate::db::Db;
use crate::error::Error;

/// Where a keyset page starts.
#[derive(Debug, Clone)]
pub enum Start<K> {
    /// Skip this many rows.
    Offset(i64),
    /// The rows after this key, in list order.
    After(K),
    /// The rows before this key, in list order (a "previous page").
    Before(K),
}

impl<K> Start<K> {
    /// The same start, with the key converted.
    pub fn map<L>(&self, f: impl FnOnce(&K) -> L) -> Start<L> {
        match self {
            Start::Offset(offset) => Start::Offset(*offset),
            Start::After(key) => Start::After(f(key)),
            Start::Before(key) => Start::Before(f(key)),
        }
    }

    /// Like [`Start::map`], for conversions that can fail.
    pub fn try_map<L, E>(&self, f: impl FnOnce(&K) -> Result<L, E>) -> Result<Start<L>, E> {
        Ok(match self {
            Start::Offset(offset) => Start::Offset(*offset),
            Start::After(key) => Start::After(f(key)?),
            Start::Before(key) => Start::Before(f(key)?),
        })
    }
}

/// A page of rows, and whether rows exist past either end of it.
#[derive(Debug)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub total: Option<i64>,
    pub more_after: bool,
    pub more_before: bool,
}

/// A page of rows of `table` in id order: the shared keyset/offset logic of id-ordered lists.
pub(crate) async fn list_by_id<T>(
    db: &Db,
    table: &'static str,
    columns: &'static str,
    start: Start<i64>,
    limit: i64,
) -> Result<Page<T>, Error>
where
    T: for<'r> sqlx::FromRow<'r, sqlx::any::AnyRow> + Send + Unpin,
{
    let mut sql = Sql::new(&format!("SELECT {columns} FROM {table}"));
    match start {
        Start::Offset(offset) => {
            sql.push(" ORDER BY id LIMIT ").bind(limit + 1).push(" OFFSET ").bind(offset);
        }
        Start::After(id) => {
            sql.push(" WHERE id > ").bind(id).push(" ORDER BY id LIMIT ").bind(limit + 1);
        }
        Start::Before(id) => {
            sql.push(" WHERE id < ").bind(id).push(" ORDER BY id DESC LIMIT ").bind(limit + 1);
        }
    }
    let mut items: Vec<T> = sql.query_as().fetch_all(db.read()).await?;
    let overflow = items.len() as i64 > limit;
    items.truncate(limit as usize);
    let page = match start {
        Start::Offset(offset) => {
            // Audited: `table` is a name from the code, never from a request.
            let total: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT count(*) FROM {table}")))
                .fetch_one(db.read())
                .await?;
            Page { items, total: Some(total), more_after: overflow, more_before: offset > 0 }
        }
        Start::After(_) => Page { items, total: None, more_after: overflow, more_before: true },
        Start::Before(_) => {
            items.reverse();
            Page { items, total: None, more_after: true, more_before: overflow }
        }
    };
    Ok(page)
}
