//! Customers: one table that API v1 and v2 both read and write; unique emails (ignoring case)
//! and phones (ignoring punctuation), each taken one reported by the field it is.

use async_trait::async_trait;

use super::{locked, page_of, Sql, SqlStore, Tx};
use crate::domain::*;
use crate::error::Error;
use crate::store::{next_update, now_micros, violation, CustomerStore, Violation};

macro_rules! customer_columns {
    () => {
        "id, name, city, email, phone, photo_key, version, created_at, updated_at"
    };
}

#[async_trait]
impl CustomerStore for SqlStore {
    async fn customers(
        &self,
        filter: &CustomerFilter,
        start: Start<Id>,
        limit: i64,
    ) -> Result<Page<Customer>, Error> {
        let mut page = Sql::new(concat!("SELECT ", customer_columns!(), " FROM customers"));
        push_filter(&mut page, filter);
        page.page_by_id(&start, limit);
        let total = async {
            match start {
                Start::Offset(_) => {
                    let mut count = Sql::new("SELECT count(*) FROM customers");
                    push_filter(&mut count, filter);
                    let (total,): (i64,) = self.fetch_one(&count.text, &count.args).await?;
                    Ok::<_, Error>(Some(total))
                }
                _ => Ok(None),
            }
        };
        let rows = self.fetch_all::<Customer>(&page.text, &page.args);
        let (items, total) = tokio::try_join!(rows, total)?;
        Ok(page_of(items, total, start, limit))
    }

    async fn customer(&self, id: Id) -> Result<Customer, Error> {
        self.fetch_optional(
            concat!("SELECT ", customer_columns!(), " FROM customers WHERE id = $1"),
            &[id.into()],
        )
        .await?
        .ok_or(Error::NotFound("customer"))
    }

    async fn customer_by_email(&self, email: &str) -> Result<Option<Customer>, Error> {
        Ok(sqlx::query_as(concat!("SELECT ", customer_columns!(), " FROM customers WHERE email_key = $1"))
            .bind(name_key(email))
            .fetch_optional(&mut *self.reader().await?)
            .await?)
    }

    async fn customer_create(&self, new: &NewCustomer, photo_key: Option<&str>) -> Result<Customer, Error> {
        let created = sqlx::query_as(concat!(
            "INSERT INTO customers (name, name_key, city, city_key, email, email_key, phone, phone_key, \
             created_at, updated_at, photo_key) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9, $10) RETURNING ",
            customer_columns!()
        ))
        .bind(&new.name)
        .bind(name_key(&new.name))
        .bind(&new.city)
        .bind(name_key(&new.city))
        .bind(&new.email)
        .bind(name_key(&new.email))
        .bind(new.phone.as_deref())
        .bind(new.phone.as_deref().map(phone_key))
        .bind(now_micros())
        .bind(photo_key)
        .fetch_one(&mut *self.writer().await?)
        .await;
        match created {
            Ok(customer) => Ok(customer),
            Err(e) => Err(self.taken(e, &new.email, new.phone.as_deref(), None).await),
        }
    }

    async fn customer_update(
        &self,
        id: Id,
        changes: &CustomerChanges,
        check: Check<'_, Customer>,
    ) -> Result<Customer, Error> {
        let mut tx = self.begin().await?;
        let current = lock_customer(&mut tx, id, check).await?;
        let name = changes.name.as_ref().unwrap_or(&current.name);
        let city = changes.city.as_ref().unwrap_or(&current.city);
        let email = changes.email.as_ref().unwrap_or(&current.email);
        let phone = changes.phone.as_ref().or(current.phone.as_ref());
        let updated = sqlx::query_as(concat!(
            "UPDATE customers SET name = $1, name_key = $2, city = $3, city_key = $4, email = $5, \
             email_key = $6, phone = $7, phone_key = $8, version = version + 1, updated_at = $9 \
             WHERE id = $10 RETURNING ",
            customer_columns!()
        ))
        .bind(name)
        .bind(name_key(name))
        .bind(city)
        .bind(name_key(city))
        .bind(email)
        .bind(name_key(email))
        .bind(phone.map(String::as_str))
        .bind(phone.map(|p| phone_key(p)))
        .bind(next_update(current.updated_at))
        .bind(id)
        .fetch_one(&mut *tx)
        .await;
        match updated {
            Ok(customer) => {
                tx.commit().await?;
                Ok(customer)
            }
            Err(e) => {
                tx.rollback().await?;
                Err(self.taken(e, email, phone.map(String::as_str), Some(id)).await)
            }
        }
    }

