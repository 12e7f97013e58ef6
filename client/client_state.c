/*  =========================================================================
    client_state - the login a one-shot command finds, one file per server

    One file per server endpoint, so that logins to two servers do not
    overwrite each other, and a name that maps endpoints one to one, so
    that two servers never share a file: only a-z 0-9 . - pass as they
    are, everything else (including "_" and "%") is %XX, and the one "_"
    separates host from port. The contents go through zconfig both ways and
    are checked as strictly as a reply from the server: a file somebody
    edited by hand is refused with a sentence, not half used.
    =========================================================================
*/

#include "client_state.h"
#include "client_config.h"
#include "zpost_keys.h"
#include "zpost_msg.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#define S_NAME_MAX      200         //  longest file name before hashing
#define S_FILE_MAX      4096        //  a state file is far smaller
#define S_SUFFIX        ".session"

struct _client_state_t {
    char *state_dir;            //  directory of state files
    char *endpoint;             //  server endpoint the login is for
    char *path;                 //  state_dir/NAME.session
    char *username;             //  logged-in user, or NULL
    char token [ZPOST_TOKEN_SIZE + 1];  //  session token, or ""
    uint64_t expires;           //  absolute expiry, server's Unix seconds
    char error [512];           //  last failure, for a person
};

static void
s_set_error (client_state_t *self, const char *format, ...) CHECK_PRINTF (2);

static void
s_set_error (client_state_t *self, const char *format, ...)
{
    va_list args;
    va_start (args, format);
    vsnprintf (self->error, sizeof (self->error), format, args);
    va_end (args);
}

static void
s_forget (client_state_t *self)
{
    zstr_free (&self->username);
    sodium_memzero (self->token, sizeof (self->token));
    self->expires = 0;
}


//  --------------------------------------------------------------------------
//  Constructor and destructor

//  One endpoint's part of a file name, appended at name + out: readable
//  for ordinary hosts, escaped otherwise; returns the new length
static size_t
s_name_part (char *name, size_t out, const char *endpoint, size_t size)
{
    const char *rest = endpoint;
    if (size > 6 && strncmp (endpoint, "tcp://", 6) == 0) {
        rest += 6;
        size -= 6;
    }
    const char *end = rest + size;
    const char *colon = NULL;
    for (const char *scan = rest; scan < end; scan++)
        if (*scan == ':')
            colon = scan;
    if (colon && (colon + 1 == end || strspn (colon + 1, "0123456789") < (size_t) (end - colon - 1)))
        colon = NULL;           //  not a port: escape it with the rest
    for (const char *scan = rest; scan < end; scan++) {
        unsigned char c = (unsigned char) *scan;
        if (scan == colon)
            name [out++] = '_';
        else
        if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'
        ||  (c == '.' && scan != rest))
            name [out++] = (char) c;
        else
        if (c >= 'A' && c <= 'Z')
            name [out++] = (char) (c - 'A' + 'a');      //  host names ignore case
        else
            out += (size_t) sprintf (name + out, "%%%02x", c);
    }
    return out;
}

char *
client_state_file_name (const char *endpoint)
{
    assert (endpoint && *endpoint);
    //  A list of brokers ("tcp://a:1,tcp://b:2") names one file: the parts
    //  joined by '+', which no part holds (escaping makes it %2b)
    size_t size = strlen (endpoint);
    char *name = (char *) malloc (size * 3 + sizeof (S_SUFFIX) + 1);
    assert (name);
    size_t out = 0;
    const char *start = endpoint;
    while (true) {
        const char *comma = strchr (start, ',');
        size_t length = comma? (size_t) (comma - start): strlen (start);
        if (start != endpoint)
            name [out++] = '+';
        out = s_name_part (name, out, start, length);
        if (!comma)
            break;
        start = comma + 1;
    }
    name [out] = 0;
    if (out > S_NAME_MAX) {
        //  Too long for some file systems: a hash of the whole endpoint,
        //  which the file itself repeats, so a collision is caught on load
        unsigned char hash [16];
        int rc = sodium_init ();
        assert (rc >= 0);
        crypto_generichash (hash, sizeof (hash), (const unsigned char *) endpoint,
                            strlen (endpoint), NULL, 0);
        strcpy (name, "h-");
        sodium_bin2hex (name + 2, sizeof (hash) * 2 + 1, hash, sizeof (hash));
    }
    strcat (name, S_SUFFIX);
    return name;
}

