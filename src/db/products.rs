//! Products: filters, sorts, offset and keyset pages; writes that keep tags in step.

use std::collections::BTreeMap;

use crate::db::page::{Page, Start};
use crate::db::sql::Sql;
use crate::db::{
    locked, name_key, next_update, now_micros, tags, violation, Db, Precondition, Tx, Version, Versioned,
    Violation,
};
use crate::error::Error;

/// A stored product, with its tag names.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ProductRow {
    pub id: i64,
    pub name: String,
    pub name_key: String,
    pub description: String,
    pub price_cents: i64,
    pub stock: i64,
    pub category_id: i64,
    pub version: i64,
    pub created_at: i64,
    pub updated_at: i64,
    #[sqlx(skip)]
    pub tags: Vec<String>,
}

macro_rules! columns {
    () => {
        "p.id, p.name, p.name_key, p.description, p.price_cents, p.stock, \
         p.category_id, p.version, p.created_at, p.updated_at"
    };
}

impl Versioned for ProductRow {
    fn version(&self) -> Version {
        Version { version: self.version, created_at: self.created_at }
    }
}

/// What a product is made of, as created or replaced.
#[derive(Debug, Clone)]
pub struct NewProduct {
    pub name: String,
    pub description: String,
    pub price_cents: i64,
    pub stock: i64,
    pub category_id: i64,
    pub tags: Vec<String>,
}

/// A partial update: `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct ProductChanges {
    pub name: Option<String>,
    pub description: Option<String>,
    pub price_cents: Option<i64>,
    pub stock: Option<i64>,
    pub category_id: Option<i64>,
    pub tags: Option<Vec<String>>,
}

/// List filters; all that are set must hold.
#[derive(Debug, Clone, Default, Hash)]
pub struct Filter {
    pub category_id: Option<i64>,
    /// A tag name, any case.
    pub tag: Option<String>,
    pub min_price_cents: Option<i64>,
    pub max_price_cents: Option<i64>,
    pub in_stock: Option<bool>,
    /// A substring of the name, any case.
    pub q: Option<String>,
}

/// The field a list is ordered by; `id` breaks ties.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SortKey {
    Id,
    Name,
    Price,
    CreatedAt,
    UpdatedAt,
}

impl SortKey {
    fn column(self) -> &'static str {
        match self {
            SortKey::Id => "p.id",
            SortKey::Name => "p.name_key",
            SortKey::Price => "p.price_cents",
            SortKey::CreatedAt => "p.created_at",
            SortKey::UpdatedAt => "p.updated_at",
        }
    }

    /// The value of this key in `row`, for the cursor after or before it.
    pub fn value_of(self, row: &ProductRow) -> KeyValue {
        match self {
            SortKey::Id => KeyValue::Int(row.id),
            SortKey::Name => KeyValue::Text(row.name_key.clone()),
            SortKey::Price => KeyValue::Int(row.price_cents),
            SortKey::CreatedAt => KeyValue::Int(row.created_at),
            SortKey::UpdatedAt => KeyValue::Int(row.updated_at),
        }
    }
}

/// An order: a key and a direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Sort {
    pub key: SortKey,
    pub descending: bool,
}

/// The sort-key value of a row, in a keyset cursor.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(untagged)]
pub enum KeyValue {
    Int(i64),
    Text(String),
}

/// The position of a row in a sorted list: its sort-key value and its id.
pub type Key = (KeyValue, i64);