    async fn customer_set_photo(
        &self,
        id: Id,
        photo_key: Option<&str>,
        check: Check<'_, Customer>,
    ) -> Result<(Customer, Option<String>), Error> {
        let mut tx = self.begin().await?;
        let current = lock_customer(&mut tx, id, check).await?;
        let updated = sqlx::query_as(concat!(
            "UPDATE customers SET photo_key = $1, version = version + 1, updated_at = $2 WHERE id = $3 \
             RETURNING ",
            customer_columns!()
        ))
        .bind(photo_key)
        .bind(next_update(current.updated_at))
        .bind(id)
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok((updated, current.photo_key))
    }

    async fn customer_delete(&self, id: Id, check: Check<'_, Customer>) -> Result<Customer, Error> {
        let mut tx = self.begin().await?;
        let current = lock_customer(&mut tx, id, check).await?;
        sqlx::query("DELETE FROM customers WHERE id = $1").bind(id).execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(current)
    }
}

impl SqlStore {
    /// The error of a failed customer write: a unique violation becomes [`Error::Taken`] naming
    /// the field whose key another customer (not `except`) already has, found by looking the
    /// keys up (SQLite does not report which index a violation is of, so neither back-end relies
    /// on the constraint's name or the database's message).
    async fn taken(&self, error: sqlx::Error, email: &str, phone: Option<&str>, except: Option<Id>) -> Error {
        if violation(&error) != Some(Violation::Unique) {
            return error.into();
        }
        // 1 when the email is the one taken, 0 when only the phone is.
        let clash: Result<Option<(i64,)>, Error> = async {
            Ok(sqlx::query_as(
                "SELECT CAST(CASE WHEN email_key = $1 THEN 1 ELSE 0 END AS BIGINT) FROM customers \
                 WHERE (email_key = $1 OR phone_key = $2) AND id <> $3 ORDER BY 1 DESC LIMIT 1",
            )
            .bind(name_key(email))
            .bind(phone.map(phone_key))
            .bind(except.unwrap_or(0))
            .fetch_optional(&mut *self.reader().await?)
            .await?)
        }
        .await;
        match clash {
            Ok(Some((1,))) => taken_email(),
            Ok(Some(_)) => taken_phone(),
            // The other customer is gone already (deleted meanwhile): still a conflict.
            Ok(None) => Error::Conflict("another customer has the same email or phone; try again".into()),
            Err(e) => e,
        }
    }
}

fn taken_email() -> Error {
    Error::Taken { field: "email", message: "another customer has this email address".into() }
}

fn taken_phone() -> Error {
    Error::Taken { field: "phone", message: "another customer has this phone number".into() }
}

fn push_filter(sql: &mut Sql, filter: &CustomerFilter) {
    if let Some(city) = &filter.city {
        sql.and().push("city_key = ").bind(name_key(city));
    }
    if let Some(q) = &filter.q {
        let escaped = name_key(q).replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
        sql.and().push("name_key LIKE ").bind(format!("%{escaped}%")).push(" ESCAPE '\\'");
    }
}

/// The customer a write changes, locked for the transaction.
async fn lock_customer(tx: &mut Tx, id: Id, check: Check<'_, Customer>) -> Result<Customer, Error> {
    let sql = for_update!(concat!("SELECT ", customer_columns!(), " FROM customers WHERE id = $1"));
    locked(tx, sql, id, "customer", check).await
}
