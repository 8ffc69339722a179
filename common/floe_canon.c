#include "floe_canon.h"

#include "floe_mem.h"

#include <math.h>
#include <openssl/evp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

enum {
    T_FIELD = 'F',
    T_NAMED = 'N',
    T_NONE = '0',
    T_INT = 'i',
    T_FLOAT = 'f',
    T_STRING = 's',
    T_BOOL = 'b',
    T_DATETIME = 't',
    T_DURATION = 'd',
    T_BLOB = 'B',
    T_LIST = 'L',
    T_MAP = 'M',
};

#define DEPTH_MAX 64 /* values nest far less; a deeper one is refused, not recursed */

typedef struct canon {
    EVP_MD_CTX *md;
    int rc;
} canon;

static void
put(canon *c, const void *p, size_t n)
{
    if (c->rc == 0 && n > 0 && EVP_DigestUpdate(c->md, p, n) != 1)
        c->rc = -1;
}

static void
put_u64(canon *c, uint64_t v)
{
    uint8_t b[8];
    for (int i = 7; i >= 0; i--) {
        b[i] = (uint8_t)(v & 0xff);
        v >>= 8;
    }
    put(c, b, 8);
}

static void
put_tag(canon *c, char tag)
{
    put(c, &tag, 1);
}

static void
put_str(canon *c, char tag, const char *s)
{
    size_t n = s != NULL ? strlen(s) : 0;
    put_tag(c, tag);
    put_u64(c, n);
    put(c, s, n);
}

static int
cmp_named(const void *a, const void *b)
{
    const Floe__NamedValue *x = *(Floe__NamedValue *const *)a, *y = *(Floe__NamedValue *const *)b;
    return strcmp(x->name != NULL ? x->name : "", y->name != NULL ? y->name : "");
}

static void put_value(canon *c, const Floe__Value *v, int depth);

/* Named values in name order (sorted on a copy: the caller's order is left alone). */
static void
put_named(canon *c, Floe__NamedValue *const *nv, size_t n, int depth)
{
    put_u64(c, n);
    if (n == 0)
        return;
    Floe__NamedValue **s = floe_malloc(n * sizeof(*s));
    if (s == NULL) {
        c->rc = -1;
        return;
    }
    memcpy(s, nv, n * sizeof(*s));
    qsort(s, n, sizeof(*s), cmp_named);
    for (size_t i = 0; i < n && c->rc == 0; i++) {
        put_str(c, T_NAMED, s[i]->name);
        put_value(c, s[i]->value, depth + 1);
    }
    floe_free(s);
}

static void
put_value(canon *c, const Floe__Value *v, int depth)
{
    if (depth > DEPTH_MAX) {
        c->rc = -1;
        return;
    }
    if (v == NULL) {
        put_tag(c, T_NONE);
        return;
    }
    switch (v->kind_case) {
    case FLOE__VALUE__KIND_INTEGER:
        put_tag(c, T_INT);
        put_u64(c, (uint64_t)v->integer);
        break;
    case FLOE__VALUE__KIND_FLOAT: {
        double d = v->float_;
        uint64_t bits;
        if (isnan(d))
            bits = 0x7ff8000000000000ULL;
        else if (d == 0.0)
            bits = 0;
        else
            memcpy(&bits, &d, sizeof(bits));
        put_tag(c, T_FLOAT);
        put_u64(c, bits);
        break;
    }
    case FLOE__VALUE__KIND_STRING:
        put_str(c, T_STRING, v->string);
        break;
    case FLOE__VALUE__KIND_BOOLEAN:
        put_tag(c, T_BOOL);
        put_tag(c, v->boolean ? 1 : 0);
        break;
    case FLOE__VALUE__KIND_DATETIME_UNIX_US:
        put_tag(c, T_DATETIME);
        put_u64(c, (uint64_t)v->datetime_unix_us);
        break;
    case FLOE__VALUE__KIND_DURATION_US:
        put_tag(c, T_DURATION);
        put_u64(c, (uint64_t)v->duration_us);
        break;
    case FLOE__VALUE__KIND_REF: /* its digest: a whole input only, as inline_digest says */
        put_str(c, T_STRING, v->ref != NULL ? v->ref->canon : "");
        break;
    case FLOE__VALUE__KIND_BLOB:
        /* By content only: the same bytes stored elsewhere are the same input. */
        put_str(c, T_BLOB, v->blob != NULL ? v->blob->digest : "");
        break;
    case FLOE__VALUE__KIND_LIST: {
        size_t n = v->list != NULL ? v->list->n_items : 0;
        put_tag(c, T_LIST);
        put_u64(c, n);
        for (size_t i = 0; i < n && c->rc == 0; i++)
            put_value(c, v->list->items[i], depth + 1);
        break;
    }
    case FLOE__VALUE__KIND_MAP:
        put_tag(c, T_MAP);
        put_named(c, v->map != NULL ? v->map->entries : NULL,
                  v->map != NULL ? v->map->n_entries : 0, depth);
        break;
    default:
        put_tag(c, T_NONE);
        break;
    }
}

