/*  =========================================================================
    zpost-bench - load a zpost broker with N clients and measure it

    Each client is an actor (a thread) with its own CURVE key pair and its
    own REQ socket, so the broker sees N real connections and does N CURVE
    handshakes, as it would with N people. A client keeps one request in
    flight, times each round trip with zclock_usecs, and keeps every
    sample; at the end the samples of all clients are sorted together for
    the percentiles, and throughput is the successful operations over the
    time from the first send to the last reply.

    The run goes in three steps, so that nothing slow lands in the figures:
    every client does its setup (handshake, register, login, prefill) and
    reports READY; when all are ready the main thread says GO to all of
    them at once; each one stops by itself at its share of --count or at
    --seconds, whichever comes first, and hands back its results.

    Every request and every reply goes through the codec (zpost_msg). A
    reply that is not 200 is counted as an error under its status, a lost
    reply as "timeout" (the socket is then replaced, Lazy Pirate style, but
    the request is not retried: a benchmark reports what went wrong rather
    than hiding it). Request ids are the run's random prefix, the client
    and a sequence number, so no two requests of any run share one.

    With --server A,B (several brokers of one deployment) client i talks
    to broker i mod the count, and only to it: the clients split evenly
    over the brokers, one process, one GO, one clock, so that throughput
    with several brokers is measured exactly as with one. There is no
    failover here: a benchmark client that switched brokers would hide a
    broker's trouble instead of reporting it.

    With --soak N the clients do not measure one operation: each sends N /
    clients messages to itself and DELETEs each from its inbox and its sent
    folder at once (so stored mail stays at one message per client, and
    what grows, if anything, is the store's own records), logs in again
    whenever its session ends, and every --orphan-every sends somebody
    logs in and drops the token (a retried LOGIN's orphan session). The
    main thread prints the store's STATS server figures (recorded replies,
    sessions, map used) and the size of data.mdb before, at every tenth,
    at the end and once the retention has passed: the proof that expiry
    keeps pace with the write rate (issue 10, defect 3).

    With --op notify each client measures how soon new mail reaches a
    waiting WATCH: on a second socket with its keys it sends a WATCH that
    knows its inbox (timeout 30 s), waits BENCH_PARK msecs so that the
    WATCH is parked at the store, SENDs a message to itself, and times
    from the SEND's 200 to the WATCH's answer. That is the delay a
    `zpost watch` adds to the commit (issue 14: at most 100 ms).

    This is a test tool, not part of the service: it is built with the
    project and never installed.
    =========================================================================
*/

#include "zpost_msg.h"
#include "zpost_keys.h"
#include "zpost_status.h"

#include <sodium.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stddef.h>
#include <stdatomic.h>
#include <sys/stat.h>

#define BENCH_PASSWORD      "bench-password-1"
#define BENCH_SUBJECT       "bench"
#define BENCH_TIMEOUT       5000    //  default msecs to wait for one reply
#define BENCH_SECONDS       5.0     //  default bound when none is given
#define BENCH_PREFILL       100     //  default messages per inbox for list/read
#define BENCH_PREFILL_SOCKETS 16    //  requests in flight while prefilling
#define BENCH_READ_IDS      1000    //  message ids a read client cycles over
#define BENCH_CLIENTS_MAX   1000
#define BENCH_BROKERS_MAX   16      //  endpoints --server may list
#define BENCH_STATUS_SLOTS  600     //  counters for statuses 0..599
#define BENCH_TIMEOUTS      600     //  slot for lost replies
#define BENCH_MALFORMED     601     //  slot for replies that do not decode
#define BENCH_SEND_FAILED   602     //  slot for requests that could not leave
#define BENCH_ERROR_SLOTS   603
#define BENCH_ORPHAN_EVERY  1000    //  default sends per orphan LOGIN (soak)
#define BENCH_SOAK_TRIES    50      //  LOGINs a soak client tries in a row
#define BENCH_SOAK_PAUSE    200     //  msecs between those tries
#define BENCH_SETUP_TRIES   10      //  tries of a setup request that gets 503
#define BENCH_PARK          10      //  notify: msecs a WATCH has to park
#define BENCH_WATCH_WAIT    30      //  notify: seconds a WATCH waits
//  A reply bigger than this is no reply of ours; it bounds our memory.
#define BENCH_MAXMSGSIZE    (2 * ZPOST_BODY_MAX)

typedef enum {
    BENCH_PING_BROKER,
    BENCH_PING_STORE,
    BENCH_SEND,
    BENCH_LIST,
    BENCH_READ,
    BENCH_LOGIN,
    BENCH_NOTIFY,
    BENCH_SEARCH,
    BENCH_OP_COUNT
} bench_op_t;

static const char *s_op_names [BENCH_OP_COUNT] = {
    "ping-broker", "ping-store", "send", "list", "read", "login", "notify", "search"
};

//  The search op's default query: a worst case, matching nothing in the
//  search op's bodies (s_search_body), yet beginning and ending with
//  letters that are everywhere in them, so every message is looked at
//  and its bytes are candidates all along
#define BENCH_QUERY         "the end"

//  What the soak's clients count together; the main thread reads it.
typedef struct {
    atomic_uint_fast64_t sends;     //  SENDs answered 200
    atomic_uint_fast64_t deletes;   //  DELETEs answered 200
    atomic_uint_fast64_t relogins;  //  LOGINs after a 401 (session ended)
    atomic_uint_fast64_t orphans;   //  LOGINs whose token was dropped
} bench_soak_t;

//  What the command line asked for; read-only once the clients start.
typedef struct {
    char **endpoints;           //  broker front endpoints (--server A,B)
    int endpoint_count;         //  1..BENCH_BROKERS_MAX
    char server_key [41];       //  broker public key, Z85
    int clients;                //  client actors
    bench_op_t op;              //  the operation measured
    uint64_t count;             //  operations in all, 0 = no bound
    double seconds;             //  time bound, 0 = no bound
    size_t body;                //  body bytes of a SEND
    int recipients;             //  recipients of a SEND
    int limit;                  //  LIST limit
    int burst;                  //  login clients running beside the others
    bool setup;                 //  register users, prefill inboxes
    uint64_t prefill;           //  messages per inbox for list and read
    int timeout;                //  msecs to wait for one reply
    char *prefix;               //  usernames are PREFIX<clients>-<i>
    char run_id [17];           //  random prefix of every request id
    bool json;                  //  print one JSON object
    bool verbose;               //  log setup steps
    char *body_text;            //  the body every SEND carries
    uint64_t soak;              //  soak: SENDs in all, 0 = no soak
    uint64_t orphan_every;      //  soak: an orphan LOGIN per this many sends
    double retention;           //  soak: the store's longest retention, secs
    double reply_keep;          //  soak: the store's --reply-keep, secs
    char *data_dir;             //  soak: the store's data directory, or NULL
    bench_soak_t *counters;     //  soak: shared counters (atomic)
    const char *query;          //  search: the query (--query)
} bench_config_t;

//  What a client hands back when it is done; the main thread owns it then.
typedef struct {
    int64_t *samples;           //  usecs of each successful operation
    size_t samples_used;        //  samples taken
    size_t samples_size;        //  slots allocated
    uint64_t errors [BENCH_ERROR_SLOTS];    //  failures by status or kind
    int64_t started;            //  zclock_usecs of the first send; 0 if none
    int64_t finished;           //  zclock_usecs of the last reply
} bench_result_t;

//  One client: lives in its actor's thread.
typedef struct {
    const bench_config_t *config;   //  shared, read-only
    int index;                  //  0..clients-1, then the burst's
    bench_op_t op;              //  what it measures: --op, or login
    zsock_t *pipe;              //  the actor pipe
    zcert_t *cert;              //  this client's key pair
    zsock_t *socket;            //  REQ to the broker, NULL when lost
    zpoller_t *poller;          //  polls socket and pipe
    char username [ZPOST_NAME_MAX + 1];  //  whose session this is
    char *recipients;           //  SEND recipients, comma-separated
    char *token;                //  session token, or NULL
    uint64_t sequence;          //  last request number used
    uint64_t *ids;              //  message ids a READ cycles over
    size_t ids_count;           //  ids held
    char error [256];           //  why setup failed
    bool terminated;            //  told to stop (pipe or signal): give up
    bench_result_t *result;     //  what we measured
} bench_client_t;


//  --------------------------------------------------------------------------
//  Results

static bench_result_t *
s_result_new (void)
{
    bench_result_t *self = (bench_result_t *) zmalloc (sizeof (bench_result_t));
    assert (self);
    self->samples_size = 4096;
    self->samples = (int64_t *) malloc (self->samples_size * sizeof (int64_t));
    assert (self->samples);
    return self;
}

static void
s_result_destroy (bench_result_t **self_p)
{
    if (*self_p) {
        free ((*self_p)->samples);
        free (*self_p);
        *self_p = NULL;
    }
}

static void
s_result_sample (bench_result_t *self, int64_t usecs)
{
    if (self->samples_used == self->samples_size) {
        self->samples_size *= 2;
        self->samples = (int64_t *) realloc (self->samples,
                                             self->samples_size * sizeof (int64_t));
        assert (self->samples);
    }
    self->samples [self->samples_used++] = usecs;
}


//  --------------------------------------------------------------------------
//  One client's requests

static void
s_client_close (bench_client_t *self)
{
    zpoller_destroy (&self->poller);
    zsock_destroy (&self->socket);
}

//  The broker this client talks to: its share of --server's list
static const char *
s_client_endpoint (bench_client_t *self)
{
    const bench_config_t *config = self->config;
    return config->endpoints [self->index % config->endpoint_count];
}

