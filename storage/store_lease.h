/*
 * store_lease — the leader lease row in PostgreSQL (table floe_leader). Synchronous, for
 * the lease thread's own connection.
 */
#ifndef STORE_LEASE_H
#define STORE_LEASE_H

#include "store_pg.h"

#include <stdbool.h>
#include <stdint.h>

/* The advisory lock of leader changes: a fenced transaction (store_lp_fence) holds it
 * shared until it commits; taking the lease from another holder needs it exclusively and
 * does not wait for it (pg_try_...), so a change of leader never lands in the middle of the
 * old leader's fenced transaction, and a renewal never waits at all. */
#define STORE_LEASE_LOCK_KEY "1181511525"

/* One conditional UPDATE: takes the lease when it is free or expired, renews it when
 * holder holds it. The epoch rises whenever the holder changes or the lease had expired,
 * and is raised to floor when below it (0: no floor).
 * On success *held says whether holder has the lease now, *epoch its epoch; when not held,
 * *epoch is the current holder's and current_holder (size 128) names it. */
floe_rc store_lease_acquire(store_pg *pg, const char *name, const char *holder, int64_t lease_ms,
                            uint64_t floor, bool *held, uint64_t *epoch, char *current_holder,
                            floe_err *err);

/* Gives the lease up (expires it now) if holder has it with epoch. */
floe_rc store_lease_release(store_pg *pg, const char *name, const char *holder, uint64_t epoch,
                            floe_err *err);

#endif
