"""test_search - SEARCH (issue 14, item 4, the protocol's part), spoken
from ZPOST.md with pyzmq, through the real broker and store, on the back
end ZPOST_TEST_DB names.

- Matches in each field: `within` any, from, subject, body find exactly
  the messages holding the query in those fields, and the recipients are
  not searched. ASCII letters match either case; every other byte only
  itself (no Unicode folding: "CAFÉ" is not "café"); a substring, spaces
  included, no wildcards (% _ and a backslash are themselves, which on
  PostgreSQL are LIKE's own characters).
- Rows and paging are LIST's: 7 fields, the same bytes as LIST's row of
  the same entry (its seen mark included), newest first, pages by
  `before`; SEARCH marks nothing seen.
- Only one's own folder: another user's mail is never found, nor mail
  deleted from the folder searched (but the sender's copy still is), nor
  a freed message.
- Every bad input's status and detail; a query at the size limit (128
  bytes, ASCII and two-byte characters) is accepted and matches; 129 is
  413, 2 bytes 422.
- A store of the schema before SEARCH (LMDB 2, PostgreSQL 3, with its
  search index dropped) migrates and finds the old mail.
"""

import subprocess

import harness as h


def _users(broker, *names, password="password-1"):
    clients = {}
    for name in names:
        c = h.Client(broker, timeout=10)
        c.register(name, password)
        c.login(name, password)
        clients[name] = c
    return clients


def _send(client, recipients, subject, body):
    reply = client.expect(200, "SEND", recipients, subject, body)
    return int(reply.fields[0])


def _search(client, query, within="any", folder="inbox", limit=1000, before=0):
    """The rows, as lists of 7 str"""
    reply = client.expect(200, "SEARCH", folder, within, query, str(limit), str(before))
    return h.rows(reply, 7)


def _ids(rows):
    return [int(r[0]) for r in rows]


def _found(client, query, **kw):
    return _ids(_search(client, query, **kw))


def test_fields_and_case(tmp):
    broker, store = h.start_service(tmp)
    u = _users(broker, "alice", "bob", "carol", "lunchbox")
    m1 = _send(u["bob"], "alice", "Lunch Friday", "see you at noon")
    m2 = _send(u["carol"], "alice", "report", "the LUNCH menu is attached")
    m3 = _send(u["lunchbox"], "alice", "hello", "nothing to eat here")
    m4 = _send(u["bob"], "alice,carol", "caf\u00e9 CAF\u00c9", "50%_off at the caf\u00e9")
    m5 = _send(u["carol"], "alice", "path", "C:\\temp\\lunch and 50% more")
    m6 = _send(u["bob"], "alice", "two words", "lunch friday, lunch  friday")

    # each field alone, and any of them
    assert _found(u["alice"], "lunch") == [m6, m5, m3, m2, m1]
    assert _found(u["alice"], "lunch", within="subject") == [m1]
    assert _found(u["alice"], "lunch", within="body") == [m6, m5, m2]
    assert _found(u["alice"], "lunch", within="from") == [m3]
    assert _found(u["alice"], "carol", within="from") == [m5, m2]
    # the recipients are not searched: carol is only in m4's `to`
    assert _found(u["alice"], "carol", within="any") == [m5, m2]
    # ASCII letters either case, in the query and in the message
    assert _found(u["alice"], "LuNcH fRiDaY") == [m6, m1]
    assert _found(u["alice"], "NOON") == [m1]
    # a substring, not a word; spaces count as they are
    assert _found(u["alice"], "unc") == [m6, m5, m3, m2, m1]
    assert _found(u["alice"], "lunch  friday") == [m6]
    assert _found(u["alice"], "lunch friday", within="subject") == [m1]
    # no Unicode folding: é is not É; caf matches both spellings' first bytes
    assert _found(u["alice"], "caf\u00e9") == [m4]
    assert _found(u["alice"], "CAF\u00e9", within="subject") == [m4]
    assert _found(u["alice"], "caf\u00c9", within="subject") == [m4]
    assert _found(u["alice"], "caf\u00c9", within="body") == []
    assert _found(u["alice"], "\u00e9 caf", within="subject") == [m4]
    # nothing is a wildcard: % _ and \ are themselves
    assert _found(u["alice"], "50%_off") == [m4]
    assert _found(u["alice"], "50%") == [m5, m4]
    assert _found(u["alice"], "0_o") == []
    assert _found(u["alice"], "50_") == []
    assert _found(u["alice"], "c:\\temp\\l") == [m5]
    assert _found(u["alice"], "p\\\\l") == []
    # and a query that is nowhere
    assert _found(u["alice"], "dinner") == []
    # every trigram of the query is in the message, but not the query: the
    # index proposes it (LMDB's signature, PostgreSQL's pg_trgm), the
    # match refuses it
    m7 = _send(u["bob"], "alice", "pieces", "abcd bcde")
    assert _found(u["alice"], "abcde") == []
    assert _found(u["alice"], "abcd bcde") == [m7]


