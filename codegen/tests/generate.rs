//! The generator against small fixture specs: snapshots of what it emits (refresh them with
//! `EXPECTORATE=overwrite cargo test -p storefront-codegen` and review the diff), and specs it
//! must refuse, checked for the message a spec author gets.

use serde_json::{json, Value};

fn fixture(name: &str) -> String {
    std::fs::read_to_string(format!("{}/tests/fixtures/{name}.yaml", env!("CARGO_MANIFEST_DIR")))
        .expect("the fixture exists")
}

fn snapshot(fixture_name: &str) {
    let outputs = storefront_codegen::generate(&fixture(fixture_name)).expect("the fixture generates");
    for output in outputs {
        if output.name == "openapi.json" {
            continue;
        }
        expectorate::assert_contents(
            format!("tests/output/{fixture_name}/{}", output.name),
            &output.contents,
        );
    }
}

#[test]
fn the_catalog_fixture_generates_as_recorded() {
    snapshot("catalog");
}

#[test]
fn the_bodies_fixture_generates_as_recorded() {
    snapshot("bodies");
}

/// What the generator says of the catalog fixture after `change` edits it.
fn refused(change: impl FnOnce(&mut Value)) -> String {
    let mut spec: Value = serde_yaml_ng::from_str(&fixture("catalog")).unwrap();
    change(&mut spec);
    let text = serde_yaml_ng::to_string(&spec).unwrap();
    match storefront_codegen::generate(&text) {
        Ok(_) => panic!("the changed spec was accepted"),
        Err(message) => message,
    }
}

fn post(spec: &mut Value) -> &mut Value {
    spec.pointer_mut("/paths/~1items/post").unwrap()
}

#[test]
fn an_operation_without_security_is_refused_by_name() {
    let message = refused(|spec| {
        post(spec).as_object_mut().unwrap().remove("security");
    });
    assert_eq!(message, "POST /items: `security` is required on every operation (`[]` if public)");
}

#[test]
fn an_operation_without_a_rate_limit_class_is_refused() {
    let message = refused(|spec| {
        post(spec).as_object_mut().unwrap().remove("x-rate-limit");
    });
    assert!(message.contains("`x-rate-limit: <class>` is required"), "{message}");
}

#[test]
fn an_unknown_role_is_refused() {
    let message = refused(|spec| post(spec)["x-roles"] = json!(["owner"]));
    assert_eq!(
        message,
        "POST /items: x-roles: \"owner\" is not one of components.schemas.Role ([\"admin\", \"customer\"])"
    );
}

#[test]
fn roles_on_a_public_operation_are_refused() {
    let message = refused(|spec| post(spec)["security"] = json!([]));
    assert!(message.contains("x-roles needs a `security` requirement"), "{message}");
}

#[test]
fn a_body_type_the_server_cannot_read_is_refused() {
    let message = refused(|spec| {
        post(spec)["requestBody"]["content"] = json!({"application/xml": {"schema": {"type": "string"}}});
    });
    assert!(
        message.starts_with("POST /items: request body media type \"application/xml\" is not supported"),
        "{message}"
    );
}

#[test]
fn multipart_without_a_json_alternative_is_refused() {
    let message = refused(|spec| {
        post(spec)["requestBody"]["content"] =
            json!({"multipart/form-data": {"schema": {"$ref": "#/components/schemas/ItemInput"}}});
    });
    assert!(message.contains("multipart/form-data needs an application/json alternative"), "{message}");
}

#[test]
fn multipart_fields_must_be_those_of_the_json_body() {
    let message = refused(|spec| {
        post(spec)["requestBody"]["content"]["multipart/form-data"] = json!({"schema": {
            "type": "object",
            "properties": {"title": {"type": "string"}, "file": {"type": "string", "format": "binary"}}
        }});
    });
    assert!(message.contains("the multipart/form-data fields [\"title\"] must be those of the application/json body [\"name\"]"), "{message}");
}

#[test]
fn a_deprecated_operation_must_say_when_it_ends_and_what_replaces_it() {
    let message = refused(|spec| post(spec)["deprecated"] = json!(true));
    assert!(
        message.contains("a deprecated operation states x-deprecated-since, x-sunset and x-successor"),
        "{message}"
    );
    let message = refused(|spec| {
        let op = post(spec);
        op["deprecated"] = json!(true);
        op["x-deprecated-since"] = json!("2027-01-01");
        op["x-sunset"] = json!("2026-01-01");
        op["x-successor"] = json!("/v2/items");
    });
    assert!(message.contains("x-sunset must come after x-deprecated-since"), "{message}");
    let message = refused(|spec| post(spec)["x-sunset"] = json!("2027-01-01"));
    assert!(message.contains("need `deprecated: true`"), "{message}");
}

