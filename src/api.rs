//! The code generated from `openapi/openapi.yaml` by `build.rs`, and the spec itself.
//!
//! `types` are the spec's schemas; `server` holds the dropshot API trait, the handler traits
//! (one per tag), the glue between them, parameter structs, reply types and per-operation
//! metadata. Formatted copies live under `generated/` for review (`cargo run --bin regenerate`).

/// The spec's schemas as Rust types (typify).
#[allow(clippy::all, clippy::pedantic, missing_docs, unused_imports, dead_code)]
pub mod types {
    include!(concat!(env!("OUT_DIR"), "/types.rs"));
}

/// The dropshot API trait, the handler traits and their glue.
#[allow(clippy::all, clippy::pedantic, missing_docs, unused_imports, dead_code)]
pub mod server {
    include!(concat!(env!("OUT_DIR"), "/server.rs"));
}

/// The spec, as written.
pub const OPENAPI_YAML: &str = include_str!("../openapi/openapi.yaml");

/// The spec, as JSON.
pub const OPENAPI_JSON: &str = include_str!(concat!(env!("OUT_DIR"), "/openapi.json"));

/// The JSON Schemas requests are validated against, by name (see `crate::validate`).
pub const SCHEMAS_JSON: &str = include_str!(concat!(env!("OUT_DIR"), "/schemas.json"));

/// The generated files, by the path of their committed copy (see `cargo run --bin regenerate`
/// and the test that compares them).
pub const GENERATED: [(&str, &str); 4] = [
    ("generated/server/types.rs", include_str!(concat!(env!("OUT_DIR"), "/types.rs"))),
    ("generated/server/server.rs", include_str!(concat!(env!("OUT_DIR"), "/server.rs"))),
    ("generated/server/schemas.json", SCHEMAS_JSON),
    ("generated/client/src/generated.rs", include_str!(concat!(env!("OUT_DIR"), "/client.rs"))),
];
