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
