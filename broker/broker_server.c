/*  =========================================================================
    broker_server - the zpost-broker: client front end, store back end

    How a request travels. The front ROUTER hands us a request; the codec
    checks it and tells us the client's key (from the ZAP User-Id). We give
    it a ticket, a fresh 64-bit number, and send it to a worker as a link
    REQUEST. The pending table maps the ticket to what we need to answer the
    client: the routing id, command and request id, held as the ready-made
    503 reply we send if the deadline passes or the worker dies. When the
    worker's REPLY comes back with that ticket, we relay its frames as they
    are and forget the ticket; a reply whose ticket we no longer hold is
    dropped, so a late answer never reaches a client that has moved on.

    A reply is the answer of the worker the ticket was given to, and of no
    other: the pending entry remembers that worker, and a REPLY for the
    ticket from any other worker is dropped and logged, and leaves the entry
    waiting for the right one.

    A SEND whose body is larger than the chosen worker's body limit (from
    its READY) is answered 413 here, as the store would answer it, and is
    never forwarded: a flood of large bodies costs the broker a decode, not
    a copy queued towards a store that will refuse it.

    Every request has the same timeout, so deadlines grow with tickets and
    a list in ticket order is also in deadline order: expiring requests
    costs only the expired ones.

    A WATCH is the exception: it waits at the store until the user's inbox
    changes or its own timeout (0..60 s) passes. Its deadline is that
    timeout plus ours, kept in a second list sorted by deadline (a new one
    is put in from the end, where most go, as most clients wait as long as
    each other). Once sent it is released from its worker's count of
    requests in flight: a store holding thousands of waits must not look
    busy, and the wait costs the store nothing until it ends. Everything
    else is as for any request: the reply is relayed by ticket, a dead
    worker's waits get 503 at once, and so do waits past their deadline.

    The back ROUTER is mandatory-routing with no send timeout, so a send to
    a worker that has gone fails at once (EHOSTUNREACH): the worker is
    dropped there and then, instead of after three silent heartbeats. The
    front ROUTER is not: a reply to a client that has gone is simply lost.
    =========================================================================
*/

#include "broker_server.h"
#include "broker_workers.h"
#include "broker_zap.h"
#include "zpost_msg.h"
#include "zpost_link.h"
#include "zpost_keys.h"
#include <inttypes.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#ifndef ZPOST_VERSION
#   error "ZPOST_VERSION must be defined by the build"
#endif

#define PENDING_MAX         100000  //  requests in flight through the broker
#define WORKERS_MAX         1024    //  store workers the table takes
#define HEARTBEAT_LIVENESS  3       //  missed heartbeats before a worker is dead
#define SOCKET_HWM          1000    //  messages queued per peer, each way
#define DRAIN_MAX           256     //  messages read per wake-up of a socket
//  ... and msecs: a pass of big bodies (16 MiB each, checked byte by byte)
//  must not keep the other socket unread; a front flood once held the
//  back end unread 60 s (ASan, a loaded machine), so stores' READYs and
//  heartbeats went unheard and every request got 503
#define DRAIN_MSECS         20
#define HANDSHAKE_IVL       5000    //  msec a peer has to finish its handshake
//  A frame may hold a whole body, plus room for the smaller frames' limits
#define FRAME_MAX           (ZPOST_BODY_MAX + 64 * 1024)

//  One request forwarded to a worker and not yet answered
typedef struct {
    uint64_t ticket;            //  the broker's number for it
    char key [17];              //  ticket as 16 hex digits, the table key
    zpost_msg_t *failure;       //  the 503 reply; holds routing id, command
                                //  and request id of the client's request
    zframe_t *worker;           //  routing id of the worker it went to
    size_t bytes;               //  its body bytes, counted against the worker
    int64_t deadline;           //  monotonic msec when it fails
    void *handle;               //  its place in the deadline list
    bool waiting;               //  a WATCH: in waits, not counted in flight
} s_pending_t;

typedef struct {
    zsock_t *pipe;              //  actor command pipe
    zloop_t *loop;              //  reactor over pipe, sockets and timers
    zsock_t *front;             //  ROUTER for clients
    zsock_t *back;              //  ROUTER for store workers
    zcert_t *cert;              //  the broker's key pair (our copy)
    char *front_endpoint;       //  endpoint to bind the front to
    char *back_endpoint;        //  endpoint to bind the back to
    char *back_file;            //  the ipc socket file we bound, or NULL
    dev_t back_device;          //  ... and its device and inode, so that
    ino_t back_inode;           //  only our own socket is removed at exit
    int timeout;                //  msec a forwarded request may take
    int heartbeat;              //  msec between heartbeats
    bool verbose;               //  log every message
    bool started;               //  START succeeded
    broker_workers_t *workers;  //  live store workers
    zhashx_t *pending;          //  ticket key -> s_pending_t (not owned)
    zlistx_t *deadlines;        //  s_pending_t in deadline order (owns them,
                                //  through s_pending_remove)
    zlistx_t *waits;            //  WATCHes, s_pending_t in deadline order
                                //  (owned as deadlines' are)
    uint64_t next_ticket;       //  next ticket to give out
} s_server_t;


