/* The API's TLS context, and its reload when the certificate is renewed (sched_api_tls.h). */
#include "sched_api_tls.h"

#include "floe_log.h"
#include "floe_mem.h"
#include "floe_time.h"

#include <errno.h>
#include <event2/bufferevent_ssl.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <string.h>
#include <sys/stat.h>

#define RECHECK_US 10000000LL /* the files' mtimes looked at, at most every 10 s */

struct api_tls {
    const floe_config *cfg;
    SSL_CTX *ctx;
    struct timespec cert_mtime, key_mtime;
    int64_t checked_mono;
    floe_log_ctx log;
};

static void
ssl_reason(char *buf, size_t size)
{
    unsigned long e = ERR_get_error();
    snprintf(buf, size, "%s",
             ERR_GET_REASON(e) == X509_R_KEY_VALUES_MISMATCH ? "is not the key of api.tls_cert"
             : e != 0                                        ? ERR_reason_error_string(e)
                                                             : "unknown");
    ERR_clear_error();
}

/* A server context from the configured files, or NULL with err set. */
static SSL_CTX *
load(api_tls *t, struct timespec *cert_mtime, struct timespec *key_mtime, floe_err *err)
{
    const char *cert = t->cfg->api_tls_cert, *key = t->cfg->api_tls_key;
    struct stat cs, ks;
    if (stat(cert, &cs) == -1) {
        floe_err_user(err, FLOE_EINVAL, "api.tls_cert %.200s: %s", cert, strerror(errno));
        return NULL;
    }
    if (stat(key, &ks) == -1) {
        floe_err_user(err, FLOE_EINVAL, "api.tls_key %.200s: %s", key, strerror(errno));
        return NULL;
    }
    if (ks.st_mode & S_IROTH) {
        floe_err_user(err, FLOE_EINVAL,
                      "api.tls_key %.200s is readable by every user: chmod o-r it first", key);
        return NULL;
    }
    char why[160];
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    if (ctx == NULL) {
        floe_err_sys(err, FLOE_ENOMEM, "api: cannot create a TLS context");
        return NULL;
    }
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
    if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1) {
        ssl_reason(why, sizeof(why));
        floe_err_user(err, FLOE_EINVAL, "api.tls_cert %.200s: %s", cert, why);
    } else if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1) {
        ssl_reason(why, sizeof(why));
        floe_err_user(err, FLOE_EINVAL, "api.tls_key %.200s: %s", key, why);
    } else if (SSL_CTX_check_private_key(ctx) != 1) {
        ERR_clear_error();
        floe_err_user(err, FLOE_EINVAL, "api.tls_key %.200s is not the key of api.tls_cert", key);
    } else {
        *cert_mtime = cs.st_mtim;
        *key_mtime = ks.st_mtim;
        return ctx;
    }
    SSL_CTX_free(ctx);
    return NULL;
}

api_tls *
api_tls_new(const floe_config *cfg, floe_err *err)
{
    if (cfg->api_tls_cert[0] == '\0' && cfg->api_tls_key[0] == '\0')
        return NULL;
    if (cfg->api_tls_cert[0] == '\0' || cfg->api_tls_key[0] == '\0') {
        floe_err_user(err, FLOE_EINVAL, "TLS needs both api.tls_cert and api.tls_key");
        return NULL;
    }
    api_tls *t = floe_calloc(1, sizeof(*t));
    if (t == NULL) {
        floe_err_sys(err, FLOE_ENOMEM, "api: out of memory");
        return NULL;
    }
    t->cfg = cfg;
    t->log = (floe_log_ctx){.comp = "api"};
    if ((t->ctx = load(t, &t->cert_mtime, &t->key_mtime, err)) == NULL) {
        floe_free(t);
        return NULL;
    }
    t->checked_mono = floe_mono_us();
    return t;
}

void
api_tls_free(api_tls *t)
{
    if (t == NULL)
        return;
    SSL_CTX_free(t->ctx);
    floe_free(t);
}

static bool
same_time(const struct timespec *a, const struct timespec *b)
{
    return a->tv_sec == b->tv_sec && a->tv_nsec == b->tv_nsec;
}

/* A renewed certificate (cert-manager, certbot) is picked up by new connections. */
static void
maybe_reload(api_tls *t)
{
    int64_t now = floe_mono_us();
    if (now - t->checked_mono < RECHECK_US)
        return;
    t->checked_mono = now;
    struct stat cs, ks;
    if (stat(t->cfg->api_tls_cert, &cs) == -1 || stat(t->cfg->api_tls_key, &ks) == -1 ||
        (same_time(&cs.st_mtim, &t->cert_mtime) && same_time(&ks.st_mtim, &t->key_mtime)))
        return;
    floe_err err = {0};
    struct timespec cm, km;
    SSL_CTX *ctx = load(t, &cm, &km, &err);
    if (ctx == NULL) {
        floe_log_warn(&t->log, "tls: keeping the certificate in use: %s", err.msg);
        return;
    }
    SSL_CTX_free(t->ctx); /* sessions open hold their own reference */
    t->ctx = ctx;
    t->cert_mtime = cm;
    t->key_mtime = km;
    floe_log_info(&t->log, "tls: certificate %.200s loaded again", t->cfg->api_tls_cert);
}

struct bufferevent *
api_tls_bufferevent(api_tls *t, struct event_base *base)
{
    maybe_reload(t);
    SSL *ssl = SSL_new(t->ctx);
    if (ssl == NULL)
        return NULL;
    struct bufferevent *bev = bufferevent_openssl_socket_new(
        base, -1, ssl, BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
    if (bev == NULL)
        SSL_free(ssl);
    return bev;
}
