/*  =========================================================================
    zpost_status - the one list of status codes, from codec to CLI

    Every reply of the ZPOST protocol carries a three-digit status and a
    reason. This header is the only place the codes are defined; the spec
    (protocol/ZPOST.md, section "Status codes") lists the same table. The
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

typedef enum {
    ZPOST_OK                  = 200,    //  done
    ZPOST_MALFORMED           = 400,    //  frames do not follow the grammar
    ZPOST_NOT_LOGGED_IN       = 401,    //  token missing, unknown, expired or from another key
    ZPOST_LOGIN_FAILED        = 403,    //  wrong username or password (never says which)
    ZPOST_NO_SUCH_MESSAGE     = 404,    //  no message with that id in your folders
    ZPOST_UNKNOWN_COMMAND     = 405,    //  command not in this protocol version
    ZPOST_NAME_TAKEN          = 409,    //  username already registered
    ZPOST_TOO_LARGE           = 413,    //  a field is over its limit
    ZPOST_INVALID_VALUE       = 422,    //  a field is well framed but its value is not allowed
    ZPOST_THROTTLED           = 429,    //  too many failed attempts; detail = seconds to wait
    ZPOST_UNKNOWN_RECIPIENT   = 430,    //  detail = the unknown names, comma-separated
    ZPOST_QUOTA_EXCEEDED      = 452,    //  a recipient's mailbox is full
    ZPOST_INTERNAL_ERROR      = 500,    //  the server failed; nothing was changed
    ZPOST_STORE_UNAVAILABLE   = 503,    //  no store answered in time; retry
    ZPOST_VERSION_UNSUPPORTED = 505,    //  protocol signature not "ZPOST1"
    ZPOST_STORAGE_FULL        = 507     //  the server's storage is full
} zpost_status_t;

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