//  --------------------------------------------------------------------------
//  Replies to the client

static void
s_reply (s_server_t *self, zpost_msg_t *request, int status, const char *reason)
{
    zpost_msg_t *reply = zpost_msg_new_reply (request, status, reason);
    assert (reply);
    if (zpost_msg_send (reply, self->front) != 0 && self->verbose)
        zsys_info ("zpost-broker: reply %d to a client lost: %s", status,
                   zmq_strerror (zmq_errno ()));
    zpost_msg_destroy (&reply);
}


//  --------------------------------------------------------------------------
//  The pending table

static void
s_pending_remove (s_server_t *self, s_pending_t **entry_p)
{
    s_pending_t *entry = *entry_p;
    zhashx_delete (self->pending, entry->key);
    zlistx_delete (entry->waiting? self->waits: self->deadlines, entry->handle);
    zpost_msg_destroy (&entry->failure);
    zframe_destroy (&entry->worker);
    free (entry);
    *entry_p = NULL;
}

//  Sorts the waits by deadline
static int
s_deadline_compare (const void *item1, const void *item2)
{
    int64_t one = ((const s_pending_t *) item1)->deadline;
    int64_t two = ((const s_pending_t *) item2)->deadline;
    return one < two? -1: one > two? 1: 0;
}

//  A WATCH's deadline: its own timeout, then ours, from now
static int64_t
s_watch_deadline (s_server_t *self, zpost_msg_t *request)
{
    const char *timeout = zpost_msg_get (request, ZPOST_F_TIMEOUT);
    int64_t seconds = timeout? (int64_t) strtoull (timeout, NULL, 10): 0;
    if (seconds < 0 || seconds > ZPOST_WATCH_TIMEOUT_MAX)
        seconds = ZPOST_WATCH_TIMEOUT_MAX;      //  the codec checked it
    return zclock_mono () + seconds * 1000 + self->timeout;
}

static void
s_pending_add (s_server_t *self, uint64_t ticket, zpost_msg_t *request,
               zframe_t *worker, size_t bytes)
{
    s_pending_t *entry = (s_pending_t *) zmalloc (sizeof (s_pending_t));
    assert (entry);
    entry->ticket = ticket;
    snprintf (entry->key, sizeof entry->key, "%016" PRIx64, ticket);
    entry->failure = zpost_msg_new_reply (request, ZPOST_STORE_UNAVAILABLE,
        "no store answered in time; try again");
    entry->worker = zframe_dup (worker);
    entry->bytes = bytes;
    assert (entry->failure && entry->worker);
    entry->waiting = zpost_msg_command (request) == ZPOST_CMD_WATCH;
    if (entry->waiting) {
        entry->deadline = s_watch_deadline (self, request);
        entry->handle = zlistx_insert (self->waits, entry, false);
    }
    else {
        entry->deadline = zclock_mono () + self->timeout;
        entry->handle = zlistx_add_end (self->deadlines, entry);
    }
    assert (entry->handle);
    int rc = zhashx_insert (self->pending, entry->key, entry);
    assert (rc == 0);           //  tickets are never reused
}

static s_pending_t *
s_pending_lookup (s_server_t *self, uint64_t ticket)
{
    char key [17];
    snprintf (key, sizeof key, "%016" PRIx64, ticket);
    return (s_pending_t *) zhashx_lookup (self->pending, key);
}

//  Answer the client 503 and forget the request

static void
s_pending_fail (s_server_t *self, s_pending_t **entry_p, const char *why)
{
    s_pending_t *entry = *entry_p;
    if (self->verbose)
        zsys_info ("zpost-broker: ticket %" PRIu64 " %s: 503 to the client",
                   entry->ticket, why);
    if (zpost_msg_send (entry->failure, self->front) != 0 && self->verbose)
        zsys_info ("zpost-broker: reply 503 to a client lost: %s",
                   zmq_strerror (zmq_errno ()));
    if (!entry->waiting)
        broker_workers_release (self->workers, entry->worker, entry->bytes);
    s_pending_remove (self, entry_p);
}

//  Fail every request in flight on one worker. Rare (a worker died), so a
//  walk of the whole table is fine.

