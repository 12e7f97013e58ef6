/*  =========================================================================
    store_throttle - a growing delay after failed logins, never a lockout

    The store keeps one store_throttle_t in memory and asks it, before it
    checks a password, whether an attempt is allowed now. It counts failed
    attempts per key: a key is any string the caller chooses, one per
    account ("user:alice") and one per client CURVE key ("key:<Z85>"), and
    a LOGIN is let through only if every key it touches is.

    The rules, per key (the spec states the same):

      * The first STORE_THROTTLE_FREE_FAILURES (4) failures cost nothing.
      * From the 5th failure on, the next attempt must wait 1 s after the
        failure, and the wait doubles with each further failure (2 s, 4 s,
        8 s, ...) up to a ceiling of 900 s. An attempt made before its
        time is not a failure: the caller refuses it (429) unchecked and
        does not report it here, so waiting out the delay is all it takes.
      * A success resets the key to nothing.
      * A key with no failure for 24 h is forgotten (and so reset).

    No rule ever refuses a key for longer than 900 s after its last
    failure, so nobody can lock an account for good; at worst an attacker
    who keeps failing keeps its wait at the ceiling.

    Memory is bounded: besides forgetting keys after 24 h, the table holds
    at most STORE_THROTTLE_MAX_KEYS keys (100000), and when a new key
    would pass that, the key whose last failure is the oldest is dropped.

    The table never reads a clock: every call takes now_ms, any monotonic
    milliseconds (zclock_mono () in the store, made-up numbers in tests).
    It is a plain object, owned and used by one thread.
    =========================================================================
*/

#ifndef STORE_THROTTLE_H_INCLUDED
#define STORE_THROTTLE_H_INCLUDED

#include <czmq.h>
#include <stdint.h>

//  The schedule; see the rules above
#define STORE_THROTTLE_FREE_FAILURES    4
#define STORE_THROTTLE_FIRST_DELAY_MS   1000
#define STORE_THROTTLE_MAX_DELAY_MS     (900 * 1000)
#define STORE_THROTTLE_FORGET_MS        ((int64_t) 24 * 3600 * 1000)
#define STORE_THROTTLE_MAX_KEYS         100000

typedef struct _store_throttle_t store_throttle_t;

//  Create an empty table that holds at most STORE_THROTTLE_MAX_KEYS keys.
store_throttle_t *
    store_throttle_new (void);

//  Destroy the table; sets *self_p to NULL.
void
    store_throttle_destroy (store_throttle_t **self_p);

//  Change the most keys the table holds (at least 1), for tests and
//  configuration. Keys past the new limit are dropped, oldest first.
void
    store_throttle_set_max_keys (store_throttle_t *self, size_t max_keys);

//  Change the first delay (default STORE_THROTTLE_FIRST_DELAY_MS, from 1
//  msec to STORE_THROTTLE_MAX_DELAY_MS); the later ones double from it, up
//  to the same ceiling. For tests that must not race the delay's end on a
//  busy machine (zpost-store --throttle-delay).
void
    store_throttle_set_first_delay (store_throttle_t *self, int64_t msecs);

//  Returns 0 if an attempt on key is allowed at now_ms, else the
//  milliseconds left to wait (at most STORE_THROTTLE_MAX_DELAY_MS). A
//  429 reply's detail is this, rounded up to whole seconds.
int64_t
    store_throttle_wait_ms (store_throttle_t *self, const char *key,
                            int64_t now_ms);

//  An attempt on key failed at now_ms: count it, and set the time before
//  which the next attempt must wait.
void
    store_throttle_failure (store_throttle_t *self, const char *key,
                            int64_t now_ms);

//  Take back one failure counted for an attempt that was then never
//  checked (refused as busy, or found late in the queue): an attempt the
//  store did not run must not count against the key, or a right password
//  on a busy store ends up throttled.
void
    store_throttle_refund (store_throttle_t *self, const char *key,
                           int64_t now_ms);

//  Hold key until now_ms + wait_ms, whatever its failures: for a store
//  whose counters are the database's (PostgreSQL), this table is a cache
//  of the delays the database gave, so that a flood of attempts in a delay
//  is refused here without a round trip each. Forgotten as a failure is.
void
    store_throttle_hold (store_throttle_t *self, const char *key, int64_t now_ms,
                         int64_t wait_ms);

//  An attempt on key succeeded at now_ms: forget its failures.
void
    store_throttle_success (store_throttle_t *self, const char *key,
                            int64_t now_ms);

//  Keys in the table, counting keys due to be forgotten that no call
//  since they became due has swept out yet.
size_t
    store_throttle_size (store_throttle_t *self);

//  Selftest
void
    store_throttle_test (bool verbose);

#endif
