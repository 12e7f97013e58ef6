/*  =========================================================================
    client_shell - the guided session: zpost for a person at a terminal

    Three layers, top down:

    - the menus (s_login_menu, s_main_menu) and one function per step
      (s_register, s_login, s_inbox, s_send, ...), each of which asks what
      it needs, sends one request through client_api, and says what
      came of it in one sentence;
    - the readers (s_read_line, s_read_secret, s_read_body), which give a
      step a line, or tell it that the person cancelled (Ctrl-C) or that
      the input ended (Ctrl-D);
    - below them, libedit on a terminal, or plain line reads on anything
      else.

    Ctrl-C. Our own SIGINT handler sets zsys_interrupted, which is what
    client_session and client_input already watch, and installs itself
    without SA_RESTART so that a blocked poll or read returns. It also
    writes a byte to a pipe that every read of the person's input waits on
    beside the input (client_input_wait), so a Ctrl-C that lands just
    before a read blocks is not lost. libedit would retry a read that a
    signal interrupted, so it reads through s_getc, which does not.
    Whatever was cancelled, zsys_interrupted is cleared and the pipe
    drained before the next step, so one Ctrl-C never spills into the next
    request. SIGTERM and SIGHUP also set s_leave: the session logs out and
    ends.
    =========================================================================
*/

#include "client_shell.h"
#include "client_compose.h"
#include "client_draft.h"
#include "client_input.h"
#include "client_output.h"
#include "client_show.h"

#include <errno.h>
#include <fcntl.h>
#include <histedit.h>
#include <inttypes.h>
#include <locale.h>
#include <signal.h>
#include <strings.h>
#include <sodium.h>
#include <unistd.h>
#include <wchar.h>

#define S_LINE_MAX          (64 * 1024)     //  bytes of one typed line
#define S_INBOX_LIMIT       50              //  messages the inbox shows
#define S_HISTORY_SIZE      500             //  lines the history keeps

//  What a reader got
typedef enum {
    S_READ_LINE,                //  a line
    S_READ_EOF,                 //  Ctrl-D, or the input ended
    S_READ_CANCEL               //  Ctrl-C
} s_read_t;

//  What the person chose at a menu
#define S_CHOICE_LEAVE      -1  //  Ctrl-D, or the input ended
#define S_CHOICE_NONE       0   //  nothing (an empty line, Ctrl-C)

typedef struct {
    client_app_t *app;          //  options, configuration, the session
    int input;                  //  descriptor the person types on
    bool terminal;              //  input is a terminal: libedit reads it
    EditLine *editline;         //  the line editor, on a terminal
    zhashx_t *histories;        //  a History per kind of prompt (s_history_key)
    const char *prompt;         //  what the editor shows before a line
    bool cancelled;             //  a read stopped at Ctrl-C
    unsigned char pending [8];  //  bytes read but not yet a character
    size_t pending_size;        //  their number
    int bad_byte;               //  the first byte of the line that is not
                                //  UTF-8, or -1
    char *username;             //  logged in as, or NULL
    char *server;               //  "host:port", for titles
    zhashx_t *flagged;          //  ids flagged on the inbox page shown
    uint64_t newest;            //  the inbox's newest id at the last menu
    bool newest_known;          //  newest holds something
} s_shell_t;

//  One page of the inbox, as shown
typedef struct {
    uint64_t before;            //  its cursor (0: from the newest)
    uint64_t smallest;          //  the smallest id on it
    size_t rows;                //  rows shown
    bool more;                  //  a full page: another may follow
} s_page_t;

//  Set by SIGTERM or SIGHUP: log out and leave
static volatile sig_atomic_t s_leave = 0;
//  The pipe the signal handler writes to; -1 until made
static int s_signal_pipe [2] = { -1, -1 };


//  --------------------------------------------------------------------------
//  Signals

static void
s_on_signal (int signal_number)
{
    int saved = errno;
    if (signal_number != SIGINT)
        s_leave = 1;
    zsys_interrupted = 1;
    if (s_signal_pipe [1] != -1) {
        char byte = 1;
        //  A full pipe already says it
        ssize_t rc = write (s_signal_pipe [1], &byte, 1);
        (void) rc;
    }
    errno = saved;
}

static void
s_catch_signals (void)
{
    if (s_signal_pipe [0] == -1 && pipe (s_signal_pipe) == 0) {
        for (int index = 0; index < 2; index++) {
            fcntl (s_signal_pipe [index], F_SETFL, O_NONBLOCK);
            fcntl (s_signal_pipe [index], F_SETFD, FD_CLOEXEC);
        }
        client_input_set_interrupt_fd (s_signal_pipe [0]);
    }
    struct sigaction action;
    memset (&action, 0, sizeof (action));
    action.sa_handler = s_on_signal;
    sigemptyset (&action.sa_mask);
    action.sa_flags = 0;        //  no SA_RESTART: a blocked read must return
    sigaction (SIGINT, &action, NULL);
    sigaction (SIGTERM, &action, NULL);
    sigaction (SIGHUP, &action, NULL);
}

//  Forget a Ctrl-C that has done its work
static void
s_clear_interrupt (s_shell_t *self)
{
    zsys_interrupted = 0;
    self->cancelled = false;
    char bytes [64];
    if (s_signal_pipe [0] != -1)
        while (read (s_signal_pipe [0], bytes, sizeof (bytes)) > 0)
            ;
}

//  Back to the signal handling the process had
static void
s_release_signals (void)
{
    signal (SIGINT, SIG_DFL);
    signal (SIGTERM, SIG_DFL);
    signal (SIGHUP, SIG_DFL);
    client_input_set_interrupt_fd (-1);
    for (int index = 0; index < 2; index++)
        if (s_signal_pipe [index] != -1) {
            close (s_signal_pipe [index]);
            s_signal_pipe [index] = -1;
        }
}


//  --------------------------------------------------------------------------
//  The line editor

static char *
s_prompt (EditLine *editline)
{
    s_shell_t *self = NULL;
    el_get (editline, EL_CLIENTDATA, &self);
    return (char *) (self && self->prompt? self->prompt: "");
}

//  libedit's reader retries a read that a signal interrupted; this one
//  gives up at Ctrl-C, so that el_gets returns. UTF-8 is decoded here, as
//  libedit would, with one difference: a byte that cannot start or
//  continue a character (Latin-1's é, typed on a terminal set to
//  Latin-1) is only that byte. It stands as U+FFFD on the screen and is
//  noted, so that s_read_line refuses the line; the bytes after it are
//  decoded afresh, so the Enter that follows it is an Enter.
static int
s_getc (EditLine *editline, wchar_t *character)
{
    s_shell_t *self = NULL;
    el_get (editline, EL_CLIENTDATA, &self);
    assert (self);
    while (true) {
        if (self->pending_size > 0) {
            mbstate_t state;
            memset (&state, 0, sizeof (state));
            wchar_t decoded;
            size_t rc = mbrtowc (&decoded, (const char *) self->pending,
                                 self->pending_size, &state);
            size_t used = 0;
            if (rc == (size_t) -2 && self->pending_size < 4)
                ;                   //  more bytes of this character to come
            else
            if (rc == (size_t) -1 || rc == (size_t) -2) {
                if (self->bad_byte == -1)
                    self->bad_byte = self->pending [0];
                decoded = 0xFFFD;
                used = 1;
            }
            else
                used = rc == 0? 1: rc;
            if (used) {
                self->pending_size -= used;
                memmove (self->pending, self->pending + used, self->pending_size);
                *character = decoded;
                return 1;
            }
        }
        if (client_input_wait (self->input)) {
            self->cancelled = true;
            return -1;
        }
        ssize_t got = read (self->input, self->pending + self->pending_size, 1);
        if (got == -1 && errno == EINTR) {
            if (zsys_interrupted) {
                self->cancelled = true;
                return -1;
            }
            continue;
        }
        if (got <= 0) {
            //  A character cut short by the end: its bytes are bad
            if (self->pending_size > 0 && self->bad_byte == -1)
                self->bad_byte = self->pending [0];
            self->pending_size = 0;
            return got == 0? 0: -1;
        }
        self->pending_size++;
    }
}

