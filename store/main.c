/*  =========================================================================
    zpost-store - the storage worker of zpost

    Reads the command line, opens the LMDB environment (store_db), loads
    or makes its CURVE key pair when a broker is reached over tcp://,
    starts the store_server actor, and then does nothing but wait for
    SIGINT or SIGTERM, to stop the actor and close the environment.

    A store may serve several brokers (--broker given more than once, or
    a comma-separated list): one link to each, one engine for them all.

    Standard output is for scripts and tests, one line at a time:

        zpost-store public key <Z85>        (tcp:// only: for the broker's
                                             stores directory)
        zpost-store ready                   (the first READY is sent to
                                             every broker)

    Logs go to standard error. Exit codes: 0 stopped by a signal, 1 could
    not run (store, keys, connection), 2 usage.

    --export FILE, --import FILE and --digest move or compare a
    database's data instead of serving (store_dump): they open the
    database, do that one thing, print one line per database read, and
    exit 0 if it was done, 1 if not; no broker is reached.
    =========================================================================
*/

#include "store_db.h"
#include "store_dump.h"
#include "store_server.h"
#include "zpost_keys.h"
#include "zpost_link.h"

#include <errno.h>
#include <getopt.h>
#include <sodium.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>

#define S_PROGRAM           "zpost-store"
#define S_DEFAULT_BROKER    "ipc://zpost-back.ipc"
#define S_DEFAULT_DATA      "zpost-data"
#define S_DEFAULT_MAP_MIB   1024
#define S_HEARTBEAT_MIN     10
#define S_HEARTBEAT_MAX     3600000

//  Long options without a short form
enum {
    S_OPT_BROKER_KEY = 256,
    S_OPT_MAP_SIZE,
    S_OPT_NAME,
    S_OPT_HEARTBEAT,
    S_OPT_MAP_MAX,
    S_OPT_BODY_LIMIT,
    S_OPT_QUOTA,
    S_OPT_SESSION_IDLE,
    S_OPT_SESSION_MAX,
    S_OPT_HASHERS,
    S_OPT_PWHASH_OPS,
    S_OPT_PWHASH_MEM,
    S_OPT_NO_GROUP_COMMIT,
    S_OPT_REPLY_KEEP,
    S_OPT_SWEEP_INTERVAL,
    S_OPT_THROTTLE_DELAY,
    S_OPT_DB,
    S_OPT_EXPORT,
    S_OPT_IMPORT,
    S_OPT_DIGEST,
    S_OPT_WATCH_MAX
};

static const struct option s_options [] = {
    { "broker",     required_argument, NULL, 'b' },
    { "data",       required_argument, NULL, 'd' },
    { "db",         required_argument, NULL, S_OPT_DB },
    { "broker-key", required_argument, NULL, S_OPT_BROKER_KEY },
    { "map-size",   required_argument, NULL, S_OPT_MAP_SIZE },
    { "name",       required_argument, NULL, S_OPT_NAME },
    { "heartbeat",  required_argument, NULL, S_OPT_HEARTBEAT },
    { "map-max",    required_argument, NULL, S_OPT_MAP_MAX },
    { "body-limit", required_argument, NULL, S_OPT_BODY_LIMIT },
    { "quota",      required_argument, NULL, S_OPT_QUOTA },
    { "session-idle", required_argument, NULL, S_OPT_SESSION_IDLE },
    { "session-max", required_argument, NULL, S_OPT_SESSION_MAX },
    { "hashers",    required_argument, NULL, S_OPT_HASHERS },
    { "pwhash-ops", required_argument, NULL, S_OPT_PWHASH_OPS },
    { "pwhash-mem", required_argument, NULL, S_OPT_PWHASH_MEM },
    { "no-group-commit", no_argument,  NULL, S_OPT_NO_GROUP_COMMIT },
    { "reply-keep", required_argument, NULL, S_OPT_REPLY_KEEP },
    { "sweep-interval", required_argument, NULL, S_OPT_SWEEP_INTERVAL },
    { "throttle-delay", required_argument, NULL, S_OPT_THROTTLE_DELAY },
    { "export",     required_argument, NULL, S_OPT_EXPORT },
    { "import",     required_argument, NULL, S_OPT_IMPORT },
    { "digest",     no_argument,       NULL, S_OPT_DIGEST },
    { "watch-max",  required_argument, NULL, S_OPT_WATCH_MAX },
    { "verbose",    no_argument,       NULL, 'v' },
    { "help",       no_argument,       NULL, 'h' },
    { "version",    no_argument,       NULL, 'V' },
    { NULL, 0, NULL, 0 }
};

