/*  =========================================================================
    broker_workers - the broker's table of live store workers

    Workers are kept in a hash keyed by the hex text of their routing id.
    The table is small (a handful of stores), so picking and expiring walk
    all of it; what matters is that nothing a worker sends can make the
    table grow without bound (max_workers) or lose count of requests.
    =========================================================================
*/

#include "broker_workers.h"

//  One live worker
typedef struct {
    zframe_t *routing_id;       //  its routing id on the back-end ROUTER
    char *name;                 //  name it gave in READY, for logs
    uint32_t capacity;          //  requests it takes at once
    uint64_t body_limit;        //  largest SEND body it takes, from READY
    uint32_t in_flight;         //  requests sent to it and not yet over
    size_t bytes;               //  body bytes of those requests
    int64_t expires;            //  monotonic msec after which it is dead
    uint64_t last_pick;         //  pick sequence number when last chosen
} s_worker_t;

struct _broker_workers_t {
    zhashx_t *workers;          //  hex routing id -> s_worker_t
    size_t max_workers;         //  table limit, 0 = none
    uint64_t picks;             //  picks so far, orders ties
    size_t bytes_max;           //  body bytes in flight per worker, large bodies
    s_worker_t *cursor;         //  worker of the current walk
};


static void
s_worker_destroy (s_worker_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        s_worker_t *self = *self_p;
        zframe_destroy (&self->routing_id);
        zstr_free (&self->name);
        free (self);
        *self_p = NULL;
    }
}

//  The hash's destructor has the zhashx signature
static void
s_worker_free (void **item_p)
{
    s_worker_destroy ((s_worker_t **) item_p);
}

static s_worker_t *
s_lookup (broker_workers_t *self, zframe_t *routing_id)
{
    char *key = zframe_strhex (routing_id);
    assert (key);
    s_worker_t *worker = (s_worker_t *) zhashx_lookup (self->workers, key);
    free (key);
    return worker;
}


broker_workers_t *
broker_workers_new (size_t max_workers)
{
    broker_workers_t *self = (broker_workers_t *) zmalloc (sizeof (broker_workers_t));
    assert (self);
    self->workers = zhashx_new ();
    assert (self->workers);
    zhashx_set_destructor (self->workers, s_worker_free);
    self->max_workers = max_workers;
    self->bytes_max = BROKER_WORKERS_BYTES_MAX;
    return self;
}


void
broker_workers_destroy (broker_workers_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        broker_workers_t *self = *self_p;
        zhashx_destroy (&self->workers);
        free (self);
        *self_p = NULL;
    }
}


int
broker_workers_ready (broker_workers_t *self, zframe_t *routing_id,
                      const char *name, uint32_t capacity,
                      uint64_t body_limit, int64_t expires)
{
    assert (self);
    assert (routing_id);
    s_worker_t *worker = s_lookup (self, routing_id);
    if (worker) {
        zstr_free (&worker->name);
        worker->name = strdup (name? name: "");
        assert (worker->name);
        worker->capacity = capacity;
        worker->body_limit = body_limit;
        worker->expires = expires;
        return 0;
    }
    if (self->max_workers && zhashx_size (self->workers) >= self->max_workers)
        return -1;

    worker = (s_worker_t *) zmalloc (sizeof (s_worker_t));
    assert (worker);
    worker->routing_id = zframe_dup (routing_id);
    worker->name = strdup (name? name: "");
    assert (worker->routing_id && worker->name);
    worker->capacity = capacity;
    worker->body_limit = body_limit;
    worker->expires = expires;
    char *key = zframe_strhex (routing_id);
    assert (key);
    int rc = zhashx_insert (self->workers, key, worker);
    assert (rc == 0);
    free (key);
    return 1;
}


int
broker_workers_refresh (broker_workers_t *self, zframe_t *routing_id,
                        int64_t expires)
{
    assert (self);
    s_worker_t *worker = s_lookup (self, routing_id);
    if (!worker)
        return -1;
    worker->expires = expires;
    return 0;
}


//  Can the worker take one more request of this many body bytes? Under
//  its capacity, and, for a large body, under the bytes budget, unless it
//  has nothing in flight (one request always fits)
static bool
s_can_take (s_worker_t *worker, size_t bytes, size_t bytes_max)
{
    if (worker->in_flight >= worker->capacity)
        return false;
    return bytes <= BROKER_WORKERS_SMALL || worker->in_flight == 0
        || worker->bytes + bytes <= bytes_max;
}

