"""test_cli - the command lines of the three programs, and their key files.

--help and --version answer and exit 0; bad options exit 2 (usage); the
client explains how to give a server key when it has none; key files are
created private (secret 0600, directory 0700); a broker refuses a secret key
file that others can read, and says so.
"""

import os
import re
import stat
import subprocess
import threading

import zmq

import harness as h

PROGRAMS = ["zpost-broker", "zpost-store", "zpost"]


def _mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def test_help_and_version(tmp):
    for prog in PROGRAMS:
        for opt in ["--version", "-V"]:
            rc, out, err = h.run_program(tmp, prog, [opt], timeout=10)
            assert rc == 0, "%s %s: rc %d, stderr %r" % (prog, opt, rc, err)
            assert re.search(r"\b%s\b" % re.escape(h.VERSION), out), \
                "%s %s: no version %s on stdout: %r" % (prog, opt, h.VERSION, out)
        for opt in ["--help", "-h"]:
            rc, out, err = h.run_program(tmp, prog, [opt], timeout=10)
            assert rc == 0, "%s %s: rc %d, stderr %r" % (prog, opt, rc, err)
            assert re.search(r"usage", out, re.I) and prog in out, \
                "%s %s: no usage text on stdout: %r" % (prog, opt, out)
    # --help lists the options the plan gives each program
    wanted = {
        "zpost-broker": ["--front", "--back", "--keys", "--clients", "--stores",
                         "--timeout", "--heartbeat"],
        "zpost-store": ["--broker", "--data", "--broker-key", "--map-size",
                        "--name", "--heartbeat"],
        "zpost": ["--server", "--server-key", "--timeout", "--retries", "ping"],
    }
    for prog, options in wanted.items():
        rc, out, err = h.run_program(tmp, prog, ["--help"], timeout=10)
        missing = [o for o in options if o not in out]
        assert not missing, "%s --help does not mention %s" % (prog, missing)


def test_bad_options_exit_2(tmp):
    cases = [
        ("zpost-broker", ["--no-such-option"]),
        ("zpost-broker", ["--timeout"]),                 # missing value
        ("zpost-broker", ["--timeout", "soon"]),         # not a number
        ("zpost-store", ["--no-such-option"]),
        ("zpost-store", ["--map-size", "lots"]),
        ("zpost", ["--no-such-option", "ping"]),
        ("zpost", ["--timeout", "soon", "ping"]),
        ("zpost", ["--retries", "-1", "ping"]),
        ("zpost", ["no-such-command"]),
        ("zpost", ["ping", "--no-such-option"]),
        ("zpost", ["ping", "extra-argument"]),
    ]
    problems = []
    for prog, args in cases:
        rc, out, err = h.run_program(tmp, prog, args, timeout=10)
        if rc != 2:
            problems.append("%s %s: expected exit 2, got %d (stdout %r, stderr %r)"
                            % (prog, " ".join(args), rc, out, err))
        elif not err.strip():
            problems.append("%s %s: exit 2 but nothing on stderr" % (prog, " ".join(args)))
    assert not problems, "\n".join(problems)


def test_client_without_server_key(tmp):
    rc, out, err, _ = h.run_client(tmp, ["--server", "127.0.0.1:1", "ping"])
    assert rc != 0, "zpost ping without a server key exited 0: %r" % out
    text = out + err
    assert "--server-key" in text and "ZPOST_SERVER_KEY" in text, \
        "zpost ping without a key should say how to give one (--server-key " \
        "or ZPOST_SERVER_KEY); got rc %d, %r" % (rc, text)


def test_client_bad_server_key(tmp):
    """A key that is neither 40 Z85 characters nor a readable file."""
    rc, out, err, _ = h.run_client(tmp, ["ping"], server="127.0.0.1:1",
                                   server_key="not-a-key")
    assert rc != 0 and rc in (2, 4), "zpost with key 'not-a-key': expected " \
        "exit 2 or 4, got %d (%r, %r)" % (rc, out, err)
    assert err.strip(), "no message on stderr"


def test_client_keys_are_private(tmp):
    broker = h.start_broker(tmp)
    h.start_store(tmp, broker.back)
    h.wait_store_ready(broker)
    conf = h.client_config_dir(tmp)
    assert not os.path.exists(conf)
    rc, out, err, _ = h.run_client(tmp, ["ping"], broker=broker)
    assert rc == 0, (rc, out, err)
    public = os.path.join(conf, "client.key")
    secret = os.path.join(conf, "client.key_secret")
    assert os.path.exists(public) and os.path.exists(secret), \
        "client key pair not in %s: %r" % (conf, os.listdir(os.path.dirname(conf))
                                           if os.path.exists(os.path.dirname(conf)) else None)
    assert _mode(secret) == 0o600, "client secret key mode %o" % _mode(secret)
    assert _mode(conf) == 0o700, "client key directory mode %o" % _mode(conf)
    assert not _mode(public) & 0o022, "public key file writable by others: %o" \
        % _mode(public)
    with open(public) as f:
        before = f.read()
    # The second run uses the same pair.
    rc, out, err, _ = h.run_client(tmp, ["ping"], broker=broker)
    assert rc == 0, (rc, out, err)
    with open(public) as f:
        assert f.read() == before, "client key pair changed between runs"


