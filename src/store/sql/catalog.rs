//! Categories, tags and products: filters, sorts, offset and keyset pages; writes that keep
//! tags in step.

use std::collections::BTreeMap;

use async_trait::async_trait;

use super::{list_by_id, locked, Batch, Sql, SqlStore, Tx, MANY_STATEMENTS_PER_QUERY};
use crate::domain::*;
use crate::error::Error;
use crate::store::{next_update, now_micros, violation, CatalogStore, Violation};

macro_rules! category_columns {
    () => {
        "id, name, version, created_at, updated_at"
    };
}

/// A product's columns, tags included (kept in the row: migrations/*/20261130100001).
macro_rules! product_columns {
    () => {
        "p.id, p.name, p.name_key, p.description, p.price_cents, p.stock, \
         p.category_id, p.version, p.created_at, p.updated_at, p.tags"
    };
}

/// The same, unqualified: what a write returns (`RETURNING`).
macro_rules! product_returning {
    () => {
        "id, name, name_key, description, price_cents, stock, category_id, version, created_at, updated_at, tags"
    };
}

/// One product and its tags, by id.
const PRODUCT: &str = concat!("SELECT ", product_columns!(), " FROM products p WHERE p.id = $1");

#[async_trait]
impl CatalogStore for SqlStore {
    async fn categories(&self, start: Start<Id>, limit: i64) -> Result<Page<Category>, Error> {
        list_by_id(self, "categories", category_columns!(), start, limit).await
    }

    async fn category(&self, id: Id) -> Result<Category, Error> {
        self.fetch_optional(
            concat!("SELECT ", category_columns!(), " FROM categories WHERE id = $1"),
            &[id.into()],
        )
        .await?
        .ok_or(Error::NotFound("category"))
    }

    async fn category_named(&self, name: &str) -> Result<Option<Category>, Error> {
        Ok(sqlx::query_as(concat!("SELECT ", category_columns!(), " FROM categories WHERE name_key = $1"))
            .bind(name_key(name))
            .fetch_optional(&mut *self.reader().await?)
            .await?)
    }

    async fn category_create(&self, name: &str) -> Result<Category, Error> {
        sqlx::query_as(concat!(
            "INSERT INTO categories (name, name_key, created_at, updated_at) VALUES ($1, $2, $3, $3) RETURNING ",
            category_columns!()
        ))
        .bind(name)
        .bind(name_key(name))
        .bind(now_micros())
        .fetch_one(&mut *self.catalog_writer().await?)
        .await
        .map_err(|e| duplicate_category(e, name))
    }

