/*  =========================================================================
    zpost-broker - main: arguments, keys, the two actors, and a signal

    Like malamute's main, this is little more than starting actors and
    waiting. The order matters: the ZAP handler is started and its policy
    confirmed before the server binds anything, because libzmq lets every
    CURVE client in while no handler answers.

    Stdout carries only the lines tests and operators read, each flushed;
    logs go to stderr:

        zpost-broker VERSION public key <Z85>
        zpost-broker fingerprint <SHA-256 of the key, 8 groups of 8 hex>
        zpost-broker front <endpoint as bound>
        zpost-broker back <endpoint as bound>
        zpost-broker announce <endpoint as bound>   (unless there is none)
        zpost-broker ready

    The key announcement (broker_announce) is started after the server, so
    it never tells a key for a broker that could not bind.
    =========================================================================
*/

#include <czmq.h>
#include <getopt.h>
#include <limits.h>
#include "zpost_keys.h"
#include "broker_server.h"
#include "broker_zap.h"
#include "broker_announce.h"
#include "zpost_announce.h"

#ifndef ZPOST_VERSION
#   error "ZPOST_VERSION must be defined by the build"
#endif

#define EXIT_USAGE      2

static void
s_usage (FILE *stream)
{
    fprintf (stream,
        "usage: zpost-broker [options]\n"
        "\n"
        "  -f, --front EP       client endpoint (default tcp://*:5321)\n"
        "  -b, --back EP        store endpoint, tcp:// or ipc://\n"
        "                       (default ipc://zpost-back.ipc)\n"
        "  -k, --keys DIR       broker key pair DIR/broker.key, created on\n"
        "                       first start (default ./zpost-keys)\n"
        "      --clients DIR    accept only clients whose certificate is in DIR\n"
        "                       (default: any client key)\n"
        "      --stores DIR     certificates of stores allowed on a tcp:// back\n"
        "                       (default KEYS/stores)\n"
        "      --timeout MS     deadline of a forwarded request (default 5000)\n"
        "      --heartbeat MS   heartbeat interval (default 1000)\n"
        "      --announce EP    tell anyone who asks the broker's public key, in\n"
        "                       the clear, on EP (default: the front's host and\n"
        "                       port + 1, e.g. tcp://*:5322; ephemeral when the\n"
        "                       front is); 'none' turns it off\n"
        "  -v, --verbose        log every message\n"
        "  -h, --help           show this help and exit\n"
        "  -V, --version        show the version and exit\n");
}

static int
s_usage_error (const char *format, ...) __attribute__ ((format (printf, 1, 2)));

static int
s_usage_error (const char *format, ...)
{
    va_list args;
    va_start (args, format);
    fprintf (stderr, "zpost-broker: ");
    vfprintf (stderr, format, args);
    fprintf (stderr, "\n");
    va_end (args);
    s_usage (stderr);
    return EXIT_USAGE;
}

//  Parse a number of milliseconds in [low, high]; -1 if it is not one
static int
s_parse_msec (const char *text, int low, int high)
{
    char *end = NULL;
    errno = 0;
    long value = strtol (text, &end, 10);
    if (errno || end == text || *end || value < low || value > high)
        return -1;
    return (int) value;
}

enum {
    OPT_CLIENTS = 256,
    OPT_STORES,
    OPT_TIMEOUT,
    OPT_HEARTBEAT,
    OPT_ANNOUNCE
};

