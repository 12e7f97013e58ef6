"""test_client_oneshot - the one-shot commands say what happened, in words
a person cannot misread (issue 14, "Small defects found on the way").

- global options come before the command: zpost --json ping;
- a bare zpost opens the guided session with $ZPOST_SERVER, as --help says;
- zpost delete of an id that is not in the folder is an error (exit 1,
  NO_SUCH_MESSAGE), though the protocol's DELETE answers 200 either way,
  and nothing else is deleted;
- zpost send says what it did, naming the sender; --json keeps the bare
  facts; the outputs that could mix users up name the user;
- an empty subject shows as "(no subject)" (the JSON keeps "");
- zpost whoami; a login that replaces another user's login says so;
- the guided session asks before it deletes (a 3 typed once too often, as
  the README's "leave with 3" led to, deleted a message);
- a 429's wait reads "1 second", not "1 seconds" (a fake CURVE server
  gives the 429, so no timing is involved);
- with no store running, the text gives the broker's reason, as --json does;
- an outdated --server-key is named from the broker's announcement, as a
  changed pinned key is (exit 4, KEY_CHANGED), after one silent try; but a
  broker of a --server list that announces another key (a dead broker
  whose port + 1 is another program's announcer) only moves the request
  on to the next broker of the list;
- man/zpost.1 keeps the quotes of its JSON example.
"""

import json
import os
import re
import shutil
import subprocess
import threading

import zmq

import harness as h

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


def test_json_before_the_command(tmp):
    broker, _ = h.start_service(tmp)
    out, err = _zpost(tmp, broker, ["--json", "ping"])
    reply = json.loads(out)
    assert reply["answered_by"] == "store", reply
    # The same as after the command's name
    out, err = _zpost(tmp, broker, ["ping", "--json"])
    assert json.loads(out)["answered_by"] == "store"
    # The guided session has no JSON: a usage error, before any prompt
    out, err = _zpost(tmp, broker, ["--json"], stdin=b"", expect_rc=2)
    assert "--json goes with a command" in err, err
    assert out == "", out


def test_bare_zpost_uses_zpost_server(tmp):
    broker, _ = h.start_service(tmp)
    env = h.client_env(tmp, {"ZPOST_SERVER": broker.front,
                             "ZPOST_SERVER_KEY": broker.public_key})
    cp = subprocess.run([h.binary("zpost")], input=b"3\n", capture_output=True,
                        cwd=tmp, env=env, timeout=60)
    out = cp.stdout.decode("utf-8", "replace")
    assert cp.returncode == 0, (cp.returncode, out, cp.stderr)
    assert "Connected to" in out and "Goodbye." in out, out
    # Without it there is still nothing to talk to: a usage error
    del env["ZPOST_SERVER"]
    cp = subprocess.run([h.binary("zpost")], input=b"", capture_output=True,
                        cwd=tmp, env=env, timeout=60)
    assert cp.returncode == 2, (cp.returncode, cp.stdout, cp.stderr)
    assert b"ZPOST_SERVER" in cp.stderr, cp.stderr


def test_delete_of_a_missing_id_is_an_error(tmp):
    broker, _ = _service_with_users(tmp, "alice")
    _login(tmp, broker, "alice")
    sent = json.loads(_zpost(tmp, broker, ["send", "--json", "--to", "alice",
                                           "--subject", "keep me", "-m", "body"])[0])
    kept = sent["id"]
    missing = kept + 9999

    out, err = _zpost(tmp, broker, ["delete", str(missing)], expect_rc=1)
    assert out == "", out
    assert "no message %d in the inbox of alice" % missing in err, err
    assert "nothing was deleted" in err, err
    out, err = _zpost(tmp, broker, ["delete", "--json", str(missing)], expect_rc=1)
    failure = json.loads(out)
    assert failure["status"] == 0 and failure["error"] == "NO_SUCH_MESSAGE", failure
    # The largest id there is: no overflow in asking below id + 1
    _zpost(tmp, broker, ["delete", "18446744073709551615"], expect_rc=1)

    # Nothing else went: the message is still in both folders
    listed = json.loads(_zpost(tmp, broker, ["list", "--json"])[0])
    assert [m["id"] for m in listed] == [kept], listed

    out, err = _zpost(tmp, broker, ["delete", str(kept)])
    assert out == "deleted message %d from the inbox of alice\n" % kept, out
    # Once gone, it is missing like any other id
    _zpost(tmp, broker, ["delete", str(kept)], expect_rc=1)
    # The sent folder is its own
    out, err = _zpost(tmp, broker, ["delete", "--sent", str(kept)])
    assert out == "deleted message %d from the sent folder of alice\n" % kept, out
    out, err = _zpost(tmp, broker, ["delete", "--sent", str(kept)], expect_rc=1)
    assert "sent folder of alice" in err and "zpost list --sent" in err, err


