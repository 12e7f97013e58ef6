/*  =========================================================================
    client_draft - a message being written, kept on disk until it is sent

    Two files a draft, so that the editor edits the body itself, in place:
    whatever it saved is on disk before anything is sent, and nothing but
    a 200 removes it. The head is written whole to a temporary name and
    renamed, so that a draft is never half a head.
    =========================================================================
*/

#include "client_draft.h"
#include "client_input.h"
#include "zpost_keys.h"
#include "zpost_msg.h"

#include <dirent.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <sys/stat.h>
#include <unistd.h>

#define S_DRAFT_NUMBER_MAX  999999      //  beyond this a number is not ours

struct _client_draft_t {
    char *dir;                  //  .../zpost/drafts
    unsigned number;            //  0 until saved
    char *user;
    char *server;
    char *to;
    char *subject;
    uint64_t in_reply_to;
    uint64_t date;
    char *body;
    size_t body_size;
    char *body_path;            //  once numbered
    char *error;
};

static void
s_set_text (char **field_p, const char *text)
{
    free (*field_p);
    *field_p = strdup (text? text: "");
    assert (*field_p);
}

static void
s_set_error (client_draft_t *self, const char *format, ...) CHECK_PRINTF (2);

static void
s_set_error (client_draft_t *self, const char *format, ...)
{
    va_list args;
    va_start (args, format);
    free (self->error);
    self->error = zsys_vprintf (format, args);
    va_end (args);
}

client_draft_t *
client_draft_new (const char *state_dir)
{
    assert (state_dir);
    client_draft_t *self = (client_draft_t *) zmalloc (sizeof (client_draft_t));
    assert (self);
    self->dir = zsys_sprintf ("%s/drafts", state_dir);
    s_set_text (&self->user, NULL);
    s_set_text (&self->server, NULL);
    s_set_text (&self->to, NULL);
    s_set_text (&self->subject, NULL);
    s_set_text (&self->body, NULL);
    self->date = (uint64_t) time (NULL);
    return self;
}

void
client_draft_destroy (client_draft_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        client_draft_t *self = *self_p;
        free (self->dir);
        free (self->user);
        free (self->server);
        free (self->to);
        free (self->subject);
        free (self->body);
        free (self->body_path);
        free (self->error);
        free (self);
        *self_p = NULL;
    }
}

//  A draft's number from a file name "N.head"; 0 if it is not one
static unsigned
s_number_of (const char *name)
{
    size_t digits = strspn (name, "0123456789");
    if (digits == 0 || digits > 6 || name [0] == '0' || !streq (name + digits, ".head"))
        return 0;
    return (unsigned) strtoul (name, NULL, 10);
}

static int
s_compare_numbers (const void *a, const void *b)
{
    unsigned first = (unsigned) strtoul ((const char *) a, NULL, 10);
    unsigned second = (unsigned) strtoul ((const char *) b, NULL, 10);
    return first < second? -1: first > second;
}

zlistx_t *
client_draft_numbers (const char *state_dir)
{
    zlistx_t *numbers = zlistx_new ();
    assert (numbers);
    zlistx_set_destructor (numbers, (czmq_destructor *) zstr_free);
    zlistx_set_comparator (numbers, (czmq_comparator *) s_compare_numbers);
    char *path = zsys_sprintf ("%s/drafts", state_dir);
    DIR *dir = opendir (path);
    free (path);
    if (!dir)
        return numbers;
    struct dirent *entry;
    while ((entry = readdir (dir))) {
        unsigned number = s_number_of (entry->d_name);
        if (number)
            zlistx_add_end (numbers, zsys_sprintf ("%u", number));
    }
    closedir (dir);
    zlistx_sort (numbers);
    return numbers;
}

static void
s_number_paths (client_draft_t *self)
{
    free (self->body_path);
    self->body_path = zsys_sprintf ("%s/%u.txt", self->dir, self->number);
    assert (self->body_path);
}

