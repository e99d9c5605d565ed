//! The spec, read into what the generator emits: one [`Operation`] per path and method.
//!
//! Reading is where the spec's rules are enforced: every operation states its `security` and
//! `x-rate-limit`, names exactly one tag, and uses only the request and response shapes the
//! server knows how to serve. A spec that breaks a rule fails the build with a message naming
//! the operation and the rule.

use std::collections::BTreeMap;

use heck::{ToPascalCase, ToSnakeCase};
use openapiv3::{OpenAPI, Parameter, ParameterSchemaOrContent, ReferenceOr, StatusCode};
use proc_macro2::TokenStream;
use serde_json::Value;

use crate::schema;

/// Where a parameter comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Location {
    Path,
    Query,
    Header,
}

impl Location {
    pub fn suffix(self) -> &'static str {
        match self {
            Location::Path => "Path",
            Location::Query => "Query",
            Location::Header => "Headers",
        }
    }
}

/// How a parameter's text is read before validation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Integer,
    Number,
    Boolean,
    String,
}

impl Kind {
    pub fn of(schema: &Value) -> Option<Kind> {
        match schema.get("type").and_then(Value::as_str) {
            Some("integer") => Some(Kind::Integer),
            Some("number") => Some(Kind::Number),
            Some("boolean") => Some(Kind::Boolean),
            Some("string") => Some(Kind::String),
            _ => None,
        }
    }
}

pub struct Param {
    pub name: String,
    pub location: Location,
    pub required: bool,
    pub description: Option<String>,
    pub ty: TokenStream,
    pub kind: Kind,
    pub default: Option<Value>,
    pub schema: Value,
}

/// A JSON request body: its typify type and the schema it is validated against.
pub struct JsonBody {
    pub ty: TokenStream,
    /// The component schema's name (the validator's name too).
    pub type_name: String,
    pub schema: Value,
}

/// A file part of a `multipart/form-data` body (`format: binary`).
pub struct FilePart {
    pub name: String,
    pub required: bool,
    /// The media types the part may have (`x-media-types`; any when empty).
    pub media_types: Vec<String>,
}

/// The request body an operation takes.
pub enum Body {
    /// `application/json`.
    Json(JsonBody),
    /// Raw bytes (`application/octet-stream`, `image/png`…), streamed to the handler.
    Binary { media_types: Vec<String> },
    /// `application/json`, or the same fields as `multipart/form-data` with file parts.
    JsonOrForm { json: JsonBody, files: Vec<FilePart> },
}

impl Body {
    pub fn json(&self) -> Option<&JsonBody> {
        match self {
            Body::Json(json) | Body::JsonOrForm { json, .. } => Some(json),
            Body::Binary { .. } => None,
        }
    }
}

pub struct ResponseHeader {
    pub name: String,
    pub required: bool,
    pub description: String,
}

/// What a success response carries.
pub enum SuccessBody {
    None,
    Json(TokenStream),
    /// Bytes in one of these media types (`image/png`, `text/csv`…).
    Binary(Vec<String>),
}

pub struct Success {
    pub status: u16,
    pub body: SuccessBody,
    pub headers: Vec<ResponseHeader>,
}

/// `deprecated: true` with its dates and successor.
pub struct Deprecation {
    /// `x-deprecated-since` (a date): the `Deprecation` header.
    pub since: chrono::NaiveDate,
    /// `x-sunset` (a date): the `Sunset` header; from that day on the operation answers 410.
    pub sunset: chrono::NaiveDate,
    /// `x-successor`: the path of the operation that replaces it, `{param}`s filled from the
    /// request's path parameters.
    pub successor: String,
}

/// `x-failure-limit: {class, key, distinct}`: the requests of one key may fail (401) for at
/// most the class's number of distinct values of `distinct` per window; past it, 429.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FailureLimit {
    pub class: String,
    pub key: Vec<String>,
    pub distinct: String,
}

