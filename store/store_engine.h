/*  =========================================================================
    store_engine - every request's way through the store, from one table

    The engine is the store's request flow. Each command is one row of a
    table (store_engine.c) built from the protocol's own command list
    (ZPOST_COMMANDS in zpost_commands.h), with the flags the spec gives it:
    needs a session, writes, keeps an idempotency record, has password
    steps. The engine does every shared check once, from those flags, and
    a command's rule (in store_auth.c or store_mail.c) holds only what is
    its own.

    A request goes through at most three steps:

        admit      outside any write: cheap checks that refuse at once
                   what can never succeed (a session that does not exist,
                   a body over the limit), so nothing doomed is buffered
                   for a commit; a command with password steps reads what
                   its hash work needs and goes to the Argon2id pool
        hash       on the pool's threads; the request rides with the job
        act        inside the group commit, in its own nested transaction:
                   the engine resolves the session, the user and any
                   recorded reply again, in the transaction that acts, and
                   re-checks what the earlier steps decided (the password
                   hash the password was checked against); only then does
                   the rule run

    A password check whose hash has changed since (a PASSWD, a rehash)
    is sent back to the pool against the new hash: what the act step
    trusts was decided in the same transaction, never in an older one.

    The rules see records through store_records.h and store_db.h only,
    never a back end's own calls.
    =========================================================================
*/

#ifndef STORE_ENGINE_H_INCLUDED
#define STORE_ENGINE_H_INCLUDED

#include <czmq.h>
#include "zpost_msg.h"
#include "store_db.h"
#include "store_records.h"
#include "store_config.h"

//  What a rule returns besides the store_rc_t codes: its reply is set
//  and what it wrote is to be undone (the reply still goes out).
#define STORE_UNDO          100
//  What the engine's own step returns when a password check is stale: the
//  request goes back to the pool, untouched.
#define STORE_RECHECK       101

typedef struct _store_engine_t store_engine_t;

//  One request on its way through the store. The engine owns it until
//  its reply is sent.
typedef struct {
    uint64_t origin;            //  the link it came on, as its owner tags it
    uint64_t ticket;            //  that link's broker's number for the request
    zpost_msg_t *request;       //  the decoded request
    zpost_msg_t *reply;         //  set by whoever answers
    uint64_t now;               //  Unix seconds when it arrived
    size_t size;                //  bytes it came in, for the group's cap
    //  Password steps
    char checked [STORE_HASH_SIZE];     //  the stored hash the password was
                                        //  checked against; "" if no user
    bool verified;              //  the password matched it
    char *new_hash;             //  from the pool: a hash to store, or NULL
    bool known_key;             //  LOGIN from a key the account knows
    bool hashing;               //  PASSWD: verified; now hashing the new one
    int rechecks;               //  times sent back because the hash changed
    char *key_jobs;             //  the client key holding a job slot, or NULL
    char *charged [2];          //  throttle keys charged for this attempt
                                //  until its password is checked, or NULL
    //  WATCH through the group (to write its session's last use): whose
    //  inbox it waits on once committed; "" otherwise
    char watcher [ZPOST_NAME_MAX + 1];
} store_op_t;

//  What a rule gets, inside the transaction that acts
typedef struct {
    store_engine_t *engine;     //  for the configuration and counters
    const store_config_t *config;   //  limits and policies
    store_txn_t *txn;           //  the nested transaction
    store_op_t *op;             //  the request; the rule sets op->reply
    store_session_t session;    //  the session, for commands that need one
    store_user_t user;          //  and its user, as of this transaction
    uint8_t digest [STORE_DIGEST_SIZE]; //  the session token's digest
} store_ctx_t;

//  A command's own rule. Returns STORE_OK to keep what it wrote (reply
//  set), STORE_UNDO to undo it (reply set), or a store_rc_t failure
//  (STORE_FULL makes the group grow the map and run again). A rule can
//  run more than once (after STORE_FULL), so it changes nothing outside
//  its transaction.
typedef int (store_rule_fn) (store_ctx_t *ctx);

//  Sends a finished op's reply; the engine's owner (the link) provides it.
//  origin and ticket are what store_engine_request was given: tickets of
//  different brokers may be equal, so the owner tells them apart by origin.
typedef void (store_send_fn) (void *arg, uint64_t origin, uint64_t ticket,
                              zpost_msg_t **reply_p);

