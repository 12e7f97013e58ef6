"""test_watch - WATCH, the long poll that ends when new mail arrives
(issue 14, item 6), spoken from ZPOST.md with pyzmq, through the real
broker and store, on the back end ZPOST_TEST_DB names.

- A WATCH that knows the inbox as it is waits; a SEND to its user ends
  it with the new newest id and unread count. One that knows less (an
  older `since`, another unread count) is answered at once; timeout 0
  answers at once. READ and MARK unseen (the unread count) end a wait;
  deleting a message already read does not. A wait that sees nothing
  ends at its timeout with the inbox as it was.
- Bad input: timeout over 60, since and unread not numbers (422 with
  the field), a missing field (400), no session (401).
- The caps: a 9th wait of one user at one store is 429 detail 1, and a
  store started with --watch-max 2 answers a third wait 503 detail 1; a
  WATCH that would be answered at once is answered whatever the counts.
- Nothing is missed: a store killed with -9 while a WATCH waits, mail
  sent while no store runs, and the client's retry (the same since) to a
  new store is answered at once with that mail. A wait parked at one
  store (behind one broker) is ended by a SEND that another store
  process on the same database commits (behind another broker): LMDB's
  other processes, PostgreSQL's NOTIFY. A broker killed while a wait is
  parked: the retry through the other broker, with the same since, gets
  the mail sent meanwhile at once.

Time bounds are upper bounds with room (a wait must end within 10 s of
the SEND that ends it) or lower bounds that load cannot break (a wait
that must not end early).
"""

import json
import os
import subprocess
import time

import harness as h
import zmq

SCALE = h.TIME_SCALE
PASSWORD = "password-watch"
WAKE = 10.0 * SCALE         # a woken wait answers within this (100 ms expected)


def _users(broker, *names, keys=None):
    clients = {}
    for name in names:
        c = h.Client(broker, keys=keys, timeout=10 * SCALE)
        c.register(name, PASSWORD)
        c.login(name, PASSWORD)
        clients[name] = c
    return clients


def _twin(client, broker=None):
    """Another socket of the same client key and session: a wait of its
    own while the first socket goes on with other requests."""
    twin = h.Client(broker or client.broker, keys=client.keys, timeout=client.timeout)
    twin.token = client.token
    return twin


def _start(client, since, unread, timeout):
    """Send a WATCH on the client's REQ socket without waiting; returns
    its request id (the reply is _finish's to read)."""
    if client.sock is None:
        client._open()
    rid = h.new_request_id()
    client.sock.send_multipart(h.request_frames(
        "WATCH", rid, client.token, str(since), str(unread), str(timeout)))
    return rid


def _finish(client, rid, wait):
    """The reply to the WATCH _start sent, or None after wait seconds."""
    if not client.sock.poll(int(wait * 1000), zmq.POLLIN):
        client.close()
        return None
    reply = h.Reply(client.sock.recv_multipart())
    assert reply.well_formed() and reply.command == b"WATCH" \
        and reply.request_id == rid.encode(), reply
    return reply


def _state(reply):
    assert reply is not None, "no WATCH reply"
    assert reply.status == 200, reply
    assert len(reply.fields) == 2, reply
    return int(reply.fields[0]), int(reply.fields[1])


def _parked(client, rid, quiet=0.3):
    """The wait has not been answered yet (a short look: a lower bound)."""
    assert not client.sock.poll(int(quiet * 1000), zmq.POLLIN), \
        "the WATCH was answered though the inbox had not changed"


def _send(client, to, subject="hello"):
    return int(client.expect(200, "SEND", to, subject, "body").fields[0])


