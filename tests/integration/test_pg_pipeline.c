/*
 * Integration: store_pg_pipeline against the stack's PostgreSQL (issue 25: launches that
 * came together are sent as one pipeline, one round trip). All or none whichever
 * statement fails, the commit included; the failed statement is named; the connection is
 * idle and usable afterwards.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "it_util.h"
#include "store_pg_int.h"

#include <stdio.h>
#include <string.h>

static floe_config *cfg;

static store_pg *
connect_pg(void)
{
    floe_err err = {0};
    store_pg *pg = store_pg_connect(cfg->postgres_url, "test-pg-pipeline", 5000, &err);
    if (pg == NULL)
        fail_msg("postgres: %s", err.msg);
    return pg;
}

static void
run(store_pg *pg, const char *sql)
{
    PGresult *r;
    floe_err err = {0};
    if (store_pg_exec(pg, sql, 0, NULL, NULL, NULL, &r, &err) != FLOE_OK)
        fail_msg("%s: %s", sql, err.msg);
    PQclear(r);
}

static long
rows(store_pg *pg, const char *table)
{
    char sql[96];
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM %s", table);
    PGresult *r;
    floe_err err = {0};
    if (store_pg_exec(pg, sql, 0, NULL, NULL, NULL, &r, &err) != FLOE_OK)
        fail_msg("%s: %s", sql, err.msg);
    long n = (long)store_pg_int64(r, 0, 0);
    PQclear(r);
    return n;
}

#define INSERT "INSERT INTO pp (k, v) VALUES ($1, $2) RETURNING length(v)"

static void
test_pipeline_all_or_none(void **state)
{
    (void)state;
    store_pg *pg = connect_pg();
    run(pg, "CREATE TEMP TABLE pp (k text PRIMARY KEY, v text)");
    const char *p[4][2] = {{"a", "x"}, {"b", "yy"}, {"c", "zzz"}, {"a", "again"}};
    store_pg_call calls[4];
    for (int i = 0; i < 4; i++)
        calls[i] = (store_pg_call){INSERT, 2, p[i], NULL, NULL};
    PGresult *res[4];
    size_t failed = 99;
    floe_err err = {0};

    /* Three fine ones and a statement without parameters: each result in its place. */
    store_pg_call four[4] = {calls[0], calls[1], {"SELECT 41 + 1", 0, NULL, NULL, NULL}, calls[2]};
    assert_int_equal(store_pg_pipeline(pg, four, 4, res, &failed, &err), FLOE_OK);
    assert_string_equal(PQgetvalue(res[0], 0, 0), "1");
    assert_string_equal(PQgetvalue(res[1], 0, 0), "2");
    assert_string_equal(PQgetvalue(res[2], 0, 0), "42");
    assert_string_equal(PQgetvalue(res[3], 0, 0), "3");
    for (int i = 0; i < 4; i++)
        PQclear(res[i]);
    assert_int_equal(rows(pg, "pp"), 3);

    /* The last of four refused ("a" exists): none of them stays, the fourth is named. */
    run(pg, "DELETE FROM pp");
    assert_int_equal(store_pg_pipeline(pg, calls, 4, res, &failed, &err), FLOE_ECONFLICT);
    assert_int_equal(failed, 3);
    assert_non_null(strstr(err.msg, "duplicate key"));
    for (int i = 0; i < 4; i++)
        assert_null(res[i]);
    assert_int_equal(rows(pg, "pp"), 0);
    assert_int_equal(PQtransactionStatus(pg->conn), PQTRANS_IDLE);

    /* Text that is not UTF-8: named before anything is sent. */
    const char *bad[2] = {"d", "\xc3\x28"};
    store_pg_call calls2[3] = {calls[0], calls[1], {INSERT, 2, bad, NULL, NULL}};
    floe_err_clear(&err);
    assert_int_equal(store_pg_pipeline(pg, calls2, 3, res, &failed, &err), FLOE_EINVAL);
    assert_int_equal(failed, 2);
    assert_non_null(strstr(err.msg, "$2"));
    assert_int_equal(rows(pg, "pp"), 0);

    /* A constraint checked at the commit: the commit (n) is named, nothing stays. */
    run(pg, "CREATE TEMP TABLE pd (k text UNIQUE DEFERRABLE INITIALLY DEFERRED)");
    const char *one[1] = {"same"};
    store_pg_call twice[2] = {{"INSERT INTO pd VALUES ($1)", 1, one, NULL, NULL},
                              {"INSERT INTO pd VALUES ($1)", 1, one, NULL, NULL}};
    floe_err_clear(&err);
    assert_int_equal(store_pg_pipeline(pg, twice, 2, res, &failed, &err), FLOE_ECONFLICT);
    assert_int_equal(failed, 2);
    assert_int_equal(rows(pg, "pd"), 0);

    /* And the connection goes on: a pipeline, then a statement of its own. */
    floe_err_clear(&err);
    assert_int_equal(store_pg_pipeline(pg, calls, 3, res, &failed, &err), FLOE_OK);
    for (int i = 0; i < 3; i++)
        PQclear(res[i]);
    assert_int_equal(rows(pg, "pp"), 3);
    store_pg_close(pg);
}

static int
setup(void **state)
{
    (void)state;
    cfg = it_config("test-pg-pipeline", NULL, 0);
    return 0;
}

static int
teardown(void **state)
{
    (void)state;
    floe_config_free(cfg);
    return 0;
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pipeline_all_or_none),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
