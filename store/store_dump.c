/*  =========================================================================
    store_dump - a whole store in one file, and back

    The dump format, version 2. Every number is big-endian. Version 1,
    written before marks and threads, is read too: its 'M' records lack
    the two thread fields (each message starts its own thread) and its
    'F' marks are only 0 or 1 (seen). Its trailer's digest covers its
    own bytes; what the import compares with the target afterwards is
    the digest of the same records rendered in version 2.

        header      "ZPOSTDMP" (8 bytes), version (u32, 2), flags (u32, 0)
        records     type (u8), payload size (u32), payload
        trailer     a record of type 'Z', last in the file

    Records come kind by kind, in this order, each kind in the order of
    its walk (store_records.h: key order, bytes compared as bytes), which
    both back ends produce alike:

        'U' user    name (u8 size, bytes), id, created, inbox_count,
                    inbox_unread, inbox_bytes, sent_count, sent_bytes
                    (u64 each), password hash (u8 size, bytes)
        'S' session digest of the token (32), user id (u64), username
                    (u8 size, bytes), client key (u8 size, bytes),
                    created, last_used (u64 each). Putting a session also
                    writes the per-user index, so it is not dumped.
        'K' known   user id (u64), client key (u8 size 40, bytes)
        'M' message id, date (u64 each), refs (u32), thread id (its own
                    id for the first of a thread), the id it answers (0
                    for none) (u64 each), sizes of from, to,
                    subject (u16 each) and of body (u32), then the bytes
                    of the four
        'F' entry   user id (u64), folder ('i' or 's', u8), message id
                    (u64), marks (u8: 1 seen, 2 flagged; 0..3)
        'R' reply   scope (u8 size, bytes), request id (u8 size, bytes),
                    created (u64), request digest (16), the recorded
                    reply as stored (u32 size, bytes: zpost_msg_encode's
                    frames, zmsg_encode'd)
        'C' counter name (u8 size, bytes), value (u64); the meta counters
                    but the schema version, by name, none that is 0;
                    next-user-id and next-message-id are the last ids
                    handed out (PostgreSQL: from the sequences)
        'Z' trailer count of records of each kind, U S K M F R C (u64
                    each), digest (32)

    The digest is BLAKE2b-256 (libsodium's crypto_generichash, no key) of
    the header and every record before the trailer, as written: the
    records are the canonical rendering. --digest computes it for a live
    database without writing a file, so two databases can be compared.

    Reading a dump trusts nothing: every size is checked against the
    record and against the field it fills before anything is copied, the
    kinds must come in order and the records of a kind in strictly rising
    key order (so none is there twice, and the target walks them back in
    the order the dump holds them), a recorded reply must decode and
    encode back to the same bytes, no counter may be the schema version,
    and the trailer's counts and digest must match, all in a first pass
    that writes nothing. The second pass writes every record in one
    transaction of the target, after checking, in it, that the target
    holds no user and no message; a failure anywhere rolls it all back.
    The counters go last, just before the commit: on PostgreSQL the two
    ids are sequences, which a rollback does not rewind (a failed import
    then leaves a gap in the ids, which is harmless). The import then
    reads the target back in a snapshot and its counts and digest must
    equal the dump's.
    =========================================================================
*/

#include "store_dump.h"
#include "store_records.h"
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <sodium.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define S_MAGIC             "ZPOSTDMP"
#define S_MAGIC_SIZE        8
#define S_VERSION           2
#define S_VERSION_OLDEST    1       //  the oldest format still read
#define S_HEADER_SIZE       16
#define S_RECORD_HEAD       5
#define S_TRAILER_SIZE      (7 * 8 + STORE_DUMP_DIGEST_SIZE)
//  No record is larger: a message with every field at its largest
#define S_RECORD_MAX        (64 + 3 * UINT16_MAX + ZPOST_BODY_MAX)
#define S_COUNTER_NAME_MAX  63
#define S_SCOPE_MAX         64
#define S_COUNTERS_MAX      256
//  Import attempts on a passing conflict (PostgreSQL) or a full map (LMDB)
#define S_ATTEMPTS          8

//  The kinds, in the order they come
static const char s_kinds [] = "USKMFRC";

static int
s_rank (uint8_t type)
{
    const char *at = type? strchr (s_kinds, type): NULL;
    return at? (int) (at - s_kinds): -1;
}


//  --------------------------------------------------------------------------
//  Writing: records are built in a buffer, then hashed and written

typedef struct {
    FILE *file;                         //  NULL: digest only
    crypto_generichash_state hash;
    store_dump_summary_t summary;
    uint8_t *buffer;                    //  the record being built
    size_t size;                        //  bytes allocated
    size_t used;                        //  bytes in it
    bool failed;                        //  a write failed or a record was too big
    int error;                          //  errno of a failed write
    char counter_names [S_COUNTERS_MAX][S_COUNTER_NAME_MAX + 1];
    uint64_t counter_values [S_COUNTERS_MAX];
    size_t counter_count;
} s_writer_t;

static void
s_reserve (s_writer_t *self, size_t more)
{
    if (self->used + more <= self->size)
        return;
    size_t size = self->size? self->size: 4096;
    while (size < self->used + more)
        size *= 2;
    self->buffer = (uint8_t *) realloc (self->buffer, size);
    assert (self->buffer);
    self->size = size;
}

static void
s_put_bytes (s_writer_t *self, const void *data, size_t size)
{
    s_reserve (self, size);
    if (size)
        memcpy (self->buffer + self->used, data, size);
    self->used += size;
}

static void
s_put_number (s_writer_t *self, uint64_t value, int bytes)
{
    uint8_t out [8];
    for (int index = 0; index < bytes; index++)
        out [index] = (uint8_t) (value >> (8 * (bytes - 1 - index)));
    s_put_bytes (self, out, (size_t) bytes);
}

//  A string with its size in `bytes` bytes; a string too long for its
//  size field fails the dump rather than being cut
static void
s_put_string (s_writer_t *self, const void *data, size_t size, int bytes)
{
    if (size > (bytes == 1? UINT8_MAX: bytes == 2? UINT16_MAX: UINT32_MAX)) {
        self->failed = true;
        size = 0;
    }
    s_put_number (self, size, bytes);
    s_put_bytes (self, data, size);
}

static void
s_begin (s_writer_t *self, uint8_t type)
{
    self->used = 0;
    s_put_number (self, type, 1);
    s_put_number (self, 0, 4);          //  the size, filled in by s_end
}

//  Finish the record begun with s_begin: hash it (unless it is the
//  trailer) and write it
static void
s_end (s_writer_t *self, bool hashed)
{
    size_t payload = self->used - S_RECORD_HEAD;
    if (payload > S_RECORD_MAX)
        self->failed = true;
    for (int index = 0; index < 4; index++)
        self->buffer [1 + index] = (uint8_t) (payload >> (24 - 8 * index));
    if (hashed)
        crypto_generichash_update (&self->hash, self->buffer, self->used);
    if (self->file && !self->failed
    &&  fwrite (self->buffer, 1, self->used, self->file) != self->used) {
        self->failed = true;
        self->error = errno;
    }
}

