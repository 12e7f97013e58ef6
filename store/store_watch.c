/*  =========================================================================
    store_watch - the WATCH requests waiting at this store

    Each waiting request is in two places: a list in deadline order (a
    new one goes in from the end, where most go: clients mostly wait as
    long as each other), so expiring costs only the expired; and its
    user's list, in a hash by name, so a commit's wake-up costs only the
    users it names. Both hold the same waiter, which the table frees.
    =========================================================================
*/

#include "store_watch.h"

typedef struct {
    store_op_t *op;                     //  the WATCH; owned
    char user [ZPOST_NAME_MAX + 1];     //  whose inbox it waits on
    int64_t deadline;                   //  monotonic msecs
    void *by_deadline;                  //  handle in self->deadlines
    void *by_user;                      //  handle in its user's list
} s_waiter_t;

struct _store_watch_t {
    size_t max;                 //  waiting in all, at most
    size_t user_max;            //  waiting of one user, at most
    zlistx_t *deadlines;        //  s_waiter_t, by deadline
    zhashx_t *users;            //  name -> zlistx_t of s_waiter_t
};

static int
s_compare (const void *item1, const void *item2)
{
    int64_t one = ((const s_waiter_t *) item1)->deadline;
    int64_t two = ((const s_waiter_t *) item2)->deadline;
    return one < two? -1: one > two? 1: 0;
}

static void
s_list_free (void **item_p)
{
    zlistx_destroy ((zlistx_t **) item_p);
}

//  Take the waiter out of both places and free it; returns its op
static store_op_t *
s_remove (store_watch_t *self, s_waiter_t *waiter)
{
    zlistx_t *list = (zlistx_t *) zhashx_lookup (self->users, waiter->user);
    assert (list);
    zlistx_delete (list, waiter->by_user);
    if (zlistx_size (list) == 0)
        zhashx_delete (self->users, waiter->user);
    zlistx_delete (self->deadlines, waiter->by_deadline);
    store_op_t *op = waiter->op;
    free (waiter);
    return op;
}


store_watch_t *
store_watch_new (size_t max, size_t user_max)
{
    store_watch_t *self = (store_watch_t *) zmalloc (sizeof (store_watch_t));
    assert (self);
    self->max = max;
    self->user_max = user_max;
    self->deadlines = zlistx_new ();
    self->users = zhashx_new ();
    assert (self->deadlines && self->users);
    zlistx_set_comparator (self->deadlines, s_compare);
    zhashx_set_destructor (self->users, s_list_free);
    return self;
}

void
store_watch_destroy (store_watch_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        store_watch_t *self = *self_p;
        s_waiter_t *waiter;
        while ((waiter = (s_waiter_t *) zlistx_first (self->deadlines))) {
            store_op_t *op = s_remove (self, waiter);
            store_op_destroy (&op);
        }
        zlistx_destroy (&self->deadlines);
        zhashx_destroy (&self->users);
        free (self);
        *self_p = NULL;
    }
}

int
store_watch_park (store_watch_t *self, store_op_t **op_p, const char *user,
                  int64_t deadline)
{
    assert (self);
    assert (op_p && *op_p);
    assert (user && strlen (user) <= ZPOST_NAME_MAX);
    store_op_t *op = *op_p;
    zlistx_t *list = (zlistx_t *) zhashx_lookup (self->users, user);
    if (list) {
        //  A retry of a wait we hold: its first try's client gave up
        s_waiter_t *waiter = (s_waiter_t *) zlistx_first (list);
        while (waiter) {
            if (streq (zpost_msg_request_id (waiter->op->request),
                       zpost_msg_request_id (op->request))) {
                store_op_t *old = s_remove (self, waiter);
                store_op_destroy (&old);
                break;
            }
            waiter = (s_waiter_t *) zlistx_next (list);
        }
        list = (zlistx_t *) zhashx_lookup (self->users, user);
    }
    if (list && zlistx_size (list) >= self->user_max)
        return STORE_WATCH_USER_FULL;
    if (zlistx_size (self->deadlines) >= self->max)
        return STORE_WATCH_FULL;
    if (!list) {
        list = zlistx_new ();
        assert (list);
        zhashx_insert (self->users, user, list);
    }
    s_waiter_t *waiter = (s_waiter_t *) zmalloc (sizeof (s_waiter_t));
    assert (waiter);
    waiter->op = op;
    strcpy (waiter->user, user);
    waiter->deadline = deadline;
    waiter->by_deadline = zlistx_insert (self->deadlines, waiter, false);
    waiter->by_user = zlistx_add_end (list, waiter);
    assert (waiter->by_deadline && waiter->by_user);
    *op_p = NULL;
    return STORE_WATCH_PARKED;
}

