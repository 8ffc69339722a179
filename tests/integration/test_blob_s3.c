/*
 * The S3 backend of the blob store, against the stack's S3 server (s3rver): round trips
 * in one PUT and in parts, an existing object not sent again, a corrupted object refused
 * with its name, the size bound, an unreachable service retried then failed naming the
 * blob, a blob's memory cost flat in its size. And against a stand-in server in this
 * process, for what s3rver does not do: it does not check signatures (here every request's
 * SigV4 signature and payload digest is recomputed from the AWS algorithm), it never
 * answers 503, it never drops a connection mid-upload.
 */
#include "it_util.h"
#include "store_blob.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[] = "/tmp/floe-s3-XXXXXX";

static store_blob *
open_s3(const char *const *extra, size_t n)
{
    const char *o[8] = {"blob.backend=s3"};
    for (size_t i = 0; i < n && i < 7; i++)
        o[i + 1] = extra[i];
    floe_config *cfg = it_config("test_blob_s3", o, n + 1);
    floe_err err = {0};
    store_blob *bs = store_blob_open_config(cfg, &err);
    floe_config_free(cfg);
    if (bs == NULL)
        fail_msg("open: %s", err.msg);
    assert_string_equal(store_blob_backend(bs), "s3");
    return bs;
}

static void
write_random(const char *path, size_t size)
{
    int in = open("/dev/urandom", O_RDONLY), out = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    char buf[65536];
    assert_true(in != -1 && out != -1);
    for (size_t done = 0; done < size;) {
        size_t want = size - done < sizeof(buf) ? size - done : sizeof(buf);
        ssize_t n = read(in, buf, want);
        assert_true(n > 0);
        assert_int_equal(write(out, buf, (size_t)n), n);
        done += (size_t)n;
    }
    close(in);
    close(out);
}

static bool
same_files(const char *a, const char *b)
{
    char cmd[512];
    snprintf(cmd, sizeof(cmd), "cmp -s '%s' '%s'", a, b);
    return system(cmd) == 0;
}

static char *
path_in(const char *name)
{
    static char buf[4][256];
    static int next;
    char *p = buf[next++ % 4];
    snprintf(p, 256, "%s/%s", dir, name);
    unlink(p);
    return p;
}

/* Put then get, in one PUT and in parts; a second put finds the object and answers the
 * same reference. */
static void
test_round_trip(void **state)
{
    (void)state;
    static const char *const parts[] = {"blob.s3.multipart_threshold=5MiB",
                                        "blob.s3.part_size=5MiB"};
    store_blob *bs = open_s3(parts, 2);
    floe_err err = {0};
    const size_t sizes[] = {0, 1, 100000, 12u << 20};
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        char *src = path_in("src"), *dst = path_in("dst");
        write_random(src, sizes[i]);
        store_blob_ref a, b;
        if (store_blob_put_file(bs, src, &a, &err) != FLOE_OK)
            fail_msg("put %zu bytes: %s", sizes[i], err.msg);
        assert_int_equal(a.size, sizes[i]);
        assert_int_equal(store_blob_put_file(bs, src, &b, &err), FLOE_OK);
        assert_string_equal(a.uri, b.uri);
        if (store_blob_get_file(bs, a.uri, a.digest, dst, &err) != FLOE_OK)
            fail_msg("get %zu bytes: %s", sizes[i], err.msg);
        assert_true(same_files(src, dst));
    }
    store_blob_free(bs);
}

static void
test_missing_and_malformed(void **state)
{
    (void)state;
    store_blob *bs = open_s3(NULL, 0);
    floe_err err = {0};
    char *dst = path_in("dst");
    assert_int_equal(store_blob_get_file(bs,
                                         "floe://blobs/sha256/" /* nobody's content */
                                         "00000000000000000000000000000000000000000000000000000"
                                         "00000000000",
                                         NULL, dst, &err),
                     FLOE_ENOTFOUND);
    assert_non_null(strstr(err.msg, "not in the store"));
    assert_int_equal(
        store_blob_get_file(bs, "floe://blobs/sha256/../../../etc/passwd", NULL, dst, &err),
        FLOE_EINVAL);
    assert_int_equal(err.cls, FLOE_ERR_USER);
    struct stat st;
    assert_int_equal(stat(dst, &st), -1); /* nothing left behind */
    store_blob_free(bs);
}

