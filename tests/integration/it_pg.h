/*
 * it_pg — PostgreSQL for the tests that call the store directly: connections to the
 * stack's database with Floe's schema, and the leader lease, taken as a scheduler would.
 */
#ifndef IT_PG_H
#define IT_PG_H

#include "floe_config.h"
#include "store_pg.h"

#include <stdint.h>

/* A connection (fails the test when there is none); migrated: the schema applied first. */
store_pg *it_pg_connect(const floe_config *cfg, const char *app, int64_t timeout_ms);
store_pg *it_pg_migrated(const floe_config *cfg, const char *app, int64_t timeout_ms);

/* Runs sql (no parameters), failing the test when PostgreSQL refuses it. */
void it_pg_sql(store_pg *pg, const char *sql);

/* Takes the 'scheduler' lease for holder, waiting out one a stopped scheduler left (up to
 * 20 s); answers its epoch. it_pg_lease_release gives it up. */
uint64_t it_pg_lease(store_pg *pg, const char *holder);
void it_pg_lease_release(store_pg *pg, const char *holder, uint64_t epoch);

#endif
