"""test_store_migrate - moving a store's data into another database with
zpost-store --export / --import (issue 13, item 7).

The direction depends on the back end under test: on LMDB the store's data
moves from LMDB into PostgreSQL (a cluster of this script's own, pg.py);
on PostgreSQL, from PostgreSQL into LMDB. (LMDB into LMDB is the
store_dump selftest.)

- A store gets real traffic through a broker: several users, sends to
  several recipients, reads, deletes (one message freed by its last
  delete), sent folders, two live sessions of one user, recorded replies.
  What the users see is noted through the protocol: LIST of every inbox
  and sent folder (seen flags), STATS user, STATS server.
- --export while the store runs and again after it stopped: the same
  counts and digest (a snapshot, safe beside a serving store); the dump
  is 0600; an existing file is never replaced; --digest of the source
  prints the same line.
- A truncated dump, one with a bit flipped, and one of another format
  version are refused, with a sentence, and leave the target empty (the
  real import after them succeeds, and it refuses a non-empty target).
- --import: the dump's line and the target's line are equal, "import
  verified", exit 0; a second import into the now non-empty target is
  refused (exit 1).
- A store on the target: the tokens from before the move still work;
  every folder (seen flags included) and every STATS figure is the same;
  the bodies read back as sent; each password still logs in; a SEND
  retried with a request id from before the move gets its recorded reply
  and stores nothing; a new SEND gets an id above every old one.
- A dump in format 1 (what a zpost-store from before marks and threads
  wrote: its 'M' records without the two thread fields, marks 0 or 1)
  imports, and reads back as the same store in today's format: the
  import's line equals today's export of the source, and a store on the
  target serves the same folders. A format-1 dump with a mark that
  format did not have is refused.
"""

import hashlib
import os
import re
import stat
import subprocess

import harness as h
import pg

USERS = {"ann": "ann-password-1", "bob": "bob-password-2",
         "cat": "cat-password-3", "dan": "dan-password-4"}
SUMMARY = r"users \d+ sessions \d+ known-keys \d+ messages \d+ " \
          r"folder-entries \d+ replies \d+ counters \d+ digest [0-9a-f]{64}"
SERVER_FIGURES = ("users", "messages", "bytes", "replies", "sessions")


def _store_cli(tmp, args, timeout=120):
    """zpost-store run as a command (no broker): (rc, stdout, stderr)."""
    cp = subprocess.run(h.WRAP + [h.binary("zpost-store")] + list(args),
                        capture_output=True, cwd=tmp, timeout=timeout,
                        env=h.clean_env())
    return cp.returncode, cp.stdout.decode(errors="replace"), \
        cp.stderr.decode(errors="replace")


def _line(out, label):
    """The summary after 'zpost-store LABEL: ' in out."""
    m = re.search(r"^zpost-store %s: (%s)$" % (label, SUMMARY), out, re.M)
    assert m, "no 'zpost-store %s:' line in %r" % (label, out)
    return m.group(1)


def _places(tmp):
    """(source store args, target database args, what) for this back end."""
    source = os.path.join(tmp, "source")
    source_args = ["--data", source] + h.store_db_args(tmp, source)
    if h.BACKEND == "lmdb":
        cluster = pg.cluster()
        target = ["--data", os.path.join(tmp, "target"),
                  "--db", cluster.conninfo(cluster.create_database("mig"))]
        return source_args, target, "LMDB -> PostgreSQL"
    target = ["--data", os.path.join(tmp, "target"),
              "--db", os.path.join(tmp, "target-lmdb")]
    return source_args, target, "PostgreSQL -> LMDB"


def _serve(tmp, broker, db_args):
    argv = h.WRAP + [h.binary("zpost-store"), "--broker", broker.back] + db_args
    proc = h.Proc("store", argv, tmp)
    proc.wait_line(r"^zpost-store ready$")
    h.wait_store_ready(broker)
    return proc


def _folders(clients):
    """What each user sees: LIST of both folders, STATS user."""
    seen = {}
    for name, client in clients.items():
        for folder in ("inbox", "sent"):
            reply = client.expect(200, "LIST", folder, "all", "1000", "0")
            seen[(name, folder)] = h.rows(reply, 7)
        seen[(name, "stats")] = client.stats("user")
    return seen


def _server_stats(client):
    stats = client.stats("server")
    return {name: stats[name] for name in SERVER_FIGURES}


