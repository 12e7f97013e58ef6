/*  =========================================================================
    zpost_link - the codec of the broker-to-store link (ZPOST.md, "Link")

    Store workers connect DEALER sockets to the broker's back-end ROUTER.

        store -> broker:  READY store-name capacity [body-limit]
                          HEARTBEAT
                          REPLY ticket <client reply frames>
                          DISCONNECT
        broker -> store:  REQUEST ticket client-key <client request frames>
                          HEARTBEAT
                          DISCONNECT

    Every message starts with the signature frame "ZPOSTL1" and a command
    frame. The ticket is the broker's own 8-byte number for one forwarded
    request; the client's routing id never leaves the broker, so a store
    cannot address a reply to anyone but the request's sender.

    The client frames ride as "content": a zmsg_t that zpost_msg encodes
    and decodes. This class never looks inside it.

    zpost_link_recv returns 0, -1 (interrupted or nothing) or -2 (malformed;
    the caller drops the message and may log it).

    Content may hold secrets (a REQUEST's passwords, a LOGIN reply's token).
    The codec wipes every content frame it frees with sodium_memzero, and
    the small frames it sends are handed to libzmq as copies that are wiped
    when libzmq lets them go. Code that takes content wipes it the same way
    (zpost_link_content_destroy).
    =========================================================================
*/

#ifndef ZPOST_LINK_H_INCLUDED
#define ZPOST_LINK_H_INCLUDED

#include <czmq.h>
#include <stdint.h>

#define ZPOST_LINK_SIGNATURE    "ZPOSTL1"
#define ZPOST_LINK_NAME_MAX     64      //  store-name bytes
#define ZPOST_LINK_CAPACITY_MAX 100000  //  requests a store may have in flight
//  READY without a body-limit: the store states none (the protocol's
//  16 MiB ceiling is all that applies)
#define ZPOST_LINK_BODY_LIMIT_NONE  UINT64_MAX

typedef enum {
    ZPOST_LINK_NONE = 0,
    ZPOST_LINK_READY,
    ZPOST_LINK_HEARTBEAT,
    ZPOST_LINK_REQUEST,
    ZPOST_LINK_REPLY,
    ZPOST_LINK_DISCONNECT
} zpost_link_id_t;

typedef struct _zpost_link_t zpost_link_t;

zpost_link_t *
    zpost_link_new (zpost_link_id_t id);
void
    zpost_link_destroy (zpost_link_t **self_p);

//  Receive from a ROUTER (routing id kept) or a DEALER.
int
    zpost_link_recv (zpost_link_t *self, zsock_t *input);

//  Send; on a ROUTER the routing id goes first. Content, if any, is sent
//  and given up (the link no longer holds it). 0 = ok, -1 = failed.
int
    zpost_link_send (zpost_link_t *self, zsock_t *output);

zpost_link_id_t
    zpost_link_id (zpost_link_t *self);
void
    zpost_link_set_id (zpost_link_t *self, zpost_link_id_t id);

//  The command's wire name.
const char *
    zpost_link_command_name (zpost_link_id_t id);

//  Routing id of the peer (ROUTER side). The getter lends; the setter
//  copies the frame it is given.
zframe_t *
    zpost_link_routing_id (zpost_link_t *self);
void
    zpost_link_set_routing_id (zpost_link_t *self, zframe_t *routing_id);

//  READY: a printable name for logs (1..64 visible ASCII) and the number
//  of requests the store will take at once.
const char *
    zpost_link_store_name (zpost_link_t *self);
void
    zpost_link_set_store_name (zpost_link_t *self, const char *name);
uint32_t
    zpost_link_capacity (zpost_link_t *self);
void
    zpost_link_set_capacity (zpost_link_t *self, uint32_t capacity);

//  READY: the largest SEND body, in bytes, the store accepts (its
//  configured limit). Optional on the wire: a READY without it, and a new
//  link, read ZPOST_LINK_BODY_LIMIT_NONE; setting NONE leaves the frame out.
uint64_t
    zpost_link_body_limit (zpost_link_t *self);
void
    zpost_link_set_body_limit (zpost_link_t *self, uint64_t body_limit);

//  REQUEST, REPLY
uint64_t
    zpost_link_ticket (zpost_link_t *self);
void
    zpost_link_set_ticket (zpost_link_t *self, uint64_t ticket);

//  REQUEST: the client's CURVE key, Z85, 40 characters.
const char *
    zpost_link_client_key (zpost_link_t *self);
void
    zpost_link_set_client_key (zpost_link_t *self, const char *client_key);

//  REQUEST, REPLY: the client frames. The getter lends; take gives
//  ownership to the caller; set takes ownership of *content_p.
zmsg_t *
    zpost_link_content (zpost_link_t *self);
zmsg_t *
    zpost_link_take_content (zpost_link_t *self);
void
    zpost_link_set_content (zpost_link_t *self, zmsg_t **content_p);

//  Overwrite every byte of every frame of content with zeros
//  (sodium_memzero); the frames stay, with their sizes. NULL is ignored.
void
    zpost_link_content_wipe (zmsg_t *content);

//  Wipe content, then destroy it; sets *content_p to NULL. For any frames
//  that may hold a password or a token.
void
    zpost_link_content_destroy (zmsg_t **content_p);

void
    zpost_link_test (bool verbose);

#endif
