"""test_mail - SEND, LIST, READ, DELETE and STATS through the real broker
and store (issue 4, item 11), spoken from ZPOST.md with pyzmq.

- SEND to several recipients (folded, repeats dropped); LIST of inbox and
  sent, newest first, every one of the 7 fields checked; READ marks seen.
- Another user's message ids are answered exactly like ids that do not
  exist; DELETE twice is 200 twice.
- Unknown recipients: 430 naming exactly them, nothing stored.
- A retried SEND (same request id) returns the same id, stores once.
- Quota (--quota 1000) and body limit (--body-limit 100).
- STATS user figures match a model of what was sent, read and deleted;
  STATS server has its names.
- 10,000 messages in one inbox, sent by 16 concurrent clients, paged 1000
  at a time: every id exactly once, strictly decreasing. LIST limits.
"""

import threading
import time


import harness as h


def _rows(reply):
    return h.rows(reply, 7)


def _list(client, folder="inbox", filter_="all", limit=1000, before=0):
    return _rows(client.expect(200, "LIST", folder, filter_, str(limit), str(before)))


def _ids(client, folder="inbox", filter_="all"):
    return [int(r[0]) for r in _list(client, folder, filter_)]


def _users(broker, *names, password="password-1"):
    """Register and log in each name, each on its own client key."""
    clients = {}
    for name in names:
        c = h.Client(broker, timeout=5)
        c.register(name, password)
        c.login(name, password)
        clients[name] = c
    return clients


def _send(client, recipients, subject, body, **kw):
    reply = client.expect(200, "SEND", recipients, subject, body, **kw)
    assert len(reply.fields) == 1 and reply.fields[0].isdigit(), reply
    return int(reply.fields[0])


def test_send_list_read(tmp):
    broker, store = h.start_service(tmp)
    u = _users(broker, "alice", "bob", "carol", "dave")
    subjects = ["first", "Gr\u00fc\u00dfe \u2713", ""]
    bodies = ["hello bob and carol", "\u00e9t\u00e9 \U0001F600\nline two\n", ""]
    sent = []
    for subject, body in zip(subjects, bodies):
        t0 = int(time.time())
        mid = _send(u["alice"], "bob,Carol,BOB,bob", subject, body)
        sent.append((mid, subject, body, t0, int(time.time())))
    ids = [s[0] for s in sent]
    assert ids == sorted(ids) and len(set(ids)) == 3, "ids not increasing: %r" % ids

    def check_rows(rows, seen):
        assert [int(r[0]) for r in rows] == ids[::-1], \
            "LIST not newest first: %r vs %r" % (rows, ids)
        for row, (mid, subject, body, t0, t1) in zip(rows, sent[::-1]):
            assert row[1] == "alice", row
            assert row[2] == "bob,carol", "to: folded, repeats dropped, order " \
                "kept: %r" % row
            assert row[3] == subject, row
            assert t0 <= int(row[4]) <= t1 + 1, "date %s not in %d..%d" % (row[4], t0, t1)
            assert int(row[5]) == len(body.encode("utf-8")), "size is body bytes: %r" % row
            assert row[6] == seen, "seen %r, expected %r" % (row[6], seen)

    for name in ("bob", "carol"):
        check_rows(_list(u[name]), "0")
    check_rows(_list(u["alice"], "sent"), "1")
    assert _list(u["alice"], "inbox") == [] and _list(u["dave"]) == []
    assert _list(u["alice"], "sent", "unread") == [], "sent is always seen"
    assert _list(u["bob"], "sent") == []

    # READ: the whole message, and it becomes seen in bob's inbox only
    mid, subject, body, t0, t1 = sent[1]
    reply = u["bob"].expect(200, "READ", str(mid))
    f = [x.decode() for x in reply.fields]
    assert len(f) == 6, reply
    assert f[0] == str(mid) and f[1] == "alice" and f[2] == "bob,carol" \
        and f[3] == subject and t0 <= int(f[4]) <= t1 + 1 and f[5] == body, f
    rows = _list(u["bob"])
    assert [r[6] for r in rows] == ["0", "1", "0"], rows
    assert [int(r[0]) for r in _list(u["bob"], "inbox", "unread")] == [ids[2], ids[0]]
    assert [r[6] for r in _list(u["carol"])] == ["0", "0", "0"]
    assert u["bob"].stats()["inbox-unread"] == 2
    # reading again changes nothing; the sender reads from sent
    u["bob"].expect(200, "READ", str(mid))
    assert u["bob"].stats()["inbox-unread"] == 2
    reply = u["alice"].expect(200, "READ", str(mid))
    assert reply.fields[5].decode() == body
    # paging: limit and before
    assert [int(r[0]) for r in _list(u["bob"], limit=1)] == [ids[2]]
    assert [int(r[0]) for r in _list(u["bob"], limit=2, before=ids[2])] == [ids[1], ids[0]]
    assert _list(u["bob"], before=ids[0]) == []
    assert [int(r[0]) for r in _list(u["bob"], before=ids[2] + 1000)] == ids[::-1]


