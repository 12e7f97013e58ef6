/*  =========================================================================
    zpost_keys - CURVE key files, the way every zpost program keeps them

    A key pair is two files in CZMQ's certificate format: NAME (public key
    only, safe to hand out) and NAME_secret (both keys, mode 0600). A secret
    file that group or others can read is refused, the way ssh refuses a
    private key with loose permissions. A missing pair is created, with its
    directory (0700), on first use.

    Every file is written whole or not at all (zpost_keys_write_file): a
    hidden temporary file beside it, written, synced, renamed over the
    name, and the directory synced; a full disk leaves the old file or no
    file, never an empty or a partial one. A pair's secret is renamed into
    place before its public half, so a crash between the two leaves the
    secret alone, from which the public file is made again. Empty pair
    files that an older zpost left after a full disk are replaced when
    both are empty (no key was ever in them), and named in a sentence
    otherwise.

    A public key given by a person is either the 40-character Z85 text of
    the key, or a file: a CZMQ certificate, or a text file whose first line
    is the Z85 key.
    =========================================================================
*/

#ifndef ZPOST_KEYS_H_INCLUDED
#define ZPOST_KEYS_H_INCLUDED

#include <czmq.h>
#include <stdbool.h>

//  Load the key pair kept at path (public) and path_secret (secret), or
//  create both if neither exists. Returns NULL and prints why (zsys_error)
//  if the secret file is readable by group or others, if only one of the
//  two files exists, or if a file cannot be read or written.
zcert_t *
    zpost_keys_load_or_create (const char *path);

//  The same, with the reason for a NULL written to error (error_size
//  bytes) as a sentence a person can act on, and nothing logged.
zcert_t *
    zpost_keys_open_pair (const char *path, char *error, size_t error_size);

//  Write size bytes of text to path, atomically and durably, with the
//  given mode: a temporary ".NAME.tmp-XXXXXX" in the same directory,
//  fsync, rename, fsync of the directory. Returns 0, or -1 with a
//  sentence in error (one that says "the disk is full" for ENOSPC and
//  EDQUOT); on failure path is as it was and the temporary is removed.
int
    zpost_keys_write_file (const char *path, const char *text, size_t size,
                           mode_t mode, char *error, size_t error_size);

//  Load an existing key pair, with the same permission check. NULL if
//  missing or refused.
zcert_t *
    zpost_keys_load (const char *path);

//  Turn a key or a key file into the Z85 text of a public key. Writes 41
//  bytes (40 characters and NUL) to key_text. Returns 0, or -1 if the text
//  is neither a valid key nor a readable file holding one.
int
    zpost_keys_public_from (const char *key_or_file, char *key_text);

//  The same for a file only: its path is never taken for a key, whatever
//  it looks like (a path can be 40 valid Z85 characters). For directories
//  of key files, whose names are not the operator's to choose freely.
//  On -1, errno says why: EINVAL no key in it, or as zpost_keys_read_small.
int
    zpost_keys_public_from_file (const char *path, char *key_text);

//  The largest key or certificate file zpost reads: a certificate is a few
//  hundred bytes
#define ZPOST_KEYS_FILE_MAX     (64 * 1024)

//  Read a small regular file whole into buffer (size max + 1, NUL added),
//  without ever blocking: a FIFO, a device or a directory is refused
//  (errno ENODEV), and so is a file over max bytes (EFBIG), before a byte
//  is read, so /dev/zero or a FIFO swapped in for a key file cannot hang
//  or fill the process. Returns the bytes read, or -1 with errno set.
ssize_t
    zpost_keys_read_small (const char *path, char *buffer, size_t max);

//  True if text is exactly 40 valid Z85 characters.
bool
    zpost_keys_valid_z85 (const char *text);

//  Create directory path and its parents; the last one with mode 0700.
//  Returns 0 if it exists afterwards, else -1.
int
    zpost_keys_make_private_dir (const char *path);

//  Whether an ipc:// socket file path can be kept private, as the spec's
//  "What protects the back end" says: the socket file's directory must be
//  owned by us (the effective uid) or root and writable by neither group
//  nor others, sticky or not (in a shared directory another user can take
//  the name while no broker holds it, or, not sticky, rename ours away);
//  each directory above it, through symlinks and after them, must be
//  owned by us or root and writable by group or others only if sticky.
//  With check_socket, a file already at path must be a socket owned by
//  us or root (a missing one is fine: the broker may not be up yet).
//  Returns 0, or -1 with a sentence in error (error_size bytes).
int
    zpost_keys_check_ipc (const char *path, bool check_socket,
                          char *error, size_t error_size);

void
    zpost_keys_test (bool verbose);

#endif
