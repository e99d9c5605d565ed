//! The HTTP layer: the hand-written side of the generated API trait.
//!
//! `crate::api::server` (generated from the spec) defines `Handlers`, one method per operation;
//! [`Server`] implements it here by delegating to one module per resource, whose handlers read
//! like a sentence: unwrap the inputs, call the data layer, map rows to the generated types.

mod api_keys;
mod auth;
mod categories;
pub mod conditional;
pub mod extract;
mod ops;
mod page;
pub mod policy;
mod products;
pub mod reply;
mod tags;
mod users;
pub mod validate;

use std::sync::Arc;

use dropshot::RequestContext;
use slog::Logger;

use crate::api::server::*;
use crate::api::types;
use crate::config::Config;
use crate::db::Db;
use crate::error::ApiError;

/// What every handler can reach (dropshot's server context).
pub struct ServerState {
    pub db: Db,
    pub config: Arc<Config>,
    /// Signs and checks access tokens.
    pub tokens: crate::auth::TokenKeys,
    pub limiter: crate::ratelimit::Limiter,
    /// Proves a request came through the edge (see `crate::edge`).
    pub edge_secret: String,
    pub log: Logger,
}

/// A request admitted to an operation: what a handler gets besides its parameters.
pub struct Cx {
    pub rqctx: RequestContext<ServerState>,
    /// The operation, with the policies the spec declares for it.
    pub op: &'static policy::OperationMeta,
    pub request_id: String,
    /// Carries the request id, the operation and the user.
    pub log: Logger,
    /// Who is calling (authenticated, and admitted by the operation's policy).
    pub caller: crate::auth::Caller,
}

impl Cx {
    pub fn db(&self) -> &Db {
        &self.rqctx.context().db
    }

    /// The authenticated caller (the policy admitted only those on secured operations).
    pub fn user(&self) -> Result<&crate::auth::AuthenticatedUser, crate::error::Error> {
        self.caller.user().ok_or_else(|| crate::error::Error::Unauthorized("not logged in".into()))
    }

    /// The request's path and query, as the client sent them.
    pub fn request_target(&self) -> String {
        let uri = self.rqctx.request.uri();
        uri.path_and_query().map(|p| p.as_str().to_string()).unwrap_or_else(|| uri.path().to_string())
    }
}

/// A path or body id as the database stores it (the spec bounds ids to 2^53 − 1).
fn db_id(id: std::num::NonZeroU64) -> Result<i64, ApiError> {
    i64::try_from(id.get()).map_err(|_| crate::error::Error::NotFound("resource").into())
}

/// An API id from a stored one (ids start at 1).
fn api_id(id: i64) -> Result<types::Id, crate::error::Error> {
    u64::try_from(id)
        .ok()
        .and_then(std::num::NonZeroU64::new)
        .map(types::Id)
        .ok_or_else(|| crate::error::Error::internal(format!("stored id {id} is not positive")))
}

/// The `If-Match` precondition of a write, checked against the row it is about to change.
fn if_match(header: Option<String>) -> impl Fn(crate::db::Version) -> bool + Send + Sync {
    move |current: crate::db::Version| {
        header.as_deref().is_none_or(|header| {
            let etag = conditional::entity_etag(current.version, crate::db::timestamp(current.created_at));
            conditional::if_match(header, &etag)
        })
    }
}

/// A stored string as one of the spec's constrained string types.
fn api_string<T: TryFrom<String>>(value: String, what: &str) -> Result<T, crate::error::Error> {
    T::try_from(value)
        .map_err(|_| crate::error::Error::internal(format!("a stored {what} breaks the spec's constraints")))
}

/// The Storefront API.
pub enum Server {}

impl Handlers for Server {
    async fn healthz(cx: Cx) -> Result<HealthzReply, ApiError> {
        ops::healthz(cx).await
    }

    async fn readyz(cx: Cx) -> Result<ReadyzReply, ApiError> {
        ops::readyz(cx).await
    }

    async fn category_list(
        cx: Cx,
        query: CategoryListQuery,
        headers: CategoryListHeaders,
    ) -> Result<CategoryListReply, ApiError> {
        categories::list(cx, query, headers).await
    }

    async fn category_create(cx: Cx, body: types::CategoryInput) -> Result<CategoryCreateReply, ApiError> {
        categories::create(cx, body).await
    }

    async fn category_get(
        cx: Cx,
        path: CategoryGetPath,
        headers: CategoryGetHeaders,
    ) -> Result<CategoryGetReply, ApiError> {
        categories::get(cx, path, headers).await
    }

