/*  =========================================================================
    zpost_msg - the codec of the ZPOST client protocol (protocol/ZPOST.md)

    One zpost_msg_t is one request or one reply. This class is the only
    code that turns frames into fields or fields into frames; broker, store
    and client all go through it.

    Wire shape (the spec has the ABNF):

        request = "ZPOST1" command request-id token *field
        reply   = "ZPOST1" command request-id status reason *field

    A REQ socket adds and strips the empty delimiter itself; on a ROUTER the
    codec reads and writes the routing id and the delimiter.

    Every field is UTF-8 text without NUL, and is kept as a C string. Which
    fields a command has, their order, type and limit live in one X-macro
    definition, zpost_commands.h; the spec's tables are checked against it. A request is
    decoded only if every field passes; usernames come out folded to lower
    case.

    Receiving and decoding return 0 on success, -1 if interrupted or the
    socket had nothing whole to give, and -2 if the message is malformed.
    After -2 the object still holds the routing id and whatever of command
    and request id was valid, and zpost_msg_status () / zpost_msg_reason ()
    say what to answer: zpost_msg_new_reply (self, zpost_msg_status (self),
    zpost_msg_reason (self)) is the reply the spec requires.
    =========================================================================
*/

#ifndef ZPOST_MSG_H_INCLUDED
#define ZPOST_MSG_H_INCLUDED

#include <czmq.h>
#include <stdint.h>
#include "zpost_status.h"

#define ZPOST_MSG_SIGNATURE     "ZPOST1"

//  Limits that the codec enforces for every peer; see "Limits" in the spec.
//  A store may configure tighter ones (the body limit, for instance) and
//  answers them with TOO_LARGE itself.
#define ZPOST_NAME_MAX          32          //  username bytes
#define ZPOST_PASSWORD_MAX      1024        //  password bytes
#define ZPOST_PASSWORD_MIN      8           //  checked by the store, not the codec
#define ZPOST_SUBJECT_MAX       255         //  subject bytes
#define ZPOST_BODY_MAX          (16 * 1024 * 1024)  //  protocol ceiling for a body
#define ZPOST_RECIPIENTS_MAX    100         //  names in one SEND
#define ZPOST_REQUEST_ID_MAX    64          //  request id bytes
#define ZPOST_TOKEN_SIZE        64          //  hex characters of a session token
#define ZPOST_REASON_MAX        255         //  reason bytes
#define ZPOST_DETAIL_MAX        4096        //  error detail bytes
#define ZPOST_LIST_MAX          1000        //  entries in one LIST reply
#define ZPOST_STATS_MAX         64          //  name/value pairs in one STATS reply
#define ZPOST_STAT_NAME_MAX     32          //  bytes of a STATS name
#define ZPOST_VERSION_MAX       64          //  bytes of a server version string
#define ZPOST_KEY_TEXT_SIZE     40          //  Z85 characters of a CURVE public key
#define ZPOST_WATCH_TIMEOUT_MAX 60          //  seconds a WATCH may wait
#define ZPOST_QUERY_MIN         3           //  SEARCH query bytes, at least
#define ZPOST_QUERY_MAX         128         //  SEARCH query bytes, at most

//  The commands (zpost_command_t, ZPOST_CMD_PING ...), the fields
//  (zpost_field_t, ZPOST_F_TARGET ...) and what each command does
//  (zpost_command_flags) come from the one definition in this header.
//  Which fields a message has depends on its command and on whether it is
//  a request or a successful reply; that header and the spec's table say.
#include "zpost_commands.h"

typedef struct _zpost_msg_t zpost_msg_t;

//  Create an empty message.
zpost_msg_t *
    zpost_msg_new (void);

//  Create a request. request_id must be 1..64 visible ASCII characters;
//  token is NULL or "" when the command needs no session.
zpost_msg_t *
    zpost_msg_new_request (zpost_command_t command, const char *request_id,
                           const char *token);

//  Create the reply to a request: same command, request id and routing id.
//  reason NULL means the status's standard sentence.
zpost_msg_t *
    zpost_msg_new_reply (zpost_msg_t *request, int status, const char *reason);

//  Destroy a message; sets *self_p to NULL. Passwords and tokens it holds
//  are wiped first, as is a password that zpost_msg_set replaces.
void
    zpost_msg_destroy (zpost_msg_t **self_p);

//  Receive one request from a ROUTER socket (or one reply from a REQ or
//  DEALER socket). 0 = ok, -1 = interrupted or nothing, -2 = malformed.
int
    zpost_msg_recv_request (zpost_msg_t *self, zsock_t *input);
int
    zpost_msg_recv_reply (zpost_msg_t *self, zsock_t *input);

//  Decode frames that start at the signature frame. Takes ownership of
//  *msg_p and sets it to NULL. 0 = ok, -2 = malformed. The client key and
//  routing id are left as they were: set them before or after. An error
//  reply may have an empty command (ZPOST_CMD_NONE) and request id.
int
    zpost_msg_decode_request (zpost_msg_t *self, zmsg_t **msg_p);
