/*
 * store_valref — large values by reference (docs/spec.md#large-values). A whole input or
 * output whose encoding is over values.inline_max is kept in the blob store and travels
 * as a floe.ValueRef (uri, digest, size, and the value's canonical digest, so a cache key
 * or a lineage record reads the same identity inline or by reference); whoever needs the
 * value reads it back here, the blob checked against its digest by the store. Refs are
 * never nested: a value inside a list or map is inline.
 */
#ifndef STORE_VALREF_H
#define STORE_VALREF_H

#include "floe_arena.h"
#include "floe_err.h"
#include "floe_values.pb-c.h"
#include "store_blob.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Whether v's encoding is over max bytes (so it should travel by reference). */
bool store_valref_wanted(const Floe__Value *v, size_t max);

/* Stores v in bs; *ref (from a) is the reference. tmpdir: where its bytes wait for the
 * upload. */
floe_rc store_valref_put(store_blob *bs, const Floe__Value *v, const char *tmpdir, floe_arena *a,
                         Floe__Value **ref, floe_err *err);

/* The value ref names, decoded into a: at most max_bytes of blob (FLOE_ETOOBIG beyond),
 * a value that is itself a reference is refused (FLOE_EINVAL). */
floe_rc store_valref_get(store_blob *bs, const Floe__Value *ref, const char *tmpdir,
                         uint64_t max_bytes, floe_arena *a, Floe__Value **out, floe_err *err);

/* Every reference among vals[0..n) replaced by its value (the NamedValue too is new, from
 * a: the caller's are left alone). */
floe_rc store_valref_resolve(store_blob *bs, Floe__NamedValue **vals, size_t n, const char *tmpdir,
                             uint64_t max_bytes, floe_arena *a, floe_err *err);

/* Whether vals[0..n) take more than max bytes together with one that could be shrunk. */
bool store_valref_over(Floe__NamedValue *const *vals, size_t n, size_t max);

/* The largest values among vals[0..n) replaced by references until the rest take at most
 * max bytes together (as store_valref_resolve, new NamedValues from a): what travels in one
 * message stays small on the wire and once decoded. */
floe_rc store_valref_shrink(store_blob *bs, Floe__NamedValue **vals, size_t n, size_t max,
                            const char *tmpdir, floe_arena *a, floe_err *err);

#endif
