//! Users, refresh-token families and API keys.

use async_trait::async_trait;

use super::{list_by_id, locked, SqlStore, Tx};
use crate::domain::*;
use crate::error::Error;
use crate::store::{next_update, now_micros, violation, AccountStore, Violation};

macro_rules! user_columns {
    () => {
        "id, username, email, role, version, created_at, updated_at"
    };
}

macro_rules! key_columns {
    () => {
        "id, user_id, name, prefix, created_at, last_used_at"
    };
}

#[async_trait]
impl AccountStore for SqlStore {
    async fn user_create(&self, new: &NewUser) -> Result<User, Error> {
        sqlx::query_as(concat!(
            "INSERT INTO users (username, username_key, email, email_key, password_hash, role, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $7) RETURNING ",
            user_columns!()
        ))
        .bind(&new.username)
        .bind(name_key(&new.username))
        .bind(&new.email)
        .bind(name_key(&new.email))
        .bind(&new.password_hash)
        .bind(new.role.as_str())
        .bind(now_micros())
        .fetch_one(&mut *self.writer().await?)
        .await
        .map_err(taken)
    }

    async fn user(&self, id: Id) -> Result<User, Error> {
        self.fetch_optional(concat!("SELECT ", user_columns!(), " FROM users WHERE id = $1"), &[id.into()])
            .await?
            .ok_or(Error::NotFound("user"))
    }

    async fn user_for_login(&self, username: &str) -> Result<Option<(User, String)>, Error> {
        #[derive(sqlx::FromRow)]
        struct WithHash {
            #[sqlx(flatten)]
            user: User,
            password_hash: String,
        }
        let row: Option<WithHash> = sqlx::query_as(concat!(
            "SELECT ",
            user_columns!(),
            ", password_hash FROM users WHERE username_key = $1"
        ))
        .bind(name_key(username))
        .fetch_optional(&mut *self.reader().await?)
        .await?;
        Ok(row.map(|r| (r.user, r.password_hash)))
    }

    async fn users(&self, start: Start<Id>, limit: i64) -> Result<Page<User>, Error> {
        list_by_id(self, "users", user_columns!(), start, limit).await
    }

    async fn user_update(&self, id: Id, changes: &UserChanges, check: UserCheck<'_>) -> Result<User, Error> {
        let mut tx = self.begin().await?;
        let current = lock_user(&mut tx, id, check).await?;
        let email = changes.email.as_deref().unwrap_or(&current.email);
        let row = sqlx::query_as(concat!(
            "UPDATE users SET role = $1, email = $2, email_key = $3, version = version + 1, updated_at = $4 \
             WHERE id = $5 RETURNING ",
            user_columns!()
        ))
        .bind(changes.role.unwrap_or(current.role).as_str())
        .bind(email)
        .bind(name_key(email))
        .bind(next_update(current.updated_at))
        .bind(id)
        .fetch_one(&mut *tx)
        .await
        .map_err(taken)?;
        tx.commit().await?;
        Ok(row)
    }

