//! Entry points for the fuzz targets (`fuzz/`, cargo-fuzz): thin wrappers over the code that
//! reads untrusted bytes, so that the targets run the server's own parsers without making them
//! part of the crate's API. Not for any other use: nothing here is stable.
//!
//! Every wrapper answers as the server would: `Ok`, or the [`ApiError`] the client would get.
//! What a fuzz target asserts of an error is that it is a client error (4xx), never a 500.

use std::time::Duration;

use http::HeaderValue;

use crate::api::server::operations;
use crate::auth::{AccessClaims, TokenKeys};
use crate::clock::Clock;
use crate::domain::{Product, Start};
use crate::error::ApiError;
use crate::http::catalog;
use crate::http::extract::{self, BodySchema, Form, ParamSet};
use crate::http::fields::Fieldset;
use crate::http::page::{self, Direction};

pub use crate::domain::KeyValue;
pub use crate::http::catalog::ProductListPlan;
pub use crate::http::page::Position;

/// The product list's `sort` keys, as the spec's `ProductSort` lists them (a unit test checks).
pub const PRODUCT_SORTS: [&str; 10] = [
    "id",
    "-id",
    "name",
    "-name",
    "price",
    "-price",
    "created_at",
    "-created_at",
    "updated_at",
    "-updated_at",
];

/// A query string (without `?`) read as the parameter set `T` (`ProductListQuery`…).
pub fn query<T: ParamSet>(query: &str) -> Result<T, ApiError> {
    extract::parse_query::<T>(query)
}

/// The start of the page a cursor names, for a list whose queries have `fingerprint`.
pub fn cursor(cursor: &str, fingerprint: &str) -> Result<Start<Position>, ApiError> {
    page::start(None, Some(cursor), fingerprint)
}

/// A cursor as a list issues it (`before`: a `prev_cursor`).
pub fn encode_cursor(before: bool, position: Position, fingerprint: &str) -> String {
    let direction = if before { Direction::Before } else { Direction::After };
    page::encode(direction, position, fingerprint).map(|c| c.to_string()).unwrap_or_default()
}

/// What the product list reads from a query string before it asks the store: the sort, the
/// filters and the start of the page (the `sort` parser and the cursor, checked against it).
pub fn product_list(query_string: &str) -> Result<ProductListPlan, ApiError> {
    catalog::product_list_plan(&query::<crate::api::server::ProductListQuery>(query_string)?)
}

/// The cursor the product list that `query_string` asks for issues next to a product (`before`:
/// the `prev_cursor` of a page starting with it); the product's name is keyed as the store keys
/// it.
pub fn product_cursor(query_string: &str, product: &FuzzProduct, before: bool) -> Result<String, ApiError> {
    let plan = product_list(query_string)?;
    let row = Product {
        id: product.id,
        name: product.name.clone(),
        name_key: crate::names::key(&product.name),
        description: String::new(),
        price_cents: product.price_cents,
        stock: 0,
        category_id: 1,
        version: 1,
        created_at: product.created_at,
        updated_at: product.updated_at,
        tags: Vec::new(),
    };
    Ok(encode_cursor(before, catalog::product_position(plan.sort, &row), &plan.fingerprint))
}

