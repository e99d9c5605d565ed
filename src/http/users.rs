//! Accounts: the caller's own, and (for admins) everyone's.

use crate::api::server::*;
use crate::api::types;
use crate::auth::stored_role;
use crate::db::users::UserRow;
use crate::db::{self, timestamp};
use crate::error::{ApiError, Error};
use crate::http::conditional::entity_etag;
use crate::http::page;
use crate::http::{api_id, api_string, db_id, if_match, Cx};

pub async fn list(cx: Cx, query: UserListQuery) -> Result<UserListReply, ApiError> {
    let params = (query.limit, query.offset, query.cursor.as_deref().map(String::as_str));
    let (rows, links) = page::by_id(
        &cx,
        &query,
        "users",
        params,
        |row: &UserRow| row.id,
        |start, limit| db::users::list(cx.db(), start, limit),
    )
    .await?;
    let items = rows.items.iter().map(user).collect::<Result<Vec<_>, Error>>()?;
    let body = types::UserPage {
        items,
        total: rows.total,
        next_cursor: links.next_cursor,
        prev_cursor: links.prev_cursor,
        links: links.links,
    };
    Ok(UserListReply::new(body).private().link(&links.header))
}

pub async fn get(cx: Cx, path: UserGetPath) -> Result<UserGetReply, ApiError> {
    let caller = cx.user()?;
    // `me`, or digits (the spec's pattern): anything that does not fit an id is nobody.
    let id = match path.id.as_str() {
        "me" => caller.id,
        digits => digits.parse::<i64>().map_err(|_| Error::NotFound("user"))?,
    };
    // Other people's accounts are for admins; to anyone else they do not exist.
    if id != caller.id && caller.role != types::Role::Admin {
        return Err(Error::NotFound("user").into());
    }
    let row = db::users::get(cx.db(), id).await?;
    Ok(UserGetReply::new(user(&row)?).etag(&etag(&row)).private())
}

pub async fn update(
    cx: Cx,
    path: UserUpdatePath,
    headers: UserUpdateHeaders,
    body: types::UserPatch,
) -> Result<UserUpdateReply, ApiError> {
    let precondition = if_match(headers.if_match.map(String::from));
    let id = db_id(path.id)?;
    if body.role.is_some_and(|r| r != types::Role::Admin) && cx.caller.user().is_some_and(|u| u.id == id) {
        return Err(Error::Conflict("admins cannot demote themselves; ask another admin".into()).into());
    }
    let row = db::users::update(
        cx.db(),
        id,
        body.role.map(|role| role.to_string()).as_deref(),
        body.email.as_deref().map(String::as_str),
        &precondition,
    )
    .await?;
    Ok(UserUpdateReply::new(user(&row)?).etag(&etag(&row)))
}

pub async fn delete(
    cx: Cx,
    path: UserDeletePath,
    headers: UserDeleteHeaders,
) -> Result<UserDeleteReply, ApiError> {
    let precondition = if_match(headers.if_match.map(String::from));
    let id = db_id(path.id)?;
    if cx.caller.user().is_some_and(|u| u.id == id) {
        return Err(
            Error::Conflict("admins cannot delete their own account; ask another admin".into()).into()
        );
    }
    db::users::delete(cx.db(), id, &precondition).await?;
    Ok(UserDeleteReply::new())
}

fn etag(row: &UserRow) -> String {
    entity_etag(row.version, timestamp(row.created_at))
}

/// A stored user as the API shows it.
pub(crate) fn user(row: &UserRow) -> Result<types::User, Error> {
    Ok(types::User {
        id: api_id(row.id)?,
        username: api_string(row.username.clone(), "username")?,
        email: api_string(row.email.clone(), "email")?,
        role: stored_role(&row.role)?,
        created_at: types::Timestamp(timestamp(row.created_at)),
    })
}
