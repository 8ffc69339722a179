/*
 * sched_jwt — OIDC access tokens (issue 19): a JWS in compact form checked against a JSON
 * Web Key Set. The algorithm is pinned by the key, never chosen by the token: RS256 only
 * with an RSA key of 2048 bits or more, ES256 only with a P-256 key; "none" and every HMAC
 * algorithm are refused (no public key is ever used as a shared secret). Then iss, aud,
 * exp and nbf, with a bounded clock skew. Pure: no I/O, the caller gives keys and time.
 */
#ifndef SCHED_JWT_H
#define SCHED_JWT_H

#include "floe_err.h"
#include "store_auth.h"

#include <stddef.h>
#include <stdint.h>

#define SCHED_JWT_MAX 8192       /* bytes of a token, compact form */
#define SCHED_JWKS_MAX_KEYS 32   /* keys of a set that are used */
#define SCHED_JWKS_MAX 262144    /* bytes of a key set document */
#define SCHED_JWT_SKEW_MAX_S 300 /* the most clock skew a verifier may allow */

enum { SCHED_JWT_RS256 = 1u << 0, SCHED_JWT_ES256 = 1u << 1 };

typedef struct sched_jwks sched_jwks;

/* The signing keys of a JWKS document ({"keys": [...]}): keys of other types, uses or
 * curves are left out; FLOE_EINVAL when no usable key is left or one is malformed. */
sched_jwks *sched_jwks_parse(const char *json, size_t len, floe_err *err);
void sched_jwks_free(sched_jwks *ks);
size_t sched_jwks_count(const sched_jwks *ks);
/* Whether a key with this id is in the set. */
bool sched_jwks_has(const sched_jwks *ks, const char *kid);

/* "RS256,ES256" into a mask of SCHED_JWT_*. */
floe_rc sched_jwt_algs_parse(const char *csv, unsigned *algs, floe_err *err);

typedef struct sched_jwt_rules {
    const char *issuer;       /* iss must equal it */
    const char *audience;     /* aud must be it, or a list holding it */
    unsigned algs;            /* SCHED_JWT_* allowed */
    int64_t skew_s;           /* 0..SCHED_JWT_SKEW_MAX_S */
    int64_t now_s;            /* seconds since the epoch */
    const char *grants_claim; /* a list of "project=role" strings */
} sched_jwt_rules;

/* Verifies token; on FLOE_OK p is "oidc:<sub>" with the grants of the claim and expires_us
 * the token's exp. *kid_unknown is set when the token names a key the set lacks (the set
 * may be due for a refresh). Errors say why without echoing the token. */
floe_rc sched_jwt_verify(const sched_jwks *ks, const sched_jwt_rules *rules, const char *token,
                         store_principal *p, bool *kid_unknown, floe_err *err);

#endif
