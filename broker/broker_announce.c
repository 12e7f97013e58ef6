/*  =========================================================================
    broker_announce - tells whoever asks the broker's public key

    Why a socket of its own and not a command on the front: a client that
    does not know the key cannot finish a CURVE handshake with the front,
    so the question has to be asked in the clear, somewhere else. Nothing
    on this socket is secret and nothing from it is believed by the broker;
    the client, not the broker, decides what the answer is worth.

    Why it cannot hurt the broker: the socket is a ROUTER with mandatory
    routing off, a zero send timeout and short queues, so a reply to a
    client that has gone, or that does not read, is dropped instead of
    waited for; ZMQ_MAXMSGSIZE closes a connection that sends more than a
    question's worth. The answer is the same for everyone, so the actor
    keeps no state per peer. It runs beside the broker's server actor and
    shares nothing with it but the public key it was given.

    The envelope is echoed as it came: a REQ client (routing id, empty
    delimiter, frames) gets the delimiter back, so it reads exactly the two
    frames of the reply; so does a DEALER that sends its own delimiter; a
    DEALER that sends none gets none.
    =========================================================================
*/

#include "broker_announce.h"
#include "zpost_announce.h"
#include "zpost_keys.h"
#include <signal.h>

#define SOCKET_HWM          100     //  messages queued per peer, each way
#define HANDSHAKE_IVL       5000    //  msec a peer has to finish its handshake
#define PORT_MAX            65535

typedef struct {
    zsock_t *pipe;              //  actor command pipe
    zsock_t *router;            //  the announce socket, once bound
    char *endpoint;             //  endpoint to bind to
    char public_key [41];       //  the broker's key, Z85
    bool verbose;               //  log every answer
    uint64_t answered;          //  questions answered, for the log
} s_announce_t;


//  --------------------------------------------------------------------------
//  Answering

static void
s_answer (s_announce_t *self)
{
    zmsg_t *question = zmsg_recv (self->router);
    if (!question)
        return;                 //  interrupted, or a frame over the limit
    zframe_t *routing_id = zmsg_pop (question);
    zframe_t *first = zmsg_first (question);
    bool delimited = first && zframe_size (first) == 0;
    zmsg_destroy (&question);
    if (!routing_id)
        return;

    zmsg_t *reply = zpost_announce_reply (self->public_key);
    if (delimited)
        zmsg_pushmem (reply, NULL, 0);
    zmsg_prepend (reply, &routing_id);
    //  Fails at once (and is dropped) if the peer has gone or its queue is full
    if (zmsg_send (&reply, self->router) == 0) {
        self->answered++;
        if (self->verbose)
            zsys_debug ("zpost-broker: announced the key (%" PRIu64 " so far)",
                        self->answered);
    }
    zmsg_destroy (&reply);
}


//  --------------------------------------------------------------------------
//  Binding

static void
s_start (s_announce_t *self)
{
    int rc = -1;
    char *bound = NULL;
    if (self->router)
        zsys_error ("zpost-broker: announce START twice");
    else
    if (strncmp (self->endpoint, "tcp://", 6) != 0)
        zsys_error ("zpost-broker: announce %s: only tcp:// is supported",
                    self->endpoint);
    else {
        self->router = zsock_new (ZMQ_ROUTER);
        assert (self->router);
        zsock_set_sndhwm (self->router, SOCKET_HWM);
        zsock_set_rcvhwm (self->router, SOCKET_HWM);
        zsock_set_sndtimeo (self->router, 0);
        zsock_set_linger (self->router, 0);
        zsock_set_handshake_ivl (self->router, HANDSHAKE_IVL);
        zsock_set_router_mandatory (self->router, 0);
        zsock_set_maxmsgsize (self->router, ZPOST_ANNOUNCE_FRAME_MAX);
        if (zsock_bind (self->router, "%s", self->endpoint) == -1) {
            zsys_error ("zpost-broker: cannot bind announce %s: %s",
                        self->endpoint, zmq_strerror (zmq_errno ()));
            zsock_destroy (&self->router);
        }
        else {
            bound = zsock_last_endpoint (self->router);
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
    s_announce_t self = {
        .pipe = pipe,
        .endpoint = strdup (config->endpoint),
        .verbose = config->verbose
    };
    assert (self.endpoint);
    memcpy (self.public_key, config->public_key, sizeof (self.public_key));
    zsock_signal (pipe, 0);

    zpoller_t *poller = zpoller_new (pipe, NULL);
    assert (poller);
    while (true) {
        void *which = zpoller_wait (poller, -1);
        if (which == pipe) {
            char *command = zstr_recv (pipe);
            bool stop = !command || streq (command, "$TERM");
            if (command && streq (command, "START")) {
                s_start (&self);
                if (self.router)
                    zpoller_add (poller, self.router);
            }
            else
            if (!stop)
                zsys_error ("zpost-broker: announce: unknown command %s", command);
            zstr_free (&command);
            if (stop)
                break;
        }
        else
        if (which && which == self.router)
            s_answer (&self);
        else
        if (zpoller_terminated (poller))
            break;
    }
    zpoller_destroy (&poller);
    zsock_destroy (&self.router);
    zstr_free (&self.endpoint);
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

//  Ask on a fresh socket of the given type; returns the reply frames
static zmsg_t *
s_ask (const char *endpoint, int type, bool delimiter)
{
    zsock_t *client = zsock_new (type);
    assert (client);
    zsock_set_linger (client, 0);
    zsock_set_rcvtimeo (client, 5000);
    assert (zsock_connect (client, "%s", endpoint) == 0);
    zmsg_t *question = zpost_announce_request ();
    if (delimiter)
        zmsg_pushmem (question, NULL, 0);
    assert (zmsg_send (&question, client) == 0);
    zmsg_t *reply = zmsg_recv (client);
    zsock_destroy (&client);
    return reply;
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

    //  A REQ client gets the two frames; so do DEALERs, with or without
    //  their own delimiter
    char key_text [41];
    zmsg_t *reply = s_ask (endpoint, ZMQ_REQ, false);
    assert (zpost_announce_decode (&reply, key_text) == 0);
    assert (streq (key_text, zcert_public_txt (cert)));
    reply = s_ask (endpoint, ZMQ_DEALER, true);
    assert (reply && zmsg_size (reply) == 3);
    zframe_t *empty = zmsg_pop (reply);
    assert (zframe_size (empty) == 0);
    zframe_destroy (&empty);
    assert (zpost_announce_decode (&reply, key_text) == 0);
    reply = s_ask (endpoint, ZMQ_DEALER, false);
    assert (zpost_announce_decode (&reply, key_text) == 0);

    //  An oversize question closes that connection; the actor carries on
    zsock_t *rude = zsock_new (ZMQ_DEALER);
    zsock_set_linger (rude, 0);
    assert (zsock_connect (rude, "%s", endpoint) == 0);
    char big [ZPOST_ANNOUNCE_FRAME_MAX * 4];
    memset (big, 'x', sizeof (big));
    zframe_t *frame = zframe_new (big, sizeof (big));
    assert (zframe_send (&frame, rude, 0) == 0);
    zsock_destroy (&rude);
    reply = s_ask (endpoint, ZMQ_REQ, false);
    assert (zpost_announce_decode (&reply, key_text) == 0);

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
