/*  =========================================================================
    store_server - the store worker: one actor that serves every broker

    This file is the store's side of the links.
    It keeps the worker registered with each broker it is given, one link
    per broker: READY when it starts, a HEARTBEAT every interval, and a new
    socket and a new READY when that broker falls silent, so a restarted
    broker finds its stores again without anyone restarting them. Each
    link has its own socket, its own timers of silence and its own counts;
    one link going silent or being replaced leaves the others alone.
    Every REQUEST, whichever link it came on, is decoded with zpost_msg; a
    malformed one is answered with the codec's error, a well-formed one
    goes to the one engine and its one group commit, and every answer goes
    back as a REPLY, with the broker's ticket, on the link the request
    came on. Nothing a broker or a client sends can stop the actor: bad
    input is logged and answered or dropped.

    Tickets of different brokers may be equal, so the engine gets each
    request with an origin besides the ticket: the index of the link it
    came on. Its reply goes on that link and no other. If the link has had
    a new socket since, the reply goes on the new one, as the spec says
    ("Heartbeating"): the broker there drops a ticket it no longer waits
    for, or that it gave to another worker (its tickets start at random,
    so a restarted broker does not give out the old ones again).

    The actor alone uses the LMDB environment (store_db) while it runs.

    WATCHes that wait (store_watch, through the engine) are looked at on
    a timer of their own, every S_WATCH_TICK msecs, for their deadlines
    and, on LMDB, for commits of other processes on the environment; on
    PostgreSQL a second connection LISTENs for other stores' commits
    (store_pg_listen), its socket in this loop. A link that is reset
    drops the waits that came on it: its broker has answered them.
    =========================================================================
*/

#include "store_server.h"
#include "store_engine.h"
#include "store_pg_listen.h"
#include "zpost_link.h"
#include "zpost_keys.h"
#include "zpost_status.h"

#include <errno.h>
#include <inttypes.h>

//  How long a final DISCONNECT may wait to leave before the socket is
//  dropped; short, because a broker that is gone will never take it.
#define S_GOODBYE_LINGER    250

//  The largest frame the broker can forward is a body at the protocol
//  ceiling; anything bigger is not ZPOST and libzmq drops the connection.
#define S_FRAME_MAX         (ZPOST_BODY_MAX + 4096)

//  Requests the links' receive queues hold, all links together, before
//  the brokers keep the rest; each link gets its share, but never fewer
//  than S_QUEUE_MIN, so that a link still reads in batches
#define S_QUEUE_MAX         16
#define S_QUEUE_MIN         4

//  A sweep that found a full batch runs again this soon, until it catches up
#define S_SWEEP_AGAIN       10

//  msecs between looks at the waiting WATCHes: deadlines, and LMDB
//  commits of other processes (the spec promises 100 ms)
#define S_WATCH_TICK        25

typedef struct _store_server_t store_server_t;

//  One link: the store's registration with one broker
typedef struct {
    store_server_t *server;     //  the actor it belongs to
    size_t index;               //  its place in server->links
    char *endpoint;             //  the broker's back end
    char *broker_key;           //  broker public key (Z85), or NULL for ipc
    bool curve;                 //  the endpoint is tcp://, so CURVE
    zsock_t *dealer;            //  the link to the broker; NULL when none
    int64_t broker_expiry;      //  zclock_mono time when silence means gone
    int64_t ready_at;           //  zclock_mono time of the last READY
    int64_t heartbeat_at;       //  zclock_mono time of the last HEARTBEAT sent
    bool ready_due;             //  READY owed; sent at the next tick
    bool path_refused;          //  the ipc path failed its check (said once)
    uint64_t requests;          //  replies sent
    uint64_t reconnects;        //  sockets replaced after broker silence
} s_link_t;

struct _store_server_t {
    zsock_t *pipe;              //  actor pipe to the caller
    zloop_t *loop;              //  reactor: pipe, dealers, heartbeat timer
    store_db_t *db;             //  the environment, lent by the caller
    zcert_t *cert;              //  our key pair for CURVE, or NULL for ipc
    char *name;                 //  store-name sent in READY
    uint32_t capacity;          //  capacity sent in READY, to each broker
    int heartbeat;              //  msecs between heartbeats
    int queue;                  //  each link's receive queue, in requests
    bool verbose;               //  log the link traffic
    int timer_id;               //  heartbeat timer; -1 before START
    bool terminated;            //  $TERM received
    s_link_t *links [STORE_BROKERS_MAX];
    size_t link_count;
    size_t next_read;           //  the link a drain starts at, in turn
    store_engine_t *engine;     //  the request flow; answers through s_send_reply
    store_pg_listen_t *listen;  //  PostgreSQL: other stores' commits; or NULL
    int listen_fd;              //  its socket in the loop, or -1
};

static void
    s_send_reply_cb (void *arg, uint64_t origin, uint64_t ticket, zpost_msg_t **reply_p);
static void
    s_after_commit (store_server_t *self, int64_t started);

//  --------------------------------------------------------------------------
//  Constructor and destructor of the actor's state

static s_link_t *
s_link_new (store_server_t *server, size_t index, const char *endpoint,
            const char *broker_key)
{
    s_link_t *self = (s_link_t *) zmalloc (sizeof (s_link_t));
    assert (self);
    self->server = server;
    self->index = index;
    self->endpoint = strdup (endpoint);
    assert (self->endpoint);
    self->curve = strncmp (endpoint, "tcp://", 6) == 0;
    if (broker_key) {
        self->broker_key = strdup (broker_key);
        assert (self->broker_key);
    }
    return self;
}

