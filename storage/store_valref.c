#include "store_valref.h"

#include "floe_canon.h"
#include "floe_mem.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

bool
store_valref_wanted(const Floe__Value *v, size_t max)
{
    return v != NULL && v->kind_case != FLOE__VALUE__KIND_REF &&
           v->kind_case != FLOE__VALUE__KIND_BLOB && floe__value__get_packed_size(v) > max;
}

/* A private directory for one transfer's file (removed by done()). */
static floe_rc
scratch(const char *tmpdir, char dir[PATH_MAX], char path[PATH_MAX], floe_err *err)
{
    snprintf(dir, PATH_MAX, "%s/floe-valref-XXXXXX", tmpdir != NULL && tmpdir[0] ? tmpdir : "/tmp");
    if (mkdtemp(dir) == NULL)
        return floe_err_sys(err, FLOE_EIO, "value by reference: mkdtemp in %s: %s",
                            tmpdir != NULL && tmpdir[0] ? tmpdir : "/tmp", strerror(errno));
    snprintf(path, PATH_MAX, "%s/value", dir);
    return FLOE_OK;
}

static void
done(const char *dir, const char *path)
{
    unlink(path);
    rmdir(dir);
}

floe_rc
store_valref_put(store_blob *bs, const Floe__Value *v, const char *tmpdir, floe_arena *a,
                 Floe__Value **ref, floe_err *err)
{
    char canon[FLOE_CANON_HEX_LEN + 1], dir[PATH_MAX], path[PATH_MAX];
    if (floe_canon_value_digest(v, canon) != 0)
        return floe_err_sys(err, FLOE_ENOMEM, "value by reference: out of memory");
    size_t len = floe__value__get_packed_size(v);
    uint8_t *buf = floe_malloc(len ? len : 1);
    if (buf == NULL)
        return floe_err_sys(err, FLOE_ENOMEM, "value by reference: out of memory");
    floe__value__pack(v, buf);
    floe_rc rc = scratch(tmpdir, dir, path, err);
    if (rc != FLOE_OK) {
        floe_free(buf);
        return rc;
    }
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    size_t off = 0;
    while (fd != -1 && off < len) {
        ssize_t w = write(fd, buf + off, len - off);
        if (w == -1 && errno == EINTR)
            continue;
        if (w <= 0)
            break;
        off += (size_t)w;
    }
    floe_free(buf);
    if (fd == -1 || off < len || close(fd) != 0) {
        int e = errno;
        if (fd != -1 && off < len)
            close(fd);
        done(dir, path);
        return floe_err_sys(err, FLOE_EIO, "value by reference: writing %s: %s", path, strerror(e));
    }
    store_blob_ref br;
    rc = store_blob_put_file(bs, path, &br, err);
    done(dir, path);
    if (rc != FLOE_OK) {
        floe_err_prefix(err, "value by reference");
        return rc;
    }
    Floe__Value *out = floe_arena_alloc(a, sizeof(*out));
    Floe__ValueRef *r = floe_arena_alloc(a, sizeof(*r));
    if (out == NULL || r == NULL)
        return floe_err_sys(err, FLOE_ENOMEM, "value by reference: out of memory");
    floe__value__init(out);
    floe__value_ref__init(r);
    r->uri = floe_arena_strndup(a, br.uri, strlen(br.uri));
    r->digest = floe_arena_strndup(a, br.digest, strlen(br.digest));
    r->canon = floe_arena_strndup(a, canon, FLOE_CANON_HEX_LEN);
    r->size = br.size;
    if (r->uri == NULL || r->digest == NULL || r->canon == NULL)
        return floe_err_sys(err, FLOE_ENOMEM, "value by reference: out of memory");
    out->kind_case = FLOE__VALUE__KIND_REF;
    out->ref = r;
    *ref = out;
    return FLOE_OK;
}

