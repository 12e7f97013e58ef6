#!/usr/bin/env bash
#  fuzz.sh - fuzz zpost for as long as you like (issue 6, item 4).
#
#      scripts/fuzz.sh [SECONDS] [HARNESS ...]
#
#  Builds the libFuzzer harnesses with clang, AddressSanitizer and
#  UndefinedBehaviorSanitizer in build-fuzz/ (override with BUILD_DIR), then
#  runs each harness (default: fuzz_msg fuzz_store) for SECONDS (default
#  3600), one after the other. Each keeps a growing corpus in
#  BUILD_DIR/fuzz-corpus-NAME, starting from the seeds in
#  tests/fuzz/corpus/NAME (read, never written), and writes any crashing or
#  hanging input to BUILD_DIR/artifacts/. FUZZ_JOBS=N runs N fuzzing
#  processes per harness in parallel (libFuzzer -jobs/-workers).
#
#  A night of fuzzing:   scripts/fuzz.sh 28800
#  Reproduce a finding:  build-fuzz/fuzz_store build-fuzz/artifacts/fuzz_store-crash-...
#
#  Exits non-zero if any harness found a crash, a leak or a hang.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD_DIR:-$top/build-fuzz}
seconds=${1:-3600}
shift || true
harnesses=("$@")
[ ${#harnesses[@]} -eq 0 ] && harnesses=(fuzz_msg fuzz_store)
jobs=${FUZZ_JOBS:-1}

CC=clang cmake -S "$top" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DENABLE_FUZZ=ON -DENABLE_ASAN=ON -DENABLE_UBSAN=ON
cmake --build "$build" -j "$(nproc)" --target "${harnesses[@]}"

mkdir -p "$build/artifacts"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
status=0
for name in "${harnesses[@]}"; do
    corpus="$build/fuzz-corpus-${name#fuzz_}"
    seeds="$top/tests/fuzz/corpus/${name#fuzz_}"
    mkdir -p "$corpus"
    echo "=== $name for $seconds s (corpus $corpus, seeds $seeds) ==="
    if ! (cd "$build" && "./$name" -max_total_time="$seconds" -rss_limit_mb=2048 \
            -timeout=60 -print_final_stats=1 -jobs="$jobs" -workers="$jobs" \
            -artifact_prefix="$build/artifacts/$name-" "$corpus" "$seeds"); then
        echo "fuzz: $name found a problem; see $build/artifacts/"
        status=1
    fi
done
exit $status
