/*  =========================================================================
    store_mail - messages: SEND, ANSWER, LIST, THREAD, READ, DELETE, STATS, MARK,
    LOOKUP
    SEARCH

    The engine has resolved the session before a rule runs: no token, no
    mail. A rule only ever reaches the folders of the user its session
    belongs to, so another user's message id is indistinguishable from
    one that does not exist.
    =========================================================================
*/

#include "store_mail.h"
#include "store_records.h"
#include <inttypes.h>


//  --------------------------------------------------------------------------
//  SEND

//  The recipients, split, without duplicates, in the order given
static zlistx_t *
s_recipients (const char *names)
{
    zlistx_t *list = zlistx_new ();
    assert (list);
    zlistx_set_destructor (list, (czmq_destructor *) zstr_free);
    zlistx_set_comparator (list, (czmq_comparator *) strcmp);
    const char *start = names;
    while (*start) {
        size_t size = strcspn (start, ",");
        char *name = zsys_sprintf ("%.*s", (int) size, start);
        if (zlistx_find (list, name))
            zstr_free (&name);
        else
            zlistx_add_end (list, name);
        start += size;
        if (*start == ',')
            start++;
    }
    return list;
}

//  Join names with commas into a string the caller owns
static char *
s_join (zlistx_t *names)
{
    size_t size = 1;
    for (char *name = (char *) zlistx_first (names); name; name = (char *) zlistx_next (names))
        size += strlen (name) + 1;
    char *joined = (char *) zmalloc (size);
    assert (joined);
    for (char *name = (char *) zlistx_first (names); name; name = (char *) zlistx_next (names)) {
        if (*joined)
            strcat (joined, ",");
        strcat (joined, name);
    }
    return joined;
}

