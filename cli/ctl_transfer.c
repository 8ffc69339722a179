/*
 * floectl's blob transfers, through the API only: floectl needs neither the blob store's
 * disk nor its credentials, so it works from a laptop as from a worker machine.
 *
 * A put hashes the file, asks the API how to store it (POST /api/v1/blobs/uploads) and
 * does what it says: nothing (the store has it), a PUT of the file to a presigned S3 url
 * (streamed; the url is bound to the digest), or a POST of the body to the API (a local
 * store, up to api.max_body_bytes). A get follows GET /api/v1/blobs/sha256/HEX (to a
 * presigned url, or the bytes from the scheduler) and checks the digest as it streams.
 */
#include "ctl.h"

#include "floe_httpc.h"

#include "floe_digest.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define XFER_CHUNK 65536
#define XFER_ERR_MAX 4096

/* One transfer's state: the file read from or written to, the digest of what passed, the
 * error document when the answer is not 2xx. */
typedef struct xfer {
    CURL *curl;
    int fd;
    FILE *out;     /* downloads to stdout */
    uint64_t skip; /* bytes hashed but not written (the part of a log already shown) */
    EVP_MD_CTX *md;
    bool write_failed;
    char errbody[XFER_ERR_MAX];
    size_t errlen;
} xfer;

static size_t
on_read(char *buf, size_t size, size_t n, void *arg)
{
    xfer *x = arg;
    ssize_t got;
    do
        got = read(x->fd, buf, size * n);
    while (got == -1 && errno == EINTR);
    return got < 0 ? CURL_READFUNC_ABORT : (size_t)got;
}

static size_t
on_write(char *data, size_t size, size_t n, void *arg)
{
    xfer *x = arg;
    long status = 0;
    size_t len = size * n;
    curl_easy_getinfo(x->curl, CURLINFO_RESPONSE_CODE, &status);
    if (status < 200 || status >= 300 || x->md == NULL) {
        size_t room = sizeof(x->errbody) - 1 - x->errlen, take = len < room ? len : room;
        memcpy(x->errbody + x->errlen, data, take);
        x->errlen += take;
        x->errbody[x->errlen] = '\0';
        return len;
    }
    EVP_DigestUpdate(x->md, data, len);
    if (x->skip > 0) {
        size_t s = x->skip < len ? (size_t)x->skip : len;
        x->skip -= s;
        data += s;
        len -= s;
        if (len == 0)
            return size * n;
    }
    if (x->out != NULL)
        return fwrite(data, 1, len, x->out) == len ? size * n : 0;
    for (size_t off = 0; off < len;) {
        ssize_t w = write(x->fd, data + off, len - off);
        if (w == -1 && errno == EINTR)
            continue;
        if (w == -1) {
            x->write_failed = true;
            return 0;
        }
        off += (size_t)w;
    }
    return size * n;
}

/* What went wrong, from curl or from the answer (the API's JSON error or S3's XML). */
static void
report(const char *what, CURLcode cc, long status, const xfer *x)
{
    if (cc != CURLE_OK) {
        fprintf(stderr, "floectl: %s: %s\n", what, curl_easy_strerror(cc));
        return;
    }
    json_error_t jerr;
    json_t *j = json_loads(x->errbody, 0, &jerr);
    const char *msg = json_string_value(json_object_get(j, "message"));
    if (msg != NULL)
        fprintf(stderr, "floectl: %s: %s (HTTP %ld)\n", what, msg, status);
    else
        fprintf(stderr, "floectl: %s: HTTP %ld %.300s\n", what, status, x->errbody);
    json_decref(j);
}

