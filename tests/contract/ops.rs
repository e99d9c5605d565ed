//! Probes.

use storefront_client::types::HealthStatus;

use crate::common::{status_of, TestApp};

#[tokio::test]
async fn healthz_answers_ok() {
    let app = TestApp::spawn().await;
    let health = app.client.healthz().send().await.unwrap();
    assert_eq!(health.status, HealthStatus::Ok);
}

#[tokio::test]
async fn readyz_answers_ok_while_the_database_answers() {
    let app = TestApp::spawn().await;
    assert_eq!(app.client.readyz().send().await.unwrap().status, HealthStatus::Ok);
}

#[tokio::test]
async fn readyz_answers_503_when_the_database_is_gone() {
    let app = TestApp::spawn().await;
    app.app().store().close().await;
    // Probes send no credentials (credentials would be checked against the database).
    assert_eq!(status_of(app.anonymous.readyz().send().await), 503);
    // Liveness does not depend on the database.
    assert_eq!(app.anonymous.healthz().send().await.unwrap().status, HealthStatus::Ok);
}

#[tokio::test]
async fn a_database_failure_while_authenticating_is_503_and_logged_with_its_cause() {
    let app = TestApp::spawn().await;
    app.app().store().close().await;
    // The admin's token must be checked against the database, which is gone.
    let response = app.http.get(app.url("/api/v1/users/me")).send().await.unwrap();
    assert_eq!(response.status(), 503);
    assert_eq!(response.headers()["retry-after"], "1");
    let problem: serde_json::Value = response.json().await.unwrap();
    assert_eq!(problem["type"], "/problems/unavailable");
    let detail = problem["detail"].as_str().unwrap();
    assert!(!detail.contains("pool") && !detail.contains("sqlx"), "no driver text for clients: {detail}");
    let request_id = problem["request_id"].as_str().unwrap();
    let logged: Vec<serde_json::Value> =
        app.log().lines().filter_map(|line| serde_json::from_str(line).ok()).collect();
    let failure = logged
        .iter()
        .find(|line| line["msg"] == "request failed" && line["request_id"] == request_id)
        .unwrap_or_else(|| panic!("no failure logged for {request_id}: {logged:?}"));
    assert!(failure["error"].as_str().unwrap().contains("closed"), "{failure}");
}

#[tokio::test]
async fn the_root_says_where_things_are() {
    let app = TestApp::spawn().await;
    let index = app.anonymous.api_index().send().await.unwrap().into_inner();
    assert_eq!(index.version, storefront::api::server::API_VERSION);
    for link in
        [&index.links.openapi_yaml, &index.links.openapi_json, &index.links.health, &index.links.ready]
    {
        let response = app.anonymous_http.get(app.url(link)).send().await.unwrap();
        assert_eq!(response.status(), 200, "{link}");
    }
    assert_eq!(index.links.api_v1, "/api/v1");
}
