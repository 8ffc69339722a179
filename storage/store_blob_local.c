/*
 * store_blob_local — the blob store in a local directory (or a shared mount):
 *
 *   <root>/sha256/<first 2 hex>/<64 hex>   the blobs, never modified once renamed in
 *   <root>/tmp/                           uploads in progress
 *
 * A put streams the file into a temporary file while hashing it, fsyncs it and renames
 * it to its content address, so a reader never sees a partial blob and two workers
 * uploading the same content race harmlessly (the second rename replaces identical
 * bytes). A temporary file a crashed process left is removed by the next process to
 * open the store, once nothing has written to it for STORE_BLOB_TMP_STALE_S (review L4).
 * A get copies the blob while hashing and refuses content that does not match its name,
 * so on-disk corruption is reported instead of handed to a task.
 */
#include "store_blob.h"

#include "floe_mem.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define BLOB_IO_CHUNK 65536
#define TMP_SWEEP_MAX 100000 /* entries looked at an open: its time is bounded */

typedef struct blob_local {
    char root[PATH_MAX - 160];
} blob_local;

static floe_rc
mkdir_p(const char *path, floe_err *err)
{
    char buf[PATH_MAX];
    if (snprintf(buf, sizeof(buf), "%s", path) >= (int)sizeof(buf))
        return floe_err_sys(err, FLOE_ETOOBIG, "blob store: path too long");
    for (char *p = buf + 1;; p++) {
        if (*p == '/' || *p == '\0') {
            char c = *p;
            *p = '\0';
            if (mkdir(buf, 0755) == -1 && errno != EEXIST)
                return floe_err_sys(err, FLOE_EIO, "blob store: mkdir %s: %s", buf,
                                    strerror(errno));
            *p = c;
            if (c == '\0')
                break;
        }
    }
    return FLOE_OK;
}

/* Removes tmp/put-* files unchanged for STORE_BLOB_TMP_STALE_S: a put in progress writes
 * to its file as it copies, so one that old was left by a process that died mid-put. By
 * descriptor and name (no path built from what is in the directory), links not followed. */
static void
tmp_sweep(const char *tmp)
{
    int fd = open(tmp, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    DIR *d = fd == -1 ? NULL : fdopendir(fd);
    if (d == NULL) {
        if (fd != -1)
            close(fd);
        return;
    }
    time_t before = time(NULL) - STORE_BLOB_TMP_STALE_S;
    unsigned seen = 0;
    struct dirent *e;
    while (seen++ < TMP_SWEEP_MAX && (e = readdir(d)) != NULL) {
        struct stat st;
        if (strncmp(e->d_name, "put-", 4) == 0 &&
            fstatat(fd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode) &&
            st.st_mtime < before)
            unlinkat(fd, e->d_name, 0);
    }
    closedir(d);
}

void *
store_blob_local_new(const char *root, floe_err *err)
{
    if (root == NULL || root[0] != '/' || strstr(root, "/../") != NULL) {
        floe_err_user(err, FLOE_EINVAL, "blob store: root \"%s\" must be an absolute path",
                      root != NULL ? root : "");
        return NULL;
    }
    blob_local *bl = floe_calloc(1, sizeof(*bl));
    char tmp[PATH_MAX];
    if (bl == NULL) {
        floe_err_sys(err, FLOE_ENOMEM, "blob store: out of memory");
        return NULL;
    }
    if (snprintf(bl->root, sizeof(bl->root), "%s", root) >= (int)sizeof(bl->root) - 80 ||
        snprintf(tmp, sizeof(tmp), "%s/tmp", root) >= (int)sizeof(tmp)) {
        floe_err_user(err, FLOE_ETOOBIG, "blob store: root path too long");
        floe_free(bl);
        return NULL;
    }
    if (mkdir_p(tmp, err) != FLOE_OK) {
        floe_free(bl);
        return NULL;
    }
    tmp_sweep(tmp);
    return bl;
}

static void
local_free(void *impl)
{
    floe_free(impl);
}

/* Copies in to out (either may be -1 to only hash), at most max bytes; digest in hex. */
static floe_rc
copy_hash(int in, int out, uint64_t max, uint64_t *size, char hex[FLOE_SHA256_HEX_LEN + 1],
          const char *what, floe_err *err)
{
    unsigned char *buf = floe_malloc(BLOB_IO_CHUNK);
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    floe_rc rc = FLOE_OK;
    uint64_t total = 0;
    if (buf == NULL || md == NULL || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1) {
        rc = floe_err_sys(err, FLOE_ENOMEM, "%s: out of memory", what);
        goto out;
    }
    for (;;) {
        ssize_t n = read(in, buf, BLOB_IO_CHUNK);
        if (n == -1 && errno == EINTR)
            continue;
        if (n == -1) {
            rc = floe_err_sys(err, FLOE_EIO, "%s: read: %s", what, strerror(errno));
            goto out;
        }
        if (n == 0)
            break;
        total += (uint64_t)n;
        if (total > max) {
            rc = floe_err_user(err, FLOE_ETOOBIG, "%s: larger than the blob limit of %llu bytes",
                               what, (unsigned long long)max);
            goto out;
        }
        EVP_DigestUpdate(md, buf, (size_t)n);
        for (ssize_t off = 0; out != -1 && off < n;) {
            ssize_t w = write(out, buf + off, (size_t)(n - off));
            if (w == -1 && errno == EINTR)
                continue;
            if (w == -1) {
                rc = floe_err_sys(err, FLOE_EIO, "%s: write: %s", what, strerror(errno));
                goto out;
            }
            off += w;
        }
    }
    unsigned char mdv[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    EVP_DigestFinal_ex(md, mdv, &mdlen);
    floe_sha256_hex_of(mdv, hex);
    *size = total;
out:
    EVP_MD_CTX_free(md);
    floe_free(buf);
    return rc;
}

static floe_rc
local_put(void *impl, const char *path, uint64_t max, store_blob_ref *ref, floe_err *err)
{
    blob_local *bl = impl;
    char tmp[PATH_MAX], dir[PATH_MAX - 80], final[PATH_MAX], hex[FLOE_SHA256_HEX_LEN + 1];
    uint64_t size = 0;
    floe_rc rc;
    int in = -1, out = -1;
    snprintf(tmp, sizeof(tmp), "%s/tmp/put-XXXXXX", bl->root);
    /* O_NONBLOCK: a FIFO a task left in its place must not block the open (review H6). */
    if ((in = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK)) == -1)
        return floe_err_user(err, errno == ENOENT ? FLOE_ENOTFOUND : FLOE_EIO,
                             "blob upload: open %s: %s", path, strerror(errno));
    struct stat st;
    if (fstat(in, &st) == -1 || !S_ISREG(st.st_mode)) {
        close(in);
        return floe_err_user(err, FLOE_EINVAL, "blob upload: %s is not a regular file", path);
    }
    if ((out = mkostemp(tmp, O_CLOEXEC)) == -1) {
        rc = floe_err_sys(err, FLOE_EIO, "blob store: create %s: %s", tmp, strerror(errno));
        goto fail_tmp;
    }
    if ((rc = copy_hash(in, out, max, &size, hex, "blob upload", err)) != FLOE_OK)
        goto fail;
    if (fchmod(out, 0444) == -1 || fsync(out) == -1) {
        rc = floe_err_sys(err, FLOE_EIO, "blob store: fsync %s: %s", tmp, strerror(errno));
        goto fail;
    }
    snprintf(dir, sizeof(dir), "%s/sha256/%.2s", bl->root, hex);
    snprintf(final, sizeof(final), "%s/%s", dir, hex);
    if ((rc = mkdir_p(dir, err)) != FLOE_OK)
        goto fail;
    if (rename(tmp, final) == -1) {
        rc = floe_err_sys(err, FLOE_EIO, "blob store: rename to %s: %s", final, strerror(errno));
        goto fail;
    }
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd != -1) {
        fsync(dfd); /* the rename itself is durable before the blob is referenced */
        close(dfd);
    }
    close(out);
    close(in);
    snprintf(ref->uri, sizeof(ref->uri), STORE_BLOB_URI_PREFIX "sha256/%s", hex);
    snprintf(ref->digest, sizeof(ref->digest), "sha256:%s", hex);
    ref->size = size;
    return FLOE_OK;
fail:
    close(out);
    unlink(tmp);
fail_tmp:
    close(in);
    return rc;
}

