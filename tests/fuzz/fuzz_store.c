/*  =========================================================================
    fuzz_store - libFuzzer harness for the store's request handling

    The whole store worker runs in this process, as it does in zpost-store:
    the store_server actor on a scratch LMDB environment (a fresh temporary
    directory, removed at exit), connected over inproc to a ROUTER that this
    harness binds and that plays the broker. For each input the harness
    builds client frames, wraps them in a link REQUEST with the next ticket
    and one of four client keys, sends it, and waits (bounded) for the
    store's REPLY. It checks what the spec promises for every REQUEST:

      * exactly one REPLY comes back, with the same ticket, in time;
      * its frames decode as a client reply (zpost_msg_decode_reply);
      * a request the codec finds malformed is answered with the status
        the codec gives it, echoing command and request id as the codec
        kept them; a well-formed one gets a reply to its own command and
        request id, and never 500 (an internal error on a healthy scratch
        environment is a bug).

    Input layout, as in fuzz_msg.c: the first byte picks the client key
    (low two bits), then frames, each a 2-byte big-endian length and that
    many bytes (a short last frame takes what is left). An input with no
    frame at all is skipped: the link grammar has no empty request, and the
    broker answers those itself.

    The environment keeps its state from one input to the next (users,
    sessions, messages), as a real store does; a crash found late in a run
    may need the inputs before it to reproduce. REGISTER, LOGIN and PASSWD
    cost an Argon2id hash (tens of milliseconds), so such inputs are slow.

        fuzz_store -max_total_time=3600 CORPUS_DIR tests/fuzz/corpus/store
    =========================================================================
*/

#include "fuzz_frames.h"
#include "store_server.h"
#include "zpost_link.h"
#include "zpost_msg.h"
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>

#define S_ENDPOINT      "inproc://fuzz-store"
#define S_DEADLINE      30000   //  msecs one input may take, Argon2id included
#define S_HEARTBEAT     1000    //  msecs between our heartbeats to the store

//  Four client keys (Z85 public keys); sessions are bound to the key, so
//  the fuzzer can tell users apart and try one key's token from another.
static const char *s_client_keys [4] = {
    "Yne@$w-vo<fVvi]a<NY6T1ed:M$fCG*[IaLV{hID",
    "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7",
    "AozUpr#CFWiebM^&bp#06rSTq@nDeFDX&iIrI4fA",
    "b^>l{W+9JGn9+EMF$rAuxj!2!<92s:K$0fN5ghW7"
};

typedef struct {
    char dir [256];             //  the scratch data directory
    store_db_t *db;             //  the environment the actor uses
    zsock_t *router;            //  we play the broker's back end
    zactor_t *server;           //  the store worker
    zframe_t *store_id;         //  its routing id, from its last READY
    zpoller_t *poller;          //  on router
    uint64_t ticket;            //  the last ticket we used
    int64_t heartbeat_at;       //  when we next send HEARTBEAT
} s_fixture_t;

static s_fixture_t *s_fixture = NULL;

static void
s_send_link (s_fixture_t *self, zpost_link_id_t id)
{
    zpost_link_t *link = zpost_link_new (id);
    zpost_link_set_routing_id (link, self->store_id);
    int rc = zpost_link_send (link, self->router);
    assert (rc == 0);
    zpost_link_destroy (&link);
}

//  Keep the store sure that its broker is alive, so it never throws its
//  socket away in the middle of an exchange.
static void
s_heartbeat (s_fixture_t *self)
{
    if (zclock_mono () >= self->heartbeat_at) {
        s_send_link (self, ZPOST_LINK_HEARTBEAT);
        self->heartbeat_at = zclock_mono () + S_HEARTBEAT;
    }
}

static void
s_teardown (void)
{
    s_fixture_t *self = s_fixture;
    if (!self)
        return;
    zactor_destroy (&self->server);
    zpoller_destroy (&self->poller);
    zsock_destroy (&self->router);
    zframe_destroy (&self->store_id);
    store_db_destroy (&self->db);
    zdir_t *dir = zdir_new (self->dir, NULL);
    if (dir) {
        zdir_remove (dir, true);
        zdir_destroy (&dir);
    }
    free (self);
    s_fixture = NULL;
}

