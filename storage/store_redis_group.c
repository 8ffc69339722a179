/*
 * store_redis_group — calls of one script held to go as one EVALSHA (store_redis_group.h).
 *
 * The arguments are copied into one buffer and addressed by offset, so the buffer may grow
 * while the group fills; the layout a script sees is built when the group goes. Buffers are
 * kept between groups: once warm, a group allocates only the record of its callbacks.
 */
#include "store_redis_group.h"

#include "floe_mem.h"

#include <string.h>

typedef struct span {
    size_t off, len;
} span;

typedef struct gcall {
    store_redis_cb cb;
    void *arg;
} gcall;

struct redis_group {
    store_script_id id;
    int nks, nke, nas, nae; /* the shape of its calls */
    unsigned n;
    gcall calls[REDIS_GROUP_CALLS_MAX];
    /* shared keys, shared arguments, then each call's keys and arguments */
    span *spans;
    size_t n_spans, spans_cap;
    char *buf;
    size_t len, cap;
    const char **argv; /* the layout sent, built by redis_group_send */
    size_t *argvlen;
    size_t argv_cap, argvlen_cap;
};

/* A group on its way: its callbacks, until the answer. */
typedef struct sent_group {
    unsigned n;
    gcall calls[];
} sent_group;

redis_group *
redis_group_new(void)
{
    return floe_calloc(1, sizeof(redis_group));
}

static void
fail_calls(const gcall *calls, unsigned n, const floe_err *err)
{
    for (unsigned i = 0; i < n; i++)
        calls[i].cb(NULL, err, calls[i].arg);
}

void
redis_group_free(redis_group *g, const floe_err *err)
{
    if (g == NULL)
        return;
    gcall calls[REDIS_GROUP_CALLS_MAX];
    unsigned n = g->n;
    memcpy(calls, g->calls, n * sizeof(gcall));
    g->n = 0;
    fail_calls(calls, n, err);
    floe_free(g->spans);
    floe_free(g->buf);
    floe_free(g->argv);
    floe_free(g->argvlen);
    floe_free(g);
}

unsigned
redis_group_calls(const redis_group *g)
{
    return g->n;
}

static size_t
item_len(const redis_group_call *c, int i)
{
    return c->argvlen != NULL ? c->argvlen[i] : strlen(c->argv[i]);
}

static bool
same_span(const redis_group *g, size_t s, const redis_group_call *c, int i)
{
    size_t len = item_len(c, i);
    return g->spans[s].len == len && memcmp(g->buf + g->spans[s].off, c->argv[i], len) == 0;
}

bool
redis_group_fits(const redis_group *g, const redis_group_call *c)
{
    if (g->n == 0)
        return true;
    if (g->n >= REDIS_GROUP_CALLS_MAX || g->len >= REDIS_GROUP_BYTES_MAX || c->id != g->id ||
        c->nk_shared != g->nks || c->nk_each != g->nke || c->na_shared != g->nas ||
        c->na_each != g->nae)
        return false;
    for (int i = 0; i < g->nks; i++)
        if (!same_span(g, (size_t)i, c, i))
            return false;
    for (int i = 0; i < g->nas; i++)
        if (!same_span(g, (size_t)(g->nks + i), c, c->nk_shared + c->nk_each + i))
            return false;
    return true;
}

static bool
grow(void **p, size_t *cap, size_t need, size_t size)
{
    if (need <= *cap)
        return true;
    size_t n = *cap ? *cap : 64;
    while (n < need)
        n *= 2;
    void *q = floe_realloc(*p, n * size);
    if (q == NULL)
        return false;
    *p = q;
    *cap = n;
    return true;
}

/* Copies item i of c to the end of the buffer, as the next span. */
static void
put(redis_group *g, const redis_group_call *c, int i)
{
    size_t len = item_len(c, i);
    if (len > 0)
        memcpy(g->buf + g->len, c->argv[i], len);
    g->spans[g->n_spans++] = (span){g->len, len};
    g->len += len;
}

