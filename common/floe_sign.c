/*
 * floe_sign — see floe_sign.h.
 */
#include "floe_sign.h"

#include "floe_mem.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#define MAC_LEN 32
#define KEY_MIN 32
#define KEY_MAX 64

typedef struct sign_key {
    char name[FLOE_SIGN_NAME_MAX + 1];
    uint8_t key[KEY_MAX];
    size_t len;
} sign_key;

struct floe_keyring {
    sign_key keys[FLOE_SIGN_KEYS_MAX];
    size_t n;
};

static int
hexval(int c)
{
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
}

/* One "NAME HEX" line into k; false with why. */
static bool
parse_line(char *line, sign_key *k, const char **why)
{
    char *name = strtok(line, " \t"), *hex = strtok(NULL, " \t"), *rest = strtok(NULL, " \t");
    if (name == NULL || hex == NULL || rest != NULL) {
        *why = "expected NAME HEX";
        return false;
    }
    size_t n = strlen(name);
    if (n == 0 || n > FLOE_SIGN_NAME_MAX ||
        strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKL"
                     "MNOPQRSTUVWXYZ0123456789._-") != n) {
        *why = "a key name is 1 to 32 of [A-Za-z0-9._-]";
        return false;
    }
    size_t h = strlen(hex);
    if (h % 2 != 0 || h / 2 < KEY_MIN || h / 2 > KEY_MAX) {
        *why = "a key is 32 to 64 bytes in hex (64 to 128 hex digits)";
        return false;
    }
    for (size_t i = 0; i < h; i += 2) {
        int a = hexval(hex[i]), b = hexval(hex[i + 1]);
        if (a < 0 || b < 0) {
            *why = "the key is not hex";
            return false;
        }
        k->key[i / 2] = (uint8_t)(a * 16 + b);
    }
    k->len = h / 2;
    memcpy(k->name, name, n + 1);
    return true;
}

floe_keyring *
floe_keyring_load(const char *path, floe_err *err)
{
    FILE *f = fopen(path, "re");
    if (f == NULL) {
        floe_err_user(err, FLOE_ENOTFOUND, "bus.keys_file %.200s: %s", path, strerror(errno));
        return NULL;
    }
    struct stat st;
    if (fstat(fileno(f), &st) == 0 && (st.st_mode & S_IROTH)) {
        fclose(f);
        floe_err_user(err, FLOE_EINVAL,
                      "bus.keys_file %.200s is readable by anyone: chmod o-r it (it holds the "
                      "keys that sign every bus message)",
                      path);
        return NULL;
    }
    floe_keyring *kr = floe_calloc(1, sizeof(*kr));
    if (kr == NULL) {
        fclose(f);
        floe_err_sys(err, FLOE_ENOMEM, "out of memory");
        return NULL;
    }
    char line[512];
    int no = 0;
    while (fgets(line, sizeof(line), f) != NULL) {
        no++;
        char *hash = strchr(line, '#');
        if (hash != NULL)
            *hash = '\0';
        line[strcspn(line, "\r\n")] = '\0';
        if (line[strspn(line, " \t")] == '\0')
            continue;
        const char *why = NULL;
        if (kr->n == FLOE_SIGN_KEYS_MAX)
            why = "more than 16 keys";
        else if (parse_line(line, &kr->keys[kr->n], &why)) {
            for (size_t i = 0; i < kr->n && why == NULL; i++)
                if (strcmp(kr->keys[i].name, kr->keys[kr->n].name) == 0)
                    why = "a key name appears twice";
            if (why == NULL)
                kr->n++;
        }
        if (why != NULL) {
            fclose(f);
            OPENSSL_cleanse(line, sizeof(line));
            floe_keyring_free(kr);
            floe_err_user(err, FLOE_EINVAL, "bus.keys_file %.200s line %d: %s", path, no, why);
            return NULL;
        }
    }
    OPENSSL_cleanse(line, sizeof(line));
    fclose(f);
    if (kr->n == 0) {
        floe_keyring_free(kr);
        floe_err_user(err, FLOE_EINVAL, "bus.keys_file %.200s holds no key", path);
        return NULL;
    }
    return kr;
}

