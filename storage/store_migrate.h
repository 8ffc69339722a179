/*
 * store_migrate — the schema, as numbered SQL files (storage/migrations/NNNN_name.sql)
 * compiled into the binary. store_migrate_apply() runs at every start-up of every
 * replica: under a transaction-scoped advisory lock it applies, in order and each in the
 * same transaction as its record, the migrations floe_schema_migrations does not list.
 * Applying twice changes nothing; a migration edited after it was applied is refused
 * (its checksum differs), as is a database newer than the binary.
 */
#ifndef STORE_MIGRATE_H
#define STORE_MIGRATE_H

#include "floe_err.h"
#include "store_pg.h"

#include <stddef.h>

typedef struct store_migration {
    const char *name; /* "0001_registry.sql" */
    const char *sql;
    size_t len;
} store_migration;

extern const store_migration store_migrations[];
extern const unsigned store_migrations_n;

/* *applied (optional) receives how many migrations this call applied. */
floe_rc store_migrate_apply(store_pg *pg, unsigned *applied, floe_err *err);

#endif