floe_rc
redis_group_add(redis_group *g, const redis_group_call *c, store_redis_cb cb, void *arg)
{
    int shared = g->n == 0 ? c->nk_shared + c->na_shared : 0;
    int total = c->nk_shared + c->nk_each + c->na_shared + c->na_each;
    size_t bytes = 0;
    for (int i = 0; i < total; i++)
        bytes += item_len(c, i);
    if (!grow((void **)&g->spans, &g->spans_cap,
              g->n_spans + (size_t)(shared + c->nk_each + c->na_each), sizeof(span)) ||
        !grow((void **)&g->buf, &g->cap, g->len + bytes + 1, 1))
        return FLOE_ENOMEM;
    if (g->n == 0) {
        g->id = c->id;
        g->nks = c->nk_shared;
        g->nke = c->nk_each;
        g->nas = c->na_shared;
        g->nae = c->na_each;
        for (int i = 0; i < c->nk_shared; i++)
            put(g, c, i);
        for (int i = 0; i < c->na_shared; i++)
            put(g, c, c->nk_shared + c->nk_each + i);
    }
    for (int i = 0; i < c->nk_each; i++)
        put(g, c, c->nk_shared + i);
    for (int i = 0; i < c->na_each; i++)
        put(g, c, c->nk_shared + c->nk_each + c->na_shared + i);
    g->calls[g->n++] = (gcall){cb, arg};
    return FLOE_OK;
}

static void
group_reply(const store_reply *rep, const floe_err *err, void *arg)
{
    sent_group *s = arg;
    if (err != NULL) {
        fail_calls(s->calls, s->n, err);
    } else if (store_reply_kind(rep) != STORE_REPLY_ARRAY || store_reply_len(rep) != s->n) {
        floe_err e = {0};
        floe_err_sys(&e, FLOE_EIO, "redis: a group of %u calls was answered with %zu answers", s->n,
                     store_reply_len(rep));
        fail_calls(s->calls, s->n, &e);
    } else {
        for (unsigned i = 0; i < s->n; i++)
            s->calls[i].cb(store_reply_elem(rep, i), NULL, s->calls[i].arg);
    }
    floe_free(s);
}

/* The span of item k of call j's own keys (kind 0) or arguments (kind 1). */
static const span *
own(const redis_group *g, unsigned j, int kind, int k)
{
    size_t base = (size_t)(g->nks + g->nas) + (size_t)j * (size_t)(g->nke + g->nae);
    return &g->spans[base + (size_t)(kind ? g->nke + k : k)];
}

static void
at(redis_group *g, size_t *i, const span *sp)
{
    g->argv[*i] = g->buf + sp->off;
    g->argvlen[*i] = sp->len;
    (*i)++;
}

void
redis_group_send(redis_group *g, store_redis *r, redis_group_send_fn send)
{
    unsigned n = g->n;
    if (n == 0)
        return;
    sent_group *s = floe_malloc(sizeof(*s) + n * sizeof(gcall));
    size_t nkeys = (size_t)g->nks + (size_t)n * (size_t)g->nke;
    size_t argc = nkeys + (size_t)g->nas + (size_t)n * (size_t)g->nae;
    floe_err err = {0};
    if (s == NULL || !grow((void **)&g->argv, &g->argv_cap, argc, sizeof(*g->argv)) ||
        !grow((void **)&g->argvlen, &g->argvlen_cap, argc, sizeof(*g->argvlen))) {
        gcall calls[REDIS_GROUP_CALLS_MAX];
        memcpy(calls, g->calls, n * sizeof(gcall));
        g->n = g->len = g->n_spans = 0;
        floe_free(s);
        floe_err_sys(&err, FLOE_ENOMEM, "redis: out of memory sending a group of %u calls", n);
        fail_calls(calls, n, &err);
        return;
    }
    s->n = n;
    memcpy(s->calls, g->calls, n * sizeof(gcall));
    size_t i = 0;
    for (int k = 0; k < g->nks; k++)
        at(g, &i, &g->spans[k]);
    for (unsigned j = 0; j < n; j++)
        for (int k = 0; k < g->nke; k++)
            at(g, &i, own(g, j, 0, k));
    for (int k = 0; k < g->nas; k++)
        at(g, &i, &g->spans[g->nks + k]);
    for (unsigned j = 0; j < n; j++)
        for (int k = 0; k < g->nae; k++)
            at(g, &i, own(g, j, 1, k));
    /* Empty before sending: a callback of a failed send may open the next group (the
     * buffer it fills is not read again once send returned: hiredis copies the command). */
    g->n = g->len = g->n_spans = 0;
    floe_rc rc = send(r, g->id, (int)nkeys, (int)argc, g->argv, g->argvlen, group_reply, s);
    if (rc != FLOE_OK) {
        floe_err_sys(&err, rc == FLOE_ENOMEM ? FLOE_ENOMEM : FLOE_EIO,
                     "redis: a group of %u calls not sent (%s)", n,
                     rc == FLOE_EAGAIN ? "connection lost" : floe_rc_name(rc));
        fail_calls(s->calls, n, &err);
        floe_free(s);
    }
}
