/*  =========================================================================
    client_trust - whether this server is the one we mean: its key

    First contact asks before it trusts, and trusts a list's brokers
    together; a known key is questioned only when the server is silent.
    Every refusal is one sentence (client_api_fail), with KEY_CHANGED in
    --json for a key that differs from the one trusted.
    =========================================================================
*/

#include "client_trust.h"
#include "client_input.h"
#include "client_output.h"

#include "zpost_announce.h"

#include <strings.h>
#include <unistd.h>

//  The announce endpoint to ask about the server at endpoint. Caller
//  frees; NULL if there is none to ask.
static char *
s_announce_endpoint (client_app_t *app, const char *endpoint)
{
    if (app->announce)
        return strdup (app->announce);
    return client_keys_announce_endpoint (endpoint, app->announce_port);
}

//  The name of the index-th server of the list, as known_servers has it.
//  Caller frees.
static char *
s_server_name (client_app_t *app, size_t index)
{
    return client_keys_server_name (client_config_server_endpoint (app->config, index));
}

//  The session's check: a broker does not answer; does it announce another
//  key than the one we use? Every broker of a list must hold the one key
//  the list is trusted with. A key from the known-servers file is said to
//  have changed; a given key to be outdated or wrong.
int
client_trust_check_known (void *arg, const char *endpoint, char *error, size_t error_size)
{
    client_app_t *app = (client_app_t *) arg;
    char *announce = s_announce_endpoint (app, endpoint);
    if (!announce)
        return 0;
    char announced [41];
    char why [256];
    int timeout = app->timeout < 2000? app->timeout: 2000;
    int rc = client_keys_fetch (announce, timeout, announced, why, sizeof (why));
    free (announce);
    const char *known = client_config_server_key (app->config);
    if (rc || streq (announced, known))
        return 0;           //  no news, or not the key: silence has another cause

    char fingerprint [ZPOST_ANNOUNCE_FINGERPRINT_SIZE];
    zpost_announce_fingerprint (announced, fingerprint);
    if (!app->key_known) {
        //  A key given (or met a moment ago): said now, not after every try
        char given_print [ZPOST_ANNOUNCE_FINGERPRINT_SIZE];
        zpost_announce_fingerprint (known, given_print);
        const char *variable = getenv ("ZPOST_SERVER_KEY");
        char *server = client_keys_server_name (endpoint);
        snprintf (error, error_size,
                  "WARNING: the server %s announces a different key (fingerprint %s) "
                  "from the one %s (fingerprint %s), and does not answer to that "
                  "one: the key given is outdated or wrong, or someone may be "
                  "posing as the server; nothing was sent. Ask the operator which "
                  "fingerprint is right, and give that key",
                  server, fingerprint,
                  app->server_key? "given with --server-key"
                  : variable && *variable? "in $ZPOST_SERVER_KEY"
                  : "it announced a moment ago", given_print);
        free (server);
        return -1;
    }

    //  The line that trusts this broker; a broker of the list that was
    //  not in the file yet was trusted through the first known one
    char *server = client_keys_server_name (endpoint);
    const char *path = client_keys_path (app->keys);
    size_t line = client_keys_line (app->keys, server);
    for (size_t index = 0; line == 0 && index < client_config_servers (app->config);
         index++) {
        char *name = s_server_name (app, index);
        line = client_keys_line (app->keys, name);
        free (name);
    }
    //  Or through another name of the same host
    const char *same = line? NULL: client_keys_same_host (app->keys, server);
    if (same)
        line = client_keys_line (app->keys, same);
    snprintf (error, error_size,
              "WARNING: the server %s now announces a different key from the one "
              "you trusted (line %zu of %s), and does not answer to the known "
              "one: someone may be posing as the server, or its operator changed "
              "its key; nothing was sent. If the change is expected (ask the "
              "operator), run 'zpost forget-key %s' (or remove line %zu from %s) "
              "and connect again to trust the new key, whose fingerprint is %s",
              server, line, path, server, line, path, fingerprint);
    free (server);
    return -1;
}

//  Ask the person at the terminal a yes-or-no question; only "y" or
//  "yes" is yes. 1 yes, 0 no, -1 interrupted.
static int
s_ask_yes (const char *question)
{
    fflush (stdout);
    fprintf (stderr, "%s", question);
    fflush (stderr);
    char *answer = NULL;
    client_input_t result = client_input_line (STDIN_FILENO, 64, &answer);
    if (result == CLIENT_INPUT_INTERRUPTED)
        return -1;
    int yes = answer && (strcasecmp (answer, "y") == 0 || strcasecmp (answer, "yes") == 0);
    if (result == CLIENT_INPUT_EOF)
        fprintf (stderr, "\n");
    free (answer);
    return yes;
}