/// Who may call an operation and how often, from `security`, `x-roles`, `x-rate-limit` and
/// `x-rate-limit-key`.
pub struct Policy {
    /// The security schemes that may authenticate the call; empty for a public operation.
    pub schemes: Vec<String>,
    pub roles: Vec<String>,
    /// The limit class; `None` for `x-rate-limit: none`.
    pub rate_limit: Option<String>,
    /// What the counter is keyed by: `caller`, `ip`, `username` (from the JSON body),
    /// `session` (the login of the body's `refresh_token`).
    pub rate_limit_key: Vec<String>,
    /// With a `session` key: the class that counts, per client address, the requests whose
    /// token belongs to no login (`x-rate-limit-fallback`).
    pub rate_limit_fallback: Option<String>,
    /// `x-failure-limit`: a limit on distinct values (usernames) of failed requests (401).
    pub failure_limit: Option<FailureLimit>,
    /// Roles narrowed to some fields of the request body (`x-field-roles`).
    pub field_roles: Vec<(String, Vec<String>)>,
}

/// A `fields` query parameter (sparse fieldsets): the members a client may name.
pub struct Fields {
    /// The top-level properties of the response's resource schema, sorted.
    pub members: Vec<String>,
    /// Whether they are the members of each element of the response's `items` (a page).
    pub in_items: bool,
}

pub struct Operation {
    pub id: String,
    pub method: String,
    pub path: String,
    /// The operation's one tag: it names the handler trait the operation belongs to.
    pub tag: String,
    pub doc: String,
    pub deprecation: Option<Deprecation>,
    pub params: Vec<Param>,
    pub body: Option<Body>,
    /// `x-max-body-bytes`: the largest request body, when not the server's default.
    pub max_body_bytes: Option<u64>,
    pub success: Success,
    pub not_modified: bool,
    pub cache_control: Option<String>,
    pub policy: Policy,
    /// Sparse fieldsets, when the operation declares a `fields` query parameter.
    pub fields: Option<Fields>,
    /// Whether the operation declares the `Idempotency-Key` header: a retry with the same key
    /// gets the first answer. Required of every `POST` that creates something (201/202).
    pub idempotent: bool,
}

impl Operation {
    pub fn pascal(&self) -> String {
        self.id.to_pascal_case()
    }

    /// The parameters at `location` the handler gets (`Idempotency-Key` is the glue's).
    pub fn params_at(&self, location: Location) -> Vec<&Param> {
        self.params.iter().filter(|p| p.location == location && !p.is_idempotency_key()).collect()
    }

    /// The `Idempotency-Key` header parameter, when the operation declares it.
    pub fn idempotency_key(&self) -> Option<&Param> {
        self.params.iter().find(|p| p.is_idempotency_key())
    }
}

/// The header that makes a retried `POST` safe (see `Operation::idempotent`).
pub const IDEMPOTENCY_KEY: &str = "Idempotency-Key";

impl Param {
    pub fn is_idempotency_key(&self) -> bool {
        self.location == Location::Header && self.name.eq_ignore_ascii_case(IDEMPOTENCY_KEY)
    }
}

/// Reads every operation of the spec, in the spec's order.
pub fn operations(
    spec: &OpenAPI,
    document: &Value,
    types: &mut typify::TypeSpace,
) -> Result<Vec<Operation>, String> {
    let mut operations = Vec::new();
    for (path, item) in spec.paths.paths.iter() {
        let item = item.as_item().ok_or_else(|| format!("{path}: path $refs are not supported"))?;
        for (method, op) in item.iter() {
            let context = format!("{} {path}", method.to_uppercase());
            let operation = read_operation(spec, document, types, path, method, op, &item.parameters)
                .map_err(|e| format!("{context}: {e}"))?;
            operations.push(operation);
        }
    }
    Ok(operations)
}