static void
s_usage (FILE *stream)
{
    fprintf (stream,
        "usage: " S_PROGRAM " [-b|--broker EP[,EP...]]... [-d|--data DIR]\n"
        "                   [--db DIR|postgresql://...|CONNINFO]\n"
        "                   [--broker-key KEY|FILE]...\n"
        "                   [--map-size MIB] [--map-max MIB] [--name NAME]\n"
        "                   [--heartbeat MS] [--body-limit BYTES] [--quota BYTES]\n"
        "                   [--session-idle S] [--session-max S] [--hashers N]\n"
        "                   [--pwhash-ops N] [--pwhash-mem BYTES] [--no-group-commit]\n"
        "                   [--reply-keep S] [--sweep-interval MS] [--throttle-delay MS]\n"
        "                   [--watch-max N] [-v] [-h|--help] [-V|--version]\n"
        "       " S_PROGRAM " [-d DIR] [--db ...] --export FILE | --import FILE | --digest\n"
        "\n"
        "The zpost storage worker: keeps users and messages in LMDB (the default)\n"
        "or PostgreSQL and serves the requests zpost-broker forwards to it.\n"
        "\n"
        "  -b, --broker EP       a broker's back end (default " S_DEFAULT_BROKER ");\n"
        "                        give it again, or a comma-separated list, to serve\n"
        "                        several brokers (at most %d, each once)\n"
        "  -d, --data DIR        data directory, made 0700 if missing (default ./"
                                 S_DEFAULT_DATA "):\n"
        "                        the store's key pair, and the LMDB files unless\n"
        "                        --db names another place\n"
        "      --db DIR          keep the data in LMDB in DIR (default: --data)\n"
        "      --db postgresql://USER@HOST/DBNAME?... , --db 'host=... dbname=...'\n"
        "                        keep the data in PostgreSQL instead: a libpq URI\n"
        "                        or conninfo string (one with '='); several hosts\n"
        "                        and target_session_attrs=read-write find the\n"
        "                        primary after a failover. The schema is created\n"
        "                        at first start. --map-size and --map-max are\n"
        "                        then not used\n"
        "      --broker-key KEY  the broker's public key: 40 Z85 characters, or a\n"
        "                        file holding it; required when an EP is tcp://.\n"
        "                        Given once, it is every tcp:// broker's (the\n"
        "                        brokers of one deployment share a key pair);\n"
        "                        given once per tcp:// broker, the Nth key is\n"
        "                        the Nth tcp:// broker's\n"
        "      --map-size MIB    LMDB map size in MiB (default %d)\n"
        "      --map-max MIB     grow the map up to this when full (default: the\n"
        "                        map size, no growth); past it, STORAGE_FULL\n"
        "      --body-limit BYTES  largest message body accepted (default %d)\n"
        "      --quota BYTES     most body bytes one inbox may hold (default %llu)\n"
        "      --session-idle S  a session unused this many seconds ends (default %d)\n"
        "      --session-max S   a session ends this many seconds after login\n"
        "                        (default %d)\n"
        "      --hashers N       threads for Argon2id (default: one per core)\n"
        "      --pwhash-ops N    Argon2id passes (default and least %llu)\n"
        "      --pwhash-mem BYTES  Argon2id memory (default and least %zu)\n"
        "      --no-group-commit commit each request on its own (for comparison)\n"
        "      --reply-keep S    keep each recorded reply (what a retry with the same\n"
        "                        request id is answered) this many seconds (default %d)\n"
        "      --sweep-interval MS  sweep expired replies and sessions this often\n"
        "                        when idle (default %d); every commit also\n"
        "                        sweeps twice as many records as it writes\n"
        "      --throttle-delay MS  the login throttle's first delay, after the\n"
        "                        5th failure (default 1000); each later one\n"
        "                        doubles, up to 15 min (for tests)\n"
        "      --watch-max N     WATCH requests (waiting for new mail) this store\n"
        "                        holds at once (default 10000); one more is 503\n"
        "      --name NAME       name the broker logs, 1-%d visible ASCII\n"
        "                        characters (default hostname:pid)\n"
        "      --heartbeat MS    heartbeat interval (default %d); a broker is\n"
        "                        taken as gone after %d silent intervals, and\n"
        "                        that link alone starts again\n"
        "      --export FILE     write every record of the database (users,\n"
        "                        sessions, known keys, messages, folders, recorded\n"
        "                        replies, counters), read in one snapshot, to FILE,\n"
        "                        which must not exist; print the counts and digest.\n"
        "                        Safe while stores serve the database\n"
        "      --import FILE     write a dump into the database, which must hold no\n"
        "                        user and no message, in one transaction, keeping\n"
        "                        every id; read it back and exit 0 only if it holds\n"
        "                        what the dump holds (both lines are printed)\n"
        "      --digest          print the counts and digest of the database, to\n"
        "                        compare two databases; writes nothing\n"
        "  -v, --verbose         log every message on the link\n"
        "  -h, --help            print this help and exit\n"
        "  -V, --version         print the version and exit\n"
        "\n"
        "With a tcp:// back end the store is a CURVE client: its key pair is\n"
        "DIR/store.key and DIR/store.key_secret, made on first start, and its\n"
        "public key is printed so it can be added to each broker's stores\n"
        "directory.\n",
        STORE_BROKERS_MAX, S_DEFAULT_MAP_MIB, STORE_BODY_LIMIT, (unsigned long long) STORE_QUOTA,
        STORE_SESSION_IDLE, STORE_SESSION_MAX,
        (unsigned long long) crypto_pwhash_OPSLIMIT_INTERACTIVE,
        (size_t) crypto_pwhash_MEMLIMIT_INTERACTIVE,
        STORE_REPLY_KEEP, STORE_SWEEP_INTERVAL,
        ZPOST_LINK_NAME_MAX, STORE_SERVER_HEARTBEAT,
        STORE_SERVER_LIVENESS);
}

