/*  =========================================================================
    store_server - the store worker: one actor that serves the broker

    This file is the store's side of the link and its command dispatch.
    It keeps the worker registered with whatever broker listens at the
    endpoint: READY when it starts, a HEARTBEAT every interval, and a new
    socket and a new READY when the broker falls silent, so a restarted
    broker finds its stores again without anyone restarting them. Every
    REQUEST is decoded with zpost_msg; a malformed one is answered with the
    codec's error, a well-formed one goes to its command's handler, and
    every answer goes back as a REPLY with the broker's ticket. Nothing
    the broker or a client sends can stop the actor: bad input is logged
    and answered or dropped.

    The actor alone uses the LMDB environment (store_db) while it runs.
    =========================================================================
*/

#include "store_server.h"
#include "store_auth.h"
#include "store_mail.h"
#include "store_hasher.h"
#include "store_records.h"
#include "store_throttle.h"
#include "zpost_link.h"
#include "zpost_status.h"
#include <sodium.h>
#include <time.h>

#include <errno.h>
#include <inttypes.h>

//  How long a final DISCONNECT may wait to leave before the socket is
//  dropped; short, because a broker that is gone will never take it.
#define S_GOODBYE_LINGER    250

//  The largest frame the broker can forward is a body at the protocol
//  ceiling; anything bigger is not ZPOST and libzmq drops the connection.
#define S_FRAME_MAX         (ZPOST_BODY_MAX + 4096)

//  Most messages read off the socket before the group is committed: enough
//  to share one fsync among every client of a busy broker, few enough that
//  the first of them is not kept waiting long.
#define S_GROUP_MAX         512

//  Password jobs queued beyond this are refused with STORE_UNAVAILABLE
//  rather than left to wait longer than any client would.
#define S_HASH_QUEUE_MAX    256

//  Recorded replies are expired by a timer, a bounded number at a time.
#define S_EXPIRE_INTERVAL   60000
#define S_EXPIRE_BATCH      1000

struct _store_server_t {
    zsock_t *pipe;              //  actor pipe to the caller
    zloop_t *loop;              //  reactor: pipe, dealer, heartbeat timer
    store_db_t *db;             //  the environment, lent by the caller
    char *endpoint;             //  the broker's back end
    char *broker_key;           //  broker public key (Z85), or NULL for ipc
    zcert_t *cert;              //  our key pair for CURVE, or NULL for ipc
    char *name;                 //  store-name sent in READY
    uint32_t capacity;          //  capacity sent in READY
    int heartbeat;              //  msecs between heartbeats
    bool verbose;               //  log the link traffic
    bool curve;                 //  the endpoint is tcp://, so CURVE
    zsock_t *dealer;            //  the link to the broker; NULL when none
    int timer_id;               //  heartbeat timer; -1 before START
    int64_t broker_expiry;      //  zclock_mono time when silence means gone
    int64_t ready_at;           //  zclock_mono time of the last READY
    bool ready_due;             //  READY owed; sent at the next tick
    bool terminated;            //  $TERM received
    uint64_t requests;          //  replies sent
    uint64_t reconnects;        //  sockets replaced after broker silence
    store_server_config_t config;   //  limits and policies, defaults filled in
    zlistx_t *group;            //  store_op_t queued for the next commit
    store_hasher_t *hasher;     //  Argon2id pool
    zhashx_t *hash_jobs;        //  job id -> s_hash_job_t waiting on the pool
    uint64_t next_job;          //  id of the next password job
    store_throttle_t *throttle; //  failed logins, per account and per key
    uint64_t commits;           //  group commits that wrote something
    size_t last_group;          //  ops in the last group, for logs
};

//  A password job: the op waiting on it and what to do with the result.
typedef struct {
    store_op_t *op;             //  the waiting request
    store_hashed_fn *then;      //  continues it
} s_hash_job_t;


//  --------------------------------------------------------------------------
//  Commands: where each one starts. A command with a start step begins
//  there; one with only a write step is queued for the group commit.

static void
    s_start_ping (store_server_t *self, store_op_t *op);

static const struct {
    store_start_fn *start;      //  first step, outside any transaction
    store_write_fn *write;      //  or straight into the group commit
} s_commands [ZPOST_CMD_COUNT] = {
    [ZPOST_CMD_PING]     = { s_start_ping, NULL },
    [ZPOST_CMD_REGISTER] = { store_auth_register, NULL },
    [ZPOST_CMD_LOGIN]    = { store_auth_login, NULL },
    [ZPOST_CMD_PASSWD]   = { store_auth_passwd, NULL },
    [ZPOST_CMD_LOGOUT]   = { NULL, store_auth_logout },
    [ZPOST_CMD_SEND]     = { NULL, store_mail_send },
    [ZPOST_CMD_LIST]     = { NULL, store_mail_list },
    [ZPOST_CMD_READ]     = { NULL, store_mail_read },
    [ZPOST_CMD_DELETE]   = { NULL, store_mail_delete },
    [ZPOST_CMD_STATS]    = { NULL, store_mail_stats },
};

//  PING through the store proves the link works end to end, and is the
//  baseline for benchmarks: it must not touch LMDB.
static void
s_start_ping (store_server_t *self, store_op_t *op)
{
    op->reply = zpost_msg_new_reply (op->request, ZPOST_OK, NULL);
    zpost_msg_set (op->reply, ZPOST_F_SERVER_VERSION, "zpost " ZPOST_VERSION);
    zpost_msg_set (op->reply, ZPOST_F_ANSWERED_BY, "store");
    store_server_answer (self, &op);
}

