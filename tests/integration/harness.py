"""harness - start real zpost processes and talk to them, for integration tests.

Every integration test (tests/integration/test_*.py) is a standalone script
that ctest runs with Debian's /usr/bin/python3 (it has python3-zmq), with
ZPOST_BIN_DIR set to the build directory. This module gives those scripts:

- a temporary directory per test, removed afterwards unless ZPOST_KEEP_TMP
  is set; the client's HOME and XDG directories live inside it, so a test
  never reads or writes the keys of the person running it;
- start_broker / start_store, which launch the real programs and read their
  stdout, line by line and with a deadline, until they say they are ready
  (the lines the plan fixes: "zpost-broker ready", "zpost-store ready");
- wait_until, which polls a condition until a deadline: nothing here waits
  by sleeping a fixed time and hoping;
- a small CURVE client written with pyzmq straight from the spec
  (request = "ZPOST1" command request-id token *field; reply = "ZPOST1"
  command request-id status reason *field), so tests can send well-formed
  and malformed frames and read the raw reply;
- run_client, which runs the real `zpost` binary with a timeout;
- stop, which ends a process with SIGTERM and fails the test if it does not
  exit 0 in time: a crash or a hang on shutdown is a bug;
- run_tests, the runner every script's main calls: one fresh directory per
  test, a watchdog, logs of every process printed when a test fails, every
  process cleaned up, and a final "N passed, M failed" line;
- the store's back end under test (issue 13): ZPOST_TEST_DB=postgresql
  gives every zpost-store `--db CONNINFO` (store_db_args) on a cluster of
  this script's own (pg.py); unset or "lmdb", nothing changes. A test
  about LMDB itself carries @lmdb_only("why"): on PostgreSQL it is not
  run but reported and counted as "n/a", or runs the variant it names.

Processes are registered as they start and are stopped or killed after each
test and again at exit, whatever happens.
"""

import atexit
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import uuid

import zmq

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_DIR = os.path.dirname(os.path.dirname(HERE))
BIN_DIR = os.path.abspath(os.environ.get("ZPOST_BIN_DIR") or os.getcwd())

#  ZPOST_WRAP: a command line put in front of zpost-broker and zpost-store
#  (never the client), for instance "valgrind --leak-check=full
#  --error-exitcode=99" (scripts/valgrind.sh). ZPOST_TIME_SCALE multiplies
#  the harness's own bounds (ready, stop, watchdog) for such slow runs.
#  Unset, both change nothing.
WRAP = shlex.split(os.environ.get("ZPOST_WRAP", ""))
TIME_SCALE = float(os.environ.get("ZPOST_TIME_SCALE", "1") or "1")

#  ZPOST_TEST_DB: the store's storage back end every test runs on, "lmdb"
#  (the default) or "postgresql" (CMake registers each script once with
#  each: integration_lmdb_test_X, integration_postgresql_test_X).
BACKEND = os.environ.get("ZPOST_TEST_DB") or "lmdb"
assert BACKEND in ("lmdb", "postgresql"), \
    "ZPOST_TEST_DB=%r: expected lmdb or postgresql" % BACKEND

#  Default bounds, in seconds. Every wait in the harness has one.
READY_TIMEOUT = 15.0 * TIME_SCALE   # a program prints its ready line
STOP_TIMEOUT = 10.0 * TIME_SCALE    # a program exits after SIGTERM
REQUEST_TIMEOUT = 2.0       # one request from the pyzmq client
CLIENT_TIMEOUT = 30.0       # one run of the zpost binary
TEST_TIMEOUT = 90           # watchdog for one whole test


def _project_version():
    """The version CMakeLists.txt gives the project; every program must print it."""
    with open(os.path.join(SOURCE_DIR, "CMakeLists.txt")) as f:
        m = re.search(r"project\s*\(\s*zpost\s+VERSION\s+([0-9.]+)", f.read())
    assert m, "no project version in CMakeLists.txt"
    return m.group(1)


VERSION = _project_version()


def binary(name):
    """Path of a program in the build directory; fails if it was not built."""
    path = os.path.join(BIN_DIR, name)
    assert os.access(path, os.X_OK), "%s not found or not executable " \
        "(ZPOST_BIN_DIR=%s)" % (path, BIN_DIR)
    return path


def log(*args):
    print(*args, flush=True)


# ---------------------------------------------------------------------------
#  Temporary directories and environments

def make_tmp(name):
    """A fresh directory for one test. Kept short: ipc:// paths have a limit."""
    return tempfile.mkdtemp(prefix="zpost-%s-" % name[:20])


def remove_tmp(tmp):
    if os.environ.get("ZPOST_KEEP_TMP"):
        log("kept %s" % tmp)
    else:
        shutil.rmtree(tmp, ignore_errors=True)


def clean_env():
    """This process's environment without any ZPOST_ setting that could leak
    into a program and change what the test checks."""
    return {k: v for k, v in os.environ.items() if not k.startswith("ZPOST_")}


def client_home(tmp):
    return os.path.join(tmp, "home")


def client_env(tmp, extra=None):
    """Environment for the zpost client: HOME and the XDG directories inside
    tmp. XDG_CONFIG_HOME itself is not created: the client must make it."""
    home = client_home(tmp)
    os.makedirs(home, exist_ok=True)
    env = clean_env()
    env["HOME"] = home
    env["XDG_CONFIG_HOME"] = os.path.join(home, ".config")
    env["XDG_STATE_HOME"] = os.path.join(home, ".local", "state")
    if extra:
        env.update(extra)
    return env


