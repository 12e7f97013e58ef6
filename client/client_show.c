/*  =========================================================================
    client_show - how a message and the statistics look on a terminal

    Plain text for a person; --json has its own shape (client_cmd_mail).
    =========================================================================
*/

#include "client_show.h"
#include "client_api.h"
#include "client_output.h"

#include <inttypes.h>

//  An empty subject in a list or a header reads as a gap, or as a field
//  that failed to load: it is named instead
const char *
client_show_subject (const char *subject)
{
    return subject && *subject? subject: CLIENT_SHOW_NO_SUBJECT;
}

void
client_show_message (zpost_msg_t *reply)
{
    assert (reply);
    const char *body = zpost_msg_get (reply, ZPOST_F_BODY);
    char date [CLIENT_OUTPUT_DATE_SIZE];
    client_output_date (zpost_msg_get_number (reply, ZPOST_F_DATE), true, date);
    const char *to_list = zpost_msg_get (reply, ZPOST_F_TO);
    char *to = client_api_spaced (to_list? to_list: "");
    printf ("From: ");
    client_output_print (stdout, zpost_msg_get (reply, ZPOST_F_FROM), CLIENT_OUTPUT_LINE);
    printf ("\nTo: ");
    client_output_print (stdout, to, CLIENT_OUTPUT_LINE);
    printf ("\nDate: %s\nSubject: ", date);
    client_output_print (stdout, client_show_subject (zpost_msg_get (reply, ZPOST_F_SUBJECT)),
                         CLIENT_OUTPUT_LINE);
    printf ("\n\n");
    client_output_print (stdout, body, CLIENT_OUTPUT_TEXT);
    if (body && *body && body [strlen (body) - 1] != '\n')
        printf ("\n");
    free (to);
}

void
client_show_stats (zpost_msg_t *reply)
{
    assert (reply);
    size_t rows = zpost_msg_rows (reply);
    int width = 0;
    for (size_t row = 0; row < rows; row++) {
        int size = (int) strlen (zpost_msg_row_get (reply, row, ZPOST_F_STAT_NAME));
        width = size > width? size: width;
    }
    for (size_t row = 0; row < rows; row++) {
        char *name = client_output_safe_str (
            zpost_msg_row_get (reply, row, ZPOST_F_STAT_NAME), CLIENT_OUTPUT_LINE);
        char *value = client_output_safe_str (
            zpost_msg_row_get (reply, row, ZPOST_F_STAT_VALUE), CLIENT_OUTPUT_LINE);
        printf ("%-*s  %s\n", width, name, value);
        free (name);
        free (value);
    }
}

int64_t
client_show_stat (zpost_msg_t *reply, const char *name)
{
    for (size_t row = 0; row < zpost_msg_rows (reply); row++)
        if (streq (zpost_msg_row_get (reply, row, ZPOST_F_STAT_NAME), name))
            return (int64_t) strtoull (zpost_msg_row_get (reply, row, ZPOST_F_STAT_VALUE),
                                       NULL, 10);
    return -1;
}

static const char *
s_plural (int64_t count)
{
    return count == 1? "": "s";
}

void
client_show_stats_words (zpost_msg_t *reply)
{
    assert (reply);
    int64_t count = client_show_stat (reply, "inbox-count");
    int64_t unread = client_show_stat (reply, "inbox-unread");
    int64_t bytes = client_show_stat (reply, "inbox-bytes");
    char size [8];
    if (count >= 0) {
        client_output_size ((uint64_t) (bytes > 0? bytes: 0), size);
        printf ("Inbox: %" PRId64 " message%s, %" PRId64 " unread, %s%s\n", count,
                s_plural (count), unread > 0? unread: 0, size,
                bytes >= 0 && bytes < 1024? " bytes": "");
    }
    int64_t sent = client_show_stat (reply, "sent-count");
    int64_t sent_bytes = client_show_stat (reply, "sent-bytes");
    if (sent >= 0) {
        client_output_size ((uint64_t) (sent_bytes > 0? sent_bytes: 0), size);
        printf ("Sent folder: %" PRId64 " message%s, %s%s\n", sent, s_plural (sent), size,
                sent_bytes >= 0 && sent_bytes < 1024? " bytes": "");
    }
    int64_t used = client_show_stat (reply, "quota-used");
    int64_t limit = client_show_stat (reply, "quota-limit");
    if (used >= 0 && limit > 0) {
        char limit_text [8];
        client_output_size ((uint64_t) used, size);
        client_output_size ((uint64_t) limit, limit_text);
        printf ("Quota: %s of %s used (%d%%); mail that would pass it is refused\n",
                size, limit_text, (int) (used * 100 / limit));
    }
    //  Figures of a later server: as they come
    const char *known [] = { "inbox-count", "inbox-unread", "inbox-bytes", "sent-count",
                             "sent-bytes", "quota-used", "quota-limit", NULL };
    for (size_t row = 0; row < zpost_msg_rows (reply); row++) {
        const char *name = zpost_msg_row_get (reply, row, ZPOST_F_STAT_NAME);
        bool is_known = false;
        for (size_t index = 0; known [index]; index++)
            is_known |= streq (known [index], name);
        if (is_known)
            continue;
        char *safe_name = client_output_safe_str (name, CLIENT_OUTPUT_LINE);
        char *value = client_output_safe_str (
            zpost_msg_row_get (reply, row, ZPOST_F_STAT_VALUE), CLIENT_OUTPUT_LINE);
        printf ("%s  %s\n", safe_name, value);
        free (safe_name);
        free (value);
    }
}