#[allow(clippy::too_many_arguments)]
fn read_operation(
    spec: &OpenAPI,
    document: &Value,
    types: &mut typify::TypeSpace,
    path: &str,
    method: &str,
    op: &openapiv3::Operation,
    path_level: &[ReferenceOr<Parameter>],
) -> Result<Operation, String> {
    let id = op.operation_id.clone().ok_or("operationId is required")?;
    if id.to_snake_case() != id {
        return Err(format!("operationId {id:?} must be snake_case (it names a Rust method)"));
    }
    let tag = match op.tags.as_slice() {
        [tag] => tag.clone(),
        _ => return Err("every operation names exactly one tag (it names the handler trait)".into()),
    };
    let params = read_params(spec, document, types, &id, path_level, &op.parameters)?;
    let body = read_body(document, types, &id, op)?;
    let max_body_bytes = match op.extensions.get("x-max-body-bytes") {
        None => None,
        Some(value) => {
            Some(value.as_u64().filter(|n| *n > 0).ok_or("x-max-body-bytes must be a positive integer")?)
        }
    };
    if max_body_bytes.is_some() && body.is_none() {
        return Err("x-max-body-bytes on an operation without a request body".into());
    }

    let mut success = None;
    let mut not_modified = false;
    for (code, response) in op.responses.responses.iter() {
        let response = resolve_response(spec, response)?;
        match code {
            StatusCode::Code(304) => not_modified = true,
            StatusCode::Code(code @ 200..=299) => {
                if success.is_some() {
                    return Err("only one 2xx response per operation (a progenitor limit)".into());
                }
                success = Some(read_success(spec, types, &id, *code, response)?);
            }
            _ => {}
        }
    }
    let success = success.ok_or("the operation declares no 2xx response")?;
    if success.status == 202 && !success.headers.iter().any(|h| h.name.eq_ignore_ascii_case("Location")) {
        return Err("a 202 response must declare a Location header (where to follow the work)".into());
    }

    let mut doc = op.summary.clone().unwrap_or_default();
    if let Some(description) = &op.description {
        if !doc.is_empty() {
            doc.push_str("\n\n");
        }
        doc.push_str(description.trim_end());
    }

    let fields = match params.iter().any(|p| p.location == Location::Query && p.name == "fields") {
        true => Some(read_fields(spec, document, op)?),
        false => None,
    };
    let idempotent = read_idempotency(&id, method, &params, success.status)?;

    let body_schema = body.as_ref().and_then(Body::json).map(|json| json.type_name.clone());
    Ok(Operation {
        fields,
        deprecation: read_deprecation(op, path)?,
        policy: read_policy(spec, document, op, body_schema.as_deref())?,
        cache_control: cache_control(op.extensions.get("x-cache"))?,
        id,
        method: method.to_uppercase(),
        path: path.to_string(),
        tag,
        doc,
        params,
        body,
        max_body_bytes,
        success,
        not_modified,
        idempotent,
    })
}

/// Whether the operation takes `Idempotency-Key`: every `POST` that creates something (a 201 or
/// 202 answer) must, so that a client can retry it safely; no other method may (`PUT` and
/// `DELETE` are idempotent already, reads change nothing). The header is a string.
fn read_idempotency(id: &str, method: &str, params: &[Param], status: u16) -> Result<bool, String> {
    let declared = params.iter().find(|p| p.is_idempotency_key());
    let creates = method.eq_ignore_ascii_case("post") && matches!(status, 201 | 202);
    match declared {
        None if creates => Err(format!(
            "{id} creates something (POST answering {status}) but does not declare the {IDEMPOTENCY_KEY} \
             header; add `- $ref: \"#/components/parameters/IdempotencyKey\"` to its parameters"
        )),
        None => Ok(false),
        Some(_) if !method.eq_ignore_ascii_case("post") => {
            Err(format!("{id}: the {IDEMPOTENCY_KEY} header is for POST operations only"))
        }
        Some(p) if p.kind != Kind::String || p.required => {
            Err(format!("{id}: the {IDEMPOTENCY_KEY} header must be an optional string"))
        }
        Some(_) => Ok(true),
    }
}

