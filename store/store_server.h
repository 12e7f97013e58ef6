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

    Command handlers (this file for PING; store_auth.c and store_mail.c in
    later issues) all have the shape store_handler_fn, and sit in one table
    in store_server.c indexed by command.
    =========================================================================
*/

#ifndef STORE_SERVER_H_INCLUDED
#define STORE_SERVER_H_INCLUDED

#include <czmq.h>
#include "zpost_msg.h"
#include "store_db.h"

#define STORE_SERVER_HEARTBEAT      1000    //  default msecs between heartbeats
#define STORE_SERVER_LIVENESS       3       //  silent intervals before reconnecting
#define STORE_SERVER_CAPACITY       1000    //  default requests in flight, sent in READY

typedef struct {
    store_db_t *db;             //  the environment; lent, must outlive the actor
    const char *endpoint;       //  the broker's back end
    const char *broker_key;     //  broker public key, Z85; required for tcp://
    zcert_t *cert;              //  our key pair for tcp://; copied; NULL otherwise
    const char *name;           //  store-name in READY, 1..64 visible ASCII
    uint32_t capacity;          //  capacity in READY; 0 = STORE_SERVER_CAPACITY
    int heartbeat;              //  msecs between heartbeats; 0 = default
    bool verbose;               //  log every message on the link
} store_server_config_t;

//  The actor's state, opaque; command handlers get it to reach the
//  database and to answer later.
typedef struct _store_server_t store_server_t;

//  A command handler. It gets the decoded request and the broker's ticket
//  for it, and either returns the reply, which the server sends and
//  destroys, or takes the request (sets *request_p to NULL, and so owns
//  it) and returns NULL, to answer later with store_server_reply: for
//  work that must not hold up the loop (Argon2id) or that waits for a
//  group commit. A handler that returns NULL without taking the request
//  is a bug; the client gets INTERNAL_ERROR.
typedef zpost_msg_t *(store_handler_fn) (store_server_t *server, uint64_t ticket,
                                         zpost_msg_t **request_p);

//  The actor. args is a store_server_config_t *.
void
    store_server (zsock_t *pipe, void *args);

//  For handlers: the database.
store_db_t *
    store_server_db (store_server_t *self);

//  For handlers: the reactor, to watch a helper actor's pipe or set a
//  timer (a group-commit flush) in the server's own thread.
zloop_t *
    store_server_loop (store_server_t *self);

//  For handlers: send a reply to the request the broker numbered ticket,
//  and destroy it; sets *reply_p to NULL. A reply that lacks a field its
//  command requires is logged and replaced by INTERNAL_ERROR. 0 if sent,
//  -1 if not (no connection, or the socket would not take it; logged).
int
    store_server_reply (store_server_t *self, uint64_t ticket,
                        zpost_msg_t **reply_p);

//  Selftest: a ROUTER in the test plays the broker.
void
    store_server_test (bool verbose);

#endif
