/*  =========================================================================
    client_input - what a person or a script gives the client

    The descriptor-level reads here exist for two reasons: a password must
    not linger in a stdio buffer we cannot wipe, and --password-stdin must
    take exactly its line(s) and leave the rest of the input alone. The
    terminal is put back as it was on every path out of a no-echo read,
    Ctrl-C included: CZMQ's SIGINT handler does not restart read (), so the
    read returns EINTR and we restore before reporting it.
    =========================================================================
*/

#include "client_input.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sodium.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

//  A descriptor that becomes readable at Ctrl-C, or -1 (client_input_set_interrupt_fd)
static int s_interrupt_fd = -1;
//  The editor the config file names, or NULL (client_input_set_editor)
static char *s_config_editor = NULL;

void
client_input_set_interrupt_fd (int fd)
{
    s_interrupt_fd = fd;
}

//  A signal that lands after the check of zsys_interrupted and before
//  read () blocks would be lost until the next key; a descriptor that the
//  signal handler writes to cannot be missed, so when there is one, every
//  read waits on both.
int
client_input_wait (int fd)
{
    if (s_interrupt_fd < 0)
        return 0;
    while (true) {
        struct pollfd items [2] = {
            { .fd = fd, .events = POLLIN },
            { .fd = s_interrupt_fd, .events = POLLIN }
        };
        int rc = poll (items, 2, -1);
        if (rc == -1 && errno == EINTR)
            continue;           //  the interrupt descriptor says if it was Ctrl-C
        if (rc == -1)
            return 0;           //  let the read say what is wrong
        if (items [1].revents & POLLIN)
            return -1;
        if (items [0].revents)
            return 0;
    }
}

void
client_input_wipe (char **secret_p)
{
    assert (secret_p);
    if (*secret_p) {
        sodium_memzero (*secret_p, strlen (*secret_p));
        free (*secret_p);
        *secret_p = NULL;
    }
}

client_input_t
client_input_line (int fd, size_t max, char **line_p)
{
    assert (line_p);
    *line_p = NULL;
    //  One byte spare for a "\r" that is dropped, one for the NUL
    char *line = (char *) zmalloc (max + 2);
    assert (line);
    size_t size = 0;
    bool any = false;
    client_input_t result = CLIENT_INPUT_OK;
    while (true) {
        char c;
        if (client_input_wait (fd)) {
            result = CLIENT_INPUT_INTERRUPTED;
            break;
        }
        ssize_t got = read (fd, &c, 1);
        if (got == -1 && errno == EINTR) {
            if (zsys_interrupted) {
                result = CLIENT_INPUT_INTERRUPTED;
                break;
            }
            continue;
        }
        if (got == -1) {
            result = CLIENT_INPUT_FAILED;
            break;
        }
        if (got == 0) {
            if (!any)
                result = CLIENT_INPUT_EOF;
            break;
        }
        any = true;
        if (c == '\n')
            break;
        if (size == max + 1) {
            result = CLIENT_INPUT_TOO_LONG;
            break;
        }
        line [size++] = c;
    }
    if (result == CLIENT_INPUT_OK && size > 0 && line [size - 1] == '\r')
        line [--size] = 0;
    if (result == CLIENT_INPUT_OK && size > max)
        result = CLIENT_INPUT_TOO_LONG;
    if (result == CLIENT_INPUT_OK)
        *line_p = line;
    else {
        int saved = errno;
        sodium_memzero (line, max + 2);
        free (line);
        errno = saved;
    }
    return result;
}

client_input_t
client_input_secret (int fd, const char *prompt, size_t max, char **secret_p)
{
    assert (prompt);
    assert (secret_p);
    *secret_p = NULL;
    struct termios saved;
    if (tcgetattr (fd, &saved))
        return CLIENT_INPUT_FAILED;
    struct termios quiet = saved;
    //  Lines stay lines (ICANON), so the terminal still offers erase and
    //  kill; only the echo goes
    quiet.c_lflag &= (tcflag_t) ~(ECHO | ECHOE | ECHOK | ECHONL);
    //  Echo goes before the prompt comes: whatever is typed once the
    //  prompt shows is never echoed, and is not flushed away either
    if (tcsetattr (fd, TCSAFLUSH, &quiet))
        return CLIENT_INPUT_FAILED;
    fputs (prompt, stderr);
    fflush (stderr);
    client_input_t result = client_input_line (fd, max, secret_p);
    int error = errno;
    while (tcsetattr (fd, TCSAFLUSH, &saved) == -1 && errno == EINTR)
        ;
    //  The Enter the user typed was not echoed either
    fputc ('\n', stderr);
    errno = error;
    return result;
}

