/*  =========================================================================
    client_check - what a person typed, checked before it is sent

    The limits are the protocol's (zpost_msg.h): a request the client lets
    through is one the server can take, and a mistake is said in the
    person's terms before a round trip is spent on it.
    =========================================================================
*/

#include "client_check.h"
#include "zpost_msg.h"

#include <errno.h>

int
client_check_int (const char *text, long min, long max, int *value_p)
{
    if (!text || *text < '0' || *text > '9')
        return -1;
    char *end;
    errno = 0;
    long value = strtol (text, &end, 10);
    if (errno || *end || value < min || value > max)
        return -1;
    *value_p = (int) value;
    return 0;
}

int
client_check_id (const char *text, uint64_t *id_p)
{
    size_t size = strlen (text);
    if (size == 0 || size > 20 || strspn (text, "0123456789") != size)
        return -1;
    errno = 0;
    unsigned long long value = strtoull (text, NULL, 10);
    if (errno || value == 0)
        return -1;
    *id_p = (uint64_t) value;
    return 0;
}

char *
client_check_username (const char *typed)
{
    char *name = strdup (typed);
    assert (name);
    for (char *scan = name; *scan; scan++)
        if (*scan >= 'A' && *scan <= 'Z')
            *scan = (char) (*scan - 'A' + 'a');
    if (!zpost_msg_valid_username (name))
        zstr_free (&name);
    return name;
}

char *
client_check_recipients (char **list_p, const char *typed, size_t *count_p)
{
    char *copy = strdup (typed);
    assert (copy);
    char *fault = NULL;
    char *rest = copy;
    while (!fault) {
        char *item = strsep (&rest, ",");
        if (!item)
            break;
        item += strspn (item, " \t");
        size_t size = strlen (item);
        while (size > 0 && (item [size - 1] == ' ' || item [size - 1] == '\t'))
            item [--size] = 0;
        char *name = client_check_username (item);
        if (!name)
            fault = *item? zsys_sprintf ("'%.64s' is not a username", item)
                         : strdup ("--to has an empty name; separate names with "
                                   "single commas");
        else {
            char *joined = zsys_sprintf ("%s%s%s", *list_p? *list_p: "",
                                         *list_p? ",": "", name);
            assert (joined);
            free (*list_p);
            *list_p = joined;
            (*count_p)++;
            free (name);
        }
    }
    free (copy);
    return fault;
}

const char *
client_check_subject (const char *subject)
{
    assert (subject);
    if (strlen (subject) > ZPOST_SUBJECT_MAX)
        return "the subject is longer than 255 bytes";
    if (!zpost_msg_valid_utf8 (subject, strlen (subject))
    ||  strchr (subject, '\n') || strchr (subject, '\r'))
        return "the subject must be one line of UTF-8 text";
    return NULL;
}

const char *
client_check_password (const char *password, bool new_password)
{
    assert (password);
    if (!*password)
        return "the password is empty; nothing was done";
    if (strlen (password) > ZPOST_PASSWORD_MAX)
        return "the password is longer than 1024 bytes; choose a shorter one";
    if (!zpost_msg_valid_utf8 (password, strlen (password)))
        return "the password is not valid UTF-8 text; check your terminal's encoding";
    if (new_password && strlen (password) < ZPOST_PASSWORD_MIN)
        return "the password is shorter than 8 bytes; choose a longer one";
    return NULL;
}

const char *
client_check_body (const char *body, size_t size)
{
    if (size > ZPOST_BODY_MAX)
        return "the body is larger than 16 MiB; nothing was sent";
    if ((size && !body) || (body && memchr (body, 0, size))
    ||  (body && !zpost_msg_valid_utf8 (body, size)))
        return "the body is not UTF-8 text (or holds a NUL byte); nothing was sent";
    return NULL;
}


//  --------------------------------------------------------------------------
//  Selftest

#undef NDEBUG
#include <assert.h>

void
client_check_test (bool verbose)
{
    printf (" * client_check: ");
    if (verbose)
        printf ("\n");

    //  @selftest
    int value;
    assert (client_check_int ("42", 1, 100, &value) == 0 && value == 42);
    assert (client_check_int ("0", 1, 100, &value) == -1);
    assert (client_check_int ("-1", -5, 100, &value) == -1);
    assert (client_check_int ("4x", 1, 100, &value) == -1);
    uint64_t id;
    assert (client_check_id ("18446744073709551615", &id) == 0 && id == UINT64_MAX);
    assert (client_check_id ("18446744073709551616", &id) == -1);
    assert (client_check_id ("0", &id) == -1);
    assert (client_check_id ("", &id) == -1);

    char *name = client_check_username ("Alice");
    assert (name && streq (name, "alice"));
    free (name);
    assert (client_check_username ("no spaces") == NULL);

    char *list = NULL;
    size_t count = 0;
    assert (client_check_recipients (&list, " Bob , carol", &count) == NULL);
    assert (client_check_recipients (&list, "dave", &count) == NULL);
    assert (streq (list, "bob,carol,dave") && count == 3);
    char *fault = client_check_recipients (&list, "eve,,frank", &count);
    assert (fault && strstr (fault, "empty name"));
    free (fault);
    free (list);

    assert (client_check_subject ("") == NULL);
    assert (client_check_subject ("two\nlines"));
    assert (client_check_password ("short", false) == NULL);
    assert (client_check_password ("short", true));
    assert (client_check_password ("", false));
    assert (client_check_body ("hi", 2) == NULL);
    assert (client_check_body ("h\0i", 3));
    //  @end

    printf ("OK\n");
}