static void
s_pending_fail_worker (s_server_t *self, zframe_t *worker, const char *why)
{
    zlistx_t *doomed = zlistx_new ();
    assert (doomed);
    zlistx_t *lists [2] = { self->deadlines, self->waits };
    s_pending_t *entry;
    for (int index = 0; index < 2; index++) {
        entry = (s_pending_t *) zlistx_first (lists [index]);
        while (entry) {
            if (zframe_eq (entry->worker, worker))
                zlistx_add_end (doomed, entry);
            entry = (s_pending_t *) zlistx_next (lists [index]);
        }
    }
    entry = (s_pending_t *) zlistx_first (doomed);
    while (entry) {
        s_pending_fail (self, &entry, why);
        entry = (s_pending_t *) zlistx_next (doomed);
    }
    zlistx_destroy (&doomed);
}


//  --------------------------------------------------------------------------
//  Workers

//  Forget a worker and fail what it had in flight. The routing id may be
//  the table's own, so it is copied first.

static void
s_worker_drop (s_server_t *self, zframe_t *routing_id, const char *why)
{
    zframe_t *id = zframe_dup (routing_id);
    assert (id);
    const char *name = broker_workers_name (self->workers, id);
    zsys_info ("zpost-broker: store %s %s", name? name: "(unknown)", why);
    s_pending_fail_worker (self, id, why);
    broker_workers_remove (self->workers, id);
    zframe_destroy (&id);
}

//  Send a command without content to a worker. Returns 0, or -1 with errno
//  as the back socket left it.

static int
s_worker_send (s_server_t *self, zframe_t *routing_id, zpost_link_id_t command)
{
    zpost_link_t *link = zpost_link_new (command);
    assert (link);
    zpost_link_set_routing_id (link, routing_id);
    int rc = zpost_link_send (link, self->back);
    int saved = zmq_errno ();
    zpost_link_destroy (&link);
    errno = saved;
    return rc;
}


//  --------------------------------------------------------------------------
//  Front: requests from clients

//  A SEND (or ANSWER) body over the limit the worker stated in READY: answer 413 with
//  the store's words (ZPOST.md, SEND) and return true.
static bool
s_body_too_large (s_server_t *self, zpost_msg_t *request, zframe_t *worker)
{
    if (zpost_msg_command (request) != ZPOST_CMD_SEND
    &&  zpost_msg_command (request) != ZPOST_CMD_ANSWER)
        return false;
    const char *body = zpost_msg_get (request, ZPOST_F_BODY);
    uint64_t limit = broker_workers_body_limit (self->workers, worker);
    if (!body || (uint64_t) strlen (body) <= limit)
        return false;
    char *reason = zsys_sprintf ("The body is larger than this server's "
                                 "limit of %" PRIu64 " bytes", limit);
    assert (reason);
    zpost_msg_t *reply = zpost_msg_new_reply (request, ZPOST_TOO_LARGE, reason);
    assert (reply);
    zpost_msg_set (reply, ZPOST_F_DETAIL, "body");
    if (zpost_msg_send (reply, self->front) != 0 && self->verbose)
        zsys_info ("zpost-broker: reply 413 to a client lost: %s",
                   zmq_strerror (zmq_errno ()));
    if (self->verbose)
        zsys_info ("zpost-broker: SEND %s: body of %zu bytes over %" PRIu64
                   ": 413", zpost_msg_request_id (request), strlen (body), limit);
    zpost_msg_destroy (&reply);
    zstr_free (&reason);
    return true;
}

