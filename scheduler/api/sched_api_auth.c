/*
 * Who is calling and what they may do (issue 19, review C1): bearer tokens looked up by
 * their SHA-256 (a short per-replica cache in front of PostgreSQL), roles checked in the
 * project of the resource a route acts on, the audit log of every mutating call and
 * every denial, and the routes that manage tokens.
 *
 * The flow: sched_api.c's job_work authenticates a request (api_authenticate) before its
 * handler runs; the handler finds the project from the stored resource and calls
 * api_allow before it reads or changes anything; job_work then audits the outcome.
 */
#include "sched_api_int.h"

#include "floe_digest.h"
#include "floe_log.h"
#include "floe_mem.h"
#include "floe_text.h"
#include "floe_time.h"
#include "spec.h"
#include "store_auth.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define TOKEN_PREFIX "floe_"
#define TOKEN_MAX 256
#define CACHE_SLOTS 128
#define UNAUTH_AUDITED_PER_S 20

typedef struct cache_slot {
    uint8_t hash[32];
    bool used;
    int64_t fetched_mono;
    store_token_state state;
    store_principal p;
} cache_slot;

struct api_auth {
    const floe_config *cfg;
    pthread_mutex_t mu;
    cache_slot slots[CACHE_SLOTS];
    store_principal anonymous; /* api.auth=off: admin of every project */
    api_oidc *oidc;            /* NULL: API tokens only */
    /* 401s audited one by one up to UNAUTH_AUDITED_PER_S a second, then summed up (a
     * flood of anonymous requests must not grow the audit log without bound). */
    int64_t unauth_window_mono;
    unsigned unauth_in_window;
    uint64_t unauth_skipped;
    floe_log_ctx log;
};

api_auth *
api_auth_new(const floe_config *cfg, floe_err *err)
{
    api_auth *a = floe_calloc(1, sizeof(*a));
    if (a == NULL) {
        floe_err_sys(err, FLOE_ENOMEM, "out of memory");
        return NULL;
    }
    a->cfg = cfg;
    floe_err oerr = {0};
    if ((a->oidc = api_oidc_new(cfg, &oerr)) == NULL && oerr.code != FLOE_OK) {
        floe_err_set(err, oerr.code, oerr.cls, false, "%s", oerr.msg);
        floe_free(a);
        return NULL;
    }
    pthread_mutex_init(&a->mu, NULL);
    a->log = (floe_log_ctx){.comp = "api"};
    snprintf(a->anonymous.id, sizeof(a->anonymous.id), "anonymous");
    snprintf(a->anonymous.name, sizeof(a->anonymous.name), "anyone (api.auth=off)");
    a->anonymous.grants[0] =
        (store_grant){.project = STORE_AUTH_ALL_PROJECTS, .role = STORE_ROLE_ADMIN};
    a->anonymous.n_grants = 1;
    if (!cfg->api_auth)
        floe_log_warn(&a->log, "api.auth=off: AUTHENTICATION IS DISABLED, every caller is an "
                               "admin of every project; never expose this API");
    return a;
}

void
api_auth_free(api_auth *a)
{
    if (a == NULL)
        return;
    api_oidc_free(a->oidc);
    pthread_mutex_destroy(&a->mu);
    floe_free(a);
}

static void
cache_forget_all(api_auth *a)
{
    pthread_mutex_lock(&a->mu);
    for (size_t i = 0; i < CACHE_SLOTS; i++)
        a->slots[i].used = false;
    pthread_mutex_unlock(&a->mu);
}

/* --- the audit log -------------------------------------------------------------------- */

static const char *
remote_of(api_req *r, char *buf, size_t size)
{
    char *host = NULL;
    ev_uint16_t port = 0;
    struct evhttp_connection *c = evhttp_request_get_connection(r->req);
    if (c != NULL)
        evhttp_connection_get_peer(c, &host, &port);
    snprintf(buf, size, "%s:%u", host != NULL ? host : "?", (unsigned)port);
    return buf;
}

static floe_log_ctx audit_log = {.comp = "api"};

void
api_audit_fill(api_req *r, const char *outcome, int status, const char *detail, api_audit_buf *b,
               store_audit *a)
{
    const char *path = evhttp_uri_get_path(evhttp_request_get_evhttp_uri(r->req));
    floe_text_copy(b->resource, sizeof(b->resource), path != NULL ? path : "",
                   path != NULL ? strlen(path) : 0);
    *a = (store_audit){
        .principal = r->principal != NULL ? r->principal->id : "unauthenticated",
        .action = r->route != NULL ? r->route->name : "?",
        .project = r->audit_project,
        .resource = b->resource,
        .outcome = outcome,
        .status = status,
        .remote = remote_of(r, b->remote, sizeof(b->remote)),
        .detail = detail,
    };
}

