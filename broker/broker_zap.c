/*  =========================================================================
    broker_zap - the broker's ZAP handler (RFC 27/ZAP), as an actor

    CZMQ's zauth applies one policy to every socket of a process and gives
    no User-Id under CURVE_ALLOW_ANY; the broker needs one policy per
    socket and the client's key as its identity, hence this small handler.
    Its shape follows zauth: a REP socket on the ZAP endpoint and a poller
    over that socket and the pipe.

    The handler never trusts the request it gets more than it must: a
    request with missing frames is answered 400 (a REP socket must answer
    every request, or libzmq's handshake waits for ever).

    Key directories are read by our own small loader rather than
    zcertstore, whose loader asserts when two files hold the same key; an
    operator copying a store's certificate twice must not stop the broker.
    =========================================================================
*/

#include "broker_zap.h"
#include "zpost_keys.h"
#include <signal.h>
#include <dirent.h>
#include <sodium.h>
#include <sys/stat.h>
#include <sys/time.h>

#define ZAP_ENDPOINT    "inproc://zeromq.zap.01"
#define ZAP_VERSION     "1.0"
#define ZAP_KEY_SIZE    32      //  bytes of a CURVE public key
#define KEY_TEXT_BUFFER 41      //  its Z85 text and a NUL
#define RELOAD_IVL      500     //  msec between looks at the key directories
#define KEY_FILE_SUFFIX ".key"  //  the only files of a key directory read
#define IGNORED_NAMED   3       //  keyless files named in the log per load

//  --------------------------------------------------------------------------
//  A set of public keys read from a directory, refreshed when it changes
//
//  What counts as a change is the content: the digest of every file's
//  name and bytes. Times, counts and sizes are not enough: key files are
//  all one size, and cp -p or rsync -a keeps an old mtime, so a revoked
//  key replaced by another would stay allowed. The directory is checked
//  on a timer (s_self_tick), never in a handshake, which only looks up
//  the set.

typedef struct {
    char *location;             //  directory path
    zhashx_t *keys;             //  Z85 key -> "" (a set)
    uint8_t digest [crypto_generichash_BYTES];  //  of the files last loaded
    bool loaded;                //  loaded at least once
} s_keyring_t;

static void
s_keyring_destroy (s_keyring_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        s_keyring_t *self = *self_p;
        zhashx_destroy (&self->keys);
        zstr_free (&self->location);
        free (self);
        *self_p = NULL;
    }
}

static s_keyring_t *
s_keyring_new (const char *location)
{
    s_keyring_t *self = (s_keyring_t *) zmalloc (sizeof (s_keyring_t));
    assert (self);
    self->location = strdup (location);
    self->keys = zhashx_new ();
    assert (self->location && self->keys);
    return self;
}

//  True if a directory entry is a key file: its name ends in ".key" and
//  does not start with a dot (editors' and our own temporaries), and it is
//  a regular file (a FIFO would block the read). Renaming a.key to
//  a.key.revoked, a.key.bak or .a.key takes it out; secret halves
//  (NAME_secret) never match.

static bool
s_keyring_wanted (const char *name, const char *path)
{
    size_t length = strlen (name);
    const char *suffix = KEY_FILE_SUFFIX;
    if (*name == '.' || length <= strlen (suffix)
    ||  !streq (name + length - strlen (suffix), suffix))
        return false;
    struct stat info;
    return stat (path, &info) == 0 && S_ISREG (info.st_mode);
}

static int
s_compare_names (const void *item1, const void *item2)
{
    return strcmp ((const char *) item1, (const char *) item2);
}

//  The paths of the key files directly in the directory, sorted (so that
//  the digest does not depend on the order readdir gives). NULL if the
//  directory cannot be read, with errno set.