/// Path-level parameters, overridden by operation-level ones of the same name and location.
fn read_params(
    spec: &OpenAPI,
    document: &Value,
    types: &mut typify::TypeSpace,
    id: &str,
    path_level: &[ReferenceOr<Parameter>],
    own: &[ReferenceOr<Parameter>],
) -> Result<Vec<Param>, String> {
    let mut by_key: BTreeMap<(&'static str, String), Parameter> = BTreeMap::new();
    let mut order = Vec::new();
    for p in path_level.iter().chain(own.iter()) {
        let p = resolve_parameter(spec, p)?;
        let key = (location_name(&p), p.parameter_data_ref().name.clone());
        if !by_key.contains_key(&key) {
            order.push(key.clone());
        }
        by_key.insert(key, p);
    }
    order.iter().map(|key| read_param(document, types, id, &by_key[key])).collect()
}

/// The request body: JSON; raw bytes; or JSON with a multipart alternative.
fn read_body(
    document: &Value,
    types: &mut typify::TypeSpace,
    id: &str,
    op: &openapiv3::Operation,
) -> Result<Option<Body>, String> {
    let body = match &op.request_body {
        None => return Ok(None),
        Some(ReferenceOr::Item(body)) => body,
        Some(ReferenceOr::Reference { .. }) => return Err("requestBody $refs are not supported".into()),
    };
    if !body.required {
        return Err("request bodies must be `required: true`".into());
    }
    let media: Vec<&str> = body.content.keys().map(String::as_str).collect();
    let json = match body.content.get("application/json") {
        Some(media) => {
            let schema = json_of(media.schema.as_ref().ok_or("request body without a schema")?)?;
            Some(json_body(document, types, id, &schema)?)
        }
        None => None,
    };
    let form = body.content.get("multipart/form-data");
    let binary: Vec<String> = media.iter().filter(|m| is_binary_media(m)).map(|m| m.to_string()).collect();
    let unsupported: Vec<&&str> = media
        .iter()
        .filter(|m| **m != "application/json" && **m != "multipart/form-data" && !is_binary_media(m))
        .collect();
    if let Some(first) = unsupported.first() {
        return Err(format!(
            "request body media type {first:?} is not supported (application/json, multipart/form-data, \
             application/octet-stream, image/*)"
        ));
    }
    match (json, form, binary.is_empty()) {
        (Some(json), None, true) => Ok(Some(Body::Json(json))),
        (None, None, false) => {
            for media_type in &binary {
                let schema =
                    json_of(body.content[media_type].schema.as_ref().ok_or("binary body without a schema")?)?;
                if schema.get("format").and_then(Value::as_str) != Some("binary") {
                    return Err(format!(
                        "the {media_type} body's schema must be `type: string, format: binary`"
                    ));
                }
            }
            Ok(Some(Body::Binary { media_types: binary }))
        }
        (Some(json), Some(form), true) => {
            let schema = json_of(form.schema.as_ref().ok_or("multipart body without a schema")?)?;
            let schema = schema::resolve(&schema, document)?;
            let properties = schema
                .get("properties")
                .and_then(Value::as_object)
                .ok_or("the multipart/form-data schema must be an object with properties")?;
            let mut files = Vec::new();
            let mut fields = Vec::new();
            let required: Vec<&str> = schema
                .get("required")
                .and_then(Value::as_array)
                .map(|r| r.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            for (name, property) in properties {
                let property = schema::resolve(property, document)?;
                if property.get("format").and_then(Value::as_str) == Some("binary") {
                    let media_types = match property.get("x-media-types") {
                        None => Vec::new(),
                        Some(value) => serde_json::from_value(value.clone())
                            .map_err(|_| format!("{name}: x-media-types must be a list of media types"))?,
                    };
                    files.push(FilePart {
                        name: name.clone(),
                        required: required.contains(&name.as_str()),
                        media_types,
                    });
                } else {
                    fields.push(name.clone());
                }
            }
            let json_ref = serde_json::json!({"$ref": format!("#/components/schemas/{}", json.type_name)});
            let json_schema = schema::resolve(&json_ref, document)?;
            let mut json_fields: Vec<String> = json_schema
                .get("properties")
                .and_then(Value::as_object)
                .map(|p| p.keys().cloned().collect())
                .unwrap_or_default();
            json_fields.sort();
            fields.sort();
            if fields != json_fields {
                return Err(format!(
                    "the multipart/form-data fields {fields:?} must be those of the application/json body \
                     {json_fields:?}, plus file parts (format: binary)"
                ));
            }
            if files.is_empty() {
                return Err("a multipart/form-data body without a file part: use application/json".into());
            }
            Ok(Some(Body::JsonOrForm { json, files }))
        }
        (None, Some(_), _) => {
            Err("multipart/form-data needs an application/json alternative with the same fields (the \
             generated client cannot send multipart)"
                .into())
        }
        _ => Err("a request body is JSON, JSON with a multipart alternative, or raw bytes, not a mix".into()),
    }
}

fn is_binary_media(media: &str) -> bool {
    media == "application/octet-stream" || media.starts_with("image/")
}

fn json_body(
    document: &Value,
    types: &mut typify::TypeSpace,
    id: &str,
    schema: &Value,
) -> Result<JsonBody, String> {
    let type_name = schema
        .get("$ref")
        .and_then(Value::as_str)
        .and_then(|r| r.strip_prefix("#/components/schemas/"))
        .ok_or("a JSON request body must be a $ref to a component schema")?
        .to_string();
    let ty = type_ident(types, schema, format!("{id}-body"))?;
    Ok(JsonBody { ty, type_name, schema: schema::validation_document(schema, document)? })
}

/// `deprecated: true` needs `x-deprecated-since`, `x-sunset` and `x-successor`; none of them
/// without it.
fn read_deprecation(op: &openapiv3::Operation, path: &str) -> Result<Option<Deprecation>, String> {
    let date = |key: &str| -> Result<Option<chrono::NaiveDate>, String> {
        match op.extensions.get(key) {
            None => Ok(None),
            Some(value) => value
                .as_str()
                .and_then(|text| chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d").ok())
                .map(Some)
                .ok_or_else(|| format!("{key} must be a date (YYYY-MM-DD)")),
        }
    };
    let since = date("x-deprecated-since")?;
    let sunset = date("x-sunset")?;
    let successor = op.extensions.get("x-successor").map(|v| v.as_str().map(str::to_string));
    if !op.deprecated {
        if since.is_some() || sunset.is_some() || successor.is_some() {
            return Err("x-deprecated-since, x-sunset and x-successor need `deprecated: true`".into());
        }
        return Ok(None);
    }
    let (Some(since), Some(sunset), Some(successor)) = (since, sunset, successor) else {
        return Err("a deprecated operation states x-deprecated-since, x-sunset and x-successor".into());
    };
    let successor = successor.ok_or("x-successor must be a path")?;
    if !successor.starts_with('/') {
        return Err("x-successor must be a path (`/api/v2/…`)".into());
    }
    if sunset <= since {
        return Err("x-sunset must come after x-deprecated-since".into());
    }
    for name in placeholders(&successor) {
        if !placeholders(path).contains(&name) {
            return Err(format!("x-successor names {{{name}}}, which is not a path parameter"));
        }
    }
    Ok(Some(Deprecation { since, sunset, successor }))
}

/// The `{name}`s of a path template.
pub fn placeholders(path: &str) -> Vec<String> {
    path.split('{')
        .skip(1)
        .filter_map(|rest| rest.split_once('}'))
        .map(|(name, _)| name.to_string())
        .collect()
}

/// The operation's access policy; every operation must state `security` and `x-rate-limit`,
/// so that a reviewer sees both for every new operation.
fn read_policy(
    spec: &OpenAPI,
    document: &Value,
    op: &openapiv3::Operation,
    body_schema: Option<&str>,
) -> Result<Policy, String> {
    let requirements =
        op.security.as_ref().ok_or("`security` is required on every operation (`[]` if public)")?;
    let declared: Vec<&String> =
        spec.components.as_ref().map(|c| c.security_schemes.keys().collect()).unwrap_or_default();
    let mut schemes = Vec::new();
    for requirement in requirements {
        if requirement.len() != 1 {
            return Err("each `security` entry must name exactly one scheme".into());
        }
        for name in requirement.keys() {
            if !declared.contains(&name) {
                return Err(format!(
                    "security scheme {name:?} is not declared in components.securitySchemes"
                ));
            }
            if name != "bearerAuth" && name != "apiKeyAuth" {
                return Err(format!(
                    "security scheme {name:?} is not one the server knows (bearerAuth, apiKeyAuth)"
                ));
            }
            schemes.push(name.clone());
        }
    }
    let roles: Vec<String> = match op.extensions.get("x-roles") {
        None => Vec::new(),
        Some(value) => {
            serde_json::from_value(value.clone()).map_err(|_| "x-roles must be a list of role names")?
        }
    };
    let known: Vec<String> = document
        .pointer("/components/schemas/Role/enum")
        .and_then(Value::as_array)
        .map(|values| values.iter().filter_map(Value::as_str).map(String::from).collect())
        .unwrap_or_default();
    for role in &roles {
        if !known.contains(role) {
            return Err(format!("x-roles: {role:?} is not one of components.schemas.Role ({known:?})"));
        }
    }
    if !roles.is_empty() && schemes.is_empty() {
        return Err("x-roles needs a `security` requirement: anonymous callers have no role".into());
    }
    let rate_limit = match op.extensions.get("x-rate-limit").and_then(Value::as_str) {
        None => return Err("`x-rate-limit: <class>` is required on every operation (`none` for none)".into()),
        Some("none") => None,
        Some(class) => Some(class.to_string()),
    };
    let rate_limit_key: Vec<String> = match op.extensions.get("x-rate-limit-key") {
        None => vec!["caller".into()],
        Some(value) => {
            serde_json::from_value(value.clone()).map_err(|_| "x-rate-limit-key must be a list")?
        }
    };
    let body_field = |field: &str| {
        body_schema
            .and_then(|name| document.pointer(&format!("/components/schemas/{name}/properties/{field}")))
            .is_some()
    };
    let check_key = |parts: &[String], what: &str| -> Result<(), String> {
        for part in parts {
            match part.as_str() {
                "caller" | "ip" => {}
                "username" if body_field("username") => {}
                "username" => {
                    return Err(format!("{what} `username` needs a JSON body with a `username` property"))
                }
                "session" if body_field("refresh_token") => {}
                "session" => {
                    return Err(format!("{what} `session` needs a JSON body with a `refresh_token` property"))
                }
                other => {
                    return Err(format!("{what}: unknown part {other:?} (caller, ip, username, session)"))
                }
            }
        }
        Ok(())
    };
    check_key(&rate_limit_key, "x-rate-limit-key")?;
    let rate_limit_fallback =
        op.extensions.get("x-rate-limit-fallback").map(|v| v.as_str().map(String::from));
    let rate_limit_fallback = match rate_limit_fallback {
        None => None,
        Some(None) => return Err("x-rate-limit-fallback must be a class name".into()),
        Some(Some(_)) if !rate_limit_key.iter().any(|p| p == "session") => {
            return Err("x-rate-limit-fallback needs `session` in x-rate-limit-key".into());
        }
        Some(Some(class)) => Some(class),
    };
    let failure_limit: Option<FailureLimit> = match op.extensions.get("x-failure-limit") {
        None => None,
        Some(value) => Some(
            serde_json::from_value(value.clone())
                .map_err(|e| format!("x-failure-limit must be {{class, key, distinct}}: {e}"))?,
        ),
    };
    if let Some(limit) = &failure_limit {
        check_key(&limit.key, "x-failure-limit.key")?;
        if limit.distinct != "username" || !body_field("username") {
            return Err("x-failure-limit.distinct must be `username`, of a JSON body that has one".into());
        }
    }
    let field_roles: Vec<(String, Vec<String>)> = match op.extensions.get("x-field-roles") {
        None => Vec::new(),
        Some(value) => {
            let map: BTreeMap<String, Vec<String>> = serde_json::from_value(value.clone())
                .map_err(|_| "x-field-roles must map role names to lists of body fields")?;
            map.into_iter().collect()
        }
    };
    for (role, fields) in &field_roles {
        if !roles.contains(role) {
            return Err(format!("x-field-roles: {role:?} is not in x-roles"));
        }
        for field in fields {
            if !body_field(field) {
                return Err(format!("x-field-roles: the request body has no field {field:?}"));
            }
        }
    }
    Ok(Policy { schemes, roles, rate_limit, rate_limit_key, rate_limit_fallback, failure_limit, field_roles })
}

fn location_name(p: &Parameter) -> &'static str {
    match p {
        Parameter::Path { .. } => "path",
        Parameter::Query { .. } => "query",
        Parameter::Header { .. } => "header",
        Parameter::Cookie { .. } => "cookie",
    }
}

fn resolve_parameter(spec: &OpenAPI, p: &ReferenceOr<Parameter>) -> Result<Parameter, String> {
    match p {
        ReferenceOr::Item(p) => Ok(p.clone()),
        ReferenceOr::Reference { reference } => {
            let name = reference
                .strip_prefix("#/components/parameters/")
                .ok_or_else(|| format!("unsupported parameter $ref {reference}"))?;
            match spec.components.as_ref().and_then(|c| c.parameters.get(name)) {
                Some(ReferenceOr::Item(p)) => Ok(p.clone()),
                _ => Err(format!("parameter $ref {reference} names no parameter")),
            }
        }
    }
}

fn resolve_response<'a>(
    spec: &'a OpenAPI,
    r: &'a ReferenceOr<openapiv3::Response>,
) -> Result<&'a openapiv3::Response, String> {
    match r {
        ReferenceOr::Item(r) => Ok(r),
        ReferenceOr::Reference { reference } => {
            let name = reference
                .strip_prefix("#/components/responses/")
                .ok_or_else(|| format!("unsupported response $ref {reference}"))?;
            match spec.components.as_ref().and_then(|c| c.responses.get(name)) {
                Some(ReferenceOr::Item(r)) => Ok(r),
                _ => Err(format!("response $ref {reference} names no response")),
            }
        }
    }
}

