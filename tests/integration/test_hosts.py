"""test_hosts - zpost on separate test hosts (network namespaces), and the
hosts' own faults and teardown (issue 12, items 5 and 6; tests/integration/
hosts.py, loadgen.py).

- A load on hosts: a client host, a broker host and a store host running
  two zpost-store processes on one LMDB environment, linked to the
  broker's tcp:// back end (CURVE) on the broker host's address. 16
  senders, each its own user and CURVE key, send for a few seconds; every
  acknowledged message is in the recipient's inbox exactly once, under
  the id it was acknowledged with. Nothing of the test net is in the root
  namespace.
- The faults the fault tests use, each with its control in the same
  window: a host's link down makes it unreachable and up again reachable;
  loss drops about the share it is set to; a cut path blocks one peer and
  not another.
- Teardown: no namespace of the net is left after a normal end or a
  failure, the processes in it are gone, and the sweeps remove leftovers.

These tests need root, ip and nft (scripts/setup.sh installs them): where
namespaces cannot be made they fail and say what is missing.
"""

import subprocess

import harness as h
import hosts

ECHO_PORT = 7007


def _root_ns_view():
    """What the root namespace has that a test net could add: links,
    addresses, routes."""
    def out(*args):
        return subprocess.run([hosts.IP] + list(args), capture_output=True,
                              check=True).stdout.decode()
    links = sorted(line.split(":")[1].strip().split("@")[0]
                   for line in out("-o", "link", "show").splitlines())
    return {"links": links, "addrs": out("-o", "addr", "show"),
            "routes": out("route", "show", "table", "all")}


def test_load_on_hosts(tmp):
    before = _root_ns_view()
    with hosts.TestNet() as net:
        topo = hosts.start_topology(net, tmp, brokers=1, stores=2)
        assert topo.backs[0] == "tcp://%s:%d" % (topo.broker_hosts[0].addr,
                                                 hosts.BACK_PORT), topo.backs
        during = _root_ns_view()
        assert during == before, "the test net changed the root namespace: " \
            "before %r, during %r" % (before, during)
        assert topo.client.addr not in during["addrs"]
        for store in topo.stores:
            h.check_alive(store.proc)
        sent, got = hosts.run_load(topo, duration=3.0, count=1000)
        hosts.assert_exactly_once(sent, got, least=16)
        assert sent["gave_up"] == 0 and not sent["errors"], \
            "with no fault every send is answered 200: %r" % sent
        # Both store processes on the one environment still run
        for store in topo.stores:
            h.check_alive(store.proc)


def _probe(client, tmp, target, count=200):
    """Datagrams from client to target's echo; returns the share echoed."""
    got = client.loadgen_run(tmp, ["udp", "--to", "%s:%d" % (target.addr,
                                                             ECHO_PORT),
                                   "--count", str(count)], timeout=60.0)
    assert got["sent"] == count, got
    return got["echoed"] / float(count)


def _echo(host, tmp):
    proc = host.loadgen(tmp, ["echo", "--port", str(ECHO_PORT)], name="echo")
    proc.expected_exit = True           # runs until teardown kills it
    proc.wait_line(r"^loadgen echo ready$")
    return proc


def test_faults(tmp):
    with hosts.TestNet() as net:
        client = net.add_host("client")
        b1 = net.add_host("b1")
        b2 = net.add_host("b2")
        for b in (b1, b2):
            _echo(b, tmp)
        assert _probe(client, tmp, b1) == 1.0
        assert _probe(client, tmp, b2) == 1.0

        # link down: b1 unreachable, b2 still reachable; up: b1 back
        b1.link_down()
        assert not b1.link_is_up()
        assert _probe(client, tmp, b1) == 0.0, "b1's link is down"
        assert _probe(client, tmp, b2) == 1.0, "b2 lost with b1's link down"
        b1.link_up()
        assert b1.link_is_up()
        h.wait_until(lambda: _probe(client, tmp, b1, 20) == 1.0, 20, 0.2,
                     "b1 to answer again after its link came up")

        # loss on b1's link, both ways: a datagram and its echo each pass
        # with 1 - p, so (1 - p)^2 come back: 0.49 at 30 %. 400 datagrams:
        # sd 0.025, so the bounds are 6 sd away
        b1.loss(30)
        assert "numgen random mod 100" in b1.nft_ruleset()
        share = _probe(client, tmp, b1, 400)
        h.log("30%% loss on b1: %.3f echoed (expected 0.49)" % share)
        assert 0.34 <= share <= 0.64, "30%% loss both ways echoed %.3f, " \
            "expected about 0.49" % share
        assert _probe(client, tmp, b2) == 1.0, "loss on b1 reached b2"
        b1.loss_off()
        assert "zpost_loss" not in b1.nft_ruleset()
        assert _probe(client, tmp, b1) == 1.0

        # a cut path: client to b1 blocked both ways, client to b2 not
        client.cut(b1)
        assert _probe(client, tmp, b1) == 0.0, "the cut path still passes"
        assert _probe(client, tmp, b2) == 1.0, "a cut to b1 blocked b2"
        # the other way round too: b1's own traffic to the client
        assert b1.run([hosts.PYTHON, hosts.LOADGEN, "udp", "--to", "%s:%d" % (
            client.addr, ECHO_PORT), "--count", "5", "--window", "0.5",
            "--quiet", "0.5"]).stdout.decode().count('"echoed": 0') == 1
        client.uncut(b1)
        assert "zpost_cut" not in client.nft_ruleset()
        assert _probe(client, tmp, b1) == 1.0


