/*
 * Presigned S3 urls (storage/store_blob_s3_presign.c) against AWS's published example of
 * query-string authentication ("Authenticating Requests: Using Query Parameters (AWS
 * Signature Version 4)": GET examplebucket/test.txt on 24 May 2013, valid 86400 s), and
 * the forms Floe asks for: path-style, a key prefix, a PUT bound to its digest, a session
 * token.
 */
#include "floe_config.h"
#include "store_blob.h"
#include "store_blob_s3_int.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

static floe_config *
s3_config(const char *const *extra, size_t n)
{
    const char *o[16] = {"blob.backend=s3",
                         "blob.s3.endpoint=https://s3.amazonaws.com",
                         "blob.s3.bucket=examplebucket",
                         "blob.s3.region=us-east-1",
                         "blob.s3.access_key_id=AKIAIOSFODNN7EXAMPLE",
                         "blob.s3.secret_access_key=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"};
    size_t k = 6;
    for (size_t i = 0; i < n; i++)
        o[k++] = extra[i];
    floe_config_source src = {.program = "test", .overrides = o, .n_overrides = k};
    floe_config *cfg = NULL;
    floe_config_report rep;
    if (floe_config_load(&src, &cfg, &rep) != FLOE_OK)
        fail_msg("config: %s", rep.text);
    return cfg;
}

static void
test_aws_example(void **state)
{
    (void)state;
    static const char *const virt[] = {"blob.s3.addressing=virtual"};
    floe_config *cfg = s3_config(virt, 1);
    floe_err err = {0};
    blob_s3 *s = store_blob_s3_new(cfg, &err);
    assert_non_null(s);
    char url[STORE_BLOB_URL_MAX];
    assert_int_equal(
        s3_presign_key(s, "GET", "test.txt", NULL, 1369353600, 86400, url, sizeof(url), &err),
        FLOE_OK);
    assert_string_equal(
        url, "https://examplebucket.s3.amazonaws.com/test.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256"
             "&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request"
             "&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host"
             "&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404");
    store_blob_s3_ops.free(s);
    floe_config_free(cfg);
}

static void
test_forms(void **state)
{
    (void)state;
    static const char *const o[] = {"blob.s3.endpoint=http://127.0.0.1:14568",
                                    "blob.s3.prefix=team/", "blob.s3.session_token=tok/en+1",
                                    "blob.s3.presign_expires=10m"};
    floe_config *cfg = s3_config(o, 4);
    floe_err err = {0};
    store_blob *bs = store_blob_open_config(cfg, &err);
    assert_non_null(bs);
    const char *hex = "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03";
    char uri[128], url[STORE_BLOB_URL_MAX];
    snprintf(uri, sizeof(uri), "floe://blobs/sha256/%s", hex);
    assert_int_equal(store_blob_presign(bs, "PUT", uri, url, sizeof(url), &err), FLOE_OK);
    char want[300];
    snprintf(want, sizeof(want), "http://127.0.0.1:14568/examplebucket/team/sha256/%s?", hex);
    assert_memory_equal(url, want, strlen(want));
    assert_non_null(strstr(url, "&X-Amz-Expires=600&"));
    assert_non_null(strstr(url, "&X-Amz-Security-Token=tok%2Fen%2B1&"));
    assert_non_null(strstr(url, "&X-Amz-SignedHeaders=host%3Bx-amz-content-sha256&"));
    /* not a blob of the store, and not a method a url is given for */
    assert_int_equal(
        store_blob_presign(bs, "GET", "floe://blobs/sha256/../x", url, sizeof(url), &err),
        FLOE_EINVAL);
    assert_int_equal(store_blob_presign(bs, "DELETE", uri, url, sizeof(url), &err), FLOE_EINVAL);
    store_blob_free(bs);
    floe_config_free(cfg);
}

static void
test_local_has_none(void **state)
{
    (void)state;
    char dir[] = "/tmp/floe-presign-XXXXXX";
    assert_non_null(mkdtemp(dir));
    floe_err err = {0};
    store_blob *bs = store_blob_open(dir, 1024, &err);
    char url[STORE_BLOB_URL_MAX];
    assert_int_equal(
        store_blob_presign(bs, "GET",
                           "floe://blobs/sha256/"
                           "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03",
                           url, sizeof(url), &err),
        FLOE_ENOTSUP);
    store_blob_free(bs);
    char cmd[64];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_aws_example),
        cmocka_unit_test(test_forms),
        cmocka_unit_test(test_local_has_none),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
