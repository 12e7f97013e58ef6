/*  =========================================================================
    store_db - the store's LMDB environment: opened safely, or not at all

    This class is the only code that opens or closes the environment. It
    owns the decisions that must be right before the first byte is written:
    where the files live and who may read them (0700 directory, 0600
    files), how large the map is, that a commit means fsync (no unsafe
    flags, checked after opening rather than trusted), that reader slots of
    crashed processes do not pin old pages forever, and which schema the
    data was written with. Everything else about the schema belongs to the
    modules that use the tables (store_auth, store_mail); this file only
    opens them.
    =========================================================================
*/

#include "store_lmdb.h"
#include "store_pg.h"
#include "zpost_keys.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

//  Each of these lets a commit return before its pages are on disk
//  (NOSYNC, NOMETASYNC, MAPASYNC), lets a stray pointer write into the
//  map (WRITEMAP), or lets two processes write at once (NOLOCK). The
//  store shares its environment with other store processes, and says
//  "stored" only after a commit, so it runs with none of them.
static const struct {
    unsigned int flag;
    const char *name;
} s_unsafe_flags [] = {
    { MDB_NOSYNC,       "MDB_NOSYNC" },
    { MDB_NOMETASYNC,   "MDB_NOMETASYNC" },
    { MDB_MAPASYNC,     "MDB_MAPASYNC" },
    { MDB_WRITEMAP,     "MDB_WRITEMAP" },
    { MDB_NOLOCK,       "MDB_NOLOCK" },
};

//  See the header on MDB_NOTLS. Nothing else: durability comes from the
//  defaults.
#define S_ENV_FLAGS     MDB_NOTLS

//  The named databases, in store_db_table_t order. The flags are part of
//  the on-disk format: a table created with MDB_DUPSORT cannot later be
//  opened without it, so a table is added only by the issue that defines
//  its records.
static const struct {
    const char *name;
    unsigned int flags;
} s_tables [STORE_DB_TABLES] = {
    [STORE_DB_META] = { "meta", 0 },
    [STORE_DB_USERS] = { "users", 0 },
    [STORE_DB_SESSIONS] = { "sessions", 0 },
    [STORE_DB_USER_SESSIONS] = { "user-sessions", 0 },
    [STORE_DB_KNOWN_KEYS] = { "known-keys", 0 },
    [STORE_DB_MESSAGES] = { "messages", 0 },
    [STORE_DB_REFS] = { "refs", 0 },
    [STORE_DB_FOLDERS] = { "folders", 0 },
    [STORE_DB_REPLIES] = { "replies", 0 },
    [STORE_DB_REPLY_TIMES] = { "reply-times", 0 },
    [STORE_DB_THREADS] = { "threads", 0 },
    [STORE_DB_SEARCH] = { "search", 0 },
};

#define S_SCHEMA_KEY    "schema-version"
#define S_SCHEMA_DIGITS 9           //  a version fits an unsigned int

struct _store_db_t {
    char *dir;                      //  data directory, as given
    store_pg_t *pg;                 //  PostgreSQL instead of LMDB: the connection
    MDB_env *env;                   //  the environment
    MDB_dbi dbi [STORE_DB_TABLES];  //  named databases, opened at start
    unsigned int schema;            //  schema version of the environment
    char *full_why;                 //  the last STORE_DISK_FULL, in words
};


//  --------------------------------------------------------------------------
//  The one error convention: LMDB (and errno) codes turned into words.

int
store_db_error (const char *what, int rc)
{
    zsys_error ("store_db: %s: %s", what, mdb_strerror (rc));
    return -1;
}

//  Failure while opening: say which directory and which step, close what
//  was opened, and return NULL for store_db_new to pass on.
static store_db_t *
s_refuse (store_db_t **self_p, const char *what, int rc)
{
    zsys_error ("store_db: cannot open the store in %s: %s: %s",
                (*self_p)->dir, what, mdb_strerror (rc));
    store_db_destroy (self_p);
    return NULL;
}


//  --------------------------------------------------------------------------
//  Read the environment's flags back and refuse any that would make a
//  commit less than durable. 0 if safe, -1 (after saying why) if not.