def test_wakes_and_times_out(tmp):
    broker, store = h.start_service(tmp)
    u = _users(broker, "alice", "bob")
    bob = u["bob"]
    waiter = _twin(bob)
    # where the inbox stands: timeout 0 answers at once
    assert _state(bob.expect(200, "WATCH", "0", "0", "0")) == (0, 0)

    # new mail ends a wait
    rid = _start(waiter, 0, 0, 30)
    _parked(waiter, rid)
    m1 = _send(u["alice"], "bob")
    reply = _finish(waiter, rid, WAKE)
    assert _state(reply) == (m1, 1), reply

    # a wait that knows less is answered at once, whatever its timeout
    assert _state(bob.expect(200, "WATCH", "0", "1", "60", timeout=WAKE)) == (m1, 1)
    assert _state(bob.expect(200, "WATCH", str(m1), "0", "60", timeout=WAKE)) == (m1, 1)

    # nothing new: it ends at its timeout, with the inbox as it was
    started = time.monotonic()
    rid = _start(waiter, m1, 1, 1)
    reply = _finish(waiter, rid, 10 * SCALE)
    assert time.monotonic() - started >= 0.9, "the wait ended before its timeout"
    assert _state(reply) == (m1, 1) and reply.reason == "No change", reply

    # READ (the unread count) ends a wait; so does MARK unseen
    rid = _start(waiter, m1, 1, 30)
    _parked(waiter, rid)
    bob.expect(200, "READ", str(m1))
    assert _state(_finish(waiter, rid, WAKE)) == (m1, 0)
    rid = _start(waiter, m1, 0, 30)
    _parked(waiter, rid)
    bob.expect(200, "MARK", "inbox", str(m1), "unseen")
    assert _state(_finish(waiter, rid, WAKE)) == (m1, 1)
    bob.expect(200, "MARK", "inbox", str(m1), "seen")

    # mail to someone else, a flag, and deleting a read message do not
    rid = _start(waiter, m1, 0, 2)
    _send(bob, "alice")
    bob.expect(200, "MARK", "inbox", str(m1), "flagged")
    bob.expect(200, "DELETE", "inbox", str(m1))
    _parked(waiter, rid, quiet=1.0)
    assert _state(_finish(waiter, rid, 10 * SCALE)) == (0, 0)

    # mail bob sends to himself is new mail too; ANSWER as well
    rid = _start(waiter, m1, 0, 30)
    m2 = _send(bob, "bob,alice")
    assert _state(_finish(waiter, rid, WAKE)) == (m2, 1)
    rid = _start(waiter, m2, 1, 30)
    m3 = int(u["alice"].expect(200, "ANSWER", str(m2), "bob", "Re: hello", "yes").fields[0])
    assert _state(_finish(waiter, rid, WAKE)) == (m3, 2)

    # a WATCH of an account deleted while it waits is answered 401
    u2 = _users(broker, "carol")
    carol_wait = _twin(u2["carol"])
    rid = _start(carol_wait, 0, 0, 30)
    _parked(carol_wait, rid)
    u2["carol"].expect(200, "UNREGISTER", PASSWORD, timeout=30 * SCALE)
    reply = _finish(carol_wait, rid, WAKE)
    assert reply is not None and reply.status == 401, reply
    h.check_alive(store.proc)


def test_bad_input(tmp):
    broker, store = h.start_service(tmp)
    bob = _users(broker, "bob")["bob"]
    reply = bob.expect(422, "WATCH", "0", "0", "61")
    assert reply.fields == [b"timeout"], reply
    for since, unread, field in (("x", "0", b"since"), ("-1", "0", b"since"),
                                 ("01", "0", b"since"), ("0", "", b"unread"),
                                 ("0", "18446744073709551616", b"unread")):
        reply = bob.expect(422, "WATCH", since, unread, "5")
        assert reply.fields == [field], (since, unread, reply)
    reply = bob.expect(422, "WATCH", "0", "0", "")
    assert reply.fields == [b"timeout"], reply
    bob.expect(400, "WATCH", "0", "0")
    bob.expect(400, "WATCH", "0", "0", "5", "5")
    bob.expect(401, "WATCH", "0", "0", "5", token="")
    bob.expect(401, "WATCH", "0", "0", "5", token="ab" * 32)
    # the largest timeout is allowed; a stale one is answered at once
    _send(bob, "bob")
    assert _state(bob.expect(200, "WATCH", "0", "0", "60"))[1] == 1
    h.check_alive(store.proc)


def test_caps(tmp):
    broker, store = h.start_service(tmp, store_extra=["--watch-max", "10"])
    u = _users(broker, "alice", "bob")
    waiters = [_twin(u["bob"]) for _ in range(8)]
    rids = [_start(w, 0, 0, 30) for w in waiters]
    for w, rid in zip(waiters, rids):
        _parked(w, rid, quiet=0.1)
    # the 9th of one user
    reply = u["bob"].expect(429, "WATCH", "0", "0", "30")
    assert reply.fields == [b"1"], reply
    # answered at once is answered whatever the counts
    assert _state(u["bob"].expect(200, "WATCH", "0", "0", "0")) == (0, 0)
    # the store's own cap: 8 + 2 = 10, the 11th is 503
    others = [_twin(u["alice"]) for _ in range(2)]
    other_rids = [_start(w, 0, 0, 30) for w in others]
    for w, rid in zip(others, other_rids):
        _parked(w, rid, quiet=0.1)
    reply = u["alice"].expect(503, "WATCH", "0", "0", "30")
    assert reply.fields == [b"1"], reply
    # one SEND ends all of bob's; then there is room again
    m1 = _send(u["alice"], "bob")
    for w, rid in zip(waiters, rids):
        assert _state(_finish(w, rid, WAKE)) == (m1, 1)
    rid = _start(waiters[0], m1, 1, 30)
    _parked(waiters[0], rid, quiet=0.1)
    m2 = _send(u["alice"], "bob,alice")
    assert _state(_finish(waiters[0], rid, WAKE)) == (m2, 2)
    for w, rid in zip(others, other_rids):
        assert _state(_finish(w, rid, WAKE)) == (m2, 1)
    # waits do not count against the store's capacity: other requests
    # still go through while the store holds them
    waiters = [_twin(u["bob"]) for _ in range(8)]
    rids = [_start(w, m2, 2, 30) for w in waiters]
    for _ in range(20):
        u["alice"].expect(200, "STATS", "user")
    h.check_alive(store.proc)


