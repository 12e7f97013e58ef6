/*  =========================================================================
    zpost - the command-line client

        zpost [OPTIONS] COMMAND [ARGS]

    main () reads the global options, finds the command in one table and
    runs it; each command is one function that reads its own options, builds
    its request, and turns the reply into output and an exit status. A new
    command is one more function and one more row in s_commands.

    Exit status (stable; scripts rely on it):
        0  done
        1  the server refused the request (4xx)
        2  usage error
        3  no answer, a malformed answer, or the server could not do it
           (503 store unavailable, 5xx)
        4  local error (keys, files)

    stdout carries results only; every complaint goes to stderr, prefixed
    "zpost: ". CZMQ's own log stays silent unless -v.
    =========================================================================
*/

#include "client_config.h"
#include "client_session.h"

#include <getopt.h>
#include <errno.h>

#define EXIT_DONE           0
#define EXIT_REFUSED        1
#define EXIT_USAGE          2
#define EXIT_SERVER         3
#define EXIT_LOCAL          4
#define EXIT_INTERRUPTED    130     //  as a shell reports death by SIGINT

#define TIMEOUT_MAX         (3600 * 1000)
#define RETRIES_MAX         100

//  What every command gets: the global options, and the configuration and
//  session, made when a command first needs them.
typedef struct {
    const char *server;             //  --server, or NULL for the default
    const char *server_key;         //  --server-key, or NULL for the default
    int timeout;                    //  --timeout, ms per try
    int retries;                    //  --retries, tries per request
    bool verbose;                   //  -v
    client_config_t *config;        //  where our files are
    client_session_t *session;      //  talks to the server, or NULL
} s_app_t;

typedef struct _s_command_t s_command_t;
typedef int (s_command_fn) (s_app_t *app, const s_command_t *command,
                            int argc, char **argv);

struct _s_command_t {
    const char *name;               //  as typed
    const char *synopsis;           //  its arguments, for usage lines
    const char *summary;            //  one line for zpost --help
    const char *help;               //  the body of zpost COMMAND --help
    s_command_fn *run;              //  does it; returns the exit status
};


//  --------------------------------------------------------------------------
//  Helpers shared by all commands

//  Text from the server is printed only through this: control characters
//  (C0, DEL and C1) become '?', so no reply can drive the terminal. The
//  codec has already refused invalid UTF-8. Caller frees the result.
static char *
s_printable (const char *text)
{
    if (!text)
        text = "?";
    char *copy = strdup (text);
    assert (copy);
    unsigned char *byte = (unsigned char *) copy;
    for (size_t index = 0; byte [index]; index++) {
        if (byte [index] < 0x20 || byte [index] == 0x7F)
            byte [index] = '?';
        else
        if (byte [index] == 0xC2 && byte [index + 1] >= 0x80 && byte [index + 1] <= 0x9F) {
            byte [index] = '?';
            byte [index + 1] = '?';
            index++;
        }
    }
    return copy;
}

//  Parse a whole decimal number in min..max. 0 if it is one, else -1.
static int
s_parse_number (const char *text, long min, long max, int *value_p)
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

//  getopt's complaint about the option just seen, in our own words; every
//  optstring starts with ":" so that a missing value and an unknown option
//  can be told apart. who is "zpost" or "zpost COMMAND".
static void
s_bad_option (const char *who, int code, char **argv)
{
    const char *option = argv [optind - 1];
    if (code == ':')
        fprintf (stderr, "%s: option %s needs a value\n", who, option);
    else
    if (optopt && strncmp (option, "--", 2) != 0)
        fprintf (stderr, "%s: unknown option -%c\n", who, optopt);
    else
        fprintf (stderr, "%s: unknown option %s\n", who, option);
}

static void
s_command_usage (const s_command_t *command, FILE *stream)
{
    fprintf (stream, "usage: zpost [OPTIONS] %s%s%s\n", command->name,
             *command->synopsis? " ": "", command->synopsis);
}

static int
s_command_help (const s_command_t *command)
{
    s_command_usage (command, stdout);
    printf ("\n%s\n%s", command->summary, command->help);
    printf ("\nGlobal options and exit status: zpost --help\n");
    return EXIT_DONE;
}

static int
s_command_misuse (const s_command_t *command, const char *complaint)
{
    fprintf (stderr, "zpost %s: %s\n", command->name, complaint);
    s_command_usage (command, stderr);
    return EXIT_USAGE;
}

//  Make the session the first time a command needs the server: address,
//  server key and our own key pair, each refused with a sentence.
static int
s_open_session (s_app_t *app)
{
    if (app->session)
        return EXIT_DONE;
    if (client_config_set_server (app->config, app->server)) {
        fprintf (stderr, "zpost: %s\n", client_config_error (app->config));
        return EXIT_USAGE;
    }
    if (client_config_set_server_key (app->config, app->server_key)) {
        fprintf (stderr, "zpost: %s\n", client_config_error (app->config));
        return EXIT_LOCAL;
    }
    zcert_t *cert = client_config_client_cert (app->config);
    if (!cert) {
        fprintf (stderr, "zpost: %s\n", client_config_error (app->config));
        return EXIT_LOCAL;
    }
    app->session = client_session_new (client_config_endpoint (app->config),
                                       client_config_server_key (app->config), cert);
    if (!app->session) {
        fprintf (stderr, "zpost: cannot initialise libsodium\n");
        return EXIT_LOCAL;
    }
    client_session_set_timeout (app->session, app->timeout);
    client_session_set_retries (app->session, app->retries);
    client_session_set_verbose (app->session, app->verbose);
    return EXIT_DONE;
}

