/*  =========================================================================
    store_pg - the PostgreSQL connection: opened durable, kept open, and
    the schema kept by the store itself

    The decisions that must be right before the first byte is written are
    taken here, as store_db.c takes them for LMDB: synchronous_commit is
    set on for the session and read back (a server configured to let a
    commit return before it is durable would otherwise make the store's
    "stored" a lie), the schema version is checked under an advisory lock
    so that two stores starting together create it once, and a newer
    schema is refused.

    A connection that breaks (the server went away, or after a failover
    the host we reach is a standby) is not fatal: the failing call returns
    STORE_UNAVAILABLE, which the engine answers 503, and the next
    transaction connects again with the same connection string, which may
    name several hosts and target_session_attrs=read-write to find the
    primary. A failed connection attempt holds the next off for a second,
    and each is bounded by
    connect_timeout (5 s unless the string says otherwise), so the engine's
    loop is never held for long.
    =========================================================================
*/

#include "store_pg.h"
#include "store_throttle.h"
#include <inttypes.h>
#include <string.h>

//  Every session of every store takes this advisory lock to create or
//  migrate the schema, so that two stores starting at once do it once
#define S_SCHEMA_LOCK       "7420533013"
#define S_RECONNECT_MSECS   1000
//  Commands in the pipeline at most before a sync
#define S_PENDING_MAX       64
//  One writer at a time on the database: every store takes this session
//  advisory lock before a write transaction, in the same pipeline as its
//  BEGIN but behind a Sync of its own (so the transaction's snapshot is
//  taken once the lock is held, and sees the last writer's commit), and
//  lets it go behind another Sync after its COMMIT or ROLLBACK (so that it
//  goes even when they fail). Without it two stores' groups took the same
//  user rows in opposite orders and deadlocked, a second each (review of
//  issue 13: two stores were sixteen times slower than one). Reads, which
//  take no lock, stay parallel.
#define S_WRITER_LOCK       "7420533014"
//  The prepared statement a replay runs (store_pg_replayed)
#define S_CONFIRM           "z_reply_confirm"
//  A store that stops between two statements of a transaction (frozen,
//  swapped out, its host lost behind a silent network) keeps the row
//  locks it took, and every other store that writes the same rows waits
//  on it: the server ends such a session after this long. The store's own
//  write transactions never rest that long between statements (they wait
//  for nothing but the database), so only a store that stopped pays: its
//  connection is gone and its group is answered 503. Shorter than the
//  brokers' 3 s of silence before they give a waiting store up. Readers
//  take no row locks and are left alone: an export may pause to write.
#define S_IDLE_IN_TXN       "2s"
//  The writers' lock is waited for this long at most (lock_timeout, set
//  for the session: the operator's value would change the store's
//  meaning). Then the group is answered the retryable 503, so that a
//  store waiting on a stuck one goes on answering its brokers.
#define S_TURN_WAIT         "1s"
//  A holder of the writers' lock that has been in its transaction (or
//  statement) this long is stuck: frozen while the server writes it a
//  large result, or waiting for a standby that is gone. The idle timeouts
//  cannot reach an active session, so the next store that waited in vain
//  ends it (pg_terminate_backend: a role may end its own sessions), and
//  its uncommitted group rolls back. Longer than the brokers' 3 s of
//  silence, after which they have given that store up anyway.
#define S_TURN_STUCK        "4s"

struct _store_pg_t {
    char *conninfo;             //  as given
    char *unlock_sql;           //  the unlock, with the session's own
                                //  idle_session_timeout (s_connect)
    bool read_only;             //  a reader (--export, --digest): no schema
                                //  written, no write transaction
    PGconn *conn;               //  NULL while disconnected
    bool broken;                //  connect again before the next transaction
    int64_t next_attempt;       //  zclock_mono: no connection attempt before
    bool in_txn;                //  a write transaction is open
    bool wrote;                 //  it changed something
    uint64_t generation;        //  write transactions committed
    unsigned int schema;        //  found in (or written to) the database
    PGresult *kept;             //  the last message read, until the next one
    int pending;                //  commands sent, answers not yet read
    bool clean;                 //  no answer failed since the last SAVEPOINT
    bool writer;                //  holds the writers' lock (S_WRITER_LOCK)
    bool turn_waited;           //  the last wait for it timed out
    int kinds [S_PENDING_MAX];  //  what each answer must be (S_KIND_)
    const char *whats [S_PENDING_MAX];  //  and its name, for the log
    store_pg_cache_t cache;     //  store_pg_records.c's, for this transaction
    uint64_t trips;             //  round trips made
    uint64_t commands;          //  commands sent
    bool trace;                 //  log each round trip (ZPOST_PG_TRACE=1)
    bool snapshot;              //  the open transaction is read-only
    bool unreplicated;          //  the last sync ended a commit that the
                                //  synchronous standby did not confirm
    char unreplicated_why [256];    //  the server's words for it
};

//  SEARCH's trigram index of each message's search text (store_pg.h),
//  with pg_trgm, a trusted extension that the database's owner may
//  create (PostgreSQL 13 and later). Where it cannot be had there is no
//  index: SEARCH gives the same rows, reading every message of the
//  folder; each start tries again, and says so (s_search_index).
#define S_SEARCH_INDEX \
    "DO $$ BEGIN CREATE EXTENSION IF NOT EXISTS pg_trgm;" \
    "  EXCEPTION WHEN OTHERS THEN NULL;" \
    "END $$;" \
    "DO $$ BEGIN" \
    "  IF EXISTS (SELECT 1 FROM pg_opclass WHERE opcname = 'gin_trgm_ops') THEN" \
    "    CREATE INDEX IF NOT EXISTS zpost_messages_search ON zpost_messages USING gin" \
    "      ((" STORE_PG_SEARCH_TEXT ("") ") gin_trgm_ops);" \
    "  END IF;" \
    "END $$;"

