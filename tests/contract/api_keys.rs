//! API keys: shown once, stored hashed, carrying their owner's role, invisible to others.

use storefront_client::types::Role;

use crate::common::{status_of, TestApp};

#[tokio::test]
async fn a_key_is_shown_once_and_acts_with_its_owners_role() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice", Role::Customer).await;
    let created = alice.client.api_key_create().body_map(|b| b.name("nightly import")).send().await.unwrap();
    assert_eq!(created.status(), 201);
    assert_eq!(created.headers()["cache-control"], "no-store");
    let created = created.into_inner();
    assert!(created.key.starts_with(&created.prefix) && created.prefix.starts_with("sfk_"));

    let with_key = |key: &str| {
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert("x-api-key", key.parse().unwrap());
        reqwest::Client::builder().default_headers(headers).build().unwrap()
    };
    let client = with_key(&created.key);
    let me: serde_json::Value =
        client.get(app.url("/api/v1/users/me")).send().await.unwrap().json().await.unwrap();
    assert_eq!(me["username"], "alice");
    // A customer's key is a customer.
    let write = client
        .post(app.url("/api/v1/categories"))
        .json(&serde_json::json!({"name": "X"}))
        .send()
        .await
        .unwrap();
    assert_eq!(write.status(), 403);

    // Listed and readable, never with the secret.
    let listed: serde_json::Value =
        client.get(app.url("/api/v1/api-keys")).send().await.unwrap().json().await.unwrap();
    assert_eq!(listed["items"][0]["prefix"], created.prefix);
    assert!(listed["items"][0].get("key").is_none());
    assert!(!listed.to_string().contains(&created.key));
    let one = alice.client.api_key_get().id(created.id.0).send().await.unwrap().into_inner();
    assert_eq!(one.name.as_str(), "nightly import");
    assert!(one.last_used_at.is_some(), "using the key records it");

    // An admin's key is an admin.
    let admin_key =
        app.client.api_key_create().body_map(|b| b.name("ops")).send().await.unwrap().into_inner();
    let write = with_key(&admin_key.key)
        .post(app.url("/api/v1/categories"))
        .json(&serde_json::json!({"name": "X"}))
        .send()
        .await
        .unwrap();
    assert_eq!(write.status(), 201);
}

#[tokio::test]
async fn another_users_key_is_not_found_except_for_admins() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice", Role::Customer).await;
    let bob = app.user("bob", Role::Customer).await;
    let key = alice.client.api_key_create().body_map(|b| b.name("mine")).send().await.unwrap().into_inner();
    assert_eq!(status_of(bob.client.api_key_get().id(key.id.0).send().await), 404);
    assert_eq!(status_of(bob.client.api_key_delete().id(key.id.0).send().await), 404);
    assert!(bob.client.api_key_list().send().await.unwrap().into_inner().items.is_empty());
    // Still there for alice, and visible to the admin.
    assert_eq!(alice.client.api_key_get().id(key.id.0).send().await.unwrap().status(), 200);
    assert_eq!(app.client.api_key_get().id(key.id.0).send().await.unwrap().status(), 200);
    // The admin may revoke it; then it is gone for alice too.
    assert_eq!(app.client.api_key_delete().id(key.id.0).send().await.unwrap().status(), 204);
    assert_eq!(status_of(alice.client.api_key_get().id(key.id.0).send().await), 404);
}

#[tokio::test]
async fn a_revoked_key_is_refused() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice", Role::Customer).await;
    let key = alice.client.api_key_create().body_map(|b| b.name("temp")).send().await.unwrap().into_inner();
    assert_eq!(alice.client.api_key_delete().id(key.id.0).send().await.unwrap().status(), 204);
    let response = app
        .anonymous_http
        .get(app.url("/api/v1/users/me"))
        .header("x-api-key", key.key.as_str())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    assert!(response.headers()["www-authenticate"].to_str().unwrap().contains("invalid_token"));
    assert_eq!(status_of(alice.client.api_key_delete().id(key.id.0).send().await), 404);
    assert!(alice.client.api_key_list().send().await.unwrap().into_inner().items.is_empty());
}

#[tokio::test]
async fn keys_are_made_with_a_bearer_token_and_read_only_from_the_header() {
    let app = TestApp::spawn().await;
    let key = app.client.api_key_create().body_map(|b| b.name("ops")).send().await.unwrap().into_inner();
    // A key may not mint keys.
    let minted = app
        .anonymous_http
        .post(app.url("/api/v1/api-keys"))
        .header("x-api-key", key.key.as_str())
        .json(&serde_json::json!({"name": "child"}))
        .send()
        .await
        .unwrap();
    assert_eq!(minted.status(), 401);
    // In the query string it is not a credential.
    let query = app
        .anonymous_http
        .get(app.url(&format!("/api/v1/users/me?x-api-key={}", key.key)))
        .send()
        .await
        .unwrap();
    assert_eq!(query.status(), 401);
    // A key and a token together are refused.
    let both =
        app.http.get(app.url("/api/v1/users/me")).header("x-api-key", key.key.as_str()).send().await.unwrap();
    assert_eq!(both.status(), 401);
}