static bool
s_visit_user (void *arg, const char *name, const store_user_t *user)
{
    s_writer_t *self = (s_writer_t *) arg;
    s_begin (self, 'U');
    s_put_string (self, name, strlen (name), 1);
    const uint64_t numbers [] = { user->id, user->created, user->inbox_count,
                                  user->inbox_unread, user->inbox_bytes,
                                  user->sent_count, user->sent_bytes };
    for (size_t index = 0; index < sizeof numbers / sizeof numbers [0]; index++)
        s_put_number (self, numbers [index], 8);
    s_put_string (self, user->hash, strnlen (user->hash, STORE_HASH_SIZE), 1);
    s_end (self, true);
    self->summary.users++;
    return !self->failed;
}

static bool
s_visit_session (void *arg, const uint8_t *digest, const store_session_t *session)
{
    s_writer_t *self = (s_writer_t *) arg;
    s_begin (self, 'S');
    s_put_bytes (self, digest, STORE_DIGEST_SIZE);
    s_put_number (self, session->user_id, 8);
    s_put_string (self, session->username, strnlen (session->username, ZPOST_NAME_MAX), 1);
    s_put_string (self, session->client_key,
                  strnlen (session->client_key, ZPOST_KEY_TEXT_SIZE), 1);
    s_put_number (self, session->created, 8);
    s_put_number (self, session->last_used, 8);
    s_end (self, true);
    self->summary.sessions++;
    return !self->failed;
}

static bool
s_visit_known_key (void *arg, uint64_t user_id, const char *client_key)
{
    s_writer_t *self = (s_writer_t *) arg;
    s_begin (self, 'K');
    s_put_number (self, user_id, 8);
    s_put_string (self, client_key, strlen (client_key), 1);
    s_end (self, true);
    self->summary.known_keys++;
    return !self->failed;
}

static bool
s_visit_message (void *arg, const store_message_t *message, uint32_t refs)
{
    s_writer_t *self = (s_writer_t *) arg;
    if (message->from_size > UINT16_MAX || message->to_size > UINT16_MAX
    ||  message->subject_size > UINT16_MAX || message->body_size > ZPOST_BODY_MAX) {
        self->failed = true;
        return false;
    }
    s_begin (self, 'M');
    s_put_number (self, message->id, 8);
    s_put_number (self, message->date, 8);
    s_put_number (self, refs, 4);
    s_put_number (self, message->in_reply_to? message->thread_id: message->id, 8);
    s_put_number (self, message->in_reply_to, 8);
    s_put_number (self, message->from_size, 2);
    s_put_number (self, message->to_size, 2);
    s_put_number (self, message->subject_size, 2);
    s_put_number (self, message->body_size, 4);
    s_put_bytes (self, message->from, message->from_size);
    s_put_bytes (self, message->to, message->to_size);
    s_put_bytes (self, message->subject, message->subject_size);
    s_put_bytes (self, message->body, message->body_size);
    s_end (self, true);
    self->summary.messages++;
    return !self->failed;
}

static bool
s_visit_entry (void *arg, uint64_t user_id, store_folder_t folder,
               uint64_t message_id, unsigned marks)
{
    s_writer_t *self = (s_writer_t *) arg;
    s_begin (self, 'F');
    s_put_number (self, user_id, 8);
    s_put_number (self, (uint64_t) folder, 1);
    s_put_number (self, message_id, 8);
    s_put_number (self, marks, 1);
    s_end (self, true);
    self->summary.folder_entries++;
    return !self->failed;
}

static bool
s_visit_reply (void *arg, const store_reply_record_t *record)
{
    s_writer_t *self = (s_writer_t *) arg;
    s_begin (self, 'R');
    s_put_string (self, record->scope, record->scope_size, 1);
    s_put_string (self, record->request_id, record->request_id_size, 1);
    s_put_number (self, record->created, 8);
    s_put_bytes (self, record->digest, STORE_REQUEST_DIGEST_SIZE);
    s_put_string (self, record->reply, record->reply_size, 4);
    s_end (self, true);
    self->summary.replies++;
    return !self->failed;
}

//  Counters are gathered, then written sorted by name: PostgreSQL gives
//  them in no set order
static bool
s_visit_counter (void *arg, const char *name, uint64_t value)
{
    s_writer_t *self = (s_writer_t *) arg;
    if (value == 0)
        return true;                    //  as good as absent, on both back ends
    if (self->counter_count == S_COUNTERS_MAX || strlen (name) > S_COUNTER_NAME_MAX) {
        self->failed = true;
        return false;
    }
    strcpy (self->counter_names [self->counter_count], name);
    self->counter_values [self->counter_count++] = value;
    return true;
}

static void
s_write_counters (s_writer_t *self)
{
    //  An insertion sort: a few dozen counters at most
    for (size_t index = 1; index < self->counter_count; index++)
        for (size_t at = index; at > 0
             && strcmp (self->counter_names [at - 1], self->counter_names [at]) > 0; at--) {
            char name [S_COUNTER_NAME_MAX + 1];
            strcpy (name, self->counter_names [at]);
            strcpy (self->counter_names [at], self->counter_names [at - 1]);
            strcpy (self->counter_names [at - 1], name);
            uint64_t value = self->counter_values [at];
            self->counter_values [at] = self->counter_values [at - 1];
            self->counter_values [at - 1] = value;
        }
    for (size_t index = 0; index < self->counter_count && !self->failed; index++) {
        s_begin (self, 'C');
        s_put_string (self, self->counter_names [index],
                      strlen (self->counter_names [index]), 1);
        s_put_number (self, self->counter_values [index], 8);
        s_end (self, true);
        self->summary.counters++;
    }
}

static void
s_header (uint8_t *header)
{
    memcpy (header, S_MAGIC, S_MAGIC_SIZE);
    for (int index = 0; index < 4; index++) {
        header [8 + index] = (uint8_t) (S_VERSION >> (24 - 8 * index));
        header [12 + index] = 0;
    }
}

static void
s_put_trailer (s_writer_t *self)
{
    s_begin (self, 'Z');
    const uint64_t counts [] = { self->summary.users, self->summary.sessions,
                                 self->summary.known_keys, self->summary.messages,
                                 self->summary.folder_entries, self->summary.replies,
                                 self->summary.counters };
    for (size_t index = 0; index < 7; index++)
        s_put_number (self, counts [index], 8);
    s_put_bytes (self, self->summary.digest, STORE_DUMP_DIGEST_SIZE);
    s_end (self, false);
}

//  Render every record of the database, in one snapshot, into the writer
//  (and its file, if any): STORE_OK or a code; self->failed on a write
//  or size failure
static int
s_render (store_db_t *db, s_writer_t *self)
{
    crypto_generichash_init (&self->hash, NULL, 0, STORE_DUMP_DIGEST_SIZE);
    uint8_t header [S_HEADER_SIZE];
    s_header (header);
    crypto_generichash_update (&self->hash, header, sizeof header);
    if (self->file && fwrite (header, 1, sizeof header, self->file) != sizeof header) {
        self->failed = true;
        self->error = errno;
    }
    store_txn_t *txn;
    int rc = store_txn_begin_snapshot (db, &txn);
    if (rc)
        return rc;
    rc = store_user_walk (txn, s_visit_user, self);
    if (rc == STORE_OK && !self->failed)
        rc = store_session_walk (txn, s_visit_session, self);
    if (rc == STORE_OK && !self->failed)
        rc = store_known_key_walk (txn, s_visit_known_key, self);
    if (rc == STORE_OK && !self->failed)
        rc = store_message_walk (txn, s_visit_message, self);
    if (rc == STORE_OK && !self->failed)
        rc = store_folder_walk_all (txn, s_visit_entry, self);
    if (rc == STORE_OK && !self->failed)
        rc = store_reply_walk (txn, s_visit_reply, self);
    if (rc == STORE_OK && !self->failed)
        rc = store_counter_walk (txn, s_visit_counter, self);
    if (rc == STORE_OK && !self->failed)
        s_write_counters (self);
    if (rc == STORE_OK)
        rc = store_txn_commit (&txn);
    else
        store_txn_abort (&txn);
    crypto_generichash_final (&self->hash, self->summary.digest, STORE_DUMP_DIGEST_SIZE);
    if (rc == STORE_OK && !self->failed)
        s_put_trailer (self);
    return rc;
}

