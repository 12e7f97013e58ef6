/*  =========================================================================
    zpost_announce - the key announcement (protocol/ZPOST.md, "Key
    announcement")

    A broker may answer, on a plain TCP endpoint of its own (raw bytes, not
    ZMTP, not CURVE), a fixed question with its long-term public key, so
    that a client meeting it for the first time can show the key's
    fingerprint and pin it (trust on first use). The wire, in bytes:

        request = "ZPOSTK2" LF                  (8 bytes)
        reply   = "ZPOSTK2" SP public-key LF    (49 bytes; 40 Z85 characters)

    Both sizes are fixed, so neither side ever buffers more than one of
    them: the broker closes a connection whose bytes stray from the
    request, and a client refuses a reply that strays from its shape.

    This class is the only code that builds or parses those bytes, and it
    makes the fingerprint a person compares out of band: SHA-256 of the 32
    raw key bytes, as 64 lowercase hex digits in eight groups of eight.

    The announcement proves nothing: whoever answers first is believed.
    The spec says what it does and does not protect against.
    =========================================================================
*/

#ifndef ZPOST_ANNOUNCE_H_INCLUDED
#define ZPOST_ANNOUNCE_H_INCLUDED

#include <czmq.h>

#define ZPOST_ANNOUNCE_SIGNATURE        "ZPOSTK2"
//  The request, exactly these bytes
#define ZPOST_ANNOUNCE_REQUEST          ZPOST_ANNOUNCE_SIGNATURE "\n"
#define ZPOST_ANNOUNCE_REQUEST_SIZE     8
//  Bytes of a reply: signature, space, 40 Z85 characters, newline
#define ZPOST_ANNOUNCE_REPLY_SIZE       49
//  Characters of a fingerprint, with its NUL: 8 groups of 8 hex digits,
//  separated by single spaces
#define ZPOST_ANNOUNCE_FINGERPRINT_SIZE 72

//  Write the reply that carries public_key (40 Z85 characters, checked by
//  the caller) to reply: ZPOST_ANNOUNCE_REPLY_SIZE bytes and a NUL.
void
    zpost_announce_reply (const char *public_key, char *reply);

//  How a client should take the size bytes it has received so far: 1 if
//  they are a whole reply, and then the key's 40 characters and a NUL are
//  written to key_text (41 bytes); 0 if they are the start of one (wait
//  for more); -2 if they cannot be a reply (too many, or wrong bytes, or
//  a key that is not valid Z85).
int
    zpost_announce_decode (const void *data, size_t size, char *key_text);

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
