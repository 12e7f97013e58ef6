/*  =========================================================================
    broker_workers - the broker's table of live store workers

    A store worker is a DEALER connected to the broker's back end, known by
    the routing id the back-end ROUTER gave it. It joins the table when it
    says READY (with a name for logs and the number of requests it takes at
    once), stays while it is heard from, and leaves when it says DISCONNECT,
    when a send to it fails, or when it has been silent past its expiry.

    The table only keeps books: it never touches a socket and never reads a
    clock. Times are whatever monotonic milliseconds the caller passes in
    (zclock_mono () in the broker, made-up numbers in the selftest).

    Choosing a worker: the one with the fewest requests in flight among
    those that can take one more; on a tie, the one picked least recently,
    so idle workers take turns. A worker can take one more while it is
    under the capacity it stated and, for a request with a large body,
    while the body bytes it has in flight stay within a budget: the count
    alone would let a few users' large SENDs make a store (and this
    broker) hold capacity times the body limit. Small requests never wait
    on the budget, so a flood of large bodies cannot shut others out.
    =========================================================================
*/

#ifndef BROKER_WORKERS_H_INCLUDED
#define BROKER_WORKERS_H_INCLUDED

#include <czmq.h>
#include <stdint.h>

typedef struct _broker_workers_t broker_workers_t;

//  Body bytes one worker may have in flight, by default; and the size up
//  to which a request does not count against it
#define BROKER_WORKERS_BYTES_MAX    (128 * 1024 * 1024)
#define BROKER_WORKERS_SMALL        (64 * 1024)

//  Create an empty table that holds at most max_workers workers
//  (0 means no limit).
broker_workers_t *
    broker_workers_new (size_t max_workers);

//  Destroy the table; sets *self_p to NULL.
void
    broker_workers_destroy (broker_workers_t **self_p);

//  A worker said READY: add it, or update the name, capacity and body
//  limit of a worker we know (its requests in flight stay counted). It
//  lives until expires. body_limit is the largest SEND body it takes
//  (ZPOST_LINK_BODY_LIMIT_NONE, UINT64_MAX, if it stated none). The routing
//  id is copied. Returns 1 if the worker is new, 0 if it was known, -1 if
//  the table is full.
int
    broker_workers_ready (broker_workers_t *self, zframe_t *routing_id,
                          const char *name, uint32_t capacity,
                          uint64_t body_limit, int64_t expires);

//  The worker was heard from: it lives until expires. Returns 0, or -1 if
//  no such worker is in the table.
int
    broker_workers_refresh (broker_workers_t *self, zframe_t *routing_id,
                            int64_t expires);

//  Choose a worker for one more request with a body of `bytes`, and count
//  that request in flight. Returns the worker's routing id (owned by the
//  table, valid until the worker is removed), or NULL if no worker can
//  take it now.
zframe_t *
    broker_workers_pick (broker_workers_t *self, size_t bytes);

//  One request the worker had in flight, with a body of `bytes` as it was
//  picked, is over (answered, expired or failed). Does nothing if the
//  worker is gone.
void
    broker_workers_release (broker_workers_t *self, zframe_t *routing_id, size_t bytes);

//  Set the body bytes one worker may have in flight (large bodies only).
void
    broker_workers_set_bytes_max (broker_workers_t *self, size_t bytes_max);

//  Forget a worker. Returns 0, or -1 if it was not in the table.
int
    broker_workers_remove (broker_workers_t *self, zframe_t *routing_id);

//  Return the routing id of one worker whose expiry is before now, or NULL
//  if there is none. The worker stays in the table: the caller deals with
//  its requests, then removes it, and asks again.
zframe_t *
    broker_workers_expired (broker_workers_t *self, int64_t now);

//  True if the worker is in the table.
bool
    broker_workers_known (broker_workers_t *self, zframe_t *routing_id);

//  The worker's name from READY, or NULL if it is not in the table.
const char *
    broker_workers_name (broker_workers_t *self, zframe_t *routing_id);

//  The worker's body limit from READY (0 if it is not in the table).
uint64_t
    broker_workers_body_limit (broker_workers_t *self, zframe_t *routing_id);

//  Requests the worker has in flight (0 if it is not in the table).
uint32_t
    broker_workers_in_flight (broker_workers_t *self, zframe_t *routing_id);

//  Number of workers in the table.
size_t
    broker_workers_size (broker_workers_t *self);

//  Walk the table: the routing id of the first / next worker, or NULL at
//  the end. The table must not change during a walk.
zframe_t *
    broker_workers_first (broker_workers_t *self);
zframe_t *
    broker_workers_next (broker_workers_t *self);

//  Selftest
void
    broker_workers_test (bool verbose);

#endif
