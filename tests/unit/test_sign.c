/*
 * floe_sign: a signed envelope verifies under its key and under a keyring that rotates
 * it in; unsigned, tampered (any byte), re-keyed and unknown-key messages are refused
 * with the reason; bad key files are refused with file and line. Roles: a worker holding
 * the scheduler's public key cannot issue a dispatch; a service launches and publishes
 * only in its projects and as itself.
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
/* One Ed25519 key (made with openssl genpkey): its seed and its public half. */
#define ED_SEED "6b55e9af2f9b559d8ded4f5ed205071735dced6605694200706b1870d1b35f42"
#define ED_PUB "d7e75093a9e3488d640441acdbeb5903c97eee7ce61a29aacb65811fed5b6de0"
#define WORK "work hmac 2021222324252627282930313233343536373839404142434445464748494a4b worker\n"
#define SCHED_PRIV "sched ed25519 " ED_SEED " scheduler\n"
#define SCHED_PUB "sched ed25519.pub " ED_PUB " scheduler\n"
#define SVC                                                                                        \
    "ingest hmac 5051525354555657585960616263646566676869707172737475767778797a7b service "        \
    "analytics,ml\n"

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
    floe_keyring *kr = floe_keyring_load(keyfile(name, text, 0600), NULL, &err);
    if (kr == NULL)
        fail_msg("%s", err.msg);
    return kr;
}

