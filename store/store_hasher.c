/*  =========================================================================
    store_hasher - Argon2id password hashing off the store's main loop

    The pool keeps, on the caller's thread, a queue of jobs not yet given
    to a worker and a flag per worker saying whether it holds a job. A job
    goes to an idle worker as soon as there is one: at once when it is
    queued, or when a result comes back (store_hasher_recv) and so frees
    its worker. Each worker thus holds at most one job, and the queue on
    the caller's side is the only one, which is what lets destroy wipe
    every password that was never hashed.

    A job is one heap struct, passed by pointer ("p" picture, inproc only)
    from the caller's thread to a worker and back. Whoever holds the
    pointer owns the struct; the sender never touches it again.
    =========================================================================
*/

#include "store_hasher.h"
#include <sodium.h>

//  One job, from queueing to store_hasher_recv
typedef struct {
    void *context;              //  the caller's, handed back with the result
    bool urgent;                //  queued ahead of the others
    int64_t queued;             //  zclock_mono when it was queued
    int64_t micros;             //  how long the work took, set by the worker
    bool verify;                //  verify (true) or hash (false)
    char *password;             //  our copy, wiped before it is freed
    size_t password_size;       //  its length in bytes, without the NUL
    char stored [crypto_pwhash_STRBYTES];   //  hash to verify against
    size_t worker;              //  index of the worker that has it
    bool ok;                    //  outcome, set by the worker
    char *new_hash;             //  hash the worker made, or NULL
} s_job_t;

//  What a worker needs to start; copied before it signals ready
typedef struct {
    const char *endpoint;       //  where to push finished jobs
    unsigned long long opslimit;    //  Argon2id passes
    size_t memlimit;            //  Argon2id memory, bytes
} s_worker_args_t;

struct _store_hasher_t {
    zsock_t *results;           //  PULL, finished jobs from the workers
    zactor_t **workers;         //  the worker threads
    bool *busy;                 //  per worker: it holds a job
    size_t threads;             //  number of workers
    zlistx_t *urgent;           //  s_job_t not yet given to a worker, first served
    zlistx_t *queue;            //  s_job_t not yet given to a worker, after those
    size_t busy_count;          //  workers holding a job
    double mean_micros;         //  moving average of one job's work
    store_hasher_context_fn *context_free;  //  for the contexts of dropped jobs
    zlistx_t *late;             //  s_job_t that waited past max_wait: not run
    int64_t max_wait;           //  msecs a job may wait for a worker; 0 = no limit
    size_t pending;             //  jobs queued and not yet returned
    char *dummy_hash;           //  hash of a random, forgotten password
    int64_t dummy_micros;       //  how long making it took
    unsigned long long opslimit;    //  Argon2id passes for new hashes
    size_t memlimit;            //  Argon2id memory for new hashes, bytes
};


//  --------------------------------------------------------------------------
//  Jobs

static s_job_t *
s_job_new (void *context, bool urgent, const char *password)
{
    s_job_t *self = (s_job_t *) zmalloc (sizeof (s_job_t));
    assert (self);
    self->context = context;
    self->urgent = urgent;
    self->password_size = strlen (password);
    self->password = (char *) malloc (self->password_size + 1);
    assert (self->password);
    memcpy (self->password, password, self->password_size + 1);
    return self;
}

//  Wipe and free the password as soon as it is no longer needed
static void
s_job_forget_password (s_job_t *self)
{
    if (self->password) {
        sodium_memzero (self->password, self->password_size);
        free (self->password);
        self->password = NULL;
        self->password_size = 0;
    }
}

static void
s_job_destroy (s_job_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        s_job_t *self = *self_p;
        s_job_forget_password (self);
        zstr_free (&self->new_hash);
        free (self);
        *self_p = NULL;
    }
}



//  --------------------------------------------------------------------------
//  Worker thread: takes "JOB" + pointer on its pipe, does the work, pushes
//  the pointer back; ends on $TERM.

static char *
s_hash (const s_job_t *job, unsigned long long opslimit, size_t memlimit)
{
    char hash [crypto_pwhash_STRBYTES];
    if (crypto_pwhash_str (hash, job->password, job->password_size,
                           opslimit, memlimit) != 0)
        return NULL;            //  out of memory
    char *copy = strdup (hash);
    assert (copy);
    return copy;
}