static void
s_link_destroy (s_link_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        s_link_t *self = *self_p;
        zsock_destroy (&self->dealer);
        zstr_free (&self->broker_key);
        zstr_free (&self->endpoint);
        free (self);
        *self_p = NULL;
    }
}

static store_server_t *
s_server_new (zsock_t *pipe, store_server_config_t *config)
{
    assert (config);
    assert (config->db);
    assert (config->brokers? config->endpoints != NULL: config->endpoint != NULL);
    assert (config->brokers <= STORE_BROKERS_MAX);
    assert (config->name);
    assert (config->heartbeat >= 0);
    assert (config->capacity <= ZPOST_LINK_CAPACITY_MAX);

    store_server_t *self = (store_server_t *) zmalloc (sizeof (store_server_t));
    assert (self);
    self->pipe = pipe;
    self->db = config->db;
    if (config->brokers == 0)
        self->links [self->link_count++] = s_link_new (self, 0, config->endpoint,
                                                       config->broker_key);
    else
        for (size_t index = 0; index < config->brokers; index++)
            self->links [self->link_count++] = s_link_new (self, index,
                config->endpoints [index],
                config->broker_keys? config->broker_keys [index]: NULL);
    if (config->cert) {
        //  A copy, so that no object is shared between threads
        self->cert = zcert_dup (config->cert);
        assert (self->cert);
    }
    self->name = strdup (config->name);
    assert (self->name);
    self->heartbeat = config->heartbeat? config->heartbeat: STORE_SERVER_HEARTBEAT;
    self->verbose = config->verbose;
    self->timer_id = -1;
    self->listen_fd = -1;
    self->queue = S_QUEUE_MAX / (int) self->link_count;
    if (self->queue < S_QUEUE_MIN)
        self->queue = S_QUEUE_MIN;

    //  The engine copies what it needs and fills in the defaults; the
    //  links are not its business
    store_server_config_t engine_config = *config;
    engine_config.endpoint = NULL;
    engine_config.broker_key = NULL;
    engine_config.brokers = 0;
    engine_config.endpoints = NULL;
    engine_config.broker_keys = NULL;
    engine_config.name = self->name;
    engine_config.cert = NULL;
    self->engine = store_engine_new (&engine_config, self->db, s_send_reply_cb, self);
    assert (self->engine);
    self->capacity = store_engine_config (self->engine)->capacity;

    self->loop = zloop_new ();
    assert (self->loop);
    //  A signal ends the program through $TERM from the caller, not by
    //  stopping this loop under it.
    zloop_set_nonstop (self->loop, true);
    return self;
}

static void
s_server_destroy (store_server_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        store_server_t *self = *self_p;
        zloop_destroy (&self->loop);
        //  Requests still waiting get no reply: the broker answers them
        //  503 when their deadline passes, and clients retry.
        store_engine_destroy (&self->engine);
        store_pg_listen_destroy (&self->listen);
        for (size_t index = 0; index < self->link_count; index++)
            s_link_destroy (&self->links [index]);
        zcert_destroy (&self->cert);
        zstr_free (&self->name);
        free (self);
        *self_p = NULL;
    }
}


//  --------------------------------------------------------------------------
//  A link: sending

static int
s_send_command (s_link_t *self, zpost_link_id_t id)
{
    if (!self->dealer)
        return -1;
    store_server_t *server = self->server;
    zpost_link_t *link = zpost_link_new (id);
    if (id == ZPOST_LINK_READY) {
        zpost_link_set_store_name (link, server->name);
        zpost_link_set_capacity (link, server->capacity);
        zpost_link_set_body_limit (link, store_engine_config (server->engine)->body_limit);
    }
    //  The socket never blocks (SNDTIMEO 0): a full queue means the
    //  broker is not reading, and silence detection will deal with it.
    int rc = zpost_link_send (link, self->dealer);
    zpost_link_destroy (&link);
    if (rc == 0 && id == ZPOST_LINK_HEARTBEAT)
        self->heartbeat_at = zclock_mono ();
    if (rc)
        zsys_warning ("store_server: cannot send %s to %s: %s",
                      zpost_link_command_name (id), self->endpoint,
                      zmq_strerror (zmq_errno ()));
    else
    if (server->verbose)
        zsys_debug ("store_server: sent %s to %s", zpost_link_command_name (id),
                    self->endpoint);
    return rc;
}

static int
s_send_ready (s_link_t *self)
{
    self->ready_at = zclock_mono ();
    self->ready_due = false;
    return s_send_command (self, ZPOST_LINK_READY);
}

//  The broker asked for READY again. A broker that keeps asking (because
//  it rejects us, say) gets one READY per interval, not a storm.
static void
s_ready_again (s_link_t *self)
{
    //  The broker does not know us: it waits for nothing we hold
    store_engine_watch_drop (self->server->engine, (uint64_t) self->index);
    if (zclock_mono () - self->ready_at >= self->server->heartbeat)
        s_send_ready (self);
    else
        self->ready_due = true;
}


//  --------------------------------------------------------------------------
//  Reply, on this link, to the request its broker numbered ticket.