static zlistx_t *
s_keyring_scan (s_keyring_t *self)
{
    DIR *handle = opendir (self->location);
    if (!handle)
        return NULL;
    zlistx_t *paths = zlistx_new ();
    assert (paths);
    zlistx_set_destructor (paths, (zlistx_destructor_fn *) zstr_free);
    zlistx_set_comparator (paths, s_compare_names);
    struct dirent *entry;
    while ((entry = readdir (handle))) {
        char *path = zsys_sprintf ("%s/%s", self->location, entry->d_name);
        assert (path);
        if (s_keyring_wanted (entry->d_name, path))
            zlistx_add_end (paths, path);
        else
            zstr_free (&path);
    }
    closedir (handle);
    zlistx_sort (paths);
    return paths;
}

//  Read the key of one file into the set, if it holds one; false if not.
//  A file without one is named in the log only while named is below
//  IGNORED_NAMED: a directory of junk must not flood the log at each look.

//  A file name as the log may show it: names are anyone's with write
//  access to the directory, so control bytes must not reach a terminal or
//  forge a log line; every byte outside printable ASCII shows as \xHH
static char *
s_printable (const char *text)
{
    char *safe = (char *) malloc (strlen (text) * 4 + 1);
    assert (safe);
    char *out = safe;
    for (const unsigned char *byte = (const unsigned char *) text; *byte; byte++)
        if (*byte >= 0x20 && *byte < 0x7f && *byte != '\\')
            *out++ = (char) *byte;
        else
            out += sprintf (out, "\\x%02x", *byte);
    *out = 0;
    return safe;
}

static bool
s_keyring_load_file (s_keyring_t *self, const char *path, size_t named)
{
    //  A path is never taken for a key: 40 characters of a path can all
    //  be Z85 characters, and a "/./" in front did not change that (it
    //  made some paths exactly 40 long); the file-only reader never looks
    //  at the path as text.
    char key [KEY_TEXT_BUFFER];
    if (zpost_keys_public_from_file (path, key) == 0) {
        zhashx_update (self->keys, key, "");
        return true;
    }
    if (named < IGNORED_NAMED) {
        int error = errno;
        char *name = s_printable (path);
        zsys_warning ("zpost-broker: %s ignored: %s", name,
                      error == EINVAL? "it holds no public key":
                      error == ENODEV? "not a regular file":
                      error == EFBIG? "too large for a key file": strerror (error));
        zstr_free (&name);
    }
    return false;
}

//  Add a file's name and bytes to the digest. A key file is a few hundred
//  bytes; a file over ZPOST_KEYS_FILE_MAX is not read at all (only that it
//  is too large counts), so that a stray big file cannot make every look
//  slow or big.

static void
s_keyring_digest_file (crypto_generichash_state *state, const char *path)
{
    crypto_generichash_update (state, (const uint8_t *) path, strlen (path) + 1);
    //  The same reader as the load's: it never blocks on a FIFO swapped in
    //  between two looks, and never reads a big file
    char *text = (char *) malloc (ZPOST_KEYS_FILE_MAX + 1);
    assert (text);
    ssize_t size = zpost_keys_read_small (path, text, ZPOST_KEYS_FILE_MAX);
    int64_t outcome = size >= 0? size: -errno;
    crypto_generichash_update (state, (const uint8_t *) &outcome, sizeof (outcome));
    if (size > 0)
        crypto_generichash_update (state, (const uint8_t *) text, (size_t) size);
    free (text);
}

//  Load the directory again if its content changed since we last read it;
//  a directory that is gone (or not yet made) holds no keys, and is
//  looked for again at every tick.

