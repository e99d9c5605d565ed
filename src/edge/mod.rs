//! The edge: the public listener, and what happens to every request around dropshot's router,
//! in the same process and on the same hyper connection.
//!
//! Dropshot routes and runs the endpoints (through the patched `RequestHandler`, see
//! `vendor/README.md`); everything cross-cutting happens here, once:
//!
//! * the request id: a valid `X-Request-Id` from the client is kept, otherwise one is made; it is
//!   echoed, logged and put into every problem;
//! * the request's [`scope`], set around dropshot's handling, through which the layers below
//!   hand back what they learned for the answer (operation, caller, headers);
//! * every error is an RFC 9457 problem (`application/problem+json`, or `application/json` for
//!   clients that accept only that) — those of dropshot's router (unknown route, wrong method)
//!   and of hyper's parser (`wire`) included;
//! * `HEAD` for every `GET`, `OPTIONS` (the `Allow` list, and CORS preflights from configuration);
//! * limits: the body (413 from `Content-Length` before reading), the request target (414), a
//!   time limit per request (503);
//! * security headers and CORS headers on every response; one access-log line per request;
//! * the spec itself at `GET /openapi.yaml` and `GET /openapi.json` (gzip when accepted).
//!
//! Requests that change something (not `GET`/`HEAD`/`OPTIONS`) run in a task of their own, so
//! that a client that goes away does not cut a write in half; reads are cancelled with their
//! connection.

pub mod scope;
mod wire;

use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use dropshot::Body;
use futures::FutureExt;
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::{Method, Request, Response, StatusCode};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use slog::{info, warn, Logger};
use tokio::net::TcpListener;

use crate::error::Kind;
use crate::http::ServerState;
use scope::{Answer, Scope};

/// The request id, from the client or made here.
pub const REQUEST_ID_HEADER: HeaderName = HeaderName::from_static("x-request-id");