client_state_t *
client_state_new (const char *state_dir, const char *endpoint)
{
    assert (state_dir);
    assert (endpoint);
    client_state_t *self = (client_state_t *) zmalloc (sizeof (client_state_t));
    assert (self);
    self->state_dir = strdup (state_dir);
    self->endpoint = strdup (endpoint);
    char *name = client_state_file_name (endpoint);
    self->path = zsys_sprintf ("%s/%s", state_dir, name);
    assert (self->state_dir && self->endpoint && self->path);
    free (name);
    return self;
}

void
client_state_destroy (client_state_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        client_state_t *self = *self_p;
        s_forget (self);
        zstr_free (&self->state_dir);
        zstr_free (&self->endpoint);
        zstr_free (&self->path);
        free (self);
        *self_p = NULL;
    }
}

const char *
client_state_path (client_state_t *self)
{
    assert (self);
    return self->path;
}

const char *
client_state_username (client_state_t *self)
{
    assert (self);
    return self->username;
}

const char *
client_state_token (client_state_t *self)
{
    assert (self);
    return *self->token? self->token: NULL;
}

uint64_t
client_state_expires (client_state_t *self)
{
    assert (self);
    return self->expires;
}

const char *
client_state_error (client_state_t *self)
{
    assert (self);
    return self->error;
}


//  --------------------------------------------------------------------------
//  Reading

static bool
s_valid_token (const char *token)
{
    return strlen (token) == ZPOST_TOKEN_SIZE
        && strspn (token, "0123456789abcdef") == ZPOST_TOKEN_SIZE;
}

static bool
s_parse_time (const char *text, uint64_t *value_p)
{
    size_t size = strlen (text);
    if (size == 0 || size > 20 || strspn (text, "0123456789") != size
    || (size > 1 && text [0] == '0'))
        return false;
    errno = 0;
    unsigned long long value = strtoull (text, NULL, 10);
    if (errno)
        return false;
    *value_p = (uint64_t) value;
    return true;
}

//  Read the whole file, refusing what another user could have written or
//  read. Returns the text (wipe and free it), or NULL; *absent_p says
//  whether that was because there is no file.
static char *
s_read_file (client_state_t *self, bool *absent_p)
{
    *absent_p = false;
    int fd = open (self->path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd == -1) {
        if (errno == ENOENT) {
            *absent_p = true;
            return NULL;
        }
        s_set_error (self, "cannot read %s: %s; remove it and run zpost login",
                     self->path, strerror (errno));
        return NULL;
    }
    struct stat info;
    char *text = NULL;
    if (fstat (fd, &info))
        s_set_error (self, "cannot read %s: %s", self->path, strerror (errno));
    else
    if (!S_ISREG (info.st_mode) || info.st_uid != geteuid ())
        s_set_error (self, "%s is not a file of yours, so it is refused; "
                     "remove it and run zpost login", self->path);
    else
    if (info.st_mode & (S_IRWXG | S_IRWXO))
        s_set_error (self, "%s is accessible by group or others, so its session "
                     "is refused; remove it and run zpost login", self->path);
    else
    if (info.st_size > S_FILE_MAX)
        s_set_error (self, "%s is too large to be a zpost session file; "
                     "remove it and run zpost login", self->path);
    else {
        text = (char *) zmalloc ((size_t) info.st_size + 1);
        assert (text);
        size_t done = 0;
        while (done < (size_t) info.st_size) {
            ssize_t got = read (fd, text + done, (size_t) info.st_size - done);
            if (got > 0)
                done += (size_t) got;
            else
            if (got == -1 && errno == EINTR)
                continue;
            else
                break;
        }
        if (done != (size_t) info.st_size) {
            s_set_error (self, "cannot read %s: %s", self->path,
                         done? "it changed while being read": strerror (errno));
            sodium_memzero (text, done);
            zstr_free (&text);
        }
    }
    close (fd);
    return text;
}

