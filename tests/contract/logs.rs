//! What libraries report through `tracing` reaches the server's log: sqlx's slow-statement
//! warnings, with the configured threshold. Through the binary (the subscriber is the
//! process's).

use std::time::{Duration, Instant};

use crate::common::ServerProcess;

#[tokio::test]
async fn sqlx_slow_statement_warnings_reach_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("logs.db").display());
    // 0 ms: every statement counts as slow.
    let server = ServerProcess::start(&url, &[("STOREFRONT_DB_SLOW_STATEMENT_MS", "0")]);
    let response = reqwest::get(server.url("/api/v1/tags")).await.unwrap();
    assert_eq!(response.status(), 200);
    let started = Instant::now();
    let warning = loop {
        let found = server.lines.lock().unwrap().iter().find_map(|line| {
            let line: serde_json::Value = serde_json::from_str(line).ok()?;
            let slow = line["target"] == "sqlx::query"
                && line["msg"].as_str().is_some_and(|m| m.starts_with("slow statement"))
                && line["summary"].as_str().is_some_and(|s| s.contains("tags"));
            slow.then_some(line)
        });
        if let Some(found) = found {
            break found;
        }
        assert!(started.elapsed() < Duration::from_secs(5), "no slow-statement warning in the log");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(warning["level"], "WARN");
    assert_eq!(warning["source"], "tracing");
    assert_eq!(warning["slow_threshold"], "0ns");
    assert!(warning.get("elapsed_secs").is_some(), "{warning}");
}

/// A full authentication flow — register, a failed and a good login, refresh, the caller's own
/// account by token and by API key, a forged token, logout — leaves no password, token, key
/// or signing secret in the log, at debug level.
#[tokio::test]
async fn a_full_auth_flow_logs_no_password_token_key_or_secret() {
    use serde_json::{json, Value};

    let app = crate::common::TestApp::spawn_with(|config| {
        config.log_level = storefront::config::LogLevel::Debug;
    })
    .await;
    let (http, url) = (&app.anonymous_http, |path: &str| app.url(path));
    let (password, wrong) = ("Sekret-Horse-42-xyz", "Wrong-Horse-99-abc");
    let registered = http
        .post(url("/api/v1/auth/register"))
        .json(&json!({"username": "carol", "email": "carol@example.com", "password": password}))
        .send()
        .await
        .unwrap();
    assert_eq!(registered.status(), 201);
    let refused = http
        .post(url("/api/v1/auth/login"))
        .json(&json!({"username": "carol", "password": wrong}))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 401);
    let login = |body: Value, path: &'static str| {
        let request = http.post(url(path)).json(&body);
        async move {
            let response = request.send().await.unwrap();
            assert_eq!(response.status(), 200, "{path}");
            response.json::<Value>().await.unwrap()
        }
    };
    let first = login(json!({"username": "carol", "password": password}), "/api/v1/auth/login").await;
    let second = login(json!({"refresh_token": first["refresh_token"]}), "/api/v1/auth/refresh").await;
    let access = second["access_token"].as_str().unwrap();
    let me = http.get(url("/api/v1/users/me")).bearer_auth(access).send().await.unwrap();
    assert_eq!(me.status(), 200);
    let key: Value = http
        .post(url("/api/v1/api-keys"))
        .bearer_auth(access)
        .json(&json!({"name": "ci"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let key = key["key"].as_str().unwrap();
    let by_key = http.get(url("/api/v1/users/me")).header("x-api-key", key).send().await.unwrap();
    assert_eq!(by_key.status(), 200);
    let forged = "eyJhbGciOiJub25lIn0.eyJzdWIiOiIxIn0.forged-signature";
    let refused = http.get(url("/api/v1/users/me")).bearer_auth(forged).send().await.unwrap();
    assert_eq!(refused.status(), 401);
    let logout = http
        .post(url("/api/v1/auth/logout"))
        .json(&json!({"refresh_token": second["refresh_token"]}))
        .send()
        .await
        .unwrap();
    assert!(logout.status().is_success(), "{}", logout.status());

    let log = app.log();
    assert!(log.lines().count() >= 10, "the flow was logged: {log}");
    let secrets = [
        password,
        wrong,
        first["access_token"].as_str().unwrap(),
        first["refresh_token"].as_str().unwrap(),
        access,
        second["refresh_token"].as_str().unwrap(),
        key,
        forged,
        "a-test-secret-that-is-32-bytes-long!",
    ];
    for secret in secrets {
        assert!(!log.contains(secret), "the log holds {secret:?}");
    }
}