    async fn user_delete(&self, id: Id, check: UserCheck<'_>) -> Result<(), Error> {
        let mut tx = self.begin().await?;
        lock_user(&mut tx, id, check).await?;
        sqlx::query("DELETE FROM users WHERE id = $1").bind(id).execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn session_start(
        &self,
        user_id: Id,
        family: &str,
        token_hash: &str,
        now: i64,
        expires_at: i64,
    ) -> Result<(), Error> {
        let mut conn = self.writer().await?;
        insert_refresh(&mut conn, user_id, family, token_hash, now, expires_at).await
    }

    async fn session_rotate(
        &self,
        token_hash: &str,
        new_hash: &str,
        now: i64,
        expires_at: i64,
    ) -> Result<Refreshed, Error> {
        #[derive(sqlx::FromRow)]
        struct Stored {
            user_id: i64,
            family: String,
            expires_at: i64,
            used_at: Option<i64>,
            revoked_at: Option<i64>,
        }
        let mut tx = self.begin().await?;
        let found: Option<Stored> = sqlx::query_as(for_update!(
            "SELECT user_id, family, expires_at, used_at, revoked_at FROM refresh_tokens WHERE token_hash = $1"
        ))
        .bind(token_hash)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(stored) = found else { return Ok(Refreshed::Invalid) };
        if stored.revoked_at.is_some() || stored.expires_at <= now {
            return Ok(Refreshed::Invalid);
        }
        if stored.used_at.is_some() {
            sqlx::query("UPDATE refresh_tokens SET revoked_at = $1 WHERE family = $2 AND revoked_at IS NULL")
                .bind(now)
                .bind(&stored.family)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            return Ok(Refreshed::Reused);
        }
        sqlx::query("UPDATE refresh_tokens SET used_at = $1 WHERE token_hash = $2")
            .bind(now)
            .bind(token_hash)
            .execute(&mut *tx)
            .await?;
        insert_refresh(&mut tx, stored.user_id, &stored.family, new_hash, now, expires_at).await?;
        tx.commit().await?;
        Ok(Refreshed::Rotated { user_id: stored.user_id, family: stored.family })
    }

    async fn session_revoke(&self, token_hash: &str, now: i64) -> Result<(), Error> {
        sqlx::query(
            "UPDATE refresh_tokens SET revoked_at = $1 \
             WHERE family = (SELECT family FROM refresh_tokens WHERE token_hash = $2) AND revoked_at IS NULL",
        )
        .bind(now)
        .bind(token_hash)
        .execute(&mut *self.writer().await?)
        .await?;
        Ok(())
    }

    async fn session_of(&self, token_hash: &str) -> Result<Option<String>, Error> {
        Ok(sqlx::query_scalar("SELECT family FROM refresh_tokens WHERE token_hash = $1")
            .bind(token_hash)
            .fetch_optional(&mut *self.reader().await?)
            .await?)
    }

    async fn user_in_session(&self, id: Id, family: &str) -> Result<Option<User>, Error> {
        // The generation before the read (see `store::cache`); a login found alive is kept, one
        // that ended is not (it cannot come back).
        let key = (id, family.to_string());
        let generation = self.accounts.current();
        if let Some(user) = self.sessions.get(&key, generation) {
            return Ok(Some(user));
        }
        let user: Option<User> = sqlx::query_as(concat!(
            "SELECT ",
            user_columns!(),
            " FROM users WHERE id = $1 AND EXISTS (SELECT 1 FROM refresh_tokens r \
               WHERE r.family = $2 AND r.user_id = users.id AND r.revoked_at IS NULL)"
        ))
        .bind(id)
        .bind(family)
        .fetch_optional(&mut *self.reader().await?)
        .await?;
        if let Some(user) = &user {
            self.sessions.put(generation, key, user);
        }
        Ok(user)
    }

    async fn api_key_create(
        &self,
        user_id: Id,
        name: &str,
        prefix: &str,
        key_hash: &str,
        max_active: i64,
    ) -> Result<ApiKey, Error> {
        let mut tx = self.begin().await?;
        // The owner's row, locked: two keys created at once are counted one after the other.
        let owner: Option<i64> = sqlx::query_scalar(for_update!("SELECT id FROM users WHERE id = $1"))
            .bind(user_id)
            .fetch_optional(&mut *tx)
            .await?;
        owner.ok_or(Error::NotFound("user"))?;
        let active: i64 =
            sqlx::query_scalar("SELECT count(*) FROM api_keys WHERE user_id = $1 AND revoked_at IS NULL")
                .bind(user_id)
                .fetch_one(&mut *tx)
                .await?;
        if active >= max_active {
            return Err(Error::Conflict(format!(
                "an account may have {max_active} active API keys; revoke one before creating another"
            )));
        }
        let key = sqlx::query_as(concat!(
            "INSERT INTO api_keys (user_id, name, prefix, key_hash, created_at) VALUES ($1, $2, $3, $4, $5) RETURNING ",
            key_columns!()
        ))
        .bind(user_id)
        .bind(name)
        .bind(prefix)
        .bind(key_hash)
        .bind(now_micros())
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(key)
    }

    async fn api_keys_of(&self, user_id: Id) -> Result<Vec<ApiKey>, Error> {
        Ok(sqlx::query_as(concat!(
            "SELECT ",
            key_columns!(),
            " FROM api_keys WHERE user_id = $1 AND revoked_at IS NULL ORDER BY id DESC"
        ))
        .bind(user_id)
        .fetch_all(&mut *self.reader().await?)
        .await?)
    }

    async fn api_key(&self, id: Id, owner: Option<Id>) -> Result<ApiKey, Error> {
        let row: Option<ApiKey> = sqlx::query_as(concat!(
            "SELECT ",
            key_columns!(),
            " FROM api_keys WHERE id = $1 AND revoked_at IS NULL"
        ))
        .bind(id)
        .fetch_optional(&mut *self.reader().await?)
        .await?;
        row.filter(|row| owner.is_none_or(|user_id| row.user_id == user_id)).ok_or(Error::NotFound("API key"))
    }

    async fn api_key_owner(&self, key_hash: &str) -> Result<Option<KeyOwner>, Error> {
        Ok(sqlx::query_as(
            "SELECT k.id AS key_id, k.last_used_at, u.id AS user_id, u.username, u.role \
             FROM api_keys k JOIN users u ON u.id = k.user_id \
             WHERE k.key_hash = $1 AND k.revoked_at IS NULL",
        )
        .bind(key_hash)
        .fetch_optional(&mut *self.reader().await?)
        .await?)
    }

    async fn api_key_touch(&self, id: Id) -> Result<(), Error> {
        sqlx::query("UPDATE api_keys SET last_used_at = $1 WHERE id = $2")
            .bind(now_micros())
            .bind(id)
            .execute(&mut *self.writer().await?)
            .await?;
        Ok(())
    }

    async fn api_key_revoke(&self, id: Id, owner: Option<Id>) -> Result<(), Error> {
        let result = sqlx::query(
            "UPDATE api_keys SET revoked_at = $1 \
             WHERE id = $2 AND ($3 IS NULL OR user_id = $3) AND revoked_at IS NULL",
        )
        .bind(now_micros())
        .bind(id)
        .bind(owner)
        .execute(&mut *self.writer().await?)
        .await?;
        if result.rows_affected() == 0 {
            return Err(Error::NotFound("API key"));
        }
        Ok(())
    }
}

/// The user a write changes, locked for the transaction, checked with the number of admins
/// (their rows locked too on PostgreSQL, so that two admins cannot demote each other at the same
/// moment and leave none).
async fn lock_user(tx: &mut Tx, id: Id, check: UserCheck<'_>) -> Result<User, Error> {
    let sql = for_update!(concat!("SELECT ", user_columns!(), " FROM users WHERE id = $1"));
    let user: User = locked(tx, sql, id, "user", &unchecked).await?;
    let admins: Vec<(i64,)> =
        sqlx::query_as(for_update!("SELECT id FROM users WHERE role = 'admin'")).fetch_all(&mut **tx).await?;
    check(&UserWrite { user: &user, admins: admins.len() })?;
    Ok(user)
}

/// Stores a refresh token of `family`.
async fn insert_refresh(
    conn: &mut <super::Db as sqlx::Database>::Connection,
    user_id: Id,
    family: &str,
    token_hash: &str,
    now: i64,
    expires_at: i64,
) -> Result<(), Error> {
    sqlx::query(
        "INSERT INTO refresh_tokens (user_id, family, token_hash, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(user_id)
    .bind(family)
    .bind(token_hash)
    .bind(now)
    .bind(expires_at)
    .execute(conn)
    .await?;
    Ok(())
}

fn taken(error: sqlx::Error) -> Error {
    match violation(&error) {
        Some(Violation::Unique) => Error::Conflict("that username or email is already registered".into()),
        _ => error.into(),
    }
}