static void
s_forward (s_server_t *self, zpost_msg_t *request)
{
    const char *client_key = zpost_msg_client_key (request);
    if (!client_key || !*client_key) {
        //  A CURVE front with our ZAP handler always has one
        zsys_warning ("zpost-broker: request without a client key refused");
        s_reply (self, request, ZPOST_INTERNAL_ERROR,
                 "the broker could not tell who you are");
        return;
    }
    if (zhashx_size (self->pending) >= PENDING_MAX) {
        s_reply (self, request, ZPOST_STORE_UNAVAILABLE,
                 "the broker is too busy; try again");
        return;
    }
    //  What the request will hold at the store: its body, if it has one
    zpost_command_t command = zpost_msg_command (request);
    const char *body = command == ZPOST_CMD_SEND || command == ZPOST_CMD_ANSWER
                     ? zpost_msg_get (request, ZPOST_F_BODY): NULL;
    size_t bytes = body? strlen (body): 0;
    while (true) {
        zframe_t *worker = broker_workers_pick (self->workers, bytes);
        if (!worker) {
            s_reply (self, request, ZPOST_STORE_UNAVAILABLE,
                     broker_workers_size (self->workers)
                     ? "every store is busy; try again"
                     : "no store is running; try again");
            return;
        }
        if (s_body_too_large (self, request, worker)) {
            broker_workers_release (self->workers, worker, bytes);
            return;
        }
        zmsg_t *content = zpost_msg_encode (request);
        if (!content) {
            broker_workers_release (self->workers, worker, bytes);
            zsys_error ("zpost-broker: cannot encode a decoded request");
            s_reply (self, request, ZPOST_INTERNAL_ERROR, NULL);
            return;
        }
        uint64_t ticket = self->next_ticket++;
        zpost_link_t *link = zpost_link_new (ZPOST_LINK_REQUEST);
        assert (link);
        zpost_link_set_routing_id (link, worker);
        zpost_link_set_ticket (link, ticket);
        zpost_link_set_client_key (link, client_key);
        zpost_link_set_content (link, &content);
        int rc = zpost_link_send (link, self->back);
        int error = zmq_errno ();
        zpost_link_destroy (&link);
        if (rc == 0) {
            s_pending_add (self, ticket, request, worker, bytes);
            //  A WATCH waits at the store without working there: it
            //  holds no place in the worker's count (see the top)
            if (command == ZPOST_CMD_WATCH)
                broker_workers_release (self->workers, worker, bytes);
            if (self->verbose)
                zsys_info ("zpost-broker: %s %s from %s -> ticket %" PRIu64
                           " to store %s",
                           zpost_msg_command_name (zpost_msg_command (request)),
                           zpost_msg_request_id (request), client_key, ticket,
                           broker_workers_name (self->workers, worker));
            return;
        }
        broker_workers_release (self->workers, worker, bytes);
        if (error == EHOSTUNREACH)
            //  It went away without a word; try the next one
            s_worker_drop (self, worker, "is gone (send failed)");
        else {
            //  Its queue is full (EAGAIN): it is not keeping up
            zsys_warning ("zpost-broker: store %s does not take requests: %s",
                          broker_workers_name (self->workers, worker),
                          zmq_strerror (error));
            s_reply (self, request, ZPOST_STORE_UNAVAILABLE,
                     "the store is overloaded; try again");
            return;
        }
    }
}

//  libzmq names a peer that did not choose a routing id with five bytes,
//  the first zero, counting up from a random start. A peer may choose its
//  own id instead, and a peer that chooses the id of a client that has just
//  gone (a Lazy Pirate client closes its socket on timeout) would receive
//  the replies still owed to that client. So clients may not choose.
static bool
s_generated_routing_id (zframe_t *routing_id)
{
    return routing_id && zframe_size (routing_id) == 5 && zframe_data (routing_id) [0] == 0;
}

static void
s_front_message (s_server_t *self, zpost_msg_t *request, int rc)
{
    if (rc != -1 && !s_generated_routing_id (zpost_msg_routing_id (request))) {
        if (self->verbose)
            zsys_info ("zpost-broker: request from a client-chosen routing id refused");
        s_reply (self, request, ZPOST_MALFORMED,
                 "do not set a routing id (ZMQ_ROUTING_ID) on the client socket");
        return;
    }
    if (rc == -2) {
        if (self->verbose)
            zsys_info ("zpost-broker: malformed request: %d %s",
                       zpost_msg_status (request), zpost_msg_reason (request));
        s_reply (self, request, zpost_msg_status (request),
                 zpost_msg_reason (request));
    }
    else
    if (rc == 0) {
        const char *target = zpost_msg_get (request, ZPOST_F_TARGET);
        if (zpost_msg_command (request) == ZPOST_CMD_PING
        &&  target && streq (target, "broker")) {
            zpost_msg_t *reply = zpost_msg_new_reply (request, ZPOST_OK, NULL);
            assert (reply);
            zpost_msg_set (reply, ZPOST_F_SERVER_VERSION, "zpost " ZPOST_VERSION);
            zpost_msg_set (reply, ZPOST_F_ANSWERED_BY, "broker");
            zpost_msg_send (reply, self->front);
            zpost_msg_destroy (&reply);
        }
        else
            s_forward (self, request);
    }
}

//  Read what has arrived, up to a bound, before going back to the poller:
//  one wake-up per message is the reactor's largest cost under load.
static int
s_handle_front (zloop_t *loop, zsock_t *reader, void *arg)
{
    (void) loop;
    (void) reader;
    s_server_t *self = (s_server_t *) arg;
    zpost_msg_t *request = zpost_msg_new ();
    assert (request);
    int64_t started = zclock_mono ();
    for (int count = 0; count < DRAIN_MAX; count++) {
        if (count > 0 && (!(zsock_events (self->front) & ZMQ_POLLIN)
                          || zclock_mono () - started >= DRAIN_MSECS))
            break;
        int rc = zpost_msg_recv_request (request, self->front);
        s_front_message (self, request, rc);
    }
    zpost_msg_destroy (&request);
    return 0;
}


//  --------------------------------------------------------------------------
//  Back: messages from store workers

