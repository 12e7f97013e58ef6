"""test_accounts - REGISTER, LOGIN, LOGOUT and PASSWD through the real
broker and store (issue 3, item 7), spoken from ZPOST.md with pyzmq.

- REGISTER: name rules (422 / 413), password length (422 detail password),
  a taken name (409), names folded (Alice == alice); two concurrent
  REGISTERs of one name: one 200, one 409; a retried REGISTER (same
  request id) is answered from its record, but from another key it is
  422 request-id; a reused request id with other content is 422.
- LOGIN: a 64-hex token and an absolute expiry; unknown user and wrong
  password give byte-identical 403 replies, in comparable time.
- The LMDB file holds Argon2id hashes ($argon2id$, no weaker than
  INTERACTIVE) and no password or token, in hex or raw.
- A token is refused after LOGOUT, from another client key (LOGOUT from
  there too, without ending it), after its idle expiry and after its
  absolute expiry (a store with --session-idle 2 --session-max 5); LOGOUT
  twice is 200 twice.
- PASSWD: 403 for a wrong current password, 422 for a short new one; on
  success every other session ends, this one stays, and only the new
  password logs in.
"""

import os
import re
import threading
import time
import uuid

import zmq

import harness as h


def _secret_password():
    """A password that cannot occur in the data file by chance."""
    return "pw-" + uuid.uuid4().hex + "-Gr\u00fc\u00dfe"


def test_register_rules(tmp):
    broker, store = h.start_service(tmp)
    c = h.Client(broker, timeout=5)

    # Names the grammar refuses: 422 with detail username (32 bytes is the
    # longest; 33 is 413). A letter or digit first, then [a-z0-9._-].
    for bad in ["", "bob smith", "-bob", ".bob", "_bob", "bob/x", "bob@x",
                "b\u00f6b", "bob,x"]:
        reply = c.expect(422, "REGISTER", bad, "password-1")
        assert reply.fields == [b"username"], \
            "REGISTER %r: expected detail username, got %r" % (bad, reply)
    reply = c.expect(413, "REGISTER", "a" * 33, "password-1")
    assert reply.fields == [b"username"], reply
    c.register("a" * 32, "password-1")
    c.register("0.a_b-c", "password-1")

    # Passwords: at least 8 bytes (bytes, not characters), at most 1024.
    reply = c.expect(422, "REGISTER", "carol", "seven77")
    assert reply.fields == [b"password"], \
        "7-byte password: expected 422 detail password, got %r" % reply
    reply = c.expect(422, "REGISTER", "carol", "")
    assert reply.fields == [b"password"], reply
    reply = c.expect(413, "REGISTER", "carol", "x" * 1025)
    assert reply.fields == [b"password"], reply
    # 4 characters, 8 bytes: long enough
    c.register("carol", "\u00e9\u00e9\u00e9\u00e9")
    c.expect(200, "LOGIN", "carol", "\u00e9\u00e9\u00e9\u00e9")

    # Taken, also in other case; the folded name is one user
    c.register("alice", "password-1")
    reply = c.expect(409, "REGISTER", "alice", "password-2")
    assert len(reply.fields) <= 1, reply
    c.expect(409, "REGISTER", "ALICE", "password-2")
    c.expect(409, "REGISTER", "Alice", "password-1")
    reply = c.expect(200, "LOGIN", "AlIcE", "password-1")
    c.expect(403, "LOGIN", "alice", "password-2")

    c.login("alice", "password-1")
    stats = c.stats("server")
    assert stats["users"] == 4, "4 accounts were made (%s): %r" \
        % ("a*32, 0.a_b-c, carol, alice", stats)