//  SEND, or ANSWER when in_reply_to is not 0: that message must be in
//  the sender's folders, and the new one joins its thread
static int
s_send_checked (store_ctx_t *ctx, zlistx_t *recipients, uint64_t in_reply_to)
{
    store_txn_t *txn = ctx->txn;
    store_op_t *op = ctx->op;
    const store_config_t *config = ctx->config;
    store_session_t *session = &ctx->session;
    const char *subject = zpost_msg_get (op->request, ZPOST_F_SUBJECT);
    const char *body = zpost_msg_get (op->request, ZPOST_F_BODY);
    size_t body_size = strlen (body);
    if (body_size > config->body_limit) {
        char *reason = zsys_sprintf ("The body is larger than this server's limit of "
                                     "%zu bytes", config->body_limit);
        store_op_reply (op, ZPOST_TOO_LARGE, reason, "body");
        zstr_free (&reason);
        return STORE_UNDO;
    }
    uint64_t thread_id = 0;
    if (in_reply_to) {
        //  What the sender may READ, it may answer; anything else is
        //  READ's 404, byte for byte
        unsigned marks;
        int found = store_folder_get (txn, ctx->user.id, STORE_INBOX, in_reply_to, &marks);
        if (found == STORE_NOTFOUND)
            found = store_folder_get (txn, ctx->user.id, STORE_SENT, in_reply_to, &marks);
        store_message_t answered;
        if (found == STORE_OK)
            found = store_message_get (txn, in_reply_to, &answered);
        if (found == STORE_NOTFOUND) {
            store_op_reply (op, ZPOST_NO_SUCH_MESSAGE, NULL, NULL);
            return STORE_UNDO;
        }
        if (found)
            return found;
        thread_id = answered.thread_id;
    }

    //  Every recipient must exist and have room, or nothing is stored
    zlistx_t *unknown = zlistx_new ();
    zlistx_t *full = zlistx_new ();
    int rc = 0;
    for (char *name = (char *) zlistx_first (recipients); name && rc == 0;
         name = (char *) zlistx_next (recipients)) {
        store_user_t user;
        rc = store_user_get (txn, name, &user);
        if (rc == STORE_NOTFOUND) {
            zlistx_add_end (unknown, name);
            rc = 0;
        }
        else
        if (rc == 0 && user.inbox_bytes + body_size > config->quota)
            zlistx_add_end (full, name);
    }
    if (rc == 0 && (zlistx_size (unknown) || zlistx_size (full))) {
        bool is_unknown = zlistx_size (unknown) > 0;
        char *names = s_join (is_unknown? unknown: full);
        char *reason = is_unknown
            ? zsys_sprintf ("No such user: %s; nothing was sent", names)
            : zsys_sprintf ("Mailbox full: %s; nothing was sent", names);
        store_op_reply (op, is_unknown? ZPOST_UNKNOWN_RECIPIENT: ZPOST_QUOTA_EXCEEDED,
                     reason, names);
        zstr_free (&reason);
        zstr_free (&names);
        rc = STORE_UNDO;
    }
    zlistx_destroy (&unknown);
    zlistx_destroy (&full);
    if (rc)
        return rc;

    store_message_t message;
    memset (&message, 0, sizeof message);
    rc = store_counter_next (txn, "next-message-id", &message.id);
    if (rc)
        return rc;
    char *to = s_join (recipients);
    message.date = op->now;
    message.in_reply_to = in_reply_to;
    message.thread_id = in_reply_to? thread_id: message.id;
    message.from = session->username;
    message.from_size = strlen (session->username);
    message.to = to;
    message.to_size = strlen (to);
    message.subject = subject;
    message.subject_size = strlen (subject);
    message.body = body;
    message.body_size = body_size;
    rc = store_message_put (txn, &message, (uint32_t) zlistx_size (recipients) + 1);
    zstr_free (&to);

    for (char *name = (char *) zlistx_first (recipients); name && rc == 0;
         name = (char *) zlistx_next (recipients)) {
        store_user_t user;
        rc = store_user_get (txn, name, &user);
        if (rc == 0)
            rc = store_folder_put (txn, user.id, STORE_INBOX, message.id, 0);
        if (rc == 0) {
            user.inbox_count++;
            user.inbox_unread++;
            user.inbox_bytes += body_size;
            rc = store_user_put (txn, name, &user, false);
        }
    }
    //  Read the sender again: they may have been a recipient too
    store_user_t sender;
    if (rc == 0)
        rc = store_user_get (txn, session->username, &sender);
    if (rc == 0)
        rc = store_folder_put (txn, sender.id, STORE_SENT, message.id, STORE_MARK_SEEN);
    if (rc == 0) {
        sender.sent_count++;
        sender.sent_bytes += body_size;
        rc = store_user_put (txn, session->username, &sender, false);
    }
    if (rc == 0)
        rc = store_counter_add (txn, "messages", 1);
    if (rc == 0)
        rc = store_counter_add (txn, "bytes", (int64_t) body_size);
    if (rc == 0) {
        store_op_reply (op, ZPOST_OK, NULL, NULL);
        zpost_msg_set_number (op->reply, ZPOST_F_MESSAGE_ID, message.id);
        if (in_reply_to)
            zpost_msg_set_number (op->reply, ZPOST_F_THREAD_ID, message.thread_id);
    }
    return rc;
}

int
store_rule_send (store_ctx_t *ctx)
{
    zlistx_t *recipients = s_recipients (zpost_msg_get (ctx->op->request, ZPOST_F_RECIPIENTS));
    int rc = s_send_checked (ctx, recipients, 0);
    zlistx_destroy (&recipients);
    return rc;
}

int
store_rule_answer (store_ctx_t *ctx)
{
    uint64_t in_reply_to = zpost_msg_get_number (ctx->op->request, ZPOST_F_IN_REPLY_TO);
    if (in_reply_to == 0) {
        //  0 names no message, as for READ
        store_op_reply (ctx->op, ZPOST_NO_SUCH_MESSAGE, NULL, NULL);
        return STORE_UNDO;
    }
    zlistx_t *recipients = s_recipients (zpost_msg_get (ctx->op->request, ZPOST_F_RECIPIENTS));
    int rc = s_send_checked (ctx, recipients, in_reply_to);
    zlistx_destroy (&recipients);
    return rc;
}

//  --------------------------------------------------------------------------
//  LIST

typedef struct {
    store_txn_t *txn;           //  the transaction
    store_op_t *op;             //  holds the reply being filled
    unsigned skip;              //  skip entries with these marks
    unsigned need;              //  and entries without these
    size_t limit;               //  rows wanted
    int rc;                     //  first LMDB error met
} s_list_t;