static void
s_op_destroy (store_op_t **op_p)
{
    if (*op_p) {
        store_op_t *op = *op_p;
        zpost_msg_destroy (&op->request);
        zpost_msg_destroy (&op->reply);
        if (op->hash) {
            sodium_memzero (op->hash, strlen (op->hash));
            zstr_free (&op->hash);
        }
        if (op->state && op->state_free)
            op->state_free (&op->state);
        free (op);
        *op_p = NULL;
    }
}

//  An op in the group, with the step to run for it in the transaction
typedef struct {
    store_op_t *op;             //  the op
    store_write_fn *step;       //  what to run in the transaction
} s_queued_t;

static void
s_queued_free (void **item_p)
{
    s_queued_t *queued = (s_queued_t *) *item_p;
    if (queued) {
        s_op_destroy (&queued->op);
        free (queued);
        *item_p = NULL;
    }
}


//  --------------------------------------------------------------------------
//  Constructor and destructor of the actor's state

static store_server_t *
s_server_new (zsock_t *pipe, store_server_config_t *config)
{
    assert (config);
    assert (config->db);
    assert (config->endpoint);
    assert (config->name);
    assert (config->heartbeat >= 0);
    assert (config->capacity <= ZPOST_LINK_CAPACITY_MAX);

    store_server_t *self = (store_server_t *) zmalloc (sizeof (store_server_t));
    assert (self);
    self->pipe = pipe;
    self->db = config->db;
    self->endpoint = strdup (config->endpoint);
    assert (self->endpoint);
    self->curve = strncmp (config->endpoint, "tcp://", 6) == 0;
    if (config->broker_key) {
        self->broker_key = strdup (config->broker_key);
        assert (self->broker_key);
    }
    if (config->cert) {
        //  A copy, so that no object is shared between threads
        self->cert = zcert_dup (config->cert);
        assert (self->cert);
    }
    self->name = strdup (config->name);
    assert (self->name);
    self->capacity = config->capacity? config->capacity: STORE_SERVER_CAPACITY;
    self->heartbeat = config->heartbeat? config->heartbeat: STORE_SERVER_HEARTBEAT;
    self->verbose = config->verbose;
    self->timer_id = -1;

    self->config = *config;
    self->config.endpoint = self->endpoint;
    self->config.broker_key = self->broker_key;
    self->config.name = self->name;
    self->config.cert = NULL;
    if (!self->config.body_limit)
        self->config.body_limit = STORE_BODY_LIMIT;
    if (!self->config.quota)
        self->config.quota = STORE_QUOTA;
    if (!self->config.session_idle)
        self->config.session_idle = STORE_SESSION_IDLE;
    if (!self->config.session_max)
        self->config.session_max = STORE_SESSION_MAX;
    if (!self->config.pwhash_ops)
        self->config.pwhash_ops = crypto_pwhash_OPSLIMIT_INTERACTIVE;
    if (!self->config.pwhash_mem)
        self->config.pwhash_mem = crypto_pwhash_MEMLIMIT_INTERACTIVE;
    if (!self->config.hashers) {
        long cores = sysconf (_SC_NPROCESSORS_ONLN);
        self->config.hashers = cores > 1? (size_t) cores - 1: 1;
    }
    if (self->config.map_max < store_db_map_size (self->db))
        self->config.map_max = store_db_map_size (self->db);

    self->group = zlistx_new ();
    assert (self->group);
    zlistx_set_destructor (self->group, s_queued_free);
    self->hash_jobs = zhashx_new ();
    assert (self->hash_jobs);
    self->throttle = store_throttle_new ();
    assert (self->throttle);

    self->loop = zloop_new ();
    assert (self->loop);
    //  A signal ends the program through $TERM from the caller, not by
    //  stopping this loop under it.
    zloop_set_nonstop (self->loop, true);
    return self;
}

static void
s_server_destroy (store_server_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        store_server_t *self = *self_p;
        zloop_destroy (&self->loop);
        //  Requests still waiting get no reply: the broker answers them
        //  503 when their deadline passes, and clients retry.
        zlistx_destroy (&self->group);
        if (self->hash_jobs) {
            s_hash_job_t *job = (s_hash_job_t *) zhashx_first (self->hash_jobs);
            while (job) {
                s_op_destroy (&job->op);
                free (job);
                job = (s_hash_job_t *) zhashx_next (self->hash_jobs);
            }
            zhashx_destroy (&self->hash_jobs);
        }
        store_hasher_destroy (&self->hasher);
        store_throttle_destroy (&self->throttle);
        zsock_destroy (&self->dealer);
        zcert_destroy (&self->cert);
        zstr_free (&self->broker_key);
        zstr_free (&self->endpoint);
        zstr_free (&self->name);
        free (self);
        *self_p = NULL;
    }
}


//  --------------------------------------------------------------------------
//  The link: sending

