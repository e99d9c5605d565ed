//! What an attack and fault run broke, each with the test that failed before its fix: login
//! memory, password spraying, shared limits, token lifetimes, Unicode names, database faults,
//! the shutdown bound, `Vary: Origin`, `PATCH /users/me`.

use std::time::{Duration, Instant};

use serde_json::{json, Value};
use storefront::clock::Clock;
use storefront_client::types::Role;

use crate::common::{authorized_http, login_pair, ServerProcess, TestApp, POSTGRES_ENV, TEST_RATE_LIMITS};

/// Generous limits, except the ones a test names.
fn limits(overrides: &str) -> String {
    let mut classes: std::collections::BTreeMap<String, String> = TEST_RATE_LIMITS
        .split(',')
        .chain(overrides.split(',').filter(|s| !s.is_empty()))
        .filter_map(|item| item.split_once('=').map(|(k, v)| (k.to_string(), v.to_string())))
        .collect();
    classes.retain(|_, v| !v.is_empty());
    classes.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(",")
}

/// A clock one second into a day (and so into every window of these tests).
fn window_clock() -> Clock {
    let now = chrono::Utc::now().timestamp();
    Clock::manual(chrono::DateTime::from_timestamp(now - now % 86_400 + 1, 0).unwrap())
}

async fn login_status(app: &TestApp, username: &str, password: &str) -> u16 {
    let body = json!({"username": username, "password": password});
    app.anonymous_http.post(app.url("/api/v1/auth/login")).json(&body).send().await.unwrap().status().as_u16()
}

#[tokio::test]
async fn two_hundred_concurrent_logins_keep_memory_bounded_and_always_answer() {
    // A process of its own, to measure its memory; every limit out of the way, so that every
    // login reaches the password check (unknown users are checked against a dummy hash).
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("memory.db").display());
    let all_open = limits("auth=1000000/60s,login-failures=1000000/60s");
    let server = ServerProcess::start(
        &url,
        &[
            ("STOREFRONT_RATE_LIMITS", &all_open),
            ("STOREFRONT_PASSWORD_WORKERS", "2"),
            ("STOREFRONT_PASSWORD_QUEUE", "8"),
        ],
    );
    let client = reqwest::Client::builder().timeout(Duration::from_secs(60)).build().unwrap();
    let resting = server.peak_rss_kib();
    let logins = (0..200).map(|i| {
        let (client, url) = (client.clone(), server.url("/api/v1/auth/login"));
        tokio::spawn(async move {
            let body = json!({"username": format!("nobody-{i}"), "password": "Wrong-Password-1"});
            let response = client.post(url).json(&body).send().await.expect("an answer, never a hang");
            (response.status().as_u16(), response.headers().get("retry-after").is_some())
        })
    });
    let answers = futures::future::join_all(logins).await;
    let mut counts = std::collections::BTreeMap::new();
    for answer in answers {
        let (status, retry_after) = answer.unwrap();
        assert!(matches!(status, 401 | 429 | 503), "{status}");
        if status == 503 {
            assert!(retry_after, "503 without Retry-After");
        }
        *counts.entry(status).or_insert(0) += 1;
    }
    assert!(counts.get(&401).copied().unwrap_or(0) >= 2, "some checks ran: {counts:?}");
    // Two workers' buffers (19 MiB each) and 200 connections on top of what the server holds
    // at rest (the README's bound; the test binary's own pages, some 48 MiB unoptimized, are
    // not what is measured).
    let grown = server.peak_rss_kib().saturating_sub(resting);
    assert!(grown < (2 * 19 + 24) * 1024, "memory grew by {} MiB for {counts:?}", grown / 1024);
}

