/*
 * store_blob and the worker's attempt files (wrk_io), on a temporary directory: content
 * addressing, atomic idempotent puts, uri validation (no path traversal), corruption
 * detected on read, size limits; inputs materialised in their text forms; outputs typed,
 * with the errors a user sees for missing, mistyped, oversized and symlinked outputs.
 * Uploads a crash left half-done are removed when the store is next opened (review L4).
 */
#include "floe_arena.h"
#include "floe_digest.h"
#include "store_blob.h"
#include "store_valref.h"
#include "floe_canon.h"
#include "wrk_io.h"

#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

static char root[256];

static void
write_file(const char *path, const char *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    fclose(f);
}

static char *
read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    static char buf[65536];
    *len = fread(buf, 1, sizeof(buf), f);
    fclose(f);
    return buf;
}

static int
setup(void **state)
{
    (void)state;
    snprintf(root, sizeof(root), "/tmp/floe-test-blob-XXXXXX");
    assert_non_null(mkdtemp(root));
    return 0;
}

static int
teardown(void **state)
{
    (void)state;
    wrk_io_rmtree(root);
    return 0;
}

static void
test_put_get_roundtrip(void **state)
{
    (void)state;
    char store_dir[300], src[300], dst[300];
    snprintf(store_dir, sizeof(store_dir), "%s/store", root);
    snprintf(src, sizeof(src), "%s/src", root);
    floe_err err = {0};
    store_blob *bs = store_blob_open(store_dir, 1 << 20, &err);
    assert_non_null(bs);
    const char data[] = "binary\0data\n\xff\xfe";
    write_file(src, data, sizeof(data));
    store_blob_ref ref, again;
    assert_int_equal(store_blob_put_file(bs, src, &ref, &err), FLOE_OK);
    char hex[FLOE_SHA256_HEX_LEN + 1];
    floe_sha256_hex(data, sizeof(data), hex);
    char want[128];
    snprintf(want, sizeof(want), "floe://blobs/sha256/%s", hex);
    assert_string_equal(ref.uri, want);
    assert_int_equal(ref.size, sizeof(data));
    assert_true(strncmp(ref.digest, "sha256:", 7) == 0 && strcmp(ref.digest + 7, hex) == 0);
    /* Idempotent: the same content, the same reference, nothing left in tmp/. */
    assert_int_equal(store_blob_put_file(bs, src, &again, &err), FLOE_OK);
    assert_string_equal(again.uri, ref.uri);
    char tmpd[320];
    snprintf(tmpd, sizeof(tmpd), "%s/tmp", store_dir);
    assert_int_equal(rmdir(tmpd), 0); /* empty */
    mkdir(tmpd, 0755);
    snprintf(dst, sizeof(dst), "%s/dst", root);
    assert_int_equal(store_blob_get_file(bs, ref.uri, ref.digest, dst, &err), FLOE_OK);
    size_t len;
    char *got = read_all(dst, &len);
    assert_int_equal(len, sizeof(data));
    assert_memory_equal(got, data, len);
    /* dest must not exist: no overwriting through a get */
    assert_int_not_equal(store_blob_get_file(bs, ref.uri, NULL, dst, &err), FLOE_OK);
    store_blob_free(bs);
}

static void
test_bad_uris_touch_nothing(void **state)
{
    (void)state;
    char store_dir[300], dst[300];
    snprintf(store_dir, sizeof(store_dir), "%s/store2", root);
    snprintf(dst, sizeof(dst), "%s/never", root);
    floe_err err = {0};
    store_blob *bs = store_blob_open(store_dir, 1 << 20, &err);
    assert_non_null(bs);
    const char *bad[] = {
        "floe://blobs/sha256/../../../etc/passwd",
        "floe://blobs/sha256/" /* empty */,
        "floe://blobs/sha256/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        "floe://blobs/sha256/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa/x",
        "s3://bucket/key",
        "/etc/passwd",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        floe_err_clear(&err);
        assert_int_equal(store_blob_get_file(bs, bad[i], NULL, dst, &err), FLOE_EINVAL);
        assert_int_equal(err.cls, FLOE_ERR_USER);
        assert_non_null(strstr(err.msg, "is not in the blob store"));
    }
    struct stat st;
    assert_int_equal(stat(dst, &st), -1);
    /* A well-formed uri that is absent, and a digest that disagrees with the uri. */
    const char *absent =
        "floe://blobs/sha256/0000000000000000000000000000000000000000000000000000000000000000";
    assert_int_equal(store_blob_get_file(bs, absent, NULL, dst, &err), FLOE_ENOTFOUND);
    assert_int_equal(store_blob_get_file(bs, absent, "sha256:1111", dst, &err), FLOE_EINVAL);
    assert_null(store_blob_open("relative/root", 1, &err));
    store_blob_free(bs);
}

