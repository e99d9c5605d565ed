//! Storefront: the store API of the Flask, DRF and FastAPI tutorials, spec-first, in Rust.
//!
//! One request path, in one process:
//!
//! ```text
//! public listener ─ edge (request ids, problems, CORS, limits, access log)
//!   └ dropshot's router ─ generated glue (the spec's policies) ─ handler (`http`)
//!       └ application layer (`app`: rules, object-level checks) ─ store (`store`: SQLite | PostgreSQL)
//! ```
//!
//! `openapi/openapi.yaml` is the contract; `build.rs` generates the types, the API trait and
//! its glue from it ([`api`]). [`start`] runs all of it and hands back the bound address, which
//! is how `main` and the tests start the real server.

pub mod api;
pub mod app;
pub mod auth;
pub mod clock;
pub mod config;
pub mod domain;
pub mod edge;
pub mod error;
#[doc(hidden)]
pub mod fuzzing;
pub mod http;
pub mod logging;
pub mod metrics;
pub mod money;
pub mod names;
pub mod passwords;
pub mod photos;
pub mod ratelimit;
pub mod store;
pub mod timestamp;
pub mod validate;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use dropshot::{CompressionConfig, ConfigDropshot, HandlerTaskMode, ServerBuilder};
use slog::{info, Logger};
use tokio::sync::oneshot;

use crate::app::App;
use crate::clock::Clock;
use crate::config::Config;
use crate::http::{Server, ServerState};
use crate::store::PoolConfig;

/// A running server.
pub struct Running {
    local_addr: SocketAddr,
    stop: oneshot::Sender<()>,
    serving: tokio::task::JoinHandle<()>,
    app: Arc<App>,
    /// The metrics' own listener (`metrics_bind`): its address and task.
    admin: Option<(SocketAddr, tokio::task::JoinHandle<()>)>,
}

impl Running {
    /// The address of the public listener (the port is chosen by the OS when asked for 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The address of the metrics' own listener, when configured (`metrics_bind`).
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.admin.as_ref().map(|(address, _)| *address)
    }

    /// The application, for the operator's tasks and the tests that arrange what the API cannot.
    pub fn app(&self) -> &Arc<App> {
        &self.app
    }

    /// Begins shutdown: `/readyz` fails from now on, while the API is still served (the
    /// configured drain period lets a load balancer notice before the listener closes).
    pub fn begin_shutdown(&self) {
        self.app.begin_shutdown();
    }

    /// Stops accepting connections, lets open requests finish (within the grace period; then
    /// their connections are closed), then closes the database. Readiness fails from the start.
    pub async fn shutdown(self) -> Result<(), String> {
        self.app.begin_shutdown();
        let _ = self.stop.send(());
        self.serving.await.map_err(|e| format!("the server task failed: {e}"))?;
        if let Some((_, task)) = self.admin {
            task.abort();
        }
        // A request that outlived the grace may still hold a connection: do not wait for it long.
        let _ = tokio::time::timeout(Duration::from_secs(2), self.app.store().close()).await;
        Ok(())
    }
}

/// Connects to the database (applying migrations), then serves on `config.bind`.
pub async fn start(config: Config, log: Logger) -> Result<Running, String> {
    start_with_clock(config, log, Clock::system()).await
}

/// Opens the application on the configured database (applying migrations), with the secret
/// that signs its tokens.
pub async fn open(config: &Config, clock: Clock, pool: PoolConfig, secret: &[u8]) -> Result<App, String> {
    validate::check_all()?;
    let store = store::connect(config.database_url.expose(), &pool).await?;
    let kept = store.rekey_names().await.map_err(|e| format!("bringing name keys up to date: {e}"))?;
    if !kept.is_empty() {
        eprintln!(
            "storefront: these rows keep their old name key, as the new one would collide with another row's \
             (rename one of each pair): {}",
            kept.join(", ")
        );
    }
    let tokens = auth::TokenKeys::new(
        secret,
        Duration::from_secs(config.access_token_ttl_secs),
        Duration::from_secs(config.refresh_token_ttl_secs),
        clock.clone(),
    );
    let passwords = passwords::Passwords::new(config.password_workers(), usize::from(config.password_queue));
    let photos = photos::Photos::open(&config.photo_location())?;
    let settings = app::Settings { max_api_keys: i64::from(config.max_api_keys_per_user) };
    Ok(App::new(store, tokens, passwords, photos, clock, settings))
}

/// Opens the application for an operator's task (the CLI): one connection, and no tokens to
/// sign, so no signing secret is needed. `create`: an SQLite file may be created (`migrate`).
pub async fn open_for_operator(config: &Config, create: bool) -> Result<App, String> {
    let mut pool = PoolConfig { max_connections: 1, ..pool_config(config) };
    if create {
        pool.no_create = false;
    }
    let mut secret = vec![0u8; 48];
    getrandom::fill(&mut secret).map_err(|e| format!("no randomness: {e}"))?;
    open(config, Clock::system(), pool, &secret).await
}

