//! Categories: every operation and its documented errors.

use storefront_client::types::{CategoryInclude, CategoryInput, CategoryPatch};

use crate::common::{create_category, create_product, invalid_fields, problem_of, status_of, TestApp};

#[tokio::test]
async fn category_create_returns_201_with_location_and_etag() {
    let app = TestApp::spawn().await;
    let response = app.client.category_create().body_map(|b| b.name("Electronics")).send().await.unwrap();
    assert_eq!(response.status(), 201);
    let category = response.into_inner();
    let headers =
        app.http.get(app.url(&format!("/api/v1/categories/{}", category.id.0))).send().await.unwrap();
    assert_eq!(headers.status(), 200);
    assert_eq!(category.name.as_str(), "Electronics");
    assert!(category.products.is_empty());

    let raw = app
        .http
        .post(app.url("/api/v1/categories"))
        .json(&serde_json::json!({"name": "Groceries"}))
        .send()
        .await
        .unwrap();
    assert_eq!(raw.status(), 201);
    let location = raw.headers()["location"].to_str().unwrap().to_string();
    let etag = raw.headers()["etag"].to_str().unwrap().to_string();
    let fetched = app.http.get(app.url(&location)).send().await.unwrap();
    assert_eq!(fetched.headers()["etag"].to_str().unwrap(), etag);
}

#[tokio::test]
async fn category_create_returns_409_for_a_name_that_exists_in_any_case() {
    let app = TestApp::spawn().await;
    create_category(&app, "Electronics").await;
    let problem = problem_of(app.client.category_create().body_map(|b| b.name("ELECTRONICS")).send().await);
    assert_eq!(problem.status, 409);
    assert_eq!(problem.type_, "/problems/conflict");
    assert!(problem.request_id.is_some());
}

#[tokio::test]
async fn category_create_returns_422_naming_the_field_for_a_name_the_spec_refuses() {
    let app = TestApp::spawn().await;
    // The typed client refuses to build these, so they go raw.
    for body in [
        serde_json::json!({"name": ""}),
        serde_json::json!({"name": " padded "}),
        serde_json::json!({"name": "x".repeat(101)}),
        serde_json::json!({"name": "tab\there"}),
        serde_json::json!({"name": 42}),
        serde_json::json!({}),
    ] {
        let response = app.http.post(app.url("/api/v1/categories")).json(&body).send().await.unwrap();
        assert_eq!(response.status(), 422, "{body}");
        let problem: serde_json::Value = response.json().await.unwrap();
        assert_eq!(problem["errors"][0]["field"], "name", "{body}: {problem}");
    }
}

