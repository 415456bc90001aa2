#!/usr/bin/env bash
# Runs every cargo-fuzz target for SECONDS each (default 20), starting from the committed seeds
# in fuzz/seeds/<target>; new inputs go to a corpus under $HOME/.cache/oidc-bff (never into the
# repository). Fails on the first crash, leaving the crashing input in fuzz/artifacts/<target>.
#   scripts/fuzz.sh            # the test command's bounded run: debug build, 20 s per target
#   scripts/fuzz.sh 3600 --release   # a long run
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_PER_TARGET=${1:-20}
PROFILE=--dev
[ "${2:-}" = "--release" ] && PROFILE=
CACHE="$HOME/.cache/oidc-bff"
TARGET_DIR="$CACHE/fuzz-target"
for target in open_session cookie_header relay_path return_to; do
  corpus="$CACHE/fuzz-corpus/$target"
  mkdir -p "$corpus"
  echo "fuzz: $target for ${SECONDS_PER_TARGET}s"
  cargo +nightly fuzz run $PROFILE --sanitizer none --target-dir "$TARGET_DIR" "$target" \
    "$corpus" "fuzz/seeds/$target" -- \
    -max_total_time="$SECONDS_PER_TARGET" -rss_limit_mb=2048 -print_final_stats=1 2>&1 \
    | grep -E "^(Done|stat::number_of_executed_units)|panicked|ERROR|SUMMARY|Test unit written|failed" || true
  test "${PIPESTATUS[0]}" -eq 0
done
