/*  =========================================================================
    store_records - the store's records and how they sit in LMDB

    The layout is described in the header. Everything here is a small
    mdb_get / mdb_put / cursor walk; none of it decides policy (who may do
    what), which belongs to store_auth and store_mail.
    =========================================================================
*/

#include "store_records.h"
#include "store_lmdb.h"
#include "store_pg.h"
#include <assert.h>
#include <string.h>



#define S_MESSAGE_HEADER    20      //  date 8, body size 4, three sizes of 2, pad 2
#define S_FOLDER_KEY        17      //  user id 8, folder 1, message id 8
#define S_SCOPE_MAX         64      //  bytes of a reply scope
#define S_REPLY_HEAD        (8 + STORE_REQUEST_DIGEST_SIZE)

//  --------------------------------------------------------------------------
//  Users

static int
s_user_get (store_txn_t *txn, const char *name, store_user_t *user)
{
    MDB_val key = s_val (name, strlen (name));
    MDB_val value;
    int rc = mdb_get (S_TXN (txn), S_DBI (txn, STORE_DB_USERS), &key, &value);
    if (rc == 0) {
        if (value.mv_size != sizeof (store_user_t))
            return MDB_CORRUPTED;
        memcpy (user, value.mv_data, sizeof (store_user_t));
        user->hash [STORE_HASH_SIZE - 1] = 0;
    }
    return rc;
}

static int
s_user_put (store_txn_t *txn, const char *name,
                const store_user_t *user, bool must_be_new)
{
    MDB_val key = s_val (name, strlen (name));
    MDB_val value = s_val (user, sizeof (store_user_t));
    return mdb_put (S_TXN (txn), S_DBI (txn, STORE_DB_USERS), &key, &value,
                    must_be_new? MDB_NOOVERWRITE: 0);
}

//  Delete every key of table that starts with prefix; then, for the
//  replies table, each one's entry in reply-times as well
static int
s_delete_prefixed (store_txn_t *txn, store_db_table_t table,
                   const uint8_t *prefix, size_t prefix_size)
{
    MDB_cursor *cursor;
    int rc = mdb_cursor_open (S_TXN (txn), S_DBI (txn, table), &cursor);
    if (rc)
        return rc;
    MDB_val key = s_val (prefix, prefix_size);
    MDB_val value;
    rc = mdb_cursor_get (cursor, &key, &value, MDB_SET_RANGE);
    while (rc == 0) {
        if (key.mv_size < prefix_size || memcmp (key.mv_data, prefix, prefix_size) != 0)
            break;
        if (table == STORE_DB_REPLIES) {
            //  The value starts with the time the reply was recorded
            uint64_t created;
            if (value.mv_size < 8 || key.mv_size > 1 + S_SCOPE_MAX + ZPOST_REQUEST_ID_MAX) {
                rc = MDB_CORRUPTED;
                break;
            }
            memcpy (&created, value.mv_data, 8);
            uint8_t time_key [8 + 1 + S_SCOPE_MAX + ZPOST_REQUEST_ID_MAX];
            s_put_be64 (time_key, created);
            memcpy (time_key + 8, key.mv_data, key.mv_size);
            MDB_val times = s_val (time_key, 8 + key.mv_size);
            rc = mdb_del (S_TXN (txn), S_DBI (txn, STORE_DB_REPLY_TIMES), &times, NULL);
            if (rc && rc != MDB_NOTFOUND)
                break;
        }
        rc = mdb_cursor_del (cursor, 0);
        if (rc)
            break;
        //  Every key of the prefix goes: the next is the first left.
        //  (MDB_GET_CURRENT fails with EINVAL once the last key is gone.)
        key = s_val (prefix, prefix_size);
        rc = mdb_cursor_get (cursor, &key, &value, MDB_SET_RANGE);
    }
    mdb_cursor_close (cursor);
    return rc == MDB_NOTFOUND || rc == 0? 0: rc;
}

static int
s_user_delete (store_txn_t *txn, const char *name, uint64_t user_id)
{
    MDB_val key = s_val (name, strlen (name));
    int rc = mdb_del (S_TXN (txn), S_DBI (txn, STORE_DB_USERS), &key, NULL);
    uint8_t prefix [1 + 8];
    s_put_be64 (prefix + 1, user_id);
    if (rc == 0)
        rc = s_delete_prefixed (txn, STORE_DB_KNOWN_KEYS, prefix + 1, 8);
    prefix [0] = 8;             //  a reply's key: scope size, scope, request id
    if (rc == 0)
        rc = s_delete_prefixed (txn, STORE_DB_REPLIES, prefix, sizeof prefix);
    return rc;
}

//  --------------------------------------------------------------------------
//  Sessions

static int
s_session_get (store_txn_t *txn, const uint8_t *digest,
                   store_session_t *session)
{
    MDB_val key = s_val (digest, STORE_DIGEST_SIZE);
    MDB_val value;
    int rc = mdb_get (S_TXN (txn), S_DBI (txn, STORE_DB_SESSIONS), &key, &value);
    if (rc == 0) {
        if (value.mv_size != sizeof (store_session_t))
            return MDB_CORRUPTED;
        memcpy (session, value.mv_data, sizeof (store_session_t));
        session->username [ZPOST_NAME_MAX] = 0;
        session->client_key [ZPOST_KEY_TEXT_SIZE] = 0;
    }
    return rc;
}

