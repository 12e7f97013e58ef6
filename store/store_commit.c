/*  =========================================================================
    store_commit - the group commit

    The group keeps its requests in arrival order. A run is one pass over
    them in one parent transaction; STORE_FULL from any of them ends the
    pass so the map can grow and the pass start again from a clean parent.

    A commit the disk has no room for is answered 507 with a reason that
    says the disk is full, and logged as "disk full" with the system's own
    words and the file: that is what the user and the operator must act
    on, not an "internal error". The store goes on: reads need no room,
    and commits succeed again once room is made.
    =========================================================================
*/

#include "store_commit.h"
#include "zpost_status.h"

struct _store_group_t {
    store_db_t *db;             //  lent
    size_t map_max;             //  the map grows no further
    size_t max_ops;             //  cap on requests
    size_t max_bytes;           //  cap on their bytes
    int64_t max_msecs;          //  cap on the group's age
    int64_t started;            //  zclock_mono when its first request came
    zlistx_t *ops;              //  store_op_t, in arrival order
    size_t bytes;               //  bytes of the queued requests
    bool disk_full;             //  the last commit found the disk full
    size_t full_refused;        //  requests refused since it became full
    int64_t full_logged;        //  zclock_mono of the last "disk full" line
};

//  What a user is told when the disk is full, and how often a disk that
//  stays full is logged again (one line per commit would flood the log)
#define S_DISK_FULL_REASON  "The server's disk is full: nothing was stored"
#define S_FULL_LOG_MSECS    10000
//  What a user is told when the database could not take the commit now
#define S_UNAVAILABLE_REASON "The store's database is unavailable: nothing was stored; try again"
//  ... when other stores kept changing the same records at the same time
#define S_CONFLICT_REASON   "The store is busy with the same records in another store: " \
                            "nothing was stored; try again"
//  ... and when the commit was made but its standby did not confirm it
#define S_UNCONFIRMED_REASON "The store's standby database did not confirm the commit: " \
                            "it is not acknowledged; send the request again with the " \
                            "same request-id"
//  Tries of a group that conflicts with other stores' transactions (on
//  PostgreSQL, serialization failures when stores write the same rows):
//  each waits a random while, up to twice as long as the one before, so
//  that the stores stop meeting on the same rows. The waits of all the
//  tries add up to S_CONFLICT_WAIT_MAX msecs at most.
#define S_CONFLICT_TRIES    8
#define S_CONFLICT_WAIT_MAX 256

static void
s_op_free (void **item_p)
{
    store_op_destroy ((store_op_t **) item_p);
}

store_group_t *
store_group_new (store_db_t *db, size_t map_max, size_t max_ops, size_t max_bytes,
                 int64_t max_msecs)
{
    assert (db);
    assert (max_ops >= 1);
    store_group_t *self = (store_group_t *) zmalloc (sizeof (store_group_t));
    assert (self);
    self->db = db;
    self->map_max = map_max;
    self->max_ops = max_ops;
    self->max_bytes = max_bytes;
    self->max_msecs = max_msecs;
    self->ops = zlistx_new ();
    assert (self->ops);
    zlistx_set_destructor (self->ops, s_op_free);
    return self;
}

void
store_group_destroy (store_group_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        store_group_t *self = *self_p;
        zlistx_destroy (&self->ops);
        free (self);
        *self_p = NULL;
    }
}

void
store_group_add (store_group_t *self, store_op_t **op_p)
{
    assert (self);
    assert (op_p && *op_p);
    if (zlistx_size (self->ops) == 0)
        self->started = zclock_mono ();
    self->bytes += (*op_p)->size;
    zlistx_add_end (self->ops, *op_p);
    *op_p = NULL;
}

bool
store_group_full (store_group_t *self)
{
    assert (self);
    size_t size = zlistx_size (self->ops);
    return size >= self->max_ops || self->bytes >= self->max_bytes
        || (size > 0 && zclock_mono () - self->started >= self->max_msecs);
}

size_t
store_group_size (store_group_t *self)
{
    assert (self);
    return zlistx_size (self->ops);
}

