#include "floe_digest.h"

#include <openssl/sha.h>

void
floe_sha256_hex_of(const unsigned char md[32], char out[FLOE_SHA256_HEX_LEN + 1])
{
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < 32; i++) {
        out[2 * i] = hex[md[i] >> 4];
        out[2 * i + 1] = hex[md[i] & 0xf];
    }
    out[FLOE_SHA256_HEX_LEN] = '\0';
}

void
floe_sha256_hex(const void *data, size_t len, char out[FLOE_SHA256_HEX_LEN + 1])
{
    unsigned char md[SHA256_DIGEST_LENGTH];
    SHA256(data, len, md);
    floe_sha256_hex_of(md, out);
}