//  The key the index-th server of the list announces, fetched within
//  timeout ms: 0 with the key in key (41 bytes), -1 with why (why_size
//  bytes), or -2 if the server has no port to ask on.
static int
s_fetch_key (client_app_t *app, size_t index, int timeout, char *key,
             char *why, size_t why_size, char **announce_p)
{
    *announce_p = s_announce_endpoint (app, client_config_server_endpoint (app->config,
                                                                            index));
    if (!*announce_p)
        return -2;
    return client_keys_fetch (*announce_p, timeout, key, why, why_size);
}

//  Every server of the list from index from on (only those not in the
//  known-servers file if only_unknown) that announces a key must announce
//  key: the brokers of one deployment share one key pair. One that
//  announces another is refused loudly, naming it, and nothing is trusted
//  or sent. reference says where key came from, for the warning. Returns
//  0, or the exit status after the warning; *others_p (if not NULL) gets
//  a line per server asked, for the person.
static int
s_same_key (client_app_t *app, const char *key, const char *reference, size_t from,
            bool only_unknown, char **others_p)
{
    char *others = strdup ("");
    assert (others);
    int status = CLIENT_EXIT_DONE;
    int timeout = app->timeout < 2000? app->timeout: 2000;
    for (size_t index = from;
         index < client_config_servers (app->config) && !status; index++) {
        char *name = s_server_name (app, index);
        if (only_unknown && client_keys_lookup (app->keys, name)) {
            free (name);
            continue;
        }
        char other [41];
        char why [256];
        char *asked = NULL;
        int rc = s_fetch_key (app, index, timeout, other, why, sizeof (why), &asked);
        free (asked);
        if (rc == 0 && !streq (other, key)) {
            char print [ZPOST_ANNOUNCE_FINGERPRINT_SIZE];
            char other_print [ZPOST_ANNOUNCE_FINGERPRINT_SIZE];
            zpost_announce_fingerprint (key, print);
            zpost_announce_fingerprint (other, other_print);
            char *names = client_api_server_names (app);
            status = client_api_fail (app, CLIENT_EXIT_LOCAL, 0, "KEY_CHANGED",
                             "WARNING: the server %s, of the list %s, announces a "
                             "different key (fingerprint %s) from the one of the "
                             "list (fingerprint %s, %s). The brokers of one "
                             "deployment share one key, so someone may be posing "
                             "as %s, or the list mixes deployments; nothing was "
                             "trusted or sent. Ask the operator which fingerprint "
                             "is right, and fix the list or give --server-key "
                             "KEY|FILE", name, names, other_print, print, reference,
                             name);
            free (names);
        }
        char *longer = zsys_sprintf ("%s\n    %s %s", others, name,
                                     rc == 0? "announces the same key"
                                            : "did not answer; it must hold the same key");
        assert (longer);
        free (others);
        others = longer;
        free (name);
    }
    if (others_p && !status)
        *others_p = others;
    else
        free (others);
    return status;
}

