/*  =========================================================================
    store_records - the store's records and how they sit in LMDB

    Every table of store_db.h is read and written here and nowhere else,
    so the on-disk layout is in one file. Numbers in keys are big-endian,
    so that LMDB's byte order is numeric order: a user's folder is one
    contiguous run of keys, newest message last. Values are fixed-layout
    structs copied in and out with memcpy (LMDB gives no alignment), and
    message records hold their strings after a small header.

        users           name -> store_user_t
        sessions        digest[32] -> store_session_t
        user-sessions   user-id + digest[32] -> ""
        known-keys      user-id + client-key[40] -> ""
        messages        message-id -> header [+ thread] + from + to + subject + body
        threads         thread-id + message-id -> "" (answers only)
        refs            message-id -> uint32 count of folders holding it
        folders         user-id + 'i'|'s' + message-id -> uint8 marks
        replies         scope + request-id -> time + digest[16] + zmsg_encode
        reply-times     time + scope + request-id -> ""
        meta            counter name -> uint64

    This header is the whole storage interface the engine sees, with
    store_db.h: it names records, never LMDB. Functions take the caller's
    transaction and return a store_rc_t: STORE_OK, STORE_NOTFOUND where a
    lookup found nothing, STORE_EXISTS, or STORE_FULL / STORE_RETRY /
    STORE_FAILED, which the caller passes up so the group commit can grow
    the map and run again, or fail the request. The LMDB back end is
    store_records.c, store_messages.c and store_db.c; the PostgreSQL back
    end, store_pg.c and store_pg_records.c, implements the same two
    headers, with STORE_UNAVAILABLE (answered 503) when its database
    cannot be reached, and reports a refused write of a nested transaction
    at that transaction's commit rather than at the write.
    =========================================================================
*/

#ifndef STORE_RECORDS_H_INCLUDED
#define STORE_RECORDS_H_INCLUDED

#include <czmq.h>
#include "store_db.h"
#include "zpost_msg.h"

#define STORE_HASH_SIZE     128     //  crypto_pwhash_STRBYTES
#define STORE_DIGEST_SIZE   32      //  BLAKE2b-256 of a session token
#define STORE_REQUEST_DIGEST_SIZE 16    //  BLAKE2b-128 of a request's content

typedef struct {
    uint64_t id;                    //  never reused
    uint64_t created;               //  Unix seconds
    uint64_t inbox_count;           //  messages in the inbox
    uint64_t inbox_unread;          //  of which not yet read
    uint64_t inbox_bytes;           //  body bytes in the inbox
    uint64_t sent_count;            //  messages in the sent folder
    uint64_t sent_bytes;            //  body bytes in the sent folder
    char hash [STORE_HASH_SIZE];    //  crypto_pwhash_str output
} store_user_t;

typedef struct {
    uint64_t user_id;               //  whose session
    char username [ZPOST_NAME_MAX + 1];         //  their name
    char client_key [ZPOST_KEY_TEXT_SIZE + 1];  //  CURVE key it is bound to
    uint64_t created;               //  Unix seconds
    uint64_t last_used;             //  Unix seconds, updated at most each minute
} store_session_t;

//  A message as read: the strings point into LMDB's map and are valid only
//  while the transaction is open. None is NUL-terminated.
typedef struct {
    uint64_t id;                    //  message id
    uint64_t date;                  //  Unix seconds
    uint64_t in_reply_to;           //  the message it answers, or 0
    uint64_t thread_id;             //  the first message of its thread: its
                                    //  own id when in_reply_to is 0 (put
                                    //  ignores it then)
    const char *from;               //  sender's name
    size_t from_size;
    const char *to;                 //  recipients, comma-separated
    size_t to_size;
    const char *subject;
    size_t subject_size;
    const char *body;
    size_t body_size;
} store_message_t;

typedef enum {
    STORE_INBOX = 'i',
    STORE_SENT = 's'
} store_folder_t;

//  Users
int
    store_user_get (store_txn_t *txn, const char *name, store_user_t *user);
int
    store_user_put (store_txn_t *txn, const char *name,
                    const store_user_t *user, bool must_be_new);

//  Delete an account: its user record, the client keys known to it, and
//  the replies recorded under its id (the scope of store_reply_put: the
//  id as 8 bytes, big-endian). Its sessions (store_session_delete_all)
//  and folder entries are the caller's to remove. STORE_NOTFOUND if
//  there is no such user. The id is never handed out again.
int
    store_user_delete (store_txn_t *txn, const char *name, uint64_t user_id);

//  Sessions, keyed by the digest of the token. Put also indexes the
//  session under its user; delete removes both.
int
    store_session_get (store_txn_t *txn, const uint8_t *digest,
                       store_session_t *session);
int
    store_session_put (store_txn_t *txn, const uint8_t *digest,
                       const store_session_t *session);
int
    store_session_delete (store_txn_t *txn, const uint8_t *digest);
//  End every session of a user except keep (NULL: all). *ended counts them.
int
    store_session_delete_all (store_txn_t *txn, uint64_t user_id,
                              const uint8_t *keep, size_t *ended);

