//! Idempotency keys on the POSTs that create something: a retry gets the first answer, once.
//!
//! Through the generated client, which sends `Idempotency-Key` (a declared header parameter),
//! and through raw HTTP where a test compares bytes and headers exactly (marked so).

use std::num::NonZeroU64;
use std::time::Duration;

use storefront::store::KeyClaim;
use storefront_client::types::Role;

use crate::common::{create_category, problem_of, status_of, ServerProcess, TestApp};

const PRODUCTS: &str = "/api/v1/products";

fn product_body(category_id: u64, name: &str) -> serde_json::Value {
    serde_json::json!({"name": name, "price": "560.00", "stock": 20, "category_id": category_id, "tags": ["tea"]})
}

/// What a response is, for comparing a replay with the first answer.
#[derive(Debug, PartialEq, Eq)]
struct Seen {
    status: u16,
    location: Option<String>,
    etag: Option<String>,
    last_modified: Option<String>,
    content_type: Option<String>,
    body: Vec<u8>,
}

/// Raw HTTP: the body's exact bytes and the headers, which the generated client parses away.
async fn post(http: &reqwest::Client, url: &str, key: &str, body: &serde_json::Value) -> (Seen, bool) {
    let response = http.post(url).header("idempotency-key", key).json(body).send().await.unwrap();
    let header = |name: &str| response.headers().get(name).map(|v| v.to_str().unwrap().to_string());
    let replayed = header("idempotent-replayed").as_deref() == Some("true");
    let seen = Seen {
        status: response.status().as_u16(),
        location: header("location"),
        etag: header("etag"),
        last_modified: header("last-modified"),
        content_type: header("content-type"),
        body: Vec::new(),
    };
    let body = response.bytes().await.unwrap().to_vec();
    (Seen { body, ..seen }, replayed)
}

async fn product_count(app: &TestApp) -> i64 {
    app.client.product_list().send().await.unwrap().into_inner().total.unwrap()
}

/// The caller scope the server gives a user's keys (for arranging a claim in the store).
async fn admin_scope(app: &TestApp) -> String {
    let (admin, _) = app.app().store().user_for_login("admin").await.unwrap().unwrap();
    format!("user:{}", admin.id)
}

