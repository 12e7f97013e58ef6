"""test_client_tty - the client as a terminal reader (issue 14, items 10, 14,
15, 16, and the config file, bash completion, host aliases and forget-key).

- A long message goes through $PAGER on a terminal (the guided session and
  zpost read), never when it fits, never to a pipe, never for --json; a
  pager that cannot start leaves the message printed as it is.
- In a 40-column terminal the inbox rows fit the width, and a long
  warning (a changed key) wraps at word boundaries.
- Each prompt keeps its own history: Up at To: brings back the last
  recipients, not the menu's digit.
- A Latin-1 byte at Subject: is said and asked again, on a terminal and
  through a pipe; the message is stored with what was typed next, never
  U+FFFD. Under LANG=C the terminal gets escapes past ASCII.
- The config file: a server name, the default user, the pager; a wrong
  setting is refused with the file and its line.
- The bash completion completes commands and options.
- localhost and 127.0.0.1 are one pin; forget-key removes both names.
"""

import json
import os
import re
import stat
import subprocess

import harness as h
from test_shell import (Pty, PASSWORD, _session, _menu, _login, _announce,
                        _known_servers)

#  What the person's own environment could change here: the tests that
#  want a pager, a locale or a size set their own
for _variable in ("PAGER", "LESS", "VISUAL", "EDITOR", "COLUMNS", "LINES"):
    os.environ.pop(_variable, None)
os.environ["LC_ALL"] = "C.UTF-8"

SOURCE_DIR = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
COMPLETION = os.path.join(SOURCE_DIR, "client", "zpost.bash-completion")


def _users(broker, *names):
    clients = {}
    for name in names:
        c = h.Client(broker, timeout=5)
        c.register(name, PASSWORD)
        c.login(name, PASSWORD)
        clients[name] = c
    return clients


def _pager(tmp):
    """A pager that records what it got, then says so on the terminal."""
    record = os.path.join(tmp, "paged.txt")
    script = os.path.join(tmp, "pager.sh")
    with open(script, "w") as f:
        f.write("#!/bin/sh\ncat > '%s'\necho \"PAGER-DONE LESS=$LESS\"\n" % record)
    os.chmod(script, 0o755)
    return script, record


def _screen(data):
    return data.decode("utf-8", "replace").replace("\r\n", "\n")


# ---------------------------------------------------------------------------
#  Item 10: long messages through the pager

def test_long_message_goes_through_the_pager(tmp):
    broker, store = h.start_service(tmp)
    users = _users(broker, "alice", "bob")
    long_body = "".join("line %d of a long message\n" % n for n in range(1, 61))
    short_id = users["alice"].expect(200, "SEND", "bob", "short one",
                                     "just a line\n").fields[0].decode()
    reply = users["alice"].expect(200, "SEND", "bob", "long one", long_body)
    long_id = reply.fields[0].decode()
    script, record = _pager(tmp)

    pty = _session(tmp, broker, env={"PAGER": script})
    try:
        _login(pty, "bob")
        _menu(pty)
        pty.line("1")
        pty.expect(b"Read which?")
        pty.line(short_id)                  # the older one: short
        shown = pty.expect(b"Read which?")
        assert b"just a line" in shown and b"PAGER-DONE" not in shown, shown
        assert not os.path.exists(record), "a message that fits went to the pager"
        pty.line(long_id)                   # the newest: long
        shown = pty.expect(b"PAGER-DONE LESS=FRX")
        pty.expect(b"Read which?")
        pty.line("")
        _menu(pty)
        pty.send(b"\x04")
        pty.expect(b"Goodbye.")
        assert pty.wait() == 0
    finally:
        pty.close()
    with open(record) as f:
        paged = f.read()
    assert paged.startswith("From: alice\nTo: bob\n"), paged[:200]
    assert long_body in paged, paged[-300:]
    assert "line 30 of a long message" not in _screen(shown), \
        "the long message reached the terminal, not just the pager"

    # The one-shot read: the pager on a terminal, never to a pipe or --json
    rc, out, err, _ = h.run_client(tmp, ["login", "bob"], broker=broker,
                                   env={"ZPOST_PASSWORD": PASSWORD})
    assert rc == 0, (rc, out, err)
    os.unlink(record)
    pty = Pty(tmp, ["--server", broker.front, "--server-key", broker.public_key,
                    "read", long_id], env={"PAGER": script})
    try:
        pty.expect(b"PAGER-DONE")
        assert pty.wait() == 0
    finally:
        pty.close()
    with open(record) as f:
        assert long_body in f.read()
    os.unlink(record)
    rc, out, err, _ = h.run_client(tmp, ["read", long_id], broker=broker,
                                   env={"PAGER": script})
    assert rc == 0 and long_body in out and not os.path.exists(record), (rc, err)
    pty = Pty(tmp, ["--server", broker.front, "--server-key", broker.public_key,
                    "read", "--json", long_id], env={"PAGER": script})
    try:
        assert pty.wait() == 0
    finally:
        pty.close()
    assert not os.path.exists(record), "--json went through the pager"
    assert json.loads(_screen(pty.output))["body"] == long_body

    # A pager that cannot start: said, and the message printed anyway
    pty = Pty(tmp, ["--server", broker.front, "--server-key", broker.public_key,
                    "read", long_id], env={"PAGER": "no-such-pager-here"})
    try:
        assert pty.wait() == 0
    finally:
        pty.close()
    screen = _screen(pty.output)
    assert "could not be started" in screen and "line 60 of a long message" in screen, \
        screen[-500:]


