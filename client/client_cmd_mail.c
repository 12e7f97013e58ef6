/*  =========================================================================
    client_cmd_mail - the one-shot commands about mail

        send        send a message
        list        list the inbox or the sent folder, newest first
        read        print a message, and mark it read
        delete      delete a message
        stats       how many messages, how big

    Each is a row of the command table (client_commands) and its handler.
    Every one needs a login: the prologue has found it, and set its token
    on the session, before a handler runs; a check refuses what was typed
    wrong before that, so that a mistake costs no round trip.
    =========================================================================
*/

#include "client_commands.h"
#include "client_compose.h"
#include "client_input.h"
#include "client_output.h"
#include "client_show.h"

#include <unistd.h>

#define S_LIST_LIMIT        50          //  rows per LIST by default


//  --------------------------------------------------------------------------
//  send

//  The recipients of --to (its values joined by commas), folded; NULL
//  with the fault in *fault_p (the caller frees it)
static char *
s_recipients (client_call_t *call, size_t *count_p, char **fault_p)
{
    char *recipients = NULL;
    *count_p = 0;
    *fault_p = NULL;
    const char *typed = client_call_value (call, "to");
    if (typed)
        *fault_p = client_check_recipients (&recipients, typed, count_p);
    if (*fault_p)
        zstr_free (&recipients);
    return recipients;
}

//  A draft number as typed (1..999999); 0 if it is not one
static unsigned
s_draft_number (const char *text)
{
    uint64_t number;
    if (!text || client_check_id (text, &number) || number > 999999)
        return 0;
    return (unsigned) number;
}

static int
s_check_send (client_call_t *call)
{
    size_t count;
    char *fault;
    char *recipients = s_recipients (call, &count, &fault);
    const char *subject = client_call_value (call, "subject");
    const char *draft = client_call_value (call, "draft");
    int status = CLIENT_EXIT_DONE;
    if (fault)
        status = client_call_misuse (call, "%s", fault);
    else
    if (draft && !s_draft_number (draft))
        status = client_call_misuse (call, "--draft wants a draft's number (zpost drafts "
                                     "lists them), not '%.64s'", draft);
    else
    if (draft && client_call_flag (call, "message"))
        status = client_call_misuse (call, "takes the body from the draft; give -m "
                                     "without --draft, or change the draft with zpost "
                                     "drafts edit N");
    else
    if (!recipients && !draft)
        status = client_call_misuse (call, "needs --to NAMES");
    else
    if (count > ZPOST_RECIPIENTS_MAX)
        status = client_call_misuse (call, "has %zu recipients; at most %d may be given",
                                     count, ZPOST_RECIPIENTS_MAX);
    else
    if (!subject && !draft)
        status = client_call_misuse (call, "needs --subject TEXT (--subject '' for none)");
    else
    if (subject && client_check_subject (subject))
        status = client_call_misuse (call, "%s", client_check_subject (subject));
    free (fault);
    free (recipients);
    return status;
}

//  The sentence that tells a person their words are safe and how to send
//  them again
static void
s_say_kept (client_app_t *app, client_draft_t *draft)
{
    if (client_draft_number (draft) == 0) {
        char *sentence = zsys_sprintf ("the message could not be kept as a draft "
                                       "either: %s", client_draft_error (draft));
        client_api_say (app, sentence);
        free (sentence);
        return;
    }
    char *sentence = zsys_sprintf ("your message is kept as draft %u (%s): zpost send "
                                   "--draft %u sends it again, once logged in if need "
                                   "be; add --to NAMES to change the recipients, or run "
                                   "zpost drafts edit %u to change the body",
                                   client_draft_number (draft),
                                   client_draft_body_path (draft),
                                   client_draft_number (draft),
                                   client_draft_number (draft));
    client_api_say (app, sentence);
    free (sentence);
}

//  Send the draft and say what came of it: the draft goes on 200 only.
//  Returns the exit status.
static int
s_deliver (client_call_t *call, client_draft_t *draft, bool keep)
{
    client_app_t *app = call->app;
    int status = CLIENT_EXIT_DONE;
    //  A draft that is not to be kept (the body came from -m or a pipe,
    //  and is the caller's) is sent as it is
    zpost_msg_t *reply = NULL;
    if (keep)
        reply = client_compose_deliver (app, draft, &status);
    else {
        uint64_t in_reply_to = client_draft_in_reply_to (draft);
        reply = in_reply_to
            ? client_api_answer (app, in_reply_to, client_draft_to (draft),
                                 client_draft_subject (draft), client_draft_body (draft),
                                 &status)
            : client_api_send (app, client_draft_to (draft), client_draft_subject (draft),
                               client_draft_body (draft), &status);
    }
    if (reply && zpost_msg_status (reply) != ZPOST_OK) {
        char *sentence = zsys_sprintf ("there is no message %" PRIu64 " in your folders "
                                       "to answer; nothing was sent",
                                       client_draft_in_reply_to (draft));
        status = client_api_refusal (app, reply, call->state, ZPOST_NO_SUCH_MESSAGE,
                                     sentence);
        free (sentence);
    }
    else
    if (reply) {
        const char *id = zpost_msg_get (reply, ZPOST_F_MESSAGE_ID);
        const char *recipients = client_draft_to (draft);
        const char *subject = client_draft_subject (draft);
        uint64_t in_reply_to = client_draft_in_reply_to (draft);
        if (app->json) {
            json_t *object = json_pack ("{s:o, s:o}", "id", client_json_number (id),
                                        "to", client_json_names (recipients));
            if (in_reply_to) {
                json_object_set_new (object, "in_reply_to", client_json_id (in_reply_to));
                json_object_set_new (object, "thread", client_json_number (
                    zpost_msg_get (reply, ZPOST_F_THREAD_ID)));
            }
            client_json_emit (object);
            json_decref (object);
        }
        else {
            char *spaced = client_api_spaced (recipients);
            printf ("sent message %s from %s to %s%s", id,
                    client_state_username (call->state), spaced,
                    *subject? "": ", with no subject");
            if (in_reply_to)
                printf (", in reply to message %" PRIu64, in_reply_to);
            printf ("\n");
            free (spaced);
        }
        status = CLIENT_EXIT_DONE;
    }
    if (keep && !(reply && zpost_msg_status (reply) == ZPOST_OK))
        s_say_kept (app, draft);
    zpost_msg_destroy (&reply);
    return status;
}