static void
s_keyring_refresh (s_keyring_t *self)
{
    zlistx_t *paths = s_keyring_scan (self);
    if (!paths) {
        if (self->loaded || zhashx_size (self->keys))
            zsys_warning ("zpost-broker: cannot read key directory %s (%s): "
                          "no keys allowed from it", self->location,
                          strerror (errno));
        zhashx_purge (self->keys);
        self->loaded = false;
        return;
    }
    crypto_generichash_state state;
    crypto_generichash_init (&state, NULL, 0, sizeof (self->digest));
    const char *path;
    for (path = (const char *) zlistx_first (paths); path;
         path = (const char *) zlistx_next (paths))
        s_keyring_digest_file (&state, path);
    uint8_t digest [sizeof (self->digest)];
    crypto_generichash_final (&state, digest, sizeof (digest));

    if (!self->loaded || memcmp (digest, self->digest, sizeof (digest)) != 0) {
        zhashx_purge (self->keys);
        size_t ignored = 0;
        for (path = (const char *) zlistx_first (paths); path;
             path = (const char *) zlistx_next (paths))
            if (!s_keyring_load_file (self, path, ignored))
                ignored++;
        if (ignored > IGNORED_NAMED)
            zsys_warning ("zpost-broker: %zu files in %s hold no public key, "
                          "ignored (the first %d named above)", ignored,
                          self->location, IGNORED_NAMED);
        //  The count is of the distinct keys read, not of the files
        if (self->loaded)
            zsys_info ("zpost-broker: %s changed: %zu keys allowed",
                       self->location, zhashx_size (self->keys));
        memcpy (self->digest, digest, sizeof (digest));
        self->loaded = true;
    }
    zlistx_destroy (&paths);
}

static bool
s_keyring_has (s_keyring_t *self, const char *key)
{
    return zhashx_lookup (self->keys, key) != NULL;
}


//  --------------------------------------------------------------------------
//  The actor's state

typedef struct {
    zsock_t *pipe;              //  actor command pipe
    zsock_t *handler;           //  REP socket on the ZAP endpoint, or NULL
    zpoller_t *poller;          //  waits on pipe and handler
    s_keyring_t *clients;       //  allow-list of client keys, or NULL = any
    s_keyring_t *stores;        //  keys of stores, or NULL = none
    bool configured;            //  CONFIGURE has succeeded
    int64_t next_reload;        //  monotonic msec of the next directory look
    bool terminated;            //  $TERM received
    bool verbose;               //  log every request
} s_self_t;

static void
s_self_destroy (s_self_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        s_self_t *self = *self_p;
        zpoller_destroy (&self->poller);
        zsock_destroy (&self->handler);
        s_keyring_destroy (&self->clients);
        s_keyring_destroy (&self->stores);
        free (self);
        *self_p = NULL;
    }
}

static s_self_t *
s_self_new (zsock_t *pipe)
{
    s_self_t *self = (s_self_t *) zmalloc (sizeof (s_self_t));
    assert (self);
    self->pipe = pipe;
    self->handler = zsock_new (ZMQ_REP);
    assert (self->handler);
    if (zsock_bind (self->handler, ZAP_ENDPOINT) != 0) {
        //  Another handler owns the endpoint: we stay up to say so, since
        //  CONFIRM must not be answered 0.
        zsys_error ("zpost-broker: cannot bind ZAP handler %s: %s",
                    ZAP_ENDPOINT, zmq_strerror (zmq_errno ()));
        zsock_destroy (&self->handler);
    }
    self->poller = zpoller_new (self->pipe, NULL);
    assert (self->poller);
    if (self->handler)
        zpoller_add (self->poller, self->handler);
    //  Only $TERM ends us: the broker closes its sockets before this
    //  actor, and a handler gone early would fail their handshakes.
    zpoller_set_nonstop (self->poller, true);
    return self;
}


//  Look at the key directories again; reloads only what changed

static void
s_self_tick (s_self_t *self)
{
    if (self->clients)
        s_keyring_refresh (self->clients);
    if (self->stores)
        s_keyring_refresh (self->stores);
    self->next_reload = zclock_mono () + RELOAD_IVL;
}


//  --------------------------------------------------------------------------
//  Commands from the broker