client_input_t
client_input_all (int fd, size_t max, char **text_p, size_t *size_p)
{
    assert (text_p && size_p);
    *text_p = NULL;
    *size_p = 0;
    size_t capacity = 4096;
    char *text = (char *) malloc (capacity + 1);
    assert (text);
    size_t size = 0;
    client_input_t result = CLIENT_INPUT_OK;
    while (true) {
        if (size == capacity) {
            if (capacity > max) {
                result = CLIENT_INPUT_TOO_LONG;
                break;
            }
            capacity *= 2;
            text = (char *) realloc (text, capacity + 1);
            assert (text);
        }
        if (client_input_wait (fd)) {
            result = CLIENT_INPUT_INTERRUPTED;
            break;
        }
        ssize_t got = read (fd, text + size, capacity - size);
        if (got == -1 && errno == EINTR) {
            if (zsys_interrupted) {
                result = CLIENT_INPUT_INTERRUPTED;
                break;
            }
            continue;
        }
        if (got == -1) {
            result = CLIENT_INPUT_FAILED;
            break;
        }
        if (got == 0)
            break;
        size += (size_t) got;
        if (size > max) {
            result = CLIENT_INPUT_TOO_LONG;
            break;
        }
    }
    if (result != CLIENT_INPUT_OK) {
        free (text);
        return result;
    }
    text [size] = 0;
    *text_p = text;
    *size_p = size;
    return CLIENT_INPUT_OK;
}

const char *
client_input_editor_name (void)
{
    const char *editor = getenv ("VISUAL");
    if (!editor || !*editor)
        editor = getenv ("EDITOR");
    if (!editor || !*editor)
        editor = s_config_editor;
    if (!editor || !*editor)
        editor = "vi";
    return editor;
}

void
client_input_set_editor (const char *editor)
{
    zstr_free (&s_config_editor);
    if (editor)
        s_config_editor = strdup (editor);
}

//  Run command (shell syntax, as git runs $EDITOR) with path as its last
//  argument; returns its wait status, or -1.
static int
s_run_editor (const char *editor, const char *path)
{
    char *script = zsys_sprintf ("%s \"$1\"", editor);
    assert (script);
    pid_t child = fork ();
    if (child == 0) {
        execl ("/bin/sh", "sh", "-c", script, "sh", path, (char *) NULL);
        _exit (127);
    }
    free (script);
    if (child == -1)
        return -1;
    int status;
    //  Ctrl-C reaches the editor too, which decides what it means; we
    //  wait for it whatever happens
    while (waitpid (child, &status, 0) == -1)
        if (errno != EINTR)
            return -1;
    return status;
}

client_input_t
client_input_edit_file (const char *path, char *error, size_t error_size)
{
    assert (path && error);
    error [0] = 0;
    const char *editor = client_input_editor_name ();
    int status = s_run_editor (editor, path);
    if (status == -1) {
        snprintf (error, error_size, "cannot run the editor '%s': %s", editor,
                  strerror (errno));
        return CLIENT_INPUT_FAILED;
    }
    if (!WIFEXITED (status) || WEXITSTATUS (status) != 0) {
        snprintf (error, error_size, "the editor '%s' failed (%s %d); set VISUAL "
                  "or EDITOR", editor, WIFEXITED (status)? "exit status": "signal",
                  WIFEXITED (status)? WEXITSTATUS (status): WTERMSIG (status));
        return CLIENT_INPUT_FAILED;
    }
    return CLIENT_INPUT_OK;
}

