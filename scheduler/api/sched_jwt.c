/*
 * sched_jwt — OIDC access tokens checked against a JSON Web Key Set (see sched_jwt.h).
 *
 * The order matters: the header is read only to find the key; the signature is checked
 * before a single claim is believed; a claim is then checked strictly (wrong type =
 * refused). Keys are OpenSSL EVP_PKEYs built from the JWK's parameters.
 */
#include "sched_jwt.h"

#include "floe_mem.h"
#include "floe_text.h"
#include "spec.h"

#include <jansson.h>
#include <inttypes.h>
#include <openssl/core_names.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <stdio.h>
#include <string.h>

typedef struct jwk {
    char kid[129]; /* "" when the key has none */
    unsigned alg;  /* SCHED_JWT_RS256 or SCHED_JWT_ES256: pinned by the key's type */
    EVP_PKEY *pkey;
} jwk;

struct sched_jwks {
    jwk keys[SCHED_JWKS_MAX_KEYS];
    size_t n;
};

/* --- base64url (RFC 7515 §2: no padding) ------------------------------------------------ */

static int
b64url_val(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    return c == '-' ? 62 : c == '_' ? 63 : -1;
}

/* Decodes len characters of s into out (cap bytes); -1 when s is not base64url or the
 * result would not fit. */
static ssize_t
b64url_decode(const char *s, size_t len, uint8_t *out, size_t cap)
{
    if (len % 4 == 1)
        return -1;
    uint32_t acc = 0;
    int bits = 0;
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        int v = b64url_val((unsigned char)s[i]);
        if (v < 0)
            return -1;
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (o == cap)
                return -1;
            out[o++] = (uint8_t)(acc >> bits);
        }
    }
    if (bits > 0 && (acc & ((1u << bits) - 1)) != 0)
        return -1; /* stray bits: not the canonical encoding */
    return (ssize_t)o;
}

/* A base64url member of a JWK decoded into out; -1 when absent or malformed. */
static ssize_t
jwk_bytes(json_t *k, const char *name, uint8_t *out, size_t cap)
{
    const char *s = json_string_value(json_object_get(k, name));
    return s == NULL ? -1 : b64url_decode(s, strlen(s), out, cap);
}

/* --- keys ------------------------------------------------------------------------------- */

static EVP_PKEY *
pkey_from(const char *type, OSSL_PARAM *params)
{
    EVP_PKEY *pkey = NULL;
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL);
    if (ctx == NULL || EVP_PKEY_fromdata_init(ctx) != 1 ||
        EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) != 1)
        pkey = NULL;
    EVP_PKEY_CTX_free(ctx);
    return pkey;
}

static EVP_PKEY *
rsa_key(json_t *k, const char **why)
{
    uint8_t n[1024], e[8];
    ssize_t nl = jwk_bytes(k, "n", n, sizeof(n)), el = jwk_bytes(k, "e", e, sizeof(e));
    if (nl < 0 || el <= 0) {
        *why = "an RSA key needs base64url \"n\" (up to 8192 bits) and \"e\"";
        return NULL;
    }
    size_t skip = 0;
    while (skip < (size_t)nl && n[skip] == 0)
        skip++;
    if ((size_t)nl - skip < 256) {
        *why = "an RSA key of fewer than 2048 bits";
        return NULL;
    }
    EVP_PKEY *pkey = NULL;
    BIGNUM *bn = BN_bin2bn(n + skip, (int)((size_t)nl - skip), NULL);
    BIGNUM *be = BN_bin2bn(e, (int)el, NULL);
    OSSL_PARAM_BLD *b = OSSL_PARAM_BLD_new();
    OSSL_PARAM *params = NULL;
    if (bn != NULL && be != NULL && b != NULL &&
        OSSL_PARAM_BLD_push_BN(b, OSSL_PKEY_PARAM_RSA_N, bn) == 1 &&
        OSSL_PARAM_BLD_push_BN(b, OSSL_PKEY_PARAM_RSA_E, be) == 1 &&
        (params = OSSL_PARAM_BLD_to_param(b)) != NULL)
        pkey = pkey_from("RSA", params);
    if (pkey == NULL)
        *why = "OpenSSL refused the RSA key";
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(b);
    BN_free(bn);
    BN_free(be);
    return pkey;
}

