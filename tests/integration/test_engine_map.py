"""test_engine_map - two stores on one LMDB environment while one grows
the map (issue 10, defect 4; ZPOST.md "Architecture": several stores may
share one environment).

Two zpost-store on the same --data, a small --map-size and a larger
--map-max, both behind one broker. Clients write until the map has grown
(STATS server `map-size`), then keep sending from several threads at once,
so that both stores serve: every request must succeed. A store that does
not take up the other's new map size (MDB_MAP_RESIZED: mdb_env_set_mapsize
with 0, then retry) fails every transaction from then on.
"""

import threading

import harness as h

SCALE = h.TIME_SCALE
PASSWORD = "password-map"
THREADS = 6
PER_THREAD = 60


@h.lmdb_only("two stores on one LMDB environment while one grows the "
              "map (MDB_MAP_RESIZED); a PostgreSQL database has no map")
def test_two_stores_one_environment_map_growth(tmp):
    broker = h.start_broker(tmp)
    extra = ["--map-size", "2", "--map-max", "256"]
    first = h.start_store(tmp, broker.back, extra=extra)
    h.wait_store_ready(broker)
    h.start_store(tmp, broker.back, data=first.data_dir, extra=extra)
    # both stores have sent READY; wait until the broker has two (a PING
    # each way proves nothing about which one answered, so poll until two
    # concurrent clients can be served: plain progress below covers it)
    writers = []
    for n in range(THREADS):
        c = h.Client(broker, timeout=10 * SCALE)
        c.register("writer%d" % n, PASSWORD)
        c.login("writer%d" % n, PASSWORD)
        writers.append(c)

    start_size = writers[0].stats("server")["map-size"]
    body = "m" * (256 * 1024)
    grown = None
    for n in range(200):
        writers[0].expect(200, "SEND", "writer0", "fill%d" % n, body)
        size = writers[0].stats("server")["map-size"]
        if size > start_size:
            grown = size
            break
    assert grown, "the map did not grow past %d bytes" % start_size
    h.log("map grew from %d to %d bytes after %d sends" % (start_size, grown, n + 1))

    failures = []
    counts = []

    def work(client, index):
        ok = 0
        for k in range(PER_THREAD):
            for command, fields in (
                    ("SEND", ("writer%d" % ((index + 1) % THREADS), "after%d" % k,
                              "x" * 2048)),
                    ("LIST", ("inbox", "all", "10", "0")),
                    ("STATS", ("server",))):
                _, reply = client.call(command, *fields)
                if reply is None or reply.status != 200:
                    failures.append((command, reply))
                else:
                    ok += 1
        counts.append(ok)
    pool = [threading.Thread(target=work, args=(c, i)) for i, c in enumerate(writers)]
    for t in pool:
        t.start()
    for t in pool:
        t.join(120 * SCALE)
    for c in writers:
        c.close()
    h.log("after growth: %d requests ok, %d failed" % (sum(counts), len(failures)))
    assert not failures, "%d of %d requests failed after the map grew, e.g. %r" \
        % (len(failures), THREADS * PER_THREAD * 3, failures[:3])


if __name__ == "__main__":
    h.run_tests([test_two_stores_one_environment_map_growth])
