/*
 * Compiled specs to JSON for the API, by walking protobuf-c descriptors: field names as
 * in the .proto, enums as lower-case names without their prefix, values and types in
 * their spec forms (42, "list<integer>"), fields at their default left out. Depth is
 * bounded; the specs rendered were built by our own compiler.
 */
#include "sched_api_int.h"

#include "floe_type.h"
#include "floe_value.h"

#include "floe_spec.pb-c.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#define RENDER_MAX_DEPTH 48

static json_t *render(const ProtobufCMessage *msg, int depth);

/* "FAILURE_POLICY_FAIL_FAST" of enum FailurePolicy -> "fail_fast". */
static json_t *
render_enum(const ProtobufCEnumDescriptor *ed, int value)
{
    const ProtobufCEnumValue *ev = protobuf_c_enum_descriptor_get_value(ed, value);
    if (ev == NULL)
        return json_integer(value);
    char prefix[96];
    size_t n = 0;
    for (const char *p = ed->short_name; *p && n + 2 < sizeof(prefix); p++) {
        if (isupper((unsigned char)*p) && p != ed->short_name)
            prefix[n++] = '_';
        prefix[n++] = (char)toupper((unsigned char)*p);
    }
    prefix[n++] = '_';
    prefix[n] = '\0';
    const char *name = ev->name;
    if (strncmp(name, prefix, n) == 0)
        name += n;
    char out[96];
    size_t i;
    for (i = 0; name[i] && i + 1 < sizeof(out); i++)
        out[i] = (char)tolower((unsigned char)name[i]);
    out[i] = '\0';
    return json_string(out);
}

static json_t *
render_scalar(const ProtobufCFieldDescriptor *f, const void *p, int depth)
{
    switch (f->type) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
        return json_integer(*(const int32_t *)p);
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
        return json_integer(*(const uint32_t *)p);
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
        return json_integer(*(const int64_t *)p);
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
        return json_integer((json_int_t) * (const uint64_t *)p);
    case PROTOBUF_C_TYPE_FLOAT:
        return json_real(*(const float *)p);
    case PROTOBUF_C_TYPE_DOUBLE:
        return json_real(*(const double *)p);
    case PROTOBUF_C_TYPE_BOOL:
        return json_boolean(*(const protobuf_c_boolean *)p);
    case PROTOBUF_C_TYPE_ENUM:
        return render_enum(f->descriptor, *(const int *)p);
    case PROTOBUF_C_TYPE_STRING: {
        const char *s = *(char *const *)p;
        return s != NULL ? json_string(s) : NULL;
    }
    case PROTOBUF_C_TYPE_BYTES:
        return json_null(); /* no bytes in specs */
    case PROTOBUF_C_TYPE_MESSAGE: {
        const ProtobufCMessage *m = *(ProtobufCMessage *const *)p;
        if (m == NULL)
            return NULL;
        if (m->descriptor == &floe__value__descriptor)
            return floe_value_to_json((const Floe__Value *)m);
        if (m->descriptor == &floe__literal_type__descriptor) {
            char buf[FLOE_TYPE_TEXT_MAX];
            return json_string(floe_type_format((const Floe__LiteralType *)m, buf, sizeof(buf)));
        }
        return render(m, depth + 1);
    }
    }
    return NULL;
}

static size_t
scalar_size(const ProtobufCFieldDescriptor *f)
{
    switch (f->type) {
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
    case PROTOBUF_C_TYPE_DOUBLE:
        return 8;
    case PROTOBUF_C_TYPE_STRING:
    case PROTOBUF_C_TYPE_MESSAGE:
        return sizeof(void *);
    case PROTOBUF_C_TYPE_BYTES:
        return sizeof(ProtobufCBinaryData);
    case PROTOBUF_C_TYPE_BOOL:
        return sizeof(protobuf_c_boolean);
    default:
        return 4;
    }
}

static bool
is_default(const ProtobufCFieldDescriptor *f, const void *p)
{
    switch (f->type) {
    case PROTOBUF_C_TYPE_STRING:
        return *(char *const *)p == NULL || (*(char *const *)p)[0] == '\0';
    case PROTOBUF_C_TYPE_MESSAGE:
        return *(void *const *)p == NULL;
    case PROTOBUF_C_TYPE_BYTES:
        return ((const ProtobufCBinaryData *)p)->len == 0;
    default: {
        static const unsigned char zero[8];
        return memcmp(p, zero, scalar_size(f)) == 0;
    }
    }
}

static json_t *
render(const ProtobufCMessage *msg, int depth)
{
    if (depth > RENDER_MAX_DEPTH)
        return json_string("...");
    const ProtobufCMessageDescriptor *d = msg->descriptor;
    json_t *o = json_object();
    if (o == NULL)
        return NULL;
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        const char *base = (const char *)msg;
        const void *p = base + f->offset;
        json_t *v = NULL;
        if (f->label == PROTOBUF_C_LABEL_REPEATED) {
            size_t n = *(const size_t *)(base + f->quantifier_offset);
            if (n == 0)
                continue;
            v = json_array();
            const char *arr = *(char *const *)p;
            for (size_t k = 0; v != NULL && k < n; k++) {
                json_t *item = render_scalar(f, arr + k * scalar_size(f), depth);
                if (item != NULL)
                    json_array_append_new(v, item);
            }
        } else {
            if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
                uint32_t which = *(const uint32_t *)(base + f->quantifier_offset);
                if (which != f->id)
                    continue;
            } else if (is_default(f, p)) {
                continue;
            }
            v = render_scalar(f, p, depth);
        }
        if (v != NULL)
            json_object_set_new(o, f->name, v);
    }
    return o;
}

json_t *
sched_render_message(const ProtobufCMessage *msg)
{
    return msg != NULL ? render(msg, 0) : json_null();
}

json_t *
sched_render_values(const uint8_t *packed, size_t len, floe_arena *arena)
{
    if (packed == NULL)
        return json_null();
    Floe__ValueMap *m = floe__value_map__unpack(floe_arena_pb_allocator(arena), len, packed);
    if (m == NULL)
        return json_null();
    json_t *o = json_object();
    for (size_t i = 0; o != NULL && i < m->n_entries; i++) {
        json_t *v = floe_value_to_json(m->entries[i]->value);
        json_object_set_new(o, m->entries[i]->name, v != NULL ? v : json_null());
    }
    return o;
}

json_t *
sched_render_time(int64_t unix_us)
{
    if (unix_us == 0)
        return json_null();
    char buf[40];
    floe_datetime_format(unix_us, buf, sizeof(buf));
    return json_string(buf);
}
