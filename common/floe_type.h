/*
 * floe_type — the interface types of tasks and workflows (floe.LiteralType): integer,
 * float, string, boolean, datetime, duration, blob, list<T>, map<string,T>.
 * Text form as written in specs and shown to users: "list<map<string, float>>".
 * Nesting is bounded by FLOE_TYPE_MAX_DEPTH so no input makes a walk unbounded.
 */
#ifndef FLOE_TYPE_H
#define FLOE_TYPE_H

#include "floe_arena.h"
#include "floe_err.h"

#include "floe_values.pb-c.h"

#include <stdbool.h>
#include <stddef.h>

#define FLOE_TYPE_MAX_DEPTH 8  /* list<list<...>> levels, the outermost included */
#define FLOE_TYPE_TEXT_MAX 256 /* longest text form accepted or produced */

/* Parses the text form. The result lives in arena. FLOE_EINVAL with err saying where. */
floe_rc floe_type_parse(const char *text, floe_arena *arena, Floe__LiteralType **out,
                        floe_err *err);

/* Writes the text form into buf (always NUL-terminated; "?" for an unset type). Returns buf. */
const char *floe_type_format(const Floe__LiteralType *type, char *buf, size_t size);

/* Same structure; NULL equals nothing. */
bool floe_type_equal(const Floe__LiteralType *a, const Floe__LiteralType *b);

/* Deep copy into arena; NULL when out of memory. */
Floe__LiteralType *floe_type_copy(const Floe__LiteralType *type, floe_arena *arena);

/* A well-formed type: set, LIST/MAP with an element, depth bounded. */
floe_rc floe_type_check(const Floe__LiteralType *type, floe_err *err);

#endif
