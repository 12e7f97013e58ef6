/*  =========================================================================
    client_api - what every face of the zpost client does the same way

    Four parts, in this order: sentences (say, fail, refusal), opening the
    session (server list, trust through client_trust, key pair, retry
    notices), the login kept for a server, and the requests, one function
    each, all sent through client_api_call, which turns every way of not
    getting a reply into one sentence and an exit status.
    =========================================================================
*/

#include "client_api.h"
#include "client_output.h"
#include "client_trust.h"

#include <unistd.h>


//  --------------------------------------------------------------------------
//  Failures and refusals

//  Say a sentence that is already safe to print: "zpost: a sentence", or
//  in the guided session, "A sentence." On a terminal it is wrapped at
//  word boundaries to the terminal's width: a warning of several hundred
//  characters stays readable in 40 columns.
void
client_api_say (client_app_t *app, const char *sentence)
{
    fflush (stdout);
    char *text;
    size_t size = strlen (sentence);
    if (app->shell && *sentence)
        text = zsys_sprintf ("%c%s%s", toupper ((unsigned char) sentence [0]),
                             sentence + 1, strchr (".?!", sentence [size - 1])? "": ".");
    else
        text = zsys_sprintf ("%s%s", app->shell? "": "zpost: ", sentence);
    assert (text);
    if (isatty (STDERR_FILENO)) {
        char *wrapped = client_output_wrap (text, client_output_columns_of (STDERR_FILENO));
        free (text);
        text = wrapped;
    }
    fprintf (stderr, "%s\n", text);
    free (text);
}

//  Say what went wrong in one sentence on stderr and, with --json, as an
//  error object on stdout. status is the ZPOST status it stands for, or 0.
static int
s_vfail (client_app_t *app, int exit_status, int status, const char *error,
         const char *format, va_list args)
{
    char *sentence = zsys_vprintf (format, args);
    assert (sentence);
    char *safe = client_output_safe_str (sentence, CLIENT_OUTPUT_LINE);
    client_api_say (app, safe);
    free (safe);
    if (app->json) {
        json_t *object = json_pack ("{s:i, s:s, s:o, s:n}", "status", status,
                                    "error", error, "reason", client_json_text (sentence),
                                    "detail");
        assert (object);
        client_json_emit (object);
        json_decref (object);
    }
    free (sentence);
    return exit_status;
}

int
client_api_fail (client_app_t *app, int exit_status, int status,
                 const char *error, const char *format, ...)
{
    va_list args;
    va_start (args, format);
    int rc = s_vfail (app, exit_status, status, error, format, args);
    va_end (args);
    return rc;
}

int
client_api_interrupted (client_app_t *app)
{
    return client_api_fail (app, CLIENT_EXIT_INTERRUPTED, 0, "INTERRUPTED", "interrupted");
}


//  --------------------------------------------------------------------------
//  Opening the session

//  The name of the index-th server of the list, as known_servers has it.
//  Caller frees.
static char *
s_server_name (client_app_t *app, size_t index)
{
    return client_keys_server_name (client_config_server_endpoint (app->config, index));
}

//  Every server of the list by name, "a:5321, b:5321". Caller frees.
char *
client_api_server_names (client_app_t *app)
{
    char *names = strdup ("");
    assert (names);
    for (size_t index = 0; index < client_config_servers (app->config); index++) {
        char *name = s_server_name (app, index);
        char *longer = zsys_sprintf ("%s%s%s", names, index? ", ": "", name);
        assert (longer);
        free (names);
        free (name);
        names = longer;
    }
    return names;
}


