/*  =========================================================================
    store_auth - accounts and sessions: REGISTER, LOGIN, LOGOUT, PASSWD

    Each password command runs in steps, so that no Argon2id computation
    holds up the store's loop:

        REGISTER  check (read) -> hash (pool) -> create user (group commit)
        LOGIN     throttle, look up (read) -> verify (pool) -> new session
        PASSWD    session, throttle (read) -> verify old -> hash new
                  -> store it and end the other sessions (group commit)

    A step that writes checks again what an earlier step checked, because
    other requests ran in between: two REGISTERs of one name both pass the
    first check, and the put with MDB_NOOVERWRITE decides which one wins.
    =========================================================================
*/

#include "store_auth.h"
#include "store_throttle.h"
#include <sodium.h>

#define S_TOKEN_BYTES       32      //  256 random bits
#define S_REGISTER_SCOPE    "register:"

//  --------------------------------------------------------------------------
//  Helpers

void
store_auth_user_scope (uint64_t user_id, uint8_t *scope)
{
    for (int index = 0; index < 8; index++)
        scope [index] = (uint8_t) (user_id >> (56 - 8 * index));
}

void
store_auth_request_digest (zpost_msg_t *request, uint8_t *digest)
{
    crypto_generichash_state state;
    crypto_generichash_init (&state, NULL, 0, STORE_REQUEST_DIGEST_SIZE);
    const char *command = zpost_msg_command_name (zpost_msg_command (request));
    crypto_generichash_update (&state, (const unsigned char *) command, strlen (command) + 1);
    for (int field = 0; field < ZPOST_F_COUNT; field++) {
        //  A password never goes into anything we keep, not even hashed
        if (field == ZPOST_F_PASSWORD || field == ZPOST_F_NEW_PASSWORD)
            continue;
        const char *value = zpost_msg_get (request, (zpost_field_t) field);
        if (value) {
            unsigned char tag = (unsigned char) field;
            crypto_generichash_update (&state, &tag, 1);
            crypto_generichash_update (&state, (const unsigned char *) value, strlen (value) + 1);
        }
    }
    //  A REGISTER retried from another key is someone else's: it must not
    //  be told "created" for an account it did not create
    if (zpost_msg_command (request) == ZPOST_CMD_REGISTER) {
        const char *key = zpost_msg_client_key (request);
        crypto_generichash_update (&state, (const unsigned char *) key, strlen (key));
    }
    crypto_generichash_final (&state, digest, STORE_REQUEST_DIGEST_SIZE);
}

int
store_auth_recorded (store_server_t *server, MDB_txn *txn, store_op_t *op,
                     const void *scope, size_t scope_size)
{
    uint8_t stored [STORE_REQUEST_DIGEST_SIZE];
    zpost_msg_t *reply;
    int rc = store_reply_get (store_server_db (server), txn, scope, scope_size,
                              zpost_msg_request_id (op->request), stored, &reply);
    if (rc)
        return rc;
    uint8_t digest [STORE_REQUEST_DIGEST_SIZE];
    store_auth_request_digest (op->request, digest);
    zpost_msg_destroy (&op->reply);
    if (memcmp (digest, stored, sizeof digest) == 0) {
        //  The same request again: the same answer, for this request's
        //  routing, since the broker's routing id changed with the retry
        op->reply = zpost_msg_new_reply (op->request, zpost_msg_status (reply),
                                         zpost_msg_reason (reply));
        if (zpost_msg_status (reply) == ZPOST_OK
        &&  zpost_msg_command (op->request) == ZPOST_CMD_SEND)
            zpost_msg_set (op->reply, ZPOST_F_MESSAGE_ID,
                           zpost_msg_get (reply, ZPOST_F_MESSAGE_ID));
    }
    else {
        op->reply = zpost_msg_new_reply (op->request, ZPOST_INVALID_VALUE,
            "This request id was already used for another request: use a new one");
        zpost_msg_set (op->reply, ZPOST_F_DETAIL, "request-id");
    }
    zpost_msg_destroy (&reply);
    return 0;
}

int
store_auth_record (store_server_t *server, MDB_txn *txn, store_op_t *op,
                   const void *scope, size_t scope_size)
{
    uint8_t digest [STORE_REQUEST_DIGEST_SIZE];
    store_auth_request_digest (op->request, digest);
    return store_reply_put (store_server_db (server), txn, scope, scope_size,
                            zpost_msg_request_id (op->request), digest, op->now,
                            op->reply);
}


