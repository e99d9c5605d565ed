//! The server side of the generated code: types, the dropshot API trait, the `Handlers` trait
//! and the glue between them.
//!
//! For every operation of the spec this emits:
//!
//! * parameter structs (`ProductListQuery`, `ProductGetPath`, `ProductGetHeaders`) whose field
//!   types are typify's (so a parameter with constraints gets the same newtype the client has),
//!   with the JSON Schema the request extractors validate them against;
//! * the response type (`ProductGetReply`): body type, success status and the header names the
//!   spec declares, so that dropshot documents exactly those;
//! * a method of the `#[dropshot::api_description]` trait `StorefrontApi`, implemented by the
//!   generated `Glue<H>`, which admits the request against the operation's policies
//!   ([`OperationMeta`], from the spec's `x-` extensions) and then calls
//! * the method of the same name of `Handlers`, which `src/http` implements by hand. An
//!   operation added to the spec and not implemented there is a compile error (E0046).

use std::collections::BTreeMap;

use heck::{ToPascalCase, ToShoutySnakeCase, ToSnakeCase};
use openapiv3::{OpenAPI, Parameter, ParameterSchemaOrContent, ReferenceOr, StatusCode};
use proc_macro2::{Literal, TokenStream};
use quote::{format_ident, quote};
use serde_json::Value;

use super::schema;

/// The generated server files.
pub struct Server {
    pub types: TokenStream,
    pub server: TokenStream,
}

/// Where a parameter comes from.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Location {
    Path,
    Query,
    Header,
}

impl Location {
    fn suffix(self) -> &'static str {
        match self {
            Location::Path => "Path",
            Location::Query => "Query",
            Location::Header => "Headers",
        }
    }
}

/// How a parameter's text is read before validation.
enum Kind {
    Integer,
    Number,
    Boolean,
    String,
}

struct Param {
    name: String,
    location: Location,
    required: bool,
    description: Option<String>,
    ty: TokenStream,
    kind: Kind,
    default: Option<Value>,
    schema: Value,
}

struct Body {
    ty: TokenStream,
    type_name: String,
    schema: Value,
}

struct ResponseHeader {
    name: String,
    required: bool,
    description: String,
}

struct Success {
    status: u16,
    body: Option<TokenStream>,
    headers: Vec<ResponseHeader>,
}

struct Operation {
    id: String,
    method: String,
    path: String,
    tags: Vec<String>,
    doc: String,
    deprecated: bool,
    params: Vec<Param>,
    body: Option<Body>,
    success: Success,
    not_modified: bool,
    cache_control: Option<String>,
    policy: Policy,
}

/// Who may call an operation and how often, from `security`, `x-roles`, `x-rate-limit` and
/// `x-rate-limit-key`.
struct Policy {
    /// The security schemes that may authenticate the call; empty for a public operation.
    schemes: Vec<String>,
    roles: Vec<String>,
    /// The limit class; `None` for `x-rate-limit: none`.
    rate_limit: Option<String>,
    /// What the counter is keyed by: `caller`, `ip`, `username` (from the JSON body).
    rate_limit_key: Vec<String>,
    /// Roles narrowed to some fields of the request body (`x-field-roles`).
    field_roles: Vec<(String, Vec<String>)>,
}

