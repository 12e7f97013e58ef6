/*  =========================================================================
    store_commit - the group commit: many requests, one transaction, one sync

    Requests that arrive together are queued in a group. The group runs
    each of them in its own nested transaction of one write transaction,
    commits that once, with sync, and only then are their replies let go:
    acknowledged means on disk, and one fsync serves the whole group.

    A group is capped by count, by bytes and by age (how long since its
    first request came), so that one commit, and the time the store's
    loop spends gathering and committing it, stays bounded whatever
    arrives: heartbeats go out between groups, never behind an unbounded
    one, and the first request of a group never waits long for the last.

    When the map is full the map grows (up to map_max) and the whole group
    runs again; at map_max, a request that needs room gets STORAGE_FULL
    and the others go on. When the commit itself fails, nothing of the
    group was stored, and every request of it is answered: STORAGE_FULL,
    with a reason that says the disk is full, when the file system had no
    room (STORE_DISK_FULL), else INTERNAL_ERROR.
    =========================================================================
*/

#ifndef STORE_COMMIT_H_INCLUDED
#define STORE_COMMIT_H_INCLUDED

#include "store_engine.h"

typedef struct _store_group_t store_group_t;

//  Runs one request inside the nested transaction; returns as a rule does
//  (store_engine.h), or STORE_RECHECK to give the request back untouched.
typedef int (store_group_step_fn) (void *arg, store_txn_t *txn, store_op_t *op);

//  Runs once after every request, in the same parent transaction, in a
//  nested transaction of its own whose failure is ignored: housekeeping
//  that must keep pace with the writes. kept counts requests that wrote.
typedef void (store_group_tail_fn) (void *arg, store_txn_t *txn, size_t kept);

//  Takes each request back when the group is done: its reply is set, or
//  it is NULL for a request given back with STORE_RECHECK.
typedef void (store_group_done_fn) (void *arg, store_op_t **op_p);

//  A group over db, capped at max_ops requests, max_bytes of them, and
//  max_msecs since its first request was added.
store_group_t *
    store_group_new (store_db_t *db, size_t map_max, size_t max_ops, size_t max_bytes,
                     int64_t max_msecs);

//  Destroy; queued requests are destroyed unanswered.
void
    store_group_destroy (store_group_t **self_p);

//  Queue a request; takes it.
void
    store_group_add (store_group_t *self, store_op_t **op_p);

//  True when the group is at its cap of requests, bytes or age.
bool
    store_group_full (store_group_t *self);

//  Requests queued
size_t
    store_group_size (store_group_t *self);

//  Run and commit the group, then hand every request to done, in the
//  order they came. Returns true if the commit wrote to the disk.
bool
    store_group_commit (store_group_t *self, store_group_step_fn *step,
                        store_group_tail_fn *tail, store_group_done_fn *done, void *arg);

//  Selftest
void
    store_commit_test (bool verbose);

#endif