//  The body: -m, else standard input when it is not a terminal, else the
//  editor on a draft that holds start (a quote, or nothing). The draft
//  gets the body; *keep_p says whether the person wrote it here (the
//  editor), so that it must be kept until sent. Returns the exit status.
static int
s_compose (client_call_t *call, client_draft_t *draft, const char *start,
           bool *keep_p)
{
    client_app_t *app = call->app;
    const char *message = client_call_value (call, "message");
    *keep_p = false;
    char *body = NULL;
    size_t size = 0;
    client_input_t result = CLIENT_INPUT_OK;
    char error [512] = "";
    if (message) {
        body = start? zsys_sprintf ("%s\n%s", start, message): strdup (message);
        assert (body);
        size = strlen (body);
    }
    else
    if (!isatty (STDIN_FILENO)) {
        result = client_input_all (STDIN_FILENO, ZPOST_BODY_MAX, &body, &size);
        if (result == CLIENT_INPUT_OK && start) {
            char *joined = zsys_sprintf ("%s\n%s", start, body);
            free (body);
            body = joined;
            size = strlen (body);
        }
    }
    else {
        //  The person writes into the draft itself: whatever the editor
        //  saved is on disk before anything is sent
        client_draft_set_body (draft, start? start: "", start? strlen (start): 0);
        if (client_draft_save (draft))
            return client_api_fail (app, CLIENT_EXIT_LOCAL, 0, "LOCAL_ERROR", "%s; "
                                    "nothing was sent", client_draft_error (draft));
        *keep_p = true;
        result = client_input_edit_file (client_draft_body_path (draft), error,
                                         sizeof (error));
        int rc = client_draft_reload_body (draft, ZPOST_BODY_MAX);
        bool written = rc == 0 && client_draft_body_size (draft) > 0
                    && !(start && streq (client_draft_body (draft), start));
        if (result != CLIENT_INPUT_OK || rc != 0) {
            if (!written)
                client_draft_remove (draft);
            int status = client_api_fail (app, rc == 1? CLIENT_EXIT_USAGE: CLIENT_EXIT_LOCAL,
                0, "LOCAL_ERROR", "%s; nothing was sent",
                rc == 1? "the body is larger than 16 MiB"
                : *error? error: client_draft_error (draft));
            if (written)
                s_say_kept (app, draft);
            return status;
        }
        if (!written) {
            client_draft_remove (draft);
            return client_api_fail (app, CLIENT_EXIT_USAGE, 0, "LOCAL_ERROR", "the "
                                    "message is empty%s, so it was not sent; -m '' sends "
                                    "an empty body", start? " (or only the quote)": "");
        }
        const char *fault = client_check_body (client_draft_body (draft),
                                               client_draft_body_size (draft));
        if (fault) {
            int status = client_api_fail (app, CLIENT_EXIT_USAGE, 0, "LOCAL_ERROR", "%s",
                                          fault);
            s_say_kept (app, draft);
            return status;
        }
        return CLIENT_EXIT_DONE;
    }

    int status = CLIENT_EXIT_DONE;
    if (result == CLIENT_INPUT_INTERRUPTED)
        status = client_api_interrupted (app);
    else
    if (result == CLIENT_INPUT_TOO_LONG)
        status = client_api_fail (app, CLIENT_EXIT_USAGE, 0, "LOCAL_ERROR", "the body "
                                  "is larger than %d MiB; nothing was sent",
                                  ZPOST_BODY_MAX >> 20);
    else
    if (result != CLIENT_INPUT_OK)
        status = client_api_fail (app, CLIENT_EXIT_LOCAL, 0, "LOCAL_ERROR",
                                  "cannot read the body from standard input; nothing "
                                  "was sent");
    else
    if (client_check_body (body, size))
        status = client_api_fail (app, CLIENT_EXIT_USAGE, 0, "LOCAL_ERROR", "%s",
                                  client_check_body (body, size));
    else
        client_draft_set_body (draft, body, size);
    free (body);
    return status;
}

//  A draft for the login of this call, on this server
static client_draft_t *
s_new_draft (client_call_t *call, const char *recipients, const char *subject,
             uint64_t in_reply_to)
{
    client_app_t *app = call->app;
    client_draft_t *draft = client_draft_new (client_config_state_dir (app->config));
    client_draft_set (draft, client_state_username (call->state),
                      client_config_endpoint (app->config), recipients, subject,
                      in_reply_to);
    return draft;
}

//  zpost send --draft N [--to NAMES] [--subject TEXT]
static int
s_send_draft (client_call_t *call, unsigned number, const char *recipients,
              const char *subject)
{
    client_app_t *app = call->app;
    const char *me = client_state_username (call->state);
    client_draft_t *draft = client_draft_load (client_config_state_dir (app->config),
                                               number);
    if (!draft)
        return client_api_fail (app, CLIENT_EXIT_REFUSED, 0, "NO_SUCH_DRAFT",
                                "there is no draft %u; zpost drafts lists them", number);
    int status = CLIENT_EXIT_DONE;
    if (*client_draft_user (draft) && !streq (client_draft_user (draft), me))
        status = client_api_fail (app, CLIENT_EXIT_REFUSED, 0, "LOCAL_ERROR",
                                  "draft %u was written by %s, and you are logged in as "
                                  "%s; log in as %s to send it", number,
                                  client_draft_user (draft), me, client_draft_user (draft));
    else {
        if (recipients)
            client_draft_set_to (draft, recipients);
        if (subject)
            client_draft_set_subject (draft, subject);
        if (recipients || subject)
            client_draft_save (draft);
        if (!*client_draft_to (draft))
            status = client_api_fail (app, CLIENT_EXIT_USAGE, 0, "LOCAL_ERROR",
                                      "draft %u has no recipients; give them with --to",
                                      number);
        else
            status = s_deliver (call, draft, true);
    }
    client_draft_destroy (&draft);
    return status;
}

static int
s_send (client_call_t *call)
{
    client_app_t *app = call->app;
    size_t count;
    char *fault;
    char *recipients = s_recipients (call, &count, &fault);
    assert (!fault);                    //  checked
    const char *draft_number = client_call_value (call, "draft");
    if (draft_number) {
        int status = s_send_draft (call, s_draft_number (draft_number), recipients,
                                   client_call_value (call, "subject"));
        free (recipients);
        return status;
    }
    const char *subject = client_call_value (call, "subject");
    int status = CLIENT_EXIT_DONE;
    //  Before a person writes a word: are the names and the login right?
    bool editor = !client_call_flag (call, "message") && isatty (STDIN_FILENO);
    if (editor)
        status = client_compose_check (app, recipients, call->state);
    client_draft_t *draft = s_new_draft (call, recipients, subject, 0);
    bool keep = false;
    if (status == CLIENT_EXIT_DONE)
        status = s_compose (call, draft, NULL, &keep);
    if (status == CLIENT_EXIT_DONE)
        status = s_deliver (call, draft, keep);
    client_draft_destroy (&draft);
    free (recipients);
    return status;
}

const client_command_t client_cmd_send = {
    "send", "--to NAMES --subject TEXT [-m TEXT] | --draft N [--to NAMES]",
    "Send a message.",
    "\n"
    "Says what happened, as \"sent message 42 from alice to bob, carol\";\n"
    "--json gives the bare facts, for scripts.\n"
    "\n"
    "The body is TEXT with -m; otherwise standard input, when it is not a\n"
    "terminal; otherwise your editor ($VISUAL, $EDITOR, else vi) opens on a\n"
    "draft, once the recipients and your login are checked. An empty draft\n"
    "sends nothing. Every recipient must exist, or nothing is sent.\n"
    "\n"
    "What you wrote in the editor is kept as a draft (a 0600 file under\n"
    "$XDG_STATE_HOME/zpost/drafts) until the server has it: if sending fails\n"
    "(an unknown name, an ended login, no answer, 503, Ctrl-C), zpost send\n"
    "--draft N sends it again (--to and --subject change it), and zpost\n"
    "drafts lists, edits and deletes drafts.\n"
    "\n"
    "Options:\n"
    "  -t, --to NAMES        recipients, separated by commas; may be repeated\n"
    "  -s, --subject TEXT    one line, at most 255 bytes ('' for none)\n"
    "  -m, --message TEXT    the body\n"
    "      --draft N         send draft N (zpost drafts lists them)\n"
    CLIENT_COMMAND_JSON_HELP
    "\n"
    "JSON: {\"id\": 42, \"to\": [\"alice\", \"bob\"]}\n",
    CLIENT_COMMAND_LOGIN | CLIENT_COMMAND_JSON,
    { { "to", 't', true, true }, { "subject", 's', true, false },
      { "message", 'm', true, false }, { "draft", 0, true, false } },
    0, 0, NULL, "takes no arguments; give the recipients with --to",
    s_check_send, s_send
};