#[tokio::test]
async fn a_retried_create_gets_the_first_answer_byte_for_byte_and_creates_one_row() {
    let app = TestApp::spawn().await;
    let category = create_category(&app, "Groceries").await;
    let body = product_body(category.id.0.get(), "Tata Tea Gold");
    let url = app.url(PRODUCTS);

    let (first, replayed) = post(&app.http, &url, "create-tea-1", &body).await;
    assert_eq!(first.status, 201, "{:?}", String::from_utf8_lossy(&first.body));
    assert!(!replayed);
    assert!(first.location.is_some() && first.etag.is_some() && first.last_modified.is_some());
    // Time passes (Last-Modified has a resolution of a second): a new answer would differ.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    for _ in 0..2 {
        let (again, replayed) = post(&app.http, &url, "create-tea-1", &body).await;
        assert!(replayed, "a retry is marked as the replay it is");
        assert_eq!(again, first);
    }
    assert_eq!(product_count(&app).await, 1, "one product, however many retries");

    // The generated client sends the header too; a new key is a new request.
    let created = app
        .client
        .product_create()
        .idempotency_key("create-tea-2")
        .body(
            serde_json::from_value::<storefront_client::types::ProductInput>(product_body(
                category.id.0.get(),
                "Tata Tea Premium",
            ))
            .unwrap(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    assert_eq!(product_count(&app).await, 2);
}

#[tokio::test]
async fn the_same_key_with_another_body_path_or_operation_is_422_and_changes_nothing() {
    let app = TestApp::spawn().await;
    let category = create_category(&app, "Groceries").await;
    let url = app.url(PRODUCTS);
    let (first, _) = post(&app.http, &url, "k-1", &product_body(category.id.0.get(), "Tea")).await;
    assert_eq!(first.status, 201);

    let (other_body, _) = post(&app.http, &url, "k-1", &product_body(category.id.0.get(), "Coffee")).await;
    assert_eq!(other_body.status, 422);
    assert_eq!(other_body.content_type.as_deref(), Some("application/problem+json"));
    let problem: serde_json::Value = serde_json::from_slice(&other_body.body).unwrap();
    assert_eq!(problem["status"], 422);
    assert!(problem["detail"].as_str().unwrap().contains("Idempotency-Key"), "{problem}");
    assert!(problem["request_id"].is_string(), "{problem}");

    // Another operation with the same key: 422 too, through the generated client.
    let problem = problem_of(
        app.client.category_create().idempotency_key("k-1").body_map(|b| b.name("Beverages")).send().await,
    );
    assert_eq!(problem.status, 422);
    assert_eq!(product_count(&app).await, 1);
    let categories = app.client.category_list().send().await.unwrap().into_inner();
    assert_eq!(categories.total, Some(1), "no category was created");
}

#[tokio::test]
async fn a_failed_first_attempt_releases_the_key_for_a_corrected_retry() {
    let app = TestApp::spawn().await;
    let url = app.url(PRODUCTS);
    // No category 77: 422, and the key is not kept.
    let (failed, replayed) = post(&app.http, &url, "k-fix", &product_body(77, "Tea")).await;
    assert_eq!((failed.status, replayed), (422, false));
    let category = create_category(&app, "Groceries").await;
    let corrected = product_body(category.id.0.get(), "Tea");
    let (created, replayed) = post(&app.http, &url, "k-fix", &corrected).await;
    assert_eq!((created.status, replayed), (201, false), "{:?}", String::from_utf8_lossy(&created.body));
    let (again, replayed) = post(&app.http, &url, "k-fix", &corrected).await;
    assert!(replayed);
    assert_eq!(again, created);
    assert_eq!(product_count(&app).await, 1);
}

#[tokio::test]
async fn a_retry_while_the_first_request_runs_is_409_until_it_finishes_or_its_lease_ends() {
    let clock = storefront::clock::Clock::manual(chrono::Utc::now());
    let app = TestApp::spawn_with_clock(clock.clone(), |_| {}).await;
    let category = create_category(&app, "Groceries").await;
    // The first request holds the key, running (on this instance or another one on the same
    // database): arranged in the store, where a request's claim is made, so that no timing is
    // involved.
    let now = clock.now().timestamp_micros();
    let key_hash = storefront::http::idempotency::key_hash(&admin_scope(&app).await, "k-busy");
    let claim = KeyClaim {
        key_hash: &key_hash,
        fingerprint: "the first request",
        claim: "first",
        now,
        locked_until: now + 120_000_000,
        expires_at: now + 86_400_000_000,
    };
    let state = app.app().store().idempotency_claim(claim).await.unwrap();
    assert_eq!(state, storefront::store::KeyState::Claimed);

    let body = product_body(category.id.0.get(), "Tea");
    let response = app
        .http
        .post(app.url(PRODUCTS))
        .header("idempotency-key", "k-busy")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 409);
    assert_eq!(response.headers()["retry-after"], "1");
    assert_eq!(response.headers()["content-type"], "application/problem+json");
    assert_eq!(product_count(&app).await, 0);
    // Another key is another request.
    let (other, _) = post(&app.http, &app.url(PRODUCTS), "k-free", &body).await;
    assert_eq!(other.status, 201);

    // A first request that never finishes (its server died) holds the key for its lease only.
    clock.advance(Duration::from_secs(121));
    let (taken_over, replayed) =
        post(&app.http, &app.url(PRODUCTS), "k-busy", &product_body(category.id.0.get(), "Coffee")).await;
    assert_eq!((taken_over.status, replayed), (201, false));
    assert_eq!(product_count(&app).await, 2);
}

#[tokio::test]
async fn keys_expire_after_the_configured_time_and_are_purged() {
    let clock = storefront::clock::Clock::manual(chrono::Utc::now());
    let app = TestApp::spawn_with_clock(clock.clone(), |config| config.idempotency_ttl_secs = 120).await;
    let category = create_category(&app, "Groceries").await;
    let url = app.url(PRODUCTS);
    let body = product_body(category.id.0.get(), "Tea");
    let (first, _) = post(&app.http, &url, "k-ttl", &body).await;
    assert_eq!(first.status, 201);

    clock.advance(Duration::from_secs(119));
    let (replay, replayed) = post(&app.http, &url, "k-ttl", &body).await;
    assert!(replayed, "kept for the whole time");
    assert_eq!(replay, first);

    // Expired: the same key runs as a new request (the name is free again once the first
    // product is gone).
    clock.advance(Duration::from_secs(2));
    let first_id: u64 =
        serde_json::from_slice::<serde_json::Value>(&first.body).unwrap()["id"].as_u64().unwrap();
    app.client.product_delete().id(NonZeroU64::new(first_id).unwrap()).send().await.unwrap();
    let (again, replayed) = post(&app.http, &url, "k-ttl", &body).await;
    assert_eq!((again.status, replayed), (201, false));
    assert_ne!(again.location, first.location);

    // Expired keys are purged in passing (at most once a minute per instance): after another
    // request with a key, nothing expired is left.
    // (Within the access token's 15 minutes.)
    clock.advance(Duration::from_secs(121));
    let (other, _) = post(&app.http, &url, "k-other", &product_body(category.id.0.get(), "Coffee")).await;
    assert_eq!(other.status, 201);
    let now = clock.now().timestamp_micros();
    assert_eq!(app.app().store().idempotency_purge(now).await.unwrap(), 0, "purged already");
}

