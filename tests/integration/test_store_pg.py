"""test_store_pg - the PostgreSQL back end of zpost-store (issue 13, items
1 and 2), against this script's throw-away cluster on a Unix socket
(pg.py), whatever back end ZPOST_TEST_DB names for the rest of the suite.

- The record selftests (store_records, store_messages, store_server,
  store_dump) run against PostgreSQL: ZPOST_SCRATCH_PG makes each scratch
  database a fresh PostgreSQL database; the log must show the PostgreSQL
  connection.
- A database written by a newer schema is refused: the store exits 1 and
  says which schema it found.
- A database of schema 1 (before the shared throttle) is migrated to the
  current schema when a store starts on it, and keeps its mail.
- The login throttle is the database's: two stores, each behind its own
  broker, on one database: failures made through one count on the other
  (429 there, the password not checked), a right password through either
  resets them for both.
- The database stops under a running store: a SEND is answered 503 (never
  500, never silence); once the database is back, the store reconnects by
  itself and the same SEND, retried with its request id, is stored once.
- Eight senders through two stores to one recipient: no update of the
  shared user rows is lost, no SEND is answered 500.
- Two stores, each behind its own broker, share one database. Each SEND
  goes to both brokers at once with one request id: both copies get 200
  with the same message-id, the sent folder holds each message once, and
  message ids are distinct across the two stores.
- Two stores, eight senders among four users (each SEND writes its
  sender's and its recipient's rows): the stores' groups never deadlock
  on those rows (one writer at a time: the writers' lock), and nothing is
  lost or answered 500 (a deadlock would show in the server's log).
- A store frozen (SIGSTOP) in the middle of a transaction, holding the
  recipient's row lock, does not stop the other store: the database ends
  the frozen store's session (idle_in_transaction_session_timeout), the
  other store's SEND to that recipient is answered 200 while the first is
  still frozen, and the frozen store, continued, serves again by itself.
  Every SEND is answered 200 in the end and the inbox counts each once.
- What the server or libpq says is logged on one line: a database that
  cannot be reached (libpq's message spans lines) and a database the
  store's role may not use (the server's message, detail and hint).
- --digest and --export only read: on a database without the schema
  they exit 1 and create nothing; on a schema-1 database they exit 1 and
  migrate nothing (a serving store migrates it).
- A read-only server (a standby; here default_transaction_read_only):
  a serving store refuses it at start (exit 1) with a sentence that names
  target_session_attrs=read-write, and --digest and --export read it
  (they create nothing), with the digest of the data.
- Round trips, counted by the store itself (ZPOST_PG_TRACE=1 logs each):
  a page of LIST is one statement with its messages, SEND reads no user
  row twice, the sweep's two expiries are one statement (z_sweep), STATS reads
  its figures in one statement, and each still gives the right answer.
"""

import os
import re
import signal
import subprocess
import threading
import time

import harness as h
import pg

PASSWORD = "password-pg"


def _pg():
    return pg.cluster()


def _pg_store(tmp, broker, dbname, data=None, wait=True, extra=()):
    """A store on database dbname of the cluster, made if it is new."""
    cluster = _pg()
    existing = cluster.sql("SELECT 1 FROM pg_database WHERE datname = '%s'" % dbname)
    if not existing.strip():
        cluster.sql("CREATE DATABASE %s OWNER %s TEMPLATE template0" % (dbname, pg.ROLE))
    data = data or os.path.join(tmp, "data-" + dbname)
    argv = h.WRAP + [h.binary("zpost-store"), "--broker", broker.back,
                     "--data", data, "--db", cluster.conninfo(dbname)] + list(extra)
    proc = h.Proc("store", argv, tmp)
    if wait:
        proc.wait_line(r"^zpost-store ready$")
    return proc


def _user(broker, name):
    client = h.Client(broker, timeout=10.0)
    client.register(name, PASSWORD)
    reply = client.expect(200, "LOGIN", name, PASSWORD)
    client.token = reply.fields[0].decode()
    return client


def test_selftests_on_postgresql(tmp):
    cluster = _pg()
    env = dict(os.environ, ZPOST_SCRATCH_PG=cluster.conninfo("postgres", pg.SUPERUSER))
    for name in ("store_records", "store_messages", "store_server", "store_dump"):
        cp = subprocess.run([h.binary("zpost_selftest"), name, "-v"], env=env,
                            cwd=tmp, capture_output=True, timeout=120)
        err = cp.stdout.decode(errors="replace") + cp.stderr.decode(errors="replace")
        assert cp.returncode == 0, "selftest %s on PostgreSQL failed (%d): %s %s" % (
            name, cp.returncode, cp.stdout.decode(errors="replace"), err[-3000:])
        assert "store_pg: connected" in err, \
            "selftest %s did not use PostgreSQL: %s" % (name, err[-2000:])
    left = cluster.sql("SELECT datname FROM pg_database WHERE datname LIKE 'zs_%'")
    assert not left.strip(), "scratch databases left behind: %r" % left


