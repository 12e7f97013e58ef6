/*  =========================================================================
    client_commands - the one-shot commands of the zpost client

    The commands share a few habits, kept in the helpers at the top:

    - options are read by s_next_option, which handles --help, --json and
      bad options the same way for every command;
    - the server is reached through s_call, which turns every way of not
      getting a reply into one sentence and an exit status;
    - a reply that is not 200 goes through s_refusal, which names what to
      do, maps the status to an exit status, and on 401 forgets the login;
    - a command that needs a session gets it from s_logged_in;
    - each request is built in one function, client_commands_REQUEST,
      which the guided session (client_shell) calls too.

    The server's key, when not given, comes from the known-servers file or
    is met for the first time (s_server_key): ask the announce endpoint,
    show the fingerprint, ask the person, prove it with a PING broker, and
    only then add it to the file. A known key is checked against the
    announcement only when the server does not answer (s_check_known): a
    CURVE client with the wrong server key gets silence, never a reply, so
    silence is the moment to ask, and asking costs nothing the rest of the
    time.

    Text that came from the server is printed through client_output only.
    JSON is built with jansson and written through client_output_json,
    which escapes what jansson leaves raw (DEL, C1, bidi controls), so
    --json output is valid UTF-8 JSON that is safe on a terminal too.
    =========================================================================
*/

#include "client_commands.h"
#include "client_input.h"
#include "client_output.h"
#include "client_state.h"

#include "zpost_announce.h"

#include <errno.h>
#include <getopt.h>
#include <strings.h>
#include <jansson.h>
#include <sodium.h>
#include <unistd.h>

#define S_LIST_LIMIT        50          //  rows per LIST by default
#define S_OPT_JSON          1000        //  getopt codes of long-only options
#define S_OPT_PASSWORD_STDIN 1001
#define S_OPT_SENT          1002
#define S_OPT_UNREAD        1003
#define S_OPT_BEFORE        1004
#define S_OPT_ALL           1005
#define S_OPT_SERVER        1006
#define S_OPT_BROKER        1007
#define S_GO_ON             -1          //  s_next_option: no exit status yet


//  --------------------------------------------------------------------------
//  Usage and options

static void
s_command_usage (const client_command_t *command, FILE *stream)
{
    fprintf (stream, "usage: zpost [OPTIONS] %s%s%s\n", command->name,
             *command->synopsis? " ": "", command->synopsis);
}

static int
s_command_help (const client_command_t *command)
{
    s_command_usage (command, stdout);
    printf ("\n%s\n%s", command->summary, command->help);
    printf ("\nGlobal options and exit status: zpost --help\n");
    return CLIENT_EXIT_DONE;
}

static int
s_command_misuse (const client_command_t *command, const char *format, ...)
    CHECK_PRINTF (2);

static int
s_command_misuse (const client_command_t *command, const char *format, ...)
{
    va_list args;
    va_start (args, format);
    char *complaint = zsys_vprintf (format, args);
    va_end (args);
    //  The complaint may quote what was typed: that, too, is made safe
    fprintf (stderr, "zpost %s: ", command->name);
    client_output_print (stderr, complaint, CLIENT_OUTPUT_LINE);
    fprintf (stderr, "\n");
    free (complaint);
    s_command_usage (command, stderr);
    return CLIENT_EXIT_USAGE;
}

void
client_commands_bad_option (const char *who, int code, char **argv)
{
    char *option = client_output_safe_str (argv [optind - 1], CLIENT_OUTPUT_LINE);
    if (code == ':')
        fprintf (stderr, "%s: option %s needs a value\n", who, option);
    else
    if (optopt && optopt < 256 && strncmp (argv [optind - 1], "--", 2) != 0)
        fprintf (stderr, "%s: unknown option -%c\n", who, optopt);
    else
        fprintf (stderr, "%s: unknown option %s\n", who, option);
    free (option);
}

int
client_commands_parse_int (const char *text, long min, long max, int *value_p)
{
    if (!text || *text < '0' || *text > '9')
        return -1;
    char *end;
    errno = 0;
    long value = strtol (text, &end, 10);
    if (errno || *end || value < min || value > max)
        return -1;
    *value_p = (int) value;
    return 0;
}

int
client_commands_parse_id (const char *text, uint64_t *id_p)
{
    size_t size = strlen (text);
    if (size == 0 || size > 20 || strspn (text, "0123456789") != size)
        return -1;
    errno = 0;
    unsigned long long value = strtoull (text, NULL, 10);
    if (errno || value == 0)
        return -1;
    *id_p = (uint64_t) value;
    return 0;
}

//  getopt_long for a command, with what every command shares: --help
//  prints the help, --json sets app->json, a bad option is a usage error.
//  Returns the next option code, or -1 at the end; then *status_p is
//  S_GO_ON to carry on, else the exit status to return at once.
static int
s_next_option (client_app_t *app, const client_command_t *command, int argc,
               char **argv, const char *short_options, const struct option *options,
               int *status_p)
{
    *status_p = S_GO_ON;
    while (true) {
        int code = getopt_long (argc, argv, short_options, options, NULL);
        if (code == S_OPT_JSON)
            app->json = true;
        else
        if (code == 'h') {
            *status_p = s_command_help (command);
            return -1;
        }
        else
        if (code == '?' || code == ':') {
            char *who = zsys_sprintf ("zpost %s", command->name);
            client_commands_bad_option (who, code, argv);
            free (who);
            s_command_usage (command, stderr);
            *status_p = CLIENT_EXIT_USAGE;
            return -1;
        }
        else
            return code;
    }
}


//  --------------------------------------------------------------------------
//  JSON

