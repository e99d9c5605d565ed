//! The edge: the public HTTP listener, in front of dropshot.
//!
//! Dropshot has no middleware, and a few answers never reach a handler or its error type: an
//! unknown route (404) and a method the route lacks (405) come straight from its router in its
//! own error format, and it always makes up its own request id. The edge is a small hyper server
//! that owns the public socket and forwards every request to dropshot on a loopback listener of
//! its own, so that what is cross-cutting happens in exactly one place:
//!
//! * the request id: a valid `X-Request-Id` from the client is kept, otherwise one is made; it is
//!   echoed, logged and put into every problem;
//! * every error is an RFC 9457 problem (`application/problem+json`, or `application/json` for
//!   clients that accept only that), with `request_id` and `instance`, dropshot's own included;
//! * `HEAD` for every `GET`, `OPTIONS` (the `Allow` list, and CORS preflights from configuration);
//! * body size (413 from `Content-Length` before reading), a time limit per request;
//! * security headers and CORS headers on every response;
//! * one access-log line per request;
//! * the spec itself at `GET /openapi.yaml` and `GET /openapi.json`.
//!
//! Forwarding costs about 14 µs of CPU per request on the reference machine (see the README's
//! benchmark notes); dropshot proves nothing else can reach it by checking a per-process secret
//! header the edge adds ([`EDGE_SECRET_HEADER`]).

use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::{Method, Request, Response, StatusCode, Uri};
use http_body_util::{BodyExt, Either, Full};
use hyper::body::Incoming;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use slog::{info, warn, Logger};
use tokio::net::TcpListener;

use crate::api::types::Problem;
use crate::error::Kind;

/// Proves to dropshot that a request came through the edge.
pub const EDGE_SECRET_HEADER: &str = "x-storefront-edge";
/// The request id, from the client or made here.
pub const REQUEST_ID_HEADER: &str = "x-request-id";
/// The client's address, as the edge saw it.
pub const PEER_HEADER: &str = "x-storefront-peer";
/// Set by a handler to name the authenticated caller in the access log; never sent out.
pub const CALLER_HEADER: &str = "x-storefront-caller";

/// Headers that describe one hop, not the message (RFC 9110 §7.6.1).
const HOP_BY_HOP: &[&str] = &["connection", "keep-alive", "proxy-connection", "te", "trailer", "upgrade"];

/// Response headers a browser script may read (CORS).
const EXPOSED_HEADERS: &str =
    "ETag, Last-Modified, Location, Link, X-Request-Id, Retry-After, RateLimit-Limit, \
                               RateLimit-Remaining, RateLimit-Reset, WWW-Authenticate";

/// Headers an API error may ask for (they travel inside its body; see `crate::error::ApiError`).
const ERROR_HEADERS: &[&str] = &[
    "www-authenticate",
    "retry-after",
    "ratelimit-limit",
    "ratelimit-remaining",
    "ratelimit-reset",
    "x-ratelimit-limit",
    "x-ratelimit-remaining",
    "x-ratelimit-reset",
    CALLER_HEADER,
];

/// The body of an answer: dropshot's, passed through, or one made here.
pub type EdgeBody = Either<Incoming, Full<Bytes>>;

/// What the edge needs to know.
pub struct EdgeConfig {
    /// Dropshot's loopback listener.
    pub backend: SocketAddr,
    pub secret: String,
    pub max_body_bytes: u64,
    pub request_timeout: Duration,
    pub cors_origins: Vec<String>,
    /// Proxies whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<ipnet::IpNet>,
    pub log: Logger,
}

/// The edge's state, shared by its connections.
pub struct Edge {
    config: EdgeConfig,
    secret: HeaderValue,
    client: Client<HttpConnector, Incoming>,
    openapi_yaml: Static,
    openapi_json: Static,
}

/// A document served as it is, with a strong ETag.
struct Static {
    body: Bytes,
    content_type: &'static str,
    etag: String,
}

impl Static {
    fn new(body: &'static str, content_type: &'static str) -> Static {
        use std::hash::{Hash, Hasher};
        let mut hasher = std::hash::DefaultHasher::new();
        body.hash(&mut hasher);
        Static {
            body: Bytes::from_static(body.as_bytes()),
            content_type,
            etag: format!("\"{:016x}\"", hasher.finish()),
        }
    }
}