/// A page of products in `sort` order, with their tags: one query for the page and its tags,
/// and, in offset mode, a count run alongside it.
pub async fn list(
    db: &Db,
    filter: &Filter,
    sort: Sort,
    start: &Start<Key>,
    limit: i64,
) -> Result<Page<ProductRow>, Error> {
    let mut page = Sql::new(concat!("SELECT ", columns!(), " FROM products p"));
    push_filter(&mut page, filter);
    // Going backwards (a "previous" page) reads the list in reverse, then flips the rows.
    let backwards = matches!(start, Start::Before(_));
    let descending = sort.descending != backwards;
    if let Start::After(key) | Start::Before(key) = start {
        let op = if descending { "<" } else { ">" };
        let (value, id) = key;
        if sort.key == SortKey::Id {
            page.and().push(&format!("p.id {op} ")).bind(*id);
        } else {
            page.and().push(&format!("({}, p.id) {op} (", sort.key.column()));
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
        format!(" ORDER BY {} {direction}, p.id {direction}", sort.key.column())
    };
    page.push(&order).push(" LIMIT ").bind(limit + 1);
    if let Start::Offset(offset) = start {
        page.push(" OFFSET ").bind(*offset);
    }
    // The page as a subquery, its tags joined on: one round trip.
    let mut sql = Sql::new(concat!("SELECT ", columns!(), ", t.name AS tag FROM ("));
    sql.append(&page)
        .push(") p LEFT JOIN product_tags pt ON pt.product_id = p.id LEFT JOIN tags t ON t.id = pt.tag_id");
    sql.push(&order).push(", t.name_key");

    let total = async {
        match start {
            Start::Offset(_) => {
                let mut count = Sql::new("SELECT count(*) FROM products p");
                push_filter(&mut count, filter);
                let (total,): (i64,) = count.query_as().fetch_one(db.read()).await?;
                Ok::<_, Error>(Some(total))
            }
            _ => Ok(None),
        }
    };
    let rows = async { Ok::<_, Error>(sql.query_as::<WithTag>().fetch_all(db.read()).await?) };
    let (rows, total) = tokio::try_join!(rows, total)?;
    let mut items = fold_tags(rows);
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

/// A product row with one of its tags (or none): what joining the tags on gives.
#[derive(sqlx::FromRow)]
struct WithTag {
    #[sqlx(flatten)]
    product: ProductRow,
    tag: Option<String>,
}

/// Folds consecutive rows of the same product into one product with its tags.
fn fold_tags(rows: Vec<WithTag>) -> Vec<ProductRow> {
    let mut out: Vec<ProductRow> = Vec::new();
    for WithTag { product, tag } in rows {
        match out.last_mut() {
            Some(last) if last.id == product.id => last.tags.extend(tag),
            _ => {
                let mut product = product;
                product.tags.extend(tag);
                out.push(product);
            }
        }
    }
    out
}

fn push_filter(sql: &mut Sql, filter: &Filter) {
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

/// One product and its tags (one row per tag, or one with none), by id.
const WITH_TAGS_BY_ID: &str = concat!(
    "SELECT ",
    columns!(),
    ", t.name AS tag FROM products p \
     LEFT JOIN product_tags pt ON pt.product_id = p.id \
     LEFT JOIN tags t ON t.id = pt.tag_id \
     WHERE p.id = $1 ORDER BY t.name_key"
);

/// A product with its tags, in one round trip.
pub async fn get(db: &Db, id: i64) -> Result<ProductRow, Error> {
    let rows: Vec<WithTag> = sqlx::query_as(WITH_TAGS_BY_ID).bind(id).fetch_all(db.read()).await?;
    fold_tags(rows).pop().ok_or(Error::NotFound("product"))
}

/// The products of the given categories, with their tags, by category: one query whatever
/// the number of categories.
pub async fn of_categories(db: &Db, category_ids: &[i64]) -> Result<BTreeMap<i64, Vec<ProductRow>>, Error> {
    let mut out: BTreeMap<i64, Vec<ProductRow>> = BTreeMap::new();
    if category_ids.is_empty() {
        return Ok(out);
    }
    let mut sql = Sql::new(concat!(
        "SELECT ",
        columns!(),
        ", t.name AS tag FROM products p \
         LEFT JOIN product_tags pt ON pt.product_id = p.id \
         LEFT JOIN tags t ON t.id = pt.tag_id WHERE p.category_id IN ("
    ));
    sql.bind_list(category_ids).push(") ORDER BY p.category_id, p.id, t.name_key");
    for product in fold_tags(sql.query_as().fetch_all(db.read()).await?) {
        out.entry(product.category_id).or_default().push(product);
    }
    Ok(out)
}

/// Whether a product has this (case-folded) name.
pub async fn exists_named(db: &Db, key: &str) -> Result<bool, Error> {
    let found: Option<(i64,)> = sqlx::query_as("SELECT id FROM products WHERE name_key = $1 LIMIT 1")
        .bind(key)
        .fetch_optional(db.read())
        .await?;
    Ok(found.is_some())
}

pub async fn create(db: &Db, new: &NewProduct) -> Result<ProductRow, Error> {
    let mut tx = db.write().begin().await?;
    let now = now_micros();
    let (id,): (i64,) = sqlx::query_as(
        "INSERT INTO products (name, name_key, description, price_cents, stock, category_id, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $7) RETURNING id",
    )
    .bind(&new.name)
    .bind(name_key(&new.name))
    .bind(&new.description)
    .bind(new.price_cents)
    .bind(new.stock)
    .bind(new.category_id)
    .bind(now)
    .fetch_one(&mut *tx)
    .await
    .map_err(missing_category)?;
    tags::set_for_product(&mut tx, id, &new.tags, false).await?;
    let product = reread(&mut tx, id).await?;
    tx.commit().await?;
    Ok(product)
}

/// Replaces every field of a product.
pub async fn replace(
    db: &Db,
    id: i64,
    new: &NewProduct,
    precondition: Precondition<'_>,
) -> Result<ProductRow, Error> {
    let changes = ProductChanges {
        name: Some(new.name.clone()),
        description: Some(new.description.clone()),
        price_cents: Some(new.price_cents),
        stock: Some(new.stock),
        category_id: Some(new.category_id),
        tags: Some(new.tags.clone()),
    };
    update(db, id, &changes, precondition).await
}

/// Changes the fields that `changes` sets.
pub async fn update(
    db: &Db,
    id: i64,
    changes: &ProductChanges,
    precondition: Precondition<'_>,
) -> Result<ProductRow, Error> {
    let mut tx = db.write().begin().await?;
    let current = lock(&mut tx, db, id, precondition).await?;
    let name = changes.name.as_ref().unwrap_or(&current.name);
    sqlx::query(
        "UPDATE products SET name = $1, name_key = $2, description = $3, price_cents = $4, stock = $5, \
         category_id = $6, version = version + 1, updated_at = $7 WHERE id = $8",
    )
    .bind(name)
    .bind(name_key(name))
    .bind(changes.description.as_ref().unwrap_or(&current.description))
    .bind(changes.price_cents.unwrap_or(current.price_cents))
    .bind(changes.stock.unwrap_or(current.stock))
    .bind(changes.category_id.unwrap_or(current.category_id))
    .bind(next_update(current.updated_at))
    .bind(id)
    .execute(&mut *tx)
    .await
    .map_err(missing_category)?;
    if let Some(names) = &changes.tags {
        tags::set_for_product(&mut tx, id, names, true).await?;
    }
    let product = reread(&mut tx, id).await?;
    tx.commit().await?;
    Ok(product)
}

pub async fn delete(db: &Db, id: i64, precondition: Precondition<'_>) -> Result<(), Error> {
    let mut tx = db.write().begin().await?;
    lock(&mut tx, db, id, precondition).await?;
    sqlx::query("DELETE FROM products WHERE id = $1").bind(id).execute(&mut *tx).await?;
    tx.commit().await?;
    Ok(())
}

/// The product a write changes, locked for the transaction: 404 when there is none, 412 when the
/// precondition fails.
async fn lock(tx: &mut Tx, db: &Db, id: i64, precondition: Precondition<'_>) -> Result<ProductRow, Error> {
    let sql = select_for_update!(db, concat!("SELECT ", columns!(), " FROM products p WHERE p.id = $1"));
    locked(tx, sql, id, "product", precondition).await
}

/// The product as the transaction now sees it, tags included, in one round trip.
async fn reread(tx: &mut Tx, id: i64) -> Result<ProductRow, Error> {
    let rows: Vec<WithTag> = sqlx::query_as(WITH_TAGS_BY_ID).bind(id).fetch_all(&mut **tx).await?;
    fold_tags(rows).pop().ok_or(Error::NotFound("product"))
}

fn missing_category(error: sqlx::Error) -> Error {
    match violation(&error) {
        Some(Violation::ForeignKey) => Error::invalid("category_id", "names no existing category"),
        _ => error.into(),
    }
}