/* Writes other bytes under an object's key, as a broken disk or a hostile writer would. */
static void
overwrite_object(const char *hex, const char *bytes)
{
    floe_config *cfg = it_config("test_blob_s3", NULL, 0);
    char url[512], user[300], hdr[128];
    snprintf(url, sizeof(url), "%s/%s/sha256/%s", cfg->blob_s3_endpoint, cfg->blob_s3_bucket, hex);
    snprintf(user, sizeof(user), "%s:%s", cfg->blob_s3_access_key_id,
             cfg->blob_s3_secret_access_key);
    unsigned char md[32];
    char mdhex[65];
    EVP_Digest(bytes, strlen(bytes), md, NULL, EVP_sha256(), NULL);
    for (int i = 0; i < 32; i++)
        snprintf(mdhex + 2 * i, 3, "%02x", md[i]);
    snprintf(hdr, sizeof(hdr), "x-amz-content-sha256: %s", mdhex);
    CURL *c = curl_easy_init();
    struct curl_slist *h = curl_slist_append(NULL, hdr);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, "PUT");
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, bytes);
    curl_easy_setopt(c, CURLOPT_AWS_SIGV4, "aws:amz:us-east-1:s3");
    curl_easy_setopt(c, CURLOPT_USERPWD, user);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    assert_int_equal(curl_easy_perform(c), CURLE_OK);
    long status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    assert_int_equal(status, 200);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    floe_config_free(cfg);
}

static void
test_corrupt_object(void **state)
{
    (void)state;
    store_blob *bs = open_s3(NULL, 0);
    floe_err err = {0};
    char *src = path_in("src"), *dst = path_in("dst");
    write_random(src, 5000);
    store_blob_ref ref;
    assert_int_equal(store_blob_put_file(bs, src, &ref, &err), FLOE_OK);
    const char *hex = ref.uri + strlen(STORE_BLOB_URI_PREFIX "sha256/");
    overwrite_object(hex, "not what was stored");
    assert_int_equal(store_blob_get_file(bs, ref.uri, NULL, dst, &err), FLOE_EIO);
    assert_int_equal(err.cls, FLOE_ERR_SYSTEM);
    assert_non_null(strstr(err.msg, "corrupt"));
    assert_non_null(strstr(err.msg, hex));
    struct stat st;
    assert_int_equal(stat(dst, &st), -1);
    /* a put of the right bytes repairs it: the size differs, so it is sent again */
    assert_int_equal(store_blob_put_file(bs, src, &ref, &err), FLOE_OK);
    assert_int_equal(store_blob_get_file(bs, ref.uri, NULL, dst, &err), FLOE_OK);
    assert_true(same_files(src, dst));
    store_blob_free(bs);
}

static void
test_size_bound(void **state)
{
    (void)state;
    store_blob *big = open_s3(NULL, 0);
    static const char *const small_max[] = {"blob.max_bytes=4KiB"};
    store_blob *small = open_s3(small_max, 1);
    floe_err err = {0};
    char *src = path_in("src"), *dst = path_in("dst");
    write_random(src, 10000);
    store_blob_ref ref;
    assert_int_equal(store_blob_put_file(small, src, &ref, &err), FLOE_ETOOBIG);
    assert_int_equal(store_blob_put_file(big, src, &ref, &err), FLOE_OK);
    assert_int_equal(store_blob_get_file(small, ref.uri, NULL, dst, &err), FLOE_ETOOBIG);
    assert_non_null(strstr(err.msg, "blob limit"));
    struct stat st;
    assert_int_equal(stat(dst, &st), -1);
    store_blob_free(small);
    store_blob_free(big);
}

static void
test_unreachable(void **state)
{
    (void)state;
    static const char *const down[] = {"blob.s3.endpoint=http://127.0.0.1:1", "blob.s3.retries=2"};
    store_blob *bs = open_s3(down, 2);
    floe_err err = {0};
    char *src = path_in("src");
    write_random(src, 100);
    store_blob_ref ref;
    assert_int_equal(store_blob_put_file(bs, src, &ref, &err), FLOE_EIO);
    assert_int_equal(err.cls, FLOE_ERR_SYSTEM);
    assert_non_null(strstr(err.msg, "blob sha256:"));
    assert_non_null(strstr(err.msg, "after 3 attempts"));
    store_blob_free(bs);
}

