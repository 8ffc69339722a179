/*
 * OIDC access tokens on the API (issue 19): where the issuer's signing keys come from (a
 * JWKS file, read again when it changes, or a url, fetched every api.oidc.jwks_refresh
 * and sooner when a token names a key the set lacks, at most every 30 s), and the check
 * of a token against them (sched_jwt). API threads share one key set under a mutex; a
 * fetch runs outside it, so a slow issuer never stalls the threads that verify.
 */
#include "sched_api_int.h"

#include "floe_log.h"
#include "floe_mem.h"
#include "floe_time.h"
#include "sched_jwt.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define REREAD_CHECK_US 1000000LL    /* a file's mtime looked at, at most once a second */
#define FORCED_REFRESH_US 30000000LL /* an unknown kid refetches the url at most this often */
#define FETCH_TIMEOUT_MS 5000L

struct api_oidc {
    const floe_config *cfg;
    unsigned algs;
    pthread_mutex_t mu;
    sched_jwks *keys; /* under mu */
    struct timespec file_mtime;
    off_t file_size;
    int64_t checked_mono, fetched_mono, forced_mono;
    bool fetching;
    floe_log_ctx log;
};

/* --- the key set's sources ------------------------------------------------------------ */

typedef struct fetch_buf {
    char *data;
    size_t len;
    bool too_big;
} fetch_buf;

static size_t
on_body(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    fetch_buf *b = userdata;
    size_t n = size * nmemb;
    if (b->len + n > SCHED_JWKS_MAX) {
        b->too_big = true;
        return 0;
    }
    memcpy(b->data + b->len, ptr, n);
    b->len += n;
    return n;
}

static sched_jwks *
load_url(const char *url, floe_err *err)
{
    fetch_buf b = {.data = floe_malloc(SCHED_JWKS_MAX)};
    CURL *c = curl_easy_init();
    char errbuf[CURL_ERROR_SIZE] = "";
    sched_jwks *ks = NULL;
    if (b.data == NULL || c == NULL) {
        floe_err_sys(err, FLOE_ENOMEM, "jwks %.200s: out of memory", url);
        goto out;
    }
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, FETCH_TIMEOUT_MS);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
    CURLcode cc = curl_easy_perform(c);
    long status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    if (cc != CURLE_OK)
        floe_err_sys(err, FLOE_EIO, "jwks %.200s: %s", url,
                     b.too_big   ? "larger than 256 KiB"
                     : errbuf[0] ? errbuf
                                 : curl_easy_strerror(cc));
    else if (status != 200)
        floe_err_sys(err, FLOE_EIO, "jwks %.200s: HTTP %ld", url, status);
    else
        ks = sched_jwks_parse(b.data, b.len, err);
out:
    curl_easy_cleanup(c);
    floe_free(b.data);
    return ks;
}

/* The file's key set when it changed since (mtime, size); NULL with err->code FLOE_OK when
 * it did not change. */
static sched_jwks *
load_file(api_oidc *o, floe_err *err)
{
    const char *path = o->cfg->api_oidc_jwks_file;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd == -1 || fstat(fd, &st) == -1) {
        floe_err_sys(err, FLOE_EIO, "jwks file %.200s: %s", path, strerror(errno));
        if (fd != -1)
            close(fd);
        return NULL;
    }
    if (st.st_mtim.tv_sec == o->file_mtime.tv_sec && st.st_mtim.tv_nsec == o->file_mtime.tv_nsec &&
        st.st_size == o->file_size && o->keys != NULL) {
        close(fd);
        return NULL;
    }
    sched_jwks *ks = NULL;
    char *buf = st.st_size <= SCHED_JWKS_MAX ? floe_malloc((size_t)st.st_size + 1) : NULL;
    ssize_t n = buf != NULL ? read(fd, buf, (size_t)st.st_size) : -1;
    close(fd);
    if (st.st_size > SCHED_JWKS_MAX)
        floe_err_user(err, FLOE_EINVAL, "jwks file %.200s: larger than 256 KiB", path);
    else if (n != st.st_size)
        floe_err_sys(err, FLOE_EIO, "jwks file %.200s: short read", path);
    else if ((ks = sched_jwks_parse(buf, (size_t)n, err)) != NULL) {
        o->file_mtime = st.st_mtim;
        o->file_size = st.st_size;
    }
    floe_free(buf);
    return ks;
}

static void
install(api_oidc *o, sched_jwks *ks, const char *from)
{
    sched_jwks_free(o->keys);
    o->keys = ks;
    floe_log_info(&o->log, "oidc: %zu signing key(s) from %.200s", sched_jwks_count(ks), from);
}

