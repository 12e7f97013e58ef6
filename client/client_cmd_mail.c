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

static int
s_check_send (client_call_t *call)
{
    size_t count;
    char *fault;
    char *recipients = s_recipients (call, &count, &fault);
    const char *subject = client_call_value (call, "subject");
    int status = CLIENT_EXIT_DONE;
    if (fault)
        status = client_call_misuse (call, "%s", fault);
    else
    if (!recipients)
        status = client_call_misuse (call, "needs --to NAMES");
    else
    if (count > ZPOST_RECIPIENTS_MAX)
        status = client_call_misuse (call, "has %zu recipients; at most %d may be given",
                                     count, ZPOST_RECIPIENTS_MAX);
    else
    if (!subject)
        status = client_call_misuse (call, "needs --subject TEXT (--subject '' for none)");
    else
    if (client_check_subject (subject))
        status = client_call_misuse (call, "%s", client_check_subject (subject));
    free (fault);
    free (recipients);
    return status;
}

static int
s_send (client_call_t *call)
{
    client_app_t *app = call->app;
    size_t count;
    char *fault;
    char *recipients = s_recipients (call, &count, &fault);
    assert (recipients && !fault);      //  checked
    const char *subject = client_call_value (call, "subject");
    const char *message = client_call_value (call, "message");

    char *body = NULL;
    size_t size = 0;
    client_input_t result = CLIENT_INPUT_OK;
    char error [512] = "";
    int status;
    if (message) {
        body = strdup (message);
        assert (body);
        size = strlen (body);
    }
    else
    if (!isatty (STDIN_FILENO))
        result = client_input_all (STDIN_FILENO, ZPOST_BODY_MAX, &body, &size);
    else
        result = client_input_editor (ZPOST_BODY_MAX, &body, &size, error, sizeof (error));

    if (result == CLIENT_INPUT_INTERRUPTED)
        status = client_api_interrupted (app);
    else
    if (result == CLIENT_INPUT_TOO_LONG)
        status = client_api_fail (app, CLIENT_EXIT_USAGE, 0, "LOCAL_ERROR", "the body "
                                  "is larger than %d MiB; nothing was sent",
                                  ZPOST_BODY_MAX >> 20);
    else
    if (result != CLIENT_INPUT_OK)
        status = client_api_fail (app, CLIENT_EXIT_LOCAL, 0, "LOCAL_ERROR", "%s",
                                  *error? error: "cannot read the body from standard "
                                  "input; nothing was sent");
    else
    if (client_check_body (body, size))
        status = client_api_fail (app, CLIENT_EXIT_USAGE, 0, "LOCAL_ERROR", "%s",
                                  client_check_body (body, size));
    else
    if (size == 0 && !message && isatty (STDIN_FILENO))
        status = client_api_fail (app, CLIENT_EXIT_USAGE, 0, "LOCAL_ERROR", "the "
                                  "message is empty, so it was not sent; -m '' sends "
                                  "an empty body");
    else
        status = CLIENT_EXIT_DONE;

    if (status == CLIENT_EXIT_DONE) {
        zpost_msg_t *reply = client_api_send (app, recipients, subject, body, &status);
        if (reply && zpost_msg_status (reply) != ZPOST_OK)
            status = client_api_refusal (app, reply, call->state, 0, NULL);
        else
        if (reply) {
            const char *id = zpost_msg_get (reply, ZPOST_F_MESSAGE_ID);
            if (app->json) {
                json_t *object = json_pack ("{s:o, s:o}", "id", client_json_number (id),
                                            "to", client_json_names (recipients));
                client_json_emit (object);
                json_decref (object);
            }
            else {
                char *spaced = client_api_spaced (recipients);
                printf ("sent message %s from %s to %s%s\n", id,
                        client_state_username (call->state), spaced,
                        *subject? "": ", with no subject");
                free (spaced);
            }
            status = CLIENT_EXIT_DONE;
        }
        zpost_msg_destroy (&reply);
    }
    free (body);
    free (recipients);
    return status;
}

