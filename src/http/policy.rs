//! The policies the spec declares for each operation, enforced before its handler runs.
//!
//! The generated glue drives them in three steps:
//!
//! 1. [`Admission`], the first extractor of every endpoint, so it runs before the body is even
//!    read: it names the operation in the request's scope, applies its deprecation (headers, or
//!    410 after the sunset), authenticates the caller (bearer token or API key, the role read
//!    from the database), applies `security` (401) and `x-roles` (403), and counts the request
//!    against its `x-rate-limit` class (429) — unless the counter is keyed by the body.
//! 2. [`enter`], once the parameters and body are extracted: the rate limit keyed by the body
//!    (login: per username), then the handler's [`Cx`].
//! 3. [`finish`], around the handler: `x-cache` on success; an error is finished as the answer
//!    (request id, headers, the log).
//!
//! Headers that policies add (`RateLimit-*`, `Deprecation`, `Cache-Control`…) go to the request's
//! scope, from which the edge puts them on the response, whatever its status.

use std::any::Any;
use std::sync::Arc;

use async_trait::async_trait;
use dropshot::{
    ApiEndpointBodyContentType, ExtensionMode, ExtractorMetadata, HttpError, RequestContext, ServerContext,
    SharedExtractor,
};
use http::header::{HeaderName, HeaderValue};

use crate::api::server::operations;
use crate::api::types::Role;
use crate::app::{Actor, Principal};
use crate::edge::scope;
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
    /// The login (refresh-token family) of the body's `refresh_token`.
    Session,
}

/// `x-failure-limit`: a limit on the distinct usernames of failed requests (401) per key.
#[derive(Debug)]
pub struct FailureLimit {
    pub class: &'static str,
    pub key: &'static [KeyPart],
}

/// What of the request's body a rate-limit key may use.
#[derive(Debug, Clone, Copy, Default)]
pub struct BodyKeys<'a> {
    pub username: Option<&'a str>,
    pub refresh_token: Option<&'a str>,
}

/// `deprecated: true` with `x-deprecated-since`, `x-sunset` and `x-successor`.
#[derive(Debug)]
pub struct Deprecation {
    /// A date, `YYYY-MM-DD`.
    pub since: &'static str,
    /// A date, `YYYY-MM-DD`: from that day on, the operation answers 410.
    pub sunset: &'static str,
    /// The successor's path template (`{id}` filled from the request's path).
    pub successor: &'static str,
}

/// A file part of a `multipart/form-data` body.
#[derive(Debug)]
pub struct FilePart {
    pub name: &'static str,
    pub required: bool,
    /// The media types the part may have; any when empty.
    pub media_types: &'static [&'static str],
}

/// An operation of the spec, and the policies it declares.
#[derive(Debug)]
pub struct OperationMeta {
    /// The `operationId`, which is also the handler's name.
    pub id: &'static str,
    pub method: &'static str,
    /// The path template, as in the spec.
    pub path: &'static str,
    pub tag: &'static str,
    /// The status of the success response.
    pub success_status: u16,
    /// Whether the spec declares a 304 (conditional GET).
    pub not_modified: bool,
    /// `Cache-Control` for success responses, from `x-cache`.
    pub cache_control: Option<&'static str>,
    pub deprecation: Option<Deprecation>,
    /// The schemes that may authenticate a call; empty when the operation is public.
    pub schemes: &'static [Scheme],
    /// The roles allowed (`x-roles`); empty when any authenticated caller may.
    pub roles: &'static [Role],
    /// The rate-limit class (`x-rate-limit`); `None` for `none`.
    pub rate_limit: Option<&'static str>,
    pub rate_limit_key: &'static [KeyPart],
    /// With a `Session` key: the class of requests whose token belongs to no login, per address.
    pub rate_limit_fallback: Option<&'static str>,
    /// A limit on distinct usernames of failed requests (`x-failure-limit`).
    pub failure_limit: Option<FailureLimit>,
    /// Roles that may send only some fields of the request body (`x-field-roles`).
    pub field_roles: &'static [(Role, &'static [&'static str])],
    /// The media types of the request body.
    pub request_media_types: &'static [&'static str],
    /// The file parts of a multipart body.
    pub file_parts: &'static [FilePart],
    /// The media types of the success response's body.
    pub response_media_types: &'static [&'static str],
    /// The largest request body, when not the server's default (`x-max-body-bytes`).
    pub max_body_bytes: Option<u64>,
    /// The members a sparse fieldset may name, when the operation takes `fields`.
    pub fields: Option<crate::http::fields::Members>,
    /// The operation declares `Idempotency-Key` (every `POST` that creates something must): a
    /// retry with the same key gets the first answer (`crate::http::idempotency`).
    pub idempotent: bool,
}