/// [`start`], with the clock the server tells time by (the tests move a manual one).
pub async fn start_with_clock(config: Config, log: Logger, clock: Clock) -> Result<Running, String> {
    config.check()?;
    let classes = config.rate_limits.clone().with_defaults();
    let (secret, made_up) = config.signing_secret()?;
    if made_up {
        slog::warn!(log, "no STOREFRONT_JWT_SECRET: signing tokens with a random secret (development only; tokens die with this process)");
    }
    let pool = pool_config(&config);
    let app = Arc::new(open(&config, clock.clone(), pool, &secret).await?);
    let limiter_classes: Vec<String> = classes.0.keys().cloned().collect();
    let limiter = Arc::new(ratelimit::Limiter::new(classes, app.store_handle(), clock));
    let backend = format!("{:?}", app.store().backend()).to_lowercase();
    let metrics = Arc::new(
        metrics::Metrics::new(
            api::server::operations::ALL,
            limiter_classes.iter().map(String::as_str),
            &backend,
            config.metrics_bind.is_none(),
        )
        .map_err(|e| format!("setting up the metrics: {e}"))?,
    );
    let idempotency = Arc::new(http::idempotency::Keys::new(
        app.store_handle(),
        app.clock().clone(),
        Duration::from_secs(config.idempotency_ttl_secs),
        // A claim outlives any request that is still running (the time limit, and the grace).
        config.request_timeout() + config.shutdown_grace() + Duration::from_secs(60),
    ));
    let state = ServerState {
        app: Arc::clone(&app),
        limiter,
        metrics: Arc::clone(&metrics),
        idempotency,
        log: log.clone(),
    };

    let listener = tokio::net::TcpListener::bind(config.bind)
        .await
        .map_err(|e| format!("binding {}: {e}", config.bind))?;
    let local_addr = listener.local_addr().map_err(|e| e.to_string())?;
    let api = api::server::storefront_api_mod::api_description::<api::server::Glue<Server>>()
        .map_err(|e| format!("the API description is invalid: {e}"))?;
    let dropshot_config = ConfigDropshot {
        default_request_body_max_bytes: usize::try_from(config.max_body_bytes).unwrap_or(usize::MAX),
        // The edge decides what runs to completion (writes do), around the whole request.
        default_handler_task_mode: HandlerTaskMode::CancelOnDisconnect,
        compression: CompressionConfig::Gzip,
        ..Default::default()
    };
    let handler = ServerBuilder::new(api, state, logging::for_dropshot(&log))
        .config(dropshot_config)
        .build_handler(local_addr)
        .map_err(|e| format!("building the API: {e}"))?;
    // Operations may accept more than the default (`x-max-body-bytes`): the edge lets through
    // what the most generous one accepts, and each checks its own.
    let largest = handler_body_limits(config.max_body_bytes);
    let edge = edge::Edge::new(
        handler,
        edge::EdgeConfig {
            max_body_bytes: largest,
            request_timeout: config.request_timeout(),
            cors_origins: config.cors_origins.clone(),
            trusted_proxies: config.trusted_proxies.clone(),
            tls: config.tls()?,
            log: log.clone(),
        },
    );
    let admin = match config.metrics_bind {
        None => None,
        Some(bind) => {
            let listener = tokio::net::TcpListener::bind(bind)
                .await
                .map_err(|e| format!("binding {bind} (metrics_bind): {e}"))?;
            let address = listener.local_addr().map_err(|e| e.to_string())?;
            info!(log, "serving metrics"; "address" => %address, "path" => &config.metrics_path);
            let task = tokio::spawn(metrics::serve_admin(
                listener,
                config.metrics_path.clone(),
                Arc::clone(&metrics),
                app.store_handle(),
                log.clone(),
            ));
            Some((address, task))
        }
    };
    let (stop, stopped) = oneshot::channel::<()>();
    let serving = tokio::spawn(edge.serve(
        listener,
        async move {
            let _ = stopped.await;
        },
        config.shutdown_grace(),
    ));
    let scheme = if config.tls_cert.is_some() { "https" } else { "http" };
    info!(log, "serving"; "address" => %local_addr, "scheme" => scheme, "database" => ?app.store().backend());
    Ok(Running { local_addr, stop, serving, app, admin })
}

/// How the configuration opens the database.
fn pool_config(config: &Config) -> PoolConfig {
    PoolConfig {
        max_connections: config.db_max_connections,
        acquire_timeout: config.db_acquire_timeout(),
        down_acquire_timeout: config.db_down_acquire_timeout(),
        no_create: config.db_no_create || config.environment == config::Environment::Production,
        slow_statement: Duration::from_millis(config.db_slow_statement_ms),
        inline_read_budget: Duration::from_micros(config.db_inline_read_us),
        cache: store::cache::CacheConfig {
            entries: usize::try_from(config.cache_entries).unwrap_or(usize::MAX),
            ttl: Duration::from_millis(config.cache_ttl_ms),
        },
    }
}

/// The largest request body any operation accepts: the default, or an operation's own
/// `x-max-body-bytes`.
fn handler_body_limits(default: u64) -> u64 {
    api::server::operations::ALL.iter().filter_map(|op| op.max_body_bytes).fold(default, u64::max)
}