int
    zpost_msg_decode_reply (zpost_msg_t *self, zmsg_t **msg_p);

//  Encode to frames that start at the signature frame. Caller owns the
//  result. Returns NULL if a field the command requires was never set.
zmsg_t *
    zpost_msg_encode (zpost_msg_t *self);

//  Send the message. On a ROUTER the routing id and an empty delimiter are
//  written first. The message stays the caller's. 0 = ok, -1 = failed.
int
    zpost_msg_send (zpost_msg_t *self, zsock_t *output);

//  Send already-encoded frames (as zpost_msg_encode makes them) to a peer
//  of a ROUTER socket, with the routing id and the empty delimiter first.
//  Takes ownership of *content_p; routing_id is only borrowed (copied).
//  Used to relay a store's reply as is.
int
    zpost_msg_send_encoded (zmsg_t **content_p, zsock_t *router,
                            zframe_t *routing_id);

//  Overwrite with zeros (sodium_memzero) every frame of msg that may hold
//  a password, so that freeing it leaves no copy: in a message of a command
//  with a password step (REGISTER, LOGIN, PASSWD), or of a command frame
//  that is no command, every frame after the command frame; in frames
//  without a "ZPOST1" signature, every frame. Frames before the signature
//  (a ROUTER envelope, a link header) are left alone. Returns how many
//  frames it wiped. The codec does this to every frame list it frees
//  (decoded input, and its own encodings when it fails to send them);
//  callers that free an encoded or received message themselves should call
//  it first. Frames handed to libzmq by a successful send are libzmq's to
//  free, and are not wiped.
size_t
    zpost_msg_wipe_frames (zmsg_t *msg);

//  Routing id of the peer (ROUTER side), or NULL. The setter copies.
zframe_t *
    zpost_msg_routing_id (zpost_msg_t *self);
void
    zpost_msg_set_routing_id (zpost_msg_t *self, zframe_t *routing_id);

//  CURVE public key (Z85) that the peer authenticated with, as the ZAP
//  handler reported it in "User-Id", or "" if none. The store sets it from
//  the broker's REQUEST; it is never read from the client's own frames.
const char *
    zpost_msg_client_key (zpost_msg_t *self);
void
    zpost_msg_set_client_key (zpost_msg_t *self, const char *client_key);

zpost_command_t
    zpost_msg_command (zpost_msg_t *self);
const char *
    zpost_msg_request_id (zpost_msg_t *self);
const char *
    zpost_msg_token (zpost_msg_t *self);
bool
    zpost_msg_is_reply (zpost_msg_t *self);

//  Reply status and reason. After a -2 decode of a request, the status and
//  reason to answer with.
int
    zpost_msg_status (zpost_msg_t *self);
const char *
    zpost_msg_reason (zpost_msg_t *self);

//  Get a field by name, or NULL if the message has no such field. In a
//  LIST or STATS reply, these give the fixed fields only; use the rows.
const char *
    zpost_msg_get (zpost_msg_t *self, zpost_field_t field);

//  Get a numeric field; 0 if absent (the codec has checked the digits).
uint64_t
    zpost_msg_get_number (zpost_msg_t *self, zpost_field_t field);

//  Set a field the message's command and kind have; the value is copied.
//  Asserts if the field does not belong to this message (programmer error).
void
    zpost_msg_set (zpost_msg_t *self, zpost_field_t field, const char *value);
void
    zpost_msg_set_number (zpost_msg_t *self, zpost_field_t field, uint64_t value);

//  Rows of a LIST reply (7 fields each) or a STATS reply (name, value).
//  Append one row by giving its values in the spec's order.
size_t
    zpost_msg_rows (zpost_msg_t *self);
const char *
    zpost_msg_row_get (zpost_msg_t *self, size_t row, zpost_field_t field);
void
    zpost_msg_add_row (zpost_msg_t *self, const char **values);

//  The command's wire name ("PING"), or "" for ZPOST_CMD_NONE.
const char *
    zpost_msg_command_name (zpost_command_t command);

//  Look a wire name up; ZPOST_CMD_NONE if it is not a command.
zpost_command_t
    zpost_msg_command_from_name (const char *name);

//  The field's name as the spec writes it ("message-id").
const char *
    zpost_msg_field_name (zpost_field_t field);

//  Validators the codec uses, exposed so clients check input before sending.
//  Each returns true if the bytes are acceptable.
bool
    zpost_msg_valid_utf8 (const char *data, size_t size);
bool
    zpost_msg_valid_username (const char *name);
bool
    zpost_msg_valid_request_id (const char *request_id);

//  True for a field never to be shown, even in a debug log: a password
//  or a session token. (The client's -v log, client_output_message, is
//  the one printer of messages: it makes every byte safe for a terminal.)
bool
    zpost_msg_field_secret (zpost_field_t field);

//  Selftest
void
    zpost_msg_test (bool verbose);

#endif
