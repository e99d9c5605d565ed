//! Every error status the spec documents for an operation is one the server really answers.
//!
//! The test walks the spec: for each operation and each documented status it knows how to
//! provoke (malformed JSON, wrong media type, oversized body, missing resource, stale
//! `If-Match`, invalid parameter, unchanged resource), it sends that request and expects that
//! status, as a problem where it is an error. Statuses that need a scenario of their own (409,
//! 503) are listed with the test that covers them, so a new operation documenting a status
//! nobody provokes fails here. Raw HTTP: most of these requests are ones the typed client refuses
//! to send.

use serde_json::Value;

use crate::common::TestApp;

/// Documented statuses provoked by a dedicated test elsewhere in the suite.
const COVERED_ELSEWHERE: &[(&str, u16, &str)] = &[
    ("category_create", 409, "categories::category_create_returns_409_for_a_name_that_exists_in_any_case"),
    ("category_replace", 409, "categories::category_replace_returns_409_for_another_categorys_name"),
    (
        "category_update",
        409,
        "categories::category_replace_returns_409_for_another_categorys_name (same rename path)",
    ),
    ("category_delete", 409, "categories::category_delete_returns_409_while_the_category_has_products"),
    ("readyz", 503, "ops::readyz_answers_503_when_the_database_is_gone"),
];

const METHODS: [&str; 5] = ["get", "post", "put", "patch", "delete"];

#[tokio::test]
async fn every_documented_error_status_is_answered() {
    let app = TestApp::spawn_with(|config| config.max_body_bytes = 4096).await;
    app.seed_demo().await;
    let spec: Value = serde_json::from_str(storefront::api::OPENAPI_JSON).unwrap();
    let mut unexercised = Vec::new();
    for (path, item) in spec["paths"].as_object().unwrap() {
        for method in METHODS {
            let Some(op) = item.get(method) else { continue };
            let id = op["operationId"].as_str().unwrap();
            let has_body = op.get("requestBody").is_some();
            for code in op["responses"].as_object().unwrap().keys() {
                let Ok(status) = code.parse::<u16>() else { continue };
                if status < 300 {
                    continue;
                }
                if COVERED_ELSEWHERE.iter().any(|(op_id, s, _)| *op_id == id && *s == status) {
                    continue;
                }
                let exercised = provoke(&app, method, path, status, has_body).await;
                match exercised {
                    Some(response) => {
                        let got = response.status().as_u16();
                        let content_type = response
                            .headers()
                            .get("content-type")
                            .map(|v| v.to_str().unwrap().to_string())
                            .unwrap_or_default();
                        let body = response.bytes().await.unwrap();
                        assert_eq!(got, status, "{id} ({method} {path}) should answer {status}: {body:?}");
                        if status >= 400 {
                            assert_eq!(content_type, "application/problem+json", "{id} {status}");
                            let problem: Value = serde_json::from_slice(&body).unwrap();
                            assert_eq!(problem["status"], status, "{id}");
                            assert!(problem["request_id"].is_string(), "{id}");
                        } else {
                            assert!(body.is_empty(), "{id}: 304 has no body");
                        }
                    }
                    None => unexercised.push(format!("{id} {status}")),
                }
            }
        }
    }
    assert!(unexercised.is_empty(), "documented statuses no test provokes: {unexercised:?}");
}

/// Sends the request that should get `status` from `method path`, or `None` when this test
/// does not know how.
async fn provoke(
    app: &TestApp,
    method: &str,
    path: &str,
    status: u16,
    has_body: bool,
) -> Option<reqwest::Response> {
    // Demo data: category 1, product 1 and tag 1 exist; 999999 does not.
    let existing = path.replace("{id}", "1");
    let request = |method: &str, path: &str| {
        app.http
            .request(reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).unwrap(), app.url(path))
    };
    let valid_body = || {
        if path.contains("categories") {
            serde_json::json!({"name": "Fresh Produce"})
        } else {
            serde_json::json!({"name": "P", "price": "1.00", "stock": 1, "category_id": 2})
        }
    };
    let request = match status {
        304 => {
            let first = request(method, &existing).send().await.unwrap();
            let etag = first.headers()["etag"].to_str().unwrap().to_string();
            request(method, &existing).header("if-none-match", etag)
        }
        400 if has_body => {
            request(method, &existing).header("content-type", "application/json").body("{\"name\": ")
        }
        404 if path.contains("{id}") => {
            let missing = path.replace("{id}", "999999");
            if has_body {
                request(method, &missing).json(&valid_body())
            } else {
                request(method, &missing)
            }
        }
        412 => {
            let target = if method == "delete" && path.contains("categories") {
                // A category without products, so that only the precondition can fail.
                let created: Value = app
                    .http
                    .post(app.url("/api/v1/categories"))
                    .json(&serde_json::json!({"name": "Empty"}))
                    .send()
                    .await
                    .unwrap()
                    .json()
                    .await
                    .unwrap();
                path.replace("{id}", &created["id"].to_string())
            } else {
                existing.clone()
            };
            let request = request(method, &target).header("if-match", "\"0-0\"");
            if has_body {
                request.json(&valid_body())
            } else {
                request
            }
        }
        413 if has_body => request(method, &existing).json(&serde_json::json!({"name": "x".repeat(8192)})),
        415 if has_body => request(method, &existing).header("content-type", "text/plain").body("{}"),
        422 if path.contains("{id}") => {
            let invalid = path.replace("{id}", "0");
            if has_body {
                request(method, &invalid).json(&valid_body())
            } else {
                request(method, &invalid)
            }
        }
        422 if has_body => request(method, &existing).json(&serde_json::json!({})),
        422 if method == "get" => request(method, &format!("{existing}?limit=0")),
        _ => return None,
    };
    Some(request.send().await.unwrap())
}
