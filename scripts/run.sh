#!/usr/bin/env bash
#  run.sh - the README's first command: build zpost, start it on this
#  machine, and open a guided session with it.
#
#      scripts/run.sh              install what is missing, build, start
#                                  zpost-store and zpost-broker on loopback,
#                                  and open the guided session; leaving the
#                                  session stops both
#      scripts/run.sh --no-client  the same without the session: print how
#                                  to connect, and run until Ctrl-C or
#                                  SIGTERM, which stops both
#
#  Everything the servers keep lives under ./var (ZPOST_VAR): the broker's
#  key pair in var/broker/, the store's LMDB data in var/store/, their logs
#  in var/*.log. A second run uses the same keys and the same mail.
#
#  Environment:
#      ZPOST_PORT     the front port on 127.0.0.1 (default 5321); the key
#                     announcement listens on ZPOST_PORT + 1. 0 takes any
#                     free port for each, and the summary says which
#      ZPOST_VAR      the state directory (default ./var at the top of the
#                     repository)
#      ZPOST_BIN_DIR  use the programs already built there, and skip
#                     scripts/setup.sh (the tests do this)
#      BUILD_DIR      where scripts/setup.sh builds (default ./build)
#
#  One run at a time per state directory: run.sh holds a lock on
#  var/run.lock (flock) while it and the servers run, and a second run on
#  the same var says "already running (pid N)" and touches nothing.
#
#  Exit status: the session's (0 when the person leaves it), 0 after a
#  signal with --no-client, 1 if the servers could not start (or var is
#  locked by another run, or cannot be written), 2 usage.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
client=yes
for argument in "$@"; do
    case $argument in
        --no-client) client=no ;;
        -h|--help)
            sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^#  \{0,1\}//'
            exit 0 ;;
        *)
            echo "run.sh: unknown argument '$argument' (try --help)" >&2
            exit 2 ;;
    esac
done

port=${ZPOST_PORT:-5321}
if ! [[ $port =~ ^[0-9]+$ ]] || [ "$port" -gt 65534 ]; then
    echo "run.sh: ZPOST_PORT must be a port from 1 to 65534 (or 0: any), not '$port'" >&2
    exit 2
fi
if [ "$port" -eq 0 ]; then
    front_endpoint="tcp://127.0.0.1:*"
    announce_endpoint="tcp://127.0.0.1:*"
else
    front_endpoint="tcp://127.0.0.1:$port"
    announce_endpoint="tcp://127.0.0.1:$((port + 1))"
fi

#  1. The state directory: keys, data and logs, one run at a time. This
#  comes before the build, so that a second run is refused at once and a
#  var that cannot be written is said plainly, before anything is made.
var=${ZPOST_VAR:-$top/var}
unwritable () {
    echo "run.sh: cannot write to the state directory $var ($1); zpost keeps" \
         "its keys, mail and logs there: make it writable, or set ZPOST_VAR" \
         "to another directory" >&2
    exit 1
}
mkdir -p -- "$var" 2>/dev/null || unwritable "it cannot be created"
var=$(cd "$var" && pwd)
#  access(2) says no for a read-only mount, an immutable directory or one
#  without write permission; never chmod it writable behind the person's back
[ -w "$var" ] || unwritable "read-only"
#  <> opens without truncating: the pid the holder wrote stays readable
{ exec 9<>"$var/run.lock"; } 2>/dev/null || unwritable "read-only"
if ! flock -n 9; then
    holder=$(head -c 20 "$var/run.lock" | tr -cd '0-9')
    echo "run.sh: zpost is already running (pid ${holder:-unknown}) on $var;" \
         "stop that run first, or set ZPOST_VAR to another directory" >&2
    exit 1
fi
#  The lock is ours until this shell and every server (they inherit fd 9)
#  have exited: a server left behind still holds var
echo $$ > "$var/run.lock"
#  Only take access away from others; a failure here is said, not raw
chmod go-rwx "$var" 2>/dev/null || unwritable "its permissions cannot be set to 0700"

#  2. Programs: those given, or install what is missing and build
if [ -n "${ZPOST_BIN_DIR:-}" ]; then
    bin=$ZPOST_BIN_DIR
else
    bin=${BUILD_DIR:-$top/build}
    BUILD_DIR=$bin "$top/scripts/setup.sh"
fi
for program in zpost zpost-broker zpost-store; do
    if [ ! -x "$bin/$program" ]; then
        echo "run.sh: $bin/$program is missing; run scripts/setup.sh" >&2
        exit 1
    fi
done