static void
s_work (s_job_t *job, unsigned long long opslimit, size_t memlimit)
{
    int64_t started = zclock_usecs ();
    if (job->verify) {
        job->ok = crypto_pwhash_str_verify (job->stored, job->password,
                                            job->password_size) == 0;
        //  Only a right password may be rehashed: we have no other
        if (job->ok
        &&  crypto_pwhash_str_needs_rehash (job->stored, opslimit, memlimit) != 0)
            job->new_hash = s_hash (job, opslimit, memlimit);
    }
    else {
        job->new_hash = s_hash (job, opslimit, memlimit);
        job->ok = job->new_hash != NULL;
    }
    s_job_forget_password (job);
    job->micros = zclock_usecs () - started;
}

static void
s_worker (zsock_t *pipe, void *args)
{
    const s_worker_args_t *config = (const s_worker_args_t *) args;
    unsigned long long opslimit = config->opslimit;
    size_t memlimit = config->memlimit;
    char *endpoint = zsys_sprintf (">%s", config->endpoint);
    assert (endpoint);
    zsock_t *results = zsock_new_push (endpoint);
    assert (results);           //  inproc connect fails only if misspelt
    zstr_free (&endpoint);
    zsock_signal (pipe, 0);     //  config may go now

    while (true) {
        char *command = NULL;
        void *pointer = NULL;
        if (zsock_recv (pipe, "sp", &command, &pointer) == -1) {
            //  Only we write to the pipe, and every job we are sent must
            //  go back, or its password would never be wiped: so a signal
            //  does not end the worker, only $TERM or a dead context does
            if (zmq_errno () == EINTR)
                continue;
            break;
        }
        bool term = streq (command, "$TERM");
        zstr_free (&command);
        if (term)
            break;
        s_job_t *job = (s_job_t *) pointer;
        assert (job);           //  nobody else writes to this pipe
        s_work (job, opslimit, memlimit);
        //  The PULL end is there until we are gone, and its queue is far
        //  longer than one job per worker: only a dying context fails this
        if (zsock_send (results, "p", job) != 0)
            s_job_destroy (&job);
    }
    zsock_destroy (&results);
}


//  --------------------------------------------------------------------------
//  Give queued jobs to idle workers, oldest job first

//  The next job to run, urgent ones first. A job that has waited past
//  max_wait goes to the late list on the way: its answer would come after
//  the caller stopped waiting.
static s_job_t *
s_next_job (store_hasher_t *self)
{
    while (true) {
        zlistx_t *from = zlistx_size (self->urgent)? self->urgent: self->queue;
        s_job_t *job = (s_job_t *) zlistx_detach (from, NULL);
        if (!job || !self->max_wait || zclock_mono () - job->queued <= self->max_wait)
            return job;
        s_job_forget_password (job);
        zlistx_add_end (self->late, job);
    }
}

//  Give queued jobs to idle workers. A worker is free only here and when
//  a result comes back (store_hasher_recv), so late jobs are found only
//  while the caller is reading results, and it reads them in the same
//  pass.
static void
s_dispatch (store_hasher_t *self)
{
    for (size_t index = 0; index < self->threads; index++) {
        if (self->busy [index])
            continue;
        s_job_t *job = s_next_job (self);
        if (!job)
            break;
        job->worker = index;
        //  The pipe holds one job at most, so this does not fail; if it
        //  did, the job would wait for the next result to come back
        if (zsock_send (self->workers [index], "sp", "JOB", job) != 0) {
            zlistx_add_start (job->urgent? self->urgent: self->queue, job);
            break;
        }
        self->busy [index] = true;
        self->busy_count++;
    }
}

static void
s_queue (store_hasher_t *self, s_job_t *job)
{
    job->queued = zclock_mono ();
    zlistx_add_end (job->urgent? self->urgent: self->queue, job);
    self->pending++;
    s_dispatch (self);
}


//  A job that will never be returned: wipe it, and give its context to
//  the caller's destructor
static void
s_drop (store_hasher_t *self, s_job_t **job_p)
{
    if (self->context_free && (*job_p)->context)
        self->context_free (&(*job_p)->context);
    s_job_destroy (job_p);
}

