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

/// Products stored before their tag names were kept in the row get them from their links when
/// the migration runs (20261130100001), on either back-end.
#[tokio::test]
async fn the_migration_that_keeps_tag_names_in_the_row_fills_them_from_the_links() {
    use sqlx::Connection;
    let app = TestApp::spawn().await;
    let category = create_category(&app, "Kitchen").await;
    let tagged = create_product(&app, category.id.0.get(), "Kettle", "20", 1, &["steel", "Electric"]).await;
    let plain = create_product(&app, category.id.0.get(), "Spoon", "1", 1, &[]).await;
    // As the previous release left the database: no column, and no record of the migration.
    sqlx::any::install_default_drivers();
    let mut connection = sqlx::AnyConnection::connect(&app.database_url).await.unwrap();
    for statement in [
        "ALTER TABLE products DROP COLUMN tags",
        "DELETE FROM _sqlx_migrations WHERE version = 20261130100001",
    ] {
        sqlx::query(statement).execute(&mut connection).await.unwrap();
    }
    connection.close().await.unwrap();

    let config = storefront::config::Config::with_database(app.database_url.clone());
    let reopened = storefront::open_for_operator(&config, false).await.unwrap();
    let actor = storefront::app::Actor::Operator;
    let kettle = reopened.product_get(&actor, tagged.id.0.get().try_into().unwrap()).await.unwrap();
    assert_eq!(kettle.tags, ["Electric", "steel"]);
    let spoon = reopened.product_get(&actor, plain.id.0.get().try_into().unwrap()).await.unwrap();
    assert!(spoon.tags.is_empty());
    // The same through the list, which reads the column for every row.
    let page = reopened
        .product_list(
            &actor,
            &Default::default(),
            storefront::domain::ProductSort { key: storefront::domain::SortKey::Id, descending: false },
            &storefront::domain::Start::Offset(0),
            10,
        )
        .await
        .unwrap();
    let tags: Vec<Vec<String>> = page.items.into_iter().map(|p| p.tags).collect();
    assert_eq!(tags, [vec!["Electric".to_string(), "steel".into()], vec![]]);
    reopened.store().close().await;
}