static CURL *
easy(const ctl_ctx *ctx, const char *url, xfer *x)
{
    CURL *c = curl_easy_init();
    if (c == NULL)
        return NULL;
    x->curl = c;
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)ctx->cfg->api_timeout_ms);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L); /* stalled for the API timeout: give up */
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, (long)(ctx->cfg->api_timeout_ms + 999) / 1000);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_write);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, x);
    /* To the API only: a presigned url of the blob store refuses a second credential.
     * As auth, not a header, so curl drops it on a redirect to another host or port. */
    const char *token = floe_httpc_token();
    size_t api_len = strlen(ctx->cfg->api_url);
    bool to_api = strncmp(url, ctx->cfg->api_url, api_len) == 0 &&
                  (url[api_len] == '/' || url[api_len] == '\0');
    if (to_api && token != NULL) {
        curl_easy_setopt(c, CURLOPT_HTTPAUTH, CURLAUTH_BEARER);
        curl_easy_setopt(c, CURLOPT_XOAUTH2_BEARER, token);
    }
    /* The installation's CA for the API; the blob store's urls keep the system's. */
    if (to_api && ctx->cfg->api_ca_file[0] != '\0')
        curl_easy_setopt(c, CURLOPT_CAINFO, ctx->cfg->api_ca_file);
    return c;
}

/* The file's digest and size, read through once. */
static int
hash_file(int fd, const char *path, char hex[FLOE_SHA256_HEX_LEN + 1], uint64_t *size)
{
    unsigned char *buf = malloc(XFER_CHUNK), md[32];
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    ssize_t n = -1;
    *size = 0;
    if (buf != NULL && ctx != NULL && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1) {
        while ((n = read(fd, buf, XFER_CHUNK)) > 0 || (n == -1 && errno == EINTR)) {
            if (n > 0) {
                EVP_DigestUpdate(ctx, buf, (size_t)n);
                *size += (uint64_t)n;
            }
        }
        EVP_DigestFinal_ex(ctx, md, NULL);
        floe_sha256_hex_of(md, hex);
    }
    EVP_MD_CTX_free(ctx);
    free(buf);
    if (n != 0) {
        fprintf(stderr, "floectl: cannot read %s: %s\n", path, strerror(errno));
        return CTL_USAGE;
    }
    return lseek(fd, 0, SEEK_SET) == 0 ? CTL_OK : CTL_FAILED;
}

/* PUT the file to a presigned url with the headers the API gave. */
static int
put_presigned(const ctl_ctx *ctx, int fd, uint64_t size, const char *url, json_t *headers,
              const char *path)
{
    xfer x = {.fd = fd};
    CURL *c = easy(ctx, url, &x);
    struct curl_slist *h = NULL;
    const char *k;
    json_t *v;
    json_object_foreach(headers, k, v)
    {
        char line[512];
        snprintf(line, sizeof(line), "%s: %s", k, json_string_value(v) ? json_string_value(v) : "");
        h = curl_slist_append(h, line);
    }
    if (c == NULL)
        return CTL_FAILED;
    curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE, (curl_off_t)size);
    curl_easy_setopt(c, CURLOPT_READFUNCTION, on_read);
    curl_easy_setopt(c, CURLOPT_READDATA, &x);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    CURLcode cc = curl_easy_perform(c);
    long status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    int rc = CTL_OK;
    if (cc != CURLE_OK || status < 200 || status >= 300) {
        char what[300];
        snprintf(what, sizeof(what), "storing %s in the blob store", path);
        report(what, cc, status, &x);
        rc = CTL_FAILED;
    }
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    return rc;
}

