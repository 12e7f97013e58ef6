#!/usr/bin/python3
"""measure_login_burst - does Argon2id stall other users? (issue 3, item 5)

Starts its own zpost-broker and zpost-store on loopback (through the
integration test harness), then measures the latency of PING through the
store (client -> broker -> store -> back, no LMDB), one request at a time
on one open socket:

  1. idle: N pings with nothing else running;
  2. burst: pings sent back to back for as long as a burst of 50
     concurrent LOGINs (each its own client key and socket, each an
     Argon2id verify in the store's hasher pool) takes to finish.

It prints p50 / p99 / max for both, and how long the burst took. This is
a measurement, not a test: it passes no judgement.

    /usr/bin/python3 scripts/measure_login_burst.py [--bin-dir DIR]
        [--pings N] [--logins N] [--pause S] [-- extra zpost-store options]

DIR is the build directory holding zpost-broker and zpost-store (default
$ZPOST_BIN_DIR, else ./build). Needs Debian's python3 with python3-zmq.
"""

import argparse
import os
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "tests", "integration"))


def percentile(values, p):
    """Nearest-rank percentile of a non-empty list."""
    ordered = sorted(values)
    rank = max(1, int(round(p / 100.0 * len(ordered) + 0.5)))
    return ordered[min(rank, len(ordered)) - 1]


def summary(label, samples):
    ms = [s * 1000 for s in samples]
    return "%-28s n=%-5d p50 %7.3f ms   p99 %7.3f ms   max %7.3f ms" % (
        label, len(ms), percentile(ms, 50), percentile(ms, 99), max(ms))


def ping_once(client, pause):
    time.sleep(pause)           # paced, so the pinger does not hog a core
    start = time.perf_counter()
    _, reply = client.call("PING", "store")
    elapsed = time.perf_counter() - start
    if reply is None or reply.status != 200:
        raise SystemExit("PING through the store failed: %r" % reply)
    return elapsed


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bin-dir", default=os.environ.get("ZPOST_BIN_DIR")
                        or os.path.join(os.getcwd(), "build"))
    parser.add_argument("--pings", type=int, default=500)
    parser.add_argument("--logins", type=int, default=50)
    parser.add_argument("--pause", type=float, default=0.002,
                        help="seconds between pings (default 0.002)")
    parser.add_argument("store_options", nargs="*")
    args = parser.parse_args()
    os.environ["ZPOST_BIN_DIR"] = os.path.abspath(args.bin_dir)

    import harness as h     # reads ZPOST_BIN_DIR when imported

    tmp = h.make_tmp("measure")
    try:
        broker, store = h.start_service(tmp, store_extra=args.store_options)
        #  One account per login: fifty fresh keys on one account would be
        #  a guessing attack to the throttle, and most would get 429
        setup = h.Client(broker, timeout=10)
        for i in range(args.logins):
            setup.register("bench%d" % i, "bench-password")

        pinger = h.Client(broker, timeout=10)
        for _ in range(50):                   # warm up: handshake, caches
            ping_once(pinger, 0)
        idle = [ping_once(pinger, args.pause) for _ in range(args.pings)]

        # The burst: every client connected and handshaken first (a PING to
        # the broker), then all LOGINs released at once.
        clients = [h.Client(broker, timeout=30) for _ in range(args.logins)]
        for c in clients:
            c.expect(200, "PING", "broker")
        barrier = threading.Barrier(args.logins + 1)
        results = [None] * args.logins

        def login(i):
            barrier.wait()
            start = time.perf_counter()
            _, reply = clients[i].call("LOGIN", "bench%d" % i, "bench-password")
            results[i] = (reply.status if reply else None, time.perf_counter() - start)

        threads = [threading.Thread(target=login, args=(i,)) for i in range(args.logins)]
        for t in threads:
            t.start()
        barrier.wait()
        burst_start = time.perf_counter()
        during = []
        while any(t.is_alive() for t in threads):
            during.append(ping_once(pinger, args.pause))
        burst_time = time.perf_counter() - burst_start
        for t in threads:
            t.join()

        statuses = {}
        for status, _ in results:
            statuses[status] = statuses.get(status, 0) + 1
        login_times = [elapsed for _, elapsed in results]
        print("zpost-store %s; %d cores; store options %r"
              % (broker.version, os.cpu_count(), args.store_options))
        print(summary("PING store, idle", idle))
        print(summary("PING store, %d LOGINs" % args.logins, during))
        print("burst of %d concurrent LOGINs: %.2f s; statuses %r; LOGIN latency "
              "p50 %.0f ms, max %.0f ms"
              % (args.logins, burst_time, statuses,
                 percentile(login_times, 50) * 1000, max(login_times) * 1000))
        h.stop(store.proc)
        h.stop(broker.proc)
    finally:
        h.remove_tmp(tmp)


if __name__ == "__main__":
    main()
