/*
 * store_redis — asynchronous Redis over hiredis 0.14's libevent adapter.
 *
 * Requests are kept in a FIFO in the order they were sent; Redis answers in that order,
 * so the head is always the oldest and one periodic tick is enough to enforce every
 * deadline. Request records come from a free list: the hot path allocates nothing once
 * warm (hiredis still formats each command into its own buffer).
 */
#include "store_redis.h"

#include "floe_log.h"
#include "floe_mem.h"
#include "floe_time.h"
#include "store_redis_group.h"
#include "store_redis_probe.h"

#include <event2/event.h>
#include <hiredis/adapters/libevent.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <openssl/sha.h>
#include <pthread.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>

#define REDIS_TICK_MS 50
#define REDIS_BACKOFF_MIN_MS 100
#define REDIS_BACKOFF_MAX_MS 2000
#define REDIS_FREE_MAX 4096

typedef struct redis_req redis_req;
struct redis_req {
    store_redis *r;
    store_redis_cb cb;
    void *arg;
    int64_t deadline_us;
    redis_req *prev, *next;
};

struct store_redis {
    struct event_base *base;
    store_redis_addr addr;
    int timeout_ms;
    redisAsyncContext *ac;
    bool connected; /* the connect callback said yes */
    bool freeing;
    bool timing_out; /* pending requests are being failed for a deadline */
    int backoff_ms;
    unsigned loads_out; /* SCRIPT LOADs unanswered on the current connection */
    struct event *tick_ev, *retry_ev;
    redis_req *head, *tail; /* pending, oldest first */
    unsigned pending;
    redis_req *free_list;
    unsigned n_free;
    const char **argv;
    size_t *argvlen;
    int argv_cap;
    redis_group *group;     /* store_redis_script_group calls not yet sent */
    struct event *group_ev; /* sends them at the end of the loop pass that opened it */
    floe_log_ctx log;
};

/* Filled once per process, whichever thread asks first (review architecture.md: the
 * table was filled lazily without synchronisation). */
static char script_sha[STORE_SCRIPT_COUNT][41];
static pthread_once_t script_sha_once = PTHREAD_ONCE_INIT;

static const char *const script_names[STORE_SCRIPT_COUNT] = {
    "branch_take", "cache_done",    "cache_reserve",  "claim",      "claim_many", "exec_abort",
    "exec_create", "exec_recorded", "gate_wait",      "heartbeat",  "hold",       "map_expand",
    "node_failed", "node_started",  "node_succeeded", "outbox_ack", "release",    "timer_fire",
};

/* --- Scripts ------------------------------------------------------------------------- */

static void
scripts_digest_once(void)
{
    for (unsigned i = 0; i < STORE_SCRIPT_COUNT; i++) {
        unsigned char md[SHA_DIGEST_LENGTH];
        SHA1((const unsigned char *)store_scripts[i].body, store_scripts[i].len, md);
        for (int k = 0; k < SHA_DIGEST_LENGTH; k++)
            snprintf(script_sha[i] + 2 * k, 3, "%02x", md[k]);
    }
}

static void
scripts_digest(void)
{
    pthread_once(&script_sha_once, scripts_digest_once);
}

const char *
store_script_sha(store_script_id id)
{
    scripts_digest();
    return (unsigned)id < STORE_SCRIPT_COUNT ? script_sha[id] : "";
}

/* --- Requests ------------------------------------------------------------------------ */

static redis_req *
req_get(store_redis *r)
{
    redis_req *q = r->free_list;
    if (q != NULL) {
        r->free_list = q->next;
        r->n_free--;
    } else if ((q = floe_malloc(sizeof(*q))) == NULL) {
        return NULL;
    }
    memset(q, 0, sizeof(*q));
    q->r = r;
    return q;
}

static void
req_put(store_redis *r, redis_req *q)
{
    if (r->n_free >= REDIS_FREE_MAX) {
        floe_free(q);
        return;
    }
    q->next = r->free_list;
    r->free_list = q;
    r->n_free++;
}

