/*  =========================================================================
    client_cmd_keys - the one-shot commands about the servers' keys

        zpost forget-key HOST[:PORT]

    forget-key is ssh-keygen -R for known_servers: it removes the lines of
    a server whose key changed for a reason the operator confirmed, so that
    the next connection meets the new key and asks. Every name of the same
    host and port goes too ("localhost:5321" and "127.0.0.1:5321"): the
    client takes one for the other (client_keys_same_host), so forgetting
    one name and keeping the other would forget nothing. Nothing is sent
    to any server.
    =========================================================================
*/

#include "client_commands.h"
#include "client_output.h"

static int
s_forget_key (client_call_t *call)
{
    client_app_t *app = call->app;
    const char *typed = call->argv [0];
    //  A name from the config file's servers stands for its address
    client_settings_t *settings = client_config_settings (app->config);
    const char *alias = settings? client_settings_alias (settings, typed): NULL;
    const char *address = alias? alias: typed;
    if (strchr (address, ','))
        return client_call_misuse (call, "takes one server, not a list: forget "
                                   "each broker's key by its name");
    const char *reason = NULL;
    char *endpoint = client_config_parse_address (address, &reason);
    if (!endpoint)
        return client_call_misuse (call, "'%.80s' is not a server: %s; give host, "
                                   "host:port or tcp://host:port", address, reason);
    char *server = client_keys_server_name (endpoint);
    free (endpoint);

    const char *dir = client_config_dir (app->config);
    if (!dir) {
        free (server);
        return client_api_fail (app, CLIENT_EXIT_LOCAL, 0, "LOCAL_ERROR",
                                "cannot find your home directory, where the keys of "
                                "known servers are kept; set HOME");
    }
    char *path = zsys_sprintf ("%s/" CLIENT_KEYS_FILE, dir);
    assert (path);
    client_keys_t *keys = client_keys_new (path);
    char *safe_path = client_output_safe_str (path, CLIENT_OUTPUT_LINE);
    free (path);
    char *forgotten = NULL;
    int status = CLIENT_EXIT_DONE;
    int count = client_keys_load (keys) == 0
              ? client_keys_forget (keys, server, &forgotten): -1;
    if (count == -1)
        status = client_api_fail (app, CLIENT_EXIT_LOCAL, 0, "LOCAL_ERROR", "%s",
                                  client_keys_error (keys));
    else
    if (count == 0)
        status = client_api_fail (app, CLIENT_EXIT_REFUSED, 0, "NOT_KNOWN",
                                  "no key is kept for %s in %s, so nothing was "
                                  "changed", server, safe_path);
    else
    if (app->json) {
        json_t *object = json_pack ("{s:s, s:s, s:s, s:i}", "server", server,
                                    "file", client_keys_path (keys),
                                    "forgotten", forgotten, "count", count);
        assert (object);
        client_json_emit (object);
        json_decref (object);
    }
    else
        printf ("forgot the key%s of %s in %s; the next connection asks about "
                "the key the server announces\n", count == 1? "": "s", forgotten,
                safe_path);
    free (forgotten);
    free (safe_path);
    free (server);
    client_keys_destroy (&keys);
    return status;
}

const client_command_t client_cmd_forget_key = {
    "forget-key", "HOST[:PORT]",
    "Forget the key kept for a server (as ssh-keygen -R).",
    "\n"
    "Removes the server's line from known_servers, and the lines of the other\n"
    "names of the same host and port (localhost and 127.0.0.1 are one host),\n"
    "keeping every other line as it is. Do it only when the server's operator\n"
    "confirms that its key changed: the next connection shows the new key's\n"
    "fingerprint and asks before trusting it. HOST may be a name from the\n"
    "config file's servers section. Nothing is sent. A server with no key\n"
    "kept is exit 1 (NOT_KNOWN).\n"
    "\n"
    "Options:\n"
    CLIENT_COMMAND_JSON_HELP
    "\n"
    "JSON: {\"server\": \"host:port\", \"file\": PATH, \"forgotten\":\n"
    "\"host:port (line N), ...\", \"count\": N}\n",
    CLIENT_COMMAND_JSON,
    { { NULL, 0, false, false } },
    1, 1, "needs the server whose key to forget: HOST[:PORT]",
    "takes one server", NULL, s_forget_key
};
