/*  =========================================================================
    store_mail - messages: SEND, ANSWER, LIST, THREAD, READ, DELETE, STATS, MARK,
    LOOKUP
    SEARCH

    A message is stored once and referenced from each recipient's inbox
    and from the sender's sent folder; it is freed when the last folder
    lets go of it. Each user record carries its folder counts and byte
    sums, updated in the same transaction as the folders, so STATS is one
    lookup and always matches what LIST would show.

    Quota: the body bytes in a user's inbox may not pass the store's quota.
    A SEND that would put any recipient over it stores nothing and answers
    QUOTA_EXCEEDED, naming the recipient. The sent folder does not count:
    a message is stored once, and a full sender must still be able to
    write to say so.

    Every function here is a rule (store_rule_fn) of the engine, run in
    the group commit once the engine has resolved the session (and, for
    SEND, found no recorded reply).
    =========================================================================
*/

#ifndef STORE_MAIL_H_INCLUDED
#define STORE_MAIL_H_INCLUDED

#include "store_engine.h"

int store_rule_send (store_ctx_t *ctx);
int store_rule_list (store_ctx_t *ctx);
int store_rule_read (store_ctx_t *ctx);
int store_rule_delete (store_ctx_t *ctx);
int store_rule_stats (store_ctx_t *ctx);
int store_rule_mark (store_ctx_t *ctx);
int store_rule_answer (store_ctx_t *ctx);
int store_rule_thread (store_ctx_t *ctx);
int store_rule_lookup (store_ctx_t *ctx);
int store_rule_search (store_ctx_t *ctx);

//  No password steps; PING is answered before any rule. The engine's
//  table is built from the protocol's list by name, so these names
//  stand for NULL.
#define store_rule_ping         NULL
#define store_prepare_ping      NULL
#define store_hashed_ping       NULL
#define store_prepare_send      NULL
#define store_hashed_send       NULL
#define store_prepare_list      NULL
#define store_hashed_list       NULL
#define store_prepare_read      NULL
#define store_hashed_read       NULL
#define store_prepare_delete    NULL
#define store_hashed_delete     NULL
#define store_prepare_stats     NULL
#define store_hashed_stats      NULL
#define store_prepare_mark      NULL
#define store_hashed_mark       NULL
#define store_prepare_answer    NULL
#define store_hashed_answer     NULL
#define store_prepare_thread    NULL
#define store_hashed_thread     NULL
#define store_prepare_lookup    NULL
#define store_hashed_lookup     NULL
#define store_prepare_search    NULL
#define store_hashed_search     NULL

#endif
