/*  =========================================================================
    store_commit - the group commit

    The group keeps its requests in arrival order. A run is one pass over
    them in one parent transaction; STORE_FULL from any of them ends the
    pass so the map can grow and the pass start again from a clean parent.
    =========================================================================
*/

#include "store_commit.h"
#include "zpost_status.h"

struct _store_group_t {
    store_db_t *db;             //  lent
    size_t map_max;             //  the map grows no further
    size_t max_ops;             //  cap on requests
    size_t max_bytes;           //  cap on their bytes
    zlistx_t *ops;              //  store_op_t, in arrival order
    size_t bytes;               //  bytes of the queued requests
};

static void
s_op_free (void **item_p)
{
    store_op_destroy ((store_op_t **) item_p);
}

store_group_t *
store_group_new (store_db_t *db, size_t map_max, size_t max_ops, size_t max_bytes)
{
    assert (db);
    assert (max_ops >= 1);
    store_group_t *self = (store_group_t *) zmalloc (sizeof (store_group_t));
    assert (self);
    self->db = db;
    self->map_max = map_max;
    self->max_ops = max_ops;
    self->max_bytes = max_bytes;
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
    self->bytes += (*op_p)->size;
    zlistx_add_end (self->ops, *op_p);
    *op_p = NULL;
}

bool
store_group_full (store_group_t *self)
{
    assert (self);
    return zlistx_size (self->ops) >= self->max_ops || self->bytes >= self->max_bytes;
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
    //  A conflict (another process grew the map under us) is worth a few
    //  more tries; a store that keeps failing answers rather than spins
    int retries = 3;
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
            break;
        }
        if (rc == STORE_FULL && !map_at_max) {
            if (store_db_grow (self->db, self->map_max))
                map_at_max = true;      //  run again, failing only what needs room
            continue;
        }
        if (rc == STORE_RETRY && retries-- > 0)
            continue;
        zsys_error ("store_commit: the commit of %zu requests failed (%s): "
                    "each is answered with an error, nothing of them was stored",
                    zlistx_size (self->ops), store_rc_name (rc));
        status = rc == STORE_FULL? ZPOST_STORAGE_FULL: ZPOST_INTERNAL_ERROR;
        break;
    }
    store_op_t *op = (store_op_t *) zlistx_detach (self->ops, NULL);
    while (op) {
        if (status)
            store_op_reply (op, status, NULL, NULL);
        done (arg, &op);
        assert (op == NULL);
        op = (store_op_t *) zlistx_detach (self->ops, NULL);
    }
    self->bytes = 0;
    return wrote;
}
