/*  =========================================================================
    client_cmd_account - the one-shot commands about accounts and sessions

        ping        does the server answer, and how fast
        register    create an account
        login       log in, and keep the session for the commands after it
        logout      end the session there and forget it here
        passwd      change the password
        whoami      which login this client keeps for the server

    Each is a row of the command table (client_commands) and its handler;
    the prologue has read the options and opened the session before a
    handler runs. Passwords are never arguments: they are asked for on the
    terminal without echo, or read from standard input (--password-stdin)
    or the environment, and wiped once sent.
    =========================================================================
*/

#include "client_commands.h"
#include "client_input.h"
#include "client_output.h"

#include <errno.h>
#include <sodium.h>
#include <unistd.h>

//  --------------------------------------------------------------------------
//  Passwords

typedef enum {
    S_PASSWORD_CURRENT,             //  one that exists: any length
    S_PASSWORD_NEW                  //  one being set: at least 8 bytes
} s_password_kind_t;

//  Get one password: a line of stdin with --password-stdin, else the
//  environment variable, else a prompt on the terminal (twice if
//  confirm). Returns 0 with *password_p set, or the exit status after
//  saying why not.
static int
s_password (client_app_t *app, bool from_stdin, const char *variable,
            const char *prompt, bool confirm, s_password_kind_t kind,
            char **password_p)
{
    *password_p = NULL;
    char *password = NULL;
    client_input_t result;
    if (from_stdin) {
        result = client_input_line (STDIN_FILENO, ZPOST_PASSWORD_MAX, &password);
        if (result == CLIENT_INPUT_EOF)
            return client_api_fail (app, CLIENT_EXIT_USAGE, 0, "LOCAL_ERROR",
                           "--password-stdin: standard input ended before the %s; "
                           "give one password per line",
                           kind == S_PASSWORD_NEW? "new password": "password");
    }
    else
    if (getenv (variable)) {
        password = strdup (getenv (variable));
        assert (password);
        result = strlen (password) > ZPOST_PASSWORD_MAX? CLIENT_INPUT_TOO_LONG: CLIENT_INPUT_OK;
        if (result != CLIENT_INPUT_OK)
            client_input_wipe (&password);
    }
    else
    if (isatty (STDIN_FILENO)) {
        result = client_input_secret (STDIN_FILENO, prompt, ZPOST_PASSWORD_MAX, &password);
        if (result == CLIENT_INPUT_EOF)
            return client_api_fail (app, CLIENT_EXIT_USAGE, 0, "LOCAL_ERROR",
                           "no password given; nothing was done");
        if (result == CLIENT_INPUT_OK && confirm) {
            char *again = NULL;
            result = client_input_secret (STDIN_FILENO, "Again: ", ZPOST_PASSWORD_MAX, &again);
            if (result == CLIENT_INPUT_OK && !streq (password, again)) {
                client_input_wipe (&password);
                client_input_wipe (&again);
                return client_api_fail (app, CLIENT_EXIT_USAGE, 0, "LOCAL_ERROR",
                               "the two passwords differ; nothing was done, try again");
            }
            client_input_wipe (&again);
            if (result != CLIENT_INPUT_OK)
                client_input_wipe (&password);
        }
    }
    else
        return client_api_fail (app, CLIENT_EXIT_USAGE, 0, "LOCAL_ERROR",
                       "standard input is not a terminal, so the password cannot be "
                       "asked for; use --password-stdin or set %s", variable);

    if (result == CLIENT_INPUT_INTERRUPTED)
        return client_api_interrupted (app);
    if (result == CLIENT_INPUT_TOO_LONG)
        return client_api_fail (app, CLIENT_EXIT_USAGE, 0, "LOCAL_ERROR",
                       "the password is longer than %d bytes; choose a shorter one",
                       ZPOST_PASSWORD_MAX);
    if (result != CLIENT_INPUT_OK)
        return client_api_fail (app, CLIENT_EXIT_LOCAL, 0, "LOCAL_ERROR",
                       "cannot read the password: %s", strerror (errno));
    assert (password);

    const char *fault = client_check_password (password, kind == S_PASSWORD_NEW);
    if (fault) {
        client_input_wipe (&password);
        return client_api_fail (app, CLIENT_EXIT_USAGE, 0, "LOCAL_ERROR", "%s", fault);
    }
    *password_p = password;
    return CLIENT_EXIT_DONE;
}