static void
s_relay_reply (s_server_t *self, zpost_link_t *link, zframe_t *worker)
{
    uint64_t ticket = zpost_link_ticket (link);
    s_pending_t *entry = s_pending_lookup (self, ticket);
    if (!entry) {
        if (self->verbose)
            zsys_info ("zpost-broker: reply to ticket %" PRIu64
                       " dropped: no longer pending", ticket);
        return;
    }
    //  A ticket given to another worker is not this one's to answer: the
    //  entry stays, waiting for the worker it was given to. A store that
    //  does this is broken or hostile, so it is logged whatever the level.
    if (!zframe_eq (entry->worker, worker)) {
        const char *from = broker_workers_name (self->workers, worker);
        const char *to = broker_workers_name (self->workers, entry->worker);
        zsys_warning ("zpost-broker: store %s replied to ticket %" PRIu64
                      ", which went to store %s: dropped",
                      from? from: "(unknown)", ticket, to? to: "(gone)");
        return;
    }
    zmsg_t *content = zpost_link_take_content (link);
    if (content) {
        if (zpost_msg_send_encoded (&content, self->front,
                                    zpost_msg_routing_id (entry->failure)) != 0
        &&  self->verbose)
            zsys_info ("zpost-broker: reply to ticket %" PRIu64 " lost: %s",
                       ticket, zmq_strerror (zmq_errno ()));
        zmsg_destroy (&content);
    }
    else
        //  The codec requires content; answer rather than leave it hanging
        zpost_msg_send (entry->failure, self->front);
    if (self->verbose)
        zsys_info ("zpost-broker: ticket %" PRIu64 " answered", ticket);
    if (!entry->waiting)
        broker_workers_release (self->workers, worker, entry->bytes);
    s_pending_remove (self, &entry);
}

static void
s_back_message (s_server_t *self, zpost_link_t *link)
{
    zframe_t *worker = zpost_link_routing_id (link);
    int64_t expires = zclock_mono () + (int64_t) HEARTBEAT_LIVENESS * self->heartbeat;
    zpost_link_id_t command = zpost_link_id (link);
    bool known = broker_workers_known (self->workers, worker);

    if (command == ZPOST_LINK_READY) {
        uint64_t body_limit = zpost_link_body_limit (link);
        int rc = broker_workers_ready (self->workers, worker,
                                   zpost_link_store_name (link),
                                   zpost_link_capacity (link), body_limit,
                                   expires);
        if (rc == 1) {
            if (body_limit == ZPOST_LINK_BODY_LIMIT_NONE)
                zsys_info ("zpost-broker: store %s ready (capacity %" PRIu32
                           ", no body limit stated)",
                           zpost_link_store_name (link), zpost_link_capacity (link));
            else
                zsys_info ("zpost-broker: store %s ready (capacity %" PRIu32
                           ", body limit %" PRIu64 ")",
                           zpost_link_store_name (link),
                           zpost_link_capacity (link), body_limit);
        }
        else
        if (rc == -1)
            zsys_warning ("zpost-broker: store %s refused: %d stores already",
                          zpost_link_store_name (link), WORKERS_MAX);
    }
    else
    if (command == ZPOST_LINK_DISCONNECT) {
        if (known)
            s_worker_drop (self, worker, "disconnected");
    }
    else
    if (command == ZPOST_LINK_REQUEST) {
        //  Not a store's message to send: drop it, answer nothing, so that
        //  a confused peer cannot start a loop
        zsys_warning ("zpost-broker: REQUEST on the back end, dropped");
    }
    else
    if (!known) {
        //  Heard from a worker we dropped or never met (we restarted, say):
        //  tell it to announce itself again. Its reply, if any, is stale.
        if (self->verbose)
            zsys_info ("zpost-broker: %s from an unknown store: DISCONNECT",
                       zpost_link_command_name (command));
        s_worker_send (self, worker, ZPOST_LINK_DISCONNECT);
    }
    else {
        broker_workers_refresh (self->workers, worker, expires);
        if (command == ZPOST_LINK_REPLY)
            s_relay_reply (self, link, worker);
        else
        if (command != ZPOST_LINK_HEARTBEAT)
            zsys_warning ("zpost-broker: store %s sent %s, ignored",
                          broker_workers_name (self->workers, worker),
                          zpost_link_command_name (command));
    }
}

static int
s_handle_back (zloop_t *loop, zsock_t *reader, void *arg)
{
    (void) loop;
    (void) reader;
    s_server_t *self = (s_server_t *) arg;
    zpost_link_t *link = zpost_link_new (ZPOST_LINK_NONE);
    assert (link);
    int64_t started = zclock_mono ();
    for (int count = 0; count < DRAIN_MAX; count++) {
        if (count > 0 && (!(zsock_events (self->back) & ZMQ_POLLIN)
                          || zclock_mono () - started >= DRAIN_MSECS))
            break;
        int rc = zpost_link_recv (link, self->back);
        if (rc == -2)
            zsys_warning ("zpost-broker: malformed message from a store, dropped");
        if (rc == 0)
            s_back_message (self, link);
    }
    zpost_link_destroy (&link);
    return 0;
}