static int
s_check_flags (MDB_env *env, const char *dir)
{
    unsigned int flags = 0;
    int rc = mdb_env_get_flags (env, &flags);
    if (rc)
        return store_db_error ("mdb_env_get_flags", rc);

    int unsafe = 0;
    for (size_t i = 0; i < sizeof (s_unsafe_flags) / sizeof (s_unsafe_flags [0]); i++)
        if (flags & s_unsafe_flags [i].flag) {
            zsys_error ("store_db: %s: LMDB flag %s is set; the store runs "
                        "only with full sync", dir, s_unsafe_flags [i].name);
            unsafe++;
        }
    return unsafe? -1: 0;
}


//  --------------------------------------------------------------------------
//  Parse a stored schema version: 1..S_SCHEMA_DIGITS decimal digits, no
//  leading zero. Returns 0 if the record is not one (a damaged or foreign
//  environment).

static unsigned int
s_parse_schema (const MDB_val *value)
{
    const char *digits = (const char *) value->mv_data;
    if (value->mv_size == 0 || value->mv_size > S_SCHEMA_DIGITS
    ||  digits [0] == '0')
        return 0;
    unsigned int schema = 0;
    for (size_t i = 0; i < value->mv_size; i++) {
        if (digits [i] < '0' || digits [i] > '9')
            return 0;
        schema = schema * 10 + (unsigned int) (digits [i] - '0');
    }
    return schema;
}


//  --------------------------------------------------------------------------
//  Open every table and check (or, in a new environment, write) the schema
//  version, in one write transaction, so the handles are valid for every
//  later transaction. Returns 0, or an LMDB/errno code; *what says which
//  step failed. A schema this code cannot read gives MDB_INCOMPATIBLE.

static int
s_open_tables (store_db_t *self, const char **what)
{
    MDB_txn *txn;
    int rc = mdb_txn_begin (self->env, NULL, 0, &txn);
    if (rc) {
        *what = "mdb_txn_begin";
        return rc;
    }
    for (int table = 0; table < STORE_DB_TABLES && rc == 0; table++) {
        rc = mdb_dbi_open (txn, s_tables [table].name,
                           s_tables [table].flags | MDB_CREATE, &self->dbi [table]);
        *what = "mdb_dbi_open";
    }
    MDB_val key = { strlen (S_SCHEMA_KEY), S_SCHEMA_KEY };
    MDB_val value;
    if (rc == 0) {
        *what = "reading the schema version";
        rc = mdb_get (txn, self->dbi [STORE_DB_META], &key, &value);
    }
    if (rc == MDB_NOTFOUND) {
        //  A new environment: it is written with the current schema
        char text [S_SCHEMA_DIGITS + 1];
        snprintf (text, sizeof (text), "%u", STORE_DB_SCHEMA_VERSION);
        value.mv_size = strlen (text);
        value.mv_data = text;
        *what = "writing the schema version";
        rc = mdb_put (txn, self->dbi [STORE_DB_META], &key, &value, 0);
        self->schema = STORE_DB_SCHEMA_VERSION;
    }
    else
    if (rc == 0) {
        self->schema = s_parse_schema (&value);
        if (self->schema == 0) {
            zsys_error ("store_db: %s: the schema version record is damaged",
                        self->dir);
            rc = MDB_INCOMPATIBLE;
        }
        else
        if (self->schema > STORE_DB_SCHEMA_VERSION) {
            zsys_error ("store_db: %s: written with schema %u; this zpost-store "
                        "reads schema %u at most; run a newer zpost-store",
                        self->dir, self->schema, STORE_DB_SCHEMA_VERSION);
            rc = MDB_INCOMPATIBLE;
        }
        else
        if (self->schema < STORE_DB_SCHEMA_VERSION) {
            //  Schema 1 to 2: a folder entry's byte was its seen flag, 0
            //  or 1, and is now its marks, of which seen is bit 1: the
            //  same values. A message record of schema 1 has no thread:
            //  it is read as the first of its own (store_messages.c),
            //  and the threads table, created above, is empty.
            //  Nothing is rewritten; only the version, so that an older
            //  zpost-store, which would misread the new marks, refuses it.
            //  Schema 2 to 3: the search table, created above, gets the
            //  signature of every message (SEARCH reads one it lacks
            //  whole, so this is for speed: an older zpost-store, which
            //  writes none, is refused only so that none is missing).
            store_txn_t wrapper = { .db = self, .handle = txn };
            size_t written = 0;
            *what = "indexing the messages for SEARCH";
            rc = store_lmdb_search_index (&wrapper, &written);
            if (rc == 0 && written)
                zsys_info ("store_db: %s: indexed %zu messages for SEARCH", self->dir,
                           written);
            char text [S_SCHEMA_DIGITS + 1];
            snprintf (text, sizeof (text), "%u", STORE_DB_SCHEMA_VERSION);
            value.mv_size = strlen (text);
            value.mv_data = text;
            if (rc == 0) {
                *what = "migrating the schema";
                rc = mdb_put (txn, self->dbi [STORE_DB_META], &key, &value, 0);
            }
            if (rc == 0)
                zsys_info ("store_db: %s: migrated the schema from version %u to %u",
                           self->dir, self->schema, STORE_DB_SCHEMA_VERSION);
            self->schema = STORE_DB_SCHEMA_VERSION;
        }
    }
    if (rc) {
        mdb_txn_abort (txn);
        return rc;
    }
    *what = "mdb_txn_commit";
    return mdb_txn_commit (txn);
}


