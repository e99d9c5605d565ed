//! Customers, v1 (deprecated) and v2: every operation and its documented errors, pagination
//! and filters, the same row in both shapes, and the deprecation lifecycle (headers, 410 after
//! the sunset, and no operation left in the spec past its sunset).

use std::num::NonZeroU64;

use serde_json::{json, Value};
use storefront_client::types::{CustomerInput, Role};

use crate::common::{invalid_fields, problem_of, status_of, TestApp};

fn id(n: u64) -> NonZeroU64 {
    NonZeroU64::new(n).unwrap()
}

const SUCCESSOR: &str = "rel=\"successor-version\"";

/// The deprecation headers of a v1 answer: `Deprecation` (2026-11-30), `Sunset` (2027-06-30) and
/// a `Link` to the successor.
fn assert_deprecated(headers: &reqwest::header::HeaderMap, successor: &str) {
    assert_eq!(headers["deprecation"], format!("@{}", 1_795_996_800), "{headers:?}");
    assert_eq!(headers["sunset"], "Wed, 30 Jun 2027 00:00:00 GMT", "{headers:?}");
    let links: Vec<&str> = headers.get_all("link").iter().map(|v| v.to_str().unwrap()).collect();
    assert!(
        links.iter().any(|l| l.contains(&format!("<{successor}>; {SUCCESSOR}"))),
        "no successor link to {successor} in {links:?}"
    );
}

async fn create(
    app: &TestApp,
    name: &str,
    city: &str,
    email: &str,
    phone: &str,
) -> storefront_client::types::Customer {
    app.client
        .customer_create()
        .body_map(|b| b.name(name).city(city).email(email).phone(phone))
        .send()
        .await
        .unwrap_or_else(|e| panic!("creating {name}: {e:?}"))
        .into_inner()
}

#[tokio::test]
async fn customer_create_returns_201_with_location_etag_and_the_deprecation_headers() {
    let app = TestApp::spawn().await;
    let response = app
        .client
        .customer_create()
        .body_map(|b| {
            b.name("Vinod Kumar").city("Bangalore").email("Vinod@Example.com").phone("+91 98450 12345")
        })
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    assert_deprecated(response.headers(), "/api/v2/customers");
    let location = response.headers()["location"].to_str().unwrap().to_string();
    let etag = response.headers()["etag"].to_str().unwrap().to_string();
    let customer = response.into_inner();
    assert_eq!(location, format!("/api/v1/customers/{}", customer.id.0));
    assert_eq!(customer.name.as_str(), "Vinod Kumar");
    assert_eq!(customer.city.as_str(), "Bangalore");
    assert_eq!(customer.email.as_str(), "Vinod@Example.com");
    assert_eq!(customer.phone.as_deref(), Some("+91 98450 12345"));
    assert_eq!(customer.photo_url, None);
    let fetched = app.client.customer_get().id(customer.id.0).send().await.unwrap();
    assert_eq!(fetched.headers()["etag"].to_str().unwrap(), etag);
    assert_eq!(fetched.headers()["cache-control"], "private, no-cache");
    assert_deprecated(fetched.headers(), &format!("/api/v2/customers/{}", customer.id.0));
}

#[tokio::test]
async fn customer_get_returns_the_customer_304_or_404_with_the_deprecation_headers() {
    let app = TestApp::spawn().await;
    let created = create(&app, "Asha", "Pune", "asha@example.com", "+912012345678").await;
    let response = app.client.customer_get().id(created.id.0).send().await.unwrap();
    let etag = response.headers()["etag"].to_str().unwrap().to_string();
    let last_modified = response.headers()["last-modified"].to_str().unwrap().to_string();
    assert_eq!(response.into_inner().email.as_str(), "asha@example.com");
    for result in [
        app.client.customer_get().id(created.id.0).if_none_match(etag.as_str()).send().await,
        app.client.customer_get().id(created.id.0).if_modified_since(last_modified.as_str()).send().await,
    ] {
        match result {
            Err(storefront_client::Error::UnexpectedResponse(r)) => assert_eq!(r.status(), 304),
            other => panic!("expected 304, got {other:?}"),
        }
    }
    assert_eq!(status_of(app.client.customer_get().id(id(999)).send().await), 404);
    // Raw: the headers of an error.
    let missing = app.http.get(app.url("/api/v1/customers/999")).send().await.unwrap();
    assert_eq!(missing.status(), 404);
    assert_eq!(missing.headers()["content-type"], "application/problem+json");
    assert_deprecated(missing.headers(), "/api/v2/customers/999");
}

