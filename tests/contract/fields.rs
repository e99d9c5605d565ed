//! Sparse fieldsets (`fields=`) on products: the members asked for, on a product and on every
//! item of a page; an ETag per fieldset and 304 by it; unknown members refused; nothing changes
//! without `fields`.
//!
//! A sparse product lacks members the spec's `Product` requires, so the generated client cannot
//! decode it (the parameter's description says so): those answers are read as raw HTTP, marked
//! so below. The client sends `fields` fine, and decodes errors and a fieldset of every member.

use std::num::NonZeroU64;

use serde_json::{json, Value};
use storefront_client::types::ProductPatch;

use crate::common::{create_category, create_product, invalid_fields, problem_of, TestApp};

fn id(n: u64) -> NonZeroU64 {
    NonZeroU64::new(n).unwrap()
}

/// Status, ETag and JSON body (`Null` when there is none) of a raw GET (or HEAD).
async fn fetch(
    app: &TestApp,
    method: reqwest::Method,
    path: &str,
    if_none_match: Option<&str>,
) -> (u16, String, Value) {
    let mut request = app.anonymous_http.request(method, app.url(path));
    if let Some(etag) = if_none_match {
        request = request.header("if-none-match", etag);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let etag = response.headers().get("etag").map(|v| v.to_str().unwrap().to_string()).unwrap_or_default();
    let bytes = response.bytes().await.unwrap();
    let body = if bytes.is_empty() { Value::Null } else { serde_json::from_slice(&bytes).unwrap() };
    (status, etag, body)
}

async fn two_products(app: &TestApp) -> Vec<u64> {
    let category = create_category(app, "Tea").await;
    let mut ids = Vec::new();
    for (name, price) in [("Assam", "4.50"), ("Darjeeling", "7.25")] {
        ids.push(create_product(app, category.id.0.get(), name, price, 3, &["black"]).await.id.0.get());
    }
    ids
}

#[tokio::test]
async fn product_get_with_fields_returns_only_those_members() {
    let app = TestApp::spawn().await;
    let ids = two_products(&app).await;
    // Raw HTTP: the generated client cannot decode a product without its required members.
    let (status, _, body) =
        fetch(&app, reqwest::Method::GET, &format!("/api/v1/products/{}?fields=id,name,price", ids[0]), None)
            .await;
    assert_eq!(status, 200);
    assert_eq!(body, json!({"id": ids[0], "name": "Assam", "price": "4.50"}));
}

#[tokio::test]
async fn product_list_with_fields_narrows_every_item_and_keeps_the_page_whole() {
    let app = TestApp::spawn().await;
    let ids = two_products(&app).await;
    // Raw HTTP: the generated client cannot decode items without their required members.
    let (status, _, body) =
        fetch(&app, reqwest::Method::GET, "/api/v1/products?fields=name,id&limit=1&offset=0", None).await;
    assert_eq!(status, 200);
    assert_eq!(body["items"], json!([{"id": ids[0], "name": "Assam"}]));
    assert_eq!(body["total"], 2);
    let next = body["links"]["next"].as_str().expect("a next link");
    assert!(next.contains("fields=name%2Cid") || next.contains("fields=name,id"), "{next}");
    let (_, _, second) = fetch(&app, reqwest::Method::GET, next.trim_start_matches(&app.base), None).await;
    assert_eq!(second["items"], json!([{"id": ids[1], "name": "Darjeeling"}]));
}

#[tokio::test]
async fn each_fieldset_has_its_own_etag_and_304_by_it() {
    let app = TestApp::spawn().await;
    let ids = two_products(&app).await;
    let get = |query: &str| format!("/api/v1/products/{}{query}", ids[0]);
    for (path, other) in [
        (get(""), get("?fields=id,name")),
        ("/api/v1/products".into(), "/api/v1/products?fields=id,name".into()),
    ] {
        let (_, full, _) = fetch(&app, reqwest::Method::GET, &path, None).await;
        let (_, sparse, _) = fetch(&app, reqwest::Method::GET, &other, None).await;
        assert!(sparse.starts_with('"') && !sparse.starts_with("W/"), "a strong ETag: {sparse}");
        assert_ne!(full, sparse, "{path} and {other} share an ETag");
        let (_, narrower, _) = fetch(&app, reqwest::Method::GET, &format!("{path}?fields=id"), None).await;
        assert_ne!(narrower, sparse);
        // The fieldset's ETag revalidates the fieldset's representation, not the full one.
        assert_eq!(fetch(&app, reqwest::Method::GET, &other, Some(&sparse)).await.0, 304);
        assert_eq!(fetch(&app, reqwest::Method::GET, &other, Some(&full)).await.0, 200);
        assert_eq!(fetch(&app, reqwest::Method::GET, &path, Some(&sparse)).await.0, 200);
        // The order of the members and repeats do not make another product representation (a
        // page's links repeat the query as sent, so there they do).
        if !path.ends_with("/products") {
            let reordered = other.replace("fields=id,name", "fields=name,id,name");
            let (status, etag, _) = fetch(&app, reqwest::Method::GET, &reordered, Some(&sparse)).await;
            assert_eq!((status, etag), (304, sparse.clone()));
        }
        // HEAD answers like GET, without the body.
        let (status, etag, body) = fetch(&app, reqwest::Method::HEAD, &other, None).await;
        assert_eq!((status, etag, body), (200, sparse, Value::Null));
    }
    // A write changes the fieldset's ETag too.
    let patch = ProductPatch { stock: Some(9.into()), ..Default::default() };
    app.client.product_update().id(id(ids[0])).body(patch).send().await.unwrap();
    let (status, _, body) = fetch(&app, reqwest::Method::GET, &get("?fields=stock"), None).await;
    assert_eq!((status, body), (200, json!({"stock": 9})));
}

#[tokio::test]
async fn fields_naming_an_unknown_or_empty_member_is_422_naming_the_parameter() {
    let app = TestApp::spawn().await;
    let ids = two_products(&app).await;
    let problem = problem_of(app.client.product_get().id(id(ids[0])).fields("id,colour").send().await);
    assert_eq!(invalid_fields(&problem), ["fields"]);
    assert!(problem.errors[0].message.contains("`colour`"), "{problem:?}");
    assert!(!problem.errors[0].message.contains("`id`;"), "{problem:?}");
    let problem = problem_of(app.client.product_list().fields("name,weight").send().await);
    assert_eq!(invalid_fields(&problem), ["fields"]);
    assert!(problem.errors[0].message.contains("`weight`"), "{problem:?}");
    // What the pattern refuses never reaches the server through the client: raw HTTP.
    for fields in ["", "id,,name", "id,", ",id", "Name", "id%20"] {
        let response = app
            .anonymous_http
            .get(app.url(&format!("/api/v1/products?fields={fields}")))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 422, "fields={fields}");
        assert_eq!(response.headers()["content-type"], "application/problem+json");
        let problem: Value = response.json().await.unwrap();
        assert_eq!(problem["errors"][0]["field"], "fields", "fields={fields}: {problem}");
    }
}

#[tokio::test]
async fn without_fields_the_typed_client_reads_whole_products_as_before() {
    let app = TestApp::spawn().await;
    let ids = two_products(&app).await;
    let response = app.client.product_get().id(id(ids[0])).send().await.unwrap();
    let etag = response.headers()["etag"].to_str().unwrap().to_string();
    assert!(!etag.contains("fields"), "{etag}");
    let product = response.into_inner();
    assert_eq!((product.name.as_str(), product.price.as_str()), ("Assam", "4.50"));
    let page = app.client.product_list().send().await.unwrap().into_inner();
    assert_eq!(page.items.len(), 2);
    // A fieldset of every member is a whole product, which the typed client decodes.
    let every = "id,name,description,price,stock,category_id,tags,created_at,updated_at";
    let whole = app.client.product_get().id(id(ids[0])).fields(every).send().await.unwrap();
    assert_ne!(whole.headers()["etag"].to_str().unwrap(), etag);
    assert_eq!(serde_json::to_value(whole.into_inner()).unwrap(), serde_json::to_value(product).unwrap());
}
