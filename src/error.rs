//! Errors: the domain's [`Error`], and [`ApiError`], its one mapping to an HTTP answer.
//!
//! Every error a client sees is an RFC 9457 problem (the spec's `Problem` schema). The data
//! layer speaks [`Error`] and knows nothing of HTTP; handlers return [`ApiError`], built from an
//! [`Error`] in exactly one place ([`From<Error> for ApiError`]), or from dropshot's own
//! [`HttpError`] (extractor failures) in another. Internal detail (database text, error chains)
//! goes to the log and never into a response. The edge (`crate::edge`) adds `request_id` and
//! `instance`, and turns the few errors dropshot answers itself (unknown route, wrong method)
//! into the same shape.

use dropshot::{ErrorStatusCode, HttpError, HttpResponseError};
use schemars::JsonSchema;
use serde::Serialize;

use crate::api::types::{FieldError, Problem};

/// What went wrong, in the terms of the domain.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The resource does not exist (or the caller may not know that it does).
    #[error("{0} not found")]
    NotFound(&'static str),
    /// The request conflicts with the current state (a duplicate, a dependent resource).
    #[error("{0}")]
    Conflict(String),
    /// Well-formed input that breaks a rule the schema cannot state (a missing reference…).
    #[error("invalid input")]
    Invalid(Vec<FieldError>),
    /// Credentials were refused (a wrong password, a spent refresh token).
    #[error("{0}")]
    Unauthorized(String),
    /// `If-Match` names a version that is no longer current.
    #[error("the resource has changed since the given ETag")]
    PreconditionFailed,
    /// The database cannot be reached (pool timeout, refused connection): worth a retry.
    #[error("the database is unavailable")]
    Unavailable(#[source] sqlx::Error),
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
    PreconditionFailed,
    PayloadTooLarge,
    UnsupportedMediaType,
    ValidationFailed,
    TooManyRequests,
    Internal,
    Unavailable,
    /// A status with no kind of its own (dropshot may answer others): `about:blank`.
    Other(u16),
}

impl Kind {
    pub fn status(self) -> u16 {
        match self {
            Kind::BadRequest => 400,
            Kind::Unauthorized | Kind::InvalidCredentials => 401,
            Kind::Forbidden => 403,
            Kind::NotFound => 404,
            Kind::MethodNotAllowed => 405,
            Kind::Conflict => 409,
            Kind::PreconditionFailed => 412,
            Kind::PayloadTooLarge => 413,
            Kind::UnsupportedMediaType => 415,
            Kind::ValidationFailed => 422,
            Kind::TooManyRequests => 429,
            Kind::Internal => 500,
            Kind::Unavailable => 503,
            Kind::Other(status) => status,
        }
    }

    /// The kind that describes a bare status code.
    pub fn from_status(status: u16) -> Kind {
        [
            Kind::BadRequest,
            Kind::Unauthorized,
            Kind::Forbidden,
            Kind::NotFound,
            Kind::MethodNotAllowed,
            Kind::Conflict,
            Kind::PreconditionFailed,
            Kind::PayloadTooLarge,
            Kind::UnsupportedMediaType,
            Kind::ValidationFailed,
            Kind::TooManyRequests,
            Kind::Internal,
            Kind::Unavailable,
        ]
        .into_iter()
        .find(|kind| kind.status() == status)
        .unwrap_or(Kind::Other(status))
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
            Kind::PreconditionFailed => "/problems/precondition-failed",
            Kind::PayloadTooLarge => "/problems/payload-too-large",
            Kind::UnsupportedMediaType => "/problems/unsupported-media-type",
            Kind::ValidationFailed => "/problems/validation-failed",
            Kind::TooManyRequests => "/problems/too-many-requests",
            Kind::Internal => "/problems/internal",
            Kind::Unavailable => "/problems/unavailable",
            Kind::Other(_) => "about:blank",
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
            Kind::PreconditionFailed => "Precondition failed",
            Kind::PayloadTooLarge => "Payload too large",
            Kind::UnsupportedMediaType => "Unsupported media type",
            Kind::ValidationFailed => "Validation failed",
            Kind::TooManyRequests => "Too many requests",
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
///
/// Dropshot serializes a handler's error as JSON and lets it set no headers; the headers
/// (`WWW-Authenticate`, `Retry-After`, rate-limit headers) therefore travel in the body under
/// `_headers`, which the edge moves into real headers before the client sees anything.
#[derive(Debug)]
pub struct ApiError {
    /// Boxed: errors travel in every `Result` of the request path, and should stay small.
    problem: Box<Problem>,
    headers: Vec<(String, String)>,
    /// The full story, for the log: never serialized.
    internal: Option<String>,
}

/// Where an [`ApiError`]'s headers travel to the edge.
pub const HEADERS_KEY: &str = "_headers";

impl Serialize for ApiError {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut value = serde_json::to_value(&*self.problem).map_err(serde::ser::Error::custom)?;
        if let (serde_json::Value::Object(map), false) = (&mut value, self.headers.is_empty()) {
            let headers: serde_json::Map<String, serde_json::Value> =
                self.headers.iter().map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone()))).collect();
            map.insert(HEADERS_KEY.into(), serde_json::Value::Object(headers));
        }
        value.serialize(serializer)
    }
}

