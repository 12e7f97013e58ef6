"""test_shell_mail - the guided session as a mail reader (issue 14, items 1,
2, 3, 5, 7, 8, 9, 12, 13), on a pseudo-terminal as a person uses it:

- an unknown recipient is named before the subject is asked;
- a login that ends while the body is typed (PASSWD from elsewhere ends
  the session) keeps the message as a draft, and "l" logs in again and
  sends it; the draft is gone once sent;
- a recipient gone between the check and the send (430): t changes the
  recipients, e edits the body in $EDITOR, and it goes;
- Ctrl-C in the middle of a body keeps what was typed as a draft, which
  the drafts entry (7) sends;
- 120 messages: the totals are the folder's (not "50 messages"), n and p
  page through ids 120..1, and the first and last pages say so;
- on a message: r (Re:, in its thread), f (Fwd:, the original quoted), t
  (the thread), s (flagged: ! in the list), u (unread again), d (asked,
  and the sentence names the id);
- delete this account (8): the name must be typed, then the password.
"""

import os
import re

import harness as h
import test_shell as shell

PASSWORD = "correct horse"


def _service_with_users(tmp, *names):
    broker, store = h.start_service(tmp)
    client = h.Client(broker, timeout=10)
    for name in names:
        client.register(name, PASSWORD)
    client.close()
    return broker, store


def _user(broker, name, password=PASSWORD):
    client = h.Client(broker, timeout=10)
    client.login(name, password)
    return client


def _drafts(tmp):
    path = os.path.join(h.client_home(tmp), ".local", "state", "zpost", "drafts")
    return sorted(os.listdir(path)) if os.path.isdir(path) else []


def _leave(pty):
    shell._menu(pty)
    pty.send(b"\x04")
    pty.expect(b"Goodbye.")
    assert pty.wait() == 0


def test_unknown_recipient_before_the_subject(tmp):
    broker, _ = _service_with_users(tmp, "alice", "bob")
    pty = shell._session(tmp, broker)
    try:
        shell._login(pty, "alice")
        shell._menu(pty)
        pty.line("2")
        pty.expect(b"To (names, separated by commas): ")
        pty.line("bob, nobdy")
        shown = pty.expect(b"zpost> ")
        assert b"No such user: nobdy" in shown, shown
        assert b"Subject:" not in shown and b"Type the message" not in shown, shown
        pty.send(b"\x04")
        pty.expect(b"Goodbye.")
        assert pty.wait() == 0
    finally:
        pty.close()


def test_draft_kept_when_the_login_ends(tmp):
    broker, _ = _service_with_users(tmp, "alice", "bob")
    pty = shell._session(tmp, broker)
    try:
        shell._login(pty, "alice")
        shell._menu(pty)
        pty.line("2")
        pty.expect(b"To (names, separated by commas): ")
        pty.line("bob")
        pty.expect(b"Subject: ")
        pty.line("Long letter")
        pty.expect(b"Ctrl-D.")
        pty.line("Dear Bob,")
        pty.line("many words.")
        # Meanwhile the session ends (a password change elsewhere ends
        # every other session, as an idle timeout would)
        elsewhere = _user(broker, "alice")
        elsewhere.expect(200, "PASSWD", PASSWORD, "another password")
        elsewhere.close()
        pty.line(".")
        pty.expect(b"Your session has ended")
        pty.expect(b"Your message is kept as draft 1.")
        pty.expect(b"l log in again and send")
        assert _drafts(tmp) == ["1.head", "1.txt"], _drafts(tmp)
        pty.line("l")
        pty.expect(b"Username: ")
        pty.line("alice")
        pty.expect(b"Password: ")
        pty.line("another password")
        pty.expect(b"Logged in as alice.")
        sent = pty.expect(re.compile(rb"Sent to bob \(message \d+\)\."))
        sent_id = re.search(rb"message (\d+)", sent).group(1).decode()
        assert _drafts(tmp) == [], _drafts(tmp)
        _leave(pty)
    finally:
        pty.close()
    bob = _user(broker, "bob")
    rows = h.rows(bob.expect(200, "LIST", "inbox", "all", "10", "0"), 7)
    assert [r[3] for r in rows] == ["Long letter"], rows
    # "Sent to bob (message N)": N is the id bob's inbox shows (item 8)
    assert rows[0][0] == sent_id, (rows, sent_id)
    reply = bob.expect(200, "READ", rows[0][0])
    assert reply.fields[5] == b"Dear Bob,\nmany words.\n", reply
    bob.close()


