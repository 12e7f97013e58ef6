"""pg_hosts - PostgreSQL servers and zpost stores on namespace test hosts
(issue 13, items 4 and 5).

The tests of hosts.py share one PostgreSQL cluster over a Unix socket;
these build the database the way a deployment does, on hosts of their
own, and reach it over TCP from the store hosts:

  PlainDb        one PostgreSQL on a database host: initdb and pg_ctl as
                 the postgres user (runuser), listening on the host's
                 address only, trust for the test net's /24 and nothing
                 else, its socket in its own directory.
  AutoFailover   pg_auto_failover 2.0 (Debian's pg-auto-failover-cli and
                 postgresql-15-auto-failover): a monitor host and two data
                 nodes, primary and synchronous standby, with the timeouts
                 of docs/notes/pg-failover.md (a lost primary's host is
                 replaced in about 10 s, and the cut-off primary stops
                 before its standby is promoted).
  start_zpost    broker hosts b1..bN and store hosts s1..sN, every store
                 linked to every broker and given --db CONNINFO; the client
                 host; a hosts.Topology for hosts.run_load.

Every PostgreSQL program runs as `postgres` (initdb refuses root) in a
directory of its own under /tmp owned by postgres, removed at exit.
pg_auto_failover keeps its state under HOME and the XDG directories,
keyed by PGDATA: each node gets its own. The nodes' Unix sockets are in
/var/run/postgresql, one directory for every namespace, so each node has
its own port, chosen per run among ports with no socket there.

Teardown: postmasters and keepers are no harness Proc of their own (pg_ctl
leaves the postmaster running; pg_autoctl starts postgres under it), so
the TestNet deletes each namespace only after SIGKILLing every process in
it (hosts.kill_ns); the directories go at exit. A host is "lost" with
lose_host: its link down and every process in it killed at once, as a
machine that dies; killing postgres alone is a crash that the keeper
repairs within seconds, not the loss of a machine.
"""

import atexit
import glob
import json
import os
import pwd
import re
import shutil
import signal
import tempfile
import time

import harness as h
import hosts

PG_BIN = os.environ.get("ZPOST_PG_BIN") or "/usr/lib/postgresql/15/bin"
PG_AUTOCTL = shutil.which("pg_autoctl") or "/usr/bin/pg_autoctl"
SOCKETS = "/var/run/postgresql"
DBNAME = "zpost"
ROLE = "zpost"

#  What a store on these hosts adds to its conninfo: a lost host must cost
#  seconds, not TCP's minutes of retransmission (docs/notes/pg-failover.md,
#  pitfall 3)
BOUNDS = ("connect_timeout=2 tcp_user_timeout=3000 keepalives=1 "
          "keepalives_idle=2 keepalives_interval=1 keepalives_count=2")

#  docs/notes/pg-failover.md: the monitor's (ALTER SYSTEM in database
#  pg_auto_failover) and the keepers' (pg_autoctl config set) timeouts
MONITOR_TUNING = (("health_check_period", "1000"), ("health_check_timeout", "1000"),
                  ("health_check_max_retries", "1"), ("health_check_retry_delay", "500"),
                  ("node_considered_unhealthy_timeout", "3000"),
                  ("startup_grace_period", "3000"), ("primary_demote_timeout", "5000"))
KEEPER_TUNING = (("timeout.network_partition_timeout", "3"),
                 ("timeout.prepare_promotion_catchup", "5"),
                 ("timeout.prepare_promotion_walreceiver", "2"),
                 ("timeout.postgresql_restart_failure_timeout", "5"))
#  An isolated primary stops once its walsender gives up on the standby:
#  2 s + network_partition_timeout, well before the monitor promotes
NODE_TUNING = (("wal_sender_timeout", "'2s'"), ("wal_receiver_timeout", "'2s'"))


def require():
    """Fail with a sentence that says what to install, unless PostgreSQL
    and pg_auto_failover are here (the tests never skip)."""
    for tool in ("initdb", "pg_ctl", "postgres", "psql"):
        assert os.access(os.path.join(PG_BIN, tool), os.X_OK), \
            "%s not found: install postgresql-15 (scripts/setup.sh does)" % tool
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        raise AssertionError("no `postgres` user (it comes with postgresql-15)")


