/*  =========================================================================
    store_server - the store worker: one actor that serves the broker

    The actor connects a DEALER to the broker's back end and speaks the
    link protocol (zpost_link.h): it announces itself with READY, sends a
    HEARTBEAT every interval, answers each REQUEST with a REPLY carrying
    the same ticket, and says DISCONNECT when it is told to end. If the
    broker is silent for three intervals, the actor throws its socket away,
    makes a new one and says READY again (the Paranoid Pirate worker of
    the ZeroMQ guide); a DISCONNECT from the broker also gets a fresh
    READY. A tcp:// back end is CURVE: the actor is a CURVE client with
    its own key pair and checks the broker's public key.

    Usage:

        store_server_config_t config = {
            .db = db, .endpoint = "ipc://zpost-back.ipc", .name = "host:42"
        };
        zactor_t *server = zactor_new (store_server, &config);
        zstr_send (server, "START");
        if (zsock_wait (server) == 0)
            ... the first READY has been sent ...
        ...
        zactor_destroy (&server);       //  sends DISCONNECT to the broker

    The configuration is copied before zactor_new returns; the caller may
    free it at once. The store_db_t is lent: it must outlive the actor,
    and while the actor runs, only the actor uses it.

    Pipe commands:

        START       connect, send the first READY; replies with a signal,
                    0 if READY went out, 1 if the actor cannot connect
        $TERM       send DISCONNECT, close, end the actor

    Requests. Every REQUEST is decoded with the codec and handed to the
    engine (store_engine.h), which answers it through this actor's link.
    The actor reads what has arrived, up to the group's cap, then has the
    engine commit the group; heartbeats go out on their timer between
    groups, and a group is bounded so that none waits long.
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
