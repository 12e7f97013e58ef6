/*  =========================================================================
    zpost_commands - the one definition of the protocol's commands and fields

    Everything that must agree about commands and fields comes from the two
    X-macro tables below: the codec's grammar tables (zpost_msg.c), the
    command and field enums, the store's per-command table, and the tables
    in protocol/ZPOST.md ("Fields", "Which commands need a session"), which
    the spec_tables test checks against this file. Change a row here and
    the spec's row must change with it, or the test fails.

    ZPOST_COMMANDS (X) calls X once per command, in wire order, with eight
    columns:

        X (UPPER, lower, "WIRE", flags, request, reply, row, rows_max)

        UPPER      enum suffix: ZPOST_CMD_UPPER
        lower      lowercase token, for generated names (store_rule_##lower)
        "WIRE"     the command frame's bytes
        flags      ZPOST_CMD_SESSION | ZPOST_CMD_WRITES | ... or 0
        request    the request's fields, in order
        reply      the fixed fields of its 200 reply, in order
        row        the fields of each reply row (one frame, NUL between)
        rows_max   most rows in one reply; 0 when the reply has no rows

    A field list is parenthesised, and every field in it is followed by a
    comma, so that an empty list is just (): expand it with a macro such as
    #define LIST(...) { __VA_ARGS__ ZPOST_F_COUNT } and write LIST request.

    ZPOST_FIELDS (X) calls X once per field, in enum order, with ten
    columns:

        X (UPPER, "name", TYPE, max_size, min_value, max_value, (choices),
           "syntax", "limit", "fault gives")

    TYPE is the codec's type without its prefix (ENUM, NAME, NAMES, SECRET,
    LINE, TEXT, NUMBER, TOKEN, WORD, QUERY); choices are the words of an
    ENUM, or (NULL). min_value is a NUMBER's least value, and a QUERY's
    fewest bytes. The last three columns are the spec's words for the field, as
    its "Fields" table prints them.
    =========================================================================
*/

#ifndef ZPOST_COMMANDS_H_INCLUDED
#define ZPOST_COMMANDS_H_INCLUDED

//  What a command does, as bits. These say how a server must treat a
//  request; the spec's "Which commands need a session" is the same table.
typedef enum {
    ZPOST_CMD_SESSION  = 1,     //  needs a session token (401 without one)
    ZPOST_CMD_WRITES   = 2,     //  changes stored state
    ZPOST_CMD_RECORDED = 4,     //  keeps an idempotency record under
                                //  (user or username, request-id)
    ZPOST_CMD_PASSWORD = 8      //  has a password step (Argon2id, off the loop)
} zpost_command_flag_t;

