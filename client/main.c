/*  =========================================================================
    zpost - the command-line client

        zpost [OPTIONS] COMMAND [ARGS]       one command, for scripts
        zpost [OPTIONS] HOST                 the guided session
        zpost [OPTIONS] --server ADDR        the guided session
        zpost [OPTIONS] -d ADDR              the same (the original's name)
        zpost [OPTIONS]                      the same with $ZPOST_SERVER

    main () reads the global options, finds the command in the table of
    client_commands and runs it through the prologue every command shares
    (client_commands_run: its options, --json, --help, the login check),
    then its handler. A new command is one more row and one handler in
    client_cmd_*.c. With no command but a server, the guided session
    (client_shell) runs instead. Both go to the server through client_api. A bare word that is not a command is
    taken as the server when it looks like an address (it has a dot or a
    colon, or is "localhost"), so that a mistyped command is still a
    usage error.

    Exit status (stable; scripts rely on it):
        0  done
        1  the server refused the request (4xx), or not logged in
        2  usage error
        3  no answer, a malformed answer, or the server could not do it
           (503 store unavailable, 5xx)
        4  local error (keys, files)

    stdout carries results only; every complaint goes to stderr, prefixed
    "zpost: ". CZMQ's own log stays silent unless -v. The codes are
    CLIENT_EXIT_* in client_api.h.
    =========================================================================
*/

#include "client_commands.h"
#include "client_input.h"
#include "client_output.h"
#include "client_shell.h"
#include "client_show.h"

#include <getopt.h>

#define TIMEOUT_MAX         (3600 * 1000)
#define RETRIES_MAX         100


//  --------------------------------------------------------------------------
//  Global usage

static void
s_usage (FILE *stream)
{
    fprintf (stream, "usage: zpost [OPTIONS] COMMAND [ARGS]\n"
                     "       zpost [OPTIONS] HOST | --server ADDR   (guided session)\n");
}

