//! Errors: the domain's [`Error`], and [`ApiError`], its one mapping to an HTTP answer.
//!
//! Every error a client sees is an RFC 9457 problem (the spec's `Problem` schema). The store and
//! the application layer speak [`Error`] and know nothing of HTTP; handlers return [`ApiError`],
//! built from an [`Error`] in exactly one place ([`From<Error> for ApiError`]). Internal detail
//! (database text, error chains) goes to the log, once, and never into a response.
//!
//! An [`ApiError`] is finished ([`ApiError::finish`]) where it leaves the API for dropshot: it
//! gets the request's id and path, logs a server failure with its cause, and hands its headers
//! (`WWW-Authenticate`, `Retry-After`…) to the request's scope, from which the edge puts them on
//! the response. Dropshot serializes the body as it is.

use dropshot::{ErrorStatusCode, HttpError, HttpResponseError};
use http::{HeaderName, HeaderValue};
use schemars::JsonSchema;
use serde::Serialize;

use crate::api::types::{FieldError, Problem};
use crate::edge::scope;

/// What went wrong, in the terms of the domain.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The resource does not exist (or the caller may not know that it does).
    #[error("{0} not found")]
    NotFound(&'static str),
    /// The request conflicts with the current state (a duplicate, a dependent resource).
    #[error("{0}")]
    Conflict(String),
    /// A value that must be unique is already taken (409, with `errors` naming the field).
    #[error("{field}: {message}")]
    Taken { field: &'static str, message: String },
    /// A conflict that lies in some fields of the request (lines of an order that stock cannot
    /// serve): the problem's `errors` names them, as for a 422.
    #[error("{0}")]
    ConflictOn(String, Vec<FieldError>),
    /// Well-formed input that breaks a rule the schema cannot state (a missing reference…).
    #[error("invalid input")]
    Invalid(Vec<FieldError>),
    /// Credentials were refused (a wrong password, a spent refresh token).
    #[error("{0}")]
    Unauthorized(String),
    /// The caller may not do this to this resource.
    #[error("{0}")]
    Forbidden(String),
    /// An upload is over its limit (a photo over 2 MiB).
    #[error("{0}")]
    TooLarge(String),
    /// An upload's content is not of a type accepted (a photo that is not an image).
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// A check on the current version failed (`If-Match`).
    #[error("the resource has changed since the given ETag")]
    PreconditionFailed,
    /// The database cannot be reached (pool timeout, refused connection): worth a retry.
    #[error("the database is unavailable")]
    Unavailable(#[source] sqlx::Error),
    /// The server is at capacity for this kind of work (password checks): worth a retry soon.
    #[error("{0}")]
    Busy(&'static str),
    /// Anything else: a bug or an unexpected database answer.
    #[error("internal error")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl Error {
    /// A single-field [`Error::Invalid`].
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Error::Invalid(vec![FieldError { field: field.into(), message: message.into() }])
    }

    /// Wraps any error as [`Error::Internal`].
    pub fn internal(error: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        Error::Internal(error.into())
    }
}

/// The kinds of problem the API reports: each has a stable `type` URI, a title and a status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    BadRequest,
    Unauthorized,
    InvalidCredentials,
    Forbidden,
    NotFound,
    MethodNotAllowed,
    Conflict,
    Gone,
    PreconditionFailed,
    PayloadTooLarge,
    UriTooLong,
    UnsupportedMediaType,
    ValidationFailed,
    TooManyRequests,
    HeadersTooLarge,
    Internal,
    Unavailable,
    /// A status with no kind of its own: `about:blank`.
    Other(u16),
}

impl Kind {
    /// Every kind with a `type` of its own.
    pub const ALL: [Kind; 17] = [
        Kind::BadRequest,
        Kind::Unauthorized,
        Kind::Forbidden,
        Kind::NotFound,
        Kind::MethodNotAllowed,
        Kind::Conflict,
        Kind::Gone,
        Kind::PreconditionFailed,
        Kind::PayloadTooLarge,
        Kind::UriTooLong,
        Kind::UnsupportedMediaType,
        Kind::ValidationFailed,
        Kind::TooManyRequests,
        Kind::HeadersTooLarge,
        Kind::Internal,
        Kind::Unavailable,
        Kind::InvalidCredentials,
    ];

    pub fn status(self) -> u16 {
        match self {
            Kind::BadRequest => 400,
            Kind::Unauthorized | Kind::InvalidCredentials => 401,
            Kind::Forbidden => 403,
            Kind::NotFound => 404,
            Kind::MethodNotAllowed => 405,
            Kind::Conflict => 409,
            Kind::Gone => 410,
            Kind::PreconditionFailed => 412,
            Kind::PayloadTooLarge => 413,
            Kind::UriTooLong => 414,
            Kind::UnsupportedMediaType => 415,
            Kind::ValidationFailed => 422,
            Kind::TooManyRequests => 429,
            Kind::HeadersTooLarge => 431,
            Kind::Internal => 500,
            Kind::Unavailable => 503,
            Kind::Other(status) => status,
        }
    }

    /// The kind that describes a bare status code.
    pub fn from_status(status: u16) -> Kind {
        Kind::ALL.into_iter().find(|kind| kind.status() == status).unwrap_or(Kind::Other(status))
    }

    /// The problem `type`: a URI reference, stable, documented in the README.
    pub fn type_uri(self) -> &'static str {
        match self {
            Kind::BadRequest => "/problems/bad-request",
            Kind::Unauthorized => "/problems/unauthorized",
            Kind::InvalidCredentials => "/problems/invalid-credentials",
            Kind::Forbidden => "/problems/forbidden",
            Kind::NotFound => "/problems/not-found",
            Kind::MethodNotAllowed => "/problems/method-not-allowed",
            Kind::Conflict => "/problems/conflict",
            Kind::Gone => "/problems/gone",
            Kind::PreconditionFailed => "/problems/precondition-failed",
            Kind::PayloadTooLarge => "/problems/payload-too-large",
            Kind::UriTooLong => "/problems/uri-too-long",
            Kind::UnsupportedMediaType => "/problems/unsupported-media-type",
            Kind::ValidationFailed => "/problems/validation-failed",
            Kind::TooManyRequests => "/problems/too-many-requests",
            Kind::HeadersTooLarge => "/problems/headers-too-large",
            Kind::Internal => "/problems/internal",
            Kind::Unavailable => "/problems/unavailable",
            Kind::Other(_) => "about:blank",
        }
    }

    /// The kind whose `type` is `/problems/{name}`.
    pub fn from_type_name(name: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|kind| kind.type_uri().strip_prefix("/problems/") == Some(name))
    }

    /// What a problem of this kind means and what a client can do about it (the page its `type`
    /// resolves to).
    pub fn description(self) -> &'static str {
        match self {
            Kind::BadRequest => "The request could not be read: its body is not well-formed JSON, or its path or \
                query could not be decoded. Fix the request's syntax; sending it again unchanged will fail again.",
            Kind::Unauthorized => "The operation needs credentials and none were sent. Send a bearer access token \
                (Authorization: Bearer …, from POST /api/v1/auth/login) or an API key (X-API-Key); the \
                WWW-Authenticate header says which scheme applies.",
            Kind::InvalidCredentials => "The credentials sent were refused: a wrong username or password, or a \
                token or key that is malformed, expired, revoked or for another audience. Log in again (or refresh \
                the access token) and retry.",
            Kind::Forbidden => "The caller is authenticated, but its role may not do this (or may not change the \
                fields it sent). Another account, with a role the operation allows, may.",
            Kind::NotFound => "No resource at this path: the id does not exist (or is not visible to the caller), \
                or no route matches.",
            Kind::MethodNotAllowed => "The path exists but does not take this method; the Allow header lists those \
                it takes.",
            Kind::Conflict => "The request conflicts with the current state: a name that is already taken, a \
                category that still has products, too many API keys. Change the request or the state, then retry.",
            Kind::Gone => "This deprecated operation has passed its sunset date and is no longer served; the Link \
                header names its successor.",
            Kind::PreconditionFailed => "The resource changed since the ETag sent in If-Match. Fetch it again, \
                apply the change to the current version, and send it with the new ETag.",
            Kind::PayloadTooLarge => "The request body is over the limit the operation accepts. Send less.",
            Kind::UriTooLong => "The request target (path and query) is over 8 KiB. Send fewer or shorter \
                query parameters.",
            Kind::UnsupportedMediaType => "The request body's Content-Type is not one the operation accepts \
                (usually application/json), or an uploaded photo is not a PNG, JPEG, GIF or WebP image by its \
                content (whatever its name or declared type).",
            Kind::ValidationFailed => "The request is well-formed but breaks the API's rules: a field or parameter \
                is missing, of the wrong type, out of range, or refers to something that does not exist. The \
                problem's `errors` names each offending field with what is wrong.",
            Kind::TooManyRequests => "The caller is over its rate limit for this kind of request. Wait for the \
                seconds Retry-After says; the RateLimit-* headers tell the limit and what remains.",
            Kind::HeadersTooLarge => "The request's header fields are over 64 KiB. Send fewer or smaller headers.",
            Kind::Internal => "The server failed in a way it did not expect: a bug. Nothing about it is in the \
                response; the server's log has the details under the problem's request_id, which support can \
                look up.",
            Kind::Unavailable => "The server cannot serve the request now: the database is unreachable, the \
                server is at capacity or shutting down, or the request took too long. Retry after the seconds \
                Retry-After says.",
            Kind::Other(_) => "An error without a problem type of its own; the status code says what it is.",
        }
    }

    pub fn title(self) -> &'static str {
        match self {
            Kind::BadRequest => "Bad request",
            Kind::Unauthorized => "Authentication required",
            Kind::InvalidCredentials => "Invalid credentials",
            Kind::Forbidden => "Forbidden",
            Kind::NotFound => "Not found",
            Kind::MethodNotAllowed => "Method not allowed",
            Kind::Conflict => "Conflict",
            Kind::Gone => "Gone",
            Kind::PreconditionFailed => "Precondition failed",
            Kind::PayloadTooLarge => "Payload too large",
            Kind::UriTooLong => "URI too long",
            Kind::UnsupportedMediaType => "Unsupported media type",
            Kind::ValidationFailed => "Validation failed",
            Kind::TooManyRequests => "Too many requests",
            Kind::HeadersTooLarge => "Request header fields too large",
            Kind::Internal => "Internal server error",
            Kind::Unavailable => "Service unavailable",
            Kind::Other(status) => {
                http::StatusCode::from_u16(status).ok().and_then(|s| s.canonical_reason()).unwrap_or("Error")
            }
        }
    }

    /// The problem body for this kind, with `detail`.
    pub fn problem(self, detail: impl Into<String>) -> Problem {
        Problem {
            type_: self.type_uri().to_string(),
            title: self.title().to_string(),
            status: i32::from(self.status()),
            detail: Some(detail.into()),
            instance: None,
            request_id: None,
            errors: Vec::new(),
        }
    }
}