static int
s_send_command (store_server_t *self, zpost_link_id_t id)
{
    if (!self->dealer)
        return -1;
    zpost_link_t *link = zpost_link_new (id);
    if (id == ZPOST_LINK_READY) {
        zpost_link_set_store_name (link, self->name);
        zpost_link_set_capacity (link, self->capacity);
        zpost_link_set_body_limit (link, self->config.body_limit);
    }
    //  The socket never blocks (SNDTIMEO 0): a full queue means the
    //  broker is not reading, and silence detection will deal with it.
    int rc = zpost_link_send (link, self->dealer);
    zpost_link_destroy (&link);
    if (rc)
        zsys_warning ("store_server: cannot send %s to %s: %s",
                      zpost_link_command_name (id), self->endpoint,
                      zmq_strerror (zmq_errno ()));
    else
    if (self->verbose)
        zsys_debug ("store_server: sent %s", zpost_link_command_name (id));
    return rc;
}

static int
s_send_ready (store_server_t *self)
{
    self->ready_at = zclock_mono ();
    self->ready_due = false;
    return s_send_command (self, ZPOST_LINK_READY);
}

//  The broker asked for READY again. A broker that keeps asking (because
//  it rejects us, say) gets one READY per interval, not a storm.
static void
s_ready_again (store_server_t *self)
{
    if (zclock_mono () - self->ready_at >= self->heartbeat)
        s_send_ready (self);
    else
        self->ready_due = true;
}


//  --------------------------------------------------------------------------
//  Reply to the request the broker numbered ticket.

static int
s_send_reply (store_server_t *self, uint64_t ticket, zpost_msg_t **reply_p)
{
    assert (self);
    assert (reply_p && *reply_p);
    zpost_msg_t *reply = *reply_p;
    zmsg_t *content = zpost_msg_encode (reply);
    if (!content) {
        //  A handler left out a field the spec requires. The client still
        //  gets an answer, one that does not pretend to be the real one.
        zsys_error ("store_server: %s reply %d lacks a required field",
                    zpost_msg_command_name (zpost_msg_command (reply)),
                    zpost_msg_status (reply));
        zpost_msg_t *fallback = zpost_msg_new_reply (reply, ZPOST_INTERNAL_ERROR, NULL);
        content = zpost_msg_encode (fallback);
        zpost_msg_destroy (&fallback);
        assert (content);
    }
    if (self->verbose)
        zsys_debug ("store_server: reply %" PRIu64 ": %s %d %s", ticket,
                    zpost_msg_command_name (zpost_msg_command (reply)),
                    zpost_msg_status (reply), zpost_msg_reason (reply));
    zpost_msg_destroy (reply_p);

    if (!self->dealer) {
        zmsg_destroy (&content);
        return -1;
    }
    zpost_link_t *link = zpost_link_new (ZPOST_LINK_REPLY);
    zpost_link_set_ticket (link, ticket);
    zpost_link_set_content (link, &content);
    int rc = zpost_link_send (link, self->dealer);
    zpost_link_destroy (&link);
    if (rc)
        zsys_warning ("store_server: cannot send reply %" PRIu64 ": %s",
                      ticket, zmq_strerror (zmq_errno ()));
    else
        self->requests++;
    return rc;
}


//  --------------------------------------------------------------------------
//  Ops: answering, queueing, hashing

void
store_server_answer (store_server_t *self, store_op_t **op_p)
{
    assert (self);
    assert (op_p && *op_p);
    store_op_t *op = *op_p;
    assert (op->reply);
    s_send_reply (self, op->ticket, &op->reply);
    s_op_destroy (op_p);
}

void
store_op_reply (store_op_t *op, int status, const char *reason, const char *detail)
{
    assert (op);
    zpost_msg_destroy (&op->reply);
    op->reply = zpost_msg_new_reply (op->request, status, reason);
    if (detail)
        zpost_msg_set (op->reply, ZPOST_F_DETAIL, detail);
}

void
store_server_fail (store_server_t *self, store_op_t **op_p, int status,
                   const char *reason, const char *detail)
{
    store_op_reply (*op_p, status, reason, detail);
    store_server_answer (self, op_p);
}

void
store_server_queue (store_server_t *self, store_op_t **op_p, store_write_fn *step)
{
    assert (self);
    assert (op_p && *op_p);
    assert (step);
    s_queued_t *queued = (s_queued_t *) zmalloc (sizeof (s_queued_t));
    assert (queued);
    queued->op = *op_p;
    queued->step = step;
    *op_p = NULL;
    zlistx_add_end (self->group, queued);
}

void
store_server_hash (store_server_t *self, store_op_t **op_p, const char *password,
                   const char *stored_hash, store_hashed_fn *then)
{
    assert (self);
    assert (op_p && *op_p);
    if (!self->hasher || store_hasher_pending (self->hasher) >= S_HASH_QUEUE_MAX) {
        store_server_fail (self, op_p, ZPOST_STORE_UNAVAILABLE,
                           "The store is busy checking passwords: try again shortly", NULL);
        return;
    }
    uint64_t job_id = ++self->next_job;
    int rc = stored_hash? store_hasher_verify (self->hasher, job_id, stored_hash, password)
                        : store_hasher_hash (self->hasher, job_id, password);
    if (rc) {
        store_server_fail (self, op_p, ZPOST_INVALID_VALUE, NULL, "password");
        return;
    }
    s_hash_job_t *job = (s_hash_job_t *) zmalloc (sizeof (s_hash_job_t));
    assert (job);
    job->op = *op_p;
    job->then = then;
    *op_p = NULL;
    zhashx_insert (self->hash_jobs, &job_id, job);
}