//  Delete expired sessions (idle or past max seconds old at now),
//  examining at most `examine` records from `resume` (a digest, all zero
//  at first), which is left where the walk stopped, for the next call.
int
    store_session_expire (store_txn_t *txn, uint64_t now, uint64_t idle, uint64_t max,
                          uint8_t *resume, size_t examine, size_t *removed);
//  Records held, for STATS and the soak
int
    store_session_count (store_txn_t *txn, uint64_t *count);
int
    store_reply_count (store_txn_t *txn, uint64_t *count);

//  Client keys that have logged in as a user
int
    store_known_key_get (store_txn_t *txn, uint64_t user_id,
                         const char *client_key);
int
    store_known_key_put (store_txn_t *txn, uint64_t user_id,
                         const char *client_key);

//  Messages. Put stores a new message with its refs count.
int
    store_message_put (store_txn_t *txn, const store_message_t *message,
                       uint32_t refs);
int
    store_message_get (store_txn_t *txn, uint64_t id,
                       store_message_t *message);
//  Drop one reference; the message goes when none is left.
int
    store_message_unref (store_txn_t *txn, uint64_t id, bool *freed);

//  Folders. An entry holds its marks, STORE_MARK_ bits: seen (read, or
//  marked seen; always set in the sent folder) and flagged (starred).
//  Schema 1 knew only seen, as 0 or 1: the same bits.
#define STORE_MARK_SEEN     1
#define STORE_MARK_FLAGGED  2
#define STORE_MARKS         3       //  every mark there is
int
    store_folder_put (store_txn_t *txn, uint64_t user_id,
                      store_folder_t folder, uint64_t message_id, unsigned marks);
int
    store_folder_get (store_txn_t *txn, uint64_t user_id,
                      store_folder_t folder, uint64_t message_id, unsigned *marks);
int
    store_folder_delete (store_txn_t *txn, uint64_t user_id,
                         store_folder_t folder, uint64_t message_id);
//  Every entry of one folder gone, each message one reference less and
//  freed with its last; *freed and *freed_bytes (body sizes) count the
//  messages freed. On PostgreSQL one statement whatever the folder's
//  size: a long transaction holds the writers' lock, and every store
//  waits for it (UNREGISTER of 50,000 messages took 13 s one by one).
int
    store_folder_empty (store_txn_t *txn, uint64_t user_id, store_folder_t folder,
                        uint64_t *freed, uint64_t *freed_bytes);

//  Walk a folder newest first, starting below `before` (0: the newest).
//  Calls visit for each entry until it returns false or the folder ends.
typedef bool (store_folder_visit_fn) (void *arg, uint64_t message_id, unsigned marks);
int
    store_folder_walk (store_txn_t *txn, uint64_t user_id,
                       store_folder_t folder, uint64_t before,
                       store_folder_visit_fn *visit, void *arg);

//  Walk the messages of a thread newest first, taking ids below `before`
//  (0: from the newest): its answers, then the thread's first message
//  (thread_id itself) even if it has been freed since. visit as for
//  folders (marks always 0); the caller checks what a user may see.
int
    store_thread_walk (store_txn_t *txn, uint64_t thread_id, uint64_t before,
                       store_folder_visit_fn *visit, void *arg);

//  SEARCH: the fields a query looks in (STORE_WITHIN_ bits)
#define STORE_WITHIN_FROM       1
#define STORE_WITHIN_SUBJECT    2
#define STORE_WITHIN_BODY       4
#define STORE_WITHIN_ANY        7

//  Walk the entries of a folder as store_folder_walk does (newest first,
//  below `before`), visiting only those whose message holds `folded` in
//  one of the `within` fields (store_search_match). folded is the query
//  with A-Z folded to a-z (store_search_fold), 1..ZPOST_QUERY_MAX bytes
//  without control characters. LMDB reads every message of the folder;
//  PostgreSQL asks its trigram index first, and checks each candidate
//  with store_search_match too, so both give the same rows.
int
    store_folder_search (store_txn_t *txn, uint64_t user_id,
                         store_folder_t folder, uint64_t before,
                         const char *folded, unsigned within,
                         store_folder_visit_fn *visit, void *arg);

//  Fold ASCII A-Z of text to a-z, in place; every other byte is kept.
void
    store_search_fold (char *text);

//  Does the message hold folded (of size folded_size) in one of the
//  `within` fields? ASCII letters match either case; every other byte
//  only itself.
bool
    store_search_message (const store_message_t *message, unsigned within,
                          const char *folded, size_t folded_size);

//  Does text hold folded? ASCII letters of text match either case; every
//  other byte only itself. Since both are UTF-8, a match is always of
//  whole characters.
bool
    store_search_match (const char *text, size_t size,
                        const char *folded, size_t folded_size);

//  Server-wide counters in "meta"
int
    store_counter_get (store_txn_t *txn, const char *name, uint64_t *value);
