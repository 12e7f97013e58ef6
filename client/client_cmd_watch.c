/*  =========================================================================
    client_cmd_watch - zpost watch: new mail, as it arrives

    One WATCH after another (ZPOST.md, WATCH): each says what this client
    has seen of the inbox (the newest id, the unread count) and waits up
    to 60 s at the store. A reply with a newer id than ours is new mail:
    its rows come with LIST, newest first, paged until they reach what we
    had seen, and are printed oldest first, one line each (as zpost list
    prints a row), or one JSON object a line with --json. The first WATCH
    waits 0 s: it says where the inbox stands, so only mail that arrives
    after the start is printed.

    The session's try timeout is the wait plus the usual one (--timeout,
    global), set once: a wait that ends as it should is never a lost
    reply, and the session's retries (Lazy Pirate, the next broker) send
    the same WATCH again, which, carrying what we had seen, misses nothing.
    =========================================================================
*/

#include "client_commands.h"
#include "client_output.h"
#include "client_show.h"

#define S_WAIT_MAX          ZPOST_WATCH_TIMEOUT_MAX     //  seconds one WATCH waits
#define S_PAGE              100                         //  rows per LIST of new mail
#define S_NEW_MAX           10000                       //  new messages shown per wake

typedef struct {
    uint64_t since;             //  the newest inbox id seen
    uint64_t unread;            //  the unread count last heard
} s_inbox_t;

//  --timeout and --count, checked; 0 where not given (no end)
static int
s_watch_options (client_call_t *call, int *seconds_p, int *count_p)
{
    const char *seconds = client_call_value (call, "timeout");
    const char *count = client_call_value (call, "count");
    *seconds_p = 0;
    *count_p = 0;
    if (seconds && client_check_int (seconds, 1, 86400, seconds_p))
        return client_call_misuse (call, "--timeout wants a number of seconds from 1 "
                                   "to 86400, not '%.64s'", seconds);
    if (count && client_check_int (count, 1, 1000000, count_p))
        return client_call_misuse (call, "--count wants a number from 1 to 1000000, "
                                   "not '%.64s'", count);
    return CLIENT_EXIT_DONE;
}

static int
s_check_watch (client_call_t *call)
{
    int seconds, count;
    return s_watch_options (call, &seconds, &count);
}

//  One WATCH; the reply (any status), or NULL with *status_p set
static zpost_msg_t *
s_watch_once (client_app_t *app, const s_inbox_t *inbox, int wait, int *status_p)
{
    zpost_msg_t *request = client_session_new_request (app->session, ZPOST_CMD_WATCH);
    zpost_msg_set_number (request, ZPOST_F_SINCE, inbox->since);
    zpost_msg_set_number (request, ZPOST_F_UNREAD, inbox->unread);
    zpost_msg_set_number (request, ZPOST_F_TIMEOUT, (uint64_t) wait);
    zpost_msg_t *reply = client_api_call (app, request, false, status_p);
    zpost_msg_destroy (&request);
    return reply;
}

static uint64_t
s_number (const char *text)
{
    return text? (uint64_t) strtoull (text, NULL, 10): 0;
}

//  Print the inbox's messages newer than since, oldest first; at most
//  max of them. *newest_p: the newest id printed. Returns the exit status.
static int
s_print_new (client_call_t *call, uint64_t since, int max, uint64_t *newest_p, int *printed_p)
{
    client_app_t *app = call->app;
    zlistx_t *pages = zlistx_new ();        //  LIST replies, newest first
    assert (pages);
    zlistx_set_destructor (pages, (zlistx_destructor_fn *) zpost_msg_destroy);
    int status = CLIENT_EXIT_DONE;
    uint64_t before = 0;
    size_t held = 0;
    while (held < S_NEW_MAX) {
        zpost_msg_t *reply = client_api_list (app, false, false, S_PAGE, before, &status);
        if (!reply)
            break;
        if (zpost_msg_status (reply) != ZPOST_OK) {
            status = client_api_refusal (app, reply, call->state, 0, NULL);
            zpost_msg_destroy (&reply);
            break;
        }
        size_t rows = zpost_msg_rows (reply);
        uint64_t smallest = rows? s_number (zpost_msg_row_get (reply, rows - 1,
                                                               ZPOST_F_MESSAGE_ID)): 0;
        held += rows;
        zlistx_add_end (pages, reply);
        if (rows < S_PAGE || smallest <= since + 1 || (before && smallest >= before))
            break;
        before = smallest;
    }
    //  Oldest first: the last page's last row first
    for (zpost_msg_t *page = (zpost_msg_t *) zlistx_last (pages);
         page && status == CLIENT_EXIT_DONE && *printed_p < max;
         page = (zpost_msg_t *) zlistx_prev (pages)) {
        for (size_t row = zpost_msg_rows (page); row-- > 0 && *printed_p < max;) {
            const char *id = zpost_msg_row_get (page, row, ZPOST_F_MESSAGE_ID);
            uint64_t number = s_number (id);
            if (number <= since)
                continue;
            if (number > *newest_p)
                *newest_p = number;
            bool unseen = streq (zpost_msg_row_get (page, row, ZPOST_F_SEEN), "0");
            if (app->json) {
                json_t *entry = json_pack ("{s:o, s:o, s:o, s:o, s:o, s:o, s:b}",
                    "id", client_json_number (id),
                    "from", client_json_text (zpost_msg_row_get (page, row, ZPOST_F_FROM)),
                    "to", client_json_names (zpost_msg_row_get (page, row, ZPOST_F_TO)),
                    "subject", client_json_text (zpost_msg_row_get (page, row, ZPOST_F_SUBJECT)),
                    "date", client_json_number (zpost_msg_row_get (page, row, ZPOST_F_DATE)),
                    "size", client_json_number (zpost_msg_row_get (page, row, ZPOST_F_SIZE)),
                    "seen", !unseen);
                assert (entry);
                //  One line each, so a reader can act on each as it comes
                json_dumpf (entry, stdout, JSON_COMPACT | JSON_ENSURE_ASCII);
                printf ("\n");
                json_decref (entry);
            }
            else {
                char *line = client_output_list_row (
                    (int) strlen (id), unseen, id,
                    s_number (zpost_msg_row_get (page, row, ZPOST_F_DATE)),
                    zpost_msg_row_get (page, row, ZPOST_F_FROM),
                    client_show_subject (zpost_msg_row_get (page, row, ZPOST_F_SUBJECT)),
                    s_number (zpost_msg_row_get (page, row, ZPOST_F_SIZE)));
                printf ("%s\n", line);
                free (line);
            }
            (*printed_p)++;
        }
    }
    fflush (stdout);
    zlistx_destroy (&pages);
    return status;
}

