/*  =========================================================================
    store_db - the store's LMDB environment: opened safely, or not at all

    One store_db_t is one open LMDB environment in a data directory:

        DIR/            (0700, created if missing)
            data.mdb    (0600) the B-trees
            lock.mdb    (0600) the reader table, shared by every process
                        that opens DIR

    Opening is where durability is decided, so store_db_new refuses to
    return an environment it cannot vouch for: the map size is set
    explicitly, stale reader slots left by dead processes are cleared
    (mdb_reader_check), and the environment flags are read back and must
    carry none of MDB_NOSYNC, MDB_NOMETASYNC, MDB_MAPASYNC, MDB_WRITEMAP or
    MDB_NOLOCK. A commit that returns 0 is then on disk.

    The environment is opened with MDB_NOTLS: a read-only transaction's
    reader slot belongs to the MDB_txn, not to the thread that began it.
    The store may then keep several read snapshots open in one thread (a
    paged LIST while a group commit is being built) and hand a read-only
    transaction to a helper actor, one thread at a time. Write transactions
    are unaffected: LMDB still allows one at a time, on one thread.

    The named databases ("tables") are opened once, here, at start, in one
    write transaction, because an MDB_dbi is valid in later transactions
    only once the transaction that opened it has committed. Today there is
    one: "meta", holding the schema version. Later issues add their tables
    to store_db_table_t and to the list in store_db.c.

    This header and store_records.h are the storage interface the engine
    sees; they name no LMDB type (store_lmdb.h holds what the LMDB back end
    shares between store_db.c, store_records.c and store_messages.c).
    store_db_new_postgres opens the other back end, PostgreSQL (store_pg.h),
    behind the same functions: store_backend.h says how calls reach it.
    Opening and growing return 0 or -1 and log the words; transactions and
    records return a store_rc_t.
    =========================================================================
*/

#ifndef STORE_DB_H_INCLUDED
#define STORE_DB_H_INCLUDED

#include <czmq.h>
#include <stdbool.h>
#include <stdint.h>

//  The schema this code reads and writes. An environment written by a
//  newer schema is refused rather than misread.
//  Schema 2 (issue 14): folder entries hold marks (seen, flagged), and
//  answers their thread; an environment of schema 1 is migrated when it
//  is opened.
//  Schema 3 (issue 14, SEARCH): table search, each message's trigram
//  signature; an environment of schema 2 gets them when it is opened.
#define STORE_DB_SCHEMA_VERSION     3

//  Room for every table the later issues plan (users, sessions, messages,
//  inbox, sent, idempotency, ...) and some to spare; LMDB fixes the
//  number when the environment is opened.
#define STORE_DB_MAXDBS             16


typedef struct _store_db_t store_db_t;

//  What every function of the storage interface (this header and
//  store_records.h) returns. A back end maps its own codes onto these,
//  and logs the words of any STORE_FAILED where it happens, so the engine
//  above never sees a back end's code.
typedef enum {
    STORE_OK = 0,               //  done
    STORE_NOTFOUND,             //  a lookup found nothing
    STORE_EXISTS,               //  a put that must be new found a record
    STORE_FULL,                 //  no room: grow (store_db_grow) and run again
    STORE_RETRY,                //  a passing conflict: run the transaction again
    STORE_FAILED,               //  anything else; already logged
    STORE_DISK_FULL,            //  the file system had no room for a commit:
                                //  nothing was written; not logged (the
                                //  caller says so, store_db_disk_full_why)
    STORE_UNAVAILABLE,          //  the database cannot be reached now (a
                                //  lost connection, a failover): nothing was
                                //  stored; answered 503, for a retry
    STORE_UNCONFIRMED           //  committed on the primary, but the wait for
                                //  the synchronous standby was cancelled:
                                //  not acknowledged (503); never run again,
                                //  a retry is answered from its record
} store_rc_t;

//  A transaction, of the back end's own kind; opaque.
typedef struct _store_txn_t store_txn_t;

//  Begin a transaction: read-only (write false, parent NULL), a write one
//  (write true, parent NULL), or one nested in a write transaction
//  (parent given), whose work the parent keeps only if it is committed.
//  When another process has grown the map, the new size is adopted and
//  the begin tried again, as LMDB asks. STORE_OK with *txn_p set, or a
//  code with *txn_p NULL.
int
    store_txn_begin (store_db_t *db, store_txn_t *parent, bool write,
                     store_txn_t **txn_p);

//  Begin a read-only transaction that sees one consistent snapshot for
//  all its reads (the dump): an LMDB read transaction; on PostgreSQL a
//  SERIALIZABLE READ ONLY DEFERRABLE transaction, which waits for a
//  snapshot no concurrent writer can make anomalous and then never fails
//  for a conflict (an ordinary read-only transaction of that back end
//  runs each statement on its own). End it with store_txn_commit.
int
    store_txn_begin_snapshot (store_db_t *db, store_txn_t **txn_p);

//  Commit, with sync for a top-level write: STORE_OK means on disk.
//  Frees the transaction whatever happens; sets *txn_p to NULL.
//  STORE_DISK_FULL when the file system had no room (ENOSPC, EDQUOT, or
//  EIO with less than STORE_DB_DISK_LOW bytes free: a short write); the
//  environment stays usable, and a later commit succeeds once there is room.
int
    store_txn_commit (store_txn_t **txn_p);