def test_other_users_ids(tmp):
    broker, store = h.start_service(tmp)
    u = _users(broker, "alice", "bob", "eve")
    mid = _send(u["alice"], "bob", "private", "for bob only")
    nonexistent = mid + 1000

    # READ: the same reply, byte for byte, with the same request id
    rid = h.new_request_id()
    other = u["eve"].expect(404, "READ", str(mid), request_id=rid)
    none = u["eve"].expect(404, "READ", str(nonexistent), request_id=rid)
    assert other.frames == none.frames, \
        "READ of another's id vs a nonexistent id:\n  %r\n  %r" % (other.frames, none.frames)
    zero = u["eve"].expect(404, "READ", "0", request_id=rid)
    assert zero.frames == none.frames, (zero, none)
    # bob's own READ of a nonexistent id: the same
    bobs = u["bob"].expect(404, "READ", str(nonexistent), request_id=rid)
    assert bobs.frames == none.frames

    # DELETE: 200 either way, the same reply byte for byte (DELETE keeps
    # no record, so one request id serves both)
    for folder in ("inbox", "sent"):
        rid = h.new_request_id()
        a = u["eve"].expect(200, "DELETE", folder, str(mid), request_id=rid)
        b = u["eve"].expect(200, "DELETE", folder, str(nonexistent), request_id=rid)
        assert a.frames == b.frames, (a, b)
    # ... and nothing changed for the owners
    assert _ids(u["bob"]) == [mid]
    assert _ids(u["alice"], "sent") == [mid]
    u["bob"].expect(200, "READ", str(mid))
    assert u["eve"].stats()["inbox-count"] == 0
    assert u["alice"].stats("server")["messages"] == 1


def test_delete(tmp):
    broker, store = h.start_service(tmp)
    u = _users(broker, "alice", "bob", "carol")
    m1 = _send(u["alice"], "bob,carol", "one", "x" * 10)
    m2 = _send(u["alice"], "bob", "two", "y" * 20)

    rid = h.new_request_id()
    reply = u["bob"].expect(200, "DELETE", "inbox", str(m1), request_id=rid)
    assert reply.fields == [], reply
    assert _ids(u["bob"]) == [m2]
    u["bob"].expect(200, "DELETE", "inbox", str(m1), request_id=rid)   # retry
    u["bob"].expect(200, "DELETE", "inbox", str(m1))                   # again
    assert _ids(u["bob"]) == [m2]
    u["bob"].expect(404, "READ", str(m1))
    # others' references stay; the message lives while any folder has it
    assert _ids(u["carol"]) == [m1]
    assert _ids(u["alice"], "sent") == [m2, m1]
    assert u["alice"].stats("server")["messages"] == 2
    u["carol"].expect(200, "DELETE", "inbox", str(m1))
    assert u["alice"].stats("server")["messages"] == 2     # still in sent
    u["alice"].expect(200, "DELETE", "sent", str(m1))
    server = u["alice"].stats("server")
    assert server["messages"] == 1 and server["bytes"] == 20, server
    # DELETE from the wrong folder does nothing
    u["bob"].expect(200, "DELETE", "sent", str(m2))
    assert _ids(u["bob"]) == [m2]


