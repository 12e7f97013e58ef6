"""test_client_mail - the mail side of the client (issue 14, items 1, 2, 3,
5 and 7, one-shot commands):

- the recipients and the login are checked (LOOKUP) before the editor
  opens: a typo costs no writing; the editor never runs;
- what was written in the editor is kept as a draft (0600, under
  $XDG_STATE_HOME/zpost/drafts) when the SEND fails after it (a login that
  ended while the editor was open: 401; a broker that gives no answer),
  zpost drafts lists it, zpost send --draft N sends it, and it goes only
  once the SEND got 200;
- zpost drafts edit / delete, and a draft of another user is not sent;
- zpost reply (Re: once, the sender; --all; --quote), zpost forward (Fwd:,
  the original quoted), zpost thread;
- zpost mark (seen, unseen, flagged, unflagged), zpost list --flagged and
  the ! of a flagged row;
- zpost list past 50: the folder's total and the next page's command;
- zpost unregister: asks for --yes without a terminal, a wrong password
  deletes nothing, the right one deletes the account and forgets the login.
"""

import json
import os
import re
import stat

import harness as h
import test_shell as shell

PASSWORD = "correct horse"


def _zpost(tmp, broker, args, env=None, stdin=None, expect_rc=0):
    rc, out, err, _ = h.run_client(tmp, args, broker=broker, env=env, stdin=stdin)
    assert rc == expect_rc, "zpost %s: rc %d (expected %d)\nstdout %r\nstderr %r" \
        % (" ".join(args), rc, expect_rc, out, err)
    return out, err


def _login(tmp, broker, name):
    return _zpost(tmp, broker, ["login", name], env={"ZPOST_PASSWORD": PASSWORD})


def _service_with_users(tmp, *names):
    broker, store = h.start_service(tmp)
    client = h.Client(broker, timeout=10)
    for name in names:
        client.register(name, PASSWORD)
    client.close()
    return broker, store


def _drafts_dir(tmp):
    return os.path.join(h.client_home(tmp), ".local", "state", "zpost", "drafts")


def _editor(tmp, name, script):
    """An editor: a shell script that gets the file's path as $1."""
    path = os.path.join(tmp, name)
    with open(path, "w") as f:
        f.write("#!/bin/sh\n" + script)
    os.chmod(path, 0o700)
    return path


def _on_terminal(tmp, broker, args, env):
    """zpost args on a pseudo-terminal (so that the editor path is taken);
    returns (rc, what the terminal showed)."""
    pty = shell.Pty(tmp, ["--server", broker.front, "--server-key", broker.public_key]
                    + list(args), env)
    try:
        rc = pty.wait(60)
        return rc, pty.output.decode("utf-8", "replace")
    finally:
        pty.close()


def _inbox(tmp, broker, name):
    _login(tmp, broker, name)
    return json.loads(_zpost(tmp, broker, ["list", "--json"])[0])


def test_recipients_checked_before_the_editor(tmp):
    broker, _ = _service_with_users(tmp, "alice", "bob")
    _login(tmp, broker, "alice")
    ran = os.path.join(tmp, "editor-ran")
    editor = _editor(tmp, "editor.sh", "touch '%s'\necho words > \"$1\"\n" % ran)
    rc, shown = _on_terminal(tmp, broker, ["send", "--to", "bob,nobdy", "-s", "hi"],
                             {"EDITOR": editor})
    assert rc == 1, (rc, shown)
    assert "no such user: nobdy" in shown, shown
    assert not os.path.exists(ran), "the editor ran before the names were checked"
    assert not os.listdir(_drafts_dir(tmp)) if os.path.isdir(_drafts_dir(tmp)) else True

    # A login that has ended is found before the editor too
    client = h.Client(broker, timeout=10)
    client.login("alice", PASSWORD)
    client.close()
    _zpost(tmp, broker, ["logout"])
    rc, shown = _on_terminal(tmp, broker, ["send", "--to", "bob", "-s", "hi"],
                             {"EDITOR": editor})
    assert rc == 1 and "zpost login" in shown, (rc, shown)
    assert not os.path.exists(ran)

    # With everything right, the editor runs and the message goes
    _login(tmp, broker, "alice")
    rc, shown = _on_terminal(tmp, broker, ["send", "--to", "bob", "-s", "hi"],
                             {"EDITOR": editor})
    assert rc == 0 and "sent message" in shown, (rc, shown)
    assert os.path.exists(ran)
    assert os.listdir(_drafts_dir(tmp)) == [], os.listdir(_drafts_dir(tmp))