//  One pass over the group in parent. Returns STORE_OK, or STORE_FULL if
//  the map must grow and the pass run again, or another failure of the
//  parent. *kept counts the requests whose writes were kept.
static int
s_run (store_group_t *self, store_txn_t *parent, bool map_at_max,
       store_group_step_fn *step, void *arg, size_t *kept)
{
    *kept = 0;
    store_op_t *op = (store_op_t *) zlistx_first (self->ops);
    while (op) {
        zpost_msg_destroy (&op->reply);
        store_txn_t *child;
        int rc = store_txn_begin (self->db, parent, true, &child);
        if (rc)
            return rc;
        rc = step (arg, child, op);
        if (rc == STORE_OK) {
            rc = store_txn_commit (&child);
            if (rc == STORE_OK)
                (*kept)++;
        }
        else {
            store_txn_abort (&child);
            if (rc == STORE_UNDO || rc == STORE_RECHECK)
                rc = STORE_OK;
        }
        if (rc == STORE_FULL && !map_at_max)
            return rc;
        //  The whole transaction is lost (a conflict with another store,
        //  or the database went away, or committed unconfirmed): the
        //  group runs again or fails
        if (rc == STORE_RETRY || rc == STORE_UNAVAILABLE || rc == STORE_UNCONFIRMED)
            return rc;
        if (rc) {
            zsys_error ("store_commit: %s failed: %s",
                        zpost_msg_command_name (zpost_msg_command (op->request)),
                        store_rc_name (rc));
            store_op_reply (op, rc == STORE_FULL? ZPOST_STORAGE_FULL: ZPOST_INTERNAL_ERROR,
                            NULL, NULL);
        }
        op = (store_op_t *) zlistx_next (self->ops);
    }
    return STORE_OK;
}

bool
store_group_commit (store_group_t *self, store_group_step_fn *step,
                    store_group_tail_fn *tail, store_group_done_fn *done, void *arg)
{
    assert (self);
    if (zlistx_size (self->ops) == 0)
        return false;
    bool map_at_max = false;
    bool wrote = false;
    int status = 0;
    const char *reason = NULL;  //  the status's own
    //  A conflict (another process grew the map under us, another store
    //  wrote the same rows) is worth a few more tries; a lost database
    //  connection one more. A store that keeps failing answers rather
    //  than spins.
    int conflicts = 0;
    int retries = 1;
    while (true) {
        uint64_t before = store_db_generation (self->db);
        store_txn_t *txn;
        size_t kept = 0;
        int rc = store_txn_begin (self->db, NULL, true, &txn);
        if (rc == STORE_OK) {
            rc = s_run (self, txn, map_at_max, step, arg, &kept);
            if (rc == STORE_OK && tail) {
                store_txn_t *child;
                if (store_txn_begin (self->db, txn, true, &child) == STORE_OK) {
                    tail (arg, child, kept);
                    if (store_txn_commit (&child) != STORE_OK)
                        zsys_warning ("store_commit: housekeeping skipped this time");
                }
            }
            if (rc == STORE_OK)
                rc = store_txn_commit (&txn);
            else
                store_txn_abort (&txn);
        }
        if (rc == STORE_OK) {
            wrote = store_db_generation (self->db) != before;
            if (self->disk_full && wrote) {
                zsys_info ("store_commit: commits are written again (%zu "
                           "requests were refused while the disk was full)",
                           self->full_refused);
                self->disk_full = false;
                self->full_refused = 0;
            }
            break;
        }
        if (rc == STORE_FULL && !map_at_max) {
            if (store_db_grow (self->db, self->map_max))
                map_at_max = true;      //  run again, failing only what needs room
            continue;
        }
        if (rc == STORE_RETRY && ++conflicts < S_CONFLICT_TRIES) {
            //  0..1, 0..3, 0..7 ... msecs: 255 at most in all
            int ceiling = 2 << conflicts;
            if (ceiling > S_CONFLICT_WAIT_MAX / 2)
                ceiling = S_CONFLICT_WAIT_MAX / 2;
            zclock_sleep (randof (ceiling));
            continue;
        }
        //  A lost database connection: the begin connects again, and a
        //  connection that died while idle is only found out by using it
        if (rc == STORE_UNAVAILABLE && retries-- > 0)
            continue;
        if (rc == STORE_UNCONFIRMED) {
            //  Committed on the primary: run again, it would do each
            //  request a second time. The store_pg log said NOT REPLICATED;
            //  each client retries and is answered from its record.
            wrote = store_db_generation (self->db) != before;
            status = ZPOST_STORE_UNAVAILABLE;
            reason = S_UNCONFIRMED_REASON;
            break;
        }
        if (rc == STORE_DISK_FULL) {
            size_t count = zlistx_size (self->ops);
            self->full_refused += count;
            int64_t now = zclock_mono ();
            if (!self->disk_full || now - self->full_logged >= S_FULL_LOG_MSECS) {
                zsys_error ("store_commit: disk full: the commit of %zu request%s "
                            "was not written (%s): each is answered 507, nothing of "
                            "them was stored (%zu refused since the disk filled)",
                            count, count == 1? "": "s",
                            store_db_disk_full_why (self->db), self->full_refused);
                self->full_logged = now;
            }
            self->disk_full = true;
            status = ZPOST_STORAGE_FULL;
            reason = S_DISK_FULL_REASON;
            break;
        }
        if (rc == STORE_UNAVAILABLE || rc == STORE_RETRY) {
            //  Nothing was stored, and the same request may well succeed
            //  in a moment (the database is back, the conflict is over):
            //  the retryable 503, never a 500. The store is sound, so not
            //  an error in its log.
            zsys_warning ("store_commit: the commit of %zu request%s was not "
                          "made (%s%s): each is answered 503, nothing of them "
                          "was stored", zlistx_size (self->ops),
                          zlistx_size (self->ops) == 1? "": "s", store_rc_name (rc),
                          rc == STORE_RETRY? ", every try": "");
            status = ZPOST_STORE_UNAVAILABLE;
            reason = rc == STORE_RETRY? S_CONFLICT_REASON: S_UNAVAILABLE_REASON;
        }
        else {
            zsys_error ("store_commit: the commit of %zu requests failed (%s): "
                        "each is answered with an error, nothing of them was stored",
                        zlistx_size (self->ops), store_rc_name (rc));
            status = rc == STORE_FULL? ZPOST_STORAGE_FULL: ZPOST_INTERNAL_ERROR;
        }
        break;
    }
    store_op_t *op = (store_op_t *) zlistx_detach (self->ops, NULL);
    while (op) {
        if (status)
            store_op_reply (op, status, reason, NULL);
        done (arg, &op);
        assert (op == NULL);
        op = (store_op_t *) zlistx_detach (self->ops, NULL);
    }
    self->bytes = 0;
    return wrote;
}


