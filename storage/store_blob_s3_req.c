/*
 * store_blob_s3_req — one request to an S3-compatible service: signed by curl (SigV4, the
 * payload's SHA-256 in x-amz-content-sha256), the body streamed from a file range or
 * memory, the answer streamed into a file (hashed, bounded) or kept when small, tried
 * again with exponential backoff and jitter after 5xx, 429 and broken connections.
 * Easy handles are kept for reuse, and with them their connections.
 */
#include "store_blob_s3_int.h"

#include "floe_text.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

void
s3_hex_of(const unsigned char *md, char out[FLOE_SHA256_HEX_LEN + 1])
{
    floe_sha256_hex_of(md, out);
}

void
s3_md_final_hex(EVP_MD_CTX *md, char out[FLOE_SHA256_HEX_LEN + 1])
{
    unsigned char v[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    EVP_DigestFinal_ex(md, v, &n);
    s3_hex_of(v, out);
}

static CURL *
handle_get(blob_s3 *s)
{
    CURL *c = NULL;
    pthread_mutex_lock(&s->mu);
    if (s->n_idle > 0)
        c = s->idle[--s->n_idle];
    pthread_mutex_unlock(&s->mu);
    return c != NULL ? c : curl_easy_init();
}

/* Kept with its connection for the next request, or closed when enough are kept. */
static void
handle_put(blob_s3 *s, CURL *c)
{
    pthread_mutex_lock(&s->mu);
    if (s->n_idle < S3_IDLE_MAX) {
        s->idle[s->n_idle++] = c;
        c = NULL;
    }
    pthread_mutex_unlock(&s->mu);
    if (c != NULL)
        curl_easy_cleanup(c);
}

/* --- one request --------------------------------------------------------------------- */

static size_t
on_read(char *buf, size_t size, size_t nitems, void *ud)
{
    s3_req *r = ud;
    uint64_t left = r->in_len - r->in_pos;
    size_t want = size * nitems < left ? size * nitems : (size_t)left;
    if (want == 0)
        return 0;
    if (r->body != NULL) {
        memcpy(buf, r->body + r->in_pos, want);
    } else {
        ssize_t n;
        do
            n = pread(r->in_fd, buf, want, (off_t)(r->in_off + r->in_pos));
        while (n == -1 && errno == EINTR);
        if (n <= 0) {
            r->read_failed = true;
            return CURL_READFUNC_ABORT;
        }
        want = (size_t)n;
    }
    if (r->in_md != NULL)
        EVP_DigestUpdate(r->in_md, buf, want);
    r->in_pos += want;
    return want;
}

/* curl rewinds the body when it must send it again (a redirect, a connection reused and
 * found dead); only a rewind to the start is asked for, and the rehash starts over. */
static int
on_seek(void *ud, curl_off_t off, int origin)
{
    s3_req *r = ud;
    if (origin != SEEK_SET || off != 0)
        return CURL_SEEKFUNC_CANTSEEK;
    r->in_pos = 0;
    if (r->in_md != NULL)
        EVP_DigestInit_ex(r->in_md, EVP_sha256(), NULL);
    return CURL_SEEKFUNC_OK;
}

static size_t
on_write(char *data, size_t size, size_t nmemb, void *ud)
{
    s3_req *r = ud;
    size_t n = size * nmemb;
    long status = 0;
    curl_easy_getinfo(r->curl, CURLINFO_RESPONSE_CODE, &status);
    if (r->out_fd != -1 && status >= 200 && status < 300) {
        if (r->out_got + n > r->out_max) {
            r->out_too_big = true;
            return 0;
        }
        r->out_got += n;
        EVP_DigestUpdate(r->out_md, data, n);
        for (size_t off = 0; off < n;) {
            ssize_t w = write(r->out_fd, data + off, n - off);
            if (w == -1 && errno == EINTR)
                continue;
            if (w == -1)
                return 0;
            off += (size_t)w;
        }
        return n;
    }
    size_t room = sizeof(r->resp) - 1 - r->resp_len;
    size_t take = n < room ? n : room;
    memcpy(r->resp + r->resp_len, data, take);
    r->resp_len += take;
    r->resp[r->resp_len] = '\0';
    return n;
}

static size_t
on_header(char *data, size_t size, size_t nitems, void *ud)
{
    s3_req *r = ud;
    size_t n = size * nitems;
    if (n > 5 && strncasecmp(data, "etag:", 5) == 0) {
        size_t start = 5, end = n;
        while (start < end && (data[start] == ' ' || data[start] == '\t'))
            start++;
        while (end > start &&
               (data[end - 1] == '\r' || data[end - 1] == '\n' || data[end - 1] == ' '))
            end--;
        if (end - start < sizeof(r->etag)) {
            memcpy(r->etag, data + start, end - start);
            r->etag[end - start] = '\0';
        }
    }
    return n;
}

/* The text between <tag> and </tag> of an S3 XML answer, at most size - 1 bytes; "" when
 * absent. */
void
s3_xml_text(const char *xml, const char *tag, char *out, size_t size)
{
    char open[48], close[48];
    snprintf(open, sizeof(open), "<%s>", tag);
    snprintf(close, sizeof(close), "</%s>", tag);
    const char *a = strstr(xml, open), *b = a != NULL ? strstr(a, close) : NULL;
    out[0] = '\0';
    if (b == NULL)
        return;
    a += strlen(open);
    floe_text_copy(out, size, a, (size_t)(b - a));
}

static CURLcode
perform_once(blob_s3 *s, CURL *c, s3_req *r, char *errbuf)
{
    char payload_hdr[96];
    struct curl_slist *h = NULL, *t;
    snprintf(payload_hdr, sizeof(payload_hdr), "x-amz-content-sha256: %s", r->payload);
    h = curl_slist_append(h, payload_hdr);
    if (h != NULL && s->token_header != NULL && (t = curl_slist_append(h, s->token_header)) != NULL)
        h = t;
    if (h != NULL && r->body != NULL && (t = curl_slist_append(h, "Content-Type: application/xml")))
        h = t;
    if (h == NULL)
        return CURLE_OUT_OF_MEMORY;
    curl_easy_reset(c);
    errbuf[0] = '\0';
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(c, CURLOPT_URL, r->url);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, s->timeout_ms);
    /* no deadline for a whole transfer (a blob may be large), but one without progress
     * for blob.s3.timeout is given up */
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, (s->timeout_ms + 999) / 1000);
    curl_easy_setopt(c, CURLOPT_AWS_SIGV4, s->sigv4);
    curl_easy_setopt(c, CURLOPT_USERNAME, s->access_key);
    curl_easy_setopt(c, CURLOPT_PASSWORD, s->secret_key);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_write);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, r);
    if (strcmp(r->method, "HEAD") == 0) {
        curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    } else if (strcmp(r->method, "PUT") == 0) {
        curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
        curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE, (curl_off_t)r->in_len);
    } else if (strcmp(r->method, "POST") == 0) {
        curl_easy_setopt(c, CURLOPT_POST, 1L);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)r->in_len);
    } else if (strcmp(r->method, "DELETE") == 0) {
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, "DELETE");
    }
    if (strcmp(r->method, "PUT") == 0 || strcmp(r->method, "POST") == 0) {
        curl_easy_setopt(c, CURLOPT_READFUNCTION, on_read);
        curl_easy_setopt(c, CURLOPT_READDATA, r);
        curl_easy_setopt(c, CURLOPT_SEEKFUNCTION, on_seek);
        curl_easy_setopt(c, CURLOPT_SEEKDATA, r);
    }
    CURLcode cc = curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
    if (curl_easy_getinfo(c, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &r->length) != CURLE_OK)
        r->length = -1;
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, NULL);
    curl_slist_free_all(h);
    return cc;
}