//  --------------------------------------------------------------------------
//  Constructor

store_db_t *
store_db_new (const char *dir, size_t map_size)
{
    assert (dir);
    assert (map_size > 0);

    store_db_t *self = (store_db_t *) zmalloc (sizeof (store_db_t));
    assert (self);
    self->dir = strdup (dir);
    assert (self->dir);

    if (zpost_keys_make_private_dir (dir)) {
        //  zpost_keys has logged the system's reason
        zsys_error ("store_db: cannot open the store in %s: the directory "
                    "cannot be made", dir);
        store_db_destroy (&self);
        return NULL;
    }

    struct stat st;
    if (stat (dir, &st))
        return s_refuse (&self, "stat", errno);
    if (!S_ISDIR (st.st_mode))
        return s_refuse (&self, "not a directory", ENOTDIR);
    if (st.st_mode & 077)
        zsys_warning ("store_db: %s is open to group or others (mode %03o); "
                      "chmod 700 it", dir, (unsigned int) (st.st_mode & 0777));

    int rc = mdb_env_create (&self->env);
    if (rc) {
        self->env = NULL;
        return s_refuse (&self, "mdb_env_create", rc);
    }
    rc = mdb_env_set_mapsize (self->env, map_size);
    if (rc)
        return s_refuse (&self, "mdb_env_set_mapsize", rc);
    rc = mdb_env_set_maxdbs (self->env, STORE_DB_MAXDBS);
    if (rc)
        return s_refuse (&self, "mdb_env_set_maxdbs", rc);
    rc = mdb_env_open (self->env, dir, S_ENV_FLAGS, 0600);
    if (rc)
        return s_refuse (&self, "mdb_env_open", rc);

    if (s_check_flags (self->env, dir))
        return s_refuse (&self, "unsafe environment flags", MDB_INCOMPATIBLE);

    //  A process that died inside a read transaction leaves its slot
    //  taken, and the pages its snapshot saw can never be reused until the
    //  slot is cleared. Only the pid's liveness is checked, so this is safe
    //  while other store processes are using the environment.
    int dead = 0;
    rc = mdb_reader_check (self->env, &dead);
    if (rc)
        return s_refuse (&self, "mdb_reader_check", rc);
    zsys_info ("store_db: %s: %d stale reader slot%s cleared",
               dir, dead, dead == 1? "": "s");

    const char *what = "";
    rc = s_open_tables (self, &what);
    if (rc)
        return s_refuse (&self, what, rc);

    MDB_envinfo info;
    rc = mdb_env_info (self->env, &info);
    if (rc)
        return s_refuse (&self, "mdb_env_info", rc);
    if (info.me_mapsize > map_size)
        zsys_info ("store_db: %s: the data needs a map of %zu MiB, more than "
                   "the %zu MiB asked for", dir, info.me_mapsize >> 20, map_size >> 20);
    return self;
}


