/*
 * store_state_codec — see store_state_codec.h. Hand-written splitting over bounded
 * lengths (the values are the scripts' own, but Redis may hold what an older version or a
 * stray writer left).
 */
#include "store_state_codec.h"

#include "floe_text.h"

#include <string.h>

/* An unsigned decimal of s[0..len) into *out: no sign, no blanks, no overflow. */
static bool
uint_parse(const char *s, size_t len, uint64_t max, uint64_t *out)
{
    if (len == 0 || len > 20)
        return false;
    uint64_t v = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        unsigned d = (unsigned)(s[i] - '0');
        if (v > (max - d) / 10)
            return false;
        v = v * 10 + d;
    }
    *out = v;
    return true;
}

static bool
u32_parse(const char *s, size_t len, uint32_t *out)
{
    uint64_t v;
    if (!uint_parse(s, len, UINT32_MAX, &v))
        return false;
    *out = (uint32_t)v;
    return true;
}

bool
store_state_int_parse(const char *s, size_t len, int64_t *out)
{
    bool neg = len > 0 && s[0] == '-';
    uint64_t v;
    if (!uint_parse(s + neg, len - neg, (uint64_t)INT64_MAX, &v))
        return false;
    *out = neg ? -(int64_t)v : (int64_t)v;
    return true;
}

/* Splits s at the first n-1 occurrences of sep (the last field takes the rest). */
static size_t
split(const char *s, size_t len, char sep, store_span *f, size_t n)
{
    size_t nf = 0, start = 0;
    for (size_t i = 0; i <= len && nf < n; i++) {
        if (i == len || (s[i] == sep && nf + 1 < n)) {
            f[nf++] = (store_span){s + start, i - start};
            start = i + 1;
        }
    }
    return nf;
}

store_field_kind
store_state_field(const char *f, size_t len, uint32_t *node, uint32_t *attempt)
{
    *node = *attempt = 0;
    if (len == 0 || len > 24)
        return STORE_FIELD_OTHER;
    if (f[0] >= '0' && f[0] <= '9')
        return u32_parse(f, len, node) ? STORE_FIELD_NODE : STORE_FIELD_OTHER;
    if (len < 2 || f[1] < '0' || f[1] > '9')
        return STORE_FIELD_OTHER;
    if (f[0] == 'o')
        return u32_parse(f + 1, len - 1, node) ? STORE_FIELD_OUTPUT : STORE_FIELD_OTHER;
    if (f[0] == 'e')
        return u32_parse(f + 1, len - 1, node) ? STORE_FIELD_ERROR : STORE_FIELD_OTHER;
    if (f[0] == 'l') {
        const char *dot = memchr(f, '.', len);
        if (dot == NULL || !u32_parse(f + 1, (size_t)(dot - f - 1), node) ||
            !u32_parse(dot + 1, len - (size_t)(dot + 1 - f), attempt))
            return STORE_FIELD_OTHER;
        return STORE_FIELD_LOGS;
    }
    return STORE_FIELD_OTHER;
}

bool
store_state_node_rec_parse(const char *s, size_t len, store_node_rec *out)
{
    store_span f[5];
    uint32_t p;
    if (s == NULL || split(s, len, ',', f, 5) != 5 || !u32_parse(f[0].s, f[0].len, &p) ||
        !u32_parse(f[1].s, f[1].len, &out->attempt) ||
        !u32_parse(f[2].s, f[2].len, &out->unresolved) ||
        !u32_parse(f[3].s, f[3].len, &out->user_failures) ||
        !u32_parse(f[4].s, f[4].len, &out->system_failures) || p > 255)
        return false;
    out->phase = (int)p;
    return true;
}

bool
store_state_node_error_parse(const char *s, size_t len, store_node_error *out)
{
    store_span f[3];
    uint32_t k;
    if (s == NULL || split(s, len, '|', f, 3) != 3 || !u32_parse(f[0].s, f[0].len, &k) || k > 2)
        return false;
    out->kind = (int)k;
    out->code = f[1];
    out->message = f[2];
    return true;
}

bool
store_state_attempt_parse(const char *s, size_t len, store_attempt_entry *out)
{
    store_span f[9];
    uint32_t p, k;
    if (s == NULL || split(s, len, '|', f, 9) != 9 || !u32_parse(f[0].s, f[0].len, &out->node) ||
        !u32_parse(f[1].s, f[1].len, &out->attempt) || !u32_parse(f[2].s, f[2].len, &p) ||
        !u32_parse(f[3].s, f[3].len, &k) || p > 255 || k > 2)
        return false;
    /* Timing is informative: an unreadable one is 0, the entry is kept. */
    if (!store_state_int_parse(f[6].s, f[6].len, &out->started_us))
        out->started_us = 0;
    if (!store_state_int_parse(f[7].s, f[7].len, &out->finished_us))
        out->finished_us = 0;
    out->phase = (int)p;
    out->kind = (int)k;
    out->code = f[4];
    out->worker = f[5];
    out->message = f[8];
    return true;
}

bool
store_state_log_refs_parse(const char *s, size_t len, store_log_refs *out)
{
    store_span f[2];
    if (s == NULL || split(s, len, '|', f, 2) != 2)
        return false;
    out->out = f[0];
    out->err = f[1];
    return true;
}

const char *
store_state_text(char *out, size_t n, const char *s, bool no_bar)
{
    size_t len = floe_text_copy(out, n, s != NULL ? s : "", s != NULL ? strlen(s) : 0);
    for (size_t i = 0; no_bar && i < len; i++)
        if (out[i] == '|')
            out[i] = '_';
    return out;
}
