//! Every error status the spec documents for an operation is one the server really answers.
//!
//! The test walks the spec: for each operation and each documented status it knows how to
//! provoke (malformed JSON, wrong media type, oversized body, missing resource, stale
//! `If-Match`, invalid parameter, missing or bad credentials, a role that may not, unchanged
//! resource), it sends that request and expects that status, as a problem where it is an
//! error. Request bodies are made from the spec's schemas and examples, so a new operation needs
//! no change here. Statuses that need a scenario of their own (409, 429, 503) are listed with
//! the test that covers them, so a new operation documenting a status nobody provokes fails
//! here. Raw HTTP: most of these requests are ones the typed client refuses to send.

use serde_json::{json, Value};
use storefront_client::types::Role;

use crate::common::{sample, TestApp};

/// Documented statuses provoked by a dedicated test elsewhere in the suite.
const COVERED_ELSEWHERE: &[(&str, u16, &str)] = &[
    ("category_create", 409, "categories::category_create_returns_409_for_a_name_that_exists_in_any_case"),
    ("category_replace", 409, "categories::category_replace_returns_409_for_another_categorys_name"),
    (
        "category_update",
        409,
        "categories::category_replace_returns_409_for_another_categorys_name (same rename path)",
    ),
    ("category_delete", 409, "categories::category_delete_returns_409_while_the_category_has_products"),
    ("auth_register", 409, "auth::registering_a_taken_username_or_email_is_409"),
    ("user_update", 409, "users::the_last_admin_can_be_neither_demoted_nor_deleted"),
    ("user_delete", 409, "users::the_last_admin_can_be_neither_demoted_nor_deleted"),
    ("readyz", 503, "ops::readyz_answers_503_when_the_database_is_gone"),
    ("api_key_create", 409, "hardening::an_account_has_at_most_the_configured_number_of_api_keys"),
    ("customer_create", 409, TAKEN),
    ("customer_replace", 409, TAKEN),
    ("customer_update", 409, TAKEN),
    ("customer_v2_create", 409, TAKEN),
    ("customer_v2_replace", 409, TAKEN),
    ("customer_v2_update", 409, TAKEN),
    ("customer_list", 410, SUNSET),
    ("customer_create", 410, SUNSET),
    ("customer_get", 410, SUNSET),
    ("customer_replace", 410, SUNSET),
    ("customer_update", 410, SUNSET),
    ("customer_delete", 410, SUNSET),
    ("customer_photo_get", 410, PHOTO_SUNSET),
    ("customer_photo_put", 410, PHOTO_SUNSET),
    ("customer_photo_delete", 410, PHOTO_SUNSET),
    ("customer_photo_put", 400, PHOTO_UNREADABLE),
    ("customer_photo_get", 304, PHOTO_304),
    ("customer_v2_photo_get", 304, PHOTO_304),
    ("customer_v2_photo_put", 400, PHOTO_UNREADABLE),
    ("customer_photo_view", 304, PHOTO_LINK),
    ("customer_v2_photo_view", 304, PHOTO_LINK),
    ("customer_photo_view", 410, PHOTO_SUNSET),
    ("order_create", 409, "orders::order_create_returns_409_when_stock_is_insufficient_and_changes_nothing"),
    // The demo catalog has no orders: these need one placed first.
    ("order_get", 304, "orders::another_customers_order_is_404_exactly_like_a_missing_one"),
    ("order_update", 403, "orders::a_customer_cancels_their_own_pending_order_once_and_may_do_nothing_else"),
    ("order_update", 409, "orders::staff_move_orders_along_the_state_machine_and_illegal_moves_are_409"),
    ("order_update", 412, "orders::staff_move_orders_along_the_state_machine_and_illegal_moves_are_409"),
];

const TAKEN: &str = "customers::customer_create_and_update_return_409_naming_a_taken_email_or_phone";
/// The demo data has no photos: the walker cannot fetch one to revalidate.
const PHOTO_304: &str = "photos::put_get_304_replace_and_delete_a_photo";
const PHOTO_LINK: &str =
    "photos::the_photo_url_opens_the_photo_without_credentials_until_it_is_replaced_or_removed";
const PHOTO_SUNSET: &str = "photos::after_the_sunset_v1_photo_operations_answer_410";
/// A raw body is never parsed, so only a body that cannot be read (a broken connection) is 400.
const PHOTO_UNREADABLE: &str = "photos::put_get_304_replace_and_delete_a_photo (no request provokes it)";
const SUNSET: &str = "customers::after_the_sunset_v1_answers_410_in_the_problem_shape_and_v2_still_works";

const METHODS: [&str; 5] = ["get", "post", "put", "patch", "delete"];

