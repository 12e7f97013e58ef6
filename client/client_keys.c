/*  =========================================================================
    client_keys - the servers a zpost client knows, and how it meets a new one

    The file is kept as text, as the person may have edited it: adding a
    server appends one line to what was read and writes the whole back, so
    comments, order and lines this version does not understand survive.
    Only the first line for a server counts, and a line is never replaced:
    a key that changed is for the person to deal with, by removing the old
    line, never for the client to decide.

    Writable by others would mean anyone could slip their own key in for a
    server, so such a file is refused; readable is harmless (the keys are
    public) but the file is made 0600 anyway, like the rest of the config.
    =========================================================================
*/

#include "client_keys.h"
#include "client_config.h"
#include "zpost_announce.h"
#include "zpost_keys.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

//  A file of a few thousand servers is a few hundred KiB; anything much
//  larger is not a known-servers file
#define S_FILE_MAX      (4 * 1024 * 1024)
#define S_SERVER_MAX    300         //  bytes of a server name
#define S_PORT_MAX      65535

typedef struct {
    char *server;               //  "host:port"
    char key [41];              //  Z85 public key
    size_t line;                //  line number in the file, from 1
} s_entry_t;

struct _client_keys_t {
    char *path;                 //  the file
    char *text;                 //  its text as read, "" if none
    zlistx_t *entries;          //  s_entry_t, in file order (owned)
    char error [512];           //  last failure, for a person
};

static void
s_set_error (client_keys_t *self, const char *format, ...) CHECK_PRINTF (2);

static void
s_set_error (client_keys_t *self, const char *format, ...)
{
    va_list args;
    va_start (args, format);
    vsnprintf (self->error, sizeof (self->error), format, args);
    va_end (args);
}

static void
s_entry_destroy (void **item_p)
{
    s_entry_t *entry = (s_entry_t *) *item_p;
    if (entry) {
        zstr_free (&entry->server);
        free (entry);
        *item_p = NULL;
    }
}


//  --------------------------------------------------------------------------
//  Constructor and destructor

client_keys_t *
client_keys_new (const char *path)
{
    assert (path);
    client_keys_t *self = (client_keys_t *) zmalloc (sizeof (client_keys_t));
    assert (self);
    self->path = strdup (path);
    self->text = strdup ("");
    self->entries = zlistx_new ();
    assert (self->path && self->text && self->entries);
    zlistx_set_destructor (self->entries, s_entry_destroy);
    return self;
}

void
client_keys_destroy (client_keys_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        client_keys_t *self = *self_p;
        zlistx_destroy (&self->entries);
        zstr_free (&self->text);
        zstr_free (&self->path);
        free (self);
        *self_p = NULL;
    }
}

const char *
client_keys_path (client_keys_t *self)
{
    assert (self);
    return self->path;
}

const char *
client_keys_error (client_keys_t *self)
{
    assert (self);
    return self->error;
}


//  --------------------------------------------------------------------------
//  Reading

//  Parse one line into an entry, or NULL if it is not "server key"
static s_entry_t *
s_parse_line (char *line, size_t number)
{
    line += strspn (line, " \t");
    if (*line == 0 || *line == '#')
        return NULL;
    char *server = line;
    size_t server_size = strcspn (server, " \t");
    char *key = server + server_size;
    key += strspn (key, " \t");
    size_t key_size = strcspn (key, " \t\r");
    char *rest = key + key_size;
    rest += strspn (rest, " \t\r");
    if (server_size == 0 || server_size > S_SERVER_MAX || key_size != 40 || *rest)
        return NULL;
    server [server_size] = 0;
    key [key_size] = 0;
    if (!zpost_keys_valid_z85 (key))
        return NULL;
    s_entry_t *entry = (s_entry_t *) zmalloc (sizeof (s_entry_t));
    assert (entry);
    entry->server = strdup (server);
    assert (entry->server);
    memcpy (entry->key, key, sizeof (entry->key));
    entry->line = number;
    return entry;
}

static void
s_parse (client_keys_t *self)
{
    zlistx_purge (self->entries);
    char *copy = strdup (self->text);
    assert (copy);
    char *rest = copy;
    size_t number = 0;
    char *line;
    while ((line = strsep (&rest, "\n"))) {
        number++;
        s_entry_t *entry = s_parse_line (line, number);
        if (entry)
            zlistx_add_end (self->entries, entry);
    }
    free (copy);
}

