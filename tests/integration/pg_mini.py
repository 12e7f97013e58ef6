"""pg_mini: a throw-away PostgreSQL cluster for the store's tests.

A minimal fixture, until the shared one (pg.py) lands: initdb as the
`postgres` user (initdb refuses root) in a fresh directory that user owns,
listening only on a Unix socket in that directory, started with pg_ctl -w,
one database made, and everything stopped and removed by stop() (also at
exit, should a test fail first).

    cluster = pg_mini.Cluster()         # initdb + start + createdb zpost
    cluster.conninfo                     # "host=DIR port=5432 dbname=zpost user=postgres"
    cluster.psql("SELECT 1")             # run SQL as postgres, returns stdout
    cluster.restart()                    # pg_ctl restart -m fast
    cluster.stop()
"""

import atexit
import os
import pwd
import shutil
import subprocess
import tempfile

PG_BIN = os.environ.get("ZPOST_PG_BIN", "/usr/lib/postgresql/15/bin")
OWNER = "postgres"
PORT = 5432             # a socket in a private directory: no port is shared


def _as_owner(argv, timeout=120, check=True):
    if os.geteuid() == 0:
        argv = ["runuser", "-u", OWNER, "--"] + argv
    cp = subprocess.run(argv, capture_output=True, timeout=timeout,
                        stdin=subprocess.DEVNULL)
    if check and cp.returncode != 0:
        raise AssertionError("%r failed (%d): %s %s" % (
            argv, cp.returncode, cp.stdout.decode(errors="replace"),
            cp.stderr.decode(errors="replace")))
    return cp


class Cluster:
    def __init__(self, dbname="zpost", settings=()):
        self.dir = tempfile.mkdtemp(prefix="zpost-pg-")
        if os.geteuid() == 0:
            entry = pwd.getpwnam(OWNER)
            os.chown(self.dir, entry.pw_uid, entry.pw_gid)
        os.chmod(self.dir, 0o700)
        self.data = os.path.join(self.dir, "data")
        self.dbname = dbname
        self.running = False
        atexit.register(self.stop)
        _as_owner([os.path.join(PG_BIN, "initdb"), "-D", self.data, "-A", "trust",
                   "-U", OWNER, "-E", "UTF8", "--no-locale", "--no-sync"])
        options = ["-c listen_addresses=''", "-c unix_socket_directories='%s'" % self.dir,
                   "-c port=%d" % PORT, "-c max_connections=60",
                   "-c shared_buffers=32MB"] + ["-c %s" % s for s in settings]
        self.options = " ".join(options)
        self.start()
        _as_owner([os.path.join(PG_BIN, "createdb"), "-h", self.dir, "-p", str(PORT),
                   "-U", OWNER, dbname])
        self.conninfo = self.conninfo_for(dbname)
        self.uri = "postgresql://%s@/%s?host=%s&port=%d" % (OWNER, dbname, self.dir, PORT)

    def conninfo_for(self, dbname):
        return "host=%s port=%d dbname=%s user=%s" % (self.dir, PORT, dbname, OWNER)

    def start(self):
        _as_owner([os.path.join(PG_BIN, "pg_ctl"), "-D", self.data, "-w", "-t", "60",
                   "-l", os.path.join(self.dir, "log"), "-o", self.options, "start"])
        self.running = True

    def restart(self):
        _as_owner([os.path.join(PG_BIN, "pg_ctl"), "-D", self.data, "-w", "-t", "60",
                   "-l", os.path.join(self.dir, "log"), "-m", "fast",
                   "-o", self.options, "restart"])
        self.running = True

    def halt(self):
        """Stop the server (fast), keeping its data, for start() later."""
        _as_owner([os.path.join(PG_BIN, "pg_ctl"), "-D", self.data, "-w", "-t", "60",
                   "-m", "fast", "stop"])
        self.running = False

    def psql(self, sql, dbname=None):
        cp = _as_owner(["psql", "-h", self.dir, "-p", str(PORT), "-U", OWNER,
                        "-d", dbname or self.dbname, "-v", "ON_ERROR_STOP=1",
                        "-X", "-A", "-t", "-c", sql])
        return cp.stdout.decode()

    def log(self):
        try:
            with open(os.path.join(self.dir, "log")) as f:
                return f.read()
        except OSError:
            return ""

    def stop(self):
        if self.running:
            _as_owner([os.path.join(PG_BIN, "pg_ctl"), "-D", self.data, "-w",
                       "-t", "60", "-m", "immediate", "stop"], check=False)
            self.running = False
        if self.dir and os.path.isdir(self.dir):
            shutil.rmtree(self.dir, ignore_errors=True)
        self.dir = None
