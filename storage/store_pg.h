/*
 * store_pg — one PostgreSQL connection, used synchronously from a pool thread (never
 * from the event loop). No libpq type appears here; the store_* modules that build
 * queries include store_pg_int.h.
 *
 * Errors are classified from the SQLSTATE: unique violation -> FLOE_ECONFLICT,
 * serialization failure / deadlock -> FLOE_EAGAIN (retriable), a lost connection ->
 * FLOE_EIO (the next call reconnects), anything else -> FLOE_EIO with the server's text.
 */
#ifndef STORE_PG_H
#define STORE_PG_H

#include "floe_err.h"

#include <stdbool.h>

typedef struct store_pg store_pg;

/* Connects to url (URI or conninfo). NULL with err when it cannot. The url is copied. */
store_pg *store_pg_connect(const char *url, const char *application, floe_err *err);
void store_pg_close(store_pg *pg);

/* Reconnects if the connection was lost. FLOE_EIO when it cannot. */
floe_rc store_pg_ensure(store_pg *pg, floe_err *err);

floe_rc store_pg_begin(store_pg *pg, floe_err *err);
floe_rc store_pg_commit(store_pg *pg, floe_err *err);
void store_pg_rollback(store_pg *pg); /* best effort; after an error */

/* SELECT 1, for readiness probes. */
floe_rc store_pg_ping(store_pg *pg, floe_err *err);

#endif