//  libsodium's hash state is declared 64-byte aligned, more than malloc
//  promises
static s_writer_t *
s_writer_new (void)
{
    size_t size = (sizeof (s_writer_t) + 63) & ~(size_t) 63;
    s_writer_t *self = (s_writer_t *) aligned_alloc (64, size);
    assert (self);
    memset (self, 0, size);
    return self;
}

static void
s_writer_free (s_writer_t *self)
{
    free (self->buffer);
    self->buffer = NULL;
}

//  fsync the directory that holds path, so a link made in it lasts
static int
s_sync_dir (const char *path)
{
    char *dir = strdup (path);
    assert (dir);
    char *slash = strrchr (dir, '/');
    if (slash == dir)
        slash [1] = 0;
    else
    if (slash)
        *slash = 0;
    else
        strcpy (dir, ".");
    int fd = open (dir, O_RDONLY | O_DIRECTORY);
    int rc = fd >= 0 && fsync (fd) == 0? 0: -1;
    if (fd >= 0)
        close (fd);
    free (dir);
    return rc;
}

int
store_dump_export (store_db_t *db, const char *path, store_dump_summary_t *summary)
{
    assert (db);
    assert (summary);
    memset (summary, 0, sizeof *summary);
    s_writer_t *self = s_writer_new ();
    char *temp = NULL;
    int fd = -1;
    if (path) {
        struct stat info;
        if (lstat (path, &info) == 0) {
            zsys_error ("store_dump: %s exists: a dump never replaces a file; "
                        "give a new name", path);
            free (self);
            return -1;
        }
        //  The dump holds password hashes and session digests: 0600
        temp = zsys_sprintf ("%s.tmp-%ld", path, (long) getpid ());
        assert (temp);
        fd = open (temp, O_WRONLY | O_CREAT | O_EXCL, 0600);
        if (fd < 0 || !(self->file = fdopen (fd, "wb"))) {
            zsys_error ("store_dump: cannot create %s: %s", temp, strerror (errno));
            if (fd >= 0)
                close (fd);
            zstr_free (&temp);
            free (self);
            return -1;
        }
    }
    int rc = s_render (db, self);
    *summary = self->summary;
    bool written = rc == STORE_OK && !self->failed;
    if (rc != STORE_OK)
        zsys_error ("store_dump: cannot read the database: %s", store_rc_name (rc));
    else
    if (self->failed)
        zsys_error ("store_dump: %s", self->error
                    ? strerror (self->error): "a record is too large for the format");
    if (self->file) {
        //  Whole on disk before it takes its name; link, not rename, so
        //  that a file made at path meanwhile is never replaced
        if (written && (fflush (self->file) || fsync (fileno (self->file)))) {
            zsys_error ("store_dump: cannot write %s: %s", temp, strerror (errno));
            written = false;
        }
        if (fclose (self->file) && written) {
            zsys_error ("store_dump: cannot write %s: %s", temp, strerror (errno));
            written = false;
        }
        if (written && link (temp, path)) {
            zsys_error ("store_dump: cannot name the dump %s: %s", path, strerror (errno));
            written = false;
        }
        unlink (temp);
        if (written && s_sync_dir (path)) {
            zsys_error ("store_dump: cannot sync the directory of %s: %s",
                        path, strerror (errno));
            written = false;
        }
        zstr_free (&temp);
    }
    s_writer_free (self);
    free (self);
    return written? 0: -1;
}


//  --------------------------------------------------------------------------
//  Reading: a record is parsed into s_record_t, every size checked

typedef struct {
    const uint8_t *data;
    size_t size;
    size_t at;
    bool bad;                           //  read past the end
} s_reader_t;

static uint64_t
s_get_number (s_reader_t *self, int bytes)
{
    if (self->bad || self->size - self->at < (size_t) bytes) {
        self->bad = true;
        return 0;
    }
    uint64_t value = 0;
    for (int index = 0; index < bytes; index++)
        value = (value << 8) | self->data [self->at++];
    return value;
}

static const uint8_t *
s_get_bytes (s_reader_t *self, size_t size)
{
    if (self->bad || self->size - self->at < size) {
        self->bad = true;
        return NULL;
    }
    const uint8_t *bytes = self->data + self->at;
    self->at += size;
    return bytes;
}

//  A string of size given by a `bytes`-byte field, at most max bytes,
//  with no NUL in it (the interface takes C strings); copied into out
//  (max + 1 bytes) with a NUL. false if it is not one.
static bool
s_get_string (s_reader_t *self, int bytes, size_t max, char *out)
{
    size_t size = (size_t) s_get_number (self, bytes);
    const uint8_t *data = size <= max? s_get_bytes (self, size): NULL;
    if (!data || memchr (data, 0, size))
        return false;
    memcpy (out, data, size);
    out [size] = 0;
    return true;
}

typedef struct {
    uint8_t type;
    char name [S_COUNTER_NAME_MAX + 1];     //  user or counter name
    store_user_t user;
    uint8_t digest [STORE_DIGEST_SIZE];     //  session, or reply (16 of it)
    store_session_t session;
    uint64_t user_id;
    char client_key [ZPOST_KEY_TEXT_SIZE + 1];
    store_message_t message;
    uint32_t refs;
    store_folder_t folder;
    uint64_t message_id;
    unsigned marks;
    uint8_t scope [S_SCOPE_MAX];
    size_t scope_size;
    char request_id [ZPOST_REQUEST_ID_MAX + 1];
    uint64_t created;
    zpost_msg_t *reply;                     //  decoded; the record's
    uint64_t value;
    uint64_t counts [7];                    //  trailer
    uint8_t total [STORE_DUMP_DIGEST_SIZE]; //  trailer
} s_record_t;