//  The digest we keep for a token, from its hex text. -1 if it is not one.
static int
s_token_digest (const char *token, uint8_t *digest)
{
    uint8_t raw [S_TOKEN_BYTES];
    size_t size = 0;
    if (strlen (token) != S_TOKEN_BYTES * 2
    ||  sodium_hex2bin (raw, sizeof raw, token, strlen (token), NULL, &size, NULL)
    ||  size != sizeof raw)
        return -1;
    crypto_generichash (digest, STORE_DIGEST_SIZE, raw, sizeof raw, NULL, 0);
    sodium_memzero (raw, sizeof raw);
    return 0;
}

static int
s_session_check (store_server_t *server, MDB_txn *txn, store_op_t *op,
                 store_session_t *session, store_user_t *user, uint8_t *digest_out,
                 bool touch)
{
    const store_server_config_t *config = store_server_config (server);
    store_db_t *db = store_server_db (server);
    uint8_t digest [STORE_DIGEST_SIZE];
    if (s_token_digest (zpost_msg_token (op->request), digest)) {
        store_op_reply (op, ZPOST_NOT_LOGGED_IN, "Not logged in: log in first", NULL);
        return STORE_ROLLBACK;
    }
    int rc = store_session_get (db, txn, digest, session);
    if (rc == MDB_NOTFOUND
    ||  (rc == 0 && !streq (session->client_key, zpost_msg_client_key (op->request)))) {
        //  A token shown from another key is as good as no token: sessions
        //  are bound to the CURVE key that logged in
        store_op_reply (op, ZPOST_NOT_LOGGED_IN, NULL, NULL);
        return STORE_ROLLBACK;
    }
    if (rc)
        return rc;
    if (op->now > session->last_used + (uint64_t) config->session_idle
    ||  op->now > session->created + (uint64_t) config->session_max) {
        store_op_reply (op, ZPOST_NOT_LOGGED_IN,
                     "The session has expired: log in again", NULL);
        return STORE_ROLLBACK;
    }
    rc = store_user_get (db, txn, session->username, user);
    if (rc == MDB_NOTFOUND) {
        store_op_reply (op, ZPOST_NOT_LOGGED_IN, NULL, NULL);
        return STORE_ROLLBACK;
    }
    if (rc)
        return rc;
    //  Writing the last use on every request would cost a write for every
    //  LIST; once per a quarter of the idle time (at most a minute) is as
    //  good for expiry.
    uint64_t interval = (uint64_t) config->session_idle / 4;
    interval = interval > 60? 60: interval < 1? 1: interval;
    if (touch && op->now >= session->last_used + interval) {
        session->last_used = op->now;
        rc = store_session_put (db, txn, digest, session);
        if (rc)
            return rc;
    }
    if (digest_out)
        memcpy (digest_out, digest, STORE_DIGEST_SIZE);
    return 0;
}

int
store_auth_session (store_server_t *server, MDB_txn *txn, store_op_t *op,
                    store_session_t *session, store_user_t *user, uint8_t *digest)
{
    return s_session_check (server, txn, op, session, user, digest, true);
}

//  Run check in a read-only transaction of its own; returns what it does.
typedef int (s_read_fn) (store_server_t *server, MDB_txn *txn, store_op_t *op, void *arg);

static int
s_read (store_server_t *server, store_op_t *op, s_read_fn *check, void *arg)
{
    MDB_txn *txn;
    int rc = mdb_txn_begin (store_db_env (store_server_db (server)), NULL, MDB_RDONLY, &txn);
    if (rc == 0) {
        rc = check (server, txn, op, arg);
        mdb_txn_abort (txn);
    }
    return rc;
}

//  Answer an op whose step failed with an LMDB code (not STORE_ROLLBACK).
static void
s_fail_lmdb (store_server_t *server, store_op_t **op_p, int rc)
{
    zsys_error ("store_auth: %s: %s",
                zpost_msg_command_name (zpost_msg_command ((*op_p)->request)),
                mdb_strerror (rc));
    store_server_fail (server, op_p, ZPOST_INTERNAL_ERROR, NULL, NULL);
}

