/*
 * Blobs through the API, so that nobody but the workers needs the blob store's disk or
 * credentials (floectl on a laptop, a service, the console):
 *
 *   POST /api/v1/blobs[?digest=sha256:HEX]  the body is the blob (at most
 *       api.max_body_bytes): stored, 201 {uri, digest, size}; a digest that does not match
 *       the body is refused and nothing is stored.
 *   POST /api/v1/blobs/uploads {digest, size}  how to store a blob of any size (up to
 *       blob.max_bytes): {exists: true} when the store has it already; else an `upload`
 *       to perform: with S3 a presigned PUT straight to the bucket (the scheduler never
 *       carries the bytes; the url is bound to the digest, so S3 refuses other content),
 *       with a local store a POST of the body to the url above.
 *   GET /api/v1/blobs/sha256/HEX  the blob: with S3 a 307 to a presigned GET (Range and
 *       large blobs are the bucket's business), with a local store the file streamed from
 *       disk in bounded chunks, with Range (one range; 206, or 416 when unsatisfiable).
 *       The reader checks the digest (the name is the digest): floectl does.
 */
#include "sched_api_int.h"

#include "floe_digest.h"
#include "floe_mem.h"
#include "floe_time.h"
#include "floe_value.h"
#include "store_blob.h"
#include "store_valref.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define BLOB_STREAM_CHUNK (256 * 1024) /* bytes read and queued per turn of a download */

/* "sha256:<64 hex>" into a uri; false when malformed. */
static bool
digest_uri(const char *digest, char *uri, size_t size)
{
    char hex[FLOE_SHA256_HEX_LEN + 1];
    floe_err err;
    if (digest == NULL || strncmp(digest, "sha256:", 7) != 0)
        return false;
    snprintf(uri, size, STORE_BLOB_URI_PREFIX "sha256/%.64s", digest + 7);
    return strlen(digest + 7) == FLOE_SHA256_HEX_LEN &&
           store_blob_uri_parse(uri, hex, &err) == FLOE_OK;
}

static json_t *
ref_json(const char *uri, uint64_t size)
{
    return json_pack("{s:s,s:s+,s:I}", "uri", uri, "digest",
                     "sha256:", uri + strlen(STORE_BLOB_URI_PREFIX "sha256/"), "size",
                     (json_int_t)size);
}

void
api_blob_put_work(api_thread *t, api_req *r)
{
    bool project_ok = true; /* blobs and datasets belong to no project yet: the caller's */
    const char *project = api_project(r, &project_ok);
    if (!project_ok || !api_allow(t, r, project))
        return;
    store_blob *bs = api_blobs(r);
    if (bs == NULL)
        return;
    const char *want = api_param(r, "digest");
    char want_uri[STORE_BLOB_URI_MAX], got[FLOE_SHA256_HEX_LEN + 1];
    if (want != NULL && !digest_uri(want, want_uri, sizeof(want_uri))) {
        api_fail(r, FLOE_EINVAL, "digest: expected sha256:<64 lower-case hex digits>");
        return;
    }
    floe_sha256_hex(r->body, r->body_len, got);
    if (want != NULL && strcmp(want + 7, got) != 0) {
        api_fail(r, FLOE_EINVAL, "the body does not match digest %.80s (it is sha256:%s)", want,
                 got);
        return;
    }
    /* The store takes files (it streams them): the body goes through a temporary one. */
    char path[1100];
    snprintf(path, sizeof(path), "%s/floe-blob-XXXXXX", api_cfg(r)->api_spool_dir);
    int fd = mkostemp(path, O_CLOEXEC);
    if (fd == -1) {
        api_fail(r, FLOE_EIO, "a temporary file in api.spool_dir: %s", strerror(errno));
        return;
    }
    size_t off = 0;
    while (off < r->body_len) {
        ssize_t n = write(fd, r->body + off, r->body_len - off);
        if (n == -1 && errno == EINTR)
            continue;
        if (n == -1)
            break;
        off += (size_t)n;
    }
    close(fd);
    store_blob_ref ref;
    if (off < r->body_len)
        api_fail(r, FLOE_EIO, "writing the body to api.spool_dir: %s", strerror(errno));
    else if (store_blob_put_file(bs, path, &ref, &r->err) == FLOE_OK) {
        r->status = 201;
        r->reply = ref_json(ref.uri, ref.size);
    }
    unlink(path);
}