//  Before a retry, on a terminal: what went wrong, and where we try next
static void
s_notice (void *arg, client_session_miss_t miss, const char *missed,
          const char *next, int next_try, int tries)
{
    client_app_t *app = (client_app_t *) arg;
    char *server = client_keys_server_name (missed);
    char *then = streq (missed, next)
               ? strdup ("trying again")
               : zsys_sprintf ("trying %s", next + (strncmp (next, "tcp://", 6)? 0: 6));
    assert (then);
    const char *prefix = app->shell? "": "zpost: ";
    fflush (stdout);
    if (miss == CLIENT_SESSION_LOST)
        fprintf (stderr, "%slost the connection to %s, %s (%d/%d)\n",
                 prefix, server, then, next_try, tries);
    else
    if (miss == CLIENT_SESSION_REFUSED_CONNECT)
        fprintf (stderr, "%scannot connect to %s, %s (%d/%d)\n",
                 prefix, server, then, next_try, tries);
    else
    if (miss == CLIENT_SESSION_HANDSHAKE)
        fprintf (stderr, "%s%s closed the connection during the handshake, "
                 "%s (%d/%d)\n", prefix, server, then, next_try, tries);
    else
    if (miss == CLIENT_SESSION_UNAVAILABLE)
        fprintf (stderr, "%s%s has no store available (503), %s (%d/%d)\n",
                 prefix, server, then, next_try, tries);
    else
        fprintf (stderr, "%sno answer from %s, %s (%d/%d)\n",
                 prefix, server, then, next_try, tries);
    free (then);
    free (server);
}

int
client_api_set_server (client_app_t *app)
{
    assert (app);
    if (client_config_set_server (app->config, app->server)) {
        //  It quotes what was typed
        char *safe = client_output_safe_str (client_config_error (app->config),
                                             CLIENT_OUTPUT_LINE);
        client_api_say (app, safe);
        free (safe);
        return CLIENT_EXIT_USAGE;
    }
    return CLIENT_EXIT_DONE;
}

void
client_api_finish (client_app_t *app)
{
    assert (app);
    client_session_destroy (&app->session);
    client_keys_destroy (&app->keys);
    client_config_destroy (&app->config);
}

//  Make the session the first time a command needs the server: address,
//  server key and our own key pair, each refused with a sentence.
int
client_api_open (client_app_t *app)
{
    if (app->session)
        return CLIENT_EXIT_DONE;
    int status = client_api_set_server (app);
    if (status)
        return status;
    zcert_t *cert = client_config_client_cert (app->config);
    if (!cert)
        return client_api_fail (app, CLIENT_EXIT_LOCAL, 0, "LOCAL_ERROR", "%s",
                       client_config_error (app->config));
    bool pin;
    status = client_trust_server_key (app, &pin);
    if (status)
        return status;
    app->session = client_session_new (client_config_server_endpoint (app->config, 0),
                                       client_config_server_key (app->config), cert);
    if (!app->session)
        return client_api_fail (app, CLIENT_EXIT_LOCAL, 0, "LOCAL_ERROR",
                       "cannot initialise libsodium");
    for (size_t index = 1; index < client_config_servers (app->config); index++) {
        int rc = client_session_add_endpoint (
            app->session, client_config_server_endpoint (app->config, index));
        assert (rc == 0);       //  client_config took each server once
    }
    client_session_set_timeout (app->session, app->timeout);
    client_session_set_retries (app->session, app->retries);
    client_session_set_verbose (app->session, app->verbose);
    //  A person at a terminal is told why nothing seems to happen
    if (isatty (STDERR_FILENO))
        client_session_set_notify (app->session, s_notice, app);
    //  Whatever the key's source, a silent server is asked what it holds
    client_session_set_check (app->session, client_trust_check_known, app);
    if (pin) {
        status = client_trust_pin (app);
        if (status)
            client_session_destroy (&app->session);
    }
    return status;
}

