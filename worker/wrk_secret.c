/* A task's secrets: resolved from the worker's provider, handed over, masked (wrk_secret.h). */
#include "wrk_secret.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The value of secret name (validated: a plain file name) under provider, in the arena. */
static floe_rc
read_value(const char *provider, const char *name, floe_arena *arena, char **out, size_t *len,
           floe_err *err)
{
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/%s", provider, name);
    /* Mounted Kubernetes Secrets are symbolic links into a ..data directory: followed,
     * since name cannot leave the provider's directory. */
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd == -1)
        return floe_err_sys(err, FLOE_ENOTFOUND,
                            "secret %s: not in this worker's worker.secrets_dir (%s)", name,
                            strerror(errno));
    if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode) || st.st_size > WRK_SECRET_MAX) {
        close(fd);
        return floe_err_sys(err, FLOE_EINVAL,
                            "secret %s: not a regular file of at most %d bytes in "
                            "worker.secrets_dir",
                            name, WRK_SECRET_MAX);
    }
    char *v = floe_arena_alloc(arena, (size_t)st.st_size + 1);
    ssize_t n = v != NULL ? read(fd, v, (size_t)st.st_size) : -1;
    close(fd);
    if (n != st.st_size)
        return floe_err_sys(err, FLOE_EIO, "secret %s: could not be read", name);
    v[n] = '\0';
    *out = v;
    *len = (size_t)n;
    return FLOE_OK;
}

static floe_rc
write_file(const char *dir, const char *file, const char *v, size_t len, floe_err *err)
{
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/%s", dir, file);
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0400);
    bool ok = fd != -1 && write(fd, v, len) == (ssize_t)len;
    if (fd != -1)
        close(fd);
    if (!ok)
        return floe_err_sys(err, FLOE_EIO, "secrets: cannot write the file %s: %s", file,
                            strerror(errno));
    return FLOE_OK;
}

floe_rc
wrk_secrets_resolve(const char *provider, const Floe__Container *c, const char *att_dir,
                    floe_arena *arena, wrk_secrets *out, floe_err *err)
{
    memset(out, 0, sizeof(*out));
    if (c == NULL || c->n_secrets == 0)
        return FLOE_OK;
    if (provider == NULL || provider[0] == '\0')
        return floe_err_sys(err, FLOE_ENOTFOUND,
                            "the task needs secrets and this worker has no provider "
                            "(worker.secrets_dir)");
    if (c->n_secrets > FLOE_SECRETS_MAX)
        return floe_err_user(err, FLOE_EINVAL, "more than %d secrets", FLOE_SECRETS_MAX);
    out->env = floe_arena_alloc(arena, c->n_secrets * sizeof(*out->env));
    if (out->env == NULL)
        return floe_err_sys(err, FLOE_ENOMEM, "secrets: out of memory");
    for (size_t i = 0; i < c->n_secrets; i++) {
        const Floe__SecretRef *r = c->secrets[i];
        floe_rc rc = floe_secret_ref_check(r->name, r->env, r->file, err);
        if (rc != FLOE_OK)
            return rc;
        char *v;
        size_t len;
        if ((rc = read_value(provider, r->name, arena, &v, &len, err)) != FLOE_OK)
            return rc;
        out->vals[out->n_vals].v = v;
        out->vals[out->n_vals].len = len;
        out->n_vals++;
        if (r->env[0] != '\0') {
            /* A variable: one trailing newline dropped (`echo pw > file`), no NUL inside. */
            size_t vl = len > 0 && v[len - 1] == '\n' ? len - 1 : len;
            if (memchr(v, '\0', vl) != NULL)
                return floe_err_sys(err, FLOE_EINVAL,
                                    "secret %s: holds a NUL byte, which a variable cannot carry",
                                    r->name);
            size_t el = strlen(r->env) + vl + 2;
            char *e = floe_arena_alloc(arena, el);
            if (e == NULL)
                return floe_err_sys(err, FLOE_ENOMEM, "secrets: out of memory");
            snprintf(e, el, "%s=%.*s", r->env, (int)vl, v);
            out->env[out->n_env++] = e;
            out->vals[out->n_vals - 1].len = vl;
            continue;
        }
        if (out->dir == NULL) {
            size_t dl = strlen(att_dir) + sizeof("/secrets");
            char *dir = floe_arena_alloc(arena, dl);
            if (dir == NULL)
                return floe_err_sys(err, FLOE_ENOMEM, "secrets: out of memory");
            snprintf(dir, dl, "%s/secrets", att_dir);
            if (mkdir(dir, 0700) == -1)
                return floe_err_sys(err, FLOE_EIO, "secrets: cannot make %s: %s", dir,
                                    strerror(errno));
            out->dir = dir;
        }
        if ((rc = write_file(out->dir, r->file, v, len, err)) != FLOE_OK)
            return rc;
    }
    /* Longest first: a value holding another is masked whole, not around the other. */
    for (size_t i = 1; i < out->n_vals; i++)
        for (size_t j = i; j > 0 && out->vals[j].len > out->vals[j - 1].len; j--) {
            __typeof__(out->vals[0]) t = out->vals[j];
            out->vals[j] = out->vals[j - 1];
            out->vals[j - 1] = t;
        }
    if (out->n_vals > 0 && out->vals[0].len >= WRK_SECRET_MASK_MIN)
        out->longest = out->vals[0].len;
    return FLOE_OK;
}