void
api_blob_upload_work(api_thread *t, api_req *r)
{
    bool project_ok = true; /* blobs and datasets belong to no project yet: the caller's */
    const char *project = api_project(r, &project_ok);
    if (!project_ok || !api_allow(t, r, project))
        return;
    store_blob *bs = api_blobs(r);
    if (bs == NULL)
        return;
    json_error_t jerr;
    json_t *body =
        r->body_len > 0 ? json_loadb(r->body, r->body_len, JSON_REJECT_DUPLICATES, &jerr) : NULL;
    const char *dj = json_string_value(json_object_get(body, "digest"));
    json_t *size_j = json_object_get(body, "size");
    char uri[STORE_BLOB_URI_MAX], digest[8 + FLOE_SHA256_HEX_LEN + 1];
    snprintf(digest, sizeof(digest), "%s", dj != NULL ? dj : "");
    if (!json_is_object(body) || dj == NULL || !digest_uri(dj, uri, sizeof(uri)) ||
        !json_is_integer(size_j) || json_integer_value(size_j) < 0) {
        api_fail(r, FLOE_EINVAL,
                 "the body must be {\"digest\": \"sha256:<64 hex>\", \"size\": BYTES}");
        json_decref(body);
        return;
    }
    uint64_t size = (uint64_t)json_integer_value(size_j), have = 0;
    json_decref(body);
    const floe_config *cfg = api_cfg(r);
    if (size > (uint64_t)cfg->blob_max_bytes) {
        api_fail(r, FLOE_ETOOBIG, "%" PRIu64 " bytes: larger than the blob limit of %" PRId64, size,
                 cfg->blob_max_bytes);
        return;
    }
    floe_rc rc = store_blob_stat(bs, uri, &have, &r->err);
    if (rc == FLOE_OK && have == size) {
        r->reply = ref_json(uri, size);
        json_object_set_new(r->reply, "exists", json_true());
        return;
    }
    if (rc != FLOE_OK && rc != FLOE_ENOTFOUND)
        return;
    memset(&r->err, 0, sizeof(r->err));
    char url[STORE_BLOB_URL_MAX];
    json_t *up;
    rc = store_blob_presign(bs, "PUT", uri, url, sizeof(url), &r->err);
    if (rc == FLOE_OK) {
        up = json_pack("{s:s,s:s,s:{s:s},s:o}", "method", "PUT", "url", url, "headers",
                       "x-amz-content-sha256", digest + 7, "expires_at",
                       sched_render_time(floe_now_us() + cfg->blob_s3_presign_expires_ms * 1000));
    } else if (rc == FLOE_ENOTSUP) {
        memset(&r->err, 0, sizeof(r->err));
        char post[160];
        snprintf(post, sizeof(post), "/api/v1/blobs?digest=%s", digest);
        up = json_pack("{s:s,s:s,s:{},s:I}", "method", "POST", "url", post, "headers", "max_bytes",
                       (json_int_t)cfg->api_max_body_bytes);
    } else {
        return;
    }
    r->reply = ref_json(uri, size);
    json_object_set_new(r->reply, "exists", json_false());
    json_object_set_new(r->reply, "upload", up);
}

void
api_blob_get_work(api_thread *t, api_req *r)
{
    bool project_ok = true; /* blobs and datasets belong to no project yet: the caller's */
    const char *project = api_project(r, &project_ok);
    if (!project_ok || !api_allow(t, r, project))
        return;
    store_blob *bs = api_blobs(r);
    if (bs == NULL)
        return;
    char uri[STORE_BLOB_URI_MAX + 80];
    snprintf(uri, sizeof(uri), STORE_BLOB_URI_PREFIX "sha256/%.80s", r->t.seg[4]);
    uint64_t size = 0;
    if (store_blob_stat(bs, uri, &size, &r->err) != FLOE_OK)
        return;
    char url[STORE_BLOB_URL_MAX];
    floe_rc rc = store_blob_presign(bs, "GET", uri, url, sizeof(url), &r->err);
    if (rc == FLOE_OK) {
        r->status = 307;
        r->location = floe_arena_strndup(r->arena, url, strlen(url));
        r->reply = json_pack("{s:s}", "url", url);
        return;
    }
    if (rc != FLOE_ENOTSUP)
        return;
    memset(&r->err, 0, sizeof(r->err));
    store_blob_open_read(bs, uri, &r->stream_fd, &r->stream_size, &r->err);
}