def require_auto_failover():
    require()
    assert os.access(PG_AUTOCTL, os.X_OK) and os.path.exists(
        "/usr/share/postgresql/15/extension/pgautofailover.control"), \
        "pg_auto_failover is not installed: the failover test needs Debian's " \
        "pg-auto-failover-cli and postgresql-15-auto-failover (scripts/setup.sh " \
        "installs them)"


_dirs = []


def _cleanup_dirs():
    for d in _dirs:
        if os.environ.get("ZPOST_KEEP_TMP"):
            h.log("kept %s" % d)
        else:
            shutil.rmtree(d, ignore_errors=True)


atexit.register(_cleanup_dirs)


def pg_dir(prefix):
    """A fresh directory under /tmp that the postgres user owns."""
    d = tempfile.mkdtemp(prefix=prefix, dir="/tmp")
    _dirs.append(d)
    os.chmod(d, 0o755)
    shutil.chown(d, "postgres", "postgres")
    return d


def free_ports(count):
    """count consecutive ports with no PostgreSQL socket in /var/run/postgresql
    (every namespace shares that directory), starting at a place that
    depends on this run's pid, so two runs at once do not meet."""
    port = 16000 + (os.getpid() * 7) % 8000
    while True:
        block = list(range(port, port + count))
        if not any(glob.glob("%s/.s.PGSQL.%d*" % (SOCKETS, p)) for p in block):
            return block
        port += count


def as_postgres(argv, env=None):
    """argv run as postgres (runuser), with env (a dict) set."""
    pre = ["runuser", "-u", "postgres", "--", "env"]
    for k, v in sorted((env or {}).items()):
        pre.append("%s=%s" % (k, v))
    return pre + list(argv)


def psql(host, conninfo, sql, timeout=15.0):
    """Run SQL with psql as postgres inside host; (rc, output)."""
    try:
        cp = host.run(as_postgres([os.path.join(PG_BIN, "psql"), "-X", "-A", "-t",
                                   "-q", "-v", "ON_ERROR_STOP=1", "-d", conninfo,
                                   "-c", sql]), check=False, timeout=timeout)
    except AssertionError as e:
        return -1, str(e)
    return cp.returncode, (cp.stdout.decode("utf-8", "replace")
                           + cp.stderr.decode("utf-8", "replace")).strip()


def psql_ok(host, conninfo, sql, timeout=15.0):
    rc, out = psql(host, conninfo, sql, timeout)
    assert rc == 0, "psql %r on %s failed (rc %d): %s" % (sql, host.name, rc, out)
    return out


def lose_host(host):
    """The machine is lost: its link goes down and every process in it is
    killed at once (no FIN, no RST reaches its peers; nothing there keeps
    running). Returns the time.monotonic() of the loss."""
    host.link_down()
    at = time.monotonic()
    for p in host.procs:
        p.expected_exit = True
    hosts.kill_ns(host.ns)
    return at


# ---------------------------------------------------------------------------
#  One PostgreSQL on one host