    async fn category_replace(
        cx: Cx,
        path: CategoryReplacePath,
        headers: CategoryReplaceHeaders,
        body: types::CategoryInput,
    ) -> Result<CategoryReplaceReply, ApiError> {
        categories::replace(cx, path, headers, body).await
    }

    async fn category_update(
        cx: Cx,
        path: CategoryUpdatePath,
        headers: CategoryUpdateHeaders,
        body: types::CategoryPatch,
    ) -> Result<CategoryUpdateReply, ApiError> {
        categories::update(cx, path, headers, body).await
    }

    async fn category_delete(
        cx: Cx,
        path: CategoryDeletePath,
        headers: CategoryDeleteHeaders,
    ) -> Result<CategoryDeleteReply, ApiError> {
        categories::delete(cx, path, headers).await
    }

    async fn tag_list(
        cx: Cx,
        query: TagListQuery,
        headers: TagListHeaders,
    ) -> Result<TagListReply, ApiError> {
        tags::list(cx, query, headers).await
    }

    async fn tag_get(cx: Cx, path: TagGetPath, headers: TagGetHeaders) -> Result<TagGetReply, ApiError> {
        tags::get(cx, path, headers).await
    }

    async fn product_list(
        cx: Cx,
        query: ProductListQuery,
        headers: ProductListHeaders,
    ) -> Result<ProductListReply, ApiError> {
        products::list(cx, query, headers).await
    }

    async fn product_create(cx: Cx, body: types::ProductInput) -> Result<ProductCreateReply, ApiError> {
        products::create(cx, body).await
    }

    async fn product_get(
        cx: Cx,
        path: ProductGetPath,
        headers: ProductGetHeaders,
    ) -> Result<ProductGetReply, ApiError> {
        products::get(cx, path, headers).await
    }

    async fn product_replace(
        cx: Cx,
        path: ProductReplacePath,
        headers: ProductReplaceHeaders,
        body: types::ProductInput,
    ) -> Result<ProductReplaceReply, ApiError> {
        products::replace(cx, path, headers, body).await
    }

    async fn product_update(
        cx: Cx,
        path: ProductUpdatePath,
        headers: ProductUpdateHeaders,
        body: types::ProductPatch,
    ) -> Result<ProductUpdateReply, ApiError> {
        products::update(cx, path, headers, body).await
    }

    async fn product_delete(
        cx: Cx,
        path: ProductDeletePath,
        headers: ProductDeleteHeaders,
    ) -> Result<ProductDeleteReply, ApiError> {
        products::delete(cx, path, headers).await
    }

    async fn auth_register(cx: Cx, body: types::Registration) -> Result<AuthRegisterReply, ApiError> {
        auth::register(cx, body).await
    }

    async fn auth_login(cx: Cx, body: types::Credentials) -> Result<AuthLoginReply, ApiError> {
        auth::login(cx, body).await
    }

    async fn auth_refresh(cx: Cx, body: types::RefreshRequest) -> Result<AuthRefreshReply, ApiError> {
        auth::refresh(cx, body).await
    }

    async fn auth_logout(cx: Cx, body: types::RefreshRequest) -> Result<AuthLogoutReply, ApiError> {
        auth::logout(cx, body).await
    }

    async fn user_list(cx: Cx, query: UserListQuery) -> Result<UserListReply, ApiError> {
        users::list(cx, query).await
    }

    async fn user_get(cx: Cx, path: UserGetPath) -> Result<UserGetReply, ApiError> {
        users::get(cx, path).await
    }

    async fn user_update(
        cx: Cx,
        path: UserUpdatePath,
        headers: UserUpdateHeaders,
        body: types::UserPatch,
    ) -> Result<UserUpdateReply, ApiError> {
        users::update(cx, path, headers, body).await
    }

    async fn user_delete(
        cx: Cx,
        path: UserDeletePath,
        headers: UserDeleteHeaders,
    ) -> Result<UserDeleteReply, ApiError> {
        users::delete(cx, path, headers).await
    }

    async fn api_key_list(cx: Cx) -> Result<ApiKeyListReply, ApiError> {
        api_keys::list(cx).await
    }

    async fn api_key_create(cx: Cx, body: types::ApiKeyInput) -> Result<ApiKeyCreateReply, ApiError> {
        api_keys::create(cx, body).await
    }

    async fn api_key_get(cx: Cx, path: ApiKeyGetPath) -> Result<ApiKeyGetReply, ApiError> {
        api_keys::get(cx, path).await
    }

    async fn api_key_delete(cx: Cx, path: ApiKeyDeletePath) -> Result<ApiKeyDeleteReply, ApiError> {
        api_keys::delete(cx, path).await
    }
}
