#!/usr/bin/env bash
# Rebuilds a vendored crate, vendor/<crate>, from the published crate and vendor/<crate>.patch.
#
# A vendored tree must always be exactly the published crate plus its patch; the test
# `vendored_crates_are_the_published_crates_plus_their_patches` checks it on every `cargo test`.
# Run this after editing a patch, or with another VERSION/CHECKSUM to move to a new release
# (then refresh the patch against it and review the diff).
#
# usage: vendor/update.sh dropshot|sqlx-core|sqlx-sqlite     (needs curl or a cargo cache with the .crate, and patch)
# env:   VERSION, CHECKSUM: another release than the one below
set -euo pipefail
name=${1:?usage: vendor/update.sh dropshot|sqlx-core|sqlx-sqlite}
# The version vendored, and the checksum crates.io publishes for its .crate (Cargo.lock records
# the same one).
case "$name" in
  dropshot) VERSION=${VERSION:-0.18.0} CHECKSUM=${CHECKSUM:-4a9e64e150bf661306cc9fa32c25996cb37025edebcbe55e80669750aa90b703} ;;
  sqlx-core) VERSION=${VERSION:-0.9.0} CHECKSUM=${CHECKSUM:-05b44e85bf579a8eeb4ceaa77a3a523baf2bf0e9bac7e40f405d537b5d2d5ccb} ;;
  sqlx-sqlite) VERSION=${VERSION:-0.9.0} CHECKSUM=${CHECKSUM:-488e99c397a62007e4229aec669a179816339afc6d2620ca6fa420dbee2e982c} ;;
  *) echo "no such vendored crate: $name" >&2; exit 2 ;;
esac
cd "$(dirname "$0")"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

crate="$work/$name-$VERSION.crate"
cached=$(ls "${CARGO_HOME:-$HOME/.cargo}"/registry/cache/*/"$name-$VERSION.crate" 2>/dev/null | head -n 1 || true)
if [ -n "$cached" ]; then
  cp "$cached" "$crate"
else
  curl -fsSL -o "$crate" "https://static.crates.io/crates/$name/$name-$VERSION.crate"
fi
echo "$CHECKSUM  $crate" | sha256sum -c --quiet

tar -xzf "$crate" -C "$work"
# The published files, by hash: what the test compares the vendored tree (minus the patch) with.
rm -f "$name"-*.sha256
(cd "$work/$name-$VERSION" && find . -type f -print0 | sort -z | xargs -0 sha256sum) \
  > "$name-$VERSION.sha256"
(cd "$work/$name-$VERSION" && patch -s -p1 < "$OLDPWD/$name.patch")
rm -rf "$name"
mv "$work/$name-$VERSION" "$name"
echo "vendor/$name is $name $VERSION + $name.patch"
