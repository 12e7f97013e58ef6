"""test_security - who gets an answer, and what bad input gets.

In the manner of Mosquitto's 01-bad-initial-packets tests: a real broker and
store, then a pyzmq client that sends what a hostile or broken peer would.

- A client without CURVE (NULL security) and a CURVE client that expects the
  wrong server key get no answer at all; the broker stays up and a correct
  client is served afterwards.
- Malformed requests get the status the spec and the codec assign (505 wrong
  signature, 405 unknown command, 400 missing or extra frames, 422 invalid
  UTF-8 or value, 413 oversize), with the request id echoed when it was valid
  and an empty frame in its place when it was not. The broker never crashes.
- The ipc back end is a socket file only its owner can use (0600), and a tcp
  back end accepts only store keys from the broker's stores directory.
"""

import os
import re
import shutil
import stat
import time

import harness as h
import zmq


def _up(tmp, client_keys=None, **kw):
    broker = h.start_broker(tmp, **kw)
    store = h.start_store(tmp, broker.back)
    h.wait_store_ready(broker, client_keys=client_keys)
    return broker, store


def _served(broker):
    h.check_alive(broker.proc)
    rid, reply = h.call(broker, "PING", "store", timeout=30.0)
    assert reply is not None and reply.status == 200, \
        "a correct client is no longer served: %r" % reply
    assert reply.request_id == rid.encode(), reply


def test_null_security_client_gets_nothing(tmp):
    broker, store = _up(tmp)
    frames = h.request_frames("PING", h.new_request_id(), "", "broker")
    try:
        sock = h.send_request(broker.front, None, frames, security="null")
    except zmq.Again:
        # libzmq dropped the refused connection before the send: nothing
        # can come back, and the broker must still serve others
        _served(broker)
        return
    try:
        got = h.quiet_while_served(broker, [sock])
    finally:
        sock.close(linger=0)
    assert not got, "a NULL-security client got a reply: %r" % got
    _served(broker)


def test_wrong_server_key_gets_nothing(tmp):
    broker, store = _up(tmp)
    wrong_public, _ = zmq.curve_keypair()
    frames = h.request_frames("PING", h.new_request_id(), "", "broker")
    try:
        sock = h.send_request(broker.front, wrong_public, frames)
    except zmq.Again:
        # libzmq dropped the refused connection before the send: nothing
        # can come back, and the broker must still serve others
        _served(broker)
        return
    try:
        got = h.quiet_while_served(broker, [sock])
    finally:
        sock.close(linger=0)
    assert not got, "a client with the wrong server key got a reply: %r" % got
    _served(broker)


def test_wrong_key_with_real_client(tmp):
    """The zpost binary with a wrong key gets nothing, and says at once that
    the key given is not the one the broker announces (exit 4, issue 14:
    an outdated --server-key is named, not waited out)."""
    broker, store = _up(tmp)
    wrong_public, _ = zmq.curve_keypair()
    rc, out, err, elapsed = h.run_client(
        tmp, ["--timeout", "500", "--retries", "2", "ping"], broker=broker,
        server_key=wrong_public.decode())
    assert rc == 4, "zpost with a wrong server key: expected exit 4, got %d " \
        "(stdout %r, stderr %r)" % (rc, out, err)
    assert "announces a different key" in err and "given with --server-key" in err \
        and "nothing was sent" in err, err
    assert out == "", out
    assert elapsed < 10, "2 tries of 500 ms took %.1f s" % elapsed
    _served(broker)


def _bad(broker, frames, status, command, request_id, what, detail=None):
    """Send frames; expect an error reply with status, echoing command and
    request_id (bytes; b"" where the spec says an empty frame)."""
    raw = h.request(broker.front, broker.public_key, frames, timeout=3.0)
    assert raw is not None, "%s: no reply" % what
    reply = h.Reply(raw)
    assert reply.well_formed(), "%s: malformed reply %r" % (what, raw)
    assert reply.status == status, "%s: expected %d, got %r (%s)" \
        % (what, status, reply.status, reply.reason)
    assert reply.command == command, "%s: command frame %r, expected %r" \
        % (what, reply.command, command)
    assert reply.request_id == request_id, "%s: request id %r, expected %r" \
        % (what, reply.request_id, request_id)
    assert len(reply.fields) <= 1, "%s: error reply has fields %r" % (what, reply.fields)
    assert reply.reason, "%s: empty reason" % what
    if detail is not None:
        # The spec: a 413 or 422 reply SHOULD name the field at fault.
        assert reply.fields == [detail], "%s: detail %r, expected [%r]" \
            % (what, reply.fields, detail)
    return reply


