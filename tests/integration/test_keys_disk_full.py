"""test_keys_disk_full - a full disk never leaves an empty key or state file
(issue 11, item 6).

The programs run with the LD_PRELOAD shim libzpost_fault.so (tests/fault/
fault.c; ZPOST_FAULT_LIB may name it, else it is taken from ZPOST_BIN_DIR):
while the file named by ZPOST_FAULT_FILE holds "nospace", every write to a
regular file fails with ENOSPC (stdio flushes too); a second line, if any,
is an fnmatch pattern that limits the fault to the files it matches.

- A broker's first start on a full disk stops with a sentence that says
  the disk is full, and leaves no file in its keys directory (on ed85c0f
  it left 0-byte broker.key and broker.key_secret and ran with a key no
  later start could read). The next start, with room, makes the pair and
  runs; the start after that has the same key.
- The client's first run on a full disk says so and leaves no client.key;
  the next run works. A login whose session file cannot be written says
  so and leaves no session file; the next login works.
"""

import os

import harness as h

PASSWORD = "correct horse"


def _full_env(tmp, match=None):
    fault = os.path.join(tmp, "disk-full")
    with open(fault, "w") as f:
        f.write("nospace\n" + (match + "\n" if match else ""))
    return {"LD_PRELOAD": h.fault_shim(), "ZPOST_FAULT_FILE": fault}


def _files(top):
    """Every file under top, hidden ones too, with its size."""
    found = {}
    for dirpath, _, names in os.walk(top):
        for name in names:
            path = os.path.join(dirpath, name)
            found[os.path.relpath(path, top)] = os.path.getsize(path)
    return found


def test_broker_first_start_on_a_full_disk(tmp):
    keys = os.path.join(tmp, "broker-keys")
    argv = h.WRAP + [h.binary("zpost-broker"), "--front", "tcp://127.0.0.1:*",
                     "--back", "ipc://%s/back.ipc" % tmp, "--keys", keys]
    env = h.clean_env()
    env.update(_full_env(tmp))
    proc = h.Proc("broker", argv, tmp, env=env)
    # It must stop, not run: wait for either
    h.wait_until(lambda: not proc.alive() or "zpost-broker ready" in proc.lines,
                 h.READY_TIMEOUT, 0.05, "the broker to stop or start")
    if proc.alive():
        proc.kill()
        raise AssertionError("the broker ran with a disk it could not write its "
                             "keys to; its keys: %r" % _files(keys))
    proc.expected_exit = True
    assert proc.returncode != 0, proc.returncode
    log = proc.log_text()
    h.log(log.strip())
    assert "the disk is full" in log, log
    left = _files(keys) if os.path.isdir(keys) else {}
    assert not left, "files left in the keys directory: %r" % left

    # With room again: a key pair, and the same one the next time
    broker = h.start_broker(tmp, keys=keys)
    h.stop(broker.proc)
    again = h.start_broker(tmp, keys=keys)
    assert again.public_key == broker.public_key
    assert all(size > 0 for size in _files(keys).values()), _files(keys)


def test_client_files_on_a_full_disk(tmp):
    broker = h.start_broker(tmp)
    h.start_store(tmp, broker.back)
    h.wait_store_ready(broker)
    h.Client(broker, timeout=5).register("alice", PASSWORD)
    config = h.client_config_dir(tmp)
    state = os.path.join(h.client_home(tmp), ".local", "state")

    # The first run makes client.key: the disk is full
    rc, out, err, _ = h.run_client(tmp, ["ping"], broker=broker, env=_full_env(tmp))
    h.log("first run on a full disk: rc %d, %s" % (rc, err.strip()))
    assert rc != 0, (rc, out, err)
    assert "the disk is full" in err, err
    left = {k: v for k, v in _files(config).items() if v == 0} \
        if os.path.isdir(config) else {}
    assert not left, "empty files left: %r" % left
    rc, out, err, _ = h.run_client(tmp, ["ping"], broker=broker)
    assert rc == 0 and "pong from store" in out, (rc, out, err)

    # The session file of a login cannot be written
    env = dict(_full_env(tmp, "*.session*"), ZPOST_PASSWORD=PASSWORD)
    rc, out, err, _ = h.run_client(tmp, ["login", "alice"], broker=broker, env=env)
    h.log("login on a full disk: rc %d, %s" % (rc, err.strip()))
    assert rc != 0, (rc, out, err)
    assert "the disk is full" in err, err
    sessions = {k: v for k, v in _files(state).items() if "session" in k} \
        if os.path.isdir(state) else {}
    assert not sessions, "session files left: %r" % sessions
    rc, out, err, _ = h.run_client(tmp, ["login", "alice"], broker=broker,
                                   env={"ZPOST_PASSWORD": PASSWORD})
    assert rc == 0, (rc, out, err)
    rc, out, err, _ = h.run_client(tmp, ["list"], broker=broker)
    assert rc == 0, (rc, out, err)


if __name__ == "__main__":
    h.run_tests([
        test_broker_first_start_on_a_full_disk,
        test_client_files_on_a_full_disk,
    ])