def test_zpost_across_a_cut(tmp):
    """The faults bite zpost's own TCP paths: a client host cut from the
    broker's host gets no PING answer, and does again once mended; the
    store host cut from the broker leaves it with no store (503)."""
    with hosts.TestNet() as net:
        topo = hosts.start_topology(net, tmp, brokers=1, stores=1)
        client, bh, sh = topo.client, topo.broker_hosts[0], topo.store_host
        server = topo.servers[0]
        client.cut(bh)
        got = hosts.loadgen_ping(client, tmp, [server], topo.server_key, 3.0)
        assert got[server] is None, "PING through a cut path: %r" % got
        # (a PING to a broker: any answer at all would end the wait)
        got = hosts.loadgen_ping(client, tmp, [server], topo.server_key, 3.0,
                                 until=503)
        assert got[server] is None, "PING through a cut path: %r" % got
        client.uncut(bh)
        assert topo.ping()[server] == 200
        # the store's link cut: the broker, still reachable, has no store
        # once 3 heartbeats (1 s each) are missed
        sh.cut(bh)
        got = hosts.loadgen_ping(client, tmp, [server], topo.server_key, 30.0,
                                 until=503, try_timeout=8.0)
        assert got[server] == 503, "with its store's link cut the broker " \
            "still had a store after 30 s: %r" % got
        sh.uncut(bh)
        assert topo.ping()[server] == 200, "the store came not back"


def test_teardown(tmp):
    def ours(prefix):
        return [n for n in hosts.namespaces() if n.startswith(prefix)]

    # a normal end
    with hosts.TestNet() as net:
        a = net.add_host("a")
        net.add_host("b")
        echo = _echo(a, tmp)
        assert len(ours(net.prefix)) == 3, hosts.namespaces()
    assert ours(net.prefix) == [], "left after a normal end: %r" % ours(net.prefix)
    assert not echo.alive()

    # an end by failure: the processes are killed, the namespaces go
    try:
        with hosts.TestNet() as net:
            a = net.add_host("a")
            echo = _echo(a, tmp)
            busy = a.spawn("sleeper", [hosts.PYTHON, "-c",
                                       "import time; time.sleep(600)"], tmp)
            raise RuntimeError("a test that fails")
    except RuntimeError:
        pass
    assert ours(net.prefix) == [], "left after a failure: %r" % ours(net.prefix)
    assert not echo.alive() and not busy.alive()
    busy.expected_exit = True

    # sweeps: this run's prefix, and a dead run's namespaces
    leftover = hosts.RUN_PREFIX + "99-x"
    hosts._run([hosts.IP, "netns", "add", leftover])
    assert leftover in hosts.sweep()
    dead = subprocess.Popen(["true"])       # a pid that no longer runs
    dead.wait()
    stale = "%s%d-1-x" % (hosts.PREFIX_ROOT, dead.pid)
    hosts._run([hosts.IP, "netns", "add", stale])
    try:
        assert stale in hosts.sweep_stale(), "a dead run's namespace was kept"
    finally:
        hosts._delete_ns(stale)
    assert stale not in hosts.namespaces()

    # where a tool is missing, the sentence names it
    saved, hosts._required = hosts._required, None
    saved_ip, hosts.IP = hosts.IP, "/nonexistent/ip"
    try:
        hosts.require()
        raise AssertionError("require() passed with no ip command")
    except AssertionError as e:
        assert "missing the ip command" in str(e), str(e)
    finally:
        hosts.IP = saved_ip
        hosts._required = saved


if __name__ == "__main__":
    h.run_tests([test_load_on_hosts, test_faults, test_zpost_across_a_cut,
                 test_teardown])
