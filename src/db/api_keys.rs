//! API keys: owned by a user, stored as a hash, revoked rather than deleted.

use crate::db::{now_micros, Db};
use crate::error::Error;

/// A stored key (never the secret: only its hash is kept).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ApiKeyRow {
    pub id: i64,
    pub user_id: i64,
    pub name: String,
    pub prefix: String,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
}

macro_rules! columns {
    () => {
        "id, user_id, name, prefix, created_at, last_used_at"
    };
}

/// The owner of an active key, as authentication needs them.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct KeyOwner {
    pub key_id: i64,
    pub last_used_at: Option<i64>,
    pub user_id: i64,
    pub username: String,
    pub role: String,
}

pub async fn create(
    db: &Db,
    user_id: i64,
    name: &str,
    prefix: &str,
    key_hash: &str,
) -> Result<ApiKeyRow, Error> {
    Ok(sqlx::query_as(concat!(
        "INSERT INTO api_keys (user_id, name, prefix, key_hash, created_at) VALUES ($1, $2, $3, $4, $5) RETURNING ",
        columns!()
    ))
    .bind(user_id)
    .bind(name)
    .bind(prefix)
    .bind(key_hash)
    .bind(now_micros())
    .fetch_one(db.write())
    .await?)
}

/// A user's active keys, newest first.
pub async fn list_for(db: &Db, user_id: i64) -> Result<Vec<ApiKeyRow>, Error> {
    Ok(sqlx::query_as(concat!(
        "SELECT ",
        columns!(),
        " FROM api_keys WHERE user_id = $1 AND revoked_at IS NULL ORDER BY id DESC"
    ))
    .bind(user_id)
    .fetch_all(db.read())
    .await?)
}

/// The active key with this hash, and its owner.
pub async fn find_active(db: &Db, key_hash: &str) -> Result<Option<KeyOwner>, Error> {
    Ok(sqlx::query_as(
        "SELECT k.id AS key_id, k.last_used_at, u.id AS user_id, u.username, u.role \
         FROM api_keys k JOIN users u ON u.id = k.user_id \
         WHERE k.key_hash = $1 AND k.revoked_at IS NULL",
    )
    .bind(key_hash)
    .fetch_optional(db.read())
    .await?)
}

/// Whether a key last used at `last_used_at` is due a [`touch`]: at most one a minute per key,
/// as it is a write.
pub fn touch_due(last_used_at: Option<i64>) -> bool {
    last_used_at.is_none_or(|at| now_micros() - at >= 60_000_000)
}

/// Records that a key was used.
pub async fn touch(db: &Db, key_id: i64) -> Result<(), Error> {
    sqlx::query("UPDATE api_keys SET last_used_at = $1 WHERE id = $2")
        .bind(now_micros())
        .bind(key_id)
        .execute(db.write())
        .await?;
    Ok(())
}

/// Revokes a key; `owner` limits it to that user's keys (others' are "not found").
pub async fn revoke(db: &Db, key_id: i64, owner: Option<i64>) -> Result<(), Error> {
    let result = sqlx::query(
        "UPDATE api_keys SET revoked_at = $1 \
         WHERE id = $2 AND ($3 IS NULL OR user_id = $3) AND revoked_at IS NULL",
    )
    .bind(now_micros())
    .bind(key_id)
    .bind(owner)
    .execute(db.write())
    .await?;
    if result.rows_affected() == 0 {
        return Err(Error::NotFound("API key"));
    }
    Ok(())
}

/// One active key; `owner` limits it to that user's keys (others' are "not found").
pub async fn get(db: &Db, key_id: i64, owner: Option<i64>) -> Result<ApiKeyRow, Error> {
    let row: Option<ApiKeyRow> =
        sqlx::query_as(concat!("SELECT ", columns!(), " FROM api_keys WHERE id = $1 AND revoked_at IS NULL"))
            .bind(key_id)
            .fetch_optional(db.read())
            .await?;
    row.filter(|row| owner.is_none_or(|user_id| row.user_id == user_id)).ok_or(Error::NotFound("API key"))
}
