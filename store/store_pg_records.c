/*  =========================================================================
    store_pg_records - the store's records as PostgreSQL rows

    The PostgreSQL counterpart of store_records.c and store_messages.c:
    the same records, one table each (the schema is in store_pg.c), read
    and written with prepared statements whose parameters and results are
    all in binary form, so that nothing is formatted or parsed as text
    and bytes go in and out as they are.

        zpost_users         name -> the user record's fields
        zpost_sessions      digest -> session (indexed by user id)
        zpost_known_keys    (user id, client key)
        zpost_messages      id -> message, with its count of folders and
                            its thread (thread_id NULL: its own)
        zpost_folders       (user id, folder, message id) -> seen, flagged
        zpost_replies       (scope, request id) -> time, digest, reply
        zpost_meta          name -> value: the schema version, counters
        zpost_next_user_id, zpost_next_message_id: sequences

    Ids come from sequences, so that store processes sharing the database
    never hand out one id twice and never wait for each other to get one;
    a rolled-back transaction leaves a gap, which is harmless (ids are only
    "never reused").

    Two copies of one request processed at once by two stores: write
    transactions are SERIALIZABLE, so the copy that looked the reply up
    and found nothing, then wrote, fails with a serialization failure (or
    its reply record with a duplicate key) when the other commits first;
    either is STORE_RETRY, the group runs again, and this time the lookup
    finds the record and answers with it. One change, one reply.
    =========================================================================
*/

#include "store_pg.h"
#include <sodium.h>
#include <string.h>

//  The session part of the sweep (z_sweep): walk, the
//  sessions examined; gone, one row a session deleted
#define S_SESSIONS_GONE \
    "walk AS (SELECT digest, created, last_used," \
    "   row_number () OVER (ORDER BY digest) AS n FROM zpost_sessions" \
    "   WHERE digest >= $1::bytea ORDER BY digest LIMIT $2::int8 + 1)," \
    " gone AS (DELETE FROM zpost_sessions s USING walk w" \
    "   WHERE s.digest = w.digest AND w.n <= $2::int8" \
    "   AND ($3::int8 > w.last_used + $4::int8 OR $3::int8 > w.created + $5::int8)" \
    "   RETURNING 1)"
//  The replies the sweep deletes: at most (max) of those created before
//  (older), oldest first
#define S_REPLIES_GONE(older,max) \
    "(scope, request_id) IN (SELECT scope, request_id FROM zpost_replies" \
    " WHERE created < " older "::int8 ORDER BY created LIMIT " max "::int8)"

//  The statements, by index; names are "zN" so they are short on the wire
enum {
    S_USER_GET, S_USER_INSERT, S_USER_UPSERT, S_USER_DELETE,
    S_SESSION_GET, S_SESSION_PUT, S_SESSION_DELETE, S_SESSION_DELETE_ALL,
    S_SESSION_COUNT, S_REPLY_COUNT,
    S_KNOWN_KEY_GET, S_KNOWN_KEY_PUT,
    S_MESSAGE_PUT, S_MESSAGE_GET, S_MESSAGE_UNREF, S_MESSAGE_DECREF, S_MESSAGE_DELETE,
    S_FOLDER_PUT, S_FOLDER_GET, S_FOLDER_DELETE, S_FOLDER_WALK, S_THREAD_WALK,
    S_FOLDER_EMPTY,
    S_FOLDER_SEARCH,
    S_COUNTER_ADD, S_NEXT_USER_ID, S_NEXT_MESSAGE_ID,
    S_REPLY_GET, S_REPLY_PUT, S_REPLY_EXPIRE,
    S_USER_WALK, S_SESSION_WALK, S_KNOWN_KEY_WALK, S_MESSAGE_WALK, S_FOLDER_WALK_ALL,
    S_REPLY_WALK, S_COUNTER_WALK, S_COUNTER_SET, S_SET_USER_ID, S_SET_MESSAGE_ID,
    S_META_ALL, S_SWEEP,
    S_NOTIFY_USERS, S_INBOX_STATE,
    S_STATEMENTS
};