#[tokio::test]
async fn customers_are_for_staff_only_in_both_versions() {
    let app = TestApp::spawn().await;
    let created = create(&app, "Asha", "Pune", "asha@example.com", "+912012345678").await;
    let customer = app.user("casey", Role::Customer).await;
    let manager = app.user("morgan", Role::Manager).await;
    assert_eq!(status_of(app.anonymous.customer_list().send().await), 401);
    assert_eq!(status_of(app.anonymous.customer_v2_get().id(created.id.0).send().await), 401);
    assert_eq!(status_of(customer.client.customer_list().send().await), 403);
    assert_eq!(status_of(customer.client.customer_get().id(created.id.0).send().await), 403);
    assert_eq!(status_of(customer.client.customer_v2_list().send().await), 403);
    assert_eq!(
        status_of(
            customer
                .client
                .customer_v2_create()
                .body_map(|b| b.name("X").location("Y").email("x@example.com"))
                .send()
                .await
        ),
        403
    );
    // Managers manage customers.
    let made = manager
        .client
        .customer_v2_create()
        .body_map(|b| b.name("Ravi").location("Chennai").email("ravi@example.com"))
        .send()
        .await
        .unwrap();
    assert_eq!(made.status(), 201);
    manager.client.customer_delete().id(made.into_inner().id.0).send().await.unwrap();
    assert_eq!(manager.client.customer_list().send().await.unwrap().into_inner().total, Some(1));
}

#[tokio::test]
async fn customer_create_and_update_return_409_naming_a_taken_email_or_phone() {
    let app = TestApp::spawn().await;
    let first = create(&app, "Asha", "Pune", "asha@example.com", "+91 20 1234 5678").await;
    let second = create(&app, "Ravi", "Chennai", "ravi@example.com", "044-2345-6789").await;

    // The same email in another case; the same phone with other punctuation.
    let email = problem_of(
        app.client
            .customer_create()
            .body_map(|b| b.name("B").city("C").email("ASHA@example.COM").phone("+1 555 000 1111"))
            .send()
            .await,
    );
    assert_eq!(email.status, 409);
    assert_eq!(email.type_, "/problems/conflict");
    assert_eq!(email.errors.iter().map(|e| e.field.as_str()).collect::<Vec<_>>(), ["email"]);
    let phone = problem_of(
        app.client
            .customer_create()
            .body_map(|b| b.name("B").city("C").email("b@example.com").phone("+912012345678"))
            .send()
            .await,
    );
    assert_eq!(phone.status, 409);
    assert_eq!(phone.errors.iter().map(|e| e.field.as_str()).collect::<Vec<_>>(), ["phone"]);
    let v2 = problem_of(
        app.client
            .customer_v2_create()
            .body_map(|b| b.name("B").location("C").email("Ravi@Example.com"))
            .send()
            .await,
    );
    assert_eq!(v2.errors.iter().map(|e| e.field.as_str()).collect::<Vec<_>>(), ["email"]);

    // Changing one customer's phone or email to another's.
    let patched = problem_of(
        app.client
            .customer_update()
            .id(second.id.0)
            .body_map(|b| b.phone(Some("+91-20-1234-5678".try_into().unwrap())))
            .send()
            .await,
    );
    assert_eq!(patched.status, 409);
    assert_eq!(patched.errors.iter().map(|e| e.field.as_str()).collect::<Vec<_>>(), ["phone"]);
    let replaced = problem_of(
        app.client
            .customer_v2_replace()
            .id(second.id.0)
            .body_map(|b| b.name("Ravi").location("Chennai").email("asha@EXAMPLE.com"))
            .send()
            .await,
    );
    assert_eq!(replaced.errors.iter().map(|e| e.field.as_str()).collect::<Vec<_>>(), ["email"]);
    // Nothing changed, and a customer may keep their own email and phone.
    let kept = app.client.customer_get().id(second.id.0).send().await.unwrap().into_inner();
    assert_eq!(kept.phone.as_deref(), Some("044-2345-6789"));
    let same = app
        .client
        .customer_update()
        .id(first.id.0)
        .body_map(|b| {
            b.email(Some("Asha@Example.com".try_into().unwrap()))
                .phone(Some("+912012345678".try_into().unwrap()))
        })
        .send()
        .await
        .unwrap()
        .into_inner();
    assert_eq!(same.email.as_str(), "Asha@Example.com");
    assert_eq!(app.client.customer_list().send().await.unwrap().into_inner().total, Some(2));
}

