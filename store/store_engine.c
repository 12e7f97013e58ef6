/*  =========================================================================
    store_engine - every request's way through the store, from one table

    The table is the protocol's command list with this store's rule for
    each row; the flags come from the same definition as the codec's and
    the spec's tables. Everything a flag implies is done here, once:

        SESSION     resolve the token (admit: read-only; act: again, in
                    the transaction that acts, touching its last use)
        RECORDED    look up (and later record) the reply under the user's
                    scope and the request id, in the transaction that acts
        PASSWORD    the command's prepare step, the throttle, a job slot
                    for the client key, the pool, and in act the re-check
                    that the stored hash is still the one checked
        WRITES      the group commit (read-only commands run there too,
                    so they see what the group before them committed)

    WATCH is the one command that does not go to the group: it reads its
    user's inbox at once, outside any write, and either answers or waits
    in the watch table (store_watch). Whatever can end a wait is noted as
    the group acts (the users whose inboxes its requests change), and
    after the commit those users' waits are checked again, before the
    next group is read; on PostgreSQL the same names go out as a NOTIFY
    inside the group's transaction, for the other stores.
    =========================================================================
*/

#include "store_engine.h"
#include "store_commit.h"
#include "store_checks.h"
#include "store_auth.h"
#include "store_mail.h"
#include "store_hasher.h"
#include "store_throttle.h"
#include "store_watch.h"
#include "zpost_status.h"
#include <sodium.h>
#include <time.h>
#include <inttypes.h>

//  A group holds at most this many requests and bytes: enough to share
//  one fsync among every client of a busy broker, few enough that one
//  commit keeps the loop (and its heartbeats) waiting a bounded time
#define S_GROUP_MAX         512
#define S_GROUP_BYTES       (8 * 1024 * 1024)
#define S_GROUP_MSECS       50

//  Each sweep, on the timer, removes at most this many of each record;
//  each commit also removes twice as many as it wrote, so expiry keeps
//  pace with any write rate
#define S_SWEEP_BATCH       2000
#define S_SWEEP_PER_WRITE   2
#define S_SWEEP_MIN         64

//  A password check found stale this many times in a row gives up: the
//  account's password is changing faster than it can be checked
#define S_RECHECKS_MAX      3

typedef struct {
    store_rule_fn *rule;        //  acts, in the group commit
    store_prepare_fn *prepare;  //  password commands: before the pool
    store_hashed_fn *hashed;    //  password commands: after the pool
} s_command_t;

//  The store's command table: one row per command of the protocol's own
//  list, in its order. PING never reaches a rule: it is answered at once.
static const s_command_t s_commands [ZPOST_CMD_COUNT] = {
#define S_ROW(id, lower, ...) [ZPOST_CMD_##id] = { store_rule_##lower, \
    store_prepare_##lower, store_hashed_##lower },
    ZPOST_COMMANDS (S_ROW)
#undef S_ROW
};

struct _store_engine_t {
    store_config_t config;      //  limits and policies, defaults filled in
    store_db_t *db;             //  lent
    store_send_fn *send;        //  sends a reply on the link
    void *send_arg;             //  its argument
    store_group_t *group;       //  waiting for the next commit
    store_hasher_t *hasher;     //  the Argon2id pool
    store_throttle_t *throttle; //  failed password attempts
    zhashx_t *key_jobs;         //  client key (string) -> jobs queued (uintptr_t)
    uint64_t commits;           //  commits that reached the disk
    store_watch_t *watch;       //  WATCHes waiting
    zhashx_t *touched;          //  names whose inbox the group changes
    uint64_t generation;        //  LMDB: the environment's last transaction
                                //  as the waits were last checked against
    uint64_t own_txn;           //  LMDB: the group's write transaction's id
    uint8_t session_resume [STORE_DIGEST_SIZE];     //  where the session sweep goes on
};


//  --------------------------------------------------------------------------
//  Ops

