//! Success responses of the generated API trait.
//!
//! [`Reply`] is a JSON body with the status and the response headers the spec declares for an
//! operation (`H`, a generated struct, only describes them to dropshot; handlers set the
//! values by name). It can also answer 304 Not Modified, which dropshot's own response types
//! cannot, and compute a strong ETag from the body it serializes (for lists).

use std::hash::{Hash, Hasher};
use std::marker::PhantomData;

use dropshot::{
    ApiEndpointResponse, Body, HttpError, HttpResponse, HttpResponseDeleted, HttpResponseHeaders,
    HttpResponseOk,
};
use http::header::{HeaderName, CACHE_CONTROL, CONTENT_TYPE, ETAG, LAST_MODIFIED, LOCATION};
use http::{HeaderMap, HeaderValue, Response, StatusCode};
use schemars::JsonSchema;
use serde::Serialize;

use crate::http::conditional;

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

/// A response the policy glue can add headers to (rate-limit headers, the caller for the log).
pub trait Decorate {
    fn add_header(&mut self, name: &'static str, value: &str);
}

fn insert(headers: &mut HeaderMap, name: &'static str, value: &str) {
    if let Ok(value) = HeaderValue::from_str(value) {
        headers.insert(HeaderName::from_static(name), value);
    }
}

impl<T, H, const STATUS: u16> Decorate for Reply<T, H, STATUS> {
    fn add_header(&mut self, name: &'static str, value: &str) {
        insert(&mut self.headers, name, value);
    }
}

impl<H, const STATUS: u16> Decorate for NoContent<H, STATUS> {
    fn add_header(&mut self, name: &'static str, value: &str) {
        insert(&mut self.headers, name, value);
    }
}

/// A success response with a JSON body of type `T` and status `STATUS`, or 304.
pub struct Reply<T, H, const STATUS: u16> {
    body: Option<T>,
    headers: HeaderMap,
    /// `If-None-Match` of the request, when the ETag is to be computed from the body.
    etag_from_body: Option<Option<String>>,
    error: Option<String>,
    _headers: PhantomData<fn() -> H>,
}

impl<T, H: HeaderSet, const STATUS: u16> Reply<T, H, STATUS> {
    pub fn new(body: T) -> Self {
        Reply {
            body: Some(body),
            headers: HeaderMap::new(),
            etag_from_body: None,
            error: None,
            _headers: PhantomData,
        }
    }

    /// 304 Not Modified: no body; the caller adds the validators (`ETag`…).
    pub fn not_modified() -> Self {
        Reply {
            body: None,
            headers: HeaderMap::new(),
            etag_from_body: None,
            error: None,
            _headers: PhantomData,
        }
    }

    /// Sets a header the operation declares.
    pub fn header(mut self, name: HeaderName, value: &str) -> Self {
        debug_assert!(
            H::HEADERS.iter().any(|h| h.name.eq_ignore_ascii_case(name.as_str())),
            "{name} is not declared for this operation in the spec"
        );
        match HeaderValue::from_str(value) {
            Ok(value) => {
                self.headers.insert(name, value);
            }
            Err(_) => self.error = Some(format!("invalid value for response header {name}")),
        }
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

    /// `Cache-Control`, when the spec gives one (`x-cache`).
    pub fn cache_control(self, value: Option<&str>) -> Self {
        match value {
            Some(value) => self.header(CACHE_CONTROL, value),
            None => self,
        }
    }

    /// The answer to a conditional GET of a stored resource: 304 when the client's copy (named
    /// by `If-None-Match`, or else dated by `If-Modified-Since`) is current, the body otherwise;
    /// with the validators either way. `modified` is only sent when the operation declares
    /// `Last-Modified`.
    pub fn conditional(
        if_none_match: Option<&str>,
        if_modified_since: Option<&str>,
        etag: &str,
        modified: Option<chrono::DateTime<chrono::Utc>>,
        body: impl FnOnce() -> Result<T, crate::error::Error>,
    ) -> Result<Self, crate::error::Error> {
        let unchanged = match (if_none_match, if_modified_since, modified) {
            (Some(header), _, _) => conditional::none_match(header, etag),
            (None, Some(header), Some(modified)) => conditional::not_modified_since(header, modified),
            _ => false,
        };
        let reply = if unchanged { Self::not_modified() } else { Self::new(body()?) };
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
        if let Some(error) = self.error {
            return Err(HttpError::for_internal_error(error));
        }
        let mut headers = self.headers;
        let (status, body) = match self.body {
            None => (StatusCode::NOT_MODIFIED, Body::empty()),
            Some(body) => {
                let json =
                    serde_json::to_vec(&body).map_err(|e| HttpError::for_internal_error(e.to_string()))?;
                let status =
                    StatusCode::from_u16(STATUS).map_err(|e| HttpError::for_internal_error(e.to_string()))?;
                match self.etag_from_body {
                    None => (status, Body::from(json)),
                    Some(if_none_match) => {
                        let etag = body_etag(&json);
                        let unchanged =
                            if_none_match.is_some_and(|header| conditional::none_match(&header, &etag));
                        headers.insert(
                            ETAG,
                            HeaderValue::from_str(&etag)
                                .map_err(|e| HttpError::for_internal_error(e.to_string()))?,
                        );
                        if unchanged {
                            (StatusCode::NOT_MODIFIED, Body::empty())
                        } else {
                            (status, Body::from(json))
                        }
                    }
                }
            }
        };
        if status != StatusCode::NOT_MODIFIED {
            debug_assert!(
                H::HEADERS.iter().filter(|h| h.required).all(|h| headers.contains_key(h.name)),
                "a required response header is missing"
            );
            headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        }
        let mut response = Response::new(body);
        *response.status_mut() = status;
        *response.headers_mut() = headers;
        Ok(response)
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

/// A success response without a body (204).
pub struct NoContent<H, const STATUS: u16> {
    headers: HeaderMap,
    _headers: PhantomData<fn() -> H>,
}

impl<H: HeaderSet, const STATUS: u16> NoContent<H, STATUS> {
    pub fn new() -> Self {
        NoContent { headers: HeaderMap::new(), _headers: PhantomData }
    }
}

impl<H: HeaderSet, const STATUS: u16> Default for NoContent<H, STATUS> {
    fn default() -> Self {
        Self::new()
    }
}

impl<H: HeaderSet, const STATUS: u16> HttpResponse for NoContent<H, STATUS> {
    fn to_result(self) -> Result<Response<Body>, HttpError> {
        let mut response = Response::new(Body::empty());
        *response.status_mut() =
            StatusCode::from_u16(STATUS).map_err(|e| HttpError::for_internal_error(e.to_string()))?;
        *response.headers_mut() = self.headers;
        Ok(response)
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

/// A strong ETag from a representation's bytes.
fn body_etag(bytes: &[u8]) -> String {
    let mut hasher = std::hash::DefaultHasher::new();
    bytes.hash(&mut hasher);
    format!("\"{:016x}\"", hasher.finish())
}
