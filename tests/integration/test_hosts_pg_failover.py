"""test_hosts_pg_failover - the database's primary host is lost under load
(issue 13, item 5)

On network-namespace hosts (hosts.py): pg_auto_failover 2.0 with a
monitor host `mon` and two data nodes, `pga` (primary) and `pgb` (its
synchronous standby: synchronous_standby_names is checked on pga before
the load), tuned as docs/notes/pg-failover.md says; two store hosts s1
and s2 whose zpost-store has the multi-host conninfo

    host=PGA,PGB port=P1,P2 dbname=zpost user=zpost
    target_session_attrs=read-write connect_timeout=2 tcp_user_timeout=3000
    keepalives=1 keepalives_idle=2 keepalives_interval=1 keepalives_count=2

two broker hosts, and a client host with 16 senders (loadgen.py) that
retry a request with the same request id through the next broker, for as
long as a failover takes (a try waits longer than the broker's 5 s
deadline, so that a store stuck on its database is answered 503 by the
broker and a silent try is counted as such).

The fault: pga's host is lost (its link down, then every process in its
namespace killed at once; killing postgres alone is a crash that its
keeper repairs, not a machine loss). pgb is promoted; the stores find it
by themselves. Measured and printed ("figures ..." lines, and a table row
for docs/SCALING.md): the time to promotion, the time with no
acknowledged send, every try's outcome. Asserted: no 500 or other
status but 200 and 503, every sender finished (none gave up, none
stuck), every acknowledged message present exactly once afterwards, pgb
primary. Then pga comes back (link up, its keeper run again): it must
rejoin as pgb's standby (the monitor says secondary, pg_is_in_recovery()
is true on pga and false on pgb: one primary, no split brain), both nodes
hold the same mail, and every acknowledged message is still there once.

Registered once, on PostgreSQL (integration_postgresql_test_hosts_pg_failover):
the script builds its database itself.
"""

import time

import harness as h
import hosts
import pg_hosts

SENDERS = 16
LOAD_TIMEOUT = 7.0      # a try: above the broker's 5 s deadline
LOAD_TRIES = 60         # with loadgen's pauses: well over 30 s of retrying
STEADY = 4.0            # s of load before the loss
DURATION = 30.0         # s of load in all


def _fmt(x):
    return "-" if x is None else "%.1f" % x


def test_primary_host_lost(tmp):
    with hosts.TestNet() as net:
        client = net.add_host("client")
        mon, pga, pgb = net.add_host("mon"), net.add_host("pga"), net.add_host("pgb")
        af = pg_hosts.AutoFailover(tmp, mon, [pga, pgb])
        try:
            _run(tmp, net, af, client, pga, pgb)
        finally:
            af.stop()