def client_config_dir(tmp):
    return os.path.join(client_home(tmp), ".config", "zpost")


# ---------------------------------------------------------------------------
#  Processes

_all_procs = []         # every process started by this script
_na_parts = []          # why parts of the current test did not apply (on_lmdb)
_test_procs = []        # those started by the current test


class Proc:
    """A running program: its stdout is read by a thread into .lines (so
    the pipe never fills up), its stderr goes to a log file in tmp."""

    _counter = 0

    def __init__(self, name, argv, tmp, env=None):
        Proc._counter += 1
        self.name = name
        self.argv = argv
        self.log_path = os.path.join(tmp, "%s-%d.log" % (name, Proc._counter))
        self.lines = []             # stdout lines, without newlines
        self.eof = False            # stdout closed
        self.expected_exit = False  # the test stopped or killed it on purpose
        self._cond = threading.Condition()
        self._log = open(self.log_path, "wb")
        self.popen = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=self._log, cwd=tmp, env=env if env is not None else clean_env())
        self.pid = self.popen.pid
        _all_procs.append(self)
        _test_procs.append(self)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self):
        for raw in self.popen.stdout:
            line = raw.decode("utf-8", "replace").rstrip("\n")
            with self._cond:
                self.lines.append(line)
                self._cond.notify_all()
        with self._cond:
            self.eof = True
            self._cond.notify_all()

    def alive(self):
        return self.popen.poll() is None

    @property
    def returncode(self):
        return self.popen.poll()

    def wait_line(self, pattern, timeout=READY_TIMEOUT):
        """Wait until a stdout line matches the regex (searched from the first
        line). Returns the match; fails if the deadline passes or the program
        closes its stdout first."""
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout
        seen = 0
        with self._cond:
            while True:
                for line in self.lines[seen:]:
                    m = regex.search(line)
                    if m:
                        return m
                seen = len(self.lines)
                if self.eof:
                    self.popen.wait(timeout=STOP_TIMEOUT)
                    raise AssertionError(
                        "%s exited (rc %s) before printing /%s/; stdout: %r; "
                        "stderr:\n%s" % (self.name, self.popen.returncode,
                                         pattern, self.lines, self.log_text()))
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(
                        "%s printed no line matching /%s/ within %.1f s; "
                        "stdout: %r" % (self.name, pattern, timeout, self.lines))
                self._cond.wait(left)

    def stdout_text(self):
        with self._cond:
            return "\n".join(self.lines)

    def log_text(self):
        self._log.flush()
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def kill(self):
        """SIGKILL on purpose (a crash the test simulates)."""
        self.expected_exit = True
        if self.alive():
            self.popen.kill()
        self.popen.wait(timeout=STOP_TIMEOUT)

    def __repr__(self):
        return "<%s pid %d>" % (self.name, self.pid)


def stop(proc, timeout=STOP_TIMEOUT, sig=signal.SIGTERM, expect_rc=0):
    """Stop a program the way an operator does (SIGTERM) and check it exits
    with expect_rc before the deadline. A hang gets SIGKILL and fails."""
    proc.expected_exit = True
    was_alive = proc.alive()
    if was_alive:
        proc.popen.send_signal(sig)
    try:
        rc = proc.popen.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.popen.kill()
        proc.popen.wait(timeout=STOP_TIMEOUT)
        raise AssertionError("%s did not exit within %.1f s of %s"
                             % (proc.name, timeout, signal.Signals(sig).name))
    assert rc == expect_rc, "%s exited with %s %s, expected %s; stderr:\n%s" \
        % (proc.name, _rc_text(rc), "after " + signal.Signals(sig).name
           if was_alive else "before it was stopped (a crash?)", expect_rc,
           proc.log_text())
    return rc


def _rc_text(rc):
    if rc is not None and rc < 0:
        return "signal %s" % signal.Signals(-rc).name
    return str(rc)


def check_alive(proc):
    """Fail if the program has exited (a crash shows up here)."""
    assert proc.alive(), "%s has exited with %s; stderr:\n%s" \
        % (proc.name, _rc_text(proc.returncode), proc.log_text())


def _thread_states(pid):
    """The scheduler state letter of every thread of pid ('T' stopped)."""
    states = []
    for tid in os.listdir("/proc/%d/task" % pid):
        try:
            with open("/proc/%d/task/%s/stat" % (pid, tid)) as f:
                #  The state follows the command name, which is in
                #  parentheses and may itself hold spaces or ')'.
                states.append(f.read().rsplit(")", 1)[1].split()[0])
        except (FileNotFoundError, ProcessLookupError):
            pass                    # a thread that just ended
    return states


def freeze(proc, timeout=READY_TIMEOUT):
    """SIGSTOP proc and wait until every one of its threads has stopped.
    kill() only queues the signal: one thread takes it and then stops the
    others, and on a busy machine that thread may wait for a CPU while
    another thread goes on answering requests (seen under stress-ng: a
    PING sent after the kill got the store's 200). A test that needs the
    program still, waits for it here."""
    os.kill(proc.pid, signal.SIGSTOP)
    wait_until(lambda: all(s in ("T", "t") for s in _thread_states(proc.pid)),
               timeout, 0.01, "%s (pid %d) to stop" % (proc.name, proc.pid))