#[tokio::test]
async fn customer_create_returns_422_for_every_value_the_spec_refuses() {
    let app = TestApp::spawn().await;
    let valid =
        json!({"name": "Asha", "city": "Pune", "email": "asha@example.com", "phone": "+912012345678"});
    let cases: Vec<(&str, Value)> = vec![
        ("email", json!("not-an-email")),
        ("email", json!("asha@")),
        ("email", json!("")),
        ("phone", json!("12345")),
        ("phone", json!("phone me")),
        ("phone", json!("+91 98450 12345 6789 0123")),
        ("phone", json!("++912012345678")),
        ("phone", json!(912012345678_u64)),
        ("name", json!("")),
        ("name", json!("n".repeat(101))),
        ("name", json!(" padded")),
        ("name", json!("bidi\u{202e}gpj")),
        ("city", json!("")),
        ("city", json!("c".repeat(101))),
        ("photo_url", json!("/x")),
        ("id", json!(3)),
    ];
    // Raw: the typed client refuses to build any of these.
    for (field, value) in cases {
        let mut body = valid.clone();
        body[field] = value.clone();
        let response = app.http.post(app.url("/api/v1/customers")).json(&body).send().await.unwrap();
        assert_eq!(response.status(), 422, "{field} = {value}");
        assert_deprecated(response.headers(), "/api/v2/customers");
        let problem: storefront_client::types::Problem = response.json().await.unwrap();
        assert!(invalid_fields(&problem).contains(&field.to_string()), "{field} = {value}: {problem:?}");
    }
    for missing in ["name", "city", "email", "phone"] {
        let mut body = valid.clone();
        body.as_object_mut().unwrap().remove(missing);
        let response = app.http.post(app.url("/api/v1/customers")).json(&body).send().await.unwrap();
        assert_eq!(response.status(), 422, "without {missing}");
    }
    // v2 has no phone: sending one is refused.
    let mut v2 = json!({"name": "Asha", "location": "Pune", "email": "asha@example.com"});
    v2["phone"] = json!("+912012345678");
    let response = app.http.post(app.url("/api/v2/customers")).json(&v2).send().await.unwrap();
    assert_eq!(response.status(), 422);
    assert!(response.headers().get("deprecation").is_none(), "v2 is not deprecated");
    assert_eq!(app.client.customer_list().send().await.unwrap().into_inner().total, Some(0));
}

