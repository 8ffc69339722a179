/*
 * jwt_mint — an identity provider for tests: makes RSA and P-256 keys, publishes them as
 * JWKs, and signs tokens with them (or forges them: HS256 keyed with a public key, "none").
 */
#ifndef JWT_MINT_H
#define JWT_MINT_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

typedef struct jwt_key jwt_key;

/* type "RSA" (2048 bits, or bits when given) or "EC" (P-256). */
jwt_key *jwt_key_new(const char *type, const char *kid, int bits);
void jwt_key_free(jwt_key *k);
/* The key's public half as a JWK object (new reference). */
json_t *jwt_key_jwk(const jwt_key *k);
/* The public key as PEM text (malloc'd): what an attacker would use as an HMAC secret. */
char *jwt_key_pem(const jwt_key *k);

/* header.claims.signature; alg from header: RS256/ES256 signed with k, HS256 with secret,
 * "none" with no signature. malloc'd. */
char *jwt_mint(const jwt_key *k, const char *header, const char *claims, const char *secret);

#endif