const char *
store_server_dummy_hash (store_server_t *self)
{
    assert (self);
    return store_hasher_dummy_hash (self->hasher);
}

uint64_t
store_server_commits (store_server_t *self)
{
    assert (self);
    return self->commits;
}

const store_server_config_t *
store_server_config (store_server_t *self)
{
    assert (self);
    return &self->config;
}

store_throttle_t *
store_server_throttle (store_server_t *self)
{
    assert (self);
    return self->throttle;
}


//  --------------------------------------------------------------------------
//  The group commit. Every queued op runs in a nested transaction of one
//  write transaction; the parent is committed (one fsync for all), and
//  only then does any reply leave. Returns nothing: every op is answered.

//  Run every op of the group once. Returns 0, or MDB_MAP_FULL if the map
//  must grow and the group run again, or another LMDB code for the parent.
static int
s_group_run (store_server_t *self, MDB_txn *txn, bool map_at_max)
{
    MDB_env *env = store_db_env (self->db);
    s_queued_t *queued = (s_queued_t *) zlistx_first (self->group);
    while (queued) {
        store_op_t *op = queued->op;
        zpost_msg_destroy (&op->reply);
        MDB_txn *child;
        int rc = mdb_txn_begin (env, txn, 0, &child);
        if (rc)
            return rc;
        rc = queued->step (self, child, op);
        if (rc == 0)
            rc = mdb_txn_commit (child);
        else {
            mdb_txn_abort (child);
            if (rc == STORE_ROLLBACK)
                rc = 0;
        }
        if (rc == MDB_MAP_FULL && !map_at_max)
            return rc;
        if (rc) {
            zpost_msg_destroy (&op->reply);
            if (rc == MDB_MAP_FULL)
                op->reply = zpost_msg_new_reply (op->request, ZPOST_STORAGE_FULL, NULL);
            else {
                zsys_error ("store_server: %s failed: %s",
                            zpost_msg_command_name (zpost_msg_command (op->request)),
                            mdb_strerror (rc));
                op->reply = zpost_msg_new_reply (op->request, ZPOST_INTERNAL_ERROR, NULL);
            }
        }
        assert (op->reply);
        queued = (s_queued_t *) zlistx_next (self->group);
    }
    return 0;
}

static void
s_group_answer_all (store_server_t *self, int status)
{
    s_queued_t *queued = (s_queued_t *) zlistx_first (self->group);
    while (queued) {
        store_op_t *op = queued->op;
        if (status) {
            zpost_msg_destroy (&op->reply);
            op->reply = zpost_msg_new_reply (op->request, status, NULL);
        }
        store_server_answer (self, &queued->op);
        free (queued);
        queued = (s_queued_t *) zlistx_next (self->group);
    }
    //  The items were freed above; empty the list without its destructor
    zlistx_set_destructor (self->group, NULL);
    zlistx_purge (self->group);
    zlistx_set_destructor (self->group, s_queued_free);
}

static void
s_group_commit (store_server_t *self)
{
    if (zlistx_size (self->group) == 0)
        return;
    MDB_env *env = store_db_env (self->db);
    bool map_at_max = false;
    int status = 0;
    while (true) {
        MDB_envinfo before;
        mdb_env_info (env, &before);
        MDB_txn *txn;
        int rc = mdb_txn_begin (env, NULL, 0, &txn);
        if (rc == 0) {
            rc = s_group_run (self, txn, map_at_max);
            if (rc == 0)
                rc = mdb_txn_commit (txn);
            else
                mdb_txn_abort (txn);
        }
        if (rc == 0) {
            //  LMDB skips the commit (and its fsync) when nothing was
            //  written; count only the transactions that reached the disk.
            MDB_envinfo after;
            mdb_env_info (env, &after);
            if (after.me_last_txnid != before.me_last_txnid)
                self->commits++;
            break;
        }
        if (rc == MDB_MAP_FULL && !map_at_max) {
            if (store_db_grow (self->db, self->config.map_max))
                map_at_max = true;      //  run again, failing only what needs room
            continue;
        }
        zsys_error ("store_server: group commit of %zu failed: %s",
                    zlistx_size (self->group), mdb_strerror (rc));
        status = rc == MDB_MAP_FULL? ZPOST_STORAGE_FULL: ZPOST_INTERNAL_ERROR;
        break;
    }
    self->last_group = zlistx_size (self->group);
    s_group_answer_all (self, status);
}


//  --------------------------------------------------------------------------
//  A REQUEST: decode the client's frames, start the command.