/// The columns of a product that its cursors carry.
#[derive(Debug, Clone)]
pub struct FuzzProduct {
    pub id: i64,
    pub name: String,
    pub price_cents: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

/// Whether the server accepts `name` as a product name (the spec's length, and
/// [`crate::names::checked`]), stored as it is returned.
pub fn product_name(name: &str) -> Option<String> {
    let count = name.chars().count();
    (1..=150).contains(&count).then(|| crate::names::checked("name", name).ok()).flatten()
}

/// `fields` checked against the members of every operation that takes it; each fieldset is
/// applied to a body made of all the members, which must keep exactly the members named.
pub fn fields(text: &str) -> Result<(), ApiError> {
    for op in operations::ALL {
        let Some(members) = &op.fields else { continue };
        let fieldset = Fieldset::parse(members, text)?;
        let resource: serde_json::Map<String, serde_json::Value> =
            members.names.iter().map(|name| (name.to_string(), serde_json::Value::Null)).collect();
        let mut body = if members.in_items {
            serde_json::json!({"items": [resource], "total": 1})
        } else {
            serde_json::Value::Object(resource)
        };
        fieldset.apply(&mut body);
        let kept = if members.in_items { &body["items"][0] } else { &body };
        let named: Vec<&str> = text.split(',').collect();
        let kept = kept.as_object().map(|o| o.keys().cloned().collect::<Vec<_>>()).unwrap_or_default();
        assert!(kept.iter().all(|k| named.contains(&k.as_str())), "{text:?} kept {kept:?}");
        assert!(named.iter().all(|n| kept.iter().any(|k| k == n)), "{text:?} kept {kept:?}");
        assert!(fieldset.etag("\"1-a\"").starts_with("\"1-a;fields="));
    }
    Ok(())
}

/// The secret of [`token_keys`].
const SECRET: &[u8] = b"fuzzing-secret-fuzzing-secret-32";

/// Token keys with a fixed secret, a 15-minute lifetime and a clock stopped at `now` (seconds).
pub fn token_keys(now: i64) -> TokenKeys {
    let at = chrono::DateTime::from_timestamp(now, 0).unwrap_or_default();
    TokenKeys::new(SECRET, Duration::from_secs(900), Duration::from_secs(3600), Clock::manual(at))
}

/// An `Authorization` header as the server reads it: `Bearer <token>`, the token verified with
/// `keys`. A refusal is the server's 401.
pub fn bearer(keys: &TokenKeys, authorization: &HeaderValue) -> Result<AccessClaims, ApiError> {
    let token = crate::http::auth::bearer_token(authorization)?;
    keys.verify_access(token)
        .map_err(|_| ApiError::unauthorized(true, "the access token is invalid or expired"))
}

/// A JSON request body read and validated as `T`, as the `JsonBody` extractor does.
pub fn json_body<T: BodySchema>(bytes: &[u8]) -> Result<T, ApiError> {
    extract::json_value::<T>(bytes)
}

/// A product body as `POST /api/v1/products` reads it: validated, then its money parsed.
pub fn product_input(bytes: &[u8]) -> Result<(), ApiError> {
    catalog::new_product(json_body(bytes)?).map(|_| ())
}

/// A customer-create body (JSON or `multipart/form-data`, per `content_type`) as
/// `POST /api/v1/customers` reads it, up to `limit` bytes; its `photo` part, when there is one,
/// inspected as the application does.
pub fn customer_form(content_type: &HeaderValue, body: Vec<u8>, limit: usize) -> Result<(), ApiError> {
    let form: Form<crate::api::types::CustomerInput> = futures::executor::block_on(extract::form_of(
        Some(content_type),
        dropshot::Body::with_content(body),
        limit,
        operations::CUSTOMER_CREATE.file_parts,
    ))?;
    if let Some(photo) = form.files.get("photo") {
        crate::photos::inspect(&photo.bytes)?;
    }
    Ok(())
}

/// Photo bytes as the application inspects them before storing them (413, 415).
pub fn photo(bytes: &[u8]) -> Result<(), ApiError> {
    crate::photos::inspect(bytes).map(|_| ()).map_err(ApiError::from)
}

/// The value of an answer; `None` for a client error (4xx). Panics on any other status: input
/// a client sends must never be a server error.
pub fn client_error<T>(result: Result<T, ApiError>) -> Option<T> {
    match result {
        Ok(value) => Some(value),
        Err(e) if (400..500).contains(&e.status()) => None,
        Err(e) => panic!("a server error ({}) for client input: {:?}", e.status(), e.problem()),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn product_sorts_are_the_specs() {
        let spec: serde_json::Value = serde_json::from_str(crate::api::OPENAPI_JSON).unwrap();
        let listed: Vec<&str> = spec["components"]["schemas"]["ProductSort"]["enum"]
            .as_array()
            .expect("ProductSort is an enum")
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        assert_eq!(listed, super::PRODUCT_SORTS);
    }
}