def thaw(proc):
    """SIGCONT proc (after freeze)."""
    os.kill(proc.pid, signal.SIGCONT)


def _kill_all(procs):
    for p in procs:
        if p.alive():
            try:
                p.popen.kill()
                p.popen.wait(timeout=STOP_TIMEOUT)
            except Exception:
                pass


atexit.register(lambda: _kill_all(_all_procs))


class Broker:
    """A running zpost-broker and what it printed about itself."""

    def __init__(self, proc, public_key, front, back, keys_dir, version):
        self.proc = proc
        self.public_key = public_key
        self.front = front
        self.back = back
        self.keys_dir = keys_dir
        self.version = version


class Store:
    def __init__(self, proc, data_dir):
        self.proc = proc
        self.data_dir = data_dir


def restartable_front():
    """A loopback endpoint for a broker that a test kills and starts again
    on the same address. Not "tcp://127.0.0.1:*": libzmq gives a wildcard
    bind the lowest free port from 49152 up, so the port a killed broker
    frees is the first one the next wildcard bind of any test running
    beside it takes (seen under stress: "Address already in use" on the
    restart). Ports 20000-32767 lie below that range and below the
    kernel's ephemeral ports (32768 up): nothing takes one unless asked.
    A random one, checked free by binding it, and the next one too: the
    broker's key announcement takes the front's port + 1."""
    import random
    import socket

    def free(port):
        probe = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            probe.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False
        finally:
            probe.close()
    for _ in range(100):
        port = random.randrange(20000, 32767)
        if free(port) and free(port + 1):
            return "tcp://127.0.0.1:%d" % port
    raise AssertionError("no two free ports in 20000-32767 after 100 tries")


def start_broker(tmp, back=None, extra=(), front=None, keys=None, wait=True):
    """Start zpost-broker with a loopback front and an ipc back in tmp;
    return a Broker once it printed "zpost-broker ready".

    With no front given: a free port from restartable_front, not
    "tcp://127.0.0.1:*". A wildcard bind takes the lowest free port from
    49152 up, so a broker a test kills leaves its front and announce ports
    to the next test beside it that starts one; a client trying the dead
    broker then meets another broker's key announcement there and says,
    rightly, that the key changed. If the port is taken between the probe
    and the bind, another one is tried."""
    back = back or "ipc://%s/back.ipc" % tmp
    keys = keys or os.path.join(tmp, "broker-keys")
    for attempt in range(5):
        chosen = front or restartable_front()
        argv = WRAP + [binary("zpost-broker"), "--front", chosen, "--back", back,
                       "--keys", keys] + list(extra)
        proc = Proc("broker", argv, tmp)
        if not wait:
            return proc
        try:
            proc.wait_line(r"^zpost-broker ready$")
        except AssertionError as e:
            if front or attempt == 4 or "exited" not in str(e) \
                    or "in use" not in proc.log_text():
                raise
            proc.expected_exit = True
            log("port of %s taken before the broker bound it: another" % chosen)
            continue
        return broker_of(proc, chosen, keys)


def broker_of(proc, front, keys):
    """The Broker of a zpost-broker process that has printed ready."""
    lines = proc.stdout_text()
    key = re.search(r"^zpost-broker (\S+) public key (\S+)$", lines, re.M)
    fr = re.search(r"^zpost-broker front (\S+)$", lines, re.M)
    bk = re.search(r"^zpost-broker back (\S+)$", lines, re.M)
    assert key and fr and bk, "broker stdout lacks the public key, front " \
        "or back line before ready: %r" % proc.lines
    assert len(key.group(2)) == 40, "public key %r is not 40 Z85 characters" \
        % key.group(2)
    assert re.match(r"^tcp://127\.0\.0\.1:[0-9]+$", fr.group(1)) or \
        not front.startswith("tcp://127.0.0.1:"), \
        "front %r is not a resolved loopback endpoint" % fr.group(1)
    return Broker(proc, key.group(2), fr.group(1), bk.group(1), keys,
                  key.group(1))


def store_broker_args(back_endpoint, list_form=False):
    """The --broker options for one back end (a string) or several (a list
    or tuple): each as its own --broker, or with list_form one
    comma-separated --broker."""
    if isinstance(back_endpoint, (list, tuple)):
        if list_form:
            return ["--broker", ",".join(back_endpoint)]
        args = []
        for endpoint in back_endpoint:
            args += ["--broker", endpoint]
        return args
    return ["--broker", back_endpoint]


def store_db_args(tmp, data=None):
    """The zpost-store options that choose the back end under test, for a
    store on the data directory `data` (default tmp/data): [] on LMDB;
    ["--db", CONNINFO] on PostgreSQL, where CONNINFO names a database of
    this script's cluster (started on first use) that stands for `data`:
    the same one for every store given that directory in this test, a
    fresh one for another directory or another test (pg.conninfo_for).
    Every place that starts zpost-store must add these."""
    if BACKEND == "lmdb":
        return []
    import pg
    return ["--db", pg.conninfo_for(data or os.path.join(tmp, "data"))]


