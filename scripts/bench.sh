#!/usr/bin/env bash
#  bench.sh - the standard zpost benchmark, in one go, on this machine.
#
#  Starts its own zpost-broker (front on an ephemeral loopback port, back
#  end on ipc:// in a temporary directory) and zpost-store (fresh data
#  directory), runs zpost-bench for each row of the standard set, and
#  prints one table. Each row is compared with the PINGs at the same
#  number of clients taken in this same run (throughput of the row divided
#  by that of ping-store, and of ping-broker), so that the ratios mean
#  something even on a noisy machine. Broker and store resident memory are
#  recorded at the start and the end. Then the scaling table: the same
#  rows at BENCH_CLIENTS clients against one broker and one store, and
#  against two brokers (one key pair, copied) and two stores on one LMDB
#  environment, each store linked to both brokers, the clients split half
#  on each broker (one zpost-bench, --server A,B: client i uses broker
#  i mod 2); each row is measured on both set-ups back to back, and the
#  ratio printed. Then the PostgreSQL rows (issue 13): a PostgreSQL 15
#  cluster of its own in a temporary directory (initdb as the postgres
#  user when run as root, Unix socket only, fsync and synchronous_commit
#  on), a store on it (--db), the same send, list, read and search rows as on
#  LMDB, and a table of both side by side with the ratio PG/LMDB. The
#  notify rows time new mail reaching a waiting WATCH (zpost-bench --op
#  notify: from the SEND's 200 to the WATCH's answer; target 100 ms).
#  Everything it started is stopped when it exits, whatever happens; the
#  cluster also if the script is killed (a watcher process removes it).
#
#      scripts/bench.sh             the standard set (a few minutes)
#      scripts/bench.sh --quick     a tiny version (seconds), for ctest
#      scripts/bench.sh --no-postgresql  leave out the PostgreSQL rows
#      scripts/bench.sh --keep      keep the temporary directory (logs, data)
#      scripts/bench.sh --soak[=N]  instead, the expiry soak (issue 10, defect 3):
#                                   a store with short retentions, N sends
#                                   (default 1000000), each DELETEd at once,
#                                   an orphan LOGIN every 1000; the store's
#                                   recorded replies, sessions and data.mdb
#                                   size printed before, at each tenth, at
#                                   the end and after one retention idle
#      scripts/bench.sh --failover[=N]  instead, how long the real client
#                                   (zpost --server A,B) takes to fail over:
#                                   two brokers on one key pair, a store
#                                   linked to both, a user logged in once;
#                                   N rounds (default 20) of kill -9 the
#                                   first broker, time from the signal to
#                                   the first good reply of "zpost list"
#                                   (through the other one), restart it;
#                                   then N rounds of SIGSTOP instead (a
#                                   hung host: only the try's --timeout
#                                   ends the try), then SIGCONT. p50 and
#                                   max of each, as a markdown table.
#                                   --quick runs one round of each, after
#                                   the rows
#
#  Environment:
#      ZPOST_BIN_DIR    use the programs in this directory, build nothing
#      BUILD_DIR        else build them here (default build/ in the source)
#      BENCH_SECONDS    length of each row (default 3)
#      BENCH_CLIENTS    the "many clients" column (default 16)
#      BENCH_PREFILL    messages in the inbox that list and read use, and
#                       in the search row's (default 100000)
#      BENCH_MOST       the "most clients" send row (default 64)
#      ZPOST_PG_BIN     PostgreSQL's programs (default /usr/lib/postgresql/15/bin)
#      SOAK_SECONDS     the soak stops here even if N is not reached
#                       (default 1800)
#      FAILOVER_TIMEOUTS  the client's --timeout in the SIGSTOP rounds, in
#                       ms: N rounds for each (default "1000 3000"; --quick
#                       the first alone); the kill -9 rounds keep the
#                       client's default
#
#  Exits 0 if every row ran without a single failed request, else 1.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
quick=0
keep=0
soak=0
failover=0
postgresql=1
for arg in "$@"; do
    case "$arg" in
        --quick) quick=1 ;;
        --soak) soak=1000000 ;;
        --soak=*)
            soak=${arg#--soak=}
            [[ "$soak" =~ ^[1-9][0-9]*$ ]] || { echo "bench: --soak=N wants a count" >&2; exit 2; } ;;
        --failover) failover=20 ;;
        --failover=*)
            failover=${arg#--failover=}
            [[ "$failover" =~ ^[1-9][0-9]*$ ]] || { echo "bench: --failover=N wants a count" >&2; exit 2; } ;;
        --keep) keep=1 ;;
        --no-postgresql) postgresql=0 ;;
        -h|--help) sed -n '2,/^set /p' "$0" | sed -e '$d' -e 's/^# \{0,2\}//'; exit 0 ;;
        *) echo "bench: unknown argument $arg (try --help)" >&2; exit 2 ;;
    esac
done

seconds=${BENCH_SECONDS:-3}
many=${BENCH_CLIENTS:-16}
prefill=${BENCH_PREFILL:-100000}
most=${BENCH_MOST:-64}
if [ "$quick" = 1 ]; then
    many=2
    most=3
    prefill=50
fi

# ---------------------------------------------------------------------------
#  Programs

if [ -n "${ZPOST_BIN_DIR:-}" ]; then
    bin=$ZPOST_BIN_DIR
else
    bin=${BUILD_DIR:-$top/build}
    if [ ! -f "$bin/CMakeCache.txt" ]; then
        cmake -S "$top" -B "$bin" >/dev/null
    fi
    cmake --build "$bin" -j "$(nproc)" --target zpost-broker zpost-store zpost-bench \
        zpost >/dev/null
fi
for program in zpost-broker zpost-store zpost-bench zpost; do
    [ -x "$bin/$program" ] || { echo "bench: no $bin/$program" >&2; exit 2; }
done

# ---------------------------------------------------------------------------
#  Processes: started here, stopped here

tmp=$(mktemp -d /tmp/zpost-bench.XXXXXX)
broker_pid=""
store_pid=""
bench_pid=""
more_pids=""       #  the scaling table's and the failover's processes
pg_dir=""          #  the PostgreSQL cluster's directory, while it exists