//  The schema, one step a version: a new database runs every step, one
//  written by an older store the steps after its version, all in the
//  transaction that holds the advisory lock. Strings that come from the
//  network and are not names (message fields, request ids) are bytea:
//  stored as received, whatever the database's encoding. Numbers are
//  bigint; the C side's uint64_t values stay far below 2^63.
static const char *s_schema_steps [STORE_PG_SCHEMA_VERSION] = {
    //  1: the records
    "CREATE TABLE zpost_users (name text PRIMARY KEY, id bigint NOT NULL UNIQUE,"
    "  created bigint NOT NULL, inbox_count bigint NOT NULL,"
    "  inbox_unread bigint NOT NULL, inbox_bytes bigint NOT NULL,"
    "  sent_count bigint NOT NULL, sent_bytes bigint NOT NULL, hash text NOT NULL);"
    "CREATE TABLE zpost_sessions (digest bytea PRIMARY KEY, user_id bigint NOT NULL,"
    "  username text NOT NULL, client_key text NOT NULL, created bigint NOT NULL,"
    "  last_used bigint NOT NULL);"
    "CREATE INDEX zpost_sessions_user ON zpost_sessions (user_id);"
    "CREATE TABLE zpost_known_keys (user_id bigint, client_key text,"
    "  PRIMARY KEY (user_id, client_key));"
    "CREATE TABLE zpost_messages (id bigint PRIMARY KEY, date bigint NOT NULL,"
    "  sender bytea NOT NULL, recipients bytea NOT NULL, subject bytea NOT NULL,"
    "  body bytea NOT NULL, refs integer NOT NULL);"
    "CREATE TABLE zpost_folders (user_id bigint, folder smallint, message_id bigint,"
    "  seen boolean NOT NULL, PRIMARY KEY (user_id, folder, message_id));"
    "CREATE TABLE zpost_replies (scope bytea, request_id bytea, created bigint NOT NULL,"
    "  digest bytea NOT NULL, reply bytea NOT NULL, PRIMARY KEY (scope, request_id));"
    "CREATE INDEX zpost_replies_created ON zpost_replies (created);"
    "CREATE SEQUENCE zpost_next_user_id;"
    "CREATE SEQUENCE zpost_next_message_id;",

    //  2: the login throttle, shared by every store on the database
    //  (ZPOST.md "Login throttling"). Times are the database's clock in
    //  msecs, so that stores on hosts whose clocks differ agree. The rules'
    //  numbers come from the caller (store_throttle.h), not from here.
    //  Charging locks the rows in key order; both keys of an attempt are
    //  checked and charged in one statement, so two stores cannot both let
    //  an attempt through on the same last free failure. The counters need
    //  no durable commit (a crash of the database forgets a few failures at
    //  worst): each call commits without waiting for the WAL's sync, so a
    //  flood of attempts costs no disk syncs.
    "CREATE TABLE zpost_throttle (key text PRIMARY KEY, failures integer NOT NULL,"
    "  last_failure bigint NOT NULL, not_before bigint NOT NULL);"
    "CREATE INDEX zpost_throttle_last ON zpost_throttle (last_failure);"
    "CREATE FUNCTION zpost_now_ms () RETURNS bigint LANGUAGE sql VOLATILE AS"
    "  $$ SELECT (extract (epoch FROM clock_timestamp ()) * 1000)::bigint $$;"
    "CREATE FUNCTION zpost_throttle_delay (failures integer, first_delay bigint,"
    "  free integer, max_delay bigint) RETURNS bigint LANGUAGE sql IMMUTABLE AS"
    "  $$ SELECT CASE WHEN failures <= free THEN 0"
    "                 WHEN failures - free - 1 >= 20 THEN max_delay"
    "                 ELSE least (first_delay << (failures - free - 1), max_delay) END $$;"
    //  Returns {wait k1, wait k2, delay k1, delay k2}: the msecs each key
    //  must still wait (either > 0: refused, nothing counted), else the
    //  delay each is in after this failure was counted
    "CREATE FUNCTION zpost_throttle_charge (k1 text, k2 text, first_delay bigint,"
    "  free integer, max_delay bigint) RETURNS bigint [] LANGUAGE plpgsql AS $$"
    "DECLARE now_ms bigint := zpost_now_ms (); w1 bigint := 0; w2 bigint := 0;"
    "  d1 bigint := 0; d2 bigint := 0;"
    "BEGIN"
    "  PERFORM set_config ('synchronous_commit', 'off', true);"
    "  INSERT INTO zpost_throttle SELECT k, 0, now_ms, 0 FROM unnest (ARRAY [k1, k2]) AS k"
    "    WHERE k IS NOT NULL ORDER BY k ON CONFLICT (key) DO NOTHING;"
    "  PERFORM 1 FROM zpost_throttle WHERE key IN (k1, k2) ORDER BY key FOR UPDATE;"
    "  SELECT greatest (not_before - now_ms, 0) INTO w1 FROM zpost_throttle WHERE key = k1;"
    "  IF k2 IS NOT NULL THEN"
    "    SELECT greatest (not_before - now_ms, 0) INTO w2 FROM zpost_throttle WHERE key = k2;"
    "  END IF;"
    "  IF w1 > 0 OR w2 > 0 THEN RETURN ARRAY [w1, w2, 0, 0]; END IF;"
    "  UPDATE zpost_throttle SET failures = failures + 1, last_failure = now_ms,"
    "    not_before = now_ms + zpost_throttle_delay (failures + 1, first_delay, free, max_delay)"
    "    WHERE key IN (k1, k2);"
    "  SELECT not_before - now_ms INTO d1 FROM zpost_throttle WHERE key = k1;"
    "  IF k2 IS NOT NULL THEN"
    "    SELECT not_before - now_ms INTO d2 FROM zpost_throttle WHERE key = k2;"
    "  END IF;"
    "  RETURN ARRAY [0, 0, d1, d2];"
    "END $$;"
    "CREATE FUNCTION zpost_throttle_refund (k1 text, k2 text, first_delay bigint,"
    "  free integer, max_delay bigint) RETURNS bigint [] LANGUAGE plpgsql AS $$"
    "BEGIN"
    "  PERFORM set_config ('synchronous_commit', 'off', true);"
    "  DELETE FROM zpost_throttle WHERE key IN (k1, k2) AND failures <= 1;"
    "  UPDATE zpost_throttle SET failures = failures - 1, not_before = last_failure"
    "    + zpost_throttle_delay (failures - 1, first_delay, free, max_delay)"
    "    WHERE key IN (k1, k2);"
    "  RETURN ARRAY [0];"
    "END $$;"
    "CREATE FUNCTION zpost_throttle_success (k1 text, k2 text) RETURNS bigint []"
    "  LANGUAGE plpgsql AS $$"
    "BEGIN"
    "  PERFORM set_config ('synchronous_commit', 'off', true);"
    "  DELETE FROM zpost_throttle WHERE key IN (k1, k2);"
    "  RETURN ARRAY [0];"
    "END $$;",

    //  3: the flagged mark of a folder entry (ZPOST.md, MARK); entries
    //  of schema 2 are not flagged. A message's thread (ANSWER, THREAD):
    //  thread_id is NULL for the first message of a thread (its own id
    //  is the thread's), so that the index holds answers only and the
    //  messages of schema 2 need no rewrite; in_reply_to is 0 for none
    "ALTER TABLE zpost_folders ADD COLUMN flagged boolean NOT NULL DEFAULT false;"
    "ALTER TABLE zpost_messages ADD COLUMN thread_id bigint,"
    "  ADD COLUMN in_reply_to bigint NOT NULL DEFAULT 0;"
    "CREATE INDEX zpost_messages_thread ON zpost_messages (thread_id, id)"
    "  WHERE thread_id IS NOT NULL;",

    //  4: SEARCH's trigram index (S_SEARCH_INDEX)
    S_SEARCH_INDEX
};


//  --------------------------------------------------------------------------
//  The server's words for a failure, on one line for the log: the
//  message, then its detail and hint if any. libpq's own text
//  (PQresultErrorMessage) spreads over lines, with the statement and a
//  caret under the place of the error, which make log lines of their own.

static const char *
s_why (store_pg_t *self, const PGresult *result, char *buffer, size_t size)
{
    const char *primary = result? PQresultErrorField (result, PG_DIAG_MESSAGE_PRIMARY): NULL;
    if (!primary) {
        //  No result from the server: libpq's own message about the
        //  connection, its line breaks made spaces
        const char *text = self->conn? PQerrorMessage (self->conn): "no connection";
        snprintf (buffer, size, "%s", *text? text: "no answer from the server");
    }
    else {
        const char *detail = PQresultErrorField (result, PG_DIAG_MESSAGE_DETAIL);
        const char *hint = PQresultErrorField (result, PG_DIAG_MESSAGE_HINT);
        snprintf (buffer, size, "%s%s%s%s%s", primary,
                  detail? "; ": "", detail? detail: "",
                  hint? "; hint: ": "", hint? hint: "");
    }
    for (char *next = buffer; *next; next++)
        if (*next == '\n' || *next == '\r' || *next == '\t')
            *next = ' ';
    size_t length = strlen (buffer);
    while (length > 0 && buffer [length - 1] == ' ')
        buffer [--length] = 0;
    return buffer;
}


//  --------------------------------------------------------------------------
//  Plain commands (not prepared): session set-up, schema, transactions.
//  Returns the result (the caller's) or NULL after logging, if it failed.

static PGresult *
s_command (store_pg_t *self, const char *sql, const char *what)
{
    PGresult *result = PQexec (self->conn, sql);
    ExecStatusType status = PQresultStatus (result);
    if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK)
        return result;
    char why [512];
    zsys_error ("store_pg: %s: %s", what, s_why (self, result, why, sizeof why));
    PQclear (result);
    return NULL;
}

//  Map a failed result to a store_rc_t, marking the connection for a new
//  one when it is the server's state, not the statement, that failed
//  A connection that failed is closed at once: its server session ends
//  with it, and so does the writers' lock it may hold, for the other
//  stores, without waiting for the server's timeouts
static void
s_broke (store_pg_t *self)
{
    self->broken = true;
    self->writer = false;
    if (self->conn) {
        PQfinish (self->conn);
        self->conn = NULL;
    }
}