keys=$var/broker
data=$var/store
#  An ipc:// path has a short limit (107 bytes); a deep var gets a short
#  private directory instead
back=ipc://$var/back.ipc
socket_dir=""
if [ ${#back} -gt 100 ]; then
    socket_dir=$(mktemp -d /tmp/zpost-run-XXXXXX)
    back=ipc://$socket_dir/back.ipc
fi

broker_pid=""
store_pid=""

#  Stop what we started: SIGTERM, a bounded wait, then SIGKILL
stop_servers () {
    local pid
    for pid in $store_pid $broker_pid; do
        kill -TERM "$pid" 2>/dev/null || true
    done
    local deadline=$((SECONDS + 10))
    for pid in $store_pid $broker_pid; do
        while kill -0 "$pid" 2>/dev/null; do
            if [ $SECONDS -ge $deadline ]; then
                echo "run.sh: pid $pid did not stop; killing it" >&2
                kill -KILL "$pid" 2>/dev/null || true
                break
            fi
            sleep 0.1
        done
        wait "$pid" 2>/dev/null || true
    done
    store_pid=""
    broker_pid=""
    if [ -n "$socket_dir" ]; then
        rm -rf "$socket_dir"
    fi
}
trap stop_servers EXIT
#  A signal at any point from here on stops what was started, and is a
#  normal way to end: installed now, not later, so that none slips through
#  while the servers are still starting
trap 'exit 0' INT TERM

#  Wait until file has a line matching pattern, while pid lives
wait_for_line () {
    local file=$1 pattern=$2 pid=$3 what=$4
    local deadline=$((SECONDS + 20))
    until grep -q -- "$pattern" "$file" 2>/dev/null; do
        if ! kill -0 "$pid" 2>/dev/null; then
            echo "run.sh: $what stopped before it was ready; its log:" >&2
            tail -n 20 "$var/$what.log" >&2 || true
            exit 1
        fi
        if [ $SECONDS -ge $deadline ]; then
            echo "run.sh: $what was not ready within 20 s; see $var/$what.log" >&2
            exit 1
        fi
        sleep 0.1
    done
}

#  3. The servers, each in a session of its own (setsid), so that a Ctrl-C
#  meant for the guided session does not reach them
: > "$var/zpost-broker.out"
setsid "$bin/zpost-broker" --front "$front_endpoint" \
    --announce "$announce_endpoint" --back "$back" --keys "$keys" \
    < /dev/null > "$var/zpost-broker.out" 2> "$var/zpost-broker.log" &
broker_pid=$!
wait_for_line "$var/zpost-broker.out" '^zpost-broker ready$' "$broker_pid" zpost-broker
#  The ports the broker bound, as it reports them (ZPOST_PORT=0 asks for any)
port=$(sed -n 's/^zpost-broker front tcp:\/\/127\.0\.0\.1:\([0-9]*\)$/\1/p' \
       "$var/zpost-broker.out")
announce_port=$(sed -n 's/^zpost-broker announce tcp:\/\/127\.0\.0\.1:\([0-9]*\)$/\1/p' \
                "$var/zpost-broker.out")

: > "$var/zpost-store.out"
setsid "$bin/zpost-store" --broker "$back" --data "$data" \
    < /dev/null > "$var/zpost-store.out" 2> "$var/zpost-store.log" &
store_pid=$!
wait_for_line "$var/zpost-store.out" '^zpost-store ready$' "$store_pid" zpost-store

#  "ready" means the store sent READY; a PING through it says the broker has
#  it. The client's own files go where they always go (~/.config/zpost).
server=127.0.0.1:$port
deadline=$((SECONDS + 20))
until "$bin/zpost" --server "$server" --server-key "$keys/broker.key" \
        --timeout 500 --retries 1 ping > /dev/null 2>&1; do
    if [ $SECONDS -ge $deadline ]; then
        echo "run.sh: the service does not answer a PING; see $var/*.log" >&2
        exit 1
    fi
    sleep 0.2
done
fingerprint=$(sed -n 's/^zpost-broker fingerprint //p' "$var/zpost-broker.out")

#  Paths as a person would type them from the top of the repository
show () {
    case $1 in
        "$top"/*) echo "${1#"$top"/}" ;;
        *) echo "$1" ;;
    esac
}
zpost_command="$(show "$bin")/zpost --server $server --server-key $(show "$keys")/broker.key"

cat <<EOF
zpost is running on $server (store pid $store_pid, broker pid $broker_pid).
  server key   $(show "$keys")/broker.key
  fingerprint  $fingerprint
  key announcement on 127.0.0.1:$announce_port
  mail         $(show "$data")/
  logs         $(show "$var")/zpost-broker.log, $(show "$var")/zpost-store.log
Connect from another terminal with:
  $zpost_command
EOF

if [ "$client" = no ]; then
    echo "Stop with Ctrl-C (or SIGTERM to pid $$)."
    #  Returns when a server dies, or at once when a signal comes
    set +e
    wait -n "$broker_pid" "$store_pid"
    status=$?
    set -e
    echo "run.sh: a server stopped by itself (status $status); see $(show "$var")/*.log" >&2
    exit 1
fi

#  4. The guided session. Ctrl-C is the session's: the script only waits.
echo "Leaving the session (3 at the first menu, or Ctrl-D) stops the servers."
trap : INT
set +e
"$bin/zpost" --server "$server" --server-key "$keys/broker.key"
status=$?
set -e
trap - INT
exit $status