static void
s_json_emit (json_t *value)
{
    assert (value);
    size_t flags = JSON_INDENT (2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION (10);
    char *dumped = json_dumps (value, flags);
    assert (dumped);
    //  jansson leaves DEL, C1 and the bidi controls raw: escaped here
    char *safe = client_output_json (dumped);
    fputs (safe, stdout);
    fputc ('\n', stdout);
    fflush (stdout);
    free (safe);
    free (dumped);
}

//  A text field. The codec has checked it is UTF-8; should jansson still
//  refuse it, the safe form stands in rather than nothing.
static json_t *
s_json_text (const char *text)
{
    if (!text)
        return json_null ();
    json_t *value = json_string (text);
    if (!value) {
        char *safe = client_output_safe_str (text, CLIENT_OUTPUT_TEXT);
        value = json_string (safe);
        free (safe);
    }
    assert (value);
    return value;
}

//  A number field (the codec has checked its digits). JSON libraries hold
//  integers in 64 signed bits: beyond that the digits go as a string.
static json_t *
s_json_number (const char *text)
{
    if (!text)
        return json_null ();
    errno = 0;
    unsigned long long value = strtoull (text, NULL, 10);
    if (errno || value > (unsigned long long) INT64_MAX)
        return s_json_text (text);
    return json_integer ((json_int_t) value);
}

static json_t *
s_json_id (uint64_t id)
{
    char text [24];
    snprintf (text, sizeof (text), "%" PRIu64, id);
    return s_json_number (text);
}

//  "alice,bob" as ["alice","bob"]
static json_t *
s_json_names (const char *names)
{
    json_t *array = json_array ();
    assert (array);
    if (!names)
        return array;
    const char *start = names;
    while (*start) {
        size_t size = strcspn (start, ",");
        if (size > 0) {
            char *name = strndup (start, size);
            assert (name);
            json_array_append_new (array, s_json_text (name));
            free (name);
        }
        start += size;
        if (*start == ',')
            start++;
    }
    return array;
}


//  --------------------------------------------------------------------------
//  Failures and refusals

//  Where every sentence for a person starts: after what is on stdout, on
//  stderr, with the program's name unless the guided session speaks
static void
s_say_start (client_app_t *app)
{
    fflush (stdout);
    if (!app->shell)
        fprintf (stderr, "zpost: ");
}

//  Say a sentence that is already safe to print: "zpost: a sentence", or
//  in the guided session, "A sentence."
static void
s_say (client_app_t *app, const char *sentence)
{
    s_say_start (app);
    if (app->shell && *sentence) {
        size_t size = strlen (sentence);
        fprintf (stderr, "%c%s%s\n", toupper ((unsigned char) sentence [0]), sentence + 1,
                 strchr (".?!", sentence [size - 1])? "": ".");
    }
    else
        fprintf (stderr, "%s\n", sentence);
}

//  Say what went wrong in one sentence on stderr and, with --json, as an
//  error object on stdout. status is the ZPOST status it stands for, or 0.
static int
s_vfail (client_app_t *app, int exit_status, int status, const char *error,
         const char *format, va_list args)
{
    char *sentence = zsys_vprintf (format, args);
    assert (sentence);
    char *safe = client_output_safe_str (sentence, CLIENT_OUTPUT_LINE);
    s_say (app, safe);
    free (safe);
    if (app->json) {
        json_t *object = json_pack ("{s:i, s:s, s:o, s:n}", "status", status,
                                    "error", error, "reason", s_json_text (sentence),
                                    "detail");
        assert (object);
        s_json_emit (object);
        json_decref (object);
    }
    free (sentence);
    return exit_status;
}

static int
s_fail (client_app_t *app, int exit_status, int status, const char *error,
        const char *format, ...) CHECK_PRINTF (5);

static int
s_fail (client_app_t *app, int exit_status, int status, const char *error,
        const char *format, ...)
{
    va_list args;
    va_start (args, format);
    int rc = s_vfail (app, exit_status, status, error, format, args);
    va_end (args);
    return rc;
}

int
client_commands_fail (client_app_t *app, int exit_status, int status,
                      const char *error, const char *format, ...)
{
    va_list args;
    va_start (args, format);
    int rc = s_vfail (app, exit_status, status, error, format, args);
    va_end (args);
    return rc;
}

static int
s_interrupted (client_app_t *app)
{
    return s_fail (app, CLIENT_EXIT_INTERRUPTED, 0, "INTERRUPTED", "interrupted");
}

//  --------------------------------------------------------------------------
//  The server's key

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

//  Every server of the list by name, "a:5321, b:5321". Caller frees.
static char *
s_server_names (client_app_t *app)
{
    char *names = strdup ("");
    assert (names);
    for (size_t index = 0; index < client_config_servers (app->config); index++) {
        char *name = s_server_name (app, index);
        char *longer = zsys_sprintf ("%s%s%s", names, index? ", ": "", name);
        assert (longer);
        free (names);
        free (name);
        names = longer;
    }
    return names;
}

char *
client_commands_server_names (client_app_t *app)
{
    assert (app);
    return s_server_names (app);
}

//  The session's check, for a key from the known-servers file: a broker
//  does not answer; does it announce another key than the one we know?
//  Every broker of a list must hold the one key the list is trusted with.
static int
s_check_known (void *arg, const char *endpoint, char *error, size_t error_size)
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
    char fingerprint [ZPOST_ANNOUNCE_FINGERPRINT_SIZE];
    zpost_announce_fingerprint (announced, fingerprint);
    snprintf (error, error_size,
              "WARNING: the server %s now announces a different key from the one "
              "you trusted (line %zu of %s), and does not answer to the known "
              "one: someone may be posing as the server, or its operator changed "
              "its key; nothing was sent. If the change is expected (ask the "
              "operator), remove line %zu from %s and connect again to trust the "
              "new key, whose fingerprint is %s",
              server, line, path, line, path, fingerprint);
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
            char *names = s_server_names (app);
            status = s_fail (app, CLIENT_EXIT_LOCAL, 0, "KEY_CHANGED",
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
    char *names = s_server_names (app);
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
            return s_interrupted (app);
        }
    }
    if (!any_port) {
        int status = s_fail (app, CLIENT_EXIT_LOCAL, 0, "LOCAL_ERROR",
                             "no key is known for %s, and it has no port to ask for "
                             "one on; give --server-key KEY|FILE or set "
                             "ZPOST_SERVER_KEY (the broker's broker.key)", names);
        free (names);
        return status;
    }
    if (found == servers) {
        int status = s_fail (app, CLIENT_EXIT_LOCAL, 0, "LOCAL_ERROR",
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
            status = s_interrupted (app);
        else
        if (!yes)
            status = s_fail (app, CLIENT_EXIT_LOCAL, 0, "LOCAL_ERROR",
                             "the key of %s was not trusted, so nothing was sent", names);
    }
    else
        status = s_fail (app, CLIENT_EXIT_LOCAL, 0, "LOCAL_ERROR",
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
static int
s_server_key (client_app_t *app, bool *pin_p)
{
    *pin_p = false;
    const char *variable = getenv ("ZPOST_SERVER_KEY");
    if (app->server_key || (variable && *variable)) {
        if (client_config_set_server_key (app->config, app->server_key))
            return s_fail (app, CLIENT_EXIT_LOCAL, 0, "LOCAL_ERROR", "%s",
                           client_config_error (app->config));
        return CLIENT_EXIT_DONE;
    }
    const char *dir = client_config_dir (app->config);
    if (!dir)
        return s_fail (app, CLIENT_EXIT_LOCAL, 0, "LOCAL_ERROR",
                       "cannot find your home directory, where the keys of known "
                       "servers are kept; set HOME, or give --server-key KEY|FILE");
    if (!app->keys) {
        char *path = zsys_sprintf ("%s/" CLIENT_KEYS_FILE, dir);
        assert (path);
        app->keys = client_keys_new (path);
        free (path);
    }
    if (client_keys_load (app->keys))
        return s_fail (app, CLIENT_EXIT_LOCAL, 0, "LOCAL_ERROR", "%s",
                       client_keys_error (app->keys));
    //  The servers of a list share one key: all the known ones must agree
    const char *known = NULL;
    char *known_server = NULL;
    bool missing = false;
    int status = CLIENT_EXIT_DONE;
    for (size_t index = 0; index < client_config_servers (app->config); index++) {
        char *server = s_server_name (app, index);
        const char *key = client_keys_lookup (app->keys, server);
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
            status = s_fail (app, CLIENT_EXIT_LOCAL, 0, "KEY_CHANGED",
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

static zpost_msg_t *
s_call (client_app_t *app, zpost_msg_t *request, int *status_p);

//  A key met for the first time goes into the file only once a server
//  has proved it holds it: a PING that the broker answers. Every server
//  of the list that is not in the file goes in then, with that key, in
//  one write: the brokers of a deployment are trusted together.
static int
s_pin (client_app_t *app)
{
    int status = CLIENT_EXIT_DONE;
    zpost_msg_t *reply = client_commands_ping (app, true, &status);
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
        status = s_fail (app, CLIENT_EXIT_LOCAL, 0, "LOCAL_ERROR", "%s; the key "
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

//  Before a retry, on a terminal: what went wrong, and where we try next
static void
s_notice (void *arg, client_session_miss_t miss, const char *missed,
          const char *next, int next_try, int tries)
{
    client_app_t *app = (client_app_t *) arg;
    char *server = client_keys_server_name (missed);
    char *then = streq (missed, next)
               ? strdup ("trying again")
               : zsys_sprintf ("trying %s", next + (strncmp (next, "tcp://", 6)? 0: 6));
    assert (then);
    const char *prefix = app->shell? "": "zpost: ";
    fflush (stdout);
    if (miss == CLIENT_SESSION_LOST)
        fprintf (stderr, "%slost the connection to %s, %s (%d/%d)\n",
                 prefix, server, then, next_try, tries);
    else
    if (miss == CLIENT_SESSION_REFUSED_CONNECT)
        fprintf (stderr, "%scannot connect to %s, %s (%d/%d)\n",
                 prefix, server, then, next_try, tries);
    else
    if (miss == CLIENT_SESSION_HANDSHAKE)
        fprintf (stderr, "%s%s closed the connection during the handshake, "
                 "%s (%d/%d)\n", prefix, server, then, next_try, tries);
    else
    if (miss == CLIENT_SESSION_UNAVAILABLE)
        fprintf (stderr, "%s%s has no store available (503), %s (%d/%d)\n",
                 prefix, server, then, next_try, tries);
    else
        fprintf (stderr, "%sno answer from %s, %s (%d/%d)\n",
                 prefix, server, then, next_try, tries);
    free (then);
    free (server);
}

//  Make the session the first time a command needs the server: address,
//  server key and our own key pair, each refused with a sentence.
static int
s_open_session (client_app_t *app)
{
    if (app->session)
        return CLIENT_EXIT_DONE;
    if (client_config_set_server (app->config, app->server)) {
        //  It quotes what was typed
        char *safe = client_output_safe_str (client_config_error (app->config),
                                             CLIENT_OUTPUT_LINE);
        s_say (app, safe);
        free (safe);
        return CLIENT_EXIT_USAGE;
    }
    zcert_t *cert = client_config_client_cert (app->config);
    if (!cert)
        return s_fail (app, CLIENT_EXIT_LOCAL, 0, "LOCAL_ERROR", "%s",
                       client_config_error (app->config));
    bool pin;
    int status = s_server_key (app, &pin);
    if (status)
        return status;
    app->session = client_session_new (client_config_server_endpoint (app->config, 0),
                                       client_config_server_key (app->config), cert);
    if (!app->session)
        return s_fail (app, CLIENT_EXIT_LOCAL, 0, "LOCAL_ERROR",
                       "cannot initialise libsodium");
    for (size_t index = 1; index < client_config_servers (app->config); index++) {
        int rc = client_session_add_endpoint (
            app->session, client_config_server_endpoint (app->config, index));
        assert (rc == 0);       //  client_config took each server once
    }
    client_session_set_timeout (app->session, app->timeout);
    client_session_set_retries (app->session, app->retries);
    client_session_set_verbose (app->session, app->verbose);
    //  A person at a terminal is told why nothing seems to happen
    if (isatty (STDERR_FILENO))
        client_session_set_notify (app->session, s_notice, app);
    if (app->key_known)
        client_session_set_check (app->session, s_check_known, app);
    if (pin) {
        status = s_pin (app);
        if (status)
            client_session_destroy (&app->session);
    }
    return status;
}

int
client_commands_open_session (client_app_t *app)
{
    assert (app);
    return s_open_session (app);
}

//  Send a request and get its reply, whatever its status. On no reply,
//  say why and set *status_p to the exit status.
//  A quick call makes one short try (client_session_request_quick).
static zpost_msg_t *
s_call_as (client_app_t *app, zpost_msg_t *request, int *status_p, bool quick)
{
    client_session_t *session = app->session;
    zpost_msg_t *reply = quick? client_session_request_quick (session, request)
                              : client_session_request (session, request);
    if (reply)
        return reply;

    char how [64];
    if (client_session_miss (session) == CLIENT_SESSION_TIMED_OUT)
        snprintf (how, sizeof (how), "%d ms each", client_session_timeout (session));
    else
        snprintf (how, sizeof (how), "%s",
                  client_session_miss_text (client_session_miss (session)));
    switch (client_session_failure (session)) {
        case CLIENT_SESSION_NO_ANSWER:
            if (client_session_brokers (session) > 1 && !quick) {
                char *names = s_server_names (app);
                *status_p = s_fail (app, CLIENT_EXIT_SERVER, 0, "NO_ANSWER",
                                    "no answer from any of %s after %d tries (the "
                                    "last: %s); is a zpost-broker of the list running "
                                    "and is the server key right?", names,
                                    client_session_tries (session), how);
                free (names);
                break;
            }
            *status_p = s_fail (app, CLIENT_EXIT_SERVER, 0, "NO_ANSWER",
                                "no answer from %s after %d %s (%s); "
                                "is zpost-broker running and is the server key right?",
                                client_session_endpoint (session),
                                client_session_tries (session),
                                client_session_tries (session) == 1? "try": "tries",
                                how);
            break;
        case CLIENT_SESSION_INTERRUPTED:
            *status_p = s_interrupted (app);
            break;
        case CLIENT_SESSION_SOCKET:
            *status_p = s_fail (app, CLIENT_EXIT_LOCAL, 0, "LOCAL_ERROR", "%s",
                                client_session_error (session));
            break;
        case CLIENT_SESSION_REFUSED:
            *status_p = s_fail (app, CLIENT_EXIT_LOCAL, 0, "KEY_CHANGED", "%s",
                                client_session_error (session));
            break;
        default:
            *status_p = s_fail (app, CLIENT_EXIT_SERVER, 0, "BAD_REPLY", "%s",
                                client_session_error (session));
            break;
    }
    return NULL;
}

static zpost_msg_t *
s_call (client_app_t *app, zpost_msg_t *request, int *status_p)
{
    return s_call_as (app, request, status_p, false);
}

//  "a,b" as "a, b", for sentences
static char *
s_spaced_list (const char *names)
{
    size_t size = strlen (names);
    char *spaced = (char *) malloc (size * 2 + 1);
    assert (spaced);
    size_t out = 0;
    for (size_t index = 0; index < size; index++) {
        spaced [out++] = names [index];
        if (names [index] == ',')
            spaced [out++] = ' ';
    }
    spaced [out] = 0;
    return spaced;
}

//  A reply that is not 200 OK: say what the server said and what to do,
//  and map its status to our exit status. A command may give its own
//  sentence for one status (special, sentence). 401 forgets the login.
static int
s_refusal (client_app_t *app, zpost_msg_t *reply, client_state_t *state,
           int special, const char *sentence)
{
    int status = zpost_msg_status (reply);
    assert (status != ZPOST_OK);
    const char *detail = zpost_msg_get (reply, ZPOST_F_DETAIL);
    char *safe_detail = detail? client_output_safe_str (detail, CLIENT_OUTPUT_LINE): NULL;
    const char *reason = zpost_msg_reason (reply);
    char *said = NULL;

    if (status == special && sentence)
        said = strdup (sentence);
    else
    if (status == ZPOST_NOT_LOGGED_IN) {
        said = strdup (app->shell? "your session has ended (logged out, or idle "
                                   "too long); log in again"
                                 : "not logged in: run zpost login");
        if (state)
            client_state_remove (state);
    }
    else
    if (status == ZPOST_THROTTLED && safe_detail)
        said = zsys_sprintf ("too many failed attempts: wait %s seconds, then try again",
                             safe_detail);
    else
    if (status == ZPOST_UNKNOWN_RECIPIENT && detail) {
        char *names = s_spaced_list (safe_detail);
        said = zsys_sprintf ("no such user: %s; nothing was sent, check the names "
                             "and send again", names);
        free (names);
    }
    else
    if (status == ZPOST_QUOTA_EXCEEDED) {
        char *names = safe_detail? s_spaced_list (safe_detail): NULL;
        said = zsys_sprintf ("the mailbox of %s is full; nothing was sent, try "
                             "again when it has room", names? names: "a recipient");
        free (names);
    }
    else
    if (status == ZPOST_STORE_UNAVAILABLE) {
        //  The broker's own words say which: no store at all, or none in time
        char *safe_reason = *reason? client_output_safe_str (reason,
                                                             CLIENT_OUTPUT_LINE): NULL;
        said = zsys_sprintf ("the message store is unavailable (503): %s",
                             safe_reason? safe_reason: "it did not answer in "
                             "time; try again shortly");
        free (safe_reason);
    }
    else {
        char *safe_reason = client_output_safe_str (*reason? reason:
                                                    zpost_status_reason (status),
                                                    CLIENT_OUTPUT_LINE);
        said = zsys_sprintf ("%s (%d %s%s%s)", safe_reason, status,
                             zpost_status_name (status), safe_detail? ": ": "",
                             safe_detail? safe_detail: "");
        free (safe_reason);
    }
    assert (said);
    //  Already safe: printed as it is
    s_say (app, said);
    if (app->json) {
        json_t *object = json_pack ("{s:i, s:s, s:o, s:o}", "status", status,
                                    "error", zpost_status_name (status),
                                    "reason", s_json_text (reason),
                                    "detail", s_json_text (detail));
        assert (object);
        s_json_emit (object);
        json_decref (object);
    }
    free (said);
    free (safe_detail);
    return status >= 400 && status < 500? CLIENT_EXIT_REFUSED: CLIENT_EXIT_SERVER;
}

int
client_commands_refusal (client_app_t *app, zpost_msg_t *reply, client_state_t *state,
                         int special, const char *sentence)
{
    assert (app);
    assert (reply);
    return s_refusal (app, reply, state, special, sentence);
}


//  --------------------------------------------------------------------------
//  Requests, one function each, shared with the guided session

//  A new request for the open session, with its token
static zpost_msg_t *
s_request (client_app_t *app, zpost_command_t command)
{
    assert (app->session);
    return client_session_new_request (app->session, command);
}

//  Send the request, destroy it (which wipes any password it held), and
//  return the reply
static zpost_msg_t *
s_send (client_app_t *app, zpost_msg_t **request_p, int *status_p)
{
    zpost_msg_t *reply = s_call (app, *request_p, status_p);
    zpost_msg_destroy (request_p);
    return reply;
}

zpost_msg_t *
client_commands_ping (client_app_t *app, bool broker, int *status_p)
{
    zpost_msg_t *request = s_request (app, ZPOST_CMD_PING);
    zpost_msg_set (request, ZPOST_F_TARGET, broker? "broker": "store");
    return s_send (app, &request, status_p);
}

zpost_msg_t *
client_commands_register (client_app_t *app, const char *username,
                          const char *password, int *status_p)
{
    zpost_msg_t *request = s_request (app, ZPOST_CMD_REGISTER);
    zpost_msg_set (request, ZPOST_F_USERNAME, username);
    zpost_msg_set (request, ZPOST_F_PASSWORD, password);
    return s_send (app, &request, status_p);
}

zpost_msg_t *
client_commands_login (client_app_t *app, const char *username,
                       const char *password, int *status_p)
{
    zpost_msg_t *request = s_request (app, ZPOST_CMD_LOGIN);
    zpost_msg_set (request, ZPOST_F_USERNAME, username);
    zpost_msg_set (request, ZPOST_F_PASSWORD, password);
    return s_send (app, &request, status_p);
}

zpost_msg_t *
client_commands_logout (client_app_t *app, int *status_p)
{
    zpost_msg_t *request = s_request (app, ZPOST_CMD_LOGOUT);
    //  The guided session logs out as a person leaves: one short try, so
    //  that a server that is down does not keep them; the login is
    //  forgotten here whatever the answer.
    zpost_msg_t *reply = s_call_as (app, request, status_p, app->shell);
    zpost_msg_destroy (&request);
    return reply;
}

zpost_msg_t *
client_commands_passwd (client_app_t *app, const char *password,
                        const char *new_password, int *status_p)
{
    zpost_msg_t *request = s_request (app, ZPOST_CMD_PASSWD);
    zpost_msg_set (request, ZPOST_F_PASSWORD, password);
    zpost_msg_set (request, ZPOST_F_NEW_PASSWORD, new_password);
    return s_send (app, &request, status_p);
}

zpost_msg_t *
client_commands_send (client_app_t *app, const char *recipients, const char *subject,
                      const char *body, int *status_p)
{
    zpost_msg_t *request = s_request (app, ZPOST_CMD_SEND);
    zpost_msg_set (request, ZPOST_F_RECIPIENTS, recipients);
    zpost_msg_set (request, ZPOST_F_SUBJECT, subject);
    zpost_msg_set (request, ZPOST_F_BODY, body);
    return s_send (app, &request, status_p);
}

zpost_msg_t *
client_commands_list (client_app_t *app, bool sent, bool unread, int limit,
                      uint64_t before, int *status_p)
{
    assert (limit >= 1 && limit <= ZPOST_LIST_MAX);
    zpost_msg_t *request = s_request (app, ZPOST_CMD_LIST);
    zpost_msg_set (request, ZPOST_F_FOLDER, sent? "sent": "inbox");
    zpost_msg_set (request, ZPOST_F_FILTER, unread? "unread": "all");
    zpost_msg_set_number (request, ZPOST_F_LIMIT, (uint64_t) limit);
    zpost_msg_set_number (request, ZPOST_F_BEFORE, before);
    return s_send (app, &request, status_p);
}

zpost_msg_t *
client_commands_read (client_app_t *app, uint64_t id, int *status_p)
{
    zpost_msg_t *request = s_request (app, ZPOST_CMD_READ);
    zpost_msg_set_number (request, ZPOST_F_MESSAGE_ID, id);
    return s_send (app, &request, status_p);
}

zpost_msg_t *
client_commands_delete (client_app_t *app, bool sent, uint64_t id, int *status_p)
{
    zpost_msg_t *request = s_request (app, ZPOST_CMD_DELETE);
    zpost_msg_set (request, ZPOST_F_FOLDER, sent? "sent": "inbox");
    zpost_msg_set_number (request, ZPOST_F_MESSAGE_ID, id);
    return s_send (app, &request, status_p);
}

zpost_msg_t *
client_commands_stats (client_app_t *app, bool server, int *status_p)
{
    zpost_msg_t *request = s_request (app, ZPOST_CMD_STATS);
    zpost_msg_set (request, ZPOST_F_SCOPE, server? "server": "user");
    return s_send (app, &request, status_p);
}


//  --------------------------------------------------------------------------
//  What a person typed, checked before it is sent

const char *
client_commands_subject_fault (const char *subject)
{
    assert (subject);
    if (strlen (subject) > ZPOST_SUBJECT_MAX)
        return "the subject is longer than 255 bytes";
    if (!zpost_msg_valid_utf8 (subject, strlen (subject))
    ||  strchr (subject, '\n') || strchr (subject, '\r'))
        return "the subject must be one line of UTF-8 text";
    return NULL;
}

const char *
client_commands_password_fault (const char *password, bool new_password)
{
    assert (password);
    if (!*password)
        return "the password is empty; nothing was done";
    if (strlen (password) > ZPOST_PASSWORD_MAX)
        return "the password is longer than 1024 bytes; choose a shorter one";
    if (!zpost_msg_valid_utf8 (password, strlen (password)))
        return "the password is not valid UTF-8 text; check your terminal's encoding";
    if (new_password && strlen (password) < ZPOST_PASSWORD_MIN)
        return "the password is shorter than 8 bytes; choose a longer one";
    return NULL;
}

const char *
client_commands_body_fault (const char *body, size_t size)
{
    if (size > ZPOST_BODY_MAX)
        return "the body is larger than 16 MiB; nothing was sent";
    if ((size && !body) || (body && memchr (body, 0, size))
    ||  (body && !zpost_msg_valid_utf8 (body, size)))
        return "the body is not UTF-8 text (or holds a NUL byte); nothing was sent";
    return NULL;
}


//  --------------------------------------------------------------------------
//  Showing replies

void
client_commands_print_message (zpost_msg_t *reply)
{
    assert (reply);
    const char *body = zpost_msg_get (reply, ZPOST_F_BODY);
    char date [CLIENT_OUTPUT_DATE_SIZE];
    client_output_date (zpost_msg_get_number (reply, ZPOST_F_DATE), true, date);
    const char *to_list = zpost_msg_get (reply, ZPOST_F_TO);
    char *to = s_spaced_list (to_list? to_list: "");
    printf ("From: ");
    client_output_print (stdout, zpost_msg_get (reply, ZPOST_F_FROM), CLIENT_OUTPUT_LINE);
    printf ("\nTo: ");
    client_output_print (stdout, to, CLIENT_OUTPUT_LINE);
    printf ("\nDate: %s\nSubject: ", date);
    client_output_print (stdout, zpost_msg_get (reply, ZPOST_F_SUBJECT), CLIENT_OUTPUT_LINE);
    printf ("\n\n");
    client_output_print (stdout, body, CLIENT_OUTPUT_TEXT);
    if (body && *body && body [strlen (body) - 1] != '\n')
        printf ("\n");
    free (to);
}

void
client_commands_print_stats (zpost_msg_t *reply)
{
    assert (reply);
    size_t rows = zpost_msg_rows (reply);
    int width = 0;
    for (size_t row = 0; row < rows; row++) {
        int size = (int) strlen (zpost_msg_row_get (reply, row, ZPOST_F_STAT_NAME));
        width = size > width? size: width;
    }
    for (size_t row = 0; row < rows; row++) {
        char *name = client_output_safe_str (
            zpost_msg_row_get (reply, row, ZPOST_F_STAT_NAME), CLIENT_OUTPUT_LINE);
        char *value = client_output_safe_str (
            zpost_msg_row_get (reply, row, ZPOST_F_STAT_VALUE), CLIENT_OUTPUT_LINE);
        printf ("%-*s  %s\n", width, name, value);
        free (name);
        free (value);
    }
}

//  The login state for the server, made when needed. NULL with a failure
//  said if there is no home directory.
static client_state_t *
s_state_new (client_app_t *app, int *status_p)
{
    const char *state_dir = client_config_state_dir (app->config);
    if (!state_dir) {
        *status_p = s_fail (app, CLIENT_EXIT_LOCAL, 0, "LOCAL_ERROR",
                            "cannot find your home directory; set HOME or XDG_STATE_HOME");
        return NULL;
    }
    client_state_t *state = client_state_new (state_dir, client_config_endpoint (app->config));
    assert (state);
    return state;
}

//  Open the session and give it the token of the login kept for this
//  server. Returns the state (the caller destroys it), or NULL with a
//  failure said and *status_p set.
static client_state_t *
s_logged_in (client_app_t *app, int *status_p)
{
    *status_p = s_open_session (app);
    if (*status_p)
        return NULL;
    client_state_t *state = s_state_new (app, status_p);
    if (!state)
        return NULL;
    int rc = client_state_load (state);
    //  No session kept here: no server said 401, so the JSON status is 0,
    //  and the error name is the one a server's 401 carries
    if (rc == 1)
        *status_p = s_fail (app, CLIENT_EXIT_REFUSED, 0, "NOT_LOGGED_IN",
                            "not logged in to %s: run zpost login",
                            client_config_endpoint (app->config));
    else
    if (rc == -1)
        *status_p = s_fail (app, CLIENT_EXIT_LOCAL, 0, "LOCAL_ERROR", "%s",
                            client_state_error (state));
    if (rc) {
        client_state_destroy (&state);
        return NULL;
    }
    client_session_set_token (app->session, client_state_token (state));
    return state;
}


//  --------------------------------------------------------------------------
//  Passwords

typedef enum {
    S_PASSWORD_CURRENT,             //  one that exists: any length
    S_PASSWORD_NEW                  //  one being set: at least 8 bytes
} s_password_kind_t;

//  Get one password: a line of stdin with --password-stdin, else the
//  environment variable, else a prompt on the terminal (twice if
//  confirm). Returns 0 with *password_p set, or the exit status after
//  saying why not.
static int
s_password (client_app_t *app, bool from_stdin, const char *variable,
            const char *prompt, bool confirm, s_password_kind_t kind,
            char **password_p)
{
    *password_p = NULL;
    char *password = NULL;
    client_input_t result;
    if (from_stdin) {
        result = client_input_line (STDIN_FILENO, ZPOST_PASSWORD_MAX, &password);
        if (result == CLIENT_INPUT_EOF)
            return s_fail (app, CLIENT_EXIT_USAGE, 0, "LOCAL_ERROR",
                           "--password-stdin: standard input ended before the %s; "
                           "give one password per line",
                           kind == S_PASSWORD_NEW? "new password": "password");
    }
    else
    if (getenv (variable)) {
        password = strdup (getenv (variable));
        assert (password);
        result = strlen (password) > ZPOST_PASSWORD_MAX? CLIENT_INPUT_TOO_LONG: CLIENT_INPUT_OK;
        if (result != CLIENT_INPUT_OK)
            client_input_wipe (&password);
    }
    else
    if (isatty (STDIN_FILENO)) {
        result = client_input_secret (STDIN_FILENO, prompt, ZPOST_PASSWORD_MAX, &password);
        if (result == CLIENT_INPUT_EOF)
            return s_fail (app, CLIENT_EXIT_USAGE, 0, "LOCAL_ERROR",
                           "no password given; nothing was done");
        if (result == CLIENT_INPUT_OK && confirm) {
            char *again = NULL;
            result = client_input_secret (STDIN_FILENO, "Again: ", ZPOST_PASSWORD_MAX, &again);
            if (result == CLIENT_INPUT_OK && !streq (password, again)) {
                client_input_wipe (&password);
                client_input_wipe (&again);
                return s_fail (app, CLIENT_EXIT_USAGE, 0, "LOCAL_ERROR",
                               "the two passwords differ; nothing was done, try again");
            }
            client_input_wipe (&again);
            if (result != CLIENT_INPUT_OK)
                client_input_wipe (&password);
        }
    }
    else
        return s_fail (app, CLIENT_EXIT_USAGE, 0, "LOCAL_ERROR",
                       "standard input is not a terminal, so the password cannot be "
                       "asked for; use --password-stdin or set %s", variable);

    if (result == CLIENT_INPUT_INTERRUPTED)
        return s_interrupted (app);
    if (result == CLIENT_INPUT_TOO_LONG)
        return s_fail (app, CLIENT_EXIT_USAGE, 0, "LOCAL_ERROR",
                       "the password is longer than %d bytes; choose a shorter one",
                       ZPOST_PASSWORD_MAX);
    if (result != CLIENT_INPUT_OK)
        return s_fail (app, CLIENT_EXIT_LOCAL, 0, "LOCAL_ERROR",
                       "cannot read the password: %s", strerror (errno));
    assert (password);

    const char *fault = client_commands_password_fault (password, kind == S_PASSWORD_NEW);
    if (fault) {
        client_input_wipe (&password);
        return s_fail (app, CLIENT_EXIT_USAGE, 0, "LOCAL_ERROR", "%s", fault);
    }
    *password_p = password;
    return CLIENT_EXIT_DONE;
}

char *
client_commands_username (const char *typed)
{
    char *name = strdup (typed);
    assert (name);
    for (char *scan = name; *scan; scan++)
        if (*scan >= 'A' && *scan <= 'Z')
            *scan = (char) (*scan - 'A' + 'a');
    if (!zpost_msg_valid_username (name))
        zstr_free (&name);
    return name;
}


//  --------------------------------------------------------------------------
//  ping

static int
s_cmd_ping (client_app_t *app, const client_command_t *command, int argc, char **argv)
{
    static struct option options [] = {
        { "broker", no_argument, NULL, S_OPT_BROKER },
        { "json",   no_argument, NULL, S_OPT_JSON },
        { "help",   no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 }
    };
    bool broker = false;
    int status;
    int code;
    while ((code = s_next_option (app, command, argc, argv, ":h", options, &status)) != -1)
        if (code == S_OPT_BROKER)
            broker = true;
    if (status != S_GO_ON)
        return status;
    if (optind < argc)
        return s_command_misuse (command, "takes no arguments");

    status = s_open_session (app);
    if (status)
        return status;
    zpost_msg_t *reply = client_commands_ping (app, broker, &status);
    if (!reply)
        return status;

    if (zpost_msg_status (reply) != ZPOST_OK)
        status = s_refusal (app, reply, NULL, 0, NULL);
    else {
        double rtt = (double) client_session_rtt (app->session) / 1000.0;
        if (app->json) {
            json_t *object = json_pack ("{s:o, s:o, s:f}",
                "answered_by", s_json_text (zpost_msg_get (reply, ZPOST_F_ANSWERED_BY)),
                "server_version", s_json_text (zpost_msg_get (reply, ZPOST_F_SERVER_VERSION)),
                "rtt_ms", rtt);
            assert (object);
            s_json_emit (object);
            json_decref (object);
        }
        else {
            char *answered_by = client_output_safe_str (
                zpost_msg_get (reply, ZPOST_F_ANSWERED_BY), CLIENT_OUTPUT_LINE);
            char *version = client_output_safe_str (
                zpost_msg_get (reply, ZPOST_F_SERVER_VERSION), CLIENT_OUTPUT_LINE);
            printf ("pong from %s (%s) in %.2f ms\n", answered_by, version, rtt);
            free (answered_by);
            free (version);
        }
        status = CLIENT_EXIT_DONE;
    }
    zpost_msg_destroy (&reply);
    return status;
}


//  --------------------------------------------------------------------------
//  register and login

//  Shared by register and login: USERNAME and --password-stdin.
static int
s_account_args (client_app_t *app, const client_command_t *command, int argc,
                char **argv, char **username_p, bool *from_stdin_p)
{
    static struct option options [] = {
        { "password-stdin", no_argument, NULL, S_OPT_PASSWORD_STDIN },
        { "json",           no_argument, NULL, S_OPT_JSON },
        { "help",           no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 }
    };
    *from_stdin_p = false;
    int status;
    int code;
    while ((code = s_next_option (app, command, argc, argv, ":h", options, &status)) != -1)
        if (code == S_OPT_PASSWORD_STDIN)
            *from_stdin_p = true;
    if (status != S_GO_ON)
        return status;
    if (optind >= argc)
        return s_command_misuse (command, "needs a USERNAME");
    if (optind + 1 < argc)
        return s_command_misuse (command, "takes one USERNAME (the password is asked "
                                 "for, never given as an argument)");
    *username_p = client_commands_username (argv [optind]);
    if (!*username_p)
        return s_command_misuse (command, "'%.64s' is not a username: use 1 to 32 of "
                                 "a-z 0-9 . _ -, starting with a letter or digit",
                                 argv [optind]);
    return S_GO_ON;
}

static int
s_cmd_register (client_app_t *app, const client_command_t *command, int argc, char **argv)
{
    char *username = NULL;
    bool from_stdin;
    int status = s_account_args (app, command, argc, argv, &username, &from_stdin);
    if (status != S_GO_ON)
        return status;
    char *password = NULL;
    status = s_open_session (app);
    if (status == CLIENT_EXIT_DONE)
        status = s_password (app, from_stdin, "ZPOST_PASSWORD", "Password: ", true,
                             S_PASSWORD_NEW, &password);
    if (status) {
        free (username);
        return status;
    }

    zpost_msg_t *reply = client_commands_register (app, username, password, &status);
    client_input_wipe (&password);
    if (reply) {
        if (zpost_msg_status (reply) == ZPOST_OK) {
            if (app->json) {
                json_t *object = json_pack ("{s:s, s:s}", "username", username,
                                            "server", client_session_endpoint (app->session));
                s_json_emit (object);
                json_decref (object);
            }
            else
                printf ("registered %s on %s; log in with: zpost login %s\n", username,
                        client_session_endpoint (app->session), username);
            status = CLIENT_EXIT_DONE;
        }
        else {
            char *sentence = zsys_sprintf ("the name %s is taken; choose another", username);
            status = s_refusal (app, reply, NULL, ZPOST_NAME_TAKEN, sentence);
            free (sentence);
        }
        zpost_msg_destroy (&reply);
    }
    free (username);
    return status;
}

//  Close the session a token names, as well as we can, saying nothing:
//  used when we cannot keep a token we were just given.
static void
s_quiet_logout (client_app_t *app, const char *token)
{
    client_session_set_token (app->session, token);
    zpost_msg_t *request = client_session_new_request (app->session, ZPOST_CMD_LOGOUT);
    zpost_msg_t *reply = client_session_request (app->session, request);
    zpost_msg_destroy (&reply);
    zpost_msg_destroy (&request);
    client_session_set_token (app->session, NULL);
}

static int
s_cmd_login (client_app_t *app, const client_command_t *command, int argc, char **argv)
{
    char *username = NULL;
    bool from_stdin;
    int status = s_account_args (app, command, argc, argv, &username, &from_stdin);
    if (status != S_GO_ON)
        return status;
    char *password = NULL;
    client_state_t *state = NULL;
    status = s_open_session (app);
    if (status == CLIENT_EXIT_DONE)
        state = s_state_new (app, &status);
    if (status == CLIENT_EXIT_DONE)
        status = s_password (app, from_stdin, "ZPOST_PASSWORD", "Password: ", false,
                             S_PASSWORD_CURRENT, &password);
    if (status) {
        client_state_destroy (&state);
        free (username);
        return status;
    }

    zpost_msg_t *reply = client_commands_login (app, username, password, &status);
    client_input_wipe (&password);
    if (reply && zpost_msg_status (reply) != ZPOST_OK)
        status = s_refusal (app, reply, NULL, ZPOST_LOGIN_FAILED,
                            "wrong username or password; check both and try again");
    else
    if (reply) {
        const char *token = zpost_msg_get (reply, ZPOST_F_TOKEN);
        uint64_t expires = zpost_msg_get_number (reply, ZPOST_F_EXPIRES);
        if (client_state_save (state, username, token, expires)) {
            //  A session we cannot keep is a session nobody should hold
            s_quiet_logout (app, token);
            status = s_fail (app, CLIENT_EXIT_LOCAL, 0, "LOCAL_ERROR",
                             "%s; you are not logged in", client_state_error (state));
        }
        else {
            char date [CLIENT_OUTPUT_DATE_SIZE];
            client_output_date (expires, false, date);
            if (app->json) {
                json_t *object = json_pack ("{s:s, s:s, s:o}", "username", username,
                                            "server", client_session_endpoint (app->session),
                                            "expires", s_json_id (expires));
                s_json_emit (object);
                json_decref (object);
            }
            else
                printf ("logged in as %s on %s until %s at the latest\n", username,
                        client_session_endpoint (app->session), date);
            status = CLIENT_EXIT_DONE;
        }
        //  The reply's copy of the token
        if (token)
            sodium_memzero ((char *) token, strlen (token));
    }
    zpost_msg_destroy (&reply);
    client_state_destroy (&state);
    free (username);
    return status;
}


//  --------------------------------------------------------------------------
//  logout and passwd

//  Options of commands that take none but --json and --help.
static int
s_no_args (client_app_t *app, const client_command_t *command, int argc, char **argv)
{
    static struct option options [] = {
        { "json", no_argument, NULL, S_OPT_JSON },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 }
    };
    int status;
    while (s_next_option (app, command, argc, argv, ":h", options, &status) != -1)
        ;
    if (status != S_GO_ON)
        return status;
    if (optind < argc)
        return s_command_misuse (command, "takes no arguments");
    return S_GO_ON;
}

static int
s_cmd_logout (client_app_t *app, const client_command_t *command, int argc, char **argv)
{
    int status = s_no_args (app, command, argc, argv);
    if (status != S_GO_ON)
        return status;
    status = s_open_session (app);
    client_state_t *state = status? NULL: s_state_new (app, &status);
    if (!state)
        return status;

    int rc = client_state_load (state);
    if (rc == 1) {
        if (app->json) {
            json_t *object = json_pack ("{s:b, s:s}", "logged_out", false,
                                        "server", client_session_endpoint (app->session));
            s_json_emit (object);
            json_decref (object);
        }
        else
            printf ("not logged in to %s; nothing to do\n",
                    client_session_endpoint (app->session));
        client_state_destroy (&state);
        return CLIENT_EXIT_DONE;
    }
    if (rc == -1) {
        //  Not a file we trust with a token: do not send it, remove it
        if (client_state_remove (state))
            status = s_fail (app, CLIENT_EXIT_LOCAL, 0, "LOCAL_ERROR", "%s",
                             client_state_error (state));
        else
            status = s_fail (app, CLIENT_EXIT_LOCAL, 0, "LOCAL_ERROR",
                             "the session file %s was damaged or not private, so it "
                             "was removed without telling the server; run zpost login "
                             "to log in again", client_state_path (state));
        client_state_destroy (&state);
        return status;
    }

    char *username = strdup (client_state_username (state));
    assert (username);
    client_session_set_token (app->session, client_state_token (state));
    zpost_msg_t *reply = client_commands_logout (app, &status);
    //  The login is forgotten here whatever the server said: a person who
    //  asked to log out must not stay logged in because the server is down
    bool removed = client_state_remove (state) == 0;
    if (!removed)
        status = s_fail (app, CLIENT_EXIT_LOCAL, 0, "LOCAL_ERROR", "%s",
                         client_state_error (state));
    else
    if (!reply)
        fprintf (stderr, "zpost: logged out here, but the server did not hear it; the "
                 "session ends on the server when it expires\n");
    else
    if (zpost_msg_status (reply) != ZPOST_OK) {
        status = s_refusal (app, reply, NULL, ZPOST_NOT_LOGGED_IN,
                            "logged out here; the server already had no such session");
        if (zpost_msg_status (reply) != ZPOST_NOT_LOGGED_IN)
            fprintf (stderr, "zpost: logged out here, but the server refused LOGOUT; "
                     "the session ends on the server when it expires\n");
    }
    else {
        if (app->json) {
            json_t *object = json_pack ("{s:b, s:s, s:s}", "logged_out", true,
                                        "username", username,
                                        "server", client_session_endpoint (app->session));
            s_json_emit (object);
            json_decref (object);
        }
        else
            printf ("logged out %s from %s\n", username, client_session_endpoint (app->session));
        status = CLIENT_EXIT_DONE;
    }
    zpost_msg_destroy (&reply);
    client_state_destroy (&state);
    free (username);
    return status;
}

static int
s_cmd_passwd (client_app_t *app, const client_command_t *command, int argc, char **argv)
{
    static struct option options [] = {
        { "password-stdin", no_argument, NULL, S_OPT_PASSWORD_STDIN },
        { "json",           no_argument, NULL, S_OPT_JSON },
        { "help",           no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 }
    };
    bool from_stdin = false;
    int status;
    int code;
    while ((code = s_next_option (app, command, argc, argv, ":h", options, &status)) != -1)
        if (code == S_OPT_PASSWORD_STDIN)
            from_stdin = true;
    if (status != S_GO_ON)
        return status;
    if (optind < argc)
        return s_command_misuse (command, "takes no arguments (the passwords are "
                                 "asked for, never given as arguments)");

    client_state_t *state = s_logged_in (app, &status);
    if (!state)
        return status;
    char *password = NULL;
    char *new_password = NULL;
    status = s_password (app, from_stdin, "ZPOST_PASSWORD", "Current password: ", false,
                         S_PASSWORD_CURRENT, &password);
    if (status == CLIENT_EXIT_DONE)
        status = s_password (app, from_stdin, "ZPOST_NEW_PASSWORD", "New password: ",
                             true, S_PASSWORD_NEW, &new_password);
    if (status) {
        client_input_wipe (&password);
        client_state_destroy (&state);
        return status;
    }

    zpost_msg_t *reply = client_commands_passwd (app, password, new_password, &status);
    client_input_wipe (&password);
    client_input_wipe (&new_password);
    if (reply && zpost_msg_status (reply) != ZPOST_OK)
        status = s_refusal (app, reply, state, ZPOST_LOGIN_FAILED,
                            "the current password is wrong; nothing was changed");
    else
    if (reply) {
        if (app->json) {
            json_t *object = json_pack ("{s:s, s:b}", "username",
                                        client_state_username (state), "changed", true);
            s_json_emit (object);
            json_decref (object);
        }
        else
            printf ("password changed for %s; your other sessions have ended\n",
                    client_state_username (state));
        status = CLIENT_EXIT_DONE;
    }
    zpost_msg_destroy (&reply);
    client_state_destroy (&state);
    return status;
}


//  --------------------------------------------------------------------------
//  send

//  Recipients as typed, in one or more --to: names separated by commas,
//  spaces around them allowed. Appends the folded names to *list_p (a
//  comma-separated string). Returns NULL, or what is wrong.
char *
client_commands_add_recipients (char **list_p, const char *typed, size_t *count_p)
{
    char *copy = strdup (typed);
    assert (copy);
    char *fault = NULL;
    char *rest = copy;
    while (!fault) {
        char *item = strsep (&rest, ",");
        if (!item)
            break;
        item += strspn (item, " \t");
        size_t size = strlen (item);
        while (size > 0 && (item [size - 1] == ' ' || item [size - 1] == '\t'))
            item [--size] = 0;
        char *name = client_commands_username (item);
        if (!name)
            fault = *item? zsys_sprintf ("'%.64s' is not a username", item)
                         : strdup ("--to has an empty name; separate names with "
                                   "single commas");
        else {
            char *joined = zsys_sprintf ("%s%s%s", *list_p? *list_p: "",
                                         *list_p? ",": "", name);
            assert (joined);
            free (*list_p);
            *list_p = joined;
            (*count_p)++;
            free (name);
        }
    }
    free (copy);
    return fault;
}

static int
s_cmd_send (client_app_t *app, const client_command_t *command, int argc, char **argv)
{
    static struct option options [] = {
        { "to",      required_argument, NULL, 't' },
        { "subject", required_argument, NULL, 's' },
        { "message", required_argument, NULL, 'm' },
        { "json",    no_argument,       NULL, S_OPT_JSON },
        { "help",    no_argument,       NULL, 'h' },
        { NULL, 0, NULL, 0 }
    };
    char *recipients = NULL;
    size_t count = 0;
    const char *subject = NULL;
    const char *message = NULL;
    char *fault = NULL;
    int status;
    int code;
    while ((code = s_next_option (app, command, argc, argv, ":ht:s:m:", options, &status)) != -1) {
        if (code == 't' && !fault)
            fault = client_commands_add_recipients (&recipients, optarg, &count);
        else
        if (code == 's')
            subject = optarg;
        else
        if (code == 'm')
            message = optarg;
    }
    if (status == S_GO_ON) {
        if (fault)
            status = s_command_misuse (command, "%s", fault);
        else
        if (optind < argc)
            status = s_command_misuse (command, "takes no arguments; give the "
                                       "recipients with --to");
        else
        if (!recipients)
            status = s_command_misuse (command, "needs --to NAMES");
        else
        if (count > ZPOST_RECIPIENTS_MAX)
            status = s_command_misuse (command, "has %zu recipients; at most %d "
                                       "may be given", count, ZPOST_RECIPIENTS_MAX);
        else
        if (!subject)
            status = s_command_misuse (command, "needs --subject TEXT "
                                       "(--subject '' for none)");
        else
        if (client_commands_subject_fault (subject))
            status = s_command_misuse (command, "%s",
                                       client_commands_subject_fault (subject));
    }
    free (fault);
    if (status != S_GO_ON) {
        free (recipients);
        return status;
    }

    //  Know that the message can go before anyone spends time writing it
    client_state_t *state = s_logged_in (app, &status);
    if (!state) {
        free (recipients);
        return status;
    }

    char *body = NULL;
    size_t size = 0;
    client_input_t result = CLIENT_INPUT_OK;
    char error [512] = "";
    if (message) {
        body = strdup (message);
        assert (body);
        size = strlen (body);
    }
    else
    if (!isatty (STDIN_FILENO))
        result = client_input_all (STDIN_FILENO, ZPOST_BODY_MAX, &body, &size);
    else
        result = client_input_editor (ZPOST_BODY_MAX, &body, &size, error, sizeof (error));

    if (result == CLIENT_INPUT_INTERRUPTED)
        status = s_interrupted (app);
    else
    if (result == CLIENT_INPUT_TOO_LONG)
        status = s_fail (app, CLIENT_EXIT_USAGE, 0, "LOCAL_ERROR", "the body is "
                         "larger than %d MiB; nothing was sent", ZPOST_BODY_MAX >> 20);
    else
    if (result != CLIENT_INPUT_OK)
        status = s_fail (app, CLIENT_EXIT_LOCAL, 0, "LOCAL_ERROR", "%s", *error? error:
                         "cannot read the body from standard input; nothing was sent");
    else
    if (client_commands_body_fault (body, size))
        status = s_fail (app, CLIENT_EXIT_USAGE, 0, "LOCAL_ERROR", "%s",
                         client_commands_body_fault (body, size));
    else
    if (size == 0 && !message && isatty (STDIN_FILENO))
        status = s_fail (app, CLIENT_EXIT_USAGE, 0, "LOCAL_ERROR", "the message is "
                         "empty, so it was not sent; -m '' sends an empty body");
    else
        status = CLIENT_EXIT_DONE;

    if (status == CLIENT_EXIT_DONE) {
        zpost_msg_t *reply = client_commands_send (app, recipients, subject, body, &status);
        if (reply && zpost_msg_status (reply) != ZPOST_OK)
            status = s_refusal (app, reply, state, 0, NULL);
        else
        if (reply) {
            const char *id = zpost_msg_get (reply, ZPOST_F_MESSAGE_ID);
            if (app->json) {
                json_t *object = json_pack ("{s:o, s:o}", "id", s_json_number (id),
                                            "to", s_json_names (recipients));
                s_json_emit (object);
                json_decref (object);
            }
            else
                printf ("%s\n", id);
            status = CLIENT_EXIT_DONE;
        }
        zpost_msg_destroy (&reply);
    }
    free (body);
    free (recipients);
    client_state_destroy (&state);
    return status;
}


//  --------------------------------------------------------------------------
//  list

static json_t *
s_list_entry (zpost_msg_t *reply, size_t row)
{
    json_t *entry = json_pack ("{s:o, s:o, s:o, s:o, s:o, s:o, s:b}",
        "id", s_json_number (zpost_msg_row_get (reply, row, ZPOST_F_MESSAGE_ID)),
        "from", s_json_text (zpost_msg_row_get (reply, row, ZPOST_F_FROM)),
        "to", s_json_names (zpost_msg_row_get (reply, row, ZPOST_F_TO)),
        "subject", s_json_text (zpost_msg_row_get (reply, row, ZPOST_F_SUBJECT)),
        "date", s_json_number (zpost_msg_row_get (reply, row, ZPOST_F_DATE)),
        "size", s_json_number (zpost_msg_row_get (reply, row, ZPOST_F_SIZE)),
        "seen", streq (zpost_msg_row_get (reply, row, ZPOST_F_SEEN), "1"));
    assert (entry);
    return entry;
}

static uint64_t
s_row_number (zpost_msg_t *reply, size_t row, zpost_field_t field)
{
    const char *text = zpost_msg_row_get (reply, row, field);
    return text? (uint64_t) strtoull (text, NULL, 10): 0;
}

static int
s_cmd_list (client_app_t *app, const client_command_t *command, int argc, char **argv)
{
    static struct option options [] = {
        { "sent",   no_argument,       NULL, S_OPT_SENT },
        { "unread", no_argument,       NULL, S_OPT_UNREAD },
        { "limit",  required_argument, NULL, 'n' },
        { "before", required_argument, NULL, S_OPT_BEFORE },
        { "all",    no_argument,       NULL, S_OPT_ALL },
        { "json",   no_argument,       NULL, S_OPT_JSON },
        { "help",   no_argument,       NULL, 'h' },
        { NULL, 0, NULL, 0 }
    };
    bool sent = false;
    bool unread = false;
    bool all = false;
    int limit = 0;
    uint64_t before = 0;
    const char *bad = NULL;
    const char *bad_value = NULL;
    int status;
    int code;
    while ((code = s_next_option (app, command, argc, argv, ":hn:", options, &status)) != -1) {
        if (code == S_OPT_SENT)
            sent = true;
        else
        if (code == S_OPT_UNREAD)
            unread = true;
        else
        if (code == S_OPT_ALL)
            all = true;
        else
        if (code == 'n' && client_commands_parse_int (optarg, 1, ZPOST_LIST_MAX, &limit)) {
            bad = "--limit wants a number from 1 to 1000";
            bad_value = optarg;
        }
        else
        if (code == S_OPT_BEFORE && client_commands_parse_id (optarg, &before)) {
            bad = "--before wants a message id";
            bad_value = optarg;
        }
    }
    if (status != S_GO_ON)
        return status;
    if (bad)
        return s_command_misuse (command, "%s, not '%.64s'", bad, bad_value);
    if (optind < argc)
        return s_command_misuse (command, "takes no arguments");
    if (limit == 0)
        limit = all? ZPOST_LIST_MAX: S_LIST_LIMIT;

    client_state_t *state = s_logged_in (app, &status);
    if (!state)
        return status;
    json_t *entries = app->json? json_array (): NULL;
    size_t total = 0;
    int id_width = 0;
    bool more = false;
    uint64_t next_before = 0;
    status = CLIENT_EXIT_DONE;
    while (true) {
        zpost_msg_t *reply = client_commands_list (app, sent, unread, limit, before,
                                                   &status);
        if (!reply)
            break;
        if (zpost_msg_status (reply) != ZPOST_OK) {
            //  With --json, the error object replaces the array
            json_decref (entries);
            entries = NULL;
            status = s_refusal (app, reply, state, 0, NULL);
            zpost_msg_destroy (&reply);
            break;
        }
        size_t rows = zpost_msg_rows (reply);
        uint64_t smallest = 0;
        for (size_t row = 0; row < rows; row++) {
            uint64_t id = s_row_number (reply, row, ZPOST_F_MESSAGE_ID);
            if (smallest == 0 || id < smallest)
                smallest = id;
            if (entries) {
                json_array_append_new (entries, s_list_entry (reply, row));
                continue;
            }
            const char *id_text = zpost_msg_row_get (reply, row, ZPOST_F_MESSAGE_ID);
            if (id_width == 0) {
                //  Newest first: the first id is the widest there will be
                id_width = (int) strlen (id_text);
                char *header = client_output_list_header (id_width, sent);
                printf ("%s\n", header);
                free (header);
            }
            char *line = client_output_list_row (
                id_width, !sent && streq (zpost_msg_row_get (reply, row, ZPOST_F_SEEN), "0"),
                id_text, s_row_number (reply, row, ZPOST_F_DATE),
                zpost_msg_row_get (reply, row, sent? ZPOST_F_TO: ZPOST_F_FROM),
                zpost_msg_row_get (reply, row, ZPOST_F_SUBJECT),
                s_row_number (reply, row, ZPOST_F_SIZE));
            printf ("%s\n", line);
            free (line);
        }
        total += rows;
        zpost_msg_destroy (&reply);
        //  A full page may have more behind it; a page that does not go
        //  below its cursor would page for ever, so it ends the listing
        more = rows == (size_t) limit && smallest > 1
            && (before == 0 || smallest < before);
        next_before = smallest;
        if (!all || !more)
            break;
        before = smallest;
    }
    if (status == CLIENT_EXIT_DONE) {
        if (entries)
            s_json_emit (entries);
        else
        if (total == 0)
            printf ("no %smessages in your %s\n", unread? "unread ": "",
                    sent? "sent folder": "inbox");
        else
        if (more && !all) {
            printf ("more: zpost list%s%s", sent? " --sent": "", unread? " --unread": "");
            if (limit != S_LIST_LIMIT)
                printf (" --limit %d", limit);
            printf (" --before %" PRIu64 "\n", next_before);
        }
    }
    json_decref (entries);
    client_state_destroy (&state);
    return status;
}


//  --------------------------------------------------------------------------
//  read, delete

static int
s_cmd_read (client_app_t *app, const client_command_t *command, int argc, char **argv)
{
    static struct option options [] = {
        { "json", no_argument, NULL, S_OPT_JSON },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 }
    };
    int status;
    while (s_next_option (app, command, argc, argv, ":h", options, &status) != -1)
        ;
    if (status != S_GO_ON)
        return status;
    uint64_t id;
    if (optind + 1 != argc)
        return s_command_misuse (command, "needs one message ID (zpost list shows them)");
    if (client_commands_parse_id (argv [optind], &id))
        return s_command_misuse (command, "'%.64s' is not a message id", argv [optind]);

    client_state_t *state = s_logged_in (app, &status);
    if (!state)
        return status;
    zpost_msg_t *reply = client_commands_read (app, id, &status);
    if (reply && zpost_msg_status (reply) != ZPOST_OK) {
        char *sentence = zsys_sprintf ("there is no message %" PRIu64 " in your folders; "
                                       "zpost list shows their ids", id);
        status = s_refusal (app, reply, state, ZPOST_NO_SUCH_MESSAGE, sentence);
        free (sentence);
    }
    else
    if (reply) {
        const char *body = zpost_msg_get (reply, ZPOST_F_BODY);
        if (app->json) {
            json_t *object = json_pack ("{s:o, s:o, s:o, s:o, s:o, s:o}",
                "id", s_json_number (zpost_msg_get (reply, ZPOST_F_MESSAGE_ID)),
                "from", s_json_text (zpost_msg_get (reply, ZPOST_F_FROM)),
                "to", s_json_names (zpost_msg_get (reply, ZPOST_F_TO)),
                "subject", s_json_text (zpost_msg_get (reply, ZPOST_F_SUBJECT)),
                "date", s_json_number (zpost_msg_get (reply, ZPOST_F_DATE)),
                "body", s_json_text (body));
            assert (object);
            s_json_emit (object);
            json_decref (object);
        }
        else
            client_commands_print_message (reply);
        status = CLIENT_EXIT_DONE;
    }
    zpost_msg_destroy (&reply);
    client_state_destroy (&state);
    return status;
}

static int
s_cmd_delete (client_app_t *app, const client_command_t *command, int argc, char **argv)
{
    static struct option options [] = {
        { "sent", no_argument, NULL, S_OPT_SENT },
        { "json", no_argument, NULL, S_OPT_JSON },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 }
    };
    bool sent = false;
    int status;
    int code;
    while ((code = s_next_option (app, command, argc, argv, ":h", options, &status)) != -1)
        if (code == S_OPT_SENT)
            sent = true;
    if (status != S_GO_ON)
        return status;
    uint64_t id;
    if (optind + 1 != argc)
        return s_command_misuse (command, "needs one message ID (zpost list shows them)");
    if (client_commands_parse_id (argv [optind], &id))
        return s_command_misuse (command, "'%.64s' is not a message id", argv [optind]);

    client_state_t *state = s_logged_in (app, &status);
    if (!state)
        return status;
    const char *folder = sent? "sent": "inbox";
    zpost_msg_t *reply = client_commands_delete (app, sent, id, &status);
    if (reply && zpost_msg_status (reply) != ZPOST_OK)
        status = s_refusal (app, reply, state, 0, NULL);
    else
    if (reply) {
        if (app->json) {
            json_t *object = json_pack ("{s:o, s:s}", "id", s_json_id (id),
                                        "folder", folder);
            s_json_emit (object);
            json_decref (object);
        }
        else
            printf ("deleted message %" PRIu64 " from your %s\n", id,
                    sent? "sent folder": "inbox");
        status = CLIENT_EXIT_DONE;
    }
    zpost_msg_destroy (&reply);
    client_state_destroy (&state);
    return status;
}


//  --------------------------------------------------------------------------
//  stats

static int
s_cmd_stats (client_app_t *app, const client_command_t *command, int argc, char **argv)
{
    static struct option options [] = {
        { "server", no_argument, NULL, S_OPT_SERVER },
        { "json",   no_argument, NULL, S_OPT_JSON },
        { "help",   no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 }
    };
    bool server = false;
    int status;
    int code;
    while ((code = s_next_option (app, command, argc, argv, ":h", options, &status)) != -1)
        if (code == S_OPT_SERVER)
            server = true;
    if (status != S_GO_ON)
        return status;
    if (optind < argc)
        return s_command_misuse (command, "takes no arguments");

    client_state_t *state = s_logged_in (app, &status);
    if (!state)
        return status;
    zpost_msg_t *reply = client_commands_stats (app, server, &status);
    if (reply && zpost_msg_status (reply) != ZPOST_OK)
        status = s_refusal (app, reply, state, 0, NULL);
    else
    if (reply) {
        size_t rows = zpost_msg_rows (reply);
        if (app->json) {
            json_t *object = json_object ();
            for (size_t row = 0; row < rows; row++)
                json_object_set_new (object, zpost_msg_row_get (reply, row, ZPOST_F_STAT_NAME),
                                     s_json_number (zpost_msg_row_get (reply, row,
                                                                       ZPOST_F_STAT_VALUE)));
            s_json_emit (object);
            json_decref (object);
        }
        else
            client_commands_print_stats (reply);
        status = CLIENT_EXIT_DONE;
    }
    zpost_msg_destroy (&reply);
    client_state_destroy (&state);
    return status;
}


//  --------------------------------------------------------------------------
//  The table

#define S_JSON_HELP \
    "      --json            print the result as JSON on stdout\n" \
    "  -h, --help            show this help\n"

#define S_PASSWORD_HELP \
    "      --password-stdin  read the password from the first line of standard\n" \
    "                        input instead of asking for it on the terminal\n"

static const client_command_t s_commands [] = {
    { "ping", "[--broker]",
      "Check that the server answers, and how fast.",
      "\n"
      "Sends PING to the store through the broker, or to the broker alone with\n"
      "--broker, and prints who answered, its version and the round-trip time:\n"
      "\n"
      "    pong from store (zpost 0.1.0) in 0.42 ms\n"
      "\n"
      "Options:\n"
      "      --broker          ask the broker itself, not the store behind it\n"
      S_JSON_HELP
      "\n"
      "JSON: {\"answered_by\": \"store\", \"server_version\": \"...\", \"rtt_ms\": 0.42}\n",
      s_cmd_ping },
    { "register", "USERNAME",
      "Create an account.",
      "\n"
      "USERNAME is 1 to 32 of a-z 0-9 . _ -, starting with a letter or digit;\n"
      "capitals are taken as small letters. The password (8 to 1024 bytes) is\n"
      "asked for twice on the terminal, without echo; or it is the first line\n"
      "of standard input with --password-stdin, or $ZPOST_PASSWORD. It is never\n"
      "taken from the command line. Registering does not log in.\n"
      "\n"
      "Options:\n"
      S_PASSWORD_HELP
      S_JSON_HELP
      "\n"
      "JSON: {\"username\": \"alice\", \"server\": \"tcp://...\"}\n",
      s_cmd_register },
    { "login", "USERNAME",
      "Log in, and keep the session for the commands that follow.",
      "\n"
      "The password is asked for on the terminal without echo; or it is the\n"
      "first line of standard input with --password-stdin, or $ZPOST_PASSWORD.\n"
      "The session is kept, for this server only, in\n"
      "${XDG_STATE_HOME:-~/.local/state}/zpost/HOST_PORT.session (0600), until\n"
      "zpost logout, or until the server ends it (idle for too long, or at the\n"
      "latest at the time printed).\n"
      "\n"
      "Options:\n"
      S_PASSWORD_HELP
      S_JSON_HELP
      "\n"
      "JSON: {\"username\": \"alice\", \"server\": \"tcp://...\", \"expires\": UNIXTIME}\n"
      "(the session token goes to the session file only)\n",
      s_cmd_login },
    { "logout", "",
      "End the session on the server and forget it here.",
      "\n"
      "The session file is removed whatever the server answers; if the server\n"
      "did not hear the logout, zpost says so and the session ends on the\n"
      "server when it expires.\n"
      "\n"
      "Options:\n"
      S_JSON_HELP
      "\n"
      "JSON: {\"logged_out\": true, \"username\": \"alice\", \"server\": \"tcp://...\"}\n",
      s_cmd_logout },
    { "passwd", "",
      "Change your password; your other sessions end.",
      "\n"
      "Asks for the current password, then the new one twice, on the terminal\n"
      "without echo. For scripts: --password-stdin reads two lines, the current\n"
      "password then the new one; or set $ZPOST_PASSWORD (current) and\n"
      "$ZPOST_NEW_PASSWORD (new).\n"
      "\n"
      "Options:\n"
      "      --password-stdin  read both passwords from standard input\n"
      S_JSON_HELP
      "\n"
      "JSON: {\"username\": \"alice\", \"changed\": true}\n",
      s_cmd_passwd },
    { "send", "--to NAMES --subject TEXT [-m TEXT]",
      "Send a message; prints its id.",
      "\n"
      "The body is TEXT with -m; otherwise standard input, when it is not a\n"
      "terminal; otherwise your editor ($VISUAL, $EDITOR, else vi) opens on an\n"
      "empty draft (a 0600 file, removed afterwards), and an empty draft sends\n"
      "nothing. Every recipient must exist, or nothing is sent.\n"
      "\n"
      "Options:\n"
      "  -t, --to NAMES        recipients, separated by commas; may be repeated\n"
      "  -s, --subject TEXT    one line, at most 255 bytes ('' for none)\n"
      "  -m, --message TEXT    the body\n"
      S_JSON_HELP
      "\n"
      "JSON: {\"id\": 42, \"to\": [\"alice\", \"bob\"]}\n",
      s_cmd_send },
    { "list", "[--sent] [--unread] [--limit N] [--before ID] [--all]",
      "List your inbox (or sent folder), newest first.",
      "\n"
      "One line per message: * if unread, id, date (local time), sender (or\n"
      "recipients), subject and size. Text other users wrote is shown with\n"
      "control and bidi characters escaped (\\x1b, \\u009b, \\u202e) and a\n"
      "backslash as \\\\.\n"
      "\n"
      "Options:\n"
      "      --sent            the sent folder instead of the inbox\n"
      "      --unread          only messages not yet read\n"
      "  -n, --limit N         at most N messages, 1 to 1000 (default 50; with\n"
      "                        --all, the page size, default 1000)\n"
      "      --before ID       only messages older than ID (the next page)\n"
      "      --all             every message, page after page\n"
      S_JSON_HELP
      "\n"
      "JSON: [{\"id\": 42, \"from\": \"alice\", \"to\": [\"bob\"], \"subject\": \"...\",\n"
      "        \"date\": UNIXTIME, \"size\": 120, \"seen\": false}, ...]\n",
      s_cmd_list },
    { "read", "ID",
      "Print a message, and mark it read.",
      "\n"
      "Prints From, To, Date and Subject, a blank line, and the body. Control\n"
      "and bidi characters in them are shown escaped (\\x1b, \\u009b, \\u202e),\n"
      "never sent to the terminal; a backslash is shown as \\\\.\n"
      "\n"
      "Options:\n"
      S_JSON_HELP
      "\n"
      "JSON: {\"id\": 42, \"from\": \"alice\", \"to\": [\"bob\"], \"subject\": \"...\",\n"
      "       \"date\": UNIXTIME, \"body\": \"...\"}\n",
      s_cmd_read },
    { "delete", "ID [--sent]",
      "Delete a message from your inbox (or sent folder).",
      "\n"
      "Deleting a message that is not there is not an error.\n"
      "\n"
      "Options:\n"
      "      --sent            delete from the sent folder\n"
      S_JSON_HELP
      "\n"
      "JSON: {\"id\": 42, \"folder\": \"inbox\"}\n",
      s_cmd_delete },
    { "stats", "[--server]",
      "Show how many messages you have and their size.",
      "\n"
      "Prints one figure per line: name and value (sizes in bytes).\n"
      "\n"
      "Options:\n"
      "      --server          figures for the whole server instead\n"
      S_JSON_HELP
      "\n"
      "JSON: {\"inbox-count\": 3, \"inbox-unread\": 1, ...}\n",
      s_cmd_stats },
};

#define S_COMMAND_COUNT (sizeof (s_commands) / sizeof (s_commands [0]))

const client_command_t *
client_commands_find (const char *name)
{
    for (size_t index = 0; index < S_COMMAND_COUNT; index++)
        if (name && streq (s_commands [index].name, name))
            return &s_commands [index];
    return NULL;
}

const client_command_t *
client_commands_at (size_t index)
{
    return index < S_COMMAND_COUNT? &s_commands [index]: NULL;
}

void
client_commands_finish (client_app_t *app)
{
    assert (app);
    client_session_destroy (&app->session);
    client_keys_destroy (&app->keys);
    client_config_destroy (&app->config);
}