def store_ready(store):
    """Note that a store (a Store) has printed ready: on PostgreSQL its
    data directory now exists, and if the test removes it later, the next
    store on that path gets a fresh database (as it gets a fresh LMDB)."""
    if BACKEND == "postgresql":
        import pg
        pg.data_dir_seen(store.data_dir)


def on_lmdb(why):
    """True on LMDB. On PostgreSQL False, and the runner reports and
    counts the part of the test it guards as not applicable, with why:
        if h.on_lmdb("map-size is LMDB's map"): assert ...map-size..."""
    if BACKEND == "lmdb":
        return True
    _na_parts.append(why)
    log("n/a (part of this test) on %s: %s" % (BACKEND, why))
    return False


def lmdb_only(why, postgresql=None):
    """Decorator for a test about LMDB itself (its map, its files, its
    reader table, the syncs of its file). On PostgreSQL, run_tests runs
    `postgresql` (a function of tmp) in its place if given, else reports
    the test as "n/a ... not applicable on postgresql: WHY" and counts it."""
    def mark(fn):
        fn.lmdb_only = why
        fn.postgresql_variant = postgresql
        return fn
    return mark


def start_store(tmp, back_endpoint, data=None, extra=(), wait=True,
                list_form=False):
    """Start zpost-store against the broker's back end, or against several
    (back_endpoint a list: one link to each, see store_broker_args);
    returns a Store once it printed "zpost-store ready" (it has sent READY
    to every broker; a broker may not have read it yet: poll a PING
    through the store for that)."""
    data = data or os.path.join(tmp, "data")
    argv = WRAP + [binary("zpost-store")] \
        + store_broker_args(back_endpoint, list_form) \
        + ["--data", data] + store_db_args(tmp, data) + list(extra)
    proc = Proc("store", argv, tmp)
    store = Store(proc, data)
    if wait:
        proc.wait_line(r"^zpost-store ready$")
        store_ready(store)
    return store


def run_client(tmp, args, broker=None, server=None, server_key=None,
               env=None, timeout=CLIENT_TIMEOUT, stdin=None):
    """Run the real zpost client; returns (rc, stdout, stderr, seconds).
    --server and --server-key come from broker unless given (pass "" to
    leave one out)."""
    argv = [binary("zpost")]
    if server is None and broker is not None:
        server = broker.front
    if server_key is None and broker is not None:
        server_key = broker.public_key
    if server:
        argv += ["--server", server]
    if server_key:
        argv += ["--server-key", server_key]
    argv += list(args)
    start = time.monotonic()
    try:
        cp = subprocess.run(argv, input=stdin, capture_output=True,
                            timeout=timeout, cwd=tmp, env=client_env(tmp, env))
    except subprocess.TimeoutExpired as e:
        raise AssertionError("%r did not finish within %.1f s; stdout %r, "
                             "stderr %r" % (argv, timeout, e.stdout, e.stderr))
    elapsed = time.monotonic() - start
    out = cp.stdout.decode("utf-8", "replace")
    err = cp.stderr.decode("utf-8", "replace")
    return cp.returncode, out, err, elapsed