static void
test_corruption_and_limits(void **state)
{
    (void)state;
    char store_dir[300], src[300], dst[300], path[600];
    snprintf(store_dir, sizeof(store_dir), "%s/store3", root);
    snprintf(src, sizeof(src), "%s/src3", root);
    snprintf(dst, sizeof(dst), "%s/dst3", root);
    floe_err err = {0};
    store_blob *bs = store_blob_open(store_dir, 16, &err);
    write_file(src, "0123456789", 10);
    store_blob_ref ref;
    assert_int_equal(store_blob_put_file(bs, src, &ref, &err), FLOE_OK);
    /* Flip the stored bytes: a read refuses them and leaves no destination file. */
    const char *hex = ref.uri + strlen("floe://blobs/sha256/");
    snprintf(path, sizeof(path), "%s/sha256/%.2s/%s", store_dir, hex, hex);
    chmod(path, 0644);
    write_file(path, "9876543210", 10);
    assert_int_equal(store_blob_get_file(bs, ref.uri, NULL, dst, &err), FLOE_EIO);
    assert_non_null(strstr(err.msg, "corrupt"));
    struct stat st;
    assert_int_equal(stat(dst, &st), -1);
    /* Over the size limit. */
    write_file(src, "01234567890123456789", 20);
    assert_int_equal(store_blob_put_file(bs, src, &ref, &err), FLOE_ETOOBIG);
    store_blob_free(bs);
}

static Floe__NamedValue *
nv_int(const char *name, int64_t v, Floe__NamedValue *nv, Floe__Value *val)
{
    floe__named_value__init(nv);
    floe__value__init(val);
    val->kind_case = FLOE__VALUE__KIND_INTEGER;
    val->integer = v;
    nv->name = (char *)name;
    nv->value = val;
    return nv;
}

