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
