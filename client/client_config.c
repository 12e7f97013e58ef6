/*  =========================================================================
    client_config - where the zpost client keeps things, and what it talks to

    This class answers three questions for the CLI and the interactive
    shell, and turns every wrong answer into a sentence a person can act
    on: which directories are mine, which key pair am I, and which server
    (endpoint and public key) do I talk to. The key files themselves are
    read and written by zpost_keys, so the client keeps them exactly as the
    broker and the store keep theirs.
    =========================================================================
*/

#include "client_config.h"
#include "zpost_keys.h"

#include <arpa/inet.h>
#include <errno.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

//  A person's address has no business being longer than a DNS name, a
//  port and a scheme; anything longer is refused before it is looked at.
#define ADDRESS_MAX     300
#define HOSTNAME_MAX    253
#define LABEL_MAX       63

struct _client_config_t {
    char *config_dir;           //  .../zpost for config, or NULL if no home
    char *state_dir;            //  .../zpost for state, or NULL if no home
    zcert_t *cert;              //  the client's key pair, once loaded
    char *endpoint;             //  the endpoints joined by ",", once set
    char *endpoints [CLIENT_CONFIG_SERVERS_MAX];    //  each "tcp://host:port"
    size_t servers;             //  endpoints in use (0 until set)
    char server_key [41];       //  Z85 server public key, "" until set
    client_settings_t *settings;    //  the config file, or NULL
    char *alias;                //  the servers name the address was, or NULL
    char error [512];           //  last failure, for a person
};

static void
s_set_error (client_config_t *self, const char *format, ...) CHECK_PRINTF (2);

static void
s_set_error (client_config_t *self, const char *format, ...)
{
    va_list args;
    va_start (args, format);
    vsnprintf (self->error, sizeof (self->error), format, args);
    va_end (args);
}

//  The XDG base directory spec says a relative or empty value is invalid
//  and must be ignored, so a stray "XDG_CONFIG_HOME=." cannot scatter key
//  files into whatever directory the client runs in.
static char *
s_xdg_dir (const char *variable, const char *fallback)
{
    const char *value = getenv (variable);
    if (value && *value == '/')
        return zsys_sprintf ("%s/zpost", value);

    const char *home = getenv ("HOME");
    if (!home || *home != '/') {
        struct passwd *entry = getpwuid (getuid ());
        home = entry && entry->pw_dir && *entry->pw_dir == '/'? entry->pw_dir: NULL;
    }
    if (!home)
        return NULL;
    return zsys_sprintf ("%s/%s/zpost", home, fallback);
}


//  --------------------------------------------------------------------------
//  Constructor and destructor

client_config_t *
client_config_new (const char *config_dir, const char *state_dir)
{
    client_config_t *self = (client_config_t *) zmalloc (sizeof (client_config_t));
    assert (self);
    self->config_dir = config_dir? strdup (config_dir)
                                 : s_xdg_dir ("XDG_CONFIG_HOME", ".config");
    self->state_dir = state_dir? strdup (state_dir)
                               : s_xdg_dir ("XDG_STATE_HOME", ".local/state");
    return self;
}

void
client_config_destroy (client_config_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        client_config_t *self = *self_p;
        zcert_destroy (&self->cert);
        zstr_free (&self->config_dir);
        zstr_free (&self->state_dir);
        zstr_free (&self->endpoint);
        for (size_t index = 0; index < self->servers; index++)
            zstr_free (&self->endpoints [index]);
        client_settings_destroy (&self->settings);
        zstr_free (&self->alias);
        free (self);
        *self_p = NULL;
    }
}


//  --------------------------------------------------------------------------
//  The config file

void
client_config_set_settings (client_config_t *self, client_settings_t **settings_p)
{
    assert (self);
    assert (settings_p);
    client_settings_destroy (&self->settings);
    self->settings = *settings_p;
    *settings_p = NULL;
}

client_settings_t *
client_config_settings (client_config_t *self)
{
    assert (self);
    return self->settings;
}

const char *
client_config_alias (client_config_t *self)
{
    assert (self);
    return self->alias;
}


//  --------------------------------------------------------------------------
//  Directories

const char *
client_config_dir (client_config_t *self)
{
    assert (self);
    return self->config_dir;
}