int
client_keys_load (client_keys_t *self)
{
    assert (self);
    self->error [0] = 0;
    zlistx_purge (self->entries);
    zstr_free (&self->text);
    self->text = strdup ("");
    assert (self->text);

    int fd = open (self->path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd == -1) {
        if (errno == ENOENT)
            return 0;
        s_set_error (self, "cannot read %s: %s", self->path, strerror (errno));
        return -1;
    }
    struct stat info;
    int rc = -1;
    if (fstat (fd, &info))
        s_set_error (self, "cannot read %s: %s", self->path, strerror (errno));
    else
    if (!S_ISREG (info.st_mode) || info.st_uid != geteuid ())
        s_set_error (self, "%s is not a file of yours, so the keys in it are "
                     "refused; remove it, or give --server-key", self->path);
    else
    if (info.st_mode & (S_IWGRP | S_IWOTH))
        s_set_error (self, "%s may be written by group or others, so the keys in "
                     "it are refused; fix it with: chmod 600 %s", self->path, self->path);
    else
    if (info.st_size > S_FILE_MAX)
        s_set_error (self, "%s is too large to be a known-servers file; check it",
                     self->path);
    else {
        char *text = (char *) zmalloc ((size_t) info.st_size + 1);
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
        if (done != (size_t) info.st_size)
            s_set_error (self, "cannot read %s: %s", self->path,
                         done? "it changed while being read": strerror (errno));
        else
        if (memchr (text, 0, done))
            s_set_error (self, "%s holds a NUL byte, so it is not a known-servers "
                         "file; check it", self->path);
        else {
            free (self->text);
            self->text = text;
            text = NULL;
            s_parse (self);
            rc = 0;
        }
        free (text);
    }
    close (fd);
    return rc;
}

static s_entry_t *
s_find (client_keys_t *self, const char *server)
{
    s_entry_t *entry = (s_entry_t *) zlistx_first (self->entries);
    while (entry && !streq (entry->server, server))
        entry = (s_entry_t *) zlistx_next (self->entries);
    return entry;
}

const char *
client_keys_lookup (client_keys_t *self, const char *server)
{
    assert (self);
    assert (server);
    s_entry_t *entry = s_find (self, server);
    return entry? entry->key: NULL;
}

size_t
client_keys_line (client_keys_t *self, const char *server)
{
    assert (self);
    assert (server);
    s_entry_t *entry = s_find (self, server);
    return entry? entry->line: 0;
}


//  --------------------------------------------------------------------------
//  Writing

//  The directory part of path, for mkdir. Caller frees.
static char *
s_dirname (const char *path)
{
    const char *slash = strrchr (path, '/');
    if (!slash)
        return strdup (".");
    if (slash == path)
        return strdup ("/");
    return strndup (path, (size_t) (slash - path));
}

int
client_keys_add (client_keys_t *self, const char *server, const char *key)
{
    return client_keys_add_all (self, &server, 1, key);
}

int
client_keys_add_all (client_keys_t *self, const char **servers, size_t count,
                     const char *key)
{
    assert (self);
    assert (servers && count > 0);
    for (size_t index = 0; index < count; index++) {
        const char *server = servers [index];
        assert (server && *server && !strpbrk (server, " \t\r\n#"));
        assert (!s_find (self, server));
        (void) server;
    }
    assert (key && zpost_keys_valid_z85 (key));
    self->error [0] = 0;

    char *dir = s_dirname (self->path);
    assert (dir);
    if (zpost_keys_make_private_dir (dir)) {
        s_set_error (self, "cannot create %s: %s; check its parent directory",
                     dir, strerror (errno));
        free (dir);
        return -1;
    }
    //  The servers of one deployment go in together, in one write: the
    //  file never holds part of a list
    size_t size = strlen (self->text);
    bool newline = size > 0 && self->text [size - 1] != '\n';
    char *text = zsys_sprintf ("%s%s", self->text, newline? "\n": "");
    assert (text);
    for (size_t index = 0; index < count; index++) {
        char *longer = zsys_sprintf ("%s%s %s\n", text, servers [index], key);
        assert (longer);
        free (text);
        text = longer;
    }

    int rc = client_config_write_private (self->path, text, self->error,
                                          sizeof self->error);
    if (rc == 0) {
        free (self->text);
        self->text = text;
        text = NULL;
        s_parse (self);
    }
    free (text);
    free (dir);
    return rc;
}