def test_newer_schema_refused(tmp):
    broker = h.start_broker(tmp)
    store = _pg_store(tmp, broker, "schema_test")
    h.wait_store_ready(broker)
    h.stop(store)
    cluster = _pg()
    assert cluster.sql("SELECT value FROM zpost_meta WHERE name = 'schema-version'",
                        "schema_test").strip() == "4"
    cluster.sql("UPDATE zpost_meta SET value = 99 WHERE name = 'schema-version'",
                 "schema_test")
    store = _pg_store(tmp, broker, "schema_test", wait=False)
    store.expected_exit = True
    h.wait_until(lambda: store.popen.poll() is not None, 20.0, 0.1,
                 "the store to refuse the newer schema")
    assert store.popen.returncode == 1, store.popen.returncode
    assert "schema 99" in store.log_text(), store.log_text()


def test_schema_1_migrated(tmp):
    """A database as a schema-1 store left it (no throttle table, no
    flagged mark, version 1) is brought to schema 4 by the next store,
    its mail kept, and found by SEARCH."""
    broker = h.start_broker(tmp)
    store = _pg_store(tmp, broker, "migrate_test")
    h.wait_store_ready(broker)
    alice = _user(broker, "alice")
    alice.expect(200, "SEND", "alice", "kept", "body")
    h.stop(store)
    cluster = _pg()
    cluster.sql("ALTER TABLE zpost_folders DROP COLUMN flagged; "
                 "ALTER TABLE zpost_messages DROP COLUMN thread_id, "
                 "DROP COLUMN in_reply_to; "
                 "DROP FUNCTION zpost_throttle_charge, zpost_throttle_refund, "
                 "zpost_throttle_success, "
                 "zpost_throttle_delay, zpost_now_ms; DROP TABLE zpost_throttle; "
                 "UPDATE zpost_meta SET value = 1 WHERE name = 'schema-version'",
                 "migrate_test")
    # a reader migrates nothing: it says who does
    rc, out, err = _store_cli(tmp, ["--data", os.path.join(tmp, "cli"), "--digest",
                                    "--db", cluster.conninfo("migrate_test")])
    assert rc == 1 and "holds schema 1" in err, (rc, out, err)
    assert cluster.sql("SELECT value FROM zpost_meta WHERE name = 'schema-version'",
                       "migrate_test").strip() == "1"
    store = _pg_store(tmp, broker, "migrate_test")
    h.wait_store_ready(broker)
    assert "migrated the schema from version 1 to 4" in store.log_text(), \
        store.log_text()
    assert cluster.sql("SELECT value FROM zpost_meta WHERE name = 'schema-version'",
                        "migrate_test").strip() == "4"
    found = alice.expect(200, "SEARCH", "inbox", "subject", "KEPT", "10", "0")
    assert [row[3] for row in h.rows(found, 7)] == ["kept"], found
    listing = alice.expect(200, "LIST", "inbox", "all", "10", "0")
    assert [row[3] for row in h.rows(listing, 7)] == ["kept"], listing
    # and the throttle's table is there and used
    bad = h.Client(broker, timeout=10.0)
    _, reply = bad.call("LOGIN", "alice", "wrong-password")
    assert reply.status == 403, reply
    assert cluster.sql("SELECT failures FROM zpost_throttle WHERE key = 'user:alice'",
                        "migrate_test").strip() == "1"


