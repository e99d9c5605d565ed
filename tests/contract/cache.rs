//! The caches: this server's writes are seen at once; another process's within
//! `cache_ttl_ms`; `cache_entries = 0` reads through. For products, and for the logins that
//! authenticated requests check.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::common::{create_category, create_product, ServerProcess, TestApp, ADMIN};

async fn get(http: &reqwest::Client, url: &str) -> (u16, Value) {
    let response = http.get(url).send().await.expect("GET");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn patch(http: &reqwest::Client, url: &str, body: Value) -> u16 {
    http.patch(url).json(&body).send().await.expect("PATCH").status().as_u16()
}

#[tokio::test]
async fn the_cache_never_hides_this_servers_own_writes() {
    let app = TestApp::spawn().await;
    let category = create_category(&app, "Groceries").await;
    let product = create_product(&app, category.id.0.get(), "Tea", "5.00", 10, &["tea"]).await;
    let url = app.url(&format!("/api/v1/products/{}", product.id.0));
    for _ in 0..2 {
        assert_eq!(get(&app.anonymous_http, &url).await.1["stock"], 10);
    }
    assert_eq!(patch(&app.http, &url, json!({"stock": 7, "tags": ["green"]})).await, 200);
    let (_, read) = get(&app.anonymous_http, &url).await;
    assert_eq!((read["stock"].clone(), read["tags"].clone()), (json!(7), json!(["green"])));
    let replaced = app
        .http
        .put(&url)
        .json(&json!({"name": "Tea", "price": "6.00", "stock": 3, "category_id": category.id.0}))
        .send()
        .await
        .unwrap();
    assert_eq!(replaced.status(), 200);
    assert_eq!(get(&app.anonymous_http, &url).await.1["price"], "6.00");
    assert_eq!(app.http.delete(&url).send().await.unwrap().status(), 204);
    assert_eq!(get(&app.anonymous_http, &url).await.0, 404);
}

#[tokio::test]
async fn a_write_by_another_instance_shows_within_the_cache_ttl() {
    const TTL: Duration = Duration::from_millis(1500);
    let app = TestApp::spawn_with(|c| c.cache_ttl_ms = TTL.as_millis() as u64).await;
    let other = ServerProcess::start(&app.database_url, &[]);
    let category = create_category(&app, "Groceries").await;
    let product = create_product(&app, category.id.0.get(), "Tea", "5.00", 10, &[]).await;
    let path = format!("/api/v1/products/{}", product.id.0);
    let read_at = Instant::now();
    assert_eq!(get(&app.anonymous_http, &app.url(&path)).await.1["stock"], 10);
    assert_eq!(patch(&app.http, &other.url(&path), json!({"stock": 4})).await, 200);
    // This server did not see the other's write: it may serve what it read, for the TTL at
    // most (checked only while well inside it, so that a slow machine does not fail the test).
    let (_, cached) = get(&app.anonymous_http, &app.url(&path)).await;
    if read_at.elapsed() < TTL / 2 {
        assert_eq!(cached["stock"], 10, "served from the cache");
    }
    tokio::time::sleep(TTL.saturating_sub(read_at.elapsed()) + Duration::from_millis(50)).await;
    assert_eq!(get(&app.anonymous_http, &app.url(&path)).await.1["stock"], 4, "not past the TTL");
}

#[tokio::test]
async fn with_no_entries_every_read_goes_to_the_database() {
    let app = TestApp::spawn_with(|c| c.cache_entries = 0).await;
    let other = ServerProcess::start(&app.database_url, &[]);
    let category = create_category(&app, "Groceries").await;
    let product = create_product(&app, category.id.0.get(), "Tea", "5.00", 10, &[]).await;
    let path = format!("/api/v1/products/{}", product.id.0);
    assert_eq!(get(&app.anonymous_http, &app.url(&path)).await.1["stock"], 10);
    assert_eq!(patch(&app.http, &other.url(&path), json!({"stock": 4})).await, 200);
    assert_eq!(get(&app.anonymous_http, &app.url(&path)).await.1["stock"], 4);
}

/// Logs in as the admin over HTTP: (access token, refresh token).
async fn login(app: &TestApp) -> (String, String) {
    let response = app
        .anonymous_http
        .post(app.url("/api/v1/auth/login"))
        .json(&json!({"username": ADMIN.0, "password": ADMIN.1}))
        .send()
        .await
        .unwrap();
    let body: Value = response.json().await.unwrap();
    (body["access_token"].as_str().unwrap().into(), body["refresh_token"].as_str().unwrap().into())
}

/// An authenticated read (the users list, admins only) with `access`: its status.
async fn users_with(app: &TestApp, base: &str, access: &str) -> u16 {
    let response = app.anonymous_http.get(format!("{base}/api/v1/users")).bearer_auth(access).send().await;
    response.expect("GET /users").status().as_u16()
}

async fn logout(app: &TestApp, base: &str, refresh: &str) -> u16 {
    let response = app
        .anonymous_http
        .post(format!("{base}/api/v1/auth/logout"))
        .json(&json!({"refresh_token": refresh}));
    response.send().await.expect("logout").status().as_u16()
}

#[tokio::test]
async fn a_login_ended_on_this_server_is_refused_at_once_though_its_caller_was_cached() {
    let app = TestApp::spawn().await;
    let (access, refresh) = login(&app).await;
    for _ in 0..2 {
        assert_eq!(users_with(&app, &app.base, &access).await, 200);
    }
    // A catalog write with the same token leaves the login cached...
    let created = app
        .anonymous_http
        .post(app.url("/api/v1/categories"))
        .bearer_auth(&access)
        .json(&json!({"name": "Pantry"}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    assert_eq!(users_with(&app, &app.base, &access).await, 200);
    // ...and ending the login is seen by the next request.
    assert_eq!(logout(&app, &app.base, &refresh).await, 204);
    assert_eq!(users_with(&app, &app.base, &access).await, 401);
}

#[tokio::test]
async fn a_login_ended_on_another_instance_is_refused_within_the_cache_ttl() {
    const TTL: Duration = Duration::from_millis(1500);
    let app = TestApp::spawn_with(|c| c.cache_ttl_ms = TTL.as_millis() as u64).await;
    let other = ServerProcess::start(&app.database_url, &[]);
    let (access, refresh) = login(&app).await;
    let read_at = Instant::now();
    assert_eq!(users_with(&app, &app.base, &access).await, 200);
    assert_eq!(logout(&app, &other.url(""), &refresh).await, 204);
    // The other server refuses the token at once; this one may still know the login as alive,
    // for the TTL at most (checked only while well inside it, as above).
    assert_eq!(users_with(&app, &other.url(""), &access).await, 401);
    let status = users_with(&app, &app.base, &access).await;
    if read_at.elapsed() < TTL / 2 {
        assert_eq!(status, 200, "served from the cache");
    }
    tokio::time::sleep(TTL.saturating_sub(read_at.elapsed()) + Duration::from_millis(50)).await;
    assert_eq!(users_with(&app, &app.base, &access).await, 401, "not past the TTL");
}