//  --------------------------------------------------------------------------
//  Other names of one server

//  Split "host:port" or "[v6]:port" into a host (brackets off; caller
//  frees) and a port; NULL if it is neither
static char *
s_split (const char *server, const char **port_p)
{
    const char *colon = strrchr (server, ':');
    if (!colon || colon == server || !colon [1])
        return NULL;
    *port_p = colon + 1;
    if (server [0] == '[' && colon [-1] == ']')
        return strndup (server + 1, (size_t) (colon - server - 2));
    return strndup (server, (size_t) (colon - server));
}

//  The addresses host has, as text, one per line with a "\n" after each
//  (a numeric address is its own); NULL if it has none. Caller frees.
static char *
s_addresses (const char *host)
{
    struct addrinfo hints;
    memset (&hints, 0, sizeof (hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    struct addrinfo *found = NULL;
    if (getaddrinfo (host, NULL, &hints, &found) || !found)
        return NULL;
    char *text = strdup ("");
    assert (text);
    for (struct addrinfo *item = found; item; item = item->ai_next) {
        char address [NI_MAXHOST];
        if (getnameinfo (item->ai_addr, item->ai_addrlen, address, sizeof (address),
                         NULL, 0, NI_NUMERICHOST))
            continue;
        char *line = zsys_sprintf ("%s\n", address);
        if (!strstr (text, line)) {
            char *longer = zsys_sprintf ("%s%s", text, line);
            assert (longer);
            free (text);
            text = longer;
        }
        free (line);
    }
    freeaddrinfo (found);
    return text;
}

//  Do the addresses a and b (as s_addresses) share one?
static bool
s_share (const char *a, const char *b)
{
    const char *line = a;
    while (*line) {
        size_t size = strcspn (line, "\n");
        const char *at = b;
        while (*at) {
            if (strncmp (at, line, size) == 0 && at [size] == '\n')
                return true;
            at += strcspn (at, "\n") + 1;
        }
        line += size + 1;
    }
    return false;
}

//  Is other the same host and port as server, by another name? addresses
//  are server's (s_addresses of its host)
static bool
s_same_host (const char *server, const char *addresses, const char *other)
{
    const char *port, *other_port;
    char *host = s_split (server, &port);
    char *other_host = s_split (other, &other_port);
    bool same = false;
    if (host && other_host && streq (port, other_port) && !streq (server, other)) {
        char *other_addresses = s_addresses (other_host);
        same = other_addresses && s_share (addresses, other_addresses);
        free (other_addresses);
    }
    free (host);
    free (other_host);
    return same;
}

const char *
client_keys_same_host (client_keys_t *self, const char *server)
{
    assert (self);
    assert (server);
    const char *port;
    char *host = s_split (server, &port);
    char *addresses = host? s_addresses (host): NULL;
    free (host);
    if (!addresses)
        return NULL;
    const char *found = NULL;
    s_entry_t *entry = (s_entry_t *) zlistx_first (self->entries);
    for (; entry && !found; entry = (s_entry_t *) zlistx_next (self->entries))
        if (s_same_host (server, addresses, entry->server))
            found = entry->server;
    free (addresses);
    return found;
}

const char *
client_keys_server_with_key (client_keys_t *self, const char *key)
{
    assert (self);
    assert (key);
    s_entry_t *entry = (s_entry_t *) zlistx_first (self->entries);
    for (; entry; entry = (s_entry_t *) zlistx_next (self->entries))
        if (streq (entry->key, key))
            return entry->server;
    return NULL;
}

int
client_keys_forget (client_keys_t *self, const char *server, char **forgotten_p)
{
    assert (self);
    assert (server);
    assert (forgotten_p);
    *forgotten_p = NULL;
    self->error [0] = 0;
    const char *port;
    char *host = s_split (server, &port);
    char *addresses = host? s_addresses (host): NULL;
    free (host);
    //  The lines to drop, marked by number
    size_t lines = 1;
    for (const char *at = self->text; *at; at++)
        lines += *at == '\n';
    bool *drop = (bool *) calloc (lines + 1, sizeof (bool));
    assert (drop);
    char *forgotten = strdup ("");
    assert (forgotten);
    int count = 0;
    s_entry_t *entry = (s_entry_t *) zlistx_first (self->entries);
    for (; entry; entry = (s_entry_t *) zlistx_next (self->entries))
        if (streq (entry->server, server)
        ||  (addresses && s_same_host (server, addresses, entry->server))) {
            drop [entry->line] = true;
            char *longer = zsys_sprintf ("%s%s%s (line %zu)", forgotten,
                                         count? ", ": "", entry->server, entry->line);
            assert (longer);
            free (forgotten);
            forgotten = longer;
            count++;
        }
    free (addresses);
    int rc = count;
    if (count > 0) {
        //  Every other line is kept as it was, comments too
        char *text = (char *) zmalloc (strlen (self->text) + 1);
        assert (text);
        size_t out = 0;
        size_t number = 1;
        const char *line = self->text;
        while (*line) {
            size_t size = strcspn (line, "\n");
            bool newline = line [size] == '\n';
            if (!drop [number]) {
                memcpy (text + out, line, size + newline);
                out += size + newline;
            }
            line += size + newline;
            number++;
        }
        text [out] = 0;
        if (client_config_write_private (self->path, text, self->error,
                                         sizeof self->error))
            rc = -1;
        else {
            free (self->text);
            self->text = text;
            text = NULL;
            s_parse (self);
        }
        free (text);
    }
    free (drop);
    if (rc > 0)
        *forgotten_p = forgotten;
    else
        free (forgotten);
    return rc;
}


//  --------------------------------------------------------------------------
//  Servers and their announcements

char *
client_keys_server_name (const char *endpoint)
{
    assert (endpoint);
    if (strncmp (endpoint, "tcp://", 6) == 0)
        endpoint += 6;
    char *name = strdup (endpoint);
    assert (name);
    return name;
}

char *
client_keys_announce_endpoint (const char *endpoint, int port)
{
    assert (endpoint);
    const char *colon = strrchr (endpoint, ':');
    if (strncmp (endpoint, "tcp://", 6) != 0 || !colon || colon < endpoint + 6
    ||  strchr (colon, ']'))
        return NULL;
    if (port == 0) {
        const char *digits = colon + 1;
        if (!*digits || strspn (digits, "0123456789") != strlen (digits)
        ||  strlen (digits) > 5)
            return NULL;
        port = atoi (digits) + 1;
    }
    if (port < 1 || port > S_PORT_MAX)
        return NULL;
    return zsys_sprintf ("%.*s:%d", (int) (colon - endpoint), endpoint, port);
}

//  The announcement is raw TCP (a ZMQ_STREAM socket): 8 bytes asked, 49
//  answered, perhaps in pieces; an empty chunk says the connection was
//  made, the next one that it was closed.
int
client_keys_fetch (const char *announce, int timeout, char *key_text,
                   char *error, size_t error_size)
{
    assert (announce);
    assert (key_text);
    assert (error && error_size > 0);
    key_text [0] = 0;
    error [0] = 0;
    zsock_t *socket = zsock_new (ZMQ_STREAM);
    if (!socket) {
        snprintf (error, error_size, "cannot create a socket: %s",
                  zmq_strerror (zmq_errno ()));
        return -1;
    }
    zsock_set_linger (socket, 0);
    zsock_set_sndtimeo (socket, 0);
    if (strstr (announce, "://["))
        zsock_set_ipv6 (socket, 1);
    if (zsock_connect (socket, "%s", announce)) {
        snprintf (error, error_size, "cannot connect to %s: %s", announce,
                  zmq_strerror (zmq_errno ()));
        zsock_destroy (&socket);
        return -1;
    }
    zpoller_t *poller = zpoller_new (socket, NULL);
    assert (poller);
    char reply [ZPOST_ANNOUNCE_REPLY_SIZE];
    size_t got = 0;
    bool connected = false;
    int rc = -2;                //  -2 while undecided
    int64_t deadline = zclock_mono () + timeout;
    while (rc == -2) {
        int64_t left = deadline - zclock_mono ();
        void *which = left > 0? zpoller_wait (poller, (int) left): NULL;
        if (which != socket) {
            if (zsys_interrupted)
                snprintf (error, error_size, "interrupted");
            else
                snprintf (error, error_size, "%s gave no key announcement in "
                          "%d ms", announce, timeout);
            rc = -1;
            break;
        }
        zframe_t *id = zframe_recv (socket);
        zframe_t *data = id && zsock_rcvmore (socket)? zframe_recv (socket): NULL;
        size_t size = data? zframe_size (data): 0;
        if (!id)
            ;                   //  nothing whole came; wait on
        else
        if (size == 0 && !connected) {
            connected = true;
            void *handle = zsock_resolve (socket);
            if (zmq_send (handle, zframe_data (id), zframe_size (id), ZMQ_SNDMORE) == -1
            ||  zmq_send (handle, ZPOST_ANNOUNCE_REQUEST,
                          ZPOST_ANNOUNCE_REQUEST_SIZE, 0) == -1) {
                snprintf (error, error_size, "cannot ask %s", announce);
                rc = -1;
            }
        }
        else
        if (size == 0 || got + size > sizeof (reply)) {
            //  Closed before a whole reply, or more than one
            snprintf (error, error_size, "%s did not answer with a zpost key "
                      "announcement", announce);
            rc = -1;
        }
        else {
            memcpy (reply + got, zframe_data (data), size);
            got += size;
            int decoded = zpost_announce_decode (reply, got, key_text);
            if (decoded == 1)
                rc = 0;
            else
            if (decoded == -2) {
                snprintf (error, error_size, "%s did not answer with a zpost "
                          "key announcement", announce);
                rc = -1;
            }
        }
        zframe_destroy (&id);
        zframe_destroy (&data);
    }
    zpoller_destroy (&poller);
    zsock_destroy (&socket);
    return rc;
}


//  --------------------------------------------------------------------------
//  Selftest

//  The selftest's asserts are its checks, and many call what they check:
//  they must stay in a build with NDEBUG (CMake's release types set it).
#undef NDEBUG
#include <assert.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

static void
s_write (const char *path, const char *text, mode_t mode)
{
    int fd = open (path, O_WRONLY | O_CREAT | O_TRUNC, mode);
    assert (fd >= 0);
    assert (write (fd, text, strlen (text)) == (ssize_t) strlen (text));
    assert (fchmod (fd, mode) == 0);
    close (fd);
}

static void
s_expect_announce (const char *endpoint, int port, const char *expected)
{
    char *announce = client_keys_announce_endpoint (endpoint, port);
    if (expected)
        assert (announce && streq (announce, expected));
    else
        assert (announce == NULL);
    zstr_free (&announce);
}

//  A stand-in announcer on raw TCP: answers the first bytes of each
//  connection with the announcement of the key it was given, or with the
//  text itself if it is not a key
static void
s_announcer (zsock_t *pipe, void *args)
{
    const char *answer = (const char *) args;
    char reply [ZPOST_ANNOUNCE_REPLY_SIZE + 1];
    if (strlen (answer) == 40)
        zpost_announce_reply (answer, reply);
    else
        snprintf (reply, sizeof (reply), "%s\n", answer);
    zsock_t *stream = zsock_new (ZMQ_STREAM);
    assert (stream);
    int port = zsock_bind (stream, "tcp://127.0.0.1:*");
    assert (port > 0);
    zsock_signal (pipe, 0);
    zstr_sendf (pipe, "%d", port);
    zpoller_t *poller = zpoller_new (pipe, stream, NULL);
    while (zpoller_wait (poller, -1) == stream) {
        zframe_t *id = zframe_recv (stream);
        zframe_t *data = zframe_recv (stream);
        if (zframe_size (data) > 0) {
            zframe_send (&id, stream, ZFRAME_MORE);
            zmq_send (zsock_resolve (stream), reply, strlen (reply), 0);
        }
        zframe_destroy (&id);
        zframe_destroy (&data);
    }
    zpoller_destroy (&poller);
    zsock_destroy (&stream);
}

void
client_keys_test (bool verbose)
{
    printf (" * client_keys: ");
    if (verbose)
        printf ("\n");

    //  @selftest
    char scratch [] = "/tmp/zpost-client-keys-XXXXXX";
    assert (mkdtemp (scratch));
    char *path = zsys_sprintf ("%s/config/zpost/" CLIENT_KEYS_FILE, scratch);
    const char *alpha = "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7";
    const char *beta = "Yne@$w-vo<fVvi]a<NY6T1ed:M$fCG*[IaLV{hID";

    //  No file: nothing known; adding makes the directory and the file
    client_keys_t *keys = client_keys_new (path);
    assert (streq (client_keys_path (keys), path));
    assert (client_keys_load (keys) == 0);
    assert (client_keys_lookup (keys, "127.0.0.1:5321") == NULL);
    assert (client_keys_line (keys, "127.0.0.1:5321") == 0);
    assert (client_keys_add (keys, "127.0.0.1:5321", alpha) == 0);
    assert (streq (client_keys_lookup (keys, "127.0.0.1:5321"), alpha));
    assert (client_keys_add (keys, "[::1]:5321", beta) == 0);
    client_keys_destroy (&keys);
    client_keys_destroy (&keys);        //  harmless twice

    struct stat info;
    assert (stat (path, &info) == 0);
    assert ((info.st_mode & 0777) == 0600);

    //  What was written is read back, with comments and odd lines kept
    keys = client_keys_new (path);
    assert (client_keys_load (keys) == 0);
    assert (streq (client_keys_lookup (keys, "127.0.0.1:5321"), alpha));
    assert (streq (client_keys_lookup (keys, "[::1]:5321"), beta));
    assert (client_keys_line (keys, "[::1]:5321") == 2);
    client_keys_destroy (&keys);

    char *text = zsys_sprintf ("# my servers\n\n  mail.example:5321\t%s  \n"
                               "broken line\nshort:1 abc\n"
                               "mail.example:5321 %s\nlast:1 %s", alpha, beta, beta);
    s_write (path, text, 0600);
    keys = client_keys_new (path);
    assert (client_keys_load (keys) == 0);
    //  The first line for a server wins
    assert (streq (client_keys_lookup (keys, "mail.example:5321"), alpha));
    assert (client_keys_line (keys, "mail.example:5321") == 3);
    assert (streq (client_keys_lookup (keys, "last:1"), beta));
    assert (client_keys_lookup (keys, "short:1") == NULL);
    //  A file without a last newline still gets one line per server
    assert (client_keys_add (keys, "new:2", alpha) == 0);
    client_keys_destroy (&keys);
    keys = client_keys_new (path);
    assert (client_keys_load (keys) == 0);
    assert (streq (client_keys_lookup (keys, "last:1"), beta));
    assert (streq (client_keys_lookup (keys, "new:2"), alpha));
    assert (client_keys_line (keys, "new:2") == 8);
    //  A deployment's brokers go in together, one line each, one key
    const char *deployment [] = { "a:5321", "b:5321", "[::1]:7000" };
    assert (client_keys_add_all (keys, deployment, 3, beta) == 0);
    client_keys_destroy (&keys);
    keys = client_keys_new (path);
    assert (client_keys_load (keys) == 0);
    for (size_t index = 0; index < 3; index++) {
        assert (streq (client_keys_lookup (keys, deployment [index]), beta));
        assert (client_keys_line (keys, deployment [index]) == 9 + index);
    }
    client_keys_destroy (&keys);
    FILE *file = fopen (path, "r");
    char first [64];
    assert (fgets (first, sizeof (first), file));
    assert (streq (first, "# my servers\n"));
    fclose (file);
    zstr_free (&text);

    //  A file others may write is refused, saying how to fix it
    assert (chmod (path, 0620) == 0);
    keys = client_keys_new (path);
    assert (client_keys_load (keys) == -1);
    assert (strstr (client_keys_error (keys), "chmod 600"));
    assert (client_keys_lookup (keys, "new:2") == NULL);
    client_keys_destroy (&keys);
    assert (chmod (path, 0644) == 0);   //  readable is fine
    keys = client_keys_new (path);
    assert (client_keys_load (keys) == 0);
    client_keys_destroy (&keys);

    //  A directory in its place is refused
    char *dir_path = zsys_sprintf ("%s/adir", scratch);
    assert (mkdir (dir_path, 0700) == 0);
    keys = client_keys_new (dir_path);
    assert (client_keys_load (keys) == -1);
    assert (*client_keys_error (keys));
    client_keys_destroy (&keys);
    assert (rmdir (dir_path) == 0);
    zstr_free (&dir_path);

    //  Names and announcement endpoints
    char *name = client_keys_server_name ("tcp://127.0.0.1:5321");
    assert (streq (name, "127.0.0.1:5321"));
    zstr_free (&name);
    s_expect_announce ("tcp://127.0.0.1:5321", 0, "tcp://127.0.0.1:5322");
    s_expect_announce ("tcp://[::1]:5321", 0, "tcp://[::1]:5322");
    s_expect_announce ("tcp://mail.example:5321", 7000, "tcp://mail.example:7000");
    s_expect_announce ("tcp://mail.example:65535", 0, NULL);
    s_expect_announce ("tcp://mail.example:80", 70000, NULL);
    s_expect_announce ("tcp://[::1]", 0, NULL);
    s_expect_announce ("ipc://x:1", 0, NULL);

    //  Asking an announcer: a good answer, a bad one, and silence
    char key_text [41];
    char error [256];
    zactor_t *announcer = zactor_new (s_announcer, (void *) alpha);
    char *port = zstr_recv (announcer);
    char *endpoint = zsys_sprintf ("tcp://127.0.0.1:%s", port);
    assert (client_keys_fetch (endpoint, 5000, key_text, error, sizeof (error)) == 0);
    assert (streq (key_text, alpha));
    zactor_destroy (&announcer);
    zstr_free (&port);
    zstr_free (&endpoint);

    announcer = zactor_new (s_announcer, "not a key");
    port = zstr_recv (announcer);
    endpoint = zsys_sprintf ("tcp://127.0.0.1:%s", port);
    assert (client_keys_fetch (endpoint, 5000, key_text, error, sizeof (error)) == -1);
    assert (strstr (error, "did not answer with a zpost key announcement"));
    assert (*key_text == 0);
    zactor_destroy (&announcer);
    zstr_free (&port);
    zstr_free (&endpoint);
    //  Nobody there: a port we hold bound but not listening, so that no
    //  test running beside this one can take it in between
    int silent = socket (AF_INET, SOCK_STREAM, 0);
    assert (silent >= 0);
    struct sockaddr_in address = { .sin_family = AF_INET };
    address.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
    socklen_t address_size = sizeof (address);
    assert (bind (silent, (struct sockaddr *) &address, address_size) == 0);
    assert (getsockname (silent, (struct sockaddr *) &address, &address_size) == 0);
    endpoint = zsys_sprintf ("tcp://127.0.0.1:%u", (unsigned) ntohs (address.sin_port));
    assert (client_keys_fetch (endpoint, 100, key_text, error, sizeof (error)) == -1);
    assert (strstr (error, "no key announcement in 100 ms"));
    close (silent);
    zstr_free (&endpoint);

    //  Other names of one server: by address, by key; forgetting drops
    //  every name of the host, and keeps the rest of the file
    keys = client_keys_new (path);
    assert (client_config_write_private (path, "# mine\n127.0.0.1:7001 " "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7\n"
                                         "[::1]:7002 Yne@$w-vo<fVvi]a<NY6T1ed:M$fCG*[IaLV{hID\n"
                                         "localhost:7001 rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7\n"
                                         "127.0.0.1:7003 Yne@$w-vo<fVvi]a<NY6T1ed:M$fCG*[IaLV{hID\n",
                                         error, sizeof (error)) == 0);
    assert (client_keys_load (keys) == 0);
    assert (streq (client_keys_same_host (keys, "localhost:7001"), "127.0.0.1:7001"));
    assert (client_keys_same_host (keys, "localhost:7009") == NULL);
    assert (client_keys_same_host (keys, "127.0.0.2:7003") == NULL);
    assert (streq (client_keys_server_with_key (keys, beta), "[::1]:7002"));
    char *forgotten = NULL;
    assert (client_keys_forget (keys, "localhost:7001", &forgotten) == 2);
    if (verbose)
        zsys_debug ("forgot %s", forgotten);
    assert (streq (forgotten, "127.0.0.1:7001 (line 2), localhost:7001 (line 4)"));
    zstr_free (&forgotten);
    assert (client_keys_lookup (keys, "127.0.0.1:7001") == NULL);
    assert (client_keys_forget (keys, "127.0.0.1:7001", &forgotten) == 0);
    assert (forgotten == NULL);
    client_keys_destroy (&keys);
    keys = client_keys_new (path);
    assert (client_keys_load (keys) == 0);
    assert (streq (client_keys_lookup (keys, "[::1]:7002"), beta));
    assert (client_keys_line (keys, "127.0.0.1:7003") == 3);
    client_keys_destroy (&keys);

    zdir_t *dir = zdir_new (scratch, NULL);
    assert (dir);
    zdir_remove (dir, true);
    zdir_destroy (&dir);
    zstr_free (&path);
    //  @end

    printf ("OK\n");
}