static void
test_inputs_and_outputs(void **state)
{
    (void)state;
    char store_dir[300], dir[300], path[400];
    snprintf(store_dir, sizeof(store_dir), "%s/store4", root);
    snprintf(dir, sizeof(dir), "%s/att", root);
    mkdir(dir, 0755);
    floe_err err = {0};
    store_blob *bs = store_blob_open(store_dir, 1 << 20, &err);
    Floe__NamedValue nv[2], *pnv[2];
    Floe__Value v[2];
    pnv[0] = nv_int("count", 42, &nv[0], &v[0]);
    floe__named_value__init(&nv[1]);
    floe__value__init(&v[1]);
    v[1].kind_case = FLOE__VALUE__KIND_STRING;
    v[1].string = "héllo\n";
    nv[1].name = "text";
    nv[1].value = &v[1];
    pnv[1] = &nv[1];
    char *json = NULL;
    assert_int_equal(wrk_io_inputs(dir, pnv, 2, bs, &json, &err), FLOE_OK);
    assert_string_equal(json, "{\"count\":42,\"text\":\"héllo\\n\"}");
    free(json);
    size_t len;
    snprintf(path, sizeof(path), "%s/inputs/count", dir);
    char *got = read_all(path, &len);
    assert_int_equal(len, 2);
    assert_memory_equal(got, "42", 2);
    snprintf(path, sizeof(path), "%s/inputs/text", dir);
    got = read_all(path, &len);
    assert_memory_equal(got, "héllo\n", len);

    /* Outputs: an integer with whitespace, a string with one trailing newline dropped, a
     * blob uploaded as written. */
    Floe__LiteralType t_int = FLOE__LITERAL_TYPE__INIT, t_str = FLOE__LITERAL_TYPE__INIT,
                      t_blob = FLOE__LITERAL_TYPE__INIT;
    t_int.simple = FLOE__SIMPLE_TYPE__SIMPLE_TYPE_INTEGER;
    t_str.simple = FLOE__SIMPLE_TYPE__SIMPLE_TYPE_STRING;
    t_blob.simple = FLOE__SIMPLE_TYPE__SIMPLE_TYPE_BLOB;
    Floe__Variable o[3], *po[3];
    const char *names[3] = {"n", "s", "b"};
    Floe__LiteralType *types[3] = {&t_int, &t_str, &t_blob};
    for (int i = 0; i < 3; i++) {
        floe__variable__init(&o[i]);
        o[i].name = (char *)names[i];
        o[i].type = types[i];
        po[i] = &o[i];
    }
    snprintf(path, sizeof(path), "%s/outputs/n", dir);
    write_file(path, " 17\n", 4);
    snprintf(path, sizeof(path), "%s/outputs/s", dir);
    write_file(path, "line one\nline two\n\n", 19);
    snprintf(path, sizeof(path), "%s/outputs/b", dir);
    write_file(path, "\x01\x02\n", 3);
    floe_arena *arena = floe_arena_new(4096, 1 << 20);
    Floe__NamedValue **outs = NULL;
    assert_int_equal(wrk_io_outputs(dir, po, 3, bs, 1024, arena, &outs, &err), FLOE_OK);
    assert_int_equal(outs[0]->value->integer, 17);
    assert_string_equal(outs[1]->value->string, "line one\nline two\n");
    assert_int_equal(outs[2]->value->blob->size, 3);

    /* Mistyped, oversized, missing, and a symlink to a worker file: USER errors. */
    snprintf(path, sizeof(path), "%s/outputs/n", dir);
    write_file(path, "twelve", 6);
    assert_int_equal(wrk_io_outputs(dir, po, 1, bs, 1024, arena, &outs, &err), FLOE_EINVAL);
    assert_int_equal(err.cls, FLOE_ERR_USER);
    assert_non_null(strstr(err.msg, "output \"n\""));
    write_file(path, "1111111111", 10);
    assert_int_equal(wrk_io_outputs(dir, po, 1, bs, 4, arena, &outs, &err), FLOE_ETOOBIG);
    unlink(path);
    assert_int_equal(wrk_io_outputs(dir, po, 1, bs, 1024, arena, &outs, &err), FLOE_ENOTFOUND);
    assert_non_null(strstr(err.msg, "was not written"));
    assert_int_equal(symlink("/etc/passwd", path), 0);
    assert_int_not_equal(wrk_io_outputs(dir, po, 1, bs, 1024, arena, &outs, &err), FLOE_OK);
    snprintf(path, sizeof(path), "%s/outputs/b", dir);
    unlink(path);
    assert_int_equal(symlink("/etc/passwd", path), 0);
    assert_int_not_equal(wrk_io_outputs(dir, po + 2, 1, bs, 1024, arena, &outs, &err), FLOE_OK);

    /* Review H6: a FIFO with no writer in place of an output, a blob output or a log used to
     * block the reading thread for ever; it is refused at once. */
    unlink(path);
    assert_int_equal(mkfifo(path, 0644), 0);
    assert_int_equal(wrk_io_outputs(dir, po + 2, 1, bs, 1024, arena, &outs, &err), FLOE_EINVAL);
    assert_non_null(strstr(err.msg, "not a regular file"));
    char tail[32];
    assert_int_equal(wrk_io_tail(path, tail, sizeof(tail)), 0);
    snprintf(path, sizeof(path), "%s/outputs/n", dir);
    unlink(path);
    assert_int_equal(mkfifo(path, 0644), 0);
    assert_int_equal(wrk_io_outputs(dir, po, 1, bs, 1024, arena, &outs, &err), FLOE_EINVAL);
    assert_non_null(strstr(err.msg, "not a regular file"));
    floe_arena_free(arena);

    /* Names that are not file names never reach the disk. */
    nv[0].name = "../escape";
    snprintf(dir, sizeof(dir), "%s/att2", root);
    mkdir(dir, 0755);
    assert_int_equal(wrk_io_inputs(dir, pnv, 1, bs, &json, &err), FLOE_EINVAL);
    assert_int_equal(err.cls, FLOE_ERR_USER);
    assert_false(wrk_io_name_ok("a/b"));
    assert_false(wrk_io_name_ok(".."));
    assert_false(wrk_io_name_ok("9lives"));
    assert_true(wrk_io_name_ok("out_2"));
    store_blob_free(bs);
}

