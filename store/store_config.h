/*  =========================================================================
    store_config - what a store is told when it starts, and its defaults

    One struct for the whole store: the link (store_server) reads the
    endpoint and keys, the engine reads the limits and policies. A zero
    means "the default"; store_config_defaults fills them in, once, so
    every reader sees the same numbers.
    =========================================================================
*/

#ifndef STORE_CONFIG_H_INCLUDED
#define STORE_CONFIG_H_INCLUDED

#include <czmq.h>

#define STORE_BODY_LIMIT        (1024 * 1024)
#define STORE_QUOTA             (100ULL * 1024 * 1024)
#define STORE_SESSION_IDLE      1800
#define STORE_SESSION_MAX       86400
#define STORE_REPLY_KEEP        86400   //  seconds a recorded reply is kept
#define STORE_SWEEP_INTERVAL    1000    //  msecs between sweeps when idle
#define STORE_HASH_WAIT_MAX     2500    //  msecs of queued password work, at most;
                                        //  below the broker's 5 s deadline
#define STORE_KEY_JOBS_MAX      4       //  password jobs one client key may have queued
#define STORE_BROKERS_MAX       16      //  brokers one store serves at most
#define STORE_CAPACITY          1000    //  requests in flight, sent in READY; the
                                        //  broker bounds their bytes itself

typedef struct _store_db_t store_db_t;

typedef struct {
    store_db_t *db;             //  the environment; lent, must outlive the actor
    const char *endpoint;       //  the broker's back end (one broker)
    const char *broker_key;     //  broker public key, Z85; required for tcp://
    size_t brokers;             //  with several brokers, how many (at most
                                //  STORE_BROKERS_MAX); 0: endpoint alone
    const char *const *endpoints;   //  their back ends, brokers of them
    const char *const *broker_keys; //  their public keys, NULL for ipc://
    zcert_t *cert;              //  our key pair for tcp://; copied; NULL otherwise
    const char *name;           //  store-name in READY, 1..64 visible ASCII
    uint32_t capacity;          //  capacity in READY; 0 = STORE_CAPACITY
    int heartbeat;              //  msecs between heartbeats; 0 = default
    bool verbose;               //  log every message on the link
    size_t map_max;             //  bytes the map may grow to; 0 = no growth
    size_t body_limit;          //  most body bytes in a SEND; 0 = 1 MiB
    uint64_t quota;             //  most inbox bytes per user; 0 = 100 MiB
    int session_idle;           //  seconds a session lives unused; 0 = 1800
    int session_max;            //  seconds a session lives at most; 0 = 86400
    size_t hashers;             //  Argon2id threads; 0 = one per core
    unsigned long long pwhash_ops;  //  Argon2id passes; 0 = INTERACTIVE
    size_t pwhash_mem;          //  Argon2id bytes; 0 = INTERACTIVE
    bool no_group_commit;       //  commit after each request (for comparison)
    uint64_t reply_keep;        //  seconds a recorded reply is kept; 0 = 86400
    int sweep_interval;         //  msecs between idle sweeps; 0 = 1000
    int hash_wait_max;          //  msecs of password work a request may wait; 0 = 2500
    int throttle_delay;         //  msecs of the first login delay; 0 = 1000
    size_t watch_max;           //  WATCHes waiting at once; 0 = STORE_WATCH_MAX
} store_config_t;

//  Fill in every zero with its default. map_current is the map's size now:
//  map_max is never below it.
void
    store_config_defaults (store_config_t *config, size_t map_current);

//  Selftest
void
    store_config_test (bool verbose);

#endif
