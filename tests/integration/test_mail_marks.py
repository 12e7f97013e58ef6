"""test_mail_marks - MARK (seen, unseen, flagged, unflagged) and LIST's
filter `flagged` (issue 14, item 5), spoken from ZPOST.md with pyzmq,
through the real broker and store, on the back end ZPOST_TEST_DB names.

- A read message marked `unseen` is unread again: LIST `unread` has it,
  STATS counts it; `seen` undoes that. A MARK sent twice (a retry) is 200
  twice and changes nothing the second time.
- `flagged` marks a message in either folder; LIST `flagged` gives the
  flagged entries only, newest first, paged by `before` like any LIST;
  the row stays 7 fields. READ leaves the flag alone; DELETE drops it;
  the sender's flag on its sent copy is not the recipient's.
- Bad input: a `flag` that is no word of the four (422 `flag`), `unseen`
  in the sent folder (422 `flag`), another user's id and a nonexistent
  one (404, the same bytes), id 0 (404), a bad folder (422 `folder`), a
  bad filter (422 `filter`), a missing field (400), no session (401).
- A store of the schema before marks and threads (LMDB schema 1: its
  version record set back with mdb_load; PostgreSQL schema 2: the flagged
  and thread columns dropped) is migrated when a store opens it: the log
  says so, every seen mark is as it was, MARK flagged works on the old
  mail, and an old message is the first of a thread of its own, which
  ANSWER can join.
"""

import subprocess

import harness as h


def _rows(reply):
    return h.rows(reply, 7)


def _list(client, folder="inbox", filter_="all", limit=1000, before=0):
    return _rows(client.expect(200, "LIST", folder, filter_, str(limit), str(before)))


def _ids(client, folder="inbox", filter_="all", limit=1000, before=0):
    return [int(r[0]) for r in _list(client, folder, filter_, limit, before)]


def _users(broker, *names, password="password-1"):
    clients = {}
    for name in names:
        c = h.Client(broker, timeout=10)
        c.register(name, password)
        c.login(name, password)
        clients[name] = c
    return clients


def _send(client, recipients, subject, body):
    reply = client.expect(200, "SEND", recipients, subject, body)
    return int(reply.fields[0])