static void
s_user_session_key (uint8_t *key, uint64_t user_id, const uint8_t *digest)
{
    s_put_be64 (key, user_id);
    memcpy (key + 8, digest, STORE_DIGEST_SIZE);
}

static int
s_session_put (store_txn_t *txn, const uint8_t *digest,
                   const store_session_t *session)
{
    MDB_val key = s_val (digest, STORE_DIGEST_SIZE);
    MDB_val value = s_val (session, sizeof (store_session_t));
    int rc = mdb_put (S_TXN (txn), S_DBI (txn, STORE_DB_SESSIONS), &key, &value, 0);
    if (rc == 0) {
        uint8_t index_key [8 + STORE_DIGEST_SIZE];
        s_user_session_key (index_key, session->user_id, digest);
        key = s_val (index_key, sizeof index_key);
        value = s_val ("", 0);
        rc = mdb_put (S_TXN (txn), S_DBI (txn, STORE_DB_USER_SESSIONS), &key, &value, 0);
    }
    return rc;
}

static int
s_session_delete (store_txn_t *txn, const uint8_t *digest)
{
    store_session_t session;
    int rc = s_session_get (txn, digest, &session);
    if (rc)
        return rc;
    MDB_val key = s_val (digest, STORE_DIGEST_SIZE);
    rc = mdb_del (S_TXN (txn), S_DBI (txn, STORE_DB_SESSIONS), &key, NULL);
    if (rc == 0) {
        uint8_t index_key [8 + STORE_DIGEST_SIZE];
        s_user_session_key (index_key, session.user_id, digest);
        key = s_val (index_key, sizeof index_key);
        rc = mdb_del (S_TXN (txn), S_DBI (txn, STORE_DB_USER_SESSIONS), &key, NULL);
        if (rc == MDB_NOTFOUND)
            rc = 0;
    }
    return rc;
}

static int
s_session_delete_all (store_txn_t *txn, uint64_t user_id,
                          const uint8_t *keep, size_t *ended)
{
    *ended = 0;
    MDB_cursor *cursor;
    int rc = mdb_cursor_open (S_TXN (txn), S_DBI (txn, STORE_DB_USER_SESSIONS), &cursor);
    if (rc)
        return rc;
    uint8_t start [8];
    s_put_be64 (start, user_id);
    MDB_val key = s_val (start, 8);
    MDB_val value;
    rc = mdb_cursor_get (cursor, &key, &value, MDB_SET_RANGE);
    while (rc == 0) {
        if (key.mv_size != 8 + STORE_DIGEST_SIZE
        ||  s_get_be64 ((const uint8_t *) key.mv_data) != user_id)
            break;
        //  A copy: the key's bytes are the page's, which the deletes change
        uint8_t found [8 + STORE_DIGEST_SIZE];
        memcpy (found, key.mv_data, sizeof found);
        const uint8_t *digest = found + 8;
        if (!keep || memcmp (digest, keep, STORE_DIGEST_SIZE) != 0) {
            MDB_val session_key = s_val (digest, STORE_DIGEST_SIZE);
            rc = mdb_del (S_TXN (txn), S_DBI (txn, STORE_DB_SESSIONS), &session_key, NULL);
            if (rc && rc != MDB_NOTFOUND)
                break;
            rc = mdb_cursor_del (cursor, 0);
            if (rc)
                break;
            (*ended)++;
            //  On to the first key past the one deleted (MDB_GET_CURRENT
            //  fails with EINVAL when the deleted one was the table's last)
            key = s_val (found, sizeof found);
            rc = mdb_cursor_get (cursor, &key, &value, MDB_SET_RANGE);
        }
        else
            rc = mdb_cursor_get (cursor, &key, &value, MDB_NEXT);
    }
    mdb_cursor_close (cursor);
    return rc == MDB_NOTFOUND || rc == 0? 0: rc;
}

//  --------------------------------------------------------------------------
//  Known keys

static void
s_known_key (uint8_t *key, uint64_t user_id, const char *client_key)
{
    s_put_be64 (key, user_id);
    memcpy (key + 8, client_key, ZPOST_KEY_TEXT_SIZE);
}

static int
s_known_key_get (store_txn_t *txn, uint64_t user_id,
                     const char *client_key)
{
    if (strlen (client_key) != ZPOST_KEY_TEXT_SIZE)
        return MDB_NOTFOUND;
    uint8_t buffer [8 + ZPOST_KEY_TEXT_SIZE];
    s_known_key (buffer, user_id, client_key);
    MDB_val key = s_val (buffer, sizeof buffer);
    MDB_val value;
    return mdb_get (S_TXN (txn), S_DBI (txn, STORE_DB_KNOWN_KEYS), &key, &value);
}

