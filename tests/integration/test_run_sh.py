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

Issue 11, item 7: a second run on the same var is refused with "already
running (pid N)" and touches none of the first run's files, which keeps
serving; a var that cannot be written gets a sentence, not a raw error.

Ports: ZPOST_PORT=0 has the broker bind any free port, and the test reads
the port back from run.sh's summary, so no parallel test can take it in
between. ZPOST_RUN_SH runs another run.sh (an old one, to show that these
checks fail there), and ZPOST_RUN_SH_PORT a fixed port for one that does
not know ZPOST_PORT=0.
"""

import os
import re
import signal
import stat
import subprocess

import harness as h
import test_shell as shell

RUN_SH = os.environ.get("ZPOST_RUN_SH") or \
    os.path.join(h.SOURCE_DIR, "scripts", "run.sh")
PORT = int(os.environ.get("ZPOST_RUN_SH_PORT") or "0")
UP_TIMEOUT = 30.0 * h.TIME_SCALE


def _env(tmp, var, port=PORT):
    env = h.client_env(tmp)
    env.update({"ZPOST_BIN_DIR": h.BIN_DIR, "ZPOST_VAR": var,
                "ZPOST_PORT": str(port)})
    return env


def _bound_port(text):
    """The front port run.sh's summary reports, or None before it."""
    m = re.search(r"zpost is running on 127\.0\.0\.1:([0-9]+)", text)
    return int(m.group(1)) if m else None


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


def _start(tmp, var):
    """run.sh --no-client on var and any free port; returns (proc, log,
    port) once its service answers a PING."""
    log = open(os.path.join(tmp, "run-sh.out"), "wb")
    proc = subprocess.Popen([RUN_SH, "--no-client"], stdin=subprocess.DEVNULL,
                            stdout=log, stderr=subprocess.STDOUT, cwd=tmp,
                            env=_env(tmp, var))
    try:
        port = h.wait_until(lambda: _bound_port(_output(tmp)) or proc.poll() is not None,
                            UP_TIMEOUT, 0.1, "run.sh to say where it runs")
        assert proc.poll() is None, "run.sh exited %r:\n%s" % (proc.returncode, _output(tmp))
        h.wait_until(lambda: _ping(tmp, var, port)[0] == 0 or proc.poll() is not None,
                     UP_TIMEOUT, 0.2, "zpost ping through run.sh's service")
        assert proc.poll() is None, "run.sh exited %r:\n%s" % (proc.returncode, _output(tmp))
    except BaseException:
        _stop(proc, var, check=False)
        log.close()
        raise
    return proc, log, port


def _output(tmp):
    with open(os.path.join(tmp, "run-sh.out"), "rb") as f:
        return f.read().decode("utf-8", "replace")


def _stop(proc, var, check=True):
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
    assert not left or not check, "left running after run.sh exited: %r" % left
    return rc


def test_run_sh_up_and_down(tmp):
    var = os.path.join(tmp, "var")
    proc, log, port = _start(tmp, var)
    try:
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
    proc, log, port = _start(tmp, var)
    try:
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
    # The blocker binds any free port, then run.sh is pointed at it
    blocker = h.start_broker(tmp, extra=["--announce", "none"])
    port = int(blocker.front.rsplit(":", 1)[1])
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
    pty = shell.Pty(tmp, [], program=[RUN_SH],
                    env={"ZPOST_BIN_DIR": h.BIN_DIR, "ZPOST_VAR": var,
                         "ZPOST_PORT": str(PORT)})
    try:
        text = pty.expect(re.compile(rb"zpost is running on 127\.0\.0\.1:[0-9]+"),
                          timeout=UP_TIMEOUT)
        port = _bound_port(text.decode("utf-8", "replace"))
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


def _snapshot(var):
    """The first run's files that a second run must leave alone."""
    files = {}
    for name in ("zpost-broker.out", "zpost-broker.log", "zpost-store.out",
                 "zpost-store.log", os.path.join("broker", "broker.key"),
                 os.path.join("broker", "broker.key_secret")):
        with open(os.path.join(var, name), "rb") as f:
            files[name] = f.read()
    return files