//  --------------------------------------------------------------------------
//  Timers

static void
s_frame_free (void **item_p)
{
    zframe_destroy ((zframe_t **) item_p);
}

static int
s_heartbeat_timer (zloop_t *loop, int timer_id, void *arg)
{
    (void) timer_id;
    s_server_t *self = (s_server_t *) arg;

    //  Silence is measured after reading what the stores have sent: when
    //  this loop was busy (a flood at the front, a slow machine), their
    //  heartbeats may be waiting unread, and a store that spoke is not gone
    if (zsock_events (self->back) & ZMQ_POLLIN)
        s_handle_back (loop, self->back, self);
    zframe_t *expired;
    while ((expired = broker_workers_expired (self->workers, zclock_mono ())))
        s_worker_drop (self, expired, "expired (no heartbeat)");

    //  Sends that fail take the worker out of the table, which must not
    //  change during the walk: collect first, drop after.
    zlistx_t *gone = zlistx_new ();
    assert (gone);
    zlistx_set_destructor (gone, s_frame_free);
    zframe_t *worker = broker_workers_first (self->workers);
    while (worker) {
        if (s_worker_send (self, worker, ZPOST_LINK_HEARTBEAT) != 0
        &&  errno == EHOSTUNREACH)
            zlistx_add_end (gone, zframe_dup (worker));
        worker = broker_workers_next (self->workers);
    }
    worker = (zframe_t *) zlistx_first (gone);
    while (worker) {
        s_worker_drop (self, worker, "is gone (heartbeat failed)");
        worker = (zframe_t *) zlistx_next (gone);
    }
    zlistx_destroy (&gone);
    return 0;
}

static int
s_deadline_timer (zloop_t *loop, int timer_id, void *arg)
{
    (void) loop;
    (void) timer_id;
    s_server_t *self = (s_server_t *) arg;
    int64_t now = zclock_mono ();
    s_pending_t *entry = (s_pending_t *) zlistx_first (self->deadlines);
    while (entry && entry->deadline <= now) {
        s_pending_fail (self, &entry, "timed out");
        entry = (s_pending_t *) zlistx_first (self->deadlines);
    }
    entry = (s_pending_t *) zlistx_first (self->waits);
    while (entry && entry->deadline <= now) {
        s_pending_fail (self, &entry, "timed out (WATCH)");
        entry = (s_pending_t *) zlistx_first (self->waits);
    }
    return 0;
}


//  --------------------------------------------------------------------------
//  Binding

static void
s_set_common_options (zsock_t *sock)
{
    zsock_set_sndhwm (sock, SOCKET_HWM);
    zsock_set_rcvhwm (sock, SOCKET_HWM);
    zsock_set_sndtimeo (sock, 0);
    zsock_set_linger (sock, 0);
    zsock_set_handshake_ivl (sock, HANDSHAKE_IVL);
}

//  The endpoint as libzmq bound it, with an ephemeral port resolved

static char *
s_bound_endpoint (zsock_t *sock)
{
    char *endpoint = zsock_last_endpoint (sock);
    return endpoint? endpoint: strdup ("");
}

static int
s_bind_front (s_server_t *self, char **endpoint_p)
{
    self->front = zsock_new (ZMQ_ROUTER);
    assert (self->front);
    s_set_common_options (self->front);
    zsock_set_router_mandatory (self->front, 0);
    zsock_set_maxmsgsize (self->front, FRAME_MAX);
    zcert_apply (self->cert, self->front);
    zsock_set_curve_server (self->front, 1);
    zsock_set_zap_domain (self->front, BROKER_ZAP_FRONT);
    if (zsock_bind (self->front, "%s", self->front_endpoint) == -1) {
        zsys_error ("zpost-broker: cannot bind front %s: %s",
                    self->front_endpoint, zmq_strerror (zmq_errno ()));
        return -1;
    }
    *endpoint_p = s_bound_endpoint (self->front);
    return 0;
}

//  True if a process accepts connections on the Unix socket at path: a
//  socket file whose listener has gone refuses, and may be bound again
static bool
s_ipc_in_use (const char *path)
{
    struct sockaddr_un address = { .sun_family = AF_UNIX };
    if (strlen (path) >= sizeof (address.sun_path))
        return false;           //  the bind will fail and say so
    strcpy (address.sun_path, path);
    int handle = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (handle == -1)
        return false;
    bool listening = connect (handle, (struct sockaddr *) &address,
                              sizeof (address)) == 0;
    close (handle);
    return listening;
}

