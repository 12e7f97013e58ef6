/*  =========================================================================
    store_hasher - Argon2id password hashing off the store's main loop

    One Argon2id hash at libsodium's INTERACTIVE limits takes tens of
    milliseconds and 64 MiB; at stronger limits, seconds. If the store
    actor computed it in line, every other user's request would wait
    behind each LOGIN. A store_hasher_t is a small pool of worker threads
    (zactors) that compute crypto_pwhash_str and crypto_pwhash_str_verify
    while the store's loop goes on serving requests.

    The store queues jobs, each carrying a context pointer of its choosing
    (the request waiting on it), and polls store_hasher_socket: when it is
    readable, store_hasher_recv gives back one finished job, with its
    context. No table of ids stands between a result and its request, so
    no result can reach another request. An urgent job (a LOGIN from a key
    the account knows) is served before every job that is not. Jobs are handed to whichever
    worker is idle, so a slow job never holds up a free thread; results
    come back in the order they finish, not the order they were queued.

        store_hasher_t *hasher = store_hasher_new (2,
            crypto_pwhash_OPSLIMIT_INTERACTIVE,
            crypto_pwhash_MEMLIMIT_INTERACTIVE);
        zloop_reader (loop, store_hasher_socket (hasher), s_hashed, self);
        ...
        store_hasher_verify (hasher, request, false, stored_hash, password);
        ...
        //  in s_hashed, when the socket is readable:
        void *context; bool ok; char *new_hash;
        while (store_hasher_recv (hasher, &context, &ok, &new_hash) == 0) {
            ... context is request: ok says if the password matched; if new_hash is
            ... not NULL, store it in place of the old one, then free it
        }
        ...
        store_hasher_destroy (&hasher);

    Secrets. A password is copied once, into a buffer the hasher owns,
    and that buffer is wiped (sodium_memzero) as soon as the hash is done,
    or when a queued job is dropped. Only a pointer to the job travels
    over the inproc sockets, so no copy of the password is left in a
    ZeroMQ message. Nothing here logs a password. The caller wipes its
    own copies.

    Threads and sockets. Each worker is a zactor; a job pointer goes to
    it over its pipe, and it pushes the finished job to one PULL socket
    bound at inproc://store-hasher-<address of self>, unique per instance.
    Ownership of a job moves with the pointer: the hasher's thread until
    it is sent, the worker's until it is pushed back. No state is shared
    and nothing is locked. Everything in this API belongs to the thread
    that called store_hasher_new: call it from that thread only.
    =========================================================================
*/

#ifndef STORE_HASHER_H_INCLUDED
#define STORE_HASHER_H_INCLUDED

#include <czmq.h>
#include <stdint.h>

typedef struct _store_hasher_t store_hasher_t;

//  Start a pool of `threads` workers (at least 1; at most one per core
//  is sensible) that hash with the given Argon2id limits. Both limits
//  must be at least crypto_pwhash_OPSLIMIT_INTERACTIVE and
//  crypto_pwhash_MEMLIMIT_INTERACTIVE and at most the _MAX values: the
//  caller checks its configuration and reports errors; here a bad value
//  is an assert. Calls sodium_init. Computes the dummy hash before it
//  returns, so it takes as long as one hash. Returns NULL if libsodium
//  cannot start or the dummy hash cannot be made (out of memory).
store_hasher_t *
    store_hasher_new (size_t threads, unsigned long long opslimit,
                      size_t memlimit);

//  Stop the workers and free the pool; sets *self_p to NULL. Jobs still
//  queued are dropped (and their passwords wiped); a job a worker has
//  already begun is finished first, so this may take as long as one
//  hash. Results not yet read are dropped.
void
    store_hasher_destroy (store_hasher_t **self_p);

//  The socket to poll for results (zloop_reader, zpoller or zmq_poll).
//  It is readable when at least one result is ready. Read it only with
//  store_hasher_recv. Owned by the hasher.
zsock_t *
    store_hasher_socket (store_hasher_t *self);

//  Queue a job: hash password with the pool's limits. The password is
//  copied; the caller may wipe its copy at once. Its result has ok true
//  and the new hash (a string starting "$argon2id$"), or ok false and no
//  hash if libsodium failed (out of memory). Returns 0, or -1 (nothing
//  queued) if the password is longer than crypto_pwhash_PASSWD_MAX.
int
    store_hasher_hash (store_hasher_t *self, void *context, bool urgent,
                       const char *password);

//  Queue a job: verify password against stored_hash, a string that
//  crypto_pwhash_str made (with any limits). Its result has ok true if
//  the password matches. If it matches and the stored hash was made with
//  other limits than the pool's, or another algorithm
//  (crypto_pwhash_str_needs_rehash), the worker also hashes the password
//  with the pool's limits and the result carries that new hash, to be
//  stored in place of the old one. Both strings are copied. Returns 0,
//  or -1 (nothing queued) if the password is longer than
//  crypto_pwhash_PASSWD_MAX or stored_hash longer than
//  crypto_pwhash_STRBYTES - 1 (no hash is that long).
int
    store_hasher_verify (store_hasher_t *self, void *context, bool urgent,
                         const char *stored_hash, const char *password);

//  Read one finished job, without blocking. Sets *context to its context,
//  *ok to its outcome (see store_hasher_hash and store_hasher_verify), and
//  *new_hash_p to a new hash the caller must free, or to NULL. Returns 0;
//  1 for a job that waited for a worker longer than the max wait and was
//  not run (ok false, no hash); or -1 if no result is ready (the output
//  arguments are then left alone). Also hands the next queued job, if
//  any, to the worker that just became free: call it whenever the socket
//  is readable, until it returns -1.
int
    store_hasher_recv (store_hasher_t *self, void **context, bool *ok,
                       char **new_hash_p);

//  A hash, made at start with the pool's limits, of a random password
//  that was thrown away. Verifying any password against it fails, and
//  takes as long as verifying against a real user's hash: LOGIN verifies
//  against it when the user does not exist, so that the answer comes in
//  the same time. Owned by the hasher.
const char *
    store_hasher_dummy_hash (store_hasher_t *self);

//  Jobs queued and not yet returned by store_hasher_recv.
size_t
    store_hasher_pending (store_hasher_t *self);

//  A job that has waited this many msecs for a worker is not run but given
//  back (store_hasher_recv returns 1): its answer would come too late for
//  whoever asked. 0, the default, is no limit.
void
    store_hasher_set_max_wait (store_hasher_t *self, int64_t max_wait);

//  Frees the context of a job that is dropped, never to be returned (at
//  destroy): the caller's request waiting on it.
typedef void (store_hasher_context_fn) (void **context_p);
void
    store_hasher_set_destructor (store_hasher_t *self, store_hasher_context_fn *context_free);

//  How long, in msecs, a job queued now would wait for a worker: the jobs
//  ahead of it (an urgent one has only the urgent ones and the running
//  ones ahead), served `threads` at a time, each taking the moving average
//  of the jobs done so far. 0 when a worker is free for it. An estimate,
//  for refusing at once the work that could not be answered in time; the
//  max wait (store_hasher_set_max_wait) is the guarantee.
int64_t
    store_hasher_wait_ms (store_hasher_t *self, bool urgent);

//  Selftest
void
    store_hasher_test (bool verbose);

#endif
