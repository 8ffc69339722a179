/*
 * store_tasklog — the keys and entries of the running-log index. See the header.
 */
#include "store_tasklog.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

floe_rc
store_tasklog_key(char out[STORE_KEY_MAX], const char *exec, const char *node, uint32_t attempt,
                  int stream)
{
    int n = snprintf(out, STORE_KEY_MAX, "floe:{%s}:tl:%s:%u:%c", exec, node, attempt,
                     stream == 0 ? 'o' : 'e');
    return n > 0 && n < STORE_KEY_MAX ? FLOE_OK : FLOE_ETOOBIG;
}

void
store_tasklog_format(const store_tasklog_entry *e, char buf[STORE_TASKLOG_ENTRY_MAX])
{
    if (e->end)
        snprintf(buf, STORE_TASKLOG_ENTRY_MAX, "e %" PRIu64 " %s", e->len,
                 e->uri[0] != '\0' ? e->uri : "-");
    else
        snprintf(buf, STORE_TASKLOG_ENTRY_MAX, "c %" PRIu64 " %" PRIu64 " %s", e->off, e->len,
                 e->uri);
}

/* A decimal number ending at a space; advances *p past the space. */
static bool
number(const char **p, const char *end, uint64_t *out)
{
    uint64_t v = 0;
    const char *s = *p;
    if (s >= end || *s < '0' || *s > '9')
        return false;
    for (; s < end && *s >= '0' && *s <= '9'; s++) {
        if (v > (UINT64_MAX - 9) / 10)
            return false;
        v = v * 10 + (uint64_t)(*s - '0');
    }
    if (s >= end || *s != ' ')
        return false;
    *p = s + 1;
    *out = v;
    return true;
}

floe_rc
store_tasklog_parse(const char *s, size_t len, store_tasklog_entry *e)
{
    const char *p = s + 2, *end = s + len;
    memset(e, 0, sizeof(*e));
    if (len < 4 || (s[0] != 'c' && s[0] != 'e') || s[1] != ' ')
        return FLOE_EINVAL;
    e->end = s[0] == 'e';
    if (!e->end && !number(&p, end, &e->off))
        return FLOE_EINVAL;
    if (!number(&p, end, &e->len))
        return FLOE_EINVAL;
    size_t ulen = (size_t)(end - p);
    if (e->end && ulen == 1 && *p == '-')
        return FLOE_OK;
    if (ulen == 0 || ulen >= sizeof(e->uri))
        return FLOE_EINVAL;
    memcpy(e->uri, p, ulen);
    e->uri[ulen] = '\0';
    char hex[FLOE_SHA256_HEX_LEN + 1];
    floe_err err;
    return store_blob_uri_parse(e->uri, hex, &err) == FLOE_OK ? FLOE_OK : FLOE_EINVAL;
}
