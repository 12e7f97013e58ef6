"""test_example - scripts/example.py, the documented pyzmq example, works
against a real broker and store (issue 5, item 5).

It is run as a person would run it (endpoint and the broker's key file on
the command line); the test then checks, with its own pyzmq client, that
what the example says it did is on the server: it cleaned up after itself
(UNREGISTER, issue 14 item 7): no user and no message is left, and the
name is free again.
"""

import os
import re
import subprocess
import sys

import harness as h

EXAMPLE = os.path.join(h.SOURCE_DIR, "scripts", "example.py")


def _run(tmp, *args):
    cp = subprocess.run([sys.executable, EXAMPLE] + list(args), capture_output=True,
                        cwd=tmp, env=h.clean_env(), timeout=60)
    return cp.returncode, cp.stdout.decode(), cp.stderr.decode()


def test_example_registers_sends_lists(tmp):
    broker, store = h.start_service(tmp)
    key_file = os.path.join(broker.keys_dir, "broker.key")
    rc, out, err = _run(tmp, broker.front, key_file, "pythonista")
    assert rc == 0, "example.py: rc %d\nstdout:\n%s\nstderr:\n%s" % (rc, out, err)
    for step in ["PING: answered by the store", "REGISTER: pythonista", "LOGIN:",
                 "SEND: message", "LIST: 1 message(s)", "UNREGISTER: pythonista deleted"]:
        assert step in out, "%r not in the example's output:\n%s" % (step, out)
    message_id = re.search(r"SEND: message (\d+)", out).group(1)
    assert re.search(r"\*%s\s+from 'pythonista'\s+'Hello from Python'" % message_id, out), out

    # The server agrees: the example cleaned up after itself, so the name
    # is free, and no user and no message is left
    c = h.Client(broker, timeout=5)
    stats_client = h.Client(broker, timeout=5)
    stats_client.register("watcher", "watcher-password")
    stats_client.login("watcher", "watcher-password")
    server = stats_client.stats("server")
    assert server["users"] == 1 and server["messages"] == 0, server
    rid, reply = c.call("REGISTER", "pythonista", "another password")
    assert reply.status == 200, "the example's user was left behind: %r" % reply

    # A second run with a fresh name works too; a name taken is refused
    rc, out, err = _run(tmp, broker.front, key_file)
    assert rc == 0 and "REGISTER: example-" in out, (rc, out, err)
    rc, out, err = _run(tmp, broker.front, key_file, "pythonista")
    assert rc == 1 and "REGISTER refused: 409" in err, (rc, out, err)


def test_example_without_a_server(tmp):
    broker = h.start_broker(tmp)             # no store: 503, retried, then said
    key_file = os.path.join(broker.keys_dir, "broker.key")
    rc, out, err = _run(tmp, broker.front, key_file)
    assert rc == 1 and "PING refused: 503" in err, (rc, out, err)
    rc, out, err = _run(tmp)
    assert rc != 0 and "example.py ENDPOINT SERVER_KEY_FILE" in err, (rc, out, err)


if __name__ == "__main__":
    h.run_tests([
        test_example_registers_sends_lists,
        test_example_without_a_server,
    ])