fn read_param(
    document: &Value,
    types: &mut typify::TypeSpace,
    op_id: &str,
    p: &Parameter,
) -> Result<Param, String> {
    let location = match p {
        Parameter::Path { .. } => Location::Path,
        Parameter::Query { .. } => Location::Query,
        Parameter::Header { .. } => Location::Header,
        Parameter::Cookie { .. } => return Err("cookie parameters are not supported".into()),
    };
    let data = p.parameter_data_ref();
    let schema = match &data.format {
        ParameterSchemaOrContent::Schema(s) => json_of(s)?,
        ParameterSchemaOrContent::Content(_) => {
            return Err(format!("parameter {}: `content` parameters are not supported", data.name));
        }
    };
    let resolved = schema::resolve(&schema, document)?;
    let kind = Kind::of(resolved).ok_or_else(|| {
        format!("parameter {}: type {:?} is not supported", data.name, resolved.get("type"))
    })?;
    let default = resolved.get("default").cloned();
    // Progenitor names an inline parameter type `{operationId}-{name}`; so does the server, so
    // that both sides call a constrained parameter by the same type name.
    let ty = type_ident(types, &schema, format!("{op_id}-{}", data.name))?;
    let mut property = schema.clone();
    if let (Some(description), Value::Object(map)) = (&data.description, &mut property) {
        map.entry("description").or_insert_with(|| Value::String(description.clone()));
    }
    Ok(Param {
        name: data.name.clone(),
        location,
        required: data.required,
        description: data.description.clone(),
        ty,
        kind,
        default,
        schema: property,
    })
}