def test_throttle_shared_by_stores(tmp):
    """Failures through one store count on the other: a guesser gains
    nothing by spreading attempts over the stores of one database."""
    os.mkdir(os.path.join(tmp, "b2"), 0o700)
    b1 = h.start_broker(tmp)
    b2 = h.start_broker(os.path.join(tmp, "b2"), keys=b1.keys_dir)
    # a first delay far longer than the test: no check races its end
    slow = ["--throttle-delay", "120000"]
    _pg_store(tmp, b1, "throttle_test", data=os.path.join(tmp, "d1"), extra=slow)
    _pg_store(tmp, b2, "throttle_test", data=os.path.join(tmp, "d2"), extra=slow)
    h.wait_store_ready(b1)
    h.wait_store_ready(b2)
    owner = _user(b1, "frank")
    # five failures from fresh keys, all through the first store: the
    # account's counter reaches its delay there
    for attempt in range(5):
        guesser = h.Client(b1, timeout=10.0)
        _, reply = guesser.call("LOGIN", "frank", "guess-%d" % attempt)
        assert reply is not None and reply.status == 403, (attempt, reply)
    # the second store knows: 429, whatever the password
    for password in ("guess-x", PASSWORD):
        other = h.Client(b2, timeout=10.0)
        _, reply = other.call("LOGIN", "frank", password)
        assert reply is not None and reply.status == 429, \
            "a fresh key through the other store: %r" % reply
        assert 1 <= int(reply.fields[0]) <= 120, reply
    # one client key's failures spread over both stores count on one counter
    keys = h.Client(b1).keys
    for attempt in range(5):
        broker = b1 if attempt % 2 == 0 else b2
        spread = h.Client(broker, keys=keys, timeout=10.0)
        _, reply = spread.call("LOGIN", "nobody-%d" % attempt, "guess")
        assert reply is not None and reply.status == 403, (attempt, reply)
    for broker in (b1, b2):
        _, reply = h.Client(broker, keys=keys, timeout=10.0).call(
            "LOGIN", "nobody-else", "guess")
        assert reply is not None and reply.status == 429, reply
    # the owner, on the key that logged in to the account before, is not
    # held back by the account's counter, on either store
    for broker in (b1, b2):
        mine = h.Client(broker, keys=owner.keys, timeout=10.0)
        mine.expect(200, "LOGIN", "frank", PASSWORD)
    # and a right password resets its key's counter for every store: the
    # spread key logs in (its counter is in its delay: 429 first), so check
    # the row is gone once a login through the other store succeeded
    cluster = _pg()
    assert cluster.sql("SELECT failures FROM zpost_throttle WHERE key = 'user:frank'",
                        "throttle_test").strip() == "5"


def test_database_restart_is_503(tmp):
    broker = h.start_broker(tmp)
    # No sweep: one that runs while the database is down fails to connect,
    # and holds the next attempt off for a second, and a SEND within that
    # second is rightly 503; this test is about the connection found dead
    # by the SEND itself
    _pg_store(tmp, broker, "restart_test",
              extra=["--heartbeat", "500", "--sweep-interval", "3600000"])
    h.wait_store_ready(broker)
    alice = _user(broker, "alice")
    alice.expect(200, "SEND", "alice", "before", "body")
    cluster = _pg()
    cluster.halt()
    statuses = []
    request_id = h.new_request_id()
    try:
        for _ in range(3):
            _, reply = alice.call("SEND", "alice", "during", "body",
                                  request_id=request_id, timeout=15.0)
            assert reply is not None, "no reply while the database was down"
            statuses.append(reply.status)
    finally:
        cluster.resume()
    assert statuses and all(s == 503 for s in statuses), statuses
    # back: the store reconnects by itself; the retried SEND is stored once
    got = {}

    def sent():
        _, reply = alice.call("SEND", "alice", "during", "body",
                              request_id=request_id, timeout=10.0)
        got["reply"] = reply
        return reply is not None and reply.status == 200
    h.wait_until(sent, 30.0, 0.2, "a SEND to succeed after the database came back")
    _, again = alice.call("SEND", "alice", "during", "body", request_id=request_id)
    assert again.fields == got["reply"].fields, (again, got["reply"])
    listing = alice.expect(200, "LIST", "sent", "all", "100", "0")
    subjects = [row[3] for row in h.rows(listing, 7)]
    assert subjects.count("during") == 1, subjects
    # a restart while the store is idle: its connection is dead, which it
    # finds out only by using it; the commit connects again and runs the
    # group once more, so the first SEND after it is served, not 503
    cluster.restart()
    alice.expect(200, "SEND", "alice", "after", "body", timeout=15.0)