static int
s_known_key_put (store_txn_t *txn, uint64_t user_id,
                     const char *client_key)
{
    if (strlen (client_key) != ZPOST_KEY_TEXT_SIZE)
        return 0;
    uint8_t buffer [8 + ZPOST_KEY_TEXT_SIZE];
    s_known_key (buffer, user_id, client_key);
    MDB_val key = s_val (buffer, sizeof buffer);
    MDB_val value = s_val ("", 0);
    return mdb_put (S_TXN (txn), S_DBI (txn, STORE_DB_KNOWN_KEYS), &key, &value, 0);
}

//  --------------------------------------------------------------------------
//  Counters

static int
s_counter_get (store_txn_t *txn, const char *name, uint64_t *value_p)
{
    MDB_val key = s_val (name, strlen (name));
    MDB_val value;
    int rc = mdb_get (S_TXN (txn), S_DBI (txn, STORE_DB_META), &key, &value);
    *value_p = 0;
    if (rc == MDB_NOTFOUND)
        return 0;
    if (rc == 0) {
        if (value.mv_size != 8)
            return MDB_CORRUPTED;
        memcpy (value_p, value.mv_data, 8);
    }
    return rc;
}

static int
s_counter_add (store_txn_t *txn, const char *name, int64_t delta)
{
    uint64_t count;
    int rc = s_counter_get (txn, name, &count);
    if (rc)
        return rc;
    count += (uint64_t) delta;
    MDB_val key = s_val (name, strlen (name));
    MDB_val value = s_val (&count, 8);
    return mdb_put (S_TXN (txn), S_DBI (txn, STORE_DB_META), &key, &value, 0);
}

static int
s_counter_next (store_txn_t *txn, const char *name, uint64_t *value_p)
{
    int rc = s_counter_add (txn, name, 1);
    if (rc == 0)
        rc = s_counter_get (txn, name, value_p);
    return rc;
}

//  --------------------------------------------------------------------------
//  Recorded replies

static size_t
s_reply_key (uint8_t *key, const void *scope, size_t scope_size, const char *request_id)
{
    size_t id_size = strlen (request_id);
    assert (scope_size <= S_SCOPE_MAX && id_size <= ZPOST_REQUEST_ID_MAX);
    key [0] = (uint8_t) scope_size;
    memcpy (key + 1, scope, scope_size);
    memcpy (key + 1 + scope_size, request_id, id_size);
    return 1 + scope_size + id_size;
}

static int
s_reply_get (store_txn_t *txn, const void *scope, size_t scope_size,
                 const char *request_id, uint8_t *digest, zpost_msg_t **reply_p)
{
    *reply_p = NULL;
    uint8_t buffer [1 + S_SCOPE_MAX + ZPOST_REQUEST_ID_MAX];
    MDB_val key = s_val (buffer, s_reply_key (buffer, scope, scope_size, request_id));
    MDB_val value;
    int rc = mdb_get (S_TXN (txn), S_DBI (txn, STORE_DB_REPLIES), &key, &value);
    if (rc)
        return rc;
    if (value.mv_size < S_REPLY_HEAD)
        return MDB_CORRUPTED;
    memcpy (digest, (const uint8_t *) value.mv_data + 8, STORE_REQUEST_DIGEST_SIZE);
    //  The reply was recorded as zpost_msg_encode made it, serialized by
    //  CZMQ; it is read back through the codec like any reply.
    zframe_t *frame = zframe_new ((const uint8_t *) value.mv_data + S_REPLY_HEAD,
                                  value.mv_size - S_REPLY_HEAD);
    zmsg_t *frames = zmsg_decode (frame);
    zframe_destroy (&frame);
    zpost_msg_t *reply = zpost_msg_new ();
    if (!frames || zpost_msg_decode_reply (reply, &frames)) {
        zmsg_destroy (&frames);
        zpost_msg_destroy (&reply);
        return MDB_CORRUPTED;
    }
    *reply_p = reply;
    return 0;
}

static int
s_reply_put (store_txn_t *txn, const void *scope, size_t scope_size,
                 const char *request_id, const uint8_t *digest, uint64_t now,
                 zpost_msg_t *reply)
{
    zmsg_t *frames = zpost_msg_encode (reply);
    assert (frames);
    zframe_t *encoded = zmsg_encode (frames);
    zmsg_destroy (&frames);
    assert (encoded);

    uint8_t buffer [1 + S_SCOPE_MAX + ZPOST_REQUEST_ID_MAX];
    size_t key_size = s_reply_key (buffer, scope, scope_size, request_id);
    MDB_val key = s_val (buffer, key_size);
    MDB_val value = { S_REPLY_HEAD + zframe_size (encoded), NULL };
    int rc = mdb_put (S_TXN (txn), S_DBI (txn, STORE_DB_REPLIES), &key, &value, MDB_RESERVE);
    if (rc == 0) {
        uint8_t *out = (uint8_t *) value.mv_data;
        memcpy (out, &now, 8);
        memcpy (out + 8, digest, STORE_REQUEST_DIGEST_SIZE);
        memcpy (out + S_REPLY_HEAD, zframe_data (encoded), zframe_size (encoded));

        uint8_t time_key [8 + sizeof buffer];
        s_put_be64 (time_key, now);
        memcpy (time_key + 8, buffer, key_size);
        key = s_val (time_key, 8 + key_size);
        value = s_val ("", 0);
        rc = mdb_put (S_TXN (txn), S_DBI (txn, STORE_DB_REPLY_TIMES), &key, &value, 0);
    }
    zframe_destroy (&encoded);
    return rc;
}