void
floe_keyring_free(floe_keyring *kr)
{
    if (kr == NULL)
        return;
    OPENSSL_cleanse(kr, sizeof(*kr));
    floe_free(kr);
}

const char *
floe_keyring_signer(const floe_keyring *kr)
{
    return kr->keys[0].name;
}

static size_t
trailer_len(size_t name_len)
{
    return 1 + 1 + name_len + 1 + 1 + MAC_LEN; /* names <= 32: one-byte lengths */
}

static void
trailer_put(uint8_t *out, const char *name, const uint8_t mac[MAC_LEN])
{
    size_t n = strlen(name), o = 0;
    out[o++] = (6 << 3) | 2;
    out[o++] = (uint8_t)n;
    memcpy(out + o, name, n);
    o += n;
    out[o++] = (7 << 3) | 2;
    out[o++] = MAC_LEN;
    memcpy(out + o, mac, MAC_LEN);
}

static bool
mac_of(const sign_key *k, const uint8_t *data, size_t len, uint8_t mac[MAC_LEN])
{
    unsigned int n = 0;
    return HMAC(EVP_sha256(), k->key, (int)k->len, data, len, mac, &n) != NULL && n == MAC_LEN;
}

floe_rc
floe_envelope_sign(floe_buf *buf, const floe_keyring *kr, floe_err *err)
{
    const sign_key *k = &kr->keys[0];
    size_t add = trailer_len(strlen(k->name));
    if (buf->len + add > buf->cap) {
        uint8_t *d = floe_realloc(buf->data, buf->len + add);
        if (d == NULL)
            return floe_err_sys(err, FLOE_ENOMEM, "envelope: out of memory signing");
        buf->data = d;
        buf->cap = buf->len + add;
    }
    uint8_t mac[MAC_LEN];
    if (!mac_of(k, buf->data, buf->len, mac))
        return floe_err_sys(err, FLOE_EIO, "envelope: HMAC failed");
    trailer_put(buf->data + buf->len, k->name, mac);
    buf->len += add;
    return FLOE_OK;
}

floe_rc
floe_envelope_verify(const void *data, size_t len, const floe_envelope *env, const floe_keyring *kr,
                     const char **reason, floe_err *err)
{
    const char *r = "unsigned";
    if (env->key_id == NULL || env->key_id[0] == '\0' || env->sig_len == 0) {
        if (reason != NULL)
            *reason = r;
        return floe_err_user(err, FLOE_EINVAL,
                             "envelope: unsigned, and this consumer takes signed messages only "
                             "(bus.keys_file)");
    }
    const sign_key *k = NULL;
    for (size_t i = 0; i < kr->n && k == NULL; i++)
        if (strcmp(kr->keys[i].name, env->key_id) == 0)
            k = &kr->keys[i];
    if (k == NULL) {
        if (reason != NULL)
            *reason = "unknown_key";
        return floe_err_user(err, FLOE_EINVAL, "envelope: signed with key \"%.32s\", not in %s",
                             env->key_id, "bus.keys_file");
    }
    size_t tl = trailer_len(strlen(k->name));
    uint8_t want[1 + 1 + FLOE_SIGN_NAME_MAX + 1 + 1 + MAC_LEN], mac[MAC_LEN];
    if (env->sig_len != MAC_LEN || len < tl || !mac_of(k, data, len - tl, mac)) {
        if (reason != NULL)
            *reason = "bad_signature";
        return floe_err_user(err, FLOE_EINVAL, "envelope: malformed signature");
    }
    trailer_put(want, k->name, mac);
    /* In constant time: the trailer holds the MAC. */
    if (CRYPTO_memcmp(want, (const uint8_t *)data + len - tl, tl) != 0) {
        if (reason != NULL)
            *reason = "bad_signature";
        return floe_err_user(err, FLOE_EINVAL,
                             "envelope: the signature by key \"%.32s\" does not match", k->name);
    }
    return FLOE_OK;
}
