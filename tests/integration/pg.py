"""pg - a throwaway PostgreSQL cluster for the integration tests (issue 13, item 3).

When ZPOST_TEST_DB=postgresql, every zpost-store a test starts is given
`--db CONNINFO` (harness.store_db_args): this module makes the cluster
that conninfo points at. One cluster per test script (initdb costs
seconds), one fresh database per store data directory within a test, so
tests stay independent and two stores given one --data share one
database, as they share one LMDB environment on the other back end.

The cluster:
- initdb and pg_ctl from Debian's postgresql-15 (/usr/lib/postgresql/15/bin,
  or ZPOST_PG_BIN), run as the `postgres` user (runuser -u postgres) when
  this script runs as root, since initdb refuses root; as the calling user
  otherwise;
- in a fresh directory /tmp/zpost-pg-XXXX owned by that user, mode 0700:
  data/ holds the cluster, the directory itself its Unix socket, and
  postgres.log the server's log;
- no TCP at all (listen_addresses = ''): the socket in that directory is
  the only way in, and only root and its owner can open the directory, so
  local "trust" authentication lets in nobody else;
- fsync = on, synchronous_commit = on, full_page_writes = on: the store's
  durability rests on them, so the tests run with them as production does;
- started with `pg_ctl start -w -t N` (a deadline, no polling of our own);
- a login role `zpost` (not a superuser) owns every test database: the
  store creates its schema itself, as it would in a real deployment.

Stopping: stop() runs `pg_ctl stop -m fast`, then `-m immediate`, then
SIGKILL to the postmaster if it is still there, and removes the directory
(kept if ZPOST_KEEP_TMP is set). harness.run_tests calls end_test() after
every test (the next test gets fresh databases) and shutdown() at the
end; an atexit hook calls shutdown() too. If the script itself is killed
(ctest's timeout: no atexit hook runs) a guardian process does it:
started with the cluster, detached from the script's process tree, it
waits for EOF on a pipe whose only writer is the script, then stops the
cluster and removes the directory.

Missing binaries or a missing postgres user fail the test with a sentence
that says what to install: the PostgreSQL variants never skip.
"""

import atexit
import os
import pwd
import shutil
import signal
import subprocess
import sys
import tempfile
import time

PG_BIN = os.environ.get("ZPOST_PG_BIN") or "/usr/lib/postgresql/15/bin"
PORT = 5432                 # only names the socket file: no TCP listener
SUPERUSER = "postgres"      # initdb --username: the same whoever runs it
ROLE = "zpost"              # the store's role, owner of every test database
TIME_SCALE = float(os.environ.get("ZPOST_TIME_SCALE", "1") or "1")
START_TIMEOUT = int(60 * TIME_SCALE)    # pg_ctl start -w -t
STOP_TIMEOUT = int(30 * TIME_SCALE)     # pg_ctl stop -w -t, each mode
CMD_TIMEOUT = 60 * TIME_SCALE           # initdb, one psql command


def _log(*args):
    print(*args, flush=True)


def _need(path, what):
    assert os.access(path, os.X_OK), "%s not found: the PostgreSQL tests " \
        "need %s (Debian package postgresql-15; scripts/setup.sh installs it, " \
        "or set ZPOST_PG_BIN to its bin directory)" % (path, what)


def _run(argv, timeout=CMD_TIMEOUT, what=None):
    """Run a command to its end; fail with its output if it fails."""
    try:
        cp = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True,
                            timeout=timeout)
    except subprocess.TimeoutExpired as e:
        raise AssertionError("%s did not finish within %.0f s: %r %r"
                             % (what or argv[0], timeout, e.stdout, e.stderr))
    if cp.returncode != 0:
        raise AssertionError("%s failed (rc %d): %s%s" % (
            what or " ".join(argv), cp.returncode,
            cp.stdout.decode("utf-8", "replace"),
            cp.stderr.decode("utf-8", "replace")))
    return cp.stdout.decode("utf-8", "replace")


