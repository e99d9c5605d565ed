//! Rate limits: every limited operation reaches 429, admins get their own class, the client
//! address honours only trusted proxies, and PostgreSQL shares counters between processes.

use serde_json::Value;

use crate::common::{sample, TestApp};

/// A small limit for every class, so that tests reach it.
const SMALL: &str = "auth=3/60s,default=3/60s,admin=3/60s";

// The tests below that expect an exact sequence of answers use day-long windows: fixed windows
// start on multiples of their length, and a minute's would roll over mid-test now and then.

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
            let app = TestApp::spawn_with(|config| config.rate_limits = SMALL.parse().unwrap()).await;
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
            // Answers in the current window: a fixed window may roll over mid-test (the reset
            // then jumps up), and counting starts again.
            let (mut in_window, mut last_reset) = (0, u64::MAX);
            for attempt in 0..6 {
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
                let reset: u64 = header("ratelimit-reset").expect("RateLimit-Reset").parse().unwrap();
                in_window = if reset > last_reset { 1 } else { in_window + 1 };
                last_reset = reset;
                if status == 429 {
                    assert_eq!(header("ratelimit-remaining").as_deref(), Some("0"), "{id}");
                    let retry: u64 = header("retry-after").expect("Retry-After").parse().unwrap();
                    assert!((1..=60).contains(&retry), "{id}: Retry-After {retry}");
                    let problem: Value = response.json().await.unwrap();
                    assert_eq!(problem["type"], "/problems/too-many-requests", "{id}");
                    break;
                }
            }
            assert_eq!(statuses.last(), Some(&429), "{id} ({class}) never answered 429: {statuses:?}");
            assert_eq!(in_window, 4, "{id}: 429 must come right after the limit: {statuses:?}");
        }
    }
}

#[tokio::test]
async fn admins_get_the_larger_admin_class() {
    let app = TestApp::spawn_with(|config| {
        config.rate_limits = "auth=100/24h,default=2/24h,admin=10/24h".parse().unwrap()
    })
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
    let limits = "auth=100/24h,default=2/24h,admin=100/24h";
    // Untrusted: every client behind the same peer shares its counter, whatever it claims.
    let app = TestApp::spawn_with(|config| config.rate_limits = limits.parse().unwrap()).await;
    let claims = |ip: &'static str| {
        app.anonymous_http.get(app.url("/api/v1/tags")).header("x-forwarded-for", ip).send()
    };
    assert_eq!(claims("203.0.113.1").await.unwrap().status(), 200);
    assert_eq!(claims("203.0.113.2").await.unwrap().status(), 200);
    assert_eq!(claims("203.0.113.3").await.unwrap().status(), 429);

    // Trusted (the proxy is 127.0.0.1): each forwarded client has its own counter.
    let app = TestApp::spawn_with(|config| {
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

/// A second server process on the same database (the `storefront` binary), and its address.
struct SecondProcess {
    child: std::process::Child,
    base: String,
}

impl Drop for SecondProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn second_process(database_url: &str, limits: &str) -> SecondProcess {
    use std::io::BufRead;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_storefront"))
        .env("DATABASE_URL", database_url)
        .env("STOREFRONT_BIND", "127.0.0.1:0")
        .env("STOREFRONT_RATE_LIMITS", limits)
        .env("STOREFRONT_LOG_FORMAT", "json")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("the storefront binary starts");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = std::io::BufReader::new(stdout).lines();
    let address = lines
        .by_ref()
        .take(50)
        .map_while(Result::ok)
        .filter_map(|line| serde_json::from_str::<Value>(&line).ok())
        .find(|line| line["msg"] == "serving")
        .and_then(|line| line["address"].as_str().map(String::from))
        .expect("the second server says where it serves");
    // Keep draining its log so that it never blocks on a full pipe.
    std::thread::spawn(move || lines.for_each(drop));
    SecondProcess { child, base: format!("http://{address}") }
}

#[tokio::test]
async fn two_processes_share_counters_on_postgresql_and_count_alone_on_sqlite() {
    let limits = "auth=100/24h,default=4/24h,admin=100/24h";
    let app = TestApp::spawn_with(|config| config.rate_limits = limits.parse().unwrap()).await;
    let other = second_process(&app.database_url, limits);
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