//  A REQ socket with this client's keys, connected to the broker. Linger
//  0: a socket is only dropped when its reply is presumed lost.
static zsock_t *
s_client_socket (bench_client_t *self)
{
    zsock_t *socket = zsock_new (ZMQ_REQ);
    assert (socket);
    zsock_set_linger (socket, 0);
    zsock_set_sndtimeo (socket, self->config->timeout);
    zsock_set_maxmsgsize (socket, BENCH_MAXMSGSIZE);
    zcert_apply (self->cert, socket);
    zsock_set_curve_serverkey (socket, self->config->server_key);
    if (zsock_connect (socket, "%s", s_client_endpoint (self))) {
        zsock_destroy (&socket);
        return NULL;
    }
    return socket;
}

static int
s_client_open (bench_client_t *self)
{
    if (self->socket)
        return 0;
    self->socket = s_client_socket (self);
    if (!self->socket) {
        snprintf (self->error, sizeof self->error, "cannot connect to %s: %s",
                  s_client_endpoint (self), zmq_strerror (zmq_errno ()));
        return -1;
    }
    //  The pipe too, so that $TERM ends a wait instead of sitting it out
    self->poller = zpoller_new (self->socket, self->pipe, NULL);
    assert (self->poller);
    return 0;
}

//  A request with the next request id and the session token
static zpost_msg_t *
s_client_request (bench_client_t *self, zpost_command_t command)
{
    char request_id [ZPOST_REQUEST_ID_MAX + 1];
    snprintf (request_id, sizeof request_id, "%s-%d-%" PRIu64,
              self->config->run_id, self->index, ++self->sequence);
    zpost_msg_t *request = zpost_msg_new_request (command, request_id,
        command == ZPOST_CMD_PING || command == ZPOST_CMD_REGISTER
        || command == ZPOST_CMD_LOGIN? NULL: self->token);
    assert (request);
    return request;
}

//  Does this decoded reply answer this request?
static bool
s_reply_matches (zpost_msg_t *reply, zpost_msg_t *request)
{
    return zpost_msg_command (reply) == zpost_msg_command (request)
        && streq (zpost_msg_request_id (reply), zpost_msg_request_id (request));
}

//  One round trip. Returns the reply, or NULL with *failure set to the
//  error slot (timeout, malformed, send failed). The request stays ours.
static zpost_msg_t *
s_client_call (bench_client_t *self, zpost_msg_t *request, int *failure)
{
    *failure = BENCH_SEND_FAILED;
    if (s_client_open (self))
        return NULL;
    if (zpost_msg_send (request, self->socket)) {
        s_client_close (self);
        return NULL;
    }
    void *which = zpoller_wait (self->poller, self->config->timeout);
    if (which != self->socket) {
        if (which == self->pipe || zpoller_terminated (self->poller))
            self->terminated = true;
        *failure = BENCH_TIMEOUTS;
        s_client_close (self);
        return NULL;
    }
    zpost_msg_t *reply = zpost_msg_new ();
    assert (reply);
    int rc = zpost_msg_recv_reply (reply, self->socket);
    if (rc == 0 && s_reply_matches (reply, request))
        return reply;
    *failure = rc == -1? BENCH_TIMEOUTS: BENCH_MALFORMED;
    zpost_msg_destroy (&reply);
    s_client_close (self);
    return NULL;
}

//  Wait msecs before a setup request goes again; false if told to stop
//  meanwhile (the pipe spoke, or a signal)
static bool
s_client_pause (bench_client_t *self, int msecs)
{
    if (!self->pipe) {
        zclock_sleep (msecs);
        return !zsys_interrupted;
    }
    zpoller_t *poller = zpoller_new (self->pipe, NULL);
    assert (poller);
    void *which = zpoller_wait (poller, msecs);
    bool go_on = which == NULL && !zpoller_terminated (poller);
    zpoller_destroy (&poller);
    if (!go_on)
        self->terminated = true;
    return go_on;
}

//  A setup request that must succeed (or get an allowed status). Returns
//  the reply or NULL with self->error saying why. A 503 (a store busy
//  hashing the passwords of 16 REGISTERs at once on a loaded machine) is
//  not the setup failing: the same request goes again, with the same
//  request id as the spec says, after the wait the detail asks for.
static zpost_msg_t *
s_client_must (bench_client_t *self, zpost_msg_t **request_p, int allowed)
{
    zpost_msg_t *request = *request_p;
    const char *name = zpost_msg_command_name (zpost_msg_command (request));
    int failure;
    zpost_msg_t *reply = s_client_call (self, request, &failure);
    for (int tries = 1; reply && tries < BENCH_SETUP_TRIES
                     && zpost_msg_status (reply) == ZPOST_STORE_UNAVAILABLE
                     && allowed != ZPOST_STORE_UNAVAILABLE; tries++) {
        const char *detail = zpost_msg_get (reply, ZPOST_F_DETAIL);
        int seconds = detail? atoi (detail): 0;
        int msecs = seconds >= 1 && seconds <= 10? seconds * 1000: 1000;
        if (!s_client_pause (self, msecs))
            break;
        zpost_msg_destroy (&reply);
        reply = s_client_call (self, request, &failure);
    }
    if (!reply)
        snprintf (self->error, sizeof self->error, "%s: %s", name,
                  self->terminated? "interrupted"
                  : failure == BENCH_TIMEOUTS? "no reply in time (is the broker "
                    "running and the server key right?)"
                  : failure == BENCH_MALFORMED? "malformed reply"
                  : "cannot send");
    else
    if (zpost_msg_status (reply) != ZPOST_OK
    &&  zpost_msg_status (reply) != allowed) {
        const char *detail = zpost_msg_get (reply, ZPOST_F_DETAIL);
        snprintf (self->error, sizeof self->error, "%s: %d %s%s%s", name,
                  zpost_msg_status (reply), zpost_msg_reason (reply),
                  detail? " / ": "", detail? detail: "");
        zpost_msg_destroy (&reply);
    }
    zpost_msg_destroy (request_p);
    return reply;
}

static void
s_username (const bench_config_t *config, int index, char *name, size_t size)
{
    snprintf (name, size, "%s%d-%d", config->prefix, config->clients, index);
}


//  --------------------------------------------------------------------------
//  Setup: everything a client does before GO

static int
s_setup_register (bench_client_t *self, int index)
{
    char name [ZPOST_NAME_MAX + 1];
    s_username (self->config, index, name, sizeof name);
    zpost_msg_t *request = s_client_request (self, ZPOST_CMD_REGISTER);
    zpost_msg_set (request, ZPOST_F_USERNAME, name);
    zpost_msg_set (request, ZPOST_F_PASSWORD, BENCH_PASSWORD);
    //  The user may be left from an earlier run: that is fine
    zpost_msg_t *reply = s_client_must (self, &request, ZPOST_NAME_TAKEN);
    if (!reply)
        return -1;
    zpost_msg_destroy (&reply);
    return 0;
}

static int
s_setup_login (bench_client_t *self)
{
    zpost_msg_t *request = s_client_request (self, ZPOST_CMD_LOGIN);
    zpost_msg_set (request, ZPOST_F_USERNAME, self->username);
    zpost_msg_set (request, ZPOST_F_PASSWORD, BENCH_PASSWORD);
    zpost_msg_t *reply = s_client_must (self, &request, ZPOST_OK);
    if (!reply)
        return -1;
    self->token = strdup (zpost_msg_get (reply, ZPOST_F_TOKEN));
    assert (self->token);
    zpost_msg_destroy (&reply);
    return 0;
}

//  Messages in our inbox, from STATS user; -1 on failure.
static int64_t
s_setup_inbox_count (bench_client_t *self)
{
    zpost_msg_t *request = s_client_request (self, ZPOST_CMD_STATS);
    zpost_msg_set (request, ZPOST_F_SCOPE, "user");
    zpost_msg_t *reply = s_client_must (self, &request, ZPOST_OK);
    if (!reply)
        return -1;
    int64_t count = -1;
    for (size_t row = 0; row < zpost_msg_rows (reply); row++)
        if (streq (zpost_msg_row_get (reply, row, ZPOST_F_STAT_NAME), "inbox-count"))
            count = atoll (zpost_msg_row_get (reply, row, ZPOST_F_STAT_VALUE));
    zpost_msg_destroy (&reply);
    if (count < 0)
        snprintf (self->error, sizeof self->error, "STATS: no inbox-count");
    return count;
}

static zpost_msg_t *
s_send_request (bench_client_t *self, const char *recipients)
{
    zpost_msg_t *request = s_client_request (self, ZPOST_CMD_SEND);
    zpost_msg_set (request, ZPOST_F_RECIPIENTS, recipients);
    zpost_msg_set (request, ZPOST_F_SUBJECT, BENCH_SUBJECT);
    zpost_msg_set (request, ZPOST_F_BODY, self->config->body_text);
    return request;
}

