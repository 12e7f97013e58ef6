/*  =========================================================================
    client_commands - the one-shot commands of the zpost client

        ping, register, login, logout, passwd, send, list, read, delete, stats

    Each command is one function and one row of a table; main () finds the
    row by name and runs it with the command's own arguments (argv [0] is
    the command name). A command reads its options, builds its request,
    talks to the server through client_session, and turns the reply into
    output and an exit status (below). Every command takes --help and
    --json.

    Output. stdout carries results only. Every complaint is one sentence
    on stderr, "zpost: ...", saying what to do. Whatever another user
    wrote goes through client_output, never raw. With --json, stdout gets
    one JSON document (jansson), for a failure too: server refusals as
    {"status":N,"error":"NAME","reason":"...","detail":"..."|null}, and
    failures with no server status (no answer, a local error) with
    status 0 and error NO_ANSWER, BAD_REPLY, INTERRUPTED or LOCAL_ERROR.
    Usage errors (exit 2) print no JSON.

    Login state: `zpost login` keeps the session token in a per-server
    state file (client_state); commands that need a session read it. No
    file, or a 401 from the server (which removes the file), is "not
    logged in: run zpost login", exit 1 either way.

    The server's key: --server-key, else $ZPOST_SERVER_KEY, else the line
    for the server in the known-servers file (client_keys). A --server
    list is one deployment whose brokers share one key: --server-key is
    every broker's, the known ones must agree, and the new ones are added
    together, after the first contact has shown one fingerprint (every
    broker of the list that announces must announce that same key). A server with
    none is asked for its key on its announce endpoint; the fingerprint is
    shown and the person asked (or --accept-new-key); the key is added to
    the file once the server has proved it holds it (a PING). A known
    server that does not answer is asked again: an announced key that
    differs from the known one stops the command, exit 4, with a warning
    that says what to do.

    The guided session (client_shell) shares all of this: it sends its
    requests through the client_commands_REQUEST functions, which build
    the request and turn every way of not getting a reply into a sentence,
    and it says refusals with client_commands_refusal.
    =========================================================================
*/

#ifndef CLIENT_COMMANDS_H_INCLUDED
#define CLIENT_COMMANDS_H_INCLUDED

#include "client_config.h"
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

//  What every command gets: the global options, and the configuration and
//  session, made when a command first needs them. main () fills the first
//  part and destroys config and session afterwards.
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
    bool json;                      //  the command's --json
    bool shell;                     //  the guided session is speaking: no
                                    //  "zpost: " before sentences
    client_keys_t *keys;            //  known servers, once read
    bool key_known;                 //  the server key came from keys
} client_app_t;

typedef struct _client_command_t client_command_t;
typedef int (client_command_fn) (client_app_t *app, const client_command_t *command,
                                 int argc, char **argv);

struct _client_command_t {
    const char *name;               //  as typed
    const char *synopsis;           //  its arguments, for usage lines
    const char *summary;            //  one line for zpost --help
    const char *help;               //  the body of zpost COMMAND --help
    client_command_fn *run;         //  does it; returns the exit status
};

//  The command called name, or NULL.
const client_command_t *
    client_commands_find (const char *name);

//  getopt's complaint about the option just seen, in our own words, on
//  stderr; every optstring starts with ":" so that a missing value and an
//  unknown option can be told apart. who is "zpost" or "zpost COMMAND".
void
    client_commands_bad_option (const char *who, int code, char **argv);

//  Parse a whole decimal number in min..max into *value_p. 0 or -1.
int
    client_commands_parse_int (const char *text, long min, long max, int *value_p);

//  The index-th command, in the order zpost --help lists them; NULL past
//  the last.
const client_command_t *
    client_commands_at (size_t index);

//  Destroy what commands made in app: session, keys, configuration.
void
    client_commands_finish (client_app_t *app);


//  --------------------------------------------------------------------------
//  Shared with the guided session (client_shell)

//  Make the session the first time it is needed: the server address, its
//  key (known, given, or trusted now), our key pair. Returns 0, or the
//  exit status after saying why not.
int
    client_commands_open_session (client_app_t *app);

//  Every server of the --server list by name ("a:5321, b:5321"), for
//  sentences and titles; after a successful open. Caller frees.
char *
    client_commands_server_names (client_app_t *app);

//  Say what went wrong, as one sentence on stderr ("zpost: " first unless
//  app->shell) and, with --json, as an error object on stdout. status is
//  the ZPOST status it stands for, or 0; error its name. Returns
//  exit_status.
int
    client_commands_fail (client_app_t *app, int exit_status, int status,
                          const char *error, const char *format, ...) CHECK_PRINTF (5);

//  Say what a reply that is not 200 means and what to do, and return the
//  exit status it maps to. A caller may give its own sentence for one
//  status (special, sentence). A 401 forgets the login in state, if any.
int
    client_commands_refusal (client_app_t *app, zpost_msg_t *reply,
                             client_state_t *state, int special, const char *sentence);

//  Requests. Each builds its request from arguments the caller has
//  checked, sends it through the open session with the session's token,
//  and returns the reply, whatever its status; or NULL, after saying why
//  there is none, with *status_p set to the exit status.
zpost_msg_t *
    client_commands_ping (client_app_t *app, bool broker, int *status_p);
zpost_msg_t *
    client_commands_register (client_app_t *app, const char *username,
                              const char *password, int *status_p);
zpost_msg_t *
    client_commands_login (client_app_t *app, const char *username,
                           const char *password, int *status_p);
zpost_msg_t *
    client_commands_logout (client_app_t *app, int *status_p);
zpost_msg_t *
    client_commands_passwd (client_app_t *app, const char *password,
                            const char *new_password, int *status_p);
zpost_msg_t *
    client_commands_send (client_app_t *app, const char *recipients,
                          const char *subject, const char *body, int *status_p);
zpost_msg_t *
    client_commands_list (client_app_t *app, bool sent, bool unread, int limit,
                          uint64_t before, int *status_p);
zpost_msg_t *
    client_commands_read (client_app_t *app, uint64_t id, int *status_p);
zpost_msg_t *
    client_commands_delete (client_app_t *app, bool sent, uint64_t id, int *status_p);
zpost_msg_t *
    client_commands_stats (client_app_t *app, bool server, int *status_p);

//  What a person typed, checked before it is sent. Each returns NULL if
//  it is fine, else a sentence saying what is wrong.
//  A username, folded to lower case as the server folds it: the caller
//  frees the result; NULL if it is not a username.
char *
    client_commands_username (const char *typed);
//  Recipients: names separated by commas, appended (folded) to *list_p,
//  a comma-separated list, counting them in *count_p. Returns NULL, or
//  what is wrong, for the caller to free.
char *
    client_commands_add_recipients (char **list_p, const char *typed, size_t *count_p);
const char *
    client_commands_subject_fault (const char *subject);
//  new_password: one being set, which must be at least 8 bytes
const char *
    client_commands_password_fault (const char *password, bool new_password);
const char *
    client_commands_body_fault (const char *body, size_t size);

//  A message id as a person types it: decimal, 1 to 2^64 - 1. 0 or -1.
int
    client_commands_parse_id (const char *text, uint64_t *id_p);

//  Print a READ reply (headers, a blank line, the body) or a STATS reply
//  (one "name  value" line each) on stdout, every text made safe.
void
    client_commands_print_message (zpost_msg_t *reply);
void
    client_commands_print_stats (zpost_msg_t *reply);

#endif
