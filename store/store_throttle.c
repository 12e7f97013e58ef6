/*  =========================================================================
    store_throttle - a growing delay after failed logins, never a lockout

    Keys live in a hash (key -> entry) for lookups and in a list ordered
    by last failure, oldest first, for forgetting and eviction: a failure
    moves its entry to the end of the list, so the list's head is always
    the entry to forget or drop next, and each call sweeps only the
    entries that are due. Every operation is O(1) amortised.
    =========================================================================
*/

#include "store_throttle.h"

//  One key with failures
typedef struct {
    char *key;                  //  our copy of the key
    uint32_t failures;          //  failures since the last reset
    int64_t not_before;         //  no attempt before this time, msec
    int64_t last_failure;       //  time of the last failure, msec
    void *handle;               //  its place in the age list
} s_entry_t;

struct _store_throttle_t {
    zhashx_t *entries;          //  key -> s_entry_t, owned here
    zlistx_t *ages;             //  s_entry_t by last failure, oldest first
    size_t max_keys;            //  most keys the table holds
    int64_t first_delay;        //  the wait after the first failure past the free ones
};


//  The wait after the failures-th failure, in msec, when the first wait
//  is first_delay
static int64_t
s_delay_ms (int64_t first_delay, uint32_t failures)
{
    if (failures <= STORE_THROTTLE_FREE_FAILURES)
        return 0;
    uint32_t doublings = failures - STORE_THROTTLE_FREE_FAILURES - 1;
    //  2^10 s is past the ceiling already; stop before the shift overflows
    if (doublings >= 10)
        return STORE_THROTTLE_MAX_DELAY_MS;
    int64_t delay = first_delay << doublings;
    return delay < STORE_THROTTLE_MAX_DELAY_MS? delay: STORE_THROTTLE_MAX_DELAY_MS;
}

static void
s_remove (store_throttle_t *self, s_entry_t *entry)
{
    zlistx_delete (self->ages, entry->handle);
    zhashx_delete (self->entries, entry->key);
    free (entry->key);
    free (entry);
}

//  Forget keys with no failure for STORE_THROTTLE_FORGET_MS
static void
s_forget (store_throttle_t *self, int64_t now_ms)
{
    s_entry_t *oldest;
    while ((oldest = (s_entry_t *) zlistx_first (self->ages))
    &&     now_ms - oldest->last_failure >= STORE_THROTTLE_FORGET_MS)
        s_remove (self, oldest);
}

//  Drop the oldest keys until at most max_keys remain
static void
s_evict (store_throttle_t *self, size_t max_keys)
{
    while (zlistx_size (self->ages) > max_keys)
        s_remove (self, (s_entry_t *) zlistx_first (self->ages));
}

store_throttle_t *
store_throttle_new (void)
{
    store_throttle_t *self = (store_throttle_t *) zmalloc (sizeof (store_throttle_t));
    assert (self);
    //  The hash's keys are the entries' own copies, and entries are freed
    //  by s_remove only: the hash owns nothing
    self->entries = zhashx_new ();
    assert (self->entries);
    zhashx_set_key_duplicator (self->entries, NULL);
    zhashx_set_key_destructor (self->entries, NULL);
    self->ages = zlistx_new ();
    assert (self->ages);
    self->max_keys = STORE_THROTTLE_MAX_KEYS;
    self->first_delay = STORE_THROTTLE_FIRST_DELAY_MS;
    return self;
}

void
store_throttle_destroy (store_throttle_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        store_throttle_t *self = *self_p;
        s_evict (self, 0);
        zlistx_destroy (&self->ages);
        zhashx_destroy (&self->entries);
        free (self);
        *self_p = NULL;
    }
}

void
store_throttle_set_max_keys (store_throttle_t *self, size_t max_keys)
{
    assert (self);
    assert (max_keys >= 1);
    self->max_keys = max_keys;
    s_evict (self, max_keys);
}

void
store_throttle_set_first_delay (store_throttle_t *self, int64_t msecs)
{
    assert (self);
    assert (msecs >= 1 && msecs <= STORE_THROTTLE_MAX_DELAY_MS);
    self->first_delay = msecs;
}

