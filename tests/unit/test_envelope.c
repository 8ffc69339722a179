/* Unit tests of floe_envelope and floe_arena: round trips, and every way bytes from the bus
 * can be wrong (empty, truncated at every length, oversized, unknown type, bad fields). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "floe_arena.h"
#include "floe_envelope.h"
#include "floe_mem.h"

#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_BYTES (64 * 1024)

static floe_arena *arena;
static floe_buf buf;

static int
setup(void **state)
{
    (void)state;
    arena = floe_arena_new(4096, 1024 * 1024);
    memset(&buf, 0, sizeof(buf));
    return arena == NULL ? -1 : 0;
}

static int
teardown(void **state)
{
    (void)state;
    floe_arena_free(arena);
    floe_buf_deinit(&buf);
    return 0;
}

static void
encode_dispatch(Floe__TaskDispatch *d, Floe__NamedValue *nv, Floe__Value *v, Floe__NamedValue **nvs)
{
    floe__task_dispatch__init(d);
    floe__named_value__init(nv);
    floe__value__init(v);
    d->execution_id = "01HEXEC";
    d->node_id = "train";
    d->attempt = 2;
    d->epoch = 9;
    d->resource_class = "default";
    v->kind_case = FLOE__VALUE__KIND_FLOAT;
    v->float_ = 0.25;
    nv->name = "lr";
    nv->value = v;
    nvs[0] = nv;
    d->n_inputs = 1;
    d->inputs = nvs;
}

static void
test_round_trip(void **state)
{
    (void)state;
    Floe__TaskDispatch d;
    Floe__NamedValue nv, *nvs[1];
    Floe__Value v;
    encode_dispatch(&d, &nv, &v, nvs);
    char id[FLOE_ID_LEN + 1];
    floe_err err;
    assert_int_equal(floe_envelope_encode(FLOE__MESSAGE_TYPE__MESSAGE_TYPE_TASK_DISPATCH, &d.base,
                                          "test/host/1", MAX_BYTES, &buf, id, &err),
                     FLOE_OK);
    assert_int_equal(strlen(id), FLOE_ID_LEN);

    floe_envelope env;
    int64_t before = floe_now_us();
    assert_int_equal(floe_envelope_decode(buf.data, buf.len, MAX_BYTES, arena, &env, &err),
                     FLOE_OK);
    assert_int_equal(env.type, FLOE__MESSAGE_TYPE__MESSAGE_TYPE_TASK_DISPATCH);
    assert_string_equal(env.id, id);
    assert_string_equal(env.producer, "test/host/1");
    assert_true(env.time_unix_us <= before && env.time_unix_us > before - 10 * 1000000);
    const Floe__TaskDispatch *got = (const Floe__TaskDispatch *)env.msg;
    assert_string_equal(got->execution_id, "01HEXEC");
    assert_string_equal(got->node_id, "train");
    assert_int_equal(got->attempt, 2);
    assert_int_equal(got->epoch, 9);
    assert_int_equal(got->n_inputs, 1);
    assert_string_equal(got->inputs[0]->name, "lr");
    assert_int_equal(got->inputs[0]->value->kind_case, FLOE__VALUE__KIND_FLOAT);
    assert_true(got->inputs[0]->value->float_ == 0.25);
    assert_true(floe_arena_used(arena) > 0);
}

static void
test_ids_unique_and_ordered(void **state)
{
    (void)state;
    char a[FLOE_ID_LEN + 1], b[FLOE_ID_LEN + 1];
    assert_int_equal(floe_id_new(a), 0);
    for (int i = 0; i < 1000; i++) {
        assert_int_equal(floe_id_new(b), 0);
        assert_string_not_equal(a, b);
        assert_true(memcmp(a, b, 10) <= 0); /* time prefix never goes back */
        memcpy(a, b, sizeof(a));
    }
}

/* Ids' random bits come a block at a time per thread: a fork's child draws its own, not
 * the rest of its parent's block. */
