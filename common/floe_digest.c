#include "floe_digest.h"

#include <openssl/evp.h>
#include <openssl/sha.h>
#include <pthread.h>

static EVP_MD *sha256_md;
static pthread_once_t sha256_once = PTHREAD_ONCE_INIT;

static void
sha256_fetch(void)
{
    sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL); /* kept for the process's life */
}

void
floe_sha256(const void *data, size_t len, unsigned char md[32])
{
    pthread_once(&sha256_once, sha256_fetch);
    if (sha256_md == NULL || EVP_Digest(data, len, md, NULL, sha256_md, NULL) != 1)
        SHA256(data, len, md); /* the slow way still hashes */
}

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
    floe_sha256(data, len, md);
    floe_sha256_hex_of(md, out);
}
