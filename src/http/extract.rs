//! Request extractors for the generated API trait: path, query and header parameters and JSON
//! bodies, each validated against the spec before a handler sees it.
//!
//! Each one documents itself to dropshot exactly as dropshot's own extractor would (so the
//! drift test compares like with like), but reads and checks the request itself, so that every
//! failure is a problem in the API's shape:
//!
//! * a parameter that is not of its declared type, or breaks a constraint → 422 naming it;
//! * a body that is not `application/json` → 415; larger than the limit → 413; not JSON → 400;
//!   valid JSON that breaks the schema (unknown fields included) → 422 naming every field.

use std::collections::BTreeMap;

use async_trait::async_trait;
use dropshot::{
    ApiEndpointBodyContentType, ExclusiveExtractor, ExtractorMetadata, HttpError, RequestContext,
    ServerContext, SharedExtractor,
};
use http_body_util::BodyExt;
use schemars::JsonSchema;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::api::types::FieldError;
use crate::error::{ApiError, Kind};
use crate::http::validate::{self, Validator};

/// How a parameter's text becomes a JSON value before validation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParamKind {
    Integer,
    Number,
    Boolean,
    String,
}

/// One declared parameter (generated from the spec).
#[derive(Debug)]
pub struct ParamSpec {
    /// The name on the wire (`limit`, `If-None-Match`).
    pub name: &'static str,
    pub kind: ParamKind,
    /// The spec's default, as JSON text, used when the parameter is absent.
    pub default: Option<&'static str>,
}

/// A generated parameter struct: its parameters and the schema they are checked against.
pub trait ParamSet: DeserializeOwned + JsonSchema + Send + Sync + 'static {
    const NAME: &'static str;
    const PARAMS: &'static [ParamSpec];
    const SCHEMA: &'static str;
    fn validator() -> &'static Validator;
}

/// A generated request body type and the schema it is checked against.
pub trait BodySchema: DeserializeOwned + JsonSchema + Send + Sync + 'static {
    const NAME: &'static str;
    const SCHEMA: &'static str;
    fn validator() -> &'static Validator;
}

/// Reads parameter text as the JSON value its schema expects; `None` when it is not one.
fn coerce(kind: ParamKind, text: &str) -> Result<Value, &'static str> {
    match kind {
        ParamKind::String => Ok(Value::String(text.to_string())),
        ParamKind::Integer => text
            .parse::<i64>()
            .map(Value::from)
            .or_else(|_| text.parse::<u64>().map(Value::from))
            .map_err(|_| "must be an integer"),
        ParamKind::Number => match text.parse::<f64>() {
            Ok(n) if n.is_finite() => Ok(Value::from(n)),
            _ => Err("must be a number"),
        },
        ParamKind::Boolean => match text {
            "true" => Ok(Value::Bool(true)),
            "false" => Ok(Value::Bool(false)),
            _ => Err("must be true or false"),
        },
    }
}

/// Turns raw parameter text into `T`: coerce, fill defaults, validate, deserialize.
fn parse_params<T: ParamSet>(raw: Vec<(String, String)>) -> Result<T, ApiError> {
    let mut object = Map::new();
    let mut errors = Vec::new();
    for (name, text) in raw {
        // Parameters the operation does not declare are ignored, as HTTP APIs usually do.
        let Some(spec) = T::PARAMS.iter().find(|p| p.name.eq_ignore_ascii_case(&name)) else {
            continue;
        };
        if object.contains_key(spec.name) {
            errors.push(field_error(spec.name, "must be given only once"));
            continue;
        }
        match coerce(spec.kind, &text) {
            Ok(value) => {
                object.insert(spec.name.to_string(), value);
            }
            Err(message) => errors.push(field_error(spec.name, message)),
        }
    }
    for spec in T::PARAMS {
        let unparsed = errors.iter().any(|e| e.field == spec.name);
        if let (Some(default), false, false) = (spec.default, object.contains_key(spec.name), unparsed) {
            let value = serde_json::from_str(default).map_err(|e| {
                ApiError::from(crate::error::Error::internal(format!("default of {}: {e}", spec.name)))
            })?;
            object.insert(spec.name.to_string(), value);
        }
    }
    let value = Value::Object(object);
    // Report every problem at once: what could not be read, and what breaks the schema.
    let unreadable: Vec<String> = errors.iter().map(|e| e.field.clone()).collect();
    errors.extend(
        validate::check(T::validator(), &value)
            .into_iter()
            .filter(|e| !(unreadable.contains(&e.field) && e.message == "is required")),
    );
    if !errors.is_empty() {
        errors.sort_by(|a, b| a.field.cmp(&b.field));
        return Err(ApiError::validation(errors));
    }
    serde_json::from_value(value)
        .map_err(|e| ApiError::validation(vec![field_error(T::NAME, &format!("is invalid: {e}"))]))
}

