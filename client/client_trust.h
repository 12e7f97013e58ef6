/*  =========================================================================
    client_trust - whether this server is the one we mean: its key

    The server's key, when not given (--server-key, $ZPOST_SERVER_KEY),
    comes from the known-servers file or is met for the first time: ask the
    announce endpoint, show the fingerprint, ask the person, prove it with
    a PING broker, and only then add it to the file (client_trust_pin). A
    --server list is one deployment whose brokers share one key: the known
    ones must agree, every broker of the list that announces must announce
    that same key, and the new ones are added together.

    A key, known or given, is checked against the announcement only when
    the server does not answer (client_trust_check_known, the session's
    check), after one try rather than after every try: a
    CURVE client with the wrong server key gets silence, never a reply, so
    silence is the moment to ask, and asking costs nothing the rest of the
    time. Another key announced moves the request on to the next broker of
    a list; it is said (exit 4, KEY_CHANGED) only when no broker answers.

    Only client_api uses this module, while it opens the session.
    =========================================================================
*/

#ifndef CLIENT_TRUST_H_INCLUDED
#define CLIENT_TRUST_H_INCLUDED

#include "client_api.h"

//  Find the server's key and set it in app->config: given, known, or met
//  now. Returns 0, or the exit status after saying why not. *pin_p is set
//  when the key is new, or some servers of the list are not in the
//  known-servers file yet: client_trust_pin adds them once the session is
//  open.
int
    client_trust_server_key (client_app_t *app, bool *pin_p);

//  The session's check (client_session_check_fn, arg the app): a broker
//  does not answer; does it announce another key than the one we use
//  (known, given with --server-key or $ZPOST_SERVER_KEY, or met now)?
int
    client_trust_check_known (void *arg, const char *endpoint, char *error,
                              size_t error_size);

//  Prove the key with a PING to the broker, then add every server of the
//  list that is not in the known-servers file, with that key, in one
//  write. 0, or the exit status after saying why not.
int
    client_trust_pin (client_app_t *app);

#endif