const char *
client_config_state_dir (client_config_t *self)
{
    assert (self);
    return self->state_dir;
}

int
client_config_make_state_dir (client_config_t *self)
{
    assert (self);
    if (!self->state_dir) {
        s_set_error (self, "cannot find your home directory; set HOME or XDG_STATE_HOME");
        return -1;
    }
    if (zpost_keys_make_private_dir (self->state_dir)) {
        s_set_error (self, "cannot create %s: %s", self->state_dir, strerror (errno));
        return -1;
    }
    return 0;
}


//  --------------------------------------------------------------------------
//  The client's key pair

//  The secret file's own checks, in the client's words; half pairs and
//  empty or damaged files get zpost_keys_open_pair's sentences.
static int
s_check_key_files (client_config_t *self, const char *public_path,
                   const char *secret_path)
{
    (void) public_path;         //  half pairs: zpost_keys_open_pair says
    struct stat secret_stat;
    bool have_secret = stat (secret_path, &secret_stat) == 0;

    if (have_secret && !S_ISREG (secret_stat.st_mode)) {
        s_set_error (self, "%s is not a regular file", secret_path);
        return -1;
    }
    if (have_secret && (secret_stat.st_mode & (S_IRWXG | S_IRWXO))) {
        s_set_error (self, "%s is accessible by group or others, so it is "
                     "refused; fix it with: chmod 600 %s", secret_path, secret_path);
        return -1;
    }
    return 0;
}

zcert_t *
client_config_client_cert (client_config_t *self)
{
    assert (self);
    if (self->cert)
        return self->cert;
    if (!self->config_dir) {
        s_set_error (self, "cannot find your home directory; set HOME or XDG_CONFIG_HOME");
        return NULL;
    }
    if (zpost_keys_make_private_dir (self->config_dir)) {
        s_set_error (self, "cannot create %s: %s", self->config_dir, strerror (errno));
        return NULL;
    }
    char *public_path = zsys_sprintf ("%s/client.key", self->config_dir);
    char *secret_path = zsys_sprintf ("%s/client.key_secret", self->config_dir);
    assert (public_path && secret_path);
    if (s_check_key_files (self, public_path, secret_path) == 0) {
        char error [1024];
        self->cert = zpost_keys_open_pair (public_path, error, sizeof (error));
        if (!self->cert)
            s_set_error (self, "%s", error);
    }
    zstr_free (&public_path);
    zstr_free (&secret_path);
    return self->cert;
}


//  --------------------------------------------------------------------------
//  The server's address

//  A DNS name or a dotted IPv4 address: labels of letters, digits and
//  inner hyphens, dot-separated, optionally one trailing dot. This also
//  keeps out "*" (bind syntax) and ";" (libzmq's source-address syntax).
static bool
s_valid_hostname (const char *host, size_t size)
{
    if (size == 0 || size > HOSTNAME_MAX)
        return false;
    if (host [size - 1] == '.')
        size--;             //  a fully qualified name
    size_t label = 0;
    for (size_t index = 0; index < size; index++) {
        char c = host [index];
        if (c == '.') {
            if (label == 0 || host [index - 1] == '-')
                return false;
            label = 0;
        }
        else
        if (isalnum ((unsigned char) c) || c == '-') {
            if (c == '-' && label == 0)
                return false;
            if (++label > LABEL_MAX)
                return false;
        }
        else
            return false;
    }
    return label > 0 && host [size - 1] != '-';
}

//  An IPv6 literal, with an optional "%zone" (link-local scope).
static bool
s_valid_ipv6 (const char *host, size_t size)
{
    char address [INET6_ADDRSTRLEN + 1];
    const char *percent = memchr (host, '%', size);
    size_t address_size = percent? (size_t) (percent - host): size;
    if (address_size == 0 || address_size >= sizeof (address))
        return false;
    memcpy (address, host, address_size);
    address [address_size] = 0;
    struct in6_addr binary;
    if (inet_pton (AF_INET6, address, &binary) != 1)
        return false;
    if (percent) {
        size_t zone_size = size - address_size - 1;
        if (zone_size == 0 || zone_size > 32)
            return false;
        for (size_t index = 0; index < zone_size; index++) {
            char c = percent [1 + index];
            if (!isalnum ((unsigned char) c) && c != '.' && c != '_' && c != '-')
                return false;
        }
    }
    return true;
}