static s_fixture_t *
s_setup (void)
{
    s_fixture_t *self = (s_fixture_t *) calloc (1, sizeof (s_fixture_t));
    assert (self);
    //  libFuzzer handles SIGINT and friends itself
    zsys_handler_set (NULL);
    const char *tmp = getenv ("TMPDIR");
    snprintf (self->dir, sizeof self->dir, "%s/fuzz-store-XXXXXX", tmp? tmp: "/tmp");
    char *made = mkdtemp (self->dir);
    assert (made);

    self->db = store_db_new (self->dir, 64 * 1024 * 1024);
    assert (self->db);
    self->router = zsock_new_router (S_ENDPOINT);
    assert (self->router);
    self->poller = zpoller_new (self->router, NULL);
    assert (self->poller);

    store_server_config_t config = {
        .db = self->db,
        .endpoint = S_ENDPOINT,
        .name = "fuzz-store",
        .heartbeat = S_HEARTBEAT,
        .map_max = 1024 * 1024 * 1024,
        .hashers = 1
    };
    self->server = zactor_new (store_server, &config);
    assert (self->server);
    zstr_send (self->server, "START");
    int rc = zsock_wait (self->server);
    assert (rc == 0);

    //  The first READY tells us the store's routing id
    zpost_link_t *link = zpost_link_new (ZPOST_LINK_NONE);
    while (!self->store_id) {
        void *which = zpoller_wait (self->poller, S_DEADLINE);
        assert (which == self->router);
        if (zpost_link_recv (link, self->router) == 0
        &&  zpost_link_id (link) == ZPOST_LINK_READY)
            self->store_id = zframe_dup (zpost_link_routing_id (link));
    }
    zpost_link_destroy (&link);
    self->heartbeat_at = zclock_mono ();
    s_fixture = self;
    //  After zsys's own exit handler (registered when the first socket
    //  was made), so this one runs first
    atexit (s_teardown);
    return self;
}


//  Send one REQUEST and return the REPLY's content. Aborts (a finding)
//  if no REPLY with this ticket comes before the deadline.
static zmsg_t *
s_exchange (s_fixture_t *self, const char *client_key, zmsg_t *content)
{
    uint64_t ticket = ++self->ticket;
    int64_t deadline = zclock_mono () + S_DEADLINE;
    bool sent = false;
    zpost_link_t *link = zpost_link_new (ZPOST_LINK_NONE);
    zmsg_t *reply = NULL;
    while (!reply) {
        if (!sent) {
            zpost_link_t *request = zpost_link_new (ZPOST_LINK_REQUEST);
            zpost_link_set_routing_id (request, self->store_id);
            zpost_link_set_ticket (request, ticket);
            zpost_link_set_client_key (request, client_key);
            zmsg_t *copy = zmsg_dup (content);
            zpost_link_set_content (request, &copy);
            int rc = zpost_link_send (request, self->router);
            assert (rc == 0);
            zpost_link_destroy (&request);
            sent = true;
        }
        s_heartbeat (self);
        int64_t left = deadline - zclock_mono ();
        if (left <= 0) {
            fprintf (stderr, "fuzz_store: no REPLY to ticket %" PRIu64 " within %d ms\n",
                     ticket, S_DEADLINE);
            abort ();
        }
        void *which = zpoller_wait (self->poller, left < S_HEARTBEAT? (int) left: S_HEARTBEAT);
        if (which != self->router)
            continue;
        if (zpost_link_recv (link, self->router) != 0) {
            fprintf (stderr, "fuzz_store: the store sent a malformed link message\n");
            abort ();
        }
        switch (zpost_link_id (link)) {
            case ZPOST_LINK_REPLY:
                if (zpost_link_ticket (link) != ticket) {
                    fprintf (stderr, "fuzz_store: REPLY to ticket %" PRIu64
                             " while waiting for %" PRIu64 "\n",
                             zpost_link_ticket (link), ticket);
                    abort ();
                }
                reply = zpost_link_take_content (link);
                break;
            case ZPOST_LINK_READY:
                //  It reconnected (it found us silent): its new socket has
                //  a new routing id, and the old one's request is lost
                zframe_destroy (&self->store_id);
                self->store_id = zframe_dup (zpost_link_routing_id (link));
                sent = false;
                break;
            case ZPOST_LINK_HEARTBEAT:
                break;
            default:
                fprintf (stderr, "fuzz_store: unexpected %s from the store\n",
                         zpost_link_command_name (zpost_link_id (link)));
                abort ();
        }
    }
    zpost_link_destroy (&link);
    return reply;
}

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    zmsg_t *content = fuzz_frames_from (data + 1, size - 1);
    if (zmsg_size (content) == 0) {
        zmsg_destroy (&content);
        return 0;
    }
    s_fixture_t *self = s_fixture? s_fixture: s_setup ();
    const char *client_key = s_client_keys [data [0] & 3];

    //  What the codec makes of the request: the store must agree with it
    zmsg_t *copy = zmsg_dup (content);
    zpost_msg_t *request = zpost_msg_new ();
    int request_rc = zpost_msg_decode_request (request, &copy);
    assert (request_rc == 0 || request_rc == -2);

    zmsg_t *frames = s_exchange (self, client_key, content);
    zmsg_destroy (&content);
    assert (frames);
    zpost_msg_t *reply = zpost_msg_new ();
    int rc = zpost_msg_decode_reply (reply, &frames);
    if (rc != 0) {
        fprintf (stderr, "fuzz_store: the store's reply does not decode: %s\n",
                 zpost_msg_reason (reply));
        abort ();
    }
    assert (zpost_msg_command (reply) == zpost_msg_command (request));
    assert (streq (zpost_msg_request_id (reply), zpost_msg_request_id (request)));
    if (request_rc == -2)
        assert (zpost_msg_status (reply) == zpost_msg_status (request));
    else
        assert (zpost_msg_status (reply) != ZPOST_INTERNAL_ERROR);

    zpost_msg_destroy (&reply);
    zpost_msg_destroy (&request);
    return 0;
}