static int
s_send_reply (s_link_t *self, uint64_t ticket, zpost_msg_t **reply_p)
{
    assert (self);
    assert (reply_p && *reply_p);
    zpost_msg_t *reply = *reply_p;
    zmsg_t *content = zpost_msg_encode (reply);
    if (!content) {
        //  A handler left out a field the spec requires. The client still
        //  gets an answer, one that does not pretend to be the real one.
        zsys_error ("store_server: %s reply %d lacks a required field",
                    zpost_msg_command_name (zpost_msg_command (reply)),
                    zpost_msg_status (reply));
        zpost_msg_t *fallback = zpost_msg_new_reply (reply, ZPOST_INTERNAL_ERROR, NULL);
        content = zpost_msg_encode (fallback);
        zpost_msg_destroy (&fallback);
        assert (content);
    }
    if (self->server->verbose)
        zsys_debug ("store_server: reply %" PRIu64 " to %s: %s %d %s", ticket,
                    self->endpoint, zpost_msg_command_name (zpost_msg_command (reply)),
                    zpost_msg_status (reply), zpost_msg_reason (reply));
    zpost_msg_destroy (reply_p);

    if (!self->dealer) {
        zmsg_destroy (&content);
        return -1;
    }
    zpost_link_t *link = zpost_link_new (ZPOST_LINK_REPLY);
    zpost_link_set_ticket (link, ticket);
    zpost_link_set_content (link, &content);
    int rc = zpost_link_send (link, self->dealer);
    zpost_link_destroy (&link);
    if (rc)
        zsys_warning ("store_server: cannot send reply %" PRIu64 " to %s: %s",
                      ticket, self->endpoint, zmq_strerror (zmq_errno ()));
    else
        self->requests++;
    return rc;
}

//  The engine's way to answer: on the link the request came on (origin
//  is its index), never on another broker's
static void
s_send_reply_cb (void *arg, uint64_t origin, uint64_t ticket, zpost_msg_t **reply_p)
{
    store_server_t *self = (store_server_t *) arg;
    assert (origin < self->link_count);
    s_send_reply (self->links [origin], ticket, reply_p);
}

//  A heartbeat never waits for the timer after a commit: one goes out on
//  each link whose interval has passed. And work that kept the loop from
//  listening for a whole interval or more (work began at started) is no
//  sign a broker is gone: each link gets an interval from now to be
//  heard. Shorter work gives no such grace: with several links, commits
//  of one busy broker's requests follow each other all the time, and a
//  grace after each would keep a dead broker's link from ever expiring.
static void
s_after_commit (store_server_t *self, int64_t started)
{
    int64_t now = zclock_mono ();
    bool stalled = now - started >= self->heartbeat;
    for (size_t index = 0; index < self->link_count; index++) {
        s_link_t *link = self->links [index];
        if (!link->dealer)
            continue;
        if (now - link->heartbeat_at >= self->heartbeat)
            s_send_command (link, ZPOST_LINK_HEARTBEAT);
        if (stalled && link->broker_expiry < now + self->heartbeat)
            link->broker_expiry = now + self->heartbeat;
    }
}

//  --------------------------------------------------------------------------
//  A REQUEST: decode the client's frames, hand them to the engine

static void
s_handle_request (s_link_t *self, zpost_link_t *link)
{
    store_server_t *server = self->server;
    uint64_t ticket = zpost_link_ticket (link);
    zmsg_t *content = zpost_link_take_content (link);
    size_t size = content? zmsg_content_size (content): 0;
    zpost_msg_t *request = zpost_msg_new ();
    if (zpost_msg_decode_request (request, &content)) {
        if (server->verbose)
            zsys_debug ("store_server: request %" PRIu64 " from %s is malformed: %d %s",
                        ticket, self->endpoint, zpost_msg_status (request),
                        zpost_msg_reason (request));
        zpost_msg_t *reply = zpost_msg_new_reply (request, zpost_msg_status (request),
                                                  zpost_msg_reason (request));
        zpost_msg_destroy (&request);
        s_send_reply (self, ticket, &reply);
        return;
    }
    //  The key the broker's ZAP handler saw, never anything from the
    //  client's own frames
    zpost_msg_set_client_key (request, zpost_link_client_key (link));
    if (server->verbose)
        zsys_debug ("store_server: request %" PRIu64 " from %s: %s %s", ticket,
                    self->endpoint, zpost_msg_command_name (zpost_msg_command (request)),
                    zpost_msg_request_id (request));
    store_engine_request (server->engine, (uint64_t) self->index, ticket, &request, size);
}

//  Password work done: the engine goes on with it
static int
s_recv_hashed (zloop_t *loop, zsock_t *socket, void *arg)
{
    (void) loop;
    (void) socket;
    store_server_t *self = (store_server_t *) arg;
    int64_t started = zclock_mono ();
    store_engine_hashed (self->engine);
    s_after_commit (self, started);
    return 0;
}

//  Expire what is past its time; again soon while there is a backlog
static int
s_sweep (zloop_t *loop, int timer_id, void *arg)
{
    (void) timer_id;
    store_server_t *self = (store_server_t *) arg;
    bool more = store_engine_sweep (self->engine);
    int interval = more? S_SWEEP_AGAIN: store_engine_config (self->engine)->sweep_interval;
    zloop_timer (loop, (size_t) interval, 1, s_sweep, self);
    return 0;
}


//  --------------------------------------------------------------------------
//  The links: receiving

static void
    s_link_message (s_link_t *self, zpost_link_t *link, int rc);

//  Read one message from the link if one is waiting. True if one was.
//  Never blocks: a drain through the other links may have taken what
//  the poll saw.
static bool
s_read_one (s_link_t *self)
{
    if (!self->dealer || !(zsock_events (self->dealer) & ZMQ_POLLIN))
        return false;
    zpost_link_t *link = zpost_link_new (ZPOST_LINK_NONE);
    int rc = zpost_link_recv (link, self->dealer);
    if (rc != -1) {
        //  Anything at all from the broker, even nonsense, shows it is there
        self->broker_expiry = zclock_mono ()
                            + (int64_t) self->server->heartbeat * STORE_SERVER_LIVENESS;
        s_link_message (self, link, rc);
    }
    zpost_link_destroy (&link);
    return rc != -1;
}

