"""test_shell - the guided session, server key trust, and safe output
(issue 5, items 1, 2, 3, 4 and 7).

- The guided session driven through a pseudo-terminal, as a person uses
  it: create two accounts, log in, send (body ended by "."), log out, log
  in as the other, inbox with an unread marker, read, statistics, log out,
  quit. Ctrl-C cancels a step and the menu comes back; Ctrl-D at the menu
  logs out and leaves.
- The same session driven through plain pipes, line by line.
- First contact: with no --server-key the client asks the broker's key
  announcement, shows the fingerprint the broker printed, and pins the key
  in known_servers (0600) with --accept-new-key, or after an interactive
  "y"; "n", or no terminal, pins nothing and exits 4.
- A changed key is refused: a second broker with other keys on the same
  ports makes the client exit 4, saying to remove the known_servers line,
  both for a one-shot command and for the guided session.
- A message whose subject and body hold ESC sequences, BEL, a bare CR and
  U+009B (sent with pyzmq) prints none of those through zpost read,
  zpost list and the guided session; --json output parses and holds
  exactly what was sent.
"""

import fcntl
import json
import os
import re
import select
import signal
import socket
import stat
import struct
import subprocess
import termios
import time

import harness as h

PASSWORD = "correct horse"
EXPECT_TIMEOUT = 15.0

#  What a hostile sender puts in a message: window-title and colour
#  escapes, BEL, a bare CR that would overwrite the line, and U+009B (CSI
#  in C1, which some terminals obey like ESC [)
HOSTILE_SUBJECT = "\x1b]0;EVIL\x07 \x1b[31mRED\x1b[0m \u009b2J bell\x07"
HOSTILE_BODY = ("\x1b[2J\x1b]0;TITLE\x07cleared\n"
                "ding\x07 and back\rOVERWRITE\n"
                "csi \u009b31m red\n")
#  None of these may reach a terminal as they are
RAW_BYTES = [b"\x1b", b"\x07", b"\xc2\x9b", b"\rOVERWRITE"]


# ---------------------------------------------------------------------------
#  A program on a pseudo-terminal