//  Send messages to ourselves until the inbox holds config->prefill. With
//  one client this would take one round trip per message, so it keeps
//  several requests in flight, each on its own REQ socket with our keys
//  (a session belongs to a key, not to a connection).
static int
s_setup_prefill (bench_client_t *self)
{
    int64_t have = s_setup_inbox_count (self);
    if (have < 0)
        return -1;
    uint64_t missing = (uint64_t) have >= self->config->prefill
                     ? 0: self->config->prefill - (uint64_t) have;
    if (self->config->verbose)
        zsys_info ("zpost-bench: %s has %" PRId64 " messages, sending %" PRIu64,
                   self->username, have, missing);
    if (missing == 0)
        return 0;

    size_t width = missing < BENCH_PREFILL_SOCKETS? missing: BENCH_PREFILL_SOCKETS;
    zsock_t *sockets [BENCH_PREFILL_SOCKETS] = { NULL };
    zpost_msg_t *requests [BENCH_PREFILL_SOCKETS] = { NULL };
    zpoller_t *poller = zpoller_new (self->pipe, NULL);
    assert (poller);
    uint64_t sent = 0, done = 0;
    int rc = 0;
    for (size_t i = 0; i < width && rc == 0; i++) {
        sockets [i] = s_client_socket (self);
        if (!sockets [i]) {
            snprintf (self->error, sizeof self->error, "prefill: cannot connect");
            rc = -1;
            break;
        }
        zpoller_add (poller, sockets [i]);
        requests [i] = s_send_request (self, self->username);
        if (zpost_msg_send (requests [i], sockets [i])) {
            snprintf (self->error, sizeof self->error, "prefill: cannot send");
            rc = -1;
        }
        sent++;
    }
    while (rc == 0 && done < missing) {
        zsock_t *which = (zsock_t *) zpoller_wait (poller, self->config->timeout);
        if (!which || which == self->pipe) {
            snprintf (self->error, sizeof self->error, "prefill: %s",
                      which || zpoller_terminated (poller)? "interrupted"
                                                          : "no reply in time");
            rc = -1;
            break;
        }
        size_t i = 0;
        while (sockets [i] != which)
            i++;
        zpost_msg_t *reply = zpost_msg_new ();
        assert (reply);
        if (zpost_msg_recv_reply (reply, which) != 0
        ||  !s_reply_matches (reply, requests [i])
        ||  zpost_msg_status (reply) != ZPOST_OK) {
            snprintf (self->error, sizeof self->error, "prefill: SEND: %d %s",
                      zpost_msg_status (reply), zpost_msg_reason (reply));
            rc = -1;
        }
        zpost_msg_destroy (&reply);
        zpost_msg_destroy (&requests [i]);
        done++;
        if (rc == 0 && sent < missing) {
            requests [i] = s_send_request (self, self->username);
            if (zpost_msg_send (requests [i], which)) {
                snprintf (self->error, sizeof self->error, "prefill: cannot send");
                rc = -1;
            }
            sent++;
        }
    }
    zpoller_destroy (&poller);
    for (size_t i = 0; i < width; i++) {
        zpost_msg_destroy (&requests [i]);
        zsock_destroy (&sockets [i]);
    }
    return rc;
}

//  The ids a READ client cycles over: the newest of our inbox.
static int
s_setup_read_ids (bench_client_t *self)
{
    zpost_msg_t *request = s_client_request (self, ZPOST_CMD_LIST);
    zpost_msg_set (request, ZPOST_F_FOLDER, "inbox");
    zpost_msg_set (request, ZPOST_F_FILTER, "all");
    zpost_msg_set_number (request, ZPOST_F_LIMIT, BENCH_READ_IDS);
    zpost_msg_set_number (request, ZPOST_F_BEFORE, 0);
    zpost_msg_t *reply = s_client_must (self, &request, ZPOST_OK);
    if (!reply)
        return -1;
    size_t rows = zpost_msg_rows (reply);
    self->ids = (uint64_t *) calloc (rows? rows: 1, sizeof (uint64_t));
    assert (self->ids);
    for (size_t row = 0; row < rows; row++)
        self->ids [row] = strtoull (zpost_msg_row_get (reply, row, ZPOST_F_MESSAGE_ID),
                                    NULL, 10);
    self->ids_count = rows;
    zpost_msg_destroy (&reply);
    if (rows == 0) {
        snprintf (self->error, sizeof self->error,
                  "read: %s has an empty inbox (use --setup)", self->username);
        return -1;
    }
    return 0;
}

static int
s_client_setup (bench_client_t *self)
{
    const bench_config_t *config = self->config;
    s_username (config, self->index, self->username, sizeof self->username);

    //  The CURVE handshake, and proof that the broker answers, first
    zpost_msg_t *request = s_client_request (self, ZPOST_CMD_PING);
    zpost_msg_set (request, ZPOST_F_TARGET, "broker");
    zpost_msg_t *reply = s_client_must (self, &request, ZPOST_OK);
    if (!reply)
        return -1;
    zpost_msg_destroy (&reply);
    if (self->op == BENCH_PING_BROKER || self->op == BENCH_PING_STORE)
        return 0;

    //  Users: ours, and those past the last client that SEND names. A
    //  burst client has a user of its own past all of them, always
    //  registered: the burst is there to hash passwords, not to fail.
    int users = config->recipients > config->clients? config->recipients: config->clients;
    if (self->index >= config->clients) {
        s_username (config, users + self->index - config->clients,
                    self->username, sizeof self->username);
        if (s_setup_register (self, users + self->index - config->clients))
            return -1;
    }
    else
    if (config->setup)
        for (int index = self->index; index < users; index += config->clients)
            if (s_setup_register (self, index))
                return -1;

    //  Recipients: the users after ours (ourselves only when alone), so
    //  that every client writes to other inboxes than its own
    if (self->op == BENCH_SEND && config->soak) {
        //  Soak: to ourselves, so that one client can delete both copies
        self->recipients = strdup (self->username);
        assert (self->recipients);
    }
    else
    if (self->op == BENCH_SEND) {
        size_t size = (size_t) config->recipients * (ZPOST_NAME_MAX + 1) + 1;
        self->recipients = (char *) zmalloc (size);
        assert (self->recipients);
        for (int k = 0; k < config->recipients; k++) {
            char name [ZPOST_NAME_MAX + 1];
            s_username (config, (self->index + 1 + k) % users, name, sizeof name);
            if (k)
                strcat (self->recipients, ",");
            strcat (self->recipients, name);
        }
    }
    if (self->op == BENCH_LOGIN)
        return 0;
    if (s_setup_login (self))
        return -1;
    if ((self->op == BENCH_LIST || self->op == BENCH_READ || self->op == BENCH_SEARCH)
    &&  config->setup && s_setup_prefill (self))
        return -1;
    if (self->op == BENCH_READ && s_setup_read_ids (self))
        return -1;
    return 0;
}


//  --------------------------------------------------------------------------
//  The measured loop

static zpost_msg_t *
s_client_next (bench_client_t *self)
{
    const bench_config_t *config = self->config;
    zpost_msg_t *request = NULL;
    switch (self->op) {
        case BENCH_PING_BROKER:
        case BENCH_PING_STORE:
            request = s_client_request (self, ZPOST_CMD_PING);
            zpost_msg_set (request, ZPOST_F_TARGET,
                           self->op == BENCH_PING_BROKER? "broker": "store");
            break;
        case BENCH_SEND:
            request = s_send_request (self, self->recipients);
            break;
        case BENCH_LIST:
            request = s_client_request (self, ZPOST_CMD_LIST);
            zpost_msg_set (request, ZPOST_F_FOLDER, "inbox");
            zpost_msg_set (request, ZPOST_F_FILTER, "all");
            zpost_msg_set_number (request, ZPOST_F_LIMIT, (uint64_t) config->limit);
            zpost_msg_set_number (request, ZPOST_F_BEFORE, 0);
            break;
        case BENCH_READ:
            request = s_client_request (self, ZPOST_CMD_READ);
            zpost_msg_set_number (request, ZPOST_F_MESSAGE_ID,
                                  self->ids [self->sequence % self->ids_count]);
            break;
        case BENCH_LOGIN:
            request = s_client_request (self, ZPOST_CMD_LOGIN);
            zpost_msg_set (request, ZPOST_F_USERNAME, self->username);
            zpost_msg_set (request, ZPOST_F_PASSWORD, BENCH_PASSWORD);
            break;
        case BENCH_SEARCH:
            request = s_client_request (self, ZPOST_CMD_SEARCH);
            zpost_msg_set (request, ZPOST_F_FOLDER, "inbox");
            zpost_msg_set (request, ZPOST_F_WITHIN, "any");
            zpost_msg_set (request, ZPOST_F_QUERY, config->query);
            zpost_msg_set_number (request, ZPOST_F_LIMIT, (uint64_t) config->limit);
            zpost_msg_set_number (request, ZPOST_F_BEFORE, 0);
            break;
        case BENCH_NOTIFY:          //  s_notify_run's own loop
            break;
        case BENCH_OP_COUNT:
            assert (false);
    }
    return request;
}

//  --------------------------------------------------------------------------
//  The notify loop: from a SEND's 200 to the waiting WATCH's answer

static int64_t
    s_run_deadline (const bench_config_t *config);

//  A WATCH on the watch socket, sent and not waited for. 0 or -1.
static int
s_notify_watch (bench_client_t *self, zsock_t *watch, uint64_t since, uint64_t unread,
                int timeout, zpost_msg_t **request_p)
{
    zpost_msg_t *request = s_client_request (self, ZPOST_CMD_WATCH);
    zpost_msg_set_number (request, ZPOST_F_SINCE, since);
    zpost_msg_set_number (request, ZPOST_F_UNREAD, unread);
    zpost_msg_set_number (request, ZPOST_F_TIMEOUT, (uint64_t) timeout);
    *request_p = request;
    return zpost_msg_send (request, watch);
}

//  The WATCH's reply within msecs: 200 with the inbox in *since, *unread;
//  NULL if none came. The caller destroys it.
static zpost_msg_t *
s_notify_reply (zsock_t *watch, zpost_msg_t *request, int msecs, uint64_t *since,
                uint64_t *unread)
{
    zmq_pollitem_t item = { zsock_resolve (watch), 0, ZMQ_POLLIN, 0 };
    if (zmq_poll (&item, 1, msecs) != 1)
        return NULL;
    zpost_msg_t *reply = zpost_msg_new ();
    assert (reply);
    if (zpost_msg_recv_reply (reply, watch) != 0 || !s_reply_matches (reply, request)) {
        zpost_msg_destroy (&reply);
        return NULL;
    }
    if (zpost_msg_status (reply) == ZPOST_OK) {
        uint64_t newest = strtoull (zpost_msg_get (reply, ZPOST_F_MESSAGE_ID), NULL, 10);
        *since = newest > *since? newest: *since;
        *unread = strtoull (zpost_msg_get (reply, ZPOST_F_UNREAD), NULL, 10);
    }
    return reply;
}

