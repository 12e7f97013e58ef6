/*  =========================================================================
    zpost_status - the one list of status codes, from codec to CLI

    Every reply of the ZPOST protocol carries a three-digit status and a
    reason. This header is the only place the codes are defined, in the
    X-macro ZPOST_STATUSES; the spec (protocol/ZPOST.md, section "Status
    codes") lists the same table, and a test compares the two. The
    first digit says who must act: 2 = done, 4 = the request must change,
    5 = the server could not do it now.

    zpost_status_reason () gives a sentence a person can act on, and
    zpost_status_retryable () says whether the same request, with the same
    request id, may simply be sent again.
    =========================================================================
*/

#ifndef ZPOST_STATUS_H_INCLUDED
#define ZPOST_STATUS_H_INCLUDED

#include <stdbool.h>

//  The one definition: X (NAME, code, reason, retryable, meaning, retry)
//
//      NAME       enum suffix (ZPOST_NAME) and the symbolic name, as text
//      code       the three digits
//      reason     the sentence a reply carries by default, for a person
//      retryable  same request, same request id, may succeed later
//      meaning    the spec's "meaning" column
//      retry      the spec's "retry?" column ("yes..." exactly when retryable)
//
//  The spec's "Status codes" table is checked against it (spec_tables test).
#define ZPOST_STATUSES(X) \
    X (OK, 200, "OK", false, \
       "done", "\xe2\x80\x94") \
    X (MALFORMED, 400, "The request does not follow the ZPOST protocol", false, \
       "the frames do not follow the grammar", "no") \
    X (NOT_LOGGED_IN, 401, "Not logged in, or the session has ended: log in again", false, \
       "the token is missing, unknown, expired, or from another client key", \
       "no (log in, then send again)") \
    X (LOGIN_FAILED, 403, "Wrong username or password", false, \
       "wrong username or password; never says which; no detail", "no") \
    X (NO_SUCH_MESSAGE, 404, "No message with that id in your mailbox", false, \
       "no message with that id in your folders", "no") \
    X (UNKNOWN_COMMAND, 405, "Unknown command", false, \
       "the command is not in this protocol version", "no") \
    X (NAME_TAKEN, 409, "That username is taken: choose another", false, \
       "the username is already registered", "no") \
    X (TOO_LARGE, 413, "A field is larger than the server allows", false, \
       "a field is over its limit; detail SHOULD name the field", "no") \
    X (INVALID_VALUE, 422, "A field has a value the server does not accept", false, \
       "a field is well framed but its value is not allowed; detail SHOULD name the field", \
       "no") \
    X (THROTTLED, 429, "Too many failed attempts: wait before trying again", true, \
       "too many failed attempts; **detail** = seconds to wait", \
       "yes, after waiting the detail's seconds") \
    X (UNKNOWN_RECIPIENT, 430, "No user by that name: nothing was sent", false, \
       "**detail** = the unknown names, comma-separated", "no") \
    X (QUOTA_EXCEEDED, 452, "A recipient's mailbox is full: nothing was sent", false, \
       "a recipient's (or the sender's) mailbox is full; detail SHOULD name them", "no") \
    X (INTERNAL_ERROR, 500, "The server failed to do this; nothing was changed", false, \
       "the server failed; nothing was changed", "no") \
    X (STORE_UNAVAILABLE, 503, "The message store is unavailable: try again shortly", true, \
       "no store answered in time", "yes, with the same request-id") \
    X (VERSION_UNSUPPORTED, 505, "This server speaks ZPOST1 only: update the client", false, \
       "the signature is not `ZPOST1`", "no") \
    X (STORAGE_FULL, 507, "The server's storage is full: nothing was stored", false, \
       "the server's storage is full; nothing was changed", "no")

#define ZPOST_STATUSES_ENUM_(name, code, reason, retryable, meaning, retry) \
    ZPOST_##name = code,
typedef enum {
    ZPOST_STATUSES (ZPOST_STATUSES_ENUM_)
} zpost_status_t;
#undef ZPOST_STATUSES_ENUM_

//  Return a short sentence for the status, for a person; never NULL.
//  Unknown codes give a generic sentence built from their first digit.
const char *
    zpost_status_reason (int status);

//  Return the status's symbolic name ("NOT_LOGGED_IN"), or "UNKNOWN".
const char *
    zpost_status_name (int status);

//  True if a client may send the same request again, with the same
//  request id, and expect a different outcome.
bool
    zpost_status_retryable (int status);

//  True if the code is one this protocol version defines.
bool
    zpost_status_known (int status);

//  Selftest
void
    zpost_status_test (bool verbose);

#endif