# ---------------------------------------------------------------------------
#  Item 14: the layout fits the terminal's width

def _rows_fit(screen, columns, what):
    for line in screen.split("\n"):
        assert len(line) <= columns or " " not in line.strip(), \
            "%s: a line of %d columns in a %d-column terminal: %r" \
            % (what, len(line), columns, line)


def test_forty_columns(tmp):
    broker, store = h.start_service(tmp)
    users = _users(broker, "alice", "bob")
    for n in range(3):
        users["alice"].expect(200, "SEND", "bob",
                              "a subject with several words, number %d" % n, "hi\n")
    pty = _session(tmp, broker, size=(24, 40))
    try:
        _login(pty, "bob")
        _menu(pty)
        pty.line("1")
        listing = _screen(pty.expect(b"Read which?"))
        pty.line("")
        _menu(pty)
        pty.send(b"\x04")
        pty.expect(b"Goodbye.")
        assert pty.wait() == 0
    finally:
        pty.close()
    # Every line the session wrote fits, or is one word
    _rows_fit(_screen(pty.output), 40, "the guided session")
    rows = [l for l in listing.split("\n") if re.match(r"^\*\s+\d\s", l)]
    assert len(rows) == 3, listing
    for row in rows:
        assert len(row) == 40, "a row that does not fit 40 columns: %r" % row
        assert re.match(r"^\*\s+\d  \d\d-\d\d  alice\s+a subject with", row), row
    header = [l for l in listing.split("\n") if "SUBJECT" in l]
    assert header and len(header[0]) <= 40, listing

    # The key-change warning, wrapped at word boundaries: a key pinned
    # for this broker that is not its own
    path = _known_servers(tmp)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    fake = h.zmq.curve_keypair()[0].decode()
    with open(path, "w") as f:
        f.write("%s %s\n" % (broker.front[len("tcp://"):], fake))
    os.chmod(path, 0o600)
    pty = Pty(tmp, ["--server", broker.front, "--announce", _announce(broker),
                    "--timeout", "1000", "--retries", "1"], size=(24, 40))
    try:
        pty.expect(b"fingerprint is")
        assert pty.wait() == 4
    finally:
        pty.close()
    screen = _screen(pty.output)
    assert "different key" in screen.replace("\n", " "), screen
    warning = screen[screen.index("WARNING"):]
    assert warning.count("\n") >= 8, "the warning is not wrapped:\n" + warning
    _rows_fit(warning, 40, "the key-change warning")
    # No word was cut: the lines joined give the sentence back
    joined = " ".join(warning.split())
    assert "someone may be posing as the server" in joined, joined


