/*  =========================================================================
    store_watch - the WATCH requests waiting at this store

    A WATCH (ZPOST.md, WATCH) whose inbox is as the client last saw it
    waits here until that changes or its timeout passes. The table only
    keeps books: it holds each waiting request (a store_op_t, which keeps
    its link's origin and ticket for the answer), finds them by user (a
    commit names the users whose inboxes it changed) and by deadline, and
    bounds them: so many per user, so many in all. It reads no database
    and sends nothing; the engine asks it, checks, and answers.

    Times are whatever monotonic msecs the caller passes in.
    =========================================================================
*/

#ifndef STORE_WATCH_H_INCLUDED
#define STORE_WATCH_H_INCLUDED

#include "store_engine.h"

typedef struct _store_watch_t store_watch_t;

//  The spec's bounds, by default
#define STORE_WATCH_MAX         10000   //  waiting in all
#define STORE_WATCH_USER_MAX    8       //  waiting of one user

//  What park says
#define STORE_WATCH_PARKED      0       //  it waits; the table has the op
#define STORE_WATCH_USER_FULL   1       //  the user has user_max waiting
#define STORE_WATCH_FULL        2       //  the table has max waiting

//  A table for at most max requests, user_max of one user.
store_watch_t *
    store_watch_new (size_t max, size_t user_max);

//  Destroy; the requests still waiting are destroyed unanswered (their
//  brokers answer them 503 at the deadline).
void
    store_watch_destroy (store_watch_t **self_p);

//  Let the op wait for user's inbox until deadline. A request of the same
//  user with the same request-id is replaced (destroyed unanswered: it
//  was a try its client gave up). Returns STORE_WATCH_PARKED with *op_p
//  taken, else the bound it met, with *op_p left to the caller.
int
    store_watch_park (store_watch_t *self, store_op_t **op_p, const char *user,
                      int64_t deadline);

//  Take one request whose deadline is at or before now, or NULL.
store_op_t *
    store_watch_expired (store_watch_t *self, int64_t now);

//  Check the waiting requests of user (NULL: of every user). For each,
//  check gets the op and its user; returning true means it has taken the
//  op (answered it), which then leaves the table. check must not touch
//  the table.
typedef bool (store_watch_check_fn) (void *arg, store_op_t **op_p, const char *user);
void
    store_watch_check (store_watch_t *self, const char *user,
                       store_watch_check_fn *check, void *arg);

//  Destroy, unanswered, every request that came on link origin (its link
//  was reset: that broker no longer waits for them).
void
    store_watch_drop_origin (store_watch_t *self, uint64_t origin);

//  Requests waiting, in all and of user
size_t
    store_watch_size (store_watch_t *self);
size_t
    store_watch_user_size (store_watch_t *self, const char *user);

//  The inbox as WATCH sees it, in txn: the newest message id of user's
//  inbox (0 if empty) and its unread count. STORE_NOTFOUND if there is no
//  such user.
int
    store_watch_state (store_txn_t *txn, const char *user, uint64_t *newest,
                       uint64_t *unread);

//  The engine's table (store_engine.c) has a row for every command: WATCH
//  never reaches its rule there (the engine answers or parks it at once),
//  but if it did, the rule answers with the inbox as it is, waiting not.
int
    store_rule_watch (store_ctx_t *ctx);
#define store_prepare_watch     NULL
#define store_hashed_watch      NULL

//  Selftest
void
    store_watch_test (bool verbose);

#endif
