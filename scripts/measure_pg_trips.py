#!/usr/bin/python3
"""measure_pg_trips - round trips to PostgreSQL per request (issue 13)

Starts its own throwaway PostgreSQL cluster (tests/integration/pg.py), a
zpost-broker and one zpost-store on it, with ZPOST_PG_TRACE=1: the store
then logs every round trip it makes to the database (one libpq pipeline
sync, or one statement outside the pipeline) and the commands it carried.
One client at a time sends a fixed workload, waiting for each reply, so
every group commit holds one request and the figures are deterministic:

    REGISTER alice, bob, carol, dave; LOGIN alice, bob;
    20 SENDs alice -> bob,carol,dave; 30 SENDs alice -> bob;
    bob: LIST inbox (limit 50: a full page), READ, DELETE, STATS user,
    STATS server, LOGOUT

and prints, per command kind, the round trips and the commands (every
statement, BEGIN, SAVEPOINT, RELEASE and COMMIT included) that one
request cost, everything from its admission to its reply: the admission
read, the throttle, the group's transaction and its sweep. The timer sweep
is put off (--sweep-interval 3600000) so that it adds nothing. This is a
measurement, not a test; it passes no judgement.

    /usr/bin/python3 scripts/measure_pg_trips.py [--bin-dir DIR]
        [--wait-file PATH] [--detail] [--timeout S]

DIR is the build directory (default $ZPOST_BIN_DIR, else ./build); a
store built before the counter existed logs no trips, and the script says
so. --wait-file: wait until PATH exists before starting anything (on a
shared machine, until a long measurement elsewhere is over). --detail
prints the commands of each round trip of the first request of each kind.
The whole run is bounded by --timeout (default 300 s); the cluster and the
processes it started are stopped on every way out.
"""

import argparse
import collections
import os
import re
import signal
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "tests", "integration"))

TRIP = re.compile(r"store_pg: trip (\d+): (\d+):(.*)$")
PASSWORD = "password-trips"


class Trips:
    """The store's trip lines, read from its log as they come."""

    def __init__(self, store):
        self.store = store
        self.last = 0           # the last trip number counted

    def _all(self):
        out = []
        for line in self.store.log_text().splitlines():
            m = TRIP.search(line)
            if m:
                out.append((int(m.group(1)), int(m.group(2)), m.group(3).split()))
        return out

    def mark(self):
        trips = self._all()
        self.last = trips[-1][0] if trips else 0

    def since(self):
        """The trips after the mark, as (commands, names); moves the mark."""
        new = [(count, names) for number, count, names in self._all()
               if number > self.last]
        self.mark()
        return new


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bin-dir", default=os.environ.get("ZPOST_BIN_DIR")
                        or os.path.join(os.getcwd(), "build"))
    parser.add_argument("--wait-file", default=None)
    parser.add_argument("--detail", action="store_true")
    parser.add_argument("--timeout", type=float, default=300.0)
    args = parser.parse_args()

    if args.wait_file:
        while not os.path.exists(args.wait_file):
            time.sleep(30)

    os.environ["ZPOST_BIN_DIR"] = os.path.abspath(args.bin_dir)
    import harness as h
    import pg

    def on_alarm(signum, frame):
        raise SystemExit("measure_pg_trips: not done within %.0f s" % args.timeout)
    signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(int(args.timeout))

    tmp = h.make_tmp("pgtrips")
    cluster = pg.Cluster()
    procs = []
    try:
        cluster.start()
        dbname = cluster.create_database("trips")
        broker = h.start_broker(tmp)
        procs.append(broker.proc)
        env = h.clean_env()
        env["ZPOST_PG_TRACE"] = "1"
        store = h.Proc("store", [h.binary("zpost-store"), "--broker", broker.back,
                                 "--data", os.path.join(tmp, "data"),
                                 "--db", cluster.conninfo(dbname),
                                 "--sweep-interval", "3600000"], tmp, env=env)
        procs.append(store)
        store.wait_line(r"^zpost-store ready$")
        h.wait_store_ready(broker)
        trips = Trips(store)
        trips.mark()

        costs = collections.OrderedDict()   # kind -> [(trips, commands)]
        details = {}

        def measure(kind, client, status, command, *fields):
            trips.mark()
            reply = client.expect(status, command, *fields, timeout=10.0)
            got = trips.since()
            costs.setdefault(kind, []).append(
                (len(got), sum(count for count, _ in got)))
            details.setdefault(kind, got)
            return reply

        clients = {}
        for name in ("alice", "bob", "carol", "dave"):
            clients[name] = h.Client(broker, timeout=10.0)
            measure("REGISTER", clients[name], 200, "REGISTER", name, PASSWORD)
        if not costs["REGISTER"][0][0]:
            raise SystemExit("the store logged no round trips: it was built "
                             "without the counter (ZPOST_PG_TRACE)")
        for name in ("alice", "bob"):
            reply = measure("LOGIN", clients[name], 200, "LOGIN", name, PASSWORD)
            clients[name].token = reply.fields[0].decode()
        alice, bob = clients["alice"], clients["bob"]
        for index in range(20):
            measure("SEND (3 recipients)", alice, 200, "SEND", "bob,carol,dave",
                    "three %d" % index, "body %d" % index)
        for index in range(30):
            measure("SEND (1 recipient)", alice, 200, "SEND", "bob",
                    "one %d" % index, "body %d" % index)
        listing = measure("LIST (a page of 50)", bob, 200, "LIST", "inbox", "all",
                          "50", "0")
        rows = h.rows(listing, 7)
        assert len(rows) == 50, "LIST gave %d rows, not 50" % len(rows)
        first = rows[0][0]
        measure("READ (unread)", bob, 200, "READ", first)
        measure("READ (seen)", bob, 200, "READ", first)
        measure("DELETE", bob, 200, "DELETE", "inbox", first)
        measure("STATS user", bob, 200, "STATS", "user")
        stats = measure("STATS server", bob, 200, "STATS", "server")
        figures = dict(h.rows(stats, 2))
        assert figures["messages"] == "50", figures
        measure("LOGOUT", bob, 200, "LOGOUT")

        print("round trips to PostgreSQL per request (store %s)" % args.bin_dir)
        print("%-22s %5s %12s %12s" % ("command", "count", "round trips",
                                        "commands"))
        for kind, samples in costs.items():
            t = [s[0] for s in samples]
            c = [s[1] for s in samples]
            span = lambda v: ("%d" % v[0]) if min(v) == max(v) else \
                "%.1f (%d-%d)" % (sum(v) / len(v), min(v), max(v))
            print("%-22s %5d %12s %12s" % (kind, len(samples), span(t), span(c)))
        if args.detail:
            for kind, got in details.items():
                print("\n%s: the first request's round trips" % kind)
                for count, names in got:
                    print("  %2d: %s" % (count, " ".join(names)))
        for client in clients.values():
            client.close()
    finally:
        signal.alarm(0)
        for proc in reversed(procs):
            if proc.alive():
                try:
                    h.stop(proc)
                except AssertionError as e:
                    print("measure_pg_trips: %s" % e, file=sys.stderr)
        for problem in cluster.stop():
            print("measure_pg_trips: %s" % problem, file=sys.stderr)
        h.remove_tmp(tmp)


if __name__ == "__main__":
    main()
