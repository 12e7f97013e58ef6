/*  =========================================================================
    store_checks - the checks every command shares, in any transaction

    The session a token names, and the reply recorded for a request id:
    the engine makes these checks once at admission (read-only) and again
    in the transaction that acts, so both places call the same code.
    =========================================================================
*/

#include "store_checks.h"
#include "zpost_status.h"
#include <sodium.h>

//  --------------------------------------------------------------------------
//  Sessions: the one check, in whatever transaction it is given

//  The digest kept for a token, from its hex text. -1 if it is not one.
int
store_check_token_digest (const char *token, uint8_t *digest)
{
    uint8_t raw [32];
    size_t size = 0;
    if (strlen (token) != sizeof raw * 2
    ||  sodium_hex2bin (raw, sizeof raw, token, strlen (token), NULL, &size, NULL)
    ||  size != sizeof raw)
        return -1;
    crypto_generichash (digest, STORE_DIGEST_SIZE, raw, sizeof raw, NULL, 0);
    sodium_memzero (raw, sizeof raw);
    return 0;
}

//  Resolve the request's session into ctx. STORE_OK, STORE_UNDO with the
//  one 401 reply, or a failure. With touch, the last use is written now
//  and then (the caller keeps its transaction when this returns STORE_OK).
int
store_check_session (store_ctx_t *ctx, bool touch)
{
    store_op_t *op = ctx->op;
    const store_config_t *config = ctx->config;
    if (store_check_token_digest (zpost_msg_token (op->request), ctx->digest)) {
        store_engine_not_logged_in (op);
        return STORE_UNDO;
    }
    int rc = store_session_get (ctx->txn, ctx->digest, &ctx->session);
    if (rc == STORE_NOTFOUND
    ||  (rc == STORE_OK
    &&  (!streq (ctx->session.client_key, zpost_msg_client_key (op->request))
    ||   op->now > ctx->session.last_used + (uint64_t) config->session_idle
    ||   op->now > ctx->session.created + (uint64_t) config->session_max))) {
        //  Unknown, another key's, or expired: one answer for all
        store_engine_not_logged_in (op);
        return STORE_UNDO;
    }
    if (rc)
        return rc;
    rc = store_user_get (ctx->txn, ctx->session.username, &ctx->user);
    if (rc == STORE_NOTFOUND || (rc == STORE_OK && ctx->user.id != ctx->session.user_id)) {
        store_engine_not_logged_in (op);
        return STORE_UNDO;
    }
    if (rc)
        return rc;
    //  Writing the last use on every request would cost a write for every
    //  LIST; once per a quarter of the idle time (at most a minute) is as
    //  good for expiry
    uint64_t interval = (uint64_t) config->session_idle / 4;
    interval = interval > 60? 60: interval < 1? 1: interval;
    if (touch && op->now >= ctx->session.last_used + interval) {
        ctx->session.last_used = op->now;
        rc = store_session_put (ctx->txn, ctx->digest, &ctx->session);
    }
    return rc;
}


//  --------------------------------------------------------------------------
//  Recorded replies

//  The scope of a request's record: the user, or for REGISTER the name
static size_t
s_scope (store_ctx_t *ctx, uint8_t *scope, size_t max)
{
    if (zpost_msg_command (ctx->op->request) == ZPOST_CMD_REGISTER) {
        int size = snprintf ((char *) scope, max, "register:%s",
                             zpost_msg_get (ctx->op->request, ZPOST_F_USERNAME));
        assert (size > 0 && (size_t) size < max);
        return (size_t) size;
    }
    for (int index = 0; index < 8; index++)
        scope [index] = (uint8_t) (ctx->user.id >> (56 - 8 * index));
    return 8;
}

//  The digest of a request's content, leaving out passwords, for telling
//  a retry (same content) from a reused request id (other content)
static void
s_request_digest (zpost_msg_t *request, uint8_t *digest)
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

//  STORE_OK with op->reply set from the record (or a 422 for a reused
//  request id), STORE_NOTFOUND, or a failure
int
store_check_recorded (store_ctx_t *ctx)
{
    store_op_t *op = ctx->op;
    uint8_t scope [64];
    size_t scope_size = s_scope (ctx, scope, sizeof scope);
    uint8_t stored [STORE_REQUEST_DIGEST_SIZE];
    zpost_msg_t *reply;
    int rc = store_reply_get (ctx->txn, scope, scope_size,
                              zpost_msg_request_id (op->request), stored, &reply);
    if (rc)
        return rc;
    uint8_t digest [STORE_REQUEST_DIGEST_SIZE];
    s_request_digest (op->request, digest);
    if (memcmp (digest, stored, sizeof digest) == 0) {
        //  The same request again: the same answer, for this request's
        //  routing, since the broker's routing id changed with the retry
        store_op_reply (op, zpost_msg_status (reply), zpost_msg_reason (reply), NULL);
        //  Every field it held (SEND: message-id; ANSWER: and thread-id)
        for (int field = 0; field < ZPOST_F_COUNT; field++) {
            const char *value = zpost_msg_get (reply, (zpost_field_t) field);
            if (value)
                zpost_msg_set (op->reply, (zpost_field_t) field, value);
        }
    }
    else
        store_op_reply (op, ZPOST_INVALID_VALUE,
                        "This request id was already used for another request: use a new one",
                        "request-id");
    zpost_msg_destroy (&reply);
    return STORE_OK;
}

int
store_check_record (store_ctx_t *ctx)
{
    uint8_t scope [64];
    size_t scope_size = s_scope (ctx, scope, sizeof scope);
    uint8_t digest [STORE_REQUEST_DIGEST_SIZE];
    s_request_digest (ctx->op->request, digest);
    return store_reply_put (ctx->txn, scope, scope_size,
                            zpost_msg_request_id (ctx->op->request), digest,
                            ctx->op->now, ctx->op->reply);
}
