//! OpenAPI 3.0 schema objects → JSON Schema.
//!
//! Two consumers need the spec's schemas as JSON Schema: typify (through schemars' model, which
//! understands `#/components/schemas/…` references as they are) and the server's request
//! validators (the `jsonschema` crate, draft 4, the dialect OpenAPI 3.0 is closest to). For
//! the validators every schema becomes a self-contained document whose `definitions` hold the
//! components it reaches.

use std::collections::BTreeSet;

use serde_json::{json, Map, Value};

const COMPONENTS_PREFIX: &str = "#/components/schemas/";
const DEFINITIONS_PREFIX: &str = "#/definitions/";

/// OpenAPI-only keywords that JSON Schema validators must not see (or that only document).
const OPENAPI_ONLY: &[&str] =
    &["example", "xml", "externalDocs", "discriminator", "readOnly", "writeOnly", "deprecated"];

/// The spec's `components.schemas`, as JSON.
pub fn components(document: &Value) -> &Map<String, Value> {
    static EMPTY: std::sync::OnceLock<Map<String, Value>> = std::sync::OnceLock::new();
    document
        .pointer("/components/schemas")
        .and_then(Value::as_object)
        .unwrap_or_else(|| EMPTY.get_or_init(Map::new))
}

/// Follows a `$ref` to a component schema, for inspecting a schema's `type` or `default`.
pub fn resolve<'a>(schema: &'a Value, document: &'a Value) -> Result<&'a Value, String> {
    let mut current = schema;
    for _ in 0..32 {
        match current.get("$ref").and_then(Value::as_str) {
            None => return Ok(current),
            Some(reference) => {
                let name = reference
                    .strip_prefix(COMPONENTS_PREFIX)
                    .ok_or_else(|| format!("unsupported $ref {reference:?}"))?;
                current = components(document)
                    .get(name)
                    .ok_or_else(|| format!("$ref {reference:?} names no component schema"))?;
            }
        }
    }
    Err("a $ref cycle without a schema".into())
}

/// String keywords the server's types leave out (see [`for_typify`]).
const STRING_CONSTRAINTS: &[&str] = &["pattern", "minLength", "maxLength"];

/// A schema as schemars reads it, for the server's typify types. `nullable: true`, which
/// schemars' draft-7 model does not know, becomes a `null` member of `type` (typify then makes
/// an `Option` that a required property always serializes, as `null` when empty); it needs a
/// plain `type` beside it (not a `$ref`). Optional fields that may be missing should rather say
/// "absent".
///
/// String constraints (`pattern`, `minLength`, `maxLength`) are left out: the server checks
/// every request against the spec's own JSON Schemas (`schemas.json`) before it deserializes
/// it, and builds responses from data it stored after such checks, so newtypes that re-run
/// each pattern on construction would only do the work twice (measured: a sixth of a GET).
/// The client, which progenitor generates from the spec as written, keeps them.
pub fn for_typify(schema: &Value) -> Result<schemars::schema::Schema, String> {
    let mut schema = schema.clone();
    nullable_as_type(&mut schema)?;
    let mut schema = strip_openapi_only(&schema);
    strip_string_constraints(&mut schema);
    serde_json::from_value(schema).map_err(|e| format!("schema is not JSON Schema: {e}"))
}

/// `nullable: true` beside `type: T` → `type: [T, "null"]`, everywhere.
fn nullable_as_type(value: &mut Value) -> Result<(), String> {
    match value {
        Value::Object(map) => {
            if let Some(nullable) = map.remove("nullable") {
                if nullable == Value::Bool(true) {
                    match map.get("type").cloned() {
                        Some(Value::String(ty)) => {
                            map.insert("type".into(), json!([ty, "null"]));
                        }
                        _ => return Err("`nullable` needs a plain `type` beside it (not a `$ref`)".into()),
                    }
                }
            }
            map.values_mut().try_for_each(nullable_as_type)
        }
        Value::Array(items) => items.iter_mut().try_for_each(nullable_as_type),
        _ => Ok(()),
    }
}

