/*  =========================================================================
    client_commands - the one-shot commands of the zpost client: the table

    The table, in the order zpost --help lists it, and the prologue every
    command shares (client_commands_run). A command's own code is its row
    and its handler, in client_cmd_account.c or client_cmd_mail.c.
    =========================================================================
*/

#include "client_commands.h"
#include "client_output.h"

#include <getopt.h>

#define S_OPT_LONG          1000        //  getopt codes of long-only options:
                                        //  S_OPT_LONG + their index in the row
#define S_OPT_JSON          (S_OPT_LONG + CLIENT_COMMAND_OPTIONS_MAX)

static const client_command_t *s_commands [] = {
    &client_cmd_ping,
    &client_cmd_register,
    &client_cmd_login,
    &client_cmd_logout,
    &client_cmd_passwd,
    &client_cmd_whoami,
    &client_cmd_send,
    &client_cmd_list,
    &client_cmd_read,
    &client_cmd_delete,
    &client_cmd_stats,
    &client_cmd_forget_key,
    &client_cmd_reply,
    &client_cmd_forward,
    &client_cmd_thread,
    &client_cmd_mark,
    &client_cmd_drafts,
    &client_cmd_unregister,
    &client_cmd_watch,
    &client_cmd_search
};

#define S_COMMAND_COUNT (sizeof (s_commands) / sizeof (s_commands [0]))

const client_command_t *
client_commands_find (const char *name)
{
    for (size_t index = 0; index < S_COMMAND_COUNT; index++)
        if (name && streq (s_commands [index]->name, name))
            return s_commands [index];
    return NULL;
}

const client_command_t *
client_commands_at (size_t index)
{
    return index < S_COMMAND_COUNT? s_commands [index]: NULL;
}


//  --------------------------------------------------------------------------
//  Usage and options

static void
s_usage (const client_command_t *command, FILE *stream)
{
    fprintf (stream, "usage: zpost [OPTIONS] %s%s%s\n", command->name,
             *command->synopsis? " ": "", command->synopsis);
}

static int
s_help (const client_command_t *command)
{
    s_usage (command, stdout);
    printf ("\n%s\n%s", command->summary, command->help);
    printf ("\nGlobal options and exit status: zpost --help\n");
    return CLIENT_EXIT_DONE;
}

static int
s_vmisuse (const client_command_t *command, const char *format, va_list args)
{
    char *complaint = zsys_vprintf (format, args);
    //  The complaint may quote what was typed: that, too, is made safe
    fprintf (stderr, "zpost %s: ", command->name);
    client_output_print (stderr, complaint, CLIENT_OUTPUT_LINE);
    fprintf (stderr, "\n");
    free (complaint);
    s_usage (command, stderr);
    return CLIENT_EXIT_USAGE;
}

int
client_call_misuse (client_call_t *call, const char *format, ...)
{
    assert (call);
    va_list args;
    va_start (args, format);
    int status = s_vmisuse (call->command, format, args);
    va_end (args);
    return status;
}

void
client_commands_bad_option (const char *who, int code, char **argv)
{
    char *option = client_output_safe_str (argv [optind - 1], CLIENT_OUTPUT_LINE);
    if (code == ':')
        fprintf (stderr, "%s: option %s needs a value\n", who, option);
    else
    if (optopt && optopt < 256 && strncmp (argv [optind - 1], "--", 2) != 0)
        fprintf (stderr, "%s: unknown option -%c\n", who, optopt);
    else
        fprintf (stderr, "%s: unknown option %s\n", who, option);
    free (option);
}

//  The index of the option called name in the row; a name that is not
//  there is a bug in the handler
static size_t
s_option_index (const client_command_t *command, const char *name)
{
    for (size_t index = 0; command->options [index].name; index++)
        if (streq (command->options [index].name, name))
            return index;
    assert (false);
    return 0;
}

const char *
client_call_value (client_call_t *call, const char *name)
{
    assert (call);
    return call->values [s_option_index (call->command, name)];
}

bool
client_call_flag (client_call_t *call, const char *name)
{
    return client_call_value (call, name) != NULL;
}

//  Keep an option's value: the last one, or all of them joined by ","
static void
s_keep_value (client_call_t *call, size_t index, const char *value)
{
    const client_option_t *option = &call->command->options [index];
    char *kept = call->values [index];
    if (!option->value)
        value = "";
    if (kept && option->repeats)
        call->values [index] = zsys_sprintf ("%s,%s", kept, value);
    else
        call->values [index] = strdup (value);
    assert (call->values [index]);
    free (kept);
}

