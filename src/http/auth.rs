//! Who a request's credentials belong to: a bearer access token, or an API key.
//!
//! Credentials that are sent are checked even on public operations: a client whose token is
//! bad learns it at once. A refused credential is 401 with the `invalid_token` challenge; a
//! database that cannot be reached while checking one is 503, never "invalid".

use http::{HeaderMap, HeaderValue};

use crate::app::Actor;
use crate::error::{ApiError, Error};
use crate::http::policy::{OperationMeta, Scheme};
use crate::http::ServerState;

pub async fn authenticate(
    state: &ServerState,
    headers: &HeaderMap,
    op: &OperationMeta,
) -> Result<Actor, ApiError> {
    let authorization = headers.get(http::header::AUTHORIZATION);
    // A constant name: a `&str` would be parsed into a header name on every request.
    const X_API_KEY: http::HeaderName = http::HeaderName::from_static("x-api-key");
    let api_key = headers.get(X_API_KEY);
    let principal = match (authorization, api_key) {
        (None, None) => return Ok(Actor::Anonymous),
        (Some(_), Some(_)) => {
            return Err(ApiError::unauthorized(true, "send a bearer token or an API key, not both"))
        }
        (Some(value), None) => state.app.principal_for_token(bearer_token(value)?).await,
        (None, Some(value)) => {
            if !op.schemes.is_empty() && !op.schemes.contains(&Scheme::ApiKey) {
                return Err(ApiError::unauthorized(
                    false,
                    "this operation needs a bearer token, not an API key",
                ));
            }
            let key = value.to_str().map_err(|_| ApiError::unauthorized(true, "the API key is invalid"))?;
            state.app.principal_for_key(key).await
        }
    };
    match principal {
        Ok(principal) => Ok(Actor::User(principal)),
        Err(Error::Unauthorized(detail)) => Err(ApiError::unauthorized(true, detail)),
        Err(other) => Err(other.into()),
    }
}

/// The access token of an `Authorization: Bearer <token>` header.
pub(crate) fn bearer_token(value: &HeaderValue) -> Result<&str, ApiError> {
    value
        .to_str()
        .ok()
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim())
        .ok_or_else(|| {
            ApiError::unauthorized(true, "the Authorization header must be `Bearer <access token>`")
        })
}