//  A usage error: say what, show the usage, exit 2.
static int
s_usage_error (const char *format, ...) CHECK_PRINTF (1);

static int
s_usage_error (const char *format, ...)
{
    va_list args;
    va_start (args, format);
    fprintf (stderr, S_PROGRAM ": ");
    vfprintf (stderr, format, args);
    fprintf (stderr, "\n");
    va_end (args);
    s_usage (stderr);
    return 2;
}

//  Parse a whole decimal number in min..max. 0 or -1.
static int
s_parse_number (const char *text, unsigned long long min,
                unsigned long long max, unsigned long long *value_p)
{
    if (*text < '0' || *text > '9')
        return -1;              //  strtoull would take "-1" or " 1"
    char *end;
    errno = 0;
    unsigned long long value = strtoull (text, &end, 10);
    if (errno || *end || value < min || value > max)
        return -1;
    *value_p = value;
    return 0;
}

//  A store name the link accepts: 1..ZPOST_LINK_NAME_MAX visible ASCII.
static bool
s_valid_name (const char *name)
{
    size_t size = strlen (name);
    if (size == 0 || size > ZPOST_LINK_NAME_MAX)
        return false;
    for (size_t index = 0; index < size; index++)
        if (name [index] < 0x21 || name [index] > 0x7E)
            return false;
    return true;
}

//  "hostname:pid", the host part cut so the whole fits the link's limit;
//  anything a hostname should not hold becomes '_'. Writes into name.
static void
s_default_name (char *name, size_t size)
{
    char host [HOST_NAME_MAX + 1] = "";
    if (gethostname (host, sizeof (host)) != 0 || host [0] == 0)
        strcpy (host, "store");
    host [HOST_NAME_MAX] = 0;
    char pid [24];
    snprintf (pid, sizeof (pid), ":%ld", (long) getpid ());
    size_t room = ZPOST_LINK_NAME_MAX - strlen (pid);
    if (strlen (host) > room)
        host [room] = 0;
    for (char *c = host; *c; c++)
        if (*c < 0x21 || *c > 0x7E)
            *c = '_';
    snprintf (name, size, "%s%s", host, pid);
}

