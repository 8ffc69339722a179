/*
 * floe_pbwire — checks protobuf wire bytes against a message descriptor before protobuf-c
 * unpacks them. protobuf-c recurses once per nesting level with no limit, and our schema
 * is recursive (Value -> ValueList -> Value): a 34 KB message of 5,000 nested values
 * overflows the stack of every consumer that reads it (review C3). It also accepts any
 * bytes as a string, which would then reach Redis and PostgreSQL (C2). This walk is
 * iterative, so it cannot overflow, and rejects:
 *   - sub-messages nested deeper than FLOE_PB_DEPTH_MAX,
 *   - string fields that are not UTF-8 (or hold NUL),
 *   - malformed framing (truncated varints or lengths, groups, bad wire types).
 * Unknown fields are skipped as protobuf requires (compatible schema changes).
 */
#ifndef FLOE_PBWIRE_H
#define FLOE_PBWIRE_H

#include "floe_err.h"

#include <protobuf-c/protobuf-c.h>
#include <stddef.h>
#include <stdint.h>

#define FLOE_PB_DEPTH_MAX 32

/* FLOE_OK when data[0..len) may be unpacked as desc; FLOE_EINVAL with err naming the
 * message and field otherwise. */
floe_rc floe_pb_check(const ProtobufCMessageDescriptor *desc, const uint8_t *data, size_t len,
                      floe_err *err);

/* floe_pb_check, then protobuf_c_message_unpack with alloc (NULL: malloc). NULL with err
 * when either refuses. */
ProtobufCMessage *floe_pb_unpack(const ProtobufCMessageDescriptor *desc, ProtobufCAllocator *alloc,
                                 const uint8_t *data, size_t len, floe_err *err);

#endif
