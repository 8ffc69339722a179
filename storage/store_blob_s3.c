/*
 * store_blob_s3 — the blob store in a bucket of an S3-compatible service (AWS, MinIO, Ceph
 * RGW, GCS interop), over libcurl and its SigV4 signer:
 *
 *   <blob.s3.prefix>sha256/<64 hex>   the blobs, never modified once written
 *
 * A put hashes the file first (its key is its digest), asks whether the object is there
 * (HEAD; content addressing makes "same key, same size" the same blob, so it is not sent
 * again) and uploads it streamed from the file: one PUT, or above the multipart threshold
 * a multipart upload. Every request carries the SHA-256 of its payload in the signed
 * x-amz-content-sha256 header, so S3 itself refuses bytes changed on the way, and the
 * upload is hashed again as it is read, so a file changed after the first pass is refused
 * here too. A get streams into the destination file while hashing and refuses content
 * that does not match its name. No blob is ever held in memory.
 *
 * A request failing with 5xx, 429 or a broken connection is tried again with exponential
 * backoff (blob.s3.retries), then the transfer fails as a SYSTEM error naming the blob.
 * Credentials go to curl's signer only, never into a message or a log.
 */
#include "store_blob_s3_int.h"

#include "floe_mem.h"
#include "floe_text.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static void
curl_init_once(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* --- credentials --------------------------------------------------------------------- */

static void
secret_free(char *s)
{
    if (s != NULL) {
        OPENSSL_cleanse(s, strlen(s));
        floe_free(s);
    }
}

static char *
token_header(const char *token)
{
    static const char name[] = "x-amz-security-token: ";
    size_t n = strlen(token);
    char *h = floe_malloc(sizeof(name) + n);
    if (h != NULL) {
        memcpy(h, name, sizeof(name) - 1);
        memcpy(h + sizeof(name) - 1, token, n + 1);
    }
    return h;
}

/* Reads the keys of one profile of an AWS shared-credentials file. */
static floe_rc
creds_from_file(blob_s3 *s, const char *path, const char *profile, floe_err *err)
{
    FILE *f = fopen(path, "re");
    if (f == NULL)
        return floe_err_user(err, FLOE_EINVAL, "blob store s3: credentials file %s: %s", path,
                             strerror(errno));
    char line[4200];
    bool in = false;
    unsigned n = 0;
    floe_rc rc = FLOE_OK;
    while (rc == FLOE_OK && fgets(line, sizeof(line), f) != NULL && ++n <= 10000) {
        char *l = floe_text_trim(line);
        if (l[0] == '#' || l[0] == ';' || l[0] == '\0')
            continue;
        if (l[0] == '[') {
            char *end = strchr(l, ']');
            if (end != NULL)
                *end = '\0';
            char *name = floe_text_trim(l + 1);
            if (strncmp(name, "profile ", 8) == 0)
                name = floe_text_trim(name + 8);
            in = strcmp(name, profile) == 0;
            continue;
        }
        char *eq = strchr(l, '=');
        if (!in || eq == NULL)
            continue;
        *eq = '\0';
        char *k = floe_text_trim(l), *v = floe_text_trim(eq + 1);
        char **slot = strcmp(k, "aws_access_key_id") == 0       ? &s->access_key
                      : strcmp(k, "aws_secret_access_key") == 0 ? &s->secret_key
                                                                : NULL;
        if (slot != NULL) {
            secret_free(*slot);
            if ((*slot = floe_strdup(v)) == NULL)
                rc = floe_err_sys(err, FLOE_ENOMEM, "blob store s3: out of memory");
        } else if (strcmp(k, "aws_session_token") == 0) {
            secret_free(s->token_header);
            if ((s->token_header = token_header(v)) == NULL)
                rc = floe_err_sys(err, FLOE_ENOMEM, "blob store s3: out of memory");
        }
    }
    OPENSSL_cleanse(line, sizeof(line));
    fclose(f);
    if (rc == FLOE_OK && (s->access_key == NULL || s->secret_key == NULL))
        rc = floe_err_user(err, FLOE_EINVAL,
                           "blob store s3: credentials file %s has no aws_access_key_id and "
                           "aws_secret_access_key under [%s]",
                           path, profile);
    return rc;
}

static floe_rc
creds_load(blob_s3 *s, const floe_config *cfg, floe_err *err)
{
    if (cfg->blob_s3_access_key_id[0] != '\0' && cfg->blob_s3_secret_access_key[0] != '\0') {
        s->access_key = floe_strdup(cfg->blob_s3_access_key_id);
        s->secret_key = floe_strdup(cfg->blob_s3_secret_access_key);
        if (cfg->blob_s3_session_token[0] != '\0')
            s->token_header = token_header(cfg->blob_s3_session_token);
        if (s->access_key == NULL || s->secret_key == NULL ||
            (cfg->blob_s3_session_token[0] != '\0' && s->token_header == NULL))
            return floe_err_sys(err, FLOE_ENOMEM, "blob store s3: out of memory");
        return FLOE_OK;
    }
    if (cfg->blob_s3_credentials_file[0] != '\0')
        return creds_from_file(s, cfg->blob_s3_credentials_file, cfg->blob_s3_profile, err);
    return floe_err_user(err, FLOE_EINVAL,
                         "blob store s3: no credentials (blob.s3.access_key_id and "
                         "blob.s3.secret_access_key, AWS_ACCESS_KEY_ID and "
                         "AWS_SECRET_ACCESS_KEY, or blob.s3.credentials_file)");
}

/* --- the store ----------------------------------------------------------------------- */

static void s3_free(void *impl);

void *
store_blob_s3_new(const floe_config *cfg, floe_err *err)
{
    if (cfg->blob_s3_endpoint[0] == '\0' || cfg->blob_s3_bucket[0] == '\0') {
        floe_err_user(err, FLOE_EINVAL,
                      "blob store s3: blob.s3.endpoint and blob.s3.bucket must be set");
        return NULL;
    }
    pthread_once(&curl_once, curl_init_once);
    blob_s3 *s = floe_calloc(1, sizeof(*s));
    if (s == NULL) {
        floe_err_sys(err, FLOE_ENOMEM, "blob store s3: out of memory");
        return NULL;
    }
    pthread_mutex_init(&s->mu, NULL);
    /* The endpoint was checked by the settings table: http(s)://host[:port][/]. */
    const char *ep = cfg->blob_s3_endpoint;
    size_t scheme = strstr(ep, "://") - ep + 3;
    size_t host_len = strcspn(ep + scheme, "/");
    bool virt = cfg->blob_s3_addressing == FLOE_S3_VIRTUAL;
    int n = virt ? snprintf(s->host, sizeof(s->host), "%s.%.*s", cfg->blob_s3_bucket, (int)host_len,
                            ep + scheme)
                 : snprintf(s->host, sizeof(s->host), "%.*s", (int)host_len, ep + scheme);
    if (n > 0 && (size_t)n < sizeof(s->host))
        n = virt ? snprintf(s->path0, sizeof(s->path0), "/")
                 : snprintf(s->path0, sizeof(s->path0), "/%s/", cfg->blob_s3_bucket);
    if (n > 0 && (size_t)n < sizeof(s->path0))
        n = snprintf(s->base, sizeof(s->base), "%.*s%s%s", (int)scheme, ep, s->host, s->path0);
    if (n < 0 || (size_t)n >= sizeof(s->base) ||
        snprintf(s->prefix, sizeof(s->prefix), "%s", cfg->blob_s3_prefix) >=
            (int)sizeof(s->prefix) ||
        snprintf(s->sigv4, sizeof(s->sigv4), "aws:amz:%s:s3", cfg->blob_s3_region) >=
            (int)sizeof(s->sigv4)) {
        floe_err_user(err, FLOE_ETOOBIG, "blob store s3: endpoint, bucket or prefix too long");
        s3_free(s);
        return NULL;
    }
    snprintf(s->region, sizeof(s->region), "%s", cfg->blob_s3_region);
    s->presign_expires_s = (int)(cfg->blob_s3_presign_expires_ms / 1000);
    s->threshold = (uint64_t)cfg->blob_s3_multipart_threshold;
    s->part_size = (uint64_t)cfg->blob_s3_part_size;
    s->timeout_ms = (long)cfg->blob_s3_timeout_ms;
    s->retries = (int)cfg->blob_s3_retries;
    if (creds_load(s, cfg, err) != FLOE_OK) {
        s3_free(s);
        return NULL;
    }
    return s;
}

static void
s3_free(void *impl)
{
    blob_s3 *s = impl;
    s3_handles_free(s);
    secret_free(s->access_key);
    secret_free(s->secret_key);
    secret_free(s->token_header);
    pthread_mutex_destroy(&s->mu);
    floe_free(s);
}
/* --- put ----------------------------------------------------------------------------- */

/* The part size of a multipart upload of size bytes: the configured one, raised (to a
 * whole MiB) when the blob would need more parts than S3 allows. */
static uint64_t
part_size_for(const blob_s3 *s, uint64_t size)
{
    uint64_t p = s->part_size, min = (size + S3_MAX_PARTS - 1) / S3_MAX_PARTS;
    if (p < min)
        p = (min + (1u << 20) - 1) & ~(uint64_t)((1u << 20) - 1);
    return p;
}

/* First pass: the whole file's digest, and each part's when parts is not NULL. The file
 * must hold exactly size bytes. */
static floe_rc
hash_file(int fd, uint64_t size, uint64_t part, unsigned char (*parts)[32],
          char hex[FLOE_SHA256_HEX_LEN + 1], const char *path, floe_err *err)
{
    unsigned char *buf = floe_malloc(S3_IO_CHUNK);
    EVP_MD_CTX *all = EVP_MD_CTX_new(), *one = EVP_MD_CTX_new();
    floe_rc rc = FLOE_OK;
    uint64_t off = 0;
    if (buf == NULL || all == NULL || one == NULL) {
        rc = floe_err_sys(err, FLOE_ENOMEM, "blob upload: out of memory");
        goto out;
    }
    EVP_DigestInit_ex(all, EVP_sha256(), NULL);
    EVP_DigestInit_ex(one, EVP_sha256(), NULL);
    for (;;) {
        size_t want = S3_IO_CHUNK;
        if (parts != NULL && part - off % part < want)
            want = (size_t)(part - off % part); /* a read never straddles two parts */
        ssize_t n = pread(fd, buf, want, (off_t)off);
        if (n == -1 && errno == EINTR)
            continue;
        if (n == -1) {
            rc = floe_err_sys(err, FLOE_EIO, "blob upload: read %s: %s", path, strerror(errno));
            goto out;
        }
        if (n == 0)
            break;
        if (off + (uint64_t)n > size)
            break;
        EVP_DigestUpdate(all, buf, (size_t)n);
        if (parts != NULL) {
            EVP_DigestUpdate(one, buf, (size_t)n);
            if ((off + (uint64_t)n) % part == 0 || off + (uint64_t)n == size) {
                unsigned int len = 0;
                EVP_DigestFinal_ex(one, parts[off / part], &len);
                EVP_DigestInit_ex(one, EVP_sha256(), NULL);
            }
        }
        off += (uint64_t)n;
    }
    if (off != size) {
        rc = floe_err_user(err, FLOE_EINVAL, "blob upload: %s changed while being read", path);
        goto out;
    }
    s3_md_final_hex(all, hex);
out:
    EVP_MD_CTX_free(all);
    EVP_MD_CTX_free(one);
    floe_free(buf);
    return rc;
}

/* Sends bytes [off, off+len) of fd with the given digest, checked again as sent. */
static floe_rc
put_range(blob_s3 *s, s3_req *r, int fd, uint64_t off, uint64_t len, const char *digest_hex,
          const char *what, floe_err *err)
{
    r->in_fd = fd;
    r->in_off = off;
    r->in_len = len;
    memcpy(r->payload, digest_hex, sizeof(r->payload));
    if ((r->in_md = EVP_MD_CTX_new()) == NULL)
        return floe_err_sys(err, FLOE_ENOMEM, "%s: out of memory", what);
    floe_rc rc = s3_do(s, r, what, err);
    char sent[FLOE_SHA256_HEX_LEN + 1];
    if (rc == FLOE_OK) {
        s3_md_final_hex(r->in_md, sent);
        if (strcmp(sent, digest_hex) != 0)
            rc = floe_err_user(err, FLOE_EINVAL, "%s: the file changed while being uploaded", what);
    } else if (rc == FLOE_ENOTFOUND) {
        rc = floe_err_sys(err, FLOE_EIO, "%s: S3 PUT answered 404 (does the bucket exist?)", what);
    }
    EVP_MD_CTX_free(r->in_md);
    r->in_md = NULL;
    return rc;
}

static floe_rc
multipart(blob_s3 *s, int fd, uint64_t size, uint64_t part, unsigned char (*parts)[32],
          const char *hex, const char *what, floe_err *err)
{
    size_t nparts = (size_t)((size + part - 1) / part);
    s3_req *r = floe_malloc(sizeof(*r));
    char(*etags)[S3_ETAG_MAX] = floe_calloc(nparts, S3_ETAG_MAX);
    char id[1024], qid[3 * sizeof(id)], query[3 * sizeof(id) + 64];
    char *doc = NULL;
    floe_rc rc;
    bool started = false;
    if (r == NULL || etags == NULL) {
        rc = floe_err_sys(err, FLOE_ENOMEM, "%s: out of memory", what);
        goto out;
    }
    s3_req_init(r, "POST");
    r->body = "";
    if ((rc = s3_req_url(s, r, hex, "uploads=", err)) != FLOE_OK ||
        (rc = s3_do(s, r, what, err)) != FLOE_OK)
        goto out;
    s3_xml_text(r->resp, "UploadId", id, sizeof(id));
    if (id[0] == '\0' || !s3_uri_encode(id, false, qid, sizeof(qid))) {
        rc = floe_err_sys(err, FLOE_EIO, "%s: S3 did not start a multipart upload", what);
        goto out;
    }
    started = true;
    for (size_t i = 0; i < nparts; i++) {
        char part_hex[FLOE_SHA256_HEX_LEN + 1];
        uint64_t off = (uint64_t)i * part, len = size - off < part ? size - off : part;
        s3_hex_of(parts[i], part_hex);
        s3_req_init(r, "PUT");
        snprintf(query, sizeof(query), "partNumber=%zu&uploadId=%s", i + 1, qid);
        if ((rc = s3_req_url(s, r, hex, query, err)) != FLOE_OK ||
            (rc = put_range(s, r, fd, off, len, part_hex, what, err)) != FLOE_OK)
            goto out;
        if (r->etag[0] == '\0' || strspn(r->etag, "\"0123456789abcdefABCDEF-") != strlen(r->etag)) {
            rc = floe_err_sys(err, FLOE_EIO, "%s: S3 answered part %zu without a usable ETag", what,
                              i + 1);
            goto out;
        }
        memcpy(etags[i], r->etag, S3_ETAG_MAX);
    }
    size_t cap = 64 + nparts * (S3_ETAG_MAX + 64), n = 0;
    if ((doc = floe_malloc(cap)) == NULL) {
        rc = floe_err_sys(err, FLOE_ENOMEM, "%s: out of memory", what);
        goto out;
    }
    n += (size_t)snprintf(doc + n, cap - n, "<CompleteMultipartUpload>");
    for (size_t i = 0; i < nparts; i++)
        n += (size_t)snprintf(doc + n, cap - n,
                              "<Part><PartNumber>%zu</PartNumber><ETag>%s</ETag></Part>", i + 1,
                              etags[i]);
    n += (size_t)snprintf(doc + n, cap - n, "</CompleteMultipartUpload>");
    s3_req_init(r, "POST");
    r->body = doc;
    r->in_len = n;
    unsigned char md[32];
    EVP_Digest(doc, n, md, NULL, EVP_sha256(), NULL);
    s3_hex_of(md, r->payload);
    snprintf(query, sizeof(query), "uploadId=%s", qid);
    if ((rc = s3_req_url(s, r, hex, query, err)) != FLOE_OK ||
        (rc = s3_do(s, r, what, err)) != FLOE_OK)
        goto out;
    /* S3 may answer 200 and still fail the completion, in the body */
    if (strstr(r->resp, "<Error>") != NULL) {
        char code[64];
        s3_xml_text(r->resp, "Code", code, sizeof(code));
        rc = floe_err_sys(err, FLOE_EIO, "%s: S3 refused to complete the upload: %s", what, code);
        goto out;
    }
    started = false;
out:
    if (rc == FLOE_ENOTFOUND)
        rc = floe_err_sys(err, FLOE_EIO, "%s: S3 answered 404 (does the bucket exist?)", what);
    if (started && r != NULL) { /* leave no parts behind to be paid for */
        floe_err ignored = {0};
        s3_req_init(r, "DELETE");
        snprintf(query, sizeof(query), "uploadId=%s", qid);
        if (s3_req_url(s, r, hex, query, &ignored) == FLOE_OK)
            (void)s3_do(s, r, what, &ignored);
    }
    floe_free(doc);
    floe_free(etags);
    floe_free(r);
    return rc;
}

static floe_rc
s3_put(void *impl, const char *path, uint64_t max, store_blob_ref *ref, floe_err *err)
{
    blob_s3 *s = impl;
    char hex[FLOE_SHA256_HEX_LEN + 1], what[96];
    unsigned char(*parts)[32] = NULL;
    s3_req *r = NULL;
    floe_rc rc;
    /* O_NONBLOCK: a FIFO a task left in its place must not block the open (review H6). */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
    if (fd == -1)
        return floe_err_user(err, errno == ENOENT ? FLOE_ENOTFOUND : FLOE_EIO,
                             "blob upload: open %s: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
        close(fd);
        return floe_err_user(err, FLOE_EINVAL, "blob upload: %s is not a regular file", path);
    }
    uint64_t size = (uint64_t)st.st_size, part = part_size_for(s, size);
    if (size > max) {
        close(fd);
        return floe_err_user(err, FLOE_ETOOBIG,
                             "blob upload: %s is larger than the blob limit "
                             "of %llu bytes",
                             path, (unsigned long long)max);
    }
    bool multi = size > s->threshold;
    if (multi && (parts = floe_malloc((size_t)((size + part - 1) / part) * 32)) == NULL) {
        rc = floe_err_sys(err, FLOE_ENOMEM, "blob upload: out of memory");
        goto out;
    }
    if ((rc = hash_file(fd, size, part, parts, hex, path, err)) != FLOE_OK)
        goto out;
    snprintf(what, sizeof(what), "blob sha256:%s", hex);
    if ((r = floe_malloc(sizeof(*r))) == NULL) {
        rc = floe_err_sys(err, FLOE_ENOMEM, "blob upload: out of memory");
        goto out;
    }
    s3_req_init(r, "HEAD");
    if ((rc = s3_req_url(s, r, hex, NULL, err)) != FLOE_OK)
        goto out;
    rc = s3_do(s, r, what, err);
    if (rc == FLOE_OK && r->length == (curl_off_t)size)
        goto done; /* already there: same name and size, so the same content */
    if (rc != FLOE_OK && rc != FLOE_ENOTFOUND)
        goto out;
    if (multi) {
        rc = multipart(s, fd, size, part, parts, hex, what, err);
    } else {
        s3_req_init(r, "PUT");
        if ((rc = s3_req_url(s, r, hex, NULL, err)) == FLOE_OK)
            rc = put_range(s, r, fd, 0, size, hex, what, err);
    }
    if (rc != FLOE_OK)
        goto out;
done:
    snprintf(ref->uri, sizeof(ref->uri), STORE_BLOB_URI_PREFIX "sha256/%s", hex);
    snprintf(ref->digest, sizeof(ref->digest), "sha256:%s", hex);
    ref->size = size;
    rc = FLOE_OK;
out:
    floe_free(r);
    floe_free(parts);
    close(fd);
    return rc;
}

/* --- get ----------------------------------------------------------------------------- */

static floe_rc
s3_get(void *impl, const char *hex, const char *dest, uint64_t max, floe_err *err)
{
    blob_s3 *s = impl;
    char what[96], got[FLOE_SHA256_HEX_LEN + 1];
    snprintf(what, sizeof(what), "blob sha256:%s", hex);
    s3_req *r = floe_malloc(sizeof(*r));
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    floe_rc rc;
    int fd = -1;
    if (r == NULL || md == NULL) {
        rc = floe_err_sys(err, FLOE_ENOMEM, "blob fetch: out of memory");
        goto out;
    }
    if ((fd = open(dest, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644)) == -1) {
        rc = floe_err_sys(err, FLOE_EIO, "blob fetch: create %s: %s", dest, strerror(errno));
        goto out;
    }
    s3_req_init(r, "GET");
    r->out_fd = fd;
    r->out_md = md;
    r->out_max = max;
    if ((rc = s3_req_url(s, r, hex, NULL, err)) != FLOE_OK)
        goto out;
    rc = s3_do(s, r, what, err);
    if (rc == FLOE_ENOTFOUND) {
        rc = floe_err_user(err, FLOE_ENOTFOUND,
                           "blob " STORE_BLOB_URI_PREFIX "sha256/%s: not in the store", hex);
        goto out;
    }
    if (rc != FLOE_OK)
        goto out;
    s3_md_final_hex(md, got);
    if (strcmp(got, hex) != 0)
        rc = floe_err_sys(err, FLOE_EIO, "%s is corrupt in the S3 bucket (content digest %.16s...)",
                          what, got);
out:
    if (fd != -1 && close(fd) == -1 && rc == FLOE_OK)
        rc = floe_err_sys(err, FLOE_EIO, "blob fetch: close %s: %s", dest, strerror(errno));
    if (rc != FLOE_OK && fd != -1)
        unlink(dest);
    EVP_MD_CTX_free(md);
    floe_free(r);
    return rc;
}

static floe_rc
s3_stat(void *impl, const char *hex, uint64_t *size, floe_err *err)
{
    blob_s3 *s = impl;
    char what[96];
    snprintf(what, sizeof(what), "blob sha256:%s", hex);
    s3_req *r = floe_malloc(sizeof(*r));
    if (r == NULL)
        return floe_err_sys(err, FLOE_ENOMEM, "blob stat: out of memory");
    s3_req_init(r, "HEAD");
    floe_rc rc = s3_req_url(s, r, hex, NULL, err);
    if (rc == FLOE_OK)
        rc = s3_do(s, r, what, err);
    if (rc == FLOE_OK)
        *size = r->length >= 0 ? (uint64_t)r->length : 0;
    else if (rc == FLOE_ENOTFOUND)
        floe_err_user(err, FLOE_ENOTFOUND,
                      "blob " STORE_BLOB_URI_PREFIX "sha256/%s: not in the store", hex);
    floe_free(r);
    return rc;
}

const store_blob_ops store_blob_s3_ops = {
    .name = "s3",
    .put_file = s3_put,
    .get_file = s3_get,
    .stat = s3_stat,
    .presign = store_blob_s3_presign,
    .presign_stage = store_blob_s3_presign_stage,
    .free = s3_free,
};