static void
req_link(store_redis *r, redis_req *q)
{
    q->prev = r->tail;
    q->next = NULL;
    if (r->tail != NULL)
        r->tail->next = q;
    else
        r->head = q;
    r->tail = q;
    r->pending++;
}

static void
req_unlink(store_redis *r, redis_req *q)
{
    if (q->prev != NULL)
        q->prev->next = q->next;
    else
        r->head = q->next;
    if (q->next != NULL)
        q->next->prev = q->prev;
    else
        r->tail = q->prev;
    r->pending--;
}

static void send_scripts(store_redis *r);
static void on_group_due(evutil_socket_t fd, short what, void *arg);

/* The trampoline: one typed call of the user's callback per request. */
static void
on_reply(redisAsyncContext *ac, void *reply, void *privdata)
{
    redis_req *q = privdata;
    store_redis *r = q->r;
    redisReply *rep = reply;
    floe_err err = {0};
    req_unlink(r, q);
    const store_reply *out = NULL;
    if (rep == NULL) {
        if (r->freeing)
            floe_err_sys(&err, FLOE_ESTATE, "redis: client closing");
        else if (r->timing_out)
            floe_err_sys(&err, FLOE_ETIMEDOUT, "redis: no answer within %d ms", r->timeout_ms);
        else
            floe_err_sys(&err, FLOE_EIO, "redis: connection lost: %s",
                         ac->errstr[0] ? ac->errstr : "closed");
    } else if (rep->type == REDIS_REPLY_ERROR) {
        if (strncmp(rep->str, "NOSCRIPT", 8) == 0) {
            /* Restarted, flushed, or it refused the loads at connect (LOADING): load them
             * again now, or every later call would be refused the same way. */
            floe_err_sys(&err, FLOE_EAGAIN, "redis: script cache flushed; reloading");
            send_scripts(r);
        } else
            floe_err_sys(&err, FLOE_EIO, "redis: %s", rep->str);
    } else {
        out = (const store_reply *)rep;
    }
    q->cb(out, out != NULL ? NULL : &err, q->arg);
    req_put(r, q);
}

/* --- Connection ---------------------------------------------------------------------- */

static void redis_connect(store_redis *r);

static void
schedule_reconnect(store_redis *r)
{
    if (r->freeing)
        return;
    struct timeval tv = {r->backoff_ms / 1000, (r->backoff_ms % 1000) * 1000};
    event_add(r->retry_ev, &tv);
    r->backoff_ms =
        r->backoff_ms * 2 > REDIS_BACKOFF_MAX_MS ? REDIS_BACKOFF_MAX_MS : r->backoff_ms * 2;
}

static void
on_connect(const redisAsyncContext *ac, int status)
{
    store_redis *r = ac->data;
    if (status != REDIS_OK) {
        floe_log_warn(&r->log, "redis %s:%d: cannot connect: %s", r->addr.host, r->addr.port,
                      ac->errstr);
        r->ac = NULL; /* hiredis frees the context after this callback */
        r->connected = false;
        schedule_reconnect(r);
        return;
    }
    r->connected = true;
    r->backoff_ms = REDIS_BACKOFF_MIN_MS;
    floe_log_info(&r->log, "redis %s:%d: connected", r->addr.host, r->addr.port);
}

static void
on_disconnect(const redisAsyncContext *ac, int status)
{
    store_redis *r = ac->data;
    r->ac = NULL;
    r->connected = false;
    if (r->freeing)
        return;
    floe_log_warn(&r->log, "redis %s:%d: disconnected%s%s", r->addr.host, r->addr.port,
                  status != REDIS_OK ? ": " : "", status != REDIS_OK ? ac->errstr : "");
    schedule_reconnect(r);
}

static void
on_setup_reply(redisAsyncContext *ac, void *reply, void *privdata)
{
    store_redis *r = ac->data;
    redisReply *rep = reply;
    if (rep != NULL && rep->type == REDIS_REPLY_ERROR)
        floe_log_error(&r->log, "redis: %s: %s", (const char *)privdata, rep->str);
}