/* --- streaming a file ---------------------------------------------------------------- */

typedef struct blob_stream {
    struct evhttp_request *req;
    struct evhttp_connection *conn;
    int fd;
    uint64_t off, left;
} blob_stream;

static void
stream_free(blob_stream *st)
{
    close(st->fd);
    floe_free(st);
}

/* The client went away mid-download: libevent frees the request with its connection. */
static void
stream_closed(struct evhttp_connection *conn, void *arg)
{
    (void)conn;
    blob_stream *st = arg;
    api_stream_closed(st->req);
    stream_free(st);
}

static void
stream_pump(struct evhttp_connection *conn, void *arg)
{
    (void)conn;
    blob_stream *st = arg;
    if (st->left == 0) {
        evhttp_connection_set_closecb(st->conn, NULL, NULL);
        evhttp_send_reply_end(st->req);
        stream_free(st);
        return;
    }
    struct evbuffer *buf = evbuffer_new();
    size_t want = st->left < BLOB_STREAM_CHUNK ? (size_t)st->left : BLOB_STREAM_CHUNK;
    struct evbuffer_iovec v;
    ssize_t n = -1;
    if (buf != NULL && evbuffer_reserve_space(buf, (ev_ssize_t)want, &v, 1) == 1) {
        do
            n = pread(st->fd, v.iov_base, want, (off_t)st->off);
        while (n == -1 && errno == EINTR);
        v.iov_len = n > 0 ? (size_t)n : 0;
        evbuffer_commit_space(buf, &v, 1);
    }
    if (n <= 0) { /* the file shrank or failed under us: cut the connection, never pad */
        if (buf != NULL)
            evbuffer_free(buf);
        evhttp_connection_set_closecb(st->conn, NULL, NULL);
        evhttp_connection_free(st->conn);
        stream_free(st);
        return;
    }
    st->off += (uint64_t)n;
    st->left -= (uint64_t)n;
    evhttp_send_reply_chunk_with_cb(st->req, buf, stream_pump, st);
    evbuffer_free(buf);
}

/* "bytes=A-B", "bytes=A-", "bytes=-N" against size: false when unsatisfiable; *whole when
 * absent or not one range (then the whole blob is sent, as RFC 9110 allows). */
static bool
parse_range(const char *h, uint64_t size, uint64_t *from, uint64_t *len, bool *whole)
{
    *whole = true;
    if (h == NULL || strncmp(h, "bytes=", 6) != 0 || strchr(h, ',') != NULL)
        return true;
    const char *p = h + 6;
    char *end;
    unsigned long long a = 0, b = 0;
    bool has_a = *p >= '0' && *p <= '9', has_b;
    if (has_a) {
        errno = 0;
        a = strtoull(p, &end, 10);
        if (errno != 0)
            return true;
        p = end;
    }
    if (*p++ != '-')
        return true;
    has_b = *p >= '0' && *p <= '9';
    if (has_b) {
        errno = 0;
        b = strtoull(p, &end, 10);
        if (errno != 0 || *end != '\0')
            return true;
    } else if (*p != '\0') {
        return true;
    }
    if (!has_a && !has_b)
        return true;
    *whole = false;
    if (!has_a) { /* the last b bytes */
        if (b == 0 || size == 0)
            return false;
        *from = b >= size ? 0 : size - b;
        *len = size - *from;
        return true;
    }
    if (a >= size || (has_b && b < a))
        return false;
    *from = a;
    *len = (has_b && b < size - 1 ? b : size - 1) - a + 1;
    return true;
}