    async fn category_rename(
        &self,
        id: Id,
        name: &str,
        check: Check<'_, Category>,
    ) -> Result<Category, Error> {
        let mut tx = self.catalog_begin().await?;
        let current = lock_category(&mut tx, id, check).await?;
        let row = sqlx::query_as(concat!(
            "UPDATE categories SET name = $1, name_key = $2, version = version + 1, updated_at = $3 \
             WHERE id = $4 RETURNING ",
            category_columns!()
        ))
        .bind(name)
        .bind(name_key(name))
        .bind(next_update(current.updated_at))
        .bind(id)
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| duplicate_category(e, name))?;
        tx.commit().await?;
        Ok(row)
    }

    async fn category_delete(&self, id: Id, check: Check<'_, Category>) -> Result<(), Error> {
        let mut tx = self.catalog_begin().await?;
        lock_category(&mut tx, id, check).await?;
        let in_use: Option<(i64,)> = sqlx::query_as("SELECT id FROM products WHERE category_id = $1 LIMIT 1")
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?;
        if in_use.is_some() {
            return Err(still_has_products());
        }
        // A product added meanwhile by another instance still trips the foreign key.
        sqlx::query("DELETE FROM categories WHERE id = $1").bind(id).execute(&mut *tx).await.map_err(
            |e| match violation(&e) {
                Some(Violation::ForeignKey) => still_has_products(),
                _ => e.into(),
            },
        )?;
        tx.commit().await?;
        Ok(())
    }

    async fn tags(&self, start: Start<Id>, limit: i64) -> Result<Page<Tag>, Error> {
        list_by_id(self, "tags", "id, name, created_at", start, limit).await
    }

    async fn tag(&self, id: Id) -> Result<Tag, Error> {
        self.fetch_optional("SELECT id, name, created_at FROM tags WHERE id = $1", &[id.into()])
            .await?
            .ok_or(Error::NotFound("tag"))
    }

    async fn products(
        &self,
        filter: &ProductFilter,
        sort: ProductSort,
        start: &Start<ProductKey>,
        limit: i64,
    ) -> Result<Page<Product>, Error> {
        // The page's rows are chosen in a subquery and only they get their tags: PostgreSQL
        // computes the select list for the rows an OFFSET skips too, so an offset page deep in
        // the list ran the tag subquery thousands of times (67 pages a second at random offsets
        // in 10,000 products; bench/README.md).
        let mut page = Sql::new(concat!("SELECT ", product_columns!(), " FROM (SELECT p.* FROM products p"));
        push_filter(&mut page, filter);
        // Going backwards (a "previous" page) reads the list in reverse, then flips the rows.
        let backwards = matches!(start, Start::Before(_));
        let descending = sort.descending != backwards;
        if let Start::After((value, id)) | Start::Before((value, id)) = start {
            let op = if descending { "<" } else { ">" };
            if sort.key == SortKey::Id {
                page.and().push(&format!("p.id {op} ")).bind(*id);
            } else {
                page.and().push(&format!("({}, p.id) {op} (", column(sort.key)));
                match value {
                    KeyValue::Int(v) => page.bind(*v),
                    KeyValue::Text(v) => page.bind(v.as_str()),
                };
                page.push(", ").bind(*id).push(")");
            }
        }
        let direction = if descending { "DESC" } else { "ASC" };
        let order = if sort.key == SortKey::Id {
            format!(" ORDER BY p.id {direction}")
        } else {
            format!(" ORDER BY {} {direction}, p.id {direction}", column(sort.key))
        };
        page.push(&order).limit(limit + 1);
        if let Start::Offset(offset) = start {
            page.push(" OFFSET ").bind(*offset);
        }
        page.push(") p").push(&order);
        let total = async {
            match start {
                Start::Offset(_) => {
                    let mut count = Sql::new("SELECT count(*) FROM products p");
                    push_filter(&mut count, filter);
                    let (total,): (i64,) = self.fetch_one(&count.text, &count.args).await?;
                    Ok::<_, Error>(Some(total))
                }
                _ => Ok(None),
            }
        };
        let rows = self.fetch_all::<Product>(&page.text, &page.args);
        let (mut items, total) = tokio::try_join!(rows, total)?;
        let overflow = items.len() as i64 > limit;
        items.truncate(usize::try_from(limit).unwrap_or(0));
        if backwards {
            items.reverse();
        }
        Ok(match start {
            Start::Offset(offset) => Page { items, total, more_after: overflow, more_before: *offset > 0 },
            Start::After(_) => Page { items, total: None, more_after: overflow, more_before: true },
            Start::Before(_) => Page { items, total: None, more_after: true, more_before: overflow },
        })
    }

    async fn product(&self, id: Id) -> Result<Product, Error> {
        // The generation before the read: see `store::cache`.
        let generation = self.generation.current();
        if let Some(product) = self.products.get(&id, generation) {
            return Ok(product);
        }
        let product: Product =
            self.fetch_optional(PRODUCT, &[id.into()]).await?.ok_or(Error::NotFound("product"))?;
        self.products.put(generation, product.id, &product);
        Ok(product)
    }

    async fn products_of_categories(&self, category_ids: &[Id]) -> Result<BTreeMap<Id, Vec<Product>>, Error> {
        let mut out: BTreeMap<Id, Vec<Product>> = BTreeMap::new();
        if category_ids.is_empty() {
            return Ok(out);
        }
        let mut sql =
            Sql::new(concat!("SELECT ", product_columns!(), " FROM products p WHERE p.category_id IN ("));
        sql.bind_list(category_ids).push(") ORDER BY p.category_id, p.id");
        for product in self.fetch_all::<Product>(&sql.text, &sql.args).await? {
            out.entry(product.category_id).or_default().push(product);
        }
        Ok(out)
    }

    async fn product_named(&self, name: &str) -> Result<bool, Error> {
        let found: Option<(i64,)> = sqlx::query_as("SELECT id FROM products WHERE name_key = $1 LIMIT 1")
            .bind(name_key(name))
            .fetch_optional(&mut *self.reader().await?)
            .await?;
        Ok(found.is_some())
    }

    async fn product_create(&self, new: &NewProduct) -> Result<Product, Error> {
        let now = now_micros();
        let by_key = tags_by_key(&new.tags);
        let keys: Vec<&str> = by_key.keys().map(String::as_str).collect();
        let mut batch = Batch::default();
        if !keys.is_empty() {
            // The tags that do not exist yet, the row with its tags' names, and its links.
            create_tags(&mut batch, &by_key, now);
        }
        insert_product(&mut batch, new, now, &keys);
        if !keys.is_empty() {
            link_tags(&mut batch, Linked::Inserted, &keys);
        }
        let mut rows: Vec<Product> = if keys.is_empty() && !self.grouped() {
            // One statement, atomic as it is: no transaction.
            batch.run(&mut *self.catalog_writer().await?).await.map_err(missing_category)?
        } else {
            self.catalog_transaction(batch, missing_category).await?
        };
        rows.pop().ok_or(Error::NotFound("product"))
    }

    async fn product_update(
        &self,
        id: Id,
        changes: &ProductChanges,
        check: Check<'_, Product>,
    ) -> Result<Product, Error> {
        let mut tx = self.catalog_begin().await?;
        let current = lock_product(&mut tx, id, check).await?;
        let name = changes.name.as_ref().unwrap_or(&current.name);
        // The row's update, the tags' and the product as it then is: one batch.
        let mut batch = Batch::default();
        let update = batch.then("UPDATE products SET name = ");
        update
            .bind(name.as_str())
            .push(", name_key = ")
            .bind(name_key(name))
            .push(", description = ")
            .bind(changes.description.as_ref().unwrap_or(&current.description).as_str())
            .push(", price_cents = ")
            .bind(changes.price_cents.unwrap_or(current.price_cents))
            .push(", stock = ")
            .bind(changes.stock.unwrap_or(current.stock))
            .push(", category_id = ")
            .bind(changes.category_id.unwrap_or(current.category_id))
            .push(", version = version + 1, updated_at = ")
            .bind(next_update(current.updated_at))
            .push(" WHERE id = ")
            .bind(id);
        match &changes.tags {
            None => {
                update.push(concat!(" RETURNING ", product_returning!()));
            }
            Some(names) => {
                set_tags(&mut batch, id, names, true);
                retag(&mut batch, id);
            }
        }
        let product = returned(&mut tx, &batch).await?;
        tx.commit().await?;
        Ok(product)
    }

    async fn product_delete(&self, id: Id, check: Check<'_, Product>) -> Result<(), Error> {
        let mut tx = self.catalog_begin().await?;
        lock_product(&mut tx, id, check).await?;
        sqlx::query("DELETE FROM products WHERE id = $1").bind(id).execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(())
    }
}

