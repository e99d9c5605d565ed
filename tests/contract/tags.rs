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

/// A new product's links are inserted in the batch that inserts it, by the id the back-end last
/// generated (store/sql/catalog.rs): each product must be linked to its own tags, new and
/// existing ones, and to no other product's.
#[tokio::test]
async fn a_new_product_is_linked_to_its_own_tags_only() {
    let app = TestApp::spawn().await;
    let category = create_category(&app, "Pantry").await;
    let c = category.id.0.get();
    let tea = create_product(&app, c, "Tea", "3", 1, &["drink", "Leaf", "hot"]).await;
    let coffee = create_product(&app, c, "Coffee", "5", 1, &["HOT", "bean", "drink"]).await;
    let salt = create_product(&app, c, "Salt", "1", 1, &[]).await;
    let soup = create_product(&app, c, "Soup", "4", 1, &["hot"]).await;
    assert_eq!(coffee.tags.iter().map(|t| t.as_str()).collect::<Vec<_>>(), ["bean", "drink", "hot"]);
    assert!(salt.tags.is_empty());
    let tagged = |tag: &'static str| {
        let client = app.client.clone();
        async move {
            let page = client.product_list().tag(tag).send().await.unwrap().into_inner();
            page.items.into_iter().map(|p| p.id.0.get()).collect::<Vec<_>>()
        }
    };
    assert_eq!(tagged("hot").await, [tea.id.0.get(), coffee.id.0.get(), soup.id.0.get()]);
    assert_eq!(tagged("drink").await, [tea.id.0.get(), coffee.id.0.get()]);
    assert_eq!(tagged("leaf").await, [tea.id.0.get()]);
    assert_eq!(tagged("bean").await, [coffee.id.0.get()]);
}

