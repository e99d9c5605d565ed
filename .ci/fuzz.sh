#!/usr/bin/env bash
# The fuzz targets (fuzz/, cargo-fuzz and libFuzzer): builds them all once, then runs each for
# FUZZ_SECONDS (default 20) over a copy of its committed corpus (fuzz/corpus/<target>/), so that
# the run leaves the repository as it was. Fails (exit 1) when any target finds a crash: a panic,
# a server error (5xx) for client input, a broken round trip, a timeout or a memory blow-up;
# the input that did it is kept and its path printed (reproduce with `cargo +nightly fuzz run
# <target> <file>`; then fix it and add a regression test).
#
#   .ci/fuzz.sh                                      # every target, 20 s each
#   FUZZ_SECONDS=300 FUZZ_TARGETS="cursor sort" .ci/fuzz.sh
#   FUZZ_BUILD="--dev --sanitizer none" .ci/fuzz.sh  # what CI runs: a quicker build, no ASan
#   FUZZ_BUILD_ONLY=1 .ci/fuzz.sh                    # the build alone (CI starts it early)
#
# FUZZ_BUILD (default: cargo-fuzz's own, an optimized build with AddressSanitizer) is passed to
# the build and to every run, so a run never rebuilds with other flags.
#
# Needs a nightly toolchain (libFuzzer's sanitizer flags); without one, stable is told to accept
# them (RUSTC_BOOTSTRAP=1). Installs cargo-fuzz when missing.
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_EACH=${FUZZ_SECONDS:-20}
read -r -a BUILD_FLAGS <<<"${FUZZ_BUILD:-}"
started=$(date +%s)
step() { printf '\n==> %s (%ss)\n' "$*" "$(( $(date +%s) - started ))"; }

step "tools"
cargo fuzz --version >/dev/null 2>&1 || cargo install --locked cargo-fuzz
if rustc +nightly --version >/dev/null 2>&1; then
  fuzz() { cargo +nightly fuzz "$@"; }
else
  echo "note: no nightly toolchain; building with stable and RUSTC_BOOTSTRAP=1"
  fuzz() { RUSTC_BOOTSTRAP=1 cargo fuzz "$@"; }
fi
targets=${FUZZ_TARGETS:-$(cd fuzz && fuzz list)}

step "build"
(cd fuzz && fuzz build ${BUILD_FLAGS[@]+"${BUILD_FLAGS[@]}"})
if [ -n "${FUZZ_BUILD_ONLY:-}" ]; then
  step "built (FUZZ_BUILD_ONLY)"
  exit 0
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failed=()
for target in $targets; do
  step "run $target (${SECONDS_EACH}s)"
  mkdir -p "$work/corpus/$target" "$work/artifacts/$target"
  if [ -d "fuzz/corpus/$target" ]; then
    cp -R "fuzz/corpus/$target/." "$work/corpus/$target/"
  fi
  if ! (cd fuzz && fuzz run ${BUILD_FLAGS[@]+"${BUILD_FLAGS[@]}"} "$target" "$work/corpus/$target" -- \
      -max_total_time="$SECONDS_EACH" -timeout=10 -rss_limit_mb=2048 \
      -artifact_prefix="$work/artifacts/$target/" -print_final_stats=1); then
    failed+=("$target")
    mkdir -p fuzz/artifacts
    cp -R "$work/artifacts/$target" fuzz/artifacts/
    echo "FAILED: $target; the input is kept in fuzz/artifacts/$target/:" >&2
    ls -l "fuzz/artifacts/$target" >&2
  fi
done

step "done"
if [ "${#failed[@]}" -gt 0 ]; then
  echo "fuzzing found crashes in: ${failed[*]}" >&2
  exit 1
fi
echo "no crashes in: $targets"