client_input_t
client_input_editor (size_t max, char **text_p, size_t *size_p, char *error,
                     size_t error_size)
{
    assert (text_p && size_p && error);
    *text_p = NULL;
    *size_p = 0;
    error [0] = 0;
    const char *editor = client_input_editor_name ();
    const char *tmpdir = getenv ("TMPDIR");
    if (!tmpdir || *tmpdir != '/')
        tmpdir = "/tmp";
    char *path = zsys_sprintf ("%s/zpost-message-XXXXXX.txt", tmpdir);
    assert (path);
    //  mkstemps creates the file 0600, so a draft is the user's alone
    int fd = mkstemps (path, 4);
    if (fd == -1) {
        snprintf (error, error_size, "cannot create a temporary file in %s: %s; "
                  "set TMPDIR, or give the body with -m or on standard input",
                  tmpdir, strerror (errno));
        free (path);
        return CLIENT_INPUT_FAILED;
    }
    close (fd);

    client_input_t result = CLIENT_INPUT_FAILED;
    int status = s_run_editor (editor, path);
    if (status == -1)
        snprintf (error, error_size, "cannot run the editor '%s': %s", editor,
                  strerror (errno));
    else
    if (!WIFEXITED (status) || WEXITSTATUS (status) != 0)
        snprintf (error, error_size, "the editor '%s' failed (%s %d), so nothing was "
                  "sent; set VISUAL or EDITOR, or give the body with -m or on "
                  "standard input", editor,
                  WIFEXITED (status)? "exit status": "signal",
                  WIFEXITED (status)? WEXITSTATUS (status): WTERMSIG (status));
    else {
        fd = open (path, O_RDONLY | O_CLOEXEC);
        if (fd == -1)
            snprintf (error, error_size, "cannot read back %s: %s", path, strerror (errno));
        else {
            result = client_input_all (fd, max, text_p, size_p);
            if (result == CLIENT_INPUT_FAILED)
                snprintf (error, error_size, "cannot read back %s: %s", path,
                          strerror (errno));
            close (fd);
        }
    }
    unlink (path);
    free (path);
    return result;
}


//  --------------------------------------------------------------------------
//  Selftest

//  The selftest's asserts are its checks, and many call what they check:
//  they must stay in a build with NDEBUG (CMake's release types set it).
#undef NDEBUG
#include <assert.h>

//  A pipe whose read end holds text, already closed for writing.
static int
s_pipe_with (const char *text, size_t size)
{
    int fds [2];
    assert (pipe (fds) == 0);
    assert (write (fds [1], text, size) == (ssize_t) size);
    close (fds [1]);
    return fds [0];
}