def _traffic(broker):
    """Real traffic; returns (clients by name, a second client of ann,
    bodies by message id, who can read each, (request id, fields, reply
    fields) of a recorded SEND, the largest message id)."""
    clients = {}
    for name, password in USERS.items():
        client = h.Client(broker, timeout=15.0)
        client.register(name, password)
        client.login(name, password)
        clients[name] = client
    ann2 = h.Client(broker, timeout=15.0)
    ann2.login("ann", USERS["ann"])
    bodies = {}
    plan = [("ann", "bob,cat", "hello both"), ("ann", "bob", "just bob"),
            ("bob", "ann", "re: hello"), ("cat", "ann,bob,dan", "to all"),
            ("dan", "dan", "note to self"), ("ann", "cat,dan", "third"),
            ("bob", "bob,cat", "with myself")]
    ids = []
    recorded = None
    for index, (sender, to, subject) in enumerate(plan):
        body = "body %d of %s: %s" % (index, sender, "x" * (index * 37))
        rid = "migrate-send-%d" % index
        reply = clients[sender].expect(200, "SEND", to, subject, body, request_id=rid)
        message_id = int(reply.fields[0])
        bodies[message_id] = (sender, to, subject, body)
        ids.append(message_id)
        if index == 0:
            recorded = (rid, (to, subject, body), reply.fields)
    # reads: some seen, some not
    clients["bob"].expect(200, "READ", str(ids[0]))
    clients["ann"].expect(200, "READ", str(ids[2]))
    clients["dan"].expect(200, "READ", str(ids[3]))
    # deletes: from an inbox, from a sent folder, and dan's note from both
    # his folders, which frees it
    clients["bob"].expect(200, "DELETE", "inbox", str(ids[1]))
    clients["ann"].expect(200, "DELETE", "sent", str(ids[5]))
    clients["dan"].expect(200, "DELETE", "inbox", str(ids[4]))
    clients["dan"].expect(200, "DELETE", "sent", str(ids[4]))
    del bodies[ids[4]]
    readers = {message_id: values[0] for message_id, values in bodies.items()}
    readers[ids[5]] = "cat"             # ann's copy is gone
    return clients, ann2, bodies, readers, recorded, max(ids)


