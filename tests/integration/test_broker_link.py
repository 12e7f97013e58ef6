"""test_broker_link - the broker's side of the link, against fake stores.

The fake stores are pyzmq DEALER sockets on the broker's ipc back end that
speak the link from ZPOST.md ("The link protocol"):
    ready      = "ZPOSTL1" "READY" store-name capacity [body-limit]
    heartbeat  = "ZPOSTL1" "HEARTBEAT"
    link-request = "ZPOSTL1" "REQUEST" ticket client-key request
    link-reply = "ZPOSTL1" "REPLY" ticket reply
so a test decides exactly who answers what, and when.

- A reply for a ticket that went to store A, sent by store B, never reaches
  the client, and does not use up the ticket: A's own reply still does
  (issue 10, item 12).
- A SEND whose body is over the body-limit a store stated in READY gets 413
  (detail "body") from the broker itself, and the store never sees it; one
  at the limit is forwarded.
- A flood of 120 SENDs of 16 MiB, pushed without waiting, against a real
  store (default body limit 1 MiB): the broker's peak RSS stays bounded
  (issue 10, item 5).
"""

import re
import time

import zmq

import harness as h

LINK = b"ZPOSTL1"
MiB = 1024 * 1024


class FakeStore:
    """A store worker written from the spec: READY, HEARTBEAT, and whatever
    REQUEST/REPLY the test chooses."""

    def __init__(self, broker, name, capacity=10, body_limit=None):
        self.name = name
        self.sock = h.context().socket(zmq.DEALER)
        self.sock.linger = 0
        self.sock.connect(broker.back)
        ready = [LINK, b"READY", name.encode(), str(capacity).encode()]
        if body_limit is not None:
            ready.append(str(body_limit).encode())
        self.sock.send_multipart(ready)

    def heartbeat(self):
        self.sock.send_multipart([LINK, b"HEARTBEAT"])

    def recv_request(self, timeout):
        """The next REQUEST as (ticket bytes, client key, client frames), or
        None; HEARTBEATs from the broker are skipped."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or not self.sock.poll(int(left * 1000) + 1):
                return None
            frames = self.sock.recv_multipart()
            assert frames[0] == LINK, "%s: not a link message: %r" % (self.name, frames[:3])
            if frames[1] == b"HEARTBEAT":
                continue
            assert frames[1] == b"REQUEST" and len(frames) >= 5, \
                "%s: expected REQUEST, got %r" % (self.name, frames[:4])
            assert len(frames[2]) == 8, "ticket is not 8 bytes: %r" % frames[2]
            return frames[2], frames[3], frames[4:]

    def reply(self, ticket, frames):
        self.sock.send_multipart([LINK, b"REPLY", ticket] + frames)

    def close(self):
        self.sock.send_multipart([LINK, b"DISCONNECT"])
        self.sock.close(linger=0)


def _pong(request_frames, version):
    """The store's reply to a PING request, with a version of our choice."""
    return [h.SIGNATURE, b"PING", request_frames[2], b"200", b"OK",
            version.encode(), b"store"]


def _client(broker):
    """A REQ client with its own key; send and poll without blocking."""
    return h.curve_socket(broker, zmq.REQ)


def _recv(sock, timeout):
    if sock.poll(int(timeout * 1000)):
        return h.Reply(sock.recv_multipart())
    return None


def _register_both(broker, stores):
    """Ping through the broker until every fake store has had a request
    (so every READY has been read); each answers its own."""
    seen = set()
    client = _client(broker)
    try:
        deadline = time.monotonic() + 20
        while seen != {s.name for s in stores}:
            assert time.monotonic() < deadline, \
                "fake stores never all got a request: saw %r" % seen
            client.send_multipart(h.request_frames("PING", h.new_request_id(), "", "store"))
            got = None
            until = time.monotonic() + 2.0
            while got is None and time.monotonic() < until:
                for s in stores:
                    s.heartbeat()
                    req = s.recv_request(0.05)
                    if req:
                        got = (s, req)
                        break
            if got is None:
                # No store known yet: the broker answered 503 itself
                reply = _recv(client, 2.0)
                assert reply is not None and reply.status == 503, reply
                continue
            s, (ticket, key, frames) = got
            s.reply(ticket, _pong(frames, "zpost fake " + s.name))
            reply = _recv(client, 5.0)
            assert reply is not None and reply.status == 200, reply
            seen.add(s.name)
    finally:
        client.close(linger=0)


