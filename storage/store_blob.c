/*
 * store_blob — the front of the blob store: uri parsing and validation, then the
 * backend's operations. Nothing from a uri reaches a path before it has been checked to
 * be exactly "sha256/" and 64 lower-case hex digits.
 */
#include "store_blob.h"

#include "floe_mem.h"

#include <stdbool.h>
#include <string.h>
#include <time.h>

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
