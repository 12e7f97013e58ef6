/*  =========================================================================
    zpost_spec_tables - the spec's tables, printed from the one definition

    protocol/ZPOST.md has three tables that restate the code: "Fields",
    "Which commands need a session" and "Status codes". This program prints
    them from the X-macro definitions (zpost_commands.h, ZPOST_STATUSES in
    zpost_status.h), the same ones the codec's tables are generated from,
    and with --check compares them with the spec's, cell by cell. Either
    side drifting makes the check fail, and it says which row.

        zpost_spec_tables                   print the rows, as markdown
        zpost_spec_tables --check ZPOST.md  exit 1 if the spec differs

    The "in" column of "Fields" is not a string in the definition: it is
    worked out from the command table (which requests, 200 replies and
    reply rows hold the field). The check also compares the grammar's
    request, -ok and row rules, and the field counts that "Malformed
    requests" lists, with the command table.
    =========================================================================
*/

#include "zpost_msg.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_LINE_MAX 1024
#define S_ROWS_MAX 64

//  The definition, expanded for this program
#define S_LIST(...) { __VA_ARGS__ ZPOST_F_COUNT }
#define S_LIST_OF(list) S_LIST list

typedef struct {
    zpost_command_t command;
    const char *lower;
    const char *wire;
    unsigned flags;
    zpost_field_t request [10];
    zpost_field_t reply [10];
    zpost_field_t row [10];
} s_command_t;

#define S_COMMAND(upper, lower, wire, flags, request, reply, row, rows_max) \
    { ZPOST_CMD_##upper, #lower, wire, flags, S_LIST request, S_LIST reply, S_LIST row },
static const s_command_t s_commands [] = { ZPOST_COMMANDS (S_COMMAND) };
#define S_COMMANDS (sizeof (s_commands) / sizeof (s_commands [0]))

typedef struct {
    zpost_field_t field;
    const char *name;
    const char *type;
    const char *choices [5];
    const char *syntax;
    const char *limit;
    const char *fault;
} s_field_t;

#define S_UNPAREN(...) __VA_ARGS__
#define S_FIELD(upper, name, type, max_size, min_value, max_value, \
                choices, syntax, limit, fault) \
    { ZPOST_F_##upper, name, #type, { S_UNPAREN choices }, \
      syntax, limit, fault },
static const s_field_t s_fields [] = { ZPOST_FIELDS (S_FIELD) };
#define S_FIELDS (sizeof (s_fields) / sizeof (s_fields [0]))

static const zpost_field_t s_error_fields [] = S_LIST_OF (ZPOST_ERROR_FIELDS);

typedef struct {
    int code;
    const char *name;
    bool retryable;
    const char *meaning;
    const char *retry;
} s_status_t;