def test_concurrent_register_one_wins(tmp):
    broker, store = h.start_service(tmp)
    for round_ in range(5):
        name = "racer%d" % round_
        clients = [h.Client(broker, timeout=10) for _ in range(2)]
        for cl in clients:            # handshake before the race starts
            cl.expect(200, "PING", "store")
        barrier = threading.Barrier(2)
        replies = [None, None]

        def go(i):
            barrier.wait()
            replies[i] = clients[i].call("REGISTER", name, "password-%d" % i)[1]

        threads = [threading.Thread(target=go, args=(i,)) for i in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(20)
        assert all(r is not None for r in replies), "round %d: %r" % (round_, replies)
        statuses = sorted(r.status for r in replies)
        assert statuses == [200, 409], "round %d: two REGISTERs of %s got %r, " \
            "expected exactly one 200 and one 409" % (round_, name, replies)
        # The winner's password is the account's
        winner = [i for i in range(2) if replies[i].status == 200][0]
        c = h.Client(broker, timeout=5)
        c.expect(200, "LOGIN", name, "password-%d" % winner)
        c.expect(403, "LOGIN", name, "password-%d" % (1 - winner))
        for cl in clients:
            cl.close()
    c = h.Client(broker, timeout=5)
    c.register("counter", "password-x")
    c.login("counter", "password-x")
    assert c.stats("server")["users"] == 6, c.stats("server")


def test_register_retry_is_answered_from_record(tmp):
    broker, store = h.start_service(tmp)
    keys = zmq.curve_keypair()
    c = h.Client(broker, keys=keys, timeout=5)
    rid = h.new_request_id()
    first = c.expect(200, "REGISTER", "dora", "password-1", request_id=rid)
    # The same request again, same id, same key: the recorded 200, not 409
    again = c.expect(200, "REGISTER", "dora", "password-1", request_id=rid)
    assert again.frames == first.frames, (first, again)
    # ... also on a new socket (a Lazy Pirate retry) with the same key
    c2 = h.Client(broker, keys=keys, timeout=5)
    c2.expect(200, "REGISTER", "dora", "password-1", request_id=rid)
    # Without the request id it is a new REGISTER: taken
    c.expect(409, "REGISTER", "dora", "password-1")
    # The record's digest leaves the password out (ZPOST.md, Idempotency),
    # and its scope is (username, request-id): a retry with another
    # password is the same request, and changes nothing.
    c.expect(200, "REGISTER", "dora", "password-2", request_id=rid)
    c.expect(200, "LOGIN", "dora", "password-1")
    c.expect(403, "LOGIN", "dora", "password-2")
    # The same request id for another name is another scope: a new account
    c.expect(200, "REGISTER", "edna", "password-1", request_id=rid)
    c.login("edna", "password-1")
    assert c.stats("server")["users"] == 2


def test_register_retry_from_other_key_is_422(tmp):
    """ZPOST.md, REGISTER: the record's digest covers the client key; "the
    same request-id from another key gets 422 with detail request-id; a new
    request-id gets 409". Nobody is told "created" for an account they did
    not create."""
    broker, store = h.start_service(tmp)
    c = h.Client(broker, timeout=5)
    rid = h.new_request_id()
    c.expect(200, "REGISTER", "dora", "password-1", request_id=rid)
    other = h.Client(broker, timeout=5)
    reply = other.expect(422, "REGISTER", "dora", "password-1", request_id=rid)
    assert reply.fields == [b"request-id"], reply
    other.expect(409, "REGISTER", "dora", "password-1")
    # the owner's retry is still answered from the record
    c.expect(200, "REGISTER", "dora", "password-1", request_id=rid)
    c.expect(200, "LOGIN", "dora", "password-1")


def test_reused_request_id_other_content_is_422(tmp):
    """A request id used again for another request (ZPOST.md,
    Idempotency): 422 detail request-id, nothing changed. REGISTER cannot
    show it (its record is keyed by the name, and its digest leaves out the
    password), so SEND does: the same id with another subject."""
    broker, store = h.start_service(tmp)
    c = h.Client(broker, timeout=5)
    c.register("fred", "password-1")
    c.login("fred", "password-1")
    rid = h.new_request_id()
    first = c.expect(200, "SEND", "fred", "one", "body", request_id=rid)
    reply = c.expect(422, "SEND", "fred", "two", "body", request_id=rid)
    assert reply.fields == [b"request-id"], reply
    reply = c.expect(422, "SEND", "fred", "one", "other body", request_id=rid)
    assert reply.fields == [b"request-id"], reply
    again = c.expect(200, "SEND", "fred", "one", "body", request_id=rid)
    assert again.fields == first.fields, (first, again)
    assert c.stats("server")["messages"] == 1


def test_login_token_and_expiry(tmp):
    broker, store = h.start_service(tmp)
    c = h.Client(broker, timeout=5)
    c.register("gina", "password-1")
    tokens = set()
    for _ in range(3):
        before = int(time.time())
        reply = c.expect(200, "LOGIN", "Gina", "password-1")
        after = int(time.time())
        assert len(reply.fields) == 2, "LOGIN reply: token and expires: %r" % reply
        token, expires = reply.fields[0].decode(), reply.fields[1].decode()
        assert re.match(r"^[0-9a-f]{64}$", token), "token %r" % token
        assert re.match(r"^(0|[1-9][0-9]*)$", expires), "expires %r" % expires
        # default absolute expiry: 24 hours after LOGIN. The store reads
        # the clock with time(), which glibc serves from the coarse clock:
        # it may lag time.time() by a tick, so one second early is allowed
        assert before - 1 + 86400 <= int(expires) <= after + 86400 + 1, \
            "expires %s, expected %d..%d" % (expires, before + 86400, after + 86400)
        tokens.add(token)
    assert len(tokens) == 3, "three LOGINs, three different tokens: %r" % tokens


def test_data_file_holds_hashes_not_secrets(tmp):
    broker, store = h.start_service(tmp)
    users = {"hana": _secret_password(), "ivan": _secret_password(),
             "jack": _secret_password()}
    tokens = []
    keys = zmq.curve_keypair()
    for name, password in users.items():
        c = h.Client(broker, keys=keys, timeout=5)
        c.register(name, password)
        tokens.append(c.login(name, password).fields[0].decode())
        tokens.append(c.login(name, password).fields[0].decode())
    # Change one password: the old and the new one must both be absent
    c = h.Client(broker, keys=keys, timeout=5)
    c.login("jack", users["jack"])
    tokens.append(c.token)
    new_password = _secret_password()
    c.expect(200, "PASSWD", users["jack"], new_password)
    h.stop(store.proc)

    files, main = _store_files(store.data_dir)
    data = files[main]
    hashes = re.findall(rb"\$argon2id\$[ -~]+", data)
    assert len(hashes) >= len(users), \
        "expected at least %d $argon2id$ hashes in %s, found %d: %r" \
        % (len(users), main, len(hashes), hashes)
    for found in hashes:
        m = re.match(rb"\$argon2id\$v=19\$m=([0-9]+),t=([0-9]+),p=[0-9]+\$", found)
        assert m, "not an Argon2id string: %r" % found
        # crypto_pwhash_MEMLIMIT_INTERACTIVE = 64 MiB (65536 KiB),
        # OPSLIMIT_INTERACTIVE = 2
        assert int(m.group(1)) >= 65536 and int(m.group(2)) >= 2, \
            "hash below libsodium's INTERACTIVE limits: %r" % found
    secrets = list(users.values()) + [new_password]
    for name, content in files.items():
        for password in secrets:
            assert password.encode() not in content, \
                "a password is in %s" % name
            assert password.encode()[:24] not in content, \
                "part of a password is in %s" % name
        for token in tokens:
            raw = bytes.fromhex(token)
            for form in (token.encode(), token.upper().encode(), raw):
                assert form not in content, "a session token (%s) is in %s" \
                    % ("raw" if form == raw else "hex", name)


def _store_files(data_dir):
    """What the store keeps, as ({name: bytes}, name of the one that holds
    the live data): on LMDB the environment's .mdb files, data.mdb the live
    one; on PostgreSQL (issue 13) a pg_dump of the store's database, the
    live one, and every file of the test's cluster (heap, WAL), where a
    secret written even once would still lie."""
    files = {}
    if h.BACKEND == "postgresql":
        import pg
        files["pg_dump"] = pg.dump(data_dir)
        for name, content in pg.cluster_files().items():
            files["cluster " + name] = content
        return files, "pg_dump"
    for entry in os.listdir(data_dir):
        path = os.path.join(data_dir, entry)
        if os.path.isfile(path) and entry.endswith(".mdb"):
            with open(path, "rb") as f:
                files[entry] = f.read()
    assert "data.mdb" in files, "no data.mdb in %s: %r" % (data_dir,
                                                           os.listdir(data_dir))
    return files, "data.mdb"


def _hashes_of(data_dir):
    files, main = _store_files(data_dir)
    data = files[main]
    return re.findall(rb"\$argon2id\$v=19\$m=[0-9]+,t=([0-9]+),p=[0-9]+\$", data)


def test_login_rehashes_when_parameters_change(tmp):
    """A hash made with other Argon2id limits than the store's is replaced
    by a new one at the next successful login (crypto_pwhash_str_needs_rehash)."""
    broker, store = h.start_service(tmp)
    c = h.Client(broker, timeout=10)
    c.register("rita", "password-1")
    h.stop(store.proc)
    assert _hashes_of(store.data_dir) == [b"2"], _hashes_of(store.data_dir)

    store = h.start_store(tmp, broker.back, data=store.data_dir,
                          extra=["--pwhash-ops", "3"])
    h.wait_store_ready(broker)
    c.expect(403, "LOGIN", "rita", "wrong-password")   # a failure changes nothing
    c.login("rita", "password-1")
    h.stop(store.proc)
    # A t=3 hash can only come from the rehash (the old page may linger in
    # LMDB's free pages, so the t=2 one may still be found in the file)
    hashes = _hashes_of(store.data_dir)
    assert b"3" in hashes, "no t=3 hash after a login at t=3: %r" % hashes

    store = h.start_store(tmp, broker.back, data=store.data_dir,
                          extra=["--pwhash-ops", "3"])
    h.wait_store_ready(broker)
    c.login("rita", "password-1")                      # the new hash verifies


def test_unknown_user_and_wrong_password_identical(tmp):
    broker, store = h.start_service(tmp)
    c = h.Client(broker, timeout=5)
    c.register("kate", "password-1")
    rid = h.new_request_id()
    # Fresh keys each time, and two accounts: no throttle comes near.
    _, unknown = h.Client(broker, timeout=5).call("LOGIN", "nobody", "password-1",
                                                  request_id=rid)
    _, wrong = h.Client(broker, timeout=5).call("LOGIN", "kate", "password-2",
                                                request_id=rid)
    assert unknown is not None and wrong is not None, (unknown, wrong)
    assert unknown.status == 403, unknown
    assert unknown.frames == wrong.frames, \
        "unknown user and wrong password differ:\n  %r\n  %r" \
        % (unknown.frames, wrong.frames)
    assert len(unknown.frames) == 5, "403 has no detail: %r" % unknown

    # The same time: the store verifies against a dummy hash for an
    # unknown user. Medians of five, each from a fresh key; the bound is
    # loose (a factor of 3) because other tests may load the machine, and
    # an unknown user answered without an Argon2id verify is ~50x faster.
    def median_time(name):
        times = []
        for _ in range(5):
            cl = h.Client(broker, timeout=5)
            cl.expect(200, "PING", "store")
            start = time.monotonic()
            cl.expect(403, "LOGIN", name, "password-3")
            times.append(time.monotonic() - start)
        return sorted(times)[2]
    # (accounts not used above: 5 failures each stay below the throttle)
    c.register("lara", "password-1")
    t_unknown, t_wrong = median_time("nobody2"), median_time("lara")
    h.log("LOGIN 403 median: unknown user %.1f ms, wrong password %.1f ms"
          % (t_unknown * 1000, t_wrong * 1000))
    assert t_wrong / 3 <= t_unknown <= t_wrong * 3, \
        "unknown user %.1f ms vs wrong password %.1f ms: not the same time" \
        % (t_unknown * 1000, t_wrong * 1000)


def test_token_refused_after_logout_and_from_other_key(tmp):
    broker, store = h.start_service(tmp)
    keys = zmq.curve_keypair()
    c = h.Client(broker, keys=keys, timeout=5)
    c.register("liam", "password-1")
    c.login("liam", "password-1")
    c.expect(200, "STATS", "user")
    token = c.token

    # The token from another client key: 401, for every command that
    # needs a session, and the session still works from its own key.
    thief = h.Client(broker, timeout=5)
    thief.token = token
    for command, fields in [("STATS", ("user",)), ("LIST", ("inbox", "all", "10", "0")),
                            ("SEND", ("liam", "s", "b")), ("READ", ("1",)),
                            ("DELETE", ("inbox", "1")),
                            ("PASSWD", ("password-1", "password-2"))]:
        reply = thief.expect(401, command, *fields)
        assert len(reply.fields) <= 1, reply
    c.expect(200, "STATS", "user")
    # A token nobody was given, and none: 401
    c.expect(401, "STATS", "user", token="0" * 64)
    c.expect(401, "STATS", "user", token="")

    # A second client with the same keys is the same client
    same = h.Client(broker, keys=keys, timeout=5)
    same.token = token
    same.expect(200, "STATS", "user")

    # LOGOUT: 200, then 200 again (a retry); the token is dead
    rid = h.new_request_id()
    reply = c.expect(200, "LOGOUT", request_id=rid)
    assert reply.fields == [], reply
    c.expect(200, "LOGOUT", request_id=rid)
    c.expect(200, "LOGOUT")
    for command, fields in [("STATS", ("user",)), ("LIST", ("inbox", "all", "10", "0")),
                            ("SEND", ("liam", "s", "b"))]:
        c.expect(401, command, *fields)
    # LOGOUT with no token: 401
    c.expect(401, "LOGOUT", token="")
    # A new LOGIN works again
    c.login("liam", "password-1")
    c.expect(200, "STATS", "user")


def test_logout_from_another_key(tmp):
    """ZPOST.md, LOGOUT: from another client key a live token gets the same
    200 as an unknown one (so its holder learns nothing of it), and the
    session is not ended."""
    broker, store = h.start_service(tmp)
    c = h.Client(broker, timeout=5)
    c.register("mia", "password-1")
    c.login("mia", "password-1")
    thief = h.Client(broker, timeout=5)
    stolen = thief.expect(200, "LOGOUT", token=c.token)
    unknown = thief.expect(200, "LOGOUT", token="ab" * 32)
    assert stolen.frames[3:] == unknown.frames[3:], (stolen, unknown)
    c.expect(200, "STATS", "user")           # the session survived
    c.expect(200, "LOGOUT")
    c.expect(401, "STATS", "user")


def test_token_idle_and_absolute_expiry(tmp):
    """--session-idle 2 --session-max 5. Session 'idle' is used once and
    then left alone; session 'busy' is used every poll interval. 'idle'
    must be refused about 2 s after its last use while 'busy' still works;
    'busy' must be refused about 5 s after its LOGIN however active."""
    broker, store = h.start_service(tmp, store_extra=["--session-idle", "2",
                                                      "--session-max", "5"])
    setup = h.Client(broker, timeout=5)
    setup.register("nina", "password-1")
    idle = h.Client(broker, timeout=5)
    busy = h.Client(broker, timeout=5)
    t_login = time.time()
    reply = idle.login("nina", "password-1")
    expires = int(reply.fields[1])
    assert int(t_login) + 5 <= expires <= int(time.time()) + 5 + 1, \
        "expires %d with --session-max 5 (login at %.1f)" % (expires, t_login)
    busy.login("nina", "password-1")
    t_busy_login = time.time()
    idle.expect(200, "STATS", "user")
    t_idle_used = time.time()

    # Store times are whole seconds: 'idle' ends when now > last use + 2,
    # that is 2..3 s after its last use. It is looked at only once that
    # time has surely passed (a look is a use), then at every interval.
    interval = 0.25
    idle_refused_at = busy_refused_at = None
    deadline = time.monotonic() + 12
    while busy_refused_at is None or idle_refused_at is None:
        assert time.monotonic() < deadline, \
            "no 401 within 12 s: idle %r, busy %r" % (idle_refused_at, busy_refused_at)
        now = time.time()
        if idle_refused_at is None and now >= t_idle_used + 3.05:
            _, r = idle.call("STATS", "user")
            assert r is not None and r.status in (200, 401), r
            if r.status == 401:
                idle_refused_at = time.time()
        if busy_refused_at is None:
            _, r = busy.call("STATS", "user")
            assert r is not None and r.status in (200, 401), r
            if r.status == 401:
                busy_refused_at = time.time()
                # in use all along: only the absolute expiry can end it
                assert busy_refused_at >= t_busy_login + 4.0, \
                    "a session in use was refused %.1f s after LOGIN, before " \
                    "its 5 s absolute expiry" % (busy_refused_at - t_busy_login)
        time.sleep(interval)
    assert idle_refused_at < busy_refused_at, \
        "the session in use ended before the idle one"
    assert idle_refused_at - t_idle_used <= 3.05 + 2 * interval + 1, \
        "idle session refused only %.1f s after its last use (idle expiry 2 s)" \
        % (idle_refused_at - t_idle_used)
    assert busy_refused_at - t_busy_login <= 6 + 2 * interval + 1, \
        "busy session refused only %.1f s after LOGIN (absolute expiry 5 s)" \
        % (busy_refused_at - t_busy_login)
    h.log("idle session refused %.1f s after last use; busy session %.1f s "
          "after login" % (idle_refused_at - t_idle_used, busy_refused_at - t_busy_login))
    # An expired token stays refused; a new LOGIN works
    idle.expect(401, "STATS", "user")
    idle.login("nina", "password-1")
    idle.expect(200, "STATS", "user")


def test_passwd(tmp):
    broker, store = h.start_service(tmp)
    one = h.Client(broker, timeout=5)
    two = h.Client(broker, timeout=5)
    one.register("olga", "password-old")
    one.login("olga", "password-old")
    two.login("olga", "password-old")
    # the same user on the same key twice: two sessions
    three = h.Client(broker, keys=one.keys, timeout=5)
    three.login("olga", "password-old")
    other = h.Client(broker, timeout=5)
    other.register("pete", "password-pete")
    other.login("pete", "password-pete")

    reply = one.expect(403, "PASSWD", "password-wrong", "password-new")
    assert reply.fields == [], "403 has no detail: %r" % reply
    reply = one.expect(422, "PASSWD", "password-old", "short")
    assert reply.fields == [b"new-password"], reply
    # nothing changed so far
    for c in (one, two, three):
        c.expect(200, "STATS", "user")
    h.Client(broker, timeout=5).expect(200, "LOGIN", "olga", "password-old")

    rid = h.new_request_id()
    one.expect(200, "PASSWD", "password-old", "password-new", request_id=rid)
    one.expect(200, "STATS", "user")            # this session stays
    two.expect(401, "STATS", "user")            # the others end,
    three.expect(401, "STATS", "user")          # also on the same key
    other.expect(200, "STATS", "user")          # other users' do not
    # A retry of the same PASSWD is answered from its record: 200, and
    # changes nothing (this session still works)
    one.expect(200, "PASSWD", "password-old", "password-new", request_id=rid)
    one.expect(200, "STATS", "user")

    fresh = h.Client(broker, timeout=5)
    fresh.expect(403, "LOGIN", "olga", "password-old")
    fresh.login("olga", "password-new")
    fresh.expect(200, "STATS", "user")


if __name__ == "__main__":
    h.run_tests([
        test_register_rules,
        test_concurrent_register_one_wins,
        test_register_retry_is_answered_from_record,
        test_register_retry_from_other_key_is_422,
        test_reused_request_id_other_content_is_422,
        test_login_token_and_expiry,
        test_data_file_holds_hashes_not_secrets,
        test_login_rehashes_when_parameters_change,
        test_unknown_user_and_wrong_password_identical,
        test_token_refused_after_logout_and_from_other_key,
        test_logout_from_another_key,
        test_token_idle_and_absolute_expiry,
        test_passwd,
    ])
