//! Customers' photos: upload (multipart create, PUT), download (type, ETag, 304), removal, and
//! what a refused upload leaves behind (nothing: no object in the photo directory, no row).
//! The generated client cannot send multipart bodies; those requests are raw HTTP, marked so.

use serde_json::Value;

use crate::common::TestApp;

const PNG: &[u8] = include_bytes!("../fixtures/photos/tiny.png");
const JPEG: &[u8] = include_bytes!("../fixtures/photos/tiny.jpg");
const GIF: &[u8] = include_bytes!("../fixtures/photos/tiny.gif");
const WEBP: &[u8] = include_bytes!("../fixtures/photos/tiny.webp");
const TEXT: &[u8] = include_bytes!("../fixtures/photos/not-an-image.jpg");

const BOUNDARY: &str = "storefront-test-boundary-7d3f";

/// A `multipart/form-data` body of text fields and an optional file part `photo`.
fn multipart(fields: &[(&str, &str)], photo: Option<(&str, &str, &[u8])>) -> Vec<u8> {
    let mut body = Vec::new();
    for (name, value) in fields {
        body.extend_from_slice(
            format!("--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n")
                .as_bytes(),
        );
    }
    if let Some((file_name, content_type, bytes)) = photo {
        body.extend_from_slice(
            format!(
                "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"photo\"; filename=\"{file_name}\"\r\n\
                 Content-Type: {content_type}\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(bytes);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
    body
}

fn vinod(email: &str) -> Vec<(&'static str, String)> {
    vec![
        ("name", "Vinod".to_string()),
        ("city", "Bangalore".to_string()),
        ("email", email.to_string()),
        ("phone", format!("+91 98450 {}", 10000 + email.len())),
    ]
}

/// Raw HTTP (multipart): `curl -F name=… -F photo=@file` against `POST /api/v1/customers`.
async fn create_with_photo(
    app: &TestApp,
    email: &str,
    photo: Option<(&str, &str, &[u8])>,
) -> reqwest::Response {
    let fields = vinod(email);
    let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    app.http
        .post(app.url("/api/v1/customers"))
        .header("content-type", format!("multipart/form-data; boundary={BOUNDARY}"))
        .body(multipart(&fields, photo))
        .send()
        .await
        .unwrap()
}

/// The number of customers (raw HTTP: only the total is wanted).
async fn customer_count(app: &TestApp) -> u64 {
    let page: Value =
        app.http.get(app.url("/api/v2/customers?offset=0")).send().await.unwrap().json().await.unwrap();
    page["total"].as_u64().unwrap()
}

/// A customer created through the generated client (JSON), without a photo; its id.
async fn customer(app: &TestApp, email: &str) -> std::num::NonZeroU64 {
    let created = app
        .client
        .customer_v2_create()
        .body_map(|b| b.name("Priya").location("Mumbai").email(email))
        .send()
        .await
        .unwrap()
        .into_inner();
    created.id.0
}

async fn problem(response: reqwest::Response, status: u16) -> Value {
    assert_eq!(response.status().as_u16(), status);
    assert_eq!(response.headers()["content-type"], "application/problem+json");
    response.json().await.unwrap()
}

#[tokio::test]
async fn a_multipart_create_stores_the_photo_under_a_random_name_and_serves_it() {
    let app = TestApp::spawn().await;
    let response =
        create_with_photo(&app, "vinod@example.com", Some(("vinod.jpg", "image/jpeg", JPEG))).await;
    assert_eq!(response.status().as_u16(), 201);
    let created: Value = response.json().await.unwrap();
    let id = created["id"].as_i64().unwrap();
    let files = app.photo_files();
    assert_eq!(files.len(), 1, "{files:?}");
    assert!(files[0].len() == 36 && files[0].ends_with(".jpg") && !files[0].contains("vinod"), "{files:?}");
    assert_eq!(created["photo_url"], format!("/api/v1/customers/{id}/photo/{}", files[0]));

    let photo = app.http.get(app.url(&format!("/api/v1/customers/{id}/photo"))).send().await.unwrap();
    assert_eq!(photo.status().as_u16(), 200);
    assert_eq!(photo.headers()["content-type"], "image/jpeg");
    assert_eq!(photo.headers()["cache-control"], "private, no-cache");
    assert_eq!(photo.bytes().await.unwrap().as_ref(), JPEG);
    // v2 shows the same photo at its own URL.
    let v2: Value =
        app.http.get(app.url(&format!("/api/v2/customers/{id}"))).send().await.unwrap().json().await.unwrap();
    assert_eq!(v2["photo_url"], format!("/api/v2/customers/{id}/photo/{}", files[0]));
}

#[tokio::test]
async fn put_get_304_replace_and_delete_a_photo() {
    let app = TestApp::spawn().await;
    let id = customer(&app, "priya@example.com").await;
    let url = app.url(&format!("/api/v2/customers/{id}/photo"));
    assert_eq!(app.http.get(&url).send().await.unwrap().status().as_u16(), 404);

    let updated =
        app.client.customer_v2_photo_put().id(id).body(PNG.to_vec()).send().await.unwrap().into_inner();
    let first = app.photo_files();
    assert_eq!(first.len(), 1);
    assert_eq!(updated.photo_url, Some(format!("/api/v2/customers/{id}/photo/{}", first[0])));

    let photo = app.http.get(&url).send().await.unwrap();
    assert_eq!(photo.headers()["content-type"], "image/png");
    let etag = photo.headers()["etag"].to_str().unwrap().to_string();
    assert!(etag.starts_with('"') && !etag.starts_with("W/"), "{etag}");
    assert_eq!(photo.bytes().await.unwrap().as_ref(), PNG);
    let again = app.http.get(&url).header("if-none-match", &etag).send().await.unwrap();
    assert_eq!(again.status().as_u16(), 304);
    assert_eq!(again.headers()["etag"], etag.as_str());

    // The v1 operation, with a declared type that is wrong: the bytes decide (a WebP).
    let put = app
        .http
        .put(app.url(&format!("/api/v1/customers/{id}/photo")))
        .header("content-type", "image/png")
        .body(WEBP.to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(put.status().as_u16(), 200);
    assert!(put.headers().contains_key("deprecation"));
    let second = app.photo_files();
    assert_eq!(second.len(), 1, "the replaced photo is removed: {second:?}");
    assert_ne!(first, second);
    assert!(second[0].ends_with(".webp"));
    let photo = app.http.get(&url).header("if-none-match", &etag).send().await.unwrap();
    assert_eq!(photo.status().as_u16(), 200, "a new photo is a new ETag");
    assert_eq!(photo.headers()["content-type"], "image/webp");

    app.client.customer_v2_photo_put().id(id).body(GIF.to_vec()).send().await.unwrap();
    app.client.customer_v2_photo_delete().id(id).send().await.unwrap();
    assert_eq!(app.http.get(&url).send().await.unwrap().status().as_u16(), 404);
    assert!(app.photo_files().is_empty());
    let again = app.http.delete(&url).send().await.unwrap();
    problem(again, 404).await;
}

#[tokio::test]
async fn text_renamed_jpg_is_415_and_leaves_nothing() {
    let app = TestApp::spawn().await;
    let response =
        create_with_photo(&app, "vinod@example.com", Some(("vinod.jpg", "image/jpeg", TEXT))).await;
    let body = problem(response, 415).await;
    assert_eq!(body["type"], "/problems/unsupported-media-type");
    assert_eq!(customer_count(&app).await, 0);

    let id = customer(&app, "priya@example.com").await;
    let put = app
        .http
        .put(app.url(&format!("/api/v2/customers/{id}/photo")))
        .header("content-type", "image/jpeg")
        .body(TEXT.to_vec())
        .send()
        .await
        .unwrap();
    problem(put, 415).await;
    assert!(app.photo_files().is_empty());
}

#[tokio::test]
async fn a_3_mib_image_is_413_and_leaves_nothing() {
    let app = TestApp::spawn().await;
    let mut big = PNG.to_vec();
    big.resize(3 * 1024 * 1024, 0);
    let response = create_with_photo(&app, "vinod@example.com", Some(("big.png", "image/png", &big))).await;
    problem(response, 413).await;
    // Just over 2 MiB, within the multipart body's allowance: the photo's own limit.
    big.truncate(2 * 1024 * 1024 + 1);
    let response = create_with_photo(&app, "vinod@example.com", Some(("big.png", "image/png", &big))).await;
    problem(response, 413).await;
    assert_eq!(customer_count(&app).await, 0);

    let id = customer(&app, "priya@example.com").await;
    big.resize(3 * 1024 * 1024, 0);
    let put = app
        .http
        .put(app.url(&format!("/api/v2/customers/{id}/photo")))
        .header("content-type", "application/octet-stream")
        .body(big)
        .send()
        .await
        .unwrap();
    problem(put, 413).await;
    assert!(app.photo_files().is_empty());
}

#[tokio::test]
async fn a_refused_create_removes_the_photo_it_stored() {
    let app = TestApp::spawn().await;
    let first = create_with_photo(&app, "vinod@example.com", Some(("a.png", "image/png", PNG))).await;
    assert_eq!(first.status().as_u16(), 201);
    let files = app.photo_files();
    // The same email again: the photo is stored before the row is refused, then removed.
    let duplicate = create_with_photo(&app, "VINOD@example.com", Some(("b.png", "image/png", GIF))).await;
    problem(duplicate, 409).await;
    assert_eq!(app.photo_files(), files);
    assert_eq!(customer_count(&app).await, 1);
    // A photo for a customer that does not exist: 404, nothing kept.
    let put = app
        .client
        .customer_v2_photo_put()
        .id(std::num::NonZeroU64::new(9999).unwrap())
        .body(PNG.to_vec())
        .send()
        .await;
    assert_eq!(put.unwrap_err().status().map(|s| s.as_u16()), Some(404));
    assert_eq!(app.photo_files(), files);
}

#[tokio::test]
async fn a_path_traversal_file_name_is_ignored() {
    let app = TestApp::spawn().await;
    let response =
        create_with_photo(&app, "vinod@example.com", Some(("../../etc/passwd", "image/png", PNG))).await;
    assert_eq!(response.status().as_u16(), 201);
    let files = app.photo_files();
    assert_eq!(files.len(), 1);
    assert!(files[0].ends_with(".png") && !files[0].contains("passwd"), "{files:?}");
}

#[tokio::test]
async fn deleting_a_customer_removes_its_photo() {
    let app = TestApp::spawn().await;
    let response = create_with_photo(&app, "vinod@example.com", Some(("v.gif", "image/gif", GIF))).await;
    let id =
        response.json::<Value>().await.unwrap()["id"].as_u64().and_then(std::num::NonZeroU64::new).unwrap();
    assert_eq!(app.photo_files().len(), 1);
    app.client.customer_v2_delete().id(id).send().await.unwrap();
    assert!(app.photo_files().is_empty());
}

#[tokio::test]
async fn a_create_without_a_photo_part_has_none() {
    let app = TestApp::spawn().await;
    let response = create_with_photo(&app, "vinod@example.com", None).await;
    assert_eq!(response.status().as_u16(), 201);
    let created: Value = response.json().await.unwrap();
    assert!(created.get("photo_url").is_none());
    assert!(app.photo_files().is_empty());
}

#[tokio::test]
async fn after_the_sunset_v1_photo_operations_answer_410() {
    use storefront::clock::Clock;
    let clock = Clock::manual(chrono::DateTime::parse_from_rfc3339("2027-06-30T00:00:01Z").unwrap().to_utc());
    let app = TestApp::spawn_with_clock(clock, |_| {}).await;
    let id = customer(&app, "priya@example.com").await;
    app.client.customer_v2_photo_put().id(id).body(PNG.to_vec()).send().await.unwrap();
    let url = app.url(&format!("/api/v1/customers/{id}/photo"));
    let key = app.photo_files().pop().unwrap();
    for request in [
        app.anonymous_http.get(app.url(&format!("/api/v1/customers/{id}/photo/{key}"))),
        app.http.get(&url),
        app.http.put(&url).header("content-type", "image/png").body(PNG.to_vec()),
        app.http.delete(&url),
    ] {
        let gone = problem(request.send().await.unwrap(), 410).await;
        assert_eq!(gone["type"], "/problems/gone");
    }
    let v2 = app.http.get(app.url(&format!("/api/v2/customers/{id}/photo"))).send().await.unwrap();
    assert_eq!(v2.status().as_u16(), 200);
}

/// The photo link (`photo_url`) as a browser follows it: no credentials (an `<img src>`, a tab).
async fn open_link(app: &TestApp, link: &str) -> reqwest::Response {
    app.anonymous_http.get(app.url(link)).send().await.unwrap()
}

#[tokio::test]
async fn the_photo_url_opens_the_photo_without_credentials_until_it_is_replaced_or_removed() {
    let app = TestApp::spawn().await;
    // The tutorial's multipart create, then the link it answers, opened as a browser would.
    let response =
        create_with_photo(&app, "vinod@example.com", Some(("vinod.jpg", "image/jpeg", JPEG))).await;
    let created: Value = response.json().await.unwrap();
    let id = created["id"].as_u64().and_then(std::num::NonZeroU64::new).unwrap();
    let v1_link = created["photo_url"].as_str().unwrap().to_string();
    let opened = open_link(&app, &v1_link).await;
    assert_eq!(opened.status().as_u16(), 200);
    assert_eq!(opened.headers()["content-type"], "image/jpeg");
    assert_eq!(opened.headers()["cache-control"], "private, max-age=86400");
    assert!(opened.headers().contains_key("deprecation"), "v1's link is deprecated with v1");
    let etag = opened.headers()["etag"].to_str().unwrap().to_string();
    assert_eq!(opened.bytes().await.unwrap().as_ref(), JPEG);
    let again =
        app.anonymous_http.get(app.url(&v1_link)).header("if-none-match", &etag).send().await.unwrap();
    assert_eq!(again.status().as_u16(), 304);

    // v2's link, through the generated client without credentials.
    let customer = app.client.customer_v2_get().id(id).send().await.unwrap().into_inner();
    let v2_link = customer.photo_url.clone().unwrap();
    let key = v2_link.rsplit('/').next().unwrap().to_string();
    assert_eq!(v2_link, format!("/api/v2/customers/{id}/photo/{key}"));
    let photo = app.anonymous.customer_v2_photo_view().id(id).key(key.as_str()).send().await.unwrap();
    assert_eq!(photo.status().as_u16(), 200);
    let bytes: Vec<u8> = {
        use futures::TryStreamExt;
        photo.into_inner().into_inner().map_ok(|b| b.to_vec()).try_concat().await.unwrap()
    };
    assert_eq!(bytes, JPEG);

    // The same key under another customer's id, another key, a key of the right shape that was
    // never issued: 404, the same as a customer without a photo or no customer at all.
    let other = customer_with_photo_put(&app, "priya@example.com").await;
    let unknown = "0".repeat(32) + ".jpg";
    for link in [
        format!("/api/v2/customers/{other}/photo/{key}"),
        format!("/api/v2/customers/{id}/photo/{unknown}"),
        format!("/api/v2/customers/999999/photo/{key}"),
    ] {
        let missing = problem(open_link(&app, &link).await, 404).await;
        assert_eq!(missing["type"], "/problems/not-found", "{link}");
    }
    // Not a key: 422, whatever the path tries.
    for link in [
        format!("/api/v2/customers/{id}/photo/{}", key.to_uppercase()),
        format!("/api/v2/customers/{id}/photo/..%2F..%2Fetc%2Fpasswd"),
        format!("/api/v2/customers/{id}/photo/{}.jpg.exe", &key[..32]),
    ] {
        problem(open_link(&app, &link).await, 422).await;
    }

    // Replacing the photo ends the old link and gives a new one.
    let replaced = app.client.customer_v2_photo_put().id(id).body(PNG.to_vec()).send().await.unwrap();
    let new_link = replaced.into_inner().photo_url.unwrap();
    assert_ne!(new_link, v2_link);
    problem(open_link(&app, &v2_link).await, 404).await;
    problem(open_link(&app, &v1_link).await, 404).await;
    let opened = open_link(&app, &new_link).await;
    assert_eq!(opened.status().as_u16(), 200);
    assert_eq!(opened.headers()["content-type"], "image/png");

    // Removing the photo ends it; so does deleting the customer.
    app.client.customer_v2_photo_delete().id(id).send().await.unwrap();
    problem(open_link(&app, &new_link).await, 404).await;
    let other_link =
        app.client.customer_v2_get().id(other).send().await.unwrap().into_inner().photo_url.unwrap();
    assert_eq!(open_link(&app, &other_link).await.status().as_u16(), 200);
    app.client.customer_v2_delete().id(other).send().await.unwrap();
    problem(open_link(&app, &other_link).await, 404).await;
    assert!(app.photo_files().is_empty());
}

/// A customer created through the generated client, then given a photo by PUT; its id.
async fn customer_with_photo_put(app: &TestApp, email: &str) -> std::num::NonZeroU64 {
    let id = customer(app, email).await;
    app.client.customer_v2_photo_put().id(id).body(GIF.to_vec()).send().await.unwrap();
    id
}

#[tokio::test]
async fn a_form_field_the_spec_does_not_name_is_422_and_leaves_nothing() {
    let app = TestApp::spawn().await;
    let mut fields = vinod("vinod@example.com");
    fields.push(("nickname", "Vin".to_string()));
    let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    // Raw HTTP (multipart).
    let response = app
        .http
        .post(app.url("/api/v1/customers"))
        .header("content-type", format!("multipart/form-data; boundary={BOUNDARY}"))
        .body(multipart(&fields, Some(("v.png", "image/png", PNG))))
        .send()
        .await
        .unwrap();
    let body = problem(response, 422).await;
    assert_eq!(body["type"], "/problems/validation-failed", "{body}");
    assert!(body.to_string().contains("nickname"), "the problem names the field: {body}");
    assert_eq!(customer_count(&app).await, 0);
    assert!(app.photo_files().is_empty());
}

#[tokio::test]
async fn a_browser_opens_the_photo_url_as_an_image() {
    let Some(browser) = crate::docs::chromium() else {
        eprintln!("SKIPPED photo browser test: chromium is not installed (apt-get install -y chromium; .ci/run installs it)");
        return;
    };
    let app = TestApp::spawn().await;
    let response = create_with_photo(&app, "vinod@example.com", Some(("vinod.png", "image/png", PNG))).await;
    let created: Value = response.json().await.unwrap();
    let link = app.url(created["photo_url"].as_str().unwrap());
    let dir = tempfile::tempdir().unwrap();
    // A fresh profile each time: no cookie, no token, no cached copy, nothing but the link. An
    // image opened in a tab is an image document (one <img> of the URL); a refused request
    // would be a problem's JSON text.
    let profiles = std::sync::atomic::AtomicUsize::new(0);
    let open = |url: String| {
        let n = profiles.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let profile = format!("--user-data-dir={}", dir.path().join(format!("profile-{n}")).display());
        let browser = browser.clone();
        tokio::task::spawn_blocking(move || {
            std::process::Command::new(browser)
                .args([
                    "--headless",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-dev-shm-usage",
                    "--no-first-run",
                ])
                .args(["--disable-background-networking", "--disable-component-update", "--disable-sync"])
                .arg("--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1")
                .args([profile.as_str(), "--virtual-time-budget=5000", "--dump-dom", url.as_str()])
                .output()
        })
    };
    let dom = open(link.clone()).await.unwrap().unwrap();
    assert!(dom.status.success(), "chromium: {}", String::from_utf8_lossy(&dom.stderr));
    let html = String::from_utf8_lossy(&dom.stdout);
    assert!(html.contains("<img") && html.contains(&link), "not an image document: {html}");
    assert!(!html.contains("/problems/"), "{html}");

    // Once the photo is removed, the same link is a 404 problem in the browser too (a browser
    // that opened it before may still show its cached copy for up to a day, as documented).
    let id = created["id"].as_u64().and_then(std::num::NonZeroU64::new).unwrap();
    app.client.customer_v2_photo_delete().id(id).send().await.unwrap();
    let dom = open(link.clone()).await.unwrap().unwrap();
    let html = String::from_utf8_lossy(&dom.stdout);
    assert!(!html.contains("<img") && html.contains("/problems/not-found"), "{html}");
}
