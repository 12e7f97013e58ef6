#!/usr/bin/python3
"""example.py - speak ZPOST from Python, straight from protocol/ZPOST.md.

    scripts/example.py ENDPOINT SERVER_KEY_FILE [USERNAME]

    scripts/example.py tcp://127.0.0.1:5321 var/broker/broker.key

Registers a user (USERNAME, default "example-" and 8 random hex digits)
with a random password, logs in, sends a message to that same user, lists
the inbox, and deletes the account again (UNREGISTER, which ends its
session), printing each step. It needs only pyzmq (Debian:
python3-zmq) and the broker's public key file (broker.key: a CZMQ
certificate, or a file whose first line is the 40-character key).

What it shows about the protocol:

- every request is "ZPOST1" command request-id token *field, every reply
  "ZPOST1" command request-id status reason *field (one frame each);
- the connection is CurveZMQ: the client makes its own key pair and must
  know the server's public key;
- a request that gets no reply in time is sent again, on a new socket,
  with the same request-id (Lazy Pirate), so a SEND is never delivered
  twice; 503 (no store for now) is retried the same way;
- a session is bound to the client's key pair: LOGIN's token works only
  from the same keys, so this script keeps one pair throughout.

Exit status: 0 done, 1 the server refused a request, 3 no answer.
"""

import os
import re
import sys
import time

import zmq

TIMEOUT_MS = 3000           # wait for one try
TRIES = 3                   # tries per request


def read_server_key(path):
    """The Z85 public key from a CZMQ certificate or a one-line key file."""
    with open(path) as f:
        text = f.read()
    match = re.search(r'public-key\s*=\s*"([^"]{40})"', text)
    if match:
        return match.group(1).encode()
    first = text.strip().splitlines()[0].strip() if text.strip() else ""
    if len(first) != 40:
        sys.exit("%s holds no 40-character public key" % path)
    return first.encode()


class Client:
    """One CURVE client speaking ZPOST1 over REQ sockets, Lazy Pirate style."""

    def __init__(self, endpoint, server_key):
        self.endpoint = endpoint
        self.server_key = server_key
        self.public, self.secret = zmq.curve_keypair()   # our identity
        self.context = zmq.Context.instance()
        self.token = b""                                  # set by LOGIN

    def _socket(self):
        sock = self.context.socket(zmq.REQ)
        sock.curve_serverkey = self.server_key           # before connect
        sock.curve_publickey = self.public
        sock.curve_secretkey = self.secret
        sock.linger = 0
        sock.connect(self.endpoint)
        return sock

    def call(self, command, *fields):
        """Send one request; return (status, reason, fields) of its reply."""
        request_id = os.urandom(16).hex().encode()       # 128 random bits
        frames = [b"ZPOST1", command.encode(), request_id, self.token]
        frames += [f if isinstance(f, bytes) else str(f).encode() for f in fields]
        for attempt in range(TRIES):
            sock = self._socket()
            sock.send_multipart(frames)
            reply = None
            if sock.poll(TIMEOUT_MS, zmq.POLLIN):
                reply = sock.recv_multipart()
            sock.close()
            if reply is None:
                continue                                 # same request, new socket
            if len(reply) < 5 or reply[0] != b"ZPOST1":
                sys.exit("%s: not a ZPOST1 reply: %r" % (command, reply))
            # An error reply may leave command and request-id empty (the
            # server could not read them); any other reply must echo both
            echoed = reply[1:3] == [command.encode(), request_id]
            if not echoed and not (reply[1:3] == [b"", b""] and reply[3] != b"200"):
                sys.exit("%s: the reply answers another request" % command)
            status, reason = int(reply[3]), reply[4].decode()
            if status == 503 and attempt + 1 < TRIES:
                time.sleep(0.1 * 2 ** attempt)           # no store yet: retry
                continue
            return status, reason, reply[5:]
        print("no answer from %s after %d tries; is the broker running, and is "
              "the key right?" % (self.endpoint, TRIES), file=sys.stderr)
        sys.exit(3)

    def expect(self, command, *fields):
        """call(), and stop the script unless the server said 200."""
        status, reason, reply = self.call(command, *fields)
        if status != 200:
            detail = " (%s)" % reply[0].decode() if reply else ""
            print("%s refused: %d %s%s" % (command, status, reason, detail),
                  file=sys.stderr)
            sys.exit(1)
        return reply


def main():
    if len(sys.argv) not in (3, 4):
        sys.exit("usage: " + __doc__.strip().splitlines()[2].strip())
    endpoint, key_file = sys.argv[1], sys.argv[2]
    username = sys.argv[3] if len(sys.argv) == 4 else "example-" + os.urandom(4).hex()
    password = os.urandom(12).hex()             # never on the command line
    client = Client(endpoint, read_server_key(key_file))

    version, answered_by = client.expect("PING", "store")
    print("PING: answered by the %s (%s)" % (answered_by.decode(), version.decode()))

    client.expect("REGISTER", username, password)
    print("REGISTER: %s" % username)

    token, expires = client.expect("LOGIN", username, password)
    client.token = token                        # every later request carries it
    print("LOGIN: session until %s" % time.strftime("%Y-%m-%d %H:%M",
                                                  time.localtime(int(expires))))

    subject = "Hello from Python"
    body = "Sent by scripts/example.py, frame by frame from the spec.\n"
    (message_id,) = client.expect("SEND", username, subject, body)
    print("SEND: message %s to %s" % (message_id.decode(), username))

    # LIST folder filter limit before: one frame per row, 7 fields
    # separated by NUL bytes (no field can hold one)
    rows = client.expect("LIST", "inbox", "all", 10, 0)
    print("LIST: %d message(s) in the inbox" % len(rows))
    for row in rows:
        mid, sender, to, subj, date, size, seen = (f.decode() for f in row.split(b"\0"))
        # Text other users wrote may hold terminal escapes: %r shows them
        # escaped instead of letting them act on the terminal
        print("  %s%s  from %r  %r  %s bytes" % ("*" if seen == "0" else " ",
                                                 mid, sender, subj, size))

    # Leave nothing behind: UNREGISTER takes the password again, deletes
    # the account with its mail and sessions, and frees the name
    client.expect("UNREGISTER", password)
    print("UNREGISTER: %s deleted" % username)


if __name__ == "__main__":
    main()