const store_pg_statement_t store_pg_statements [] = {
    [S_USER_GET] = { "z_user_get",
        "SELECT id, created, inbox_count, inbox_unread, inbox_bytes, sent_count,"
        " sent_bytes, hash FROM zpost_users WHERE name = $1::text" },
    [S_USER_INSERT] = { "z_user_insert",
        "INSERT INTO zpost_users VALUES ($1::text, $2::int8, $3::int8, $4::int8,"
        " $5::int8, $6::int8, $7::int8, $8::int8, $9::text) ON CONFLICT DO NOTHING" },
    [S_USER_UPSERT] = { "z_user_upsert",
        "INSERT INTO zpost_users VALUES ($1::text, $2::int8, $3::int8, $4::int8,"
        " $5::int8, $6::int8, $7::int8, $8::int8, $9::text)"
        " ON CONFLICT (name) DO UPDATE SET id = EXCLUDED.id, created = EXCLUDED.created,"
        " inbox_count = EXCLUDED.inbox_count, inbox_unread = EXCLUDED.inbox_unread,"
        " inbox_bytes = EXCLUDED.inbox_bytes, sent_count = EXCLUDED.sent_count,"
        " sent_bytes = EXCLUDED.sent_bytes, hash = EXCLUDED.hash" },
    //  An account and what hangs on its id but sessions and folders
    //  (store_records.h, store_user_delete), in one statement
    [S_USER_DELETE] = { "z_user_delete",
        "WITH keys AS (DELETE FROM zpost_known_keys WHERE user_id = $2::int8),"
        " replies AS (DELETE FROM zpost_replies WHERE scope = $3::bytea)"
        " DELETE FROM zpost_users WHERE name = $1::text" },
    //  The session with its user's row: every caller reads that next
    //  (store_checks.c), and this way both cost one round trip
    [S_SESSION_GET] = { "z_session_get",
        "SELECT s.user_id, s.username, s.client_key, s.created, s.last_used,"
        " u.id, u.created, u.inbox_count, u.inbox_unread, u.inbox_bytes, u.sent_count,"
        " u.sent_bytes, u.hash FROM zpost_sessions s"
        " LEFT JOIN zpost_users u ON u.name = s.username WHERE s.digest = $1::bytea" },
    [S_SESSION_PUT] = { "z_session_put",
        "INSERT INTO zpost_sessions VALUES ($1::bytea, $2::int8, $3::text, $4::text,"
        " $5::int8, $6::int8) ON CONFLICT (digest) DO UPDATE SET"
        " user_id = EXCLUDED.user_id, username = EXCLUDED.username,"
        " client_key = EXCLUDED.client_key, created = EXCLUDED.created,"
        " last_used = EXCLUDED.last_used" },
    [S_SESSION_DELETE] = { "z_session_delete",
        "DELETE FROM zpost_sessions WHERE digest = $1::bytea" },
    [S_SESSION_DELETE_ALL] = { "z_session_delete_all",
        "DELETE FROM zpost_sessions WHERE user_id = $1::int8 AND digest <> $2::bytea" },
    [S_SESSION_COUNT] = { "z_session_count", "SELECT count (*) FROM zpost_sessions" },
    [S_REPLY_COUNT] = { "z_reply_count", "SELECT count (*) FROM zpost_replies" },
    [S_KNOWN_KEY_GET] = { "z_known_key_get",
        "SELECT 1 FROM zpost_known_keys WHERE user_id = $1::int8 AND client_key = $2::text" },
    [S_KNOWN_KEY_PUT] = { "z_known_key_put",
        "INSERT INTO zpost_known_keys VALUES ($1::int8, $2::text) ON CONFLICT DO NOTHING" },
    [S_MESSAGE_PUT] = { "z_message_put",
        "INSERT INTO zpost_messages VALUES ($1::int8, $2::int8, $3::bytea, $4::bytea,"
        " $5::bytea, $6::bytea, $7::int4, NULLIF ($8::int8, 0), $9::int8)" },
    [S_MESSAGE_GET] = { "z_message_get",
        "SELECT date, sender, recipients, subject, body, coalesce (thread_id, id),"
        " in_reply_to FROM zpost_messages WHERE id = $1::int8" },
    //  One reference less, and the message gone with its last one, in one
    //  statement: the refs left (0: it was freed), no row if there is no
    //  such message. Of the two parts, one at most finds the row, in the
    //  statement's one snapshot.
    [S_MESSAGE_UNREF] = { "z_message_unref",
        "WITH gone AS (DELETE FROM zpost_messages WHERE id = $1::int8 AND refs <= 1"
        "   RETURNING 0),"
        " kept AS (UPDATE zpost_messages SET refs = refs - 1"
        "   WHERE id = $1::int8 AND refs > 1 RETURNING refs)"
        " SELECT refs FROM kept UNION ALL SELECT 0 FROM gone" },
    //  The same two parts alone, for a message whose count of references
    //  this transaction has just read (store_pg_message_unref)
    [S_MESSAGE_DECREF] = { "z_message_decref",
        "UPDATE zpost_messages SET refs = refs - 1 WHERE id = $1::int8" },
    [S_MESSAGE_DELETE] = { "z_message_delete",
        "DELETE FROM zpost_messages WHERE id = $1::int8" },
    [S_FOLDER_PUT] = { "z_folder_put",
        "INSERT INTO zpost_folders VALUES ($1::int8, $2::int2, $3::int8, $4::bool,"
        " $5::bool) ON CONFLICT (user_id, folder, message_id) DO UPDATE SET"
        " seen = EXCLUDED.seen, flagged = EXCLUDED.flagged" },
    //  An entry with its message, which READ and DELETE read next: the
    //  message's columns as z_message_get's, after the entry's (the body
    //  only up to S_BODY_PREFETCH bytes, else NULL and read on its own)
    [S_FOLDER_GET] = { "z_folder_get",
        "SELECT f.seen, f.message_id, m.id, m.date, m.sender, m.recipients, m.subject,"
        " CASE WHEN length (m.body) <= 32768 THEN m.body END, m.refs, f.flagged,"
        " coalesce (m.thread_id, m.id), m.in_reply_to"
        " FROM zpost_folders f LEFT JOIN zpost_messages m ON m.id = f.message_id"
        " WHERE f.user_id = $1::int8 AND f.folder = $2::int2 AND f.message_id = $3::int8" },
    [S_FOLDER_DELETE] = { "z_folder_delete",
        "DELETE FROM zpost_folders WHERE user_id = $1::int8 AND folder = $2::int2"
        " AND message_id = $3::int8" },
    //  A whole folder gone (store_folder_empty): the messages it held
    //  the last reference of are deleted, the others lose one; the two
    //  parts touch other rows, as a statement's parts must
    [S_FOLDER_EMPTY] = { "z_folder_empty",
        "WITH gone AS (DELETE FROM zpost_folders WHERE user_id = $1::int8"
        "   AND folder = $2::int2 RETURNING message_id),"
        " freed AS (DELETE FROM zpost_messages m USING gone g"
        "   WHERE m.id = g.message_id AND m.refs <= 1 RETURNING length (m.body) AS size),"
        " kept AS (UPDATE zpost_messages m SET refs = m.refs - 1 FROM gone g"
        "   WHERE m.id = g.message_id AND m.refs > 1)"
        " SELECT count (*), coalesce (sum (size), 0) FROM freed" },
    //  A page of a folder with its messages, in the columns of
    //  z_folder_get: LIST reads each message as it visits its entry
    [S_FOLDER_WALK] = { "z_folder_walk",
        "SELECT f.seen, f.message_id, m.id, m.date, m.sender, m.recipients, m.subject,"
        " CASE WHEN length (m.body) <= 32768 THEN m.body END, m.refs, f.flagged,"
        " coalesce (m.thread_id, m.id), m.in_reply_to"
        " FROM zpost_folders f LEFT JOIN zpost_messages m ON m.id = f.message_id"
        " WHERE f.user_id = $1::int8 AND f.folder = $2::int2 AND f.message_id < $3::int8"
        " ORDER BY f.message_id DESC LIMIT $4::int8" },
    //  A batch of a thread's answers, newest first (the first message of
    //  the thread is its id, visited last by store_pg_thread_walk)
    [S_THREAD_WALK] = { "z_thread_walk",
        "SELECT id FROM zpost_messages WHERE thread_id = $1::int8 AND id < $2::int8"
        " ORDER BY id DESC LIMIT $3::int8" },
    //  A batch of SEARCH's candidates: z_folder_walk's rows whose message's
    //  search text (store_pg.h) is LIKE $5, which the trigram index of
    //  schema 4 answers; each is checked again in C. Run with
    //  store_pg_exec_custom, planned for its pattern each time: prepared,
    //  after five runs PostgreSQL may keep a generic plan, which knows no
    //  pattern and walks the folder, every message's search text made on
    //  the way: 100,000 messages took more than the broker's 5 s (bench.sh,
    //  503)
    [S_FOLDER_SEARCH] = { "z_folder_search",
        "SELECT f.seen, f.message_id, m.id, m.date, m.sender, m.recipients, m.subject,"
        " CASE WHEN length (m.body) <= 32768 THEN m.body END, m.refs, f.flagged,"
        " coalesce (m.thread_id, m.id), m.in_reply_to"
        " FROM zpost_folders f JOIN zpost_messages m ON m.id = f.message_id"
        " WHERE f.user_id = $1::int8 AND f.folder = $2::int2 AND f.message_id < $3::int8"
        " AND " STORE_PG_SEARCH_TEXT ("m.") " LIKE $5::text"
        " ORDER BY f.message_id DESC LIMIT $4::int8" },
    [S_COUNTER_ADD] = { "z_counter_add",
        "INSERT INTO zpost_meta VALUES ($1::text, $2::int8) ON CONFLICT (name)"
        " DO UPDATE SET value = zpost_meta.value + EXCLUDED.value RETURNING value" },
    [S_NEXT_USER_ID] = { "z_next_user_id", "SELECT nextval ('zpost_next_user_id')" },
    [S_NEXT_MESSAGE_ID] = { "z_next_message_id",
        "SELECT nextval ('zpost_next_message_id')" },
    [S_REPLY_GET] = { "z_reply_get",
        "SELECT digest, reply FROM zpost_replies WHERE scope = $1::bytea"
        " AND request_id = $2::bytea" },
    [S_REPLY_PUT] = { "z_reply_put",
        "INSERT INTO zpost_replies VALUES ($1::bytea, $2::bytea, $3::int8, $4::bytea,"
        " $5::bytea)" },
    [S_REPLY_EXPIRE] = { "z_reply_expire",
        "DELETE FROM zpost_replies WHERE " S_REPLIES_GONE ("$1", "$2") },
    //  The dump's walks (store_records.h): byte order of the LMDB keys,
    //  so names and keys are compared as bytes (COLLATE "C"), and a
    //  reply's scope by its size first. The big tables go in batches
    //  along their primary key; the others are small and come whole.
    [S_USER_WALK] = { "z_user_walk",
        "SELECT name, id, created, inbox_count, inbox_unread, inbox_bytes, sent_count,"
        " sent_bytes, hash FROM zpost_users ORDER BY name COLLATE \"C\"" },
    [S_SESSION_WALK] = { "z_session_walk",
        "SELECT digest, user_id, username, client_key, created, last_used"
        " FROM zpost_sessions WHERE digest > $1::bytea ORDER BY digest LIMIT $2::int8" },
    [S_KNOWN_KEY_WALK] = { "z_known_key_walk",
        "SELECT user_id, client_key FROM zpost_known_keys"
        " ORDER BY user_id, client_key COLLATE \"C\"" },
    [S_MESSAGE_WALK] = { "z_message_walk",
        "SELECT id, date, sender, recipients, subject, body, refs,"
        " coalesce (thread_id, id), in_reply_to FROM zpost_messages"
        " WHERE id > $1::int8 ORDER BY id LIMIT $2::int8" },
    [S_FOLDER_WALK_ALL] = { "z_folder_walk_all",
        "SELECT user_id, folder, message_id, seen, flagged FROM zpost_folders"
        " WHERE (user_id, folder, message_id) > ($1::int8, $2::int2, $3::int8)"
        " ORDER BY user_id, folder, message_id LIMIT $4::int8" },
    [S_REPLY_WALK] = { "z_reply_walk",
        "SELECT scope, request_id, created, digest, reply FROM zpost_replies"
        " ORDER BY length (scope), scope, request_id" },
    [S_COUNTER_WALK] = { "z_counter_walk",
        "SELECT name, value FROM zpost_meta WHERE name <> 'schema-version'"
        " UNION ALL SELECT 'next-user-id', CASE WHEN is_called THEN last_value ELSE 0 END"
        " FROM zpost_next_user_id"
        " UNION ALL SELECT 'next-message-id', CASE WHEN is_called THEN last_value ELSE 0 END"
        " FROM zpost_next_message_id" },
    [S_COUNTER_SET] = { "z_counter_set",
        "INSERT INTO zpost_meta VALUES ($1::text, $2::int8) ON CONFLICT (name)"
        " DO UPDATE SET value = EXCLUDED.value" },
    //  The last id handed out is $1: nextval gives $1 + 1 (1 when $1 is 0)
    [S_SET_USER_ID] = { "z_set_user_id",
        "SELECT setval ('zpost_next_user_id', greatest ($1::int8, 1), $1::int8 > 0)" },
    [S_SET_MESSAGE_ID] = { "z_set_message_id",
        "SELECT setval ('zpost_next_message_id', greatest ($1::int8, 1), $1::int8 > 0)" },
    //  Every counter, and the counts STATS gives after them, in one
    //  statement; the counts under names no counter can have
    [S_META_ALL] = { "z_meta_all",
        "SELECT name, value FROM zpost_meta"
        " UNION ALL SELECT ' replies', count (*) FROM zpost_replies"
        " UNION ALL SELECT ' sessions', count (*) FROM zpost_sessions"
        " UNION ALL SELECT ' size', pg_database_size (current_database ())" },
    //  The sweep (store_pg_sweep; store_pg_session_expire is it with no
    //  reply to expire): examine $2 sessions from $1 in digest order,
    //  delete the expired ones among them, and z_reply_expire's ($6, $7)
    //  in the same statement, so one round trip; the two parts touch
    //  different tables. Its row: the sessions deleted, the first digest
    //  not examined (none at the end of the table), the replies deleted.
    [S_SWEEP] = { "z_sweep",
        "WITH " S_SESSIONS_GONE ","
        " replies AS (DELETE FROM zpost_replies WHERE " S_REPLIES_GONE ("$6", "$7")
        "   RETURNING 1)"
        " SELECT (SELECT count (*) FROM gone),"
        "   (SELECT digest FROM walk WHERE n = $2::int8 + 1),"
        "   (SELECT count (*) FROM replies)" },
    //  WATCH: tell every store's listener (store_pg_listen.c) whose inbox
    //  this transaction changes; delivered on its commit, and only then
    [S_NOTIFY_USERS] = { "z_notify_users",
        "SELECT pg_notify ('zpost_inbox', u)"
        " FROM unnest (string_to_array ($1::text, ',')) u" },
    //  WATCH: the inbox's unread count and newest id, in one round trip
    //  (the newest from the folders' primary key, backwards)
    [S_INBOX_STATE] = { "z_inbox_state",
        "SELECT u.inbox_unread, coalesce ((SELECT max (f.message_id) FROM zpost_folders f"
        " WHERE f.user_id = u.id AND f.folder = $2::int2), 0)::int8"
        " FROM zpost_users u WHERE u.name = $1::text" },
};
const int store_pg_statement_count = S_STATEMENTS;

