#!/usr/bin/python3
"""loadgen - concurrent senders that fail over between brokers, and a
checker that every acknowledged message is stored exactly once (issue 12,
items 5 and 6).

Standalone (pyzmq only, Debian's /usr/bin/python3), so that it runs inside
a test host:   ip netns exec NS /usr/bin/python3 loadgen.py COMMAND ...

  ping   --servers H:P[,H:P...] --server-key KEY [--deadline S]
         PING target=store through each server until it answers 200 or
         the deadline passes.  -> {"H:P": status or null, ...}

  send   --servers ... --server-key KEY --out FILE [--senders 16]
         [--count N] [--duration S] [--timeout S] [--tries N]
         [--recipients N] [--password P] [--prefix NAME]
         Registers the recipients and one user per sender (each sender its
         own CURVE key pair), logs every sender in, prints "loadgen ready",
         then each sender SENDs, one at a time, up to N messages or until
         S seconds have passed: each a new request id and a body found in
         no other message. A try that gets no answer within the timeout,
         or 503, is tried again with the SAME request id on a new socket
         through the next server (Lazy Pirate across the list: ZPOST.md
         "Clients: Lazy Pirate"), up to --tries tries. Every 200 is an
         acknowledgement: its message-id and body go to FILE (JSON), with
         every failover: the time from the first failed try of a request
         to its first good reply through another server, and every
         recovery: the same through any server (one broker restarted).
         -> summary {"acknowledged", "gave_up", "errors", "retried",
            "failovers", "failover_p50", "failover_max", "recovery_p50",
            "recovery_max", "acks_per_server", "rate", "try_outcomes"
            (every try's status, or "no answer"), "ack_gap_max" (the
            longest time with no acknowledgement, s), "ack_gap_from" and
            "start" (time.monotonic(), the machine's clock), ...}
         Each acknowledgement in FILE has its time "at" (time.monotonic()).

  check  --servers ... --server-key KEY --acks FILE [--timeout S]
         Logs in as each recipient, pages through its whole inbox with
         LIST (newest first, "before" = the smallest id of the last page,
         ZPOST.md "LIST"), READs every message of this run, and checks each
         acknowledged body present exactly once, under the acknowledged id.
         -> {"acknowledged", "lost", "duplicated", "mismatched",
             "failover_p50", "failover_max", ...}

  stats  --servers ... --server-key KEY --acks FILE [--repeat 4]
         Logs in as the run's first recipient and asks STATS server
         through each server --repeat times.  -> {"H:P": [{name: value}]}

Every command prints, as its last stdout line, "loadgen result " and one
line of JSON, and exits 0 when it could do its work (the caller judges the
figures); 1 when it could not (setup failed, a deadline passed), with the
reason on stderr. Every wait has a deadline.
"""

import argparse
import binascii
import json
import os
import sys
import threading
import time

import zmq

SIGNATURE = b"ZPOST1"
LIST_LIMIT = 1000


def log(*args):
    print("loadgen:", *args, file=sys.stderr, flush=True)


def result(obj, rc=0):
    print("loadgen result " + json.dumps(obj, sort_keys=True), flush=True)
    sys.stdout.flush()
    os._exit(rc)            # no wait for threads stuck in a try


def fail(text, obj=None):
    log(text)
    out = {"error": text}
    if obj:
        out.update(obj)
    result(out, 1)


def new_id():
    return binascii.hexlify(os.urandom(16)).decode()


def _b(x):
    return x if isinstance(x, bytes) else str(x).encode("utf-8")


def endpoint(server):
    return server if server.startswith("tcp://") else "tcp://" + server


def percentile(values, p):
    if not values:
        return None
    values = sorted(values)
    k = min(len(values) - 1, max(0, int(round(p / 100.0 * (len(values) - 1)))))
    return values[k]


class Reply:
    def __init__(self, frames):
        self.frames = frames
        ok = len(frames) >= 5 and frames[0] == SIGNATURE and frames[3].isdigit()
        self.status = int(frames[3]) if ok else None
        self.request_id = frames[2] if len(frames) > 2 else None
        self.reason = frames[4].decode("utf-8", "replace") if len(frames) > 4 else ""
        self.fields = frames[5:]

    def detail_seconds(self):
        try:
            return float(self.fields[0]) if self.fields else 0.0
        except ValueError:
            return 0.0