//  A password being set is at least ZPOST_PASSWORD_MIN bytes; if not, the
//  op's reply says so.
static bool
s_password_short (store_op_t *op, zpost_field_t field)
{
    const char *password = zpost_msg_get (op->request, field);
    if (strlen (password) >= ZPOST_PASSWORD_MIN)
        return false;
    char *reason = zsys_sprintf ("A password needs at least %d bytes", ZPOST_PASSWORD_MIN);
    store_op_reply (op, ZPOST_INVALID_VALUE, reason, zpost_msg_field_name (field));
    zstr_free (&reason);
    return true;
}

//  Throttle keys for a login attempt
static char *
s_key_throttle (store_op_t *op)
{
    return zsys_sprintf ("key:%s", zpost_msg_client_key (op->request));
}

static char *
s_user_throttle (const char *name)
{
    return zsys_sprintf ("user:%s", name);
}

//  Refuse an attempt if any of its throttle keys says wait. The account
//  key is skipped when account_key is NULL.
static bool
s_throttled (store_server_t *server, store_op_t **op_p, const char *account_key)
{
    store_throttle_t *throttle = store_server_throttle (server);
    int64_t now = zclock_mono ();
    char *client_key = s_key_throttle (*op_p);
    int64_t wait = store_throttle_wait_ms (throttle, client_key, now);
    zstr_free (&client_key);
    if (account_key) {
        int64_t account_wait = store_throttle_wait_ms (throttle, account_key, now);
        if (account_wait > wait)
            wait = account_wait;
    }
    if (wait == 0)
        return false;
    int64_t seconds = (wait + 999) / 1000;
    char *reason = zsys_sprintf ("Too many failed attempts: wait %" PRId64 " s before "
                                 "trying again", seconds);
    char *detail = zsys_sprintf ("%" PRId64, seconds);
    store_server_fail (server, op_p, ZPOST_THROTTLED, reason, detail);
    zstr_free (&reason);
    zstr_free (&detail);
    return true;
}

//  An attempt is counted as a failure when it is let through to the
//  hasher, and forgiven if the password turns out right. Counting only
//  after the verify would let a pipelined guesser queue hundreds of
//  attempts past the throttle before the first one failed.
//  An attempt from a key that skips the account's throttle (name NULL)
//  touches only the key's counter: the owner's logins neither charge the
//  account nor clear what an attacker has run up on it.
static void
s_count_attempt (store_server_t *server, store_op_t *op, const char *name, bool ok)
{
    store_throttle_t *throttle = store_server_throttle (server);
    int64_t now = zclock_mono ();
    char *client_key = s_key_throttle (op);
    char *account_key = name? s_user_throttle (name): NULL;
    if (ok) {
        store_throttle_success (throttle, client_key, now);
        if (account_key)
            store_throttle_success (throttle, account_key, now);
    }
    else {
        store_throttle_failure (throttle, client_key, now);
        if (account_key)
            store_throttle_failure (throttle, account_key, now);
    }
    zstr_free (&client_key);
    zstr_free (&account_key);
}

//  --------------------------------------------------------------------------
//  REGISTER

static int
s_register_write (store_server_t *server, MDB_txn *txn, store_op_t *op)
{
    store_db_t *db = store_server_db (server);
    const char *name = zpost_msg_get (op->request, ZPOST_F_USERNAME);
    char *scope = zsys_sprintf (S_REGISTER_SCOPE "%s", name);
    int rc = store_auth_recorded (server, txn, op, scope, strlen (scope));
    if (rc == 0)
        rc = STORE_ROLLBACK;
    else
    if (rc == MDB_NOTFOUND) {
        store_user_t user;
        memset (&user, 0, sizeof user);
        user.created = op->now;
        assert (op->hash && strlen (op->hash) < STORE_HASH_SIZE);
        strcpy (user.hash, op->hash);
        rc = store_counter_next (db, txn, "next-user-id", &user.id);
        if (rc == 0)
            rc = store_user_put (db, txn, name, &user, true);
        sodium_memzero (user.hash, sizeof user.hash);
        if (rc == MDB_KEYEXIST) {
            store_op_reply (op, ZPOST_NAME_TAKEN, NULL, NULL);
            rc = STORE_ROLLBACK;
        }
        if (rc == 0)
            rc = store_counter_add (db, txn, "users", 1);
        if (rc == 0) {
            store_op_reply (op, ZPOST_OK, NULL, NULL);
            rc = store_auth_record (server, txn, op, scope, strlen (scope));
        }
    }
    zstr_free (&scope);
    return rc;
}