static void
s_drop_all (store_hasher_t *self, zlistx_t *queue)
{
    if (!queue)
        return;
    s_job_t *job = (s_job_t *) zlistx_detach (queue, NULL);
    while (job) {
        s_drop (self, &job);
        job = (s_job_t *) zlistx_detach (queue, NULL);
    }
}

//  --------------------------------------------------------------------------
//  Public API

store_hasher_t *
store_hasher_new (size_t threads, unsigned long long opslimit, size_t memlimit)
{
    assert (threads >= 1);
    assert (opslimit >= crypto_pwhash_OPSLIMIT_INTERACTIVE);
    assert (opslimit <= crypto_pwhash_OPSLIMIT_MAX);
    assert (memlimit >= crypto_pwhash_MEMLIMIT_INTERACTIVE);
    assert (memlimit <= crypto_pwhash_MEMLIMIT_MAX);
    if (sodium_init () < 0) {
        zsys_error ("store_hasher: libsodium cannot start");
        return NULL;
    }
    //  The dummy first: if memlimit is more than we can have, better to
    //  know now than at the first LOGIN
    unsigned char secret [32];
    char password [sizeof (secret) * 2 + 1];
    randombytes_buf (secret, sizeof (secret));
    sodium_bin2hex (password, sizeof (password), secret, sizeof (secret));
    char dummy [crypto_pwhash_STRBYTES];
    int64_t started = zclock_usecs ();
    int rc = crypto_pwhash_str (dummy, password, strlen (password),
                                opslimit, memlimit);
    int64_t dummy_micros = zclock_usecs () - started;
    sodium_memzero (secret, sizeof (secret));
    sodium_memzero (password, sizeof (password));
    if (rc != 0) {
        zsys_error ("store_hasher: cannot hash with memlimit %zu bytes", memlimit);
        return NULL;
    }

    store_hasher_t *self = (store_hasher_t *) zmalloc (sizeof (store_hasher_t));
    assert (self);
    self->dummy_micros = dummy_micros;
    self->dummy_hash = strdup (dummy);
    assert (self->dummy_hash);
    self->opslimit = opslimit;
    self->memlimit = memlimit;
    self->threads = threads;
    self->queue = zlistx_new ();
    self->urgent = zlistx_new ();
    self->late = zlistx_new ();
    assert (self->queue && self->urgent && self->late);
    self->mean_micros = 0;

    self->workers = (zactor_t **) zmalloc (threads * sizeof (zactor_t *));
    self->busy = (bool *) zmalloc (threads * sizeof (bool));
    assert (self->workers && self->busy);

    //  Reads never block: store_hasher_recv is called when the socket is
    //  readable, and says -1 when it is not
    char *endpoint = zsys_sprintf ("inproc://store-hasher-%p", (void *) self);
    assert (endpoint);
    self->results = zsock_new (ZMQ_PULL);
    assert (self->results);
    zsock_set_rcvtimeo (self->results, 0);
    if (zsock_bind (self->results, "%s", endpoint) != 0) {
        zsys_error ("store_hasher: cannot bind %s: %s", endpoint,
                    zmq_strerror (zmq_errno ()));
        zstr_free (&endpoint);
        store_hasher_destroy (&self);
        return NULL;
    }
    s_worker_args_t args = {
        .endpoint = endpoint, .opslimit = opslimit, .memlimit = memlimit
    };
    for (size_t index = 0; index < threads; index++) {
        //  zactor_new returns once the worker has copied args
        self->workers [index] = zactor_new (s_worker, &args);
        assert (self->workers [index]);
    }
    zstr_free (&endpoint);
    return self;
}

void
store_hasher_destroy (store_hasher_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        store_hasher_t *self = *self_p;
        s_drop_all (self, self->urgent);    //  wipes what never ran
        s_drop_all (self, self->queue);
        s_drop_all (self, self->late);
        zlistx_destroy (&self->late);
        zlistx_destroy (&self->urgent);
        zlistx_destroy (&self->queue);
        //  A worker finishes the job it holds, pushes it, then reads
        //  $TERM: all results are in our socket once the workers are gone
        for (size_t index = 0; index < self->threads; index++)
            zactor_destroy (&self->workers [index]);
        void *pointer;
        while (zsock_recv (self->results, "p", &pointer) == 0) {
            s_job_t *job = (s_job_t *) pointer;
            s_drop (self, &job);
        }
        zsock_destroy (&self->results);
        free (self->workers);
        free (self->busy);
        sodium_memzero (self->dummy_hash, strlen (self->dummy_hash));
        zstr_free (&self->dummy_hash);
        free (self);
        *self_p = NULL;
    }
}

