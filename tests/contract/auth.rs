//! Registration, login, refresh, logout, and the tokens the server refuses.

use std::time::{Duration, Instant};

use storefront_client::types::{Role, TokenPairTokenType};

use crate::common::{
    authorized_http, invalid_fields, login, login_pair, problem_of, status_of, TestApp, ADMIN,
};

const SECRET: &[u8] = b"a-test-secret-that-is-32-bytes-long!";

#[tokio::test]
async fn register_makes_a_customer_and_refuses_a_role_in_the_body() {
    let app = TestApp::spawn().await;
    // Raw: the typed client has no `role` to send.
    let sneaky = app
        .anonymous_http
        .post(app.url("/api/v1/auth/register"))
        .json(&serde_json::json!({"username": "mallory", "email": "m@example.com", "password": "Correct-Horse-42", "role": "admin"}))
        .send()
        .await
        .unwrap();
    assert_eq!(sneaky.status(), 422);
    let problem: storefront_client::types::Problem = sneaky.json().await.unwrap();
    assert_eq!(invalid_fields(&problem), ["role"]);

    let response = app
        .anonymous
        .auth_register()
        .body_map(|b| b.username("alice").email("alice@example.com").password("Correct-Horse-42"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let location = response.headers()["location"].to_str().unwrap().to_string();
    let user = response.into_inner();
    assert_eq!(user.role, Role::Customer);
    assert_eq!(location, format!("/api/v1/users/{}", user.id.0));
    // The account logs in, and it is not an admin.
    let token = login(&app.anonymous, "alice", "Correct-Horse-42").await;
    let create = authorized_http(&token)
        .post(app.url("/api/v1/categories"))
        .json(&serde_json::json!({"name": "Mine"}));
    assert_eq!(create.send().await.unwrap().status(), 403);
}

#[tokio::test]
async fn registering_a_taken_username_or_email_is_409() {
    let app = TestApp::spawn().await;
    let register = |username: &'static str, email: &'static str| {
        app.anonymous
            .auth_register()
            .body_map(move |b| b.username(username).email(email).password("Correct-Horse-42"))
            .send()
    };
    register("alice", "alice@example.com").await.unwrap();
    assert_eq!(status_of(register("ALICE", "other@example.com").await), 409);
    assert_eq!(status_of(register("alicia", "Alice@Example.com").await), 409);
}

#[tokio::test]
async fn register_holds_passwords_and_usernames_to_the_policy() {
    let app = TestApp::spawn().await;
    for (username, password, field) in [
        ("bob", "Short1", "password"),
        ("bob", "nouppercase1", "password"),
        ("bob", "NoDigitsHere", "password"),
        ("b", "Correct-Horse-42", "username"),
        ("bob smith", "Correct-Horse-42", "username"),
    ] {
        // Raw: the typed client refuses these before sending.
        let response = app
            .anonymous_http
            .post(app.url("/api/v1/auth/register"))
            .json(
                &serde_json::json!({"username": username, "email": "bob@example.com", "password": password}),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 422, "{username} / {password}");
        let problem: storefront_client::types::Problem = response.json().await.unwrap();
        assert_eq!(invalid_fields(&problem), [field], "{username} / {password}");
        assert!(problem.errors.iter().all(|e| !e.message.contains(password)), "the password is echoed");
    }
}

#[tokio::test]
async fn login_returns_a_bearer_token_pair_that_is_never_cached() {
    let app = TestApp::spawn().await;
    let response =
        app.anonymous.auth_login().body_map(|b| b.username(ADMIN.0).password(ADMIN.1)).send().await.unwrap();
    assert_eq!(response.headers()["cache-control"], "no-store");
    let pair = response.into_inner();
    assert_eq!(pair.token_type, TokenPairTokenType::Bearer);
    assert_eq!(pair.expires_in, 900);
    assert_eq!(pair.access_token.split('.').count(), 3, "a JWT");
    assert!(pair.refresh_token.starts_with("sfr_"));
    let me = authorized_http(&pair.access_token).get(app.url("/api/v1/users/me")).send().await.unwrap();
    assert_eq!(me.json::<serde_json::Value>().await.unwrap()["username"], ADMIN.0);
}

#[tokio::test]
async fn an_unknown_user_and_a_wrong_password_get_the_same_401_in_similar_time() {
    let app = TestApp::spawn().await;
    let attempt = async |username: &'static str| {
        let started = Instant::now();
        let result = app
            .anonymous
            .auth_login()
            .body_map(|b| b.username(username).password("Wrong-Pass-1"))
            .send()
            .await;
        (started.elapsed(), problem_of(result))
    };
    let mut unknown = Vec::new();
    let mut wrong = Vec::new();
    for _ in 0..3 {
        let (time, problem) = attempt("nobody").await;
        unknown.push(time);
        let (time, other) = attempt(ADMIN.0).await;
        wrong.push(time);
        assert_eq!((problem.status, &problem.detail, &problem.type_), (401, &other.detail, &other.type_));
    }
    unknown.sort();
    wrong.sort();
    // Both check a password hash (tens of milliseconds); without the dummy check an unknown
    // user would answer in well under a millisecond.
    assert!(unknown[1] * 4 > wrong[1], "unknown user {:?} vs wrong password {:?}", unknown[1], wrong[1]);
}

#[tokio::test]
async fn refresh_rotates_and_a_reused_token_revokes_its_whole_login() {
    let app = TestApp::spawn().await;
    let first = login_pair(&app.anonymous, ADMIN.0, ADMIN.1).await;
    let refresh =
        |token: String| app.anonymous.auth_refresh().body_map(move |b| b.refresh_token(token)).send();
    let second = refresh(first.refresh_token.clone()).await.unwrap().into_inner();
    assert_ne!(second.refresh_token, first.refresh_token);
    assert_ne!(second.access_token, first.access_token);
    // The rotated token again: reuse. 401, and the family is gone...
    let reuse = problem_of(refresh(first.refresh_token.clone()).await);
    assert_eq!(reuse.status, 401);
    assert!(reuse.detail.unwrap().contains("already used"));
    // ...including the token that replaced it.
    assert_eq!(status_of(refresh(second.refresh_token.clone()).await), 401);
    // Another login is unaffected.
    let other = login_pair(&app.anonymous, ADMIN.0, ADMIN.1).await;
    assert_eq!(refresh(other.refresh_token).await.unwrap().status(), 200);
}

#[tokio::test]
async fn logout_revokes_the_refresh_token_and_tells_nothing_about_tokens() {
    let app = TestApp::spawn().await;
    let pair = login_pair(&app.anonymous, ADMIN.0, ADMIN.1).await;
    let logout = |token: String| app.anonymous.auth_logout().body_map(move |b| b.refresh_token(token)).send();
    assert_eq!(logout(pair.refresh_token.clone()).await.unwrap().status(), 204);
    let refreshed =
        app.anonymous.auth_refresh().body_map(|b| b.refresh_token(pair.refresh_token.clone())).send().await;
    assert_eq!(status_of(refreshed), 401);
    assert_eq!(logout("sfr_not-a-token".into()).await.unwrap().status(), 204);
}

/// Signs claims with the test server's secret (or another), for tokens the server must refuse.
fn sign(claims: serde_json::Value, algorithm: jsonwebtoken::Algorithm, secret: &[u8]) -> String {
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(algorithm),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(secret),
    )
    .unwrap()
}

