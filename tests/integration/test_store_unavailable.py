"""test_store_unavailable - no store, a stopped store, a killed store.

The broker runs with --timeout 1000. Without a live store a PING through
the store must come back as 503 (store unavailable) within a bound, the
broker must stay up, and a store started again must be used without
restarting the broker. The bounds are deadline checks (does the broker
answer at all before the client gives up), not performance figures.
"""

import re
import time

import harness as h

BROKER_TIMEOUT_MS = 1000
#  Seconds: the broker's 503 comes after its 1 s timeout; without it the
#  client would wait out 3 tries of 3 s (9 s) and say "no answer", not 503.
#  8 s keeps that line and leaves a loaded machine 7 s of room.
BOUND = 8.0


def _expect_unavailable_cli(tmp, broker, what):
    rc, out, err, elapsed = h.run_client(tmp, ["ping"], broker=broker)
    text = out + err
    assert rc == 3, "%s: zpost ping: expected exit 3 (store unavailable), " \
        "got rc %d, stdout %r, stderr %r" % (what, rc, out, err)
    assert re.search(r"unavailable|503", text, re.I), \
        "%s: zpost ping: no 'unavailable' / 503 in %r" % (what, text)
    assert elapsed < BOUND, "%s: zpost ping took %.2f s, bound %.1f s " \
        "(broker --timeout %d ms)" % (what, elapsed, BOUND, BROKER_TIMEOUT_MS)
    h.check_alive(broker.proc)


def _expect_unavailable_spec(broker, what):
    start = time.monotonic()
    rid, reply = h.call(broker, "PING", "store", timeout=BOUND)
    elapsed = time.monotonic() - start
    assert reply is not None, "%s: no reply to PING store within %.1f s" \
        % (what, BOUND)
    assert reply.status == 503, "%s: PING store: expected 503, got %r %r" \
        % (what, reply.status, reply.reason)
    assert reply.request_id == rid.encode() and reply.command == b"PING", \
        "%s: 503 reply does not echo the request: %r" % (what, reply)
    assert reply.fields == [] or len(reply.fields) == 1, \
        "%s: error reply with more than a detail field: %r" % (what, reply)
    assert elapsed < BOUND, "%s: 503 after %.2f s" % (what, elapsed)
    h.check_alive(broker.proc)


def _start_broker(tmp):
    return h.start_broker(tmp, extra=["--timeout", str(BROKER_TIMEOUT_MS)])


def test_no_store_at_all(tmp):
    broker = _start_broker(tmp)
    _expect_unavailable_cli(tmp, broker, "no store")
    _expect_unavailable_spec(broker, "no store")
    # The broker itself still answers.
    reply = h.ping(broker, "broker")
    assert reply is not None and reply.status == 200, reply


def test_store_stopped_and_started_again(tmp):
    broker = _start_broker(tmp)
    store = h.start_store(tmp, broker.back)
    h.wait_store_ready(broker)
    rc, out, err, _ = h.run_client(tmp, ["ping"], broker=broker)
    assert rc == 0 and "pong from store" in out, (rc, out, err)

    h.stop(store.proc)                              # SIGTERM, exit 0
    _expect_unavailable_cli(tmp, broker, "after SIGTERM of the store")
    _expect_unavailable_spec(broker, "after SIGTERM of the store")

    store = h.start_store(tmp, broker.back, data=store.data_dir)
    h.wait_store_ready(broker)
    rc, out, err, _ = h.run_client(tmp, ["ping"], broker=broker)
    assert rc == 0 and "pong from store" in out, \
        "ping after the store came back: rc %d, %r, %r" % (rc, out, err)


def test_store_killed_and_started_again(tmp):
    broker = _start_broker(tmp)
    store = h.start_store(tmp, broker.back)
    h.wait_store_ready(broker)

    store.proc.kill()                               # SIGKILL: no DISCONNECT
    # First while the broker may still count the dead worker as live (its
    # request then runs into the deadline), then again after heartbeats
    # have expired it: both must be 503 within the bound.
    _expect_unavailable_spec(broker, "right after SIGKILL of the store")
    _expect_unavailable_cli(tmp, broker, "after SIGKILL of the store")
    _expect_unavailable_spec(broker, "a while after SIGKILL of the store")

    store = h.start_store(tmp, broker.back, data=store.data_dir)
    h.wait_store_ready(broker)
    rc, out, err, _ = h.run_client(tmp, ["ping"], broker=broker)
    assert rc == 0 and "pong from store" in out, \
        "ping after the killed store came back: rc %d, %r, %r" % (rc, out, err)


def test_store_hung(tmp):
    """A store that is connected but does not answer (SIGSTOP): requests
    forwarded to it run into the broker's deadline and come back 503, before
    and after heartbeats expire it. Once it runs again, late replies to
    expired requests are not delivered to anyone, and new requests get
    their own replies."""
    broker = _start_broker(tmp)
    store = h.start_store(tmp, broker.back)
    h.wait_store_ready(broker)
    h.freeze(store.proc)
    try:
        _expect_unavailable_spec(broker, "store stopped with SIGSTOP")
        _expect_unavailable_cli(tmp, broker, "store stopped with SIGSTOP")
        _expect_unavailable_spec(broker, "store stopped with SIGSTOP, later")
    finally:
        h.thaw(store.proc)
    h.wait_store_ready(broker)
    for i in range(5):
        rid, reply = h.call(broker, "PING", "store")
        assert reply is not None and reply.status == 200, reply
        assert reply.request_id == rid.encode(), \
            "got a reply for %r, sent %r" % (reply.request_id, rid)
    h.check_alive(store.proc)


def test_two_rounds_same_broker(tmp):
    """Stop, start, kill, start: one broker process throughout."""
    broker = _start_broker(tmp)
    pid = broker.proc.pid
    data = None
    for round_, how in enumerate(["term", "kill", "term"]):
        store = h.start_store(tmp, broker.back, data=data)
        data = store.data_dir
        h.wait_store_ready(broker)
        if how == "term":
            h.stop(store.proc)
        else:
            store.proc.kill()
        _expect_unavailable_spec(broker, "round %d (%s)" % (round_, how))
    store = h.start_store(tmp, broker.back, data=data)
    h.wait_store_ready(broker)
    assert broker.proc.pid == pid and broker.proc.alive()


if __name__ == "__main__":
    h.run_tests([
        test_no_store_at_all,
        test_store_stopped_and_started_again,
        test_store_killed_and_started_again,
        test_store_hung,
        test_two_rounds_same_broker,
    ])