static EVP_PKEY *
ec_key(json_t *k, const char **why)
{
    uint8_t pub[65];
    pub[0] = 0x04; /* an uncompressed point: x then y */
    if (jwk_bytes(k, "x", pub + 1, 32) != 32 || jwk_bytes(k, "y", pub + 33, 32) != 32) {
        *why = "a P-256 key needs base64url \"x\" and \"y\" of 32 bytes each";
        return NULL;
    }
    char group[] = "prime256v1";
    OSSL_PARAM params[] = {
        OSSL_PARAM_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, group, 0),
        OSSL_PARAM_octet_string(OSSL_PKEY_PARAM_PUB_KEY, pub, sizeof(pub)),
        OSSL_PARAM_END,
    };
    EVP_PKEY *pkey = pkey_from("EC", params);
    if (pkey == NULL) {
        *why = "the point is not on P-256";
        return NULL;
    }
    /* fromdata decodes the point; the check says it is on the curve and not infinity. */
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);
    bool ok = ctx != NULL && EVP_PKEY_public_check(ctx) == 1;
    EVP_PKEY_CTX_free(ctx);
    if (!ok) {
        *why = "the point is not on P-256";
        EVP_PKEY_free(pkey);
        return NULL;
    }
    return pkey;
}

void
sched_jwks_free(sched_jwks *ks)
{
    if (ks == NULL)
        return;
    for (size_t i = 0; i < ks->n; i++)
        EVP_PKEY_free(ks->keys[i].pkey);
    floe_free(ks);
}

size_t
sched_jwks_count(const sched_jwks *ks)
{
    return ks != NULL ? ks->n : 0;
}

bool
sched_jwks_has(const sched_jwks *ks, const char *kid)
{
    for (size_t i = 0; ks != NULL && i < ks->n; i++)
        if (strcmp(ks->keys[i].kid, kid) == 0)
            return true;
    return false;
}

sched_jwks *
sched_jwks_parse(const char *json, size_t len, floe_err *err)
{
    if (len > SCHED_JWKS_MAX) {
        floe_err_user(err, FLOE_EINVAL, "key set: %zu bytes, at most %d", len, SCHED_JWKS_MAX);
        return NULL;
    }
    json_error_t jerr;
    json_t *doc = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
    json_t *keys = json_object_get(doc, "keys");
    if (!json_is_array(keys)) {
        floe_err_user(err, FLOE_EINVAL, "key set: expected {\"keys\": [...]}%s%s",
                      doc == NULL ? ": " : "", doc == NULL ? jerr.text : "");
        json_decref(doc);
        return NULL;
    }
    sched_jwks *ks = floe_calloc(1, sizeof(*ks));
    if (ks == NULL) {
        floe_err_sys(err, FLOE_ENOMEM, "key set: out of memory");
        json_decref(doc);
        return NULL;
    }
    size_t i;
    json_t *k;
    json_array_foreach(keys, i, k)
    {
        const char *kty = json_string_value(json_object_get(k, "kty"));
        const char *use = json_string_value(json_object_get(k, "use"));
        const char *alg = json_string_value(json_object_get(k, "alg"));
        const char *crv = json_string_value(json_object_get(k, "crv"));
        const char *kid = json_string_value(json_object_get(k, "kid"));
        if (kty == NULL || (use != NULL && strcmp(use, "sig") != 0))
            continue; /* encryption keys and the like are not ours to use */
        unsigned a = strcmp(kty, "RSA") == 0 ? SCHED_JWT_RS256
                     : strcmp(kty, "EC") == 0 && crv != NULL && strcmp(crv, "P-256") == 0
                         ? SCHED_JWT_ES256
                         : 0;
        if (a == 0 || (alg != NULL && strcmp(alg, a == SCHED_JWT_RS256 ? "RS256" : "ES256") != 0))
            continue; /* another algorithm (PS256, EdDSA, P-384...): not accepted here */
        if (ks->n == SCHED_JWKS_MAX_KEYS)
            break;
        if (kid != NULL && (strlen(kid) == 0 || strlen(kid) >= sizeof(ks->keys[0].kid) ||
                            !floe_utf8_valid(kid, strlen(kid)))) {
            floe_err_user(err, FLOE_EINVAL, "key set: keys[%zu]: kid is 1 to 128 bytes of UTF-8",
                          i);
            goto fail;
        }
        const char *why = NULL;
        EVP_PKEY *pkey = a == SCHED_JWT_RS256 ? rsa_key(k, &why) : ec_key(k, &why);
        if (pkey == NULL) {
            floe_err_user(err, FLOE_EINVAL, "key set: keys[%zu]: %s", i, why);
            goto fail;
        }
        jwk *j = &ks->keys[ks->n++];
        snprintf(j->kid, sizeof(j->kid), "%s", kid != NULL ? kid : "");
        j->alg = a;
        j->pkey = pkey;
    }
    json_decref(doc);
    if (ks->n == 0) {
        floe_err_user(err, FLOE_EINVAL, "key set: no RS256 (RSA) or ES256 (P-256) signing key");
        sched_jwks_free(ks);
        return NULL;
    }
    return ks;
fail:
    json_decref(doc);
    sched_jwks_free(ks);
    return NULL;
}