//  --------------------------------------------------------------------------
//  The PostgreSQL back end: the same object, with a connection in place
//  of the environment

store_db_t *
store_db_new_postgres (const char *conninfo, bool read_only)
{
    assert (conninfo);
    store_pg_t *pg = store_pg_new (conninfo, read_only);
    if (!pg)
        return NULL;
    store_db_t *self = (store_db_t *) zmalloc (sizeof (store_db_t));
    assert (self);
    //  Not the string itself: it may hold a password, and dir goes to logs
    self->dir = strdup ("(postgresql)");
    assert (self->dir);
    self->pg = pg;
    self->schema = store_pg_schema (pg);
    return self;
}

bool
store_db_names_postgres (const char *spec)
{
    assert (spec);
    return strncmp (spec, "postgresql://", 13) == 0
        || strncmp (spec, "postgres://", 11) == 0
        || strchr (spec, '=') != NULL;
}

const char *
store_db_kind (store_db_t *self)
{
    assert (self);
    return self->pg? "postgresql": "lmdb";
}

const char *
store_db_conninfo (store_db_t *self)
{
    assert (self);
    return self->pg? store_pg_conninfo (self->pg): NULL;
}

store_pg_t *
store_db_pg (store_db_t *self)
{
    assert (self);
    return self->pg;
}

bool
store_db_throttle_shared (store_db_t *self)
{
    assert (self);
    return self->pg != NULL;
}

int
store_db_throttle_charge (store_db_t *self, const char *key, const char *user,
                          int64_t first_delay, int64_t *wait_ms, int64_t *delay_ms)
{
    assert (self);
    if (!self->pg)
        return STORE_FAILED;
    return store_pg_throttle_charge (self->pg, key, user, first_delay, wait_ms, delay_ms);
}

int
store_db_throttle_refund (store_db_t *self, const char *key, const char *user,
                          int64_t first_delay)
{
    assert (self);
    return self->pg? store_pg_throttle_refund (self->pg, key, user, first_delay)
                   : STORE_FAILED;
}

int
store_db_throttle_success (store_db_t *self, const char *key, const char *user)
{
    assert (self);
    return self->pg? store_pg_throttle_success (self->pg, key, user): STORE_FAILED;
}

int
store_db_throttle_forget (store_db_t *self, size_t max_keys)
{
    assert (self);
    return self->pg? store_pg_throttle_forget (self->pg, max_keys): STORE_FAILED;
}


//  --------------------------------------------------------------------------
//  Destructor

void
store_db_destroy (store_db_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        store_db_t *self = *self_p;
        //  Closing also releases every table handle
        if (self->env)
            mdb_env_close (self->env);
        store_pg_destroy (&self->pg);
        zstr_free (&self->full_why);
        free (self->dir);
        free (self);
        *self_p = NULL;
    }
}


//  --------------------------------------------------------------------------
//  Growing the map

int
store_db_grow (store_db_t *self, size_t max_size)
{
    assert (self);
    if (self->pg)
        return -1;              //  no map: PostgreSQL's disk is full
    //  Another process may have grown the map further than we know: start
    //  from the larger of its size and ours (ours may be ahead of the file
    //  when our last growth has not been committed yet).
    size_t ours = store_db_map_size (self);
    mdb_env_set_mapsize (self->env, 0);
    size_t current = store_db_map_size (self);
    if (current < ours) {
        current = ours;
        mdb_env_set_mapsize (self->env, current);
    }
    if (current >= max_size)
        return -1;
    size_t next = current * 2 < max_size? current * 2: max_size;
    int rc = mdb_env_set_mapsize (self->env, next);
    if (rc)
        return store_db_error ("mdb_env_set_mapsize", rc);
    zsys_info ("store_db: %s: map grown from %zu MiB to %zu MiB",
               self->dir, current >> 20, store_db_map_size (self) >> 20);
    return 0;
}



//  --------------------------------------------------------------------------
//  Transactions

int
store_lmdb_rc (int rc, const char *what)
{
    switch (rc) {
        case 0:                 return STORE_OK;
        case MDB_NOTFOUND:      return STORE_NOTFOUND;
        case MDB_KEYEXIST:      return STORE_EXISTS;
        case MDB_MAP_FULL:      return STORE_FULL;
        case MDB_MAP_RESIZED:   return STORE_RETRY;
        default:
            zsys_error ("store_db: %s: %s", what, mdb_strerror (rc));
            return STORE_FAILED;
    }
}