/// An error as the API answers it: a problem body, the headers that go with it, and what only
/// the log may see.
#[derive(Debug)]
pub struct ApiError {
    /// Boxed: errors travel in every `Result` of the request path, and should stay small.
    problem: Box<Problem>,
    headers: Vec<(HeaderName, HeaderValue)>,
    /// The full story, for the log: never serialized.
    internal: Option<String>,
}

/// The body is the problem, nothing else.
impl Serialize for ApiError {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.problem.serialize(serializer)
    }
}

/// Documented as the spec's `Problem`.
impl JsonSchema for ApiError {
    fn schema_name() -> String {
        Problem::schema_name()
    }

    fn json_schema(generator: &mut schemars::r#gen::SchemaGenerator) -> schemars::schema::Schema {
        Problem::json_schema(generator)
    }
}

impl ApiError {
    pub fn new(kind: Kind, detail: impl Into<String>) -> Self {
        ApiError { problem: Box::new(kind.problem(detail)), headers: Vec::new(), internal: None }
    }

    /// A 401 with the `WWW-Authenticate` challenge (RFC 6750): `invalid_token` when the token or
    /// key sent was refused (`/problems/invalid-credentials`), a bare challenge when none was
    /// sent (`/problems/unauthorized`).
    pub fn unauthorized(invalid_token: bool, detail: impl Into<String>) -> Self {
        let detail = detail.into();
        let (kind, challenge) = if invalid_token {
            let description = detail.replace(['"', '\\'], "'");
            (
                Kind::InvalidCredentials,
                format!("Bearer realm=\"storefront\", error=\"invalid_token\", error_description=\"{description}\""),
            )
        } else {
            (Kind::Unauthorized, "Bearer realm=\"storefront\"".to_string())
        };
        ApiError::new(kind, detail).with_header(http::header::WWW_AUTHENTICATE, &challenge)
    }

