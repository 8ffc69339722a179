/*
 * floe_text: UTF-8 validity, cutting between characters, repairing, formatting into fixed
 * buffers; and floe_err, whose messages reach Redis and PostgreSQL, built on it.
 * Review finding C2: a terminate reason of 512 × "é" formatted into the engine's 1 KiB
 * message was cut inside a character, and PostgreSQL's refusal of it stopped the engine.
 */
#include "floe_err.h"
#include "floe_text.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

static void
test_utf8_valid(void **state)
{
    (void)state;
    assert_true(floe_utf8_valid("héllo €", strlen("héllo €")));
    assert_true(floe_utf8_valid("", 0));
    assert_false(floe_utf8_valid("a\0b", 3));
    assert_false(floe_utf8_valid("\xc0\xaf", 2));         /* overlong '/' */
    assert_false(floe_utf8_valid("\xed\xa0\x80", 3));     /* surrogate */
    assert_false(floe_utf8_valid("\xe2\x82", 2));         /* truncated */
    assert_false(floe_utf8_valid("\xf4\x90\x80\x80", 4)); /* above U+10FFFF */
    assert_false(floe_utf8_valid("\x80", 1));             /* lone continuation */
    assert_true(floe_utf8_valid("\xf0\x9f\x98\x80", 4));  /* emoji */
    /* The eight-byte steps: a NUL or a bad byte at each place of a word, a character
     * across two words, a tail shorter than a word. */
    char buf[40];
    for (size_t at = 0; at < 24; at++) {
        memset(buf, 'a', sizeof(buf));
        buf[at] = '\0';
        assert_false(floe_utf8_valid(buf, 24));
        buf[at] = (char)0xff;
        assert_false(floe_utf8_valid(buf, 24));
        memcpy(buf + at, "\xe2\x82\xac", 3); /* the euro sign */
        assert_true(floe_utf8_valid(buf, 27));
        assert_false(floe_utf8_valid(buf, at + 2)); /* cut inside it */
    }
    memset(buf, 'a', sizeof(buf));
    assert_true(floe_utf8_valid(buf, 40));
    buf[39] = (char)0x80;
    assert_false(floe_utf8_valid(buf, 40));
    assert_true(floe_utf8_valid(buf, 39));
}

static void
test_cut(void **state)
{
    (void)state;
    const char *s = "a\xc3\xa9"
                    "b\xe2\x82\xac"; /* a é b € : 1+2+1+3 bytes */
    size_t len = strlen(s);
    assert_int_equal(floe_text_cut(s, len, 100), len);
    assert_int_equal(floe_text_cut(s, len, 7), 7);
    assert_int_equal(floe_text_cut(s, len, 6), 4); /* inside € */
    assert_int_equal(floe_text_cut(s, len, 5), 4);
    assert_int_equal(floe_text_cut(s, len, 4), 4);
    assert_int_equal(floe_text_cut(s, len, 2), 1); /* inside é */
    assert_int_equal(floe_text_cut(s, len, 0), 0);
}

static void
test_fix_and_copy(void **state)
{
    (void)state;
    char b[32];
    strcpy(b, "ok \xff bad \xe2\x82");
    size_t n = floe_text_fix(b, strlen(b));
    assert_string_equal(b, "ok ? bad "); /* invalid byte replaced, cut sequence dropped */
    assert_int_equal(n, strlen(b));
    strcpy(b, "\xe2\x82X");
    floe_text_fix(b, strlen(b));
    assert_string_equal(b, "??X");

    char small[4];
    floe_text_copy(small, sizeof(small), "a\xe2\x82\xac", 4); /* € does not fit after a */
    assert_string_equal(small, "a");
    floe_text_copy(small, sizeof(small), "\xc3\xa9\xc3\xa9", 4);
    assert_string_equal(small, "\xc3\xa9");
}

/* C2: the engine's terminate message built from 512 × "é". */
static void
test_c2_terminate_reason_cut_on_boundary(void **state)
{
    (void)state;
    char reason[1025];
    for (int i = 0; i < 512; i++)
        memcpy(reason + 2 * i, "\xc3\xa9", 2);
    reason[1024] = '\0';
    char why[1024];
    size_t n = floe_text_fmt(why, sizeof(why), "terminated by %s: %s", "xy", reason);
    assert_true(n < sizeof(why));
    assert_true(floe_utf8_valid(why, n));
    assert_int_equal(n, 1022); /* "terminated by xy: " is 18 bytes, then 502 whole é */

    /* The error type's messages: cut the same way, however they are built. */
    floe_err err;
    floe_err_user(&err, FLOE_EINVAL, "%s", reason);
    assert_true(floe_utf8_valid(err.msg, strlen(err.msg)));
    assert_true(strlen(err.msg) >= FLOE_ERR_MSG_MAX - 2);
    floe_err_prefix(&err, "x");
    assert_true(floe_utf8_valid(err.msg, strlen(err.msg)));
    floe_err_user(&err, FLOE_EINVAL, "bad byte %s", "\xff");
    assert_string_equal(err.msg, "bad byte ?");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_utf8_valid),
        cmocka_unit_test(test_cut),
        cmocka_unit_test(test_fix_and_copy),
        cmocka_unit_test(test_c2_terminate_reason_cut_on_boundary),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
