//! Request extractors for the generated API trait: path, query and header parameters, and
//! bodies (JSON; raw bytes; JSON or `multipart/form-data` with file parts), each validated
//! against the spec before a handler sees it.
//!
//! Each one documents itself to dropshot exactly as dropshot's own extractor would (so the
//! drift test compares like with like), but reads and checks the request itself, so that every
//! failure is a problem in the API's shape:
//!
//! * a parameter that is not of its declared type, or breaks a constraint → 422 naming it;
//! * a body of another media type → 415; larger than the operation's limit → 413 (counted as it
//!   streams in: nothing over the limit is buffered); not JSON → 400; JSON that breaks the
//!   schema (unknown fields included) → 422 naming every field.
//!
//! A failure travels through dropshot's `HttpError` to the API's error type by way of the
//! request's scope ([`ApiError::into_extractor_error`]), unchanged.

use std::borrow::Cow;
use std::collections::BTreeMap;

use async_trait::async_trait;
use bytes::{Bytes, BytesMut};
use dropshot::{
    ApiEndpointBodyContentType, ExclusiveExtractor, ExtractorMetadata, HttpError, RequestContext,
    ServerContext, SharedExtractor,
};
use http_body_util::BodyExt;
use schemars::JsonSchema;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::api::types::FieldError;
use crate::edge::scope;
use crate::error::{ApiError, Kind};
use crate::http::policy::FilePart;
use crate::validate::{self, Validator};

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
pub trait ParamSet: DeserializeOwned + JsonSchema + Clone + Send + Sync + 'static {
    const NAME: &'static str;
    const PARAMS: &'static [ParamSpec];
    fn validator() -> &'static Validator;
    /// The set read from a request that gives none of its parameters (defaults filled in), once
    /// it was read the first time; `None` inside when that is an error (a required parameter).
    fn absent() -> &'static std::sync::OnceLock<Option<Self>>;
}

/// A generated request body type and the schema it is checked against.
pub trait BodySchema: DeserializeOwned + JsonSchema + Send + Sync + 'static {
    const NAME: &'static str;
    fn validator() -> &'static Validator;
}

/// Reads parameter text as the JSON value its schema expects.
fn coerce<'a>(kind: ParamKind, text: impl Into<Cow<'a, str>>) -> Result<Value, &'static str> {
    let text = text.into();
    match kind {
        ParamKind::String => Ok(Value::String(text.into_owned())),
        ParamKind::Integer => text
            .parse::<i64>()
            .map(Value::from)
            .or_else(|_| text.parse::<u64>().map(Value::from))
            .map_err(|_| "must be an integer"),
        ParamKind::Number => match text.parse::<f64>() {
            Ok(n) if n.is_finite() => Ok(Value::from(n)),
            _ => Err("must be a number"),
        },
        ParamKind::Boolean => match &*text {
            "true" => Ok(Value::Bool(true)),
            "false" => Ok(Value::Bool(false)),
            _ => Err("must be true or false"),
        },
    }
}

/// Turns raw parameter text into `T`: coerce, fill defaults, validate, deserialize.
///
/// A request that gives none of `T`'s parameters (most GETs: no query, no conditional headers)
/// always reads as the same value: it is worked out once per parameter set and cloned.
fn parse_params<'a, T: ParamSet, N: AsRef<str>>(
    raw: impl IntoIterator<Item = (N, Cow<'a, str>)>,
) -> Result<T, ApiError> {
    let mut raw = raw.into_iter().peekable();
    if raw.peek().is_none() {
        if let Some(absent) = T::absent().get_or_init(|| read_params::<T, N>(std::iter::empty()).ok()) {
            return Ok(absent.clone());
        }
    }
    read_params::<T, N>(raw)
}

