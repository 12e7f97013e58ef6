"""test_store_disk_full - a full disk at run time reads as a full disk
(issue 11, item 6; ZPOST.md "Status codes": 507 STORAGE_FULL).

zpost-store runs with the LD_PRELOAD shim libzpost_fault.so (tests/fault/
fault.c; ZPOST_FAULT_LIB may name it, else it is taken from
ZPOST_BIN_DIR). While the file named by ZPOST_FAULT_FILE holds "enospc",
a write that would make a file longer fails with ENOSPC, as on a file
system with no free block; with "short", such a write is cut short after
4096 bytes, which LMDB reports as EIO. Both say the file system has no
free block (statvfs).

For each kind, with the disk full:
- a SEND whose body needs new pages at the end of data.mdb is answered
  507 (not 500) with a reason that says the disk is full, and the store's
  log says "disk full" (not "failed: Input/output error");
- a SEND too big for the map grows the map first (in the first round), and
  then meets the full disk: 507 too, not 500;
- the store keeps running: PING, LIST and READ are answered 200 (a READ
  that marks a message seen may reuse pages the file already has, as on a
  real full disk).
After the fault is lifted, a SEND is answered 200 and is there to READ.
"""

import os

import harness as h

SCALE = h.TIME_SCALE
PASSWORD = "password-disk-full"
KIB = 1024


def _fault(path, kind):
    """Switch the fault on, whole: the shim must never read a half-written
    file (an empty one means EIO on sync)."""
    part = path + ".part"
    with open(part, "w") as f:
        f.write(kind + "\n")
    os.rename(part, path)


def _faulty_store(tmp, broker, data, fault_file):
    env = h.clean_env()
    env["LD_PRELOAD"] = h.fault_shim()
    env["ZPOST_FAULT_FILE"] = fault_file
    # a 1 MiB map, so that a big body needs the map grown first
    argv = h.WRAP + [h.binary("zpost-store"), "--broker", broker.back,
                     "--data", data, "--heartbeat", "500",
                     "--map-size", "1", "--map-max", "64"] + h.store_db_args(tmp, data)
    proc = h.Proc("store", argv, tmp, env=env)
    proc.wait_line(r"^zpost-store ready$")
    return proc


def _list(client, folder, filter_="all"):
    reply = client.expect(200, "LIST", folder, filter_, "100", "0")
    return {row[3]: row for row in h.rows(reply, 7)}


def _assert_disk_full(reply, what):
    assert reply is not None, "%s: no reply" % what
    assert reply.status == 507, "%s: expected 507 (storage full), got %r %r" \
        % (what, reply.status, reply.reason)
    assert "disk is full" in reply.reason, \
        "%s: 507, but the reason does not say the disk is full: %r" % (what, reply.reason)


@h.lmdb_only("ENOSPC on the store's own writes to data.mdb (the shim "
              "in the store's process); on PostgreSQL the server writes, in its own process")
def test_full_disk_reads_as_full_disk(tmp):
    broker = h.start_broker(tmp, extra=["--heartbeat", "500"])
    data = os.path.join(tmp, "data")
    fault = os.path.join(tmp, "fault-on")
    store = _faulty_store(tmp, broker, data, fault)
    h.wait_store_ready(broker)

    alice = h.Client(broker, timeout=10 * SCALE)
    alice.register("alice", PASSWORD)
    alice.login("alice", PASSWORD)
    bob = h.Client(broker, timeout=10 * SCALE)
    bob.register("bob", PASSWORD)
    bob.login("bob", PASSWORD)
    seen_id = alice.expect(200, "SEND", "alice", "seen", "read before").fields[0].decode()
    alice.expect(200, "READ", seen_id)
    unseen_ids = {}
    for kind in ("enospc", "short"):
        unseen_ids[kind] = bob.expect(200, "SEND", "alice", "unseen-" + kind,
                                      "not read before the disk filled").fields[0].decode()
    # the premise: a 256 KiB body cannot fit in pages the file already has
    size = os.path.getsize(os.path.join(data, "data.mdb"))
    assert size < 256 * KIB, "data.mdb is already %d bytes" % size

    for kind in ("enospc", "short"):
        log_mark = len(store.log_text())
        _fault(fault, kind)
        _, reply = alice.call("SEND", "bob", "during-" + kind, "x" * (256 * KIB))
        _assert_disk_full(reply, "SEND of 256 KiB (%s)" % kind)
        _, reply = alice.call("SEND", "bob", "big-" + kind, "y" * (900 * KIB))
        _assert_disk_full(reply, "SEND of 900 KiB, past the 1 MiB map (%s)" % kind)

        log = store.log_text()[log_mark:]
        h.log("store log during the %s fault:\n%s" % (kind, log))
        assert "disk full" in log, "the store's log does not say 'disk full':\n" + log
        if kind == "enospc":
            # (the first round grew the map, so the second needs no growth)
            assert "map grown" in log, "the map was not grown:\n" + log

        # reads go on
        assert store.alive(), "the store exited on a full disk"
        assert h.ping_status(broker) == 200, "PING through the store failed"
        inbox = _list(alice, "inbox")
        assert "seen" in inbox and "unseen-" + kind in inbox, inbox
        assert not any(s.startswith(("during-", "big-")) for s in _list(bob, "inbox"))
        reply = alice.expect(200, "READ", seen_id)
        assert reply.fields[-1] == b"read before", reply
        reply = alice.expect(200, "READ", unseen_ids[kind])
        assert reply.fields[-1] == b"not read before the disk filled", reply
        os.unlink(fault)

    # room again: writes work, and what was sent is there
    after = alice.expect(200, "SEND", "bob", "after", "z" * (900 * KIB)).fields[0].decode()
    assert "after" in _list(bob, "inbox")
    reply = bob.expect(200, "READ", after)
    assert reply.fields[-1] == b"z" * (900 * KIB)
    h.wait_until(lambda: "written again" in store.log_text(), 10 * SCALE, 0.05,
                 "the store's log saying commits are written again")
    alice.close()
    bob.close()
    h.stop(store)


if __name__ == "__main__":
    h.run_tests([test_full_disk_reads_as_full_disk])