def test_rows_and_paging(tmp):
    broker, store = h.start_service(tmp)
    u = _users(broker, "alice", "bob")
    wanted = []
    for index in range(10):
        subject = "needle %d" % index if index % 3 != 1 else "hay %d" % index
        mid = _send(u["bob"], "alice", subject, "body %d" % index)
        if index % 3 != 1:
            wanted.append(mid)
    wanted.reverse()                    # newest first
    assert len(wanted) == 7
    u["alice"].expect(200, "READ", str(wanted[2]))
    unread = u["alice"].stats()["inbox-unread"]

    # a page at a time, as LIST pages: the smallest id as `before`
    pages, before = [], 0
    for _ in range(5):                  # 3 pages; a paging that never ends stops
        page = _found(u["alice"], "needle", limit=3, before=before)
        pages.append(page)
        if len(page) < 3:
            break
        before = page[-1]
    assert pages == [wanted[0:3], wanted[3:6], wanted[6:7]], pages
    assert _found(u["alice"], "needle", limit=1000, before=wanted[3]) == wanted[4:]
    assert _found(u["alice"], "needle", before=wanted[-1]) == []

    # LIST's rows, byte for byte, the seen mark included
    listed = {r[0]: r for r in h.rows(u["alice"].expect(200, "LIST", "inbox", "all",
                                                           "1000", "0"), 7)}
    for row in _search(u["alice"], "needle"):
        assert row == listed[row[0]], (row, listed[row[0]])
    seen = {int(r[0]): r[6] for r in _search(u["alice"], "needle")}
    assert seen[wanted[2]] == "1" and seen[wanted[0]] == "0", seen
    # SEARCH marks nothing seen
    assert u["alice"].stats()["inbox-unread"] == unread
    # the sent folder: its entries are seen
    sent = _search(u["bob"], "needle", folder="sent")
    assert _ids(sent) == wanted and {r[6] for r in sent} == {"1"}, sent


def test_own_folder_only(tmp):
    broker, store = h.start_service(tmp)
    u = _users(broker, "alice", "bob", "eve")
    m1 = _send(u["bob"], "alice", "secret plans", "the vault code is 1234")
    m2 = _send(u["bob"], "alice", "secret plans 2", "more of them")
    m3 = _send(u["eve"], "eve", "my secret", "eve's own")
    # eve finds her own mail, never alice's or bob's, in either folder
    assert _found(u["eve"], "secret") == [m3]
    assert _found(u["eve"], "secret", folder="sent") == [m3]
    assert _found(u["eve"], "vault") == []
    assert _found(u["alice"], "secret") == [m2, m1]
    assert _found(u["alice"], "secret", folder="sent") == []
    assert _found(u["bob"], "secret") == []
    assert _found(u["bob"], "secret", folder="sent") == [m2, m1]
    # deleted from alice's inbox: gone from her search, still in bob's sent
    u["alice"].expect(200, "DELETE", "inbox", str(m1))
    assert _found(u["alice"], "secret") == [m2]
    assert _found(u["alice"], "vault") == []
    assert _found(u["bob"], "vault", folder="sent") == [m1]
    # freed by both: found by no one
    u["bob"].expect(200, "DELETE", "sent", str(m1))
    for name in ("alice", "bob", "eve"):
        for folder in ("inbox", "sent"):
            assert _found(u[name], "vault", folder=folder) == [], (name, folder)
    # an account's mail goes with it: UNREGISTER, and the name again
    u["eve"].expect(200, "UNREGISTER", "password-1")
    again = _users(broker, "eve")["eve"]
    assert _found(again, "secret") == [] and _found(again, "secret", folder="sent") == []


