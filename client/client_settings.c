/*  =========================================================================
    client_settings - the zpost client's config file

    zconfig reads the ZPL, but keeps no line numbers, and says what is
    wrong with a file that is not ZPL only in CZMQ's log. A person needs
    the line: so the log is caught in memory while zconfig reads, and the
    line of each item is found by counting the file's item lines (neither
    blank nor a comment), which zconfig keeps in the same order, depth
    first, one item per line.
    =========================================================================
*/

#include "client_settings.h"
#include "client_check.h"
#include "client_config.h"

#include <errno.h>
#include <unistd.h>

#define S_FILE_MAX      (64 * 1024)     //  a settings file is a few lines
#define S_VALUE_MAX     1024            //  bytes of one value

struct _client_settings_t {
    char *path;                 //  the file read, or NULL
    zconfig_t *root;            //  what it holds, or NULL
    char error [1024];          //  last failure, for a person
};

static void
s_set_error (client_settings_t *self, const char *format, ...) CHECK_PRINTF (2);

static void
s_set_error (client_settings_t *self, const char *format, ...)
{
    va_list args;
    va_start (args, format);
    vsnprintf (self->error, sizeof (self->error), format, args);
    va_end (args);
}

client_settings_t *
client_settings_new (void)
{
    client_settings_t *self = (client_settings_t *) zmalloc (sizeof (client_settings_t));
    assert (self);
    return self;
}

void
client_settings_destroy (client_settings_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        client_settings_t *self = *self_p;
        zconfig_destroy (&self->root);
        zstr_free (&self->path);
        free (self);
        *self_p = NULL;
    }
}


//  --------------------------------------------------------------------------
//  Reading

//  The line numbers of the items of text, in order; *count_p of them.
//  Caller frees.
static size_t *
s_item_lines (const char *text, size_t *count_p)
{
    size_t capacity = 16;
    size_t *lines = (size_t *) malloc (capacity * sizeof (size_t));
    assert (lines);
    size_t count = 0;
    size_t number = 1;
    const char *line = text;
    while (*line) {
        const char *end = strchr (line, '\n');
        size_t size = end? (size_t) (end - line): strlen (line);
        size_t blank = strspn (line, " \t\r");
        if (blank < size && line [blank] != '#') {
            if (count == capacity) {
                capacity *= 2;
                lines = (size_t *) realloc (lines, capacity * sizeof (size_t));
                assert (lines);
            }
            lines [count++] = number;
        }
        if (!end)
            break;
        line = end + 1;
        number++;
    }
    *count_p = count;
    return lines;
}

//  Is the value a server address or list of them? NULL, or why not
static const char *
s_server_fault (const char *value)
{
    if (!*value)
        return "is empty";
    char *copy = strdup (value);
    assert (copy);
    const char *fault = NULL;
    char *rest = copy;
    char *entry;
    while (!fault && (entry = strsep (&rest, ","))) {
        while (*entry == ' ' || *entry == '\t')
            entry++;
        size_t size = strlen (entry);
        while (size > 0 && (entry [size - 1] == ' ' || entry [size - 1] == '\t'))
            entry [--size] = 0;
        const char *reason = NULL;
        char *endpoint = client_config_parse_address (entry, &reason);
        if (!endpoint)
            fault = "is not a server address (host, host:port, [v6addr]:port, "
                    "tcp://host:port, or several separated by commas)";
        free (endpoint);
    }
    free (copy);
    return fault;
}

