//! Accounts: `me`, the admin operations, and roles taking effect at once.

use storefront_client::types::{ProductPatch, Role};

use crate::common::{create_category, create_product, problem_of, status_of, TestApp};

#[tokio::test]
async fn me_is_the_callers_account_and_other_accounts_are_admin_only() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice", Role::Customer).await;
    let bob = app.user("bob", Role::Customer).await;
    let me = alice.client.user_get().id("me").send().await.unwrap().into_inner();
    assert_eq!((me.username.as_str(), me.role), ("alice", Role::Customer));
    let own = alice.client.user_get().id(alice.id.to_string().as_str()).send().await.unwrap();
    assert_eq!(own.into_inner().id.0, alice.id);
    // Another customer's account does not exist for alice; the admin sees it.
    assert_eq!(status_of(alice.client.user_get().id(bob.id.to_string().as_str()).send().await), 404);
    assert_eq!(
        app.client
            .user_get()
            .id(bob.id.to_string().as_str())
            .send()
            .await
            .unwrap()
            .into_inner()
            .username
            .as_str(),
        "bob"
    );
    assert_eq!(status_of(app.anonymous.user_get().id("me").send().await), 401);
}

#[tokio::test]
async fn user_list_is_for_admins() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice", Role::Customer).await;
    assert_eq!(status_of(alice.client.user_list().send().await), 403);
    let page = app.client.user_list().send().await.unwrap().into_inner();
    let names: Vec<&str> = page.items.iter().map(|u| u.username.as_str()).collect();
    assert_eq!(names, ["admin", "alice"]);
    assert_eq!(page.total, Some(2));
}

#[tokio::test]
async fn a_role_change_takes_effect_on_the_next_request_with_the_same_token() {
    let app = TestApp::spawn().await;
    let category = create_category(&app, "Food").await;
    let product = create_product(&app, category.id.0.get(), "Tea", "10", 5, &[]).await;
    let sam = app.user("sam", Role::Manager).await;
    let restock = || ProductPatch { stock: Some(50.into()), ..Default::default() };
    assert_eq!(
        sam.client.product_update().id(product.id.0).body(restock()).send().await.unwrap().status(),
        200
    );
    // Demoted: the same access token now gets 403.
    app.client.user_update().id(sam.id).body_map(|b| b.role(Some(Role::Customer))).send().await.unwrap();
    assert_eq!(status_of(sam.client.product_update().id(product.id.0).body(restock()).send().await), 403);
}

#[tokio::test]
async fn managers_change_price_and_stock_only() {
    let app = TestApp::spawn().await;
    let category = create_category(&app, "Food").await;
    let product = create_product(&app, category.id.0.get(), "Tea", "10", 5, &[]).await;
    let sam = app.user("sam", Role::Manager).await;
    let price = ProductPatch {
        price: Some("11.50".try_into().unwrap()),
        stock: Some(4.into()),
        ..Default::default()
    };
    let updated = sam.client.product_update().id(product.id.0).body(price).send().await.unwrap().into_inner();
    assert_eq!((updated.price.as_str(), updated.stock.0), ("11.50", 4));
    let rename = ProductPatch { name: Some("Green Tea".try_into().unwrap()), ..Default::default() };
    let problem = problem_of(sam.client.product_update().id(product.id.0).body(rename).send().await);
    assert_eq!(problem.status, 403);
    assert_eq!(status_of(sam.client.product_delete().id(product.id.0).send().await), 403);
    assert_eq!(status_of(sam.client.category_create().body_map(|b| b.name("Mine")).send().await), 403);
}

#[tokio::test]
async fn the_last_admin_can_be_neither_demoted_nor_deleted() {
    let app = TestApp::spawn().await;
    let admin_id = std::num::NonZeroU64::new(1).unwrap();
    let demote =
        app.client.user_update().id(admin_id).body_map(|b| b.role(Some(Role::Customer))).send().await;
    assert_eq!(status_of(demote), 409);
    assert_eq!(status_of(app.client.user_delete().id(admin_id).send().await), 409);
    // With a second admin, the first may step down.
    let other = app.user("root2", Role::Admin).await;
    let demote =
        other.client.user_update().id(admin_id).body_map(|b| b.role(Some(Role::Manager))).send().await;
    assert_eq!(demote.unwrap().into_inner().role, Role::Manager);
}

#[tokio::test]
async fn a_deleted_users_tokens_and_keys_stop_working() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice", Role::Customer).await;
    let key =
        alice.client.api_key_create().body_map(|b| b.name("script")).send().await.unwrap().into_inner().key;
    let etag = app.client.user_get().id(alice.id.to_string().as_str()).send().await.unwrap().headers()
        ["etag"]
        .to_str()
        .unwrap()
        .to_string();
    assert_eq!(status_of(app.client.user_delete().id(alice.id).if_match("\"0-0\"").send().await), 412);
    assert_eq!(
        app.client.user_delete().id(alice.id).if_match(etag.as_str()).send().await.unwrap().status(),
        204
    );
    assert_eq!(status_of(alice.client.user_get().id("me").send().await), 401);
    let with_key =
        app.anonymous_http.get(app.url("/api/v1/users/me")).header("x-api-key", key).send().await.unwrap();
    assert_eq!(with_key.status(), 401);
    assert_eq!(status_of(app.client.user_delete().id(alice.id).send().await), 404);
}

#[tokio::test]
async fn user_update_changes_the_email_and_refuses_a_taken_one() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice", Role::Customer).await;
    app.user("bob", Role::Customer).await;
    let updated = app
        .client
        .user_update()
        .id(alice.id)
        .body_map(|b| b.email(Some("a.new@example.com".try_into().unwrap())))
        .send()
        .await;
    assert_eq!(updated.unwrap().into_inner().email.as_str(), "a.new@example.com");
    let taken = app
        .client
        .user_update()
        .id(alice.id)
        .body_map(|b| b.email(Some("BOB@example.com".try_into().unwrap())))
        .send()
        .await;
    assert_eq!(status_of(taken), 409);
}