//  Send a request and get its reply, whatever its status. On no reply,
//  say why and set *status_p to the exit status.
//  A quick call makes one short try (client_session_request_quick).
zpost_msg_t *
client_api_call (client_app_t *app, zpost_msg_t *request, bool quick,
                 int *status_p)
{
    client_session_t *session = app->session;
    zpost_msg_t *reply = quick? client_session_request_quick (session, request)
                              : client_session_request (session, request);
    if (reply)
        return reply;

    char how [64];
    if (client_session_miss (session) == CLIENT_SESSION_TIMED_OUT)
        snprintf (how, sizeof (how), "%d ms each", client_session_timeout (session));
    else
        snprintf (how, sizeof (how), "%s",
                  client_session_miss_text (client_session_miss (session)));
    switch (client_session_failure (session)) {
        case CLIENT_SESSION_NO_ANSWER:
            if (client_session_brokers (session) > 1 && !quick) {
                char *names = client_api_server_names (app);
                *status_p = client_api_fail (app, CLIENT_EXIT_SERVER, 0, "NO_ANSWER",
                                    "no answer from any of %s after %d tries (the "
                                    "last: %s); is a zpost-broker of the list running "
                                    "and is the server key right?", names,
                                    client_session_tries (session), how);
                free (names);
                break;
            }
            *status_p = client_api_fail (app, CLIENT_EXIT_SERVER, 0, "NO_ANSWER",
                                "no answer from %s after %d %s (%s); "
                                "is zpost-broker running and is the server key right?",
                                client_session_endpoint (session),
                                client_session_tries (session),
                                client_session_tries (session) == 1? "try": "tries",
                                how);
            break;
        case CLIENT_SESSION_INTERRUPTED:
            *status_p = client_api_interrupted (app);
            break;
        case CLIENT_SESSION_SOCKET:
            *status_p = client_api_fail (app, CLIENT_EXIT_LOCAL, 0, "LOCAL_ERROR", "%s",
                                client_session_error (session));
            break;
        case CLIENT_SESSION_REFUSED:
            *status_p = client_api_fail (app, CLIENT_EXIT_LOCAL, 0, "KEY_CHANGED", "%s",
                                client_session_error (session));
            break;
        default:
            *status_p = client_api_fail (app, CLIENT_EXIT_SERVER, 0, "BAD_REPLY", "%s",
                                client_session_error (session));
            break;
    }
    return NULL;
}


//  "a,b" as "a, b", for sentences
char *
client_api_spaced (const char *names)
{
    size_t size = strlen (names);
    char *spaced = (char *) malloc (size * 2 + 1);
    assert (spaced);
    size_t out = 0;
    for (size_t index = 0; index < size; index++) {
        spaced [out++] = names [index];
        if (names [index] == ',')
            spaced [out++] = ' ';
    }
    spaced [out] = 0;
    return spaced;
}

//  A reply that is not 200 OK: say what the server said and what to do,
//  and map its status to our exit status. A command may give its own
//  sentence for one status (special, sentence). 401 forgets the login.
int
client_api_refusal (client_app_t *app, zpost_msg_t *reply, client_state_t *state,
                    int special, const char *sentence)
{
    int status = zpost_msg_status (reply);
    assert (status != ZPOST_OK);
    const char *detail = zpost_msg_get (reply, ZPOST_F_DETAIL);
    char *safe_detail = detail? client_output_safe_str (detail, CLIENT_OUTPUT_LINE): NULL;
    const char *reason = zpost_msg_reason (reply);
    char *said = NULL;

    if (status == special && sentence)
        said = strdup (sentence);
    else
    if (status == ZPOST_NOT_LOGGED_IN) {
        said = strdup (app->shell? "your session has ended (logged out, or idle "
                                   "too long); log in again"
                                 : "not logged in: run zpost login");
        if (state)
            client_state_remove (state);
    }
    else
    if (status == ZPOST_THROTTLED && safe_detail)
        said = zsys_sprintf ("too many failed attempts: wait %s second%s, then try again",
                             safe_detail, streq (safe_detail, "1")? "": "s");
    else
    if (status == ZPOST_UNKNOWN_RECIPIENT && detail) {
        char *names = client_api_spaced (safe_detail);
        said = zsys_sprintf ("no such user: %s; nothing was sent, check the names "
                             "and send again", names);
        free (names);
    }
    else
    if (status == ZPOST_QUOTA_EXCEEDED) {
        char *names = safe_detail? client_api_spaced (safe_detail): NULL;
        said = zsys_sprintf ("the mailbox of %s is full; nothing was sent, try "
                             "again when it has room", names? names: "a recipient");
        free (names);
    }
    else
    if (status == ZPOST_STORE_UNAVAILABLE) {
        //  The broker's own words say which: no store at all, or none in time
        char *safe_reason = *reason? client_output_safe_str (reason,
                                                             CLIENT_OUTPUT_LINE): NULL;
        said = zsys_sprintf ("the message store is unavailable (503): %s",
                             safe_reason? safe_reason: "no store took the "
                             "request; try again shortly");
        free (safe_reason);
    }
    else {
        char *safe_reason = client_output_safe_str (*reason? reason:
                                                    zpost_status_reason (status),
                                                    CLIENT_OUTPUT_LINE);
        said = zsys_sprintf ("%s (%d %s%s%s)", safe_reason, status,
                             zpost_status_name (status), safe_detail? ": ": "",
                             safe_detail? safe_detail: "");
        free (safe_reason);
    }
    assert (said);
    //  Already safe: printed as it is
    client_api_say (app, said);
    if (app->json) {
        json_t *object = json_pack ("{s:i, s:s, s:o, s:o}", "status", status,
                                    "error", zpost_status_name (status),
                                    "reason", client_json_text (reason),
                                    "detail", client_json_text (detail));
        assert (object);
        client_json_emit (object);
        json_decref (object);
    }
    free (said);
    free (safe_detail);
    return status >= 400 && status < 500? CLIENT_EXIT_REFUSED: CLIENT_EXIT_SERVER;
}