static int
s_failure (store_pg_t *self, PGresult *result, const char *what)
{
    const char *state = result? PQresultErrorField (result, PG_DIAG_SQLSTATE): NULL;
    if (!state || PQstatus (self->conn) == CONNECTION_BAD
    ||  strncmp (state, "08", 2) == 0           //  connection exception
    ||  streq (state, "25006")                  //  read-only: a standby now
    ||  streq (state, "25P03")                  //  idle in transaction too long
    ||  streq (state, "57P05")                  //  idle session too long
    ||  streq (state, "57P01")                  //  admin shutdown
    ||  streq (state, "57P02")                  //  crash shutdown
    ||  streq (state, "57P03")) {               //  cannot connect now
        char why [512];
        zsys_warning ("store_pg: %s: the database is unavailable (%s): %s",
                      what, state? state: "no answer", s_why (self, result, why, sizeof why));
        s_broke (self);
        return STORE_UNAVAILABLE;
    }
    if (streq (state, "55P03")) {
        //  The writers' lock not granted within S_TURN_WAIT: the
        //  connection is sound, the next try first looks for a stuck
        //  holder (s_begin)
        zsys_warning ("store_pg: %s: a lock was not granted within %s (the "
                      "writers' lock another store holds, or a table an operator "
                      "locked); the group is answered 503", what, S_TURN_WAIT);
        self->turn_waited = true;
        return STORE_UNAVAILABLE;
    }
    if (streq (state, "40001") || streq (state, "40P01"))
        return STORE_RETRY;
    //  A statement after one that failed in the same transaction: the
    //  first failure is the news (a conflict, most often, already
    //  answered); this one only says the transaction must run again
    if (streq (state, "25P02")) {
        zsys_debug ("store_pg: %s: skipped, the transaction had failed before", what);
        return STORE_RETRY;
    }
    if (streq (state, "23505"))
        return STORE_EXISTS;
    if (streq (state, "53100")) {
        zsys_warning ("store_pg: %s: the database's disk is full", what);
        return STORE_FULL;
    }
    char why [512];
    zsys_error ("store_pg: %s: %s (%s)", what, s_why (self, result, why, sizeof why), state);
    return STORE_FAILED;
}


//  --------------------------------------------------------------------------
//  SEARCH's index, once the schema is there: made now if a start before
//  could not make it (pg_trgm was not available then); if it still
//  cannot be, a warning, since SEARCH then reads every message of a
//  folder. 0, or -1 after saying why.

static bool
s_search_indexed (store_pg_t *self, int *rc)
{
    PGresult *result = s_command (self, "SELECT to_regclass ('zpost_messages_search')"
                                  " IS NOT NULL", "look for the search index");
    if (!result) {
        *rc = -1;
        return false;
    }
    bool indexed = PQntuples (result) == 1 && streq (PQgetvalue (result, 0, 0), "t");
    PQclear (result);
    return indexed;
}

static int
s_search_index (store_pg_t *self)
{
    int rc = 0;
    if (s_search_indexed (self, &rc) || rc)
        return rc;
    PGresult *result = s_command (self, S_SEARCH_INDEX, "make the search index");
    if (!result)
        return -1;
    PQclear (result);
    if (s_search_indexed (self, &rc) || rc)
        return rc;
    zsys_warning ("store_pg: no trigram index for SEARCH (the extension pg_trgm is not "
                  "available, or this role may not create it): SEARCH reads every "
                  "message of the folder searched");
    return 0;
}

//  --------------------------------------------------------------------------
//  The schema: created, checked, migrated, in one transaction under the
//  advisory lock. 0, or -1 after saying why.

static int
s_schema (store_pg_t *self)
{
    PGresult *result = s_command (self, "BEGIN", "begin the schema check");
    if (!result)
        return -1;
    PQclear (result);
    const char *steps [] = {
        "SELECT pg_advisory_xact_lock (" S_SCHEMA_LOCK ")",
        "CREATE TABLE IF NOT EXISTS zpost_meta (name text PRIMARY KEY, "
        "value bigint NOT NULL)",
    };
    for (size_t index = 0; index < sizeof steps / sizeof steps [0]; index++) {
        result = s_command (self, steps [index], "prepare the schema");
        if (!result)
            goto failed;
        PQclear (result);
    }
    result = s_command (self, "SELECT value FROM zpost_meta WHERE name = 'schema-version'",
                        "read the schema version");
    if (!result)
        goto failed;
    long long version = 0;
    if (PQntuples (result) == 1)
        version = strtoll (PQgetvalue (result, 0, 0), NULL, 10);
    if (PQntuples (result) == 1 && (version < 1 || version > STORE_PG_SCHEMA_VERSION)) {
        zsys_error ("store_pg: the database was written with schema %lld; this "
                    "zpost-store reads schema %d at most; run a newer zpost-store",
                    version, STORE_PG_SCHEMA_VERSION);
        PQclear (result);
        goto failed;
    }
    PQclear (result);
    result = NULL;
    if (version < STORE_PG_SCHEMA_VERSION) {
        for (long long step = version; step < STORE_PG_SCHEMA_VERSION; step++) {
            result = s_command (self, s_schema_steps [step], "create the schema");
            if (!result)
                goto failed;
            PQclear (result);
        }
        char *upsert = zsys_sprintf ("INSERT INTO zpost_meta VALUES ('schema-version', %d) "
                                     "ON CONFLICT (name) DO UPDATE SET value = %d",
                                     STORE_PG_SCHEMA_VERSION, STORE_PG_SCHEMA_VERSION);
        result = s_command (self, upsert, "write the schema version");
        zstr_free (&upsert);
        if (!result)
            goto failed;
        PQclear (result);
        if (version == 0)
            zsys_info ("store_pg: created the schema, version %d", STORE_PG_SCHEMA_VERSION);
        else
            zsys_info ("store_pg: migrated the schema from version %lld to %d",
                       version, STORE_PG_SCHEMA_VERSION);
    }
    if (s_search_index (self))
        goto failed;
    self->schema = STORE_PG_SCHEMA_VERSION;
    result = s_command (self, "COMMIT", "commit the schema");
    if (!result)
        return -1;
    PQclear (result);
    return 0;
failed:
    PQclear (PQexec (self->conn, "ROLLBACK"));
    return -1;
}


//  A reader's check: the schema must be there, and be the one this code
//  reads. Nothing is created or migrated: the server may be a standby,
//  and a reader does not change a database. 0, or -1 after saying why.
static int
s_schema_check (store_pg_t *self)
{
    PGresult *result = s_command (self, "SELECT to_regclass ('zpost_meta') IS NOT NULL",
                                  "look for the schema");
    if (!result)
        return -1;
    bool found = PQntuples (result) == 1 && streq (PQgetvalue (result, 0, 0), "t");
    PQclear (result);
    if (!found) {
        zsys_error ("store_pg: database %s holds no zpost store (no table zpost_meta)",
                    PQdb (self->conn));
        return -1;
    }
    result = s_command (self, "SELECT value FROM zpost_meta WHERE name = 'schema-version'",
                        "read the schema version");
    if (!result)
        return -1;
    long long version = PQntuples (result) == 1? strtoll (PQgetvalue (result, 0, 0), NULL, 10): 0;
    PQclear (result);
    if (version != STORE_PG_SCHEMA_VERSION) {
        if (version > STORE_PG_SCHEMA_VERSION)
            zsys_error ("store_pg: the database was written with schema %lld; this "
                        "zpost-store reads schema %d at most; run a newer zpost-store",
                        version, STORE_PG_SCHEMA_VERSION);
        else
            zsys_error ("store_pg: the database holds schema %lld, and this zpost-store "
                        "reads schema %d: start a serving zpost-store on the primary "
                        "once, and it migrates the schema", version, STORE_PG_SCHEMA_VERSION);
        return -1;
    }
    self->schema = STORE_PG_SCHEMA_VERSION;
    return 0;
}


