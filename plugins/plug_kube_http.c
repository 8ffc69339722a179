/*
 * plug_kube_http — the Kubernetes executor's HTTP client (libcurl, blocking, on the
 * executor's pool threads): requests with a bearer token or client certificate, retried
 * with backoff on 429, 5xx and unreachable servers, and watches of one pod (a chunked
 * stream of JSON events, one per line) so that a run hears of its pod's changes as they
 * happen instead of reading it every kubernetes.poll.
 */
#include "plug_kube_int.h"

#include "floe_text.h"

#include <curl/curl.h>
#include <errno.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

static size_t
on_body(char *data, size_t size, size_t nmemb, void *arg)
{
    kube_resp *r = arg;
    size_t n = size * nmemb;
    if (r->len + n > KUBE_BODY_MAX) {
        r->too_big = true;
        return 0;
    }
    char *nb = realloc(r->body, r->len + n + 1);
    if (nb == NULL)
        return 0;
    memcpy(nb + r->len, data, n);
    r->body = nb;
    r->len += n;
    r->body[r->len] = '\0';
    return n;
}

static size_t
on_header(char *data, size_t size, size_t nmemb, void *arg)
{
    kube_resp *r = arg;
    size_t n = size * nmemb;
    if (n > 12 && strncasecmp(data, "Retry-After:", 12) == 0)
        r->retry_after_s = strtol(data + 12, NULL, 10);
    return n;
}

/* The server's CA and our client certificate, as the connection says. */
static void
kube_tls(CURL *curl, const plug_kube_conn *c)
{
    if (c->ca_file != NULL)
        curl_easy_setopt(curl, CURLOPT_CAINFO, c->ca_file);
    if (c->ca_pem != NULL) {
        struct curl_blob b = {c->ca_pem, strlen(c->ca_pem), CURL_BLOB_COPY};
        curl_easy_setopt(curl, CURLOPT_CAINFO_BLOB, &b);
    }
    if (c->cert_pem != NULL && c->key_pem != NULL) {
        struct curl_blob cb = {c->cert_pem, strlen(c->cert_pem), CURL_BLOB_COPY};
        struct curl_blob kb = {c->key_pem, strlen(c->key_pem), CURL_BLOB_COPY};
        curl_easy_setopt(curl, CURLOPT_SSLCERT_BLOB, &cb);
        curl_easy_setopt(curl, CURLOPT_SSLKEY_BLOB, &kb);
    }
    if (c->insecure) {
        curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 0L);
    }
}

/* One request; status 0 when the server could not be reached. */
void
kube_call(const plug_kube_conn *c, const char *method, const char *path, const char *body,
          kube_resp *r)
{
    char url[KUBE_SERVER_MAX + 512], auth[16440];
    struct curl_slist *h = NULL;
    memset(r, 0, sizeof(*r));
    CURL *curl = curl_easy_init();
    if (curl == NULL)
        return;
    snprintf(url, sizeof(url), "%s%s", c->server, path);
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, 30000L);
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "https,http");
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(curl, CURLOPT_HEADERDATA, r);
    kube_tls(curl, c);
    char token[16390];
    floe_err terr;
    if (plug_kube_conn_token(c, token, sizeof(token), &terr) != FLOE_OK) {
        snprintf(r->cred_err, sizeof(r->cred_err), "%s", terr.msg);
        curl_slist_free_all(h);
        curl_easy_cleanup(curl);
        return;
    }
    if (token[0] != '\0') {
        snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
        h = curl_slist_append(h, auth);
    }
    OPENSSL_cleanse(token, sizeof(token));
    h = curl_slist_append(h, "Accept: application/json");
    if (body != NULL) {
        h = curl_slist_append(h, "Content-Type: application/json");
        curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
    }
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, h);
    if (curl_easy_perform(curl) == CURLE_OK)
        curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &r->status);
    if (r->status == 401)
        plug_kube_conn_unauthorized(c);
    curl_slist_free_all(h);
    curl_easy_cleanup(curl);
}

static bool
retriable(long status)
{
    return status == 0 || status == 429 || status >= 500;
}

void
kube_nap_ms(int64_t ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};
    while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
        ;
}

/* Calls until a non-retriable answer or KUBE_RETRY_FOR_MS; r holds the last answer. */
void
kube_call_retry(const plug_kube_conn *c, const char *method, const char *path, const char *body,
                kube_resp *r, atomic_bool *stop)
{
    int64_t waited = 0, backoff = 100;
    for (;;) {
        kube_call(c, method, path, body, r);
        if (!retriable(r->status) || waited >= KUBE_RETRY_FOR_MS ||
            (stop != NULL && atomic_load(stop)))
            return;
        int64_t ms = r->retry_after_s > 0 ? r->retry_after_s * 1000 : backoff;
        if (ms > 5000)
            ms = 5000;
        free(r->body);
        r->body = NULL;
        kube_nap_ms(ms);
        waited += ms;
        backoff = backoff * 2 > 5000 ? 5000 : backoff * 2;
    }
}

const char *
kube_status_message(const kube_resp *r)
{
    static _Thread_local char msg[200];
    json_t *j = r->body != NULL ? json_loads(r->body, 0, NULL) : NULL;
    const char *m = json_string_value(json_object_get(j, "message"));
    if (r->cred_err[0] != '\0')
        m = r->cred_err;
    floe_text_fmt(msg, sizeof(msg), "%s", m != NULL ? m : r->status == 0 ? "unreachable" : "");
    json_decref(j);
    return msg;
}

