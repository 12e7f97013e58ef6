/*  =========================================================================
    broker_announce - tells whoever asks the broker's public key

    Why a socket of its own and not a command on the front: a client that
    does not know the key cannot finish a CURVE handshake with the front,
    so the question has to be asked in the clear, somewhere else. Nothing
    on this socket is secret and nothing from it is believed by the broker;
    the client, not the broker, decides what the answer is worth.

    Why raw TCP (a ZMQ_STREAM socket) and not a ROUTER: a ROUTER, even with
    ZMQ_MAXMSGSIZE, keeps every frame of a multipart message until its last
    one, and libzmq cannot bound how many frames that is. A peer sending
    60 MiB of 3-byte frames of one message that never ends took the broker
    from 7 MiB to 1.3 GiB. Here the request is 8 fixed bytes
    (zpost_announce), and what a peer may cost is fixed too:

    - at most PEERS_MAX connections at once, and at most ADDRESS_PLACES of
      them from one source address; the places are shared fairly, below;
    - per connection, a count of the request bytes seen so far: the first
      byte that strays from the request, or one byte more than it, closes
      the connection, so nothing is ever buffered beyond libzmq's short
      receive queue (SOCKET_HWM chunks of at most 8 KiB);
    - a connection that has not asked within PEER_TIMEOUT msec, or that
      stays open that long after its answer, is closed.

    How the places are shared: a newcomer is never refused. When its
    address already holds ADDRESS_PLACES, it takes the place of that
    address's oldest connection; when all PEERS_MAX are taken, it takes the
    place of the oldest connection of the address that holds the most
    (counting the newcomer). So one address that opens hundreds of idle
    connections holds ADDRESS_PLACES, no more, and everyone else still gets
    in; many addresses together can still crowd the places (see the spec's
    known weaknesses). The source address is the "Peer-Address" property
    libzmq puts on every message of a ZMQ_STREAM connection, the empty one
    that says it was made included.

    After its answer a connection is left for the client to close: libzmq
    drops what is still queued on a ZMQ_STREAM connection that we close,
    so closing at once could lose the reply.

    It runs beside the broker's server actor and shares nothing with it
    but the public key it was given.
    =========================================================================
*/

#include "broker_announce.h"
#include "zpost_announce.h"
#include "zpost_keys.h"
#include <signal.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <poll.h>
#include <net/if.h>

#define PEERS_MAX           64      //  connections handled at once
#define ADDRESS_PLACES      16      //  of them one source address may hold
//  The text of a peer address: IPv6 with room for a "%scope" suffix
#define ADDRESS_MAX         (INET6_ADDRSTRLEN + IF_NAMESIZE)
#define PEER_TIMEOUT        5000    //  msec a connection may stay open
#define SOCKET_HWM          4       //  chunks queued per connection, each way
#define ROUTING_ID_MAX      16      //  bytes of a ZMQ_STREAM routing id (5)
#define PORT_MAX            65535

typedef struct {
    bool used;                  //  slot holds a connection
    uint8_t id [ROUTING_ID_MAX];    //  its routing id
    size_t id_size;
    char address [ADDRESS_MAX]; //  source address, as text ("" unknown)
    uint64_t order;             //  when it came, among all connections
    int64_t since;              //  monotonic msec it connected
    size_t got;                 //  request bytes received so far
    bool answered;              //  the reply was sent
} s_peer_t;

typedef struct {
    zsock_t *pipe;              //  actor command pipe
    zsock_t *stream;            //  the announce socket, once bound
    char *endpoint;             //  endpoint to bind to
    char reply [ZPOST_ANNOUNCE_REPLY_SIZE + 1];     //  the same for everyone
    bool verbose;               //  log every answer
    s_peer_t peers [PEERS_MAX];
    uint64_t answered;          //  questions answered, for the log
    uint64_t dropped;           //  connections closed unanswered, for the log
    uint64_t connections;       //  connections seen, to order them
} s_announce_t;


//  --------------------------------------------------------------------------
//  Connections