def test_recipient_gone_change_and_edit(tmp):
    """bob deletes his account while alice writes to him: the SEND's 430
    keeps the draft; t changes the recipients, e edits the body in the
    editor, and the message goes to carol as edited."""
    broker, _ = _service_with_users(tmp, "alice", "bob", "carol")
    editor = os.path.join(tmp, "editor.sh")
    with open(editor, "w") as f:
        f.write("#!/bin/sh\necho 'P.S. edited' >> \"$1\"\n")
    os.chmod(editor, 0o700)
    pty = shell._session(tmp, broker, env={"EDITOR": editor})
    try:
        shell._login(pty, "alice")
        shell._menu(pty)
        pty.line("2")
        pty.expect(b"To (names, separated by commas): ")
        pty.line("bob")
        pty.expect(b"Subject: ")
        pty.line("Plans")
        pty.expect(b"Ctrl-D.")
        pty.line("See you.")
        bob = _user(broker, "bob")
        bob.expect(200, "UNREGISTER", PASSWORD)
        bob.close()
        pty.line(".")
        pty.expect(b"No such user: bob")
        pty.expect(b"Your message is kept as draft 1.")
        pty.expect(b"t change the recipients")
        pty.line("e")
        # Still refused (bob is gone), and still kept
        pty.expect(b"No such user: bob")
        pty.expect(b"t change the recipients")
        pty.line("t")
        pty.expect(b"To (names, separated by commas): ")
        pty.line("carol")
        pty.expect(re.compile(rb"Sent to carol \(message \d+\)\."))
        assert _drafts(tmp) == [], _drafts(tmp)
        _leave(pty)
    finally:
        pty.close()
    carol = _user(broker, "carol")
    rows = h.rows(carol.expect(200, "LIST", "inbox", "all", "10", "0"), 7)
    reply = carol.expect(200, "READ", rows[0][0])
    assert reply.fields[5] == b"See you.\nP.S. edited\n", reply
    carol.close()


def test_ctrl_c_keeps_what_was_typed(tmp):
    broker, _ = _service_with_users(tmp, "alice", "bob")
    pty = shell._session(tmp, broker)
    try:
        shell._login(pty, "alice")
        shell._menu(pty)
        pty.line("2")
        pty.expect(b"To (names, separated by commas): ")
        pty.line("bob")
        pty.expect(b"Subject: ")
        pty.line("Half done")
        pty.expect(b"Ctrl-D.")
        pty.line("The first half")
        # Ctrl-C once the line is read (its echo ends it): a SIGINT sent
        # with it could overtake the line in the terminal's queue
        pty.expect(b"The first half\r\n")
        pty.send(b"\x03")
        pty.expect(b"What you typed is kept as draft 1")
        shell._menu(pty)
        pty.line("7")
        pty.expect(b"1  to bob: Half done")
        pty.expect(b"Send which? ")
        pty.line("1")
        pty.expect(re.compile(rb"Sent to bob \(message \d+\)\."))
        assert _drafts(tmp) == [], _drafts(tmp)
        shell._menu(pty)
        pty.line("7")
        pty.expect(b"No drafts")
        _leave(pty)
    finally:
        pty.close()


def test_pages_and_totals(tmp):
    broker, _ = _service_with_users(tmp, "alice")
    alice = _user(broker, "alice")
    ids = [int(alice.expect(200, "SEND", "alice", "note %d" % n, "x").fields[0])
           for n in range(120)]
    alice.close()
    ids.reverse()                   # newest first, as the inbox shows them
    pages = [ids[0:50], ids[50:100], ids[100:120]]

    def shown_ids(listing):
        return [int(m) for m in re.findall(rb"\r\n\*[ !]\s*(\d+) ", listing)]

    pty = shell._session(tmp, broker)
    try:
        shell._login(pty, "alice")
        shell._menu(pty)
        pty.line("1")
        listing = pty.expect(b"Read which?")
        assert b"120 messages, 120 unread (*); page 1 of 3" in listing, listing
        assert shown_ids(listing) == pages[0], shown_ids(listing)
        pty.line("n")
        listing = pty.expect(b"Read which?")
        assert b"page 2 of 3" in listing and shown_ids(listing) == pages[1], listing
        pty.line("n")
        listing = pty.expect(b"Read which?")
        assert b"page 3 of 3" in listing and shown_ids(listing) == pages[2], listing
        pty.line("n")
        assert b"This is the last page." in pty.expect(b"Read which?")
        pty.line("p")
        listing = pty.expect(b"Read which?")
        assert b"page 2 of 3" in listing and shown_ids(listing) == pages[1], listing
        pty.line("p")
        pty.expect(b"Read which?")
        pty.line("p")
        assert b"This is the first page." in pty.expect(b"Read which?")
        # Reading one on page 3 by its id; the totals follow
        pty.line(str(pages[2][-1]))
        pty.expect(b"Subject: note 0")
        pty.expect(b"Read which?")
        pty.line("")
        shell._menu(pty)
        pty.line("1")
        assert b"120 messages, 119 unread (*)" in pty.expect(b"Read which?")
        pty.line("")
        _leave(pty)
    finally:
        pty.close()