class Cluster:
    """One PostgreSQL cluster in a temporary directory. start() makes and
    starts it; stop() stops it and removes the directory, whatever state
    start() reached."""

    def __init__(self):
        for tool in ("initdb", "pg_ctl", "postgres", "psql"):
            _need(os.path.join(PG_BIN, tool), tool)
        self.as_root = os.geteuid() == 0
        if self.as_root:
            try:
                self.owner = pwd.getpwnam("postgres")
            except KeyError:
                raise AssertionError(
                    "no `postgres` user: initdb refuses root, and the tests "
                    "run it as postgres (it comes with Debian's postgresql-15; "
                    "scripts/setup.sh installs it)")
        else:
            self.owner = pwd.getpwuid(os.geteuid())
        self.dir = tempfile.mkdtemp(prefix="zpost-pg-", dir="/tmp")
        os.chmod(self.dir, 0o700)
        os.chown(self.dir, self.owner.pw_uid, self.owner.pw_gid)
        self.data = os.path.join(self.dir, "data")
        self.log_path = os.path.join(self.dir, "postgres.log")
        self.started = False
        self._guard = None
        self._databases = 0

    def _as_owner(self, argv):
        if self.as_root:
            return ["runuser", "-u", self.owner.pw_name, "--"] + argv
        return argv

    def start(self):
        t0 = time.monotonic()
        self._start_guardian()
        _run(self._as_owner([
            os.path.join(PG_BIN, "initdb"), "-D", self.data,
            "--username", SUPERUSER, "--auth-local", "trust",
            "--auth-host", "reject", "--encoding", "UTF8", "--locale", "C",
            #  The initial files need no sync of their own: a crash of the
            #  machine ends the test run anyway. The server itself syncs.
            "--no-sync"]), what="initdb")
        with open(os.path.join(self.data, "postgresql.conf"), "a") as f:
            f.write("\n# zpost tests (tests/integration/pg.py)\n"
                    "listen_addresses = ''\n"
                    "unix_socket_directories = '%s'\n"
                    "unix_socket_permissions = 0700\n"
                    "port = %d\n"
                    "fsync = on\n"
                    "synchronous_commit = on\n"
                    "full_page_writes = on\n"
                    "shared_buffers = 32MB\n"
                    "max_connections = 100\n"
                    "log_min_messages = warning\n"
                    "log_line_prefix = '%%m [%%p] %%d '\n" % (self.dir, PORT))
        _run(self._as_owner([
            os.path.join(PG_BIN, "pg_ctl"), "-D", self.data, "-l", self.log_path,
            "-w", "-t", str(START_TIMEOUT), "start"]),
            timeout=START_TIMEOUT + 10, what="pg_ctl start")
        self.sql("CREATE ROLE %s LOGIN" % ROLE)
        self.started = True
        _log("postgresql cluster %s ready in %.1f s (socket only, fsync on, "
             "synchronous_commit on)" % (self.dir, time.monotonic() - t0))

    def _start_guardian(self):
        """A process outside our tree that stops the cluster if this script
        dies without doing it (SIGKILL from ctest's timeout)."""
        r, w = os.pipe()
        try:
            subprocess.Popen(
                [sys.executable, os.path.abspath(__file__), "--guard", self.dir],
                stdin=r, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                start_new_session=True).wait(timeout=CMD_TIMEOUT)
        finally:
            os.close(r)
        self._guard = w         # never inherited: os.pipe fds are not

    def _pg_ctl(self, *args):
        _run(self._as_owner([os.path.join(PG_BIN, "pg_ctl"), "-D", self.data,
                             "-l", self.log_path, "-w", "-t", str(START_TIMEOUT)]
                            + list(args)),
             timeout=START_TIMEOUT + 10, what="pg_ctl " + " ".join(args))

    def halt(self):
        """Stop the server (fast), keeping its data: the database is gone
        for the stores until resume()."""
        self._pg_ctl("-m", "fast", "stop")

    def resume(self):
        """Start the server again after halt()."""
        self._pg_ctl("start")

    def restart(self):
        """Restart the server (fast): every connection is cut."""
        self._pg_ctl("-m", "fast", "restart")

    def conninfo(self, dbname, user=ROLE):
        """A libpq conninfo string for one database of this cluster."""
        return "host=%s port=%d dbname=%s user=%s" % (self.dir, PORT, dbname, user)

    def sql(self, statement, dbname="postgres"):
        """Run one statement as the superuser; returns psql's output
        (unaligned, tuples only)."""
        return _run([os.path.join(PG_BIN, "psql"), "-X", "-q", "-A", "-t",
                     "-v", "ON_ERROR_STOP=1",
                     "-d", self.conninfo(dbname, SUPERUSER), "-c", statement],
                    what="psql %r" % statement)

    def create_database(self, prefix="zt"):
        """A fresh, empty database owned by the store's role; its name."""
        self._databases += 1
        name = "%s%d" % (prefix, self._databases)
        self.sql("CREATE DATABASE %s OWNER %s TEMPLATE template0" % (name, ROLE))
        return name

    def drop_database(self, name):
        self.sql("DROP DATABASE IF EXISTS %s WITH (FORCE)" % name)

    def _postmaster_pid(self):
        try:
            with open(os.path.join(self.data, "postmaster.pid")) as f:
                return int(f.readline())
        except (OSError, ValueError):
            return None

    def log_tail(self, lines=40):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace").splitlines()[-lines:]
        except OSError:
            return []

    def stop(self):
        """Stop the server (fast, then immediate, then SIGKILL) and remove
        the directory. Returns a list of problems (empty if it stopped
        cleanly with fast)."""
        problems = []
        pid = self._postmaster_pid()
        if pid is not None:
            for mode in ("fast", "immediate"):
                try:
                    _run(self._as_owner([
                        os.path.join(PG_BIN, "pg_ctl"), "-D", self.data, "-w",
                        "-t", str(STOP_TIMEOUT), "-m", mode, "stop"]),
                        timeout=STOP_TIMEOUT + 10, what="pg_ctl stop -m " + mode)
                    break
                except AssertionError as e:
                    problems.append(str(e))
            #  pg_ctl -w returns once postmaster.pid is gone, which the
            #  postmaster removes just before it exits: give it a moment
            deadline = time.monotonic() + STOP_TIMEOUT
            while _alive(pid) and time.monotonic() < deadline:
                time.sleep(0.05)
            if _alive(pid):
                problems.append("postmaster %d still there %d s after pg_ctl "
                                "stop: SIGKILL" % (pid, STOP_TIMEOUT))
                _kill(pid)
        self.started = False
        if os.environ.get("ZPOST_KEEP_TMP"):
            _log("kept %s" % self.dir)
        else:
            shutil.rmtree(self.dir, ignore_errors=True)
        if self._guard is not None:
            os.close(self._guard)   # the guardian wakes, finds nothing, exits
            self._guard = None
        return problems