//  Check every item against what this version knows. 0, or -1 with the
//  error set (lines are the item lines, in the tree's order).
static int
s_check (client_settings_t *self, size_t *lines, size_t count)
{
    const char *allowed = "server, user, editor, pager, and servers (a "
                          "section of NAME = ADDRESS lines)";
    size_t item = 0;
    zconfig_t *setting = zconfig_child (self->root);
    for (; setting; setting = zconfig_next (setting), item++) {
        size_t line = item < count? lines [item]: 0;
        const char *name = zconfig_name (setting);
        const char *value = zconfig_value (setting);
        value = value? value: "";
        if (streq (name, "servers")) {
            if (*value) {
                s_set_error (self, "%s, line %zu: servers is a section, with one "
                             "NAME = ADDRESS line per server indented under it",
                             self->path, line);
                return -1;
            }
            for (zconfig_t *alias = zconfig_child (setting); alias;
                 alias = zconfig_next (alias)) {
                item++;
                line = item < count? lines [item]: 0;
                const char *address = zconfig_value (alias);
                const char *fault = s_server_fault (address? address: "");
                if (zconfig_child (alias)) {
                    s_set_error (self, "%s, line %zu: the server name %s takes an "
                                 "address, and nothing indented under it",
                                 self->path, line, zconfig_name (alias));
                    return -1;
                }
                if (fault) {
                    s_set_error (self, "%s, line %zu: the address of %s %s",
                                 self->path, line, zconfig_name (alias), fault);
                    return -1;
                }
                if (strchr (zconfig_name (alias), ':') || strchr (zconfig_name (alias), ',')) {
                    s_set_error (self, "%s, line %zu: a server name holds neither ':' "
                                 "nor ',', so that it is never read as an address",
                                 self->path, line);
                    return -1;
                }
            }
            continue;
        }
        if (!streq (name, "server") && !streq (name, "user")
        &&  !streq (name, "editor") && !streq (name, "pager")) {
            s_set_error (self, "%s, line %zu: unknown setting '%.64s'; the settings "
                         "are %s", self->path, line, name, allowed);
            return -1;
        }
        if (zconfig_child (setting)) {
            s_set_error (self, "%s, line %zu: %s takes a value (%s = ...), and "
                         "nothing indented under it", self->path, line, name, name);
            return -1;
        }
        if (strlen (value) > S_VALUE_MAX) {
            s_set_error (self, "%s, line %zu: the value of %s is longer than %d bytes",
                         self->path, line, name, S_VALUE_MAX);
            return -1;
        }
        if (streq (name, "server") && !client_settings_alias (self, value)) {
            const char *fault = s_server_fault (value);
            if (fault) {
                s_set_error (self, "%s, line %zu: server %s, nor is it a name under "
                             "servers", self->path, line, fault);
                return -1;
            }
        }
        if (streq (name, "user")) {
            char *folded = client_check_username (value);
            if (!folded || !streq (folded, value)) {
                s_set_error (self, "%s, line %zu: user wants a username: 1 to 32 of "
                             "a-z 0-9 . _ -, starting with a letter or digit",
                             self->path, line);
                free (folded);
                return -1;
            }
            free (folded);
        }
        if (streq (name, "editor") && !*value) {
            s_set_error (self, "%s, line %zu: editor wants a command, such as "
                         "editor = \"vim\"", self->path, line);
            return -1;
        }
    }
    return 0;
}

int
client_settings_load (client_settings_t *self, const char *path)
{
    assert (self);
    self->error [0] = 0;
    zconfig_destroy (&self->root);
    zstr_free (&self->path);
    if (!path)
        return 0;
    FILE *file = fopen (path, "r");
    if (!file) {
        if (errno == ENOENT)
            return 0;
        s_set_error (self, "cannot read %s: %s", path, strerror (errno));
        return -1;
    }
    self->path = strdup (path);
    assert (self->path);
    char *text = (char *) zmalloc (S_FILE_MAX + 1);
    assert (text);
    size_t size = fread (text, 1, S_FILE_MAX + 1, file);
    bool failed = ferror (file) != 0;
    fclose (file);
    if (failed || size > S_FILE_MAX || memchr (text, 0, size)) {
        s_set_error (self, "%s is not a zpost config file (%s); check it", path,
                     failed? "it cannot be read": size > S_FILE_MAX
                     ? "it is larger than 64 KiB": "it holds a NUL byte");
        free (text);
        return -1;
    }
    text [size] = 0;

    //  zconfig says what is wrong only on stdout: catch it there
    fflush (stdout);
    int saved = dup (STDOUT_FILENO);
    FILE *capture = tmpfile ();
    if (saved != -1 && capture)
        dup2 (fileno (capture), STDOUT_FILENO);
    zchunk_t *chunk = zchunk_new (text, size);
    assert (chunk);
    self->root = zconfig_chunk_load (chunk);
    zchunk_destroy (&chunk);
    char log [512] = "";
    if (saved != -1 && capture) {
        fflush (stdout);
        dup2 (saved, STDOUT_FILENO);
        rewind (capture);
        size_t got = fread (log, 1, sizeof (log) - 1, capture);
        log [got] = 0;
    }
    if (saved != -1)
        close (saved);
    if (capture)
        fclose (capture);
    int rc = 0;
    if (!self->root) {
        //  "... E (zconfig): (4) indent 4 spaces at once"
        const char *at = strstr (log, "(zconfig): (");
        size_t line = at? (size_t) atoi (at + 12): 0;
        const char *why = at? strstr (at + 12, ") "): NULL;
        char reason [128] = "";
        if (why)
            snprintf (reason, sizeof (reason), ": %.*s", (int) strcspn (why + 2, "\n"),
                      why + 2);
        if (line)
            s_set_error (self, "%s, line %zu, is not ZPL%s; ZPL is NAME = VALUE per "
                         "line, a section's lines indented 4 spaces under it",
                         path, line, reason);
        else
            s_set_error (self, "%s is not ZPL; ZPL is NAME = VALUE per line, a "
                         "section's lines indented 4 spaces under it", path);
        rc = -1;
    }
    else {
        size_t count;
        size_t *lines = s_item_lines (text, &count);
        rc = s_check (self, lines, count);
        free (lines);
    }
    free (text);
    if (rc)
        zconfig_destroy (&self->root);
    return rc;
}


//  --------------------------------------------------------------------------
//  Asking

const char *
client_settings_get (client_settings_t *self, const char *name)
{
    assert (self);
    assert (name);
    if (!self->root)
        return NULL;
    zconfig_t *setting = zconfig_locate (self->root, name);
    return setting? zconfig_value (setting): NULL;
}

