"""test_engine_fault - a commit that fails is never acknowledged (issue 10,
defect 10; ZPOST.md "Durability", "Processing order at the store").

zpost-store runs with the LD_PRELOAD shim libzpost_fault.so (tests/fault/
fault.c; ZPOST_FAULT_LIB may name it, else it is taken from
ZPOST_BIN_DIR): while the file named by ZPOST_FAULT_FILE exists, fdatasync,
fsync and msync fail with EIO, so every LMDB commit fails before its meta
page is written. Sender threads keep sending (one try per request, each
with its own subject); the fault is switched on, then off.

- A SEND sent after the fault was switched on and answered before it was
  switched off was committed, if at all, while every commit failed: it
  must not be answered 200. There must be such error replies.
- The store may go on or exit non-zero. Either way, after the fault is
  removed and the store restarted on the same data: every SEND answered
  200 is in the sender's sent folder with its message-id, and no SEND
  answered with an error (not 503: that one's outcome is unknown) is.
"""

import os
import threading
import time

import harness as h

SCALE = h.TIME_SCALE
PASSWORD = "password-fault"
SENDERS = 4


def _faulty_store(tmp, broker, data, fault_file):
    env = h.clean_env()
    env["LD_PRELOAD"] = h.fault_shim()
    env["ZPOST_FAULT_FILE"] = fault_file
    argv = h.WRAP + [h.binary("zpost-store"), "--broker", broker.back,
                     "--data", data, "--heartbeat", "500"] + h.store_db_args(tmp, data)
    proc = h.Proc("store", argv, tmp, env=env)
    proc.wait_line(r"^zpost-store ready$")
    return proc


class Sender(threading.Thread):
    """Sends to itself, one try per request; records (subject, sent at,
    answered at, reply) for each."""

    def __init__(self, broker, name, stop):
        super().__init__(daemon=True)
        self.client = h.Client(broker, timeout=8 * SCALE)
        self.name_ = name
        self.stop = stop
        self.record = []

    def run(self):
        n = 0
        while not self.stop.is_set():
            subject = "%s-%d" % (self.name_, n)
            n += 1
            sent = time.monotonic()
            _, reply = self.client.call("SEND", self.name_, subject, "body " + subject)
            self.record.append((subject, sent, time.monotonic(), reply))
            if reply is not None and reply.status == 503:
                time.sleep(0.05)        # no store: do not spin
        self.client.close()


def _count_done(senders, after):
    return sum(1 for s in senders for r in s.record if r[1] >= after and r[3] is not None)


@h.lmdb_only("the shim fails the store's own fdatasync/msync, which "
              "LMDB's commit calls; on PostgreSQL the server syncs, in its own process")
def test_failed_commits_never_acknowledged(tmp):
    broker = h.start_broker(tmp, extra=["--heartbeat", "500"])
    data = os.path.join(tmp, "data")
    fault = os.path.join(tmp, "fault-on")
    store = _faulty_store(tmp, broker, data, fault)
    h.wait_store_ready(broker)
    names = ["sender%d" % i for i in range(SENDERS)]
    for name in names:
        c = h.Client(broker, timeout=10 * SCALE)
        c.register(name, PASSWORD)
    stop = threading.Event()
    senders = []
    for name in names:
        s = Sender(broker, name, stop)
        s.client.login(name, PASSWORD)
        senders.append(s)
    for s in senders:
        s.start()

    t0 = time.monotonic()
    h.wait_until(lambda: _count_done(senders, t0) >= 40, 30 * SCALE, 0.05,
                 "40 sends before the fault")
    open(fault, "w").close()
    t_on = time.monotonic()
    h.wait_until(lambda: _count_done(senders, t_on) >= 40, 30 * SCALE, 0.05,
                 "40 replies during the fault")
    os.unlink(fault)
    t_off = time.monotonic()
    if store.alive():
        h.wait_until(lambda: _count_done(senders, t_off) >= 40, 30 * SCALE, 0.05,
                     "40 replies after the fault")
    stop.set()
    for s in senders:
        s.join(30 * SCALE)

    if store.alive():
        h.stop(store)
    else:
        store.expected_exit = True
        h.log("the store exited with %s during the fault" % store.returncode)
        assert store.returncode != 0, "the store exited 0 during the fault"

    records = [r for s in senders for r in s.record]
    during = [r for r in records if r[1] > t_on and r[2] < t_off and r[3] is not None]
    ok_during = [r for r in during if r[3].status == 200]
    errors_during = [r for r in during if r[3].status != 200]
    statuses = {}
    for r in during:
        statuses[r[3].status] = statuses.get(r[3].status, 0) + 1
    h.log("%d sends in all; answered during the fault: %r" % (len(records), statuses))
    assert not ok_during, "%d SENDs sent and answered while every sync failed " \
        "got 200, e.g. %r" % (len(ok_during), ok_during[0][0])
    assert errors_during, "no error reply during the fault"

    # restart on the same data, without the shim, and look
    h.start_store(tmp, broker.back, data=data)
    h.wait_store_ready(broker)
    acked = {}
    refused = set()
    for subject, sent, answered, reply in records:
        if reply is None:
            continue
        if reply.status == 200:
            acked[subject] = reply.fields[0].decode()
        elif reply.status != 503:
            refused.add(subject)
    problems = []
    for name in names:
        c = h.Client(broker, timeout=10 * SCALE)
        c.login(name, PASSWORD)
        held = {}
        before = "0"
        while True:
            page = h.rows(c.expect(200, "LIST", "sent", "all", "1000", before), 7)
            for row in page:
                held[row[3]] = row[0]
            if len(page) < 1000:
                break
            before = page[-1][0]
        c.close()
        for subject, mid in acked.items():
            if subject.startswith(name + "-") and held.get(subject) != mid:
                problems.append("acknowledged %s (id %s) is %s" % (
                    subject, mid, "missing" if subject not in held
                    else "there as id %s" % held[subject]))
        for subject in refused:
            if subject.startswith(name + "-") and subject in held:
                problems.append("%s got an error reply but is stored (id %s)"
                                % (subject, held[subject]))
    h.log("%d acknowledged, %d refused" % (len(acked), len(refused)))
    assert not problems, "%d problems after the restart:\n%s" % (
        len(problems), "\n".join(problems[:20]))


if __name__ == "__main__":
    h.run_tests([test_failed_commits_never_acknowledged])