static void
on_script_loaded(redisAsyncContext *ac, void *reply, void *privdata)
{
    store_redis *r = ac->data;
    if (r->loads_out > 0)
        r->loads_out--;
    on_setup_reply(ac, reply, privdata);
}

/* Loads every script, unless a load is already on its way on this connection. */
static void
send_scripts(store_redis *r)
{
    if (r->ac == NULL || r->loads_out > 0)
        return;
    for (unsigned i = 0; i < STORE_SCRIPT_COUNT; i++) {
        if (redisAsyncCommand(r->ac, on_script_loaded, (void *)store_scripts[i].name,
                              "SCRIPT LOAD %b", store_scripts[i].body,
                              store_scripts[i].len) == REDIS_OK)
            r->loads_out++;
    }
}

static void
send_setup(store_redis *r)
{
    if (r->addr.password[0] != '\0')
        redisAsyncCommand(r->ac, on_setup_reply, "AUTH", "AUTH %s", r->addr.password);
    if (r->addr.db != 0)
        redisAsyncCommand(r->ac, on_setup_reply, "SELECT", "SELECT %d", r->addr.db);
    r->loads_out = 0;
    send_scripts(r);
}

static void
redis_connect(store_redis *r)
{
    redisAsyncContext *ac = redisAsyncConnect(r->addr.host, r->addr.port);
    if (ac == NULL) {
        schedule_reconnect(r);
        return;
    }
    if (ac->err) {
        floe_log_warn(&r->log, "redis %s:%d: %s", r->addr.host, r->addr.port, ac->errstr);
        redisAsyncFree(ac);
        schedule_reconnect(r);
        return;
    }
    /* hiredis 0.14 opens its socket without close-on-exec (review H2). */
    int fl = fcntl(ac->c.fd, F_GETFD);
    if (fl != -1)
        fcntl(ac->c.fd, F_SETFD, fl | FD_CLOEXEC);
    ac->data = r;
    if (redisLibeventAttach(ac, r->base) != REDIS_OK) {
        redisAsyncFree(ac);
        schedule_reconnect(r);
        return;
    }
    redisAsyncSetConnectCallback(ac, on_connect);
    redisAsyncSetDisconnectCallback(ac, on_disconnect);
    r->ac = ac;
    /* Commands are buffered until the socket connects; setup goes first. */
    send_setup(r);
}

static void
on_retry(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    store_redis *r = arg;
    if (r->ac == NULL)
        redis_connect(r);
}

static void
on_tick(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    store_redis *r = arg;
    if (r->head == NULL || r->ac == NULL || floe_mono_us() < r->head->deadline_us)
        return;
    floe_log_warn(&r->log, "redis %s:%d: no answer within %d ms; reconnecting", r->addr.host,
                  r->addr.port, r->timeout_ms);
    redisAsyncContext *ac = r->ac;
    /* Fails every pending callback (reply NULL), then calls on_disconnect. */
    r->timing_out = true;
    redisAsyncFree(ac);
    r->timing_out = false;
    r->ac = NULL;
    r->connected = false;
    if (!event_pending(r->retry_ev, EV_TIMEOUT, NULL))
        schedule_reconnect(r);
}

store_redis *
store_redis_new(struct event_base *base, const char *url, int timeout_ms, floe_err *err)
{
    scripts_digest();
    for (unsigned i = 0; i < STORE_SCRIPT_COUNT; i++) {
        if (i >= store_scripts_n || strcmp(store_scripts[i].name, script_names[i]) != 0) {
            floe_err_sys(err, FLOE_ESTATE, "redis: embedded script %u is not \"%s\"", i,
                         script_names[i]);
            return NULL;
        }
    }
    store_redis *r = floe_calloc(1, sizeof(*r));
    if (r == NULL) {
        floe_err_sys(err, FLOE_ENOMEM, "redis: out of memory");
        return NULL;
    }
    r->base = base;
    r->timeout_ms = timeout_ms > 0 ? timeout_ms : 5000;
    r->backoff_ms = REDIS_BACKOFF_MIN_MS;
    r->log.comp = "redis";
    if (store_redis_url_parse(url, &r->addr, err) != FLOE_OK)
        goto fail;
    r->tick_ev = event_new(base, -1, EV_PERSIST, on_tick, r);
    r->retry_ev = event_new(base, -1, 0, on_retry, r);
    r->group_ev = event_new(base, -1, 0, on_group_due, r);
    r->group = redis_group_new();
    if (r->tick_ev == NULL || r->retry_ev == NULL || r->group_ev == NULL || r->group == NULL) {
        floe_err_sys(err, FLOE_ENOMEM, "redis: out of memory");
        goto fail;
    }
    struct timeval tv = {0, REDIS_TICK_MS * 1000};
    event_add(r->tick_ev, &tv);
    redis_connect(r);
    return r;
fail:
    store_redis_free(r);
    return NULL;
}