static void
s_notify_run (bench_client_t *self, uint64_t quota)
{
    const bench_config_t *config = self->config;
    bench_result_t *result = self->result;
    int64_t deadline = s_run_deadline (config);
    zsock_t *watch = s_client_socket (self);
    if (!watch) {
        result->errors [BENCH_SEND_FAILED]++;
        return;
    }
    uint64_t since = 0, unread = 0;
    zpost_msg_t *request = NULL;
    zpost_msg_t *reply = NULL;
    //  Where the inbox stands
    if (s_notify_watch (self, watch, 0, 0, 0, &request) == 0)
        reply = s_notify_reply (watch, request, config->timeout, &since, &unread);
    if (!reply || zpost_msg_status (reply) != ZPOST_OK) {
        result->errors [reply? zpost_msg_status (reply): BENCH_TIMEOUTS]++;
        zpost_msg_destroy (&reply);
        zpost_msg_destroy (&request);
        zsock_destroy (&watch);
        return;
    }
    zpost_msg_destroy (&reply);
    zpost_msg_destroy (&request);
    uint64_t done = 0;
    int timeout = config->timeout + BENCH_WATCH_WAIT * 1000;
    while (done < quota && !zsys_interrupted && !self->terminated
        && zclock_usecs () < deadline) {
        if (s_notify_watch (self, watch, since, unread, BENCH_WATCH_WAIT, &request)) {
            result->errors [BENCH_SEND_FAILED]++;
            zpost_msg_destroy (&request);
            break;
        }
        //  Answered already: the inbox was not as we knew it; again
        reply = s_notify_reply (watch, request, BENCH_PARK, &since, &unread);
        if (reply) {
            zpost_msg_destroy (&reply);
            zpost_msg_destroy (&request);
            continue;
        }
        if (done == 0)
            result->started = zclock_usecs ();
        zpost_msg_t *send = s_send_request (self, self->username);
        int failure;
        zpost_msg_t *sent = s_client_call (self, send, &failure);
        int64_t committed = zclock_usecs ();
        bool ok = sent && zpost_msg_status (sent) == ZPOST_OK;
        if (!ok) {
            if (sent)
                result->errors [zpost_msg_status (sent) % BENCH_STATUS_SLOTS]++;
            else
            if (!zsys_interrupted && !self->terminated)
                result->errors [failure]++;
        }
        zpost_msg_destroy (&sent);
        zpost_msg_destroy (&send);
        reply = s_notify_reply (watch, request, timeout, &since, &unread);
        int64_t woken = zclock_usecs ();
        if (reply && zpost_msg_status (reply) == ZPOST_OK && ok)
            s_result_sample (result, woken - committed);
        else
        if (reply && zpost_msg_status (reply) != ZPOST_OK)
            result->errors [zpost_msg_status (reply) % BENCH_STATUS_SLOTS]++;
        else
        if (!reply) {
            result->errors [BENCH_TIMEOUTS]++;
            zsock_destroy (&watch);         //  a REQ socket owes a reply: a new one
            watch = s_client_socket (self);
        }
        zpost_msg_destroy (&reply);
        zpost_msg_destroy (&request);
        result->finished = woken;
        done++;
        if (!watch)
            break;
    }
    zsock_destroy (&watch);
}

//  When a client's run must end: --seconds from now, or never
static int64_t
s_run_deadline (const bench_config_t *config)
{
    return config->seconds > 0
         ? zclock_usecs () + (int64_t) (config->seconds * 1e6): INT64_MAX;
}

static void
s_client_run (bench_client_t *self, uint64_t quota)
{
    const bench_config_t *config = self->config;
    bench_result_t *result = self->result;
    int64_t deadline = s_run_deadline (config);
    uint64_t done = 0;
    while (done < quota && !zsys_interrupted && !self->terminated) {
        int64_t start = zclock_usecs ();
        if (start >= deadline)
            break;
        if (done == 0)
            result->started = start;
        //  The request is built inside the timed span: a real client
        //  builds its request too, and it is the codec's cost
        zpost_msg_t *request = s_client_next (self);
        int failure;
        zpost_msg_t *reply = s_client_call (self, request, &failure);
        int64_t end = zclock_usecs ();
        if (reply && zpost_msg_status (reply) == ZPOST_OK)
            s_result_sample (result, end - start);
        else
        if (reply) {
            int status = zpost_msg_status (reply);
            result->errors [status >= 0 && status < BENCH_STATUS_SLOTS? status: 0]++;
        }
        else
        if (!zsys_interrupted && !self->terminated)
            result->errors [failure]++;
        zpost_msg_destroy (&reply);
        zpost_msg_destroy (&request);
        result->finished = end;
        done++;
    }
}


//  --------------------------------------------------------------------------
//  The soak loop

//  Count a failed call: a reply that is not 200 under its status, a lost
//  one under its kind (not when we were told to stop).
static void
s_soak_failed (bench_client_t *self, zpost_msg_t *reply, int failure)
{
    if (reply) {
        int status = zpost_msg_status (reply);
        self->result->errors [status >= 0 && status < BENCH_STATUS_SLOTS? status: 0]++;
    }
    else
    if (!zsys_interrupted && !self->terminated)
        self->result->errors [failure]++;
}

//  LOGIN as our user. With keep, the token becomes our session's; without,
//  it is dropped at once (an orphan, as a retried LOGIN whose first reply
//  was lost leaves). A busy answer (429, 503, a lost reply) is tried again
//  after a pause, a bounded number of times. 0 or -1.
static int
s_soak_login (bench_client_t *self, bool keep)
{
    for (int attempt = 0; attempt < BENCH_SOAK_TRIES; attempt++) {
        if (zsys_interrupted || self->terminated)
            return -1;
        if (attempt)
            zclock_sleep (BENCH_SOAK_PAUSE);
        zpost_msg_t *request = s_client_request (self, ZPOST_CMD_LOGIN);
        zpost_msg_set (request, ZPOST_F_USERNAME, self->username);
        zpost_msg_set (request, ZPOST_F_PASSWORD, BENCH_PASSWORD);
        int failure;
        zpost_msg_t *reply = s_client_call (self, request, &failure);
        zpost_msg_destroy (&request);
        if (reply && zpost_msg_status (reply) == ZPOST_OK) {
            if (keep) {
                if (self->token) {
                    sodium_memzero (self->token, strlen (self->token));
                    free (self->token);
                }
                self->token = strdup (zpost_msg_get (reply, ZPOST_F_TOKEN));
                assert (self->token);
            }
            zpost_msg_destroy (&reply);
            return 0;
        }
        s_soak_failed (self, reply, failure);
        bool again = !reply
                  || zpost_msg_status (reply) == ZPOST_THROTTLED
                  || zpost_msg_status (reply) == ZPOST_STORE_UNAVAILABLE;
        zpost_msg_destroy (&reply);
        if (!again)
            return -1;
    }
    return -1;
}

//  SEND to ourselves (message_id 0) or DELETE message_id from folder. A
//  401 means our session has ended (--session-idle, --session-max): log in
//  again and send the request once more, with a new request id. Returns
//  the 200 reply, or NULL with the failure counted.
static zpost_msg_t *
s_soak_call (bench_client_t *self, const char *folder, uint64_t message_id)
{
    for (int attempt = 0; attempt < 2; attempt++) {
        zpost_msg_t *request;
        if (folder) {
            request = s_client_request (self, ZPOST_CMD_DELETE);
            zpost_msg_set (request, ZPOST_F_FOLDER, folder);
            zpost_msg_set_number (request, ZPOST_F_MESSAGE_ID, message_id);
        }
        else
            request = s_send_request (self, self->recipients);
        int failure;
        zpost_msg_t *reply = s_client_call (self, request, &failure);
        zpost_msg_destroy (&request);
        if (reply && zpost_msg_status (reply) == ZPOST_OK)
            return reply;
        if (attempt == 0 && reply
        &&  zpost_msg_status (reply) == ZPOST_NOT_LOGGED_IN) {
            zpost_msg_destroy (&reply);
            if (s_soak_login (self, true))
                return NULL;
            atomic_fetch_add (&self->config->counters->relogins, 1);
            continue;
        }
        s_soak_failed (self, reply, failure);
        zpost_msg_destroy (&reply);
        return NULL;
    }
    return NULL;
}

//  Up to quota SENDs, each followed by its two DELETEs; a SEND's latency
//  is a sample. Stops at the deadline, or when told to.
static void
s_soak_run (bench_client_t *self, uint64_t quota)
{
    const bench_config_t *config = self->config;
    bench_soak_t *counters = config->counters;
    bench_result_t *result = self->result;
    int64_t deadline = s_run_deadline (config);
    uint64_t done = 0;
    while (done < quota && !zsys_interrupted && !self->terminated) {
        int64_t start = zclock_usecs ();
        if (start >= deadline)
            break;
        if (result->started == 0)
            result->started = start;
        zpost_msg_t *reply = s_soak_call (self, NULL, 0);
        int64_t end = zclock_usecs ();
        result->finished = end;
        done++;
        if (!reply)
            continue;
        uint64_t message_id = zpost_msg_get_number (reply, ZPOST_F_MESSAGE_ID);
        zpost_msg_destroy (&reply);
        s_result_sample (result, end - start);
        uint64_t sends = atomic_fetch_add (&counters->sends, 1) + 1;
        const char *folders [] = { "inbox", "sent" };
        for (int folder = 0; folder < 2; folder++) {
            reply = s_soak_call (self, folders [folder], message_id);
            if (reply)
                atomic_fetch_add (&counters->deletes, 1);
            zpost_msg_destroy (&reply);
        }
        if (config->orphan_every && sends % config->orphan_every == 0
        &&  s_soak_login (self, false) == 0)
            atomic_fetch_add (&counters->orphans, 1);
        result->finished = zclock_usecs ();
    }
}