static int
s_watch (client_call_t *call)
{
    client_app_t *app = call->app;
    int seconds, count;
    int status = s_watch_options (call, &seconds, &count);
    assert (status == CLIENT_EXIT_DONE);        //  checked
    int64_t end = seconds? zclock_mono () + (int64_t) seconds * 1000: 0;
    int max = count? count: INT32_MAX;

    //  Every try waits as long as a WATCH may, and then as long as usual
    int timeout = S_WAIT_MAX * 1000 + app->timeout;
    if (client_session_timeout (app->session) < timeout)
        client_session_set_timeout (app->session, timeout);

    s_inbox_t inbox = { 0, 0 };
    int printed = 0;
    bool first = true;
    while (printed < max) {
        int wait = S_WAIT_MAX;
        if (first)
            wait = 0;
        else
        if (end) {
            int64_t left = end - zclock_mono ();
            if (left <= 0)
                break;
            wait = left >= S_WAIT_MAX * 1000? S_WAIT_MAX: (int) ((left + 999) / 1000);
        }
        zpost_msg_t *reply = s_watch_once (app, &inbox, wait, &status);
        if (!reply)
            break;
        if (zpost_msg_status (reply) != ZPOST_OK) {
            status = client_api_refusal (app, reply, call->state, 0, NULL);
            zpost_msg_destroy (&reply);
            break;
        }
        uint64_t newest = s_number (zpost_msg_get (reply, ZPOST_F_MESSAGE_ID));
        inbox.unread = s_number (zpost_msg_get (reply, ZPOST_F_UNREAD));
        zpost_msg_destroy (&reply);
        if (first) {
            //  Where the inbox stands: what is there already is not new
            inbox.since = newest;
            first = false;
            //  On stderr, with --json too: a script knows it may begin
            fprintf (stderr, "zpost: watching the inbox of %s for new mail "
                         "(Ctrl-C to stop)\n", client_state_username (call->state));
            continue;
        }
        if (newest > inbox.since) {
            uint64_t shown = inbox.since;
            status = s_print_new (call, inbox.since, max, &shown, &printed);
            if (status != CLIENT_EXIT_DONE)
                break;
            //  The newest we know of, printed or not (past --count)
            inbox.since = shown > newest? shown: newest;
        }
    }
    return status;
}

const client_command_t client_cmd_watch = {
    "watch", "[--timeout S] [--count N]",
    "Print new mail as it arrives, one line a message.",
    "\n"
    "Waits for new mail in your inbox and prints a line for each message\n"
    "as it arrives (within a fraction of a second), as zpost list prints\n"
    "it: * if unread, id, date, sender, subject and size. Mail that was\n"
    "there before it started is not shown. It goes on until Ctrl-C, or\n"
    "--count messages, or --timeout seconds; a lost connection is retried\n"
    "as every command's requests are, through the next server of the\n"
    "list, without missing mail that came meanwhile.\n"
    "\n"
    "Options:\n"
    "      --timeout S       stop after S seconds (1 to 86400; default: never)\n"
    "  -n, --count N         stop after N new messages\n"
    CLIENT_COMMAND_JSON_HELP
    "\n"
    "JSON: one object a line, as it arrives: {\"id\": 42, \"from\": \"alice\",\n"
    "      \"to\": [\"bob\"], \"subject\": \"...\", \"date\": UNIXTIME, \"size\": 120,\n"
    "      \"seen\": false}\n",
    CLIENT_COMMAND_LOGIN | CLIENT_COMMAND_JSON,
    { { "timeout", 0, true, false }, { "count", 'n', true, false } },
    0, 0, NULL, NULL, s_check_watch, s_watch
};
