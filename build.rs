//! Generates the server's types, its API trait and glue, and the client from
//! `openapi/openapi.yaml`, with the generator of `codegen/`.
//!
//! Everything is written to `OUT_DIR` only; `src/api.rs` includes it, and
//! `cargo run --bin regenerate` copies it to `generated/` for review.

use std::path::PathBuf;

const SPEC: &str = "openapi/openapi.yaml";

/// The functions a server runs in a usual day, most instructions first (`bench/layout.sh`
/// writes it): the release binary's linker places them together, so that the code the kernel
/// maps into a running server is a few MB instead of most of the binary's 20.
const HOT_FUNCTIONS: &str = "link/hot-functions.txt";

fn main() {
    println!("cargo:rerun-if-changed={SPEC}");
    let out_dir = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let spec = std::fs::read_to_string(SPEC).unwrap_or_else(|e| panic!("reading {SPEC}: {e}"));
    let outputs = storefront_codegen::generate(&spec).unwrap_or_else(|e| panic!("{SPEC}: {e}"));
    for output in outputs {
        let path = out_dir.join(output.name);
        std::fs::write(&path, output.contents).unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
    }
    order_hot_functions();
}

/// Hands [`HOT_FUNCTIONS`] to the linker of the `storefront` binary, in release builds for
/// x86-64 Linux, whose default linker (Rust's LLD, since 1.90) takes a symbol ordering file;
/// not when another linker was chosen (`RUSTC_LINKER`, `-C linker`, `-fuse-ld`), which may not.
/// `STOREFRONT_NO_LAYOUT=1` turns it off. Names the file lists that the binary does not have
/// (it was written for an older build) are skipped without a warning.
fn order_hot_functions() {
    println!("cargo:rerun-if-changed={HOT_FUNCTIONS}");
    println!("cargo:rerun-if-env-changed=STOREFRONT_NO_LAYOUT");
    let var = |name: &str| std::env::var(name).unwrap_or_default();
    let rustflags = var("CARGO_ENCODED_RUSTFLAGS");
    let default_linker = std::env::var_os("RUSTC_LINKER").is_none()
        && !rustflags.contains("linker")
        && !rustflags.contains("fuse-ld");
    if var("PROFILE") != "release"
        || var("TARGET") != "x86_64-unknown-linux-gnu"
        || !default_linker
        || var("STOREFRONT_NO_LAYOUT") == "1"
    {
        return;
    }
    let path = PathBuf::from(var("CARGO_MANIFEST_DIR")).join(HOT_FUNCTIONS);
    // `-Wl,` would split a path with a comma into two arguments.
    let usable = path.to_str().filter(|path| !path.contains(','));
    if let (Some(path), true) = (usable, path.is_file()) {
        println!("cargo:rustc-link-arg-bin=storefront=-Wl,--symbol-ordering-file={path}");
        println!("cargo:rustc-link-arg-bin=storefront=-Wl,--no-warn-symbol-ordering");
    }
}