//  The login state for the server, made when needed. NULL with a failure
//  said if there is no home directory.
client_state_t *
client_api_state (client_app_t *app, int *status_p)
{
    *status_p = CLIENT_EXIT_DONE;
    const char *state_dir = client_config_state_dir (app->config);
    if (!state_dir) {
        *status_p = client_api_fail (app, CLIENT_EXIT_LOCAL, 0, "LOCAL_ERROR",
                            "cannot find your home directory; set HOME or XDG_STATE_HOME");
        return NULL;
    }
    client_state_t *state = client_state_new (state_dir, client_config_endpoint (app->config));
    assert (state);
    return state;
}

//  Open the session and give it the token of the login kept for this
//  server. Returns the state (the caller destroys it), or NULL with a
//  failure said and *status_p set.
client_state_t *
client_api_logged_in (client_app_t *app, int *status_p)
{
    *status_p = client_api_open (app);
    if (*status_p)
        return NULL;
    client_state_t *state = client_api_state (app, status_p);
    if (!state)
        return NULL;
    int rc = client_state_load (state);
    //  No session kept here: no server said 401, so the JSON status is 0,
    //  and the error name is the one a server's 401 carries
    if (rc == 1)
        *status_p = client_api_fail (app, CLIENT_EXIT_REFUSED, 0, "NOT_LOGGED_IN",
                            "not logged in to %s: run zpost login",
                            client_config_endpoint (app->config));
    else
    if (rc == -1)
        *status_p = client_api_fail (app, CLIENT_EXIT_LOCAL, 0, "LOCAL_ERROR", "%s",
                            client_state_error (state));
    if (rc) {
        client_state_destroy (&state);
        return NULL;
    }
    client_session_set_token (app->session, client_state_token (state));
    return state;
}



//  --------------------------------------------------------------------------
//  Requests, one function each, shared with the guided session

//  A new request for the open session, with its token
static zpost_msg_t *
s_request (client_app_t *app, zpost_command_t command)
{
    assert (app->session);
    return client_session_new_request (app->session, command);
}

//  Send the request, destroy it (which wipes any password it held), and
//  return the reply
static zpost_msg_t *
s_send (client_app_t *app, zpost_msg_t **request_p, int *status_p)
{
    zpost_msg_t *reply = client_api_call (app, *request_p, false, status_p);
    zpost_msg_destroy (request_p);
    return reply;
}

zpost_msg_t *
client_api_ping (client_app_t *app, bool broker, int *status_p)
{
    zpost_msg_t *request = s_request (app, ZPOST_CMD_PING);
    zpost_msg_set (request, ZPOST_F_TARGET, broker? "broker": "store");
    return s_send (app, &request, status_p);
}

zpost_msg_t *
client_api_register (client_app_t *app, const char *username,
                     const char *password, int *status_p)
{
    zpost_msg_t *request = s_request (app, ZPOST_CMD_REGISTER);
    zpost_msg_set (request, ZPOST_F_USERNAME, username);
    zpost_msg_set (request, ZPOST_F_PASSWORD, password);
    return s_send (app, &request, status_p);
}