# ---------------------------------------------------------------------------
#  Item 15: a history per prompt

def test_history_per_prompt(tmp):
    broker, store = h.start_service(tmp)
    _users(broker, "alice", "bob")
    pty = _session(tmp, broker)
    try:
        _login(pty, "alice")
        _menu(pty)
        pty.line("2")
        pty.expect(b"To (names, separated by commas): ")
        pty.line("bob")
        pty.expect(b"Subject: ")
        pty.line("first subject")
        pty.expect(b"Ctrl-D.")
        pty.line("one")
        pty.line(".")
        pty.expect(b"Sent to bob")
        _menu(pty)
        pty.line("2")
        pty.expect(b"To (names, separated by commas): ")
        pty.send(b"\x1b[A")                 # Up: the last recipients
        pty.expect(b"bob")
        pty.line("")
        pty.expect(b"Subject: ")
        pty.send(b"\x1b[A")                 # Up: the last subject
        pty.expect(b"first subject")
        pty.send(b"\x15")                   # Ctrl-U: not that one
        pty.line("second subject")
        pty.expect(b"Ctrl-D.")
        pty.line("two")
        pty.line(".")
        sent = _screen(pty.expect(re.compile(rb"Sent to \S+ \(message \d+\)\.")))
        assert "Sent to bob" in sent, sent
        _menu(pty)
        pty.send(b"\x1b[A")                 # Up at the menu: its own digits
        pty.expect(b"2")
        pty.send(b"\x15")
        pty.send(b"\x04")
        pty.expect(b"Goodbye.")
        assert pty.wait() == 0
    finally:
        pty.close()
    c = h.Client(broker, timeout=5)
    c.login("bob", PASSWORD)
    listing = c.expect(200, "LIST", "inbox", "all", "10", "0")
    fields = [f for row in h.rows(listing, 7) for f in row]
    assert "second subject" in fields and "first subject" in fields, fields


# ---------------------------------------------------------------------------
#  Item 16: input that is not UTF-8, output under LANG=C

def test_latin1_input_is_said_and_asked_again(tmp):
    broker, store = h.start_service(tmp)
    _users(broker, "alice", "bob")
    pty = _session(tmp, broker)
    try:
        _login(pty, "alice")
        _menu(pty)
        pty.line("2")
        pty.expect(b"To (names, separated by commas): ")
        pty.line("bob")
        pty.expect(b"Subject: ")
        pty.send(b"Caf\xe9\r")              # Latin-1: the Enter must count
        said = _screen(pty.expect(b"Subject: "))
        assert "not UTF-8" in said and "\\xe9" in said and "é in Latin-1" in said, said
        pty.line("Café")
        pty.expect(b"Ctrl-D.")
        pty.send(b"na\xefve body\r")        # a body line too
        pty.expect(b"not UTF-8")
        pty.line("naïve body")
        pty.line(".")
        pty.expect(b"Sent to bob")
        _menu(pty)
        pty.send(b"\x04")
        pty.expect(b"Goodbye.")
        assert pty.wait() == 0
    finally:
        pty.close()

    # Through a pipe, the same: said, and the next line is the answer
    script = b"\n".join([b"2", b"alice", PASSWORD.encode(), b"2", b"bob",
                         b"Sch\xf6n", b"Schoen", b"body", b"."]) + b"\n"
    cp = subprocess.run([h.binary("zpost"), "--server", broker.front, "--server-key",
                         broker.public_key], input=script, capture_output=True,
                        cwd=tmp, env=h.client_env(tmp), timeout=60)
    assert cp.returncode == 0, cp
    assert b"not UTF-8" in cp.stderr and b"\\xf6" in cp.stderr, cp.stderr

    c = h.Client(broker, timeout=5)
    c.login("bob", PASSWORD)
    listing = c.expect(200, "LIST", "inbox", "all", "10", "0")
    fields = [f for row in h.rows(listing, 7) for f in row]
    assert "Café" in fields and "Schoen" in fields, fields
    assert not any("\ufffd" in f for f in fields), fields
    ids = [row[0] for row in h.rows(listing, 7)]
    bodies = [c.expect(200, "READ", i).fields[5].decode() for i in ids]
    assert "naïve body\n" in bodies, bodies

    # Output under LANG=C on a terminal: escapes past ASCII, never raw UTF-8
    rc, out, err, _ = h.run_client(tmp, ["login", "bob"], broker=broker,
                                   env={"ZPOST_PASSWORD": PASSWORD})
    assert rc == 0, (rc, out, err)
    env = {"LANG": "C", "LC_ALL": "C"}
    pty = Pty(tmp, ["--server", broker.front, "--server-key", broker.public_key,
                    "list"], env=env)
    try:
        assert pty.wait() == 0
    finally:
        pty.close()
    assert b"Caf\\u00e9" in pty.output, pty.output
    assert max(pty.output) < 0x80, "raw UTF-8 under LANG=C: %r" % pty.output
    # UTF-8 locale: as it is
    pty = Pty(tmp, ["--server", broker.front, "--server-key", broker.public_key,
                    "list"], env={"LANG": "C.UTF-8", "LC_ALL": "C.UTF-8"})
    try:
        assert pty.wait() == 0
    finally:
        pty.close()
    assert "Café".encode() in pty.output, pty.output
    # A pipe gets UTF-8 whatever the locale
    rc, out, err, _ = h.run_client(tmp, ["list"], broker=broker, env=env)
    assert rc == 0 and "Café" in out, (rc, out, err)