floe_rc
sched_jwt_algs_parse(const char *csv, unsigned *algs, floe_err *err)
{
    *algs = 0;
    const char *s = csv;
    while (*s != '\0') {
        size_t n = strcspn(s, ",");
        if (n == 5 && strncmp(s, "RS256", 5) == 0)
            *algs |= SCHED_JWT_RS256;
        else if (n == 5 && strncmp(s, "ES256", 5) == 0)
            *algs |= SCHED_JWT_ES256;
        else
            return floe_err_user(err, FLOE_EINVAL,
                                 "algorithms \"%.64s\": each of RS256, ES256 (comma separated)",
                                 csv);
        s += n + (s[n] == ',');
    }
    if (*algs == 0)
        return floe_err_user(err, FLOE_EINVAL, "algorithms: at least one of RS256, ES256");
    return FLOE_OK;
}

/* --- tokens ----------------------------------------------------------------------------- */

static json_t *
segment_json(const char *s, size_t len)
{
    uint8_t buf[SCHED_JWT_MAX];
    ssize_t n = b64url_decode(s, len, buf, sizeof(buf));
    if (n < 0)
        return NULL;
    json_t *j = json_loadb((const char *)buf, (size_t)n, JSON_REJECT_DUPLICATES, NULL);
    if (!json_is_object(j)) {
        json_decref(j);
        return NULL;
    }
    return j;
}

static bool
sig_ok(const jwk *key, const char *input, size_t input_len, const uint8_t *sig, size_t sig_len)
{
    uint8_t der[80];
    const uint8_t *s = sig;
    size_t sl = sig_len;
    if (key->alg == SCHED_JWT_ES256) {
        /* JWS carries r||s (RFC 7518 §3.4); OpenSSL verifies DER. */
        if (sig_len != 64)
            return false;
        ECDSA_SIG *es = ECDSA_SIG_new();
        BIGNUM *r = BN_bin2bn(sig, 32, NULL), *ss = BN_bin2bn(sig + 32, 32, NULL);
        if (es == NULL || r == NULL || ss == NULL || ECDSA_SIG_set0(es, r, ss) != 1) {
            BN_free(r);
            BN_free(ss);
            ECDSA_SIG_free(es);
            return false;
        }
        int need = i2d_ECDSA_SIG(es, NULL);
        uint8_t *p = der;
        bool fits = need > 0 && (size_t)need <= sizeof(der) && i2d_ECDSA_SIG(es, &p) == need;
        ECDSA_SIG_free(es);
        if (!fits)
            return false;
        s = der;
        sl = (size_t)need;
    }
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    bool ok = md != NULL && EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, key->pkey) == 1 &&
              EVP_DigestVerify(md, s, sl, (const unsigned char *)input, input_len) == 1;
    EVP_MD_CTX_free(md);
    return ok;
}

/* A NumericDate claim: absent is fine when !required; a non-number is refused. */
static bool
numeric_date(json_t *claims, const char *name, bool required, int64_t *out)
{
    json_t *v = json_object_get(claims, name);
    if (v == NULL)
        return !required;
    if (!json_is_number(v))
        return false;
    double d = json_number_value(v);
    if (!(d > -1e12 && d < 1e12))
        return false;
    *out = (int64_t)d;
    return true;
}

