//! No drift: the API dropshot describes for the server is the API of `openapi/openapi.yaml`.
//!
//! Both documents are reduced to their structure, then compared: paths, methods, operationIds,
//! tags, parameters (location, name, required, schema shape), request bodies (required, media
//! types, schema shape), success statuses with their media types, schema shapes and header
//! names, and the error schema. A schema's shape is its type, properties, required set, items,
//! enum values and `additionalProperties: false`, with every `$ref` followed.
//!
//! Tolerated differences, each because dropshot cannot express what the spec says:
//! * prose (summary, description) and `format`/`nullable`, which dropshot words its own way; and
//!   so whether a `nullable` property is required (schemars never requires an `Option`; the
//!   server's types always serialize one the spec requires, as null when empty);
//! * validation keywords (lengths, patterns, bounds, `uniqueItems`, `minProperties`,
//!   `default`, `example`): dropshot drops them; `crate::http::validate` enforces them from the
//!   spec, and the contract tests check that;
//! * `$ref` versus inline: dropshot inlines newtypes (`CategoryName` becomes a string);
//! * responses: dropshot documents the one success status and `4XX`/`5XX`; the spec also names
//!   specific error statuses (each must fall in a range dropshot documents, with the same
//!   `Problem` schema) and `304` (answered by `Reply::not_modified`, which dropshot cannot
//!   describe);
//! * a success response negotiated between JSON and another media type (`/problems/{name}`:
//!   HTML or JSON by `Accept`) is bytes to dropshot: its JSON schema is not compared;
//! * error media types: dropshot documents `application/json`; the spec documents
//!   `application/problem+json` too, which the edge answers unless the client accepts only
//!   `application/json`.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{json, Value};

fn spec() -> Value {
    serde_json::from_str(storefront::api::OPENAPI_JSON).expect("the spec as JSON")
}

fn dropshot() -> Value {
    let api = storefront::api::server::storefront_api_mod::stub_api_description().expect("a description");
    api.openapi("Storefront API", semver::Version::new(1, 0, 0)).json().expect("dropshot's OpenAPI")
}

/// The structure of a schema, `$ref`s followed.
fn shape(schema: &Value, doc: &Value, depth: usize) -> Value {
    assert!(depth < 32, "schema nesting too deep (a cycle?)");
    if let Some(reference) = schema.get("$ref").and_then(Value::as_str) {
        let target =
            doc.pointer(reference.trim_start_matches('#')).unwrap_or_else(|| panic!("dangling {reference}"));
        return shape(target, doc, depth + 1);
    }
    // A one-element allOf wrapping a $ref (schemars' way of adding a description) is the $ref.
    if let Some([only]) = schema.get("allOf").and_then(Value::as_array).map(Vec::as_slice) {
        return shape(only, doc, depth + 1);
    }
    let mut out = serde_json::Map::new();
    if let Some(t) = schema.get("type") {
        out.insert("type".into(), t.clone());
    }
    if let Some(values) = schema.get("enum").and_then(Value::as_array) {
        let set: BTreeSet<String> = values.iter().map(Value::to_string).collect();
        out.insert("enum".into(), json!(set));
    }
    if let Some(properties) = schema.get("properties").and_then(Value::as_object) {
        let props: serde_json::Map<String, Value> =
            properties.iter().map(|(k, v)| (k.clone(), shape(v, doc, depth + 1))).collect();
        out.insert("properties".into(), Value::Object(props));
        // A `nullable` property is never in schemars' required set (it describes an `Option`),
        // though the server always sends it (as null when empty) when the spec requires it.
        let nullable =
            |name: &str| properties.get(name).and_then(|p| p.get("nullable")) == Some(&json!(true));
        let required: BTreeSet<String> = schema
            .get("required")
            .and_then(Value::as_array)
            .map(|r| r.iter().filter_map(Value::as_str).filter(|n| !nullable(n)).map(String::from).collect())
            .unwrap_or_default();
        out.insert("required".into(), json!(required));
    }
    if let Some(items) = schema.get("items") {
        out.insert("items".into(), shape(items, doc, depth + 1));
    }
    if schema.get("additionalProperties") == Some(&Value::Bool(false)) {
        out.insert("additionalProperties".into(), Value::Bool(false));
    }
    Value::Object(out)
}