void
store_redis_free(store_redis *r)
{
    if (r == NULL)
        return;
    r->freeing = true;
    if (r->group != NULL) {
        floe_err err = {0};
        floe_err_sys(&err, FLOE_ESTATE, "redis: client closing");
        redis_group_free(r->group, &err);
    }
    if (r->group_ev != NULL)
        event_free(r->group_ev);
    if (r->ac != NULL) {
        redisAsyncContext *ac = r->ac;
        r->ac = NULL;
        redisAsyncFree(ac);
    }
    if (r->tick_ev != NULL)
        event_free(r->tick_ev);
    if (r->retry_ev != NULL)
        event_free(r->retry_ev);
    while (r->free_list != NULL) {
        redis_req *q = r->free_list;
        r->free_list = q->next;
        floe_free(q);
    }
    floe_free(r->argv);
    floe_free(r->argvlen);
    floe_free(r);
}

bool
store_redis_connected(const store_redis *r)
{
    return r->ac != NULL && r->connected;
}

unsigned
store_redis_pending(const store_redis *r)
{
    return r->pending + redis_group_calls(r->group);
}

/* --- Calls --------------------------------------------------------------------------- */

static floe_rc
send_argv(store_redis *r, int argc, const char **argv, const size_t *argvlen, store_redis_cb cb,
          void *arg)
{
    if (r->ac == NULL || r->freeing)
        return FLOE_EAGAIN;
    redis_req *q = req_get(r);
    if (q == NULL)
        return FLOE_ENOMEM;
    q->cb = cb;
    q->arg = arg;
    q->deadline_us = floe_mono_us() + (int64_t)r->timeout_ms * 1000;
    if (redisAsyncCommandArgv(r->ac, on_reply, q, argc, argv, argvlen) != REDIS_OK) {
        req_put(r, q);
        return FLOE_EAGAIN;
    }
    req_link(r, q);
    return FLOE_OK;
}

static floe_rc script_send(store_redis *r, store_script_id id, int nkeys, int argc,
                           const char **argv, const size_t *argvlen, store_redis_cb cb, void *arg);

/* The open group goes before anything sent after it: Redis runs calls in the order they
 * were made, grouped or not. */
static void
group_flush(store_redis *r)
{
    if (redis_group_calls(r->group) == 0)
        return;
    event_del(r->group_ev);
    redis_group_send(r->group, r, script_send);
}

static void
on_group_due(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    group_flush(arg);
}

floe_rc
store_redis_cmd(store_redis *r, int argc, const char **argv, const size_t *argvlen,
                store_redis_cb cb, void *arg)
{
    group_flush(r);
    return send_argv(r, argc, argv, argvlen, cb, arg);
}

floe_rc
store_redis_script(store_redis *r, store_script_id id, int nkeys, int argc, const char **argv,
                   const size_t *argvlen, store_redis_cb cb, void *arg)
{
    group_flush(r);
    return script_send(r, id, nkeys, argc, argv, argvlen, cb, arg);
}

