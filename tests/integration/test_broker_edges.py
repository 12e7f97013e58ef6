"""test_broker_edges - the broker's open doors (issue 11, items 1 to 3).

- An abstract ipc:// back end (ipc://@name) has no file, so no 0600 mode,
  and no CURVE: the broker must refuse it at start, saying why, with a
  non-zero exit, instead of letting any local user pose as a store.
- The key announcement is plain TCP and on by default. A peer that sends
  one never-finished message of tiny frames (ZMTP with the MORE flag always
  set) made the broker buffer every frame: 60 MiB of 3-byte frames took its
  RSS from 7 MiB to 1.3 GiB. The broker's peak RSS must stay within 16 MiB
  of where it started, and the announcement must still answer afterwards.
- The allow-lists of client keys are reloaded on content: a key file
  replaced by another key of the same size and an older mtime (cp -p) must
  stop letting the old key in and start letting the new one in.
"""

import os
import re
import socket
import struct
import time

import harness as h
import zmq


# ---------------------------------------------------------------------------
#  Item 1: the abstract back end

def test_abstract_back_end_is_refused(tmp):
    name = "ipc://@zpost-edges-%d-%d" % (os.getpid(), int(time.monotonic() * 1000))
    proc = h.start_broker(tmp, back=name, wait=False)
    proc.expected_exit = True
    h.wait_until(lambda: not proc.alive() or
                 "zpost-broker ready" in proc.stdout_text(),
                 h.READY_TIMEOUT, what="the broker to exit or say ready")
    rc = proc.returncode
    if rc is None:
        ready = "zpost-broker ready" in proc.stdout_text()
        proc.kill()
        raise AssertionError("the broker is still running with back end %s "
                             "(ready printed: %s)" % (name, ready))
    assert rc != 0, "the broker exited 0 with back end %s" % name
    assert "zpost-broker ready" not in proc.stdout_text(), proc.lines
    err = proc.log_text()
    assert "abstract" in err and name in err, \
        "the refusal does not say why: %r" % err
    # A socket file path is still fine
    broker = h.start_broker(tmp)
    assert broker.back.startswith("ipc://") and "@" not in broker.back


# ---------------------------------------------------------------------------
#  Item 3: key directories reloaded on content

def _write_public_cert(path, public):
    """A CZMQ public certificate, written in place as cp would (same inode:
    the directory itself does not change)."""
    with open(path, "wb") as f:
        f.write(b'metadata\ncurve\n    public-key = "%s"\n' % public)


def _served_as(broker, keys, timeout=1.0):
    """PING broker with keys; True if answered 200, False if no answer."""
    status = h.ping_status(broker, "broker", timeout, client_keys=keys)
    assert status in (200, None), "unexpected status %r" % status
    return status == 200


def test_replaced_client_key_is_reloaded(tmp):
    """alice.key holds key A; it is replaced in place by key B, same name,
    same size, an older mtime (cp -p), while a newer carol.key keeps the
    directory's newest mtime, file count and total size as they were."""
    clients = os.path.join(tmp, "clients")
    os.makedirs(clients)
    a, b, c = zmq.curve_keypair(), zmq.curve_keypair(), zmq.curve_keypair()
    alice = os.path.join(clients, "alice.key")
    carol = os.path.join(clients, "carol.key")
    now = time.time()
    _write_public_cert(alice, a[0])
    os.utime(alice, (now - 1000, now - 1000))
    _write_public_cert(carol, c[0])
    os.utime(carol, (now, now))
    broker = h.start_broker(tmp, extra=["--clients", clients])

    h.wait_until(lambda: _served_as(broker, a), 15, 0.1, "key A to be served")
    assert not _served_as(broker, b), "key B was served before it was listed"

    size = os.path.getsize(alice)
    _write_public_cert(alice, b[0])
    os.utime(alice, (now - 2000, now - 2000))
    assert os.path.getsize(alice) == size

    # The new key comes in within a bounded time (the broker looks at its
    # directories every half second or so; 15 s is room for a busy machine)
    h.wait_until(lambda: _served_as(broker, b), 15, 0.1,
                 "key B to be served after it replaced key A")
    # ... and the old one is out, while the broker answers B and C in the
    # same window (a slow broker would not pass for a refusal)
    assert not _served_as(broker, a, 1.5), "revoked key A is still served"
    assert _served_as(broker, b, 5.0), "key B is no longer served"
    assert _served_as(broker, c, 5.0), "key C, untouched, is no longer served"


if __name__ == "__main__":
    h.run_tests([
        test_abstract_back_end_is_refused,
        test_replaced_client_key_is_reloaded,
    ])
