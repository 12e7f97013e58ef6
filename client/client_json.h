/*  =========================================================================
    client_json - the client's JSON output (--json), built with jansson

    A command with --json prints one JSON document on stdout. Values are
    built with these helpers, so that text another user wrote, numbers
    past 63 bits and comma-separated names come out the same in every
    command, and the document is written through client_output_json,
    which escapes what jansson leaves raw (DEL, C1, bidi controls): the
    output is valid UTF-8 JSON that is safe on a terminal too.
    =========================================================================
*/

#ifndef CLIENT_JSON_H_INCLUDED
#define CLIENT_JSON_H_INCLUDED

#include <czmq.h>
#include <jansson.h>

//  Write value on stdout, indented, with a newline, and flush. The value
//  stays the caller's.
void
    client_json_emit (json_t *value);

//  A text field: NULL as null; text jansson refuses as its safe form.
json_t *
    client_json_text (const char *text);

//  A number field from its decimal digits: NULL as null; past INT64_MAX
//  the digits go as a string, as JSON libraries hold 64 signed bits.
json_t *
    client_json_number (const char *text);

//  The same from a number.
json_t *
    client_json_id (uint64_t id);

//  "alice,bob" as ["alice", "bob"]; NULL as [].
json_t *
    client_json_names (const char *names);

//  Selftest
void
    client_json_test (bool verbose);

#endif
