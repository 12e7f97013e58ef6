"""test_threads - ANSWER and THREAD, reply threads (issue 14, item 3, the
protocol's part), spoken from ZPOST.md with pyzmq, through the real broker
and store, on the back end ZPOST_TEST_DB names.

- A conversation of four messages among three users, and a message of
  its own: ANSWER's reply gives the new id and the thread's id (the id of
  its first message); THREAD, asked with any message of the thread the
  user has, lists exactly the messages of the thread that user holds
  (inbox or sent), newest first, each row 9 fields with what it answers;
  paging by `before`; the seen and flagged marks of the user's entry.
- A message deleted by a user leaves that user's THREAD, and cannot name
  the thread for them any more (404); a first message freed by everyone
  leaves its thread's id the same for the rest.
- ANSWER of another's message, of one that never was, of `0`: 404, the
  same status and sentence as READ's, nothing stored. An unknown
  recipient: 430. A retried ANSWER (same request id): the same reply,
  stored once; the request id reused for another ANSWER: 422. A body over
  the store's limit: 413 (from the broker, as for SEND). Bad fields: 422
  with the field's name. THREAD of another's message: 404; limit 0 or
  1001: 422 `limit`; no session: 401.
- SEND, LIST and READ are what they were: READ's reply is still 6 fields,
  LIST's rows 7.
"""

import harness as h


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
    assert len(reply.fields) == 1, reply
    return int(reply.fields[0])


def _answer(client, in_reply_to, recipients, subject, body, **kw):
    reply = client.expect(200, "ANSWER", str(in_reply_to), recipients, subject, body, **kw)
    assert len(reply.fields) == 2, reply
    return int(reply.fields[0]), int(reply.fields[1])


def _thread(client, message_id, limit=1000, before=0):
    """(thread-id, rows as lists of 9 str)"""
    reply = client.expect(200, "THREAD", str(message_id), str(limit), str(before))
    assert len(reply.fields) >= 1, reply
    rows = []
    for frame in reply.fields[1:]:
        fields = frame.split(b"\0")
        assert len(fields) == 9, "a THREAD row of %d fields: %r" % (len(fields), frame)
        rows.append([f.decode() for f in fields])
    return int(reply.fields[0]), rows


def _ids(rows):
    return [int(r[0]) for r in rows]


def test_conversation(tmp):
    broker, store = h.start_service(tmp)
    u = _users(broker, "alice", "bob", "carol")
    m1 = _send(u["alice"], "bob,carol", "plans", "shall we?")
    m2, t2 = _answer(u["bob"], m1, "alice,carol", "Re: plans", "> shall we?\nyes")
    m3, t3 = _answer(u["alice"], m2, "bob", "Re: plans", "good")
    m4, t4 = _answer(u["carol"], m1, "alice", "Re: plans", "me too")
    m5 = _send(u["bob"], "alice", "other", "unrelated")
    assert m1 < m2 < m3 < m4 < m5
    assert t2 == t3 == t4 == m1

    # each user sees the messages of the thread they hold
    thread, rows = _thread(u["alice"], m3)
    assert thread == m1 and _ids(rows) == [m4, m3, m2, m1], rows
    assert [int(r[1]) for r in rows] == [m1, m2, m1, 0], rows
    assert [r[2] for r in rows] == ["carol", "alice", "bob", "alice"], rows
    assert rows[2][3] == "alice,carol" and rows[2][4] == "Re: plans", rows
    assert rows[1][6] == str(len("good")), rows
    for asked in (m1, m2, m4):
        assert _thread(u["alice"], asked) == (thread, rows)
    thread, rows = _thread(u["bob"], m1)
    assert thread == m1 and _ids(rows) == [m3, m2, m1], rows
    thread, rows = _thread(u["carol"], m4)
    assert thread == m1 and _ids(rows) == [m4, m2, m1], rows
    # a message of its own is a thread of one
    assert _thread(u["alice"], m5)[0] == m5
    assert _ids(_thread(u["alice"], m5)[1]) == [m5]

    # paging as LIST's
    assert _ids(_thread(u["alice"], m3, limit=2)[1]) == [m4, m3]
    assert _ids(_thread(u["alice"], m3, limit=2, before=m3)[1]) == [m2, m1]
    assert _ids(_thread(u["alice"], m3, limit=2, before=m1)[1]) == []

    # the marks of the user's entry: seen, then flagged
    rows = dict((int(r[0]), r) for r in _thread(u["alice"], m1)[1])
    assert rows[m4][7] == "0" and rows[m2][7] == "0" and rows[m3][7] == "1", rows
    assert all(r[8] == "0" for r in rows.values()), rows
    u["alice"].expect(200, "READ", str(m4))
    u["alice"].expect(200, "MARK", "inbox", str(m2), "flagged")
    u["alice"].expect(200, "MARK", "sent", str(m3), "flagged")
    rows = dict((int(r[0]), r) for r in _thread(u["alice"], m1)[1])
    assert rows[m4][7:] == ["1", "0"] and rows[m2][7:] == ["0", "1"], rows
    assert rows[m3][7:] == ["1", "1"] and rows[m1][7:] == ["1", "0"], rows
    # THREAD marks nothing seen
    assert u["alice"].stats()["inbox-unread"] == 2

    # a deleted message leaves its user's thread
    u["bob"].expect(200, "DELETE", "inbox", str(m1))
    thread, rows = _thread(u["bob"], m2)
    assert thread == m1 and _ids(rows) == [m3, m2], rows
    u["bob"].expect(404, "THREAD", str(m1), "10", "0")
    # the first message freed by all: the thread keeps its id
    u["carol"].expect(200, "DELETE", "inbox", str(m1))
    u["alice"].expect(200, "DELETE", "sent", str(m1))
    u["alice"].expect(404, "READ", str(m1))
    thread, rows = _thread(u["alice"], m4)
    assert thread == m1 and _ids(rows) == [m4, m3, m2], rows
    # and an answer to an answer still joins it
    m6, t6 = _answer(u["carol"], m2, "bob", "Re: Re: plans", "later")
    assert t6 == m1
    assert _ids(_thread(u["bob"], m3)[1]) == [m6, m3, m2]

    # what was there before is as it was
    read = u["bob"].expect(200, "READ", str(m6))
    assert len(read.fields) == 6, read
    listing = u["bob"].expect(200, "LIST", "inbox", "all", "10", "0")
    assert [int(r[0]) for r in h.rows(listing, 7)] == [m6, m3], listing