static bool
aud_holds(json_t *aud, const char *want)
{
    if (json_is_string(aud))
        return strcmp(json_string_value(aud), want) == 0;
    size_t i;
    json_t *v;
    if (!json_is_array(aud) || json_array_size(aud) > 64)
        return false;
    json_array_foreach(aud, i, v)
    {
        if (json_is_string(v) && strcmp(json_string_value(v), want) == 0)
            return true;
    }
    return false;
}

static floe_rc
grants_of(json_t *claims, const char *claim, store_principal *p, floe_err *err)
{
    json_t *g = json_object_get(claims, claim);
    p->n_grants = 0;
    if (g == NULL)
        return FLOE_OK; /* signed in, no role anywhere: whoami works, the rest is 403 */
    if (!json_is_array(g) || json_array_size(g) > STORE_AUTH_GRANTS_MAX)
        return floe_err_user(err, FLOE_EINVAL,
                             "the token's \"%.64s\" claim: expected a list of at most %d "
                             "\"project=role\" strings",
                             claim, STORE_AUTH_GRANTS_MAX);
    size_t i;
    json_t *v;
    json_array_foreach(g, i, v)
    {
        const char *s = json_string_value(v);
        const char *eq = s != NULL ? strchr(s, '=') : NULL;
        store_grant *gr = &p->grants[p->n_grants];
        size_t pl = eq != NULL ? (size_t)(eq - s) : 0;
        if (eq == NULL || pl == 0 || pl >= sizeof(gr->project) ||
            (gr->role = store_role_parse(eq + 1)) == STORE_ROLE_NONE)
            return floe_err_user(err, FLOE_EINVAL,
                                 "the token's \"%.64s\" claim: entry %zu: expected "
                                 "\"project=viewer|launcher|maintainer|admin\"",
                                 claim, i);
        memcpy(gr->project, s, pl);
        gr->project[pl] = '\0';
        if (strcmp(gr->project, STORE_AUTH_ALL_PROJECTS) != 0 &&
            spec_check_project(gr->project, NULL) != FLOE_OK)
            return floe_err_user(err, FLOE_EINVAL,
                                 "the token's \"%.64s\" claim: entry %zu: not a project name",
                                 claim, i);
        p->n_grants++;
    }
    return FLOE_OK;
}

