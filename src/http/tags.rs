//! Tag handlers (tags are created through products; here they are only read).

use crate::api::server::*;
use crate::api::types;
use crate::db::tags::TagRow;
use crate::db::{self, timestamp};
use crate::error::{ApiError, Error};
use crate::http::conditional::{entity_etag, none_match};
use crate::http::page::{self, Neighbours, Position};
use crate::http::{api_id, api_string, db_id, Cx};

pub async fn list(cx: Cx, query: TagListQuery, headers: TagListHeaders) -> Result<TagListReply, ApiError> {
    let limit = query.limit.get() as i64;
    let fingerprint = page::fingerprint(&"tags");
    let start = page::start(query.offset, query.cursor.as_deref().map(String::as_str), &fingerprint)?;
    let rows = db::tags::list(cx.db(), start.map(|p| p.id), limit).await?;
    let items = rows.items.iter().map(tag).collect::<Result<Vec<_>, Error>>()?;
    let position = |row: &TagRow| Position { key: None, id: row.id };
    let neighbours = Neighbours {
        more_after: rows.more_after,
        more_before: rows.more_before,
        first: rows.items.first().map(position),
        last: rows.items.last().map(position),
    };
    let links = page::links(&cx, &query, limit, &start, neighbours, &fingerprint);
    let body = types::TagPage {
        items,
        total: rows.total,
        next_cursor: links.next_cursor,
        prev_cursor: links.prev_cursor,
        links: links.links,
    };
    Ok(TagListReply::new(body)
        .cache_control(cx.op.cache_control)
        .link(&links.header)
        .etag_from_body(headers.if_none_match.as_deref().map(String::as_str)))
}

pub async fn get(cx: Cx, path: TagGetPath, headers: TagGetHeaders) -> Result<TagGetReply, ApiError> {
    let row = db::tags::get(cx.db(), db_id(path.id)?).await?;
    // Tags never change once created.
    let etag = entity_etag(1, timestamp(row.created_at));
    let reply = match headers.if_none_match.as_deref() {
        Some(header) if none_match(header, &etag) => TagGetReply::not_modified(),
        _ => TagGetReply::new(tag(&row)?),
    };
    Ok(reply.etag(&etag).cache_control(cx.op.cache_control))
}

fn tag(row: &TagRow) -> Result<types::Tag, Error> {
    Ok(types::Tag { id: api_id(row.id)?, name: api_string(row.name.clone(), "tag name")? })
}
