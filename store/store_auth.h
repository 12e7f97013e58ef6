/*  =========================================================================
    store_auth - the rules of REGISTER, LOGIN, LOGOUT, PASSWD, UNREGISTER

    Only what is each command's own: the engine (store_engine.h) has
    resolved the session, the recorded reply and the re-check of the
    password hash before a rule runs, and runs the pool in between.

        REGISTER  prepare: name free, password long enough -> hash it
                  -> rule: create the user (the put decides a race)
        LOGIN     prepare: the user's hash, or a dummy's -> verify
                  -> rule: keep a rehash, open a session
        LOGOUT    rule: end this session
        PASSWD    prepare: new password long enough -> verify the old
                  -> hash the new -> rule: store it, end other sessions
        UNREGISTER  prepare: the user's hash -> verify -> rule: empty
                  both folders (freeing what no one else holds), end
                  every session, delete the user
    =========================================================================
*/

#ifndef STORE_AUTH_H_INCLUDED
#define STORE_AUTH_H_INCLUDED

#include "store_engine.h"

int  store_rule_register (store_ctx_t *ctx);
int  store_prepare_register (store_ctx_t *ctx, store_pwjob_t *job);
bool store_hashed_register (store_engine_t *engine, store_op_t *op, bool ok,
                            char *new_hash, store_pwjob_t *job);

int  store_rule_login (store_ctx_t *ctx);
int  store_prepare_login (store_ctx_t *ctx, store_pwjob_t *job);
bool store_hashed_login (store_engine_t *engine, store_op_t *op, bool ok,
                         char *new_hash, store_pwjob_t *job);

int  store_rule_passwd (store_ctx_t *ctx);
int  store_prepare_passwd (store_ctx_t *ctx, store_pwjob_t *job);
bool store_hashed_passwd (store_engine_t *engine, store_op_t *op, bool ok,
                          char *new_hash, store_pwjob_t *job);

int  store_rule_unregister (store_ctx_t *ctx);
int  store_prepare_unregister (store_ctx_t *ctx, store_pwjob_t *job);
bool store_hashed_unregister (store_engine_t *engine, store_op_t *op, bool ok,
                              char *new_hash, store_pwjob_t *job);

int  store_rule_logout (store_ctx_t *ctx);

//  Commands without password steps have no prepare or hashed step; the
//  engine's table is built from the protocol's list by name, so the
//  names stand for NULL
#define store_prepare_logout    NULL
#define store_hashed_logout     NULL

#endif