//  Below this many free bytes, a commit's EIO is taken for a full disk:
//  LMDB turns a short write, which is how a write that fills the disk
//  ends, into EIO.
#define STORE_DB_DISK_LOW   (1024 * 1024)

//  After STORE_DISK_FULL: what the system said and where, for the log
//  ("No space left on device, writing /var/zpost/data.mdb"). Never NULL;
//  stays owned by db, valid until the next commit.
const char *
    store_db_disk_full_why (store_db_t *db);

//  Throw the transaction away; sets *txn_p to NULL. Harmless on NULL.
void
    store_txn_abort (store_txn_t **txn_p);

//  The database a transaction belongs to.
store_db_t *
    store_txn_db (store_txn_t *txn);

//  The login throttle kept in the database, where the back end keeps one:
//  PostgreSQL does, so that every store on one database counts the same
//  failures; LMDB does not (each store keeps its own in memory,
//  store_throttle.h), and these return false / STORE_FAILED there. The
//  rules and the arguments are store_pg.h's store_pg_throttle_ functions'.
bool
    store_db_throttle_shared (store_db_t *db);
int
    store_db_throttle_charge (store_db_t *db, const char *key, const char *user,
                              int64_t first_delay, int64_t *wait_ms, int64_t *delay_ms);
int
    store_db_throttle_refund (store_db_t *db, const char *key, const char *user,
                              int64_t first_delay);
int
    store_db_throttle_success (store_db_t *db, const char *key, const char *user);
int
    store_db_throttle_forget (store_db_t *db, size_t max_keys);

//  The name of a store_rc_t, for logs.
const char *
    store_rc_name (int rc);

//  A number that changes with every commit that wrote something, in any
//  process sharing the database: comparing two readings tells whether a
//  commit reached the disk in between.
uint64_t
    store_db_generation (store_db_t *self);

//  LMDB: the id of a write transaction, the generation its commit makes
//  (a nested one has its parent's); PostgreSQL: 0.
uint64_t
    store_txn_id (store_txn_t *txn);

//  Open (creating if needed) the environment in dir, with a map of
//  map_size bytes (LMDB rounds it to pages, and never maps less than the
//  data file already holds). Creates dir (0700) if missing. Returns NULL,
//  after a zsys_error that says why, if anything is wrong: the directory
//  cannot be made or written, LMDB refuses the environment, the flags are
//  not durable, or the schema is newer than this code.
store_db_t *
    store_db_new (const char *dir, size_t map_size);

//  Open the PostgreSQL back end instead (store_pg.h): conninfo is a libpq
//  connection string, a postgresql:// URI or key=value pairs. NULL, after
//  a zsys_error that says why, if the server cannot be reached, commits
//  would not be durable, the server is read-only, or the schema is newer
//  than this code. read_only opens a reader (--export, --digest), which
//  may read from a standby and begins no write transaction.
store_db_t *
    store_db_new_postgres (const char *conninfo, bool read_only);

//  True if a --db argument names a PostgreSQL database (postgresql:// or
//  postgres://, or a conninfo string: it holds '='), false if it is an
//  LMDB directory
bool
    store_db_names_postgres (const char *spec);

//  "lmdb" or "postgresql", for logs
const char *
    store_db_kind (store_db_t *self);

//  PostgreSQL: the connection string as given (WATCH's listener connects
//  with it); LMDB: NULL
const char *
    store_db_conninfo (store_db_t *self);

//  Close the environment; sets *self_p to NULL. No transaction may be
//  open.
void
    store_db_destroy (store_db_t **self_p);

//  The data directory as given to store_db_new.
const char *
    store_db_dir (store_db_t *self);

//  The schema version found in (or written to) the environment.
unsigned int
    store_db_schema (store_db_t *self);

//  Sizes, for STATS and for growing the map: the current map size in
//  bytes, the page size in bytes, and the pages the data file uses (its
//  high-water mark, free pages included, as mdb_env_info reports it).
//  PostgreSQL has no map: its map size is 0, and its used pages are the
//  database's size on disk (pg_database_size) in 8 KiB pages.
size_t
    store_db_map_size (store_db_t *self);
size_t
    store_db_page_size (store_db_t *self);
size_t
    store_db_used_pages (store_db_t *self);

//  Grow the map after MDB_MAP_FULL: double it, but not past max_size.
//  No transaction of this process may be open. Returns 0 if the map grew,
//  -1 if it is already at max_size (the store is full) or LMDB refused.
int
    store_db_grow (store_db_t *self, size_t max_size);

//  The one way an LMDB failure is reported: logs "what: <mdb_strerror>"
//  with zsys_error and returns -1, so a caller can write
//  "return store_db_error ("begin", rc);".
int
    store_db_error (const char *what, int rc);

//  For selftests: a new environment in a fresh directory under $TMPDIR
//  (or /tmp) whose name starts with name; *dir_p gets the directory's
//  path, the caller's until store_db_scratch_destroy. Asserts on failure.
store_db_t *
    store_db_scratch_new (const char *name, size_t map_size, char **dir_p);

//  Close a scratch environment and remove its directory with everything
//  in it; sets both pointers to NULL.
void
    store_db_scratch_destroy (store_db_t **self_p, char **dir_p);

//  Selftest
void
    store_db_test (bool verbose);

#endif