cleanup () {
    local pid
    for pid in $bench_pid $store_pid $broker_pid $more_pids; do
        kill -TERM "$pid" 2>/dev/null || true
        #  A broker stopped by the failover's SIGSTOP acts on it only now
        kill -CONT "$pid" 2>/dev/null || true
    done
    for pid in $bench_pid $store_pid $broker_pid $more_pids; do
        wait "$pid" 2>/dev/null || true
    done
    [ -z "$pg_dir" ] || pg_stop || true
    if [ "$keep" = 1 ]; then
        echo "bench: kept $tmp"
    else
        rm -rf "$tmp"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

#  Wait until FILE has a line matching REGEX, while PID lives; bounded.
wait_line () {
    local file=$1 regex=$2 pid=$3 deadline=$((SECONDS + 15))
    until grep -qE "$regex" "$file" 2>/dev/null; do
        if ! kill -0 "$pid" 2>/dev/null; then
            echo "bench: process $pid exited before printing /$regex/" >&2
            return 1
        fi
        if [ $SECONDS -ge $deadline ]; then
            echo "bench: no /$regex/ from process $pid in 15 s" >&2
            return 1
        fi
        sleep 0.05
    done
}

#  Stop PID with SIGTERM; fail if it does not exit 0 within 10 s.
stop () {
    local pid=$1 name=$2 deadline=$((SECONDS + 10)) rc=0
    kill -TERM "$pid"
    while kill -0 "$pid" 2>/dev/null && [ $SECONDS -lt $deadline ]; do
        sleep 0.05
    done
    if kill -0 "$pid" 2>/dev/null; then
        kill -KILL "$pid"
        echo "bench: $name did not stop within 10 s of SIGTERM" >&2
        problems=$((problems + 1))
    fi
    wait "$pid" || rc=$?
    if [ "$rc" != 0 ]; then
        echo "bench: $name exited with $rc" >&2
        problems=$((problems + 1))
    fi
}

#  "VmRSS/RssAnon" of PID in KiB. RssAnon leaves out LMDB's mapped file.
memory () {
    awk '/^VmRSS:/ { rss = $2 } /^RssAnon:/ { anon = $2 }
         END { printf "%s/%s", rss, anon }' "/proc/$1/status"
}

start_broker () {
    "$bin/zpost-broker" --front "tcp://127.0.0.1:*" --back "ipc://$tmp/back.ipc" \
        --keys "$tmp/keys" > "$tmp/broker.out" 2> "$tmp/broker.log" &
    broker_pid=$!
    wait_line "$tmp/broker.out" '^zpost-broker ready$' "$broker_pid"
    front=$(sed -n 's/^zpost-broker front //p' "$tmp/broker.out")
    key=$(sed -n 's/^zpost-broker .* public key //p' "$tmp/broker.out")
}

#  Start the store (extra options in "$@") and wait until a PING goes
#  through it: "ready" means it sent READY, not that the broker read it.
#  A quota far above the default: the list inbox alone holds 100 MiB of
#  bodies.
start_store () {
    local log=$tmp/store-$((++stores)).log
    "$bin/zpost-store" --broker "ipc://$tmp/back.ipc" --data "${store_data:-$tmp/data}" \
        --map-size 4096 --quota 10737418240 "$@" > "$tmp/store.out" 2> "$log" &
    store_pid=$!
    wait_line "$tmp/store.out" '^zpost-store ready$' "$store_pid"
    local deadline=$((SECONDS + 15))
    until "$bin/zpost-bench" -s "$front" -k "$key" --op ping-store --count 1 \
            --timeout 500 >/dev/null 2>&1; do
        if [ $SECONDS -ge $deadline ]; then
            echo "bench: the store does not answer PING through the broker" >&2
            return 1
        fi
    done
}

# ---------------------------------------------------------------------------
#  PostgreSQL: a cluster of this run's own, as the tests make one
#  (tests/integration/pg.py): initdb refuses root, so as root every
#  PostgreSQL program runs as the postgres user (Debian's package makes
#  it); the directory is that user's, mode 0700, and holds the cluster,
#  its log and its Unix socket. No TCP. fsync, synchronous_commit and
#  full_page_writes on: a commit is on disk when it returns, as an LMDB
#  commit is after its two fdatasync; everything else is initdb's default.

pg_bin=${ZPOST_PG_BIN:-/usr/lib/postgresql/15/bin}
pg_as=()            #  runuser -u postgres -- when run as root
pg_db=zbench

pg_conninfo () {
    echo "host=$pg_dir port=5432 dbname=$1 user=$2"
}

#  One SQL statement as the superuser, bounded; its output (unaligned,
#  tuples only) in the setup log, or on stdout with --print
pg_sql () {
    local out=$tmp/pg-setup.log
    [ "$1" != --print ] || { out=/dev/stdout; shift; }
    timeout 60 "$pg_bin/psql" -X -q -A -t -F ' ' -v ON_ERROR_STOP=1 \
        -d "$(pg_conninfo postgres postgres)" -c "$1" >> "$out" 2>> "$tmp/pg-setup.log"
}

#  What the server did over the PostgreSQL rows (setup included), once the
#  store's session has ended and so has reported its counts: transactions
#  committed and rolled back (a serialization failure rolls the group
#  back, and it runs again), WAL records, full-page images, bytes, and
#  syncs of the WAL to disk
pg_counts () {
    pg_sql --print "SELECT d.xact_commit, d.xact_rollback, w.wal_records,
        w.wal_fpi, w.wal_bytes, w.wal_sync FROM pg_stat_database d, pg_stat_wal w
        WHERE d.datname = '$pg_db'"
}

#  Make and start the cluster, a login role zpost (not a superuser) and
#  its database; 1 after saying why if anything fails
pg_start () {
    local tool
    for tool in initdb pg_ctl postgres psql; do
        if [ ! -x "$pg_bin/$tool" ]; then
            echo "bench: no $pg_bin/$tool: the PostgreSQL rows need postgresql-15" \
                 "(scripts/setup.sh installs it; or set ZPOST_PG_BIN, or give" \
                 "--no-postgresql)" >&2
            return 1
        fi
    done
    if [ "$(id -u)" = 0 ]; then
        if ! id postgres > /dev/null 2>&1; then
            echo "bench: no postgres user, and initdb refuses root (postgresql-15" \
                 "makes the user; or give --no-postgresql)" >&2
            return 1
        fi
        pg_as=(runuser -u postgres --)
    fi
    pg_dir=$(mktemp -d /tmp/zpost-bench-pg.XXXXXX) || return 1
    chmod 700 "$pg_dir" || return 1
    if [ "${#pg_as[@]}" != 0 ]; then
        chown postgres: "$pg_dir" || return 1
    fi
    pg_watch
    #  The initial files need no sync of their own; the server syncs
    if ! timeout 120 "${pg_as[@]}" "$pg_bin/initdb" -D "$pg_dir/data" \
            --username postgres --auth-local trust --auth-host reject \
            --encoding UTF8 --locale C --no-sync > "$tmp/pg-setup.log" 2>&1; then
        echo "bench: initdb failed:" >&2
        cat "$tmp/pg-setup.log" >&2
        return 1
    fi
    printf '%s\n' "" "# zpost bench (scripts/bench.sh)" "listen_addresses = ''" \
        "unix_socket_directories = '$pg_dir'" "unix_socket_permissions = 0700" \
        "port = 5432" "fsync = on" "synchronous_commit = on" "full_page_writes = on" \
        "max_connections = 20" "log_min_messages = warning" \
        >> "$pg_dir/data/postgresql.conf" || return 1
    if ! timeout 90 "${pg_as[@]}" "$pg_bin/pg_ctl" -D "$pg_dir/data" \
            -l "$pg_dir/postgres.log" -w -t 60 start >> "$tmp/pg-setup.log" 2>&1; then
        echo "bench: pg_ctl start failed:" >&2
        cat "$tmp/pg-setup.log" "$pg_dir/postgres.log" >&2 2>/dev/null
        return 1
    fi
    if ! pg_sql "CREATE ROLE zpost LOGIN" \
       || ! pg_sql "CREATE DATABASE $pg_db OWNER zpost TEMPLATE template0"; then
        echo "bench: cannot make the role and database:" >&2
        cat "$tmp/pg-setup.log" >&2
        return 1
    fi
}

#  Stop the cluster (fast, then immediate, then SIGKILL to the postmaster)
#  and remove its directory; bounded. 1 if it did not stop with fast.
pg_stop () {
    local rc=0 mode postmaster="" deadline
    [ -n "$pg_dir" ] || return 0
    if [ -f "$pg_dir/data/postmaster.pid" ]; then
        postmaster=$(head -n 1 "$pg_dir/data/postmaster.pid")
        for mode in fast immediate; do
            if timeout 60 "${pg_as[@]}" "$pg_bin/pg_ctl" -D "$pg_dir/data" -w -t 30 \
                    -m "$mode" stop > /dev/null 2>&1; then
                break
            fi
            echo "bench: pg_ctl stop -m $mode failed" >&2
            rc=1
        done
        #  pg_ctl returns once postmaster.pid is gone, a moment before
        #  the postmaster exits
        deadline=$((SECONDS + 30))
        while [ -n "$postmaster" ] && kill -0 "$postmaster" 2>/dev/null \
              && [ $SECONDS -lt $deadline ]; do
            sleep 0.05
        done
        if [ -n "$postmaster" ] && kill -0 "$postmaster" 2>/dev/null; then
            echo "bench: the postmaster $postmaster outlived pg_ctl stop: SIGKILL" >&2
            kill -KILL "$postmaster" 2>/dev/null || true
            rc=1
        fi
    fi
    if [ "$keep" = 1 ] && [ -d "$pg_dir" ]; then
        cp "$pg_dir/postgres.log" "$tmp/postgres.log" 2>/dev/null || true
    fi
    rm -rf "$pg_dir"
    pg_dir=""
    return "$rc"
}

#  If this script is killed outright (SIGKILL, as a ctest timeout does),
#  no trap runs: a watcher outside its process group stops the cluster
#  once the script is gone, and leaves by itself once the directory is.
pg_watch () {
    local as=""
    [ "${#pg_as[@]}" = 0 ] || as="runuser -u postgres --"
    setsid bash -c '
        while kill -0 "$1" 2>/dev/null && [ -d "$2" ]; do sleep 1; done
        [ -d "$2" ] || exit 0
        if [ -f "$2/data/postmaster.pid" ]; then
            timeout 60 $4 "$3/pg_ctl" -D "$2/data" -w -t 30 -m immediate stop
        fi
        rm -rf "$2"' bench-pg-watch "$$" "$pg_dir" "$pg_bin" "$as" \
        < /dev/null > /dev/null 2>&1 &
}

# ---------------------------------------------------------------------------
#  Failover: the real client, two brokers, one of them killed or hung

declare -A fo_pid fo_front

#  fo_broker NAME KEYS FRONT: start broker NAME (back end ipc://$tmp/NAME.ipc)
#  on FRONT, and wait until it is ready. No key announcement: the client is
#  given the key, and a restart on a fixed front must not need port + 1.
fo_broker () {
    local name=$1
    #  A restart's shell truncates the file only once it runs: the last
    #  start's "ready" must not be read meanwhile
    rm -f "$tmp/$name.out"
    "$bin/zpost-broker" --front "$3" --back "ipc://$tmp/$name.ipc" --keys "$2" \
        --announce none > "$tmp/$name.out" 2>> "$tmp/$name.log" &
    fo_pid[$name]=$!
    more_pids="$more_pids $!"
    if ! wait_line "$tmp/$name.out" '^zpost-broker ready$' "$!"; then
        wait "${fo_pid[$name]}" 2>/dev/null || true
        more_pids=${more_pids/ ${fo_pid[$name]}/}
        return 1
    fi
    fo_front[$name]=$(sed -n 's/^zpost-broker front //p' "$tmp/$name.out")
}

#  Start broker a again on its front. Another program may have bound that
#  port while a was down (every CZMQ program's "*" takes the first free
#  port from 49152 on; hence the random "!" for these fronts): try again,
#  ten times at most, and say so.
fo_restart () {
    local tries
    for ((tries = 1; tries <= 10; tries++)); do
        fo_broker a "$tmp/fo-keys" "${fo_front[a]}" && return 0
        echo "bench: failover: broker a did not start again on ${fo_front[a]}" \
             "(try $tries): $(tail -n 1 "$tmp/a.log")" >&2
        sleep 1
    done
    return 1
}

#  Wait until a PING with target=store answers 200 through broker NAME:
#  the store's READY has reached it
fo_linked () {
    local deadline=$((SECONDS + 30))
    until "$bin/zpost-bench" -s "${fo_front[$1]}" -k "$tmp/fo-keys/broker.key" \
            --op ping-store --count 1 --timeout 500 >/dev/null 2>&1; do
        if [ $SECONDS -ge $deadline ]; then
            echo "bench: failover: no store answers PING through $1 in 30 s" >&2
            return 1
        fi
        sleep 0.05
    done
}

#  fo_client OPTIONS...: one run of the real client, "zpost --server A,B
#  ... -v list", in the background and waited for (a signal stops it at
#  once). Returns its exit status; fo_via is the broker its last try went
#  to, from its -v log.
fo_client () {
    local rc=0
    "$bin/zpost" --server "$fo_servers" --server-key "$tmp/fo-keys/broker.key" \
        "$@" -v list > "$tmp/client.out" 2> "$tmp/client.err" &
    bench_pid=$!
    wait "$bench_pid" || rc=$?
    bench_pid=""
    fo_via=$(sed -n 's/.*client_session: .* to \([^ ]*\), try [0-9]* of [0-9]*$/\1/p' \
             "$tmp/client.err" | tail -n 1)
    return "$rc"
}

#  fo_time OPTIONS...: the client, again and again until it exits 0
#  (bounded: 30 s), from the time in fo_t0. Sets fo_ms (ms from fo_t0 to
#  the good reply) and fo_runs (client runs it took).
fo_time () {
    local deadline=$((SECONDS + 30))
    fo_runs=1
    until fo_client "$@"; do
        if [ $SECONDS -ge $deadline ]; then
            echo "bench: failover: no good reply in 30 s; the client said:" >&2
            cat "$tmp/client.out" "$tmp/client.err" >&2
            return 1
        fi
        fo_runs=$((fo_runs + 1))
        sleep 0.01          #  no storm of processes if it fails at once
    done
    local t1=$EPOCHREALTIME
    fo_ms=$(awk -v a="$fo_t0" -v b="$t1" 'BEGIN { printf "%.1f", (b - a) * 1000 }')
}

#  "p50 max" of the numbers given (the p50: the lower middle one)
fo_stats () {
    printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 }
        END { printf "%.1f %.1f", v[int((NR + 1) / 2)], v[NR] }'
}