def test_unknown_recipients(tmp):
    broker, store = h.start_service(tmp)
    u = _users(broker, "alice", "bob", "carol")
    _send(u["alice"], "bob", "before", "something")
    before = {n: (u[n].stats(), _list(u[n]), _list(u[n], "sent")) for n in u}
    server = u["alice"].stats("server")

    reply = u["alice"].expect(430, "SEND", "bob,Zed,carol,yan,zed", "s", "body")
    assert reply.fields == [b"zed,yan"], \
        "430 detail: the unknown names, folded, once each, in order: %r" % reply
    reply = u["alice"].expect(430, "SEND", "nobody", "s", "body")
    assert reply.fields == [b"nobody"], reply

    after = {n: (u[n].stats(), _list(u[n]), _list(u[n], "sent")) for n in u}
    assert after == before, "a refused SEND changed something:\n%r\n%r" % (before, after)
    server_after = u["alice"].stats("server")
    for name in ("messages", "bytes", "users"):
        assert server_after[name] == server[name], (server, server_after)


def test_retried_send_stores_once(tmp):
    broker, store = h.start_service(tmp)
    u = _users(broker, "alice", "bob")
    rid = h.new_request_id()
    mid = _send(u["alice"], "bob", "retry me", "body", request_id=rid)
    # the retry, on a new socket with the same key (as Lazy Pirate does)
    again = h.Client(broker, keys=u["alice"].keys, timeout=5)
    again.token = u["alice"].token
    for client in (u["alice"], again):
        assert _send(client, "bob", "retry me", "body", request_id=rid) == mid
    assert _ids(u["bob"]) == [mid]
    assert _ids(u["alice"], "sent") == [mid]
    assert u["bob"].stats()["inbox-count"] == 1
    assert u["alice"].stats()["sent-count"] == 1
    assert u["alice"].stats("server")["messages"] == 1
    # the same id for another request: 422 request-id, nothing stored
    reply = u["alice"].expect(422, "SEND", "bob", "retry me", "other body", request_id=rid)
    assert reply.fields == [b"request-id"], reply
    assert _ids(u["bob"]) == [mid]
    # the request id belongs to alice: bob may use the same one
    mid_bob = _send(u["bob"], "alice", "retry me", "body", request_id=rid)
    assert mid_bob != mid and _ids(u["alice"]) == [mid_bob]


def test_quota_and_body_limit(tmp):
    broker, store = h.start_service(tmp, store_extra=["--quota", "1000",
                                                      "--body-limit", "100"])
    u = _users(broker, "alice", "bob", "carol", "dave")
    # body limit: bytes, not characters
    _send(u["alice"], "carol", "s", "\u00e9" * 50)                     # 100 bytes
    reply = u["alice"].expect(413, "SEND", "carol", "s", "\u00e9" * 50 + "x")
    assert reply.fields == [b"body"], reply
    reply = u["alice"].expect(413, "SEND", "carol", "s", "x" * 101)
    assert reply.fields == [b"body"], reply
    assert u["carol"].stats()["inbox-count"] == 1

    # bob's inbox up to exactly 1000 bytes, from two senders
    for n in range(10):
        _send(u["alice" if n % 2 else "dave"], "bob", "fill %d" % n, "b" * 100)
    stats = u["bob"].stats()
    assert stats["inbox-bytes"] == 1000 and stats["quota-limit"] == 1000, stats
    before = {n: (u[n].stats(), _list(u[n]), _list(u[n], "sent")) for n in u}
    server = u["alice"].stats("server")
    reply = u["alice"].expect(452, "SEND", "carol,bob", "over", "z")
    assert reply.fields == [b"bob"], "452 names the full mailbox: %r" % reply
    after = {n: (u[n].stats(), _list(u[n]), _list(u[n], "sent")) for n in u}
    assert after == before, "a SEND over quota stored something"
    assert u["alice"].stats("server")["messages"] == server["messages"]
    # an empty body takes no quota
    _send(u["alice"], "bob", "empty", "")
    # deleting makes room
    u["bob"].expect(200, "DELETE", "inbox", str(_ids(u["bob"])[-1]))
    _send(u["alice"], "carol,bob", "fits now", "c" * 100)


