/*  =========================================================================
    store_server - the store worker: one actor that serves every broker

    The actor keeps one link to each broker it is given: a DEALER to that
    broker's back end, speaking the link protocol (zpost_link.h). Each
    link announces itself with READY, sends a HEARTBEAT every interval,
    answers each REQUEST with a REPLY carrying the same ticket, and says
    DISCONNECT when the actor is told to end. If a broker is silent for
    three intervals, the actor throws that link's socket away, makes a new
    one and says READY again (the Paranoid Pirate worker of the ZeroMQ
    guide); a DISCONNECT from a broker also gets a fresh READY. The other
    links go on as they were. A tcp:// back end is CURVE: the link is a
    CURVE client with the store's key pair and checks that broker's
    public key.

    Usage, one broker:

        store_server_config_t config = {
            .db = db, .endpoint = "ipc://zpost-back.ipc", .name = "host:42"
        };

    or several (at most STORE_BROKERS_MAX):

        const char *endpoints [] = { "tcp://a:5322", "tcp://b:5322" };
        const char *keys [] = { key_a, key_b };     //  NULL for an ipc:// one
        store_server_config_t config = {
            .db = db, .brokers = 2, .endpoints = endpoints,
            .broker_keys = keys, .cert = cert, .name = "host:42"
        };

    then:

        zactor_t *server = zactor_new (store_server, &config);
        zstr_send (server, "START");
        if (zsock_wait (server) == 0)
            ... the first READY has been sent on every link ...
        ...
        zactor_destroy (&server);       //  sends DISCONNECT to each broker

    The configuration is copied before zactor_new returns; the caller may
    free it at once. The store_db_t is lent: it must outlive the actor,
    and while the actor runs, only the actor uses it.

    Pipe commands:

        START       connect every link, send each its first READY; replies
                    with a signal, 0 if every READY went out, 1 if a link
                    cannot connect
        $TERM       send DISCONNECT, close, end the actor

    Requests. Every REQUEST, from any link, is decoded with the codec and
    handed to the one engine (store_engine.h), which answers it through
    the link it came on, with that broker's ticket, never another's. The actor reads what has arrived on
    every link, one message from each in turn, up to the group's cap, then
    has the engine commit the group; heartbeats go out on their timer
    between groups, and a group is bounded so that none waits long.

    Bounds. Each broker is told the full capacity in READY and sends at
    most that many requests ahead; they wait at the broker, not here. The
    store holds only what its links' receive queues take (16 requests all
    links together, at least 4 a link) and what the one engine admits: its
    group cap and its password pool's bounds are the engine's, shared by
    every link, so N brokers never hold N times them.
    =========================================================================
*/

#ifndef STORE_SERVER_H_INCLUDED
#define STORE_SERVER_H_INCLUDED

#include <czmq.h>
#include "zpost_msg.h"
#include "store_db.h"
#include "store_config.h"

#define STORE_SERVER_HEARTBEAT      1000    //  default msecs between heartbeats
#define STORE_SERVER_LIVENESS       3       //  silent intervals before reconnecting

typedef store_config_t store_server_config_t;

//  The actor. args is a store_server_config_t *.
void
    store_server (zsock_t *pipe, void *args);

//  Selftest: a ROUTER in the test plays the broker.
void
    store_server_test (bool verbose);

#endif