//  --------------------------------------------------------------------------
//  Notices: a commit that returned before the synchronous standby confirmed
//
//  With synchronous_standby_names set, COMMIT waits for the standby. If
//  that wait is cancelled (pg_cancel_backend, or the backend is told to
//  terminate), PostgreSQL cannot undo the commit any more: COMMIT answers
//  success all the same, and the only sign is a WARNING notice before it
//  (syncrep.c: "canceling wait for synchronous replication due to user
//  request", SQLSTATE 01000; "canceling the wait for synchronous
//  replication and terminating connection due to administrator command",
//  57P01, after which the connection closes). The data is on the primary
//  and perhaps not on the standby: answered 200, it is mail that a
//  failover can lose. So such a notice makes the sync that read it a
//  failure (s_sync: STORE_UNCONFIRMED, answered with the retryable 503).

//  True if a notice says a commit's wait for the standby was cancelled.
//  01000 is the code of any WARNING that names none, so the words are
//  checked as well; but the words are translated when the server's
//  lc_messages is not English, and a commit taken for unconfirmed when it
//  was confirmed costs a 503 and a retry, while the other mistake loses
//  mail: any WARNING with either code counts.
static bool
s_unreplicated_notice (const char *severity, const char *state, const char *message)
{
    if (!severity || !streq (severity, "WARNING"))
        return false;
    if (message && strstr (message, "wait for synchronous replication"))
        return true;
    return state && (streq (state, "01000") || streq (state, "57P01"));
}

//  libpq's notice receiver for every connection of the store, in place of
//  its default, which prints to stderr
static void
s_notice (void *arg, const PGresult *notice)
{
    store_pg_t *self = (store_pg_t *) arg;
    const char *severity = PQresultErrorField (notice, PG_DIAG_SEVERITY_NONLOCALIZED);
    const char *state = PQresultErrorField (notice, PG_DIAG_SQLSTATE);
    const char *message = PQresultErrorField (notice, PG_DIAG_MESSAGE_PRIMARY);
    if (s_unreplicated_notice (severity, state, message)) {
        self->unreplicated = true;
        snprintf (self->unreplicated_why, sizeof self->unreplicated_why, "%s: %s",
                  state? state: "no SQLSTATE", message? message: "no message");
    }
    else
        zsys_debug ("store_pg: the server says: %s %s: %s", severity? severity: "?",
                    state? state: "?", message? message: "");
}


//  --------------------------------------------------------------------------
//  Connect, check durability, prepare. 0, or -1 after saying why.

static int
s_connect (store_pg_t *self)
{
    if (self->conn) {
        PQfinish (self->conn);
        self->conn = NULL;
    }
    PQclear (self->kept);
    self->kept = NULL;
    store_pg_cache_forget (&self->cache);
    self->in_txn = false;
    self->writer = false;
    self->pending = 0;
    //  A failed attempt holds the next one off; a connection that was
    //  working and broke is made again at once
    self->next_attempt = zclock_mono () + S_RECONNECT_MSECS;
    //  Defaults first: whatever the connection string says comes after
    //  and wins. A dead host must not hold the engine for minutes.
    const char *keywords [] = {
        "connect_timeout", "keepalives_idle", "keepalives_interval",
        "keepalives_count", "tcp_user_timeout", "application_name",
        "dbname", NULL
    };
    const char *values [] = {
        "5", "5", "2", "3", "10000", "zpost-store", self->conninfo, NULL
    };
    self->conn = PQconnectdbParams (keywords, values, 1);
    if (!self->conn || PQstatus (self->conn) != CONNECTION_OK) {
        char why [512];
        const char *text = self->conn? s_why (self, NULL, why, sizeof why): "out of memory";
        zsys_error ("store_pg: cannot connect: %s%s", text,
                    strstr (text, "is read-only")
                    ? " (no host the connection string names is the primary now: "
                      "a failover may be under way, or it names only standbys)": "");
        return -1;
    }
    PQsetNoticeReceiver (self->conn, s_notice, self);
    //  idle_session_timeout (the writers' lock, S_WRITER_LOCK) came in 14
    if (PQserverVersion (self->conn) < 140000) {
        zsys_error ("store_pg: the database server %s:%s runs PostgreSQL %d.%d: the "
                    "store needs 14 or later", PQhost (self->conn), PQport (self->conn),
                    PQserverVersion (self->conn) / 10000,
                    PQserverVersion (self->conn) % 10000);
        return -1;
    }
    if (PQsetClientEncoding (self->conn, "UTF8"))
        zsys_warning ("store_pg: cannot set the client encoding to UTF8");

    //  Durability is set for the session and read back, not trusted.
    //  Notices ("already exists, skipping") are not for the store's log.
    PGresult *result = s_command (self, self->read_only
                                  ? "SET synchronous_commit = on; "
                                    "SET client_min_messages = warning"
                                  : "SET synchronous_commit = on; "
                                    "SET client_min_messages = warning; "
                                    "SET idle_in_transaction_session_timeout = '"
                                    S_IDLE_IN_TXN "'",
                                  "set synchronous_commit");
    if (!result)
        return -1;
    PQclear (result);
    //  A standby (or a server set read-only) takes the connection and
    //  refuses the first write: said here, in words that name the cure
    result = s_command (self, "SHOW transaction_read_only", "read transaction_read_only");
    if (!result)
        return -1;
    bool server_read_only = PQntuples (result) == 1
                         && streq (PQgetvalue (result, 0, 0), "on");
    PQclear (result);
    if (server_read_only && !self->read_only) {
        zsys_error ("store_pg: the database server %s:%s is read-only (a standby, "
                    "or default_transaction_read_only is on), and the store writes: "
                    "name every host of the cluster and add "
                    "target_session_attrs=read-write to the connection string, so "
                    "that the store finds the primary",
                    PQhost (self->conn), PQport (self->conn));
        return -1;
    }
    result = s_command (self, "SHOW synchronous_commit", "read synchronous_commit");
    if (!result)
        return -1;
    bool durable = PQntuples (result) == 1 && streq (PQgetvalue (result, 0, 0), "on");
    PQclear (result);
    if (!durable) {
        zsys_error ("store_pg: synchronous_commit is not on for this session; the "
                    "store runs only with durable commits");
        return -1;
    }
    result = s_command (self, "SHOW fsync", "read fsync");
    if (!result)
        return -1;
    if (PQntuples (result) == 1 && streq (PQgetvalue (result, 0, 0), "off"))
        zsys_warning ("store_pg: the server runs with fsync off: a commit is not "
                      "on disk when it returns, and a crash of the database host "
                      "loses acknowledged mail");
    PQclear (result);

    if (self->read_only? s_schema_check (self): s_schema (self))
        return -1;
    if (!self->read_only) {
        //  After the schema, whose lock may be held a while by another
        //  store migrating it
        result = s_command (self, "SET lock_timeout = '" S_TURN_WAIT "'; "
                                  "SET statement_timeout = 0",
                            "set lock_timeout");
        if (!result)
            return -1;
        PQclear (result);
        //  The unlock puts idle_session_timeout back to what the server,
        //  database or role set, read once here: reading pg_settings in
        //  the unlock itself cost 0.4 ms of every group, the lock held
        result = s_command (self, "SHOW idle_session_timeout", "read idle_session_timeout");
        if (!result)
            return -1;
        char *value = PQntuples (result) == 1
                    ? PQescapeLiteral (self->conn, PQgetvalue (result, 0, 0),
                                       strlen (PQgetvalue (result, 0, 0))): NULL;
        PQclear (result);
        zstr_free (&self->unlock_sql);
        self->unlock_sql = zsys_sprintf ("SELECT pg_advisory_unlock_all (),"
                                         " set_config ('idle_session_timeout', %s, false)",
                                         value? value: "'0'");
        PQfreemem (value);
    }
    for (int index = 0; index < store_pg_statement_count; index++) {
        result = PQprepare (self->conn, store_pg_statements [index].name,
                            store_pg_statements [index].sql, 0, NULL);
        if (PQresultStatus (result) != PGRES_COMMAND_OK) {
            char why [512];
            zsys_error ("store_pg: cannot prepare %s: %s", store_pg_statements [index].name,
                        s_why (self, result, why, sizeof why));
            PQclear (result);
            return -1;
        }
        PQclear (result);
    }
    //  The replay's write (store_pg_replayed)
    result = PQprepare (self->conn, S_CONFIRM,
                        "UPDATE zpost_replies SET created = created"
                        " WHERE scope = $1::bytea AND request_id = $2::bytea", 0, NULL);
    if (PQresultStatus (result) != PGRES_COMMAND_OK) {
        char why [512];
        zsys_error ("store_pg: cannot prepare %s: %s", S_CONFIRM,
                    s_why (self, result, why, sizeof why));
        PQclear (result);
        return -1;
    }
    PQclear (result);
    if (PQenterPipelineMode (self->conn) != 1) {
        char why [512];
        zsys_error ("store_pg: cannot enter pipeline mode: %s", s_why (self, NULL, why, sizeof why));
        return -1;
    }
    self->broken = false;
    self->next_attempt = 0;
    self->unreplicated = false;
    zsys_info ("store_pg: connected to %s:%s, database %s, schema %u",
               PQhost (self->conn), PQport (self->conn), PQdb (self->conn), self->schema);
    return 0;
}

