"""test_throttle - failed logins are throttled, and the throttle lets go
(issue 3, items 3 and 7; ZPOST.md "Login throttling").

The rules under test: 4 failures are free; after the 5th the next attempt
waits 1 s, after the 6th 2 s (doubling); an attempt during the wait gets
429 with detail = whole seconds left (>= 1), its password unchecked, and
does not count; counters are per account and per client key. The owner,
on the client key that logged in to the account before, can still log in
while an attacker keeps the account's counter in its delay: attempts from
such a key count only on the key's own counter, and neither feed nor reset
the account's.

No check here races the end of a delay (issue 11, item 8): the store runs
with --throttle-delay, a first delay long enough (SHORT, 4 s, where the
test waits for the release; LONG, 60 s, where it does not) that every
check made during a delay happens with seconds to spare on a loaded
machine. The 429's detail is checked against a range (it counts down),
and a release against a lower bound (the delay, measured from after the
failure's reply, so never too early) and a generous upper one.
"""

import ctypes
import ctypes.util
import math
import time

import harness as h

RIGHT = "right-password"
WRONG = "wrong-password"
SHORT = 4           # s: the first delay where the test waits for the release
LONG = 60           # s: where it does not


def _service(tmp, delay):
    return h.start_service(tmp, store_extra=["--throttle-delay", str(delay * 1000)])


def _login(client, name, password):
    _, reply = client.call("LOGIN", name, password)
    assert reply is not None, "LOGIN %s: no reply" % name
    return reply


def _expect_429(reply, what, seconds=None):
    """A 429 whose detail is the seconds left: at most seconds (the delay
    set), at least 1."""
    assert reply.status == 429, "%s: expected 429, got %r" % (what, reply)
    assert len(reply.fields) == 1, "%s: 429 needs a detail: %r" % (what, reply)
    detail = reply.fields[0].decode()
    assert detail.isdigit() and int(detail) >= 1, \
        "%s: detail %r is not a number of seconds >= 1" % (what, detail)
    if seconds is not None:
        assert int(detail) <= seconds, "%s: detail %s, the delay is %d s" \
            % (what, detail, seconds)
    return int(detail)


def _poll_release(client, name, password, timeout, what):
    """Try LOGIN every 0.1 s until it is not 429; returns (reply, seconds)."""
    start = time.monotonic()
    deadline = start + timeout
    while True:
        reply = _login(client, name, password)
        if reply.status != 429:
            return reply, time.monotonic() - start
        _expect_429(reply, what)
        assert time.monotonic() < deadline, \
            "%s: still 429 after %.1f s" % (what, timeout)
        time.sleep(0.1)


def test_account_throttle_engages_and_releases(tmp):
    broker, store = _service(tmp, SHORT)
    owner = h.Client(broker, timeout=5)
    owner.register("victim", RIGHT)
    owner.login("victim", RIGHT)            # the owner's key is now known

    attacker = h.Client(broker, timeout=5)
    # 4 failures are free, and so is the 5th attempt
    for n in range(1, 6):
        reply = _login(attacker, "victim", WRONG)
        assert reply.status == 403, "failure %d: expected 403, got %r" % (n, reply)
    # after the 5th failure: SHORT s to wait, even with the right password
    t_fifth = time.monotonic()
    _expect_429(_login(attacker, "victim", WRONG), "6th attempt", seconds=SHORT)
    _expect_429(_login(attacker, "victim", RIGHT), "right password in the delay",
                seconds=SHORT)

    # It lets go: the next attempt after the delay is checked again (this
    # one fails: the 6th failure, which sets a delay twice as long)
    reply, waited = _poll_release(attacker, "victim", WRONG, 3 * SHORT + 30,
                                  "after 5 failures")
    assert reply.status == 403, "after the %d s delay: expected 403, got %r" \
        % (SHORT, reply)
    assert time.monotonic() - t_fifth >= 0.9 * SHORT, "released too early"
    t_sixth = time.monotonic()
    h.log("released after %.2f s (delay %d s)" % (waited, SHORT))

    # After the 6th failure: 2 * SHORT. A never-used key is throttled too
    # (the account's counter), the owner's known key is not, and the
    # owner's success touches only its own key's counter: it neither
    # resets the account's counter (that would hand the attacker new free
    # guesses) nor the attacker's key counter.
    _expect_429(_login(attacker, "victim", WRONG), "after 6 failures", seconds=2 * SHORT)
    newcomer = h.Client(broker, timeout=5)
    _expect_429(_login(newcomer, "victim", RIGHT), "a new key, account in its delay",
                seconds=2 * SHORT)
    reply = _login(owner, "victim", RIGHT)
    assert reply.status == 200, "the owner, on the key that logged in before, " \
        "is locked out by the attacker: %r" % reply
    _expect_429(_login(attacker, "victim", RIGHT),
                "the attacker's key after the owner's login")
    _expect_429(_login(newcomer, "victim", RIGHT),
                "a new key after the owner's login: the account is still in its delay")

    # The attacker's key lets go after its 2 * SHORT s, and no earlier
    reply, waited = _poll_release(attacker, "victim", RIGHT, 6 * SHORT + 30,
                                  "after 6 failures")
    since = time.monotonic() - t_sixth
    assert reply.status == 200, "after the delay, the right password: %r" % reply
    assert since >= 0.9 * 2 * SHORT, "released %.2f s after the 6th failure; the " \
        "delay is %d s" % (since, 2 * SHORT)
    h.log("released %.2f s after the 6th failure (delay %d s)" % (since, 2 * SHORT))