# ---------------------------------------------------------------------------
#  The config file

def _config(tmp, text):
    path = os.path.join(h.client_config_dir(tmp), "config")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)
    return path


def test_config_file(tmp):
    broker, store = h.start_service(tmp)
    _users(broker, "alice")
    script, record = _pager(tmp)
    path = _config(tmp, "# mine\nuser = alice\npager = \"%s\"\nservers\n"
                        "    office = \"%s\"\n" % (script, broker.front))
    # A server by its name, the default user for login
    rc, out, err, _ = h.run_client(tmp, ["--server", "office", "login"],
                                   server_key=broker.public_key,
                                   env={"ZPOST_PASSWORD": PASSWORD})
    assert rc == 0 and "logged in as alice" in out, (rc, out, err)
    # zpost NAME opens the guided session there, the username is offered
    pty = Pty(tmp, ["--server-key", broker.public_key, "office"])
    try:
        pty.expect(b"Connected to")
        _menu(pty)
        pty.line("2")
        pty.expect(b"Username (Enter for alice): ")
        pty.line("")
        pty.expect(b"Password: ")
        pty.line(PASSWORD)
        pty.expect(b"Logged in as alice.")
        _menu(pty)
        pty.send(b"\x04")
        pty.expect(b"Goodbye.")
        assert pty.wait() == 0
    finally:
        pty.close()
    # The config's pager, and $PAGER over it
    long_body = "".join("row %d\n" % n for n in range(80))
    c = h.Client(broker, timeout=5)
    c.login("alice", PASSWORD)
    message_id = c.expect(200, "SEND", "alice", "long", long_body).fields[0].decode()
    pty = Pty(tmp, ["--server-key", broker.public_key, "--server", "office", "read",
                    message_id])
    try:
        pty.expect(b"PAGER-DONE")
        assert pty.wait() == 0
    finally:
        pty.close()
    pty = Pty(tmp, ["--server-key", broker.public_key, "--server", "office", "read",
                    message_id], env={"PAGER": ""})
    try:
        assert pty.wait() == 0
    finally:
        pty.close()
    assert b"PAGER-DONE" not in pty.output and b"row 79" in pty.output

    # The config's editor for zpost send on a terminal; $VISUAL wins over it
    editors = []
    for name in ("config", "visual"):
        editor = os.path.join(tmp, "editor-%s.sh" % name)
        with open(editor, "w") as f:
            f.write("#!/bin/sh\necho 'written in the %s editor' > \"$1\"\n" % name)
        os.chmod(editor, 0o755)
        editors.append(editor)
    _config(tmp, "editor = \"%s\"\nservers\n    office = \"%s\"\n"
            % (editors[0], broker.front))
    for env, which in [({"VISUAL": "", "EDITOR": ""}, "config"),
                       ({"VISUAL": editors[1], "EDITOR": ""}, "visual")]:
        pty = Pty(tmp, ["--server-key", broker.public_key, "--server", "office", "send",
                        "--to", "alice", "--subject", "edited"], env=env)
        try:
            assert pty.wait() == 0, pty.tail()
        finally:
            pty.close()
        _, reply = c.call("LIST", "inbox", "all", "1", "0")
        newest = h.rows(reply, 7)[0][0]
        body = c.expect(200, "READ", newest).fields[5].decode()
        assert body == "written in the %s editor\n" % which, (which, body)

    # The config's server is the default; $ZPOST_SERVER and --server win
    _config(tmp, "server = office\nservers\n    office = \"%s\"\n" % broker.front)
    rc, out, err, _ = h.run_client(tmp, ["whoami"], server_key=broker.public_key)
    assert rc == 0 and out.startswith("alice on %s" % broker.front), (rc, out, err)
    rc, out, err, _ = h.run_client(tmp, ["whoami"], server_key=broker.public_key,
                                   env={"ZPOST_SERVER": "127.0.0.1:1"})
    assert rc == 1 and "not logged in to tcp://127.0.0.1:1" in err, (rc, out, err)
    rc, out, err, _ = h.run_client(tmp, ["whoami"], server="127.0.0.1:2",
                                   server_key=broker.public_key,
                                   env={"ZPOST_SERVER": "127.0.0.1:1"})
    assert rc == 1 and "not logged in to tcp://127.0.0.1:2" in err, (rc, out, err)

    # A wrong setting, a wrong value, not ZPL: the file, the line, what is allowed
    for text, line, words in [
            ("user = alice\ncolour = blue\n", 2, "unknown setting 'colour'"),
            ("# c\n\nuser = Not A Name\n", 3, "user wants a username"),
            ("servers\n    office = \"no such:port:x\"\n", 2, "not a server address"),
            ("pager = less\n  user = x\n", 2, "is not ZPL")]:
        _config(tmp, text)
        rc, out, err, _ = h.run_client(tmp, ["whoami"], broker=broker)
        assert rc == 2, (text, rc, out, err)
        assert "%s, line %d" % (path, line) in err and words in err, (text, err)
        assert out == "", out
    os.unlink(path)