store_pg_t *
store_pg_new (const char *conninfo, bool read_only)
{
    assert (conninfo);
    store_pg_t *self = (store_pg_t *) zmalloc (sizeof (store_pg_t));
    assert (self);
    self->read_only = read_only;
    self->conninfo = strdup (conninfo);
    assert (self->conninfo);
    const char *trace = getenv ("ZPOST_PG_TRACE");
    self->trace = trace && streq (trace, "1");
    if (s_connect (self))
        store_pg_destroy (&self);
    return self;
}

void
store_pg_destroy (store_pg_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        store_pg_t *self = *self_p;
        PQclear (self->kept);
        store_pg_cache_forget (&self->cache);
        if (self->conn)
            PQfinish (self->conn);
        zstr_free (&self->unlock_sql);
        free (self->conninfo);
        free (self);
        *self_p = NULL;
    }
}

unsigned int
store_pg_schema (store_pg_t *self)
{
    assert (self);
    return self->schema;
}

const char *
store_pg_conninfo (store_pg_t *self)
{
    assert (self);
    return self->conninfo;
}

uint64_t
store_pg_generation (store_pg_t *self)
{
    assert (self);
    return self->generation;
}

void
store_pg_keep (store_pg_t *self, PGresult *result)
{
    PQclear (self->kept);
    self->kept = result;
}

store_pg_cache_t *
store_pg_cache (store_pg_t *self)
{
    assert (self);
    return &self->cache;
}

uint64_t
store_pg_round_trips (store_pg_t *self)
{
    assert (self);
    return self->trips;
}

uint64_t
store_pg_commands (store_pg_t *self)
{
    assert (self);
    return self->commands;
}


//  --------------------------------------------------------------------------
//  The pipeline
//
//  The connection stays in libpq's pipeline mode: a command is sent
//  without waiting for its answer, and s_sync sends one Sync and reads the
//  answers of everything sent since. A caller that needs an answer (a
//  read, a command that can be refused) syncs at once; a write whose only
//  answer is "done" (store_pg_exec_deferred) and the transaction's own
//  BEGIN and SAVEPOINT wait for the next sync. A request of a group commit
//  then costs one round trip per read it makes plus one for all its
//  writes, sent with its RELEASE SAVEPOINT; the group's COMMIT is one more.
//  A deferred write's failure is seen at that RELEASE, and so is charged
//  to its own request. A request whose every command has been answered
//  without a failure (it ended with a read) sends its RELEASE without a
//  sync: it cannot fail, and goes with the next one.

//  A Sync in the middle of what is sent, whose answers are read with the
//  rest: what comes after it runs whatever failed before it
static int
s_send_sync (store_pg_t *self)
{
    if (self->broken || !self->conn)
        return STORE_UNAVAILABLE;
    if (PQpipelineSync (self->conn) != 1) {
        char why [512];
        zsys_warning ("store_pg: cannot sync: %s", s_why (self, NULL, why, sizeof why));
        s_broke (self);
        return STORE_UNAVAILABLE;
    }
    assert (self->pending < S_PENDING_MAX);
    self->kinds [self->pending] = S_KIND_SYNC;
    self->whats [self->pending++] = "Sync";
    return STORE_OK;
}

static int
s_send (store_pg_t *self, int kind, const char *name, const char *sql, int count,
        const char *const *values, const int *lengths)
{
    if (self->broken || !self->conn)
        return STORE_UNAVAILABLE;
    int formats [16];
    assert (count <= 16);
    for (int index = 0; index < count; index++)
        formats [index] = 1;
    //  A name alone is a prepared statement; sql is sent as text, with
    //  the name (if any) for the log
    int sent = name && !sql
        ? PQsendQueryPrepared (self->conn, name, count, values, lengths, formats, 1)
        : PQsendQueryParams (self->conn, sql, count, NULL, count? values: NULL,
                             count? lengths: NULL, count? formats: NULL, 1);
    if (!sent) {
        char why [512];
        zsys_warning ("store_pg: cannot send %s: %s", name? name: sql,
                      s_why (self, NULL, why, sizeof why));
        s_broke (self);
        return STORE_UNAVAILABLE;
    }
    //  What a rollback undoes, the cache must not serve again
    if (sql && strncmp (sql, "ROLLBACK", 8) == 0)
        store_pg_cache_forget (&self->cache);

    assert (self->pending < S_PENDING_MAX);
    self->commands++;
    self->kinds [self->pending] = kind;
    self->whats [self->pending++] = name? name: sql;
    return STORE_OK;
}

//  One command's answer, by its kind; a code
static int
s_answer (store_pg_t *self, PGresult *result, int kind, const char *what)
{
    ExecStatusType status = PQresultStatus (result);
    if (status != PGRES_TUPLES_OK && status != PGRES_COMMAND_OK) {
        int rc = s_failure (self, result, what);
        return rc == STORE_EXISTS && kind == S_KIND_RECORD? STORE_RETRY: rc;
    }
    const char *tuples = PQcmdTuples (result);
    if (*tuples && !streq (tuples, "0") && strncmp (PQcmdStatus (result), "SELECT", 6) != 0)
        self->wrote = true;
    if (kind == S_KIND_NEW && streq (tuples, "0"))
        return STORE_EXISTS;
    if (kind == S_KIND_COMMIT && !streq (PQcmdStatus (result), "COMMIT")) {
        //  COMMIT of a transaction that had failed answers ROLLBACK. After
        //  a failure already read (a conflict with another store, most
        //  often: the sweep's), that is its consequence, run again later;
        //  without one, something is wrong here.
        if (self->clean)
            zsys_error ("store_pg: COMMIT answered %s: nothing was stored",
                        PQcmdStatus (result));
        else
            zsys_debug ("store_pg: COMMIT answered %s after a failure: nothing "
                        "was stored", PQcmdStatus (result));
        return self->clean? STORE_FAILED: STORE_RETRY;
    }
    return STORE_OK;
}

//  Whether the answers read so far reach the unlock that follows a
//  COMMIT or ROLLBACK (s_unlock_and_sync): what fails from there on
//  changes nothing that was done
static bool
s_past_commit (store_pg_t *self, int index, int count)
{
    for (int at = 0; at < count; at++)
        if (self->kinds [at] == S_KIND_UNLOCK)
            return index >= at;
    return false;
}

//  rc as the pipeline's code, *last_p let go unless all went well
static int
s_kept (int rc, PGresult **last_p)
{
    if (rc != STORE_OK && last_p) {
        PQclear (*last_p);
        *last_p = NULL;
    }
    return rc;
}