//  --------------------------------------------------------------------------
//  ping

static int
s_ping (client_call_t *call)
{
    client_app_t *app = call->app;
    int status;
    zpost_msg_t *reply = client_api_ping (app, client_call_flag (call, "broker"), &status);
    if (!reply)
        return status;

    if (zpost_msg_status (reply) != ZPOST_OK)
        status = client_api_refusal (app, reply, NULL, 0, NULL);
    else {
        double rtt = (double) client_session_rtt (app->session) / 1000.0;
        if (app->json) {
            json_t *object = json_pack ("{s:o, s:o, s:f}",
                "answered_by", client_json_text (zpost_msg_get (reply, ZPOST_F_ANSWERED_BY)),
                "server_version", client_json_text (zpost_msg_get (reply,
                                                                   ZPOST_F_SERVER_VERSION)),
                "rtt_ms", rtt);
            assert (object);
            client_json_emit (object);
            json_decref (object);
        }
        else {
            char *answered_by = client_output_safe_str (
                zpost_msg_get (reply, ZPOST_F_ANSWERED_BY), CLIENT_OUTPUT_LINE);
            char *version = client_output_safe_str (
                zpost_msg_get (reply, ZPOST_F_SERVER_VERSION), CLIENT_OUTPUT_LINE);
            printf ("pong from %s (%s) in %.2f ms\n", answered_by, version, rtt);
            free (answered_by);
            free (version);
        }
        status = CLIENT_EXIT_DONE;
    }
    zpost_msg_destroy (&reply);
    return status;
}

const client_command_t client_cmd_ping = {
    "ping", "[--broker]",
    "Check that the server answers, and how fast.",
    "\n"
    "Sends PING to the store through the broker, or to the broker alone with\n"
    "--broker, and prints who answered, its version and the round-trip time:\n"
    "\n"
    "    pong from store (zpost 0.1.0) in 0.42 ms\n"
    "\n"
    "Options:\n"
    "      --broker          ask the broker itself, not the store behind it\n"
    CLIENT_COMMAND_JSON_HELP
    "\n"
    "JSON: {\"answered_by\": \"store\", \"server_version\": \"...\", \"rtt_ms\": 0.42}\n",
    CLIENT_COMMAND_SERVER | CLIENT_COMMAND_JSON,
    { { "broker", 0, false, false } },
    0, 0, NULL, NULL, NULL, s_ping
};


//  --------------------------------------------------------------------------
//  register and login

#define S_PASSWORD_HELP \
    "      --password-stdin  read the password from the first line of standard\n" \
    "                        input instead of asking for it on the terminal\n"

//  The USERNAME typed, or for login without one, the config file's user;
//  NULL if neither
static const char *
s_username_operand (client_call_t *call)
{
    if (call->argc > 0)
        return call->argv [0];
    client_settings_t *settings = client_config_settings (call->app->config);
    return settings? client_settings_get (settings, "user"): NULL;
}

//  USERNAME, for register and login
static int
s_check_username (client_call_t *call)
{
    if (!s_username_operand (call))
        return client_call_misuse (call, "needs a USERNAME (or user = NAME in the "
                                   "config file)");
    char *username = client_check_username (s_username_operand (call));
    if (!username)
        return client_call_misuse (call, "'%.64s' is not a username: use 1 to 32 of "
                                   "a-z 0-9 . _ -, starting with a letter or digit",
                                   s_username_operand (call));
    free (username);
    return CLIENT_EXIT_DONE;
}

