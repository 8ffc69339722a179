/*
 * floe_value — typed values (floe.Value) checked against their declared type, converted
 * from JSON (API bodies, YAML literals via the spec compiler), from command-line text
 * (`floectl launch --input k=v`) and back to JSON for display.
 *
 * JSON forms: integer and float are numbers (a float accepts an integer), string is a
 * string, boolean true/false, datetime an RFC 3339 string ("2026-11-21T08:00:00Z", or a
 * date "2026-11-21" for midnight UTC), duration a string of <number><unit> groups
 * ("90s", "1h30m", "250ms"; units d h m s ms us), blob an object {uri, digest?, size?,
 * format?} or just the uri string, list<T> an array, map<string,T> an object.
 * Map entries are stored in ascending key order, as cache keys need a canonical form.
 * Every walk follows the declared type, so depth is bounded by FLOE_TYPE_MAX_DEPTH.
 */
#ifndef FLOE_VALUE_H
#define FLOE_VALUE_H

#include "floe_arena.h"
#include "floe_err.h"
#include "floe_text.h"
#include "floe_type.h"

#include "floe_values.pb-c.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#define FLOE_VALUE_URI_MAX 4096
#define FLOE_VALUE_ITEMS_MAX 1000000 /* list items or map entries in one value */

/* Converts json to a value of type; the result lives in arena. FLOE_EINVAL with err
 * naming the position inside the value ("item 2: expected integer, got string"). */
floe_rc floe_value_from_json(const Floe__LiteralType *type, const json_t *json, floe_arena *arena,
                             Floe__Value **out, floe_err *err);

/* Converts command-line text: scalars from their text form ("42", "true", "2026-11-21",
 * "90s", any string verbatim), blob from a uri or JSON object, list and map from JSON. */
floe_rc floe_value_from_text(const Floe__LiteralType *type, const char *text, floe_arena *arena,
                             Floe__Value **out, floe_err *err);

/* The zero value of type (0, "", false, the epoch, 0s, an empty list or map) in arena;
 * FLOE_EINVAL for a blob, which has none. The noop executor's outputs. */
floe_rc floe_value_zero(const Floe__LiteralType *type, floe_arena *arena, Floe__Value **out,
                        floe_err *err);

/* Checks a value received from elsewhere (the bus, storage) against type. */
floe_rc floe_value_check(const Floe__LiteralType *type, const Floe__Value *value, floe_err *err);

/* A new JSON value (caller owns the reference); NULL when out of memory or malformed. */
json_t *floe_value_to_json(const Floe__Value *value);

/* Names of JSON kinds and value kinds, for messages. */
const char *floe_value_json_kind(const json_t *json);

/* RFC 3339 (or a bare date) to microseconds since the epoch, and back (UTC, "Z",
 * fraction only when non-zero). buf: at least 32 bytes. */
floe_rc floe_datetime_parse(const char *s, int64_t *unix_us, floe_err *err);
void floe_datetime_format(int64_t unix_us, char *buf, size_t size);

/* "1h30m" to microseconds (>= 0), and back ("0s" for zero). buf: at least 48 bytes. */
floe_rc floe_duration_parse(const char *s, int64_t *us, floe_err *err);
void floe_duration_format(int64_t us, char *buf, size_t size);

#endif