impl OperationMeta {
    pub fn is_public(&self) -> bool {
        self.schemes.is_empty()
    }

    /// Whether the rate-limit counter is keyed by something in the body.
    fn keyed_by_body(&self) -> bool {
        self.rate_limit_key.iter().any(|part| matches!(part, KeyPart::Username | KeyPart::Session))
            || self.failure_limit.is_some()
    }

    /// Every rate-limit class the operation counts in.
    pub fn classes(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.rate_limit
            .into_iter()
            .chain(self.rate_limit_fallback)
            .chain(self.failure_limit.as_ref().map(|f| f.class))
    }
}

/// A request that passed authentication and authorization.
pub struct Admission {
    actor: Actor,
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
        admit(state, rqctx, op).await.map_err(ApiError::into_extractor_error)
    }

    fn metadata(_: ApiEndpointBodyContentType) -> ExtractorMetadata {
        // Credentials are documented by the spec's securitySchemes, not as parameters.
        ExtractorMetadata { extension_mode: ExtensionMode::None, parameters: Vec::new() }
    }
}

/// Puts a header on the response, through the request's scope.
pub fn respond_with(name: HeaderName, value: &str) {
    if let Ok(value) = HeaderValue::from_str(value) {
        scope::with(|scope| scope.header(name, value));
    }
}

async fn admit<C: ServerContext>(
    state: &ServerState,
    rqctx: &RequestContext<C>,
    op: &'static OperationMeta,
) -> Result<Admission, ApiError> {
    scope::with(|scope| scope.set_operation(op));
    if let Some(deprecation) = &op.deprecation {
        deprecate(state, rqctx, op, deprecation)?;
    }
    let headers = rqctx.request.headers();
    let actor = crate::http::auth::authenticate(state, headers, op).await?;
    if let Some(user) = actor.user() {
        scope::with(|scope| scope.set_caller(user.id));
    }
    match &actor {
        Actor::Anonymous if !op.is_public() => {
            return Err(ApiError::unauthorized(
                false,
                "this operation needs credentials: a bearer token or an API key",
            ));
        }
        Actor::User(user) if !op.roles.is_empty() && !op.roles.contains(&wire_role(user)) => {
            return Err(ApiError::new(
                Kind::Forbidden,
                format!("the {} role may not do this; it needs {}", user.role, roles_text(op.roles)),
            ));
        }
        _ => {}
    }
    if !op.keyed_by_body() {
        limit(state, op, &actor, BodyKeys::default()).await?;
    }
    Ok(Admission { actor })
}

/// `Deprecation`, `Sunset` and `Link: <successor>; rel="successor-version"` on every answer of a
/// deprecated operation; 410 Gone from its sunset date on.
fn deprecate<C: ServerContext>(
    state: &ServerState,
    rqctx: &RequestContext<C>,
    op: &OperationMeta,
    deprecation: &Deprecation,
) -> Result<(), ApiError> {
    let day = |date: &str| {
        chrono::NaiveDate::parse_from_str(date, "%Y-%m-%d")
            .ok()
            .and_then(|d| d.and_hms_opt(0, 0, 0))
            .map(|t| t.and_utc())
            .ok_or_else(|| {
                ApiError::internal(
                    Kind::Internal,
                    "an unexpected error occurred",
                    format!("bad date {date:?}"),
                )
            })
    };
    let (since, sunset) = (day(deprecation.since)?, day(deprecation.sunset)?);
    let mut successor = deprecation.successor.to_string();
    for (name, value) in path_variables(op.path, rqctx.request.uri().path()) {
        successor = successor.replace(&format!("{{{name}}}"), value);
    }
    respond_with(HeaderName::from_static("deprecation"), &format!("@{}", since.timestamp()));
    respond_with(HeaderName::from_static("sunset"), &crate::http::conditional::http_date(sunset));
    respond_with(http::header::LINK, &format!("<{successor}>; rel=\"successor-version\""));
    if state.app.clock().now() >= sunset {
        return Err(ApiError::new(
            Kind::Gone,
            format!("this operation was retired on {}; use {successor} instead", deprecation.sunset),
        ));
    }
    Ok(())
}