//  Rows a folder walk fetches first (a page of LIST, most often), and at
//  most at a time: each batch after the first twice the one before, so
//  that a LIST of 1000 costs 6 statements (64 + 128 + 3 x 256, then the rest)
#define S_WALK_BATCH        64
#define S_WALK_BATCH_MAX    256
//  A message body up to this size comes with its folder entry (z_folder_get,
//  z_folder_walk: the SQL says it too); a longer one is read on its own,
//  so that a batch of a walk holds at most S_WALK_BATCH_MAX times this
//  in memory
#define S_BODY_PREFETCH     32768
//  The columns of a message in z_folder_get's and z_folder_walk's rows:
//  id, date, sender, recipients, subject, body, refs; then the entry's
//  flagged mark (its seen mark is column 0)
#define S_PAGE_MESSAGE      2
#define S_PAGE_REFS         (S_PAGE_MESSAGE + 6)
#define S_PAGE_FLAGGED      (S_PAGE_REFS + 1)
#define S_PAGE_THREAD       (S_PAGE_REFS + 2)       //  and in_reply_to after it


//  --------------------------------------------------------------------------
//  Parameters, binary: numbers big-endian, strings and bytes as they are

typedef struct {
    int count;
    const char *values [10];
    int lengths [10];
    uint8_t numbers [10][8];
} s_params_t;

static void
s_int64 (s_params_t *params, uint64_t value)
{
    uint8_t *out = params->numbers [params->count];
    for (int index = 0; index < 8; index++)
        out [index] = (uint8_t) (value >> (56 - 8 * index));
    params->values [params->count] = (const char *) out;
    params->lengths [params->count++] = 8;
}

static void
s_int32 (s_params_t *params, uint32_t value)
{
    uint8_t *out = params->numbers [params->count];
    for (int index = 0; index < 4; index++)
        out [index] = (uint8_t) (value >> (24 - 8 * index));
    params->values [params->count] = (const char *) out;
    params->lengths [params->count++] = 4;
}

static void
s_int16 (s_params_t *params, uint16_t value)
{
    uint8_t *out = params->numbers [params->count];
    out [0] = (uint8_t) (value >> 8);
    out [1] = (uint8_t) value;
    params->values [params->count] = (const char *) out;
    params->lengths [params->count++] = 2;
}

static void
s_bool (s_params_t *params, bool value)
{
    uint8_t *out = params->numbers [params->count];
    out [0] = value? 1: 0;
    params->values [params->count] = (const char *) out;
    params->lengths [params->count++] = 1;
}

static void
s_bytes (s_params_t *params, const void *data, size_t size)
{
    //  An empty value must still not be NULL, which would be SQL NULL
    params->values [params->count] = size? (const char *) data: "";
    params->lengths [params->count++] = (int) size;
}

static void
s_text (s_params_t *params, const char *text)
{
    s_bytes (params, text, strlen (text));
}

//  A write whose answer is only "done": sent now, answered at the next
//  command that waits (store_pg.c, "The pipeline")
static int
s_write (store_txn_t *txn, int statement, int kind, s_params_t *params)
{
    store_pg_cache_t *cache = store_pg_cache (txn->pg);
    PQclear (cache->meta);
    cache->meta = NULL;
    return store_pg_exec_deferred (txn, statement, kind, params->count,
                                   params->values, params->lengths);
}

//  Any statement but the counters' own read forgets the counters read:
//  STATS reads them all in a row, and nothing between may have written
static int
s_exec (store_txn_t *txn, int statement, s_params_t *params, PGresult **result_p)
{
    store_pg_cache_t *cache = store_pg_cache (txn->pg);
    PQclear (cache->meta);
    cache->meta = NULL;
    return store_pg_exec (txn, statement, params? params->count: 0,
                          params? params->values: NULL,
                          params? params->lengths: NULL, result_p);
}

//  Results, binary. A field of the wrong size is a damaged record.
static uint64_t
s_get_int (const PGresult *result, int row, int column)
{
    const uint8_t *in = (const uint8_t *) PQgetvalue (result, row, column);
    int size = PQgetlength (result, row, column);
    uint64_t value = 0;
    for (int index = 0; index < size; index++)
        value = (value << 8) | in [index];
    return value;
}

static bool
s_get_bool (const PGresult *result, int row, int column)
{
    return PQgetlength (result, row, column) == 1
        && *(const uint8_t *) PQgetvalue (result, row, column) == 1;
}

//  Copy a text field into a buffer of size bytes, NUL-terminated
static void
s_get_text (const PGresult *result, int row, int column, char *buffer, size_t size)
{
    size_t length = (size_t) PQgetlength (result, row, column);
    if (length >= size)
        length = size - 1;
    memcpy (buffer, PQgetvalue (result, row, column), length);
    buffer [length] = 0;
}

//  One row expected: STORE_OK, or STORE_NOTFOUND and the result cleared
static int
s_one_row (int rc, PGresult **result_p)
{
    if (rc == STORE_OK && PQntuples (*result_p) == 0) {
        PQclear (*result_p);
        *result_p = NULL;
        return STORE_NOTFOUND;
    }
    return rc;
}

//  A command that must have touched a row: STORE_NOTFOUND if none
static int
s_touched (int rc, PGresult *result)
{
    if (rc == STORE_OK && streq (PQcmdTuples (result), "0"))
        rc = STORE_NOTFOUND;
    PQclear (result);
    return rc;
}


//  An insert that must be new: STORE_EXISTS if it inserted nothing. It
//  is ON CONFLICT DO NOTHING, not an error, because an error would abort
//  the whole transaction where LMDB's MDB_KEYEXIST leaves it usable; a
//  conflict with a row another transaction has not yet committed, or
//  committed after our snapshot, is still a serialization failure.
static int
s_inserted (int rc, PGresult *result)
{
    if (rc == STORE_OK && streq (PQcmdTuples (result), "0"))
        rc = STORE_EXISTS;
    PQclear (result);
    return rc;
}