static int
finish(canon *c, char out[FLOE_CANON_HEX_LEN + 1])
{
    static const char hex[] = "0123456789abcdef";
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    if (c->rc == 0 && EVP_DigestFinal_ex(c->md, md, &len) != 1)
        c->rc = -1;
    EVP_MD_CTX_free(c->md);
    if (c->rc != 0 || len != 32)
        return -1;
    for (unsigned i = 0; i < 32; i++) {
        out[2 * i] = hex[md[i] >> 4];
        out[2 * i + 1] = hex[md[i] & 0xf];
    }
    out[FLOE_CANON_HEX_LEN] = '\0';
    return 0;
}

static int
start(canon *c, const char *what)
{
    c->rc = 0;
    c->md = EVP_MD_CTX_new();
    if (c->md == NULL || EVP_DigestInit_ex(c->md, EVP_sha256(), NULL) != 1) {
        EVP_MD_CTX_free(c->md);
        return -1;
    }
    put_str(c, T_FIELD, what);
    return 0;
}

int
floe_canon_cache_key(const floe_cache_ident *id, Floe__NamedValue *const *inputs, size_t n,
                     char out[FLOE_CANON_HEX_LEN + 1])
{
    canon c;
    if (start(&c, "floe-cache-v3") != 0)
        return -1;
    put_str(&c, T_FIELD, id->project);
    put_str(&c, T_FIELD, id->domain);
    put_str(&c, T_FIELD, id->task_name);
    put_str(&c, T_FIELD, id->interface_digest);
    put_str(&c, T_FIELD, id->runtime_digest != NULL ? id->runtime_digest : "");
    put_str(&c, T_FIELD, id->cache_version);
    /* Each input by the digest of its value: a value kept in the blob store (a ValueRef)
     * carries that digest, so it keys as the same value inline (v3). */
    Floe__NamedValue *dv = n > 0 ? floe_malloc(n * sizeof(*dv)) : NULL;
    Floe__NamedValue **dp = n > 0 ? floe_malloc(n * sizeof(*dp)) : NULL;
    Floe__Value *vs = n > 0 ? floe_malloc(n * sizeof(*vs)) : NULL;
    char(*hex)[FLOE_CANON_HEX_LEN + 1] = n > 0 ? floe_malloc(n * sizeof(*hex)) : NULL;
    if (n > 0 && (dv == NULL || dp == NULL || vs == NULL || hex == NULL))
        c.rc = -1;
    for (size_t i = 0; c.rc == 0 && i < n; i++) {
        if (floe_canon_value_digest(inputs[i]->value, hex[i]) != 0) {
            c.rc = -1;
            break;
        }
        floe__value__init(&vs[i]);
        vs[i].kind_case = FLOE__VALUE__KIND_STRING;
        vs[i].string = hex[i];
        floe__named_value__init(&dv[i]);
        dv[i].name = inputs[i]->name;
        dv[i].value = &vs[i];
        dp[i] = &dv[i];
    }
    if (c.rc == 0)
        put_named(&c, dp, n, 0);
    floe_free(dv);
    floe_free(dp);
    floe_free(vs);
    floe_free(hex);
    return finish(&c, out);
}

int
floe_canon_value_digest(const Floe__Value *v, char out[FLOE_CANON_HEX_LEN + 1])
{
    if (v != NULL && v->kind_case == FLOE__VALUE__KIND_REF) { /* computed when it was made */
        if (v->ref == NULL || v->ref->canon == NULL || strlen(v->ref->canon) != FLOE_CANON_HEX_LEN)
            return -1;
        memcpy(out, v->ref->canon, FLOE_CANON_HEX_LEN + 1);
        return 0;
    }
    canon c;
    if (start(&c, "floe-value-v1") != 0)
        return -1;
    put_value(&c, v, 0);
    return finish(&c, out);
}