    /// A 401 for a wrong password or a spent refresh token: nothing to do with the request's
    /// own credentials, so the challenge is the plain one.
    pub fn rejected_credentials(detail: impl Into<String>) -> Self {
        ApiError::new(Kind::InvalidCredentials, detail)
            .with_header(http::header::WWW_AUTHENTICATE, "Bearer realm=\"storefront\"")
    }

    /// Adds a header to the answer.
    pub fn with_header(mut self, name: HeaderName, value: &str) -> Self {
        if let Ok(value) = HeaderValue::from_str(value) {
            self.headers.push((name, value));
        }
        self
    }

    /// A 422 naming each offending field.
    pub fn validation(errors: Vec<FieldError>) -> Self {
        let detail = match errors.len() {
            1 => format!("{}: {}", errors[0].field, errors[0].message),
            n => format!("{n} fields are invalid"),
        };
        let mut error = ApiError::new(Kind::ValidationFailed, detail);
        error.problem.errors = errors;
        error
    }

    /// A server failure with its cause, for the log.
    pub fn internal(kind: Kind, detail: impl Into<String>, cause: impl Into<String>) -> Self {
        ApiError { internal: Some(cause.into()), ..ApiError::new(kind, detail) }
    }

    pub fn status(&self) -> u16 {
        u16::try_from(self.problem.status).unwrap_or(500)
    }