static void
s_self_configure (s_self_t *self, const char *clients_dir,
                  const char *stores_dir)
{
    int rc = 0;
    s_keyring_destroy (&self->clients);
    s_keyring_destroy (&self->stores);
    self->configured = false;
    if (clients_dir && *clients_dir) {
        if (zsys_file_mode (clients_dir) == -1
        || !S_ISDIR (zsys_file_mode (clients_dir))) {
            zsys_error ("zpost-broker: clients directory %s is not a directory",
                        clients_dir);
            rc = -1;
        }
        else {
            self->clients = s_keyring_new (clients_dir);
            s_keyring_refresh (self->clients);
            zsys_info ("zpost-broker: clients allowed: %zu keys in %s",
                       zhashx_size (self->clients->keys), clients_dir);
        }
    }
    if (rc == 0 && stores_dir && *stores_dir) {
        self->stores = s_keyring_new (stores_dir);
        s_keyring_refresh (self->stores);
    }
    self->configured = rc == 0;
    zsock_signal (self->pipe, rc == 0? 0: 1);
}

static void
s_self_handle_pipe (s_self_t *self)
{
    zmsg_t *request = zmsg_recv (self->pipe);
    if (!request)
        return;
    char *command = zmsg_popstr (request);
    if (!command)
        ;
    else
    if (streq (command, "$TERM"))
        self->terminated = true;
    else
    if (streq (command, "CONFIGURE")) {
        char *clients_dir = zmsg_popstr (request);
        char *stores_dir = zmsg_popstr (request);
        s_self_configure (self, clients_dir, stores_dir);
        zstr_free (&clients_dir);
        zstr_free (&stores_dir);
    }
    else
    if (streq (command, "VERBOSE")) {
        self->verbose = true;
        zsock_signal (self->pipe, 0);
    }
    else
    if (streq (command, "CONFIRM"))
        zsock_signal (self->pipe, self->handler && self->configured? 0: 1);
    else
        zsys_error ("zpost-broker: ZAP handler: unknown command %s", command);
    zstr_free (&command);
    zmsg_destroy (&request);
}


//  --------------------------------------------------------------------------
//  ZAP requests from libzmq

static void
s_zap_reply (s_self_t *self, zframe_t *sequence, const char *status,
             const char *text, const char *user_id)
{
    zmsg_t *reply = zmsg_new ();
    assert (reply);
    zmsg_addstr (reply, ZAP_VERSION);
    if (sequence)
        zmsg_append (reply, &sequence);
    else
        zmsg_addstr (reply, "");
    zmsg_addstr (reply, status);
    zmsg_addstr (reply, text);
    zmsg_addstr (reply, user_id? user_id: "");
    zmsg_addmem (reply, NULL, 0);           //  no metadata
    if (zmsg_send (&reply, self->handler) != 0) {
        zsys_error ("zpost-broker: ZAP handler cannot reply: %s",
                    zmq_strerror (zmq_errno ()));
        zmsg_destroy (&reply);
    }
}

static bool
s_frame_is (zframe_t *frame, const char *text)
{
    return frame && zframe_streq (frame, text);
}