static void
s_handle_request (store_server_t *self, zpost_link_t *link)
{
    uint64_t ticket = zpost_link_ticket (link);
    zmsg_t *content = zpost_link_take_content (link);
    zpost_msg_t *request = zpost_msg_new ();
    if (zpost_msg_decode_request (request, &content)) {
        if (self->verbose)
            zsys_debug ("store_server: request %" PRIu64 " is malformed: %d %s",
                        ticket, zpost_msg_status (request), zpost_msg_reason (request));
        zpost_msg_t *reply = zpost_msg_new_reply (request, zpost_msg_status (request),
                                                  zpost_msg_reason (request));
        zpost_msg_destroy (&request);
        s_send_reply (self, ticket, &reply);
        return;
    }
    //  The key the broker's ZAP handler saw, never anything from the
    //  client's own frames
    zpost_msg_set_client_key (request, zpost_link_client_key (link));
    if (self->verbose)
        zsys_debug ("store_server: request %" PRIu64 ": %s %s", ticket,
                    zpost_msg_command_name (zpost_msg_command (request)),
                    zpost_msg_request_id (request));

    store_op_t *op = (store_op_t *) zmalloc (sizeof (store_op_t));
    assert (op);
    op->ticket = ticket;
    op->request = request;
    op->now = (uint64_t) time (NULL);
    zpost_command_t command = zpost_msg_command (request);
    if (s_commands [command].start)
        s_commands [command].start (self, op);
    else
    if (s_commands [command].write) {
        store_server_queue (self, &op, s_commands [command].write);
        if (self->config.no_group_commit)
            s_group_commit (self);
    }
    else
        store_server_fail (self, &op, ZPOST_UNKNOWN_COMMAND, NULL, NULL);
}


//  --------------------------------------------------------------------------
//  Results from the Argon2id pool

static int
s_recv_hashed (zloop_t *loop, zsock_t *socket, void *arg)
{
    (void) loop;
    (void) socket;
    store_server_t *self = (store_server_t *) arg;
    uint64_t job_id;
    bool ok;
    char *new_hash;
    while (store_hasher_recv (self->hasher, &job_id, &ok, &new_hash) == 0) {
        s_hash_job_t *job = (s_hash_job_t *) zhashx_lookup (self->hash_jobs, &job_id);
        if (job) {
            zhashx_delete (self->hash_jobs, &job_id);
            job->then (self, job->op, ok, new_hash);
            free (job);
        }
        else
        if (new_hash) {
            sodium_memzero (new_hash, strlen (new_hash));
            zstr_free (&new_hash);
        }
    }
    s_group_commit (self);
    return 0;
}


//  --------------------------------------------------------------------------
//  Expire recorded replies now and then, a bounded number at a time

static int
s_expire_replies (zloop_t *loop, int timer_id, void *arg)
{
    (void) loop;
    (void) timer_id;
    store_server_t *self = (store_server_t *) arg;
    uint64_t now = (uint64_t) time (NULL);
    if (now < STORE_REPLY_KEEP)
        return 0;
    MDB_txn *txn;
    if (mdb_txn_begin (store_db_env (self->db), NULL, 0, &txn))
        return 0;
    size_t removed = 0;
    int rc = store_reply_expire (self->db, txn, now - STORE_REPLY_KEEP,
                                 S_EXPIRE_BATCH, &removed);
    if (rc == 0 && removed)
        rc = mdb_txn_commit (txn);
    else
        mdb_txn_abort (txn);
    if (rc)
        zsys_warning ("store_server: expiring recorded replies: %s", mdb_strerror (rc));
    return 0;
}


//  --------------------------------------------------------------------------
//  The link: receiving

static void
    s_link_message (store_server_t *self, zpost_link_t *link, int rc);

static int
s_recv_link (zloop_t *loop, zsock_t *dealer, void *arg)
{
    (void) loop;
    store_server_t *self = (store_server_t *) arg;
    zpost_link_t *link = zpost_link_new (ZPOST_LINK_NONE);
    int rc = zpost_link_recv (link, dealer);
    if (rc == -1) {
        zpost_link_destroy (&link);
        return 0;               //  interrupted; nothing was read
    }
    //  Anything at all from the broker, even nonsense, shows it is there
    self->broker_expiry = zclock_mono () + (int64_t) self->heartbeat * STORE_SERVER_LIVENESS;

    s_link_message (self, link, rc);
    zpost_link_destroy (&link);

    //  Read whatever else has arrived, so it all shares one commit
    for (size_t count = 1; count < S_GROUP_MAX && self->dealer
         && (zsock_events (self->dealer) & ZMQ_POLLIN)
         && !self->config.no_group_commit; count++) {
        link = zpost_link_new (ZPOST_LINK_NONE);
        rc = zpost_link_recv (link, self->dealer);
        if (rc != -1)
            s_link_message (self, link, rc);
        zpost_link_destroy (&link);
    }
    s_group_commit (self);
    return 0;
}

static void
s_link_message (store_server_t *self, zpost_link_t *link, int rc)
{
    zpost_link_id_t id = zpost_link_id (link);
    if (rc == -2)
        zsys_warning ("store_server: malformed message from the broker, dropped");
    else
    if (id == ZPOST_LINK_REQUEST)
        s_handle_request (self, link);
    else
    if (id == ZPOST_LINK_HEARTBEAT) {
        if (self->verbose)
            zsys_debug ("store_server: HEARTBEAT from the broker");
    }
    else
    if (id == ZPOST_LINK_DISCONNECT) {
        zsys_info ("store_server: the broker at %s asked us to register again",
                   self->endpoint);
        s_ready_again (self);
    }
    else
        zsys_warning ("store_server: unexpected %s from the broker, dropped",
                      zpost_link_command_name (id));
}


//  --------------------------------------------------------------------------
//  Make a new DEALER, connect it, and say READY. 0, or -1 with the socket
//  left NULL (the next tick tries again).

