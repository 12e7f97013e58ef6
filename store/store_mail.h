/*  =========================================================================
    store_mail - messages: SEND, LIST, READ, DELETE, STATS

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

    Every function here is a write step (store_write_fn) of the group
    commit.
    =========================================================================
*/

#ifndef STORE_MAIL_H_INCLUDED
#define STORE_MAIL_H_INCLUDED

#include "store_server.h"

int
    store_mail_send (store_server_t *server, MDB_txn *txn, store_op_t *op);
int
    store_mail_list (store_server_t *server, MDB_txn *txn, store_op_t *op);
int
    store_mail_read (store_server_t *server, MDB_txn *txn, store_op_t *op);
int
    store_mail_delete (store_server_t *server, MDB_txn *txn, store_op_t *op);
int
    store_mail_stats (store_server_t *server, MDB_txn *txn, store_op_t *op);

#endif