static void
s_self_authenticate (s_self_t *self)
{
    zmsg_t *request = zmsg_recv (self->handler);
    if (!request)
        return;

    //  version, sequence, domain, address, routing id, mechanism, credentials
    zframe_t *version = zmsg_pop (request);
    zframe_t *sequence = zmsg_pop (request);
    zframe_t *domain = zmsg_pop (request);
    zframe_t *address = zmsg_pop (request);
    zframe_t *routing_id = zmsg_pop (request);
    zframe_t *mechanism = zmsg_pop (request);
    zframe_t *credential = zmsg_pop (request);

    char *domain_text = domain? zframe_strdup (domain): strdup ("");
    char *address_text = address? zframe_strdup (address): strdup ("");
    char *mechanism_text = mechanism? zframe_strdup (mechanism): strdup ("");
    assert (domain_text && address_text && mechanism_text);

    const char *refusal = NULL;
    char key [KEY_TEXT_BUFFER] = "";
    if (!s_frame_is (version, ZAP_VERSION) || !mechanism)
        refusal = "malformed ZAP request";
    else
    if (!streq (mechanism_text, "CURVE"))
        refusal = "only CURVE is accepted";
    else
    if (!credential || zframe_size (credential) != ZAP_KEY_SIZE)
        refusal = "malformed CURVE credential";
    else {
        zmq_z85_encode (key, zframe_data (credential), ZAP_KEY_SIZE);
        if (streq (domain_text, BROKER_ZAP_FRONT)) {
            if (self->clients && !s_keyring_has (self->clients, key))
                refusal = "client key not allowed";
        }
        else
        if (streq (domain_text, BROKER_ZAP_BACK)) {
            if (!self->stores || !s_keyring_has (self->stores, key)) {
                refusal = "store key not allowed";
                zsys_warning ("zpost-broker: store %s with key %s refused: "
                              "its certificate is not in %s", address_text,
                              key, self->stores? self->stores->location: "(none)");
            }
        }
        else
            refusal = "unknown ZAP domain";
    }
    if (self->verbose)
        zsys_info ("zpost-broker: ZAP domain=%s address=%s mechanism=%s "
                   "key=%s: %s", domain_text, address_text, mechanism_text,
                   *key? key: "-", refusal? refusal: "allowed");

    if (refusal)
        s_zap_reply (self, sequence, "400", refusal, NULL);
    else
        s_zap_reply (self, sequence, "200", "OK", key);

    free (domain_text);
    free (address_text);
    free (mechanism_text);
    zframe_destroy (&version);
    zframe_destroy (&domain);
    zframe_destroy (&address);
    zframe_destroy (&routing_id);
    zframe_destroy (&mechanism);
    zframe_destroy (&credential);
    zmsg_destroy (&request);
}


//  --------------------------------------------------------------------------
//  The actor

void
broker_zap (zsock_t *pipe, void *args)
{
    (void) args;
    //  Signals belong to main, which waits for them; here they would only
    //  interrupt a poll that has nothing to do with stopping.
    sigset_t signals;
    sigemptyset (&signals);
    sigaddset (&signals, SIGINT);
    sigaddset (&signals, SIGTERM);
    pthread_sigmask (SIG_BLOCK, &signals, NULL);

    s_self_t *self = s_self_new (pipe);
    zsock_signal (pipe, 0);

    while (!self->terminated) {
        int64_t wait = self->next_reload - zclock_mono ();
        wait = wait < 0? 0: wait > RELOAD_IVL? RELOAD_IVL: wait;
        zsock_t *which = (zsock_t *) zpoller_wait (self->poller, (int) wait);
        if (zclock_mono () >= self->next_reload)
            s_self_tick (self);
        if (which == self->pipe)
            s_self_handle_pipe (self);
        else
        if (which && which == self->handler)
            s_self_authenticate (self);
        else
        if (zpoller_terminated (self->poller))
            break;              //  context shut down
    }
    s_self_destroy (&self);
}


int
broker_zap_configure (zactor_t *zap, const char *clients_dir,
                      const char *stores_dir)
{
    assert (zap);
    zstr_sendx (zap, "CONFIGURE", clients_dir? clients_dir: "",
                stores_dir? stores_dir: "", NULL);
    return zsock_wait (zap) == 0? 0: -1;
}


void
broker_zap_set_verbose (zactor_t *zap)
{
    assert (zap);
    zstr_send (zap, "VERBOSE");
    zsock_wait (zap);
}


int
broker_zap_confirm (zactor_t *zap)
{
    assert (zap);
    zstr_send (zap, "CONFIRM");
    return zsock_wait (zap) == 0? 0: -1;
}


//  --------------------------------------------------------------------------
//  Selftest

