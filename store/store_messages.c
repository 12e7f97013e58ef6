/*  =========================================================================
    store_messages - messages and folders, as they sit in LMDB

    Part of the LMDB back end of store_records.h: a message is stored once
    with a count of the folders that refer to it, and a folder is a run of
    keys (user, folder, message id) whose value is its marks, so that
    a folder is walked newest first with one cursor. Each message has a
    search signature (table search, schema 3): a bit for each trigram of
    its sender, subject and body, so that SEARCH reads only the messages
    that may hold the query.
    =========================================================================
*/

#include "store_records.h"
#include "store_lmdb.h"
#include "store_pg.h"
#include <assert.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#define S_MESSAGE_HEADER    20      //  date 8, body size 4, three sizes of 2, kind 2
//  Kind 0: no more header (schema 1, and every first message of a
//  thread); kind 1: an answer, whose thread id and the id it answers
//  follow the header (8 each)
#define S_KIND_ANSWER       1
#define S_ANSWER_HEADER     16
#define S_FOLDER_KEY        17      //  user id 8, folder 1, message id 8

//  --------------------------------------------------------------------------
//  Threads: an answer's key under its thread, so that a thread is one run

static int
s_thread_index (store_txn_t *txn, uint64_t thread_id, uint64_t message_id, bool add)
{
    uint8_t buffer [16];
    s_put_be64 (buffer, thread_id);
    s_put_be64 (buffer + 8, message_id);
    MDB_val key = s_val (buffer, sizeof buffer);
    MDB_val value = s_val ("", 0);
    if (add)
        return mdb_put (S_TXN (txn), S_DBI (txn, STORE_DB_THREADS), &key, &value, 0);
    int rc = mdb_del (S_TXN (txn), S_DBI (txn, STORE_DB_THREADS), &key, NULL);
    return rc == MDB_NOTFOUND? 0: rc;
}

static int
s_thread_walk (store_txn_t *txn, uint64_t thread_id, uint64_t before,
               store_folder_visit_fn *visit, void *arg)
{
    MDB_cursor *cursor;
    int rc = mdb_cursor_open (S_TXN (txn), S_DBI (txn, STORE_DB_THREADS), &cursor);
    if (rc)
        return rc;
    //  As a folder walk: stand past (thread, before) and step back
    uint8_t start [16];
    s_put_be64 (start, thread_id);
    s_put_be64 (start + 8, before? before: UINT64_MAX);
    MDB_val key = s_val (start, sizeof start);
    MDB_val value;
    rc = mdb_cursor_get (cursor, &key, &value, MDB_SET_RANGE);
    if (rc == 0)
        rc = mdb_cursor_get (cursor, &key, &value, MDB_PREV);
    else
    if (rc == MDB_NOTFOUND)
        rc = mdb_cursor_get (cursor, &key, &value, MDB_LAST);
    bool more = true;
    while (rc == 0) {
        const uint8_t *bytes = (const uint8_t *) key.mv_data;
        if (key.mv_size != 16 || memcmp (bytes, start, 8) != 0)
            break;
        if (!visit (arg, s_get_be64 (bytes + 8), 0)) {
            more = false;
            break;
        }
        rc = mdb_cursor_get (cursor, &key, &value, MDB_PREV);
    }
    mdb_cursor_close (cursor);
    if (rc != MDB_NOTFOUND && rc != 0)
        return rc;
    //  The first message is older than every answer
    if (more && (before == 0 || thread_id < before))
        visit (arg, thread_id, 0);
    return 0;
}

//  --------------------------------------------------------------------------
//  Search signatures: 2048 bits, one set for each trigram (three bytes in
//  a row, A-Z folded to a-z) of the sender, the subject and the body. A
//  query is in a message only if every trigram of its own has its bit
//  set; SEARCH reads only those messages. 256 bytes a message: a quarter
//  of a 1 KiB body, and one put beside the message's, where an index of
//  words or trigrams would cost a put for each.

#define S_SIGNATURE_BITS    2048
#define S_SIGNATURE         (S_SIGNATURE_BITS / 8)

static inline uint8_t
s_fold (uint8_t byte)
{
    return byte >= 'A' && byte <= 'Z'? (uint8_t) (byte + 32): byte;
}

static inline unsigned
s_trigram_bit (const uint8_t *bytes)
{
    uint32_t value = ((uint32_t) s_fold (bytes [0]) << 16)
                   | ((uint32_t) s_fold (bytes [1]) << 8) | s_fold (bytes [2]);
    return (unsigned) ((value * 2654435761u) >> (32 - 11));
}