int64_t
store_throttle_wait_ms (store_throttle_t *self, const char *key, int64_t now_ms)
{
    assert (self);
    assert (key);
    s_forget (self, now_ms);
    s_entry_t *entry = (s_entry_t *) zhashx_lookup (self->entries, key);
    if (!entry || entry->not_before <= now_ms)
        return 0;
    return entry->not_before - now_ms;
}

//  The entry of key, made if new; it moves to the young end of the ages
static s_entry_t *
s_touch (store_throttle_t *self, const char *key, int64_t now_ms)
{
    s_forget (self, now_ms);
    s_entry_t *entry = (s_entry_t *) zhashx_lookup (self->entries, key);
    if (entry)
        zlistx_move_end (self->ages, entry->handle);
    else {
        s_evict (self, self->max_keys - 1);
        entry = (s_entry_t *) zmalloc (sizeof (s_entry_t));
        assert (entry);
        entry->key = strdup (key);
        assert (entry->key);
        //  Not there, as we just looked: update is an insert
        zhashx_update (self->entries, entry->key, entry);
        entry->handle = zlistx_add_end (self->ages, entry);
        assert (entry->handle);
    }
    entry->last_failure = now_ms;
    return entry;
}

void
store_throttle_failure (store_throttle_t *self, const char *key, int64_t now_ms)
{
    assert (self);
    assert (key);
    s_entry_t *entry = s_touch (self, key, now_ms);
    if (entry->failures < UINT32_MAX)
        entry->failures++;
    entry->not_before = now_ms + s_delay_ms (self->first_delay, entry->failures);
}

void
store_throttle_hold (store_throttle_t *self, const char *key, int64_t now_ms,
                     int64_t wait_ms)
{
    assert (self);
    assert (key);
    assert (wait_ms >= 0);
    if (wait_ms > STORE_THROTTLE_MAX_DELAY_MS)
        wait_ms = STORE_THROTTLE_MAX_DELAY_MS;
    s_touch (self, key, now_ms)->not_before = now_ms + wait_ms;
}

void
store_throttle_refund (store_throttle_t *self, const char *key, int64_t now_ms)
{
    assert (self);
    assert (key);
    s_forget (self, now_ms);
    s_entry_t *entry = (s_entry_t *) zhashx_lookup (self->entries, key);
    if (!entry)
        return;
    if (entry->failures <= 1)
        s_remove (self, entry);
    else {
        entry->failures--;
        entry->not_before = entry->last_failure
                          + s_delay_ms (self->first_delay, entry->failures);
    }
}

void
store_throttle_success (store_throttle_t *self, const char *key, int64_t now_ms)
{
    assert (self);
    assert (key);
    s_forget (self, now_ms);
    s_entry_t *entry = (s_entry_t *) zhashx_lookup (self->entries, key);
    if (entry)
        s_remove (self, entry);
}

size_t
store_throttle_size (store_throttle_t *self)
{
    assert (self);
    return zhashx_size (self->entries);
}


//  --------------------------------------------------------------------------
//  Selftest

//  The selftest's asserts are its checks, and many call what they check:
//  they must stay in a build with NDEBUG (CMake's release types set it).
#undef NDEBUG
#include <assert.h>