/// Headers on every response (a response that sets its own CSP keeps it).
pub(crate) const SECURITY_HEADERS: [(HeaderName, HeaderValue); 4] = [
    (header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")),
    (header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")),
    (header::REFERRER_POLICY, HeaderValue::from_static("no-referrer")),
    (header::CONTENT_SECURITY_POLICY, HeaderValue::from_static("default-src 'none'; frame-ancestors 'none'")),
];

/// Response headers a browser script may read (CORS).
const EXPOSED_HEADERS: &str =
    "ETag, Last-Modified, Location, Link, X-Request-Id, Retry-After, RateLimit-Limit, \
                               RateLimit-Remaining, RateLimit-Reset, WWW-Authenticate, Deprecation, Sunset";

/// The longest request target accepted (hyper's own limit is 64 KiB).
const MAX_TARGET_BYTES: usize = 8 * 1024;

/// The largest request head (request line and headers) hyper reads; 431 beyond.
const MAX_HEAD_BYTES: usize = 64 * 1024;

/// What the edge needs to know.
pub struct EdgeConfig {
    /// The largest request body any operation accepts (each operation checks its own limit).
    pub max_body_bytes: u64,
    pub request_timeout: Duration,
    pub cors_origins: Vec<String>,
    /// Proxies whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// HTTPS: connections are TLS, and responses carry `Strict-Transport-Security`.
    pub tls: Option<Arc<rustls::ServerConfig>>,
    pub log: Logger,
}

/// How long a client may take to complete the TLS handshake.
const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// The edge's state, shared by its connections.
pub struct Edge {
    handler: dropshot::RequestHandler<ServerState>,
    config: EdgeConfig,
    openapi_yaml: Static,
    openapi_json: Static,
    /// The requests running in tasks of their own (writes), waited for at shutdown.
    tasks: tokio_util::task::TaskTracker,
}

impl Edge {
    pub fn new(handler: dropshot::RequestHandler<ServerState>, config: EdgeConfig) -> Arc<Edge> {
        Arc::new(Edge {
            handler,
            config,
            openapi_yaml: Static::new(crate::api::OPENAPI_YAML, "application/yaml"),
            openapi_json: Static::new(crate::api::OPENAPI_JSON, "application/json"),
            tasks: tokio_util::task::TaskTracker::new(),
        })
    }

    /// The API's shared state (dropshot's server context).
    pub fn state(&self) -> &ServerState {
        self.handler.app_private()
    }

    /// Serves `listener` until `shutdown` resolves; then stops accepting, lets open requests
    /// finish for up to `grace`, and closes whatever is still open.
    pub async fn serve(
        self: Arc<Self>,
        listener: TcpListener,
        shutdown: impl std::future::Future<Output = ()>,
        grace: Duration,
    ) {
        let mut builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
        builder
            .http1()
            .timer(TokioTimer::new())
            .header_read_timeout(Duration::from_secs(10))
            .max_buf_size(MAX_HEAD_BYTES);
        builder.http2().timer(TokioTimer::new()).max_header_list_size(MAX_HEAD_BYTES as u32);
        let graceful = hyper_util::server::graceful::GracefulShutdown::new();
        let mut connections = tokio::task::JoinSet::new();
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
                    let log = self.config.log.clone();
                    match self.config.tls.clone() {
                        None => {
                            let io = TokioIo::new(wire::Wire::new(stream, peer, log));
                            let connection = graceful.watch(builder.serve_connection(io, service).into_owned());
                            connections.spawn(async move {
                                let _ = connection.await;
                            });
                        }
                        Some(tls) => {
                            // The handshake runs in the connection's task: a slow client holds
                            // up no one else.
                            let builder = builder.clone();
                            let watcher = graceful.watcher();
                            connections.spawn(async move {
                                let acceptor = tokio_rustls::TlsAcceptor::from(tls);
                                let stream = match tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                                    Ok(Ok(stream)) => stream,
                                    Ok(Err(e)) => {
                                        slog::debug!(log, "TLS handshake failed"; "peer" => %peer, "error" => %e);
                                        return;
                                    }
                                    Err(_) => return,
                                };
                                let io = TokioIo::new(wire::Wire::new(stream, peer, log));
                                let _ = watcher.watch(builder.serve_connection(io, service).into_owned()).await;
                            });
                        }
                    }
                    while connections.try_join_next().is_some() {}
                }
                () = &mut shutdown => break,
            }
        }
        drop(listener);
        let deadline = tokio::time::Instant::now() + grace;
        self.tasks.close();
        let drained = async {
            graceful.shutdown().await;
            self.tasks.wait().await;
        };
        if tokio::time::timeout_at(deadline, drained).await.is_err() {
            warn!(self.config.log, "requests still open after the grace period; closing their connections");
            connections.abort_all();
        }
        while connections.join_next().await.is_some() {}
    }

    /// Answers one request.
    pub async fn handle(self: Arc<Self>, request: Request<Incoming>, peer: SocketAddr) -> Response<Body> {
        let started = Instant::now();
        let _in_flight = self.state().metrics.begin();
        let request_id = request
            .headers()
            .get(REQUEST_ID_HEADER)
            .and_then(|v| v.to_str().ok())
            .filter(|id| valid_request_id(id))
            .map_or_else(new_request_id, str::to_string);
        let method = request.method().clone();
        let path = request.uri().path().to_string();
        let origin = request.headers().get(header::ORIGIN).cloned();
        let accept = request.headers().get(header::ACCEPT).cloned();
        let client = self.client_ip(peer.ip(), request.headers());

        let (mut response, answer) = self.route(request, peer, client, &request_id, &path).await;
        let status = response.status();
        if status.as_u16() >= 400 && !answer.problem {
            response = self.router_problem(response, &method, &path, &request_id);
        }
        if status.as_u16() >= 400 {
            let problem = HeaderValue::from_static(problem_content_type(accept.as_ref()));
            response.headers_mut().insert(header::CONTENT_TYPE, problem);
        }
        let headers = response.headers_mut();
        for (name, value) in answer.headers {
            // Links add up (a page's `next` and a deprecated operation's successor); the
            // others are the policy's word on the matter.
            if name == header::LINK {
                headers.append(name, value);
            } else {
                headers.insert(name, value);
            }
        }
        if let Some(decision) = answer.rate_limit {
            decision.write_headers(headers);
        }
        self.decorate(headers, &request_id, origin.as_ref());

        let elapsed = started.elapsed();
        self.state().metrics.observe(answer.operation, &method, response.status().as_u16(), elapsed);
        info!(self.config.log, "request";
            "method" => method.as_str(),
            "path" => &path,
            "status" => response.status().as_u16(),
            "latency_us" => elapsed.as_micros() as u64,
            "request_id" => &request_id,
            "peer" => scope::ip_text("", client),
            "caller" => answer.caller.map_or_else(|| "-".to_string(), |id| format!("user:{id}")),
            "operation" => answer.operation.map_or("-", |op| op.id),
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

    /// The answer, and what the layers below learned for it.
    async fn route(
        &self,
        mut request: Request<Incoming>,
        peer: SocketAddr,
        client: IpAddr,
        request_id: &str,
        path: &str,
    ) -> (Response<Body>, Answer) {
        let method = request.method().clone();
        let own =
            |kind: Kind, detail: String| (edge_problem(kind, &detail, request_id, path), Answer::problem());
        let gzip = accepts_gzip(request.headers());
        if method == Method::GET || method == Method::HEAD {
            if path == "/openapi.yaml" {
                return (self.openapi_yaml.serve(request.headers(), false), Answer::default());
            }
            if path == "/openapi.json" {
                return (self.openapi_json.serve(request.headers(), gzip), Answer::default());
            }
        }
        if method == Method::OPTIONS {
            if let Some(preflight) = self.preflight(request.headers()) {
                return (preflight, Answer::default());
            }
        }
        let target = request.uri().path_and_query().map_or(0, |p| p.as_str().len());
        if target > MAX_TARGET_BYTES {
            return own(Kind::UriTooLong, format!("the request target exceeds {MAX_TARGET_BYTES} bytes"));
        }
        let declared_length = request
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if declared_length.is_some_and(|length| length > self.config.max_body_bytes) {
            let mut answer = own(
                Kind::PayloadTooLarge,
                format!("the request body exceeds the limit of {} bytes", self.config.max_body_bytes),
            );
            // The body is not read: the connection closes (lingering, see `wire`).
            answer.0.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
            return answer;
        }
        if method == Method::HEAD {
            *request.method_mut() = Method::GET;
        }

        let accept = request.headers().get(header::ACCEPT).cloned();
        let scope =
            Scope::new(request_id.to_string(), client, path.to_string(), accept, self.config.log.clone());
        // Boxed: the handler's future is tens of kilobytes (every extractor's and handler's state
        // inline), and each move of it below (into `work`, the unwind guard, the timeout) was a
        // memcpy of all of it — about 45,000 instructions per request, a quarter of a GET.
        let handled =
            Box::pin(scope.run(self.handler.handle_with_request_id(request, peer, request_id.to_string())));
        let log = self.config.log.clone();
        // An idempotency key is settled in the same task as the request (a write runs to the end
        // even when its client has gone): its answer kept, or the key released.
        let work = async move {
            let (result, scope) = handled.await;
            let result = match (scope.take_idempotency(), result) {
                (Some(pending), Ok(response)) => {
                    Ok(crate::http::idempotency::settle(pending, response, gzip, &log).await)
                }
                (Some(pending), Err(error)) => {
                    let failed = empty(StatusCode::INTERNAL_SERVER_ERROR);
                    let _ = crate::http::idempotency::settle(pending, failed, gzip, &log).await;
                    Err(error)
                }
                (None, result) => result,
            };
            (result, scope)
        };
        let safe = matches!(method, Method::GET | Method::HEAD | Method::OPTIONS);
        let timeout = self.config.request_timeout;
        let outcome = if safe {
            tokio::time::timeout(timeout, AssertUnwindSafe(Box::pin(work)).catch_unwind())
                .await
                .map(|done| done.map_err(|_| ()))
        } else {
            // Runs to completion even when the client goes away, or the time limit passes.
            let task = self.tasks.spawn(Box::pin(work));
            tokio::time::timeout(timeout, task).await.map(|done| done.map_err(|_| ()))
        };
        match outcome {
            Ok(Ok((Ok(response), scope))) => (response, scope.take_answer()),
            Ok(Ok((Err(error), _))) => {
                warn!(self.config.log, "dropshot failed a request"; "request_id" => request_id, "error" => %error);
                own(Kind::Internal, "an unexpected error occurred".into())
            }
            Ok(Err(())) => {
                slog::error!(self.config.log, "a handler panicked"; "request_id" => request_id, "path" => path);
                own(Kind::Internal, "an unexpected error occurred".into())
            }
            Err(_) => {
                let mut answer = own(Kind::Unavailable, "the request took too long; try again later".into());
                answer.0.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
                answer
            }
        }
    }

    /// An error answered without the API's code: dropshot's router (no such route, a method
    /// the route lacks, a path it cannot decode) or dropshot itself. It becomes a problem.
    fn router_problem(
        &self,
        response: Response<Body>,
        method: &Method,
        path: &str,
        request_id: &str,
    ) -> Response<Body> {
        let status = response.status();
        let kind = Kind::from_status(status.as_u16());
        let detail = match kind {
            Kind::NotFound => format!("no resource at {path}"),
            Kind::MethodNotAllowed => {
                format!("{method} is not allowed on {path}; the Allow header lists what is")
            }
            Kind::BadRequest => "the request's path could not be decoded".to_string(),
            _ => kind.title().to_string(),
        };
        let mut out = edge_problem(kind, &detail, request_id, path);
        if status == StatusCode::METHOD_NOT_ALLOWED {
            let allowed = join_values(response.headers(), header::ALLOW);
            if method == Method::OPTIONS {
                return options_answer(&allowed);
            }
            out.headers_mut().insert(header::ALLOW, header_value(&allowed));
        }
        if status.is_server_error() {
            slog::error!(self.config.log, "dropshot answered an error of its own"; "status" => status.as_u16(), "path" => path);
        }
        out
    }

    /// A CORS preflight, answered from configuration; `None` when the request is not one.
    fn preflight(&self, headers: &HeaderMap) -> Option<Response<Body>> {
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

    /// Headers every response carries.
    fn decorate(&self, headers: &mut HeaderMap, request_id: &str, origin: Option<&HeaderValue>) {
        headers.insert(REQUEST_ID_HEADER, header_value(request_id));
        for (name, value) in SECURITY_HEADERS {
            // A document's own policy (the docs page's) stays.
            if name == header::CONTENT_SECURITY_POLICY {
                headers.entry(name).or_insert(value);
            } else {
                headers.insert(name, value);
            }
        }
        if self.config.tls.is_some() {
            headers.insert(header::STRICT_TRANSPORT_SECURITY, HeaderValue::from_static("max-age=31536000"));
        }
        if !self.config.cors_origins.is_empty() {
            // Whether the CORS headers are there depends on Origin: shared caches must know.
            headers.append(header::VARY, HeaderValue::from_static("Origin"));
            if let Some(origin) = origin.filter(|o| self.origin_allowed(o)) {
                headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone());
                headers
                    .insert(header::ACCESS_CONTROL_EXPOSE_HEADERS, HeaderValue::from_static(EXPOSED_HEADERS));
            }
        }
    }
}

/// A new request id: 128 random bits, hex.
pub fn new_request_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// Whether a client's request id is safe to log and echo: short, and plain characters.
fn valid_request_id(id: &str) -> bool {
    (1..=128).contains(&id.len())
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'))
}

fn header_value(text: &str) -> HeaderValue {
    HeaderValue::from_str(text).unwrap_or_else(|_| HeaderValue::from_static("-"))
}

/// Every value of a header, as one comma-separated list.
fn join_values(headers: &HeaderMap, name: HeaderName) -> String {
    headers.get_all(name).iter().filter_map(|v| v.to_str().ok()).collect::<Vec<_>>().join(", ")
}

/// `OPTIONS` on a resource: 204 and what it allows (dropshot's 405 told us).
fn options_answer(allow: &str) -> Response<Body> {
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

fn empty(status: StatusCode) -> Response<Body> {
    let mut response = Response::new(Body::empty());
    *response.status_mut() = status;
    response
}

/// A problem answered by the edge itself.
fn edge_problem(kind: Kind, detail: &str, request_id: &str, path: &str) -> Response<Body> {
    let mut problem = kind.problem(detail);
    problem.request_id = Some(request_id.to_string());
    problem.instance = Some(path.to_string());
    let body = serde_json::to_vec(&problem).unwrap_or_default();
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = StatusCode::from_u16(kind.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    response
}

/// The media ranges of an `Accept` header, without their parameters; a range with `q=0` (which
/// the client refuses) is left out. No header, or one that is not text, lists nothing.
pub(crate) struct MediaRanges<'a>(Vec<&'a str>);

impl<'a> MediaRanges<'a> {
    pub(crate) fn of(accept: Option<&'a HeaderValue>) -> Self {
        let Some(accept) = accept.and_then(|v| v.to_str().ok()) else { return MediaRanges(Vec::new()) };
        MediaRanges(
            accept
                .split(',')
                .filter(|range| {
                    !range
                        .split(';')
                        .skip(1)
                        .any(|p| matches!(p.trim(), "q=0" | "q=0.0" | "q=0.00" | "q=0.000"))
                })
                .map(|range| range.split(';').next().unwrap_or_default().trim())
                .collect(),
        )
    }

    /// Whether `range` is listed, as written (`*/*` does not list `text/html`).
    pub(crate) fn lists(&self, range: &str) -> bool {
        self.0.iter().any(|r| r.eq_ignore_ascii_case(range))
    }
}

/// `application/problem+json`, unless the client accepts `application/json` but not that.
fn problem_content_type(accept: Option<&HeaderValue>) -> &'static str {
    const PROBLEM: &str = "application/problem+json";
    let ranges = MediaRanges::of(accept);
    let accepts = |wanted: &str| ranges.lists(wanted);
    if accepts(PROBLEM) || accepts("application/*") || accepts("*/*") || !accepts("application/json") {
        PROBLEM
    } else {
        "application/json"
    }
}

/// Whether the client accepts a gzip-encoded response.
fn accepts_gzip(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|coding| {
            let mut parts = coding.split(';');
            let name = parts.next().unwrap_or_default().trim();
            let refused = parts.any(|p| matches!(p.trim(), "q=0" | "q=0.0" | "q=0.00" | "q=0.000"));
            (name.eq_ignore_ascii_case("gzip") || name == "*") && !refused
        })
}