/// The values of a path template's `{variables}` in a path that matches it.
fn path_variables<'a>(template: &'a str, path: &'a str) -> Vec<(&'a str, &'a str)> {
    template
        .split('/')
        .zip(path.split('/'))
        .filter_map(|(t, p)| t.strip_prefix('{').and_then(|t| t.strip_suffix('}')).map(|name| (name, p)))
        .collect()
}

/// The generated `Role` of a principal's role.
pub fn wire_role(user: &Principal) -> Role {
    crate::http::wire_role(user.role)
}

fn roles_text(roles: &[Role]) -> String {
    roles.iter().map(|r| r.to_string()).collect::<Vec<_>>().join(" or ")
}

/// `ip:` and the client's address, as the edge determined it.
fn client_ip_key() -> String {
    scope::with(|scope| scope.client_text("ip:")).unwrap_or_else(|| "ip:unknown".into())
}

/// A counter's key from its parts (`None`: a `Session` part whose token belongs to no login).
async fn key_of(
    state: &ServerState,
    parts: &[KeyPart],
    actor: &Actor,
    body: BodyKeys<'_>,
) -> Result<Option<String>, ApiError> {
    // Written into one string: the parts, `|` between them.
    let mut key = String::with_capacity(48);
    for (i, part) in parts.iter().enumerate() {
        if i > 0 {
            key.push('|');
        }
        match part {
            // A user's API keys count against their owner: keys do not multiply a limit.
            KeyPart::Caller => match actor.user() {
                Some(user) => {
                    key.push_str("user:");
                    key.push_str(itoa::Buffer::new().format(user.id));
                }
                None => key.push_str(&client_ip_key()),
            },
            KeyPart::Ip => key.push_str(&client_ip_key()),
            KeyPart::Username => {
                key.push_str("name:");
                key.push_str(&body.username.unwrap_or_default().to_lowercase());
            }
            KeyPart::Session => {
                let token = body.refresh_token.unwrap_or_default();
                match state.app.store().session_of(&crate::auth::secret_hash(token)).await? {
                    Some(family) => {
                        key.push_str("session:");
                        key.push_str(&family);
                    }
                    None => return Ok(None),
                }
            }
        }
    }
    Ok(Some(key))
}

/// Counts the request against the operation's limit class; the `RateLimit-*` headers go on the
/// answer either way, and over the limit the answer is 429 with `Retry-After`.
async fn limit(
    state: &ServerState,
    op: &'static OperationMeta,
    actor: &Actor,
    body: BodyKeys<'_>,
) -> Result<(), ApiError> {
    let Some(class) = op.rate_limit else { return Ok(()) };
    // Admins get their own, larger class in place of `default`, when one is configured.
    let class = match actor.user() {
        Some(user)
            if class == "default" && user.role.is_admin() && state.limiter.class("admin").is_some() =>
        {
            "admin"
        }
        _ => class,
    };
    let (class, key) = match key_of(state, op.rate_limit_key, actor, body).await? {
        Some(key) => (class, key),
        // A token of no login: counted per address, in the looser fallback class.
        None => (op.rate_limit_fallback.unwrap_or(class), client_ip_key()),
    };
    let decision = state.limiter.hit(class, &key).await;
    let decided = decide(class, decision);
    if decided.is_err() {
        state.metrics.rate_limited(class);
    }
    decided
}

/// The headers of a limiter's decision, and 429 when it says no.
fn decide(
    class: &str,
    decision: Result<Option<crate::ratelimit::Decision>, crate::error::Error>,
) -> Result<(), ApiError> {
    match decision {
        Ok(Some(decision)) => {
            // Kept for the response: the edge writes it as its headers.
            scope::with(|scope| scope.rate_limit(decision));
            if !decision.allowed {
                let retry = decision.reset.max(1);
                return Err(ApiError::new(
                    Kind::TooManyRequests,
                    format!("over the {class} rate limit; retry in {retry} s"),
                )
                .with_header(http::header::RETRY_AFTER, &retry.to_string()));
            }
        }
        Ok(None) => {}
        // A limiter that cannot count must not take the API down with it.
        Err(e) => {
            scope::with(
                |scope| slog::warn!(scope.log(), "rate limiting failed; request let through"; "error" => e.to_string()),
            );
        }
    }
    Ok(())
}