bool
wrk_secrets_mask(const wrk_secrets *s, char *buf, size_t len)
{
    bool masked = false;
    for (size_t i = 0; i < s->n_vals; i++) {
        size_t vl = s->vals[i].len;
        if (vl < WRK_SECRET_MASK_MIN || vl > len)
            continue;
        for (char *p = buf; (p = memmem(p, len - (size_t)(p - buf), s->vals[i].v, vl)) != NULL;
             p += vl) {
            memset(p, '*', vl);
            masked = true;
        }
    }
    return masked;
}

floe_rc
wrk_secrets_mask_file(const wrk_secrets *s, const char *path, floe_err *err)
{
    if (s->longest == 0)
        return FLOE_OK;
    enum { BLOCK = 65536 };
    size_t cap = BLOCK + s->longest;
    char *buf = malloc(cap);
    int fd = open(path, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
    floe_rc rc = FLOE_OK;
    if (fd == -1 || buf == NULL) {
        if (fd != -1)
            close(fd);
        free(buf);
        return fd == -1 && errno == ENOENT
                   ? FLOE_OK
                   : floe_err_sys(err, FLOE_EIO, "masking secrets in %s: cannot open it", path);
    }
    /* Blocks overlapping by longest-1 bytes: a value across a block's end is whole in the
     * next read. */
    for (off_t off = 0;; off += BLOCK) {
        ssize_t n = pread(fd, buf, cap, off);
        if (n <= 0) {
            if (n == -1)
                rc =
                    floe_err_sys(err, FLOE_EIO, "masking secrets in %s: %s", path, strerror(errno));
            break;
        }
        if (wrk_secrets_mask(s, buf, (size_t)n) && pwrite(fd, buf, (size_t)n, off) != n) {
            rc = floe_err_sys(err, FLOE_EIO, "masking secrets in %s: %s", path, strerror(errno));
            break;
        }
        if ((size_t)n < cap)
            break;
    }
    OPENSSL_cleanse(buf, cap);
    free(buf);
    close(fd);
    return rc;
}

void
wrk_secrets_wipe(wrk_secrets *s)
{
    for (size_t i = 0; i < s->n_vals; i++)
        OPENSSL_cleanse(s->vals[i].v, s->vals[i].len);
    for (size_t i = 0; i < s->n_env; i++)
        OPENSSL_cleanse((char *)s->env[i], strlen(s->env[i]));
    s->n_vals = s->n_env = 0;
    s->longest = 0;
}
