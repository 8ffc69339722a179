/*
 * floe_envelope — encoding and decoding of bus messages: a floe.Envelope (type, id, time,
 * producer) around a protobuf payload. The only place that unpacks bus bytes: it checks
 * the size limit, decodes, checks the envelope and the payload's required fields, and
 * returns protobuf-c structs allocated in the caller's arena. What it rejects carries a
 * reason fit for the dead-letter topic.
 */
#ifndef FLOE_ENVELOPE_H
#define FLOE_ENVELOPE_H

#include "floe_arena.h"
#include "floe_err.h"
#include "floe_text.h"
#include "floe_time.h"

#include "floe_envelope.pb-c.h"
#include "floe_messages.pb-c.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A growable output buffer, reused across messages (owned by the caller). */
typedef struct floe_buf {
    uint8_t *data;
    size_t len;
    size_t cap;
} floe_buf;

void floe_buf_deinit(floe_buf *buf);

typedef struct floe_envelope {
    Floe__MessageType type;
    char id[FLOE_ID_LEN + 1];
    int64_t time_unix_us;
    const char *producer;        /* in the arena */
    const ProtobufCMessage *msg; /* decoded payload of `type`, in the arena */
    const char *key_id;          /* "" when unsigned (floe_sign.h) */
    const uint8_t *signature;    /* in the arena; sig_len 0 when unsigned */
    size_t sig_len;
} floe_envelope;

/* A task's secret reference (Container.secrets): name [a-z0-9][a-z0-9_.-]*, and exactly
 * one of env (a variable name outside FLOE_*) or file (a file name, no directories). */
#define FLOE_SECRET_NAME_MAX 63
#define FLOE_SECRETS_MAX 32
floe_rc floe_secret_ref_check(const char *name, const char *env, const char *file, floe_err *err);

/* Payload descriptor for a message type; NULL for unknown types. */
const ProtobufCMessageDescriptor *floe_envelope_descriptor(Floe__MessageType type);
const char *floe_envelope_type_name(Floe__MessageType type);
/* The checks decode applies to a payload of type (senders run them before producing). */
floe_rc floe_envelope_check_message(Floe__MessageType type, const ProtobufCMessage *msg,
                                    floe_err *err);

/* Encodes payload (whose descriptor must match type) in a new envelope with a fresh id and
 * the current time into buf (replacing its contents). id_out (optional) receives the id.
 * FLOE_ETOOBIG when the result would exceed max_bytes; FLOE_EINVAL for a mismatched type. */
floe_rc floe_envelope_encode(Floe__MessageType type, const ProtobufCMessage *payload,
                             const char *producer, size_t max_bytes, floe_buf *buf,
                             char id_out[FLOE_ID_LEN + 1], floe_err *err);

/* Decodes and validates data[0..len). On success fills out; everything it points to lives in
 * arena. Errors (err->msg says why, for the DLQ): FLOE_ETOOBIG over max_bytes, FLOE_EINVAL
 * for anything malformed: empty, truncated, unknown type, bad id, missing fields. */
floe_rc floe_envelope_decode(const void *data, size_t len, size_t max_bytes, floe_arena *arena,
                             floe_envelope *out, floe_err *err);

/* Checks an identifier used in keys and names: 1..max bytes of [A-Za-z0-9._-], starting
 * with a letter or digit. */
floe_rc floe_envelope_check_id(const char *what, const char *s, size_t max, floe_err *err);

/* DataPublished bounds (also used by the client library and floectl publish). */
#define FLOE_PARTITION_MAX 16

#endif