class Peer:
    """One client key pair talking to a list of servers, one REQ socket at a
    time, failing over to the next server on no answer or 503."""

    def __init__(self, ctx, servers, server_key, timeout, start=0, name=""):
        self.ctx = ctx
        self.servers = servers
        self.server_key = _b(server_key)
        self.keys = zmq.curve_keypair()
        self.timeout = timeout
        self.current = start % len(servers)
        self.sock = None
        self.sock_server = None
        self.last_server = None     # the server of the last good reply
        self.token = ""
        self.name = name
        self.failovers = []     # {"from", "to", "seconds", "tries"}
        self.retried = 0        # requests that needed more than one try
        self.recoveries = []    # seconds from a first failed try to a good
                                # reply, through any server
        self.outcomes = {}      # every try's outcome: "200", "503", ...,
                                # or "no answer" (the try's timeout passed)

    def _socket(self):
        if self.sock is not None and self.sock_server == self.current:
            return self.sock
        self.close()
        sock = self.ctx.socket(zmq.REQ)
        sock.linger = 0
        sock.sndtimeo = int(self.timeout * 1000)
        sock.curve_serverkey = self.server_key
        sock.curve_publickey = self.keys[0]
        sock.curve_secretkey = self.keys[1]
        sock.connect(endpoint(self.servers[self.current]))
        self.sock = sock
        self.sock_server = self.current
        return sock

    def close(self):
        if self.sock is not None:
            self.sock.close(linger=0)
            self.sock = None

    def call(self, command, *fields, request_id=None, tries=6, deadline=None,
             wait_busy=False):
        """Returns (request_id, Reply or None, tries used); the reply is a
        503 if every try failed and the last got 503. A retry keeps
        the request id; no answer or 503 moves to the next server. After a
        round of every server failing, a short pause (growing) before the
        next round. wait_busy: on 503 or 429 with a detail of seconds,
        wait that long (setup only)."""
        request_id = request_id or new_id()
        frames = [SIGNATURE, _b(command), _b(request_id), _b(self.token)] + \
            [_b(f) for f in fields]
        first_fail = None
        failed_at = None
        last = None                 # the last 503, if the tries end on one
        attempt = 0
        for attempt in range(1, tries + 1):
            if deadline is not None and time.monotonic() >= deadline:
                break
            server = self.current
            sock = self._socket()
            started = time.monotonic()
            reply = None
            try:
                sock.send_multipart(frames)
                if sock.poll(int(self.timeout * 1000), zmq.POLLIN):
                    reply = Reply(sock.recv_multipart())
            except zmq.ZMQError:
                reply = None
            if reply is None:
                self.close()        # Lazy Pirate: a REQ cannot send again
            outcome = "no answer" if reply is None else str(reply.status)
            self.outcomes[outcome] = self.outcomes.get(outcome, 0) + 1
            if reply is not None and reply.status != 503:
                self.last_server = server
                if first_fail is not None:
                    self.retried += 1
                    self.recoveries.append(time.monotonic() - first_fail)
                    if server != failed_at:
                        self.failovers.append({
                            "from": self.servers[failed_at],
                            "to": self.servers[server],
                            "seconds": time.monotonic() - first_fail,
                            "tries": attempt, "command": command})
                if wait_busy and reply.status == 429 and attempt < tries:
                    time.sleep(min(5.0, max(0.2, reply.detail_seconds())))
                    continue
                return request_id, reply, attempt
            last = reply
            if first_fail is None:
                first_fail = started
                failed_at = server
            if wait_busy and reply is not None and reply.detail_seconds() > 0:
                time.sleep(min(5.0, reply.detail_seconds()))
            self.current = (self.current + 1) % len(self.servers)
            if attempt % len(self.servers) == 0:
                time.sleep(min(1.0, 0.1 * attempt / len(self.servers)))
        return request_id, last, attempt

    def setup(self, command, *fields, deadline, ok=(200,)):
        """A REGISTER or LOGIN that must succeed before the deadline."""
        rid = new_id()
        while time.monotonic() < deadline:
            _, reply, _ = self.call(command, *fields, request_id=rid, tries=4,
                                    deadline=deadline, wait_busy=True)
            if reply is not None and reply.status in ok:
                return reply
            if reply is not None and reply.status not in (429, 503):
                raise RuntimeError("%s %s: %s %s %r" % (
                    command, fields[0], reply.status, reply.reason, reply.fields))
            if command == "LOGIN":
                rid = new_id()      # LOGIN keeps no record: a new id is fine
        raise RuntimeError("%s %s: no 200 before the setup deadline"
                           % (command, fields[0]))