store_op_t *
store_watch_expired (store_watch_t *self, int64_t now)
{
    assert (self);
    s_waiter_t *waiter = (s_waiter_t *) zlistx_first (self->deadlines);
    if (!waiter || waiter->deadline > now)
        return NULL;
    return s_remove (self, waiter);
}

void
store_watch_check (store_watch_t *self, const char *user,
                   store_watch_check_fn *check, void *arg)
{
    assert (self);
    //  The walk is over a copy: what check answers leaves the table
    zlistx_t *source = self->deadlines;
    if (user) {
        source = (zlistx_t *) zhashx_lookup (self->users, user);
        if (!source)
            return;
    }
    zlistx_t *walk = zlistx_dup (source);
    assert (walk);
    s_waiter_t *waiter = (s_waiter_t *) zlistx_first (walk);
    while (waiter) {
        store_op_t *op = waiter->op;
        if (check (arg, &op, waiter->user)) {
            assert (op == NULL);
            waiter->op = NULL;
            s_remove (self, waiter);
        }
        waiter = (s_waiter_t *) zlistx_next (walk);
    }
    zlistx_destroy (&walk);
}

void
store_watch_drop_origin (store_watch_t *self, uint64_t origin)
{
    assert (self);
    zlistx_t *walk = zlistx_dup (self->deadlines);
    assert (walk);
    s_waiter_t *waiter = (s_waiter_t *) zlistx_first (walk);
    while (waiter) {
        if (waiter->op->origin == origin) {
            store_op_t *op = s_remove (self, waiter);
            store_op_destroy (&op);
        }
        waiter = (s_waiter_t *) zlistx_next (walk);
    }
    zlistx_destroy (&walk);
}

size_t
store_watch_size (store_watch_t *self)
{
    assert (self);
    return zlistx_size (self->deadlines);
}

size_t
store_watch_user_size (store_watch_t *self, const char *user)
{
    assert (self);
    zlistx_t *list = (zlistx_t *) zhashx_lookup (self->users, user);
    return list? zlistx_size (list): 0;
}


//  --------------------------------------------------------------------------
//  The inbox as WATCH sees it

int
store_watch_state (store_txn_t *txn, const char *user, uint64_t *newest,
                   uint64_t *unread)
{
    assert (txn && user && newest && unread);
    return store_inbox_state (txn, user, newest, unread);
}


int
store_rule_watch (store_ctx_t *ctx)
{
    uint64_t newest = 0, unread = 0;
    int rc = store_watch_state (ctx->txn, ctx->session.username, &newest, &unread);
    if (rc == STORE_NOTFOUND) {
        store_engine_not_logged_in (ctx->op);
        return STORE_UNDO;
    }
    if (rc)
        return rc;
    store_op_reply (ctx->op, ZPOST_OK, NULL, NULL);
    zpost_msg_set_number (ctx->op->reply, ZPOST_F_MESSAGE_ID, newest);
    zpost_msg_set_number (ctx->op->reply, ZPOST_F_UNREAD, unread);
    return STORE_OK;
}


//  --------------------------------------------------------------------------
//  Selftest

