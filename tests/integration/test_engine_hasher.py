"""test_engine_hasher - every password job's result reaches its own request
(issue 10, defect 2; ZPOST.md "Passwords", LOGIN).

The store at ed85c0f kept password jobs in a table keyed by the job id's
address read as a C string: every id that is a multiple of 256 was the key
"", 65537 was the key of 1. With more than 256 jobs in flight (the queue's
bound) and two hasher threads finishing out of order, the insert of a
second "" failed (that request was never answered) and a result could
reach another request's continuation.

That id table is gone: a job now carries its request (the store_hasher
selftest covers the pool itself; test_engine_job_ids.py reproduces the
old collision exactly). What this test proves from outside is that, over
more than 512 password jobs in one store's life, with jobs finishing out
of order on two threads, every answer reaches its own request. It is bounded by count, not by time: a busy machine makes it
slower, never wrong.

The test plays the broker (harness.FakeBroker) and keeps 32 LOGINs in
flight at one store with --hashers 2 until 600 password checks have been
answered: for 64 real users with their right password
(expected 200; at most 3 in flight per user, so that the throttle, which
counts an attempt as a failure until its check succeeds, stays out of it),
and for a fresh unknown name each (expected 403, after a check against the
dummy hash); each from a fresh client key. A busy reply
(503, or 429) is sent again later as a new request. Then:

- every request is answered;
- no unknown name gets 200, no right password gets 403;
- every token opens the session of the user who logged in: LIST inbox
  with it shows that user's own message (each user sent one to itself,
  with its name as the subject).
"""

import random
import time

import harness as h

SCALE = h.TIME_SCALE
PASSWORD = "password-hasher"
USERS = 64
PER_USER = 3
IN_FLIGHT = 32
CHECKS = 600
BOUND = 240.0 * SCALE       # a watchdog, far above the ~20 s it takes


def test_job_results_reach_their_own_request(tmp):
    fb = h.FakeBroker(tmp)
    h.start_store(tmp, fb.endpoint, extra=["--hashers", "2"])
    fb.wait_ready()
    users = ["user%d" % i for i in range(USERS)]
    keys = {name: h.client_key() for name in users}
    # The store refuses at once what its pool cannot hash in time (503 with
    # the seconds to wait), as a busy machine makes it do: retry as the
    # spec says, a bounded number of times
    def call_retrying(key, *request):
        for attempt in range(20):
            r = fb.wait_reply(fb.send(key, *request)[0], 30 * SCALE)
            if r is None or r.status != 503:
                return r
            time.sleep(min(float(r.fields[0]) if r.fields else 1.0, 3.0))
        return r

    for n in users:
        r = call_retrying(keys[n], "REGISTER", n, PASSWORD)
        assert r is not None and r.status == 200, "REGISTER: %r" % r
    sends = []
    for name in users:
        r = call_retrying(keys[name], "LOGIN", name, PASSWORD)
        assert r is not None and r.status == 200, "LOGIN: %r" % r
        sends.append(fb.send(keys[name], "SEND", name, name, "b",
                             token=r.fields[0].decode())[0])
    for t in sends:
        r = fb.wait_reply(t, 30 * SCALE)
        assert r is not None and r.status == 200, "SEND: %r" % r
    in_flight = {name: 0 for name in users}

    rng = random.Random(10)
    pending = {}            # ticket -> (kind, name, key, sent at)
    tokens = []             # (name, key, token) of every 200
    problems = []
    counts = {}
    checks = 0
    ghosts = 0
    busy_until = 0.0
    start = time.monotonic()
    while checks < CHECKS:
        assert time.monotonic() - start < BOUND, \
            "only %d password checks answered in %.0f s (%r)" % (checks, BOUND, counts)
        now = time.monotonic()
        while len(pending) < IN_FLIGHT and now >= busy_until:
            key = h.client_key()
            name = min(users, key=lambda n: (in_flight[n], rng.random()))
            if in_flight[name] < PER_USER and rng.random() < 0.6:
                kind = "real"
                in_flight[name] += 1
            else:
                ghosts += 1
                name, kind = "ghost%d" % ghosts, "ghost"
            ticket, _ = fb.send(key, "LOGIN", name, PASSWORD)
            pending[ticket] = (kind, name, key, now)
        with fb._cond:
            fb._cond.wait(0.05)
            done = [t for t in pending if t in fb.replies]
        for ticket in done:
            kind, name, key, sent = pending.pop(ticket)
            if kind == "real":
                in_flight[name] -= 1
            reply = fb.wait_reply(ticket, 0)
            counts[reply.status] = counts.get(reply.status, 0) + 1
            if reply.status in (503, 429):
                busy_until = time.monotonic() + 0.05
                continue
            checks += 1
            if kind == "real" and reply.status == 200:
                tokens.append((name, key, reply.fields[0].decode()))
            elif not (kind == "ghost" and reply.status == 403):
                problems.append("LOGIN %s (%s): %r" % (name, kind, reply))
        stale = [t for t, p in pending.items() if time.monotonic() - p[3] > 20 * SCALE]
        for ticket in stale:
            kind, name, key, sent = pending.pop(ticket)
            problems.append("LOGIN %s (%s) never answered (20 s)" % (name, kind))
    # the rest must be answered too
    for ticket in list(pending):
        kind, name, key, sent = pending.pop(ticket)
        reply = fb.wait_reply(ticket, 20 * SCALE)
        if reply is None:
            problems.append("LOGIN %s (%s) never answered" % (name, kind))
        elif reply.status == 200 and kind == "real":
            tokens.append((name, key, reply.fields[0].decode()))
        elif reply.status not in (503, 429) and \
                not (kind == "ghost" and reply.status == 403):
            problems.append("LOGIN %s (%s): %r" % (name, kind, reply))
    h.log("%d password checks answered in %.1f s: %r; %d tokens"
          % (checks, time.monotonic() - start, counts, len(tokens)))

    # every token is its own user's
    sent = [(fb.send(key, "LIST", "inbox", "all", "10", "0", token=token)[0], name)
            for name, key, token in tokens]
    for ticket, name in sent:
        reply = fb.wait_reply(ticket, 20 * SCALE)
        if reply is None or reply.status != 200:
            problems.append("LIST with %s's token: %r" % (name, reply))
            continue
        subjects = [row[3] for row in h.rows(reply, 7)]
        if subjects != [name]:
            problems.append("a LOGIN of %s opened a session whose inbox holds "
                            "%r" % (name, subjects))
    assert not problems, "%d problems:\n%s" % (len(problems), "\n".join(problems[:20]))
    fb.close()


if __name__ == "__main__":
    h.run_tests([test_job_results_reach_their_own_request], timeout=260)