static int
s_bind_back (s_server_t *self, char **endpoint_p)
{
    bool tcp = strncmp (self->back_endpoint, "tcp://", 6) == 0;
    bool ipc = strncmp (self->back_endpoint, "ipc://", 6) == 0;
    if (!tcp && !ipc) {
        zsys_error ("zpost-broker: back %s: only tcp:// and ipc:// are "
                    "supported", self->back_endpoint);
        return -1;
    }
    //  '@' is Linux's abstract namespace: no file, so no mode to protect
    //  it, and no CURVE on ipc: any local user could pose as a store
    if (ipc && self->back_endpoint [6] == '@') {
        zsys_error ("zpost-broker: back %s: an abstract ipc:// socket cannot "
                    "be kept private; give a socket file path or tcp://",
                    self->back_endpoint);
        return -1;
    }
    //  The socket file's mode keeps other users from connecting, but in a
    //  directory they can write they could rename our socket away and
    //  bind their own under its name, or take the name while we are down,
    //  and be the broker to a starting store
    if (ipc) {
        char error [1024];
        if (zpost_keys_check_ipc (self->back_endpoint + 6, false,
                                  error, sizeof (error))) {
            zsys_error ("zpost-broker: refusing back %s: %s",
                        self->back_endpoint, error);
            return -1;
        }
    }
    //  libzmq unlinks whatever is at the path before it binds: a second
    //  broker started by mistake on the same back end would take the
    //  socket from the live one, and leave it with none when it stops
    if (ipc && s_ipc_in_use (self->back_endpoint + 6)) {
        zsys_error ("zpost-broker: refusing back %s: another process (a "
                    "running zpost-broker?) is listening on it; stop that "
                    "one first, or give this broker another --back",
                    self->back_endpoint);
        return -1;
    }
    self->back = zsock_new (ZMQ_ROUTER);
    assert (self->back);
    s_set_common_options (self->back);
    zsock_set_router_mandatory (self->back, 1);
    //  A store's reply frame holds at most one body: a larger frame is a
    //  broken or hostile store, and libzmq drops its connection
    zsock_set_maxmsgsize (self->back, FRAME_MAX);
    if (tcp) {
        zcert_apply (self->cert, self->back);
        zsock_set_curve_server (self->back, 1);
        zsock_set_zap_domain (self->back, BROKER_ZAP_BACK);
    }
    //  The socket file is 0600 from birth, not only after the chmod below
    mode_t mask = ipc? umask (077): 0;
    int rc = zsock_bind (self->back, "%s", self->back_endpoint);
    int error = zmq_errno ();
    if (ipc)
        umask (mask);
    if (rc == -1) {
        zsys_error ("zpost-broker: cannot bind back %s: %s",
                    self->back_endpoint, zmq_strerror (error));
        return -1;
    }
    *endpoint_p = s_bound_endpoint (self->back);
    if (ipc) {
        const char *path = *endpoint_p + 6;
        if (chmod (path, 0600) != 0) {
            zsys_error ("zpost-broker: cannot chmod 0600 %s: %s",
                        path, strerror (errno));
            return -1;
        }
        struct stat info;
        if (lstat (path, &info) == 0 && S_ISSOCK (info.st_mode)) {
            self->back_file = strdup (path);
            assert (self->back_file);
            self->back_device = info.st_dev;
            self->back_inode = info.st_ino;
        }
    }
    return 0;
}

static void
s_start (s_server_t *self)
{
    char *front = NULL;
    char *back = NULL;
    int rc = -1;
    if (self->started)
        zsys_error ("zpost-broker: START twice");
    else
    if (s_bind_front (self, &front) == 0
    &&  s_bind_back (self, &back) == 0) {
        zloop_reader (self->loop, self->front, s_handle_front, self);
        zloop_reader (self->loop, self->back, s_handle_back, self);
        //  A reader error (a message over the size limit, say) must not
        //  take the socket out of the loop
        zloop_reader_set_tolerant (self->loop, self->front);
        zloop_reader_set_tolerant (self->loop, self->back);
        zloop_timer (self->loop, (size_t) self->heartbeat, 0,
                     s_heartbeat_timer, self);
        //  Deadlines are checked often enough to be late by a small
        //  fraction of the timeout
        int tick = self->timeout / 20;
        tick = tick < 5? 5: tick > 100? 100: tick;
        zloop_timer (self->loop, (size_t) tick, 0, s_deadline_timer, self);
        self->started = true;
        rc = 0;
    }
    zsock_send (self->pipe, "iss", rc, rc == 0? front: "", rc == 0? back: "");
    zstr_free (&front);
    zstr_free (&back);
}


//  --------------------------------------------------------------------------
//  The actor

static int
s_handle_pipe (zloop_t *loop, zsock_t *reader, void *arg)
{
    (void) loop;
    (void) reader;
    s_server_t *self = (s_server_t *) arg;
    char *command = zstr_recv (self->pipe);
    if (!command)
        return -1;              //  interrupted: the context is going
    int rc = 0;
    if (streq (command, "$TERM"))
        rc = -1;
    else
    if (streq (command, "START"))
        s_start (self);
    else
        zsys_error ("zpost-broker: unknown command %s", command);
    zstr_free (&command);
    return rc;
}