//  Send a request and get its reply, whatever its status. On no reply,
//  say why and set *status_p to the exit status.
static zpost_msg_t *
s_call (s_app_t *app, zpost_msg_t *request, int *status_p)
{
    zpost_msg_t *reply = client_session_request (app->session, request);
    if (reply)
        return reply;

    client_session_t *session = app->session;
    switch (client_session_failure (session)) {
        case CLIENT_SESSION_NO_ANSWER:
            fprintf (stderr, "zpost: no answer from %s after %d %s (%d ms each); "
                     "is zpost-broker running and is the server key right?\n",
                     client_session_endpoint (session),
                     client_session_tries (session),
                     client_session_tries (session) == 1? "try": "tries",
                     client_session_timeout (session));
            *status_p = EXIT_SERVER;
            break;
        case CLIENT_SESSION_INTERRUPTED:
            fprintf (stderr, "zpost: interrupted\n");
            *status_p = EXIT_INTERRUPTED;
            break;
        case CLIENT_SESSION_SOCKET:
            fprintf (stderr, "zpost: %s\n", client_session_error (session));
            *status_p = EXIT_LOCAL;
            break;
        default:
            fprintf (stderr, "zpost: %s\n", client_session_error (session));
            *status_p = EXIT_SERVER;
            break;
    }
    return NULL;
}

//  A reply that is not 200 OK: say what the server said, and map its
//  status to our exit status.
static int
s_refusal (zpost_msg_t *reply)
{
    int status = zpost_msg_status (reply);
    if (status == ZPOST_OK)
        return EXIT_DONE;
    char *reason = s_printable (zpost_msg_reason (reply));
    fprintf (stderr, "zpost: %s (%d %s)\n", *reason? reason: zpost_status_reason (status),
             status, zpost_status_name (status));
    zstr_free (&reason);
    return status >= 400 && status < 500? EXIT_REFUSED: EXIT_SERVER;
}


//  --------------------------------------------------------------------------
//  The commands, one function each

static int
s_cmd_ping (s_app_t *app, const s_command_t *command, int argc, char **argv)
{
    static struct option options [] = {
        { "broker", no_argument, NULL, 'b' },
        { "help",   no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 }
    };
    bool broker = false;
    int code;
    while ((code = getopt_long (argc, argv, ":h", options, NULL)) != -1) {
        if (code == 'b')
            broker = true;
        else
        if (code == 'h')
            return s_command_help (command);
        else {
            s_bad_option ("zpost ping", code, argv);
            s_command_usage (command, stderr);
            return EXIT_USAGE;
        }
    }
    if (optind < argc)
        return s_command_misuse (command, "takes no arguments");

    int status = s_open_session (app);
    if (status)
        return status;
    zpost_msg_t *request = client_session_new_request (app->session, ZPOST_CMD_PING);
    zpost_msg_set (request, ZPOST_F_TARGET, broker? "broker": "store");
    zpost_msg_t *reply = s_call (app, request, &status);
    zpost_msg_destroy (&request);
    if (!reply)
        return status;

    status = s_refusal (reply);
    if (status == EXIT_DONE) {
        char *answered_by = s_printable (zpost_msg_get (reply, ZPOST_F_ANSWERED_BY));
        char *version = s_printable (zpost_msg_get (reply, ZPOST_F_SERVER_VERSION));
        printf ("pong from %s (%s) in %.2f ms\n", answered_by, version,
                (double) client_session_rtt (app->session) / 1000.0);
        zstr_free (&answered_by);
        zstr_free (&version);
    }
    zpost_msg_destroy (&reply);
    return status;
}

static const s_command_t s_commands [] = {
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
      "  -h, --help            show this help\n",
      s_cmd_ping },
};

#define COMMAND_COUNT   (sizeof (s_commands) / sizeof (s_commands [0]))


//  --------------------------------------------------------------------------
//  Global usage

static void
s_usage (FILE *stream)
{
    fprintf (stream, "usage: zpost [OPTIONS] COMMAND [ARGS]\n");
}

