#include "floe_pbwire.h"

#include "floe_text.h"

typedef struct pb_level {
    const ProtobufCMessageDescriptor *desc;
    const uint8_t *end;
} pb_level;

/* Reads a varint at *p (< end); false when truncated or longer than 10 bytes. */
static bool
varint(const uint8_t **p, const uint8_t *end, uint64_t *v)
{
    uint64_t r = 0;
    for (unsigned shift = 0; shift < 70 && *p < end; shift += 7) {
        uint8_t b = *(*p)++;
        r |= (uint64_t)(b & 0x7f) << shift;
        if ((b & 0x80) == 0) {
            *v = r;
            return true;
        }
    }
    return false;
}

floe_rc
floe_pb_check(const ProtobufCMessageDescriptor *desc, const uint8_t *data, size_t len,
              floe_err *err)
{
    if (len == 0)
        return FLOE_OK; /* data may be NULL then: no pointer arithmetic on it */
    pb_level stack[FLOE_PB_DEPTH_MAX + 1];
    int depth = 0;
    stack[0] = (pb_level){desc, data + len};
    const uint8_t *p = data;
    for (;;) {
        while (p == stack[depth].end) {
            if (depth == 0)
                return FLOE_OK;
            depth--;
        }
        const ProtobufCMessageDescriptor *d = stack[depth].desc;
        const uint8_t *end = stack[depth].end;
        uint64_t tag, n;
        if (!varint(&p, end, &tag) || (tag >> 3) == 0 || (tag >> 3) > 0x1fffffff)
            return floe_err_user(err, FLOE_EINVAL, "%s: malformed field tag at byte %zu", d->name,
                                 (size_t)(p - data));
        uint32_t num = (uint32_t)(tag >> 3);
        switch (tag & 7) {
        case 0:
            if (!varint(&p, end, &n))
                return floe_err_user(err, FLOE_EINVAL, "%s: truncated varint (field %u)", d->name,
                                     num);
            break;
        case 1:
        case 5: {
            size_t w = (tag & 7) == 1 ? 8 : 4;
            if ((size_t)(end - p) < w)
                return floe_err_user(err, FLOE_EINVAL, "%s: truncated field %u", d->name, num);
            p += w;
            break;
        }
        case 2: {
            if (!varint(&p, end, &n) || n > (uint64_t)(end - p))
                return floe_err_user(err, FLOE_EINVAL, "%s: field %u is longer than its message",
                                     d->name, num);
            const ProtobufCFieldDescriptor *f = protobuf_c_message_descriptor_get_field(d, num);
            if (f != NULL && f->type == PROTOBUF_C_TYPE_MESSAGE) {
                if (depth == FLOE_PB_DEPTH_MAX)
                    return floe_err_user(err, FLOE_EINVAL,
                                         "%s.%s: messages nested deeper than %d levels", d->name,
                                         f->name, FLOE_PB_DEPTH_MAX);
                stack[++depth] = (pb_level){f->descriptor, p + n};
                continue; /* p now walks the sub-message */
            }
            if (f != NULL && f->type == PROTOBUF_C_TYPE_STRING &&
                !floe_utf8_valid((const char *)p, (size_t)n))
                return floe_err_user(err, FLOE_EINVAL, "%s.%s: not valid UTF-8 text", d->name,
                                     f->name);
            p += n;
            break;
        }
        default:
            return floe_err_user(err, FLOE_EINVAL, "%s: field %u has wire type %u (not supported)",
                                 d->name, num, (unsigned)(tag & 7));
        }
    }
}

ProtobufCMessage *
floe_pb_unpack(const ProtobufCMessageDescriptor *desc, ProtobufCAllocator *alloc,
               const uint8_t *data, size_t len, floe_err *err)
{
    if (floe_pb_check(desc, data, len, err) != FLOE_OK)
        return NULL;
    ProtobufCMessage *m = protobuf_c_message_unpack(desc, alloc, len, data);
    if (m == NULL)
        floe_err_user(err, FLOE_EINVAL, "%s: not a valid message (truncated or corrupt)",
                      desc->name);
    return m;
}