static s_peer_t *
s_peer_find (s_announce_t *self, zframe_t *id)
{
    for (int index = 0; index < PEERS_MAX; index++) {
        s_peer_t *peer = &self->peers [index];
        if (peer->used && peer->id_size == zframe_size (id)
        &&  memcmp (peer->id, zframe_data (id), peer->id_size) == 0)
            return peer;
    }
    return NULL;
}

//  Send bytes to a connection; size 0 closes it. Fails at once if the peer
//  has gone or its queue is full.
static int
s_send (s_announce_t *self, const uint8_t *id, size_t id_size,
        const void *data, size_t size)
{
    void *handle = zsock_resolve (self->stream);
    if (zmq_send (handle, id, id_size, ZMQ_SNDMORE) == -1)
        return -1;
    return zmq_send (handle, data, size, 0) == -1? -1: 0;
}

static void
s_peer_close (s_announce_t *self, s_peer_t *peer, const char *why)
{
    s_send (self, peer->id, peer->id_size, NULL, 0);
    if (!peer->answered) {
        self->dropped++;
        if (self->verbose)
            zsys_debug ("zpost-broker: announce: closed a connection: %s", why);
    }
    peer->used = false;
}

//  The oldest connection from address, or NULL; counts them in *count
static s_peer_t *
s_address_oldest (s_announce_t *self, const char *address, int *count)
{
    s_peer_t *oldest = NULL;
    *count = 0;
    for (int index = 0; index < PEERS_MAX; index++) {
        s_peer_t *peer = &self->peers [index];
        if (peer->used && streq (peer->address, address)) {
            (*count)++;
            if (!oldest || peer->order < oldest->order)
                oldest = peer;
        }
    }
    return oldest;
}

//  All places are taken: the one a newcomer from address takes, that is
//  the oldest connection of the address that holds the most, counting the
//  newcomer with its own; of equals, the one whose oldest came first
static s_peer_t *
s_place_to_take (s_announce_t *self, const char *address)
{
    s_peer_t *chosen = NULL;
    int chosen_count = 0;
    for (int index = 0; index < PEERS_MAX; index++) {
        s_peer_t *peer = &self->peers [index];
        int count;
        s_peer_t *oldest = s_address_oldest (self, peer->address, &count);
        if (oldest != peer)
            continue;           //  each address once, at its oldest
        if (streq (peer->address, address))
            count++;
        if (!chosen || count > chosen_count
        || (count == chosen_count && peer->order < chosen->order)) {
            chosen = peer;
            chosen_count = count;
        }
    }
    return chosen;
}

//  A new connection takes a place, if need be another's (see the top).
//  Why the oldest of its own address is closed, and the newcomer is not
//  refused, once that address holds ADDRESS_PLACES: a client that asks
//  at once is answered within a round trip, so it is the newest of its
//  address until then, and the connections that hold places the longest
//  are the idle ones. Refusing newcomers instead would let whoever shares
//  an address with an honest client (a NAT, a shared host) keep it out
//  just by holding 16 idle connections; closing the oldest, the holder
//  has to open 16 new ones within the honest client's round trip.
static void
s_peer_new (s_announce_t *self, zframe_t *id, const char *peer_address)
{
    //  A longer address (never seen: the longest, IPv6 with a scope, fits)
    //  is cut, and counted with those it shares its first bytes with
    char address [ADDRESS_MAX];
    snprintf (address, sizeof (address), "%s", peer_address);
    if (zframe_size (id) > ROUTING_ID_MAX) {
        s_send (self, zframe_data (id), zframe_size (id), NULL, 0);
        self->dropped++;
        return;
    }
    int count;
    s_peer_t *peer = s_address_oldest (self, address, &count);
    if (count >= ADDRESS_PLACES)
        s_peer_close (self, peer, "its address holds too many places");
    else {
        peer = NULL;
        for (int index = 0; index < PEERS_MAX && !peer; index++)
            if (!self->peers [index].used)
                peer = &self->peers [index];
        if (!peer) {
            peer = s_place_to_take (self, address);
            assert (peer);      //  all PEERS_MAX places are taken
            s_peer_close (self, peer, "its place went to a newcomer");
        }
    }
    memcpy (peer->id, zframe_data (id), zframe_size (id));
    peer->id_size = zframe_size (id);
    memcpy (peer->address, address, sizeof (address));
    peer->order = self->connections++;
    peer->since = zclock_mono ();
    peer->got = 0;
    peer->answered = false;
    peer->used = true;
}