static int
s_reply_expire (store_txn_t *txn, uint64_t older_than,
                    size_t max, size_t *removed)
{
    *removed = 0;
    MDB_cursor *cursor;
    int rc = mdb_cursor_open (S_TXN (txn), S_DBI (txn, STORE_DB_REPLY_TIMES), &cursor);
    if (rc)
        return rc;
    MDB_val key, value;
    rc = mdb_cursor_get (cursor, &key, &value, MDB_FIRST);
    while (rc == 0 && *removed < max) {
        if (key.mv_size < 8 || s_get_be64 ((const uint8_t *) key.mv_data) >= older_than)
            break;
        MDB_val reply_key = s_val ((const uint8_t *) key.mv_data + 8, key.mv_size - 8);
        rc = mdb_del (S_TXN (txn), S_DBI (txn, STORE_DB_REPLIES), &reply_key, NULL);
        if (rc && rc != MDB_NOTFOUND)
            break;
        rc = mdb_cursor_del (cursor, 0);
        if (rc)
            break;
        (*removed)++;
        //  The one deleted was the first; the next is the first now.
        //  (MDB_GET_CURRENT fails with EINVAL once the last one is gone.)
        rc = mdb_cursor_get (cursor, &key, &value, MDB_FIRST);
    }
    mdb_cursor_close (cursor);
    return rc == MDB_NOTFOUND || rc == 0? 0: rc;
}


//  --------------------------------------------------------------------------
//  Sweeping expired sessions: a walk that resumes where the last one
//  stopped, so each sweep costs what it examines, whatever the table holds

static bool
s_session_expired (const store_session_t *session, uint64_t now,
                   uint64_t idle, uint64_t max)
{
    return now > session->last_used + idle || now > session->created + max;
}

static int
s_session_expire (store_txn_t *txn, uint64_t now, uint64_t idle, uint64_t max,
                  uint8_t *resume, size_t examine, size_t *removed)
{
    *removed = 0;
    MDB_cursor *cursor;
    int rc = mdb_cursor_open (S_TXN (txn), S_DBI (txn, STORE_DB_SESSIONS), &cursor);
    if (rc)
        return rc;
    MDB_val key = s_val (resume, STORE_DIGEST_SIZE);
    MDB_val value;
    rc = mdb_cursor_get (cursor, &key, &value, MDB_SET_RANGE);
    size_t examined = 0;
    while (rc == 0 && examined < examine) {
        examined++;
        if (key.mv_size != STORE_DIGEST_SIZE || value.mv_size != sizeof (store_session_t)) {
            rc = mdb_cursor_get (cursor, &key, &value, MDB_NEXT);
            continue;
        }
        uint8_t digest [STORE_DIGEST_SIZE];
        memcpy (digest, key.mv_data, STORE_DIGEST_SIZE);
        store_session_t session;
        memcpy (&session, value.mv_data, sizeof session);
        if (s_session_expired (&session, now, idle, max)) {
            mdb_cursor_close (cursor);
            rc = s_session_delete (txn, digest);
            if (rc)
                return rc;
            (*removed)++;
            rc = mdb_cursor_open (S_TXN (txn), S_DBI (txn, STORE_DB_SESSIONS), &cursor);
            if (rc)
                return rc;
            key = s_val (digest, STORE_DIGEST_SIZE);
            rc = mdb_cursor_get (cursor, &key, &value, MDB_SET_RANGE);
        }
        else
            rc = mdb_cursor_get (cursor, &key, &value, MDB_NEXT);
    }
    if (rc == 0)
        memcpy (resume, key.mv_data, STORE_DIGEST_SIZE);
    else
        memset (resume, 0, STORE_DIGEST_SIZE);      //  the end: start over next time
    mdb_cursor_close (cursor);
    return rc == MDB_NOTFOUND || rc == 0? 0: rc;
}

static int
s_count (store_txn_t *txn, store_db_table_t table, uint64_t *count)
{
    MDB_stat stat;
    int rc = mdb_stat (S_TXN (txn), S_DBI (txn, table), &stat);
    *count = rc == 0? stat.ms_entries: 0;
    return rc;
}

//  --------------------------------------------------------------------------
//  Walks of whole tables, for the dump: a cursor from the first key on.
//  A record of the wrong size is a damaged table (MDB_CORRUPTED).

static int
s_walk_end (MDB_cursor *cursor, int rc)
{
    mdb_cursor_close (cursor);
    return rc == MDB_NOTFOUND? 0: rc;
}

