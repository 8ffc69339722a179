/*
 * floe_sign — see floe_sign.h.
 */
#include "floe_sign.h"

#include "floe_mem.h"

#include <errno.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#define MAC_LEN 32
#define ED_LEN 64 /* an Ed25519 signature */
#define SIG_MAX ED_LEN
#define KEY_MIN 32
#define KEY_MAX 64
#define PROJECT_MAX 63

typedef enum key_kind { KIND_HMAC, KIND_ED25519, KIND_ED25519_PUB } key_kind;

struct floe_sign_key {
    char name[FLOE_SIGN_NAME_MAX + 1];
    key_kind kind;
    floe_sign_role role;
    uint8_t key[KEY_MAX]; /* HMAC keys */
    size_t len;
    EVP_MAC_CTX *mac;                 /* HMAC keys: keyed once, copied for each message (mac_of) */
    EVP_PKEY *pk;                     /* Ed25519 keys */
    char *scope[FLOE_SIGN_SCOPE_MAX]; /* a service's projects, a worker's worker ids */
    size_t n_scope;
};

struct floe_keyring {
    floe_sign_key keys[FLOE_SIGN_KEYS_MAX];
    size_t n;
    const floe_sign_key *signer; /* NULL: verifies only */
};

const char *const floe_sign_reasons[FLOE_SIGN_REASONS] = {
    "unsigned", "unknown_key", "bad_signature", "wrong_role", "not_granted"};

static int
hexval(int c)
{
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
}

static bool
unhex(const char *hex, uint8_t *out, size_t min, size_t max, size_t *len)
{
    size_t h = strlen(hex);
    if (h % 2 != 0 || h / 2 < min || h / 2 > max)
        return false;
    for (size_t i = 0; i < h; i += 2) {
        int a = hexval(hex[i]), b = hexval(hex[i + 1]);
        if (a < 0 || b < 0)
            return false;
        out[i / 2] = (uint8_t)(a * 16 + b);
    }
    *len = h / 2;
    return true;
}

#define NAME_CHARS "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-"
#define WORKER_ID_MAX 64

static bool
name_ok(const char *s, size_t max)
{
    size_t n = strlen(s);
    return n > 0 && n <= max && strspn(s, NAME_CHARS) == n;
}

/* The scope of a key, names separated by commas: a service's PROJECTS ("*" or project
 * names), a worker's WORKERS (worker ids, or prefixes of them ending in '*'). */
static bool
parse_scope(char *list, floe_sign_key *k, const char **why)
{
    bool svc = k->role == FLOE_SIGN_SERVICE;
    for (char *save = NULL, *p = strtok_r(list, ",", &save); p != NULL;
         p = strtok_r(NULL, ",", &save)) {
        size_t n = strlen(p);
        bool star = n > 0 && p[n - 1] == '*';
        if (k->n_scope == FLOE_SIGN_SCOPE_MAX) {
            *why = "a key names at most 16 projects or workers";
            return false;
        }
        floe_err e;
        bool ok = svc ? strcmp(p, "*") == 0 || /* as a message's project is checked */
                            floe_envelope_check_id("project", p, PROJECT_MAX, &e) == FLOE_OK
                      : n <= WORKER_ID_MAX && strspn(p, NAME_CHARS) == (star ? n - 1 : n);
        if (!ok) {
            *why = svc ? "a project is \"*\" or 1 to 63 of [A-Za-z0-9._-], first a letter or digit"
                       : "a worker is its id, or the start of ids followed by '*'";
            return false;
        }
        if ((k->scope[k->n_scope] = floe_strdup(p)) == NULL) {
            *why = "out of memory";
            return false;
        }
        k->n_scope++;
    }
    if (svc && k->n_scope == 0) {
        *why = "a service key names the projects it acts in (or \"*\")";
        return false;
    }
    return true;
}

/* HMAC-SHA256 keyed with key, to be copied for each message: OpenSSL 3's one-shot HMAC()
 * fetches the algorithms and derives the key's pads on every call (1.4 us a message here
 * against 0.7; issue 25: the bus signs or checks every message). */