/* Brings the key set up to date; called with mu held, may drop it to fetch. */
static void
refresh(api_oidc *o, bool kid_unknown)
{
    int64_t now = floe_mono_us();
    floe_err err = {0};
    if (o->cfg->api_oidc_jwks_file[0] != '\0') {
        if (o->keys != NULL && now - o->checked_mono < REREAD_CHECK_US)
            return;
        o->checked_mono = now;
        sched_jwks *ks = load_file(o, &err);
        if (ks != NULL)
            install(o, ks, o->cfg->api_oidc_jwks_file);
        else if (err.code != FLOE_OK)
            floe_log_warn(&o->log, "oidc: keeping the key set held: %s", err.msg);
        return;
    }
    bool due = o->keys == NULL ||
               now - o->fetched_mono >= o->cfg->api_oidc_jwks_refresh_ms * 1000 ||
               (kid_unknown && now - o->forced_mono >= FORCED_REFRESH_US);
    if (!due || o->fetching)
        return;
    if (kid_unknown)
        o->forced_mono = now;
    o->fetching = true;
    pthread_mutex_unlock(&o->mu);
    sched_jwks *ks = load_url(o->cfg->api_oidc_jwks_url, &err);
    pthread_mutex_lock(&o->mu);
    o->fetching = false;
    o->fetched_mono = floe_mono_us();
    if (ks != NULL)
        install(o, ks, o->cfg->api_oidc_jwks_url);
    else
        floe_log_warn(&o->log, "oidc: %s; %s", err.msg,
                      o->keys != NULL ? "keeping the key set held" : "no key set yet");
}

/* --- life ------------------------------------------------------------------------------- */

api_oidc *
api_oidc_new(const floe_config *cfg, floe_err *err)
{
    if (cfg->api_oidc_issuer[0] == '\0')
        return NULL;
    unsigned algs;
    if (sched_jwt_algs_parse(cfg->api_oidc_algorithms, &algs, err) != FLOE_OK)
        return NULL;
    if ((cfg->api_oidc_jwks_file[0] == '\0') == (cfg->api_oidc_jwks_url[0] == '\0')) {
        floe_err_user(err, FLOE_EINVAL,
                      "api.oidc.issuer is set: give one of api.oidc.jwks_file, api.oidc.jwks_url");
        return NULL;
    }
    api_oidc *o = floe_calloc(1, sizeof(*o));
    if (o == NULL) {
        floe_err_sys(err, FLOE_ENOMEM, "out of memory");
        return NULL;
    }
    o->cfg = cfg;
    o->algs = algs;
    o->log = (floe_log_ctx){.comp = "api"};
    pthread_mutex_init(&o->mu, NULL);
    /* A file must be right at start (a typo is found now, not at the first sign-in); a url
     * may be down for a while, and is fetched again when a token comes. */
    if (cfg->api_oidc_jwks_file[0] != '\0') {
        sched_jwks *ks = load_file(o, err);
        if (ks == NULL) {
            api_oidc_free(o);
            return NULL;
        }
        install(o, ks, cfg->api_oidc_jwks_file);
        o->checked_mono = floe_mono_us();
    } else {
        pthread_mutex_lock(&o->mu);
        refresh(o, false);
        pthread_mutex_unlock(&o->mu);
    }
    return o;
}

void
api_oidc_free(api_oidc *o)
{
    if (o == NULL)
        return;
    sched_jwks_free(o->keys);
    pthread_mutex_destroy(&o->mu);
    floe_free(o);
}

floe_rc
api_oidc_verify(api_oidc *o, const char *token, store_principal *p, floe_err *err)
{
    sched_jwt_rules rules = {
        .issuer = o->cfg->api_oidc_issuer,
        .audience = o->cfg->api_oidc_audience,
        .algs = o->algs,
        .skew_s = o->cfg->api_oidc_clock_skew_ms / 1000,
        .now_s = floe_now_us() / 1000000,
        .grants_claim = o->cfg->api_oidc_grants_claim,
    };
    bool kid_unknown = false;
    pthread_mutex_lock(&o->mu);
    refresh(o, false);
    floe_rc rc = o->keys != NULL
                     ? sched_jwt_verify(o->keys, &rules, token, p, &kid_unknown, err)
                     : floe_err_sys(err, FLOE_EAGAIN, "the OIDC issuer's keys are not loaded yet");
    if (rc != FLOE_OK && kid_unknown) {
        refresh(o, true); /* the issuer may have rotated its keys */
        rc = sched_jwt_verify(o->keys, &rules, token, p, &kid_unknown, err);
    }
    pthread_mutex_unlock(&o->mu);
    return rc;
}