//  --------------------------------------------------------------------------
//  list

static json_t *
s_list_entry (zpost_msg_t *reply, size_t row)
{
    json_t *entry = json_pack ("{s:o, s:o, s:o, s:o, s:o, s:o, s:b}",
        "id", client_json_number (zpost_msg_row_get (reply, row, ZPOST_F_MESSAGE_ID)),
        "from", client_json_text (zpost_msg_row_get (reply, row, ZPOST_F_FROM)),
        "to", client_json_names (zpost_msg_row_get (reply, row, ZPOST_F_TO)),
        "subject", client_json_text (zpost_msg_row_get (reply, row, ZPOST_F_SUBJECT)),
        "date", client_json_number (zpost_msg_row_get (reply, row, ZPOST_F_DATE)),
        "size", client_json_number (zpost_msg_row_get (reply, row, ZPOST_F_SIZE)),
        "seen", streq (zpost_msg_row_get (reply, row, ZPOST_F_SEEN), "1"));
    assert (entry);
    return entry;
}

static uint64_t
s_row_number (zpost_msg_t *reply, size_t row, zpost_field_t field)
{
    const char *text = zpost_msg_row_get (reply, row, field);
    return text? (uint64_t) strtoull (text, NULL, 10): 0;
}

//  A row of a list reply as zpost list prints it (the caller's to free):
//  the sent folder's with recipients and no unread marker
static char *
s_list_line (zpost_msg_t *reply, size_t row, int id_width, bool sent)
{
    return client_output_list_row (
        id_width, !sent && streq (zpost_msg_row_get (reply, row, ZPOST_F_SEEN), "0"),
        zpost_msg_row_get (reply, row, ZPOST_F_MESSAGE_ID),
        s_row_number (reply, row, ZPOST_F_DATE),
        zpost_msg_row_get (reply, row, sent? ZPOST_F_TO: ZPOST_F_FROM),
        client_show_subject (zpost_msg_row_get (reply, row, ZPOST_F_SUBJECT)),
        s_row_number (reply, row, ZPOST_F_SIZE));
}

//  --limit and --before, checked; the default limit when none is given
static int
s_list_options (client_call_t *call, int *limit_p, uint64_t *before_p)
{
    const char *limit = client_call_value (call, "limit");
    const char *before = client_call_value (call, "before");
    *limit_p = client_call_flag (call, "all")? ZPOST_LIST_MAX: S_LIST_LIMIT;
    *before_p = 0;
    if (limit && client_check_int (limit, 1, ZPOST_LIST_MAX, limit_p))
        return client_call_misuse (call, "--limit wants a number from 1 to 1000, "
                                   "not '%.64s'", limit);
    if (before && client_check_id (before, before_p))
        return client_call_misuse (call, "--before wants a message id, not '%.64s'",
                                   before);
    return CLIENT_EXIT_DONE;
}

static int
s_check_list (client_call_t *call)
{
    int limit;
    uint64_t before;
    if (client_call_flag (call, "unread") && client_call_flag (call, "flagged"))
        return client_call_misuse (call, "takes --unread or --flagged, not both");
    return s_list_options (call, &limit, &before);
}

//  The flagged entries of a page: a LIST of the same folder, limit and
//  before, filter flagged (ZPOST.md, LIST). An empty set when the store
//  has no flags (422 filter) or gives no answer: the page is shown
//  without them rather than not at all.
static zhashx_t *
s_flagged_page (client_app_t *app, bool sent, int limit, uint64_t before)
{
    zhashx_t *flagged = zhashx_new ();
    assert (flagged);
    int status;
    zpost_msg_t *reply = client_api_list_filtered (app, sent, "flagged", limit, before,
                                                   &status);
    if (reply && zpost_msg_status (reply) == ZPOST_OK)
        for (size_t row = 0; row < zpost_msg_rows (reply); row++)
            zhashx_insert (flagged, zpost_msg_row_get (reply, row, ZPOST_F_MESSAGE_ID),
                           (void *) 1);
    zpost_msg_destroy (&reply);
    return flagged;
}

static int
s_list (client_call_t *call)
{
    client_app_t *app = call->app;
    bool sent = client_call_flag (call, "sent");
    bool unread = client_call_flag (call, "unread");
    bool only_flagged = client_call_flag (call, "flagged");
    bool all = client_call_flag (call, "all");
    int limit;
    uint64_t before;
    int status = s_list_options (call, &limit, &before);
    assert (status == CLIENT_EXIT_DONE);        //  checked

    json_t *entries = app->json? json_array (): NULL;
    size_t total = 0;
    int id_width = 0;
    bool more = false;
    uint64_t next_before = 0;
    status = CLIENT_EXIT_DONE;
    while (true) {
        zpost_msg_t *reply = client_api_list_filtered (
            app, sent, only_flagged? "flagged": unread? "unread": "all", limit, before,
            &status);
        if (!reply)
            break;
        if (zpost_msg_status (reply) != ZPOST_OK) {
            //  With --json, the error object replaces the array
            json_decref (entries);
            entries = NULL;
            status = client_api_refusal (app, reply, call->state, 0, NULL);
            zpost_msg_destroy (&reply);
            break;
        }
        size_t rows = zpost_msg_rows (reply);
        zhashx_t *flagged = rows && !only_flagged
                          ? s_flagged_page (app, sent, limit, before): NULL;
        uint64_t smallest = 0;
        for (size_t row = 0; row < rows; row++) {
            uint64_t id = s_row_number (reply, row, ZPOST_F_MESSAGE_ID);
            if (smallest == 0 || id < smallest)
                smallest = id;
            const char *id_text = zpost_msg_row_get (reply, row, ZPOST_F_MESSAGE_ID);
            bool is_flagged = only_flagged
                           || (flagged && zhashx_lookup (flagged, id_text));
            if (entries) {
                json_t *entry = s_list_entry (reply, row);
                json_object_set_new (entry, "flagged", json_boolean (is_flagged));
                json_array_append_new (entries, entry);
                continue;
            }
            if (id_width == 0) {
                //  Newest first: the first id is the widest there will be
                id_width = (int) strlen (id_text);
                char *header = client_output_list_header (id_width, sent);
                printf ("%s\n", header);
                free (header);
            }
            char *line = s_list_line (reply, row, id_width, sent);
            //  The flag beside the unread marker, where a space always is
            if (is_flagged)
                line [1] = '!';
            printf ("%s\n", line);
            free (line);
        }
        zhashx_destroy (&flagged);
        total += rows;
        zpost_msg_destroy (&reply);
        //  A full page may have more behind it; a page that does not go
        //  below its cursor would page for ever, so it ends the listing
        more = rows == (size_t) limit && smallest > 1
            && (before == 0 || smallest < before);
        next_before = smallest;
        if (!all || !more)
            break;
        before = smallest;
    }
    if (status == CLIENT_EXIT_DONE) {
        if (entries)
            client_json_emit (entries);
        else
        if (total == 0)
            printf ("no %smessages in the %s of %s\n",
                    only_flagged? "flagged ": unread? "unread ": "",
                    sent? "sent folder": "inbox", client_state_username (call->state));
        else
        if (more && !all) {
            //  How many there are in all: the folder's count, from STATS
            //  (a flagged count it has not)
            int stats_status;
            zpost_msg_t *stats = only_flagged? NULL
                               : client_api_stats (app, false, &stats_status);
            int64_t in_all = -1;
            if (stats && zpost_msg_status (stats) == ZPOST_OK)
                in_all = client_show_stat (stats, sent? "sent-count"
                                                      : unread? "inbox-unread"
                                                      : "inbox-count");
            zpost_msg_destroy (&stats);
            if (in_all > 0)
                printf ("%zu of %" PRId64 " %smessages shown; ", total, in_all,
                        unread? "unread ": "");
            printf ("more: zpost list%s%s%s", sent? " --sent": "", unread? " --unread": "",
                    only_flagged? " --flagged": "");
            if (limit != S_LIST_LIMIT)
                printf (" --limit %d", limit);
            printf (" --before %" PRIu64 "\n", next_before);
        }
    }
    json_decref (entries);
    return status;
}

