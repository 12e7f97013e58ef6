"""test_multi_broker - one store serves every broker (issue 12, item 1).

A store given several back ends (--broker repeated, or a comma-separated
list) keeps one link to each broker and serves both through one engine:

- both forms work, and a request through either broker is answered; a
  session made through one broker works through the other;
- the same endpoint twice, an empty list item, or more than 16 brokers is
  refused with exit 2 and a sentence;
- kill -9 one broker: the other goes on serving, every request answered
  within a request timeout; the killed broker restarted on the same back
  end gets the store's READY again and serves through it;
- the same SEND (same client key, token and request id) sent through both
  brokers at once, 200 times pipelined: each pair gets identical replies
  with one message-id, and the recipient's inbox holds one message per
  pair (ZPOST.md "Idempotency"), with one store and with two store
  processes on one LMDB environment, each linked to both brokers;
- brokers on tcp:// back ends: one --broker-key serves every broker of a
  deployment that shares one key pair.
"""

import os
import shutil
import time

import harness as h
import zmq

SCALE = h.TIME_SCALE
PASSWORD = "password-multi"
PAIRS = 200


def _brokers(tmp, count=2, back="ipc"):
    """count brokers sharing one keys directory (one deployment, one key
    pair), each with a back end of its own; started one after another so
    the first makes the key pair and the others load it."""
    keys = os.path.join(tmp, "broker-keys")
    brokers = []
    for n in range(count):
        endpoint = "ipc://%s/back-%d.ipc" % (tmp, n) if back == "ipc" \
            else "tcp://127.0.0.1:*"
        brokers.append(h.start_broker(tmp, back=endpoint, keys=keys))
    assert len({b.public_key for b in brokers}) == 1
    return brokers


def _ready_through_all(brokers, timeout=15.0):
    for broker in brokers:
        h.wait_store_ready(broker, timeout=timeout * SCALE)


def _session(broker, keys, name):
    """Register name through broker and log in from keys; returns the
    token."""
    client = h.Client(broker, keys=keys, timeout=30 * SCALE)
    client.register(name, PASSWORD)
    client.login(name, PASSWORD)
    client.close()
    return client.token


def _inbox(broker, keys, token):
    """Every message-id in the session user's inbox, paging 1000 at a time."""
    client = h.Client(broker, keys=keys, timeout=30 * SCALE)
    client.token = token
    ids = []
    before = "0"
    while True:
        reply = client.expect(200, "LIST", "inbox", "all", "1000", before)
        page = [row[0] for row in h.rows(reply, 7)]
        ids += page
        if len(page) < 1000:
            break
        before = page[-1]
    client.close()
    return ids


def _serves_through_both(tmp, brokers):
    """A session made through the first broker works through the second,
    and a SEND through one is in the inbox read through the other."""
    alice_keys, bob_keys = zmq.curve_keypair(), zmq.curve_keypair()
    alice = _session(brokers[0], alice_keys, "alice")
    bob = _session(brokers[1], bob_keys, "bob")
    client = h.Client(brokers[1], keys=alice_keys, timeout=30 * SCALE)
    client.token = alice
    reply = client.expect(200, "SEND", "bob", "hello", "through the second broker")
    message_id = reply.fields[0].decode()
    client.close()
    assert _inbox(brokers[0], bob_keys, bob) == [message_id]


def test_repeated_form_serves_through_both(tmp):
    brokers = _brokers(tmp)
    h.start_store(tmp, [b.back for b in brokers])
    _ready_through_all(brokers)
    _serves_through_both(tmp, brokers)


def test_list_form_serves_through_both(tmp):
    brokers = _brokers(tmp)
    store = h.start_store(tmp, [b.back for b in brokers], list_form=True)
    assert ",".join(b.back for b in brokers) in store.proc.argv
    _ready_through_all(brokers)
    _serves_through_both(tmp, brokers)


