/*  =========================================================================
    client_compose - the check before writing, replies, forwards, delivery

    Nothing here prints a message another user wrote to the terminal: the
    quotes it makes go into a body, which the editor or the store gets.
    =========================================================================
*/

#include "client_compose.h"
#include "client_output.h"

#include <inttypes.h>
#include <strings.h>

int
client_compose_check (client_app_t *app, const char *recipients,
                      client_state_t *state)
{
    int status = CLIENT_EXIT_DONE;
    zpost_msg_t *reply = client_api_lookup (app, recipients, &status);
    if (!reply)
        return status;
    int code = zpost_msg_status (reply);
    //  A store that predates LOOKUP: SEND will tell, after the body
    if (code != ZPOST_OK && code != ZPOST_UNKNOWN_COMMAND)
        status = client_api_refusal (app, reply, state, 0, NULL);
    zpost_msg_destroy (&reply);
    return status;
}

//  prefix before subject unless it starts with it already (any case),
//  cut to ZPOST_SUBJECT_MAX bytes at a character boundary
static char *
s_prefixed (const char *prefix, const char *subject)
{
    subject = subject? subject: "";
    char *result = strncasecmp (subject, prefix, strlen (prefix)) == 0
                 ? strdup (subject): zsys_sprintf ("%s%s", prefix, subject);
    assert (result);
    size_t size = strlen (result);
    if (size > ZPOST_SUBJECT_MAX) {
        size = ZPOST_SUBJECT_MAX;
        while (size > 0 && ((unsigned char) result [size] & 0xC0) == 0x80)
            size--;
        result [size] = 0;
    }
    return result;
}

char *
client_compose_reply_subject (const char *subject)
{
    return s_prefixed ("Re: ", subject);
}

char *
client_compose_forward_subject (const char *subject)
{
    return s_prefixed ("Fwd: ", subject);
}

//  Add name to the comma-separated list unless it is there
static void
s_add_name (char **list_p, size_t *count_p, const char *name, size_t size)
{
    char *wanted = zsys_sprintf ("%.*s", (int) size, name);
    bool there = false;
    if (*list_p) {
        char *copy = strdup (*list_p);
        char *rest = copy;
        char *item;
        while ((item = strsep (&rest, ",")))
            if (streq (item, wanted))
                there = true;
        free (copy);
    }
    if (!there && *wanted && *count_p < ZPOST_RECIPIENTS_MAX) {
        char *joined = zsys_sprintf ("%s%s%s", *list_p? *list_p: "", *list_p? ",": "",
                                     wanted);
        free (*list_p);
        *list_p = joined;
        (*count_p)++;
    }
    free (wanted);
}

char *
client_compose_reply_recipients (zpost_msg_t *original, const char *me, bool all)
{
    const char *from = zpost_msg_get (original, ZPOST_F_FROM);
    const char *to = zpost_msg_get (original, ZPOST_F_TO);
    from = from? from: "";
    to = to? to: "";
    char *list = NULL;
    size_t count = 0;
    bool mine = streq (from, me);
    if (!mine)
        s_add_name (&list, &count, from, strlen (from));
    if (mine || all) {
        const char *start = to;
        while (*start) {
            size_t size = strcspn (start, ",");
            if (!(size == strlen (me) && strncmp (start, me, size) == 0))
                s_add_name (&list, &count, start, size);
            start += size;
            if (*start == ',')
                start++;
        }
    }
    //  One's own message to oneself alone: the reply goes to oneself
    if (!list)
        s_add_name (&list, &count, me, strlen (me));
    return list;
}

//  text with "> " before each line ("> " alone for an empty line: ">")
static void
s_quote_lines (zchunk_t *out, const char *text)
{
    const char *line = text;
    while (*line) {
        size_t size = strcspn (line, "\n");
        zchunk_extend (out, size? "> ": ">", size? 2: 1);
        zchunk_extend (out, line, size);
        zchunk_extend (out, "\n", 1);
        line += size;
        if (*line == '\n')
            line++;
    }
}

static zchunk_t *
s_chunk (void)
{
    zchunk_t *chunk = zchunk_new (NULL, 1024);
    assert (chunk);
    return chunk;
}

//  The chunk's bytes as a string; destroys the chunk
static char *
s_string (zchunk_t **chunk_p)
{
    zchunk_extend (*chunk_p, "", 1);
    char *text = strdup ((char *) zchunk_data (*chunk_p));
    assert (text);
    zchunk_destroy (chunk_p);
    return text;
}

static void
s_append (zchunk_t *chunk, const char *text)
{
    zchunk_extend (chunk, text, strlen (text));
}

char *
client_compose_quote (zpost_msg_t *original)
{
    zchunk_t *out = s_chunk ();
    char date [CLIENT_OUTPUT_DATE_SIZE];
    const char *date_text = zpost_msg_get (original, ZPOST_F_DATE);
    client_output_date (date_text? strtoull (date_text, NULL, 10): 0, false, date);
    char *said = zsys_sprintf ("On %s, %s wrote:\n", date,
                               zpost_msg_get (original, ZPOST_F_FROM));
    s_append (out, said);
    free (said);
    const char *body = zpost_msg_get (original, ZPOST_F_BODY);
    s_quote_lines (out, body? body: "");
    return s_string (&out);
}

