/*
 * store_blob — the front of the blob store: uri parsing and validation, then the
 * backend's operations. Nothing from a uri reaches a path before it has been checked to
 * be exactly "sha256/" and 64 lower-case hex digits.
 */
#include "store_blob.h"

#include "floe_mem.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct store_blob {
    const store_blob_ops *ops;
    void *impl;
    uint64_t max_bytes;
};

static bool
is_hex64(const char *s)
{
    size_t i = 0;
    for (; s[i] != '\0'; i++) {
        char c = s[i];
        if (i >= FLOE_SHA256_HEX_LEN || !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
            return false;
    }
    return i == FLOE_SHA256_HEX_LEN;
}

floe_rc
store_blob_uri_parse(const char *uri, char hex[FLOE_SHA256_HEX_LEN + 1], floe_err *err)
{
    static const char prefix[] = STORE_BLOB_URI_PREFIX "sha256/";
    if (uri == NULL || strncmp(uri, prefix, sizeof(prefix) - 1) != 0 ||
        !is_hex64(uri + sizeof(prefix) - 1))
        return floe_err_user(err, FLOE_EINVAL,
                             "blob uri \"%.120s\" is not in the blob store (expected "
                             "\"" STORE_BLOB_URI_PREFIX "sha256/<64 hex digits>\")",
                             uri != NULL ? uri : "");
    memcpy(hex, uri + sizeof(prefix) - 1, FLOE_SHA256_HEX_LEN + 1);
    return FLOE_OK;
}

store_blob *
store_blob_open(const char *root, uint64_t max_bytes, floe_err *err)
{
    store_blob *bs = floe_calloc(1, sizeof(*bs));
    if (bs == NULL) {
        floe_err_sys(err, FLOE_ENOMEM, "blob store: out of memory");
        return NULL;
    }
    bs->ops = &store_blob_local_ops;
    bs->max_bytes = max_bytes;
    if ((bs->impl = store_blob_local_new(root, err)) == NULL) {
        floe_free(bs);
        return NULL;
    }
    return bs;
}

store_blob *
store_blob_open_config(const floe_config *cfg, floe_err *err)
{
    if (cfg->blob_backend != FLOE_BLOB_S3)
        return store_blob_open(cfg->blob_root, (uint64_t)cfg->blob_max_bytes, err);
    store_blob *bs = floe_calloc(1, sizeof(*bs));
    if (bs == NULL) {
        floe_err_sys(err, FLOE_ENOMEM, "blob store: out of memory");
        return NULL;
    }
    bs->ops = &store_blob_s3_ops;
    bs->max_bytes = (uint64_t)cfg->blob_max_bytes;
    if ((bs->impl = store_blob_s3_new(cfg, err)) == NULL) {
        floe_free(bs);
        return NULL;
    }
    return bs;
}

const char *
store_blob_backend(const store_blob *bs)
{
    return bs->ops->name;
}

void
store_blob_free(store_blob *bs)
{
    if (bs == NULL)
        return;
    bs->ops->free(bs->impl);
    floe_free(bs);
}

floe_rc
store_blob_put_file(store_blob *bs, const char *path, store_blob_ref *out, floe_err *err)
{
    return bs->ops->put_file(bs->impl, path, bs->max_bytes, out, err);
}

floe_rc
store_blob_get_file(store_blob *bs, const char *uri, const char *digest, const char *dest,
                    floe_err *err)
{
    char hex[FLOE_SHA256_HEX_LEN + 1];
    floe_rc rc = store_blob_uri_parse(uri, hex, err);
    if (rc != FLOE_OK)
        return rc;
    if (digest != NULL && digest[0] != '\0' &&
        (strncmp(digest, "sha256:", 7) != 0 || strcmp(digest + 7, hex) != 0))
        return floe_err_user(err, FLOE_EINVAL, "blob %.100s: digest \"%.80s\" does not match", uri,
                             digest);
    return bs->ops->get_file(bs->impl, hex, dest, bs->max_bytes, err);
}

floe_rc
store_blob_stat(store_blob *bs, const char *uri, uint64_t *size, floe_err *err)
{
    char hex[FLOE_SHA256_HEX_LEN + 1];
    floe_rc rc = store_blob_uri_parse(uri, hex, err);
    return rc != FLOE_OK ? rc : bs->ops->stat(bs->impl, hex, size, err);
}

floe_rc
store_blob_presign(store_blob *bs, const char *method, const char *uri, char *out, size_t size,
                   floe_err *err)
{
    char hex[FLOE_SHA256_HEX_LEN + 1];
    floe_rc rc = store_blob_uri_parse(uri, hex, err);
    if (rc != FLOE_OK)
        return rc;
    if (bs->ops->presign == NULL)
        return floe_err_user(err, FLOE_ENOTSUP, "the %s blob store has no presigned urls",
                             bs->ops->name);
    if (strcmp(method, "GET") != 0 && strcmp(method, "PUT") != 0)
        return floe_err_user(err, FLOE_EINVAL, "presign: GET or PUT, not %.16s", method);
    return bs->ops->presign(bs->impl, method, hex, strcmp(method, "PUT") == 0 ? hex : NULL,
                            (int64_t)time(NULL), out, size, err);
}

/* --- staging ----------------------------------------------------------------------------- */

static bool
stage_name_ok(const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || n > 200 || name[0] == '/' || name[n - 1] == '/' || strstr(name, "//") != NULL)
        return false;
    for (const char *p = name; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '-' || *p == '_' || *p == '/'))
            return false;
    return true;
}