floe_rc
store_valref_get(store_blob *bs, const Floe__Value *ref, const char *tmpdir, uint64_t max_bytes,
                 floe_arena *a, Floe__Value **out, floe_err *err)
{
    const Floe__ValueRef *r = ref != NULL ? ref->ref : NULL;
    if (ref == NULL || ref->kind_case != FLOE__VALUE__KIND_REF || r == NULL || r->uri == NULL)
        return floe_err_user(err, FLOE_EINVAL, "value by reference: no reference");
    if (r->size > max_bytes)
        return floe_err_user(err, FLOE_ETOOBIG,
                             "value by reference: %llu bytes, over the %llu allowed here",
                             (unsigned long long)r->size, (unsigned long long)max_bytes);
    char dir[PATH_MAX], path[PATH_MAX];
    floe_rc rc = scratch(tmpdir, dir, path, err);
    if (rc != FLOE_OK)
        return rc;
    if ((rc = store_blob_get_file(bs, r->uri, r->digest, path, err)) != FLOE_OK) {
        done(dir, path);
        floe_err_prefix(err, "value by reference %.100s", r->uri);
        return rc;
    }
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    uint8_t *buf = NULL;
    size_t got = 0;
    if (fd != -1 && fstat(fd, &st) == 0 && (uint64_t)st.st_size <= max_bytes &&
        (buf = floe_malloc((size_t)st.st_size + 1)) != NULL) {
        while (got < (size_t)st.st_size) {
            ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);
            if (n == -1 && errno == EINTR)
                continue;
            if (n <= 0)
                break;
            got += (size_t)n;
        }
    }
    bool whole = buf != NULL && got == (size_t)st.st_size;
    if (fd != -1)
        close(fd);
    done(dir, path);
    if (!whole) {
        floe_free(buf);
        return floe_err_sys(err, FLOE_EIO, "value by reference %.100s: not read whole", r->uri);
    }
    Floe__Value *v = floe__value__unpack(floe_arena_pb_allocator(a), got, buf);
    floe_free(buf);
    if (v == NULL)
        return floe_arena_exhausted(a)
                   ? floe_err_user(err, FLOE_ETOOBIG,
                                   "value by reference %.100s: too large once decoded", r->uri)
                   : floe_err_user(err, FLOE_EINVAL,
                                   "value by reference %.100s: not an encoded value", r->uri);
    if (v->kind_case == FLOE__VALUE__KIND_REF)
        return floe_err_user(err, FLOE_EINVAL, "value by reference %.100s: a reference again",
                             r->uri);
    *out = v;
    return FLOE_OK;
}

/* vals[i] with value v, as a new NamedValue from a. */
static floe_rc
replace(Floe__NamedValue **vals, size_t i, Floe__Value *v, floe_arena *a, floe_err *err)
{
    Floe__NamedValue *nv = floe_arena_alloc(a, sizeof(*nv));
    if (nv == NULL)
        return floe_err_sys(err, FLOE_ENOMEM, "value by reference: out of memory");
    floe__named_value__init(nv);
    nv->name = vals[i]->name;
    nv->value = v;
    vals[i] = nv;
    return FLOE_OK;
}

floe_rc
store_valref_resolve(store_blob *bs, Floe__NamedValue **vals, size_t n, const char *tmpdir,
                     uint64_t max_bytes, floe_arena *a, floe_err *err)
{
    for (size_t i = 0; i < n; i++) {
        if (vals[i] == NULL || vals[i]->value == NULL ||
            vals[i]->value->kind_case != FLOE__VALUE__KIND_REF)
            continue;
        Floe__Value *v;
        floe_rc rc = store_valref_get(bs, vals[i]->value, tmpdir, max_bytes, a, &v, err);
        if (rc == FLOE_OK)
            rc = replace(vals, i, v, a, err);
        if (rc != FLOE_OK) {
            floe_err_prefix(err, "\"%.64s\"", vals[i]->name);
            return rc;
        }
    }
    return FLOE_OK;
}

/* The largest value among vals[0..n) that could go by reference, or n. */
static size_t
largest(Floe__NamedValue *const *vals, size_t n, size_t *size)
{
    size_t best = n;
    *size = 0;
    for (size_t i = 0; i < n; i++) {
        size_t s = vals[i] != NULL ? floe__value__get_packed_size(vals[i]->value) : 0;
        if (vals[i] != NULL && store_valref_wanted(vals[i]->value, 0) && s > *size) {
            best = i;
            *size = s;
        }
    }
    return best;
}

/* The encoding of vals[0..n) together. */
static size_t
total_of(Floe__NamedValue *const *vals, size_t n)
{
    size_t t = 0;
    for (size_t i = 0; i < n; i++)
        t += vals[i] != NULL && vals[i]->value != NULL
                 ? floe__value__get_packed_size(vals[i]->value)
                 : 0;
    return t;
}

bool
store_valref_over(Floe__NamedValue *const *vals, size_t n, size_t max)
{
    size_t s;
    return total_of(vals, n) > max && largest(vals, n, &s) < n;
}

floe_rc
store_valref_shrink(store_blob *bs, Floe__NamedValue **vals, size_t n, size_t max,
                    const char *tmpdir, floe_arena *a, floe_err *err)
{
    /* The largest first, until what stays inline fits in max together: a message of many
     * medium values decodes as large as one of a big value. */
    for (size_t round = 0; round < n && total_of(vals, n) > max; round++) {
        size_t s, i = largest(vals, n, &s);
        if (i == n || s < 64)
            break; /* nothing left worth a reference */
        Floe__Value *ref;
        floe_rc rc = store_valref_put(bs, vals[i]->value, tmpdir, a, &ref, err);
        if (rc == FLOE_OK)
            rc = replace(vals, i, ref, a, err);
        if (rc != FLOE_OK) {
            floe_err_prefix(err, "\"%.64s\"", vals[i]->name);
            return rc;
        }
    }
    return FLOE_OK;
}