class PlainDb:
    """initdb and pg_ctl start on `host`, as postgres: listening on the
    host's address, port 5432, trust for net's /24 only; a role zpost
    owning database zpost, where the stores make their schema."""

    PORT = 5432

    def __init__(self, host):
        require()
        self.host = host
        self.dir = pg_dir("zpost-pgdb-")
        self.data = os.path.join(self.dir, "data")
        self.log_path = os.path.join(self.dir, "postgres.log")
        subnet = "%s.%d.0/24" % (hosts.NET_BASE, host.net.subnet)
        t0 = time.monotonic()
        host.run(as_postgres([os.path.join(PG_BIN, "initdb"), "-D", self.data,
                              "--username", "postgres", "--auth-local", "trust",
                              "--auth-host", "reject", "--encoding", "UTF8",
                              "--locale", "C", "--no-sync"]), timeout=120)
        with open(os.path.join(self.data, "postgresql.conf"), "a") as f:
            f.write("\n# zpost tests (tests/integration/pg_hosts.py)\n"
                    "listen_addresses = '%s'\n"
                    "port = %d\n"
                    "unix_socket_directories = '%s'\n"
                    "fsync = on\nsynchronous_commit = on\n"
                    "# a store host lost mid-transaction holds its locks until\n"
                    "# the server finds the connection dead: seconds, not TCP's hours\n"
                    "tcp_keepalives_idle = 2\ntcp_keepalives_interval = 1\n"
                    "tcp_keepalives_count = 2\ntcp_user_timeout = 3000\n"
                    "shared_buffers = 32MB\nmax_connections = 50\n"
                    "log_min_messages = warning\n"
                    "log_line_prefix = '%%m [%%p] %%h %%d '\n"
                    % (host.addr, self.PORT, self.dir))
        with open(os.path.join(self.data, "pg_hba.conf"), "w") as f:
            f.write("# zpost tests: the socket for the superuser, and the "
                    "test net's hosts; nothing else\n"
                    "local all postgres trust\n"
                    "host %s %s %s trust\n" % (DBNAME, ROLE, subnet))
        host.run(as_postgres([os.path.join(PG_BIN, "pg_ctl"), "-D", self.data,
                              "-l", self.log_path, "-w", "-t", "60", "start"]),
                 timeout=90)
        self.local = "host=%s port=%d dbname=postgres user=postgres" % (
            self.dir, self.PORT)
        psql_ok(host, self.local, "CREATE ROLE %s LOGIN" % ROLE)
        psql_ok(host, self.local, "CREATE DATABASE %s OWNER %s TEMPLATE template0"
                % (DBNAME, ROLE))
        h.log("postgresql on %s (%s:%d) ready in %.1f s" % (
            host.name, host.addr, self.PORT, time.monotonic() - t0))

    def conninfo(self):
        """What the stores are given: TCP to the database host."""
        return "host=%s port=%d dbname=%s user=%s %s" % (
            self.host.addr, self.PORT, DBNAME, ROLE, BOUNDS)

    def stop(self):
        """pg_ctl stop -m fast (a test that fails leaves it to kill_ns)."""
        self.host.run(as_postgres([os.path.join(PG_BIN, "pg_ctl"), "-D", self.data,
                                   "-w", "-t", "30", "-m", "fast", "stop"]),
                      timeout=60, check=False)

    def sql(self, statement):
        return psql_ok(self.host, "host=%s port=%d dbname=%s user=postgres" % (
            self.dir, self.PORT, DBNAME), statement)

    def log_tail(self, lines=30):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace").splitlines()[-lines:]
        except OSError:
            return []


# ---------------------------------------------------------------------------
#  pg_auto_failover: a monitor and two data nodes