const client_command_t client_cmd_list = {
    "list", "[--sent] [--unread | --flagged] [--limit N] [--before ID] [--all]",
    "List your inbox (or sent folder), newest first.",
    "\n"
    "One line per message: * if unread, ! if flagged, id, date (local time), sender (or\n"
    "recipients), subject and size. Text other users wrote is shown with\n"
    "control and bidi characters escaped (\\x1b, \\u009b, \\u202e) and a\n"
    "backslash as \\\\.\n"
    "\n"
    "Options:\n"
    "      --sent            the sent folder instead of the inbox\n"
    "      --unread          only messages not yet read\n"
    "      --flagged         only flagged messages (zpost mark ID flagged)\n"
    "  -n, --limit N         at most N messages, 1 to 1000 (default 50; with\n"
    "                        --all, the page size, default 1000)\n"
    "      --before ID       only messages older than ID (the next page)\n"
    "      --all             every message, page after page\n"
    "\n"
    "A full page ends with how many there are in all and the command for\n"
    "the next page: \"50 of 120 messages shown; more: zpost list --before 71\".\n"
    CLIENT_COMMAND_JSON_HELP
    "\n"
    "JSON: [{\"id\": 42, \"from\": \"alice\", \"to\": [\"bob\"], \"subject\": \"...\",\n"
    "        \"date\": UNIXTIME, \"size\": 120, \"seen\": false,\n"
    "        \"flagged\": false}, ...]\n",
    CLIENT_COMMAND_LOGIN | CLIENT_COMMAND_JSON,
    { { "sent", 0, false, false }, { "unread", 0, false, false },
      { "limit", 'n', true, false }, { "before", 0, true, false },
      { "all", 0, false, false }, { "flagged", 0, false, false } },
    0, 0, NULL, NULL, s_check_list, s_list
};


//  --------------------------------------------------------------------------
//  search

static const char *s_withins [] = { "any", "from", "subject", "body", NULL };

static int
s_check_search (client_call_t *call)
{
    const char *within = client_call_value (call, "in");
    bool known = !within;
    for (size_t index = 0; within && s_withins [index]; index++)
        known = known || streq (within, s_withins [index]);
    if (!known)
        return client_call_misuse (call, "--in wants any, from, subject or body, "
                                   "not '%.64s'", within);
    size_t size = strlen (call->argv [0]);
    if (size < ZPOST_QUERY_MIN || size > ZPOST_QUERY_MAX)
        return client_call_misuse (call, "the text to look for is %d to %d bytes, "
                                   "not %zu", ZPOST_QUERY_MIN, ZPOST_QUERY_MAX, size);
    int limit;
    uint64_t before;
    return s_list_options (call, &limit, &before);
}

static int
s_search (client_call_t *call)
{
    client_app_t *app = call->app;
    bool sent = client_call_flag (call, "sent");
    const char *within = client_call_value (call, "in");
    const char *query = call->argv [0];
    int limit;
    uint64_t before;
    int status = s_list_options (call, &limit, &before);
    assert (status == CLIENT_EXIT_DONE);        //  checked
    zpost_msg_t *reply = client_api_search (app, sent, within? within: "any", query,
                                            limit, before, &status);
    if (!reply)
        return status;
    if (zpost_msg_status (reply) != ZPOST_OK) {
        status = client_api_refusal (app, reply, call->state, 0, NULL);
        zpost_msg_destroy (&reply);
        return status;
    }
    size_t rows = zpost_msg_rows (reply);
    json_t *entries = app->json? json_array (): NULL;
    int id_width = 0;
    uint64_t smallest = 0;
    for (size_t row = 0; row < rows; row++) {
        uint64_t id = s_row_number (reply, row, ZPOST_F_MESSAGE_ID);
        if (smallest == 0 || id < smallest)
            smallest = id;
        if (entries) {
            json_array_append_new (entries, s_list_entry (reply, row));
            continue;
        }
        const char *id_text = zpost_msg_row_get (reply, row, ZPOST_F_MESSAGE_ID);
        if (id_width == 0) {
            id_width = (int) strlen (id_text);
            char *header = client_output_list_header (id_width, sent);
            printf ("%s\n", header);
            free (header);
        }
        char *line = s_list_line (reply, row, id_width, sent);
        printf ("%s\n", line);
        free (line);
    }
    zpost_msg_destroy (&reply);
    if (entries) {
        client_json_emit (entries);
        json_decref (entries);
    }
    else {
        char *safe = client_output_safe_str (query, CLIENT_OUTPUT_LINE);
        if (rows == 0)
            printf ("no message in the %s of %s holds '%s'%s\n",
                    sent? "sent folder": "inbox", client_state_username (call->state),
                    safe, within && !streq (within, "any")? " there": "");
        else
        if (rows == (size_t) limit && smallest > 1)
            printf ("more: zpost search%s%s%s --before %" PRIu64 " '%s'\n",
                    sent? " --sent": "", within? " --in ": "", within? within: "",
                    smallest, safe);
        free (safe);
    }
    return CLIENT_EXIT_DONE;
}

const client_command_t client_cmd_search = {
    "search", "[--sent] [--in any|from|subject|body] [--limit N] [--before ID] TEXT",
    "Find the messages of your inbox (or sent folder) that hold a text.",
    "\n"
    "TEXT (3 to 128 bytes) is looked for in the sender, the subject and the\n"
    "body, ASCII letters in either case, every other character as itself;\n"
    "the matches come newest first, one line each as zpost list prints them.\n"
    "\n"
    "Options:\n"
    "      --sent            the sent folder instead of the inbox\n"
    "      --in FIELD        only the sender (from), the subject or the body\n"
    "  -n, --limit N         at most N messages, 1 to 1000 (default 50)\n"
    "      --before ID       only messages older than ID (the next page)\n"
    "      --all             up to 1000 matches at once\n"
    CLIENT_COMMAND_JSON_HELP
    "\n"
    "JSON: [{\"id\": 42, \"from\": \"alice\", \"to\": [\"bob\"], \"subject\": \"...\",\n"
    "        \"date\": UNIXTIME, \"size\": 120, \"seen\": false}, ...]\n",
    CLIENT_COMMAND_LOGIN | CLIENT_COMMAND_JSON,
    { { "sent", 0, false, false }, { "in", 0, true, false },
      { "limit", 'n', true, false }, { "before", 0, true, false },
      { "all", 0, false, false } },
    1, 1, "needs the text to look for", "takes one text to look for (quote it if it has spaces)",
    s_check_search, s_search
};


