//! Metrics in the Prometheus text format (the `prometheus` crate): requests and their latency
//! by operation, method and status class, requests in flight, the database pools, rate-limit
//! rejections by class, writes committed in groups, build information.
//!
//! The edge records every request once it is answered ([`Metrics::observe`]). The label values
//! are resolved once, at start, into handles per operation and status class, so that a request
//! costs a lookup of its operation and two atomic updates: no label formatting, no allocation.
//! The pools and the grouped writes are read when the metrics are scraped.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use http::Method;
use prometheus::{
    Encoder, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts,
    Registry, TextEncoder,
};

use crate::http::policy::OperationMeta;
use crate::store::Store;

/// The media type of the text format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// The latency buckets, in seconds: from half a millisecond to the longest sensible request.
const LATENCY_BUCKETS: [f64; 14] =
    [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];

/// The status classes, as labelled.
const CLASSES: [&str; 5] = ["1xx", "2xx", "3xx", "4xx", "5xx"];

/// The methods of requests no operation answered (the router's 404s, the edge's own answers).
const METHODS: [&str; 8] = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "other"];

/// The label of requests no operation answered.
const NO_OPERATION: &str = "none";

/// The handles of one operation and method, per status class.
struct Handles {
    requests: [IntCounter; 5],
    latency: [Histogram; 5],
}

impl Handles {
    fn new(requests: &IntCounterVec, latency: &HistogramVec, operation: &str, method: &str) -> Handles {
        Handles {
            requests: CLASSES.map(|class| requests.with_label_values(&[operation, method, class])),
            latency: CLASSES.map(|class| latency.with_label_values(&[operation, method, class])),
        }
    }
}

/// The server's metrics.
pub struct Metrics {
    registry: Registry,
    operations: HashMap<&'static str, Handles>,
    unrouted: [Handles; METHODS.len()],
    in_flight: IntGauge,
    rate_limited: HashMap<String, IntCounter>,
    rate_limited_vec: IntCounterVec,
    pool_size: IntGaugeVec,
    pool_idle: IntGaugeVec,
    pool_max: IntGaugeVec,
    write_groups: IntCounter,
    grouped_writes: IntCounter,
    inline_reads: IntCounterVec,
    /// Held by a scrape while it brings the counters of the store's writes up to date.
    scrape: std::sync::Mutex<()>,
    /// Whether the public listener serves them (not when they have an address of their own).
    public: bool,
}

impl Metrics {
    /// The metrics of these operations and rate-limit classes; `public`: served on the public
    /// listener at `GET /metrics`.
    pub fn new<'a>(
        operations: &[&'static OperationMeta],
        classes: impl IntoIterator<Item = &'a str>,
        backend: &str,
        public: bool,
    ) -> Result<Metrics, prometheus::Error> {
        let registry = Registry::new_custom(Some("storefront".into()), None)?;
        let labels = ["operation", "method", "status"];
        let requests = IntCounterVec::new(
            Opts::new("http_requests_total", "Requests answered, by operationId, method and status class."),
            &labels,
        )?;
        let latency = HistogramVec::new(
            HistogramOpts::new(
                "http_request_duration_seconds",
                "Time from the request's head to its answer, by operationId, method and status class.",
            )
            .buckets(LATENCY_BUCKETS.to_vec()),
            &labels,
        )?;
        let in_flight = IntGauge::new("http_requests_in_flight", "Requests being answered.")?;
        let rate_limited_vec = IntCounterVec::new(
            Opts::new("rate_limit_rejections_total", "Requests refused with 429, by rate-limit class."),
            &["class"],
        )?;
        let pool = |name: &str, help: &str| IntGaugeVec::new(Opts::new(name, help), &["pool"]);
        let pool_size = pool("db_pool_connections", "Open database connections, by pool.")?;
        let pool_idle = pool("db_pool_idle_connections", "Idle database connections, by pool.")?;
        let pool_max = pool("db_pool_max_connections", "The most connections a pool opens.")?;
        let write_groups = IntCounter::new(
            "db_write_groups_total",
            "Transactions in which writes were committed together (SQLite: the catalog's creates).",
        )?;
        let grouped_writes =
            IntCounter::new("db_grouped_writes_total", "Writes committed in those transactions.")?;
        let inline_reads = IntCounterVec::new(
            Opts::new(
                "db_inline_reads_total",
                "SQLite reads run on the request's own thread, by outcome: done; interrupted (past the \
                 time budget, or by a lock) or failed, then run again on the read pool.",
            ),
            &["outcome"],
        )?;
        let build = IntGaugeVec::new(
            Opts::new(
                "build_info",
                "The server's version, the API's version and the database back-end; always 1.",
            ),
            &["version", "api_version", "backend"],
        )?;
        build
            .with_label_values(&[env!("CARGO_PKG_VERSION"), crate::api::server::API_VERSION, backend])
            .set(1);
        for collector in [
            Box::new(requests.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(latency.clone()),
            Box::new(in_flight.clone()),
            Box::new(rate_limited_vec.clone()),
            Box::new(pool_size.clone()),
            Box::new(pool_idle.clone()),
            Box::new(pool_max.clone()),
            Box::new(write_groups.clone()),
            Box::new(grouped_writes.clone()),
            Box::new(inline_reads.clone()),
            Box::new(build),
        ] {
            registry.register(collector)?;
        }
        let operations = operations
            .iter()
            .map(|op| (op.id, Handles::new(&requests, &latency, op.id, op.method)))
            .collect();
        let unrouted = METHODS.map(|method| Handles::new(&requests, &latency, NO_OPERATION, method));
        let rate_limited = classes
            .into_iter()
            .map(|class| (class.to_string(), rate_limited_vec.with_label_values(&[class])))
            .collect();
        Ok(Metrics {
            registry,
            operations,
            unrouted,
            in_flight,
            rate_limited,
            rate_limited_vec,
            pool_size,
            pool_idle,
            pool_max,
            write_groups,
            grouped_writes,
            inline_reads,
            scrape: std::sync::Mutex::new(()),
            public,
        })
    }

    /// Whether `GET /metrics` on the public listener serves them.
    pub fn public(&self) -> bool {
        self.public
    }

    /// A request begins; it counts as in flight until the guard is dropped.
    pub fn begin(&self) -> InFlight<'_> {
        self.in_flight.inc();
        InFlight(&self.in_flight)
    }