#define ZPOST_COMMANDS(X) \
    X (PING,     ping,     "PING",     0, \
       (ZPOST_F_TARGET,), \
       (ZPOST_F_SERVER_VERSION, ZPOST_F_ANSWERED_BY,), \
       (), 0) \
    X (REGISTER, register, "REGISTER", \
       ZPOST_CMD_WRITES | ZPOST_CMD_RECORDED | ZPOST_CMD_PASSWORD, \
       (ZPOST_F_USERNAME, ZPOST_F_PASSWORD,), \
       (), \
       (), 0) \
    X (LOGIN,    login,    "LOGIN", \
       ZPOST_CMD_WRITES | ZPOST_CMD_PASSWORD, \
       (ZPOST_F_USERNAME, ZPOST_F_PASSWORD,), \
       (ZPOST_F_TOKEN, ZPOST_F_EXPIRES,), \
       (), 0) \
    X (LOGOUT,   logout,   "LOGOUT", \
       ZPOST_CMD_SESSION | ZPOST_CMD_WRITES, \
       (), \
       (), \
       (), 0) \
    X (SEND,     send,     "SEND", \
       ZPOST_CMD_SESSION | ZPOST_CMD_WRITES | ZPOST_CMD_RECORDED, \
       (ZPOST_F_RECIPIENTS, ZPOST_F_SUBJECT, ZPOST_F_BODY,), \
       (ZPOST_F_MESSAGE_ID,), \
       (), 0) \
    X (LIST,     list,     "LIST", \
       ZPOST_CMD_SESSION, \
       (ZPOST_F_FOLDER, ZPOST_F_FILTER, ZPOST_F_LIMIT, ZPOST_F_BEFORE,), \
       (), \
       (ZPOST_F_MESSAGE_ID, ZPOST_F_FROM, ZPOST_F_TO, ZPOST_F_SUBJECT, \
        ZPOST_F_DATE, ZPOST_F_SIZE, ZPOST_F_SEEN,), \
       ZPOST_LIST_MAX) \
    X (READ,     read,     "READ", \
       ZPOST_CMD_SESSION | ZPOST_CMD_WRITES, \
       (ZPOST_F_MESSAGE_ID,), \
       (ZPOST_F_MESSAGE_ID, ZPOST_F_FROM, ZPOST_F_TO, ZPOST_F_SUBJECT, \
        ZPOST_F_DATE, ZPOST_F_BODY,), \
       (), 0) \
    X (DELETE,   delete,   "DELETE", \
       ZPOST_CMD_SESSION | ZPOST_CMD_WRITES, \
       (ZPOST_F_FOLDER, ZPOST_F_MESSAGE_ID,), \
       (), \
       (), 0) \
    X (STATS,    stats,    "STATS", \
       ZPOST_CMD_SESSION, \
       (ZPOST_F_SCOPE,), \
       (), \
       (ZPOST_F_STAT_NAME, ZPOST_F_STAT_VALUE,), \
       ZPOST_STATS_MAX) \
    X (PASSWD,   passwd,   "PASSWD", \
       ZPOST_CMD_SESSION | ZPOST_CMD_WRITES | ZPOST_CMD_RECORDED | ZPOST_CMD_PASSWORD, \
       (ZPOST_F_PASSWORD, ZPOST_F_NEW_PASSWORD,), \
       (), \
       (), 0) \
    X (MARK,     mark,     "MARK", \
       ZPOST_CMD_SESSION | ZPOST_CMD_WRITES, \
       (ZPOST_F_FOLDER, ZPOST_F_MESSAGE_ID, ZPOST_F_FLAG,), \
       (), \
       (), 0) \
    X (UNREGISTER, unregister, "UNREGISTER", \
       ZPOST_CMD_SESSION | ZPOST_CMD_WRITES | ZPOST_CMD_PASSWORD, \
       (ZPOST_F_PASSWORD,), \
       (), \
       (), 0) \
    X (ANSWER,   answer,   "ANSWER", \
       ZPOST_CMD_SESSION | ZPOST_CMD_WRITES | ZPOST_CMD_RECORDED, \
       (ZPOST_F_IN_REPLY_TO, ZPOST_F_RECIPIENTS, ZPOST_F_SUBJECT, ZPOST_F_BODY,), \
       (ZPOST_F_MESSAGE_ID, ZPOST_F_THREAD_ID,), \
       (), 0) \
    X (THREAD,   thread,   "THREAD", \
       ZPOST_CMD_SESSION, \
       (ZPOST_F_MESSAGE_ID, ZPOST_F_LIMIT, ZPOST_F_BEFORE,), \
       (ZPOST_F_THREAD_ID,), \
       (ZPOST_F_MESSAGE_ID, ZPOST_F_IN_REPLY_TO, ZPOST_F_FROM, ZPOST_F_TO, \
        ZPOST_F_SUBJECT, ZPOST_F_DATE, ZPOST_F_SIZE, ZPOST_F_SEEN, ZPOST_F_FLAGGED,), \
       ZPOST_LIST_MAX) \
    X (LOOKUP,   lookup,   "LOOKUP", \
       ZPOST_CMD_SESSION, \
       (ZPOST_F_RECIPIENTS,), \
       (), \
       (), 0) \
    X (WATCH,    watch,    "WATCH", \
       ZPOST_CMD_SESSION, \
       (ZPOST_F_SINCE, ZPOST_F_UNREAD, ZPOST_F_TIMEOUT,), \
       (ZPOST_F_MESSAGE_ID, ZPOST_F_UNREAD,), \
       (), 0) \
    X (SEARCH,   search,   "SEARCH", \
       ZPOST_CMD_SESSION, \
       (ZPOST_F_FOLDER, ZPOST_F_WITHIN, ZPOST_F_QUERY, ZPOST_F_LIMIT, ZPOST_F_BEFORE,), \
       (), \
       (ZPOST_F_MESSAGE_ID, ZPOST_F_FROM, ZPOST_F_TO, ZPOST_F_SUBJECT, \
        ZPOST_F_DATE, ZPOST_F_SIZE, ZPOST_F_SEEN,), \
       ZPOST_LIST_MAX)

