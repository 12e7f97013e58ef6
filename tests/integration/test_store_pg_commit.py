"""test_store_pg_commit - a commit the synchronous standby did not confirm is
never acknowledged (issue 13: "a reply only after COMMIT has returned", and
acknowledged mail survives a failover), on this script's throw-away cluster
(pg.py), whatever back end ZPOST_TEST_DB names for the rest of the suite.

The cluster is told to wait for a synchronous standby that never connects
(synchronous_standby_names), so every commit waits in SyncRep until it is
cancelled. PostgreSQL cannot undo a commit whose wait is cancelled: COMMIT
returns success, with only a WARNING notice, and the data is on the
primary, perhaps not on the standby.

- A SEND whose commit wait is cancelled (pg_cancel_backend) is answered
  503, not 200, with a reason that says the standby did not confirm it;
  the store logs NOT REPLICATED; libpq printed nothing raw.
- Its retries with the same request id, while the standby is still
  required, are never 200: a replay waits for the standby too (cancelled:
  503; the backend terminated, pg_terminate_backend: 503).
- Once the standby is no longer required, the retry gets 200 with the
  message id of the one message stored, and the inbox holds it once.

The broker and the store run with long heartbeats and a long request
deadline: while the store waits in COMMIT it sends no heartbeat, and a 503
from the broker (store expired, deadline passed) must not stand in for the
store's own answer.
"""

import os
import subprocess
import threading

import harness as h
import pg

PASSWORD = "password-commit"
STANDBY = "zpost_absent_standby"
SLOW_MS = str(int(30000 * h.TIME_SCALE))
DEADLINE_MS = str(int(180000 * h.TIME_SCALE))
WAIT = 60.0 * h.TIME_SCALE              # for anything to happen


def _psql(cluster, dbname, sql, app):
    return [os.path.join(pg.PG_BIN, "psql"), "-X", "-q", "-A", "-t", "-v",
            "ON_ERROR_STOP=1", "-d", "%s application_name=%s" % (
                cluster.conninfo(dbname, pg.SUPERUSER), app), "-c", sql]


def _waiting(cluster, app, dbname=None):
    """The waits for the standby of the sessions named app: (pid, when the
    waiting statement started), so that one wait is ended once."""
    where = " AND datname = '%s'" % dbname if dbname else ""
    out = cluster.sql("SELECT pid || ' ' || query_start FROM pg_stat_activity"
                      " WHERE application_name = '%s' AND wait_event = 'SyncRep'%s"
                      % (app, where))
    return [tuple(line.split(" ", 1)) for line in out.splitlines() if line.strip()]


def _end_waits(cluster, waits, how):
    for pid, _ in waits:
        cluster.sql("SELECT pg_%s_backend (%d)" % (how, int(pid)))


def _require_standby(cluster, on):
    if on:
        cluster.sql("ALTER SYSTEM SET synchronous_standby_names = '%s'" % STANDBY)
    else:
        cluster.sql("ALTER SYSTEM RESET synchronous_standby_names")
    cluster.sql("SELECT pg_reload_conf ()")


def _until_commits_wait(cluster):
    """The reload reaches the server's processes in their own time: until a
    probe's commit is seen waiting for the standby (then cancelled), a
    commit may still go through without waiting."""
    probe = [None]

    def waits():
        if probe[0] is None or probe[0].poll() is not None:
            probe[0] = subprocess.Popen(
                _psql(cluster, "postgres", "INSERT INTO zpost_probe VALUES (1)",
                      "zpost-probe"),
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL)
        return bool(_waiting(cluster, "zpost-probe"))
    try:
        h.wait_until(waits, WAIT, 0.05, "a commit to wait for the standby")
    finally:
        _end_waits(cluster, _waiting(cluster, "zpost-probe"), "cancel")
        if probe[0] is not None:
            probe[0].wait(timeout=WAIT)


def _call_ending_waits(cluster, dbname, client, request_id, how):
    """SEND with request_id; every wait of the store's commit for the
    standby while it is pending is ended (pg_cancel_backend or
    pg_terminate_backend). Returns (reply, waits ended)."""
    got = {}

    def call():
        _, got["reply"] = client.call("SEND", "alice", "held", "body",
                                      request_id=request_id, timeout=WAIT)
    thread = threading.Thread(target=call)
    thread.start()
    ended = set()

    def answered():
        if not thread.is_alive():
            return True
        # pg_stat_activity may show a wait for a moment after it was ended:
        # a second cancel could hit the store's next statement
        waits = [w for w in _waiting(cluster, "zpost-store", dbname) if w not in ended]
        _end_waits(cluster, waits, how)
        ended.update(waits)
        return False
    try:
        h.wait_until(answered, WAIT + 10.0, 0.05, "the SEND to be answered")
    finally:
        thread.join()
    return got.get("reply"), len(ended)