static void
audit(api_thread *t, api_req *r, const char *outcome, int status, const char *detail)
{
    api_audit_buf b;
    store_audit a;
    api_audit_fill(r, outcome, status, detail, &b, &a);
    floe_err err = {0};
    if (t != NULL && t->pg == NULL)
        t->pg = store_pg_connect(t->cfg->postgres_url, "floe-scheduler",
                                 t->cfg->postgres_timeout_ms, &err);
    else if (t != NULL && store_pg_ensure(t->pg, &err) != FLOE_OK)
        t = NULL;
    if (t == NULL || t->pg == NULL || store_audit_add(t->pg, &a, &err) != FLOE_OK)
        floe_log_warn(&audit_log, "audit: %s %s by %s not recorded: %s", a.action, outcome,
                      a.principal, err.msg[0] ? err.msg : "no database connection");
}

void
api_audit_outcome(api_thread *t, api_req *r)
{
    if (r->audited || r->route == NULL || r->route->method == EVHTTP_REQ_GET)
        return;
    r->audited = true;
    int status = r->status != 0 ? r->status : 200;
    if (r->err.code != FLOE_OK)
        status = r->status >= 400 ? r->status : 400;
    audit(t, r, r->err.code == FLOE_OK ? "ok" : "failed", status,
          r->err.code == FLOE_OK ? NULL : r->err.msg);
}

