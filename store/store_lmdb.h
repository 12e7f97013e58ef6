/*  =========================================================================
    store_lmdb - what the LMDB back end's own files share, and no one else

    store_db.c (the environment, transactions) and store_records.c (the
    layout) are the LMDB back end. Nothing above them includes this
    header: the engine sees store_db.h and store_records.h only, so that
    another back end can stand in their place.
    =========================================================================
*/

#ifndef STORE_LMDB_H_INCLUDED
#define STORE_LMDB_H_INCLUDED

#include <lmdb.h>
#include "store_db.h"

//  The named databases. Add a table here and in s_tables in store_db.c.
typedef enum {
    STORE_DB_META = 0,          //  "meta": schema-version and server-wide counters
    STORE_DB_USERS,             //  username -> user record (store_records.h)
    STORE_DB_SESSIONS,          //  token digest -> session record
    STORE_DB_USER_SESSIONS,     //  user id + token digest -> "" (to end them all)
    STORE_DB_KNOWN_KEYS,        //  user id + client key -> "" (keys that logged in)
    STORE_DB_MESSAGES,          //  message id -> message record (immutable)
    STORE_DB_REFS,              //  message id -> folders that refer to it
    STORE_DB_FOLDERS,           //  user id + folder + message id -> seen flag
    STORE_DB_REPLIES,           //  scope + request id -> recorded reply
    STORE_DB_REPLY_TIMES,       //  time + scope + request id -> "" (for expiry)
    STORE_DB_THREADS,           //  thread id + message id -> "" (answers; schema 2)
    STORE_DB_SEARCH,            //  message id -> trigram signature (SEARCH; schema 3)
    STORE_DB_TABLES             //  one past the last
} store_db_table_t;

//  The environment. Stays owned by self.
MDB_env *
    store_db_env (store_db_t *self);

//  The handle of a named database, valid in any transaction.
MDB_dbi
    store_db_dbi (store_db_t *self, store_db_table_t table);

//  The LMDB transaction behind a store_txn_t.
MDB_txn *
    store_txn_lmdb (store_txn_t *txn);

//  An LMDB code as a store_rc_t; a code that means failure is logged
//  with what, so the words are not lost.
int
    store_lmdb_rc (int rc, const char *what);

//  Write the search signature of every message that has none (the
//  migration to schema 3; store_messages.c). 0 or an LMDB code.
int
    store_lmdb_search_index (store_txn_t *txn, size_t *written);

//  The transaction and table handles, for mdb_* calls
#define S_TXN(txn)          store_txn_lmdb (txn)
#define S_DBI(txn, table)   store_db_dbi (store_txn_db (txn), table)

//  Numbers in keys are big-endian, so LMDB's byte order is numeric order
static inline void
s_put_be64 (uint8_t *out, uint64_t value)
{
    for (int index = 0; index < 8; index++)
        out [index] = (uint8_t) (value >> (56 - 8 * index));
}

static inline uint64_t
s_get_be64 (const uint8_t *in)
{
    uint64_t value = 0;
    for (int index = 0; index < 8; index++)
        value = (value << 8) | in [index];
    return value;
}

static inline MDB_val
s_val (const void *data, size_t size)
{
    MDB_val value = { size, (void *) data };
    return value;
}


#endif
