//! The access policy the spec declares for each operation, enforced before its handler runs.
//!
//! The generated glue drives it in two steps:
//!
//! 1. [`Admission`], the first extractor of every endpoint, so it runs before the body is even
//!    read: checks that the request came through the edge, authenticates the caller (bearer
//!    token or API key, the role read from the database), and applies `security` (401) and
//!    `x-roles` (403).
//! 2. [`enter`], once the parameters are extracted: counts the request against its
//!    `x-rate-limit` class (429 over the limit) and builds the handler's [`Cx`]. Its
//!    [`Decoration`] puts the rate-limit headers on whatever the handler answers.

use std::any::Any;
use std::net::IpAddr;

use async_trait::async_trait;
use dropshot::{
    ApiEndpointBodyContentType, ExtensionMode, ExtractorMetadata, HttpError, RequestContext, RequestInfo,
    ServerContext, SharedExtractor,
};

use crate::api::server::operations;
use crate::api::types::Role;
use crate::auth::{AuthenticatedUser, Caller, Credential};
use crate::error::{ApiError, Kind};
use crate::http::{Cx, ServerState};

/// A security scheme an operation accepts (`components.securitySchemes`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    /// `bearerAuth`: an access token in `Authorization: Bearer …`.
    Bearer,
    /// `apiKeyAuth`: a key in `X-API-Key`.
    ApiKey,
}

/// What a rate-limit counter is keyed by (`x-rate-limit-key`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyPart {
    /// The user or API key, or the client address for anonymous callers.
    Caller,
    /// The client address.
    Ip,
    /// The `username` of the JSON body.
    Username,
}

/// An operation of the spec, and the policies it declares.
#[derive(Debug)]
pub struct OperationMeta {
    /// The `operationId`, which is also the handler's name.
    pub id: &'static str,
    pub method: &'static str,
    /// The path template, as in the spec.
    pub path: &'static str,
    /// The status of the success response.
    pub success_status: u16,
    /// Whether the spec declares a 304 (conditional GET).
    pub not_modified: bool,
    /// `Cache-Control` for success responses, from `x-cache`.
    pub cache_control: Option<&'static str>,
    pub deprecated: bool,
    /// The schemes that may authenticate a call; empty when the operation is public.
    pub schemes: &'static [Scheme],
    /// The roles allowed (`x-roles`); empty when any authenticated caller may.
    pub roles: &'static [Role],
    /// The rate-limit class (`x-rate-limit`); `None` for `none`.
    pub rate_limit: Option<&'static str>,
    pub rate_limit_key: &'static [KeyPart],
    /// Roles that may send only some fields of the request body (`x-field-roles`).
    pub field_roles: &'static [(Role, &'static [&'static str])],
}

impl OperationMeta {
    pub fn is_public(&self) -> bool {
        self.schemes.is_empty()
    }
}

/// A request that passed authentication and authorization.
pub struct Admission {
    caller: Caller,
    request_id: String,
    peer: Option<IpAddr>,
}

#[async_trait]
impl SharedExtractor for Admission {
    async fn from_request<C: ServerContext>(rqctx: &RequestContext<C>) -> Result<Self, HttpError> {
        let state = (rqctx.context() as &dyn Any)
            .downcast_ref::<ServerState>()
            .ok_or_else(|| HttpError::for_internal_error("the server context is not ServerState".into()))?;
        let op = operations::find(&rqctx.endpoint.operation_id).ok_or_else(|| {
            HttpError::for_internal_error(format!("no policy for {}", rqctx.endpoint.operation_id))
        })?;
        admit(state, &rqctx.request, op).await.map_err(crate::http::extract::into_http_error)
    }