/* Refuses r: 401 (who) or 403 (what), audited. */
static void deny(api_thread *t, api_req *r, int status, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void
deny(api_thread *t, api_req *r, int status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char msg[FLOE_ERR_MSG_MAX];
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    api_fail(r, FLOE_EINVAL, "%s", msg);
    r->status = status;
    r->audited = true;
    if (status == 401) {
        api_auth *a = api_auth_of(r);
        int64_t now = floe_mono_us();
        uint64_t skipped = 0;
        bool record;
        pthread_mutex_lock(&a->mu);
        if (now - a->unauth_window_mono >= 1000000) {
            skipped = a->unauth_skipped;
            a->unauth_skipped = 0;
            a->unauth_in_window = 0;
            a->unauth_window_mono = now;
        }
        record = a->unauth_in_window++ < UNAUTH_AUDITED_PER_S;
        if (!record)
            a->unauth_skipped++;
        pthread_mutex_unlock(&a->mu);
        if (skipped > 0) {
            char sum[160];
            snprintf(sum, sizeof(sum),
                     "%" PRIu64 " more requests were refused as unauthenticated in a second "
                     "before this one, not recorded one by one",
                     skipped);
            floe_log_warn(&a->log, "audit: %s", sum);
            audit(t, r, "denied", status, sum);
        }
        if (!record)
            return;
    }
    audit(t, r, "denied", status, msg);
}

void
api_forbid(api_thread *t, api_req *r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char msg[FLOE_ERR_MSG_MAX];
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    r->allowed = false;
    deny(t, r, 403, "%s", msg);
}

/* --- authentication ------------------------------------------------------------------- */

static bool
cache_get(api_auth *a, const uint8_t hash[32], store_principal *p, store_token_state *state)
{
    int64_t now = floe_mono_us(), ttl = a->cfg->api_auth_cache_ms * 1000;
    bool hit = false;
    pthread_mutex_lock(&a->mu);
    for (size_t i = 0; i < CACHE_SLOTS && !hit; i++) {
        cache_slot *s = &a->slots[i];
        if (s->used && now - s->fetched_mono < ttl && memcmp(s->hash, hash, 32) == 0) {
            *p = s->p;
            *state = s->state;
            hit = true;
        }
    }
    pthread_mutex_unlock(&a->mu);
    return hit;
}

static void
cache_put(api_auth *a, const uint8_t hash[32], const store_principal *p, store_token_state state)
{
    if (a->cfg->api_auth_cache_ms <= 0)
        return;
    int64_t now = floe_mono_us();
    pthread_mutex_lock(&a->mu);
    size_t oldest = 0;
    for (size_t i = 0; i < CACHE_SLOTS; i++) {
        if (!a->slots[i].used || memcmp(a->slots[i].hash, hash, 32) == 0) {
            oldest = i;
            break;
        }
        if (a->slots[i].fetched_mono < a->slots[oldest].fetched_mono)
            oldest = i;
    }
    cache_slot *s = &a->slots[oldest];
    memcpy(s->hash, hash, 32);
    s->used = true;
    s->fetched_mono = now;
    s->state = state;
    s->p = *p;
    pthread_mutex_unlock(&a->mu);
}

bool
api_authenticate(api_thread *t, api_req *r)
{
    api_auth *a = api_auth_of(r);
    if (!a->cfg->api_auth) {
        r->principal = &a->anonymous;
        return true;
    }
    if (r->bearer == NULL) {
        deny(t, r, 401,
             "this API needs a bearer token (Authorization: Bearer floe_...): see "
             "docs/security.md");
        return false;
    }
    uint8_t hash[32];
    floe_sha256((const unsigned char *)r->bearer, strlen(r->bearer), hash);
    store_principal *p = floe_arena_alloc(r->arena, sizeof(*p));
    if (p == NULL) {
        api_fail(r, FLOE_ENOMEM, "out of memory");
        return false;
    }
    store_token_state state;
    bool jwt = a->oidc != NULL && strncmp(r->bearer, TOKEN_PREFIX, strlen(TOKEN_PREFIX)) != 0 &&
               strchr(r->bearer, '.') != NULL;
    if (!cache_get(a, hash, p, &state)) {
        if (jwt) {
            floe_err jerr = {0};
            floe_rc rc = api_oidc_verify(a->oidc, r->bearer, p, &jerr);
            if (rc == FLOE_EINVAL) {
                deny(t, r, 401, "%s", jerr.msg);
                return false;
            }
            if (rc != FLOE_OK) {
                r->err = jerr; /* 503: no keys to check it with, which is no denial */
                return false;
            }
            state = STORE_TOKEN_VALID;
        } else if (api_pg(t, r) != FLOE_OK ||
                   store_auth_lookup(t->pg, hash, p, &state, &r->err) != FLOE_OK) {
            return false; /* 503: the token could not be checked, which is no denial */
        }
        cache_put(a, hash, p, state);
    }
    if (state == STORE_TOKEN_VALID && p->expires_us > 0 && p->expires_us <= floe_now_us())
        state = STORE_TOKEN_EXPIRED;
    if (state != STORE_TOKEN_VALID) {
        deny(t, r, 401, "the bearer token is %s",
             state == STORE_TOKEN_REVOKED   ? "revoked"
             : state == STORE_TOKEN_EXPIRED ? "expired"
                                            : "not known here");
        return false;
    }
    r->principal = p;
    return true;
}

/* --- authorisation -------------------------------------------------------------------- */

store_role
api_role_in(const store_principal *p, const char *project)
{
    store_role best = STORE_ROLE_NONE;
    for (size_t i = 0; p != NULL && i < p->n_grants; i++) {
        const store_grant *g = &p->grants[i];
        if ((strcmp(g->project, STORE_AUTH_ALL_PROJECTS) == 0 ||
             (project != NULL && strcmp(g->project, project) == 0)) &&
            g->role > best)
            best = g->role;
    }
    return best;
}

bool
api_allow_role(api_thread *t, api_req *r, const char *project, store_role need)
{
    r->allowed = true;
    if (r->audit_project == NULL && project != NULL)
        r->audit_project = floe_arena_strndup(r->arena, project, strlen(project));
    store_role have = api_role_in(r->principal, project);
    if (have >= need)
        return true;
    r->allowed = false;
    deny(t, r, 403, "%s has %s in project \"%.64s\"; %s needs %s",
         r->principal != NULL ? r->principal->id : "unauthenticated",
         have == STORE_ROLE_NONE ? "no role" : store_role_name(have),
         project != NULL ? project : STORE_AUTH_ALL_PROJECTS,
         r->route != NULL ? r->route->name : "this", store_role_name(need));
    return false;
}

bool
api_allow(api_thread *t, api_req *r, const char *project)
{
    if (r->route == NULL || r->route->access <= API_SIGNED_IN) {
        r->allowed = true;
        return true;
    }
    return api_allow_role(t, r, project, (store_role)r->route->access);
}

const char *
api_requested_by(api_req *r, const char *given)
{
    if (!api_auth_of(r)->cfg->api_auth || r->principal == NULL)
        return given;
    return r->principal->id;
}

/* --- the bootstrap token ---------------------------------------------------------------- */

/* Reads a token from path into buf (trailing white space dropped). */
static floe_rc
read_token_file(const char *path, char *buf, size_t size, floe_err *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd == -1)
        return floe_err_user(err, FLOE_ENOTFOUND, "token file %.200s: %s", path, strerror(errno));
    ssize_t n = read(fd, buf, size - 1);
    close(fd);
    if (n < 0)
        return floe_err_user(err, FLOE_EIO, "token file %.200s: %s", path, strerror(errno));
    buf[n] = '\0';
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' '))
        buf[--n] = '\0';
    if (n < 32 || (size_t)n >= size - 1)
        return floe_err_user(err, FLOE_EINVAL,
                             "token file %.200s: a token is 32 to %zu characters, not %zd", path,
                             size - 2, n);
    for (ssize_t i = 0; i < n; i++)
        if (buf[i] <= ' ' || buf[i] > '~')
            return floe_err_user(err, FLOE_EINVAL,
                                 "token file %.200s: byte %zd is not a printable ASCII character",
                                 path, i);
    return FLOE_OK;
}

