/*  =========================================================================
    store_auth - the rules of REGISTER, LOGIN, LOGOUT, PASSWD, UNREGISTER

    Passwords are Argon2id strings from crypto_pwhash_str, made on the
    pool's threads. A session is 256 random bits handed to the client as
    64 hex digits; the store keeps only their BLAKE2b-256 digest, with the
    user, the CURVE key the session is bound to, its creation and its last
    use. A client key that has logged in to an account before is "known"
    to it: its LOGINs skip the account's throttle and go ahead of
    strangers' password work, so an attacker cannot lock the owner out.
    =========================================================================
*/

#include "store_auth.h"
#include "zpost_status.h"
#include <sodium.h>

#define S_TOKEN_BYTES       32      //  256 random bits

//  A password being set is at least ZPOST_PASSWORD_MIN bytes; if not, the
//  op's reply says so
static bool
s_password_short (store_op_t *op, zpost_field_t field)
{
    if (strlen (zpost_msg_get (op->request, field)) >= ZPOST_PASSWORD_MIN)
        return false;
    char *reason = zsys_sprintf ("A password needs at least %d bytes", ZPOST_PASSWORD_MIN);
    store_op_reply (op, ZPOST_INVALID_VALUE, reason, zpost_msg_field_name (field));
    zstr_free (&reason);
    return true;
}

static void
s_forget (char **hash_p)
{
    if (*hash_p) {
        sodium_memzero (*hash_p, strlen (*hash_p));
        zstr_free (hash_p);
    }
}

//  A new password's hash from the pool becomes the op's, to be stored by
//  its rule; a failed hash (out of memory) answers 500
static void
s_take_new_hash (store_op_t *op, bool ok, char *new_hash)
{
    if (!ok || !new_hash || strlen (new_hash) >= STORE_HASH_SIZE) {
        s_forget (&new_hash);
        store_op_reply (op, ZPOST_INTERNAL_ERROR, NULL, NULL);
    }
    else
        op->new_hash = new_hash;
}

//  --------------------------------------------------------------------------
//  REGISTER

int
store_prepare_register (store_ctx_t *ctx, store_pwjob_t *job)
{
    store_op_t *op = ctx->op;
    if (s_password_short (op, ZPOST_F_PASSWORD))
        return STORE_OK;
    store_user_t user;
    int rc = store_user_get (ctx->txn, zpost_msg_get (op->request, ZPOST_F_USERNAME), &user);
    sodium_memzero (&user, sizeof user);
    if (rc == STORE_OK) {
        store_op_reply (op, ZPOST_NAME_TAKEN, NULL, NULL);
        return STORE_OK;
    }
    if (rc != STORE_NOTFOUND)
        return rc;
    job->password = zpost_msg_get (op->request, ZPOST_F_PASSWORD);
    return STORE_OK;
}

bool
store_hashed_register (store_engine_t *engine, store_op_t *op, bool ok,
                       char *new_hash, store_pwjob_t *job)
{
    (void) engine;
    (void) job;
    s_take_new_hash (op, ok, new_hash);
    return false;
}

int
store_rule_register (store_ctx_t *ctx)
{
    store_op_t *op = ctx->op;
    store_user_t user;
    memset (&user, 0, sizeof user);
    user.created = op->now;
    strcpy (user.hash, op->new_hash);
    int rc = store_counter_next (ctx->txn, "next-user-id", &user.id);
    if (rc == STORE_OK)
        rc = store_user_put (ctx->txn, zpost_msg_get (op->request, ZPOST_F_USERNAME),
                             &user, true);
    sodium_memzero (&user, sizeof user);
    if (rc == STORE_EXISTS) {
        //  Another REGISTER of the name won since prepare looked
        store_op_reply (op, ZPOST_NAME_TAKEN, NULL, NULL);
        return STORE_UNDO;
    }
    if (rc == STORE_OK)
        rc = store_counter_add (ctx->txn, "users", 1);
    if (rc == STORE_OK)
        store_op_reply (op, ZPOST_OK, NULL, NULL);
    return rc;
}

//  --------------------------------------------------------------------------
//  LOGIN