static void
s_register_hashed (store_server_t *server, store_op_t *op, bool ok, char *new_hash)
{
    if (!ok || !new_hash) {
        zstr_free (&new_hash);
        store_server_fail (server, &op, ZPOST_INTERNAL_ERROR, NULL, NULL);
        return;
    }
    op->hash = new_hash;
    store_server_queue (server, &op, s_register_write);
}

static int
s_register_check (store_server_t *server, MDB_txn *txn, store_op_t *op, void *arg)
{
    (void) arg;
    const char *name = zpost_msg_get (op->request, ZPOST_F_USERNAME);
    char *scope = zsys_sprintf (S_REGISTER_SCOPE "%s", name);
    int rc = store_auth_recorded (server, txn, op, scope, strlen (scope));
    zstr_free (&scope);
    if (rc != MDB_NOTFOUND)
        return rc;              //  answered from the record, or failed
    if (s_password_short (op, ZPOST_F_PASSWORD))
        return 0;
    store_user_t user;
    rc = store_user_get (store_server_db (server), txn, name, &user);
    sodium_memzero (&user, sizeof user);
    if (rc == 0) {
        store_op_reply (op, ZPOST_NAME_TAKEN, NULL, NULL);
        return 0;
    }
    return rc;                  //  MDB_NOTFOUND: go on
}

void
store_auth_register (store_server_t *server, store_op_t *op)
{
    int rc = s_read (server, op, s_register_check, NULL);
    if (rc == 0)
        store_server_answer (server, &op);
    else
    if (rc == MDB_NOTFOUND)
        store_server_hash (server, &op, zpost_msg_get (op->request, ZPOST_F_PASSWORD),
                           NULL, s_register_hashed);
    else
        s_fail_lmdb (server, &op, rc);
}

//  --------------------------------------------------------------------------
//  LOGIN

static int
s_login_write (store_server_t *server, MDB_txn *txn, store_op_t *op)
{
    store_db_t *db = store_server_db (server);
    const store_server_config_t *config = store_server_config (server);
    const char *name = zpost_msg_get (op->request, ZPOST_F_USERNAME);
    store_user_t user;
    int rc = store_user_get (db, txn, name, &user);
    if (rc == MDB_NOTFOUND) {
        store_op_reply (op, ZPOST_LOGIN_FAILED, NULL, NULL);
        return STORE_ROLLBACK;
    }
    if (rc == 0 && op->hash && strlen (op->hash) < STORE_HASH_SIZE) {
        //  The pool's limits changed since this hash was made: keep the
        //  new one, made while the password was at hand
        memset (user.hash, 0, sizeof user.hash);
        strcpy (user.hash, op->hash);
        rc = store_user_put (db, txn, name, &user, false);
    }
    sodium_memzero (user.hash, sizeof user.hash);
    uint8_t raw [S_TOKEN_BYTES];
    char token [S_TOKEN_BYTES * 2 + 1];
    uint8_t digest [STORE_DIGEST_SIZE];
    randombytes_buf (raw, sizeof raw);
    sodium_bin2hex (token, sizeof token, raw, sizeof raw);
    crypto_generichash (digest, sizeof digest, raw, sizeof raw, NULL, 0);
    sodium_memzero (raw, sizeof raw);
    if (rc == 0) {
        store_session_t session;
        memset (&session, 0, sizeof session);
        session.user_id = user.id;
        strcpy (session.username, name);
        strcpy (session.client_key, zpost_msg_client_key (op->request));
        session.created = op->now;
        session.last_used = op->now;
        rc = store_session_put (db, txn, digest, &session);
    }
    if (rc == 0)
        rc = store_known_key_put (db, txn, user.id, zpost_msg_client_key (op->request));
    if (rc == 0) {
        store_op_reply (op, ZPOST_OK, NULL, NULL);
        zpost_msg_set (op->reply, ZPOST_F_TOKEN, token);
        zpost_msg_set_number (op->reply, ZPOST_F_EXPIRES, op->now + (uint64_t) config->session_max);
    }
    sodium_memzero (token, sizeof token);
    return rc;
}

