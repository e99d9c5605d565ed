#!/usr/bin/env bash
# Tests the breaking-change report (.ci/spec-breaking.sh) on small specs: every case folder in
# .ci/spec-diff-fixtures has head.yaml (its first line says what changed), `expect` (pass or
# fail), and may have ack.yaml and its own base.yaml (else the folder's base.yaml). Then three
# throw-away git repositories check the wrapper itself: no previous commit, a spec that did not
# exist at the base, and a breaking commit (fails; passes with BASE at that commit).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
FIX=.ci/spec-diff-fixtures
# The wrapper installs the pinned Optic libraries when missing; a run that compares a spec with
# itself does that and checks that an unchanged spec passes.
REPO="" BASE=HEAD .ci/spec-breaking.sh >/dev/null
export OPTIC_TELEMETRY_LEVEL=off
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

cases=$(cd "$FIX" && for d in */; do echo "${d%/}"; done)
# All cases in one Node process (.ci/spec-diff/fixtures.js): $out/<case>.log and .rc.
node .ci/spec-diff/fixtures.js "$FIX" "$out"

passed=0 failed=0
check() { # name expected actual log
  if [ "$2" = "$3" ]; then
    passed=$((passed + 1)); printf 'ok    %-45s %s\n' "$1" "$2"
  else
    failed=$((failed + 1)); printf 'FAIL  %-45s expected %s, got %s\n' "$1" "$2" "$3"; sed 's/^/      /' "$4"
  fi
}
for c in $cases; do
  rc=$(cat "$out/$c.rc")
  case $rc in 0) got=pass ;; 1) got=fail ;; *) got="error ($rc)" ;; esac
  check "$c" "$(cat "$FIX/$c/expect")" "$got" "$out/$c.log"
done

# The wrapper in git repositories of its own.
repo() { # dir: a fresh repository with one commit (a README)
  rm -rf "$1"; mkdir -p "$1/openapi"; git -C "$1" init -q
  git -C "$1" -c user.name=t -c user.email=t@t commit -q --allow-empty -m first
}
commit() { git -C "$1" add -A && git -C "$1" -c user.name=t -c user.email=t@t commit -q -m "$2"; }
wrapper() { # dir [BASE] -> pass/fail
  local rc=0
  REPO="$1" BASE="${2:-HEAD~1}" "$ROOT/.ci/spec-breaking.sh" >"$out/git.log" 2>&1 || rc=$?
  case $rc in 0) echo pass ;; 1) echo fail ;; *) echo "error ($rc)" ;; esac
}
g="$out/repo"
git init -q "$g" && mkdir -p "$g/openapi" && cp "$FIX/base.yaml" "$g/openapi/openapi.yaml"
commit "$g" "spec"
check "git: no previous commit" pass "$(wrapper "$g")" "$out/git.log"
grep -q '^note: no revision' "$out/git.log" || check "git: no previous commit says so" note none "$out/git.log"
repo "$g"; cp "$FIX/base.yaml" "$g/openapi/openapi.yaml"; commit "$g" "spec added"
check "git: spec absent at the base" pass "$(wrapper "$g")" "$out/git.log"
cp "$FIX/removed-operation/head.yaml" "$g/openapi/openapi.yaml"; commit "$g" "breaking"
check "git: breaking commit against HEAD~1" fail "$(wrapper "$g")" "$out/git.log"
check "git: the same against BASE=HEAD" pass "$(wrapper "$g" HEAD)" "$out/git.log"
cat >"$g/openapi/breaking-changes-ack.yaml" <<'ACK'
acknowledged:
  - operation: POST /items
    change: operation removed
    reason: replaced by PUT
ACK
check "git: an ack entry without a reviewer" "error (2)" "$(wrapper "$g")" "$out/git.log"

echo
echo "spec-breaking: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