//  --------------------------------------------------------------------------
//  read, delete

//  The message ID operand
static int
s_check_id (client_call_t *call)
{
    uint64_t id;
    if (client_check_id (call->argv [0], &id))
        return client_call_misuse (call, "'%.64s' is not a message id", call->argv [0]);
    return CLIENT_EXIT_DONE;
}

static uint64_t
s_id (client_call_t *call)
{
    uint64_t id = 0;
    int rc = client_check_id (call->argv [0], &id);
    assert (rc == 0);           //  checked
    return id;
}

static int
s_read (client_call_t *call)
{
    client_app_t *app = call->app;
    uint64_t id = s_id (call);
    int status;
    zpost_msg_t *reply = client_api_read (app, id, &status);
    if (reply && zpost_msg_status (reply) != ZPOST_OK) {
        char *sentence = zsys_sprintf ("there is no message %" PRIu64 " in your folders; "
                                       "zpost list shows their ids", id);
        status = client_api_refusal (app, reply, call->state, ZPOST_NO_SUCH_MESSAGE,
                                     sentence);
        free (sentence);
    }
    else
    if (reply) {
        const char *body = zpost_msg_get (reply, ZPOST_F_BODY);
        if (app->json) {
            json_t *object = json_pack ("{s:o, s:o, s:o, s:o, s:o, s:o}",
                "id", client_json_number (zpost_msg_get (reply, ZPOST_F_MESSAGE_ID)),
                "from", client_json_text (zpost_msg_get (reply, ZPOST_F_FROM)),
                "to", client_json_names (zpost_msg_get (reply, ZPOST_F_TO)),
                "subject", client_json_text (zpost_msg_get (reply, ZPOST_F_SUBJECT)),
                "date", client_json_number (zpost_msg_get (reply, ZPOST_F_DATE)),
                "body", client_json_text (body));
            assert (object);
            client_json_emit (object);
            json_decref (object);
        }
        else
            client_show_message (reply);
        status = CLIENT_EXIT_DONE;
    }
    zpost_msg_destroy (&reply);
    return status;
}

const client_command_t client_cmd_read = {
    "read", "ID",
    "Print a message, and mark it read.",
    "\n"
    "Prints From, To, Date and Subject, a blank line, and the body. Control\n"
    "and bidi characters in them are shown escaped (\\x1b, \\u009b, \\u202e),\n"
    "never sent to the terminal; a backslash is shown as \\\\.\n"
    "\n"
    "Options:\n"
    CLIENT_COMMAND_JSON_HELP
    "\n"
    "JSON: {\"id\": 42, \"from\": \"alice\", \"to\": [\"bob\"], \"subject\": \"...\",\n"
    "       \"date\": UNIXTIME, \"body\": \"...\"}\n",
    CLIENT_COMMAND_LOGIN | CLIENT_COMMAND_JSON,
    { { NULL, 0, false, false } },
    1, 1, "needs one message ID (zpost list shows them)",
    "needs one message ID (zpost list shows them)",
    s_check_id, s_read
};

static int
s_delete (client_call_t *call)
{
    client_app_t *app = call->app;
    uint64_t id = s_id (call);
    bool sent = client_call_flag (call, "sent");
    const char *folder = sent? "sent": "inbox";
    const char *username = client_state_username (call->state);
    int status = CLIENT_EXIT_DONE;
    //  DELETE says 200 for an id that is not there: a typo would pass for
    //  done. The folder is asked first, and a missing id is an error.
    int held = client_api_holds (app, sent, id, call->state, &status);
    if (held == -1)
        return status;
    if (held == 0)
        return client_api_fail (app, CLIENT_EXIT_REFUSED, 0, "NO_SUCH_MESSAGE",
                                "there is no message %" PRIu64 " in the %s of %s; "
                                "nothing was deleted (zpost list%s shows the ids)",
                                id, sent? "sent folder": "inbox", username,
                                sent? " --sent": "");
    zpost_msg_t *reply = client_api_delete (app, sent, id, &status);
    if (reply && zpost_msg_status (reply) != ZPOST_OK)
        status = client_api_refusal (app, reply, call->state, 0, NULL);
    else
    if (reply) {
        if (app->json) {
            json_t *object = json_pack ("{s:o, s:s}", "id", client_json_id (id),
                                        "folder", folder);
            client_json_emit (object);
            json_decref (object);
        }
        else
            printf ("deleted message %" PRIu64 " from the %s of %s\n", id,
                    sent? "sent folder": "inbox", username);
        status = CLIENT_EXIT_DONE;
    }
    zpost_msg_destroy (&reply);
    return status;
}

const client_command_t client_cmd_delete = {
    "delete", "ID [--sent]",
    "Delete a message from your inbox (or sent folder).",
    "\n"
    "An ID that is not in the folder is an error (exit 1, NO_SUCH_MESSAGE),\n"
    "and nothing is deleted.\n"
    "\n"
    "Options:\n"
    "      --sent            delete from the sent folder\n"
    CLIENT_COMMAND_JSON_HELP
    "\n"
    "JSON: {\"id\": 42, \"folder\": \"inbox\"}\n",
    CLIENT_COMMAND_LOGIN | CLIENT_COMMAND_JSON,
    { { "sent", 0, false, false } },
    1, 1, "needs one message ID (zpost list shows them)",
    "needs one message ID (zpost list shows them)",
    s_check_id, s_delete
};


//  --------------------------------------------------------------------------
//  stats

static int
s_stats (client_call_t *call)
{
    client_app_t *app = call->app;
    int status;
    zpost_msg_t *reply = client_api_stats (app, client_call_flag (call, "server"), &status);
    if (reply && zpost_msg_status (reply) != ZPOST_OK)
        status = client_api_refusal (app, reply, call->state, 0, NULL);
    else
    if (reply) {
        size_t rows = zpost_msg_rows (reply);
        if (app->json) {
            json_t *object = json_object ();
            for (size_t row = 0; row < rows; row++)
                json_object_set_new (object, zpost_msg_row_get (reply, row,
                                                                ZPOST_F_STAT_NAME),
                                     client_json_number (zpost_msg_row_get (
                                         reply, row, ZPOST_F_STAT_VALUE)));
            client_json_emit (object);
            json_decref (object);
        }
        else
        if (client_call_flag (call, "server"))
            client_show_stats (reply);
        else
            client_show_stats_words (reply);
        status = CLIENT_EXIT_DONE;
    }
    zpost_msg_destroy (&reply);
    return status;
}

