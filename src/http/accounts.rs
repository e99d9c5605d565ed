//! Handlers of accounts: registration and sessions (`auth`), and users.

use crate::api::server::*;
use crate::api::types;
use crate::app::{NewAccount, Session, UserRef};
use crate::domain::{self, Versioned};
use crate::error::{ApiError, Error};
use crate::http::catalog::{by_id, limit, text};
use crate::http::conditional::{entity_etag, precondition};
use crate::http::page;
use crate::http::{api_id, api_string, api_time, domain_role, wire_role, Cx, Server};

impl AuthHandlers for Server {
    async fn auth_register(cx: Cx, body: types::Registration) -> Result<AuthRegisterReply, ApiError> {
        let new = NewAccount {
            username: body.username.to_string(),
            email: body.email.to_string(),
            password: body.password.to_string(),
        };
        let row = cx.app.register(&cx.actor, &new).await?;
        let location = format!("/api/v1/users/{}", row.id);
        Ok(AuthRegisterReply::new(user(row)?).location(&location))
    }

    async fn auth_login(cx: Cx, body: types::Credentials) -> Result<AuthLoginReply, ApiError> {
        let session = cx.app.login(&body.username, &body.password).await?;
        Ok(AuthLoginReply::new(token_pair(session)).no_store())
    }

    async fn auth_refresh(cx: Cx, body: types::RefreshRequest) -> Result<AuthRefreshReply, ApiError> {
        let session = cx.app.refresh(&body.refresh_token).await.inspect_err(|e| {
            if matches!(e, Error::Unauthorized(detail) if detail.contains("already used")) {
                crate::edge::scope::with(|scope| {
                    slog::warn!(scope.log(), "a rotated refresh token was presented again; its login is revoked";
                        "request_id" => scope.request_id())
                });
            }
        })?;
        Ok(AuthRefreshReply::new(token_pair(session)).no_store())
    }

    async fn auth_logout(cx: Cx, body: types::RefreshRequest) -> Result<AuthLogoutReply, ApiError> {
        cx.app.logout(&body.refresh_token).await?;
        Ok(AuthLogoutReply::new())
    }
}

impl UsersHandlers for Server {
    async fn user_list(cx: Cx, query: UserListQuery) -> Result<UserListReply, ApiError> {
        let limit = limit(query.limit);
        let (ids, start, fingerprint) = page::by_id("users", query.offset, text(&query.cursor))?;
        let rows = cx.app.user_list(&cx.actor, ids, limit).await?;
        let links = page::links(&cx.path(), &query, limit, &start, &rows, |u| by_id(u.id), &fingerprint);
        let body = types::UserPage {
            items: rows.items.into_iter().map(user).collect::<Result<_, _>>()?,
            total: rows.total,
            next_cursor: links.next_cursor,
            prev_cursor: links.prev_cursor,
            links: links.links,
        };
        Ok(UserListReply::new(body).private().link(&links.header))
    }

    async fn user_get(cx: Cx, path: UserGetPath) -> Result<UserGetReply, ApiError> {
        let row = cx.app.user_get(&cx.actor, user_ref(&path.id)?).await?;
        let etag = entity_etag(row.version());
        Ok(UserGetReply::new(user(row)?).etag(&etag).private())
    }

    async fn user_update(
        cx: Cx,
        path: UserUpdatePath,
        headers: UserUpdateHeaders,
        body: types::UserPatch,
    ) -> Result<UserUpdateReply, ApiError> {
        let precondition = precondition(text(&headers.if_match));
        let changes = domain::UserChanges {
            role: body.role.map(domain_role),
            email: body.email.map(|e| e.to_string()),
        };
        let row = cx.app.user_update(&cx.actor, user_ref(&path.id)?, &changes, &precondition).await?;
        let etag = entity_etag(row.version());
        Ok(UserUpdateReply::new(user(row)?).etag(&etag))
    }

    async fn user_delete(
        cx: Cx,
        path: UserDeletePath,
        headers: UserDeleteHeaders,
    ) -> Result<UserDeleteReply, ApiError> {
        let precondition = precondition(text(&headers.if_match));
        cx.app.user_delete(&cx.actor, user_ref(&path.id)?, &precondition).await?;
        Ok(UserDeleteReply::new())
    }
}

/// `me`, or digits (the spec's pattern): anything that does not fit an id is nobody.
fn user_ref(id: &types::UserRef) -> Result<UserRef, Error> {
    match id.as_str() {
        "me" => Ok(UserRef::Me),
        digits => digits.parse().map(UserRef::Id).map_err(|_| Error::NotFound("user")),
    }
}

fn token_pair(session: Session) -> types::TokenPair {
    types::TokenPair {
        access_token: session.access_token,
        refresh_token: session.refresh_token,
        token_type: types::TokenPairTokenType::Bearer,
        expires_in: session.expires_in,
    }
}

/// A stored user as the API shows it.
fn user(row: domain::User) -> Result<types::User, Error> {
    Ok(types::User {
        id: api_id(row.id)?,
        username: api_string(row.username, "username")?,
        email: api_string(row.email, "email")?,
        role: wire_role(row.role),
        created_at: api_time(row.created_at),
    })
}