def test_client_refuses_loose_secret(tmp):
    broker = h.start_broker(tmp)
    rc, out, err, _ = h.run_client(tmp, ["ping", "--broker"], broker=broker)
    assert rc == 0, (rc, out, err)
    secret = os.path.join(h.client_config_dir(tmp), "client.key_secret")
    os.chmod(secret, 0o644)
    rc, out, err, _ = h.run_client(tmp, ["ping", "--broker"], broker=broker)
    assert rc == 4, "client with a 0644 secret key: expected exit 4 (local " \
        "error), got %d (%r, %r)" % (rc, out, err)
    assert re.search(r"permission|readable|0600|mode|chmod", out + err, re.I), \
        "message does not mention permissions: %r" % (out + err)


def test_broker_keys_are_private(tmp):
    broker = h.start_broker(tmp)
    secret = os.path.join(broker.keys_dir, "broker.key_secret")
    public = os.path.join(broker.keys_dir, "broker.key")
    assert os.path.exists(secret) and os.path.exists(public), \
        os.listdir(broker.keys_dir)
    assert _mode(secret) == 0o600, "broker secret key mode %o" % _mode(secret)
    assert _mode(broker.keys_dir) == 0o700, "keys dir mode %o" % _mode(broker.keys_dir)
    with open(public) as f:
        assert broker.public_key in f.read(), \
            "printed public key is not the one in %s" % public
    h.stop(broker.proc)

    # Same keys on the next start
    again = h.start_broker(tmp, keys=broker.keys_dir)
    assert again.public_key == broker.public_key
    h.stop(again.proc)

    # A secret others can read is refused
    os.chmod(secret, 0o644)
    proc = h.start_broker(tmp, keys=broker.keys_dir, wait=False)
    try:
        rc = proc.popen.wait(timeout=10)
    except subprocess.TimeoutExpired:
        raise AssertionError("broker with a 0644 secret key is still running; "
                             "stdout %r" % proc.lines)
    proc.expected_exit = True
    assert rc != 0 and rc > 0, "broker with a 0644 secret key exited %s" % rc
    assert "zpost-broker ready" not in proc.stdout_text(), proc.lines
    log = proc.log_text() + proc.stdout_text()
    assert re.search(r"permission|readable|0600|mode|chmod", log, re.I), \
        "broker refusal does not mention permissions: %r" % log


def test_store_data_dir_is_private(tmp):
    broker = h.start_broker(tmp)
    store = h.start_store(tmp, broker.back)
    h.wait_store_ready(broker)
    assert _mode(store.data_dir) == 0o700, "data dir mode %o" % _mode(store.data_dir)


def test_lazy_pirate_resends_same_request(tmp):
    """The client against a fake server (pyzmq, CURVE) that ignores the
    first two requests: it must close, reopen and resend the same request
    (same request id) and succeed on the third try."""
    ctx = h.context()
    public, secret = zmq.curve_keypair()
    server = ctx.socket(zmq.ROUTER)
    server.linger = 0
    server.curve_server = True
    server.curve_publickey = public
    server.curve_secretkey = secret
    port = server.bind_to_random_port("tcp://127.0.0.1")
    seen = []
    done = threading.Event()

    def serve():
        while not done.is_set():
            if not server.poll(100, zmq.POLLIN):
                continue
            frames = server.recv_multipart()
            routing_id, body = frames[0], frames[2:]
            seen.append((routing_id, body))
            if len(seen) == 3:
                server.send_multipart([routing_id, b""] + body[:3] +
                                      [b"200", b"OK", b"zpost fake", b"store"])

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        rc, out, err, elapsed = h.run_client(
            tmp, ["--timeout", "500", "--retries", "3", "ping"],
            server="tcp://127.0.0.1:%d" % port, server_key=public.decode())
    finally:
        done.set()
        thread.join(5)
        server.close(linger=0)
    assert len(seen) == 3, "expected 3 tries, the server saw %d: %r" % (len(seen), seen)
    ids = set(body[2] for _, body in seen)
    assert len(ids) == 1, "retries used different request ids: %r" % ids
    assert all(body[:2] == [b"ZPOST1", b"PING"] and body[4:] == [b"store"]
               for _, body in seen), seen
    assert len(set(r for r, _ in seen)) == 3, \
        "the retries did not come from fresh sockets (same routing id)"
    assert rc == 0 and "pong from store" in out and "zpost fake" in out, \
        "rc %d, stdout %r, stderr %r" % (rc, out, err)


if __name__ == "__main__":
    h.run_tests([
        test_help_and_version,
        test_bad_options_exit_2,
        test_client_without_server_key,
        test_client_bad_server_key,
        test_client_keys_are_private,
        test_client_refuses_loose_secret,
        test_broker_keys_are_private,
        test_store_data_dir_is_private,
        test_lazy_pirate_resends_same_request,
    ])
