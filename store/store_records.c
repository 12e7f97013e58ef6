/*  =========================================================================
    store_records - the store's records and how they sit in LMDB

    The layout is described in the header. Everything here is a small
    mdb_get / mdb_put / cursor walk; none of it decides policy (who may do
    what), which belongs to store_auth and store_mail.
    =========================================================================
*/

#include "store_records.h"
#include "store_lmdb.h"
#include <assert.h>
#include <string.h>


#define S_TXN(txn)          store_txn_lmdb (txn)
#define S_DBI(txn, table)   store_db_dbi (store_txn_db (txn), table)

#define S_MESSAGE_HEADER    20      //  date 8, body size 4, three sizes of 2, pad 2
#define S_FOLDER_KEY        17      //  user id 8, folder 1, message id 8
#define S_SCOPE_MAX         64      //  bytes of a reply scope
#define S_REPLY_HEAD        (8 + STORE_REQUEST_DIGEST_SIZE)

static void
s_put_be64 (uint8_t *out, uint64_t value)
{
    for (int index = 0; index < 8; index++)
        out [index] = (uint8_t) (value >> (56 - 8 * index));
}

static uint64_t
s_get_be64 (const uint8_t *in)
{
    uint64_t value = 0;
    for (int index = 0; index < 8; index++)
        value = (value << 8) | in [index];
    return value;
}

