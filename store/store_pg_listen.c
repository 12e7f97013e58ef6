/*  =========================================================================
    store_pg_listen - hear other stores' commits to inboxes (PostgreSQL)

    One libpq connection in non-blocking reads: the socket is polled by
    the store's zloop, and a readable socket is consumed with
    PQconsumeInput and emptied with PQnotifies, so the loop never waits
    on the database here. Connecting does wait, bounded by
    connect_timeout (2 s unless the connection string says otherwise), as
    the store's own connection does.
    =========================================================================
*/

#include "store_pg_listen.h"
#include "zpost_msg.h"
#include <libpq-fe.h>

struct _store_pg_listen_t {
    char *conninfo;             //  as given
    PGconn *conn;               //  NULL while down
    bool said;                  //  the outage was logged
};

store_pg_listen_t *
store_pg_listen_new (const char *conninfo)
{
    assert (conninfo);
    store_pg_listen_t *self = (store_pg_listen_t *) zmalloc (sizeof (store_pg_listen_t));
    assert (self);
    self->conninfo = strdup (conninfo);
    assert (self->conninfo);
    return self;
}

static void
s_down (store_pg_listen_t *self, const char *why)
{
    if (!self->said)
        zsys_warning ("store_pg_listen: not hearing other stores' commits (%s); "
                      "waiting WATCHes are checked every second until it is back",
                      why);
    self->said = true;
    if (self->conn)
        PQfinish (self->conn);
    self->conn = NULL;
}

void
store_pg_listen_destroy (store_pg_listen_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        store_pg_listen_t *self = *self_p;
        if (self->conn)
            PQfinish (self->conn);
        free (self->conninfo);
        free (self);
        *self_p = NULL;
    }
}

int
store_pg_listen_connect (store_pg_listen_t *self)
{
    assert (self);
    if (self->conn)
        return 0;
    //  The connection string's settings win over our defaults, but not
    //  over our name: sessions of the store's own name are its writers
    //  (an operator, a test, may look for them in pg_stat_activity)
    const char *keywords [] = {
        "connect_timeout", "keepalives_idle", "keepalives_interval",
        "keepalives_count", "dbname", "application_name", NULL
    };
    const char *values [] = {
        "2", "5", "2", "3", self->conninfo, "zpost-store-listen", NULL
    };
    self->conn = PQconnectdbParams (keywords, values, 1);
    if (!self->conn || PQstatus (self->conn) != CONNECTION_OK) {
        char why [256];
        snprintf (why, sizeof why, "%s", self->conn? PQerrorMessage (self->conn): "out of memory");
        why [strcspn (why, "\n")] = 0;
        s_down (self, why);
        return -1;
    }
    PGresult *result = PQexec (self->conn, "LISTEN " STORE_PG_LISTEN_CHANNEL);
    bool ok = result && PQresultStatus (result) == PGRES_COMMAND_OK;
    PQclear (result);
    if (!ok || PQsetnonblocking (self->conn, 1)) {
        s_down (self, "LISTEN failed");
        return -1;
    }
    if (self->said)
        zsys_info ("store_pg_listen: hearing other stores' commits again");
    self->said = false;
    return 0;
}

int
store_pg_listen_fd (store_pg_listen_t *self)
{
    assert (self);
    return self->conn? PQsocket (self->conn): -1;
}

int
store_pg_listen_drain (store_pg_listen_t *self, store_pg_listen_fn *heard, void *arg)
{
    assert (self);
    if (!self->conn)
        return -1;
    if (!PQconsumeInput (self->conn) || PQstatus (self->conn) != CONNECTION_OK) {
        s_down (self, "the connection was lost");
        return -1;
    }
    PGnotify *notify;
    while ((notify = PQnotifies (self->conn))) {
        //  Only names go on this channel; anything else is not ours
        if (notify->extra && strlen (notify->extra) <= ZPOST_NAME_MAX
        &&  streq (notify->relname, STORE_PG_LISTEN_CHANNEL))
            heard (arg, notify->extra);
        PQfreemem (notify);
    }
    return 0;
}