fn resolve<'a>(value: &'a Value, doc: &'a Value) -> &'a Value {
    match value.get("$ref").and_then(Value::as_str) {
        Some(reference) => {
            doc.pointer(reference.trim_start_matches('#')).unwrap_or_else(|| panic!("dangling {reference}"))
        }
        None => value,
    }
}

const METHODS: [&str; 8] = ["get", "put", "post", "delete", "options", "head", "patch", "trace"];

/// One operation, reduced to what must agree.
#[derive(Debug, PartialEq)]
struct Operation {
    operation_id: String,
    tags: Vec<String>,
    parameters: BTreeMap<(String, String), (bool, Value)>,
    body: Option<(bool, BTreeSet<String>, Value)>,
    success: (String, Option<Value>, BTreeMap<String, bool>),
}

fn operations(doc: &Value) -> BTreeMap<(String, String), Operation> {
    let mut out = BTreeMap::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        let shared: Vec<Value> =
            item.get("parameters").and_then(Value::as_array).cloned().unwrap_or_default();
        for method in METHODS {
            let Some(op) = item.get(method) else { continue };
            let mut parameters = BTreeMap::new();
            let own: Vec<Value> = op.get("parameters").and_then(Value::as_array).cloned().unwrap_or_default();
            for parameter in shared.iter().chain(own.iter()) {
                let parameter = resolve(parameter, doc);
                let location = parameter["in"].as_str().expect("in").to_string();
                let mut name = parameter["name"].as_str().expect("name").to_string();
                if location == "header" {
                    name = name.to_ascii_lowercase();
                }
                let required = parameter.get("required").and_then(Value::as_bool).unwrap_or(false);
                parameters.insert((location, name), (required, shape(&parameter["schema"], doc, 0)));
            }
            let body = op.get("requestBody").map(|body| {
                let body = resolve(body, doc);
                let content = body["content"].as_object().expect("content");
                // Tolerated: dropshot describes a JSON body with a multipart alternative (the
                // `JsonOrForm` extractor) by its JSON form, and a raw body (`BinaryBody`) under
                // the only media type its macro takes; so multipart/form-data is not compared,
                // and a raw body's media types are compared as "raw bytes".
                let raw = content.values().next().is_some_and(|m| m["schema"]["format"] == "binary");
                let media: BTreeSet<String> = if raw {
                    BTreeSet::from(["(raw bytes)".to_string()])
                } else {
                    content.keys().filter(|m| *m != "multipart/form-data").cloned().collect()
                };
                let schema =
                    content.values().next().map(|m| shape(&m["schema"], doc, 0)).unwrap_or(Value::Null);
                (body.get("required").and_then(Value::as_bool).unwrap_or(false), media, schema)
            });
            let responses = op["responses"].as_object().expect("responses");
            let (code, response) = responses
                .iter()
                .find(|(code, _)| code.starts_with('2'))
                .unwrap_or_else(|| panic!("{method} {path}: no success response"));
            let response = resolve(response, doc);
            // A success negotiated between JSON and another type is bytes to dropshot.
            let negotiated = response.get("content").and_then(Value::as_object).is_some_and(|c| c.len() > 1);
            let schema = response
                .pointer("/content/application~1json/schema")
                .filter(|_| !negotiated)
                .map(|s| shape(s, doc, 0));
            // Tolerated: dropshot does not describe the headers of a bytes response
            // (`BinaryReply`, an image), so they are compared only for JSON successes.
            let bytes = response
                .get("content")
                .and_then(Value::as_object)
                .is_some_and(|c| !c.is_empty() && !c.contains_key("application/json"));
            let headers: BTreeMap<String, bool> = response
                .get("headers")
                .filter(|_| !bytes)
                .and_then(Value::as_object)
                .map(|h| {
                    h.iter()
                        .map(|(name, header)| {
                            let header = resolve(header, doc);
                            (
                                name.to_ascii_lowercase(),
                                header.get("required").and_then(Value::as_bool).unwrap_or(false),
                            )
                        })
                        .collect()
                })
                .unwrap_or_default();
            let tags = op
                .get("tags")
                .and_then(Value::as_array)
                .map_or_else(Vec::new, |t| t.iter().filter_map(Value::as_str).map(String::from).collect());
            out.insert(
                (path.clone(), method.to_string()),
                Operation {
                    operation_id: op["operationId"].as_str().expect("operationId").to_string(),
                    tags,
                    parameters,
                    body,
                    success: (code.clone(), schema, headers),
                },
            );
        }
    }
    out
}

