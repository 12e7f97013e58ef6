/*  =========================================================================
    client_commands - the one-shot commands of the zpost client: the table

        ping, register, login, logout, passwd, whoami,
        send, list, read, delete, stats, forget-key,
        reply, forward, thread, mark, drafts, unregister, watch, search

    Each command is one row (client_command_t): its name, usage, help,
    what it needs (CLIENT_COMMAND_SERVER, _LOGIN, _JSON), its options and
    operands, and its handler. The rows live with their handlers, by
    concern: accounts in client_cmd_account.c, mail in client_cmd_mail.c.
    client_commands_run is the prologue every command shares, written
    once:

    - its options, read with getopt_long from the row: --help prints the
      command's help, --json (when the row takes it) sets app->json as the
      global --json does, a bad option or a missing value is a usage error
      (exit 2), a repeated option that may repeat gathers its values;
    - the number of operands, against the row's bounds and complaints;
    - the row's check, for what else was typed, before the server;
    - the session opened (CLIENT_COMMAND_SERVER), or the login kept for
      the server found and its token set (CLIENT_COMMAND_LOGIN: "not
      logged in to ...: run zpost login", exit 1);
    - then the handler, which sends its requests through client_api and
      turns the reply into output and an exit status.

    Output. stdout carries results only. Every complaint is one sentence
    on stderr, "zpost: ...", saying what to do. Whatever another user
    wrote goes through client_output, never raw. With --json, stdout gets
    one JSON document (jansson), for a failure too (client_api). Usage
    errors (exit 2) print no JSON.
    =========================================================================
*/

#ifndef CLIENT_COMMANDS_H_INCLUDED
#define CLIENT_COMMANDS_H_INCLUDED

#include "client_api.h"

//  What a command needs before its handler runs
#define CLIENT_COMMAND_SERVER   1   //  the session, open (the server's key known)
#define CLIENT_COMMAND_LOGIN    2   //  a login kept for the server (and the session)
#define CLIENT_COMMAND_JSON     4   //  takes --json

#define CLIENT_COMMAND_OPTIONS_MAX  8   //  options of one command, --json and
                                        //  --help aside

//  One option of a command
typedef struct {
    const char *name;               //  long name, without "--"; NULL ends a list
    char letter;                    //  short form, or 0
    bool value;                     //  takes a value
    bool repeats;                   //  may be given again: the values are
                                    //  joined with ","
} client_option_t;

typedef struct _client_call_t client_call_t;
typedef struct _client_command_t client_command_t;

//  A handler (or a check): returns the exit status. A check returns
//  CLIENT_EXIT_DONE to go on.
typedef int (client_command_fn) (client_call_t *call);

struct _client_command_t {
    const char *name;               //  as typed
    const char *synopsis;           //  its arguments, for usage lines
    const char *summary;            //  one line for zpost --help
    const char *help;               //  the body of zpost COMMAND --help
    int flags;                      //  CLIENT_COMMAND_*
    client_option_t options [CLIENT_COMMAND_OPTIONS_MAX + 1];
    int operands_min;               //  operands it takes
    int operands_max;
    const char *too_few;            //  the complaints when there are fewer or
    const char *too_many;           //  more; NULL: "takes no arguments"
    client_command_fn *check;       //  what was typed, before the server; or NULL
    client_command_fn *run;         //  does it
};

//  One run of a command, as the handler sees it
struct _client_call_t {
    client_app_t *app;              //  global options, session
    const client_command_t *command;
    int argc;                       //  the operands, after the options
    char **argv;
    char *values [CLIENT_COMMAND_OPTIONS_MAX];
                                    //  per option of the row: NULL if not
                                    //  given, "" for a flag given
    client_state_t *state;          //  the login, with CLIENT_COMMAND_LOGIN
};

//  The help text every command's options end with
#define CLIENT_COMMAND_JSON_HELP \
    "      --json            print the result as JSON on stdout\n" \
    "  -h, --help            show this help\n"

//  The command called name, or NULL.
const client_command_t *
    client_commands_find (const char *name);

//  The index-th command, in the order zpost --help lists them; NULL past
//  the last.
const client_command_t *
    client_commands_at (size_t index);

//  Run command with its own arguments (argv [0] is its name): the
//  prologue above, then its handler. Returns the exit status.
int
    client_commands_run (client_app_t *app, const client_command_t *command,
                         int argc, char **argv);

//  The value of the option called name (as in the row), NULL if it was
//  not given; and whether it was given.
const char *
    client_call_value (client_call_t *call, const char *name);
bool
    client_call_flag (client_call_t *call, const char *name);

//  A usage error: "zpost COMMAND: complaint" (made safe), then the usage
//  line, on stderr. Returns CLIENT_EXIT_USAGE.
int
    client_call_misuse (client_call_t *call, const char *format, ...) CHECK_PRINTF (2);

//  getopt's complaint about the option just seen, in our own words, on
//  stderr; every optstring starts with ":" so that a missing value and an
//  unknown option can be told apart. who is "zpost" or "zpost COMMAND".
void
    client_commands_bad_option (const char *who, int code, char **argv);

//  The rows, defined with their handlers
extern const client_command_t client_cmd_ping;          //  client_cmd_account.c
extern const client_command_t client_cmd_register;
extern const client_command_t client_cmd_login;
extern const client_command_t client_cmd_logout;
extern const client_command_t client_cmd_passwd;
extern const client_command_t client_cmd_whoami;
extern const client_command_t client_cmd_send;          //  client_cmd_mail.c
extern const client_command_t client_cmd_list;
extern const client_command_t client_cmd_read;
extern const client_command_t client_cmd_delete;
extern const client_command_t client_cmd_stats;
extern const client_command_t client_cmd_forget_key;    //  client_cmd_keys.c
extern const client_command_t client_cmd_reply;
extern const client_command_t client_cmd_forward;
extern const client_command_t client_cmd_thread;
extern const client_command_t client_cmd_mark;
extern const client_command_t client_cmd_drafts;
extern const client_command_t client_cmd_unregister;    //  client_cmd_account.c
extern const client_command_t client_cmd_watch;         //  client_cmd_watch.c
extern const client_command_t client_cmd_search;

//  Selftest
void
    client_commands_test (bool verbose);

#endif