static bool
s_list_visit (void *arg, uint64_t message_id, unsigned marks)
{
    s_list_t *list = (s_list_t *) arg;
    if ((marks & list->skip) || (marks & list->need) != list->need)
        return true;
    bool seen = (marks & STORE_MARK_SEEN) != 0;
    store_message_t message;
    list->rc = store_message_get (list->txn, message_id, &message);
    if (list->rc)
        return false;
    char id [24], date [24], size [24];
    snprintf (id, sizeof id, "%" PRIu64, message_id);
    snprintf (date, sizeof date, "%" PRIu64, message.date);
    snprintf (size, sizeof size, "%zu", message.body_size);
    char *from = zsys_sprintf ("%.*s", (int) message.from_size, message.from);
    char *to = zsys_sprintf ("%.*s", (int) message.to_size, message.to);
    char *subject = zsys_sprintf ("%.*s", (int) message.subject_size, message.subject);
    const char *row [] = { id, from, to, subject, date, size, seen? "1": "0" };
    zpost_msg_add_row (list->op->reply, row);
    zstr_free (&from);
    zstr_free (&to);
    zstr_free (&subject);
    return zpost_msg_rows (list->op->reply) < list->limit;
}

int
store_rule_list (store_ctx_t *ctx)
{
    store_op_t *op = ctx->op;
    bool sent = streq (zpost_msg_get (op->request, ZPOST_F_FOLDER), "sent");
    store_op_reply (op, ZPOST_OK, NULL, NULL);
    const char *filter = zpost_msg_get (op->request, ZPOST_F_FILTER);
    s_list_t list = {
        .txn = ctx->txn, .op = op,
        .skip = streq (filter, "unread")? STORE_MARK_SEEN: 0,
        .need = streq (filter, "flagged")? STORE_MARK_FLAGGED: 0,
        .limit = (size_t) zpost_msg_get_number (op->request, ZPOST_F_LIMIT),
    };
    int rc = store_folder_walk (ctx->txn, ctx->user.id,
                            sent? STORE_SENT: STORE_INBOX,
                            zpost_msg_get_number (op->request, ZPOST_F_BEFORE),
                            s_list_visit, &list);
    return rc? rc: list.rc;
}

//  --------------------------------------------------------------------------
//  SEARCH: LIST's page and rows, of the entries whose message holds the
//  query (the codec has checked its length and characters)

int
store_rule_search (store_ctx_t *ctx)
{
    store_op_t *op = ctx->op;
    bool sent = streq (zpost_msg_get (op->request, ZPOST_F_FOLDER), "sent");
    const char *within = zpost_msg_get (op->request, ZPOST_F_WITHIN);
    unsigned fields = streq (within, "from")? STORE_WITHIN_FROM
                    : streq (within, "subject")? STORE_WITHIN_SUBJECT
                    : streq (within, "body")? STORE_WITHIN_BODY: STORE_WITHIN_ANY;
    char *folded = strdup (zpost_msg_get (op->request, ZPOST_F_QUERY));
    assert (folded);
    store_search_fold (folded);
    store_op_reply (op, ZPOST_OK, NULL, NULL);
    s_list_t list = {
        .txn = ctx->txn, .op = op,
        .limit = (size_t) zpost_msg_get_number (op->request, ZPOST_F_LIMIT),
    };
    int rc = store_folder_search (ctx->txn, ctx->user.id, sent? STORE_SENT: STORE_INBOX,
                                  zpost_msg_get_number (op->request, ZPOST_F_BEFORE),
                                  folded, fields, s_list_visit, &list);
    zstr_free (&folded);
    return rc? rc: list.rc;
}

//  --------------------------------------------------------------------------
//  THREAD: the messages of a thread that the user's folders hold

typedef struct {
    store_txn_t *txn;
    store_op_t *op;
    uint64_t user_id;
    size_t limit;
    int rc;                     //  first failure met
} s_thread_t;