void
store_throttle_test (bool verbose)
{
    printf (" * store_throttle: ");
    if (verbose)
        printf ("\n");

    //  @selftest
    store_throttle_t *throttle = store_throttle_new ();
    assert (throttle);
    assert (store_throttle_size (throttle) == 0);
    //  Any clock will do; start far from zero, as zclock_mono does
    int64_t now = 1000000000;
    const char *alice = "user:alice";
    const char *client = "key:rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7";
    assert (store_throttle_wait_ms (throttle, alice, now) == 0);

    //  Four failures cost nothing
    for (int failure = 1; failure <= 4; failure++) {
        store_throttle_failure (throttle, alice, now);
        assert (store_throttle_wait_ms (throttle, alice, now) == 0);
        now += 10;
    }
    assert (store_throttle_size (throttle) == 1);

    //  Then 1 s, doubling each time, up to 900 s; each wait counts down
    //  and is over exactly when it says. The caller only tries again once
    //  the wait is over.
    int64_t expected [] = {
        1000, 2000, 4000, 8000, 16000, 32000, 64000, 128000, 256000,
        512000, 900000, 900000, 900000
    };
    for (size_t index = 0; index < sizeof (expected) / sizeof (expected [0]); index++) {
        store_throttle_failure (throttle, alice, now);
        assert (store_throttle_wait_ms (throttle, alice, now) == expected [index]);
        assert (store_throttle_wait_ms (throttle, alice, now + 1) == expected [index] - 1);
        if (verbose)
            zsys_debug ("store_throttle: failure %zu -> wait %" PRId64 " ms",
                        index + 5, expected [index]);
        now += expected [index];
        assert (store_throttle_wait_ms (throttle, alice, now) == 0);
    }
    //  The ceiling holds however long it goes on
    for (int failure = 0; failure < 100; failure++)
        store_throttle_failure (throttle, alice, now);
    assert (store_throttle_wait_ms (throttle, alice, now) == STORE_THROTTLE_MAX_DELAY_MS);
    assert (s_delay_ms (STORE_THROTTLE_FIRST_DELAY_MS, UINT32_MAX)
            == STORE_THROTTLE_MAX_DELAY_MS);

    //  Other keys are independent
    assert (store_throttle_wait_ms (throttle, client, now) == 0);
    for (int failure = 1; failure <= 5; failure++)
        store_throttle_failure (throttle, client, now);
    assert (store_throttle_wait_ms (throttle, client, now) == 1000);
    assert (store_throttle_wait_ms (throttle, alice, now) == STORE_THROTTLE_MAX_DELAY_MS);
    assert (store_throttle_wait_ms (throttle, "user:bob", now) == 0);
    assert (store_throttle_size (throttle) == 2);

    //  A refund takes back one failure: the fifth was never checked, so
    //  no wait; a sixth charged and refunded leaves it so; the four free
    //  ones refunded leave no entry behind
    store_throttle_refund (throttle, client, now);
    assert (store_throttle_wait_ms (throttle, client, now) == 0);
    store_throttle_failure (throttle, client, now);
    store_throttle_failure (throttle, client, now);
    assert (store_throttle_wait_ms (throttle, client, now) == 2000);
    store_throttle_refund (throttle, client, now);
    assert (store_throttle_wait_ms (throttle, client, now) == 1000);
    for (int refund = 0; refund < 5; refund++)
        store_throttle_refund (throttle, client, now);
    assert (store_throttle_wait_ms (throttle, client, now) == 0);
    assert (store_throttle_size (throttle) == 1);
    store_throttle_refund (throttle, client, now);     //  harmless
    for (int failure = 1; failure <= 5; failure++)
        store_throttle_failure (throttle, client, now);
    assert (store_throttle_wait_ms (throttle, client, now) == 1000);
    assert (store_throttle_size (throttle) == 2);

    //  A success resets its key only: four free failures again
    now += STORE_THROTTLE_MAX_DELAY_MS;
    store_throttle_success (throttle, alice, now);
    assert (store_throttle_size (throttle) == 1);
    for (int failure = 1; failure <= 4; failure++) {
        store_throttle_failure (throttle, alice, now);
        assert (store_throttle_wait_ms (throttle, alice, now) == 0);
    }
    store_throttle_failure (throttle, alice, now);
    assert (store_throttle_wait_ms (throttle, alice, now) == 1000);
    store_throttle_success (throttle, "user:nobody", now);     //  harmless
    assert (store_throttle_size (throttle) == 2);

    //  Forgotten 24 h after the last failure, not before
    int64_t last = now;
    store_throttle_failure (throttle, client, last);           //  6th: 2 s
    assert (store_throttle_wait_ms (throttle, client, last) == 2000);
    now = last + STORE_THROTTLE_FORGET_MS - 1;
    assert (store_throttle_wait_ms (throttle, client, now) == 0);
    assert (store_throttle_size (throttle) == 2);
    now = last + STORE_THROTTLE_FORGET_MS;
    assert (store_throttle_wait_ms (throttle, "user:bob", now) == 0);
    assert (store_throttle_size (throttle) == 0);               //  swept
    store_throttle_failure (throttle, client, now);             //  1st again
    assert (store_throttle_wait_ms (throttle, client, now) == 0);
    store_throttle_success (throttle, client, now);
    assert (store_throttle_size (throttle) == 0);

    //  The table is capped; the key failed longest ago goes first, and a
    //  failure makes a key young again
    store_throttle_set_max_keys (throttle, 3);
    for (int failure = 1; failure <= 5; failure++)
        store_throttle_failure (throttle, "user:a", now);
    now += 1;
    store_throttle_failure (throttle, "user:b", now);
    now += 1;
    store_throttle_failure (throttle, "user:c", now);
    now += 1;
    store_throttle_failure (throttle, "user:a", now);           //  6th, young
    assert (store_throttle_wait_ms (throttle, "user:a", now) == 2000);
    now += 1;
    store_throttle_failure (throttle, "user:d", now);           //  b goes
    assert (store_throttle_size (throttle) == 3);
    assert (store_throttle_wait_ms (throttle, "user:a", now) == 1999);
    store_throttle_set_max_keys (throttle, 1);                  //  c, a go
    assert (store_throttle_size (throttle) == 1);
    assert (store_throttle_wait_ms (throttle, "user:a", now) == 0);
    store_throttle_failure (throttle, "user:a", now);           //  1st again
    assert (store_throttle_wait_ms (throttle, "user:a", now) == 0);
    assert (store_throttle_size (throttle) == 1);

    //  A hold (the database's delay, cached) refuses for exactly its
    //  time, whatever the failures, is capped at the ceiling, counts as a
    //  key, and is cleared by a success
    store_throttle_set_max_keys (throttle, 3);
    store_throttle_hold (throttle, "user:held", now, 5000);
    assert (store_throttle_wait_ms (throttle, "user:held", now) == 5000);
    assert (store_throttle_wait_ms (throttle, "user:held", now + 4999) == 1);
    assert (store_throttle_wait_ms (throttle, "user:held", now + 5000) == 0);
    assert (store_throttle_size (throttle) == 2);
    store_throttle_hold (throttle, "user:held", now, 10 * STORE_THROTTLE_MAX_DELAY_MS);
    assert (store_throttle_wait_ms (throttle, "user:held", now) == STORE_THROTTLE_MAX_DELAY_MS);
    store_throttle_success (throttle, "user:held", now);
    assert (store_throttle_wait_ms (throttle, "user:held", now) == 0);
    assert (store_throttle_size (throttle) == 1);

    //  The default cap, filled past the brim
    store_throttle_set_max_keys (throttle, STORE_THROTTLE_MAX_KEYS);
    for (size_t index = 0; index <= STORE_THROTTLE_MAX_KEYS; index++) {
        char key [32];
        snprintf (key, sizeof (key), "user:u%zu", index);
        store_throttle_failure (throttle, key, now);
    }
    assert (store_throttle_size (throttle) == STORE_THROTTLE_MAX_KEYS);

    store_throttle_destroy (&throttle);
    assert (throttle == NULL);
    store_throttle_destroy (&throttle);     //  harmless twice
    //  A first delay of 60 s (as the tests give): 60, 120, 240 s, ceiling kept
    store_throttle_t *slow = store_throttle_new ();
    assert (slow);
    store_throttle_set_first_delay (slow, 60000);
    for (int failure = 0; failure < 5; failure++)
        store_throttle_failure (slow, "user:slow", now);
    assert (store_throttle_wait_ms (slow, "user:slow", now) == 60000);
    now += 60000;
    store_throttle_failure (slow, "user:slow", now);
    assert (store_throttle_wait_ms (slow, "user:slow", now) == 120000);
    assert (s_delay_ms (60000, 40) == STORE_THROTTLE_MAX_DELAY_MS);
    store_throttle_destroy (&slow);

    //  @end

    printf ("OK\n");
}
