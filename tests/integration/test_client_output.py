"""test_client_output - every byte the client prints is safe and unambiguous
(issue 11, item 5).

A sender (pyzmq, straight from the spec) sends the victim messages whose
subjects and bodies hold every sequence a terminal acts on or that hides
what it is: ESC [2J, BEL, CR (bare and before LF), DEL, tab, C1 U+0085
and U+009B, each bidi control (U+061C, U+200E, U+200F, U+202A..U+202E,
U+2066..U+2069), the line and paragraph separators U+2028 and U+2029,
U+FEFF, and a subject that literally reads \\x1b[2J; plus what the server
accepts and is harmless (ZWJ, U+FFFF, a tag character, Hebrew letters).
One message per sequence, so each is in a list row of its own, and one
message with all of them.

Then every output path runs, and none may let a forbidden code point out
raw, on stdout or stderr: no C0 but LF and tab, no DEL, no C1, no hidden
format control, and only valid UTF-8:

- zpost list and zpost read: each row and the Subject line and body are
  exactly the escaped form the rule gives (the rule is written again
  here, in Python), the literal \\x1b text prints as \\\\x1b and a real
  ESC as \\x1b, and a list row still ends with its size column;
- zpost --json list and read: the JSON parses and holds exactly the text
  sent;
- zpost -v list and read: the subject= and body= lines on stderr;
- an error that quotes what was typed (a message id holding ESC and RLO);
- the guided session on a pseudo-terminal: inbox and read.

With --json and no session, the status is the server's 401 when the
server ended it and 0 when there was none to send (no server spoke).

On ed85c0f: --json passed DEL and C1 raw, -v passed ESC, BEL, CR and C1
raw, plain output passed the bidi controls raw, and a backslash was not
escaped.
"""

import json
import re
import subprocess

import harness as h
from test_shell import PASSWORD, _login, _menu, _session

#  One entry per sequence: it goes into a subject between "a" and "b"
SEQUENCES = [
    "\x1b[2J", "\x07", "\x7f", "\t", "\u0085", "\u009b", "\u009b31m",
    "\u061c", "\u200e", "\u200f",
    "\u202a", "\u202b", "\u202c", "\u202d", "\u202e",
    "\u2066", "\u2067", "\u2068", "\u2069",
    "\u2028", "\u2029", "\ufeff",
    # invisible: a subject "a<U+200B>b" must not pass for "ab"
    "\u00ad", "\u034f", "\u115f", "\u1160", "\u180e", "\u200b", "\u2060",
    "\u2064", "\u3164", "\uffa0", "\U000e0001", "\U000e0041", "\U000e007f",
    "\U00013430", "\U0001343f",
    "\\x1b[2J", "\\", "\\u202e", "\\U000e0001",
]
#  Accepted by the server and harmless: shown as they are (ZWJ, ZWNJ, a
#  variation selector, U+FFFF, Hebrew letters)
HARMLESS = ("\U0001F469\u200d\U0001F4BB \u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645"
            " \u2764\ufe0f \uffff \u05e9\u05dc\u05d5\u05dd")

SUBJECT = ("all:" + "|".join(SEQUENCES) + "|" + HARMLESS + " 99K")
BODY = ("\x1b[2J\x1b]0;TITLE\x07cleared\n"
        "bare\rOVERWRITE and crlf\r\n"
        "tab\there del\x7f nel\u0085 csi\u009b31m\n"
        "bidi " + "".join(s for s in SEQUENCES if len(s) == 1 and ord(s) > 0x600)
        + " end\n"
        "literal \\x1b[2J and real \x1b[2J\n" + HARMLESS + "\n")

#  The rule (client/client_output.h), written again
HIDDEN = [(0x00AD, 0x00AD), (0x034F, 0x034F), (0x061C, 0x061C), (0x115F, 0x1160),
          (0x17B4, 0x17B5), (0x180E, 0x180E), (0x200B, 0x200B), (0x200E, 0x200F),
          (0x2028, 0x202E), (0x2060, 0x206F), (0x3164, 0x3164), (0xFEFF, 0xFEFF),
          (0xFFA0, 0xFFA0), (0xFFF0, 0xFFFB), (0x13430, 0x1343F), (0x1BCA0, 0x1BCA3), (0x1D173, 0x1D17A),
          (0xE0000, 0xE00FF), (0xE01F0, 0xE0FFF)]


def forbidden(point):
    return (point < 0x20 or 0x7F <= point <= 0x9F
            or any(first <= point <= last for first, last in HIDDEN))


def escape(text, line):
    out = []
    for ch in text:
        point = ord(ch)
        if ch == "\\":
            out.append("\\\\")
        elif ch in "\n\t" and not line:
            out.append(ch)
        elif point < 0x80 and forbidden(point):
            out.append("\\x%02x" % point)
        elif forbidden(point) and point <= 0xFFFF:
            out.append("\\u%04x" % point)
        elif forbidden(point):
            out.append("\\U%08x" % point)
        else:
            out.append(ch)
    return "".join(out)


