/*  =========================================================================
    store_pg_listen - hear other stores' commits to inboxes (PostgreSQL)

    Stores on several hosts share one database, so a WATCH waiting at one
    store must hear a commit made by another. A commit that changes an
    inbox sends NOTIFY zpost_inbox, payload the user's name, inside its
    own transaction (store_notify_users, store_records.h): PostgreSQL
    delivers it to every listener once, and only if, it commits. This is
    the listening side: a connection of its own (the store's main one is
    busy with transactions), LISTEN zpost_inbox, its socket watched by the
    store's loop, and each notification handed on as a name.

    While the connection is down nothing is heard: the owner then checks
    every waiting request now and then, and once more when it is back.
    =========================================================================
*/

#ifndef STORE_PG_LISTEN_H_INCLUDED
#define STORE_PG_LISTEN_H_INCLUDED

#include <czmq.h>

typedef struct _store_pg_listen_t store_pg_listen_t;

//  The channel both sides use
#define STORE_PG_LISTEN_CHANNEL "zpost_inbox"

//  A listener for the database of conninfo (as zpost-store --db takes
//  it); not connected yet.
store_pg_listen_t *
    store_pg_listen_new (const char *conninfo);
void
    store_pg_listen_destroy (store_pg_listen_t **self_p);

//  Connect and LISTEN. 0, or -1 (said once per outage) with the
//  listener down.
int
    store_pg_listen_connect (store_pg_listen_t *self);

//  The connection's socket, to poll for input; -1 while down.
int
    store_pg_listen_fd (store_pg_listen_t *self);

//  Read what has arrived and call heard for each user named. 0, or -1
//  when the connection was lost (the listener is then down).
typedef void (store_pg_listen_fn) (void *arg, const char *user);
int
    store_pg_listen_drain (store_pg_listen_t *self, store_pg_listen_fn *heard, void *arg);

#endif