/* A blob's transfer costs buffers, not its size: 96 MiB up in parts and back down grow
 * the peak RSS by far less than the blob. */
static void
test_memory_flat(void **state)
{
    (void)state;
#if defined(__SANITIZE_ADDRESS__)
    skip(); /* ASan's shadow and quarantine make RSS meaningless */
#else
    static const char *const parts[] = {"blob.s3.multipart_threshold=16MiB"};
    store_blob *bs = open_s3(parts, 1);
    floe_err err = {0};
    char *src = path_in("src"), *dst = path_in("dst");
    write_random(src, 96u << 20);
    struct rusage before, after;
    getrusage(RUSAGE_SELF, &before);
    store_blob_ref ref;
    if (store_blob_put_file(bs, src, &ref, &err) != FLOE_OK ||
        store_blob_get_file(bs, ref.uri, NULL, dst, &err) != FLOE_OK)
        fail_msg("96 MiB round trip: %s", err.msg);
    getrusage(RUSAGE_SELF, &after);
    long grown_kib = after.ru_maxrss - before.ru_maxrss;
    print_message("# 96 MiB put+get: peak RSS grew %ld KiB\n", grown_kib);
    assert_true(grown_kib < 24 * 1024);
    assert_true(same_files(src, dst));
    unlink(src);
    unlink(dst);
    store_blob_free(bs);
#endif
}

/* --- a stand-in S3 server that checks signatures ------------------------------------- */

enum fake_mode { FAKE_OK, FAKE_503_TWICE, FAKE_DROP_BODY };

typedef struct fake {
    int lfd, port;
    pthread_t th;
    enum fake_mode mode;
    atomic_int stop, requests, bad;
    char host[128], path[600], why[256];
} fake;

static const char *
header(char *head, const char *name)
{
    size_t n = strlen(name);
    for (char *l = strstr(head, "\r\n"); l != NULL; l = strstr(l + 2, "\r\n")) {
        if (strncasecmp(l + 2, name, n) == 0 && l[2 + n] == ':') {
            static __thread char v[1024];
            const char *s = l + 3 + n;
            while (*s == ' ')
                s++;
            size_t len = strcspn(s, "\r");
            snprintf(v, sizeof(v), "%.*s", (int)len, s);
            return v;
        }
    }
    return NULL;
}

static void
hmac(const unsigned char *key, size_t klen, const char *msg, unsigned char out[32])
{
    unsigned int n = 32;
    HMAC(EVP_sha256(), key, (int)klen, (const unsigned char *)msg, strlen(msg), out, &n);
}