//  The actor: setup, READY, wait for GO, run, DONE, wait for $TERM.
static void
s_client_actor (zsock_t *pipe, void *args)
{
    bench_client_t *self = (bench_client_t *) args;
    self->pipe = pipe;
    self->cert = zcert_new ();
    assert (self->cert);
    self->result = s_result_new ();
    zsock_signal (pipe, 0);

    int rc = s_client_setup (self);
    zstr_sendx (pipe, "READY", rc == 0? "0": "-1", self->error, NULL);
    bool running = true;
    while (running) {
        char *command = NULL, *argument = NULL;
        if (zstr_recvx (pipe, &command, &argument, NULL) < 1)
            break;
        if (streq (command, "GO") && rc == 0 && argument) {
            if (self->config->soak)
                s_soak_run (self, strtoull (argument, NULL, 10));
            else
            if (self->op == BENCH_NOTIFY)
                s_notify_run (self, strtoull (argument, NULL, 10));
            else
                s_client_run (self, strtoull (argument, NULL, 10));
            zsock_send (pipe, "sp", "DONE", self->result);
            self->result = NULL;
        }
        else
        if (streq (command, "$TERM"))
            running = false;
        zstr_free (&command);
        zstr_free (&argument);
    }
    s_client_close (self);
    s_result_destroy (&self->result);
    zcert_destroy (&self->cert);
    free (self->recipients);
    free (self->ids);
    if (self->token) {
        sodium_memzero (self->token, strlen (self->token));
        free (self->token);
    }
}


//  --------------------------------------------------------------------------
//  Report

static int
s_compare (const void *a, const void *b)
{
    int64_t x = *(const int64_t *) a, y = *(const int64_t *) b;
    return (x > y) - (x < y);
}

//  Nearest-rank percentile of sorted samples, in msecs
static double
s_percentile (const int64_t *sorted, size_t count, double p)
{
    if (count == 0)
        return 0;
    size_t rank = (size_t) ceil (p * (double) count);
    if (rank < 1)
        rank = 1;
    return (double) sorted [rank - 1] / 1000.0;
}

static const char *
s_error_name (int slot, char *buffer, size_t size)
{
    if (slot == BENCH_TIMEOUTS)
        return "timeout";
    if (slot == BENCH_MALFORMED)
        return "malformed";
    if (slot == BENCH_SEND_FAILED)
        return "send-failed";
    snprintf (buffer, size, "%03d", slot);
    return buffer;
}

//  The merged figures of a group of clients
typedef struct {
    size_t ops;                 //  successful operations
    double seconds;             //  first send to last reply
    double rate;                //  ops per second
    double p50, p90, p99, max;  //  latency, msecs
    uint64_t errors [BENCH_ERROR_SLOTS];    //  failures by slot
    uint64_t error_count;       //  all failures
} bench_summary_t;

static void
s_summarize (bench_result_t **results, int count, bench_summary_t *summary)
{
    memset (summary, 0, sizeof *summary);
    int64_t started = INT64_MAX, finished = 0;
    for (int i = 0; i < count; i++) {
        summary->ops += results [i]->samples_used;
        for (int slot = 0; slot < BENCH_ERROR_SLOTS; slot++) {
            summary->errors [slot] += results [i]->errors [slot];
            summary->error_count += results [i]->errors [slot];
        }
        if (results [i]->started == 0)
            continue;           //  its share of --count was nothing
        if (results [i]->started < started)
            started = results [i]->started;
        if (results [i]->finished > finished)
            finished = results [i]->finished;
    }
    size_t total = summary->ops;
    int64_t *all = (int64_t *) malloc ((total? total: 1) * sizeof (int64_t));
    assert (all);
    size_t used = 0;
    for (int i = 0; i < count; i++) {
        memcpy (all + used, results [i]->samples,
                results [i]->samples_used * sizeof (int64_t));
        used += results [i]->samples_used;
    }
    qsort (all, total, sizeof (int64_t), s_compare);
    summary->seconds = finished > started? (double) (finished - started) / 1e6: 0;
    summary->rate = summary->seconds > 0? (double) total / summary->seconds: 0;
    summary->p50 = s_percentile (all, total, 0.50);
    summary->p90 = s_percentile (all, total, 0.90);
    summary->p99 = s_percentile (all, total, 0.99);
    summary->max = total? (double) all [total - 1] / 1000.0: 0;
    free (all);
}

static void
s_print_json (bench_summary_t *summary)
{
    char name [8];
    printf ("\"ops\":%zu,\"seconds\":%.3f,\"throughput\":%.1f,"
            "\"p50_ms\":%.3f,\"p90_ms\":%.3f,\"p99_ms\":%.3f,\"max_ms\":%.3f,"
            "\"errors\":%" PRIu64 ",\"errors_by_status\":{",
            summary->ops, summary->seconds, summary->rate, summary->p50,
            summary->p90, summary->p99, summary->max, summary->error_count);
    bool first = true;
    for (int slot = 0; slot < BENCH_ERROR_SLOTS; slot++)
        if (summary->errors [slot]) {
            printf ("%s\"%s\":%" PRIu64, first? "": ",",
                    s_error_name (slot, name, sizeof name), summary->errors [slot]);
            first = false;
        }
    printf ("}");
}

static void
s_print_text (bench_summary_t *summary)
{
    char name [8];
    printf ("  operations  %zu in %.3f s\n", summary->ops, summary->seconds);
    printf ("  throughput  %.1f ops/s\n", summary->rate);
    printf ("  latency ms  p50 %.3f  p90 %.3f  p99 %.3f  max %.3f\n",
            summary->p50, summary->p90, summary->p99, summary->max);
    printf ("  errors      %" PRIu64, summary->error_count);
    for (int slot = 0; slot < BENCH_ERROR_SLOTS; slot++)
        if (summary->errors [slot])
            printf ("  %s: %" PRIu64, s_error_name (slot, name, sizeof name),
                    summary->errors [slot]);
    printf ("\n");
}

//  Merge the clients' results and print them: the measured clients, then
//  the login burst if there was one. Returns the error count of both.
static uint64_t
s_report (const bench_config_t *config, bench_result_t **results)
{
    bench_summary_t main, burst;
    s_summarize (results, config->clients, &main);
    s_summarize (results + config->clients, config->burst, &burst);
    if (config->json) {
        printf ("{\"op\":\"%s\",\"clients\":%d,\"brokers\":%d,\"body\":%zu,"
                "\"recipients\":%d,\"limit\":%d,", s_op_names [config->op],
                config->clients, config->endpoint_count, config->body,
                config->recipients, config->limit);
        s_print_json (&main);
        if (config->burst) {
            printf (",\"login_burst\":{\"clients\":%d,", config->burst);
            s_print_json (&burst);
            printf ("}");
        }
        printf ("}\n");
    }
    else {
        printf ("zpost-bench: %s, %d client%s", s_op_names [config->op],
                config->clients, config->clients == 1? "": "s");
        if (config->endpoint_count > 1)
            printf (" over %d brokers", config->endpoint_count);
        if (config->op == BENCH_SEND)
            printf (", body %zu bytes, %d recipient%s", config->body,
                    config->recipients, config->recipients == 1? "": "s");
        if (config->op == BENCH_LIST)
            printf (", limit %d", config->limit);
        if (config->op == BENCH_SEARCH)
            printf (", limit %d, query \"%s\"", config->limit, config->query);
        printf ("\n");
        s_print_text (&main);
        if (config->burst) {
            printf ("zpost-bench: meanwhile, login burst, %d client%s\n",
                    config->burst, config->burst == 1? "": "s");
            s_print_text (&burst);
        }
    }
    fflush (stdout);
    return main.error_count + burst.error_count;
}


//  --------------------------------------------------------------------------
//  The soak's main thread: a probe client of its own for STATS server, a
//  line of figures at every tenth of the sends, a summary

//  One line of figures; -1 for one that could not be had
typedef struct {
    const char *label;
    double elapsed;             //  seconds since GO (or since the end)
    uint64_t sends, deletes, relogins, orphans;
    int64_t window;             //  sends in the last reply-keep seconds
    int64_t replies, sessions, messages, map_used, map_size, commits;
    int64_t file_bytes;         //  data.mdb st_size
} bench_point_t;

//  Sends counted at each poll: (usecs, sends), to know how many fell in
//  the last reply-keep seconds
typedef struct {
    int64_t *usecs;
    uint64_t *sends;
    size_t used, size;
} bench_history_t;

static void
s_history_add (bench_history_t *self, int64_t usecs, uint64_t sends)
{
    if (self->used == self->size) {
        self->size = self->size? self->size * 2: 1024;
        self->usecs = (int64_t *) realloc (self->usecs, self->size * sizeof (int64_t));
        self->sends = (uint64_t *) realloc (self->sends, self->size * sizeof (uint64_t));
        assert (self->usecs && self->sends);
    }
    self->usecs [self->used] = usecs;
    self->sends [self->used] = sends;
    self->used++;
}

//  Sends since usecs: the count now less the last one taken at or before
static int64_t
s_history_since (bench_history_t *self, int64_t usecs, uint64_t now)
{
    uint64_t before = 0;
    for (size_t i = self->used; i-- > 0; )
        if (self->usecs [i] <= usecs) {
            before = self->sends [i];
            break;
        }
    return (int64_t) (now - before);
}

//  The STATS rows the soak reads, and where each goes in a point
static const struct {
    const char *name;
    size_t offset;
} s_soak_stats_read [] = {
    { "replies", offsetof (bench_point_t, replies) },
    { "sessions", offsetof (bench_point_t, sessions) },
    { "messages", offsetof (bench_point_t, messages) },
    { "map-used", offsetof (bench_point_t, map_used) },
    { "map-size", offsetof (bench_point_t, map_size) },
    { "commits", offsetof (bench_point_t, commits) },
};

