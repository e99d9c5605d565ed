//! Refresh tokens: rotation within a login's family, and revocation of the whole family when
//! a rotated token is presented again.

use crate::db::{now_micros, Db, Tx};
use crate::error::Error;

/// What presenting a refresh token led to.
#[derive(Debug, PartialEq, Eq)]
pub enum Refreshed {
    /// The token was current: it is now used, and `new_hash` continues the family.
    Rotated { user_id: i64 },
    /// Unknown, expired or revoked.
    Invalid,
    /// Already rotated: someone replayed it. The family is now revoked.
    Reused,
}

/// Starts a login's family with its first refresh token.
pub async fn start_family(db: &Db, user_id: i64, token_hash: &str, ttl_micros: i64) -> Result<(), Error> {
    let family = uuid::Uuid::new_v4().simple().to_string();
    let mut conn = db.write().acquire().await?;
    insert(&mut conn, user_id, &family, token_hash, now_micros(), ttl_micros).await
}

/// Presents `token_hash`: rotates it to `new_hash` when it is current.
pub async fn rotate(db: &Db, token_hash: &str, new_hash: &str, ttl_micros: i64) -> Result<Refreshed, Error> {
    let mut tx = db.write().begin().await?;
    let now = now_micros();
    #[derive(sqlx::FromRow)]
    struct Stored {
        user_id: i64,
        family: String,
        expires_at: i64,
        used_at: Option<i64>,
        revoked_at: Option<i64>,
    }
    let found: Option<Stored> = sqlx::query_as(select_for_update!(
        db,
        "SELECT user_id, family, expires_at, used_at, revoked_at FROM refresh_tokens WHERE token_hash = $1"
    ))
    .bind(token_hash)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(Stored { user_id, family, expires_at, used_at, revoked_at }) = found else {
        return Ok(Refreshed::Invalid);
    };
    if revoked_at.is_some() || expires_at <= now {
        return Ok(Refreshed::Invalid);
    }
    if used_at.is_some() {
        revoke_family_in(&mut tx, &family, now).await?;
        tx.commit().await?;
        return Ok(Refreshed::Reused);
    }
    sqlx::query("UPDATE refresh_tokens SET used_at = $1 WHERE token_hash = $2")
        .bind(now)
        .bind(token_hash)
        .execute(&mut *tx)
        .await?;
    insert(&mut tx, user_id, &family, new_hash, now, ttl_micros).await?;
    tx.commit().await?;
    Ok(Refreshed::Rotated { user_id })
}

/// Revokes the family of `token_hash` (logout); nothing happens for an unknown token.
pub async fn revoke(db: &Db, token_hash: &str) -> Result<(), Error> {
    sqlx::query(
        "UPDATE refresh_tokens SET revoked_at = $1 \
         WHERE family = (SELECT family FROM refresh_tokens WHERE token_hash = $2) AND revoked_at IS NULL",
    )
    .bind(now_micros())
    .bind(token_hash)
    .execute(db.write())
    .await?;
    Ok(())
}

/// Stores a refresh token of `family`, valid for `ttl_micros` from `now`.
async fn insert(
    conn: &mut sqlx::AnyConnection,
    user_id: i64,
    family: &str,
    token_hash: &str,
    now: i64,
    ttl_micros: i64,
) -> Result<(), Error> {
    sqlx::query(
        "INSERT INTO refresh_tokens (user_id, family, token_hash, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(user_id)
    .bind(family)
    .bind(token_hash)
    .bind(now)
    .bind(now.saturating_add(ttl_micros))
    .execute(conn)
    .await?;
    Ok(())
}

async fn revoke_family_in(tx: &mut Tx, family: &str, now: i64) -> Result<(), Error> {
    sqlx::query("UPDATE refresh_tokens SET revoked_at = $1 WHERE family = $2 AND revoked_at IS NULL")
        .bind(now)
        .bind(family)
        .execute(&mut **tx)
        .await?;
    Ok(())
}