impl Edge {
    pub fn new(config: EdgeConfig) -> Result<Arc<Edge>, String> {
        let secret = HeaderValue::from_str(&config.secret).map_err(|e| format!("edge secret: {e}"))?;
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(60))
            .pool_max_idle_per_host(1024)
            .build(connector);
        Ok(Arc::new(Edge {
            config,
            secret,
            client,
            openapi_yaml: Static::new(crate::api::OPENAPI_YAML, "application/yaml"),
            openapi_json: Static::new(crate::api::OPENAPI_JSON, "application/json"),
        }))
    }

    /// Serves `listener` until `shutdown` resolves, then lets open connections finish their
    /// requests (for up to `grace`).
    pub async fn serve(
        self: Arc<Self>,
        listener: TcpListener,
        shutdown: impl std::future::Future<Output = ()>,
        grace: Duration,
    ) {
        let mut builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
        builder.http1().timer(TokioTimer::new()).header_read_timeout(Duration::from_secs(10));
        let graceful = hyper_util::server::graceful::GracefulShutdown::new();
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                accepted = listener.accept() => {
                    let (stream, peer) = match accepted {
                        Ok(accepted) => accepted,
                        Err(e) => {
                            // Out of file descriptors and the like: back off, keep serving.
                            warn!(self.config.log, "accept failed"; "error" => %e);
                            tokio::time::sleep(Duration::from_millis(50)).await;
                            continue;
                        }
                    };
                    let _ = stream.set_nodelay(true);
                    let edge = Arc::clone(&self);
                    let service = hyper::service::service_fn(move |request| {
                        let edge = Arc::clone(&edge);
                        async move { Ok::<_, Infallible>(edge.handle(request, peer).await) }
                    });
                    let connection = builder.serve_connection(TokioIo::new(stream), service).into_owned();
                    let connection = graceful.watch(connection);
                    tokio::spawn(async move {
                        let _ = connection.await;
                    });
                }
                () = &mut shutdown => break,
            }
        }
        drop(listener);
        if tokio::time::timeout(grace, graceful.shutdown()).await.is_err() {
            warn!(self.config.log, "connections still open after the grace period");
        }
    }

    /// Answers one request.
    pub async fn handle(&self, request: Request<Incoming>, peer: SocketAddr) -> Response<EdgeBody> {
        let started = Instant::now();
        let request_id = request
            .headers()
            .get(REQUEST_ID_HEADER)
            .and_then(|v| v.to_str().ok())
            .filter(|id| valid_request_id(id))
            .map(str::to_string)
            .unwrap_or_else(|| uuid::Uuid::new_v4().simple().to_string());
        let method = request.method().clone();
        let path = request.uri().path().to_string();
        let origin = request.headers().get(header::ORIGIN).cloned();
        let accept = request.headers().get(header::ACCEPT).cloned();

        let client = self.client_ip(peer.ip(), request.headers());
        let mut response = self.route(request, client, &request_id).await;
        if response.status().as_u16() >= 400 {
            response = self.as_problem(response, &request_id, &path, &method, accept.as_ref()).await;
        }
        let caller = response.headers_mut().remove(CALLER_HEADER);
        self.decorate(response.headers_mut(), &request_id, origin.as_ref());

        info!(self.config.log, "request";
            "method" => method.as_str(),
            "path" => &path,
            "status" => response.status().as_u16(),
            "latency_us" => started.elapsed().as_micros() as u64,
            "request_id" => &request_id,
            "peer" => %client,
            "caller" => caller.as_ref().and_then(|v| v.to_str().ok()).unwrap_or("-"),
        );
        response
    }

    /// The client's address: the peer, or, when the peer is a trusted proxy, the nearest
    /// untrusted address of `X-Forwarded-For` (entries a client wrote itself are further left).
    fn client_ip(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let trusted = |ip: &IpAddr| self.config.trusted_proxies.iter().any(|net| net.contains(ip));
        if !trusted(&peer) {
            return peer;
        }
        let forwarded: Vec<IpAddr> = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .filter_map(|entry| entry.trim().parse().ok())
            .collect();
        forwarded.iter().rev().find(|ip| !trusted(ip)).or(forwarded.first()).copied().unwrap_or(peer)
    }

    async fn route(
        &self,
        request: Request<Incoming>,
        client: IpAddr,
        request_id: &str,
    ) -> Response<EdgeBody> {
        let method = request.method().clone();
        let path = request.uri().path();
        if method == Method::GET || method == Method::HEAD {
            if path == "/openapi.yaml" {
                return serve_static(&self.openapi_yaml, request.headers());
            }
            if path == "/openapi.json" {
                return serve_static(&self.openapi_json, request.headers());
            }
        }
        if method == Method::OPTIONS {
            if let Some(preflight) = self.preflight(request.headers()) {
                return preflight;
            }
        }
        let declared_length = request
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if declared_length.is_some_and(|length| length > self.config.max_body_bytes) {
            return problem(
                Kind::PayloadTooLarge,
                format!("the request body exceeds the limit of {} bytes", self.config.max_body_bytes),
            );
        }

        let (mut parts, body) = request.into_parts();
        let path_and_query = parts.uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
        parts.uri = match Uri::builder()
            .scheme("http")
            .authority(self.config.backend.to_string())
            .path_and_query(path_and_query)
            .build()
        {
            Ok(uri) => uri,
            Err(_) => return problem(Kind::BadRequest, "the request target is not a valid path"),
        };
        if method == Method::HEAD {
            parts.method = Method::GET;
        }
        strip_hop_by_hop(&mut parts.headers);
        parts.headers.retain_internal();
        parts.headers.insert(HeaderName::from_static(EDGE_SECRET_HEADER), self.secret.clone());
        parts.headers.insert(HeaderName::from_static(REQUEST_ID_HEADER), header_value(request_id));
        parts.headers.insert(HeaderName::from_static(PEER_HEADER), header_value(&client.to_string()));
        let forwarded = Request::from_parts(parts, body);

        let response = match tokio::time::timeout(self.config.request_timeout, self.client.request(forwarded))
            .await
        {
            Ok(Ok(response)) => response,
            Ok(Err(e)) => {
                warn!(self.config.log, "the API server did not answer"; "request_id" => request_id, "error" => %e);
                return problem(Kind::Internal, "an unexpected error occurred");
            }
            Err(_) => return problem(Kind::Unavailable, "the request took too long; try again later"),
        };
        let mut response = response.map(Either::Left);
        if response.status() == StatusCode::METHOD_NOT_ALLOWED {
            // Dropshot sends one Allow line per method; one list reads better.
            let allowed = join_values(response.headers(), header::ALLOW);
            if method == Method::OPTIONS {
                return options_answer(&allowed);
            }
            response.headers_mut().insert(header::ALLOW, header_value(&allowed));
        }
        response
    }

    /// A CORS preflight, answered from configuration; `None` when the request is not one.
    fn preflight(&self, headers: &HeaderMap) -> Option<Response<EdgeBody>> {
        let origin = headers.get(header::ORIGIN)?;
        headers.get(header::ACCESS_CONTROL_REQUEST_METHOD)?;
        let mut response = empty(StatusCode::NO_CONTENT);
        if self.origin_allowed(origin) {
            let out = response.headers_mut();
            out.insert(
                header::ACCESS_CONTROL_ALLOW_METHODS,
                HeaderValue::from_static("GET, HEAD, POST, PUT, PATCH, DELETE"),
            );
            if let Some(requested) = headers.get(header::ACCESS_CONTROL_REQUEST_HEADERS) {
                out.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, requested.clone());
            }
            out.insert(header::ACCESS_CONTROL_MAX_AGE, HeaderValue::from_static("600"));
        }
        Some(response)
    }

    fn origin_allowed(&self, origin: &HeaderValue) -> bool {
        self.config
            .cors_origins
            .iter()
            .any(|allowed| allowed == "*" || allowed.as_bytes() == origin.as_bytes())
    }

    /// Turns any error response into a problem with `request_id` and `instance`.
    async fn as_problem(
        &self,
        response: Response<EdgeBody>,
        request_id: &str,
        path: &str,
        method: &Method,
        accept: Option<&HeaderValue>,
    ) -> Response<EdgeBody> {
        let status = response.status();
        let (mut parts, body) = response.into_parts();
        let is_json =
            parts.headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).is_some_and(|ct| {
                ct.starts_with("application/json") || ct.starts_with("application/problem+json")
            });
        let bytes = if is_json {
            http_body_util::Limited::new(body, 1 << 20).collect().await.map(|c| c.to_bytes()).ok()
        } else {
            None
        };
        // Dropshot gzips bodies over 512 bytes when the client accepts it; look inside.
        let gzipped = parts
            .headers
            .get(header::CONTENT_ENCODING)
            .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"gzip"));
        let bytes = match (bytes, gzipped) {
            (Some(bytes), true) => gunzip(&bytes),
            (bytes, _) => bytes.map(|b| b.to_vec()),
        };
        let mut value: Option<serde_json::Value> =
            bytes.as_deref().and_then(|b| serde_json::from_slice(b).ok());
        // Headers the API's error could not set itself (see `crate::error::ApiError`).
        if let Some(serde_json::Value::Object(headers)) = value
            .as_mut()
            .and_then(|v| v.as_object_mut())
            .and_then(|map| map.remove(crate::error::HEADERS_KEY))
        {
            for (name, value) in headers {
                let allowed = ERROR_HEADERS.contains(&name.as_str());
                if let (true, Some(value)) = (allowed, value.as_str()) {
                    if let Ok(name) = HeaderName::from_bytes(name.as_bytes()) {
                        parts.headers.insert(name, header_value(value));
                    }
                }
            }
        }
        let mut problem = match value {
            // Ours already (from the API's error type, or made here).
            Some(value) if value.get("title").is_some() && value.get("type").is_some() => {
                serde_json::from_value::<Problem>(value)
                    .unwrap_or_else(|_| Kind::from_status(status.as_u16()).problem("an error occurred"))
            }
            // Dropshot's router: unknown route, method not allowed, bad path encoding.
            other => {
                let kind = Kind::from_status(status.as_u16());
                let detail = match kind {
                    Kind::NotFound => format!("no resource at {path}"),
                    Kind::MethodNotAllowed => {
                        format!("{method} is not allowed on {path}; the Allow header lists what is")
                    }
                    _ => other
                        .as_ref()
                        .and_then(|v| v.get("message"))
                        .and_then(|m| m.as_str())
                        .filter(|_| status.as_u16() < 500)
                        .unwrap_or(kind.title())
                        .to_string(),
                };
                kind.problem(detail)
            }
        };
        problem.request_id = Some(request_id.to_string());
        problem.instance = Some(path.to_string());
        let body = serde_json::to_vec(&problem).unwrap_or_default();
        parts.headers.remove(header::CONTENT_LENGTH);
        parts.headers.remove(header::CONTENT_ENCODING);
        parts.headers.remove(header::TRANSFER_ENCODING);
        parts.headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(problem_content_type(accept)));
        Response::from_parts(parts, Either::Right(Full::new(Bytes::from(body))))
    }

    /// Headers every response carries.
    fn decorate(&self, headers: &mut HeaderMap, request_id: &str, origin: Option<&HeaderValue>) {
        headers.insert(HeaderName::from_static(REQUEST_ID_HEADER), header_value(request_id));
        headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
        headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
        headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
        headers
            .entry(header::CONTENT_SECURITY_POLICY)
            .or_insert(HeaderValue::from_static("default-src 'none'; frame-ancestors 'none'"));
        if let Some(origin) = origin.filter(|o| self.origin_allowed(o)) {
            headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone());
            headers.insert(header::ACCESS_CONTROL_EXPOSE_HEADERS, HeaderValue::from_static(EXPOSED_HEADERS));
            headers.append(header::VARY, HeaderValue::from_static("Origin"));
        }
    }
}