//  Parse one record's payload; 0, or -1 with *why set
static int
s_parse (uint8_t type, const uint8_t *payload, size_t size, uint32_t version,
         s_record_t *record, const char **why)
{
    zpost_msg_destroy (&record->reply);
    memset (record, 0, sizeof *record);
    record->type = type;
    s_reader_t in = { payload, size, 0, false };
    *why = "a field runs past its record";
    switch (type) {
        case 'U': {
            if (!s_get_string (&in, 1, ZPOST_NAME_MAX, record->name) || !*record->name) {
                *why = "a user's name is empty, too long or holds a NUL";
                return -1;
            }
            store_user_t *user = &record->user;
            user->id = s_get_number (&in, 8);
            user->created = s_get_number (&in, 8);
            user->inbox_count = s_get_number (&in, 8);
            user->inbox_unread = s_get_number (&in, 8);
            user->inbox_bytes = s_get_number (&in, 8);
            user->sent_count = s_get_number (&in, 8);
            user->sent_bytes = s_get_number (&in, 8);
            if (!s_get_string (&in, 1, STORE_HASH_SIZE - 1, user->hash)) {
                *why = "a user's password hash is too long or holds a NUL";
                return -1;
            }
            break;
        }
        case 'S': {
            const uint8_t *digest = s_get_bytes (&in, STORE_DIGEST_SIZE);
            if (digest)
                memcpy (record->digest, digest, STORE_DIGEST_SIZE);
            record->session.user_id = s_get_number (&in, 8);
            if (!s_get_string (&in, 1, ZPOST_NAME_MAX, record->session.username)
            ||  !s_get_string (&in, 1, ZPOST_KEY_TEXT_SIZE, record->session.client_key)) {
                *why = "a session's name or key is too long or holds a NUL";
                return -1;
            }
            record->session.created = s_get_number (&in, 8);
            record->session.last_used = s_get_number (&in, 8);
            break;
        }
        case 'K':
            record->user_id = s_get_number (&in, 8);
            if (!s_get_string (&in, 1, ZPOST_KEY_TEXT_SIZE, record->client_key)
            ||  strlen (record->client_key) != ZPOST_KEY_TEXT_SIZE) {
                *why = "a known client key is not 40 characters";
                return -1;
            }
            break;
        case 'M': {
            store_message_t *message = &record->message;
            message->id = s_get_number (&in, 8);
            message->date = s_get_number (&in, 8);
            record->refs = (uint32_t) s_get_number (&in, 4);
            if (version >= 2) {
                message->thread_id = s_get_number (&in, 8);
                message->in_reply_to = s_get_number (&in, 8);
            }
            else
                message->thread_id = message->id;
            message->from_size = (size_t) s_get_number (&in, 2);
            message->to_size = (size_t) s_get_number (&in, 2);
            message->subject_size = (size_t) s_get_number (&in, 2);
            message->body_size = (size_t) s_get_number (&in, 4);
            if (message->body_size > ZPOST_BODY_MAX) {
                *why = "a message's body is larger than the protocol allows";
                return -1;
            }
            message->from = (const char *) s_get_bytes (&in, message->from_size);
            message->to = (const char *) s_get_bytes (&in, message->to_size);
            message->subject = (const char *) s_get_bytes (&in, message->subject_size);
            message->body = (const char *) s_get_bytes (&in, message->body_size);
            if (!in.bad && (message->id == 0 || record->refs == 0)) {
                *why = "a message has id 0 or no folder refers to it";
                return -1;
            }
            //  A thread starts at its first message, older than its answers
            bool first = message->in_reply_to == 0;
            if (!in.bad && (first? message->thread_id != message->id
                                 : message->in_reply_to >= message->id
                                   || message->thread_id > message->in_reply_to
                                   || message->thread_id == 0)) {
                *why = "a message's thread or the message it answers is not older than it";
                return -1;
            }
            break;
        }
        case 'F': {
            record->user_id = s_get_number (&in, 8);
            uint64_t folder = s_get_number (&in, 1);
            record->message_id = s_get_number (&in, 8);
            uint64_t marks = s_get_number (&in, 1);
            uint64_t known = version >= 2? STORE_MARKS: STORE_MARK_SEEN;
            if (!in.bad && ((folder != STORE_INBOX && folder != STORE_SENT)
                            || (marks & ~known))) {
                *why = "a folder entry names no folder, or marks it does not know";
                return -1;
            }
            record->folder = (store_folder_t) folder;
            record->marks = (unsigned) marks;
            break;
        }
        case 'R': {
            record->scope_size = (size_t) s_get_number (&in, 1);
            const uint8_t *scope = record->scope_size <= S_SCOPE_MAX
                                 ? s_get_bytes (&in, record->scope_size): NULL;
            if (!scope
            ||  !s_get_string (&in, 1, ZPOST_REQUEST_ID_MAX, record->request_id)
            ||  !*record->request_id) {
                *why = "a recorded reply's scope or request id is too long, empty, "
                       "or holds a NUL";
                return -1;
            }
            memcpy (record->scope, scope, record->scope_size);
            record->created = s_get_number (&in, 8);
            const uint8_t *digest = s_get_bytes (&in, STORE_REQUEST_DIGEST_SIZE);
            if (digest)
                memcpy (record->digest, digest, STORE_REQUEST_DIGEST_SIZE);
            size_t reply_size = (size_t) s_get_number (&in, 4);
            const uint8_t *reply = s_get_bytes (&in, reply_size);
            if (!reply)
                break;
            //  It must decode, and encode back to the same bytes, or the
            //  target would hold something else
            zframe_t *frame = zframe_new (reply, reply_size);
            zmsg_t *frames = zmsg_decode (frame);
            zframe_destroy (&frame);
            record->reply = zpost_msg_new ();
            if (!frames || zpost_msg_decode_reply (record->reply, &frames)) {
                zmsg_destroy (&frames);
                *why = "a recorded reply does not decode";
                return -1;
            }
            frames = zpost_msg_encode (record->reply);
            frame = frames? zmsg_encode (frames): NULL;
            zmsg_destroy (&frames);
            bool same = frame && zframe_size (frame) == reply_size
                     && memcmp (zframe_data (frame), reply, reply_size) == 0;
            zframe_destroy (&frame);
            if (!same) {
                *why = "a recorded reply does not encode back to itself";
                return -1;
            }
            break;
        }
        case 'C':
            if (!s_get_string (&in, 1, S_COUNTER_NAME_MAX, record->name) || !*record->name) {
                *why = "a counter's name is empty, too long or holds a NUL";
                return -1;
            }
            record->value = s_get_number (&in, 8);
            //  The schema version is the database's own, and a counter at
            //  0 is never dumped
            if (!in.bad && (streq (record->name, "schema-version") || record->value == 0)) {
                *why = "a counter is the schema version, or 0";
                return -1;
            }
            break;
        case 'Z': {
            for (int index = 0; index < 7; index++)
                record->counts [index] = s_get_number (&in, 8);
            const uint8_t *total = s_get_bytes (&in, STORE_DUMP_DIGEST_SIZE);
            if (total)
                memcpy (record->total, total, STORE_DUMP_DIGEST_SIZE);
            break;
        }
        default:
            *why = "a record of an unknown kind";
            return -1;
    }
    if (in.bad)
        return -1;
    if (in.at != in.size) {
        *why = "a record is longer than its fields";
        return -1;
    }
    return 0;
}

//  A record's key as its back end orders it (the LMDB key: numbers
//  big-endian), compared as bytes, a shorter key first when one is the
//  start of the other. Records of a kind must come in strictly rising
//  key order: so no record is there twice, and the target, which walks
//  in that order, renders them exactly as the dump holds them.
typedef struct {
    uint8_t bytes [1 + S_SCOPE_MAX + ZPOST_REQUEST_ID_MAX];
    size_t size;
} s_key_t;

static void
s_key_number (s_key_t *key, uint64_t value, int bytes)
{
    for (int index = 0; index < bytes; index++)
        key->bytes [key->size++] = (uint8_t) (value >> (8 * (bytes - 1 - index)));
}

static void
s_key_bytes (s_key_t *key, const void *data, size_t size)
{
    assert (key->size + size <= sizeof key->bytes);
    memcpy (key->bytes + key->size, data, size);
    key->size += size;
}