static int
s_connect (store_server_t *self)
{
    assert (!self->dealer);
    zsock_t *dealer = zsock_new (ZMQ_DEALER);
    if (!dealer) {
        zsys_error ("store_server: cannot create a socket: %s",
                    zmq_strerror (zmq_errno ()));
        return -1;
    }
    zsock_set_sndtimeo (dealer, 0);
    zsock_set_linger (dealer, 0);
    zsock_set_maxmsgsize (dealer, S_FRAME_MAX);
    if (self->curve) {
        zcert_apply (self->cert, dealer);
        zsock_set_curve_serverkey (dealer, self->broker_key);
    }
    if (zsock_connect (dealer, "%s", self->endpoint)) {
        zsys_error ("store_server: cannot connect to %s: %s", self->endpoint,
                    zmq_strerror (zmq_errno ()));
        zsock_destroy (&dealer);
        return -1;
    }
    if (zloop_reader (self->loop, dealer, s_recv_link, self)) {
        zsys_error ("store_server: cannot watch the socket to %s", self->endpoint);
        zsock_destroy (&dealer);
        return -1;
    }
    self->dealer = dealer;
    self->broker_expiry = zclock_mono () + (int64_t) self->heartbeat * STORE_SERVER_LIVENESS;
    return s_send_ready (self);
}

//  Drop the DEALER; with goodbye, tell the broker first and give the
//  DISCONNECT a moment to leave.
static void
s_disconnect (store_server_t *self, bool goodbye)
{
    if (!self->dealer)
        return;
    if (goodbye) {
        zsock_set_linger (self->dealer, S_GOODBYE_LINGER);
        s_send_command (self, ZPOST_LINK_DISCONNECT);
    }
    zloop_reader_end (self->loop, self->dealer);
    zsock_destroy (&self->dealer);
}


//  --------------------------------------------------------------------------
//  Every interval: heartbeat, or, when the broker has been silent too
//  long, a new socket and READY (Paranoid Pirate).

static int
s_tick (zloop_t *loop, int timer_id, void *arg)
{
    (void) loop;
    (void) timer_id;
    store_server_t *self = (store_server_t *) arg;

    //  A message waiting on the socket is word from the broker that we
    //  have not read yet. Keeping the socket then also matters to zloop:
    //  a socket destroyed here must not be one it is about to hand to
    //  s_recv_link in this same pass.
    bool silent = self->dealer
               && zclock_mono () >= self->broker_expiry
               && !(zsock_events (self->dealer) & ZMQ_POLLIN);
    if (silent) {
        zsys_warning ("store_server: no word from the broker at %s for %d ms; "
                      "reconnecting%s", self->endpoint,
                      self->heartbeat * STORE_SERVER_LIVENESS,
                      self->curve? " (if this repeats, check the broker's public "
                                   "key and that it lists ours)": "");
        s_disconnect (self, false);
        self->reconnects++;
    }
    if (!self->dealer)
        s_connect (self);
    else
    if (self->ready_due)
        s_send_ready (self);
    else
        s_send_command (self, ZPOST_LINK_HEARTBEAT);
    return 0;
}


//  --------------------------------------------------------------------------
//  START: connect and send the first READY. 0 or -1.

static int
s_start (store_server_t *self)
{
    if (self->timer_id != -1) {
        zsys_error ("store_server: START given twice");
        return -1;
    }
    if (self->curve && (!self->cert || !self->broker_key)) {
        zsys_error ("store_server: %s is tcp://, which needs the broker's "
                    "public key and our key pair", self->endpoint);
        return -1;
    }
    self->hasher = store_hasher_new (self->config.hashers, self->config.pwhash_ops,
                                     self->config.pwhash_mem);
    if (!self->hasher) {
        zsys_error ("store_server: cannot start the password hasher "
                    "(out of memory for %zu MiB per hash?)", self->config.pwhash_mem >> 20);
        return -1;
    }
    zloop_reader (self->loop, store_hasher_socket (self->hasher), s_recv_hashed, self);
    zloop_timer (self->loop, S_EXPIRE_INTERVAL, 0, s_expire_replies, self);
    if (s_connect (self))
        return -1;
    self->timer_id = zloop_timer (self->loop, (size_t) self->heartbeat, 0, s_tick, self);
    assert (self->timer_id != -1);
    zsys_info ("store_server: %s registering with %s%s", self->name,
               self->endpoint, self->curve? " (CURVE)": "");
    return 0;
}

//  A command on the pipe. Returns -1 to end the loop on $TERM.
static int
s_recv_pipe (zloop_t *loop, zsock_t *pipe, void *arg)
{
    (void) loop;
    store_server_t *self = (store_server_t *) arg;
    char *command = zstr_recv (pipe);
    if (!command)
        return 0;               //  interrupted
    int rc = 0;
    if (streq (command, "$TERM")) {
        self->terminated = true;
        rc = -1;
    }
    else
    if (streq (command, "START"))
        zsock_signal (pipe, s_start (self) == 0? 0: 1);
    else
        zsys_error ("store_server: unknown command '%s' on the pipe", command);
    zstr_free (&command);
    return rc;
}


//  --------------------------------------------------------------------------
//  The actor