//  --------------------------------------------------------------------------
//  Selftest

//  What the test's step does with a request: by its request id
static int
s_test_step (void *arg, store_txn_t *txn, store_op_t *op)
{
    (void) arg;
    const char *what = zpost_msg_request_id (op->request);
    if (streq (what, "recheck"))
        return STORE_RECHECK;
    if (streq (what, "fail"))
        return STORE_FAILED;
    int rc;
    if (streq (what, "big")) {
        //  Room for a body of op->size bytes
        char *body = (char *) zmalloc (op->size + 1);
        memset (body, 'b', op->size);
        uint64_t id;
        rc = store_counter_next (txn, "test-id", &id);
        store_message_t message = { .id = id, .from = "t", .from_size = 1,
            .to = "t", .to_size = 1, .subject = "", .subject_size = 0,
            .body = body, .body_size = op->size };
        if (rc == STORE_OK)
            rc = store_message_put (txn, &message, 1);
        free (body);
    }
    else
        rc = store_counter_add (txn, "test-writes", 1);
    if (rc)
        return rc;
    if (streq (what, "undo")) {
        store_op_reply (op, ZPOST_INVALID_VALUE, NULL, NULL);
        return STORE_UNDO;
    }
    store_op_reply (op, ZPOST_OK, NULL, NULL);
    return STORE_OK;
}

//  Counts what came back, by status; 0 for a request given back
static void
s_test_done (void *arg, store_op_t **op_p)
{
    zhashx_t *statuses = (zhashx_t *) arg;
    char key [8];
    snprintf (key, sizeof key, "%d", (*op_p)->reply? zpost_msg_status ((*op_p)->reply): 0);
    size_t count = (size_t) (uintptr_t) zhashx_lookup (statuses, key);
    zhashx_update (statuses, key, (void *) (uintptr_t) (count + 1));
    store_op_destroy (op_p);
}

static size_t
s_test_count (zhashx_t *statuses, int status)
{
    char key [8];
    snprintf (key, sizeof key, "%d", status);
    return (size_t) (uintptr_t) zhashx_lookup (statuses, key);
}