def test_reply_from_another_store_dropped(tmp):
    broker = h.start_broker(tmp, extra=["--timeout", "20000"])
    one = FakeStore(broker, "one")
    two = FakeStore(broker, "two")
    stores = [one, two]
    _register_both(broker, stores)

    # Client 1's request goes to one store (A); with A busy, client 2's
    # goes to the other (B): the broker picks the one with fewer in flight.
    c1 = _client(broker)
    c2 = _client(broker)
    rid1 = h.new_request_id()
    c1.send_multipart(h.request_frames("PING", rid1, "", "store"))
    a = req_a = None
    deadline = time.monotonic() + 10
    while req_a is None:
        assert time.monotonic() < deadline, "no store got client 1's PING"
        for s in stores:
            req = s.recv_request(0.05)
            if req:
                a, req_a = s, req
    b = two if a is one else one
    assert req_a[2][2] == rid1.encode(), req_a

    rid2 = h.new_request_id()
    c2.send_multipart(h.request_frames("PING", rid2, "", "store"))
    req_b = b.recv_request(10)
    assert req_b is not None, "client 2's PING did not go to the idle store"
    assert req_b[2][2] == rid2.encode(), req_b
    assert req_b[0] != req_a[0], "two requests with one ticket"

    # B answers A's ticket with its own content, then its own ticket. One
    # peer's messages reach the broker in order, so once client 2 has its
    # reply the broker has dealt with B's forged one.
    b.reply(req_a[0], _pong(req_a[2], "zpost forged by " + b.name))
    b.reply(req_b[0], _pong(req_b[2], "zpost genuine " + b.name))
    reply2 = _recv(c2, 10)
    assert reply2 is not None and reply2.status == 200, reply2
    assert reply2.request_id == rid2.encode(), reply2
    assert reply2.fields[0] == ("zpost genuine " + b.name).encode(), reply2

    early = _recv(c1, 0)
    assert early is None, "client 1 got a reply before its store answered: %r" \
        % early

    # A answers: that is the reply client 1 gets, and the only one
    a.reply(req_a[0], _pong(req_a[2], "zpost genuine " + a.name))
    reply1 = _recv(c1, 10)
    assert reply1 is not None, "client 1 never got store A's reply: the " \
        "forged reply used up its ticket"
    assert reply1.request_id == rid1.encode(), reply1
    assert reply1.fields[0] == ("zpost genuine " + a.name).encode(), \
        "client 1 got %r, not store %s's reply" % (reply1, a.name)

    # The broker said so in its log
    h.wait_until(lambda: re.search(r"store %s replied to ticket \d+, which went "
                                   r"to store %s: dropped" % (b.name, a.name),
                                   broker.proc.log_text()),
                 10, what="the broker's warning about the forged reply")
    c1.close(linger=0)
    c2.close(linger=0)
    for s in stores:
        s.close()


def test_body_over_store_limit_413_at_broker(tmp):
    broker = h.start_broker(tmp)
    limit = 5000
    store = FakeStore(broker, "small", body_limit=limit)
    _register_both(broker, [store])

    client = _client(broker)
    # One byte over: 413 from the broker, the store sees nothing
    rid = h.new_request_id()
    client.send_multipart(h.request_frames("SEND", rid, "", "bob", "hi",
                                           b"x" * (limit + 1)))
    reply = _recv(client, 10)
    assert reply is not None, "no reply to an oversized SEND"
    assert reply.status == 413 and reply.command == b"SEND" \
        and reply.request_id == rid.encode(), reply
    assert reply.fields == [b"body"], "413 without detail body: %r" % reply
    assert str(limit) in reply.reason, "the reason does not name the limit: %r" \
        % reply.reason
    store.heartbeat()
    assert store.recv_request(0.5) is None, "the oversized SEND was forwarded"

    # At the limit: forwarded, and the store's answer relayed
    rid = h.new_request_id()
    client.send_multipart(h.request_frames("SEND", rid, "", "bob", "hi",
                                           b"x" * limit))
    req = store.recv_request(10)
    assert req is not None, "a SEND at the limit was not forwarded"
    assert req[2][1] == b"SEND" and len(req[2][6]) == limit, req[2][:3]
    store.reply(req[0], [h.SIGNATURE, b"SEND", rid.encode(), b"401",
                         b"Not logged in"])
    reply = _recv(client, 10)
    assert reply is not None and reply.status == 401, reply
    client.close(linger=0)
    store.close()