//  Sync, and read every answer. The first failure is the code; *last_p,
//  if given, gets the last command's result when all went well.
static int
s_sync_answers (store_pg_t *self, PGresult **last_p)
{
    if (self->broken || !self->conn) {
        self->pending = 0;
        return STORE_UNAVAILABLE;
    }
    int rc = STORE_OK;
    int count = self->pending;
    self->pending = 0;
    self->trips++;
    if (self->trace) {
        //  One line a round trip, naming what it carried
        char line [512] = "";
        size_t used = 0;
        for (int index = 0; index < count && used < sizeof line - 1; index++) {
            int wrote = snprintf (line + used, sizeof line - used, " %s",
                                  self->whats [index]);
            if (wrote > 0)
                used += (size_t) wrote;
        }
        zsys_info ("store_pg: trip %" PRIu64 ": %d:%s", self->trips, count, line);
    }
    if (PQpipelineSync (self->conn) != 1) {
        char why [512];
        zsys_warning ("store_pg: cannot sync: %s", s_why (self, NULL, why, sizeof why));
        s_broke (self);
        return STORE_UNAVAILABLE;
    }
    int index = 0;
    int nulls = 0;
    while (true) {
        PGresult *result = PQgetResult (self->conn);
        if (!result) {
            //  Each command's answers end with one NULL; more in a row
            //  means nothing is coming
            if (++nulls > 2 || PQstatus (self->conn) == CONNECTION_BAD) {
                char why [512];
                zsys_warning ("store_pg: the answers stopped: %s",
                              s_why (self, NULL, why, sizeof why));
                s_broke (self);
                if (s_past_commit (self, index, count))
                    return s_kept (rc, last_p);
                return STORE_UNAVAILABLE;
            }
            continue;
        }
        nulls = 0;
        ExecStatusType status = PQresultStatus (result);
        if (status == PGRES_PIPELINE_SYNC) {
            PQclear (result);
            if (index < count && self->kinds [index] == S_KIND_SYNC) {
                index++;            //  one sent in the middle: read on
                continue;
            }
            break;
        }
        if (index < count && self->kinds [index] == S_KIND_UNLOCK) {
            //  Its failure is no one's: the COMMIT before it stands. A
            //  session that may still hold the lock is dropped, which
            //  lets it go.
            PQclear (result);
            if (status == PGRES_TUPLES_OK) {
                self->writer = false;
                index++;
                continue;
            }
            //  Nothing more is read on it: a failure now (the final
            //  Sync's) would be taken for the COMMIT's
            zsys_warning ("store_pg: the writers' lock could not be let go: "
                          "the connection is closed");
            s_broke (self);
            return s_kept (rc, last_p);
        }
        if (status != PGRES_TUPLES_OK && status != PGRES_COMMAND_OK)
            self->clean = false;
        if (status != PGRES_PIPELINE_ABORTED && index < count) {
            int answer = s_answer (self, result, self->kinds [index], self->whats [index]);
            if (rc == STORE_OK)
                rc = answer;
            if (rc == STORE_OK && last_p && index == count - 1) {
                *last_p = result;
                result = NULL;
            }
        }
        else
        if (status == PGRES_FATAL_ERROR && rc == STORE_OK)
            rc = s_failure (self, result, "the pipeline");
        PQclear (result);
        index++;
        if (self->broken) {
            //  The connection is gone: nothing more to read on it
            if (last_p) {
                PQclear (*last_p);
                *last_p = NULL;
            }
            return STORE_UNAVAILABLE;
        }
    }
    return s_kept (rc, last_p);
}

//  s_sync_answers, and a commit among them that the synchronous standby
//  did not confirm (s_notice) is STORE_UNCONFIRMED, with
//  self->unreplicated set, whatever the answers said
static int
s_sync (store_pg_t *self, PGresult **last_p)
{
    if (last_p)
        *last_p = NULL;
    if (self->pending == 0)
        return STORE_OK;
    //  Only a commit waits for the standby: a COMMIT, or a statement on
    //  its own outside a write transaction. A warning elsewhere is some
    //  other (s_unreplicated_notice takes any 01000), and must not fail
    //  a transaction that goes on.
    bool commits = !self->in_txn;
    for (int index = 0; index < self->pending; index++)
        if (self->kinds [index] == S_KIND_COMMIT)
            commits = true;
    self->unreplicated = false;
    int rc = s_sync_answers (self, last_p);
    if (self->unreplicated && !commits) {
        zsys_debug ("store_pg: the server says: %s", self->unreplicated_why);
        self->unreplicated = false;
    }
    if (self->unreplicated) {
        zsys_warning ("store_pg: NOT REPLICATED: a commit returned without the "
                      "synchronous standby's confirmation (%s); it stays on this "
                      "server, perhaps not on the standby: its requests are "
                      "answered 503, and a retry is answered once the standby "
                      "confirms", self->unreplicated_why);
        if (last_p) {
            PQclear (*last_p);
            *last_p = NULL;
        }
        rc = STORE_UNCONFIRMED;
    }
    return rc;
}

//  Run one control command (or SQL without parameters) now; a code
static int
s_control (store_pg_t *self, const char *sql, int kind)
{
    int rc = s_send (self, kind, NULL, sql, 0, NULL, NULL);
    int synced = s_sync (self, NULL);
    return rc? rc: synced;
}


//  Sync what was sent, and let the writers' lock go if it is held: behind
//  a Sync of its own, so that it runs even when what came before failed
static int
s_unlock_and_sync (store_pg_t *self)
{
    if (self->writer) {
        int rc = s_send_sync (self);
        if (rc == STORE_OK)
            rc = s_send (self, S_KIND_UNLOCK, NULL, self->unlock_sql, 0, NULL, NULL);
        if (rc != STORE_OK) {
            self->pending = 0;
            return rc;
        }
    }
    return s_sync (self, NULL);
}


//  --------------------------------------------------------------------------
//  Statements

int
store_pg_exec (store_txn_t *txn, int statement, int count,
               const char *const *values, const int *lengths, PGresult **result_p)
{
    assert (txn && txn->pg);
    assert (statement >= 0 && statement < store_pg_statement_count);
    store_pg_t *self = txn->pg;
    *result_p = NULL;
    int rc = s_send (self, S_KIND_PLAIN, store_pg_statements [statement].name, NULL,
                     count, values, lengths);
    int synced = s_sync (self, result_p);
    return rc? rc: synced;
}

int
store_pg_exec_custom (store_txn_t *txn, int statement, int count,
                      const char *const *values, const int *lengths, PGresult **result_p)
{
    assert (txn && txn->pg);
    assert (statement >= 0 && statement < store_pg_statement_count);
    store_pg_t *self = txn->pg;
    *result_p = NULL;
    int rc = s_send (self, S_KIND_PLAIN, store_pg_statements [statement].name,
                     store_pg_statements [statement].sql, count, values, lengths);
    int synced = s_sync (self, result_p);
    return rc? rc: synced;
}

int
store_pg_exec_deferred (store_txn_t *txn, int statement, int kind, int count,
                        const char *const *values, const int *lengths)
{
    assert (txn && txn->pg);
    store_pg_t *self = txn->pg;
    int rc = s_send (self, kind, store_pg_statements [statement].name, NULL,
                     count, values, lengths);
    //  Outside a write transaction there is no later sync to wait for;
    //  and a pipeline is kept short
    if (rc == STORE_OK && (!txn->write || self->pending >= S_PENDING_MAX - 4))
        rc = s_sync (self, NULL);
    return rc;
}