/// Drops [`STRING_CONSTRAINTS`] everywhere but inside `properties` maps.
fn strip_string_constraints(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for key in STRING_CONSTRAINTS {
                map.remove(*key);
            }
            for (key, inner) in map.iter_mut() {
                match (key.as_str(), inner) {
                    ("properties", Value::Object(properties)) => {
                        properties.values_mut().for_each(strip_string_constraints)
                    }
                    (_, inner) => strip_string_constraints(inner),
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(strip_string_constraints),
        _ => {}
    }
}

/// A self-contained draft-4 document validating `schema`: references point into its own
/// `definitions`, which hold every component schema the root reaches.
pub fn validation_document(schema: &Value, document: &Value) -> Result<Value, String> {
    let components = components(document);
    let mut reached = BTreeSet::new();
    let mut pending = references(schema);
    while let Some(name) = pending.pop() {
        if reached.insert(name.clone()) {
            let component = components.get(&name).ok_or_else(|| format!("$ref names no schema {name:?}"))?;
            pending.extend(references(component));
        }
    }
    let mut root = to_draft4(schema);
    let definitions: Map<String, Value> = reached
        .into_iter()
        .map(|name| {
            let converted = to_draft4(&components[&name]);
            (name, converted)
        })
        .collect();
    if let Value::Object(map) = &mut root {
        map.insert("$schema".into(), json!("http://json-schema.org/draft-04/schema#"));
        if !definitions.is_empty() {
            map.insert("definitions".into(), Value::Object(definitions));
        }
    }
    Ok(root)
}

/// The names of the component schemas that `schema` references directly or in nested schemas.
fn references(schema: &Value) -> Vec<String> {
    let mut out = Vec::new();
    walk(schema, &mut |key, value| {
        if key == "$ref" {
            if let Some(name) = value.as_str().and_then(|r| r.strip_prefix(COMPONENTS_PREFIX)) {
                out.push(name.to_string());
            }
        }
    });
    out
}

fn walk(value: &Value, visit: &mut dyn FnMut(&str, &Value)) {
    match value {
        Value::Object(map) => {
            for (key, inner) in map {
                visit(key, inner);
                walk(inner, visit);
            }
        }
        Value::Array(items) => items.iter().for_each(|item| walk(item, visit)),
        _ => {}
    }
}

/// Drops the OpenAPI-only keywords and `x-` extensions, everywhere but inside `properties`
/// maps (where keys are property names, not keywords).
fn strip_openapi_only(value: &Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .filter(|(key, _)| !OPENAPI_ONLY.contains(&key.as_str()) && !key.starts_with("x-"))
                .map(|(key, inner)| {
                    let inner = if key == "properties" {
                        match inner {
                            Value::Object(props) => Value::Object(
                                props.iter().map(|(name, s)| (name.clone(), strip_openapi_only(s))).collect(),
                            ),
                            other => other.clone(),
                        }
                    } else {
                        strip_openapi_only(inner)
                    };
                    (key.clone(), inner)
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(strip_openapi_only).collect()),
        other => other.clone(),
    }
}

/// OpenAPI 3.0 → draft 4: references into `definitions`, `nullable` as a `null` alternative.
fn to_draft4(schema: &Value) -> Value {
    let mut converted = strip_openapi_only(schema);
    rewrite(&mut converted);
    converted
}

fn rewrite(value: &mut Value) {
    match value {
        Value::Object(map) => {
            if let Some(Value::String(reference)) = map.get_mut("$ref") {
                if let Some(name) = reference.strip_prefix(COMPONENTS_PREFIX) {
                    *reference = format!("{DEFINITIONS_PREFIX}{name}");
                }
            }
            if map.remove("nullable") == Some(Value::Bool(true)) {
                let inner = Value::Object(std::mem::take(map));
                map.insert("anyOf".into(), json!([inner, {"type": "null"}]));
            }
            map.values_mut().for_each(rewrite);
        }
        Value::Array(items) => items.iter_mut().for_each(rewrite),
        _ => {}
    }
}