#[tokio::test]
async fn password_spraying_from_one_address_is_refused_before_the_thirtieth_username() {
    let limits = limits("auth=100/60s,login-failures=20/15m");
    let app =
        TestApp::spawn_with_clock(window_clock(), |config| config.rate_limits = limits.parse().unwrap())
            .await;
    let mut statuses = Vec::new();
    for i in 0..30 {
        statuses.push(login_status(&app, &format!("target-{i}"), "Spring-2026!").await);
    }
    let first_refusal = statuses.iter().position(|s| *s == 429).expect("a 429");
    assert!(first_refusal < 29, "{statuses:?}");
    assert!(statuses[..first_refusal].iter().all(|s| *s == 401), "{statuses:?}");
}

#[tokio::test]
async fn a_brute_force_of_one_account_locks_out_no_one_else_behind_the_address() {
    let limits = limits("auth=5/60s,login-failures=20/15m");
    let app =
        TestApp::spawn_with_clock(window_clock(), |config| config.rate_limits = limits.parse().unwrap())
            .await;
    app.user("alice", Role::Customer).await;
    app.user("victim", Role::Customer).await;
    let mut statuses = Vec::new();
    for _ in 0..8 {
        statuses.push(login_status(&app, "victim", "Guess-Number-1").await);
    }
    assert_eq!(statuses[5..], [429, 429, 429], "{statuses:?}");
    // The same address, another account: one username failed, far from the spraying limit.
    assert_eq!(login_status(&app, "alice", "Correct-Horse-42").await, 200);
}

#[tokio::test]
async fn a_refresh_flood_from_a_shared_address_blocks_no_one_elses_refresh_or_logout() {
    let limits = limits("auth=5/60s,auth-unknown-token=10/60s");
    let app =
        TestApp::spawn_with_clock(window_clock(), |config| config.rate_limits = limits.parse().unwrap())
            .await;
    app.user("bob", Role::Customer).await;
    let bob = login_pair(&app.anonymous, "bob", "Correct-Horse-42").await;
    // Junk tokens from the same address (behind one NAT): counted per address, in their class.
    let mut junk = Vec::new();
    for i in 0..15 {
        let body = json!({"refresh_token": format!("sfr_junk-{i}")});
        let response =
            app.anonymous_http.post(app.url("/api/v1/auth/refresh")).json(&body).send().await.unwrap();
        junk.push(response.status().as_u16());
    }
    assert_eq!(junk[..10], [401; 10], "{junk:?}");
    assert_eq!(junk[10..], [429; 5], "{junk:?}");
    // Bob's own login has its own counter: his refresh and his logout go through.
    let refreshed =
        app.anonymous.auth_refresh().body_map(|b| b.refresh_token(bob.refresh_token.clone())).send().await;
    let refreshed = refreshed.expect("bob's refresh is not blocked by the flood").into_inner();
    let body = json!({"refresh_token": refreshed.refresh_token});
    let logout = app.anonymous_http.post(app.url("/api/v1/auth/logout")).json(&body).send().await.unwrap();
    assert_eq!(logout.status(), 204);
}

#[tokio::test]
async fn api_keys_count_against_their_owners_limit() {
    let limits = limits("default=6/60s");
    let app =
        TestApp::spawn_with_clock(window_clock(), |config| config.rate_limits = limits.parse().unwrap())
            .await;
    let casey = app.user("casey", Role::Customer).await;
    let mut keys = Vec::new();
    for name in ["one", "two"] {
        let created = casey.client.api_key_create().body_map(|b| b.name(name)).send().await.unwrap();
        keys.push(created.into_inner().key);
    }
    // Two requests so far; each key and the token take from the same six.
    let with_key =
        |key: &str| app.anonymous_http.get(app.url("/api/v1/tags")).header("x-api-key", key).send();
    let mut statuses = Vec::new();
    statuses.push(with_key(&keys[0]).await.unwrap().status().as_u16());
    statuses.push(with_key(&keys[1]).await.unwrap().status().as_u16());
    statuses.push(casey.http.get(app.url("/api/v1/tags")).send().await.unwrap().status().as_u16());
    statuses.push(with_key(&keys[0]).await.unwrap().status().as_u16());
    statuses.push(with_key(&keys[1]).await.unwrap().status().as_u16());
    assert_eq!(statuses, [200, 200, 200, 200, 429]);
}

