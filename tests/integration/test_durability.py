"""test_durability - acknowledged means committed (issue 4, items 8, 9).

- Group commit: 16 concurrent senders, 50 messages each; the store's
  commit counter (STATS server "commits") grows by fewer than the number
  of messages, and every acknowledged message is listed exactly once.
- kill -9: senders keep sending while the store is killed with SIGKILL;
  restarted on the same data directory, it still has every message it
  acknowledged, with its body, and never reuses an id.
- A full map: --map-size 1 --map-max 4 (MiB). 64 KiB bodies until 507
  STORAGE_FULL; the map grew (the log says so), every message acknowledged
  before is readable with its body, the store stays up and answers LIST
  and READ, deleting makes room again, and a restart finds it all intact.
"""

import re
import threading
import time

import harness as h

THREADS = 16


def _body(mid_hint, size):
    """A body that says which send it came from, padded to size bytes."""
    head = "%s|" % mid_hint
    return head + "x" * (size - len(head))


def _senders(broker, name, password, count, timeout=10):
    clients = []
    for _ in range(count):
        c = h.Client(broker, timeout=timeout)
        c.login(name, password)
        clients.append(c)
    return clients


def _list_all(client, folder="inbox"):
    ids, before = [], 0
    for _ in range(1000):
        reply = client.expect(200, "LIST", folder, "all", "1000", str(before))
        page = [int(row[0]) for row in h.rows(reply, 7)]
        ids += page
        if len(page) < 1000:
            return ids
        before = page[-1]
    raise AssertionError("more than 1000 pages")


def _setup(broker):
    """alice sends, bob receives; returns bob's client."""
    c = h.Client(broker, timeout=5)
    c.register("alice", "password-a")
    bob = h.Client(broker, timeout=5)
    bob.register("bob", "password-b")
    bob.login("bob", "password-b")
    return bob