void
api_blob_get_done(api_req *r)
{
    if (r->stream_fd == -1 || r->err.code != FLOE_OK) {
        if (r->stream_fd != -1)
            close(r->stream_fd);
        api_reply(r);
        return;
    }
    struct evkeyvalq *in = evhttp_request_get_input_headers(r->req);
    struct evkeyvalq *out = evhttp_request_get_output_headers(r->req);
    uint64_t from = 0, len = r->stream_size;
    bool whole = true;
    char num[96];
    if (!parse_range(evhttp_find_header(in, "Range"), r->stream_size, &from, &len, &whole)) {
        close(r->stream_fd);
        snprintf(num, sizeof(num), "bytes */%" PRIu64, r->stream_size);
        evhttp_add_header(out, "Content-Range", num);
        r->status = 416;
        api_fail(r, FLOE_EINVAL, "range not satisfiable: the blob has %" PRIu64 " bytes",
                 r->stream_size);
        api_reply(r);
        return;
    }
    blob_stream *st = floe_calloc(1, sizeof(*st));
    if (st == NULL) {
        close(r->stream_fd);
        api_fail(r, FLOE_ENOMEM, "out of memory");
        api_reply(r);
        return;
    }
    st->req = r->req;
    st->conn = evhttp_request_get_connection(r->req);
    st->fd = r->stream_fd;
    st->off = from;
    st->left = len;
    int status = whole ? 200 : 206;
    evhttp_add_header(out, "Content-Type", "application/octet-stream");
    evhttp_add_header(out, "Accept-Ranges", "bytes");
    snprintf(num, sizeof(num), "\"sha256:%.64s\"", r->t.seg[4]);
    evhttp_add_header(out, "ETag", num);
    snprintf(num, sizeof(num), "%" PRIu64, len);
    evhttp_add_header(out, "Content-Length", num);
    if (!whole) {
        snprintf(num, sizeof(num), "bytes %" PRIu64 "-%" PRIu64 "/%" PRIu64, from, from + len - 1,
                 r->stream_size);
        evhttp_add_header(out, "Content-Range", num);
    }
    evhttp_connection_set_closecb(st->conn, stream_closed, st);
    evhttp_send_reply_start(r->req, status, whole ? "OK" : "Partial Content");
    api_req_answered(r, status);
    stream_pump(NULL, st);
}

/* --- Values by reference (issue 23) ---------------------------------------------------- */

json_t *
api_render_values(api_req *r, const uint8_t *packed, size_t len)
{
    if (packed == NULL)
        return json_null();
    Floe__ValueMap *m = floe__value_map__unpack(floe_arena_pb_allocator(r->arena), len, packed);
    if (m == NULL)
        return json_null();
    store_blob *bs = api_blobs_open(r);
    if (bs != NULL) {
        floe_err err = {0};
        for (size_t i = 0; i < m->n_entries; i++) {
            Floe__NamedValue *one = m->entries[i];
            if (one->value == NULL || one->value->kind_case != FLOE__VALUE__KIND_REF)
                continue;
            /* one at a time: a value that cannot be read stays a reference, the rest show */
            if (store_valref_resolve(bs, &m->entries[i], 1, api_cfg(r)->api_spool_dir,
                                     (uint64_t)api_cfg(r)->values_max_bytes, r->arena,
                                     &err) != FLOE_OK)
                floe_log_warn(&(floe_log_ctx){.comp = "api"},
                              "a value by reference shown as such: %s", err.msg);
        }
    }
    json_t *o = json_object();
    for (size_t i = 0; o != NULL && i < m->n_entries; i++) {
        json_t *v = floe_value_to_json(m->entries[i]->value);
        json_object_set_new(o, m->entries[i]->name, v != NULL ? v : json_null());
    }
    return o;
}

bool
api_values_shrink(api_req *r, Floe__NamedValue **vals, size_t n)
{
    size_t max = (size_t)api_cfg(r)->values_inline_max;
    if (!store_valref_over(vals, n, max))
        return true;
    store_blob *bs = api_blobs(r);
    if (bs == NULL)
        return false;
    if (store_valref_shrink(bs, vals, n, max, api_cfg(r)->api_spool_dir, r->arena, &r->err) !=
        FLOE_OK) {
        api_fail(r, r->err.code, "%s", r->err.msg);
        return false;
    }
    return true;
}