static bool
s_thread_visit (void *arg, uint64_t message_id, unsigned unused)
{
    (void) unused;
    s_thread_t *thread = (s_thread_t *) arg;
    //  The marks of its inbox entry, else of its sent one (read just
    //  before the message, which then comes with it on PostgreSQL)
    unsigned marks = 0;
    int rc = store_folder_get (thread->txn, thread->user_id, STORE_INBOX,
                               message_id, &marks);
    bool in_inbox = rc == STORE_OK;
    if (rc == STORE_NOTFOUND)
        rc = store_folder_get (thread->txn, thread->user_id, STORE_SENT,
                               message_id, &marks);
    if (rc == STORE_NOTFOUND)
        return true;            //  not the user's: not shown
    thread->rc = rc;
    if (rc)
        return false;
    bool seen = !in_inbox || (marks & STORE_MARK_SEEN) != 0;
    bool flagged = (marks & STORE_MARK_FLAGGED) != 0;
    store_message_t message;
    thread->rc = store_message_get (thread->txn, message_id, &message);
    if (thread->rc)
        return false;
    char id [24], parent [24], date [24], size [24];
    snprintf (id, sizeof id, "%" PRIu64, message_id);
    snprintf (parent, sizeof parent, "%" PRIu64, message.in_reply_to);
    snprintf (date, sizeof date, "%" PRIu64, message.date);
    snprintf (size, sizeof size, "%zu", message.body_size);
    char *from = zsys_sprintf ("%.*s", (int) message.from_size, message.from);
    char *to = zsys_sprintf ("%.*s", (int) message.to_size, message.to);
    char *subject = zsys_sprintf ("%.*s", (int) message.subject_size, message.subject);
    const char *row [] = { id, parent, from, to, subject, date, size,
                           seen? "1": "0", flagged? "1": "0" };
    zpost_msg_add_row (thread->op->reply, row);
    zstr_free (&from);
    zstr_free (&to);
    zstr_free (&subject);
    return zpost_msg_rows (thread->op->reply) < thread->limit;
}

int
store_rule_thread (store_ctx_t *ctx)
{
    store_txn_t *txn = ctx->txn;
    store_op_t *op = ctx->op;
    uint64_t id = zpost_msg_get_number (op->request, ZPOST_F_MESSAGE_ID);
    unsigned marks;
    int rc = store_folder_get (txn, ctx->user.id, STORE_INBOX, id, &marks);
    if (rc == STORE_NOTFOUND)
        rc = store_folder_get (txn, ctx->user.id, STORE_SENT, id, &marks);
    store_message_t message;
    if (rc == STORE_OK)
        rc = store_message_get (txn, id, &message);
    if (rc == STORE_NOTFOUND) {
        store_op_reply (op, ZPOST_NO_SUCH_MESSAGE, NULL, NULL);
        return 0;
    }
    if (rc)
        return rc;
    uint64_t thread_id = message.thread_id;
    store_op_reply (op, ZPOST_OK, NULL, NULL);
    zpost_msg_set_number (op->reply, ZPOST_F_THREAD_ID, thread_id);
    s_thread_t thread = {
        .txn = txn, .op = op, .user_id = ctx->user.id,
        .limit = (size_t) zpost_msg_get_number (op->request, ZPOST_F_LIMIT),
    };
    rc = store_thread_walk (txn, thread_id,
                            zpost_msg_get_number (op->request, ZPOST_F_BEFORE),
                            s_thread_visit, &thread);
    return rc? rc: thread.rc;
}

//  --------------------------------------------------------------------------
//  READ

int
store_rule_read (store_ctx_t *ctx)
{
    store_txn_t *txn = ctx->txn;
    store_op_t *op = ctx->op;
    store_user_t *user = &ctx->user;
    int rc;
    uint64_t id = zpost_msg_get_number (op->request, ZPOST_F_MESSAGE_ID);
    unsigned marks = STORE_MARK_SEEN;
    bool in_inbox = true;
    rc = store_folder_get (txn, user->id, STORE_INBOX, id, &marks);
    if (rc == STORE_NOTFOUND) {
        in_inbox = false;
        rc = store_folder_get (txn, user->id, STORE_SENT, id, &marks);
    }
    if (rc == STORE_NOTFOUND) {
        store_op_reply (op, ZPOST_NO_SUCH_MESSAGE, NULL, NULL);
        return 0;               //  keep the session's touch, if any
    }
    store_message_t message;
    if (rc == 0)
        rc = store_message_get (txn, id, &message);
    if (rc)
        return rc;
    store_op_reply (op, ZPOST_OK, NULL, NULL);
    zpost_msg_set_number (op->reply, ZPOST_F_MESSAGE_ID, id);
    zpost_msg_set_number (op->reply, ZPOST_F_DATE, message.date);
    char *text = zsys_sprintf ("%.*s", (int) message.from_size, message.from);
    zpost_msg_set (op->reply, ZPOST_F_FROM, text);
    zstr_free (&text);
    text = zsys_sprintf ("%.*s", (int) message.to_size, message.to);
    zpost_msg_set (op->reply, ZPOST_F_TO, text);
    zstr_free (&text);
    text = zsys_sprintf ("%.*s", (int) message.subject_size, message.subject);
    zpost_msg_set (op->reply, ZPOST_F_SUBJECT, text);
    zstr_free (&text);
    text = (char *) malloc (message.body_size + 1);
    assert (text);
    memcpy (text, message.body, message.body_size);
    text [message.body_size] = 0;
    zpost_msg_set (op->reply, ZPOST_F_BODY, text);
    zstr_free (&text);

    if (in_inbox && !(marks & STORE_MARK_SEEN)) {
        rc = store_folder_put (txn, user->id, STORE_INBOX, id, marks | STORE_MARK_SEEN);
        if (rc == 0) {
            user->inbox_unread--;
            rc = store_user_put (txn, ctx->session.username, user, false);
        }
    }
    return rc;
}

