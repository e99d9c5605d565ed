//! HTTPS: the server speaks TLS from a certificate and key, sends HSTS, and the generated client
//! reaches it with the certificate authority it is given (made here, at test time).

use storefront::app::{Actor, NewAccount};
use storefront_client::Client;

use crate::common::TestApp;

/// A certificate authority, and a certificate for `localhost`/127.0.0.1 it signed.
struct Pki {
    ca_pem: String,
    cert_path: std::path::PathBuf,
    key_path: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

fn pki() -> Pki {
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params.distinguished_name.push(rcgen::DnType::CommonName, "Storefront test CA");
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let issuer = rcgen::Issuer::new(ca_params, ca_key);
    let key = rcgen::KeyPair::generate().unwrap();
    let params =
        rcgen::CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()]).unwrap();
    let cert = params.signed_by(&key, &issuer).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (cert_path, key_path) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    std::fs::write(&cert_path, cert.pem()).unwrap();
    std::fs::write(&key_path, key.serialize_pem()).unwrap();
    Pki { ca_pem: ca.pem(), cert_path, key_path, _dir: dir }
}

#[tokio::test]
async fn the_generated_client_reaches_an_https_server_it_is_told_to_trust() {
    let pki = pki();
    let (cert, key) = (pki.cert_path.clone(), pki.key_path.clone());
    let app = TestApp::spawn_plain_with(|config| {
        config.tls_cert = Some(cert);
        config.tls_key = Some(key);
    })
    .await;
    let admin = NewAccount {
        username: "admin".into(),
        email: "admin@example.com".into(),
        password: "Admin-Pass-1".into(),
    };
    app.app().create_admin(&Actor::Operator, &admin).await.unwrap();
    let base = app.base.replace("http://127.0.0.1", "https://localhost");

    let anonymous = Client::builder(&base).root_certificate_pem(pki.ca_pem.as_bytes()).build().unwrap();
    let tokens = anonymous
        .auth_login()
        .body_map(|b| b.username("admin").password("Admin-Pass-1"))
        .send()
        .await
        .unwrap();
    let client = Client::builder(&base)
        .root_certificate_pem(pki.ca_pem.as_bytes())
        .bearer_token(tokens.into_inner().access_token)
        .build()
        .unwrap();
    let me = client.user_get().id("me").send().await.unwrap();
    assert_eq!(me.username.as_str(), "admin");
    assert_eq!(me.headers()["strict-transport-security"], "max-age=31536000");

    // A client that does not trust the authority is refused, and plain HTTP gets nothing.
    let untrusting = Client::anonymous(&base);
    assert!(matches!(
        untrusting.healthz().send().await,
        Err(storefront_client::Error::CommunicationError(_))
    ));
    assert!(reqwest::get(app.url("/healthz")).await.is_err());
}
