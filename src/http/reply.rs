//! Success responses of the generated API trait.
//!
//! [`Reply`] is a JSON body with the status and the response headers the spec declares for an
//! operation (`H`, a generated struct, only describes them to dropshot; replies set the values
//! by name). It can also answer 304 Not Modified, which dropshot's own response types cannot,
//! and compute a strong ETag from the body it serializes (for lists). With a sparse fieldset
//! (`fields`, see [`crate::http::fields`]) it sends the members asked for, under their own ETag.
//! [`BinaryReply`] is the same for bytes in a declared media type (`image/png`, `text/csv`),
//! [`NoContent`] for none.
//!
//! Headers that the spec's policies add (`Cache-Control` from `x-cache`, `RateLimit-*`,
//! `Deprecation`) do not pass through here: the glue hands them to the request's scope.

use std::marker::PhantomData;

use bytes::Bytes;
use dropshot::{
    ApiEndpointResponse, Body, FreeformBody, HttpError, HttpResponse, HttpResponseDeleted,
    HttpResponseHeaders, HttpResponseOk,
};
use http::header::{HeaderName, CACHE_CONTROL, CONTENT_TYPE, ETAG, LAST_MODIFIED, LOCATION};
use http::{HeaderMap, HeaderValue, Response, StatusCode};
use schemars::JsonSchema;
use serde::Serialize;

use crate::http::{conditional, fields};

/// A response header an operation declares.
#[derive(Debug)]
pub struct HeaderSpec {
    pub name: &'static str,
    pub required: bool,
    pub description: &'static str,
}

/// The response headers of an operation (a generated struct, one per operation).
pub trait HeaderSet: Serialize + JsonSchema + Send + Sync + 'static {
    const HEADERS: &'static [HeaderSpec];
}

/// What a conditional GET asks: the client's copies.
#[derive(Debug, Clone, Copy, Default)]
pub struct Conditions<'a> {
    pub if_none_match: Option<&'a str>,
    pub if_modified_since: Option<&'a str>,
}

impl Conditions<'_> {
    /// Whether the client's copy of a representation with `etag` (last modified at `modified`,
    /// when the operation declares `Last-Modified`) is current: `If-None-Match` decides, or else
    /// `If-Modified-Since`.
    pub fn unchanged(&self, etag: &str, modified: Option<chrono::DateTime<chrono::Utc>>) -> bool {
        match (self.if_none_match, self.if_modified_since, modified) {
            (Some(header), _, _) => conditional::none_match(header, etag),
            (None, Some(header), Some(modified)) => conditional::not_modified_since(header, modified),
            _ => false,
        }
    }
}

/// Headers a reply sets by name; an invalid value is remembered as a server error.
#[derive(Debug)]
struct Headers {
    map: HeaderMap,
    error: Option<String>,
}

/// Room for the headers of a response, made once: the reply's, then the policy's and the
/// edge's (request id, rate limits, caching, security headers: 17 on a product's `GET`). A map
/// that starts empty grows twice on the way, rehashing each time.
const RESPONSE_HEADERS: usize = 24;

impl Default for Headers {
    fn default() -> Self {
        Headers { map: HeaderMap::with_capacity(RESPONSE_HEADERS), error: None }
    }
}

impl Headers {
    fn set<H: HeaderSet>(&mut self, name: HeaderName, value: &str) {
        debug_assert!(
            H::HEADERS.iter().any(|h| h.name.eq_ignore_ascii_case(name.as_str())),
            "{name} is not declared for this operation in the spec"
        );
        match HeaderValue::from_str(value) {
            Ok(value) => {
                self.map.insert(name, value);
            }
            Err(_) => self.error = Some(format!("invalid value for response header {name}")),
        }
    }

    fn into_response<H: HeaderSet>(
        self,
        status: StatusCode,
        body: Body,
    ) -> Result<Response<Body>, HttpError> {
        if let Some(error) = self.error {
            return Err(HttpError::for_internal_error(error));
        }
        if status != StatusCode::NOT_MODIFIED {
            debug_assert!(
                H::HEADERS
                    .iter()
                    .filter(|h| h.required)
                    .all(|h| self.map.contains_key(h.name) || set_by_the_glue(h.name)),
                "a required response header is missing"
            );
        }
        let mut response = Response::new(body);
        *response.status_mut() = status;
        *response.headers_mut() = self.map;
        Ok(response)
    }
}

