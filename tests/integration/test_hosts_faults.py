"""test_hosts_faults - no single broker stops the mail (issue 12, item 6)

Each test brings up the deployment of hosts.start_topology on network
namespace hosts: a client host, broker hosts b1 and b2 (one key pair,
copied), and a store host running two zpost-store processes on one LMDB
environment, each linked to both brokers. 16 senders on the client host
send for the load's duration through the list b1,b2 (the spec's failover
rule: no answer or 503 -> the same request id through the next broker),
and one fault strikes while they do:

  - kill -9 b1, restart it;
  - kill -9 each broker in turn (each restarted before the next goes);
  - b1's host off the network for 10 s (ip link set down), then back;
  - 10 % packet loss on b1's link (nftables, no netem here);
  - the store host's path to b1 cut, its path to b2 up.

Afterwards every acknowledged message must be in its recipient's inbox
exactly once (none lost, none twice), no sender may have given up, and
every broker must serve again (its stores found it again). Each test logs
what the clients saw: sends acknowledged, retried, failovers with their
p50 and max (from the first failed try to the first good reply through
another broker). docs/RELIABILITY.md and docs/SCALING.md quote them.
"""

import harness as h
import hosts

LOAD_TRIES = 6          # 3 rounds over the two brokers, as the zpost client
LOAD_TIMEOUT = 2.0      # a try's timeout, s (the zpost client's default is 3)


def _figures(name, sent, got):
    h.log("figures %s: acknowledged %d, lost %d, duplicated %d, gave up %d, "
          "retried %d, failovers %d (p50 %s s, max %s s), recoveries p50 %s s "
          "max %s s, per broker %s" % (
              name, sent["acknowledged"], got["lost"], got["duplicated"],
              sent["gave_up"], sent["retried"], sent["failovers"],
              sent["failover_p50"], sent["failover_max"], sent["recovery_p50"],
              sent["recovery_max"], sent["acks_per_server"]))


def _fault_run(tmp, name, make_fault, duration, least_failovers=0):
    """The load under one fault; asserts exactly once, nobody gave up,
    every broker serving at the end. Returns (topology, sent, got)."""
    with hosts.TestNet() as net:
        topo = hosts.start_topology(net, tmp, brokers=2, stores=2)
        sent, got = hosts.run_load(topo, duration=duration,
                                   fault=make_fault(topo), count=1000000,
                                   timeout=LOAD_TIMEOUT, tries=LOAD_TRIES)
        _figures(name, sent, got)
        hosts.assert_exactly_once(sent, got, least=16)
        assert sent["gave_up"] == 0, \
            "%d sends gave up after %d tries over both brokers: %r" % (
                sent["gave_up"], LOAD_TRIES, sent)
        assert sent["failovers"] >= least_failovers, \
            "the fault made no sender change broker (%d failovers, at least " \
            "%d expected): it did not strike the load: %r" % (
                sent["failovers"], least_failovers, sent)
        status = topo.ping()
        assert all(v == 200 for v in status.values()), \
            "after the fault, not every broker serves (PING store): %r" % status
        return topo, sent, got


def test_kill_one_broker_then_restart(tmp):
    """b1 killed with 16 senders half on it: they go on through b2;
    restarted, b1 gets its stores back."""
    _fault_run(tmp, "kill -9 b1, restart",
               lambda topo: hosts.fault_kill_restart(topo, 0, down=3.0),
               duration=10.0, least_failovers=1)


def test_kill_each_broker_in_turn(tmp):
    """b1 killed and restarted, then b2: at every moment one broker is up,
    and the mail never stops."""
    _fault_run(tmp, "kill -9 each broker in turn",
               lambda topo: hosts.fault_kill_each(topo, down=3.0),
               duration=16.0, least_failovers=2)


def test_broker_host_off_the_network_10s(tmp):
    """b1's host loses its link for 10 s (ip link set down): its clients'
    tries time out or fail and go to b2; when the link is back, the
    stores' links to b1 come back too."""
    def fault(topo):
        return hosts.fault_link_down(topo.broker_hosts[0], seconds=10.0)
    _fault_run(tmp, "b1 host link down 10 s", fault, duration=14.0,
               least_failovers=1)


def test_ten_percent_loss_on_a_broker_link(tmp):
    """10 % of packets on b1's link dropped both ways for 8 s: TCP carries
    most of it; whatever a try loses goes again, through b2 if need be."""
    def fault(topo):
        return hosts.fault_loss(topo.broker_hosts[0], percent=10, seconds=8.0)
    _fault_run(tmp, "10 % loss on b1's link", fault, duration=10.0)


def test_store_link_to_one_broker_cut(tmp):
    """The store host's path to b1 cut for 8 s, its path to b2 up: b1
    loses its stores (silence), answers 503 or nothing, and its clients
    go to b2; once the path is back the stores link to b1 again."""
    def fault(topo):
        return hosts.fault_cut(topo.store_host, topo.broker_hosts[0], seconds=8.0)
    _fault_run(tmp, "store-b1 path cut 8 s", fault, duration=11.0,
               least_failovers=1)


if __name__ == "__main__":
    h.run_tests([test_kill_one_broker_then_restart,
                 test_kill_each_broker_in_turn,
                 test_broker_host_off_the_network_10s,
                 test_ten_percent_loss_on_a_broker_link,
                 test_store_link_to_one_broker_cut],
                timeout=240)     # a topology, 16 users, a load and a check each