/* An envelope of msg, signed by kr when not NULL. */
static void
envelope(floe_buf *buf, const floe_keyring *kr, Floe__MessageType type, const ProtobufCMessage *m)
{
    floe_err err = {0};
    assert_int_equal(floe_envelope_encode(type, m, "test", MAX_BYTES, buf, NULL, &err), FLOE_OK);
    if (kr != NULL && floe_envelope_sign(buf, kr, &err) != FLOE_OK)
        fail_msg("%s", err.msg);
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
    assert_null(floe_keyring_load(keyfile("short", "k 0011\n", 0600), NULL, &err));
    assert_non_null(strstr(err.msg, "line 1"));
    assert_null(floe_keyring_load(keyfile("dup", K1 K1, 0600), NULL, &err));
    assert_non_null(strstr(err.msg, "twice"));
    assert_null(floe_keyring_load(keyfile("empty", "# nothing\n", 0600), NULL, &err));
    assert_null(floe_keyring_load(keyfile("open", K1, 0644), NULL, &err));
    assert_non_null(strstr(err.msg, "readable by anyone"));
    assert_null(floe_keyring_load("/nonexistent/keys", NULL, &err));
    static const struct {
        const char *text, *why;
    } bad[] = {
        {"s hmac " ED_SEED ED_SEED " service\n", "names the projects"},
        {"s hmac " ED_SEED ED_SEED " scheduler p1\n", "only a service key"},
        {"w hmac " ED_SEED ED_SEED " worker a/b\n", "a worker is its id"},
        {"s hmac " ED_SEED " service ,\n", "names the projects"},
        {"w rsa " ED_SEED " worker\n", "hmac, ed25519 or ed25519.pub"},
        {"w ed25519 " ED_SEED " root\n", "a role is"},
        {"w ed25519 0011 worker\n", "32 bytes in hex"},
        {"s hmac " ED_SEED " service a,b/c\n", "a project is"},
        {"s hmac " ED_SEED " service a b c\n", "expected NAME HEX"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        memset(&err, 0, sizeof(err));
        if (floe_keyring_load(keyfile("bad", bad[i].text, 0600), NULL, &err) != NULL)
            fail_msg("accepted: %s", bad[i].text);
        if (strstr(err.msg, bad[i].why) == NULL || strstr(err.msg, "line 1") == NULL)
            fail_msg("%s: said \"%s\", not \"%s\"", bad[i].text, err.msg, bad[i].why);
    }
    /* bus.sign_key: a public key cannot sign, an absent one is named. */
    assert_null(floe_keyring_load(keyfile("pubsign", WORK SCHED_PUB, 0600), "sched", &err));
    assert_non_null(strstr(err.msg, "cannot sign"));
    assert_null(floe_keyring_load(keyfile("nosign", WORK, 0600), "nope", &err));
    assert_non_null(strstr(err.msg, "\"nope\" is not in"));
}

static void
test_ed25519_and_roles(void **state)
{
    (void)state;
    floe_keyring *sched = ring("sched", SCHED_PRIV WORK SVC),
                 *worker = ring("worker", WORK SCHED_PUB), *pub = ring("pub", SCHED_PUB);
    assert_string_equal(floe_keyring_signer(sched), "sched");
    assert_string_equal(floe_keyring_signer(worker), "work"); /* the public key cannot sign */
    assert_null(floe_keyring_signer(pub));
    floe_buf buf = {0};
    floe_err err = {0};
    dispatch(&buf, NULL);
    assert_int_equal(floe_envelope_sign(&buf, pub, &err), FLOE_EINVAL);

    /* The scheduler's dispatch verifies with its public key alone; every byte counts. */
    dispatch(&buf, sched);
    assert_null(check(&buf, worker));
    for (size_t i = 0; i < buf.len; i++) {
        buf.data[i] ^= 0x40;
        if (check(&buf, worker) == NULL)
            fail_msg("byte %zu flipped and the Ed25519 signature still verified", i);
        buf.data[i] ^= 0x40;
    }
    /* A worker's key signs its results, never a dispatch. */
    dispatch(&buf, worker);
    assert_string_equal(check(&buf, worker), "wrong_role");
    assert_string_equal(check(&buf, sched), "wrong_role");
    Floe__TaskSucceeded ok = FLOE__TASK_SUCCEEDED__INIT;
    ok.execution_id = "01HEXEC";
    ok.node_id = "train";
    ok.attempt = 1;
    ok.worker_id = "w1";
    envelope(&buf, worker, FLOE__MESSAGE_TYPE__MESSAGE_TYPE_TASK_SUCCEEDED, &ok.base);
    assert_null(check(&buf, sched));

    /* A worker key bound to its workers reports for them only. */
#define SCOPED "work hmac 2021222324252627282930313233343536373839404142434445464748494a4b worker "
    floe_keyring *scoped = ring("scoped", SCOPED "w1,node-7-*\n");
    const char *ids[] = {"w1", "node-7-4711-s0", "w2", "node-70-1-s0", "w1x"};
    const char *want[] = {NULL, NULL, "not_granted", "not_granted", "not_granted"};
    for (size_t i = 0; i < 5; i++) {
        ok.worker_id = (char *)ids[i];
        envelope(&buf, scoped, FLOE__MESSAGE_TYPE__MESSAGE_TYPE_TASK_SUCCEEDED, &ok.base);
        const char *why = check(&buf, scoped);
        if (want[i] == NULL ? why != NULL : why == NULL || strcmp(why, want[i]) != 0)
            fail_msg("TaskSucceeded of worker %s: %s", ids[i], why ? why : "accepted");
    }
    floe_keyring_free(scoped);
    floe_buf_deinit(&buf);
    floe_keyring_free(sched);
    floe_keyring_free(worker);
    floe_keyring_free(pub);
}

static void
test_service_acts_in_its_projects_as_itself(void **state)
{
    (void)state;
    floe_keyring *sched = ring("sched", SCHED_PRIV WORK SVC), *svc = ring("svc", SVC);
    char principal[FLOE_SIGN_PRINCIPAL_MAX + 1];
    assert_true(floe_keyring_principal(svc, principal));
    assert_string_equal(principal, "svc:ingest");
    assert_false(floe_keyring_principal(sched, principal));
    floe_buf buf = {0};
    Floe__Identifier wf = FLOE__IDENTIFIER__INIT;
    wf.project = "analytics";
    wf.domain = "dev";
    wf.name = "daily";
    wf.version = "v1";
    Floe__ExecutionRequested r = FLOE__EXECUTION_REQUESTED__INIT;
    r.execution_id = "01HEXEC";
    r.workflow = &wf;
    r.requested_by = "svc:ingest";
    const Floe__MessageType req = FLOE__MESSAGE_TYPE__MESSAGE_TYPE_EXECUTION_REQUESTED;
    envelope(&buf, svc, req, &r.base);
    assert_null(check(&buf, sched));
    wf.project = "finance";
    envelope(&buf, svc, req, &r.base);
    assert_string_equal(check(&buf, sched), "not_granted");
    wf.project = "ml";
    r.requested_by = "alice";
    envelope(&buf, svc, req, &r.base);
    assert_string_equal(check(&buf, sched), "not_granted");
    r.requested_by = "svc:ingest";
    r.source_execution_id = "01HOTHER";
    envelope(&buf, svc, req, &r.base);
    assert_string_equal(check(&buf, sched), "not_granted");
    r.source_execution_id = "";
    envelope(&buf, sched, req, &r.base); /* the scheduler's (the API's) launches: any project */
    assert_null(check(&buf, sched));

    Floe__DataPublished d = FLOE__DATA_PUBLISHED__INIT;
    d.dataset = "clicks";
    d.uri = "s3://b/clicks";
    const Floe__MessageType pubd = FLOE__MESSAGE_TYPE__MESSAGE_TYPE_DATA_PUBLISHED;
    const char *projects[] = {"ml", "", "finance"};
    const char *want[] = {NULL, "not_granted", "not_granted"};
    for (size_t i = 0; i < 3; i++) {
        d.project = (char *)projects[i];
        envelope(&buf, svc, pubd, &d.base);
        const char *why = check(&buf, sched);
        if (want[i] == NULL ? why != NULL : why == NULL || strcmp(why, want[i]) != 0)
            fail_msg("DataPublished as \"%s\": %s", projects[i], why ? why : "accepted");
    }
    /* A signal to a gate: in its projects, as itself, never a rejection; a worker never. */
    Floe__GateResolved g = FLOE__GATE_RESOLVED__INIT;
    g.execution_id = "01HEXEC";
    g.node_id = "level";
    g.approved = true;
    g.by = "svc:ingest";
    g.project = "ml";
    const Floe__MessageType gate = FLOE__MESSAGE_TYPE__MESSAGE_TYPE_GATE_RESOLVED;
    envelope(&buf, svc, gate, &g.base);
    assert_null(check(&buf, sched));
    g.project = "finance";
    envelope(&buf, svc, gate, &g.base);
    assert_string_equal(check(&buf, sched), "not_granted");
    g.project = "ml";
    g.by = "alice";
    envelope(&buf, svc, gate, &g.base);
    assert_string_equal(check(&buf, sched), "not_granted");
    g.by = "svc:ingest";
    g.approved = false;
    envelope(&buf, svc, gate, &g.base);
    assert_string_equal(check(&buf, sched), "not_granted");
    floe_keyring *work = ring("work", WORK);
    g.approved = true;
    envelope(&buf, work, gate, &g.base);
    assert_string_equal(check(&buf, sched), "wrong_role");
    floe_keyring_free(work);

    dispatch(&buf, svc);
    assert_string_equal(check(&buf, sched), "wrong_role");
    floe_buf_deinit(&buf);
    floe_keyring_free(sched);
    floe_keyring_free(svc);
}

/* The trailer's MAC is HMAC-SHA256 of the bytes before it, as any HMAC implementation
 * computes it (a service signs with its own library): the value below is Python's
 * hmac.new(K1's key, b"floe known answer", hashlib.sha256). */
static void
test_hmac_known_answer(void **state)
{
    (void)state;
    static const uint8_t want[32] = {0xe6, 0x22, 0x18, 0x0f, 0x1d, 0x91, 0x8b, 0xbd,
                                     0x8e, 0x8c, 0x76, 0xfc, 0x2e, 0x32, 0x78, 0x6f,
                                     0x3a, 0x56, 0xeb, 0x5e, 0x47, 0x80, 0x08, 0x1e,
                                     0x80, 0xf5, 0xec, 0x67, 0x49, 0x5d, 0xea, 0x2e};
    floe_keyring *k1 = ring("k1", K1);
    const char *text = "floe known answer";
    floe_buf buf = {0};
    buf.len = buf.cap = strlen(text);
    buf.data = malloc(buf.cap);
    assert_non_null(buf.data);
    memcpy(buf.data, text, buf.len);
    floe_err err = {0};
    assert_int_equal(floe_envelope_sign(&buf, k1, &err), FLOE_OK);
    assert_true(buf.len > strlen(text) + 32);
    assert_memory_equal(buf.data + buf.len - 32, want, 32);
    floe_buf_deinit(&buf);
    floe_keyring_free(k1);
}

int
main(void)
{
    if (mkdtemp(dir) == NULL)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ed25519_and_roles),
        cmocka_unit_test(test_service_acts_in_its_projects_as_itself),
        cmocka_unit_test(test_signed_round_trip_and_rotation),
        cmocka_unit_test(test_unsigned_and_tampered_are_refused),
        cmocka_unit_test(test_bad_key_files),
        cmocka_unit_test(test_hmac_known_answer),
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