#  fo_check CASE: the reply came through the other broker
fo_check () {
    if [ "$fo_via" != "${fo_front[b]}" ]; then
        echo "bench: failover: $1: the good reply came through ${fo_via:-?}," \
             "not ${fo_front[b]}" >&2
        problems=$((problems + 1))
    fi
}

#  run_failover N: the whole measurement, N rounds of each kind, and its
#  table. Uses its own brokers, store and data, all stopped at the end.
run_failover () {
    local rounds=$1 round timeout timeouts=${FAILOVER_TIMEOUTS:-1000 3000}
    local base=() killed=() hung=() killed_runs=0 hung_runs=0 hung_rows=() stats
    [ "$quick" = 1 ] && timeouts=${timeouts%% *}
    local load_before
    load_before=$(cut -d' ' -f1-3 /proc/loadavg)
    echo "bench: failover, $rounds round(s) of each kind" >&2
    fo_broker a "$tmp/fo-keys" "tcp://127.0.0.1:!"
    #  One key pair for the deployment: b runs on a copy of a's directory
    cp -a "$tmp/fo-keys" "$tmp/fo-keys-b"
    fo_broker b "$tmp/fo-keys-b" "tcp://127.0.0.1:!"
    "$bin/zpost-store" --broker "ipc://$tmp/a.ipc" --broker "ipc://$tmp/b.ipc" \
        --data "$tmp/fo-data" --name fo-store > "$tmp/fo-store.out" 2> "$tmp/fo-store.log" &
    local store=$!
    more_pids="$more_pids $store"
    wait_line "$tmp/fo-store.out" '^zpost-store ready$' "$store"
    fo_linked a
    fo_linked b
    fo_servers="${fo_front[a]},${fo_front[b]}"

    #  The client's files (key pair, session) in a scratch home of its own
    export HOME=$tmp/fo-home XDG_CONFIG_HOME=$tmp/fo-home/config \
           XDG_STATE_HOME=$tmp/fo-home/state ZPOST_PASSWORD=failover-password-1
    mkdir -p "$HOME"
    "$bin/zpost" --server "$fo_servers" --server-key "$tmp/fo-keys/broker.key" \
        register failover > /dev/null
    "$bin/zpost" --server "$fo_servers" --server-key "$tmp/fo-keys/broker.key" \
        login failover > /dev/null

    #  The same client run with both brokers up: what a run costs anyway
    for ((round = 1; round <= rounds; round++)); do
        fo_t0=$EPOCHREALTIME
        fo_time
        base+=("$fo_ms")
    done

    for ((round = 1; round <= rounds; round++)); do
        fo_linked a
        fo_t0=$EPOCHREALTIME
        kill -KILL "${fo_pid[a]}"
        #  Reaped at once, quietly (else bash reports "Killed" later); the
        #  client starts once the broker is gone, as it would after a crash
        wait "${fo_pid[a]}" 2>/dev/null || true
        fo_time
        fo_check "kill -9"
        cp "$tmp/client.err" "$tmp/failover-kill-$round.log"
        killed+=("$fo_ms")
        killed_runs=$((killed_runs + fo_runs - 1))
        printf '  kill -9 round %d: %s ms (%d run(s) of the client)\n' \
            "$round" "$fo_ms" "$fo_runs" >&2
        more_pids=${more_pids/ ${fo_pid[a]}/}
        fo_restart
    done

    for timeout in $timeouts; do
        hung=()
        hung_runs=0
        for ((round = 1; round <= rounds; round++)); do
            fo_linked a
            fo_t0=$EPOCHREALTIME
            kill -STOP "${fo_pid[a]}"
            fo_time --timeout "$timeout"
            kill -CONT "${fo_pid[a]}"
            fo_check "SIGSTOP"
            #  The stopped broker cannot answer: the good reply comes only
            #  after the first try's timeout, or something else went on
            if awk -v a="$fo_ms" -v b="$timeout" 'BEGIN { exit !(a < b) }'; then
                echo "bench: failover: SIGSTOP round $round took $fo_ms ms," \
                     "under the client's --timeout $timeout" >&2
                problems=$((problems + 1))
            fi
            cp "$tmp/client.err" "$tmp/failover-stop-$timeout-$round.log"
            hung+=("$fo_ms")
            hung_runs=$((hung_runs + fo_runs - 1))
            printf '  SIGSTOP, --timeout %s, round %d: %s ms (%d run(s) of the client)\n' \
                "$timeout" "$round" "$fo_ms" "$fo_runs" >&2
        done
        stats=$(fo_stats "${hung[@]}")
        hung_rows+=("| SIGSTOP the first broker (client --timeout $timeout) | $rounds | ${stats% *} | ${stats#* } | $hung_runs |")
    done

    stop "$store" zpost-store
    more_pids=${more_pids/ $store/}
    for name in a b; do
        stop "${fo_pid[$name]}" "zpost-broker $name"
        more_pids=${more_pids/ ${fo_pid[$name]}/}
    done

    echo
    echo "zpost failover, $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, $(uname -r)," \
         "load $load_before -> $(cut -d' ' -f1-3 /proc/loadavg)"
    [ "$quick" = 1 ] && echo "(--quick: one round of each; the figures mean nothing)"
    echo "command: FAILOVER_TIMEOUTS=\"$timeouts\" scripts/bench.sh --failover=$rounds"
    echo "Each figure: from the signal to the broker first in the client's list to the"
    echo "exit of the first \`zpost --server A,B list\` that got a good reply (through the"
    echo "other broker; each a new process, started right after the signal)."
    echo "A killed broker's port refuses connections: the client ends that try after"
    echo "1 s of refused connects (client_session.h CLIENT_SESSION_REFUSED_WAIT), so"
    echo "that a broker restarting within it still gets the request. A stopped one"
    echo "accepts the connection (the kernel does) and never answers: only the try's"
    echo "--timeout ends it."
    echo
    echo "| case | rounds | p50 ms | max ms | extra client runs |"
    echo "|---|---|---|---|---|"
    stats=$(fo_stats "${base[@]}")
    echo "| both brokers up (no failover: one client run) | $rounds | ${stats% *} | ${stats#* } | - |"
    stats=$(fo_stats "${killed[@]}")
    echo "| kill -9 the first broker (client --timeout default, 3000) | $rounds |" \
         "${stats% *} | ${stats#* } | $killed_runs |"
    printf '%s\n' "${hung_rows[@]}"
    echo
}