//  Port text: 1 to 5 digits, 1..65535. Returns the port or 0.
static int
s_port (const char *text)
{
    size_t size = strlen (text);
    if (size == 0 || size > 5 || strspn (text, "0123456789") != size)
        return 0;
    int port = atoi (text);
    return port >= 1 && port <= 65535? port: 0;
}

int
client_config_write_private (const char *path, const char *text,
                             char *error, size_t error_size)
{
    assert (path && text && error);
    return zpost_keys_write_file (path, text, strlen (text), 0600, error, error_size);
}

char *
client_config_parse_address (const char *address, const char **reason_p)
{
    const char *reason = NULL;
    const char *host = NULL;            //  start of the host text
    size_t host_size = 0;
    bool bracketed = false;
    int port = CLIENT_CONFIG_DEFAULT_PORT;

    if (!address || !*address)
        reason = "the server address is empty";
    else
    if (strlen (address) > ADDRESS_MAX)
        reason = "the server address is too long";
    else {
        const char *rest = address;
        if (strncmp (rest, "tcp://", 6) == 0)
            rest += 6;
        else
        if (strstr (rest, "://"))
            reason = "only tcp:// server addresses are supported";

        const char *port_text = NULL;
        if (reason)
            ;
        else
        if (*rest == '[') {
            const char *close = strchr (rest, ']');
            if (!close)
                reason = "an IPv6 address needs its closing bracket, as in [::1]:5321";
            else {
                host = rest + 1;
                host_size = (size_t) (close - host);
                bracketed = true;
                if (close [1] == ':')
                    port_text = close + 2;
                else
                if (close [1] != 0)
                    reason = "after an IPv6 address in brackets comes only :port";
            }
        }
        else {
            const char *colon = strchr (rest, ':');
            if (colon && strchr (colon + 1, ':'))
                reason = strspn (rest, "0123456789abcdefABCDEF:.%") == strlen (rest)
                       ? "write an IPv6 address in brackets, as in [::1]:5321"
                       : "the address has more than one ':'";
            else {
                host = rest;
                host_size = colon? (size_t) (colon - rest): strlen (rest);
                if (colon)
                    port_text = colon + 1;
            }
        }
        if (!reason && port_text) {
            port = s_port (port_text);
            if (port == 0)
                reason = "the port must be a number from 1 to 65535";
        }
        if (!reason) {
            if (host_size == 0)
                reason = "the server address has no host name";
            else
            if (bracketed && !s_valid_ipv6 (host, host_size))
                reason = "that is not a valid IPv6 address";
            else
            if (!bracketed && !s_valid_hostname (host, host_size))
                reason = "the host must be a DNS name, an IPv4 address, "
                         "or an IPv6 address in brackets";
        }
    }
    if (reason_p)
        *reason_p = reason;
    if (reason)
        return NULL;

    char *endpoint = zsys_sprintf (bracketed? "tcp://[%.*s]:%d": "tcp://%.*s:%d",
                                   (int) host_size, host, port);
    assert (endpoint);
    return endpoint;
}

//  One entry of a list, without the blanks around it. Caller frees.
static char *
s_trimmed (const char *start, size_t size)
{
    while (size && (*start == ' ' || *start == '\t')) {
        start++;
        size--;
    }
    while (size && (start [size - 1] == ' ' || start [size - 1] == '\t'))
        size--;
    char *entry = strndup (start, size);
    assert (entry);
    return entry;
}