//  The history a prompt uses: its words up to the first of " (:?>", so
//  that "To (names, separated by commas): " and "Subject: " each keep
//  their own, and "Read which? (1-7, ...)" one whatever the count; the
//  menus' digits stay with the menus.
static char *
s_history_key (const char *prompt)
{
    size_t size = strcspn (prompt, "(:?>");
    while (size > 0 && prompt [size - 1] == ' ')
        size--;
    char *key = strndup (prompt, size);
    assert (key);
    return key;
}

static void
s_history_destroy (void **item_p)
{
    if (*item_p) {
        history_end ((History *) *item_p);
        *item_p = NULL;
    }
}

//  The history for prompt, made when first needed
static History *
s_history (s_shell_t *self, const char *prompt)
{
    char *key = s_history_key (prompt);
    History *kept = (History *) zhashx_lookup (self->histories, key);
    if (!kept) {
        kept = history_init ();
        assert (kept);
        HistEvent event;
        history (kept, &event, H_SETSIZE, S_HISTORY_SIZE);
        history (kept, &event, H_SETUNIQUE, 1);
        zhashx_insert (self->histories, key, kept);
    }
    free (key);
    return kept;
}

//  Say that a line was not UTF-8, naming its first bad byte, and what it
//  would be in Latin-1 (the usual cause: a terminal set to it)
static void
s_not_utf8 (int byte)
{
    fflush (stdout);
    char guess [64] = "";
    if (byte >= 0xA0 && !client_output_ascii ())
        snprintf (guess, sizeof (guess), ", which is %c%c in Latin-1",
                  (char) (0xC0 | (byte >> 6)), (char) (0x80 | (byte & 0x3F)));
    fprintf (stderr, "That line is not UTF-8 text: it holds the byte \\x%02x%s, so it "
             "was not taken. Set your terminal to UTF-8, and type it again.\n",
             (unsigned) byte, guess);
}

static void
s_editor_start (s_shell_t *self)
{
    self->editline = el_init ("zpost", stdin, stdout, stderr);
    assert (self->editline);
    el_set (self->editline, EL_CLIENTDATA, self);
    el_set (self->editline, EL_PROMPT, s_prompt);
    el_set (self->editline, EL_EDITOR, "emacs");
    el_set (self->editline, EL_GETCFN, s_getc);
    self->histories = zhashx_new ();
    assert (self->histories);
    zhashx_set_destructor (self->histories, s_history_destroy);
    el_set (self->editline, EL_HIST, history, s_history (self, ""));
    //  The person's ~/.editrc, as every libedit program reads it
    el_source (self->editline, NULL);
}


//  --------------------------------------------------------------------------
//  Constructor and destructor

static s_shell_t *
s_shell_new (client_app_t *app, int input)
{
    s_shell_t *self = (s_shell_t *) zmalloc (sizeof (s_shell_t));
    assert (self);
    self->app = app;
    self->input = input;
    self->bad_byte = -1;
    self->terminal = isatty (input) && isatty (STDOUT_FILENO);
    if (self->terminal)
        s_editor_start (self);
    return self;
}

static void
s_forget_login (s_shell_t *self)
{
    zstr_free (&self->username);
    self->newest_known = false;
    if (self->app->session)
        client_session_set_token (self->app->session, NULL);
}

static void
s_shell_destroy (s_shell_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        s_shell_t *self = *self_p;
        s_forget_login (self);
        zstr_free (&self->server);
        if (self->editline)
            el_end (self->editline);
        zhashx_destroy (&self->histories);
        zhashx_destroy (&self->flagged);
        free (self);
        *self_p = NULL;
    }
}


//  --------------------------------------------------------------------------
//  Readers

//  Read one line, without its newline, into *line_p (the caller frees).
//  remember puts a non-empty line into the history.
static s_read_t
s_read_line (s_shell_t *self, const char *prompt, bool remember, char **line_p)
{
    *line_p = NULL;
    if (s_leave)
        return S_READ_EOF;
    s_clear_interrupt (self);
    fflush (stdout);
    if (!self->terminal) {
        while (true) {
            fputs (prompt, stdout);
            fflush (stdout);
            client_input_t result = client_input_line (self->input, S_LINE_MAX, line_p);
            if (result == CLIENT_INPUT_INTERRUPTED)
                return s_leave? S_READ_EOF: S_READ_CANCEL;
            if (result == CLIENT_INPUT_TOO_LONG) {
                fprintf (stderr, "That line is longer than %d bytes, so it was dropped.\n",
                         S_LINE_MAX);
                return S_READ_CANCEL;
            }
            if (result != CLIENT_INPUT_OK)
                return S_READ_EOF;
            //  Never stored as something else: said, and asked again
            if (zpost_msg_valid_utf8 (*line_p, strlen (*line_p)))
                return S_READ_LINE;
            const unsigned char *byte = (const unsigned char *) *line_p;
            size_t index = 0;
            while (byte [index] && byte [index] < 0x80)
                index++;
            s_not_utf8 (byte [index]);
            zstr_free (line_p);
        }
    }
    //  Each kind of prompt has its own history: Up at To: brings back
    //  recipients, never a menu's digits
    el_set (self->editline, EL_HIST, history, s_history (self, prompt));
    while (true) {
        self->prompt = prompt;
        self->bad_byte = -1;
        self->pending_size = 0;
        //  libedit writes the prompt first and makes the terminal raw only
        //  when it reads: keys typed in between would meet the cooked line
        //  discipline (a Ctrl-D there is lost). Raw first, then the prompt.
        el_set (self->editline, EL_PREP_TERM, 1);
        int count = 0;
        const char *line = el_gets (self->editline, &count);
        self->prompt = NULL;
        if (self->cancelled || s_leave) {
            //  The terminal echoed nothing; end the abandoned line
            printf ("\n");
            return s_leave? S_READ_EOF: S_READ_CANCEL;
        }
        if (!line || count <= 0) {
            printf ("\n");
            return S_READ_EOF;
        }
        if (self->bad_byte != -1) {
            s_not_utf8 (self->bad_byte);
            continue;
        }
        size_t size = strlen (line);
        while (size > 0 && (line [size - 1] == '\n' || line [size - 1] == '\r'))
            size--;
        *line_p = strndup (line, size);
        assert (*line_p);
        if (remember && size > 0) {
            HistEvent event;
            History *kept = s_history (self, prompt);
            history (kept, &event, H_ENTER, *line_p);
        }
        return S_READ_LINE;
    }
}

//  Read a password: without echo on a terminal, a plain line otherwise.
//  The caller wipes it with client_input_wipe.
static s_read_t
s_read_secret (s_shell_t *self, const char *prompt, char **secret_p)
{
    *secret_p = NULL;
    if (s_leave)
        return S_READ_EOF;
    s_clear_interrupt (self);
    client_input_t result;
    if (self->terminal)
        result = client_input_secret (self->input, prompt, ZPOST_PASSWORD_MAX, secret_p);
    else {
        fputs (prompt, stdout);
        fflush (stdout);
        result = client_input_line (self->input, ZPOST_PASSWORD_MAX, secret_p);
    }
    if (result == CLIENT_INPUT_OK)
        return S_READ_LINE;
    if (result == CLIENT_INPUT_INTERRUPTED)
        return s_leave? S_READ_EOF: S_READ_CANCEL;
    if (result == CLIENT_INPUT_TOO_LONG) {
        fprintf (stderr, "The password is longer than %d bytes; nothing was done.\n",
                 ZPOST_PASSWORD_MAX);
        return S_READ_CANCEL;
    }
    return S_READ_EOF;
}

