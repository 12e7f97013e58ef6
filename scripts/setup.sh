#!/usr/bin/env bash
#  setup.sh - install what zpost needs on Debian 12, then configure and build.
#
#  Idempotent and non-interactive: packages already installed are left
#  alone, and a second run only rebuilds what changed.
#
#      scripts/setup.sh              build into build/
#      BUILD_DIR=out scripts/setup.sh
#      ZPOST_WERROR=ON scripts/setup.sh   (warnings are errors, as in CI)
#
#  Without ZPOST_WERROR an existing build directory keeps the setting it
#  has: run.sh (which gives none) and test.sh (ON) share build/, and a
#  flag that flips between them would recompile everything each time.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
build_dir=${BUILD_DIR:-$top/build}

packages=(
    build-essential cmake pkg-config git
    libzmq3-dev libczmq-dev liblmdb-dev libsodium-dev libjansson-dev libedit-dev lmdb-utils
    python3 python3-zmq
    clang libclang-rt-14-dev valgrind
    iproute2 nftables
    postgresql-15 libpq-dev
    pg-auto-failover-cli postgresql-15-auto-failover
)

missing=()
for package in "${packages[@]}"; do
    status=$(dpkg-query -W -f='${Status}' "$package" 2>/dev/null || true)
    [ "$status" = "install ok installed" ] || missing+=("$package")
done

if [ ${#missing[@]} -gt 0 ]; then
    echo "setup: installing ${missing[*]}"
    sudo=""
    if [ "$(id -u)" -ne 0 ]; then
        command -v sudo >/dev/null || { echo "setup: need root or sudo to install ${missing[*]}" >&2; exit 1; }
        sudo=sudo
    fi
    export DEBIAN_FRONTEND=noninteractive
    $sudo apt-get update
    $sudo apt-get install -y --no-install-recommends "${missing[@]}"
fi

werror=()
if [ -n "${ZPOST_WERROR:-}" ]; then
    werror=(-DZPOST_WERROR="$ZPOST_WERROR")
fi
cmake -S "$top" -B "$build_dir" "${werror[@]}" ${CMAKE_ARGS:-}
cmake --build "$build_dir" -j "$(nproc)"
echo "setup: built zpost-broker, zpost-store and zpost in $build_dir"
