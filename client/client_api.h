/*  =========================================================================
    client_api - what every face of the zpost client does the same way

    The one-shot commands (client_commands, client_cmd_*) and the guided
    session (client_shell) are two faces over this one layer:

    - opening the session: the server list (--server, $ZPOST_SERVER, the
      default), the server's key (given, known, or trusted now, through
      client_trust), our own key pair, the retries and their notices;
    - the login kept for a server (client_state), and the check that
      there is one;
    - requests, one function each: it builds the request from arguments
      the caller has checked, sends it with the session's token, Lazy
      Pirate retries and failover in client_session, and returns the
      reply, whatever its status, or NULL after saying why there is none;
    - refusals and failures, said as one sentence each on stderr, and with
      --json as an error object on stdout:
      {"status":N,"error":"NAME","reason":"...","detail":"..."|null}; a
      failure with no server status (no answer, a local error) has status
      0 and error NO_ANSWER, BAD_REPLY, INTERRUPTED, NOT_LOGGED_IN,
      KEY_CHANGED or LOCAL_ERROR.

    Sentences go to stderr after whatever is on stdout, "zpost: " first,
    or in the guided session (app->shell) capitalised and with a full
    stop. Whatever another user or the server wrote goes through
    client_output, never raw.
    =========================================================================
*/

#ifndef CLIENT_API_H_INCLUDED
#define CLIENT_API_H_INCLUDED

#include "client_check.h"
#include "client_config.h"
#include "client_json.h"
#include "client_keys.h"
#include "client_session.h"
#include "client_state.h"

//  Exit status (stable; scripts rely on it)
#define CLIENT_EXIT_DONE        0       //  done
#define CLIENT_EXIT_REFUSED     1       //  the server refused (4xx), or not logged in
#define CLIENT_EXIT_USAGE       2       //  usage error
#define CLIENT_EXIT_SERVER      3       //  no answer, a malformed answer, 5xx
#define CLIENT_EXIT_LOCAL       4       //  local error (keys, files, terminal)
#define CLIENT_EXIT_INTERRUPTED 130     //  as a shell reports death by SIGINT

//  What every face of the client works with: the global options, and the
//  configuration and session, made when first needed. main () fills the
//  options and makes config; client_api_finish destroys the rest.
typedef struct {
    const char *server;             //  --server, or NULL for the default
    const char *server_key;         //  --server-key, or NULL for the default
    int timeout;                    //  --timeout, ms per try
    int retries;                    //  --retries, tries per request
    bool verbose;                   //  -v
    const char *announce;           //  --announce EP, or NULL for port + 1
    int announce_port;              //  --announce-port, or 0
    bool accept_new_key;            //  --accept-new-key
    client_config_t *config;        //  where our files are
    client_session_t *session;      //  talks to the server, or NULL
    bool json;                      //  --json, global or the command's
    bool shell;                     //  the guided session is speaking: no
                                    //  "zpost: " before sentences
    client_keys_t *keys;            //  known servers, once read
    bool key_known;                 //  the server key came from keys
} client_app_t;


//  --------------------------------------------------------------------------
//  Opening the session

//  Make the session the first time it is needed: the server address, its
//  key (known, given, or trusted now), our key pair. Returns 0, or the
//  exit status after saying why not.
int
    client_api_open (client_app_t *app);

//  Set the server (list) in app->config from app->server, as open does,
//  without keys or a session: for what needs only the server's name.
//  Returns 0, or the exit status after saying why not.
int
    client_api_set_server (client_app_t *app);

//  Every server of the --server list by name ("a:5321, b:5321"), for
//  sentences and titles; after client_api_set_server. Caller frees.
char *
    client_api_server_names (client_app_t *app);

//  Destroy what was made in app: session, keys, configuration.
void
    client_api_finish (client_app_t *app);


//  --------------------------------------------------------------------------
//  The login kept for the server

//  The login state for the server (not read yet), after
//  client_api_set_server; NULL with the failure said and *status_p set.
client_state_t *
    client_api_state (client_app_t *app, int *status_p);

//  Open the session and give it the token of the login kept for this
//  server. Returns the state (the caller destroys it), or NULL with the
//  failure said ("not logged in to ...: run zpost login", exit 1) and
//  *status_p set.
client_state_t *
    client_api_logged_in (client_app_t *app, int *status_p);


//  --------------------------------------------------------------------------
//  Requests. Each builds its request from arguments the caller has
//  checked (client_check), sends it through the open session with the
//  session's token, and returns the reply, whatever its status; or NULL,
//  after saying why there is none, with *status_p set to the exit status.

