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
slow check runs. It takes about 80 s on a quiet machine, and several
minutes on a busy one: its ctest TIMEOUT is 600 s.
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

    keys = [h.client_key() for _ in range(FAST_IN_FLIGHT)]

    def attacker_logins(count, victim_ticket=None):
        """count LOGINs of the attacker with the right password, one in
        flight per key; a busy 503 is sent again. Fails at once if the
        victim's reply comes and is not 403."""
        pending = {}
        sent = answered = 0
        statuses = {}
        deadline = time.monotonic() + 400 * SCALE
        while answered < count:
            assert time.monotonic() < deadline, \
                "only %d of %d attacker LOGINs answered: %r" % (answered, count, statuses)
            for key in keys:
                if sent < count and key not in pending.values():
                    pending[fb.send(key, "LOGIN", "attacker", PASSWORD)[0]] = key
                    sent += 1
            with fb._cond:
                fb._cond.wait(0.05)
            if victim_ticket is not None:
                early = fb.wait_reply(victim_ticket, 0)
                assert early is None or early.status == 403, \
                    "a wrong password for the victim got %r: another login's " \
                    "result reached it" % (early,)
            for ticket in [t for t in pending if t in fb.replies]:
                reply = fb.wait_reply(ticket, 0)
                pending.pop(ticket)
                if reply.status == 503:     # busy: the same login again later
                    sent -= 1
                    continue
                statuses[reply.status] = statuses.get(reply.status, 0) + 1
                answered += 1
        return statuses

    # Jobs 1 to 255: the attacker's REGISTER, a first LOGIN from each key
    # (so that the account knows them and its throttle counts none of
    # their attempts), then the rest, several at once
    r = fb.wait_reply(fb.send(attacker_key, "REGISTER", "attacker", PASSWORD)[0], 60 * SCALE)
    assert r is not None and r.status == 200, "REGISTER attacker: %r" % r
    for key in keys:
        r = fb.wait_reply(fb.send(key, "LOGIN", "attacker", PASSWORD)[0], 60 * SCALE)
        assert r is not None and r.status == 200, "LOGIN attacker: %r" % r
    statuses = attacker_logins(254 - len(keys))
    assert statuses == {200: 254 - len(keys)}, statuses
    # Job 256: the victim, with a wrong password, against the slow hash
    victim_ticket, _ = fb.send(victim_key, "LOGIN", "victim", "not-the-password")
    race_start = time.monotonic()
    # Jobs 257 to 512 and a few more: the attacker again, while the
    # victim's check runs
    statuses = attacker_logins(270, victim_ticket)
    fast_done = time.monotonic() - race_start
    victim = fb.wait_reply(victim_ticket, 400 * SCALE)
    h.log("attacker LOGINs: %r in %.1f s; victim: %r after %.1f s"
          % (statuses, fast_done, victim, time.monotonic() - race_start))
    assert victim is not None, "the victim's LOGIN was never answered"
    assert victim.status == 403 and not victim.fields, \
        "a wrong password for the victim got %r: another login's result " \
        "reached it" % victim
    assert statuses == {200: 270}, "attacker LOGINs: %r" % statuses


if __name__ == "__main__":
    h.run_tests([test_a_result_never_reaches_another_login], timeout=580)