//  First contact with a server, or with the brokers of a list: learn the
//  announced key from the first that answers, and trust it if the person
//  agrees. Every other broker of the list that announces must announce the
//  same key: a list is one deployment, with one key pair; any other key
//  is refused before anything is trusted. Sets the key in the
//  configuration; returns 0, or the exit status after saying why not.
static int
s_first_contact (client_app_t *app)
{
    size_t servers = client_config_servers (app->config);
    char *names = client_api_server_names (app);
    char key [41] = "";
    char why [256] = "";
    char *announce = NULL;
    size_t found = servers;             //  the server that announced first
    bool any_port = false;
    for (size_t index = 0; index < servers && found == servers; index++) {
        char *asked = NULL;
        int rc = s_fetch_key (app, index, app->timeout, key, why, sizeof (why), &asked);
        if (rc != -2)
            any_port = true;
        if (rc == 0) {
            found = index;
            announce = asked;
        }
        else
            free (asked);
        if (rc == -1 && zsys_interrupted) {
            free (names);
            return client_api_interrupted (app);
        }
    }
    if (!any_port) {
        int status = client_api_fail (app, CLIENT_EXIT_LOCAL, 0, "LOCAL_ERROR",
                             "no key is known for %s, and it has no port to ask for "
                             "one on; give --server-key KEY|FILE or set "
                             "ZPOST_SERVER_KEY (the broker's broker.key)", names);
        free (names);
        return status;
    }
    if (found == servers) {
        int status = client_api_fail (app, CLIENT_EXIT_LOCAL, 0, "LOCAL_ERROR",
                             "no key is known for %s, and none was announced (%s); "
                             "give --server-key KEY|FILE or set ZPOST_SERVER_KEY "
                             "(zpost-broker prints its key and keeps it in broker.key), "
                             "or --announce EP if the broker announces it elsewhere",
                             names, why);
        free (names);
        return status;
    }
    char fingerprint [ZPOST_ANNOUNCE_FINGERPRINT_SIZE];
    zpost_announce_fingerprint (key, fingerprint);
    char *server = s_server_name (app, found);

    //  The rest of the list: the same key, or nothing is trusted
    char *others = NULL;
    char *reference = zsys_sprintf ("announced by %s", server);
    int status = s_same_key (app, key, reference, found + 1, false, &others);
    free (reference);
    if (status) {
        free (server);
        free (announce);
        free (names);
        return status;
    }
    //  A key already trusted for another name: in CurveZMQ the key is the
    //  server (only it can answer to it), so this is that server by
    //  another name, and the person was asked when it was first met. The
    //  session's PING proves it before the name is added.
    const char *trusted = client_keys_server_with_key (app->keys, key);
    if (trusted) {
        char *path = client_output_safe_str (client_keys_path (app->keys),
                                             CLIENT_OUTPUT_LINE);
        char *sentence = zsys_sprintf ("%s announces the key you trust for %s (line "
                                       "%zu of %s): the same server by another name, "
                                       "so it is trusted too", server, trusted,
                                       client_keys_line (app->keys, trusted), path);
        client_api_say (app, sentence);
        free (sentence);
        free (path);
        free (others);
        free (server);
        free (announce);
        free (names);
        int rc = client_config_set_server_key (app->config, key);
        assert (rc == 0);
        return CLIENT_EXIT_DONE;
    }
    fflush (stdout);
    if (servers == 1)
        fprintf (stderr, "%sThe server %s is new to this client. It announces (on %s) "
                 "the key\n", app->shell? "": "zpost: ", server, announce);
    else
        fprintf (stderr, "%sThe servers %s (one deployment) are new to this client.\n"
                 "%s announces (on %s) the key\n", app->shell? "": "zpost: ",
                 names, server, announce);
    fprintf (stderr,
             "    %s\n"
             "with the SHA-256 fingerprint\n"
             "    %s\n", key, fingerprint);
    if (*others)
        fprintf (stderr, "Of the other servers of the list:%s\n", others);
    fprintf (stderr,
             "Anyone on the way could have answered instead: compare the fingerprint\n"
             "with the one the server's operator gives you (zpost-broker prints it\n"
             "when it starts) before you trust it.\n");
    free (others);
    free (announce);
    free (server);

    if (app->accept_new_key)
        fprintf (stderr, "Trusting it, as --accept-new-key says.\n");
    else
    if (isatty (STDIN_FILENO)) {
        int yes = s_ask_yes (servers == 1? "Trust this server? [y/N] "
                                         : "Trust these servers? [y/N] ");
        if (yes == -1)
            status = client_api_interrupted (app);
        else
        if (!yes)
            status = client_api_fail (app, CLIENT_EXIT_LOCAL, 0, "LOCAL_ERROR",
                             "the key of %s was not trusted, so nothing was sent", names);
    }
    else
        status = client_api_fail (app, CLIENT_EXIT_LOCAL, 0, "LOCAL_ERROR",
                         "the key of %s is not known and there is no terminal to ask "
                         "whether to trust it; run again with --accept-new-key to "
                         "trust the fingerprint above, or give --server-key KEY|FILE "
                         "or set ZPOST_SERVER_KEY", names);
    free (names);
    if (status == CLIENT_EXIT_DONE) {
        int rc = client_config_set_server_key (app->config, key);
        assert (rc == 0);
    }
    return status;
}