fn read_params<'a, T: ParamSet, N: AsRef<str>>(
    raw: impl Iterator<Item = (N, Cow<'a, str>)>,
) -> Result<T, ApiError> {
    let mut object = Map::new();
    let mut errors = Vec::new();
    for (name, text) in raw {
        // Parameters the operation does not declare are ignored, as HTTP APIs usually do.
        let Some(spec) = T::PARAMS.iter().find(|p| p.name.eq_ignore_ascii_case(name.as_ref())) else {
            continue;
        };
        if object.contains_key(spec.name) {
            errors.push(field_error(spec.name, "must be given only once"));
            continue;
        }
        match coerce(spec.kind, text) {
            Ok(value) => {
                object.insert(spec.name.to_string(), value);
            }
            Err(message) => errors.push(field_error(spec.name, message)),
        }
    }
    for spec in T::PARAMS {
        let Some(default) = spec.default else { continue };
        if object.contains_key(spec.name) || errors.iter().any(|e| e.field == spec.name) {
            continue;
        }
        let value = serde_json::from_str(default).map_err(|e| {
            ApiError::from(crate::error::Error::internal(format!("default of {}: {e}", spec.name)))
        })?;
        object.insert(spec.name.to_string(), value);
    }
    let value = Value::Object(object);
    // Report every problem at once: what could not be read, and what breaks the schema.
    // (`check` answers a valid value without building errors; `unreadable` is then empty.)
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
        // Dropshot matched the route (and decoded its segments); check them ourselves.
        let raw = rqctx.endpoint.variables.iter().map(|(name, value)| {
            let text = match value {
                dropshot::VariableValue::String(text) => Cow::Borrowed(text.as_str()),
                // A `{name:.*}` variable (none in this API): its segments, as they were sent.
                dropshot::VariableValue::Components(segments) => Cow::Owned(segments.join("/")),
            };
            (name.as_str(), text)
        });
        parse_params::<T, _>(raw).map(PathParams).map_err(ApiError::into_extractor_error)
    }

    fn metadata(content_type: ApiEndpointBodyContentType) -> ExtractorMetadata {
        <dropshot::Path<T> as SharedExtractor>::metadata(content_type)
    }
}

/// Reads a query string (without the `?`) as `T`: decode, coerce, fill defaults, validate.
pub(crate) fn parse_query<T: ParamSet>(query: &str) -> Result<T, ApiError> {
    parse_params::<T, _>(form_urlencoded::parse(query.as_bytes()))
}

/// Query parameters, validated.
#[derive(Debug)]
pub struct QueryParams<T>(T);

impl<T> QueryParams<T> {
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> std::ops::Deref for QueryParams<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

#[async_trait]
impl<T: ParamSet> SharedExtractor for QueryParams<T> {
    async fn from_request<C: ServerContext>(rqctx: &RequestContext<C>) -> Result<Self, HttpError> {
        let query = rqctx.request.uri().query().unwrap_or_default();
        parse_query::<T>(query).map(QueryParams).map_err(ApiError::into_extractor_error)
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
        // One pass over the request's headers (a handful), comparing names: cheaper than
        // hashing each declared name to look it up, and most requests carry none of them.
        let mut raw: Vec<(&'static str, Cow<'_, str>)> = Vec::new();
        let mut errors = Vec::new();
        for (name, value) in rqctx.request.headers() {
            let Some(spec) = T::PARAMS.iter().find(|p| p.name.eq_ignore_ascii_case(name.as_str())) else {
                continue;
            };
            let Ok(text) = value.to_str() else {
                if !errors.iter().any(|e: &FieldError| e.field == spec.name) {
                    errors.push(field_error(spec.name, "must be visible ASCII text"));
                }
                continue;
            };
            // Repeated header lines mean one comma-separated list (RFC 9110 §5.3); a map's
            // values of one name come together, in the order they were sent.
            match raw.last_mut() {
                Some((last, joined)) if *last == spec.name => {
                    let joined = joined.to_mut();
                    joined.push_str(", ");
                    joined.push_str(text);
                }
                _ => raw.push((spec.name, Cow::Borrowed(text))),
            }
        }
        if !errors.is_empty() {
            return Err(ApiError::validation(errors).into_extractor_error());
        }
        parse_params::<T, _>(raw).map(HeaderParams).map_err(ApiError::into_extractor_error)
    }

