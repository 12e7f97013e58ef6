"""test_pyzmq_spec - a PING written from the spec alone, in Python.

This is the proof that a program in another language, with nothing but a
ZeroMQ binding and protocol/ZPOST.md, can talk to zpost. The client part
below uses pyzmq only: no zpost code and no harness protocol helper. The
harness is used just to start the broker and the store and to find out the
broker's endpoint and public key (an operator would copy those from the
broker's output).

What the spec says, and what this script does:

    A client connects a REQ socket (or a DEALER that sends an empty frame
    first) to the broker's front end, as a CURVE client that knows the
    broker's public key.

    request = "ZPOST1" command request-id token *field
    reply   = "ZPOST1" command request-id status reason *field

    PING has one field, target: "broker" or "store". Its 200 reply has two
    fields: server-version and answered-by.
"""

import time

import zmq

import harness  # only to start processes


def ping(endpoint, server_public_key, target, request_id):
    """Send PING target, return (status, reason, fields, echoed id)."""
    ctx = zmq.Context.instance()
    client_public, client_secret = zmq.curve_keypair()
    sock = ctx.socket(zmq.REQ)
    sock.curve_serverkey = server_public_key.encode("ascii")
    sock.curve_publickey = client_public
    sock.curve_secretkey = client_secret
    sock.linger = 0
    sock.connect(endpoint)
    try:
        sock.send_multipart([b"ZPOST1", b"PING", request_id.encode("ascii"),
                             b"", target.encode("utf-8")])
        if not sock.poll(5000, zmq.POLLIN):
            raise AssertionError("no reply from %s within 5 s" % endpoint)
        frames = sock.recv_multipart()
    finally:
        sock.close()
    assert len(frames) >= 5, "a reply has at least 5 frames: %r" % frames
    signature, command, echoed_id, status, reason = frames[:5]
    assert signature == b"ZPOST1", frames
    assert command == b"PING", frames
    assert len(status) == 3 and status.isdigit(), frames
    return int(status), reason.decode("utf-8"), frames[5:], echoed_id.decode("ascii")


def ping_with_dealer(endpoint, server_public_key, request_id):
    """The same with a DEALER: the empty delimiter frame is ours to send
    and to strip."""
    ctx = zmq.Context.instance()
    client_public, client_secret = zmq.curve_keypair()
    sock = ctx.socket(zmq.DEALER)
    sock.curve_serverkey = server_public_key.encode("ascii")
    sock.curve_publickey = client_public
    sock.curve_secretkey = client_secret
    sock.linger = 0
    sock.connect(endpoint)
    try:
        sock.send_multipart([b"", b"ZPOST1", b"PING", request_id.encode("ascii"),
                             b"", b"store"])
        if not sock.poll(5000, zmq.POLLIN):
            raise AssertionError("no reply to the DEALER within 5 s")
        frames = sock.recv_multipart()
    finally:
        sock.close()
    assert frames[0] == b"", "a DEALER gets the delimiter back first: %r" % frames
    return frames[1:]


def test_ping_from_the_spec(tmp):
    broker = harness.start_broker(tmp)
    harness.start_store(tmp, broker.back)
    endpoint, key = broker.front, broker.public_key

    # The broker answers PING broker itself.
    status, reason, fields, echoed = ping(endpoint, key, "broker", "spec-1")
    assert status == 200, (status, reason)
    assert echoed == "spec-1"
    assert len(fields) == 2 and fields[1] == b"broker", fields
    assert fields[0].decode("utf-8").startswith("zpost "), fields

    # The store may need a moment to announce itself: 503 until then.
    deadline = time.monotonic() + 15
    n = 0
    while True:
        n += 1
        status, reason, fields, echoed = ping(endpoint, key, "store", "spec-%d" % (n + 1))
        assert echoed == "spec-%d" % (n + 1)
        if status == 200 or time.monotonic() > deadline:
            break
        assert status == 503, (status, reason)
        time.sleep(0.1)
    assert status == 200, "PING store: %d %s" % (status, reason)
    assert fields == [("zpost %s" % harness.VERSION).encode(), b"store"], fields

    frames = ping_with_dealer(endpoint, key, "spec-dealer")
    assert frames[:4] == [b"ZPOST1", b"PING", b"spec-dealer", b"200"], frames
    assert frames[5:] == [("zpost %s" % harness.VERSION).encode(), b"store"], frames


if __name__ == "__main__":
    harness.run_tests([test_ping_from_the_spec])
