//! The server side of the generated code, from the [`model`](crate::model) of the spec.
//!
//! For every operation this emits:
//!
//! * parameter structs (`ProductListQuery`, `ProductGetPath`, `ProductGetHeaders`) whose field
//!   types are typify's (a constrained parameter gets the same newtype the client has), with
//!   the name of the JSON Schema the request extractors validate them against;
//! * the reply type (`ProductGetReply`): body type, success status and the response headers the
//!   spec declares, so that dropshot documents exactly those;
//! * its metadata ([`OperationMeta`]: the policies of `security`, `x-roles`, `x-rate-limit`,
//!   `x-field-roles`, `x-cache`, deprecation), which the glue enforces;
//! * a method of the `#[dropshot::api_description]` trait `StorefrontApi`, implemented by the
//!   generated `Glue<H>`: admit the request against the metadata, then call
//! * the method of the same name of the operation's tag trait (`ProductsHandlers`), which
//!   `src/http/<tag>.rs` implements. An operation added to the spec and not implemented there
//!   is a compile error (E0046); a new tag is an unsatisfied trait bound.
//!
//! [`OperationMeta`]: ../../src/http/policy.rs

use std::collections::BTreeMap;

use heck::{ToPascalCase, ToShoutySnakeCase, ToSnakeCase};
use proc_macro2::{Literal, TokenStream};
use quote::{format_ident, quote};
use serde_json::Value;

use crate::model::{Body, Kind, Location, Operation, Param, SuccessBody};
use crate::schema;

/// The server file, and the validation schemas by name (written to their own file).
pub struct Server {
    pub code: TokenStream,
    pub schemas: BTreeMap<String, Value>,
}

/// The name of the handler trait of a tag: `api-keys` → `ApiKeysHandlers`.
pub fn tag_trait(tag: &str) -> proc_macro2::Ident {
    format_ident!("{}Handlers", tag.to_pascal_case())
}

pub fn emit(operations: &[Operation], document: &Value) -> Result<Server, String> {
    let mut items = Vec::new();
    let mut schemas = BTreeMap::new();
    let mut body_types: BTreeMap<String, TokenStream> = BTreeMap::new();
    let mut metas = Vec::new();
    let mut trait_methods = Vec::new();
    let mut glue_methods = Vec::new();
    let mut tag_methods: BTreeMap<String, Vec<TokenStream>> = BTreeMap::new();

    for op in operations {
        let mut args = Arguments::default();
        for location in [Location::Path, Location::Query, Location::Header] {
            let params = op.params_at(location);
            if params.is_empty() {
                continue;
            }
            let name = format_ident!("{}{}", op.pascal(), location.suffix());
            let what = format!("{} parameters", location.suffix().to_lowercase());
            let (item, schema) = param_struct(op, &name, &what, &params, document)?;
            schemas.insert(name.to_string(), schema);
            items.push(item);
            args.params(location, &name);
        }
        if let Some(key) = op.idempotency_key() {
            // Its own extractor: the glue reads it, the handler never sees it.
            let name = format_ident!("{}Idempotency", op.pascal());
            let (item, schema) = param_struct(op, &name, "`Idempotency-Key` header", &[key], document)?;
            schemas.insert(name.to_string(), schema);
            items.push(item);
            args.idempotency(&name);
        }
        if let Some(body) = &op.body {
            args.body(body);
            if let Some(json) = body.json() {
                body_types.entry(json.type_name.clone()).or_insert_with(|| json.ty.clone());
                schemas.entry(json.type_name.clone()).or_insert_with(|| json.schema.clone());
            }
        }
        items.push(reply_type(op));
        metas.push(meta(op));
        trait_methods.push(trait_method(op, &args));
        glue_methods.push(glue_method(op, &args));
        tag_methods.entry(op.tag.clone()).or_default().push(handler_method(op, &args));
    }

    let body_impls = body_types.iter().map(|(name, ty)| {
        quote! {
            impl crate::http::extract::BodySchema for #ty {
                const NAME: &'static str = #name;
                fn validator() -> &'static crate::validate::Validator {
                    static VALIDATOR: ::std::sync::OnceLock<&'static crate::validate::Validator> =
                        ::std::sync::OnceLock::new();
                    VALIDATOR.get_or_init(|| crate::validate::validator(Self::NAME))
                }
            }
        }
    });
    let meta_names: Vec<_> =
        operations.iter().map(|op| format_ident!("{}", op.id.to_shouty_snake_case())).collect();
    let meta_ids = operations.iter().map(|op| &op.id);
    let tag_traits = tag_methods.iter().map(|(tag, methods)| {
        let name = tag_trait(tag);
        let doc = format!("The operations tagged `{tag}`, implemented by hand in `src/http`.");
        quote! {
            #[doc = #doc]
            pub trait #name: Send + Sync + 'static {
                #(#methods)*
            }
        }
    });
    let bounds = tag_methods.keys().map(|tag| tag_trait(tag));

    let version =
        document.pointer("/info/version").and_then(Value::as_str).ok_or("the spec has no info.version")?;
    let code = quote! {
        use super::types;

        /// The version of the spec (`info.version`).
        pub const API_VERSION: &str = #version;

        #(#items)*
        #(#body_impls)*

        /// Per-operation metadata, from the spec: what the glue enforces before a handler runs.
        pub mod operations {
            use super::types;
            #(#metas)*
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

        #(#tag_traits)*

        /// Implements the dropshot trait for a server that implements every tag's trait: admit
        /// the request against the operation's policies, then call its handler.
        pub struct Glue<H>(::std::marker::PhantomData<fn() -> H>);

        impl<H: #(#bounds)+*> StorefrontApi for Glue<H> {
            type Context = crate::http::ServerState;
            #(#glue_methods)*
        }
    };
    Ok(Server { code, schemas })
}