floe_rc
sched_api_bootstrap(store_pg *pg, const floe_config *cfg, floe_err *err)
{
    if (cfg->api_bootstrap_token_file[0] == '\0')
        return FLOE_OK;
    char tok[TOKEN_MAX + 2];
    floe_rc rc = read_token_file(cfg->api_bootstrap_token_file, tok, sizeof(tok), err);
    if (rc != FLOE_OK)
        return rc;
    uint8_t hash[32];
    floe_sha256((const unsigned char *)tok, strlen(tok), hash);
    OPENSSL_cleanse(tok, sizeof(tok));
    return store_auth_bootstrap(pg, hash, err);
}

/* --- routes ----------------------------------------------------------------------------- */

static json_t *
grants_json(const store_principal *p)
{
    json_t *a = json_array();
    for (size_t i = 0; i < p->n_grants; i++)
        json_array_append_new(a, json_pack("{s:s,s:s}", "project", p->grants[i].project, "role",
                                           store_role_name(p->grants[i].role)));
    return a;
}

void
api_whoami_work(api_thread *t, api_req *r)
{
    (void)t;
    const store_principal *p = r->principal;
    r->reply = json_pack("{s:s,s:s,s:o,s:o}", "principal", p->id, "name", p->name, "grants",
                         grants_json(p), "expires_at", sched_render_time(p->expires_us));
}

/* "30d", "12h", "45m": the token's life from now; 0 for none (never expires). */
static bool
parse_expires_in(api_req *r, const char *v, int64_t *us)
{
    char *end;
    errno = 0;
    long long n = strtoll(v, &end, 10);
    int64_t unit = strcmp(end, "d") == 0   ? 86400LL
                   : strcmp(end, "h") == 0 ? 3600LL
                   : strcmp(end, "m") == 0 ? 60LL
                   : strcmp(end, "s") == 0 ? 1LL
                                           : 0;
    if (errno != 0 || end == v || unit == 0 || n < 1 || n > 3650LL * 86400 / unit) {
        api_fail(r, FLOE_EINVAL,
                 "expires_in \"%.32s\": expected a count and a unit (s, m, h, d), up to 3650d", v);
        return false;
    }
    *us = floe_now_us() + n * unit * 1000000;
    return true;
}

static void
base64url(const uint8_t *in, size_t n, char *out)
{
    static const char abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    size_t o = 0;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < n; i++) {
        acc = (acc << 8) | in[i];
        bits += 8;
        while (bits >= 6) {
            bits -= 6;
            out[o++] = abc[(acc >> bits) & 63];
        }
    }
    if (bits > 0)
        out[o++] = abc[(acc << (6 - bits)) & 63];
    out[o] = '\0';
}

/* POST /api/v1/tokens {name, grants: [{project, role}], expires_in}: the token is in the
 * answer and nowhere else. Granting a role in a project needs admin there. */