#[tokio::test]
async fn every_documented_error_status_is_answered() {
    let app = TestApp::spawn_with(|config| config.max_body_bytes = 4096).await;
    app.seed_demo().await;
    let customer = app.user("casey", Role::Customer).await;
    let spec: Value = serde_json::from_str(storefront::api::OPENAPI_JSON).unwrap();
    let mut unexercised = Vec::new();
    for (path, item) in spec["paths"].as_object().unwrap() {
        for method in METHODS {
            let Some(op) = item.get(method) else { continue };
            let id = op["operationId"].as_str().unwrap();
            for code in op["responses"].as_object().unwrap().keys() {
                let Ok(status) = code.parse::<u16>() else { continue };
                if status < 300 || COVERED_ELSEWHERE.iter().any(|(op_id, s, _)| *op_id == id && *s == status)
                {
                    continue;
                }
                if status == 429 {
                    continue; // rate_limits::every_rate_limited_operation_answers_429_past_its_limit
                }
                // A photo link's key: well formed, never issued (the demo data has no photos).
                let path = &path.replace("{key}", "00000000000000000000000000000000.png");
                let walker = Walker {
                    app: &app,
                    customer: &customer.http,
                    customer_id: customer.id.get(),
                    spec: &spec,
                    op,
                    method,
                    path,
                };
                match walker.provoke(status).await {
                    Some(response) => {
                        let got = response.status().as_u16();
                        let content_type = response
                            .headers()
                            .get("content-type")
                            .map(|v| v.to_str().unwrap().to_string())
                            .unwrap_or_default();
                        let challenge = response.headers().contains_key("www-authenticate");
                        let body = response.bytes().await.unwrap();
                        assert_eq!(got, status, "{id} ({method} {path}) should answer {status}: {body:?}");
                        if status >= 400 {
                            assert_eq!(content_type, "application/problem+json", "{id} {status}");
                            let problem: Value = serde_json::from_slice(&body).unwrap();
                            assert_eq!(problem["status"], status, "{id}");
                            assert!(problem["request_id"].is_string(), "{id}");
                            assert!(problem.get("_headers").is_none(), "{id}: internal channel leaked");
                        } else {
                            assert!(body.is_empty(), "{id}: 304 has no body");
                        }
                        if status == 401 {
                            assert!(challenge, "{id}: 401 without WWW-Authenticate");
                        }
                    }
                    None => unexercised.push(format!("{id} {status}")),
                }
            }
        }
    }
    assert!(unexercised.is_empty(), "documented statuses no test provokes: {unexercised:?}");
}

struct Walker<'a> {
    app: &'a TestApp,
    customer: &'a reqwest::Client,
    customer_id: u64,
    spec: &'a Value,
    op: &'a Value,
    method: &'a str,
    path: &'a str,
}

impl Walker<'_> {
    fn request(&self, client: &reqwest::Client, path: &str) -> reqwest::RequestBuilder {
        let method = reqwest::Method::from_bytes(self.method.to_uppercase().as_bytes()).unwrap();
        client.request(method, self.app.url(path))
    }

    /// A body the operation accepts, made from its schema.
    fn valid_body(&self) -> Option<Value> {
        let schema = self.op.pointer("/requestBody/content/application~1json/schema")?;
        let mut body = sample(schema, self.spec);
        // The demo catalog's second category, so that products are valid.
        if let Some(category) = body.get_mut("category_id") {
            *category = json!(2);
        }
        Some(body)
    }

    /// Sends the request that should get `status`, or `None` when this walker does not know how.
    async fn provoke(&self, status: u16) -> Option<reqwest::Response> {
        let app = self.app;
        let has_body = self.op.get("requestBody").is_some();
        let secured = self.op["security"].as_array().is_some_and(|s| !s.is_empty());
        let has_id = self.path.contains("{id}");
        // Demo data: category 1, product 1 and tag 1 exist; accounts are the customer's (the
        // admin, user 1, may not delete or demote themselves).
        let existing = if self.path.starts_with("/api/v1/users/") {
            self.path.replace("{id}", &self.customer_id.to_string())
        } else {
            self.path.replace("{id}", "1")
        };
        let raw_body = has_body && self.op.pointer("/requestBody/content/application~1json").is_none();
        let with_body = |request: reqwest::RequestBuilder| match self.valid_body() {
            Some(body) => request.json(&body),
            // A raw body (a photo): a real image.
            None if raw_body => request
                .header("content-type", "image/png")
                .body(include_bytes!("../fixtures/photos/tiny.png").to_vec()),
            None => request,
        };
        let request = match status {
            304 => {
                let first = self.request(&app.http, &existing).send().await.unwrap();
                let etag = first.headers()["etag"].to_str().unwrap().to_string();
                self.request(&app.http, &existing).header("if-none-match", etag)
            }
            400 if has_body => self
                .request(&app.http, &existing)
                .header("content-type", "application/json")
                .body("{\"name\": "),
            401 if secured => with_body(self.request(&app.anonymous_http, &existing)),
            401 => with_body(self.request(&app.anonymous_http, &existing).bearer_auth("not-a-token")),
            403 => with_body(self.request(self.customer, &existing)),
            404 if has_id => with_body(self.request(&app.http, &self.path.replace("{id}", "999999"))),
            412 => {
                let target = if self.method == "delete" && self.path.contains("categories") {
                    // A category without products, so that only the precondition can fail.
                    let created: Value = app
                        .http
                        .post(app.url("/api/v1/categories"))
                        .json(&json!({"name": "Empty"}))
                        .send()
                        .await
                        .unwrap()
                        .json()
                        .await
                        .unwrap();
                    self.path.replace("{id}", &created["id"].to_string())
                } else {
                    existing.clone()
                };
                with_body(self.request(&app.http, &target).header("if-match", "\"0-0\""))
            }
            413 if has_body => {
                // Over the operation's own limit (`x-max-body-bytes`), else the server's default.
                let limit =
                    self.op.get("x-max-body-bytes").and_then(Value::as_u64).unwrap_or(65_536) as usize;
                let request = self.request(&app.http, &existing);
                if self.op.pointer("/requestBody/content/application~1json").is_none() {
                    request.header("content-type", "application/octet-stream").body(vec![0u8; limit + 1])
                } else {
                    request.json(&json!({"name": "x".repeat(limit)}))
                }
            }
            415 if has_body => {
                self.request(&app.http, &existing).header("content-type", "text/plain").body("{}")
            }
            422 if has_id => with_body(self.request(&app.http, &self.path.replace("{id}", "0"))),
            422 if has_body => self.request(&app.http, &existing).json(&json!({})),
            422 if self.method == "get" => self.request(&app.http, &format!("{existing}?limit=0")),
            _ => return None,
        };
        Some(request.send().await.unwrap())
    }
}
