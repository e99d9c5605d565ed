//! Orders: placing one takes stock, cancelling one gives it back, each in one transaction with
//! the rows it checks locked (`for_update!`; SQLite's single writer serializes writes anyway).
//!
//! Products are always locked in ascending id order, and an order before its products, so two
//! writes never wait for each other in a cycle (PostgreSQL would break it by failing one).

use std::collections::BTreeMap;

use async_trait::async_trait;

use super::{locked, page_of, Db, Sql, SqlStore, Tx};
use crate::api::types::FieldError;
use crate::domain::*;
use crate::error::Error;
use crate::store::{next_update, now_micros, OrderStore};

macro_rules! order_columns {
    () => {
        "id, user_id, status, total_cents, version, created_at, updated_at"
    };
}

/// A product as placing an order sees it, locked.
#[derive(Debug, sqlx::FromRow)]
struct Stocked {
    id: Id,
    name: String,
    price_cents: i64,
    stock: i64,
    updated_at: i64,
}

#[async_trait]
impl OrderStore for SqlStore {
    async fn order_create(&self, user_id: Id, lines: &[OrderLine]) -> Result<Order, Error> {
        let mut tx = self.begin().await?;
        let mut ids: Vec<Id> = lines.iter().map(|line| line.product_id).collect();
        ids.sort_unstable();
        let mut select =
            Sql::new("SELECT id, name, price_cents, stock, updated_at FROM products WHERE id IN (");
        select.bind_list(&ids).push(") ORDER BY id").push(for_update!(""));
        let products: BTreeMap<Id, Stocked> =
            select.query_as::<Stocked>().fetch_all(&mut *tx).await?.into_iter().map(|p| (p.id, p)).collect();

        let mut missing = Vec::new();
        let mut short = Vec::new();
        let mut total: i64 = 0;
        for (i, line) in lines.iter().enumerate() {
            let Some(product) = products.get(&line.product_id) else {
                missing.push(FieldError {
                    field: format!("items.{i}.product_id"),
                    message: format!("names no existing product ({})", line.product_id),
                });
                continue;
            };
            if product.stock < line.quantity {
                short.push((i, product));
            }
            total = product
                .price_cents
                .checked_mul(line.quantity)
                .and_then(|amount| total.checked_add(amount))
                .ok_or_else(|| Error::invalid("items", "the order's total is too large"))?;
        }
        if !missing.is_empty() {
            return Err(Error::Invalid(missing));
        }
        if !short.is_empty() {
            return Err(out_of_stock(lines, &short));
        }

        // Conditional decrements: on PostgreSQL the rows are locked already, so each matches;
        // the condition keeps stock from going negative whatever the locking does.
        let now = now_micros();
        for line in lines {
            let product = &products[&line.product_id];
            let taken = sqlx::query(
                "UPDATE products SET stock = stock - $1, version = version + 1, updated_at = $2 \
                 WHERE id = $3 AND stock >= $1",
            )
            .bind(line.quantity)
            .bind(next_update(product.updated_at))
            .bind(line.product_id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if taken != 1 {
                let i = lines.iter().position(|l| l.product_id == line.product_id).unwrap_or(0);
                return Err(out_of_stock(lines, &[(i, product)]));
            }
        }
        let (id,): (i64,) = sqlx::query_as(
            "INSERT INTO orders (user_id, status, total_cents, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $4) RETURNING id",
        )
        .bind(user_id)
        .bind(OrderStatus::Pending.as_str())
        .bind(total)
        .bind(now)
        .fetch_one(&mut *tx)
        .await?;
        let mut insert = Sql::new(
            "INSERT INTO order_items (order_id, line, product_id, quantity, unit_price_cents) VALUES ",
        );
        for (i, line) in lines.iter().enumerate() {
            insert.push(if i == 0 { "(" } else { ", (" });
            insert
                .bind(id)
                .push(", ")
                .bind(i64::try_from(i).unwrap_or(i64::MAX))
                .push(", ")
                .bind(line.product_id)
                .push(", ")
                .bind(line.quantity)
                .push(", ")
                .bind(products[&line.product_id].price_cents)
                .push(")");
        }
        insert.query().execute(&mut *tx).await?;
        let order = reread(&mut tx, id).await?;
        tx.commit().await?;
        Ok(order)
    }

    async fn orders(&self, filter: &OrderFilter, start: Start<Id>, limit: i64) -> Result<Page<Order>, Error> {
        let mut page = Sql::new(concat!("SELECT ", order_columns!(), " FROM orders"));
        push_filter(&mut page, filter);
        page.page_by_id(&start, limit);
        let total = async {
            match start {
                Start::Offset(_) => {
                    let mut count = Sql::new("SELECT count(*) FROM orders");
                    push_filter(&mut count, filter);
                    let (total,): (i64,) = count.query_as().fetch_one(&mut *self.reader().await?).await?;
                    Ok::<_, Error>(Some(total))
                }
                _ => Ok(None),
            }
        };
        let rows = async {
            let mut connection = self.reader().await?;
            let mut orders: Vec<Order> = page.query_as().fetch_all(&mut *connection).await?;
            with_items(&mut connection, &mut orders).await?;
            Ok::<_, Error>(orders)
        };
        let (items, total) = tokio::try_join!(rows, total)?;
        Ok(page_of(items, total, start, limit))
    }

    async fn order(&self, id: Id) -> Result<Order, Error> {
        let mut connection = self.reader().await?;
        let order: Order = sqlx::query_as(concat!("SELECT ", order_columns!(), " FROM orders WHERE id = $1"))
            .bind(id)
            .fetch_optional(&mut *connection)
            .await?
            .ok_or(Error::NotFound("order"))?;
        let mut orders = vec![order];
        with_items(&mut connection, &mut orders).await?;
        Ok(orders.remove(0))
    }

    async fn order_set_status(
        &self,
        id: Id,
        status: OrderStatus,
        check: Check<'_, Order>,
    ) -> Result<Order, Error> {
        let mut tx = self.begin().await?;
        let sql = for_update!(concat!("SELECT ", order_columns!(), " FROM orders WHERE id = $1"));
        let current: Order = locked(&mut tx, sql, id, "order", check).await?;
        if status == OrderStatus::Cancelled {
            // Back to stock, once: the order is locked, and a cancelled order can change no more.
            let lines: Vec<OrderItem> = sqlx::query_as(
                "SELECT product_id, quantity, unit_price_cents FROM order_items WHERE order_id = $1 \
                 ORDER BY product_id",
            )
            .bind(id)
            .fetch_all(&mut *tx)
            .await?;
            let now = now_micros();
            for line in lines {
                // A product deleted since is not there to take its units back.
                sqlx::query(
                    "UPDATE products SET stock = stock + $1, version = version + 1, \
                     updated_at = CASE WHEN updated_at < $2 THEN $2 ELSE updated_at + 1 END WHERE id = $3",
                )
                .bind(line.quantity)
                .bind(now)
                .bind(line.product_id)
                .execute(&mut *tx)
                .await?;
            }
        }
        sqlx::query("UPDATE orders SET status = $1, version = version + 1, updated_at = $2 WHERE id = $3")
            .bind(status.as_str())
            .bind(next_update(current.updated_at))
            .bind(id)
            .execute(&mut *tx)
            .await?;
        let order = reread(&mut tx, id).await?;
        tx.commit().await?;
        Ok(order)
    }
}

fn push_filter(sql: &mut Sql, filter: &OrderFilter) {
    if let Some(user_id) = filter.user_id {
        sql.and().push("user_id = ").bind(user_id);
    }
    if let Some(status) = filter.status {
        sql.and().push("status = ").bind(status.as_str());
    }
}

/// Loads the lines of `orders`: one query for all of them.
async fn with_items(
    connection: &mut <Db as sqlx::Database>::Connection,
    orders: &mut [Order],
) -> Result<(), Error> {
    if orders.is_empty() {
        return Ok(());
    }
    let ids: Vec<Id> = orders.iter().map(|o| o.id).collect();
    let mut sql = Sql::new(
        "SELECT order_id, product_id, quantity, unit_price_cents FROM order_items WHERE order_id IN (",
    );
    sql.bind_list(&ids).push(") ORDER BY order_id, line");
    let rows: Vec<(Id, Id, i64, i64)> = sql.query_as().fetch_all(&mut *connection).await?;
    let mut by_order: BTreeMap<Id, Vec<OrderItem>> = BTreeMap::new();
    for (order_id, product_id, quantity, unit_price_cents) in rows {
        by_order.entry(order_id).or_default().push(OrderItem { product_id, quantity, unit_price_cents });
    }
    for order in orders {
        order.items = by_order.remove(&order.id).unwrap_or_default();
    }
    Ok(())
}

/// The order as the transaction now sees it, lines included.
async fn reread(tx: &mut Tx, id: Id) -> Result<Order, Error> {
    let order: Order = sqlx::query_as(concat!("SELECT ", order_columns!(), " FROM orders WHERE id = $1"))
        .bind(id)
        .fetch_optional(&mut **tx)
        .await?
        .ok_or(Error::NotFound("order"))?;
    let mut orders = vec![order];
    with_items(tx, &mut orders).await?;
    Ok(orders.remove(0))
}

/// 409 naming the products that stock cannot serve, and each short line.
fn out_of_stock(lines: &[OrderLine], short: &[(usize, &Stocked)]) -> Error {
    let named: Vec<String> = short
        .iter()
        .map(|(i, p)| {
            format!("product {} ({:?}): {} in stock, {} ordered", p.id, p.name, p.stock, lines[*i].quantity)
        })
        .collect();
    let errors = short
        .iter()
        .map(|(i, p)| FieldError {
            field: format!("items.{i}.quantity"),
            message: format!("product {} has {} in stock", p.id, p.stock),
        })
        .collect();
    Error::ConflictOn(format!("not enough stock for {}", named.join("; ")), errors)
}