class AutoFailover:
    """pg_auto_failover on hosts mon, and one per data node (first the
    primary): `pg_autoctl create monitor/postgres ... --run`, each its own
    port, HOME and XDG directories; tuned (see the module's constants).
    state() reads the monitor's view; primary() / standby() name the
    nodes by what they report."""

    def __init__(self, tmp, mon, nodes):
        require_auto_failover()
        self.tmp = tmp
        self.mon = mon
        self.nodes = list(nodes)
        self.dir = pg_dir("zpost-pgaf-")
        ports = free_ports(1 + len(self.nodes))
        self.mon_port = ports[0]
        self.ports = {n.name: p for n, p in zip(self.nodes, ports[1:])}
        self.by_name = {n.name: n for n in self.nodes}
        self.keepers = {}
        self.monitor = None
        for name in ["mon"] + [n.name for n in self.nodes]:
            for sub in ("config", "data", "run"):
                os.makedirs(os.path.join(self.dir, "xdg-" + name, sub))
        shutil.chown(self.dir, "postgres", "postgres")
        for root, dirs, _ in os.walk(self.dir):
            for d in dirs:
                shutil.chown(os.path.join(root, d), "postgres", "postgres")
        self.monitor_url = "postgres://autoctl_node@%s:%d/pg_auto_failover?" \
            "sslmode=disable" % (mon.addr, self.mon_port)

    def env(self, name):
        d = os.path.join(self.dir, "xdg-" + name)
        return {"PATH": "%s:/usr/bin:/bin" % PG_BIN, "HOME": d,
                "XDG_CONFIG_HOME": d + "/config", "XDG_DATA_HOME": d + "/data",
                "XDG_RUNTIME_DIR": d + "/run", "PG_CONFIG": PG_BIN + "/pg_config"}

    def pgdata(self, name):
        return os.path.join(self.dir, name)

    def autoctl(self, host, name, args, check=True, timeout=60):
        cp = host.run(as_postgres([PG_AUTOCTL] + list(args), self.env(name)),
                      check=False, timeout=timeout)
        out = (cp.stdout.decode("utf-8", "replace")
               + cp.stderr.decode("utf-8", "replace"))
        assert not check or cp.returncode == 0, "pg_autoctl %s on %s: %s" % (
            " ".join(args), host.name, out)
        return out

    def local(self, name, dbname="postgres"):
        """The conninfo of a node from inside its own host (its socket)."""
        port = self.mon_port if name == "mon" else self.ports[name]
        return "host=%s port=%d dbname=%s user=postgres connect_timeout=2" % (
            SOCKETS, port, dbname)

    def monitor_sql(self, sql, timeout=15.0):
        return psql(self.mon, self.local("mon", "pg_auto_failover"), sql, timeout)

    def start(self):
        t0 = time.monotonic()
        self.monitor = self.mon.spawn("monitor", as_postgres([
            PG_AUTOCTL, "create", "monitor", "--pgdata", self.pgdata("mon"),
            "--pgport", str(self.mon_port), "--hostname", self.mon.addr,
            "--auth", "trust", "--no-ssl", "--run"], self.env("mon")), self.tmp)
        self.monitor.expected_exit = True       # killed with its host
        h.wait_until(lambda: self.monitor_sql(
            "SELECT count(*) FROM pgautofailover.node")[0] == 0,
            120 * h.TIME_SCALE, 0.5, "the pg_auto_failover monitor to answer")
        for key, value in MONITOR_TUNING:
            out = self.monitor_sql("ALTER SYSTEM SET pgautofailover.%s = %s"
                                   % (key, value))
            assert out[0] == 0, out
        assert self.monitor_sql("SELECT pg_reload_conf()")[0] == 0
        h.log("pg_auto_failover monitor on %s:%d up in %.1f s (tuned)" % (
            self.mon.addr, self.mon_port, time.monotonic() - t0))
        for index, node in enumerate(self.nodes):
            t = time.monotonic()
            self.start_keeper(node, create=True)
            want = "single" if index == 0 else "secondary"
            h.wait_until(lambda: self.nudge(node) == want,
                         240 * h.TIME_SCALE, 0.5,
                         "%s to report %s" % (node.name, want))
            for key, value in KEEPER_TUNING:
                self.autoctl(node, node.name, ["config", "set", "--pgdata",
                                               self.pgdata(node.name), key, value])
            h.log("%s is %s after %.1f s" % (node.name, want, time.monotonic() - t))
        #  --pg-hba-lan lets pg_autoctl's own user in from the LAN; the
        #  stores' role is added here, on every node (a standby's file is
        #  its own: it is used once the node is promoted)
        subnet = "%s.%d.0/24" % (hosts.NET_BASE, self.mon.net.subnet)
        for node in self.nodes:
            with open(os.path.join(self.pgdata(node.name), "pg_hba.conf"), "a") as f:
                f.write("# zpost tests: the stores\nhost %s %s %s trust\n"
                        % (DBNAME, ROLE, subnet))
            for key, value in NODE_TUNING:
                psql_ok(node, self.local(node.name),
                        "ALTER SYSTEM SET %s = %s" % (key, value))
            psql_ok(node, self.local(node.name), "SELECT pg_reload_conf()")
        primary = self.nodes[0]
        h.wait_until(lambda: self.state() == dict(
            [(primary.name, ("primary", "primary"))]
            + [(n.name, ("secondary", "secondary")) for n in self.nodes[1:]]),
            120 * h.TIME_SCALE, 0.5, "%s primary, the others secondary" % primary.name)
        #  The role and database the stores use; the keepers made the
        #  database (--dbname) and its pg_hba.conf lines for the LAN
        psql_ok(primary, self.local(primary.name),
                "CREATE ROLE %s LOGIN" % ROLE)
        psql_ok(primary, self.local(primary.name),
                "ALTER DATABASE %s OWNER TO %s" % (DBNAME, ROLE))
        h.log("pg_auto_failover ready in %.1f s: %s" % (time.monotonic() - t0,
                                                         self.state()))

    def start_keeper(self, node, create=False):
        """The node's keeper (and through it its postgres): created and run,
        or run again after its host came back."""
        if create:
            args = ["create", "postgres", "--pgdata", self.pgdata(node.name),
                    "--pgport", str(self.ports[node.name]), "--hostname", node.addr,
                    "--name", node.name, "--dbname", DBNAME,
                    "--monitor", self.monitor_url, "--auth", "trust", "--no-ssl",
                    "--pg-hba-lan", "--run"]
        else:
            args = ["run", "--pgdata", self.pgdata(node.name)]
        proc = node.spawn("keeper", as_postgres([PG_AUTOCTL] + args,
                                                self.env(node.name)), self.tmp)
        proc.expected_exit = True               # killed with its host
        self.keepers[node.name] = proc
        return proc

    def stop(self):
        """SIGTERM to every keeper and the monitor (each stops its postgres),
        a bounded wait; what is left goes with its namespace (kill_ns)."""
        procs = [p for p in list(self.keepers.values()) + [self.monitor]
                 if p is not None and p.alive()]
        for p in procs:
            try:
                p.popen.send_signal(signal.SIGTERM)
            except OSError:
                pass
        deadline = time.monotonic() + 30 * h.TIME_SCALE
        for p in procs:
            try:
                p.popen.wait(timeout=max(0.1, deadline - time.monotonic()))
            except Exception:
                pass

    def nudge(self, node):
        """node's reported state; meanwhile a CHECKPOINT on the other
        nodes: a standby's pg_basebackup or pg_rewind waits for the
        primary's next checkpoint, which a spread one makes minutes long
        on a busy machine (seen: 95 s, and 130 s for a rejoin)."""
        for other in self.nodes:
            if other is not node:
                psql(other, self.local(other.name), "CHECKPOINT", timeout=10)
        return self.state().get(node.name, ("", ""))[0]

    def state(self):
        """{node name: (reported state, assigned state)} from the monitor;
        {} if it does not answer."""
        rc, out = self.monitor_sql(
            "SELECT nodename, reportedstate, goalstate FROM pgautofailover.node",
            timeout=10)
        if rc != 0:
            return {}
        st = {}
        for line in out.splitlines():
            parts = line.split("|")
            if len(parts) == 3:
                st[parts[0]] = (parts[1], parts[2])
        return st

    def in_recovery(self, node):
        """pg_is_in_recovery() on node, asked from inside its host: True,
        False, or None if it does not answer."""
        rc, out = psql(node, self.local(node.name), "SELECT pg_is_in_recovery()",
                       timeout=10)
        return {"t": True, "f": False}.get(out.strip()) if rc == 0 else None

    def conninfo(self):
        """What the stores are given: every node, the writable one wins."""
        return "host=%s port=%s dbname=%s user=%s target_session_attrs=read-write %s" % (
            ",".join(n.addr for n in self.nodes),
            ",".join(str(self.ports[n.name]) for n in self.nodes), DBNAME, ROLE,
            BOUNDS)

    def events(self):
        rc, out = self.monitor_sql(
            "SELECT to_char(eventtime, 'HH24:MI:SS.MS'), nodename, reportedstate, "
            "goalstate, left(description, 100) FROM pgautofailover.event "
            "ORDER BY eventid", timeout=20)
        return out