static int
s_user_walk (store_txn_t *txn, store_user_visit_fn *visit, void *arg)
{
    MDB_cursor *cursor;
    int rc = mdb_cursor_open (S_TXN (txn), S_DBI (txn, STORE_DB_USERS), &cursor);
    if (rc)
        return rc;
    MDB_val key, value;
    for (rc = mdb_cursor_get (cursor, &key, &value, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get (cursor, &key, &value, MDB_NEXT)) {
        if (key.mv_size == 0 || key.mv_size > ZPOST_NAME_MAX
        ||  value.mv_size != sizeof (store_user_t))
            return s_walk_end (cursor, MDB_CORRUPTED);
        char name [ZPOST_NAME_MAX + 1];
        memcpy (name, key.mv_data, key.mv_size);
        name [key.mv_size] = 0;
        store_user_t user;
        memcpy (&user, value.mv_data, sizeof user);
        user.hash [STORE_HASH_SIZE - 1] = 0;
        if (!visit (arg, name, &user))
            break;
    }
    return s_walk_end (cursor, rc);
}

static int
s_session_walk (store_txn_t *txn, store_session_visit_fn *visit, void *arg)
{
    MDB_cursor *cursor;
    int rc = mdb_cursor_open (S_TXN (txn), S_DBI (txn, STORE_DB_SESSIONS), &cursor);
    if (rc)
        return rc;
    MDB_val key, value;
    for (rc = mdb_cursor_get (cursor, &key, &value, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get (cursor, &key, &value, MDB_NEXT)) {
        if (key.mv_size != STORE_DIGEST_SIZE || value.mv_size != sizeof (store_session_t))
            return s_walk_end (cursor, MDB_CORRUPTED);
        store_session_t session;
        memcpy (&session, value.mv_data, sizeof session);
        session.username [ZPOST_NAME_MAX] = 0;
        session.client_key [ZPOST_KEY_TEXT_SIZE] = 0;
        if (!visit (arg, (const uint8_t *) key.mv_data, &session))
            break;
    }
    return s_walk_end (cursor, rc);
}

static int
s_known_key_walk (store_txn_t *txn, store_known_key_visit_fn *visit, void *arg)
{
    MDB_cursor *cursor;
    int rc = mdb_cursor_open (S_TXN (txn), S_DBI (txn, STORE_DB_KNOWN_KEYS), &cursor);
    if (rc)
        return rc;
    MDB_val key, value;
    for (rc = mdb_cursor_get (cursor, &key, &value, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get (cursor, &key, &value, MDB_NEXT)) {
        if (key.mv_size != 8 + ZPOST_KEY_TEXT_SIZE)
            return s_walk_end (cursor, MDB_CORRUPTED);
        const uint8_t *bytes = (const uint8_t *) key.mv_data;
        char client_key [ZPOST_KEY_TEXT_SIZE + 1];
        memcpy (client_key, bytes + 8, ZPOST_KEY_TEXT_SIZE);
        client_key [ZPOST_KEY_TEXT_SIZE] = 0;
        if (!visit (arg, s_get_be64 (bytes), client_key))
            break;
    }
    return s_walk_end (cursor, rc);
}

static int
s_reply_walk (store_txn_t *txn, store_reply_visit_fn *visit, void *arg)
{
    MDB_cursor *cursor;
    int rc = mdb_cursor_open (S_TXN (txn), S_DBI (txn, STORE_DB_REPLIES), &cursor);
    if (rc)
        return rc;
    MDB_val key, value;
    for (rc = mdb_cursor_get (cursor, &key, &value, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get (cursor, &key, &value, MDB_NEXT)) {
        const uint8_t *bytes = (const uint8_t *) key.mv_data;
        if (key.mv_size < 1 || bytes [0] > S_SCOPE_MAX || key.mv_size < 1u + bytes [0]
        ||  key.mv_size - 1 - bytes [0] > ZPOST_REQUEST_ID_MAX
        ||  value.mv_size < S_REPLY_HEAD)
            return s_walk_end (cursor, MDB_CORRUPTED);
        store_reply_record_t record = {
            .scope = bytes + 1,
            .scope_size = bytes [0],
            .request_id = (const char *) bytes + 1 + bytes [0],
            .request_id_size = key.mv_size - 1 - bytes [0],
            .digest = (const uint8_t *) value.mv_data + 8,
            .reply = (const uint8_t *) value.mv_data + S_REPLY_HEAD,
            .reply_size = value.mv_size - S_REPLY_HEAD
        };
        memcpy (&record.created, value.mv_data, 8);
        if (!visit (arg, &record))
            break;
    }
    return s_walk_end (cursor, rc);
}

static int
s_counter_walk (store_txn_t *txn, store_counter_visit_fn *visit, void *arg)
{
    MDB_cursor *cursor;
    int rc = mdb_cursor_open (S_TXN (txn), S_DBI (txn, STORE_DB_META), &cursor);
    if (rc)
        return rc;
    MDB_val key, value;
    for (rc = mdb_cursor_get (cursor, &key, &value, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get (cursor, &key, &value, MDB_NEXT)) {
        //  The schema version is the environment's, not a counter
        if (key.mv_size == strlen ("schema-version")
        &&  memcmp (key.mv_data, "schema-version", key.mv_size) == 0)
            continue;
        char name [64];
        if (key.mv_size == 0 || key.mv_size >= sizeof name || value.mv_size != 8)
            return s_walk_end (cursor, MDB_CORRUPTED);
        memcpy (name, key.mv_data, key.mv_size);
        name [key.mv_size] = 0;
        uint64_t count;
        memcpy (&count, value.mv_data, 8);
        if (!visit (arg, name, count))
            break;
    }
    return s_walk_end (cursor, rc);
}

static int
s_counter_set (store_txn_t *txn, const char *name, uint64_t count)
{
    MDB_val key = s_val (name, strlen (name));
    MDB_val value = s_val (&count, 8);
    return mdb_put (S_TXN (txn), S_DBI (txn, STORE_DB_META), &key, &value, 0);
}

//  --------------------------------------------------------------------------
//  The interface: LMDB codes become store_rc_t here, once

int
store_user_get (store_txn_t *txn, const char *name, store_user_t *user)
{
    if (txn->pg)
        return store_pg_user_get (txn, name, user);
    return store_lmdb_rc (s_user_get (txn, name, user), "store_user_get");
}

int
store_user_put (store_txn_t *txn, const char *name, const store_user_t *user, bool must_be_new)
{
    if (txn->pg)
        return store_pg_user_put (txn, name, user, must_be_new);
    return store_lmdb_rc (s_user_put (txn, name, user, must_be_new), "store_user_put");
}

int
store_user_delete (store_txn_t *txn, const char *name, uint64_t user_id)
{
    if (txn->pg)
        return store_pg_user_delete (txn, name, user_id);
    return store_lmdb_rc (s_user_delete (txn, name, user_id), "store_user_delete");
}

int
store_session_get (store_txn_t *txn, const uint8_t *digest, store_session_t *session)
{
    if (txn->pg)
        return store_pg_session_get (txn, digest, session);
    return store_lmdb_rc (s_session_get (txn, digest, session), "store_session_get");
}

int
store_session_put (store_txn_t *txn, const uint8_t *digest, const store_session_t *session)
{
    if (txn->pg)
        return store_pg_session_put (txn, digest, session);
    return store_lmdb_rc (s_session_put (txn, digest, session), "store_session_put");
}

int
store_session_delete (store_txn_t *txn, const uint8_t *digest)
{
    if (txn->pg)
        return store_pg_session_delete (txn, digest);
    return store_lmdb_rc (s_session_delete (txn, digest), "store_session_delete");
}

int
store_session_delete_all (store_txn_t *txn, uint64_t user_id, const uint8_t *keep, size_t *ended)
{
    if (txn->pg)
        return store_pg_session_delete_all (txn, user_id, keep, ended);
    return store_lmdb_rc (s_session_delete_all (txn, user_id, keep, ended), "store_session_delete_all");
}

int
store_known_key_get (store_txn_t *txn, uint64_t user_id, const char *client_key)
{
    if (txn->pg)
        return store_pg_known_key_get (txn, user_id, client_key);
    return store_lmdb_rc (s_known_key_get (txn, user_id, client_key), "store_known_key_get");
}

int
store_known_key_put (store_txn_t *txn, uint64_t user_id, const char *client_key)
{
    if (txn->pg)
        return store_pg_known_key_put (txn, user_id, client_key);
    return store_lmdb_rc (s_known_key_put (txn, user_id, client_key), "store_known_key_put");
}

int
store_counter_get (store_txn_t *txn, const char *name, uint64_t *value_p)
{
    if (txn->pg)
        return store_pg_counter_get (txn, name, value_p);
    return store_lmdb_rc (s_counter_get (txn, name, value_p), "store_counter_get");
}

int
store_counter_add (store_txn_t *txn, const char *name, int64_t delta)
{
    if (txn->pg)
        return store_pg_counter_add (txn, name, delta);
    return store_lmdb_rc (s_counter_add (txn, name, delta), "store_counter_add");
}

int
store_counter_next (store_txn_t *txn, const char *name, uint64_t *value_p)
{
    if (txn->pg)
        return store_pg_counter_next (txn, name, value_p);
    return store_lmdb_rc (s_counter_next (txn, name, value_p), "store_counter_next");
}

int
store_reply_get (store_txn_t *txn, const void *scope, size_t scope_size, const char *request_id, uint8_t *digest, zpost_msg_t **reply_p)
{
    if (txn->pg)
        return store_pg_reply_get (txn, scope, scope_size, request_id, digest, reply_p);
    return store_lmdb_rc (s_reply_get (txn, scope, scope_size, request_id, digest, reply_p), "store_reply_get");
}

int
store_reply_put (store_txn_t *txn, const void *scope, size_t scope_size, const char *request_id, const uint8_t *digest, uint64_t now, zpost_msg_t *reply)
{
    if (txn->pg)
        return store_pg_reply_put (txn, scope, scope_size, request_id, digest, now, reply);
    return store_lmdb_rc (s_reply_put (txn, scope, scope_size, request_id, digest, now, reply), "store_reply_put");
}

int
store_reply_expire (store_txn_t *txn, uint64_t older_than, size_t max, size_t *removed)
{
    if (txn->pg)
        return store_pg_reply_expire (txn, older_than, max, removed);
    return store_lmdb_rc (s_reply_expire (txn, older_than, max, removed), "store_reply_expire");
}

int
store_session_expire (store_txn_t *txn, uint64_t now, uint64_t idle, uint64_t max,
                      uint8_t *resume, size_t examine, size_t *removed)
{
    if (txn->pg)
        return store_pg_session_expire (txn, now, idle, max, resume, examine, removed);
    return store_lmdb_rc (s_session_expire (txn, now, idle, max, resume, examine, removed),
                          "store_session_expire");
}

int
store_sweep (store_txn_t *txn, uint64_t reply_older_than, size_t reply_max,
             uint64_t now, uint64_t idle, uint64_t max, uint8_t *resume,
             size_t examine, size_t *replies, size_t *sessions)
{
    if (txn->pg)
        return store_pg_sweep (txn, reply_older_than, reply_max, now, idle, max,
                               resume, examine, replies, sessions);
    *replies = 0;
    int rc = STORE_OK;
    if (reply_max)
        rc = store_reply_expire (txn, reply_older_than, reply_max, replies);
    int swept = store_session_expire (txn, now, idle, max, resume, examine, sessions);
    return rc? rc: swept;
}

int
store_session_count (store_txn_t *txn, uint64_t *count)
{
    if (txn->pg)
        return store_pg_session_count (txn, count);
    return store_lmdb_rc (s_count (txn, STORE_DB_SESSIONS, count), "store_session_count");
}

int
store_reply_count (store_txn_t *txn, uint64_t *count)
{
    if (txn->pg)
        return store_pg_reply_count (txn, count);
    return store_lmdb_rc (s_count (txn, STORE_DB_REPLIES, count), "store_reply_count");
}

int
store_user_walk (store_txn_t *txn, store_user_visit_fn *visit, void *arg)
{
    if (txn->pg)
        return store_pg_user_walk (txn, visit, arg);
    return store_lmdb_rc (s_user_walk (txn, visit, arg), "store_user_walk");
}

int
store_session_walk (store_txn_t *txn, store_session_visit_fn *visit, void *arg)
{
    if (txn->pg)
        return store_pg_session_walk (txn, visit, arg);
    return store_lmdb_rc (s_session_walk (txn, visit, arg), "store_session_walk");
}

int
store_known_key_walk (store_txn_t *txn, store_known_key_visit_fn *visit, void *arg)
{
    if (txn->pg)
        return store_pg_known_key_walk (txn, visit, arg);
    return store_lmdb_rc (s_known_key_walk (txn, visit, arg), "store_known_key_walk");
}

int
store_reply_walk (store_txn_t *txn, store_reply_visit_fn *visit, void *arg)
{
    if (txn->pg)
        return store_pg_reply_walk (txn, visit, arg);
    return store_lmdb_rc (s_reply_walk (txn, visit, arg), "store_reply_walk");
}

int
store_counter_walk (store_txn_t *txn, store_counter_visit_fn *visit, void *arg)
{
    if (txn->pg)
        return store_pg_counter_walk (txn, visit, arg);
    return store_lmdb_rc (s_counter_walk (txn, visit, arg), "store_counter_walk");
}

int
store_counter_set (store_txn_t *txn, const char *name, uint64_t value)
{
    if (txn->pg)
        return store_pg_counter_set (txn, name, value);
    return store_lmdb_rc (s_counter_set (txn, name, value), "store_counter_set");
}

//  --------------------------------------------------------------------------
//  Selftest


void
store_records_test (bool verbose)
{
    if (verbose)
        printf (" * store_records: ");
    char *dir;
    store_db_t *db = store_db_scratch_new ("zpost-store-records", 16 << 20, &dir);
    store_txn_t *txn;
    assert (store_txn_begin (db, NULL, true, &txn) == STORE_OK);

    //  Users: a second put of a new name fails
    store_user_t user = { .id = 7, .created = 1, .inbox_count = 3 };
    strcpy (user.hash, "$argon2id$v=19$m=65536,t=2,p=1$fake");
    assert (store_user_put (txn, "alice", &user, true) == 0);
    assert (store_user_put (txn, "alice", &user, true) == STORE_EXISTS);
    store_user_t got;
    assert (store_user_get (txn, "alice", &got) == 0);
    assert (got.id == 7 && got.inbox_count == 3 && streq (got.hash, user.hash));
    assert (store_user_get (txn, "bob", &got) == STORE_NOTFOUND);

    //  Sessions: delete_all keeps the one asked for
    uint8_t digests [3][STORE_DIGEST_SIZE];
    store_session_t session = { .user_id = 7, .username = "alice", .created = 5 };
    for (int index = 0; index < 3; index++) {
        memset (digests [index], index + 1, STORE_DIGEST_SIZE);
        assert (store_session_put (txn, digests [index], &session) == 0);
    }
    store_session_t other = { .user_id = 8, .username = "bob" };
    uint8_t other_digest [STORE_DIGEST_SIZE];
    memset (other_digest, 9, sizeof other_digest);
    assert (store_session_put (txn, other_digest, &other) == 0);
    store_session_t found;
    assert (store_session_get (txn, digests [1], &found) == 0);
    assert (found.user_id == 7 && streq (found.username, "alice"));
    size_t ended;
    assert (store_session_delete_all (txn, 7, digests [2], &ended) == 0);
    assert (ended == 2);
    assert (store_session_get (txn, digests [0], &found) == STORE_NOTFOUND);
    assert (store_session_get (txn, digests [2], &found) == 0);
    assert (store_session_get (txn, other_digest, &found) == 0);
    assert (store_session_delete (txn, digests [2]) == 0);
    assert (store_session_delete (txn, digests [2]) == STORE_NOTFOUND);
    assert (store_session_delete_all (txn, 7, NULL, &ended) == 0 && ended == 0);

    //  Counters start at 0; ids at 1
    uint64_t value;
    assert (store_counter_get (txn, "users", &value) == 0 && value == 0);
    assert (store_counter_next (txn, "next-id", &value) == 0 && value == 1);
    assert (store_counter_next (txn, "next-id", &value) == 0 && value == 2);
    assert (store_counter_add (txn, "users", 5) == 0);
    assert (store_counter_add (txn, "users", -2) == 0);
    assert (store_counter_get (txn, "users", &value) == 0 && value == 3);

    //  Replies round-trip through the codec, and expire by time
    zpost_msg_t *request = zpost_msg_new_request (ZPOST_CMD_SEND, "req-1", NULL);
    zpost_msg_t *reply = zpost_msg_new_reply (request, ZPOST_OK, NULL);
    zpost_msg_set_number (reply, ZPOST_F_MESSAGE_ID, 42);
    uint8_t digest [STORE_REQUEST_DIGEST_SIZE] = { 1, 2, 3 };
    uint8_t scope [8] = { 0, 0, 0, 0, 0, 0, 0, 7 };
    assert (store_reply_put (txn, scope, 8, "req-1", digest, 1000, reply) == 0);
    assert (store_reply_put (txn, scope, 8, "req-2", digest, 2000, reply) == 0);
    zpost_msg_t *stored;
    uint8_t stored_digest [STORE_REQUEST_DIGEST_SIZE];
    assert (store_reply_get (txn, scope, 8, "req-1", stored_digest, &stored) == 0);
    assert (memcmp (stored_digest, digest, sizeof digest) == 0);
    assert (zpost_msg_status (stored) == ZPOST_OK);
    assert (zpost_msg_get_number (stored, ZPOST_F_MESSAGE_ID) == 42);
    zpost_msg_destroy (&stored);
    assert (store_reply_get (txn, scope, 8, "req-3", stored_digest, &stored) == STORE_NOTFOUND);
    size_t removed;
    assert (store_reply_expire (txn, 1500, 100, &removed) == 0 && removed == 1);
    assert (store_reply_get (txn, scope, 8, "req-1", stored_digest, &stored) == STORE_NOTFOUND);
    assert (store_reply_get (txn, scope, 8, "req-2", stored_digest, &stored) == 0);
    zpost_msg_destroy (&stored);
    zpost_msg_destroy (&reply);
    zpost_msg_destroy (&request);

    //  Expired sessions are swept, a bounded number at a time
    session.created = 100;
    session.last_used = 100;
    for (int index = 0; index < 3; index++)
        assert (store_session_put (txn, digests [index], &session) == 0);
    other.created = 990;
    other.last_used = 990;
    assert (store_session_put (txn, other_digest, &other) == 0);
    uint64_t count;
    assert (store_session_count (txn, &count) == 0 && count == 4);
    uint8_t resume [STORE_DIGEST_SIZE] = { 0 };
    assert (store_session_expire (txn, 1000, 60, 86400, resume, 2, &removed) == 0);
    assert (removed == 2);
    assert (store_session_expire (txn, 1000, 60, 86400, resume, 10, &removed) == 0);
    assert (removed == 1);
    assert (store_session_count (txn, &count) == 0 && count == 1);
    assert (store_session_get (txn, other_digest, &found) == 0);
    assert (store_reply_count (txn, &count) == 0 && count == 1);

    //  The sweep does both, and both counts are there when it returns
    //  (PostgreSQL: one statement, no answer left for later)
    assert (store_session_put (txn, digests [0], &session) == 0);
    memset (resume, 0, sizeof resume);
    size_t replies = 99, sessions = 99;
    assert (store_sweep (txn, 2500, 0, 1000, 60, 86400, resume, 10,
                         &replies, &sessions) == 0);
    assert (replies == 0 && sessions == 1);
    assert (store_reply_count (txn, &count) == 0 && count == 1);
    replies = sessions = 99;
    assert (store_sweep (txn, 2500, 100, 1000, 60, 86400, resume, 10,
                         &replies, &sessions) == 0);
    assert (replies == 1 && sessions == 0);
    assert (store_reply_count (txn, &count) == 0 && count == 0);
    assert (store_session_count (txn, &count) == 0 && count == 1);

    assert (store_txn_commit (&txn) == STORE_OK);
    store_db_scratch_destroy (&db, &dir);
    if (verbose)
        printf ("OK\n");
}
