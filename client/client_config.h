/*  =========================================================================
    client_config - where the zpost client keeps things, and what it talks to

    The client's files:

        ${XDG_CONFIG_HOME:-$HOME/.config}/zpost/          (0700)
            client.key, client.key_secret                   the client's CURVE
                                                            key pair (0600)
        ${XDG_STATE_HOME:-$HOME/.local/state}/zpost/      (0700, made when
                                                            first needed)

    And the server it talks to: an address a person typed ("host",
    "host:port", "[v6addr]:port", "tcp://host:port"; default port 5321,
    default server $ZPOST_SERVER, else the config file's server, else
    127.0.0.1; a name under the config file's servers stands for its
    address) turned into a libzmq
    endpoint, and the server's CURVE public key (Z85 text or a key file,
    default $ZPOST_SERVER_KEY). The address may be a list of the brokers
    of one deployment, separated by commas ("a:5321,b:5321", at most
    CLIENT_CONFIG_SERVERS_MAX, each once): the client fails over from one
    to the next (client_session), and they all share one key.

    Every method that can fail because of what a person gave returns -1 (or
    NULL) and leaves a sentence in client_config_error () that the CLI can
    print as it is; none of them prints anything itself.
    =========================================================================
*/

#ifndef CLIENT_CONFIG_H_INCLUDED
#define CLIENT_CONFIG_H_INCLUDED

#include <czmq.h>
#include "client_settings.h"

#define CLIENT_CONFIG_DEFAULT_HOST  "127.0.0.1"
#define CLIENT_CONFIG_DEFAULT_PORT  5321
#define CLIENT_CONFIG_SERVERS_MAX   16      //  brokers in one --server list

typedef struct _client_config_t client_config_t;

//  Create a configuration. config_dir and state_dir override the XDG
//  defaults (tests use this); NULL means the default for each. Nothing is
//  created on disk yet. If no home directory can be found, the directories
//  are NULL and the methods that need them fail with a clear error.
client_config_t *
    client_config_new (const char *config_dir, const char *state_dir);

//  Destroy the configuration and the key pair it loaded.
void
    client_config_destroy (client_config_t **self_p);

//  The client's config directory and state directory (not necessarily
//  existing yet), or NULL if no home directory could be found.
const char *
    client_config_dir (client_config_t *self);
const char *
    client_config_state_dir (client_config_t *self);

//  Take over the settings read from the config file (client_settings):
//  its server is the default after $ZPOST_SERVER, and the names under its
//  servers stand for their addresses in client_config_set_server.
void
    client_config_set_settings (client_config_t *self, client_settings_t **settings_p);

//  The settings, or NULL if none were given.
client_settings_t *
    client_config_settings (client_config_t *self);

//  The config file's name for the server set last, if it was given by
//  one (zpost work), else NULL.
const char *
    client_config_alias (client_config_t *self);

//  Create the state directory (0700) if it is missing. 0 or -1.
int
    client_config_make_state_dir (client_config_t *self);

//  Load the client's key pair, creating it (and the config directory) on
//  first use. A secret file that group or others can read is refused. The
//  certificate stays owned by the configuration. NULL on failure.
zcert_t *
    client_config_client_cert (client_config_t *self);

//  Set the server from an address a person typed, or a comma-separated
//  list of them (blanks around an entry are ignored), or a name under the
//  config file's servers; NULL means $ZPOST_SERVER, else the config
//  file's server, else 127.0.0.1. 0 if every entry is good, else -1 with
//  an error that names the first bad entry (a repeated server, an empty
//  entry and more than CLIENT_CONFIG_SERVERS_MAX entries are bad too);
//  a failed set keeps what was set before.
int
    client_config_set_server (client_config_t *self, const char *address);

//  The server's libzmq endpoint ("tcp://host:port"); for a list, every
//  endpoint in sorted order, joined by "," (the name of the whole
//  deployment, under which a login is kept, whatever the list's order). NULL before a successful
//  client_config_set_server.
const char *
    client_config_endpoint (client_config_t *self);

//  The number of servers set (0 before a successful set), and the
//  index-th one's endpoint, from 0 (NULL past the last).
size_t
    client_config_servers (client_config_t *self);
const char *
    client_config_server_endpoint (client_config_t *self, size_t index);

//  Set the server's public key from Z85 text or a key file; NULL means
//  $ZPOST_SERVER_KEY. 0 if a key was found, else -1 (the error says how
//  to give one).
int
    client_config_set_server_key (client_config_t *self, const char *key_or_file);

//  The server's public key as 40 Z85 characters, or NULL before a
//  successful client_config_set_server_key.
const char *
    client_config_server_key (client_config_t *self);

//  The last failure, as a sentence without the program name; "" if none.
const char *
    client_config_error (client_config_t *self);

//  Turn an address into a "tcp://host:port" endpoint. Returns a fresh
//  string for the caller to free, or NULL if the address is not one; then
//  *reason_p (if reason_p is not NULL) says what is wrong.
char *
    client_config_parse_address (const char *address, const char **reason_p);

//  Replace the file at path with text, in one step and readable by its
//  owner only: the text goes to a 0600 temporary beside it, is synced, and
//  renamed over path. Returns 0, or -1 with a sentence in error (of
//  error_size bytes) that says what failed and where.
int
    client_config_write_private (const char *path, const char *text,
                                 char *error, size_t error_size);

//  Selftest
void
    client_config_test (bool verbose);

#endif