def _run(tmp, net, af, client, pga, pgb):
    af.start()
    sync = pg_hosts.psql_ok(pga, af.local("pga"), "SHOW synchronous_standby_names")
    h.log("pga: synchronous_standby_names = %r" % sync)
    assert sync.strip() not in ("", "''"), \
        "pga has no synchronous standby: a commit it acknowledges would " \
        "have one copy (synchronous_standby_names is empty)"
    topo = pg_hosts.start_zpost(net, tmp, af.conninfo(), client=client)

    fig = {}

    def fault():
        time.sleep(STEADY)
        fig["cut"] = pg_hosts.lose_host(pga)
        h.log("fault: host pga lost (link down, every process killed)")

        def promoted():
            st = af.state()
            if "reacted" not in fig and st.get("pgb", ("secondary",))[1] != "secondary":
                fig["reacted"] = time.monotonic()
                h.log("monitor: %r" % st)
            return st.get("pgb", ("", ""))[0] in ("wait_primary", "primary")
        h.wait_until(promoted, 120 * h.TIME_SCALE, 0.2, "pgb to be promoted")
        fig["promoted"] = time.monotonic()
        h.log("pgb promoted %.1f s after the loss: %r" % (
            fig["promoted"] - fig["cut"], af.state()))

    sent, got = hosts.run_load(topo, duration=DURATION, fault=fault,
                               count=1000000, senders=SENDERS,
                               timeout=LOAD_TIMEOUT, tries=LOAD_TRIES)
    acks = pg_hosts.acks_of(topo)
    cut = fig["cut"]
    before, after = pg_hosts.window_around(acks, cut)
    promotion = fig["promoted"] - cut
    reacted = fig["reacted"] - cut if "reacted" in fig else None
    #  The time with no service: the longest stretch without an
    #  acknowledgement that ends after the loss (a reply in flight at the
    #  loss may still arrive just after it)
    times = sorted(a["at"] for a in acks)
    gaps = [b - a for a, b in zip(times, times[1:]) if b > cut]
    no_service = max(gaps) if gaps else None
    outcomes = sent["try_outcomes"]
    later = [a for a in acks if a["at"] > fig["promoted"]]

    #  Then pga's host comes back: link up, its keeper run again
    t = time.monotonic()
    pga.link_up()
    af.start_keeper(pga)
    h.wait_until(lambda: af.nudge(pga) and af.state() == {
                     "pga": ("secondary", "secondary"), "pgb": ("primary", "primary")},
                 240 * h.TIME_SCALE, 0.5, "pga to rejoin as pgb's standby")
    rejoin = time.monotonic() - t
    h.log("pga rejoined as secondary %.1f s after its host came back" % rejoin)

    h.log("figures pg failover: primary's host lost under %d senders; monitor "
          "reacted +%s s, standby promoted +%.1f s, no acknowledged send for "
          "%s s (around the loss: last ack %s s, next +%s s), acknowledged "
          "%d (%d after the promotion), tries %r, retried %d, gave up %d, "
          "lost %d, duplicated %d, old primary rejoined as standby %.1f s "
          "after its host came back" % (
              SENDERS, _fmt(reacted), promotion, _fmt(no_service),
              _fmt(before), _fmt(after), sent["acknowledged"], len(later),
              outcomes, sent["retried"], sent["gave_up"], got["lost"],
              got["duplicated"], rejoin))
    h.log("figures row | primary's host lost, 16 senders | %s s | %.1f s | "
          "%s s | %d x 503, %d tries without answer, 0 x 500 | %d / %d | "
          "%.1f s |" % (_fmt(reacted), promotion, _fmt(no_service),
                        outcomes.get("503", 0), outcomes.get("no answer", 0),
                        got["lost"], got["duplicated"], rejoin))

    #  During the failover: retryable 503s or waits, never 500, and every
    #  sender finished its sends
    hosts.assert_exactly_once(sent, got, least=SENDERS)
    assert sent["gave_up"] == 0, "%d sends gave up after %d tries: %r" % (
        sent["gave_up"], LOAD_TRIES, sent)
    assert not sent["errors"], "sends answered other than 200: %r" % sent["errors"]
    odd = {k: v for k, v in outcomes.items() if k not in ("200", "503", "no answer")}
    assert not odd, "tries answered %r during the failover (only 200, or " \
        "503 to retry, expected)" % odd
    assert before is not None and after is not None, \
        "no acknowledgement before or after the loss: %r" % sent
    assert len(later) >= SENDERS, "only %d sends acknowledged after pgb was " \
        "promoted: the stores did not find the new primary: %r" % (
            len(later), sent)
    assert outcomes.get("503", 0) + outcomes.get("no answer", 0) >= 1, \
        "no try failed: the loss of the primary did not strike the load: %r" % sent

    #  One primary: pga is pgb's standby now, asked on each host
    assert af.in_recovery(pga) is True, "pga is not in recovery after it rejoined"
    assert af.in_recovery(pgb) is False, "pgb is not the primary"
    #  The standby has every message the primary has, and nothing
    #  acknowledged is lost or doubled after the rejoin
    count = "SELECT count(*) FROM zpost_messages"
    primary_rows = pg_hosts.psql_ok(pgb, af.local("pgb", pg_hosts.DBNAME), count)
    h.wait_until(lambda: pg_hosts.psql(pga, af.local("pga", pg_hosts.DBNAME), count)
                 == (0, primary_rows), 60 * h.TIME_SCALE, 0.5,
                 "pga to replay pgb's %s messages" % primary_rows)
    again = pg_hosts.check_again(topo)
    assert again["acknowledged"] == sent["acknowledged"] and again["lost"] == 0 \
        and again["duplicated"] == 0 and again["mismatched"] == 0, \
        "after pga rejoined: %r" % again
    h.wait_until(lambda: pg_hosts.psql(pgb, af.local("pgb"),
                                       "SHOW synchronous_standby_names")[1].strip()
                 not in ("", "''"), 60 * h.TIME_SCALE, 0.5,
                 "pgb to have pga as its synchronous standby")
    h.log("monitor events:\n" + af.events())


if __name__ == "__main__":
    h.run_tests([test_primary_host_lost], timeout=420)