static int
s_recv_link (zloop_t *loop, zsock_t *dealer, void *arg)
{
    (void) loop;
    (void) dealer;
    s_link_t *first = (s_link_t *) arg;
    store_server_t *self = first->server;
    int64_t started = zclock_mono ();
    if (!s_read_one (first))
        return 0;

    //  Read whatever else has arrived on any link, a message from each in
    //  turn so no broker waits behind another, so it all shares one commit
    bool more = true;
    while (more && !store_engine_group_full (self->engine)) {
        more = false;
        for (size_t count = 0; count < self->link_count
                            && !store_engine_group_full (self->engine); count++) {
            s_link_t *link = self->links [self->next_read];
            self->next_read = (self->next_read + 1) % self->link_count;
            if (s_read_one (link))
                more = true;
        }
    }
    store_engine_commit (self->engine);
    s_after_commit (self, started);
    return 0;
}

static void
s_link_message (s_link_t *self, zpost_link_t *link, int rc)
{
    zpost_link_id_t id = zpost_link_id (link);
    if (rc == -2)
        zsys_warning ("store_server: malformed message from the broker at %s, "
                      "dropped", self->endpoint);
    else
    if (id == ZPOST_LINK_REQUEST)
        s_handle_request (self, link);
    else
    if (id == ZPOST_LINK_HEARTBEAT) {
        if (self->server->verbose)
            zsys_debug ("store_server: HEARTBEAT from %s", self->endpoint);
    }
    else
    if (id == ZPOST_LINK_DISCONNECT) {
        zsys_info ("store_server: the broker at %s asked us to register again",
                   self->endpoint);
        s_ready_again (self);
    }
    else
        zsys_warning ("store_server: unexpected %s from the broker at %s, dropped",
                      zpost_link_command_name (id), self->endpoint);
}


//  --------------------------------------------------------------------------
//  Make a new DEALER for the link, connect it, and say READY. 0, or -1
//  with the socket left NULL (the next tick tries again).

static int
s_connect (s_link_t *self)
{
    assert (!self->dealer);
    store_server_t *server = self->server;
    //  Checked again at each new socket, as at start (main): the path
    //  must still be ours before we say READY to whoever is there. libzmq
    //  reconnects a socket on its own too; a private directory is what
    //  keeps those reconnections to our broker.
    if (strncmp (self->endpoint, "ipc://", 6) == 0) {
        char error [1024];
        if (zpost_keys_check_ipc (self->endpoint + 6, true,
                                  error, sizeof (error))) {
            if (!self->path_refused)
                zsys_error ("store_server: not connecting to %s: %s",
                            self->endpoint, error);
            self->path_refused = true;
            return -1;
        }
        if (self->path_refused)
            zsys_info ("store_server: %s can be trusted again", self->endpoint);
        self->path_refused = false;
    }
    zsock_t *dealer = zsock_new (ZMQ_DEALER);
    if (!dealer) {
        zsys_error ("store_server: cannot create a socket: %s",
                    zmq_strerror (zmq_errno ()));
        return -1;
    }
    zsock_set_sndtimeo (dealer, 0);
    zsock_set_linger (dealer, 0);
    //  Few requests wait in our queues: the rest wait at the brokers,
    //  each of which sends no more than our capacity, so what we hold
    //  stays bounded even when requests arrive faster than we can refuse
    //  them; the links share one bound (S_QUEUE_MAX) between them
    zsock_set_rcvhwm (dealer, server->queue);
    zsock_set_maxmsgsize (dealer, S_FRAME_MAX);
    if (self->curve) {
        zcert_apply (server->cert, dealer);
        zsock_set_curve_serverkey (dealer, self->broker_key);
    }
    if (zsock_connect (dealer, "%s", self->endpoint)) {
        zsys_error ("store_server: cannot connect to %s: %s", self->endpoint,
                    zmq_strerror (zmq_errno ()));
        zsock_destroy (&dealer);
        return -1;
    }
    if (zloop_reader (server->loop, dealer, s_recv_link, self)) {
        zsys_error ("store_server: cannot watch the socket to %s", self->endpoint);
        zsock_destroy (&dealer);
        return -1;
    }
    self->dealer = dealer;
    self->broker_expiry = zclock_mono () + (int64_t) server->heartbeat * STORE_SERVER_LIVENESS;
    return s_send_ready (self);
}

//  Drop the link's DEALER; with goodbye, tell the broker first and give
//  the DISCONNECT a moment to leave.
static void
s_disconnect (s_link_t *self, bool goodbye)
{
    if (!self->dealer)
        return;
    if (goodbye) {
        zsock_set_linger (self->dealer, S_GOODBYE_LINGER);
        s_send_command (self, ZPOST_LINK_DISCONNECT);
    }
    zloop_reader_end (self->server->loop, self->dealer);
    zsock_destroy (&self->dealer);
    //  That broker no longer waits for the WATCHes it sent us
    store_engine_watch_drop (self->server->engine, (uint64_t) self->index);
}


//  --------------------------------------------------------------------------
//  Every interval, on each link: heartbeat, or, when its broker has been
//  silent too long, a new socket and READY (Paranoid Pirate).