static void
s_record_key (const s_record_t *record, s_key_t *key)
{
    key->size = 0;
    switch (record->type) {
        case 'U':
        case 'C':
            s_key_bytes (key, record->name, strlen (record->name));
            break;
        case 'S':
            s_key_bytes (key, record->digest, STORE_DIGEST_SIZE);
            break;
        case 'K':
            s_key_number (key, record->user_id, 8);
            s_key_bytes (key, record->client_key, ZPOST_KEY_TEXT_SIZE);
            break;
        case 'M':
            s_key_number (key, record->message.id, 8);
            break;
        case 'F':
            s_key_number (key, record->user_id, 8);
            s_key_number (key, record->folder, 1);
            s_key_number (key, record->message_id, 8);
            break;
        case 'R':
            s_key_number (key, record->scope_size, 1);
            s_key_bytes (key, record->scope, record->scope_size);
            s_key_bytes (key, record->request_id, strlen (record->request_id));
            break;
    }
}

static int
s_key_compare (const s_key_t *one, const s_key_t *two)
{
    size_t common = one->size < two->size? one->size: two->size;
    int rc = memcmp (one->bytes, two->bytes, common);
    if (rc == 0)
        rc = one->size < two->size? -1: one->size > two->size? 1: 0;
    return rc;
}

//  An open dump, read record by record
typedef struct {
    const char *path;
    FILE *file;
    uint8_t header [S_HEADER_SIZE];     //  as read
    uint32_t version;                   //  of the format
    uint8_t *payload;                   //  the record read last
    size_t size;                        //  bytes allocated
    uint64_t index;                     //  records read
} s_dump_t;

//  Open and check the header; 0 or -1 after saying why
static int
s_dump_open (s_dump_t *self, const char *path)
{
    memset (self, 0, sizeof *self);
    self->path = path;
    self->file = fopen (path, "rb");
    if (!self->file) {
        zsys_error ("store_dump: cannot open %s: %s", path, strerror (errno));
        return -1;
    }
    uint8_t *header = self->header;
    if (fread (header, 1, S_HEADER_SIZE, self->file) != S_HEADER_SIZE
    ||  memcmp (header, S_MAGIC, S_MAGIC_SIZE) != 0) {
        zsys_error ("store_dump: %s is not a zpost dump (no ZPOSTDMP header)", path);
        return -1;
    }
    uint32_t version = 0, flags = 0;
    for (int index = 0; index < 4; index++) {
        version = (version << 8) | header [8 + index];
        flags = (flags << 8) | header [12 + index];
    }
    if (version < S_VERSION_OLDEST || version > S_VERSION || flags != 0) {
        zsys_error ("store_dump: %s is a dump of format version %u (flags %u); this "
                    "zpost-store reads versions %d to %d", path, version, flags,
                    S_VERSION_OLDEST, S_VERSION);
        return -1;
    }
    self->version = version;
    return 0;
}

static void
s_dump_close (s_dump_t *self)
{
    if (self->file)
        fclose (self->file);
    free (self->payload);
    memset (self, 0, sizeof *self);
}

//  Read the next record: 1 with *type, payload in self->payload and
//  *size; 0 at the end of the file; -1 after saying why
static int
s_dump_next (s_dump_t *self, uint8_t *type, size_t *size)
{
    uint8_t head [S_RECORD_HEAD];
    size_t got = fread (head, 1, sizeof head, self->file);
    if (got == 0 && feof (self->file))
        return 0;
    if (got != sizeof head) {
        zsys_error ("store_dump: %s is truncated (in the head of record %" PRIu64 ")",
                    self->path, self->index + 1);
        return -1;
    }
    *type = head [0];
    *size = ((size_t) head [1] << 24) | ((size_t) head [2] << 16)
          | ((size_t) head [3] << 8) | head [4];
    if (*size > S_RECORD_MAX) {
        zsys_error ("store_dump: %s is damaged: record %" PRIu64 " says it holds %zu "
                    "bytes, more than any record can", self->path, self->index + 1, *size);
        return -1;
    }
    if (*size > self->size) {
        self->payload = (uint8_t *) realloc (self->payload, *size);
        assert (self->payload);
        self->size = *size;
    }
    if (fread (self->payload, 1, *size, self->file) != *size) {
        zsys_error ("store_dump: %s is truncated (in record %" PRIu64 ")",
                    self->path, self->index + 1);
        return -1;
    }
    self->index++;
    return 1;
}

//  The first pass: the whole dump checked, nothing written. Fills
//  *summary from the trailer, but for a dump of an older format its
//  digest is that of its records rendered in today's (what the target
//  gives back after the import). 0, or -1 after saying why.
static int
s_check (const char *path, store_dump_summary_t *summary)
{
    memset (summary, 0, sizeof *summary);
    s_dump_t dump;
    if (s_dump_open (&dump, path)) {
        s_dump_close (&dump);
        return -1;
    }
    crypto_generichash_state hash;
    crypto_generichash_init (&hash, NULL, 0, STORE_DUMP_DIGEST_SIZE);
    crypto_generichash_update (&hash, dump.header, S_HEADER_SIZE);
    s_writer_t *today = NULL;
    if (dump.version != S_VERSION) {
        today = s_writer_new ();
        crypto_generichash_init (&today->hash, NULL, 0, STORE_DUMP_DIGEST_SIZE);
        uint8_t header [S_HEADER_SIZE];
        s_header (header);
        crypto_generichash_update (&today->hash, header, sizeof header);
    }
    uint64_t counts [7] = { 0 };
    int last_rank = 0;
    s_key_t last_key, key;
    last_key.size = 0;
    bool ended = false;
    s_record_t *record = (s_record_t *) zmalloc (sizeof (s_record_t));
    assert (record);
    int rc = -1;
    while (true) {
        uint8_t type;
        size_t size;
        int next = s_dump_next (&dump, &type, &size);
        if (next < 0)
            break;
        if (next == 0) {
            if (ended)
                rc = 0;
            else
                zsys_error ("store_dump: %s is truncated (it ends before its trailer)",
                            path);
            break;
        }
        if (ended) {
            zsys_error ("store_dump: %s is damaged: it goes on after its trailer", path);
            break;
        }
        const char *why;
        if (s_parse (type, dump.payload, size, dump.version, record, &why)) {
            zsys_error ("store_dump: %s is damaged: record %" PRIu64 ": %s",
                        path, dump.index, why);
            break;
        }
        if (type == 'Z') {
            ended = true;
            summary->users = record->counts [0];
            summary->sessions = record->counts [1];
            summary->known_keys = record->counts [2];
            summary->messages = record->counts [3];
            summary->folder_entries = record->counts [4];
            summary->replies = record->counts [5];
            summary->counters = record->counts [6];
            memcpy (summary->digest, record->total, STORE_DUMP_DIGEST_SIZE);
            continue;
        }
        int rank = s_rank (type);
        if (rank < last_rank) {
            zsys_error ("store_dump: %s is damaged: record %" PRIu64 " ('%c') is out "
                        "of order", path, dump.index, type);
            break;
        }
        s_record_key (record, &key);
        if (counts [rank] && s_key_compare (&last_key, &key) >= 0) {
            zsys_error ("store_dump: %s is damaged: record %" PRIu64 " ('%c') is not "
                        "above the one before it in key order", path, dump.index, type);
            break;
        }
        last_key = key;
        last_rank = rank;
        counts [rank]++;
        uint8_t head [S_RECORD_HEAD] = { type, (uint8_t) (size >> 24),
                                         (uint8_t) (size >> 16), (uint8_t) (size >> 8),
                                         (uint8_t) size };
        crypto_generichash_update (&hash, head, sizeof head);
        crypto_generichash_update (&hash, dump.payload, size);
        if (today && type == 'M')
            s_visit_message (today, &record->message, record->refs);
        else
        if (today && type == 'F')
            s_visit_entry (today, record->user_id, record->folder, record->message_id,
                           record->marks);
        else
        if (today) {
            crypto_generichash_update (&today->hash, head, sizeof head);
            crypto_generichash_update (&today->hash, dump.payload, size);
        }
    }
    zpost_msg_destroy (&record->reply);
    free (record);
    s_dump_close (&dump);
    uint8_t digest [STORE_DUMP_DIGEST_SIZE];
    crypto_generichash_final (&hash, digest, sizeof digest);
    uint8_t digest_today [STORE_DUMP_DIGEST_SIZE];
    memcpy (digest_today, digest, sizeof digest);
    if (today) {
        crypto_generichash_final (&today->hash, digest_today, sizeof digest_today);
        s_writer_free (today);
        free (today);
    }
    if (rc)
        return rc;
    uint64_t said [7] = { summary->users, summary->sessions, summary->known_keys,
                          summary->messages, summary->folder_entries,
                          summary->replies, summary->counters };
    if (memcmp (said, counts, sizeof counts) != 0) {
        zsys_error ("store_dump: %s is damaged: its trailer's counts are not those "
                    "of its records", path);
        return -1;
    }
    if (memcmp (digest, summary->digest, sizeof digest) != 0) {
        zsys_error ("store_dump: %s is damaged: its records do not match the digest "
                    "in its trailer", path);
        return -1;
    }
    memcpy (summary->digest, digest_today, sizeof digest_today);
    return 0;
}

