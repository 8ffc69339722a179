/*
 * store_redis_probe — the Redis address from redis.url, and a blocking PING with a
 * timeout for readiness probes (pool threads only). The engine's asynchronous Redis
 * client lives elsewhere.
 */
#ifndef STORE_REDIS_PROBE_H
#define STORE_REDIS_PROBE_H

#include "floe_err.h"

#include <stddef.h>

typedef struct store_redis_addr {
    char host[256];
    int port;
    char password[256]; /* empty: none */
    int db;
} store_redis_addr;

/* redis://[:password@]host[:port][/db]. FLOE_EINVAL with err saying what is wrong. */
floe_rc store_redis_url_parse(const char *url, store_redis_addr *out, floe_err *err);

/* Connects, AUTHs if needed, PINGs. FLOE_EIO / FLOE_ETIMEDOUT on failure. */
floe_rc store_redis_ping(const char *url, int timeout_ms, floe_err *err);

/* Blocking commands on one short connection (pool threads only): cmds[i] has argcs[i]
 * arguments; replies[i] receives each answer (read with store_reply_*, freed with
 * store_redis_sync_free). On failure nothing is left to free. */
typedef struct store_reply store_reply;
floe_rc store_redis_sync_call(const char *url, int timeout_ms, int n_cmds,
                              const char *const *const *cmds, const int *argcs,
                              store_reply **replies, floe_err *err);
void store_redis_sync_free(store_reply **replies, int n);

#endif