//  Find the server's key: given, known, or met now. Returns 0, or the
//  exit status after saying why not. *pin_p is set when the key is new,
//  or some servers of the list are not in the known-servers file yet:
//  they are added once a server proves it holds the key. --server-key
//  (or $ZPOST_SERVER_KEY) is the key of every server of a list.
int
client_trust_server_key (client_app_t *app, bool *pin_p)
{
    *pin_p = false;
    const char *variable = getenv ("ZPOST_SERVER_KEY");
    if (app->server_key || (variable && *variable)) {
        if (client_config_set_server_key (app->config, app->server_key))
            return client_api_fail (app, CLIENT_EXIT_LOCAL, 0, "LOCAL_ERROR", "%s",
                           client_config_error (app->config));
        return CLIENT_EXIT_DONE;
    }
    const char *dir = client_config_dir (app->config);
    if (!dir)
        return client_api_fail (app, CLIENT_EXIT_LOCAL, 0, "LOCAL_ERROR",
                       "cannot find your home directory, where the keys of known "
                       "servers are kept; set HOME, or give --server-key KEY|FILE");
    if (!app->keys) {
        char *path = zsys_sprintf ("%s/" CLIENT_KEYS_FILE, dir);
        assert (path);
        app->keys = client_keys_new (path);
        free (path);
    }
    if (client_keys_load (app->keys))
        return client_api_fail (app, CLIENT_EXIT_LOCAL, 0, "LOCAL_ERROR", "%s",
                       client_keys_error (app->keys));
    //  The servers of a list share one key: all the known ones must agree
    const char *known = NULL;
    char *known_server = NULL;
    bool missing = false;
    int status = CLIENT_EXIT_DONE;
    for (size_t index = 0; index < client_config_servers (app->config); index++) {
        char *server = s_server_name (app, index);
        const char *key = client_keys_lookup (app->keys, server);
        //  Another name of the same host and port (localhost and
        //  127.0.0.1) is the same server: its key is this one's, and this
        //  name is added once the server proves it holds it
        const char *same = key? NULL: client_keys_same_host (app->keys, server);
        if (same) {
            key = client_keys_lookup (app->keys, same);
            missing = true;
            if (!known) {
                known = key;
                known_server = strdup (same);
                assert (known_server);
            }
        }
        if (!key)
            missing = true;
        else
        if (!known) {
            known = key;
            known_server = server;
            server = NULL;
        }
        else
        if (!streq (key, known) && status == CLIENT_EXIT_DONE) {
            char *path = client_output_safe_str (client_keys_path (app->keys),
                                                 CLIENT_OUTPUT_LINE);
            status = client_api_fail (app, CLIENT_EXIT_LOCAL, 0, "KEY_CHANGED",
                             "WARNING: the servers of the list are known with "
                             "different keys (%s on line %zu of %s, %s on line %zu); "
                             "the brokers of one deployment share one key, so "
                             "nothing was sent: ask the operator which key is "
                             "right, and remove the wrong line, or fix the list",
                             known_server, client_keys_line (app->keys, known_server),
                             path, server, client_keys_line (app->keys, server));
            free (path);
        }
        free (server);
    }
    if (status == CLIENT_EXIT_DONE) {
        if (known && missing) {
            //  Servers of the list not met yet: the list's key is theirs,
            //  and they are added once a server proves it; one that
            //  announces another key is refused now
            char *reference = zsys_sprintf ("trusted for %s on line %zu of %s",
                                            known_server,
                                            client_keys_line (app->keys, known_server),
                                            client_keys_path (app->keys));
            status = s_same_key (app, known, reference, 0, true, NULL);
            free (reference);
        }
        if (known && status == CLIENT_EXIT_DONE) {
            int rc = client_config_set_server_key (app->config, known);
            assert (rc == 0);
            app->key_known = true;
            *pin_p = missing;
        }
        else
        if (!known) {
            status = s_first_contact (app);
            *pin_p = status == CLIENT_EXIT_DONE;
        }
    }
    free (known_server);
    return status;
}

//  A key met for the first time goes into the file only once a server
//  has proved it holds it: a PING that the broker answers. Every server
//  of the list that is not in the file goes in then, with that key, in
//  one write: the brokers of a deployment are trusted together.
int
client_trust_pin (client_app_t *app)
{
    int status = CLIENT_EXIT_DONE;
    zpost_msg_t *reply = client_api_ping (app, true, &status);
    if (!reply)
        return status;
    zpost_msg_destroy (&reply);
    size_t servers = client_config_servers (app->config);
    char *names [CLIENT_CONFIG_SERVERS_MAX];
    size_t count = 0;
    for (size_t index = 0; index < servers; index++) {
        char *server = s_server_name (app, index);
        if (client_keys_lookup (app->keys, server))
            free (server);
        else
            names [count++] = server;
    }
    if (count == 0)
        ;
    else
    if (client_keys_add_all (app->keys, (const char **) names, count,
                             client_config_server_key (app->config)))
        status = client_api_fail (app, CLIENT_EXIT_LOCAL, 0, "LOCAL_ERROR", "%s; the key "
                         "was not kept", client_keys_error (app->keys));
    else {
        //  The path comes from HOME or XDG_CONFIG_HOME: it may hold anything
        char *path = client_output_safe_str (client_keys_path (app->keys),
                                             CLIENT_OUTPUT_LINE);
        fflush (stdout);
        fprintf (stderr, "%sadded ", app->shell? "": "zpost: ");
        for (size_t index = 0; index < count; index++)
            fprintf (stderr, "%s%s", index? ", ": "", names [index]);
        fprintf (stderr, " to %s\n", path);
        free (path);
        app->key_known = true;
    }
    while (count)
        free (names [--count]);
    return status;
}