trait RetainInternal {
    /// Drops client-sent headers that only the edge may set.
    fn retain_internal(&mut self);
}

impl RetainInternal for HeaderMap {
    fn retain_internal(&mut self) {
        for name in [EDGE_SECRET_HEADER, PEER_HEADER, CALLER_HEADER] {
            self.remove(name);
        }
    }
}

/// Whether a client's request id is safe to log and echo: short, and plain characters.
fn valid_request_id(id: &str) -> bool {
    (1..=128).contains(&id.len())
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'))
}

fn header_value(text: &str) -> HeaderValue {
    HeaderValue::from_str(text).unwrap_or_else(|_| HeaderValue::from_static("-"))
}

fn strip_hop_by_hop(headers: &mut HeaderMap) {
    let listed: Vec<HeaderName> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|name| HeaderName::from_bytes(name.trim().as_bytes()).ok())
        .collect();
    for name in listed {
        headers.remove(name);
    }
    for name in HOP_BY_HOP {
        headers.remove(*name);
    }
}

/// Every value of a header, as one comma-separated list.
fn join_values(headers: &HeaderMap, name: HeaderName) -> String {
    headers.get_all(name).iter().filter_map(|v| v.to_str().ok()).collect::<Vec<_>>().join(", ")
}

/// `OPTIONS` on a resource: 204 and what it allows (dropshot's 405 told us).
fn options_answer(allow: &str) -> Response<EdgeBody> {
    let mut methods: Vec<String> =
        allow.split(',').map(|m| m.trim().to_string()).filter(|m| !m.is_empty()).collect();
    if methods.iter().any(|m| m == "GET") {
        methods.push("HEAD".into());
    }
    methods.push("OPTIONS".into());
    let mut response = empty(StatusCode::NO_CONTENT);
    response.headers_mut().insert(header::ALLOW, header_value(&methods.join(", ")));
    response
}