//  Read a message body: lines up to one holding only ".", or the end of
//  the input (Ctrl-D). Returns S_READ_LINE with the body (each line ended
//  by "\n") in *body_p, or S_READ_CANCEL with what was typed before the
//  Ctrl-C in *body_p (the caller frees it; it may be "").
static s_read_t
s_read_body (s_shell_t *self, char **body_p)
{
    *body_p = NULL;
    size_t size = 0;
    size_t capacity = 1024;
    char *body = (char *) malloc (capacity);
    assert (body);
    body [0] = 0;
    while (true) {
        char *line = NULL;
        s_read_t result = s_read_line (self, "", false, &line);
        if (result == S_READ_CANCEL || (result == S_READ_EOF && s_leave)) {
            //  What was typed so far is the caller's to keep (a draft)
            *body_p = body;
            return S_READ_CANCEL;
        }
        if (result == S_READ_EOF)
            break;
        if (streq (line, ".")) {
            free (line);
            break;
        }
        size_t length = strlen (line);
        if (size + length + 1 > ZPOST_BODY_MAX) {
            fprintf (stderr, "The message is larger than %d MiB, so it was not sent.\n",
                     ZPOST_BODY_MAX >> 20);
            free (line);
            free (body);
            return S_READ_CANCEL;
        }
        while (size + length + 2 > capacity) {
            capacity *= 2;
            body = (char *) realloc (body, capacity);
            assert (body);
        }
        memcpy (body + size, line, length);
        size += length;
        body [size++] = '\n';
        body [size] = 0;
        free (line);
    }
    *body_p = body;
    return S_READ_LINE;
}

//  A number from 1 to max as typed (spaces around it allowed); 0 if not
static size_t
s_parse_choice (const char *text, size_t max)
{
    while (*text == ' ' || *text == '\t')
        text++;
    size_t digits = strspn (text, "0123456789");
    const char *rest = text + digits;
    while (*rest == ' ' || *rest == '\t')
        rest++;
    if (digits == 0 || digits > 9 || *rest)
        return 0;
    size_t value = (size_t) strtoul (text, NULL, 10);
    return value >= 1 && value <= max? value: 0;
}

//  Ask for a number from 1 to max. S_CHOICE_NONE when the person typed
//  nothing or cancelled, S_CHOICE_LEAVE at the end of input, else the
//  number. A wrong answer is said, and asked again.
static int
s_read_number (s_shell_t *self, const char *prompt, size_t max)
{
    while (true) {
        char *line = NULL;
        s_read_t result = s_read_line (self, prompt, true, &line);
        if (result == S_READ_EOF)
            return S_CHOICE_LEAVE;
        if (result == S_READ_CANCEL)
            return S_CHOICE_NONE;
        bool empty = line [strspn (line, " \t")] == 0;
        size_t choice = s_parse_choice (line, max);
        free (line);
        if (empty)
            return S_CHOICE_NONE;
        if (choice)
            return (int) choice;
        fflush (stdout);
        if (max == 1)
            fprintf (stderr, "Type 1, or just Enter.\n");
        else
            fprintf (stderr, "Type a number from 1 to %zu.\n", max);
    }
}

//  Show a menu and read a choice, as s_read_number
static int
s_menu (s_shell_t *self, const char *title, const char **items, size_t count)
{
    printf ("\n%s\n", title);
    for (size_t index = 0; index < count; index++)
        printf ("  %zu  %s\n", index + 1, items [index]);
    return s_read_number (self, "zpost> ", count);
}

//  Say something, as one line
static void
s_say (const char *format, ...) CHECK_PRINTF (1);

static void
s_say (const char *format, ...)
{
    va_list args;
    va_start (args, format);
    char *sentence = zsys_vprintf (format, args);
    va_end (args);
    assert (sentence);
    if (isatty (STDOUT_FILENO)) {
        //  At word boundaries, to the terminal's width
        char *wrapped = client_output_wrap (sentence, client_output_columns ());
        free (sentence);
        sentence = wrapped;
    }
    printf ("%s\n", sentence);
    free (sentence);
    fflush (stdout);
}

//  Say what is wrong with what was typed, as one line on stderr
static void
s_complain (const char *sentence)
{
    fflush (stdout);
    //  It may quote what was typed
    char *safe = client_output_safe_str (sentence, CLIENT_OUTPUT_LINE);
    if (*safe)
        safe [0] = (char) toupper ((unsigned char) safe [0]);
    char *said = zsys_sprintf ("%s.", safe);
    assert (said);
    if (isatty (STDERR_FILENO)) {
        char *wrapped = client_output_wrap (said, client_output_columns_of (STDERR_FILENO));
        free (said);
        said = wrapped;
    }
    fprintf (stderr, "%s\n", said);
    free (said);
    free (safe);
}

static void
s_cancelled (void)
{
    s_say ("Cancelled.");
}


//  --------------------------------------------------------------------------
//  Replies

//  After a request: NULL means the failure was said; a reply that is not
//  200 is said here. Returns the reply if it is 200, else NULL (and
//  destroys it). A 401 ends the login here.
static zpost_msg_t *
s_ok (s_shell_t *self, zpost_msg_t *reply, int special, const char *sentence)
{
    if (!reply) {
        //  A Ctrl-C during a request has been said ("interrupted")
        s_clear_interrupt (self);
        return NULL;
    }
    if (zpost_msg_status (reply) == ZPOST_OK)
        return reply;
    client_api_refusal (self->app, reply, NULL, special, sentence);
    if (zpost_msg_status (reply) == ZPOST_NOT_LOGGED_IN && self->username)
        s_forget_login (self);
    zpost_msg_destroy (&reply);
    return NULL;
}


//  --------------------------------------------------------------------------
//  Asking for an account

//  A username, folded, or NULL if none was given (said why)
static char *
s_ask_username (s_shell_t *self)
{
    char *typed = NULL;
    //  The config file's user is the answer to an empty line
    client_settings_t *settings = client_config_settings (self->app->config);
    const char *usual = settings? client_settings_get (settings, "user"): NULL;
    char *prompt = usual? zsys_sprintf ("Username (Enter for %s): ", usual)
                        : strdup ("Username: ");
    s_read_t result = s_read_line (self, prompt, true, &typed);
    free (prompt);
    if (result != S_READ_LINE) {
        if (result == S_READ_CANCEL)
            s_cancelled ();
        return NULL;
    }
    if (usual && !*typed) {
        free (typed);
        typed = strdup (usual);
    }
    char *name = client_check_username (typed);
    if (!name && *typed) {
        char *sentence = zsys_sprintf ("'%.64s' is not a username: use 1 to 32 of "
                                       "a-z 0-9 . _ -, starting with a letter or digit",
                                       typed);
        s_complain (sentence);
        free (sentence);
    }
    free (typed);
    return name;
}

//  A password, checked, asked twice if confirm. NULL if none (said why).
static char *
s_ask_password (s_shell_t *self, const char *prompt, bool new_password, bool confirm)
{
    char *password = NULL;
    s_read_t result = s_read_secret (self, prompt, &password);
    if (result != S_READ_LINE) {
        if (result == S_READ_CANCEL)
            s_cancelled ();
        return NULL;
    }
    const char *fault = client_check_password (password, new_password);
    if (fault) {
        s_complain (fault);
        client_input_wipe (&password);
        return NULL;
    }
    if (confirm) {
        char *again = NULL;
        result = s_read_secret (self, "Again: ", &again);
        if (result != S_READ_LINE) {
            if (result == S_READ_CANCEL)
                s_cancelled ();
            client_input_wipe (&password);
            return NULL;
        }
        if (!streq (password, again)) {
            s_complain ("the two passwords differ; nothing was done, try again");
            client_input_wipe (&password);
        }
        client_input_wipe (&again);
    }
    return password;
}


//  --------------------------------------------------------------------------
//  The login menu

static void
s_register (s_shell_t *self)
{
    char *username = s_ask_username (self);
    if (!username)
        return;
    char *password = s_ask_password (self, "Password: ", true, true);
    if (!password) {
        free (username);
        return;
    }
    int status;
    zpost_msg_t *reply = client_api_register (self->app, username, password, &status);
    client_input_wipe (&password);
    char *taken = zsys_sprintf ("the name %s is taken; choose another", username);
    reply = s_ok (self, reply, ZPOST_NAME_TAKEN, taken);
    if (reply)
        s_say ("Account %s created. Choose 2 to log in.", username);
    zpost_msg_destroy (&reply);
    free (taken);
    free (username);
}

