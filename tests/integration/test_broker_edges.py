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


if __name__ == "__main__":
    h.run_tests([
        test_abstract_back_end_is_refused,
    ])