/// Where a failed request of an operation with `x-failure-limit` is counted.
#[derive(Clone)]
pub struct Failures {
    limiter: Arc<crate::ratelimit::Limiter>,
    class: &'static str,
    key: String,
    /// A digest of the username: distinct values are counted, never stored.
    member: String,
}

/// Applies the rate limit keyed by the body, when there is one, and the failure limit (429 once
/// a key has failed for too many distinct usernames), and builds the handler's context.
pub async fn enter(
    rqctx: RequestContext<ServerState>,
    admission: Admission,
    op: &'static OperationMeta,
    body: BodyKeys<'_>,
) -> Result<Cx, ApiError> {
    let state = rqctx.context();
    if op.keyed_by_body() {
        limit(state, op, &admission.actor, body).await?;
    }
    let mut failures = None;
    if let Some(failure_limit) = &op.failure_limit {
        if let Some(key) = key_of(state, failure_limit.key, &admission.actor, body).await? {
            let decision = state.limiter.members(failure_limit.class, &key).await;
            if let Ok(Some(decision)) = &decision {
                if !decision.allowed {
                    state.metrics.rate_limited(failure_limit.class);
                    let retry = decision.reset.max(1);
                    return Err(ApiError::new(
                        Kind::TooManyRequests,
                        format!("too many failed attempts from this address; retry in {retry} s"),
                    )
                    .with_header(http::header::RETRY_AFTER, &retry.to_string()));
                }
            }
            let username = body.username.unwrap_or_default().to_lowercase();
            let member = crate::http::conditional::digest(username.as_bytes());
            failures = Some(Failures {
                limiter: Arc::clone(&state.limiter),
                class: failure_limit.class,
                key,
                member,
            });
        }
    }
    Ok(Cx {
        app: Arc::clone(&state.app),
        actor: admission.actor,
        op,
        failures,
        metrics: Arc::clone(&state.metrics),
        idempotency: Arc::clone(&state.idempotency),
    })
}

/// Counts a failed (401) answer against the operation's failure limit.
pub async fn count_failure<R>(failures: Option<Failures>, result: &Result<R, ApiError>) {
    let (Some(failures), Err(error)) = (failures, result) else { return };
    if error.status() == 401 {
        if let Err(e) = failures.limiter.add_member(failures.class, &failures.key, &failures.member).await {
            scope::with(
                |scope| slog::warn!(scope.log(), "counting a failure failed"; "error" => e.to_string()),
            );
        }
    }
}

/// Runs the handler: on success, `x-cache` becomes `Cache-Control`; an error is finished as the
/// request's answer.
pub async fn finish<R>(
    op: &'static OperationMeta,
    handler: impl std::future::Future<Output = Result<R, ApiError>>,
) -> Result<R, ApiError> {
    match handler.await {
        Ok(reply) => {
            if let Some(cache_control) = op.cache_control {
                respond_with(http::header::CACHE_CONTROL, cache_control);
            }
            Ok(reply)
        }
        Err(error) => Err(error.finish()),
    }
}

/// Applies `x-field-roles`: a role narrowed to some fields may send no others.
pub fn check_fields(cx: &Cx, body: &impl serde::Serialize) -> Result<(), ApiError> {
    let Some(user) = cx.actor.user() else { return Ok(()) };
    let role = wire_role(user);
    let Some((_, allowed)) = cx.op.field_roles.iter().find(|(r, _)| *r == role) else {
        return Ok(());
    };
    let present = serde_json::to_value(body).map_err(crate::error::Error::internal)?;
    let refused: Vec<&str> = present
        .as_object()
        .into_iter()
        .flat_map(|m| m.keys())
        .map(String::as_str)
        .filter(|field| !allowed.contains(field))
        .collect();
    if refused.is_empty() {
        return Ok(());
    }
    Err(ApiError::new(
        Kind::Forbidden,
        format!("the {role} role may change {} only, not {}", allowed.join(", "), refused.join(", ")),
    ))
}