zsock_t *
store_hasher_socket (store_hasher_t *self)
{
    assert (self);
    return self->results;
}

int
store_hasher_hash (store_hasher_t *self, void *context, bool urgent, const char *password)
{
    assert (self);
    assert (password);
    if (strlen (password) > crypto_pwhash_PASSWD_MAX)
        return -1;
    s_queue (self, s_job_new (context, urgent, password));
    return 0;
}

int
store_hasher_verify (store_hasher_t *self, void *context, bool urgent,
                     const char *stored_hash, const char *password)
{
    assert (self);
    assert (stored_hash);
    assert (password);
    size_t stored_size = strlen (stored_hash);
    if (strlen (password) > crypto_pwhash_PASSWD_MAX
    ||  stored_size >= crypto_pwhash_STRBYTES)
        return -1;
    s_job_t *item = s_job_new (context, urgent, password);
    item->verify = true;
    memcpy (item->stored, stored_hash, stored_size + 1);
    s_queue (self, item);
    return 0;
}

int
store_hasher_recv (store_hasher_t *self, void **context, bool *ok,
                   char **new_hash_p)
{
    assert (self);
    assert (context);
    assert (ok);
    assert (new_hash_p);
    s_job_t *item = (s_job_t *) zlistx_detach (self->late, NULL);
    if (item) {
        assert (self->pending > 0);
        self->pending--;
        *context = item->context;
        *ok = false;
        *new_hash_p = NULL;
        s_job_destroy (&item);
        return 1;
    }
    void *pointer;
    if (zsock_recv (self->results, "p", &pointer) == -1)
        return -1;
    item = (s_job_t *) pointer;
    assert (item && item->worker < self->threads);
    self->busy [item->worker] = false;
    assert (self->busy_count > 0);
    self->busy_count--;
    //  A slow moving average, and one odd job (an old, stronger hash to
    //  verify) counts as at most four ordinary ones: it must not make the
    //  pool look busy for the jobs after it
    double sample = (double) item->micros;
    if (self->mean_micros > 0 && sample > 4 * self->mean_micros)
        sample = 4 * self->mean_micros;
    self->mean_micros = self->mean_micros == 0? sample
                      : self->mean_micros * 0.9 + sample * 0.1;
    assert (self->pending > 0);
    self->pending--;
    s_dispatch (self);

    *context = item->context;
    *ok = item->ok;
    *new_hash_p = item->new_hash;
    item->new_hash = NULL;
    s_job_destroy (&item);
    return 0;
}

const char *
store_hasher_dummy_hash (store_hasher_t *self)
{
    assert (self);
    return self->dummy_hash;
}

size_t
store_hasher_pending (store_hasher_t *self)
{
    assert (self);
    return self->pending;
}

void
store_hasher_set_max_wait (store_hasher_t *self, int64_t max_wait)
{
    assert (self);
    assert (max_wait >= 0);
    self->max_wait = max_wait;
}

void
store_hasher_set_destructor (store_hasher_t *self, store_hasher_context_fn *context_free)
{
    assert (self);
    self->context_free = context_free;
}

int64_t
store_hasher_wait_ms (store_hasher_t *self, bool urgent)
{
    assert (self);
    //  Until the first job comes back, the dummy hash made at start is the
    //  measure of one job
    double mean = self->mean_micros > 0? self->mean_micros: (double) self->dummy_micros;
    size_t ahead = zlistx_size (self->urgent) + self->busy_count
                 + (urgent? 0: zlistx_size (self->queue));
    //  Jobs ahead are served self->threads at a time; a job with fewer
    //  ahead than there are workers starts at once
    size_t rounds = ahead / self->threads;
    return (int64_t) (mean * (double) rounds / 1000.0);
}


//  --------------------------------------------------------------------------
//  Selftest