    fn metadata(content_type: ApiEndpointBodyContentType) -> ExtractorMetadata {
        <dropshot::Header<T> as SharedExtractor>::metadata(content_type)
    }
}

/// The largest body the request's operation accepts.
fn body_limit(rqctx: &RequestContext<impl ServerContext>) -> usize {
    rqctx.endpoint.request_body_max_bytes.unwrap_or(rqctx.server.config.default_request_body_max_bytes)
}

fn too_large(limit: usize) -> ApiError {
    // The rest of the body is not read: the connection closes (lingering: see `crate::edge`).
    crate::http::policy::respond_with(http::header::CONNECTION, "close");
    ApiError::new(Kind::PayloadTooLarge, format!("the request body exceeds the limit of {limit} bytes"))
}

/// Reads a whole body, counting as it streams in: 413 as soon as it passes `limit`.
async fn read_limited(body: dropshot::Body, limit: usize) -> Result<Bytes, ApiError> {
    match http_body_util::Limited::new(body, limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => Err(too_large(limit)),
        Err(_) => Err(ApiError::new(Kind::BadRequest, "the request body could not be read")),
    }
}

/// The media type of a `Content-Type` value, lower-cased, without parameters.
fn essence(content_type: Option<&http::HeaderValue>) -> Option<String> {
    let value = content_type?.to_str().ok()?;
    Some(value.split(';').next().unwrap_or_default().trim().to_ascii_lowercase())
}

/// `application/json` or `application/<anything>+json`.
fn is_json(essence: Option<&str>) -> bool {
    essence
        .is_some_and(|e| e == "application/json" || (e.starts_with("application/") && e.ends_with("+json")))
}

/// Parses and validates JSON as `T`.
pub(crate) fn json_value<T: BodySchema>(bytes: &[u8]) -> Result<T, ApiError> {
    let value: Value = serde_json::from_slice(bytes)
        .map_err(|e| ApiError::new(Kind::BadRequest, format!("the request body is not valid JSON: {e}")))?;
    typed::<T>(value)
}

/// Validates a JSON value as `T`, and converts it.
fn typed<T: BodySchema>(value: Value) -> Result<T, ApiError> {
    let errors = validate::check(T::validator(), &value);
    if !errors.is_empty() {
        return Err(ApiError::validation(errors));
    }
    serde_json::from_value(value).map_err(|e| ApiError::validation(vec![field_error("body", &e.to_string())]))
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
        read_json::<T>(rqctx, request).await.map(JsonBody).map_err(ApiError::into_extractor_error)
    }

    fn metadata(content_type: ApiEndpointBodyContentType) -> ExtractorMetadata {
        <dropshot::TypedBody<T> as ExclusiveExtractor>::metadata(content_type)
    }
}

async fn read_json<T: BodySchema>(
    rqctx: &RequestContext<impl ServerContext>,
    request: hyper::Request<dropshot::Body>,
) -> Result<T, ApiError> {
    if !is_json(essence(request.headers().get(http::header::CONTENT_TYPE)).as_deref()) {
        return Err(ApiError::new(
            Kind::UnsupportedMediaType,
            "the request body must be JSON, sent with Content-Type: application/json",
        ));
    }
    let bytes = read_limited(request.into_body(), body_limit(rqctx)).await?;
    json_value::<T>(&bytes)
}

/// Bytes sent as a request body or a file part, with the media type the client declared (which
/// decides nothing: the application looks at the bytes).
#[derive(Debug, Clone)]
pub struct Upload {
    pub declared_type: Option<String>,
    pub bytes: Bytes,
}

/// A raw request body (`application/octet-stream`, `image/*`), streamed in up to the
/// operation's limit.
#[derive(Debug)]
pub struct BinaryBody(Upload);

impl BinaryBody {
    pub fn into_inner(self) -> Upload {
        self.0
    }

    pub fn get(&self) -> &Upload {
        &self.0
    }
}

#[async_trait]
impl ExclusiveExtractor for BinaryBody {
    async fn from_request<C: ServerContext>(
        rqctx: &RequestContext<C>,
        request: hyper::Request<dropshot::Body>,
    ) -> Result<Self, HttpError> {
        read_binary(rqctx, request).await.map(BinaryBody).map_err(ApiError::into_extractor_error)
    }

    fn metadata(content_type: ApiEndpointBodyContentType) -> ExtractorMetadata {
        <dropshot::UntypedBody as ExclusiveExtractor>::metadata(content_type)
    }
}

async fn read_binary(
    rqctx: &RequestContext<impl ServerContext>,
    request: hyper::Request<dropshot::Body>,
) -> Result<Upload, ApiError> {
    let declared_type = essence(request.headers().get(http::header::CONTENT_TYPE));
    let accepted =
        scope::with(|scope| scope.operation().map(|op| op.request_media_types)).flatten().unwrap_or(&[]);
    let fits = declared_type.as_deref().is_some_and(|declared| {
        accepted.iter().any(|media| {
            *media == declared || (media.ends_with("/*") && declared.starts_with(&media[..media.len() - 1]))
        })
    });
    if !fits {
        return Err(ApiError::new(
            Kind::UnsupportedMediaType,
            format!("the request body must be sent as one of: {}", accepted.join(", ")),
        ));
    }
    let bytes = read_limited(request.into_body(), body_limit(rqctx)).await?;
    Ok(Upload { declared_type, bytes })
}