fn field_error(field: &str, message: &str) -> FieldError {
    FieldError { field: field.to_string(), message: message.to_string() }
}

/// Path parameters, validated (dropshot's `Path` with the spec's constraints on top).
#[derive(Debug)]
pub struct PathParams<T>(T);

impl<T> PathParams<T> {
    pub fn into_inner(self) -> T {
        self.0
    }
}

#[async_trait]
impl<T: ParamSet> SharedExtractor for PathParams<T> {
    async fn from_request<C: ServerContext>(rqctx: &RequestContext<C>) -> Result<Self, HttpError> {
        // Dropshot matched the route; read the raw segments and check them ourselves.
        let raw = <dropshot::Path<BTreeMap<String, String>> as SharedExtractor>::from_request(rqctx)
            .await?
            .into_inner();
        parse_params::<T>(raw.into_iter().collect()).map(PathParams).map_err(into_http_error)
    }

    fn metadata(content_type: ApiEndpointBodyContentType) -> ExtractorMetadata {
        <dropshot::Path<T> as SharedExtractor>::metadata(content_type)
    }
}

/// Query parameters, validated.
#[derive(Debug)]
pub struct QueryParams<T>(T);

impl<T> QueryParams<T> {
    pub fn into_inner(self) -> T {
        self.0
    }
}

#[async_trait]
impl<T: ParamSet> SharedExtractor for QueryParams<T> {
    async fn from_request<C: ServerContext>(rqctx: &RequestContext<C>) -> Result<Self, HttpError> {
        let query = rqctx.request.uri().query().unwrap_or_default();
        let raw = form_urlencoded::parse(query.as_bytes()).into_owned().collect();
        parse_params::<T>(raw).map(QueryParams).map_err(into_http_error)
    }

    fn metadata(content_type: ApiEndpointBodyContentType) -> ExtractorMetadata {
        <dropshot::Query<T> as SharedExtractor>::metadata(content_type)
    }
}

/// Header parameters (`If-None-Match`, `If-Match`…), validated.
#[derive(Debug)]
pub struct HeaderParams<T>(T);

impl<T> HeaderParams<T> {
    pub fn into_inner(self) -> T {
        self.0
    }
}

#[async_trait]
impl<T: ParamSet> SharedExtractor for HeaderParams<T> {
    async fn from_request<C: ServerContext>(rqctx: &RequestContext<C>) -> Result<Self, HttpError> {
        let headers = rqctx.request.headers();
        let mut raw = Vec::new();
        let mut errors = Vec::new();
        for spec in T::PARAMS {
            let values: Vec<&http::HeaderValue> = headers.get_all(spec.name).iter().collect();
            if values.is_empty() {
                continue;
            }
            // Repeated header lines mean one comma-separated list (RFC 9110 §5.3).
            match values.iter().map(|v| v.to_str()).collect::<Result<Vec<_>, _>>() {
                Ok(texts) => raw.push((spec.name.to_string(), texts.join(", "))),
                Err(_) => errors.push(field_error(spec.name, "must be visible ASCII text")),
            }
        }
        if !errors.is_empty() {
            return Err(into_http_error(ApiError::validation(errors)));
        }
        parse_params::<T>(raw).map(HeaderParams).map_err(into_http_error)
    }

    fn metadata(content_type: ApiEndpointBodyContentType) -> ExtractorMetadata {
        <dropshot::Header<T> as SharedExtractor>::metadata(content_type)
    }
}

/// A JSON request body, validated against its schema.
#[derive(Debug)]
pub struct JsonBody<T>(T);

impl<T> JsonBody<T> {
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> std::ops::Deref for JsonBody<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

#[async_trait]
impl<T: BodySchema> ExclusiveExtractor for JsonBody<T> {
    async fn from_request<C: ServerContext>(
        rqctx: &RequestContext<C>,
        request: hyper::Request<dropshot::Body>,
    ) -> Result<Self, HttpError> {
        read_json::<T>(rqctx, request).await.map(JsonBody).map_err(into_http_error)
    }