# ---------------------------------------------------------------------------

def cmd_ping(args):
    """Round robin over the servers, so that one that never answers does
    not use up the others' time."""
    ctx = zmq.Context()
    servers = args.servers.split(",")
    deadline = time.monotonic() + args.deadline
    status = {server: None for server in servers}
    waiting = list(servers)
    while waiting and time.monotonic() < deadline:
        for server in list(waiting):
            left = deadline - time.monotonic()
            if left <= 0:
                break
            peer = Peer(ctx, [server], args.server_key,
                        min(args.timeout, max(0.1, left)))
            _, reply, _ = peer.call("PING", "store", tries=1)
            peer.close()
            status[server] = reply.status if reply is not None else None
            if status[server] == args.until:
                waiting.remove(server)
        if waiting:
            time.sleep(0.1)
    result(status)


def cmd_send(args):
    ctx = zmq.Context()
    servers = args.servers.split(",")
    prefix = args.prefix or "lg" + new_id()[:8]
    recipients = ["%sr%d" % (prefix, i) for i in range(args.recipients)]
    setup_deadline = time.monotonic() + args.setup_timeout
    boss = Peer(ctx, servers, args.server_key, args.timeout * 2, name="setup")
    try:
        for name in recipients:
            boss.setup("REGISTER", name, args.password, deadline=setup_deadline)
    except RuntimeError as e:
        fail("setup: %s" % e)
    boss.close()

    lock = threading.Lock()
    acks, gave_up, errors = [], [], {}
    peers = []
    ready = threading.Barrier(args.senders + 1)
    setup_errors = []
    go = {}
    started = threading.Event()     # set once go["end"] is

    def sender(i):
        peer = Peer(ctx, servers, args.server_key, args.timeout,
                    start=i if args.spread else 0, name="s%d" % i)
        peers.append(peer)
        user = "%ss%d" % (prefix, i)
        try:
            peer.setup("REGISTER", user, args.password, deadline=setup_deadline)
            reply = peer.setup("LOGIN", user, args.password,
                               deadline=setup_deadline)
            peer.token = reply.fields[0].decode()
        except RuntimeError as e:
            setup_errors.append(str(e))
        try:
            ready.wait(args.setup_timeout + 10)
        except threading.BrokenBarrierError:
            return
        if not started.wait(args.setup_timeout + 10) or setup_errors:
            return
        peer.failovers = []         # only the sends' failovers count
        peer.retried = 0
        peer.recoveries = []
        peer.outcomes = {}
        to = recipients[i % len(recipients)]
        for n in range(args.count):
            if time.monotonic() >= go["end"]:
                break
            body = "%s body s%d n%d %s" % (prefix, i, n, new_id())
            rid, reply, tries = peer.call("SEND", to, "load s%d n%d" % (i, n),
                                          body, tries=args.tries)
            with lock:
                if reply is None or reply.status == 503:
                    #  the outcome is unknown: stored or not, never twice
                    gave_up.append({"rid": rid, "body": body, "to": to,
                                    "last": reply and reply.status})
                elif reply.status == 200:
                    acks.append({"rid": rid, "body": body, "to": to,
                                 "id": int(reply.fields[0]), "user": user,
                                 "tries": tries, "at": time.monotonic(),
                                 "server": servers[peer.last_server]})
                else:
                    key = "%d %s" % (reply.status, reply.reason)
                    errors[key] = errors.get(key, 0) + 1
        peer.close()

    threads = [threading.Thread(target=sender, args=(i,), daemon=True)
               for i in range(args.senders)]
    for t in threads:
        t.start()
    try:
        ready.wait(args.setup_timeout + 10)
    except threading.BrokenBarrierError:
        fail("setup: the senders were not all logged in in time: %s"
             % setup_errors)
    if setup_errors:
        started.set()
        fail("setup: %s" % "; ".join(setup_errors))
    start = time.monotonic()
    go["end"] = start + args.duration
    started.set()
    print("loadgen ready", flush=True)
    hard = go["end"] + args.tries * (args.timeout + 1.0) + 10.0
    for t in threads:
        t.join(max(0.1, hard - time.monotonic()))
    stuck = sum(1 for t in threads if t.is_alive())
    elapsed = time.monotonic() - start
    with lock:
        failovers = [f for p in peers for f in p.failovers]
        seconds = [f["seconds"] for f in failovers]
        recoveries = [r for p in peers for r in p.recoveries]
        per_server = {}
        for a in acks:
            per_server[a["server"]] = per_server.get(a["server"], 0) + 1
        outcomes = {}
        for p in peers:
            for k, v in p.outcomes.items():
                outcomes[k] = outcomes.get(k, 0) + v
        #  The longest time with no acknowledgement (CLOCK_MONOTONIC, the
        #  machine's: the caller can place its own fault times on it)
        times = sorted([start] + [a["at"] for a in acks])
        gaps = [(b - a, a) for a, b in zip(times, times[1:])]
        gap = max(gaps) if gaps else (None, None)
        summary = {
            "prefix": prefix, "senders": args.senders, "servers": servers,
            "acknowledged": len(acks), "gave_up": len(gave_up),
            "errors": errors, "retried": sum(p.retried for p in peers),
            "failovers": len(failovers),
            "failover_p50": percentile(seconds, 50),
            "failover_max": max(seconds) if seconds else None,
            "recovery_p50": percentile(recoveries, 50),
            "recovery_max": max(recoveries) if recoveries else None,
            "acks_per_server": per_server, "elapsed": round(elapsed, 3),
            "try_outcomes": outcomes, "start": start,
            "ack_gap_max": gap[0], "ack_gap_from": gap[1],
            "rate": round(len(acks) / elapsed, 1) if elapsed > 0 else None,
            "stuck": stuck}
        with open(args.out + ".tmp", "w") as f:
            json.dump({"summary": summary, "recipients": recipients,
                       "password": args.password, "acks": acks,
                       "gave_up": gave_up, "failovers": failovers}, f)
        os.replace(args.out + ".tmp", args.out)
    if stuck:
        fail("%d senders still in a try %.0f s after the end" % (stuck, hard - start),
             summary)
    result(summary)