def test_bad_input(tmp):
    broker, store = h.start_service(tmp)
    u = _users(broker, "alice", "bob")
    ascii_max = "q" * 127 + "z"                     # 128 bytes
    wide_max = "\u00e9" * 64                        # 128 bytes, 64 characters
    m1 = _send(u["bob"], "alice", "limits", "x " + ascii_max.upper() + " y")
    m2 = _send(u["bob"], "alice", "wide", wide_max + "!")
    # at the limit: accepted, and found
    assert _found(u["alice"], ascii_max) == [m1]
    assert _found(u["alice"], wide_max) == [m2]
    assert _found(u["alice"], "lim") == [m1]        # 3 bytes, the least
    # one byte over: 413 query; too short, a control character, not UTF-8: 422
    for query, status in ((ascii_max + "q", 413), (wide_max + "e", 413),
                          ("", 422), ("ab", 422), ("\u00e9", 422),
                          ("lim\tits", 422), ("two\nlines", 422), ("a\rb", 422),
                          ("esc\x1b[", 422), ("del\x7f", 422), (b"\xc3\x28ab", 422),
                          (b"ab\x00c", 422)):
        reply = u["alice"].expect(status, "SEARCH", "inbox", "any", query, "50", "0")
        assert reply.fields == [b"query"], (query, reply)
    for fields, field in ((("both", "any", "lim", "50", "0"), b"folder"),
                          (("Inbox", "any", "lim", "50", "0"), b"folder"),
                          (("inbox", "to", "lim", "50", "0"), b"within"),
                          (("inbox", "ANY", "lim", "50", "0"), b"within"),
                          (("inbox", "any", "lim", "0", "0"), b"limit"),
                          (("inbox", "any", "lim", "1001", "0"), b"limit"),
                          (("inbox", "any", "lim", "x", "0"), b"limit"),
                          (("inbox", "any", "lim", "50", "-1"), b"before"),
                          (("inbox", "any", "lim", "50", "01"), b"before")):
        reply = u["alice"].expect(422, "SEARCH", *fields)
        assert reply.fields == [field], (fields, reply)
    # a field short or one too many; no session
    u["alice"].expect(400, "SEARCH", "inbox", "any", "lim", "50")
    u["alice"].expect(400, "SEARCH", "inbox", "any", "lim", "50", "0", "0")
    u["alice"].expect(401, "SEARCH", "inbox", "any", "lim", "50", "0", token="")
    # limits: 1 and 1000 are fine
    assert _found(u["alice"], "lim", limit=1) == [m1]
    assert _found(u["alice"], "lim", limit=1000) == [m1]


def _set_back_schema(tmp, data):
    """The data as the zpost-store before SEARCH left it"""
    if h.BACKEND == "lmdb":
        cp = subprocess.run(["mdb_load", "-T", "-s", "meta", data],
                            input=b"schema-version\n2\n", capture_output=True,
                            timeout=60)
        assert cp.returncode == 0, cp
        return "from version 2 to 3"
    import pg
    pg.cluster().sql("DROP INDEX zpost_messages_search; "
                     "UPDATE zpost_meta SET value = 3 WHERE name = 'schema-version'",
                     pg.database_of(data))
    return "from version 3 to 4"


def test_schema_migrated(tmp):
    broker, store = h.start_service(tmp)
    u = _users(broker, "alice", "bob")
    m1 = _send(u["bob"], "alice", "old mail", "written before SEARCH")
    h.stop(store.proc)
    said = _set_back_schema(tmp, store.data_dir)
    store = h.start_store(tmp, broker.back)
    h.wait_store_ready(broker)
    assert "migrated the schema " + said in store.proc.log_text(), store.proc.log_text()
    assert _found(u["alice"], "BEFORE search") == [m1]
    m2 = _send(u["bob"], "alice", "new mail", "written after the migration")
    assert _found(u["alice"], "written") == [m2, m1]
    if h.BACKEND != "lmdb":
        _without_pg_trgm(tmp, broker, store, u["alice"], [m2, m1])


def _without_pg_trgm(tmp, broker, store, alice, written):
    """PostgreSQL: the index is there after the migration; a database
    where pg_trgm cannot be had (the extension gone, and its owner no
    longer allowed to create one) gets a warning at the store's start and
    the same rows; once allowed again, the next start makes the index"""
    import pg
    db = pg.database_of(store.data_dir)
    index = ("SELECT count (*) FROM pg_indexes"
             " WHERE indexname = 'zpost_messages_search'")
    assert pg.cluster().sql(index, db).strip() == "1"
    h.stop(store.proc)
    pg.cluster().sql("DROP EXTENSION pg_trgm CASCADE; "
                     "REVOKE CREATE ON DATABASE %s FROM %s" % (db, pg.ROLE), db)
    store = h.start_store(tmp, broker.back)
    h.wait_store_ready(broker)
    assert "no trigram index for SEARCH" in store.proc.log_text(), store.proc.log_text()
    assert pg.cluster().sql(index, db).strip() == "0"
    assert _found(alice, "written") == written
    assert _found(alice, "WRITTEN after", within="body") == written[:1]
    h.stop(store.proc)
    pg.cluster().sql("GRANT CREATE ON DATABASE %s TO %s" % (db, pg.ROLE), db)
    store = h.start_store(tmp, broker.back)
    h.wait_store_ready(broker)
    assert "no trigram index" not in store.proc.log_text(), store.proc.log_text()
    assert pg.cluster().sql(index, db).strip() == "1"
    assert _found(alice, "written") == written


if __name__ == "__main__":
    h.run_tests([
        test_fields_and_case,
        test_rows_and_paging,
        test_own_folder_only,
        test_bad_input,
        test_schema_migrated,
    ])