def test_bad_input(tmp):
    broker, store = h.start_service(tmp, store_extra=["--body-limit", "100"])
    u = _users(broker, "alice", "bob", "eve")
    mid = _send(u["alice"], "bob", "private", "for bob only")
    messages = u["alice"].stats("server")["messages"]

    # what the sender may not READ, it may not answer: READ's 404
    read = u["eve"].expect(404, "READ", str(mid))
    for target in (mid, mid + 1000, 0):
        reply = u["eve"].expect(404, "ANSWER", str(target), "alice", "Re: private", "x")
        assert reply.frames[3:] == read.frames[3:], (target, reply, read)
    assert u["alice"].stats("server")["messages"] == messages
    assert u["eve"].stats()["sent-count"] == 0
    # the answered message checked before the recipients
    u["eve"].expect(404, "ANSWER", str(mid), "nobody", "s", "b")
    reply = u["bob"].expect(430, "ANSWER", str(mid), "alice,nobody", "s", "b")
    assert reply.fields == [b"nobody"], reply
    # the body's limit, as for SEND
    reply = u["bob"].expect(413, "ANSWER", str(mid), "alice", "s", "x" * 101)
    assert reply.fields == [b"body"], reply
    assert u["alice"].stats("server")["messages"] == messages

    # a retry is answered from its record; a reused id for another is 422
    rid = h.new_request_id()
    first = _answer(u["bob"], mid, "alice", "Re: private", "thanks", request_id=rid)
    again = _answer(u["bob"], mid, "alice", "Re: private", "thanks", request_id=rid)
    assert first == again and first[1] == mid, (first, again)
    assert u["alice"].stats()["inbox-count"] == 1
    reply = u["bob"].expect(422, "ANSWER", str(mid), "alice", "Re: private", "other",
                            request_id=rid)
    assert reply.fields == [b"request-id"], reply
    # fields
    for fields, field in (((("x", "alice", "s", "b")), b"in-reply-to"),
                          (((str(mid), "al ice", "s", "b")), b"recipients"),
                          (((str(mid), "alice", "s\n", "b")), b"subject")):
        reply = u["bob"].expect(422, "ANSWER", *fields)
        assert reply.fields == [field], (fields, reply)
    u["bob"].expect(400, "ANSWER", str(mid), "alice", "s")
    u["bob"].expect(401, "ANSWER", str(mid), "alice", "s", "b", token="")

    # THREAD
    u["eve"].expect(404, "THREAD", str(mid), "10", "0")
    u["eve"].expect(404, "THREAD", "0", "10", "0")
    for limit in ("0", "1001"):
        reply = u["bob"].expect(422, "THREAD", str(mid), limit, "0")
        assert reply.fields == [b"limit"], reply
    reply = u["bob"].expect(422, "THREAD", str(mid), "10", "-1")
    assert reply.fields == [b"before"], reply
    u["bob"].expect(400, "THREAD", str(mid), "10")
    u["bob"].expect(401, "THREAD", str(mid), "10", "0", token="")


if __name__ == "__main__":
    h.run_tests([
        test_conversation,
        test_bad_input,
    ])