static void
s_tick_link (s_link_t *self)
{
    store_server_t *server = self->server;
    //  A message waiting on the socket is word from the broker that we
    //  have not read yet. Keeping the socket then also matters to zloop:
    //  a socket destroyed here must not be one it is about to hand to
    //  s_recv_link in this same pass.
    bool silent = self->dealer
               && zclock_mono () >= self->broker_expiry
               && !(zsock_events (self->dealer) & ZMQ_POLLIN);
    if (silent) {
        zsys_warning ("store_server: no word from the broker at %s for %d ms; "
                      "reconnecting%s", self->endpoint,
                      server->heartbeat * STORE_SERVER_LIVENESS,
                      self->curve? " (if this repeats, check the broker's public "
                                   "key and that it lists ours)": "");
        s_disconnect (self, false);
        self->reconnects++;
    }
    if (!self->dealer)
        s_connect (self);
    else
    if (self->ready_due)
        s_send_ready (self);
    else
        s_send_command (self, ZPOST_LINK_HEARTBEAT);
}

//  --------------------------------------------------------------------------
//  WATCH: the waits' timer, and PostgreSQL's listener

static int
s_watch_tick (zloop_t *loop, int timer_id, void *arg)
{
    (void) loop;
    (void) timer_id;
    store_server_t *self = (store_server_t *) arg;
    store_engine_watch_tick (self->engine);
    return 0;
}

static void
s_heard (void *arg, const char *user)
{
    store_server_t *self = (store_server_t *) arg;
    store_engine_watch_wake (self->engine, user);
}

static void
s_listen_unpoll (store_server_t *self)
{
    if (self->listen_fd == -1)
        return;
    zmq_pollitem_t item = { NULL, self->listen_fd, ZMQ_POLLIN, 0 };
    zloop_poller_end (self->loop, &item);
    self->listen_fd = -1;
}

static int
s_recv_listen (zloop_t *loop, zmq_pollitem_t *item, void *arg)
{
    (void) loop;
    (void) item;
    store_server_t *self = (store_server_t *) arg;
    if (store_pg_listen_drain (self->listen, s_heard, self)) {
        //  Deaf until the heartbeat tick connects again: check all now
        s_listen_unpoll (self);
        store_engine_watch_wake (self->engine, NULL);
    }
    return 0;
}

//  Connect the listener if it is down, and watch its socket. Every
//  wait is checked while it is down, and once when it is back (what was
//  said meanwhile was not heard).
static void
s_listen_up (store_server_t *self)
{
    if (!self->listen || self->listen_fd != -1)
        return;
    if (store_pg_listen_connect (self->listen) == 0) {
        zmq_pollitem_t item = { NULL, store_pg_listen_fd (self->listen), ZMQ_POLLIN, 0 };
        if (zloop_poller (self->loop, &item, s_recv_listen, self) == 0) {
            zloop_poller_set_tolerant (self->loop, &item);
            self->listen_fd = item.fd;
        }
    }
    store_engine_watch_wake (self->engine, NULL);
}

static int
s_tick (zloop_t *loop, int timer_id, void *arg)
{
    (void) loop;
    (void) timer_id;
    store_server_t *self = (store_server_t *) arg;
    for (size_t index = 0; index < self->link_count; index++)
        s_tick_link (self->links [index]);
    s_listen_up (self);
    return 0;
}


//  --------------------------------------------------------------------------
//  START: connect every link and send each its first READY. 0 or -1.

static int
s_start (store_server_t *self)
{
    if (self->timer_id != -1) {
        zsys_error ("store_server: START given twice");
        return -1;
    }
    for (size_t index = 0; index < self->link_count; index++) {
        s_link_t *link = self->links [index];
        if (link->curve && (!self->cert || !link->broker_key)) {
            zsys_error ("store_server: %s is tcp://, which needs the broker's "
                        "public key and our key pair", link->endpoint);
            return -1;
        }
    }
    if (store_engine_start (self->engine))
        return -1;
    zloop_reader (self->loop, store_engine_hasher_socket (self->engine), s_recv_hashed, self);
    zloop_timer (self->loop,
        (size_t) store_engine_config (self->engine)->sweep_interval, 1, s_sweep, self);
    zloop_timer (self->loop, S_WATCH_TICK, 0, s_watch_tick, self);
    if (store_db_conninfo (self->db)) {
        self->listen = store_pg_listen_new (store_db_conninfo (self->db));
        s_listen_up (self);
    }
    for (size_t index = 0; index < self->link_count; index++)
        if (s_connect (self->links [index]))
            return -1;
    self->timer_id = zloop_timer (self->loop, (size_t) self->heartbeat, 0, s_tick, self);
    assert (self->timer_id != -1);
    for (size_t index = 0; index < self->link_count; index++)
        zsys_info ("store_server: %s registering with %s%s", self->name,
                   self->links [index]->endpoint,
                   self->links [index]->curve? " (CURVE)": "");
    return 0;
}

//  A command on the pipe. Returns -1 to end the loop on $TERM.
static int
s_recv_pipe (zloop_t *loop, zsock_t *pipe, void *arg)
{
    (void) loop;
    store_server_t *self = (store_server_t *) arg;
    char *command = zstr_recv (pipe);
    if (!command)
        return 0;               //  interrupted
    int rc = 0;
    if (streq (command, "$TERM")) {
        self->terminated = true;
        rc = -1;
    }
    else
    if (streq (command, "START"))
        zsock_signal (pipe, s_start (self) == 0? 0: 1);
    else
        zsys_error ("store_server: unknown command '%s' on the pipe", command);
    zstr_free (&command);
    return rc;
}


//  --------------------------------------------------------------------------
//  The actor

