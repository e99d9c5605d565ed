//! Handlers of orders, and the mapping of the domain's orders to the spec's.

use crate::api::server::*;
use crate::api::types;
use crate::domain::{self, timestamp, Order, OrderStatus, Versioned};
use crate::error::{ApiError, Error};
use crate::http::catalog::{by_id, limit, text};
use crate::http::conditional::{entity_etag, precondition};
use crate::http::page;
use crate::http::reply::Conditions;
use crate::http::{api_id, api_string, api_time, db_id, Cx, Server};
use crate::money;

impl OrdersHandlers for Server {
    async fn order_list(
        cx: Cx,
        query: OrderListQuery,
        headers: OrderListHeaders,
    ) -> Result<OrderListReply, ApiError> {
        let limit = limit(query.limit);
        let status = query.status.map(domain_status);
        let fingerprint = page::fingerprint(&("orders", status));
        let start = page::start(query.offset, text(&query.cursor), &fingerprint)?;
        let ids = start.try_map(|position| Ok::<_, ApiError>(position.id))?;
        let rows = cx.app.order_list(&cx.actor, status, ids, limit).await?;
        let links = page::links(&cx.path(), &query, limit, &start, &rows, |o| by_id(o.id), &fingerprint);
        let body = types::OrderPage {
            items: rows.items.into_iter().map(order).collect::<Result<_, _>>()?,
            total: rows.total,
            next_cursor: links.next_cursor,
            prev_cursor: links.prev_cursor,
            links: links.links,
        };
        Ok(OrderListReply::new(body)
            .private()
            .link(&links.header)
            .etag_from_body(text(&headers.if_none_match)))
    }

    async fn order_create(cx: Cx, body: types::OrderInput) -> Result<OrderCreateReply, ApiError> {
        let lines = body
            .items
            .iter()
            .enumerate()
            .map(|(i, line)| {
                let quantity = i64::try_from(line.quantity.0.get())
                    .map_err(|_| Error::invalid(format!("items.{i}.quantity"), "is too large"))?;
                Ok(domain::OrderLine { product_id: db_id(line.product_id.0)?, quantity })
            })
            .collect::<Result<Vec<_>, ApiError>>()?;
        let row = cx.app.order_create(&cx.actor, &lines).await?;
        let (etag, modified) = (entity_etag(row.version()), timestamp(row.updated_at));
        let location = format!("/api/v1/orders/{}", row.id);
        Ok(OrderCreateReply::new(order(row)?).location(&location).etag(&etag).last_modified(modified))
    }

    async fn order_get(
        cx: Cx,
        path: OrderGetPath,
        _query: OrderGetQuery,
        headers: OrderGetHeaders,
    ) -> Result<OrderGetReply, ApiError> {
        let row = cx.app.order_get(&cx.actor, db_id(path.id)?).await?;
        let conditions = Conditions {
            if_none_match: text(&headers.if_none_match),
            if_modified_since: text(&headers.if_modified_since),
        };
        let (etag, modified) = (entity_etag(row.version()), timestamp(row.updated_at));
        Ok(OrderGetReply::conditional(conditions, &etag, Some(modified), || order(row))?.private())
    }

    async fn order_update(
        cx: Cx,
        path: OrderUpdatePath,
        headers: OrderUpdateHeaders,
        body: types::OrderStatusChange,
    ) -> Result<OrderUpdateReply, ApiError> {
        let precondition = precondition(text(&headers.if_match));
        let status = domain_status(body.status);
        let row = cx.app.order_set_status(&cx.actor, db_id(path.id)?, status, &precondition).await?;
        let (etag, modified) = (entity_etag(row.version()), timestamp(row.updated_at));
        Ok(OrderUpdateReply::new(order(row)?).etag(&etag).last_modified(modified))
    }
}

fn domain_status(status: types::OrderStatus) -> OrderStatus {
    match status {
        types::OrderStatus::Pending => OrderStatus::Pending,
        types::OrderStatus::Paid => OrderStatus::Paid,
        types::OrderStatus::Shipped => OrderStatus::Shipped,
        types::OrderStatus::Cancelled => OrderStatus::Cancelled,
    }
}

fn wire_status(status: OrderStatus) -> types::OrderStatus {
    match status {
        OrderStatus::Pending => types::OrderStatus::Pending,
        OrderStatus::Paid => types::OrderStatus::Paid,
        OrderStatus::Shipped => types::OrderStatus::Shipped,
        OrderStatus::Cancelled => types::OrderStatus::Cancelled,
    }
}

/// A stored order as the API shows it.
fn order(row: Order) -> Result<types::Order, Error> {
    Ok(types::Order {
        id: api_id(row.id)?,
        user_id: api_id(row.user_id)?,
        items: row
            .items
            .into_iter()
            .map(|item| {
                Ok(types::OrderLine {
                    product_id: api_id(item.product_id)?,
                    quantity: u64::try_from(item.quantity)
                        .ok()
                        .and_then(std::num::NonZeroU64::new)
                        .map(types::Quantity)
                        .ok_or_else(|| {
                            Error::internal(format!("a stored quantity {} is not positive", item.quantity))
                        })?,
                    unit_price: api_string(money::format_cents(item.unit_price_cents), "unit price")?,
                })
            })
            .collect::<Result<_, Error>>()?,
        total: api_string(money::format_cents(row.total_cents), "order total")?,
        status: wire_status(row.status),
        created_at: api_time(row.created_at),
        updated_at: api_time(row.updated_at),
    })
}