static int
s_register (client_call_t *call)
{
    client_app_t *app = call->app;
    char *username = client_check_username (call->argv [0]);
    assert (username);          //  checked
    char *password = NULL;
    int status = s_password (app, client_call_flag (call, "password-stdin"),
                             "ZPOST_PASSWORD", "Password: ", true, S_PASSWORD_NEW,
                             &password);
    if (status) {
        free (username);
        return status;
    }

    zpost_msg_t *reply = client_api_register (app, username, password, &status);
    client_input_wipe (&password);
    if (reply) {
        if (zpost_msg_status (reply) == ZPOST_OK) {
            if (app->json) {
                json_t *object = json_pack ("{s:s, s:s}", "username", username,
                                            "server", client_session_endpoint (app->session));
                client_json_emit (object);
                json_decref (object);
            }
            else
                printf ("registered %s on %s; log in with: zpost login %s\n", username,
                        client_session_endpoint (app->session), username);
            status = CLIENT_EXIT_DONE;
        }
        else {
            char *sentence = zsys_sprintf ("the name %s is taken; choose another", username);
            status = client_api_refusal (app, reply, NULL, ZPOST_NAME_TAKEN, sentence);
            free (sentence);
        }
        zpost_msg_destroy (&reply);
    }
    free (username);
    return status;
}

const client_command_t client_cmd_register = {
    "register", "USERNAME",
    "Create an account.",
    "\n"
    "USERNAME is 1 to 32 of a-z 0-9 . _ -, starting with a letter or digit;\n"
    "capitals are taken as small letters. The password (8 to 1024 bytes) is\n"
    "asked for twice on the terminal, without echo; or it is the first line\n"
    "of standard input with --password-stdin, or $ZPOST_PASSWORD. It is never\n"
    "taken from the command line. Registering does not log in.\n"
    "\n"
    "Options:\n"
    S_PASSWORD_HELP
    CLIENT_COMMAND_JSON_HELP
    "\n"
    "JSON: {\"username\": \"alice\", \"server\": \"tcp://...\"}\n",
    CLIENT_COMMAND_SERVER | CLIENT_COMMAND_JSON,
    { { "password-stdin", 0, false, false } },
    1, 1, "needs a USERNAME",
    "takes one USERNAME (the password is asked for, never given as an argument)",
    s_check_username, s_register
};

//  Close the session a token names, as well as we can, saying nothing:
//  used when we cannot keep a token we were just given.
static void
s_quiet_logout (client_app_t *app, const char *token)
{
    client_session_set_token (app->session, token);
    zpost_msg_t *request = client_session_new_request (app->session, ZPOST_CMD_LOGOUT);
    zpost_msg_t *reply = client_session_request (app->session, request);
    zpost_msg_destroy (&reply);
    zpost_msg_destroy (&request);
    client_session_set_token (app->session, NULL);
}