//  --------------------------------------------------------------------------
//  DELETE: idempotent by itself; a second delete finds nothing and is fine

int
store_rule_delete (store_ctx_t *ctx)
{
    store_txn_t *txn = ctx->txn;
    store_op_t *op = ctx->op;
    store_user_t *user = &ctx->user;
    int rc;
    uint64_t id = zpost_msg_get_number (op->request, ZPOST_F_MESSAGE_ID);
    bool inbox = streq (zpost_msg_get (op->request, ZPOST_F_FOLDER), "inbox");
    store_folder_t folder = inbox? STORE_INBOX: STORE_SENT;
    unsigned marks = STORE_MARK_SEEN;
    rc = store_folder_get (txn, user->id, folder, id, &marks);
    store_op_reply (op, ZPOST_OK, NULL, NULL);
    if (rc == STORE_NOTFOUND)
        return 0;
    store_message_t message;
    if (rc == 0)
        rc = store_message_get (txn, id, &message);
    if (rc)
        return rc;
    uint64_t size = message.body_size;
    rc = store_folder_delete (txn, user->id, folder, id);
    bool freed = false;
    if (rc == 0)
        rc = store_message_unref (txn, id, &freed);
    if (rc == 0) {
        if (inbox) {
            user->inbox_count--;
            user->inbox_bytes -= size;
            if (!(marks & STORE_MARK_SEEN))
                user->inbox_unread--;
        }
        else {
            user->sent_count--;
            user->sent_bytes -= size;
        }
        rc = store_user_put (txn, ctx->session.username, user, false);
    }
    if (rc == 0 && freed) {
        rc = store_counter_add (txn, "messages", -1);
        if (rc == 0)
            rc = store_counter_add (txn, "bytes", -(int64_t) size);
    }
    return rc;
}

//  --------------------------------------------------------------------------
//  MARK: idempotent by itself; a mark set twice is set

int
store_rule_mark (store_ctx_t *ctx)
{
    store_txn_t *txn = ctx->txn;
    store_op_t *op = ctx->op;
    store_user_t *user = &ctx->user;
    uint64_t id = zpost_msg_get_number (op->request, ZPOST_F_MESSAGE_ID);
    bool inbox = streq (zpost_msg_get (op->request, ZPOST_F_FOLDER), "inbox");
    const char *mark = zpost_msg_get (op->request, ZPOST_F_FLAG);
    bool seen_mark = streq (mark, "seen") || streq (mark, "unseen");
    if (seen_mark && !inbox) {
        //  What you sent was never unread: the sent folder has no such mark
        store_op_reply (op, ZPOST_INVALID_VALUE,
                        "The sent folder has no unread messages: mark seen or "
                        "unseen in the inbox only", "flag");
        return 0;
    }
    store_folder_t folder = inbox? STORE_INBOX: STORE_SENT;
    unsigned marks = 0;
    int rc = store_folder_get (txn, user->id, folder, id, &marks);
    if (rc == STORE_NOTFOUND) {
        store_op_reply (op, ZPOST_NO_SUCH_MESSAGE, NULL, NULL);
        return 0;               //  keep the session's touch, if any
    }
    if (rc)
        return rc;
    unsigned bit = seen_mark? STORE_MARK_SEEN: STORE_MARK_FLAGGED;
    bool set = streq (mark, "seen") || streq (mark, "flagged");
    unsigned now = set? marks | bit: marks & ~bit;
    store_op_reply (op, ZPOST_OK, NULL, NULL);
    if (now == marks)
        return 0;
    rc = store_folder_put (txn, user->id, folder, id, now);
    if (rc == 0 && bit == STORE_MARK_SEEN) {
        if (set)
            user->inbox_unread--;
        else
            user->inbox_unread++;
        rc = store_user_put (txn, ctx->session.username, user, false);
    }
    return rc;
}