#[tokio::test]
async fn an_account_has_at_most_the_configured_number_of_api_keys() {
    let app = TestApp::spawn_with(|config| config.max_api_keys_per_user = 2).await;
    let casey = app.user("casey", Role::Customer).await;
    let create = |name: &'static str| casey.client.api_key_create().body_map(move |b| b.name(name)).send();
    let first = create("one").await.unwrap().into_inner();
    create("two").await.unwrap();
    let third = create("three").await;
    assert_eq!(crate::common::status_of(third), 409);
    casey.client.api_key_delete().id(first.id).send().await.unwrap();
    assert!(create("three").await.is_ok(), "a revoked key frees its place");
}

#[tokio::test]
async fn an_access_token_stops_working_when_its_login_ends() {
    let app = TestApp::spawn().await;
    app.user("dana", Role::Customer).await;
    let me = |token: &str| authorized_http(token).get(app.url("/api/v1/users/me")).send();

    // Logout.
    let session = login_pair(&app.anonymous, "dana", "Correct-Horse-42").await;
    assert_eq!(me(&session.access_token).await.unwrap().status(), 200);
    app.anonymous
        .auth_logout()
        .body_map(|b| b.refresh_token(session.refresh_token.clone()))
        .send()
        .await
        .unwrap();
    let after = me(&session.access_token).await.unwrap();
    assert_eq!(after.status(), 401);
    assert!(after.headers()["www-authenticate"].to_str().unwrap().contains("invalid_token"));

    // A replayed refresh token revokes the login, its access tokens with it.
    let first = login_pair(&app.anonymous, "dana", "Correct-Horse-42").await;
    let second =
        app.anonymous.auth_refresh().body_map(|b| b.refresh_token(first.refresh_token.clone())).send().await;
    let second = second.unwrap().into_inner();
    assert_eq!(me(&second.access_token).await.unwrap().status(), 200);
    let replay =
        app.anonymous.auth_refresh().body_map(|b| b.refresh_token(first.refresh_token.clone())).send().await;
    assert_eq!(crate::common::status_of(replay), 401);
    for token in [&first.access_token, &second.access_token] {
        assert_eq!(me(token).await.unwrap().status(), 401);
    }
    // Another login of the same user is untouched.
    let other = login_pair(&app.anonymous, "dana", "Correct-Horse-42").await;
    assert_eq!(me(&other.access_token).await.unwrap().status(), 200);
}

#[tokio::test]
async fn names_that_hide_text_are_refused_and_lookalikes_are_duplicates() {
    // Raw JSON: the typed client refuses what the spec's patterns refuse.
    let app = TestApp::spawn().await;
    let create =
        |name: &str| app.http.post(app.url("/api/v1/categories")).json(&json!({"name": name})).send();
    for name in [
        "a\u{85}b",
        "a\u{9b}b",
        "\u{200d}",
        "\u{202e}",
        "\u{301}",
        "abc\u{202e}gpj.exe",
        "Electronics\u{200b}",
        "soft\u{ad}hyphen",
    ] {
        let response = create(name).await.unwrap();
        assert_eq!(response.status(), 422, "{name:?}");
        let problem: Value = response.json().await.unwrap();
        assert_eq!(problem["errors"][0]["field"], "name", "{name:?}");
    }
    assert_eq!(create("Electronics").await.unwrap().status(), 201);
    for lookalike in ["ELECTRONICS", "ＥＬＥＣＴＲＯＮＩＣＳ", "Electronics\u{fe00}"] {
        let status = create(lookalike).await.unwrap().status().as_u16();
        assert!(status == 409 || status == 422, "{lookalike:?}: {status}");
    }
    assert_eq!(create("ＥＬＥＣＴＲＯＮＩＣＳ").await.unwrap().status(), 409);
    // Scripts and emoji sequences that need a joiner are names.
    assert_eq!(create("👩‍💻 Gadgets").await.unwrap().status(), 201);
    assert_eq!(create("Épicerie fine").await.unwrap().status(), 201);
    let product =
        json!({"name": "Tea", "price": "1.00", "stock": 1, "category_id": 1, "tags": ["ok", "bad\u{200b}"]});
    let response = app.http.post(app.url("/api/v1/products")).json(&product).send().await.unwrap();
    assert_eq!(response.status(), 422);
    let problem: Value = response.json().await.unwrap();
    assert_eq!(problem["errors"][0]["field"], "tags.1");
}