fn serve_static(document: &Static, headers: &HeaderMap) -> Response<EdgeBody> {
    let unchanged = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| crate::http::conditional::none_match(v, &document.etag));
    let mut response = if unchanged {
        empty(StatusCode::NOT_MODIFIED)
    } else {
        let mut response = Response::new(Either::Right(Full::new(document.body.clone())));
        response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(document.content_type));
        response
    };
    response.headers_mut().insert(header::ETAG, header_value(&document.etag));
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

fn empty(status: StatusCode) -> Response<EdgeBody> {
    let mut response = Response::new(Either::Right(Full::new(Bytes::new())));
    *response.status_mut() = status;
    response
}

/// A problem made by the edge itself (completed by [`Edge::as_problem`]).
fn problem(kind: Kind, detail: impl Into<String>) -> Response<EdgeBody> {
    let body = serde_json::to_vec(&kind.problem(detail)).unwrap_or_default();
    let mut response = Response::new(Either::Right(Full::new(Bytes::from(body))));
    *response.status_mut() = StatusCode::from_u16(kind.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

fn gunzip(bytes: &[u8]) -> Option<Vec<u8>> {
    use std::io::Read;
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(bytes).take(1 << 20).read_to_end(&mut out).ok()?;
    Some(out)
}

/// `application/problem+json`, unless the client accepts `application/json` but not that.
fn problem_content_type(accept: Option<&HeaderValue>) -> &'static str {
    const PROBLEM: &str = "application/problem+json";
    let Some(accept) = accept.and_then(|v| v.to_str().ok()) else { return PROBLEM };
    let ranges: Vec<&str> = accept
        .split(',')
        .filter(|range| {
            !range.split(';').skip(1).any(|p| matches!(p.trim(), "q=0" | "q=0.0" | "q=0.00" | "q=0.000"))
        })
        .map(|range| range.split(';').next().unwrap_or_default().trim())
        .collect();
    let accepts = |wanted: &str| ranges.iter().any(|r| r.eq_ignore_ascii_case(wanted));
    if accepts(PROBLEM) || accepts("application/*") || accepts("*/*") || !accepts("application/json") {
        PROBLEM
    } else {
        "application/json"
    }
}

/// The client address the edge determined for a request (the peer, or the client behind a
/// trusted proxy).
pub fn peer_ip(headers: &HeaderMap) -> Option<IpAddr> {
    headers.get(PEER_HEADER)?.to_str().ok()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn problems_are_problem_json_unless_only_json_is_accepted() {
        let h = |s: &'static str| HeaderValue::from_static(s);
        assert_eq!(problem_content_type(None), "application/problem+json");
        assert_eq!(problem_content_type(Some(&h("*/*"))), "application/problem+json");
        assert_eq!(problem_content_type(Some(&h("application/json"))), "application/json");
        assert_eq!(
            problem_content_type(Some(&h("application/json, application/problem+json"))),
            "application/problem+json"
        );
        assert_eq!(
            problem_content_type(Some(&h("application/problem+json;q=0, application/json"))),
            "application/json"
        );
        assert_eq!(problem_content_type(Some(&h("text/html"))), "application/problem+json");
    }

    #[test]
    fn request_ids_from_clients_are_kept_only_when_plain() {
        assert!(valid_request_id("abc-123_x.y:z"));
        assert!(!valid_request_id(""));
        assert!(!valid_request_id("has space"));
        assert!(!valid_request_id("line\nbreak"));
        assert!(!valid_request_id(&"a".repeat(129)));
    }

    #[test]
    fn options_lists_head_with_get_and_options_itself() {
        let response = options_answer("GET, POST");
        assert_eq!(response.status(), StatusCode::NO_CONTENT);
        assert_eq!(response.headers()[header::ALLOW], "GET, POST, HEAD, OPTIONS");
    }
}