static void
s_help (void)
{
    s_usage (stdout);
    printf (
        "\n"
        "zpost talks to a zpost server, an email-like messaging service, over\n"
        "CurveZMQ: every byte is encrypted, and the server must prove that it\n"
        "holds the key you trust: given with --server-key, or pinned the first\n"
        "time you connect, after you compare its fingerprint (known_servers).\n"
        "\n"
        "With a server and no command (zpost HOST, zpost --server ADDR, or a\n"
        "bare zpost with $ZPOST_SERVER set), zpost opens a guided session:\n"
        "menus to create an account, log in, read the inbox a page at a time,\n"
        "reply, forward, see a thread, flag, send, delete, see statistics,\n"
        "send drafts, change the password and delete the account.\n"
        "\n"
        "Options:\n"
        "  -s, --server ADDR     server: host, host:port, [ipv6]:port or\n"
        "                        tcp://host:port (port %d; default $ZPOST_SERVER,\n"
        "                        else %s); or the brokers of one deployment,\n"
        "                        separated by commas (a:5321,b:5321, at most %d):\n"
        "                        a request that gets no answer or a 503 goes\n"
        "                        again, same request id, through the next one\n"
        "  -d, --destination ADDR  the same as --server\n"
        "  -k, --server-key KEY|FILE\n"
        "                        the server's public key: 40 Z85 characters, or a\n"
        "                        file holding it, such as the broker's broker.key\n"
        "                        (default $ZPOST_SERVER_KEY, else known_servers);\n"
        "                        every broker of a list holds this one key\n"
        "      --accept-new-key  trust the key a new server announces without\n"
        "                        asking (it is still shown, and then pinned)\n"
        "      --announce EP     ask EP for a new server's key (default: the\n"
        "                        server's host, its port + 1)\n"
        "      --announce-port N ask the server's host on port N\n"
        "      --timeout MS      wait this long for each try (default %d)\n"
        "      --retries N       tries per broker before giving up (default %d)\n"
        "      --json            the result as JSON, as the command's own --json\n"
        "  -v, --verbose         log each try and message on stderr\n"
        "  -h, --help            show this help\n"
        "  -V, --version         show the version\n"
        "\n"
        "Commands:\n",
        CLIENT_CONFIG_DEFAULT_PORT, CLIENT_CONFIG_DEFAULT_HOST,
        CLIENT_CONFIG_SERVERS_MAX, CLIENT_SESSION_TIMEOUT, CLIENT_SESSION_RETRIES);
    const client_command_t *command;
    for (size_t index = 0; (command = client_commands_at (index)); index++)
        printf ("  %-10s  %s\n", command->name, command->summary);
    printf (
        "\n"
        "'zpost COMMAND --help' shows a command's options. Every command takes\n"
        "--json (before or after the command's name), for scripts: the result\n"
        "as JSON on stdout, or on failure\n"
        "{\"status\": N, \"error\": \"NAME\", \"reason\": \"...\", \"detail\": ...}\n"
        "(status 0 when no server status applies: NOT_LOGGED_IN, NO_ANSWER,\n"
        "BAD_REPLY, INTERRUPTED, LOCAL_ERROR, KEY_CHANGED, NO_SUCH_MESSAGE,\n"
        "NO_SUCH_DRAFT, NOT_KNOWN).\n"
        "\n"
        "Files:\n"
        "  ${XDG_CONFIG_HOME:-~/.config}/zpost/client.key, client.key_secret\n"
        "                        your key pair, made on first use (secret 0600)\n"
        "  ${XDG_CONFIG_HOME:-~/.config}/zpost/known_servers\n"
        "                        \"host:port KEY\" per server you trusted (0600;\n"
        "                        a list's brokers: one line each, one key);\n"
        "                        zpost forget-key HOST forgets a server's key\n"
        "  ${XDG_CONFIG_HOME:-~/.config}/zpost/config\n"
        "                        settings in ZPL: server, user, editor, pager,\n"
        "                        and names for servers (servers / NAME = ADDR);\n"
        "                        options and environment variables win over it\n"
        "  ${XDG_STATE_HOME:-~/.local/state}/zpost/HOST_PORT.session\n"
        "                        the session zpost login keeps per server (0600)\n"
        "  ${XDG_STATE_HOME:-~/.local/state}/zpost/drafts/N.txt, N.head\n"
        "                        messages written but not sent yet (0600)\n"
        "\n"
        "Environment:\n"
        "  ZPOST_SERVER, ZPOST_SERVER_KEY   defaults for --server, --server-key\n"
        "  ZPOST_PASSWORD, ZPOST_NEW_PASSWORD\n"
        "                        passwords for register, login, passwd and\n"
        "                        unregister, when not asked for on the terminal\n"
        "  VISUAL, EDITOR        the editor for zpost send, reply and drafts edit\n"
        "                        (default vi)\n"
        "  PAGER                 the pager for a message taller than the\n"
        "                        terminal (default less; empty for none)\n"
        "  COLUMNS, LINES        the terminal's size, when it cannot be asked\n"
        "\n"
        "Text that other users wrote is printed with control characters and\n"
        "bidi controls shown as escapes (\\x1b, \\u009b, \\u202e), and a\n"
        "backslash as \\\\, never sent to the terminal as they are; the same in\n"
        "--json (as JSON's \\u escapes), -v and the guided session.\n"
        "\n"
        "Exit status:\n"
        "  0  done\n"
        "  1  the server refused the request (4xx), or not logged in\n"
        "  2  usage error\n"
        "  3  no answer, a malformed answer, or the server could not do it\n"
        "     (503 store unavailable, 5xx)\n"
        "  4  local error (keys, files), a server key not trusted, or a\n"
        "     server whose key changed\n"
        "130  interrupted (Ctrl-C)\n"
        "\n"
        "More: man zpost\n");
}

//  A word that can only be a server: the commands have neither dots nor
//  colons, host names and addresses nearly always do; and the names the
//  config file gives servers
static bool
s_looks_like_address (const char *word, client_settings_t *settings)
{
    return strchr (word, '.') || strchr (word, ':') || streq (word, "localhost")
        || (settings && client_settings_alias (settings, word));
}

