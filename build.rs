//! Generates the server's types and API trait, and the client, from `openapi/openapi.yaml`.
//!
//! Everything is written to `OUT_DIR` only; `src/api.rs` includes it, and
//! `cargo run --bin regenerate` copies it to `generated/` for review. The generator itself
//! lives in `src/codegen/`.

#[path = "src/codegen/mod.rs"]
mod codegen;

use std::path::PathBuf;

const SPEC: &str = "openapi/openapi.yaml";

fn main() {
    println!("cargo:rerun-if-changed={SPEC}");
    println!("cargo:rerun-if-changed=src/codegen");
    let out_dir = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let spec = std::fs::read_to_string(SPEC).unwrap_or_else(|e| panic!("reading {SPEC}: {e}"));
    let outputs = codegen::generate(&spec).unwrap_or_else(|e| panic!("{SPEC}: {e}"));
    for output in outputs {
        let path = out_dir.join(output.name);
        std::fs::write(&path, output.contents).unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
    }
}