void
api_token_create_work(api_thread *t, api_req *r)
{
    json_error_t jerr;
    json_t *body = json_loadb(r->body, r->body_len, JSON_REJECT_DUPLICATES, &jerr);
    const char *name = NULL, *expires_in = NULL;
    json_t *grants = NULL;
    if (body == NULL ||
        json_unpack_ex(body, &jerr, JSON_STRICT, "{s:s,s:o,s?s}", "name", &name, "grants", &grants,
                       "expires_in", &expires_in) != 0 ||
        !json_is_array(grants)) {
        api_fail(r, FLOE_EINVAL,
                 "expected {\"name\": text, \"grants\": [{\"project\", \"role\"}], "
                 "\"expires_in\": \"30d\"}: %s",
                 jerr.text);
        goto out;
    }
    size_t n = json_array_size(grants);
    if (strlen(name) == 0 || strlen(name) > STORE_AUTH_NAME_MAX ||
        !floe_utf8_valid(name, strlen(name))) {
        api_fail(r, FLOE_EINVAL, "name: 1 to %d bytes of UTF-8", STORE_AUTH_NAME_MAX);
        goto out;
    }
    if (n == 0 || n > STORE_AUTH_GRANTS_MAX) {
        api_fail(r, FLOE_EINVAL, "grants: 1 to %d of them", STORE_AUTH_GRANTS_MAX);
        goto out;
    }
    store_grant *g = floe_arena_alloc(r->arena, n * sizeof(*g));
    if (g == NULL) {
        api_fail(r, FLOE_ENOMEM, "out of memory");
        goto out;
    }
    if (api_pg(t, r) != FLOE_OK)
        goto out;
    for (size_t i = 0; i < n; i++) {
        const char *project = NULL, *role = NULL;
        if (json_unpack_ex(json_array_get(grants, i), &jerr, JSON_STRICT, "{s:s,s:s}", "project",
                           &project, "role", &role) != 0) {
            api_fail(r, FLOE_EINVAL, "grants[%zu]: expected {\"project\", \"role\"}: %s", i,
                     jerr.text);
            goto out;
        }
        if (strcmp(project, STORE_AUTH_ALL_PROJECTS) != 0 &&
            spec_check_project(project, &r->err) != FLOE_OK)
            goto out;
        if ((g[i].role = store_role_parse(role)) == STORE_ROLE_NONE) {
            api_fail(r, FLOE_EINVAL,
                     "grants[%zu].role \"%.32s\": expected viewer, launcher, maintainer or admin",
                     i, role);
            goto out;
        }
        snprintf(g[i].project, sizeof(g[i].project), "%s", project);
        if (!api_allow_role(t, r, project, STORE_ROLE_ADMIN))
            goto out;
    }
    int64_t expires_us = 0;
    if (expires_in != NULL && !parse_expires_in(r, expires_in, &expires_us))
        goto out;
    uint8_t secret[32], idb[6];
    char tok[TOKEN_MAX], id[16], enc[64];
    if (RAND_bytes(secret, sizeof(secret)) != 1 || RAND_bytes(idb, sizeof(idb)) != 1) {
        api_fail(r, FLOE_EIO, "no random bytes from OpenSSL");
        goto out;
    }
    for (size_t i = 0; i < sizeof(idb); i++)
        snprintf(id + 2 * i, 3, "%02x", idb[i]);
    base64url(secret, sizeof(secret), enc);
    snprintf(tok, sizeof(tok), TOKEN_PREFIX "%s", enc);
    uint8_t hash[32];
    floe_sha256((const unsigned char *)tok, strlen(tok), hash);
    if (store_auth_create(t->pg, id, name, r->principal->id, hash, expires_us, g, n, &r->err) ==
        FLOE_OK) {
        char principal[48];
        snprintf(principal, sizeof(principal), "token:%s", id);
        r->reply = json_pack("{s:s,s:s,s:s,s:O,s:o}", "id", id, "principal", principal, "token",
                             tok, "grants", grants, "expires_at", sched_render_time(expires_us));
        r->status = 201;
    }
    OPENSSL_cleanse(tok, sizeof(tok));
    OPENSSL_cleanse(secret, sizeof(secret));
out:
    json_decref(body);
}

/* GET /api/v1/tokens: every token for an admin of every project; one's own otherwise
 * (those one created, and oneself). */
void
api_token_list_work(api_thread *t, api_req *r)
{
    if (api_pg(t, r) != FLOE_OK)
        return;
    r->allowed = true;
    bool all = api_role_in(r->principal, NULL) == STORE_ROLE_ADMIN;
    store_token_row *rows;
    size_t n;
    if (store_auth_list(t->pg, API_LIST_LIMIT_MAX, r->arena, &rows, &n, &r->err) != FLOE_OK)
        return;
    json_t *items = json_array();
    for (size_t i = 0; i < n; i++) {
        char self[48];
        snprintf(self, sizeof(self), "token:%s", rows[i].id);
        if (!all && strcmp(rows[i].owner, r->principal->id) != 0 &&
            strcmp(self, r->principal->id) != 0)
            continue;
        json_array_append_new(
            items, json_pack("{s:s,s:s,s:s,s:s,s:o,s:o,s:o,s:o}", "id", rows[i].id, "name",
                             rows[i].name, "owner", rows[i].owner, "grants", rows[i].grants,
                             "created_at", sched_render_time(rows[i].created_us), "expires_at",
                             sched_render_time(rows[i].expires_us), "last_used_at",
                             sched_render_time(rows[i].last_used_us), "revoked_at",
                             sched_render_time(rows[i].revoked_us)));
    }
    r->reply = json_pack("{s:o}", "items", items);
}