floe_rc
store_redis_script_group(store_redis *r, store_script_id id, int nk_shared, int nk_each,
                         int na_shared, int na_each, const char **argv, const size_t *argvlen,
                         store_redis_cb cb, void *arg)
{
    if ((unsigned)id >= STORE_SCRIPT_COUNT || nk_shared < 0 || nk_each < 0 || na_shared < 0 ||
        na_each < 0)
        return FLOE_EINVAL;
    if (r->ac == NULL || r->freeing)
        return FLOE_EAGAIN;
    redis_group_call c = {id, nk_shared, nk_each, na_shared, na_each, argv, argvlen};
    if (!redis_group_fits(r->group, &c))
        group_flush(r);
    floe_rc rc = redis_group_add(r->group, &c, cb, arg);
    if (rc == FLOE_OK && redis_group_calls(r->group) == 1)
        event_active(r->group_ev, EV_TIMEOUT, 0);
    return rc;
}

static floe_rc
script_send(store_redis *r, store_script_id id, int nkeys, int argc, const char **argv,
            const size_t *argvlen, store_redis_cb cb, void *arg)
{
    if ((unsigned)id >= STORE_SCRIPT_COUNT || argc < nkeys || nkeys < 0)
        return FLOE_EINVAL;
    if (argc + 3 > r->argv_cap) {
        int cap = argc + 3 < 64 ? 64 : (argc + 3) * 2;
        const char **v = floe_realloc(r->argv, sizeof(*v) * (size_t)cap);
        if (v == NULL)
            return FLOE_ENOMEM;
        r->argv = v;
        size_t *l = floe_realloc(r->argvlen, sizeof(*l) * (size_t)cap);
        if (l == NULL)
            return FLOE_ENOMEM;
        r->argvlen = l;
        r->argv_cap = cap;
    }
    char nk[16];
    int nkl = snprintf(nk, sizeof(nk), "%d", nkeys);
    r->argv[0] = "EVALSHA";
    r->argvlen[0] = 7;
    r->argv[1] = script_sha[id];
    r->argvlen[1] = 40;
    r->argv[2] = nk;
    r->argvlen[2] = (size_t)nkl;
    for (int i = 0; i < argc; i++) {
        r->argv[i + 3] = argv[i];
        r->argvlen[i + 3] = argvlen != NULL ? argvlen[i] : strlen(argv[i]);
    }
    return send_argv(r, argc + 3, r->argv, r->argvlen, cb, arg);
}

/* --- Replies ------------------------------------------------------------------------- */

store_reply_type
store_reply_kind(const store_reply *rep)
{
    const redisReply *x = (const redisReply *)rep;
    switch (x->type) {
    case REDIS_REPLY_INTEGER:
        return STORE_REPLY_INT;
    case REDIS_REPLY_STRING:
    case REDIS_REPLY_STATUS:
        return STORE_REPLY_STR;
    case REDIS_REPLY_ARRAY:
        return STORE_REPLY_ARRAY;
    default:
        return STORE_REPLY_NIL;
    }
}

long long
store_reply_int(const store_reply *rep)
{
    const redisReply *x = (const redisReply *)rep;
    if (x->type == REDIS_REPLY_INTEGER)
        return x->integer;
    if (x->type == REDIS_REPLY_STRING || x->type == REDIS_REPLY_STATUS)
        return strtoll(x->str, NULL, 10);
    return 0;
}

const char *
store_reply_str(const store_reply *rep, size_t *len)
{
    const redisReply *x = (const redisReply *)rep;
    if (x->type != REDIS_REPLY_STRING && x->type != REDIS_REPLY_STATUS) {
        if (len != NULL)
            *len = 0;
        return NULL;
    }
    if (len != NULL)
        *len = x->len;
    return x->str;
}

size_t
store_reply_len(const store_reply *rep)
{
    const redisReply *x = (const redisReply *)rep;
    return x->type == REDIS_REPLY_ARRAY ? x->elements : 0;
}

const store_reply *
store_reply_elem(const store_reply *rep, size_t i)
{
    const redisReply *x = (const redisReply *)rep;
    if (x->type != REDIS_REPLY_ARRAY || i >= x->elements)
        return NULL;
    return (const store_reply *)x->element[i];
}