int
store_prepare_login (store_ctx_t *ctx, store_pwjob_t *job)
{
    store_op_t *op = ctx->op;
    const char *name = zpost_msg_get (op->request, ZPOST_F_USERNAME);
    store_user_t user;
    int rc = store_user_get (ctx->txn, name, &user);
    if (rc == STORE_OK) {
        memcpy (op->checked, user.hash, STORE_HASH_SIZE);
        rc = store_known_key_get (ctx->txn, user.id, zpost_msg_client_key (op->request));
        op->known_key = rc == STORE_OK;
        if (rc == STORE_NOTFOUND)
            rc = STORE_OK;
        job->against = op->checked;
    }
    else
    if (rc == STORE_NOTFOUND) {
        //  An unknown user costs a verify too, against a hash of nothing,
        //  so the answer takes as long as for a wrong password
        op->checked [0] = 0;
        job->against = store_engine_dummy_hash (ctx->engine);
        rc = STORE_OK;
    }
    sodium_memzero (&user, sizeof user);
    job->password = zpost_msg_get (op->request, ZPOST_F_PASSWORD);
    job->account = op->known_key? NULL: name;
    return rc;
}

bool
store_hashed_login (store_engine_t *engine, store_op_t *op, bool ok,
                    char *new_hash, store_pwjob_t *job)
{
    (void) job;
    if (!ok) {
        //  The same reply, byte for byte, whether the user exists or not
        s_forget (&new_hash);
        store_op_reply (op, ZPOST_LOGIN_FAILED, NULL, NULL);
        return false;
    }
    store_engine_password_ok (engine, op, op->known_key? NULL:
                              zpost_msg_get (op->request, ZPOST_F_USERNAME));
    op->verified = true;
    if (new_hash && strlen (new_hash) >= STORE_HASH_SIZE)
        s_forget (&new_hash);
    op->new_hash = new_hash;
    return false;
}

int
store_rule_login (store_ctx_t *ctx)
{
    store_op_t *op = ctx->op;
    const char *name = zpost_msg_get (op->request, ZPOST_F_USERNAME);
    int rc = STORE_OK;
    if (op->new_hash) {
        //  The pool's limits changed since this hash was made: keep the
        //  new one, made while the password was at hand; the engine has
        //  checked that the old one is still the account's
        memset (ctx->user.hash, 0, sizeof ctx->user.hash);
        strcpy (ctx->user.hash, op->new_hash);
        rc = store_user_put (ctx->txn, name, &ctx->user, false);
    }
    uint8_t raw [S_TOKEN_BYTES];
    char token [S_TOKEN_BYTES * 2 + 1];
    uint8_t digest [STORE_DIGEST_SIZE];
    randombytes_buf (raw, sizeof raw);
    sodium_bin2hex (token, sizeof token, raw, sizeof raw);
    crypto_generichash (digest, sizeof digest, raw, sizeof raw, NULL, 0);
    sodium_memzero (raw, sizeof raw);
    if (rc == STORE_OK) {
        store_session_t session;
        memset (&session, 0, sizeof session);
        session.user_id = ctx->user.id;
        strcpy (session.username, name);
        strcpy (session.client_key, zpost_msg_client_key (op->request));
        session.created = op->now;
        session.last_used = op->now;
        rc = store_session_put (ctx->txn, digest, &session);
    }
    if (rc == STORE_OK)
        rc = store_known_key_put (ctx->txn, ctx->user.id, zpost_msg_client_key (op->request));
    if (rc == STORE_OK) {
        store_op_reply (op, ZPOST_OK, NULL, NULL);
        zpost_msg_set (op->reply, ZPOST_F_TOKEN, token);
        zpost_msg_set_number (op->reply, ZPOST_F_EXPIRES,
                              op->now + (uint64_t) ctx->config->session_max);
    }
    sodium_memzero (token, sizeof token);
    return rc;
}

//  --------------------------------------------------------------------------
//  LOGOUT: the engine found the session, live and this key's

int
store_rule_logout (store_ctx_t *ctx)
{
    int rc = store_session_delete (ctx->txn, ctx->digest);
    if (rc == STORE_OK)
        store_op_reply (ctx->op, ZPOST_OK, NULL, NULL);
    return rc;
}

//  --------------------------------------------------------------------------
//  PASSWD

int
store_prepare_passwd (store_ctx_t *ctx, store_pwjob_t *job)
{
    store_op_t *op = ctx->op;
    if (s_password_short (op, ZPOST_F_NEW_PASSWORD))
        return STORE_OK;
    memcpy (op->checked, ctx->user.hash, STORE_HASH_SIZE);
    //  The session's key has logged in to the account: as for LOGIN, only
    //  its own throttle applies, and its work goes ahead of strangers'
    op->known_key = true;
    job->password = zpost_msg_get (op->request, ZPOST_F_PASSWORD);
    job->against = op->checked;
    job->account = NULL;
    return STORE_OK;
}

