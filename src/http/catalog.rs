//! Handlers of the catalog: categories, tags, products; and the mapping of the domain's catalog
//! types to the spec's.

use std::ops::Deref;

use crate::api::server::*;
use crate::api::types;
use crate::domain::{self, timestamp, Category, KeyValue, Product, ProductKey, SortKey, Start, Versioned};
use crate::error::{ApiError, Error};
use crate::http::conditional::{entity_etag, precondition};
use crate::http::page::{self, Position};
use crate::http::reply::Conditions;
use crate::http::{api_id, api_string, api_time, db_id, Cx, Server};
use crate::money;

/// An optional header or string parameter, as text.
pub(super) fn text<T>(value: &Option<T>) -> Option<&str>
where
    T: Deref,
    T::Target: AsRef<str>,
{
    value.as_deref().map(AsRef::as_ref)
}

impl CategoriesHandlers for Server {
    async fn category_list(
        cx: Cx,
        query: CategoryListQuery,
        headers: CategoryListHeaders,
    ) -> Result<CategoryListReply, ApiError> {
        let limit = limit(query.limit);
        let (ids, start, fingerprint) = page::by_id("categories", query.offset, text(&query.cursor))?;
        let include = query.include == Some(types::CategoryInclude::Products);
        let rows = cx.app.category_list(&cx.actor, ids, limit, include).await?;
        let links =
            page::links(&cx.path(), &query, limit, &start, &rows, |c| by_id(c.category.id), &fingerprint);
        let body = types::CategoryPage {
            items: rows
                .items
                .into_iter()
                .map(|c| category(c.category, c.products))
                .collect::<Result<_, _>>()?,
            total: rows.total,
            next_cursor: links.next_cursor,
            prev_cursor: links.prev_cursor,
            links: links.links,
        };
        Ok(CategoryListReply::new(body).link(&links.header).etag_from_body(text(&headers.if_none_match)))
    }

    async fn category_create(cx: Cx, body: types::CategoryInput) -> Result<CategoryCreateReply, ApiError> {
        let row = cx.app.category_create(&cx.actor, &body.name).await?;
        let (etag, modified) = (entity_etag(row.version()), timestamp(row.updated_at));
        Ok(CategoryCreateReply::new(category(row.clone(), None)?)
            .location(&format!("/api/v1/categories/{}", row.id))
            .etag(&etag)
            .last_modified(modified))
    }

    async fn category_get(
        cx: Cx,
        path: CategoryGetPath,
        headers: CategoryGetHeaders,
    ) -> Result<CategoryGetReply, ApiError> {
        let row = cx.app.category_get(&cx.actor, db_id(path.id)?).await?;
        let conditions = Conditions {
            if_none_match: text(&headers.if_none_match),
            if_modified_since: text(&headers.if_modified_since),
        };
        let (etag, modified) = (entity_etag(row.version()), timestamp(row.updated_at));
        Ok(CategoryGetReply::conditional(conditions, &etag, Some(modified), || category(row, None))?)
    }

    async fn category_replace(
        cx: Cx,
        path: CategoryReplacePath,
        headers: CategoryReplaceHeaders,
        body: types::CategoryInput,
    ) -> Result<CategoryReplaceReply, ApiError> {
        let precondition = precondition(text(&headers.if_match));
        let row = cx.app.category_rename(&cx.actor, db_id(path.id)?, &body.name, &precondition).await?;
        let (etag, modified) = (entity_etag(row.version()), timestamp(row.updated_at));
        Ok(CategoryReplaceReply::new(category(row, None)?).etag(&etag).last_modified(modified))
    }

    async fn category_update(
        cx: Cx,
        path: CategoryUpdatePath,
        headers: CategoryUpdateHeaders,
        body: types::CategoryPatch,
    ) -> Result<CategoryUpdateReply, ApiError> {
        let precondition = precondition(text(&headers.if_match));
        // `name` is the only field, so the schema's minProperties makes it present.
        let name = body.name.ok_or_else(|| Error::invalid("name", "is required"))?;
        let row = cx.app.category_rename(&cx.actor, db_id(path.id)?, &name, &precondition).await?;
        let (etag, modified) = (entity_etag(row.version()), timestamp(row.updated_at));
        Ok(CategoryUpdateReply::new(category(row, None)?).etag(&etag).last_modified(modified))
    }

    async fn category_delete(
        cx: Cx,
        path: CategoryDeletePath,
        headers: CategoryDeleteHeaders,
    ) -> Result<CategoryDeleteReply, ApiError> {
        let precondition = precondition(text(&headers.if_match));
        cx.app.category_delete(&cx.actor, db_id(path.id)?, &precondition).await?;
        Ok(CategoryDeleteReply::new())
    }
}