def test_tcp_backs_one_broker_key(tmp):
    """Two brokers of one deployment on tcp:// back ends: one --broker-key
    is both brokers' key; the store's certificate, listed once in the
    shared stores directory, lets it serve through both."""
    brokers = _brokers(tmp, back="tcp")
    data = os.path.join(tmp, "data")
    store = h.start_store(tmp, [b.back for b in brokers], data=data, wait=False,
                          extra=["--broker-key", brokers[0].public_key])
    store.proc.wait_line(r"^zpost-store public key (\S{40})$")
    store.proc.wait_line(r"^zpost-store ready$")
    stores = os.path.join(brokers[0].keys_dir, "stores")
    os.makedirs(stores, exist_ok=True)
    shutil.copy(os.path.join(data, "store.key"), os.path.join(stores, "store.key"))
    _ready_through_all(brokers, timeout=30.0)
    _serves_through_both(tmp, brokers)


def test_bad_broker_lists_refused(tmp):
    """Each broker once, none empty, at most 16: refused with exit 2 and a
    sentence, before anything is opened."""
    one = "ipc://%s/back-x.ipc" % tmp
    other = "ipc://%s/back-y.ipc" % tmp
    data = os.path.join(tmp, "data")
    cases = [
        (["--broker", one, "--broker", one], "given twice"),
        (["--broker", "%s,%s" % (one, one)], "given twice"),
        (["--broker", other, "--broker", "%s,%s" % (one, other)], "given twice"),
        (["--broker", "%s," % one], "empty endpoint"),
        (["--broker", ",".join("ipc://%s/b%d.ipc" % (tmp, n) for n in range(17))],
         "more than 16"),
        (["--broker", "tcp://127.0.0.1:1,tcp://127.0.0.1:2",
          "--broker-key", "a" * 40, "--broker-key", "b" * 40,
          "--broker-key", "c" * 40], "3 times for 2 tcp://"),
    ]
    for args, sentence in cases:
        rc, out, err = h.run_program(tmp, "zpost-store", args + ["--data", data]
                                     + h.store_db_args(tmp, data),
                                     timeout=10 * SCALE)
        assert rc == 2 and sentence in err, \
            "zpost-store %s: rc %d, expected 2 and %r in %r" % (args, rc, sentence, err)
    assert not os.path.exists(data), "a refused store opened its data directory"
    # 16 brokers are allowed (the positive control of the bound): the
    # store starts and says ready
    sixteen = ["ipc://%s/c%d.ipc" % (tmp, n) for n in range(16)]
    store = h.start_store(tmp, sixteen, list_form=True)
    h.stop(store.proc)


def test_one_broker_killed_other_serves_then_restarted(tmp):
    brokers = _brokers(tmp)
    store = h.start_store(tmp, [b.back for b in brokers])
    _ready_through_all(brokers)
    keys = zmq.curve_keypair()
    token = _session(brokers[1], keys, "carol")

    brokers[0].proc.kill()
    # The other broker goes on: every SEND answered 200 within a request
    # timeout, through the window in which the store finds the dead one
    # silent (3 heartbeats) and makes it a new socket
    client = h.Client(brokers[1], keys=keys, timeout=h.REQUEST_TIMEOUT)
    client.token = token
    sent = []
    window = 3 * 1.0 + 2.0          # STORE_SERVER_LIVENESS heartbeats, and more
    start = time.monotonic()
    worst = 0.0
    while time.monotonic() - start < window:
        before = time.monotonic()
        reply = client.expect(200, "SEND", "carol", "while one broker is dead",
                              "body %d" % len(sent))
        worst = max(worst, time.monotonic() - before)
        sent.append(reply.fields[0].decode())
    h.log("%d SENDs through the live broker while the other was dead; "
          "slowest %.3f s" % (len(sent), worst))
    h.check_alive(store.proc)

    # The killed broker, restarted on the same back end, finds the store
    again = h.start_broker(tmp, back=brokers[0].back, keys=brokers[0].keys_dir)
    h.wait_until(lambda: h.ping_status(again, "store", 1.0) == 200,
                 15.0 * SCALE, 0.2, "the store to register with the restarted broker")
    other = h.Client(again, keys=keys, timeout=30 * SCALE)
    other.token = token
    reply = other.expect(200, "SEND", "carol", "after the restart", "again")
    sent.append(reply.fields[0].decode())
    other.close()
    client.close()
    assert sorted(_inbox(brokers[1], keys, token), key=int) == sorted(sent, key=int)
    assert "no word from the broker at %s" % brokers[0].back in store.proc.log_text()
    assert "no word from the broker at %s" % brokers[1].back not in \
        store.proc.log_text(), "the live broker's link was replaced too"