def test_unseen_and_flagged(tmp):
    broker, store = h.start_service(tmp)
    u = _users(broker, "alice", "bob")
    m1, m2, m3 = [_send(u["alice"], "bob", "s%d" % i, "body %d" % i) for i in range(3)]
    for m in (m1, m2, m3):
        u["bob"].expect(200, "READ", str(m))
    assert _ids(u["bob"], filter_="unread") == []
    assert u["bob"].stats()["inbox-unread"] == 0

    # unseen: unread again, counted again; a retry is 200 and changes nothing
    rid = h.new_request_id()
    reply = u["bob"].expect(200, "MARK", "inbox", str(m2), "unseen", request_id=rid)
    assert reply.fields == [], reply
    u["bob"].expect(200, "MARK", "inbox", str(m2), "unseen", request_id=rid)
    u["bob"].expect(200, "MARK", "inbox", str(m2), "unseen")
    assert _ids(u["bob"], filter_="unread") == [m2]
    assert u["bob"].stats()["inbox-unread"] == 1
    seen = {int(r[0]): r[6] for r in _list(u["bob"])}
    assert seen == {m1: "1", m2: "0", m3: "1"}, seen
    u["bob"].expect(200, "MARK", "inbox", str(m2), "seen")
    u["bob"].expect(200, "MARK", "inbox", str(m2), "seen")
    assert _ids(u["bob"], filter_="unread") == []
    assert u["bob"].stats()["inbox-unread"] == 0
    # READ of an unseen one marks it seen as before
    u["bob"].expect(200, "MARK", "inbox", str(m3), "unseen")
    u["bob"].expect(200, "READ", str(m3))
    assert u["bob"].stats()["inbox-unread"] == 0

    # flagged: a filter of its own, paged like any LIST
    assert _ids(u["bob"], filter_="flagged") == []
    u["bob"].expect(200, "MARK", "inbox", str(m1), "flagged")
    u["bob"].expect(200, "MARK", "inbox", str(m3), "flagged")
    u["bob"].expect(200, "MARK", "inbox", str(m3), "flagged")
    assert _ids(u["bob"], filter_="flagged") == [m3, m1]
    assert _ids(u["bob"], filter_="flagged", limit=1) == [m3]
    assert _ids(u["bob"], filter_="flagged", limit=1, before=m3) == [m1]
    assert _ids(u["bob"], filter_="flagged", before=m1) == []
    # the page of `all` and its flagged subset, as a client shows stars
    page = _ids(u["bob"], limit=2)
    stars = [m for m in _ids(u["bob"], filter_="flagged", limit=2) if m >= min(page)]
    assert page == [m3, m2] and stars == [m3], (page, stars)
    # seen and flagged are independent marks
    u["bob"].expect(200, "MARK", "inbox", str(m1), "unseen")
    assert _ids(u["bob"], filter_="unread") == [m1]
    assert _ids(u["bob"], filter_="flagged") == [m3, m1]
    u["bob"].expect(200, "READ", str(m1))
    assert _ids(u["bob"], filter_="flagged") == [m3, m1]
    u["bob"].expect(200, "MARK", "inbox", str(m3), "unflagged")
    u["bob"].expect(200, "MARK", "inbox", str(m3), "unflagged")
    assert _ids(u["bob"], filter_="flagged") == [m1]
    # every row is still 7 fields (h.rows checks), with the seen mark
    assert all(r[6] == "1" for r in _list(u["bob"], filter_="flagged"))

    # the sender's flag is its own, on its sent copy
    assert _ids(u["alice"], "sent", "flagged") == []
    u["alice"].expect(200, "MARK", "sent", str(m2), "flagged")
    assert _ids(u["alice"], "sent", "flagged") == [m2]
    assert _ids(u["bob"], filter_="flagged") == [m1]
    u["alice"].expect(200, "MARK", "sent", str(m2), "unflagged")
    assert _ids(u["alice"], "sent", "flagged") == []

    # DELETE drops the entry and its marks
    u["bob"].expect(200, "DELETE", "inbox", str(m1))
    assert _ids(u["bob"], filter_="flagged") == []
    u["bob"].expect(404, "MARK", "inbox", str(m1), "flagged")
    stats = u["bob"].stats()
    assert stats["inbox-count"] == 2 and stats["inbox-unread"] == 0, stats


def test_bad_input(tmp):
    broker, store = h.start_service(tmp)
    u = _users(broker, "alice", "bob", "eve")
    mid = _send(u["alice"], "bob", "private", "for bob only")

    # words that are not marks: 422, detail flag (the codec's: broker or store)
    for word in ("Flagged", "unread", "", "seen "):
        reply = u["bob"].expect(422, "MARK", "inbox", str(mid), word)
        assert reply.fields == [b"flag"], (word, reply)
    # the sent folder has no unread messages
    for word in ("seen", "unseen"):
        reply = u["alice"].expect(422, "MARK", "sent", str(mid), word)
        assert reply.fields == [b"flag"], (word, reply)
    # another's message and one that never was: the same bytes, 404
    rid = h.new_request_id()
    other = u["eve"].expect(404, "MARK", "inbox", str(mid), "flagged", request_id=rid)
    none = u["eve"].expect(404, "MARK", "inbox", str(mid + 1000), "flagged",
                           request_id=rid)
    zero = u["eve"].expect(404, "MARK", "inbox", "0", "flagged", request_id=rid)
    assert other.frames == none.frames == zero.frames, (other, none, zero)
    # ... and READ's 404 is the same sentence
    read = u["eve"].expect(404, "READ", str(mid))
    assert read.fields == other.fields and read.frames[4] == other.frames[4]
    # bob's message is not in bob's sent folder
    u["bob"].expect(404, "MARK", "sent", str(mid), "flagged")
    # the other fields
    reply = u["bob"].expect(422, "MARK", "outbox", str(mid), "flagged")
    assert reply.fields == [b"folder"], reply
    reply = u["bob"].expect(422, "MARK", "inbox", "01", "flagged")
    assert reply.fields == [b"message-id"], reply
    reply = u["bob"].expect(422, "LIST", "inbox", "starred", "10", "0")
    assert reply.fields == [b"filter"], reply
    u["bob"].expect(400, "MARK", "inbox", str(mid))
    u["bob"].expect(400, "MARK", "inbox", str(mid), "flagged", "1")
    u["bob"].expect(401, "MARK", "inbox", str(mid), "flagged", token="")
    # nothing changed for bob
    assert _ids(u["bob"], filter_="flagged") == []
    assert _ids(u["bob"], filter_="unread") == [mid]