# ---------------------------------------------------------------------------
#  Bash completion

def _complete(words, env):
    """What the completion offers for the command line words (the last
    one being completed)."""
    line = " ".join(words)
    script = (
        "source '%s'\n"
        "COMP_WORDS=(%s)\n"
        "COMP_CWORD=%d\n"
        "COMP_LINE='%s'\n"
        "COMP_POINT=${#COMP_LINE}\n"
        "_zpost zpost '%s' '%s'\n"
        "printf '%%s\\n' \"${COMPREPLY[@]}\"\n"
        % (COMPLETION, " ".join("'%s'" % w for w in words), len(words) - 1, line,
           words[-1], words[-2] if len(words) > 1 else ""))
    cp = subprocess.run(["bash", "--norc", "--noprofile", "-c", script],
                        capture_output=True, env=env, timeout=30)
    assert cp.returncode == 0, cp
    return cp.stdout.decode().split()


def test_bash_completion(tmp):
    env = h.client_env(tmp, {"PATH": h.binary("zpost").rsplit("/", 1)[0] + ":"
                             + os.environ.get("PATH", "/usr/bin:/bin")})
    assert _complete(["zpost", "lo"], env) == ["login", "logout"]
    assert "forget-key" in _complete(["zpost", "f"], env)
    assert "--password-stdin" in _complete(["zpost", "login", "--pa"], env)
    assert "--server-key" in _complete(["zpost", "--ser"], env)
    assert "--unread" in _complete(["zpost", "list", "--u"], env)
    # Servers: the known ones and the config's names
    path = os.path.join(h.client_config_dir(tmp), "known_servers")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write("# c\nmail.example.org:5321 %s\n" % ("x" * 40))
    _config(tmp, "servers\n    office = \"a.example:5321\"\n")
    offered = _complete(["zpost", "forget-key", ""], env)
    assert "mail.example.org:5321" in offered and "office" in offered, offered
    offered = _complete(["zpost", "--server", "of"], env)
    assert offered == ["office"], offered