/// Headers that the generated glue adds from the operation's policy (`x-cache`, deprecation),
/// through the request's scope, rather than the handler's reply.
fn set_by_the_glue(name: &str) -> bool {
    ["cache-control", "deprecation", "sunset"].iter().any(|h| name.eq_ignore_ascii_case(h))
}

fn status(code: u16) -> Result<StatusCode, HttpError> {
    StatusCode::from_u16(code).map_err(|e| HttpError::for_internal_error(e.to_string()))
}

/// A success response with a JSON body of type `T` and status `STATUS`, or 304.
pub struct Reply<T, H, const STATUS: u16> {
    body: Option<T>,
    headers: Headers,
    /// `If-None-Match` of the request, when the ETag is to be computed from the body.
    etag_from_body: Option<Option<String>>,
    _declared: PhantomData<fn() -> H>,
}

impl<T, H: HeaderSet, const STATUS: u16> Reply<T, H, STATUS> {
    pub fn new(body: T) -> Self {
        Reply { body: Some(body), headers: Headers::default(), etag_from_body: None, _declared: PhantomData }
    }

    /// 304 Not Modified: no body; the caller adds the validators (`ETag`…).
    pub fn not_modified() -> Self {
        Reply { body: None, headers: Headers::default(), etag_from_body: None, _declared: PhantomData }
    }

    /// Sets a header the operation declares.
    pub fn header(mut self, name: HeaderName, value: &str) -> Self {
        self.headers.set::<H>(name, value);
        self
    }

    pub fn etag(self, etag: &str) -> Self {
        self.header(ETAG, etag)
    }

    pub fn last_modified(self, at: chrono::DateTime<chrono::Utc>) -> Self {
        self.header(LAST_MODIFIED, &conditional::http_date(at))
    }

    pub fn location(self, path: &str) -> Self {
        self.header(LOCATION, path)
    }

    pub fn link(self, value: &str) -> Self {
        self.header(http::header::LINK, value)
    }

    /// `Cache-Control: no-store`, for answers that hold secrets.
    pub fn no_store(self) -> Self {
        self.header(CACHE_CONTROL, "no-store")
    }

    /// `Cache-Control: private, no-cache`, for answers about the caller.
    pub fn private(self) -> Self {
        self.header(CACHE_CONTROL, "private, no-cache")
    }

    /// The answer to a conditional GET of a stored resource: 304 when the client's copy is
    /// current, the body otherwise; with the validators either way. `modified` is only sent
    /// when the operation declares `Last-Modified`.
    pub fn conditional(
        conditions: Conditions<'_>,
        etag: &str,
        modified: Option<chrono::DateTime<chrono::Utc>>,
        body: impl FnOnce() -> Result<T, crate::error::Error>,
    ) -> Result<Self, crate::error::Error> {
        // With `fields`, the representation is the fieldset's, and so is its ETag.
        let sparse = fields::etag_of(etag);
        let etag = sparse.as_deref().unwrap_or(etag);
        let reply =
            if conditions.unchanged(etag, modified) { Self::not_modified() } else { Self::new(body()?) };
        let reply = reply.etag(etag);
        Ok(match modified {
            Some(modified) => reply.last_modified(modified),
            None => reply,
        })
    }

    /// Computes a strong ETag from the serialized body and answers 304 when `if_none_match`
    /// names it (for representations without a stored version, such as lists).
    pub fn etag_from_body(mut self, if_none_match: Option<&str>) -> Self {
        self.etag_from_body = Some(if_none_match.map(str::to_string));
        self
    }
}

impl<T, H, const STATUS: u16> HttpResponse for Reply<T, H, STATUS>
where
    T: Serialize + JsonSchema + Send + Sync + 'static,
    H: HeaderSet,
{
    fn to_result(self) -> Result<Response<Body>, HttpError> {
        let mut headers = self.headers;
        let Some(body) = self.body else {
            return headers.into_response::<H>(StatusCode::NOT_MODIFIED, Body::empty());
        };
        let internal = |e: serde_json::Error| HttpError::for_internal_error(e.to_string());
        let json = match fields::take() {
            None => serde_json::to_vec(&body).map_err(internal)?,
            Some(fieldset) => {
                let mut value = serde_json::to_value(&body).map_err(internal)?;
                fieldset.apply(&mut value);
                serde_json::to_vec(&value).map_err(internal)?
            }
        };
        if let Some(if_none_match) = self.etag_from_body {
            let etag = format!("\"{}\"", conditional::digest(&json));
            let unchanged = if_none_match.is_some_and(|header| conditional::none_match(&header, &etag));
            headers.set::<H>(ETAG, &etag);
            if unchanged {
                return headers.into_response::<H>(StatusCode::NOT_MODIFIED, Body::empty());
            }
        }
        headers.map.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        headers.into_response::<H>(status(STATUS)?, Body::from(json))
    }

    fn response_metadata() -> ApiEndpointResponse {
        let mut metadata = <HttpResponseHeaders<HttpResponseOk<T>, H> as HttpResponse>::response_metadata();
        metadata.success = StatusCode::from_u16(STATUS).ok();
        metadata.description =
            StatusCode::from_u16(STATUS).ok().and_then(|s| s.canonical_reason()).map(str::to_string);
        metadata
    }

    fn status_code(&self) -> StatusCode {
        match self.body {
            Some(_) => StatusCode::from_u16(STATUS).unwrap_or(StatusCode::OK),
            None => StatusCode::NOT_MODIFIED,
        }
    }
}

