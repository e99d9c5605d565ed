//! Rate limits: every limited operation reaches 429, admins get their own class, the client
//! address honours only trusted proxies, and PostgreSQL shares counters between processes.

use serde_json::Value;
use storefront::clock::Clock;

use crate::common::{sample, ServerProcess, TestApp};

/// A small limit for every class, so that tests reach it.
const SMALL: &str = "auth=3/60s,auth-unknown-token=3/60s,login-failures=3/60s,default=3/60s,admin=3/60s";

/// A server whose clock stands one second into a window (windows start at multiples of their
/// length, and a day is a multiple of every window here), and that clock: nothing rolls over
/// until a test moves it.
async fn spawn_at_window_start(limits: &str) -> (TestApp, Clock) {
    let now = chrono::Utc::now().timestamp();
    let clock = Clock::manual(chrono::DateTime::from_timestamp(now - now % 86_400 + 1, 0).unwrap());
    let limits = limits.to_string();
    let app =
        TestApp::spawn_with_clock(clock.clone(), |config| config.rate_limits = limits.parse().unwrap()).await;
    (app, clock)
}

#[tokio::test]
async fn every_rate_limited_operation_answers_429_past_its_limit() {
    let spec: Value = serde_json::from_str(storefront::api::OPENAPI_JSON).unwrap();
    for (path, item) in spec["paths"].as_object().unwrap() {
        for method in ["get", "post", "put", "patch", "delete"] {
            let Some(op) = item.get(method) else { continue };
            let id = op["operationId"].as_str().unwrap();
            let class = op["x-rate-limit"].as_str().expect("every operation states x-rate-limit");
            if class == "none" {
                continue;
            }
            // A fresh server per operation, so that counters start at zero.
            let (app, _clock) = spawn_at_window_start(SMALL).await;
            app.seed_demo().await;
            let target = path.replace("{id}", "1");
            let body = op.pointer("/requestBody/content/application~1json/schema").map(|schema| {
                let mut body = sample(schema, &spec);
                if let Some(category) = body.get_mut("category_id") {
                    *category = serde_json::json!(2);
                }
                body
            });
            let mut statuses = Vec::new();
            for attempt in 0..4 {
                let method = reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
                let mut request = app.http.request(method, app.url(&target));
                if let Some(body) = &body {
                    request = request.json(body);
                }
                let response = request.send().await.unwrap();
                let status = response.status().as_u16();
                statuses.push(status);
                let header =
                    |name: &str| response.headers().get(name).map(|v| v.to_str().unwrap().to_string());
                assert_eq!(header("ratelimit-limit").as_deref(), Some("3"), "{id} attempt {attempt}");
                assert_eq!(header("x-ratelimit-limit").as_deref(), Some("3"), "{id}");
                assert_eq!(header("ratelimit-reset").as_deref(), Some("59"), "{id}");
                let remaining = 3u64.saturating_sub(attempt + 1).to_string();
                assert_eq!(header("ratelimit-remaining"), Some(remaining), "{id} attempt {attempt}");
                if attempt < 3 {
                    assert_ne!(status, 429, "{id} attempt {attempt}: {statuses:?}");
                    continue;
                }
                assert_eq!(
                    status, 429,
                    "{id} ({class}): the fourth request must be over the limit: {statuses:?}"
                );
                assert_eq!(header("retry-after").as_deref(), Some("59"), "{id}");
                let problem: Value = response.json().await.unwrap();
                assert_eq!(problem["type"], "/problems/too-many-requests", "{id}");
            }
        }
    }
}

#[tokio::test]
async fn a_new_window_counts_from_zero() {
    let (app, clock) = spawn_at_window_start(
        "auth=100/60s,auth-unknown-token=100/60s,login-failures=100/60s,default=2/60s,admin=100/60s",
    )
    .await;
    let url = app.url("/api/v1/tags");
    assert_eq!(futures_statuses(&app.anonymous_http, &url, 3).await, [200, 200, 429]);
    clock.advance(std::time::Duration::from_secs(58));
    let last = app.anonymous_http.get(&url).send().await.unwrap();
    assert_eq!((last.status().as_u16(), last.headers()["retry-after"].to_str().unwrap()), (429, "1"));
    clock.advance(std::time::Duration::from_secs(1));
    let next = app.anonymous_http.get(&url).send().await.unwrap();
    assert_eq!(next.status(), 200);
    assert_eq!(next.headers()["ratelimit-remaining"], "1");
    assert_eq!(next.headers()["ratelimit-reset"], "60");
}

#[tokio::test]
async fn admins_get_the_larger_admin_class() {
    let (app, _clock) = spawn_at_window_start(
        "auth=100/60s,auth-unknown-token=100/60s,login-failures=100/60s,default=2/60s,admin=10/60s",
    )
    .await;
    for _ in 0..5 {
        let response = app.http.get(app.url("/api/v1/products")).send().await.unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["ratelimit-limit"], "10");
    }
    let statuses: Vec<u16> = futures_statuses(&app.anonymous_http, &app.url("/api/v1/products"), 3).await;
    assert_eq!(statuses, [200, 200, 429]);
}