def _alive(pid):
    """True if the process exists and is not a zombie: the postmaster is
    reparented to pid 1 once pg_ctl has exited, and here pid 1 may take
    its time to reap it."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


def _kill(pid):
    try:
        os.kill(pid, signal.SIGKILL)
    except OSError:
        pass


# ---------------------------------------------------------------------------
#  The cluster of this script, and a database per store data directory

_cluster = None
_dbs = {}       # realpath of a --data directory -> [dbname, (st_dev, st_ino) or None]


def cluster():
    """This script's cluster, started on first use."""
    global _cluster
    if _cluster is not None and not _cluster.started:
        #  A start cut short (the watchdog fired in it): clear it away
        for problem in _cluster.stop():
            _log("postgresql: clearing a half-started cluster: %s" % problem)
        _cluster = None
    if _cluster is None:
        _cluster = Cluster()        # set before start(): stop() cleans up
        _cluster.start()            # whatever start() got to
    return _cluster


def _inode(path):
    try:
        st = os.stat(path)
        return (st.st_dev, st.st_ino)
    except OSError:
        return None


def conninfo_for(data):
    """The conninfo of the database that stands for the store data directory
    `data` in this test: made on first use; the same for every later store
    given the same directory (a restart finds its data, two stores share
    it); a new one if the directory was seen and has since been removed or
    replaced (a new store, as a new LMDB environment would be)."""
    c = cluster()
    key = os.path.realpath(data)
    entry = _dbs.get(key)
    now = _inode(key)
    if entry is not None and entry[1] is not None and entry[1] != now:
        _log("postgresql: %s was removed or replaced: a fresh database for it" % data)
        c.drop_database(entry[0])
        entry = None
    if entry is None:
        entry = [c.create_database(), now]
        _dbs[key] = entry
    elif entry[1] is None:
        entry[1] = now
    return c.conninfo(entry[0])