#[test]
fn an_accepted_response_must_say_where_to_follow_the_work() {
    let message = refused(|spec| {
        let responses = &mut post(spec)["responses"];
        let created = responses["201"].clone();
        responses.as_object_mut().unwrap().remove("201");
        let mut accepted = created;
        accepted.as_object_mut().unwrap().remove("headers");
        responses["202"] = accepted;
    });
    assert!(message.contains("a 202 response must declare a Location header"), "{message}");
}

#[test]
fn an_operation_names_exactly_one_tag() {
    let message = refused(|spec| post(spec)["tags"] = json!(["items", "admin"]));
    assert!(message.contains("every operation names exactly one tag"), "{message}");
}

#[test]
fn enum_varnames_must_match_the_values() {
    let message = refused(|spec| spec["components"]["schemas"]["Sort"]["x-enum-varnames"] = json!(["Only"]));
    assert!(message.contains("x-enum-varnames: 1 names for 2 values"), "{message}");
}

#[test]
fn readable_variant_names_reach_the_server_and_the_client() {
    let outputs = storefront_codegen::generate(&fixture("catalog")).unwrap();
    for name in ["types.rs", "client.rs"] {
        let text = &outputs.iter().find(|o| o.name == name).unwrap().contents;
        assert!(text.contains("NameDesc"), "{name}");
        assert!(!text.contains("Xname"), "{name}");
    }
}

fn login(spec: &mut Value) -> &mut Value {
    spec.pointer_mut("/paths/~1login/post").unwrap()
}

#[test]
fn limits_keyed_by_the_body_need_the_field_they_key_by() {
    let message = refused(|spec| post(spec)["x-rate-limit-key"] = json!(["session"]));
    assert!(
        message.contains("x-rate-limit-key `session` needs a JSON body with a `refresh_token` property"),
        "{message}"
    );
    let message = refused(|spec| post(spec)["x-rate-limit-key"] = json!(["username"]));
    assert!(message.contains("`username` needs a JSON body with a `username` property"), "{message}");
    let message = refused(|spec| login(spec)["x-rate-limit-fallback"] = json!("auth-unknown-token"));
    assert!(message.contains("x-rate-limit-fallback needs `session` in x-rate-limit-key"), "{message}");
    let message = refused(|spec| login(spec)["x-failure-limit"]["distinct"] = json!("password"));
    assert!(message.contains("x-failure-limit.distinct must be `username`"), "{message}");
    let message = refused(|spec| login(spec)["x-failure-limit"] = json!({"class": "x"}));
    assert!(message.contains("x-failure-limit must be {class, key, distinct}"), "{message}");
}

#[test]
fn sparse_fieldsets_need_a_resource_with_members() {
    let message = refused(|spec| {
        let fields = json!({"name": "fields", "in": "query", "schema": {"type": "string"}});
        login(spec)["parameters"] = json!([fields]);
    });
    assert!(
        message.starts_with("POST /login: a `fields` parameter needs a JSON success response"),
        "{message}"
    );
}

#[test]
fn a_creating_post_without_an_idempotency_key_is_refused_by_name() {
    let message = refused(|spec| {
        post(spec).as_object_mut().unwrap().remove("parameters");
    });
    assert_eq!(
        message,
        "POST /items: item_create creates something (POST answering 201) but does not declare the \
         Idempotency-Key header; add `- $ref: \"#/components/parameters/IdempotencyKey\"` to its parameters"
    );
    let message = refused(|spec| {
        let get = spec.pointer_mut("/paths/~1items/get/parameters").unwrap().as_array_mut().unwrap();
        get.push(json!({"$ref": "#/components/parameters/IdempotencyKey"}));
    });
    assert_eq!(message, "GET /items: item_list: the Idempotency-Key header is for POST operations only");
    let message = refused(|spec| {
        spec["components"]["parameters"]["IdempotencyKey"]["required"] = json!(true);
    });
    assert_eq!(message, "POST /items: item_create: the Idempotency-Key header must be an optional string");
}