int
main (int argc, char *argv [])
{
    const char *front = "tcp://*:5321";
    const char *back = "ipc://zpost-back.ipc";
    const char *keys = "./zpost-keys";
    const char *clients = NULL;
    const char *stores = NULL;
    const char *announce_option = NULL;
    int timeout = 5000;
    int heartbeat = 1000;
    bool verbose = false;

    static const struct option options [] = {
        { "front",     required_argument, NULL, 'f' },
        { "back",      required_argument, NULL, 'b' },
        { "keys",      required_argument, NULL, 'k' },
        { "clients",   required_argument, NULL, OPT_CLIENTS },
        { "stores",    required_argument, NULL, OPT_STORES },
        { "timeout",   required_argument, NULL, OPT_TIMEOUT },
        { "heartbeat", required_argument, NULL, OPT_HEARTBEAT },
        { "announce",  required_argument, NULL, OPT_ANNOUNCE },
        { "verbose",   no_argument,       NULL, 'v' },
        { "help",      no_argument,       NULL, 'h' },
        { "version",   no_argument,       NULL, 'V' },
        { NULL, 0, NULL, 0 }
    };
    int option;
    while ((option = getopt_long (argc, argv, "f:b:k:vhV", options, NULL)) != -1) {
        switch (option) {
            case 'f': front = optarg; break;
            case 'b': back = optarg; break;
            case 'k': keys = optarg; break;
            case OPT_CLIENTS: clients = optarg; break;
            case OPT_STORES: stores = optarg; break;
            case OPT_ANNOUNCE: announce_option = optarg; break;
            case OPT_TIMEOUT:
                timeout = s_parse_msec (optarg, 1, 3600 * 1000);
                if (timeout == -1)
                    return s_usage_error ("--timeout %s: not a number of "
                                          "milliseconds (1..3600000)", optarg);
                break;
            case OPT_HEARTBEAT:
                heartbeat = s_parse_msec (optarg, 10, 600 * 1000);
                if (heartbeat == -1)
                    return s_usage_error ("--heartbeat %s: not a number of "
                                          "milliseconds (10..600000)", optarg);
                break;
            case 'v': verbose = true; break;
            case 'h':
                s_usage (stdout);
                return 0;
            case 'V':
                printf ("zpost-broker %s\n", ZPOST_VERSION);
                return 0;
            default:
                //  getopt_long has said what was wrong
                s_usage (stderr);
                return EXIT_USAGE;
        }
    }
    if (optind < argc)
        return s_usage_error ("unexpected argument '%s'", argv [optind]);
    if (!*front || !*back || !*keys)
        return s_usage_error ("an endpoint or directory is empty");
    //  An abstract socket has no file, so no mode to keep other users out,
    //  and an ipc back end has no CURVE: anyone on the host could pose as
    //  a store and be sent every password
    if (strncmp (back, "ipc://@", 7) == 0)
        return s_usage_error ("--back %s: an abstract ipc:// socket cannot be "
                              "kept private (no file, no mode, no CURVE); give "
                              "a socket file path (ipc://PATH) or tcp://", back);
    if (announce_option && !streq (announce_option, "none")
    &&  strncmp (announce_option, "tcp://", 6) != 0)
        return s_usage_error ("--announce %s: give a tcp:// endpoint, or none",
                              announce_option);

    //  Stdout is for the lines a test reads; everything else goes to stderr
    zsys_set_logstream (stderr);

    int exit_code = 1;
    char *key_path = zsys_sprintf ("%s/broker.key", keys);
    char *stores_dir = stores? strdup (stores): zsys_sprintf ("%s/stores", keys);
    assert (key_path && stores_dir);
    zactor_t *zap = NULL;
    zactor_t *server = NULL;
    zactor_t *announce = NULL;
    char *front_bound = NULL;
    char *back_bound = NULL;
    char *announce_bound = NULL;
    char *announce_default = NULL;

    zcert_t *cert = zpost_keys_load_or_create (key_path);
    if (!cert) {
        zsys_error ("zpost-broker: no usable key pair at %s", key_path);
        goto cleanup;
    }
    printf ("zpost-broker %s public key %s\n", ZPOST_VERSION,
            zcert_public_txt (cert));
    char fingerprint [ZPOST_ANNOUNCE_FINGERPRINT_SIZE];
    if (zpost_announce_fingerprint (zcert_public_txt (cert), fingerprint) == 0)
        printf ("zpost-broker fingerprint %s\n", fingerprint);
    fflush (stdout);

    zap = zactor_new (broker_zap, NULL);
    assert (zap);
    if (verbose)
        broker_zap_set_verbose (zap);
    if (broker_zap_configure (zap, clients, stores_dir) != 0
    ||  broker_zap_confirm (zap) != 0) {
        zsys_error ("zpost-broker: the ZAP handler is not ready; not binding");
        goto cleanup;
    }

    broker_server_config_t config = {
        .front = front,
        .back = back,
        .cert = cert,
        .timeout = timeout,
        .heartbeat = heartbeat,
        .verbose = verbose
    };
    server = zactor_new (broker_server, &config);
    assert (server);
    if (broker_server_start (server, &front_bound, &back_bound) != 0)
        goto cleanup;

    printf ("zpost-broker front %s\n", front_bound);
    printf ("zpost-broker back %s\n", back_bound);

    //  The announcement is a convenience: one the operator asked for must
    //  work, but the default one may give way to whatever holds its port
    if (!announce_option)
        announce_default = broker_announce_default (front);
    const char *announce_endpoint = announce_option? announce_option: announce_default;
    if (announce_endpoint && !streq (announce_endpoint, "none")) {
        broker_announce_config_t announce_config = {
            .endpoint = announce_endpoint,
            .public_key = zcert_public_txt (cert),
            .verbose = verbose
        };
        announce = zactor_new (broker_announce, &announce_config);
        assert (announce);
        if (broker_announce_start (announce, &announce_bound) == 0)
            printf ("zpost-broker announce %s\n", announce_bound);
        else {
            zactor_destroy (&announce);
            if (announce_option)
                goto cleanup;
            zsys_warning ("zpost-broker: no key announcement (give --announce EP "
                          "to put it elsewhere, or --announce none)");
        }
    }
    else
    if (!announce_option)
        zsys_info ("zpost-broker: no key announcement for front %s; give "
                   "--announce EP to have one", front);
    printf ("zpost-broker ready\n");
    fflush (stdout);
    zsys_info ("zpost-broker %s: clients connect to %s with --server-key %s; "
               "stores connect to %s", ZPOST_VERSION, front_bound, key_path,
               back_bound);

    //  The actors block SIGINT and SIGTERM, so a signal lands here and
    //  wakes the poller; the timeout only covers a signal that arrives
    //  just before the poll starts.
    zpoller_t *poller = zpoller_new (server, NULL);
    assert (poller);
    while (!zsys_interrupted) {
        void *which = zpoller_wait (poller, 1000);
        if (which == server) {
            //  The server says nothing unasked; drop whatever it is
            zmsg_t *msg = zmsg_recv (server);
            zmsg_destroy (&msg);
        }
        else
        if (zpoller_terminated (poller))
            break;
    }
    zpoller_destroy (&poller);
    zsys_info ("zpost-broker: stopping");
    exit_code = 0;

cleanup:
    //  The server goes first: its sockets need the ZAP handler until closed
    zactor_destroy (&announce);
    zactor_destroy (&server);
    zactor_destroy (&zap);
    zstr_free (&front_bound);
    zstr_free (&back_bound);
    zstr_free (&announce_bound);
    zstr_free (&announce_default);
    zcert_destroy (&cert);
    zstr_free (&key_path);
    zstr_free (&stores_dir);
    return exit_code;
}
