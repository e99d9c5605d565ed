//! What the edge does for every request: the error shape (dropshot's own errors included),
//! request ids, HEAD/OPTIONS, CORS, security headers, body limits, the spec documents.
//! Raw HTTP throughout: these are HTTP-level behaviours the generated client does not model.

use crate::common::TestApp;

async fn problem(response: reqwest::Response) -> (reqwest::header::HeaderMap, serde_json::Value) {
    let headers = response.headers().clone();
    (headers, response.json().await.unwrap())
}

#[tokio::test]
async fn an_unknown_route_is_a_404_problem_carrying_the_request_id() {
    let app = TestApp::spawn().await;
    let response = app.http.get(app.url("/api/v1/nothing-here")).send().await.unwrap();
    assert_eq!(response.status(), 404);
    let (headers, body) = problem(response).await;
    assert_eq!(headers["content-type"], "application/problem+json");
    assert_eq!(body["type"], "/problems/not-found");
    assert_eq!(body["title"], "Not found");
    assert_eq!(body["status"], 404);
    assert_eq!(body["instance"], "/api/v1/nothing-here");
    assert_eq!(body["request_id"], headers["x-request-id"].to_str().unwrap());
}

#[tokio::test]
async fn a_method_the_route_lacks_is_a_405_problem_with_allow() {
    let app = TestApp::spawn().await;
    let response = app.http.delete(app.url("/api/v1/products")).send().await.unwrap();
    assert_eq!(response.status(), 405);
    let (headers, body) = problem(response).await;
    assert_eq!(headers["allow"], "GET, POST");
    assert_eq!(body["type"], "/problems/method-not-allowed");
}

#[tokio::test]
async fn options_lists_what_a_resource_allows() {
    let app = TestApp::spawn().await;
    let response =
        app.http.request(reqwest::Method::OPTIONS, app.url("/api/v1/products/1")).send().await.unwrap();
    assert_eq!(response.status(), 204);
    assert_eq!(response.headers()["allow"], "DELETE, GET, PATCH, PUT, HEAD, OPTIONS");
}

#[tokio::test]
async fn head_answers_like_get_without_a_body() {
    let app = TestApp::spawn().await;
    app.seed_demo().await;
    let get = app.http.get(app.url("/api/v1/products/1")).send().await.unwrap();
    let head = app.http.head(app.url("/api/v1/products/1")).send().await.unwrap();
    assert_eq!(head.status(), 200);
    assert_eq!(head.headers()["etag"], get.headers()["etag"]);
    assert_eq!(head.headers()["content-length"], get.headers()["content-length"]);
    assert!(head.bytes().await.unwrap().is_empty());
    let missing = app.http.head(app.url("/api/v1/products/99")).send().await.unwrap();
    assert_eq!(missing.status(), 404);
}

#[tokio::test]
async fn a_plain_client_request_id_is_kept_and_anything_else_replaced() {
    let app = TestApp::spawn().await;
    let kept =
        app.http.get(app.url("/healthz")).header("x-request-id", "trace-42.a_b:c").send().await.unwrap();
    assert_eq!(kept.headers()["x-request-id"], "trace-42.a_b:c");
    let replaced =
        app.http.get(app.url("/nope")).header("x-request-id", "evil\"id<script>").send().await.unwrap();
    let id = replaced.headers()["x-request-id"].to_str().unwrap().to_string();
    assert_ne!(id, "evil\"id<script>");
    assert_eq!(replaced.json::<serde_json::Value>().await.unwrap()["request_id"], id);
}

#[tokio::test]
async fn problems_are_plain_json_for_clients_that_accept_only_json() {
    let app = TestApp::spawn().await;
    let json = app.http.get(app.url("/nope")).header("accept", "application/json").send().await.unwrap();
    assert_eq!(json.headers()["content-type"], "application/json");
    let any = app.http.get(app.url("/nope")).header("accept", "*/*").send().await.unwrap();
    assert_eq!(any.headers()["content-type"], "application/problem+json");
}

