/*  =========================================================================
    broker_announce - tells whoever asks the broker's public key

    An actor that owns one plain TCP (ZMQ_STREAM, raw bytes, no ZMTP, no
    CURVE) socket and answers the fixed 8-byte question "ZPOSTK2\n" with
    the key announcement "ZPOSTK2 <Z85 public key>\n" (zpost_announce; the
    spec's section "Key announcement"), so that a client meeting the
    broker for the first time can show the key's fingerprint and pin it.
    What a peer can cost is fixed: at most 64 connections at once, 5 s
    each, and a count of request bytes each; the first stray byte closes
    the connection, and nothing is buffered beyond libzmq's short queue.

    Start it with zactor_new (broker_announce, &config); then
    broker_announce_start () binds; zactor_destroy stops it. The
    configuration is copied before zactor_new returns.

    Commands on the actor's pipe:

        START           binds; replies "is": 0 and the endpoint as bound
                        (ephemeral port resolved), or -1 and ""
        $TERM           ends the actor
    =========================================================================
*/

#ifndef BROKER_ANNOUNCE_H_INCLUDED
#define BROKER_ANNOUNCE_H_INCLUDED

#include <czmq.h>
#include <stdbool.h>

typedef struct {
    const char *endpoint;       //  where to bind, a tcp:// endpoint
    const char *public_key;     //  the broker's public key, 40 Z85 characters
    bool verbose;               //  log every answer
} broker_announce_config_t;

//  The actor; args is a broker_announce_config_t *
void
    broker_announce (zsock_t *pipe, void *args);

//  Bind. Returns 0 and gives the caller the endpoint as bound in
//  *endpoint_p, to free; or returns -1 after logging why.
int
    broker_announce_start (zactor_t *announce, char **endpoint_p);

//  The default announce endpoint for a front endpoint: the same host and
//  the port after the front's ("tcp://*:5321" gives "tcp://*:5322"); an
//  ephemeral front ("*" or "0" for the port) gives an ephemeral endpoint
//  on the same host. NULL if the front is not tcp:// or has no usable
//  port (65535). Caller frees.
char *
    broker_announce_default (const char *front);

//  Selftest
void
    broker_announce_test (bool verbose);

#endif