def test_move_between_back_ends(tmp):
    source_args, target_args, direction = _places(tmp)
    h.log("direction: %s" % direction)
    broker = h.start_broker(tmp)
    store = _serve(tmp, broker, source_args)
    clients, ann2, bodies, readers, recorded, top_id = _traffic(broker)
    before = _folders(clients)
    server_before = _server_stats(clients["ann"])
    assert server_before["users"] == 4 and server_before["sessions"] == 5, server_before
    assert server_before["messages"] == len(bodies), server_before

    # an export beside the serving store, and one after it stopped: the same
    live_dump = os.path.join(tmp, "live.dump")
    rc, out, err = _store_cli(tmp, source_args + ["--export", live_dump])
    assert rc == 0, (rc, out, err)
    live_line = _line(out, "export")
    h.stop(store)
    dump = os.path.join(tmp, "store.dump")
    rc, out, err = _store_cli(tmp, source_args + ["--export", dump])
    assert rc == 0, (rc, out, err)
    line = _line(out, "export")
    assert line == live_line, (line, live_line)
    assert line.startswith("users 4 sessions 5 known-keys "), line
    assert " messages %d " % len(bodies) in line, line
    assert stat.S_IMODE(os.stat(dump).st_mode) == 0o600, oct(os.stat(dump).st_mode)
    rc, out, err = _store_cli(tmp, source_args + ["--digest"])
    assert rc == 0 and _line(out, "digest") == line, (rc, out, err)
    # a dump never replaces a file
    size = os.path.getsize(dump)
    rc, out, err = _store_cli(tmp, source_args + ["--export", dump])
    assert rc == 1 and "exists" in err, (rc, out, err)
    assert os.path.getsize(dump) == size

    # damaged dumps are refused and leave nothing behind
    with open(dump, "rb") as f:
        data = f.read()
    damaged = {
        "truncated": data[:len(data) * 2 // 3],
        "bit-flipped": data[:len(data) // 2] + bytes([data[len(data) // 2] ^ 0x10])
        + data[len(data) // 2 + 1:],
        "version": data[:11] + b"\x03" + data[12:],
        "not a dump": b"PGDMP" + data[5:],
    }
    words = {"truncated": "truncated", "bit-flipped": "damaged",
             "version": "format version 3", "not a dump": "not a zpost dump"}
    for kind, content in damaged.items():
        path = os.path.join(tmp, kind.replace(" ", "-") + ".dump")
        with open(path, "wb") as f:
            f.write(content)
        rc, out, err = _store_cli(tmp, target_args + ["--import", path])
        assert rc == 1, (kind, rc, out, err)
        assert words[kind] in err, (kind, err)
        assert "import verified" not in out, (kind, out)
        if h.BACKEND == "postgresql":
            # an LMDB target the failed import made is gone again
            assert not os.path.exists(os.path.join(tmp, "target-lmdb")), kind
    # "-" is not taken for a file of that name
    rc, out, err = _store_cli(tmp, source_args + ["--export", "-"])
    assert rc == 2 and "'-' is not a file" in err, (rc, out, err)
    assert not os.path.exists(os.path.join(tmp, "-"))

    # the import: verified by reading the target back
    rc, out, err = _store_cli(tmp, target_args + ["--import", dump])
    assert rc == 0, (rc, out, err)
    assert _line(out, "dump") == line and _line(out, "import") == line, (out, line)
    assert "zpost-store import verified" in out, out
    rc, out, err = _store_cli(tmp, target_args + ["--digest"])
    assert rc == 0 and _line(out, "digest") == line, (rc, out, err)
    # never into a database that holds users
    rc, out, err = _store_cli(tmp, target_args + ["--import", dump])
    assert rc == 1 and "already holds users" in err, (rc, out, err)

    # a store on the target serves what the users had
    _serve(tmp, broker, target_args)
    after = _folders(clients)           # the old tokens, on the new database
    for key in before:
        assert after[key] == before[key], (key, before[key], after[key])
    assert _server_stats(clients["ann"]) == server_before
    ann2.expect(200, "LIST", "inbox", "all", "10", "0")     # the second session too
    for message_id, (sender, to, subject, body) in bodies.items():
        reader = clients[readers[message_id]]
        reply = reader.expect(200, "READ", str(message_id))
        assert [f.decode() for f in reply.fields[1:4]] == [sender, to, subject], reply
        assert reply.fields[5].decode() == body, (message_id, reply)
    for name, password in USERS.items():
        fresh = h.Client(broker, timeout=15.0)
        fresh.login(name, password)
        fresh.expect(200, "STATS", "user")
    # the recorded reply answers its retry, and stores nothing new
    rid, fields, recorded_fields = recorded
    sent = clients["ann"].stats("user")["sent-count"]
    reply = clients["ann"].expect(200, "SEND", *fields, request_id=rid)
    assert reply.fields == recorded_fields, (reply, recorded_fields)
    assert clients["ann"].stats("user")["sent-count"] == sent
    # new ids continue above the old ones
    reply = clients["bob"].expect(200, "SEND", "ann", "after the move", "new")
    assert int(reply.fields[0]) > top_id, (reply, top_id)
    h.log("moved %s: %s" % (direction, line))


def _records(data):
    """A dump's header and its records as [(type, payload)]."""
    header, at, records = data[:16], 16, []
    while at < len(data):
        size = int.from_bytes(data[at + 1:at + 5], "big")
        records.append((data[at:at + 1], data[at + 5:at + 5 + size]))
        at += 5 + size
    return header, records


def _format_1(data, marks=None):
    """The dump as a zpost-store of format 1 wrote it (its format is in
    store_dump.c's history): 'M' without thread id and the id it answers,
    sealed again with its own digest. marks, if given, replaces the first
    folder entry's marks byte."""
    header, records = _records(data)
    assert header[8:12] == (2).to_bytes(4, "big"), header
    out = [header[:8] + (1).to_bytes(4, "big") + header[12:]]
    for kind, payload in records[:-1]:
        if kind == b"M":
            message_id = payload[:8]
            thread, answers = payload[20:28], payload[28:36]
            assert thread == message_id and answers == bytes(8), payload[:36]
            payload = payload[:20] + payload[36:]
        if kind == b"F":
            assert payload[17] in (0, 1), payload      # the traffic flags nothing
            if marks is not None:
                payload = payload[:17] + bytes([marks])
                marks = None
        out.append(kind + len(payload).to_bytes(4, "big") + payload)
    body = b"".join(out)
    trailer = records[-1][1][:56] + hashlib.blake2b(body, digest_size=32).digest()
    return body + b"Z" + len(trailer).to_bytes(4, "big") + trailer


def test_format_1_dump_imports(tmp):
    source_args, target_args, direction = _places(tmp)
    broker = h.start_broker(tmp)
    store = _serve(tmp, broker, source_args)
    clients = _traffic(broker)[0]
    before = _folders(clients)
    h.stop(store)
    dump = os.path.join(tmp, "today.dump")
    rc, out, err = _store_cli(tmp, source_args + ["--export", dump])
    assert rc == 0, (rc, out, err)
    line = _line(out, "export")
    with open(dump, "rb") as f:
        data = f.read()

    # a mark format 1 did not have (flagged) is refused, nothing written
    wrong = os.path.join(tmp, "wrong-mark.dump")
    with open(wrong, "wb") as f:
        f.write(_format_1(data, marks=2))
    rc, out, err = _store_cli(tmp, target_args + ["--import", wrong])
    assert rc == 1 and "marks it does not know" in err, (rc, out, err)

    old = os.path.join(tmp, "format-1.dump")
    with open(old, "wb") as f:
        f.write(_format_1(data))
    rc, out, err = _store_cli(tmp, target_args + ["--import", old])
    assert rc == 0, (rc, out, err)
    assert _line(out, "import") == line, (out, line)
    assert "zpost-store import verified" in out, out
    _serve(tmp, broker, target_args)
    after = _folders(clients)
    for key in before:
        assert after[key] == before[key], (key, before[key], after[key])
    h.log("format 1 dump imported, %s: %s" % (direction, line))


if __name__ == "__main__":
    h.run_tests([test_move_between_back_ends, test_format_1_dump_imports], timeout=240)