zpost_msg_t *
client_api_login (client_app_t *app, const char *username,
                  const char *password, int *status_p)
{
    zpost_msg_t *request = s_request (app, ZPOST_CMD_LOGIN);
    zpost_msg_set (request, ZPOST_F_USERNAME, username);
    zpost_msg_set (request, ZPOST_F_PASSWORD, password);
    return s_send (app, &request, status_p);
}

zpost_msg_t *
client_api_logout (client_app_t *app, int *status_p)
{
    zpost_msg_t *request = s_request (app, ZPOST_CMD_LOGOUT);
    //  The guided session logs out as a person leaves: one short try, so
    //  that a server that is down does not keep them; the login is
    //  forgotten here whatever the answer.
    zpost_msg_t *reply = client_api_call (app, request, app->shell, status_p);
    zpost_msg_destroy (&request);
    return reply;
}

zpost_msg_t *
client_api_passwd (client_app_t *app, const char *password,
                   const char *new_password, int *status_p)
{
    zpost_msg_t *request = s_request (app, ZPOST_CMD_PASSWD);
    zpost_msg_set (request, ZPOST_F_PASSWORD, password);
    zpost_msg_set (request, ZPOST_F_NEW_PASSWORD, new_password);
    return s_send (app, &request, status_p);
}

zpost_msg_t *
client_api_send (client_app_t *app, const char *recipients, const char *subject,
                 const char *body, int *status_p)
{
    zpost_msg_t *request = s_request (app, ZPOST_CMD_SEND);
    zpost_msg_set (request, ZPOST_F_RECIPIENTS, recipients);
    zpost_msg_set (request, ZPOST_F_SUBJECT, subject);
    zpost_msg_set (request, ZPOST_F_BODY, body);
    return s_send (app, &request, status_p);
}

zpost_msg_t *
client_api_list (client_app_t *app, bool sent, bool unread, int limit,
                 uint64_t before, int *status_p)
{
    assert (limit >= 1 && limit <= ZPOST_LIST_MAX);
    zpost_msg_t *request = s_request (app, ZPOST_CMD_LIST);
    zpost_msg_set (request, ZPOST_F_FOLDER, sent? "sent": "inbox");
    zpost_msg_set (request, ZPOST_F_FILTER, unread? "unread": "all");
    zpost_msg_set_number (request, ZPOST_F_LIMIT, (uint64_t) limit);
    zpost_msg_set_number (request, ZPOST_F_BEFORE, before);
    return s_send (app, &request, status_p);
}

zpost_msg_t *
client_api_list_filtered (client_app_t *app, bool sent, const char *filter,
                          int limit, uint64_t before, int *status_p)
{
    assert (limit >= 1 && limit <= ZPOST_LIST_MAX);
    zpost_msg_t *request = s_request (app, ZPOST_CMD_LIST);
    zpost_msg_set (request, ZPOST_F_FOLDER, sent? "sent": "inbox");
    zpost_msg_set (request, ZPOST_F_FILTER, filter);
    zpost_msg_set_number (request, ZPOST_F_LIMIT, (uint64_t) limit);
    zpost_msg_set_number (request, ZPOST_F_BEFORE, before);
    return s_send (app, &request, status_p);
}

zpost_msg_t *
client_api_search (client_app_t *app, bool sent, const char *within, const char *query,
                   int limit, uint64_t before, int *status_p)
{
    assert (limit >= 1 && limit <= ZPOST_LIST_MAX);
    zpost_msg_t *request = s_request (app, ZPOST_CMD_SEARCH);
    zpost_msg_set (request, ZPOST_F_FOLDER, sent? "sent": "inbox");
    zpost_msg_set (request, ZPOST_F_WITHIN, within);
    zpost_msg_set (request, ZPOST_F_QUERY, query);
    zpost_msg_set_number (request, ZPOST_F_LIMIT, (uint64_t) limit);
    zpost_msg_set_number (request, ZPOST_F_BEFORE, before);
    return s_send (app, &request, status_p);
}

zpost_msg_t *
client_api_lookup (client_app_t *app, const char *recipients, int *status_p)
{
    zpost_msg_t *request = s_request (app, ZPOST_CMD_LOOKUP);
    zpost_msg_set (request, ZPOST_F_RECIPIENTS, recipients);
    return s_send (app, &request, status_p);
}