def assert_clean(data, what, terminal=False):
    """data (bytes) holds valid UTF-8 and nothing a terminal acts on; on a
    terminal, CR only as the line discipline's CR LF."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise AssertionError("%s is not valid UTF-8 (%s): %r" % (what, e, data[-2000:]))
    for at, ch in enumerate(text):
        if ch in "\n\t":
            continue
        if terminal and ch == "\r" and text[at + 1:at + 2] == "\n":
            continue
        assert not forbidden(ord(ch)), "%s let U+%04X through raw at %d: %r" \
            % (what, ord(ch), at, text[max(0, at - 60):at + 60])
    return text


def _setup(tmp):
    broker, store = h.start_service(tmp)
    mallory = h.Client(broker, timeout=5)
    mallory.register("mallory", PASSWORD)
    mallory.login("mallory", PASSWORD)
    victim = h.Client(broker, timeout=5)
    victim.register("victim", PASSWORD)
    subjects = ["a" + s + "b" for s in SEQUENCES]
    ids = {}
    for subject in reversed(subjects):      # newest first: list shows them in order
        reply = mallory.expect(200, "SEND", "victim", subject, "body of " + subject)
        ids[subject] = reply.fields[0].decode()
    reply = mallory.expect(200, "SEND", "victim", SUBJECT, BODY)
    ids[SUBJECT] = reply.fields[0].decode()
    mallory.close()
    victim.close()
    rc, out, err, _ = h.run_client(tmp, ["login", "victim"], broker=broker,
                                   env={"ZPOST_PASSWORD": PASSWORD})
    assert rc == 0, (rc, out, err)
    return broker, subjects, ids


def _run(tmp, broker, args, expect_rc=0):
    argv = [h.binary("zpost"), "--server", broker.front, "--server-key",
            broker.public_key] + args
    cp = subprocess.run(argv, capture_output=True, cwd=tmp, env=h.client_env(tmp),
                        timeout=30, stdin=subprocess.DEVNULL)
    assert cp.returncode == expect_rc, (args, cp.returncode, cp.stderr)
    return cp.stdout, cp.stderr


def test_plain_list_and_read(tmp):
    broker, subjects, ids = _setup(tmp)
    out, err = _run(tmp, broker, ["list"])
    listing = assert_clean(out, "zpost list (stdout)")
    assert_clean(err, "zpost list (stderr)")
    rows = [line for line in listing.split("\n") if "mallory" in line]
    assert len(rows) == len(subjects) + 1, listing
    for subject in subjects:
        shown = escape(subject, True)
        row = [r for r in rows if re.search(r"\s%s  \S+ \S+  mallory\s+%s\s" % (
            ids[subject], re.escape(shown)), r)]
        assert len(row) == 1, "no row shows %r as %r:\n%s" % (subject, shown, listing)
        # The size column is still the end of the row
        assert re.search(r"  \s*\d+(\.\d)?[KMG]?$", row[0]), row[0]
    # The literal text and the real ESC differ
    literal = [r for r in rows if " " + ids["a\\x1b[2Jb"] + " " in r][0]
    real = [r for r in rows if " " + ids["a\x1b[2Jb"] + " " in r][0]
    assert "a\\\\x1b[2Jb" in literal and "a\\x1b[2Jb" in real, (literal, real)
    assert "a\\\\x1b" not in real, real

    out, err = _run(tmp, broker, ["read", ids[SUBJECT]])
    shown = assert_clean(out, "zpost read (stdout)")
    assert_clean(err, "zpost read (stderr)")
    assert "\nSubject: " + escape(SUBJECT, True) + "\n\n" in shown, shown
    assert shown.endswith("\n\n" + escape(BODY, False)), shown
    assert "literal \\\\x1b[2J and real \\x1b[2J\n" in shown, shown
    assert "bare\\x0dOVERWRITE and crlf\\x0d\n" in shown, shown
    assert "\\u202e" in shown and "\\u2066" in shown and "\\u0085" in shown, shown
    assert "|\\u200b|" in shown and "|\\U000e0001|" in shown, shown
    assert "|\\\\U000e0001|" in shown, shown
    # What text needs is not escaped: ZWNJ, ZWJ, a variation selector
    assert HARMLESS in shown, shown

    # An error that quotes what was typed
    out, err = _run(tmp, broker, ["read", "1\x1b[2J\u202e"], expect_rc=2)
    said = assert_clean(err, "zpost read BAD-ID (stderr)")
    assert "'1\\x1b[2J\\u202e' is not a message id" in said, said


def test_json(tmp):
    broker, subjects, ids = _setup(tmp)
    out, err = _run(tmp, broker, ["list", "--json"])
    assert_clean(out, "zpost list --json (stdout)")
    assert_clean(err, "zpost list --json (stderr)")
    entries = json.loads(out.decode("utf-8"))
    assert sorted(e["subject"] for e in entries) == sorted(subjects + [SUBJECT]), entries
    for entry in entries:
        assert entry["id"] == int(ids[entry["subject"]]), entry
    out, err = _run(tmp, broker, ["read", "--json", ids[SUBJECT]])
    assert_clean(out, "zpost read --json (stdout)")
    assert_clean(err, "zpost read --json (stderr)")
    message = json.loads(out.decode("utf-8"))
    assert message["subject"] == SUBJECT and message["body"] == BODY, message
    # The escapes are JSON's: \u007f, \u0085, \u202e, and \\ for a backslash
    text = out.decode("utf-8")
    for escaped in ["\\u007f", "\\u0085", "\\u009b", "\\u202e", "\\u2028",
                    "\\u2069", "\\u001b", "\\\\x1b[2J", "\\u200b", "\\u00ad",
                    "\\udb40\\udc01"]:
        assert escaped.lower() in text.lower(), (escaped, text)


def test_json_not_logged_in(tmp):
    """The JSON status is the server's: 401 when the server ended the
    session, 0 when there is no session here to send (no server spoke)."""
    broker, store = h.start_service(tmp)
    victim = h.Client(broker, timeout=5)
    victim.register("victim", PASSWORD)
    rc, out, err, _ = h.run_client(tmp, ["login", "victim"], broker=broker,
                                   env={"ZPOST_PASSWORD": PASSWORD})
    assert rc == 0, (rc, out, err)
    # A new password ends every other session, the client's too
    victim.login("victim", PASSWORD)
    victim.expect(200, "PASSWD", PASSWORD, PASSWORD + "-new")
    victim.close()
    out, err = _run(tmp, broker, ["list", "--json"], expect_rc=1)
    said = json.loads(out.decode("utf-8"))
    assert said["status"] == 401 and said["error"] == "NOT_LOGGED_IN", said
    # The 401 made the client forget the login: now no server status applies
    out, err = _run(tmp, broker, ["list", "--json"], expect_rc=1)
    said = json.loads(out.decode("utf-8"))
    assert said["status"] == 0 and said["error"] == "NOT_LOGGED_IN", said
    assert "not logged in" in said["reason"], said
    assert_clean(err, "zpost list --json, not logged in (stderr)")


def test_verbose(tmp):
    broker, subjects, ids = _setup(tmp)
    for args in [["-v", "read", ids["a\x1b[2Jb"]], ["-v", "read", ids[SUBJECT]],
                 ["-v", "read", ids["a\u202eb"]], ["-v", "list"]]:
        out, err = _run(tmp, broker, args)
        log = assert_clean(err, "zpost %s (stderr)" % " ".join(args))
        assert_clean(out, "zpost %s (stdout)" % " ".join(args))
        assert "zpost_msg:" in log, log
        if args[1] == "read":
            assert re.search(r"\n.*    subject=", log) and re.search(r"\n.*    body=", log), log
    out, err = _run(tmp, broker, ["-v", "read", ids["a\u202eb"]])
    assert "subject=a\\u202eb" in assert_clean(err, "-v read RLO"), err
    out, err = _run(tmp, broker, ["-v", "read", ids["a\\x1b[2Jb"]])
    assert "subject=a\\\\x1b[2Jb" in assert_clean(err, "-v read literal"), err
    out, err = _run(tmp, broker, ["-v", "read", ids["a\x1b[2Jb"]])
    assert "subject=a\\x1b[2Jb" in assert_clean(err, "-v read ESC"), err


def test_guided_session(tmp):
    broker, subjects, ids = _setup(tmp)
    pty = _session(tmp, broker)
    try:
        _login(pty, "victim")
        _menu(pty)
        pty.line("1")
        pty.expect(b"Read which?")
        pty.line(ids[SUBJECT])      # the newest, by its id: the one with everything
        pty.expect(b"Read which?")
        pty.line("")
        _menu(pty)
        pty.send(b"\x04")
        pty.expect(b"Goodbye.")
        assert pty.wait() == 0
    finally:
        pty.close()
    screen = assert_clean(pty.output, "the guided session", terminal=True)
    screen = screen.replace("\r\n", "\n")
    assert "Subject: " + escape(SUBJECT, True) + "\n" in screen, screen[-3000:]
    assert escape(BODY, False) in screen, screen[-3000:]
    for subject in subjects:
        assert escape(subject, True) in screen, (subject, screen[-3000:])


if __name__ == "__main__":
    h.run_tests([
        test_plain_list_and_read,
        test_json,
        test_json_not_logged_in,
        test_verbose,
        test_guided_session,
    ])