def test_message_actions(tmp):
    broker, _ = _service_with_users(tmp, "alice", "bob", "carol")
    alice = _user(broker, "alice")
    first = alice.expect(200, "SEND", "bob,carol", "Lunch?", "Noon?\n").fields[0].decode()
    alice.close()
    pty = shell._session(tmp, broker)
    try:
        shell._login(pty, "bob")
        shell._menu(pty)
        pty.line("1")
        pty.expect(b"Read which?")
        pty.line("r")
        pty.expect(b"Read a message first")
        pty.line(first)
        pty.expect(b"r reply, a reply to all, f forward, t thread")
        pty.expect(b"Read which?")
        # Reply: to alice, Re:, in the thread
        pty.line("r")
        pty.expect(b"Reply to alice, subject: Re: Lunch?")
        pty.expect(b"Ctrl-D.")
        pty.line("Noon it is.")
        pty.line(".")
        answer = pty.expect(re.compile(rb"Sent to alice \(message (\d+)\)\."))
        answer = re.search(rb"message (\d+)", answer).group(1).decode()
        pty.expect(b"Read which?")
        # Reply to all: alice and carol
        pty.line("a")
        pty.expect(b"Reply to alice, carol")
        pty.expect(b"Ctrl-D.")
        pty.line(".")
        pty.expect(b"The message is empty, so it was not sent.")
        pty.expect(b"Read which?")
        # Forward: to carol, Fwd:, the original quoted
        pty.line("f")
        pty.expect(b"Forward to (names, separated by commas): ")
        pty.line("carol")
        pty.expect(b"Type a note above the forwarded message")
        pty.line("FYI")
        pty.line(".")
        forwarded = pty.expect(re.compile(rb"Sent to carol \(message (\d+)\)\."))
        forwarded = re.search(rb"message (\d+)", forwarded).group(1).decode()
        pty.expect(b"Read which?")
        # The thread: the first and the answer
        pty.line("t")
        thread = pty.expect(b"Read which?")
        assert b"Thread %s, newest first" % first.encode() in thread, thread
        assert b"[re %s] Re: Lunch?" % first.encode() in thread, thread
        # Flag: ! in the list; unread again: * in the list
        pty.line("s")
        listing = pty.expect(b"Read which?")
        assert b"Message %s is flagged (!)." % first.encode() in listing, listing
        assert re.search(rb"\r\n !\s*%s " % first.encode(), listing), listing
        pty.line("u")
        listing = pty.expect(b"Read which?")
        assert re.search(rb"\r\n\*!\s*%s " % first.encode(), listing), listing
        # Delete: asked, and the id said
        pty.line("d")
        pty.expect(b"Delete message %s? It cannot be undone. [y/N] " % first.encode())
        pty.line("y")
        pty.expect(b"Deleted message %s from your inbox." % first.encode())
        pty.expect(b"Your inbox is empty.")
        # Nothing left to read: back at the menu. Statistics in words
        shell._menu(pty)
        pty.line("4")
        stats = pty.expect(b"zpost> ")
        assert b"Inbox: 0 messages, 0 unread" in stats, stats
        assert b"Sent folder: 2 messages" in stats and b"Quota: " in stats, stats
        pty.send(b"\x04")
        pty.expect(b"Goodbye.")
        assert pty.wait() == 0
    finally:
        pty.close()
    carol = _user(broker, "carol")
    reply = carol.expect(200, "READ", forwarded)
    assert reply.fields[3] == b"Fwd: Lunch?", reply
    assert reply.fields[5].startswith(b"FYI\n\n---------- Forwarded message"), reply
    assert b"\n> Noon?\n" in reply.fields[5], reply
    carol.close()
    # bob's answer is in the thread of the first message
    bob = _user(broker, "bob")
    reply = bob.expect(200, "THREAD", answer, "10", "0")
    assert reply.fields[0] == first.encode(), reply
    bob.close()


def test_delete_the_account(tmp):
    broker, _ = _service_with_users(tmp, "alice")
    pty = shell._session(tmp, broker)
    try:
        shell._login(pty, "alice")
        shell._menu(pty)
        pty.line("8")
        pty.expect(b"Type the name alice to go on: ")
        pty.line("3")
        pty.expect(b"Nothing was deleted.")
        shell._menu(pty)
        pty.line("8")
        pty.expect(b"Type the name alice to go on: ")
        pty.line("alice")
        pty.expect(b"Password: ")
        pty.line("wrong password")
        pty.expect(b"The password is wrong; the account was not deleted.")
        shell._menu(pty)
        pty.line("8")
        pty.expect(b"Type the name alice to go on: ")
        pty.line("alice")
        pty.expect(b"Password: ")
        pty.line(PASSWORD)
        pty.expect(b"Deleted the account alice, with its mail and sessions.")
        # Back at the login menu
        pty.expect(b"create an account")
        shell._menu(pty)
        pty.line("3")
        pty.expect(b"Goodbye.")
        assert pty.wait() == 0
    finally:
        pty.close()
    client = h.Client(broker, timeout=10)
    client.expect(403, "LOGIN", "alice", PASSWORD)
    client.close()


