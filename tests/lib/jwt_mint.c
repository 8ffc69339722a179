/* A test identity provider over OpenSSL: see jwt_mint.h. */
#include "jwt_mint.h"

#include <openssl/core_names.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct jwt_key {
    EVP_PKEY *pkey;
    char kid[64];
    int ec;
};

static char *
b64url(const uint8_t *in, size_t n)
{
    static const char abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    char *out = malloc(n * 4 / 3 + 4);
    size_t o = 0;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < n; i++) {
        acc = (acc << 8) | in[i];
        bits += 8;
        while (bits >= 6) {
            bits -= 6;
            out[o++] = abc[(acc >> bits) & 63];
        }
    }
    if (bits > 0)
        out[o++] = abc[(acc << (6 - bits)) & 63];
    out[o] = '\0';
    return out;
}

jwt_key *
jwt_key_new(const char *type, const char *kid, int bits)
{
    jwt_key *k = calloc(1, sizeof(*k));
    k->ec = strcmp(type, "EC") == 0;
    k->pkey = k->ec ? EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256")
                    : EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)(bits > 0 ? bits : 2048));
    snprintf(k->kid, sizeof(k->kid), "%s", kid != NULL ? kid : "");
    if (k->pkey == NULL) {
        free(k);
        return NULL;
    }
    return k;
}

void
jwt_key_free(jwt_key *k)
{
    if (k == NULL)
        return;
    EVP_PKEY_free(k->pkey);
    free(k);
}

static json_t *
bn_member(const EVP_PKEY *pkey, const char *param)
{
    BIGNUM *bn = NULL;
    EVP_PKEY_get_bn_param(pkey, param, &bn);
    uint8_t buf[1024];
    int n = BN_bn2bin(bn, buf);
    BN_free(bn);
    char *s = b64url(buf, (size_t)n);
    json_t *j = json_string(s);
    free(s);
    return j;
}

json_t *
jwt_key_jwk(const jwt_key *k)
{
    json_t *j = json_object();
    if (k->kid[0] != '\0')
        json_object_set_new(j, "kid", json_string(k->kid));
    json_object_set_new(j, "use", json_string("sig"));
    if (k->ec) {
        uint8_t pub[65];
        size_t len = 0;
        EVP_PKEY_get_octet_string_param(k->pkey, OSSL_PKEY_PARAM_PUB_KEY, pub, sizeof(pub), &len);
        char *x = b64url(pub + 1, 32), *y = b64url(pub + 33, 32);
        json_object_set_new(j, "kty", json_string("EC"));
        json_object_set_new(j, "crv", json_string("P-256"));
        json_object_set_new(j, "x", json_string(x));
        json_object_set_new(j, "y", json_string(y));
        free(x);
        free(y);
    } else {
        json_object_set_new(j, "kty", json_string("RSA"));
        json_object_set_new(j, "n", bn_member(k->pkey, OSSL_PKEY_PARAM_RSA_N));
        json_object_set_new(j, "e", bn_member(k->pkey, OSSL_PKEY_PARAM_RSA_E));
    }
    return j;
}

char *
jwt_key_pem(const jwt_key *k)
{
    BIO *b = BIO_new(BIO_s_mem());
    PEM_write_bio_PUBKEY(b, k->pkey);
    char *data;
    long n = BIO_get_mem_data(b, &data);
    char *out = strndup(data, (size_t)n);
    BIO_free(b);
    return out;
}

char *
jwt_mint(const jwt_key *k, const char *header, const char *claims, const char *secret)
{
    char *h = b64url((const uint8_t *)header, strlen(header));
    char *c = b64url((const uint8_t *)claims, strlen(claims));
    size_t in_len = strlen(h) + 1 + strlen(c);
    char *input = malloc(in_len + 1);
    snprintf(input, in_len + 1, "%s.%s", h, c);
    uint8_t sig[1024];
    size_t sl = 0;
    if (strstr(header, "\"HS256\"") != NULL) {
        unsigned int n = 0;
        HMAC(EVP_sha256(), secret, (int)strlen(secret), (const uint8_t *)input, in_len, sig, &n);
        sl = n;
    } else if (strstr(header, "\"none\"") == NULL && k != NULL) {
        EVP_MD_CTX *md = EVP_MD_CTX_new();
        uint8_t der[256];
        size_t dl = sizeof(der);
        uint8_t *dst = k->ec ? der : sig;
        size_t cap = k->ec ? sizeof(der) : sizeof(sig);
        EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, k->pkey);
        EVP_DigestSign(md, dst, &cap, (const uint8_t *)input, in_len);
        EVP_MD_CTX_free(md);
        if (k->ec) {
            /* DER → r||s, 32 bytes each (RFC 7518 §3.4) */
            dl = cap;
            const uint8_t *p = der;
            ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &p, (long)dl);
            const BIGNUM *r, *s;
            ECDSA_SIG_get0(es, &r, &s);
            BN_bn2binpad(r, sig, 32);
            BN_bn2binpad(s, sig + 32, 32);
            ECDSA_SIG_free(es);
            sl = 64;
        } else {
            sl = cap;
        }
    }
    char *s = b64url(sig, sl);
    size_t out_len = in_len + 1 + strlen(s) + 1;
    char *out = malloc(out_len);
    snprintf(out, out_len, "%s.%s", input, s);
    free(h);
    free(c);
    free(input);
    free(s);
    return out;
}