# ---------------------------------------------------------------------------
#  zpost on the hosts

def start_zpost(net, tmp, conninfo, brokers=2, stores=2, ready_timeout=60.0,
                client=None):
    """Broker hosts b1..bN (one key pair, copied), store hosts s1..sN (each
    its own key pair and --data, for its keys only: the mail is in the
    database of conninfo), every store linked to every broker, and a
    client host. Returns a hosts.Topology (store_hosts: [Host], stores:
    [harness Store]) once every broker answers PING store from the client."""
    client = client or net.add_host("client")
    broker_hosts = [net.add_host("b%d" % (i + 1)) for i in range(brokers)]
    store_hosts = [net.add_host("s%d" % (i + 1)) for i in range(stores)]
    pair = None
    key_dirs = []
    for bh in broker_hosts:
        keys = os.path.join(tmp, "keys-%s" % bh.name)
        pair = hosts.make_broker_keys(keys, pair)
        key_dirs.append(keys)
    handles = [bh.start_broker(tmp, keys, name=bh.name)
               for bh, keys in zip(broker_hosts, key_dirs)]
    backs = [b.back for b in handles]
    server_key = handles[0].public_key
    procs = []
    for sh in store_hosts:
        data = os.path.join(tmp, "data-%s" % sh.name)
        hosts.make_store_keys(data, [os.path.join(k, "stores") for k in key_dirs])
        argv = h.WRAP + [h.binary("zpost-store")]
        for back in backs:
            argv += ["--broker", back]
        argv += ["--broker-key", server_key, "--data", data, "--db", conninfo]
        proc = sh.spawn("store", argv, tmp)
        procs.append(h.Store(proc, data))
    for store in procs:
        store.proc.wait_line(r"^zpost-store ready$", ready_timeout * h.TIME_SCALE)
    servers = ["%s:%d" % (bh.addr, hosts.FRONT_PORT) for bh in broker_hosts]
    status = hosts.loadgen_ping(client, tmp, servers, server_key, ready_timeout)
    assert all(status.get(s) == 200 for s in servers), \
        "not every broker has a store within %.0f s: %r" % (ready_timeout, status)
    return hosts.Topology(client=client, broker_hosts=broker_hosts,
                          brokers=handles, store_hosts=store_hosts, stores=procs,
                          servers=servers, server_key=server_key, backs=backs,
                          key_dirs=key_dirs, tmp=tmp, broker_extra=())


