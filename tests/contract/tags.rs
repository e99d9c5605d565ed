//! Tags: created through products, read here.

use crate::common::{create_category, create_product, status_of, TestApp};

#[tokio::test]
async fn tags_named_by_products_are_created_once_ignoring_case() {
    let app = TestApp::spawn().await;
    let category = create_category(&app, "Electronics").await;
    create_product(&app, category.id.0.get(), "TV", "100", 1, &["Television", "smart"]).await;
    let phone = create_product(&app, category.id.0.get(), "Phone", "50", 1, &["SMART", "5g"]).await;
    // The existing tag keeps its first spelling.
    assert_eq!(phone.tags.iter().map(|t| t.as_str()).collect::<Vec<_>>(), ["5g", "smart"]);

    let page = app.client.tag_list().send().await.unwrap().into_inner();
    let mut names: Vec<&str> = page.items.iter().map(|t| t.name.as_str()).collect();
    names.sort_by_key(|n| n.to_lowercase());
    assert_eq!(names, ["5g", "smart", "Television"]);
    assert_eq!(page.total, Some(3));
}

#[tokio::test]
async fn tag_list_pages_by_cursor() {
    let app = TestApp::spawn().await;
    let category = create_category(&app, "C").await;
    create_product(&app, category.id.0.get(), "P", "1", 1, &["a", "b", "c"]).await;
    let limit = std::num::NonZeroU64::new(2).unwrap();
    let first = app.client.tag_list().limit(limit).send().await.unwrap().into_inner();
    assert_eq!(first.items.len(), 2);
    let rest = app
        .client
        .tag_list()
        .limit(limit)
        .cursor(first.next_cursor.unwrap())
        .send()
        .await
        .unwrap()
        .into_inner();
    assert_eq!(rest.items.len(), 1);
    assert!(rest.next_cursor.is_none());
    assert!(rest.prev_cursor.is_some());
}

#[tokio::test]
async fn tag_get_returns_the_tag_304_or_404() {
    let app = TestApp::spawn().await;
    let category = create_category(&app, "C").await;
    create_product(&app, category.id.0.get(), "P", "1", 1, &["organic"]).await;
    let id = std::num::NonZeroU64::new(1).unwrap();
    let response = app.client.tag_get().id(id).send().await.unwrap();
    let etag = response.headers()["etag"].to_str().unwrap().to_string();
    assert_eq!(response.into_inner().name.as_str(), "organic");
    match app.client.tag_get().id(id).if_none_match(etag.as_str()).send().await {
        Err(storefront_client::Error::UnexpectedResponse(response)) => assert_eq!(response.status(), 304),
        other => panic!("expected 304, got {other:?}"),
    }
    assert_eq!(status_of(app.client.tag_get().id(std::num::NonZeroU64::new(2).unwrap()).send().await), 404);
}