int
client_state_load (client_state_t *self)
{
    assert (self);
    s_forget (self);
    self->error [0] = 0;
    bool absent;
    char *text = s_read_file (self, &absent);
    if (!text)
        return absent? 1: -1;

    int rc = -1;
    zconfig_t *root = zconfig_str_load (text);
    sodium_memzero (text, strlen (text));
    zstr_free (&text);
    const char *server = root? zconfig_get (root, "session/server", NULL): NULL;
    const char *username = root? zconfig_get (root, "session/username", NULL): NULL;
    const char *token = root? zconfig_get (root, "session/token", NULL): NULL;
    const char *expires = root? zconfig_get (root, "session/expires", NULL): NULL;
    uint64_t expires_value = 0;
    if (!server || !username || !token || !expires
    ||  !zpost_msg_valid_username (username) || !s_valid_token (token)
    ||  !s_parse_time (expires, &expires_value))
        s_set_error (self, "%s is damaged; remove it and run zpost login", self->path);
    else
    if (!streq (server, self->endpoint))
        s_set_error (self, "%s is for %s, not %s; remove it and run zpost login",
                     self->path, server, self->endpoint);
    else {
        self->username = strdup (username);
        assert (self->username);
        memcpy (self->token, token, ZPOST_TOKEN_SIZE + 1);
        self->expires = expires_value;
        rc = 0;
    }
    if (token)
        sodium_memzero ((char *) token, strlen (token));
    zconfig_destroy (&root);
    return rc;
}


//  --------------------------------------------------------------------------
//  Writing

int
client_state_save (client_state_t *self, const char *username, const char *token,
                   uint64_t expires)
{
    assert (self);
    assert (username && zpost_msg_valid_username (username));
    assert (token && s_valid_token (token));
    self->error [0] = 0;
    if (zpost_keys_make_private_dir (self->state_dir)) {
        s_set_error (self, "cannot create %s: %s; check its parent directory",
                     self->state_dir, strerror (errno));
        return -1;
    }
    zconfig_t *root = zconfig_new ("root", NULL);
    assert (root);
    zconfig_put (root, "session/server", self->endpoint);
    zconfig_put (root, "session/username", username);
    zconfig_put (root, "session/token", token);
    zconfig_putf (root, "session/expires", "%" PRIu64, expires);
    char *text = zconfig_str_save (root);
    assert (text);
    //  zconfig keeps its own copy of the token: wipe it before freeing
    char *kept = zconfig_get (root, "session/token", NULL);
    if (kept)
        sodium_memzero (kept, strlen (kept));
    zconfig_destroy (&root);

    int rc = client_config_write_private (self->path, text, self->error,
                                          sizeof self->error);
    sodium_memzero (text, strlen (text));
    zstr_free (&text);
    if (rc == 0) {
        s_forget (self);
        self->username = strdup (username);
        assert (self->username);
        memcpy (self->token, token, ZPOST_TOKEN_SIZE + 1);
        self->expires = expires;
    }
    return rc;
}

int
client_state_remove (client_state_t *self)
{
    assert (self);
    s_forget (self);
    if (unlink (self->path) && errno != ENOENT) {
        s_set_error (self, "cannot remove %s: %s; remove it by hand", self->path,
                     strerror (errno));
        return -1;
    }
    return 0;
}


//  --------------------------------------------------------------------------
//  Selftest

//  The selftest's asserts are its checks, and many call what they check:
//  they must stay in a build with NDEBUG (CMake's release types set it).
#undef NDEBUG
#include <assert.h>

