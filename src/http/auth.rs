//! Registration, login, token refresh and logout.

use crate::api::server::*;
use crate::api::types;
use crate::auth::{hash_password, new_secret, secret_hash, verify_password, REFRESH_TOKEN_PREFIX};
use crate::db::tokens::Refreshed;
use crate::db::users::NewUser;
use crate::db::{self};
use crate::error::{ApiError, Error};
use crate::http::{users, Cx};

pub async fn register(cx: Cx, body: types::Registration) -> Result<AuthRegisterReply, ApiError> {
    let password_hash = hash_password(body.password.to_string()).await?;
    // Everyone starts as a customer: the schema refuses a `role` in the body.
    let new = NewUser {
        username: body.username.into(),
        email: body.email.to_string(),
        password_hash,
        role: "customer",
    };
    let row = db::users::create(cx.db(), &new).await?;
    Ok(AuthRegisterReply::new(users::user(&row)?).location(&format!("/api/v1/users/{}", row.id)))
}

pub async fn login(cx: Cx, body: types::Credentials) -> Result<AuthLoginReply, ApiError> {
    let found = db::users::find_for_login(cx.db(), &body.username).await?;
    let (user, hash) = match found {
        Some((user, hash)) => (Some(user), Some(hash)),
        None => (None, None),
    };
    // An unknown user costs the same hash check as a wrong password, and gets the same answer.
    let verified = verify_password(body.password.to_string(), hash).await?;
    let user =
        user.filter(|_| verified).ok_or(Error::Unauthorized("the username or password is wrong".into()))?;
    Ok(AuthLoginReply::new(start_session(&cx, user.id).await?).no_store())
}

pub async fn refresh(cx: Cx, body: types::RefreshRequest) -> Result<AuthRefreshReply, ApiError> {
    let state = cx.rqctx.context();
    let next = new_secret(REFRESH_TOKEN_PREFIX)?;
    let ttl = ttl_micros(state.tokens.refresh_ttl);
    match db::tokens::rotate(cx.db(), &secret_hash(&body.refresh_token), &secret_hash(&next), ttl).await? {
        Refreshed::Rotated { user_id } => {
            let access_token = state.tokens.issue_access(user_id)?;
            Ok(AuthRefreshReply::new(token_pair(&cx, access_token, next)).no_store())
        }
        Refreshed::Reused => {
            slog::warn!(cx.log, "a rotated refresh token was presented again; its login is revoked");
            Err(Error::Unauthorized(
                "this refresh token was already used; every token of its login is now revoked".into(),
            )
            .into())
        }
        Refreshed::Invalid => {
            Err(Error::Unauthorized("the refresh token is invalid, expired or revoked".into()).into())
        }
    }
}

pub async fn logout(cx: Cx, body: types::RefreshRequest) -> Result<AuthLogoutReply, ApiError> {
    db::tokens::revoke(cx.db(), &secret_hash(&body.refresh_token)).await?;
    Ok(AuthLogoutReply::new())
}

/// A new login: an access token and the first refresh token of a new family.
async fn start_session(cx: &Cx, user_id: i64) -> Result<types::TokenPair, ApiError> {
    let state = cx.rqctx.context();
    let refresh_token = new_secret(REFRESH_TOKEN_PREFIX)?;
    db::tokens::start_family(
        cx.db(),
        user_id,
        &secret_hash(&refresh_token),
        ttl_micros(state.tokens.refresh_ttl),
    )
    .await?;
    Ok(token_pair(cx, state.tokens.issue_access(user_id)?, refresh_token))
}

fn token_pair(cx: &Cx, access_token: String, refresh_token: String) -> types::TokenPair {
    types::TokenPair {
        access_token,
        refresh_token,
        token_type: types::TokenPairTokenType::Bearer,
        expires_in: i64::try_from(cx.rqctx.context().tokens.access_ttl.as_secs()).unwrap_or(i64::MAX),
    }
}

fn ttl_micros(ttl: std::time::Duration) -> i64 {
    i64::try_from(ttl.as_micros()).unwrap_or(i64::MAX)
}