//  The selftest's asserts are its checks, and many call what they check:
//  they must stay in a build with NDEBUG (CMake's release types set it).
#undef NDEBUG
#include <assert.h>

//  Wait for one result; the selftest's jobs all finish in well under the
//  timeout, which only keeps a broken build from hanging
#define S_ID(id)    ((void *) (uintptr_t) (id))

static size_t s_dropped;        //  contexts the destructor was given

static void
s_count_dropped (void **context_p)
{
    s_dropped++;
    *context_p = NULL;
}

static int
s_wait_result (store_hasher_t *self, uint64_t *job, bool *ok, char **new_hash_p)
{
    void *context = NULL;
    zpoller_t *poller = zpoller_new (store_hasher_socket (self), NULL);
    assert (poller);
    int rc = -1;
    while (rc == -1) {
        rc = store_hasher_recv (self, &context, ok, new_hash_p);
        if (rc == 0) {
            *job = (uint64_t) (uintptr_t) context;
            break;
        }
        if (!zpoller_wait (poller, 120 * 1000) && zpoller_expired (poller))
            break;
    }
    zpoller_destroy (&poller);
    return rc;
}

//  Echoes PING as PONG, to show the caller's thread can talk while the
//  workers hash
static void
s_echo (zsock_t *pipe, void *args)
{
    (void) args;
    zsock_signal (pipe, 0);
    while (true) {
        char *command = zstr_recv (pipe);
        if (!command)
            break;
        bool term = streq (command, "$TERM");
        zstr_free (&command);
        if (term)
            break;
        zstr_send (pipe, "PONG");
    }
}

