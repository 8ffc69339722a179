/*
 * store_pg — one PostgreSQL connection, used synchronously from a pool thread (never
 * from the event loop). No libpq type appears here; the store_* modules that build
 * queries include store_pg_int.h.
 *
 * Errors are classified from the SQLSTATE: unique violation -> FLOE_ECONFLICT,
 * serialization failure / deadlock -> FLOE_EAGAIN (retriable), a problem with the data
 * itself (class 22 data exception, 23 integrity, 54 program limit; or a text parameter that
 * is not UTF-8, refused before it is sent) -> FLOE_EINVAL of class USER: that one item is
 * at fault and retrying it will not help, so callers dead-letter or record it rather than
 * restart (review C2/H5); a lost connection, a timeout -> FLOE_EIO (the next call
 * reconnects), anything else -> FLOE_EIO with the server's text.
 *
 * Every connection is bounded (review H7): statement_timeout and lock_timeout of the
 * timeout given at connect, idle_in_transaction_session_timeout, TCP keepalives and
 * tcp_user_timeout, so a half-open connection or a forgotten transaction neither pins a
 * thread nor holds a lock for hours.
 */
#ifndef STORE_PG_H
#define STORE_PG_H

#include "floe_err.h"

#include <stdbool.h>
#include <stdint.h>

typedef struct store_pg store_pg;

/* Connects to url (URI or conninfo). NULL with err when it cannot. The url is copied.
 * timeout_ms (> 0) bounds every statement and lock wait on the connection. */
store_pg *store_pg_connect(const char *url, const char *application, int64_t timeout_ms,
                           floe_err *err);
void store_pg_close(store_pg *pg);

/* Reconnects if the connection was lost. FLOE_EIO when it cannot. */
floe_rc store_pg_ensure(store_pg *pg, floe_err *err);

floe_rc store_pg_begin(store_pg *pg, floe_err *err);
floe_rc store_pg_commit(store_pg *pg, floe_err *err);
void store_pg_rollback(store_pg *pg); /* best effort; after an error */

/* SELECT 1, for readiness probes. */
floe_rc store_pg_ping(store_pg *pg, floe_err *err);

#endif
