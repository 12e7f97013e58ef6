/*  =========================================================================
    client_state - the login a one-shot command finds, one file per server

    `zpost login` keeps the session token it got, so later commands can
    use it, in a file of its own for each server:

        ${XDG_STATE_HOME:-$HOME/.local/state}/zpost/    (0700)
            NAME.session                                (0600)

    where NAME is the server's endpoint without "tcp://", with every byte
    other than a-z 0-9 . - written as %XX, and the port joined by "_":
    tcp://127.0.0.1:5321 gives 127.0.0.1_5321.session, tcp://[::1]:5321
    gives %5b%3a%3a1%5d_5321.session. Names that would pass 200 bytes are
    the BLAKE2b hash of the endpoint instead. The file is a CZMQ zconfig
    text:

        session
            server = "tcp://127.0.0.1:5321"
            username = "alice"
            token = "<64 hex digits>"
            expires = "1700000000"

    It is written whole to a temporary file, synced and renamed, so a
    crash leaves the old file or the new one. Loading refuses a file that
    is not a regular file owned by the user, or that group or others may
    read. A token is worth little without the client's secret key (the
    store binds sessions to it) but is still kept as a secret: buffers that
    held one are wiped.

    Every method that can fail leaves a sentence in client_state_error ().
    =========================================================================
*/

#ifndef CLIENT_STATE_H_INCLUDED
#define CLIENT_STATE_H_INCLUDED

#include <czmq.h>
#include <stdint.h>

typedef struct _client_state_t client_state_t;

//  The state of the login to endpoint, kept in state_dir. Nothing is read
//  or created yet.
client_state_t *
    client_state_new (const char *state_dir, const char *endpoint);

//  Destroy the state, wiping the token it held.
void
    client_state_destroy (client_state_t **self_p);

//  Path of the state file.
const char *
    client_state_path (client_state_t *self);

//  Read the state file. 0 if it was read, 1 if there is none (not logged
//  in), -1 if it exists but is refused (the error says why and what to do).
int
    client_state_load (client_state_t *self);

//  The login, after a successful load or save; NULL / 0 before.
const char *
    client_state_username (client_state_t *self);
const char *
    client_state_token (client_state_t *self);
uint64_t
    client_state_expires (client_state_t *self);

//  Keep a login, creating the state directory (0700) and replacing any
//  previous file. 0 or -1.
int
    client_state_save (client_state_t *self, const char *username,
                       const char *token, uint64_t expires);

//  Forget the login: remove the file. 0 if it is gone (or was never
//  there), -1 if it could not be removed.
int
    client_state_remove (client_state_t *self);

//  The last failure, as a sentence without the program name; "" if none.
const char *
    client_state_error (client_state_t *self);

//  The file name (without directory) for an endpoint. Caller frees.
char *
    client_state_file_name (const char *endpoint);

//  Selftest
void
    client_state_test (bool verbose);

#endif
