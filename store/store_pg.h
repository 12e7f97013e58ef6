/*  =========================================================================
    store_pg - the PostgreSQL back end of the storage interface

    One store_pg_t is one libpq connection, used by one thread at a time
    (the store's engine). store_pg.c opens it, keeps the schema, and runs
    transactions; store_pg_records.c holds the records. Each function here
    has the meaning, arguments and return codes of the store_db.h or
    store_records.h function of the same name without "pg_": store_db.c,
    store_records.c and store_messages.c hand PostgreSQL transactions to
    them (store_backend.h).

    Transactions:
        - a write transaction is BEGIN ISOLATION LEVEL SERIALIZABLE ...
          COMMIT, a nested one a SAVEPOINT, so a group commit is one
          PostgreSQL transaction and its requests savepoints in it;
        - a read-only transaction sends nothing: its statements run one by
          one in autocommit (each sees what was committed when it ran);
        - every session runs with synchronous_commit on, set and read back
          at connect: COMMIT returns once the commit is durable (and, with
          synchronous_standby_names, on the standby too);
        - a COMMIT whose wait for the synchronous standby was cancelled
          returns success with a WARNING notice: the store takes it as
          STORE_UNCONFIRMED (503, never run again: the data is on the
          primary); a recorded reply is replayed only after a commit of
          its own that the standby confirmed (store_pg_replayed).
    Codes: serialization failure and deadlock (40001, 40P01) and a
    duplicate recorded reply are STORE_RETRY (the group runs again); a
    lost connection, a server shutting down, or a read-only server (25006,
    a standby after a failover) are STORE_UNAVAILABLE, and the connection
    is made again at the next transaction (a failed attempt holds the next
    off for a second); a full
    disk (53100) is STORE_FULL.
    =========================================================================
*/

#ifndef STORE_PG_H_INCLUDED
#define STORE_PG_H_INCLUDED

#include <libpq-fe.h>
#include "store_backend.h"

//  The schema this code reads and writes, in table zpost_meta under
//  "schema-version". A newer one is refused.
#define STORE_PG_SCHEMA_VERSION     4

//  SEARCH's text of a message (columns prefixed by p, "m." or ""): its
//  sender, subject and body, each as encode's 'escape' gives it (plain
//  ASCII: a byte from 0x80 as \ooo, so it is text in any database
//  encoding), joined by line feeds (a query holds none, so it matches
//  within one field), A-Z folded to a-z (lower in collation "C": ASCII
//  only, whatever the database's locale; 40 times faster than translate,
//  which made a walk of 20,000 messages take 5 s). Schema 4 indexes it
//  with pg_trgm; z_folder_search asks the same expression.
#define STORE_PG_SEARCH_TEXT(p) \
    "lower ((encode (" p "sender, 'escape') || chr (10) || encode (" p "subject," \
    " 'escape') || chr (10) || encode (" p "body, 'escape')) COLLATE \"C\")"

//  Connect (conninfo: a URI or key=value string, several hosts allowed),
//  create or check the schema, prepare the statements. NULL, after a
//  zsys_error that says why, if the server cannot be reached, refuses,
//  runs without durable commits, is read-only (a standby), or holds a
//  newer schema. A reader (read_only: --export, --digest) may use a
//  standby: it creates and migrates nothing, needs the schema this code
//  reads, and begins no write transaction.
store_pg_t *
    store_pg_new (const char *conninfo, bool read_only);
void
    store_pg_destroy (store_pg_t **self_p);
unsigned int
    store_pg_schema (store_pg_t *self);
uint64_t
    store_pg_generation (store_pg_t *self);
//  The connection string as given (WATCH's listener connects with it)
const char *
    store_pg_conninfo (store_pg_t *self);
//  Bytes the database uses on disk (pg_database_size), 0 if unknown
uint64_t
    store_pg_database_size (store_pg_t *self);

//  The login throttle in the database, shared by every store on it: the
//  rules of store_throttle.h, on the database's clock, each call one
//  statement outside any transaction. user may be NULL (the key alone).
//  Charge: wait_ms [0] and [1] are the msecs key and user must still wait;
//  if either is > 0 the attempt is refused and nothing counted, else one
//  failure is counted on each and delay_ms [0] and [1] are the delays they
//  are now in (0 while failures are free). A code: STORE_UNAVAILABLE when
//  the database cannot be reached (the engine answers 503: no password is
//  checked unthrottled).
int
    store_pg_throttle_charge (store_pg_t *self, const char *key, const char *user,
                              int64_t first_delay, int64_t *wait_ms, int64_t *delay_ms);
int
    store_pg_throttle_refund (store_pg_t *self, const char *key, const char *user,
                              int64_t first_delay);
int
    store_pg_throttle_success (store_pg_t *self, const char *key, const char *user);
//  Forget keys with no failure for a day; keep max_keys at most
int
    store_pg_throttle_forget (store_pg_t *self, size_t max_keys);

//  Transactions
int
    store_pg_txn_begin (store_db_t *db, store_pg_t *pg, store_txn_t *parent,
                        bool write, store_txn_t **txn_p);