//  Create the engine over db (lent; must outlive it). config is copied,
//  with defaults filled in by store_config_defaults.
store_engine_t *
    store_engine_new (const store_config_t *config, store_db_t *db,
                      store_send_fn *send, void *send_arg);

//  Destroy; requests in flight get no reply (the broker answers them 503
//  at their deadline, and clients retry).
void
    store_engine_destroy (store_engine_t **self_p);

//  Start the Argon2id pool. 0, or -1 if it cannot start (logged).
int
    store_engine_start (store_engine_t *self);

//  The pool's socket: readable when a password job is done; then call
//  store_engine_hashed.
zsock_t *
    store_engine_hasher_socket (store_engine_t *self);

//  A decoded request from a broker (client_key already set from the
//  link). Takes the request. origin is the caller's tag for the link it
//  came on, handed back with the reply; ticket is that broker's number.
//  size is its bytes on the wire.
void
    store_engine_request (store_engine_t *self, uint64_t origin, uint64_t ticket,
                          zpost_msg_t **request_p, size_t size);

//  Collect finished password jobs, and commit what they queued.
void
    store_engine_hashed (store_engine_t *self);

//  True when the group waiting to commit is at its cap of requests or
//  bytes: the caller stops reading and commits.
bool
    store_engine_group_full (store_engine_t *self);

//  Commit the group: every queued request runs, one commit with sync,
//  then the replies go out.
void
    store_engine_commit (store_engine_t *self);

//  Expire recorded replies and sessions past their time, a batch at a
//  time. Returns true if a batch was full (more may be waiting).
bool
    store_engine_sweep (store_engine_t *self);

//  WATCH (store_watch.h): answer the waits past their deadline, and on
//  LMDB check them all if another process has committed since; call
//  often (the store: every 25 ms).
void
    store_engine_watch_tick (store_engine_t *self);
//  Check the waits of user (NULL: all) again: another store's commit
//  named it (PostgreSQL's NOTIFY), or nothing can be heard (NULL).
void
    store_engine_watch_wake (store_engine_t *self, const char *user);
//  Forget, unanswered, the waits that came on link origin (reset).
void
    store_engine_watch_drop (store_engine_t *self, uint64_t origin);
//  WATCHes waiting
size_t
    store_engine_watching (store_engine_t *self);

//  For rules and STATS
const store_config_t *
    store_engine_config (store_engine_t *self);
store_db_t *
    store_engine_db (store_engine_t *self);
uint64_t
    store_engine_commits (store_engine_t *self);

//  The one reply for every reason a session is refused: the same bytes
//  whatever the cause, so a token's past is not told to whoever holds it.
void
    store_engine_not_logged_in (store_op_t *op);

//  A password command's work for the pool, filled in by its prepare step
typedef struct {
    const char *password;       //  the password to hash or verify
    const char *against;        //  the stored hash to verify it against, or
                                //  NULL to make a new hash of it
    const char *account;        //  the account whose throttle applies, or NULL
} store_pwjob_t;

//  A password command's step before the pool, in a read-only transaction
//  (ctx->session and ctx->user resolved if the command needs a session).
//  Sets op->reply to answer at once, or fills job and leaves it unset.
//  Returns STORE_OK or a failure.
typedef int (store_prepare_fn) (store_ctx_t *ctx, store_pwjob_t *job);

//  A password command's step after the pool: ok and new_hash (the
//  caller's to free, or NULL) as store_hasher gives them. Sets op->reply
//  to answer, or returns true with job filled to go to the pool again,
//  or false with no reply to go on to the group commit.
typedef bool (store_hashed_fn) (store_engine_t *engine, store_op_t *op, bool ok,
                                char *new_hash, store_pwjob_t *job);

//  For rules: the password was right; forgive the failure counted when
//  the attempt began, for the client key and, if given, the account.
void
    store_engine_password_ok (store_engine_t *self, store_op_t *op, const char *account);

//  For rules: a hash of a forgotten password, with the pool's limits, to
//  verify against when there is no user, so that it takes as long.
const char *
    store_engine_dummy_hash (store_engine_t *self);

//  Free an op and everything it holds (wiping any hash).
void
    store_op_destroy (store_op_t **op_p);

//  Set op->reply, replacing any: status, reason (NULL: the status's
//  standard one) and detail (NULL: none).
void
    store_op_reply (store_op_t *op, int status, const char *reason, const char *detail);

//  Selftest
void
    store_engine_test (bool verbose);

#endif