#[tokio::test]
async fn category_create_refuses_server_owned_fields() {
    let app = TestApp::spawn().await;
    // Raw: the typed client cannot send unknown fields.
    let response = app
        .http
        .post(app.url("/api/v1/categories"))
        .json(&serde_json::json!({"name": "Toys", "id": 99, "created_at": "2000-01-01T00:00:00Z"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 422);
    let problem: serde_json::Value = response.json().await.unwrap();
    let fields: Vec<&str> =
        problem["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap()).collect();
    assert_eq!(fields, ["created_at", "id"]);
    assert_eq!(
        status_of(app.client.category_get().id(std::num::NonZeroU64::new(99).unwrap()).send().await),
        404
    );
}

#[tokio::test]
async fn category_get_returns_the_category_with_validators_and_404_when_missing() {
    let app = TestApp::spawn().await;
    let created = create_category(&app, "Groceries").await;
    let response = app.client.category_get().id(created.id.0).send().await.unwrap();
    assert!(response.headers().contains_key("etag"));
    assert!(response.headers().contains_key("last-modified"));
    assert_eq!(response.headers()["cache-control"], "public, max-age=30");
    assert_eq!(response.into_inner().name, created.name);

    let missing = std::num::NonZeroU64::new(12345).unwrap();
    let problem = problem_of(app.client.category_get().id(missing).send().await);
    assert_eq!(problem.status, 404);
    assert_eq!(problem.instance.as_deref(), Some("/api/v1/categories/12345"));
}

#[tokio::test]
async fn category_get_returns_422_for_an_id_out_of_range() {
    let app = TestApp::spawn().await;
    // Raw: the typed client cannot send 0 or text where an id goes.
    for path in ["/api/v1/categories/0", "/api/v1/categories/abc", "/api/v1/categories/9007199254740992"] {
        let response = app.http.get(app.url(path)).send().await.unwrap();
        assert_eq!(response.status(), 422, "{path}");
    }
}

#[tokio::test]
async fn category_get_answers_304_to_a_matching_if_none_match() {
    let app = TestApp::spawn().await;
    let created = create_category(&app, "Groceries").await;
    let first = app.client.category_get().id(created.id.0).send().await.unwrap();
    let etag = first.headers()["etag"].to_str().unwrap().to_string();
    match app.client.category_get().id(created.id.0).if_none_match(etag.as_str()).send().await {
        Err(storefront_client::Error::UnexpectedResponse(response)) => {
            assert_eq!(response.status(), 304);
            assert_eq!(response.headers()["etag"].to_str().unwrap(), etag);
            assert!(response.bytes().await.unwrap().is_empty());
        }
        other => panic!("expected 304, got {other:?}"),
    }
    // Another ETag: the full answer.
    let fresh = app.client.category_get().id(created.id.0).if_none_match("\"other\"").send().await.unwrap();
    assert_eq!(fresh.status(), 200);
}

#[tokio::test]
async fn category_replace_renames_and_honours_if_match() {
    let app = TestApp::spawn().await;
    let created = create_category(&app, "Grocery").await;
    let etag = app.client.category_get().id(created.id.0).send().await.unwrap().headers()["etag"]
        .to_str()
        .unwrap()
        .to_string();
    let input: CategoryInput = CategoryInput { name: "Groceries".try_into().unwrap() };
    let replaced = app
        .client
        .category_replace()
        .id(created.id.0)
        .if_match(etag.as_str())
        .body(input.clone())
        .send()
        .await
        .unwrap();
    let new_etag = replaced.headers()["etag"].to_str().unwrap().to_string();
    assert_ne!(new_etag, etag);
    assert_eq!(replaced.into_inner().name.as_str(), "Groceries");

    // The old ETag no longer matches: 412, and nothing changes.
    let again = CategoryInput { name: "Food".try_into().unwrap() };
    let stale =
        app.client.category_replace().id(created.id.0).if_match(etag.as_str()).body(again).send().await;
    assert_eq!(status_of(stale), 412);
    let current = app.client.category_get().id(created.id.0).send().await.unwrap().into_inner();
    assert_eq!(current.name.as_str(), "Groceries");

    let missing = std::num::NonZeroU64::new(999).unwrap();
    assert_eq!(status_of(app.client.category_replace().id(missing).body(input).send().await), 404);
}

#[tokio::test]
async fn category_replace_returns_409_for_another_categorys_name() {
    let app = TestApp::spawn().await;
    create_category(&app, "Electronics").await;
    let other = create_category(&app, "Groceries").await;
    let clash = CategoryInput { name: "electronics".try_into().unwrap() };
    assert_eq!(status_of(app.client.category_replace().id(other.id.0).body(clash).send().await), 409);
    // Renaming a category to its own name in another case is fine.
    let same = CategoryInput { name: "GROCERIES".try_into().unwrap() };
    assert_eq!(app.client.category_replace().id(other.id.0).body(same).send().await.unwrap().status(), 200);
}

#[tokio::test]
async fn category_update_changes_the_name_and_refuses_an_empty_patch() {
    let app = TestApp::spawn().await;
    let created = create_category(&app, "Snacks").await;
    let patch = CategoryPatch { name: Some("Snacks & Sweets".try_into().unwrap()) };
    let updated =
        app.client.category_update().id(created.id.0).body(patch).send().await.unwrap().into_inner();
    assert_eq!(updated.name.as_str(), "Snacks & Sweets");
    assert!(updated.updated_at.0 > created.updated_at.0);

    let empty = CategoryPatch { name: None };
    let problem = problem_of(app.client.category_update().id(created.id.0).body(empty).send().await);
    assert_eq!(problem.status, 422);

    let stale = CategoryPatch { name: Some("Sweets".try_into().unwrap()) };
    let result = app.client.category_update().id(created.id.0).if_match("\"1-0\"").body(stale).send().await;
    assert_eq!(status_of(result), 412);
    let missing = std::num::NonZeroU64::new(999).unwrap();
    let patch = CategoryPatch { name: Some("Sweets".try_into().unwrap()) };
    assert_eq!(status_of(app.client.category_update().id(missing).body(patch).send().await), 404);
}

#[tokio::test]
async fn category_delete_returns_204_then_404() {
    let app = TestApp::spawn().await;
    let created = create_category(&app, "Toys").await;
    let deleted = app.client.category_delete().id(created.id.0).send().await.unwrap();
    assert_eq!(deleted.status(), 204);
    assert_eq!(status_of(app.client.category_get().id(created.id.0).send().await), 404);
    assert_eq!(status_of(app.client.category_delete().id(created.id.0).send().await), 404);
}

#[tokio::test]
async fn category_delete_returns_409_while_the_category_has_products() {
    let app = TestApp::spawn().await;
    let category = create_category(&app, "Electronics").await;
    let product = create_product(&app, category.id.0.get(), "Mi LED TV", "12499.00", 3, &[]).await;
    let problem = problem_of(app.client.category_delete().id(category.id.0).send().await);
    assert_eq!(problem.status, 409);
    assert_eq!(app.client.category_get().id(category.id.0).send().await.unwrap().status(), 200);

    app.client.product_delete().id(product.id.0).send().await.unwrap();
    assert_eq!(app.client.category_delete().id(category.id.0).send().await.unwrap().status(), 204);
}

#[tokio::test]
async fn category_delete_returns_412_for_a_stale_if_match() {
    let app = TestApp::spawn().await;
    let created = create_category(&app, "Toys").await;
    let result = app.client.category_delete().id(created.id.0).if_match("\"7-1\"").send().await;
    assert_eq!(status_of(result), 412);
    let response = app.client.category_get().id(created.id.0).send().await.unwrap();
    let etag = response.headers()["etag"].to_str().unwrap().to_string();
    assert_eq!(
        app.client.category_delete().id(created.id.0).if_match(etag.as_str()).send().await.unwrap().status(),
        204
    );
}

#[tokio::test]
async fn category_list_pages_by_offset_and_by_cursor() {
    let app = TestApp::spawn().await;
    for name in ["A", "B", "C", "D", "E"] {
        create_category(&app, name).await;
    }
    let limit = std::num::NonZeroU64::new(2).unwrap();
    let first = app.client.category_list().limit(limit).send().await.unwrap();
    let link = first.headers()["link"].to_str().unwrap().to_string();
    let first = first.into_inner();
    assert_eq!(first.total, Some(5));
    assert_eq!(names(&first.items), ["A", "B"]);
    assert!(first.links.next.is_some());
    assert!(first.links.prev.is_none());
    assert!(link.contains("rel=\"next\"") && link.contains("rel=\"first\""));

    let by_offset = app.client.category_list().limit(limit).offset(4).send().await.unwrap().into_inner();
    assert_eq!(names(&by_offset.items), ["E"]);
    assert!(by_offset.next_cursor.is_none());
    assert!(by_offset.links.prev.as_deref().is_some_and(|p| p.contains("offset=2")));

    // Walk the whole list by cursor, then back.
    let mut seen = names(&first.items);
    let mut cursor = first.next_cursor.clone();
    let mut last_page = first;
    while let Some(next) = cursor {
        let page = app.client.category_list().limit(limit).cursor(next).send().await.unwrap().into_inner();
        assert_eq!(page.total, None);
        seen.extend(names(&page.items));
        cursor = page.next_cursor.clone();
        last_page = page;
    }
    assert_eq!(seen, ["A", "B", "C", "D", "E"]);
    let back = last_page.prev_cursor.clone().expect("a previous page");
    let previous = app.client.category_list().limit(limit).cursor(back).send().await.unwrap().into_inner();
    assert_eq!(names(&previous.items), ["C", "D"]);
}

#[tokio::test]
async fn category_list_embeds_products_on_request() {
    let app = TestApp::spawn().await;
    app.seed_demo().await;
    let plain = app.client.category_list().send().await.unwrap().into_inner();
    assert!(plain.items.iter().all(|c| c.products.is_empty()));

    let page =
        app.client.category_list().include(CategoryInclude::Products).send().await.unwrap().into_inner();
    let embedded: Vec<(String, Vec<String>)> = page
        .items
        .iter()
        .map(|c| (c.name.to_string(), c.products.iter().map(|p| p.name.to_string()).collect()))
        .collect();
    assert_eq!(
        embedded,
        [
            ("Electronics".to_string(), vec!["Mi LED TV".to_string(), "Samsung Galaxy S23".to_string()]),
            (
                "Groceries".to_string(),
                ["Amul Butter", "Tata Tea", "Parle-G Biscuits", "Tata Salt"].map(String::from).to_vec()
            ),
        ]
    );
    let tv = &page.items[0].products[0];
    assert_eq!(tv.tags.iter().map(|t| t.as_str()).collect::<Vec<_>>(), ["smart-tv", "television"]);
}

#[tokio::test]
async fn category_list_returns_422_for_parameters_out_of_range() {
    let app = TestApp::spawn().await;
    // Raw: the typed client only sends values the spec allows.
    let response =
        app.http.get(app.url("/api/v1/categories?limit=101&offset=-1&include=tags")).send().await.unwrap();
    assert_eq!(response.status(), 422);
    let problem: storefront_client::types::Problem = response.json().await.unwrap();
    assert_eq!(invalid_fields(&problem), ["include", "limit", "offset"]);

    let both = app.http.get(app.url("/api/v1/categories?offset=1&cursor=abc")).send().await.unwrap();
    assert_eq!(both.status(), 422);
}

#[tokio::test]
async fn category_list_answers_304_when_the_page_is_unchanged() {
    let app = TestApp::spawn().await;
    create_category(&app, "A").await;
    let first = app.client.category_list().send().await.unwrap();
    let etag = first.headers()["etag"].to_str().unwrap().to_string();
    match app.client.category_list().if_none_match(etag.as_str()).send().await {
        Err(storefront_client::Error::UnexpectedResponse(response)) => assert_eq!(response.status(), 304),
        other => panic!("expected 304, got {other:?}"),
    }
    create_category(&app, "B").await;
    assert_eq!(app.client.category_list().if_none_match(etag.as_str()).send().await.unwrap().status(), 200);
}

fn names(items: &[storefront_client::types::Category]) -> Vec<String> {
    items.iter().map(|c| c.name.to_string()).collect()
}
