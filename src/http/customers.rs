//! Handlers of customers, API v1 (deprecated: `city`, `phone`) and v2 (`location`, no phone,
//! `photo_url` always present), over the same rows; and the mapping of the domain's customer to
//! each version's shape.

use crate::api::server::*;
use crate::api::types;
use crate::domain::{self, timestamp, Customer, CustomerFilter, Versioned};
use crate::error::{ApiError, Error};
use crate::http::catalog::{by_id, limit, text};
use crate::http::conditional::{entity_etag, precondition};
use crate::http::extract::Form;
use crate::http::page;
use crate::http::reply::Conditions;
use crate::http::{api_id, api_string, api_time, db_id, Cx, Server};

/// The link that opens a customer's photo without credentials, when they have one: the
/// `…_photo_view` operation of the same version (`v1` or `v2`), naming the photo's random key.
pub fn photo_url(row: &Customer, version: &str) -> Option<String> {
    row.photo_key.as_ref().map(|key| format!("/api/{version}/customers/{}/photo/{key}", row.id))
}

impl CustomersHandlers for Server {
    async fn customer_list(
        cx: Cx,
        query: CustomerListQuery,
        headers: CustomerListHeaders,
    ) -> Result<CustomerListReply, ApiError> {
        let limit = limit(query.limit);
        let filter = CustomerFilter {
            city: query.city.as_ref().map(|c| c.to_string()),
            q: query.q.as_ref().map(|q| q.to_string()),
        };
        let (ids, start, fingerprint) = start(&filter, query.offset, text(&query.cursor))?;
        let rows = cx.app.customer_list(&cx.actor, &filter, ids, limit).await?;
        let links = page::links(&cx.path(), &query, limit, &start, &rows, |c| by_id(c.id), &fingerprint);
        let body = types::CustomerPage {
            items: rows.items.into_iter().map(customer_v1).collect::<Result<_, _>>()?,
            total: rows.total,
            next_cursor: links.next_cursor,
            prev_cursor: links.prev_cursor,
            links: links.links,
        };
        Ok(CustomerListReply::new(body)
            .link(&links.header)
            .private()
            .etag_from_body(text(&headers.if_none_match)))
    }

    async fn customer_create(
        cx: Cx,
        body: Form<types::CustomerInput>,
    ) -> Result<CustomerCreateReply, ApiError> {
        let Form { data: body, mut files } = body;
        let photo = files.remove("photo").map(|upload| upload.bytes);
        let new = domain::NewCustomer {
            name: body.name.into(),
            city: body.city.into(),
            email: body.email.into(),
            phone: Some(body.phone.into()),
        };
        let row = cx.app.customer_create(&cx.actor, &new, "city", photo).await?;
        let (etag, modified) = (entity_etag(row.version()), timestamp(row.updated_at));
        let location = format!("/api/v1/customers/{}", row.id);
        Ok(CustomerCreateReply::new(customer_v1(row)?)
            .location(&location)
            .etag(&etag)
            .last_modified(modified))
    }

    async fn customer_get(
        cx: Cx,
        path: CustomerGetPath,
        _query: CustomerGetQuery,
        headers: CustomerGetHeaders,
    ) -> Result<CustomerGetReply, ApiError> {
        let row = cx.app.customer_get(&cx.actor, db_id(path.id)?).await?;
        let conditions = Conditions {
            if_none_match: text(&headers.if_none_match),
            if_modified_since: text(&headers.if_modified_since),
        };
        let (etag, modified) = (entity_etag(row.version()), timestamp(row.updated_at));
        Ok(CustomerGetReply::conditional(conditions, &etag, Some(modified), || customer_v1(row))?.private())
    }

