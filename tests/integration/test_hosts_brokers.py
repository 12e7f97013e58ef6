"""test_hosts_brokers - two brokers and two stores on separate test hosts
(issue 12): the topology the fault tests run on, under load, no fault.

A client host, broker hosts b1 and b2 (one key pair, copied), a store
host running two zpost-store processes on one LMDB environment, each
given both back ends (--broker EP1 --broker EP2). 16 senders, half
starting on each broker, send for a few seconds: every acknowledged
message is in the inbox exactly once, and both brokers acknowledged some.

This needs the multi-broker store (issue 12 item 1): a store that keeps
one link serves one broker only, and hosts.start_topology fails with a
sentence that says so.

The fault tests (kill -9 a broker, each broker in turn, a link down 10 s,
10 % loss, a store's link to one broker cut) are run_load with one of
hosts.fault_* under the same topology, e.g.:

    sent, got = hosts.run_load(topo, duration=15,
                               fault=hosts.fault_kill_restart(topo, 0, 3))
    hosts.assert_exactly_once(sent, got)
"""

import harness as h
import hosts


def test_two_brokers_two_stores(tmp):
    with hosts.TestNet() as net:
        topo = hosts.start_topology(net, tmp, brokers=2, stores=2)
        sent, got = hosts.run_load(topo, duration=3.0, count=1000)
        hosts.assert_exactly_once(sent, got, least=16)
        assert sent["gave_up"] == 0 and not sent["errors"], sent
        for server in topo.servers:
            assert sent["acks_per_server"].get(server, 0) > 0, \
                "no send acknowledged through %s: %r" % (server, sent)


if __name__ == "__main__":
    h.run_tests([test_two_brokers_two_stores])