//  --------------------------------------------------------------------------
//  The cache (store_pg.h): rows this transaction has read or written

void
store_pg_cache_forget (store_pg_cache_t *cache)
{
    assert (cache);
    if (!cache->page_walk)
        PQclear (cache->page);
    PQclear (cache->meta);
    //  User rows hold password hashes: wiped, not only dropped
    sodium_memzero (cache, sizeof *cache);
}

//  Drop the page (a walk's stays the walk's to free)
static void
s_page_drop (store_pg_cache_t *cache)
{
    if (!cache->page_walk)
        PQclear (cache->page);
    cache->page = NULL;
    cache->page_walk = false;
}

//  name's value in the counters read at once (z_meta_all), which are read
//  now if they are not at hand; a code
static int
s_meta (store_txn_t *txn, const char *name, uint64_t *value)
{
    *value = 0;
    store_pg_cache_t *cache = store_pg_cache (txn->pg);
    if (!cache->meta) {
        PGresult *result;
        int rc = s_exec (txn, S_META_ALL, NULL, &result);
        if (rc)
            return rc;
        cache->meta = result;
    }
    store_pg_cache_meta (cache, name, value);
    return STORE_OK;
}

int
store_pg_cache_meta (store_pg_cache_t *cache, const char *name, uint64_t *value)
{
    if (!cache->meta)
        return -1;
    size_t size = strlen (name);
    for (int row = 0; row < PQntuples (cache->meta); row++)
        if ((size_t) PQgetlength (cache->meta, row, 0) == size
        &&  memcmp (PQgetvalue (cache->meta, row, 0), name, size) == 0) {
            *value = s_get_int (cache->meta, row, 1);
            return 0;
        }
    return -1;
}

//  The slot of the user's cached row, or -1
static int
s_user_slot (store_pg_cache_t *cache, const char *name)
{
    for (int index = 0; index < STORE_PG_USERS_CACHED; index++)
        if (cache->users [index].valid && streq (cache->users [index].name, name))
            return index;
    return -1;
}

static void
s_user_forget (store_pg_cache_t *cache, const char *name)
{
    int slot = s_user_slot (cache, name);
    if (slot >= 0)
        sodium_memzero (&cache->users [slot], sizeof cache->users [slot]);
}

static void
s_user_remember (store_pg_cache_t *cache, const char *name, const store_user_t *user)
{
    if (strlen (name) > ZPOST_NAME_MAX)
        return;
    int slot = s_user_slot (cache, name);
    if (slot < 0) {
        slot = (int) (cache->next_user++ % STORE_PG_USERS_CACHED);
        cache->users [slot].valid = true;
        strcpy (cache->users [slot].name, name);
    }
    cache->users [slot].user = *user;
}

//  A user row from result's columns first.. first + 7 (z_user_get's order)
static void
s_get_user (const PGresult *result, int first, store_user_t *user)
{
    memset (user, 0, sizeof *user);
    user->id = s_get_int (result, 0, first);
    user->created = s_get_int (result, 0, first + 1);
    user->inbox_count = s_get_int (result, 0, first + 2);
    user->inbox_unread = s_get_int (result, 0, first + 3);
    user->inbox_bytes = s_get_int (result, 0, first + 4);
    user->sent_count = s_get_int (result, 0, first + 5);
    user->sent_bytes = s_get_int (result, 0, first + 6);
    s_get_text (result, 0, first + 7, user->hash, sizeof user->hash);
}


//  --------------------------------------------------------------------------
//  Users

int
store_pg_user_get (store_txn_t *txn, const char *name, store_user_t *user)
{
    //  Read already in this transaction (SEND reads each recipient twice,
    //  and the sender after the session check): the same row again
    store_pg_cache_t *cache = store_pg_cache (txn->pg);
    int slot = s_user_slot (cache, name);
    if (slot >= 0) {
        *user = cache->users [slot].user;
        return STORE_OK;
    }
    s_params_t params = { 0 };
    s_text (&params, name);
    PGresult *result;
    int rc = s_one_row (s_exec (txn, S_USER_GET, &params, &result), &result);
    if (rc)
        return rc;
    s_get_user (result, 0, user);
    PQclear (result);
    s_user_remember (cache, name, user);
    return STORE_OK;
}

int
store_pg_user_put (store_txn_t *txn, const char *name, const store_user_t *user,
                   bool must_be_new)
{
    s_params_t params = { 0 };
    s_text (&params, name);
    s_int64 (&params, user->id);
    s_int64 (&params, user->created);
    s_int64 (&params, user->inbox_count);
    s_int64 (&params, user->inbox_unread);
    s_int64 (&params, user->inbox_bytes);
    s_int64 (&params, user->sent_count);
    s_int64 (&params, user->sent_bytes);
    s_bytes (&params, user->hash, strnlen (user->hash, STORE_HASH_SIZE));
    //  Written through: a later read in this transaction gets this row, as
    //  the database would give it. Should the write fail, the request's
    //  ROLLBACK TO SAVEPOINT forgets it.
    store_pg_cache_t *cache = store_pg_cache (txn->pg);
    int rc;
    if (must_be_new) {
        PGresult *result;
        rc = s_exec (txn, S_USER_INSERT, &params, &result);
        rc = s_inserted (rc, result);
    }
    else
        rc = s_write (txn, S_USER_UPSERT, S_KIND_PLAIN, &params);
    if (rc == STORE_OK)
        s_user_remember (cache, name, user);
    else
        s_user_forget (cache, name);
    return rc;
}


int
store_pg_user_delete (store_txn_t *txn, const char *name, uint64_t user_id)
{
    uint8_t scope [8];
    for (int index = 0; index < 8; index++)
        scope [index] = (uint8_t) (user_id >> (56 - 8 * index));
    s_params_t params = { 0 };
    s_text (&params, name);
    s_int64 (&params, user_id);
    s_bytes (&params, scope, sizeof scope);
    s_user_forget (store_pg_cache (txn->pg), name);
    PGresult *result;
    int rc = s_exec (txn, S_USER_DELETE, &params, &result);
    return s_touched (rc, result);
}


//  --------------------------------------------------------------------------
//  Sessions

int
store_pg_session_get (store_txn_t *txn, const uint8_t *digest, store_session_t *session)
{
    s_params_t params = { 0 };
    s_bytes (&params, digest, STORE_DIGEST_SIZE);
    PGresult *result;
    int rc = s_one_row (s_exec (txn, S_SESSION_GET, &params, &result), &result);
    if (rc)
        return rc;
    memset (session, 0, sizeof *session);
    session->user_id = s_get_int (result, 0, 0);
    s_get_text (result, 0, 1, session->username, sizeof session->username);
    s_get_text (result, 0, 2, session->client_key, sizeof session->client_key);
    session->created = s_get_int (result, 0, 3);
    session->last_used = s_get_int (result, 0, 4);
    //  The user's row came with it (none if the user is gone: then
    //  user_get asks, and finds none)
    if (!PQgetisnull (result, 0, 5)
    &&  (size_t) PQgetlength (result, 0, 1) <= ZPOST_NAME_MAX) {
        store_user_t user;
        s_get_user (result, 5, &user);
        s_user_remember (store_pg_cache (txn->pg), session->username, &user);
        sodium_memzero (&user, sizeof user);
    }
    PQclear (result);
    return STORE_OK;
}

int
store_pg_session_put (store_txn_t *txn, const uint8_t *digest,
                      const store_session_t *session)
{
    s_params_t params = { 0 };
    s_bytes (&params, digest, STORE_DIGEST_SIZE);
    s_int64 (&params, session->user_id);
    s_bytes (&params, session->username, strnlen (session->username, ZPOST_NAME_MAX));
    s_bytes (&params, session->client_key,
             strnlen (session->client_key, ZPOST_KEY_TEXT_SIZE));
    s_int64 (&params, session->created);
    s_int64 (&params, session->last_used);
    return s_write (txn, S_SESSION_PUT, S_KIND_PLAIN, &params);
}

int
store_pg_session_delete (store_txn_t *txn, const uint8_t *digest)
{
    s_params_t params = { 0 };
    s_bytes (&params, digest, STORE_DIGEST_SIZE);
    PGresult *result;
    int rc = s_exec (txn, S_SESSION_DELETE, &params, &result);
    return s_touched (rc, result);
}