static MDB_val
s_val (const void *data, size_t size)
{
    MDB_val value = { size, (void *) data };
    return value;
}

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
        const uint8_t *digest = (const uint8_t *) key.mv_data + 8;
        if (!keep || memcmp (digest, keep, STORE_DIGEST_SIZE) != 0) {
            MDB_val session_key = s_val (digest, STORE_DIGEST_SIZE);
            rc = mdb_del (S_TXN (txn), S_DBI (txn, STORE_DB_SESSIONS), &session_key, NULL);
            if (rc && rc != MDB_NOTFOUND)
                break;
            rc = mdb_cursor_del (cursor, 0);
            if (rc)
                break;
            (*ended)++;
            //  After a delete the cursor already stands on the next key
            rc = mdb_cursor_get (cursor, &key, &value, MDB_GET_CURRENT);
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
//  Messages

static int
s_message_put (store_txn_t *txn, const store_message_t *message,
                   uint32_t refs)
{
    assert (message->from_size <= UINT16_MAX);
    assert (message->to_size <= UINT16_MAX);
    assert (message->subject_size <= UINT16_MAX);
    assert (message->body_size <= UINT32_MAX);
    uint8_t id [8];
    s_put_be64 (id, message->id);
    MDB_val key = s_val (id, 8);
    size_t size = S_MESSAGE_HEADER + message->from_size + message->to_size
                + message->subject_size + message->body_size;
    //  MDB_RESERVE: LMDB gives us the space in its page and we write the
    //  record straight into it, sparing a copy of the body.
    MDB_val value = { size, NULL };
    int rc = mdb_put (S_TXN (txn), S_DBI (txn, STORE_DB_MESSAGES), &key, &value,
                      MDB_NOOVERWRITE | MDB_RESERVE);
    if (rc)
        return rc;
    uint8_t *out = (uint8_t *) value.mv_data;
    uint32_t body_size = (uint32_t) message->body_size;
    uint16_t sizes [4] = { (uint16_t) message->from_size, (uint16_t) message->to_size,
                           (uint16_t) message->subject_size, 0 };
    memcpy (out, &message->date, 8);
    memcpy (out + 8, &body_size, 4);
    memcpy (out + 12, sizes, 8);
    out += S_MESSAGE_HEADER;
    memcpy (out, message->from, message->from_size);
    out += message->from_size;
    memcpy (out, message->to, message->to_size);
    out += message->to_size;
    memcpy (out, message->subject, message->subject_size);
    out += message->subject_size;
    memcpy (out, message->body, message->body_size);

    value = s_val (&refs, sizeof refs);
    return mdb_put (S_TXN (txn), S_DBI (txn, STORE_DB_REFS), &key, &value, 0);
}

static int
s_message_get (store_txn_t *txn, uint64_t id, store_message_t *message)
{
    uint8_t key_bytes [8];
    s_put_be64 (key_bytes, id);
    MDB_val key = s_val (key_bytes, 8);
    MDB_val value;
    int rc = mdb_get (S_TXN (txn), S_DBI (txn, STORE_DB_MESSAGES), &key, &value);
    if (rc)
        return rc;
    if (value.mv_size < S_MESSAGE_HEADER)
        return MDB_CORRUPTED;
    const uint8_t *data = (const uint8_t *) value.mv_data;
    uint32_t body_size;
    uint16_t sizes [4];
    memcpy (&message->date, data, 8);
    memcpy (&body_size, data + 8, 4);
    memcpy (sizes, data + 12, 8);
    size_t total = (size_t) S_MESSAGE_HEADER + sizes [0] + sizes [1] + sizes [2] + body_size;
    if (total != value.mv_size)
        return MDB_CORRUPTED;
    message->id = id;
    message->from = (const char *) data + S_MESSAGE_HEADER;
    message->from_size = sizes [0];
    message->to = message->from + sizes [0];
    message->to_size = sizes [1];
    message->subject = message->to + sizes [1];
    message->subject_size = sizes [2];
    message->body = message->subject + sizes [2];
    message->body_size = body_size;
    return 0;
}

static int
s_message_unref (store_txn_t *txn, uint64_t id, bool *freed)
{
    *freed = false;
    uint8_t key_bytes [8];
    s_put_be64 (key_bytes, id);
    MDB_val key = s_val (key_bytes, 8);
    MDB_val value;
    int rc = mdb_get (S_TXN (txn), S_DBI (txn, STORE_DB_REFS), &key, &value);
    if (rc)
        return rc;
    uint32_t refs = 0;
    if (value.mv_size != sizeof refs)
        return MDB_CORRUPTED;
    memcpy (&refs, value.mv_data, sizeof refs);
    if (refs > 1) {
        refs--;
        value = s_val (&refs, sizeof refs);
        return mdb_put (S_TXN (txn), S_DBI (txn, STORE_DB_REFS), &key, &value, 0);
    }
    rc = mdb_del (S_TXN (txn), S_DBI (txn, STORE_DB_REFS), &key, NULL);
    if (rc == 0)
        rc = mdb_del (S_TXN (txn), S_DBI (txn, STORE_DB_MESSAGES), &key, NULL);
    if (rc == 0)
        *freed = true;
    return rc;
}

//  --------------------------------------------------------------------------
//  Folders

static void
s_folder_key (uint8_t *key, uint64_t user_id, store_folder_t folder, uint64_t message_id)
{
    s_put_be64 (key, user_id);
    key [8] = (uint8_t) folder;
    s_put_be64 (key + 9, message_id);
}

static int
s_folder_put (store_txn_t *txn, uint64_t user_id,
                  store_folder_t folder, uint64_t message_id, bool seen)
{
    uint8_t buffer [S_FOLDER_KEY];
    s_folder_key (buffer, user_id, folder, message_id);
    uint8_t flag = seen? 1: 0;
    MDB_val key = s_val (buffer, sizeof buffer);
    MDB_val value = s_val (&flag, 1);
    return mdb_put (S_TXN (txn), S_DBI (txn, STORE_DB_FOLDERS), &key, &value, 0);
}

static int
s_folder_get (store_txn_t *txn, uint64_t user_id,
                  store_folder_t folder, uint64_t message_id, bool *seen)
{
    uint8_t buffer [S_FOLDER_KEY];
    s_folder_key (buffer, user_id, folder, message_id);
    MDB_val key = s_val (buffer, sizeof buffer);
    MDB_val value;
    int rc = mdb_get (S_TXN (txn), S_DBI (txn, STORE_DB_FOLDERS), &key, &value);
    if (rc == 0)
        *seen = value.mv_size == 1 && *(const uint8_t *) value.mv_data == 1;
    return rc;
}

static int
s_folder_delete (store_txn_t *txn, uint64_t user_id,
                     store_folder_t folder, uint64_t message_id)
{
    uint8_t buffer [S_FOLDER_KEY];
    s_folder_key (buffer, user_id, folder, message_id);
    MDB_val key = s_val (buffer, sizeof buffer);
    return mdb_del (S_TXN (txn), S_DBI (txn, STORE_DB_FOLDERS), &key, NULL);
}

static int
s_folder_walk (store_txn_t *txn, uint64_t user_id,
                   store_folder_t folder, uint64_t before,
                   store_folder_visit_fn *visit, void *arg)
{
    MDB_cursor *cursor;
    int rc = mdb_cursor_open (S_TXN (txn), S_DBI (txn, STORE_DB_FOLDERS), &cursor);
    if (rc)
        return rc;
    //  Stand on the first key at or past (user, folder, before), then step
    //  back: every key from there down is below `before`.
    uint8_t start [S_FOLDER_KEY];
    s_folder_key (start, user_id, folder, before? before: UINT64_MAX);
    MDB_val key = s_val (start, sizeof start);
    MDB_val value;
    rc = mdb_cursor_get (cursor, &key, &value, MDB_SET_RANGE);
    if (rc == 0) {
        //  The key at UINT64_MAX itself cannot exist: ids stop far short
        rc = mdb_cursor_get (cursor, &key, &value, MDB_PREV);
    }
    else
    if (rc == MDB_NOTFOUND)
        rc = mdb_cursor_get (cursor, &key, &value, MDB_LAST);
    while (rc == 0) {
        const uint8_t *bytes = (const uint8_t *) key.mv_data;
        if (key.mv_size != S_FOLDER_KEY || memcmp (bytes, start, 9) != 0)
            break;
        bool seen = value.mv_size == 1 && *(const uint8_t *) value.mv_data == 1;
        if (!visit (arg, s_get_be64 (bytes + 9), seen))
            break;
        rc = mdb_cursor_get (cursor, &key, &value, MDB_PREV);
    }
    mdb_cursor_close (cursor);
    return rc == MDB_NOTFOUND || rc == 0? 0: rc;
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
        rc = mdb_cursor_get (cursor, &key, &value, MDB_GET_CURRENT);
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
//  The interface: LMDB codes become store_rc_t here, once

int
store_user_get (store_txn_t *txn, const char *name, store_user_t *user)
{
    return store_lmdb_rc (s_user_get (txn, name, user), "store_user_get");
}

int
store_user_put (store_txn_t *txn, const char *name, const store_user_t *user, bool must_be_new)
{
    return store_lmdb_rc (s_user_put (txn, name, user, must_be_new), "store_user_put");
}

int
store_session_get (store_txn_t *txn, const uint8_t *digest, store_session_t *session)
{
    return store_lmdb_rc (s_session_get (txn, digest, session), "store_session_get");
}

int
store_session_put (store_txn_t *txn, const uint8_t *digest, const store_session_t *session)
{
    return store_lmdb_rc (s_session_put (txn, digest, session), "store_session_put");
}

int
store_session_delete (store_txn_t *txn, const uint8_t *digest)
{
    return store_lmdb_rc (s_session_delete (txn, digest), "store_session_delete");
}

int
store_session_delete_all (store_txn_t *txn, uint64_t user_id, const uint8_t *keep, size_t *ended)
{
    return store_lmdb_rc (s_session_delete_all (txn, user_id, keep, ended), "store_session_delete_all");
}

int
store_known_key_get (store_txn_t *txn, uint64_t user_id, const char *client_key)
{
    return store_lmdb_rc (s_known_key_get (txn, user_id, client_key), "store_known_key_get");
}

int
store_known_key_put (store_txn_t *txn, uint64_t user_id, const char *client_key)
{
    return store_lmdb_rc (s_known_key_put (txn, user_id, client_key), "store_known_key_put");
}

int
store_message_put (store_txn_t *txn, const store_message_t *message, uint32_t refs)
{
    return store_lmdb_rc (s_message_put (txn, message, refs), "store_message_put");
}

int
store_message_get (store_txn_t *txn, uint64_t id, store_message_t *message)
{
    return store_lmdb_rc (s_message_get (txn, id, message), "store_message_get");
}

int
store_message_unref (store_txn_t *txn, uint64_t id, bool *freed)
{
    return store_lmdb_rc (s_message_unref (txn, id, freed), "store_message_unref");
}

int
store_folder_put (store_txn_t *txn, uint64_t user_id, store_folder_t folder, uint64_t message_id, bool seen)
{
    return store_lmdb_rc (s_folder_put (txn, user_id, folder, message_id, seen), "store_folder_put");
}

int
store_folder_get (store_txn_t *txn, uint64_t user_id, store_folder_t folder, uint64_t message_id, bool *seen)
{
    return store_lmdb_rc (s_folder_get (txn, user_id, folder, message_id, seen), "store_folder_get");
}

int
store_folder_delete (store_txn_t *txn, uint64_t user_id, store_folder_t folder, uint64_t message_id)
{
    return store_lmdb_rc (s_folder_delete (txn, user_id, folder, message_id), "store_folder_delete");
}

int
store_folder_walk (store_txn_t *txn, uint64_t user_id, store_folder_t folder, uint64_t before, store_folder_visit_fn *visit, void *arg)
{
    return store_lmdb_rc (s_folder_walk (txn, user_id, folder, before, visit, arg), "store_folder_walk");
}

int
store_counter_get (store_txn_t *txn, const char *name, uint64_t *value_p)
{
    return store_lmdb_rc (s_counter_get (txn, name, value_p), "store_counter_get");
}

int
store_counter_add (store_txn_t *txn, const char *name, int64_t delta)
{
    return store_lmdb_rc (s_counter_add (txn, name, delta), "store_counter_add");
}

int
store_counter_next (store_txn_t *txn, const char *name, uint64_t *value_p)
{
    return store_lmdb_rc (s_counter_next (txn, name, value_p), "store_counter_next");
}

int
store_reply_get (store_txn_t *txn, const void *scope, size_t scope_size, const char *request_id, uint8_t *digest, zpost_msg_t **reply_p)
{
    return store_lmdb_rc (s_reply_get (txn, scope, scope_size, request_id, digest, reply_p), "store_reply_get");
}

int
store_reply_put (store_txn_t *txn, const void *scope, size_t scope_size, const char *request_id, const uint8_t *digest, uint64_t now, zpost_msg_t *reply)
{
    return store_lmdb_rc (s_reply_put (txn, scope, scope_size, request_id, digest, now, reply), "store_reply_put");
}

int
store_reply_expire (store_txn_t *txn, uint64_t older_than, size_t max, size_t *removed)
{
    return store_lmdb_rc (s_reply_expire (txn, older_than, max, removed), "store_reply_expire");
}

int
store_session_expire (store_txn_t *txn, uint64_t now, uint64_t idle, uint64_t max,
                      uint8_t *resume, size_t examine, size_t *removed)
{
    return store_lmdb_rc (s_session_expire (txn, now, idle, max, resume, examine, removed),
                          "store_session_expire");
}

int
store_session_count (store_txn_t *txn, uint64_t *count)
{
    return store_lmdb_rc (s_count (txn, STORE_DB_SESSIONS, count), "store_session_count");
}

int
store_reply_count (store_txn_t *txn, uint64_t *count)
{
    return store_lmdb_rc (s_count (txn, STORE_DB_REPLIES, count), "store_reply_count");
}

//  --------------------------------------------------------------------------
//  Selftest

static bool
s_collect (void *arg, uint64_t message_id, bool seen)
{
    zlistx_t *ids = (zlistx_t *) arg;
    zlistx_add_end (ids, (void *) (uintptr_t) (message_id * 2 + (seen? 1: 0)));
    return zlistx_size (ids) < 3;
}

void
store_records_test (bool verbose)
{
    if (verbose)
        printf (" * store_records: ");
    char dir [] = "/tmp/store_records_test.XXXXXX";
    assert (mkdtemp (dir));
    store_db_t *db = store_db_new (dir, 16 << 20);
    assert (db);
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

    //  Messages with two references; the second unref frees it
    store_message_t message = { .id = 42, .date = 1790000000,
        .from = "alice", .from_size = 5, .to = "bob,carol", .to_size = 9,
        .subject = "hi", .subject_size = 2, .body = "body", .body_size = 4 };
    assert (store_message_put (txn, &message, 2) == 0);
    store_message_t read;
    assert (store_message_get (txn, 42, &read) == 0);
    assert (read.date == 1790000000 && read.body_size == 4);
    assert (memcmp (read.to, "bob,carol", 9) == 0 && memcmp (read.body, "body", 4) == 0);
    bool freed;
    assert (store_message_unref (txn, 42, &freed) == 0 && !freed);
    assert (store_message_unref (txn, 42, &freed) == 0 && freed);
    assert (store_message_get (txn, 42, &read) == STORE_NOTFOUND);

    //  Folders walk newest first, below `before`, and stop when asked
    for (uint64_t id = 1; id <= 5; id++)
        assert (store_folder_put (txn, 7, STORE_INBOX, id, id == 4) == 0);
    assert (store_folder_put (txn, 7, STORE_SENT, 9, true) == 0);
    assert (store_folder_put (txn, 8, STORE_INBOX, 6, false) == 0);
    zlistx_t *ids = zlistx_new ();
    assert (store_folder_walk (txn, 7, STORE_INBOX, 0, s_collect, ids) == 0);
    assert (zlistx_size (ids) == 3);
    assert ((uintptr_t) zlistx_first (ids) == 10);
    assert ((uintptr_t) zlistx_next (ids) == 9);     //  id 4, seen
    assert ((uintptr_t) zlistx_next (ids) == 6);
    zlistx_purge (ids);
    assert (store_folder_walk (txn, 7, STORE_INBOX, 3, s_collect, ids) == 0);
    assert (zlistx_size (ids) == 2);
    assert ((uintptr_t) zlistx_first (ids) == 4);
    zlistx_purge (ids);
    assert (store_folder_walk (txn, 8, STORE_SENT, 0, s_collect, ids) == 0);
    assert (zlistx_size (ids) == 0);
    assert (store_folder_walk (txn, 9, STORE_INBOX, 0, s_collect, ids) == 0);
    assert (zlistx_size (ids) == 0);
    zlistx_destroy (&ids);
    bool seen;
    assert (store_folder_get (txn, 7, STORE_INBOX, 4, &seen) == 0 && seen);
    assert (store_folder_delete (txn, 7, STORE_INBOX, 4) == 0);
    assert (store_folder_get (txn, 7, STORE_INBOX, 4, &seen) == STORE_NOTFOUND);

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

    assert (store_txn_commit (&txn) == STORE_OK);
    store_db_destroy (&db);
    char *path = zsys_sprintf ("%s/data.mdb", dir);
    unlink (path);
    zstr_free (&path);
    path = zsys_sprintf ("%s/lock.mdb", dir);
    unlink (path);
    zstr_free (&path);
    rmdir (dir);
    if (verbose)
        printf ("OK\n");
}
