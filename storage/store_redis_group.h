/*
 * store_redis_group — the open group of store_redis_script_group() calls (store_redis.c
 * owns one): calls of one script with the same shared keys and arguments, each call's own
 * copied, sent as one EVALSHA whose array answer is handed out one element a call.
 * Internal to storage/. Threading: the client's loop thread.
 */
#ifndef STORE_REDIS_GROUP_H
#define STORE_REDIS_GROUP_H

#include "store_redis.h"

#include <stdbool.h>

#define REDIS_GROUP_CALLS_MAX 64
#define REDIS_GROUP_BYTES_MAX (1u << 20) /* arguments held before the group goes */

typedef struct redis_group redis_group;

/* What a group is sent with: store_redis_script without the flush of the open group. */
typedef floe_rc (*redis_group_send_fn)(store_redis *r, store_script_id id, int nkeys, int argc,
                                       const char **argv, const size_t *argvlen, store_redis_cb cb,
                                       void *arg);

/* The shape of a call: script, then how many shared keys, own keys, shared arguments and
 * own arguments argv holds, in that order. */
typedef struct redis_group_call {
    store_script_id id;
    int nk_shared, nk_each, na_shared, na_each;
    const char **argv;
    const size_t *argvlen; /* NULL: strlen */
} redis_group_call;

redis_group *redis_group_new(void);
/* Fails the calls still held with err (FLOE_ESTATE: the client is closing), then frees. */
void redis_group_free(redis_group *g, const floe_err *err);

unsigned redis_group_calls(const redis_group *g);
/* Whether c may join g: g holds nothing, or calls of the same script and shape with the
 * same shared keys and arguments, and has room. */
bool redis_group_fits(const redis_group *g, const redis_group_call *c);
/* Adds c (its arguments copied). FLOE_ENOMEM leaves g as it was. */
floe_rc redis_group_add(redis_group *g, const redis_group_call *c, store_redis_cb cb, void *arg);

/* Sends what g holds through send on r and empties g; when it cannot be sent, each
 * callback gets FLOE_EIO. Callbacks may call into the client (g is empty by then). */
void redis_group_send(redis_group *g, store_redis *r, redis_group_send_fn send);

#endif