/// The extractor arguments of an operation's endpoint and the matching handler arguments.
#[derive(Default)]
struct Arguments {
    /// `path: crate::http::extract::PathParams<ProductGetPath>`
    extractors: Vec<TokenStream>,
    /// `path: ProductGetPath`
    handler: Vec<TokenStream>,
    /// `path.into_inner()`
    forward: Vec<TokenStream>,
    /// The `Idempotency-Key` header's extractor, when the operation declares it.
    idempotency: Option<TokenStream>,
}

impl Arguments {
    fn params(&mut self, location: Location, name: &proc_macro2::Ident) {
        let (arg, extractor) = match location {
            Location::Path => (format_ident!("path"), quote!(crate::http::extract::PathParams)),
            Location::Query => (format_ident!("query"), quote!(crate::http::extract::QueryParams)),
            Location::Header => (format_ident!("headers"), quote!(crate::http::extract::HeaderParams)),
        };
        self.extractors.push(quote!(#arg: #extractor<#name>));
        self.handler.push(quote!(#arg: #name));
        self.forward.push(quote!(#arg.into_inner()));
    }

    fn idempotency(&mut self, name: &proc_macro2::Ident) {
        self.extractors.push(quote!(idempotency: crate::http::extract::HeaderParams<#name>));
        self.idempotency = Some(quote!(idempotency.into_inner().idempotency_key));
    }

    fn body(&mut self, body: &Body) {
        let (extractor, handler) = match body {
            Body::Json(json) => {
                let ty = &json.ty;
                (quote!(crate::http::extract::JsonBody<#ty>), quote!(#ty))
            }
            Body::Binary { .. } => {
                (quote!(crate::http::extract::BinaryBody), quote!(crate::http::extract::Upload))
            }
            Body::JsonOrForm { json, .. } => {
                let ty = &json.ty;
                (quote!(crate::http::extract::JsonOrForm<#ty>), quote!(crate::http::extract::Form<#ty>))
            }
        };
        self.extractors.push(quote!(body: #extractor));
        self.handler.push(quote!(body: #handler));
        self.forward.push(quote!(body.into_inner()));
    }
}

/// The reply type: body, status and the declared response headers.
fn reply_type(op: &Operation) -> TokenStream {
    let pascal = op.pascal();
    let headers_name = format_ident!("{pascal}ReplyHeaders");
    let reply_name = format_ident!("{pascal}Reply");
    let specs = op.success.headers.iter().map(|h| {
        let (name, required, description) = (&h.name, h.required, &h.description);
        quote!(crate::http::reply::HeaderSpec { name: #name, required: #required, description: #description })
    });
    let fields = op.success.headers.iter().map(|h| {
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
        "The headers `{}` declares for its {} response (they document it for dropshot; replies \
         set them by name).",
        op.id, op.success.status
    );
    let status = Literal::u16_unsuffixed(op.success.status);
    let reply = match &op.success.body {
        SuccessBody::Json(body) => quote!(crate::http::reply::Reply<#body, #headers_name, #status>),
        SuccessBody::None => quote!(crate::http::reply::NoContent<#headers_name, #status>),
        SuccessBody::Binary(_) => quote!(crate::http::reply::BinaryReply<#headers_name, #status>),
    };
    let reply_doc = format!("What `{}` answers on success ({}).", op.id, op.success.status);
    quote! {
        #[doc = #headers_doc]
        #[derive(::serde::Serialize, ::schemars::JsonSchema)]
        pub struct #headers_name { #(#fields),* }
        impl crate::http::reply::HeaderSet for #headers_name {
            const HEADERS: &'static [crate::http::reply::HeaderSpec] = &[#(#specs),*];
        }
        #[doc = #reply_doc]
        pub type #reply_name = #reply;
    }
}

fn option<T: quote::ToTokens>(value: Option<T>) -> TokenStream {
    match value {
        Some(value) => quote!(Some(#value)),
        None => quote!(None),
    }
}

/// The operation's metadata constant.
fn meta(op: &Operation) -> TokenStream {
    let name = format_ident!("{}", op.id.to_shouty_snake_case());
    let (id, method, path, tag) = (&op.id, &op.method, &op.path, &op.tag);
    let success_status = op.success.status;
    let not_modified = op.not_modified;
    let cache_control = option(op.cache_control.as_ref());
    let schemes = op.policy.schemes.iter().map(|scheme| match scheme.as_str() {
        "bearerAuth" => quote!(crate::http::policy::Scheme::Bearer),
        _ => quote!(crate::http::policy::Scheme::ApiKey),
    });
    let roles = op.policy.roles.iter().map(|role| {
        let variant = format_ident!("{}", role.to_pascal_case());
        quote!(types::Role::#variant)
    });
    let rate_limit = option(op.policy.rate_limit.as_ref());
    let key_part = |part: &String| {
        let variant = format_ident!("{}", part.to_pascal_case());
        quote!(crate::http::policy::KeyPart::#variant)
    };
    let key_parts = op.policy.rate_limit_key.iter().map(key_part);
    let rate_limit_fallback = option(op.policy.rate_limit_fallback.as_ref());
    let failure_limit = option(op.policy.failure_limit.as_ref().map(|limit| {
        let class = &limit.class;
        let parts = limit.key.iter().map(key_part);
        quote!(crate::http::policy::FailureLimit { class: #class, key: &[#(#parts),*] })
    }));
    let field_roles = op.policy.field_roles.iter().map(|(role, fields)| {
        let variant = format_ident!("{}", role.to_pascal_case());
        quote!((types::Role::#variant, &[#(#fields),*]))
    });
    let deprecation = option(op.deprecation.as_ref().map(|d| {
        let since = d.since.format("%Y-%m-%d").to_string();
        let sunset = d.sunset.format("%Y-%m-%d").to_string();
        let successor = &d.successor;
        quote!(crate::http::policy::Deprecation { since: #since, sunset: #sunset, successor: #successor })
    }));
    let (media_types, files) = match &op.body {
        Some(Body::Binary { media_types }) => (media_types.clone(), Vec::new()),
        Some(Body::JsonOrForm { files, .. }) => {
            (vec!["application/json".into(), "multipart/form-data".into()], files.iter().collect())
        }
        Some(Body::Json(_)) => (vec!["application/json".into()], Vec::new()),
        None => (Vec::new(), Vec::new()),
    };
    let files = files.iter().map(|f| {
        let (name, required, types) = (&f.name, f.required, &f.media_types);
        quote!(crate::http::policy::FilePart { name: #name, required: #required, media_types: &[#(#types),*] })
    });
    let response_media = match &op.success.body {
        SuccessBody::Binary(types) => types.clone(),
        SuccessBody::Json(_) => vec!["application/json".into()],
        SuccessBody::None => Vec::new(),
    };
    let max_body_bytes = option(op.max_body_bytes.map(Literal::u64_unsuffixed));
    let fields = option(op.fields.as_ref().map(|f| {
        let (members, in_items) = (&f.members, f.in_items);
        quote!(crate::http::fields::Members { names: &[#(#members),*], in_items: #in_items })
    }));
    let idempotent = op.idempotent;
    let doc = format!("`{} {}` (`{}`).", op.method, op.path, op.id);
    quote! {
        #[doc = #doc]
        pub const #name: crate::http::policy::OperationMeta = crate::http::policy::OperationMeta {
            id: #id,
            method: #method,
            path: #path,
            tag: #tag,
            success_status: #success_status,
            not_modified: #not_modified,
            cache_control: #cache_control,
            deprecation: #deprecation,
            schemes: &[#(#schemes),*],
            roles: &[#(#roles),*],
            rate_limit: #rate_limit,
            rate_limit_key: &[#(#key_parts),*],
            rate_limit_fallback: #rate_limit_fallback,
            failure_limit: #failure_limit,
            field_roles: &[#(#field_roles),*],
            request_media_types: &[#(#media_types),*],
            file_parts: &[#(#files),*],
            response_media_types: &[#(#response_media),*],
            max_body_bytes: #max_body_bytes,
            fields: #fields,
            idempotent: #idempotent,
        };
    }
}

/// The method of the dropshot trait.
fn trait_method(op: &Operation, args: &Arguments) -> TokenStream {
    let fn_name = format_ident!("{}", op.id);
    let reply = format_ident!("{}Reply", op.pascal());
    let doc = &op.doc;
    let method = format_ident!("{}", op.method);
    let path = &op.path;
    let tag = &op.tag;
    let deprecated = op.deprecation.is_some().then(|| quote!(, deprecated = true));
    let limit = op.max_body_bytes.map(|n| {
        let n = Literal::u64_unsuffixed(n);
        quote!(, request_body_max_bytes = #n)
    });
    // A raw body's media types are not given to dropshot: its `endpoint` macro accepts only
    // JSON, URL-encoded and multipart content types (an `application/octet-stream` here fails to
    // compile). The extractor checks the spec's own list (`request_media_types`).
    let content_type: Option<TokenStream> = None;
    let extractors = &args.extractors;
    quote! {
        #[doc = #doc]
        #[endpoint { method = #method, path = #path, tags = [#tag] #deprecated #limit #content_type }]
        async fn #fn_name(
            rqctx: dropshot::RequestContext<Self::Context>,
            admission: crate::http::policy::Admission,
            #(#extractors),*
        ) -> Result<#reply, crate::error::ApiError>;
    }
}

/// The glue: admit, check the body's fields, call the handler, finish the answer.
fn glue_method(op: &Operation, args: &Arguments) -> TokenStream {
    let fn_name = format_ident!("{}", op.id);
    let reply = format_ident!("{}Reply", op.pascal());
    let meta = format_ident!("{}", op.id.to_shouty_snake_case());
    let trait_name = tag_trait(&op.tag);
    let extractors = &args.extractors;
    let forward = &args.forward;
    // Only `username` and `refresh_token` reach into the body; the model checked that it has them.
    let parts: Vec<&String> = op
        .policy
        .rate_limit_key
        .iter()
        .chain(op.policy.failure_limit.iter().flat_map(|limit| limit.key.iter()))
        .collect();
    let failure = op.policy.failure_limit.is_some();
    let username = if failure || parts.iter().any(|p| *p == "username") {
        quote!(Some(body.username.as_str()))
    } else {
        quote!(None)
    };
    let refresh_token = if parts.iter().any(|p| *p == "session") {
        quote!(Some(body.refresh_token.as_str()))
    } else {
        quote!(None)
    };
    let call = if failure {
        quote! {
            let failures = cx.failures.clone();
            let result = <H as #trait_name>::#fn_name(cx, #(#forward),*).await;
            crate::http::policy::count_failure(failures, &result).await;
            result
        }
    } else {
        quote!(<H as #trait_name>::#fn_name(cx, #(#forward),*).await)
    };
    let field_check = (!op.policy.field_roles.is_empty()).then(|| {
        quote! { crate::http::policy::check_fields(&cx, &*body)?; }
    });
    // Sparse fieldsets are the glue's: the handler serves the whole resource, the reply sends
    // the members asked for.
    let fieldset = op.fields.is_some().then(|| {
        quote! { crate::http::fields::select(&operations::#meta, &query.fields)?; }
    });
    // Last before the handler: a key is claimed only for a request that will run.
    let idempotency = args.idempotency.as_ref().map(|key| {
        let body = if op.body.is_some() { quote!(&body) } else { quote!(&()) };
        quote! { crate::http::idempotency::claim(&cx, #key.as_deref(), #body).await?; }
    });
    quote! {
        async fn #fn_name(
            rqctx: dropshot::RequestContext<Self::Context>,
            admission: crate::http::policy::Admission,
            #(#extractors),*
        ) -> Result<#reply, crate::error::ApiError> {
            crate::http::policy::finish(&operations::#meta, async move {
                let keys = crate::http::policy::BodyKeys { username: #username, refresh_token: #refresh_token };
                let cx = crate::http::policy::enter(rqctx, admission, &operations::#meta, keys).await?;
                #field_check
                #fieldset
                #idempotency
                #call
            })
            .await
        }
    }
}

/// The method of the tag's handler trait.
fn handler_method(op: &Operation, args: &Arguments) -> TokenStream {
    let fn_name = format_ident!("{}", op.id);
    let reply = format_ident!("{}Reply", op.pascal());
    let doc = format!("`{} {}`: {}", op.method, op.path, op.doc.lines().next().unwrap_or_default());
    let handler_args = &args.handler;
    quote! {
        #[doc = #doc]
        fn #fn_name(
            cx: crate::http::Cx,
            #(#handler_args),*
        ) -> impl ::std::future::Future<Output = Result<#reply, crate::error::ApiError>> + Send;
    }
}

/// A parameter struct and the JSON Schema its (text-coerced) values are validated against.
fn param_struct(
    op: &Operation,
    name: &proc_macro2::Ident,
    what: &str,
    params: &[&Param],
    document: &Value,
) -> Result<(TokenStream, Value), String> {
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
        let default = option(p.default.as_ref().map(|v| v.to_string()));
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
    let schema = schema::validation_document(&object, document)?;
    let defaults_mod = (!defaults.is_empty()).then(|| {
        quote! {
            mod #defaults_mod {
                #[allow(unused_imports)]
                use super::types;
                #(#defaults)*
            }
        }
    });
    let doc = format!("The {what} of `{}`.", op.id);
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
            fn validator() -> &'static crate::validate::Validator {
                static VALIDATOR: ::std::sync::OnceLock<&'static crate::validate::Validator> =
                    ::std::sync::OnceLock::new();
                VALIDATOR.get_or_init(|| crate::validate::validator(Self::NAME))
            }
            fn absent() -> &'static ::std::sync::OnceLock<::std::option::Option<Self>> {
                static ABSENT: ::std::sync::OnceLock<::std::option::Option<#name>> =
                    ::std::sync::OnceLock::new();
                &ABSENT
            }
        }
    };
    Ok((item, schema))
}