static EVP_MAC_CTX *
mac_keyed(const uint8_t *key, size_t len)
{
    EVP_MAC *m = EVP_MAC_fetch(NULL, OSSL_MAC_NAME_HMAC, NULL);
    EVP_MAC_CTX *c = m != NULL ? EVP_MAC_CTX_new(m) : NULL;
    EVP_MAC_free(m); /* the context holds its own reference */
    OSSL_PARAM p[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, "SHA256", 0),
                      OSSL_PARAM_construct_end()};
    if (c != NULL && EVP_MAC_init(c, key, len, p) != 1) {
        EVP_MAC_CTX_free(c);
        c = NULL;
    }
    return c;
}

static bool
parse_key(const char *kind, const char *hex, floe_sign_key *k, const char **why)
{
    uint8_t raw[KEY_MAX];
    size_t n = 0;
    if (strcmp(kind, "hmac") == 0) {
        k->kind = KIND_HMAC;
        if (!unhex(hex, k->key, KEY_MIN, KEY_MAX, &k->len)) {
            *why = "an HMAC key is 32 to 64 bytes in hex (64 to 128 hex digits)";
            return false;
        }
        if ((k->mac = mac_keyed(k->key, k->len)) == NULL) {
            *why = "OpenSSL refused the HMAC key";
            return false;
        }
        return true;
    }
    bool priv = strcmp(kind, "ed25519") == 0;
    if (!priv && strcmp(kind, "ed25519.pub") != 0) {
        *why = "the kind of a key is hmac, ed25519 or ed25519.pub";
        return false;
    }
    if (!unhex(hex, raw, 32, 32, &n)) {
        *why = "an Ed25519 key is 32 bytes in hex (64 hex digits)";
        return false;
    }
    k->kind = priv ? KIND_ED25519 : KIND_ED25519_PUB;
    k->pk = priv ? EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, raw, n)
                 : EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, raw, n);
    OPENSSL_cleanse(raw, sizeof(raw));
    if (k->pk == NULL) {
        *why = "OpenSSL refused the Ed25519 key";
        return false;
    }
    return true;
}

/* One line (its tokens) into k; false with why. */
static bool
parse_line(char *line, floe_sign_key *k, const char **why)
{
    char *save = NULL, *tok[6];
    size_t n = 0;
    for (char *t = strtok_r(line, " \t", &save); t != NULL; t = strtok_r(NULL, " \t", &save)) {
        if (n == 6) {
            *why = "too many words: expected NAME HEX or NAME KIND KEY ROLE [SCOPE]";
            return false;
        }
        tok[n++] = t;
    }
    if (n != 2 && n != 4 && n != 5) {
        *why = "expected NAME HEX or NAME KIND KEY ROLE [SCOPE]";
        return false;
    }
    if (!name_ok(tok[0], FLOE_SIGN_NAME_MAX)) {
        *why = "a key name is 1 to 32 of [A-Za-z0-9._-]";
        return false;
    }
    memcpy(k->name, tok[0], strlen(tok[0]) + 1);
    if (n == 2) { /* the first form: one shared key for every role */
        k->role = FLOE_SIGN_ANY;
        return parse_key("hmac", tok[1], k, why);
    }
    if (!parse_key(tok[1], tok[2], k, why))
        return false;
    if (floe_sign_role_parse(tok[3], &k->role) != FLOE_OK) {
        *why = "a role is scheduler, worker, service or any";
        return false;
    }
    if (k->role == FLOE_SIGN_SERVICE && n == 4) {
        *why = "a service key names the projects it acts in (or \"*\")";
        return false;
    }
    if (n == 5 && k->role != FLOE_SIGN_SERVICE && k->role != FLOE_SIGN_WORKER) {
        *why = "only a service key names projects, only a worker key workers";
        return false;
    }
    return n == 4 || parse_scope(tok[4], k, why);
}

static void
key_clear(floe_sign_key *k)
{
    EVP_PKEY_free(k->pk);
    EVP_MAC_CTX_free(k->mac);
    for (size_t i = 0; i < k->n_scope; i++)
        floe_free(k->scope[i]);
    OPENSSL_cleanse(k, sizeof(*k));
}

static const char *
ring_add(floe_keyring *kr, char *line)
{
    const char *why = NULL;
    floe_sign_key *k = &kr->keys[kr->n];
    if (kr->n == FLOE_SIGN_KEYS_MAX)
        return "more than 16 keys";
    if (!parse_line(line, k, &why)) {
        key_clear(k);
        return why;
    }
    for (size_t i = 0; i < kr->n; i++)
        if (strcmp(kr->keys[i].name, k->name) == 0) {
            key_clear(k);
            return "a key name appears twice";
        }
    kr->n++;
    return NULL;
}