//  The brokers given on the command line, in order. Static, so that what
//  they hold is still reachable on the early exits of a usage error.
static struct {
    char *endpoints [STORE_BROKERS_MAX];
    size_t count;
    const char *key_args [STORE_BROKERS_MAX];
    size_t key_count;
} s_brokers;

//  Add each endpoint of a comma-separated list: none empty, none given
//  before, at most STORE_BROKERS_MAX in all. 0, or 2 after a usage error.
static int
s_add_brokers (const char *list)
{
    const char *start = list;
    while (true) {
        const char *comma = strchr (start, ',');
        size_t size = comma? (size_t) (comma - start): strlen (start);
        if (size == 0)
            return s_usage_error ("--broker '%s': an empty endpoint in the list", list);
        char *endpoint = (char *) malloc (size + 1);
        assert (endpoint);
        memcpy (endpoint, start, size);
        endpoint [size] = 0;
        for (size_t index = 0; index < s_brokers.count; index++)
            if (streq (s_brokers.endpoints [index], endpoint)) {
                int rc = s_usage_error ("--broker %s is given twice: a store links "
                                        "to each broker once", endpoint);
                free (endpoint);
                return rc;
            }
        if (s_brokers.count == STORE_BROKERS_MAX) {
            free (endpoint);
            return s_usage_error ("--broker: more than %d brokers", STORE_BROKERS_MAX);
        }
        s_brokers.endpoints [s_brokers.count++] = endpoint;
        if (!comma)
            return 0;
        start = comma + 1;
    }
}

//  Check one broker endpoint before any link starts. 0, or 2 after a
//  usage error.
static int
s_check_broker (const char *broker)
{
    bool curve = strncmp (broker, "tcp://", 6) == 0;
    if (!curve && strncmp (broker, "ipc://", 6) != 0)
        return s_usage_error ("--broker: '%s' is neither tcp://HOST:PORT nor "
                              "ipc://PATH", broker);
    //  Anyone on the host can listen on an abstract socket and play the
    //  broker: it has no file mode to check and no CURVE key to prove
    if (strncmp (broker, "ipc://@", 7) == 0)
        return s_usage_error ("--broker %s: an abstract ipc:// socket cannot "
                              "be kept private (no file, no mode, no CURVE); "
                              "give a socket file path (ipc://PATH) or tcp://",
                              broker);
    //  A socket file's mode keeps others from connecting to the broker,
    //  not from playing it: in a directory others can write, one could
    //  put a socket of their own at the path, and we would send READY to
    //  it and serve whatever it asks
    if (!curve) {
        char error [1024];
        if (zpost_keys_check_ipc (broker + 6, true, error, sizeof (error))) {
            fprintf (stderr, S_PROGRAM ": refusing --broker %s: %s\n",
                     broker, error);
            return 2;
        }
    }
    return 0;
}

static void
s_brokers_free (void)
{
    for (size_t index = 0; index < s_brokers.count; index++)
        free (s_brokers.endpoints [index]);
    s_brokers.count = 0;
}

//  An LMDB store that a failed import made in a new directory: removed
//  with the directory, so that the next try starts as this one did
static void
s_remove_new_store (const char *dir)
{
    const char *files [] = { "data.mdb", "lock.mdb" };
    for (size_t index = 0; index < sizeof files / sizeof files [0]; index++) {
        char *path = zsys_sprintf ("%s/%s", dir, files [index]);
        assert (path);
        if (unlink (path) && errno != ENOENT)
            fprintf (stderr, S_PROGRAM ": cannot remove %s: %s\n", path, strerror (errno));
        zstr_free (&path);
    }
    if (rmdir (dir))
        fprintf (stderr, S_PROGRAM ": cannot remove the directory %s: %s\n",
                 dir, strerror (errno));
}

