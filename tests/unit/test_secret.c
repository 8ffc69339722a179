/*
 * A task's secrets on the worker (wrk_secret): values read from the provider directory
 * reach the task as variables (one trailing newline dropped) or 0400 files; a missing
 * secret or a missing provider is an error that holds no value; masking replaces every
 * occurrence byte for byte, across the blocks of a file, and leaves short values alone.
 */
#include "wrk_secret.h"

#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

static char root[64], provider[96], att[96];

static void
put(const char *name, const char *value)
{
    char path[160];
    snprintf(path, sizeof(path), "%s/%s", provider, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(value, f);
    fclose(f);
}

static int
setup(void **state)
{
    (void)state;
    snprintf(root, sizeof(root), "/tmp/floe-secret-XXXXXX");
    assert_non_null(mkdtemp(root));
    snprintf(provider, sizeof(provider), "%s/provider", root);
    snprintf(att, sizeof(att), "%s/att", root);
    assert_int_equal(mkdir(provider, 0700), 0);
    assert_int_equal(mkdir(att, 0700), 0);
    put("db_password", "hunter2-correct-horse\n");
    put("tls.key", "-----BEGIN KEY-----\nAAAA\n-----END KEY-----\n");
    put("pin", "42\n");
    return 0;
}

static int
teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", root);
    return system(cmd);
}

static Floe__SecretRef *
ref(const char *name, const char *env, const char *file)
{
    static Floe__SecretRef refs[8];
    static size_t n;
    Floe__SecretRef *r = &refs[n++ % 8];
    floe__secret_ref__init(r);
    r->name = (char *)name;
    r->env = (char *)env;
    r->file = (char *)file;
    return r;
}

static void
test_values_reach_the_task(void **state)
{
    (void)state;
    Floe__SecretRef *refs[] = {ref("db_password", "DB_PASSWORD", ""), ref("tls.key", "", "key.pem"),
                               ref("pin", "PIN", "")};
    Floe__Container c = FLOE__CONTAINER__INIT;
    c.secrets = refs;
    c.n_secrets = 3;
    floe_arena *a = floe_arena_new(4096, 1 << 20);
    wrk_secrets s;
    floe_err err = {0};
    if (wrk_secrets_resolve(provider, &c, att, a, &s, &err) != FLOE_OK)
        fail_msg("%s", err.msg);
    assert_int_equal(s.n_env, 2);
    assert_string_equal(s.env[0], "DB_PASSWORD=hunter2-correct-horse");
    assert_string_equal(s.env[1], "PIN=42");
    assert_non_null(s.dir);
    char path[160];
    snprintf(path, sizeof(path), "%s/key.pem", s.dir);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0400);
    assert_int_equal(st.st_size, strlen("-----BEGIN KEY-----\nAAAA\n-----END KEY-----\n"));
    assert_int_equal(s.longest, strlen("-----BEGIN KEY-----\nAAAA\n-----END KEY-----\n"));

    /* Masked byte for byte; "42" is too short to mask. */
    char line[] = "login with hunter2-correct-horse, pin 42, again hunter2-correct-horse.";
    assert_true(wrk_secrets_mask(&s, line, strlen(line)));
    assert_string_equal(line, "login with *********************, pin 42, again "
                              "*********************.");
    char clean[] = "nothing to hide";
    assert_false(wrk_secrets_mask(&s, clean, strlen(clean)));

    /* A file whose values straddle the masking blocks (64 KiB). */
    char log[160];
    snprintf(log, sizeof(log), "%s/stdout", att);
    FILE *f = fopen(log, "w");
    for (int i = 0; i < 70000; i++)
        fputc('.', f);
    fseek(f, 65536 - 5, SEEK_SET);
    fputs("hunter2-correct-horse", f);
    fseek(f, 131072 - 3, SEEK_SET);
    fputs("hunter2-correct-horse", f);
    fclose(f);
    assert_int_equal(wrk_secrets_mask_file(&s, log, &err), FLOE_OK);
    size_t len = 0;
    FILE *r = fopen(log, "r");
    char *all = malloc(200000);
    len = fread(all, 1, 200000, r);
    fclose(r);
    assert_int_equal(len, 131072 - 3 + 21);
    assert_null(memmem(all, len, "hunter2", 7));
    assert_int_equal(all[65536 - 5], '*');
    assert_int_equal(all[131072 - 3 + 20], '*');
    free(all);

    wrk_secrets_wipe(&s);
    assert_int_equal(s.n_vals, 0);
    floe_arena_free(a);
}

static void
test_missing_secrets_are_errors_without_values(void **state)
{
    (void)state;
    Floe__SecretRef *refs[] = {ref("db_password", "DB_PASSWORD", ""), ref("nope", "NOPE", "")};
    Floe__Container c = FLOE__CONTAINER__INIT;
    c.secrets = refs;
    c.n_secrets = 2;
    floe_arena *a = floe_arena_new(4096, 1 << 20);
    wrk_secrets s;
    floe_err err = {0};
    assert_int_equal(wrk_secrets_resolve(provider, &c, att, a, &s, &err), FLOE_ENOTFOUND);
    assert_non_null(strstr(err.msg, "secret nope"));
    assert_null(strstr(err.msg, "hunter2"));
    assert_int_equal(err.cls, FLOE_ERR_SYSTEM);
    memset(&err, 0, sizeof(err));
    assert_int_equal(wrk_secrets_resolve("", &c, att, a, &s, &err), FLOE_ENOTFOUND);
    assert_non_null(strstr(err.msg, "worker.secrets_dir"));
    /* a reference a spec would refuse is refused here too (a forged dispatch) */
    Floe__SecretRef *bad[] = {ref("../etc/passwd", "X", "")};
    c.secrets = bad;
    c.n_secrets = 1;
    assert_int_equal(wrk_secrets_resolve(provider, &c, att, a, &s, &err), FLOE_EINVAL);
    Floe__SecretRef *both[] = {ref("pin", "X", "f")};
    c.secrets = both;
    assert_int_equal(wrk_secrets_resolve(provider, &c, att, a, &s, &err), FLOE_EINVAL);
    Floe__SecretRef *floe_env[] = {ref("pin", "FLOE_INPUTS", "")};
    c.secrets = floe_env;
    assert_int_equal(wrk_secrets_resolve(provider, &c, att, a, &s, &err), FLOE_EINVAL);
    Floe__SecretRef *dir_file[] = {ref("pin", "", "../x")};
    c.secrets = dir_file;
    assert_int_equal(wrk_secrets_resolve(provider, &c, att, a, &s, &err), FLOE_EINVAL);
    floe_arena_free(a);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_values_reach_the_task),
        cmocka_unit_test(test_missing_secrets_are_errors_without_values),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