char *
client_compose_forwarded (zpost_msg_t *original, const char *note)
{
    zchunk_t *out = s_chunk ();
    if (note && *note) {
        s_append (out, note);
        if (note [strlen (note) - 1] != '\n')
            s_append (out, "\n");
        s_append (out, "\n");
    }
    char date [CLIENT_OUTPUT_DATE_SIZE];
    const char *date_text = zpost_msg_get (original, ZPOST_F_DATE);
    client_output_date (date_text? strtoull (date_text, NULL, 10): 0, false, date);
    const char *subject = zpost_msg_get (original, ZPOST_F_SUBJECT);
    char *head = zsys_sprintf ("---------- Forwarded message ----------\n"
                               "From: %s\nDate: %s\nSubject: %s\nTo: %s\n\n",
                               zpost_msg_get (original, ZPOST_F_FROM), date,
                               subject && *subject? subject: "(no subject)",
                               zpost_msg_get (original, ZPOST_F_TO));
    s_append (out, head);
    free (head);
    const char *body = zpost_msg_get (original, ZPOST_F_BODY);
    s_quote_lines (out, body? body: "");
    return s_string (&out);
}

zpost_msg_t *
client_compose_deliver (client_app_t *app, client_draft_t *draft, int *status_p)
{
    assert (app && draft);
    uint64_t in_reply_to = client_draft_in_reply_to (draft);
    zpost_msg_t *reply = in_reply_to
        ? client_api_answer (app, in_reply_to, client_draft_to (draft),
                             client_draft_subject (draft), client_draft_body (draft),
                             status_p)
        : client_api_send (app, client_draft_to (draft), client_draft_subject (draft),
                           client_draft_body (draft), status_p);
    if (reply && zpost_msg_status (reply) == ZPOST_OK)
        client_draft_remove (draft);
    else
    if (client_draft_number (draft) == 0)
        client_draft_save (draft);
    return reply;
}


//  --------------------------------------------------------------------------
//  Selftest

#undef NDEBUG
#include <assert.h>

void
client_compose_test (bool verbose)
{
    printf (" * client_compose: ");
    if (verbose)
        printf ("\n");

    //  @selftest
    char *subject = client_compose_reply_subject ("Lunch?");
    assert (streq (subject, "Re: Lunch?"));
    char *again = client_compose_reply_subject (subject);
    assert (streq (again, "Re: Lunch?"));
    free (again);
    free (subject);
    subject = client_compose_reply_subject ("RE: shouting");
    assert (streq (subject, "RE: shouting"));
    free (subject);
    subject = client_compose_forward_subject ("");
    assert (streq (subject, "Fwd: "));
    free (subject);
    //  Cut at a character boundary: 127 two-byte characters and "Re: "
    char long_subject [ZPOST_SUBJECT_MAX + 1] = "";
    for (int index = 0; index < 127; index++)
        strcat (long_subject, "\xc3\xa9");
    subject = client_compose_reply_subject (long_subject);
    assert (strlen (subject) <= ZPOST_SUBJECT_MAX);
    assert (zpost_msg_valid_utf8 (subject, strlen (subject)));
    free (subject);

    zpost_msg_t *request = zpost_msg_new_request (ZPOST_CMD_READ, "r1", NULL);
    assert (request);
    zpost_msg_t *original = zpost_msg_new_reply (request, ZPOST_OK, NULL);
    assert (original);
    zpost_msg_destroy (&request);
    zpost_msg_set (original, ZPOST_F_MESSAGE_ID, "5");
    zpost_msg_set (original, ZPOST_F_FROM, "alice");
    zpost_msg_set (original, ZPOST_F_TO, "bob,carol,alice");
    zpost_msg_set (original, ZPOST_F_SUBJECT, "Lunch?");
    zpost_msg_set (original, ZPOST_F_DATE, "0");
    zpost_msg_set (original, ZPOST_F_BODY, "Noon?\n\nOr one?");
    char *to = client_compose_reply_recipients (original, "bob", false);
    assert (streq (to, "alice"));
    free (to);
    to = client_compose_reply_recipients (original, "bob", true);
    assert (streq (to, "alice,carol"));
    free (to);
    //  One's own message: to its recipients
    to = client_compose_reply_recipients (original, "alice", false);
    assert (streq (to, "bob,carol"));
    free (to);
    char *quote = client_compose_quote (original);
    assert (strstr (quote, " alice wrote:\n> Noon?\n>\n> Or one?\n"));
    free (quote);
    char *forwarded = client_compose_forwarded (original, "See below");
    assert (strncmp (forwarded, "See below\n\n---------- Forwarded message", 39) == 0);
    assert (strstr (forwarded, "From: alice\n"));
    assert (strstr (forwarded, "Subject: Lunch?\nTo: bob,carol,alice\n\n> Noon?\n"));
    free (forwarded);
    zpost_msg_destroy (&original);
    //  @end

    printf ("OK\n");
}