const char *
store_rc_name (int rc)
{
    switch (rc) {
        case STORE_OK:          return "ok";
        case STORE_NOTFOUND:    return "not found";
        case STORE_EXISTS:      return "exists";
        case STORE_FULL:        return "storage full";
        case STORE_RETRY:       return "conflict, run again";
        case STORE_FAILED:      return "failed";
        case STORE_DISK_FULL:   return "disk full";
        case STORE_UNAVAILABLE: return "database unavailable";
        case STORE_UNCONFIRMED: return "not confirmed by the standby";
        default:                return "unknown";
    }
}

int
store_txn_begin (store_db_t *db, store_txn_t *parent, bool write, store_txn_t **txn_p)
{
    assert (db);
    assert (txn_p);
    assert (!parent || write);
    *txn_p = NULL;
    if (db->pg)
        return store_pg_txn_begin (db, db->pg, parent, write, txn_p);
    MDB_txn *handle = NULL;
    unsigned int flags = write? 0: MDB_RDONLY;
    int rc = mdb_txn_begin (db->env, parent? parent->handle: NULL, flags, &handle);
    if (rc == MDB_MAP_RESIZED && !parent) {
        //  Another process sharing the environment grew the map: adopt
        //  its size (0 means "what the file says") and begin again. This
        //  process has no transaction open here, as LMDB requires.
        zsys_info ("store_db: %s: the map was grown by another process; "
                   "adopting its size", db->dir);
        rc = mdb_env_set_mapsize (db->env, 0);
        if (rc == 0)
            rc = mdb_txn_begin (db->env, NULL, flags, &handle);
    }
    if (rc)
        return store_lmdb_rc (rc, "begin a transaction");
    store_txn_t *txn = (store_txn_t *) zmalloc (sizeof (store_txn_t));
    assert (txn);
    txn->handle = handle;
    txn->db = db;
    *txn_p = txn;
    return STORE_OK;
}

int
store_txn_begin_snapshot (store_db_t *db, store_txn_t **txn_p)
{
    assert (db);
    if (db->pg)
        return store_pg_txn_begin_snapshot (db, db->pg, txn_p);
    //  An LMDB read transaction is one snapshot already
    return store_txn_begin (db, NULL, false, txn_p);
}

//  The bytes this process may still write in dir's file system, or -1 if
//  that cannot be known. Root may use the blocks reserved for it.
static int64_t
s_free_bytes (const char *dir)
{
    struct statvfs fs;
    if (statvfs (dir, &fs))
        return -1;
    uint64_t blocks = geteuid () == 0? fs.f_bfree: fs.f_bavail;
    uint64_t bytes = (uint64_t) blocks * fs.f_frsize;
    return bytes > INT64_MAX? INT64_MAX: (int64_t) bytes;
}

//  Is a failed commit's code a full disk? Says why in db->full_why if so.
//  LMDB passes on the errno of a failed write or sync; a write that the
//  disk could only partly take comes back short, which LMDB reports as
//  EIO, so an EIO counts when the file system is (nearly) full now.
static bool
s_disk_full (store_db_t *db, int rc)
{
    if (rc != ENOSPC && rc != EDQUOT && rc != EIO)
        return false;
    int64_t room = s_free_bytes (db->dir);
    if (rc == EIO && (room < 0 || room >= STORE_DB_DISK_LOW))
        return false;           //  an I/O error of some other kind
    zstr_free (&db->full_why);
    const char *words = rc == EIO? "Input/output error after a short write"
                                 : mdb_strerror (rc);
    if (room >= 0)
        db->full_why = zsys_sprintf ("%s, writing %s/data.mdb; %" PRId64
                                     " KiB free", words, db->dir, room / 1024);
    else
        db->full_why = zsys_sprintf ("%s, writing %s/data.mdb", words, db->dir);
    return true;
}