static void
s_login (s_shell_t *self)
{
    char *username = s_ask_username (self);
    if (!username)
        return;
    char *password = s_ask_password (self, "Password: ", false, false);
    if (!password) {
        free (username);
        return;
    }
    int status;
    zpost_msg_t *reply = client_api_login (self->app, username, password, &status);
    client_input_wipe (&password);
    reply = s_ok (self, reply, ZPOST_LOGIN_FAILED,
                  "wrong username or password; check both and try again");
    if (reply) {
        const char *token = zpost_msg_get (reply, ZPOST_F_TOKEN);
        client_session_set_token (self->app->session, token);
        if (token)
            sodium_memzero ((char *) token, strlen (token));
        self->username = username;
        username = NULL;
        s_say ("Logged in as %s.", self->username);
    }
    zpost_msg_destroy (&reply);
    free (username);
}

//  Returns false when the person leaves
static bool
s_login_menu (s_shell_t *self)
{
    const char *items [] = { "create an account", "log in", "quit" };
    char *title = zsys_sprintf ("zpost on %s", self->server);
    int choice = s_menu (self, title, items, 3);
    free (title);
    if (choice == 1)
        s_register (self);
    else
    if (choice == 2)
        s_login (self);
    return choice != 3 && choice != S_CHOICE_LEAVE;
}


//  --------------------------------------------------------------------------
//  The main menu

static void s_reply (s_shell_t *self, uint64_t id, bool all);
static void s_forward (s_shell_t *self, uint64_t id);

//  --------------------------------------------------------------------------
//  The inbox, a page at a time, by message id (the id a message has in
//  every folder, and the one the one-shot commands take)

//  Ask for STATS user; NULL if there is none (nothing said: the figures
//  are a nicety of the list, which has been shown or refused already)
static zpost_msg_t *
s_user_stats (s_shell_t *self)
{
    int status;
    zpost_msg_t *reply = client_api_stats (self->app, false, &status);
    if (reply && zpost_msg_status (reply) != ZPOST_OK)
        zpost_msg_destroy (&reply);
    s_clear_interrupt (self);
    return reply;
}

//  The inbox's newest messages that hold query (SEARCH), one page; any
//  id shown can then be read as from the inbox's own page
//  A list reply's rows under their header, as zpost list prints them:
//  the sent folder's with recipients and no unread marker
static void
s_print_rows (zpost_msg_t *reply, bool sent)
{
    size_t rows = zpost_msg_rows (reply);
    if (rows == 0)
        return;
    int id_width = (int) strlen (zpost_msg_row_get (reply, 0, ZPOST_F_MESSAGE_ID));
    char *header = client_output_list_header (id_width, sent);
    printf ("%s\n", header);
    free (header);
    for (size_t row = 0; row < rows; row++) {
        char *line = client_output_list_row (
            id_width, !sent && streq (zpost_msg_row_get (reply, row, ZPOST_F_SEEN), "0"),
            zpost_msg_row_get (reply, row, ZPOST_F_MESSAGE_ID),
            strtoull (zpost_msg_row_get (reply, row, ZPOST_F_DATE), NULL, 10),
            zpost_msg_row_get (reply, row, sent? ZPOST_F_TO: ZPOST_F_FROM),
            client_show_subject (zpost_msg_row_get (reply, row, ZPOST_F_SUBJECT)),
            strtoull (zpost_msg_row_get (reply, row, ZPOST_F_SIZE), NULL, 10));
        printf ("%s\n", line);
        free (line);
    }
}

_Static_assert (ZPOST_QUERY_MIN == 3 && ZPOST_QUERY_MAX == 128,
                "s_search_inbox's sentence names the query's sizes");

static void
s_search_inbox (s_shell_t *self, const char *query)
{
    size_t size = strlen (query);
    if (size < ZPOST_QUERY_MIN || size > ZPOST_QUERY_MAX) {
        s_complain ("type / and 3 to 128 bytes to look for, such as /lunch");
        return;
    }
    int status;
    zpost_msg_t *reply = client_api_search (self->app, false, "any", query,
                                            S_INBOX_LIMIT, 0, &status);
    reply = s_ok (self, reply, 0, NULL);
    if (!reply)
        return;
    size_t rows = zpost_msg_rows (reply);
    char *safe = client_output_safe_str (query, CLIENT_OUTPUT_LINE);
    if (rows == 0)
        s_say ("No message in your inbox holds '%s'.", safe);
    else {
        s_say ("\nMessages that hold '%s', newest first%s:", safe,
               rows == S_INBOX_LIMIT? " (the newest 50; zpost search pages)": "");
        s_print_rows (reply, false);
    }
    free (safe);
    zpost_msg_destroy (&reply);
}

//  Show the page of the inbox below before (0: from the newest), page
//  page_number (from 1), with the folder's totals. Fills *page; returns
//  the rows shown, or -1 if there is no list (said why).
static int
s_show_page (s_shell_t *self, uint64_t before, size_t page_number, s_page_t *page)
{
    memset (page, 0, sizeof (*page));
    page->before = before;
    int status;
    zpost_msg_t *reply = client_api_list (self->app, false, false, S_INBOX_LIMIT,
                                          before, &status);
    reply = s_ok (self, reply, 0, NULL);
    if (!reply)
        return -1;
    size_t rows = zpost_msg_rows (reply);
    zhashx_destroy (&self->flagged);
    self->flagged = zhashx_new ();
    assert (self->flagged);
    if (rows) {
        zpost_msg_t *marks = client_api_list_filtered (self->app, false, "flagged",
                                                       S_INBOX_LIMIT, before, &status);
        if (marks && zpost_msg_status (marks) == ZPOST_OK)
            for (size_t row = 0; row < zpost_msg_rows (marks); row++)
                zhashx_insert (self->flagged,
                               zpost_msg_row_get (marks, row, ZPOST_F_MESSAGE_ID),
                               (void *) 1);
        zpost_msg_destroy (&marks);
        s_clear_interrupt (self);
    }
    int id_width = rows? (int) strlen (zpost_msg_row_get (reply, 0, ZPOST_F_MESSAGE_ID)): 2;
    if (rows) {
        char *header = client_output_list_header (id_width, false);
        printf ("%s\n", header);
        free (header);
    }
    size_t unread = 0;
    for (size_t row = 0; row < rows; row++) {
        const char *id = zpost_msg_row_get (reply, row, ZPOST_F_MESSAGE_ID);
        uint64_t value = strtoull (id, NULL, 10);
        if (page->smallest == 0 || value < page->smallest)
            page->smallest = value;
        bool unseen = streq (zpost_msg_row_get (reply, row, ZPOST_F_SEEN), "0");
        unread += unseen;
        char *line = client_output_list_row (
            id_width, unseen, id,
            strtoull (zpost_msg_row_get (reply, row, ZPOST_F_DATE), NULL, 10),
            zpost_msg_row_get (reply, row, ZPOST_F_FROM),
            client_show_subject (zpost_msg_row_get (reply, row, ZPOST_F_SUBJECT)),
            strtoull (zpost_msg_row_get (reply, row, ZPOST_F_SIZE), NULL, 10));
        if (zhashx_lookup (self->flagged, id))
            line [1] = '!';
        printf ("%s\n", line);
        free (line);
    }
    page->rows = rows;
    page->more = rows == S_INBOX_LIMIT && page->smallest > 1;
    zpost_msg_destroy (&reply);

    //  The totals are the folder's, not the page's
    zpost_msg_t *stats = s_user_stats (self);
    int64_t count = stats? client_show_stat (stats, "inbox-count"): -1;
    int64_t unread_all = stats? client_show_stat (stats, "inbox-unread"): -1;
    zpost_msg_destroy (&stats);
    if (count < 0) {
        count = (int64_t) rows;
        unread_all = (int64_t) unread;
    }
    if (rows == 0 && page_number == 1)
        s_say ("Your inbox is empty.");
    else {
        size_t pages = (size_t) ((count + S_INBOX_LIMIT - 1) / S_INBOX_LIMIT);
        pages = pages < page_number? page_number: pages;
        char flags [48] = "";
        if (zhashx_size (self->flagged))
            snprintf (flags, sizeof (flags), ", %zu flagged here (!)",
                      zhashx_size (self->flagged));
        if (pages > 1)
            s_say ("%" PRId64 " message%s, %" PRId64 " unread (*)%s; page %zu of %zu "
                   "(n next, p previous).", count, count == 1? "": "s", unread_all, flags,
                   page_number, pages);
        else
            s_say ("%" PRId64 " message%s, %" PRId64 " unread (*)%s.", count,
                   count == 1? "": "s", unread_all, flags);
    }
    return (int) rows;
}

