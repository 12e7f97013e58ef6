/*  =========================================================================
    client_session - one client's conversation with a zpost server

    A REQ socket, CURVE client, that sends one request at a time and waits
    for its reply the Lazy Pirate way (ZeroMQ guide, chapter 4): send, wait
    up to the timeout; if no reply came, throw the socket away (a REQ socket
    that lost its reply is stuck), open a new one, and send the same request
    again, with the same request id, so the store can tell a retry from a
    new request. After the last try, give up and let the caller say so.

    A try ends before its timeout when the socket monitor tells that no
    reply can come: the connection dropped, the handshake failed, or the
    connection has been refused for CLIENT_SESSION_REFUSED_WAIT ms. The
    next try then goes at once.

    A 503 reply (store unavailable, which the spec makes retryable) is
    tried again the same way, after a short pause, within the same number
    of tries; the last 503 is returned as the reply.

    A session may know several brokers of one deployment (all holding one
    key pair). Each try that gets no reply, and each 503, sends the next
    try to the next broker of the list, round-robin, with the same request
    id; the tries in all are retries x brokers; a request starts at the
    broker that answered the last one, the first of the list at first;
    the 503 pause comes only once every broker in a row has said 503.

    The session checks that a reply is well formed (zpost_msg) and that it
    answers this request (same command, same request id; an error reply
    may leave both empty, as the spec allows for a request the server
    could not read). It never prints;
    failures are told through client_session_failure () and
    client_session_error (). Usable from the CLI, the interactive shell and
    tests alike.
    =========================================================================
*/

#ifndef CLIENT_SESSION_H_INCLUDED
#define CLIENT_SESSION_H_INCLUDED

#include <czmq.h>
#include "zpost_msg.h"

#define CLIENT_SESSION_TIMEOUT      3000    //  default ms to wait for one try
#define CLIENT_SESSION_RETRIES      3       //  default tries per request
#define CLIENT_SESSION_ID_SIZE      32      //  hex characters of a request id
#define CLIENT_SESSION_REFUSED_WAIT 1000    //  ms of refused connects that end a try
#define CLIENT_SESSION_BROKERS_MAX  16      //  brokers one session may know

//  Why the last request got no reply.
typedef enum {
    CLIENT_SESSION_OK = 0,          //  a reply came (whatever its status)
    CLIENT_SESSION_NO_ANSWER,       //  every try timed out
    CLIENT_SESSION_MALFORMED,       //  the server's reply broke the protocol
    CLIENT_SESSION_INTERRUPTED,     //  a signal (Ctrl-C) stopped the wait
    CLIENT_SESSION_SOCKET,          //  a local socket could not be made or used
    CLIENT_SESSION_REFUSED          //  the check (set_check) refused the server
} client_session_failure_t;

//  How the last try without a reply ended.
typedef enum {
    CLIENT_SESSION_ANSWERED = 0,    //  no try has missed yet
    CLIENT_SESSION_TIMED_OUT,       //  no reply within the timeout
    CLIENT_SESSION_REFUSED_CONNECT, //  nobody accepted the connection
    CLIENT_SESSION_LOST,            //  the connection dropped while we waited
    CLIENT_SESSION_HANDSHAKE,       //  the connection closed in the handshake
    CLIENT_SESSION_UNAVAILABLE      //  a 503 (told to notify only: a 503
                                    //  is a reply, never the last miss)
} client_session_miss_t;

//  Told before each retry: how the try before it ended, the broker it
//  went to (missed) and the one the next goes to (next; the same with one
//  broker), the number of the try about to go (2 or more) and the number
//  of tries in all. With one broker a 503 is retried without a notice.
typedef void (client_session_notify_fn) (void *arg, client_session_miss_t miss,
                                         const char *missed, const char *next,
                                         int next_try, int tries);

//  A check the session runs when a try to a broker gets no answer, while
//  no reply has ever come from that broker on this session (a reply proves
//  the broker holds the key we expect); endpoint names the broker. Returns
//  0 to go on trying; or -1, after writing a sentence to error (error_size
//  bytes), when the broker holds another key: it gets no more tries, the
//  request moves on to the next broker of the list, and fails with
//  CLIENT_SESSION_REFUSED and the first such sentence only when every
//  broker of the list was refused (at once) or no broker answered (after
//  the tries). A dead broker whose port + 1 is another program's announcer
//  must not stop a list that has a working broker. It runs at most once
//  per broker per session.
typedef int (client_session_check_fn) (void *arg, const char *endpoint,
                                       char *error, size_t error_size);