int
store_txn_commit (store_txn_t **txn_p)
{
    assert (txn_p && *txn_p);
    if ((*txn_p)->pg)
        return store_pg_txn_commit (txn_p);
    store_db_t *db = (*txn_p)->db;
    int rc = mdb_txn_commit ((*txn_p)->handle);
    free (*txn_p);
    *txn_p = NULL;
    //  A write or sync of the data pages failed: LMDB has aborted the
    //  transaction before writing the meta page that would make it
    //  visible, and the environment stays usable, so later commits work
    //  once there is room
    if (rc && s_disk_full (db, rc))
        return STORE_DISK_FULL;
    return store_lmdb_rc (rc, "commit");
}

const char *
store_db_disk_full_why (store_db_t *db)
{
    assert (db);
    return db->full_why? db->full_why: "the disk is full";
}

void
store_txn_abort (store_txn_t **txn_p)
{
    assert (txn_p);
    if (*txn_p && (*txn_p)->pg)
        store_pg_txn_abort (txn_p);
    if (*txn_p) {
        mdb_txn_abort ((*txn_p)->handle);
        free (*txn_p);
        *txn_p = NULL;
    }
}

store_db_t *
store_txn_db (store_txn_t *txn)
{
    assert (txn);
    return txn->db;
}

MDB_txn *
store_txn_lmdb (store_txn_t *txn)
{
    assert (txn);
    return txn->handle;
}

uint64_t
store_txn_id (store_txn_t *txn)
{
    assert (txn);
    return txn->handle? (uint64_t) mdb_txn_id (txn->handle): 0;
}

uint64_t
store_db_generation (store_db_t *self)
{
    assert (self);
    if (self->pg)
        return store_pg_generation (self->pg);
    MDB_envinfo info;
    if (mdb_env_info (self->env, &info))
        return 0;
    return info.me_last_txnid;
}

//  --------------------------------------------------------------------------
//  Accessors

MDB_env *
store_db_env (store_db_t *self)
{
    assert (self);
    return self->env;
}

MDB_dbi
store_db_dbi (store_db_t *self, store_db_table_t table)
{
    assert (self);
    assert ((unsigned) table < STORE_DB_TABLES);
    return self->dbi [table];
}

const char *
store_db_dir (store_db_t *self)
{
    assert (self);
    return self->dir;
}

unsigned int
store_db_schema (store_db_t *self)
{
    assert (self);
    return self->schema;
}

size_t
store_db_map_size (store_db_t *self)
{
    assert (self);
    if (self->pg)
        return 0;
    MDB_envinfo info;
    if (mdb_env_info (self->env, &info))
        return 0;
    return info.me_mapsize;
}

size_t
store_db_page_size (store_db_t *self)
{
    assert (self);
    if (self->pg)
        return 8192;
    MDB_stat stat;
    if (mdb_env_stat (self->env, &stat))
        return 0;
    return stat.ms_psize;
}

size_t
store_db_used_pages (store_db_t *self)
{
    assert (self);
    if (self->pg)
        return (size_t) ((store_pg_database_size (self->pg) + 8191) / 8192);
    MDB_envinfo info;
    if (mdb_env_info (self->env, &info))
        return 0;
    return info.me_last_pgno + 1;
}


//  --------------------------------------------------------------------------
//  Scratch environments, for the selftests of the classes above this one

store_db_t *
store_db_scratch_new (const char *name, size_t map_size, char **dir_p)
{
    assert (name);
    assert (dir_p);
    const char *tmp = getenv ("TMPDIR");
    char *dir = zsys_sprintf ("%s/%s-XXXXXX", tmp && *tmp == '/'? tmp: "/tmp", name);
    assert (dir);
    char *made = mkdtemp (dir);
    assert (made);
    const char *pg = getenv ("ZPOST_SCRATCH_PG");
    if (pg && *pg) {
        //  The same selftests against PostgreSQL: a fresh database named
        //  after the directory, on the server the variable names (the
        //  integration test test_store_pg.py sets it), dropped after
        char *dbname = zsys_sprintf ("zs_%s", strrchr (dir, '-') + 1);
        for (char *c = dbname; *c; c++)
            *c = (char) tolower ((unsigned char) *c);
        rmdir (dir);
        zstr_free (&dir);
        PGconn *conn = PQconnectdb (pg);
        assert (PQstatus (conn) == CONNECTION_OK);
        char *sql = zsys_sprintf ("CREATE DATABASE %s", dbname);
        PGresult *result = PQexec (conn, sql);
        assert (PQresultStatus (result) == PGRES_COMMAND_OK);
        PQclear (result);
        PQfinish (conn);
        zstr_free (&sql);
        char *conninfo = zsys_sprintf ("%s dbname=%s", pg, dbname);
        store_db_t *self = store_db_new_postgres (conninfo, false);
        assert (self);
        zstr_free (&conninfo);
        *dir_p = dbname;
        return self;
    }
    store_db_t *self = store_db_new (dir, map_size);
    assert (self);
    *dir_p = dir;
    return self;
}

