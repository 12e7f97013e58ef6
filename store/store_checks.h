/*  =========================================================================
    store_checks - the checks every command shares, in any transaction

    Each takes the context of the request (store_engine.h) and works in
    ctx->txn, whichever transaction that is: a read-only one at admission,
    or the nested write transaction that acts.
    =========================================================================
*/

#ifndef STORE_CHECKS_H_INCLUDED
#define STORE_CHECKS_H_INCLUDED

#include "store_engine.h"

//  The digest kept for a token, from its hex text. 0, or -1 if it is not
//  one.
int
    store_check_token_digest (const char *token, uint8_t *digest);

//  Resolve the request's session into ctx (session, user, digest).
//  STORE_OK; STORE_UNDO with the one 401 reply (unknown, another key's,
//  expired, or its user gone); or a failure. With touch, the session's
//  last use is written now and then, so the caller keeps its transaction
//  when this returns STORE_OK.
int
    store_check_session (store_ctx_t *ctx, bool touch);

//  Look up the reply recorded for this request id in the request's scope
//  (the user; for REGISTER the name). STORE_OK with op->reply set from the
//  record (or a 422 if the id was used for other content), STORE_NOTFOUND,
//  or a failure.
int
    store_check_recorded (store_ctx_t *ctx);

//  Record op->reply for retries of this request. STORE_OK or a failure.
int
    store_check_record (store_ctx_t *ctx);

#endif