#[tokio::test]
async fn forged_expired_foreign_and_misused_tokens_are_401_invalid_token() {
    let app = TestApp::spawn().await;
    let pair = login_pair(&app.anonymous, ADMIN.0, ADMIN.1).await;
    let now = chrono::Utc::now().timestamp();
    let claims = |aud: &str, exp: i64| serde_json::json!({"iss": "storefront", "aud": aud, "sub": "1", "iat": now, "nbf": now - 1, "exp": exp, "jti": "x"});
    use base64::Engine as _;
    let b64 = |bytes: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    let unsigned = format!(
        "{}.{}.",
        b64(br#"{"alg":"none","typ":"JWT"}"#),
        b64(claims("storefront-api", now + 600).to_string().as_bytes())
    );
    let mut tampered = pair.access_token.clone();
    tampered.pop();
    tampered.push(if pair.access_token.ends_with('A') { 'B' } else { 'A' });
    let cases = [
        (
            "forged signature",
            sign(
                claims("storefront-api", now + 600),
                jsonwebtoken::Algorithm::HS256,
                b"guessed-secret-guessed-secret-xx",
            ),
        ),
        ("tampered", tampered),
        ("alg none", unsigned),
        (
            "another algorithm",
            sign(claims("storefront-api", now + 600), jsonwebtoken::Algorithm::HS512, SECRET),
        ),
        ("expired", sign(claims("storefront-api", now - 60), jsonwebtoken::Algorithm::HS256, SECRET)),
        ("wrong audience", sign(claims("somewhere-else", now + 600), jsonwebtoken::Algorithm::HS256, SECRET)),
        ("refresh token as access token", pair.refresh_token.clone()),
        ("garbage", "not.a.token".to_string()),
    ];
    for (what, token) in cases {
        let response = authorized_http(&token).get(app.url("/api/v1/users/me")).send().await.unwrap();
        assert_eq!(response.status(), 401, "{what}");
        let challenge = response.headers()["www-authenticate"].to_str().unwrap();
        assert!(
            challenge.starts_with("Bearer ") && challenge.contains("error=\"invalid_token\""),
            "{what}: {challenge}"
        );
    }
    // An access token is not a refresh token either.
    let as_refresh =
        app.anonymous.auth_refresh().body_map(|b| b.refresh_token(pair.access_token.clone())).send().await;
    assert_eq!(status_of(as_refresh), 401);
    // The real one works.
    let me = authorized_http(&pair.access_token).get(app.url("/api/v1/users/me")).send().await.unwrap();
    assert_eq!(me.status(), 200);
}

#[tokio::test]
async fn a_signed_token_for_a_user_who_no_longer_exists_is_refused() {
    let app = TestApp::spawn().await;
    let now = chrono::Utc::now().timestamp();
    let ghost = sign(
        serde_json::json!({"iss": "storefront", "aud": "storefront-api", "sub": "4242", "iat": now, "nbf": now, "exp": now + 60}),
        jsonwebtoken::Algorithm::HS256,
        SECRET,
    );
    let response = authorized_http(&ghost).get(app.url("/api/v1/users/me")).send().await.unwrap();
    assert_eq!(response.status(), 401);
}

#[tokio::test]
async fn the_server_refuses_to_start_in_production_without_a_long_secret() {
    let log = storefront::logging::discard();
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("x.db").display());
    // Production does not create a missing database file: the operator does, once.
    let development = storefront::config::Config::with_database(url.clone());
    storefront::open_for_operator(&development, true).await.unwrap().store().close().await;
    for secret in [None, Some("too-short")] {
        let mut config = storefront::config::Config::with_database(url.clone());
        config.bind = "127.0.0.1:0".parse().unwrap();
        config.environment = storefront::config::Environment::Production;
        config.jwt_secret = secret.map(|s| storefront::config::Secret(s.into()));
        let error = storefront::start(config, log.clone()).await.err().expect("refused");
        assert!(error.contains("STOREFRONT_JWT_SECRET"), "{error}");
    }
    // Development makes one up; production takes a long one.
    let mut config = storefront::config::Config::with_database(url);
    config.bind = "127.0.0.1:0".parse().unwrap();
    config.environment = storefront::config::Environment::Production;
    config.jwt_secret = Some(storefront::config::Secret("x".repeat(32)));
    let running = storefront::start(config, log).await.expect("starts");
    running.shutdown().await.unwrap();
    let _ = Duration::ZERO;
}

#[tokio::test]
async fn control_characters_are_refused_before_they_reach_the_database() {
    // PostgreSQL refuses NUL in text: such input must be a 422, never a 500 (found by
    // Schemathesis on a login). Raw: the typed client refuses these before sending.
    let app = TestApp::spawn().await;
    let cases = [
        ("/api/v1/auth/login", serde_json::json!({"username": "a\u{0}b", "password": "x"})),
        (
            "/api/v1/auth/register",
            serde_json::json!({"username": "nul", "email": "a\u{0}@example.com", "password": "Correct-Horse-42"}),
        ),
        ("/api/v1/categories", serde_json::json!({"name": "Nul\u{0}Name"})),
        ("/api/v1/api-keys", serde_json::json!({"name": "key\u{0}"})),
    ];
    for (path, body) in cases {
        let response = app.http.post(app.url(path)).json(&body).send().await.unwrap();
        assert_eq!(response.status(), 422, "{path} {body}");
    }
    for query in ["q=a%00b", "tag=a%00b", "min_price=1%00"] {
        let response =
            app.anonymous_http.get(app.url(&format!("/api/v1/products?{query}"))).send().await.unwrap();
        assert_eq!(response.status(), 422, "{query}");
    }
}
