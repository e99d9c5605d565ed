//! The vendored dropshot (`vendor/dropshot`) is exactly the published crate plus
//! `vendor/dropshot.patch`: reversing the patch on a copy must give back every published file,
//! byte for byte (their SHA-256 hashes are in `vendor/dropshot-0.18.0.sha256`, recorded by
//! `vendor/update-dropshot.sh` from the checksummed `.crate`).

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

#[test]
fn vendored_dropshot_is_the_published_crate_plus_the_patch() {
    let vendor = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("vendor");
    let scratch = tempfile::tempdir().expect("a temporary directory");
    let copy = scratch.path().join("dropshot");
    copy_tree(&vendor.join("dropshot"), &copy);
    let status = std::process::Command::new("patch")
        .args(["-s", "-R", "-p1", "-i"])
        .arg(vendor.join("dropshot.patch"))
        .current_dir(&copy)
        .status()
        .expect("`patch` runs (Debian package patch)");
    assert!(status.success(), "vendor/dropshot.patch does not reverse cleanly on vendor/dropshot");

    let published: BTreeMap<String, String> = std::fs::read_to_string(vendor.join("dropshot-0.18.0.sha256"))
        .expect("the published crate's manifest")
        .lines()
        .filter_map(|line| line.split_once("  "))
        .map(|(hash, path)| (path.to_string(), hash.to_string()))
        .collect();
    assert!(published.len() > 100, "the manifest lists the published files");
    let reversed = files(&copy);
    let differing: Vec<&String> = published
        .keys()
        .chain(reversed.keys())
        .filter(|path| published.get(*path) != reversed.get(*path))
        .collect();
    assert!(
        differing.is_empty(),
        "vendor/dropshot differs from dropshot 0.18.0 + vendor/dropshot.patch in {differing:?}; \
         edit the patch and run vendor/update-dropshot.sh instead of editing vendor/dropshot"
    );
}