    pub fn problem(&self) -> &Problem {
        &self.problem
    }

    /// Completes the error as the answer to the current request: its id and path go into the
    /// problem, its headers to the request's scope (the edge puts them on the response), and a
    /// server failure is logged with its cause, once.
    pub fn finish(mut self) -> Self {
        scope::with(|scope| {
            self.problem.request_id = Some(scope.request_id().to_string());
            self.problem.instance = Some(scope.path().to_string());
            if self.status() >= 500 {
                slog::error!(scope.log(), "request failed";
                    "request_id" => scope.request_id(),
                    "operation" => scope.operation().map_or("-", |op| op.id),
                    "status" => self.status(),
                    "error" => self.internal.as_deref().unwrap_or(self.problem.detail.as_deref().unwrap_or("")),
                );
            }
            scope.answered_with_problem(std::mem::take(&mut self.headers));
        });
        self
    }

    /// Passes the error through dropshot's extractor interface, which only takes an
    /// [`HttpError`]: the error waits in the request's scope, and [`From<HttpError>`] takes it
    /// back as it was.
    pub fn into_extractor_error(self) -> HttpError {
        let status = self.status();
        scope::with(|scope| scope.stash(self));
        match dropshot::ClientErrorStatusCode::from_u16(status) {
            Ok(status) => HttpError::for_client_error(None, status, String::new()),
            Err(_) => HttpError::for_internal_error(
                "an extractor failed (the error is in the request's scope)".into(),
            ),
        }
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (&self.internal, &self.problem.detail) {
            (Some(internal), _) => f.write_str(internal),
            (None, Some(detail)) => f.write_str(detail),
            (None, None) => f.write_str(&self.problem.title),
        }
    }
}

impl HttpResponseError for ApiError {
    fn status_code(&self) -> ErrorStatusCode {
        ErrorStatusCode::from_u16(self.status()).unwrap_or(ErrorStatusCode::INTERNAL_SERVER_ERROR)
    }
}

/// The one mapping from the domain to HTTP.
impl From<Error> for ApiError {
    fn from(error: Error) -> Self {
        match error {
            Error::NotFound(what) => ApiError::new(Kind::NotFound, format!("{what} not found")),
            Error::Conflict(detail) => ApiError::new(Kind::Conflict, detail),
            Error::Taken { field, message } => {
                let mut error = ApiError::new(Kind::Conflict, format!("{field}: {message}"));
                error.problem.errors = vec![FieldError { field: field.into(), message }];
                error
            }
            Error::ConflictOn(detail, errors) => {
                let mut error = ApiError::new(Kind::Conflict, detail);
                error.problem.errors = errors;
                error
            }
            Error::Invalid(errors) => ApiError::validation(errors),
            Error::Forbidden(detail) => ApiError::new(Kind::Forbidden, detail),
            Error::TooLarge(detail) => ApiError::new(Kind::PayloadTooLarge, detail),
            Error::UnsupportedMediaType(detail) => ApiError::new(Kind::UnsupportedMediaType, detail),
            Error::PreconditionFailed => ApiError::new(
                Kind::PreconditionFailed,
                "the resource has changed since the ETag given in If-Match; fetch it again",
            ),
            Error::Unavailable(source) => ApiError::internal(
                Kind::Unavailable,
                "the database is unavailable; try again later",
                error_chain(&source),
            )
            .with_header(http::header::RETRY_AFTER, "1"),
            Error::Internal(source) => ApiError::internal(
                Kind::Internal,
                "an unexpected error occurred",
                error_chain(source.as_ref()),
            ),
            Error::Busy(detail) => {
                ApiError::new(Kind::Unavailable, detail).with_header(http::header::RETRY_AFTER, "1")
            }
            Error::Unauthorized(detail) => ApiError::rejected_credentials(detail),
        }
    }
}

/// An extractor's error (see [`ApiError::into_extractor_error`]), or one of dropshot's own
/// (a response it cannot build…), finished as the answer to the request.
impl From<HttpError> for ApiError {
    fn from(error: HttpError) -> Self {
        let stashed = scope::with(|scope| scope.take_stashed()).flatten();
        let error = stashed.unwrap_or_else(|| {
            let status = error.status_code.as_u16();
            let kind = Kind::from_status(status);
            let detail = if status >= 500 { kind.title().to_string() } else { error.external_message };
            ApiError::internal(kind, detail, error.internal_message)
        });
        error.finish()
    }
}

/// `error: cause: cause…`, for the log.
pub fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
