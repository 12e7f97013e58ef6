/*  =========================================================================
    zpost - the command-line client

        zpost [OPTIONS] COMMAND [ARGS]

    main () reads the global options, finds the command in the table of
    client_commands and runs it; each command is one function that reads
    its own options, builds its request, and turns the reply into output
    and an exit status. A new command is one more function and one more
    row in that table.

    Exit status (stable; scripts rely on it):
        0  done
        1  the server refused the request (4xx), or not logged in
        2  usage error
        3  no answer, a malformed answer, or the server could not do it
           (503 store unavailable, 5xx)
        4  local error (keys, files)

    stdout carries results only; every complaint goes to stderr, prefixed
    "zpost: ". CZMQ's own log stays silent unless -v. The codes are
    CLIENT_EXIT_* in client_commands.h.
    =========================================================================
*/

#include "client_commands.h"
#include "client_output.h"

#include <getopt.h>

#define TIMEOUT_MAX         (3600 * 1000)
#define RETRIES_MAX         100


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
    const client_command_t *command;
    for (size_t index = 0; (command = client_commands_at (index)); index++)
        printf ("  %-10s  %s\n", command->name, command->summary);
    printf (
        "\n"
        "'zpost COMMAND --help' shows a command's options. Every command takes\n"
        "--json, for scripts: the result as JSON on stdout, or on failure\n"
        "{\"status\": N, \"error\": \"NAME\", \"reason\": \"...\", \"detail\": ...}\n"
        "(status 0 when no server status applies: NO_ANSWER, BAD_REPLY,\n"
        "INTERRUPTED, LOCAL_ERROR).\n"
        "\n"
        "Files:\n"
        "  ${XDG_CONFIG_HOME:-~/.config}/zpost/client.key, client.key_secret\n"
        "                        your key pair, made on first use (secret 0600)\n"
        "  ${XDG_STATE_HOME:-~/.local/state}/zpost/HOST_PORT.session\n"
        "                        the session zpost login keeps per server (0600)\n"
        "\n"
        "Environment:\n"
        "  ZPOST_SERVER, ZPOST_SERVER_KEY   defaults for --server, --server-key\n"
        "  ZPOST_PASSWORD, ZPOST_NEW_PASSWORD\n"
        "                        passwords for register, login and passwd, when\n"
        "                        not asked for on the terminal\n"
        "  VISUAL, EDITOR        the editor for zpost send (default vi)\n"
        "\n"
        "Text that other users wrote is printed with control characters shown\n"
        "as escapes (\\x1b, \\u009b), never sent to the terminal as they are.\n"
        "\n"
        "Exit status:\n"
        "  0  done\n"
        "  1  the server refused the request (4xx), or not logged in\n"
        "  2  usage error\n"
        "  3  no answer, a malformed answer, or the server could not do it\n"
        "     (503 store unavailable, 5xx)\n"
        "  4  local error (keys, files)\n"
        "130  interrupted (Ctrl-C)\n");
}

//  Say what is wrong (unless already said), then how to get it right.
static int
s_misuse (const char *complaint, const char *what)
{
    if (complaint) {
        //  what is as typed: it may hold anything
        char *safe = client_output_safe_str (what, CLIENT_OUTPUT_LINE);
        fprintf (stderr, "zpost: %s%s%s\n", complaint, what? " ": "", safe);
        free (safe);
    }
    s_usage (stderr);
    fprintf (stderr, "'zpost --help' lists the options and commands.\n");
    return CLIENT_EXIT_USAGE;
}


//  --------------------------------------------------------------------------

int
main (int argc, char *argv [])
{
    //  Before anything else touches CZMQ: its log goes to stdout by
    //  default, which is where our results go.
    zsys_set_logstream (NULL);
    zsys_set_logident ("zpost");

    client_app_t app = {
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
                if (client_commands_parse_int (optarg, 1, TIMEOUT_MAX, &app.timeout))
                    return s_misuse ("--timeout wants milliseconds, from 1 to 3600000;"
                                     " not", optarg);
                break;
            case OPT_RETRIES:
                if (client_commands_parse_int (optarg, 1, RETRIES_MAX, &app.retries))
                    return s_misuse ("--retries wants a number of tries, from 1 to 100;"
                                     " not", optarg);
                break;
            case 'v':
                app.verbose = true;
                break;
            case 'h':
                s_help ();
                return CLIENT_EXIT_DONE;
            case 'V':
                printf ("zpost %s\n", ZPOST_VERSION);
                return CLIENT_EXIT_DONE;
            default:
                client_commands_bad_option ("zpost", code, argv);
                return s_misuse (NULL, NULL);
        }
    }
    if (optind >= argc)
        return s_misuse ("no command given", NULL);

    const char *name = argv [optind];
    const client_command_t *command = client_commands_find (name);
    if (!command) {
        char *printable = zsys_sprintf ("'%.64s'", name);
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
