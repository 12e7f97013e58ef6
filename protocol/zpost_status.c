/*  =========================================================================
    zpost_status - the one list of status codes, from codec to CLI

    The table below is the protocol's "Status codes" section in code form.
    Reasons are written for the person at the client: they say what went
    wrong and, where there is something to do, what to do.
    =========================================================================
*/

#include "zpost_status.h"
#include <assert.h>
#include <stdio.h>
#include <string.h>

typedef struct {
    int code;                   //  three-digit status
    const char *name;           //  symbolic name, as in the spec
    const char *reason;         //  sentence for a person
    bool retryable;             //  same request, same id, may succeed later
} s_status_t;

static const s_status_t s_statuses [] = {
    { ZPOST_OK, "OK", "OK", false },
    { ZPOST_MALFORMED, "MALFORMED",
      "The request does not follow the ZPOST protocol", false },
    { ZPOST_NOT_LOGGED_IN, "NOT_LOGGED_IN",
      "Not logged in, or the session has ended: log in again", false },
    { ZPOST_LOGIN_FAILED, "LOGIN_FAILED",
      "Wrong username or password", false },
    { ZPOST_NO_SUCH_MESSAGE, "NO_SUCH_MESSAGE",
      "No message with that id in your mailbox", false },
    { ZPOST_UNKNOWN_COMMAND, "UNKNOWN_COMMAND",
      "Unknown command", false },
    { ZPOST_NAME_TAKEN, "NAME_TAKEN",
      "That username is taken: choose another", false },
    { ZPOST_TOO_LARGE, "TOO_LARGE",
      "A field is larger than the server allows", false },
    { ZPOST_INVALID_VALUE, "INVALID_VALUE",
      "A field has a value the server does not accept", false },
    { ZPOST_THROTTLED, "THROTTLED",
      "Too many failed attempts: wait before trying again", true },
    { ZPOST_UNKNOWN_RECIPIENT, "UNKNOWN_RECIPIENT",
      "No user by that name: nothing was sent", false },
    { ZPOST_QUOTA_EXCEEDED, "QUOTA_EXCEEDED",
      "A recipient's mailbox is full: nothing was sent", false },
    { ZPOST_INTERNAL_ERROR, "INTERNAL_ERROR",
      "The server failed to do this; nothing was changed", false },
    { ZPOST_STORE_UNAVAILABLE, "STORE_UNAVAILABLE",
      "The message store is unavailable: try again shortly", true },
    { ZPOST_VERSION_UNSUPPORTED, "VERSION_UNSUPPORTED",
      "This server speaks ZPOST1 only: update the client", false },
    { ZPOST_STORAGE_FULL, "STORAGE_FULL",
      "The server's storage is full: nothing was stored", false },
};

#define S_STATUS_COUNT (sizeof (s_statuses) / sizeof (s_statuses [0]))

static const s_status_t *
s_lookup (int status)
{
    for (size_t index = 0; index < S_STATUS_COUNT; index++)
        if (s_statuses [index].code == status)
            return &s_statuses [index];
    return NULL;
}

const char *
zpost_status_reason (int status)
{
    const s_status_t *entry = s_lookup (status);
    if (entry)
        return entry->reason;
    if (status >= 200 && status < 300)
        return "OK";
    if (status >= 400 && status < 500)
        return "The server refused the request";
    return "The server could not do this now";
}

const char *
zpost_status_name (int status)
{
    const s_status_t *entry = s_lookup (status);
    return entry? entry->name: "UNKNOWN";
}

bool
zpost_status_retryable (int status)
{
    const s_status_t *entry = s_lookup (status);
    return entry? entry->retryable: false;
}

bool
zpost_status_known (int status)
{
    return s_lookup (status) != NULL;
}

void
zpost_status_test (bool verbose)
{
    if (verbose)
        printf (" * zpost_status: ");
    //  Every code is a 3-digit number, unique, with a name and a reason
    for (size_t index = 0; index < S_STATUS_COUNT; index++) {
        const s_status_t *entry = &s_statuses [index];
        assert (entry->code >= 200 && entry->code <= 599);
        assert (strlen (entry->name) > 0);
        assert (strlen (entry->reason) > 0 && strlen (entry->reason) <= 255);
        for (size_t other = index + 1; other < S_STATUS_COUNT; other++)
            assert (s_statuses [other].code != entry->code);
    }
    assert (strcmp (zpost_status_name (ZPOST_NOT_LOGGED_IN), "NOT_LOGGED_IN") == 0);
    assert (zpost_status_retryable (ZPOST_STORE_UNAVAILABLE));
    assert (!zpost_status_retryable (ZPOST_LOGIN_FAILED));
    assert (zpost_status_known (ZPOST_STORAGE_FULL));
    assert (!zpost_status_known (418));
    assert (strcmp (zpost_status_name (418), "UNKNOWN") == 0);
    assert (strlen (zpost_status_reason (418)) > 0);
    assert (strlen (zpost_status_reason (599)) > 0);
    if (verbose)
        printf ("OK\n");
}