def test_malformed_requests(tmp):
    broker, store = _up(tmp)
    rid = h.new_request_id()
    r = rid.encode()
    S = h.SIGNATURE
    token = "0123456789abcdef" * 4
    cases = [
        ("wrong signature", [b"ZPOST2", b"PING", r, b"", b"store"], 505, b"PING", r),
        ("lower-case signature", [b"zpost1", b"PING", r, b"", b"store"], 505, b"PING", r),
        ("unknown command", [S, b"FETCH", r, b""], 405, b"", r),
        ("lower-case command", [S, b"ping", r, b"", b"store"], 405, b"", r),
        ("signature only", [S], 400, b"", b""),
        ("no request id", [S, b"PING"], 400, b"PING", b""),
        ("no token", [S, b"PING", r], 400, b"PING", r),
        ("missing target", [S, b"PING", r, b""], 400, b"PING", r),
        ("extra frame", [S, b"PING", r, b"", b"store", b"extra"], 400, b"PING", r),
        ("many extra frames", [S, b"PING", r, b"", b"store"] + [b"x"] * 200,
         400, b"PING", r),
        ("empty request id", [S, b"PING", b"", b"", b"store"], 400, b"PING", b""),
        ("request id with a space", [S, b"PING", b"a b", b"", b"store"],
         400, b"PING", b""),
        ("request id of 65 bytes", [S, b"PING", b"x" * 65, b"", b"store"],
         400, b"PING", b""),
        ("bad token", [S, b"PING", r, b"nottoken", b"store"], 400, b"PING", r),
        ("upper-case token", [S, b"PING", r, token.upper().encode(), b"store"],
         400, b"PING", r),
        ("unknown target", [S, b"PING", r, b"", b"moon"], 422, b"PING", r),
        ("invalid UTF-8 target", [S, b"PING", r, b"", b"\xff\xfe"], 422, b"PING", r),
        ("invalid UTF-8 body", [S, b"SEND", r, b"", b"bob", b"hi", b"\xc3\x28"],
         422, b"SEND", r),
        ("overlong UTF-8 subject", [S, b"SEND", r, b"", b"bob", b"\xc0\xaf", b"b"],
         422, b"SEND", r),
        ("NUL in a username", [S, b"LOGIN", r, b"", b"bob\x00x", b"password"],
         422, b"LOGIN", r),
        ("subject of 256 bytes", [S, b"SEND", r, b"", b"bob", b"s" * 256, b"b"],
         413, b"SEND", r),
        ("username of 33 bytes", [S, b"REGISTER", r, b"", b"u" * 33, b"password"],
         413, b"REGISTER", r),
        ("101 recipients", [S, b"SEND", r, b"", b",".join([b"u"] * 101), b"s", b"b"],
         413, b"SEND", r),
    ]
    details = {
        "unknown target": b"target",
        "invalid UTF-8 target": b"target",
        "invalid UTF-8 body": b"body",
        "overlong UTF-8 subject": b"subject",
        "NUL in a username": b"username",
        "subject of 256 bytes": b"subject",
        "username of 33 bytes": b"username",
        "101 recipients": b"recipients",
    }
    for what, frames, status, command, request_id in cases:
        _bad(broker, frames, status, command, request_id, what, details.get(what))
        h.check_alive(broker.proc)
    _served(broker)


def test_single_empty_frame(tmp):
    """A request that is one empty frame: an error reply with empty command
    and request-id frames (the codec says 505: it is not the signature)."""
    broker, store = _up(tmp)
    _bad(broker, [b""], 505, b"", b"", "one empty frame")
    _served(broker)


def test_dealer_garbage(tmp):
    """Peers that do not follow REQ framing at all: no delimiter, binary
    junk, many frames. Whatever the broker does, it stays up and serves."""
    broker, store = _up(tmp)
    sock = h.context().socket(zmq.DEALER)
    sock.linger = 0
    public, secret = zmq.curve_keypair()
    sock.curve_serverkey = broker.public_key.encode()
    sock.curve_publickey = public
    sock.curve_secretkey = secret
    sock.connect(broker.front)
    try:
        junk = [
            [b"ZPOST1", b"PING", b"r1", b"", b"store"],          # no delimiter
            [b"\x00" * 10],
            [b"", b""],
            [b"", b"ZPOST1", b"PING", b"r2", b"", b"store", b"\xff" * 1000],
            [os.urandom(64) for _ in range(50)],
            [b""] * 1000,
        ]
        for frames in junk:
            sock.send_multipart(frames)
        # A proper request on the same connection still gets its answer.
        sock.send_multipart([b""] + h.request_frames("PING", "after-junk", "", "store"))
        deadline = time.monotonic() + 5
        got = None
        while time.monotonic() < deadline and got is None:
            if sock.poll(int((deadline - time.monotonic()) * 1000) + 1, zmq.POLLIN):
                frames = sock.recv_multipart()
                if b"after-junk" in frames:
                    got = frames
        assert got is not None, "no reply to a good request after junk"
        reply = h.Reply(got[got.index(h.SIGNATURE):])
        assert reply.status == 200, reply
    finally:
        sock.close(linger=0)
    _served(broker)


MAXMSGSIZE = 16 * 1024 * 1024 + 64 * 1024     # the spec's front limit