const client_command_t client_cmd_stats = {
    "stats", "[--server]",
    "Say how many messages you have, unread, their size, the quota.",
    "\n"
    "Says how many messages your inbox and sent folder hold, how many are\n"
    "unread, their size, and how much of your quota is used, in words;\n"
    "with --server, one figure per line: name and value (sizes in bytes).\n"
    "--json gives every figure by its name.\n"
    "\n"
    "Options:\n"
    "      --server          figures for the whole server instead\n"
    CLIENT_COMMAND_JSON_HELP
    "\n"
    "JSON: {\"inbox-count\": 3, \"inbox-unread\": 1, ...}\n",
    CLIENT_COMMAND_LOGIN | CLIENT_COMMAND_JSON,
    { { "server", 0, false, false } },
    0, 0, NULL, NULL, NULL, s_stats
};


//  --------------------------------------------------------------------------
//  reply, forward

//  READ the message being answered or forwarded; NULL after saying why
static zpost_msg_t *
s_original (client_call_t *call, uint64_t id, int *status_p)
{
    client_app_t *app = call->app;
    zpost_msg_t *reply = client_api_read (app, id, status_p);
    if (reply && zpost_msg_status (reply) != ZPOST_OK) {
        char *sentence = zsys_sprintf ("there is no message %" PRIu64 " in your folders; "
                                       "zpost list shows their ids", id);
        *status_p = client_api_refusal (app, reply, call->state, ZPOST_NO_SUCH_MESSAGE,
                                        sentence);
        free (sentence);
        zpost_msg_destroy (&reply);
    }
    return reply;
}

static int
s_check_reply (client_call_t *call)
{
    uint64_t id;
    if (client_check_id (call->argv [0], &id) || id == 0)
        return client_call_misuse (call, "'%.64s' is not a message id", call->argv [0]);
    return CLIENT_EXIT_DONE;
}

static int
s_reply (client_call_t *call)
{
    client_app_t *app = call->app;
    uint64_t id = strtoull (call->argv [0], NULL, 10);
    int status;
    zpost_msg_t *original = s_original (call, id, &status);
    if (!original)
        return status;
    const char *me = client_state_username (call->state);
    char *recipients = client_compose_reply_recipients (original, me,
                                                       client_call_flag (call, "all"));
    char *subject = client_compose_reply_subject (zpost_msg_get (original,
                                                                 ZPOST_F_SUBJECT));
    char *quote = client_call_flag (call, "quote")? client_compose_quote (original): NULL;
    zpost_msg_destroy (&original);

    bool editor = !client_call_flag (call, "message") && isatty (STDIN_FILENO);
    status = editor? client_compose_check (app, recipients, call->state)
                   : CLIENT_EXIT_DONE;
    client_draft_t *draft = s_new_draft (call, recipients, subject, id);
    bool keep = false;
    if (status == CLIENT_EXIT_DONE)
        status = s_compose (call, draft, quote, &keep);
    if (status == CLIENT_EXIT_DONE)
        status = s_deliver (call, draft, keep);
    client_draft_destroy (&draft);
    free (quote);
    free (subject);
    free (recipients);
    return status;
}

const client_command_t client_cmd_reply = {
    "reply", "ID [--all] [--quote] [-m TEXT]",
    "Answer a message, in its thread.",
    "\n"
    "The answer goes to the message's sender (to its recipients if you sent\n"
    "it), with --all to everyone on it but you; its subject is the original's\n"
    "with \"Re: \" before it, once. The body is TEXT with -m, else standard\n"
    "input when it is not a terminal, else your editor, on a draft that\n"
    "holds the quoted original with --quote. As with send, what you wrote\n"
    "is kept as a draft until the server has it.\n"
    "\n"
    "Options:\n"
    "      --all             answer the sender and every other recipient\n"
    "  -q, --quote           quote the original (\"> \" before each line)\n"
    "  -m, --message TEXT    the body (after the quote, with --quote)\n"
    CLIENT_COMMAND_JSON_HELP
    "\n"
    "JSON: {\"id\": 43, \"to\": [\"alice\"], \"in_reply_to\": 42, \"thread\": 40}\n",
    CLIENT_COMMAND_LOGIN | CLIENT_COMMAND_JSON,
    { { "all", 0, false, false }, { "quote", 'q', false, false },
      { "message", 'm', true, false } },
    1, 1, "needs the ID of the message to answer (zpost list shows them)",
    "takes one message ID",
    s_check_reply, s_reply
};

static int
s_check_forward (client_call_t *call)
{
    uint64_t id;
    if (client_check_id (call->argv [0], &id) || id == 0)
        return client_call_misuse (call, "'%.64s' is not a message id", call->argv [0]);
    char *recipients = NULL;
    size_t count = 0;
    char *fault = client_check_recipients (&recipients, call->argv [1], &count);
    int status = CLIENT_EXIT_DONE;
    if (fault)
        status = client_call_misuse (call, "%s", fault);
    else
    if (count > ZPOST_RECIPIENTS_MAX)
        status = client_call_misuse (call, "has %zu recipients; at most %d may be given",
                                     count, ZPOST_RECIPIENTS_MAX);
    free (fault);
    free (recipients);
    return status;
}

static int
s_forward (client_call_t *call)
{
    uint64_t id = strtoull (call->argv [0], NULL, 10);
    char *recipients = NULL;
    size_t count = 0;
    char *fault = client_check_recipients (&recipients, call->argv [1], &count);
    assert (!fault);            //  checked
    int status;
    zpost_msg_t *original = s_original (call, id, &status);
    if (!original) {
        free (recipients);
        return status;
    }
    char *subject = client_compose_forward_subject (zpost_msg_get (original,
                                                                   ZPOST_F_SUBJECT));
    char *body = client_compose_forwarded (original, client_call_value (call, "message"));
    zpost_msg_destroy (&original);
    //  A new message, not an answer: it starts a thread of its own
    client_draft_t *draft = s_new_draft (call, recipients, subject, 0);
    client_draft_set_body (draft, body, strlen (body));
    if (client_check_body (body, strlen (body)))
        status = client_api_fail (call->app, CLIENT_EXIT_USAGE, 0, "LOCAL_ERROR", "%s",
                                  client_check_body (body, strlen (body)));
    else
        status = s_deliver (call, draft, false);
    client_draft_destroy (&draft);
    free (body);
    free (subject);
    free (recipients);
    return status;
}

const client_command_t client_cmd_forward = {
    "forward", "ID NAMES [-m TEXT]",
    "Forward a message to other users.",
    "\n"
    "Sends a new message to NAMES (separated by commas), with the subject\n"
    "\"Fwd: \" and the original's, and a body that quotes the original under a\n"
    "\"Forwarded message\" line with its From, Date, Subject and To; -m puts\n"
    "TEXT above it.\n"
    "\n"
    "Options:\n"
    "  -m, --message TEXT    a note above the forwarded message\n"
    CLIENT_COMMAND_JSON_HELP
    "\n"
    "JSON: {\"id\": 44, \"to\": [\"carol\"]}\n",
    CLIENT_COMMAND_LOGIN | CLIENT_COMMAND_JSON,
    { { "message", 'm', true, false } },
    2, 2, "needs the ID of the message and the NAMES to forward it to",
    "takes a message ID and the names, separated by commas",
    s_check_forward, s_forward
};


//  --------------------------------------------------------------------------
//  thread