void
store_db_scratch_destroy (store_db_t **self_p, char **dir_p)
{
    assert (self_p);
    assert (dir_p);
    bool pg = *self_p && (*self_p)->pg;
    store_db_destroy (self_p);
    if (pg && *dir_p) {
        PGconn *conn = PQconnectdb (getenv ("ZPOST_SCRATCH_PG"));
        assert (PQstatus (conn) == CONNECTION_OK);
        char *sql = zsys_sprintf ("DROP DATABASE %s", *dir_p);
        PGresult *result = PQexec (conn, sql);
        assert (PQresultStatus (result) == PGRES_COMMAND_OK);
        PQclear (result);
        PQfinish (conn);
        zstr_free (&sql);
        zstr_free (dir_p);
    }
    if (*dir_p) {
        zdir_t *tree = zdir_new (*dir_p, NULL);
        if (tree) {
            zdir_remove (tree, true);
            zdir_destroy (&tree);
        }
        zstr_free (dir_p);
    }
}


//  --------------------------------------------------------------------------
//  Selftest

static mode_t
s_file_mode (const char *dir, const char *name)
{
    char *path = zsys_sprintf ("%s/%s", dir, name);
    assert (path);
    struct stat st;
    int rc = stat (path, &st);
    assert (rc == 0);
    zstr_free (&path);
    return st.st_mode & 0777;
}

