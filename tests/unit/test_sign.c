/*
 * floe_sign: a signed envelope verifies under its key and under a keyring that rotates
 * it in; unsigned, tampered (any byte), re-keyed and unknown-key messages are refused
 * with the reason; bad key files are refused with file and line.
 */
#include "floe_sign.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#define MAX_BYTES (1u << 20)
#define K1 "k1 000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n"
#define K2 "k2 ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100\n"

static char dir[] = "/tmp/floe-test-sign-XXXXXX";

static const char *
keyfile(const char *name, const char *text, mode_t mode)
{
    static char path[256];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    chmod(path, mode);
    return path;
}

static floe_keyring *
ring(const char *name, const char *text)
{
    floe_err err = {0};
    floe_keyring *kr = floe_keyring_load(keyfile(name, text, 0600), &err);
    if (kr == NULL)
        fail_msg("%s", err.msg);
    return kr;
}

/* A TaskDispatch envelope, signed by kr when not NULL. */
static void
dispatch(floe_buf *buf, const floe_keyring *kr)
{
    Floe__TaskDispatch d = FLOE__TASK_DISPATCH__INIT;
    d.execution_id = "01HEXEC";
    d.node_id = "train";
    d.attempt = 1;
    d.epoch = 7;
    d.resource_class = "default";
    floe_err err = {0};
    assert_int_equal(floe_envelope_encode(FLOE__MESSAGE_TYPE__MESSAGE_TYPE_TASK_DISPATCH, &d.base,
                                          "test", MAX_BYTES, buf, NULL, &err),
                     FLOE_OK);
    if (kr != NULL)
        assert_int_equal(floe_envelope_sign(buf, kr, &err), FLOE_OK);
}

/* decode + verify: NULL when accepted, else the reason. */
static const char *
check(const floe_buf *buf, const floe_keyring *kr)
{
    floe_arena *a = floe_arena_new(4096, 0);
    floe_envelope env;
    floe_err err = {0};
    const char *why = "undecodable";
    if (floe_envelope_decode(buf->data, buf->len, MAX_BYTES, a, &env, &err) == FLOE_OK)
        why =
            floe_envelope_verify(buf->data, buf->len, &env, kr, &why, &err) == FLOE_OK ? NULL : why;
    floe_arena_free(a);
    return why;
}

static void
test_signed_round_trip_and_rotation(void **state)
{
    (void)state;
    floe_keyring *k1 = ring("k1", K1), *k21 = ring("k21", K2 K1), *k2 = ring("k2", K2);
    assert_string_equal(floe_keyring_signer(k21), "k2");
    floe_buf buf = {0};
    dispatch(&buf, k1);
    assert_null(check(&buf, k1));
    assert_null(check(&buf, k21)); /* k1 still verifies while k2 signs */
    assert_string_equal(check(&buf, k2), "unknown_key");
    dispatch(&buf, k21);
    assert_null(check(&buf, k21));
    assert_string_equal(check(&buf, k1), "unknown_key");
    floe_buf_deinit(&buf);
    floe_keyring_free(k1);
    floe_keyring_free(k21);
    floe_keyring_free(k2);
}

static void
test_unsigned_and_tampered_are_refused(void **state)
{
    (void)state;
    floe_keyring *k1 = ring("k1", K1);
    floe_buf buf = {0};
    dispatch(&buf, NULL);
    assert_string_equal(check(&buf, k1), "unsigned");
    dispatch(&buf, k1);
    size_t signed_len = buf.len;
    /* Every byte of the message matters: flip each in turn. */
    for (size_t i = 0; i < signed_len; i++) {
        buf.data[i] ^= 0x01;
        const char *why = check(&buf, k1);
        if (why == NULL)
            fail_msg("byte %zu flipped and the message still verified", i);
        buf.data[i] ^= 0x01;
    }
    assert_null(check(&buf, k1));
    /* The same signature under a key of the same name but another secret. */
    floe_keyring *other =
        ring("other", "k1 1111111111111111111111111111111111111111111111111111111111111111\n");
    assert_string_equal(check(&buf, other), "bad_signature");
    floe_buf_deinit(&buf);
    floe_keyring_free(k1);
    floe_keyring_free(other);
}

static void
test_bad_key_files(void **state)
{
    (void)state;
    floe_err err = {0};
    assert_null(floe_keyring_load(keyfile("short", "k 0011\n", 0600), &err));
    assert_non_null(strstr(err.msg, "line 1"));
    assert_null(floe_keyring_load(keyfile("dup", K1 K1, 0600), &err));
    assert_non_null(strstr(err.msg, "twice"));
    assert_null(floe_keyring_load(keyfile("empty", "# nothing\n", 0600), &err));
    assert_null(floe_keyring_load(keyfile("open", K1, 0644), &err));
    assert_non_null(strstr(err.msg, "readable by anyone"));
    assert_null(floe_keyring_load("/nonexistent/keys", &err));
}

int
main(void)
{
    if (mkdtemp(dir) == NULL)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_signed_round_trip_and_rotation),
        cmocka_unit_test(test_unsigned_and_tampered_are_refused),
        cmocka_unit_test(test_bad_key_files),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    static const char *const files[] = {"k1",    "k2",  "k21",   "other",
                                        "short", "dup", "empty", "open"};
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        char path[256];
        snprintf(path, sizeof(path), "%s/%s", dir, files[i]);
        unlink(path);
    }
    rmdir(dir);
    return rc;
}