static int
s_login (client_call_t *call)
{
    client_app_t *app = call->app;
    char *username = client_check_username (s_username_operand (call));
    assert (username);          //  checked
    char *password = NULL;
    int status = CLIENT_EXIT_DONE;
    client_state_t *state = client_api_state (app, &status);
    //  The login this one replaces, if any: said, and ended on the server
    char *previous_user = NULL;
    char *previous_token = NULL;
    if (state && client_state_load (state) == 0) {
        previous_user = strdup (client_state_username (state));
        previous_token = strdup (client_state_token (state));
        assert (previous_user && previous_token);
    }
    if (status == CLIENT_EXIT_DONE)
        status = s_password (app, client_call_flag (call, "password-stdin"),
                             "ZPOST_PASSWORD", "Password: ", false, S_PASSWORD_CURRENT,
                             &password);
    if (status) {
        client_state_destroy (&state);
        free (username);
        free (previous_user);
        client_input_wipe (&previous_token);
        return status;
    }

    zpost_msg_t *reply = client_api_login (app, username, password, &status);
    client_input_wipe (&password);
    if (reply && zpost_msg_status (reply) != ZPOST_OK)
        status = client_api_refusal (app, reply, NULL, ZPOST_LOGIN_FAILED,
                                     "wrong username or password; check both and "
                                     "try again");
    else
    if (reply) {
        const char *token = zpost_msg_get (reply, ZPOST_F_TOKEN);
        uint64_t expires = zpost_msg_get_number (reply, ZPOST_F_EXPIRES);
        if (client_state_save (state, username, token, expires)) {
            //  A session we cannot keep is a session nobody should hold
            s_quiet_logout (app, token);
            status = client_api_fail (app, CLIENT_EXIT_LOCAL, 0, "LOCAL_ERROR",
                                      "%s; you are not logged in",
                                      client_state_error (state));
        }
        else {
            if (previous_user) {
                //  The old session can no longer be used from here
                s_quiet_logout (app, previous_token);
                if (!streq (previous_user, username)) {
                    fflush (stdout);
                    fprintf (stderr, "zpost: %s was logged in here; logged out %s\n",
                             previous_user, previous_user);
                }
            }
            char date [CLIENT_OUTPUT_DATE_SIZE];
            client_output_date (expires, false, date);
            if (app->json) {
                json_t *object = json_pack ("{s:s, s:s, s:o}", "username", username,
                                            "server", client_session_endpoint (app->session),
                                            "expires", client_json_id (expires));
                client_json_emit (object);
                json_decref (object);
            }
            else
                printf ("logged in as %s on %s until %s at the latest\n", username,
                        client_session_endpoint (app->session), date);
            status = CLIENT_EXIT_DONE;
        }
        //  The reply's copy of the token
        if (token)
            sodium_memzero ((char *) token, strlen (token));
    }
    zpost_msg_destroy (&reply);
    client_state_destroy (&state);
    free (username);
    free (previous_user);
    client_input_wipe (&previous_token);
    return status;
}

const client_command_t client_cmd_login = {
    "login", "[USERNAME]",
    "Log in, and keep the session for the commands that follow.",
    "\n"
    "The password is asked for on the terminal without echo; or it is the\n"
    "first line of standard input with --password-stdin, or $ZPOST_PASSWORD.\n"
    "The session is kept, for this server only, in\n"
    "${XDG_STATE_HOME:-~/.local/state}/zpost/HOST_PORT.session (0600), until\n"
    "zpost logout, or until the server ends it (idle for too long, or at the\n"
    "latest at the time printed). A login kept for another user of the same\n"
    "server is ended, and zpost says so. Without USERNAME, the user the\n"
    "config file names (user = NAME) logs in.\n"
    "\n"
    "Options:\n"
    S_PASSWORD_HELP
    CLIENT_COMMAND_JSON_HELP
    "\n"
    "JSON: {\"username\": \"alice\", \"server\": \"tcp://...\", \"expires\": UNIXTIME}\n"
    "(the session token goes to the session file only)\n",
    CLIENT_COMMAND_SERVER | CLIENT_COMMAND_JSON,
    { { "password-stdin", 0, false, false } },
    0, 1, "needs a USERNAME",
    "takes one USERNAME (the password is asked for, never given as an argument)",
    s_check_username, s_login
};


//  --------------------------------------------------------------------------
//  logout and passwd

