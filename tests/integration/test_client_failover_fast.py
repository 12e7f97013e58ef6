"""test_client_failover_fast - a client does not wait out a dead broker
(issue 11, item 4).

Every client here runs with --timeout 20000: three tries of that would
take a minute. The client watches its socket (the socket monitor), so:

- with the broker killed (nobody listening), a command gives up with a
  sentence that says the connection was refused, in well under the
  3 x 20 s the tries would take if each waited out its timeout;
- on a terminal it says what it is doing before each retry
  ("cannot connect to HOST, trying again (2/3)"); when the broker dies
  with the request in hand, "lost the connection to HOST, trying again",
  at once, not after the timeout; and a broker restarted on the same
  port gets the retried request and answers it;
- leaving the guided session with the broker down does not wait for it.

The broker's front port is picked at random below the ranges that CZMQ
("tcp://...:*") and the kernel hand out, so that no parallel test takes
it while the broker is down.
"""

import os
import random
import re
import subprocess
import time

import fcntl
import select
import struct
import termios

import harness as h

SLOW = "20000"              # ms per try: three of them would be a minute
PASSWORD = "correct horse"
GIVE_UP_BOUND = 30.0        # s: far below 3 x 20 s, room for a loaded machine
EXPECT_TIMEOUT = 15.0       # s: anything the monitor notices comes in ms


class Pty:
    """A program on a pseudo-terminal that is its controlling terminal;
    output read with deadlines, all of it kept."""

    def __init__(self, tmp, argv):
        self.master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))

        def controlling_terminal():
            os.setsid()
            fcntl.ioctl(0, termios.TIOCSCTTY, 0)

        self.proc = subprocess.Popen(
            argv, stdin=slave, stdout=slave, stderr=slave, cwd=tmp,
            env=h.client_env(tmp, {"TERM": "dumb", "ZPOST_PASSWORD": PASSWORD}),
            preexec_fn=controlling_terminal, close_fds=True)
        os.close(slave)
        self.pending = b""
        self.output = b""

    def expect(self, pattern, timeout=EXPECT_TIMEOUT):
        deadline = time.monotonic() + timeout
        while True:
            at = self.pending.find(pattern)
            if at >= 0:
                self.pending = self.pending[at + len(pattern):]
                return
            left = deadline - time.monotonic()
            ready = select.select([self.master], [], [], max(0.0, left))[0]
            if not ready:
                raise AssertionError("no %r within %.1f s; the terminal shows:\n%s"
                                     % (pattern, timeout, self.tail()))
            try:
                data = os.read(self.master, 65536)
            except OSError:
                data = b""
            if not data:
                raise AssertionError("zpost ended (rc %r) before %r; the terminal "
                                     "shows:\n%s" % (self.proc.poll(), pattern,
                                                     self.tail()))
            self.pending += data
            self.output += data

    def send(self, data):
        os.write(self.master, data)

    def tail(self, size=3000):
        return self.output[-size:].decode("utf-8", "replace")

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(10)
        os.close(self.master)


def _start_broker(tmp, port, keys, extra=()):
    """A broker on 127.0.0.1:port (same keys and back end every time)."""
    return h.start_broker(tmp, front="tcp://127.0.0.1:%d" % port, keys=keys,
                          back="ipc://%s/back.ipc" % tmp, extra=extra)


def _up(tmp, extra=()):
    """Broker on a random quiet port, a store, alice registered and logged in
    with the zpost client. Returns (broker, store, port, keys)."""
    keys = os.path.join(tmp, "broker-keys")
    for attempt in range(5):
        port = random.randrange(20000, 32000)
        try:
            broker = _start_broker(tmp, port, keys, extra)
            break
        except AssertionError:
            if attempt == 4:
                raise
            h.log("port %d is taken; another" % port)
    store = h.start_store(tmp, broker.back)
    h.wait_store_ready(broker)
    client = h.Client(broker, timeout=5)
    client.register("alice", PASSWORD)
    rc, out, err, _ = h.run_client(tmp, ["login", "alice"], broker=broker,
                                   env={"ZPOST_PASSWORD": PASSWORD})
    assert rc == 0, (rc, out, err)
    return broker, store, port, keys