int
client_config_set_server (client_config_t *self, const char *address)
{
    assert (self);
    const char *source = "the server address";
    char source_text [300];
    const char *file = self->settings? client_settings_path (self->settings): NULL;
    if (!address) {
        address = getenv ("ZPOST_SERVER");
        source = "$ZPOST_SERVER";
        if ((!address || !*address) && file
        &&  client_settings_get (self->settings, "server")) {
            address = client_settings_get (self->settings, "server");
            snprintf (source_text, sizeof (source_text), "server in %.200s", file);
            source = source_text;
        }
        if (!address || !*address) {
            address = CLIENT_CONFIG_DEFAULT_HOST;
            source = "the server address";
        }
    }
    //  A name from the config file's servers section stands for its address
    const char *alias = self->settings? client_settings_alias (self->settings, address)
                                      : NULL;
    zstr_free (&self->alias);
    if (alias) {
        self->alias = strdup (address);
        assert (self->alias);
        snprintf (source_text, sizeof (source_text), "the server %.64s in %.200s",
                  address, file);
        source = source_text;
        address = alias;
    }
    //  A list of brokers of one deployment: "a:5321,b:5321". Each entry
    //  is read as a single address is; the first bad one is named.
    char *endpoints [CLIENT_CONFIG_SERVERS_MAX];
    size_t servers = 0;
    int rc = 0;
    bool list = strchr (address, ',') != NULL;
    const char *start = address;
    while (rc == 0) {
        const char *comma = strchr (start, ',');
        size_t size = comma? (size_t) (comma - start): strlen (start);
        if (servers == CLIENT_CONFIG_SERVERS_MAX) {
            s_set_error (self, "%s lists more than %d servers; give at most %d, "
                         "separated by commas", source, CLIENT_CONFIG_SERVERS_MAX,
                         CLIENT_CONFIG_SERVERS_MAX);
            rc = -1;
            break;
        }
        char *entry = s_trimmed (start, size);
        const char *reason;
        char *endpoint = client_config_parse_address (entry, &reason);
        if (!endpoint) {
            //  Quote at most a line of what was typed; the reason says the rest
            if (list)
                s_set_error (self, "%s '%.80s' is not usable: its entry %zu "
                             "('%.80s') is not, as %s; give a comma-separated list "
                             "of host, host:port or tcp://host:port",
                             source, address, servers + 1, entry, reason);
            else
                s_set_error (self, "%s '%.80s' is not usable: %s; give host, "
                             "host:port or tcp://host:port (or several, "
                             "separated by commas)", source, address, reason);
            rc = -1;
        }
        for (size_t index = 0; rc == 0 && index < servers; index++)
            if (streq (endpoints [index], endpoint)) {
                s_set_error (self, "%s '%.80s' is not usable: its entry %zu "
                             "('%.80s') is entry %zu again; give each server once",
                             source, address, servers + 1, entry, index + 1);
                rc = -1;
                zstr_free (&endpoint);
            }
        zstr_free (&entry);
        if (rc == 0)
            endpoints [servers++] = endpoint;
        if (!comma)
            break;
        start = comma + 1;
    }
    if (rc) {
        while (servers)
            zstr_free (&endpoints [--servers]);
        return -1;
    }
    for (size_t index = 0; index < self->servers; index++)
        zstr_free (&self->endpoints [index]);
    zstr_free (&self->endpoint);
    size_t joined_size = 0;
    for (size_t index = 0; index < servers; index++) {
        self->endpoints [index] = endpoints [index];
        joined_size += strlen (endpoints [index]) + 1;
    }
    self->servers = servers;
    //  The deployment's name is its brokers in sorted order, so that a
    //  login through "a,b" is found by "b,a" (lists given in another
    //  order to spread clients over the brokers)
    const char *sorted [CLIENT_CONFIG_SERVERS_MAX];
    for (size_t index = 0; index < servers; index++) {
        size_t place = index;
        while (place > 0 && strcmp (sorted [place - 1], endpoints [index]) > 0) {
            sorted [place] = sorted [place - 1];
            place--;
        }
        sorted [place] = endpoints [index];
    }
    self->endpoint = (char *) zmalloc (joined_size);
    assert (self->endpoint);
    for (size_t index = 0; index < servers; index++) {
        if (index)
            strcat (self->endpoint, ",");
        strcat (self->endpoint, sorted [index]);
    }
    return 0;
}

const char *
client_config_endpoint (client_config_t *self)
{
    assert (self);
    return self->endpoint;
}

size_t
client_config_servers (client_config_t *self)
{
    assert (self);
    return self->servers;
}

const char *
client_config_server_endpoint (client_config_t *self, size_t index)
{
    assert (self);
    return index < self->servers? self->endpoints [index]: NULL;
}


//  --------------------------------------------------------------------------
//  The server's public key