static floe_rc
pick_signer(floe_keyring *kr, const char *path, const char *sign_key, floe_err *err)
{
    for (size_t i = 0; i < kr->n && kr->signer == NULL; i++) {
        const floe_sign_key *k = &kr->keys[i];
        bool can = k->kind != KIND_ED25519_PUB;
        if (sign_key != NULL && sign_key[0] != '\0') {
            if (strcmp(k->name, sign_key) != 0)
                continue;
            if (!can)
                return floe_err_user(err, FLOE_EINVAL,
                                     "bus.sign_key \"%.32s\" in %.200s is a public key: it "
                                     "cannot sign",
                                     sign_key, path);
        }
        if (can)
            kr->signer = k;
    }
    if (kr->signer == NULL && sign_key != NULL && sign_key[0] != '\0')
        return floe_err_user(err, FLOE_EINVAL, "bus.sign_key \"%.32s\" is not in %.200s", sign_key,
                             path);
    return FLOE_OK;
}

floe_keyring *
floe_keyring_load(const char *path, const char *sign_key, floe_err *err)
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
    char line[1024];
    int no = 0;
    while (fgets(line, sizeof(line), f) != NULL) {
        no++;
        char *hash = strchr(line, '#');
        if (hash != NULL)
            *hash = '\0';
        line[strcspn(line, "\r\n")] = '\0';
        if (line[strspn(line, " \t")] == '\0')
            continue;
        const char *why = ring_add(kr, line);
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
    if (pick_signer(kr, path, sign_key, err) != FLOE_OK) {
        floe_keyring_free(kr);
        return NULL;
    }
    return kr;
}

void
floe_keyring_free(floe_keyring *kr)
{
    if (kr == NULL)
        return;
    for (size_t i = 0; i < kr->n; i++)
        key_clear(&kr->keys[i]);
    OPENSSL_cleanse(kr, sizeof(*kr));
    floe_free(kr);
}

const char *
floe_keyring_signer(const floe_keyring *kr)
{
    return kr->signer != NULL ? kr->signer->name : NULL;
}

bool
floe_keyring_principal(const floe_keyring *kr, char out[FLOE_SIGN_PRINCIPAL_MAX + 1])
{
    if (kr->signer == NULL || kr->signer->role != FLOE_SIGN_SERVICE)
        return false;
    snprintf(out, FLOE_SIGN_PRINCIPAL_MAX + 1, "svc:%s", kr->signer->name);
    return true;
}

static size_t
sig_len(const floe_sign_key *k)
{
    return k->kind == KIND_HMAC ? MAC_LEN : ED_LEN;
}

static size_t
trailer_len(const floe_sign_key *k)
{
    return 1 + 1 + strlen(k->name) + 1 + 1 + sig_len(k); /* names <= 32: one-byte lengths */
}

/* The trailer's bytes before the signature; returns their count. */
static size_t
trailer_head(uint8_t *out, const floe_sign_key *k)
{
    size_t n = strlen(k->name), o = 0;
    out[o++] = (6 << 3) | 2;
    out[o++] = (uint8_t)n;
    memcpy(out + o, k->name, n);
    o += n;
    out[o++] = (7 << 3) | 2;
    out[o++] = (uint8_t)sig_len(k);
    return o;
}

/* A copy of the keyed context a message: the key's context is only read, so threads may
 * sign and check at once. */
static bool
mac_of(const floe_sign_key *k, const uint8_t *data, size_t len, uint8_t mac[MAC_LEN])
{
    EVP_MAC_CTX *c = EVP_MAC_CTX_dup(k->mac);
    size_t n = 0;
    bool ok = c != NULL && EVP_MAC_update(c, data, len) == 1 &&
              EVP_MAC_final(c, mac, &n, MAC_LEN) == 1 && n == MAC_LEN;
    EVP_MAC_CTX_free(c);
    return ok;
}