//  Write one record into the target
static int
s_apply (store_txn_t *txn, s_record_t *record)
{
    switch (record->type) {
        case 'U':
            return store_user_put (txn, record->name, &record->user, true);
        case 'S':
            return store_session_put (txn, record->digest, &record->session);
        case 'K':
            return store_known_key_put (txn, record->user_id, record->client_key);
        case 'M':
            return store_message_put (txn, &record->message, record->refs);
        case 'F':
            return store_folder_put (txn, record->user_id, record->folder,
                                     record->message_id, record->marks);
        case 'R':
            return store_reply_put (txn, record->scope, record->scope_size,
                                    record->request_id, record->digest,
                                    record->created, record->reply);
        case 'C':
            return store_counter_set (txn, record->name, record->value);
        default:
            return STORE_OK;            //  the trailer
    }
}

//  Walk visitors that stop at the first record: is the table empty?
static bool
s_any_user (void *arg, const char *name, const store_user_t *user)
{
    (void) name; (void) user;
    *(bool *) arg = true;
    return false;
}

static bool
s_any_message (void *arg, const store_message_t *message, uint32_t refs)
{
    (void) message; (void) refs;
    *(bool *) arg = true;
    return false;
}

//  The second pass, in one write transaction: STORE_OK, a code, or
//  STORE_EXISTS when the target is not empty (said already).
//  *failed_at is the record whose write failed, if one did.
static int
s_write_all (store_db_t *db, const char *path, uint64_t *failed_at)
{
    *failed_at = 0;
    store_txn_t *txn;
    int rc = store_txn_begin (db, NULL, true, &txn);
    if (rc)
        return rc;
    bool users = false, messages = false;
    rc = store_user_walk (txn, s_any_user, &users);
    if (rc == STORE_OK)
        rc = store_message_walk (txn, s_any_message, &messages);
    if (rc == STORE_OK && (users || messages)) {
        zsys_error ("store_dump: the target database already holds %s: an import "
                    "goes only into an empty database", users? "users": "messages");
        store_txn_abort (&txn);
        return STORE_EXISTS;
    }
    s_dump_t dump;
    memset (&dump, 0, sizeof dump);
    s_record_t *record = (s_record_t *) zmalloc (sizeof (s_record_t));
    assert (record);
    if (rc == STORE_OK && s_dump_open (&dump, path))
        rc = STORE_FAILED;
    while (rc == STORE_OK) {
        uint8_t type;
        size_t size;
        const char *why;
        int next = s_dump_next (&dump, &type, &size);
        if (next <= 0) {
            //  Checked whole just before: a change now is a file changing
            //  under us
            if (next < 0)
                rc = STORE_FAILED;
            break;
        }
        if (s_parse (type, dump.payload, size, dump.version, record, &why)) {
            zsys_error ("store_dump: %s changed while it was imported: %s", path, why);
            rc = STORE_FAILED;
            break;
        }
        rc = s_apply (txn, record);
        if (rc)
            *failed_at = dump.index;
    }
    zpost_msg_destroy (&record->reply);
    free (record);
    s_dump_close (&dump);
    if (rc == STORE_OK)
        rc = store_txn_commit (&txn);
    else
        store_txn_abort (&txn);
    return rc;
}

int
store_dump_import (store_db_t *db, const char *path, size_t map_max,
                   store_dump_summary_t *dumped, store_dump_summary_t *found)
{
    assert (db && path && dumped && found);
    memset (found, 0, sizeof *found);
    if (s_check (path, dumped))
        return -1;
    int rc = STORE_FAILED;
    for (int attempt = 0; attempt < S_ATTEMPTS; attempt++) {
        uint64_t failed_at;
        rc = s_write_all (db, path, &failed_at);
        if (rc == STORE_FULL && store_db_grow (db, map_max) == 0)
            continue;
        if (rc == STORE_RETRY)
            continue;
        if (rc == STORE_EXISTS && failed_at)
            zsys_error ("store_dump: record %" PRIu64 " of %s is already in the target "
                        "(the dump holds it twice): nothing was imported",
                        failed_at, path);
        else
        if (rc == STORE_UNCONFIRMED)
            zsys_error ("store_dump: %s was imported into the primary, but its "
                        "synchronous standby did not confirm the commit: check the "
                        "standby before relying on it", path);
        else
        if (rc != STORE_OK && rc != STORE_EXISTS)
            zsys_error ("store_dump: cannot write %s into the database%s: %s; "
                        "nothing was imported", path,
                        rc == STORE_FULL? " (the map is at --map-max)": "",
                        store_rc_name (rc));
        break;
    }
    if (rc != STORE_OK)
        return -1;
    s_writer_t *self = s_writer_new ();
    rc = s_render (db, self);
    *found = self->summary;
    s_writer_free (self);
    bool failed = self->failed;
    free (self);
    if (rc != STORE_OK || failed) {
        zsys_error ("store_dump: the import was committed but cannot be read back: %s",
                    store_rc_name (rc));
        return -1;
    }
    if (!store_dump_same (dumped, found)) {
        //  Written all the same: the likely cause is a store that served
        //  the database during the import, and the cure is not to import
        //  again (the target is no longer empty)
        zsys_error ("store_dump: the import was written and committed, but the "
                    "database does not hold exactly what the dump holds when read "
                    "back (was a store serving it meanwhile?): compare the two "
                    "lines printed");
        return -1;
    }
    return 0;
}

bool
store_dump_same (const store_dump_summary_t *one, const store_dump_summary_t *two)
{
    return one->users == two->users && one->sessions == two->sessions
        && one->known_keys == two->known_keys && one->messages == two->messages
        && one->folder_entries == two->folder_entries && one->replies == two->replies
        && one->counters == two->counters
        && memcmp (one->digest, two->digest, STORE_DUMP_DIGEST_SIZE) == 0;
}

