/*  =========================================================================
    store_auth - accounts and sessions: REGISTER, LOGIN, LOGOUT, PASSWD

    Passwords are Argon2id strings from crypto_pwhash_str, computed on the
    store's hasher threads, never on its loop. A session is 256 random bits
    handed to the client as 64 hex digits; the store keeps only the
    BLAKE2b-256 digest of those bits, with the user, the CURVE key the
    session is bound to, its creation and its last use. Failed logins are
    throttled per client key and per account; the account throttle does
    not apply to a client key that has logged in to that account before,
    so an attacker hammering an account cannot lock its owner out.

    store_auth_session is the one check every command that needs a
    session makes.
    =========================================================================
*/

#ifndef STORE_AUTH_H_INCLUDED
#define STORE_AUTH_H_INCLUDED

#include "store_server.h"
#include "store_records.h"

//  Start steps (store_start_fn) and write steps (store_write_fn)
void
    store_auth_register (store_server_t *server, store_op_t *op);
void
    store_auth_login (store_server_t *server, store_op_t *op);
void
    store_auth_passwd (store_server_t *server, store_op_t *op);
int
    store_auth_logout (store_server_t *server, MDB_txn *txn, store_op_t *op);

//  Check the request's token in txn. Returns 0 with *session and *user
//  filled in (digest, if not NULL, gets the token's digest); or
//  STORE_ROLLBACK with op->reply set to NOT_LOGGED_IN; or an LMDB error.
//  Touches the session's last use now and then, so the step that called
//  it must keep its transaction when it returns 0.
int
    store_auth_session (store_server_t *server, MDB_txn *txn, store_op_t *op,
                        store_session_t *session, store_user_t *user, uint8_t *digest);

//  The digest of a request's content, leaving out passwords, for telling
//  a retry (same content) from a reused request id (other content).
void
    store_auth_request_digest (zpost_msg_t *request, uint8_t *digest);

//  Look for a reply recorded for this request in this scope: returns 0
//  with op->reply set (the recorded one, or INVALID_VALUE if the request
//  id was used for other content), MDB_NOTFOUND if there is none, or an
//  LMDB error.
int
    store_auth_recorded (store_server_t *server, MDB_txn *txn, store_op_t *op,
                         const void *scope, size_t scope_size);

//  Record op->reply for retries of this request. 0 or an LMDB error.
int
    store_auth_record (store_server_t *server, MDB_txn *txn, store_op_t *op,
                       const void *scope, size_t scope_size);

//  The 8-byte scope of a user's recorded replies.
void
    store_auth_user_scope (uint64_t user_id, uint8_t *scope);

#endif
