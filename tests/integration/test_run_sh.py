"""test_run_sh - scripts/run.sh, the README's first command, driven without
a person (issue 5, item 6).

`scripts/run.sh --no-client` with ZPOST_BIN_DIR (the build under test, so
nothing is installed or rebuilt), ZPOST_VAR (a scratch state directory) and
ZPOST_PORT (a free port) must bring the service up, so that `zpost ping`
answers through the store with the key run.sh made, print how to connect,
and on SIGTERM stop every process it started, exit 0, and leave its keys
and data for the next run, which serves the same mail.

The guided mode (run.sh without --no-client) is driven through a
pseudo-terminal: leaving the session stops the servers.
"""

import os
import re
import signal
import subprocess
import time

import harness as h
import test_shell as shell

RUN_SH = os.path.join(h.SOURCE_DIR, "scripts", "run.sh")
UP_TIMEOUT = 30.0


def _env(tmp, var, port):
    env = h.client_env(tmp)
    env.update({"ZPOST_BIN_DIR": h.BIN_DIR, "ZPOST_VAR": var,
                "ZPOST_PORT": str(port)})
    return env


def _processes_using(path):
    """Pids of live processes whose command line mentions path."""
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % pid, "rb") as f:
                cmdline = f.read().replace(b"\0", b" ")
            with open("/proc/%s/stat" % pid) as f:
                state = f.read().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if path.encode() in cmdline and state != "Z":
            found.append(int(pid))
    return found


def _kill_left(var):
    """After a failure: what run.sh started must not outlive the test."""
    for pid in _processes_using(var):
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass


def _ping(tmp, var, port):
    return h.run_client(tmp, ["--timeout", "500", "--retries", "1", "ping"],
                        server="127.0.0.1:%d" % port,
                        server_key=os.path.join(var, "broker", "broker.key"),
                        timeout=10)


def _start(tmp, var, port):
    log = open(os.path.join(tmp, "run-sh.out"), "wb")
    proc = subprocess.Popen([RUN_SH, "--no-client"], stdin=subprocess.DEVNULL,
                            stdout=log, stderr=subprocess.STDOUT, cwd=tmp,
                            env=_env(tmp, var, port))
    return proc, log


def _output(tmp):
    with open(os.path.join(tmp, "run-sh.out"), "rb") as f:
        return f.read().decode("utf-8", "replace")


def _stop(proc, var):
    proc.send_signal(signal.SIGTERM)
    try:
        rc = proc.wait(20)
    except subprocess.TimeoutExpired:
        proc.kill()
        _kill_left(var)
        raise AssertionError("run.sh did not stop within 20 s of SIGTERM")
    #  run.sh waits for what it started before it exits
    left = _processes_using(var)
    _kill_left(var)
    assert not left, "left running after run.sh exited: %r" % left
    return rc


def test_run_sh_up_and_down(tmp):
    var = os.path.join(tmp, "var")
    port = shell._free_port()
    proc, log = _start(tmp, var, port)
    try:
        h.wait_until(lambda: _ping(tmp, var, port)[0] == 0 or proc.poll() is not None,
                     UP_TIMEOUT, 0.2, "zpost ping through run.sh's service")
        assert proc.poll() is None, "run.sh exited %r:\n%s" % (proc.returncode, _output(tmp))
        rc, out, err, _ = _ping(tmp, var, port)
        assert rc == 0 and "pong from store" in out, (rc, out, err)
        text = h.wait_until(lambda: "Stop with Ctrl-C" in _output(tmp) and _output(tmp),
                            10, what="run.sh to say how to connect")
        assert "--server 127.0.0.1:%d --server-key %s/broker/broker.key" % (port, var) \
            in text, text
        assert re.search(r"fingerprint  (?:[0-9a-f]{8} ){7}[0-9a-f]{8}", text), text
        assert len(_processes_using(var)) == 2, _processes_using(var)

        # Someone uses it: an account and a message, kept across runs
        c = h.Client(_Front(port, var), timeout=5)
        c.register("keeper", "password-1")
        c.login("keeper", "password-1")
        c.expect(200, "SEND", "keeper", "kept", "across runs")
    finally:
        rc = _stop(proc, var)
        log.close()
    assert rc == 0, "run.sh exited %d after SIGTERM:\n%s" % (rc, _output(tmp))
    assert os.path.exists(os.path.join(var, "broker", "broker.key_secret"))
    assert os.stat(var).st_mode & 0o077 == 0, "var is open to others"

    # Again, on the same var: the same key, the same mail
    proc, log = _start(tmp, var, port)
    try:
        h.wait_until(lambda: _ping(tmp, var, port)[0] == 0 or proc.poll() is not None,
                     UP_TIMEOUT, 0.2, "the second run to answer")
        c = h.Client(_Front(port, var), timeout=5)
        c.login("keeper", "password-1")
        assert c.stats()["inbox-count"] == 1
    finally:
        rc = _stop(proc, var)
        log.close()
    assert rc == 0, _output(tmp)


def test_run_sh_port_taken(tmp):
    """A port in use: run.sh says why it cannot start, exits 1, and leaves
    nothing behind."""
    var = os.path.join(tmp, "var")
    port = shell._free_port()
    blocker = h.start_broker(tmp, front="tcp://127.0.0.1:%d" % port,
                             extra=["--announce", "none"])
    proc = subprocess.run([RUN_SH, "--no-client"], stdin=subprocess.DEVNULL,
                          capture_output=True, cwd=tmp, env=_env(tmp, var, port),
                          timeout=60)
    err = proc.stderr.decode()
    assert proc.returncode == 1, (proc.returncode, err)
    assert "zpost-broker stopped before it was ready" in err, err
    assert not _processes_using(var)
    h.check_alive(blocker.proc)


def test_run_sh_session(tmp):
    """Without --no-client: the guided session opens, with the key run.sh
    made (no question about trusting it), and leaving it stops the servers."""
    var = os.path.join(tmp, "var")
    port = shell._free_port()
    pty = shell.Pty(tmp, [], program=[RUN_SH],
                    env={"ZPOST_BIN_DIR": h.BIN_DIR, "ZPOST_VAR": var,
                         "ZPOST_PORT": str(port)})
    try:
        pty.expect(b"Connected to 127.0.0.1:%d" % port, timeout=UP_TIMEOUT)
        assert b"Trust this server" not in pty.output
        assert len(_processes_using(var)) >= 2
        shell._menu(pty)
        # A Ctrl-C is the session's, not the servers'
        pty.send(b"\x03")
        shell._menu(pty)
        rc, out, err, _ = _ping(tmp, var, port)
        assert rc == 0, (rc, out, err)
        pty.line("3")
        pty.expect(b"Goodbye.")
        assert pty.wait(20) == 0
    finally:
        pty.close()
        try:
            h.wait_until(lambda: not _processes_using(var), 10, 0.1,
                         "the servers to stop with the session")
        finally:
            _kill_left(var)


class _Front:
    """What harness.Client needs of a broker: its front and public key."""

    def __init__(self, port, var):
        self.front = "tcp://127.0.0.1:%d" % port
        self.public_key = h.read_cert(os.path.join(var, "broker", "broker.key"))[0]


if __name__ == "__main__":
    h.run_tests([
        test_run_sh_up_and_down,
        test_run_sh_port_taken,
        test_run_sh_session,
    ])
