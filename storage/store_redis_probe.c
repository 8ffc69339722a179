#include "store_redis_probe.h"

#include <hiredis/hiredis.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

floe_rc
store_redis_url_parse(const char *url, store_redis_addr *out, floe_err *err)
{
    memset(out, 0, sizeof(*out));
    out->port = 6379;
    if (strncmp(url, "redis://", 8) != 0)
        return floe_err_user(err, FLOE_EINVAL, "redis.url \"%s\": expected redis://host:port", url);
    const char *p = url + 8;
    const char *at = strrchr(p, '@');
    if (at != NULL) {
        const char *colon = memchr(p, ':', (size_t)(at - p));
        const char *pw = colon != NULL ? colon + 1 : p;
        size_t n = (size_t)(at - pw);
        if (n >= sizeof(out->password))
            return floe_err_user(err, FLOE_EINVAL, "redis.url: password is too long");
        memcpy(out->password, pw, n);
        p = at + 1;
    }
    size_t hl = strcspn(p, ":/");
    if (hl == 0 || hl >= sizeof(out->host))
        return floe_err_user(err, FLOE_EINVAL, "redis.url: no host");
    memcpy(out->host, p, hl);
    p += hl;
    if (*p == ':') {
        char *end;
        long port = strtol(p + 1, &end, 10);
        if (end == p + 1 || port < 1 || port > 65535)
            return floe_err_user(err, FLOE_EINVAL, "redis.url: bad port");
        out->port = (int)port;
        p = end;
    }
    if (*p == '/' && p[1] != '\0') {
        char *end;
        long db = strtol(p + 1, &end, 10);
        if (*end != '\0' || db < 0 || db > 1000)
            return floe_err_user(err, FLOE_EINVAL, "redis.url: bad database number");
        out->db = (int)db;
    } else if (*p != '\0' && strcmp(p, "/") != 0) {
        return floe_err_user(err, FLOE_EINVAL, "redis.url: unexpected \"%s\"", p);
    }
    return FLOE_OK;
}

floe_rc
store_redis_ping(const char *url, int timeout_ms, floe_err *err)
{
    store_redis_addr a;
    floe_rc rc = store_redis_url_parse(url, &a, err);
    if (rc != FLOE_OK)
        return rc;
    struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};
    redisContext *c = redisConnectWithTimeout(a.host, a.port, tv);
    if (c == NULL || c->err) {
        rc = floe_err_sys(err, FLOE_EIO, "redis %s:%d: %s", a.host, a.port,
                          c != NULL ? c->errstr : "out of memory");
        goto out;
    }
    redisSetTimeout(c, tv);
    if (a.password[0] != '\0') {
        redisReply *r = redisCommand(c, "AUTH %s", a.password);
        bool ok = r != NULL && r->type != REDIS_REPLY_ERROR;
        if (r != NULL)
            freeReplyObject(r);
        if (!ok) {
            rc = floe_err_sys(err, FLOE_EIO, "redis %s:%d: AUTH failed", a.host, a.port);
            goto out;
        }
    }
    redisReply *r = redisCommand(c, "PING");
    if (r == NULL || r->type == REDIS_REPLY_ERROR)
        rc = floe_err_sys(err, FLOE_EIO, "redis %s:%d: PING failed: %s", a.host, a.port,
                          r != NULL ? r->str : c->errstr);
    if (r != NULL)
        freeReplyObject(r);
out:
    if (c != NULL)
        redisFree(c);
    return rc;
}
