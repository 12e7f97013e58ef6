/*  =========================================================================
    zpost_link - the codec of the broker-to-store link

    The link is trusted more than the public front (it is CURVE with a
    known key, or a private ipc socket), but a store restarting half-way,
    or a stray peer, must still never crash the broker: every frame is
    checked the same way the client codec checks its own, and anything
    that does not fit is -2.

    Content frames may hold passwords (REQUEST) or a session token (a
    LOGIN's REPLY), so every copy this class frees is wiped first. A frame
    handed to libzmq is freed by libzmq, after it has been written, without
    our say: so the small frames (a password is at most 1 KiB) go as copies
    whose free function wipes them. Bodies, the large frames, are no secret
    and are moved without a copy.
    =========================================================================
*/

#include "zpost_link.h"
#include "zpost_msg.h"
#include "zpost_keys.h"
#include <assert.h>
#include <inttypes.h>
#include <string.h>
#include <sodium.h>

//  Content frames up to this size are sent as wiped copies
#define S_WIPED_FRAME_MAX   4096

struct _zpost_link_t {
    zframe_t *routing_id;                   //  peer on a ROUTER, or NULL
    zpost_link_id_t id;                     //  which command
    char store_name [ZPOST_LINK_NAME_MAX + 1];  //  READY
    uint32_t capacity;                      //  READY
    uint64_t body_limit;                    //  READY, optional
    uint64_t ticket;                        //  REQUEST, REPLY
    char client_key [ZPOST_KEY_TEXT_SIZE + 1];  //  REQUEST
    zmsg_t *content;                        //  REQUEST, REPLY: client frames
};

static const char *s_names [] = {
    [ZPOST_LINK_NONE] = "",
    [ZPOST_LINK_READY] = "READY",
    [ZPOST_LINK_HEARTBEAT] = "HEARTBEAT",
    [ZPOST_LINK_REQUEST] = "REQUEST",
    [ZPOST_LINK_REPLY] = "REPLY",
    [ZPOST_LINK_DISCONNECT] = "DISCONNECT",
};
#define S_LINK_COUNT (sizeof (s_names) / sizeof (s_names [0]))

zpost_link_t *
zpost_link_new (zpost_link_id_t id)
{
    zpost_link_t *self = (zpost_link_t *) zmalloc (sizeof (zpost_link_t));
    assert (self);
    self->id = id;
    self->body_limit = ZPOST_LINK_BODY_LIMIT_NONE;
    return self;
}

void
zpost_link_destroy (zpost_link_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        zpost_link_t *self = *self_p;
        zframe_destroy (&self->routing_id);
        zpost_link_content_destroy (&self->content);
        free (self);
        *self_p = NULL;
    }
}

static bool
s_visible_ascii (const byte *data, size_t size)
{
    for (size_t index = 0; index < size; index++)
        if (data [index] < 0x21 || data [index] > 0x7E)
            return false;
    return true;
}

//  Parse a decimal number (no sign, no leading zeros) up to 2^64 - 1.
static bool
s_parse_uint64 (zframe_t *frame, uint64_t *value_p)
{
    size_t size = zframe_size (frame);
    const byte *data = zframe_data (frame);
    if (size == 0 || size > 20 || (size > 1 && data [0] == '0'))
        return false;
    uint64_t value = 0;
    for (size_t index = 0; index < size; index++) {
        if (data [index] < '0' || data [index] > '9')
            return false;
        uint64_t digit = (uint64_t) (data [index] - '0');
        if (value > (UINT64_MAX - digit) / 10)
            return false;
        value = value * 10 + digit;
    }
    *value_p = value;
    return true;
}

static bool
s_parse_uint32 (zframe_t *frame, uint32_t *value_p)
{
    uint64_t value;
    if (!s_parse_uint64 (frame, &value) || value > UINT32_MAX)
        return false;
    *value_p = (uint32_t) value;
    return true;
}