/// A product with tags is created by one batch (on SQLite its `BEGIN` and `COMMIT` included):
/// one that fails half-way writes nothing, and the connection is fit for the next write.
#[tokio::test]
async fn a_create_that_fails_half_way_writes_nothing() {
    let app = TestApp::spawn().await;
    let category = create_category(&app, "Pantry").await;
    let missing = app
        .http
        .post(app.url("/api/v1/products"))
        .json(&serde_json::json!({"name": "Ghost", "price": "1", "stock": 1, "category_id": 999, "tags": ["unseen"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 422);
    let tags = app.client.tag_list().send().await.unwrap().into_inner();
    assert!(tags.items.is_empty(), "the tag the failed create made is gone with it");
    let made = create_product(&app, category.id.0.get(), "Tea", "3", 1, &["unseen"]).await;
    assert_eq!(made.tags.iter().map(|t| t.as_str()).collect::<Vec<_>>(), ["unseen"]);
}

/// A server with the category "Pantry", and the store opened beside it as the CLI opens it, for
/// creates made through the application directly.
async fn with_the_store() -> (TestApp, storefront_client::types::Category, storefront::app::App) {
    let app = TestApp::spawn().await;
    let category = create_category(&app, "Pantry").await;
    let config = storefront::config::Config::with_database(app.database_url.clone());
    let direct = storefront::open_for_operator(&config, false).await.unwrap();
    (app, category, direct)
}

/// The same when the request is abandoned half-way (its future dropped after a few polls,
/// wherever the write then is): each product is there with all its links or not at all, and
/// the store keeps writing.
#[tokio::test]
async fn a_create_abandoned_half_way_leaves_nothing_half_written() {
    let (app, category, direct) = with_the_store().await;
    let actor = storefront::app::Actor::Operator;
    let new = |name: String, tags: Vec<String>| new_product(name, category.id.0.get(), tags);
    for i in 0..24 {
        let product = new(format!("Abandoned {i}"), vec!["left".into(), format!("t{i}")]);
        let create = direct.product_create(&actor, &product);
        tokio::pin!(create);
        for _ in 0..i % 6 {
            if futures::poll!(&mut create).is_ready() {
                break;
            }
            tokio::task::yield_now().await;
        }
    }
    let after = direct.product_create(&actor, &new("After".into(), vec!["left".into()])).await.unwrap();
    assert_eq!(after.tags, ["left"]);
    let all = app.client.product_list().limit(std::num::NonZeroU64::new(100).unwrap()).send().await.unwrap();
    let left =
        app.client.product_list().tag("left").limit(std::num::NonZeroU64::new(100).unwrap()).send().await;
    let (all, left) = (all.into_inner().items, left.unwrap().into_inner().items);
    for product in all.iter().filter(|p| p.name.starts_with("Abandoned")) {
        let i = product.name.trim_start_matches("Abandoned ");
        let tags: Vec<&str> = product.tags.iter().map(|t| t.as_str()).collect();
        assert_eq!(tags, ["left".to_string(), format!("t{i}")]);
        let linked = app.client.product_list().tag(format!("t{i}")).send().await.unwrap().into_inner().items;
        assert_eq!(linked.iter().map(|p| p.id.0.get()).collect::<Vec<_>>(), [product.id.0.get()]);
    }
    assert_eq!(left.len(), all.len(), "every product, and only they, linked to `left`");
    direct.store().close().await;
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

/// `products`, created through the store at once while another connection holds SQLite's write
/// lock: the first create waits for it and the others queue behind that one, so that they are
/// committed together (SQLite's group commit, store/sql/group.rs). On PostgreSQL each is its own
/// transaction. Their outcomes, in order.
async fn created_while_the_writer_is_busy(
    app: &TestApp,
    direct: &storefront::app::App,
    products: &[storefront::domain::NewProduct],
) -> Vec<Result<storefront::domain::Product, storefront::error::Error>> {
    use sqlx::Connection;
    let actor = storefront::app::Actor::Operator;
    let mut blocker = if app.database_url.starts_with("sqlite:") {
        let mut connection = sqlx::SqliteConnection::connect(&app.database_url).await.unwrap();
        sqlx::query("BEGIN IMMEDIATE").execute(&mut connection).await.unwrap();
        Some(connection)
    } else {
        None
    };
    let creates = futures::future::join_all(products.iter().map(|p| direct.product_create(&actor, p)));
    tokio::pin!(creates);
    // Every create reaches the queue while the lock is held.
    for _ in 0..products.len() {
        assert!(futures::poll!(&mut creates).is_pending());
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    if let Some(connection) = &mut blocker {
        sqlx::query("COMMIT").execute(connection).await.unwrap();
    }
    creates.await
}

/// A product named `name` in `category_id`, with the tags `tags`.
fn new_product(name: String, category_id: u64, tags: Vec<String>) -> storefront::domain::NewProduct {
    storefront::domain::NewProduct {
        name,
        description: String::new(),
        price_cents: 100,
        stock: 1,
        category_id: category_id.try_into().unwrap(),
        tags,
    }
}

/// Creates that arrive while the writer is busy are committed together: each is answered with
/// its own outcome, one that fails (a missing category) is rolled back alone, with the tag it
/// made, and the others are made with all their links. On PostgreSQL each is its own
/// transaction; the outcomes are the same.
#[tokio::test]
async fn creates_made_together_are_answered_each_and_fail_alone() {
    let (app, category, direct) = with_the_store().await;
    let sqlite = app.database_url.starts_with("sqlite:");
    // The first create is made alone; of the group of the 19 others, the first and the last
    // fail too (the group's transaction begins and commits in their hand-offs).
    let fails = |i: usize| i % 5 == 3 || i == 1 || i == 19;
    let good = (0..20).filter(|&i| !fails(i)).count();
    let products: Vec<_> = (0..20)
        .map(|i| {
            let category_id = if fails(i) { 999 } else { category.id.0.get() };
            new_product(format!("Grouped {i}"), category_id, vec!["grouped".into(), format!("g{i}")])
        })
        .collect();
    let outcomes = created_while_the_writer_is_busy(&app, &direct, &products).await;
    for (i, outcome) in outcomes.iter().enumerate() {
        match outcome {
            Ok(product) if !fails(i) => {
                assert_eq!(product.tags, ["g".to_string() + &i.to_string(), "grouped".into()])
            }
            Err(storefront::error::Error::Invalid(errors)) if fails(i) => {
                assert_eq!(errors[0].field, "category_id")
            }
            other => panic!("create {i}: {other:?}"),
        }
    }
    let limit = std::num::NonZeroU64::new(100).unwrap();
    let grouped = app.client.product_list().tag("grouped").limit(limit).send().await.unwrap().into_inner();
    assert_eq!(grouped.items.len(), good, "the good creates, and only they");
    let tags = app.client.tag_list().limit(limit).send().await.unwrap().into_inner().items;
    let names: Vec<&str> = tags.iter().map(|t| t.name.as_str()).collect();
    for i in 0..20 {
        assert_eq!(names.contains(&format!("g{i}").as_str()), !fails(i), "tag g{i}: {names:?}");
    }
    let made = direct.store().grouped_writes();
    if sqlite {
        assert_eq!(made.writes, good as u64);
        assert!(made.groups <= 3, "{made:?}: the first create alone, then the rest together");
    } else {
        assert_eq!(made, storefront::store::GroupedWrites::default());
    }
    direct.store().close().await;
}

/// A group in which no create fails: each create is answered with its own product (the rows of
/// the group's transaction go back to the create that made them, in order), and every one is
/// there afterwards with its tags.
#[tokio::test]
async fn creates_made_together_without_a_failure_are_each_answered_with_their_own_product() {
    let (app, category, direct) = with_the_store().await;
    let products: Vec<_> = (0..12)
        .map(|i| {
            let tags = vec!["together".into(), format!("t{i}")];
            new_product(format!("Together {i}"), category.id.0.get(), tags)
        })
        .collect();
    let outcomes = created_while_the_writer_is_busy(&app, &direct, &products).await;
    let mut ids = Vec::new();
    for (i, outcome) in outcomes.into_iter().enumerate() {
        let product = outcome.unwrap_or_else(|e| panic!("create {i}: {e:?}"));
        assert_eq!(product.name, format!("Together {i}"));
        assert_eq!(product.tags, [format!("t{i}"), "together".into()]);
        ids.push(product.id);
    }
    let distinct: std::collections::BTreeSet<_> = ids.iter().collect();
    assert_eq!(distinct.len(), 12, "each its own product");
    for (i, id) in ids.iter().enumerate() {
        let read = direct.product_get(&storefront::app::Actor::Operator, *id).await.unwrap();
        assert_eq!((read.name.as_str(), read.tags.len()), (format!("Together {i}").as_str(), 2));
    }
    let made = direct.store().grouped_writes();
    if app.database_url.starts_with("sqlite:") {
        assert_eq!(made.writes, 12);
        assert!(made.groups <= 2, "{made:?}: the first create alone, then the rest together");
    }
    direct.store().close().await;
}
