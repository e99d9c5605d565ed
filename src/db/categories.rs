//! Categories: names are unique ignoring case; a category with products cannot be deleted.

use crate::db::page::{list_by_id, Page, Start};
use crate::db::{
    locked, name_key, next_update, now_micros, violation, Db, Precondition, Tx, Version, Versioned, Violation,
};
use crate::error::Error;

/// A stored category.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct CategoryRow {
    pub id: i64,
    pub name: String,
    pub version: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

macro_rules! columns {
    () => {
        "id, name, version, created_at, updated_at"
    };
}

impl Versioned for CategoryRow {
    fn version(&self) -> Version {
        Version { version: self.version, created_at: self.created_at }
    }
}

/// Categories in id order.
pub async fn list(db: &Db, start: Start<i64>, limit: i64) -> Result<Page<CategoryRow>, Error> {
    list_by_id(db, "categories", columns!(), start, limit).await
}

pub async fn get(db: &Db, id: i64) -> Result<CategoryRow, Error> {
    sqlx::query_as(concat!("SELECT ", columns!(), " FROM categories WHERE id = $1"))
        .bind(id)
        .fetch_optional(db.read())
        .await?
        .ok_or(Error::NotFound("category"))
}

/// The category with this name, ignoring case.
pub async fn find_by_name(db: &Db, name: &str) -> Result<Option<CategoryRow>, Error> {
    Ok(sqlx::query_as(concat!("SELECT ", columns!(), " FROM categories WHERE name_key = $1"))
        .bind(name_key(name))
        .fetch_optional(db.read())
        .await?)
}

pub async fn create(db: &Db, name: &str) -> Result<CategoryRow, Error> {
    let now = now_micros();
    sqlx::query_as(concat!(
        "INSERT INTO categories (name, name_key, created_at, updated_at) VALUES ($1, $2, $3, $3) RETURNING ",
        columns!()
    ))
    .bind(name)
    .bind(name_key(name))
    .bind(now)
    .fetch_one(db.write())
    .await
    .map_err(|e| duplicate_name(e, name))
}

/// Renames a category (PUT and PATCH: its name is its only field).
pub async fn rename(
    db: &Db,
    id: i64,
    name: &str,
    precondition: Precondition<'_>,
) -> Result<CategoryRow, Error> {
    let mut tx = db.write().begin().await?;
    let current = lock(&mut tx, db, id, precondition).await?;
    let row = sqlx::query_as(concat!(
        "UPDATE categories SET name = $1, name_key = $2, version = version + 1, updated_at = $3 \
         WHERE id = $4 RETURNING ",
        columns!()
    ))
    .bind(name)
    .bind(name_key(name))
    .bind(next_update(current.updated_at))
    .bind(id)
    .fetch_one(&mut *tx)
    .await
    .map_err(|e| duplicate_name(e, name))?;
    tx.commit().await?;
    Ok(row)
}

pub async fn delete(db: &Db, id: i64, precondition: Precondition<'_>) -> Result<(), Error> {
    let mut tx = db.write().begin().await?;
    lock(&mut tx, db, id, precondition).await?;
    let in_use: Option<(i64,)> = sqlx::query_as("SELECT id FROM products WHERE category_id = $1 LIMIT 1")
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?;
    if in_use.is_some() {
        return Err(still_has_products());
    }
    // A product added meanwhile by another instance still trips the foreign key.
    sqlx::query("DELETE FROM categories WHERE id = $1").bind(id).execute(&mut *tx).await.map_err(|e| {
        match violation(&e) {
            Some(Violation::ForeignKey) => still_has_products(),
            _ => e.into(),
        }
    })?;
    tx.commit().await?;
    Ok(())
}

fn still_has_products() -> Error {
    Error::Conflict("the category still has products; move or delete them first".into())
}

fn duplicate_name(error: sqlx::Error, name: &str) -> Error {
    match violation(&error) {
        Some(Violation::Unique) => Error::Conflict(format!("a category named {name:?} already exists")),
        _ => error.into(),
    }
}

/// The category a write changes, locked for the transaction: 404 when there is none, 412 when
/// the precondition fails.
async fn lock(tx: &mut Tx, db: &Db, id: i64, precondition: Precondition<'_>) -> Result<CategoryRow, Error> {
    let sql = select_for_update!(db, concat!("SELECT ", columns!(), " FROM categories WHERE id = $1"));
    locked(tx, sql, id, "category", precondition).await
}