static void
s_login_verified (store_server_t *server, store_op_t *op, bool ok, char *new_hash)
{
    //  op->state is set when the key is known to the account
    const char *name = op->state? NULL: zpost_msg_get (op->request, ZPOST_F_USERNAME);
    if (ok)
        s_count_attempt (server, op, name, true);
    else {
        //  The same reply, byte for byte, whether the user exists or not
        zstr_free (&new_hash);
        store_server_fail (server, &op, ZPOST_LOGIN_FAILED, NULL, NULL);
        return;
    }
    op->hash = new_hash;
    store_server_queue (server, &op, s_login_write);
}

typedef struct {
    char hash [STORE_HASH_SIZE];    //  the user's hash, or the dummy's
    bool exists;                    //  the user exists
    bool known_key;                 //  and has logged in from this key
} s_login_lookup_t;

static int
s_login_check (store_server_t *server, MDB_txn *txn, store_op_t *op, void *arg)
{
    s_login_lookup_t *lookup = (s_login_lookup_t *) arg;
    store_user_t user;
    store_db_t *db = store_server_db (server);
    int rc = store_user_get (db, txn, zpost_msg_get (op->request, ZPOST_F_USERNAME), &user);
    if (rc == 0) {
        lookup->exists = true;
        strcpy (lookup->hash, user.hash);
        rc = store_known_key_get (db, txn, user.id, zpost_msg_client_key (op->request));
        lookup->known_key = rc == 0;
        if (rc == MDB_NOTFOUND)
            rc = 0;
    }
    else
    if (rc == MDB_NOTFOUND)
        rc = 0;
    sodium_memzero (&user, sizeof user);
    return rc;
}

void
store_auth_login (store_server_t *server, store_op_t *op)
{
    s_login_lookup_t lookup;
    memset (&lookup, 0, sizeof lookup);
    int rc = s_read (server, op, s_login_check, &lookup);
    if (rc) {
        s_fail_lmdb (server, &op, rc);
        return;
    }
    //  A key that has logged in to this account before is its owner's, or
    //  was: it skips the account's throttle, so that an attacker who keeps
    //  failing cannot lock the owner out. Its own key throttle still holds.
    char *account_key = s_user_throttle (zpost_msg_get (op->request, ZPOST_F_USERNAME));
    bool throttled = s_throttled (server, &op, lookup.known_key? NULL: account_key);
    zstr_free (&account_key);
    if (throttled)
        return;
    //  An unknown user costs a verify too, against a hash of nothing, so
    //  the answer takes as long as for a wrong password
    const char *hash = lookup.exists? lookup.hash: store_server_dummy_hash (server);
    s_count_attempt (server, op, lookup.known_key? NULL:
                     zpost_msg_get (op->request, ZPOST_F_USERNAME), false);
    if (lookup.known_key)
        op->state = op;         //  any non-NULL mark; nothing to free
    store_server_hash (server, &op, zpost_msg_get (op->request, ZPOST_F_PASSWORD),
                       hash, s_login_verified);
    sodium_memzero (&lookup, sizeof lookup);
}

//  --------------------------------------------------------------------------
//  LOGOUT: ends the session named by the token, if it is this key's

int
store_auth_logout (store_server_t *server, MDB_txn *txn, store_op_t *op)
{
    uint8_t digest [STORE_DIGEST_SIZE];
    if (s_token_digest (zpost_msg_token (op->request), digest)) {
        store_op_reply (op, ZPOST_NOT_LOGGED_IN, "Not logged in: there is no session to end", NULL);
        return STORE_ROLLBACK;
    }
    store_session_t session;
    store_db_t *db = store_server_db (server);
    int rc = store_session_get (db, txn, digest, &session);
    if (rc == MDB_NOTFOUND) {
        //  Ended already (a retry, or an expiry sweep): the goal is met
        store_op_reply (op, ZPOST_OK, NULL, NULL);
        return STORE_ROLLBACK;
    }
    if (rc)
        return rc;
    if (!streq (session.client_key, zpost_msg_client_key (op->request))) {
        store_op_reply (op, ZPOST_NOT_LOGGED_IN, NULL, NULL);
        return STORE_ROLLBACK;
    }
    rc = store_session_delete (db, txn, digest);
    if (rc == 0)
        store_op_reply (op, ZPOST_OK, NULL, NULL);
    return rc;
}

//  --------------------------------------------------------------------------
//  PASSWD