def run_program(tmp, name, args, timeout=CLIENT_TIMEOUT, env=None):
    """Run any of the three programs to completion (for --help and such)."""
    argv = [binary(name)] + list(args)
    try:
        cp = subprocess.run(argv, capture_output=True, timeout=timeout,
                            cwd=tmp, env=env if env is not None else client_env(tmp),
                            stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired as e:
        raise AssertionError("%r did not finish within %.1f s; stdout %r, "
                             "stderr %r" % (argv, timeout, e.stdout, e.stderr))
    return (cp.returncode, cp.stdout.decode("utf-8", "replace"),
            cp.stderr.decode("utf-8", "replace"))


# ---------------------------------------------------------------------------
#  Polling

def fault_shim():
    """The LD_PRELOAD fault shim (tests/fault/fault.c, target zpost_fault):
    $ZPOST_FAULT_LIB, else the one built beside the programs, so that a test
    can run an older build that has none with the current shim."""
    path = os.environ.get("ZPOST_FAULT_LIB") or os.path.join(BIN_DIR,
                                                             "libzpost_fault.so")
    assert os.path.exists(path), "the fault shim %s is not built (target " \
        "zpost_fault)" % path
    return os.path.abspath(path)


def wait_until(predicate, timeout, interval=0.1, what=None):
    """Call predicate until it returns something true, or fail at the
    deadline. Returns the true value."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        last = predicate()
        if last:
            return last
        if time.monotonic() >= deadline:
            raise AssertionError("timed out after %.1f s waiting for %s "
                                 "(last value %r)" % (timeout, what or predicate, last))
        time.sleep(interval)


# ---------------------------------------------------------------------------
#  The protocol, spoken from the spec with pyzmq

SIGNATURE = b"ZPOST1"

_ctx = None


def context():
    global _ctx
    if _ctx is None:
        _ctx = zmq.Context()
    return _ctx


def new_request_id():
    return "t-" + uuid.uuid4().hex


def _b(x):
    return x if isinstance(x, bytes) else str(x).encode("utf-8")


def curve_socket(broker, socket_type=zmq.DEALER, keys=None, sndhwm=None):
    """A socket (a DEALER, for tests that pipeline requests, or a REQ)
    connected to the broker's front as a CURVE client with keys (a fresh
    pair if None). A DEALER's messages carry the empty delimiter frame a
    REQ socket adds by itself."""
    sock = context().socket(socket_type)
    sock.linger = 0
    public, secret = keys or zmq.curve_keypair()
    sock.curve_serverkey = _b(broker.public_key)
    sock.curve_publickey = public
    sock.curve_secretkey = secret
    if sndhwm is not None:
        sock.sndhwm = sndhwm
    sock.connect(broker.front)
    return sock


def request_frames(command, request_id, token="", *fields):
    """request = "ZPOST1" command request-id token *field"""
    return [SIGNATURE, _b(command), _b(request_id), _b(token)] + [_b(f) for f in fields]


class Reply:
    """reply = "ZPOST1" command request-id status reason *field"""

    def __init__(self, frames):
        self.frames = frames
        self.signature = frames[0] if len(frames) > 0 else None
        self.command = frames[1] if len(frames) > 1 else None
        self.request_id = frames[2] if len(frames) > 2 else None
        status = frames[3] if len(frames) > 3 else b""
        self.status = int(status) if re.match(rb"^[0-9]{3}$", status) else None
        self.reason = frames[4].decode("utf-8", "replace") if len(frames) > 4 else None
        self.fields = frames[5:]

    def well_formed(self):
        return (len(self.frames) >= 5 and self.signature == SIGNATURE
                and self.status is not None)

    def __repr__(self):
        return "<Reply %r>" % (self.frames,)


def send_request(endpoint, server_key, frames, security="curve", client_keys=None,
                 socket_type=zmq.REQ, send_timeout=REQUEST_TIMEOUT):
    """Send one request on a fresh socket and return the socket (the
    caller closes it). security: "curve" (needs server_key), or "null".
    The send raises zmq.Again after send_timeout s: a server that refuses
    the handshake makes libzmq drop the connecting pipe, and if that
    happens before the send (a busy machine delays this thread), the send
    would otherwise wait forever (seen in CI: a 90 s watchdog)."""
    sock = context().socket(socket_type)
    sock.linger = 0
    sock.sndtimeo = int(send_timeout * 1000)
    try:
        if security == "curve":
            public, secret = client_keys or zmq.curve_keypair()
            sock.curve_serverkey = _b(server_key)
            sock.curve_publickey = public
            sock.curve_secretkey = secret
        sock.connect(endpoint)
        frames = [_b(f) for f in frames]
        if socket_type == zmq.DEALER:
            frames = [b""] + frames
        sock.send_multipart(frames)
    except BaseException:
        sock.close(linger=0)
        raise
    return sock


def quiet_while_served(broker, socks, window=1.5, timeout=30.0, client_keys=None):
    """A check that nothing comes back, paired with its positive control.
    socks have sent requests that must get no reply. A good client's PING
    (broker), sent now, must be answered within timeout (so the broker was
    up and answering in the window, and a slow broker cannot make the
    silence look right); the window lasts until that answer and at least
    window s. Returns every message that reached socks meanwhile: the
    caller asserts it is empty."""
    start = time.monotonic()
    good = send_request(broker.front, broker.public_key,
                        request_frames("PING", "quiet-control", "", "broker"),
                        client_keys=client_keys)
    poller = zmq.Poller()
    poller.register(good, zmq.POLLIN)
    for sock in socks:
        poller.register(sock, zmq.POLLIN)
    got = []
    answered = False
    try:
        while True:
            now = time.monotonic()
            if answered and now - start >= window:
                return got
            if not answered:
                assert now - start < timeout, "the broker answered no good " \
                    "client's PING within %.0f s, so its silence to the others " \
                    "proves nothing" % timeout
                wait = start + timeout - now
            else:
                wait = start + window - now
            for sock, _ in poller.poll(int(wait * 1000) + 1):
                frames = sock.recv_multipart()
                if sock is good:
                    reply = Reply(frames)
                    assert reply.status == 200, "the control PING got %r" % reply
                    answered = True
                else:
                    got.append(frames)
    finally:
        good.close(linger=0)


def request(endpoint, server_key, frames, timeout=REQUEST_TIMEOUT,
            security="curve", client_keys=None, socket_type=zmq.REQ):
    """Send one request on a fresh socket; return the reply frames (list of
    bytes, delimiter stripped) or None if nothing came back in time.
    security: "curve" (needs server_key), or "null"."""
    try:
        sock = send_request(endpoint, server_key, frames, security, client_keys,
                            socket_type, send_timeout=timeout)
    except zmq.Again:
        return None     # refused before the request could leave: no answer
    try:
        if sock.poll(int(timeout * 1000), zmq.POLLIN):
            reply = sock.recv_multipart()
            if socket_type == zmq.DEALER and reply and reply[0] == b"":
                reply = reply[1:]
            return reply
        return None
    finally:
        sock.close(linger=0)


def call(broker, command, *fields, request_id=None, token="",
         timeout=REQUEST_TIMEOUT, **kw):
    """A well-formed request to broker; returns (request_id, Reply or None)."""
    request_id = request_id or new_request_id()
    frames = request_frames(command, request_id, token, *fields)
    reply = request(broker.front, broker.public_key, frames, timeout=timeout, **kw)
    return request_id, (Reply(reply) if reply is not None else None)


def ping(broker, target="store", timeout=REQUEST_TIMEOUT, **kw):
    """PING through the broker; returns the Reply or None."""
    return call(broker, "PING", target, timeout=timeout, **kw)[1]


def ping_status(broker, target="store", timeout=REQUEST_TIMEOUT, **kw):
    reply = ping(broker, target, timeout, **kw)
    return reply.status if reply is not None else None


def wait_store_ready(broker, timeout=15.0, **kw):
    """Poll PING target=store until it answers 200 (the store's READY has
    reached the broker)."""
    return wait_until(lambda: ping_status(broker, "store", 1.0, **kw) == 200,
                      timeout, 0.1, "PING through the store to answer 200")


class Client:
    """One client: its own CURVE key pair (a user's sessions are bound to
    it) and one REQ socket kept open across requests, so a test can send
    thousands of requests without a CURVE handshake each. A socket belongs
    to one thread; give each thread its own Client. A request that gets no
    reply in time returns None, and the socket is replaced (Lazy Pirate),
    since a REQ socket cannot send again before it receives."""

    def __init__(self, broker, keys=None, timeout=REQUEST_TIMEOUT):
        self.broker = broker
        self.keys = keys or zmq.curve_keypair()
        self.timeout = timeout
        self.token = ""             # sent with every request unless given
        self.sock = None

    def _open(self):
        sock = context().socket(zmq.REQ)
        sock.linger = 0
        sock.curve_serverkey = _b(self.broker.public_key)
        sock.curve_publickey = self.keys[0]
        sock.curve_secretkey = self.keys[1]
        sock.connect(self.broker.front)
        self.sock = sock

    def call(self, command, *fields, request_id=None, token=None, timeout=None):
        """Returns (request_id, Reply or None)."""
        if self.sock is None:
            self._open()
        request_id = request_id or new_request_id()
        token = self.token if token is None else token
        self.sock.send_multipart(request_frames(command, request_id, token, *fields))
        wait = self.timeout if timeout is None else timeout
        if self.sock.poll(int(wait * 1000), zmq.POLLIN):
            return request_id, Reply(self.sock.recv_multipart())
        self.close()
        return request_id, None

    def call_as_client(self, command, *fields, tries=5, **kw):
        """call() as the zpost client does it: a 503 (no store answered in
        time) or no reply is tried again with the same request id, after
        a pause of 100 ms doubling, up to tries times; the store's
        idempotency record makes a retried write safe. For tests whose
        point is not the broker's 503: a store whose disk sync stalls
        for seconds on a busy machine is expired by the broker, and the
        request in flight gets 503 (seen under stress-ng: test_full_map).
        Returns (request_id, the last Reply or None)."""
        request_id = kw.pop("request_id", None) or new_request_id()
        pause = 0.1
        reply = None
        for _ in range(tries):
            _, reply = self.call(command, *fields, request_id=request_id, **kw)
            if reply is not None and reply.status != 503:
                break
            time.sleep(pause)       # the client's back-off, not a wait for a server
            pause = min(pause * 2, 2.0)
        return request_id, reply

    def close(self):
        if self.sock is not None:
            self.sock.close(linger=0)
            self.sock = None

    def expect(self, status, command, *fields, **kw):
        """call(), and fail unless a reply with this status came back."""
        rid, reply = self.call(command, *fields, **kw)
        assert reply is not None, "%s %r: no reply within %.1f s" \
            % (command, fields[:2], kw.get("timeout") or self.timeout)
        assert reply.well_formed() and reply.command == _b(command) \
            and reply.request_id == _b(rid), "%s: bad reply %r" % (command, reply)
        assert reply.status == status, "%s %r: expected %d, got %r" \
            % (command, fields[:2], status, reply)
        return reply

    def register(self, name, password):
        return self.expect(200, "REGISTER", name, password)

    def login(self, name, password):
        """LOGIN and keep the token for later requests of this client."""
        reply = self.expect(200, "LOGIN", name, password)
        self.token = reply.fields[0].decode()
        return reply

    def stats(self, scope="user"):
        """STATS as a dict name -> int."""
        reply = self.expect(200, "STATS", scope)
        return {name: int(value) for name, value in rows(reply, 2)}


def rows(reply, width):
    """The rows of a LIST (width 7) or STATS (width 2) reply: each row is
    one frame, its fields separated by NUL bytes. Returns lists of str."""
    out = []
    for frame in reply.fields:
        fields = frame.split(b"\0")
        assert len(fields) == width, "a row of %d fields, not %d: %r" \
            % (len(fields), width, frame)
        out.append([f.decode() for f in fields])
    return out


def start_service(tmp, store_extra=(), broker_extra=()):
    """A broker and one store on loopback, ready to serve; returns both."""
    broker = start_broker(tmp, extra=broker_extra)
    store = start_store(tmp, broker.back, extra=store_extra)
    wait_store_ready(broker)
    return broker, store


def read_cert(path):
    """(public, secret) Z85 keys as bytes from a CZMQ certificate file;
    secret is None for a public-only file."""
    with open(path) as f:
        text = f.read()
    public = re.search(r'public-key\s*=\s*"([^"]{40})"', text)
    secret = re.search(r'secret-key\s*=\s*"([^"]{40})"', text)
    assert public, "no public-key in %s" % path
    return (public.group(1).encode(), secret.group(1).encode() if secret else None)


# ---------------------------------------------------------------------------
#  Runner

class _Watchdog(Exception):
    pass


def _on_alarm(signum, frame):
    raise _Watchdog("test took longer than its watchdog")


def _finish_procs(failed):
    """After a test: every process the test did not stop itself must still
    be running (else it crashed) and must exit 0 on SIGTERM."""
    problems = []
    for p in list(_test_procs):
        if p.expected_exit:
            continue
        if not failed and not p.alive():
            problems.append("%s exited unexpectedly with %s; stderr:\n%s"
                            % (p.name, _rc_text(p.returncode), p.log_text()))
            continue
        if p.alive():
            try:
                stop(p)
            except AssertionError as e:
                problems.append(str(e))
    _kill_all(_test_procs)
    return problems


def _finish_db(failed):
    """After a test on PostgreSQL: the next test gets fresh databases, and
    on failure the tail of the server's log is printed."""
    if "pg" not in sys.modules:
        return []
    import pg
    if failed:
        tail = pg.log_tail()
        if tail:
            log("    --- postgresql server log (tail):")
            for line in tail:
                log("      " + line)
    return pg.end_test()


