/*  =========================================================================
    broker_server - the zpost-broker: client front end, store back end

    An actor that owns two ROUTER sockets and a zloop:

    - the front, where clients send requests (CURVE server, ZAP domain
      "front", so every request carries the client's key as User-Id);
    - the back, where store workers connect DEALER sockets and speak the
      link protocol (CURVE server with ZAP domain "back" on tcp://; NULL
      security on ipc://, whose socket file is made 0600).

    The broker answers PING target=broker itself and forwards every other
    request to the live worker with the fewest requests in flight, under a
    ticket of its own; it relays the worker's reply to the client that
    asked. A request that no worker can take, or that is not answered
    before its deadline, gets 503 (store unavailable). Nothing here blocks:
    both sockets are ROUTERs with bounded queues and no send timeout, and
    every table has a limit.

    Start it with zactor_new (broker_server, &config), then bind with
    broker_server_start (); zactor_destroy stops it. The configuration is
    copied before zactor_new returns.

    Commands on the actor's pipe:

        START           binds both ends; replies "iss": 0 or -1, and the
                        front and back endpoints as bound ("" on failure)
        $TERM           ends the actor; pending requests get 503 first
    =========================================================================
*/

#ifndef BROKER_SERVER_H_INCLUDED
#define BROKER_SERVER_H_INCLUDED

#include <czmq.h>
#include <stdbool.h>

typedef struct {
    const char *front;          //  endpoint the front binds to
    const char *back;           //  endpoint the back binds to (tcp or ipc)
    zcert_t *cert;              //  the broker's key pair
    int timeout;                //  msec a forwarded request may take
    int heartbeat;              //  msec between heartbeats; 3 missed = dead
    bool verbose;               //  log every message
} broker_server_config_t;

//  The actor; args is a broker_server_config_t *
void
    broker_server (zsock_t *pipe, void *args);

//  Bind the front and the back. Returns 0 and gives the caller the
//  endpoints as bound (an ephemeral tcp port resolved) in *front_p and
//  *back_p, to free; or returns -1, after logging why.
int
    broker_server_start (zactor_t *server, char **front_p, char **back_p);

#endif
