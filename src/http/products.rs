//! Product handlers.

use crate::api::server::*;
use crate::api::types;
use crate::db::products::{Filter, Key, KeyValue, NewProduct, ProductChanges, ProductRow, Sort, SortKey};
use crate::db::Start;
use crate::db::{self, timestamp};
use crate::error::{ApiError, Error};
use crate::http::conditional::entity_etag;
use crate::http::page::{self, Position};
use crate::http::{api_id, api_string, db_id, if_match, Cx};
use crate::money;

pub async fn list(
    cx: Cx,
    query: ProductListQuery,
    headers: ProductListHeaders,
) -> Result<ProductListReply, ApiError> {
    let limit = query.limit.get() as i64;
    let filter = Filter {
        category_id: query.category_id.as_ref().map(|id| db_id(id.0)).transpose()?,
        tag: query.tag.as_ref().map(|t| t.to_string()),
        min_price_cents: query.min_price.as_ref().map(|p| cents(p, "min_price")).transpose()?,
        max_price_cents: query.max_price.as_ref().map(|p| cents(p, "max_price")).transpose()?,
        in_stock: query.in_stock,
        q: query.q.as_ref().map(|q| q.to_string()),
    };
    let sort = sort_of(query.sort);
    let fingerprint = page::fingerprint(&(&filter, sort));
    let start = page::start(query.offset, query.cursor.as_deref().map(String::as_str), &fingerprint)?;
    let start_key: Start<Key> = start.try_map(|position| key_of(position, sort))?;
    let rows = db::products::list(cx.db(), &filter, sort, &start_key, limit).await?;
    let position = |row: &ProductRow| Position {
        key: (sort.key != SortKey::Id).then(|| sort.key.value_of(row)),
        id: row.id,
    };
    let links = page::links(&cx, &query, limit, &start, &rows, position, &fingerprint);
    let body = types::ProductPage {
        items: rows.items.into_iter().map(product).collect::<Result<_, _>>()?,
        total: rows.total,
        next_cursor: links.next_cursor,
        prev_cursor: links.prev_cursor,
        links: links.links,
    };
    Ok(ProductListReply::new(body)
        .cache_control(cx.op.cache_control)
        .link(&links.header)
        .etag_from_body(headers.if_none_match.as_deref().map(String::as_str)))
}

pub async fn create(cx: Cx, body: types::ProductInput) -> Result<ProductCreateReply, ApiError> {
    let row = db::products::create(cx.db(), &new_product(body)?).await?;
    Ok(ProductCreateReply::new(product(row.clone())?)
        .location(&format!("/api/v1/products/{}", row.id))
        .etag(&etag(&row))
        .last_modified(timestamp(row.updated_at)))
}

pub async fn get(
    cx: Cx,
    path: ProductGetPath,
    headers: ProductGetHeaders,
) -> Result<ProductGetReply, ApiError> {
    let row = db::products::get(cx.db(), db_id(path.id)?).await?;
    let if_none_match = headers.if_none_match.as_deref().map(String::as_str);
    let if_modified_since = headers.if_modified_since.as_deref().map(String::as_str);
    let (etag, modified) = (etag(&row), timestamp(row.updated_at));
    let reply =
        ProductGetReply::conditional(if_none_match, if_modified_since, &etag, Some(modified), || {
            product(row)
        })?;
    Ok(reply.cache_control(cx.op.cache_control))
}

pub async fn replace(
    cx: Cx,
    path: ProductReplacePath,
    headers: ProductReplaceHeaders,
    body: types::ProductInput,
) -> Result<ProductReplaceReply, ApiError> {
    let id = db_id(path.id)?;
    let precondition = if_match(headers.if_match.map(String::from));
    let row = db::products::replace(cx.db(), id, &new_product(body)?, &precondition).await?;
    Ok(ProductReplaceReply::new(product(row.clone())?)
        .etag(&etag(&row))
        .last_modified(timestamp(row.updated_at)))
}

