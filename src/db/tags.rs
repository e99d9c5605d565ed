//! Tags: free-form labels, unique ignoring case, created when a product first names them.

use std::collections::BTreeMap;

use sqlx::{Any, Transaction};

use crate::db::page::{list_by_id, Page, Start};
use crate::db::sql::Sql;
use crate::db::{name_key, now_micros, Db};
use crate::error::Error;

/// A stored tag.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct TagRow {
    pub id: i64,
    pub name: String,
    pub created_at: i64,
}

macro_rules! columns {
    () => {
        "id, name, created_at"
    };
}

/// Tags in id order.
pub async fn list(db: &Db, start: Start<i64>, limit: i64) -> Result<Page<TagRow>, Error> {
    list_by_id(db, "tags", columns!(), start, limit).await
}

pub async fn get(db: &Db, id: i64) -> Result<TagRow, Error> {
    sqlx::query_as(concat!("SELECT ", columns!(), " FROM tags WHERE id = $1"))
        .bind(id)
        .fetch_optional(db.read())
        .await?
        .ok_or(Error::NotFound("tag"))
}

/// Sets the tags of a product to `names`, creating the tags that do not exist yet. Names that
/// differ only in case are one tag, spelled as it was first created.
pub(crate) async fn set_for_product(
    tx: &mut Transaction<'static, Any>,
    product_id: i64,
    names: &[String],
) -> Result<(), Error> {
    sqlx::query("DELETE FROM product_tags WHERE product_id = $1").bind(product_id).execute(&mut **tx).await?;
    let mut by_key: BTreeMap<String, &str> = BTreeMap::new();
    for name in names {
        by_key.entry(name_key(name)).or_insert(name);
    }
    if by_key.is_empty() {
        return Ok(());
    }
    let now = now_micros();
    for (key, name) in &by_key {
        sqlx::query("INSERT INTO tags (name, name_key, created_at) VALUES ($1, $2, $3) ON CONFLICT (name_key) DO NOTHING")
            .bind(*name)
            .bind(key.as_str())
            .bind(now)
            .execute(&mut **tx)
            .await?;
    }
    let keys: Vec<String> = by_key.into_keys().collect();
    let mut sql = Sql::new("INSERT INTO product_tags (product_id, tag_id) SELECT ");
    sql.bind(product_id).push(", id FROM tags WHERE name_key IN (").bind_list(&keys).push(")");
    sql.query().execute(&mut **tx).await?;
    Ok(())
}

/// The tag names of each of `product_ids`, in name order.
pub(crate) async fn names_of<'e, E>(
    executor: E,
    product_ids: &[i64],
) -> Result<BTreeMap<i64, Vec<String>>, Error>
where
    E: sqlx::Executor<'e, Database = Any>,
{
    let mut out: BTreeMap<i64, Vec<String>> = BTreeMap::new();
    if product_ids.is_empty() {
        return Ok(out);
    }
    let mut sql = Sql::new(
        "SELECT pt.product_id, t.name FROM product_tags pt JOIN tags t ON t.id = pt.tag_id \
         WHERE pt.product_id IN (",
    );
    sql.bind_list(product_ids).push(") ORDER BY pt.product_id, t.name_key");
    let rows: Vec<(i64, String)> = sql.query_as().fetch_all(executor).await?;
    for (product_id, name) in rows {
        out.entry(product_id).or_default().push(name);
    }
    Ok(out)
}