class Pty:
    """The real zpost (or program, an argv) on a pseudo-terminal that is
    its controlling terminal, so that Ctrl-C is a SIGINT from the line
    discipline, as for a person. Output is read with deadlines; everything
    read is kept."""

    def __init__(self, tmp, args, env=None, program=None, size=(24, 80)):
        self.master, slave = os.openpty()
        # the size before the program starts: one resized after may have
        # printed already on a busy machine
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", size[0], size[1], 0, 0))

        def controlling_terminal():
            os.setsid()
            fcntl.ioctl(0, termios.TIOCSCTTY, 0)

        environment = h.client_env(tmp, dict({"TERM": "dumb"}, **(env or {})))
        self.proc = subprocess.Popen(
            (program or [h.binary("zpost")]) + list(args), stdin=slave, stdout=slave,
            stderr=slave, cwd=tmp, env=environment,
            preexec_fn=controlling_terminal, close_fds=True)
        os.close(slave)
        self.pending = b""          # read, not yet matched
        self.output = b""           # everything read

    def _read(self, deadline):
        left = deadline - time.monotonic()
        ready, _, _ = select.select([self.master], [], [], max(0.0, left))
        if not ready:
            return False
        try:
            data = os.read(self.master, 65536)
        except OSError:             # EIO: the program closed the terminal
            data = b""
        if not data:
            raise EOFError
        self.pending += data
        self.output += data
        return True

    def expect(self, pattern, timeout=EXPECT_TIMEOUT):
        """Wait for pattern (bytes, or a compiled bytes regex) in the output;
        return what came before it and the match, and consume both."""
        deadline = time.monotonic() + timeout
        while True:
            if isinstance(pattern, bytes):
                at = self.pending.find(pattern)
                if at >= 0:
                    before = self.pending[:at]
                    self.pending = self.pending[at + len(pattern):]
                    return before
            else:
                match = pattern.search(self.pending)
                if match:
                    before = self.pending[:match.start()]
                    self.pending = self.pending[match.end():]
                    return before + match.group(0)
            try:
                if not self._read(deadline):
                    raise AssertionError("no %r within %.1f s; the terminal shows:\n%s"
                                         % (pattern, timeout, self.tail()))
            except EOFError:
                raise AssertionError("zpost ended (rc %r) before %r; the terminal "
                                     "shows:\n%s" % (self.proc.poll(), pattern, self.tail()))

    def send(self, data):
        os.write(self.master, data if isinstance(data, bytes) else data.encode())

    def line(self, text):
        self.send(text + "\r")

    def wait(self, timeout=EXPECT_TIMEOUT):
        """Read to the end, and return the exit status."""
        deadline = time.monotonic() + timeout
        try:
            while time.monotonic() < deadline:
                self._read(deadline)
        except EOFError:
            pass
        try:
            return self.proc.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            raise AssertionError("zpost did not exit; the terminal shows:\n%s"
                                 % self.tail())

    def tail(self, size=3000):
        return self.output[-size:].decode("utf-8", "replace")

    def close(self):
        """Hang up, as a closed terminal window does (a script's traps
        run), then kill what is left."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGHUP)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        os.close(self.master)


def _session(tmp, broker, extra=(), env=None, size=(24, 80)):
    """The guided session against broker, its key given."""
    return Pty(tmp, ["--server", broker.front, "--server-key", broker.public_key]
               + list(extra), env, size=size)


def _menu(pty):
    pty.expect(b"zpost> ")


def _register(pty, name):
    _menu(pty)
    pty.line("1")
    pty.expect(b"Username: ")
    pty.line(name)
    pty.expect(b"Password: ")
    pty.line(PASSWORD)
    pty.expect(b"Again: ")
    pty.line(PASSWORD)
    pty.expect(("Account %s created" % name.lower()).encode())


def _login(pty, name):
    _menu(pty)
    pty.line("2")
    pty.expect(b"Username: ")
    pty.line(name)
    pty.expect(b"Password: ")
    pty.line(PASSWORD)
    pty.expect(("Logged in as %s." % name).encode())


def _no_raw(data, what):
    for raw in RAW_BYTES:
        assert raw not in data, "%s let %r through to the terminal:\n%r" \
            % (what, raw, data[-2000:])


# ---------------------------------------------------------------------------
#  The guided session

def test_session_on_a_terminal(tmp):
    broker, store = h.start_service(tmp)
    pty = _session(tmp, broker)
    try:
        pty.expect(b"Connected to")
        _register(pty, "alice")
        _register(pty, "Bob")               # folded to bob
        # Ctrl-C cancels the step, not the session
        _menu(pty)
        pty.line("2")
        pty.expect(b"Username: ")
        pty.send("ali")
        # Wait for the echo, as a person would see it: it shows the line
        # editor has the terminal, so the Ctrl-C goes to it and is not
        # typed ahead into a terminal being set up
        pty.expect(b"ali")
        pty.send(b"\x03")
        pty.expect(b"Cancelled.")
        _menu(pty)
        pty.line("2")
        pty.expect(b"Username: ")
        pty.line("alice")
        pty.expect(b"Password: ")
        pty.send(b"\x03")
        pty.expect(b"Cancelled.")
        # A wrong choice is one sentence, and the question comes back
        _menu(pty)
        pty.line("9")
        pty.expect(b"Type a number from 1 to 3.")
        pty.expect(b"zpost> ")
        pty.line("")

        _login(pty, "alice")
        _menu(pty)
        pty.line("2")
        pty.expect(b"To (names, separated by commas): ")
        pty.line("bob")
        pty.expect(b"Subject: ")
        pty.line("Lunch on Friday?")
        pty.expect(b"Ctrl-D.")
        pty.line("Shall we meet at noon?")
        pty.line("")
        pty.line("-- alice")
        pty.line(".")
        sent = pty.expect(re.compile(rb"Sent to bob \(message (\d+)\)\."))
        message_id = int(re.search(rb"message (\d+)", sent).group(1))
        _menu(pty)
        pty.line("6")
        pty.expect(b"Logged out alice.")

        _login(pty, "bob")
        _menu(pty)
        pty.line("1")
        listing = pty.expect(b"Read which? (an id, n or p for pages, Enter for the menu) ")
        assert re.search(rb"\*\s+1\s+\S+ \S+\s+alice\s+Lunch on Friday\?", listing), \
            "the inbox does not show alice's message as unread:\n%r" % listing
        assert b"1 message, 1 unread" in listing, listing
        pty.line("1")
        message = pty.expect(b"Read which?")
        for text in [b"From: alice", b"To: bob", b"Subject: Lunch on Friday?",
                     b"Shall we meet at noon?\r\n\r\n-- alice"]:
            assert text in message, "%r not in the message shown:\n%r" % (text, message)
        pty.line("")

        _menu(pty)
        pty.line("4")
        stats = pty.expect(b"zpost> ")
        # In words, not raw keys (issue 14, item 13)
        assert b"Inbox: 1 message, 0 unread, " in stats, stats
        assert b"inbox-count" not in stats and b"quota-limit" not in stats, stats
        pty.line("1")
        listing = pty.expect(b"Read which?")
        assert b"1 message, 0 unread" in listing, listing
        pty.line("")
        # Ctrl-D at the menu logs out and leaves
        _menu(pty)
        pty.send(b"\x04")
        pty.expect(b"Logged out bob.")
        pty.expect(b"Goodbye.")
        assert pty.wait() == 0
    finally:
        pty.close()

    # The server agrees: bob read it, alice sent it
    c = h.Client(broker, timeout=5)
    c.login("bob", PASSWORD)
    assert c.stats()["inbox-unread"] == 0
    rid, reply = c.call("READ", str(message_id))
    assert reply.status == 200 and reply.fields[5] == \
        b"Shall we meet at noon?\n\n-- alice\n", reply


def test_session_through_pipes(tmp):
    broker, store = h.start_service(tmp)
    script = "\n".join([
        "1", "carol", PASSWORD, PASSWORD,           # create an account
        "2", "carol", "wrong password",             # a failed login
        "2", "carol", PASSWORD,                     # log in
        "2", "carol, nobody",                       # unknown recipient: found
                                                    # before the subject and body
        "2", "carol", "Note to self", "first line", "second line", ".",
        "1", "1", "",                               # inbox, read, back
        "3", "1", "",                               # delete it? no
        "3", "1", "y",                              # delete it
        "4",                                        # statistics
        "5", PASSWORD, "new password 2", "new password 2",
        "6",                                        # log out
        "2", "carol", "new password 2",             # the new one works
    ]) + "\n"                                       # then end of input
    argv = [h.binary("zpost"), "--server", broker.front, "--server-key",
            broker.public_key]
    cp = subprocess.run(argv, input=script.encode(), stdout=subprocess.PIPE,
                        stderr=subprocess.STDOUT, cwd=tmp, env=h.client_env(tmp),
                        timeout=60)
    out = cp.stdout.decode("utf-8", "replace")
    assert cp.returncode == 0, "rc %d:\n%s" % (cp.returncode, out)
    expected = [
        "Account carol created.",
        "Wrong username or password; check both and try again",
        "Logged in as carol.",
        "no such user: nobody; nothing was sent",
        "Sent to carol (message",
        "From: carol",
        "first line\nsecond line\n",
        "Delete message 1? It cannot be undone. [y/N]",
        "Nothing was deleted.",
        "Delete message 1? It cannot be undone. [y/N]",
        "Deleted message 1 from your inbox.",
        "Inbox: 0 messages, 0 unread",
        "Password changed",
        "Logged out carol.",
        "Logged in as carol.",
        "Logged out carol.",                        # end of input logs out
        "Goodbye.",
    ]
    at = 0
    for text in expected:
        found = out.lower().find(text.lower(), at)
        assert found >= 0, "%r missing (after offset %d) in:\n%s" % (text, at, out)
        at = found
    assert "\r" not in out, "a bare CR in pipe output"


def test_session_bad_address_and_no_server(tmp):
    # Usage error for an address that cannot be one
    rc, out, err, _ = h.run_client(tmp, ["--server", "bad host"], server_key="x" * 40)
    assert rc == 2, (rc, out, err)
    # Nobody there: the session does not start, exit 3, one sentence. The
    # port is bound and not listening for the whole check: connections to
    # it are refused, and no other test can take it meanwhile
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        port = held.getsockname()[1]
        rc, out, err, _ = h.run_client(tmp, ["--timeout", "300", "--retries", "1"],
                                       server="127.0.0.1:%d" % port,
                                       server_key=h.zmq.curve_keypair()[0].decode())
        assert rc == 3, (rc, out, err)
        assert "no answer from" in err, err
        # A bare word that is not a command is a usage error, an address a server
        rc, out, err = h.run_program(tmp, "zpost", ["no-such-command"])
        assert rc == 2 and "unknown command" in err, (rc, err)
        rc, out, err = h.run_program(tmp, "zpost", ["--timeout", "300", "--retries", "1",
                                                    "--server-key", "x" * 40,
                                                    "127.0.0.1:%d" % port])
        assert rc in (3, 4), (rc, out, err)


# ---------------------------------------------------------------------------
#  Server key trust

def _free_port():
    """A port nobody holds now, with the next one free too (the
    announcement), below 49152 if the kernel offers one: CZMQ hands out
    the ports of every other test's tcp://127.0.0.1:* from 49152 up. Free
    now only: another process may take it before the caller binds it, so
    the caller binds it in a bounded retry (_broker_on_free_port)."""
    fallback = None
    for _ in range(200):
        with socket.socket() as a, socket.socket() as b:
            a.bind(("127.0.0.1", 0))
            port = a.getsockname()[1]
            if port >= 65535:
                continue
            try:
                b.bind(("127.0.0.1", port + 1))
            except OSError:
                continue
            if port + 1 < 49152:
                return port
            fallback = fallback or port
    if fallback:
        return fallback
    raise AssertionError("no pair of free ports")


def _broker_on_free_port(tmp, tries=10):
    """A broker on a free port P with its default announcement on P + 1
    (what the client tries when it has no key), binding until neither
    port was taken in between by another test: a bounded number of tries."""
    for _ in range(tries):
        port = _free_port()
        try:
            broker = h.start_broker(tmp, front="tcp://127.0.0.1:%d" % port)
        except AssertionError as e:
            if "exited" not in str(e):
                raise
            h.log("port %d was taken before the broker bound it; another" % port)
            continue
        if re.search(r"^zpost-broker announce tcp://127\.0\.0\.1:%d$" % (port + 1),
                     broker.proc.stdout_text(), re.M):
            return broker, port
        h.log("port %d was taken before the broker bound it; another" % (port + 1))
        h.stop(broker.proc)
    raise AssertionError("no free pair of ports held in %d tries" % tries)


def _announce(broker):
    m = re.search(r"^zpost-broker announce (\S+)$", broker.proc.stdout_text(), re.M)
    assert m, "the broker printed no announce line: %r" % broker.proc.lines
    return m.group(1)


def _fingerprint(broker):
    m = re.search(r"^zpost-broker fingerprint ((?:[0-9a-f]{8} ){7}[0-9a-f]{8})$",
                  broker.proc.stdout_text(), re.M)
    assert m, "the broker printed no fingerprint: %r" % broker.proc.lines
    return m.group(1)


def _known_servers(tmp):
    return os.path.join(h.client_config_dir(tmp), "known_servers")


def test_first_contact_accept_new_key(tmp):
    broker, store = h.start_service(tmp)
    announce = _announce(broker)
    server = broker.front[len("tcp://"):]
    # No key, no terminal, no --accept-new-key: refused, nothing pinned
    rc, out, err, _ = h.run_client(tmp, ["--announce", announce, "ping"],
                                   server=broker.front, server_key="",
                                   stdin=b"y\n")
    assert rc == 4, (rc, out, err)
    assert "--accept-new-key" in err and _fingerprint(broker) in err, err
    assert not os.path.exists(_known_servers(tmp))

    rc, out, err, _ = h.run_client(tmp, ["--announce", announce, "--accept-new-key",
                                         "ping"], server=broker.front, server_key="")
    assert rc == 0 and "pong from store" in out, (rc, out, err)
    assert _fingerprint(broker) in err, "the fingerprint was not shown: %r" % err
    path = _known_servers(tmp)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    with open(path) as f:
        lines = f.read().splitlines()
    assert lines == ["%s %s" % (server, broker.public_key)], lines

    # Known now: no question, no announcement needed
    rc, out, err, _ = h.run_client(tmp, ["--announce", "tcp://127.0.0.1:1", "ping"],
                                   server=broker.front, server_key="")
    assert rc == 0 and err == "", (rc, out, err)

    # The same through the default announce port (front + 1)
    tmp2 = os.path.join(tmp, "second")
    os.mkdir(tmp2)
    other, port = _broker_on_free_port(tmp2)
    assert _announce(other) == "tcp://127.0.0.1:%d" % (port + 1)
    rc, out, err, _ = h.run_client(tmp, ["--accept-new-key", "ping", "--broker"],
                                   server="127.0.0.1:%d" % port, server_key="")
    assert rc == 0 and "pong from broker" in out, (rc, out, err)
    with open(path) as f:
        assert "127.0.0.1:%d %s" % (port, other.public_key) in f.read().splitlines()


def test_first_contact_on_a_terminal(tmp):
    broker, store = h.start_service(tmp)
    announce = _announce(broker)
    # "n": nothing pinned, exit 4
    pty = Pty(tmp, ["--server", broker.front, "--announce", announce])
    try:
        shown = pty.expect(b"Trust this server? [y/N] ")
        assert _fingerprint(broker).encode() in shown, shown
        pty.line("n")
        pty.expect(b"was not trusted")
        assert pty.wait() == 4
    finally:
        pty.close()
    assert not os.path.exists(_known_servers(tmp))
    # "y": pinned once the broker has answered, and the session goes on
    pty = Pty(tmp, ["--server", broker.front, "--announce", announce])
    try:
        pty.expect(b"Trust this server? [y/N] ")
        pty.line("y")
        pty.expect(b"added ")
        pty.expect(b"Connected to")
        _menu(pty)
        pty.line("3")
        pty.expect(b"Goodbye.")
        assert pty.wait() == 0
    finally:
        pty.close()
    with open(_known_servers(tmp)) as f:
        assert f.read() == "%s %s\n" % (broker.front[6:], broker.public_key)


def _start_broker_on(tmp, front, announce, keys):
    """A broker on fixed ports, which the one just stopped may hold a
    moment longer: try for a bounded time. None if they stay taken (by
    another test, which got them in between)."""
    for _ in range(50):
        try:
            return h.start_broker(tmp, front=front, keys=keys,
                                  extra=["--announce", announce])
        except AssertionError as e:
            if "exited" not in str(e):
                raise
            time.sleep(0.1)
    return None


def test_changed_key_is_refused(tmp):
    # The first broker binds ports nobody holds, the client pins its key,
    # and it stops; the second, with other keys, must bind the same ports.
    # If another test took them in between, the whole setup starts again
    # on other ports (a bounded number of times).
    path = _known_servers(tmp)
    for attempt in range(5):
        port = _free_port()
        front = "tcp://127.0.0.1:%d" % port
        announce = "tcp://127.0.0.1:%d" % (port + 1)
        first = _start_broker_on(tmp, front, announce, os.path.join(tmp, "keys-1"))
        if first is None:
            continue
        rc, out, err, _ = h.run_client(tmp, ["--accept-new-key", "ping", "--broker"],
                                       server=front, server_key="")
        assert rc == 0, (rc, out, err)
        h.stop(first.proc)
        # Another broker, other keys, same ports: the one the client knows is gone
        second = _start_broker_on(tmp, front, announce, os.path.join(tmp, "keys-2"))
        if second is not None:
            break
        h.log("port %d was taken between the two brokers; again on others" % port)
        os.unlink(path)
    else:
        raise AssertionError("no pair of ports stayed free in 5 tries")
    assert second.public_key != first.public_key
    rc, out, err, elapsed = h.run_client(tmp, ["--timeout", "1000", "ping", "--broker"],
                                         server=front, server_key="")
    assert rc == 4, "a changed key: expected exit 4, got %d (%r, %r)" % (rc, out, err)
    assert "different key" in err and path in err and "remove line 1" in err, err
    assert _fingerprint(second) in err, err
    assert "pong" not in out
    with open(path) as f:
        assert f.read() == "127.0.0.1:%d %s\n" % (port, first.public_key), \
            "known_servers was changed"

    # With --json, the refusal is a JSON object too
    rc, out, err, _ = h.run_client(tmp, ["--timeout", "1000", "ping", "--broker",
                                         "--json"], server=front, server_key="")
    assert rc == 4 and json.loads(out)["error"] == "KEY_CHANGED", (rc, out)

    # The guided session refuses it the same way
    pty = Pty(tmp, ["--server", front, "--timeout", "1000"])
    try:
        pty.expect(b"different key")
        assert pty.wait() == 4
        assert b"Connected to" not in pty.output
    finally:
        pty.close()

    # Removing the line, as the message says, lets the new key in
    os.unlink(path)
    rc, out, err, _ = h.run_client(tmp, ["--accept-new-key", "ping", "--broker"],
                                   server=front, server_key="")
    assert rc == 0, (rc, out, err)


# ---------------------------------------------------------------------------
#  Safe output and JSON

def test_hostile_text_is_neutralised(tmp):
    broker, store = h.start_service(tmp)
    mallory = h.Client(broker, timeout=5)
    mallory.register("mallory", PASSWORD)
    mallory.login("mallory", PASSWORD)
    victim = h.Client(broker, timeout=5)
    victim.register("victim", PASSWORD)
    reply = mallory.expect(200, "SEND", "victim", HOSTILE_SUBJECT, HOSTILE_BODY)
    message_id = reply.fields[0].decode()

    env = {"ZPOST_PASSWORD": PASSWORD}
    rc, out, err, _ = h.run_client(tmp, ["login", "victim"], broker=broker, env=env)
    assert rc == 0, (rc, out, err)

    def run(args):
        argv = [h.binary("zpost"), "--server", broker.front, "--server-key",
                broker.public_key] + args
        cp = subprocess.run(argv, capture_output=True, cwd=tmp, env=h.client_env(tmp),
                            timeout=30, stdin=subprocess.DEVNULL)
        assert cp.returncode == 0, (args, cp.returncode, cp.stderr)
        return cp.stdout + cp.stderr

    listing = run(["list"])
    _no_raw(listing, "zpost list")
    assert b"\\x1b]0;EVIL\\x07" in listing, listing
    shown = run(["read", message_id])
    _no_raw(shown, "zpost read")
    for visible in [b"\\x1b[2J", b"\\x07", b"back\\x0dOVERWRITE", b"\\u009b31m",
                    b"Subject: \\x1b]0;EVIL\\x07 \\x1b[31mRED"]:
        assert visible in shown, "%r not shown in:\n%r" % (visible, shown)

    # JSON: exactly what was sent, escaped by JSON itself
    entries = json.loads(run(["list", "--json"]))
    assert [e["subject"] for e in entries] == [HOSTILE_SUBJECT], entries
    assert entries[0]["from"] == "mallory" and entries[0]["to"] == ["victim"]
    assert entries[0]["id"] == int(message_id)
    message = json.loads(run(["read", "--json", message_id]))
    assert message["body"] == HOSTILE_BODY and message["subject"] == HOSTILE_SUBJECT
    sent = json.loads(run(["send", "--json", "--to", "mallory", "--subject",
                           "re: " + HOSTILE_SUBJECT[:20], "-m", HOSTILE_BODY]))
    assert sent["to"] == ["mallory"] and isinstance(sent["id"], int), sent
    rid, back = mallory.call("READ", str(sent["id"]))
    assert back.status == 200 and back.fields[5].decode() == HOSTILE_BODY, back

    # The guided session, on a terminal
    pty = _session(tmp, broker)
    try:
        _login(pty, "victim")
        _menu(pty)
        pty.line("1")
        pty.expect(b"Read which?")
        pty.line("1")
        pty.expect(b"Read which?")
        pty.line("")
        _menu(pty)
        pty.send(b"\x04")
        pty.expect(b"Goodbye.")
        assert pty.wait() == 0
    finally:
        pty.close()
    _no_raw(pty.output, "the guided session")
    assert b"\\x1b]0;TITLE\\x07cleared" in pty.output, pty.tail()
    assert b"\\u009b2J" in pty.output


if __name__ == "__main__":
    h.run_tests([
        test_session_on_a_terminal,
        test_session_through_pipes,
        test_session_bad_address_and_no_server,
        test_first_contact_accept_new_key,
        test_first_contact_on_a_terminal,
        test_changed_key_is_refused,
        test_hostile_text_is_neutralised,
    ])