def test_unread_count_and_new_mail_at_the_menu(tmp):
    """The logged-in menu's title says how many messages are unread, and
    mail that came while the person was elsewhere is announced when the
    menu comes back (issue 14, item 6: a WATCH that does not wait)."""
    broker, _ = _service_with_users(tmp, "alice", "bob")
    alice = _user(broker, "alice")
    alice.expect(200, "SEND", "bob", "first", "1")
    pty = shell._session(tmp, broker)
    try:
        shell._login(pty, "bob")
        title = pty.expect(b"zpost> ")
        assert b"bob on " in title and b", 1 unread" in title, title
        assert b"New mail" not in title, title
        sent = alice.expect(200, "SEND", "bob", "second", "2").fields[0].decode()
        pty.line("")                        # the menu again
        shown = pty.expect(b"zpost> ")
        assert ("New mail has arrived (message %s is the newest)." % sent).encode() \
            in shown, shown
        assert b", 2 unread" in shown, shown
        pty.line("")                        # nothing new: nothing said
        shown = pty.expect(b"zpost> ")
        assert b"New mail" not in shown and b", 2 unread" in shown, shown
        pty.send(b"\x04")
        pty.expect(b"Goodbye.")
        assert pty.wait() == 0
    finally:
        pty.close()
    alice.close()


def test_search_from_the_inbox(tmp):
    """/TEXT at the inbox's prompt lists the messages that hold it (SEARCH);
    an id from that list reads as from the inbox."""
    broker, _ = _service_with_users(tmp, "alice", "bob")
    alice = _user(broker, "alice")
    lunch = alice.expect(200, "SEND", "bob", "Lunch on Friday", "noon").fields[0].decode()
    alice.expect(200, "SEND", "bob", "Weather", "rain")
    alice.close()
    pty = shell._session(tmp, broker)
    try:
        shell._login(pty, "bob")
        shell._menu(pty)
        pty.line("1")
        pty.expect(b"Read which?")
        pty.line("/LUNCH")
        shown = pty.expect(b"Read which?")
        assert b"Messages that hold 'LUNCH'" in shown, shown
        assert b"Lunch on Friday" in shown and b"Weather" not in shown, shown
        pty.line("/snow")
        assert b"No message in your inbox holds 'snow'." in pty.expect(b"Read which?")
        pty.line("/ab")
        assert b"3 to 128 bytes" in pty.expect(b"Read which?")
        pty.line(lunch)
        pty.expect(b"Subject: Lunch on Friday")
        pty.expect(b"Read which?")
        pty.line("")
        _leave(pty)
    finally:
        pty.close()


def test_sent_folder(tmp):
    """Menu 9 lists the sent folder, newest first with the recipients; an id
    reads one; another key is answered with what it takes."""
    broker, _ = _service_with_users(tmp, "alice", "bob", "carol")
    alice = _user(broker, "alice")
    first = alice.expect(200, "SEND", "bob", "Plans", "see you").fields[0].decode()
    alice.expect(200, "SEND", "bob,carol", "Party", "at eight")
    alice.close()
    pty = shell._session(tmp, broker)
    try:
        shell._login(pty, "alice")
        shell._menu(pty)
        pty.line("9")
        listing = pty.expect(b"Read which?")
        assert listing.index(b"Party") < listing.index(b"Plans"), listing
        assert b"bob,carol" in listing or b"bob, carol" in listing, listing
        pty.line(first)
        pty.expect(b"Subject: Plans")
        pty.expect(b"Read which?")
        pty.line("x")
        assert b"then r, a, f or t" in pty.expect(b"Read which?")
        pty.line("")
        _leave(pty)
    finally:
        pty.close()


if __name__ == "__main__":
    h.run_tests([
        test_unknown_recipient_before_the_subject,
        test_draft_kept_when_the_login_ends,
        test_recipient_gone_change_and_edit,
        test_ctrl_c_keeps_what_was_typed,
        test_pages_and_totals,
        test_message_actions,
        test_delete_the_account,
        test_unread_count_and_new_mail_at_the_menu,
        test_search_from_the_inbox,
        test_sent_folder,
    ])