const char *
client_settings_alias (client_settings_t *self, const char *name)
{
    assert (self);
    if (!self->root || !name || !*name || strchr (name, '/'))
        return NULL;
    zconfig_t *servers = zconfig_locate (self->root, "servers");
    for (zconfig_t *alias = servers? zconfig_child (servers): NULL; alias;
         alias = zconfig_next (alias))
        if (streq (zconfig_name (alias), name))
            return zconfig_value (alias);
    return NULL;
}

size_t
client_settings_aliases (client_settings_t *self)
{
    assert (self);
    zconfig_t *servers = self->root? zconfig_locate (self->root, "servers"): NULL;
    size_t count = 0;
    for (zconfig_t *alias = servers? zconfig_child (servers): NULL; alias;
         alias = zconfig_next (alias))
        count++;
    return count;
}

const char *
client_settings_alias_name (client_settings_t *self, size_t index)
{
    assert (self);
    zconfig_t *servers = self->root? zconfig_locate (self->root, "servers"): NULL;
    zconfig_t *alias = servers? zconfig_child (servers): NULL;
    while (alias && index--)
        alias = zconfig_next (alias);
    return alias? zconfig_name (alias): NULL;
}

const char *
client_settings_path (client_settings_t *self)
{
    assert (self);
    return self->path;
}

const char *
client_settings_error (client_settings_t *self)
{
    assert (self);
    return self->error;
}


//  --------------------------------------------------------------------------
//  Selftest

//  The selftest's asserts are its checks, and many call what they check:
//  they must stay in a build with NDEBUG (CMake's release types set it).
#undef NDEBUG
#include <assert.h>

static void
s_write_file (const char *path, const char *text)
{
    FILE *file = fopen (path, "w");
    assert (file);
    assert (fwrite (text, 1, strlen (text), file) == strlen (text));
    fclose (file);
}

//  Load text; expect success (NULL) or an error holding expected
static void
s_expect (const char *path, const char *text, const char *expected, bool verbose)
{
    s_write_file (path, text);
    client_settings_t *self = client_settings_new ();
    int rc = client_settings_load (self, path);
    if (verbose)
        zsys_debug ("%s", client_settings_error (self));
    if (expected) {
        assert (rc == -1);
        assert (strstr (client_settings_error (self), expected));
    }
    else
        assert (rc == 0);
    client_settings_destroy (&self);
}

void
client_settings_test (bool verbose)
{
    printf (" * client_settings: ");
    if (verbose)
        printf ("\n");

    //  @selftest
    char dir [] = "/tmp/zpost-settings-test-XXXXXX";
    assert (mkdtemp (dir));
    char *path = zsys_sprintf ("%s/config", dir);

    //  No file: no settings
    client_settings_t *self = client_settings_new ();
    assert (client_settings_load (self, path) == 0);
    assert (client_settings_get (self, "server") == NULL);
    assert (client_settings_path (self) == NULL);
    client_settings_destroy (&self);

    s_write_file (path,
        "#   zpost settings\n"
        "\n"
        "server = work\n"
        "user = alice\n"
        "editor = \"vim -n\"\n"
        "pager = \"\"\n"
        "servers\n"
        "    # the office\n"
        "    work = \"mail.example.org:5321\"\n"
        "    home = \"a.lan:5321, b.lan:5321\"\n");
    self = client_settings_new ();
    assert (client_settings_load (self, path) == 0);
    assert (streq (client_settings_get (self, "server"), "work"));
    assert (streq (client_settings_get (self, "user"), "alice"));
    assert (streq (client_settings_get (self, "editor"), "vim -n"));
    assert (streq (client_settings_get (self, "pager"), ""));
    assert (streq (client_settings_alias (self, "work"), "mail.example.org:5321"));
    assert (streq (client_settings_alias (self, "home"), "a.lan:5321, b.lan:5321"));
    assert (client_settings_alias (self, "play") == NULL);
    assert (client_settings_aliases (self) == 2);
    assert (streq (client_settings_alias_name (self, 1), "home"));
    assert (client_settings_alias_name (self, 2) == NULL);
    assert (streq (client_settings_path (self), path));
    client_settings_destroy (&self);
    client_settings_destroy (&self);

    //  What is refused, with its line
    s_expect (path, "server = a\n\n# c\ncolour = blue\n", "line 4: unknown setting 'colour'",
              verbose);
    s_expect (path, "user = Alice Smith\n", "line 1: user wants a username", verbose);
    s_expect (path, "server = \"bad host\"\n", "line 1: server is not a server address",
              verbose);
    s_expect (path, "servers\n    ok = a:1\n    bad = \"a:99999\"\n",
              "line 3: the address of bad is not", verbose);
    s_expect (path, "servers = x\n", "line 1: servers is a section", verbose);
    s_expect (path, "server = a\n  user = b\n", "line 2, is not ZPL", verbose);
    s_expect (path, "editor = \"\"\n", "line 1: editor wants a command", verbose);
    s_expect (path, "pager\n    less = 1\n", "line 1: pager takes a value", verbose);
    s_expect (path, "server = home\nservers\n    home = \"h:1\"\n", NULL, verbose);

    unlink (path);
    rmdir (dir);
    free (path);
    //  @end

    printf ("OK\n");
}