def _pairs_once(tmp, brokers):
    """PAIRS SENDs, each sent through both brokers at once (same key, token
    and request id), pipelined on one DEALER per broker: each pair's two
    replies are identical, with one message-id; the inbox holds each once."""
    sender_keys, bob_keys = zmq.curve_keypair(), zmq.curve_keypair()
    sender = _session(brokers[0], sender_keys, "sender")
    bob = _session(brokers[1], bob_keys, "bob")
    socks = [h.curve_socket(b, keys=sender_keys, sndhwm=PAIRS * 2) for b in brokers]
    rids = [h.new_request_id() for _ in range(PAIRS)]
    for n, rid in enumerate(rids):
        frames = [b""] + h.request_frames("SEND", rid, sender, "bob",
                                           "pair %d" % n, "the same body %d" % n)
        for sock in socks:
            sock.send_multipart(frames)
    replies = [{} for _ in socks]
    poller = zmq.Poller()
    for sock in socks:
        poller.register(sock, zmq.POLLIN)
    deadline = time.monotonic() + 60 * SCALE
    while sum(len(r) for r in replies) < PAIRS * len(socks) \
            and time.monotonic() < deadline:
        for sock, _ in poller.poll(1000):
            frames = sock.recv_multipart()
            reply = h.Reply(frames[1:])
            replies[socks.index(sock)][reply.request_id.decode()] = reply
    for sock in socks:
        sock.close(linger=0)
    ids = set()
    for rid in rids:
        got = [r.get(rid) for r in replies]
        assert all(g is not None for g in got), "pair %s: a copy got no reply: %r" \
            % (rid, got)
        assert got[0].status == 200, "pair %s: %r" % (rid, got[0])
        assert got[0].frames == got[1].frames, \
            "pair %s: the two copies got different replies: %r, %r" % (rid, got[0], got[1])
        ids.add(got[0].fields[0].decode())
    assert len(ids) == PAIRS, "%d message-ids for %d pairs" % (len(ids), PAIRS)
    inbox = _inbox(brokers[0], bob_keys, bob)
    assert len(inbox) == PAIRS and set(inbox) == ids, \
        "the inbox holds %d messages (%d distinct) for %d pairs" \
        % (len(inbox), len(set(inbox)), PAIRS)


def test_same_send_through_both_stored_once(tmp):
    brokers = _brokers(tmp)
    h.start_store(tmp, [b.back for b in brokers])
    _ready_through_all(brokers)
    _pairs_once(tmp, brokers)


def _replies_per_link(store):
    """{back end: replies} from the store's leaving lines (after SIGTERM)."""
    import re
    out = {}
    for m in re.finditer(r"leaving (\S+) after ([0-9]+) replies", store.proc.log_text()):
        out[m.group(1)] = int(m.group(2))
    return out


def test_two_stores_one_environment_both_brokers(tmp):
    """Two store processes on one LMDB environment, each linked to both
    brokers: the pairs are still stored once (the lookup is inside the
    write transaction, which LMDB gives one process at a time), and each
    store has answered through each broker."""
    brokers = _brokers(tmp)
    data = os.path.join(tmp, "data")
    stores = [h.start_store(tmp, [b.back for b in brokers], data=data,
                            extra=["--name", "store-%d" % n]) for n in range(2)]
    _ready_through_all(brokers)
    _pairs_once(tmp, brokers)
    # Both stores serve both brokers: each broker picks the store with
    # the fewest requests in flight, so pipelined traffic reaches both
    for store in stores:
        h.stop(store.proc)
    for n, store in enumerate(stores):
        counts = _replies_per_link(store)
        h.log("store-%d replies per broker: %r" % (n, counts))
        for broker in brokers:
            assert counts.get(broker.back, 0) > 0, \
                "store-%d answered nothing through %s: %r" % (n, broker.back, counts)


if __name__ == "__main__":
    h.run_tests([
        test_repeated_form_serves_through_both,
        test_list_form_serves_through_both,
        test_tcp_backs_one_broker_key,
        test_bad_broker_lists_refused,
        test_one_broker_killed_other_serves_then_restarted,
        test_same_send_through_both_stored_once,
        test_two_stores_one_environment_both_brokers,
    ])