//  A read-only snapshot: SERIALIZABLE READ ONLY DEFERRABLE (store_db.h)
int
    store_pg_txn_begin_snapshot (store_db_t *db, store_pg_t *pg, store_txn_t **txn_p);
int
    store_pg_txn_commit (store_txn_t **txn_p);
void
    store_pg_txn_abort (store_txn_t **txn_p);

//  For store_pg_records.c: run prepared statement `statement` with
//  params (binary, count of them) in txn; STORE_OK with *result_p (the
//  caller's: PQclear) or a code, *result_p NULL. A result with rows, or
//  a command's; STORE_EXISTS for a unique violation.
int
    store_pg_exec (store_txn_t *txn, int statement, int count,
                   const char *const *values, const int *lengths,
                   PGresult **result_p);
//  As store_pg_exec, but the statement's text is sent instead of its
//  prepared name, so that the server plans it for these parameters each
//  time: a prepared statement may keep a generic plan after five runs,
//  which for a LIKE pattern (z_folder_search) knows nothing of it
int
    store_pg_exec_custom (store_txn_t *txn, int statement, int count,
                          const char *const *values, const int *lengths,
                          PGresult **result_p);
//  What a command's answer must be
#define S_KIND_PLAIN    0       //  done
#define S_KIND_NEW      1       //  an insert that inserted: none is STORE_EXISTS
#define S_KIND_RECORD   2       //  a duplicate key is STORE_RETRY (a recorded reply)
#define S_KIND_COMMIT   3       //  COMMIT that committed
#define S_KIND_SYNC     4       //  not a command: a Sync sent in the pipeline
#define S_KIND_UNLOCK   5       //  the writers' lock let go: its answer is no
                                //  one's code (store_pg.c, S_WRITER_LOCK)
//  Send a write whose answer is only "done", in a write transaction,
//  without waiting: its failure is returned by the next command that
//  waits, at the latest the transaction's commit. Its failure must be the
//  server's error (kind S_KIND_PLAIN or S_KIND_RECORD), so that the
//  commands after it are not run. STORE_OK, or a failure met in sending.
int
    store_pg_exec_deferred (store_txn_t *txn, int statement, int kind, int count,
                            const char *const *values, const int *lengths);
//  A recorded reply of scope and request_id is about to be replayed: make
//  its answer wait, as a new write's would, until the synchronous standby
//  (if synchronous_standby_names names one) confirms the record. In a
//  write transaction this is a deferred write, confirmed by the COMMIT;
//  outside one it commits now. STORE_OK, or a code: STORE_UNAVAILABLE
//  (503) when the standby's confirmation was cancelled.
int
    store_pg_replayed (store_txn_t *txn, const void *scope, size_t scope_size,
                       const char *request_id);
//  Keep a result alive until the next call or the transaction's end
//  (message strings point into it)
void
    store_pg_keep (store_pg_t *self, PGresult *result);

//  What store_pg_records.c remembers on a connection to spare round trips,
//  all of it rows this very transaction has read or written, so that
//  serving them again gives what the database would (a write transaction
//  is one SERIALIZABLE snapshot plus its own writes). store_pg.c forgets
//  it all when a top-level transaction begins, at every ROLLBACK (of a
//  savepoint too: the rows it undid), and on a new connection.
#define STORE_PG_USERS_CACHED   16
typedef struct {
    //  User rows read or written, by name (a SEND's recipients, the
    //  session's user), written through by user_put
    struct {
        bool valid;
        char name [ZPOST_NAME_MAX + 1];
        store_user_t user;
    } users [STORE_PG_USERS_CACHED];
    size_t next_user;           //  the slot the next one takes
    //  During a folder walk: its batch, each entry with its message
    //  (one statement a page of LIST, not one a message), or after a
    //  folder_get its entry with its message (READ, DELETE)
    PGresult *page;
    bool page_walk;             //  the walk's own, to free when it ends
    //  The folder entry folder_get last found, until it is deleted
    bool entry_found;
    uint64_t entry_user;
    int entry_folder;
    uint64_t entry_message;
    //  Counters and record counts, read at once by the first counter_get
    //  (STATS), forgotten at any write
    PGresult *meta;
} store_pg_cache_t;
store_pg_cache_t *
    store_pg_cache (store_pg_t *self);
//  Forget the cache (store_pg_records.c)
void
    store_pg_cache_forget (store_pg_cache_t *cache);
//  A figure of the counters read at once (STATS), if they are at hand:
//  0 and *value, or -1
int
    store_pg_cache_meta (store_pg_cache_t *cache, const char *name, uint64_t *value);

//  Round trips (syncs that waited for answers) and commands sent on this
//  connection so far. With ZPOST_PG_TRACE=1 in the environment the store
//  logs each round trip and the commands it carried
//  (scripts/measure_pg_trips.py counts them per request).
uint64_t
    store_pg_round_trips (store_pg_t *self);
uint64_t
    store_pg_commands (store_pg_t *self);