int
client_config_set_server_key (client_config_t *self, const char *key_or_file)
{
    assert (self);
    const char *source = "--server-key";
    if (!key_or_file) {
        key_or_file = getenv ("ZPOST_SERVER_KEY");
        source = "$ZPOST_SERVER_KEY";
    }
    if (!key_or_file || !*key_or_file) {
        s_set_error (self, "no server key: give --server-key KEY|FILE or set "
                     "ZPOST_SERVER_KEY; zpost-broker prints its public key when "
                     "it starts and keeps it in its keys directory as broker.key");
        return -1;
    }
    char key_text [41];
    if (zpost_keys_public_from (key_or_file, key_text)) {
        s_set_error (self, "%s '%.80s' is neither a 40-character Z85 public key "
                     "nor a readable file holding one", source, key_or_file);
        return -1;
    }
    memcpy (self->server_key, key_text, sizeof (self->server_key));
    self->server_key [40] = 0;
    return 0;
}

const char *
client_config_server_key (client_config_t *self)
{
    assert (self);
    return *self->server_key? self->server_key: NULL;
}

const char *
client_config_error (client_config_t *self)
{
    assert (self);
    return self->error;
}


//  --------------------------------------------------------------------------
//  Selftest

//  The selftest's asserts are its checks, and many call what they check:
//  they must stay in a build with NDEBUG (CMake's release types set it).
#undef NDEBUG
#include <assert.h>

//  Set or unset an environment variable, remembering the old value so the
//  test leaves the process as it found it.
static char *
s_env_swap (const char *name, const char *value)
{
    const char *old = getenv (name);
    char *saved = old? strdup (old): NULL;
    if (value)
        setenv (name, value, 1);
    else
        unsetenv (name);
    return saved;
}

static void
s_env_restore (const char *name, char **saved_p)
{
    if (*saved_p)
        setenv (name, *saved_p, 1);
    else
        unsetenv (name);
    zstr_free (saved_p);
}

static void
s_expect_address (const char *address, const char *expected, bool verbose)
{
    const char *reason = NULL;
    char *endpoint = client_config_parse_address (address, &reason);
    if (verbose)
        zsys_debug ("'%s' -> %s%s", address, endpoint? endpoint: "refused: ",
                    endpoint? "": reason);
    if (expected) {
        assert (endpoint);
        assert (streq (endpoint, expected));
        assert (reason == NULL);
    }
    else {
        assert (endpoint == NULL);
        assert (reason && *reason);
    }
    zstr_free (&endpoint);
}