void
store_server (zsock_t *pipe, void *args)
{
    store_server_t *self = s_server_new (pipe, (store_server_config_t *) args);
    if (zloop_reader (self->loop, pipe, s_recv_pipe, self))
        zsys_error ("store_server: cannot watch the actor pipe");
    zsock_signal (pipe, 0);

    zloop_start (self->loop);

    //  A signal that lands in this thread ends zloop_start early; the
    //  caller saw the same signal and is about to send $TERM. Wait for it,
    //  so the actor ends exactly when told to.
    while (!self->terminated) {
        char *command = zstr_recv (pipe);
        if (!command) {
            if (zmq_errno () == ETERM)
                break;
            continue;
        }
        if (streq (command, "$TERM"))
            self->terminated = true;
        else
        if (streq (command, "START"))
            zsock_signal (pipe, 1);
        zstr_free (&command);
    }
    if (self->dealer)
        zsys_info ("store_server: %s leaving %s after %" PRIu64 " replies, %"
                   PRIu64 " reconnects", self->name, self->endpoint,
                   self->requests, self->reconnects);
    s_disconnect (self, true);
    s_server_destroy (&self);
}


//  --------------------------------------------------------------------------
//  Accessors for handlers

store_db_t *
store_server_db (store_server_t *self)
{
    assert (self);
    return self->db;
}



//  --------------------------------------------------------------------------
//  Selftest

#define S_TEST_ENDPOINT     "inproc://store-server-test"
#define S_TEST_HEARTBEAT    100
#define S_TEST_DEADLINE     5000    //  msecs any one expected message may take

//  Receive the next link message the store sends, skipping heartbeats
//  and READY unless asked for one; fails the test if none comes in time.
//  A live broker answers heartbeats, so the store never thinks it silent
//  however slowly the test runs (valgrind); a silent one does not.
static zpost_link_t *
s_test_expect (zsock_t *router, zpost_link_id_t id, bool live)
{
    zpoller_t *poller = zpoller_new (router, NULL);
    assert (poller);
    int64_t deadline = zclock_mono () + S_TEST_DEADLINE;
    zpost_link_t *link = zpost_link_new (ZPOST_LINK_NONE);
    while (true) {
        int64_t left = deadline - zclock_mono ();
        assert (left > 0);
        void *which = zpoller_wait (poller, (int) left);
        assert (which == router);
        int rc = zpost_link_recv (link, router);
        assert (rc == 0);
        if (zpost_link_id (link) == id)
            break;
        assert (zpost_link_id (link) == ZPOST_LINK_HEARTBEAT
             || zpost_link_id (link) == ZPOST_LINK_READY);
        if (live && zpost_link_id (link) == ZPOST_LINK_HEARTBEAT) {
            rc = zpost_link_send (link, router);
            assert (rc == 0);
        }
    }
    zpoller_destroy (&poller);
    return link;
}

//  Send content to the store as a REQUEST; return the reply's frames.
static zmsg_t *
s_test_exchange (zsock_t *router, zframe_t *store_id, uint64_t ticket, zmsg_t **content_p)
{
    zpost_link_t *link = zpost_link_new (ZPOST_LINK_REQUEST);
    zpost_link_set_routing_id (link, store_id);
    zpost_link_set_ticket (link, ticket);
    zpost_link_set_client_key (link, "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7");
    zpost_link_set_content (link, content_p);
    int rc = zpost_link_send (link, router);
    assert (rc == 0);
    zpost_link_destroy (&link);

    link = s_test_expect (router, ZPOST_LINK_REPLY, true);
    assert (zpost_link_ticket (link) == ticket);
    zmsg_t *content = zpost_link_take_content (link);
    zpost_link_destroy (&link);
    return content;
}

//  The same, for a reply the codec can decode.
static zpost_msg_t *
s_test_request (zsock_t *router, zframe_t *store_id, uint64_t ticket, zmsg_t **content_p)
{
    zmsg_t *content = s_test_exchange (router, store_id, ticket, content_p);
    zpost_msg_t *reply = zpost_msg_new ();
    int rc = zpost_msg_decode_reply (reply, &content);
    assert (rc == 0);
    return reply;
}