bool
store_hashed_passwd (store_engine_t *engine, store_op_t *op, bool ok,
                     char *new_hash, store_pwjob_t *job)
{
    if (!op->hashing) {
        //  A rehash of the old password is of no use: it is being replaced
        s_forget (&new_hash);
        if (!ok) {
            store_op_reply (op, ZPOST_LOGIN_FAILED,
                            "The current password is wrong: nothing was changed", NULL);
            return false;
        }
        store_engine_password_ok (engine, op, NULL);
        op->verified = true;
        op->hashing = true;
        job->password = zpost_msg_get (op->request, ZPOST_F_NEW_PASSWORD);
        job->against = NULL;
        return true;
    }
    s_take_new_hash (op, ok, new_hash);
    return false;
}

int
store_rule_passwd (store_ctx_t *ctx)
{
    store_op_t *op = ctx->op;
    memset (ctx->user.hash, 0, sizeof ctx->user.hash);
    strcpy (ctx->user.hash, op->new_hash);
    int rc = store_user_put (ctx->txn, ctx->session.username, &ctx->user, false);
    size_t ended = 0;
    if (rc == STORE_OK)
        rc = store_session_delete_all (ctx->txn, ctx->user.id, ctx->digest, &ended);
    if (rc == STORE_OK) {
        char *reason = zsys_sprintf ("Password changed; %zu other session%s ended",
                                     ended, ended == 1? "": "s");
        store_op_reply (op, ZPOST_OK, reason, NULL);
        zstr_free (&reason);
    }
    return rc;
}

//  --------------------------------------------------------------------------
//  UNREGISTER: the password, checked as PASSWD checks the current one,
//  then everything of the account goes in one transaction

int
store_prepare_unregister (store_ctx_t *ctx, store_pwjob_t *job)
{
    store_op_t *op = ctx->op;
    memcpy (op->checked, ctx->user.hash, STORE_HASH_SIZE);
    //  As for PASSWD: the session's key has logged in to the account, so
    //  only its own throttle applies
    op->known_key = true;
    job->password = zpost_msg_get (op->request, ZPOST_F_PASSWORD);
    job->against = op->checked;
    job->account = NULL;
    return STORE_OK;
}

bool
store_hashed_unregister (store_engine_t *engine, store_op_t *op, bool ok,
                         char *new_hash, store_pwjob_t *job)
{
    (void) job;
    s_forget (&new_hash);       //  a rehash of a password about to go
    if (!ok) {
        store_op_reply (op, ZPOST_LOGIN_FAILED,
                        "The password is wrong: the account was not deleted", NULL);
        return false;
    }
    store_engine_password_ok (engine, op, NULL);
    op->verified = true;
    return false;
}

//  Drop every entry of one folder; the server's counters follow the
//  messages freed. *freed counts them.
static int
s_empty_folder (store_ctx_t *ctx, store_folder_t folder, size_t *freed)
{
    uint64_t count = 0, bytes = 0;
    int rc = store_folder_empty (ctx->txn, ctx->user.id, folder, &count, &bytes);
    if (rc == STORE_OK && count) {
        *freed += count;
        rc = store_counter_add (ctx->txn, "messages", -(int64_t) count);
        if (rc == STORE_OK)
            rc = store_counter_add (ctx->txn, "bytes", -(int64_t) bytes);
    }
    return rc;
}

int
store_rule_unregister (store_ctx_t *ctx)
{
    store_op_t *op = ctx->op;
    size_t freed = 0, ended = 0;
    int rc = s_empty_folder (ctx, STORE_INBOX, &freed);
    if (rc == STORE_OK)
        rc = s_empty_folder (ctx, STORE_SENT, &freed);
    if (rc == STORE_OK)
        rc = store_session_delete_all (ctx->txn, ctx->user.id, NULL, &ended);
    if (rc == STORE_OK)
        rc = store_user_delete (ctx->txn, ctx->session.username, ctx->user.id);
    if (rc == STORE_OK)
        rc = store_counter_add (ctx->txn, "users", -1);
    if (rc == STORE_OK) {
        char *reason = zsys_sprintf ("Account deleted, with its %zu session%s; "
                                     "%zu message%s no one else held freed",
                                     ended, ended == 1? "": "s",
                                     freed, freed == 1? "": "s");
        store_op_reply (op, ZPOST_OK, reason, NULL);
        zstr_free (&reason);
    }
    return rc;
}