static bool
s_frame_is (zframe_t *frame, const char *text)
{
    size_t size = strlen (text);
    return frame && zframe_size (frame) == size
        && memcmp (zframe_data (frame), text, size) == 0;
}

//  Decode the frames after the routing id. REQUEST and REPLY keep the rest
//  of the message as their content, taking it from *msg_p.
static int
s_decode (zpost_link_t *self, zmsg_t **msg_p)
{
    zmsg_t *msg = *msg_p;
    zframe_t *frame = zmsg_pop (msg);
    bool signed_ok = s_frame_is (frame, ZPOST_LINK_SIGNATURE);
    zframe_destroy (&frame);
    if (!signed_ok)
        return -2;

    frame = zmsg_pop (msg);
    self->id = ZPOST_LINK_NONE;
    for (size_t id = ZPOST_LINK_NONE + 1; id < S_LINK_COUNT; id++)
        if (s_frame_is (frame, s_names [id]))
            self->id = (zpost_link_id_t) id;
    zframe_destroy (&frame);

    switch (self->id) {
        case ZPOST_LINK_READY: {
            //  store-name capacity [body-limit]
            if (zmsg_size (msg) != 2 && zmsg_size (msg) != 3)
                return -2;
            frame = zmsg_first (msg);
            size_t size = zframe_size (frame);
            if (size == 0 || size > ZPOST_LINK_NAME_MAX
            ||  !s_visible_ascii (zframe_data (frame), size))
                return -2;
            memcpy (self->store_name, zframe_data (frame), size);
            self->store_name [size] = 0;
            if (!s_parse_uint32 (zmsg_next (msg), &self->capacity)
            ||  self->capacity == 0 || self->capacity > ZPOST_LINK_CAPACITY_MAX)
                return -2;
            frame = zmsg_next (msg);
            if (frame && !s_parse_uint64 (frame, &self->body_limit))
                return -2;
            return 0;
        }
        case ZPOST_LINK_HEARTBEAT:
        case ZPOST_LINK_DISCONNECT:
            return zmsg_size (msg) == 0? 0: -2;
        case ZPOST_LINK_REQUEST:
        case ZPOST_LINK_REPLY: {
            frame = zmsg_pop (msg);
            bool ticket_ok = frame && zframe_size (frame) == 8;
            if (ticket_ok) {
                const byte *data = zframe_data (frame);
                self->ticket = 0;
                for (int index = 0; index < 8; index++)
                    self->ticket = (self->ticket << 8) | data [index];
            }
            zframe_destroy (&frame);
            if (!ticket_ok)
                return -2;
            if (self->id == ZPOST_LINK_REQUEST) {
                frame = zmsg_pop (msg);
                bool key_ok = frame && zframe_size (frame) == ZPOST_KEY_TEXT_SIZE;
                if (key_ok) {
                    memcpy (self->client_key, zframe_data (frame), ZPOST_KEY_TEXT_SIZE);
                    self->client_key [ZPOST_KEY_TEXT_SIZE] = 0;
                    key_ok = zpost_keys_valid_z85 (self->client_key);
                }
                zframe_destroy (&frame);
                if (!key_ok)
                    return -2;
            }
            //  What is left is the client's message, judged by zpost_msg
            if (zmsg_size (msg) == 0)
                return -2;
            zpost_link_content_destroy (&self->content);
            self->content = msg;
            *msg_p = NULL;
            return 0;
        }
        default:
            return -2;
    }
}