//  Why a replay writes. A recorded reply may belong to a commit whose
//  wait for the synchronous standby was cancelled: its client was told
//  503 (s_sync) and retries, and the record it finds is on this server
//  but perhaps not yet on the standby. Replayed as it stands, the 200
//  would acknowledge mail that a failover can lose. PostgreSQL 15 gives
//  no way to wait for the standby to reach an LSN, and a transaction
//  that writes nothing does not wait at COMMIT; one that writes does, up
//  to its own commit's LSN, which lies past the recorded one (the record
//  was visible, so its commit came earlier in the WAL). So the replay
//  writes, a no-op update of the record itself, and its reply goes out
//  after that commit as every reply does: only once the standby has the
//  recorded data, and as a 503 again if that wait is cancelled too. A
//  replay is a client's retry, rare; the path of new requests pays
//  nothing, and no schema change is needed.
int
store_pg_replayed (store_txn_t *txn, const void *scope, size_t scope_size,
                   const char *request_id)
{
    assert (txn && txn->pg);
    store_pg_t *self = txn->pg;
    //  A snapshot cannot write; nothing is answered from one
    if (self->in_txn && self->snapshot)
        return STORE_OK;
    const char *values [2] = { scope_size? (const char *) scope: "", request_id };
    int lengths [2] = { (int) scope_size, (int) strlen (request_id) };
    int rc = s_send (self, S_KIND_PLAIN, S_CONFIRM, NULL, 2, values, lengths);
    //  In a write transaction the group's COMMIT waits; outside one, the
    //  statement commits (and waits) by itself, now
    if (rc == STORE_OK && (!txn->write || self->pending >= S_PENDING_MAX - 4))
        rc = s_sync (self, NULL);
    return rc;
}

uint64_t
store_pg_database_size (store_pg_t *self)
{
    assert (self);
    uint64_t size = 0;
    //  STATS reads it after the counters, which brought it with them
    if (store_pg_cache_meta (&self->cache, " size", &size) == 0)
        return size;
    int rc = s_send (self, S_KIND_PLAIN, NULL,
                     "SELECT pg_database_size (current_database ())", 0, NULL, NULL);
    PGresult *result = NULL;
    if (rc == STORE_OK)
        rc = s_sync (self, &result);
    if (rc == STORE_OK && PQntuples (result) == 1 && PQgetlength (result, 0, 0) == 8) {
        const uint8_t *in = (const uint8_t *) PQgetvalue (result, 0, 0);
        for (int index = 0; index < 8; index++)
            size = (size << 8) | in [index];
    }
    PQclear (result);
    return size;
}


//  --------------------------------------------------------------------------
//  Transactions

//  A transaction, of which a top-level one with bookkeeping (in_txn,
//  COMMIT at the end) opens with begin_sql
static int
s_txn_begin (store_db_t *db, store_pg_t *self, store_txn_t *parent,
             bool write, bool writer, const char *begin_sql, store_txn_t **txn_p)
{
    *txn_p = NULL;
    if (!parent && (self->broken || !self->conn) && !self->in_txn) {
        if (zclock_mono () < self->next_attempt)
            return STORE_UNAVAILABLE;
        if (s_connect (self))
            return STORE_UNAVAILABLE;
    }
    int rc = STORE_OK;
    //  A new transaction: nothing read before it may be served in it (a
    //  read-only one inside an open write one is part of that one)
    if (!parent && (write || !self->in_txn))
        store_pg_cache_forget (&self->cache);
    //  BEGIN and SAVEPOINT go with the transaction's first command
    if (parent) {
        rc = s_send (self, S_KIND_PLAIN, NULL, "SAVEPOINT zs", 0, NULL, NULL);
        self->clean = true;
    }
    else
    if (write) {
        if (self->in_txn) {
            zsys_error ("store_pg: a write transaction is already open");
            return STORE_FAILED;
        }
        if (writer && !self->writer) {
            //  Between this Sync and the BEGIN the session is idle outside
            //  a transaction, where idle_in_transaction_session_timeout
            //  does not reach: a store frozen there would hold every
            //  store's writes. idle_session_timeout does, while it holds
            //  the lock (PostgreSQL 14 and later).
            if (self->turn_waited) {
                //  The wait before timed out: a holder stuck past
                //  S_TURN_STUCK is ended first. Its own store finds its
                //  connection gone and answers its group 503.
                rc = s_send (self, S_KIND_PLAIN, NULL,
                             "SELECT pg_terminate_backend (l.pid)"
                             " FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid"
                             " WHERE l.locktype = 'advisory' AND l.granted"
                             //  pg_locks names a bigint key by its halves
                             " AND l.objsubid = 1"
                             " AND (l.classid::int8 << 32 | l.objid::int8) = " S_WRITER_LOCK
                             " AND l.pid <> pg_backend_pid ()"
                             " AND l.database = (SELECT oid FROM pg_database"
                             "   WHERE datname = current_database ())"
                             " AND a.usename = current_user"
                             " AND clock_timestamp () - coalesce (a.xact_start, a.query_start)"
                             " > interval '" S_TURN_STUCK "'",
                             0, NULL, NULL);
                self->turn_waited = false;
            }
            if (rc == STORE_OK)
                rc = s_send (self, S_KIND_PLAIN, NULL,
                             "SELECT pg_advisory_lock (" S_WRITER_LOCK "),"
                             " set_config ('idle_session_timeout', '" S_IDLE_IN_TXN "', false)",
                             0, NULL, NULL);
            if (rc == STORE_OK)
                rc = s_send_sync (self);
            if (rc == STORE_OK)
                self->writer = true;
        }
        if (rc == STORE_OK)
            rc = s_send (self, S_KIND_PLAIN, NULL, begin_sql, 0, NULL, NULL);
        if (rc == STORE_OK) {
            self->in_txn = true;
            self->wrote = false;
            self->clean = true;
        }
    }
    //  else: a read-only transaction sends nothing: each of its commands
    //  runs on its own
    if (rc)
        return rc;
    store_txn_t *txn = (store_txn_t *) zmalloc (sizeof (store_txn_t));
    assert (txn);
    txn->db = db;
    txn->pg = self;
    txn->write = write;
    txn->nested = parent != NULL;
    *txn_p = txn;
    return STORE_OK;
}

int
store_pg_txn_begin (store_db_t *db, store_pg_t *self, store_txn_t *parent,
                    bool write, store_txn_t **txn_p)
{
    assert (self);
    if (write && self->read_only) {
        *txn_p = NULL;
        zsys_error ("store_pg: a write transaction on a store opened to read");
        return STORE_FAILED;
    }
    return s_txn_begin (db, self, parent, write, write && !parent,
                        "BEGIN ISOLATION LEVEL SERIALIZABLE", txn_p);
}

int
store_pg_txn_begin_snapshot (store_db_t *db, store_pg_t *self, store_txn_t **txn_p)
{
    //  A write transaction's bookkeeping, begun read-only: every statement
    //  of it reads one snapshot of what was committed. REPEATABLE READ,
    //  not SERIALIZABLE: a standby refuses serializable transactions, and
    //  a reader may be on one (--export, --digest).
    assert (self);
    int rc = s_txn_begin (db, self, NULL, true, false,
                          "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", txn_p);
    if (rc == STORE_OK)
        self->snapshot = true;      //  the BEGIN goes with the first read
    return rc;
}

//  End a top-level transaction's state
static void
s_ended (store_pg_t *self, store_txn_t *txn)
{
    if (!txn->nested && txn->write) {
        self->in_txn = false;
        self->snapshot = false;
    }
    if (!txn->nested && !self->in_txn) {
        PQclear (self->kept);
        self->kept = NULL;
    }
}