def read_pipelined(ctx, peer, ids, timeout, window=100):
    """READ many messages at once: a DEALER with the peer's key and token
    on its current server, up to `window` requests in flight. Returns
    {id: body} of those answered 200; the caller READs the rest one by
    one (with failover)."""
    sock = ctx.socket(zmq.DEALER)
    sock.linger = 0
    sock.curve_serverkey = peer.server_key
    sock.curve_publickey = peer.keys[0]
    sock.curve_secretkey = peer.keys[1]
    sock.connect(endpoint(peer.servers[peer.current]))
    bodies = {}
    pending = {}
    unsent = list(ids)
    try:
        while unsent or pending:
            while unsent and len(pending) < window:
                mid = unsent.pop()
                rid = new_id()
                pending[rid.encode()] = mid
                sock.send_multipart([b"", SIGNATURE, b"READ", rid.encode(),
                                     _b(peer.token), _b(mid)])
            if not sock.poll(int(timeout * 1000), zmq.POLLIN):
                break
            frames = sock.recv_multipart()
            if frames and frames[0] == b"":
                frames = frames[1:]
            reply = Reply(frames)
            mid = pending.pop(reply.request_id, None)
            if mid is not None and reply.status == 200 and len(reply.fields) >= 6:
                bodies[mid] = reply.fields[5]
    finally:
        sock.close(linger=0)
    return bodies