static void
s_signature_add (uint8_t *signature, const char *text, size_t size)
{
    const uint8_t *bytes = (const uint8_t *) text;
    for (size_t at = 0; at + 3 <= size; at++) {
        unsigned bit = s_trigram_bit (bytes + at);
        signature [bit >> 3] |= (uint8_t) (1u << (bit & 7));
    }
}

static int
s_signature_put (store_txn_t *txn, const store_message_t *message)
{
    uint8_t id [8];
    s_put_be64 (id, message->id);
    MDB_val key = s_val (id, 8);
    MDB_val value = { S_SIGNATURE, NULL };
    int rc = mdb_put (S_TXN (txn), S_DBI (txn, STORE_DB_SEARCH), &key, &value, MDB_RESERVE);
    if (rc)
        return rc;
    uint8_t *signature = (uint8_t *) value.mv_data;
    memset (signature, 0, S_SIGNATURE);
    s_signature_add (signature, message->from, message->from_size);
    s_signature_add (signature, message->subject, message->subject_size);
    s_signature_add (signature, message->body, message->body_size);
    return 0;
}

//  --------------------------------------------------------------------------
//  Messages

static int s_message_get (store_txn_t *txn, uint64_t id, store_message_t *message);

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
    bool answer = message->in_reply_to != 0;
    size_t head = S_MESSAGE_HEADER + (answer? S_ANSWER_HEADER: 0);
    size_t size = head + message->from_size + message->to_size
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
                           (uint16_t) message->subject_size,
                           answer? S_KIND_ANSWER: 0 };
    memcpy (out, &message->date, 8);
    memcpy (out + 8, &body_size, 4);
    memcpy (out + 12, sizes, 8);
    if (answer) {
        memcpy (out + S_MESSAGE_HEADER, &message->thread_id, 8);
        memcpy (out + S_MESSAGE_HEADER + 8, &message->in_reply_to, 8);
    }
    out += head;
    memcpy (out, message->from, message->from_size);
    out += message->from_size;
    memcpy (out, message->to, message->to_size);
    out += message->to_size;
    memcpy (out, message->subject, message->subject_size);
    out += message->subject_size;
    memcpy (out, message->body, message->body_size);

    value = s_val (&refs, sizeof refs);
    rc = mdb_put (S_TXN (txn), S_DBI (txn, STORE_DB_REFS), &key, &value, 0);
    if (rc == 0 && answer)
        rc = s_thread_index (txn, message->thread_id, message->id, true);
    if (rc == 0)
        rc = s_signature_put (txn, message);
    return rc;
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
    if (sizes [3] != 0 && sizes [3] != S_KIND_ANSWER)
        return MDB_CORRUPTED;
    size_t head = S_MESSAGE_HEADER + (sizes [3] == S_KIND_ANSWER? S_ANSWER_HEADER: 0);
    size_t total = head + sizes [0] + sizes [1] + sizes [2] + body_size;
    if (total != value.mv_size)
        return MDB_CORRUPTED;
    message->id = id;
    message->thread_id = id;
    message->in_reply_to = 0;
    if (sizes [3] == S_KIND_ANSWER) {
        memcpy (&message->thread_id, data + S_MESSAGE_HEADER, 8);
        memcpy (&message->in_reply_to, data + S_MESSAGE_HEADER + 8, 8);
    }
    message->from = (const char *) data + head;
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
    //  An answer leaves its thread's index with it
    store_message_t message;
    rc = s_message_get (txn, id, &message);
    if (rc == 0 && message.in_reply_to)
        rc = s_thread_index (txn, message.thread_id, id, false);
    if (rc == 0)
        rc = mdb_del (S_TXN (txn), S_DBI (txn, STORE_DB_REFS), &key, NULL);
    if (rc == 0)
        rc = mdb_del (S_TXN (txn), S_DBI (txn, STORE_DB_MESSAGES), &key, NULL);
    if (rc == 0) {
        //  A message of schema 2 may have none: that is fine
        rc = mdb_del (S_TXN (txn), S_DBI (txn, STORE_DB_SEARCH), &key, NULL);
        rc = rc == MDB_NOTFOUND? 0: rc;
    }
    if (rc == 0)
        *freed = true;
    return rc;
}

//  --------------------------------------------------------------------------
//  Folders

//  An entry's marks: one byte of STORE_MARK_ bits
static unsigned
s_marks (const MDB_val *value)
{
    return value->mv_size == 1? *(const uint8_t *) value->mv_data & STORE_MARKS: 0;
}

static void
s_folder_key (uint8_t *key, uint64_t user_id, store_folder_t folder, uint64_t message_id)
{
    s_put_be64 (key, user_id);
    key [8] = (uint8_t) folder;
    s_put_be64 (key + 9, message_id);
}