def test_send_says_what_happened(tmp):
    broker, _ = _service_with_users(tmp, "alice", "bob", "carol")
    _login(tmp, broker, "alice")
    out, err = _zpost(tmp, broker, ["send", "--to", "bob,carol", "--subject", "hi",
                                    "-m", "hello"])
    match = re.fullmatch(r"sent message (\d+) from alice to bob, carol\n", out)
    assert match, out
    # --json keeps the bare facts, and only them
    out, err = _zpost(tmp, broker, ["send", "--json", "--to", "bob", "--subject",
                                    "hi", "-m", "hello"])
    facts = json.loads(out)
    assert set(facts) == {"id", "to"} and facts["to"] == ["bob"], facts
    assert facts["id"] > int(match.group(1)), facts
    # The empty sent folder of another user names that user
    _login(tmp, broker, "carol")
    out, err = _zpost(tmp, broker, ["list", "--sent"])
    assert out == "no messages in the sent folder of carol\n", out


def test_empty_subject_is_named(tmp):
    broker, _ = _service_with_users(tmp, "alice")
    _login(tmp, broker, "alice")
    out, err = _zpost(tmp, broker, ["send", "--to", "alice", "--subject", "",
                                    "-m", "no subject here"])
    assert out.endswith(", with no subject\n"), out
    message_id = re.match(r"sent message (\d+) ", out).group(1)
    out, err = _zpost(tmp, broker, ["list"])
    assert "(no subject)" in out, out
    out, err = _zpost(tmp, broker, ["read", message_id])
    assert "\nSubject: (no subject)\n" in out, out
    # The facts stay the facts
    out, err = _zpost(tmp, broker, ["read", "--json", message_id])
    assert json.loads(out)["subject"] == "", out
    # And the guided session's inbox names it too
    script = "2\nalice\n%s\n1\n\n6\n3\n" % PASSWORD
    cp = subprocess.run([h.binary("zpost"), "--server", broker.front, "--server-key",
                         broker.public_key], input=script.encode(),
                        capture_output=True, cwd=tmp, env=h.client_env(tmp), timeout=60)
    shell_out = cp.stdout.decode("utf-8", "replace")
    assert cp.returncode == 0, (cp.returncode, shell_out, cp.stderr)
    assert "(no subject)" in shell_out, shell_out


def test_whoami_and_a_login_that_replaces_another(tmp):
    broker, _ = _service_with_users(tmp, "alice", "bob")
    out, err = _zpost(tmp, broker, ["whoami"], expect_rc=1)
    assert "not logged in to" in err and "zpost login" in err, err
    out, err = _zpost(tmp, broker, ["whoami", "--json"], expect_rc=1)
    assert json.loads(out)["error"] == "NOT_LOGGED_IN", out

    out, err = _login(tmp, broker, "alice")
    assert "was logged in here" not in err, err
    out, err = _zpost(tmp, broker, ["whoami"])
    assert out.startswith("alice on %s, until " % broker.front), out
    me = json.loads(_zpost(tmp, broker, ["--json", "whoami"])[0])
    assert me["username"] == "alice" and me["server"] == broker.front, me

    # Logging in as someone else no longer replaces alice without a word
    out, err = _login(tmp, broker, "bob")
    assert "alice was logged in here; logged out alice" in err, err
    assert out.startswith("logged in as bob"), out
    out, err = _zpost(tmp, broker, ["whoami"])
    assert out.startswith("bob on "), out
    # The same user again: nothing to say
    out, err = _login(tmp, broker, "bob")
    assert "logged in here" not in err, err


