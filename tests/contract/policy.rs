//! The access policy of every operation, walked from the spec: adding an operation adds it here.
//!
//! For each operation: a secured one answers 401 (with a `WWW-Authenticate` challenge) without
//! credentials and with an invalid token; an operation with `x-roles` answers 403 to every role
//! it does not list and gets past authorization for every role it does (any answer but 401/403);
//! a role narrowed by `x-field-roles` gets past with those fields and 403 with any other; a
//! public operation serves anonymous callers. Requests are made from the spec's schemas and
//! examples, against the demo catalog. Raw HTTP, since the operation is only known at run time.

use serde_json::Value;
use storefront_client::types::Role;

use crate::common::{authorized_http, sample, TestApp};

const ROLES: [(Role, &str); 3] =
    [(Role::Customer, "customer"), (Role::Manager, "manager"), (Role::Admin, "admin")];

#[tokio::test]
async fn every_operation_enforces_the_policy_its_spec_declares() {
    let app = TestApp::spawn().await;
    app.seed_demo().await;
    let customer = app.user("casey", Role::Customer).await;
    let manager = app.user("morgan", Role::Manager).await;
    let clients = [
        (Role::Customer, customer.http.clone()),
        (Role::Manager, manager.http.clone()),
        (Role::Admin, app.http.clone()),
    ];
    let spec: Value = serde_json::from_str(storefront::api::OPENAPI_JSON).unwrap();
    let mut checked = 0;
    for (path, item) in spec["paths"].as_object().unwrap() {
        for method in ["get", "post", "put", "patch", "delete"] {
            let Some(op) = item.get(method) else { continue };
            let id = op["operationId"].as_str().unwrap();
            let target = path.replace("{id}", "1");
            let schemes = op["security"].as_array().expect("every operation states `security`");
            let roles: Vec<&str> = op
                .get("x-roles")
                .and_then(Value::as_array)
                .map_or_else(Vec::new, |r| r.iter().filter_map(Value::as_str).collect());
            let body = op.pointer("/requestBody/content/application~1json/schema").map(|schema| {
                let mut body = sample(schema, &spec);
                if let Some(category) = body.get_mut("category_id") {
                    *category = serde_json::json!(2);
                }
                body
            });
            let send = |client: &reqwest::Client, body: Option<&Value>| {
                let method = reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
                let request = client.request(method, app.url(&target));
                match body {
                    Some(body) => request.json(body).send(),
                    None => request.send(),
                }
            };

            if schemes.is_empty() {
                // Served to anonymous callers (a login may still refuse a wrong password, as
                // `/problems/invalid-credentials`; never ask for credentials or refuse a role).
                let response = send(&app.anonymous_http, body.as_ref()).await.unwrap();
                let status = response.status().as_u16();
                let problem: Value = response.json().await.unwrap_or(Value::Null);
                assert!(
                    status != 403 && status < 500 && problem["type"] != "/problems/unauthorized",
                    "{id}: public, yet {status} {problem}"
                );
            } else {
                let response = send(&app.anonymous_http, body.as_ref()).await.unwrap();
                assert_eq!(response.status(), 401, "{id} without credentials");
                assert_eq!(response.headers()["content-type"], "application/problem+json", "{id}");
                let challenge = response.headers()["www-authenticate"].to_str().unwrap().to_string();
                assert_eq!(challenge, "Bearer realm=\"storefront\"", "{id}");
                let response = send(&authorized_http("not-a-token"), body.as_ref()).await.unwrap();
                assert_eq!(response.status(), 401, "{id} with an invalid token");
                assert!(
                    response.headers()["www-authenticate"].to_str().unwrap().contains("invalid_token"),
                    "{id}"
                );
            }
            // Allowed roles last: the admin's writes may change the demo data.
            for (role, client) in &clients {
                let name = ROLES.iter().find(|(r, _)| r == role).unwrap().1;
                let narrowed: Option<Vec<&str>> = op
                    .pointer(&format!("/x-field-roles/{name}"))
                    .and_then(Value::as_array)
                    .map(|fields| fields.iter().filter_map(Value::as_str).collect());
                let role_body = match (&body, &narrowed) {
                    (Some(Value::Object(all)), Some(fields)) => {
                        // Beyond the fields it may send: 403.
                        let response = send(client, Some(&Value::Object(all.clone()))).await.unwrap();
                        assert_eq!(response.status(), 403, "{id} as {name} with fields beyond {fields:?}");
                        Some(Value::Object(
                            all.iter()
                                .filter(|(k, _)| fields.contains(&k.as_str()))
                                .map(|(k, v)| (k.clone(), v.clone()))
                                .collect(),
                        ))
                    }
                    _ => body.clone(),
                };
                let response = send(client, role_body.as_ref()).await.unwrap();
                let status = response.status().as_u16();
                if roles.is_empty() || roles.contains(&name) {
                    let problem: Value = response.json().await.unwrap_or(Value::Null);
                    let refused = status == 403 || problem["type"] == "/problems/unauthorized";
                    assert!(!refused, "{id}: {name} is allowed, yet {status} {problem}");
                    // Getting past the policy means an answer from the handler, never a failure.
                    assert!(status < 500, "{id}: {name} is allowed, yet {status} {problem}");
                } else {
                    assert_eq!(status, 403, "{id}: {name} is not in x-roles {roles:?}");
                }
            }
            checked += 1;
        }
    }
    assert_eq!(
        checked,
        storefront::api::server::operations::ALL.len(),
        "every operation of the spec was walked"
    );
}