int
zpost_link_recv (zpost_link_t *self, zsock_t *input)
{
    assert (self);
    assert (input);
    zmsg_t *msg = zmsg_recv (input);
    if (!msg)
        return -1;
    zframe_destroy (&self->routing_id);
    zpost_link_content_destroy (&self->content);
    self->store_name [0] = 0;
    self->client_key [0] = 0;
    self->capacity = 0;
    self->body_limit = ZPOST_LINK_BODY_LIMIT_NONE;
    self->ticket = 0;
    if (zsock_type (input) == ZMQ_ROUTER) {
        self->routing_id = zmsg_pop (msg);
        if (!self->routing_id) {
            zpost_link_content_destroy (&msg);
            return -2;
        }
    }
    int rc = s_decode (self, &msg);
    //  A malformed REQUEST leaves its client frames here
    zpost_link_content_destroy (&msg);
    if (rc)
        self->id = ZPOST_LINK_NONE;
    return rc;
}

//  libzmq's free function for a wiped copy; hint is the size
static void
s_wiped_free (void *data, void *hint)
{
    sodium_memzero (data, (size_t) (uintptr_t) hint);
    free (data);
}

//  Send one content frame and destroy it, wiped. A small frame goes as a
//  copy that libzmq frees through s_wiped_free; a large one is moved.
//  0, or -1 (the frame is destroyed either way).
static int
s_send_content_frame (zframe_t **frame_p, zsock_t *output, int more)
{
    zframe_t *frame = *frame_p;
    size_t size = zframe_size (frame);
    if (size > S_WIPED_FRAME_MAX) {
        if (zframe_send (frame_p, output, more? ZFRAME_MORE: 0) == 0)
            return 0;
        sodium_memzero (zframe_data (frame), size);
        zframe_destroy (frame_p);
        return -1;
    }
    //  malloc (0) may be NULL; one byte more keeps it a real buffer
    byte *copy = (byte *) malloc (size + 1);
    assert (copy);
    memcpy (copy, zframe_data (frame), size);
    sodium_memzero (zframe_data (frame), size);
    zframe_destroy (frame_p);
    zmq_msg_t msg;
    int rc = zmq_msg_init_data (&msg, copy, size, s_wiped_free,
                                (void *) (uintptr_t) size);
    assert (rc == 0);
    rc = zmq_msg_send (&msg, zsock_resolve (output), more? ZMQ_SNDMORE: 0);
    if (rc == -1) {
        int saved = zmq_errno ();
        zmq_msg_close (&msg);       //  wipes and frees the copy
        errno = saved;
        return -1;
    }
    return 0;
}

int
zpost_link_send (zpost_link_t *self, zsock_t *output)
{
    assert (self);
    assert (output);
    assert (self->id > ZPOST_LINK_NONE && self->id < S_LINK_COUNT);
    zmsg_t *content = self->content;
    self->content = NULL;
    zmsg_t *msg = zmsg_new ();
    assert (msg);
    if (zsock_type (output) == ZMQ_ROUTER) {
        if (!self->routing_id) {
            zmsg_destroy (&msg);
            zpost_link_content_destroy (&content);
            return -1;
        }
        zframe_t *routing_id = zframe_dup (self->routing_id);
        zmsg_append (msg, &routing_id);
    }
    zmsg_addstr (msg, ZPOST_LINK_SIGNATURE);
    zmsg_addstr (msg, s_names [self->id]);
    if (self->id == ZPOST_LINK_READY) {
        zmsg_addstr (msg, self->store_name);
        zmsg_addstrf (msg, "%u", (unsigned) self->capacity);
        if (self->body_limit != ZPOST_LINK_BODY_LIMIT_NONE)
            zmsg_addstrf (msg, "%" PRIu64, self->body_limit);
    }
    else
    if (self->id == ZPOST_LINK_REQUEST || self->id == ZPOST_LINK_REPLY) {
        byte ticket [8];
        for (int index = 0; index < 8; index++)
            ticket [index] = (byte) (self->ticket >> (56 - 8 * index));
        zmsg_addmem (msg, ticket, 8);
        if (self->id == ZPOST_LINK_REQUEST)
            zmsg_addstr (msg, self->client_key);
    }
    //  Only REQUEST and REPLY carry content
    if (self->id != ZPOST_LINK_REQUEST && self->id != ZPOST_LINK_REPLY)
        zpost_link_content_destroy (&content);

    //  The head, then the content frame by frame. The first send is the
    //  one that fails (EHOSTUNREACH, EAGAIN); a multipart message is then
    //  all or nothing.
    int rc = 0;
    size_t content_size = content? zmsg_size (content): 0;
    zframe_t *frame;
    while (rc == 0 && (frame = zmsg_pop (msg))) {
        bool more = zmsg_size (msg) > 0 || content_size > 0;
        if (zframe_send (&frame, output, more? ZFRAME_MORE: 0) != 0) {
            zframe_destroy (&frame);
            rc = -1;
        }
    }
    int saved = zmq_errno ();
    zmsg_destroy (&msg);
    while (rc == 0 && content && (frame = zmsg_pop (content)))
        rc = s_send_content_frame (&frame, output, zmsg_size (content) > 0);
    if (rc)
        saved = zmq_errno ();
    zpost_link_content_destroy (&content);
    errno = saved;
    return rc;
}