//  A message id as typed; 0 if it is not one
static uint64_t
s_parse_id (const char *text)
{
    while (*text == ' ' || *text == '\t')
        text++;
    char *copy = strdup (text);
    assert (copy);
    size_t size = strlen (copy);
    while (size > 0 && (copy [size - 1] == ' ' || copy [size - 1] == '\t'))
        copy [--size] = 0;
    if (*copy == '#')
        memmove (copy, copy + 1, size);
    uint64_t id = 0;
    if (client_check_id (copy, &id))
        id = 0;
    free (copy);
    return id;
}

//  Read message id and show it. true if it was shown.
static bool
s_read_message (s_shell_t *self, uint64_t id)
{
    int status;
    zpost_msg_t *reply = client_api_read (self->app, id, &status);
    char *sentence = zsys_sprintf ("there is no message %" PRIu64 " in your folders; "
                                   "the list shows the ids", id);
    reply = s_ok (self, reply, ZPOST_NO_SUCH_MESSAGE, sentence);
    free (sentence);
    if (!reply)
        return false;
    printf ("\n");
    client_show_message (reply);
    printf ("\n");
    s_say ("Message %" PRIu64 ": r reply, a reply to all, f forward, t thread, "
           "d delete, s flag or unflag, u mark unread.", id);
    zpost_msg_destroy (&reply);
    return true;
}

//  Ask y or yes; anything else is no
static bool
s_yes (s_shell_t *self, const char *question)
{
    char *answer = NULL;
    s_read_t result = s_read_line (self, question, false, &answer);
    bool yes = result == S_READ_LINE
            && (strcasecmp (answer, "y") == 0 || strcasecmp (answer, "yes") == 0);
    free (answer);
    return yes;
}

//  Delete message id from the inbox, once asked. true if it went.
static bool
s_delete_id (s_shell_t *self, uint64_t id)
{
    int status;
    int held = client_api_holds (self->app, false, id, NULL, &status);
    if (held == -1) {
        s_clear_interrupt (self);
        return false;
    }
    if (held == 0) {
        s_say ("There is no message %" PRIu64 " in your inbox; nothing was deleted.", id);
        return false;
    }
    //  A digit typed once too often (3 is also quit at the login menu) must
    //  not delete: only y or yes does
    char *question = zsys_sprintf ("Delete message %" PRIu64 "? It cannot be undone. "
                                   "[y/N] ", id);
    bool yes = s_yes (self, question);
    free (question);
    if (!yes) {
        s_say ("Nothing was deleted.");
        return false;
    }
    zpost_msg_t *reply = client_api_delete (self->app, false, id, &status);
    reply = s_ok (self, reply, 0, NULL);
    if (reply)
        s_say ("Deleted message %" PRIu64 " from your inbox.", id);
    bool deleted = reply != NULL;
    zpost_msg_destroy (&reply);
    return deleted;
}

//  MARK id with flag, and say so
static void
s_mark (s_shell_t *self, uint64_t id, const char *flag, const char *said)
{
    int status;
    zpost_msg_t *reply = client_api_mark (self->app, false, id, flag, &status);
    char *sentence = zsys_sprintf ("message %" PRIu64 " is not in your inbox", id);
    reply = s_ok (self, reply, ZPOST_NO_SUCH_MESSAGE, sentence);
    free (sentence);
    if (reply)
        s_say ("Message %" PRIu64 " %s.", id, said);
    zpost_msg_destroy (&reply);
}

//  The thread of message id, one page, newest first
static void
s_thread_view (s_shell_t *self, uint64_t id)
{
    int status;
    zpost_msg_t *reply = client_api_thread (self->app, id, S_INBOX_LIMIT, 0, &status);
    char *sentence = zsys_sprintf ("there is no message %" PRIu64 " in your folders", id);
    reply = s_ok (self, reply, ZPOST_NO_SUCH_MESSAGE, sentence);
    free (sentence);
    if (!reply)
        return;
    size_t rows = zpost_msg_rows (reply);
    s_say ("\nThread %" PRIu64 ", newest first (type an id to read one):",
           zpost_msg_get_number (reply, ZPOST_F_THREAD_ID));
    int id_width = rows? (int) strlen (zpost_msg_row_get (reply, 0, ZPOST_F_MESSAGE_ID)): 2;
    for (size_t row = 0; row < rows; row++) {
        uint64_t answers = strtoull (zpost_msg_row_get (reply, row, ZPOST_F_IN_REPLY_TO),
                                     NULL, 10);
        const char *subject = client_show_subject (zpost_msg_row_get (reply, row,
                                                                      ZPOST_F_SUBJECT));
        char *shown = answers? zsys_sprintf ("[re %" PRIu64 "] %s", answers, subject)
                             : strdup (subject);
        char *line = client_output_list_row (
            id_width, streq (zpost_msg_row_get (reply, row, ZPOST_F_SEEN), "0"),
            zpost_msg_row_get (reply, row, ZPOST_F_MESSAGE_ID),
            strtoull (zpost_msg_row_get (reply, row, ZPOST_F_DATE), NULL, 10),
            zpost_msg_row_get (reply, row, ZPOST_F_FROM), shown,
            strtoull (zpost_msg_row_get (reply, row, ZPOST_F_SIZE), NULL, 10));
        if (streq (zpost_msg_row_get (reply, row, ZPOST_F_FLAGGED), "1"))
            line [1] = '!';
        printf ("%s\n", line);
        free (line);
        free (shown);
    }
    if (rows == S_INBOX_LIMIT)
        s_say ("The newest %d are shown; zpost thread %" PRIu64 " lists every one.",
               S_INBOX_LIMIT, id);
    zpost_msg_destroy (&reply);
}

static void
s_inbox (s_shell_t *self)
{
    //  The cursors of the pages before this one, for p
    uint64_t befores [1024] = { 0 };
    size_t page_index = 0;
    s_page_t page;
    int shown = s_show_page (self, 0, 1, &page);
    uint64_t current = 0;               //  the message last read
    //  An empty inbox has nothing to ask about: back to the menu
    while (shown >= 0 && self->username && (shown > 0 || page_index > 0)) {
        char *line = NULL;
        //  A prompt is one line: the short form where the long one would wrap
        s_read_t result = s_read_line (self, client_output_columns () >= 60
                                       ? "Read which? (an id, n or p for pages, "
                                         "Enter for the menu) "
                                       : "Read which? (id, n, p, Enter) ", true, &line);
        if (result != S_READ_LINE)
            break;
        char *command = line + strspn (line, " \t");
        size_t size = strlen (command);
        while (size > 0 && (command [size - 1] == ' ' || command [size - 1] == '\t'))
            command [--size] = 0;
        if (*command == 0) {
            free (line);
            break;
        }
        uint64_t id = s_parse_id (command);
        bool refresh = false;
        if (id) {
            if (s_read_message (self, id))
                current = id;
        }
        else
        if (*command == '/')
            s_search_inbox (self, command + 1);
        else
        if (streq (command, "n")) {
            if (!page.more)
                s_say ("This is the last page.");
            else
            if (page_index + 1 < sizeof (befores) / sizeof (befores [0])) {
                befores [++page_index] = page.smallest;
                refresh = true;
            }
        }
        else
        if (streq (command, "p")) {
            if (page_index == 0)
                s_say ("This is the first page.");
            else {
                page_index--;
                refresh = true;
            }
        }
        else
        if (strlen (command) == 1 && strchr ("raftdsu", *command)) {
            if (!current)
                s_say ("Read a message first (type its id); then %s acts on it.", command);
            else
            if (*command == 'r' || *command == 'a')
                s_reply (self, current, *command == 'a');
            else
            if (*command == 'f')
                s_forward (self, current);
            else
            if (*command == 't')
                s_thread_view (self, current);
            else
            if (*command == 'd') {
                if (s_delete_id (self, current)) {
                    current = 0;
                    refresh = true;
                }
            }
            else
            if (*command == 's') {
                char key [24];
                snprintf (key, sizeof (key), "%" PRIu64, current);
                bool flagged = self->flagged && zhashx_lookup (self->flagged, key);
                s_mark (self, current, flagged? "unflagged": "flagged",
                        flagged? "is no longer flagged": "is flagged (!)");
                refresh = true;
            }
            else {
                s_mark (self, current, "unseen", "is marked unread (*)");
                refresh = true;
            }
        }
        else
            s_complain ("type a message id to read it, n or p for another page, "
                        "/ and a text to search, a letter for the message just read, "
                        "or just Enter for the menu");
        free (line);
        if (refresh && self->username) {
            printf ("\n");
            shown = s_show_page (self, befores [page_index], page_index + 1, &page);
        }
    }
}