def _service(tmp):
    cluster = pg.cluster()
    dbname = cluster.create_database("commit")
    broker = h.start_broker(tmp, extra=["--heartbeat", SLOW_MS, "--timeout", DEADLINE_MS])
    argv = h.WRAP + [h.binary("zpost-store"), "--broker", broker.back,
                     "--data", os.path.join(tmp, "data"),
                     "--db", cluster.conninfo(dbname), "--heartbeat", SLOW_MS,
                     # no sweep: its commit would wait for the standby too
                     "--sweep-interval", "3600000"]
    store = h.Proc("store", argv, tmp)
    store.wait_line(r"^zpost-store ready$")
    h.wait_store_ready(broker)
    return cluster, dbname, broker, store


def test_unconfirmed_commit_is_503(tmp):
    cluster, dbname, broker, store = _service(tmp)
    alice = h.Client(broker, timeout=WAIT)
    alice.register("alice", PASSWORD)
    alice.login("alice", PASSWORD)
    # made now: once the standby is required, its commit would wait
    cluster.sql("CREATE TABLE zpost_probe (x int)")
    _require_standby(cluster, True)
    try:
        _until_commits_wait(cluster)
        request_id = h.new_request_id()

        # the SEND's commit waits; cancelled, it is local only: 503
        reply, ended = _call_ending_waits(cluster, dbname, alice, request_id, "cancel")
        assert ended >= 1, "the SEND never waited for the standby: %r" % reply
        assert reply is not None, "no answer to the SEND"
        assert reply.status == 503, \
            "a commit the standby never confirmed was answered %r" % reply
        # the reason is the true one (not "nothing was stored": it was,
        # on the primary), and names the cure
        assert "did not confirm" in reply.reason and "same request-id" in reply.reason, \
            reply.reason
        assert cluster.sql("SELECT count (*) FROM zpost_messages WHERE subject = "
                           "'held'::bytea", dbname).strip() == "1", \
            "the commit was not even local: this test shows nothing"
        h.wait_until(lambda: "NOT REPLICATED" in store.log_text(), WAIT, 0.05,
                     "the store to log NOT REPLICATED")
        assert "WARNING:  canceling" not in store.log_text(), \
            "libpq printed the notice raw: %s" % store.log_text()[-2000:]

        # retries while the standby is still required: a replay waits for
        # it too, and is never 200. Try until a retry waited and was cut
        # short, once cancelled, once terminated.
        for how in ("cancel", "terminate"):
            def retried():
                again, waits = _call_ending_waits(cluster, dbname, alice,
                                                  request_id, how)
                assert again is not None, "no answer to the retry"
                assert again.status == 503, \
                    "a retry answered before the standby confirmed (%s): %r" \
                    % (how, again)
                assert "confirm" in again.reason, again.reason
                return waits > 0
            h.wait_until(retried, WAIT, 0.2,
                         "a retry to wait for the standby (%s)" % how)
    finally:
        _require_standby(cluster, False)

    # the standby is no longer required: the retry is the stored SEND's 200
    final = {}

    def stored():
        _, again = alice.call("SEND", "alice", "held", "body",
                              request_id=request_id, timeout=WAIT)
        assert again is not None and again.status in (200, 503), again
        final["reply"] = again
        return again.status == 200
    h.wait_until(stored, WAIT, 0.2, "the retry to be answered 200")
    message_id = final["reply"].fields[0].decode()
    listing = alice.expect(200, "LIST", "inbox", "all", "100", "0")
    held = [row for row in h.rows(listing, 7) if row[3] == "held"]
    assert len(held) == 1, "the message %d times in the inbox: %r" % (len(held), held)
    assert held[0][0] == message_id, (held, message_id)
    again = alice.expect(200, "SEND", "alice", "held", "body", request_id=request_id)
    assert again.fields == final["reply"].fields, (again, final["reply"])
    alice.expect(200, "SEND", "alice", "after", "body")


if __name__ == "__main__":
    h.run_tests([test_unconfirmed_commit_is_503], timeout=300)
