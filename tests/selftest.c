/*  =========================================================================
    selftest - runs the selftest of one class, or of all of them

        zpost_selftest [-v] [CLASS]

    Each class's x_test (verbose) is its unit test and its usage example;
    ctest runs them one class per test so a failure names its class.
    =========================================================================
*/

#include "zpost_status.h"
#include "zpost_msg.h"
#include "zpost_link.h"
#include "zpost_keys.h"
#include "zpost_announce.h"
#include "broker_workers.h"
#include "broker_zap.h"
#include "broker_announce.h"
#include "store_db.h"
#include "store_records.h"
#include "store_config.h"
#include "store_commit.h"
#include "store_server.h"
#include "store_hasher.h"
#include "store_throttle.h"
#include "store_dump.h"
#include "store_watch.h"
#include "client_config.h"
#include "client_session.h"
#include "client_output.h"
#include "client_state.h"
#include "client_input.h"
#include "client_keys.h"
#include "client_shell.h"
#include "client_check.h"
#include "client_json.h"
#include "client_commands.h"
#include "client_settings.h"
#include "client_draft.h"
#include "client_compose.h"

typedef struct {
    const char *name;               //  class name as given on the command line
    void (*test) (bool verbose);    //  its selftest
} s_selftest_t;

static const s_selftest_t s_selftests [] = {
    { "status", zpost_status_test },
    { "msg", zpost_msg_test },
    { "link", zpost_link_test },
    { "keys", zpost_keys_test },
    { "announce", zpost_announce_test },
    { "broker_workers", broker_workers_test },
    { "broker_zap", broker_zap_test },
    { "broker_announce", broker_announce_test },
    { "store_db", store_db_test },
    { "store_records", store_records_test },
    { "store_messages", store_messages_test },
    { "store_config", store_config_test },
    { "store_commit", store_commit_test },
    { "store_server", store_server_test },
    { "store_hasher", store_hasher_test },
    { "store_throttle", store_throttle_test },
    { "store_dump", store_dump_test },
    { "store_watch", store_watch_test },
    { "client_config", client_config_test },
    { "client_session", client_session_test },
    { "client_output", client_output_test },
    { "client_state", client_state_test },
    { "client_input", client_input_test },
    { "client_keys", client_keys_test },
    { "client_shell", client_shell_test },
    { "client_check", client_check_test },
    { "client_json", client_json_test },
    { "client_commands", client_commands_test },
    { "client_settings", client_settings_test },
    { "client_draft", client_draft_test },
    { "client_compose", client_compose_test },
};

int
main (int argc, char *argv [])
{
    bool verbose = false;
    const char *only = NULL;
    for (int index = 1; index < argc; index++) {
        if (streq (argv [index], "-v"))
            verbose = true;
        else
            only = argv [index];
    }
    zsys_init ();
    bool found = false;
    for (size_t index = 0; index < sizeof (s_selftests) / sizeof (s_selftests [0]); index++) {
        if (only && !streq (only, s_selftests [index].name))
            continue;
        found = true;
        printf ("Running %s selftest...\n", s_selftests [index].name);
        s_selftests [index].test (verbose);
    }
    if (!found) {
        fprintf (stderr, "selftest: no class named '%s'\n", only);
        return 2;
    }
    printf ("Tests passed OK\n");
    return 0;
}