def _run_one(fn, tmp, timeout):
    """fn(tmp) under the watchdog; a list of problems (empty: it passed)."""
    problems = []
    try:
        signal.alarm(int(timeout * TIME_SCALE))
        try:
            fn(tmp)
        finally:
            signal.alarm(0)
    except BaseException as e:
        if isinstance(e, KeyboardInterrupt):
            raise
        problems.append(traceback.format_exc())
    problems += _finish_procs(bool(problems))
    problems += _finish_db(bool(problems))
    return problems


#  Exit status of a script none of whose tests applies to the back end
#  under test (every one @lmdb_only on PostgreSQL). CMake does not
#  register such a script on PostgreSQL (integration_lmdb_only), and ctest
#  counts this status as a failure: a skip is never a pass.
EXIT_NOT_APPLICABLE = 77


def run_tests(tests, timeout=TEST_TIMEOUT):
    """Run each test function with a fresh tmp directory; print a summary
    and exit non-zero if any failed. A test function takes tmp. A test
    marked @lmdb_only is, on PostgreSQL, replaced by its variant or
    reported and counted as not applicable."""
    only = sys.argv[1:]
    passed = failed = not_applicable = parts = 0
    signal.signal(signal.SIGALRM, _on_alarm)
    for fn in tests:
        name = fn.__name__
        if only and name not in only:
            continue
        why = getattr(fn, "lmdb_only", None)
        body = fn
        if why and BACKEND != "lmdb":
            body = fn.postgresql_variant
            if body is None:
                not_applicable += 1
                log("n/a  %s: not applicable on %s: %s" % (name, BACKEND, why))
                continue
            log("%s is about LMDB (%s): on %s it runs %s" % (
                name, why, BACKEND, body.__name__))
        tmp = make_tmp(name)
        del _test_procs[:]
        del _na_parts[:]
        start = time.monotonic()
        log("--- %s (%s, %s)" % (name, BACKEND, tmp))
        problems = _run_one(body, tmp, timeout)
        elapsed = time.monotonic() - start
        if problems:
            failed += 1
            log("FAIL %s (%.1f s)" % (name, elapsed))
            for p in problems:
                log(p)
            for p in _test_procs:
                log("    --- %s %r rc=%s" % (p.name, p.argv, _rc_text(p.returncode)))
                log("    stdout: %r" % p.lines)
                log("    stderr (%s):" % p.log_path)
                for line in p.log_text().splitlines()[-60:]:
                    log("      " + line)
        else:
            passed += 1
            log("ok   %s (%.1f s)%s" % (name, elapsed, "; not applicable on %s "
                "in part: %s" % (BACKEND, "; ".join(_na_parts)) if _na_parts else ""))
        parts += len(_na_parts)
        remove_tmp(tmp)
    if "pg" in sys.modules:
        import pg
        for p in pg.shutdown():
            failed += 1
            log("FAIL stopping the postgresql cluster: %s" % p)
    summary = "%d passed, %d failed" % (passed, failed)
    if BACKEND != "lmdb":
        summary += ", %d not applicable on %s" % (not_applicable, BACKEND)
        if parts:
            summary += " (and %d parts of passed tests)" % parts
    log(summary + " [store back end: %s]" % BACKEND)
    if _ctx is not None:
        _ctx.destroy(linger=0)
    if failed:
        sys.exit(1)
    if passed == 0:
        sys.exit(EXIT_NOT_APPLICABLE if not_applicable else 1)
    sys.exit(0)


