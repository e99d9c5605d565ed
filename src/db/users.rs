//! Users: accounts with a role; usernames and emails unique ignoring case.

use crate::db::page::{list_by_id, Page, Start};
use crate::db::{
    locked, name_key, next_update, now_micros, violation, Db, Precondition, Tx, Version, Versioned, Violation,
};
use crate::error::Error;

/// A stored user (without the password hash, which only login reads).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct UserRow {
    pub id: i64,
    pub username: String,
    pub email: String,
    pub role: String,
    pub version: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

macro_rules! columns {
    () => {
        "id, username, email, role, version, created_at, updated_at"
    };
}

impl Versioned for UserRow {
    fn version(&self) -> Version {
        Version { version: self.version, created_at: self.created_at }
    }
}

/// What a new account is made of.
#[derive(Debug, Clone)]
pub struct NewUser {
    pub username: String,
    pub email: String,
    pub password_hash: String,
    pub role: &'static str,
}

pub async fn create(db: &Db, new: &NewUser) -> Result<UserRow, Error> {
    let now = now_micros();
    sqlx::query_as(concat!(
        "INSERT INTO users (username, username_key, email, email_key, password_hash, role, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $7) RETURNING ",
        columns!()
    ))
    .bind(&new.username)
    .bind(name_key(&new.username))
    .bind(&new.email)
    .bind(name_key(&new.email))
    .bind(&new.password_hash)
    .bind(new.role)
    .bind(now)
    .fetch_one(db.write())
    .await
    .map_err(taken)
}

pub async fn get(db: &Db, id: i64) -> Result<UserRow, Error> {
    sqlx::query_as(concat!("SELECT ", columns!(), " FROM users WHERE id = $1"))
        .bind(id)
        .fetch_optional(db.read())
        .await?
        .ok_or(Error::NotFound("user"))
}

/// The user with this username (any case) and their password hash, for login.
pub async fn find_for_login(db: &Db, username: &str) -> Result<Option<(UserRow, String)>, Error> {
    #[derive(sqlx::FromRow)]
    struct WithHash {
        #[sqlx(flatten)]
        user: UserRow,
        password_hash: String,
    }
    let row: Option<WithHash> =
        sqlx::query_as(concat!("SELECT ", columns!(), ", password_hash FROM users WHERE username_key = $1"))
            .bind(name_key(username))
            .fetch_optional(db.read())
            .await?;
    Ok(row.map(|r| (r.user, r.password_hash)))
}

pub async fn list(db: &Db, start: Start<i64>, limit: i64) -> Result<Page<UserRow>, Error> {
    list_by_id(db, "users", columns!(), start, limit).await
}

/// Changes a user's role and/or email. Refuses to leave the service without an admin.
pub async fn update(
    db: &Db,
    id: i64,
    role: Option<&str>,
    email: Option<&str>,
    precondition: Precondition<'_>,
) -> Result<UserRow, Error> {
    let mut tx = db.write().begin().await?;
    let current = lock(&mut tx, db, id, precondition).await?;
    if current.role == "admin" && role.is_some_and(|r| r != "admin") && admins(&mut tx, db).await? <= 1 {
        return Err(Error::Conflict("this is the last admin; make another admin first".into()));
    }
    let email = email.unwrap_or(&current.email);
    let row = sqlx::query_as(concat!(
        "UPDATE users SET role = $1, email = $2, email_key = $3, version = version + 1, updated_at = $4 \
         WHERE id = $5 RETURNING ",
        columns!()
    ))
    .bind(role.unwrap_or(&current.role))
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

/// Deletes a user; their tokens and API keys go with them (foreign keys cascade).
pub async fn delete(db: &Db, id: i64, precondition: Precondition<'_>) -> Result<(), Error> {
    let mut tx = db.write().begin().await?;
    let current = lock(&mut tx, db, id, precondition).await?;
    if current.role == "admin" && admins(&mut tx, db).await? <= 1 {
        return Err(Error::Conflict("this is the last admin; make another admin first".into()));
    }
    sqlx::query("DELETE FROM users WHERE id = $1").bind(id).execute(&mut *tx).await?;
    tx.commit().await?;
    Ok(())
}

/// The user a write changes, locked for the transaction: 404 when there is none, 412 when the
/// precondition fails.
async fn lock(tx: &mut Tx, db: &Db, id: i64, precondition: Precondition<'_>) -> Result<UserRow, Error> {
    let sql = select_for_update!(db, concat!("SELECT ", columns!(), " FROM users WHERE id = $1"));
    locked(tx, sql, id, "user", precondition).await
}

/// How many admins there are, their rows locked (on PostgreSQL) so that two admins cannot
/// demote each other at the same moment and leave none.
async fn admins(tx: &mut Tx, db: &Db) -> Result<usize, Error> {
    let rows: Vec<(i64,)> =
        sqlx::query_as(select_for_update!(db, "SELECT id FROM users WHERE role = 'admin'"))
            .fetch_all(&mut **tx)
            .await?;
    Ok(rows.len())
}

fn taken(error: sqlx::Error) -> Error {
    match violation(&error) {
        Some(Violation::Unique) => Error::Conflict("that username or email is already registered".into()),
        _ => error.into(),
    }
}