static void
test_ids_differ_across_fork(void **state)
{
    (void)state;
    char a[FLOE_ID_LEN + 1], parent[FLOE_ID_LEN + 1], child[FLOE_ID_LEN + 1] = {0};
    assert_int_equal(floe_id_new(a), 0); /* a block is being drawn from */
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        char id[FLOE_ID_LEN + 1];
        ssize_t w = floe_id_new(id) == 0 ? write(fds[1], id, FLOE_ID_LEN) : -1;
        _exit(w == FLOE_ID_LEN ? 0 : 1);
    }
    assert_int_equal(floe_id_new(parent), 0);
    assert_int_equal(read(fds[0], child, FLOE_ID_LEN), FLOE_ID_LEN);
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    close(fds[0]);
    close(fds[1]);
    assert_memory_not_equal(parent + 10, child + 10, 16); /* the random part */
}

static void
expect_decode_error(const void *data, size_t len, floe_rc code, const char *why)
{
    floe_envelope env;
    floe_err err;
    floe_err_clear(&err);
    floe_rc rc = floe_envelope_decode(data, len, MAX_BYTES, arena, &env, &err);
    if (rc != code || strstr(err.msg, why) == NULL)
        fail_msg("expected %s containing \"%s\", got %s \"%s\"", floe_rc_name(code), why,
                 floe_rc_name(rc), err.msg);
    floe_arena_reset(arena);
}