# ---------------------------------------------------------------------------
#  Playing the broker: a pyzmq ROUTER on the back end, speaking the link
#  protocol (ZPOST.md "The link protocol") straight to one zpost-store.

LINK_SIGNATURE = b"ZPOSTL1"


class FakeBroker:
    """A broker's back end in a thread of its own: it binds a ROUTER on an
    ipc:// endpoint in tmp, takes the store's READY, answers with HEARTBEATs
    every interval (to the routing id that last sent READY), sends REQUESTs
    with tickets it numbers itself, and keeps every REPLY by ticket. It
    records the time (monotonic) of every link message the store sends,
    so a test can measure the store's silences. Only the thread touches the
    socket; other threads hand it messages through a queue."""

    def __init__(self, tmp, heartbeat_ms=1000, name="fake-back"):
        import queue
        self.endpoint = "ipc://%s/%s.ipc" % (tmp, name)
        self.heartbeat = heartbeat_ms / 1000.0
        self._out = queue.Queue()
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self.store_id = None        # routing id of the store's last READY
        self.readies = 0            # READY messages seen
        self.capacity = None        # capacity of the last READY
        self.body_limit = None      # body-limit of the last READY, if given
        self.replies = {}           # ticket (int) -> reply frames
        self.seen = []              # monotonic time of each link message in
        self.reply_ids = {}         # ticket -> routing id it came from
        self._ticket = 0
        self._sock = context().socket(zmq.ROUTER)
        self._sock.linger = 0
        self._sock.rcvhwm = 0
        self._sock.sndhwm = 0
        self._sock.bind(self.endpoint)
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        try:
            self._loop()
        except zmq.ZMQError:
            pass                # the context went away: the script is ending
        finally:
            try:
                self._sock.close(linger=0)
            except zmq.ZMQError:
                pass

    def _loop(self):
        sock = self._sock
        next_beat = time.monotonic() + self.heartbeat
        while not self._stop.is_set():
            while True:
                try:
                    frames, copy = self._out.get_nowait()
                except Exception:
                    break
                if self.store_id is not None:
                    sock.send_multipart([self.store_id] + frames, copy=copy)
            now = time.monotonic()
            if now >= next_beat:
                if self.store_id is not None:
                    sock.send_multipart([self.store_id, LINK_SIGNATURE, b"HEARTBEAT"])
                next_beat = now + self.heartbeat
            if not sock.poll(5, zmq.POLLIN):
                continue
            while sock.poll(0, zmq.POLLIN):
                msg = sock.recv_multipart()
                self._take(msg)

    def _take(self, msg):
        now = time.monotonic()
        with self._cond:
            self.seen.append(now)
            if len(msg) >= 3 and msg[1] == LINK_SIGNATURE:
                command = msg[2]
                if command == b"READY" and len(msg) in (5, 6):
                    self.store_id = msg[0]
                    self.readies += 1
                    self.capacity = int(msg[4])
                    self.body_limit = int(msg[5]) if len(msg) == 6 else None
                elif command == b"REPLY" and len(msg) >= 4 and len(msg[3]) == 8:
                    ticket = int.from_bytes(msg[3], "big")
                    self.replies[ticket] = msg[4:]
                    self.reply_ids[ticket] = msg[0]
                elif command == b"DISCONNECT":
                    pass
            self._cond.notify_all()

    def wait_ready(self, timeout=READY_TIMEOUT):
        with self._cond:
            ok = self._cond.wait_for(lambda: self.store_id is not None, timeout)
        assert ok, "the store sent no READY within %.1f s" % timeout

    def send(self, client_key, command, *fields, request_id=None, token="",
             copy=True):
        """Forward one client request; returns (ticket, request_id). Body
        frames may be bytes shared between requests (copy=False: no copy is
        made in this process)."""
        request_id = request_id or new_request_id()
        with self._cond:
            self._ticket += 1
            ticket = self._ticket
        frames = [LINK_SIGNATURE, b"REQUEST", ticket.to_bytes(8, "big"),
                  _b(client_key)] + request_frames(command, request_id, token, *fields)
        self._out.put((frames, copy))
        return ticket, request_id

    def wait_reply(self, ticket, timeout=REQUEST_TIMEOUT * 5):
        """The Reply to a ticket, or None if none came in time."""
        with self._cond:
            self._cond.wait_for(lambda: ticket in self.replies, timeout)
            frames = self.replies.get(ticket)
        return Reply(frames) if frames is not None else None

    def call(self, client_key, command, *fields, timeout=REQUEST_TIMEOUT * 5, **kw):
        """send() then wait_reply(); returns (request_id, Reply or None)."""
        ticket, rid = self.send(client_key, command, *fields, **kw)
        return rid, self.wait_reply(ticket, timeout)

    def expect(self, status, client_key, command, *fields, **kw):
        rid, reply = self.call(client_key, command, *fields, **kw)
        assert reply is not None, "%s: no REPLY from the store" % command
        assert reply.well_formed() and reply.request_id == _b(rid), \
            "%s: bad reply %r" % (command, reply)
        assert reply.status == status, "%s %r: expected %d, got %r" \
            % (command, fields[:1], status, reply)
        return reply

    def silences(self, since=None):
        """The longest gap, in seconds, between two link messages from the
        store (or between `since` and the first), and the count seen."""
        with self._cond:
            times = [t for t in self.seen if since is None or t >= since]
        if since is not None:
            times = [since] + times
        gaps = [b - a for a, b in zip(times, times[1:])]
        return (max(gaps) if gaps else 0.0), len(times)

    def close(self):
        self._stop.set()
        self._thread.join(timeout=5)


def client_key():
    """A made-up client key (Z85 text of a fresh CURVE public key), for
    requests a FakeBroker forwards."""
    return zmq.curve_keypair()[0]


def vm_hwm(pid):
    """Peak resident set size of a process, in bytes (VmHWM from /proc)."""
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM for pid %d" % pid)


def stats_rows(reply):
    """STATS reply rows as a dict name -> int."""
    return {name: int(value) for name, value in rows(reply, 2)}
