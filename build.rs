//! Generates the server's types, its API trait and glue, and the client from
//! `openapi/openapi.yaml`, with the generator of `codegen/`.
//!
//! Everything is written to `OUT_DIR` only; `src/api.rs` includes it, and
//! `cargo run --bin regenerate` copies it to `generated/` for review.

use std::path::PathBuf;

const SPEC: &str = "openapi/openapi.yaml";

fn main() {
    println!("cargo:rerun-if-changed={SPEC}");
    let out_dir = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let spec = std::fs::read_to_string(SPEC).unwrap_or_else(|e| panic!("reading {SPEC}: {e}"));
    let outputs = storefront_codegen::generate(&spec).unwrap_or_else(|e| panic!("{SPEC}: {e}"));
    for output in outputs {
        let path = out_dir.join(output.name);
        std::fs::write(&path, output.contents).unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
    }
}