//  A CURVE client with cert, connected to a server, gets an echo back or not
static bool
s_can_talk (zsock_t *server, const char *endpoint, zcert_t *server_cert,
            zcert_t *client_cert)
{
    zsock_t *client = zsock_new (ZMQ_DEALER);
    assert (client);
    zcert_apply (client_cert, client);
    zsock_set_curve_serverkey (client, zcert_public_txt (server_cert));
    int rc = zsock_connect (client, "%s", endpoint);
    assert (rc == 0);
    zstr_send (client, "hello");

    bool answered = false;
    zpoller_t *poller = zpoller_new (server, NULL);
    assert (poller);
    //  The deadline for a handshake on loopback; a refused client is never
    //  heard from, so this bound is also how long a refusal takes to show.
    if (zpoller_wait (poller, 500) == server) {
        zmsg_t *msg = zmsg_recv (server);
        assert (msg && zmsg_size (msg) == 2);
        zframe_t *id = zmsg_first (msg);
        zframe_t *body = zmsg_next (msg);
        const char *user_id = zframe_meta (body, "User-Id");
        assert (user_id && streq (user_id, zcert_public_txt (client_cert)));
        assert (zframe_streq (body, "hello"));
        (void) id;
        zmsg_destroy (&msg);
        answered = true;
    }
    zpoller_destroy (&poller);
    zsock_destroy (&client);
    return answered;
}

//  Poll until the client is answered (or refused, for !expected), as the
//  handler looks at its directories only every RELOAD_IVL msec
static bool
s_comes_to (bool expected, zsock_t *server, const char *endpoint,
            zcert_t *server_cert, zcert_t *client_cert)
{
    int64_t deadline = zclock_mono () + 20 * RELOAD_IVL;
    while (s_can_talk (server, endpoint, server_cert, client_cert) != expected)
        if (zclock_mono () > deadline)
            return false;
    return true;
}

//  Write a certificate's public half to path, then set its mtime to a
//  fixed old time, as cp -p of an old file would
static void
s_save_old (zcert_t *cert, const char *path)
{
    zcert_save_public (cert, path);
    struct timeval old [2] = { { 1000000000, 0 }, { 1000000000, 0 } };
    assert (utimes (path, old) == 0);
}

