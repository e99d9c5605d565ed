//! Probes: liveness (the process answers) and readiness (the database answers too).

use crate::api::server::{HealthzReply, OpsHandlers, ReadyzReply};
use crate::api::types::{Health, HealthStatus};
use crate::error::ApiError;
use crate::http::{Cx, Server};

impl OpsHandlers for Server {
    async fn healthz(_cx: Cx) -> Result<HealthzReply, ApiError> {
        Ok(HealthzReply::new(Health { status: HealthStatus::Ok }))
    }

    async fn readyz(cx: Cx) -> Result<ReadyzReply, ApiError> {
        cx.app.ready().await?;
        Ok(ReadyzReply::new(Health { status: HealthStatus::Ok }))
    }
}