void
store_server (zsock_t *pipe, void *args)
{
    store_server_t *self = s_server_new (pipe, (store_server_config_t *) args);
    if (zloop_reader (self->loop, pipe, s_recv_pipe, self))
        zsys_error ("store_server: cannot watch the actor pipe");
    zsock_signal (pipe, 0);

    zloop_start (self->loop);

    //  A signal that lands in this thread ends zloop_start early; the
    //  caller saw the same signal and is about to send $TERM. Wait for it,
    //  so the actor ends exactly when told to.
    while (!self->terminated) {
        char *command = zstr_recv (pipe);
        if (!command) {
            if (zmq_errno () == ETERM)
                break;
            continue;
        }
        if (streq (command, "$TERM"))
            self->terminated = true;
        else
        if (streq (command, "START"))
            zsock_signal (pipe, 1);
        zstr_free (&command);
    }
    for (size_t index = 0; index < self->link_count; index++) {
        s_link_t *link = self->links [index];
        if (link->dealer)
            zsys_info ("store_server: %s leaving %s after %" PRIu64 " replies, %"
                       PRIu64 " reconnects", self->name, link->endpoint,
                       link->requests, link->reconnects);
        s_disconnect (link, true);
    }
    s_server_destroy (&self);
}


//  --------------------------------------------------------------------------
//  Selftest

#define S_TEST_ENDPOINT     "inproc://store-server-test"
#define S_TEST_HEARTBEAT    100
#define S_TEST_DEADLINE     5000    //  msecs any one expected message may take

//  Receive the next link message the store sends, skipping heartbeats
//  and READY unless asked for one; fails the test if none comes in time.
//  A live broker answers heartbeats, so the store never thinks it silent
//  however slowly the test runs (valgrind); a silent one does not.
static zpost_link_t *
s_test_expect (zsock_t *router, zpost_link_id_t id, bool live)
{
    zpoller_t *poller = zpoller_new (router, NULL);
    assert (poller);
    int64_t deadline = zclock_mono () + S_TEST_DEADLINE;
    zpost_link_t *link = zpost_link_new (ZPOST_LINK_NONE);
    while (true) {
        int64_t left = deadline - zclock_mono ();
        assert (left > 0);
        void *which = zpoller_wait (poller, (int) left);
        assert (which == router);
        int rc = zpost_link_recv (link, router);
        assert (rc == 0);
        if (zpost_link_id (link) == id)
            break;
        assert (zpost_link_id (link) == ZPOST_LINK_HEARTBEAT
             || zpost_link_id (link) == ZPOST_LINK_READY);
        if (live && zpost_link_id (link) == ZPOST_LINK_HEARTBEAT) {
            rc = zpost_link_send (link, router);
            assert (rc == 0);
        }
    }
    zpoller_destroy (&poller);
    return link;
}

//  Send content to the store as a REQUEST, not waiting for the reply
static void
s_test_send (zsock_t *router, zframe_t *store_id, uint64_t ticket, zmsg_t **content_p)
{
    zpost_link_t *link = zpost_link_new (ZPOST_LINK_REQUEST);
    zpost_link_set_routing_id (link, store_id);
    zpost_link_set_ticket (link, ticket);
    zpost_link_set_client_key (link, "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7");
    zpost_link_set_content (link, content_p);
    int rc = zpost_link_send (link, router);
    assert (rc == 0);
    zpost_link_destroy (&link);
}

//  Send content to the store as a REQUEST; return the reply's frames.
static zmsg_t *
s_test_exchange (zsock_t *router, zframe_t *store_id, uint64_t ticket, zmsg_t **content_p)
{
    s_test_send (router, store_id, ticket, content_p);
    zpost_link_t *link = s_test_expect (router, ZPOST_LINK_REPLY, true);
    assert (zpost_link_ticket (link) == ticket);
    zmsg_t *content = zpost_link_take_content (link);
    zpost_link_destroy (&link);
    return content;
}

//  The next REPLY on router, decoded; its ticket must be ticket
static zpost_msg_t *
s_test_reply (zsock_t *router, uint64_t ticket)
{
    zpost_link_t *link = s_test_expect (router, ZPOST_LINK_REPLY, true);
    assert (zpost_link_ticket (link) == ticket);
    zmsg_t *content = zpost_link_take_content (link);
    zpost_link_destroy (&link);
    zpost_msg_t *reply = zpost_msg_new ();
    int rc = zpost_msg_decode_reply (reply, &content);
    assert (rc == 0);
    return reply;
}

//  Wait for id from the store on the silent router, while the live one
//  answers every heartbeat: the live link must see no READY meanwhile
//  (its socket is not replaced).
static zpost_link_t *
s_test_expect_one_silent (zsock_t *live, zsock_t *silent, zpost_link_id_t id)
{
    zpoller_t *poller = zpoller_new (live, silent, NULL);
    assert (poller);
    int64_t deadline = zclock_mono () + S_TEST_DEADLINE;
    zpost_link_t *link = zpost_link_new (ZPOST_LINK_NONE);
    while (true) {
        int64_t left = deadline - zclock_mono ();
        assert (left > 0);
        void *which = zpoller_wait (poller, (int) left);
        assert (which == live || which == silent);
        int rc = zpost_link_recv (link, (zsock_t *) which);
        assert (rc == 0);
        if (which == silent && zpost_link_id (link) == id)
            break;
        if (which == live) {
            assert (zpost_link_id (link) == ZPOST_LINK_HEARTBEAT);
            rc = zpost_link_send (link, live);
            assert (rc == 0);
        }
    }
    zpoller_destroy (&poller);
    return link;
}