def test_guided_delete_asks_first(tmp):
    """The README's slip, on a terminal: 3 (quit at the login menu) typed at
    the main menu opens delete, and a second 3 picks #3; the third key must
    not delete it. Only y does."""
    import test_shell as shell
    broker, _ = _service_with_users(tmp, "alice")
    client = h.Client(broker, timeout=10)
    client.login("alice", shell.PASSWORD)
    for number in range(3):
        client.expect(200, "SEND", "alice", "note %d" % number, "body")
    pty = shell._session(tmp, broker)
    try:
        shell._login(pty, "alice")
        oldest = h.rows(client.expect(200, "LIST", "inbox", "all", "10", "0"), 7)[-1][0]
        shell._menu(pty)
        pty.line("3")
        pty.expect(b"Delete which?")
        pty.line(oldest)
        pty.expect(b"Delete message %s? It cannot be undone. [y/N] " % oldest.encode())
        pty.line("3")
        pty.expect(b"Nothing was deleted.")
        assert len(h.rows(client.expect(200, "LIST", "inbox", "all", "10", "0"), 7)) == 3
        shell._menu(pty)
        pty.line("3")
        pty.expect(b"Delete which?")
        pty.line(oldest)
        pty.expect(b"[y/N] ")
        pty.line("y")
        # The id it deleted, as the list shows it (issue 14, item 8)
        pty.expect(b"Deleted message %s from your inbox." % oldest.encode())
        shell._menu(pty)
        pty.send(b"\x04")
        pty.expect(b"Goodbye.")
        assert pty.wait() == 0
    finally:
        pty.close()
    subjects = [row[3] for row in h.rows(client.expect(200, "LIST", "inbox", "all",
                                                       "10", "0"), 7)]
    client.close()
    assert subjects == ["note 2", "note 1"], subjects     # note 0 was the oldest


def _fake_server(replies):
    """A CURVE ROUTER on loopback that answers each request with the next
    of replies: (status, reason, *fields). Returns (endpoint, public key,
    stop function)."""
    ctx = h.context()
    public, secret = zmq.curve_keypair()
    server = ctx.socket(zmq.ROUTER)
    server.linger = 0
    server.curve_server = True
    server.curve_publickey = public
    server.curve_secretkey = secret
    port = server.bind_to_random_port("tcp://127.0.0.1")
    done = threading.Event()
    queue = list(replies)

    def serve():
        while not done.is_set() and queue:
            if not server.poll(100, zmq.POLLIN):
                continue
            frames = server.recv_multipart()
            routing_id, body = frames[0], frames[2:]
            status, reason, *fields = queue.pop(0)
            server.send_multipart([routing_id, b""] + body[:3]
                                  + [status.encode(), reason.encode()]
                                  + [f.encode() for f in fields])

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()

    def stop():
        done.set()
        thread.join(5)
        server.close(linger=0)
    return "tcp://127.0.0.1:%d" % port, public.decode(), stop


def test_throttle_wait_in_good_grammar(tmp):
    endpoint, key, stop = _fake_server([("429", "Too Many Requests", "1"),
                                        ("429", "Too Many Requests", "30")])
    try:
        env = {"ZPOST_PASSWORD": PASSWORD}
        got = []
        for _ in range(2):
            rc, out, err, _ = h.run_client(tmp, ["--retries", "1", "login", "alice"],
                                           server=endpoint, server_key=key, env=env)
            got.append((rc, err))
    finally:
        stop()
    (rc1, err1), (rc30, err30) = got
    assert rc1 == 1 and "wait 1 second, then try again" in err1, (rc1, err1)
    assert rc30 == 1 and "wait 30 seconds, then try again" in err30, (rc30, err30)


def test_no_store_running_says_so(tmp):
    broker = h.start_broker(tmp)
    rc, out, err, _ = h.run_client(tmp, ["ping"], broker=broker)
    assert rc == 3, (rc, out, err)
    assert "no store is running" in err and "did not answer in time" not in err, err
    rc, out, err, _ = h.run_client(tmp, ["--json", "ping"], broker=broker)
    assert rc == 3 and json.loads(out)["reason"] == "no store is running; try again", out
    # The guided session says the same
    cp = subprocess.run([h.binary("zpost"), "--server", broker.front, "--server-key",
                         broker.public_key], input=("2\nalice\n%s\n3\n" % PASSWORD).encode(),
                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=tmp,
                        env=h.client_env(tmp), timeout=60)
    text = cp.stdout.decode("utf-8", "replace")
    assert "no store is running" in text and "did not answer in time" not in text, text


