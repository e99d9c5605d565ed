//! The committed copies under generated/ are what the build generates from the spec.

#[test]
fn committed_generated_code_matches_the_spec() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let stale: Vec<&str> = storefront::api::GENERATED
        .iter()
        .filter(|(path, contents)| {
            std::fs::read_to_string(root.join(path)).ok().as_deref() != Some(*contents)
        })
        .map(|(path, _)| *path)
        .collect();
    assert!(
        stale.is_empty(),
        "generated code is stale: {stale:?}\nopenapi/openapi.yaml changed since it was generated; \
         refresh it with `cargo run --bin regenerate` and commit the result"
    );
}

#[test]
fn the_client_readme_shows_the_example_that_compiles() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("generated/client");
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let example = std::fs::read_to_string(root.join("examples/list_products.rs")).unwrap();
    // The example without its header comment is the README's code block.
    let code = &example[example.find("use storefront_client").expect("the example's code")..];
    assert!(
        readme.contains(&format!("```rust\n{code}```")),
        "generated/client/README.md's example differs from examples/list_products.rs (which is compiled)"
    );
}