int
    store_counter_add (store_txn_t *txn, const char *name, int64_t delta);
//  Add one and give the new value: ids start at 1
int
    store_counter_next (store_txn_t *txn, const char *name, uint64_t *value);

//  Recorded replies, for idempotent retries. scope is the user's id as 8
//  bytes, or "register:" and a name. *reply_p is the stored reply, decoded.
int
    store_reply_get (store_txn_t *txn, const void *scope, size_t scope_size,
                     const char *request_id, uint8_t *digest, zpost_msg_t **reply_p);
int
    store_reply_put (store_txn_t *txn, const void *scope, size_t scope_size,
                     const char *request_id, const uint8_t *digest, uint64_t now,
                     zpost_msg_t *reply);
//  Forget up to max replies recorded before `older_than`; *removed counts.
int
    store_reply_expire (store_txn_t *txn, uint64_t older_than,
                        size_t max, size_t *removed);
//  The sweep, both expiries at once: store_reply_expire (reply_older_than,
//  reply_max; nothing when reply_max is 0), then store_session_expire (now,
//  idle, max, resume, examine). On PostgreSQL one round trip for both.
//  *replies, *sessions and resume are set before it returns. The first
//  failure is the code.
int
    store_sweep (store_txn_t *txn, uint64_t reply_older_than, size_t reply_max,
                 uint64_t now, uint64_t idle, uint64_t max, uint8_t *resume,
                 size_t examine, size_t *replies, size_t *sessions);

//  Walks of whole tables, for the dump (store_dump.c): each calls visit
//  for every record, in the order given, until visit returns false (then
//  STORE_OK) or the table ends. The order is the same on both back ends,
//  byte order of the key (names and client keys compared as bytes, not
//  by a locale), so that two databases holding the same records walk
//  them alike. Pointers are valid only during the visit.
typedef bool (store_user_visit_fn) (void *arg, const char *name, const store_user_t *user);
//  by name
int
    store_user_walk (store_txn_t *txn, store_user_visit_fn *visit, void *arg);
typedef bool (store_session_visit_fn) (void *arg, const uint8_t *digest,
                                       const store_session_t *session);
//  by digest
int
    store_session_walk (store_txn_t *txn, store_session_visit_fn *visit, void *arg);
typedef bool (store_known_key_visit_fn) (void *arg, uint64_t user_id, const char *client_key);
//  by user id, then client key
int
    store_known_key_walk (store_txn_t *txn, store_known_key_visit_fn *visit, void *arg);
typedef bool (store_message_visit_fn) (void *arg, const store_message_t *message,
                                       uint32_t refs);
//  by id, oldest first, each with its count of folders
int
    store_message_walk (store_txn_t *txn, store_message_visit_fn *visit, void *arg);
typedef bool (store_entry_visit_fn) (void *arg, uint64_t user_id, store_folder_t folder,
                                     uint64_t message_id, unsigned marks);
//  every folder entry, by user id, folder ('i' before 's'), message id
int
    store_folder_walk_all (store_txn_t *txn, store_entry_visit_fn *visit, void *arg);
//  A recorded reply as stored: reply is zpost_msg_encode's frames,
//  zmsg_encode'd; request_id is not NUL-terminated
typedef struct {
    const uint8_t *scope;
    size_t scope_size;
    const char *request_id;
    size_t request_id_size;
    uint64_t created;               //  Unix seconds
    const uint8_t *digest;          //  STORE_REQUEST_DIGEST_SIZE bytes
    const uint8_t *reply;
    size_t reply_size;
} store_reply_record_t;
typedef bool (store_reply_visit_fn) (void *arg, const store_reply_record_t *record);
//  by scope size, scope, request id
int
    store_reply_walk (store_txn_t *txn, store_reply_visit_fn *visit, void *arg);
typedef bool (store_counter_visit_fn) (void *arg, const char *name, uint64_t value);
//  every counter but the schema version, in no set order (on PostgreSQL
//  next-user-id and next-message-id come from their sequences: the last
//  id handed out, 0 for none)
int
    store_counter_walk (store_txn_t *txn, store_counter_visit_fn *visit, void *arg);
//  Set a counter to value (on PostgreSQL, the two ids set their sequence:
//  setval, which a rollback does not undo)
int
    store_counter_set (store_txn_t *txn, const char *name, uint64_t value);

//  WATCH: tell the other stores on this database that the inboxes of
//  names (comma-separated) change in this transaction. PostgreSQL: a
//  NOTIFY each, delivered when txn commits (store_pg_listen.h); LMDB:
//  nothing (other processes on the environment see its transaction id
//  move: store_db_generation).
int
    store_notify_users (store_txn_t *txn, const char *names);

//  WATCH: the newest message id in name's inbox (0 if it is empty) and
//  its unread count. STORE_NOTFOUND if there is no such user.
int
    store_inbox_state (store_txn_t *txn, const char *name, uint64_t *newest,
                       uint64_t *unread);

void
    store_records_test (bool verbose);
void
    store_messages_test (bool verbose);

#endif