int
store_pg_session_delete_all (store_txn_t *txn, uint64_t user_id, const uint8_t *keep,
                             size_t *ended)
{
    *ended = 0;
    s_params_t params = { 0 };
    s_int64 (&params, user_id);
    s_bytes (&params, keep, keep? STORE_DIGEST_SIZE: 0);
    PGresult *result;
    int rc = s_exec (txn, S_SESSION_DELETE_ALL, &params, &result);
    if (rc == STORE_OK)
        *ended = (size_t) strtoull (PQcmdTuples (result), NULL, 10);
    PQclear (result);
    return rc;
}

int
store_pg_session_expire (store_txn_t *txn, uint64_t now, uint64_t idle, uint64_t max,
                         uint8_t *resume, size_t examine, size_t *removed)
{
    //  The sweep with no reply to expire
    size_t replies;
    return store_pg_sweep (txn, 0, 0, now, idle, max, resume, examine, &replies, removed);
}

static int
s_count (store_txn_t *txn, int statement, uint64_t *count)
{
    *count = 0;
    PGresult *result;
    int rc = s_one_row (s_exec (txn, statement, NULL, &result), &result);
    if (rc == STORE_OK)
        *count = s_get_int (result, 0, 0);
    PQclear (result);
    return rc;
}

int
store_pg_session_count (store_txn_t *txn, uint64_t *count)
{
    if (store_pg_cache (txn->pg)->meta)
        return s_meta (txn, " sessions", count);
    return s_count (txn, S_SESSION_COUNT, count);
}

int
store_pg_reply_count (store_txn_t *txn, uint64_t *count)
{
    if (store_pg_cache (txn->pg)->meta)
        return s_meta (txn, " replies", count);
    return s_count (txn, S_REPLY_COUNT, count);
}


//  --------------------------------------------------------------------------
//  Known keys: as in LMDB, a key that is not one is never known

int
store_pg_known_key_get (store_txn_t *txn, uint64_t user_id, const char *client_key)
{
    if (strlen (client_key) != ZPOST_KEY_TEXT_SIZE)
        return STORE_NOTFOUND;
    s_params_t params = { 0 };
    s_int64 (&params, user_id);
    s_text (&params, client_key);
    PGresult *result;
    int rc = s_one_row (s_exec (txn, S_KNOWN_KEY_GET, &params, &result), &result);
    PQclear (result);
    return rc;
}

int
store_pg_known_key_put (store_txn_t *txn, uint64_t user_id, const char *client_key)
{
    if (strlen (client_key) != ZPOST_KEY_TEXT_SIZE)
        return STORE_OK;
    s_params_t params = { 0 };
    s_int64 (&params, user_id);
    s_text (&params, client_key);
    return s_write (txn, S_KNOWN_KEY_PUT, S_KIND_PLAIN, &params);
}


//  --------------------------------------------------------------------------
//  Messages

int
store_pg_message_put (store_txn_t *txn, const store_message_t *message, uint32_t refs)
{
    s_params_t params = { 0 };
    s_int64 (&params, message->id);
    s_int64 (&params, message->date);
    s_bytes (&params, message->from, message->from_size);
    s_bytes (&params, message->to, message->to_size);
    s_bytes (&params, message->subject, message->subject_size);
    s_bytes (&params, message->body, message->body_size);
    s_int32 (&params, refs);
    s_int64 (&params, message->in_reply_to? message->thread_id: 0);
    s_int64 (&params, message->in_reply_to);
    //  Ids come from a sequence: a clash is never expected. Should one
    //  come, it is the server's duplicate-key error (STORE_EXISTS), met
    //  at the request's commit, which then undoes the request alone: a
    //  deferred write must fail on the server, never only by its count
    //  of rows, or the request's savepoint would already be released.
    return s_write (txn, S_MESSAGE_PUT, S_KIND_PLAIN, &params);
}

//  The message of the page's entry for id, as z_message_get gives it:
//  STORE_OK, STORE_NOTFOUND (an entry without its message), or -1 if the
//  page does not have it whole (no entry, or a body too long to come)
static int
s_page_message (store_pg_cache_t *cache, uint64_t id, store_message_t *message)
{
    const PGresult *page = cache->page;
    if (!page)
        return -1;
    int rows = PQntuples (page);
    for (int row = 0; row < rows; row++) {
        if (s_get_int (page, row, 1) != id)
            continue;
        if (PQgetisnull (page, row, S_PAGE_MESSAGE))
            return STORE_NOTFOUND;
        int column = S_PAGE_MESSAGE + 1;
        if (PQgetisnull (page, row, column + 4))
            return -1;
        message->id = id;
        message->date = s_get_int (page, row, column);
        message->from = PQgetvalue (page, row, column + 1);
        message->from_size = (size_t) PQgetlength (page, row, column + 1);
        message->to = PQgetvalue (page, row, column + 2);
        message->to_size = (size_t) PQgetlength (page, row, column + 2);
        message->subject = PQgetvalue (page, row, column + 3);
        message->subject_size = (size_t) PQgetlength (page, row, column + 3);
        message->body = PQgetvalue (page, row, column + 4);
        message->body_size = (size_t) PQgetlength (page, row, column + 4);
        message->thread_id = s_get_int (page, row, S_PAGE_THREAD);
        message->in_reply_to = s_get_int (page, row, S_PAGE_THREAD + 1);
        return STORE_OK;
    }
    return -1;
}

//  The page's row for message id, if it holds the message; else -1
static int
s_page_row (store_pg_cache_t *cache, uint64_t id)
{
    if (!cache->page)
        return -1;
    for (int row = 0; row < PQntuples (cache->page); row++)
        if (s_get_int (cache->page, row, 1) == id)
            return PQgetisnull (cache->page, row, S_PAGE_MESSAGE)? -1: row;
    return -1;
}

int
store_pg_message_get (store_txn_t *txn, uint64_t id, store_message_t *message)
{
    //  Its folder entry was just read with it (READ, DELETE, a page of
    //  LIST): the strings point into that page, which lives until the
    //  next folder read or the end of the transaction
    int paged = s_page_message (store_pg_cache (txn->pg), id, message);
    if (paged >= 0)
        return paged;
    s_params_t params = { 0 };
    s_int64 (&params, id);
    PGresult *result;
    int rc = s_one_row (s_exec (txn, S_MESSAGE_GET, &params, &result), &result);
    if (rc)
        return rc;
    message->id = id;
    message->date = s_get_int (result, 0, 0);
    message->from = PQgetvalue (result, 0, 1);
    message->from_size = (size_t) PQgetlength (result, 0, 1);
    message->to = PQgetvalue (result, 0, 2);
    message->to_size = (size_t) PQgetlength (result, 0, 2);
    message->subject = PQgetvalue (result, 0, 3);
    message->subject_size = (size_t) PQgetlength (result, 0, 3);
    message->body = PQgetvalue (result, 0, 4);
    message->body_size = (size_t) PQgetlength (result, 0, 4);
    message->thread_id = s_get_int (result, 0, 5);
    message->in_reply_to = s_get_int (result, 0, 6);
    //  The strings point into the result: it lives until the next
    //  message read or the end of the transaction, as LMDB's map does
    store_pg_keep (txn->pg, result);
    return STORE_OK;
}

int
store_pg_message_unref (store_txn_t *txn, uint64_t id, bool *freed)
{
    *freed = false;
    s_params_t params = { 0 };
    s_int64 (&params, id);
    store_pg_cache_t *cache = store_pg_cache (txn->pg);
    int row = s_page_row (cache, id);
    if (row >= 0) {
        //  Its count was read with its folder entry (DELETE), in this
        //  transaction: which of the two it takes is known, and either
        //  finds the row or fails on the server (a concurrent change is a
        //  serialization failure), so neither is waited for. The page's
        //  count is now out of date: it goes.
        int64_t refs = (int32_t) s_get_int (cache->page, row, S_PAGE_REFS);
        s_page_drop (cache);
        *freed = refs <= 1;
        return s_write (txn, *freed? S_MESSAGE_DELETE: S_MESSAGE_DECREF,
                        S_KIND_PLAIN, &params);
    }
    PGresult *result;
    int rc = s_one_row (s_exec (txn, S_MESSAGE_UNREF, &params, &result), &result);
    if (rc)
        return rc;
    int64_t refs = (int32_t) s_get_int (result, 0, 0);
    PQclear (result);
    if (refs > 0)
        return STORE_OK;
    //  Gone: a page that holds it must not give it again
    s_page_drop (store_pg_cache (txn->pg));
    *freed = true;
    return STORE_OK;
}


//  --------------------------------------------------------------------------
//  Folders

