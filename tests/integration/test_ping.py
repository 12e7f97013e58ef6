"""test_ping - a PING reaches the store, and one stops at the broker.

Starts a real zpost-broker and zpost-store, then pings with the real zpost
binary (every form of --server and --server-key the plan lists) and with the
harness's pyzmq client.
"""

import os
import re

import zmq

import harness as h


def _up(tmp):
    broker = h.start_broker(tmp)
    store = h.start_store(tmp, broker.back)
    h.wait_store_ready(broker)
    return broker, store


def test_ping_store_with_cli(tmp):
    broker, store = _up(tmp)
    rc, out, err, _ = h.run_client(tmp, ["ping"], broker=broker)
    assert rc == 0, "zpost ping: rc %d, stdout %r, stderr %r" % (rc, out, err)
    assert re.search(r"^pong from store\b", out, re.M), \
        "zpost ping: expected 'pong from store ...', got stdout %r" % out
    assert h.VERSION in out, "zpost ping: no server version %s in %r" \
        % (h.VERSION, out)
    assert re.search(r"\bin [0-9]+(\.[0-9]+)? ?ms\b", out), \
        "zpost ping: no round-trip time in %r" % out
    h.check_alive(broker.proc)
    h.check_alive(store.proc)


def test_ping_broker_with_cli(tmp):
    broker, store = _up(tmp)
    rc, out, err, _ = h.run_client(tmp, ["ping", "--broker"], broker=broker)
    assert rc == 0, "zpost ping --broker: rc %d, stdout %r, stderr %r" % (rc, out, err)
    assert re.search(r"^pong from broker\b", out, re.M), \
        "zpost ping --broker: expected 'pong from broker ...', got %r" % out


def test_ping_broker_without_store(tmp):
    broker = h.start_broker(tmp)
    rc, out, err, _ = h.run_client(tmp, ["ping", "--broker"], broker=broker)
    assert rc == 0, "zpost ping --broker with no store: rc %d, stdout %r, " \
        "stderr %r" % (rc, out, err)
    assert re.search(r"^pong from broker\b", out, re.M), out


def test_server_address_forms(tmp):
    """ADDR may be host:port or tcp://host:port; the key may be the Z85 text,
    the broker's public certificate file, or $ZPOST_SERVER_KEY; the server
    may come from $ZPOST_SERVER."""
    broker, store = _up(tmp)
    port = broker.front.rsplit(":", 1)[1]
    cert = os.path.join(broker.keys_dir, "broker.key")
    assert os.path.exists(cert), "no public certificate %s" % cert
    cases = [
        ("tcp://host:port, key text", dict(server=broker.front,
                                           server_key=broker.public_key)),
        ("host:port", dict(server="127.0.0.1:%s" % port,
                           server_key=broker.public_key)),
        ("key file", dict(server=broker.front, server_key=cert)),
        ("ZPOST_SERVER_KEY", dict(server=broker.front, server_key="",
                                  env={"ZPOST_SERVER_KEY": broker.public_key})),
        ("ZPOST_SERVER", dict(server="", server_key=broker.public_key,
                              env={"ZPOST_SERVER": "127.0.0.1:%s" % port})),
    ]
    for what, kw in cases:
        rc, out, err, _ = h.run_client(tmp, ["ping"], **kw)
        assert rc == 0 and "pong from store" in out, \
            "%s: zpost ping rc %d, stdout %r, stderr %r" % (what, rc, out, err)


def test_ping_with_pyzmq(tmp):
    broker, store = _up(tmp)
    rid, reply = h.call(broker, "PING", "store")
    assert reply is not None, "no reply to PING store"
    assert reply.well_formed(), "malformed reply %r" % reply
    assert reply.status == 200, "PING store: status %r reason %r" \
        % (reply.status, reply.reason)
    assert reply.command == b"PING", reply
    assert reply.request_id == rid.encode(), \
        "request id not echoed: sent %r, got %r" % (rid, reply.request_id)
    assert len(reply.fields) == 2, "PING reply fields: expected server-version, " \
        "answered-by; got %r" % reply.fields
    assert reply.fields[1] == b"store", "answered-by %r" % reply.fields[1]
    assert reply.fields[0] == ("zpost %s" % h.VERSION).encode(), \
        "server-version %r, expected 'zpost %s'" % (reply.fields[0], h.VERSION)

    rid, reply = h.call(broker, "PING", "broker")
    assert reply is not None and reply.status == 200, reply
    assert reply.request_id == rid.encode(), reply
    assert reply.fields[1:] == [b"broker"], "answered-by %r" % reply.fields


def test_many_pings_one_client_key(tmp):
    """Requests in a row from one client key, all answered."""
    broker, store = _up(tmp)
    keys = zmq.curve_keypair()
    for i in range(20):
        rid, reply = h.call(broker, "PING", "store", client_keys=keys)
        assert reply is not None and reply.status == 200, (i, reply)
        assert reply.request_id == rid.encode(), (i, reply)


def test_concurrent_clients_get_their_own_replies(tmp):
    """Ten clients send before any reads: each reply reaches its sender."""
    broker, store = _up(tmp)
    socks = []
    try:
        for i in range(10):
            s = h.context().socket(zmq.REQ)
            s.linger = 0
            public, secret = zmq.curve_keypair()
            s.curve_serverkey = broker.public_key.encode()
            s.curve_publickey = public
            s.curve_secretkey = secret
            s.connect(broker.front)
            target = "store" if i % 2 == 0 else "broker"
            rid = "c%d-%s" % (i, h.new_request_id())
            s.send_multipart(h.request_frames("PING", rid, "", target))
            socks.append((s, rid, target))
        for s, rid, target in socks:
            assert s.poll(5000, zmq.POLLIN), "no reply for %s" % rid
            reply = h.Reply(s.recv_multipart())
            assert reply.status == 200, reply
            assert reply.request_id == rid.encode(), \
                "client %s got the reply for %r" % (rid, reply.request_id)
            assert reply.fields[1:] == [target.encode()], reply
    finally:
        for s, _, _ in socks:
            s.close(linger=0)


if __name__ == "__main__":
    h.run_tests([
        test_ping_store_with_cli,
        test_ping_broker_with_cli,
        test_ping_broker_without_store,
        test_server_address_forms,
        test_ping_with_pyzmq,
        test_many_pings_one_client_key,
        test_concurrent_clients_get_their_own_replies,
    ])
