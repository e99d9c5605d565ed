//! Tags: free-form labels, unique ignoring case, created when a product first names them.

use std::collections::BTreeMap;

use crate::db::page::{list_by_id, Page, Start};
use crate::db::sql::Sql;
use crate::db::{name_key, now_micros, Db, Tx};
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
    tx: &mut Tx,
    product_id: i64,
    names: &[String],
    replacing: bool,
) -> Result<(), Error> {
    if replacing {
        sqlx::query("DELETE FROM product_tags WHERE product_id = $1")
            .bind(product_id)
            .execute(&mut **tx)
            .await?;
    }
    let mut by_key: BTreeMap<String, &str> = BTreeMap::new();
    for name in names {
        by_key.entry(name_key(name)).or_insert(name);
    }
    if by_key.is_empty() {
        return Ok(());
    }
    // One statement for the new tags, one for the links: each statement is a round trip.
    let now = now_micros();
    let mut insert = Sql::new("INSERT INTO tags (name, name_key, created_at) VALUES ");
    for (i, (key, name)) in by_key.iter().enumerate() {
        insert.push(if i == 0 { "(" } else { ", (" });
        insert.bind(*name).push(", ").bind(key.as_str()).push(", ").bind(now).push(")");
    }
    insert.push(" ON CONFLICT (name_key) DO NOTHING");
    insert.query().execute(&mut **tx).await?;
    let keys: Vec<String> = by_key.into_keys().collect();
    let mut link = Sql::new("INSERT INTO product_tags (product_id, tag_id) SELECT ");
    link.bind(product_id).push(", id FROM tags WHERE name_key IN (").bind_list(&keys).push(")");
    link.query().execute(&mut **tx).await?;
    Ok(())
}