    /// Records an answered request: `operation` answered it (or none did), with `status`.
    pub fn observe(
        &self,
        operation: Option<&OperationMeta>,
        method: &Method,
        status: u16,
        elapsed: Duration,
    ) {
        let handles = match operation.and_then(|op| self.operations.get(op.id)) {
            Some(handles) => handles,
            None => {
                let index = METHODS.iter().position(|m| *m == method.as_str()).unwrap_or(METHODS.len() - 1);
                &self.unrouted[index]
            }
        };
        let class = usize::from(status / 100).clamp(1, 5) - 1;
        handles.requests[class].inc();
        handles.latency[class].observe(elapsed.as_secs_f64());
    }

    /// A request refused by the rate limit of `class`.
    pub fn rate_limited(&self, class: &str) {
        match self.rate_limited.get(class) {
            Some(counter) => counter.inc(),
            None => self.rate_limited_vec.with_label_values(&[class]).inc(),
        }
    }

    /// The metrics, in the text format, with the pools and the grouped writes as they are now.
    pub fn render(&self, store: &dyn Store) -> Vec<u8> {
        for pool in store.pools() {
            self.pool_size.with_label_values(&[pool.name]).set(i64::from(pool.size));
            self.pool_idle.with_label_values(&[pool.name]).set(i64::try_from(pool.idle).unwrap_or(i64::MAX));
            self.pool_max.with_label_values(&[pool.name]).set(i64::from(pool.max));
        }
        // The store counts; the counters catch up (they only ever grow, like the store's), one
        // scrape at a time.
        let _scrape = self.scrape.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let grouped = store.grouped_writes();
        self.write_groups.inc_by(grouped.groups.saturating_sub(self.write_groups.get()));
        self.grouped_writes.inc_by(grouped.writes.saturating_sub(self.grouped_writes.get()));
        let inline = store.inline_reads();
        for (outcome, count) in
            [("done", inline.done), ("interrupted", inline.interrupted), ("failed", inline.failed)]
        {
            let counter = self.inline_reads.with_label_values(&[outcome]);
            counter.inc_by(count.saturating_sub(counter.get()));
        }
        let mut out = Vec::with_capacity(16 * 1024);
        // Encoding into memory fails only on a metric the registry would not have accepted.
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut out);
        out
    }
}

/// A request in flight (see [`Metrics::begin`]).
pub struct InFlight<'a>(&'a IntGauge);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.dec();
    }
}

/// Serves the metrics alone, at `path` on `listener` (`metrics_bind`): an address of their own,
/// kept off the public one. Anything else there is 404.
pub async fn serve_admin(
    listener: tokio::net::TcpListener,
    path: String,
    metrics: Arc<Metrics>,
    store: Arc<dyn Store>,
    log: slog::Logger,
) {
    use hyper_util::rt::{TokioExecutor, TokioIo};
    let path: Arc<str> = path.into();
    // The project's problem shape, serialized once.
    let not_found = bytes::Bytes::from(
        serde_json::to_vec(&crate::error::Kind::NotFound.problem("only the metrics are served here"))
            .unwrap_or_default(),
    );
    loop {
        let (stream, _) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(e) => {
                slog::warn!(log, "metrics listener: accept failed"; "error" => %e);
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let (path, metrics, store, not_found) =
            (Arc::clone(&path), Arc::clone(&metrics), Arc::clone(&store), not_found.clone());
        let service = hyper::service::service_fn(move |request: http::Request<hyper::body::Incoming>| {
            let found =
                matches!(*request.method(), Method::GET | Method::HEAD) && request.uri().path() == &*path;
            let response = if found {
                let mut response = http::Response::new(http_body_util::Full::new(bytes::Bytes::from(
                    metrics.render(store.as_ref()),
                )));
                response
                    .headers_mut()
                    .insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static(CONTENT_TYPE));
                response
            } else {
                let mut response = http::Response::new(http_body_util::Full::new(not_found.clone()));
                *response.status_mut() = http::StatusCode::NOT_FOUND;
                response.headers_mut().insert(
                    http::header::CONTENT_TYPE,
                    http::HeaderValue::from_static("application/problem+json"),
                );
                response
            };
            async move { Ok::<_, std::convert::Infallible>(response) }
        });
        tokio::spawn(async move {
            let builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
            let _ = builder.serve_connection(TokioIo::new(stream), service).await;
        });
    }
}