/// A JSON body, or the same fields as `multipart/form-data` with file parts.
#[derive(Debug)]
pub struct Form<T> {
    pub data: T,
    /// File parts, by the name the spec gives them.
    pub files: BTreeMap<String, Upload>,
}

/// The extractor of a [`Form`].
#[derive(Debug)]
pub struct JsonOrForm<T>(Form<T>);

impl<T> JsonOrForm<T> {
    pub fn into_inner(self) -> Form<T> {
        self.0
    }

    pub fn get(&self) -> &Form<T> {
        &self.0
    }
}

#[async_trait]
impl<T: BodySchema> ExclusiveExtractor for JsonOrForm<T> {
    async fn from_request<C: ServerContext>(
        rqctx: &RequestContext<C>,
        request: hyper::Request<dropshot::Body>,
    ) -> Result<Self, HttpError> {
        read_form::<T>(rqctx, request).await.map(JsonOrForm).map_err(ApiError::into_extractor_error)
    }

    fn metadata(content_type: ApiEndpointBodyContentType) -> ExtractorMetadata {
        <dropshot::TypedBody<T> as ExclusiveExtractor>::metadata(content_type)
    }
}

async fn read_form<T: BodySchema>(
    rqctx: &RequestContext<impl ServerContext>,
    request: hyper::Request<dropshot::Body>,
) -> Result<Form<T>, ApiError> {
    let content_type = request.headers().get(http::header::CONTENT_TYPE).cloned();
    let parts = scope::with(|scope| scope.operation().map(|op| op.file_parts)).flatten().unwrap_or(&[]);
    form_of::<T>(content_type.as_ref(), request.into_body(), body_limit(rqctx), parts).await
}

/// Reads a [`Form`] from a body sent with `content_type`: JSON, or `multipart/form-data` whose
/// file parts are `parts` (the operation's); `limit` bounds the whole body and each part.
pub(crate) async fn form_of<T: BodySchema>(
    content_type: Option<&http::HeaderValue>,
    body: dropshot::Body,
    limit: usize,
    parts: &[FilePart],
) -> Result<Form<T>, ApiError> {
    let media = essence(content_type);
    if is_json(media.as_deref()) {
        let bytes = read_limited(body, limit).await?;
        return Ok(Form { data: json_value::<T>(&bytes)?, files: BTreeMap::new() });
    }
    if media.as_deref() != Some("multipart/form-data") {
        return Err(ApiError::new(
            Kind::UnsupportedMediaType,
            "the request body must be application/json or multipart/form-data",
        ));
    }
    let boundary = content_type
        .and_then(|v| v.to_str().ok())
        .and_then(|v| multer::parse_boundary(v).ok())
        .ok_or_else(|| ApiError::new(Kind::BadRequest, "a multipart/form-data body needs a boundary"))?;
    let constraints = multer::Constraints::new()
        .size_limit(multer::SizeLimit::new().whole_stream(limit as u64).per_field(limit as u64));
    let stream = http_body_util::BodyDataStream::new(body);
    let mut multipart = multer::Multipart::with_constraints(stream, boundary, constraints);
    let schema = validate::schema(T::NAME);
    let mut fields = Map::new();
    let mut files = BTreeMap::new();
    let mut errors = Vec::new();
    loop {
        let field = match multipart.next_field().await {
            Ok(Some(field)) => field,
            Ok(None) => break,
            Err(e) => return Err(multipart_error(e, limit)),
        };
        let name = field.name().unwrap_or_default().to_string();
        if let Some(part) = parts.iter().find(|p| p.name == name) {
            let declared_type = field.content_type().map(|m| m.essence_str().to_ascii_lowercase());
            let mut bytes = BytesMut::new();
            let mut field = field;
            while let Some(chunk) = field.chunk().await.map_err(|e| multipart_error(e, limit))? {
                bytes.extend_from_slice(&chunk);
            }
            if files.contains_key(part.name) {
                errors.push(field_error(part.name, "must be given only once"));
            }
            files.insert(part.name.to_string(), Upload { declared_type, bytes: bytes.freeze() });
            continue;
        }
        if field.file_name().is_some() {
            errors.push(field_error(&name, "is not a file part of this form"));
            continue;
        }
        let text = field.text().await.map_err(|e| multipart_error(e, limit))?;
        if fields.contains_key(&name) {
            errors.push(field_error(&name, "must be given only once"));
            continue;
        }
        let value = match property_kind(schema, &name) {
            Some(kind) => coerce(kind, &text).unwrap_or(Value::String(text)),
            None => Value::String(text),
        };
        fields.insert(name, value);
    }
    for part in parts.iter().filter(|p| p.required) {
        if !files.contains_key(part.name) {
            errors.push(field_error(part.name, "is required"));
        }
    }
    let data = typed::<T>(Value::Object(fields));
    match data {
        Err(e) if errors.is_empty() => Err(e),
        Err(e) => {
            errors.extend(e.problem().errors.iter().cloned());
            errors.sort_by(|a, b| a.field.cmp(&b.field));
            Err(ApiError::validation(errors))
        }
        Ok(_) if !errors.is_empty() => Err(ApiError::validation(errors)),
        Ok(data) => Ok(Form { data, files }),
    }
}