    fn metadata(content_type: ApiEndpointBodyContentType) -> ExtractorMetadata {
        <dropshot::TypedBody<T> as ExclusiveExtractor>::metadata(content_type)
    }
}

async fn read_json<T: BodySchema>(
    rqctx: &RequestContext<impl ServerContext>,
    request: hyper::Request<dropshot::Body>,
) -> Result<T, ApiError> {
    if !is_json(request.headers().get(http::header::CONTENT_TYPE)) {
        return Err(ApiError::new(
            Kind::UnsupportedMediaType,
            "the request body must be JSON, sent with Content-Type: application/json",
        ));
    }
    let limit =
        rqctx.endpoint.request_body_max_bytes.unwrap_or(rqctx.server.config.default_request_body_max_bytes);
    let bytes = match http_body_util::Limited::new(request.into_body(), limit).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => {
            return Err(ApiError::new(
                Kind::PayloadTooLarge,
                format!("the request body exceeds the limit of {limit} bytes"),
            ));
        }
        Err(_) => return Err(ApiError::new(Kind::BadRequest, "the request body could not be read")),
    };
    let value: Value = serde_json::from_slice(&bytes)
        .map_err(|e| ApiError::new(Kind::BadRequest, format!("the request body is not valid JSON: {e}")))?;
    let errors = validate::check(T::validator(), &value);
    if !errors.is_empty() {
        return Err(ApiError::validation(errors));
    }
    serde_json::from_value(value).map_err(|e| ApiError::validation(vec![field_error("body", &e.to_string())]))
}

/// `application/json` or `application/<anything>+json`, with any parameters.
fn is_json(content_type: Option<&http::HeaderValue>) -> bool {
    let Some(value) = content_type.and_then(|v| v.to_str().ok()) else { return false };
    let essence = value.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    essence == "application/json" || (essence.starts_with("application/") && essence.ends_with("+json"))
}

/// Extractors must fail with dropshot's `HttpError`; carry our problem through it intact.
///
/// The problem travels as the external message (JSON), marked by an error code, and
/// [`ApiError::from`]`(HttpError)` restores it — so the client sees exactly the problem built
/// here, field errors included.
pub(crate) fn into_http_error(error: ApiError) -> HttpError {
    let Ok(status) = dropshot::ClientErrorStatusCode::from_u16(error.status()) else {
        // Server-side failures (a database error during authentication) keep their status.
        let mut http = HttpError::for_internal_error(error.to_string());
        if let Ok(status) = dropshot::ErrorStatusCode::from_u16(error.status()) {
            http.status_code = status;
        }
        http.external_message = serde_json::to_string(&error).unwrap_or_default();
        http.error_code = Some(PROBLEM_CODE.to_string());
        return http;
    };
    let body = serde_json::to_string(&error).unwrap_or_default();
    HttpError::for_client_error(Some(PROBLEM_CODE.to_string()), status, body)
}

/// Marks an [`HttpError`] whose external message is a serialized problem.
pub(crate) const PROBLEM_CODE: &str = "storefront-problem";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_are_coerced_by_their_declared_kind() {
        assert_eq!(coerce(ParamKind::Integer, "42"), Ok(Value::from(42)));
        assert_eq!(coerce(ParamKind::Integer, "18446744073709551615"), Ok(Value::from(u64::MAX)));
        assert!(coerce(ParamKind::Integer, "4.2").is_err());
        assert!(coerce(ParamKind::Integer, "").is_err());
        assert_eq!(coerce(ParamKind::Boolean, "true"), Ok(Value::Bool(true)));
        assert!(coerce(ParamKind::Boolean, "yes").is_err());
        assert!(coerce(ParamKind::Number, "NaN").is_err());
        assert_eq!(coerce(ParamKind::String, "a b"), Ok(Value::from("a b")));
    }

    #[test]
    fn json_content_types_are_recognised() {
        let h = |s: &'static str| http::HeaderValue::from_static(s);
        assert!(is_json(Some(&h("application/json"))));
        assert!(is_json(Some(&h("Application/JSON; charset=utf-8"))));
        assert!(is_json(Some(&h("application/merge-patch+json"))));
        assert!(!is_json(Some(&h("text/plain"))));
        assert!(!is_json(Some(&h("application/jsonx"))));
        assert!(!is_json(None));
    }
}