static int
s_logout (client_call_t *call)
{
    client_app_t *app = call->app;
    int status = CLIENT_EXIT_DONE;
    client_state_t *state = client_api_state (app, &status);
    if (!state)
        return status;

    int rc = client_state_load (state);
    if (rc == 1) {
        if (app->json) {
            json_t *object = json_pack ("{s:b, s:s}", "logged_out", false,
                                        "server", client_session_endpoint (app->session));
            client_json_emit (object);
            json_decref (object);
        }
        else
            printf ("not logged in to %s; nothing to do\n",
                    client_session_endpoint (app->session));
        client_state_destroy (&state);
        return CLIENT_EXIT_DONE;
    }
    if (rc == -1) {
        //  Not a file we trust with a token: do not send it, remove it
        if (client_state_remove (state))
            status = client_api_fail (app, CLIENT_EXIT_LOCAL, 0, "LOCAL_ERROR", "%s",
                                      client_state_error (state));
        else
            status = client_api_fail (app, CLIENT_EXIT_LOCAL, 0, "LOCAL_ERROR",
                                      "the session file %s was damaged or not private, "
                                      "so it was removed without telling the server; "
                                      "run zpost login to log in again",
                                      client_state_path (state));
        client_state_destroy (&state);
        return status;
    }

    char *username = strdup (client_state_username (state));
    assert (username);
    client_session_set_token (app->session, client_state_token (state));
    zpost_msg_t *reply = client_api_logout (app, &status);
    //  The login is forgotten here whatever the server said: a person who
    //  asked to log out must not stay logged in because the server is down
    bool removed = client_state_remove (state) == 0;
    if (!removed)
        status = client_api_fail (app, CLIENT_EXIT_LOCAL, 0, "LOCAL_ERROR", "%s",
                                  client_state_error (state));
    else
    if (!reply)
        fprintf (stderr, "zpost: logged out here, but the server did not hear it; the "
                 "session ends on the server when it expires\n");
    else
    if (zpost_msg_status (reply) != ZPOST_OK) {
        status = client_api_refusal (app, reply, NULL, ZPOST_NOT_LOGGED_IN,
                                     "logged out here; the server already had no such "
                                     "session");
        if (zpost_msg_status (reply) != ZPOST_NOT_LOGGED_IN)
            fprintf (stderr, "zpost: logged out here, but the server refused LOGOUT; "
                     "the session ends on the server when it expires\n");
    }
    else {
        if (app->json) {
            json_t *object = json_pack ("{s:b, s:s, s:s}", "logged_out", true,
                                        "username", username,
                                        "server", client_session_endpoint (app->session));
            client_json_emit (object);
            json_decref (object);
        }
        else
            printf ("logged out %s from %s\n", username,
                    client_session_endpoint (app->session));
        status = CLIENT_EXIT_DONE;
    }
    zpost_msg_destroy (&reply);
    client_state_destroy (&state);
    free (username);
    return status;
}

const client_command_t client_cmd_logout = {
    "logout", "",
    "End the session on the server and forget it here.",
    "\n"
    "The session file is removed whatever the server answers; if the server\n"
    "did not hear the logout, zpost says so and the session ends on the\n"
    "server when it expires.\n"
    "\n"
    "Options:\n"
    CLIENT_COMMAND_JSON_HELP
    "\n"
    "JSON: {\"logged_out\": true, \"username\": \"alice\", \"server\": \"tcp://...\"}\n",
    CLIENT_COMMAND_SERVER | CLIENT_COMMAND_JSON,
    { { NULL, 0, false, false } },
    0, 0, NULL, NULL, NULL, s_logout
};

static int
s_passwd (client_call_t *call)
{
    client_app_t *app = call->app;
    bool from_stdin = client_call_flag (call, "password-stdin");
    char *password = NULL;
    char *new_password = NULL;
    int status = s_password (app, from_stdin, "ZPOST_PASSWORD", "Current password: ",
                             false, S_PASSWORD_CURRENT, &password);
    if (status == CLIENT_EXIT_DONE)
        status = s_password (app, from_stdin, "ZPOST_NEW_PASSWORD", "New password: ",
                             true, S_PASSWORD_NEW, &new_password);
    if (status) {
        client_input_wipe (&password);
        return status;
    }

    zpost_msg_t *reply = client_api_passwd (app, password, new_password, &status);
    client_input_wipe (&password);
    client_input_wipe (&new_password);
    if (reply && zpost_msg_status (reply) != ZPOST_OK)
        status = client_api_refusal (app, reply, call->state, ZPOST_LOGIN_FAILED,
                                     "the current password is wrong; nothing was changed");
    else
    if (reply) {
        if (app->json) {
            json_t *object = json_pack ("{s:s, s:b}", "username",
                                        client_state_username (call->state),
                                        "changed", true);
            client_json_emit (object);
            json_decref (object);
        }
        else
            printf ("password changed for %s; your other sessions have ended\n",
                    client_state_username (call->state));
        status = CLIENT_EXIT_DONE;
    }
    zpost_msg_destroy (&reply);
    return status;
}

