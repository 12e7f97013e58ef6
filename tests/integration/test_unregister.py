"""test_unregister - UNREGISTER, deleting an account with its password
(issue 14, item 7), spoken from ZPOST.md with pyzmq, through the real
broker and store, on the back end ZPOST_TEST_DB names.

- A wrong password: 403, nothing deleted. The right one: 200; every
  session of the user (two, on two client keys) is refused 401 after;
  LOGIN is 403; a SEND to the name is 430; a retry of the UNREGISTER
  (same request id, its token) is 401.
- Mail: a message only the user's folders held is freed (STATS server
  `messages` and `bytes` down by exactly it); messages the user sent and
  received that others hold stay, readable by them, still from and to
  the user's name. STATS server `users` is one less.
- The name registered again is a new, empty account: nothing of the old
  one's in its folders or figures.
- The password step is throttled like PASSWD's: five wrong passwords
  from one client key, then the next attempt (the right password too) is
  429 with a detail, and a LOGIN from that key is held back as well;
  the account is still there.
- Bad input: an empty password (422 `password`), a password over 1024
  bytes (413 `password`), a missing or an extra field (400), no session
  (401).
"""

import harness as h

PASSWORD = "password-unreg"


def _user(broker, name, password=PASSWORD, register=True):
    c = h.Client(broker, timeout=10)
    if register:
        c.register(name, password)
    c.login(name, password)
    return c


def _send(client, recipients, subject, body):
    return int(client.expect(200, "SEND", recipients, subject, body).fields[0])


def _ids(client, folder="inbox"):
    reply = client.expect(200, "LIST", folder, "all", "1000", "0")
    return [int(r[0]) for r in h.rows(reply, 7)]


def test_unregister(tmp):
    broker, store = h.start_service(tmp)
    alice = _user(broker, "alice")
    alice2 = _user(broker, "alice", register=False)        # a second session
    bob = _user(broker, "bob")
    carol = _user(broker, "carol")
    m1 = _send(alice, "bob", "to bob", "1" * 10)
    m2 = _send(bob, "alice", "to alice", "2" * 20)
    m3 = _send(alice, "alice", "to myself", "3" * 40)
    m4 = _send(alice, "bob,carol", "to both", "4" * 80)
    alice.expect(200, "MARK", "inbox", str(m2), "flagged")
    before = bob.stats("server")
    assert before["users"] == 3 and before["messages"] == 4, before

    # a wrong password deletes nothing
    reply = alice.expect(403, "UNREGISTER", "not-the-password")
    assert reply.fields == [], reply
    assert _ids(alice) == [m3, m2] and _ids(alice2, "sent") == [m4, m3, m1]
    assert bob.stats("server") == before

    rid = h.new_request_id()
    token = alice.token
    alice.expect(200, "UNREGISTER", PASSWORD, request_id=rid)
    # every session is gone, the one that asked included
    alice.expect(401, "LIST", "inbox", "all", "10", "0")
    alice2.expect(401, "LIST", "inbox", "all", "10", "0")
    alice2.expect(401, "STATS", "user")
    # a retry of the same request: its session went with the account
    alice.expect(401, "UNREGISTER", PASSWORD, request_id=rid, token=token)
    h.Client(broker, timeout=10).expect(403, "LOGIN", "alice", PASSWORD)
    reply = bob.expect(430, "SEND", "carol,alice", "anyone?", "x")
    assert reply.fields == [b"alice"], reply

    # only m3 was held by alice's folders alone
    after = bob.stats("server")
    assert after["users"] == 2, after
    assert after["messages"] == 3, after
    assert after["bytes"] == before["bytes"] - 40, (before, after)
    assert _ids(bob) == [m4, m1] and _ids(bob, "sent") == [m2]
    assert _ids(carol) == [m4]
    read = bob.expect(200, "READ", str(m1))
    assert read.fields[1] == b"alice" and read.fields[5] == b"1" * 10, read
    read = bob.expect(200, "READ", str(m2))
    assert read.fields[2] == b"alice", read
    carol.expect(404, "READ", str(m3))

    # the name is free: a new account, empty
    new = _user(broker, "alice", password="another-password")
    assert _ids(new) == [] and _ids(new, "sent") == []
    stats = new.stats()
    assert stats["inbox-count"] == 0 and stats["sent-count"] == 0, stats
    for m in (m1, m2, m3, m4):
        new.expect(404, "READ", str(m))
    assert bob.stats("server")["users"] == 3
    # mail to the name reaches the new account now
    m5 = _send(bob, "alice", "hello again", "y")
    assert _ids(new) == [m5]


def test_unregister_throttled(tmp):
    # a first delay far longer than the test: no check races its end
    broker, store = h.start_service(tmp, store_extra=["--throttle-delay", "120000"])
    dave = _user(broker, "dave")
    for attempt in range(5):
        reply = dave.expect(403, "UNREGISTER", "guess-%d" % attempt)
        assert reply.fields == [], (attempt, reply)
    for password in ("guess-x", PASSWORD):
        reply = dave.expect(429, "UNREGISTER", password)
        assert len(reply.fields) == 1 and int(reply.fields[0]) >= 1, reply
    # the key's counter holds back its LOGIN too
    reply = h.Client(broker, keys=dave.keys, timeout=10).expect(429, "LOGIN", "dave",
                                                                PASSWORD)
    assert int(reply.fields[0]) >= 1, reply
    # and the account is still there, seen from another key
    other = _user(broker, "dave", register=False)
    assert other.stats()["inbox-count"] == 0
    assert other.stats("server")["users"] == 1


def test_bad_input(tmp):
    broker, store = h.start_service(tmp)
    erin = _user(broker, "erin")
    reply = erin.expect(422, "UNREGISTER", "")
    assert reply.fields == [b"password"], reply
    reply = erin.expect(413, "UNREGISTER", "p" * 1025)
    assert reply.fields == [b"password"], reply
    erin.expect(400, "UNREGISTER")
    erin.expect(400, "UNREGISTER", PASSWORD, PASSWORD)
    erin.expect(401, "UNREGISTER", PASSWORD, token="")
    erin.expect(401, "UNREGISTER", PASSWORD, token="ab" * 32)
    # still there
    assert erin.stats("server")["users"] == 1
    erin.expect(200, "UNREGISTER", PASSWORD)
    assert h.Client(broker, timeout=10).call("LOGIN", "erin", PASSWORD)[1].status == 403


if __name__ == "__main__":
    h.run_tests([
        test_unregister,
        test_unregister_throttled,
        test_bad_input,
    ])