pub fn generate(spec: &OpenAPI, document: &Value) -> Result<Server, String> {
    let mut settings = typify::TypeSpaceSettings::default();
    settings.with_type_mod("types").with_derive("schemars::JsonSchema".to_string());
    let mut types = typify::TypeSpace::new(&settings);
    let components = schema::components(document)
        .iter()
        .map(|(name, s)| Ok((name.clone(), schema::for_typify(s).map_err(|e| format!("{name}: {e}"))?)))
        .collect::<Result<Vec<_>, String>>()?;
    types.add_ref_types(components).map_err(|e| format!("typify: {e}"))?;

    let mut operations = Vec::new();
    for (path, item) in spec.paths.paths.iter() {
        let item = item.as_item().ok_or_else(|| format!("{path}: path $refs are not supported"))?;
        for (method, op) in item.iter() {
            let context = format!("{} {path}", method.to_uppercase());
            let operation = read_operation(spec, document, &mut types, path, method, op, &item.parameters)
                .map_err(|e| format!("{context}: {e}"))?;
            operations.push(operation);
        }
    }

    let server = emit(&operations, document)?;
    Ok(Server { types: types.to_stream(), server })
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

    // Path-level parameters, overridden by operation-level ones of the same name and location.
    let mut by_key: BTreeMap<(String, String), Parameter> = BTreeMap::new();
    let mut order = Vec::new();
    for p in path_level.iter().chain(op.parameters.iter()) {
        let p = resolve_parameter(spec, p)?;
        let data = p.parameter_data_ref();
        let key = (location_name(&p).to_string(), data.name.clone());
        if !by_key.contains_key(&key) {
            order.push(key.clone());
        }
        by_key.insert(key, p);
    }
    let mut params = Vec::new();
    for key in order {
        params.push(read_param(document, types, &id, &by_key[&key])?);
    }

    let mut body_schema_name = None;
    let body = match &op.request_body {
        None => None,
        Some(body) => {
            let body = match body {
                ReferenceOr::Item(body) => body,
                ReferenceOr::Reference { .. } => return Err("requestBody $refs are not supported".into()),
            };
            if !body.required {
                return Err("request bodies must be `required: true`".into());
            }
            let media = body
                .content
                .get("application/json")
                .ok_or("only application/json request bodies are supported")?;
            let schema = json_of(media.schema.as_ref().ok_or("request body without a schema")?)?;
            let type_name = schema
                .get("$ref")
                .and_then(Value::as_str)
                .and_then(|r| r.strip_prefix("#/components/schemas/"))
                .ok_or("a request body must be a $ref to a component schema")?
                .to_string();
            let ty = type_ident(types, &schema, format!("{id}-body"))?;
            body_schema_name = Some(type_name.clone());
            Some(Body { ty, type_name, schema: schema::validation_document(&schema, document)? })
        }
    };

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

    let mut doc = op.summary.clone().unwrap_or_default();
    if let Some(description) = &op.description {
        if !doc.is_empty() {
            doc.push_str("\n\n");
        }
        doc.push_str(description.trim_end());
    }

    Ok(Operation {
        id,
        method: method.to_uppercase(),
        path: path.to_string(),
        tags: op.tags.clone(),
        doc,
        deprecated: op.deprecated,
        params,
        body,
        success,
        not_modified,
        cache_control: cache_control(op.extensions.get("x-cache"))?,
        policy: read_policy(spec, document, op, body_schema_name.as_deref())?,
    })
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
    for part in &rate_limit_key {
        match part.as_str() {
            "caller" | "ip" => {}
            "username" => {
                let has_username = body_schema
                    .and_then(|name| {
                        document.pointer(&format!("/components/schemas/{name}/properties/username"))
                    })
                    .is_some();
                if !has_username {
                    return Err(
                        "x-rate-limit-key `username` needs a JSON body with a `username` property".into()
                    );
                }
            }
            other => return Err(format!("x-rate-limit-key: unknown part {other:?} (caller, ip, username)")),
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
            let declared = body_schema
                .and_then(|name| document.pointer(&format!("/components/schemas/{name}/properties/{field}")))
                .is_some();
            if !declared {
                return Err(format!("x-field-roles: the request body has no field {field:?}"));
            }
        }
    }
    Ok(Policy { schemes, roles, rate_limit, rate_limit_key, field_roles })
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
    let kind = match resolved.get("type").and_then(Value::as_str) {
        Some("integer") => Kind::Integer,
        Some("number") => Kind::Number,
        Some("boolean") => Kind::Boolean,
        Some("string") => Kind::String,
        other => return Err(format!("parameter {}: type {other:?} is not supported", data.name)),
    };
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

fn read_success(
    spec: &OpenAPI,
    types: &mut typify::TypeSpace,
    op_id: &str,
    status: u16,
    response: &openapiv3::Response,
) -> Result<Success, String> {
    let body = match response.content.get("application/json") {
        Some(media) => {
            let schema = json_of(media.schema.as_ref().ok_or("response without a schema")?)?;
            Some(type_ident(types, &schema, format!("{op_id}-response"))?)
        }
        None if response.content.is_empty() => None,
        None => return Err("a success response must be application/json or empty".into()),
    };
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

fn json_of<T: serde::Serialize>(value: &T) -> Result<Value, String> {
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

fn emit(operations: &[Operation], document: &Value) -> Result<TokenStream, String> {
    let mut items = Vec::new();
    let mut trait_methods = Vec::new();
    let mut handler_methods = Vec::new();
    let mut glue_methods = Vec::new();
    let mut metas = Vec::new();
    let mut meta_names = Vec::new();
    let mut meta_ids = Vec::new();
    let mut schemas = Vec::new();
    let mut bodies: BTreeMap<String, (TokenStream, String)> = BTreeMap::new();

    for op in operations {
        let pascal = op.id.to_pascal_case();
        let fn_name = format_ident!("{}", op.id);
        let meta_name = format_ident!("{}", op.id.to_shouty_snake_case());

        // Parameter structs, one per location.
        let mut extractor_args = Vec::new();
        let mut handler_args = Vec::new();
        let mut forward = Vec::new();
        for location in [Location::Path, Location::Query, Location::Header] {
            let params: Vec<&Param> = op.params.iter().filter(|p| p.location == location).collect();
            if params.is_empty() {
                continue;
            }
            let struct_name = format_ident!("{pascal}{}", location.suffix());
            let (item, schema_json) = param_struct(&struct_name, &op.id, &params, document)?;
            items.push(item);
            schemas.push((struct_name.to_string(), schema_json));
            let (arg, extractor) = match location {
                Location::Path => (format_ident!("path"), quote!(crate::http::extract::PathParams)),
                Location::Query => (format_ident!("query"), quote!(crate::http::extract::QueryParams)),
                Location::Header => (format_ident!("headers"), quote!(crate::http::extract::HeaderParams)),
            };
            extractor_args.push(quote!(#arg: #extractor<#struct_name>));
            handler_args.push(quote!(#arg: #struct_name));
            forward.push(quote!(#arg.into_inner()));
        }
        if let Some(body) = &op.body {
            let ty = &body.ty;
            extractor_args.push(quote!(body: crate::http::extract::JsonBody<#ty>));
            handler_args.push(quote!(body: #ty));
            forward.push(quote!(body.into_inner()));
            bodies.entry(body.type_name.clone()).or_insert_with(|| (ty.clone(), body.schema.to_string()));
        }

        // The reply type: body, status and the declared response headers.
        let headers_name = format_ident!("{pascal}ReplyHeaders");
        let reply_name = format_ident!("{pascal}Reply");
        let header_specs = op.success.headers.iter().map(|h| {
            let (name, required, description) = (&h.name, h.required, &h.description);
            quote!(crate::http::reply::HeaderSpec { name: #name, required: #required, description: #description })
        });
        let header_fields = op.success.headers.iter().map(|h| {
            let field = format_ident!("{}", h.name.to_snake_case());
            let (name, description) = (&h.name, &h.description);
            if h.required {
                quote! { #[doc = #description] #[serde(rename = #name)] pub #field: ::std::string::String }
            } else {
                quote! {
                    #[doc = #description]
                    #[serde(rename = #name, skip_serializing_if = "Option::is_none")]
                    pub #field: ::std::option::Option<::std::string::String>
                }
            }
        });
        let headers_doc = format!(
            "The headers `{}` declares for its {} response (documentation for dropshot; \
             handlers set them on the reply by name).",
            op.id, op.success.status
        );
        items.push(quote! {
            #[doc = #headers_doc]
            #[derive(::serde::Serialize, ::schemars::JsonSchema)]
            pub struct #headers_name { #(#header_fields),* }
            impl crate::http::reply::HeaderSet for #headers_name {
                const HEADERS: &'static [crate::http::reply::HeaderSpec] = &[#(#header_specs),*];
            }
        });
        let status = Literal::u16_unsuffixed(op.success.status);
        let reply_doc = format!("What `{}` answers on success ({}).", op.id, op.success.status);
        let reply = match &op.success.body {
            Some(body) => quote!(crate::http::reply::Reply<#body, #headers_name, #status>),
            None => quote!(crate::http::reply::NoContent<#headers_name, #status>),
        };
        items.push(quote! { #[doc = #reply_doc] pub type #reply_name = #reply; });

        // Operation metadata: what the glue enforces and the policy test walks.
        let (id, method, path) = (&op.id, &op.method, &op.path);
        let cache = match &op.cache_control {
            Some(value) => quote!(Some(#value)),
            None => quote!(None),
        };
        let deprecated = op.deprecated;
        let not_modified = op.not_modified;
        let status_u16 = op.success.status;
        let schemes = op.policy.schemes.iter().map(|scheme| match scheme.as_str() {
            "bearerAuth" => quote!(crate::http::policy::Scheme::Bearer),
            _ => quote!(crate::http::policy::Scheme::ApiKey),
        });
        let roles = op.policy.roles.iter().map(|role| {
            let variant = format_ident!("{}", role.to_pascal_case());
            quote!(types::Role::#variant)
        });
        let rate_limit = match &op.policy.rate_limit {
            Some(class) => quote!(Some(#class)),
            None => quote!(None),
        };
        let field_roles = op.policy.field_roles.iter().map(|(role, fields)| {
            let variant = format_ident!("{}", role.to_pascal_case());
            quote!((types::Role::#variant, &[#(#fields),*]))
        });
        let key_parts = op.policy.rate_limit_key.iter().map(|part| {
            let variant = format_ident!("{}", part.to_pascal_case());
            quote!(crate::http::policy::KeyPart::#variant)
        });
        metas.push(quote! {
            pub const #meta_name: crate::http::policy::OperationMeta = crate::http::policy::OperationMeta {
                id: #id,
                method: #method,
                path: #path,
                success_status: #status_u16,
                not_modified: #not_modified,
                cache_control: #cache,
                deprecated: #deprecated,
                schemes: &[#(#schemes),*],
                roles: &[#(#roles),*],
                rate_limit: #rate_limit,
                rate_limit_key: &[#(#key_parts),*],
                field_roles: &[#(#field_roles),*],
            };
        });
        meta_names.push(meta_name.clone());
        meta_ids.push(op.id.clone());

        // The dropshot trait method, its glue implementation and the handler method.
        let doc = &op.doc;
        let method_ident = format_ident!("{}", op.method);
        let tags = &op.tags;
        let deprecated_attr = op.deprecated.then(|| quote!(, deprecated = true));
        // Only `username` reaches into the body; build.rs checked that the body has one.
        let username = if op.policy.rate_limit_key.iter().any(|p| p == "username") {
            quote!(Some(body.username.as_str()))
        } else {
            quote!(None)
        };
        let field_check = (!op.policy.field_roles.is_empty()).then(|| {
            quote! { crate::http::policy::check_fields(&cx, &*body)?; }
        });
        trait_methods.push(quote! {
            #[doc = #doc]
            #[endpoint { method = #method_ident, path = #path, tags = [#(#tags),*] #deprecated_attr }]
            async fn #fn_name(
                rqctx: dropshot::RequestContext<Self::Context>,
                admission: crate::http::policy::Admission,
                #(#extractor_args),*
            ) -> Result<#reply_name, crate::error::ApiError>;
        });
        glue_methods.push(quote! {
            async fn #fn_name(
                rqctx: dropshot::RequestContext<Self::Context>,
                admission: crate::http::policy::Admission,
                #(#extractor_args),*
            ) -> Result<#reply_name, crate::error::ApiError> {
                let (cx, decoration) = crate::http::policy::enter(rqctx, admission, &operations::#meta_name, #username).await?;
                #field_check
                let log = cx.log.clone();
                match H::#fn_name(cx, #(#forward),*).await {
                    Ok(reply) => Ok(decoration.apply(reply)),
                    Err(error) => {
                        error.log_if_internal(&log);
                        Err(decoration.apply_error(error))
                    }
                }
            }
        });
        let handler_doc = format!("`{method} {path}`: {}", op.doc.lines().next().unwrap_or_default());
        handler_methods.push(quote! {
            #[doc = #handler_doc]
            fn #fn_name(
                cx: crate::http::Cx,
                #(#handler_args),*
            ) -> impl ::std::future::Future<Output = Result<#reply_name, crate::error::ApiError>> + Send;
        });
    }

    // Request body validators, once per body type.
    let body_impls: Vec<TokenStream> = bodies.iter().map(|(name, (ty, schema_json))| {
        schemas.push((name.clone(), schema_json.clone()));
        quote! {
            impl crate::http::extract::BodySchema for #ty {
                const NAME: &'static str = #name;
                const SCHEMA: &'static str = #schema_json;
                fn validator() -> &'static crate::http::validate::Validator {
                    static VALIDATOR: ::std::sync::OnceLock<crate::http::validate::Validator> = ::std::sync::OnceLock::new();
                    VALIDATOR.get_or_init(|| crate::http::validate::compiled(Self::NAME, Self::SCHEMA))
                }
            }
        }
    }).collect();
    let schema_entries = schemas.iter().map(|(name, json)| quote!((#name, #json)));
    let schema_count = schemas.len();

    Ok(quote! {
        use super::types;

        #(#items)*
        #(#body_impls)*

        /// Every JSON Schema the request extractors validate against, by type name; the server
        /// compiles them all at start so that a broken one stops it there, not on a request.
        pub const VALIDATION_SCHEMAS: [(&str, &str); #schema_count] = [#(#schema_entries),*];

        /// Per-operation metadata, from the spec: what the glue enforces before a handler runs.
        pub mod operations {
            #(#metas)*
            use super::types;
            /// Every operation of the spec, in the spec's order.
            pub const ALL: &[&crate::http::policy::OperationMeta] = &[#(&#meta_names),*];
            /// The operation with this `operationId` (looked up on every request).
            pub fn find(id: &str) -> Option<&'static crate::http::policy::OperationMeta> {
                match id {
                    #(#meta_ids => Some(&#meta_names),)*
                    _ => None,
                }
            }
        }

        /// The API as dropshot sees it: one endpoint per operation of the spec.
        #[dropshot::api_description]
        pub trait StorefrontApi {
            type Context;
            #(#trait_methods)*
        }

        /// What the server implements by hand (`src/http`): one method per operation of the spec,
        /// called by the generated glue after the operation's policies admitted the request.
        pub trait Handlers: Send + Sync + 'static {
            #(#handler_methods)*
        }

        /// Implements the dropshot trait for any `Handlers`: admit the request, then delegate.
        pub struct Glue<H>(::std::marker::PhantomData<fn() -> H>);

        impl<H: Handlers> StorefrontApi for Glue<H> {
            type Context = crate::http::ServerState;
            #(#glue_methods)*
        }
    })
}

/// A parameter struct and the JSON Schema its (text-coerced) values are validated against.
fn param_struct(
    name: &proc_macro2::Ident,
    op_id: &str,
    params: &[&Param],
    document: &Value,
) -> Result<(TokenStream, String), String> {
    let name_str = name.to_string();
    let defaults_mod = format_ident!("{}_defaults", name_str.to_snake_case());
    let mut fields = Vec::new();
    let mut specs = Vec::new();
    let mut defaults = Vec::new();
    let mut properties = serde_json::Map::new();
    let mut required = Vec::new();
    for p in params {
        let field = format_ident!("{}", p.name.to_snake_case());
        let wire = &p.name;
        let ty = &p.ty;
        let doc = p.description.clone().unwrap_or_default();
        let (field_ty, serde_attr) = match (&p.default, p.required) {
            (_, true) => (quote!(#ty), quote!(#[serde(rename = #wire)])),
            (Some(default), false) => {
                let default_fn = format_ident!("{}", p.name.to_snake_case());
                let json = default.to_string();
                defaults.push(quote! {
                    pub(super) fn #default_fn() -> #ty {
                        ::serde_json::from_str(#json)
                            .expect("typify checked the spec's default against the parameter's type")
                    }
                });
                let path = format!("{defaults_mod}::{default_fn}");
                (quote!(#ty), quote!(#[serde(rename = #wire, default = #path)]))
            }
            (None, false) => (
                quote!(::std::option::Option<#ty>),
                quote!(#[serde(rename = #wire, default, skip_serializing_if = "Option::is_none")]),
            ),
        };
        fields.push(quote! { #[doc = #doc] #serde_attr pub #field: #field_ty });
        let kind = match p.kind {
            Kind::Integer => quote!(Integer),
            Kind::Number => quote!(Number),
            Kind::Boolean => quote!(Boolean),
            Kind::String => quote!(String),
        };
        let default = match &p.default {
            Some(v) => {
                let text = v.to_string();
                quote!(Some(#text))
            }
            None => quote!(None),
        };
        specs.push(quote! {
            crate::http::extract::ParamSpec {
                name: #wire,
                kind: crate::http::extract::ParamKind::#kind,
                default: #default,
            }
        });
        properties.insert(p.name.clone(), p.schema.clone());
        if p.required {
            required.push(Value::String(p.name.clone()));
        }
    }
    let mut object = serde_json::json!({ "type": "object", "properties": properties });
    if !required.is_empty() {
        object["required"] = Value::Array(required);
    }
    let schema_json = schema::validation_document(&object, document)?.to_string();
    let defaults_mod = (!defaults.is_empty()).then(|| {
        quote! {
            mod #defaults_mod {
                #[allow(unused_imports)]
                use super::types;
                #(#defaults)*
            }
        }
    });
    let what = name_str.trim_start_matches(&op_id.to_pascal_case()).to_lowercase();
    let doc = format!("The {what} parameters of `{op_id}`.");
    let item = quote! {
        #[doc = #doc]
        #[derive(
            ::std::fmt::Debug, ::std::clone::Clone, ::serde::Deserialize, ::serde::Serialize,
            ::schemars::JsonSchema
        )]
        pub struct #name { #(#fields),* }
        #defaults_mod
        impl crate::http::extract::ParamSet for #name {
            const NAME: &'static str = #name_str;
            const PARAMS: &'static [crate::http::extract::ParamSpec] = &[#(#specs),*];
            const SCHEMA: &'static str = #schema_json;
            fn validator() -> &'static crate::http::validate::Validator {
                static VALIDATOR: ::std::sync::OnceLock<crate::http::validate::Validator> =
                    ::std::sync::OnceLock::new();
                VALIDATOR.get_or_init(|| crate::http::validate::compiled(Self::NAME, Self::SCHEMA))
            }
        }
    };
    Ok((item, schema_json))
}
