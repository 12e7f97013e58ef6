/*  =========================================================================
    zpost_announce - the key announcement codec

    Fixed bytes both ways: a request is exactly ZPOST_ANNOUNCE_REQUEST,
    a reply exactly the signature, a space, a 40-character Z85 key and a
    newline; anything else is malformed. A reply may come in pieces, so
    the decoder also says when what has come so far is a good start.
    =========================================================================
*/

#include "zpost_announce.h"
#include "zpost_keys.h"

#include <sodium.h>

#define S_KEY_TEXT_SIZE     40      //  Z85 characters of a CURVE public key

void
zpost_announce_reply (const char *public_key, char *reply)
{
    assert (public_key);
    assert (reply);
    assert (zpost_keys_valid_z85 (public_key));
    int size = snprintf (reply, ZPOST_ANNOUNCE_REPLY_SIZE + 1, "%s %s\n",
                         ZPOST_ANNOUNCE_SIGNATURE, public_key);
    assert (size == ZPOST_ANNOUNCE_REPLY_SIZE);
}

int
zpost_announce_decode (const void *data, size_t size, char *key_text)
{
    assert (data || size == 0);
    assert (key_text);
    key_text [0] = 0;
    const char *bytes = (const char *) data;
    const char *prefix = ZPOST_ANNOUNCE_SIGNATURE " ";
    size_t prefix_size = strlen (prefix);
    if (size > ZPOST_ANNOUNCE_REPLY_SIZE)
        return -2;
    //  What has come must agree with the fixed parts as far as it goes
    size_t head = size < prefix_size? size: prefix_size;
    if (head > 0 && memcmp (bytes, prefix, head) != 0)
        return -2;
    if (size < ZPOST_ANNOUNCE_REPLY_SIZE)
        return 0;
    if (bytes [ZPOST_ANNOUNCE_REPLY_SIZE - 1] != '\n')
        return -2;
    char text [S_KEY_TEXT_SIZE + 1];
    memcpy (text, bytes + prefix_size, S_KEY_TEXT_SIZE);
    text [S_KEY_TEXT_SIZE] = 0;
    if (strlen (text) != S_KEY_TEXT_SIZE || !zpost_keys_valid_z85 (text))
        return -2;
    memcpy (key_text, text, sizeof (text));
    return 1;
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

    //  Round trip, whole and in pieces
    char reply [ZPOST_ANNOUNCE_REPLY_SIZE + 1];
    zpost_announce_reply (public_key, reply);
    assert (strlen (reply) == ZPOST_ANNOUNCE_REPLY_SIZE);
    char key_text [41];
    assert (zpost_announce_decode (reply, ZPOST_ANNOUNCE_REPLY_SIZE, key_text) == 1);
    assert (streq (key_text, public_key));
    for (size_t size = 0; size < ZPOST_ANNOUNCE_REPLY_SIZE; size++) {
        assert (zpost_announce_decode (reply, size, key_text) == 0);
        assert (*key_text == 0);
    }
    assert (strlen (ZPOST_ANNOUNCE_REQUEST) == ZPOST_ANNOUNCE_REQUEST_SIZE);

    //  Malformed replies, each -2 with no key
    char bad [ZPOST_ANNOUNCE_REPLY_SIZE + 2];
    memcpy (bad, reply, sizeof (reply));
    bad [ZPOST_ANNOUNCE_REPLY_SIZE] = '\n';   //  one byte too many
    assert (zpost_announce_decode (bad, ZPOST_ANNOUNCE_REPLY_SIZE + 1, key_text) == -2);
    assert (*key_text == 0);
    memcpy (bad, reply, sizeof (reply));
    bad [6] = '1';                              //  another version
    assert (zpost_announce_decode (bad, 7, key_text) == -2);
    assert (zpost_announce_decode (bad, ZPOST_ANNOUNCE_REPLY_SIZE, key_text) == -2);
    memcpy (bad, reply, sizeof (reply));
    bad [ZPOST_ANNOUNCE_REPLY_SIZE - 1] = ' ';  //  no newline
    assert (zpost_announce_decode (bad, ZPOST_ANNOUNCE_REPLY_SIZE, key_text) == -2);
    memcpy (bad, reply, sizeof (reply));
    bad [20] = '~';                             //  not Z85
    assert (zpost_announce_decode (bad, ZPOST_ANNOUNCE_REPLY_SIZE, key_text) == -2);
    bad [20] = 0;                               //  a NUL inside the key
    assert (zpost_announce_decode (bad, ZPOST_ANNOUNCE_REPLY_SIZE, key_text) == -2);
    //  A ZMTP greeting (an old client's or server's) is not a start
    assert (zpost_announce_decode ("\xff\0\0\0", 4, key_text) == -2);
    assert (zpost_announce_decode (NULL, 0, key_text) == 0);

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