def test_quota_counts_inbox_only(tmp):
    """ZPOST.md: quota-used is inbox-bytes; the sender's sent folder does
    not count, so a user whose inbox is full can still send."""
    broker, store = h.start_service(tmp, store_extra=["--quota", "1000",
                                                      "--body-limit", "600"])
    u = _users(broker, "alice", "bob", "carol")
    _send(u["alice"], "bob", "s", "a" * 600)
    _send(u["alice"], "carol", "s", "a" * 600)      # sent: 1200 > 1000
    _send(u["bob"], "alice", "s", "b" * 600)
    _send(u["carol"], "alice", "s", "c" * 400)      # alice's inbox: 1000
    stats = u["alice"].stats()
    assert stats["sent-bytes"] == 1200 and stats["inbox-bytes"] == 1000, stats
    assert stats["quota-used"] == 1000 and stats["quota-limit"] == 1000, stats
    reply = u["bob"].expect(452, "SEND", "alice", "s", "x")
    assert reply.fields == [b"alice"], reply
    # alice, her inbox full, still writes to say so
    _send(u["alice"], "bob", "my inbox is full", "a" * 300)
    assert u["alice"].stats()["sent-bytes"] == 1500
    # several full mailboxes: all named, in the order given
    _send(u["carol"], "bob", "s", "c" * 100)        # bob's inbox: 1000
    reply = u["carol"].expect(452, "SEND", "Bob,carol,alice", "s", "y")
    assert reply.fields == [b"bob,alice"], reply


def test_stats_match_model(tmp):
    """A scripted sequence of sends, reads and deletes; after every step
    each user's STATS equals what a model of the folders says, and the
    server's messages and bytes count each stored message once."""
    broker, store = h.start_service(tmp)
    names = ["ann", "ben", "cat", "dan"]
    u = _users(broker, *names)
    inbox = {n: {} for n in names}     # id -> [size, seen]
    sent = {n: {} for n in names}      # id -> size
    sizes = {}                         # id -> size of every message sent

    def check(step):
        refs = set()
        for n in names:
            s = u[n].stats()
            want = {"inbox-count": len(inbox[n]),
                    "inbox-unread": sum(1 for v in inbox[n].values() if not v[1]),
                    "inbox-bytes": sum(v[0] for v in inbox[n].values()),
                    "sent-count": len(sent[n]),
                    "sent-bytes": sum(sent[n].values()),
                    "quota-used": sum(v[0] for v in inbox[n].values())}
            got = {k: s.get(k) for k in want}
            assert got == want, "step %s, %s: STATS %r, expected %r" % (step, n, got, want)
            assert s.get("quota-limit") == 104857600, s
            refs |= set(inbox[n]) | set(sent[n])
        server = u[names[0]].stats("server")
        assert server["messages"] == len(refs), \
            "step %s: server messages %d, expected %d" % (step, server["messages"], len(refs))
        assert server["bytes"] == sum(sizes[i] for i in refs), \
            "step %s: server bytes %d, expected %d" % (step, server["bytes"],
                                                      sum(sizes[i] for i in refs))
        assert server["users"] == len(names)

    def send(frm, to, body):
        mid = _send(u[frm], ",".join(to), "s", body)
        size = len(body.encode())
        sizes[mid] = size
        for n in dict.fromkeys(x.lower() for x in to):
            inbox[n][mid] = [size, False]
        sent[frm][mid] = size
        return mid

    def read(n, mid):
        u[n].expect(200, "READ", str(mid))
        if mid in inbox[n]:
            inbox[n][mid][1] = True

    def delete(n, folder, mid):
        u[n].expect(200, "DELETE", folder, str(mid))
        (inbox if folder == "inbox" else sent)[n].pop(mid, None)

    check(0)
    m = []
    m.append(send("ann", ["ben"], "a" * 10))
    m.append(send("ann", ["ben", "cat", "Dan"], "\u00e9" * 7))
    m.append(send("ben", ["ann", "ben"], ""))              # to oneself too
    m.append(send("cat", ["ann"], "c" * 1000))
    m.append(send("dan", ["dan"], "d" * 33))
    check(1)
    read("ben", m[0]); read("ben", m[2]); read("cat", m[1]); read("ann", m[0])
    check(2)
    delete("ben", "inbox", m[0]); delete("ben", "sent", m[2]); delete("ann", "sent", m[1])
    check(3)
    delete("ben", "inbox", m[0])                            # twice
    delete("ann", "inbox", m[3]); delete("cat", "sent", m[3])   # m3 freed
    delete("dan", "inbox", m[4])                            # still in dan's sent
    check(4)
    m.append(send("ann", ["cat"], "e" * 500))
    read("cat", m[5]); delete("cat", "inbox", m[5])
    read("dan", m[1])
    delete("dan", "sent", m[4])                             # m4 freed
    check(5)
    for n in names:
        for mid in list(inbox[n]):
            delete(n, "inbox", mid)
        for mid in list(sent[n]):
            delete(n, "sent", mid)
    check(6)