void
store_hasher_test (bool verbose)
{
    printf (" * store_hasher: ");
    if (verbose)
        printf ("\n");

    //  @selftest
    unsigned long long opslimit = crypto_pwhash_OPSLIMIT_INTERACTIVE;
    size_t memlimit = crypto_pwhash_MEMLIMIT_INTERACTIVE;
    store_hasher_t *hasher = store_hasher_new (2, opslimit, memlimit);
    assert (hasher);
    assert (store_hasher_pending (hasher) == 0);
    uint64_t job;
    bool ok;
    char *new_hash;
    void *context;
    //  Nothing to read yet
    assert (store_hasher_recv (hasher, &context, &ok, &new_hash) == -1);

    //  Hash, then verify the right and a wrong password
    int rc = store_hasher_hash (hasher, S_ID (1), false, "correct horse battery staple");
    assert (rc == 0);
    assert (store_hasher_pending (hasher) == 1);
    rc = s_wait_result (hasher, &job, &ok, &new_hash);
    assert (rc == 0);
    assert (job == 1 && ok && new_hash);
    assert (strncmp (new_hash, "$argon2id$", 10) == 0);
    assert (crypto_pwhash_str_needs_rehash (new_hash, opslimit, memlimit) == 0);
    assert (store_hasher_pending (hasher) == 0);
    char *stored = new_hash;
    if (verbose)
        zsys_debug ("store_hasher: made %s", stored);

    rc = store_hasher_verify (hasher, S_ID (2), false, stored, "correct horse battery staple");
    assert (rc == 0);
    rc = s_wait_result (hasher, &job, &ok, &new_hash);
    assert (rc == 0);
    assert (job == 2 && ok);
    assert (new_hash == NULL);  //  same limits: no rehash

    rc = store_hasher_verify (hasher, S_ID (3), false, stored, "correct horse battery stapl");
    assert (rc == 0);
    rc = s_wait_result (hasher, &job, &ok, &new_hash);
    assert (rc == 0);
    assert (job == 3 && !ok && new_hash == NULL);

    //  A string too long to be a hash is refused, nothing queued
    char too_long [crypto_pwhash_STRBYTES + 1];
    memset (too_long, 'x', sizeof (too_long) - 1);
    too_long [sizeof (too_long) - 1] = 0;
    assert (store_hasher_verify (hasher, S_ID (4), false, too_long, "password") == -1);
    assert (store_hasher_pending (hasher) == 0);
    //  A garbled stored hash just does not match
    rc = store_hasher_verify (hasher, S_ID (5), false, "$argon2id$garbage", "password");
    assert (rc == 0);
    rc = s_wait_result (hasher, &job, &ok, &new_hash);
    assert (rc == 0);
    assert (job == 5 && !ok && new_hash == NULL);

    //  A hash made with stronger limits than the pool's: the right
    //  password matches and comes back rehashed with the pool's limits; a
    //  wrong one gets no new hash
    char stronger [crypto_pwhash_STRBYTES];
    rc = crypto_pwhash_str (stronger, "old password", strlen ("old password"),
                            opslimit + 1, memlimit);
    assert (rc == 0);
    assert (crypto_pwhash_str_needs_rehash (stronger, opslimit, memlimit) != 0);
    rc = store_hasher_verify (hasher, S_ID (6), false, stronger, "old password");
    assert (rc == 0);
    rc = s_wait_result (hasher, &job, &ok, &new_hash);
    assert (rc == 0);
    assert (job == 6 && ok && new_hash);
    assert (strncmp (new_hash, "$argon2id$", 10) == 0);
    assert (crypto_pwhash_str_needs_rehash (new_hash, opslimit, memlimit) == 0);
    assert (crypto_pwhash_str_verify (new_hash, "old password",
                                      strlen ("old password")) == 0);
    zstr_free (&new_hash);
    rc = store_hasher_verify (hasher, S_ID (7), false, stronger, "wrong password");
    assert (rc == 0);
    rc = s_wait_result (hasher, &job, &ok, &new_hash);
    assert (rc == 0);
    assert (job == 7 && !ok && new_hash == NULL);

    //  The dummy hash is a real hash with the pool's limits, that no
    //  password we try matches
    const char *dummy = store_hasher_dummy_hash (hasher);
    assert (dummy);
    assert (strncmp (dummy, "$argon2id$", 10) == 0);
    assert (crypto_pwhash_str_needs_rehash (dummy, opslimit, memlimit) == 0);
    rc = store_hasher_verify (hasher, S_ID (8), false, dummy, "correct horse battery staple");
    assert (rc == 0);
    rc = s_wait_result (hasher, &job, &ok, &new_hash);
    assert (rc == 0);
    assert (job == 8 && !ok && new_hash == NULL);

    //  Several jobs in flight on two threads: each comes back once, with
    //  its id
    uint64_t first = 100;
    size_t count = 5;
    for (size_t index = 0; index < count; index++) {
        if (index % 2)
            rc = store_hasher_verify (hasher, S_ID (first + index), false, stored,
                                      "correct horse battery staple");
        else
            rc = store_hasher_hash (hasher, S_ID (first + index), false, "another password");
        assert (rc == 0);
    }
    assert (store_hasher_pending (hasher) == count);
    unsigned int seen = 0;
    for (size_t index = 0; index < count; index++) {
        rc = s_wait_result (hasher, &job, &ok, &new_hash);
        assert (rc == 0);
        assert (job >= first && job < first + count);
        unsigned int bit = 1u << (job - first);
        assert ((seen & bit) == 0);
        seen |= bit;
        assert (ok);
        if ((job - first) % 2)
            assert (new_hash == NULL);
        else {
            assert (new_hash && strncmp (new_hash, "$argon2id$", 10) == 0);
            zstr_free (&new_hash);
        }
    }
    assert (seen == (1u << count) - 1);
    assert (store_hasher_pending (hasher) == 0);

    //  The caller's thread is not blocked while workers hash: four jobs
    //  on two threads, and a ping-pong with another thread goes on all
    //  the while. We count round trips that complete while jobs are
    //  still out; one is proof enough, and no timing is assumed.
    zactor_t *echo = zactor_new (s_echo, NULL);
    assert (echo);
    for (uint64_t id = 200; id < 204; id++) {
        rc = store_hasher_hash (hasher, S_ID (id), false, "busy password");
        assert (rc == 0);
    }
    //  All four are queued, and we are back before any is done
    assert (store_hasher_pending (hasher) == 4);
    zpoller_t *poller = zpoller_new (store_hasher_socket (hasher), echo, NULL);
    assert (poller);
    size_t results = 0;
    size_t pongs_while_busy = 0;
    size_t pings = 1;
    zstr_send (echo, "PING");
    bool ping_out = true;
    while (results < 4 || ping_out) {
        void *which = zpoller_wait (poller, 120 * 1000);
        assert (which);         //  neither expired nor interrupted
        if (which == echo) {
            char *pong = zstr_recv (echo);
            assert (pong && streq (pong, "PONG"));
            zstr_free (&pong);
            ping_out = false;
            if (results < 4)
                pongs_while_busy++;
            //  Keep the echo going while jobs are out, within reason, so
            //  the ping-pong does not starve the workers of CPU
            if (results < 4 && pings < 1000) {
                zstr_send (echo, "PING");
                pings++;
                ping_out = true;
            }
        }
        else {
            while (store_hasher_recv (hasher, &context, &ok, &new_hash) == 0) {
                job = (uint64_t) (uintptr_t) context;
                assert (job >= 200 && job < 204 && ok && new_hash);
                zstr_free (&new_hash);
                results++;
            }
        }
    }
    assert (pongs_while_busy >= 1);
    assert (store_hasher_pending (hasher) == 0);
    if (verbose)
        zsys_debug ("store_hasher: %zu round trips while hashing", pongs_while_busy);
    zpoller_destroy (&poller);
    zactor_destroy (&echo);

    //  The wait estimate grows with the queue, and an urgent job has
    //  only urgent and running jobs ahead of it
    assert (store_hasher_wait_ms (hasher, false) == 0);     //  idle: no wait
    store_hasher_destroy (&hasher);
    hasher = store_hasher_new (1, opslimit, memlimit);
    assert (hasher);
    int64_t idle_wait = store_hasher_wait_ms (hasher, false);
    for (uint64_t id = 400; id < 403; id++) {
        rc = store_hasher_hash (hasher, S_ID (id), false, "ordinary password");
        assert (rc == 0);
    }
    assert (store_hasher_wait_ms (hasher, false) > idle_wait);
    assert (store_hasher_wait_ms (hasher, true) < store_hasher_wait_ms (hasher, false));
    rc = store_hasher_hash (hasher, S_ID (499), true, "urgent password");
    assert (rc == 0);
    //  One worker: job 400 was running already, 499 jumps the other two
    uint64_t order [4];
    for (size_t index = 0; index < 4; index++) {
        rc = s_wait_result (hasher, &order [index], &ok, &new_hash);
        assert (rc == 0 && ok);
        zstr_free (&new_hash);
    }
    assert (order [0] == 400 && order [1] == 499);
    assert (order [2] == 401 && order [3] == 402);

    //  A job that waits for a worker past the max wait comes back unrun:
    //  one worker, a wait of 1 ms, and three jobs behind a running one
    store_hasher_set_max_wait (hasher, 1);
    for (uint64_t id = 600; id < 604; id++) {
        rc = store_hasher_hash (hasher, S_ID (id), false, "late password");
        assert (rc == 0);
    }
    size_t late = 0, done = 0;
    while (late + done < 4) {
        void *late_context;
        zpoller_t *waiter = zpoller_new (store_hasher_socket (hasher), NULL);
        assert (zpoller_wait (waiter, 120 * 1000));
        zpoller_destroy (&waiter);
        while ((rc = store_hasher_recv (hasher, &late_context, &ok, &new_hash)) >= 0) {
            if (rc == 1) {
                assert (!ok && new_hash == NULL);
                assert ((uintptr_t) late_context > 600);
                late++;
            }
            else {
                assert ((uintptr_t) late_context == 600 && ok);
                zstr_free (&new_hash);
                done++;
            }
        }
    }
    assert (done == 1 && late == 3);
    assert (store_hasher_pending (hasher) == 0);
    store_hasher_set_max_wait (hasher, 0);

    //  Destroy with jobs queued and running: they are dropped, wiped,
    //  freed (valgrind checks the last), and each context goes to the
    //  destructor, once
    store_hasher_set_destructor (hasher, s_count_dropped);
    for (uint64_t id = 300; id < 305; id++) {
        rc = store_hasher_verify (hasher, S_ID (id), false, stored, "dropped password");
        assert (rc == 0);
    }
    zstr_free (&stored);
    store_hasher_destroy (&hasher);
    assert (s_dropped == 5);
    assert (hasher == NULL);
    store_hasher_destroy (&hasher);     //  harmless twice
    //  @end

    printf ("OK\n");
}
