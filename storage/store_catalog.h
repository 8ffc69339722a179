/*
 * store_catalog — the memoization catalog in PostgreSQL: one entry per cache key with the
 * outputs of the attempt that produced them. Synchronous, on a pool thread.
 *
 * A look-up counts as a hit only for an entry that has not expired. Recording keeps an
 * existing live entry (the first result wins: concurrent identical runs agree) unless
 * overwrite is set (--overwrite-cache); an expired entry is always replaced.
 */
#ifndef STORE_CATALOG_H
#define STORE_CATALOG_H

#include "floe_arena.h"
#include "store_pg.h"

#include <stddef.h>
#include <stdint.h>

#define STORE_CATALOG_LIST_MAX 1000

typedef struct store_catalog_entry {
    const char *cache_key;
    const char *project, *domain, *task_name, *task_version, *cache_version;
    const uint8_t *outputs; /* packed floe.ValueMap */
    size_t outputs_len;
    const char *execution_id, *node_id;
    uint32_t attempt;
    uint64_t ttl_s; /* recording: 0 = never expires */
    int64_t hits;
    int64_t created_us, expires_us, last_hit_us; /* 0 = none */
} store_catalog_entry;

/* FLOE_OK with *out (strings in arena) and the hit counted, or FLOE_ENOTFOUND. */
floe_rc store_catalog_lookup(store_pg *pg, const char *cache_key, floe_arena *arena,
                             store_catalog_entry *out, floe_err *err);

/* Records e, replacing an entry of its key only when overwrite or that one expired. The
 * leader's write: fenced by epoch (FLOE_EFENCED, nothing written, when it no longer holds
 * the lease). */
floe_rc store_catalog_record(store_pg *pg, uint64_t epoch, const store_catalog_entry *e,
                             bool overwrite, floe_err *err);

/* Entries of project/domain (task_name NULL: every task), newest first, at most limit
 * (<= STORE_CATALOG_LIST_MAX), expired ones included (expires_us tells). */
floe_rc store_catalog_list(store_pg *pg, const char *project, const char *domain,
                           const char *task_name, size_t limit, floe_arena *arena,
                           store_catalog_entry **out, size_t *n, floe_err *err);

/* Deletes one entry (cache_key) or every entry of a task (cache_key NULL, task_name set)
 * within project/domain; *deleted receives the count. A user's delete through the API
 * passes epoch 0 (no fence: it is not the leader's write); the engine's, its epoch. */
floe_rc store_catalog_delete(store_pg *pg, uint64_t epoch, const char *project, const char *domain,
                             const char *task_name, const char *cache_key, int64_t *deleted,
                             floe_err *err);

#endif
