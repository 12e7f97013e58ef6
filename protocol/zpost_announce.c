/*  =========================================================================
    zpost_announce - the key announcement codec

    Two frames, two rules: the reply must be exactly the signature and a
    40-character Z85 key, and anything else is malformed. The request is
    whatever the client sends; a broker answers every message, so there is
    nothing in it to parse.
    =========================================================================
*/

#include "zpost_announce.h"
#include "zpost_keys.h"

#include <sodium.h>

#define S_KEY_TEXT_SIZE     40      //  Z85 characters of a CURVE public key

zmsg_t *
zpost_announce_request (void)
{
    zmsg_t *msg = zmsg_new ();
    assert (msg);
    zmsg_addstr (msg, ZPOST_ANNOUNCE_SIGNATURE);
    return msg;
}

zmsg_t *
zpost_announce_reply (const char *public_key)
{
    assert (public_key);
    assert (zpost_keys_valid_z85 (public_key));
    zmsg_t *msg = zmsg_new ();
    assert (msg);
    zmsg_addstr (msg, ZPOST_ANNOUNCE_SIGNATURE);
    zmsg_addstr (msg, public_key);
    return msg;
}

//  True if frame holds exactly the bytes of text
static bool
s_frame_is (zframe_t *frame, const char *text)
{
    size_t size = strlen (text);
    return frame && zframe_size (frame) == size
        && memcmp (zframe_data (frame), text, size) == 0;
}

int
zpost_announce_decode (zmsg_t **msg_p, char *key_text)
{
    assert (msg_p);
    assert (key_text);
    zmsg_t *msg = *msg_p;
    *msg_p = NULL;
    key_text [0] = 0;
    int rc = -2;
    if (msg && zmsg_size (msg) == 2
    &&  s_frame_is (zmsg_first (msg), ZPOST_ANNOUNCE_SIGNATURE)) {
        zframe_t *key = zmsg_next (msg);
        if (zframe_size (key) == S_KEY_TEXT_SIZE) {
            char text [S_KEY_TEXT_SIZE + 1];
            memcpy (text, zframe_data (key), S_KEY_TEXT_SIZE);
            text [S_KEY_TEXT_SIZE] = 0;
            if (zpost_keys_valid_z85 (text)) {
                memcpy (key_text, text, sizeof (text));
                rc = 0;
            }
        }
    }
    zmsg_destroy (&msg);
    return rc;
}

int
zpost_announce_fingerprint (const char *key_text, char *fingerprint)
{
    assert (fingerprint);
    fingerprint [0] = 0;
    uint8_t key [32];
    if (!key_text || strlen (key_text) != S_KEY_TEXT_SIZE
    ||  !zmq_z85_decode (key, key_text))
        return -1;
    //  Idempotent; SHA-256 needs no more than this
    if (sodium_init () < 0)
        return -1;
    uint8_t digest [crypto_hash_sha256_BYTES];
    crypto_hash_sha256 (digest, key, sizeof (key));
    char *out = fingerprint;
    for (size_t index = 0; index < sizeof (digest); index++) {
        if (index > 0 && index % 4 == 0)
            *out++ = ' ';
        out += sprintf (out, "%02x", digest [index]);
    }
    assert ((size_t) (out - fingerprint) == ZPOST_ANNOUNCE_FINGERPRINT_SIZE - 1);
    return 0;
}


//  --------------------------------------------------------------------------
//  Selftest

//  The selftest's asserts are its checks, and many call what they check:
//  they must stay in a build with NDEBUG (CMake's release types set it).
#undef NDEBUG
#include <assert.h>

static int
s_decode_frames (const char **frames, size_t count, char *key_text)
{
    zmsg_t *msg = zmsg_new ();
    for (size_t index = 0; index < count; index++)
        zmsg_addstr (msg, frames [index]);
    return zpost_announce_decode (&msg, key_text);
}