/* Ed25519 signs the message itself (no digest of ours: the algorithm hashes it). */
static bool
ed_sign(const floe_sign_key *k, const uint8_t *data, size_t len, uint8_t sig[ED_LEN])
{
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    size_t n = ED_LEN;
    bool ok = c != NULL && EVP_DigestSignInit(c, NULL, NULL, NULL, k->pk) == 1 &&
              EVP_DigestSign(c, sig, &n, data, len) == 1 && n == ED_LEN;
    EVP_MD_CTX_free(c);
    return ok;
}

static bool
ed_verify(const floe_sign_key *k, const uint8_t *data, size_t len, const uint8_t *sig)
{
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    bool ok = c != NULL && EVP_DigestVerifyInit(c, NULL, NULL, NULL, k->pk) == 1 &&
              EVP_DigestVerify(c, sig, ED_LEN, data, len) == 1;
    EVP_MD_CTX_free(c);
    return ok;
}

floe_rc
floe_envelope_sign(floe_buf *buf, const floe_keyring *kr, floe_err *err)
{
    const floe_sign_key *k = kr->signer;
    if (k == NULL)
        return floe_err_user(err, FLOE_EINVAL,
                             "envelope: bus.keys_file holds no key that signs (public keys only)");
    size_t add = trailer_len(k);
    if (buf->len + add > buf->cap) {
        uint8_t *d = floe_realloc(buf->data, buf->len + add);
        if (d == NULL)
            return floe_err_sys(err, FLOE_ENOMEM, "envelope: out of memory signing");
        buf->data = d;
        buf->cap = buf->len + add;
    }
    uint8_t *at = buf->data + buf->len, sig[SIG_MAX];
    bool ok = k->kind == KIND_HMAC ? mac_of(k, buf->data, buf->len, sig)
                                   : ed_sign(k, buf->data, buf->len, sig);
    if (!ok)
        return floe_err_sys(err, FLOE_EIO, "envelope: signing with key \"%s\" failed", k->name);
    size_t h = trailer_head(at, k);
    memcpy(at + h, sig, sig_len(k));
    buf->len += add;
    return FLOE_OK;
}

/* Refuses with floe_sign_reasons[i] and a message. */
#define REFUSE(i, ...)                                                                             \
    ((reason != NULL ? (void)(*reason = floe_sign_reasons[i]) : (void)0),                          \
     floe_err_user(err, FLOE_EINVAL, __VA_ARGS__))

floe_rc
floe_envelope_verify(const void *data, size_t len, const floe_envelope *env, const floe_keyring *kr,
                     const char **reason, floe_err *err)
{
    if (env->key_id == NULL || env->key_id[0] == '\0' || env->sig_len == 0)
        return REFUSE(0, "envelope: unsigned, and this consumer takes signed messages only "
                         "(bus.keys_file)");
    const floe_sign_key *k = NULL;
    for (size_t i = 0; i < kr->n && k == NULL; i++)
        if (strcmp(kr->keys[i].name, env->key_id) == 0)
            k = &kr->keys[i];
    if (k == NULL)
        return REFUSE(1, "envelope: signed with key \"%.32s\", not in bus.keys_file", env->key_id);
    size_t tl = trailer_len(k);
    uint8_t head[1 + 1 + FLOE_SIGN_NAME_MAX + 1 + 1], mac[MAC_LEN];
    size_t h = trailer_head(head, k);
    if (env->sig_len != sig_len(k) || len < tl)
        return REFUSE(2, "envelope: malformed signature by key \"%.32s\"", k->name);
    const uint8_t *tail = (const uint8_t *)data + len - tl;
    /* The signed bytes are exactly those before a trailer written as floe_envelope_sign
     * writes it: anything else (fields after it, another length) is refused. */
    if (memcmp(head, tail, h) != 0)
        return REFUSE(2, "envelope: malformed signature by key \"%.32s\"", k->name);
    bool ok;
    if (k->kind == KIND_HMAC) /* in constant time: the trailer holds the MAC */
        ok = mac_of(k, data, len - tl, mac) && CRYPTO_memcmp(mac, tail + h, MAC_LEN) == 0;
    else
        ok = ed_verify(k, data, len - tl, tail + h);
    if (!ok)
        return REFUSE(2, "envelope: the signature by key \"%.32s\" does not match", k->name);
    return floe_sign_role_admits(k->role, k->name, (const char *const *)k->scope, k->n_scope,
                                 env->type, env->msg, reason, err);
}