def cmd_check(args):
    ctx = zmq.Context()
    servers = args.servers.split(",")
    with open(args.acks) as f:
        run = json.load(f)
    prefix = run["summary"]["prefix"] + " body "
    deadline = time.monotonic() + args.deadline
    found = {}              # body -> [message ids]
    inbox = 0
    for name in run["recipients"]:
        peer = Peer(ctx, servers, args.server_key, args.timeout, name=name)
        try:
            reply = peer.setup("LOGIN", name, run["password"], deadline=deadline)
        except RuntimeError as e:
            fail("check: %s" % e)
        peer.token = reply.fields[0].decode()
        ids = []
        before = 0
        while True:
            _, reply, _ = peer.call("LIST", "inbox", "all", LIST_LIMIT, before,
                                    tries=8, deadline=deadline)
            if reply is None or reply.status != 200:
                fail("check: LIST %s before %d: %s" % (
                    name, before, reply and (reply.status, reply.reason)))
            page = [int(row.split(b"\0")[0]) for row in reply.fields]
            ids += page
            if len(page) < LIST_LIMIT:
                break
            before = min(page)
        assert len(ids) == len(set(ids)), "LIST paging gave an id twice"
        inbox += len(ids)
        bodies = read_pipelined(ctx, peer, ids, args.timeout * 5)
        for mid in ids:
            if mid in bodies:
                continue
            _, reply, _ = peer.call("READ", mid, tries=8, deadline=deadline)
            if reply is None or reply.status != 200:
                fail("check: READ %s %d: %s" % (
                    name, mid, reply and (reply.status, reply.reason)))
            bodies[mid] = reply.fields[5]
        for mid in ids:
            body = bodies[mid].decode("utf-8", "replace")
            if body.startswith(prefix):
                found.setdefault(body, []).append(mid)
        peer.close()
    acked = {a["body"]: a for a in run["acks"]}
    lost = [b for b in acked if b not in found]
    duplicated = [b for b, ids in found.items() if len(ids) > 1]
    mismatched = [b for b, a in acked.items()
                  if len(found.get(b, [])) == 1 and found[b][0] != a["id"]]
    extra = [b for b in found if b not in acked]
    seconds = [f["seconds"] for f in run["failovers"]]
    out = {"acknowledged": len(acked), "present_once": len(acked) - len(lost)
           - len([b for b in duplicated if b in acked]),
           "lost": len(lost), "duplicated": len(duplicated),
           "mismatched": len(mismatched), "unacknowledged_present": len(extra),
           "gave_up": len(run["gave_up"]), "inbox": inbox,
           "failovers": len(seconds), "failover_p50": percentile(seconds, 50),
           "failover_max": max(seconds) if seconds else None,
           "lost_sample": lost[:5], "duplicated_sample": duplicated[:5],
           "mismatched_sample": mismatched[:5]}
    result(out)


def cmd_stats(args):
    """STATS server through each server in turn, --repeat times each, as the
    first recipient of a send run (--acks): every store on one database
    must give the same figures, whichever answers."""
    ctx = zmq.Context()
    servers = args.servers.split(",")
    with open(args.acks) as f:
        run = json.load(f)
    deadline = time.monotonic() + args.deadline
    out = {}
    for server in servers:
        peer = Peer(ctx, [server], args.server_key, args.timeout, name="stats")
        try:
            reply = peer.setup("LOGIN", run["recipients"][0], run["password"],
                               deadline=deadline)
        except RuntimeError as e:
            fail("stats: %s" % e)
        peer.token = reply.fields[0].decode()
        out[server] = []
        for _ in range(args.repeat):
            _, reply, _ = peer.call("STATS", "server", tries=8, deadline=deadline)
            if reply is None or reply.status != 200:
                fail("stats: STATS server through %s: %s" % (
                    server, reply and (reply.status, reply.reason)))
            rows = {}
            for row in reply.fields:
                name, _, value = row.partition(b"\0")
                rows[name.decode()] = int(value)
            out[server].append(rows)
        peer.close()
    result(out)


def _big_rcvbuf(sock):
    """4 MiB of receive buffer, past net.core.rmem_max (root may: SO_RCVBUFFORCE),
    so that a probe's datagrams are not dropped by a full buffer while a
    busy machine keeps the reader off the CPU: only the fault under test
    may drop them."""
    import socket
    try:
        sock.setsockopt(socket.SOL_SOCKET, 33, 4 << 20)    # SO_RCVBUFFORCE
    except OSError:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)