typedef struct _client_session_t client_session_t;

//  Create a session with a server. endpoint is a libzmq endpoint as
//  client_config makes it; server_key is the server's public key, 40 Z85
//  characters; client_cert is the client's key pair, which the session
//  copies. No socket is opened until the first request.
client_session_t *
    client_session_new (const char *endpoint, const char *server_key,
                        zcert_t *client_cert);

//  Destroy the session, closing its socket at once.
void
    client_session_destroy (client_session_t **self_p);

//  Another broker of the same deployment (same key), tried after the ones
//  before it. 0, or -1 if it is known already or the session knows
//  CLIENT_SESSION_BROKERS_MAX brokers.
int
    client_session_add_endpoint (client_session_t *self, const char *endpoint);

//  The number of brokers, and the index-th one's endpoint (NULL past the
//  last).
size_t
    client_session_brokers (client_session_t *self);
const char *
    client_session_endpoint_at (client_session_t *self, size_t index);

//  Milliseconds to wait for a reply on each try (default 3000), and the
//  number of tries per broker (default 3; a request makes up to retries x
//  brokers tries in all). Both at least 1.
void
    client_session_set_timeout (client_session_t *self, int timeout);
int
    client_session_timeout (client_session_t *self);
void
    client_session_set_retries (client_session_t *self, int retries);

//  How long, from the first 503 of a request, 503s are asked again even
//  when the tries have run out (msecs; default 3000, 0 for none)
void
    client_session_set_unavailable_wait (client_session_t *self, int msecs);
int
    client_session_retries (client_session_t *self);

//  The broker this session talks to: the one that answered the last
//  request, or the one the next try goes to.
const char *
    client_session_endpoint (client_session_t *self);

//  Log each try and each message through zsys (debug level).
void
    client_session_set_verbose (client_session_t *self, bool verbose);

//  Set the check to run when the server does not answer; NULL for none.
void
    client_session_set_check (client_session_t *self, client_session_check_fn *check,
                              void *arg);

//  Set the function told before each retry; NULL for none.
void
    client_session_set_notify (client_session_t *self,
                               client_session_notify_fn *notify, void *arg);

//  How the last try that got no reply ended (CLIENT_SESSION_ANSWERED if
//  the last request's tries all got one).
client_session_miss_t
    client_session_miss (client_session_t *self);

//  The same in words, for sentences ("the connection was refused").
const char *
    client_session_miss_text (client_session_miss_t miss);

//  True once any reply has come on this session.
bool
    client_session_answered (client_session_t *self);

//  Session token that new requests carry ("" or NULL = none). Copied.
void
    client_session_set_token (client_session_t *self, const char *token);
const char *
    client_session_token (client_session_t *self);

//  A fresh request id: 16 random bytes as 32 lowercase hex characters.
//  Written to id_text, which must hold CLIENT_SESSION_ID_SIZE + 1 bytes.
void
    client_session_new_request_id (char *id_text);

//  A new request for command, with a fresh request id and the session's
//  token. The caller sets its fields and owns it.
zpost_msg_t *
    client_session_new_request (client_session_t *self, zpost_command_t command);

//  Send request and wait for its reply, retrying as described above.
//  The request stays the caller's, and is sent unchanged on every try.
//  Returns the reply, which the caller destroys, or NULL; then
//  client_session_failure () and client_session_error () say why.
zpost_msg_t *
    client_session_request (client_session_t *self, zpost_msg_t *request);

//  The same with one try of at most 2 s, to the current broker only, which
//  the first refused connect ends, and no check or notice: for a request
//  that must not keep a person waiting, such as the LOGOUT of someone
//  leaving.
zpost_msg_t *
    client_session_request_quick (client_session_t *self, zpost_msg_t *request);

//  Why the last request failed, CLIENT_SESSION_OK if it did not.
client_session_failure_t
    client_session_failure (client_session_t *self);

//  The last failure as a sentence, without the program name; "" if none.
const char *
    client_session_error (client_session_t *self);

//  Tries the last request took (1 = answered at once).
int
    client_session_tries (client_session_t *self);

//  Round-trip time of the last request's successful try, microseconds.
int64_t
    client_session_rtt (client_session_t *self);

//  Selftest
void
    client_session_test (bool verbose);

#endif