def test_oversize_message(tmp):
    """A body one byte over the protocol's 16 MiB ceiling fits the front's
    ZMQ_MAXMSGSIZE, so the codec answers 413 (detail body); a frame one byte
    over ZMQ_MAXMSGSIZE is dropped by libzmq with no reply. The broker stays
    up either way."""
    broker, store = _up(tmp)
    rid = h.new_request_id()
    frames = h.request_frames("SEND", rid, "", "bob", "big",
                              b"a" * (16 * 1024 * 1024 + 1))
    _bad(broker, frames, 413, b"SEND", rid.encode(), "body of 16 MiB + 1",
         b"body")
    h.check_alive(broker.proc)
    frames = h.request_frames("SEND", rid, "", "bob", "big",
                              b"a" * (MAXMSGSIZE + 1))
    sock = h.send_request(broker.front, broker.public_key, frames)
    try:
        got = h.quiet_while_served(broker, [sock], window=3.0)
    finally:
        sock.close(linger=0)
    assert not got, "a frame over ZMQ_MAXMSGSIZE was read, not dropped: " \
        "%r" % (got[0][:5],)
    _served(broker)


def test_ipc_back_end_is_private(tmp):
    broker, store = _up(tmp)
    assert broker.back.startswith("ipc://"), broker.back
    path = broker.back[len("ipc://"):]
    mode = stat.S_IMODE(os.stat(path).st_mode)
    assert mode == 0o600, "back-end socket %s has mode %o, expected 600" % (path, mode)


def test_tcp_back_end_needs_a_known_store_key(tmp):
    """tcp back end: CURVE, and only stores whose public cert is in the
    broker's stores directory (default KEYS/stores) may register."""
    keys = os.path.join(tmp, "broker-keys")
    broker = h.start_broker(tmp, back="tcp://127.0.0.1:*", keys=keys)
    assert re.match(r"^tcp://127\.0\.0\.1:[0-9]+$", broker.back), broker.back
    data = os.path.join(tmp, "data")
    store = h.start_store(tmp, broker.back, data=data,
                          extra=["--broker-key", broker.public_key])
    m = store.proc.wait_line(r"^zpost-store public key (\S{40})$", 5)
    store_key = m.group(1)
    # Not in the stores directory: the store must not be used. This is a
    # negative check, so it watches for a bounded time.
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline:
        reply = h.ping(broker, "store", 1.5)
        assert reply is not None and reply.status == 503, \
            "an unknown store key was accepted on the tcp back end: %r" % reply
    h.stop(store.proc)
    h.stop(broker.proc)

    stores = os.path.join(keys, "stores")
    os.makedirs(stores, exist_ok=True)
    cert = os.path.join(data, "store.key")
    assert os.path.exists(cert), "store did not write its public cert %s" % cert
    shutil.copy(cert, os.path.join(stores, "store.key"))
    with open(cert) as f:
        assert store_key in f.read(), "printed key is not the one in %s" % cert

    #  A port of its own again: the old one may already be another test's
    broker = h.start_broker(tmp, back="tcp://127.0.0.1:*", keys=keys)
    store = h.start_store(tmp, broker.back, data=data,
                          extra=["--broker-key", broker.public_key])
    h.wait_store_ready(broker)
    _served(broker)


def test_client_allow_list(tmp):
    """--clients DIR: only clients whose public cert is in DIR are served."""
    # Let the real client make its key pair (the server need not exist).
    h.run_client(tmp, ["--timeout", "100", "--retries", "1", "ping"],
                 server="127.0.0.1:1", server_key=zmq.curve_keypair()[0].decode())
    cert = os.path.join(h.client_config_dir(tmp), "client.key")
    assert os.path.exists(cert), "client made no key pair"
    clients = os.path.join(tmp, "clients")
    os.makedirs(clients)
    shutil.copy(cert, os.path.join(clients, "alice.key"))
    keys = h.read_cert(cert + "_secret")
    broker, store = _up(tmp, client_keys=keys, extra=["--clients", clients])

    rc, out, err, _ = h.run_client(tmp, ["ping"], broker=broker)
    assert rc == 0 and "pong from store" in out, \
        "a listed client was not served: rc %d, %r, %r" % (rc, out, err)
    frames = h.request_frames("PING", h.new_request_id(), "", "broker")
    sock = h.send_request(broker.front, broker.public_key, frames)
    try:
        got = h.quiet_while_served(broker, [sock], client_keys=keys)
    finally:
        sock.close(linger=0)
    assert not got, "a client not on the allow-list got a reply: %r" % got
    h.check_alive(broker.proc)


if __name__ == "__main__":
    h.run_tests([
        test_null_security_client_gets_nothing,
        test_wrong_server_key_gets_nothing,
        test_wrong_key_with_real_client,
        test_malformed_requests,
        test_single_empty_frame,
        test_dealer_garbage,
        test_oversize_message,
        test_client_allow_list,
        test_ipc_back_end_is_private,
        test_tcp_back_end_needs_a_known_store_key,
    ])