#[tokio::test]
async fn every_response_carries_the_security_headers() {
    let app = TestApp::spawn().await;
    for path in ["/healthz", "/api/v1/products", "/nope", "/openapi.json"] {
        let response = app.http.get(app.url(path)).send().await.unwrap();
        let headers = response.headers();
        assert_eq!(headers["x-content-type-options"], "nosniff", "{path}");
        assert_eq!(headers["x-frame-options"], "DENY", "{path}");
        assert_eq!(headers["referrer-policy"], "no-referrer", "{path}");
        assert!(headers.contains_key("content-security-policy"), "{path}");
    }
}

#[tokio::test]
async fn cors_answers_configured_origins_only() {
    let app = TestApp::spawn_with(|config| config.cors_origins = vec!["https://shop.example".into()]).await;
    let preflight = |origin: &'static str| {
        app.http
            .request(reqwest::Method::OPTIONS, app.url("/api/v1/products"))
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header("access-control-request-headers", "content-type")
            .send()
    };
    let allowed = preflight("https://shop.example").await.unwrap();
    assert_eq!(allowed.status(), 204);
    assert_eq!(allowed.headers()["access-control-allow-origin"], "https://shop.example");
    assert!(allowed.headers()["access-control-allow-methods"].to_str().unwrap().contains("POST"));
    assert_eq!(allowed.headers()["access-control-allow-headers"], "content-type");
    let refused = preflight("https://evil.example").await.unwrap();
    assert!(!refused.headers().contains_key("access-control-allow-origin"));

    let simple = app
        .http
        .get(app.url("/api/v1/products"))
        .header("origin", "https://shop.example")
        .send()
        .await
        .unwrap();
    assert_eq!(simple.headers()["access-control-allow-origin"], "https://shop.example");
    assert!(simple.headers()["access-control-expose-headers"].to_str().unwrap().contains("ETag"));
}

#[tokio::test]
async fn a_declared_body_over_the_limit_is_refused_before_it_is_read() {
    let app = TestApp::spawn_with(|config| config.max_body_bytes = 2048).await;
    let response = app
        .http
        .post(app.url("/api/v1/categories"))
        .header("content-type", "application/json")
        .body(format!("{{\"name\": \"{}\"}}", "x".repeat(4096)))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 413);
}

#[tokio::test]
async fn the_spec_is_served_as_written_and_as_json() {
    let app = TestApp::spawn().await;
    let yaml = app.http.get(app.url("/openapi.yaml")).send().await.unwrap();
    assert_eq!(yaml.headers()["content-type"], "application/yaml");
    let etag = yaml.headers()["etag"].to_str().unwrap().to_string();
    assert_eq!(yaml.text().await.unwrap(), include_str!("../../openapi/openapi.yaml"));
    let json: serde_json::Value =
        app.http.get(app.url("/openapi.json")).send().await.unwrap().json().await.unwrap();
    assert_eq!(json["openapi"], "3.0.3");
    assert!(json["paths"]["/api/v1/products"]["get"].is_object());
    let again = app.http.get(app.url("/openapi.yaml")).header("if-none-match", etag).send().await.unwrap();
    assert_eq!(again.status(), 304);
}

#[tokio::test]
async fn a_large_problem_the_api_gzipped_still_reaches_the_client_whole() {
    let app = TestApp::spawn().await;
    // Many invalid fields make a problem over dropshot's 512-byte compression threshold.
    let body = serde_json::json!({"name": "", "price": "x", "stock": -1, "category_id": 0, "a": 1, "b": 2, "c": 3, "d": 4});
    let response = app
        .http
        .post(app.url("/api/v1/products"))
        .header("accept-encoding", "gzip")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 422);
    assert!(response.headers().get("content-encoding").is_none());
    let problem: serde_json::Value = response.json().await.unwrap();
    assert!(problem["errors"].as_array().unwrap().len() >= 8, "{problem}");
    assert!(problem["request_id"].is_string());

    // Large successes stay compressed for clients that ask.
    app.seed_demo().await;
    let list =
        app.http.get(app.url("/api/v1/products")).header("accept-encoding", "gzip").send().await.unwrap();
    assert_eq!(list.headers()["content-encoding"], "gzip");
}