//  STATS server into the point; a 401 (the probe's session ended too)
//  logs in again once. 0 or -1.
static int
s_soak_stats (bench_client_t *probe, bench_point_t *point)
{
    point->replies = point->sessions = point->messages = -1;
    point->map_used = point->map_size = point->commits = -1;
    probe->terminated = false;      //  no pipe: a lost reply is not a stop
    for (int attempt = 0; attempt < 2; attempt++) {
        zpost_msg_t *request = s_client_request (probe, ZPOST_CMD_STATS);
        zpost_msg_set (request, ZPOST_F_SCOPE, "server");
        int failure;
        zpost_msg_t *reply = s_client_call (probe, request, &failure);
        zpost_msg_destroy (&request);
        if (reply && zpost_msg_status (reply) == ZPOST_NOT_LOGGED_IN && attempt == 0) {
            zpost_msg_destroy (&reply);
            if (s_soak_login (probe, true))
                return -1;
            continue;
        }
        if (!reply || zpost_msg_status (reply) != ZPOST_OK) {
            zpost_msg_destroy (&reply);
            return -1;
        }
        for (size_t row = 0; row < zpost_msg_rows (reply); row++) {
            const char *name = zpost_msg_row_get (reply, row, ZPOST_F_STAT_NAME);
            int64_t value = atoll (zpost_msg_row_get (reply, row, ZPOST_F_STAT_VALUE));
            for (size_t stat = 0; stat < sizeof s_soak_stats_read / sizeof s_soak_stats_read [0]; stat++)
                if (streq (name, s_soak_stats_read [stat].name))
                    *(int64_t *) ((char *) point + s_soak_stats_read [stat].offset) = value;
        }
        zpost_msg_destroy (&reply);
        return 0;
    }
    return -1;
}

//  Take one point: the counters, the store's figures, the file's size
static void
s_soak_point (const bench_config_t *config, bench_client_t *probe,
              bench_history_t *history, const char *label, double elapsed,
              bench_point_t *point)
{
    bench_soak_t *counters = config->counters;
    memset (point, 0, sizeof *point);
    point->label = label;
    point->elapsed = elapsed;
    point->sends = atomic_load (&counters->sends);
    point->deletes = atomic_load (&counters->deletes);
    point->relogins = atomic_load (&counters->relogins);
    point->orphans = atomic_load (&counters->orphans);
    point->window = config->reply_keep > 0
        ? s_history_since (history, zclock_usecs ()
                           - (int64_t) (config->reply_keep * 1e6), point->sends)
        : -1;
    s_soak_stats (probe, point);
    point->file_bytes = -1;
    if (config->data_dir) {
        char *path = zsys_sprintf ("%s/data.mdb", config->data_dir);
        assert (path);
        struct stat status;
        if (stat (path, &status) == 0)
            point->file_bytes = (int64_t) status.st_size;
        zstr_free (&path);
    }
}

static void
s_soak_print (bench_point_t *point, double rate)
{
    printf ("%-8s %8.1f %9" PRIu64 " %8.0f %8" PRId64 " %8" PRId64 " %8" PRId64
            " %8" PRId64 " %6" PRIu64 " %7" PRIu64 " %12" PRId64 " %12" PRId64 "\n",
            point->label, point->elapsed, point->sends, rate, point->window,
            point->replies, point->sessions, point->messages, point->orphans,
            point->relogins, point->map_used, point->file_bytes);
    fflush (stdout);
}

//  Runs the soak once every client is READY: GO, a line at every tenth,
//  the end, the summary, and a last line once the retention has passed
//  with nothing sent. Collects the results; returns the clients that
//  reported.
static int
s_soak (bench_config_t *config, zactor_t **actors, bench_result_t **results)
{
    bench_client_t probe = { .config = config, .index = config->clients };
    probe.cert = zcert_new ();
    assert (probe.cert);
    probe.result = s_result_new ();
    s_username (config, config->clients, probe.username, sizeof probe.username);
    if (s_setup_register (&probe, config->clients) || s_setup_login (&probe)) {
        fprintf (stderr, "zpost-bench: soak: the STATS client: %s\n", probe.error);
        s_client_close (&probe);
        zcert_destroy (&probe.cert);
        s_result_destroy (&probe.result);
        return -1;
    }
    int count = config->clients;
    char cap [64] = "";
    if (config->seconds > 0)
        snprintf (cap, sizeof cap, "; capped at %g s", config->seconds);
    printf ("zpost-bench: soak, %" PRIu64 " sends by %d client%s (each to itself,"
            " body %zu bytes, then DELETE from inbox and sent: stored mail stays"
            " at most one message per client), an orphan LOGIN every %" PRIu64
            " sends, a new LOGIN whenever a session ends (401)%s\n",
            config->soak, count, count == 1? "": "s", config->body,
            config->orphan_every, cap);
    printf ("%-8s %8s %9s %8s %8s %8s %8s %8s %6s %7s %12s %12s\n", "point",
            "elapsed", "sends", "sends/s", "window", "replies", "sessions",
            "messages", "orphan", "relogin", "map-used", "data.mdb");
    bench_history_t history = { .usecs = NULL };
    bench_point_t points [16];
    int point_count = 0;
    s_soak_point (config, &probe, &history, "before", 0, &points [point_count]);
    s_soak_print (&points [point_count++], 0);

    int64_t started = zclock_usecs ();
    s_history_add (&history, started, 0);
    for (int i = 0; i < count; i++) {
        uint64_t quota = config->soak / (uint64_t) count
                       + ((uint64_t) i < config->soak % (uint64_t) count? 1: 0);
        char text [24];
        snprintf (text, sizeof text, "%" PRIu64, quota);
        zstr_sendx (actors [i], "GO", text, NULL);
    }
    zpoller_t *poller = zpoller_new (NULL);
    assert (poller);
    for (int i = 0; i < count; i++)
        zpoller_add (poller, actors [i]);
    int collected = 0;
    int tenth = 1;
    int64_t last_usecs = started;
    uint64_t last_sends = 0;
    double cap_step = config->seconds > 0? config->seconds / 10: 0;
    while (collected < count) {
        void *which = zpoller_wait (poller, 100);
        if (which) {
            char *command = NULL;
            void *result = NULL;
            if (zsock_recv (which, "sp", &command, &result) == 0
            &&  command && streq (command, "DONE"))
                results [collected++] = (bench_result_t *) result;
            zstr_free (&command);
            zpoller_remove (poller, which);
        }
        else
        if (zpoller_terminated (poller))
            break;
        int64_t now = zclock_usecs ();
        uint64_t sends = atomic_load (&config->counters->sends);
        s_history_add (&history, now, sends);
        double elapsed = (double) (now - started) / 1e6;
        bool due = sends >= config->soak / 10 * (uint64_t) tenth
                || (cap_step > 0 && elapsed >= cap_step * tenth);
        if (due && tenth < 10 && collected < count) {
            static char labels [10][8];
            snprintf (labels [tenth], sizeof labels [tenth], "%d%%", tenth * 10);
            bench_point_t *point = &points [point_count++];
            s_soak_point (config, &probe, &history, labels [tenth], elapsed, point);
            double rate = now > last_usecs
                ? (double) (point->sends - last_sends) * 1e6 / (double) (now - last_usecs): 0;
            s_soak_print (point, rate);
            last_usecs = now;
            last_sends = point->sends;
            while (tenth < 10 && (sends >= config->soak / 10 * (uint64_t) tenth
                               || (cap_step > 0 && elapsed >= cap_step * tenth)))
                tenth++;
        }
    }
    zpoller_destroy (&poller);
    int64_t ended = zclock_usecs ();
    double elapsed = (double) (ended - started) / 1e6;
    bench_point_t *end = &points [point_count++];
    s_soak_point (config, &probe, &history, "end", elapsed, end);
    s_soak_print (end, elapsed > 0? (double) end->sends / elapsed: 0);

    //  Nothing sent for one retention (and a little): the sweeps must
    //  take the counts down to the live sessions alone
    bench_point_t *idle = NULL;
    if (config->retention > 0 && collected == count && !zsys_interrupted) {
        int64_t until = zclock_usecs () + (int64_t) ((config->retention + 3) * 1e6);
        while (zclock_usecs () < until && !zsys_interrupted)
            zclock_sleep (100);
        idle = &points [point_count++];
        s_soak_point (config, &probe, &history, "idle",
                      (double) (zclock_usecs () - ended) / 1e6, idle);
        s_soak_print (idle, 0);
    }

    //  After the first retention: each figure's least and most, and the
    //  file's growth from the first point past it to the end
    if (config->retention > 0) {
        int64_t low [3] = { INT64_MAX, INT64_MAX, INT64_MAX }, high [3] = { -1, -1, -1 };
        bench_point_t *first = NULL;
        for (int i = 1; i < point_count; i++) {
            bench_point_t *point = &points [i];
            if (point == idle || point->elapsed < config->retention)
                continue;
            if (!first)
                first = point;
            int64_t values [3] = { point->replies, point->sessions, point->file_bytes };
            for (int k = 0; k < 3; k++) {
                if (values [k] < low [k])
                    low [k] = values [k];
                if (values [k] > high [k])
                    high [k] = values [k];
            }
        }
        if (first)
            printf ("soak: after the first %g s: replies %" PRId64 "..%" PRId64
                    ", sessions %" PRId64 "..%" PRId64 ", data.mdb %" PRId64
                    " -> %" PRId64 " bytes (%+.1f%%) from %s to end\n",
                    config->retention, low [0], high [0], low [1], high [1],
                    first->file_bytes, end->file_bytes, first->file_bytes > 0
                    ? 100.0 * (double) (end->file_bytes - first->file_bytes)
                            / (double) first->file_bytes: 0, first->label);
        else
            printf ("soak: no point past the first %g s: run longer\n",
                    config->retention);
    }
    printf ("soak: %" PRIu64 " sends, %" PRIu64 " deletes, %" PRIu64
            " orphan logins, %" PRIu64 " logins after a 401, in %.1f s: %.0f sends/s\n",
            end->sends, end->deletes, end->orphans, end->relogins, elapsed,
            elapsed > 0? (double) end->sends / elapsed: 0);
    fflush (stdout);
    free (history.usecs);
    free (history.sends);
    s_client_close (&probe);
    zcert_destroy (&probe.cert);
    s_result_destroy (&probe.result);
    if (probe.token) {
        sodium_memzero (probe.token, strlen (probe.token));
        free (probe.token);
    }
    return collected;
}