/// A success response of bytes in a media type the operation declares, or 304.
pub struct BinaryReply<H, const STATUS: u16> {
    body: Option<(HeaderValue, Bytes)>,
    headers: Headers,
    _declared: PhantomData<fn() -> H>,
}

impl<H: HeaderSet, const STATUS: u16> BinaryReply<H, STATUS> {
    /// `bytes` as `content_type`, which must be one the operation declares.
    pub fn new(content_type: &str, bytes: Bytes) -> Self {
        let mut headers = Headers::default();
        let body = match HeaderValue::from_str(content_type) {
            Ok(value) => Some((value, bytes)),
            Err(_) => {
                headers.error = Some(format!("invalid content type {content_type:?}"));
                Some((HeaderValue::from_static("application/octet-stream"), bytes))
            }
        };
        BinaryReply { body, headers, _declared: PhantomData }
    }

    /// 304 Not Modified.
    pub fn not_modified() -> Self {
        BinaryReply { body: None, headers: Headers::default(), _declared: PhantomData }
    }

    /// Sets a header the operation declares.
    pub fn header(mut self, name: HeaderName, value: &str) -> Self {
        self.headers.set::<H>(name, value);
        self
    }

    pub fn etag(self, etag: &str) -> Self {
        self.header(ETAG, etag)
    }
}

impl<H: HeaderSet, const STATUS: u16> HttpResponse for BinaryReply<H, STATUS> {
    fn to_result(self) -> Result<Response<Body>, HttpError> {
        let mut headers = self.headers;
        match self.body {
            None => headers.into_response::<H>(StatusCode::NOT_MODIFIED, Body::empty()),
            Some((content_type, bytes)) => {
                headers.map.insert(CONTENT_TYPE, content_type);
                headers.into_response::<H>(status(STATUS)?, Body::from(bytes))
            }
        }
    }

    fn response_metadata() -> ApiEndpointResponse {
        let mut metadata =
            <HttpResponseHeaders<HttpResponseOk<FreeformBody>, H> as HttpResponse>::response_metadata();
        metadata.success = StatusCode::from_u16(STATUS).ok();
        metadata
    }

    fn status_code(&self) -> StatusCode {
        match self.body {
            Some(_) => StatusCode::from_u16(STATUS).unwrap_or(StatusCode::OK),
            None => StatusCode::NOT_MODIFIED,
        }
    }
}

/// A success response without a body (204).
pub struct NoContent<H, const STATUS: u16> {
    headers: Headers,
    _declared: PhantomData<fn() -> H>,
}

impl<H: HeaderSet, const STATUS: u16> NoContent<H, STATUS> {
    pub fn new() -> Self {
        NoContent { headers: Headers::default(), _declared: PhantomData }
    }

    /// Sets a header the operation declares.
    pub fn header(mut self, name: HeaderName, value: &str) -> Self {
        self.headers.set::<H>(name, value);
        self
    }
}

impl<H: HeaderSet, const STATUS: u16> Default for NoContent<H, STATUS> {
    fn default() -> Self {
        Self::new()
    }
}

impl<H: HeaderSet, const STATUS: u16> HttpResponse for NoContent<H, STATUS> {
    fn to_result(self) -> Result<Response<Body>, HttpError> {
        self.headers.into_response::<H>(status(STATUS)?, Body::empty())
    }

    fn response_metadata() -> ApiEndpointResponse {
        let mut metadata = <HttpResponseHeaders<HttpResponseDeleted, H> as HttpResponse>::response_metadata();
        metadata.success = StatusCode::from_u16(STATUS).ok();
        metadata
    }

    fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(STATUS).unwrap_or(StatusCode::NO_CONTENT)
    }
}