//  --------------------------------------------------------------------------
//  Writing: the names and the login are checked before the body, the body
//  is a draft as soon as it is typed, and a failed send offers what to do

//  LOOKUP the recipients. true to go on (a store without LOOKUP too).
static bool
s_check_recipients (s_shell_t *self, const char *recipients)
{
    int status;
    zpost_msg_t *reply = client_api_lookup (self->app, recipients, &status);
    if (reply && zpost_msg_status (reply) == ZPOST_UNKNOWN_COMMAND) {
        zpost_msg_destroy (&reply);
        return true;
    }
    reply = s_ok (self, reply, 0, NULL);
    bool ok = reply != NULL;
    zpost_msg_destroy (&reply);
    return ok;
}

//  Ask for recipients, checked and looked up; NULL if none (said why)
static char *
s_ask_recipients (s_shell_t *self, const char *prompt)
{
    char *typed = NULL;
    s_read_t result = s_read_line (self, prompt, true, &typed);
    if (result != S_READ_LINE) {
        if (result == S_READ_CANCEL)
            s_cancelled ();
        return NULL;
    }
    char *recipients = NULL;
    size_t count = 0;
    char *fault = typed [strspn (typed, " \t")]
                ? client_check_recipients (&recipients, typed, &count)
                : strdup ("no recipients were given, so nothing was sent");
    free (typed);
    if (!fault && count > ZPOST_RECIPIENTS_MAX)
        fault = zsys_sprintf ("%zu recipients are too many; at most %d may be given",
                              count, ZPOST_RECIPIENTS_MAX);
    if (fault) {
        s_complain (fault);
        free (fault);
        zstr_free (&recipients);
        return NULL;
    }
    //  Before a word of the body: are the names and the login right?
    if (!s_check_recipients (self, recipients))
        zstr_free (&recipients);
    return recipients;
}

//  Send the draft; on failure it stays, and the person chooses what next
static void
s_deliver (s_shell_t *self, client_draft_t *draft)
{
    while (true) {
        //  A draft goes out as the one who wrote it, or not at all
        bool writer = self->username
                   && (!*client_draft_user (draft)
                       || streq (client_draft_user (draft), self->username));
        if (self->username && !writer)
            s_say ("Draft %u was written by %s; log in as %s to send it.",
                   client_draft_number (draft), client_draft_user (draft),
                   client_draft_user (draft));
        if (writer) {
            int status;
            zpost_msg_t *reply = client_compose_deliver (self->app, draft, &status);
            char *sentence = zsys_sprintf ("the message it answers (%" PRIu64 ") is no "
                                           "longer in your folders",
                                           client_draft_in_reply_to (draft));
            reply = s_ok (self, reply, ZPOST_NO_SUCH_MESSAGE, sentence);
            free (sentence);
            if (reply) {
                char *spaced = client_api_spaced (client_draft_to (draft));
                s_say ("Sent to %s (message %s).",
                       spaced, zpost_msg_get (reply, ZPOST_F_MESSAGE_ID));
                free (spaced);
                zpost_msg_destroy (&reply);
                return;
            }
        }
        if (client_draft_number (draft) == 0) {
            s_complain (client_draft_error (draft));
            s_say ("The message could not be kept as a draft; it is lost if you leave "
                   "this question.");
        }
        else
            s_say ("Your message is kept as draft %u.", client_draft_number (draft));
        if (self->username && !writer)
            return;
        char *answer = NULL;
        s_read_t result = s_read_line (self, self->username
            ? "r send again, t change the recipients, e edit it in your editor, "
              "Enter to keep it as a draft: "
            : "l log in again and send, e edit it in your editor, Enter to keep it "
              "as a draft: ", false, &answer);
        char choice = result == S_READ_LINE && strlen (answer) == 1? answer [0]: 0;
        free (answer);
        if (choice == 'r' && self->username)
            continue;
        if (choice == 'l' || (choice == 'r' && !self->username)) {
            s_login (self);
            continue;
        }
        if (choice == 't' && self->username) {
            char *recipients = s_ask_recipients (self, "To (names, separated by commas): ");
            if (recipients) {
                client_draft_set_to (draft, recipients);
                client_draft_save (draft);
            }
            free (recipients);
            continue;
        }
        if (choice == 'e' && client_draft_number (draft)) {
            char error [512];
            if (client_input_edit_file (client_draft_body_path (draft), error,
                                        sizeof (error)) != CLIENT_INPUT_OK)
                s_complain (error);
            else
            if (client_draft_reload_body (draft, ZPOST_BODY_MAX))
                s_complain (client_draft_error (draft));
            s_clear_interrupt (self);
            continue;
        }
        if (client_draft_number (draft))
            s_say ("Draft %u is kept; drafts (7 on the menu) sends it later, as does "
                   "zpost send --draft %u.", client_draft_number (draft),
                   client_draft_number (draft));
        return;
    }
}

//  A new draft of this session's user
static client_draft_t *
s_new_draft (s_shell_t *self, const char *recipients, const char *subject,
             uint64_t in_reply_to)
{
    const char *state_dir = client_config_state_dir (self->app->config);
    client_draft_t *draft = client_draft_new (state_dir? state_dir: "/nonexistent");
    client_draft_set (draft, self->username, client_config_endpoint (self->app->config),
                      recipients, subject, in_reply_to);
    return draft;
}

//  Read the body, keep it as a draft at once, and send it. after is put
//  below what was typed (a forwarded message), or NULL.
static void
s_write_and_send (s_shell_t *self, const char *recipients, const char *subject,
                  uint64_t in_reply_to, const char *after)
{
    s_say (after? "Type a note above the forwarded message (or nothing). End it with "
                  "a line holding only \".\", or with Ctrl-D."
                : "Type the message. End it with a line holding only \".\", or with "
                  "Ctrl-D.");
    char *body = NULL;
    s_read_t result = s_read_body (self, &body);
    client_draft_t *draft = s_new_draft (self, recipients, subject, in_reply_to);
    if (result != S_READ_LINE) {
        //  What was typed before Ctrl-C is the person's: it is kept
        if (body && *body) {
            client_draft_set_body (draft, body, strlen (body));
            if (client_draft_save (draft) == 0)
                s_say ("Cancelled; nothing was sent. What you typed is kept as draft "
                       "%u (7 on the menu).", client_draft_number (draft));
            else
                s_say ("Cancelled; nothing was sent.");
        }
        else
            s_say ("Cancelled; nothing was sent.");
    }
    else
    if (client_check_body (body, strlen (body)))
        s_complain (client_check_body (body, strlen (body)));
    else
    if (!*body && !after)
        s_complain ("the message is empty, so it was not sent");
    else {
        char *whole = after? zsys_sprintf ("%s%s%s", body, *body? "\n": "", after)
                           : strdup (body);
        client_draft_set_body (draft, whole, strlen (whole));
        free (whole);
        //  On disk before it is sent: a crash, a kill or a Ctrl-C during
        //  the send leaves the draft
        if (client_draft_save (draft))
            s_complain (client_draft_error (draft));
        s_deliver (self, draft);
    }
    client_draft_destroy (&draft);
    free (body);
}