#[test]
fn dropshot_describes_the_paths_methods_and_operations_of_the_spec() {
    let (spec, dropshot) = (spec(), dropshot());
    let spec_ops = operations(&spec);
    let dropshot_ops = operations(&dropshot);
    let spec_keys: Vec<_> = spec_ops.keys().collect();
    let dropshot_keys: Vec<_> = dropshot_ops.keys().collect();
    assert_eq!(spec_keys, dropshot_keys, "paths and methods differ");
    for (key, expected) in &spec_ops {
        let actual = &dropshot_ops[key];
        assert_eq!(actual.operation_id, expected.operation_id, "{key:?}: operationId");
        assert_eq!(actual.tags, expected.tags, "{key:?}: tags");
        assert_eq!(actual.parameters, expected.parameters, "{key:?}: parameters");
        assert_eq!(actual.body, expected.body, "{key:?}: request body");
        assert_eq!(actual.success, expected.success, "{key:?}: success response");
    }
}

#[test]
fn every_error_the_spec_documents_is_a_problem_in_a_range_dropshot_documents() {
    let (spec, dropshot) = (spec(), dropshot());
    let problem = shape(&json!({"$ref": "#/components/schemas/Problem"}), &spec, 0);
    assert_eq!(shape(&json!({"$ref": "#/components/schemas/Problem"}), &dropshot, 0), problem);
    for (path, item) in spec["paths"].as_object().unwrap() {
        for method in METHODS {
            let Some(op) = item.get(method) else { continue };
            let documented = &dropshot["paths"][path][method]["responses"];
            for (code, response) in op["responses"].as_object().unwrap() {
                if code.starts_with('2') || code == "304" {
                    continue;
                }
                let range = format!("{}XX", &code[..1]);
                assert!(
                    documented.get(&range).is_some(),
                    "{method} {path}: dropshot does not document {range} for {code}"
                );
                let response = resolve(response, &spec);
                for media in ["application/problem+json", "application/json"] {
                    let schema = response.pointer(&format!("/content/{}/schema", media.replace('/', "~1")));
                    let schema = schema.unwrap_or_else(|| panic!("{method} {path} {code}: no {media}"));
                    assert_eq!(shape(schema, &spec, 0), problem, "{method} {path} {code} {media}");
                }
            }
        }
    }
}

#[test]
fn conditional_gets_document_304_and_the_validators_they_need() {
    let spec = spec();
    for (path, item) in spec["paths"].as_object().unwrap() {
        let Some(get) = item.get("get") else { continue };
        let has_if_none_match = get["parameters"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|p| resolve(p, &spec)["name"] == "If-None-Match");
        let has_304 = get["responses"].get("304").is_some();
        assert_eq!(has_if_none_match, has_304, "GET {path}: If-None-Match and 304 go together");
        if has_304 {
            let ok = resolve(&get["responses"]["200"], &spec);
            assert!(ok["headers"].get("ETag").is_some(), "GET {path}: 200 must carry an ETag");
        }
    }
}
