/*  =========================================================================
    store_backend - what the two storage back ends share, and no one else

    The engine sees store_db.h and store_records.h. Behind them are two
    back ends, chosen at run time when the database is opened:

        LMDB        store_db.c, store_records.c, store_messages.c
                    (store_lmdb.h): the default, one host
        PostgreSQL  store_pg.c, store_pg_records.c (store_pg.h), through
                    libpq: several store processes on several hosts

    Dispatch is one test per call: a transaction of the PostgreSQL back
    end carries its connection in `pg`, an LMDB one leaves it NULL, and
    each function of the interface, in the LMDB files, hands a PostgreSQL
    transaction to the store_pg_ function of the same name. The LMDB path
    pays one branch on a field it already reads, and nothing else.
    =========================================================================
*/

#ifndef STORE_BACKEND_H_INCLUDED
#define STORE_BACKEND_H_INCLUDED

#include "store_db.h"
#include "store_records.h"

typedef struct _store_pg_t store_pg_t;
struct MDB_txn;

//  A transaction of either back end: exactly one of handle and pg is set
struct _store_txn_t {
    store_db_t *db;             //  whose
    struct MDB_txn *handle;     //  LMDB: the transaction
    store_pg_t *pg;             //  PostgreSQL: the connection it runs on
    bool write;                 //  PostgreSQL: a write transaction
    bool nested;                //  PostgreSQL: a savepoint in its parent
};

//  The PostgreSQL connection behind a database, or NULL for LMDB
store_pg_t *
    store_db_pg (store_db_t *db);

#endif
