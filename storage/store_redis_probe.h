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

#endif
