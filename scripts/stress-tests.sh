#!/usr/bin/env bash
#  stress-tests.sh - the whole ctest suite on a machine made busy on purpose
#
#  CI shares two cores with whatever else runs, so a test that leans on
#  timing passes here and fails there. This script is the proof that none
#  does: it builds (scripts/setup.sh, warnings as errors), starts stress-ng
#  with one CPU worker per core and one I/O worker, runs every test
#  ROUNDS times (default 2) with as many in parallel as there are cores,
#  and stops stress-ng, whatever happens. It installs stress-ng if it is
#  missing. It prints how many rounds passed, names each failure, and
#  exits non-zero if any test failed in any round.
#
#      scripts/stress-tests.sh [ROUNDS] [ctest options, e.g. -R engine]
#
#  Bounded: stress-ng stops by itself after STRESS_SECONDS (default 20
#  minutes a round, the suite's own bound), each test keeps its own ctest
#  TIMEOUT.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
rounds=${1:-2}
shift || true
cores=$(nproc)
build="${BUILD_DIR:-$top/build}"

if ! command -v stress-ng > /dev/null; then
    echo "stress-tests: installing stress-ng"
    apt-get update -q
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q stress-ng
fi

ZPOST_WERROR=ON BUILD_DIR="$build" "$top/scripts/setup.sh"

stress-ng --cpu "$cores" --io 1 --timeout "${STRESS_SECONDS:-$((rounds * 1200))}" --quiet &
stress_pid=$!
trap 'kill "$stress_pid" 2> /dev/null || true; wait "$stress_pid" 2> /dev/null || true' EXIT

failed=0
passed=0
for round in $(seq 1 "$rounds"); do
    echo "=== stress round $round of $rounds (stress-ng: $cores CPU workers, 1 I/O) ==="
    log="$build/stress-round-$round.log"
    if ctest --test-dir "$build" --output-on-failure -j "$cores" "$@" > "$log" 2>&1; then
        passed=$((passed + 1))
        tail -3 "$log"
    else
        failed=1
        echo "stress-tests: round $round failed:"
        grep -E '^\s+[0-9]+ - ' "$log" || tail -20 "$log"
        echo "(the whole output is in $log)"
    fi
done

echo "stress-tests: $passed of $rounds rounds passed under load"
if [ "$failed" != 0 ]; then
    exit 1
fi
