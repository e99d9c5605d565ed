//! The index at `/`, the probes — liveness (the process answers) and readiness (the database
//! answers too) — and the metrics.

use crate::api::server::{ApiIndexReply, HealthzReply, MetricsReply, OpsHandlers, ReadyzReply, API_VERSION};
use crate::api::types::{ApiIndex, ApiIndexLinks, Health, HealthStatus};
use crate::error::{ApiError, Error};
use crate::http::{Cx, Server};

impl OpsHandlers for Server {
    async fn api_index(_cx: Cx) -> Result<ApiIndexReply, ApiError> {
        let links = ApiIndexLinks {
            openapi_yaml: "/openapi.yaml".into(),
            openapi_json: "/openapi.json".into(),
            api_v1: "/api/v1".into(),
            health: "/healthz".into(),
            ready: "/readyz".into(),
        };
        Ok(ApiIndexReply::new(ApiIndex { name: "Storefront API".into(), version: API_VERSION.into(), links }))
    }

    async fn healthz(_cx: Cx) -> Result<HealthzReply, ApiError> {
        Ok(HealthzReply::new(Health { status: HealthStatus::Ok }))
    }

    async fn metrics(cx: Cx) -> Result<MetricsReply, ApiError> {
        if !cx.metrics.public() {
            return Err(Error::NotFound("resource").into());
        }
        let text = cx.metrics.render(cx.app.store());
        Ok(MetricsReply::new(crate::metrics::CONTENT_TYPE, text.into()))
    }

    async fn readyz(cx: Cx) -> Result<ReadyzReply, ApiError> {
        cx.app.ready().await?;
        Ok(ReadyzReply::new(Health { status: HealthStatus::Ok }))
    }
}
