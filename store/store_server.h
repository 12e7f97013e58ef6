/*  =========================================================================
    store_server - the store worker: one actor that serves the broker

    The actor connects a DEALER to the broker's back end and speaks the
    link protocol (zpost_link.h): it announces itself with READY, sends a
    HEARTBEAT every interval, answers each REQUEST with a REPLY carrying
    the same ticket, and says DISCONNECT when it is told to end. If the
    broker is silent for three intervals, the actor throws its socket away,
    makes a new one and says READY again (the Paranoid Pirate worker of
    the ZeroMQ guide); a DISCONNECT from the broker also gets a fresh
    READY. A tcp:// back end is CURVE: the actor is a CURVE client with
    its own key pair and checks the broker's public key.

    Usage:

        store_server_config_t config = {
            .db = db, .endpoint = "ipc://zpost-back.ipc", .name = "host:42"
        };
        zactor_t *server = zactor_new (store_server, &config);
        zstr_send (server, "START");
        if (zsock_wait (server) == 0)
            ... the first READY has been sent ...
        ...
        zactor_destroy (&server);       //  sends DISCONNECT to the broker

    The configuration is copied before zactor_new returns; the caller may
    free it at once. The store_db_t is lent: it must outlive the actor,
    and while the actor runs, only the actor uses it.

    Pipe commands:

        START       connect, send the first READY; replies with a signal,
                    0 if READY went out, 1 if the actor cannot connect
        $TERM       send DISCONNECT, close, end the actor

    Commands. Every request becomes a store_op_t. PING is answered at
    once. REGISTER, LOGIN and PASSWD start in store_auth.c, which may hand
    the op to the Argon2id pool (store_server_hash) and, when the hash is
    done, queue it for writing. Every other command is queued at once.
    Queued ops run together in one LMDB write transaction, each in its own
    nested transaction (group commit): the transaction is committed, with
    sync, after every message that arrived together has been read, and
    only then do the replies go out. On MDB_MAP_FULL the map grows (up to
    map_max) and the whole group runs again; past map_max, an op that
    needs more room gets STORAGE_FULL and the others go on.
    =========================================================================
*/

#ifndef STORE_SERVER_H_INCLUDED
#define STORE_SERVER_H_INCLUDED

#include <czmq.h>
#include "zpost_msg.h"
#include "store_db.h"

#define STORE_SERVER_HEARTBEAT      1000    //  default msecs between heartbeats
#define STORE_SERVER_LIVENESS       3       //  silent intervals before reconnecting
#define STORE_SERVER_CAPACITY       1000    //  default requests in flight, sent in READY

typedef struct {
    store_db_t *db;             //  the environment; lent, must outlive the actor
    const char *endpoint;       //  the broker's back end
    const char *broker_key;     //  broker public key, Z85; required for tcp://
    zcert_t *cert;              //  our key pair for tcp://; copied; NULL otherwise
    const char *name;           //  store-name in READY, 1..64 visible ASCII
    uint32_t capacity;          //  capacity in READY; 0 = STORE_SERVER_CAPACITY
    int heartbeat;              //  msecs between heartbeats; 0 = default
    bool verbose;               //  log every message on the link
    size_t map_max;             //  bytes the map may grow to; 0 = no growth
    size_t body_limit;          //  most body bytes in a SEND; 0 = 1 MiB
    uint64_t quota;             //  most inbox bytes per user; 0 = 100 MiB
    int session_idle;           //  seconds a session lives unused; 0 = 1800
    int session_max;            //  seconds a session lives at most; 0 = 86400
    size_t hashers;             //  Argon2id threads; 0 = one less than cores
    unsigned long long pwhash_ops;  //  Argon2id passes; 0 = INTERACTIVE
    size_t pwhash_mem;          //  Argon2id bytes; 0 = INTERACTIVE
    bool no_group_commit;       //  commit after each request (for comparison)
} store_server_config_t;