#[tokio::test]
async fn keys_are_per_caller_and_one_users_answer_never_reaches_another() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice", Role::Customer).await;
    let bob = app.user("bob", Role::Customer).await;
    async fn create(
        who: &storefront_client::Client,
    ) -> storefront_client::ResponseValue<storefront_client::types::ApiKeyCreated> {
        who.api_key_create().idempotency_key("my-key").body_map(|b| b.name("ci")).send().await.unwrap()
    }
    let alices = create(&alice.client).await;
    let bobs = create(&bob.client).await;
    assert_eq!((alices.status().as_u16(), bobs.status().as_u16()), (201, 201));
    let (alices, bobs) = (alices.into_inner(), bobs.into_inner());
    assert_ne!(alices.id.0, bobs.id.0);
    assert_ne!(alices.key, bobs.key, "bob never sees alice's secret");
    // Alice's retry is her own first answer: the same key, secret and all, still one key.
    let again = create(&alice.client).await;
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    assert_eq!(again.into_inner().key, alices.key);
    let listed = alice.client.api_key_list().send().await.unwrap().into_inner();
    assert_eq!(listed.items.len(), 1);
}

#[tokio::test]
async fn anonymous_registrations_share_one_scope_where_the_body_must_match() {
    let app = TestApp::spawn().await;
    async fn register(
        app: &TestApp,
        username: &str,
    ) -> Result<
        storefront_client::ResponseValue<storefront_client::types::User>,
        storefront_client::Error<storefront_client::types::Problem>,
    > {
        app.anonymous
            .auth_register()
            .idempotency_key("signup-1")
            .body_map(|b| {
                b.username(username).email(format!("{username}@example.com")).password("Correct-Horse-42")
            })
            .send()
            .await
    }
    let first = register(&app, "carol").await.unwrap();
    assert_eq!(first.status(), 201);
    let first = first.into_inner();
    let retry = register(&app, "carol").await.unwrap();
    assert_eq!(retry.headers()["idempotent-replayed"], "true");
    assert_eq!(retry.into_inner().id.0, first.id.0);
    // Someone else with the same key: not carol's answer, a 422.
    assert_eq!(status_of(register(&app, "dave").await), 422);
}

#[tokio::test]
async fn a_malformed_key_is_422() {
    let app = TestApp::spawn().await;
    let category = create_category(&app, "Groceries").await;
    let body = product_body(category.id.0.get(), "Tea");
    let (too_long, _) = post(&app.http, &app.url(PRODUCTS), &"k".repeat(256), &body).await;
    assert_eq!(too_long.status, 422);
    let problem: serde_json::Value = serde_json::from_slice(&too_long.body).unwrap();
    assert_eq!(problem["errors"][0]["field"], "Idempotency-Key", "{problem}");
    assert_eq!(product_count(&app).await, 0);
}

#[tokio::test]
async fn a_retry_sent_to_another_instance_on_the_same_database_gets_the_same_answer() {
    let app = TestApp::spawn().await;
    let other = ServerProcess::start(&app.database_url, &[]);
    let category = create_category(&app, "Groceries").await;
    let body = product_body(category.id.0.get(), "Tea");
    let (first, _) = post(&app.http, &app.url(PRODUCTS), "k-shared", &body).await;
    assert_eq!(first.status, 201);
    let (elsewhere, replayed) = post(&app.http, &other.url(PRODUCTS), "k-shared", &body).await;
    assert!(replayed, "the other instance found the answer in the database");
    assert_eq!(elsewhere, first);
    // And the other way round, while a request is new to both.
    let second = product_body(category.id.0.get(), "Coffee");
    let (created_there, _) = post(&app.http, &other.url(PRODUCTS), "k-shared-2", &second).await;
    assert_eq!(created_there.status, 201);
    let (here, replayed) = post(&app.http, &app.url(PRODUCTS), "k-shared-2", &second).await;
    assert!(replayed);
    assert_eq!(here, created_there);
    assert_eq!(product_count(&app).await, 2);
}
