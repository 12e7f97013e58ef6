"""pg_auto_failover on namespace test hosts: the experiment behind pg-failover.md.

A research script, not a test (issue 13, item 5 preparation). As root:

    /usr/bin/python3 docs/notes/pg-failover-experiment.py [--default] [--wst]

Hosts (tests/integration/hosts.py TestNet): mon (monitor, port 6432), pga
and pgb (data nodes, ports 6433/6434: distinct, since every namespace
shares /var/run/postgresql), client (a psql writer, one INSERT every 50 ms
through host=pga,pgb target_session_attrs=read-write). pga's link goes
down; the script logs the states, the time to promotion, the time with no
acknowledged write, when the cut-off old primary stopped being one, the
rejoin after link up, and acknowledged rows lost or doubled. Without
--default the monitor and keeper timeouts are tuned (see the note);
--wst also sets wal_sender_timeout/wal_receiver_timeout to 2 s. Every
process in the namespaces is killed and the namespaces deleted at the end.
Needs pg-auto-failover-cli and postgresql-15-auto-failover.
"""
import os, sys, time, subprocess, json, shutil, tempfile, re, threading
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "..", "tests", "integration"))
os.environ.setdefault("ZPOST_BIN_DIR", os.getcwd())
import harness as h, hosts

TUNED = "--default" not in sys.argv
BIN = "/usr/lib/postgresql/15/bin"
T0 = time.monotonic()
def log(*a): print("[%6.1f]" % (time.monotonic() - T0), *a, flush=True)

base = tempfile.mkdtemp(prefix="pgaf-", dir="/tmp")
os.chmod(base, 0o755)
shutil.chown(base, "postgres", "postgres")
tmp = tempfile.mkdtemp(prefix="pgaf-logs-", dir="/tmp"); os.chmod(tmp, 0o755)

def env_for(name):
    d = os.path.join(base, "xdg-" + name)
    return ["env", "PATH=%s:/usr/bin:/bin" % BIN, "HOME=" + d,
            "XDG_CONFIG_HOME=%s/config" % d, "XDG_DATA_HOME=%s/data" % d,
            "XDG_RUNTIME_DIR=%s/run" % d, "PG_CONFIG=%s/pg_config" % BIN]

def as_pg(name, argv):
    return ["runuser", "-u", "postgres", "--"] + env_for(name) + argv

def sh(host, name, argv, check=True, timeout=60):
    cp = host.run(as_pg(name, argv), check=False, timeout=timeout)
    out = cp.stdout.decode() + cp.stderr.decode()
    if check and cp.returncode != 0:
        raise AssertionError("%s: %s" % (argv, out))
    return out

def psql(host, conn, sql, timeout=10):
    cp = host.run(["runuser", "-u", "postgres", "--", BIN + "/psql", "-X", "-A", "-t",
                   "-d", conn, "-c", sql], check=False, timeout=timeout)
    return cp.returncode, (cp.stdout.decode() + cp.stderr.decode()).strip()

