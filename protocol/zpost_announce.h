/*  =========================================================================
    zpost_announce - the key announcement (protocol/ZPOST.md, "Key
    announcement")

    A broker may answer, on a plain (non-CURVE) endpoint of its own, any
    message with its long-term public key, so that a client meeting it for
    the first time can show the key's fingerprint and pin it (trust on
    first use). The wire is two frames each way at most:

        request = "ZPOSTK1"                     (any message is answered)
        reply   = "ZPOSTK1" public-key          (40 Z85 characters)

    This class is the only code that builds or parses those frames, and it
    makes the fingerprint a person compares out of band: SHA-256 of the 32
    raw key bytes, as 64 lowercase hex digits in eight groups of eight.

    The announcement proves nothing: whoever answers first is believed.
    The spec says what it does and does not protect against.
    =========================================================================
*/

#ifndef ZPOST_ANNOUNCE_H_INCLUDED
#define ZPOST_ANNOUNCE_H_INCLUDED

#include <czmq.h>

#define ZPOST_ANNOUNCE_SIGNATURE        "ZPOSTK1"
//  No announcement message is larger: a peer that sends more is not
//  speaking it, and the broker sets this as its socket's ZMQ_MAXMSGSIZE
#define ZPOST_ANNOUNCE_FRAME_MAX        256
//  Characters of a fingerprint, with its NUL: 8 groups of 8 hex digits,
//  separated by single spaces
#define ZPOST_ANNOUNCE_FINGERPRINT_SIZE 72

//  The request a client sends: one frame, the signature. Caller owns it.
zmsg_t *
    zpost_announce_request (void);

//  The reply that carries public_key (40 Z85 characters, checked by the
//  caller). Caller owns it.
zmsg_t *
    zpost_announce_reply (const char *public_key);

//  Decode a reply, taking ownership of *msg_p (set to NULL). On success
//  writes the key's 40 characters and a NUL to key_text (41 bytes) and
//  returns 0; returns -2 if the frames are not exactly a reply with a
//  valid Z85 key.
int
    zpost_announce_decode (zmsg_t **msg_p, char *key_text);

//  The fingerprint of a Z85 public key, written to fingerprint
//  (ZPOST_ANNOUNCE_FINGERPRINT_SIZE bytes), e.g.
//  "3f9c2a7d 1b6e4f08 a5c4d2e1 f0b9a876 0c1d2e3f 40516273 8495a6b7 c8d9eaf1".
//  Returns 0, or -1 if the key is not 40 valid Z85 characters.
int
    zpost_announce_fingerprint (const char *key_text, char *fingerprint);

//  Selftest
void
    zpost_announce_test (bool verbose);

#endif