# ---------------------------------------------------------------------------
#  Host aliases and forget-key

def test_host_aliases_and_forget_key(tmp):
    broker, store = h.start_service(tmp)
    announce = _announce(broker)
    port = broker.front.rsplit(":", 1)[1]
    path = _known_servers(tmp)
    rc, out, err, _ = h.run_client(tmp, ["--announce", announce, "--accept-new-key",
                                         "ping"], server="127.0.0.1:%s" % port,
                                   server_key="")
    assert rc == 0, (rc, out, err)
    # localhost is the same host: no question, its key is the pinned one
    rc, out, err, _ = h.run_client(tmp, ["--announce", announce, "ping"],
                                   server="localhost:%s" % port, server_key="")
    assert rc == 0 and "pong" in out, (rc, out, err)
    assert "new to this client" not in err, err
    with open(path) as f:
        lines = f.read().splitlines()
    assert lines == ["127.0.0.1:%s %s" % (port, broker.public_key),
                     "localhost:%s %s" % (port, broker.public_key)], lines

    # Another name with a known key: that server, by another name
    with open(path, "w") as f:
        f.write("# kept\nother.example:%s %s\n" % (port, broker.public_key))
    rc, out, err, _ = h.run_client(tmp, ["--announce", announce, "ping"],
                                   server="127.0.0.1:%s" % port, server_key="")
    assert rc == 0 and "the key you trust for other.example:%s" % port in err, (rc, err)

    # forget-key: one name takes the other names of the host with it
    with open(path, "w") as f:
        f.write("# kept\n127.0.0.1:%s %s\nlocalhost:%s %s\n127.0.0.1:1 %s\n"
                % (port, broker.public_key, port, broker.public_key, broker.public_key))
    rc, out, err = h.run_program(tmp, "zpost", ["forget-key", "localhost:%s" % port])
    assert rc == 0 and "127.0.0.1:%s (line 2), localhost:%s (line 3)" % (port, port) \
        in out, (rc, out, err)
    with open(path) as f:
        assert f.read() == "# kept\n127.0.0.1:1 %s\n" % broker.public_key
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    rc, out, err = h.run_program(tmp, "zpost", ["forget-key", "--json", "127.0.0.1:1"])
    assert rc == 0 and json.loads(out)["count"] == 1, (rc, out, err)
    rc, out, err = h.run_program(tmp, "zpost", ["forget-key", "127.0.0.1:1"])
    assert rc == 1 and "no key is kept for 127.0.0.1:1" in err, (rc, out, err)
    rc, out, err = h.run_program(tmp, "zpost", ["forget-key", "bad host"])
    assert rc == 2, (rc, out, err)
    # Forgotten: the next connection meets the key again
    rc, out, err, _ = h.run_client(tmp, ["--announce", announce, "ping"],
                                   server="127.0.0.1:%s" % port, server_key="")
    assert rc == 4 and "new to this client" in err, (rc, err)


if __name__ == "__main__":
    h.run_tests([
        test_long_message_goes_through_the_pager,
        test_forty_columns,
        test_history_per_prompt,
        test_latin1_input_is_said_and_asked_again,
        test_config_file,
        test_bash_completion,
        test_host_aliases_and_forget_key,
    ])