/// How a form's text field is read: as the type its property declares in the JSON schema.
fn property_kind(schema: Option<&Value>, name: &str) -> Option<ParamKind> {
    let schema = schema?;
    let mut property = schema.get("properties")?.get(name)?;
    if let Some(reference) = property.get("$ref").and_then(Value::as_str) {
        property = schema.pointer(reference.trim_start_matches('#'))?;
    }
    match property.get("type")?.as_str()? {
        "integer" => Some(ParamKind::Integer),
        "number" => Some(ParamKind::Number),
        "boolean" => Some(ParamKind::Boolean),
        _ => None,
    }
}

fn multipart_error(error: multer::Error, limit: usize) -> ApiError {
    match error {
        multer::Error::StreamSizeExceeded { .. } | multer::Error::FieldSizeExceeded { .. } => {
            too_large(limit)
        }
        other => {
            ApiError::new(Kind::BadRequest, format!("the multipart/form-data body is malformed: {other}"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_without_parameters_reads_as_the_first_time_every_time() {
        use crate::api::server::{ProductGetPath, ProductListQuery};
        let json = |q: &ProductListQuery| serde_json::to_value(q).unwrap();
        let first = parse_query::<ProductListQuery>("").unwrap();
        let again = parse_query::<ProductListQuery>("").unwrap();
        let worked_out = read_params::<ProductListQuery, &str>(std::iter::empty()).unwrap();
        assert_eq!(json(&first), json(&worked_out));
        assert_eq!(json(&again), json(&worked_out));
        // The defaults are in (`limit`), and a given parameter is not taken from the cache.
        assert_eq!(json(&first)["limit"], 20);
        assert_eq!(json(&parse_query::<ProductListQuery>("limit=3").unwrap())["limit"], 3);
        // A set with a required parameter: its absence is an error each time, never cached.
        for _ in 0..2 {
            let error = parse_params::<ProductGetPath, &str>(std::iter::empty()).unwrap_err();
            assert!(format!("{error:?}").contains("is required"), "{error:?}");
        }
    }

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
        let e = |s: &'static str| essence(Some(&http::HeaderValue::from_static(s)));
        assert!(is_json(e("application/json").as_deref()));
        assert!(is_json(e("Application/JSON; charset=utf-8").as_deref()));
        assert!(is_json(e("application/merge-patch+json").as_deref()));
        assert!(!is_json(e("text/plain").as_deref()));
        assert!(!is_json(e("application/jsonx").as_deref()));
        assert!(!is_json(None));
    }

    #[test]
    fn form_fields_are_read_as_their_declared_types() {
        let schema = serde_json::json!({
            "properties": {"count": {"type": "integer"}, "name": {"type": "string"}, "ref": {"$ref": "#/definitions/Flag"}},
            "definitions": {"Flag": {"type": "boolean"}}
        });
        assert_eq!(property_kind(Some(&schema), "count"), Some(ParamKind::Integer));
        assert_eq!(property_kind(Some(&schema), "ref"), Some(ParamKind::Boolean));
        assert_eq!(property_kind(Some(&schema), "name"), None);
        assert_eq!(property_kind(Some(&schema), "missing"), None);
    }
}