//  The statements, prepared at connect (store_pg_records.c)
typedef struct {
    const char *name;
    const char *sql;
} store_pg_statement_t;
extern const store_pg_statement_t store_pg_statements [];
extern const int store_pg_statement_count;

//  Records: as store_records.h
int store_pg_user_get (store_txn_t *txn, const char *name, store_user_t *user);
int store_pg_user_put (store_txn_t *txn, const char *name, const store_user_t *user,
                       bool must_be_new);
int store_pg_session_get (store_txn_t *txn, const uint8_t *digest,
                          store_session_t *session);
int store_pg_session_put (store_txn_t *txn, const uint8_t *digest,
                          const store_session_t *session);
int store_pg_session_delete (store_txn_t *txn, const uint8_t *digest);
int store_pg_session_delete_all (store_txn_t *txn, uint64_t user_id,
                                 const uint8_t *keep, size_t *ended);
int store_pg_session_expire (store_txn_t *txn, uint64_t now, uint64_t idle, uint64_t max,
                             uint8_t *resume, size_t examine, size_t *removed);
int store_pg_session_count (store_txn_t *txn, uint64_t *count);
int store_pg_reply_count (store_txn_t *txn, uint64_t *count);
int store_pg_known_key_get (store_txn_t *txn, uint64_t user_id, const char *client_key);
int store_pg_known_key_put (store_txn_t *txn, uint64_t user_id, const char *client_key);
int store_pg_user_delete (store_txn_t *txn, const char *name, uint64_t user_id);
int store_pg_message_put (store_txn_t *txn, const store_message_t *message, uint32_t refs);
int store_pg_message_get (store_txn_t *txn, uint64_t id, store_message_t *message);
int store_pg_message_unref (store_txn_t *txn, uint64_t id, bool *freed);
int store_pg_thread_walk (store_txn_t *txn, uint64_t thread_id, uint64_t before,
                          store_folder_visit_fn *visit, void *arg);
int store_pg_folder_put (store_txn_t *txn, uint64_t user_id, store_folder_t folder,
                         uint64_t message_id, unsigned marks);
int store_pg_folder_get (store_txn_t *txn, uint64_t user_id, store_folder_t folder,
                         uint64_t message_id, unsigned *marks);
int store_pg_folder_empty (store_txn_t *txn, uint64_t user_id, store_folder_t folder,
                           uint64_t *freed, uint64_t *freed_bytes);
int store_pg_folder_delete (store_txn_t *txn, uint64_t user_id, store_folder_t folder,
                            uint64_t message_id);
int store_pg_notify_users (store_txn_t *txn, const char *names);
int store_pg_inbox_state (store_txn_t *txn, const char *name, uint64_t *newest,
                          uint64_t *unread);
int store_pg_folder_walk (store_txn_t *txn, uint64_t user_id, store_folder_t folder,
                          uint64_t before, store_folder_visit_fn *visit, void *arg);
int store_pg_folder_search (store_txn_t *txn, uint64_t user_id, store_folder_t folder,
                            uint64_t before, const char *folded, unsigned within,
                            store_folder_visit_fn *visit, void *arg);
int store_pg_counter_get (store_txn_t *txn, const char *name, uint64_t *value);
int store_pg_counter_add (store_txn_t *txn, const char *name, int64_t delta);
int store_pg_counter_next (store_txn_t *txn, const char *name, uint64_t *value);
int store_pg_reply_get (store_txn_t *txn, const void *scope, size_t scope_size,
                        const char *request_id, uint8_t *digest, zpost_msg_t **reply_p);
int store_pg_reply_put (store_txn_t *txn, const void *scope, size_t scope_size,
                        const char *request_id, const uint8_t *digest, uint64_t now,
                        zpost_msg_t *reply);
int store_pg_reply_expire (store_txn_t *txn, uint64_t older_than, size_t max,
                           size_t *removed);
int store_pg_sweep (store_txn_t *txn, uint64_t reply_older_than, size_t reply_max,
                    uint64_t now, uint64_t idle, uint64_t max, uint8_t *resume,
                    size_t examine, size_t *replies, size_t *sessions);

//  The dump's walks and counter_set: as store_records.h
int store_pg_user_walk (store_txn_t *txn, store_user_visit_fn *visit, void *arg);
int store_pg_session_walk (store_txn_t *txn, store_session_visit_fn *visit, void *arg);
int store_pg_known_key_walk (store_txn_t *txn, store_known_key_visit_fn *visit, void *arg);
int store_pg_message_walk (store_txn_t *txn, store_message_visit_fn *visit, void *arg);
int store_pg_folder_walk_all (store_txn_t *txn, store_entry_visit_fn *visit, void *arg);
int store_pg_reply_walk (store_txn_t *txn, store_reply_visit_fn *visit, void *arg);
int store_pg_counter_walk (store_txn_t *txn, store_counter_visit_fn *visit, void *arg);
int store_pg_counter_set (store_txn_t *txn, const char *name, uint64_t value);

#endif