void
store_dump_print (FILE *stream, const char *label, const store_dump_summary_t *summary)
{
    char hex [STORE_DUMP_DIGEST_SIZE * 2 + 1];
    sodium_bin2hex (hex, sizeof hex, summary->digest, STORE_DUMP_DIGEST_SIZE);
    fprintf (stream, "%s: users %" PRIu64 " sessions %" PRIu64 " known-keys %" PRIu64
             " messages %" PRIu64 " folder-entries %" PRIu64 " replies %" PRIu64
             " counters %" PRIu64 " digest %s\n", label, summary->users,
             summary->sessions, summary->known_keys, summary->messages,
             summary->folder_entries, summary->replies, summary->counters, hex);
}


//  --------------------------------------------------------------------------
//  Selftest

//  A small store with one of everything, through the interface
static void
s_fill (store_db_t *db)
{
    store_txn_t *txn;
    assert (store_txn_begin (db, NULL, true, &txn) == STORE_OK);
    store_user_t alice = { .id = 1, .created = 100, .inbox_count = 1, .inbox_bytes = 5,
                           .sent_count = 1, .sent_bytes = 5 };
    strcpy (alice.hash, "$argon2id$v=19$m=65536,t=2,p=1$alice");
    store_user_t bob = { .id = 2, .created = 101, .inbox_count = 1, .inbox_unread = 1,
                         .inbox_bytes = 5 };
    strcpy (bob.hash, "$argon2id$v=19$m=65536,t=2,p=1$bob");
    assert (store_user_put (txn, "alice", &alice, true) == STORE_OK);
    assert (store_user_put (txn, "bob", &bob, true) == STORE_OK);
    const char *key = "rq:<)4+Yp*v%6yxQH1S-!Ax]?N0[u/8WmF3jLb7Z";
    assert (strlen (key) == ZPOST_KEY_TEXT_SIZE);
    store_session_t session = { .user_id = 1, .username = "alice", .created = 200,
                                .last_used = 210 };
    strcpy (session.client_key, key);
    uint8_t digest [STORE_DIGEST_SIZE];
    memset (digest, 0xA5, sizeof digest);
    assert (store_session_put (txn, digest, &session) == STORE_OK);
    assert (store_known_key_put (txn, 1, key) == STORE_OK);
    store_message_t message = { .id = 1, .date = 300, .from = "alice", .from_size = 5,
                                .to = "alice,bob", .to_size = 9, .subject = "hi",
                                .subject_size = 2, .body = "hello", .body_size = 5 };
    assert (store_message_put (txn, &message, 3) == STORE_OK);
    assert (store_folder_put (txn, 1, STORE_INBOX, 1, STORE_MARK_SEEN) == STORE_OK);
    assert (store_folder_put (txn, 1, STORE_SENT, 1, STORE_MARKS) == STORE_OK);
    assert (store_folder_put (txn, 2, STORE_INBOX, 1, STORE_MARK_FLAGGED) == STORE_OK);
    //  An answer, in the thread of message 1
    store_message_t answer = { .id = 2, .date = 310, .in_reply_to = 1, .thread_id = 1,
                               .from = "bob", .from_size = 3, .to = "alice", .to_size = 5,
                               .subject = "Re: hi", .subject_size = 6, .body = "yes",
                               .body_size = 3 };
    assert (store_message_put (txn, &answer, 2) == STORE_OK);
    assert (store_folder_put (txn, 1, STORE_INBOX, 2, 0) == STORE_OK);
    assert (store_folder_put (txn, 2, STORE_SENT, 2, STORE_MARK_SEEN) == STORE_OK);
    zpost_msg_t *request = zpost_msg_new_request (ZPOST_CMD_SEND, "req-1", NULL);
    zpost_msg_t *reply = zpost_msg_new_reply (request, ZPOST_OK, NULL);
    zpost_msg_set_number (reply, ZPOST_F_MESSAGE_ID, 1);
    uint8_t scope [8] = { 0, 0, 0, 0, 0, 0, 0, 1 };
    uint8_t request_digest [STORE_REQUEST_DIGEST_SIZE] = { 9, 8, 7 };
    assert (store_reply_put (txn, scope, 8, "req-1", request_digest, 400, reply) == STORE_OK);
    assert (store_reply_put (txn, "register:bob", 12, "r2", request_digest, 401, reply)
            == STORE_OK);
    zpost_msg_destroy (&reply);
    zpost_msg_destroy (&request);
    uint64_t id;
    assert (store_counter_next (txn, "next-user-id", &id) == STORE_OK);
    assert (store_counter_next (txn, "next-user-id", &id) == STORE_OK && id == 2);
    assert (store_counter_next (txn, "next-message-id", &id) == STORE_OK);
    assert (store_counter_next (txn, "next-message-id", &id) == STORE_OK && id == 2);
    assert (store_counter_add (txn, "users", 2) == STORE_OK);
    assert (store_counter_add (txn, "messages", 2) == STORE_OK);
    assert (store_counter_add (txn, "bytes", 8) == STORE_OK);
    assert (store_txn_commit (&txn) == STORE_OK);
}

//  Flip one bit of a record's payload (never a record's head, nor the
//  trailer), then seal the dump again: a new digest in the trailer, as a
//  hostile dump would have. *seed drives the choice.
static void
s_mutate_and_seal (uint8_t *bytes, size_t size, uint32_t *seed)
{
    size_t payloads [64][2];
    size_t count = 0, at = S_HEADER_SIZE, trailer = 0;
    while (at + S_RECORD_HEAD <= size) {
        size_t length = ((size_t) bytes [at + 1] << 24) | ((size_t) bytes [at + 2] << 16)
                      | ((size_t) bytes [at + 3] << 8) | bytes [at + 4];
        if (bytes [at] == 'Z') {
            trailer = at;
            break;
        }
        assert (count < 64);
        payloads [count][0] = at + S_RECORD_HEAD;
        payloads [count++][1] = length;
        at += S_RECORD_HEAD + length;
    }
    assert (trailer && count);
    *seed = *seed * 1103515245 + 12345;
    size_t record = (*seed >> 8) % count;
    while (payloads [record][1] == 0)
        record = (record + 1) % count;
    *seed = *seed * 1103515245 + 12345;
    size_t bit = (*seed >> 8) % (payloads [record][1] * 8);
    bytes [payloads [record][0] + bit / 8] ^= (uint8_t) (1 << (bit % 8));
    crypto_generichash (bytes + size - STORE_DUMP_DIGEST_SIZE, STORE_DUMP_DIGEST_SIZE,
                        bytes, trailer, NULL, 0);
}

//  The ids a thread walk gives, into a zero-ended array of 3
static bool
s_thread_collect (void *arg, uint64_t message_id, unsigned marks)
{
    (void) marks;
    uint64_t *ids = (uint64_t *) arg;
    size_t count = 0;
    while (count < 2 && ids [count])
        count++;
    ids [count] = message_id;
    return count < 1;
}

static bool
s_empty (store_db_t *db)
{
    store_dump_summary_t summary;
    assert (store_dump_export (db, NULL, &summary) == 0);
    return summary.users + summary.sessions + summary.known_keys + summary.messages
         + summary.folder_entries + summary.replies + summary.counters == 0;
}

static void
s_write_file (const char *path, const uint8_t *data, size_t size)
{
    FILE *file = fopen (path, "wb");
    assert (file);
    assert (fwrite (data, 1, size, file) == size);
    assert (fclose (file) == 0);
}