/* Logs: an empty one is not stored (no blob, no fsync); a written one is, by content. */
static void
test_logs(void **state)
{
    (void)state;
    char store_dir[300], path[300];
    snprintf(store_dir, sizeof(store_dir), "%s/store-logs", root);
    snprintf(path, sizeof(path), "%s/stderr", root);
    floe_err err = {0};
    store_blob *bs = store_blob_open(store_dir, 1 << 20, &err);
    assert_non_null(bs);
    store_blob_ref ref = {0};
    assert_false(wrk_io_put_log(bs, path, &ref)); /* missing */
    write_file(path, "", 0);
    assert_false(wrk_io_put_log(bs, path, &ref)); /* empty */
    char shard[320];
    snprintf(shard, sizeof(shard), "%s/sha256", store_dir);
    struct stat st;
    assert_int_not_equal(stat(shard, &st), 0); /* nothing was stored */
    write_file(path, "warning: x\n", 11);
    assert_true(wrk_io_put_log(bs, path, &ref));
    assert_int_equal(ref.size, 11);
    assert_int_equal(stat(shard, &st), 0);
    store_blob_free(bs);
}

static void
test_tail(void **state)
{
    (void)state;
    char path[300], buf[64];
    snprintf(path, sizeof(path), "%s/log", root);
    write_file(path, "first line\nbad \xff byte\n", 22);
    size_t n = wrk_io_tail(path, buf, 16); /* no line starts near: the partial one stays */
    assert_int_equal(n, strlen(buf));
    assert_string_equal(buf, "line\nbad ? byte\n"); /* invalid UTF-8 replaced */
    write_file(path, "0123456789\nabcdefghijklmnopqrstuvwxyz\n", 38);
    wrk_io_tail(path, buf, 15);
    assert_string_equal(buf, "mnopqrstuvwxyz\n");
    char big[64];
    write_file(path, "xyz\n0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOP\n", 57);
    wrk_io_tail(path, big, 54);
    assert_string_equal(big, "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOP\n");
    assert_int_equal(wrk_io_tail("/nonexistent", buf, 15), 0);
}

/* Values by reference (issue 23): the largest go until the rest fit together; each comes
 * back whole with the digest a cache key reads; a changed blob is refused. */