static store_op_t *
s_test_op (const char *request_id, uint64_t origin)
{
    store_op_t *op = (store_op_t *) zmalloc (sizeof (store_op_t));
    assert (op);
    op->origin = origin;
    op->request = zpost_msg_new_request (ZPOST_CMD_WATCH, request_id, "");
    assert (op->request);
    return op;
}

typedef struct {
    size_t seen;
    const char *take;           //  request id to answer, or NULL: none
} s_test_check_t;

static bool
s_test_check (void *arg, store_op_t **op_p, const char *user)
{
    (void) user;
    s_test_check_t *state = (s_test_check_t *) arg;
    state->seen++;
    if (state->take && streq (zpost_msg_request_id ((*op_p)->request), state->take)) {
        store_op_destroy (op_p);
        return true;
    }
    return false;
}

void
store_watch_test (bool verbose)
{
    printf (" * store_watch: ");
    if (verbose)
        printf ("\n");

    //  @selftest
    store_watch_t *watch = store_watch_new (4, 2);
    store_op_t *op = s_test_op ("a1", 0);
    assert (store_watch_park (watch, &op, "alice", 3000) == STORE_WATCH_PARKED);
    assert (op == NULL);
    op = s_test_op ("a2", 1);
    assert (store_watch_park (watch, &op, "alice", 1000) == STORE_WATCH_PARKED);
    //  The user's bound; the op stays the caller's
    op = s_test_op ("a3", 0);
    assert (store_watch_park (watch, &op, "alice", 1000) == STORE_WATCH_USER_FULL);
    assert (op);
    store_op_destroy (&op);
    //  The same request id again replaces the first: no bound met
    op = s_test_op ("a1", 0);
    assert (store_watch_park (watch, &op, "alice", 5000) == STORE_WATCH_PARKED);
    assert (store_watch_user_size (watch, "alice") == 2);
    op = s_test_op ("b1", 0);
    assert (store_watch_park (watch, &op, "bob", 2000) == STORE_WATCH_PARKED);
    op = s_test_op ("c1", 1);
    assert (store_watch_park (watch, &op, "carol", 4000) == STORE_WATCH_PARKED);
    //  The table's bound
    op = s_test_op ("d1", 0);
    assert (store_watch_park (watch, &op, "dave", 4000) == STORE_WATCH_FULL);
    store_op_destroy (&op);
    assert (store_watch_size (watch) == 4);

    //  Expiry in deadline order
    assert (store_watch_expired (watch, 999) == NULL);
    op = store_watch_expired (watch, 2000);
    assert (op && streq (zpost_msg_request_id (op->request), "a2"));
    store_op_destroy (&op);
    op = store_watch_expired (watch, 2000);
    assert (op && streq (zpost_msg_request_id (op->request), "b1"));
    store_op_destroy (&op);
    assert (store_watch_expired (watch, 2000) == NULL);
    assert (store_watch_user_size (watch, "bob") == 0);

    //  Checks by user, and of all
    s_test_check_t state = { 0, NULL };
    store_watch_check (watch, "alice", s_test_check, &state);
    assert (state.seen == 1);
    store_watch_check (watch, "nobody", s_test_check, &state);
    assert (state.seen == 1);
    state.seen = 0;
    state.take = "c1";
    store_watch_check (watch, NULL, s_test_check, &state);
    assert (state.seen == 2);
    assert (store_watch_size (watch) == 1);
    assert (store_watch_user_size (watch, "carol") == 0);

    //  A reset link's waits go
    op = s_test_op ("e1", 7);
    assert (store_watch_park (watch, &op, "erin", 100) == STORE_WATCH_PARKED);
    store_watch_drop_origin (watch, 7);
    assert (store_watch_size (watch) == 1);
    assert (store_watch_user_size (watch, "erin") == 0);
    //  What is left is destroyed with the table
    store_watch_destroy (&watch);
    assert (watch == NULL);
    store_watch_destroy (&watch);
    //  @end

    printf ("OK\n");
}
