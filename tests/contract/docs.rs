//! The interactive docs: `/docs` works with no network — Swagger UI from assets embedded in the
//! binary, under a strict CSP — and lists the operations in a real browser (headless Chromium)
//! that makes no request beyond the server. Raw HTTP for the page and its assets.

use std::path::PathBuf;

use crate::common::TestApp;

#[tokio::test]
async fn docs_are_served_from_the_binary_under_a_strict_csp() {
    let app = TestApp::spawn().await;
    let page = app.anonymous_http.get(app.url("/docs")).send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert_eq!(page.headers()["content-type"], "text/html; charset=utf-8");
    let csp = page.headers()["content-security-policy"].to_str().unwrap().to_string();
    assert!(csp.contains("default-src 'none'") && csp.contains("script-src 'self'"), "{csp}");
    assert!(csp.contains("connect-src 'self'"), "{csp}");
    let html = page.text().await.unwrap();
    for asset in ["/docs/assets/swagger-ui.css", "/docs/assets/swagger-ui-bundle.js", "/docs/assets/docs.js"]
    {
        assert!(html.contains(asset), "{html}");
        let response = app.anonymous_http.get(app.url(asset)).send().await.unwrap();
        assert_eq!(response.status(), 200, "{asset}");
        let kind = if asset.ends_with(".css") { "text/css" } else { "text/javascript" };
        assert_eq!(response.headers()["content-type"], kind, "{asset}");
    }
    assert!(
        !html.contains("http://") && !html.contains("https://"),
        "the page names no other server: {html}"
    );
    let missing = app.anonymous_http.get(app.url("/docs/assets/other.js")).send().await.unwrap();
    assert_eq!(missing.status(), 404);
    let index = app.anonymous.api_index().send().await.unwrap();
    assert_eq!(index.links.docs, "/docs");
}

/// The Chromium of the machine, if there is one.
pub fn chromium() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    ["chromium", "chromium-browser", "google-chrome"]
        .iter()
        .flat_map(|name| std::env::split_paths(&path).map(move |dir| dir.join(name)))
        .find(|candidate| candidate.is_file())
}

/// The requests a Chromium net log shows the page making: the URL of every request started
/// for the page's site or with the page as initiator (the browser's own background requests —
/// updates, time, accounts — are neither, and are refused by the resolver rules anyway).
fn page_requests(log: &serde_json::Value, origin: &str) -> Vec<String> {
    let start = log["constants"]["logEventTypes"]["URL_REQUEST_START_JOB"].as_u64().expect("the event type");
    log["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter(|event| event["type"].as_u64() == Some(start))
        .map(|event| &event["params"])
        .filter(|params| {
            params["initiator"].as_str() == Some(origin)
                || params["network_isolation_key"]
                    .as_str()
                    .is_some_and(|key| key.starts_with("http://127.0.0.1"))
        })
        .filter_map(|params| params["url"].as_str().map(String::from))
        .collect()
}

#[tokio::test]
async fn docs_list_the_operations_in_a_browser_that_reaches_nothing_but_the_server() {
    let Some(browser) = chromium() else {
        eprintln!("SKIPPED docs browser test: chromium is not installed (apt-get install -y chromium; .ci/run installs it)");
        return;
    };
    let app = TestApp::spawn().await;
    let dir = tempfile::tempdir().unwrap();
    let net_log = dir.path().join("net-log.json");
    let screenshot = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("docs.png");
    let url = app.url("/docs");
    let run = |extra: Vec<String>| {
        let mut args = vec![
            "--headless".to_string(),
            "--no-sandbox".into(),
            "--disable-gpu".into(),
            "--disable-dev-shm-usage".into(),
            "--no-first-run".into(),
            "--no-default-browser-check".into(),
            "--disable-background-networking".into(),
            "--disable-component-update".into(),
            "--disable-sync".into(),
            "--disable-extensions".into(),
            "--disable-default-apps".into(),
            // No outside network: every name but the server's resolves to nothing.
            "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1".into(),
            format!("--user-data-dir={}", dir.path().join("profile").display()),
            "--virtual-time-budget=20000".into(),
            "--window-size=1280,1600".into(),
        ];
        args.extend(extra);
        args.push(url.clone());
        let browser = browser.clone();
        tokio::task::spawn_blocking(move || std::process::Command::new(browser).args(args).output())
    };
    let dom = run(vec!["--dump-dom".into(), format!("--log-net-log={}", net_log.display())])
        .await
        .unwrap()
        .unwrap();
    let html = String::from_utf8_lossy(&dom.stdout);
    assert!(dom.status.success(), "chromium: {}", String::from_utf8_lossy(&dom.stderr));
    // Swagger UI rendered the spec: an operation block per operation, with their paths.
    let spec: serde_json::Value = serde_json::from_str(storefront::api::OPENAPI_JSON).unwrap();
    let operations: usize = spec["paths"]
        .as_object()
        .unwrap()
        .values()
        .map(|item| item.as_object().unwrap().keys().filter(|k| *k != "parameters").count())
        .sum();
    let blocks = html.matches("class=\"opblock opblock-").count();
    assert_eq!(blocks, operations, "operations listed in the page");
    for path in ["/api/v1/products", "/api/v1/auth/login", "/healthz"] {
        assert!(html.contains(&format!("data-path=\"{path}\"")), "{path} is not listed");
    }
    // Nothing but the server was asked for anything.
    let log: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&net_log).unwrap()).unwrap();
    let seen = page_requests(&log, &app.base);
    assert!(seen.iter().any(|u| u.ends_with("/docs/assets/swagger-ui-bundle.js")), "{seen:?}");
    assert!(seen.iter().any(|u| u.ends_with("/openapi.json")), "the page did not load the spec: {seen:?}");
    let outside: Vec<&String> = seen.iter().filter(|u| !u.starts_with(&app.base)).collect();
    assert!(outside.is_empty(), "requests beyond the server: {outside:?}");

    let shot = run(vec![format!("--screenshot={}", screenshot.display())]).await.unwrap().unwrap();
    assert!(shot.status.success(), "chromium: {}", String::from_utf8_lossy(&shot.stderr));
    assert!(std::fs::metadata(&screenshot).unwrap().len() > 10_000, "a screenshot of the docs");
    println!("docs screenshot: {}", screenshot.display());
}