def acks_of(topo):
    """The acknowledgements of the topology's last run_load (loadgen's
    --out file): [{"at", "server", ...}]."""
    path = os.path.join(topo.tmp, "acks-%d.json" % hosts._load_counter)
    with open(path) as f:
        return json.load(f)["acks"]


def stats(topo, repeat=4):
    """STATS server through every broker, `repeat` times each, as the last
    load's first recipient: {server: [{name: value}]}."""
    path = os.path.join(topo.tmp, "acks-%d.json" % hosts._load_counter)
    return topo.client.loadgen_run(topo.tmp, [
        "stats", "--servers", topo.server_list(), "--server-key=" + topo.server_key,
        "--acks", path, "--repeat", str(repeat),
        "--deadline", "60"], timeout=90.0)


def check_again(topo):
    """loadgen check of the last load's acknowledgements, now."""
    path = os.path.join(topo.tmp, "acks-%d.json" % hosts._load_counter)
    got = topo.client.loadgen_run(topo.tmp, [
        "check", "--servers", topo.server_list(), "--server-key=" + topo.server_key,
        "--acks", path, "--timeout", "5", "--deadline", "120"],
        timeout=150.0)
    h.log("check again: %s" % json.dumps(got, sort_keys=True))
    return got


def store_replies(store):
    """Replies a stopped store sent, from its log's "leaving ... after N
    replies" lines (one per broker link)."""
    text = store.proc.log_text()
    counts = [int(n) for n in re.findall(r"leaving \S+ after ([0-9]+) replies", text)]
    assert counts, "%s logged no 'leaving ... after N replies' line at its " \
        "stop:\n%s" % (store.proc.name, text[-2000:])
    return sum(counts)


def window_around(acks, at):
    """(last acknowledgement before `at`, first after), as seconds from
    `at` (negative, positive), or None for a side with none."""
    before = [a["at"] - at for a in acks if a["at"] <= at]
    after = [a["at"] - at for a in acks if a["at"] > at]
    return (max(before) if before else None, min(after) if after else None)