const client_command_t client_cmd_send = {
    "send", "--to NAMES --subject TEXT [-m TEXT]",
    "Send a message.",
    "\n"
    "Says what happened, as \"sent message 42 from alice to bob, carol\";\n"
    "--json gives the bare facts, for scripts.\n"
    "\n"
    "The body is TEXT with -m; otherwise standard input, when it is not a\n"
    "terminal; otherwise your editor ($VISUAL, $EDITOR, else vi) opens on an\n"
    "empty draft (a 0600 file, removed afterwards), and an empty draft sends\n"
    "nothing. Every recipient must exist, or nothing is sent.\n"
    "\n"
    "Options:\n"
    "  -t, --to NAMES        recipients, separated by commas; may be repeated\n"
    "  -s, --subject TEXT    one line, at most 255 bytes ('' for none)\n"
    "  -m, --message TEXT    the body\n"
    CLIENT_COMMAND_JSON_HELP
    "\n"
    "JSON: {\"id\": 42, \"to\": [\"alice\", \"bob\"]}\n",
    CLIENT_COMMAND_LOGIN | CLIENT_COMMAND_JSON,
    { { "to", 't', true, true }, { "subject", 's', true, false },
      { "message", 'm', true, false } },
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
    return s_list_options (call, &limit, &before);
}

static int
s_list (client_call_t *call)
{
    client_app_t *app = call->app;
    bool sent = client_call_flag (call, "sent");
    bool unread = client_call_flag (call, "unread");
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
        zpost_msg_t *reply = client_api_list (app, sent, unread, limit, before,
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
                //  Newest first: the first id is the widest there will be
                id_width = (int) strlen (id_text);
                char *header = client_output_list_header (id_width, sent);
                printf ("%s\n", header);
                free (header);
            }
            char *line = client_output_list_row (
                id_width, !sent && streq (zpost_msg_row_get (reply, row, ZPOST_F_SEEN), "0"),
                id_text, s_row_number (reply, row, ZPOST_F_DATE),
                zpost_msg_row_get (reply, row, sent? ZPOST_F_TO: ZPOST_F_FROM),
                client_show_subject (zpost_msg_row_get (reply, row, ZPOST_F_SUBJECT)),
                s_row_number (reply, row, ZPOST_F_SIZE));
            printf ("%s\n", line);
            free (line);
        }
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
            printf ("no %smessages in the %s of %s\n", unread? "unread ": "",
                    sent? "sent folder": "inbox", client_state_username (call->state));
        else
        if (more && !all) {
            printf ("more: zpost list%s%s", sent? " --sent": "", unread? " --unread": "");
            if (limit != S_LIST_LIMIT)
                printf (" --limit %d", limit);
            printf (" --before %" PRIu64 "\n", next_before);
        }
    }
    json_decref (entries);
    return status;
}

const client_command_t client_cmd_list = {
    "list", "[--sent] [--unread] [--limit N] [--before ID] [--all]",
    "List your inbox (or sent folder), newest first.",
    "\n"
    "One line per message: * if unread, id, date (local time), sender (or\n"
    "recipients), subject and size. Text other users wrote is shown with\n"
    "control and bidi characters escaped (\\x1b, \\u009b, \\u202e) and a\n"
    "backslash as \\\\.\n"
    "\n"
    "Options:\n"
    "      --sent            the sent folder instead of the inbox\n"
    "      --unread          only messages not yet read\n"
    "  -n, --limit N         at most N messages, 1 to 1000 (default 50; with\n"
    "                        --all, the page size, default 1000)\n"
    "      --before ID       only messages older than ID (the next page)\n"
    "      --all             every message, page after page\n"
    CLIENT_COMMAND_JSON_HELP
    "\n"
    "JSON: [{\"id\": 42, \"from\": \"alice\", \"to\": [\"bob\"], \"subject\": \"...\",\n"
    "        \"date\": UNIXTIME, \"size\": 120, \"seen\": false}, ...]\n",
    CLIENT_COMMAND_LOGIN | CLIENT_COMMAND_JSON,
    { { "sent", 0, false, false }, { "unread", 0, false, false },
      { "limit", 'n', true, false }, { "before", 0, true, false },
      { "all", 0, false, false } },
    0, 0, NULL, NULL, s_check_list, s_list
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
            client_show_stats (reply);
        status = CLIENT_EXIT_DONE;
    }
    zpost_msg_destroy (&reply);
    return status;
}

const client_command_t client_cmd_stats = {
    "stats", "[--server]",
    "Show how many messages you have and their size.",
    "\n"
    "Prints one figure per line: name and value (sizes in bytes).\n"
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