static void
test_values_by_reference(void **state)
{
    (void)state;
    char store_dir[300];
    snprintf(store_dir, sizeof(store_dir), "%s/vstore", root);
    floe_err err = {0};
    store_blob *bs = store_blob_open(store_dir, 1 << 24, &err);
    assert_non_null(bs);
    floe_arena *a = floe_arena_new(65536, 0);
    static char big[60000], mid[50000], small[10000];
    memset(big, 'b', sizeof(big) - 1);
    memset(mid, 'm', sizeof(mid) - 1);
    memset(small, 's', sizeof(small) - 1);
    const char *texts[] = {small, big, mid};
    Floe__Value v[3];
    Floe__NamedValue nv[3], *vals[3];
    static const char *const names[] = {"small", "big", "mid"};
    for (int i = 0; i < 3; i++) {
        floe__value__init(&v[i]);
        v[i].kind_case = FLOE__VALUE__KIND_STRING;
        v[i].string = (char *)texts[i];
        floe__named_value__init(&nv[i]);
        nv[i].name = (char *)names[i];
        nv[i].value = &v[i];
        vals[i] = &nv[i];
    }
    char d_big[FLOE_CANON_HEX_LEN + 1];
    assert_int_equal(floe_canon_value_digest(&v[1], d_big), 0);
    assert_true(store_valref_over(vals, 3, 100000));
    assert_int_equal(store_valref_shrink(bs, vals, 3, 100000, root, a, &err), FLOE_OK);
    /* 120 KB together: the largest (60 KB) goes, 60 KB stay */
    assert_int_equal(vals[0]->value->kind_case, FLOE__VALUE__KIND_STRING);
    assert_int_equal(vals[1]->value->kind_case, FLOE__VALUE__KIND_REF);
    assert_int_equal(vals[2]->value->kind_case, FLOE__VALUE__KIND_STRING);
    assert_string_equal(vals[1]->value->ref->canon, d_big);
    assert_false(store_valref_over(vals, 3, 100000));
    Floe__NamedValue *back[3] = {vals[0], vals[1], vals[2]};
    assert_int_equal(store_valref_resolve(bs, back, 3, root, 1 << 20, a, &err), FLOE_OK);
    assert_int_equal(back[1]->value->kind_case, FLOE__VALUE__KIND_STRING);
    assert_string_equal(back[1]->value->string, big);
    assert_int_equal(vals[1]->value->kind_case, FLOE__VALUE__KIND_REF); /* left alone */
    /* over the reader's bound: refused, naming it */
    Floe__Value *got = NULL;
    assert_int_equal(store_valref_get(bs, vals[1]->value, root, 1000, a, &got, &err), FLOE_ETOOBIG);
    /* a blob whose content changed under its name is refused */
    char path[600];
    const char *hex = strrchr(vals[1]->value->ref->uri, '/') + 1;
    snprintf(path, sizeof(path), "%s/sha256/%.2s/%s", store_dir, hex, hex);
    FILE *f = fopen(path, "r+");
    if (f != NULL) {
        fputc('X', f);
        fclose(f);
        assert_int_not_equal(store_valref_get(bs, vals[1]->value, root, 1 << 20, a, &got, &err),
                             FLOE_OK);
    }
    floe_arena_free(a);
    store_blob_free(bs);
}

/* Review L4: tmp/put-* files a crashed put left stayed for ever. Opening the store
 * removes those nothing wrote to for STORE_BLOB_TMP_STALE_S, and only those: a put in
 * progress (written recently), another name, a directory and a link stay. */
static void
test_stale_uploads_removed(void **state)
{
    (void)state;
    char store_dir[300], tmp[320], path[400], victim[320];
    floe_err err = {0};
    snprintf(store_dir, sizeof(store_dir), "%s/stale", root);
    store_blob *bs = store_blob_open(store_dir, 1 << 20, &err);
    assert_non_null(bs);
    store_blob_free(bs);
    snprintf(tmp, sizeof(tmp), "%s/tmp", store_dir);
    snprintf(victim, sizeof(victim), "%s/victim", root);
    write_file(victim, "keep", 4);
    struct timespec old[2] = {{.tv_sec = time(NULL) - STORE_BLOB_TMP_STALE_S - 60},
                              {.tv_sec = time(NULL) - STORE_BLOB_TMP_STALE_S - 60}};
    static const char *const names[] = {"put-dead", "put-live", "other", "put-dir", "put-link"};
    for (int i = 0; i < 5; i++) {
        snprintf(path, sizeof(path), "%s/%s", tmp, names[i]);
        if (i == 3)
            assert_int_equal(mkdir(path, 0755), 0);
        else if (i == 4)
            assert_int_equal(symlink(victim, path), 0);
        else
            write_file(path, "x", 1);
        if (i != 1)
            assert_int_equal(utimensat(AT_FDCWD, path, old, AT_SYMLINK_NOFOLLOW), 0);
    }
    assert_int_equal(utimensat(AT_FDCWD, victim, old, 0), 0);
    bs = store_blob_open(store_dir, 1 << 20, &err);
    assert_non_null(bs);
    store_blob_free(bs);
    for (int i = 0; i < 5; i++) {
        struct stat st;
        snprintf(path, sizeof(path), "%s/%s", tmp, names[i]);
        assert_int_equal(lstat(path, &st) == 0, i != 0);
    }
    assert_int_equal(access(victim, F_OK), 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_put_get_roundtrip),
        cmocka_unit_test(test_bad_uris_touch_nothing),
        cmocka_unit_test(test_corruption_and_limits),
        cmocka_unit_test(test_inputs_and_outputs),
        cmocka_unit_test(test_logs),
        cmocka_unit_test(test_tail),
        cmocka_unit_test(test_values_by_reference),
        cmocka_unit_test(test_stale_uploads_removed),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