static void
s_sweep (s_announce_t *self)
{
    int64_t now = zclock_mono ();
    for (int index = 0; index < PEERS_MAX; index++) {
        s_peer_t *peer = &self->peers [index];
        if (peer->used && now - peer->since >= PEER_TIMEOUT)
            s_peer_close (self, peer, "too slow");
    }
}


//  --------------------------------------------------------------------------
//  Answering

static void
s_receive (s_announce_t *self)
{
    //  A ZMQ_STREAM message is always a routing id and one chunk of bytes
    zframe_t *id = zframe_recv (self->stream);
    if (!id)
        return;
    zframe_t *data = zsock_rcvmore (self->stream)? zframe_recv (self->stream): NULL;
    s_peer_t *peer = s_peer_find (self, id);
    size_t size = data? zframe_size (data): 0;
    if (size == 0) {
        //  An empty chunk is a connection made, or one the peer closed
        if (peer)
            peer->used = false;
        else {
            //  libzmq gives it on the empty message too; "" if it did not
            const char *address = zframe_meta (id, "Peer-Address");
            s_peer_new (self, id, address? address: "");
        }
    }
    else
    if (!peer)
        //  Bytes from a connection we have already closed
        s_send (self, zframe_data (id), zframe_size (id), NULL, 0);
    else
    if (peer->answered || peer->got + size > ZPOST_ANNOUNCE_REQUEST_SIZE
    ||  memcmp (zframe_data (data), &ZPOST_ANNOUNCE_REQUEST [peer->got], size) != 0)
        s_peer_close (self, peer, "not the request");
    else {
        peer->got += size;
        if (peer->got == ZPOST_ANNOUNCE_REQUEST_SIZE) {
            if (s_send (self, peer->id, peer->id_size,
                        self->reply, ZPOST_ANNOUNCE_REPLY_SIZE) == 0) {
                peer->answered = true;
                self->answered++;
                if (self->verbose)
                    zsys_debug ("zpost-broker: announced the key (%" PRIu64
                                " so far)", self->answered);
            }
            else
                s_peer_close (self, peer, "cannot answer");
        }
    }
    zframe_destroy (&id);
    zframe_destroy (&data);
}


//  --------------------------------------------------------------------------
//  Binding

static void
s_start (s_announce_t *self)
{
    int rc = -1;
    char *bound = NULL;
    if (self->stream)
        zsys_error ("zpost-broker: announce START twice");
    else
    if (strncmp (self->endpoint, "tcp://", 6) != 0)
        zsys_error ("zpost-broker: announce %s: only tcp:// is supported",
                    self->endpoint);
    else {
        self->stream = zsock_new (ZMQ_STREAM);
        assert (self->stream);
        zsock_set_sndhwm (self->stream, SOCKET_HWM);
        zsock_set_rcvhwm (self->stream, SOCKET_HWM);
        zsock_set_sndtimeo (self->stream, 0);
        zsock_set_linger (self->stream, 0);
        //  The empty chunks that tell us of connections made and closed
        zsock_set_stream_notify (self->stream, 1);
        if (zsock_bind (self->stream, "%s", self->endpoint) == -1) {
            zsys_error ("zpost-broker: cannot bind announce %s: %s",
                        self->endpoint, zmq_strerror (zmq_errno ()));
            zsock_destroy (&self->stream);
        }
        else {
            bound = zsock_last_endpoint (self->stream);
            rc = bound? 0: -1;
        }
    }
    zsock_send (self->pipe, "is", rc, rc == 0? bound: "");
    zstr_free (&bound);
}


//  --------------------------------------------------------------------------
//  The actor