def test_draft_kept_when_sending_fails(tmp):
    broker, _ = _service_with_users(tmp, "alice", "bob")
    _login(tmp, broker, "alice")
    # The login ends while the person writes (as an idle session expires):
    # the editor logs out, then saves the words
    zpost = "'%s' --server '%s' --server-key '%s'" % (h.binary("zpost"), broker.front,
                                                      broker.public_key)
    editor = _editor(tmp, "editor.sh",
                     "%s logout >/dev/null 2>&1\nprintf 'Dear Bob,\\nmy words\\n' > \"$1\"\n"
                     % zpost)
    rc, shown = _on_terminal(tmp, broker, ["send", "--to", "bob", "-s", "kept"],
                             {"EDITOR": editor})
    assert rc == 1, (rc, shown)
    assert "kept as draft 1" in shown and "zpost send --draft 1" in shown, shown
    drafts = _drafts_dir(tmp)
    body_path = os.path.join(drafts, "1.txt")
    assert open(body_path).read() == "Dear Bob,\nmy words\n"
    assert stat.S_IMODE(os.stat(body_path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(os.path.join(drafts, "1.head")).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(drafts).st_mode) == 0o700

    out, _ = _zpost(tmp, broker, ["drafts"])
    assert re.match(r"1  \S+ \S+  alice to bob: kept\n", out), out
    listed = json.loads(_zpost(tmp, broker, ["drafts", "--json"])[0])
    assert listed[0]["draft"] == 1 and listed[0]["to"] == ["bob"], listed
    assert listed[0]["subject"] == "kept" and listed[0]["size"] == 19, listed

    # No answer (the broker stopped): still kept
    _login(tmp, broker, "alice")
    h.freeze(broker.proc)
    try:
        rc, out, err, _ = h.run_client(tmp, ["--timeout", "300", "--retries", "1",
                                             "send", "--draft", "1"], broker=broker)
    finally:
        h.thaw(broker.proc)
    assert rc == 3 and "kept as draft 1" in err, (rc, out, err)
    assert os.path.exists(body_path)

    # Sent at last: the draft goes, bob has the words
    out, err = _zpost(tmp, broker, ["send", "--draft", "1"])
    assert re.fullmatch(r"sent message \d+ from alice to bob\n", out), out
    assert not os.path.exists(body_path)
    assert _zpost(tmp, broker, ["drafts"])[0].startswith("no drafts"), "draft left"
    inbox = _inbox(tmp, broker, "bob")
    assert [m["subject"] for m in inbox] == ["kept"], inbox
    _zpost(tmp, broker, ["send", "--draft", "1"], expect_rc=1)


def test_drafts_edit_delete_and_owner(tmp):
    broker, _ = _service_with_users(tmp, "alice", "bob", "carol")
    _login(tmp, broker, "alice")
    # A typo found only by SEND (the one-shot -m path does not keep drafts;
    # a draft file written by hand stands for one the guided session kept)
    drafts = _drafts_dir(tmp)
    os.makedirs(drafts, mode=0o700)
    with open(os.path.join(drafts, "4.head"), "w") as f:
        f.write("user: alice\nserver: x\nto: bobb\nsubject: typo\nin-reply-to: 0\n"
                "date: 0\n")
    with open(os.path.join(drafts, "4.txt"), "w") as f:
        f.write("first words\n")
    out, err = _zpost(tmp, broker, ["send", "--draft", "4"], expect_rc=1)
    assert "no such user: bobb" in err and "kept as draft 4" in err, err
    # --to puts it right, and is kept with the draft
    editor = _editor(tmp, "editor.sh", "echo 'more words' >> \"$1\"\n")
    _zpost(tmp, broker, ["drafts", "edit", "4"], env={"EDITOR": editor})
    assert open(os.path.join(drafts, "4.txt")).read() == "first words\nmore words\n"
    # Another user's draft is not sent as theirs
    _login(tmp, broker, "carol")
    out, err = _zpost(tmp, broker, ["send", "--draft", "4", "--to", "bob"], expect_rc=1)
    assert "written by alice" in err, err
    _login(tmp, broker, "alice")
    out, err = _zpost(tmp, broker, ["drafts", "resume", "4"], expect_rc=1)
    out, err = _zpost(tmp, broker, ["send", "--draft", "4", "--to", "bob"])
    assert "to bob" in out, out
    inbox = _inbox(tmp, broker, "bob")
    _login(tmp, broker, "bob")
    body = json.loads(_zpost(tmp, broker, ["read", "--json", str(inbox[0]["id"])])[0])
    assert body["body"] == "first words\nmore words\n", body

    # delete, and numbers that are not drafts
    with open(os.path.join(drafts, "7.head"), "w") as f:
        f.write("user: bob\nto: alice\nsubject: s\n")
    out, _ = _zpost(tmp, broker, ["drafts", "delete", "7"])
    assert out == "deleted draft 7\n", out
    _zpost(tmp, broker, ["drafts", "delete", "7"], expect_rc=1)
    _zpost(tmp, broker, ["drafts", "delete", "x"], expect_rc=2)
    _zpost(tmp, broker, ["send", "--draft", "1", "-m", "x"], expect_rc=2)


def test_reply_forward_thread(tmp):
    broker, _ = _service_with_users(tmp, "alice", "bob", "carol", "dan")
    _login(tmp, broker, "alice")
    first = json.loads(_zpost(tmp, broker, ["send", "--json", "--to", "bob,carol",
                                            "-s", "Lunch?", "-m", "Noon?\nOr one?"])[0])
    _login(tmp, broker, "bob")
    out, _ = _zpost(tmp, broker, ["reply", str(first["id"]), "-m", "Noon."])
    match = re.fullmatch(r"sent message (\d+) from bob to alice, in reply to message "
                         r"%d\n" % first["id"], out)
    assert match, out
    answer = int(match.group(1))
    facts = json.loads(_zpost(tmp, broker, ["reply", "--json", "--all", "--quote",
                                            str(first["id"]), "-m", "All of us?"])[0])
    assert facts["to"] == ["alice", "carol"], facts
    assert facts["in_reply_to"] == first["id"] and facts["thread"] == first["id"], facts
    _login(tmp, broker, "carol")
    got = json.loads(_zpost(tmp, broker, ["read", "--json", str(facts["id"])])[0])
    assert got["subject"] == "Re: Lunch?", got
    assert "alice wrote:\n> Noon?\n> Or one?\n\nAll of us?" in got["body"], got
    # Re: once, however deep
    _login(tmp, broker, "alice")
    out, _ = _zpost(tmp, broker, ["reply", str(answer), "-m", "Fine."])
    third = int(re.match(r"sent message (\d+) ", out).group(1))
    got = json.loads(_zpost(tmp, broker, ["read", "--json", str(third)])[0])
    assert got["subject"] == "Re: Lunch?" and got["to"] == ["bob"], got

    # The thread, as alice holds it: her first, bob's two answers, her own
    out, _ = _zpost(tmp, broker, ["thread", str(third)])
    assert out.startswith("thread %d, newest first:\n" % first["id"]), out
    assert "[re %d] Re: Lunch?" % answer in out, out
    assert out.endswith("4 messages of thread %d in the folders of alice\n"
                        % first["id"]), out
    thread = json.loads(_zpost(tmp, broker, ["thread", "--json", str(first["id"])])[0])
    assert thread["thread"] == first["id"], thread
    assert [m["id"] for m in thread["messages"]] == \
        [third, facts["id"], answer, first["id"]], thread
    assert thread["messages"][0]["in_reply_to"] == answer, thread
    _zpost(tmp, broker, ["thread", "999999"], expect_rc=1)
    _zpost(tmp, broker, ["reply", "999999", "-m", "x"], expect_rc=1)

    # Forward: a new message, Fwd:, the original quoted
    out, _ = _zpost(tmp, broker, ["forward", str(first["id"]), "dan", "-m", "FYI"])
    forwarded = int(re.match(r"sent message (\d+) from alice to dan", out).group(1))
    _login(tmp, broker, "dan")
    got = json.loads(_zpost(tmp, broker, ["read", "--json", str(forwarded)])[0])
    assert got["subject"] == "Fwd: Lunch?", got
    assert got["body"].startswith("FYI\n\n---------- Forwarded message ----------\n"
                                  "From: alice\n"), got
    assert "Subject: Lunch?\nTo: bob,carol\n\n> Noon?\n> Or one?\n" in got["body"], got
    thread = json.loads(_zpost(tmp, broker, ["thread", "--json", str(forwarded)])[0])
    assert thread["thread"] == forwarded, thread
    _zpost(tmp, broker, ["forward", str(forwarded), "no one"], expect_rc=2)


def test_reply_in_the_editor_quotes(tmp):
    broker, _ = _service_with_users(tmp, "alice", "bob")
    _login(tmp, broker, "alice")
    first = json.loads(_zpost(tmp, broker, ["send", "--json", "--to", "bob",
                                            "-s", "Plan", "-m", "Step one"])[0])
    _login(tmp, broker, "bob")
    seen = os.path.join(tmp, "seen")
    editor = _editor(tmp, "editor.sh", "cp \"$1\" '%s'\necho 'Agreed.' >> \"$1\"\n" % seen)
    rc, shown = _on_terminal(tmp, broker, ["reply", "--quote", str(first["id"])],
                             {"EDITOR": editor})
    assert rc == 0, (rc, shown)
    assert open(seen).read().endswith("alice wrote:\n> Step one\n"), open(seen).read()
    # Saved untouched (the quote alone): nothing is sent, nothing kept
    editor = _editor(tmp, "same.sh", "true\n")
    rc, shown = _on_terminal(tmp, broker, ["reply", "--quote", str(first["id"])],
                             {"EDITOR": editor})
    assert rc == 2 and "only the quote" in shown, (rc, shown)
    assert os.listdir(_drafts_dir(tmp)) == []


def test_mark_and_flagged(tmp):
    broker, _ = _service_with_users(tmp, "alice")
    _login(tmp, broker, "alice")
    ids = []
    for number in range(3):
        ids.append(json.loads(_zpost(tmp, broker, ["send", "--json", "--to", "alice",
                                                   "-s", "note %d" % number,
                                                   "-m", "x"])[0])["id"])
    out, _ = _zpost(tmp, broker, ["mark", str(ids[1]), "flagged"])
    assert out == "marked message %d flagged in the inbox of alice\n" % ids[1], out
    out, _ = _zpost(tmp, broker, ["list"])
    rows = {int(re.match(r"..\s*(\d+)", line).group(1)): line[:2]
            for line in out.splitlines()[1:]}
    assert rows == {ids[0]: "* ", ids[1]: "*!", ids[2]: "* "}, out
    listed = json.loads(_zpost(tmp, broker, ["list", "--json", "--flagged"])[0])
    assert [(m["id"], m["flagged"]) for m in listed] == [(ids[1], True)], listed
    listed = json.loads(_zpost(tmp, broker, ["list", "--json"])[0])
    assert [m["flagged"] for m in listed] == [False, True, False], listed

    _zpost(tmp, broker, ["read", str(ids[0])])
    _zpost(tmp, broker, ["mark", str(ids[2]), "seen"])
    _zpost(tmp, broker, ["mark", str(ids[0]), "unseen"])
    listed = json.loads(_zpost(tmp, broker, ["list", "--json", "--unread"])[0])
    assert sorted(m["id"] for m in listed) == [ids[0], ids[1]], listed
    _zpost(tmp, broker, ["mark", str(ids[1]), "unflagged"])
    assert _zpost(tmp, broker, ["list", "--flagged"])[0] == \
        "no flagged messages in the inbox of alice\n"
    # Flags in the sent folder; seen there is the spec's 422
    _zpost(tmp, broker, ["mark", "--sent", str(ids[2]), "flagged"])
    listed = json.loads(_zpost(tmp, broker, ["list", "--json", "--sent", "--flagged"])[0])
    assert [m["id"] for m in listed] == [ids[2]], listed
    out, err = _zpost(tmp, broker, ["mark", "--sent", str(ids[2]), "unseen"], expect_rc=1)
    assert "only flagged and unflagged" in err, err
    out, err = _zpost(tmp, broker, ["mark", "999999", "flagged"], expect_rc=1)
    assert "no message 999999 in the inbox of alice" in err, err
    _zpost(tmp, broker, ["mark", str(ids[0]), "starred"], expect_rc=2)
    _zpost(tmp, broker, ["list", "--unread", "--flagged"], expect_rc=2)


def test_list_pages_with_totals(tmp):
    broker, _ = _service_with_users(tmp, "alice")
    alice = h.Client(broker, timeout=10)
    alice.login("alice", PASSWORD)
    ids = [int(alice.expect(200, "SEND", "alice", "n%d" % n, "x").fields[0])
           for n in range(120)]
    alice.close()
    _login(tmp, broker, "alice")
    out, _ = _zpost(tmp, broker, ["list"])
    lines = out.splitlines()
    assert len(lines) == 1 + 50 + 1, lines[-3:]
    assert lines[-1] == "50 of 120 messages shown; more: zpost list --before %d" \
        % ids[70], lines[-1]
    out, _ = _zpost(tmp, broker, ["list", "--before", str(ids[70])])
    listed = [int(re.match(r"..\s*(\d+)", line).group(1)) for line in out.splitlines()[1:51]]
    assert listed == list(reversed(ids[20:70])), listed
    out, _ = _zpost(tmp, broker, ["list", "--all"])
    assert len(out.splitlines()) == 121 and "more:" not in out, out[-200:]
    out, _ = _zpost(tmp, broker, ["list", "--unread", "-n", "10"])
    assert out.splitlines()[-1].startswith("10 of 120 unread messages shown; more: "
                                           "zpost list --unread --limit 10 --before "), out


def test_unregister(tmp):
    broker, store = _service_with_users(tmp, "alice", "bob")
    _login(tmp, broker, "alice")
    _zpost(tmp, broker, ["send", "--to", "bob", "-s", "bye", "-m", "x"])
    # Without a terminal, only --yes goes on
    out, err = _zpost(tmp, broker, ["unregister", "--password-stdin"],
                      stdin=PASSWORD.encode() + b"\n", expect_rc=2)
    assert "--yes" in err and "nothing was deleted" in err, err
    out, err = _zpost(tmp, broker, ["unregister", "--yes", "--password-stdin"],
                      stdin=b"wrong password\n", expect_rc=1)
    assert "password is wrong; the account was not deleted" in err, err
    _zpost(tmp, broker, ["whoami"])
    out, err = _zpost(tmp, broker, ["unregister", "--yes", "--json", "--password-stdin"],
                      stdin=PASSWORD.encode() + b"\n")
    assert json.loads(out) == {"username": "alice", "deleted": True}, out
    out, err = _zpost(tmp, broker, ["whoami"], expect_rc=1)
    client = h.Client(broker, timeout=10)
    client.expect(403, "LOGIN", "alice", PASSWORD)
    client.close()
    # bob keeps what alice sent
    assert [m["from"] for m in _inbox(tmp, broker, "bob")] == ["alice"]
    # On a terminal, the name must be typed
    pty = shell.Pty(tmp, ["--server", broker.front, "--server-key", broker.public_key,
                          "unregister"])
    try:
        pty.expect(b"Type the name bob to go on: ")
        pty.line("alice")
        assert pty.wait(30) == 1
        assert b"nothing was deleted" in pty.output, pty.tail()
    finally:
        pty.close()
    _zpost(tmp, broker, ["whoami"])


def test_search(tmp):
    """zpost search: SEARCH's matches as list prints them, --in, --sent,
    --json, paging, and its bad input refused before the server."""
    broker, _ = _service_with_users(tmp, "alice", "bob")
    _login(tmp, broker, "alice")
    sent = {}
    for subject, body in (("Lunch on Friday", "at noon"), ("Report", "the LUNCH menu"),
                          ("Weather", "rain"), ("lunch again", "soup")):
        sent[subject] = json.loads(_zpost(tmp, broker, [
            "send", "--json", "--to", "bob", "-s", subject, "-m", body])[0])["id"]
    _login(tmp, broker, "bob")
    found = json.loads(_zpost(tmp, broker, ["search", "--json", "lunch"])[0])
    assert [m["id"] for m in found] == [sent["lunch again"], sent["Report"],
                                        sent["Lunch on Friday"]], found
    assert all(not m["seen"] and m["from"] == "alice" for m in found), found
    found = json.loads(_zpost(tmp, broker, ["search", "--json", "--in", "subject",
                                            "lunch"])[0])
    assert [m["id"] for m in found] == [sent["lunch again"], sent["Lunch on Friday"]], found
    out, _ = _zpost(tmp, broker, ["search", "--limit", "1", "lunch"])
    lines = out.splitlines()
    assert "lunch again" in lines[1] and len(lines) == 3, out
    assert lines[2] == "more: zpost search --before %d 'lunch'" % sent["lunch again"], out
    out, _ = _zpost(tmp, broker, ["search", "--before", str(sent["Report"]), "lunch"])
    assert "Lunch on Friday" in out and "Report" not in out, out
    out, _ = _zpost(tmp, broker, ["search", "snow"])
    assert out == "no message in the inbox of bob holds 'snow'\n", out
    # alice's sent folder, not bob's
    _login(tmp, broker, "alice")
    found = json.loads(_zpost(tmp, broker, ["search", "--json", "--sent", "rain"])[0])
    assert [m["id"] for m in found] == [sent["Weather"]], found
    _, err = _zpost(tmp, broker, ["search", "ab"], expect_rc=2)
    assert "3 to 128 bytes" in err, err
    _zpost(tmp, broker, ["search", "--in", "to", "alice"], expect_rc=2)
    _zpost(tmp, broker, ["search"], expect_rc=2)


if __name__ == "__main__":
    h.run_tests([
        test_recipients_checked_before_the_editor,
        test_draft_kept_when_sending_fails,
        test_drafts_edit_delete_and_owner,
        test_reply_forward_thread,
        test_reply_in_the_editor_quotes,
        test_mark_and_flagged,
        test_list_pages_with_totals,
        test_unregister,
        test_search,
    ])
