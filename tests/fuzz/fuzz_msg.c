/*  =========================================================================
    fuzz_msg - libFuzzer harness for the ZPOST client codec

    Input layout: one byte that picks request (even) or reply (odd), then
    frames, each a 2-byte big-endian length and that many bytes (a short
    last frame takes what is left). The harness checks more than "does not
    crash": whatever decodes must encode again and decode to the same
    frames, and whatever fails must yield an error reply that encodes and
    decodes as a valid reply.

        fuzz_msg -max_total_time=3600 CORPUS_DIR tests/fuzz/corpus/msg
    =========================================================================
*/

#include "fuzz_frames.h"
#include "zpost_msg.h"
#include <assert.h>


static bool
s_same_frames (zmsg_t *left, zmsg_t *right)
{
    if (zmsg_size (left) != zmsg_size (right))
        return false;
    zframe_t *one = zmsg_first (left);
    zframe_t *two = zmsg_first (right);
    while (one && two) {
        if (!zframe_eq (one, two))
            return false;
        one = zmsg_next (left);
        two = zmsg_next (right);
    }
    return true;
}

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    bool as_reply = data [0] & 1;
    zmsg_t *frames = fuzz_frames_from (data + 1, size - 1);
    zpost_msg_t *msg = zpost_msg_new ();
    int rc = as_reply? zpost_msg_decode_reply (msg, &frames)
                     : zpost_msg_decode_request (msg, &frames);
    assert (frames == NULL);
    assert (rc == 0 || rc == -2);
    if (rc == 0) {
        zmsg_t *encoded = zpost_msg_encode (msg);
        assert (encoded);
        zmsg_t *copy = zmsg_dup (encoded);
        zpost_msg_t *again = zpost_msg_new ();
        int again_rc = as_reply? zpost_msg_decode_reply (again, &copy)
                               : zpost_msg_decode_request (again, &copy);
        assert (again_rc == 0);
        zmsg_t *reencoded = zpost_msg_encode (again);
        assert (reencoded && s_same_frames (encoded, reencoded));
        zmsg_destroy (&reencoded);
        zpost_msg_destroy (&again);
        zmsg_destroy (&encoded);
    }
    else
    if (!as_reply) {
        assert (zpost_msg_status (msg) >= 400 && zpost_msg_status (msg) <= 599);
        zpost_msg_t *reply = zpost_msg_new_reply (msg, zpost_msg_status (msg),
                                                  zpost_msg_reason (msg));
        zmsg_t *encoded = zpost_msg_encode (reply);
        assert (encoded);
        zpost_msg_t *decoded = zpost_msg_new ();
        int reply_rc = zpost_msg_decode_reply (decoded, &encoded);
        assert (reply_rc == 0);
        assert (zpost_msg_status (decoded) == zpost_msg_status (msg));
        zpost_msg_destroy (&decoded);
        zpost_msg_destroy (&reply);
    }
    zpost_msg_destroy (&msg);
    return 0;
}