void
store_dump_test (bool verbose)
{
    if (verbose)
        printf (" * store_dump: ");
    char *dir_a, *dir_b, *dir_c;
    store_db_t *a = store_db_scratch_new ("zpost-dump-a", 16 << 20, &dir_a);
    store_db_t *b = store_db_scratch_new ("zpost-dump-b", 16 << 20, &dir_b);
    store_db_t *c = store_db_scratch_new ("zpost-dump-c", 16 << 20, &dir_c);
    s_fill (a);
    //  The files go in a directory of their own: the scratch databases
    //  may be PostgreSQL ones (ZPOST_SCRATCH_PG), which have none
    const char *tmpdir = getenv ("TMPDIR");
    char *files = zsys_sprintf ("%s/zpost-dump-files-XXXXXX", tmpdir && *tmpdir? tmpdir: "/tmp");
    assert (files && mkdtemp (files));

    //  Export, and the digest of the live database, agree
    char *path = zsys_sprintf ("%s/dump", files);
    store_dump_summary_t exported, live, dumped, found;
    assert (store_dump_export (a, path, &exported) == 0);
    assert (exported.users == 2 && exported.sessions == 1 && exported.known_keys == 1);
    assert (exported.messages == 2 && exported.folder_entries == 5);
    assert (exported.replies == 2 && exported.counters == 5);
    assert (store_dump_export (a, NULL, &live) == 0);
    assert (store_dump_same (&exported, &live));
    //  A dump never replaces a file
    assert (store_dump_export (a, path, &live) == -1);

    //  Import: the same records, ids and all
    assert (store_dump_import (b, path, 64 << 20, &dumped, &found) == 0);
    assert (store_dump_same (&exported, &dumped) && store_dump_same (&dumped, &found));
    store_txn_t *txn;
    assert (store_txn_begin (b, NULL, false, &txn) == STORE_OK);
    store_user_t user;
    assert (store_user_get (txn, "bob", &user) == STORE_OK && user.id == 2);
    assert (user.inbox_unread == 1 && strstr (user.hash, "$bob"));
    store_message_t message;
    assert (store_message_get (txn, 1, &message) == STORE_OK);
    assert (message.body_size == 5 && memcmp (message.body, "hello", 5) == 0);
    unsigned marks = 0;
    assert (store_folder_get (txn, 2, STORE_INBOX, 1, &marks) == STORE_OK
            && marks == STORE_MARK_FLAGGED);
    assert (store_folder_get (txn, 1, STORE_SENT, 1, &marks) == STORE_OK
            && marks == STORE_MARKS);
    assert (store_message_get (txn, 1, &message) == STORE_OK);
    assert (message.thread_id == 1 && message.in_reply_to == 0);
    assert (store_message_get (txn, 2, &message) == STORE_OK);
    assert (message.thread_id == 1 && message.in_reply_to == 1);
    assert (message.body_size == 3 && memcmp (message.body, "yes", 3) == 0);
    uint64_t thread [3] = { 0, 0, 0 };
    assert (store_thread_walk (txn, 1, 0, s_thread_collect, thread) == STORE_OK);
    assert (thread [0] == 2 && thread [1] == 1 && thread [2] == 0);
    uint8_t scope [8] = { 0, 0, 0, 0, 0, 0, 0, 1 };
    uint8_t request_digest [STORE_REQUEST_DIGEST_SIZE];
    zpost_msg_t *reply;
    assert (store_reply_get (txn, scope, 8, "req-1", request_digest, &reply) == STORE_OK);
    assert (zpost_msg_get_number (reply, ZPOST_F_MESSAGE_ID) == 1);
    zpost_msg_destroy (&reply);
    store_txn_abort (&txn);
    //  New ids go on above the imported ones (on PostgreSQL, from the
    //  sequence, which the abort does not rewind: harmless here)
    assert (store_txn_begin (b, NULL, true, &txn) == STORE_OK);
    uint64_t value;
    assert (store_counter_next (txn, "next-message-id", &value) == STORE_OK && value == 3);
    assert (store_counter_next (txn, "next-user-id", &value) == STORE_OK && value == 3);
    store_txn_abort (&txn);
    //  Not into a database that holds anything
    assert (store_dump_import (b, path, 64 << 20, &dumped, &found) == -1);

    //  A damaged dump, however damaged, is refused whole and leaves the
    //  target as it was: cut at every length, and every bit flipped
    FILE *file = fopen (path, "rb");
    assert (file);
    uint8_t bytes [4096];
    size_t size = fread (bytes, 1, sizeof bytes, file);
    fclose (file);
    assert (size > S_HEADER_SIZE && size < sizeof bytes);
    char *bad = zsys_sprintf ("%s/bad", files);
    zsys_set_logstream (NULL);          //  thousands of refusals
    for (size_t cut = 0; cut < size; cut++) {
        s_write_file (bad, bytes, cut);
        assert (store_dump_import (c, bad, 64 << 20, &dumped, &found) == -1);
    }
    for (size_t bit = 0; bit < size * 8; bit++) {
        bytes [bit / 8] ^= (uint8_t) (1 << (bit % 8));
        s_write_file (bad, bytes, size);
        assert (store_dump_import (c, bad, 64 << 20, &dumped, &found) == -1);
        bytes [bit / 8] ^= (uint8_t) (1 << (bit % 8));
    }
    //  A byte too many, and a second dump after the first
    s_write_file (bad, bytes, size);
    file = fopen (bad, "ab");
    assert (file && fwrite (bytes, 1, 1, file) == 1 && fclose (file) == 0);
    assert (store_dump_import (c, bad, 64 << 20, &dumped, &found) == -1);
    assert (s_empty (c));

    //  Hostile dumps that pass the digest (sealed again after the flip):
    //  each is imported whole and verified, or refused and leaves nothing
    //  (a duplicate name, a name PostgreSQL's text refuses, a reply that
    //  no longer decodes...); never a crash. Fewer on PostgreSQL, where
    //  each fresh target is a new database.
    bool postgres = streq (store_db_kind (c), "postgresql");
    uint32_t seed = 13;
    int imported = 0, refused = 0;
    for (int round = 0; round < (postgres? 40: 400); round++) {
        uint8_t mutated [sizeof bytes];
        memcpy (mutated, bytes, size);
        s_mutate_and_seal (mutated, size, &seed);
        s_write_file (bad, mutated, size);
        if (store_dump_import (c, bad, 64 << 20, &dumped, &found) == 0) {
            assert (store_dump_same (&dumped, &found));
            imported++;
            store_db_scratch_destroy (&c, &dir_c);
            c = store_db_scratch_new ("zpost-dump-c", 16 << 20, &dir_c);
        }
        else {
            assert (s_empty (c));
            refused++;
        }
    }
    zsys_set_logstream (stderr);
    assert (imported > 0 && refused > 0);
    //  and the untouched copy still goes in
    s_write_file (bad, bytes, size);
    assert (store_dump_import (c, bad, 64 << 20, &dumped, &found) == 0);

    unlink (bad);
    unlink (path);
    rmdir (files);
    zstr_free (&bad);
    zstr_free (&path);
    zstr_free (&files);
    store_db_scratch_destroy (&a, &dir_a);
    store_db_scratch_destroy (&b, &dir_b);
    store_db_scratch_destroy (&c, &dir_c);
    if (verbose)
        printf ("(sealed hostile dumps: %d imported, %d refused) OK\n", imported, refused);
}