#define S_STATUS(name, code, reason, retryable, meaning, retry) \
    { code, #name, retryable, meaning, retry },
static const s_status_t s_statuses [] = { ZPOST_STATUSES (S_STATUS) };
#define S_STATUSES (sizeof (s_statuses) / sizeof (s_statuses [0]))

//  A table: its section heading in the spec and its rows, header first
typedef struct {
    const char *heading;
    char *rows [S_ROWS_MAX];
    size_t count;
} s_table_t;

static void
s_add (s_table_t *table, const char *first, ...)
{
    char line [S_LINE_MAX] = "|";
    va_list args;
    va_start (args, first);
    for (const char *cell = first; cell; cell = va_arg (args, const char *)) {
        size_t used = strlen (line);
        snprintf (line + used, sizeof line - used, *cell? " %s |": " |", cell);
    }
    va_end (args);
    if (table->count >= S_ROWS_MAX) {
        fprintf (stderr, "spec_tables: too many rows in %s\n", table->heading);
        exit (2);
    }
    table->rows [table->count++] = strdup (line);
}

static bool
s_holds (const zpost_field_t *list, zpost_field_t field)
{
    for (size_t index = 0; list [index] != ZPOST_F_COUNT; index++)
        if (list [index] == field)
            return true;
    return false;
}

//  The "in" column: requests, then 200 replies, then reply rows, then the
//  error reply, e.g. "READ, DELETE; SEND, READ replies; LIST row".
static void
s_where (zpost_field_t field, char *out, size_t size)
{
    out [0] = 0;
    for (int part = 0; part < 3; part++) {
        char names [256] = "";
        size_t count = 0;
        for (size_t index = 0; index < S_COMMANDS; index++) {
            const s_command_t *command = &s_commands [index];
            const zpost_field_t *list = part == 0? command->request
                                      : part == 1? command->reply: command->row;
            if (s_holds (list, field)) {
                size_t used = strlen (names);
                snprintf (names + used, sizeof names - used, "%s%s",
                          count? ", ": "", command->wire);
                count++;
            }
        }
        if (count == 0)
            continue;
        const char *suffix = part == 0? ""
                           : part == 1? (count > 1? " replies": " reply")
                           : (count > 1? " rows": " row");
        size_t used = strlen (out);
        snprintf (out + used, size - used, "%s%s%s", used? "; ": "", names, suffix);
    }
    if (s_holds (s_error_fields, field)) {
        size_t used = strlen (out);
        snprintf (out + used, size - used, "%serror reply", used? "; ": "");
    }
}

//  Faults in the definition itself that no table would show
static int
s_check_definition (void)
{
    int faults = 0;
    for (size_t index = 0; index < S_FIELDS; index++) {
        const s_field_t *field = &s_fields [index];
        if (field->field != (zpost_field_t) index
        ||  !streq (zpost_msg_field_name (field->field), field->name)) {
            fprintf (stderr, "spec_tables: field %s is out of step with the codec\n",
                     field->name);
            faults++;
        }
        if (streq (field->type, "ENUM")) {
            //  "`a` or `b`", "`a`, `b` or `c`"
            char words [128] = "";
            for (size_t word = 0; field->choices [word]; word++) {
                size_t used = strlen (words);
                snprintf (words + used, sizeof words - used, "%s`%s`",
                          word == 0? "": field->choices [word + 1]? ", ": " or ",
                          field->choices [word]);
            }
            if (!streq (words, field->syntax)) {
                fprintf (stderr, "spec_tables: field %s: syntax \"%s\" is not its words %s\n",
                         field->name, field->syntax, words);
                faults++;
            }
        }
    }
    for (size_t index = 0; index < S_COMMANDS; index++) {
        const s_command_t *command = &s_commands [index];
        if (zpost_command_flags (command->command) != command->flags
        ||  !streq (zpost_msg_command_name (command->command), command->wire)) {
            fprintf (stderr, "spec_tables: %s is out of step with the codec\n", command->wire);
            faults++;
        }
        if ((command->flags & ZPOST_CMD_RECORDED) && !(command->flags & ZPOST_CMD_WRITES)) {
            fprintf (stderr, "spec_tables: %s keeps a record but does not write\n",
                     command->wire);
            faults++;
        }
    }
    for (size_t index = 0; index < S_STATUSES; index++) {
        const s_status_t *status = &s_statuses [index];
        bool says_yes = strncmp (status->retry, "yes", 3) == 0;
        if (says_yes != status->retryable
        ||  zpost_status_retryable (status->code) != status->retryable) {
            fprintf (stderr, "spec_tables: status %d: retry \"%s\" disagrees with retryable\n",
                     status->code, status->retry);
            faults++;
        }
    }
    return faults;
}

static void
s_build (s_table_t *tables)
{
    tables [0].heading = "### Fields";
    s_add (&tables [0], "field", "in", "syntax", "limit", "fault gives", NULL);
    for (size_t index = 0; index < S_FIELDS; index++) {
        const s_field_t *field = &s_fields [index];
        char name [64], where [256];
        snprintf (name, sizeof name, "`%s`", field->name);
        s_where (field->field, where, sizeof where);
        s_add (&tables [0], name, where, field->syntax, field->limit, field->fault, NULL);
    }
    tables [1].heading = "### Which commands need a session";
    s_add (&tables [1], "command", "session", "writes", "idempotency record",
           "password step", NULL);
    for (size_t index = 0; index < S_COMMANDS; index++) {
        const s_command_t *command = &s_commands [index];
        unsigned flags = command->flags;
        s_add (&tables [1], command->wire,
               flags & ZPOST_CMD_SESSION? "yes": "no",
               flags & ZPOST_CMD_WRITES? "yes": "no",
               flags & ZPOST_CMD_RECORDED? "yes": "no",
               flags & ZPOST_CMD_PASSWORD? "yes": "no", NULL);
    }
    tables [2].heading = "## Status codes";
    s_add (&tables [2], "code", "name", "meaning", "retry?", NULL);
    for (size_t index = 0; index < S_STATUSES; index++) {
        const s_status_t *status = &s_statuses [index];
        char code [8];
        snprintf (code, sizeof code, "%d", status->code);
        s_add (&tables [2], code, status->name, status->meaning, status->retry, NULL);
    }
}

//  Split a markdown row into trimmed cells joined by a single "|", so that
//  spacing is not a difference
static void
s_normal (const char *row, char *out, size_t size)
{
    size_t used = 0;
    const char *cell = row;
    while (*cell == ' ')
        cell++;
    if (*cell == '|')
        cell++;
    while (*cell && used + 2 < size) {
        const char *end = strchr (cell, '|');
        if (!end)
            end = cell + strlen (cell);
        const char *start = cell;
        while (start < end && (*start == ' ' || *start == '\t'))
            start++;
        const char *stop = end;
        while (stop > start && (stop [-1] == ' ' || stop [-1] == '\t'
                             || stop [-1] == '\n' || stop [-1] == '\r'))
            stop--;
        if (*end || stop > start) {
            int wrote = snprintf (out + used, size - used, "%.*s|",
                                  (int) (stop - start), start);
            used += wrote > 0? (size_t) wrote: 0;
        }
        cell = *end? end + 1: end;
        if (used >= size)
            break;
    }
    out [used < size? used: size - 1] = 0;
}

static int
    s_check_grammar (char **lines, size_t line_count, const char *path);

static int
s_check (s_table_t *tables, size_t table_count, const char *path)
{
    FILE *file = fopen (path, "r");
    if (!file) {
        perror (path);
        return 2;
    }
    char *lines [4096];
    size_t line_count = 0;
    char buffer [S_LINE_MAX];
    while (line_count < 4096 && fgets (buffer, sizeof buffer, file))
        lines [line_count++] = strdup (buffer);
    fclose (file);

    int faults = s_check_grammar (lines, line_count, path);
    for (size_t table = 0; table < table_count; table++) {
        s_table_t *want = &tables [table];
        size_t heading = 0;
        while (heading < line_count
        &&     strncmp (lines [heading], want->heading, strlen (want->heading)) != 0)
            heading++;
        if (heading == line_count) {
            fprintf (stderr, "%s: no section \"%s\"\n", path, want->heading);
            faults++;
            continue;
        }
        //  The first table after the heading, before the next heading
        size_t line = heading + 1;
        while (line < line_count && lines [line][0] != '|' && lines [line][0] != '#')
            line++;
        size_t got = 0;
        for (; line < line_count && lines [line][0] == '|'; line++) {
            if (strstr (lines [line], "---"))
                continue;       //  the header's underline
            char spec_cells [S_LINE_MAX], code_cells [S_LINE_MAX];
            s_normal (lines [line], spec_cells, sizeof spec_cells);
            if (got >= want->count) {
                fprintf (stderr, "%s:%zu: row not in the definition:\n    spec: %s",
                         path, line + 1, lines [line]);
                faults++;
                got++;
                continue;
            }
            s_normal (want->rows [got], code_cells, sizeof code_cells);
            if (!streq (spec_cells, code_cells)) {
                fprintf (stderr, "%s:%zu: %s differs from the definition:\n"
                         "    spec: %s    code: %s\n", path, line + 1, want->heading,
                         lines [line], want->rows [got]);
                faults++;
            }
            got++;
        }
        for (; got < want->count; got++) {
            fprintf (stderr, "%s: %s lacks the row:\n    code: %s\n", path,
                     want->heading, want->rows [got]);
            faults++;
        }
    }
    for (size_t index = 0; index < line_count; index++)
        free (lines [index]);
    return faults;
}

//  One ABNF rule of the spec, "name = ...", with its continuation lines,
//  comments cut and white space collapsed; NULL if there is none.
static char *
s_abnf_rule (char **lines, size_t line_count, const char *name)
{
    size_t length = strlen (name);
    for (size_t line = 0; line < line_count; line++) {
        const char *text = lines [line];
        if (strncmp (text, name, length) != 0 || text [length] != ' ')
            continue;
        const char *equals = text + length;
        while (*equals == ' ')
            equals++;
        if (*equals != '=')
            continue;
        char rule [S_LINE_MAX] = "";
        size_t used = 0;
        bool space = false;
        for (size_t next = line; next < line_count; next++) {
            if (next > line && lines [next][0] != ' ')
                break;
            const char *from = next == line? equals + 1: lines [next];
            for (; *from && *from != ';' && used + 2 < sizeof rule; from++) {
                if (*from == ' ' || *from == '\n' || *from == '\r' || *from == '\t')
                    space = used > 0;
                else {
                    if (space)
                        rule [used++] = ' ';
                    rule [used++] = *from;
                    space = false;
                }
            }
            rule [used] = 0;
        }
        return strdup (rule);
    }
    return NULL;
}

static void
s_append_fields (char *out, size_t size, const zpost_field_t *list, const char *between,
                 bool reply)
{
    for (size_t index = 0; list [index] != ZPOST_F_COUNT; index++) {
        const char *name = zpost_msg_field_name (list [index]);
        //  The grammar calls the LOGIN reply's token field token-value, so
        //  that it is not read as the request's token frame
        if (reply && list [index] == ZPOST_F_TOKEN)
            name = "token-value";
        size_t used = strlen (out);
        snprintf (out + used, size - used, "%s%s", index? between: " ", name);
    }
}

static int
s_compare_rule (char **lines, size_t line_count, const char *path, const char *name,
                const char *want)
{
    char *got = s_abnf_rule (lines, line_count, name);
    int faults = 0;
    if (!got || !streq (got, want)) {
        fprintf (stderr, "%s: the grammar's rule %s differs from the definition:\n"
                 "    spec: %s\n    code: %s\n", path, name, got? got: "(none)", want);
        faults = 1;
    }
    free (got);
    return faults;
}

//  The grammar's request and reply rules, and the frame counts in
//  "Malformed requests", from the command table
static int
s_check_grammar (char **lines, size_t line_count, const char *path)
{
    int faults = 0;
    char counts [512] = "";
    for (size_t index = 0; index < S_COMMANDS; index++) {
        const s_command_t *command = &s_commands [index];
        char name [64], want [S_LINE_MAX];
        snprintf (want, sizeof want, "signature \"%s\" request-id token", command->wire);
        s_append_fields (want, sizeof want, command->request, " ", false);
        faults += s_compare_rule (lines, line_count, path, command->lower, want);

        snprintf (want, sizeof want, "signature \"%s\" request-id ok reason", command->wire);
        s_append_fields (want, sizeof want, command->reply, " ", true);
        snprintf (name, sizeof name, "%s-ok", command->lower);
        if (command->row [0] != ZPOST_F_COUNT) {
            //  The row is a rule of its own, named by the reply rule
            char *got = s_abnf_rule (lines, line_count, name);
            const char *star = got? strrchr (got, '*'): NULL;
            char row_name [64] = "(none)";
            if (star)
                snprintf (row_name, sizeof row_name, "%s", star + 1);
            size_t used = strlen (want);
            snprintf (want + used, sizeof want - used, " *%s", row_name);
            char row [S_LINE_MAX] = "";
            s_append_fields (row, sizeof row, command->row, " NUL ", true);
            faults += s_compare_rule (lines, line_count, path, row_name, row + 1);
            free (got);
        }
        faults += s_compare_rule (lines, line_count, path, name, want);

        size_t fields = 0;
        while (command->request [fields] != ZPOST_F_COUNT)
            fields++;
        size_t used = strlen (counts);
        snprintf (counts + used, sizeof counts - used, "%s%s %zu",
                  index? ", ": "", command->wire, fields);
    }
    //  The counts are prose, wrapped: compare with white space collapsed
    size_t total = 0;
    for (size_t line = 0; line < line_count; line++)
        total += strlen (lines [line]) + 1;
    char *text = (char *) malloc (total + 1);
    size_t used = 0;
    for (size_t line = 0; line < line_count; line++)
        for (const char *from = lines [line]; *from; from++) {
            char c = *from == '\n'? ' ': *from;
            if (c == ' ' && used > 0 && text [used - 1] == ' ')
                continue;
            text [used++] = c;
        }
    text [used] = 0;
    char want [600];
    snprintf (want, sizeof want, "(%s)", counts);
    if (!strstr (text, want)) {
        fprintf (stderr, "%s: \"Malformed requests\" does not give the field counts "
                 "%s\n", path, want);
        faults++;
    }
    free (text);
    return faults;
}

int
main (int argc, char *argv [])
{
    s_table_t tables [3];
    memset (tables, 0, sizeof tables);
    s_build (tables);
    int faults = s_check_definition ();
    if (argc == 3 && streq (argv [1], "--check"))
        faults += s_check (tables, 3, argv [2]);
    else
    if (argc == 1) {
        for (size_t table = 0; table < 3; table++) {
            printf ("%s\n\n", tables [table].heading);
            for (size_t row = 0; row < tables [table].count; row++) {
                printf ("%s\n", tables [table].rows [row]);
                if (row == 0) {
                    //  The underline, one "---" per column
                    for (const char *bar = tables [table].rows [0] + 1; *bar; bar++)
                        if (*bar == '|')
                            printf ("| --- ");
                    printf ("|\n");
                }
            }
            printf ("\n");
        }
    }
    else {
        fprintf (stderr, "usage: zpost_spec_tables [--check ZPOST.md]\n");
        return 2;
    }
    for (size_t table = 0; table < 3; table++)
        for (size_t row = 0; row < tables [table].count; row++)
            free (tables [table].rows [row]);
    if (faults)
        fprintf (stderr, "spec_tables: %d difference%s between the spec and the "
                 "definition\n", faults, faults == 1? "": "s");
    return faults? 1: 0;
}
