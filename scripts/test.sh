#!/usr/bin/env bash
#  test.sh - install, build and pass every test: the README's test command.
#
#  1. scripts/setup.sh with warnings as errors, then every test in ctest;
#  2. a clang build with AddressSanitizer, UndefinedBehaviorSanitizer and
#     the libFuzzer harnesses, and every test again, fuzzers included for
#     a short bounded time (ZPOST_FUZZ_SECONDS, default 30);
#  3. the ping and mail integration tests with broker and store under
#     valgrind (ZPOST_VALGRIND=0 skips it).
#
#  Exits non-zero on the first failing stage.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
jobs=$(nproc)

echo "=== build (gcc, -Werror) ==="
ZPOST_WERROR=ON BUILD_DIR="$top/build" "$top/scripts/setup.sh"

echo "=== tests ==="
ctest --test-dir "$top/build" --output-on-failure -j "$jobs"

echo "=== build (clang, ASan + UBSan + fuzzers) ==="
CC=clang cmake -S "$top" -B "$top/build-asan" -DCMAKE_BUILD_TYPE=Debug \
    -DZPOST_WERROR=ON -DENABLE_ASAN=ON -DENABLE_UBSAN=ON -DENABLE_FUZZ=ON \
    -DZPOST_FUZZ_SECONDS="${ZPOST_FUZZ_SECONDS:-30}"
cmake --build "$top/build-asan" -j "$jobs"

echo "=== tests under ASan + UBSan ==="
ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1} \
UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1} \
    ctest --test-dir "$top/build-asan" --output-on-failure -j "$jobs"

#  3. valgrind over the main paths: broker and store run under it through
#     the ping and mail tests (the whole set: scripts/valgrind.sh, ~15 min).
#     ZPOST_VALGRIND=0 skips this stage.
if [ "${ZPOST_VALGRIND:-1}" != 0 ]; then
    echo "=== broker and store under valgrind ==="
    BUILD_DIR="$top/build" "$top/scripts/valgrind.sh" \
        "$top/tests/integration/test_ping.py" "$top/tests/integration/test_mail.py"
fi

echo "test: every test passed, in both builds and under valgrind"