static void
test_empty_and_garbage(void **state)
{
    (void)state;
    expect_decode_error("", 0, FLOE_EINVAL, "envelope: empty message");
    expect_decode_error("not a protobuf at all", 21, FLOE_EINVAL, "not a valid floe.Envelope");
    static const uint8_t bad_varint[] = {0x08, 0xff, 0xff, 0xff, 0xff, 0xff,
                                         0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    expect_decode_error(bad_varint, sizeof(bad_varint), FLOE_EINVAL, "not a valid");
}

static void
test_every_truncation_rejected(void **state)
{
    (void)state;
    Floe__TaskDispatch d;
    Floe__NamedValue nv, *nvs[1];
    Floe__Value v;
    encode_dispatch(&d, &nv, &v, nvs);
    assert_int_equal(floe_envelope_encode(FLOE__MESSAGE_TYPE__MESSAGE_TYPE_TASK_DISPATCH, &d.base,
                                          "p", MAX_BYTES, &buf, NULL, NULL),
                     FLOE_OK);
    for (size_t len = 1; len < buf.len; len++) {
        floe_envelope env;
        floe_err err;
        floe_rc rc = floe_envelope_decode(buf.data, len, MAX_BYTES, arena, &env, &err);
        if (rc != FLOE_EINVAL)
            fail_msg("truncated to %zu of %zu bytes: got %s", len, buf.len, floe_rc_name(rc));
        floe_arena_reset(arena);
    }
}

static void
test_oversized(void **state)
{
    (void)state;
    static uint8_t big[MAX_BYTES + 1];
    expect_decode_error(big, sizeof(big), FLOE_ETOOBIG, "exceeds the limit of 65536 bytes");

    /* Encoding refuses to produce what consumers would refuse. */
    static char payload[MAX_BYTES];
    memset(payload, 'a', sizeof(payload) - 1);
    Floe__Smoke m = FLOE__SMOKE__INIT;
    m.run_id = payload;
    floe_err err;
    assert_int_equal(floe_envelope_encode(FLOE__MESSAGE_TYPE__MESSAGE_TYPE_SMOKE, &m.base, "p",
                                          MAX_BYTES, &buf, NULL, &err),
                     FLOE_ETOOBIG);
    assert_non_null(strstr(err.msg, "Smoke of"));
}

static void
test_decoded_size_bounded(void **state)
{
    (void)state;
    /* 2,000 tiny repeated entries: small on the wire, much larger decoded. */
    enum { N = 2000 };
    static Floe__KeyValue kv[N];
    static Floe__KeyValue *kvs[N];
    Floe__DataPublished m = FLOE__DATA_PUBLISHED__INIT;
    m.dataset = "ds";
    for (int i = 0; i < N; i++) {
        floe__key_value__init(&kv[i]);
        kvs[i] = &kv[i];
    }
    m.partition = kvs;
    m.n_partition = N;
    assert_int_equal(floe_envelope_encode(FLOE__MESSAGE_TYPE__MESSAGE_TYPE_DATA_PUBLISHED, &m.base,
                                          "p", MAX_BYTES, &buf, NULL, NULL),
                     FLOE_OK);
    floe_arena *small = floe_arena_new(1024, 32 * 1024);
    floe_envelope env;
    floe_err err;
    assert_int_equal(floe_envelope_decode(buf.data, buf.len, MAX_BYTES, small, &env, &err),
                     FLOE_ETOOBIG);
    assert_non_null(strstr(err.msg, "too large once decoded"));
    floe_arena_free(small);
}

static void
test_unknown_type(void **state)
{
    (void)state;
    Floe__Envelope e = FLOE__ENVELOPE__INIT;
    e.type = 42;
    e.id = "01HZZZZZZZZZZZZZZZZZZZZZZZ";
    e.time_unix_us = 1;
    e.producer = "p";
    uint8_t out[256];
    size_t n = floe__envelope__pack(&e, out);
    expect_decode_error(out, n, FLOE_EINVAL, "envelope: unknown message type 42");

    e.type = FLOE__MESSAGE_TYPE__MESSAGE_TYPE_SMOKE;
    e.id = "short";
    n = floe__envelope__pack(&e, out);
    expect_decode_error(out, n, FLOE_EINVAL, "envelope: id must be 26 characters");

    e.id = "01HZZZZZZZZZZZZZZZZZZZZZZZ";
    e.time_unix_us = 0;
    n = floe__envelope__pack(&e, out);
    expect_decode_error(out, n, FLOE_EINVAL, "envelope: time missing");
}

static void
test_payload_fields_checked(void **state)
{
    (void)state;
    Floe__TaskFailed f = FLOE__TASK_FAILED__INIT;
    f.execution_id = "ex1";
    f.node_id = "n1";
    f.attempt = 1;
    assert_int_equal(floe_envelope_encode(FLOE__MESSAGE_TYPE__MESSAGE_TYPE_TASK_FAILED, &f.base,
                                          "p", MAX_BYTES, &buf, NULL, NULL),
                     FLOE_OK);
    expect_decode_error(buf.data, buf.len, FLOE_EINVAL,
                        "TaskFailed: kind: must be USER or SYSTEM, got 0");

    f.kind = FLOE__ERROR_KIND__ERROR_KIND_USER;
    f.execution_id = "../../etc/passwd";
    floe_envelope_encode(FLOE__MESSAGE_TYPE__MESSAGE_TYPE_TASK_FAILED, &f.base, "p", MAX_BYTES,
                         &buf, NULL, NULL);
    expect_decode_error(buf.data, buf.len, FLOE_EINVAL,
                        "TaskFailed: execution_id: byte 0 (0x2e) is not allowed");

    f.execution_id = "ex1";
    f.attempt = 0;
    floe_envelope_encode(FLOE__MESSAGE_TYPE__MESSAGE_TYPE_TASK_FAILED, &f.base, "p", MAX_BYTES,
                         &buf, NULL, NULL);
    expect_decode_error(buf.data, buf.len, FLOE_EINVAL, "TaskFailed: attempt: must be 1 or more");

    Floe__ExecutionRequested r = FLOE__EXECUTION_REQUESTED__INIT;
    r.execution_id = "ex1";
    floe_envelope_encode(FLOE__MESSAGE_TYPE__MESSAGE_TYPE_EXECUTION_REQUESTED, &r.base, "p",
                         MAX_BYTES, &buf, NULL, NULL);
    expect_decode_error(buf.data, buf.len, FLOE_EINVAL, "ExecutionRequested: workflow: missing");
}

static void
test_type_mismatch_refused(void **state)
{
    (void)state;
    Floe__Smoke m = FLOE__SMOKE__INIT;
    floe_err err;
    assert_int_equal(floe_envelope_encode(FLOE__MESSAGE_TYPE__MESSAGE_TYPE_TASK_FAILED, &m.base,
                                          "p", MAX_BYTES, &buf, NULL, &err),
                     FLOE_EINVAL);
    assert_int_equal(floe_envelope_encode(77, &m.base, "p", MAX_BYTES, &buf, NULL, &err),
                     FLOE_EINVAL);
}

static void
test_encode_allocation_failures(void **state)
{
    (void)state;
    Floe__Smoke m = FLOE__SMOKE__INIT;
    m.run_id = "r";
    floe_buf fresh = {0};
    floe_err err;
    floe_mem_fail_at(1, 1);
    floe_rc rc = floe_envelope_encode(FLOE__MESSAGE_TYPE__MESSAGE_TYPE_SMOKE, &m.base, "p",
                                      MAX_BYTES, &fresh, NULL, &err);
    floe_mem_fail_at(0, 0);
    assert_int_equal(rc, FLOE_ENOMEM);
    assert_null(fresh.data);
    assert_int_equal(floe_envelope_encode(FLOE__MESSAGE_TYPE__MESSAGE_TYPE_SMOKE, &m.base, "p",
                                          MAX_BYTES, &fresh, NULL, &err),
                     FLOE_OK);
    floe_buf_deinit(&fresh);
}

static void
test_arena(void **state)
{
    (void)state;
    floe_arena *a = floe_arena_new(256, 4096);
    void *p = floe_arena_alloc(a, 1);
    void *q = floe_arena_alloc(a, 3);
    assert_non_null(p);
    assert_true(((uintptr_t)q & 15) == 0);
    assert_int_equal(floe_arena_used(a), 32);
    void *big = floe_arena_alloc(a, 1000); /* own chunk */
    assert_non_null(big);
    memset(big, 1, 1000);
    assert_null(floe_arena_alloc(a, 4000)); /* over the limit */
    assert_true(floe_arena_exhausted(a));
    char *s = floe_arena_strndup(a, "hello world", 5);
    assert_string_equal(s, "hello");
    floe_arena_reset(a);
    assert_false(floe_arena_exhausted(a));
    assert_int_equal(floe_arena_used(a), 0);
    assert_non_null(floe_arena_alloc(a, 100));
    floe_arena_free(a);
    floe_arena_free(NULL);

    floe_mem_fail_at(1, 0);
    assert_null(floe_arena_new(256, 0));
    floe_mem_fail_at(0, 0);
}

/* --- Review C3 and C2: what protobuf-c would accept and must not ---------------------- */

typedef struct wire {
    uint8_t *b;
    size_t len, cap;
} wire;

static void
wire_put(wire *w, const void *p, size_t n)
{
    if (w->len + n > w->cap) {
        w->cap = (w->len + n) * 2;
        w->b = realloc(w->b, w->cap);
        assert_non_null(w->b);
    }
    memcpy(w->b + w->len, p, n);
    w->len += n;
}

static void
wire_varint(wire *w, uint64_t v)
{
    uint8_t x[10];
    size_t n = 0;
    while (v >= 0x80) {
        x[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    x[n++] = (uint8_t)v;
    wire_put(w, x, n);
}

/* *w becomes field `field` (length-delimited) holding the old *w. */
static void
wire_wrap(wire *w, unsigned field)
{
    wire o = {0};
    wire_varint(&o, (uint64_t)field << 3 | 2);
    wire_varint(&o, w->len);
    wire_put(&o, w->b, w->len);
    free(w->b);
    *w = o;
}

/* An envelope holding a TaskSucceeded whose one output is the Value in *v (consumed). */
static void
wire_task_succeeded(wire *v, wire *out)
{
    wire nv = {0};
    wire_varint(&nv, 1 << 3 | 2);
    wire_varint(&nv, 1);
    wire_put(&nv, "x", 1);
    wire_wrap(v, 2); /* NamedValue.value */
    wire_put(&nv, v->b, v->len);
    free(v->b);
    wire_wrap(&nv, 6); /* TaskSucceeded.outputs */
    wire p = {0};
    const char *ids[] = {"01HEXEC", "train"};
    for (unsigned f = 1; f <= 2; f++) {
        wire_varint(&p, f << 3 | 2);
        wire_varint(&p, strlen(ids[f - 1]));
        wire_put(&p, ids[f - 1], strlen(ids[f - 1]));
    }
    wire_varint(&p, 3 << 3);
    wire_varint(&p, 1); /* attempt */
    wire_put(&p, nv.b, nv.len);
    free(nv.b);
    wire_wrap(&p, 5); /* Envelope.payload */
    char id[FLOE_ID_LEN + 1];
    assert_int_equal(floe_id_new(id), 0);
    wire_varint(out, 1 << 3);
    wire_varint(out, FLOE__MESSAGE_TYPE__MESSAGE_TYPE_TASK_SUCCEEDED);
    wire_varint(out, 2 << 3 | 2);
    wire_varint(out, FLOE_ID_LEN);
    wire_put(out, id, FLOE_ID_LEN);
    wire_varint(out, 3 << 3);
    wire_varint(out, 1700000000000000ULL);
    wire_put(out, p.b, p.len);
    free(p.b);
}

static floe_rc
decode_nested(unsigned levels, floe_err *err)
{
    wire v = {0};
    wire_varint(&v, 1 << 3);
    wire_varint(&v, 7); /* Value.integer = 7 */
    for (unsigned i = 0; i < levels; i++) {
        wire_wrap(&v, 1); /* ValueList.items */
        wire_wrap(&v, 8); /* Value.list */
    }
    wire env = {0};
    wire_task_succeeded(&v, &env);
    floe_envelope out;
    floe_arena_reset(arena);
    floe_rc rc = floe_envelope_decode(env.b, env.len, 1 << 20, arena, &out, err);
    free(env.b);
    return rc;
}

static void
test_c3_deep_nesting_refused(void **state)
{
    (void)state;
    floe_err err;
    /* 15 list levels are 31 messages deep (envelope payload, outputs, value, lists...). */
    assert_int_equal(decode_nested(10, &err), FLOE_OK);
    /* 5,000 levels (about 34 KB) overflowed protobuf-c's stack before the check. */
    assert_int_equal(decode_nested(5000, &err), FLOE_EINVAL);
    assert_non_null(strstr(err.msg, "nested deeper than"));
    assert_non_null(strstr(err.msg, "TaskSucceeded"));
}

static void
test_c2_invalid_utf8_on_the_bus_refused(void **state)
{
    (void)state;
    wire v = {0};
    wire_varint(&v, 3 << 3 | 2); /* Value.string */
    wire_varint(&v, 4);
    wire_put(&v, "ab\xc3(", 4);
    wire env = {0};
    wire_task_succeeded(&v, &env);
    floe_envelope out;
    floe_err err;
    assert_int_equal(floe_envelope_decode(env.b, env.len, 1 << 20, arena, &out, &err), FLOE_EINVAL);
    assert_non_null(strstr(err.msg, "floe.Value.string: not valid UTF-8"));
    free(env.b);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_round_trip, setup, teardown),
        cmocka_unit_test(test_ids_unique_and_ordered),
        cmocka_unit_test(test_ids_differ_across_fork),
        cmocka_unit_test_setup_teardown(test_empty_and_garbage, setup, teardown),
        cmocka_unit_test_setup_teardown(test_every_truncation_rejected, setup, teardown),
        cmocka_unit_test_setup_teardown(test_oversized, setup, teardown),
        cmocka_unit_test_setup_teardown(test_decoded_size_bounded, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unknown_type, setup, teardown),
        cmocka_unit_test_setup_teardown(test_payload_fields_checked, setup, teardown),
        cmocka_unit_test_setup_teardown(test_type_mismatch_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_encode_allocation_failures, setup, teardown),
        cmocka_unit_test(test_arena),
        cmocka_unit_test_setup_teardown(test_c3_deep_nesting_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_c2_invalid_utf8_on_the_bus_refused, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