def test_stats_server(tmp):
    broker, store = h.start_service(tmp)
    u = _users(broker, "alice", "bob")
    _send(u["alice"], "bob", "s", "12345")
    reply = u["alice"].expect(200, "STATS", "server")
    names = [name for name, _ in h.rows(reply, 2)]
    values = [value for _, value in h.rows(reply, 2)]
    for name in ("users", "messages", "bytes", "commits"):
        assert name in names, "STATS server lacks %s: %r" % (name, names)
    assert all(v.isdigit() for v in values), values
    s = dict(zip(names, map(int, values)))
    assert s["users"] == 2 and s["messages"] == 1 and s["bytes"] == 5, s
    if h.on_lmdb("map-size and map-used are LMDB's map (ZPOST.md, STATS)"):
        assert "map-used" in s and "map-size" in s, "STATS server lacks " \
            "map-used or map-size: %r" % names
        assert s["map-size"] == 1024 * 1024 * 1024, "default map 1024 MiB: %r" % s
        assert 0 < s["map-used"] <= s["map-size"], s
    assert s["commits"] >= 1, s
    reply = u["alice"].expect(200, "STATS", "user")
    names = [name for name, _ in h.rows(reply, 2)]
    assert names == ["inbox-count", "inbox-unread", "inbox-bytes", "sent-count",
                     "sent-bytes", "quota-used", "quota-limit"], names
    reply = u["alice"].expect(422, "STATS", "users")
    assert reply.fields == [b"scope"], reply


def test_list_limits(tmp):
    broker, store = h.start_service(tmp)
    u = _users(broker, "alice")
    for limit in ("0", "1001", "-1", "01", "x"):
        reply = u["alice"].expect(422, "LIST", "inbox", "all", limit, "0")
        assert reply.fields == [b"limit"], "limit %s: %r" % (limit, reply)
    for limit in ("1", "1000"):
        u["alice"].expect(200, "LIST", "inbox", "all", limit, "0")
    for folder, filter_ in (("trash", "all"), ("inbox", "new")):
        reply = u["alice"].expect(422, "LIST", folder, filter_, "10", "0")
        assert reply.fields == [b"folder" if folder == "trash" else b"filter"], reply


