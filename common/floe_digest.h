/*
 * floe_digest — SHA-256 for content digests (registry versions, blobs, cache keys).
 */
#ifndef FLOE_DIGEST_H
#define FLOE_DIGEST_H

#include <stddef.h>

#define FLOE_SHA256_HEX_LEN 64

/* SHA-256 of data[0..len) into md (32 bytes). OpenSSL's SHA256() looks the algorithm up
 * in its providers on every call (a third of its cost on short input); this looks it up
 * once. */
void floe_sha256(const void *data, size_t len, unsigned char md[32]);
/* Lower-case hex digest of data[0..len) into out (65 bytes with the NUL). */
void floe_sha256_hex(const void *data, size_t len, char out[FLOE_SHA256_HEX_LEN + 1]);
/* A finished SHA-256 (32 bytes, from a streaming hash) as lower-case hex. */
void floe_sha256_hex_of(const unsigned char md[32], char out[FLOE_SHA256_HEX_LEN + 1]);

#endif