/// The members a `fields` parameter may name: the top-level properties of the success
/// response's schema or, for a page (an object whose `items` is an array), of its items' schema.
fn read_fields(spec: &OpenAPI, document: &Value, op: &openapiv3::Operation) -> Result<Fields, String> {
    const RULE: &str = "a `fields` parameter needs a JSON success response whose schema (or whose \
                        `items` array's item schema) is an object with properties";
    let response = op
        .responses
        .responses
        .iter()
        .find(|(code, _)| matches!(code, StatusCode::Code(200..=299)))
        .map(|(_, response)| resolve_response(spec, response))
        .transpose()?
        .ok_or(RULE)?;
    let schema = response
        .content
        .get("application/json")
        .and_then(|media| media.schema.as_ref())
        .map(json_of)
        .transpose()?
        .ok_or(RULE)?;
    let mut resource = schema::resolve(&schema, document)?;
    let items =
        resource.pointer("/properties/items").map(|items| schema::resolve(items, document)).transpose()?;
    let in_items = match items {
        // A page is an envelope of `items` without an `id`; a resource may have an `items`
        // member of its own (an order's lines), whose members are not the fieldset's.
        Some(items)
            if items.get("type").and_then(Value::as_str) == Some("array")
                && resource.pointer("/properties/id").is_none() =>
        {
            resource = schema::resolve(items.get("items").ok_or(RULE)?, document)?;
            true
        }
        _ => false,
    };
    let properties = resource.get("properties").and_then(Value::as_object).filter(|p| !p.is_empty());
    let mut members: Vec<String> = properties.ok_or(RULE)?.keys().cloned().collect();
    members.sort();
    Ok(Fields { members, in_items })
}