static void
s_send (s_shell_t *self)
{
    char *recipients = s_ask_recipients (self, "To (names, separated by commas): ");
    if (!recipients)
        return;
    char *subject = NULL;
    s_read_t result = s_read_line (self, "Subject: ", true, &subject);
    const char *subject_fault = result == S_READ_LINE
                              ? client_check_subject (subject): NULL;
    if (result != S_READ_LINE || subject_fault) {
        if (result == S_READ_CANCEL)
            s_cancelled ();
        if (subject_fault)
            s_complain (subject_fault);
    }
    else
        s_write_and_send (self, recipients, subject, 0, NULL);
    free (subject);
    free (recipients);
}

//  READ message id for a reply or a forward; NULL if it is not there
static zpost_msg_t *
s_original (s_shell_t *self, uint64_t id)
{
    int status;
    zpost_msg_t *reply = client_api_read (self->app, id, &status);
    char *sentence = zsys_sprintf ("there is no message %" PRIu64 " in your folders", id);
    reply = s_ok (self, reply, ZPOST_NO_SUCH_MESSAGE, sentence);
    free (sentence);
    return reply;
}

static void
s_reply (s_shell_t *self, uint64_t id, bool all)
{
    zpost_msg_t *original = s_original (self, id);
    if (!original)
        return;
    char *recipients = client_compose_reply_recipients (original, self->username, all);
    char *subject = client_compose_reply_subject (zpost_msg_get (original,
                                                                 ZPOST_F_SUBJECT));
    zpost_msg_destroy (&original);
    char *spaced = client_api_spaced (recipients);
    char *safe = client_output_safe_str (subject, CLIENT_OUTPUT_LINE);
    s_say ("Reply to %s, subject: %s", spaced, safe);
    free (safe);
    free (spaced);
    if (s_check_recipients (self, recipients))
        s_write_and_send (self, recipients, subject, id, NULL);
    free (subject);
    free (recipients);
}

static void
s_forward (s_shell_t *self, uint64_t id)
{
    zpost_msg_t *original = s_original (self, id);
    if (!original)
        return;
    char *recipients = s_ask_recipients (self, "Forward to (names, separated by "
                                         "commas): ");
    if (recipients) {
        char *subject = client_compose_forward_subject (zpost_msg_get (original,
                                                                       ZPOST_F_SUBJECT));
        char *forwarded = client_compose_forwarded (original, NULL);
        s_write_and_send (self, recipients, subject, 0, forwarded);
        free (forwarded);
        free (subject);
    }
    free (recipients);
    zpost_msg_destroy (&original);
}

static void
s_delete (s_shell_t *self)
{
    s_page_t page;
    int count = s_show_page (self, 0, 1, &page);
    if (count <= 0)
        return;
    char *line = NULL;
    s_read_t result = s_read_line (self, "Delete which? (an id, Enter for the menu) ",
                                   true, &line);
    if (result != S_READ_LINE || !line [strspn (line, " \t")]) {
        free (line);
        return;
    }
    uint64_t id = s_parse_id (line);
    free (line);
    if (!id)
        s_complain ("that is not a message id; nothing was deleted");
    else
        s_delete_id (self, id);
}

static void
s_statistics (s_shell_t *self)
{
    int status;
    zpost_msg_t *reply = client_api_stats (self->app, false, &status);
    reply = s_ok (self, reply, 0, NULL);
    if (reply) {
        printf ("\n");
        client_show_stats_words (reply);
    }
    zpost_msg_destroy (&reply);
}

static void
s_passwd (s_shell_t *self)
{
    char *password = s_ask_password (self, "Current password: ", false, false);
    if (!password)
        return;
    char *new_password = s_ask_password (self, "New password: ", true, true);
    if (!new_password) {
        client_input_wipe (&password);
        return;
    }
    int status;
    zpost_msg_t *reply = client_api_passwd (self->app, password, new_password,
                                            &status);
    client_input_wipe (&password);
    client_input_wipe (&new_password);
    reply = s_ok (self, reply, ZPOST_LOGIN_FAILED,
                  "the current password is wrong; nothing was changed");
    if (reply)
        s_say ("Password changed; your other sessions have ended.");
    zpost_msg_destroy (&reply);
}

static void
s_logout (s_shell_t *self)
{
    if (!self->username)
        return;
    //  Whatever a Ctrl-C or a signal left, the logout must be able to go
    zsys_interrupted = 0;
    int status;
    zpost_msg_t *reply = client_api_logout (self->app, &status);
    char *username = self->username;
    self->username = NULL;
    s_forget_login (self);
    if (reply && zpost_msg_status (reply) == ZPOST_OK)
        s_say ("Logged out %s.", username);
    else
        s_say ("Logged out %s here; the server did not confirm it, so the session "
               "ends there when it expires.", username);
    zpost_msg_destroy (&reply);
    free (username);
}

//  The sent folder's newest page; an id reads one, and r, a, f or t act
//  on the one just read
static void
s_sent (s_shell_t *self)
{
    int status;
    zpost_msg_t *reply = client_api_list (self->app, true, false, S_INBOX_LIMIT, 0,
                                          &status);
    reply = s_ok (self, reply, 0, NULL);
    if (!reply)
        return;
    size_t rows = zpost_msg_rows (reply);
    if (rows == 0) {
        s_say ("You have sent nothing yet.");
        zpost_msg_destroy (&reply);
        return;
    }
    printf ("\n");
    s_print_rows (reply, true);
    if (rows == S_INBOX_LIMIT)
        s_say ("The newest %d are shown; zpost list --sent pages through them all.",
               S_INBOX_LIMIT);
    zpost_msg_destroy (&reply);
    uint64_t current = 0;
    while (self->username) {
        char *line = NULL;
        if (s_read_line (self, "Read which? (an id, Enter for the menu) ", true, &line)
            != S_READ_LINE)
            break;
        char *command = line + strspn (line, " \t");
        command [strcspn (command, " \t")] = 0;
        uint64_t id = s_parse_id (command);
        bool done = *command == 0;
        if (id) {
            if (s_read_message (self, id))
                current = id;
        }
        else
        if (!done && strlen (command) == 1 && strchr ("raft", *command) && current) {
            if (*command == 'r' || *command == 'a')
                s_reply (self, current, *command == 'a');
            else
            if (*command == 'f')
                s_forward (self, current);
            else
                s_thread_view (self, current);
        }
        else
        if (!done)
            s_complain ("type a message id to read it, then r, a, f or t for it; or "
                        "just Enter for the menu");
        free (line);
        if (done)
            break;
    }
}

//  The drafts of this user: pick one to send
static void
s_drafts (s_shell_t *self)
{
    const char *state_dir = client_config_state_dir (self->app->config);
    zlistx_t *numbers = state_dir? client_draft_numbers (state_dir): NULL;
    size_t shown = 0;
    for (const char *number = numbers? (const char *) zlistx_first (numbers): NULL;
         number; number = (const char *) zlistx_next (numbers)) {
        client_draft_t *draft = client_draft_load (state_dir,
                                                   (unsigned) strtoul (number, NULL, 10));
        if (draft && streq (client_draft_user (draft), self->username)) {
            char *spaced = client_api_spaced (client_draft_to (draft));
            char *line = zsys_sprintf ("  %u  to %s: %s", client_draft_number (draft),
                                       *spaced? spaced: "(no one yet)",
                                       client_show_subject (client_draft_subject (draft)));
            client_output_print (stdout, line, CLIENT_OUTPUT_LINE);
            printf ("\n");
            free (line);
            free (spaced);
            shown++;
        }
        client_draft_destroy (&draft);
    }
    zlistx_destroy (&numbers);
    if (shown == 0) {
        s_say ("No drafts: everything you wrote has been sent.");
        return;
    }
    char *line = NULL;
    s_read_t result = s_read_line (self, "Send which? (a draft number, Enter for the "
                                   "menu) ", true, &line);
    uint64_t number = result == S_READ_LINE? s_parse_id (line): 0;
    free (line);
    if (!number)
        return;
    client_draft_t *draft = number <= 999999
                          ? client_draft_load (state_dir, (unsigned) number): NULL;
    if (!draft || !streq (client_draft_user (draft), self->username))
        s_say ("There is no draft %" PRIu64 " of yours.", number);
    else
        s_deliver (self, draft);
    client_draft_destroy (&draft);
}