const client_command_t client_cmd_passwd = {
    "passwd", "",
    "Change your password; your other sessions end.",
    "\n"
    "Asks for the current password, then the new one twice, on the terminal\n"
    "without echo. For scripts: --password-stdin reads two lines, the current\n"
    "password then the new one; or set $ZPOST_PASSWORD (current) and\n"
    "$ZPOST_NEW_PASSWORD (new).\n"
    "\n"
    "Options:\n"
    "      --password-stdin  read both passwords from standard input\n"
    CLIENT_COMMAND_JSON_HELP
    "\n"
    "JSON: {\"username\": \"alice\", \"changed\": true}\n",
    CLIENT_COMMAND_LOGIN | CLIENT_COMMAND_JSON,
    { { "password-stdin", 0, false, false } },
    0, 0, NULL,
    "takes no arguments (the passwords are asked for, never given as arguments)",
    NULL, s_passwd
};


//  --------------------------------------------------------------------------
//  whoami

//  Which login this client keeps for the server: read here, nothing sent
static int
s_whoami (client_call_t *call)
{
    client_app_t *app = call->app;
    int status = client_api_set_server (app);
    client_state_t *state = status? NULL: client_api_state (app, &status);
    if (!state)
        return status;
    const char *server = client_config_endpoint (app->config);
    int rc = client_state_load (state);
    if (rc == 1)
        status = client_api_fail (app, CLIENT_EXIT_REFUSED, 0, "NOT_LOGGED_IN",
                                  "not logged in to %s: run zpost login", server);
    else
    if (rc == -1)
        status = client_api_fail (app, CLIENT_EXIT_LOCAL, 0, "LOCAL_ERROR", "%s",
                                  client_state_error (state));
    else {
        uint64_t expires = client_state_expires (state);
        if (app->json) {
            json_t *object = json_pack ("{s:s, s:s, s:o}",
                                        "username", client_state_username (state),
                                        "server", server,
                                        "expires", client_json_id (expires));
            client_json_emit (object);
            json_decref (object);
        }
        else {
            char date [CLIENT_OUTPUT_DATE_SIZE];
            client_output_date (expires, false, date);
            printf ("%s on %s, until %s at the latest\n",
                    client_state_username (state), server, date);
        }
    }
    client_state_destroy (&state);
    return status;
}

const client_command_t client_cmd_whoami = {
    "whoami", "",
    "Say which user this client is logged in as on the server.",
    "\n"
    "Reads the session zpost login keeps for the server, and sends nothing:\n"
    "the server may have ended the session since (idle for too long).\n"
    "Not logged in is exit 1 (NOT_LOGGED_IN), as for any command that needs\n"
    "a login.\n"
    "\n"
    "Options:\n"
    CLIENT_COMMAND_JSON_HELP
    "\n"
    "JSON: {\"username\": \"alice\", \"server\": \"tcp://...\", \"expires\": UNIXTIME}\n",
    CLIENT_COMMAND_JSON,
    { { NULL, 0, false, false } },
    0, 0, NULL, NULL, NULL, s_whoami
};


//  --------------------------------------------------------------------------
//  unregister