def _sanitized():
    """True if the broker was built with AddressSanitizer."""
    with open(h.binary("zpost-broker"), "rb") as f:
        return b"__asan_init" in f.read()


def _vm_hwm_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        m = re.search(r"^VmHWM:\s+(\d+) kB", f.read(), re.M)
    assert m, "no VmHWM for pid %d" % pid
    return int(m.group(1))


FLOOD_COUNT = 120
FLOOD_BODY = 16 * MiB - 4096        # under the protocol's 16 MiB ceiling
#  Half the flood: the broker answers each body as it reads it, so what it
#  holds at the peak is what libzmq's I/O thread queued meanwhile, which
#  depends on how often the broker's thread got a CPU (400 MiB was passed
#  under a CI run beside stress-ng: 535 MiB). A broker that kept the bodies
#  (buffered, forwarded, or answered late) would hold all 1.9 GiB.
BROKER_PEAK_BOUND_MIB = FLOOD_COUNT * FLOOD_BODY // MiB // 2


def test_flood_of_large_bodies_bounded(tmp):
    """120 SENDs of 16 MiB with an empty token, pushed at once from DEALER
    sockets: each gets 413 from the broker (the store said 1 MiB in READY),
    and the broker's peak RSS stays below half of what buffering them
    would take (120 x 16 MiB = 1.9 GiB)."""
    if h.WRAP:
        h.log("flood not run under ZPOST_WRAP (valgrind would take minutes)")
        return
    broker, store = h.start_service(tmp)
    before = _vm_hwm_kib(broker.proc.pid)
    body = b"y" * FLOOD_BODY
    socks = []
    for _ in range(4):
        socks.append(h.curve_socket(broker, sndhwm=FLOOD_COUNT))
    rids = set()
    for n in range(FLOOD_COUNT):
        rid = h.new_request_id()
        rids.add(rid.encode())
        socks[n % len(socks)].send_multipart(
            [b""] + h.request_frames("SEND", rid, "", "bob", "flood", b"")[:-1]
            + [zmq.Frame(body)], copy=False)
    poller = zmq.Poller()
    for sock in socks:
        poller.register(sock, zmq.POLLIN)
    statuses = {}
    deadline = time.monotonic() + 70
    while len(statuses) < FLOOD_COUNT and time.monotonic() < deadline:
        for sock, _ in poller.poll(1000):
            frames = sock.recv_multipart()
            reply = h.Reply(frames[1:])
            assert reply.request_id in rids, reply
            statuses[reply.request_id] = reply.status
    after = _vm_hwm_kib(broker.proc.pid)
    for sock in socks:
        sock.close(linger=0)
    h.log("broker VmHWM before the flood %d KiB, after %d KiB; %d replies"
          % (before, after, len(statuses)))
    assert len(statuses) == FLOOD_COUNT, "only %d of %d SENDs answered" \
        % (len(statuses), FLOOD_COUNT)
    assert set(statuses.values()) == {413}, "not every SEND got 413: %r" \
        % sorted(set(statuses.values()))
    # Both still serve
    assert h.ping_status(broker, "store", 5.0) == 200
    # Under ZPOST_WRAP (valgrind) the pid is the wrapper's, and ASan keeps
    # freed memory in quarantine: no bound there
    if h.WRAP or _sanitized():
        h.log("broker peak not checked under valgrind or AddressSanitizer")
        return
    assert after < BROKER_PEAK_BOUND_MIB * 1024, \
        "the broker's peak RSS reached %d MiB under the flood (bound %d MiB)" \
        % (after // 1024, BROKER_PEAK_BOUND_MIB)


if __name__ == "__main__":
    h.run_tests([test_reply_from_another_store_dropped,
                 test_body_over_store_limit_413_at_broker,
                 test_flood_of_large_bodies_bounded])