impl TagsHandlers for Server {
    async fn tag_list(
        cx: Cx,
        query: TagListQuery,
        headers: TagListHeaders,
    ) -> Result<TagListReply, ApiError> {
        let limit = limit(query.limit);
        let (ids, start, fingerprint) = page::by_id("tags", query.offset, text(&query.cursor))?;
        let rows = cx.app.tag_list(&cx.actor, ids, limit).await?;
        let links = page::links(&cx.path(), &query, limit, &start, &rows, |t| by_id(t.id), &fingerprint);
        let body = types::TagPage {
            items: rows.items.into_iter().map(tag).collect::<Result<_, _>>()?,
            total: rows.total,
            next_cursor: links.next_cursor,
            prev_cursor: links.prev_cursor,
            links: links.links,
        };
        Ok(TagListReply::new(body).link(&links.header).etag_from_body(text(&headers.if_none_match)))
    }

    async fn tag_get(cx: Cx, path: TagGetPath, headers: TagGetHeaders) -> Result<TagGetReply, ApiError> {
        let row = cx.app.tag_get(&cx.actor, db_id(path.id)?).await?;
        let conditions = Conditions { if_none_match: text(&headers.if_none_match), if_modified_since: None };
        Ok(TagGetReply::conditional(conditions, &entity_etag(row.version()), None, || tag(row))?)
    }
}

impl ProductsHandlers for Server {
    async fn product_list(
        cx: Cx,
        query: ProductListQuery,
        headers: ProductListHeaders,
    ) -> Result<ProductListReply, ApiError> {
        let limit = limit(query.limit);
        let ProductListPlan { filter, sort, fingerprint, start, keys } = product_list_plan(&query)?;
        let rows = cx.app.product_list(&cx.actor, &filter, sort, &keys, limit).await?;
        let position = |row: &Product| product_position(sort, row);
        let links = page::links(&cx.path(), &query, limit, &start, &rows, position, &fingerprint);
        let body = types::ProductPage {
            items: rows.items.into_iter().map(product).collect::<Result<_, _>>()?,
            total: rows.total,
            next_cursor: links.next_cursor,
            prev_cursor: links.prev_cursor,
            links: links.links,
        };
        Ok(ProductListReply::new(body).link(&links.header).etag_from_body(text(&headers.if_none_match)))
    }

    async fn product_create(cx: Cx, body: types::ProductInput) -> Result<ProductCreateReply, ApiError> {
        let row = cx.app.product_create(&cx.actor, &new_product(body)?).await?;
        let (etag, modified) = (entity_etag(row.version()), timestamp(row.updated_at));
        let location = format!("/api/v1/products/{}", row.id);
        Ok(ProductCreateReply::new(product(row)?).location(&location).etag(&etag).last_modified(modified))
    }

    async fn product_get(
        cx: Cx,
        path: ProductGetPath,
        // `fields` only, which the glue applies to the reply.
        _query: ProductGetQuery,
        headers: ProductGetHeaders,
    ) -> Result<ProductGetReply, ApiError> {
        let row = cx.app.product_get(&cx.actor, db_id(path.id)?).await?;
        let conditions = Conditions {
            if_none_match: text(&headers.if_none_match),
            if_modified_since: text(&headers.if_modified_since),
        };
        let (etag, modified) = (entity_etag(row.version()), timestamp(row.updated_at));
        Ok(ProductGetReply::conditional(conditions, &etag, Some(modified), || product(row))?)
    }

    async fn product_replace(
        cx: Cx,
        path: ProductReplacePath,
        headers: ProductReplaceHeaders,
        body: types::ProductInput,
    ) -> Result<ProductReplaceReply, ApiError> {
        let precondition = precondition(text(&headers.if_match));
        let changes = new_product(body)?.into();
        let row = cx.app.product_update(&cx.actor, db_id(path.id)?, &changes, &precondition).await?;
        let (etag, modified) = (entity_etag(row.version()), timestamp(row.updated_at));
        Ok(ProductReplaceReply::new(product(row)?).etag(&etag).last_modified(modified))
    }

    async fn product_update(
        cx: Cx,
        path: ProductUpdatePath,
        headers: ProductUpdateHeaders,
        body: types::ProductPatch,
    ) -> Result<ProductUpdateReply, ApiError> {
        let precondition = precondition(text(&headers.if_match));
        let changes = domain::ProductChanges {
            name: body.name.map(String::from),
            description: body.description.map(String::from),
            price_cents: body.price.as_ref().map(|p| cents(p, "price")).transpose()?,
            stock: body.stock.map(|s| s.0),
            category_id: body.category_id.map(|c| db_id(c.0)).transpose()?,
            tags: body.tags.map(|tags| tags.into_iter().map(String::from).collect()),
        };
        let row = cx.app.product_update(&cx.actor, db_id(path.id)?, &changes, &precondition).await?;
        let (etag, modified) = (entity_etag(row.version()), timestamp(row.updated_at));
        Ok(ProductUpdateReply::new(product(row)?).etag(&etag).last_modified(modified))
    }