void
broker_zap_test (bool verbose)
{
    printf (" * broker_zap: ");
    if (verbose)
        printf ("\n");

    //  @selftest
    char *dir = zsys_sprintf ("/tmp/broker_zap_test.%d", (int) getpid ());
    assert (dir);
    char *stores = zsys_sprintf ("%s/stores", dir);
    char *clients = zsys_sprintf ("%s/clients", dir);
    zsys_dir_create (stores);
    zsys_dir_create (clients);

    zcert_t *server_cert = zcert_new ();
    zcert_t *store_cert = zcert_new ();
    zcert_t *other_cert = zcert_new ();
    assert (server_cert && store_cert && other_cert);
    char *path = zsys_sprintf ("%s/store.key", stores);
    zcert_save (store_cert, path);          //  public and _secret files
    zstr_free (&path);
    path = zsys_sprintf ("%s/copy.key", stores);
    zcert_save_public (store_cert, path);   //  the same key twice is fine
    zstr_free (&path);
    path = zsys_sprintf ("%s/junk.key", stores);
    FILE *junk = fopen (path, "w");
    assert (junk);
    //  Well-formed but keyless: czmq's zconfig_load leaks on bad syntax
    fprintf (junk, "# not a key\nname = junk\n");
    fclose (junk);
    zstr_free (&path);

    zactor_t *zap = zactor_new (broker_zap, NULL);
    assert (zap);
    if (verbose)
        broker_zap_set_verbose (zap);
    assert (broker_zap_confirm (zap) == -1);    //  not configured yet
    assert (broker_zap_configure (zap, "/nonexistent/zpost", stores) == -1);
    assert (broker_zap_confirm (zap) == -1);
    assert (broker_zap_configure (zap, NULL, stores) == 0);
    assert (broker_zap_confirm (zap) == 0);

    //  Front: any CURVE client, reported by key
    zsock_t *front = zsock_new (ZMQ_ROUTER);
    assert (front);
    zcert_apply (server_cert, front);
    zsock_set_curve_server (front, 1);
    zsock_set_zap_domain (front, BROKER_ZAP_FRONT);
    int port = zsock_bind (front, "tcp://127.0.0.1:*");
    assert (port > 0);
    char *front_ep = zsys_sprintf ("tcp://127.0.0.1:%d", port);
    assert (s_can_talk (front, front_ep, server_cert, other_cert));

    //  Back: only the stores' keys
    zsock_t *back = zsock_new (ZMQ_ROUTER);
    assert (back);
    zcert_apply (server_cert, back);
    zsock_set_curve_server (back, 1);
    zsock_set_zap_domain (back, BROKER_ZAP_BACK);
    port = zsock_bind (back, "tcp://127.0.0.1:*");
    assert (port > 0);
    char *back_ep = zsys_sprintf ("tcp://127.0.0.1:%d", port);
    assert (s_can_talk (back, back_ep, server_cert, store_cert));
    assert (!s_can_talk (back, back_ep, server_cert, other_cert));

    //  A key added to the directory is seen without a restart
    path = zsys_sprintf ("%s/other.key", stores);
    zcert_save_public (other_cert, path);
    assert (s_comes_to (true, back, back_ep, server_cert, other_cert));

    //  Only NAME.key directly in the directory is read: a key renamed to
    //  another name, hidden, or moved to a subdirectory is out
    const char *elsewhere [] = { "other.key.revoked", "other.key.bak",
                                 ".other.key", "old/other.key" };
    char *old_dir = zsys_sprintf ("%s/old", stores);
    assert (old_dir && mkdir (old_dir, 0700) == 0);
    for (size_t index = 0; index < sizeof (elsewhere) / sizeof (elsewhere [0]); index++) {
        char *moved = zsys_sprintf ("%s/%s", stores, elsewhere [index]);
        assert (moved && rename (path, moved) == 0);
        assert (s_comes_to (false, back, back_ep, server_cert, other_cert));
        assert (rename (moved, path) == 0);
        assert (s_comes_to (true, back, back_ep, server_cert, other_cert));
        zstr_free (&moved);
    }
    zstr_free (&old_dir);
    zstr_free (&path);

    //  An allow-list on the front
    assert (broker_zap_configure (zap, clients, stores) == 0);
    assert (broker_zap_confirm (zap) == 0);
    assert (!s_can_talk (front, front_ep, server_cert, other_cert));
    path = zsys_sprintf ("%s/other.key", clients);
    s_save_old (other_cert, path);
    assert (s_comes_to (true, front, front_ep, server_cert, other_cert));

    //  The same file, the same size, an old mtime, another key: the old
    //  key goes, the new one comes (cp -p of a replacement)
    zcert_t *third_cert = zcert_new ();
    assert (third_cert);
    s_save_old (third_cert, path);
    assert (s_comes_to (false, front, front_ep, server_cert, other_cert));
    assert (s_comes_to (true, front, front_ep, server_cert, third_cert));
    zcert_destroy (&third_cert);
    zstr_free (&path);

    zsock_destroy (&front);
    zsock_destroy (&back);
    zactor_destroy (&zap);
    zstr_free (&front_ep);
    zstr_free (&back_ep);
    zcert_destroy (&server_cert);
    zcert_destroy (&store_cert);
    zcert_destroy (&other_cert);

    zdir_t *tree = zdir_new (dir, NULL);
    if (tree) {
        zdir_remove (tree, true);
        zdir_destroy (&tree);
    }
    zstr_free (&stores);
    zstr_free (&clients);
    zstr_free (&dir);
    //  @end

    printf ("OK\n");
}