/* DELETE /api/v1/tokens/ID: by an admin of every project, the token's owner, or itself. */
void
api_token_revoke_work(api_thread *t, api_req *r)
{
    const char *id = r->t.seg[3];
    size_t len = strlen(id);
    if (len == 0 || len > STORE_AUTH_ID_MAX ||
        strspn(id, "abcdefghijklmnopqrstuvwxyz0123456789") != len) {
        api_fail(r, FLOE_EINVAL, "\"%.40s\" is not a token id", id);
        return;
    }
    if (api_pg(t, r) != FLOE_OK)
        return;
    char self[48];
    snprintf(self, sizeof(self), "token:%s", id);
    bool mine = strcmp(self, r->principal->id) == 0;
    if (!mine && api_role_in(r->principal, NULL) != STORE_ROLE_ADMIN) {
        store_token_row *rows;
        size_t n;
        if (store_auth_list(t->pg, API_LIST_LIMIT_MAX, r->arena, &rows, &n, &r->err) != FLOE_OK)
            return;
        for (size_t i = 0; i < n && !mine; i++)
            mine = strcmp(rows[i].id, id) == 0 && strcmp(rows[i].owner, r->principal->id) == 0;
        if (!mine) {
            r->allowed = false;
            deny(t, r, 403, "%s may revoke only its own tokens and those it created",
                 r->principal->id);
            return;
        }
    }
    r->allowed = true;
    if (store_auth_revoke(t->pg, id, &r->err) != FLOE_OK)
        return;
    cache_forget_all(api_auth_of(r)); /* here at once; other replicas within api.auth_cache */
    r->reply = json_pack("{s:s,s:b}", "id", id, "revoked", 1);
}

/* GET /api/v1/audit?project=&principal=&action=&outcome=&limit=&token=: admin of the
 * project asked for (of every project without one). */
void
api_audit_work(api_thread *t, api_req *r)
{
    store_audit_query q = {
        .project = api_param(r, "project"),
        .principal = api_param(r, "principal"),
        .action = api_param(r, "action"),
        .outcome = api_param(r, "outcome"),
        .limit = API_LIST_LIMIT_DEFAULT,
    };
    const char *lim = api_param(r, "limit"), *tok = api_param(r, "token");
    if (lim != NULL) {
        char *end;
        long v = strtol(lim, &end, 10);
        if (*end != '\0' || v < 1 || v > API_LIST_LIMIT_MAX) {
            api_fail(r, FLOE_EINVAL, "limit \"%.32s\": expected 1 to %d", lim, API_LIST_LIMIT_MAX);
            return;
        }
        q.limit = (unsigned)v;
    }
    if (tok != NULL) {
        char *end;
        long long v = strtoll(tok, &end, 10);
        if (*end != '\0' || v < 1) {
            api_fail(r, FLOE_EINVAL, "token \"%.32s\" is not a page token", tok);
            return;
        }
        q.before_seq = v;
    }
    if (api_pg(t, r) != FLOE_OK || !api_allow(t, r, q.project))
        return;
    store_audit *rows;
    size_t n;
    q.limit++; /* one more: is there a next page */
    if (store_audit_list(t->pg, &q, r->arena, &rows, &n, &r->err) != FLOE_OK)
        return;
    bool more = n == q.limit;
    if (more)
        n--;
    json_t *items = json_array();
    for (size_t i = 0; i < n; i++) {
        json_t *o =
            json_pack("{s:I,s:o,s:s,s:s,s:s?,s:s?,s:s,s:i,s:s?,s:s?}", "seq",
                      (json_int_t)rows[i].seq, "at", sched_render_time(rows[i].at_us), "principal",
                      rows[i].principal, "action", rows[i].action, "project", rows[i].project,
                      "resource", rows[i].resource, "outcome", rows[i].outcome, "status",
                      rows[i].status, "remote", rows[i].remote, "detail", rows[i].detail);
        json_array_append_new(items, o);
    }
    api_reply_page(r, items, more, n > 0 ? rows[n - 1].seq : 0);
}