#define STORE_BODY_LIMIT        (1024 * 1024)
#define STORE_QUOTA             (100ULL * 1024 * 1024)
#define STORE_SESSION_IDLE      1800
#define STORE_SESSION_MAX       86400
#define STORE_REPLY_KEEP        86400   //  seconds a recorded reply is kept

//  The actor's state, opaque; command handlers get it to reach the
//  database and to answer later.
typedef struct _store_server_t store_server_t;

//  One request on its way through the store. The server owns it until
//  its reply is sent.
typedef struct {
    uint64_t ticket;            //  the broker's number for the request
    zpost_msg_t *request;       //  the decoded request
    zpost_msg_t *reply;         //  set by whoever answers
    uint64_t now;               //  Unix seconds when it arrived
    char *hash;                 //  a password hash from the pool, or NULL
    void *state;                //  a handler's own data between steps
    void (*state_free) (void **state_p);    //  frees state, or NULL
} store_op_t;

//  A step that runs inside the group commit, in its own nested write
//  transaction. It must set op->reply (unless it returns an LMDB error),
//  and return 0 to keep what it wrote, STORE_ROLLBACK to undo it (the
//  reply still goes out), or an LMDB error code: MDB_MAP_FULL makes the
//  group grow the map and run again; any other code answers
//  INTERNAL_ERROR. A step can run more than once (after MDB_MAP_FULL), so
//  it must not change anything outside its transaction.
typedef int (store_write_fn) (store_server_t *server, MDB_txn *txn, store_op_t *op);
#define STORE_ROLLBACK      -30000  //  below LMDB's own codes

//  A command's first step, outside any transaction. It owns op and must
//  pass it on: store_server_answer, store_server_queue or store_server_hash.
typedef void (store_start_fn) (store_server_t *server, store_op_t *op);

//  What came back from the Argon2id pool for an op: ok is a match (verify)
//  or success (hash); new_hash is the caller's to free, or NULL.
typedef void (store_hashed_fn) (store_server_t *server, store_op_t *op, bool ok,
                                char *new_hash);

//  The actor. args is a store_server_config_t *.
void
    store_server (zsock_t *pipe, void *args);

//  For handlers: the database.
store_db_t *
    store_server_db (store_server_t *self);

//  For handlers: the configuration, with defaults filled in.
const store_server_config_t *
    store_server_config (store_server_t *self);

//  For handlers: the failed-login throttle.
struct _store_throttle_t *
    store_server_throttle (store_server_t *self);

//  Set op->reply, replacing any: the reply to op->request with this status,
//  reason (NULL: the status's standard one) and detail (NULL: none).
void
    store_op_reply (store_op_t *op, int status, const char *reason, const char *detail);

//  Send op->reply (it must be set) and destroy the op.
void
    store_server_answer (store_server_t *self, store_op_t **op_p);

//  Answer with an error and destroy the op. detail may be NULL.
void
    store_server_fail (store_server_t *self, store_op_t **op_p, int status,
                       const char *reason, const char *detail);

//  Queue the op for the next group commit, to run step there.
void
    store_server_queue (store_server_t *self, store_op_t **op_p, store_write_fn *step);

//  Hand the op to the Argon2id pool: hash password (stored_hash NULL) or
//  verify it against stored_hash. then runs on the server's loop with the
//  result. If the pool is overloaded the op is answered STORE_UNAVAILABLE.
void
    store_server_hash (store_server_t *self, store_op_t **op_p, const char *password,
                       const char *stored_hash, store_hashed_fn *then);

//  A hash of a random password, with the pool's limits, to verify against
//  when there is no user, so that it takes as long as when there is one.
const char *
    store_server_dummy_hash (store_server_t *self);

//  Group commits that wrote something, since the actor started.
uint64_t
    store_server_commits (store_server_t *self);

//  Selftest: a ROUTER in the test plays the broker.
void
    store_server_test (bool verbose);

#endif