net = hosts.TestNet()
try:
    mon = net.add_host("mon"); a = net.add_host("pga"); b = net.add_host("pgb"); cl = net.add_host("client")
    for n in ("mon", "pga", "pgb"):
        for sub in ("config", "data", "run"):
            os.makedirs(os.path.join(base, "xdg-" + n, sub), exist_ok=True)
    subprocess.run(["chown", "-R", "postgres:postgres", base], check=True)
    monurl = "postgres://autoctl_node@%s:6432/pg_auto_failover?sslmode=disable" % mon.addr
    t = time.monotonic()
    pm = mon.spawn("monitor", as_pg("mon", ["pg_autoctl", "create", "monitor", "--pgdata", base + "/mon",
        "--pgport", "6432", "--hostname", mon.addr, "--auth", "trust", "--no-ssl", "--run"]), tmp)
    h.wait_until(lambda: psql(mon, "host=/var/run/postgresql port=6432 dbname=pg_auto_failover", "select count(*) from pgautofailover.node")[0] == 0, 120, 0.5, "monitor up")
    log("monitor up in %.1f s" % (time.monotonic() - t))
    if TUNED:
        for k, v in (("health_check_period", "1000"), ("health_check_timeout", "1000"),
                     ("health_check_max_retries", "1"), ("health_check_retry_delay", "500"),
                     ("node_considered_unhealthy_timeout", "3000"), ("startup_grace_period", "3000"),
                     ("primary_demote_timeout", "5000")):
            sh(mon, "mon", [BIN + "/psql", "-X", "-h", "/var/run/postgresql", "-p", "6432", "-d", "pg_auto_failover",
                "-c", "ALTER SYSTEM SET pgautofailover.%s = %s" % (k, v)])
        sh(mon, "mon", [BIN + "/psql", "-X", "-h", "/var/run/postgresql", "-p", "6432", "-d", "pg_auto_failover", "-c", "SELECT pg_reload_conf()"])
    procs = {}
    for host, port in ((a, 6433), (b, 6434)):
        t = time.monotonic()
        procs[host.name] = host.spawn("keeper", as_pg(host.name, ["pg_autoctl", "create", "postgres",
            "--pgdata", base + "/" + host.name, "--pgport", str(port), "--hostname", host.addr,
            "--name", host.name, "--monitor", monurl, "--auth", "trust", "--no-ssl", "--pg-hba-lan", "--run"]), tmp)
        want = "single" if host is a else "secondary"
        def state():
            out = sh(mon, "mon", ["pg_autoctl", "show", "state", "--pgdata", base + "/mon", "--json"], check=False)
            try:
                return {n["nodename"]: (n["current_group_state"], n["assigned_group_state"]) for n in json.loads(out)}
            except Exception:
                return {}
        h.wait_until(lambda: state().get(host.name, ("", ""))[0] == want, 240, 1, "%s %s" % (host.name, want))
        log("%s is %s after %.1f s" % (host.name, want, time.monotonic() - t))
        if TUNED:
            for k, v in (("timeout.network_partition_timeout", "3"), ("timeout.prepare_promotion_catchup", "5"),
                         ("timeout.prepare_promotion_walreceiver", "2"), ("timeout.postgresql_restart_failure_timeout", "5")):
                sh(host, host.name, ["pg_autoctl", "config", "set", "--pgdata", base + "/" + host.name, k, v])
    h.wait_until(lambda: state().get("pga", ("", ""))[0] == "primary" and state().get("pgb", ("", ""))[0] == "secondary", 60, 1, "settled")
    log("state", state())
    if "--wst" in sys.argv:
        for hst, port in ((a, 6433), (b, 6434)):
            for sql in ("ALTER SYSTEM SET wal_sender_timeout = '2s'", "ALTER SYSTEM SET wal_receiver_timeout = '2s'", "SELECT pg_reload_conf()"):
                log("wst", hst.name, psql(hst, "host=/var/run/postgresql port=%d dbname=postgres" % port, sql))
    rc, out = psql(a, "host=/var/run/postgresql port=6433 dbname=postgres", "show synchronous_standby_names")
    log("synchronous_standby_names on pga:", out)
    conn = "host=%s,%s port=6433,6434 dbname=postgres user=postgres target_session_attrs=read-write connect_timeout=1" % (a.addr, b.addr)
    rc, out = psql(cl, conn, "create table if not exists t(n int, at timestamptz default now())")
    log("create", rc, out)
    # a writer on the client host: one insert every 50 ms, logs each result
    writer = cl.spawn("writer", ["bash", "-c",
        "i=0; while true; do i=$((i+1)); s=$(date +%%s.%%N); "
        "if timeout 3 %s/psql -X -q -d '%s' -c \"insert into t(n) values ($i)\" >/dev/null 2>&1; then echo ok $i $s $(date +%%s.%%N); else echo err $i $s $(date +%%s.%%N); fi; sleep 0.05; done" % (BIN, conn)], tmp)
    time.sleep(3)
    cut_at = time.time(); tc = time.monotonic()
    a.link_down()
    log("pga link down")
    old_primary = {}
    def poll_old():
        while time.monotonic() - tc < 60 and not old_primary:
            try:
                rc, out = psql(a, "host=/var/run/postgresql port=6433 dbname=postgres connect_timeout=1", "select pg_is_in_recovery()", timeout=3)
            except AssertionError:
                rc, out = -1, "no answer in 3 s"
            if rc != 0 or out.strip() != "f":
                old_primary["t"] = time.monotonic() - tc
                old_primary["why"] = out[:100]
            time.sleep(0.5)
    poller = threading.Thread(target=poll_old, daemon=True); poller.start()
    seen = {}
    def watch():
        st = state()
        for k, v in st.items():
            if seen.get(k) != v:
                seen[k] = v; log("  %s -> reported %s, assigned %s" % (k, v[0], v[1]))
        return st.get("pgb", ("", ""))[0] == "primary" or st.get("pgb", ("", ""))[0] == "wait_primary"
    h.wait_until(watch, 180, 0.5, "pgb promoted")
    log("pgb promoted %.1f s after the cut" % (time.monotonic() - tc))
    h.wait_until(lambda: any(l.startswith("ok") and float(l.split()[2]) > cut_at + 0.5 for l in writer.lines), 60, 0.2, "a write after the cut")
    oks = [l.split() for l in writer.lines if l.startswith("ok")]
    before = [float(x[3]) for x in oks if float(x[3]) <= cut_at]
    after = [float(x[3]) for x in oks if float(x[2]) > cut_at]
    errs = sum(1 for l in writer.lines if l.startswith("err") and float(l.split()[2]) > cut_at)
    log("no write acknowledged for %.1f s (last ok before cut %.2f s before; first ok after at +%.1f s); %d failed tries" % (
        min(after) - max(before), cut_at - max(before), min(after) - cut_at, errs))
    # the old primary, seen from inside its own host, during the cut
    poller.join(70)
    log("old primary pga, seen from its own host: %s" % (
        "stopped being a primary %.1f s after the cut (%r)" % (old_primary["t"], old_primary["why"]) if old_primary
        else "still a primary 60 s after the cut"))
    rc, out = psql(a, "host=/var/run/postgresql port=6433 dbname=postgres connect_timeout=2", "select pg_is_in_recovery()")
    log("pga from inside, cut off: rc %d %r" % (rc, out[:200]))
    try:
        rc, out = psql(a, "host=/var/run/postgresql port=6433 dbname=postgres connect_timeout=2", "insert into t(n) values (-1)", timeout=8)
        log("pga insert from inside, cut off: rc %d %r" % (rc, out[:200]))
    except AssertionError as e:
        log("pga insert from inside, cut off: no answer in 8 s (waits for the synchronous standby)")
    log("keeper pga network_partition_timeout:", sh(a, "pga", ["pg_autoctl", "config", "get", "--pgdata", base + "/pga", "timeout.network_partition_timeout"], check=False).strip())
    time.sleep(2)
    tu = time.monotonic()
    a.link_up()
    log("pga link up")
    def rejoined():
        watch()
        st = state()
        return st.get("pga", ("", ""))[0] == "secondary" and st.get("pgb", ("", ""))[0] == "primary"
    h.wait_until(rejoined, 240, 0.5, "pga back as secondary")
    log("pga rejoined as secondary %.1f s after link up" % (time.monotonic() - tu))
    rc, out = psql(a, "host=/var/run/postgresql port=6433 dbname=postgres", "select pg_is_in_recovery(), count(*) from t where n = -1")
    log("pga now:", rc, out)
    rc, out = psql(cl, conn, "select count(*), max(n) from t")
    log("rows via read-write:", out)
    oks = [int(l.split()[1]) for l in writer.lines if l.startswith("ok")]
    rc, out = psql(cl, conn, "select n from t")
    have = set(int(x) for x in out.split())
    lost = [n for n in oks if n not in have]
    log("acknowledged inserts %d, lost %d, duplicates %d" % (len(oks), len(lost), len(out.split()) - len(have)))
    rc, out = psql(mon, "host=/var/run/postgresql port=6432 dbname=pg_auto_failover",
        "select eventtime, nodename, reportedstate, goalstate, left(description, 90) from pgautofailover.event order by eventid", timeout=20)
    log("events:\n" + out)
finally:
    for hst in list(net.hosts.values()):
        cp = subprocess.run(["ip", "netns", "pids", hst.ns], capture_output=True, text=True)
        for pid in cp.stdout.split():
            try: os.kill(int(pid), 9)
            except OSError: pass
    time.sleep(1)
    for p in net._procs: p.expected_exit = True
    net.close(failed=True)
    for hst_dir in (base,):
        shutil.rmtree(hst_dir, ignore_errors=True)
    log("cleaned up; logs in", tmp)