def test_outdated_server_key_is_named(tmp):
    """A --server-key the broker does not hold: the broker is silent (CURVE),
    and its announcement says why, as for a pinned key that changed: exit 4,
    KEY_CHANGED, rather than every try timing out and NO_ANSWER."""
    broker, _ = h.start_service(tmp)
    outdated = zmq.curve_keypair()[0].decode()
    rc, out, err, took = h.run_client(tmp, ["--retries", "3", "ping", "--json"],
                                      broker=broker, server_key=outdated)
    assert rc == 4, (rc, out, err)
    assert json.loads(out)["error"] == "KEY_CHANGED", out
    assert "announces a different key" in err and "given with --server-key" in err, err
    # The same key from the environment is named as such
    rc, out, err, _ = h.run_client(tmp, ["ping"], broker=broker, server_key="",
                                   env={"ZPOST_SERVER_KEY": outdated})
    assert rc == 4 and "in $ZPOST_SERVER_KEY" in err, (rc, err)
    # The right key still works
    _zpost(tmp, broker, ["ping"])


def test_another_key_in_a_list_moves_on(tmp):
    """The reverted first try (fbf3b6b) stopped a --server list with
    KEY_CHANGED when its first address was silent and its port + 1
    announced another key: here the first address is another deployment's
    broker (its own keys), the second ours. The request must move on and
    be answered; only a list where no broker answers says the key
    changed."""
    ours, _ = h.start_service(tmp)
    other_tmp = os.path.join(tmp, "other")
    os.makedirs(other_tmp)
    other = h.start_broker(other_tmp)
    assert other.public_key != ours.public_key
    servers = "%s,%s" % (other.front[len("tcp://"):], ours.front[len("tcp://"):])
    out, err = None, None
    rc, out, err, _ = h.run_client(tmp, ["ping", "--json"], server=servers,
                                   server_key=ours.public_key)
    assert rc == 0, (rc, out, err)
    assert json.loads(out)["answered_by"] == "store", out
    # A pinned key, the revert's case: a list pinned while its first
    # broker was down; then that address's port + 1 announces another key
    # (here another deployment's broker took the address)
    spare = h.restartable_front()
    pinned = "%s,%s" % (spare[len("tcp://"):], ours.front[len("tcp://"):])
    rc, out, err, _ = h.run_client(tmp, ["--accept-new-key", "--retries", "1", "ping"],
                                   server=pinned, server_key="")
    assert rc == 0, (rc, out, err)
    squatter_tmp = os.path.join(tmp, "squatter")
    os.makedirs(squatter_tmp)
    h.start_broker(squatter_tmp, front=spare)
    rc, out, err, _ = h.run_client(tmp, ["ping", "--json"], server=pinned, server_key="")
    assert rc == 0, (rc, out, err)
    assert json.loads(out)["answered_by"] == "store", out
    # The other deployment alone, with our key: named, not timed out
    rc, out, err, _ = h.run_client(tmp, ["ping", "--json"], server=other.front,
                                   server_key=ours.public_key)
    assert rc == 4 and json.loads(out)["error"] == "KEY_CHANGED", (rc, out, err)


def test_man_page_json_example_keeps_its_quotes(tmp):
    page = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                        "man", "zpost.1")
    groff = shutil.which("groff")
    if groff:
        cp = subprocess.run([groff, "-man", "-Tutf8", "-P-cbou", page], capture_output=True,
                            timeout=60, env=dict(os.environ, LANG="C.UTF-8"))
        text = re.sub(r"\s+", " ", cp.stdout.decode("utf-8", "replace"))
        text = text.replace("\u2010 ", "").replace("- ", "-")
    else:
        # Without groff, the source: a double quote in a macro's argument
        # is roff's argument delimiter, so the example must spell \(dq
        text = open(page, encoding="utf-8").read().replace("\\(dq", '"')
    for example in ['"status": N', '"error": "NAME"', '"detail": ...}',
                    '{"id": 42, "to": ["bob", "carol"]}']:
        assert example in text, "%r missing from the rendered man page" % example


if __name__ == "__main__":
    h.run_tests([
        test_json_before_the_command,
        test_bare_zpost_uses_zpost_server,
        test_delete_of_a_missing_id_is_an_error,
        test_send_says_what_happened,
        test_empty_subject_is_named,
        test_whoami_and_a_login_that_replaces_another,
        test_guided_delete_asks_first,
        test_throttle_wait_in_good_grammar,
        test_no_store_running_says_so,
        test_outdated_server_key_is_named,
        test_another_key_in_a_list_moves_on,
        test_man_page_json_example_keeps_its_quotes,
    ])