//  --------------------------------------------------------------------------
//  Command line

static void
s_usage (FILE *out)
{
    fprintf (out,
"usage: zpost-bench [options]\n"
"\n"
"Load a zpost broker with concurrent clients and print throughput and\n"
"latency percentiles. Each client is a thread with its own REQ socket and\n"
"its own CURVE key pair, and keeps one request in flight.\n"
"\n"
"  -s, --server EP[,EP]  broker front, tcp://HOST:PORT (default tcp://127.0.0.1:5321);\n"
"                        a comma-separated list (at most %d, brokers sharing\n"
"                        one key pair): client i uses broker i mod the count,\n"
"                        and only that one (no failover)\n"
"  -k, --server-key KEY  the broker's public key: 40 Z85 characters or a file\n"
"  -c, --clients N       concurrent clients (default 1, at most %d)\n"
"  -o, --op OP           ping-broker, ping-store, send, list, read, login or\n"
"                        notify (the time from a SEND's 200 to the WATCH it\n"
"                        ends), search (default ping-store)\n"
"  -n, --count N         stop after N operations in all\n"
"  -t, --seconds S       stop after S seconds (default %g if no --count)\n"
"      --body BYTES      body of each send (default 1024)\n"
"      --recipients N    recipients of each send (default 1)\n"
"      --limit N         rows of each list or search (default 50)\n"
"      --query TEXT      search: the query, in any field of the inbox\n"
"                        (default \"" BENCH_QUERY "\", which the search op's\n"
"                        bodies, English words, never hold)\n"
"      --setup           register the users PREFIX<clients>-<i> (an existing\n"
"                        one is fine), and for list, read and search fill\n"
"                        each inbox\n"
"                        up to --prefill messages\n"
"      --prefill N       messages per inbox with --setup (default %d)\n"
"      --prefix TEXT     username prefix (default \"bench\")\n"
"      --timeout MS      wait this long for each reply (default %d)\n"
"      --login-burst N   meanwhile, N more clients log in again and again\n"
"                        (Argon2id), each as a user of its own, for as long\n"
"                        as the measured clients run; reported apart\n"
"      --json            print one JSON object instead of text\n"
"      --soak N          instead: N sends in all, each to the sender, then\n"
"                        DELETEd from its inbox and sent folder; a new LOGIN\n"
"                        whenever a session ends; prints the store's STATS\n"
"                        server figures before, at each tenth, at the end\n"
"      --orphan-every N  soak: an abandoned LOGIN every N sends (default %d,\n"
"                        0 none)\n"
"      --reply-keep S    soak: the store's --reply-keep, for the \"window\"\n"
"                        column (sends in the last S seconds)\n"
"      --retention S     soak: the store's longest retention; summarise the\n"
"                        figures past it, and take one more after S + 3 s idle\n"
"      --data DIR        soak: the store's data directory, for data.mdb's size\n"
"  -v, --verbose         log the setup\n"
"  -h, --help            print this help and exit\n"
"\n"
"Every operation but ping needs users: give --setup on the first run\n"
"against a store. Users log in before the clock starts (except for\n"
"login, which is what is measured). Exit status: 0 no errors, 1 some\n"
"operations failed, 2 usage, 3 setup failed.\n",
        BENCH_BROKERS_MAX, BENCH_CLIENTS_MAX, BENCH_SECONDS, BENCH_PREFILL,
        BENCH_TIMEOUT, BENCH_ORPHAN_EVERY);
}

static int
s_parse_number (const char *text, const char *option, uint64_t min,
                uint64_t max, uint64_t *value)
{
    char *end;
    errno = 0;
    unsigned long long number = strtoull (text, &end, 10);
    if (errno || end == text || *end || *text == '-' || number < min || number > max) {
        fprintf (stderr, "zpost-bench: %s wants a number from %" PRIu64
                 " to %" PRIu64 ", not \"%s\"\n", option, min, max, text);
        return -1;
    }
    *value = number;
    return 0;
}

//  The broker's endpoint: tcp://host:port as given, or host[:port]
static char *
s_endpoint (const char *server)
{
    if (strstr (server, "://"))
        return strdup (server);
    if (strchr (server, ':'))
        return zsys_sprintf ("tcp://%s", server);
    return zsys_sprintf ("tcp://%s:5321", server);
}

//  --server's list into config->endpoints; each entry as s_endpoint reads
//  one. Returns 0, or -1 having said why.
static int
s_endpoints (bench_config_t *config, const char *server)
{
    config->endpoints = (char **) calloc (BENCH_BROKERS_MAX, sizeof (char *));
    assert (config->endpoints);
    const char *entry = server;
    while (true) {
        size_t length = strcspn (entry, ",");
        if (length == 0) {
            fprintf (stderr, "zpost-bench: --server \"%s\" has an empty entry\n", server);
            return -1;
        }
        if (config->endpoint_count == BENCH_BROKERS_MAX) {
            fprintf (stderr, "zpost-bench: --server lists more than %d brokers\n",
                     BENCH_BROKERS_MAX);
            return -1;
        }
        char *one = strndup (entry, length);
        assert (one);
        config->endpoints [config->endpoint_count++] = s_endpoint (one);
        assert (config->endpoints [config->endpoint_count - 1]);
        free (one);
        if (entry [length] == 0)
            return 0;
        entry += length + 1;
    }
}

static void
s_endpoints_free (bench_config_t *config)
{
    for (int index = 0; index < config->endpoint_count; index++)
        free (config->endpoints [index]);
    free (config->endpoints);
    config->endpoints = NULL;
    config->endpoint_count = 0;
}

static int
s_parse (bench_config_t *config, int argc, char *argv [])
{
    enum { O_QUERY = 200, O_BODY = 256, O_RECIPIENTS, O_LIMIT, O_SETUP, O_PREFILL, O_PREFIX,
           O_TIMEOUT, O_JSON, O_BURST, O_SOAK, O_ORPHAN, O_RETENTION,
           O_REPLY_KEEP, O_DATA };
    static const struct option options [] = {
        { "server",     required_argument, NULL, 's' },
        { "server-key", required_argument, NULL, 'k' },
        { "clients",    required_argument, NULL, 'c' },
        { "op",         required_argument, NULL, 'o' },
        { "count",      required_argument, NULL, 'n' },
        { "seconds",    required_argument, NULL, 't' },
        { "body",       required_argument, NULL, O_BODY },
        { "recipients", required_argument, NULL, O_RECIPIENTS },
        { "limit",      required_argument, NULL, O_LIMIT },
        { "setup",      no_argument,       NULL, O_SETUP },
        { "prefill",    required_argument, NULL, O_PREFILL },
        { "query",      required_argument, NULL, O_QUERY },
        { "prefix",     required_argument, NULL, O_PREFIX },
        { "timeout",    required_argument, NULL, O_TIMEOUT },
        { "json",       no_argument,       NULL, O_JSON },
        { "login-burst", required_argument, NULL, O_BURST },
        { "soak",       required_argument, NULL, O_SOAK },
        { "orphan-every", required_argument, NULL, O_ORPHAN },
        { "retention",  required_argument, NULL, O_RETENTION },
        { "reply-keep", required_argument, NULL, O_REPLY_KEEP },
        { "data",       required_argument, NULL, O_DATA },
        { "verbose",    no_argument,       NULL, 'v' },
        { "help",       no_argument,       NULL, 'h' },
        { NULL, 0, NULL, 0 }
    };
    const char *server = "tcp://127.0.0.1:5321";
    const char *server_key = NULL;
    uint64_t value;
    int option;
    opterr = 0;
    while ((option = getopt_long (argc, argv, ":s:k:c:o:n:t:vh", options, NULL)) != -1) {
        switch (option) {
            case 's':
                server = optarg;
                break;
            case 'k':
                server_key = optarg;
                break;
            case 'c':
                if (s_parse_number (optarg, "--clients", 1, BENCH_CLIENTS_MAX, &value))
                    return -1;
                config->clients = (int) value;
                break;
            case 'o': {
                int op;
                for (op = 0; op < BENCH_OP_COUNT; op++)
                    if (streq (optarg, s_op_names [op]))
                        break;
                if (op == BENCH_OP_COUNT) {
                    fprintf (stderr, "zpost-bench: unknown --op \"%s\"\n", optarg);
                    return -1;
                }
                config->op = (bench_op_t) op;
                break;
            }
            case 'n':
                if (s_parse_number (optarg, "--count", 1, UINT64_MAX / 2, &config->count))
                    return -1;
                break;
            case 't': {
                char *end;
                config->seconds = strtod (optarg, &end);
                if (end == optarg || *end || !(config->seconds > 0)
                ||  config->seconds > 86400) {
                    fprintf (stderr, "zpost-bench: --seconds wants a number of "
                             "seconds above 0, not \"%s\"\n", optarg);
                    return -1;
                }
                break;
            }
            case O_BODY:
                if (s_parse_number (optarg, "--body", 0, ZPOST_BODY_MAX, &value))
                    return -1;
                config->body = (size_t) value;
                break;
            case O_RECIPIENTS:
                if (s_parse_number (optarg, "--recipients", 1, ZPOST_RECIPIENTS_MAX, &value))
                    return -1;
                config->recipients = (int) value;
                break;
            case O_LIMIT:
                if (s_parse_number (optarg, "--limit", 1, ZPOST_LIST_MAX, &value))
                    return -1;
                config->limit = (int) value;
                break;
            case O_SETUP:
                config->setup = true;
                break;
            case O_PREFILL:
                if (s_parse_number (optarg, "--prefill", 0, 100000000, &config->prefill))
                    return -1;
                break;
            case O_PREFIX:
                config->prefix = optarg;
                break;
            case O_QUERY:
                config->query = optarg;
                break;
            case O_TIMEOUT:
                if (s_parse_number (optarg, "--timeout", 1, 3600000, &value))
                    return -1;
                config->timeout = (int) value;
                break;
            case O_JSON:
                config->json = true;
                break;
            case O_BURST:
                if (s_parse_number (optarg, "--login-burst", 0, BENCH_CLIENTS_MAX, &value))
                    return -1;
                config->burst = (int) value;
                break;
            case O_SOAK:
                if (s_parse_number (optarg, "--soak", 1, UINT64_MAX / 2, &config->soak))
                    return -1;
                break;
            case O_ORPHAN:
                if (s_parse_number (optarg, "--orphan-every", 0, UINT64_MAX / 2,
                                    &config->orphan_every))
                    return -1;
                break;
            case O_RETENTION:
            case O_REPLY_KEEP:
                if (s_parse_number (optarg, option == O_RETENTION? "--retention"
                                    : "--reply-keep", 1, 86400, &value))
                    return -1;
                if (option == O_RETENTION)
                    config->retention = (double) value;
                else
                    config->reply_keep = (double) value;
                break;
            case O_DATA:
                config->data_dir = optarg;
                break;
            case 'v':
                config->verbose = true;
                break;
            case 'h':
                s_usage (stdout);
                exit (0);
            case ':':
                fprintf (stderr, "zpost-bench: %s needs a value\n", argv [optind - 1]);
                return -1;
            default:
                fprintf (stderr, "zpost-bench: unknown option %s\n", argv [optind - 1]);
                return -1;
        }
    }
    if (optind < argc) {
        fprintf (stderr, "zpost-bench: unexpected argument \"%s\"\n", argv [optind]);
        return -1;
    }
    if (!server_key)
        server_key = getenv ("ZPOST_SERVER_KEY");
    if (!server_key) {
        fprintf (stderr, "zpost-bench: give the broker's public key with "
                 "--server-key (zpost-broker prints it at start)\n");
        return -1;
    }
    if (zpost_keys_public_from (server_key, config->server_key)) {
        fprintf (stderr, "zpost-bench: \"%s\" is neither a Z85 public key nor "
                 "a file holding one\n", server_key);
        return -1;
    }
    //  Usernames must stay valid: PREFIX, up to 4 digits, '-', up to 4 digits
    char name [ZPOST_NAME_MAX + 16];
    snprintf (name, sizeof name, "%s%d-%d", config->prefix, BENCH_CLIENTS_MAX,
              ZPOST_RECIPIENTS_MAX + 2 * BENCH_CLIENTS_MAX);
    if (strlen (name) > ZPOST_NAME_MAX || !zpost_msg_valid_username (name)) {
        fprintf (stderr, "zpost-bench: --prefix \"%s\" does not make valid "
                 "usernames\n", config->prefix);
        return -1;
    }
    if (config->soak) {
        //  A soak is SENDs (and their DELETEs) by users it registers
        if (config->burst || config->op != BENCH_PING_STORE || config->count) {
            fprintf (stderr, "zpost-bench: --soak goes with none of --op, "
                     "--count, --login-burst\n");
            return -1;
        }
        config->op = BENCH_SEND;
        config->setup = true;
    }
    if (config->count == 0 && config->seconds == 0 && !config->soak)
        config->seconds = BENCH_SECONDS;
    return s_endpoints (config, server);
}