/// A document served as it is, with a strong ETag, and gzip-compressed once for clients that
/// accept it.
struct Static {
    body: Bytes,
    gzipped: Bytes,
    content_type: &'static str,
    etag: String,
}

impl Static {
    fn new(body: &'static str, content_type: &'static str) -> Static {
        use std::io::Write;
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        let gzipped = encoder.write_all(body.as_bytes()).and_then(|()| encoder.finish()).unwrap_or_default();
        Static {
            body: Bytes::from_static(body.as_bytes()),
            gzipped: Bytes::from(gzipped),
            content_type,
            etag: format!("\"{}\"", crate::http::conditional::digest(body.as_bytes())),
        }
    }

    fn serve(&self, headers: &HeaderMap, gzip: bool) -> Response<Body> {
        let unchanged = headers
            .get(header::IF_NONE_MATCH)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| crate::http::conditional::none_match(v, &self.etag));
        let mut response = if unchanged {
            empty(StatusCode::NOT_MODIFIED)
        } else {
            let body = if gzip && !self.gzipped.is_empty() { &self.gzipped } else { &self.body };
            let mut response = Response::new(Body::from(body.clone()));
            let out = response.headers_mut();
            out.insert(header::CONTENT_TYPE, HeaderValue::from_static(self.content_type));
            if gzip && !self.gzipped.is_empty() {
                out.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
            }
            response
        };
        let out = response.headers_mut();
        out.insert(header::ETAG, header_value(&self.etag));
        out.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
        out.insert(header::VARY, HeaderValue::from_static("Accept-Encoding"));
        response
    }
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

    #[test]
    fn gzip_is_used_only_when_accepted() {
        let with = |v: &'static str| {
            let mut h = HeaderMap::new();
            h.insert(header::ACCEPT_ENCODING, HeaderValue::from_static(v));
            h
        };
        assert!(accepts_gzip(&with("gzip, deflate")));
        assert!(accepts_gzip(&with("br;q=1.0, GZIP;q=0.5")));
        assert!(!accepts_gzip(&with("gzip;q=0")));
        assert!(!accepts_gzip(&with("identity")));
        assert!(!accepts_gzip(&HeaderMap::new()));
    }
}