static int
s_folder_put (store_txn_t *txn, uint64_t user_id,
                  store_folder_t folder, uint64_t message_id, unsigned marks)
{
    uint8_t buffer [S_FOLDER_KEY];
    s_folder_key (buffer, user_id, folder, message_id);
    uint8_t flag = (uint8_t) (marks & STORE_MARKS);
    MDB_val key = s_val (buffer, sizeof buffer);
    MDB_val value = s_val (&flag, 1);
    return mdb_put (S_TXN (txn), S_DBI (txn, STORE_DB_FOLDERS), &key, &value, 0);
}

static int
s_folder_get (store_txn_t *txn, uint64_t user_id,
                  store_folder_t folder, uint64_t message_id, unsigned *marks)
{
    uint8_t buffer [S_FOLDER_KEY];
    s_folder_key (buffer, user_id, folder, message_id);
    MDB_val key = s_val (buffer, sizeof buffer);
    MDB_val value;
    int rc = mdb_get (S_TXN (txn), S_DBI (txn, STORE_DB_FOLDERS), &key, &value);
    if (rc == 0)
        *marks = s_marks (&value);
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
        if (!visit (arg, s_get_be64 (bytes + 9), s_marks (&value)))
            break;
        rc = mdb_cursor_get (cursor, &key, &value, MDB_PREV);
    }
    mdb_cursor_close (cursor);
    return rc == MDB_NOTFOUND || rc == 0? 0: rc;
}

//  --------------------------------------------------------------------------
//  SEARCH: a walk of the folder that looks up each entry's signature, and
//  reads and matches only the messages whose signature has every bit of
//  the query's trigrams (or that have none: written by schema 2 and not
//  migrated, which cannot be, but costs nothing to allow)

void
store_search_fold (char *text)
{
    for (; *text; text++)
        if (*text >= 'A' && *text <= 'Z')
            *text = (char) (*text - 'A' + 'a');
}

static inline bool
s_equal_folded (const uint8_t *text, const uint8_t *folded, size_t size)
{
    for (size_t index = 0; index < size; index++)
        if (s_fold (text [index]) != folded [index])
            return false;
    return true;
}

//  Every place where the query's first and last bytes both match is a
//  candidate, checked whole; with SSE2, 16 places at a time. A lower-case
//  letter of the query matches a byte b when (b | 0x20) equals it, which
//  holds for that letter and its capital only; any other byte must be
//  equal as it is.
bool
store_search_match (const char *text, size_t size, const char *folded, size_t folded_size)
{
    if (folded_size == 0)
        return true;
    if (size < folded_size)
        return false;
    const uint8_t *hay = (const uint8_t *) text;
    const uint8_t *query = (const uint8_t *) folded;
    uint8_t first = query [0];
    uint8_t last = query [folded_size - 1];
    size_t end = size - folded_size + 1;    //  candidates are 0 .. end - 1
    size_t at = 0;
#ifdef __SSE2__
    uint8_t first_case = first >= 'a' && first <= 'z'? 0x20: 0;
    uint8_t last_case = last >= 'a' && last <= 'z'? 0x20: 0;
    __m128i want_first = _mm_set1_epi8 ((char) first);
    __m128i want_last = _mm_set1_epi8 ((char) last);
    __m128i or_first = _mm_set1_epi8 ((char) first_case);
    __m128i or_last = _mm_set1_epi8 ((char) last_case);
    //  Both loads end at or before byte size - 1: at + 15 < end
    for (; at + 16 <= end; at += 16) {
        __m128i head = _mm_loadu_si128 ((const __m128i *) (hay + at));
        __m128i tail = _mm_loadu_si128 ((const __m128i *) (hay + at + folded_size - 1));
        __m128i both = _mm_and_si128 (
            _mm_cmpeq_epi8 (_mm_or_si128 (head, or_first), want_first),
            _mm_cmpeq_epi8 (_mm_or_si128 (tail, or_last), want_last));
        unsigned bits = (unsigned) _mm_movemask_epi8 (both);
        while (bits) {
            unsigned offset = (unsigned) __builtin_ctz (bits);
            if (s_equal_folded (hay + at + offset, query, folded_size))
                return true;
            bits &= bits - 1;
        }
    }
#endif
    for (; at < end; at++)
        if (s_fold (hay [at]) == first && s_equal_folded (hay + at, query, folded_size))
            return true;
    return false;
}