//  Ask on the terminal to type the account's name; true if it was typed
static bool
s_confirmed (const char *username, const char *server)
{
    fprintf (stderr, "This deletes the account %s on %s, with all its mail and "
             "sessions; it cannot be undone.\nType the name %s to go on: ",
             username, server, username);
    fflush (stderr);
    char *typed = NULL;
    bool yes = client_input_line (STDIN_FILENO, 256, &typed) == CLIENT_INPUT_OK
            && streq (typed, username);
    client_input_wipe (&typed);
    return yes;
}

static int
s_unregister (client_call_t *call)
{
    client_app_t *app = call->app;
    bool from_stdin = client_call_flag (call, "password-stdin");
    const char *username = client_state_username (call->state);
    char *username_copy = strdup (username);
    const char *server = client_config_endpoint (app->config);
    //  A typed name, or --yes from a script: never a deletion by accident
    if (!client_call_flag (call, "yes")) {
        if (from_stdin || !isatty (STDIN_FILENO)) {
            free (username_copy);
            return client_api_fail (app, CLIENT_EXIT_USAGE, 0, "LOCAL_ERROR",
                                    "deleting the account %s needs --yes when standard "
                                    "input is not a terminal; nothing was deleted",
                                    username);
        }
        if (!s_confirmed (username, server)) {
            free (username_copy);
            return client_api_fail (app, CLIENT_EXIT_REFUSED, 0, "LOCAL_ERROR",
                                    "the name was not typed; nothing was deleted");
        }
    }
    char *password = NULL;
    int status = s_password (app, from_stdin, "ZPOST_PASSWORD", "Password: ",
                             false, S_PASSWORD_CURRENT, &password);
    if (status) {
        free (username_copy);
        return status;
    }
    zpost_msg_t *reply = client_api_unregister (app, password, &status);
    client_input_wipe (&password);
    if (!reply)
        client_api_say (app, "the account may or may not have been deleted: a "
                        "request sent again after a lost answer gets 401, so run "
                        "zpost login to see whether it is still there");
    else
    if (zpost_msg_status (reply) != ZPOST_OK)
        status = client_api_refusal (app, reply, call->state, ZPOST_LOGIN_FAILED,
                                     "the password is wrong; the account was not "
                                     "deleted");
    else {
        //  The session went with the account: forget the login here
        client_state_remove (call->state);
        if (app->json) {
            json_t *object = json_pack ("{s:s, s:b}", "username", username_copy,
                                        "deleted", true);
            client_json_emit (object);
            json_decref (object);
        }
        else
            printf ("deleted the account %s on %s, with its mail and sessions; the "
                    "name is free again\n", username_copy, server);
        status = CLIENT_EXIT_DONE;
    }
    zpost_msg_destroy (&reply);
    free (username_copy);
    return status;
}

const client_command_t client_cmd_unregister = {
    "unregister", "[--yes] [--password-stdin]",
    "Delete your account, with its mail and sessions.",
    "\n"
    "Deletes the account you are logged in as: your inbox and sent folder\n"
    "(messages others hold stay theirs), every session, and the name, which\n"
    "anyone may register again. It cannot be undone. On a terminal it asks\n"
    "you to type the account's name, then its password (without echo);\n"
    "scripts give --yes, and the password with --password-stdin or\n"
    "$ZPOST_PASSWORD.\n"
    "\n"
    "Options:\n"
    "      --yes             do not ask for the name (needed without a terminal)\n"
    "      --password-stdin  read the password from standard input\n"
    CLIENT_COMMAND_JSON_HELP
    "\n"
    "JSON: {\"username\": \"alice\", \"deleted\": true}\n",
    CLIENT_COMMAND_LOGIN | CLIENT_COMMAND_JSON,
    { { "yes", 0, false, false }, { "password-stdin", 0, false, false } },
    0, 0, NULL,
    "takes no arguments (the password is asked for, never given as an argument)",
    NULL, s_unregister
};
