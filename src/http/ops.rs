//! Probes: liveness (the process answers) and readiness (the database answers too).

use crate::api::server::{HealthzReply, ReadyzReply};
use crate::api::types::{Health, HealthStatus};
use crate::error::ApiError;
use crate::http::Cx;

pub async fn healthz(_cx: Cx) -> Result<HealthzReply, ApiError> {
    Ok(HealthzReply::new(Health { status: HealthStatus::Ok }))
}

pub async fn readyz(cx: Cx) -> Result<ReadyzReply, ApiError> {
    cx.db().ping().await?;
    Ok(ReadyzReply::new(Health { status: HealthStatus::Ok }))
}