#[tokio::test]
async fn customer_replace_update_and_delete_honour_if_match() {
    let app = TestApp::spawn().await;
    let created = create(&app, "Asha", "Pune", "asha@example.com", "+912012345678").await;
    let etag = |r: &reqwest::header::HeaderMap| r["etag"].to_str().unwrap().to_string();
    let first = etag(app.client.customer_get().id(created.id.0).send().await.unwrap().headers());
    let input = CustomerInput {
        name: "Asha Patil".try_into().unwrap(),
        city: "Mumbai".try_into().unwrap(),
        email: "asha.patil@example.com".try_into().unwrap(),
        phone: "+91 22 1234 5678".try_into().unwrap(),
    };
    let replaced = app
        .client
        .customer_replace()
        .id(created.id.0)
        .if_match(first.as_str())
        .body(input.clone())
        .send()
        .await
        .unwrap();
    assert_deprecated(replaced.headers(), &format!("/api/v2/customers/{}", created.id.0));
    let second = etag(replaced.headers());
    let replaced = replaced.into_inner();
    assert_eq!(replaced.city.as_str(), "Mumbai");
    assert_eq!(replaced.phone.as_deref(), Some("+91 22 1234 5678"));
    assert_eq!(replaced.created_at.0, created.created_at.0);
    assert_eq!(
        status_of(
            app.client.customer_replace().id(created.id.0).if_match(first.as_str()).body(input).send().await
        ),
        412
    );
    // PATCH merges: only the name changes.
    let updated = app
        .client
        .customer_update()
        .id(created.id.0)
        .if_match(second.as_str())
        .body_map(|b| b.name(Some("Asha P.".try_into().unwrap())))
        .send()
        .await
        .unwrap()
        .into_inner();
    assert_eq!(updated.name.as_str(), "Asha P.");
    assert_eq!(updated.city.as_str(), "Mumbai");
    assert_eq!(updated.email.as_str(), "asha.patil@example.com");
    assert_eq!(
        status_of(
            app.client
                .customer_update()
                .id(created.id.0)
                .if_match(second.as_str())
                .body_map(|b| b.city(Some("Goa".try_into().unwrap())))
                .send()
                .await
        ),
        412
    );
    assert_eq!(
        status_of(
            app.client
                .customer_update()
                .id(id(999))
                .body_map(|b| b.city(Some("Goa".try_into().unwrap())))
                .send()
                .await
        ),
        404
    );
    // Raw: an empty patch.
    let empty = app
        .http
        .patch(app.url(&format!("/api/v1/customers/{}", created.id.0)))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(empty.status(), 422);
    assert_eq!(
        status_of(app.client.customer_delete().id(created.id.0).if_match(second.as_str()).send().await),
        412
    );
    let current = etag(app.client.customer_get().id(created.id.0).send().await.unwrap().headers());
    let deleted =
        app.client.customer_delete().id(created.id.0).if_match(current.as_str()).send().await.unwrap();
    assert_eq!(deleted.status(), 204);
    assert_eq!(status_of(app.client.customer_get().id(created.id.0).send().await), 404);
    assert_eq!(status_of(app.client.customer_delete().id(created.id.0).send().await), 404);
    assert_eq!(status_of(app.client.customer_v2_delete().id(created.id.0).send().await), 404);
}