//  The marks of a row of z_folder_get or z_folder_walk
static unsigned
s_page_marks (const PGresult *result, int row)
{
    return (s_get_bool (result, row, 0)? STORE_MARK_SEEN: 0)
         | (s_get_bool (result, row, S_PAGE_FLAGGED)? STORE_MARK_FLAGGED: 0);
}

static void
s_folder_params (s_params_t *params, uint64_t user_id, store_folder_t folder,
                 uint64_t message_id)
{
    s_int64 (params, user_id);
    s_int16 (params, (uint16_t) folder);
    s_int64 (params, message_id);
}

int
store_pg_folder_put (store_txn_t *txn, uint64_t user_id, store_folder_t folder,
                     uint64_t message_id, unsigned marks)
{
    s_params_t params = { 0 };
    s_folder_params (&params, user_id, folder, message_id);
    s_bool (&params, (marks & STORE_MARK_SEEN) != 0);
    s_bool (&params, (marks & STORE_MARK_FLAGGED) != 0);
    return s_write (txn, S_FOLDER_PUT, S_KIND_PLAIN, &params);
}

int
store_pg_folder_get (store_txn_t *txn, uint64_t user_id, store_folder_t folder,
                     uint64_t message_id, unsigned *marks)
{
    s_params_t params = { 0 };
    s_folder_params (&params, user_id, folder, message_id);
    PGresult *result;
    store_pg_cache_t *cache = store_pg_cache (txn->pg);
    s_page_drop (cache);
    cache->entry_found = false;
    int rc = s_one_row (s_exec (txn, S_FOLDER_GET, &params, &result), &result);
    if (rc == STORE_OK) {
        *marks = s_page_marks (result, 0);
        //  The message came with it, for the message_get that follows
        cache->page = result;
        cache->entry_found = true;
        cache->entry_user = user_id;
        cache->entry_folder = (int) folder;
        cache->entry_message = message_id;
    }
    return rc;
}

int
store_pg_folder_empty (store_txn_t *txn, uint64_t user_id, store_folder_t folder,
                       uint64_t *freed, uint64_t *freed_bytes)
{
    s_params_t params = { 0 };
    s_int64 (&params, user_id);
    s_int16 (&params, (uint16_t) folder);
    //  What a page held of the folder is gone with it
    s_page_drop (store_pg_cache (txn->pg));
    PGresult *result;
    int rc = s_one_row (s_exec (txn, S_FOLDER_EMPTY, &params, &result), &result);
    if (rc)
        return rc;
    *freed = (uint64_t) s_get_int (result, 0, 0);
    *freed_bytes = (uint64_t) s_get_int (result, 0, 1);
    PQclear (result);
    return STORE_OK;
}

int
store_pg_folder_delete (store_txn_t *txn, uint64_t user_id, store_folder_t folder,
                        uint64_t message_id)
{
    s_params_t params = { 0 };
    s_folder_params (&params, user_id, folder, message_id);
    store_pg_cache_t *cache = store_pg_cache (txn->pg);
    if (cache->entry_found && cache->entry_user == user_id
    &&  cache->entry_folder == (int) folder && cache->entry_message == message_id) {
        //  This transaction has just found the entry (DELETE reads it
        //  first): the delete finds it too, or fails on the server (a
        //  concurrent change is a serialization failure), so it need not
        //  be waited for
        cache->entry_found = false;
        return s_write (txn, S_FOLDER_DELETE, S_KIND_PLAIN, &params);
    }
    PGresult *result;
    int rc = s_exec (txn, S_FOLDER_DELETE, &params, &result);
    return s_touched (rc, result);
}

int
store_pg_folder_walk (store_txn_t *txn, uint64_t user_id, store_folder_t folder,
                      uint64_t before, store_folder_visit_fn *visit, void *arg)
{
    //  In batches, each fetched whole before visit runs, with their
    //  messages: visit (LIST) reads each entry's message, which the page
    //  then gives without a round trip of its own
    store_pg_cache_t *cache = store_pg_cache (txn->pg);
    uint64_t below = before && before < INT64_MAX? before: INT64_MAX;
    int batch = S_WALK_BATCH;
    while (true) {
        s_params_t params = { 0 };
        s_folder_params (&params, user_id, folder, below);
        s_int64 (&params, batch);
        s_page_drop (cache);
        PGresult *result;
        int rc = s_exec (txn, S_FOLDER_WALK, &params, &result);
        if (rc)
            return rc;
        cache->page = result;
        cache->page_walk = true;
        int rows = PQntuples (result);
        bool more = rows == batch;
        for (int row = 0; row < rows; row++) {
            below = s_get_int (result, row, 1);
            if (!visit (arg, below, s_page_marks (result, row))) {
                more = false;
                break;
            }
        }
        //  The walk owns its page; visit may have dropped it from the
        //  cache (a message freed), never freed it
        if (cache->page == result) {
            cache->page = NULL;
            cache->page_walk = false;
        }
        PQclear (result);
        if (!more)
            return STORE_OK;
        batch = batch * 2 > S_WALK_BATCH_MAX? S_WALK_BATCH_MAX: batch * 2;
    }
}


//  The LIKE pattern of a folded query, for z_folder_search: the query as
//  the search text holds it (encode's 'escape': a byte from 0x80 as a
//  backslash and three octal digits, a backslash doubled), then LIKE's
//  own escapes (% _ and the backslash behind a backslash), between two %.
//  The caller frees it.
static char *
s_search_pattern (const char *folded)
{
    size_t size = strlen (folded);
    char *pattern = (char *) malloc (size * 5 + 3);
    assert (pattern);
    char *out = pattern;
    *out++ = '%';
    for (const uint8_t *in = (const uint8_t *) folded; *in; in++) {
        if (*in >= 0x80)
            out += sprintf (out, "\\\\%03o", *in);     //  two backslashes, ooo
        else
        if (*in == '\\') {
            memcpy (out, "\\\\\\\\", 4);
            out += 4;
        }
        else {
            if (*in == '%' || *in == '_')
                *out++ = '\\';
            *out++ = (char) *in;
        }
    }
    *out++ = '%';
    *out = 0;
    return pattern;
}

int
store_pg_folder_search (store_txn_t *txn, uint64_t user_id, store_folder_t folder,
                        uint64_t before, const char *folded, unsigned within,
                        store_folder_visit_fn *visit, void *arg)
{
    //  As store_pg_folder_walk, in batches of candidates, each row's
    //  message checked with store_search_message before visit sees it:
    //  the search text may match where no field does (the escapes of
    //  other bytes, or across two fields)
    store_pg_cache_t *cache = store_pg_cache (txn->pg);
    char *pattern = s_search_pattern (folded);
    size_t folded_size = strlen (folded);
    uint64_t below = before && before < INT64_MAX? before: INT64_MAX;
    int batch = S_WALK_BATCH;
    int rc = STORE_OK;
    while (rc == STORE_OK) {
        s_params_t params = { 0 };
        s_folder_params (&params, user_id, folder, below);
        s_int64 (&params, batch);
        s_text (&params, pattern);
        s_page_drop (cache);
        PQclear (cache->meta);
        cache->meta = NULL;
        PGresult *result;
        rc = store_pg_exec_custom (txn, S_FOLDER_SEARCH, params.count, params.values,
                                   params.lengths, &result);
        if (rc)
            break;
        cache->page = result;
        cache->page_walk = true;
        int rows = PQntuples (result);
        bool more = rows == batch;
        for (int row = 0; row < rows; row++) {
            below = s_get_int (result, row, 1);
            store_message_t message;
            rc = store_pg_message_get (txn, below, &message);
            if (rc) {
                more = false;
                break;
            }
            if (!store_search_message (&message, within, folded, folded_size))
                continue;
            if (!visit (arg, below, s_page_marks (result, row))) {
                more = false;
                break;
            }
        }
        if (cache->page == result) {
            cache->page = NULL;
            cache->page_walk = false;
        }
        PQclear (result);
        if (!more)
            break;
        batch = batch * 2 > S_WALK_BATCH_MAX? S_WALK_BATCH_MAX: batch * 2;
    }
    free (pattern);
    return rc;
}

