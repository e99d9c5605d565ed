//! Problem types resolve: every `type` an error carries answers a short page (HTML, or JSON for
//! a client that asks for it), as RFC 9457 recommends. Raw HTTP for the page and the `Accept`
//! header; the generated client for the page's bytes.

use storefront::error::Kind;

use crate::common::TestApp;

#[tokio::test]
async fn every_problem_type_resolves_to_a_page_and_to_json() {
    let app = TestApp::spawn().await;
    for kind in Kind::ALL {
        let uri = kind.type_uri();
        let page = app.anonymous_http.get(app.url(uri)).header("accept", "text/html").send().await.unwrap();
        assert_eq!(page.status(), 200, "{uri}");
        assert_eq!(page.headers()["content-type"], "text/html; charset=utf-8", "{uri}");
        let html = page.text().await.unwrap();
        assert!(html.starts_with("<!DOCTYPE html>"), "{uri}");
        assert!(html.contains(&format!("<h1>{}</h1>", kind.title())), "{uri}: {html}");
        assert!(html.contains(&kind.status().to_string()), "{uri}");

        let json =
            app.anonymous_http.get(app.url(uri)).header("accept", "application/json").send().await.unwrap();
        assert_eq!(json.status(), 200, "{uri}");
        assert_eq!(json.headers()["content-type"], "application/json", "{uri}");
        let body: serde_json::Value = json.json().await.unwrap();
        assert_eq!(body["type"], uri);
        assert_eq!(body["title"], kind.title());
        assert_eq!(body["status"], kind.status());
        assert!(body["description"].as_str().is_some_and(|d| d.len() > 20), "{uri}: {body}");
    }
}

#[tokio::test]
async fn the_type_of_a_real_error_resolves() {
    let app = TestApp::spawn().await;
    let invalid = app
        .http
        .post(app.url("/api/v1/categories"))
        .json(&serde_json::json!({"name": ""}))
        .send()
        .await
        .unwrap();
    assert_eq!(invalid.status(), 422);
    let problem: serde_json::Value = invalid.json().await.unwrap();
    let uri = problem["type"].as_str().unwrap();
    assert_eq!(uri, "/problems/validation-failed");
    // Through the generated client: the page comes back as bytes.
    let page = app.anonymous.problem_type().name("validation-failed").send().await.unwrap();
    let bytes: Vec<u8> = futures::TryStreamExt::try_concat(futures::TryStreamExt::map_ok(
        page.into_inner().into_inner(),
        |b| b.to_vec(),
    ))
    .await
    .unwrap();
    assert!(String::from_utf8(bytes).unwrap().contains("<h1>Validation failed</h1>"));
}

#[tokio::test]
async fn an_unknown_problem_type_is_404_and_a_malformed_one_422() {
    let app = TestApp::spawn().await;
    let unknown = app.anonymous_http.get(app.url("/problems/no-such-problem")).send().await.unwrap();
    assert_eq!(unknown.status(), 404);
    assert_eq!(unknown.headers()["content-type"], "application/problem+json");
    let malformed = app.anonymous_http.get(app.url("/problems/Not_A_Name")).send().await.unwrap();
    assert_eq!(malformed.status(), 422);
}
