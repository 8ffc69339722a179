#include "store_redis_probe.h"

#include <fcntl.h>
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

/* A blocking connection to url, authenticated and on its database; NULL with err. */
static redisContext *
sync_connect(const char *url, int timeout_ms, floe_err *err)
{
    store_redis_addr a;
    if (store_redis_url_parse(url, &a, err) != FLOE_OK)
        return NULL;
    struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};
    redisContext *c = redisConnectWithTimeout(a.host, a.port, tv);
    if (c == NULL || c->err) {
        floe_err_sys(err, FLOE_EIO, "redis %s:%d: %s", a.host, a.port,
                     c != NULL ? c->errstr : "out of memory");
        if (c != NULL)
            redisFree(c);
        return NULL;
    }
    redisSetTimeout(c, tv);
    int fl = fcntl(c->fd, F_GETFD); /* hiredis 0.14 leaves it inheritable (review H2) */
    if (fl != -1)
        fcntl(c->fd, F_SETFD, fl | FD_CLOEXEC);
    if (a.password[0] != '\0' || a.db != 0) {
        redisReply *r = a.password[0] != '\0' ? redisCommand(c, "AUTH %s", a.password)
                                              : redisCommand(c, "SELECT %d", a.db);
        bool ok = r != NULL && r->type != REDIS_REPLY_ERROR;
        if (r != NULL)
            freeReplyObject(r);
        if (ok && a.password[0] != '\0' && a.db != 0) {
            r = redisCommand(c, "SELECT %d", a.db);
            ok = r != NULL && r->type != REDIS_REPLY_ERROR;
            if (r != NULL)
                freeReplyObject(r);
        }
        if (!ok) {
            floe_err_sys(err, FLOE_EIO, "redis %s:%d: AUTH or SELECT failed", a.host, a.port);
            redisFree(c);
            return NULL;
        }
    }
    return c;
}

floe_rc
store_redis_ping(const char *url, int timeout_ms, floe_err *err)
{
    redisContext *c = sync_connect(url, timeout_ms, err);
    if (c == NULL)
        return err != NULL && err->code != FLOE_OK ? err->code : FLOE_EIO;
    floe_rc rc = FLOE_OK;
    redisReply *r = redisCommand(c, "PING");
    if (r == NULL || r->type == REDIS_REPLY_ERROR)
        rc = floe_err_sys(err, FLOE_EIO, "redis: PING failed: %s", r != NULL ? r->str : c->errstr);
    if (r != NULL)
        freeReplyObject(r);
    redisFree(c);
    return rc;
}

floe_rc
store_redis_sync_call(const char *url, int timeout_ms, int n_cmds, const char *const *const *cmds,
                      const int *argcs, store_reply **replies, floe_err *err)
{
    for (int i = 0; i < n_cmds; i++)
        replies[i] = NULL;
    redisContext *c = sync_connect(url, timeout_ms, err);
    if (c == NULL)
        return err != NULL && err->code != FLOE_OK ? err->code : FLOE_EIO;
    floe_rc rc = FLOE_OK;
    for (int i = 0; rc == FLOE_OK && i < n_cmds; i++) {
        redisReply *r = redisCommandArgv(c, argcs[i], (const char **)cmds[i], NULL);
        if (r == NULL || r->type == REDIS_REPLY_ERROR) {
            rc = floe_err_sys(err, FLOE_EIO, "redis: %s failed: %s", cmds[i][0],
                              r != NULL ? r->str : c->errstr);
            if (r != NULL)
                freeReplyObject(r);
            break;
        }
        replies[i] = (store_reply *)r;
    }
    if (rc != FLOE_OK)
        store_redis_sync_free(replies, n_cmds);
    redisFree(c);
    return rc;
}

void
store_redis_sync_free(store_reply **replies, int n)
{
    for (int i = 0; i < n; i++) {
        if (replies[i] != NULL)
            freeReplyObject(replies[i]);
        replies[i] = NULL;
    }
}
