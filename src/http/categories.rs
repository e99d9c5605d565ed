//! Category handlers.

use crate::api::server::*;
use crate::api::types;
use crate::db::categories::CategoryRow;
use crate::db::products::ProductRow;
use crate::db::{self, timestamp};
use crate::error::{ApiError, Error};
use crate::http::conditional::entity_etag;
use crate::http::page;
use crate::http::{api_id, api_string, db_id, if_match, products, Cx};

pub async fn list(
    cx: Cx,
    query: CategoryListQuery,
    headers: CategoryListHeaders,
) -> Result<CategoryListReply, ApiError> {
    let params = (query.limit, query.offset, query.cursor.as_deref().map(String::as_str));
    let (rows, links) = page::by_id(
        &cx,
        &query,
        "categories",
        params,
        |row: &CategoryRow| row.id,
        |start, limit| db::categories::list(cx.db(), start, limit),
    )
    .await?;
    let mut embedded = match query.include {
        Some(types::CategoryInclude::Products) => {
            let ids: Vec<i64> = rows.items.iter().map(|c| c.id).collect();
            Some(db::products::of_categories(cx.db(), &ids).await?)
        }
        None => None,
    };
    let items = rows
        .items
        .iter()
        .map(|row| category(row, embedded.as_mut().map(|e| e.remove(&row.id).unwrap_or_default())))
        .collect::<Result<Vec<_>, Error>>()?;
    let body = types::CategoryPage {
        items,
        total: rows.total,
        next_cursor: links.next_cursor,
        prev_cursor: links.prev_cursor,
        links: links.links,
    };
    Ok(CategoryListReply::new(body)
        .cache_control(cx.op.cache_control)
        .link(&links.header)
        .etag_from_body(headers.if_none_match.as_deref().map(String::as_str)))
}

pub async fn create(cx: Cx, body: types::CategoryInput) -> Result<CategoryCreateReply, ApiError> {
    let row = db::categories::create(cx.db(), &body.name).await?;
    Ok(CategoryCreateReply::new(category(&row, None)?)
        .location(&format!("/api/v1/categories/{}", row.id))
        .etag(&etag(&row))
        .last_modified(timestamp(row.updated_at)))
}

pub async fn get(
    cx: Cx,
    path: CategoryGetPath,
    headers: CategoryGetHeaders,
) -> Result<CategoryGetReply, ApiError> {
    let row = db::categories::get(cx.db(), db_id(path.id)?).await?;
    let if_none_match = headers.if_none_match.as_deref().map(String::as_str);
    let if_modified_since = headers.if_modified_since.as_deref().map(String::as_str);
    let (etag, modified) = (etag(&row), timestamp(row.updated_at));
    let reply =
        CategoryGetReply::conditional(if_none_match, if_modified_since, &etag, Some(modified), || {
            category(&row, None)
        })?;
    Ok(reply.cache_control(cx.op.cache_control))
}

pub async fn replace(
    cx: Cx,
    path: CategoryReplacePath,
    headers: CategoryReplaceHeaders,
    body: types::CategoryInput,
) -> Result<CategoryReplaceReply, ApiError> {
    let precondition = if_match(headers.if_match.map(String::from));
    let row = db::categories::rename(cx.db(), db_id(path.id)?, &body.name, &precondition).await?;
    Ok(CategoryReplaceReply::new(category(&row, None)?)
        .etag(&etag(&row))
        .last_modified(timestamp(row.updated_at)))
}

pub async fn update(
    cx: Cx,
    path: CategoryUpdatePath,
    headers: CategoryUpdateHeaders,
    body: types::CategoryPatch,
) -> Result<CategoryUpdateReply, ApiError> {
    let id = db_id(path.id)?;
    let precondition = if_match(headers.if_match.map(String::from));
    // `name` is the only field, so the schema's minProperties makes it present.
    let name = body.name.ok_or_else(|| Error::invalid("name", "is required"))?;
    let row = db::categories::rename(cx.db(), id, &name, &precondition).await?;
    Ok(CategoryUpdateReply::new(category(&row, None)?)
        .etag(&etag(&row))
        .last_modified(timestamp(row.updated_at)))
}

pub async fn delete(
    cx: Cx,
    path: CategoryDeletePath,
    headers: CategoryDeleteHeaders,
) -> Result<CategoryDeleteReply, ApiError> {
    let precondition = if_match(headers.if_match.map(String::from));
    db::categories::delete(cx.db(), db_id(path.id)?, &precondition).await?;
    Ok(CategoryDeleteReply::new())
}

fn etag(row: &CategoryRow) -> String {
    entity_etag(row.version, timestamp(row.created_at))
}

/// A stored category (and, with `include=products`, its products) as the API shows it.
fn category(row: &CategoryRow, products: Option<Vec<ProductRow>>) -> Result<types::Category, Error> {
    Ok(types::Category {
        id: api_id(row.id)?,
        name: api_string(row.name.clone(), "category name")?,
        created_at: types::Timestamp(timestamp(row.created_at)),
        updated_at: types::Timestamp(timestamp(row.updated_at)),
        products: products
            .unwrap_or_default()
            .into_iter()
            .map(products::product)
            .collect::<Result<_, _>>()?,
    })
}