/// Adds to `batch` the row of `new`, created at `now`, which it returns; its `tags` are the
/// names of the tags of `keys`, which exist by then (none: the column's default, `[]`).
fn insert_product(batch: &mut Batch, new: &NewProduct, now: i64, keys: &[&str]) {
    let insert = batch.then(
        "INSERT INTO products (name, name_key, description, price_cents, stock, category_id, created_at, updated_at",
    );
    insert.push(if keys.is_empty() { ") VALUES (" } else { ", tags) VALUES (" });
    insert
        .bind(new.name.as_str())
        .push(", ")
        .bind(name_key(&new.name))
        .push(", ")
        .bind(new.description.as_str())
        .push(", ")
        .bind(new.price_cents)
        .push(", ")
        .bind(new.stock)
        .push(", ")
        .bind(new.category_id)
        .push(", ")
        .bind(now)
        .push(", ")
        .bind(now);
    if !keys.is_empty() {
        insert.push(concat!(", ", tag_names_of!(open))).bind_list(keys).push(tag_names_of!(close));
    }
    insert.push(concat!(") RETURNING ", product_returning!()));
}

fn column(key: SortKey) -> &'static str {
    match key {
        SortKey::Id => "p.id",
        SortKey::Name => "p.name_key",
        SortKey::Price => "p.price_cents",
        SortKey::CreatedAt => "p.created_at",
        SortKey::UpdatedAt => "p.updated_at",
    }
}