def test_run_sh_second_run_refused(tmp):
    """Issue 11, item 7: a second run.sh on the same var while the first
    runs says "already running (pid N)" with the first's pid, exits
    non-zero at once, and the first run's files stay as they were (logs
    may only grow, never with NUL bytes), and it goes on serving."""
    var = os.path.join(tmp, "var")
    proc, log, port = _start(tmp, var)
    try:
        before = _snapshot(var)
        assert before["zpost-broker.out"].endswith(b"zpost-broker ready\n"), before
        # The second run, on another port (0: any), so that only var is shared
        second = subprocess.run([RUN_SH, "--no-client"], stdin=subprocess.DEVNULL,
                                capture_output=True, cwd=tmp, env=_env(tmp, var),
                                timeout=60 * h.TIME_SCALE)
        err = second.stderr.decode("utf-8", "replace")
        after = _snapshot(var)
        for name, old in before.items():
            new = after[name]
            assert new.startswith(old) and b"\0" not in new, "the second run " \
                "(rc %d, %r) changed the first run's %s:\nbefore %r\nafter %r" \
                % (second.returncode, err, name, old[:200], new[:200])
        assert after["zpost-broker.out"] == before["zpost-broker.out"]
        assert second.returncode != 0, (second.returncode, err)
        assert "already running (pid %d)" % proc.pid in err, err
        # The first run is alive and serving, with every server it started
        assert proc.poll() is None, _output(tmp)
        rc, out, err, _ = _ping(tmp, var, port)
        assert rc == 0 and "pong from store" in out, (rc, out, err)
        assert len(_processes_using(var)) == 2, _processes_using(var)
    finally:
        rc = _stop(proc, var)
        log.close()
    assert rc == 0, "run.sh exited %d after SIGTERM:\n%s" % (rc, _output(tmp))


def _make_read_only(path):
    """Make the directory path read-only for this process: a mode for a
    user, an immutable flag (or a read-only bind mount) for root, whom
    modes do not stop. Returns the undo, or None if nothing works here."""
    if os.geteuid() != 0:
        os.chmod(path, 0o500)
        return lambda: os.chmod(path, 0o700)
    if subprocess.run(["chattr", "+i", path], capture_output=True).returncode == 0:
        return lambda: subprocess.run(["chattr", "-i", path], capture_output=True)
    if subprocess.run(["mount", "--bind", "-o", "ro", path, path],
                      capture_output=True).returncode == 0:
        return lambda: subprocess.run(["umount", path], capture_output=True)
    return None


def test_run_sh_read_only_var(tmp):
    """Issue 11, item 7: a var that cannot be written gets one sentence
    that names it and says what to do, exit 1, nothing started, and its
    mode left as the person set it (no chmod behind their back)."""
    var = os.path.join(tmp, "var")
    os.mkdir(var, 0o700)
    undo = _make_read_only(var)
    if undo is None:
        h.log("SKIP: cannot make a read-only directory here")
        return
    try:
        mode = stat.S_IMODE(os.stat(var).st_mode)
        proc = subprocess.run([RUN_SH, "--no-client"], stdin=subprocess.DEVNULL,
                              capture_output=True, cwd=tmp, env=_env(tmp, var),
                              timeout=60 * h.TIME_SCALE)
        err = proc.stderr.decode("utf-8", "replace")
        assert proc.returncode == 1, (proc.returncode, err)
        assert "cannot write to the state directory %s" % var in err, err
        assert "ZPOST_VAR" in err, err
        for raw in ("Permission denied", "Read-only file system",
                    "Operation not permitted", "line "):
            assert raw not in err, "a raw error instead of a sentence: %r" % err
        assert len(err.strip().splitlines()) == 1, err
        assert stat.S_IMODE(os.stat(var).st_mode) == mode, "var's mode changed"
        assert os.listdir(var) == [], os.listdir(var)
        assert not _processes_using(var)
    finally:
        undo()
        _kill_left(var)
    # One that cannot even be made: the same sentence
    parent = os.path.join(tmp, "locked")
    os.mkdir(parent, 0o700)
    undo = _make_read_only(parent)
    try:
        inner = os.path.join(parent, "var")
        proc = subprocess.run([RUN_SH, "--no-client"], stdin=subprocess.DEVNULL,
                              capture_output=True, cwd=tmp, env=_env(tmp, inner),
                              timeout=60 * h.TIME_SCALE)
        err = proc.stderr.decode("utf-8", "replace")
        assert proc.returncode == 1, (proc.returncode, err)
        assert "cannot write to the state directory %s" % inner in err, err
        assert len(err.strip().splitlines()) == 1, err
    finally:
        undo()


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
        test_run_sh_second_run_refused,
        test_run_sh_read_only_var,
    ])