    async fn product_delete(
        cx: Cx,
        path: ProductDeletePath,
        headers: ProductDeleteHeaders,
    ) -> Result<ProductDeleteReply, ApiError> {
        let precondition = precondition(text(&headers.if_match));
        cx.app.product_delete(&cx.actor, db_id(path.id)?, &precondition).await?;
        Ok(ProductDeleteReply::new())
    }
}

/// What a product list's query asks the store for: read from the parsed parameters (and the
/// cursor), before the store is asked.
#[derive(Debug)]
pub struct ProductListPlan {
    pub filter: domain::ProductFilter,
    pub sort: domain::ProductSort,
    /// The fingerprint of the sort and filters, which the list's cursors carry.
    pub fingerprint: String,
    pub start: Start<Position>,
    pub keys: Start<ProductKey>,
}

pub(crate) fn product_list_plan(query: &ProductListQuery) -> Result<ProductListPlan, ApiError> {
    let filter = domain::ProductFilter {
        category_id: query.category_id.as_ref().map(|id| db_id(id.0)).transpose()?,
        tag: query.tag.as_ref().map(|t| t.to_string()),
        min_price_cents: query.min_price.as_ref().map(|p| cents(p, "min_price")).transpose()?,
        max_price_cents: query.max_price.as_ref().map(|p| cents(p, "max_price")).transpose()?,
        in_stock: query.in_stock,
        q: query.q.as_ref().map(|q| q.to_string()),
    };
    let sort = sort_of(query.sort);
    let fingerprint = page::fingerprint(&(&filter, sort));
    let start = page::start(query.offset, text(&query.cursor), &fingerprint)?;
    let keys: Start<ProductKey> = start.try_map(|position| key_of(position, sort))?;
    Ok(ProductListPlan { filter, sort, fingerprint, start, keys })
}

/// Where a product sits in a list in `sort` order (what its cursors carry).
pub(crate) fn product_position(sort: domain::ProductSort, row: &Product) -> Position {
    Position { key: (sort.key != SortKey::Id).then(|| sort.key.value_of(row)), id: row.id }
}

/// A page size (the spec bounds it to 1–100).
pub(super) fn limit(limit: std::num::NonZeroU64) -> i64 {
    i64::try_from(limit.get()).unwrap_or(i64::MAX)
}

/// The position of a row in an id-ordered list.
pub(super) fn by_id(id: i64) -> Position {
    Position { key: None, id }
}

pub(crate) fn new_product(body: types::ProductInput) -> Result<domain::NewProduct, ApiError> {
    Ok(domain::NewProduct {
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

fn sort_of(sort: types::ProductSort) -> domain::ProductSort {
    use types::ProductSort as S;
    let (key, descending) = match sort {
        S::IdAsc => (SortKey::Id, false),
        S::IdDesc => (SortKey::Id, true),
        S::NameAsc => (SortKey::Name, false),
        S::NameDesc => (SortKey::Name, true),
        S::PriceAsc => (SortKey::Price, false),
        S::PriceDesc => (SortKey::Price, true),
        S::CreatedAtAsc => (SortKey::CreatedAt, false),
        S::CreatedAtDesc => (SortKey::CreatedAt, true),
        S::UpdatedAtAsc => (SortKey::UpdatedAt, false),
        S::UpdatedAtDesc => (SortKey::UpdatedAt, true),
    };
    domain::ProductSort { key, descending }
}

/// The keyset position of a cursor, checked against the sort it must belong to.
fn key_of(position: &Position, sort: domain::ProductSort) -> Result<ProductKey, ApiError> {
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

/// A stored category (and, with `include=products`, its products) as the API shows it.
fn category(row: Category, products: Option<Vec<Product>>) -> Result<types::Category, Error> {
    Ok(types::Category {
        id: api_id(row.id)?,
        name: api_string(row.name, "category name")?,
        created_at: api_time(row.created_at),
        updated_at: api_time(row.updated_at),
        products: products.unwrap_or_default().into_iter().map(product).collect::<Result<_, _>>()?,
    })
}

fn tag(row: domain::Tag) -> Result<types::Tag, Error> {
    Ok(types::Tag { id: api_id(row.id)?, name: api_string(row.name, "tag name")? })
}

/// A stored product as the API shows it.
pub(super) fn product(row: Product) -> Result<types::Product, Error> {
    Ok(types::Product {
        id: api_id(row.id)?,
        name: api_string(row.name, "product name")?,
        description: api_string(row.description, "description")?,
        price: api_string(money::format_cents(row.price_cents), "price")?,
        stock: types::Stock(row.stock),
        category_id: api_id(row.category_id)?,
        tags: row.tags.into_iter().map(|t| api_string(t, "tag name")).collect::<Result<_, _>>()?,
        created_at: api_time(row.created_at),
        updated_at: api_time(row.updated_at),
    })
}
