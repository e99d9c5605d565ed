//! Storefront: the store API of the Flask, DRF and FastAPI tutorials, spec-first, in Rust.
//!
//! `openapi/openapi.yaml` is the contract; `build.rs` generates the types and the API trait
//! from it ([`api`]), [`http`] implements the trait against [`db`], and [`edge`] is the public
//! listener in front of dropshot. [`start`] runs all of it and hands back the bound address,
//! which is how `main` and the tests start the real server.

pub mod admin;
pub mod api;
pub mod auth;
pub mod config;
pub mod db;
pub mod edge;
pub mod error;
pub mod http;
pub mod logging;
pub mod money;
pub mod ratelimit;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use dropshot::{CompressionConfig, ConfigDropshot, HandlerTaskMode, ServerBuilder};
use slog::{info, Logger};
use tokio::sync::oneshot;

use crate::config::Config;
use crate::db::{Db, PoolConfig};
use crate::http::{Server, ServerState};

/// How long open connections may finish their requests at shutdown.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// A running server.
pub struct Running {
    local_addr: SocketAddr,
    stop: oneshot::Sender<()>,
    edge: tokio::task::JoinHandle<()>,
    dropshot: dropshot::HttpServer<ServerState>,
    db: Db,
}

impl Running {
    /// The address of the public listener (the port is chosen by the OS when asked for 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Dropshot's loopback listener, which only the edge may use (exposed for the tests that
    /// check it refuses everyone else).
    pub fn internal_addr(&self) -> SocketAddr {
        self.dropshot.local_addr()
    }

    pub fn db(&self) -> &Db {
        &self.db
    }

    /// Stops accepting connections, lets open requests finish, then closes the database.
    pub async fn shutdown(self) -> Result<(), String> {
        let _ = self.stop.send(());
        let _ = self.edge.await;
        self.dropshot.close().await?;
        self.db.close().await;
        Ok(())
    }
}

/// Connects to the database (applying migrations), then serves on `config.bind`.
pub async fn start(config: Config, log: Logger) -> Result<Running, String> {
    http::validate::check_all()?;
    let (secret, made_up) = config.signing_secret()?;
    if made_up {
        slog::warn!(
            log,
            "no STOREFRONT_JWT_SECRET: signing tokens with a random secret (development only; \
                          tokens die with this process)"
        );
    }
    for op in api::server::operations::ALL {
        if let Some(class) = op.rate_limit {
            if !config.rate_limits.0.contains_key(class) {
                return Err(format!(
                    "operation {} is in rate-limit class {class:?}, which STOREFRONT_RATE_LIMITS does not define",
                    op.id
                ));
            }
        }
    }
    let pools = PoolConfig {
        max_connections: config.db_max_connections,
        acquire_timeout: config.db_acquire_timeout(),
    };
    let db = Db::connect(config.database_url.expose(), &pools).await?;
    let config = Arc::new(config);

    let api = api::server::storefront_api_mod::api_description::<api::server::Glue<Server>>()
        .map_err(|e| format!("the API description is invalid: {e}"))?;
    let edge_secret = uuid::Uuid::new_v4().simple().to_string();
    let tokens = auth::TokenKeys::new(
        &secret,
        Duration::from_secs(config.access_token_ttl_secs),
        Duration::from_secs(config.refresh_token_ttl_secs),
    );
    let limiter = ratelimit::Limiter::new(config.rate_limits.clone(), &db);
    let state = ServerState {
        db: db.clone(),
        config: Arc::clone(&config),
        tokens,
        limiter,
        edge_secret: edge_secret.clone(),
        log: log.clone(),
    };
    let dropshot_config = ConfigDropshot {
        // Only the edge talks to dropshot.
        bind_address: SocketAddr::from(([127, 0, 0, 1], 0)),
        default_request_body_max_bytes: usize::try_from(config.max_body_bytes).unwrap_or(usize::MAX),
        // Handlers run to completion even when the client goes away: no half-done writes.
        default_handler_task_mode: HandlerTaskMode::Detached,
        compression: CompressionConfig::Gzip,
        ..Default::default()
    };
    let dropshot = ServerBuilder::new(api, state, logging::for_dropshot(&log))
        .config(dropshot_config)
        .start()
        .map_err(|e| format!("starting dropshot: {e}"))?;

    let listener = tokio::net::TcpListener::bind(config.bind)
        .await
        .map_err(|e| format!("binding {}: {e}", config.bind))?;
    let local_addr = listener.local_addr().map_err(|e| e.to_string())?;
    let edge = edge::Edge::new(edge::EdgeConfig {
        backend: dropshot.local_addr(),
        secret: edge_secret,
        max_body_bytes: config.max_body_bytes,
        request_timeout: config.request_timeout(),
        cors_origins: config.cors_origins.clone(),
        trusted_proxies: config.trusted_proxies.clone(),
        log: log.clone(),
    })?;
    let (stop, stopped) = oneshot::channel::<()>();
    let edge = tokio::spawn(edge.serve(
        listener,
        async move {
            let _ = stopped.await;
        },
        SHUTDOWN_GRACE,
    ));
    info!(log, "serving"; "address" => %local_addr, "database" => ?db.backend());
    Ok(Running { local_addr, stop, edge, dropshot, db })
}