int
store_pg_thread_walk (store_txn_t *txn, uint64_t thread_id, uint64_t before,
                      store_folder_visit_fn *visit, void *arg)
{
    //  In batches, each fetched whole before visit runs (visit reads
    //  folders and messages on the same connection)
    uint64_t below = before && before < INT64_MAX? before: INT64_MAX;
    int batch = S_WALK_BATCH;
    while (true) {
        s_params_t params = { 0 };
        s_int64 (&params, thread_id);
        s_int64 (&params, below);
        s_int64 (&params, batch);
        PGresult *result;
        int rc = s_exec (txn, S_THREAD_WALK, &params, &result);
        if (rc)
            return rc;
        int rows = PQntuples (result);
        bool more = rows == batch;
        for (int row = 0; row < rows; row++) {
            below = s_get_int (result, row, 0);
            if (!visit (arg, below, 0)) {
                PQclear (result);
                return STORE_OK;
            }
        }
        PQclear (result);
        if (!more)
            break;
        batch = batch * 2 > S_WALK_BATCH_MAX? S_WALK_BATCH_MAX: batch * 2;
    }
    //  The first message is older than every answer
    if (before == 0 || thread_id < before)
        visit (arg, thread_id, 0);
    return STORE_OK;
}


//  --------------------------------------------------------------------------
//  Counters: rows of zpost_meta, except the two ids, which are sequences

//  STATS reads every counter and both counts in a row: the first read
//  brings them all, in one statement (one snapshot, as LMDB's one
//  transaction gives), and the others are served from it until the next
//  statement of any kind
int
store_pg_counter_get (store_txn_t *txn, const char *name, uint64_t *value)
{
    return s_meta (txn, name, value);
}

int
store_pg_counter_add (store_txn_t *txn, const char *name, int64_t delta)
{
    s_params_t params = { 0 };
    s_text (&params, name);
    s_int64 (&params, (uint64_t) delta);
    return s_write (txn, S_COUNTER_ADD, S_KIND_PLAIN, &params);
}

int
store_pg_counter_next (store_txn_t *txn, const char *name, uint64_t *value)
{
    int statement = streq (name, "next-user-id")? S_NEXT_USER_ID
                  : streq (name, "next-message-id")? S_NEXT_MESSAGE_ID: -1;
    s_params_t params = { 0 };
    if (statement < 0) {
        statement = S_COUNTER_ADD;
        s_text (&params, name);
        s_int64 (&params, 1);
    }
    PGresult *result;
    int rc = s_one_row (s_exec (txn, statement, &params, &result), &result);
    if (rc == STORE_OK)
        *value = s_get_int (result, 0, 0);
    PQclear (result);
    return rc == STORE_NOTFOUND? STORE_FAILED: rc;
}


//  --------------------------------------------------------------------------
//  Recorded replies

int
store_pg_reply_get (store_txn_t *txn, const void *scope, size_t scope_size,
                    const char *request_id, uint8_t *digest, zpost_msg_t **reply_p)
{
    *reply_p = NULL;
    s_params_t params = { 0 };
    s_bytes (&params, scope, scope_size);
    s_text (&params, request_id);
    PGresult *result;
    int rc = s_one_row (s_exec (txn, S_REPLY_GET, &params, &result), &result);
    if (rc)
        return rc;
    if (PQgetlength (result, 0, 0) != STORE_REQUEST_DIGEST_SIZE) {
        PQclear (result);
        zsys_error ("store_pg: a recorded reply is damaged");
        return STORE_FAILED;
    }
    memcpy (digest, PQgetvalue (result, 0, 0), STORE_REQUEST_DIGEST_SIZE);
    //  Recorded as zpost_msg_encode made it, as in LMDB
    zframe_t *frame = zframe_new (PQgetvalue (result, 0, 1),
                                  (size_t) PQgetlength (result, 0, 1));
    PQclear (result);
    zmsg_t *frames = zmsg_decode (frame);
    zframe_destroy (&frame);
    zpost_msg_t *reply = zpost_msg_new ();
    if (!frames || zpost_msg_decode_reply (reply, &frames)) {
        zmsg_destroy (&frames);
        zpost_msg_destroy (&reply);
        zsys_error ("store_pg: a recorded reply is damaged");
        return STORE_FAILED;
    }
    //  Not answered before the synchronous standby confirms the record
    rc = store_pg_replayed (txn, scope, scope_size, request_id);
    if (rc) {
        zpost_msg_destroy (&reply);
        return rc;
    }
    *reply_p = reply;
    return STORE_OK;
}

int
store_pg_reply_put (store_txn_t *txn, const void *scope, size_t scope_size,
                    const char *request_id, const uint8_t *digest, uint64_t now,
                    zpost_msg_t *reply)
{
    zmsg_t *frames = zpost_msg_encode (reply);
    assert (frames);
    zframe_t *encoded = zmsg_encode (frames);
    zmsg_destroy (&frames);
    assert (encoded);
    s_params_t params = { 0 };
    s_bytes (&params, scope, scope_size);
    s_text (&params, request_id);
    s_int64 (&params, now);
    s_bytes (&params, digest, STORE_REQUEST_DIGEST_SIZE);
    s_bytes (&params, zframe_data (encoded), zframe_size (encoded));
    //  Another store recorded this request first, after our lookup: a
    //  duplicate key, and the group runs again (S_KIND_RECORD), when the
    //  lookup will find its reply. libpq copies the parameters as it
    //  sends, so the frame may go now.
    int rc = s_write (txn, S_REPLY_PUT, S_KIND_RECORD, &params);
    zframe_destroy (&encoded);
    return rc;
}

int
store_pg_reply_expire (store_txn_t *txn, uint64_t older_than, size_t max, size_t *removed)
{
    *removed = 0;
    s_params_t params = { 0 };
    s_int64 (&params, older_than);
    s_int64 (&params, max);
    PGresult *result;
    int rc = s_exec (txn, S_REPLY_EXPIRE, &params, &result);
    if (rc == STORE_OK)
        *removed = (size_t) strtoull (PQcmdTuples (result), NULL, 10);
    PQclear (result);
    return rc;
}

//  Both expiries in one statement (z_sweep), so one round trip; both
//  counts and resume are set when it returns, as the two calls set them
int
store_pg_sweep (store_txn_t *txn, uint64_t reply_older_than, size_t reply_max,
                uint64_t now, uint64_t idle, uint64_t max, uint8_t *resume,
                size_t examine, size_t *replies, size_t *sessions)
{
    *replies = 0;
    *sessions = 0;
    s_params_t params = { 0 };
    s_bytes (&params, resume, STORE_DIGEST_SIZE);
    s_int64 (&params, examine);
    s_int64 (&params, now);
    s_int64 (&params, idle);
    s_int64 (&params, max);
    s_int64 (&params, reply_older_than);
    s_int64 (&params, reply_max);
    PGresult *result;
    int rc = s_one_row (s_exec (txn, S_SWEEP, &params, &result), &result);
    if (rc)
        return rc;
    *sessions = (size_t) s_get_int (result, 0, 0);
    if (PQgetisnull (result, 0, 1) || PQgetlength (result, 0, 1) != STORE_DIGEST_SIZE)
        memset (resume, 0, STORE_DIGEST_SIZE);  //  the end: start over next time
    else
        memcpy (resume, PQgetvalue (result, 0, 1), STORE_DIGEST_SIZE);
    *replies = (size_t) s_get_int (result, 0, 2);
    PQclear (result);
    return STORE_OK;
}

//  --------------------------------------------------------------------------
//  Walks of whole tables, for the dump (store_records.h)

//  Rows a batched walk fetches at a time; a message batch holds bodies
#define S_DUMP_BATCH        1000
#define S_DUMP_MESSAGES     32

//  Copy a field of at most size - 1 bytes into buffer; false if longer
static bool
s_get_string (const PGresult *result, int row, int column, char *buffer, size_t size)
{
    if ((size_t) PQgetlength (result, row, column) >= size)
        return false;
    s_get_text (result, row, column, buffer, size);
    return true;
}

static int
s_damaged (PGresult *result, const char *what)
{
    PQclear (result);
    zsys_error ("store_pg: a record of %s is damaged", what);
    return STORE_FAILED;
}

int
store_pg_user_walk (store_txn_t *txn, store_user_visit_fn *visit, void *arg)
{
    PGresult *result;
    int rc = s_exec (txn, S_USER_WALK, NULL, &result);
    if (rc)
        return rc;
    for (int row = 0; row < PQntuples (result); row++) {
        char name [ZPOST_NAME_MAX + 1];
        store_user_t user;
        memset (&user, 0, sizeof user);
        if (!s_get_string (result, row, 0, name, sizeof name)
        ||  !s_get_string (result, row, 8, user.hash, sizeof user.hash))
            return s_damaged (result, "zpost_users");
        user.id = s_get_int (result, row, 1);
        user.created = s_get_int (result, row, 2);
        user.inbox_count = s_get_int (result, row, 3);
        user.inbox_unread = s_get_int (result, row, 4);
        user.inbox_bytes = s_get_int (result, row, 5);
        user.sent_count = s_get_int (result, row, 6);
        user.sent_bytes = s_get_int (result, row, 7);
        if (!visit (arg, name, &user))
            break;
    }
    PQclear (result);
    return STORE_OK;
}

