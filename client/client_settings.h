/*  =========================================================================
    client_settings - the zpost client's config file

        ${XDG_CONFIG_HOME:-$HOME/.config}/zpost/config

    in CZMQ's ZPL (read with zconfig), for what a person would otherwise
    type every time:

        #   zpost client settings
        server = "mail.example.org"         #   default server (or a list)
        user = alice                        #   default username
        editor = "vim"                      #   editor for zpost send
        pager = "less"                      #   pager for long messages
        servers                             #   names for servers
            work = "mail.example.org:5321"  #   zpost work, --server work
            home = "a.lan:5321,b.lan:5321"

    Every setting is optional, and what a person gives each time wins:
    options over environment variables ($ZPOST_SERVER, $VISUAL, $EDITOR,
    $PAGER) over this file over the built-in defaults. A name under
    "servers" may be given wherever a server is (zpost NAME, --server
    NAME, server = NAME), and is one more name of that server for the
    known-servers file (client_trust).

    A file that is not ZPL, a setting this version does not know, or a
    value that is not one is refused with one sentence naming the file,
    the line and what is allowed; the client then does nothing else. A
    missing file is no settings.
    =========================================================================
*/

#ifndef CLIENT_SETTINGS_H_INCLUDED
#define CLIENT_SETTINGS_H_INCLUDED

#include <czmq.h>

#define CLIENT_SETTINGS_FILE    "config"

typedef struct _client_settings_t client_settings_t;

//  No settings yet.
client_settings_t *
    client_settings_new (void);

//  Destroy the settings.
void
    client_settings_destroy (client_settings_t **self_p);

//  Read the file at path (NULL: none). 0 if it was read, or does not
//  exist; -1 with a sentence in client_settings_error if it is refused.
//  zconfig says what is wrong with a file that is not ZPL on stdout:
//  stdout is caught while it reads, so call this before anything else is
//  printed, and while no other thread writes there.
int
    client_settings_load (client_settings_t *self, const char *path);

//  A setting ("server", "user", "editor", "pager"), or NULL if the file
//  does not set it.
const char *
    client_settings_get (client_settings_t *self, const char *name);

//  The address named NAME under "servers", or NULL.
const char *
    client_settings_alias (client_settings_t *self, const char *name);

//  The names under "servers", in file order, and their number.
size_t
    client_settings_aliases (client_settings_t *self);
const char *
    client_settings_alias_name (client_settings_t *self, size_t index);

//  The file read, or NULL.
const char *
    client_settings_path (client_settings_t *self);

//  The last failure, as a sentence without the program name; "" if none.
const char *
    client_settings_error (client_settings_t *self);

//  Selftest
void
    client_settings_test (bool verbose);

#endif