pub async fn update(
    cx: Cx,
    path: ProductUpdatePath,
    headers: ProductUpdateHeaders,
    body: types::ProductPatch,
) -> Result<ProductUpdateReply, ApiError> {
    let id = db_id(path.id)?;
    let precondition = if_match(headers.if_match.map(String::from));
    let changes = ProductChanges {
        name: body.name.map(String::from),
        description: body.description.map(String::from),
        price_cents: body.price.as_ref().map(|p| cents(p, "price")).transpose()?,
        stock: body.stock.map(|s| s.0),
        category_id: body.category_id.map(|c| db_id(c.0)).transpose()?,
        tags: body.tags.map(|tags| tags.into_iter().map(String::from).collect()),
    };
    let row = db::products::update(cx.db(), id, &changes, &precondition).await?;
    Ok(ProductUpdateReply::new(product(row.clone())?)
        .etag(&etag(&row))
        .last_modified(timestamp(row.updated_at)))
}

pub async fn delete(
    cx: Cx,
    path: ProductDeletePath,
    headers: ProductDeleteHeaders,
) -> Result<ProductDeleteReply, ApiError> {
    let precondition = if_match(headers.if_match.map(String::from));
    db::products::delete(cx.db(), db_id(path.id)?, &precondition).await?;
    Ok(ProductDeleteReply::new())
}

fn etag(row: &ProductRow) -> String {
    entity_etag(row.version, timestamp(row.created_at))
}

fn new_product(body: types::ProductInput) -> Result<NewProduct, ApiError> {
    Ok(NewProduct {
        name: body.name.into(),
        description: body.description.map(String::from).unwrap_or_default(),
        price_cents: cents(&body.price, "price")?,
        stock: body.stock.0,
        category_id: db_id(body.category_id.0)?,
        tags: body.tags.unwrap_or_default().into_iter().map(String::from).collect(),
    })
}

/// Cents from a money string the spec's pattern already accepted.
fn cents(amount: &str, field: &str) -> Result<i64, ApiError> {
    money::parse_cents(amount).ok_or_else(|| Error::invalid(field, "must be a decimal amount").into())
}

fn sort_of(sort: types::ProductSort) -> Sort {
    // typify names `-price` `Xprice` (and `created_at` `CreatedXat`): `X` stands for `-`/`_`.
    use types::ProductSort as S;
    let (key, descending) = match sort {
        S::Id => (SortKey::Id, false),
        S::Xid => (SortKey::Id, true),
        S::Name => (SortKey::Name, false),
        S::Xname => (SortKey::Name, true),
        S::Price => (SortKey::Price, false),
        S::Xprice => (SortKey::Price, true),
        S::CreatedXat => (SortKey::CreatedAt, false),
        S::XcreatedXat => (SortKey::CreatedAt, true),
        S::UpdatedXat => (SortKey::UpdatedAt, false),
        S::XupdatedXat => (SortKey::UpdatedAt, true),
    };
    Sort { key, descending }
}

/// The keyset position of a cursor, checked against the sort it must belong to.
fn key_of(position: &Position, sort: Sort) -> Result<Key, ApiError> {
    let value = match (sort.key, &position.key) {
        (SortKey::Id, _) => KeyValue::Int(position.id),
        (SortKey::Name, Some(KeyValue::Text(name))) => KeyValue::Text(name.clone()),
        (SortKey::Price | SortKey::CreatedAt | SortKey::UpdatedAt, Some(KeyValue::Int(value))) => {
            KeyValue::Int(*value)
        }
        _ => return Err(Error::invalid("cursor", "is not a cursor this list issued").into()),
    };
    Ok((value, position.id))
}

/// A stored product as the API shows it.
pub(super) fn product(row: ProductRow) -> Result<types::Product, Error> {
    Ok(types::Product {
        id: api_id(row.id)?,
        name: api_string(row.name, "product name")?,
        description: api_string(row.description, "description")?,
        price: api_string(money::format_cents(row.price_cents), "price")?,
        stock: types::Stock(row.stock),
        category_id: api_id(row.category_id)?,
        tags: row.tags.into_iter().map(|t| api_string(t, "tag name")).collect::<Result<_, _>>()?,
        created_at: types::Timestamp(timestamp(row.created_at)),
        updated_at: types::Timestamp(timestamp(row.updated_at)),
    })
}
