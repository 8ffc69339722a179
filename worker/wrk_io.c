/*
 * wrk_io — see wrk_io.h. Every path is <attempt dir>/<fixed part>/<checked name>: a name
 * from a dispatch reaches the file system only after wrk_io_name_ok, and files a task
 * wrote are opened with O_NOFOLLOW so a symlink cannot make the worker read (and upload)
 * a file of its own.
 */
#include "wrk_io.h"

#include "floe_mem.h"
#include "floe_value.h"

#include <errno.h>
#include <fcntl.h>
#include <dirent.h>
#include <inttypes.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

bool
wrk_io_name_ok(const char *name)
{
    if (name == NULL || !((name[0] >= 'A' && name[0] <= 'Z') ||
                          (name[0] >= 'a' && name[0] <= 'z') || name[0] == '_'))
        return false;
    size_t i = 1;
    for (; name[i] != '\0'; i++) {
        char c = name[i];
        if (i >= WRK_IO_NAME_MAX || !((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                                      (c >= '0' && c <= '9') || c == '_'))
            return false;
    }
    return true;
}

/* replace: a file of the worker's own may be there (inputs.json in a reused directory),
 * overwritten and then cut to length: truncating it first would free its block (on a
 * filesystem mounted with discard, a discard) and allocate another. */
static floe_rc
write_all(const char *path, const char *data, size_t len, bool replace, floe_err *err)
{
    int fd = open(path, O_WRONLY | O_CREAT | (replace ? 0 : O_EXCL) | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (fd == -1)
        return floe_err_sys(err, FLOE_EIO, "create %s: %s", path, strerror(errno));
    for (size_t off = 0; off < len;) {
        ssize_t w = write(fd, data + off, len - off);
        if (w == -1 && errno == EINTR)
            continue;
        if (w == -1) {
            floe_rc rc = floe_err_sys(err, FLOE_EIO, "write %s: %s", path, strerror(errno));
            close(fd);
            return rc;
        }
        off += (size_t)w;
    }
    if (replace && ftruncate(fd, (off_t)len) == -1) {
        floe_rc rc = floe_err_sys(err, FLOE_EIO, "truncate %s: %s", path, strerror(errno));
        close(fd);
        return rc;
    }
    if (close(fd) == -1)
        return floe_err_sys(err, FLOE_EIO, "close %s: %s", path, strerror(errno));
    return FLOE_OK;
}

/* The text form of a non-blob value into a malloc'd string. */
static char *
value_text(const Floe__Value *v)
{
    char buf[64];
    switch (v->kind_case) {
    case FLOE__VALUE__KIND_INTEGER:
        snprintf(buf, sizeof(buf), "%" PRId64, v->integer);
        return floe_strdup(buf);
    case FLOE__VALUE__KIND_FLOAT:
        snprintf(buf, sizeof(buf), "%.17g", v->float_);
        return floe_strdup(buf);
    case FLOE__VALUE__KIND_STRING:
        return floe_strdup(v->string != NULL ? v->string : "");
    case FLOE__VALUE__KIND_BOOLEAN:
        return floe_strdup(v->boolean ? "true" : "false");
    case FLOE__VALUE__KIND_DATETIME_UNIX_US:
        floe_datetime_format(v->datetime_unix_us, buf, sizeof(buf));
        return floe_strdup(buf);
    case FLOE__VALUE__KIND_DURATION_US:
        floe_duration_format(v->duration_us, buf, sizeof(buf));
        return floe_strdup(buf);
    default: {
        json_t *j = floe_value_to_json(v);
        char *s = j != NULL ? json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
        json_decref(j);
        char *copy = s != NULL ? floe_strdup(s) : NULL;
        free(s);
        return copy;
    }
    }
}

floe_rc
wrk_io_inputs(const char *dir, Floe__NamedValue *const *inputs, size_t n, store_blob *bs,
              char **json_out, floe_err *err)
{
    char path[PATH_MAX];
    static const char *const subdirs[] = {"inputs", "outputs", "tmp"};
    floe_rc rc = FLOE_OK;
    json_t *all = json_object();
    *json_out = NULL;
    if (all == NULL)
        return floe_err_sys(err, FLOE_ENOMEM, "out of memory");
    for (size_t i = 0; i < 3; i++) {
        snprintf(path, sizeof(path), "%s/%s", dir, subdirs[i]);
        /* outputs/ and tmp/ are the task's: writable whatever uid it runs as. A directory
         * reused (wrk_dirs.c) has them, reset. */
        if (mkdir(path, i == 0 ? 0755 : 0777) == -1 ? errno != EEXIST
                                                    : i > 0 && chmod(path, 01777) == -1) {
            rc = floe_err_sys(err, FLOE_EIO, "mkdir %s: %s", path, strerror(errno));
            goto out;
        }
    }
    for (size_t i = 0; i < n; i++) {
        const Floe__NamedValue *nv = inputs[i];
        if (nv == NULL || !wrk_io_name_ok(nv->name) || nv->value == NULL) {
            rc = floe_err_user(err, FLOE_EINVAL, "input %zu: \"%.64s\" is not a valid input", i,
                               nv != NULL && nv->name != NULL ? nv->name : "");
            goto out;
        }
        snprintf(path, sizeof(path), "%s/inputs/%s", dir, nv->name);
        if (nv->value->kind_case == FLOE__VALUE__KIND_BLOB) {
            const Floe__Blob *b = nv->value->blob;
            if (b == NULL) {
                rc = floe_err_user(err, FLOE_EINVAL, "input \"%s\": empty blob", nv->name);
                goto out;
            }
            if (bs != NULL &&
                (rc = store_blob_get_file(bs, b->uri, b->digest, path, err)) != FLOE_OK) {
                floe_err_prefix(err, "input \"%s\"", nv->name);
                goto out;
            }
        } else {
            char *text = value_text(nv->value);
            if (text == NULL) {
                rc = floe_err_sys(err, FLOE_ENOMEM, "out of memory");
                goto out;
            }
            rc = write_all(path, text, strlen(text), false, err);
            floe_free(text);
            if (rc != FLOE_OK)
                goto out;
        }
        json_t *j = floe_value_to_json(nv->value);
        if (j == NULL || json_object_set_new(all, nv->name, j) != 0) {
            rc = floe_err_sys(err, FLOE_ENOMEM, "out of memory");
            goto out;
        }
    }
    char *s = json_dumps(all, JSON_COMPACT | JSON_SORT_KEYS);
    if (s == NULL) {
        rc = floe_err_sys(err, FLOE_ENOMEM, "out of memory");
        goto out;
    }
    snprintf(path, sizeof(path), "%s/inputs.json", dir);
    rc = write_all(path, s, strlen(s), true, err);
    if (rc == FLOE_OK && (*json_out = floe_strdup(s)) == NULL)
        rc = floe_err_sys(err, FLOE_ENOMEM, "out of memory");
    free(s);
out:
    json_decref(all);
    return rc;
}

/* Reads at most max bytes of a task-written file into arena (NUL-terminated). */
static floe_rc
read_output(const char *path, const char *name, uint64_t max, floe_arena *arena, char **out,
            size_t *len, floe_err *err)
{
    /* O_NONBLOCK: opening a FIFO with no writer would block this thread for ever, the
     * attempt's lease renewed all along (review H6); only a regular file is read. */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
    struct stat st;
    if (fd == -1) {
        if (errno == ENOENT)
            return floe_err_user(err, FLOE_ENOTFOUND,
                                 "output \"%s\" was not written (the task must write the file "
                                 "$FLOE_OUTPUTS/%s)",
                                 name, name);
        return floe_err_user(err, FLOE_EINVAL, "output \"%s\": cannot open: %s", name,
                             strerror(errno));
    }
    if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
        close(fd);
        return floe_err_user(err, FLOE_EINVAL, "output \"%s\": not a regular file", name);
    }
    if ((uint64_t)st.st_size > max) {
        close(fd);
        return floe_err_user(err, FLOE_ETOOBIG,
                             "output \"%s\": %lld bytes, more than the %llu allowed for a "
                             "non-blob output (declare it as a blob)",
                             name, (long long)st.st_size, (unsigned long long)max);
    }
    char *buf = floe_arena_alloc(arena, (size_t)st.st_size + 1);
    size_t got = 0;
    if (buf == NULL) {
        close(fd);
        return floe_err_sys(err, FLOE_ENOMEM, "out of memory");
    }
    while (got < (size_t)st.st_size) {
        ssize_t r = read(fd, buf + got, (size_t)st.st_size - got);
        if (r == -1 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    close(fd);
    buf[got] = '\0';
    *out = buf;
    *len = got;
    return FLOE_OK;
}

static floe_rc
output_value(const char *dir, const Floe__Variable *var, store_blob *bs, uint64_t max,
             floe_arena *arena, Floe__Value **out, floe_err *err)
{
    char path[PATH_MAX];
    floe_rc rc;
    snprintf(path, sizeof(path), "%s/outputs/%s", dir, var->name);
    int simple = var->type != NULL ? (int)var->type->simple : 0;
    if (simple == FLOE__SIMPLE_TYPE__SIMPLE_TYPE_BLOB) {
        store_blob_ref ref;
        struct stat st;
        if (lstat(path, &st) == -1)
            return floe_err_user(err, FLOE_ENOTFOUND,
                                 "output \"%s\" was not written (the task must write the file "
                                 "$FLOE_OUTPUTS/%s)",
                                 var->name, var->name);
        if (!S_ISREG(st.st_mode))
            return floe_err_user(err, FLOE_EINVAL, "output \"%s\": not a regular file", var->name);
        if ((rc = store_blob_put_file(bs, path, &ref, err)) != FLOE_OK) {
            floe_err_prefix(err, "output \"%s\"", var->name);
            return rc;
        }
        Floe__Value *v = floe_arena_alloc(arena, sizeof(*v));
        Floe__Blob *b = floe_arena_alloc(arena, sizeof(*b));
        if (v == NULL || b == NULL)
            return floe_err_sys(err, FLOE_ENOMEM, "out of memory");
        floe__value__init(v);
        floe__blob__init(b);
        b->uri = floe_arena_strndup(arena, ref.uri, strlen(ref.uri));
        b->digest = floe_arena_strndup(arena, ref.digest, strlen(ref.digest));
        b->size = ref.size;
        if (b->uri == NULL || b->digest == NULL)
            return floe_err_sys(err, FLOE_ENOMEM, "out of memory");
        v->kind_case = FLOE__VALUE__KIND_BLOB;
        v->blob = b;
        *out = v;
        return FLOE_OK;
    }
    char *text = NULL;
    size_t len = 0;
    if ((rc = read_output(path, var->name, max, arena, &text, &len, err)) != FLOE_OK)
        return rc;
    if (memchr(text, '\0', len) != NULL || !floe_utf8_valid(text, len))
        return floe_err_user(err, FLOE_EINVAL, "output \"%s\": not UTF-8 text", var->name);
    if (simple == FLOE__SIMPLE_TYPE__SIMPLE_TYPE_STRING) {
        if (len > 0 && text[len - 1] == '\n')
            text[--len] = '\0';
    } else {
        while (len > 0 && (text[len - 1] == '\n' || text[len - 1] == ' ' || text[len - 1] == '\t' ||
                           text[len - 1] == '\r'))
            text[--len] = '\0';
        while (*text == ' ' || *text == '\t' || *text == '\n' || *text == '\r')
            text++;
    }
    if ((rc = floe_value_from_text(var->type, text, arena, out, err)) != FLOE_OK) {
        floe_err_prefix(err, "output \"%s\"", var->name);
        err->cls = FLOE_ERR_USER;
        return rc;
    }
    return FLOE_OK;
}

floe_rc
wrk_io_outputs(const char *dir, Floe__Variable *const *vars, size_t n, store_blob *bs, uint64_t max,
               floe_arena *arena, Floe__NamedValue ***out, floe_err *err)
{
    Floe__NamedValue **nvs = floe_arena_alloc(arena, (n + 1) * sizeof(*nvs));
    if (nvs == NULL)
        return floe_err_sys(err, FLOE_ENOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        const Floe__Variable *var = vars[i];
        if (var == NULL || !wrk_io_name_ok(var->name) || var->type == NULL)
            return floe_err_user(err, FLOE_EINVAL, "output %zu: not a valid declaration", i);
        Floe__NamedValue *nv = floe_arena_alloc(arena, sizeof(*nv));
        if (nv == NULL)
            return floe_err_sys(err, FLOE_ENOMEM, "out of memory");
        floe__named_value__init(nv);
        nv->name = var->name;
        floe_rc rc = output_value(dir, var, bs, max, arena, &nv->value, err);
        if (rc != FLOE_OK)
            return rc;
        nvs[i] = nv;
    }
    *out = nvs;
    return FLOE_OK;
}

/* Length of the valid UTF-8 sequence at s (1..4), or 0. */
static size_t
utf8_seq(const unsigned char *s, size_t left)
{
    size_t need = s[0] < 0x80         ? 1
                  : (s[0] >> 5) == 6  ? 2
                  : (s[0] >> 4) == 14 ? 3
                  : (s[0] >> 3) == 30 ? 4
                                      : 0;
    if (need == 0 || need > left)
        return 0;
    for (size_t i = 1; i < need; i++)
        if ((s[i] & 0xc0) != 0x80)
            return 0;
    return floe_utf8_valid((const char *)s, need) ? need : 0;
}

size_t
wrk_io_tail(const char *path, char *buf, size_t max)
{
    buf[0] = '\0';
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
    struct stat st;
    if (fd == -1 || max == 0)
        goto out;
    if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode))
        goto out;
    off_t from = st.st_size > (off_t)max ? st.st_size - (off_t)max : 0;
    ssize_t n = pread(fd, buf, max, from);
    if (n <= 0)
        goto out;
    size_t start = 0;
    if (from > 0) { /* begin at a line when one starts in the first quarter */
        for (size_t i = 0; i < (size_t)n / 4; i++)
            if (buf[i] == '\n') {
                start = i + 1;
                break;
            }
    }
    size_t o = 0;
    for (size_t i = start; i < (size_t)n;) {
        size_t k = utf8_seq((const unsigned char *)buf + i, (size_t)n - i);
        if (k == 0 || (k == 1 && buf[i] == '\0')) {
            buf[o++] = '?';
            i++;
        } else {
            memmove(buf + o, buf + i, k);
            o += k;
            i += k;
        }
    }
    buf[o] = '\0';
    close(fd);
    return o;
out:
    if (fd != -1)
        close(fd);
    return 0;
}

bool
wrk_io_put_log(store_blob *bs, const char *path, store_blob_ref *ref)
{
    struct stat st;
    floe_err err = {0};
    return stat(path, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0 &&
           store_blob_put_file(bs, path, ref, &err) == FLOE_OK && ref->size > 0;
}

/* Removal by descriptors only: each directory is opened relative to its parent's,
 * O_NOFOLLOW, so an entry that a process the task left behind swaps for a symlink while
 * this runs is removed as the link it has become, never followed (review L3: nftw went by
 * path, and "dir/sub/file" follows sub wherever it points by the time of the unlink).
 * A descriptor is held for each level down to RM_DEPTH; a directory deeper than that is
 * moved up to the top directory being emptied and removed from there in a later round, so
 * any depth is removed with at most RM_DEPTH descriptors. */
#define RM_DEPTH 32
#define RM_ROUNDS 65536

typedef struct rm_ctx {
    int top;           /* the directory being emptied */
    unsigned hoisted;  /* directories moved up to it this round */
    unsigned long seq; /* names for them */
} rm_ctx;

static bool rm_entry(rm_ctx *c, int dfd, const char *name, int depth);

/* Removes what the directory open at fd (taken, closed here) holds. */
static bool
rm_children(rm_ctx *c, int fd, int depth)
{
    DIR *d = fdopendir(fd);
    if (d == NULL) {
        close(fd);
        return false;
    }
    rewinddir(d); /* a dup of the top shares its offset with the last round's */
    bool ok = true;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
            ok = rm_entry(c, dirfd(d), e->d_name, depth) && ok;
    closedir(d);
    return ok;
}

/* Moves directory name (of dfd) up to the top under a name no entry has. */
static bool
rm_hoist(rm_ctx *c, int dfd, const char *name)
{
    for (int tries = 0; tries < 16; tries++) {
        char up[48];
        snprintf(up, sizeof(up), ".floe-rm-%lu", c->seq++);
        if (renameat2(dfd, name, c->top, up, RENAME_NOREPLACE) == 0) {
            c->hoisted++;
            return true;
        }
        if (errno != EEXIST)
            return errno == ENOENT;
    }
    return false;
}

static bool
rm_entry(rm_ctx *c, int dfd, const char *name, int depth)
{
    if (unlinkat(dfd, name, 0) == 0 || errno == ENOENT)
        return true;
    if (errno != EISDIR && errno != EPERM)
        return false;
    if (depth >= RM_DEPTH)
        return rm_hoist(c, dfd, name);
    int fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd == -1)
        return errno == ENOENT;
    bool ok = rm_children(c, fd, depth + 1);
    return (unlinkat(dfd, name, AT_REMOVEDIR) == 0 || errno == ENOENT) && ok;
}

bool
wrk_io_empty_fd(int fd)
{
    rm_ctx c = {.top = fd};
    bool ok = true;
    for (int round = 0; round < RM_ROUNDS; round++) {
        int own = dup(fd); /* rm_children closes what it is given */
        if (own == -1)
            return false;
        c.hoisted = 0;
        ok = rm_children(&c, own, 0);
        if (c.hoisted == 0)
            return ok;
    }
    return false;
}

bool
wrk_io_rm_at(int dfd, const char *name)
{
    if (unlinkat(dfd, name, 0) == 0 || errno == ENOENT)
        return true;
    if (errno != EISDIR && errno != EPERM)
        return false;
    int fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd == -1)
        return errno == ENOENT;
    bool ok = wrk_io_empty_fd(fd);
    close(fd);
    return (unlinkat(dfd, name, AT_REMOVEDIR) == 0 || errno == ENOENT) && ok;
}

floe_rc
wrk_io_rmtree(const char *dir)
{
    const char *slash = strrchr(dir, '/');
    const char *name = slash != NULL ? slash + 1 : dir;
    if (*name == '\0' || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
        return FLOE_EINVAL;
    char parent[PATH_MAX] = ".";
    if (slash != NULL) {
        size_t len = slash == dir ? 1 : (size_t)(slash - dir);
        if (len >= sizeof(parent))
            return FLOE_EINVAL;
        memcpy(parent, dir, len);
        parent[len] = '\0';
    }
    int dfd = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd == -1)
        return errno == ENOENT ? FLOE_OK : FLOE_EIO;
    bool ok = wrk_io_rm_at(dfd, name);
    close(dfd);
    return ok ? FLOE_OK : FLOE_EIO;
}
