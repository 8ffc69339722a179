/*
 * store_blob — the blob store: files by content address. A blob's key is
 * "sha256/<64 hex>" and its uri "floe://blobs/sha256/<64 hex>", the same whichever backend
 * holds it, so a value written by one worker is read by any other configured with the
 * same store. Backends sit behind a small table of operations (store_blob.c): a local
 * directory (store_blob_local.c) or a bucket of an S3-compatible service
 * (store_blob_s3.c), chosen by blob.backend.
 *
 * Calls block (disk I/O, hashing): run them on a pool thread, never on the event loop.
 * A store may be used from several threads at once.
 */
#ifndef STORE_BLOB_H
#define STORE_BLOB_H

#include "floe_config.h"
#include "floe_digest.h"
#include "floe_err.h"

#include <stdint.h>

#define STORE_BLOB_URI_PREFIX "floe://blobs/"
#define STORE_BLOB_URI_MAX 96 /* "floe://blobs/sha256/" + 64 hex + NUL fits */
/* A local store's upload file nothing wrote to for this long was left by a crash: the next
 * process to open the store removes it. */
#define STORE_BLOB_TMP_STALE_S 3600

typedef struct store_blob store_blob;

/* A stored blob: uri, digest ("sha256:<hex>") and size. */
typedef struct store_blob_ref {
    char uri[STORE_BLOB_URI_MAX];
    char digest[8 + FLOE_SHA256_HEX_LEN];
    uint64_t size;
} store_blob_ref;

/* What a backend implements. `impl` is the backend's own state. */
typedef struct store_blob_ops {
    const char *name;
    /* Stores the file at path (at most max bytes), filling out. Idempotent. */
    floe_rc (*put_file)(void *impl, const char *path, uint64_t max, store_blob_ref *out,
                        floe_err *err);
    /* Copies blob hex (64 lower-case hex) to the new file dest, checking its digest and
     * that it holds at most max bytes. FLOE_ENOTFOUND when absent. */
    floe_rc (*get_file)(void *impl, const char *hex, const char *dest, uint64_t max, floe_err *err);
    /* The size of blob hex. FLOE_ENOTFOUND when absent. */
    floe_rc (*stat)(void *impl, const char *hex, uint64_t *size, floe_err *err);
    /* A url that lets its holder GET blob hex, or PUT it with the payload digest
     * payload_hex, without credentials, for a limited time (NULL: the backend cannot). */
    floe_rc (*presign)(void *impl, const char *method, const char *hex, const char *payload_hex,
                       int64_t now, char *out, size_t size, floe_err *err);
    /* A url for the staging object <prefix>staging/<name> (NULL: the backend has none). */
    floe_rc (*presign_stage)(void *impl, const char *method, const char *name,
                             const char *payload_hex, int64_t now, char *out, size_t size,
                             floe_err *err);
    /* Opens blob hex for reading in place (NULL: the backend cannot). */
    floe_rc (*open_read)(void *impl, const char *hex, int *fd, uint64_t *size, floe_err *err);
    void (*free)(void *impl);
} store_blob_ops;

/* Opens the store the settings name (blob.backend, blob.root or blob.s3.*; blob.max_bytes
 * bounds every blob). NULL with err on failure: a setting missing or wrong, unreadable
 * credentials. Nothing is contacted yet: a store that cannot be reached fails the first
 * transfer, not the open. */
store_blob *store_blob_open_config(const floe_config *cfg, floe_err *err);

/* Opens a local directory store (absolute path, created when missing). */
store_blob *store_blob_open(const char *root, uint64_t max_bytes, floe_err *err);

/* "local" or "s3". */
const char *store_blob_backend(const store_blob *bs);
void store_blob_free(store_blob *bs);

/* Uploads the file at path. */
floe_rc store_blob_put_file(store_blob *bs, const char *path, store_blob_ref *out, floe_err *err);

/* Downloads the blob named by uri to dest (which must not exist). When digest is not
 * NULL or empty it must agree with the uri ("sha256:<hex>"). FLOE_EINVAL (user error)
 * for a uri that is not of this store or malformed, FLOE_ENOTFOUND when absent. */
floe_rc store_blob_get_file(store_blob *bs, const char *uri, const char *digest, const char *dest,
                            floe_err *err);

/* The size of the blob named by uri: FLOE_OK when it is in the store, FLOE_ENOTFOUND when
 * not, FLOE_EINVAL for a uri not of this store. */
floe_rc store_blob_stat(store_blob *bs, const char *uri, uint64_t *size, floe_err *err);

/* STORE_BLOB_URL_MAX bytes hold any presigned url. */
#define STORE_BLOB_URL_MAX 2048

/* A url to GET the blob named by uri, or to PUT it ("PUT": the content's digest is the
 * uri's, signed, so the service refuses other bytes), usable without credentials until it
 * expires (blob.s3.presign_expires): how data moves between the store and whoever may not
 * hold its credentials (floectl through the API, a Kubernetes pod). FLOE_ENOTSUP when the
 * backend has no such urls (local). */
floe_rc store_blob_presign(store_blob *bs, const char *method, const char *uri, char *out,
                           size_t size, floe_err *err);

/* Opens the blob for reading where it lies (*fd, *size; close it), when the backend can:
 * FLOE_ENOTSUP otherwise (s3). Not re-hashed: the reader checks the digest. */
floe_rc store_blob_open_read(store_blob *bs, const char *uri, int *fd, uint64_t *size,
                             floe_err *err);

/* Staging objects: what a Kubernetes pod uploads before anyone knows its digest, under
 * <blob.s3.prefix>staging/<name> (name: [A-Za-z0-9_-], '/' between parts, ≤ 200 bytes).
 * A presigned url for method PUT (the uploader sends `x-amz-content-sha256:
 * UNSIGNED-PAYLOAD`, which the url signs), GET or DELETE. The worker fetches what a pod
 * staged into a file (at most max bytes: FLOE_ETOOBIG past it; FLOE_ENOTFOUND when
 * nothing was staged), stores it content-addressed as any output, and deletes the staged
 * object. S3 only: FLOE_ENOTSUP for a local store. */
floe_rc store_blob_stage_url(store_blob *bs, const char *method, const char *name, char *out,
                             size_t size, floe_err *err);
floe_rc store_blob_stage_fetch(store_blob *bs, const char *name, const char *dest, uint64_t max,
                               floe_err *err);
floe_rc store_blob_stage_delete(store_blob *bs, const char *name, floe_err *err);

/* Parses "floe://blobs/sha256/<hex>" into hex (65 bytes). FLOE_EINVAL otherwise. */
floe_rc store_blob_uri_parse(const char *uri, char hex[FLOE_SHA256_HEX_LEN + 1], floe_err *err);

/* The local-directory backend's operations, for store_blob.c. */
extern const store_blob_ops store_blob_local_ops;
void *store_blob_local_new(const char *root, floe_err *err);
extern const store_blob_ops store_blob_s3_ops;
void *store_blob_s3_new(const floe_config *cfg, floe_err *err);

#endif