zpost_link_id_t
zpost_link_id (zpost_link_t *self)
{
    assert (self);
    return self->id;
}

void
zpost_link_set_id (zpost_link_t *self, zpost_link_id_t id)
{
    assert (self);
    self->id = id;
}

const char *
zpost_link_command_name (zpost_link_id_t id)
{
    return id < S_LINK_COUNT? s_names [id]: "";
}

zframe_t *
zpost_link_routing_id (zpost_link_t *self)
{
    assert (self);
    return self->routing_id;
}

void
zpost_link_set_routing_id (zpost_link_t *self, zframe_t *routing_id)
{
    assert (self);
    zframe_destroy (&self->routing_id);
    if (routing_id)
        self->routing_id = zframe_dup (routing_id);
}

const char *
zpost_link_store_name (zpost_link_t *self)
{
    assert (self);
    return self->store_name;
}

void
zpost_link_set_store_name (zpost_link_t *self, const char *name)
{
    assert (self);
    assert (name);
    size_t size = strlen (name);
    assert (size > 0 && size <= ZPOST_LINK_NAME_MAX);
    assert (s_visible_ascii ((const byte *) name, size));
    strcpy (self->store_name, name);
}

uint32_t
zpost_link_capacity (zpost_link_t *self)
{
    assert (self);
    return self->capacity;
}

void
zpost_link_set_capacity (zpost_link_t *self, uint32_t capacity)
{
    assert (self);
    assert (capacity > 0 && capacity <= ZPOST_LINK_CAPACITY_MAX);
    self->capacity = capacity;
}

uint64_t
zpost_link_ticket (zpost_link_t *self)
{
    assert (self);
    return self->ticket;
}

void
zpost_link_set_ticket (zpost_link_t *self, uint64_t ticket)
{
    assert (self);
    self->ticket = ticket;
}

const char *
zpost_link_client_key (zpost_link_t *self)
{
    assert (self);
    return self->client_key;
}

void
zpost_link_set_client_key (zpost_link_t *self, const char *client_key)
{
    assert (self);
    assert (client_key && zpost_keys_valid_z85 (client_key));
    strcpy (self->client_key, client_key);
}

zmsg_t *
zpost_link_content (zpost_link_t *self)
{
    assert (self);
    return self->content;
}

zmsg_t *
zpost_link_take_content (zpost_link_t *self)
{
    assert (self);
    zmsg_t *content = self->content;
    self->content = NULL;
    return content;
}

void
zpost_link_set_content (zpost_link_t *self, zmsg_t **content_p)
{
    assert (self);
    assert (content_p);
    zpost_link_content_destroy (&self->content);
    self->content = *content_p;
    *content_p = NULL;
}

uint64_t
zpost_link_body_limit (zpost_link_t *self)
{
    assert (self);
    return self->body_limit;
}

