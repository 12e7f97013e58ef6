"""measure_migrate - time zpost-store --export / --import with N messages
(default 10,000, 1000-byte bodies, two recipients each, 10 users):
LMDB -> PostgreSQL, then PostgreSQL -> LMDB. Not a test (no test_ prefix,
ctest does not run it); prints the timings docs/SCALING.md quotes:

    cd build && ZPOST_BIN_DIR=$PWD PYTHONPATH=../tests/integration \
        /usr/bin/python3 ../tests/integration/measure_migrate.py 10000
"""
import os
import shutil
import subprocess
import sys
import tempfile
import time

import harness as h
import pg

N = int(sys.argv[1]) if len(sys.argv) > 1 else 10000
BODY = "b" * 1000


def cli(args):
    t0 = time.monotonic()
    cp = subprocess.run([h.binary("zpost-store")] + args, capture_output=True, timeout=1800)
    dt = time.monotonic() - t0
    assert cp.returncode == 0, (args, cp.stdout, cp.stderr[-3000:])
    return dt, cp.stdout.decode()


def main():
    tmp = tempfile.mkdtemp(prefix="zpost-mig-measure-")
    try:
        broker = h.start_broker(tmp)
        src = os.path.join(tmp, "src")
        store = h.Proc("store", [h.binary("zpost-store"), "--broker", broker.back,
                                 "--data", src], tmp)
        store.wait_line(r"^zpost-store ready$")
        h.wait_store_ready(broker)
        users = ["u%d" % i for i in range(10)]
        clients = {}
        for u in users:
            c = h.Client(broker, timeout=30)
            c.register(u, "password-" + u)
            c.login(u, "password-" + u)
            clients[u] = c
        # pipelined SENDs from u0, each to two users, window 200
        sender = clients["u0"]
        sock = h.curve_socket(broker, keys=sender.keys)
        sent = 0
        t0 = time.monotonic()
        while sent < N:
            batch = min(200, N - sent)
            for i in range(batch):
                to = "%s,%s" % (users[1 + (sent + i) % 9], users[1 + (sent + i + 1) % 9])
                sock.send_multipart([b""] + h.request_frames(
                    "SEND", "m%d" % (sent + i), sender.token, to, "subject %d" % (sent + i), BODY))
            for i in range(batch):
                assert sock.poll(60000), "no reply"
                frames = sock.recv_multipart()[1:]
                assert h.Reply(frames).status == 200, frames
            sent += batch
        print("sent %d messages in %.1f s" % (N, time.monotonic() - t0))
        sock.close(0)
        h.stop(store)
        dump = os.path.join(tmp, "lmdb.dump")
        dt, out = cli(["--data", src, "--export", dump])
        print("LMDB export: %.2f s, %d bytes: %s" % (dt, os.path.getsize(dump), out.strip()))
        c = pg.cluster()
        conninfo = c.conninfo(c.create_database("mig"))
        dt, out = cli(["--db", conninfo, "--import", dump])
        print("PostgreSQL import (verified): %.2f s\n%s" % (dt, out.strip()))
        dt, out = cli(["--db", conninfo, "--digest"])
        print("PostgreSQL digest: %.2f s" % dt)
        dump2 = os.path.join(tmp, "pg.dump")
        dt, out = cli(["--db", conninfo, "--export", dump2])
        print("PostgreSQL export: %.2f s: %s" % (dt, out.strip()))
        dt, out = cli(["--data", os.path.join(tmp, "back"), "--import", dump2])
        print("LMDB import (verified): %.2f s" % dt)
        print("dumps identical: %s" % (open(dump, "rb").read() == open(dump2, "rb").read()))
    finally:
        h._kill_all(h._all_procs)
        pg.shutdown()
        shutil.rmtree(tmp, ignore_errors=True)


main()
