//! Writes the code that build.rs generated from the spec to `generated/`, where reviewers read
//! it and where the `storefront-client` crate takes its source from.
//!
//! Run it after changing `openapi/openapi.yaml`: `cargo run --bin regenerate`. A test fails
//! while the committed copies differ from what the build generates.

use std::path::Path;

fn main() -> std::io::Result<()> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for (path, contents) in storefront::api::GENERATED {
        let target = root.join(path);
        if std::fs::read_to_string(&target).ok().as_deref() == Some(contents) {
            println!("unchanged  {path}");
            continue;
        }
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(&target, contents)?;
        println!("written    {path}");
    }
    Ok(())
}