zframe_t *
broker_workers_pick (broker_workers_t *self, size_t bytes)
{
    assert (self);
    s_worker_t *best = NULL;
    s_worker_t *worker = (s_worker_t *) zhashx_first (self->workers);
    while (worker) {
        if (s_can_take (worker, bytes, self->bytes_max)
        && (!best
        ||  worker->in_flight < best->in_flight
        || (worker->in_flight == best->in_flight
        &&  worker->last_pick < best->last_pick)))
            best = worker;
        worker = (s_worker_t *) zhashx_next (self->workers);
    }
    if (!best)
        return NULL;
    best->in_flight++;
    best->bytes += bytes;
    best->last_pick = ++self->picks;
    return best->routing_id;
}


void
broker_workers_release (broker_workers_t *self, zframe_t *routing_id, size_t bytes)
{
    assert (self);
    s_worker_t *worker = s_lookup (self, routing_id);
    if (worker && worker->in_flight > 0) {
        worker->in_flight--;
        worker->bytes = worker->bytes > bytes? worker->bytes - bytes: 0;
    }
}

void
broker_workers_set_bytes_max (broker_workers_t *self, size_t bytes_max)
{
    assert (self);
    self->bytes_max = bytes_max;
}


int
broker_workers_remove (broker_workers_t *self, zframe_t *routing_id)
{
    assert (self);
    char *key = zframe_strhex (routing_id);
    assert (key);
    int rc = -1;
    if (zhashx_lookup (self->workers, key)) {
        zhashx_delete (self->workers, key);
        rc = 0;
    }
    free (key);
    return rc;
}


zframe_t *
broker_workers_expired (broker_workers_t *self, int64_t now)
{
    assert (self);
    s_worker_t *worker = (s_worker_t *) zhashx_first (self->workers);
    while (worker) {
        if (worker->expires < now)
            return worker->routing_id;
        worker = (s_worker_t *) zhashx_next (self->workers);
    }
    return NULL;
}


bool
broker_workers_known (broker_workers_t *self, zframe_t *routing_id)
{
    assert (self);
    return s_lookup (self, routing_id) != NULL;
}


const char *
broker_workers_name (broker_workers_t *self, zframe_t *routing_id)
{
    assert (self);
    s_worker_t *worker = s_lookup (self, routing_id);
    return worker? worker->name: NULL;
}


uint64_t
broker_workers_body_limit (broker_workers_t *self, zframe_t *routing_id)
{
    assert (self);
    s_worker_t *worker = s_lookup (self, routing_id);
    return worker? worker->body_limit: 0;
}


uint32_t
broker_workers_in_flight (broker_workers_t *self, zframe_t *routing_id)
{
    assert (self);
    s_worker_t *worker = s_lookup (self, routing_id);
    return worker? worker->in_flight: 0;
}


size_t
broker_workers_size (broker_workers_t *self)
{
    assert (self);
    return zhashx_size (self->workers);
}


zframe_t *
broker_workers_first (broker_workers_t *self)
{
    assert (self);
    self->cursor = (s_worker_t *) zhashx_first (self->workers);
    return self->cursor? self->cursor->routing_id: NULL;
}


zframe_t *
broker_workers_next (broker_workers_t *self)
{
    assert (self);
    self->cursor = (s_worker_t *) zhashx_next (self->workers);
    return self->cursor? self->cursor->routing_id: NULL;
}


//  --------------------------------------------------------------------------
//  Selftest

static zframe_t *
s_id (const char *text)
{
    return zframe_new (text, strlen (text));
}