void
broker_announce (zsock_t *pipe, void *args)
{
    //  Signals are main's to catch
    sigset_t signals;
    sigemptyset (&signals);
    sigaddset (&signals, SIGINT);
    sigaddset (&signals, SIGTERM);
    pthread_sigmask (SIG_BLOCK, &signals, NULL);

    broker_announce_config_t *config = (broker_announce_config_t *) args;
    assert (config && config->endpoint && config->public_key);
    assert (zpost_keys_valid_z85 (config->public_key));
    s_announce_t *self = (s_announce_t *) zmalloc (sizeof (s_announce_t));
    assert (self);
    self->pipe = pipe;
    self->endpoint = strdup (config->endpoint);
    self->verbose = config->verbose;
    assert (self->endpoint);
    zpost_announce_reply (config->public_key, self->reply);
    zsock_signal (pipe, 0);

    zpoller_t *poller = zpoller_new (pipe, NULL);
    assert (poller);
    while (true) {
        //  Often enough that a slow connection is closed within a fraction
        //  of PEER_TIMEOUT after its time is up
        void *which = zpoller_wait (poller, PEER_TIMEOUT / 10);
        if (which == pipe) {
            char *command = zstr_recv (pipe);
            bool stop = !command || streq (command, "$TERM");
            if (command && streq (command, "START")) {
                s_start (self);
                if (self->stream)
                    zpoller_add (poller, self->stream);
            }
            else
            if (!stop)
                zsys_error ("zpost-broker: announce: unknown command %s", command);
            zstr_free (&command);
            if (stop)
                break;
        }
        else
        if (which && which == self->stream)
            s_receive (self);
        else
        if (zpoller_terminated (poller))
            break;
        if (self->stream)
            s_sweep (self);
    }
    zpoller_destroy (&poller);
    zsock_destroy (&self->stream);
    zstr_free (&self->endpoint);
    free (self);
}

int
broker_announce_start (zactor_t *announce, char **endpoint_p)
{
    assert (announce);
    assert (endpoint_p);
    *endpoint_p = NULL;
    if (zstr_send (announce, "START") != 0)
        return -1;
    int rc = -1;
    char *endpoint = NULL;
    if (zsock_recv (announce, "is", &rc, &endpoint) != 0)
        return -1;
    if (rc == 0)
        *endpoint_p = endpoint;
    else
        zstr_free (&endpoint);
    return rc == 0? 0: -1;
}

char *
broker_announce_default (const char *front)
{
    assert (front);
    if (strncmp (front, "tcp://", 6) != 0)
        return NULL;
    const char *colon = strrchr (front + 6, ':');
    //  A port, and not the inside of a bracketed IPv6 address
    if (!colon || strchr (colon, ']'))
        return NULL;
    const char *port = colon + 1;
    int host_size = (int) (colon - front);
    if (streq (port, "*") || streq (port, "0"))
        return zsys_sprintf ("%.*s:*", host_size, front);
    if (!*port || strspn (port, "0123456789") != strlen (port) || strlen (port) > 5)
        return NULL;
    int number = atoi (port);
    if (number < 1 || number >= PORT_MAX)
        return NULL;
    return zsys_sprintf ("%.*s:%d", host_size, front, number + 1);
}


//  --------------------------------------------------------------------------
//  Selftest

//  The selftest's asserts are its checks, and many call what they check:
//  they must stay in a build with NDEBUG (CMake's release types set it).
#undef NDEBUG
#include <assert.h>

static void
s_expect_default (const char *front, const char *expected)
{
    char *endpoint = broker_announce_default (front);
    if (expected)
        assert (endpoint && streq (endpoint, expected));
    else
        assert (endpoint == NULL);
    zstr_free (&endpoint);
}

//  A plain TCP connection to the announcement from a loopback address
//  (127.0.0.source), with a receive timeout
static int
s_connect_from (const char *endpoint, int source)
{
    const char *colon = strrchr (endpoint, ':');
    assert (colon);
    struct sockaddr_in address = { .sin_family = AF_INET };
    address.sin_port = htons ((uint16_t) atoi (colon + 1));
    address.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
    int handle = socket (AF_INET, SOCK_STREAM, 0);
    assert (handle >= 0);
    struct sockaddr_in local = { .sin_family = AF_INET };
    local.sin_addr.s_addr = htonl (INADDR_LOOPBACK - 1 + (uint32_t) source);
    assert (bind (handle, (struct sockaddr *) &local, sizeof (local)) == 0);
    struct timeval timeout = { .tv_sec = 5 };
    setsockopt (handle, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof (timeout));
    assert (connect (handle, (struct sockaddr *) &address, sizeof (address)) == 0);
    return handle;
}