def test_new_key_throttled_by_account(tmp):
    """The account's counter alone throttles a key that never failed."""
    broker, store = _service(tmp, LONG)
    h.Client(broker, timeout=5).register("target", RIGHT)
    for n in range(5):
        # a new key for every failure: no key counter ever reaches 5
        reply = _login(h.Client(broker, timeout=5), "target", WRONG)
        assert reply.status == 403, "failure %d: %r" % (n + 1, reply)
    _expect_429(_login(h.Client(broker, timeout=5), "target", RIGHT),
                "a sixth key, account after 5 failures", seconds=LONG)
    # another account is not affected
    h.Client(broker, timeout=5).register("bystander", RIGHT)
    reply = _login(h.Client(broker, timeout=5), "bystander", RIGHT)
    assert reply.status == 200, reply
    # Unknown names are throttled the same way (the throttle says nothing
    # about existence)
    for n in range(5):
        reply = _login(h.Client(broker, timeout=5), "no-such-user", WRONG)
        assert reply.status == 403, reply
    _expect_429(_login(h.Client(broker, timeout=5), "no-such-user", WRONG),
                "an unknown name after 5 failures", seconds=LONG)


def test_key_throttle_across_accounts(tmp):
    """One client key failing against five accounts is throttled on a
    sixth, whose own counter is clean."""
    broker, store = _service(tmp, LONG)
    setup = h.Client(broker, timeout=5)
    for n in range(6):
        setup.register("user%d" % n, RIGHT)
    guesser = h.Client(broker, timeout=5)
    for n in range(5):
        reply = _login(guesser, "user%d" % n, WRONG)
        assert reply.status == 403, reply
    _expect_429(_login(guesser, "user5", RIGHT), "the same key, a sixth account",
                seconds=LONG)
    # other keys are not throttled on these accounts (each failed once)
    reply = _login(h.Client(broker, timeout=5), "user5", RIGHT)
    assert reply.status == 200, reply


def test_passwd_failures_count(tmp):
    """A PASSWD with a wrong current password counts as a failed attempt
    (ZPOST.md: "A failure is a LOGIN answered 403, or a PASSWD whose
    current password is wrong"), and PASSWD is throttled too. The session's
    key has logged in to the account, so its failures count on that key's
    counter only: they hold back that key, not the account, so a stolen
    session cannot be used to lock the owner out of a login elsewhere."""
    broker, store = _service(tmp, SHORT)
    c = h.Client(broker, timeout=5)
    c.register("quinn", RIGHT)
    c.login("quinn", RIGHT)
    for n in range(5):
        c.expect(403, "PASSWD", WRONG, "new-password-1")
    _, reply = c.call("PASSWD", RIGHT, "new-password-1")
    _expect_429(reply, "PASSWD after 5 wrong current passwords", seconds=SHORT)
    _expect_429(_login(c, "quinn", RIGHT), "LOGIN from the same key", seconds=SHORT)
    reply = _login(h.Client(broker, timeout=5), "quinn", RIGHT)
    assert reply.status == 200, \
        "LOGIN from another key after 5 failed PASSWDs: the account's " \
        "counter must not have moved: %r" % reply
    # the password was not changed: the same key logs in with it once its
    # own delay is over
    wait_until_ok = time.monotonic() + 3 * SHORT + 30
    while True:
        reply = _login(c, "quinn", RIGHT)
        if reply.status != 429:
            break
        assert time.monotonic() < wait_until_ok, "still 429: %r" % reply
        time.sleep(0.1)
    assert reply.status == 200, reply


