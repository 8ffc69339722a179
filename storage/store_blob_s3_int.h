/*
 * store_blob_s3_int.h — the S3 backend's parts: the store's state, and one request to
 * the service with its retries (store_blob_s3_req.c), used by the transfers
 * (store_blob_s3.c). Private to the blob store.
 */
#ifndef STORE_BLOB_S3_INT_H
#define STORE_BLOB_S3_INT_H

#include "store_blob.h"

#include <curl/curl.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdbool.h>

#define S3_IDLE_MAX 8      /* handles (and their connections) kept for reuse */
#define S3_MAX_PARTS 10000 /* S3's limit on a multipart upload's parts */
#define S3_RESP_MAX 8192   /* error documents and small XML answers */
#define S3_ETAG_MAX 130
#define S3_IO_CHUNK 65536
#define S3_BACKOFF_MS 200      /* first retry's delay, doubled each time */
#define S3_BACKOFF_MAX_MS 5000 /* and capped */
#define S3_EMPTY_SHA256 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

typedef struct blob_s3 {
    char base[400]; /* scheme://host[:port]/bucket/ or scheme://bucket.host[:port]/ */
    char host[300]; /* host[:port] or bucket.host[:port]: what the Host header says */
    char path0[80]; /* "/bucket/" or "/": the path before the key */
    char region[72];
    int presign_expires_s;
    char prefix[132];
    char sigv4[96]; /* "aws:amz:<region>:s3" */
    char *access_key, *secret_key, *token_header;
    uint64_t threshold, part_size;
    long timeout_ms;
    int retries;
    pthread_mutex_t mu;
    CURL *idle[S3_IDLE_MAX];
    int n_idle;
} blob_s3;

/* One request: its body comes from a file range or memory, its answer goes to a file
 * (hashed, bounded) or to resp. */
typedef struct s3_req {
    const char *method;
    char url[700];
    char payload[FLOE_SHA256_HEX_LEN + 1]; /* x-amz-content-sha256 */
    int in_fd;
    uint64_t in_off, in_len, in_pos;
    const char *body;
    EVP_MD_CTX *in_md; /* hashes the body as read, when set */
    int out_fd;
    EVP_MD_CTX *out_md;
    uint64_t out_max, out_got;
    bool out_too_big, read_failed;
    CURL *curl;
    char resp[S3_RESP_MAX];
    size_t resp_len;
    char etag[S3_ETAG_MAX];
    long status;
    curl_off_t length; /* Content-Length of the answer, -1 when unknown */
} s3_req;

/* A request: method, then s3_req_url; the body and the destination as needed. */
void s3_req_init(s3_req *r, const char *method);
/* r->url = the url of blob hex's object, then "?query" (query may be NULL). */
floe_rc s3_req_url(blob_s3 *s, s3_req *r, const char *hex, const char *query, floe_err *err);
/* Sends r, again after transient failures (5xx, 429, a broken connection) with backoff.
 * what names the blob in errors. FLOE_ENOTFOUND (no message) on 404. */
floe_rc s3_do(blob_s3 *s, s3_req *r, const char *what, floe_err *err);
/* The text between <tag> and </tag> of an S3 XML answer (UTF-8-safe, cut to size); "" when
 * absent. */
void s3_xml_text(const char *xml, const char *tag, char *out, size_t size);
void s3_hex_of(const unsigned char *md, char out[FLOE_SHA256_HEX_LEN + 1]);
void s3_md_final_hex(EVP_MD_CTX *md, char out[FLOE_SHA256_HEX_LEN + 1]);
/* A presigned url for blob hex (store_blob_ops.presign). */
floe_rc store_blob_s3_presign(void *impl, const char *method, const char *hex,
                              const char *payload_hex, int64_t now, char *out, size_t size,
                              floe_err *err);
/* A presigned url for the staging object name (store_blob_ops.presign_stage). */
floe_rc store_blob_s3_presign_stage(void *impl, const char *method, const char *name,
                                    const char *payload_hex, int64_t now, char *out, size_t size,
                                    floe_err *err);
/* The same for any object key, at a given time and lifetime: what the tests compare with
 * AWS's published example. */
floe_rc s3_presign_key(blob_s3 *s, const char *method, const char *key, const char *payload_hex,
                       int64_t now, int expires_s, char *out, size_t size, floe_err *err);
/* RFC 3986 percent-encoding of all but the unreserved characters (and '/' when
 * keep_slash), upper-case hex: SigV4's UriEncode. False when out is too small. */
bool s3_uri_encode(const char *in, bool keep_slash, char *out, size_t size);
/* Closes the handles kept for reuse. */
void s3_handles_free(blob_s3 *s);

#endif