fn read_success(
    spec: &OpenAPI,
    types: &mut typify::TypeSpace,
    op_id: &str,
    status: u16,
    response: &openapiv3::Response,
) -> Result<Success, String> {
    // JSON alone is a typed body; JSON among other media types (a page that is HTML or JSON by
    // `Accept`) is bytes the handler writes in the negotiated type.
    let json_alone = response.content.len() == 1;
    let body = if let Some(media) = response.content.get("application/json").filter(|_| json_alone) {
        let schema = json_of(media.schema.as_ref().ok_or("response without a schema")?)?;
        SuccessBody::Json(type_ident(types, &schema, format!("{op_id}-response"))?)
    } else if response.content.is_empty() {
        SuccessBody::None
    } else {
        let mut media_types = Vec::new();
        for (media_type, media) in response.content.iter() {
            if media_type == "application/json" {
                media_types.push(media_type.clone());
                continue;
            }
            let binary = media_type.starts_with("image/")
                || media_type.starts_with("text/")
                || media_type == "application/octet-stream";
            let schema = media.schema.as_ref().map(json_of).transpose()?;
            let is_bytes =
                schema.as_ref().is_some_and(|s| s.get("format").and_then(Value::as_str) == Some("binary"));
            if !binary || !is_bytes {
                return Err(format!(
                    "success response media type {media_type:?}: only JSON, or bytes (`type: string, \
                     format: binary`) as image/*, text/* or application/octet-stream (with JSON too, \
                     negotiated by the handler)"
                ));
            }
            media_types.push(media_type.clone());
        }
        SuccessBody::Binary(media_types)
    };
    if status == 204 && !matches!(body, SuccessBody::None) {
        return Err("a 204 response has no body".into());
    }
    let mut headers = Vec::new();
    for (name, header) in response.headers.iter() {
        let header = match header {
            ReferenceOr::Item(h) => h.clone(),
            ReferenceOr::Reference { reference } => {
                let key = reference
                    .strip_prefix("#/components/headers/")
                    .ok_or_else(|| format!("unsupported header $ref {reference}"))?;
                match spec.components.as_ref().and_then(|c| c.headers.get(key)) {
                    Some(ReferenceOr::Item(h)) => h.clone(),
                    _ => return Err(format!("header $ref {reference} names no header")),
                }
            }
        };
        headers.push(ResponseHeader {
            name: name.clone(),
            required: header.required,
            description: header.description.clone().unwrap_or_default(),
        });
    }
    Ok(Success { status, body, headers })
}