zpost_msg_t *
client_api_answer (client_app_t *app, uint64_t in_reply_to, const char *recipients,
                   const char *subject, const char *body, int *status_p)
{
    zpost_msg_t *request = s_request (app, ZPOST_CMD_ANSWER);
    zpost_msg_set_number (request, ZPOST_F_IN_REPLY_TO, in_reply_to);
    zpost_msg_set (request, ZPOST_F_RECIPIENTS, recipients);
    zpost_msg_set (request, ZPOST_F_SUBJECT, subject);
    zpost_msg_set (request, ZPOST_F_BODY, body);
    return s_send (app, &request, status_p);
}

zpost_msg_t *
client_api_thread (client_app_t *app, uint64_t id, int limit, uint64_t before,
                   int *status_p)
{
    assert (limit >= 1 && limit <= ZPOST_LIST_MAX);
    zpost_msg_t *request = s_request (app, ZPOST_CMD_THREAD);
    zpost_msg_set_number (request, ZPOST_F_MESSAGE_ID, id);
    zpost_msg_set_number (request, ZPOST_F_LIMIT, (uint64_t) limit);
    zpost_msg_set_number (request, ZPOST_F_BEFORE, before);
    return s_send (app, &request, status_p);
}

zpost_msg_t *
client_api_mark (client_app_t *app, bool sent, uint64_t id, const char *flag,
                 int *status_p)
{
    zpost_msg_t *request = s_request (app, ZPOST_CMD_MARK);
    zpost_msg_set (request, ZPOST_F_FOLDER, sent? "sent": "inbox");
    zpost_msg_set_number (request, ZPOST_F_MESSAGE_ID, id);
    zpost_msg_set (request, ZPOST_F_FLAG, flag);
    return s_send (app, &request, status_p);
}

zpost_msg_t *
client_api_unregister (client_app_t *app, const char *password, int *status_p)
{
    zpost_msg_t *request = s_request (app, ZPOST_CMD_UNREGISTER);
    zpost_msg_set (request, ZPOST_F_PASSWORD, password);
    return s_send (app, &request, status_p);
}

zpost_msg_t *
client_api_read (client_app_t *app, uint64_t id, int *status_p)
{
    zpost_msg_t *request = s_request (app, ZPOST_CMD_READ);
    zpost_msg_set_number (request, ZPOST_F_MESSAGE_ID, id);
    return s_send (app, &request, status_p);
}

zpost_msg_t *
client_api_delete (client_app_t *app, bool sent, uint64_t id, int *status_p)
{
    zpost_msg_t *request = s_request (app, ZPOST_CMD_DELETE);
    zpost_msg_set (request, ZPOST_F_FOLDER, sent? "sent": "inbox");
    zpost_msg_set_number (request, ZPOST_F_MESSAGE_ID, id);
    return s_send (app, &request, status_p);
}

zpost_msg_t *
client_api_stats (client_app_t *app, bool server, int *status_p)
{
    zpost_msg_t *request = s_request (app, ZPOST_CMD_STATS);
    zpost_msg_set (request, ZPOST_F_SCOPE, server? "server": "user");
    return s_send (app, &request, status_p);
}

int
client_api_holds (client_app_t *app, bool sent, uint64_t id, client_state_t *state,
                  int *status_p)
{
    assert (app);
    //  The newest message below id + 1 is id itself if the folder holds it;
    //  before 0 is "from the newest", which is all ids up to the last
    uint64_t before = id == UINT64_MAX? 0: id + 1;
    zpost_msg_t *reply = client_api_list (app, sent, false, 1, before, status_p);
    if (!reply)
        return -1;
    int held = -1;
    if (zpost_msg_status (reply) != ZPOST_OK)
        *status_p = client_api_refusal (app, reply, state, 0, NULL);
    else {
        const char *first = zpost_msg_rows (reply) > 0
                          ? zpost_msg_row_get (reply, 0, ZPOST_F_MESSAGE_ID): NULL;
        held = first && strtoull (first, NULL, 10) == id;
    }
    zpost_msg_destroy (&reply);
    return held;
}