# ---------------------------------------------------------------------------
#  The soak: its own store, with short retentions, and nothing else

#  Retentions short enough that a soak of minutes runs through many of
#  them; the idle sweep every 200 ms
soak_reply_keep=10
soak_session_idle=10
soak_session_max=20
if [ "$failover" != 0 ]; then
    problems=0
    echo "bench: failover, $(nproc) cores; programs in $bin; scratch in $tmp" >&2
    run_failover "$failover"
    if [ "$problems" -gt 0 ]; then
        echo "bench: failover: $problems problem(s); see above"
        exit 1
    fi
    echo "bench: failover ran, every good reply through the other broker"
    exit 0
fi

if [ "$soak" != 0 ]; then
    echo "bench: soak, $(nproc) cores; programs in $bin; scratch in $tmp" >&2
    problems=0
    stores=0
    start_broker
    start_store --reply-keep "$soak_reply_keep" --session-idle "$soak_session_idle" \
        --session-max "$soak_session_max" --sweep-interval 200
    store_start=$(memory "$store_pid")
    echo "zpost soak, $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, $(uname -r)," \
         "load $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "store: --reply-keep $soak_reply_keep --session-idle $soak_session_idle" \
         "--session-max $soak_session_max --sweep-interval 200 --map-size 4096"
    rc=0
    "$bin/zpost-bench" -s "$front" -k "$key" --soak "$soak" --clients "$many" \
        --seconds "${SOAK_SECONDS:-1800}" --prefix soak --data "$tmp/data" \
        --reply-keep "$soak_reply_keep" --retention "$soak_session_max" &
    bench_pid=$!
    wait "$bench_pid" || rc=$?
    bench_pid=""
    echo "store memory (VmRSS/RssAnon KiB): $store_start -> $(memory "$store_pid");" \
         "load $(cut -d' ' -f1-3 /proc/loadavg)"
    stop "$store_pid" zpost-store
    store_pid=""
    stop "$broker_pid" zpost-broker
    broker_pid=""
    if [ "$rc" != 0 ] || [ "$problems" -gt 0 ]; then
        echo "bench: soak: zpost-bench exit $rc, $problems problem(s); see above"
        exit 1
    fi
    echo "bench: soak ran, no errors"
    exit 0
