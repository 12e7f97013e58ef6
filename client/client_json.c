/*  =========================================================================
    client_json - the client's JSON output (--json), built with jansson

    Every --json document goes out through client_json_emit, the one
    place that escapes what jansson leaves raw.
    =========================================================================
*/

#include "client_json.h"
#include "client_output.h"

#include <errno.h>

void
client_json_emit (json_t *value)
{
    assert (value);
    size_t flags = JSON_INDENT (2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION (10);
    char *dumped = json_dumps (value, flags);
    assert (dumped);
    //  jansson leaves DEL, C1 and the bidi controls raw: escaped here
    char *safe = client_output_json (dumped);
    fputs (safe, stdout);
    fputc ('\n', stdout);
    fflush (stdout);
    free (safe);
    free (dumped);
}

//  The codec has checked that text fields are UTF-8; should jansson still
//  refuse one, the safe form stands in rather than nothing.
json_t *
client_json_text (const char *text)
{
    if (!text)
        return json_null ();
    json_t *value = json_string (text);
    if (!value) {
        char *safe = client_output_safe_str (text, CLIENT_OUTPUT_TEXT);
        value = json_string (safe);
        free (safe);
    }
    assert (value);
    return value;
}

json_t *
client_json_number (const char *text)
{
    if (!text)
        return json_null ();
    errno = 0;
    unsigned long long value = strtoull (text, NULL, 10);
    if (errno || value > (unsigned long long) INT64_MAX)
        return client_json_text (text);
    return json_integer ((json_int_t) value);
}

json_t *
client_json_id (uint64_t id)
{
    char text [24];
    snprintf (text, sizeof (text), "%" PRIu64, id);
    return client_json_number (text);
}

json_t *
client_json_names (const char *names)
{
    json_t *array = json_array ();
    assert (array);
    if (!names)
        return array;
    const char *start = names;
    while (*start) {
        size_t size = strcspn (start, ",");
        if (size > 0) {
            char *name = strndup (start, size);
            assert (name);
            json_array_append_new (array, client_json_text (name));
            free (name);
        }
        start += size;
        if (*start == ',')
            start++;
    }
    return array;
}


//  --------------------------------------------------------------------------
//  Selftest

#undef NDEBUG
#include <assert.h>

void
client_json_test (bool verbose)
{
    printf (" * client_json: ");
    if (verbose)
        printf ("\n");

    //  @selftest
    json_t *names = client_json_names ("alice,,bob");
    assert (json_array_size (names) == 2);
    assert (streq (json_string_value (json_array_get (names, 1)), "bob"));
    json_decref (names);
    names = client_json_names (NULL);
    assert (json_array_size (names) == 0);
    json_decref (names);

    json_t *number = client_json_number ("42");
    assert (json_integer_value (number) == 42);
    json_decref (number);
    //  Past 63 bits: the digits as a string
    number = client_json_id (UINT64_MAX);
    assert (json_is_string (number));
    assert (streq (json_string_value (number), "18446744073709551615"));
    json_decref (number);
    number = client_json_number (NULL);
    assert (json_is_null (number));
    json_decref (number);
    //  @end

    printf ("OK\n");
}