/* --- watch ----------------------------------------------------------------------------- */

#define WATCH_LINE_MAX (4u << 20) /* one event: a pod object */

typedef struct watch_ctx {
    bool (*decide)(json_t *pod, void *arg);
    void *arg;
    json_t **pod;
    atomic_bool *stop;
    char *line;
    size_t len, cap;
    kube_watch_end end; /* 0 while it runs */
    int error_code;     /* of an ERROR event */
} watch_ctx;

/* One event line: {"type": ADDED|MODIFIED|DELETED|BOOKMARK|ERROR, "object": {...}}. */
static void
watch_event(watch_ctx *w, const char *text, size_t len)
{
    json_t *ev = json_loadb(text, len, 0, NULL);
    const char *type = json_string_value(json_object_get(ev, "type"));
    json_t *obj = json_object_get(ev, "object");
    if (type == NULL) {
        json_decref(ev);
        return;
    }
    if (strcmp(type, "ERROR") == 0) {
        w->error_code = (int)json_integer_value(json_object_get(obj, "code"));
        w->end = w->error_code == 410 ? KUBE_WATCH_EXPIRED : KUBE_WATCH_FAILED;
    } else if (strcmp(type, "DELETED") == 0) {
        w->end = KUBE_WATCH_DELETED;
    } else if ((strcmp(type, "ADDED") == 0 || strcmp(type, "MODIFIED") == 0) &&
               json_is_object(obj)) {
        json_decref(*w->pod);
        *w->pod = json_incref(obj);
        if (w->decide(*w->pod, w->arg))
            w->end = KUBE_WATCH_DECIDED;
    }
    json_decref(ev);
}

static size_t
on_watch(char *data, size_t size, size_t nmemb, void *arg)
{
    watch_ctx *w = arg;
    size_t n = size * nmemb;
    for (size_t i = 0; i < n && w->end == 0; i++) {
        if (data[i] == '\n') {
            if (w->len > 0)
                watch_event(w, w->line, w->len);
            w->len = 0;
            continue;
        }
        if (w->len + 1 >= w->cap) {
            size_t cap = w->cap != 0 ? w->cap * 2 : 4096;
            char *nl = cap <= WATCH_LINE_MAX ? realloc(w->line, cap) : NULL;
            if (nl == NULL) {
                w->end = KUBE_WATCH_FAILED;
                break;
            }
            w->line = nl;
            w->cap = cap;
        }
        w->line[w->len++] = data[i];
    }
    return w->end == 0 ? n : 0; /* 0 ends the transfer: what we waited for came */
}

/* Called about once a second even while nothing arrives: a kill ends the watch. */
static int
on_watch_progress(void *arg, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
    (void)dt;
    (void)dn;
    (void)ut;
    (void)un;
    watch_ctx *w = arg;
    if (w->stop != NULL && atomic_load(w->stop)) {
        w->end = KUBE_WATCH_STOPPED;
        return 1;
    }
    return 0;
}

kube_watch_end
kube_watch_pod(const plug_kube_conn *c, const char *name, const char *resource_version,
               int timeout_s, bool (*decide)(json_t *pod, void *arg), void *arg, json_t **pod,
               atomic_bool *stop, kube_resp *r)
{
    char url[KUBE_SERVER_MAX + 512], auth[16440], token[16390];
    memset(r, 0, sizeof(*r));
    floe_err terr;
    if (plug_kube_conn_token(c, token, sizeof(token), &terr) != FLOE_OK) {
        snprintf(r->cred_err, sizeof(r->cred_err), "%s", terr.msg);
        return KUBE_WATCH_FAILED;
    }
    /* Names are DNS labels and resource versions opaque digits: nothing to escape. */
    snprintf(url, sizeof(url),
             "%s/api/v1/namespaces/%s/pods?watch=1&fieldSelector=metadata.name%%3D%s"
             "&timeoutSeconds=%d%s%s",
             c->server, c->ns, name, timeout_s, resource_version[0] ? "&resourceVersion=" : "",
             resource_version);
    watch_ctx w = {.decide = decide, .arg = arg, .pod = pod, .stop = stop};
    CURL *curl = curl_easy_init();
    if (curl == NULL)
        return KUBE_WATCH_FAILED;
    struct curl_slist *h = NULL;
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, (long)(timeout_s + 15) * 1000L);
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "https,http");
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_watch);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &w);
    curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, on_watch_progress);
    curl_easy_setopt(curl, CURLOPT_XFERINFODATA, &w);
    curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
    kube_tls(curl, c);
    if (token[0] != '\0') {
        snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
        h = curl_slist_append(h, auth);
    }
    OPENSSL_cleanse(token, sizeof(token));
    h = curl_slist_append(h, "Accept: application/json");
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, h);
    CURLcode cc = curl_easy_perform(curl);
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &r->status);
    OPENSSL_cleanse(auth, sizeof(auth));
    curl_slist_free_all(h);
    curl_easy_cleanup(curl);
    free(w.line);
    if (r->status == 401)
        plug_kube_conn_unauthorized(c);
    if (w.end != 0)
        return w.end;
    if (r->status == 400 || r->status == 404 || r->status == 405)
        return KUBE_WATCH_UNSUPPORTED;
    if (cc == CURLE_OK && r->status == 200)
        return KUBE_WATCH_TIMEOUT;
    return KUBE_WATCH_FAILED;
}
