/*  =========================================================================
    broker_zap - the broker's ZAP handler (RFC 27/ZAP), as an actor

    libzmq 4.3 lets every CURVE client in when no ZAP handler answers, so
    this actor binds inproc://zeromq.zap.01 in its constructor and the
    broker confirms its policy with broker_zap_confirm () before it binds
    any socket.

    The policy switches on the ZAP domain the server socket was given:

        "front"  CURVE, any client key; or, when a clients directory is
                 configured, only keys of the certificates in it.
        "back"   CURVE, only keys of the certificates in the stores
                 directory.
        other    denied, as is every mechanism but CURVE.

    An accepted peer gets status 200 and User-Id = the Z85 text of its
    public key, which is how the broker learns who a client is. Directories
    are looked at every RELOAD_IVL (500) msec, never in a handshake, and
    read again when their content changes (a digest of the files' names
    and bytes: not times or sizes, which cp -p keeps), so a certificate can
    be added, replaced or removed without a restart. Any file in a directory that holds a public
    key (a CZMQ certificate, or a text file whose first line is the Z85 key)
    counts; files ending in "_secret" are skipped.

    Commands on the actor's pipe (the helper functions below send them):

        CONFIGURE clients-dir stores-dir    ("" = none); signals 0, or -1 if
                                            a clients directory was given
                                            and is not a directory
        VERBOSE                             log every request; signals 0
        CONFIRM                             signals 0 once the handler is
                                            bound and configured, else -1
        $TERM                               ends the actor
    =========================================================================
*/

#ifndef BROKER_ZAP_H_INCLUDED
#define BROKER_ZAP_H_INCLUDED

#include <czmq.h>

//  ZAP domains of the broker's two server sockets
#define BROKER_ZAP_FRONT        "front"
#define BROKER_ZAP_BACK         "back"

//  The actor: zactor_new (broker_zap, NULL)
void
    broker_zap (zsock_t *pipe, void *args);

//  Set the policy. clients_dir NULL or "" lets any client key in; stores_dir
//  NULL or "" lets no store in over CURVE. Returns 0, or -1 if clients_dir
//  is given and is not a directory.
int
    broker_zap_configure (zactor_t *zap, const char *clients_dir,
                          const char *stores_dir);

//  Log every request and decision.
void
    broker_zap_set_verbose (zactor_t *zap);

//  Return 0 once the handler is bound and configured, else -1.
int
    broker_zap_confirm (zactor_t *zap);

//  Selftest
void
    broker_zap_test (bool verbose);

#endif