    fn metadata(_: ApiEndpointBodyContentType) -> ExtractorMetadata {
        // Credentials are documented by the spec's securitySchemes, not as parameters.
        ExtractorMetadata { extension_mode: ExtensionMode::None, parameters: Vec::new() }
    }
}

/// Authenticates the caller and applies `security` and `x-roles`.
async fn admit(
    state: &ServerState,
    request: &RequestInfo,
    op: &'static OperationMeta,
) -> Result<Admission, ApiError> {
    let headers = request.headers();
    let from_edge = headers
        .get(crate::edge::EDGE_SECRET_HEADER)
        .is_some_and(|value| constant_time_eq(value.as_bytes(), state.edge_secret.as_bytes()));
    if !from_edge {
        return Err(ApiError::new(Kind::Forbidden, "requests must come through the public listener"));
    }
    let request_id = headers
        .get(crate::edge::REQUEST_ID_HEADER)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let peer = crate::edge::peer_ip(headers);
    let caller = authenticate(state, headers, op).await?;
    match &caller {
        Caller::Anonymous if !op.is_public() => {
            return Err(ApiError::unauthorized(
                false,
                "this operation needs credentials: a bearer token or an API key",
            ));
        }
        Caller::User(user) if !op.roles.is_empty() && !op.roles.contains(&user.role) => {
            return Err(ApiError::new(
                Kind::Forbidden,
                format!("the {} role may not do this; it needs {}", user.role, roles_text(op.roles)),
            ));
        }
        _ => {}
    }
    Ok(Admission { caller, request_id, peer })
}

/// Who the credentials of a request belong to. Credentials that are sent are checked even on
/// public operations: a client whose token is bad learns it at once.
async fn authenticate(
    state: &ServerState,
    headers: &http::HeaderMap,
    op: &OperationMeta,
) -> Result<Caller, ApiError> {
    let authorization = headers.get(http::header::AUTHORIZATION);
    let api_key = headers.get("x-api-key");
    match (authorization, api_key) {
        (None, None) => Ok(Caller::Anonymous),
        (Some(_), Some(_)) => {
            Err(ApiError::unauthorized(true, "send a bearer token or an API key, not both"))
        }
        (Some(value), None) => {
            let token = value
                .to_str()
                .ok()
                .and_then(|v| v.split_once(' '))
                .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
                .map(|(_, token)| token.trim())
                .ok_or_else(|| {
                    ApiError::unauthorized(true, "the Authorization header must be `Bearer <access token>`")
                })?;
            let user_id = state.tokens.verify_access(token).map_err(|e| {
                slog::debug!(state.log, "access token refused"; "reason" => e.to_string());
                ApiError::unauthorized(true, "the access token is invalid or expired")
            })?;
            let user = crate::db::users::get(&state.db, user_id).await.map_err(|e| match e {
                crate::error::Error::NotFound(_) => {
                    ApiError::unauthorized(true, "the access token's user no longer exists")
                }
                other => other.into(),
            })?;
            Ok(Caller::User(AuthenticatedUser {
                id: user.id,
                role: crate::auth::stored_role(&user.role)?,
                username: user.username,
                credential: Credential::AccessToken,
            }))
        }
        (None, Some(value)) => {
            if !op.schemes.is_empty() && !op.schemes.contains(&Scheme::ApiKey) {
                return Err(ApiError::unauthorized(
                    false,
                    "this operation needs a bearer token, not an API key",
                ));
            }
            let key = value.to_str().map_err(|_| ApiError::unauthorized(true, "the API key is invalid"))?;
            let owner = crate::db::api_keys::find_active(&state.db, &crate::auth::secret_hash(key))
                .await?
                .ok_or_else(|| ApiError::unauthorized(true, "the API key is invalid or revoked"))?;
            if crate::db::api_keys::touch_due(owner.last_used_at) {
                let (db, key_id) = (state.db.clone(), owner.key_id);
                tokio::spawn(async move {
                    let _ = crate::db::api_keys::touch(&db, key_id).await;
                });
            }
            Ok(Caller::User(AuthenticatedUser {
                id: owner.user_id,
                role: crate::auth::stored_role(&owner.role)?,
                username: owner.username,
                credential: Credential::ApiKey { id: owner.key_id },
            }))
        }
    }
}

fn roles_text(roles: &[Role]) -> String {
    roles.iter().map(|r| r.to_string()).collect::<Vec<_>>().join(" or ")
}

/// Applies the operation's rate limit and builds the handler's context.
pub async fn enter(
    rqctx: RequestContext<ServerState>,
    admission: Admission,
    op: &'static OperationMeta,
    username: Option<&str>,
) -> Result<(Cx, Decoration), ApiError> {
    let state = rqctx.context();
    let Admission { caller, request_id, peer } = admission;
    let mut decoration = Decoration::default();
    if let Some(user) = caller.user() {
        decoration.push(crate::edge::CALLER_HEADER, format!("user:{}", user.id));
    }
    if let Some(class) = op.rate_limit {
        // Admins get their own, larger class in place of `default`, when one is configured.
        let class = match caller.user() {
            Some(user)
                if class == "default"
                    && user.role == Role::Admin
                    && state.limiter.class("admin").is_some() =>
            {
                "admin"
            }
            _ => class,
        };
        let ip = peer.map_or_else(|| "unknown".to_string(), |ip| ip.to_string());
        let key: Vec<String> = op
            .rate_limit_key
            .iter()
            .map(|part| match part {
                KeyPart::Caller => match caller.user() {
                    Some(AuthenticatedUser { credential: Credential::ApiKey { id }, .. }) => {
                        format!("key:{id}")
                    }
                    Some(user) => format!("user:{}", user.id),
                    None => format!("ip:{ip}"),
                },
                KeyPart::Ip => format!("ip:{ip}"),
                KeyPart::Username => format!("name:{}", username.unwrap_or_default().to_lowercase()),
            })
            .collect();
        match state.limiter.hit(class, &key.join("|")).await {
            Ok(Some(decision)) => {
                for (name, value) in [
                    ("ratelimit-limit", decision.limit),
                    ("ratelimit-remaining", decision.remaining),
                    ("ratelimit-reset", decision.reset),
                    ("x-ratelimit-limit", decision.limit),
                    ("x-ratelimit-remaining", decision.remaining),
                    ("x-ratelimit-reset", decision.reset),
                ] {
                    decoration.push(name, value.to_string());
                }
                if !decision.allowed {
                    let error = ApiError::new(
                        Kind::TooManyRequests,
                        format!("over the {class} rate limit; retry in {} s", decision.reset.max(1)),
                    )
                    .with_header("retry-after", decision.reset.max(1).to_string());
                    return Err(decoration.apply_error(error));
                }
            }
            Ok(None) => {}
            // A limiter that cannot count must not take the API down with it.
            Err(e) => {
                slog::warn!(state.log, "rate limiting failed; request let through"; "error" => e.to_string())
            }
        }
    }
    let mut log = state.log.new(slog::o!("request_id" => request_id.clone(), "operation" => op.id));
    if let Some(user) = caller.user() {
        log = log.new(slog::o!("user_id" => user.id));
    }
    Ok((Cx { rqctx, op, request_id, log, caller }, decoration))
}

/// Applies `x-field-roles`: a role narrowed to some fields may send no others.
pub fn check_fields(cx: &Cx, body: &impl serde::Serialize) -> Result<(), ApiError> {
    let Some(user) = cx.caller.user() else { return Ok(()) };
    let Some((_, allowed)) = cx.op.field_roles.iter().find(|(role, _)| *role == user.role) else {
        return Ok(());
    };
    let present = serde_json::to_value(body).map_err(crate::error::Error::internal)?;
    let refused: Vec<&String> = present
        .as_object()
        .into_iter()
        .flat_map(|m| m.keys())
        .filter(|field| !allowed.contains(&field.as_str()))
        .collect();
    if refused.is_empty() {
        return Ok(());
    }
    let refused: Vec<&str> = refused.iter().map(|f| f.as_str()).collect();
    Err(ApiError::new(
        Kind::Forbidden,
        format!("the {} role may change {} only, not {}", user.role, allowed.join(", "), refused.join(", ")),
    ))
}

/// Headers the policy adds to an operation's answer, success or error.
#[derive(Debug, Default, Clone)]
pub struct Decoration {
    headers: Vec<(&'static str, String)>,
}

impl Decoration {
    fn push(&mut self, name: &'static str, value: String) {
        self.headers.push((name, value));
    }

    pub fn apply<R: crate::http::reply::Decorate>(&self, mut reply: R) -> R {
        for (name, value) in &self.headers {
            reply.add_header(name, value);
        }
        reply
    }

    pub fn apply_error(&self, error: ApiError) -> ApiError {
        self.headers.iter().fold(error, |error, (name, value)| error.with_header(name, value.clone()))
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