void
zpost_announce_test (bool verbose)
{
    printf (" * zpost_announce: ");
    if (verbose)
        printf ("\n");

    //  @selftest
    zcert_t *cert = zcert_new ();
    assert (cert);
    const char *public_key = zcert_public_txt (cert);

    //  Round trip
    zmsg_t *msg = zpost_announce_reply (public_key);
    assert (zmsg_size (msg) == 2);
    char key_text [41];
    assert (zpost_announce_decode (&msg, key_text) == 0);
    assert (msg == NULL);
    assert (streq (key_text, public_key));

    msg = zpost_announce_request ();
    assert (zmsg_size (msg) == 1);
    char *signature = zmsg_popstr (msg);
    assert (streq (signature, ZPOST_ANNOUNCE_SIGNATURE));
    zstr_free (&signature);
    zmsg_destroy (&msg);

    //  Malformed replies, each -2 with no key
    const char *no_key [] = { ZPOST_ANNOUNCE_SIGNATURE };
    assert (s_decode_frames (no_key, 1, key_text) == -2);
    assert (*key_text == 0);
    const char *bad_signature [] = { "ZPOSTK2", public_key };
    assert (s_decode_frames (bad_signature, 2, key_text) == -2);
    const char *short_key [] = { ZPOST_ANNOUNCE_SIGNATURE, "abc" };
    assert (s_decode_frames (short_key, 2, key_text) == -2);
    const char *bad_z85 [] = { ZPOST_ANNOUNCE_SIGNATURE,
                               "~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~" };
    assert (s_decode_frames (bad_z85, 2, key_text) == -2);
    const char *extra [] = { ZPOST_ANNOUNCE_SIGNATURE, public_key, "more" };
    assert (s_decode_frames (extra, 3, key_text) == -2);
    assert (s_decode_frames (NULL, 0, key_text) == -2);
    zmsg_t *none = NULL;
    assert (zpost_announce_decode (&none, key_text) == -2);
    //  A key frame with a NUL inside is not 40 Z85 characters
    msg = zmsg_new ();
    zmsg_addstr (msg, ZPOST_ANNOUNCE_SIGNATURE);
    char with_nul [40];
    memcpy (with_nul, public_key, 40);
    with_nul [10] = 0;
    zmsg_addmem (msg, with_nul, 40);
    assert (zpost_announce_decode (&msg, key_text) == -2);

    //  Fingerprints: fixed shape, stable, different for different keys
    char fingerprint [ZPOST_ANNOUNCE_FINGERPRINT_SIZE];
    assert (zpost_announce_fingerprint (public_key, fingerprint) == 0);
    assert (strlen (fingerprint) == ZPOST_ANNOUNCE_FINGERPRINT_SIZE - 1);
    for (int index = 0; index < ZPOST_ANNOUNCE_FINGERPRINT_SIZE - 1; index++)
        assert (index % 9 == 8? fingerprint [index] == ' '
                              : isxdigit ((unsigned char) fingerprint [index]));
    char again [ZPOST_ANNOUNCE_FINGERPRINT_SIZE];
    assert (zpost_announce_fingerprint (public_key, again) == 0);
    assert (streq (fingerprint, again));
    zcert_t *other = zcert_new ();
    assert (zpost_announce_fingerprint (zcert_public_txt (other), again) == 0);
    assert (!streq (fingerprint, again));
    zcert_destroy (&other);
    //  The all-zero key: SHA-256 of 32 zero bytes
    assert (zpost_announce_fingerprint ("0000000000000000000000000000000000000000",
                                        again) == 0);
    assert (streq (again, "66687aad f862bd77 6c8fc18b 8e9f8e20 "
                          "08971485 6ee233b3 902a591d 0d5f2925"));
    assert (zpost_announce_fingerprint ("short", again) == -1);
    assert (*again == 0);
    assert (zpost_announce_fingerprint (NULL, again) == -1);
    if (verbose)
        zsys_debug ("fingerprint of %s: %s", public_key, fingerprint);
    zcert_destroy (&cert);
    //  @end

    printf ("OK\n");
}
