/*  =========================================================================
    client_keys - the servers a zpost client knows, and how it meets a new one

    The client must know a server's CURVE public key before it can talk to
    it. A person gives it with --server-key (or $ZPOST_SERVER_KEY); when
    they do not, the client keeps the keys it has trusted before in a file,
    the way ssh keeps known_hosts:

        ${XDG_CONFIG_HOME:-$HOME/.config}/zpost/known_servers     (0600)

            # comments and blank lines are kept as they are
            127.0.0.1:5321 rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7
            [::1]:5321 Yne@$w-vo<fVvi]a<NY6T1ed:M$fCG*[IaLV{hID

    one "host:port KEY" line per server (the server as its endpoint names
    it, without "tcp://"; KEY its 40 Z85 characters). The first line for a
    server is the one used. The brokers of one deployment share one key
    pair, so a --server list is kept as one line per broker, all with the
    same key, added together (client_keys_add_all). The file is written whole to a temporary file,
    synced and renamed; loading refuses a file that is not a regular file
    owned by the user, or that group or others may write.

    For a server it does not know, the client may ask the broker's key
    announcement (zpost_announce; by default on the server's port + 1),
    show the key's fingerprint, and, if the person agrees, add the line.
    That is trust on first use: the announcement itself proves nothing.

    Every method that can fail leaves a sentence in client_keys_error ().
    =========================================================================
*/

#ifndef CLIENT_KEYS_H_INCLUDED
#define CLIENT_KEYS_H_INCLUDED

#include <czmq.h>

#define CLIENT_KEYS_FILE        "known_servers"

typedef struct _client_keys_t client_keys_t;

//  The known servers kept at path. Nothing is read yet.
client_keys_t *
    client_keys_new (const char *path);

//  Destroy the object.
void
    client_keys_destroy (client_keys_t **self_p);

//  Path of the file.
const char *
    client_keys_path (client_keys_t *self);

//  Read the file. 0 if it was read or does not exist (no servers known
//  yet); -1 if it is refused or unreadable (the error says why and what
//  to do). Lines that are not "server key" are kept but not used.
int
    client_keys_load (client_keys_t *self);

//  The key known for a server ("host:port"), or NULL.
const char *
    client_keys_lookup (client_keys_t *self, const char *server);

//  The line of the file on which the server's key is, 0 if none.
size_t
    client_keys_line (client_keys_t *self, const char *server);

//  Add a server that is not known yet, and write the file (creating its
//  directory 0700 and the file 0600). 0 or -1.
int
    client_keys_add (client_keys_t *self, const char *server, const char *key);

//  Add several servers that are not known yet, all with the same key (the
//  brokers of one deployment), one line each, in one write. 0 or -1.
int
    client_keys_add_all (client_keys_t *self, const char **servers, size_t count,
                         const char *key);

//  A server known under another name that is the same host and port as
//  server ("localhost:5321" and "127.0.0.1:5321": their names resolve to
//  a shared address), or NULL. Names are resolved with getaddrinfo.
const char *
    client_keys_same_host (client_keys_t *self, const char *server);

//  The first server known with key, or NULL.
const char *
    client_keys_server_with_key (client_keys_t *self, const char *key);

//  Remove the lines of server, and of every other name of the same host
//  and port (client_keys_same_host), and write the file; the other lines
//  stay as they were. Returns how many were removed (0: none known; the
//  file is untouched), with "name (line N), ..." in *forgotten_p for the
//  caller to free; -1 if the file could not be written.
int
    client_keys_forget (client_keys_t *self, const char *server, char **forgotten_p);

//  The last failure, as a sentence without the program name; "" if none.
const char *
    client_keys_error (client_keys_t *self);

//  The name a server has in the file: its endpoint without "tcp://".
//  Caller frees.
char *
    client_keys_server_name (const char *endpoint);

//  The key announcement endpoint for a server endpoint: the same host and
//  port, or port + 1 when port is 0. NULL if the endpoint has no port to
//  add to. Caller frees.
char *
    client_keys_announce_endpoint (const char *endpoint, int port);

//  Ask a key announcement endpoint for its key, waiting at most timeout
//  msec. 0 with the key's 40 characters and a NUL in key_text (41 bytes);
//  else -1 with a sentence in error (error_size bytes). Stops early with
//  -1 if zsys_interrupted is set (Ctrl-C).
int
    client_keys_fetch (const char *announce, int timeout, char *key_text,
                       char *error, size_t error_size);

//  Selftest
void
    client_keys_test (bool verbose);

#endif