static int
s_thread (client_call_t *call)
{
    client_app_t *app = call->app;
    uint64_t id = strtoull (call->argv [0], NULL, 10);
    json_t *entries = app->json? json_array (): NULL;
    uint64_t before = 0;
    uint64_t thread_id = 0;
    size_t total = 0;
    int id_width = 0;
    int status = CLIENT_EXIT_DONE;
    while (true) {
        zpost_msg_t *reply = client_api_thread (app, id, ZPOST_LIST_MAX, before, &status);
        if (!reply)
            break;
        if (zpost_msg_status (reply) != ZPOST_OK) {
            json_decref (entries);
            entries = NULL;
            char *sentence = zsys_sprintf ("there is no message %" PRIu64 " in your "
                                           "folders; zpost list shows their ids", id);
            status = client_api_refusal (app, reply, call->state, ZPOST_NO_SUCH_MESSAGE,
                                         sentence);
            free (sentence);
            zpost_msg_destroy (&reply);
            break;
        }
        thread_id = zpost_msg_get_number (reply, ZPOST_F_THREAD_ID);
        size_t rows = zpost_msg_rows (reply);
        uint64_t smallest = 0;
        for (size_t row = 0; row < rows; row++) {
            uint64_t row_id = s_row_number (reply, row, ZPOST_F_MESSAGE_ID);
            if (smallest == 0 || row_id < smallest)
                smallest = row_id;
            bool seen = streq (zpost_msg_row_get (reply, row, ZPOST_F_SEEN), "1");
            bool flagged = streq (zpost_msg_row_get (reply, row, ZPOST_F_FLAGGED), "1");
            if (entries) {
                json_t *entry = s_list_entry (reply, row);
                json_object_set_new (entry, "in_reply_to", client_json_number (
                    zpost_msg_row_get (reply, row, ZPOST_F_IN_REPLY_TO)));
                json_object_set_new (entry, "flagged", json_boolean (flagged));
                json_array_append_new (entries, entry);
                continue;
            }
            const char *id_text = zpost_msg_row_get (reply, row, ZPOST_F_MESSAGE_ID);
            if (id_width == 0) {
                id_width = (int) strlen (id_text);
                printf ("thread %" PRIu64 ", newest first:\n", thread_id);
                char *header = client_output_list_header (id_width, false);
                printf ("%s\n", header);
                free (header);
            }
            //  Who answered what: "re 5: " before the subject
            uint64_t answers = s_row_number (reply, row, ZPOST_F_IN_REPLY_TO);
            char *subject = answers
                ? zsys_sprintf ("[re %" PRIu64 "] %s", answers, client_show_subject (
                                zpost_msg_row_get (reply, row, ZPOST_F_SUBJECT)))
                : strdup (client_show_subject (zpost_msg_row_get (reply, row,
                                                                  ZPOST_F_SUBJECT)));
            char *line = client_output_list_row (
                id_width, !seen, id_text, s_row_number (reply, row, ZPOST_F_DATE),
                zpost_msg_row_get (reply, row, ZPOST_F_FROM), subject,
                s_row_number (reply, row, ZPOST_F_SIZE));
            if (flagged)
                line [1] = '!';
            printf ("%s\n", line);
            free (line);
            free (subject);
        }
        total += rows;
        zpost_msg_destroy (&reply);
        if (rows < ZPOST_LIST_MAX || smallest <= 1 || (before && smallest >= before))
            break;
        before = smallest;
    }
    if (status == CLIENT_EXIT_DONE) {
        if (entries) {
            json_t *object = json_pack ("{s:o, s:o}", "thread", client_json_id (thread_id),
                                        "messages", entries);
            entries = NULL;
            client_json_emit (object);
            json_decref (object);
        }
        else
            printf ("%zu message%s of thread %" PRIu64 " in the folders of %s\n", total,
                    total == 1? "": "s", thread_id, client_state_username (call->state));
    }
    json_decref (entries);
    return status;
}

const client_command_t client_cmd_thread = {
    "thread", "ID",
    "List the thread (conversation) of a message, newest first.",
    "\n"
    "Every message of the thread that is in your inbox or sent folder, one\n"
    "line each as zpost list prints them, with \"[re N]\" before the subject\n"
    "of a message that answers message N, and ! after the unread marker of a\n"
    "flagged one. A thread's number is the id of its first message.\n"
    "\n"
    "Options:\n"
    CLIENT_COMMAND_JSON_HELP
    "\n"
    "JSON: {\"thread\": 40, \"messages\": [{\"id\": 43, \"in_reply_to\": 42,\n"
    "       \"from\": ..., \"seen\": true, \"flagged\": false, ...}, ...]}\n",
    CLIENT_COMMAND_LOGIN | CLIENT_COMMAND_JSON,
    { { NULL, 0, false, false } },
    1, 1, "needs one message ID (zpost list shows them)",
    "needs one message ID (zpost list shows them)",
    s_check_reply, s_thread
};


//  --------------------------------------------------------------------------
//  mark

static const char *s_marks [] = { "seen", "unseen", "flagged", "unflagged", NULL };

static int
s_check_mark (client_call_t *call)
{
    uint64_t id;
    if (client_check_id (call->argv [0], &id) || id == 0)
        return client_call_misuse (call, "'%.64s' is not a message id", call->argv [0]);
    for (size_t index = 0; s_marks [index]; index++)
        if (streq (call->argv [1], s_marks [index]))
            return CLIENT_EXIT_DONE;
    return client_call_misuse (call, "marks a message seen, unseen, flagged or "
                               "unflagged, not '%.64s'", call->argv [1]);
}

static int
s_mark (client_call_t *call)
{
    client_app_t *app = call->app;
    uint64_t id = strtoull (call->argv [0], NULL, 10);
    const char *flag = call->argv [1];
    bool sent = client_call_flag (call, "sent");
    const char *folder = sent? "sent folder": "inbox";
    const char *username = client_state_username (call->state);
    int status;
    zpost_msg_t *reply = client_api_mark (app, sent, id, flag, &status);
    if (reply && zpost_msg_status (reply) != ZPOST_OK) {
        char *sentence = zpost_msg_status (reply) == ZPOST_NO_SUCH_MESSAGE
            ? zsys_sprintf ("there is no message %" PRIu64 " in the %s of %s; nothing "
                            "was marked (zpost list%s shows the ids)", id, folder,
                            username, sent? " --sent": "")
            : zsys_sprintf ("the sent folder has no unread messages: only flagged and "
                            "unflagged apply there");
        status = client_api_refusal (app, reply, call->state,
                                     zpost_msg_status (reply) == ZPOST_NO_SUCH_MESSAGE
                                     ? ZPOST_NO_SUCH_MESSAGE: ZPOST_INVALID_VALUE,
                                     sentence);
        free (sentence);
    }
    else
    if (reply) {
        if (app->json) {
            json_t *object = json_pack ("{s:o, s:s, s:s}", "id", client_json_id (id),
                                        "folder", sent? "sent": "inbox", "mark", flag);
            client_json_emit (object);
            json_decref (object);
        }
        else
            printf ("marked message %" PRIu64 " %s in the %s of %s\n", id, flag, folder,
                    username);
        status = CLIENT_EXIT_DONE;
    }
    zpost_msg_destroy (&reply);
    return status;
}