void
store_op_destroy (store_op_t **op_p)
{
    assert (op_p);
    if (*op_p) {
        store_op_t *op = *op_p;
        zpost_msg_destroy (&op->request);
        zpost_msg_destroy (&op->reply);
        if (op->new_hash) {
            sodium_memzero (op->new_hash, strlen (op->new_hash));
            zstr_free (&op->new_hash);
        }
        sodium_memzero (op->checked, sizeof op->checked);
        zstr_free (&op->key_jobs);
        zstr_free (&op->charged [0]);
        zstr_free (&op->charged [1]);
        free (op);
        *op_p = NULL;
    }
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
store_engine_not_logged_in (store_op_t *op)
{
    store_op_reply (op, ZPOST_NOT_LOGGED_IN, NULL, NULL);
}

//  Send the op's reply and destroy it
static void
s_answer (store_engine_t *self, store_op_t **op_p)
{
    store_op_t *op = *op_p;
    assert (op->reply);
    self->send (self->send_arg, op->origin, op->ticket, &op->reply);
    store_op_destroy (op_p);
}

static void
s_fail (store_engine_t *self, store_op_t **op_p, int status, const char *reason,
        const char *detail)
{
    store_op_reply (*op_p, status, reason, detail);
    s_answer (self, op_p);
}


//  --------------------------------------------------------------------------
//  WATCH: the waits, and what ends them

//  Note the users whose inbox a request that succeeded has changed:
//  SEND's and ANSWER's recipients; the session user for READ, MARK,
//  DELETE and UNREGISTER. More than changed is fine (a check that finds
//  nothing new costs a read); fewer is not. On PostgreSQL the names go
//  to the other stores too, as a NOTIFY in the request's own nested
//  transaction: pipelined with its writes (no round trip of its own),
//  undone with them, and delivered only when the group commits.
static int
s_touch (store_engine_t *self, store_txn_t *txn, store_op_t *op, const char *session_user)
{
    zpost_command_t command = zpost_msg_command (op->request);
    const char *notify = NULL;
    if (command == ZPOST_CMD_SEND || command == ZPOST_CMD_ANSWER) {
        const char *names = zpost_msg_get (op->request, ZPOST_F_RECIPIENTS);
        notify = names;
        while (names && *names) {
            size_t size = strcspn (names, ",");
            char name [ZPOST_NAME_MAX + 1];
            if (size > 0 && size <= ZPOST_NAME_MAX) {
                memcpy (name, names, size);
                name [size] = 0;
                zhashx_update (self->touched, name, (void *) 1);
            }
            names += size + (names [size] == ',');
        }
    }
    else
    if ((command == ZPOST_CMD_READ || command == ZPOST_CMD_MARK
    ||   command == ZPOST_CMD_DELETE || command == ZPOST_CMD_UNREGISTER)
    &&  session_user && *session_user) {
        zhashx_update (self->touched, session_user, (void *) 1);
        notify = session_user;
    }
    return notify && *notify? store_notify_users (txn, notify): STORE_OK;
}

//  WATCH's reply: the inbox now
static void
s_watch_reply (store_op_t *op, uint64_t newest, uint64_t unread)
{
    uint64_t since = strtoull (zpost_msg_get (op->request, ZPOST_F_SINCE), NULL, 10);
    uint64_t known = strtoull (zpost_msg_get (op->request, ZPOST_F_UNREAD), NULL, 10);
    store_op_reply (op, ZPOST_OK, newest > since? "New mail"
                               : unread != known? "The inbox changed"
                               : "No change", NULL);
    zpost_msg_set_number (op->reply, ZPOST_F_MESSAGE_ID, newest);
    zpost_msg_set_number (op->reply, ZPOST_F_UNREAD, unread);
}

//  Has the inbox changed from what the request says it knew?
static bool
s_watch_changed (store_op_t *op, uint64_t newest, uint64_t unread)
{
    uint64_t since = strtoull (zpost_msg_get (op->request, ZPOST_F_SINCE), NULL, 10);
    uint64_t known = strtoull (zpost_msg_get (op->request, ZPOST_F_UNREAD), NULL, 10);
    return newest > since || unread != known;
}

//  Read user's inbox as WATCH sees it, in a read transaction of its own
static int
s_watch_state (store_engine_t *self, const char *user, uint64_t *newest, uint64_t *unread)
{
    store_txn_t *txn;
    int rc = store_txn_begin (self->db, NULL, false, &txn);
    if (rc == STORE_OK)
        rc = store_watch_state (txn, user, newest, unread);
    store_txn_abort (&txn);
    return rc;
}

//  A waiting WATCH, checked again: answered if its inbox has changed,
//  or its user has gone (401); else it goes on waiting. A database that
//  cannot be read now leaves it waiting: its deadline answers it.
static bool
s_watch_check (void *arg, store_op_t **op_p, const char *user)
{
    store_engine_t *self = (store_engine_t *) arg;
    uint64_t newest = 0, unread = 0;
    int rc = s_watch_state (self, user, &newest, &unread);
    if (rc == STORE_NOTFOUND) {
        store_engine_not_logged_in (*op_p);
        s_answer (self, op_p);
        return true;
    }
    if (rc || !s_watch_changed (*op_p, newest, unread))
        return false;
    s_watch_reply (*op_p, newest, unread);
    s_answer (self, op_p);
    return true;
}

//  Check the waits of every user the group noted, and forget the names
static void
s_watch_wake_touched (store_engine_t *self)
{
    if (zhashx_size (self->touched) == 0)
        return;
    if (store_watch_size (self->watch) > 0)
        for (void *item = zhashx_first (self->touched); item;
             item = zhashx_next (self->touched))
            store_watch_check (self->watch, (const char *) zhashx_cursor (self->touched),
                               s_watch_check, self);
    zhashx_purge (self->touched);
}

static void
    s_watch_park (store_engine_t *self, store_op_t **op_p, const char *user);
static void
    s_queue (store_engine_t *self, store_op_t **op_p);

//  A WATCH from a broker: answered now if its inbox already differs from
//  what it knew, or if it waits 0 s; else it waits (ZPOST.md, WATCH)
static void
s_watch_admit (store_engine_t *self, store_op_t **op_p)
{
    store_op_t *op = *op_p;
    store_ctx_t ctx = {
        .engine = self, .config = &self->config, .op = op
    };
    uint64_t newest = 0, unread = 0, last_used = 0;
    char user [ZPOST_NAME_MAX + 1] = "";
    int rc = store_txn_begin (self->db, NULL, false, &ctx.txn);
    if (rc == STORE_OK)
        rc = store_check_session (&ctx, false);
    if (rc == STORE_OK) {
        snprintf (user, sizeof user, "%s", ctx.session.username);
        last_used = ctx.session.last_used;
        rc = store_watch_state (ctx.txn, user, &newest, &unread);
    }
    store_txn_abort (&ctx.txn);
    sodium_memzero (&ctx.user, sizeof ctx.user);
    if (rc == STORE_UNDO) {
        s_answer (self, op_p);
        return;
    }
    if (rc == STORE_NOTFOUND) {
        store_engine_not_logged_in (op);
        s_answer (self, op_p);
        return;
    }
    if (rc == STORE_UNAVAILABLE) {
        s_fail (self, op_p, ZPOST_STORE_UNAVAILABLE,
                "The store's database is unavailable: try again", "1");
        return;
    }
    if (rc) {
        s_fail (self, op_p, ZPOST_INTERNAL_ERROR, NULL, NULL);
        return;
    }
    uint64_t timeout = strtoull (zpost_msg_get (op->request, ZPOST_F_TIMEOUT), NULL, 10);
    if (timeout == 0 || s_watch_changed (op, newest, unread)) {
        s_watch_reply (op, newest, unread);
        s_answer (self, op_p);
        return;
    }
    //  A wait is a use of the session, or `zpost watch` would see its
    //  session end idle while it watches. The last use is written as
    //  store_check_session writes it, at most once a quarter of the idle
    //  time (a minute at most): then the WATCH goes through the group,
    //  whose act step writes it, and is parked after the commit (s_done).
    uint64_t interval = (uint64_t) self->config.session_idle / 4;
    interval = interval > 60? 60: interval < 1? 1: interval;
    if (op->now >= last_used + interval) {
        snprintf (op->watcher, sizeof op->watcher, "%s", user);
        s_queue (self, op_p);
        return;
    }
    s_watch_park (self, op_p, user);
}

//  Let a WATCH wait, or answer why it cannot
static void
s_watch_park (store_engine_t *self, store_op_t **op_p, const char *user)
{
    store_op_t *op = *op_p;
    uint64_t timeout = strtoull (zpost_msg_get (op->request, ZPOST_F_TIMEOUT), NULL, 10);
    if (timeout > ZPOST_WATCH_TIMEOUT_MAX)
        timeout = ZPOST_WATCH_TIMEOUT_MAX;      //  the codec checked it
    int64_t deadline = zclock_mono () + (int64_t) timeout * 1000;
    int rc = store_watch_park (self->watch, op_p, user, deadline);
    if (rc == STORE_WATCH_USER_FULL) {
        char *reason = zsys_sprintf ("This account has %d requests waiting for new mail "
                                     "at this store already: wait for their answers",
                                     STORE_WATCH_USER_MAX);
        s_fail (self, op_p, ZPOST_THROTTLED, reason, "1");
        zstr_free (&reason);
    }
    else
    if (rc == STORE_WATCH_FULL)
        s_fail (self, op_p, ZPOST_STORE_UNAVAILABLE,
                "This store has as many requests waiting for new mail as it holds: "
                "try again", "1");
}

void
store_engine_watch_tick (store_engine_t *self)
{
    assert (self);
    if (store_watch_size (self->watch) == 0)
        return;
    //  Deadlines: the answer is the inbox as it is now, changed or not
    int64_t now = zclock_mono ();
    store_op_t *op;
    while ((op = store_watch_expired (self->watch, now))) {
        uint64_t newest = 0, unread = 0;
        char user [ZPOST_NAME_MAX + 1];
        //  The user is the session's, read when it began to wait; read
        //  again now: the session may have gone since, which is the next
        //  WATCH's 401 to say
        store_ctx_t ctx = {
            .engine = self, .config = &self->config, .op = op
        };
        int rc = store_txn_begin (self->db, NULL, false, &ctx.txn);
        if (rc == STORE_OK) {
            rc = store_check_session (&ctx, false);
            if (rc == STORE_OK) {
                snprintf (user, sizeof user, "%s", ctx.session.username);
                rc = store_watch_state (ctx.txn, user, &newest, &unread);
            }
        }
        store_txn_abort (&ctx.txn);
        sodium_memzero (&ctx.user, sizeof ctx.user);
        if (rc == STORE_UNDO)
            s_answer (self, &op);
        else
        if (rc == STORE_NOTFOUND) {
            store_engine_not_logged_in (op);
            s_answer (self, &op);
        }
        else
        if (rc)
            s_fail (self, &op, ZPOST_STORE_UNAVAILABLE,
                    "The store's database is unavailable: try again", "1");
        else {
            s_watch_reply (op, newest, unread);
            s_answer (self, &op);
        }
    }
    //  LMDB: another process on the environment has committed (on
    //  PostgreSQL the number moves only with this store's commits, whose
    //  waits are checked after each; the others' come as NOTIFY,
    //  store_engine_watch_wake)
    if (!store_db_conninfo (self->db) && store_watch_size (self->watch) > 0) {
        uint64_t generation = store_db_generation (self->db);
        if (generation != self->generation) {
            self->generation = generation;
            store_watch_check (self->watch, NULL, s_watch_check, self);
        }
    }
}

void
store_engine_watch_wake (store_engine_t *self, const char *user)
{
    assert (self);
    if (store_watch_size (self->watch) > 0)
        store_watch_check (self->watch, user, s_watch_check, self);
}

void
store_engine_watch_drop (store_engine_t *self, uint64_t origin)
{
    assert (self);
    store_watch_drop_origin (self->watch, origin);
}

size_t
store_engine_watching (store_engine_t *self)
{
    assert (self);
    return store_watch_size (self->watch);
}

//  Our own commits move LMDB's transaction id too: when the only commit
//  since the waits were last checked is our own (own, the id of our
//  write transaction, is the next after the one checked, and the last),
//  they need no check for other processes' commits. Anything else (a
//  commit that wrote nothing, another process's in between) leaves the
//  number to the next tick, which checks them all.
static void
s_generation_after (store_engine_t *self, uint64_t own)
{
    uint64_t after = store_db_generation (self->db);
    if (own && self->generation + 1 == own && after == own)
        self->generation = after;
}


//  --------------------------------------------------------------------------
//  Act: one request, inside its nested transaction of the group commit

static int
s_act (void *arg, store_txn_t *txn, store_op_t *op)
{
    store_engine_t *self = (store_engine_t *) arg;
    zpost_command_t command = zpost_msg_command (op->request);
    unsigned flags = zpost_command_flags (command);
    store_ctx_t ctx = {
        .engine = self, .config = &self->config, .txn = txn, .op = op
    };
    int rc = STORE_OK;
    if (flags & ZPOST_CMD_SESSION) {
        rc = store_check_session (&ctx, true);
        //  LOGOUT's goal is that the token no longer works for this key:
        //  a token that does not is already so (a token that is not one
        //  at all was refused at admission)
        if (rc == STORE_UNDO && command == ZPOST_CMD_LOGOUT)
            store_op_reply (op, ZPOST_OK, NULL, NULL);
        if (rc)
            goto done;
    }
    if (flags & ZPOST_CMD_RECORDED) {
        rc = store_check_recorded (&ctx);
        if (rc == STORE_OK)
            goto done;          //  a retry: the recorded answer, nothing new
        if (rc != STORE_NOTFOUND)
            goto done;
        rc = STORE_OK;
    }
    if ((flags & ZPOST_CMD_PASSWORD) && command != ZPOST_CMD_REGISTER) {
        //  The hash the password was checked against must still be the
        //  account's, in this transaction, or the check proves nothing
        const char *name = command == ZPOST_CMD_LOGIN
                         ? zpost_msg_get (op->request, ZPOST_F_USERNAME)
                         : ctx.session.username;
        rc = store_user_get (txn, name, &ctx.user);
        if (rc == STORE_NOTFOUND) {
            store_op_reply (op, ZPOST_LOGIN_FAILED, NULL, NULL);
            rc = STORE_UNDO;
            goto done;
        }
        if (rc)
            goto done;
        if (!op->verified || !streq (ctx.user.hash, op->checked)) {
            rc = STORE_RECHECK;
            goto done;
        }
    }
    rc = s_commands [command].rule (&ctx);
    if (rc == STORE_OK && (flags & ZPOST_CMD_RECORDED)
    &&  zpost_msg_status (op->reply) == ZPOST_OK)
        rc = store_check_record (&ctx);
    if (rc == STORE_OK && op->reply && zpost_msg_status (op->reply) == ZPOST_OK)
        rc = s_touch (self, txn, op, ctx.session.username);
done:
    sodium_memzero (&ctx.user, sizeof ctx.user);
    return rc;
}


//  --------------------------------------------------------------------------
//  After a commit, each request: answered, or back to the pool

static void
    s_to_pool (store_engine_t *self, store_op_t **op_p, bool again);
static void
    s_sweep_tail (void *arg, store_txn_t *txn, size_t kept);

static void
s_done (void *arg, store_op_t **op_p)
{
    store_engine_t *self = (store_engine_t *) arg;
    store_op_t *op = *op_p;
    //  A WATCH that went through the group to write its session's last
    //  use: it waits now, unless the inbox changed meanwhile (its rule's
    //  reply then stands)
    if (op->reply && zpost_msg_command (op->request) == ZPOST_CMD_WATCH
    &&  zpost_msg_status (op->reply) == ZPOST_OK && *op->watcher) {
        uint64_t newest = strtoull (zpost_msg_get (op->reply, ZPOST_F_MESSAGE_ID), NULL, 10);
        uint64_t unread = strtoull (zpost_msg_get (op->reply, ZPOST_F_UNREAD), NULL, 10);
        if (!s_watch_changed (op, newest, unread)) {
            char user [ZPOST_NAME_MAX + 1];
            snprintf (user, sizeof user, "%s", op->watcher);
            zpost_msg_destroy (&op->reply);
            s_watch_park (self, op_p, user);
            return;
        }
        s_watch_reply (op, newest, unread);
    }
    if (op->reply) {
        s_answer (self, op_p);
        return;
    }
    //  A stale password check: check again against the hash as it is now
    if (++op->rechecks > S_RECHECKS_MAX) {
        s_fail (self, op_p, ZPOST_STORE_UNAVAILABLE,
                "The password of this account is changing: try again in 1 s", "1");
        return;
    }
    op->verified = false;
    op->hashing = false;
    if (op->new_hash) {
        sodium_memzero (op->new_hash, strlen (op->new_hash));
        zstr_free (&op->new_hash);
    }
    s_to_pool (self, op_p, true);
}

void
store_engine_commit (store_engine_t *self)
{
    assert (self);
    self->own_txn = 0;
    if (store_group_commit (self->group, s_act, s_sweep_tail, s_done, self))
        self->commits++;
    s_generation_after (self, self->own_txn);
    s_watch_wake_touched (self);
}

bool
store_engine_group_full (store_engine_t *self)
{
    assert (self);
    return store_group_full (self->group);
}

static void
s_queue (store_engine_t *self, store_op_t **op_p)
{
    store_group_add (self->group, op_p);
    if (self->config.no_group_commit || store_group_full (self->group))
        store_engine_commit (self);
}


//  --------------------------------------------------------------------------
//  The pool: a job slot per client key, the throttle, the wait

//  The client key's count of jobs in the pool
static size_t
s_key_jobs (store_engine_t *self, const char *key)
{
    return (size_t) (uintptr_t) zhashx_lookup (self->key_jobs, key);
}

static void
s_key_jobs_add (store_engine_t *self, store_op_t *op)
{
    const char *key = zpost_msg_client_key (op->request);
    size_t count = s_key_jobs (self, key) + 1;
    zhashx_update (self->key_jobs, key, (void *) (uintptr_t) count);
    op->key_jobs = strdup (key);
    assert (op->key_jobs);
}

static void
s_key_jobs_release (store_engine_t *self, store_op_t *op)
{
    if (!op->key_jobs)
        return;
    size_t count = s_key_jobs (self, op->key_jobs);
    if (count <= 1)
        zhashx_delete (self->key_jobs, op->key_jobs);
    else
        zhashx_update (self->key_jobs, op->key_jobs, (void *) (uintptr_t) (count - 1));
    zstr_free (&op->key_jobs);
}

static char *
s_throttle_key (const char *kind, const char *name)
{
    return zsys_sprintf ("%s:%s", kind, name);
}

//  Refuse the attempt if a throttle says wait; otherwise count it as a
//  failure now (forgiven if the password is right), so that a pipelined
//  guesser cannot queue attempts past the throttle. The account's
//  throttle applies only when job->account is set. The throttle is the
//  database's where it keeps one (every store on it counts the same
//  failures), else this store's own. Returns true if the op is answered.
static bool
s_throttled (store_engine_t *self, store_op_t *op, const char *account)
{
    int64_t now = zclock_mono ();
    char *key = s_throttle_key ("key", zpost_msg_client_key (op->request));
    char *user = account? s_throttle_key ("user", account): NULL;
    //  This store's table first: in the shared case it caches the
    //  database's delays, so that a flood of attempts in a delay costs no
    //  round trip each
    int64_t wait = store_throttle_wait_ms (self->throttle, key, now);
    if (user) {
        int64_t account_wait = store_throttle_wait_ms (self->throttle, user, now);
        wait = account_wait > wait? account_wait: wait;
    }
    if (wait == 0 && store_db_throttle_shared (self->db)) {
        int64_t waits [2], delays [2];
        if (store_db_throttle_charge (self->db, key, user, self->config.throttle_delay,
                                      waits, delays) != STORE_OK) {
            //  No password is checked past a throttle that cannot be read
            store_op_reply (op, ZPOST_STORE_UNAVAILABLE,
                            "The store's database is unavailable: try again", "1");
            zstr_free (&key);
            zstr_free (&user);
            return true;
        }
        const char *keys [2] = { key, user };
        for (int index = 0; index < 2; index++) {
            int64_t hold = waits [index] > 0? waits [index]: delays [index];
            if (keys [index] && hold > 0)
                store_throttle_hold (self->throttle, keys [index], now, hold);
            wait = waits [index] > wait? waits [index]: wait;
        }
    }
    else
    if (wait == 0) {
        //  Charged now, as the hash starts, so that a burst cannot outrun
        //  its own failures; taken back if the check never runs
        store_throttle_failure (self->throttle, key, now);
        if (user)
            store_throttle_failure (self->throttle, user, now);
    }
    if (wait == 0) {
        zstr_free (&op->charged [0]);
        zstr_free (&op->charged [1]);
        op->charged [0] = key;
        op->charged [1] = user;
        key = NULL;
        user = NULL;
    }
    else {
        int64_t seconds = (wait + 999) / 1000;
        char *reason = zsys_sprintf ("Too many failed attempts: wait %" PRId64
                                     " s before trying again", seconds);
        char *detail = zsys_sprintf ("%" PRId64, seconds);
        store_op_reply (op, ZPOST_THROTTLED, reason, detail);
        zstr_free (&reason);
        zstr_free (&detail);
    }
    zstr_free (&key);
    zstr_free (&user);
    return wait != 0;
}

//  The attempt will not be checked after all: take back its charge
static void
s_refund (store_engine_t *self, store_op_t *op)
{
    if (!op->charged [0] && !op->charged [1])
        return;
    int64_t now = zclock_mono ();
    bool shared = store_db_throttle_shared (self->db);
    if (shared && store_db_throttle_refund (self->db, op->charged [0], op->charged [1],
                                            self->config.throttle_delay) != STORE_OK)
        zsys_warning ("store_engine: a throttle charge could not be taken back");
    for (int index = 0; index < 2; index++)
        if (op->charged [index]) {
            //  Shared: the cached delay may now be too long; the next
            //  attempt asks the database
            if (shared)
                store_throttle_success (self->throttle, op->charged [index], now);
            else
                store_throttle_refund (self->throttle, op->charged [index], now);
        }
    zstr_free (&op->charged [0]);
    zstr_free (&op->charged [1]);
}

void
store_engine_password_ok (store_engine_t *self, store_op_t *op, const char *account)
{
    int64_t now = zclock_mono ();
    char *key = s_throttle_key ("key", zpost_msg_client_key (op->request));
    char *user = account? s_throttle_key ("user", account): NULL;
    if (store_db_throttle_shared (self->db)
    &&  store_db_throttle_success (self->db, key, user) != STORE_OK)
        zsys_warning ("store_engine: a right password's throttle could not be reset");
    store_throttle_success (self->throttle, key, now);
    if (user)
        store_throttle_success (self->throttle, user, now);
    zstr_free (&key);
    zstr_free (&user);
}

//  Answer the store's own 503: the password work ahead would take wait
//  msecs, longer than a request may wait
static void
s_busy (store_engine_t *self, store_op_t **op_p, int64_t wait)
{
    s_refund (self, *op_p);
    int64_t seconds = wait < 1000? 1: (wait + 999) / 1000;
    char *reason = zsys_sprintf ("The store is busy checking passwords: try "
                                 "again in %" PRId64 " s", seconds);
    char *detail = zsys_sprintf ("%" PRId64, seconds);
    s_fail (self, op_p, ZPOST_STORE_UNAVAILABLE, reason, detail);
    zstr_free (&reason);
    zstr_free (&detail);
}

//  Hand a job to the pool, or answer why not
static void
s_submit (store_engine_t *self, store_op_t **op_p, store_pwjob_t *job)
{
    store_op_t *op = *op_p;
    bool urgent = op->known_key;
    if (!op->key_jobs) {
        if (s_key_jobs (self, zpost_msg_client_key (op->request)) >= STORE_KEY_JOBS_MAX) {
            s_refund (self, op);
            s_fail (self, op_p, ZPOST_THROTTLED,
                    "Too many password requests at once from this client: wait for "
                    "their answers", "1");
            return;
        }
        int64_t wait = store_hasher_wait_ms (self->hasher, urgent);
        if (wait > self->config.hash_wait_max) {
            s_busy (self, op_p, wait);
            return;
        }
        s_key_jobs_add (self, op);
    }
    int rc = job->against
           ? store_hasher_verify (self->hasher, op, urgent, job->against, job->password)
           : store_hasher_hash (self->hasher, op, urgent, job->password);
    if (rc) {
        s_key_jobs_release (self, op);
        s_refund (self, op);
        s_fail (self, op_p, ZPOST_INVALID_VALUE, NULL, "password");
        return;
    }
    *op_p = NULL;               //  the pool has it now
}

//  A password command's way to the pool: its prepare step in a read-only
//  transaction, the throttle (not on a re-check: that attempt was
//  counted), then the pool
static void
s_to_pool (store_engine_t *self, store_op_t **op_p, bool again)
{
    store_op_t *op = *op_p;
    zpost_command_t command = zpost_msg_command (op->request);
    store_ctx_t ctx = {
        .engine = self, .config = &self->config, .op = op
    };
    store_pwjob_t job = { NULL, NULL, NULL };
    int rc = store_txn_begin (self->db, NULL, false, &ctx.txn);
    if (rc == STORE_OK && (zpost_command_flags (command) & ZPOST_CMD_SESSION))
        rc = store_check_session (&ctx, false);
    if (rc == STORE_OK && (zpost_command_flags (command) & ZPOST_CMD_RECORDED)) {
        rc = store_check_recorded (&ctx);
        if (rc == STORE_NOTFOUND)
            rc = STORE_OK;
        else
        if (rc == STORE_OK)
            rc = STORE_UNDO;    //  answered from the record
    }
    if (rc == STORE_OK)
        rc = s_commands [command].prepare (&ctx, &job);
    //  On PostgreSQL the statements of a read-only transaction each see the
    //  latest commit, not one snapshot: a refusal the prepare step found
    //  (REGISTER: the name is taken) may be this very request's effect,
    //  committed by another store between the record's check above and the
    //  prepare's read (a retry through another broker). What the record
    //  says, if there is one now, wins. On LMDB the record is not there.
    if (rc == STORE_OK && op->reply
    &&  (zpost_command_flags (command) & ZPOST_CMD_RECORDED)) {
        int recorded = store_check_recorded (&ctx);
        if (recorded != STORE_OK && recorded != STORE_NOTFOUND)
            rc = recorded;
    }
    //  The job's strings point into the request or into op->checked,
    //  which outlive the transaction
    store_txn_abort (&ctx.txn);
    sodium_memzero (&ctx.user, sizeof ctx.user);
    if (rc == STORE_OK && !op->reply && !again && job.password
    &&  command != ZPOST_CMD_REGISTER && s_throttled (self, op, job.account))
        rc = STORE_UNDO;
    if (rc == STORE_OK && op->reply)
        rc = STORE_UNDO;
    if (rc == STORE_UNDO)
        s_answer (self, op_p);
    else
    if (rc == STORE_UNAVAILABLE)
        s_fail (self, op_p, ZPOST_STORE_UNAVAILABLE,
                "The store's database is unavailable: try again", "1");
    else
    if (rc == STORE_UNCONFIRMED)
        //  A replay whose own commit the standby did not confirm
        s_fail (self, op_p, ZPOST_STORE_UNAVAILABLE,
                "The store's standby database has not confirmed this request: "
                "send it again with the same request-id", "1");
    else
    if (rc)
        s_fail (self, op_p, ZPOST_INTERNAL_ERROR, NULL, NULL);
    else
        s_submit (self, op_p, &job);
}

void
store_engine_hashed (store_engine_t *self)
{
    assert (self);
    void *context;
    bool ok;
    char *new_hash;
    int rc;
    while ((rc = store_hasher_recv (self->hasher, &context, &ok, &new_hash)) >= 0) {
        store_op_t *op = (store_op_t *) context;
        s_key_jobs_release (self, op);
        if (rc == 1) {
            //  It waited longer than the broker would: refuse it now
            s_busy (self, &op, store_hasher_wait_ms (self->hasher, op->known_key));
            continue;
        }
        zpost_command_t command = zpost_msg_command (op->request);
        store_pwjob_t job = { NULL, NULL, NULL };
        bool again = s_commands [command].hashed (self, op, ok, new_hash, &job);
        if (op->reply)
            s_answer (self, &op);
        else
        if (again)
            s_submit (self, &op, &job);
        else
            store_group_add (self->group, &op);
    }
    store_engine_commit (self);
}

static void
s_context_free (void **context_p)
{
    store_op_destroy ((store_op_t **) context_p);
}


//  --------------------------------------------------------------------------
//  Admit: what can be refused at once is, before anything is buffered

//  Seconds since the epoch from the precise clock: glibc's time () reads the
//  coarse clock, which can lag a second boundary by a tick, so a message
//  could be dated a second before the client sent it.
static uint64_t
s_wall_seconds (void)
{
    return (uint64_t) (zclock_time () / 1000);
}

void
store_engine_request (store_engine_t *self, uint64_t origin, uint64_t ticket,
                      zpost_msg_t **request_p, size_t size)
{
    assert (self);
    assert (request_p && *request_p);
    store_op_t *op = (store_op_t *) zmalloc (sizeof (store_op_t));
    assert (op);
    op->origin = origin;
    op->ticket = ticket;
    op->request = *request_p;
    *request_p = NULL;
    op->now = s_wall_seconds ();
    op->size = size;
    zpost_command_t command = zpost_msg_command (op->request);
    unsigned flags = zpost_command_flags (command);

    if (command == ZPOST_CMD_WATCH) {
        s_watch_admit (self, &op);
        return;
    }
    if (command == ZPOST_CMD_PING) {
        //  Through the store, not touching the database: the benchmarks'
        //  baseline, and proof that the link works end to end
        store_op_reply (op, ZPOST_OK, NULL, NULL);
        zpost_msg_set (op->reply, ZPOST_F_SERVER_VERSION, "zpost " ZPOST_VERSION);
        zpost_msg_set (op->reply, ZPOST_F_ANSWERED_BY, "store");
        s_answer (self, &op);
        return;
    }
    if ((flags & ZPOST_CMD_SESSION) && !(flags & ZPOST_CMD_PASSWORD)) {
        //  A request without a live session goes no further than this
        //  read; LOGOUT only needs a token that could be one
        uint8_t digest [STORE_DIGEST_SIZE];
        if (command == ZPOST_CMD_LOGOUT) {
            if (store_check_token_digest (zpost_msg_token (op->request), digest)) {
                store_engine_not_logged_in (op);
                s_answer (self, &op);
                return;
            }
        }
        else {
            store_ctx_t ctx = {
                .engine = self, .config = &self->config, .op = op
            };
            int rc = store_txn_begin (self->db, NULL, false, &ctx.txn);
            if (rc == STORE_OK)
                rc = store_check_session (&ctx, false);
            store_txn_abort (&ctx.txn);
            sodium_memzero (&ctx.user, sizeof ctx.user);
            if (rc == STORE_UNDO) {
                s_answer (self, &op);
                return;
            }
            //  A failure here is left to the act step, which will meet
            //  it again and answer it
        }
    }
    if (command == ZPOST_CMD_SEND || command == ZPOST_CMD_ANSWER) {
        size_t body = strlen (zpost_msg_get (op->request, ZPOST_F_BODY));
        if (body > self->config.body_limit) {
            char *reason = zsys_sprintf ("The body is larger than this server's limit "
                                         "of %zu bytes", self->config.body_limit);
            s_fail (self, &op, ZPOST_TOO_LARGE, reason, "body");
            zstr_free (&reason);
            return;
        }
    }
    if (flags & ZPOST_CMD_PASSWORD)
        s_to_pool (self, &op, false);
    else
        s_queue (self, &op);
}


//  --------------------------------------------------------------------------
//  Sweeps: recorded replies and sessions past their time

//  Remove up to batch of each; returns true if a batch was full
static bool
s_sweep (store_engine_t *self, store_txn_t *txn, size_t batch)
{
    uint64_t now = s_wall_seconds ();
    size_t replies = 0, sessions = 0;
    bool keep_all = now <= self->config.reply_keep;
    store_sweep (txn, keep_all? 0: now - self->config.reply_keep, keep_all? 0: batch,
                 now, (uint64_t) self->config.session_idle,
                 (uint64_t) self->config.session_max, self->session_resume, batch,
                 &replies, &sessions);
    return replies == batch || sessions == batch;
}

static void
s_sweep_tail (void *arg, store_txn_t *txn, size_t kept)
{
    store_engine_t *self = (store_engine_t *) arg;
    self->own_txn = store_txn_id (txn);     //  the group's (a nested one's is its parent's)
    s_sweep (self, txn, kept * S_SWEEP_PER_WRITE + S_SWEEP_MIN);
}

bool
store_engine_sweep (store_engine_t *self)
{
    assert (self);
    store_txn_t *txn;
    if (store_txn_begin (self->db, NULL, true, &txn) != STORE_OK)
        return false;
    uint64_t own = store_txn_id (txn);
    bool more = s_sweep (self, txn, S_SWEEP_BATCH);
    int rc = store_txn_commit (&txn);
    s_generation_after (self, own);
    //  The database's throttle forgets on the same timer (after the
    //  commit: its statement runs outside any transaction)
    if (store_db_throttle_shared (self->db)
    &&  store_db_throttle_forget (self->db, STORE_THROTTLE_MAX_KEYS) != STORE_OK)
        zsys_warning ("store_engine: the throttle's old keys could not be forgotten");
    if (rc == STORE_DISK_FULL)
        zsys_warning ("store_engine: disk full: the sweep could not commit (%s); "
                      "it runs again later", store_db_disk_full_why (self->db));
    else
    if (rc != STORE_OK)
        zsys_warning ("store_engine: the sweep could not commit; it runs again later");
    return more;
}


//  --------------------------------------------------------------------------
//  Constructor, destructor, accessors

store_engine_t *
store_engine_new (const store_config_t *config, store_db_t *db, store_send_fn *send,
                  void *send_arg)
{
    assert (config);
    assert (db);
    assert (send);
    store_engine_t *self = (store_engine_t *) zmalloc (sizeof (store_engine_t));
    assert (self);
    self->config = *config;
    store_config_defaults (&self->config, store_db_map_size (db));
    self->db = db;
    self->send = send;
    self->send_arg = send_arg;
    self->group = store_group_new (db, self->config.map_max,
                                   self->config.no_group_commit? 1: S_GROUP_MAX,
                                   S_GROUP_BYTES, S_GROUP_MSECS);
    self->throttle = store_throttle_new ();
    assert (self->throttle);
    store_throttle_set_first_delay (self->throttle, self->config.throttle_delay);
    //  Keys are client keys, as C strings: zhashx's own default
    self->key_jobs = zhashx_new ();
    assert (self->key_jobs);
    self->watch = store_watch_new (self->config.watch_max? self->config.watch_max
                                                         : STORE_WATCH_MAX,
                                   STORE_WATCH_USER_MAX);
    self->touched = zhashx_new ();
    assert (self->touched);
    self->generation = store_db_generation (db);
    return self;
}

int
store_engine_start (store_engine_t *self)
{
    assert (self);
    self->hasher = store_hasher_new (self->config.hashers, self->config.pwhash_ops,
                                     self->config.pwhash_mem);
    if (!self->hasher) {
        zsys_error ("store_engine: cannot start the password hasher "
                    "(out of memory for %zu MiB per hash?)", self->config.pwhash_mem >> 20);
        return -1;
    }
    store_hasher_set_destructor (self->hasher, s_context_free);
    //  The estimate at admission can be wrong when the machine gets
    //  busier; a job that has waited this long is refused, not run
    store_hasher_set_max_wait (self->hasher, self->config.hash_wait_max);
    return 0;
}

void
store_engine_destroy (store_engine_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        store_engine_t *self = *self_p;
        store_hasher_destroy (&self->hasher);
        store_group_destroy (&self->group);
        store_watch_destroy (&self->watch);
        zhashx_destroy (&self->touched);
        store_throttle_destroy (&self->throttle);
        zhashx_destroy (&self->key_jobs);
        free (self);
        *self_p = NULL;
    }
}

zsock_t *
store_engine_hasher_socket (store_engine_t *self)
{
    assert (self && self->hasher);
    return store_hasher_socket (self->hasher);
}

const store_config_t *
store_engine_config (store_engine_t *self)
{
    assert (self);
    return &self->config;
}

store_db_t *
store_engine_db (store_engine_t *self)
{
    assert (self);
    return self->db;
}

uint64_t
store_engine_commits (store_engine_t *self)
{
    assert (self);
    return self->commits;
}

const char *
store_engine_dummy_hash (store_engine_t *self)
{
    assert (self && self->hasher);
    return store_hasher_dummy_hash (self->hasher);
}