    async fn customer_replace(
        cx: Cx,
        path: CustomerReplacePath,
        headers: CustomerReplaceHeaders,
        body: types::CustomerInput,
    ) -> Result<CustomerReplaceReply, ApiError> {
        let precondition = precondition(text(&headers.if_match));
        let changes = domain::CustomerChanges {
            name: Some(body.name.into()),
            city: Some(body.city.into()),
            email: Some(body.email.into()),
            phone: Some(body.phone.into()),
        };
        let row = cx.app.customer_update(&cx.actor, db_id(path.id)?, &changes, "city", &precondition).await?;
        let (etag, modified) = (entity_etag(row.version()), timestamp(row.updated_at));
        Ok(CustomerReplaceReply::new(customer_v1(row)?).etag(&etag).last_modified(modified))
    }

    async fn customer_update(
        cx: Cx,
        path: CustomerUpdatePath,
        headers: CustomerUpdateHeaders,
        body: types::CustomerPatch,
    ) -> Result<CustomerUpdateReply, ApiError> {
        let precondition = precondition(text(&headers.if_match));
        let changes = domain::CustomerChanges {
            name: body.name.map(String::from),
            city: body.city.map(String::from),
            email: body.email.map(String::from),
            phone: body.phone.map(String::from),
        };
        let row = cx.app.customer_update(&cx.actor, db_id(path.id)?, &changes, "city", &precondition).await?;
        let (etag, modified) = (entity_etag(row.version()), timestamp(row.updated_at));
        Ok(CustomerUpdateReply::new(customer_v1(row)?).etag(&etag).last_modified(modified))
    }

    async fn customer_delete(
        cx: Cx,
        path: CustomerDeletePath,
        headers: CustomerDeleteHeaders,
    ) -> Result<CustomerDeleteReply, ApiError> {
        let precondition = precondition(text(&headers.if_match));
        cx.app.customer_delete(&cx.actor, db_id(path.id)?, &precondition).await?;
        Ok(CustomerDeleteReply::new())
    }
}

impl CustomersV2Handlers for Server {
    async fn customer_v2_list(
        cx: Cx,
        query: CustomerV2ListQuery,
        headers: CustomerV2ListHeaders,
    ) -> Result<CustomerV2ListReply, ApiError> {
        let limit = limit(query.limit);
        let filter = CustomerFilter {
            city: query.location.as_ref().map(|c| c.to_string()),
            q: query.q.as_ref().map(|q| q.to_string()),
        };
        let (ids, start, fingerprint) = start(&filter, query.offset, text(&query.cursor))?;
        let rows = cx.app.customer_list(&cx.actor, &filter, ids, limit).await?;
        let links = page::links(&cx.path(), &query, limit, &start, &rows, |c| by_id(c.id), &fingerprint);
        let body = types::CustomerV2Page {
            items: rows.items.into_iter().map(customer_v2).collect::<Result<_, _>>()?,
            total: rows.total,
            next_cursor: links.next_cursor,
            prev_cursor: links.prev_cursor,
            links: links.links,
        };
        Ok(CustomerV2ListReply::new(body)
            .link(&links.header)
            .private()
            .etag_from_body(text(&headers.if_none_match)))
    }

    async fn customer_v2_create(
        cx: Cx,
        body: Form<types::CustomerV2Input>,
    ) -> Result<CustomerV2CreateReply, ApiError> {
        let Form { data: body, mut files } = body;
        let photo = files.remove("photo").map(|upload| upload.bytes);
        let new = domain::NewCustomer {
            name: body.name.into(),
            city: body.location.into(),
            email: body.email.into(),
            phone: None,
        };
        let row = cx.app.customer_create(&cx.actor, &new, "location", photo).await?;
        let (etag, modified) = (entity_etag(row.version()), timestamp(row.updated_at));
        let location = format!("/api/v2/customers/{}", row.id);
        Ok(CustomerV2CreateReply::new(customer_v2(row)?)
            .location(&location)
            .etag(&etag)
            .last_modified(modified))
    }

    async fn customer_v2_get(
        cx: Cx,
        path: CustomerV2GetPath,
        _query: CustomerV2GetQuery,
        headers: CustomerV2GetHeaders,
    ) -> Result<CustomerV2GetReply, ApiError> {
        let row = cx.app.customer_get(&cx.actor, db_id(path.id)?).await?;
        let conditions = Conditions {
            if_none_match: text(&headers.if_none_match),
            if_modified_since: text(&headers.if_modified_since),
        };
        let (etag, modified) = (entity_etag(row.version()), timestamp(row.updated_at));
        Ok(CustomerV2GetReply::conditional(conditions, &etag, Some(modified), || customer_v2(row))?.private())
    }