def cmd_echo(args):
    """A UDP echo server on --port (every address of the host), for the
    fault tests' probes; runs until killed."""
    import socket
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    _big_rcvbuf(sock)
    sock.bind(("0.0.0.0", args.port))
    print("loadgen echo ready", flush=True)
    while True:
        data, peer = sock.recvfrom(2048)
        try:
            sock.sendto(data, peer)
        except OSError:
            pass        # a drop in this host's output hook is EPERM here


def cmd_udp(args):
    """Send --count numbered datagrams to --to HOST:PORT (in bursts of 20)
    and count the distinct echoes. The count is final once no echo has
    come for --quiet s (and --window s have passed since the last send):
    on a veth an echo takes microseconds, so these are bounds with room,
    not a guess of the time it takes."""
    import socket
    host, port = args.to.rsplit(":", 1)
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    _big_rcvbuf(sock)
    sock.settimeout(0.05)
    run = new_id()[:8]
    seen = set()
    errors = 0

    def drain():
        while True:
            try:
                data = sock.recv(2048)
            except socket.timeout:
                return
            except OSError:
                return
            parts = data.decode("ascii", "replace").split()
            if len(parts) == 2 and parts[0] == run:
                seen.add(int(parts[1]))
    for n in range(args.count):
        try:
            sock.sendto(("%s %d" % (run, n)).encode(), (host, int(port)))
        except OSError:
            errors += 1         # no route (link down): never delivered
        if n % 20 == 19:
            drain()
    last_send = time.monotonic()
    last_new = last_send
    count = len(seen)
    while True:
        drain()
        now = time.monotonic()
        if len(seen) != count:
            count = len(seen)
            last_new = now
        if len(seen) == args.count:
            break
        if now - last_send >= args.window and now - last_new >= args.quiet:
            break
    result({"sent": args.count, "echoed": len(seen), "send_errors": errors})


def main():
    ap = argparse.ArgumentParser(prog="loadgen.py")
    sub = ap.add_subparsers(dest="command", required=True)
    p = sub.add_parser("echo")
    p.add_argument("--port", type=int, required=True)
    p = sub.add_parser("udp")
    p.add_argument("--to", required=True)
    p.add_argument("--count", type=int, default=200)
    p.add_argument("--window", type=float, default=2.0)
    p.add_argument("--quiet", type=float, default=1.0)
    for name in ("ping", "send", "check", "stats"):
        p = sub.add_parser(name)
        p.add_argument("--servers", required=True)
        #  Pass it as --server-key=KEY: a Z85 key may begin with "-",
        #  which argparse would take for an option (1 key in 85)
        p.add_argument("--server-key", required=True)
        p.add_argument("--deadline", type=float, default=60.0)
        p.add_argument("--timeout", type=float, default=2.0)
        if name == "ping":
            p.add_argument("--until", type=int, default=200,
                           help="stop trying a server once it answers this")
        if name == "send":
            p.add_argument("--out", required=True)
            p.add_argument("--senders", type=int, default=16)
            p.add_argument("--count", type=int, default=200)
            p.add_argument("--duration", type=float, default=5.0)
            p.add_argument("--tries", type=int, default=6)
            p.add_argument("--recipients", type=int, default=1)
            p.add_argument("--password", default="loadgen-password")
            p.add_argument("--prefix", default="")
            p.add_argument("--setup-timeout", type=float, default=60.0)
            p.add_argument("--no-spread", dest="spread", action="store_false",
                           help="every sender starts on the first server "
                                "(default: sender i starts on server i mod n)")
        if name in ("check", "stats"):
            p.add_argument("--acks", required=True)
        if name == "stats":
            p.add_argument("--repeat", type=int, default=4)
    args = ap.parse_args()
    {"ping": cmd_ping, "send": cmd_send, "check": cmd_check, "echo": cmd_echo,
     "udp": cmd_udp, "stats": cmd_stats}[args.command](args)


if __name__ == "__main__":
    main()