//  --export, --import, --digest: one task on the database, no broker.
//  Returns the exit code.
static int
s_move_data (bool postgres, const char *spec, size_t map_size, size_t map_max,
             const char *export_path, const char *import_path)
{
    zsys_init ();
    zsys_set_logstream (stderr);
    zsys_set_logident (S_PROGRAM);
    //  Reading a directory that holds no store would make an empty one
    //  and dump it: refused, a mistyped path is the likelier cause
    struct stat info;
    if (!postgres && !import_path) {
        char *file = zsys_sprintf ("%s/data.mdb", spec);
        bool found = stat (file, &info) == 0;
        zstr_free (&file);
        if (!found) {
            fprintf (stderr, S_PROGRAM ": %s holds no LMDB store (no data.mdb)\n", spec);
            return 1;
        }
    }
    if (import_path && stat (import_path, &info)) {
        fprintf (stderr, S_PROGRAM ": cannot read the dump %s: %s\n", import_path,
                 strerror (errno));
        return 1;
    }
    //  An import into an LMDB directory that is not there makes it; if
    //  the import fails, nothing of it is left behind
    bool made_here = !postgres && import_path && stat (spec, &info) != 0;
    store_db_t *db = postgres? store_db_new_postgres (spec, import_path == NULL)
                             : store_db_new (spec, map_size);
    if (!db) {
        fprintf (stderr, S_PROGRAM ": cannot open the store in %s (the log above "
                 "says why)\n", postgres? "PostgreSQL": spec);
        if (made_here)
            s_remove_new_store (spec);
        return 1;
    }
    store_dump_summary_t summary, found;
    int rc = 1;
    if (import_path) {
        //  The map grows as the import needs, up to --map-max, or by
        //  default to room for the dump several times over
        size_t room = (size_t) info.st_size * 8 + ((size_t) 256 << 20);
        if (!map_max)
            map_max = map_size > room? map_size: room;
        int imported = store_dump_import (db, import_path, map_max, &summary, &found);
        if (imported == 0 || found.users || found.messages || found.counters) {
            store_dump_print (stdout, S_PROGRAM " dump", &summary);
            store_dump_print (stdout, S_PROGRAM " import", &found);
        }
        if (imported == 0) {
            printf (S_PROGRAM " import verified\n");
            rc = 0;
        }
        else
            fprintf (stderr, S_PROGRAM ": the import of %s failed (the log above "
                     "says why)\n", import_path);
    }
    else
    if (store_dump_export (db, export_path, &summary) == 0) {
        store_dump_print (stdout, export_path? S_PROGRAM " export": S_PROGRAM " digest",
                          &summary);
        rc = 0;
    }
    else
        fprintf (stderr, S_PROGRAM ": the %s failed (the log above says why)\n",
                 export_path? "export": "digest");
    fflush (stdout);
    store_db_destroy (&db);
    if (rc && made_here)
        s_remove_new_store (spec);
    return rc;
}