    async fn customer_v2_replace(
        cx: Cx,
        path: CustomerV2ReplacePath,
        headers: CustomerV2ReplaceHeaders,
        body: types::CustomerV2Input,
    ) -> Result<CustomerV2ReplaceReply, ApiError> {
        let precondition = precondition(text(&headers.if_match));
        // v2 has no phone: a replacement keeps the one v1 gave.
        let changes = domain::CustomerChanges {
            name: Some(body.name.into()),
            city: Some(body.location.into()),
            email: Some(body.email.into()),
            phone: None,
        };
        let row =
            cx.app.customer_update(&cx.actor, db_id(path.id)?, &changes, "location", &precondition).await?;
        let (etag, modified) = (entity_etag(row.version()), timestamp(row.updated_at));
        Ok(CustomerV2ReplaceReply::new(customer_v2(row)?).etag(&etag).last_modified(modified))
    }

    async fn customer_v2_update(
        cx: Cx,
        path: CustomerV2UpdatePath,
        headers: CustomerV2UpdateHeaders,
        body: types::CustomerV2Patch,
    ) -> Result<CustomerV2UpdateReply, ApiError> {
        let precondition = precondition(text(&headers.if_match));
        let changes = domain::CustomerChanges {
            name: body.name.map(String::from),
            city: body.location.map(String::from),
            email: body.email.map(String::from),
            phone: None,
        };
        let row =
            cx.app.customer_update(&cx.actor, db_id(path.id)?, &changes, "location", &precondition).await?;
        let (etag, modified) = (entity_etag(row.version()), timestamp(row.updated_at));
        Ok(CustomerV2UpdateReply::new(customer_v2(row)?).etag(&etag).last_modified(modified))
    }

    async fn customer_v2_delete(
        cx: Cx,
        path: CustomerV2DeletePath,
        headers: CustomerV2DeleteHeaders,
    ) -> Result<CustomerV2DeleteReply, ApiError> {
        let precondition = precondition(text(&headers.if_match));
        cx.app.customer_delete(&cx.actor, db_id(path.id)?, &precondition).await?;
        Ok(CustomerV2DeleteReply::new())
    }
}

/// The start of a page of customers: id order, cursors bound to the filters (the same for both
/// versions, which list the same rows).
fn start(
    filter: &CustomerFilter,
    offset: Option<i64>,
    cursor: Option<&str>,
) -> Result<(domain::Start<i64>, domain::Start<page::Position>, String), ApiError> {
    let fingerprint = page::fingerprint(&("customers", filter));
    let start = page::start(offset, cursor, &fingerprint)?;
    let ids = start.try_map(|p| Ok::<_, ApiError>(p.id))?;
    Ok((ids, start, fingerprint))
}

/// A stored customer as API v1 shows it.
pub(crate) fn customer_v1(row: Customer) -> Result<types::Customer, Error> {
    Ok(types::Customer {
        photo_url: photo_url(&row, "v1"),
        id: api_id(row.id)?,
        name: api_string(row.name, "customer name")?,
        city: api_string(row.city, "city")?,
        email: api_string(row.email, "email")?,
        phone: row.phone,
        created_at: api_time(row.created_at),
        updated_at: api_time(row.updated_at),
    })
}

/// A stored customer as API v2 shows it.
pub(crate) fn customer_v2(row: Customer) -> Result<types::CustomerV2, Error> {
    Ok(types::CustomerV2 {
        photo_url: photo_url(&row, "v2"),
        id: api_id(row.id)?,
        name: api_string(row.name, "customer name")?,
        location: api_string(row.city, "city")?,
        email: api_string(row.email, "email")?,
        created_at: api_time(row.created_at),
        updated_at: api_time(row.updated_at),
    })
}
