//! The index at `/`, the probes — liveness (the process answers) and readiness (the database
//! answers too) — and the metrics.

use crate::api::server::{
    ApiIndexReply, DocsAssetPath, DocsAssetReply, DocsReply, HealthzReply, MetricsReply, OpsHandlers,
    ProblemTypePath, ProblemTypeReply, ReadyzReply, API_VERSION,
};
use crate::api::types::{ApiIndex, ApiIndexLinks, Health, HealthStatus, ProblemType};
use crate::error::{ApiError, Error, Kind};
use crate::http::{Cx, Server};

impl OpsHandlers for Server {
    async fn api_index(_cx: Cx) -> Result<ApiIndexReply, ApiError> {
        let links = ApiIndexLinks {
            docs: "/docs".into(),
            metrics: "/metrics".into(),
            openapi_yaml: "/openapi.yaml".into(),
            openapi_json: "/openapi.json".into(),
            api_v1: "/api/v1".into(),
            health: "/healthz".into(),
            ready: "/readyz".into(),
        };
        Ok(ApiIndexReply::new(ApiIndex { name: "Storefront API".into(), version: API_VERSION.into(), links }))
    }

    async fn docs(_cx: Cx) -> Result<DocsReply, ApiError> {
        Ok(super::docs::page())
    }

    async fn docs_asset(_cx: Cx, path: DocsAssetPath) -> Result<DocsAssetReply, ApiError> {
        super::docs::asset(&path.name)
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

    async fn problem_type(_cx: Cx, path: ProblemTypePath) -> Result<ProblemTypeReply, ApiError> {
        let kind = Kind::from_type_name(&path.name).ok_or(Error::NotFound("problem type"))?;
        let accept = crate::edge::scope::with(|scope| scope.accept().cloned()).flatten();
        if wants_json(accept.as_ref()) {
            let body = ProblemType {
                type_: kind.type_uri().into(),
                title: kind.title().into(),
                status: i32::from(kind.status()),
                description: kind.description().into(),
            };
            let json = serde_json::to_vec(&body).map_err(Error::internal)?;
            return Ok(ProblemTypeReply::new("application/json", json.into()));
        }
        Ok(ProblemTypeReply::new("text/html; charset=utf-8", problem_page(kind).into()))
    }

    async fn readyz(cx: Cx) -> Result<ReadyzReply, ApiError> {
        cx.app.ready().await?;
        Ok(ReadyzReply::new(Health { status: HealthStatus::Ok }))
    }
}

/// Whether the client asks for JSON rather than a page: it accepts `application/json` and not
/// `text/html` (a browser sends `text/html`; `curl` sends `*/*` and gets the page).
fn wants_json(accept: Option<&http::HeaderValue>) -> bool {
    let ranges = crate::edge::MediaRanges::of(accept);
    (ranges.lists("application/json") || ranges.lists("application/problem+json"))
        && !ranges.lists("text/html")
}

/// The page a problem type resolves to: static text only (nothing from the request).
fn problem_page(kind: Kind) -> Vec<u8> {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head><meta charset=\"utf-8\"><title>{title} — Storefront API</title></head>\n\
         <body>\n<h1>{title}</h1>\n<p>HTTP status <strong>{status}</strong> · problem type <code>{uri}</code></p>\n\
         <p>{description}</p>\n<p>Errors of the Storefront API are RFC 9457 problems (<code>application/problem+json</code>): \
         <code>type</code> (this page), <code>title</code>, <code>status</code>, <code>detail</code> (this occurrence), \
         <code>instance</code> and <code>request_id</code>. The API is described by <a href=\"/openapi.yaml\">its OpenAPI \
         document</a>.</p>\n</body>\n</html>\n",
        title = kind.title(),
        status = kind.status(),
        uri = kind.type_uri(),
        description = kind.description(),
    )
    .into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_is_for_clients_that_ask_for_it_and_not_for_a_page() {
        let h = |s: &'static str| http::HeaderValue::from_static(s);
        assert!(!wants_json(None));
        assert!(!wants_json(Some(&h("*/*"))));
        assert!(!wants_json(Some(&h("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"))));
        assert!(wants_json(Some(&h("application/json"))));
        assert!(wants_json(Some(&h("application/problem+json, application/json;q=0.9"))));
        assert!(!wants_json(Some(&h("application/json;q=0, text/html"))));
    }
}