void
broker_workers_test (bool verbose)
{
    printf (" * broker_workers: ");
    if (verbose)
        printf ("\n");

    //  @selftest
    broker_workers_t *workers = broker_workers_new (3);
    assert (workers);
    assert (broker_workers_size (workers) == 0);
    assert (broker_workers_pick (workers, 0) == NULL);
    assert (broker_workers_expired (workers, 1000) == NULL);

    zframe_t *a = s_id ("A");
    zframe_t *b = s_id ("B");
    zframe_t *c = s_id ("C");
    zframe_t *d = s_id ("D");

    //  READY adds; READY again updates and keeps the in-flight count
    assert (broker_workers_ready (workers, a, "store-a", 2, 1048576, 3000) == 1);
    assert (broker_workers_ready (workers, b, "store-b", 1, 2000, 3000) == 1);
    assert (broker_workers_size (workers) == 2);
    assert (streq (broker_workers_name (workers, a), "store-a"));
    assert (broker_workers_known (workers, b));
    assert (!broker_workers_known (workers, c));
    assert (broker_workers_name (workers, c) == NULL);

    //  Least in flight first, ties to the one picked least recently,
    //  never above capacity
    zframe_t *first = broker_workers_pick (workers, 0);
    assert (first);
    zframe_t *second = broker_workers_pick (workers, 0);
    assert (second && !zframe_eq (first, second));
    zframe_t *third = broker_workers_pick (workers, 0);
    assert (third && zframe_eq (third, a));
    assert (broker_workers_in_flight (workers, a) == 2);
    assert (broker_workers_in_flight (workers, b) == 1);
    assert (broker_workers_pick (workers, 0) == NULL);     //  all full

    broker_workers_release (workers, b, 0);
    assert (broker_workers_in_flight (workers, b) == 0);
    zframe_t *fourth = broker_workers_pick (workers, 0);
    assert (fourth && zframe_eq (fourth, b));
    broker_workers_release (workers, b, 0);
    broker_workers_release (workers, b, 0);                //  never below zero
    assert (broker_workers_in_flight (workers, b) == 0);
    broker_workers_release (workers, d, 0);                //  unknown: ignored

    assert (broker_workers_ready (workers, a, "store-a2", 5, 4096, 4000) == 0);
    assert (streq (broker_workers_name (workers, a), "store-a2"));
    //  READY again updates the body limit too
    assert (broker_workers_body_limit (workers, a) == 4096);
    assert (broker_workers_body_limit (workers, b) == 2000);
    assert (broker_workers_body_limit (workers, d) == 0);   //  unknown
    assert (broker_workers_in_flight (workers, a) == 2);

    //  Capacity 0 is never picked
    assert (broker_workers_ready (workers, c, "idle", 0, UINT64_MAX, 3000) == 1);
    assert (broker_workers_size (workers) == 3);
    //  The table is full
    assert (broker_workers_ready (workers, d, "store-d", 1, UINT64_MAX, 3000) == -1);
    assert (!broker_workers_known (workers, d));
    broker_workers_release (workers, a, 0);
    broker_workers_release (workers, a, 0);
    int count;
    for (count = 0; count < 6; count++) {
        zframe_t *picked = broker_workers_pick (workers, 0);
        assert (picked && !zframe_eq (picked, c));
    }
    assert (broker_workers_in_flight (workers, a) == 5);
    assert (broker_workers_in_flight (workers, b) == 1);
    assert (broker_workers_in_flight (workers, c) == 0);

    //  Walk
    count = 0;
    zframe_t *id = broker_workers_first (workers);
    while (id) {
        count++;
        id = broker_workers_next (workers);
    }
    assert (count == 3);

    //  Refresh and expiry
    assert (broker_workers_refresh (workers, b, 9000) == 0);
    assert (broker_workers_refresh (workers, d, 9000) == -1);
    assert (broker_workers_expired (workers, 3000) == NULL);
    id = broker_workers_expired (workers, 3001);
    assert (id && zframe_eq (id, c));
    assert (broker_workers_remove (workers, id) == 0);
    id = broker_workers_expired (workers, 5000);
    assert (id && zframe_eq (id, a));
    assert (broker_workers_remove (workers, a) == 0);
    assert (broker_workers_remove (workers, a) == -1);
    assert (broker_workers_expired (workers, 5000) == NULL);
    assert (broker_workers_size (workers) == 1);
    assert (broker_workers_in_flight (workers, a) == 0);

    //  Room again
    assert (broker_workers_ready (workers, d, "store-d", 1, UINT64_MAX, 3000) == 1);
    assert (broker_workers_size (workers) == 2);

    zframe_destroy (&a);
    zframe_destroy (&b);
    zframe_destroy (&c);
    zframe_destroy (&d);
    broker_workers_destroy (&workers);
    assert (workers == NULL);
    broker_workers_destroy (&workers);

    //  Without a limit
    workers = broker_workers_new (0);
    for (count = 0; count < 100; count++) {
        char name [16];
        snprintf (name, sizeof name, "w%d", count);
        zframe_t *w = s_id (name);
        assert (broker_workers_ready (workers, w, name, 1, UINT64_MAX, 0) == 1);
        zframe_destroy (&w);
    }
    assert (broker_workers_size (workers) == 100);
    broker_workers_destroy (&workers);

    //  Large bodies are bounded by bytes in flight, small ones only by
    //  capacity, and one request always fits an idle worker
    workers = broker_workers_new (0);
    size_t large = BROKER_WORKERS_SMALL + 1;
    broker_workers_set_bytes_max (workers, 2 * large);
    a = s_id ("big");
    assert (broker_workers_ready (workers, a, "big", 100, UINT64_MAX, 0) == 1);
    assert (broker_workers_pick (workers, 3 * large));          //  idle: fits
    assert (broker_workers_pick (workers, large) == NULL);      //  over budget
    assert (broker_workers_pick (workers, 10));                 //  small: fits
    broker_workers_release (workers, a, 3 * large);
    assert (broker_workers_pick (workers, large));              //  10 + large
    assert (broker_workers_pick (workers, large) == NULL);      //  10 + 2 large
    broker_workers_release (workers, a, 10);
    assert (broker_workers_pick (workers, large));              //  2 large
    assert (broker_workers_in_flight (workers, a) == 2);
    zframe_destroy (&a);
    broker_workers_destroy (&workers);
    //  @end

    printf ("OK\n");
}