static void
sha_hex(const void *d, size_t n, char out[65])
{
    unsigned char md[32];
    EVP_Digest(d, n, md, NULL, EVP_sha256(), NULL);
    for (int i = 0; i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", md[i]);
}

static int
cmp_str(const void *a, const void *b)
{
    return strcmp(a, b);
}

/* Recomputes the request's SigV4 signature (secret S3RVER... whatever the stack set, as
 * FLOE_BLOB_S3_SECRET_ACCESS_KEY) from the AWS algorithm; "" when it matches, else why. */
static const char *
check_sigv4(char *head, const char *method, const char *target, const char *body, size_t blen)
{
    static __thread char why[200];
    const char *auth = header(head, "authorization");
    if (auth == NULL)
        return "no Authorization header";
    char a[1024], date[32], payload[80], path[600], query[600] = "";
    snprintf(a, sizeof(a), "%s", auth);
    const char *dv = header(head, "x-amz-date");
    snprintf(date, sizeof(date), "%s", dv != NULL ? dv : "");
    const char *pv = header(head, "x-amz-content-sha256");
    snprintf(payload, sizeof(payload), "%s", pv != NULL ? pv : "");
    char body_hex[65];
    sha_hex(body, blen, body_hex);
    if (strcmp(payload, body_hex) != 0)
        return "x-amz-content-sha256 is not the body's digest";
    const char *q = strchr(target, '?');
    snprintf(path, sizeof(path), "%.*s", (int)(q != NULL ? q - target : (long)strlen(target)),
             target);
    if (q != NULL) { /* sorted pairs, each with '=' (S3's subresources have empty values) */
        char pairs[8][200];
        int n = 0;
        char copy[600];
        snprintf(copy, sizeof(copy), "%s", q + 1);
        for (char *sp, *t = strtok_r(copy, "&", &sp); t != NULL && n < 8;
             t = strtok_r(NULL, "&", &sp))
            snprintf(pairs[n++], 200, "%s%s", t, strchr(t, '=') != NULL ? "" : "=");
        qsort(pairs, (size_t)n, sizeof(pairs[0]), cmp_str);
        for (int i = 0; i < n; i++) {
            size_t ql = strlen(query), pl = strlen(pairs[i]);
            if (ql + pl + 2 >= sizeof(query))
                return "query too long";
            if (i > 0)
                query[ql++] = '&';
            memcpy(query + ql, pairs[i], pl + 1);
        }
    }
    char *sh = strstr(a, "SignedHeaders="), *sig = strstr(a, "Signature=");
    if (sh == NULL || sig == NULL)
        return "malformed Authorization";
    char signed_h[300];
    snprintf(signed_h, sizeof(signed_h), "%.*s", (int)strcspn(sh + 14, ","), sh + 14);
    char canon[4096];
    int off = snprintf(canon, sizeof(canon), "%s\n%s\n%s\n", method, path, query);
    char names[300];
    snprintf(names, sizeof(names), "%s", signed_h);
    for (char *sp, *t = strtok_r(names, ";", &sp); t != NULL; t = strtok_r(NULL, ";", &sp)) {
        const char *v = header(head, t);
        off += snprintf(canon + off, sizeof(canon) - (size_t)off, "%s:%s\n", t, v ? v : "");
    }
    snprintf(canon + off, sizeof(canon) - (size_t)off, "\n%s\n%s", signed_h, payload);
    char canon_hex[65], sts[512];
    sha_hex(canon, strlen(canon), canon_hex);
    snprintf(sts, sizeof(sts), "AWS4-HMAC-SHA256\n%s\n%.8s/us-east-1/s3/aws4_request\n%s", date,
             date, canon_hex);
    const char *secret = getenv("FLOE_BLOB_S3_SECRET_ACCESS_KEY");
    char k0[300], d8[9];
    unsigned char k[32];
    snprintf(k0, sizeof(k0), "AWS4%s", secret != NULL ? secret : "");
    snprintf(d8, sizeof(d8), "%.8s", date);
    hmac((unsigned char *)k0, strlen(k0), d8, k);
    hmac(k, 32, "us-east-1", k);
    hmac(k, 32, "s3", k);
    hmac(k, 32, "aws4_request", k);
    unsigned char s[32];
    char shex[65];
    hmac(k, 32, sts, s);
    for (int i = 0; i < 32; i++)
        snprintf(shex + 2 * i, 3, "%02x", s[i]);
    if (strncmp(sig + 10, shex, 64) != 0) {
        snprintf(why, sizeof(why), "signature mismatch on %s %s", method, target);
        return why;
    }
    return "";
}

static void
reply(int fd, const char *status, const char *extra, const char *body)
{
    char buf[1024];
    int n = snprintf(buf, sizeof(buf),
                     "HTTP/1.1 %s\r\nContent-Length: %zu\r\nConnection: close\r\n%s\r\n%s", status,
                     strlen(body), extra, body);
    (void)!write(fd, buf, (size_t)n);
}

static void
serve_one(fake *f, int fd)
{
    char head[16384];
    size_t got = 0;
    char *end = NULL;
    while (got < sizeof(head) - 1 && end == NULL) {
        ssize_t n = read(fd, head + got, sizeof(head) - 1 - got);
        if (n <= 0)
            return;
        got += (size_t)n;
        head[got] = '\0';
        end = strstr(head, "\r\n\r\n");
    }
    if (end == NULL)
        return;
    char method[16], target[600];
    if (sscanf(head, "%15s %599s", method, target) != 2)
        return;
    const char *cl = header(head, "content-length");
    size_t blen = cl != NULL ? (size_t)strtoull(cl, NULL, 10) : 0,
           have = got - (size_t)(end + 4 - head);
    char *body = malloc(blen + 1);
    memcpy(body, end + 4, have < blen ? have : blen);
    const char *expect = header(head, "expect");
    if (expect != NULL && strcasecmp(expect, "100-continue") == 0)
        (void)!write(fd, "HTTP/1.1 100 Continue\r\n\r\n", 25);
    if (f->mode == FAKE_DROP_BODY && blen > 0) {
        free(body); /* the server goes away with the upload half sent */
        return;
    }
    while (have < blen) {
        ssize_t n = read(fd, body + have, blen - have);
        if (n <= 0)
            break;
        have += (size_t)n;
    }
    *end = '\0';
    int nreq = ++f->requests;
    const char *host = header(head, "host");
    snprintf(f->host, sizeof(f->host), "%s", host != NULL ? host : "");
    snprintf(f->path, sizeof(f->path), "%s", target);
    const char *why = check_sigv4(head, method, target, body, have);
    if (why[0] != '\0') {
        f->bad++;
        snprintf(f->why, sizeof(f->why), "%s", why);
        reply(fd, "403 Forbidden", "", "<Error><Code>SignatureDoesNotMatch</Code></Error>");
    } else if (f->mode == FAKE_503_TWICE && nreq <= 2) {
        reply(fd, "503 Slow Down", "",
              "<Error><Code>SlowDown</Code><Message>Please reduce your request "
              "rate.</Message></Error>");
    } else if (strcmp(method, "HEAD") == 0) {
        reply(fd, "404 Not Found", "", "");
    } else {
        reply(fd, "200 OK", "ETag: \"0123abcd\"\r\n", "");
    }
    free(body);
}

static void *
fake_main(void *arg)
{
    fake *f = arg;
    while (!f->stop) {
        struct pollfd p = {f->lfd, POLLIN, 0};
        if (poll(&p, 1, 50) <= 0)
            continue;
        int fd = accept(f->lfd, NULL, NULL);
        if (fd == -1)
            continue;
        serve_one(f, fd);
        close(fd);
    }
    return NULL;
}

static void
fake_start(fake *f, enum fake_mode mode)
{
    memset(f, 0, sizeof(*f));
    f->mode = mode;
    f->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(sa);
    assert_int_equal(bind(f->lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(listen(f->lfd, 16), 0);
    getsockname(f->lfd, (struct sockaddr *)&sa, &len);
    f->port = ntohs(sa.sin_port);
    pthread_create(&f->th, NULL, fake_main, f);
}

static void
fake_stop(fake *f)
{
    f->stop = 1;
    pthread_join(f->th, NULL);
    close(f->lfd);
}

/* Every request signed as AWS computes it, in both addressings, with a key prefix; 503s
 * retried. */
static void
test_signed_and_retried(void **state)
{
    (void)state;
    fake f;
    fake_start(&f, FAKE_503_TWICE);
    char ep[64];
    snprintf(ep, sizeof(ep), "blob.s3.endpoint=http://localhost:%d", f.port);
    const char *path_style[] = {ep, "blob.s3.prefix=team/floe/"};
    store_blob *bs = open_s3(path_style, 2);
    floe_err err = {0};
    char *src = path_in("src");
    write_random(src, 3000);
    store_blob_ref ref;
    if (store_blob_put_file(bs, src, &ref, &err) != FLOE_OK)
        fail_msg("put through the stand-in: %s", err.msg);
    if (f.bad > 0)
        fail_msg("%s", f.why);
    assert_int_equal(f.requests, 4); /* 503, 503, HEAD 404, PUT */
    const char *hex = ref.uri + strlen(STORE_BLOB_URI_PREFIX "sha256/");
    char want[200];
    snprintf(want, sizeof(want), "/floe-blobs/team/floe/sha256/%s", hex);
    assert_string_equal(f.path, want);
    store_blob_free(bs);

    const char *virtual[] = {ep, "blob.s3.addressing=virtual"};
    bs = open_s3(virtual, 2);
    assert_int_equal(store_blob_put_file(bs, src, &ref, &err), FLOE_OK);
    if (f.bad > 0)
        fail_msg("%s", f.why);
    snprintf(want, sizeof(want), "floe-blobs.localhost:%d", f.port);
    assert_string_equal(f.host, want);
    snprintf(want, sizeof(want), "/sha256/%s", hex);
    assert_string_equal(f.path, want);
    store_blob_free(bs);
    fake_stop(&f);
}

/* The server drops every upload half-way: retried, then a SYSTEM error naming the blob. */
static void
test_dropped_mid_upload(void **state)
{
    (void)state;
    fake f;
    fake_start(&f, FAKE_DROP_BODY);
    char ep[64];
    snprintf(ep, sizeof(ep), "blob.s3.endpoint=http://127.0.0.1:%d", f.port);
    const char *o[] = {ep, "blob.s3.retries=2"};
    store_blob *bs = open_s3(o, 2);
    floe_err err = {0};
    char *src = path_in("src");
    write_random(src, 2u << 20);
    store_blob_ref ref;
    assert_int_equal(store_blob_put_file(bs, src, &ref, &err), FLOE_EIO);
    assert_int_equal(err.cls, FLOE_ERR_SYSTEM);
    assert_non_null(strstr(err.msg, "blob sha256:"));
    assert_non_null(strstr(err.msg, "S3 PUT failed after 3 attempts"));
    store_blob_free(bs);
    fake_stop(&f);
}

/* Staging (what a pod uploads before its digest is known): a presigned PUT taken by a
 * plain HTTP client with no credentials (curl, as a pod's helper does), fetched by the
 * worker into a file, bounded, deleted; a name that is not [A-Za-z0-9_-/] is refused and a
 * local store has no staging. */
static void
test_staging(void **state)
{
    (void)state;
    store_blob *bs = open_s3(NULL, 0);
    floe_err err = {0};
    char url[STORE_BLOB_URL_MAX], cmd[STORE_BLOB_URL_MAX + 512];
    char *src = path_in("staged-src"), *dst = path_in("staged-dst");
    write_random(src, 300000);
    assert_int_equal(store_blob_stage_url(bs, "PUT", "run-1/out", url, sizeof(url), &err), FLOE_OK);
    snprintf(cmd, sizeof(cmd), "curl -sf -T '%s' -H 'x-amz-content-sha256: UNSIGNED-PAYLOAD' '%s'",
             src, url);
    assert_int_equal(system(cmd), 0);
    if (store_blob_stage_fetch(bs, "run-1/out", dst, 1u << 20, &err) != FLOE_OK)
        fail_msg("fetch: %s", err.msg);
    assert_true(same_files(src, dst));
    dst = path_in("staged-dst");
    assert_int_equal(store_blob_stage_fetch(bs, "run-1/out", dst, 1000, &err), FLOE_ETOOBIG);
    assert_int_equal(access(dst, F_OK), -1); /* nothing half-written is left */
    assert_int_equal(store_blob_stage_delete(bs, "run-1/out", &err), FLOE_OK);
    assert_int_equal(store_blob_stage_fetch(bs, "run-1/out", dst, 1u << 20, &err), FLOE_ENOTFOUND);
    assert_int_equal(store_blob_stage_delete(bs, "run-1/out", &err), FLOE_OK); /* idempotent */
    assert_int_equal(store_blob_stage_url(bs, "PUT", "../x", url, sizeof(url), &err), FLOE_EINVAL);
    assert_int_equal(store_blob_stage_url(bs, "PUT", "a b", url, sizeof(url), &err), FLOE_EINVAL);
    store_blob_free(bs);
    store_blob *local = store_blob_open(dir, 1u << 20, &err);
    assert_non_null(local);
    assert_int_equal(store_blob_stage_url(local, "PUT", "run-1/out", url, sizeof(url), &err),
                     FLOE_ENOTSUP);
    store_blob_free(local);
}

int
main(void)
{
    if (mkdtemp(dir) == NULL)
        return 1;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_missing_and_malformed),
        cmocka_unit_test(test_corrupt_object),
        cmocka_unit_test(test_size_bound),
        cmocka_unit_test(test_unreachable),
        cmocka_unit_test(test_memory_flat),
        cmocka_unit_test(test_signed_and_retried),
        cmocka_unit_test(test_dropped_mid_upload),
        cmocka_unit_test(test_staging),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    (void)!system(cmd);
    curl_global_cleanup();
    return rc;
}