static int
s_connect (const char *endpoint)
{
    return s_connect_from (endpoint, 1);
}

static void
s_write_all (int handle, const void *data, size_t size)
{
    assert (send (handle, data, size, MSG_NOSIGNAL) == (ssize_t) size);
}

//  Read until the peer closes, or a whole reply and a bit, or 5 s; returns
//  the bytes read (buffer holds ZPOST_ANNOUNCE_REPLY_SIZE + 16)
static size_t
s_read_reply (int handle, char *buffer, bool *closed)
{
    size_t got = 0;
    *closed = false;
    while (got < ZPOST_ANNOUNCE_REPLY_SIZE + 16) {
        ssize_t size = recv (handle, buffer + got,
                             ZPOST_ANNOUNCE_REPLY_SIZE + 16 - got, 0);
        if (size <= 0) {
            *closed = size == 0 || errno == ECONNRESET;
            break;
        }
        got += (size_t) size;
        if (got == ZPOST_ANNOUNCE_REPLY_SIZE)
            break;
    }
    return got;
}

//  Ask on a connection already made; true if the reply carries key
static bool
s_ask_on (int handle, size_t split, const char *key)
{
    s_write_all (handle, ZPOST_ANNOUNCE_REQUEST, split);
    if (split < ZPOST_ANNOUNCE_REQUEST_SIZE) {
        zclock_sleep (50);
        s_write_all (handle, &ZPOST_ANNOUNCE_REQUEST [split],
                     ZPOST_ANNOUNCE_REQUEST_SIZE - split);
    }
    char buffer [ZPOST_ANNOUNCE_REPLY_SIZE + 16];
    bool closed;
    size_t got = s_read_reply (handle, buffer, &closed);
    char key_text [41];
    return zpost_announce_decode (buffer, got, key_text) == 1
        && streq (key_text, key);
}

//  Ask, in the given pieces, from 127.0.0.source; true if the reply
//  carries key
static bool
s_ask_from (const char *endpoint, int source, size_t split, const char *key)
{
    int handle = s_connect_from (endpoint, source);
    bool answered = s_ask_on (handle, split, key);
    close (handle);
    return answered;
}

static bool
s_ask (const char *endpoint, size_t split, const char *key)
{
    return s_ask_from (endpoint, 1, split, key);
}

//  Wait, 5 s at most, until one of count connections is closed by the
//  broker; returns its index, or -1
static int
s_one_closed (int *handles, int count)
{
    struct pollfd items [PEERS_MAX];
    assert (count <= PEERS_MAX);
    for (int index = 0; index < count; index++)
        items [index] = (struct pollfd) { .fd = handles [index], .events = POLLIN };
    if (poll (items, (nfds_t) count, 5000) <= 0)
        return -1;
    for (int index = 0; index < count; index++) {
        char byte;
        if ((items [index].revents & (POLLIN | POLLHUP | POLLERR))
        &&  recv (handles [index], &byte, 1, MSG_DONTWAIT) <= 0)
            return index;
    }
    return -1;
}

//  Send bytes that are not the request: the connection is closed, unanswered
static void
s_expect_closed (const char *endpoint, const void *data, size_t size)
{
    int handle = s_connect (endpoint);
    s_write_all (handle, data, size);
    char buffer [ZPOST_ANNOUNCE_REPLY_SIZE + 16];
    bool closed;
    size_t got = s_read_reply (handle, buffer, &closed);
    assert (got == 0 && closed);
    close (handle);
}

