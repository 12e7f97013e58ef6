/*  =========================================================================
    client_show - how a message and the statistics look on a terminal

    Plain text for a person; --json has its own shape (client_cmd_mail).

    A message is first written into memory, so that its height is known
    before anything reaches the terminal: a message taller than the
    terminal (counting the rows its long lines wrap into) goes through the
    pager, as git and man do. Its lines are kept as written: the terminal
    or the pager wraps them, and what a person copies is what was sent. The pager gets
    the same safe text the terminal would have got, never raw bytes. If it
    cannot be started (not installed, a typo in $PAGER), the message is
    printed as it is, with a sentence saying why: a message is never lost
    to a broken pager.
    =========================================================================
*/

#include "client_show.h"
#include "client_api.h"
#include "client_output.h"

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

//  The pager the configuration names, or NULL (client_show_set_pager)
static char *s_config_pager = NULL;

void
client_show_set_pager (const char *command)
{
    zstr_free (&s_config_pager);
    if (command)
        s_config_pager = strdup (command);
}

const char *
client_show_pager (void)
{
    const char *variable = getenv ("PAGER");
    if (variable)
        return variable;            //  set but empty: no pager
    return s_config_pager? s_config_pager: CLIENT_SHOW_PAGER;
}

//  Rows text takes on a terminal columns wide: a line longer than that
//  takes as many rows as the terminal wraps it into
static size_t
s_rows (const char *text, size_t columns)
{
    size_t rows = 0;
    const char *line = text;
    while (*line) {
        size_t size = strcspn (line, "\n");
        //  A tab takes up to 8 columns; counting it as 8 errs on the tall side
        size_t width = client_output_width_n (line, size);
        for (size_t index = 0; index < size; index++)
            width += line [index] == '\t'? 8: 0;
        rows += width == 0? 1: (width + columns - 1) / columns;
        line += size;
        if (*line == '\n')
            line++;
    }
    return rows;
}

//  Write text to the pager command; 0 if the pager ran and took it, -1 if
//  it could not be started (then nothing may have been shown)
static int
s_run_pager (const char *command, const char *text)
{
    fflush (stdout);
    //  less as git runs it, unless the person chose: quit when the text
    //  fits after all, keep the screen when it ends
    setenv ("LESS", "FRX", 0);
    setenv ("LV", "-c", 0);
    //  A pager that quits before reading it all must not kill us
    struct sigaction ignore, saved;
    memset (&ignore, 0, sizeof (ignore));
    ignore.sa_handler = SIG_IGN;
    sigemptyset (&ignore.sa_mask);
    sigaction (SIGPIPE, &ignore, &saved);
    int rc = -1;
    FILE *pager = popen (command, "w");
    if (pager) {
        size_t size = strlen (text);
        size_t done = fwrite (text, 1, size, pager);
        int status = pclose (pager);
        //  127: the shell found no such command; what was written went
        //  nowhere
        bool started = status != -1
                    && !(WIFEXITED (status) && WEXITSTATUS (status) == 127);
        rc = started || done < size? (started? 0: -1): -1;
    }
    sigaction (SIGPIPE, &saved, NULL);
    return rc;
}

void
client_show_page (const char *text)
{
    assert (text);
    const char *pager = client_show_pager ();
    if (isatty (STDOUT_FILENO) && *pager && !streq (pager, "cat")
    &&  s_rows (text, client_output_columns ()) >= client_output_rows ()) {
        if (s_run_pager (pager, text) == 0)
            return;
        char *safe = client_output_safe_str (pager, CLIENT_OUTPUT_LINE);
        fprintf (stderr, "(the pager '%s' could not be started; set PAGER, or pager "
                 "in the config file, to one that can, or to \"\" for none)\n", safe);
        free (safe);
    }
    fputs (text, stdout);
    fflush (stdout);
}

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
    char *text = NULL;
    size_t text_size = 0;
    FILE *stream = open_memstream (&text, &text_size);
    assert (stream);
    const char *body = zpost_msg_get (reply, ZPOST_F_BODY);
    char date [CLIENT_OUTPUT_DATE_SIZE];
    client_output_date (zpost_msg_get_number (reply, ZPOST_F_DATE), true, date);
    const char *to_list = zpost_msg_get (reply, ZPOST_F_TO);
    char *to = client_api_spaced (to_list? to_list: "");
    fprintf (stream, "From: ");
    client_output_print (stream, zpost_msg_get (reply, ZPOST_F_FROM), CLIENT_OUTPUT_LINE);
    fprintf (stream, "\nTo: ");
    client_output_print (stream, to, CLIENT_OUTPUT_LINE);
    fprintf (stream, "\nDate: %s\nSubject: ", date);
    client_output_print (stream, client_show_subject (zpost_msg_get (reply, ZPOST_F_SUBJECT)),
                         CLIENT_OUTPUT_LINE);
    fprintf (stream, "\n\n");
    client_output_print (stream, body, CLIENT_OUTPUT_TEXT);
    if (body && *body && body [strlen (body) - 1] != '\n')
        fprintf (stream, "\n");
    free (to);
    fclose (stream);
    //  The text as written: a break put into a line would change what a
    //  person copies from it, and the terminal or the pager wraps it
    client_show_page (text);
    free (text);
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