int
main (int argc, char *argv [])
{
    //  SIGINT and SIGTERM are blocked before any thread starts, so every
    //  thread inherits the block, and taken only by sigwait at the end:
    //  no signal can land in the actor mid-reply or slip in between a
    //  check and a wait. One that comes early waits for sigwait.
    sigset_t signals;
    sigemptyset (&signals);
    sigaddset (&signals, SIGINT);
    sigaddset (&signals, SIGTERM);
    pthread_sigmask (SIG_BLOCK, &signals, NULL);

    const char *data = S_DEFAULT_DATA;
    const char *db_spec = NULL;
    unsigned long long map_mib = S_DEFAULT_MAP_MIB;
    unsigned long long heartbeat = STORE_SERVER_HEARTBEAT;
    char name [ZPOST_LINK_NAME_MAX + 1];
    s_default_name (name, sizeof (name));
    bool verbose = false;
    unsigned long long map_max_mib = 0, body_limit = 0, quota = 0;
    unsigned long long session_idle = 0, session_max = 0, hashers = 0;
    unsigned long long reply_keep = 0, sweep_interval = 0, throttle_delay = 0;
    unsigned long long watch_max = 0;
    unsigned long long pwhash_ops = 0, pwhash_mem = 0;
    bool no_group_commit = false;
    const char *export_path = NULL, *import_path = NULL;
    bool digest_only = false;

    int option;
    while ((option = getopt_long (argc, argv, "b:d:vhV", s_options, NULL)) != -1) {
        switch (option) {
            case 'b': {
                int rc = s_add_brokers (optarg);
                if (rc)
                    return rc;
                break;
            }
            case 'd':
                data = optarg;
                break;
            case S_OPT_DB:
                db_spec = optarg;
                break;
            case S_OPT_BROKER_KEY:
                if (s_brokers.key_count == STORE_BROKERS_MAX)
                    return s_usage_error ("--broker-key: more than %d keys",
                                          STORE_BROKERS_MAX);
                s_brokers.key_args [s_brokers.key_count++] = optarg;
                break;
            case S_OPT_MAP_SIZE:
                if (s_parse_number (optarg, 1, SIZE_MAX >> 20, &map_mib))
                    return s_usage_error ("--map-size: '%s' is not a positive "
                                          "number of MiB", optarg);
                break;
            case S_OPT_NAME:
                if (!s_valid_name (optarg))
                    return s_usage_error ("--name: '%s' is not 1 to %d visible "
                                          "ASCII characters", optarg, ZPOST_LINK_NAME_MAX);
                snprintf (name, sizeof (name), "%s", optarg);
                break;
            case S_OPT_HEARTBEAT:
                if (s_parse_number (optarg, S_HEARTBEAT_MIN, S_HEARTBEAT_MAX, &heartbeat))
                    return s_usage_error ("--heartbeat: '%s' is not a number of "
                                          "milliseconds from %d to %d", optarg,
                                          S_HEARTBEAT_MIN, S_HEARTBEAT_MAX);
                break;
            case S_OPT_MAP_MAX:
                if (s_parse_number (optarg, 1, SIZE_MAX >> 20, &map_max_mib))
                    return s_usage_error ("--map-max: '%s' is not a positive "
                                          "number of MiB", optarg);
                break;
            case S_OPT_BODY_LIMIT:
                if (s_parse_number (optarg, 1, ZPOST_BODY_MAX, &body_limit))
                    return s_usage_error ("--body-limit: '%s' is not a number of "
                                          "bytes from 1 to %d", optarg, ZPOST_BODY_MAX);
                break;
            case S_OPT_QUOTA:
                if (s_parse_number (optarg, 1, UINT64_MAX, &quota))
                    return s_usage_error ("--quota: '%s' is not a positive number "
                                          "of bytes", optarg);
                break;
            case S_OPT_SESSION_IDLE:
            case S_OPT_SESSION_MAX:
                if (s_parse_number (optarg, 1, 365 * 86400, option == S_OPT_SESSION_IDLE
                                    ? &session_idle: &session_max))
                    return s_usage_error ("%s: '%s' is not a number of seconds from 1 "
                                          "to a year", option == S_OPT_SESSION_IDLE
                                          ? "--session-idle": "--session-max", optarg);
                break;
            case S_OPT_HASHERS:
                if (s_parse_number (optarg, 1, 64, &hashers))
                    return s_usage_error ("--hashers: '%s' is not a number from 1 "
                                          "to 64", optarg);
                break;
            case S_OPT_PWHASH_OPS:
                if (s_parse_number (optarg, crypto_pwhash_OPSLIMIT_INTERACTIVE,
                                    crypto_pwhash_OPSLIMIT_MAX, &pwhash_ops))
                    return s_usage_error ("--pwhash-ops: '%s' is below libsodium's "
                                          "INTERACTIVE limit (%llu) or not a number",
                                          optarg, (unsigned long long)
                                          crypto_pwhash_OPSLIMIT_INTERACTIVE);
                break;
            case S_OPT_PWHASH_MEM:
                if (s_parse_number (optarg, crypto_pwhash_MEMLIMIT_INTERACTIVE,
                                    crypto_pwhash_MEMLIMIT_MAX, &pwhash_mem))
                    return s_usage_error ("--pwhash-mem: '%s' is below libsodium's "
                                          "INTERACTIVE limit (%zu bytes) or not a number",
                                          optarg, (size_t) crypto_pwhash_MEMLIMIT_INTERACTIVE);
                break;
            case S_OPT_NO_GROUP_COMMIT:
                no_group_commit = true;
                break;
            case S_OPT_REPLY_KEEP:
                if (s_parse_number (optarg, 1, 365 * 86400, &reply_keep))
                    return s_usage_error ("--reply-keep: '%s' is not a number of seconds "
                                          "from 1 to a year", optarg);
                break;
            case S_OPT_SWEEP_INTERVAL:
                if (s_parse_number (optarg, 10, 3600000, &sweep_interval))
                    return s_usage_error ("--sweep-interval: '%s' is not a number of "
                                          "milliseconds from 10 to 3600000", optarg);
                break;
            case S_OPT_WATCH_MAX:
                if (s_parse_number (optarg, 1, 1000000, &watch_max))
                    return s_usage_error ("--watch-max: '%s' is not a number from 1 "
                                          "to 1000000", optarg);
                break;
            case S_OPT_THROTTLE_DELAY:
                if (s_parse_number (optarg, 1, 900000, &throttle_delay))
                    return s_usage_error ("--throttle-delay: '%s' is not a number of "
                                          "milliseconds from 1 to 900000", optarg);
                break;
            case S_OPT_EXPORT:
                export_path = optarg;
                break;
            case S_OPT_IMPORT:
                import_path = optarg;
                break;
            case S_OPT_DIGEST:
                digest_only = true;
                break;
            case 'v':
                verbose = true;
                break;
            case 'h':
                s_usage (stdout);
                return 0;
            case 'V':
                printf (S_PROGRAM " %s\n", ZPOST_VERSION);
                return 0;
            default:
                //  getopt_long has said what was wrong
                s_usage (stderr);
                return 2;
        }
    }
    if (optind < argc)
        return s_usage_error ("unexpected argument '%s'", argv [optind]);
    if (*data == 0)
        return s_usage_error ("--data: the directory name is empty");
    if (db_spec && *db_spec == 0)
        return s_usage_error ("--db: the database is empty");
    bool postgres = db_spec && store_db_names_postgres (db_spec);
    if ((export_path != NULL) + (import_path != NULL) + digest_only > 1)
        return s_usage_error ("--export, --import and --digest are each a task "
                              "of its own: give one");
    if ((export_path && !*export_path) || (import_path && !*import_path))
        return s_usage_error ("--export, --import: the file name is empty");
    //  A dump is made as a new file, 0600, synced, then put in place: not
    //  a stream. "-" would be a file of that name, which no one means.
    if ((export_path && streq (export_path, "-")) || (import_path && streq (import_path, "-")))
        return s_usage_error ("--export, --import: '-' is not a file: the dump is "
                              "written to, and read from, a file; name one");
    if (export_path || import_path || digest_only)
        return s_move_data (postgres, db_spec? db_spec: data, (size_t) map_mib << 20,
                            (size_t) map_max_mib << 20, export_path, import_path);

    if (s_brokers.count == 0) {
        int rc = s_add_brokers (S_DEFAULT_BROKER);
        assert (rc == 0);
    }
    size_t tcp_count = 0;
    for (size_t index = 0; index < s_brokers.count; index++) {
        int rc = s_check_broker (s_brokers.endpoints [index]);
        if (rc)
            return rc;
        if (strncmp (s_brokers.endpoints [index], "tcp://", 6) == 0)
            tcp_count++;
    }
    bool curve = tcp_count > 0;
    //  One key is every tcp:// broker's: the brokers of one deployment
    //  hold the same key pair. Otherwise one key per tcp:// broker, in
    //  the order both are given.
    char broker_keys [STORE_BROKERS_MAX][ZPOST_KEY_TEXT_SIZE + 1];
    const char *key_of [STORE_BROKERS_MAX] = { NULL };
    if (curve) {
        if (s_brokers.key_count == 0)
            return s_usage_error ("--broker-key is required with a tcp:// broker: "
                                  "zpost-broker prints it as its public key");
        if (s_brokers.key_count != 1 && s_brokers.key_count != tcp_count)
            return s_usage_error ("--broker-key is given %zu times for %zu tcp:// "
                                  "brokers: give it once, for all of them, or once "
                                  "for each, in the order of the brokers",
                                  s_brokers.key_count, tcp_count);
        for (size_t index = 0; index < s_brokers.key_count; index++)
            if (zpost_keys_public_from (s_brokers.key_args [index], broker_keys [index]))
                return s_usage_error ("--broker-key: '%s' is neither a public key "
                                      "(40 Z85 characters) nor a file holding one",
                                      s_brokers.key_args [index]);
        size_t tcp_index = 0;
        for (size_t index = 0; index < s_brokers.count; index++)
            if (strncmp (s_brokers.endpoints [index], "tcp://", 6) == 0) {
                key_of [index] = broker_keys [s_brokers.key_count == 1? 0: tcp_index];
                tcp_index++;
            }
    }
    else
    if (s_brokers.key_count)
        fprintf (stderr, S_PROGRAM ": --broker-key is not used: %s is not tcp://\n",
                 s_brokers.count == 1? s_brokers.endpoints [0]: "no broker");

    zsys_init ();
    zsys_set_logstream (stderr);
    zsys_set_logident (S_PROGRAM);

    const char *lmdb_dir = db_spec && !postgres? db_spec: data;
    store_db_t *db = postgres? store_db_new_postgres (db_spec, false)
                             : store_db_new (lmdb_dir, (size_t) map_mib << 20);
    if (!db) {
        fprintf (stderr, S_PROGRAM ": cannot open the store in %s (the log above "
                 "says why)\n", postgres? "PostgreSQL": lmdb_dir);
        return 1;
    }
    //  --data is the store's own directory (its key pair) on either back
    //  end: made 0700 here when LMDB did not make it
    if ((postgres || lmdb_dir != data) && zpost_keys_make_private_dir (data)) {
        fprintf (stderr, S_PROGRAM ": cannot make the data directory %s\n", data);
        store_db_destroy (&db);
        return 1;
    }
    zcert_t *cert = NULL;
    if (curve) {
        char *key_path = zsys_sprintf ("%s/store.key", data);
        assert (key_path);
        cert = zpost_keys_load_or_create (key_path);
        if (!cert) {
            fprintf (stderr, S_PROGRAM ": cannot load or create the key pair %s "
                     "(the log above says why)\n", key_path);
            zstr_free (&key_path);
            store_db_destroy (&db);
            return 1;
        }
        zstr_free (&key_path);
        printf (S_PROGRAM " public key %s\n", zcert_public_txt (cert));
        fflush (stdout);
    }

    store_server_config_t config = {
        .db = db,
        .endpoint = s_brokers.endpoints [0],
        .broker_key = key_of [0],
        .brokers = s_brokers.count,
        .endpoints = (const char *const *) s_brokers.endpoints,
        .broker_keys = key_of,
        .cert = cert,
        .name = name,
        .heartbeat = (int) heartbeat,
        .verbose = verbose,
        .map_max = (size_t) map_max_mib << 20,
        .body_limit = (size_t) body_limit,
        .quota = quota,
        .session_idle = (int) session_idle,
        .session_max = (int) session_max,
        .reply_keep = reply_keep,
        .sweep_interval = (int) sweep_interval,
        .throttle_delay = (int) throttle_delay,
        .watch_max = (size_t) watch_max,
        .hashers = (size_t) hashers,
        .pwhash_ops = pwhash_ops,
        .pwhash_mem = (size_t) pwhash_mem,
        .no_group_commit = no_group_commit
    };
    zactor_t *server = zactor_new (store_server, &config);
    assert (server);
    zcert_destroy (&cert);                  //  the actor has its own copy

    zstr_send (server, "START");
    if (zsock_wait (server) != 0) {
        if (s_brokers.count == 1)
            fprintf (stderr, S_PROGRAM ": cannot reach the broker at %s (the log "
                     "above says why)\n", s_brokers.endpoints [0]);
        else
            fprintf (stderr, S_PROGRAM ": cannot reach every broker (the log "
                     "above says which and why)\n");
        zactor_destroy (&server);
        store_db_destroy (&db);
        s_brokers_free ();
        return 1;
    }
    printf (S_PROGRAM " ready\n");
    fflush (stdout);

    int signal_number = 0;
    sigwait (&signals, &signal_number);
    zsys_info ("%s received; stopping",
               signal_number == SIGINT? "SIGINT": "SIGTERM");

    zactor_destroy (&server);
    store_db_destroy (&db);
    s_brokers_free ();
    return 0;
}