const client_command_t client_cmd_mark = {
    "mark", "ID seen|unseen|flagged|unflagged [--sent]",
    "Mark a message read or unread, flagged or not.",
    "\n"
    "seen marks it read, unseen unread again (inbox only); flagged puts a\n"
    "flag on it (\"come back to this\": ! in zpost list, and zpost list\n"
    "--flagged lists them), unflagged takes it off. Marking what is marked\n"
    "already is not an error.\n"
    "\n"
    "Options:\n"
    "      --sent            the message in the sent folder (flags only)\n"
    CLIENT_COMMAND_JSON_HELP
    "\n"
    "JSON: {\"id\": 42, \"folder\": \"inbox\", \"mark\": \"flagged\"}\n",
    CLIENT_COMMAND_LOGIN | CLIENT_COMMAND_JSON,
    { { "sent", 0, false, false } },
    2, 2, "needs a message ID and a mark: seen, unseen, flagged or unflagged",
    "takes a message ID and one mark",
    s_check_mark, s_mark
};


//  --------------------------------------------------------------------------
//  drafts

static int
s_check_drafts (client_call_t *call)
{
    if (call->argc == 0)
        return CLIENT_EXIT_DONE;
    const char *action = call->argv [0];
    bool known = streq (action, "list") || streq (action, "resume")
              || streq (action, "edit") || streq (action, "delete");
    if (!known)
        return client_call_misuse (call, "knows list, resume N, edit N and delete N, "
                                   "not '%.64s'", action);
    if (streq (action, "list"))
        return call->argc == 1? CLIENT_EXIT_DONE
                              : client_call_misuse (call, "list takes nothing more");
    if (call->argc != 2 || !s_draft_number (call->argv [1]))
        return client_call_misuse (call, "%s needs one draft number (zpost drafts "
                                   "lists them)", action);
    return CLIENT_EXIT_DONE;
}

static int
s_drafts_list (client_call_t *call)
{
    client_app_t *app = call->app;
    const char *state_dir = client_config_state_dir (app->config);
    if (!state_dir)
        return client_api_fail (app, CLIENT_EXIT_LOCAL, 0, "LOCAL_ERROR", "cannot find "
                                "your home directory; set HOME or XDG_STATE_HOME");
    zlistx_t *numbers = client_draft_numbers (state_dir);
    json_t *entries = app->json? json_array (): NULL;
    for (const char *number = (const char *) zlistx_first (numbers); number;
         number = (const char *) zlistx_next (numbers)) {
        client_draft_t *draft = client_draft_load (state_dir,
                                                   (unsigned) strtoul (number, NULL, 10));
        if (!draft)
            continue;
        if (entries) {
            json_t *entry = json_pack ("{s:i, s:o, s:o, s:o, s:o, s:I, s:I, s:o}",
                "draft", (int) client_draft_number (draft),
                "user", client_json_text (client_draft_user (draft)),
                "server", client_json_text (client_draft_server (draft)),
                "to", client_json_names (client_draft_to (draft)),
                "subject", client_json_text (client_draft_subject (draft)),
                "date", (json_int_t) client_draft_date (draft),
                "size", (json_int_t) client_draft_body_size (draft),
                "in_reply_to", client_draft_in_reply_to (draft)
                               ? client_json_id (client_draft_in_reply_to (draft))
                               : json_null ());
            assert (entry);
            json_array_append_new (entries, entry);
        }
        else {
            char date [CLIENT_OUTPUT_DATE_SIZE];
            client_output_date (client_draft_date (draft), false, date);
            char *spaced = client_api_spaced (client_draft_to (draft));
            char *line = zsys_sprintf ("%u  %s  %s to %s: %s%s", client_draft_number (draft),
                                       date, client_draft_user (draft),
                                       *spaced? spaced: "(no one yet)",
                                       client_show_subject (client_draft_subject (draft)),
                                       client_draft_in_reply_to (draft)? " (a reply)": "");
            client_output_print (stdout, line, CLIENT_OUTPUT_LINE);
            printf ("\n");
            free (line);
            free (spaced);
        }
        client_draft_destroy (&draft);
    }
    if (entries)
        client_json_emit (entries);
    else
    if (zlistx_size (numbers) == 0)
        printf ("no drafts: every message written has been sent\n");
    else
        printf ("zpost send --draft N sends one; zpost drafts edit N changes it\n");
    json_decref (entries);
    zlistx_destroy (&numbers);
    return CLIENT_EXIT_DONE;
}

static int
s_drafts (client_call_t *call)
{
    client_app_t *app = call->app;
    const char *action = call->argc? call->argv [0]: "list";
    if (streq (action, "list"))
        return s_drafts_list (call);
    unsigned number = s_draft_number (call->argv [1]);
    const char *state_dir = client_config_state_dir (app->config);
    client_draft_t *draft = state_dir? client_draft_load (state_dir, number): NULL;
    if (!draft)
        return client_api_fail (app, CLIENT_EXIT_REFUSED, 0, "NO_SUCH_DRAFT",
                                "there is no draft %u; zpost drafts lists them", number);
    int status = CLIENT_EXIT_DONE;
    if (streq (action, "delete")) {
        if (client_draft_remove (draft))
            status = client_api_fail (app, CLIENT_EXIT_LOCAL, 0, "LOCAL_ERROR", "%s",
                                      client_draft_error (draft));
        else
        if (!app->json)
            printf ("deleted draft %u\n", number);
        else {
            json_t *object = json_pack ("{s:i}", "draft", (int) number);
            client_json_emit (object);
            json_decref (object);
        }
    }
    else
    if (streq (action, "edit")) {
        char error [512];
        if (client_input_edit_file (client_draft_body_path (draft), error,
                                    sizeof (error)) != CLIENT_INPUT_OK)
            status = client_api_fail (app, CLIENT_EXIT_LOCAL, 0, "LOCAL_ERROR",
                                      "%s; draft %u is as it was", error, number);
        else
            printf ("draft %u is saved; zpost send --draft %u sends it\n", number, number);
    }
    else {
        //  resume: as zpost send --draft N, with the login it needs
        call->state = client_api_logged_in (app, &status);
        if (call->state)
            status = s_send_draft (call, number, NULL, NULL);
    }
    client_draft_destroy (&draft);
    return status;
}

const client_command_t client_cmd_drafts = {
    "drafts", "[list | resume N | edit N | delete N]",
    "List the messages written but not sent; send, edit or delete one.",
    "\n"
    "A message written in the editor (zpost send, zpost reply) or in the\n"
    "guided session is kept as a draft until the server has it. Drafts are\n"
    "0600 files under $XDG_STATE_HOME/zpost/drafts (else\n"
    "~/.local/state/zpost/drafts): N.txt is the body, N.head the rest.\n"
    "\n"
    "  list        one line each: number, date, who wrote it, to whom, subject\n"
    "  resume N    send draft N, as zpost send --draft N does\n"
    "  edit N      open your editor on the body of draft N\n"
    "  delete N    throw draft N away\n"
    "\n"
    "Options:\n"
    CLIENT_COMMAND_JSON_HELP
    "\n"
    "JSON (list): [{\"draft\": 3, \"user\": \"alice\", \"server\": ..., \"to\": [\"bob\"],\n"
    "              \"subject\": ..., \"date\": UNIXTIME, \"size\": 120,\n"
    "              \"in_reply_to\": null}, ...]\n",
    CLIENT_COMMAND_JSON,
    { { NULL, 0, false, false } },
    0, 2, NULL, "takes an action and a draft number",
    s_check_drafts, s_drafts
};
