/*
 * Types and typed values: parsing and formatting types, JSON and command-line text to
 * values with their error messages, canonical maps, round trips, bounds.
 */
#include "floe_type.h"
#include "floe_value.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

static Floe__LiteralType *
type_of(floe_arena *a, const char *text)
{
    Floe__LiteralType *t = NULL;
    floe_err err;
    if (floe_type_parse(text, a, &t, &err) != FLOE_OK)
        fail_msg("%s: %s", text, err.msg);
    return t;
}

static void
test_types(void **state)
{
    (void)state;
    floe_arena *a = floe_arena_new(1024, 0);
    char buf[FLOE_TYPE_TEXT_MAX];
    const char *ok[][2] = {{"integer", "integer"},
                           {"list<string>", "list<string>"},
                           {" map< string ,list<float> > ", "map<string, list<float>>"},
                           {"list<list<blob>>", "list<list<blob>>"}};
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
        assert_string_equal(floe_type_format(type_of(a, ok[i][0]), buf, sizeof(buf)), ok[i][1]);
    const char *bad[][2] = {
        {"int", "unknown type \"int\""},
        {"map<integer, string>", "map keys must be strings"},
        {"list<string", "expected '>'"},
        {"list<string>>", "unexpected \">\" at the end"},
        {"list<list<list<list<list<list<list<list<list<integer>>>>>>>>>", "nests deeper than 8"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        Floe__LiteralType *t;
        floe_err err;
        assert_int_equal(floe_type_parse(bad[i][0], a, &t, &err), FLOE_EINVAL);
        if (strstr(err.msg, bad[i][1]) == NULL)
            fail_msg("%s: got \"%s\"", bad[i][0], err.msg);
    }
    assert_true(floe_type_equal(type_of(a, "list<integer>"), type_of(a, "list< integer >")));
    assert_false(floe_type_equal(type_of(a, "list<integer>"), type_of(a, "list<float>")));
    floe_arena_free(a);
}

static void
check_json(const char *type, const char *json, const char *want_json_or_err)
{
    floe_arena *a = floe_arena_new(1024, 0);
    json_error_t jerr;
    json_t *j = json_loads(json, JSON_DECODE_ANY, &jerr);
    assert_non_null(j);
    Floe__Value *v = NULL;
    floe_err err;
    floe_rc rc = floe_value_from_json(type_of(a, type), j, a, &v, &err);
    if (want_json_or_err[0] == '!') {
        assert_int_not_equal(rc, FLOE_OK);
        if (strcmp(err.msg, want_json_or_err + 1) != 0)
            fail_msg("%s %s: want \"%s\", got \"%s\"", type, json, want_json_or_err + 1, err.msg);
    } else {
        if (rc != FLOE_OK)
            fail_msg("%s %s: %s", type, json, err.msg);
        assert_int_equal(floe_value_check(type_of(a, type), v, &err), FLOE_OK);
        json_t *back = floe_value_to_json(v);
        char *s = json_dumps(back, JSON_COMPACT | JSON_ENCODE_ANY);
        assert_string_equal(s, want_json_or_err);
        free(s);
        json_decref(back);
    }
    json_decref(j);
    floe_arena_free(a);
}

static void
test_json_values(void **state)
{
    (void)state;
    check_json("integer", "42", "42");
    check_json("float", "1", "1.0");
    check_json("string", "\"héllo\"", "\"héllo\"");
    check_json("boolean", "true", "true");
    check_json("datetime", "\"2026-11-21T08:00:00+01:00\"", "\"2026-11-21T07:00:00Z\"");
    check_json("datetime", "\"2026-11-21\"", "\"2026-11-21T00:00:00Z\"");
    check_json("datetime", "\"2026-11-21T08:00:00.25Z\"", "\"2026-11-21T08:00:00.250000Z\"");
    check_json("duration", "\"90m\"", "\"1h30m\"");
    check_json("blob", "\"file:///x\"", "{\"uri\":\"file:///x\"}");
    check_json("list<integer>", "[1,2,3]", "[1,2,3]");
    check_json("map<string, integer>", "{\"b\":2,\"a\":1}", "{\"a\":1,\"b\":2}");
    check_json("integer", "\"42\"", "!expected integer, got string");
    check_json("list<integer>", "[1,\"x\"]", "!item 1: expected integer, got string");
    check_json("map<string, list<float>>", "{\"k\":[1.5,true]}",
               "!key \"k\": item 1: expected float, got boolean");
    check_json("datetime", "\"2026-02-30\"",
               "!\"2026-02-30\" is not an RFC 3339 date-time (2026-11-21T08:00:00Z) or date "
               "(2026-11-21)");
    check_json("blob", "{\"uri\":\"s3://b/k\",\"digest\":\"md5:x\"}",
               "!blob digest must be \"sha256:\" and 64 lower-case hex digits");
    check_json("blob", "{\"url\":\"x\"}",
               "!blob field \"url\": expected uri (string), digest (string), size (integer >= 0) "
               "or format (string)");
}

static void
check_text(const char *type, const char *text, const char *want)
{
    floe_arena *a = floe_arena_new(1024, 0);
    Floe__Value *v = NULL;
    floe_err err;
    floe_rc rc = floe_value_from_text(type_of(a, type), text, a, &v, &err);
    if (want[0] == '!') {
        assert_int_not_equal(rc, FLOE_OK);
        if (strstr(err.msg, want + 1) == NULL)
            fail_msg("%s %s: want \"%s\", got \"%s\"", type, text, want + 1, err.msg);
    } else {
        if (rc != FLOE_OK)
            fail_msg("%s %s: %s", type, text, err.msg);
        json_t *back = floe_value_to_json(v);
        char *s = json_dumps(back, JSON_COMPACT | JSON_ENCODE_ANY);
        assert_string_equal(s, want);
        free(s);
        json_decref(back);
    }
    floe_arena_free(a);
}

static void
test_text_values(void **state)
{
    (void)state;
    check_text("integer", "-7", "-7");
    check_text("float", "0.5", "0.5");
    check_text("string", "42", "\"42\"");
    check_text("list<integer>", "[1, 2]", "[1,2]");
    check_text("blob", "/data/x.csv", "{\"uri\":\"/data/x.csv\"}");
    check_text("duration", "1h", "\"1h\"");
    check_text("integer", "4x", "!expected integer, got \"4x\"");
    check_text("integer", "99999999999999999999", "!expected integer");
    check_text("boolean", "yes", "!expected boolean (true or false)");
    check_text("list<integer>", "[1,", "!expected list<integer> as JSON");
    check_text("float", "nan", "!expected float");
    check_text("duration", "5 minutes", "!is not a duration");
    check_text("string", "bad \xff utf8", "!not valid UTF-8");
}

static void
test_utf8(void **state)
{
    (void)state;
    assert_true(floe_utf8_valid("héllo €", strlen("héllo €")));
    assert_false(floe_utf8_valid("a\0b", 3));
    assert_false(floe_utf8_valid("\xc0\xaf", 2));        /* overlong '/' */
    assert_false(floe_utf8_valid("\xed\xa0\x80", 3));    /* surrogate */
    assert_false(floe_utf8_valid("\xe2\x82", 2));        /* truncated */
    assert_true(floe_utf8_valid("\xf0\x9f\x98\x80", 4)); /* emoji */
}

/* Zero values are valid values of their type; a blob has none. */
static void
test_zero_values(void **state)
{
    (void)state;
    floe_arena *a = floe_arena_new(1024, 0);
    static const char *const types[] = {
        "integer",  "float",    "string",        "boolean",
        "datetime", "duration", "list<integer>", "map<string, list<float>>"};
    floe_err err = {0};
    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
        Floe__LiteralType *t = type_of(a, types[i]);
        Floe__Value *v = NULL;
        assert_int_equal(floe_value_zero(t, a, &v, &err), FLOE_OK);
        if (floe_value_check(t, v, &err) != FLOE_OK)
            fail_msg("%s: zero value refused: %s", types[i], err.msg);
    }
    Floe__Value *v = NULL;
    assert_int_equal(floe_value_zero(type_of(a, "blob"), a, &v, &err), FLOE_EINVAL);
    assert_null(v);
    floe_arena_free(a);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_types),       cmocka_unit_test(test_json_values),
        cmocka_unit_test(test_text_values), cmocka_unit_test(test_utf8),
        cmocka_unit_test(test_zero_values),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