static void
s_expect_name (const char *endpoint, const char *expected, bool verbose)
{
    char *name = client_state_file_name (endpoint);
    if (verbose)
        zsys_debug ("%s -> %s", endpoint, name);
    if (expected)
        assert (streq (name, expected));
    assert (strlen (name) <= S_NAME_MAX + strlen (S_SUFFIX));
    assert (!strchr (name, '/'));
    assert (name [0] != '.');
    free (name);
}

static void
s_write_file (const char *path, const char *text, mode_t mode)
{
    int fd = open (path, O_WRONLY | O_CREAT | O_TRUNC, mode);
    assert (fd >= 0);
    assert (write (fd, text, strlen (text)) == (ssize_t) strlen (text));
    assert (fchmod (fd, mode) == 0);
    close (fd);
}

void
client_state_test (bool verbose)
{
    printf (" * client_state: ");
    if (verbose)
        printf ("\n");

    //  @selftest
    //  File names: readable for ordinary hosts, escaped otherwise, never
    //  a path or a hidden file, and one endpoint to one name
    s_expect_name ("tcp://127.0.0.1:5321", "127.0.0.1_5321.session", verbose);
    s_expect_name ("tcp://Mail.Example.com:6000", "mail.example.com_6000.session", verbose);
    s_expect_name ("tcp://[::1]:5321", "%5b%3a%3a1%5d_5321.session", verbose);
    s_expect_name ("tcp://[fe80::1%eth_0]:1", "%5bfe80%3a%3a1%25eth%5f0%5d_1.session", verbose);
    s_expect_name ("tcp://../../etc/passwd", "%2e.%2f..%2fetc%2fpasswd.session", verbose);
    s_expect_name ("ipc:///tmp/x", "ipc%3a%2f%2f%2ftmp%2fx.session", verbose);
    s_expect_name ("tcp://a.example:5321,tcp://b.example:5321",
                   "a.example_5321+b.example_5321.session", verbose);
    s_expect_name ("tcp://[::1]:1,tcp://a+b:2", "%5b%3a%3a1%5d_1+a%2bb_2.session", verbose);
    char *long_host = (char *) zmalloc (300);
    strcpy (long_host, "tcp://");
    memset (long_host + 6, '[', 100);
    strcat (long_host, ":1");
    s_expect_name (long_host, NULL, verbose);
    char *hashed = client_state_file_name (long_host);
    assert (strncmp (hashed, "h-", 2) == 0);
    assert (strlen (hashed) == 2 + 32 + strlen (S_SUFFIX));
    long_host [6] = ']';
    char *other = client_state_file_name (long_host);
    assert (!streq (hashed, other));
    zstr_free (&hashed);
    zstr_free (&other);
    zstr_free (&long_host);
    char *first = client_state_file_name ("tcp://a-b:1");
    char *second = client_state_file_name ("tcp://a_b:1");
    assert (!streq (first, second));
    zstr_free (&first);
    zstr_free (&second);

    char scratch [] = "/tmp/zpost-client-state-XXXXXX";
    assert (mkdtemp (scratch));
    char *state_dir = zsys_sprintf ("%s/state/zpost", scratch);
    const char *token = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    //  No file: not logged in
    client_state_t *state = client_state_new (state_dir, "tcp://127.0.0.1:5321");
    assert (state);
    char *expected_path = zsys_sprintf ("%s/127.0.0.1_5321.session", state_dir);
    assert (streq (client_state_path (state), expected_path));
    zstr_free (&expected_path);
    assert (client_state_load (state) == 1);
    assert (client_state_username (state) == NULL);
    assert (client_state_token (state) == NULL);
    assert (client_state_remove (state) == 0);      //  nothing to remove is fine

    //  Save: directory 0700, file 0600, no temporary left behind
    assert (client_state_save (state, "alice", token, 1700000000) == 0);
    assert (streq (client_state_username (state), "alice"));
    struct stat info;
    assert (stat (state_dir, &info) == 0);
    assert ((info.st_mode & 0777) == 0700);
    assert (stat (client_state_path (state), &info) == 0);
    assert ((info.st_mode & 0777) == 0600);
    zdir_t *dir = zdir_new (state_dir, NULL);
    assert (zdir_count (dir) == 1);
    zdir_destroy (&dir);
    client_state_destroy (&state);
    client_state_destroy (&state);                  //  harmless twice

    //  Load it back in a new object
    state = client_state_new (state_dir, "tcp://127.0.0.1:5321");
    assert (client_state_load (state) == 0);
    assert (streq (client_state_username (state), "alice"));
    assert (streq (client_state_token (state), token));
    assert (client_state_expires (state) == 1700000000);
    //  Saving again replaces it
    assert (client_state_save (state, "bob", token, 1) == 0);
    assert (client_state_load (state) == 0);
    assert (streq (client_state_username (state), "bob"));
    assert (client_state_expires (state) == 1);
    const char *path = client_state_path (state);

    //  Another server's login is another file
    client_state_t *elsewhere = client_state_new (state_dir, "tcp://10.0.0.1:5321");
    assert (client_state_load (elsewhere) == 1);
    client_state_destroy (&elsewhere);

    //  Loose permissions are refused, saying what to do
    assert (chmod (path, 0640) == 0);
    assert (client_state_load (state) == -1);
    assert (strstr (client_state_error (state), "group or others"));
    assert (strstr (client_state_error (state), "zpost login"));
    assert (client_state_token (state) == NULL);
    assert (chmod (path, 0600) == 0);
    assert (client_state_load (state) == 0);

    //  A symbolic link is not followed
    char *link_path = zsys_sprintf ("%s/link", scratch);
    assert (symlink (path, link_path) == 0);
    client_state_t *linked = client_state_new (scratch, "x");
    zstr_free (&linked->path);
    linked->path = strdup (link_path);
    assert (client_state_load (linked) == -1);
    client_state_destroy (&linked);
    unlink (link_path);
    zstr_free (&link_path);

    //  Damaged contents are refused, never half used
    const char *damaged [] = {
        "",
        "session\n    username = \"alice\"\n",
        "session\n    server = \"tcp://127.0.0.1:5321\"\n    username = \"Alice Smith\"\n"
        "    token = \"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\"\n"
        "    expires = \"1\"\n",
        "session\n    server = \"tcp://127.0.0.1:5321\"\n    username = \"alice\"\n"
        "    token = \"0123\"\n    expires = \"1\"\n",
        "session\n    server = \"tcp://127.0.0.1:5321\"\n    username = \"alice\"\n"
        "    token = \"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\"\n"
        "    expires = \"soon\"\n",
        "session\n    server = \"tcp://10.0.0.1:5321\"\n    username = \"alice\"\n"
        "    token = \"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\"\n"
        "    expires = \"1\"\n",
        NULL
    };
    for (int index = 0; damaged [index]; index++) {
        s_write_file (path, damaged [index], 0600);
        assert (client_state_load (state) == -1);
        if (verbose)
            zsys_debug ("%s", client_state_error (state));
        assert (strstr (client_state_error (state), "zpost login"));
    }
    //  ... and the good form of the same text is accepted
    s_write_file (path, damaged [5] + 0, 0600);
    client_state_t *right = client_state_new (state_dir, "tcp://10.0.0.1:5321");
    zstr_free (&right->path);
    right->path = strdup (path);
    assert (client_state_load (right) == 0);
    assert (streq (client_state_username (right), "alice"));
    client_state_destroy (&right);

    //  Remove: gone, and removing again is fine
    assert (client_state_remove (state) == 0);
    assert (stat (path, &info) == -1 && errno == ENOENT);
    assert (client_state_remove (state) == 0);
    assert (client_state_load (state) == 1);
    client_state_destroy (&state);

    dir = zdir_new (scratch, NULL);
    assert (dir);
    zdir_remove (dir, true);
    zdir_destroy (&dir);
    zstr_free (&state_dir);
    //  @end

    printf ("OK\n");
}
