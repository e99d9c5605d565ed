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