#[tokio::test]
async fn customer_list_pages_by_offset_and_cursor_and_filters_by_city_and_name() {
    let app = TestApp::spawn().await;
    for i in 1..=5 {
        let city = if i % 2 == 0 { "Bangalore" } else { "Mysore" };
        create(
            &app,
            &format!("Customer {i}"),
            city,
            &format!("c{i}@example.com"),
            &format!("+9198450000{i:02}"),
        )
        .await;
    }
    create(&app, "Vinod Kumar", "bangalore", "vinod@example.com", "+919845012345").await;

    let page = app.client.customer_list().limit(id(2)).offset(2).send().await.unwrap();
    assert_deprecated(page.headers(), "/api/v2/customers");
    assert!(page.headers()["etag"].to_str().unwrap().starts_with('"'));
    let link = page
        .headers()
        .get_all("link")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .collect::<Vec<_>>()
        .join(", ");
    assert!(link.contains("rel=\"next\"") && link.contains("rel=\"prev\""), "{link}");
    let page = page.into_inner();
    assert_eq!(page.total, Some(6));
    assert_eq!(page.items.iter().map(|c| c.name.as_str()).collect::<Vec<_>>(), ["Customer 3", "Customer 4"]);
    assert_eq!(page.links.next.as_deref(), Some("/api/v1/customers?limit=2&offset=4"));

    // Cursors: forward through every page, then back.
    let mut names = Vec::new();
    let mut cursor: Option<String> = None;
    let last;
    loop {
        let mut request = app.client.customer_v2_list().limit(id(4));
        if let Some(c) = &cursor {
            request = request.cursor(c.as_str());
        }
        let page = request.send().await.unwrap().into_inner();
        assert_eq!(page.total.is_some(), cursor.is_none(), "total only without a cursor");
        names.extend(page.items.iter().map(|c| c.name.to_string()));
        if page.next_cursor.is_none() {
            last = page.prev_cursor.map(|c| c.to_string());
            break;
        }
        cursor = page.next_cursor.map(|c| c.to_string());
    }
    assert_eq!(names.len(), 6);
    assert_eq!(names[5], "Vinod Kumar");
    let back = app
        .client
        .customer_v2_list()
        .limit(id(4))
        .cursor(last.unwrap().as_str())
        .send()
        .await
        .unwrap()
        .into_inner();
    assert_eq!(back.items.len(), 4);
    assert_eq!(back.items[0].name.as_str(), "Customer 1");

    // A city, whole and in any case; a name substring in any case.
    let bangalore = app.client.customer_list().city("BANGALORE").send().await.unwrap().into_inner();
    assert_eq!(bangalore.total, Some(3));
    let in_v2 =
        app.client.customer_v2_list().location("bangalore").q("VINOD").send().await.unwrap().into_inner();
    assert_eq!(in_v2.items.iter().map(|c| c.name.as_str()).collect::<Vec<_>>(), ["Vinod Kumar"]);
    assert_eq!(app.client.customer_list().city("Bang").send().await.unwrap().into_inner().total, Some(0));
    // A cursor is bound to its filters.
    let filtered = app.client.customer_list().city("Mysore").limit(id(1)).send().await.unwrap().into_inner();
    let cursor = filtered.next_cursor.unwrap().to_string();
    let problem =
        problem_of(app.client.customer_list().city("Bangalore").cursor(cursor.as_str()).send().await);
    assert_eq!(invalid_fields(&problem), ["cursor"]);
    // 304 on the list's ETag.
    let listed = app.client.customer_list().send().await.unwrap();
    let etag = listed.headers()["etag"].to_str().unwrap().to_string();
    match app.client.customer_list().if_none_match(etag.as_str()).send().await {
        Err(storefront_client::Error::UnexpectedResponse(r)) => assert_eq!(r.status(), 304),
        other => panic!("expected 304, got {other:?}"),
    }
}

#[tokio::test]
async fn v1_and_v2_read_and_write_the_same_row_in_two_shapes() {
    let app = TestApp::spawn().await;
    // Created through v2: no phone; v1 shows `phone: null`.
    let v2 = app
        .client
        .customer_v2_create()
        .body_map(|b| b.name("Vinod").location("Bangalore").email("vinod@example.com"))
        .send()
        .await
        .unwrap();
    assert_eq!(v2.status(), 201);
    assert!(v2.headers().get("deprecation").is_none());
    let v2 = v2.into_inner();
    assert_eq!(v2.location.as_str(), "Bangalore");
    assert_eq!(v2.photo_url, None);
    // Raw: which members are present.
    let as_v1: Value = app
        .http
        .get(app.url(&format!("/api/v1/customers/{}", v2.id.0)))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(as_v1["city"], "Bangalore");
    assert_eq!(as_v1["phone"], Value::Null);
    assert!(as_v1.as_object().unwrap().contains_key("phone"), "{as_v1}");
    assert!(as_v1.get("location").is_none(), "{as_v1}");
    let as_v2: Value = app
        .http
        .get(app.url(&format!("/api/v2/customers/{}", v2.id.0)))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(as_v2.as_object().unwrap().contains_key("photo_url"), "v2 always has photo_url: {as_v2}");
    assert_eq!(as_v2["photo_url"], Value::Null);
    assert!(as_v2.get("phone").is_none() && as_v2.get("city").is_none(), "{as_v2}");

    // Created through v1; replaced through v2, which keeps the phone it cannot see.
    let v1 = create(&app, "Asha", "Pune", "asha@example.com", "+912012345678").await;
    let replaced = app
        .client
        .customer_v2_replace()
        .id(v1.id.0)
        .body_map(|b| b.name("Asha Patil").location("Mumbai").email("asha@example.com"))
        .send()
        .await
        .unwrap()
        .into_inner();
    assert_eq!(replaced.location.as_str(), "Mumbai");
    let seen = app.client.customer_get().id(v1.id.0).send().await.unwrap().into_inner();
    assert_eq!(seen.city.as_str(), "Mumbai");
    assert_eq!(seen.name.as_str(), "Asha Patil");
    assert_eq!(seen.phone.as_deref(), Some("+912012345678"));
    let patched = app
        .client
        .customer_v2_update()
        .id(v1.id.0)
        .body_map(|b| b.location(Some("Goa".try_into().unwrap())))
        .send()
        .await
        .unwrap();
    assert_eq!(
        patched.headers()["etag"],
        app.client.customer_get().id(v1.id.0).send().await.unwrap().headers()["etag"]
    );
    assert_eq!(
        app.client.customer_v2_get().id(v1.id.0).send().await.unwrap().into_inner().location.as_str(),
        "Goa"
    );
    // A v1 ETag is good for v2's If-Match: one row, one version.
    let etag = app.client.customer_get().id(v1.id.0).send().await.unwrap().headers()["etag"]
        .to_str()
        .unwrap()
        .to_string();
    let deleted = app.client.customer_v2_delete().id(v1.id.0).if_match(etag.as_str()).send().await.unwrap();
    assert_eq!(deleted.status(), 204);
    assert_eq!(status_of(app.client.customer_get().id(v1.id.0).send().await), 404);
}

