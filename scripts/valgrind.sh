#!/usr/bin/env bash
#  valgrind.sh - the integration tests with broker and store under valgrind
#  (issue 6, item 5).
#
#      scripts/valgrind.sh [TEST_FILE ...]
#
#  Builds zpost with gcc and no sanitizers in build-valgrind/ (override
#  with BUILD_DIR), then runs the integration tests given (default: every
#  tests/integration/test_*.py) with ZPOST_WRAP set, so that the harness
#  starts every zpost-broker and zpost-store as
#
#      valgrind --leak-check=full --errors-for-leak-kinds=definite,possible
#               --error-exitcode=99 ...
#
#  A memory error, or a leak found when a program exits, makes valgrind end
#  it with status 99; the harness expects 0 from every program it stops, so
#  the test fails and prints the program's log, valgrind's report included.
#  Processes a test kills with SIGKILL on purpose are not checked for leaks.
#  The harness's own bounds are stretched by ZPOST_TIME_SCALE (default 10
#  here); bounds a test sets itself are not, so load and timing tests may
#  fail under valgrind for time alone: read the reason before the verdict.
#
#  Exits non-zero if any test file failed.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD_DIR:-$top/build-valgrind}
python=${ZPOST_PYTHON:-/usr/bin/python3}

cmake -S "$top" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo
cmake --build "$build" -j "$(nproc)"

if [ $# -eq 0 ]; then
    set -- "$top"/tests/integration/test_*.py
fi

export ZPOST_BIN_DIR="$build"
export PYTHONPATH="$top/tests/integration"
export PYTHONDONTWRITEBYTECODE=1
export ZPOST_TIME_SCALE=${ZPOST_TIME_SCALE:-10}
export ZPOST_WRAP=${ZPOST_WRAP:-valgrind --quiet --leak-check=full \
--errors-for-leak-kinds=definite,possible --show-leak-kinds=definite,possible \
--error-exitcode=99 --num-callers=30}

failed=()
for test in "$@"; do
    echo "=== valgrind: $(basename "$test") ==="
    if ! "$python" "$test"; then
        failed+=("$(basename "$test")")
    fi
done
if [ ${#failed[@]} -gt 0 ]; then
    echo "valgrind: failed: ${failed[*]}"
    exit 1
fi
echo "valgrind: every test passed with broker and store under valgrind"