//  Read the config file into config. 0, or -1 after saying why not.
static int
s_load_settings (client_config_t *config)
{
    client_settings_t *settings = client_settings_new ();
    const char *dir = client_config_dir (config);
    char *path = dir? zsys_sprintf ("%s/" CLIENT_SETTINGS_FILE, dir): NULL;
    int rc = client_settings_load (settings, path);
    free (path);
    if (rc) {
        char *safe = client_output_safe_str (client_settings_error (settings),
                                             CLIENT_OUTPUT_LINE);
        fprintf (stderr, "zpost: %s\n", safe);
        free (safe);
        client_settings_destroy (&settings);
        return -1;
    }
    //  The environment wins over the file: each reader asks it first
    client_input_set_editor (client_settings_get (settings, "editor"));
    client_show_set_pager (client_settings_get (settings, "pager"));
    client_config_set_settings (config, &settings);
    return 0;
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
    //  Whether the terminal takes UTF-8, or gets escapes past ASCII
    client_output_use_locale ();

    client_app_t app = {
        .timeout = CLIENT_SESSION_TIMEOUT,
        .retries = CLIENT_SESSION_RETRIES
    };
    enum { OPT_TIMEOUT = 256, OPT_RETRIES, OPT_ANNOUNCE, OPT_ANNOUNCE_PORT,
           OPT_ACCEPT_NEW_KEY, OPT_JSON };
    static struct option options [] = {
        { "server",     required_argument, NULL, 's' },
        { "destination", required_argument, NULL, 'd' },
        { "announce",   required_argument, NULL, OPT_ANNOUNCE },
        { "announce-port", required_argument, NULL, OPT_ANNOUNCE_PORT },
        { "accept-new-key", no_argument,   NULL, OPT_ACCEPT_NEW_KEY },
        { "server-key", required_argument, NULL, 'k' },
        { "timeout",    required_argument, NULL, OPT_TIMEOUT },
        { "retries",    required_argument, NULL, OPT_RETRIES },
        { "json",       no_argument,       NULL, OPT_JSON },
        { "verbose",    no_argument,       NULL, 'v' },
        { "help",       no_argument,       NULL, 'h' },
        { "version",    no_argument,       NULL, 'V' },
        { NULL, 0, NULL, 0 }
    };
    //  "+": stop at the command, whose options are its own
    opterr = 0;
    int code;
    while ((code = getopt_long (argc, argv, "+:s:d:k:vhV", options, NULL)) != -1) {
        switch (code) {
            case 's':
            case 'd':
                app.server = optarg;
                break;
            case OPT_ANNOUNCE:
                if (strncmp (optarg, "tcp://", 6) != 0 || strlen (optarg) > 300)
                    return s_misuse ("--announce wants a tcp://host:port endpoint;"
                                     " not", optarg);
                app.announce = optarg;
                break;
            case OPT_ANNOUNCE_PORT:
                if (client_check_int (optarg, 1, 65535, &app.announce_port))
                    return s_misuse ("--announce-port wants a port, from 1 to 65535;"
                                     " not", optarg);
                break;
            case OPT_ACCEPT_NEW_KEY:
                app.accept_new_key = true;
                break;
            case 'k':
                app.server_key = optarg;
                break;
            case OPT_TIMEOUT:
                if (client_check_int (optarg, 1, TIMEOUT_MAX, &app.timeout))
                    return s_misuse ("--timeout wants milliseconds, from 1 to 3600000;"
                                     " not", optarg);
                break;
            case OPT_RETRIES:
                if (client_check_int (optarg, 1, RETRIES_MAX, &app.retries))
                    return s_misuse ("--retries wants a number of tries, from 1 to 100;"
                                     " not", optarg);
                break;
            case OPT_JSON:
                app.json = true;
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
    //  The config file, before the words: it may name the server
    if (app.verbose)
        zsys_set_logstream (stderr);
    zsys_init ();
    app.config = client_config_new (NULL, NULL);
    assert (app.config);
    if (s_load_settings (app.config)) {
        client_api_finish (&app);
        return CLIENT_EXIT_USAGE;
    }
    client_settings_t *settings = client_config_settings (app.config);
    int status = CLIENT_EXIT_DONE;
    const client_command_t *command = NULL;
    if (optind < argc) {
        const char *name = argv [optind];
        command = client_commands_find (name);
        if (!command && !app.server && s_looks_like_address (name, settings)) {
            app.server = name;
            if (optind + 1 < argc)
                status = s_misuse ("after the server comes no more; for one command, "
                                   "write zpost --server ADDR COMMAND, not",
                                   argv [optind + 1]);
        }
        else
        if (!command) {
            char *printable = zsys_sprintf ("'%.64s'%s", name,
                app.server? "": " (for a guided session with a server of that "
                "name, write zpost --server NAME)");
            status = s_misuse ("unknown command", printable);
            zstr_free (&printable);
        }
    }
    else
    if (!app.server && !(getenv ("ZPOST_SERVER") && *getenv ("ZPOST_SERVER"))
    &&  !client_settings_get (settings, "server"))
        status = s_misuse ("no command given (and no server for a guided session: "
                           "give one, set ZPOST_SERVER, or server in the config "
                           "file)", NULL);
    if (!status && !command && app.json)
        status = s_misuse ("--json goes with a command; the guided session has none",
                           NULL);
    if (status) {
        client_api_finish (&app);
        return status;
    }

    if (!command)
        status = client_shell_run (&app);
    else
        //  The command sees its name as argv [0]
        status = client_commands_run (&app, command, argc - optind, argv + optind);
    client_api_finish (&app);
    return status;
}