def test_two_stores_one_database(tmp):
    os.mkdir(os.path.join(tmp, "b2"), 0o700)
    b1 = h.start_broker(tmp)
    b2 = h.start_broker(os.path.join(tmp, "b2"), keys=b1.keys_dir)
    _pg_store(tmp, b1, "shared_test", data=os.path.join(tmp, "d1"))
    _pg_store(tmp, b2, "shared_test", data=os.path.join(tmp, "d2"))
    h.wait_store_ready(b1)
    h.wait_store_ready(b2)
    first = _user(b1, "carol")
    second = h.Client(b2, keys=first.keys, timeout=10.0)
    second.token = first.token
    rounds = 40
    ids = set()
    for index in range(rounds):
        request_id = h.new_request_id()
        replies = [None, None]

        def send(slot, client):
            _, replies[slot] = client.call("SEND", "carol", "s%d" % index, "b",
                                           request_id=request_id)
        threads = [threading.Thread(target=send, args=(0, first)),
                   threading.Thread(target=send, args=(1, second))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        for reply in replies:
            assert reply is not None and reply.status == 200, replies
        assert replies[0].fields == replies[1].fields, \
            "two copies, two answers: %r" % replies
        ids.add(replies[0].fields[0])
        # and a request of its own on each store: ids never collide
        for client in (first, second):
            ids.add(client.expect(200, "SEND", "carol", "own", "b").fields[0])
    assert len(ids) == 3 * rounds, "message ids collided: %d" % len(ids)
    listing = first.expect(200, "LIST", "sent", "all", "500", "0")
    subjects = [row[3] for row in h.rows(listing, 7)]
    for index in range(rounds):
        assert subjects.count("s%d" % index) == 1, (index, subjects)
    assert len(subjects) == 3 * rounds, len(subjects)


def test_two_stores_same_rows(tmp):
    """Eight senders, four through each store, all to one recipient: every
    SEND updates the same two user rows on both stores at once. No update
    is lost (SERIALIZABLE: a conflict runs the group again) and no SEND
    is answered 500; a 503 (conflicts that outlast the group's retries)
    is retried by the sender with its request id, as a client does.
    Neither store logs an error: a conflict is not one."""
    os.mkdir(os.path.join(tmp, "b2"), 0o700)
    b1 = h.start_broker(tmp)
    b2 = h.start_broker(os.path.join(tmp, "b2"), keys=b1.keys_dir)
    stores = [_pg_store(tmp, b1, "rows_test", data=os.path.join(tmp, "d1")),
              _pg_store(tmp, b2, "rows_test", data=os.path.join(tmp, "d2"))]
    h.wait_store_ready(b1)
    h.wait_store_ready(b2)
    _user(b1, "dora")
    sender = _user(b2, "eve")
    per_thread = 25
    acked = []
    statuses = []
    lock = threading.Lock()

    def run(broker):
        client = h.Client(broker, keys=sender.keys, timeout=15.0)
        client.token = sender.token
        for index in range(per_thread):
            _, reply = client.call_as_client("SEND", "dora", "x", "b" * 100, tries=10)
            with lock:
                statuses.append(reply.status if reply else None)
                if reply is not None and reply.status == 200:
                    acked.append(reply.fields[0])
        client.close()
    threads = [threading.Thread(target=run, args=(b1 if n % 2 else b2,))
               for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert 500 not in statuses, statuses
    assert len(acked) == 8 * per_thread, (len(acked), statuses)
    assert len(set(acked)) == len(acked), "a message id twice"
    dora = h.Client(b2, timeout=10.0)
    reply = dora.expect(200, "LOGIN", "dora", PASSWORD)
    dora.token = reply.fields[0].decode()
    stats = dict(h.rows(dora.expect(200, "STATS", "user"), 2))
    assert int(stats["inbox-count"]) == len(acked), (stats, len(acked))
    assert int(stats["inbox-bytes"]) == 100 * len(acked), stats
    eve = dict(h.rows(sender.expect(200, "STATS", "user"), 2))
    assert int(eve["sent-count"]) == len(acked), (eve, len(acked))
    # conflicts are the stores' daily bread here, not errors of theirs
    for store in stores:
        errors = [line for line in store.log_text().splitlines()
                  if line.startswith("E:")]
        assert not errors, errors


def test_two_stores_many_rows_no_deadlock(tmp):
    cluster = _pg()
    os.mkdir(os.path.join(tmp, "b2"), 0o700)
    b1 = h.start_broker(tmp)
    b2 = h.start_broker(os.path.join(tmp, "b2"), keys=b1.keys_dir)
    _pg_store(tmp, b1, "many_rows_test", data=os.path.join(tmp, "d1"))
    _pg_store(tmp, b2, "many_rows_test", data=os.path.join(tmp, "d2"))
    h.wait_store_ready(b1)
    h.wait_store_ready(b2)
    names = ["ua", "ub", "uc", "ud"]
    users = {name: _user(b1, name) for name in names}
    log_before = len(cluster.log_tail(1000000))
    per_thread = 60
    statuses = []
    lock = threading.Lock()

    def run(index):
        sender = names[index % 4]
        client = h.Client(b1 if index % 2 else b2, keys=users[sender].keys,
                          timeout=15.0 * h.TIME_SCALE)
        client.token = users[sender].token
        for count in range(per_thread):
            # each sender writes to the others in turn: groups of both
            # stores hold the rows of all four users, in every order
            recipient = names[(index + 1 + count % 3) % 4]
            _, reply = client.call_as_client("SEND", recipient, "x", "b", tries=10)
            with lock:
                statuses.append(reply.status if reply else None)
        client.close()
    threads = [threading.Thread(target=run, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert statuses.count(200) == 8 * per_thread, statuses
    log = cluster.log_tail(1000000)[log_before:]
    deadlocks = [line for line in log if "deadlock detected" in line]
    assert not deadlocks, "%d deadlocks between the stores" % len(deadlocks)
    total = 0
    for name in names:
        stats = dict(h.rows(users[name].expect(200, "STATS", "user"), 2))
        total += int(stats["inbox-count"])
    assert total == 8 * per_thread, total


def _frozen_holds_row(cluster, dbname, app, user):
    """True if the session named app is idle in a transaction that has
    written, and the row of user is locked: with nobody else writing, by
    that session."""
    state = cluster.sql("SELECT state || ' ' || (backend_xid IS NOT NULL) FROM "
                        "pg_stat_activity WHERE application_name = '%s'" % app).strip()
    if state != "idle in transaction true":
        return False
    for _ in range(3):
        free = cluster.sql("SELECT count (*) FROM (SELECT 1 FROM zpost_users WHERE "
                           "name = '%s' FOR UPDATE SKIP LOCKED) AS row" % user,
                           dbname).strip()
        if free != "0":
            return False
    return True


def test_frozen_store_does_not_stall_others(tmp):
    cluster = _pg()
    dbname = "frozen_test"
    app = "zpost_frozen"
    os.mkdir(os.path.join(tmp, "b2"), 0o700)
    b1 = h.start_broker(tmp)
    b2 = h.start_broker(os.path.join(tmp, "b2"), keys=b1.keys_dir)
    # the frozen store's sessions carry a name of their own: the
    # connection string's application_name wins over the store's
    cluster.sql("CREATE DATABASE %s OWNER %s TEMPLATE template0" % (dbname, pg.ROLE))
    argv = h.WRAP + [h.binary("zpost-store"), "--broker", b1.back,
                     "--data", os.path.join(tmp, "d1"),
                     "--db", cluster.conninfo(dbname) + " application_name=" + app]
    frozen = h.Proc("store", argv, tmp)
    frozen.wait_line(r"^zpost-store ready$")
    _pg_store(tmp, b2, dbname, data=os.path.join(tmp, "d2"))
    h.wait_store_ready(b1)
    h.wait_store_ready(b2)
    _user(b1, "dora")
    sender = _user(b1, "eve")
    stop = threading.Event()
    statuses = []
    acked = []
    lock = threading.Lock()

    def keep_sending():
        # through the store to be frozen: it is in a transaction that
        # holds dora's row most of the time
        client = h.Client(b1, keys=sender.keys, timeout=10.0 * h.TIME_SCALE)
        client.token = sender.token
        while not stop.is_set():
            _, reply = client.call_as_client("SEND", "dora", "bg", "b" * 10, tries=40)
            with lock:
                statuses.append(reply.status if reply else None)
                if reply is not None and reply.status == 200:
                    acked.append(reply.fields[0])
        client.close()
    threads = [threading.Thread(target=keep_sending) for _ in range(3)]
    for t in threads:
        t.start()
    pid = frozen.popen.pid
    try:
        # freeze the store until it is caught holding dora's row
        caught = False
        deadline = time.monotonic() + 120.0 * h.TIME_SCALE
        while not caught and time.monotonic() < deadline:
            os.kill(pid, signal.SIGSTOP)
            caught = _frozen_holds_row(cluster, dbname, app, "dora")
            if not caught:
                os.kill(pid, signal.SIGCONT)
                time.sleep(0.02)        # let it run into its next transaction
        assert caught, "the store was never caught in a transaction holding the row"
        # the other store's SEND to dora needs that row
        probe = h.Client(b2, keys=sender.keys, timeout=20.0 * h.TIME_SCALE)
        probe.token = sender.token
        _, reply = probe.call_as_client("SEND", "dora", "past the frozen store", "b",
                                        tries=6)
        probe.close()
        assert reply is not None and reply.status == 200, \
            "a frozen store's lock held the other store: %r" % reply
        with lock:
            acked.append(reply.fields[0])
        sessions = cluster.sql("SELECT count (*) FROM pg_stat_activity WHERE "
                               "application_name = '%s'" % app).strip()
        assert sessions == "0", "the frozen store's session is still there"
        os.kill(pid, signal.SIGCONT)
        # continued, it finds its connection gone, connects again, serves
        h.wait_until(lambda: cluster.sql(
            "SELECT count (*) FROM pg_stat_activity WHERE application_name = '%s'"
            % app).strip() != "0", 60.0 * h.TIME_SCALE, 0.1,
            "the continued store to connect again")
        with lock:
            before = len(acked)
        h.wait_until(lambda: len(acked) > before + 5, 60.0 * h.TIME_SCALE, 0.1,
                     "SENDs through the continued store")
    finally:
        os.kill(pid, signal.SIGCONT)
        stop.set()
        for t in threads:
            t.join()
    assert all(status == 200 for status in statuses), statuses
    assert len(set(acked)) == len(acked), "a message id twice"
    dora = h.Client(b2, timeout=10.0)
    reply = dora.expect(200, "LOGIN", "dora", PASSWORD)
    dora.token = reply.fields[0].decode()
    stats = dict(h.rows(dora.expect(200, "STATS", "user"), 2))
    assert int(stats["inbox-count"]) == len(acked), (stats, len(acked))


def _store_cli(tmp, args):
    cp = subprocess.run(h.WRAP + [h.binary("zpost-store")] + list(args),
                        capture_output=True, cwd=tmp, timeout=120,
                        env=h.clean_env())
    return cp.returncode, cp.stdout.decode(errors="replace"), \
        cp.stderr.decode(errors="replace")


def _log_lines_whole(text):
    """Every line of a store's stderr is a log line or the store's own."""
    stray = [line for line in text.splitlines()
             if not re.match(r"^([DIWEF]: \(zpost-store\) |zpost-store)", line)]
    assert not stray, "lines that are not log lines: %r\n%s" % (stray, text)


def test_errors_on_one_line(tmp):
    cluster = _pg()
    # nothing listens there: libpq's message spans two lines
    rc, out, err = _store_cli(tmp, ["--data", os.path.join(tmp, "d"), "--digest",
                                    "--db", "host=%s dbname=x connect_timeout=2"
                                    % os.path.join(tmp, "nowhere")])
    assert rc == 1, (rc, out, err)
    assert "cannot connect" in err, err
    _log_lines_whole(err)
    # the server refuses the role: its words in one line
    cluster.sql("CREATE DATABASE oneline_test TEMPLATE template0")
    cluster.sql("REVOKE CONNECT ON DATABASE oneline_test FROM PUBLIC")
    rc, out, err = _store_cli(tmp, ["--data", os.path.join(tmp, "d"), "--digest",
                                    "--db", cluster.conninfo("oneline_test")])
    assert rc == 1, (rc, out, err)
    assert "permission denied" in err, err
    _log_lines_whole(err)


def test_readers_create_nothing(tmp):
    cluster = _pg()
    cluster.sql("CREATE DATABASE empty_test OWNER %s TEMPLATE template0" % pg.ROLE)
    db_args = ["--data", os.path.join(tmp, "cli"), "--db", cluster.conninfo("empty_test")]
    rc, out, err = _store_cli(tmp, db_args + ["--digest"])
    assert rc == 1 and "holds no zpost store" in err, (rc, out, err)
    dump = os.path.join(tmp, "empty.dump")
    rc, out, err = _store_cli(tmp, db_args + ["--export", dump])
    assert rc == 1 and "holds no zpost store" in err, (rc, out, err)
    assert not os.path.exists(dump)
    tables = cluster.sql("SELECT count (*) FROM pg_tables WHERE tablename LIKE 'zpost%'",
                         "empty_test").strip()
    assert tables == "0", "a reader made %s tables" % tables


def test_read_only_server(tmp):
    cluster = _pg()
    dbname = "readonly_test"
    broker = h.start_broker(tmp)
    store = _pg_store(tmp, broker, dbname)
    h.wait_store_ready(broker)
    _user(broker, "fay").expect(200, "SEND", "fay", "kept", "body")
    h.stop(store)
    db_args = ["--data", os.path.join(tmp, "cli"), "--db", cluster.conninfo(dbname)]
    rc, before, err = _store_cli(tmp, db_args + ["--digest"])
    assert rc == 0, (rc, before, err)
    digest = re.search(r"digest [0-9a-f]{64}", before)
    assert digest, before
    cluster.sql("ALTER DATABASE %s SET default_transaction_read_only = on" % dbname)
    try:
        # a serving store writes: refused at once, the cure named
        store = _pg_store(tmp, broker, dbname, wait=False)
        store.expected_exit = True
        h.wait_until(lambda: store.popen.poll() is not None, 30.0 * h.TIME_SCALE, 0.1,
                     "the store to refuse a read-only server")
        assert store.popen.returncode == 1, store.popen.returncode
        log = store.log_text()
        assert "read-only" in log and "target_session_attrs=read-write" in log, log
        # readers read it, and change nothing
        rc, out, err = _store_cli(tmp, db_args + ["--digest"])
        assert rc == 0, (rc, out, err)
        assert digest.group(0) in out, (before, out)
        dump = os.path.join(tmp, "readonly.dump")
        rc, out, err = _store_cli(tmp, db_args + ["--export", dump])
        assert rc == 0 and os.path.getsize(dump) > 0, (rc, out, err)
        assert digest.group(0) in out, (before, out)
    finally:
        cluster.sql("ALTER DATABASE %s RESET default_transaction_read_only" % dbname)
    store = _pg_store(tmp, broker, dbname)
    h.wait_store_ready(broker)


TRIP = re.compile(r"store_pg: trip (\d+): (\d+):(.*)$")


def _trips(store):
    """Every round trip the store logged: [(number, [command names])]."""
    out = []
    for line in store.log_text().splitlines():
        m = TRIP.search(line)
        if m:
            out.append((int(m.group(1)), m.group(3).split()))
    return out


def test_round_trips(tmp):
    """One client, so each group commit holds one request: the round trips
    of each request, from its admission to its reply, as the store counts
    them. Before this design: LIST of 50 took 58 (a statement a message),
    SEND to three 17 (recipients and sender read twice), the sweep 2, STATS
    5 for its figures (count (*) each on its own)."""
    cluster = _pg()
    cluster.sql("CREATE DATABASE trips_test OWNER %s TEMPLATE template0" % pg.ROLE)
    broker = h.start_broker(tmp)
    env = h.clean_env()
    env["ZPOST_PG_TRACE"] = "1"
    store = h.Proc("store", h.WRAP + [
        h.binary("zpost-store"), "--broker", broker.back,
        "--data", os.path.join(tmp, "data"), "--db", cluster.conninfo("trips_test"),
        "--sweep-interval", "3600000"], tmp, env=env)
    store.wait_line(r"^zpost-store ready$")
    h.wait_store_ready(broker)
    alice = _user(broker, "alice")
    bob = _user(broker, "bob")
    for name in ("carol", "dave"):
        h.Client(broker, timeout=10.0).register(name, PASSWORD)

    def cost(client, *request):
        before = _trips(store)
        last = before[-1][0] if before else 0
        reply = client.expect(200, *request, timeout=10.0)
        return reply, [names for number, names in _trips(store) if number > last]

    def count(trips, name):
        return sum(names.count(name) for names in trips)

    # SEND to three: each recipient read once, the sender not again (it came
    # with the session); the sweep's two statements in one round trip
    for index in range(50):
        _, trips = cost(alice, "SEND", "bob,carol,dave" if index < 20 else "bob",
                        "s%d" % index, "body %d" % index)
        if index == 0:
            assert count(trips, "z_user_get") == 3, trips
            assert count(trips, "z_session_get") == 2, trips    # admission, act
            # the sweep's two expiries: one statement, whose counts the
            # engine has when the call returns (store_sweep)
            assert count(trips, "z_sweep") == 1, trips
            assert count(trips, "z_reply_expire") == 0, trips
            assert len(trips) <= 11, trips
    # LIST of 50: the page and its messages in one statement
    listing, trips = cost(bob, "LIST", "inbox", "all", "50", "0")
    rows = h.rows(listing, 7)
    assert [row[3] for row in rows] == ["s%d" % i for i in range(49, -1, -1)], rows
    assert rows[0][1:3] == ["alice", "bob"] and rows[0][5] == str(len("body 49")), rows[0]
    assert rows[-1][2] == "bob,carol,dave", rows[-1]
    assert count(trips, "z_folder_walk") == 1 and count(trips, "z_message_get") == 0, trips
    assert len(trips) <= 6, trips
    # READ: the message came with its folder entry
    newest = rows[0][0]
    read, trips = cost(bob, "READ", newest)
    assert read.fields[-1] == b"body 49", read
    assert count(trips, "z_message_get") == 0, trips
    assert len(trips) <= 6, trips
    # DELETE: the entry and the reference go with the RELEASE; a message
    # of three recipients and a sender keeps its other folders
    oldest = rows[-1][0]
    _, trips = cost(bob, "DELETE", "inbox", oldest)
    assert len(trips) <= 6, trips
    assert cluster.sql("SELECT refs FROM zpost_messages WHERE id = %s" % oldest,
                       "trips_test").strip() == "3"
    _, reply = bob.call("READ", oldest)
    assert reply.status == 404, reply
    # alice's sent copy is the last reference of a one-recipient message
    # once bob's goes too: freed, and the counters say so
    alice.expect(200, "DELETE", "sent", newest)
    bob.expect(200, "DELETE", "inbox", newest)
    assert cluster.sql("SELECT count (*) FROM zpost_messages WHERE id = %s" % newest,
                       "trips_test").strip() == "0"
    # STATS server: counters, counts and size from one statement, right
    stats, trips = cost(bob, "STATS", "server")
    assert count(trips, "z_meta_all") == 1, trips
    assert count(trips, "z_session_count") == count(trips, "z_reply_count") == 0, trips
    figures = dict(h.rows(stats, 2))
    truth = cluster.sql("SELECT (SELECT count (*) FROM zpost_messages) || ' ' ||"
                        " (SELECT count (*) FROM zpost_replies) || ' ' ||"
                        " (SELECT count (*) FROM zpost_sessions)", "trips_test").split()
    assert [figures["messages"], figures["replies"], figures["sessions"]] == truth, \
        (figures, truth)
    assert figures["users"] == "4" and int(figures["map-used"]) > 0, figures
    user = dict(h.rows(bob.expect(200, "STATS", "user"), 2))
    assert user["inbox-count"] == "48" and user["inbox-unread"] == "48", user


def test_stuck_writer_is_ended(tmp):
    """A session that holds the writers' lock while it is active (a store
    frozen while the server writes it a large result, or one waiting for a
    standby that is gone) is out of the idle timeouts' reach. A store waits
    for the lock 1 s at most and answers the retryable 503 (never silence:
    its broker keeps it), and once the holder has been in its transaction
    4 s, the next store whose wait timed out ends that session; the sends
    then go through. Stood in for by a session of the store's own role
    that takes the lock and sleeps in a transaction. (Without the bound the
    store waited for as long as the holder stayed.)"""
    cluster = _pg()
    dbname = "stuck_test"
    broker = h.start_broker(tmp)
    store = _pg_store(tmp, broker, dbname)
    h.wait_store_ready(broker)
    sender = _user(broker, "fay")
    holder = subprocess.Popen(
        [os.path.join(pg.PG_BIN, "psql"), "-X", "-q", "-d", cluster.conninfo(dbname),
         "-c", "SELECT pg_advisory_lock (7420533014)", "-c", "BEGIN",
         "-c", "SELECT pg_sleep (600)"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60.0 * h.TIME_SCALE
        while time.monotonic() < deadline:
            held = cluster.sql(
                "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid"
                " WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1"
                " AND (l.classid::int8 << 32 | l.objid::int8) = 7420533014"
                " AND a.query LIKE '%pg_sleep%'", dbname).strip()
            if held == "1":
                break
            assert holder.poll() is None, holder.stderr.read()
            time.sleep(0.05)
        else:
            raise AssertionError("the stand-in never held the writers' lock")
        statuses = []
        deadline = time.monotonic() + 120.0 * h.TIME_SCALE
        while time.monotonic() < deadline:
            _, reply = sender.call_as_client("SEND", "fay", "past the stuck one", "b",
                                             tries=1)
            statuses.append(reply.status if reply else None)
            if reply is not None and reply.status == 200:
                break
            assert reply is not None, "no answer while the lock was held: %r" % statuses
            assert reply.status == 503, reply
        assert statuses[-1] == 200, "the stuck holder was never ended: %r" % statuses
        # the stand-in's session was ended by the store, not by a timeout
        rc = holder.wait(timeout=30.0 * h.TIME_SCALE)
        said = holder.stderr.read().decode(errors="replace")
        assert rc != 0 and "terminating connection due to administrator command" in said, \
            (rc, said)
        assert "a lock was not granted within 1s (the writers' lock" in store.log_text(), \
            store.log_text()[-2000:]
        h.log("sends while a stuck session held the lock: %r" % statuses)
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait()


if __name__ == "__main__":
    h.run_tests([
        test_selftests_on_postgresql,
        test_newer_schema_refused,
        test_schema_1_migrated,
        test_throttle_shared_by_stores,
        test_database_restart_is_503,
        test_two_stores_one_database,
        test_two_stores_same_rows,
        test_two_stores_many_rows_no_deadlock,
        test_frozen_store_does_not_stall_others,
        test_stuck_writer_is_ended,
        test_errors_on_one_line,
        test_readers_create_nothing,
        test_read_only_server,
        test_round_trips,
    ])