//  --------------------------------------------------------------------------
//  STATS

static void
s_stat (store_op_t *op, const char *name, uint64_t value)
{
    char text [24];
    snprintf (text, sizeof text, "%" PRIu64, value);
    const char *row [] = { name, text };
    zpost_msg_add_row (op->reply, row);
}

int
store_rule_stats (store_ctx_t *ctx)
{
    store_op_t *op = ctx->op;
    store_user_t *user = &ctx->user;
    int rc;
    store_op_reply (op, ZPOST_OK, NULL, NULL);
    if (streq (zpost_msg_get (op->request, ZPOST_F_SCOPE), "user")) {
        s_stat (op, "inbox-count", user->inbox_count);
        s_stat (op, "inbox-unread", user->inbox_unread);
        s_stat (op, "inbox-bytes", user->inbox_bytes);
        s_stat (op, "sent-count", user->sent_count);
        s_stat (op, "sent-bytes", user->sent_bytes);
        s_stat (op, "quota-used", user->inbox_bytes);
        s_stat (op, "quota-limit", ctx->config->quota);
        return 0;
    }
    store_db_t *db = store_txn_db (ctx->txn);
    static const char *counters [] = { "users", "messages", "bytes" };
    for (size_t index = 0; index < 3; index++) {
        uint64_t value;
        rc = store_counter_get (ctx->txn, counters [index], &value);
        if (rc)
            return rc;
        s_stat (op, counters [index], value);
    }
    s_stat (op, "map-used", (uint64_t) store_db_used_pages (db) * store_db_page_size (db));
    //  PostgreSQL has no map, and so no size to report
    if (store_db_map_size (db))
        s_stat (op, "map-size", store_db_map_size (db));
    s_stat (op, "commits", store_engine_commits (ctx->engine));
    //  Records that expire: flat under any load once the first retention
    //  period has passed, or the sweeps are not keeping pace
    uint64_t count;
    rc = store_reply_count (ctx->txn, &count);
    if (rc)
        return rc;
    s_stat (op, "replies", count);
    rc = store_session_count (ctx->txn, &count);
    if (rc)
        return rc;
    s_stat (op, "sessions", count);
    return 0;
}


//  --------------------------------------------------------------------------
//  LOOKUP: SEND's first check, alone, so that a client can ask before a
//  person writes the body; its 430 is SEND's, byte for byte

int
store_rule_lookup (store_ctx_t *ctx)
{
    store_op_t *op = ctx->op;
    zlistx_t *recipients = s_recipients (zpost_msg_get (op->request, ZPOST_F_RECIPIENTS));
    zlistx_t *unknown = zlistx_new ();
    assert (unknown);
    int rc = 0;
    for (char *name = (char *) zlistx_first (recipients); name && rc == 0;
         name = (char *) zlistx_next (recipients)) {
        store_user_t user;
        rc = store_user_get (ctx->txn, name, &user);
        if (rc == STORE_NOTFOUND) {
            zlistx_add_end (unknown, name);
            rc = 0;
        }
    }
    if (rc == 0 && zlistx_size (unknown)) {
        char *names = s_join (unknown);
        char *reason = zsys_sprintf ("No such user: %s; nothing was sent", names);
        store_op_reply (op, ZPOST_UNKNOWN_RECIPIENT, reason, names);
        zstr_free (&reason);
        zstr_free (&names);
        rc = STORE_UNDO;
    }
    else
    if (rc == 0)
        store_op_reply (op, ZPOST_OK, NULL, NULL);
    zlistx_destroy (&unknown);
    zlistx_destroy (&recipients);
    return rc;
}