def test_store_killed(tmp):
    broker, store = h.start_service(tmp)
    u = _users(broker, "alice", "bob")
    m1 = _send(u["alice"], "bob")
    waiter = _twin(u["bob"])
    rid = _start(waiter, m1, 1, 60)
    _parked(waiter, rid)
    store.proc.kill()
    # the broker answers 503 when it sees the store gone (no heartbeat)
    reply = _finish(waiter, rid, 30 * SCALE)
    assert reply is None or reply.status == 503, reply
    # mail arrives while no wait is parked anywhere
    store = h.start_store(tmp, broker.back)
    h.wait_store_ready(broker)
    _, sent = u["alice"].call_as_client("SEND", "bob", "while away", "x")
    assert sent is not None and sent.status == 200, sent
    m2 = int(sent.fields[0])
    # the client's retry, with what it had seen, gets it at once
    rid = _start(waiter, m1, 1, 60)
    assert _state(_finish(waiter, rid, WAKE)) == (m2, 2)
    h.check_alive(store.proc)


def _two_sides(tmp):
    """Two brokers of one deployment, each with a store of its own, both
    stores on one database (LMDB: one environment, two processes;
    PostgreSQL: one database)."""
    keys = os.path.join(tmp, "broker-keys")
    brokers = [h.start_broker(tmp, back="ipc://%s/back-%d.ipc" % (tmp, n), keys=keys)
               for n in range(2)]
    data = os.path.join(tmp, "data")
    stores = [h.start_store(tmp, b.back, data=data) for b in brokers]
    for b in brokers:
        h.wait_store_ready(b, timeout=15 * SCALE)
    return brokers, stores


def test_other_store_commits(tmp):
    brokers, stores = _two_sides(tmp)
    keys = {name: zmq.curve_keypair() for name in ("alice", "bob")}
    alice = _users(brokers[1], "alice", keys=keys["alice"])["alice"]
    bob = _users(brokers[0], "bob", keys=keys["bob"])["bob"]
    waiter = _twin(bob)
    last = 0
    for n in range(3):
        rid = _start(waiter, last, n, 30)
        _parked(waiter, rid)
        # committed by the other store, behind the other broker
        last = _send(alice, "bob", "n%d" % n)
        sent = time.monotonic()
        assert _state(_finish(waiter, rid, WAKE)) == (last, n + 1)
        h.log("woken %.1f ms after the other store's 200" % ((time.monotonic() - sent) * 1000))
    for s in stores:
        assert "not hearing" not in s.proc.log_text(), s.proc.log_text()
        h.check_alive(s.proc)


def test_broker_killed(tmp):
    brokers, stores = _two_sides(tmp)
    keys = {name: zmq.curve_keypair() for name in ("alice", "bob")}
    alice = _users(brokers[1], "alice", keys=keys["alice"])["alice"]
    bob = _users(brokers[0], "bob", keys=keys["bob"])["bob"]
    m1 = _send(alice, "bob")
    waiter = _twin(bob)
    rid = _start(waiter, m1, 1, 60)
    _parked(waiter, rid)
    brokers[0].proc.kill()
    assert _finish(waiter, rid, 1.0) is None
    m2 = _send(alice, "bob", "meanwhile")
    # the retry through the other broker, with the same since
    retry = _twin(bob, broker=brokers[1])
    rid = _start(retry, m1, 1, 60)
    assert _state(_finish(retry, rid, WAKE)) == (m2, 2)
    # and waits there as well
    rid = _start(retry, m2, 2, 30)
    _parked(retry, rid)
    m3 = _send(alice, "bob")
    assert _state(_finish(retry, rid, WAKE)) == (m3, 3)
    for s in stores:
        h.check_alive(s.proc)