bool
store_search_message (const store_message_t *message, unsigned within,
                      const char *folded, size_t folded_size)
{
    return ((within & STORE_WITHIN_FROM)
            && store_search_match (message->from, message->from_size, folded, folded_size))
        || ((within & STORE_WITHIN_SUBJECT)
            && store_search_match (message->subject, message->subject_size,
                                   folded, folded_size))
        || ((within & STORE_WITHIN_BODY)
            && store_search_match (message->body, message->body_size, folded, folded_size));
}

//  Steps back the search's cursor takes before it searches instead
#define S_SEARCH_STEPS      4

typedef struct {
    store_txn_t *txn;
    const char *folded;         //  the query, folded
    size_t folded_size;
    unsigned within;            //  STORE_WITHIN_ bits
    store_folder_visit_fn *visit;   //  the caller's
    void *arg;
    MDB_cursor *signatures;     //  on table search
    bool positioned;            //  the cursor stands on the last id found
    unsigned bits [ZPOST_QUERY_MAX];    //  the query's trigrams' bits
    size_t bit_count;
    int rc;                     //  first LMDB error met
} s_search_t;

static bool
s_search_visit (void *arg, uint64_t message_id, unsigned marks)
{
    s_search_t *search = (s_search_t *) arg;
    uint8_t id [8];
    s_put_be64 (id, message_id);
    MDB_val key = s_val (id, 8);
    MDB_val value;
    //  The ids come in decreasing order, and often one right below the
    //  other (a user's mail among few others'): a step or two back from
    //  the last signature finds the next without a search; else the
    //  cursor searches, from the page it is on when the id is there
    int rc = MDB_NOTFOUND;
    if (search->positioned)
        for (int step = 0; step < S_SEARCH_STEPS; step++) {
            MDB_val here;
            if (mdb_cursor_get (search->signatures, &here, &value, MDB_PREV)
            ||  here.mv_size != 8)
                break;
            uint64_t here_id = s_get_be64 ((const uint8_t *) here.mv_data);
            if (here_id == message_id)
                rc = 0;
            if (here_id <= message_id)
                break;
        }
    if (rc)
        rc = mdb_cursor_get (search->signatures, &key, &value, MDB_SET_KEY);
    search->positioned = rc == 0;
    if (rc == 0 && value.mv_size == S_SIGNATURE) {
        const uint8_t *signature = (const uint8_t *) value.mv_data;
        for (size_t index = 0; index < search->bit_count; index++) {
            unsigned bit = search->bits [index];
            if (!(signature [bit >> 3] & (1u << (bit & 7))))
                return true;
        }
    }
    else
    if (rc != MDB_NOTFOUND) {
        search->rc = rc? rc: MDB_CORRUPTED;
        return false;
    }
    store_message_t message;
    search->rc = s_message_get (search->txn, message_id, &message);
    if (search->rc)
        return false;
    if (!store_search_message (&message, search->within, search->folded,
                               search->folded_size))
        return true;
    return search->visit (search->arg, message_id, marks);
}

static int
s_folder_search (store_txn_t *txn, uint64_t user_id, store_folder_t folder,
                 uint64_t before, const char *folded, unsigned within,
                 store_folder_visit_fn *visit, void *arg)
{
    s_search_t search = { .txn = txn, .folded = folded, .folded_size = strlen (folded),
                          .within = within, .visit = visit, .arg = arg };
    for (size_t at = 0; at + 3 <= search.folded_size; at++)
        search.bits [search.bit_count++] = s_trigram_bit ((const uint8_t *) folded + at);
    int rc = mdb_cursor_open (S_TXN (txn), S_DBI (txn, STORE_DB_SEARCH), &search.signatures);
    if (rc)
        return rc;
    rc = s_folder_walk (txn, user_id, folder, before, s_search_visit, &search);
    mdb_cursor_close (search.signatures);
    return rc? rc: search.rc;
}