static void
s_help (void)
{
    s_usage (stdout);
    printf (
        "\n"
        "zpost talks to a zpost server, an email-like messaging service, over\n"
        "CurveZMQ: every byte is encrypted, and the server must prove that it\n"
        "holds the key you give with --server-key.\n"
        "\n"
        "Options:\n"
        "  -s, --server ADDR     server: host, host:port, [ipv6]:port or\n"
        "                        tcp://host:port (port %d; default $ZPOST_SERVER,\n"
        "                        else %s)\n"
        "  -k, --server-key KEY|FILE\n"
        "                        the server's public key: 40 Z85 characters, or a\n"
        "                        file holding it, such as the broker's broker.key\n"
        "                        (default $ZPOST_SERVER_KEY)\n"
        "      --timeout MS      wait this long for each try (default %d)\n"
        "      --retries N       tries before giving up (default %d)\n"
        "  -v, --verbose         log each try and message on stderr\n"
        "  -h, --help            show this help\n"
        "  -V, --version         show the version\n"
        "\n"
        "Commands:\n",
        CLIENT_CONFIG_DEFAULT_PORT, CLIENT_CONFIG_DEFAULT_HOST,
        CLIENT_SESSION_TIMEOUT, CLIENT_SESSION_RETRIES);
    for (size_t index = 0; index < COMMAND_COUNT; index++) {
        const s_command_t *command = &s_commands [index];
        char usage [64];
        snprintf (usage, sizeof (usage), "%s %s", command->name, command->synopsis);
        printf ("  %-20s  %s\n", usage, command->summary);
    }
    printf (
        "\n"
        "'zpost COMMAND --help' shows a command's options.\n"
        "\n"
        "Files:\n"
        "  ${XDG_CONFIG_HOME:-~/.config}/zpost/client.key, client.key_secret\n"
        "                        your key pair, made on first use (secret 0600)\n"
        "\n"
        "Exit status:\n"
        "  0  done\n"
        "  1  the server refused the request (4xx)\n"
        "  2  usage error\n"
        "  3  no answer, a malformed answer, or the server could not do it\n"
        "     (503 store unavailable, 5xx)\n"
        "  4  local error (keys, files)\n");
}

//  Say what is wrong (unless already said), then how to get it right.
static int
s_misuse (const char *complaint, const char *what)
{
    if (complaint)
        fprintf (stderr, "zpost: %s%s%s\n", complaint, what? " ": "", what? what: "");
    s_usage (stderr);
    fprintf (stderr, "'zpost --help' lists the options and commands.\n");
    return EXIT_USAGE;
}


//  --------------------------------------------------------------------------

int
main (int argc, char *argv [])
{
    //  Before anything else touches CZMQ: its log goes to stdout by
    //  default, which is where our results go.
    zsys_set_logstream (NULL);
    zsys_set_logident ("zpost");

    s_app_t app = {
        .timeout = CLIENT_SESSION_TIMEOUT,
        .retries = CLIENT_SESSION_RETRIES
    };
    enum { OPT_TIMEOUT = 256, OPT_RETRIES };
    static struct option options [] = {
        { "server",     required_argument, NULL, 's' },
        { "server-key", required_argument, NULL, 'k' },
        { "timeout",    required_argument, NULL, OPT_TIMEOUT },
        { "retries",    required_argument, NULL, OPT_RETRIES },
        { "verbose",    no_argument,       NULL, 'v' },
        { "help",       no_argument,       NULL, 'h' },
        { "version",    no_argument,       NULL, 'V' },
        { NULL, 0, NULL, 0 }
    };
    //  "+": stop at the command, whose options are its own
    opterr = 0;
    int code;
    while ((code = getopt_long (argc, argv, "+:s:k:vhV", options, NULL)) != -1) {
        switch (code) {
            case 's':
                app.server = optarg;
                break;
            case 'k':
                app.server_key = optarg;
                break;
            case OPT_TIMEOUT:
                if (s_parse_number (optarg, 1, TIMEOUT_MAX, &app.timeout))
                    return s_misuse ("--timeout wants milliseconds, from 1 to 3600000;"
                                     " not", optarg);
                break;
            case OPT_RETRIES:
                if (s_parse_number (optarg, 1, RETRIES_MAX, &app.retries))
                    return s_misuse ("--retries wants a number of tries, from 1 to 100;"
                                     " not", optarg);
                break;
            case 'v':
                app.verbose = true;
                break;
            case 'h':
                s_help ();
                return EXIT_DONE;
            case 'V':
                printf ("zpost %s\n", ZPOST_VERSION);
                return EXIT_DONE;
            default:
                s_bad_option ("zpost", code, argv);
                return s_misuse (NULL, NULL);
        }
    }
    if (optind >= argc)
        return s_misuse ("no command given", NULL);

    const char *name = argv [optind];
    const s_command_t *command = NULL;
    for (size_t index = 0; index < COMMAND_COUNT && !command; index++)
        if (streq (s_commands [index].name, name))
            command = &s_commands [index];
    if (!command) {
        char *printable = zsys_sprintf ("'%s'", name);
        int status = s_misuse ("unknown command", printable);
        zstr_free (&printable);
        return status;
    }

    if (app.verbose)
        zsys_set_logstream (stderr);
    zsys_init ();
    app.config = client_config_new (NULL, NULL);
    assert (app.config);

    //  The command sees its name as argv [0]; optind 0 makes glibc's
    //  getopt start over on the new vector.
    int first = optind;
    optind = 0;
    int status = command->run (&app, command, argc - first, argv + first);
    client_session_destroy (&app.session);
    client_config_destroy (&app.config);
    return status;
}