def test_waiting_keeps_the_session(tmp):
    """A WATCH is a use of the session: a client that only waits (as zpost
    watch does for hours) keeps it past the idle expiry; and a WATCH that
    writes that use still waits its time, and still wakes on mail."""
    # idle expiry 8 s, waits of 3 s: a WATCH that comes up to 4 s late
    # (a loaded machine) still finds the session the last one kept
    broker, store = h.start_service(tmp, store_extra=["--session-idle", "8"])
    u = _users(broker, "alice", "bob")
    bob = u["bob"]
    started = time.monotonic()
    for _ in range(4):          # 4 waits of 3 s: past the 8 s idle expiry
        rid = _start(bob, 0, 0, 3)
        assert _state(_finish(bob, rid, 15 * SCALE)) == (0, 0)
    assert time.monotonic() - started >= 11.5, "the waits ended early"
    # alice did nothing meanwhile: her session has ended; bob's has not
    u["alice"].expect(401, "STATS", "user")
    u["alice"].login("alice", PASSWORD)
    rid = _start(bob, 0, 0, 30)
    _parked(bob, rid)
    m1 = _send(u["alice"], "bob")
    assert _state(_finish(bob, rid, WAKE)) == (m1, 1)
    bob.expect(200, "STATS", "user")
    h.check_alive(store.proc)


def _zpost_watch(tmp, broker, args):
    """Start `zpost watch ARGS` logged in as bob; returns it once it says
    it is watching (its first WATCH, timeout 0, has been answered)."""
    argv = [h.binary("zpost"), "--server", broker.front, "--server-key",
            broker.public_key, "watch"] + list(args)
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            cwd=tmp, env=h.client_env(tmp))
    line = proc.stderr.readline().decode()
    assert line.startswith("zpost: watching the inbox of bob"), line
    return proc


def test_zpost_watch(tmp):
    broker, store = h.start_service(tmp)
    u = _users(broker, "alice", "bob")
    rc, out, err, _ = h.run_client(tmp, ["login", "bob"], broker=broker,
                                   env={"ZPOST_PASSWORD": PASSWORD})
    assert rc == 0, (out, err)
    old = _send(u["alice"], "bob", "old news")
    # two new messages, then it stops (--count); what was there is not shown
    proc = _zpost_watch(tmp, broker, ["--count", "2"])
    m1 = _send(u["alice"], "bob", "first \x1b[31m")
    m2 = _send(u["alice"], "bob", "second")
    out, err = proc.communicate(timeout=WAKE + 5)
    assert proc.returncode == 0, (out, err)
    lines = out.decode().splitlines()
    assert len(lines) == 2, lines
    assert str(m1) in lines[0] and "first" in lines[0] and "alice" in lines[0], lines
    assert "\x1b" not in lines[0] and "\\x1b" in lines[0], lines     # escaped
    assert str(m2) in lines[1] and "second" in lines[1], lines
    assert "old news" not in out.decode() and str(old) not in [l.split()[1] for l in lines]
    # --json: one object a line
    proc = _zpost_watch(tmp, broker, ["--json", "-n", "1"])
    m3 = _send(u["alice"], "bob", "third")
    out, err = proc.communicate(timeout=WAKE + 5)
    assert proc.returncode == 0, (out, err)
    entries = [json.loads(line) for line in out.decode().splitlines()]
    assert len(entries) == 1 and entries[0]["id"] == m3, entries
    assert entries[0]["from"] == "alice" and entries[0]["subject"] == "third"
    assert entries[0]["seen"] is False and entries[0]["to"] == ["bob"], entries
    # --timeout: nothing comes, it ends by itself, exit 0, nothing printed
    started = time.monotonic()
    proc = _zpost_watch(tmp, broker, ["--timeout", "1"])
    out, err = proc.communicate(timeout=30 * SCALE)
    assert proc.returncode == 0 and out == b"", (out, err)
    assert time.monotonic() - started >= 0.9
    # bad options
    for args in (["--timeout", "0"], ["--count", "x"], ["extra"]):
        rc, out, err, _ = h.run_client(tmp, ["watch"] + args, broker=broker)
        assert rc == 2, (args, rc, out, err)
    h.check_alive(store.proc)


if __name__ == "__main__":
    h.run_tests([
        test_wakes_and_times_out,
        test_bad_input,
        test_caps,
        test_store_killed,
        test_other_store_commits,
        test_broker_killed,
        test_zpost_watch,
        test_waiting_keeps_the_session,
    ])