/* POST the file's bytes to the API (a local store). */
static int
post_body(const ctl_ctx *ctx, int fd, uint64_t size, const char *url, json_t *max, const char *path)
{
    if (json_is_integer(max) && size > (uint64_t)json_integer_value(max)) {
        fprintf(stderr,
                "floectl: %s has %llu bytes; this installation's blob store (a local directory) "
                "takes at most %lld through the API: use an S3 blob store, or floectl on a "
                "worker machine\n",
                path, (unsigned long long)size, (long long)json_integer_value(max));
        return CTL_USAGE;
    }
    char *buf = malloc(size > 0 ? (size_t)size : 1);
    size_t got = 0;
    while (buf != NULL && got < size) {
        ssize_t n = read(fd, buf + got, (size_t)size - got);
        if (n == -1 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    json_t *ans = NULL;
    int rc = buf == NULL || got < size
                 ? CTL_FAILED
                 : ctl_call(ctx, "POST", url, "application/octet-stream", buf, got, &ans);
    free(buf);
    json_decref(ans);
    return rc;
}

int
ctl_blob_put_json(const ctl_ctx *ctx, const char *path, json_t **out)
{
    *out = NULL;
    /* O_NONBLOCK: a FIFO in the file's place must not block the open */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    struct stat st;
    if (fd == -1 || fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
        fprintf(stderr, "floectl: cannot store %s in the blob store: %s\n", path,
                fd == -1 ? strerror(errno) : "not a regular file");
        if (fd != -1)
            close(fd);
        return CTL_USAGE;
    }
    char hex[FLOE_SHA256_HEX_LEN + 1], body[160];
    uint64_t size = 0;
    int rc = hash_file(fd, path, hex, &size);
    json_t *ans = NULL;
    if (rc == CTL_OK) {
        snprintf(body, sizeof(body), "{\"digest\":\"sha256:%s\",\"size\":%llu}", hex,
                 (unsigned long long)size);
        rc = ctl_call(ctx, "POST", "/api/v1/blobs/uploads", "application/json", body, strlen(body),
                      &ans);
    }
    json_t *up = json_object_get(ans, "upload");
    const char *method = json_string_value(json_object_get(up, "method"));
    const char *url = json_string_value(json_object_get(up, "url"));
    if (rc == CTL_OK && up != NULL && (method == NULL || url == NULL)) {
        fprintf(stderr, "floectl: the API's upload answer has no method and url\n");
        rc = CTL_FAILED;
    } else if (rc == CTL_OK && up != NULL && strcmp(method, "PUT") == 0) {
        rc = put_presigned(ctx, fd, size, url, json_object_get(up, "headers"), path);
    } else if (rc == CTL_OK && up != NULL) {
        rc = post_body(ctx, fd, size, url, json_object_get(up, "max_bytes"), path);
    }
    close(fd);
    if (rc == CTL_OK)
        *out = json_pack("{s:O,s:O,s:O}", "uri", json_object_get(ans, "uri"), "digest",
                         json_object_get(ans, "digest"), "size", json_object_get(ans, "size"));
    json_decref(ans);
    return rc == CTL_OK && *out == NULL ? CTL_FAILED : rc;
}

int
ctl_blob_fetch(const ctl_ctx *ctx, const char *uri, int fd, FILE *out, uint64_t skip)
{
    static const char prefix[] = "floe://blobs/sha256/";
    const char *hex = strncmp(uri, prefix, sizeof(prefix) - 1) == 0 ? uri + sizeof(prefix) - 1 : "";
    if (strlen(hex) != FLOE_SHA256_HEX_LEN || strspn(hex, "0123456789abcdef") != strlen(hex)) {
        fprintf(stderr, "floectl: \"%.200s\" is not a blob uri (floe://blobs/sha256/<64 hex>)\n",
                uri);
        return CTL_USAGE;
    }
    char url[1200];
    snprintf(url, sizeof(url), "%s/api/v1/blobs/sha256/%s", ctx->cfg->api_url, hex);
    xfer x = {.fd = fd, .out = out, .skip = skip, .md = EVP_MD_CTX_new()};
    CURL *c = x.md != NULL ? easy(ctx, url, &x) : NULL;
    if (c == NULL || EVP_DigestInit_ex(x.md, EVP_sha256(), NULL) != 1) {
        EVP_MD_CTX_free(x.md);
        return CTL_FAILED;
    }
    /* the API answers with the bytes or with where to get them (a presigned url) */
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(c, CURLOPT_MAXREDIRS, 3L);
    CURLcode cc = curl_easy_perform(c);
    long status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    int rc = CTL_OK;
    char what[200];
    snprintf(what, sizeof(what), "fetching %.100s", uri);
    if (cc != CURLE_OK || status != 200) {
        report(what, x.write_failed ? CURLE_WRITE_ERROR : cc, status, &x);
        rc = status == 404 || status == 400 ? CTL_USAGE : CTL_FAILED;
    } else {
        unsigned char md[32];
        char got[FLOE_SHA256_HEX_LEN + 1];
        EVP_DigestFinal_ex(x.md, md, NULL);
        floe_sha256_hex_of(md, got);
        if (strcmp(got, hex) != 0) {
            fprintf(stderr,
                    "floectl: %s: the bytes received are corrupt (their digest is "
                    "sha256:%s)\n",
                    what, got);
            rc = CTL_FAILED;
        }
    }
    curl_easy_cleanup(c);
    EVP_MD_CTX_free(x.md);
    return rc;
}