def _argv(broker, *args):
    return [h.binary("zpost"), "--server", broker.front, "--server-key",
            broker.public_key, "--timeout", SLOW] + list(args)


def test_dead_broker_gives_up_fast(tmp):
    broker, store, port, keys = _up(tmp)
    broker.proc.kill()
    rc, out, err, elapsed = h.run_client(tmp, ["--timeout", SLOW, "list"],
                                         broker=broker, timeout=75)
    h.log("list with the broker dead: rc %d in %.1f s; %s" % (rc, elapsed, err.strip()))
    assert rc == 3, (rc, out, err)
    assert elapsed < GIVE_UP_BOUND, \
        "gave up after %.1f s; 3 tries of %s ms each waited out" % (elapsed, SLOW)
    assert "after 3 tries (the connection was refused)" in err, err
    # Not on a terminal: no notices between the tries
    assert "trying again" not in err, err


def test_terminal_notices_and_restarted_broker(tmp):
    # A long forwarding deadline and heartbeat: the request stays with the
    # broker while the store is stopped, until the test kills the broker
    broker, store, port, keys = _up(tmp, ["-v", "--timeout", "60000",
                                          "--heartbeat", "10000"])
    h.freeze(store.proc)
    pty = None
    seen = len(broker.proc.log_text())
    try:
        pty = Pty(tmp, _argv(broker, "--retries", "20", "ping"))
        # The broker has the PING and has handed it to the (stopped) store
        forwarded = h.wait_until(
            lambda: re.search(r"PING (\S+) from .* -> ticket ",
                              broker.proc.log_text()[seen:]),
            15.0, 0.05, "the broker to forward the PING")
        request_id = forwarded.group(1)
        broker.proc.kill()
        killed = time.monotonic()
        server = ("127.0.0.1:%d" % port).encode()
        pty.expect(b"lost the connection to " + server + b", trying again (2/20)")
        noticed = time.monotonic() - killed
        h.log("the drop was noticed %.2f s after the kill" % noticed)
        assert noticed < int(SLOW) / 1000.0, "the try waited out its timeout"
        # Nobody listening now: a later try says so (on a busy machine the
        # dying broker's port may still close a handshake first)
        pty.expect(b"cannot connect to " + server + b", trying again (")
        # A broker restarted on the same port gets the retried PING
        for attempt in range(10):
            try:
                again = _start_broker(tmp, port, keys, ["-v"])
                break
            except AssertionError:
                if attempt == 9:
                    raise
                time.sleep(0.2)
        h.thaw(store.proc)
        pty.expect(b"pong from store", timeout=45.0)
        assert pty.proc.wait(15) == 0
        assert ("PING %s from" % request_id) in again.proc.log_text(), \
            "the new broker did not get request %s:\n%s" \
            % (request_id, again.proc.log_text())
    finally:
        h.thaw(store.proc)
        if pty:
            pty.close()


def test_leaving_the_session_does_not_wait(tmp):
    broker, store, port, keys = _up(tmp)
    pty = Pty(tmp, _argv(broker))
    try:
        pty.expect(b"Connected to")
        pty.expect(b"zpost> ")
        pty.send(b"2\r")
        pty.expect(b"Username: ")
        pty.send(b"alice\r")
        pty.expect(b"Password: ")
        pty.send(PASSWORD.encode() + b"\r")
        pty.expect(b"Logged in as alice.")
        pty.expect(b"zpost> ")
        broker.proc.kill()
        start = time.monotonic()
        pty.send(b"\x04")               # Ctrl-D at the menu: log out and leave
        pty.expect(b"Goodbye.", timeout=GIVE_UP_BOUND)
        elapsed = time.monotonic() - start
        h.log("left the session in %.2f s with the broker down" % elapsed)
        assert "trying again" not in pty.tail(), pty.tail()
        assert pty.proc.wait(15) == 0
    finally:
        pty.close()


if __name__ == "__main__":
    h.run_tests([
        test_dead_broker_gives_up_fast,
        test_terminal_notices_and_restarted_broker,
        test_leaving_the_session_does_not_wait,
    ])
