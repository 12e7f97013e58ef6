"""test_lookup - LOOKUP, SEND's first check alone (issue 14, item 1), spoken
from ZPOST.md with pyzmq, through the real broker and store, on the back
end ZPOST_TEST_DB names.

- Every name a user: 200, no fields; names are folded and repeats dropped
  as SEND does; the sender may be among them.
- Unknown names: 430 with the detail SEND gives for the same names, byte
  for byte (folded, comma-separated, in the order given).
- Nothing is stored: STATS user and server are the same after.
- An ended session: 401 (the point of asking before the body is written).
- Bad input: an empty list or a bad name (422 `recipients`), more than
  100 names (413), a missing or an extra field (400).
"""

import harness as h

PASSWORD = "password-lookup"


def _user(broker, name):
    c = h.Client(broker, timeout=10)
    c.register(name, PASSWORD)
    c.login(name, PASSWORD)
    return c


def test_lookup(tmp):
    broker, _ = h.start_service(tmp)
    alice = _user(broker, "alice")
    _user(broker, "bob").close()
    before_user = alice.stats("user")
    before_server = alice.stats("server")

    reply = alice.expect(200, "LOOKUP", "bob")
    assert reply.fields == [], reply
    alice.expect(200, "LOOKUP", "Bob,alice,BOB")

    reply = alice.expect(430, "LOOKUP", "nobody,bob,Ghost,nobody")
    send = alice.expect(430, "SEND", "nobody,bob,Ghost,nobody", "s", "b")
    assert reply.fields == [b"nobody,ghost"], reply
    assert reply.fields == send.fields and reply.reason == send.reason, (reply, send)

    assert alice.stats("user") == before_user
    after = alice.stats("server")
    assert after["messages"] == before_server["messages"] == 0, after
    assert after["users"] == before_server["users"] == 2, after

    # Bad input, the codec's answers
    reply = alice.expect(422, "LOOKUP", "")
    assert reply.fields == [b"recipients"], reply
    alice.expect(422, "LOOKUP", "bob,,alice")
    alice.expect(413, "LOOKUP", ",".join("u%d" % n for n in range(101)))
    alice.expect(400, "LOOKUP")
    alice.expect(400, "LOOKUP", "bob", "extra")
    alice.expect(401, "LOOKUP", "bob", token="")

    # A session that ends (LOGOUT) is found by LOOKUP
    alice.expect(200, "LOGOUT")
    alice.expect(401, "LOOKUP", "bob")
    alice.close()


if __name__ == "__main__":
    h.run_tests([test_lookup])