fi

# ---------------------------------------------------------------------------
#  Rows

rows=()             #  one "label|json" per row
pg_rows=()          #  the same, on PostgreSQL
row_target=rows     #  which of the two run_row adds to
declare -A lmdb_json pg_json    #  "label/clients" -> json, for the PG/LMDB table
pg_keys=()          #  the PostgreSQL rows' keys, in order
problems=0          #  rows with errors, failed rows, bad exits
stores=0

#  The row's main JSON object, without the login burst's
field () {
    local json=${1%%,\"login_burst\"*}
    sed -n "s/.*\"$2\":\([^,}]*\).*/\1/p" <<< "$json" | tr -d '"'
}

burst_field () {
    local json=${1#*\"login_burst\":}
    [ "$json" != "$1" ] || return 0
    sed -n "s/.*\"$2\":\([^,}]*\).*/\1/p" <<< "$json" | tr -d '"'
}

#  run_row LABEL zpost-bench-options...
run_row () {
    local label=$1
    shift
    local bound=(--seconds "$seconds")
    [ "$quick" = 1 ] && bound=(--count 100)
    local json rc=0
    #  In the background and waited for, so that a signal stops the whole
    #  run at once (a trap waits for a foreground command to finish)
    "$bin/zpost-bench" -s "$front" -k "$key" --json "${bound[@]}" "$@" \
        > "$tmp/row.json" 2> "$tmp/row.err" &
    bench_pid=$!
    wait "$bench_pid" || rc=$?
    bench_pid=""
    json=$(cat "$tmp/row.json")
    local tag=""
    [ "$row_target" = rows ] || tag="[postgresql] "
    if [ -z "$json" ] || [ "$rc" -ge 2 ]; then
        echo "bench: ${tag}row \"$label\" failed (zpost-bench exit $rc):" >&2
        cat "$tmp/row.err" >&2
        json=""
        problems=$((problems + 1))
    elif [ "$rc" != 0 ]; then
        echo "bench: ${tag}row \"$label\" had errors: $json" >&2
        problems=$((problems + 1))
    fi
    local arg previous="" clients=1
    for arg in "$@"; do
        [ "$previous" != --clients ] || clients=$arg
        previous=$arg
    done
    if [ "$row_target" = rows ]; then
        rows+=("$label|$json")
        lmdb_json[$label/$clients]=$json
    else
        pg_rows+=("$label|$json")
        pg_json[$label/$clients]=$json
        pg_keys+=("$label/$clients")
    fi
    [ -n "$json" ] || return 0
    printf '  %s%-30s %8s ops/s  p50 %s ms\n' "$tag" "$label" \
        "$(field "$json" throughput)" "$(field "$json" p50_ms)" >&2
}

#  Load average at the start and the end: other work on the machine moves
#  every figure, and the reader should know how much there was
load_start=$(cut -d' ' -f1-3 /proc/loadavg)
echo "bench: $(nproc) cores; programs in $bin; scratch in $tmp" >&2
start_broker
start_store
broker_start=$(memory "$broker_pid")
store_start=$(memory "$store_pid")

login_count=()
[ "$quick" = 1 ] && login_count=(--count 2)

for clients in 1 "$many"; do
    run_row "ping-broker" --op ping-broker --clients "$clients"
    run_row "ping-store" --op ping-store --clients "$clients"
    run_row "send 1 KiB, 1 recipient" --op send --clients "$clients" --setup
done
#  The rows that run on PostgreSQL too (storage_rows, below)
storage_rows () {
    [ "$most" = "$many" ] || [ "$most" = 1 ] \
        || run_row "send 1 KiB, 1 recipient" --op send --clients "$most" --setup
    run_row "list 50 newest of $prefill" --op list --clients 1 --setup --prefill "$prefill"
    run_row "list 1000 (one page)" --op list --clients 1 --limit 1000
    run_row "read" --op read --clients 1
    #  New mail reaching a waiting WATCH (issue 14: within 100 ms of the
    #  commit): from the SEND's 200 to the WATCH's answer
    run_row "notify: SEND 200 -> WATCH" --op notify --clients 1 --setup
    run_row "notify: SEND 200 -> WATCH" --op notify --clients "$many" --setup
    #  SEARCH's worst case (issue 14, item 4; target p50 and p99 at most
    #  50 ms): an inbox of its own user filled with $prefill messages of
    #  1 KiB of English words, and a query that none holds, so every
    #  message of the inbox is looked at (zpost-bench --op search)
    run_row "search $prefill inbox, no match" --op search --clients 1 --setup \
        --prefill "$prefill" --prefix search
}
storage_rows
#  Argon2id memory is counted while a hash runs: take the store's figure
#  before the logins too
store_mid=$(memory "$store_pid")
if [ "$quick" = 1 ]; then
    run_row "login (Argon2id)" --op login --clients 1 --setup "${login_count[@]}"
    run_row "send + login burst" --op send --clients "$many" --login-burst 1
else
    #  Login is slow on purpose: a row of its own, with its own bound
    run_row "login (Argon2id)" --op login --clients 2 --setup
    run_row "send + login burst" --op send --clients "$many" --login-burst 2
fi
store_end=$(memory "$store_pid")
stop "$store_pid" zpost-store
store_pid=""

start_store --no-group-commit
store2_start=$(memory "$store_pid")
for clients in 1 "$many"; do
    run_row "send, no group commit" --op send --clients "$clients"
done
store2_end=$(memory "$store_pid")
stop "$store_pid" zpost-store
store_pid=""

#  The PostgreSQL rows: the same broker, a store on a cluster of its own
#  (pg_start), the send rows at 1, many and most clients, then list and
#  read, in the order LMDB ran them; then the cluster goes, so that the
#  scaling rows run without it
pg_load=""
pg_version=""
pg_stats=""
if [ "$postgresql" = 1 ]; then
    echo "bench: PostgreSQL rows (cluster of this run's own, $pg_bin)" >&2
    pg_load=$(cut -d' ' -f1-3 /proc/loadavg)
    if pg_start; then
        pg_version=$("$pg_bin/postgres" --version 2>/dev/null || echo "PostgreSQL ?")
        row_target=pg_rows
        store_data=$tmp/pg-data
        start_store --db "$(pg_conninfo "$pg_db" zpost)"
        pg_store_start=$(memory "$store_pid")
        for clients in 1 "$many"; do
            run_row "send 1 KiB, 1 recipient" --op send --clients "$clients" --setup
        done
        storage_rows
        pg_store_end=$(memory "$store_pid")
        stop "$store_pid" zpost-store
        store_pid=""
        #  The store's backend reports its counts as it exits: wait for
        #  them (bounded), as pg_stat_database shows them
        deadline=$((SECONDS + 10))
        until [ "$(pg_sql --print "SELECT count (*) FROM pg_stat_activity
                WHERE datname = '$pg_db'")" = 0 ] || [ $SECONDS -ge $deadline ]; do
            sleep 0.1
        done
        pg_stats=$(pg_counts) || pg_stats=""
        store_data=""
        row_target=rows
        pg_load="$pg_load -> $(cut -d' ' -f1-3 /proc/loadavg)"
        pg_stop || problems=$((problems + 1))
    else
        problems=$((problems + 1))
        pg_stop || true
    fi
fi
broker_end=$(memory "$broker_pid")
stop "$broker_pid" zpost-broker
broker_pid=""

# ---------------------------------------------------------------------------
#  Scaling: one broker and one store, beside two brokers and two stores
#
#  All five processes run at once, so that each row is taken on one set-up
#  and at once on the other, under the same load from the rest of the
#  machine: set-up 1 is broker b0 with store s0 (data scale1), set-up 2 is
#  brokers b1 and b2 (b2 on a copy of b1's key directory: one key pair, as
#  a deployment has) with stores s1 and s2 on one data directory (scale2),
#  each store linked to both. The idle set-up only heartbeats.

declare -A scale_pid scale_front
scale_rows=()       #  "label|json one|json two"

#  start_scale_broker NAME KEYS: front on an ephemeral loopback port, back
#  end ipc://$tmp/NAME.ipc
start_scale_broker () {
    local name=$1
    "$bin/zpost-broker" --front "tcp://127.0.0.1:*" --back "ipc://$tmp/$name.ipc" \
        --keys "$2" > "$tmp/$name.out" 2> "$tmp/$name.log" &
    scale_pid[$name]=$!
    more_pids="$more_pids $!"
    wait_line "$tmp/$name.out" '^zpost-broker ready$' "$!"
    scale_front[$name]=$(sed -n 's/^zpost-broker front //p' "$tmp/$name.out")
}

#  start_scale_store NAME DATA BROKER...: one store linked to each BROKER
start_scale_store () {
    local name=$1 data=$2 broker
    shift 2
    local links=()
    for broker in "$@"; do
        links+=(--broker "ipc://$tmp/$broker.ipc")
    done
    "$bin/zpost-store" "${links[@]}" --data "$data" --name "$name" \
        --map-size 4096 --quota 10737418240 > "$tmp/$name.out" 2> "$tmp/$name.log" &
    scale_pid[$name]=$!
    more_pids="$more_pids $!"
    wait_line "$tmp/$name.out" '^zpost-store ready$' "$!"
}

#  Wait until broker NAME has logged STORE's READY and a PING reaches a
#  store through it
scale_linked () {
    local broker=$1 store=$2 deadline=$((SECONDS + 15))
    wait_line "$tmp/$broker.log" "store $store ready" "${scale_pid[$broker]}"
    until "$bin/zpost-bench" -s "${scale_front[$broker]}" -k "$key" --op ping-store \
            --count 1 --timeout 500 >/dev/null 2>&1; do
        if [ $SECONDS -ge $deadline ]; then
            echo "bench: no store answers PING through $broker" >&2
            return 1
        fi
        sleep 0.05
    done
}

#  scale_measure SERVERS PREFIX zpost-bench-options...: one row on one
#  set-up; its JSON in scale_json, empty if it failed. Not in a $(...):
#  the counts of problems and the pid to stop must be this shell's.
scale_measure () {
    local servers=$1 prefix=$2
    shift 2
    local bound=(--seconds "$seconds")
    [ "$quick" = 1 ] && bound=(--count 100)
    local rc=0
    scale_json=""
    "$bin/zpost-bench" -s "$servers" -k "$key" --json --prefix "$prefix" \
        "${bound[@]}" "$@" > "$tmp/row.json" 2> "$tmp/row.err" &
    bench_pid=$!
    wait "$bench_pid" || rc=$?
    bench_pid=""
    if [ ! -s "$tmp/row.json" ] || [ "$rc" -ge 2 ]; then
        echo "bench: scaling row failed on $servers (zpost-bench exit $rc):" >&2
        cat "$tmp/row.err" >&2
        problems=$((problems + 1))
        return 0
    fi
    if [ "$rc" != 0 ]; then
        echo "bench: scaling row on $servers had errors: $(cat "$tmp/row.json")" >&2
        problems=$((problems + 1))
    fi
    scale_json=$(cat "$tmp/row.json")
}

#  scale_row LABEL zpost-bench-options...: on set-up 1, then set-up 2
scale_row () {
    local label=$1 one two
    shift
    scale_measure "${scale_front[b0]}" scaleone "$@"
    one=$scale_json
    scale_measure "${scale_front[b1]},${scale_front[b2]}" scaletwo "$@"
    two=$scale_json
    scale_rows+=("$label|$one|$two")
    printf '  %-30s %8s ops/s one, %8s ops/s two\n' "$label" \
        "$(field "$one" throughput)" "$(field "$two" throughput)" >&2
}

echo "bench: scaling, $many clients: 1 broker + 1 store, then 2 brokers + 2 stores" >&2
cp -a "$tmp/keys" "$tmp/keys-b2"
start_scale_broker b0 "$tmp/keys"
start_scale_broker b1 "$tmp/keys"
start_scale_broker b2 "$tmp/keys-b2"
start_scale_store s0 "$tmp/scale1" b0
start_scale_store s1 "$tmp/scale2" b1 b2
start_scale_store s2 "$tmp/scale2" b1 b2
scale_linked b0 s0
for broker in b1 b2; do
    for store in s1 s2; do
        scale_linked "$broker" "$store"
    done
done
scale_row "ping-broker" --op ping-broker --clients "$many"
scale_row "ping-store" --op ping-store --clients "$many"
scale_row "send 1 KiB, 1 recipient" --op send --clients "$many" --setup
for name in s0 s1 s2 b0 b1 b2; do
    stop "${scale_pid[$name]}" "zpost-$name"
    more_pids=${more_pids/ ${scale_pid[$name]}/}
done

# ---------------------------------------------------------------------------
#  The table

#  The notify rows against their target (p99 at most 100 ms)
notify_verdict=""
for row in "${rows[@]}"; do
    [ "${row%%|*}" = "notify: SEND 200 -> WATCH" ] || continue
    json=${row#*|}
    [ -n "$json" ] || continue
    notify_verdict+=$(awk -v p="$(field "$json" p99_ms)" -v c="$(field "$json" clients)" \
        'BEGIN { printf "%s clients p99 %.3f ms (%s); ", c, p, (p <= 100 ? "met" : "MISSED") }')
done

#  Throughput of the PINGs, by op and clients, for the ratios
declare -A baseline
for row in "${rows[@]}"; do
    json=${row#*|}
    [ -n "$json" ] || continue
    op=$(field "$json" op)
    case "$op" in
        ping-broker|ping-store)
            baseline[$op/$(field "$json" clients)]=$(field "$json" throughput) ;;
    esac
done

ratio () {
    local base=${baseline[$2]:-}
    if [ -z "$base" ] || [ -z "$1" ]; then
        echo "-"
    else
        awk -v a="$1" -v b="$base" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }'
    fi
}

echo
echo "zpost bench, $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, $(uname -r)," \
     "load $load_start -> $(cut -d' ' -f1-3 /proc/loadavg)"
[ "$quick" = 1 ] && echo "(--quick: counts of 100, not timed; the figures mean nothing)"
printf '%-30s %7s %10s %8s %8s %8s %8s %7s %7s %7s\n' row clients "ops/s" \
    "p50 ms" "p90 ms" "p99 ms" "max ms" errors "/store" "/broker"
for row in "${rows[@]}"; do
    label=${row%%|*}
    json=${row#*|}
    if [ -z "$json" ]; then
        printf '%-30s %s\n' "$label" "FAILED"
        continue
    fi
    clients=$(field "$json" clients)
    rate=$(field "$json" throughput)
    printf '%-30s %7s %10s %8s %8s %8s %8s %7s %7s %7s\n' "$label" "$clients" \
        "$rate" "$(field "$json" p50_ms)" "$(field "$json" p90_ms)" \
        "$(field "$json" p99_ms)" "$(field "$json" max_ms)" \
        "$(field "$json" errors)" "$(ratio "$rate" "ping-store/$clients")" \
        "$(ratio "$rate" "ping-broker/$clients")"
    if [ -n "$(burst_field "$json" ops)" ]; then
        printf '%-30s %7s %10s %8s %8s %8s %8s %7s\n' "  meanwhile: login burst" \
            "$(burst_field "$json" clients)" "$(burst_field "$json" throughput)" \
            "$(burst_field "$json" p50_ms)" "$(burst_field "$json" p90_ms)" \
            "$(burst_field "$json" p99_ms)" "$(burst_field "$json" max_ms)" \
            "$(burst_field "$json" errors)"
    fi
done

#  The login burst's effect on send p99, against the plain send row
send_p99=""
burst_p99=""
for row in "${rows[@]}"; do
    json=${row#*|}
    [ -n "$json" ] || continue
    case "${row%%|*}" in
        "send 1 KiB, 1 recipient")
            [ "$(field "$json" clients)" = "$many" ] && send_p99=$(field "$json" p99_ms) ;;
        "send + login burst")
            burst_p99=$(field "$json" p99_ms) ;;
    esac
done
echo
if [ -n "$send_p99" ] && [ -n "$burst_p99" ]; then
    awk -v a="$burst_p99" -v b="$send_p99" -v c="$many" 'BEGIN {
        printf "login burst: send p99 at %s clients %.3f ms alone, %.3f ms during the burst (x%.2f)\n",
               c, b, a, (b > 0 ? a / b : 0) }'
fi
[ -z "$notify_verdict" ] || echo "notify, target p99 <= 100 ms from the SEND's 200 to the WATCH's answer: $notify_verdict"
echo "memory (VmRSS/RssAnon KiB): broker $broker_start -> $broker_end;" \
     "store $store_start -> $store_mid -> (logins) $store_end; store --no-group-commit $store2_start -> $store2_end"
echo

#  PostgreSQL beside LMDB: each storage row on both, and PG / LMDB
if [ "$postgresql" = 1 ]; then
    echo "PostgreSQL beside LMDB, same broker, same run: ${pg_version:-PostgreSQL (did not start)}," \
         "a cluster of its own (Unix socket; fsync, synchronous_commit, full_page_writes on;" \
         "initdb defaults otherwise), store --db 'host=DIR dbname=$pg_db'; load $pg_load"
    echo "command: BENCH_SECONDS=$seconds BENCH_CLIENTS=$many BENCH_MOST=$most BENCH_PREFILL=$prefill" \
         "scripts/bench.sh$([ "$quick" = 1 ] && echo " --quick")"
    printf '%-26s %7s %10s %10s %6s %8s %8s %8s %8s %7s\n' row clients "LMDB ops/s" \
        "PG ops/s" "PG/LMDB" "p50 LMDB" "p50 PG" "p99 LMDB" "p99 PG" "errors"
    for key in "${pg_keys[@]}"; do
        one=${lmdb_json[$key]:-}
        two=${pg_json[$key]:-}
        rate_one=$(field "$one" throughput)
        rate_two=$(field "$two" throughput)
        errors_one=$(field "$one" errors)
        errors_two=$(field "$two" errors)
        printf '%-26s %7s %10s %10s %6s %8s %8s %8s %8s %7s\n' "${key%/*}" "${key##*/}" \
            "${rate_one:-FAILED}" "${rate_two:-FAILED}" \
            "$(awk -v a="$rate_two" -v b="$rate_one" 'BEGIN { if (a != "" && b > 0) printf "%.2f", a / b; else print "-" }')" \
            "$(field "$one" p50_ms)" "$(field "$two" p50_ms)" \
            "$(field "$one" p99_ms)" "$(field "$two" p99_ms)" \
            "$((${errors_one:-0} + ${errors_two:-0}))"
    done
    [ -z "${pg_store_start:-}" ] \
        || echo "store on PostgreSQL, memory (VmRSS/RssAnon KiB): $pg_store_start -> $pg_store_end"
    if [ -n "$pg_stats" ]; then
        read -r commits rollbacks records fpi bytes syncs <<< "$pg_stats"
        echo "PostgreSQL over these rows, setup included: $commits transactions committed," \
             "$rollbacks rolled back; WAL: $records records," \
             "$fpi full-page images, $((bytes / 1048576)) MiB, $syncs syncs to disk"
    fi
    echo
fi

#  The scaling table: each row on both set-ups, and two / one
echo "scaling, $many clients: one = 1 broker + 1 store; two = 2 brokers (one key pair)" \
     "+ 2 stores on one LMDB environment, each store linked to both, clients half on each broker"
echo "command: BENCH_SECONDS=$seconds BENCH_CLIENTS=$many scripts/bench.sh$([ "$quick" = 1 ] && echo " --quick")" \
     "(zpost-bench --server A,B: client i on broker i mod 2; each row on one, then at once on two)"
printf '%-26s %10s %10s %6s %8s %8s %8s %8s %7s\n' row "one ops/s" "two ops/s" "two/one" \
    "p50 one" "p50 two" "p99 one" "p99 two" errors
for row in "${scale_rows[@]}"; do
    label=${row%%|*}
    rest=${row#*|}
    one=${rest%%|*}
    two=${rest#*|}
    rate_one=$(field "$one" throughput)
    rate_two=$(field "$two" throughput)
    errors_one=$(field "$one" errors)
    errors_two=$(field "$two" errors)
    printf '%-26s %10s %10s %6s %8s %8s %8s %8s %7s\n' "$label" "${rate_one:-FAILED}" \
        "${rate_two:-FAILED}" \
        "$(awk -v a="$rate_two" -v b="$rate_one" 'BEGIN { if (a != "" && b > 0) printf "%.2f", a / b; else print "-" }')" \
        "$(field "$one" p50_ms)" "$(field "$two" p50_ms)" \
        "$(field "$one" p99_ms)" "$(field "$two" p99_ms)" \
        "$((${errors_one:-0} + ${errors_two:-0}))"
done
echo

#  The smoke run exercises the failover too, one round of each
[ "$quick" = 1 ] && run_failover 1

if [ "$problems" -gt 0 ]; then
    echo "bench: $problems problem(s); see above"
    exit 1
fi
echo "bench: every row ran, no errors"