void
zpost_link_set_body_limit (zpost_link_t *self, uint64_t body_limit)
{
    assert (self);
    self->body_limit = body_limit;
}

void
zpost_link_content_wipe (zmsg_t *content)
{
    if (!content)
        return;
    for (zframe_t *frame = zmsg_first (content); frame; frame = zmsg_next (content))
        if (zframe_size (frame))
            sodium_memzero (zframe_data (frame), zframe_size (frame));
}

void
zpost_link_content_destroy (zmsg_t **content_p)
{
    assert (content_p);
    zpost_link_content_wipe (*content_p);
    zmsg_destroy (content_p);
}

//  ---------------------------------------------------------------------------
//  Selftest

static int
s_recv_raw (zsock_t *router, zsock_t *dealer, zpost_link_t *link, const char *first, ...)
{
    zmsg_t *msg = zmsg_new ();
    va_list args;
    va_start (args, first);
    for (const char *text = first; text; text = va_arg (args, const char *))
        zmsg_addstr (msg, text);
    va_end (args);
    zmsg_send (&msg, dealer);
    return zpost_link_recv (link, router);
}

void
zpost_link_test (bool verbose)
{
    if (verbose)
        printf (" * zpost_link: ");

    zsock_t *router = zsock_new_router ("inproc://zpost_link_test");
    zsock_t *dealer = zsock_new_dealer (">inproc://zpost_link_test");
    assert (router && dealer);
    const char *key = "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7";
    assert (zpost_keys_valid_z85 (key));

    //  READY store -> broker
    zpost_link_t *link = zpost_link_new (ZPOST_LINK_READY);
    zpost_link_set_store_name (link, "host:1234");
    zpost_link_set_capacity (link, 1000);
    assert (zpost_link_send (link, dealer) == 0);
    zpost_link_t *got = zpost_link_new (ZPOST_LINK_NONE);
    assert (zpost_link_recv (got, router) == 0);
    assert (zpost_link_id (got) == ZPOST_LINK_READY);
    assert (streq (zpost_link_store_name (got), "host:1234"));
    assert (zpost_link_capacity (got) == 1000);
    assert (zpost_link_routing_id (got));
    zframe_t *store_id = zframe_dup (zpost_link_routing_id (got));
    //  No body-limit set: none on the wire, none read
    assert (zpost_link_body_limit (got) == ZPOST_LINK_BODY_LIMIT_NONE);
    zpost_link_set_body_limit (link, 1048576);
    assert (zpost_link_send (link, dealer) == 0);
    assert (zpost_link_recv (got, router) == 0);
    assert (zpost_link_body_limit (got) == 1048576);
    zpost_link_set_body_limit (link, 0);
    assert (zpost_link_send (link, dealer) == 0);
    assert (zpost_link_recv (got, router) == 0);
    assert (zpost_link_body_limit (got) == 0);
    //  Each recv starts afresh: a READY without it reads NONE again
    assert (s_recv_raw (router, dealer, got, "ZPOSTL1", "READY", "n", "3", NULL) == 0);
    assert (zpost_link_body_limit (got) == ZPOST_LINK_BODY_LIMIT_NONE);
    assert (s_recv_raw (router, dealer, got, "ZPOSTL1", "READY", "n", "3",
                        "18446744073709551614", NULL) == 0);
    assert (zpost_link_body_limit (got) == UINT64_MAX - 1);
    zpost_link_set_body_limit (link, ZPOST_LINK_BODY_LIMIT_NONE);

    //  REQUEST broker -> store, carrying a client message
    zpost_link_set_id (link, ZPOST_LINK_REQUEST);
    zpost_link_set_routing_id (link, store_id);
    zpost_link_set_ticket (link, 0x0102030405060708ULL);
    zpost_link_set_client_key (link, key);
    zpost_msg_t *ping = zpost_msg_new_request (ZPOST_CMD_PING, "r1", NULL);
    zpost_msg_set (ping, ZPOST_F_TARGET, "store");
    zmsg_t *content = zpost_msg_encode (ping);
    zpost_link_set_content (link, &content);
    assert (content == NULL);
    assert (zpost_link_send (link, router) == 0);
    assert (zpost_link_content (link) == NULL);
    assert (zpost_link_recv (got, dealer) == 0);
    assert (zpost_link_id (got) == ZPOST_LINK_REQUEST);
    assert (zpost_link_ticket (got) == 0x0102030405060708ULL);
    assert (streq (zpost_link_client_key (got), key));
    content = zpost_link_take_content (got);
    zpost_msg_t *decoded = zpost_msg_new ();
    assert (zpost_msg_decode_request (decoded, &content) == 0);
    assert (zpost_msg_command (decoded) == ZPOST_CMD_PING);

    //  Content frames of every size arrive intact: empty, small (sent as
    //  a wiped copy), at the copy limit, and large (moved)
    zpost_link_set_id (link, ZPOST_LINK_REQUEST);
    size_t sizes [] = { 0, 1, 33, S_WIPED_FRAME_MAX, S_WIPED_FRAME_MAX + 1, 1000000 };
    size_t size_count = sizeof (sizes) / sizeof (sizes [0]);
    content = zmsg_new ();
    for (size_t index = 0; index < size_count; index++) {
        byte *data = (byte *) malloc (sizes [index] + 1);
        assert (data);
        for (size_t at = 0; at < sizes [index]; at++)
            data [at] = (byte) (at * 7 + index);
        zmsg_addmem (content, data, sizes [index]);
        free (data);
    }
    zpost_link_set_content (link, &content);
    assert (zpost_link_send (link, router) == 0);
    assert (zpost_link_recv (got, dealer) == 0);
    assert (zpost_link_id (got) == ZPOST_LINK_REQUEST);
    assert (zmsg_size (zpost_link_content (got)) == size_count);
    zframe_t *frame = zmsg_first (zpost_link_content (got));
    for (size_t index = 0; index < size_count; index++) {
        assert (zframe_size (frame) == sizes [index]);
        for (size_t at = 0; at < sizes [index]; at++)
            assert (zframe_data (frame) [at] == (byte) (at * 7 + index));
        frame = zmsg_next (zpost_link_content (got));
    }

    //  Wiping: every byte of every frame zero, the frames and sizes kept
    content = zmsg_new ();
    zmsg_addstr (content, "ZPOST1");
    zmsg_addstr (content, "correct horse battery staple");
    zmsg_addmem (content, NULL, 0);
    zpost_link_content_wipe (content);
    assert (zmsg_size (content) == 3);
    frame = zmsg_first (content);
    assert (zframe_size (frame) == 6);
    frame = zmsg_next (content);
    assert (zframe_size (frame) == 28);
    for (frame = zmsg_first (content); frame; frame = zmsg_next (content))
        for (size_t at = 0; at < zframe_size (frame); at++)
            assert (zframe_data (frame) [at] == 0);
    zpost_link_content_wipe (NULL);
    zpost_link_content_destroy (&content);
    assert (content == NULL);
    zpost_link_content_destroy (&content);

    //  REPLY store -> broker
    zpost_msg_t *reply = zpost_msg_new_reply (decoded, ZPOST_OK, NULL);
    zpost_msg_set (reply, ZPOST_F_SERVER_VERSION, "zpost test");
    zpost_msg_set (reply, ZPOST_F_ANSWERED_BY, "store");
    content = zpost_msg_encode (reply);
    zpost_link_t *answer = zpost_link_new (ZPOST_LINK_REPLY);
    zpost_link_set_ticket (answer, UINT64_MAX);
    zpost_link_set_content (answer, &content);
    assert (zpost_link_send (answer, dealer) == 0);
    assert (zpost_link_recv (got, router) == 0);
    assert (zpost_link_id (got) == ZPOST_LINK_REPLY);
    assert (zpost_link_ticket (got) == UINT64_MAX);
    assert (zmsg_size (zpost_link_content (got)) == 7);
    zpost_link_destroy (&answer);
    zpost_msg_destroy (&reply);
    zpost_msg_destroy (&decoded);
    zpost_msg_destroy (&ping);

    //  HEARTBEAT and DISCONNECT both ways
    zpost_link_set_id (link, ZPOST_LINK_HEARTBEAT);
    assert (zpost_link_send (link, router) == 0);
    assert (zpost_link_recv (got, dealer) == 0);
    assert (zpost_link_id (got) == ZPOST_LINK_HEARTBEAT);
    zpost_link_set_id (link, ZPOST_LINK_DISCONNECT);
    assert (zpost_link_send (link, dealer) == 0);
    assert (zpost_link_recv (got, router) == 0);
    assert (zpost_link_id (got) == ZPOST_LINK_DISCONNECT);

    //  Malformed: each is -2 and leaves the codec usable
    assert (s_recv_raw (router, dealer, got, "ZPOSTL2", "HEARTBEAT", NULL) == -2);
    assert (zpost_link_id (got) == ZPOST_LINK_NONE);
    assert (s_recv_raw (router, dealer, got, "ZPOSTL1", "NOISE", NULL) == -2);
    assert (s_recv_raw (router, dealer, got, "ZPOSTL1", NULL) == -2);
    assert (s_recv_raw (router, dealer, got, "ZPOSTL1", "HEARTBEAT", "x", NULL) == -2);
    assert (s_recv_raw (router, dealer, got, "ZPOSTL1", "READY", "name", NULL) == -2);
    assert (s_recv_raw (router, dealer, got, "ZPOSTL1", "READY", "na me", "5", NULL) == -2);
    assert (s_recv_raw (router, dealer, got, "ZPOSTL1", "READY", "name", "0", NULL) == -2);
    assert (s_recv_raw (router, dealer, got, "ZPOSTL1", "READY", "name", "99999999999", NULL) == -2);
    assert (s_recv_raw (router, dealer, got, "ZPOSTL1", "REPLY", "1234567", "x", NULL) == -2);
    assert (s_recv_raw (router, dealer, got, "ZPOSTL1", "REPLY", "12345678", NULL) == -2);
    assert (s_recv_raw (router, dealer, got, "ZPOSTL1", "REQUEST", "12345678",
                        "short-key", "x", NULL) == -2);
    assert (s_recv_raw (router, dealer, got, "ZPOSTL1", "READY", "name", "7", "", NULL) == -2);
    assert (s_recv_raw (router, dealer, got, "ZPOSTL1", "READY", "name", "7", "01", NULL) == -2);
    assert (s_recv_raw (router, dealer, got, "ZPOSTL1", "READY", "name", "7", "-1", NULL) == -2);
    assert (s_recv_raw (router, dealer, got, "ZPOSTL1", "READY", "name", "7", "1 MiB", NULL) == -2);
    assert (s_recv_raw (router, dealer, got, "ZPOSTL1", "READY", "name", "7",
                        "18446744073709551616", NULL) == -2);
    assert (s_recv_raw (router, dealer, got, "ZPOSTL1", "READY", "name", "7",
                        "100000000000000000000", NULL) == -2);
    assert (s_recv_raw (router, dealer, got, "ZPOSTL1", "READY", "name", "7", "5", "5", NULL) == -2);
    assert (s_recv_raw (router, dealer, got, "ZPOSTL1", "READY", "name", "7", NULL) == 0);

    zframe_destroy (&store_id);
    zpost_link_destroy (&got);
    zpost_link_destroy (&link);
    zsock_destroy (&dealer);
    zsock_destroy (&router);
    if (verbose)
        printf ("OK\n");
}