floe_rc
store_blob_stage_url(store_blob *bs, const char *method, const char *name, char *out, size_t size,
                     floe_err *err)
{
    if (bs->ops->presign_stage == NULL)
        return floe_err_user(err, FLOE_ENOTSUP,
                             "the %s blob store cannot stage objects (blob.backend=s3 can)",
                             bs->ops->name);
    if (!stage_name_ok(name))
        return floe_err_user(err, FLOE_EINVAL, "staging name \"%.64s\" is not [A-Za-z0-9_-/]",
                             name);
    bool put = strcmp(method, "PUT") == 0;
    if (!put && strcmp(method, "GET") != 0 && strcmp(method, "DELETE") != 0)
        return floe_err_user(err, FLOE_EINVAL, "stage: GET, PUT or DELETE, not %.16s", method);
    return bs->ops->presign_stage(bs->impl, method, name, put ? "UNSIGNED-PAYLOAD" : NULL,
                                  (int64_t)time(NULL), out, size, err);
}

typedef struct stage_sink {
    FILE *f;
    uint64_t n, max;
    bool too_big;
} stage_sink;

static size_t
stage_write(char *data, size_t size, size_t nmemb, void *arg)
{
    stage_sink *s = arg;
    size_t n = size * nmemb;
    if (s->n + n > s->max) {
        s->too_big = true;
        return 0;
    }
    s->n += n;
    return fwrite(data, 1, n, s->f);
}

/* One request to a presigned url; the body (GET) streamed into f. The status, 0 when the
 * store could not be reached. */
static long
stage_call(const char *method, const char *url, stage_sink *sink, char *why, size_t why_size)
{
    CURL *c = curl_easy_init();
    if (c == NULL) {
        snprintf(why, why_size, "out of memory");
        return 0;
    }
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L); /* stalled for a minute: give up */
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, 60L);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "https,http");
    if (sink != NULL) {
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, stage_write);
        curl_easy_setopt(c, CURLOPT_WRITEDATA, sink);
    } else {
        curl_easy_setopt(c, CURLOPT_NOBODY, strcmp(method, "HEAD") == 0 ? 1L : 0L);
    }
    char errbuf[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
    long status = 0;
    if (curl_easy_perform(c) == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    else
        snprintf(why, why_size, "%s", errbuf[0] ? errbuf : "transfer failed");
    curl_easy_cleanup(c);
    return status;
}

floe_rc
store_blob_stage_fetch(store_blob *bs, const char *name, const char *dest, uint64_t max,
                       floe_err *err)
{
    char url[STORE_BLOB_URL_MAX], why[CURL_ERROR_SIZE] = "";
    floe_rc rc = store_blob_stage_url(bs, "GET", name, url, sizeof(url), err);
    if (rc != FLOE_OK)
        return rc;
    int fd = open(dest, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644);
    FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
    if (f == NULL) {
        int e = errno;
        if (fd >= 0)
            close(fd);
        return floe_err_sys(err, FLOE_EIO, "staged %.80s: %s: %s", name, dest, strerror(e));
    }
    stage_sink sink = {.f = f, .max = max};
    long status = stage_call("GET", url, &sink, why, sizeof(why));
    bool wrote = fclose(f) == 0;
    if (status == 200 && !sink.too_big && wrote)
        return FLOE_OK;
    unlink(dest);
    if (sink.too_big)
        return floe_err_user(err, FLOE_ETOOBIG, "staged %.80s: more than %llu bytes", name,
                             (unsigned long long)max);
    if (status == 404)
        return floe_err_user(err, FLOE_ENOTFOUND, "staged %.80s: nothing was staged", name);
    return floe_err_set(err, FLOE_EIO, FLOE_ERR_SYSTEM, true, "staged %.80s: %s", name,
                        status != 0 ? "the store answered an error" : why);
}

floe_rc
store_blob_stage_delete(store_blob *bs, const char *name, floe_err *err)
{
    char url[STORE_BLOB_URL_MAX], why[CURL_ERROR_SIZE] = "";
    floe_rc rc = store_blob_stage_url(bs, "DELETE", name, url, sizeof(url), err);
    if (rc != FLOE_OK)
        return rc;
    long status = stage_call("DELETE", url, NULL, why, sizeof(why));
    if (status == 204 || status == 200 || status == 404)
        return FLOE_OK;
    return floe_err_set(err, FLOE_EIO, FLOE_ERR_SYSTEM, true, "deleting staged %.80s: %s", name,
                        status != 0 ? "the store answered an error" : why);
}

floe_rc
store_blob_open_read(store_blob *bs, const char *uri, int *fd, uint64_t *size, floe_err *err)
{
    char hex[FLOE_SHA256_HEX_LEN + 1];
    floe_rc rc = store_blob_uri_parse(uri, hex, err);
    if (rc != FLOE_OK)
        return rc;
    if (bs->ops->open_read == NULL)
        return floe_err_user(err, FLOE_ENOTSUP, "the %s blob store cannot be read in place",
                             bs->ops->name);
    return bs->ops->open_read(bs->impl, hex, fd, size, err);
}