void
client_config_test (bool verbose)
{
    printf (" * client_config: ");
    if (verbose)
        printf ("\n");

    //  @selftest
    //  Addresses a person may type
    s_expect_address ("localhost", "tcp://localhost:5321", verbose);
    s_expect_address ("127.0.0.1", "tcp://127.0.0.1:5321", verbose);
    s_expect_address ("mail.example.com:6000", "tcp://mail.example.com:6000", verbose);
    s_expect_address ("mail.example.com.", "tcp://mail.example.com.:5321", verbose);
    s_expect_address ("tcp://10.1.2.3:65535", "tcp://10.1.2.3:65535", verbose);
    s_expect_address ("tcp://host-1", "tcp://host-1:5321", verbose);
    s_expect_address ("[::1]", "tcp://[::1]:5321", verbose);
    s_expect_address ("[::1]:7000", "tcp://[::1]:7000", verbose);
    s_expect_address ("tcp://[fe80::1%eth0]:1", "tcp://[fe80::1%eth0]:1", verbose);

    //  ... and garbage, each with a reason
    const char *bad [] = {
        "", ":5321", "host:", "host:0", "host:65536", "host:12ab", "host:+80",
        "host:123456", "::1", "fe80::1:5321", "ipc://zpost.ipc", "udp://host:1",
        "tcp://", "tcp://:5321", "ho st", "a..b", ".a", "-host", "host-",
        "host-.example", "*:5321", "tcp://*:5321", "host:5321;other:5321",
        "[::1", "[::1]x", "[::1]:", "[zz::1]:5", "[]:5", "[::1%]:5",
        "[127.0.0.1]:5", "h\x01st", "h\xc3\xa9st", NULL
    };
    for (int index = 0; bad [index]; index++)
        s_expect_address (bad [index], NULL, verbose);
    char *long_name = (char *) zmalloc (400);
    memset (long_name, 'a', 399);
    s_expect_address (long_name, NULL, verbose);
    memset (long_name, 'a', 64);
    long_name [64] = 0;
    s_expect_address (long_name, NULL, verbose);    //  label over 63
    long_name [63] = 0;
    s_expect_address (long_name, "tcp://aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
                      "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa:5321", verbose);
    zstr_free (&long_name);

    //  A scratch home for the key files
    char scratch [] = "/tmp/zpost-client-config-XXXXXX";
    assert (mkdtemp (scratch));
    char *config_dir = zsys_sprintf ("%s/config/zpost", scratch);
    char *state_dir = zsys_sprintf ("%s/state/zpost", scratch);

    //  Server address through the object, with $ZPOST_SERVER as default
    client_config_t *config = client_config_new (config_dir, state_dir);
    assert (config);
    assert (streq (client_config_dir (config), config_dir));
    assert (streq (client_config_state_dir (config), state_dir));
    assert (streq (client_config_error (config), ""));
    assert (client_config_endpoint (config) == NULL);
    char *saved = s_env_swap ("ZPOST_SERVER", NULL);
    assert (client_config_set_server (config, NULL) == 0);
    assert (streq (client_config_endpoint (config), "tcp://127.0.0.1:5321"));
    setenv ("ZPOST_SERVER", "example.org:99", 1);
    assert (client_config_set_server (config, NULL) == 0);
    assert (streq (client_config_endpoint (config), "tcp://example.org:99"));
    setenv ("ZPOST_SERVER", "bad host", 1);
    assert (client_config_set_server (config, NULL) == -1);
    assert (strstr (client_config_error (config), "$ZPOST_SERVER"));
    //  A failed set keeps the last good endpoint
    assert (streq (client_config_endpoint (config), "tcp://example.org:99"));
    assert (client_config_set_server (config, "[::1]:5") == 0);
    assert (streq (client_config_endpoint (config), "tcp://[::1]:5"));
    assert (client_config_servers (config) == 1);
    assert (streq (client_config_server_endpoint (config, 0), "tcp://[::1]:5"));
    assert (client_config_server_endpoint (config, 1) == NULL);

    //  A list of brokers: each entry read as one address, in order
    assert (client_config_set_server (config, "a:5321, tcp://b:6000 ,[::1]") == 0);
    assert (client_config_servers (config) == 3);
    assert (streq (client_config_server_endpoint (config, 0), "tcp://a:5321"));
    assert (streq (client_config_server_endpoint (config, 1), "tcp://b:6000"));
    assert (streq (client_config_server_endpoint (config, 2), "tcp://[::1]:5321"));
    //  ... and the deployment is named by the sorted list, whatever its order
    assert (streq (client_config_endpoint (config),
                   "tcp://[::1]:5321,tcp://a:5321,tcp://b:6000"));
    assert (client_config_set_server (config, "b:6000,[::1],a:5321") == 0);
    assert (streq (client_config_server_endpoint (config, 0), "tcp://b:6000"));
    assert (streq (client_config_endpoint (config),
                   "tcp://[::1]:5321,tcp://a:5321,tcp://b:6000"));
    assert (client_config_set_server (config, "a:5321, tcp://b:6000 ,[::1]") == 0);
    //  ... the first bad entry is named, and nothing changes
    const char *bad_lists [] = {
        "a:5321,b:0", "a,,b", "a,", ",a", "a:5321,a", "a,b,tcp://a:5321",
        "a,[::1", "a,ipc://x", NULL
    };
    for (int index = 0; bad_lists [index]; index++) {
        assert (client_config_set_server (config, bad_lists [index]) == -1);
        if (verbose)
            zsys_debug ("%s", client_config_error (config));
        assert (strstr (client_config_error (config), "entry"));
        assert (client_config_servers (config) == 3);
    }
    assert (client_config_set_server (config, "a:5321,b:0") == -1);
    assert (strstr (client_config_error (config), "entry 2 ('b:0')"));
    assert (client_config_set_server (config, "a:5321,b,a") == -1);
    assert (strstr (client_config_error (config), "entry 3 ('a') is entry 1 again"));
    //  ... at most CLIENT_CONFIG_SERVERS_MAX
    char many [CLIENT_CONFIG_SERVERS_MAX * 8 + 16] = "";
    for (int index = 0; index < CLIENT_CONFIG_SERVERS_MAX; index++)
        sprintf (many + strlen (many), "%sh%d", index? ",": "", index);
    assert (client_config_set_server (config, many) == 0);
    assert (client_config_servers (config) == CLIENT_CONFIG_SERVERS_MAX);
    strcat (many, ",extra");
    assert (client_config_set_server (config, many) == -1);
    assert (strstr (client_config_error (config), "more than 16 servers"));
    assert (client_config_servers (config) == CLIENT_CONFIG_SERVERS_MAX);
    setenv ("ZPOST_SERVER", "x:1,y:2", 1);
    assert (client_config_set_server (config, NULL) == 0);
    assert (client_config_servers (config) == 2);
    setenv ("ZPOST_SERVER", "x:1,y:99999", 1);
    assert (client_config_set_server (config, NULL) == -1);
    assert (strstr (client_config_error (config), "$ZPOST_SERVER"));
    assert (strstr (client_config_error (config), "entry 2"));
    s_env_restore ("ZPOST_SERVER", &saved);

    //  Server key: Z85 text, a public certificate file, a text file,
    //  $ZPOST_SERVER_KEY, and a clear error without any of them
    zcert_t *server = zcert_new ();
    assert (server);
    const char *server_text = zcert_public_txt (server);
    saved = s_env_swap ("ZPOST_SERVER_KEY", NULL);
    assert (client_config_server_key (config) == NULL);
    assert (client_config_set_server_key (config, NULL) == -1);
    assert (strstr (client_config_error (config), "--server-key"));
    assert (strstr (client_config_error (config), "ZPOST_SERVER_KEY"));
    assert (client_config_set_server_key (config, server_text) == 0);
    assert (streq (client_config_server_key (config), server_text));

    char *cert_file = zsys_sprintf ("%s/server.key", scratch);
    assert (zcert_save_public (server, cert_file) == 0);
    zcert_t *other = zcert_new ();
    assert (client_config_set_server_key (config, zcert_public_txt (other)) == 0);
    assert (client_config_set_server_key (config, cert_file) == 0);
    assert (streq (client_config_server_key (config), server_text));

    char *text_file = zsys_sprintf ("%s/server.txt", scratch);
    FILE *file = fopen (text_file, "w");
    assert (file);
    fprintf (file, "%s\n", zcert_public_txt (other));
    fclose (file);
    assert (client_config_set_server_key (config, text_file) == 0);
    assert (streq (client_config_server_key (config), zcert_public_txt (other)));

    setenv ("ZPOST_SERVER_KEY", server_text, 1);
    assert (client_config_set_server_key (config, NULL) == 0);
    assert (streq (client_config_server_key (config), server_text));
    setenv ("ZPOST_SERVER_KEY", "not a key", 1);
    assert (client_config_set_server_key (config, NULL) == -1);
    assert (strstr (client_config_error (config), "$ZPOST_SERVER_KEY"));
    assert (client_config_set_server_key (config, "/nonexistent/key") == -1);
    assert (strstr (client_config_error (config), "--server-key"));
    //  A failed set keeps the last good key
    assert (streq (client_config_server_key (config), server_text));
    s_env_restore ("ZPOST_SERVER_KEY", &saved);
    zstr_free (&cert_file);
    zstr_free (&text_file);
    zcert_destroy (&other);
    zcert_destroy (&server);

    //  The client key pair: created on first use, 0600 in a 0700 dir,
    //  the same key the next time
    zcert_t *cert = client_config_client_cert (config);
    assert (cert);
    assert (client_config_client_cert (config) == cert);
    char *public_path = zsys_sprintf ("%s/client.key", config_dir);
    char *secret_path = zsys_sprintf ("%s/client.key_secret", config_dir);
    struct stat info;
    assert (stat (config_dir, &info) == 0);
    assert ((info.st_mode & 0777) == 0700);
    assert (stat (secret_path, &info) == 0);
    assert ((info.st_mode & 077) == 0);
    assert (stat (public_path, &info) == 0);
    char *public_text = strdup (zcert_public_txt (cert));
    client_config_destroy (&config);
    assert (config == NULL);
    client_config_destroy (&config);            //  harmless twice

    config = client_config_new (config_dir, state_dir);
    cert = client_config_client_cert (config);
    assert (cert);
    assert (streq (zcert_public_txt (cert), public_text));
    assert (client_config_make_state_dir (config) == 0);
    assert (stat (state_dir, &info) == 0);
    assert ((info.st_mode & 0777) == 0700);
    client_config_destroy (&config);

    //  A loose secret file is refused, saying how to fix it
    assert (chmod (secret_path, 0644) == 0);
    config = client_config_new (config_dir, state_dir);
    assert (client_config_client_cert (config) == NULL);
    assert (strstr (client_config_error (config), "chmod 600"));
    client_config_destroy (&config);
    assert (chmod (secret_path, 0600) == 0);

    //  A lost public half is made again from the secret (same key); a
    //  lost secret is refused rather than silently replaced
    assert (unlink (public_path) == 0);
    config = client_config_new (config_dir, state_dir);
    cert = client_config_client_cert (config);
    assert (cert && streq (zcert_public_txt (cert), public_text));
    client_config_destroy (&config);
    char *moved_path = zsys_sprintf ("%s.moved", secret_path);
    assert (rename (secret_path, moved_path) == 0);
    config = client_config_new (config_dir, state_dir);
    assert (client_config_client_cert (config) == NULL);
    assert (strstr (client_config_error (config), "exists without"));
    client_config_destroy (&config);
    assert (rename (moved_path, secret_path) == 0);
    zstr_free (&moved_path);
    //  An empty secret, as an older zpost left on a full disk, is named
    assert (truncate (secret_path, 0) == 0);
    config = client_config_new (config_dir, state_dir);
    assert (client_config_client_cert (config) == NULL);
    assert (strstr (client_config_error (config), "is empty"));
    client_config_destroy (&config);
    zstr_free (&public_text);
    zstr_free (&public_path);
    zstr_free (&secret_path);

    //  XDG defaults: absolute values win, relative ones are ignored
    char *saved_config = s_env_swap ("XDG_CONFIG_HOME", "/xdg/config");
    char *saved_state = s_env_swap ("XDG_STATE_HOME", "relative/state");
    char *saved_home = s_env_swap ("HOME", "/home/someone");
    config = client_config_new (NULL, NULL);
    assert (streq (client_config_dir (config), "/xdg/config/zpost"));
    assert (streq (client_config_state_dir (config), "/home/someone/.local/state/zpost"));
    client_config_destroy (&config);
    unsetenv ("XDG_CONFIG_HOME");
    config = client_config_new (NULL, NULL);
    assert (streq (client_config_dir (config), "/home/someone/.config/zpost"));
    client_config_destroy (&config);
    s_env_restore ("XDG_CONFIG_HOME", &saved_config);
    s_env_restore ("XDG_STATE_HOME", &saved_state);
    s_env_restore ("HOME", &saved_home);

    //  A private file is written whole, 0600, and replaced in one step;
    //  a directory it cannot be written in gives a sentence, not a file
    char *private_path = zsys_sprintf ("%s/private.txt", scratch);
    char error [256] = "";
    assert (client_config_write_private (private_path, "first\n", error, sizeof error) == 0);
    assert (client_config_write_private (private_path, "second\n", error, sizeof error) == 0);
    struct stat private_info;
    assert (stat (private_path, &private_info) == 0);
    assert ((private_info.st_mode & 0777) == 0600);
    FILE *private_file = fopen (private_path, "r");
    assert (private_file);
    char private_text [16] = "";
    assert (fgets (private_text, sizeof private_text, private_file));
    fclose (private_file);
    assert (streq (private_text, "second\n"));
    unlink (private_path);
    zstr_free (&private_path);
    assert (client_config_write_private ("/nonexistent-dir/private.txt", "x",
                                         error, sizeof error) == -1);
    assert (strstr (error, "/nonexistent-dir/private.txt"));

    zdir_t *dir = zdir_new (scratch, NULL);
    assert (dir);
    zdir_remove (dir, true);
    zdir_destroy (&dir);
    zstr_free (&config_dir);
    zstr_free (&state_dir);
    //  @end

    printf ("OK\n");
}
