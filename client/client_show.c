/*  =========================================================================
    client_show - how a message and the statistics look on a terminal

    Plain text for a person; --json has its own shape (client_cmd_mail).
    =========================================================================
*/

#include "client_show.h"
#include "client_api.h"
#include "client_output.h"

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
