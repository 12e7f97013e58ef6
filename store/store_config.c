/*  =========================================================================
    store_config - the store's defaults, in one place
    =========================================================================
*/

#include "store_config.h"
#include "store_throttle.h"
#include <sodium.h>
#include <unistd.h>

void
store_config_defaults (store_config_t *config, size_t map_current)
{
    assert (config);
    if (!config->body_limit)
        config->body_limit = STORE_BODY_LIMIT;
    if (!config->quota)
        config->quota = STORE_QUOTA;
    if (!config->session_idle)
        config->session_idle = STORE_SESSION_IDLE;
    if (!config->session_max)
        config->session_max = STORE_SESSION_MAX;
    if (!config->pwhash_ops)
        config->pwhash_ops = crypto_pwhash_OPSLIMIT_INTERACTIVE;
    if (!config->pwhash_mem)
        config->pwhash_mem = crypto_pwhash_MEMLIMIT_INTERACTIVE;
    if (!config->hashers) {
        //  Every core: a burst of logins is the one time the store has
        //  more to compute than to move, and the loop itself waits on
        //  the disk, not the CPU
        long cores = sysconf (_SC_NPROCESSORS_ONLN);
        config->hashers = cores > 1? (size_t) cores: 1;
    }
    if (!config->reply_keep)
        config->reply_keep = STORE_REPLY_KEEP;
    if (!config->sweep_interval)
        config->sweep_interval = STORE_SWEEP_INTERVAL;
    if (!config->hash_wait_max)
        config->hash_wait_max = STORE_HASH_WAIT_MAX;
    if (!config->throttle_delay)
        config->throttle_delay = STORE_THROTTLE_FIRST_DELAY_MS;
    if (config->map_max < map_current)
        config->map_max = map_current;
    if (!config->capacity)
        config->capacity = STORE_CAPACITY;
}

void
store_config_test (bool verbose)
{
    printf (" * store_config: ");
    if (verbose)
        printf ("\n");

    //  @selftest
    //  Every zero gets its default; what was given stays
    store_config_t config = { .quota = 5 };
    store_config_defaults (&config, 4096);
    assert (config.quota == 5);
    assert (config.body_limit == STORE_BODY_LIMIT);
    assert (config.reply_keep == STORE_REPLY_KEEP);
    assert (config.hashers >= 1);
    assert (config.map_max == 4096);
    assert (config.throttle_delay == STORE_THROTTLE_FIRST_DELAY_MS);

    assert (config.capacity == STORE_CAPACITY);
    store_config_t given = { .capacity = 500 };
    store_config_defaults (&given, 0);
    assert (given.capacity == 500);
    //  @end

    printf ("OK\n");
}