def _set_back_schema(tmp, data):
    """Make the store's data look as the zpost-store before marks and
    threads left it (the data holds no answer: an answer has no schema
    before them)."""
    if h.BACKEND == "lmdb":
        cp = subprocess.run(["mdb_load", "-T", "-s", "meta", data],
                            input=b"schema-version\n1\n", capture_output=True,
                            timeout=60)
        assert cp.returncode == 0, cp
        return "from version 1 to"
    import pg
    pg.cluster().sql("ALTER TABLE zpost_folders DROP COLUMN flagged; "
                     "ALTER TABLE zpost_messages DROP COLUMN thread_id, "
                     "DROP COLUMN in_reply_to; "
                     "UPDATE zpost_meta SET value = 2 WHERE name = 'schema-version'",
                     pg.database_of(data))
    return "from version 2 to"


def test_schema_migrated_keeps_marks(tmp):
    broker, store = h.start_service(tmp)
    u = _users(broker, "alice", "bob")
    m1 = _send(u["alice"], "bob", "read one", "a")
    m2 = _send(u["alice"], "bob", "unread one", "b")
    u["bob"].expect(200, "READ", str(m1))
    h.stop(store.proc)
    said = _set_back_schema(tmp, store.data_dir)
    store = h.start_store(tmp, broker.back)
    h.wait_store_ready(broker)
    assert "migrated the schema " + said in store.proc.log_text(), store.proc.log_text()
    seen = {int(r[0]): r[6] for r in _list(u["bob"])}
    assert seen == {m1: "1", m2: "0"}, seen
    assert [int(r[0]) for r in _list(u["alice"], "sent")] == [m2, m1]
    assert u["bob"].stats()["inbox-unread"] == 1
    u["bob"].expect(200, "MARK", "inbox", str(m2), "flagged")
    assert _ids(u["bob"], filter_="flagged") == [m2]
    assert _ids(u["bob"], filter_="unread") == [m2]
    # old mail is the first of a thread of its own, and can be answered
    reply = u["bob"].expect(200, "THREAD", str(m1), "10", "0")
    assert reply.fields[0] == str(m1).encode(), reply
    rows = [frame.split(b"\0") for frame in reply.fields[1:]]
    assert [r[:2] for r in rows] == [[str(m1).encode(), b"0"]], reply
    answer = u["bob"].expect(200, "ANSWER", str(m1), "alice", "Re: read one", "yes")
    assert answer.fields[1] == str(m1).encode(), answer
    # a second start finds nothing to migrate
    h.stop(store.proc)
    store = h.start_store(tmp, broker.back)
    h.wait_store_ready(broker)
    assert "migrated the schema" not in store.proc.log_text(), store.proc.log_text()
    assert _ids(u["bob"], filter_="flagged") == [m2]


if __name__ == "__main__":
    h.run_tests([
        test_unseen_and_flagged,
        test_bad_input,
        test_schema_migrated_keeps_marks,
    ])