//  Read a small file whole; NULL if it cannot be read or is over max
static char *
s_read_file (const char *path, size_t max, size_t *size_p, int *too_long_p)
{
    *too_long_p = 0;
    int fd = open (path, O_RDONLY | O_CLOEXEC);
    if (fd == -1)
        return NULL;
    char *text = NULL;
    client_input_t result = client_input_all (fd, max, &text, size_p);
    close (fd);
    if (result == CLIENT_INPUT_TOO_LONG)
        *too_long_p = 1;
    if (result != CLIENT_INPUT_OK) {
        free (text);
        return NULL;
    }
    return text;
}

client_draft_t *
client_draft_load (const char *state_dir, unsigned number)
{
    if (number == 0 || number > S_DRAFT_NUMBER_MAX)
        return NULL;
    client_draft_t *self = client_draft_new (state_dir);
    self->number = number;
    s_number_paths (self);
    char *head_path = zsys_sprintf ("%s/%u.head", self->dir, number);
    size_t size;
    int too_long;
    char *head = s_read_file (head_path, 16 * 1024, &size, &too_long);
    free (head_path);
    if (!head) {
        client_draft_destroy (&self);
        return NULL;
    }
    //  One "name: value" line each; names it does not know are left alone
    char *line = head;
    while (*line) {
        char *end = strchr (line, '\n');
        if (end)
            *end = 0;
        char *colon = strstr (line, ": ");
        if (colon) {
            *colon = 0;
            const char *value = colon + 2;
            if (streq (line, "user"))
                s_set_text (&self->user, value);
            else
            if (streq (line, "server"))
                s_set_text (&self->server, value);
            else
            if (streq (line, "to"))
                s_set_text (&self->to, value);
            else
            if (streq (line, "subject"))
                s_set_text (&self->subject, value);
            else
            if (streq (line, "in-reply-to"))
                self->in_reply_to = strtoull (value, NULL, 10);
            else
            if (streq (line, "date"))
                self->date = strtoull (value, NULL, 10);
        }
        if (!end)
            break;
        line = end + 1;
    }
    free (head);
    //  A missing body is an empty one: the head is the draft
    if (client_draft_reload_body (self, ZPOST_BODY_MAX) == -1)
        client_draft_set_body (self, "", 0);
    return self;
}

void
client_draft_set (client_draft_t *self, const char *user, const char *server,
                  const char *to, const char *subject, uint64_t in_reply_to)
{
    assert (self);
    s_set_text (&self->user, user);
    s_set_text (&self->server, server);
    s_set_text (&self->to, to);
    s_set_text (&self->subject, subject);
    self->in_reply_to = in_reply_to;
}

void
client_draft_set_to (client_draft_t *self, const char *to)
{
    s_set_text (&self->to, to);
}

void
client_draft_set_subject (client_draft_t *self, const char *subject)
{
    s_set_text (&self->subject, subject);
}

void
client_draft_set_body (client_draft_t *self, const char *body, size_t size)
{
    assert (self);
    free (self->body);
    self->body = (char *) malloc (size + 1);
    assert (self->body);
    if (size)
        memcpy (self->body, body, size);
    self->body [size] = 0;
    self->body_size = size;
}

unsigned client_draft_number (client_draft_t *self) { return self->number; }
const char *client_draft_user (client_draft_t *self) { return self->user; }
const char *client_draft_server (client_draft_t *self) { return self->server; }
const char *client_draft_to (client_draft_t *self) { return self->to; }
const char *client_draft_subject (client_draft_t *self) { return self->subject; }
uint64_t client_draft_in_reply_to (client_draft_t *self) { return self->in_reply_to; }
uint64_t client_draft_date (client_draft_t *self) { return self->date; }
const char *client_draft_body (client_draft_t *self) { return self->body; }
size_t client_draft_body_size (client_draft_t *self) { return self->body_size; }
const char *client_draft_body_path (client_draft_t *self) { return self->body_path; }
const char *client_draft_error (client_draft_t *self)
{
    return self->error? self->error: "no error";
}