//  The fields an error reply (any status but 200) may carry, all optional.
#define ZPOST_ERROR_FIELDS (ZPOST_F_DETAIL,)

#define ZPOST_FIELDS(X) \
    X (TARGET, "target", ENUM, 6, 0, 0, ("broker", "store"), \
       "`broker` or `store`", "", "422") \
    X (USERNAME, "username", NAME, ZPOST_NAME_MAX, 0, 0, (NULL), \
       "name, folded to lower case", "1..32 bytes", "413 if longer, else 422") \
    X (PASSWORD, "password", SECRET, ZPOST_PASSWORD_MAX, 0, 0, (NULL), \
       "UTF-8 text (in PASSWD, the old password)", \
       "1..1024 bytes; REGISTER: 8..1024", \
       "413 if longer; 422 if empty; REGISTER: 422 if shorter than 8") \
    X (NEW_PASSWORD, "new-password", SECRET, ZPOST_PASSWORD_MAX, 0, 0, (NULL), \
       "UTF-8 text", "8..1024 bytes", "413 if longer, else 422") \
    X (RECIPIENTS, "recipients", NAMES, \
       ZPOST_RECIPIENTS_MAX * (ZPOST_NAME_MAX + 1) - 1, 0, 0, (NULL), \
       "names separated by `,`", "1..100 names (at most 3299 bytes)", \
       "413 if more names or bytes, else 422 (a name over 32 bytes in the list is 422)") \
    X (SUBJECT, "subject", LINE, ZPOST_SUBJECT_MAX, 0, 0, (NULL), \
       "UTF-8, no CR, no LF", "0..255 bytes", "413 if longer, else 422") \
    X (BODY, "body", TEXT, ZPOST_BODY_MAX, 0, 0, (NULL), \
       "UTF-8 text", "0..store limit (default 1 MiB); ceiling 16 MiB", "413") \
    X (FOLDER, "folder", ENUM, 5, 0, 0, ("inbox", "sent"), \
       "`inbox` or `sent`", "", "422") \
    X (FILTER, "filter", ENUM, 7, 0, 0, ("all", "unread", "flagged"), \
       "`all`, `unread` or `flagged`", "", "422") \
    X (LIMIT, "limit", NUMBER, 20, 1, ZPOST_LIST_MAX, (NULL), \
       "number", "1..1000", "422") \
    X (BEFORE, "before", NUMBER, 20, 0, UINT64_MAX, (NULL), \
       "number", "", "422") \
    X (MESSAGE_ID, "message-id", NUMBER, 20, 0, UINT64_MAX, (NULL), \
       "number", "ids are 1..2^64-1; a request's `0` names no message", \
       "422 if not a number") \
    X (SCOPE, "scope", ENUM, 6, 0, 0, ("user", "server"), \
       "`user` or `server`", "", "422") \
    X (SERVER_VERSION, "server-version", LINE, ZPOST_VERSION_MAX, 0, 0, (NULL), \
       "UTF-8 text", "1..64 bytes", "") \
    X (ANSWERED_BY, "answered-by", ENUM, 6, 0, 0, ("broker", "store"), \
       "`broker` or `store`", "", "") \
    X (TOKEN, "token", TOKEN, ZPOST_TOKEN_SIZE, 0, 0, (NULL), \
       "64 lowercase hex", "64 bytes", "") \
    X (EXPIRES, "expires", NUMBER, 20, 0, UINT64_MAX, (NULL), \
       "time", "", "") \
    X (FROM, "from", NAME, ZPOST_NAME_MAX, 0, 0, (NULL), \
       "username", "1..32 bytes", "") \
    X (TO, "to", NAMES, ZPOST_RECIPIENTS_MAX * (ZPOST_NAME_MAX + 1) - 1, 0, 0, (NULL), \
       "usernames separated by `,`", "1..100 names", "") \
    X (DATE, "date", NUMBER, 20, 0, UINT64_MAX, (NULL), \
       "time", "", "") \
    X (SIZE, "size", NUMBER, 20, 0, UINT64_MAX, (NULL), \
       "number (body bytes)", "", "") \
    X (SEEN, "seen", NUMBER, 1, 0, 1, (NULL), \
       "`0` or `1`", "", "") \
    X (STAT_NAME, "name", WORD, ZPOST_STAT_NAME_MAX, 0, 0, (NULL), \
       "`[a-z][a-z0-9-]*`", "1..32 bytes", "") \
    X (STAT_VALUE, "value", NUMBER, 20, 0, UINT64_MAX, (NULL), \
       "number", "", "") \
    X (DETAIL, "detail", LINE, ZPOST_DETAIL_MAX, 0, 0, (NULL), \
       "UTF-8 text", "1..4096 bytes", "") \
    X (FLAG, "flag", ENUM, 9, 0, 0, ("seen", "unseen", "flagged", "unflagged"), \
       "`seen`, `unseen`, `flagged` or `unflagged`", "", "422") \
    X (IN_REPLY_TO, "in-reply-to", NUMBER, 20, 0, UINT64_MAX, (NULL), \
       "number", "a message id; in a THREAD row `0` is none", "422 if not a number") \
    X (THREAD_ID, "thread-id", NUMBER, 20, 0, UINT64_MAX, (NULL), \
       "number (the id of the thread's first message)", "", "") \
    X (FLAGGED, "flagged", NUMBER, 1, 0, 1, (NULL), \
       "`0` or `1`", "", "") \
    X (SINCE, "since", NUMBER, 20, 0, UINT64_MAX, (NULL), \
       "number (the newest inbox message id the client knows)", "", "422") \
    X (UNREAD, "unread", NUMBER, 20, 0, UINT64_MAX, (NULL), \
       "number (unread messages in the inbox)", "", "422") \
    X (TIMEOUT, "timeout", NUMBER, 20, 0, ZPOST_WATCH_TIMEOUT_MAX, (NULL), \
       "number (seconds)", "0..60", "422") \
    X (WITHIN, "within", ENUM, 7, 0, 0, ("any", "from", "subject", "body"), \
       "`any`, `from`, `subject` or `body`", "", "422") \
    X (QUERY, "query", QUERY, ZPOST_QUERY_MAX, ZPOST_QUERY_MIN, 0, (NULL), \
       "UTF-8, no control characters", "3..128 bytes", "413 if longer, else 422")

//  The enums, generated. ZPOST_CMD_NONE (0) is "not known": malformed
//  input; ZPOST_CMD_COUNT and ZPOST_F_COUNT are one past the last.
#define ZPOST_COMMANDS_ENUM_(upper, lower, wire, flags, request, reply, row, rows_max) \
    ZPOST_CMD_##upper,
typedef enum {
    ZPOST_CMD_NONE = 0,
    ZPOST_COMMANDS (ZPOST_COMMANDS_ENUM_)
    ZPOST_CMD_COUNT
} zpost_command_t;
#undef ZPOST_COMMANDS_ENUM_

#define ZPOST_FIELDS_ENUM_(upper, name, type, max_size, min_value, max_value, \
                           choices, syntax, limit, fault) \
    ZPOST_F_##upper,
typedef enum {
    ZPOST_FIELDS (ZPOST_FIELDS_ENUM_)
    ZPOST_F_COUNT
} zpost_field_t;
#undef ZPOST_FIELDS_ENUM_

//  The command's ZPOST_CMD_SESSION | ZPOST_CMD_WRITES | ... bits; 0 for
//  ZPOST_CMD_NONE and PING.
unsigned
    zpost_command_flags (zpost_command_t command);

#endif