def test_bad_words_are_422(tmp):
    """ZPOST.md, Fields: folder, filter, scope (and limit, a number) have
    no length limit of their own; a value the rule does not allow is 422,
    whatever its length (the "fault gives" column; "numbers ... 422" in
    Limits). A long wrong word must not become 413."""
    broker, store = h.start_service(tmp)
    u = _users(broker, "alice")
    cases = [("STATS", ("everything",), b"scope"),
             ("LIST", ("trashcan", "all", "1", "0"), b"folder"),
             ("LIST", ("inbox", "everything", "1", "0"), b"filter"),
             ("LIST", ("inbox", "all", "9" * 21, "0"), b"limit"),
             ("DELETE", ("trashcan", "1"), b"folder")]
    wrong = []
    for command, fields, detail in cases:
        _, reply = u["alice"].call(command, *fields)
        assert reply is not None, (command, fields)
        if reply.status != 422 or reply.fields != [detail]:
            wrong.append("%s %r: %r" % (command, fields, reply.frames[3:]))
    assert not wrong, "expected 422 with the field's name:\n  " + "\n  ".join(wrong)


TOTAL = 10000
THREADS = 16


def test_ten_thousand_paged(tmp):
    broker, store = h.start_service(tmp)
    u = _users(broker, "bob")
    setup = h.Client(broker, timeout=5)
    setup.register("alice", "password-1")

    # 16 senders, each its own socket, key and session
    senders = []
    for _ in range(THREADS):
        c = h.Client(broker, timeout=10)
        c.login("alice", "password-1")
        senders.append(c)
    acked = [[] for _ in range(THREADS)]
    errors = []
    stop_at = time.monotonic() + 50

    def work(i):
        count = TOTAL // THREADS + (1 if i < TOTAL % THREADS else 0)
        try:
            for n in range(count):
                assert time.monotonic() < stop_at, "sending took over 50 s"
                _, reply = senders[i].call("SEND", "bob", "m %d/%d" % (i, n), "body %d" % n)
                assert reply is not None and reply.status == 200, reply
                acked[i].append(int(reply.fields[0]))
        except BaseException as e:      # report in the main thread
            errors.append("sender %d: %r" % (i, e))

    start = time.monotonic()
    threads = [threading.Thread(target=work, args=(i,)) for i in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors[:3]
    sent_ids = [mid for a in acked for mid in a]
    h.log("%d SENDs from %d clients in %.1f s" % (len(sent_ids), THREADS,
                                                  time.monotonic() - start))
    assert len(sent_ids) == TOTAL and len(set(sent_ids)) == TOTAL, \
        "%d acknowledged, %d distinct ids" % (len(sent_ids), len(set(sent_ids)))
    for a in acked:
        assert a == sorted(a), "one client's ids are not increasing"

    # page through, 1000 at a time
    listed = []
    before = 0
    pages = 0
    while True:
        pages += 1
        assert pages <= TOTAL // 1000 + 2, "too many pages"
        rows = _list(u["bob"], limit=1000, before=before)
        assert len(rows) <= 1000
        listed += [int(r[0]) for r in rows]
        if len(rows) < 1000:
            break
        before = int(rows[-1][0])
    assert pages == TOTAL // 1000 + 1, "pages: %d" % pages
    assert len(listed) == TOTAL, "listed %d of %d" % (len(listed), TOTAL)
    assert all(listed[i] > listed[i + 1] for i in range(len(listed) - 1)), \
        "ids are not strictly decreasing across pages"
    assert set(listed) == set(sent_ids), "listed ids differ from acknowledged ids"
    assert u["bob"].stats()["inbox-count"] == TOTAL
    # the unread filter pages the same way
    rows = _list(u["bob"], "inbox", "unread", 1000, listed[4499])
    assert [int(r[0]) for r in rows] == listed[4500:5500]


if __name__ == "__main__":
    h.run_tests([
        test_send_list_read,
        test_other_users_ids,
        test_delete,
        test_unknown_recipients,
        test_retried_send_stores_once,
        test_quota_and_body_limit,
        test_quota_counts_inbox_only,
        test_stats_match_model,
        test_stats_server,
        test_list_limits,
        test_bad_words_are_422,
        test_ten_thousand_paged,
    ])