#[tokio::test]
async fn terminated_database_connections_answer_503_never_500() {
    let Ok(admin_url) = std::env::var(POSTGRES_ENV) else { return }; // PostgreSQL only: see the README.
    let app = TestApp::spawn().await;
    app.seed_demo().await;
    let database = app.database_url.rsplit('/').next().unwrap().split('?').next().unwrap().to_string();
    let kill = async {
        use sqlx::Connection;
        let mut connection = sqlx::PgConnection::connect(&admin_url).await.unwrap();
        for _ in 0..20 {
            let sql = format!(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{database}' \
                 AND pid <> pg_backend_pid()"
            );
            let _ = sqlx::query(sqlx::AssertSqlSafe(sql)).execute(&mut connection).await;
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    let load = async {
        let mut answers = Vec::new();
        for i in 0..200 {
            let response = if i % 4 == 0 {
                let body = json!({"name": format!("Load {i}")});
                app.http.post(app.url("/api/v1/categories")).json(&body).send().await.unwrap()
            } else {
                app.http.get(app.url("/api/v1/products/1")).send().await.unwrap()
            };
            answers.push((response.status().as_u16(), response.headers().contains_key("retry-after")));
        }
        answers
    };
    let ((), answers) = tokio::join!(kill, load);
    for (status, retry_after) in &answers {
        assert!(matches!(status, 200 | 201 | 503), "{status} in {answers:?}");
        assert!(*status != 503 || *retry_after, "503 without Retry-After");
    }
    // The pool has replaced what was killed.
    assert_eq!(app.http.get(app.url("/api/v1/products/1")).send().await.unwrap().status(), 200);
}

/// A PostgreSQL server of the test's own (initdb in a temporary directory, a free port), which
/// the test may stop and start: never the shared one.
struct OwnPostgres {
    bin: std::path::PathBuf,
    dir: tempfile::TempDir,
    port: u16,
}

impl OwnPostgres {
    fn new() -> Option<OwnPostgres> {
        let bin = std::fs::read_dir("/usr/lib/postgresql")
            .ok()?
            .filter_map(Result::ok)
            .map(|e| e.path().join("bin"))
            .find(|b| b.join("initdb").exists())?;
        let dir = tempfile::tempdir().ok()?;
        let port = std::net::TcpListener::bind("127.0.0.1:0").ok()?.local_addr().ok()?.port();
        let own = OwnPostgres { bin, dir, port };
        own.chown();
        let data = own.dir.path().join("data");
        let status = own.run("initdb", &["-D", data.to_str()?, "-A", "trust", "-U", "postgres", "--no-sync"]);
        status.then_some(own)
    }

    /// initdb and postgres refuse to run as root: they run as `postgres`, which owns the directory.
    fn as_root() -> bool {
        std::process::Command::new("id").arg("-u").output().is_ok_and(|o| o.stdout.trim_ascii() == b"0")
    }

    fn chown(&self) {
        if OwnPostgres::as_root() {
            let _ = std::process::Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(self.dir.path())
                .status();
        }
    }

    fn run(&self, tool: &str, args: &[&str]) -> bool {
        let program = self.bin.join(tool);
        let mut command = if OwnPostgres::as_root() {
            let mut command = std::process::Command::new("runuser");
            command.args(["-u", "postgres", "--"]).arg(&program);
            command
        } else {
            std::process::Command::new(&program)
        };
        command.args(args).stdout(std::process::Stdio::null()).stderr(std::process::Stdio::null());
        command.status().is_ok_and(|s| s.success())
    }

    fn start(&self) {
        let data = self.dir.path().join("data");
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off",
            self.port,
            self.dir.path().display()
        );
        let log = self.dir.path().join("log");
        assert!(
            self.run(
                "pg_ctl",
                &["-D", data.to_str().unwrap(), "-o", &options, "-l", log.to_str().unwrap(), "-w", "start"]
            ),
            "the test's own PostgreSQL starts"
        );
    }

    fn stop(&self) {
        let data = self.dir.path().join("data");
        assert!(self.run("pg_ctl", &["-D", data.to_str().unwrap(), "-m", "fast", "-w", "stop"]));
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }
}

impl Drop for OwnPostgres {
    fn drop(&mut self) {
        let data = self.dir.path().join("data");
        let _ = self.run("pg_ctl", &["-D", data.to_str().unwrap_or_default(), "-m", "immediate", "stop"]);
    }
}

/// Waits (up to 15 s) for `/readyz` to pass again, by itself, once the database is back.
async fn resumes(app: &TestApp) {
    let deadline = Instant::now() + Duration::from_secs(15);
    while app.anonymous_http.get(app.url("/readyz")).send().await.unwrap().status() != 200 {
        assert!(Instant::now() < deadline, "service did not resume");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn a_stopped_database_answers_503_within_a_second_and_service_resumes_on_its_own() {
    let Some(postgres) = OwnPostgres::new() else {
        eprintln!("no initdb here (the postgresql package): skipped");
        return;
    };
    postgres.start();
    let app = TestApp::spawn_with(|config| {
        config.database_url = storefront::config::Secret(postgres.url());
        config.db_acquire_timeout_ms = 3000;
    })
    .await;
    let created =
        app.http.post(app.url("/api/v1/categories")).json(&json!({"name": "Before"})).send().await.unwrap();
    assert_eq!(created.status(), 201);

    postgres.stop();
    // The first request finds the database gone; after it, everyone learns it at once.
    let first = app.http.get(app.url("/api/v1/categories")).send().await.unwrap();
    assert_eq!(first.status(), 503);
    for path in ["/api/v1/categories", "/api/v1/products/1", "/readyz"] {
        let started = Instant::now();
        let response = app.anonymous_http.get(app.url(path)).send().await.unwrap();
        assert_eq!(response.status(), 503, "{path}");
        assert!(started.elapsed() < Duration::from_secs(1), "{path} took {:?}", started.elapsed());
        assert!(response.headers().contains_key("retry-after"), "{path}");
        let problem: Value = response.json().await.unwrap();
        assert_eq!(problem["type"], "/problems/unavailable");
        let detail = problem["detail"].as_str().unwrap();
        assert!(!detail.contains("sqlx") && !detail.contains("connection refused"), "{detail}");
    }
    assert_eq!(app.anonymous_http.get(app.url("/healthz")).send().await.unwrap().status(), 200);

    postgres.start();
    resumes(&app).await;
    // What was acknowledged before the outage is there.
    let page: Value = app.http.get(app.url("/api/v1/categories")).send().await.unwrap().json().await.unwrap();
    assert_eq!(page["items"][0]["name"], "Before");
}

#[tokio::test]
async fn a_database_restart_under_load_answers_503_then_recovers_and_loses_no_acknowledged_write() {
    let Some(postgres) = OwnPostgres::new() else {
        eprintln!("no initdb here (the postgresql package): skipped");
        return;
    };
    postgres.start();
    let app = std::sync::Arc::new(
        TestApp::spawn_with(|config| {
            config.database_url = storefront::config::Secret(postgres.url());
            config.db_acquire_timeout_ms = 1000;
        })
        .await,
    );
    let running = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
    // Light load: four writers creating categories, one reader, each about 30 requests a second.
    let writers: Vec<_> = (0..4)
        .map(|writer| {
            let (app, running) = (app.clone(), running.clone());
            tokio::spawn(async move {
                let (mut acknowledged, mut unavailable) = (Vec::new(), 0);
                let mut n = 0;
                while running.load(std::sync::atomic::Ordering::Relaxed) {
                    n += 1;
                    let name = format!("w{writer}-{n}");
                    let response = app
                        .http
                        .post(app.url("/api/v1/categories"))
                        .json(&json!({ "name": name }))
                        .send()
                        .await
                        .unwrap();
                    match response.status().as_u16() {
                        201 => acknowledged.push(name),
                        503 => {
                            assert!(response.headers().contains_key("retry-after"));
                            unavailable += 1;
                        }
                        status => panic!("{name}: {status} {}", response.text().await.unwrap()),
                    }
                    tokio::time::sleep(Duration::from_millis(30)).await;
                }
                (acknowledged, unavailable)
            })
        })
        .collect();
    let reader = {
        let (app, running) = (app.clone(), running.clone());
        tokio::spawn(async move {
            while running.load(std::sync::atomic::Ordering::Relaxed) {
                let status =
                    app.anonymous_http.get(app.url("/api/v1/categories")).send().await.unwrap().status();
                assert!(status == 200 || status == 503, "read: {status}");
                tokio::time::sleep(Duration::from_millis(30)).await;
            }
        })
    };

    tokio::time::sleep(Duration::from_millis(700)).await;
    postgres.stop();
    tokio::time::sleep(Duration::from_millis(2500)).await;
    postgres.start();
    resumes(&app).await;
    tokio::time::sleep(Duration::from_millis(700)).await;
    running.store(false, std::sync::atomic::Ordering::Relaxed);
    reader.await.unwrap();
    let (mut acknowledged, mut unavailable) = (Vec::new(), 0);
    for writer in writers {
        let (names, errors) = writer.await.unwrap();
        acknowledged.extend(names);
        unavailable += errors;
    }
    assert!(unavailable > 0, "the outage was not seen");

    // Every acknowledged write is there after the restart.
    let mut stored = std::collections::BTreeSet::new();
    let mut offset = 0;
    loop {
        let page: Value = app
            .http
            .get(app.url(&format!("/api/v1/categories?limit=100&offset={offset}")))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let items = page["items"].as_array().unwrap();
        stored.extend(items.iter().map(|c| c["name"].as_str().unwrap().to_string()));
        if items.len() < 100 {
            break;
        }
        offset += 100;
    }
    let lost: Vec<_> = acknowledged.iter().filter(|name| !stored.contains(*name)).collect();
    assert!(lost.is_empty(), "acknowledged, then lost: {lost:?}");
    eprintln!("{} writes acknowledged, {unavailable} answered 503 during the outage", acknowledged.len());
}

#[tokio::test]
async fn a_deleted_sqlite_file_fails_readiness_and_writes() {
    if std::env::var(POSTGRES_ENV).is_ok() {
        return; // SQLite only.
    }
    let app = TestApp::spawn().await;
    let path = app.database_url.trim_start_matches("sqlite://").to_string();
    assert_eq!(app.anonymous_http.get(app.url("/readyz")).send().await.unwrap().status(), 200);
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{path}{suffix}"));
    }
    assert_eq!(app.anonymous_http.get(app.url("/readyz")).send().await.unwrap().status(), 503);
    let write =
        app.http.post(app.url("/api/v1/categories")).json(&json!({"name": "Lost"})).send().await.unwrap();
    assert_eq!(write.status(), 503);
    assert!(write.headers().contains_key("retry-after"));
    // Reads that need new connections (more at once than the pool has open) must not open an
    // empty database in the file's place: 503, or 200 from a connection to the deleted file,
    // never 500 ("no such table").
    let reads = (0..12).map(|_| app.http.get(app.url("/api/v1/users/me")).send());
    for read in futures::future::join_all(reads).await {
        let status = read.unwrap().status();
        assert!(status == 503 || status == 200, "{status}");
    }
    assert!(!std::path::Path::new(&path).exists(), "an empty database was made in its place");
}

#[tokio::test]
async fn a_missing_or_read_only_sqlite_database_is_refused_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let missing = format!("sqlite://{}", dir.path().join("missing.db").display());
    let log = storefront::logging::discard();
    let mut config = storefront::config::Config::with_database(missing.clone());
    config.bind = "127.0.0.1:0".parse().unwrap();
    config.db_no_create = true;
    let error = storefront::start(config, log.clone()).await.err().expect("refused");
    assert!(error.contains("does not exist"), "{error}");
    assert!(!dir.path().join("missing.db").exists(), "no empty database was made in its place");
    let mut production = storefront::config::Config::with_database(missing);
    production.bind = "127.0.0.1:0".parse().unwrap();
    production.environment = storefront::config::Environment::Production;
    production.jwt_secret = Some(storefront::config::Secret("x".repeat(32)));
    let error = storefront::start(production, log.clone()).await.err().expect("refused in production");
    assert!(error.contains("does not exist"), "{error}");

    // A database the server cannot write to.
    let path = dir.path().join("ro.db");
    let created = format!("sqlite://{}", path.display());
    storefront::open_for_operator(&storefront::config::Config::with_database(created), true)
        .await
        .unwrap()
        .store()
        .close()
        .await;
    let mut read_only =
        storefront::config::Config::with_database(format!("sqlite://{}?mode=ro", path.display()));
    read_only.bind = "127.0.0.1:0".parse().unwrap();
    let error = storefront::start(read_only, log).await.err().expect("refused");
    assert!(error.contains("read-only"), "{error}");
}

#[tokio::test]
async fn shutdown_closes_what_is_still_open_once_the_grace_period_is_over() {
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("grace.db").display());
    let mut server = ServerProcess::start(&url, &[("STOREFRONT_SHUTDOWN_GRACE_SECS", "1")]);
    let address = server.base.trim_start_matches("http://").to_string();
    // A client that trickles its body: it would hold the server open for minutes.
    let mut trickler = std::net::TcpStream::connect(&address).unwrap();
    write!(trickler, "POST /api/v1/auth/login HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 1000\r\n\r\n").unwrap();
    let trickling = std::thread::spawn(move || {
        for _ in 0..100 {
            if trickler.write_all(b" ").is_err() {
                break;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    });
    std::thread::sleep(Duration::from_millis(300));
    let started = Instant::now();
    assert!(std::process::Command::new("kill")
        .args(["-TERM", &server.child.id().to_string()])
        .status()
        .unwrap()
        .success());
    let status = loop {
        if let Some(status) = server.child.try_wait().unwrap() {
            break status;
        }
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "still running {:?} after SIGTERM",
            started.elapsed()
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "{status}");
    assert!(started.elapsed() < Duration::from_secs(4), "the grace is 1 s: {:?}", started.elapsed());
    let _ = trickling.join();
}

#[tokio::test]
async fn every_response_varies_by_origin_when_cors_is_configured() {
    let app = TestApp::spawn_with(|config| config.cors_origins = vec!["https://shop.example".into()]).await;
    for origin in [None, Some("https://evil.example"), Some("https://shop.example")] {
        let mut request = app.anonymous_http.get(app.url("/api/v1/tags"));
        if let Some(origin) = origin {
            request = request.header("origin", origin);
        }
        let response = request.send().await.unwrap();
        let vary: Vec<&str> =
            response.headers().get_all("vary").iter().filter_map(|v| v.to_str().ok()).collect();
        assert!(vary.iter().any(|v| v.contains("Origin")), "{origin:?}: {vary:?}");
        let allowed = response.headers().contains_key("access-control-allow-origin");
        assert_eq!(allowed, origin == Some("https://shop.example"), "{origin:?}");
    }
}

#[tokio::test]
async fn patch_users_me_changes_the_callers_own_account() {
    let app = TestApp::spawn().await;
    let updated = app
        .client
        .user_update()
        .id("me")
        .body_map(|b| b.email(Some("root@example.com".parse().unwrap())))
        .send()
        .await;
    assert_eq!(updated.unwrap().email.as_str(), "root@example.com");
    // What OPTIONS lists for /users/me works: PATCH is the admin's (x-roles), for anyone else 403.
    let casey = app.user("casey", Role::Customer).await;
    let patch = casey
        .client
        .user_update()
        .id("me")
        .body_map(|b| b.email(Some("c@example.com".parse().unwrap())))
        .send()
        .await;
    assert_eq!(crate::common::status_of(patch), 403);
    let demote = app.client.user_update().id("me").body_map(|b| b.role(Some(Role::Customer))).send().await;
    assert_eq!(crate::common::status_of(demote), 409);
}

#[tokio::test]
async fn name_keys_stored_by_the_old_rule_are_brought_up_to_date_once() {
    if std::env::var(POSTGRES_ENV).is_ok() {
        return; // The migration is the same SQL on both back-ends; SQLite makes the setup simple.
    }
    use sqlx::Connection;
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("rekey.db").display());
    let config = storefront::config::Config::with_database(url.clone());
    let app = storefront::open_for_operator(&config, true).await.unwrap();
    app.category_create(&storefront::app::Actor::Operator, "Straße").await.unwrap();
    app.store().close().await;
    // As the previous release stored it: lower-cased, and no record of the data migration.
    let mut connection = sqlx::SqliteConnection::connect(&url).await.unwrap();
    sqlx::query("UPDATE categories SET name_key = 'straße'").execute(&mut connection).await.unwrap();
    sqlx::query("DELETE FROM data_migrations").execute(&mut connection).await.unwrap();
    connection.close().await.unwrap();

    let app = storefront::open_for_operator(&config, false).await.unwrap();
    let duplicate = app.category_create(&storefront::app::Actor::Operator, "STRASSE").await;
    assert!(matches!(duplicate, Err(storefront::error::Error::Conflict(_))), "{duplicate:?}");
    app.store().close().await;
}

/// Committed writes reach the SQLite file itself within moments, not only its WAL: the WAL is
/// checkpointed in the background (src/store/sqlite.rs), so the writer never stops to
/// checkpoint a long WAL itself, and a copy of the file alone holds them. SQLite left alone
/// checkpoints at 1,000 WAL pages: 20 small writes would stay in the WAL.
#[tokio::test]
async fn committed_writes_reach_the_sqlite_file_itself_within_moments() {
    if std::env::var(POSTGRES_ENV).is_ok() {
        return; // SQLite only.
    }
    let app = TestApp::spawn().await;
    let path = app.database_url.trim_start_matches("sqlite://").to_string();
    for i in 0..20 {
        let created = app
            .http
            .post(app.url("/api/v1/categories"))
            .json(&json!({"name": format!("Filed {i}")}))
            .send()
            .await
            .unwrap();
        assert_eq!(created.status(), 201);
    }
    let scratch = tempfile::tempdir().unwrap();
    let copy = scratch.path().join("copy.db");
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        std::fs::copy(&path, &copy).unwrap();
        let url = format!("sqlite://{}", copy.display());
        let mut connection = <sqlx::SqliteConnection as sqlx::Connection>::connect(&url).await.unwrap();
        // Not even the schema, until a checkpoint: "no such table".
        let filed: i64 = sqlx::query_scalar("SELECT count(*) FROM categories WHERE name LIKE 'Filed %'")
            .fetch_one(&mut connection)
            .await
            .unwrap_or(0);
        sqlx::Connection::close(connection).await.unwrap();
        let _ = std::fs::remove_file(scratch.path().join("copy.db-wal"));
        let _ = std::fs::remove_file(scratch.path().join("copy.db-shm"));
        if filed == 20 {
            break;
        }
        assert!(Instant::now() < deadline, "after 5 s the file itself holds {filed} of the 20 writes");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
