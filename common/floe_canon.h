/*
 * floe_canon — the canonical encoding of typed values, hashed with SHA-256: cache keys
 * (the same task on the same inputs gives the same key, whatever the order of map entries
 * or the location of a blob) and the digests of literal artifacts in the lineage.
 *
 * Encoding: every item is a one-byte tag followed by its content; strings and counts are
 * prefixed with their length as 8 bytes big-endian. Blobs are hashed by content digest
 * only (never by uri); map entries and named inputs in ascending byte order of their
 * names; floats by their IEEE-754 bits with -0.0 taken as 0.0 and every NaN as one NaN.
 * The encoding is versioned ("floe-cache-v1"): changing it changes every key.
 */
#ifndef FLOE_CANON_H
#define FLOE_CANON_H

#include "floe_values.pb-c.h"

#include <stddef.h>

#define FLOE_CANON_HEX_LEN 64

/* What identifies a cacheable task besides its inputs. The task version is deliberately
 * not part of it: re-registering a task under a new version keeps its cache unless its
 * interface or cache version changes. */
typedef struct floe_cache_ident {
    const char *project, *domain, *task_name;
    const char *interface_digest;
    const char *runtime_digest; /* executor and container (review M6); "" for old specs */
    const char *cache_version;
} floe_cache_ident;

/* The cache key of id on inputs[0..n) (any order; names must be distinct), as lower-case
 * hex into out. Returns 0, or -1 when out of memory. */
int floe_canon_cache_key(const floe_cache_ident *id, Floe__NamedValue *const *inputs, size_t n,
                         char out[FLOE_CANON_HEX_LEN + 1]);

/* The digest of one value (lineage: a literal artifact's identity), hex into out. */
int floe_canon_value_digest(const Floe__Value *v, char out[FLOE_CANON_HEX_LEN + 1]);

#endif