void
broker_announce_test (bool verbose)
{
    printf (" * broker_announce: ");
    if (verbose)
        printf ("\n");

    //  @selftest
    s_expect_default ("tcp://*:5321", "tcp://*:5322");
    s_expect_default ("tcp://127.0.0.1:*", "tcp://127.0.0.1:*");
    s_expect_default ("tcp://127.0.0.1:0", "tcp://127.0.0.1:*");
    s_expect_default ("tcp://[::1]:7000", "tcp://[::1]:7001");
    s_expect_default ("tcp://eth0:1", "tcp://eth0:2");
    s_expect_default ("tcp://*:65535", NULL);
    s_expect_default ("tcp://[::1]", NULL);
    s_expect_default ("tcp://host", NULL);
    s_expect_default ("tcp://host:12x", NULL);
    s_expect_default ("ipc://front.ipc", NULL);

    zcert_t *cert = zcert_new ();
    assert (cert);
    broker_announce_config_t config = {
        .endpoint = "tcp://127.0.0.1:*",
        .public_key = zcert_public_txt (cert),
        .verbose = verbose
    };
    zactor_t *announce = zactor_new (broker_announce, &config);
    assert (announce);
    char *endpoint = NULL;
    assert (broker_announce_start (announce, &endpoint) == 0);
    assert (endpoint && strncmp (endpoint, "tcp://127.0.0.1:", 16) == 0);

    //  The request, whole or in pieces, gets the key
    const char *key = zcert_public_txt (cert);
    assert (s_ask (endpoint, ZPOST_ANNOUNCE_REQUEST_SIZE, key));
    assert (s_ask (endpoint, 3, key));

    //  Anything else closes that connection unanswered; the actor carries on
    s_expect_closed (endpoint, "GET / HTTP/1.0\r\n\r\n", 18);
    s_expect_closed (endpoint, "ZPOSTK1", 7);
    s_expect_closed (endpoint, ZPOST_ANNOUNCE_REQUEST "more", 12);
    s_expect_closed (endpoint, "\xff\0\0\0\0\0\0\0\x01\x7f", 10);     //  ZMTP
    assert (s_ask (endpoint, ZPOST_ANNOUNCE_REQUEST_SIZE, key));

    //  One address holds at most ADDRESS_PLACES: one more closes one of
    //  them (the oldest, unless the actor saw them out of order), and a
    //  newcomer from that address is answered all the same, closing another
    int held [PEERS_MAX];
    int count = ADDRESS_PLACES + 1;
    for (int index = 0; index < count; index++)
        held [index] = s_connect (endpoint);
    for (int round = 0; round < 2; round++) {
        if (round == 1)
            assert (s_ask (endpoint, ZPOST_ANNOUNCE_REQUEST_SIZE, key));
        int gone = s_one_closed (held, count);
        assert (gone >= 0);
        close (held [gone]);
        held [gone] = held [--count];
    }
    //  All PEERS_MAX places taken (127.0.0.1 holding 15, three others 16,
    //  127.0.0.6 one): a newcomer from elsewhere takes the place of one of
    //  those that hold the most, not 127.0.0.6's only one, and both are
    //  answered
    for (int source = 3; source <= 5; source++)
        for (int index = 0; index < ADDRESS_PLACES; index++)
            held [count++] = s_connect_from (endpoint, source);
    int single = s_connect_from (endpoint, 6);
    assert (count + 1 == PEERS_MAX);
    assert (s_ask_from (endpoint, 2, ZPOST_ANNOUNCE_REQUEST_SIZE, key));
    assert (s_one_closed (held, count) >= 0);
    assert (s_ask_on (single, ZPOST_ANNOUNCE_REQUEST_SIZE, key));
    close (single);
    for (int index = 0; index < count; index++)
        close (held [index]);

    //  A second START is refused; the first binding stays
    char *second = NULL;
    assert (broker_announce_start (announce, &second) == -1);
    assert (second == NULL);
    zactor_destroy (&announce);

    //  A bad endpoint is refused at START
    config.endpoint = "ipc://announce.ipc";
    announce = zactor_new (broker_announce, &config);
    assert (broker_announce_start (announce, &second) == -1);
    zactor_destroy (&announce);

    zstr_free (&endpoint);
    zcert_destroy (&cert);
    //  @end

    printf ("OK\n");
}