//  Delete the account, once its name is typed and its password checked
static void
s_unregister (s_shell_t *self)
{
    s_say ("This deletes the account %s on %s, with all its mail and sessions; it "
           "cannot be undone.", self->username, self->server);
    char *question = zsys_sprintf ("Type the name %s to go on: ", self->username);
    char *typed = NULL;
    s_read_t result = s_read_line (self, question, false, &typed);
    free (question);
    bool confirmed = result == S_READ_LINE && streq (typed, self->username);
    free (typed);
    if (!confirmed) {
        s_say ("Nothing was deleted.");
        return;
    }
    char *password = s_ask_password (self, "Password: ", false, false);
    if (!password)
        return;
    int status;
    zpost_msg_t *reply = client_api_unregister (self->app, password, &status);
    client_input_wipe (&password);
    reply = s_ok (self, reply, ZPOST_LOGIN_FAILED,
                  "the password is wrong; the account was not deleted");
    if (reply) {
        s_say ("Deleted the account %s, with its mail and sessions.", self->username);
        s_forget_login (self);
    }
    zpost_msg_destroy (&reply);
}

//  The inbox's newest id and unread count, by a WATCH that does not wait
//  (ZPOST.md, WATCH): one quick try, and silence on any failure (a store
//  that predates WATCH says 405): the menu then goes without them.
static bool
s_inbox_state (s_shell_t *self, uint64_t *newest, uint64_t *unread)
{
    client_session_t *session = self->app->session;
    zpost_msg_t *request = client_session_new_request (session, ZPOST_CMD_WATCH);
    zpost_msg_set_number (request, ZPOST_F_SINCE, 0);
    zpost_msg_set_number (request, ZPOST_F_UNREAD, 0);
    zpost_msg_set_number (request, ZPOST_F_TIMEOUT, 0);
    zpost_msg_t *reply = client_session_request_quick (session, request);
    zpost_msg_destroy (&request);
    bool known = reply && zpost_msg_status (reply) == ZPOST_OK;
    if (known) {
        *newest = zpost_msg_get_number (reply, ZPOST_F_MESSAGE_ID);
        *unread = zpost_msg_get_number (reply, ZPOST_F_UNREAD);
    }
    zpost_msg_destroy (&reply);
    return known;
}

//  Returns false when the person leaves
static bool
s_main_menu (s_shell_t *self)
{
    const char *items [] = { "inbox", "send a message", "delete a message",
                             "statistics", "change password", "log out",
                             "drafts", "delete this account", "sent messages" };
    //  The unread count in the title, and new mail said at the prompt
    //  where the person waits
    uint64_t newest = 0, unread = 0;
    char *title;
    if (s_inbox_state (self, &newest, &unread)) {
        if (self->newest_known && newest > self->newest)
            s_say ("New mail has arrived (message %" PRIu64 " is the newest).", newest);
        self->newest = newest;
        self->newest_known = true;
        title = zsys_sprintf ("%s on %s, %" PRIu64 " unread", self->username,
                              self->server, unread);
    }
    else
        title = zsys_sprintf ("%s on %s", self->username, self->server);
    int choice = s_menu (self, title, items, 9);
    free (title);
    switch (choice) {
        case 1: s_inbox (self); break;
        case 2: s_send (self); break;
        case 3: s_delete (self); break;
        case 4: s_statistics (self); break;
        case 5: s_passwd (self); break;
        case 6: s_logout (self); break;
        case 7: s_drafts (self); break;
        case 8: s_unregister (self); break;
        case 9: s_sent (self); break;
        default: break;
    }
    return choice != S_CHOICE_LEAVE;
}


//  --------------------------------------------------------------------------
//  The session

int
client_shell_run (client_app_t *app)
{
    assert (app);
    assert (app->config);
    //  libedit and the terminal speak the locale's encoding; zpost is UTF-8
    //  throughout, so a bare C locale gets C.UTF-8
    setlocale (LC_CTYPE, "");
    if (MB_CUR_MAX == 1)
        setlocale (LC_CTYPE, "C.UTF-8");

    int status = client_api_open (app);
    if (status)
        return status;
    s_catch_signals ();

    //  The broker's answer proves the key; a store that is down is not yet
    //  a reason to refuse a person the menus. Until then, failures are
    //  said as the one-shot commands say them.
    zpost_msg_t *reply = client_api_ping (app, true, &status);
    if (!reply) {
        s_release_signals ();
        return status;
    }
    app->shell = true;
    char *version = client_output_safe_str (zpost_msg_get (reply, ZPOST_F_SERVER_VERSION),
                                            CLIENT_OUTPUT_LINE);
    zpost_msg_destroy (&reply);

    s_shell_t *self = s_shell_new (app, STDIN_FILENO);
    self->server = client_api_server_names (app);
    char *answered = client_keys_server_name (client_session_endpoint (app->session));
    s_say ("Connected to %s (%s).", answered, version);
    free (answered);
    s_say ("Ctrl-C cancels a step; Ctrl-D at a menu leaves.");
    free (version);
    while (!s_leave) {
        bool more = self->username? s_main_menu (self): s_login_menu (self);
        if (!more)
            break;
    }
    s_logout (self);
    s_say ("Goodbye.");
    s_shell_destroy (&self);
    s_release_signals ();
    return CLIENT_EXIT_DONE;
}


//  --------------------------------------------------------------------------
//  Selftest

//  The selftest's asserts are its checks, and many call what they check:
//  they must stay in a build with NDEBUG (CMake's release types set it).
#undef NDEBUG
#include <assert.h>

void
client_shell_test (bool verbose)
{
    printf (" * client_shell: ");
    if (verbose)
        printf ("\n");

    //  @selftest
    //  Choices
    assert (s_parse_choice ("1", 3) == 1);
    assert (s_parse_choice ("  3 \t", 3) == 3);
    assert (s_parse_choice ("4", 3) == 0);
    assert (s_parse_choice ("0", 3) == 0);
    assert (s_parse_choice ("", 3) == 0);
    assert (s_parse_choice ("1x", 3) == 0);
    assert (s_parse_choice ("-1", 3) == 0);
    assert (s_parse_choice ("99999999999999999999", 3) == 0);

    //  Lines and bodies from a pipe, as a script would give them
    int fds [2];
    assert (pipe (fds) == 0);
    const char *input = "first\r\n  2  \nline one\n\nline three\n.\nafter\n"
                        "x\n7\n3\nend without newline";
    assert (write (fds [1], input, strlen (input)) == (ssize_t) strlen (input));
    close (fds [1]);

    client_app_t app = { .timeout = 1000, .retries = 1 };
    s_shell_t *self = s_shell_new (&app, fds [0]);
    assert (!self->terminal);
    char *line = NULL;
    assert (s_read_line (self, "", true, &line) == S_READ_LINE);
    assert (streq (line, "first"));
    free (line);
    assert (s_read_line (self, "", true, &line) == S_READ_LINE);
    assert (s_parse_choice (line, 6) == 2);
    free (line);
    char *body = NULL;
    assert (s_read_body (self, &body) == S_READ_LINE);
    assert (streq (body, "line one\n\nline three\n"));
    free (body);
    assert (s_read_line (self, "", false, &line) == S_READ_LINE);
    assert (streq (line, "after"));
    free (line);
    //  A wrong number is asked again, and the right one taken
    assert (s_read_number (self, "", 5) == 3);
    //  A body that the input ends
    assert (s_read_body (self, &body) == S_READ_LINE);
    assert (streq (body, "end without newline\n"));
    free (body);
    assert (s_read_line (self, "", true, &line) == S_READ_EOF);
    assert (line == NULL);
    assert (s_read_number (self, "", 5) == S_CHOICE_LEAVE);
    char *secret = NULL;
    assert (s_read_secret (self, "", &secret) == S_READ_EOF);
    s_shell_destroy (&self);
    s_shell_destroy (&self);        //  harmless twice
    close (fds [0]);
    if (verbose)
        zsys_debug ("lines, numbers and bodies read as typed");
    //  @end

    printf ("OK\n");
}
