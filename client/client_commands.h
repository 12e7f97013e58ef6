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
    =========================================================================
*/

#ifndef CLIENT_COMMANDS_H_INCLUDED
#define CLIENT_COMMANDS_H_INCLUDED

#include "client_config.h"
#include "client_session.h"

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
    client_config_t *config;        //  where our files are
    client_session_t *session;      //  talks to the server, or NULL
    bool json;                      //  the command's --json
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

#endif