/// `x-cache: {scope: public|private, max-age: N}` → the `Cache-Control` value.
fn cache_control(extension: Option<&Value>) -> Result<Option<String>, String> {
    let Some(extension) = extension else { return Ok(None) };
    let scope = extension.get("scope").and_then(Value::as_str).unwrap_or("private");
    if scope != "public" && scope != "private" {
        return Err(format!("x-cache.scope must be public or private, not {scope:?}"));
    }
    let max_age = extension
        .get("max-age")
        .and_then(Value::as_u64)
        .ok_or("x-cache.max-age must be a number of seconds")?;
    Ok(Some(format!("{scope}, max-age={max_age}")))
}

pub fn json_of<T: serde::Serialize>(value: &T) -> Result<Value, String> {
    serde_json::to_value(value).map_err(|e| e.to_string())
}

/// The Rust type typify gives `schema` (a component's type for a `$ref`).
fn type_ident(types: &mut typify::TypeSpace, schema: &Value, name: String) -> Result<TokenStream, String> {
    let converted = schema::for_typify(schema)?;
    let id = types
        .add_type_with_name(&converted, Some(name.to_pascal_case()))
        .map_err(|e| format!("typify: {e}"))?;
    Ok(types.get_type(&id).map_err(|e| format!("typify: {e}"))?.ident())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_the_names_in_braces() {
        assert_eq!(placeholders("/a/{id}/b/{photo_id}"), ["id", "photo_id"]);
        assert!(placeholders("/a/b").is_empty());
    }

    #[test]
    fn binary_media_types_are_octet_streams_and_images() {
        assert!(is_binary_media("application/octet-stream"));
        assert!(is_binary_media("image/png"));
        assert!(!is_binary_media("application/json"));
        assert!(!is_binary_media("text/plain"));
    }

    #[test]
    fn cache_control_reads_scope_and_max_age() {
        let value = serde_json::json!({"scope": "public", "max-age": 30});
        assert_eq!(cache_control(Some(&value)).unwrap().as_deref(), Some("public, max-age=30"));
        assert!(cache_control(Some(&serde_json::json!({"scope": "shared", "max-age": 1}))).is_err());
        assert!(cache_control(Some(&serde_json::json!({"scope": "public"}))).is_err());
        assert_eq!(cache_control(None).unwrap(), None);
    }
}