static int
s_passwd_write (store_server_t *server, MDB_txn *txn, store_op_t *op)
{
    store_session_t session;
    store_user_t user;
    uint8_t digest [STORE_DIGEST_SIZE];
    int rc = store_auth_session (server, txn, op, &session, &user, digest);
    if (rc)
        return rc;
    uint8_t scope [8];
    store_auth_user_scope (user.id, scope);
    rc = store_auth_recorded (server, txn, op, scope, sizeof scope);
    if (rc != MDB_NOTFOUND) {
        sodium_memzero (&user, sizeof user);
        return rc;
    }
    store_db_t *db = store_server_db (server);
    memset (user.hash, 0, sizeof user.hash);
    assert (op->hash && strlen (op->hash) < STORE_HASH_SIZE);
    strcpy (user.hash, op->hash);
    rc = store_user_put (db, txn, session.username, &user, false);
    sodium_memzero (&user, sizeof user);
    size_t ended = 0;
    if (rc == 0)
        rc = store_session_delete_all (db, txn, session.user_id, digest, &ended);
    if (rc == 0) {
        char *reason = zsys_sprintf ("Password changed; %zu other session%s ended",
                                     ended, ended == 1? "": "s");
        store_op_reply (op, ZPOST_OK, reason, NULL);
        zstr_free (&reason);
        rc = store_auth_record (server, txn, op, scope, sizeof scope);
    }
    return rc;
}

static void
s_passwd_hashed (store_server_t *server, store_op_t *op, bool ok, char *new_hash)
{
    if (!ok || !new_hash) {
        zstr_free (&new_hash);
        store_server_fail (server, &op, ZPOST_INTERNAL_ERROR, NULL, NULL);
        return;
    }
    op->hash = new_hash;
    store_server_queue (server, &op, s_passwd_write);
}

static void
s_passwd_verified (store_server_t *server, store_op_t *op, bool ok, char *new_hash)
{
    //  A rehash of the old password is of no use: it is being replaced
    if (new_hash) {
        sodium_memzero (new_hash, strlen (new_hash));
        zstr_free (&new_hash);
    }
    if (ok)
        s_count_attempt (server, op, NULL, true);
    else {
        store_server_fail (server, &op, ZPOST_LOGIN_FAILED,
                           "The current password is wrong: nothing was changed", NULL);
        return;
    }
    store_server_hash (server, &op, zpost_msg_get (op->request, ZPOST_F_NEW_PASSWORD),
                       NULL, s_passwd_hashed);
}

typedef struct {
    char hash [STORE_HASH_SIZE];    //  the user's current hash
} s_passwd_lookup_t;

static int
s_passwd_check (store_server_t *server, MDB_txn *txn, store_op_t *op, void *arg)
{
    s_passwd_lookup_t *lookup = (s_passwd_lookup_t *) arg;
    store_session_t session;
    store_user_t user;
    int rc = s_session_check (server, txn, op, &session, &user, NULL, false);
    if (rc == STORE_ROLLBACK)
        return 0;               //  op->reply says why
    if (rc)
        return rc;
    uint8_t scope [8];
    store_auth_user_scope (user.id, scope);
    rc = store_auth_recorded (server, txn, op, scope, sizeof scope);
    if (rc == MDB_NOTFOUND && s_password_short (op, ZPOST_F_NEW_PASSWORD))
        rc = 0;
    if (rc == MDB_NOTFOUND) {
        strcpy (lookup->hash, user.hash);
    }
    sodium_memzero (&user, sizeof user);
    return rc;
}

void
store_auth_passwd (store_server_t *server, store_op_t *op)
{
    s_passwd_lookup_t lookup;
    memset (&lookup, 0, sizeof lookup);
    int rc = s_read (server, op, s_passwd_check, &lookup);
    if (rc == 0)
        store_server_answer (server, &op);      //  not logged in, or a retry
    else
    if (rc == MDB_NOTFOUND) {
        //  Someone holding a stolen session must not get to guess the
        //  password at full speed either. The session's key has logged in
        //  to the account, so, as for LOGIN, only its own counter applies.
        if (!s_throttled (server, &op, NULL)) {
            s_count_attempt (server, op, NULL, false);
            store_server_hash (server, &op, zpost_msg_get (op->request, ZPOST_F_PASSWORD),
                               lookup.hash, s_passwd_verified);
        }
    }
    else
        s_fail_lmdb (server, &op, rc);
    sodium_memzero (&lookup, sizeof lookup);
}