void
store_db_test (bool verbose)
{
    printf (" * store_db: ");
    if (verbose)
        printf ("\n");

    //  @selftest
    //  A scratch directory; the store's own directory inside it does not
    //  exist yet, so store_db_new must make it.
    const char *tmp = getenv ("TMPDIR");
    char *base = zsys_sprintf ("%s/zpost-store-db-XXXXXX",
                               tmp && *tmp == '/'? tmp: "/tmp");
    assert (base);
    char *made = mkdtemp (base);
    assert (made);
    char *dir = zsys_sprintf ("%s/data", base);
    assert (dir);

    store_db_t *db = store_db_new (dir, 4 * 1024 * 1024);
    assert (db);
    assert (streq (store_db_dir (db), dir));
    assert (store_db_schema (db) == STORE_DB_SCHEMA_VERSION);
    assert (store_db_map_size (db) >= 4 * 1024 * 1024);
    assert (store_db_page_size (db) >= 512);
    assert (store_db_used_pages (db) >= 2);     //  at least the two meta pages

    //  Files are private, the flags are the durable ones
    assert (s_file_mode (base, "data") == 0700);
    assert (s_file_mode (dir, "data.mdb") == 0600);
    assert (s_file_mode (dir, "lock.mdb") == 0600);
    unsigned int flags = 0;
    int rc = mdb_env_get_flags (store_db_env (db), &flags);
    assert (rc == 0);
    assert (flags & MDB_NOTLS);
    for (size_t i = 0; i < sizeof (s_unsafe_flags) / sizeof (s_unsafe_flags [0]); i++)
        assert ((flags & s_unsafe_flags [i].flag) == 0);
    assert (s_check_flags (store_db_env (db), dir) == 0);

    //  The schema record is there for any reader
    MDB_txn *txn;
    rc = mdb_txn_begin (store_db_env (db), NULL, MDB_RDONLY, &txn);
    assert (rc == 0);
    MDB_val key = { strlen (S_SCHEMA_KEY), S_SCHEMA_KEY };
    MDB_val value;
    rc = mdb_get (txn, store_db_dbi (db, STORE_DB_META), &key, &value);
    assert (rc == 0);
    assert (s_parse_schema (&value) == STORE_DB_SCHEMA_VERSION);
    mdb_txn_abort (txn);

    store_db_destroy (&db);
    assert (db == NULL);
    store_db_destroy (&db);                     //  harmless twice

    //  Reopened, with a map smaller than asked before: the data is read
    //  back, and LMDB never maps less than the file holds.
    db = store_db_new (dir, 1024 * 1024);
    assert (db);
    assert (store_db_schema (db) == STORE_DB_SCHEMA_VERSION);
    assert (store_db_map_size (db) >= store_db_used_pages (db) * store_db_page_size (db));

    //  Schema version records that must be refused
    MDB_val bad = { 1, "0" };
    assert (s_parse_schema (&bad) == 0);
    bad.mv_data = "x";
    assert (s_parse_schema (&bad) == 0);
    bad.mv_size = 10;
    bad.mv_data = "1234567890";
    assert (s_parse_schema (&bad) == 0);

    //  An environment of schema 1 is migrated when opened: its version
    //  is rewritten, its records are kept as they are
    rc = mdb_txn_begin (store_db_env (db), NULL, 0, &txn);
    assert (rc == 0);
    value.mv_size = 1;
    value.mv_data = "1";
    rc = mdb_put (txn, store_db_dbi (db, STORE_DB_META), &key, &value, 0);
    assert (rc == 0);
    rc = mdb_txn_commit (txn);
    assert (rc == 0);
    store_db_destroy (&db);
    db = store_db_new (dir, 1024 * 1024);
    assert (db);
    assert (store_db_schema (db) == STORE_DB_SCHEMA_VERSION);
    rc = mdb_txn_begin (store_db_env (db), NULL, MDB_RDONLY, &txn);
    assert (rc == 0);
    rc = mdb_get (txn, store_db_dbi (db, STORE_DB_META), &key, &value);
    assert (rc == 0 && s_parse_schema (&value) == STORE_DB_SCHEMA_VERSION);
    mdb_txn_abort (txn);

    //  An environment from a newer zpost is refused, not misread
    if (verbose)
        zsys_info ("store_db: the errors that follow are expected");
    rc = mdb_txn_begin (store_db_env (db), NULL, 0, &txn);
    assert (rc == 0);
    value.mv_size = 2;
    value.mv_data = "99";
    rc = mdb_put (txn, store_db_dbi (db, STORE_DB_META), &key, &value, 0);
    assert (rc == 0);
    rc = mdb_txn_commit (txn);
    assert (rc == 0);
    store_db_destroy (&db);
    db = store_db_new (dir, 1024 * 1024);
    assert (db == NULL);

    //  Unsafe flags are caught, whoever set them
    char *unsafe = zsys_sprintf ("%s/unsafe", base);
    assert (unsafe);
    rc = zsys_dir_create (unsafe);
    assert (rc == 0);
    MDB_env *env;
    rc = mdb_env_create (&env);
    assert (rc == 0);
    rc = mdb_env_open (env, unsafe, MDB_NOSYNC | MDB_NOMETASYNC, 0600);
    assert (rc == 0);
    assert (s_check_flags (env, unsafe) == -1);
    mdb_env_close (env);

    //  A data directory that cannot exist: its parent is a file
    char *plain = zsys_sprintf ("%s/plain", base);
    assert (plain);
    FILE *file = fopen (plain, "w");
    assert (file);
    fclose (file);
    char *under = zsys_sprintf ("%s/plain/data", base);
    assert (under);
    db = store_db_new (under, 1024 * 1024);
    assert (db == NULL);
    //  ... or is a file itself
    db = store_db_new (plain, 1024 * 1024);
    assert (db == NULL);

    assert (store_db_error ("selftest", MDB_MAP_FULL) == -1);

    //  Leave nothing behind
    zdir_t *tree = zdir_new (base, NULL);
    assert (tree);
    zdir_remove (tree, true);
    zdir_destroy (&tree);
    assert (!zsys_file_exists (base));
    zstr_free (&under);
    zstr_free (&plain);
    zstr_free (&unsafe);
    zstr_free (&dir);
    zstr_free (&base);
    //  @end

    printf ("OK\n");
}