fn push_filter(sql: &mut Sql, filter: &ProductFilter) {
    if let Some(category_id) = filter.category_id {
        sql.and().push("p.category_id = ").bind(category_id);
    }
    if let Some(tag) = &filter.tag {
        sql.and()
            .push(
                "EXISTS (SELECT 1 FROM product_tags pt JOIN tags t ON t.id = pt.tag_id \
                 WHERE pt.product_id = p.id AND t.name_key = ",
            )
            .bind(name_key(tag))
            .push(")");
    }
    if let Some(min) = filter.min_price_cents {
        sql.and().push("p.price_cents >= ").bind(min);
    }
    if let Some(max) = filter.max_price_cents {
        sql.and().push("p.price_cents <= ").bind(max);
    }
    match filter.in_stock {
        Some(true) => {
            sql.and().push("p.stock > 0");
        }
        Some(false) => {
            sql.and().push("p.stock = 0");
        }
        None => {}
    }
    if let Some(q) = &filter.q {
        let escaped = name_key(q).replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
        sql.and().push("p.name_key LIKE ").bind(format!("%{escaped}%")).push(" ESCAPE '\\'");
    }
}

/// Tag names by their key: names that differ only in case are one tag, spelled as it was first
/// given.
fn tags_by_key(names: &[String]) -> BTreeMap<String, &str> {
    let mut by_key = BTreeMap::new();
    for name in names {
        by_key.entry(name_key(name)).or_insert(name.as_str());
    }
    by_key
}

/// Adds to `batch` what creates the tags of `by_key` that do not exist yet (an existing tag keeps
/// the spelling it was created with).
///
/// Where a batch is one query (SQLite: [`MANY_STATEMENTS_PER_QUERY`]), one single-row statement
/// per tag: SQLite runs a statement that writes several rows inside a transaction under a
/// statement journal (a copy of every page it changes, to undo the statement alone), which
/// costs more than the extra statements. Elsewhere, where each statement is a round trip, one
/// statement for all the rows. The same for [`link_tags`].
fn create_tags(batch: &mut Batch, by_key: &BTreeMap<String, &str>, now: i64) {
    const INSERT: &str = "INSERT INTO tags (name, name_key, created_at) VALUES ";
    const ON_CONFLICT: &str = " ON CONFLICT (name_key) DO NOTHING";
    if MANY_STATEMENTS_PER_QUERY {
        for (key, name) in by_key {
            let insert = batch.then(INSERT).push("(");
            insert.bind(*name).push(", ").bind(key.as_str()).push(", ").bind(now).push(")").push(ON_CONFLICT);
        }
        return;
    }
    let insert = batch.then(INSERT);
    for (i, (key, name)) in by_key.iter().enumerate() {
        insert.push(if i == 0 { "(" } else { ", (" });
        insert.bind(*name).push(", ").bind(key.as_str()).push(", ").bind(now).push(")");
    }
    insert.push(ON_CONFLICT);
}