//  Read the command's options into call. Returns true to go on, else
//  false with the exit status in *status_p (--help, a usage error).
static bool
s_read_options (client_call_t *call, int argc, char **argv, int *status_p)
{
    const client_command_t *command = call->command;
    struct option options [CLIENT_COMMAND_OPTIONS_MAX + 3];
    char short_options [3 * CLIENT_COMMAND_OPTIONS_MAX + 4] = ":h";
    size_t count = 0;
    for (size_t index = 0; command->options [index].name; index++) {
        assert (index < CLIENT_COMMAND_OPTIONS_MAX);
        const client_option_t *option = &command->options [index];
        options [count++] = (struct option) {
            option->name, option->value? required_argument: no_argument, NULL,
            option->letter? option->letter: S_OPT_LONG + (int) index
        };
        if (option->letter) {
            size_t end = strlen (short_options);
            short_options [end++] = option->letter;
            if (option->value)
                short_options [end++] = ':';
            short_options [end] = 0;
        }
    }
    if (command->flags & CLIENT_COMMAND_JSON)
        options [count++] = (struct option) { "json", no_argument, NULL, S_OPT_JSON };
    options [count++] = (struct option) { "help", no_argument, NULL, 'h' };
    options [count] = (struct option) { NULL, 0, NULL, 0 };

    //  optind 0 makes glibc's getopt start over on a new vector
    optind = 0;
    opterr = 0;
    int code;
    while ((code = getopt_long (argc, argv, short_options, options, NULL)) != -1) {
        if (code == 'h') {
            *status_p = s_help (command);
            return false;
        }
        if (code == S_OPT_JSON)
            call->app->json = true;
        else
        if (code >= S_OPT_LONG && code < S_OPT_JSON)
            s_keep_value (call, (size_t) (code - S_OPT_LONG), optarg);
        else
        if (code != '?' && code != ':') {
            size_t index = 0;
            while (command->options [index].letter != code)
                index++;
            s_keep_value (call, index, optarg);
        }
        else {
            char *who = zsys_sprintf ("zpost %s", command->name);
            client_commands_bad_option (who, code, argv);
            free (who);
            s_usage (command, stderr);
            *status_p = CLIENT_EXIT_USAGE;
            return false;
        }
    }
    call->argc = argc - optind;
    call->argv = argv + optind;
    if (call->argc < command->operands_min)
        *status_p = client_call_misuse (call, "%s", command->too_few);
    else
    if (call->argc > command->operands_max)
        *status_p = client_call_misuse (call, "%s", command->too_many? command->too_many
                                                                    : "takes no arguments");
    else
        *status_p = CLIENT_EXIT_DONE;
    return *status_p == CLIENT_EXIT_DONE;
}

int
client_commands_run (client_app_t *app, const client_command_t *command,
                     int argc, char **argv)
{
    assert (app);
    assert (command);
    client_call_t call = { .app = app, .command = command };
    int status = CLIENT_EXIT_DONE;
    if (app->json && !(command->flags & CLIENT_COMMAND_JSON))
        status = client_call_misuse (&call, "does not take --json");
    bool go_on = status == CLIENT_EXIT_DONE
              && s_read_options (&call, argc, argv, &status);
    if (go_on && command->check)
        go_on = (status = command->check (&call)) == CLIENT_EXIT_DONE;
    if (go_on && (command->flags & CLIENT_COMMAND_LOGIN))
        go_on = (call.state = client_api_logged_in (app, &status)) != NULL;
    else
    if (go_on && (command->flags & CLIENT_COMMAND_SERVER))
        go_on = (status = client_api_open (app)) == CLIENT_EXIT_DONE;
    if (go_on)
        status = command->run (&call);
    for (size_t index = 0; index < CLIENT_COMMAND_OPTIONS_MAX; index++)
        free (call.values [index]);
    client_state_destroy (&call.state);
    return status;
}


//  --------------------------------------------------------------------------
//  Selftest

#undef NDEBUG
#include <assert.h>

void
client_commands_test (bool verbose)
{
    printf (" * client_commands: ");
    if (verbose)
        printf ("\n");

    //  @selftest
    //  Every row is well formed, and found by its name
    const client_command_t *command;
    size_t count = 0;
    for (size_t index = 0; (command = client_commands_at (index)); index++) {
        assert (client_commands_find (command->name) == command);
        assert (command->run && command->summary && command->help);
        assert (command->operands_min <= command->operands_max);
        assert (command->operands_min == 0 || command->too_few);
        for (size_t option = 0; command->options [option].name; option++)
            assert (option < CLIENT_COMMAND_OPTIONS_MAX);
        count++;
    }
    assert (count == S_COMMAND_COUNT);
    assert (client_commands_find ("no-such-command") == NULL);
    assert (client_commands_find (NULL) == NULL);
    //  @end

    printf ("OK\n");
}
