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

#[tokio::test]
async fn the_spec_as_json_is_gzipped_for_clients_that_accept_it() {
    let app = TestApp::spawn().await;
    let plain = app.http.get(app.url("/openapi.json")).send().await.unwrap();
    assert!(plain.headers().get("content-encoding").is_none());
    let size = plain.bytes().await.unwrap().len();
    let zipped =
        app.http.get(app.url("/openapi.json")).header("accept-encoding", "gzip").send().await.unwrap();
    assert_eq!(zipped.headers()["content-encoding"], "gzip");
    assert_eq!(zipped.headers()["vary"], "Accept-Encoding");
    let bytes = zipped.bytes().await.unwrap();
    assert!(bytes.len() * 4 < size, "{} of {size} bytes", bytes.len());
    let mut text = String::new();
    std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(&bytes[..]), &mut text).unwrap();
    assert_eq!(text, storefront::api::OPENAPI_JSON);
}

/// Sends raw bytes on a new connection and reads the whole answer (the server closes).
async fn raw(app: &TestApp, request: &[u8]) -> (String, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let address = app.base.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    let _ = stream.write_all(request).await;
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(std::time::Duration::from_secs(10), stream.read_to_end(&mut answer)).await;
    let answer = String::from_utf8_lossy(&answer).to_string();
    let (head, body) = answer.split_once("\r\n\r\n").unwrap_or((&answer, ""));
    (head.to_ascii_lowercase(), body.to_string())
}

#[tokio::test]
async fn requests_the_http_parser_refuses_are_problems_too() {
    // Raw bytes: no client library sends these.
    let app = TestApp::spawn().await;
    let long_header = format!("GET /healthz HTTP/1.1\r\nhost: x\r\nx-big: {}\r\n\r\n", "a".repeat(70 * 1024));
    let long_target = format!(
        "GET /api/v1/products?q={} HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n",
        "a".repeat(9000)
    );
    let cases: [(&[u8], u16, &str); 4] = [
        (b"GET /healthz HTTP/1.1\r\nbad header: x\r\n\r\n", 400, "/problems/bad-request"),
        (b"GET /a\x00b HTTP/1.1\r\nhost: x\r\n\r\n", 400, "/problems/bad-request"),
        (long_header.as_bytes(), 431, "/problems/headers-too-large"),
        (long_target.as_bytes(), 414, "/problems/uri-too-long"),
    ];
    for (request, status, kind) in cases {
        let (head, body) = raw(&app, request).await;
        assert!(head.starts_with(&format!("http/1.1 {status} ")), "{status}: {head}");
        assert!(head.contains("content-type: application/problem+json"), "{head}");
        assert!(head.contains("x-content-type-options: nosniff"), "{head}");
        let request_id =
            head.lines().find_map(|l| l.strip_prefix("x-request-id: ")).expect("a request id").to_string();
        let problem: serde_json::Value =
            serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}: {body}"));
        assert_eq!(problem["type"], kind);
        assert_eq!(problem["status"], status);
        assert_eq!(problem["request_id"], request_id);
    }
}

#[tokio::test]
async fn a_chunked_body_over_the_limit_is_413_every_time() {
    let app = TestApp::spawn().await;
    let chunk = bytes::Bytes::from(vec![b'x'; 64 * 1024]);
    for attempt in 0..100 {
        // 10 MB in 160 chunks of 64 KiB, with no Content-Length: the server learns the size
        // only by reading.
        let chunks = std::iter::repeat_n(chunk.clone(), 160).map(Ok::<_, std::io::Error>);
        let body = reqwest::Body::wrap_stream(futures::stream::iter(chunks));
        let response = app
            .http
            .post(app.url("/api/v1/categories"))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap_or_else(|e| panic!("attempt {attempt}: {e:?}"));
        assert_eq!(response.status(), 413, "attempt {attempt}");
        let problem: serde_json::Value = response.json().await.unwrap();
        assert_eq!(problem["type"], "/problems/payload-too-large");
    }
}

#[tokio::test]
async fn printing_the_spec_into_a_pipe_that_closes_early_is_not_a_crash() {
    use std::io::Read;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_storefront"))
        .arg("print-spec")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = [0u8; 16];
    child.stdout.take().unwrap().read_exact(&mut first).unwrap();
    // `| head -c 16`: the reader has what it wanted and goes away.
    let status = child.wait().unwrap();
    let mut stderr = String::new();
    child.stderr.take().unwrap().read_to_string(&mut stderr).unwrap();
    assert!(status.success(), "{status}: {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(&first, &storefront::api::OPENAPI_YAML.as_bytes()[..16]);
}
