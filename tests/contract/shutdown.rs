//! Graceful shutdown of the real binary: at SIGTERM readiness fails at once (in the problem
//! shape) while the API is still served for the drain period, then the listener closes, a
//! request in flight still completes, and the process exits 0. Raw HTTP: the login's body is
//! trickled, which the generated client cannot do.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use crate::common::ServerProcess;

fn sigterm(server: &ServerProcess) {
    let status = std::process::Command::new("kill")
        .args(["-TERM", &server.child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success());
}

#[tokio::test]
async fn sigterm_fails_readiness_drains_finishes_the_request_in_flight_and_exits_0() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("shutdown.db").display());
    let mut server = ServerProcess::start(
        &url,
        &[("STOREFRONT_SHUTDOWN_DRAIN_SECS", "1"), ("STOREFRONT_SHUTDOWN_GRACE_SECS", "10")],
    );
    let address = server.base.trim_start_matches("http://").to_string();
    let http = reqwest::Client::builder().pool_max_idle_per_host(0).build().unwrap();
    let registered = http
        .post(server.url("/api/v1/auth/register"))
        .json(&serde_json::json!({"username": "slowpoke", "email": "slow@example.com", "password": "Correct-Horse-42"}))
        .send()
        .await
        .unwrap();
    assert_eq!(registered.status(), 201);
    assert_eq!(http.get(server.url("/readyz")).send().await.unwrap().status(), 200);

    // A login whose body arrives over about 2.5 s: in flight through the whole shutdown.
    let body = br#"{"username":"slowpoke","password":"Correct-Horse-42"}"#;
    let mut slow = TcpStream::connect(&address).unwrap();
    write!(
        slow,
        "POST /api/v1/auth/login HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
        body.len()
    )
    .unwrap();
    let chunks: Vec<Vec<u8>> = body.chunks(body.len() / 5 + 1).map(<[u8]>::to_vec).collect();
    let trickle = std::thread::spawn(move || {
        for chunk in chunks {
            slow.write_all(&chunk).unwrap();
            std::thread::sleep(Duration::from_millis(500));
        }
        let mut response = Vec::new();
        slow.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let _ = slow.read_to_end(&mut response);
        String::from_utf8_lossy(&response).into_owned()
    });
    std::thread::sleep(Duration::from_millis(200));
    let signalled = Instant::now();
    sigterm(&server);
    std::thread::sleep(Duration::from_millis(200));

    // Draining: a new connection is still served, but readiness fails in the problem shape.
    let ready = http.get(server.url("/readyz")).send().await.expect("served while draining");
    assert_eq!(ready.status(), 503);
    assert_eq!(ready.headers()["content-type"], "application/problem+json");
    assert!(ready.headers().contains_key("retry-after"));
    let problem: serde_json::Value = ready.json().await.unwrap();
    assert_eq!(problem["type"], "/problems/unavailable");
    assert_eq!(problem["detail"], "the server is shutting down");
    assert_eq!(http.get(server.url("/healthz")).send().await.unwrap().status(), 200);

    // After the drain, the listener is closed: new connections are refused.
    std::thread::sleep(Duration::from_millis(1300).saturating_sub(signalled.elapsed()));
    let refused = (0..20).any(|_| {
        let refused = TcpStream::connect(&address).is_err();
        if !refused {
            std::thread::sleep(Duration::from_millis(50));
        }
        refused
    });
    assert!(refused, "the listener still accepts {:?} after SIGTERM", signalled.elapsed());

    // The login that was in flight completes, and the process exits 0.
    let response = trickle.join().unwrap();
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(response.contains("access_token"), "{response}");
    let status = loop {
        if let Some(status) = server.child.try_wait().unwrap() {
            break status;
        }
        assert!(signalled.elapsed() < Duration::from_secs(10), "still running after SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "{status}");
}