def data_dir_seen(data):
    """Record the data directory a store has made (called once it is ready),
    so that its later removal means a fresh database."""
    entry = _dbs.get(os.path.realpath(data))
    if entry is not None and entry[1] is None:
        entry[1] = _inode(os.path.realpath(data))


def database_of(data):
    """The name of the database that stands for a store data directory."""
    entry = _dbs.get(os.path.realpath(data))
    assert entry is not None, "no store was started on %s in this test" % data
    return entry[0]


def dump(data):
    """pg_dump (plain SQL, data and schema) of the database of the store
    data directory `data`, as bytes: what a store keeps, for tests that
    look for what must or must not be in it."""
    c = cluster()
    _need(os.path.join(PG_BIN, "pg_dump"), "pg_dump")
    cp = subprocess.run([os.path.join(PG_BIN, "pg_dump"), "--no-owner",
                         "-d", c.conninfo(database_of(data), SUPERUSER)],
                        stdin=subprocess.DEVNULL, capture_output=True,
                        timeout=CMD_TIMEOUT)
    assert cp.returncode == 0, "pg_dump failed: %s" % cp.stderr.decode(
        "utf-8", "replace")
    return cp.stdout


def cluster_files():
    """Every file of the cluster's data directory (heap, indexes, WAL), as
    {relative path: bytes}: where anything ever written still lies."""
    c = cluster()
    out = {}
    for root, _, names in os.walk(c.data):
        for name in names:
            path = os.path.join(root, name)
            try:
                with open(path, "rb") as f:
                    out[os.path.relpath(path, c.data)] = f.read()
            except OSError:
                pass        # a file removed meanwhile (a WAL segment recycled)
    return out


def end_test():
    """After each test: forget its databases, so the next test gets fresh
    ones. They are not dropped: DROP DATABASE waits for a checkpoint (about
    a second with fsync on, for each), and they go with the cluster at the
    end of the script (a few MB each)."""
    _dbs.clear()
    return []


def log_tail(lines=40):
    return _cluster.log_tail(lines) if _cluster is not None else []


def shutdown():
    """Stop this script's cluster, if it was started; returns problems."""
    global _cluster
    if _cluster is None:
        return []
    c, _cluster = _cluster, None
    return c.stop()


atexit.register(shutdown)


# ---------------------------------------------------------------------------
#  The guardian: python3 pg.py --guard DIR

def _guard(directory):
    if os.fork() != 0:
        os._exit(0)         # the script waits for this one; the child lives on
    os.setsid()
    try:
        while os.read(0, 4096):
            pass
    except OSError:
        pass
    if not os.path.isdir(directory):
        return
    data = os.path.join(directory, "data")
    try:
        with open(os.path.join(data, "postmaster.pid")) as f:
            pid = int(f.readline())
    except (OSError, ValueError):
        pid = None
    if pid is not None and _alive(pid):
        st = os.stat(directory)
        argv = [os.path.join(PG_BIN, "pg_ctl"), "-D", data, "-w", "-t", "20",
                "-m", "immediate", "stop"]
        if os.geteuid() == 0 and st.st_uid != 0:
            argv = ["runuser", "-u", pwd.getpwuid(st.st_uid).pw_name, "--"] + argv
        subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, timeout=60)
        if _alive(pid):
            _kill(pid)
    shutil.rmtree(directory, ignore_errors=True)


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--guard":
        _guard(sys.argv[2])
    else:
        sys.exit("usage: pg.py --guard DIR (started by the tests themselves)")