//  Write size bytes to path through a temporary file renamed over it,
//  mode 0600. 0 or -1 with errno.
static int
s_write_file (const char *path, const char *text, size_t size)
{
    char *temporary = zsys_sprintf ("%s.new", path);
    int fd = open (temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    int rc = fd == -1? -1: 0;
    size_t done = 0;
    while (rc == 0 && done < size) {
        ssize_t wrote = write (fd, text + done, size - done);
        if (wrote == -1 && errno == EINTR)
            continue;
        if (wrote <= 0)
            rc = -1;
        else
            done += (size_t) wrote;
    }
    if (rc == 0 && fsync (fd) == -1)
        rc = -1;
    if (fd != -1 && close (fd) == -1)
        rc = -1;
    if (rc == 0 && rename (temporary, path) == -1)
        rc = -1;
    if (rc == -1) {
        int saved = errno;
        unlink (temporary);
        errno = saved;
    }
    free (temporary);
    return rc;
}

int
client_draft_save (client_draft_t *self)
{
    assert (self);
    if (zpost_keys_make_private_dir (self->dir)) {
        s_set_error (self, "cannot create %s: %s", self->dir, strerror (errno));
        return -1;
    }
    char *head_path = NULL;
    if (self->number == 0) {
        //  One more than the largest there is, taken with O_EXCL so that
        //  two clients at once cannot both have it
        unsigned largest = 0;
        char *state_dir = strdup (self->dir);
        assert (state_dir);
        *strrchr (state_dir, '/') = 0;
        zlistx_t *numbers = client_draft_numbers (state_dir);
        free (state_dir);
        const char *last = (const char *) zlistx_last (numbers);
        if (last)
            largest = (unsigned) strtoul (last, NULL, 10);
        zlistx_destroy (&numbers);
        for (unsigned number = largest + 1; number <= S_DRAFT_NUMBER_MAX; number++) {
            head_path = zsys_sprintf ("%s/%u.head", self->dir, number);
            int fd = open (head_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
            if (fd != -1) {
                close (fd);
                self->number = number;
                break;
            }
            zstr_free (&head_path);
            if (errno != EEXIST) {
                s_set_error (self, "cannot create a draft in %s: %s", self->dir,
                             strerror (errno));
                return -1;
            }
        }
        if (!self->number) {
            s_set_error (self, "%s holds too many drafts", self->dir);
            return -1;
        }
        s_number_paths (self);
    }
    else
        head_path = zsys_sprintf ("%s/%u.head", self->dir, self->number);

    char *head = zsys_sprintf ("user: %s\nserver: %s\nto: %s\nsubject: %s\n"
                               "in-reply-to: %" PRIu64 "\ndate: %" PRIu64 "\n",
                               self->user, self->server, self->to, self->subject,
                               self->in_reply_to, self->date);
    int rc = s_write_file (self->body_path, self->body, self->body_size);
    if (rc == 0)
        rc = s_write_file (head_path, head, strlen (head));
    if (rc)
        s_set_error (self, "cannot write draft %u in %s: %s", self->number,
                     self->dir, strerror (errno));
    free (head);
    free (head_path);
    return rc;
}

int
client_draft_reload_body (client_draft_t *self, size_t max)
{
    assert (self);
    if (!self->body_path) {
        s_set_error (self, "the draft has not been saved");
        return -1;
    }
    size_t size;
    int too_long;
    char *body = s_read_file (self->body_path, max, &size, &too_long);
    if (too_long)
        return 1;
    if (!body) {
        s_set_error (self, "cannot read %s: %s", self->body_path, strerror (errno));
        return -1;
    }
    free (self->body);
    self->body = body;
    self->body_size = size;
    return 0;
}

int
client_draft_remove (client_draft_t *self)
{
    assert (self);
    if (!self->number)
        return 0;
    char *head_path = zsys_sprintf ("%s/%u.head", self->dir, self->number);
    //  The head goes first: without it, what is left is not a draft
    int rc = unlink (head_path) == -1 && errno != ENOENT? -1: 0;
    if (unlink (self->body_path) == -1 && errno != ENOENT)
        rc = -1;
    if (rc)
        s_set_error (self, "cannot remove draft %u: %s", self->number, strerror (errno));
    free (head_path);
    return rc;
}


//  --------------------------------------------------------------------------
//  Selftest

#undef NDEBUG
#include <assert.h>

void
client_draft_test (bool verbose)
{
    printf (" * client_draft: ");
    if (verbose)
        printf ("\n");

    //  @selftest
    char scratch [] = "/tmp/client_draft_test.XXXXXX";
    assert (mkdtemp (scratch));
    zlistx_t *numbers = client_draft_numbers (scratch);
    assert (zlistx_size (numbers) == 0);
    zlistx_destroy (&numbers);

    //  Saved, numbered from 1, 0600, read back whole
    client_draft_t *draft = client_draft_new (scratch);
    client_draft_set (draft, "alice", "tcp://127.0.0.1:5321", "bob,carol", "Lunch?", 7);
    client_draft_set_body (draft, "Noon?\n", 6);
    assert (client_draft_save (draft) == 0);
    assert (client_draft_number (draft) == 1);
    struct stat info;
    assert (stat (client_draft_body_path (draft), &info) == 0);
    assert ((info.st_mode & 0777) == 0600);
    char *drafts_dir = zsys_sprintf ("%s/drafts", scratch);
    assert (stat (drafts_dir, &info) == 0 && (info.st_mode & 0777) == 0700);
    free (drafts_dir);

    client_draft_t *second = client_draft_new (scratch);
    client_draft_set (second, "alice", "", "dan", "", 0);
    assert (client_draft_save (second) == 0);
    assert (client_draft_number (second) == 2);

    client_draft_t *loaded = client_draft_load (scratch, 1);
    assert (loaded);
    assert (streq (client_draft_user (loaded), "alice"));
    assert (streq (client_draft_to (loaded), "bob,carol"));
    assert (streq (client_draft_subject (loaded), "Lunch?"));
    assert (client_draft_in_reply_to (loaded) == 7);
    assert (client_draft_body_size (loaded) == 6);
    assert (streq (client_draft_body (loaded), "Noon?\n"));
    client_draft_destroy (&loaded);

    //  An editor's change is read back
    FILE *file = fopen (client_draft_body_path (draft), "a");
    assert (file);
    fputs ("Or one?\n", file);
    fclose (file);
    assert (client_draft_reload_body (draft, 1000) == 0);
    assert (streq (client_draft_body (draft), "Noon?\nOr one?\n"));
    assert (client_draft_reload_body (draft, 4) == 1);

    numbers = client_draft_numbers (scratch);
    assert (zlistx_size (numbers) == 2);
    assert (streq ((char *) zlistx_first (numbers), "1"));
    zlistx_destroy (&numbers);

    //  Removed: gone from the list, and its number is free for no one
    //  else while a larger one is held
    assert (client_draft_remove (draft) == 0);
    assert (client_draft_load (scratch, 1) == NULL);
    numbers = client_draft_numbers (scratch);
    assert (zlistx_size (numbers) == 1);
    zlistx_destroy (&numbers);
    client_draft_t *third = client_draft_new (scratch);
    assert (client_draft_save (third) == 0);
    assert (client_draft_number (third) == 3);
    assert (client_draft_load (scratch, 0) == NULL);
    assert (client_draft_load (scratch, 4) == NULL);

    assert (client_draft_remove (second) == 0);
    assert (client_draft_remove (third) == 0);
    client_draft_destroy (&draft);
    client_draft_destroy (&second);
    client_draft_destroy (&third);
    char *command = zsys_sprintf ("rm -rf '%s'", scratch);
    assert (system (command) == 0);
    free (command);
    //  @end

    printf ("OK\n");
}