/// Documented as the spec's `Problem`: `_headers` never reaches a client.
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
            let description = detail.replace('"', "'");
            (
                Kind::InvalidCredentials,
                format!("Bearer realm=\"storefront\", error=\"invalid_token\", error_description=\"{description}\""),
            )
        } else {
            (Kind::Unauthorized, "Bearer realm=\"storefront\"".to_string())
        };
        ApiError::new(kind, detail).with_header("www-authenticate", challenge)
    }

    /// A 401 for a wrong password or a spent refresh token: nothing to do with the request's
    /// own credentials, so the challenge is the plain one.
    pub fn rejected_credentials(detail: impl Into<String>) -> Self {
        ApiError::new(Kind::InvalidCredentials, detail)
            .with_header("www-authenticate", "Bearer realm=\"storefront\"".into())
    }

    /// Adds a header to the answer.
    pub fn with_header(mut self, name: &str, value: String) -> Self {
        self.headers.push((name.to_string(), value));
        self
    }

    /// The error as it was serialized (see [`HEADERS_KEY`]), for extractors that must pass
    /// theirs through dropshot's own error type.
    pub fn from_wire(json: &str) -> Option<ApiError> {
        let mut value: serde_json::Value = serde_json::from_str(json).ok()?;
        let headers = match value.as_object_mut().and_then(|map| map.remove(HEADERS_KEY)) {
            Some(serde_json::Value::Object(map)) => {
                map.into_iter().filter_map(|(k, v)| v.as_str().map(|v| (k, v.to_string()))).collect()
            }
            _ => Vec::new(),
        };
        let problem: Problem = serde_json::from_value(value).ok()?;
        Some(ApiError { problem: Box::new(problem), headers, internal: None })
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

    pub fn status(&self) -> u16 {
        u16::try_from(self.problem.status).unwrap_or(500)
    }

    pub fn problem(&self) -> &Problem {
        &self.problem
    }

    /// Logs a server-side failure with its full story (client errors are the client's business
    /// and appear in the access log only).
    pub fn log_if_internal(&self, log: &slog::Logger) {
        if self.status() >= 500 {
            slog::error!(log, "request failed";
                "status" => self.status(),
                "error" => self.internal.as_deref().unwrap_or(""),
            );
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
            Error::Invalid(errors) => ApiError::validation(errors),
            Error::PreconditionFailed => ApiError::new(
                Kind::PreconditionFailed,
                "the resource has changed since the ETag given in If-Match; fetch it again",
            ),
            Error::Unavailable(source) => ApiError {
                internal: Some(error_chain(&source)),
                ..ApiError::new(Kind::Unavailable, "the database is unavailable; try again later")
            },
            Error::Internal(source) => ApiError {
                internal: Some(error_chain(source.as_ref())),
                ..ApiError::new(Kind::Internal, "an unexpected error occurred")
            },
            Error::Unauthorized(detail) => ApiError::rejected_credentials(detail),
        }
    }
}

/// Dropshot's own errors (a response it cannot build…), and our extractors' problems, which
/// must travel through [`HttpError`] (see `crate::http::extract`) and are restored as they were.
impl From<HttpError> for ApiError {
    fn from(error: HttpError) -> Self {
        if error.error_code.as_deref() == Some(crate::http::extract::PROBLEM_CODE) {
            if let Some(restored) = ApiError::from_wire(&error.external_message) {
                return restored;
            }
        }
        let status = error.status_code.as_u16();
        let kind = Kind::from_status(status);
        let detail = if status >= 500 { kind.title().to_string() } else { error.external_message };
        ApiError { internal: Some(error.internal_message), ..ApiError::new(kind, detail) }
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