def _ops_for(seconds):
    """Argon2id passes (64 MiB) that take about `seconds` on this machine
    now: time one hash of 10 passes, scale (the cost is linear in passes)."""
    sodium = ctypes.CDLL(ctypes.util.find_library("sodium") or "libsodium.so.23")
    assert sodium.sodium_init() >= 0
    out = ctypes.create_string_buffer(128)
    start = time.monotonic()
    assert sodium.crypto_pwhash_str(out, b"x", ctypes.c_ulonglong(1),
                                    ctypes.c_ulonglong(10),
                                    ctypes.c_size_t(64 << 20)) == 0
    took = time.monotonic() - start
    return max(20, int(math.ceil(10 * seconds / took)))


def test_busy_refusals_never_throttle_a_right_password(tmp):
    """A LOGIN the store refuses as busy (503) was never checked, so it
    must not count as a failure. Before this was fixed, the throttle
    charged an attempt when it was admitted and kept the charge when the
    pool turned it away: on a loaded machine (stress-tests.sh) a client
    that retried a right password after 503s got 429 and was shut out.

    One hasher and hashes of several seconds: the owner's LOGINs from key
    A keep the pool busy past the store's 2.5 s admission bound, so
    six LOGINs with the right password from key B, another key the
    account knows, are refused as busy. None may get 429, and once A's
    are answered, B's LOGIN gets 200."""
    ops = _ops_for(5.0)
    fb = h.FakeBroker(tmp)
    store = h.start_store(tmp, fb.endpoint, wait=False, extra=[
        "--hashers", "1", "--pwhash-ops", str(ops),
        "--throttle-delay", str(LONG * 1000)])
    store.proc.wait_line(r"^zpost-store ready$", 120 * h.TIME_SCALE)
    fb.wait_ready()
    a, b = h.client_key(), h.client_key()
    slow = 120 * h.TIME_SCALE

    def login(key):
        return fb.wait_reply(fb.send(key, "LOGIN", "owner", RIGHT)[0], slow)

    r = fb.wait_reply(fb.send(a, "REGISTER", "owner", RIGHT)[0], slow)
    assert r is not None and r.status == 200, r
    for key in (a, b):                  # both keys become known to the account
        r = login(key)
        assert r is not None and r.status == 200, r
    busy_tickets = [fb.send(a, "LOGIN", "owner", RIGHT)[0] for _ in range(2)]
    statuses = []
    for attempt in range(6):
        r = fb.wait_reply(fb.send(b, "LOGIN", "owner", RIGHT)[0], slow)
        assert r is not None, "LOGIN %d from B never answered" % attempt
        statuses.append((r.status, r.reason))
    h.log("B's LOGINs while the pool is busy (%d passes): %r" % (ops, statuses))
    assert all(status != 429 for status, _ in statuses), \
        "a right password refused as busy was counted as a failure: %r" % statuses
    assert any(status == 503 for status, _ in statuses), \
        "the pool was never busy, so nothing was tested: %r" % statuses
    # A's own second LOGIN may have found the pool busy too
    a_statuses = [getattr(fb.wait_reply(ticket, slow), "status", None)
                  for ticket in busy_tickets]
    assert 200 in a_statuses and set(a_statuses) <= {200, 503}, a_statuses
    r = login(b)
    assert r is not None and r.status == 200, \
        "B's right password after the busy spell: %r" % r


if __name__ == "__main__":
    h.run_tests([
        test_account_throttle_engages_and_releases,
        test_new_key_throttled_by_account,
        test_key_throttle_across_accounts,
        test_passwd_failures_count,
        test_busy_refusals_never_throttle_a_right_password,
    ])