int
store_pg_session_walk (store_txn_t *txn, store_session_visit_fn *visit, void *arg)
{
    uint8_t after [STORE_DIGEST_SIZE];
    size_t after_size = 0;              //  the empty string: before every digest
    while (true) {
        s_params_t params = { 0 };
        s_bytes (&params, after, after_size);
        s_int64 (&params, S_DUMP_BATCH);
        PGresult *result;
        int rc = s_exec (txn, S_SESSION_WALK, &params, &result);
        if (rc)
            return rc;
        int rows = PQntuples (result);
        for (int row = 0; row < rows; row++) {
            store_session_t session;
            memset (&session, 0, sizeof session);
            if (PQgetlength (result, row, 0) != STORE_DIGEST_SIZE
            ||  !s_get_string (result, row, 2, session.username, sizeof session.username)
            ||  !s_get_string (result, row, 3, session.client_key, sizeof session.client_key))
                return s_damaged (result, "zpost_sessions");
            memcpy (after, PQgetvalue (result, row, 0), STORE_DIGEST_SIZE);
            after_size = STORE_DIGEST_SIZE;
            session.user_id = s_get_int (result, row, 1);
            session.created = s_get_int (result, row, 4);
            session.last_used = s_get_int (result, row, 5);
            if (!visit (arg, after, &session)) {
                PQclear (result);
                return STORE_OK;
            }
        }
        PQclear (result);
        if (rows < S_DUMP_BATCH)
            return STORE_OK;
    }
}

int
store_pg_known_key_walk (store_txn_t *txn, store_known_key_visit_fn *visit, void *arg)
{
    PGresult *result;
    int rc = s_exec (txn, S_KNOWN_KEY_WALK, NULL, &result);
    if (rc)
        return rc;
    for (int row = 0; row < PQntuples (result); row++) {
        char client_key [ZPOST_KEY_TEXT_SIZE + 1];
        if (!s_get_string (result, row, 1, client_key, sizeof client_key))
            return s_damaged (result, "zpost_known_keys");
        if (!visit (arg, s_get_int (result, row, 0), client_key))
            break;
    }
    PQclear (result);
    return STORE_OK;
}

int
store_pg_message_walk (store_txn_t *txn, store_message_visit_fn *visit, void *arg)
{
    uint64_t after = 0;
    while (true) {
        s_params_t params = { 0 };
        s_int64 (&params, after);
        s_int64 (&params, S_DUMP_MESSAGES);
        PGresult *result;
        int rc = s_exec (txn, S_MESSAGE_WALK, &params, &result);
        if (rc)
            return rc;
        int rows = PQntuples (result);
        for (int row = 0; row < rows; row++) {
            store_message_t message = {
                .id = s_get_int (result, row, 0),
                .date = s_get_int (result, row, 1),
                .from = PQgetvalue (result, row, 2),
                .from_size = (size_t) PQgetlength (result, row, 2),
                .to = PQgetvalue (result, row, 3),
                .to_size = (size_t) PQgetlength (result, row, 3),
                .subject = PQgetvalue (result, row, 4),
                .subject_size = (size_t) PQgetlength (result, row, 4),
                .body = PQgetvalue (result, row, 5),
                .body_size = (size_t) PQgetlength (result, row, 5),
                .thread_id = s_get_int (result, row, 7),
                .in_reply_to = s_get_int (result, row, 8)
            };
            after = message.id;
            if (!visit (arg, &message, (uint32_t) s_get_int (result, row, 6))) {
                PQclear (result);
                return STORE_OK;
            }
        }
        PQclear (result);
        if (rows < S_DUMP_MESSAGES)
            return STORE_OK;
    }
}

int
store_pg_folder_walk_all (store_txn_t *txn, store_entry_visit_fn *visit, void *arg)
{
    uint64_t user_id = 0, message_id = 0;
    uint16_t folder = 0;
    while (true) {
        s_params_t params = { 0 };
        s_int64 (&params, user_id);
        s_int16 (&params, folder);
        s_int64 (&params, message_id);
        s_int64 (&params, S_DUMP_BATCH);
        PGresult *result;
        int rc = s_exec (txn, S_FOLDER_WALK_ALL, &params, &result);
        if (rc)
            return rc;
        int rows = PQntuples (result);
        for (int row = 0; row < rows; row++) {
            user_id = s_get_int (result, row, 0);
            folder = (uint16_t) s_get_int (result, row, 1);
            message_id = s_get_int (result, row, 2);
            if (folder != STORE_INBOX && folder != STORE_SENT)
                return s_damaged (result, "zpost_folders");
            unsigned marks = (s_get_bool (result, row, 3)? STORE_MARK_SEEN: 0)
                           | (s_get_bool (result, row, 4)? STORE_MARK_FLAGGED: 0);
            if (!visit (arg, user_id, (store_folder_t) folder, message_id, marks)) {
                PQclear (result);
                return STORE_OK;
            }
        }
        PQclear (result);
        if (rows < S_DUMP_BATCH)
            return STORE_OK;
    }
}

int
store_pg_reply_walk (store_txn_t *txn, store_reply_visit_fn *visit, void *arg)
{
    PGresult *result;
    int rc = s_exec (txn, S_REPLY_WALK, NULL, &result);
    if (rc)
        return rc;
    for (int row = 0; row < PQntuples (result); row++) {
        store_reply_record_t record = {
            .scope = (const uint8_t *) PQgetvalue (result, row, 0),
            .scope_size = (size_t) PQgetlength (result, row, 0),
            .request_id = PQgetvalue (result, row, 1),
            .request_id_size = (size_t) PQgetlength (result, row, 1),
            .created = s_get_int (result, row, 2),
            .digest = (const uint8_t *) PQgetvalue (result, row, 3),
            .reply = (const uint8_t *) PQgetvalue (result, row, 4),
            .reply_size = (size_t) PQgetlength (result, row, 4)
        };
        if (PQgetlength (result, row, 3) != STORE_REQUEST_DIGEST_SIZE)
            return s_damaged (result, "zpost_replies");
        if (!visit (arg, &record))
            break;
    }
    PQclear (result);
    return STORE_OK;
}

int
store_pg_counter_walk (store_txn_t *txn, store_counter_visit_fn *visit, void *arg)
{
    PGresult *result;
    int rc = s_exec (txn, S_COUNTER_WALK, NULL, &result);
    if (rc)
        return rc;
    for (int row = 0; row < PQntuples (result); row++) {
        char name [64];
        if (!s_get_string (result, row, 0, name, sizeof name))
            return s_damaged (result, "zpost_meta");
        if (!visit (arg, name, s_get_int (result, row, 1)))
            break;
    }
    PQclear (result);
    return STORE_OK;
}

int
store_pg_counter_set (store_txn_t *txn, const char *name, uint64_t value)
{
    s_params_t params = { 0 };
    int statement = streq (name, "next-user-id")? S_SET_USER_ID
                  : streq (name, "next-message-id")? S_SET_MESSAGE_ID: S_COUNTER_SET;
    if (statement == S_COUNTER_SET)
        s_text (&params, name);
    s_int64 (&params, value);
    PGresult *result;
    int rc = s_exec (txn, statement, &params, &result);
    PQclear (result);
    return rc;
}


int
store_pg_notify_users (store_txn_t *txn, const char *names)
{
    //  Deferred: sent with the transaction's other writes, its failure
    //  (none is expected) met at the next command that waits
    s_params_t params = { 0 };
    s_text (&params, names);
    return s_write (txn, S_NOTIFY_USERS, S_KIND_PLAIN, &params);
}

int
store_pg_inbox_state (store_txn_t *txn, const char *name, uint64_t *newest,
                      uint64_t *unread)
{
    s_params_t params = { 0 };
    s_text (&params, name);
    s_int16 (&params, (uint16_t) STORE_INBOX);
    PGresult *result;
    int rc = s_one_row (s_exec (txn, S_INBOX_STATE, &params, &result), &result);
    if (rc)
        return rc;
    *unread = s_get_int (result, 0, 0);
    *newest = s_get_int (result, 0, 1);
    PQclear (result);
    return STORE_OK;
}