/// The product a batch links to tags.
#[derive(Debug, Clone, Copy)]
enum Linked {
    /// An existing product.
    Id(Id),
    /// The product the batch inserted last ([`last_insert_id!`]).
    Inserted,
}

/// Adds to `batch` what links `product` to the tags of `keys`, which exist by then (one
/// statement per link where a batch is one query: see [`create_tags`]).
fn link_tags(batch: &mut Batch, product: Linked, keys: &[&str]) {
    let product_id = |insert: &mut Sql| match product {
        Linked::Id(id) => {
            insert.bind(id);
        }
        Linked::Inserted => {
            insert.push(last_insert_id!());
        }
    };
    if MANY_STATEMENTS_PER_QUERY {
        for key in keys {
            let insert = batch.then("INSERT INTO product_tags (product_id, tag_id) VALUES (");
            product_id(insert);
            insert.push(", (SELECT id FROM tags WHERE name_key = ").bind(*key).push("))");
        }
        return;
    }
    let insert = batch.then("INSERT INTO product_tags (product_id, tag_id) SELECT ");
    product_id(insert);
    insert.push(", id FROM tags WHERE name_key IN (").bind_list(keys).push(")");
}

/// Adds to `batch` what sets the tags of a product to `names`, creating the tags that do not
/// exist yet. [`retag`] then stores their names in the product's row.
fn set_tags(batch: &mut Batch, product_id: Id, names: &[String], replacing: bool) {
    if replacing {
        batch.then("DELETE FROM product_tags WHERE product_id = ").bind(product_id);
    }
    let by_key = tags_by_key(names);
    if by_key.is_empty() {
        return;
    }
    create_tags(batch, &by_key, now_micros());
    let keys: Vec<&str> = by_key.keys().map(String::as_str).collect();
    link_tags(batch, Linked::Id(product_id), &keys);
}

/// Adds to `batch` what stores the names of the product's tags, as its links now are, in its
/// row, and returns the product.
fn retag(batch: &mut Batch, product_id: Id) {
    batch
        .then(concat!("UPDATE products SET tags = ", tag_names!(), " WHERE id = "))
        .bind(product_id)
        .push(concat!(" RETURNING ", product_returning!()));
}

/// Runs `batch`, whose only statement that returns rows returns the product it wrote.
async fn returned(tx: &mut Tx, batch: &Batch) -> Result<Product, Error> {
    let mut rows: Vec<Product> = batch.run(tx).await.map_err(missing_category)?;
    rows.pop().ok_or(Error::NotFound("product"))
}

/// The category a write changes, locked for the transaction.
async fn lock_category(tx: &mut Tx, id: Id, check: Check<'_, Category>) -> Result<Category, Error> {
    let sql = for_update!(concat!("SELECT ", category_columns!(), " FROM categories WHERE id = $1"));
    locked(tx, sql, id, "category", check).await
}

/// The product a write changes, locked for the transaction.
async fn lock_product(tx: &mut Tx, id: Id, check: Check<'_, Product>) -> Result<Product, Error> {
    let sql = for_update!(concat!("SELECT ", product_columns!(), " FROM products p WHERE p.id = $1"));
    locked(tx, sql, id, "product", check).await
}

fn still_has_products() -> Error {
    Error::Conflict("the category still has products; move or delete them first".into())
}

fn duplicate_category(error: sqlx::Error, name: &str) -> Error {
    match violation(&error) {
        Some(Violation::Unique) => Error::Conflict(format!("a category named {name:?} already exists")),
        _ => error.into(),
    }
}

fn missing_category(error: sqlx::Error) -> Error {
    match violation(&error) {
        Some(Violation::ForeignKey) => Error::invalid("category_id", "names no existing category"),
        _ => error.into(),
    }
}
