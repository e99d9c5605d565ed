//! Each vendored crate (`vendor/<crate>`: dropshot, sqlx-core, sqlx-sqlite) is exactly the published crate
//! plus `vendor/<crate>.patch`: reversing the patch on a copy must give back every published
//! file, byte for byte (their SHA-256 hashes are in `vendor/<crate>-<version>.sha256`, recorded
//! by `vendor/update.sh <crate>` from the checksummed `.crate`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

fn files(root: &Path) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut pending = vec![root.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).expect("a readable directory") {
            let path = entry.expect("an entry").path();
            if path.is_dir() {
                pending.push(path);
            } else {
                let relative =
                    path.strip_prefix(root).expect("under the root").to_string_lossy().into_owned();
                let bytes = std::fs::read(&path).expect("a readable file");
                out.insert(format!("./{relative}"), hex::encode(Sha256::digest(bytes)));
            }
        }
    }
    out
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("a directory");
    for entry in std::fs::read_dir(from).expect("a readable directory") {
        let entry = entry.expect("an entry");
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).expect("a copy");
        }
    }
}

/// The vendored crates, with the published version each is a patch of.
const VENDORED: [(&str, &str); 3] =
    [("dropshot", "0.18.0"), ("sqlx-core", "0.9.0"), ("sqlx-sqlite", "0.9.0")];

#[test]
fn vendored_crates_are_the_published_crates_plus_their_patches() {
    let vendor = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("vendor");
    for (name, version) in VENDORED {
        let scratch = tempfile::tempdir().expect("a temporary directory");
        let copy = scratch.path().join(name);
        copy_tree(&vendor.join(name), &copy);
        let status = std::process::Command::new("patch")
            .args(["-s", "-R", "-p1", "-i"])
            .arg(vendor.join(format!("{name}.patch")))
            .current_dir(&copy)
            .status()
            .expect("`patch` runs (Debian package patch)");
        assert!(status.success(), "vendor/{name}.patch does not reverse cleanly on vendor/{name}");

        let manifest = vendor.join(format!("{name}-{version}.sha256"));
        let published: BTreeMap<String, String> = std::fs::read_to_string(manifest)
            .expect("the published crate's manifest")
            .lines()
            .filter_map(|line| line.split_once("  "))
            .map(|(hash, path)| (path.to_string(), hash.to_string()))
            .collect();
        assert!(published.len() > 50, "the manifest lists the published files of {name}");
        let reversed = files(&copy);
        let differing: Vec<&String> = published
            .keys()
            .chain(reversed.keys())
            .filter(|path| published.get(*path) != reversed.get(*path))
            .collect();
        assert!(
            differing.is_empty(),
            "vendor/{name} differs from {name} {version} + vendor/{name}.patch in {differing:?}; \
             edit the patch and run vendor/update.sh {name} instead of editing vendor/{name}"
        );
    }
}
