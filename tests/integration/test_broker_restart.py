"""test_broker_restart - the store finds a new broker by itself.

A broker is stopped (SIGTERM, and in another test SIGKILL) and a new one
started on the same back-end ipc path with the same keys directory. The
store keeps running; it must register with the new broker on its own,
which the test sees as a PING through the store answering 200 before a
deadline. The new broker keeps the same public key (same key files), so
clients that know the key need nothing new; its front port may change.
"""

import harness as h

REREGISTER_DEADLINE = 15.0


def _restart(tmp, kill):
    broker = h.start_broker(tmp)
    store = h.start_store(tmp, broker.back)
    h.wait_store_ready(broker)
    rc, out, err, _ = h.run_client(tmp, ["ping"], broker=broker)
    assert rc == 0 and "pong from store" in out, (rc, out, err)

    if kill:
        broker.proc.kill()
    else:
        h.stop(broker.proc)
    h.check_alive(store.proc)

    again = h.start_broker(tmp, back=broker.back, keys=broker.keys_dir)
    assert again.public_key == broker.public_key, \
        "same keys dir, different public key: %s then %s" \
        % (broker.public_key, again.public_key)
    assert again.back == broker.back, (again.back, broker.back)

    h.wait_until(lambda: h.ping_status(again, "store", 1.0) == 200,
                 REREGISTER_DEADLINE, 0.2,
                 "the store to register with the new broker")
    h.check_alive(store.proc)
    rc, out, err, _ = h.run_client(tmp, ["ping"], broker=again)
    assert rc == 0 and "pong from store" in out, \
        "zpost ping via the new broker: rc %d, %r, %r" % (rc, out, err)
    return again, store


def test_broker_stopped_and_restarted(tmp):
    _restart(tmp, kill=False)


def test_broker_killed_and_restarted(tmp):
    _restart(tmp, kill=True)


def test_broker_restarted_twice(tmp):
    broker, store = _restart(tmp, kill=False)
    h.stop(broker.proc)
    again = h.start_broker(tmp, back=broker.back, keys=broker.keys_dir)
    h.wait_until(lambda: h.ping_status(again, "store", 1.0) == 200,
                 REREGISTER_DEADLINE, 0.2,
                 "the store to register with the third broker")


if __name__ == "__main__":
    h.run_tests([
        test_broker_stopped_and_restarted,
        test_broker_killed_and_restarted,
        test_broker_restarted_twice,
    ])
