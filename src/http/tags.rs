//! Tag handlers (tags are created through products; here they are only read).

use crate::api::server::*;
use crate::api::types;
use crate::db::tags::TagRow;
use crate::db::{self, timestamp};
use crate::error::{ApiError, Error};
use crate::http::conditional::entity_etag;
use crate::http::page;
use crate::http::{api_id, api_string, db_id, Cx};

pub async fn list(cx: Cx, query: TagListQuery, headers: TagListHeaders) -> Result<TagListReply, ApiError> {
    let params = (query.limit, query.offset, query.cursor.as_deref().map(String::as_str));
    let (rows, links) = page::by_id(
        &cx,
        &query,
        "tags",
        params,
        |row: &TagRow| row.id,
        |start, limit| db::tags::list(cx.db(), start, limit),
    )
    .await?;
    let items = rows.items.iter().map(tag).collect::<Result<Vec<_>, Error>>()?;
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
    let if_none_match = headers.if_none_match.as_deref().map(String::as_str);
    let reply = TagGetReply::conditional(if_none_match, None, &etag, None, || tag(&row))?;
    Ok(reply.cache_control(cx.op.cache_control))
}

fn tag(row: &TagRow) -> Result<types::Tag, Error> {
    Ok(types::Tag { id: api_id(row.id)?, name: api_string(row.name.clone(), "tag name")? })
}