//  A PING request's content
static zmsg_t *
s_test_ping (const char *request_id)
{
    zpost_msg_t *request = zpost_msg_new_request (ZPOST_CMD_PING, request_id, NULL);
    zpost_msg_set (request, ZPOST_F_TARGET, "store");
    zmsg_t *content = zpost_msg_encode (request);
    zpost_msg_destroy (&request);
    return content;
}

//  The same, for a reply the codec can decode.
static zpost_msg_t *
s_test_request (zsock_t *router, zframe_t *store_id, uint64_t ticket, zmsg_t **content_p)
{
    zmsg_t *content = s_test_exchange (router, store_id, ticket, content_p);
    zpost_msg_t *reply = zpost_msg_new ();
    int rc = zpost_msg_decode_reply (reply, &content);
    assert (rc == 0);
    return reply;
}

void
store_server_test (bool verbose)
{
    printf (" * store_server: ");
    if (verbose)
        printf ("\n");

    //  @selftest
    //  A scratch database; PING does not use it, later commands will
    char *base;
    store_db_t *db = store_db_scratch_new ("zpost-store-server", 1024 * 1024, &base);

    //  The test plays the broker's back end
    zsock_t *router = zsock_new_router ("@" S_TEST_ENDPOINT);
    assert (router);

    store_server_config_t config = {
        .db = db,
        .endpoint = S_TEST_ENDPOINT,
        .name = "selftest:1",
        .capacity = 10,
        .heartbeat = S_TEST_HEARTBEAT,
        .verbose = verbose
    };
    zactor_t *server = zactor_new (store_server, &config);
    assert (server);
    zstr_send (server, "START");
    int rc = zsock_wait (server);
    assert (rc == 0);

    //  READY first, with the configured name and capacity
    zpost_link_t *link = s_test_expect (router, ZPOST_LINK_READY, true);
    assert (streq (zpost_link_store_name (link), "selftest:1"));
    assert (zpost_link_capacity (link) == 10);
    zframe_t *store_id = zframe_dup (zpost_link_routing_id (link));
    zpost_link_destroy (&link);

    //  Heartbeats follow
    link = s_test_expect (router, ZPOST_LINK_HEARTBEAT, true);
    zpost_link_destroy (&link);

    //  PING through the store
    zpost_msg_t *request = zpost_msg_new_request (ZPOST_CMD_PING, "ping-1", NULL);
    zpost_msg_set (request, ZPOST_F_TARGET, "store");
    zmsg_t *content = zpost_msg_encode (request);
    zpost_msg_destroy (&request);
    zpost_msg_t *reply = s_test_request (router, store_id, 0x0102030405060708, &content);
    assert (zpost_msg_command (reply) == ZPOST_CMD_PING);
    assert (streq (zpost_msg_request_id (reply), "ping-1"));
    assert (zpost_msg_status (reply) == ZPOST_OK);
    assert (streq (zpost_msg_get (reply, ZPOST_F_ANSWERED_BY), "store"));
    assert (streq (zpost_msg_get (reply, ZPOST_F_SERVER_VERSION), "zpost " ZPOST_VERSION));
    zpost_msg_destroy (&reply);

    //  Malformed content gets the codec's error, echoing what was valid
    content = zmsg_new ();
    zmsg_addstr (content, ZPOST_MSG_SIGNATURE);
    zmsg_addstr (content, "PING");
    zmsg_addstr (content, "ping-2");
    zmsg_addstr (content, "");
    zmsg_addstr (content, "nowhere");
    reply = s_test_request (router, store_id, 2, &content);
    assert (zpost_msg_command (reply) == ZPOST_CMD_PING);
    assert (streq (zpost_msg_request_id (reply), "ping-2"));
    assert (zpost_msg_status (reply) >= 400 && zpost_msg_status (reply) < 500);
    zpost_msg_destroy (&reply);

    //  ... and empty frames in place of what was not valid
    content = zmsg_new ();
    zmsg_addstr (content, "ZPOST9");
    content = s_test_exchange (router, store_id, 3, &content);
    assert (zmsg_size (content) >= 5);
    char *signature = zmsg_popstr (content);
    char *command = zmsg_popstr (content);
    char *request_id = zmsg_popstr (content);
    char *status = zmsg_popstr (content);
    assert (streq (signature, ZPOST_MSG_SIGNATURE));
    assert (streq (command, "") && streq (request_id, ""));
    assert (atoi (status) == ZPOST_VERSION_UNSUPPORTED);
    zstr_free (&signature);
    zstr_free (&command);
    zstr_free (&request_id);
    zstr_free (&status);
    zmsg_destroy (&content);

    //  A command that needs a session, without one
    request = zpost_msg_new_request (ZPOST_CMD_STATS, "stats-1", NULL);
    zpost_msg_set (request, ZPOST_F_SCOPE, "server");
    content = zpost_msg_encode (request);
    zpost_msg_destroy (&request);
    reply = s_test_request (router, store_id, 4, &content);
    assert (zpost_msg_status (reply) == ZPOST_NOT_LOGGED_IN);
    zpost_msg_destroy (&reply);

    //  Nonsense on the link is dropped; the store carries on
    zmsg_t *junk = zmsg_new ();
    zframe_t *routing_id = zframe_dup (store_id);
    zmsg_append (junk, &routing_id);
    zmsg_addstr (junk, "NOT-ZPOSTL1");
    rc = zmsg_send (&junk, router);
    assert (rc == 0);

    //  DISCONNECT from the broker: the store says READY again
    link = zpost_link_new (ZPOST_LINK_DISCONNECT);
    zpost_link_set_routing_id (link, store_id);
    rc = zpost_link_send (link, router);
    assert (rc == 0);
    zpost_link_destroy (&link);
    link = s_test_expect (router, ZPOST_LINK_READY, true);
    zpost_link_destroy (&link);

    //  Silence from the broker: after three intervals a new socket (a new
    //  routing id) says READY
    int64_t silent_since = zclock_mono ();
    link = s_test_expect (router, ZPOST_LINK_READY, false);
    assert (zclock_mono () - silent_since >= S_TEST_HEARTBEAT * (STORE_SERVER_LIVENESS - 1));
    assert (!zframe_eq (zpost_link_routing_id (link), store_id));
    zframe_destroy (&store_id);
    store_id = zframe_dup (zpost_link_routing_id (link));
    zpost_link_destroy (&link);

    //  ... and serves on the new one
    request = zpost_msg_new_request (ZPOST_CMD_PING, "ping-3", NULL);
    zpost_msg_set (request, ZPOST_F_TARGET, "store");
    content = zpost_msg_encode (request);
    zpost_msg_destroy (&request);
    reply = s_test_request (router, store_id, 5, &content);
    assert (zpost_msg_status (reply) == ZPOST_OK);
    zpost_msg_destroy (&reply);

    //  A clean end says DISCONNECT
    zactor_destroy (&server);
    link = s_test_expect (router, ZPOST_LINK_DISCONNECT, false);
    zpost_link_destroy (&link);

    zframe_destroy (&store_id);

    //  Two brokers: one link to each, one engine
    zsock_t *router_b = zsock_new_router ("@" S_TEST_ENDPOINT "-b");
    assert (router_b);
    const char *endpoints [] = { S_TEST_ENDPOINT, S_TEST_ENDPOINT "-b" };
    config.brokers = 2;
    config.endpoints = endpoints;
    server = zactor_new (store_server, &config);
    assert (server);
    zstr_send (server, "START");
    rc = zsock_wait (server);
    assert (rc == 0);
    link = s_test_expect (router, ZPOST_LINK_READY, true);
    zframe_t *store_a = zframe_dup (zpost_link_routing_id (link));
    zpost_link_destroy (&link);
    link = s_test_expect (router_b, ZPOST_LINK_READY, true);
    zframe_t *store_b = zframe_dup (zpost_link_routing_id (link));
    zpost_link_destroy (&link);

    //  Both brokers use the same ticket at once: each reply goes back
    //  on the link its request came on, with that broker's ticket
    content = s_test_ping ("ping-a");
    s_test_send (router, store_a, 7, &content);
    content = s_test_ping ("ping-b");
    s_test_send (router_b, store_b, 7, &content);
    reply = s_test_reply (router, 7);
    assert (streq (zpost_msg_request_id (reply), "ping-a"));
    zpost_msg_destroy (&reply);
    reply = s_test_reply (router_b, 7);
    assert (streq (zpost_msg_request_id (reply), "ping-b"));
    zpost_msg_destroy (&reply);

    //  The same REGISTER (same client key, request id) through both at
    //  once, both in the password pool together: stored once, and both
    //  copies get the same answer
    for (int copy = 0; copy < 2; copy++) {
        request = zpost_msg_new_request (ZPOST_CMD_REGISTER, "register-twice", NULL);
        zpost_msg_set (request, ZPOST_F_USERNAME, "dora");
        zpost_msg_set (request, ZPOST_F_PASSWORD, "password-twice");
        content = zpost_msg_encode (request);
        zpost_msg_destroy (&request);
        s_test_send (copy? router_b: router, copy? store_b: store_a, 8, &content);
    }
    zpost_msg_t *reply_a = s_test_reply (router, 8);
    zpost_msg_t *reply_b = s_test_reply (router_b, 8);
    assert (zpost_msg_status (reply_a) == ZPOST_OK);
    assert (zpost_msg_status (reply_b) == ZPOST_OK);
    assert (streq (zpost_msg_reason (reply_a), zpost_msg_reason (reply_b)));
    zpost_msg_destroy (&reply_a);
    zpost_msg_destroy (&reply_b);

    //  The second broker falls silent: only its link gets a new socket;
    //  the first link keeps its socket and serves on
    silent_since = zclock_mono ();
    link = s_test_expect_one_silent (router, router_b, ZPOST_LINK_READY);
    assert (zclock_mono () - silent_since >= S_TEST_HEARTBEAT * (STORE_SERVER_LIVENESS - 1));
    assert (!zframe_eq (zpost_link_routing_id (link), store_b));
    zframe_destroy (&store_b);
    store_b = zframe_dup (zpost_link_routing_id (link));
    zpost_link_destroy (&link);
    content = s_test_ping ("ping-a2");
    s_test_send (router, store_a, 9, &content);
    reply = s_test_reply (router, 9);
    assert (streq (zpost_msg_request_id (reply), "ping-a2"));
    zpost_msg_destroy (&reply);
    content = s_test_ping ("ping-b2");
    s_test_send (router_b, store_b, 9, &content);
    reply = s_test_reply (router_b, 9);
    assert (streq (zpost_msg_request_id (reply), "ping-b2"));
    zpost_msg_destroy (&reply);

    //  A clean end says DISCONNECT to each
    zactor_destroy (&server);
    link = s_test_expect (router, ZPOST_LINK_DISCONNECT, false);
    zpost_link_destroy (&link);
    link = s_test_expect (router_b, ZPOST_LINK_DISCONNECT, false);
    zpost_link_destroy (&link);
    zframe_destroy (&store_a);
    zframe_destroy (&store_b);
    zsock_destroy (&router_b);

    zsock_destroy (&router);
    store_db_scratch_destroy (&db, &base);
    //  @end

    printf ("OK\n");
}