static s_server_t *
s_server_new (zsock_t *pipe, broker_server_config_t *config)
{
    s_server_t *self = (s_server_t *) zmalloc (sizeof (s_server_t));
    assert (self);
    self->pipe = pipe;
    self->cert = zcert_dup (config->cert);
    self->front_endpoint = strdup (config->front);
    self->back_endpoint = strdup (config->back);
    assert (self->cert && self->front_endpoint && self->back_endpoint);
    self->timeout = config->timeout > 0? config->timeout: 5000;
    self->heartbeat = config->heartbeat > 0? config->heartbeat: 1000;
    self->verbose = config->verbose;
    self->workers = broker_workers_new (WORKERS_MAX);
    self->pending = zhashx_new ();
    self->deadlines = zlistx_new ();
    self->waits = zlistx_new ();
    self->loop = zloop_new ();
    assert (self->workers && self->pending && self->deadlines && self->waits && self->loop);
    zlistx_set_comparator (self->waits, s_deadline_compare);
    //  Only $TERM stops us: main decides when, after a signal
    zloop_set_nonstop (self->loop, true);
    zloop_reader (self->loop, self->pipe, s_handle_pipe, self);

    //  Tickets start at a random point, so that a reply still travelling
    //  from a previous run of the broker cannot match a new ticket.
    zuuid_t *uuid = zuuid_new ();
    assert (uuid);
    memcpy (&self->next_ticket, zuuid_data (uuid), sizeof self->next_ticket);
    zuuid_destroy (&uuid);
    self->next_ticket >>= 2;    //  room to count for ever without wrapping
    return self;
}

static void
s_server_destroy (s_server_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        s_server_t *self = *self_p;
        //  Tell the clients still waiting, while the front is still open
        s_pending_t *entry = (s_pending_t *) zlistx_first (self->deadlines);
        while (entry) {
            s_pending_fail (self, &entry, "abandoned (broker stopping)");
            entry = (s_pending_t *) zlistx_first (self->deadlines);
        }
        entry = (s_pending_t *) zlistx_first (self->waits);
        while (entry) {
            s_pending_fail (self, &entry, "abandoned (broker stopping)");
            entry = (s_pending_t *) zlistx_first (self->waits);
        }
        zloop_destroy (&self->loop);
        //  Tell the stores, so that they look for a broker again at once
        //  rather than after three silent heartbeats
        if (self->back) {
            zsock_set_linger (self->back, 100);
            for (zframe_t *worker = broker_workers_first (self->workers); worker;
                 worker = broker_workers_next (self->workers))
                s_worker_send (self, worker, ZPOST_LINK_DISCONNECT);
        }
        zsock_destroy (&self->front);
        zsock_destroy (&self->back);
        //  libzmq leaves the socket file behind; remove it if it is still
        //  the one we bound (a broker started since may have its own there)
        if (self->back_file) {
            struct stat info;
            if (lstat (self->back_file, &info) == 0 && S_ISSOCK (info.st_mode)
            &&  info.st_dev == self->back_device
            &&  info.st_ino == self->back_inode)
                unlink (self->back_file);
            zstr_free (&self->back_file);
        }
        zlistx_destroy (&self->deadlines);
        zlistx_destroy (&self->waits);
        zhashx_destroy (&self->pending);
        broker_workers_destroy (&self->workers);
        zcert_destroy (&self->cert);
        zstr_free (&self->front_endpoint);
        zstr_free (&self->back_endpoint);
        free (self);
        *self_p = NULL;
    }
}

void
broker_server (zsock_t *pipe, void *args)
{
    //  Signals are main's to catch
    sigset_t signals;
    sigemptyset (&signals);
    sigaddset (&signals, SIGINT);
    sigaddset (&signals, SIGTERM);
    pthread_sigmask (SIG_BLOCK, &signals, NULL);

    s_server_t *self = s_server_new (pipe, (broker_server_config_t *) args);
    zsock_signal (pipe, 0);
    zloop_start (self->loop);
    s_server_destroy (&self);
}


int
broker_server_start (zactor_t *server, char **front_p, char **back_p)
{
    assert (server);
    assert (front_p && back_p);
    *front_p = NULL;
    *back_p = NULL;
    if (zstr_send (server, "START") != 0)
        return -1;
    int rc = -1;
    char *front = NULL;
    char *back = NULL;
    if (zsock_recv (server, "iss", &rc, &front, &back) != 0)
        return -1;
    if (rc == 0) {
        *front_p = front;
        *back_p = back;
    }
    else {
        zstr_free (&front);
        zstr_free (&back);
    }
    return rc == 0? 0: -1;
}