#[tokio::test]
async fn after_the_sunset_v1_answers_410_in_the_problem_shape_and_v2_still_works() {
    use storefront::clock::Clock;
    let clock = Clock::manual(chrono::DateTime::parse_from_rfc3339("2027-06-30T00:00:01Z").unwrap().to_utc());
    let app = TestApp::spawn_with_clock(clock, |_| {}).await;
    let created = app
        .client
        .customer_v2_create()
        .body_map(|b| b.name("Vinod").location("Bangalore").email("vinod@example.com"))
        .send()
        .await
        .unwrap()
        .into_inner();
    let gone = app.http.get(app.url(&format!("/api/v1/customers/{}", created.id.0))).send().await.unwrap();
    assert_eq!(gone.status(), 410);
    assert_eq!(gone.headers()["content-type"], "application/problem+json");
    assert_deprecated(gone.headers(), &format!("/api/v2/customers/{}", created.id.0));
    let problem: storefront_client::types::Problem = gone.json().await.unwrap();
    assert_eq!(problem.type_, "/problems/gone");
    assert_eq!(problem.status, 410);
    assert!(problem.detail.unwrap().contains("/api/v2/customers/"));
    for status in [
        status_of(app.client.customer_list().send().await),
        status_of(
            app.client
                .customer_create()
                .body_map(|b| b.name("A").city("B").email("a@example.com").phone("+1555000111"))
                .send()
                .await,
        ),
        status_of(
            app.client
                .customer_update()
                .id(created.id.0)
                .body_map(|b| b.city(Some("Goa".try_into().unwrap())))
                .send()
                .await,
        ),
        status_of(app.client.customer_delete().id(created.id.0).send().await),
    ] {
        assert_eq!(status, 410);
    }
    let v2 = app.client.customer_v2_get().id(created.id.0).send().await.unwrap().into_inner();
    assert_eq!(v2.location.as_str(), "Bangalore");
    assert_eq!(app.client.customer_v2_list().send().await.unwrap().into_inner().total, Some(1));
}

/// An operation past its sunset answers nothing but 410: it belongs out of the spec (and out of
/// the code) by then. This fails on the day a release still carries one.
#[test]
fn no_operation_in_the_spec_is_past_its_sunset() {
    let spec: Value = serde_json::from_str(storefront::api::OPENAPI_JSON).unwrap();
    let today = chrono::Utc::now().date_naive();
    let mut sunsets = 0;
    for (path, item) in spec["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let Some(sunset) = op.get("x-sunset").and_then(Value::as_str) else { continue };
            let sunset = chrono::NaiveDate::parse_from_str(sunset, "%Y-%m-%d").unwrap();
            assert!(
                sunset > today,
                "{method} {path} was retired on {sunset}: remove it from the spec and the code"
            );
            sunsets += 1;
        }
    }
    assert!(sunsets >= 6, "the v1 customer operations state their sunset");
}