void
client_input_test (bool verbose)
{
    printf (" * client_input: ");
    if (verbose)
        printf ("\n");

    //  @selftest
    //  Lines: one at a time, nothing past the newline taken, CRLF too,
    //  the last line without its newline, then EOF
    int fd = s_pipe_with ("old secret\nnew secret\r\nlast", 27);
    char *line;
    assert (client_input_line (fd, 1024, &line) == CLIENT_INPUT_OK);
    assert (streq (line, "old secret"));
    client_input_wipe (&line);
    assert (line == NULL);
    assert (client_input_line (fd, 1024, &line) == CLIENT_INPUT_OK);
    assert (streq (line, "new secret"));
    client_input_wipe (&line);
    assert (client_input_line (fd, 1024, &line) == CLIENT_INPUT_OK);
    assert (streq (line, "last"));
    client_input_wipe (&line);
    assert (client_input_line (fd, 1024, &line) == CLIENT_INPUT_EOF);
    assert (line == NULL);
    close (fd);

    //  An empty line is a line; the limit is exact
    fd = s_pipe_with ("\n12345678\n123456789\n", 20);
    assert (client_input_line (fd, 8, &line) == CLIENT_INPUT_OK);
    assert (streq (line, ""));
    client_input_wipe (&line);
    assert (client_input_line (fd, 8, &line) == CLIENT_INPUT_OK);
    assert (streq (line, "12345678"));
    client_input_wipe (&line);
    assert (client_input_line (fd, 8, &line) == CLIENT_INPUT_TOO_LONG);
    assert (line == NULL);
    close (fd);

    //  A secret needs a terminal
    fd = s_pipe_with ("x\n", 2);
    assert (client_input_secret (fd, "", 8, &line) == CLIENT_INPUT_FAILED);
    close (fd);

    //  Everything, up to a limit
    fd = s_pipe_with ("body\x00with nul", 13);
    size_t size;
    char *text;
    assert (client_input_all (fd, 100, &text, &size) == CLIENT_INPUT_OK);
    assert (size == 13 && memcmp (text, "body\x00with nul", 14) == 0);
    free (text);
    close (fd);
    fd = s_pipe_with ("", 0);
    assert (client_input_all (fd, 100, &text, &size) == CLIENT_INPUT_OK);
    assert (size == 0 && streq (text, ""));
    free (text);
    close (fd);
    char *big = (char *) malloc (10000);
    memset (big, 'x', 10000);
    int fds [2];
    assert (pipe (fds) == 0);
    assert (write (fds [1], big, 10000) == 10000);
    close (fds [1]);
    assert (client_input_all (fds [0], 9999, &text, &size) == CLIENT_INPUT_TOO_LONG);
    close (fds [0]);
    assert (pipe (fds) == 0);
    assert (write (fds [1], big, 10000) == 10000);
    close (fds [1]);
    assert (client_input_all (fds [0], 10000, &text, &size) == CLIENT_INPUT_OK);
    assert (size == 10000);
    free (text);
    close (fds [0]);
    free (big);

    //  The editor: VISUAL first, the draft is 0600 and removed afterwards
    char scratch [] = "/tmp/zpost-client-input-XXXXXX";
    assert (mkdtemp (scratch));
    char *saved_visual = getenv ("VISUAL")? strdup (getenv ("VISUAL")): NULL;
    char *saved_tmpdir = getenv ("TMPDIR")? strdup (getenv ("TMPDIR")): NULL;
    setenv ("TMPDIR", scratch, 1);
    char *editor = zsys_sprintf (
        "edit () { stat -c %%a \"$1\" > %s/mode; printf 'Hello\\n\\nBob' > \"$1\"; }; edit",
        scratch);
    setenv ("VISUAL", editor, 1);
    assert (streq (client_input_editor_name (), editor));
    char error [256];
    assert (client_input_editor (1000, &text, &size, error, sizeof (error)) == CLIENT_INPUT_OK);
    assert (streq (text, "Hello\n\nBob") && size == 10);
    free (text);
    char *mode_path = zsys_sprintf ("%s/mode", scratch);
    FILE *mode_file = fopen (mode_path, "r");
    assert (mode_file);
    char mode [16] = "";
    assert (fgets (mode, sizeof (mode), mode_file));
    fclose (mode_file);
    assert (streq (mode, "600\n"));
    unlink (mode_path);
    zstr_free (&mode_path);
    zdir_t *dir = zdir_new (scratch, NULL);
    assert (zdir_count (dir) == 0);             //  the draft is gone
    zdir_destroy (&dir);
    zstr_free (&editor);

    //  An editor that fails sends nothing and says what to do
    setenv ("VISUAL", "false", 1);
    assert (client_input_editor (1000, &text, &size, error, sizeof (error)) == CLIENT_INPUT_FAILED);
    if (verbose)
        zsys_debug ("%s", error);
    assert (strstr (error, "failed") && strstr (error, "-m"));
    assert (text == NULL);
    dir = zdir_new (scratch, NULL);
    assert (zdir_count (dir) == 0);
    zdir_destroy (&dir);

    if (saved_visual)
        setenv ("VISUAL", saved_visual, 1);
    else
        unsetenv ("VISUAL");
    if (saved_tmpdir)
        setenv ("TMPDIR", saved_tmpdir, 1);
    else
        unsetenv ("TMPDIR");
    zstr_free (&saved_visual);
    zstr_free (&saved_tmpdir);
    dir = zdir_new (scratch, NULL);
    zdir_remove (dir, true);
    zdir_destroy (&dir);
    //  @end

    printf ("OK\n");
}