int
store_lmdb_search_index (store_txn_t *txn, size_t *written)
{
    *written = 0;
    MDB_cursor *cursor;
    int rc = mdb_cursor_open (S_TXN (txn), S_DBI (txn, STORE_DB_REFS), &cursor);
    if (rc)
        return rc;
    //  The refs table has a key for each message, as the dump's walk says
    MDB_val key, value;
    for (rc = mdb_cursor_get (cursor, &key, &value, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get (cursor, &key, &value, MDB_NEXT)) {
        if (key.mv_size != 8) {
            rc = MDB_CORRUPTED;
            break;
        }
        MDB_val found;
        rc = mdb_get (S_TXN (txn), S_DBI (txn, STORE_DB_SEARCH), &key, &found);
        if (rc == 0)
            continue;
        if (rc != MDB_NOTFOUND)
            break;
        store_message_t message;
        rc = s_message_get (txn, s_get_be64 ((const uint8_t *) key.mv_data), &message);
        if (rc == 0)
            rc = s_signature_put (txn, &message);
        if (rc)
            break;
        (*written)++;
    }
    mdb_cursor_close (cursor);
    return rc == MDB_NOTFOUND? 0: rc;
}

//  --------------------------------------------------------------------------
//  Walks of the whole tables, for the dump

static int
s_message_walk (store_txn_t *txn, store_message_visit_fn *visit, void *arg)
{
    MDB_cursor *cursor;
    int rc = mdb_cursor_open (S_TXN (txn), S_DBI (txn, STORE_DB_REFS), &cursor);
    if (rc)
        return rc;
    //  The refs table has one key per message, in the same order, and
    //  small values: walk it and read each message by its id
    MDB_val key, value;
    for (rc = mdb_cursor_get (cursor, &key, &value, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get (cursor, &key, &value, MDB_NEXT)) {
        uint32_t refs;
        if (key.mv_size != 8 || value.mv_size != sizeof refs) {
            rc = MDB_CORRUPTED;
            break;
        }
        memcpy (&refs, value.mv_data, sizeof refs);
        store_message_t message;
        rc = s_message_get (txn, s_get_be64 ((const uint8_t *) key.mv_data), &message);
        if (rc == MDB_NOTFOUND)
            rc = MDB_CORRUPTED;         //  a count with no message
        if (rc || !visit (arg, &message, refs))
            break;
    }
    mdb_cursor_close (cursor);
    return rc == MDB_NOTFOUND? 0: rc;
}

static int
s_folder_walk_all (store_txn_t *txn, store_entry_visit_fn *visit, void *arg)
{
    MDB_cursor *cursor;
    int rc = mdb_cursor_open (S_TXN (txn), S_DBI (txn, STORE_DB_FOLDERS), &cursor);
    if (rc)
        return rc;
    MDB_val key, value;
    for (rc = mdb_cursor_get (cursor, &key, &value, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get (cursor, &key, &value, MDB_NEXT)) {
        const uint8_t *bytes = (const uint8_t *) key.mv_data;
        if (key.mv_size != S_FOLDER_KEY || (bytes [8] != STORE_INBOX && bytes [8] != STORE_SENT)) {
            rc = MDB_CORRUPTED;
            break;
        }
        if (!visit (arg, s_get_be64 (bytes), (store_folder_t) bytes [8],
                    s_get_be64 (bytes + 9), s_marks (&value)))
            break;
    }
    mdb_cursor_close (cursor);
    return rc == MDB_NOTFOUND? 0: rc;
}

//  --------------------------------------------------------------------------
//  The interface: LMDB codes become store_rc_t here, once

int
store_message_put (store_txn_t *txn, const store_message_t *message, uint32_t refs)
{
    if (txn->pg)
        return store_pg_message_put (txn, message, refs);
    return store_lmdb_rc (s_message_put (txn, message, refs), "store_message_put");
}

int
store_message_get (store_txn_t *txn, uint64_t id, store_message_t *message)
{
    if (txn->pg)
        return store_pg_message_get (txn, id, message);
    return store_lmdb_rc (s_message_get (txn, id, message), "store_message_get");
}

int
store_message_unref (store_txn_t *txn, uint64_t id, bool *freed)
{
    if (txn->pg)
        return store_pg_message_unref (txn, id, freed);
    return store_lmdb_rc (s_message_unref (txn, id, freed), "store_message_unref");
}

int
store_thread_walk (store_txn_t *txn, uint64_t thread_id, uint64_t before,
                   store_folder_visit_fn *visit, void *arg)
{
    if (txn->pg)
        return store_pg_thread_walk (txn, thread_id, before, visit, arg);
    return store_lmdb_rc (s_thread_walk (txn, thread_id, before, visit, arg),
                          "store_thread_walk");
}

int
store_folder_put (store_txn_t *txn, uint64_t user_id, store_folder_t folder, uint64_t message_id, unsigned marks)
{
    if (txn->pg)
        return store_pg_folder_put (txn, user_id, folder, message_id, marks);
    return store_lmdb_rc (s_folder_put (txn, user_id, folder, message_id, marks), "store_folder_put");
}

int
store_folder_get (store_txn_t *txn, uint64_t user_id, store_folder_t folder, uint64_t message_id, unsigned *marks)
{
    if (txn->pg)
        return store_pg_folder_get (txn, user_id, folder, message_id, marks);
    return store_lmdb_rc (s_folder_get (txn, user_id, folder, message_id, marks), "store_folder_get");
}

int
store_folder_delete (store_txn_t *txn, uint64_t user_id, store_folder_t folder, uint64_t message_id)
{
    if (txn->pg)
        return store_pg_folder_delete (txn, user_id, folder, message_id);
    return store_lmdb_rc (s_folder_delete (txn, user_id, folder, message_id), "store_folder_delete");
}

//  The ids of one folder, collected before anything is deleted: a walk
//  must not see its own table change under it
typedef struct {
    uint64_t *ids;
    size_t count;
    size_t max;
} s_ids_t;

static bool
s_collect_id (void *arg, uint64_t message_id, unsigned marks)
{
    (void) marks;
    s_ids_t *ids = (s_ids_t *) arg;
    if (ids->count == ids->max) {
        ids->max = ids->max? ids->max * 2: 256;
        ids->ids = (uint64_t *) realloc (ids->ids, ids->max * sizeof (uint64_t));
        assert (ids->ids);
    }
    ids->ids [ids->count++] = message_id;
    return true;
}

int
store_folder_empty (store_txn_t *txn, uint64_t user_id, store_folder_t folder,
                    uint64_t *freed, uint64_t *freed_bytes)
{
    *freed = 0;
    *freed_bytes = 0;
    if (txn->pg)
        return store_pg_folder_empty (txn, user_id, folder, freed, freed_bytes);
    //  LMDB: entry by entry, in one write transaction of microseconds each
    s_ids_t ids = { NULL, 0, 0 };
    int rc = store_folder_walk (txn, user_id, folder, 0, s_collect_id, &ids);
    for (size_t index = 0; rc == STORE_OK && index < ids.count; index++) {
        uint64_t id = ids.ids [index];
        store_message_t message;
        rc = store_message_get (txn, id, &message);
        uint64_t size = rc == STORE_OK? message.body_size: 0;
        if (rc == STORE_OK)
            rc = store_folder_delete (txn, user_id, folder, id);
        bool gone = false;
        if (rc == STORE_OK)
            rc = store_message_unref (txn, id, &gone);
        if (rc == STORE_OK && gone) {
            (*freed)++;
            *freed_bytes += size;
        }
    }
    free (ids.ids);
    return rc;
}

static bool
s_inbox_newest (void *arg, uint64_t message_id, unsigned marks)
{
    (void) marks;
    *(uint64_t *) arg = message_id;
    return false;               //  the first is the newest: enough
}

int
store_inbox_state (store_txn_t *txn, const char *name, uint64_t *newest,
                   uint64_t *unread)
{
    if (txn->pg)
        return store_pg_inbox_state (txn, name, newest, unread);
    store_user_t user;
    int rc = store_user_get (txn, name, &user);
    if (rc)
        return rc;
    *unread = user.inbox_unread;
    *newest = 0;
    rc = store_folder_walk (txn, user.id, STORE_INBOX, 0, s_inbox_newest, newest);
    memset (&user, 0, sizeof user);
    return rc;
}

int
store_notify_users (store_txn_t *txn, const char *names)
{
    if (txn->pg)
        return store_pg_notify_users (txn, names);
    return STORE_OK;
}

int
store_folder_walk (store_txn_t *txn, uint64_t user_id, store_folder_t folder, uint64_t before, store_folder_visit_fn *visit, void *arg)
{
    if (txn->pg)
        return store_pg_folder_walk (txn, user_id, folder, before, visit, arg);
    return store_lmdb_rc (s_folder_walk (txn, user_id, folder, before, visit, arg), "store_folder_walk");
}

int
store_folder_search (store_txn_t *txn, uint64_t user_id, store_folder_t folder,
                     uint64_t before, const char *folded, unsigned within,
                     store_folder_visit_fn *visit, void *arg)
{
    if (txn->pg)
        return store_pg_folder_search (txn, user_id, folder, before, folded, within,
                                       visit, arg);
    return store_lmdb_rc (s_folder_search (txn, user_id, folder, before, folded, within,
                                           visit, arg), "store_folder_search");
}

int
store_message_walk (store_txn_t *txn, store_message_visit_fn *visit, void *arg)
{
    if (txn->pg)
        return store_pg_message_walk (txn, visit, arg);
    return store_lmdb_rc (s_message_walk (txn, visit, arg), "store_message_walk");
}

int
store_folder_walk_all (store_txn_t *txn, store_entry_visit_fn *visit, void *arg)
{
    if (txn->pg)
        return store_pg_folder_walk_all (txn, visit, arg);
    return store_lmdb_rc (s_folder_walk_all (txn, visit, arg), "store_folder_walk_all");
}

//  --------------------------------------------------------------------------
//  Selftest

static bool
s_collect (void *arg, uint64_t message_id, unsigned marks)
{
    zlistx_t *ids = (zlistx_t *) arg;
    zlistx_add_end (ids, (void *) (uintptr_t) (message_id * 4 + marks));
    return zlistx_size (ids) < 3;
}

void
store_messages_test (bool verbose)
{
    if (verbose)
        printf (" * store_messages: ");
    char *dir;
    store_db_t *db = store_db_scratch_new ("zpost-store-messages", 16 << 20, &dir);
    store_txn_t *txn;
    assert (store_txn_begin (db, NULL, true, &txn) == STORE_OK);

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
        assert (store_folder_put (txn, 7, STORE_INBOX, id,
                                  id == 4? STORE_MARK_SEEN: id == 5? STORE_MARK_FLAGGED: 0) == 0);
    assert (store_folder_put (txn, 7, STORE_SENT, 9, true) == 0);
    assert (store_folder_put (txn, 8, STORE_INBOX, 6, false) == 0);
    zlistx_t *ids = zlistx_new ();
    assert (store_folder_walk (txn, 7, STORE_INBOX, 0, s_collect, ids) == 0);
    assert (zlistx_size (ids) == 3);
    assert ((uintptr_t) zlistx_first (ids) == 22);    //  id 5, flagged
    assert ((uintptr_t) zlistx_next (ids) == 17);     //  id 4, seen
    assert ((uintptr_t) zlistx_next (ids) == 12);
    zlistx_purge (ids);
    assert (store_folder_walk (txn, 7, STORE_INBOX, 3, s_collect, ids) == 0);
    assert (zlistx_size (ids) == 2);
    assert ((uintptr_t) zlistx_first (ids) == 8);
    zlistx_purge (ids);
    assert (store_folder_walk (txn, 8, STORE_SENT, 0, s_collect, ids) == 0);
    assert (zlistx_size (ids) == 0);
    assert (store_folder_walk (txn, 9, STORE_INBOX, 0, s_collect, ids) == 0);
    assert (zlistx_size (ids) == 0);
    zlistx_destroy (&ids);
    unsigned marks;
    assert (store_folder_get (txn, 7, STORE_INBOX, 4, &marks) == 0 && marks == STORE_MARK_SEEN);
    assert (store_folder_put (txn, 7, STORE_INBOX, 4, STORE_MARKS) == 0);
    assert (store_folder_get (txn, 7, STORE_INBOX, 4, &marks) == 0 && marks == STORE_MARKS);
    assert (store_folder_delete (txn, 7, STORE_INBOX, 4) == 0);
    assert (store_folder_get (txn, 7, STORE_INBOX, 4, &marks) == STORE_NOTFOUND);

    //  A nested transaction whose put is refused leaves its parent usable.
    //  A back end may report the refusal at the put (LMDB) or at the
    //  nested commit (PostgreSQL defers writes to it): either way it is
    //  STORE_EXISTS, and the parent goes on.
    store_txn_t *child;
    assert (store_txn_begin (db, txn, true, &child) == STORE_OK);
    assert (store_message_put (child, &message, 1) == 0);
    assert (store_txn_commit (&child) == STORE_OK);
    assert (store_txn_begin (db, txn, true, &child) == STORE_OK);
    int rc = store_message_put (child, &message, 1);
    if (rc == STORE_OK)
        rc = store_txn_commit (&child);
    else
        store_txn_abort (&child);
    assert (rc == STORE_EXISTS);
    assert (child == NULL);
    assert (store_message_get (txn, 42, &read) == 0 && read.body_size == 4);
    assert (store_folder_put (txn, 7, STORE_INBOX, 42, false) == 0);

    //  SEARCH's match: ASCII letters either case, other bytes as they are,
    //  at every place of texts of every length (both paths of the SSE2
    //  loop and the tail), against a plain search
    assert (store_search_match ("Hello World", 11, "o w", 3));
    assert (store_search_match ("HELLO", 5, "hello", 5));
    assert (!store_search_match ("hell", 4, "hello", 5));
    assert (store_search_match ("caf\xc3\xa9 au lait", 15, "caf\xc3\xa9", 5));
    assert (!store_search_match ("CAF\xc3\x89", 5, "caf\xc3\xa9", 5));  //  no Unicode folding
    assert (!store_search_match ("a@b", 3, "a`b", 3));   //  @ is not ` in another case
    assert (store_search_match ("x", 1, "", 0));
    char text [80], query [4] = "q%z";
    for (size_t size = 0; size < sizeof text; size++) {
        for (size_t at = 0; at + 3 <= size + 1; at++) {
            memset (text, '.', sizeof text);
            bool fits = at + 3 <= size;
            if (fits)
                memcpy (text + at, "Q%Z", 3);
            assert (store_search_match (text, size, query, 3) == fits);
            if (fits) {
                text [at + 2] = 'y';
                assert (!store_search_match (text, size, query, 3));
            }
        }
    }
    char folded [] = "MiXeD 42 \xc3\x89";
    store_search_fold (folded);
    assert (streq (folded, "mixed 42 \xc3\x89"));

    //  store_folder_search: only the folder's matches, newest first, in
    //  the fields asked; a freed message takes its signature with it
    store_message_t mail [] = {
        { .id = 101, .from = "carol", .from_size = 5, .to = "dave", .to_size = 4,
          .subject = "Lunch", .subject_size = 5, .body = "at noon", .body_size = 7 },
        { .id = 102, .from = "erin", .from_size = 4, .to = "dave", .to_size = 4,
          .subject = "report", .subject_size = 6, .body = "see the LUNCH menu",
          .body_size = 18 },
        { .id = 103, .from = "lunchbox", .from_size = 8, .to = "dave", .to_size = 4,
          .subject = "hi", .subject_size = 2, .body = "nothing", .body_size = 7 },
    };
    for (size_t index = 0; index < 3; index++) {
        mail [index].date = 1790000000;
        assert (store_message_put (txn, &mail [index], 1) == 0);
        assert (store_folder_put (txn, 11, STORE_INBOX, mail [index].id, 0) == 0);
    }
    assert (store_folder_put (txn, 12, STORE_INBOX, 101, 0) == 0);
    ids = zlistx_new ();
    assert (store_folder_search (txn, 11, STORE_INBOX, 0, "lunch", STORE_WITHIN_ANY,
                                 s_collect, ids) == 0);
    assert (zlistx_size (ids) == 3);
    assert ((uintptr_t) zlistx_first (ids) == 103 * 4);
    zlistx_purge (ids);
    assert (store_folder_search (txn, 11, STORE_INBOX, 103, "lunch", STORE_WITHIN_ANY,
                                 s_collect, ids) == 0);
    assert (zlistx_size (ids) == 2 && (uintptr_t) zlistx_first (ids) == 102 * 4);
    zlistx_purge (ids);
    assert (store_folder_search (txn, 11, STORE_INBOX, 0, "lunch", STORE_WITHIN_SUBJECT,
                                 s_collect, ids) == 0);
    assert (zlistx_size (ids) == 1 && (uintptr_t) zlistx_first (ids) == 101 * 4);
    zlistx_purge (ids);
    assert (store_folder_search (txn, 11, STORE_INBOX, 0, "lunch", STORE_WITHIN_FROM,
                                 s_collect, ids) == 0);
    assert (zlistx_size (ids) == 1 && (uintptr_t) zlistx_first (ids) == 103 * 4);
    zlistx_purge (ids);
    assert (store_folder_search (txn, 11, STORE_SENT, 0, "lunch", STORE_WITHIN_ANY,
                                 s_collect, ids) == 0);
    assert (zlistx_size (ids) == 0);
    assert (store_folder_search (txn, 11, STORE_INBOX, 0, "dinner", STORE_WITHIN_ANY,
                                 s_collect, ids) == 0);
    assert (zlistx_size (ids) == 0);
    assert (store_folder_delete (txn, 11, STORE_INBOX, 102) == 0);
    assert (store_message_unref (txn, 102, &freed) == 0 && freed);
    assert (store_folder_search (txn, 11, STORE_INBOX, 0, "lunch", STORE_WITHIN_ANY,
                                 s_collect, ids) == 0);
    assert (zlistx_size (ids) == 2 && (uintptr_t) zlistx_last (ids) == 101 * 4);
    zlistx_destroy (&ids);
    if (!txn->pg) {
        //  A message without a signature (schema 2) is read whole, and
        //  the migration's index gives it one
        uint8_t key_bytes [8];
        s_put_be64 (key_bytes, 101);
        MDB_val key = s_val (key_bytes, 8);
        assert (mdb_del (S_TXN (txn), S_DBI (txn, STORE_DB_SEARCH), &key, NULL) == 0);
        ids = zlistx_new ();
        assert (store_folder_search (txn, 12, STORE_INBOX, 0, "noon", STORE_WITHIN_ANY,
                                     s_collect, ids) == 0);
        assert (zlistx_size (ids) == 1);
        zlistx_destroy (&ids);
        size_t written;
        assert (store_lmdb_search_index (txn, &written) == 0 && written == 1);
        assert (store_lmdb_search_index (txn, &written) == 0 && written == 0);
    }

    assert (store_txn_commit (&txn) == STORE_OK);
    store_db_scratch_destroy (&db, &dir);
    if (verbose)
        printf ("OK\n");
}
