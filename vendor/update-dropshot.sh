#!/usr/bin/env bash
# Rebuilds vendor/dropshot from the published dropshot crate and vendor/dropshot.patch.
#
# The vendored tree must always be exactly the published crate plus the patch; the test
# `vendored_dropshot_is_the_published_crate_plus_the_patch` checks it on every `cargo test`.
# Run this after editing the patch, or with another VERSION/CHECKSUM to move to a new release
# (then refresh the patch against it and review the diff).
#
# usage: vendor/update-dropshot.sh            (needs curl or a cargo cache with the .crate, and patch)
set -euo pipefail
VERSION=${VERSION:-0.18.0}
# The checksum crates.io publishes for the .crate (Cargo.lock records the same one).
CHECKSUM=${CHECKSUM:-4a9e64e150bf661306cc9fa32c25996cb37025edebcbe55e80669750aa90b703}
cd "$(dirname "$0")"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

crate="$work/dropshot-$VERSION.crate"
cached=$(ls "${CARGO_HOME:-$HOME/.cargo}"/registry/cache/*/"dropshot-$VERSION.crate" 2>/dev/null | head -n 1 || true)
if [ -n "$cached" ]; then
  cp "$cached" "$crate"
else
  curl -fsSL -o "$crate" "https://static.crates.io/crates/dropshot/dropshot-$VERSION.crate"
fi
echo "$CHECKSUM  $crate" | sha256sum -c --quiet

tar -xzf "$crate" -C "$work"
# The published files, by hash: what the test compares the vendored tree (minus the patch) with.
(cd "$work/dropshot-$VERSION" && find . -type f -print0 | sort -z | xargs -0 sha256sum) \
  > "dropshot-$VERSION.sha256"
(cd "$work/dropshot-$VERSION" && patch -s -p1 < "$OLDPWD/dropshot.patch")
rm -rf dropshot
mv "$work/dropshot-$VERSION" dropshot
echo "vendor/dropshot is dropshot $VERSION + dropshot.patch"
