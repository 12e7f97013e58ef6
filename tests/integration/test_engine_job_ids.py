"""test_engine_job_ids - one login's password check never answers another
(issue 10, defect 2; ZPOST.md "Passwords", LOGIN).

The store at ed85c0f numbered its password jobs from 1 in each process's
life and kept them in a table keyed by the job number's bytes read as a C
string: job 256 and job 512 both had the key "". This test makes job 256
the victim's LOGIN with a wrong password, slow to check (the victim's hash
was made with many Argon2id passes), and job 512 the attacker's LOGIN with
the right password, fast. On ed85c0f the attacker's result reached the
victim's request: the victim was logged in with a wrong password (200 and
a token; the attacker's request was never answered). Now each result rides
with its own request: the victim gets 403 and every attacker LOGIN 200.

It plays the broker (harness.FakeBroker), so nothing times out while the
slow check runs; it takes about 90 s.
"""

import time

import harness as h

SCALE = h.TIME_SCALE
PASSWORD = "password-job-ids"

# The old store numbered password jobs from 1 in each process's life and
# keyed its table by the number's bytes read as a C string, so job 256 and
# job 512 had the same key "". SLOW_OPS makes the victim's stored hash
# slow to verify (Argon2id passes), so that job 256 is still running while
# the other hasher thread finishes jobs 257 to 512.
SLOW_OPS = "1500"
FAST_IN_FLIGHT = 12         # attacker LOGINs in flight, a key each


def test_a_result_never_reaches_another_login(tmp):
    """Job 256 is the victim's LOGIN with a wrong password, slow to check;
    job 512 is the attacker's LOGIN with the right one, fast. On ed85c0f
    the attacker's result reached the victim's request through the shared
    key "": the victim was logged in with a wrong password (200 and a
    token), and the attacker's request was never answered. Now each result
    rides with its own request: the victim gets 403, every attacker LOGIN
    gets 200."""
    fb = h.FakeBroker(tmp)
    # A store with slow limits makes its own dummy hash before it is ready
    first = h.start_store(tmp, fb.endpoint, extra=["--pwhash-ops", SLOW_OPS], wait=False)
    first.proc.wait_line(r"^zpost-store ready$", 240 * SCALE)
    fb.wait_ready()
    victim_key, attacker_key = h.client_key(), h.client_key()
    r = fb.wait_reply(fb.send(victim_key, "REGISTER", "victim", PASSWORD)[0], 240 * SCALE)
    assert r is not None and r.status == 200, "REGISTER victim: %r" % r
    h.stop(first.proc)
    readies = fb.readies
    # A new process: its jobs are numbered from 1 again (on ed85c0f)
    h.start_store(tmp, fb.endpoint, data=first.data_dir, extra=["--hashers", "2"])
    h.wait_until(lambda: fb.readies > readies, 15, 0.05, "the new store's READY")

    def login_attacker(key):
        for attempt in range(20):
            r = fb.wait_reply(fb.send(key, "LOGIN", "attacker", PASSWORD)[0], 60 * SCALE)
            if r is None or r.status != 503:
                return r
            time.sleep(1.0)         # the store's busy advice, at least 1 s
        return r

    # Jobs 1 to 255: the attacker's REGISTER, then 254 LOGINs one at a
    # time, the first from each of the keys used later (so that the account
    # knows them and its throttle does not count their attempts)
    keys = [h.client_key() for _ in range(FAST_IN_FLIGHT)]
    r = fb.wait_reply(fb.send(attacker_key, "REGISTER", "attacker", PASSWORD)[0], 30 * SCALE)
    assert r is not None and r.status == 200, "REGISTER attacker: %r" % r
    for n in range(254):
        r = login_attacker(keys[n] if n < len(keys) else attacker_key)
        assert r is not None and r.status == 200, "LOGIN attacker: %r" % r
    # Job 256: the victim, with a wrong password, against the slow hash
    victim_ticket, _ = fb.send(victim_key, "LOGIN", "victim", "not-the-password")
    race_start = time.monotonic()
    # Jobs 257 to 512 and a few more: the attacker, right password, on
    # several keys at once while the victim's check runs
    pending = {}
    sent = answered = 0
    statuses = {}
    deadline = time.monotonic() + 240 * SCALE
    while answered < 270:
        assert time.monotonic() < deadline, \
            "only %d of 270 attacker LOGINs answered: %r" % (answered, statuses)
        for key in keys:
            if sent < 270 and key not in pending.values():
                pending[fb.send(key, "LOGIN", "attacker", PASSWORD)[0]] = key
                sent += 1
        with fb._cond:
            fb._cond.wait(0.05)
        early = fb.wait_reply(victim_ticket, 0)
        assert early is None or early.status == 403, \
            "a wrong password for the victim got %r: another login's result " \
            "reached it" % (early,)
        for ticket in [t for t in pending if t in fb.replies]:
            reply = fb.wait_reply(ticket, 0)
            pending.pop(ticket)
            if reply.status == 503:     # busy: the same login again later
                sent -= 1
                continue
            statuses[reply.status] = statuses.get(reply.status, 0) + 1
            answered += 1
    fast_done = time.monotonic() - race_start
    victim = fb.wait_reply(victim_ticket, 240 * SCALE)
    h.log("attacker LOGINs: %r in %.1f s; victim: %r after %.1f s"
          % (statuses, fast_done, victim, time.monotonic() - race_start))
    assert victim is not None, "the victim's LOGIN was never answered"
    assert victim.status == 403 and not victim.fields, \
        "a wrong password for the victim got %r: another login's result " \
        "reached it" % victim
    assert statuses == {200: 270}, "attacker LOGINs: %r" % statuses



if __name__ == "__main__":
    h.run_tests([test_a_result_never_reaches_another_login], timeout=280)