static void
s_test_add (store_group_t *group, const char *what, size_t size)
{
    store_op_t *op = (store_op_t *) zmalloc (sizeof (store_op_t));
    assert (op);
    op->request = zpost_msg_new_request (ZPOST_CMD_PING, what, NULL);
    op->size = size;
    store_group_add (group, &op);
}

void
store_commit_test (bool verbose)
{
    printf (" * store_commit: ");
    if (verbose)
        printf ("\n");

    //  @selftest
    char *dir;
    store_db_t *db = store_db_scratch_new ("zpost-store-commit", 1024 * 1024, &dir);
    zhashx_t *statuses = zhashx_new ();
    assert (statuses);

    //  Caps: by count, by bytes, by age
    store_group_t *group = store_group_new (db, 1024 * 1024, 3, 100, 60000);
    assert (!store_group_full (group));
    s_test_add (group, "a", 10);
    assert (!store_group_full (group));
    s_test_add (group, "b", 90);
    assert (store_group_full (group));              //  100 bytes
    store_group_destroy (&group);                   //  frees them unanswered
    group = store_group_new (db, 1024 * 1024, 2, 1000, 60000);
    s_test_add (group, "a", 1);
    s_test_add (group, "b", 1);
    assert (store_group_full (group));              //  2 requests
    store_group_destroy (&group);
    group = store_group_new (db, 1024 * 1024, 100, 1000, 1);
    assert (!store_group_full (group));             //  an empty group has no age
    s_test_add (group, "a", 1);
    int64_t deadline = zclock_mono () + 5000;
    while (!store_group_full (group))
        assert (zclock_mono () < deadline);         //  1 ms old, at some point
    store_group_destroy (&group);

    //  One commit: kept, undone, given back, failed, each as the step says
    group = store_group_new (db, 1024 * 1024, 100, 1000000, 60000);
    s_test_add (group, "keep", 1);
    s_test_add (group, "undo", 1);
    s_test_add (group, "recheck", 1);
    s_test_add (group, "fail", 1);
    s_test_add (group, "keep", 1);
    assert (store_group_size (group) == 5);
    bool wrote = store_group_commit (group, s_test_step, NULL, s_test_done, statuses);
    assert (wrote);
    assert (store_group_size (group) == 0);
    assert (s_test_count (statuses, ZPOST_OK) == 2);
    assert (s_test_count (statuses, ZPOST_INVALID_VALUE) == 1);
    assert (s_test_count (statuses, 0) == 1);
    assert (s_test_count (statuses, ZPOST_INTERNAL_ERROR) == 1);
    store_txn_t *txn;
    uint64_t writes;
    assert (store_txn_begin (db, NULL, false, &txn) == STORE_OK);
    assert (store_counter_get (txn, "test-writes", &writes) == STORE_OK);
    store_txn_abort (&txn);
    assert (writes == 2);                           //  the undone one is gone
    store_group_destroy (&group);

    //  A full map grows and the whole group runs again; at its most, only
    //  what needs room gets 507
    zhashx_purge (statuses);
    size_t before = store_db_map_size (db);
    group = store_group_new (db, 4 * before, 100, 100 * 1024 * 1024, 60000);
    for (int index = 0; index < 6; index++)
        s_test_add (group, "big", 300 * 1024);
    assert (store_group_commit (group, s_test_step, NULL, s_test_done, statuses));
    assert (s_test_count (statuses, ZPOST_OK) == 6);
    assert (store_db_map_size (db) > before);
    store_group_destroy (&group);
    zhashx_purge (statuses);
    group = store_group_new (db, store_db_map_size (db), 100, 100 * 1024 * 1024, 60000);
    for (int index = 0; index < 20; index++)
        s_test_add (group, "big", 300 * 1024);
    s_test_add (group, "keep", 1);
    store_group_commit (group, s_test_step, NULL, s_test_done, statuses);
    assert (s_test_count (statuses, ZPOST_STORAGE_FULL) > 0);
    assert (s_test_count (statuses, ZPOST_OK) + s_test_count (statuses, ZPOST_STORAGE_FULL) == 21);
    store_group_destroy (&group);

    zhashx_destroy (&statuses);
    store_db_scratch_destroy (&db, &dir);
    //  @end

    printf ("OK\n");
}