floe_rc
s3_do(blob_s3 *s, s3_req *r, const char *what, floe_err *err)
{
    CURL *c = handle_get(s);
    char errbuf[CURL_ERROR_SIZE];
    if (c == NULL)
        return floe_err_sys(err, FLOE_ENOMEM, "%s: S3 %s: out of memory", what, r->method);
    r->curl = c;
    floe_rc rc = FLOE_OK;
    for (int attempt = 0;; attempt++) {
        r->in_pos = r->out_got = r->resp_len = 0;
        r->resp[0] = r->etag[0] = '\0';
        r->out_too_big = r->read_failed = false;
        if (r->in_md != NULL)
            EVP_DigestInit_ex(r->in_md, EVP_sha256(), NULL);
        if (r->out_fd != -1) {
            EVP_DigestInit_ex(r->out_md, EVP_sha256(), NULL);
            if (ftruncate(r->out_fd, 0) == -1 || lseek(r->out_fd, 0, SEEK_SET) == -1) {
                rc = floe_err_sys(err, FLOE_EIO, "%s: rewinding the download: %s", what,
                                  strerror(errno));
                break;
            }
        }
        CURLcode cc = perform_once(s, c, r, errbuf);
        if (cc == CURLE_OK && r->status >= 200 && r->status < 300)
            break;
        if (cc == CURLE_OK && r->status == 404) {
            rc = FLOE_ENOTFOUND;
            break;
        }
        if (r->out_too_big) {
            rc = floe_err_user(err, FLOE_ETOOBIG, "%s: larger than the blob limit of %llu bytes",
                               what, (unsigned long long)r->out_max);
            break;
        }
        if (r->read_failed) {
            rc = floe_err_sys(err, FLOE_EIO, "%s: reading the file to upload failed", what);
            break;
        }
        char why[200], code[64], msg[120];
        bool retry;
        if (cc != CURLE_OK) {
            floe_text_fmt(why, sizeof(why), "%s",
                          errbuf[0] != '\0' ? errbuf : curl_easy_strerror(cc));
            retry = cc != CURLE_OUT_OF_MEMORY && cc != CURLE_URL_MALFORMAT &&
                    cc != CURLE_UNSUPPORTED_PROTOCOL && cc != CURLE_WRITE_ERROR;
        } else {
            s3_xml_text(r->resp, "Code", code, sizeof(code));
            s3_xml_text(r->resp, "Message", msg, sizeof(msg));
            floe_text_fmt(why, sizeof(why), "HTTP %ld%s%s%s%s", r->status, code[0] ? " " : "", code,
                          msg[0] ? ": " : "", msg);
            retry = r->status >= 500 || r->status == 429 || r->status == 408;
        }
        if (!retry || attempt >= s->retries) {
            if (attempt > 0)
                rc = floe_err_sys(err, FLOE_EIO, "%s: S3 %s failed after %d attempts: %s", what,
                                  r->method, attempt + 1, why);
            else
                rc = floe_err_sys(err, FLOE_EIO, "%s: S3 %s failed: %s", what, r->method, why);
            break;
        }
        long delay = S3_BACKOFF_MS << (attempt < 5 ? attempt : 5);
        if (delay > S3_BACKOFF_MAX_MS)
            delay = S3_BACKOFF_MAX_MS;
        delay += rand() % (delay / 2 + 1); /* jitter: workers retrying together spread out */
        struct timespec ts = {delay / 1000, (delay % 1000) * 1000000L};
        while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
            ;
    }
    handle_put(s, c);
    return rc;
}

void
s3_req_init(s3_req *r, const char *method)
{
    memset(r, 0, sizeof(*r));
    r->method = method;
    r->in_fd = r->out_fd = -1;
    memcpy(r->payload, S3_EMPTY_SHA256, sizeof(r->payload));
}

floe_rc
s3_req_url(blob_s3 *s, s3_req *r, const char *hex, const char *query, floe_err *err)
{
    int n = snprintf(r->url, sizeof(r->url), "%s%ssha256/%s%s%s", s->base, s->prefix, hex,
                     query != NULL ? "?" : "", query != NULL ? query : "");
    if (n < 0 || (size_t)n >= sizeof(r->url))
        return floe_err_sys(err, FLOE_ETOOBIG, "blob sha256:%s: S3 url too long", hex);
    return FLOE_OK;
}

void
s3_handles_free(blob_s3 *s)
{
    for (int i = 0; i < s->n_idle; i++)
        curl_easy_cleanup(s->idle[i]);
    s->n_idle = 0;
}
