/*
 * store_blob_s3_presign — presigned urls (SigV4 query-string authentication), computed
 * here over OpenSSL because curl signs requests it sends, not urls for others to send. A
 * presigned url lets its holder GET a blob, or PUT it, with no credentials of its own for
 * blob.s3.presign_expires: floectl fetching and storing through the API, a pod moving its
 * inputs and outputs. A PUT url also signs the x-amz-content-sha256 header with the blob's
 * digest, so the holder can write exactly the bytes the key names and nothing else.
 * Checked against AWS's published example (tests/unit/test_blob_presign.c).
 */
#include "store_blob_s3_int.h"

#include <openssl/hmac.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static void
hmac(const unsigned char *key, size_t klen, const char *msg, unsigned char out[32])
{
    unsigned int n = 32;
    HMAC(EVP_sha256(), key, (int)klen, (const unsigned char *)msg, strlen(msg), out, &n);
}

bool
s3_uri_encode(const char *in, bool keep_slash, char *out, size_t size)
{
    size_t o = 0;
    for (const unsigned char *p = (const unsigned char *)in; *p != '\0'; p++) {
        bool plain = (*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
                     (*p >= '0' && *p <= '9') || *p == '-' || *p == '_' || *p == '.' || *p == '~' ||
                     (keep_slash && *p == '/');
        if (o + 4 >= size)
            return false;
        if (plain)
            out[o++] = (char)*p;
        else
            o += (size_t)snprintf(out + o, size - o, "%%%02X", *p);
    }
    out[o] = '\0';
    return true;
}

floe_rc
s3_presign_key(blob_s3 *s, const char *method, const char *key, const char *payload_hex,
               int64_t now, int expires_s, char *out, size_t size, floe_err *err)
{
    char date[17], day[9], path[700], cred[400], token[4200] = "", query[5200], canon[8192];
    char canon_hex[FLOE_SHA256_HEX_LEN + 1], sts[512], sig_hex[FLOE_SHA256_HEX_LEN + 1];
    time_t t = (time_t)now;
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(date, sizeof(date), "%Y%m%dT%H%M%SZ", &tm);
    memcpy(day, date, 8);
    day[8] = '\0';
    char raw_path[700], scope[200], raw_cred[600];
    snprintf(scope, sizeof(scope), "%s/%s/s3/aws4_request", day, s->region);
    snprintf(raw_cred, sizeof(raw_cred), "%s/%s", s->access_key, scope);
    if (snprintf(raw_path, sizeof(raw_path), "%s%s", s->path0, key) >= (int)sizeof(raw_path) ||
        !s3_uri_encode(raw_path, true, path, sizeof(path)) ||
        !s3_uri_encode(raw_cred, false, cred, sizeof(cred)))
        return floe_err_sys(err, FLOE_ETOOBIG, "presign: the url would be too long");
    if (s->token_header != NULL) {
        char enc[4100];
        const char *tok = s->token_header + strlen("x-amz-security-token: ");
        if (!s3_uri_encode(tok, false, enc, sizeof(enc)))
            return floe_err_sys(err, FLOE_ETOOBIG, "presign: the session token is too long");
        snprintf(token, sizeof(token), "&X-Amz-Security-Token=%s", enc);
    }
    /* the parameters in SigV4's order (sorted by name) */
    int n = snprintf(query, sizeof(query),
                     "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=%s&X-Amz-Date=%s"
                     "&X-Amz-Expires=%d%s&X-Amz-SignedHeaders=%s",
                     cred, date, expires_s, token,
                     payload_hex != NULL ? "host%3Bx-amz-content-sha256" : "host");
    if (n < 0 || (size_t)n >= sizeof(query))
        return floe_err_sys(err, FLOE_ETOOBIG, "presign: the url would be too long");
    char headers[600];
    if (payload_hex != NULL)
        snprintf(headers, sizeof(headers), "host:%s\nx-amz-content-sha256:%s\n", s->host,
                 payload_hex);
    else
        snprintf(headers, sizeof(headers), "host:%s\n", s->host);
    n = snprintf(canon, sizeof(canon), "%s\n%s\n%s\n%s\n%s\nUNSIGNED-PAYLOAD", method, path, query,
                 headers, payload_hex != NULL ? "host;x-amz-content-sha256" : "host");
    if (n < 0 || (size_t)n >= sizeof(canon))
        return floe_err_sys(err, FLOE_ETOOBIG, "presign: the request would be too long");
    unsigned char md[32], k[32];
    EVP_Digest(canon, (size_t)n, md, NULL, EVP_sha256(), NULL);
    s3_hex_of(md, canon_hex);
    snprintf(sts, sizeof(sts), "AWS4-HMAC-SHA256\n%s\n%s\n%s", date, scope, canon_hex);
    char k0[300];
    int kl = snprintf(k0, sizeof(k0), "AWS4%s", s->secret_key);
    if (kl < 0 || (size_t)kl >= sizeof(k0))
        return floe_err_sys(err, FLOE_ETOOBIG, "presign: the secret key is too long");
    hmac((const unsigned char *)k0, (size_t)kl, day, k);
    OPENSSL_cleanse(k0, sizeof(k0));
    hmac(k, 32, s->region, k);
    hmac(k, 32, "s3", k);
    hmac(k, 32, "aws4_request", k);
    hmac(k, 32, sts, md);
    OPENSSL_cleanse(k, sizeof(k));
    s3_hex_of(md, sig_hex);
    const char *scheme_end = strstr(s->base, "://");
    n = snprintf(out, size, "%.*s%s%s?%s&X-Amz-Signature=%s", (int)(scheme_end - s->base + 3),
                 s->base, s->host, path, query, sig_hex);
    if (n < 0 || (size_t)n >= size)
        return floe_err_sys(err, FLOE_ETOOBIG, "presign: the url does not fit");
    return FLOE_OK;
}

floe_rc
store_blob_s3_presign_stage(void *impl, const char *method, const char *name,
                            const char *payload_hex, int64_t now, char *out, size_t size,
                            floe_err *err)
{
    blob_s3 *s = impl;
    char key[300];
    snprintf(key, sizeof(key), "%sstaging/%s", s->prefix, name);
    return s3_presign_key(s, method, key, payload_hex, now, s->presign_expires_s, out, size, err);
}

floe_rc
store_blob_s3_presign(void *impl, const char *method, const char *hex, const char *payload_hex,
                      int64_t now, char *out, size_t size, floe_err *err)
{
    blob_s3 *s = impl;
    char key[300];
    snprintf(key, sizeof(key), "%ssha256/%s", s->prefix, hex);
    return s3_presign_key(s, method, key, payload_hex, now, s->presign_expires_s, out, size, err);
}
