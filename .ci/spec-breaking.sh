#!/usr/bin/env bash
# The breaking-change report of openapi/openapi.yaml: the working tree's spec against the one at a
# base revision (BASE, default HEAD~1: on CI's fresh clone of main, the previous commit), every
# change listed and classified breaking or non-breaking (.ci/spec-diff/spec-diff.js: Optic's
# breaking-changes rules, plus security and constraint rules).
#
# Fails (exit 1) on a breaking change to an operation that was not `deprecated: true` at the
# base, unless
#   * info.version's major is bumped (1.4.0 -> 2.0.0), or
#   * the change is listed in openapi/breaking-changes-ack.yaml (its header gives the format).
# Removing a deprecated operation is allowed (and reported). Passes, with a note, when there is no
# base revision or the spec did not exist there.
#
#   .ci/spec-breaking.sh                 # against HEAD~1
#   BASE=main .ci/spec-breaking.sh       # against any revision
#
# REPO=<dir> reads the git history, the spec and the ack file of another repository (the test,
# .ci/spec-breaking-test.sh, uses throw-away ones). The Optic libraries are pinned in
# .ci/spec-diff/package-lock.json and installed there (npm ci) when missing.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
DIFF="$HERE/spec-diff"
if [ ! -d "$DIFF/node_modules/@useoptic/standard-rulesets" ] \
  || ! cmp -s "$DIFF/package-lock.json" "$DIFF/node_modules/.package-lock.json.ci"; then
  command -v npm >/dev/null || { echo "npm is required (Node.js >= 20)" >&2; exit 1; }
  npm ci --prefix "$DIFF" --no-audit --no-fund --ignore-scripts --loglevel=error
  cp "$DIFF/package-lock.json" "$DIFF/node_modules/.package-lock.json.ci"
fi
cd "${REPO:-$HERE/..}"
SPEC=openapi/openapi.yaml
BASE=${BASE:-HEAD~1}
if ! base=$(git rev-parse --verify -q "$BASE^{commit}"); then
  echo "note: no revision $BASE (the first commit?): nothing to compare $SPEC with; passing"
  exit 0
fi
if ! git cat-file -e "$base:$SPEC" 2>/dev/null; then
  echo "note: $SPEC did not exist at $BASE: nothing to compare it with; passing"
  exit 0
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
git show "$base:$SPEC" >"$tmp/base.yaml"
echo "$SPEC: working tree against $BASE ($(git log -1 --format='%h %s' "$base"))"
export OPTIC_TELEMETRY_LEVEL=off
node "$DIFF/spec-diff.js" "$tmp/base.yaml" "$SPEC" --ack openapi/breaking-changes-ack.yaml
