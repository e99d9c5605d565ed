//! `GET /metrics`: the Prometheus text parses, and counts the requests made, by operation,
//! method and status class; rate-limit rejections by class; the pools; build information; an
//! address of their own. The samples are read from the raw text (the generated client hands
//! back the bytes; parsing them is the test).

use std::collections::BTreeMap;

use crate::common::TestApp;

/// One sample: its name and labels.
type Key = (String, BTreeMap<String, String>);

/// The samples of a scrape, checked to be well-formed text format.
fn parse(text: &str) -> BTreeMap<Key, f64> {
    let mut samples = BTreeMap::new();
    for line in text.lines().filter(|line| !line.is_empty() && !line.starts_with('#')) {
        let (series, value) = line.rsplit_once(' ').unwrap_or_else(|| panic!("a sample: {line}"));
        let value: f64 = value.parse().unwrap_or_else(|_| panic!("a value: {line}"));
        let (name, labels) = match series.split_once('{') {
            None => (series.to_string(), BTreeMap::new()),
            Some((name, rest)) => {
                let rest = rest.strip_suffix('}').unwrap_or_else(|| panic!("labels: {line}"));
                let labels = rest
                    .split("\",")
                    .filter(|pair| !pair.is_empty())
                    .map(|pair| {
                        let (key, value) =
                            pair.split_once("=\"").unwrap_or_else(|| panic!("a label: {line}"));
                        (key.to_string(), value.trim_end_matches('"').to_string())
                    })
                    .collect();
                (name.to_string(), labels)
            }
        };
        samples.insert((name, labels), value);
    }
    samples
}

fn key(name: &str, labels: &[(&str, &str)]) -> Key {
    (name.to_string(), labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect())
}

fn value(samples: &BTreeMap<Key, f64>, name: &str, labels: &[(&str, &str)]) -> f64 {
    samples.get(&key(name, labels)).copied().unwrap_or(0.0)
}

async fn scrape(app: &TestApp) -> BTreeMap<Key, f64> {
    let response = app.anonymous_http.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "text/plain; version=0.0.4; charset=utf-8");
    parse(&response.text().await.unwrap())
}

#[tokio::test]
async fn metrics_count_the_requests_made_by_operation_method_and_status_class() {
    let app = TestApp::spawn().await;
    let before = scrape(&app).await;
    for _ in 0..3 {
        app.anonymous.tag_list().send().await.unwrap();
    }
    let missing = app.anonymous_http.get(app.url("/api/v1/tags/999999")).send().await.unwrap();
    assert_eq!(missing.status(), 404);
    let unrouted = app.anonymous_http.delete(app.url("/no/such/route")).send().await.unwrap();
    assert_eq!(unrouted.status(), 404);
    let after = scrape(&app).await;

    let delta =
        |name: &str, labels: &[(&str, &str)]| value(&after, name, labels) - value(&before, name, labels);
    let tags_ok = [("method", "GET"), ("operation", "tag_list"), ("status", "2xx")];
    assert_eq!(delta("storefront_http_requests_total", &tags_ok), 3.0);
    assert_eq!(delta("storefront_http_request_duration_seconds_count", &tags_ok), 3.0);
    let mut inf = tags_ok.to_vec();
    inf.push(("le", "+Inf"));
    assert_eq!(delta("storefront_http_request_duration_seconds_bucket", &inf), 3.0);
    let tag_missing = [("method", "GET"), ("operation", "tag_get"), ("status", "4xx")];
    assert_eq!(delta("storefront_http_requests_total", &tag_missing), 1.0);
    let no_route = [("method", "DELETE"), ("operation", "none"), ("status", "4xx")];
    assert_eq!(delta("storefront_http_requests_total", &no_route), 1.0);
    // The first scrape counts once it is answered; the second is in flight while it renders.
    let scrapes = [("method", "GET"), ("operation", "metrics"), ("status", "2xx")];
    assert_eq!(delta("storefront_http_requests_total", &scrapes), 1.0);
    assert_eq!(value(&after, "storefront_http_requests_in_flight", &[]), 1.0);

    let pools: Vec<&str> = after
        .keys()
        .filter(|(name, _)| name == "storefront_db_pool_max_connections")
        .map(|(_, labels)| labels["pool"].as_str())
        .collect();
    assert!(pools == ["main"] || pools == ["read", "write"], "{pools:?}");
    assert!(after.keys().any(|(name, _)| name == "storefront_db_pool_idle_connections"));
    let build = after.iter().find(|((name, _), _)| name == "storefront_build_info").expect("build info");
    assert_eq!(*build.1, 1.0);
    assert_eq!(build.0 .1["version"], env!("CARGO_PKG_VERSION"));
}

#[tokio::test]
async fn metrics_count_rate_limit_rejections_by_class() {
    let app = TestApp::spawn_with(|config| {
        config.rate_limits = "default=2/60s".parse().unwrap();
    })
    .await;
    let statuses: Vec<u16> = futures_statuses(&app, 4).await;
    assert_eq!(statuses.iter().filter(|s| **s == 429).count(), 2, "{statuses:?}");
    let after = scrape(&app).await;
    assert_eq!(value(&after, "storefront_rate_limit_rejections_total", &[("class", "default")]), 2.0);
    assert_eq!(value(&after, "storefront_rate_limit_rejections_total", &[("class", "auth")]), 0.0);
    let limited = [("method", "GET"), ("operation", "tag_list"), ("status", "4xx")];
    assert_eq!(value(&after, "storefront_http_requests_total", &limited), 2.0);
}

async fn futures_statuses(app: &TestApp, n: usize) -> Vec<u16> {
    let mut statuses = Vec::new();
    for _ in 0..n {
        statuses
            .push(app.anonymous_http.get(app.url("/api/v1/tags")).send().await.unwrap().status().as_u16());
    }
    statuses
}

#[tokio::test]
async fn metrics_can_have_an_address_and_path_of_their_own() {
    let app = TestApp::spawn_with(|config| {
        config.metrics_bind = Some("127.0.0.1:0".parse().unwrap());
        config.metrics_path = "/internal/metrics".into();
    })
    .await;
    let public = app.anonymous_http.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(public.status(), 404);
    assert_eq!(public.headers()["content-type"], "application/problem+json");
    let admin = format!("http://{}", app.metrics_addr().expect("a metrics address"));
    let response = app.anonymous_http.get(format!("{admin}/internal/metrics")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let samples = parse(&response.text().await.unwrap());
    let public_404 = [("method", "GET"), ("operation", "metrics"), ("status", "4xx")];
    assert_eq!(value(&samples, "storefront_http_requests_total", &public_404), 1.0);
    let elsewhere = app.anonymous_http.get(format!("{admin}/metrics")).send().await.unwrap();
    assert_eq!(elsewhere.status(), 404);
}
