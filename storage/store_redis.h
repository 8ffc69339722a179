/*
 * store_redis — the asynchronous Redis client of the engine and the workers, on the
 * libevent loop of the caller (hiredis 0.14). No hiredis type appears here.
 *
 * Commands are pipelined on one connection and answered in order. Each request has a
 * deadline (hiredis 0.14 has no async timeouts): when the oldest pending request is past
 * it, the connection is closed and every pending callback gets FLOE_ETIMEDOUT. A lost
 * connection fails pending requests with FLOE_EIO and reconnects with backoff; while
 * disconnected, new calls return FLOE_EAGAIN at once. On every new connection the client
 * authenticates, selects the database and loads the scripts of store_scripts.h, so
 * store_redis_script() can call them by SHA.
 *
 * Callbacks run on the loop thread exactly once per accepted call. The reply is valid
 * only during the callback. Threading: one loop thread.
 */
#ifndef STORE_REDIS_H
#define STORE_REDIS_H

#include "floe_err.h"
#include "store_scripts.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct event_base;
typedef struct store_redis store_redis;
typedef struct store_reply store_reply;

typedef enum store_reply_type {
    STORE_REPLY_NIL = 0,
    STORE_REPLY_INT,
    STORE_REPLY_STR, /* bulk or status string */
    STORE_REPLY_ARRAY,
} store_reply_type;

/* reply is NULL exactly when err is not: FLOE_EIO (connection lost, or Redis answered
 * with an error: err->msg has its text), FLOE_ETIMEDOUT, FLOE_EAGAIN (the script cache was
 * flushed; it is being reloaded), FLOE_ESTATE (the client is being freed). */
typedef void (*store_redis_cb)(const store_reply *reply, const floe_err *err, void *arg);

/* url as store_redis_url_parse() reads it. Connects in the background. */
store_redis *store_redis_new(struct event_base *base, const char *url, int timeout_ms,
                             floe_err *err);

/* Fails pending callbacks with FLOE_ESTATE, closes, frees. Not from a store_redis
 * callback. NULL is a no-op. */
void store_redis_free(store_redis *r);

bool store_redis_connected(const store_redis *r);
unsigned store_redis_pending(const store_redis *r);

/* Sends argv. FLOE_EAGAIN when disconnected (cb is not called). Arguments are copied. */
floe_rc store_redis_cmd(store_redis *r, int argc, const char **argv, const size_t *argvlen,
                        store_redis_cb cb, void *arg);

/* EVALSHA of script id with nkeys keys followed by arguments (argc counts both). */
floe_rc store_redis_script(store_redis *r, store_script_id id, int nkeys, int argc,
                           const char **argv, const size_t *argvlen, store_redis_cb cb, void *arg);

/* A call of script id that may go with other calls of the same script and the same shared
 * keys and arguments as one EVALSHA (issue 25: a script's cost is mostly fixed; the
 * leader's successes of one execution go together). argv is what a group of one sends:
 * nk_shared keys, nk_each keys, na_shared arguments, na_each arguments; a group sends the
 * shared ones once and each call's own in call order, and the script answers an array of
 * one answer a call. The open group is sent before any other call of the client, at the
 * end of the loop pass that opened it (an event made active), or when full; each callback
 * gets its own answer, and an error of the whole call goes to each. Arguments are copied.
 * FLOE_EAGAIN when disconnected (cb is not called); a connection lost before the group
 * went fails it with FLOE_EIO. */
floe_rc store_redis_script_group(store_redis *r, store_script_id id, int nk_shared, int nk_each,
                                 int na_shared, int na_each, const char **argv,
                                 const size_t *argvlen, store_redis_cb cb, void *arg);

/* Reply accessors; elem and str are valid while the reply is. */
store_reply_type store_reply_kind(const store_reply *rep);
long long store_reply_int(const store_reply *rep);
const char *store_reply_str(const store_reply *rep, size_t *len);
size_t store_reply_len(const store_reply *rep);
const store_reply *store_reply_elem(const store_reply *rep, size_t i);

/* The SHA1 (hex) of a script, as EVALSHA wants it. */
const char *store_script_sha(store_script_id id);

#endif