int
store_pg_txn_commit (store_txn_t **txn_p)
{
    assert (txn_p && *txn_p);
    store_txn_t *txn = *txn_p;
    store_pg_t *self = txn->pg;
    int rc = STORE_OK;
    if (txn->nested && self->pending == 0 && self->clean && !self->broken) {
        //  Everything the request sent has been answered, and nothing
        //  failed (its SAVEPOINT's answer included: a transaction already
        //  failed would have refused it): its RELEASE cannot fail, so it
        //  waits for the next sync, the next request's first read or the
        //  group's COMMIT, and saves a round trip. The sweep that ends
        //  every group, a LIST, a READ of a seen message end so.
        rc = s_send (self, S_KIND_PLAIN, NULL, "RELEASE SAVEPOINT zs", 0, NULL, NULL);
    }
    else
    if (txn->nested) {
        rc = s_control (self, "RELEASE SAVEPOINT zs", S_KIND_PLAIN);
        if (rc != STORE_OK && !self->broken) {
            //  A deferred write of this request failed, which leaves the
            //  whole transaction failed: undo the request alone, so that
            //  the parent, and the group's other requests, go on
            s_send (self, S_KIND_PLAIN, NULL, "ROLLBACK TO SAVEPOINT zs", 0, NULL, NULL);
            s_send (self, S_KIND_PLAIN, NULL, "RELEASE SAVEPOINT zs", 0, NULL, NULL);
            s_sync (self, NULL);
        }
    }
    else
    if (txn->write) {
        rc = s_send (self, S_KIND_COMMIT, NULL, "COMMIT", 0, NULL, NULL);
        int synced = rc == STORE_OK? s_unlock_and_sync (self): STORE_OK;
        rc = rc? rc: synced;
        if (self->unreplicated) {
            //  Committed here all the same (STORE_UNCONFIRMED: 503): there
            //  is nothing to roll back, and a retry finds the records
            if (self->wrote)
                self->generation++;
        }
        else {
            if (rc == STORE_OK && self->wrote)
                self->generation++;
            if (rc != STORE_OK && !self->broken)
                s_control (self, "ROLLBACK", S_KIND_PLAIN);
        }
    }
    else
    if (!self->in_txn)
        rc = s_sync (self, NULL);
    s_ended (self, txn);
    free (txn);
    *txn_p = NULL;
    return rc;
}

void
store_pg_txn_abort (store_txn_t **txn_p)
{
    assert (txn_p);
    store_txn_t *txn = *txn_p;
    if (!txn)
        return;
    store_pg_t *self = txn->pg;
    //  A read-only transaction inside a write one leaves the writer's
    //  pipeline alone
    if (!txn->write && !txn->nested && self->in_txn) {
        free (txn);
        *txn_p = NULL;
        return;
    }
    //  What was sent is answered first (a failure there is why we abort,
    //  and has been counted), then undone
    s_sync (self, NULL);
    if (txn->nested) {
        s_send (self, S_KIND_PLAIN, NULL, "ROLLBACK TO SAVEPOINT zs", 0, NULL, NULL);
        s_send (self, S_KIND_PLAIN, NULL, "RELEASE SAVEPOINT zs", 0, NULL, NULL);
        s_sync (self, NULL);
    }
    else
    if (txn->write) {
        if (s_send (self, S_KIND_PLAIN, NULL, "ROLLBACK", 0, NULL, NULL) == STORE_OK)
            s_unlock_and_sync (self);
    }
    s_ended (self, txn);
    free (txn);
    *txn_p = NULL;
}


//  --------------------------------------------------------------------------
//  The login throttle, shared by every store on the database (schema 2).
//  Each call is one statement of its own, outside any transaction: the
//  engine asks before and after a password check, never inside a group.

//  Run sql, whose answer is one bigint array, with text parameters (NULL:
//  SQL NULL) on its own; its first `count` numbers go to answers (missing
//  ones are 0). A code.
static int
s_call (store_pg_t *self, const char *sql, int params, const char *const *values,
        int64_t *answers, int count)
{
    if (self->in_txn || self->pending) {
        zsys_error ("store_pg: the throttle was asked inside a transaction");
        return STORE_FAILED;
    }
    if (self->broken || !self->conn) {
        if (zclock_mono () < self->next_attempt || s_connect (self))
            return STORE_UNAVAILABLE;
    }
    for (int index = 0; index < count; index++)
        answers [index] = 0;
    int rc = STORE_RETRY;
    //  A deadlock or a serialization failure between two stores charging
    //  the same keys is tried again; it cannot last
    for (int attempt = 0; attempt < 3 && rc == STORE_RETRY; attempt++) {
        if (!PQsendQueryParams (self->conn, sql, params, NULL, values, NULL, NULL, 0)) {
            char why [512];
            zsys_warning ("store_pg: cannot send the throttle's call: %s",
                          s_why (self, NULL, why, sizeof why));
            s_broke (self);
            return STORE_UNAVAILABLE;
        }
        self->kinds [0] = S_KIND_PLAIN;
        self->whats [0] = "the login throttle";
        self->commands++;
        self->pending = 1;
        PGresult *result = NULL;
        rc = s_sync (self, &result);
        if (rc == STORE_OK) {
            //  "{1,2,3,4}"
            const char *text = PQntuples (result) == 1? PQgetvalue (result, 0, 0): "";
            if (*text++ != '{')
                rc = STORE_FAILED;
            for (int index = 0; rc == STORE_OK && index < count && *text; index++) {
                char *end;
                answers [index] = strtoll (text, &end, 10);
                if (end == text || (*end != ',' && *end != '}'))
                    rc = STORE_FAILED;
                text = *end == ','? end + 1: end;
            }
        }
        PQclear (result);
    }
    if (rc == STORE_FAILED)
        zsys_error ("store_pg: the throttle's answer is not what the schema gives");
    //  The throttle's functions commit without waiting for a standby;
    //  were one to be unconfirmed all the same, a counter is no mail
    return rc == STORE_RETRY || rc == STORE_UNCONFIRMED? STORE_UNAVAILABLE: rc;
}

//  Call the schema's zpost_throttle_<action> with the rules' numbers
static int
s_throttle_call (store_pg_t *self, const char *action, const char *key,
                 const char *user, int64_t first_delay, int64_t *answers, int count)
{
    char first [24], free_failures [24], max_delay [24];
    snprintf (first, sizeof first, "%" PRId64, first_delay);
    snprintf (free_failures, sizeof free_failures, "%d", STORE_THROTTLE_FREE_FAILURES);
    snprintf (max_delay, sizeof max_delay, "%" PRId64, (int64_t) STORE_THROTTLE_MAX_DELAY_MS);
    const char *values [] = { key, user, first, free_failures, max_delay };
    char *sql = zsys_sprintf ("SELECT zpost_throttle_%s ($1, $2, $3, $4, $5)", action);
    int rc = s_call (self, sql, 5, values, answers, count);
    zstr_free (&sql);
    return rc;
}

int
store_pg_throttle_charge (store_pg_t *self, const char *key, const char *user,
                          int64_t first_delay, int64_t *wait_ms, int64_t *delay_ms)
{
    assert (self);
    assert (key);
    int64_t answers [4];
    int rc = s_throttle_call (self, "charge", key, user, first_delay, answers, 4);
    for (int index = 0; index < 2; index++) {
        wait_ms [index] = rc == STORE_OK? answers [index]: 0;
        delay_ms [index] = rc == STORE_OK? answers [2 + index]: 0;
    }
    return rc;
}

int
store_pg_throttle_refund (store_pg_t *self, const char *key, const char *user,
                          int64_t first_delay)
{
    assert (self);
    int64_t answer;
    return s_throttle_call (self, "refund", key, user, first_delay, &answer, 1);
}

int
store_pg_throttle_success (store_pg_t *self, const char *key, const char *user)
{
    assert (self);
    const char *values [] = { key, user };
    int64_t answer;
    return s_call (self, "SELECT zpost_throttle_success ($1, $2)", 2, values, &answer, 1);
}

int
store_pg_throttle_forget (store_pg_t *self, size_t max_keys)
{
    assert (self);
    char forget [24], max [24];
    snprintf (forget, sizeof forget, "%" PRId64, (int64_t) STORE_THROTTLE_FORGET_MS);
    snprintf (max, sizeof max, "%zu", max_keys);
    //  Keys with no failure for a day, keys whose attempt was refunded to
    //  nothing, and past max_keys the oldest, as the table in memory does
    const char *values [] = { forget, max };
    int64_t answer;
    return s_call (self,
        "WITH gone AS (DELETE FROM zpost_throttle"
        "  WHERE last_failure < zpost_now_ms () - $1::bigint"
        "  OR failures = 0 AND not_before < zpost_now_ms () - 60000"
        "  OR key IN (SELECT key FROM zpost_throttle ORDER BY last_failure DESC"
        "             OFFSET $2::bigint) RETURNING 1)"
        " SELECT ARRAY [count (*)] FROM gone", 2, values, &answer, 1);
}
