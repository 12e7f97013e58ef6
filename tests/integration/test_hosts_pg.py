"""test_hosts_pg - many stores on many hosts, one PostgreSQL (issue 13, item 4)

On network-namespace hosts (hosts.py): a database host `db` running one
PostgreSQL (initdb and pg_ctl as postgres, listening on its address only,
trust for the test net alone), two store hosts s1 and s2, each running a
zpost-store with `--db 'host=DB port=5432 dbname=zpost user=zpost ...'`
linked to both brokers, broker hosts b1 and b2, and a client host whose
16 senders (loadgen.py) go through b1,b2, retrying a request through the
next broker with the same request id.

  - Both stores serve at once from the one database: every acknowledged
    message is in its recipient's inbox exactly once, each store answered
    a share of the requests (the replies each logs at its stop), STATS
    server gives the same figures whichever store answers, and they match
    the database and the inboxes; no 500 ever, no sender gave up.
  - s1's host is lost mid-load (its link down and every process in it
    killed at once): s2 carries on alone, the clients' retries with the
    same request ids end in acknowledgements, and exactly once holds.

The scripts choose their back end themselves (PostgreSQL, on its own
host): CMake registers them once, as integration_postgresql_test_hosts_pg.
"""

import time

import harness as h
import hosts
import pg_hosts

LOAD_TRIES = 8
LOAD_TIMEOUT = 2.0
SENDERS = 16


def _deploy(net, tmp):
    client = net.add_host("client")
    db = pg_hosts.PlainDb(net.add_host("db"))
    topo = pg_hosts.start_zpost(net, tmp, db.conninfo(), client=client)
    return db, topo


def _assert_clean(sent):
    """No sender gave up, no status but 200 and 503 was seen, ever."""
    assert sent["gave_up"] == 0, "%d sends gave up after %d tries: %r" % (
        sent["gave_up"], LOAD_TRIES, sent)
    assert not sent["errors"], "sends answered other than 200: %r" % sent["errors"]
    odd = {k: v for k, v in sent["try_outcomes"].items()
           if k not in ("200", "503", "no answer")}
    assert not odd, "tries answered %r (only 200, or 503 to retry, expected)" % odd


def test_two_store_hosts_one_database(tmp):
    """16 senders through b1,b2; s1 and s2 both serve from the database
    host's PostgreSQL; exactly once, spread, STATS consistent."""
    with hosts.TestNet() as net:
        db, topo = _deploy(net, tmp)
        sent, got = hosts.run_load(topo, duration=8.0, count=1000000,
                                   senders=SENDERS, timeout=LOAD_TIMEOUT,
                                   tries=LOAD_TRIES)
        hosts.assert_exactly_once(sent, got, least=SENDERS)
        _assert_clean(sent)
        assert got["unacknowledged_present"] == 0, got

        #  One database: every store gives the same figures, and they are
        #  the database's and the inboxes'
        st = pg_hosts.stats(topo)
        rows = [r for server in st.values() for r in server]
        h.log("stats through %s: %r" % (", ".join(st), rows[0]))
        for name in ("users", "messages", "bytes"):
            values = set(r[name] for r in rows)
            assert len(values) == 1, "STATS %s differs by store: %r" % (name, st)
        messages = int(db.sql("SELECT count(*) FROM zpost_messages"))
        users = int(db.sql("SELECT count(*) FROM zpost_users"))
        assert rows[0]["messages"] == messages == got["inbox"] == \
            sent["acknowledged"], "messages: STATS %d, database %d, inboxes %d, " \
            "acknowledged %d" % (rows[0]["messages"], messages, got["inbox"],
                                 sent["acknowledged"])
        assert rows[0]["users"] == users == SENDERS + 1, \
            "users: STATS %d, database %d, registered %d" % (
                rows[0]["users"], users, SENDERS + 1)

        #  Both served: each logs at its stop the replies it sent
        for store in topo.stores:
            h.stop(store.proc)
        replies = [pg_hosts.store_replies(s) for s in topo.stores]
        total = sum(replies)
        h.log("figures two stores, one database: acknowledged %d at %.0f/s, "
              "replies s1 %d, s2 %d, retried %d, tries %r" % (
                  sent["acknowledged"], sent["rate"], replies[0], replies[1],
                  sent["retried"], sent["try_outcomes"]))
        assert total >= sent["acknowledged"], (replies, sent)
        for name, n in zip(("s1", "s2"), replies):
            assert n >= total // 20, "store %s sent %d of %d replies: the " \
                "brokers did not spread the load over both store hosts " \
                "(%r)" % (name, n, total, replies)
        db.stop()


def test_store_host_lost(tmp):
    """s1's host lost mid-load: s2 serves alone, every sender finishes,
    exactly once."""
    with hosts.TestNet() as net:
        db, topo = _deploy(net, tmp)
        lost = {}

        def fault():
            time.sleep(3.0)
            lost["at"] = pg_hosts.lose_host(topo.store_hosts[0])
            h.log("fault: host s1 lost (link down, every process killed)")
        sent, got = hosts.run_load(topo, duration=14.0, fault=fault,
                                   count=1000000, senders=SENDERS,
                                   timeout=LOAD_TIMEOUT, tries=LOAD_TRIES)
        hosts.assert_exactly_once(sent, got, least=SENDERS)
        _assert_clean(sent)
        acks = pg_hosts.acks_of(topo)
        before, after = pg_hosts.window_around(acks, lost["at"])
        later = [a for a in acks if a["at"] > lost["at"]]
        h.log("figures store host lost: acknowledged %d (%d after the loss), "
              "no acknowledgement for %.2f s around it (last %+.2f s, next "
              "%+.2f s), retried %d, tries %r" % (
                  sent["acknowledged"], len(later),
                  (after or 0) - (before or 0), before or 0, after or 0,
                  sent["retried"], sent["try_outcomes"]))
        assert before is not None, "nothing acknowledged before the loss: %r" % sent
        assert len(later) >= SENDERS, "only %d sends acknowledged after s1 " \
            "was lost: s2 did not carry on: %r" % (len(later), sent)
        #  s2 alone answers now, through both brokers
        status = topo.ping()
        assert all(v == 200 for v in status.values()), status
        assert topo.stores[1].proc.alive(), "s2 died"
        db.stop()


if __name__ == "__main__":
    h.run_tests([test_two_store_hosts_one_database, test_store_host_lost],
                timeout=240)