static floe_rc
local_get(void *impl, const char *hex, const char *dest, uint64_t max, floe_err *err)
{
    blob_local *bl = impl;
    char path[PATH_MAX], got[FLOE_SHA256_HEX_LEN + 1];
    uint64_t size = 0;
    floe_rc rc;
    snprintf(path, sizeof(path), "%s/sha256/%.2s/%s", bl->root, hex, hex);
    int in = open(path, O_RDONLY | O_CLOEXEC);
    if (in == -1) {
        if (errno == ENOENT)
            return floe_err_user(err, FLOE_ENOTFOUND,
                                 "blob " STORE_BLOB_URI_PREFIX "sha256/%.16s...: not in the store",
                                 hex);
        return floe_err_sys(err, FLOE_EIO, "blob store: open %s: %s", path, strerror(errno));
    }
    int out = open(dest, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (out == -1) {
        rc = floe_err_sys(err, FLOE_EIO, "blob fetch: create %s: %s", dest, strerror(errno));
        close(in);
        return rc;
    }
    rc = copy_hash(in, out, max, &size, got, "blob fetch", err);
    close(in);
    if (close(out) == -1 && rc == FLOE_OK)
        rc = floe_err_sys(err, FLOE_EIO, "blob fetch: close %s: %s", dest, strerror(errno));
    if (rc == FLOE_OK && strcmp(got, hex) != 0)
        rc = floe_err_sys(err, FLOE_EIO, "blob store: %s is corrupt (content digest %.16s...)",
                          path, got);
    if (rc != FLOE_OK)
        unlink(dest);
    return rc;
}

static floe_rc
local_open_read(void *impl, const char *hex, int *fd, uint64_t *size, floe_err *err)
{
    blob_local *bl = impl;
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/sha256/%.2s/%s", bl->root, hex, hex);
    int f = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    struct stat st;
    if (f == -1 && errno == ENOENT)
        return floe_err_user(err, FLOE_ENOTFOUND,
                             "blob " STORE_BLOB_URI_PREFIX "sha256/%s: not in the store", hex);
    if (f == -1 || fstat(f, &st) == -1 || !S_ISREG(st.st_mode)) {
        floe_rc rc = floe_err_sys(err, FLOE_EIO, "blob store: open %s: %s", path,
                                  f == -1 ? strerror(errno) : "not a regular file");
        if (f != -1)
            close(f);
        return rc;
    }
    *fd = f;
    *size = (uint64_t)st.st_size;
    return FLOE_OK;
}

static floe_rc
local_stat(void *impl, const char *hex, uint64_t *size, floe_err *err)
{
    int fd;
    floe_rc rc = local_open_read(impl, hex, &fd, size, err);
    if (rc == FLOE_OK)
        close(fd);
    return rc;
}

const store_blob_ops store_blob_local_ops = {
    .name = "local",
    .put_file = local_put,
    .get_file = local_get,
    .stat = local_stat,
    .open_read = local_open_read,
    .free = local_free,
};