//  --------------------------------------------------------------------------
//  The search op's body: English words in lines, the same for every
//  message, so that a query has something like mail to look through
//  (a body of one letter repeated would be no test of a search). No word
//  begins with "end", so BENCH_QUERY is in no body.
static void
s_search_body (char *body, size_t size)
{
    static const char *words [] = {
        "the", "mail", "store", "of", "and", "to", "a", "in", "is", "it", "you",
        "that", "he", "was", "for", "on", "are", "with", "as", "his", "they",
        "at", "be", "this", "from", "have", "or", "by", "one", "had", "not",
        "but", "what", "all", "were", "when", "we", "there", "can", "an",
        "your", "which", "their", "said", "if", "do", "will", "each", "about",
        "how", "up", "out", "them", "then", "she", "many", "some", "so",
        "these", "would", "other", "into", "has", "more", "her", "two", "like",
        "him", "see", "time", "could", "no", "make", "than", "first", "been",
        "its", "who", "now", "people", "my", "made", "over", "did", "down",
        "only", "way", "find", "use", "may", "water", "long", "little", "very",
        "after", "words", "called", "just", "where", "most", "know", "Thursday",
        "Lunch", "meeting", "report", "\xc3\xa9t\xc3\xa9", "caf\xc3\xa9",
    };
    size_t count = sizeof words / sizeof words [0];
    uint32_t state = 12345;
    size_t used = 0, line = 0;
    while (used < size) {
        state = state * 1103515245u + 12345u;
        const char *word = words [(state >> 16) % count];
        size_t length = strlen (word);
        char gap = line + length + 1 > 72? '\n': ' ';
        if (used + length + 1 > size) {
            memset (body + used, 'x', size - used);     //  the last bytes
            break;
        }
        memcpy (body + used, word, length);
        used += length;
        body [used++] = gap;
        line = gap == '\n'? 0: line + length + 1;
    }
    body [size] = 0;
}

//  Main: start the clients, wait until all are set up, GO, collect, report

int
main (int argc, char *argv [])
{
    bench_config_t config = {
        .clients = 1, .op = BENCH_PING_STORE, .body = 1024, .recipients = 1,
        .limit = 50, .prefill = BENCH_PREFILL, .timeout = BENCH_TIMEOUT,
        .prefix = "bench", .orphan_every = BENCH_ORPHAN_EVERY, .query = BENCH_QUERY
    };
    if (s_parse (&config, argc, argv)) {
        s_endpoints_free (&config);
        fprintf (stderr, "zpost-bench: try --help\n");
        return 2;
    }
    if (sodium_init () < 0) {
        fprintf (stderr, "zpost-bench: cannot initialise libsodium\n");
        s_endpoints_free (&config);
        return 3;
    }
    unsigned char random [8];
    randombytes_buf (random, sizeof random);
    sodium_bin2hex (config.run_id, sizeof config.run_id, random, sizeof random);
    config.body_text = (char *) malloc (config.body + 1);
    assert (config.body_text);
    memset (config.body_text, 'x', config.body);
    config.body_text [config.body] = 0;
    if (config.op == BENCH_SEARCH)
        s_search_body (config.body_text, config.body);
    zsys_init ();
    bench_soak_t counters;
    atomic_init (&counters.sends, 0);
    atomic_init (&counters.deletes, 0);
    atomic_init (&counters.relogins, 0);
    atomic_init (&counters.orphans, 0);
    config.counters = &counters;

    //  The measured clients first, then the login burst
    int count = config.clients + config.burst;
    bench_client_t *clients = (bench_client_t *) calloc ((size_t) count,
                                                         sizeof (bench_client_t));
    zactor_t **actors = (zactor_t **) calloc ((size_t) count, sizeof (zactor_t *));
    bench_result_t **results = (bench_result_t **) calloc ((size_t) count,
                                                           sizeof (bench_result_t *));
    assert (clients && actors && results);
    for (int i = 0; i < count; i++) {
        clients [i].config = &config;
        clients [i].index = i;
        clients [i].op = i < config.clients? config.op: BENCH_LOGIN;
        actors [i] = zactor_new (s_client_actor, &clients [i]);
        assert (actors [i]);
    }

    //  READY from everyone; the first failure is reported
    int status = 0;
    for (int i = 0; i < count; i++) {
        char *command = NULL, *rc = NULL, *error = NULL;
        if (zstr_recvx (actors [i], &command, &rc, &error, NULL) < 3) {
            fprintf (stderr, "zpost-bench: interrupted during setup\n");
            status = 3;
        }
        else
        if (!streq (rc, "0") && status == 0) {
            fprintf (stderr, "zpost-bench: client %d setup failed: %s\n", i, error);
            status = 3;
        }
        zstr_free (&command);
        zstr_free (&rc);
        zstr_free (&error);
        if (status)
            break;
    }
    if (status == 0 && config.verbose)
        zsys_info ("zpost-bench: %d clients ready, go", count);

    //  GO: each measured client gets its share of --count; the burst runs
    //  until they are all done, then is told to STOP
    int collected = 0;
    if (status == 0 && config.soak) {
        collected = s_soak (&config, actors, results);
        if (collected == count)
            status = s_report (&config, results)? 1: 0;
        else {
            fprintf (stderr, "zpost-bench: soak interrupted\n");
            collected = collected < 0? 0: collected;
            status = 3;
        }
    }
    else
    if (status == 0) {
        uint64_t measured = (uint64_t) config.clients;
        for (int i = 0; i < count; i++) {
            uint64_t quota = UINT64_MAX;
            if (config.count && i < config.clients)
                quota = config.count / measured
                      + ((uint64_t) i < config.count % measured? 1: 0);
            char text [24];
            snprintf (text, sizeof text, "%" PRIu64, quota);
            zstr_sendx (actors [i], "GO", text, NULL);
        }
        for (int i = 0; i < count; i++) {
            if (i == config.clients)
                for (int j = config.clients; j < count; j++)
                    zstr_send (actors [j], "STOP");
            char *command = NULL;
            void *result = NULL;
            //  A signal may cut a wait short; the clients stop on it and
            //  still report
            int rc;
            do
                rc = zsock_recv (actors [i], "sp", &command, &result);
            while (rc == -1 && zmq_errno () == EINTR);
            if (rc == 0 && command && streq (command, "DONE"))
                results [collected++] = (bench_result_t *) result;
            zstr_free (&command);
            if (collected == i)
                break;          //  that one did not report: give up
        }
        if (collected == count)
            status = s_report (&config, results)? 1: 0;
        else {
            fprintf (stderr, "zpost-bench: interrupted\n");
            status = 3;
        }
    }
    for (int i = 0; i < collected; i++)
        s_result_destroy (&results [i]);
    for (int i = 0; i < count; i++)
        zactor_destroy (&actors [i]);
    free (results);
    free (actors);
    free (clients);
    free (config.body_text);
    s_endpoints_free (&config);
    return status;
}