zpost_msg_t *
    client_api_ping (client_app_t *app, bool broker, int *status_p);
zpost_msg_t *
    client_api_register (client_app_t *app, const char *username,
                         const char *password, int *status_p);
zpost_msg_t *
    client_api_login (client_app_t *app, const char *username,
                      const char *password, int *status_p);
//  In the guided session, one short try: a person leaving is not kept
zpost_msg_t *
    client_api_logout (client_app_t *app, int *status_p);
zpost_msg_t *
    client_api_passwd (client_app_t *app, const char *password,
                       const char *new_password, int *status_p);
zpost_msg_t *
    client_api_send (client_app_t *app, const char *recipients,
                     const char *subject, const char *body, int *status_p);
zpost_msg_t *
    client_api_list (client_app_t *app, bool sent, bool unread, int limit,
                     uint64_t before, int *status_p);
zpost_msg_t *
    client_api_read (client_app_t *app, uint64_t id, int *status_p);
zpost_msg_t *
    client_api_delete (client_app_t *app, bool sent, uint64_t id, int *status_p);
zpost_msg_t *
    client_api_stats (client_app_t *app, bool server, int *status_p);

//  LIST with a filter: "all", "unread" or "flagged"
zpost_msg_t *
    client_api_list_filtered (client_app_t *app, bool sent, const char *filter,
                              int limit, uint64_t before, int *status_p);
//  SEARCH: a page of the folder's messages whose within (any, from,
//  subject, body) holds query; LIST's rows
zpost_msg_t *
    client_api_search (client_app_t *app, bool sent, const char *within,
                       const char *query, int limit, uint64_t before, int *status_p);
//  LOOKUP: are the session and every recipient there? (430 names who is not)
zpost_msg_t *
    client_api_lookup (client_app_t *app, const char *recipients, int *status_p);
//  ANSWER: a SEND that answers message in_reply_to, in its thread
zpost_msg_t *
    client_api_answer (client_app_t *app, uint64_t in_reply_to,
                       const char *recipients, const char *subject,
                       const char *body, int *status_p);
zpost_msg_t *
    client_api_thread (client_app_t *app, uint64_t id, int limit,
                       uint64_t before, int *status_p);
//  MARK: flag is "seen", "unseen", "flagged" or "unflagged"
zpost_msg_t *
    client_api_mark (client_app_t *app, bool sent, uint64_t id,
                     const char *flag, int *status_p);
zpost_msg_t *
    client_api_unregister (client_app_t *app, const char *password, int *status_p);

//  Whether the inbox (or the sent folder) holds message id, asked with a
//  LIST of one row below id + 1, which changes nothing: DELETE answers
//  200 either way, as the protocol makes it idempotent. 1 it does, 0 it
//  does not; -1 after saying why there is no answer (a refusal too, with
//  state as client_api_refusal takes it), with *status_p set.
int
    client_api_holds (client_app_t *app, bool sent, uint64_t id,
                      client_state_t *state, int *status_p);

//  Send any request (it stays the caller's) and return its reply, or NULL
//  after saying why there is none. quick makes one short try
//  (client_session_request_quick).
zpost_msg_t *
    client_api_call (client_app_t *app, zpost_msg_t *request, bool quick,
                     int *status_p);


//  --------------------------------------------------------------------------
//  Sentences

//  Say a sentence that is already safe to print, on stderr: "zpost: a
//  sentence", or in the guided session, "A sentence."
void
    client_api_say (client_app_t *app, const char *sentence);

//  Say what went wrong, as one sentence on stderr and, with --json, as an
//  error object on stdout. status is the ZPOST status it stands for, or
//  0; error its name. What the sentence quotes is made safe. Returns
//  exit_status.
int
    client_api_fail (client_app_t *app, int exit_status, int status,
                     const char *error, const char *format, ...) CHECK_PRINTF (5);

//  Ctrl-C: "interrupted", INTERRUPTED, exit 130.
int
    client_api_interrupted (client_app_t *app);

//  Say what a reply that is not 200 means and what to do, and return the
//  exit status it maps to (4xx 1, else 3). A caller may give its own
//  sentence for one status (special, sentence). A 401 forgets the login
//  in state, if any.
int
    client_api_refusal (client_app_t *app, zpost_msg_t *reply,
                        client_state_t *state, int special, const char *sentence);

//  "a,b" as "a, b", for sentences. Caller frees.
char *
    client_api_spaced (const char *names);

#endif