def test_group_commit(tmp):
    broker, store = h.start_service(tmp)
    bob = _setup(broker)
    senders = _senders(broker, "alice", "password-a", THREADS)
    per_thread = 50
    commits_before = bob.stats("server")["commits"]
    acked = [[] for _ in range(THREADS)]
    errors = []
    barrier = threading.Barrier(THREADS)

    def work(i):
        try:
            barrier.wait(10)
            for n in range(per_thread):
                body = "%d-%d" % (i, n)
                _, reply = senders[i].call("SEND", "bob", "gc", body)
                assert reply is not None and reply.status == 200, reply
                acked[i].append((int(reply.fields[0]), body))
        except BaseException as e:
            errors.append("sender %d: %r" % (i, e))

    threads = [threading.Thread(target=work, args=(i,)) for i in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors[:3]
    commits_after = bob.stats("server")["commits"]
    messages = sum(len(a) for a in acked)
    commits = commits_after - commits_before
    h.log("group commit: %d messages acknowledged in %d commits" % (messages, commits))
    assert messages == THREADS * per_thread
    assert commits < messages, "%d commits for %d messages: no group commit" \
        % (commits, messages)
    listed = _list_all(bob)
    want = sorted(mid for a in acked for mid, _ in a)
    assert sorted(listed) == want and len(set(listed)) == messages, \
        "listed %d ids (%d distinct), acknowledged %d" % (len(listed), len(set(listed)), messages)
    # and each holds its own body
    for mid, body in acked[0][:10] + acked[-1][-10:]:
        reply = bob.expect(200, "READ", str(mid))
        assert reply.fields[5].decode() == body, (mid, body, reply)


def test_no_group_commit_for_comparison(tmp):
    """With --no-group-commit the same load takes one commit per message
    at least: the counter counts what it says."""
    broker, store = h.start_service(tmp, store_extra=["--no-group-commit"])
    bob = _setup(broker)
    senders = _senders(broker, "alice", "password-a", 4)
    before = bob.stats("server")["commits"]
    errors = []

    def work(i):
        try:
            for n in range(25):
                _, reply = senders[i].call("SEND", "bob", "s", "b")
                assert reply is not None and reply.status == 200, reply
        except BaseException as e:
            errors.append(repr(e))

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors[:3]
    commits = bob.stats("server")["commits"] - before
    h.log("without group commit: 100 messages in %d commits" % commits)
    assert commits >= 100, commits


def test_kill_9_loses_nothing_acknowledged(tmp):
    broker, store = h.start_service(tmp)
    bob = _setup(broker)
    senders = _senders(broker, "alice", "password-a", THREADS, timeout=3)
    acked = [[] for _ in range(THREADS)]
    failed = []
    errors = []
    go_kill = threading.Event()
    stop_at = time.monotonic() + 30

    def work(i):
        try:
            for n in range(100000):
                if time.monotonic() > stop_at:
                    errors.append("sender %d: the store was not killed in time" % i)
                    return
                body = _body("%d-%d" % (i, n), 200)
                _, reply = senders[i].call("SEND", "bob", "k %d" % n, body)
                if reply is None or reply.status != 200:
                    failed.append(reply)     # the kill: stop sending
                    return
                acked[i].append((int(reply.fields[0]), body))
                if sum(len(a) for a in acked) >= 1500:
                    go_kill.set()
        except BaseException as e:
            errors.append("sender %d: %r" % (i, e))

    threads = [threading.Thread(target=work, args=(i,)) for i in range(THREADS)]
    for t in threads:
        t.start()
    assert go_kill.wait(25), "1500 sends not acknowledged within 25 s"
    store.proc.kill()                        # SIGKILL, with sends in flight
    for t in threads:
        t.join(30)
    assert not errors, errors[:3]
    assert len(failed) == THREADS, "every sender should have seen the store go: %d" \
        % len(failed)
    for reply in failed:
        assert reply is None or reply.status == 503, \
            "a send in flight at the kill got %r" % reply
    got = [x for a in acked for x in a]
    h.log("%d SENDs acknowledged before SIGKILL" % len(got))

    store = h.start_store(tmp, broker.back, data=store.data_dir)
    h.wait_store_ready(broker)
    # sessions are in LMDB too: bob's token still works after the restart
    listed = _list_all(bob)
    assert len(listed) == len(set(listed)), "an id listed twice"
    missing = set(mid for mid, _ in got) - set(listed)
    assert not missing, "%d acknowledged messages lost in the crash, e.g. %r" \
        % (len(missing), sorted(missing)[:5])
    # unacknowledged sends may or may not have committed; nothing else is there
    assert len(listed) <= len(got) + THREADS, \
        "%d listed, %d acknowledged + at most %d in flight" % (len(listed), len(got), THREADS)
    for mid, body in got[:5] + got[-5:]:
        reply = bob.expect(200, "READ", str(mid))
        assert reply.fields[5].decode() == body, (mid, reply.fields[:5])
    stats = bob.stats()
    assert stats["inbox-count"] == len(listed), (stats, len(listed))
    # ids are never reused
    alice = h.Client(broker, timeout=5)
    alice.login("alice", "password-a")
    reply = alice.expect(200, "SEND", "bob", "after", "after the crash")
    assert int(reply.fields[0]) > max(listed), (reply, max(listed))


MAP_BODY = 64 * 1024


@h.lmdb_only("LMDB's map: --map-size/--map-max, its growth and 507 when "
              "it is full; a PostgreSQL database has no map")
def test_full_map(tmp):
    broker, store = h.start_service(tmp, store_extra=["--map-size", "1", "--map-max", "4"])
    bob = _setup(broker)
    alice = h.Client(broker, timeout=10)
    alice.login("alice", "password-a")
    acked = []
    full = None
    deadline = time.monotonic() + 40
    for n in range(200):                    # 4 MiB / 64 KiB = 64 at most
        assert time.monotonic() < deadline, "filling the map took over 40 s"
        body = _body("m%d" % n, MAP_BODY)
        _, reply = alice.call_as_client("SEND", "bob", "fill %d" % n, body)
        assert reply is not None, "no reply to SEND %d" % n
        if reply.status == 507:
            full = reply
            break
        assert reply.status == 200, "SEND %d: %r" % (n, reply)
        acked.append((int(reply.fields[0]), body))
    assert full is not None, "no 507 after %d sends of 64 KiB into a 4 MiB map" % len(acked)
    assert len(full.fields) <= 1, full
    h.log("507 after %d messages of 64 KiB" % len(acked))
    assert len(acked) >= 20, "only %d messages of 64 KiB fit in 4 MiB" % len(acked)
    h.check_alive(store.proc)

    log = store.proc.log_text()
    assert re.search(r"map grown from 1 MiB to 2 MiB", log) and \
        re.search(r"map grown from 2 MiB to 4 MiB", log), \
        "the store's log does not say the map grew 1 -> 2 -> 4 MiB:\n%s" % log
    server = alice.stats("server")
    assert server["map-size"] == 4 * 1024 * 1024, server
    assert server["map-used"] <= server["map-size"], server
    assert server["messages"] == len(acked), server

    # A second 507, and nothing half-stored
    _, reply = alice.call_as_client("SEND", "bob", "again", _body("again", MAP_BODY))
    assert reply is not None and reply.status == 507, reply

    def check_all(who, folder, client):
        listed = _list_all(client, folder)
        assert sorted(listed) == sorted(mid for mid, _ in acked), \
            "%s's %s after the map filled: %d listed, %d acknowledged" \
            % (who, folder, len(listed), len(acked))
        for mid, body in acked:
            # READ from the sent folder writes nothing (sent is seen)
            reply = client.expect(200, "READ", str(mid))
            assert reply.fields[5].decode() == body, "message %d: wrong body" % mid

    check_all("alice", "sent", alice)
    assert _list_all(bob) == sorted((m for m, _ in acked), reverse=True)
    # bob's READ marks seen, a write: 200, or 507 with nothing changed
    _, reply = bob.call("READ", str(acked[0][0]))
    assert reply is not None and reply.status in (200, 507), reply
    if reply.status == 200:
        assert reply.fields[5].decode() == acked[0][1]
    h.log("READ of an unseen message in a full map: %d" % reply.status)

    # Deleting frees room: drop the first half from both folders
    half = acked[:len(acked) // 2]
    for mid, _ in half:
        for client, folder in ((bob, "inbox"), (alice, "sent")):
            client.expect(200, "DELETE", folder, str(mid))
    acked = acked[len(acked) // 2:]
    assert alice.stats("server")["messages"] == len(acked)
    # room again, for at least a few messages
    for n in range(3):
        body = _body("after delete %d" % n, MAP_BODY)
        _, reply = alice.call("SEND", "bob", "after delete", body)
        assert reply is not None and reply.status == 200, \
            "SEND after deleting %d messages: %r" % (len(half), reply)
        acked.append((int(reply.fields[0]), body))
    check_all("alice", "sent", alice)

    # A restart with the same options finds everything intact
    h.stop(store.proc)
    store = h.start_store(tmp, broker.back, data=store.data_dir,
                          extra=["--map-size", "1", "--map-max", "4"])
    h.wait_store_ready(broker)
    check_all("alice", "sent", alice)
    assert alice.stats("server")["messages"] == len(acked)


if __name__ == "__main__":
    h.run_tests([
        test_group_commit,
        test_no_group_commit_for_comparison,
        test_kill_9_loses_nothing_acknowledged,
        test_full_map,
    ])