#[tokio::test]
async fn x_forwarded_for_is_believed_only_from_trusted_proxies() {
    let limits = "auth=100/60s,auth-unknown-token=100/60s,login-failures=100/60s,default=2/60s,admin=100/60s";
    // Untrusted: every client behind the same peer shares its counter, whatever it claims.
    let (app, _clock) = spawn_at_window_start(limits).await;
    let claims = |ip: &'static str| {
        app.anonymous_http.get(app.url("/api/v1/tags")).header("x-forwarded-for", ip).send()
    };
    assert_eq!(claims("203.0.113.1").await.unwrap().status(), 200);
    assert_eq!(claims("203.0.113.2").await.unwrap().status(), 200);
    assert_eq!(claims("203.0.113.3").await.unwrap().status(), 429);

    // Trusted (the proxy is 127.0.0.1): each forwarded client has its own counter.
    let now = chrono::Utc::now().timestamp();
    let clock = Clock::manual(chrono::DateTime::from_timestamp(now - now % 86_400 + 1, 0).unwrap());
    let app = TestApp::spawn_with_clock(clock, |config| {
        config.rate_limits = limits.parse().unwrap();
        config.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()];
    })
    .await;
    let via = |chain: &'static str| {
        app.anonymous_http.get(app.url("/api/v1/tags")).header("x-forwarded-for", chain).send()
    };
    assert_eq!(via("203.0.113.1").await.unwrap().status(), 200);
    assert_eq!(via("203.0.113.1").await.unwrap().status(), 200);
    assert_eq!(via("203.0.113.1").await.unwrap().status(), 429);
    assert_eq!(via("203.0.113.2").await.unwrap().status(), 200);
    // A client cannot escape by writing its own entries: the proxy appends the real address.
    assert_eq!(via("198.51.100.7, 203.0.113.1").await.unwrap().status(), 429);
}

async fn futures_statuses(client: &reqwest::Client, url: &str, n: usize) -> Vec<u16> {
    let mut out = Vec::new();
    for _ in 0..n {
        out.push(client.get(url).send().await.unwrap().status().as_u16());
    }
    out
}

/// A test server and a second instance in a process of its own on the same database, both with
/// `default_limit` in an hour's window: the second process tells real time (its clock cannot be
/// injected), so never within seconds of the hour, so that no window ends mid-test.
async fn two_instances(default_limit: u32) -> (TestApp, ServerProcess) {
    let limits = format!(
        "auth=100/1h,auth-unknown-token=100/1h,login-failures=100/1h,default={default_limit}/1h,admin=100/1h"
    );
    let into_hour = chrono::Utc::now().timestamp() % 3600;
    if into_hour > 3590 {
        tokio::time::sleep(std::time::Duration::from_secs((3601 - into_hour) as u64)).await;
    }
    let app = TestApp::spawn_with(|config| config.rate_limits = limits.parse().unwrap()).await;
    let other = ServerProcess::start(&app.database_url, &[("STOREFRONT_RATE_LIMITS", &limits)]);
    (app, other)
}

#[tokio::test]
async fn two_processes_share_counters_on_postgresql_and_count_alone_on_sqlite() {
    let (app, other) = two_instances(4).await;
    let client = &app.anonymous_http;
    let mut statuses = Vec::new();
    for base in [&app.base, &other.base, &app.base, &other.base, &app.base, &other.base] {
        statuses.push(client.get(format!("{base}/api/v1/tags")).send().await.unwrap().status().as_u16());
    }
    if app.database_url.starts_with("postgres") {
        // One counter for both: the fifth request overall is over the limit of four.
        assert_eq!(statuses, [200, 200, 200, 200, 429, 429]);
    } else {
        // SQLite is one machine's database: each process counts in memory, three each.
        assert_eq!(statuses, [200, 200, 200, 200, 200, 200]);
    }
}

#[tokio::test]
async fn on_postgresql_an_instance_adds_its_hits_in_batches_and_learns_the_others_within_the_sync_interval() {
    // A class of 1,000 requests: each instance adds its hits 10 at a time, or after
    // SYNC_INTERVAL.
    let (app, other) = two_instances(1000).await;
    let remaining = |response: &reqwest::Response| -> u64 {
        response.headers()["ratelimit-remaining"].to_str().unwrap().parse().unwrap()
    };
    let client = &app.anonymous_http;
    let mut last = None;
    for _ in 0..25 {
        last = Some(client.get(app.url("/api/v1/tags")).send().await.unwrap());
    }
    // An instance always counts its own hits, sent or not.
    assert_eq!(remaining(&last.unwrap()), 975);
    client.get(other.url("/api/v1/tags")).send().await.unwrap();
    tokio::time::sleep(storefront::ratelimit::SYNC_INTERVAL + std::time::Duration::from_millis(50)).await;
    // Past the interval, the other instance adds its two hits and learns the first one's sent
    // ones: all but the fewer than ten it has not sent yet.
    let seen = remaining(&client.get(other.url("/api/v1/tags")).send().await.unwrap());
    if app.database_url.starts_with("postgres") {
        assert!((1000 - 27..=1000 - 18).contains(&seen), "{seen}");
    } else {
        assert_eq!(seen, 998, "SQLite: each process counts alone");
    }
}
