/*
 * The running-log index's entries (storage/store_tasklog.c): what the worker writes
 * reads back the same, and anything else in the list (another writer, a truncation) is
 * refused rather than passed to a reader as a blob to fetch.
 */
#include "store_tasklog.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#define HEX "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03"

static void
test_round_trip(void **state)
{
    (void)state;
    store_tasklog_entry in = {.off = 1048576, .len = 42, .uri = "floe://blobs/sha256/" HEX}, out;
    char buf[STORE_TASKLOG_ENTRY_MAX];
    store_tasklog_format(&in, buf);
    assert_string_equal(buf, "c 1048576 42 floe://blobs/sha256/" HEX);
    assert_int_equal(store_tasklog_parse(buf, strlen(buf), &out), FLOE_OK);
    assert_false(out.end);
    assert_int_equal(out.off, 1048576);
    assert_int_equal(out.len, 42);
    assert_string_equal(out.uri, in.uri);
    store_tasklog_entry end = {.end = true};
    store_tasklog_format(&end, buf);
    assert_string_equal(buf, "e 0 -");
    assert_int_equal(store_tasklog_parse(buf, strlen(buf), &out), FLOE_OK);
    assert_true(out.end);
    assert_string_equal(out.uri, "");
    char key[STORE_KEY_MAX];
    assert_int_equal(store_tasklog_key(key, "01ABC", "train", 2, 1), FLOE_OK);
    assert_string_equal(key, "floe:{01ABC}:tl:train:2:e");
}

static void
test_refused(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "",
        "c",
        "x 1 2 floe://blobs/sha256/" HEX,
        "c 1 floe://blobs/sha256/" HEX,                         /* no length */
        "c -1 2 floe://blobs/sha256/" HEX,                      /* negative */
        "c 99999999999999999999999 2 floe://blobs/sha256/" HEX, /* overflow */
        "c 1 2 floe://blobs/sha256/../../etc/passwd",           /* not a blob */
        "c 1 2 file:///etc/passwd",
        "c 1 2 ",
        "e 5 -x",
        "e 5",
        "c  1 2 floe://blobs/sha256/" HEX, /* two spaces */
    };
    store_tasklog_entry e;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (store_tasklog_parse(bad[i], strlen(bad[i]), &e) != FLOE_EINVAL)
            fail_msg("accepted \"%s\"", bad[i]);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_round_trip),
                                       cmocka_unit_test(test_refused)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
