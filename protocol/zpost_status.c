/*  =========================================================================
    zpost_status - the one list of status codes, from codec to CLI

    The table is generated from ZPOST_STATUSES (zpost_status.h), the one
    definition that the spec's "Status codes" section is checked against.
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

#define S_STATUS_ROW(symbol, code, reason, retryable, meaning, retry) \
    { ZPOST_##symbol, #symbol, reason, retryable },

static const s_status_t s_statuses [] = {
    ZPOST_STATUSES (S_STATUS_ROW)
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
