/*
 * Canonical value hashing: cache keys are stable (a pinned vector), insensitive to the
 * order of inputs and map entries and to where a blob is stored, and sensitive to every
 * part of the task's identity and to every input value.
 */
#include "floe_canon.h"
#include "floe_type.h"
#include "floe_value.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

static floe_arena *arena;

static Floe__NamedValue *
nv(const char *name, const char *type, const char *json)
{
    Floe__LiteralType *t = NULL;
    Floe__Value *v = NULL;
    floe_err err;
    json_error_t jerr;
    json_t *j = json_loads(json, JSON_DECODE_ANY, &jerr);
    if (j == NULL || floe_type_parse(type, arena, &t, &err) != FLOE_OK ||
        floe_value_from_json(t, j, arena, &v, &err) != FLOE_OK)
        fail_msg("%s: %s", json, err.msg);
    json_decref(j);
    Floe__NamedValue *n = floe_arena_alloc(arena, sizeof(*n));
    floe__named_value__init(n);
    n->name = (char *)name;
    n->value = v;
    return n;
}

static const floe_cache_ident ident = {"flights", "development", "clean", "abc123", "run1", "1"};

static void
key_of(const floe_cache_ident *id, Floe__NamedValue **in, size_t n, char out[65])
{
    assert_int_equal(floe_canon_cache_key(id, in, n, out), 0);
    assert_int_equal(strlen(out), 64);
}

static void
test_stable_and_order_free(void **state)
{
    (void)state;
    char k1[65], k2[65];
    Floe__NamedValue *a[] = {nv("n", "integer", "20"),
                             nv("m", "map<string, float>", "{\"b\": 2.5, \"a\": -0.0}"),
                             nv("s", "string", "\"héllo\"")};
    Floe__NamedValue *b[] = {nv("s", "string", "\"héllo\""),
                             nv("m", "map<string, float>", "{\"a\": 0.0, \"b\": 2.5}"),
                             nv("n", "integer", "20")};
    key_of(&ident, a, 3, k1);
    key_of(&ident, b, 3, k2);
    assert_string_equal(k1, k2);
    /* Pinned: a change of the encoding changes every key in every catalog (v3: each input
     * by its value's digest, issue 23). */
    assert_string_equal(k1, "24cfa97b18eecfa49adf99150400f843029e898e8b0f3d728223d56caa8d6715");
    assert_string_equal(a[0]->name, "n"); /* the caller's order is left alone */
}

static void
test_sensitive(void **state)
{
    (void)state;
    char base[65], k[65];
    Floe__NamedValue *in[] = {nv("n", "integer", "20"), nv("xs", "list<integer>", "[1, 2]")};
    key_of(&ident, in, 2, base);
    floe_cache_ident ids[] = {{"other", "development", "clean", "abc123", "run1", "1"},
                              {"flights", "production", "clean", "abc123", "run1", "1"},
                              {"flights", "development", "clean2", "abc123", "run1", "1"},
                              {"flights", "development", "clean", "abc124", "run1", "1"},
                              {"flights", "development", "clean", "abc123", "run1", "2"},
                              {"flights", "development", "clean", "abc123", "run2", "1"}};
    for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
        key_of(&ids[i], in, 2, k);
        assert_string_not_equal(k, base);
    }
    Floe__NamedValue *in2[] = {nv("n", "integer", "21"), nv("xs", "list<integer>", "[1, 2]")};
    key_of(&ident, in2, 2, k);
    assert_string_not_equal(k, base);
    Floe__NamedValue *in3[] = {nv("n", "integer", "20"), nv("xs", "list<integer>", "[2, 1]")};
    key_of(&ident, in3, 2, k);
    assert_string_not_equal(k, base);
    Floe__NamedValue *in4[] = {nv("m", "integer", "20"), nv("xs", "list<integer>", "[1, 2]")};
    key_of(&ident, in4, 2, k);
    assert_string_not_equal(k, base); /* the name is part of it */
    /* Strings with the same concatenation differ (lengths are encoded). */
    Floe__NamedValue *s1[] = {nv("a", "string", "\"ab\""), nv("b", "string", "\"c\"")};
    Floe__NamedValue *s2[] = {nv("a", "string", "\"a\""), nv("b", "string", "\"bc\"")};
    char x[65], y[65];
    key_of(&ident, s1, 2, x);
    key_of(&ident, s2, 2, y);
    assert_string_not_equal(x, y);
}

static void
test_blobs_by_content(void **state)
{
    (void)state;
    const char *d1 = "sha256:"
                     "0000000000000000000000000000000000000000000000000000000000000001";
    char j1[256], j2[256], j3[256], k1[65], k2[65], k3[65];
    snprintf(j1, sizeof(j1), "{\"uri\": \"floe://blobs/sha256/aa\", \"digest\": \"%s\"}", d1);
    snprintf(j2, sizeof(j2), "{\"uri\": \"s3://elsewhere/x\", \"digest\": \"%s\", \"size\": 3}",
             d1);
    snprintf(j3, sizeof(j3), "{\"uri\": \"floe://blobs/sha256/aa\", \"digest\": \"%.70s2\"}", d1);
    Floe__NamedValue *a[] = {nv("f", "blob", j1)}, *b[] = {nv("f", "blob", j2)},
                     *c[] = {nv("f", "blob", j3)};
    key_of(&ident, a, 1, k1);
    key_of(&ident, b, 1, k2);
    key_of(&ident, c, 1, k3);
    assert_string_equal(k1, k2);
    assert_string_not_equal(k1, k3);
    char v1[65], v2[65];
    assert_int_equal(floe_canon_value_digest(a[0]->value, v1), 0);
    assert_int_equal(floe_canon_value_digest(b[0]->value, v2), 0);
    assert_string_equal(v1, v2);
}

/* A value kept in the blob store (issue 23) keys as the same value inline: the reference
 * carries the value's digest. */
static void
test_ref_keys_as_inline(void **state)
{
    (void)state;
    Floe__NamedValue *inl[] = {nv("xs", "list<string>", "[\"a\", \"b\"]"), nv("n", "integer", "3")};
    char k1[FLOE_CANON_HEX_LEN + 1], k2[FLOE_CANON_HEX_LEN + 1], d[FLOE_CANON_HEX_LEN + 1];
    key_of(&ident, inl, 2, k1);
    assert_int_equal(floe_canon_value_digest(inl[0]->value, d), 0);
    Floe__ValueRef ref = FLOE__VALUE_REF__INIT;
    ref.uri = "floe://blobs/sha256/00";
    ref.digest = "sha256:00";
    ref.canon = d;
    Floe__Value rv = FLOE__VALUE__INIT;
    rv.kind_case = FLOE__VALUE__KIND_REF;
    rv.ref = &ref;
    Floe__NamedValue rnv = FLOE__NAMED_VALUE__INIT;
    rnv.name = "xs";
    rnv.value = &rv;
    Floe__NamedValue *byref[] = {&rnv, inl[1]};
    key_of(&ident, byref, 2, k2);
    assert_string_equal(k1, k2);
    ref.canon = "0000000000000000000000000000000000000000000000000000000000000000";
    key_of(&ident, byref, 2, k2);
    assert_string_not_equal(k1, k2);
}

int
main(void)
{
    arena = floe_arena_new(4096, 0);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stable_and_order_free),
        cmocka_unit_test(test_ref_keys_as_inline),
        cmocka_unit_test(test_sensitive),
        cmocka_unit_test(test_blobs_by_content),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    floe_arena_free(arena);
    return rc;
}