void
store_server_test (bool verbose)
{
    printf (" * store_server: ");
    if (verbose)
        printf ("\n");

    //  @selftest
    //  A scratch database; PING does not use it, later commands will
    const char *tmp = getenv ("TMPDIR");
    char *base = zsys_sprintf ("%s/zpost-store-server-XXXXXX",
                               tmp && *tmp == '/'? tmp: "/tmp");
    assert (base);
    char *made = mkdtemp (base);
    assert (made);
    store_db_t *db = store_db_new (base, 1024 * 1024);
    assert (db);

    //  The test plays the broker's back end
    zsock_t *router = zsock_new_router ("@" S_TEST_ENDPOINT);
    assert (router);

    store_server_config_t config = {
        .db = db,
        .endpoint = S_TEST_ENDPOINT,
        .name = "selftest:1",
        .capacity = 10,
        .heartbeat = S_TEST_HEARTBEAT,
        .verbose = verbose
    };
    zactor_t *server = zactor_new (store_server, &config);
    assert (server);
    zstr_send (server, "START");
    int rc = zsock_wait (server);
    assert (rc == 0);

    //  READY first, with the configured name and capacity
    zpost_link_t *link = s_test_expect (router, ZPOST_LINK_READY, true);
    assert (streq (zpost_link_store_name (link), "selftest:1"));
    assert (zpost_link_capacity (link) == 10);
    zframe_t *store_id = zframe_dup (zpost_link_routing_id (link));
    zpost_link_destroy (&link);

    //  Heartbeats follow
    link = s_test_expect (router, ZPOST_LINK_HEARTBEAT, true);
    zpost_link_destroy (&link);

    //  PING through the store
    zpost_msg_t *request = zpost_msg_new_request (ZPOST_CMD_PING, "ping-1", NULL);
    zpost_msg_set (request, ZPOST_F_TARGET, "store");
    zmsg_t *content = zpost_msg_encode (request);
    zpost_msg_destroy (&request);
    zpost_msg_t *reply = s_test_request (router, store_id, 0x0102030405060708, &content);
    assert (zpost_msg_command (reply) == ZPOST_CMD_PING);
    assert (streq (zpost_msg_request_id (reply), "ping-1"));
    assert (zpost_msg_status (reply) == ZPOST_OK);
    assert (streq (zpost_msg_get (reply, ZPOST_F_ANSWERED_BY), "store"));
    assert (streq (zpost_msg_get (reply, ZPOST_F_SERVER_VERSION), "zpost " ZPOST_VERSION));
    zpost_msg_destroy (&reply);

    //  Malformed content gets the codec's error, echoing what was valid
    content = zmsg_new ();
    zmsg_addstr (content, ZPOST_MSG_SIGNATURE);
    zmsg_addstr (content, "PING");
    zmsg_addstr (content, "ping-2");
    zmsg_addstr (content, "");
    zmsg_addstr (content, "nowhere");
    reply = s_test_request (router, store_id, 2, &content);
    assert (zpost_msg_command (reply) == ZPOST_CMD_PING);
    assert (streq (zpost_msg_request_id (reply), "ping-2"));
    assert (zpost_msg_status (reply) >= 400 && zpost_msg_status (reply) < 500);
    zpost_msg_destroy (&reply);

    //  ... and empty frames in place of what was not valid
    content = zmsg_new ();
    zmsg_addstr (content, "ZPOST9");
    content = s_test_exchange (router, store_id, 3, &content);
    assert (zmsg_size (content) >= 5);
    char *signature = zmsg_popstr (content);
    char *command = zmsg_popstr (content);
    char *request_id = zmsg_popstr (content);
    char *status = zmsg_popstr (content);
    assert (streq (signature, ZPOST_MSG_SIGNATURE));
    assert (streq (command, "") && streq (request_id, ""));
    assert (atoi (status) == ZPOST_VERSION_UNSUPPORTED);
    zstr_free (&signature);
    zstr_free (&command);
    zstr_free (&request_id);
    zstr_free (&status);
    zmsg_destroy (&content);

    //  A command that needs a session, without one
    request = zpost_msg_new_request (ZPOST_CMD_STATS, "stats-1", NULL);
    zpost_msg_set (request, ZPOST_F_SCOPE, "server");
    content = zpost_msg_encode (request);
    zpost_msg_destroy (&request);
    reply = s_test_request (router, store_id, 4, &content);
    assert (zpost_msg_status (reply) == ZPOST_NOT_LOGGED_IN);
    zpost_msg_destroy (&reply);

    //  Nonsense on the link is dropped; the store carries on
    zmsg_t *junk = zmsg_new ();
    zframe_t *routing_id = zframe_dup (store_id);
    zmsg_append (junk, &routing_id);
    zmsg_addstr (junk, "NOT-ZPOSTL1");
    rc = zmsg_send (&junk, router);
    assert (rc == 0);

    //  DISCONNECT from the broker: the store says READY again
    link = zpost_link_new (ZPOST_LINK_DISCONNECT);
    zpost_link_set_routing_id (link, store_id);
    rc = zpost_link_send (link, router);
    assert (rc == 0);
    zpost_link_destroy (&link);
    link = s_test_expect (router, ZPOST_LINK_READY, true);
    zpost_link_destroy (&link);

    //  Silence from the broker: after three intervals a new socket (a new
    //  routing id) says READY
    int64_t silent_since = zclock_mono ();
    link = s_test_expect (router, ZPOST_LINK_READY, false);
    assert (zclock_mono () - silent_since >= S_TEST_HEARTBEAT * (STORE_SERVER_LIVENESS - 1));
    assert (!zframe_eq (zpost_link_routing_id (link), store_id));
    zframe_destroy (&store_id);
    store_id = zframe_dup (zpost_link_routing_id (link));
    zpost_link_destroy (&link);

    //  ... and serves on the new one
    request = zpost_msg_new_request (ZPOST_CMD_PING, "ping-3", NULL);
    zpost_msg_set (request, ZPOST_F_TARGET, "store");
    content = zpost_msg_encode (request);
    zpost_msg_destroy (&request);
    reply = s_test_request (router, store_id, 5, &content);
    assert (zpost_msg_status (reply) == ZPOST_OK);
    zpost_msg_destroy (&reply);

    //  A clean end says DISCONNECT
    zactor_destroy (&server);
    link = s_test_expect (router, ZPOST_LINK_DISCONNECT, false);
    zpost_link_destroy (&link);

    zframe_destroy (&store_id);
    zsock_destroy (&router);
    store_db_destroy (&db);
    zdir_t *tree = zdir_new (base, NULL);
    assert (tree);
    zdir_remove (tree, true);
    zdir_destroy (&tree);
    zstr_free (&base);
    //  @end

    printf ("OK\n");
}
