//! The hot paths of a request, each alone: `cargo bench --bench hot_paths` (criterion; the
//! report is in target/criterion). Whole requests are measured by bench/run.sh and
//! bench/instructions.sh; these say which part a change moved.
//!
//! - the JSON of a product and of a page of 20, as the server writes them;
//! - an ETag: a product's (from its version) and a page's (a digest of its body);
//! - an access token's check, the first time and once remembered;
//! - a cursor, written and read back;
//! - a product body, validated against the spec and its money parsed, as a POST reads it.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use storefront::api::types;
use storefront::fuzzing;
use storefront::http::conditional;

fn product_json(id: u64) -> serde_json::Value {
    serde_json::json!({
        "id": id,
        "name": format!("Tata Tea Premium {id}"),
        "description": "Premium black tea, 1 kg: strong, with a bright colour",
        "price": "520.50",
        "stock": 150,
        "category_id": 3,
        "tags": ["black", "india", "tea"],
        "created_at": "2026-11-30T08:01:02.123456Z",
        "updated_at": "2026-11-30T09:10:11.654321Z"
    })
}

fn product() -> types::Product {
    serde_json::from_value(product_json(42)).expect("a product")
}

fn page() -> types::ProductPage {
    let next = fuzzing::encode_cursor(false, fuzzing::Position { key: None, id: 20 }, "0123456789abcdef");
    serde_json::from_value(serde_json::json!({
        "items": (1..=20).map(product_json).collect::<Vec<_>>(),
        "next_cursor": next,
        "links": {
            "first": "/api/v1/products?limit=20",
            "self": "/api/v1/products?limit=20",
            "next": format!("/api/v1/products?limit=20&cursor={next}")
        }
    }))
    .expect("a page")
}

fn json(c: &mut Criterion) {
    let product = product();
    c.bench_function("json/product", |b| b.iter(|| serde_json::to_vec(black_box(&product)).unwrap()));
    let page = page();
    c.bench_function("json/page of 20", |b| b.iter(|| serde_json::to_vec(black_box(&page)).unwrap()));
}

fn etags(c: &mut Criterion) {
    let version = storefront::domain::Version { version: 7, created_at: 1_764_489_600_123_456 };
    c.bench_function("etag/product (version)", |b| b.iter(|| conditional::entity_etag(black_box(version))));
    let body = serde_json::to_vec(&page()).unwrap();
    c.bench_function("etag/page (digest of the body)", |b| b.iter(|| conditional::digest(black_box(&body))));
}

fn tokens(c: &mut Criterion) {
    let now = 1_764_489_600;
    let keys = fuzzing::token_keys(now);
    let header = |token: String| http::HeaderValue::from_str(&format!("Bearer {token}")).unwrap();
    let mut user = 0;
    c.bench_function("token/first check", |b| {
        b.iter_batched(
            || {
                user += 1;
                header(keys.issue_access(user, "login").unwrap())
            },
            |authorization| fuzzing::bearer(&keys, &authorization).unwrap(),
            BatchSize::SmallInput,
        )
    });
    let remembered = header(keys.issue_access(1, "login").unwrap());
    c.bench_function("token/remembered", |b| {
        b.iter(|| fuzzing::bearer(&keys, black_box(&remembered)).unwrap())
    });
}

fn cursors(c: &mut Criterion) {
    let position =
        || fuzzing::Position { key: Some(fuzzing::KeyValue::Text("tata tea premium".into())), id: 4242 };
    c.bench_function("cursor/write", |b| {
        b.iter_batched(
            position,
            |p| fuzzing::encode_cursor(false, p, "0123456789abcdef"),
            BatchSize::SmallInput,
        )
    });
    let cursor = fuzzing::encode_cursor(false, position(), "0123456789abcdef");
    c.bench_function("cursor/read", |b| {
        b.iter(|| fuzzing::cursor(black_box(&cursor), "0123456789abcdef").unwrap())
    });
}

fn bodies(c: &mut Criterion) {
    let body = br#"{"name":"Tata Tea","description":"Premium, 1 kg","price":"520.5","stock":150,"category_id":3,"tags":["tea","india"]}"#;
    c.bench_function("body/product (validated)", |b| {
        b.iter(|| fuzzing::product_input(black_box(body)).unwrap())
    });
}

criterion_group!(hot_paths, json, etags, tokens, cursors, bodies);
criterion_main!(hot_paths);