floe_rc
sched_jwt_verify(const sched_jwks *ks, const sched_jwt_rules *rules, const char *token,
                 store_principal *p, bool *kid_unknown, floe_err *err)
{
    *kid_unknown = false;
    size_t len = strnlen(token, SCHED_JWT_MAX + 1);
    const char *d1 = memchr(token, '.', len);
    const char *d2 = d1 != NULL ? memchr(d1 + 1, '.', len - (size_t)(d1 + 1 - token)) : NULL;
    if (len > SCHED_JWT_MAX || d1 == NULL || d2 == NULL ||
        memchr(d2 + 1, '.', len - (size_t)(d2 + 1 - token)) != NULL)
        return floe_err_user(err, FLOE_EINVAL,
                             "not a JWT: expected header.payload.signature, at most %d bytes",
                             SCHED_JWT_MAX);
    json_t *hdr = segment_json(token, (size_t)(d1 - token)), *claims = NULL;
    floe_rc rc = FLOE_EINVAL;
    if (hdr == NULL) {
        floe_err_user(err, rc, "the JWT's header is not base64url JSON");
        goto out;
    }
    const char *alg = json_string_value(json_object_get(hdr, "alg"));
    const char *kid = json_string_value(json_object_get(hdr, "kid"));
    unsigned a = alg == NULL                 ? 0
                 : strcmp(alg, "RS256") == 0 ? SCHED_JWT_RS256
                 : strcmp(alg, "ES256") == 0 ? SCHED_JWT_ES256
                                             : 0;
    if (a == 0 || (a & rules->algs) == 0) {
        floe_err_user(err, rc, "the JWT's algorithm is not one this API accepts (%s%s%s)",
                      rules->algs & SCHED_JWT_RS256 ? "RS256" : "",
                      rules->algs == (SCHED_JWT_RS256 | SCHED_JWT_ES256) ? ", " : "",
                      rules->algs & SCHED_JWT_ES256 ? "ES256" : "");
        goto out;
    }
    if (json_object_get(hdr, "crit") != NULL) {
        floe_err_user(err, rc, "the JWT names critical extensions this API does not know");
        goto out;
    }
    /* The key: by kid when the token names one, else the only key of the algorithm's type. */
    const jwk *key = NULL;
    size_t candidates = 0;
    for (size_t i = 0; i < ks->n; i++) {
        if (kid != NULL ? strcmp(ks->keys[i].kid, kid) == 0 : ks->keys[i].alg == a) {
            key = &ks->keys[i];
            candidates++;
        }
    }
    if (key == NULL || candidates > 1) {
        *kid_unknown = kid != NULL && key == NULL;
        floe_err_user(err, rc, "%s",
                      kid != NULL ? "the JWT's key (kid) is not in the key set"
                                  : "the JWT names no key (kid) and the key set "
                                    "has not exactly one of its type");
        goto out;
    }
    if (key->alg != a) {
        floe_err_user(err, rc, "the JWT's algorithm does not match its key's type");
        goto out;
    }
    uint8_t sig[1024];
    ssize_t sl = b64url_decode(d2 + 1, len - (size_t)(d2 + 1 - token), sig, sizeof(sig));
    if (sl <= 0 || !sig_ok(key, token, (size_t)(d2 - token), sig, (size_t)sl)) {
        floe_err_user(err, rc, "the JWT's signature does not verify");
        goto out;
    }
    /* Signed: now its claims may be read. */
    claims = segment_json(d1 + 1, (size_t)(d2 - d1 - 1));
    int64_t exp = 0, nbf = 0, iat = 0;
    const char *iss = claims != NULL ? json_string_value(json_object_get(claims, "iss")) : NULL;
    const char *sub = claims != NULL ? json_string_value(json_object_get(claims, "sub")) : NULL;
    if (claims == NULL) {
        floe_err_user(err, rc, "the JWT's payload is not base64url JSON");
    } else if (iss == NULL || strcmp(iss, rules->issuer) != 0) {
        floe_err_user(err, rc, "the JWT's issuer (iss) is not this API's issuer");
    } else if (!aud_holds(json_object_get(claims, "aud"), rules->audience)) {
        floe_err_user(err, rc, "the JWT's audience (aud) does not hold \"%.64s\"", rules->audience);
    } else if (!numeric_date(claims, "exp", true, &exp) ||
               !numeric_date(claims, "nbf", false, &nbf) ||
               !numeric_date(claims, "iat", false, &iat)) {
        floe_err_user(err, rc, "the JWT's exp (required), nbf and iat must be NumericDates");
    } else if (rules->now_s > exp + rules->skew_s) {
        floe_err_user(err, rc, "the JWT expired %" PRId64 " s ago", rules->now_s - exp);
    } else if (nbf != 0 && rules->now_s + rules->skew_s < nbf) {
        floe_err_user(err, rc, "the JWT is not valid before %" PRId64 " s from now",
                      nbf - rules->now_s);
    } else if (iat != 0 && rules->now_s + rules->skew_s < iat) {
        floe_err_user(err, rc, "the JWT was issued in the future (iat)");
    } else if (sub == NULL || strlen(sub) == 0 || strlen(sub) > 128 ||
               !floe_utf8_valid(sub, strlen(sub))) {
        floe_err_user(err, rc, "the JWT's subject (sub): 1 to 128 bytes of UTF-8");
    } else if (grants_of(claims, rules->grants_claim, p, err) == FLOE_OK) {
        snprintf(p->id, sizeof(p->id), "oidc:%s", sub);
        const char *name = json_string_value(json_object_get(claims, "email"));
        if (name == NULL)
            name = json_string_value(json_object_get(claims, "name"));
        floe_text_copy(p->name, sizeof(p->name), name != NULL ? name : sub,
                       strlen(name != NULL ? name : sub));
        p->expires_us = exp * 1000000;
        rc = FLOE_OK;
    }
out:
    json_decref(hdr);
    json_decref(claims);
    return rc;
}
