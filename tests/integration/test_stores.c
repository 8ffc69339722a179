/*
 * Integration: the stack's Redis and PostgreSQL answer at the addresses ops/stack prints,
 * with the settings Floe depends on (Redis AOF with everysec fsync; PostgreSQL 15, UTF-8,
 * durable writes).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "it_util.h"

#include <hiredis/hiredis.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void
redis_addr(const char *url, char *host, size_t size, int *port)
{
    /* redis://host:port as printed by ops/stack env */
    if (sscanf(url, "redis://%63[^:]:%d", host, port) != 2 || size < 64)
        fail_msg("FLOE_REDIS_URL \"%s\": expected redis://host:port", url);
}

static redisReply *
cmd(redisContext *c, const char *const *argv, int argc)
{
    redisReply *r = redisCommandArgv(c, argc, (const char **)argv, NULL);
    if (r == NULL)
        fail_msg("redis %s: %s", argv[0], c->errstr);
    return r;
}

static void
test_redis_answers_with_aof(void **state)
{
    (void)state;
    floe_config *cfg = it_config("test-stores", NULL, 0);
    char host[64];
    int port;
    redis_addr(cfg->redis_url, host, sizeof(host), &port);
    redisContext *c = redisConnect(host, port);
    if (c == NULL || c->err)
        fail_msg("redis %s:%d: %s", host, port, c != NULL ? c->errstr : "no context");

    const char *ping[] = {"PING"};
    redisReply *r = cmd(c, ping, 1);
    assert_string_equal(r->str, "PONG");
    freeReplyObject(r);

    const char *set[] = {"SET", "{floe-test}:k", "v\0x", "EX", "60"};
    size_t lens[] = {3, 13, 3, 2, 2};
    r = redisCommandArgv(c, 5, set, lens);
    assert_non_null(r);
    assert_string_equal(r->str, "OK");
    freeReplyObject(r);
    const char *get[] = {"GET", "{floe-test}:k"};
    r = cmd(c, get, 2);
    assert_int_equal(r->len, 3);
    assert_memory_equal(r->str, "v\0x", 3); /* binary-safe */
    freeReplyObject(r);

    const char *aof[] = {"CONFIG", "GET", "appendonly"};
    r = cmd(c, aof, 3);
    assert_int_equal(r->elements, 2);
    assert_string_equal(r->element[1]->str, "yes");
    freeReplyObject(r);
    const char *fsync[] = {"CONFIG", "GET", "appendfsync"};
    r = cmd(c, fsync, 3);
    assert_string_equal(r->element[1]->str, "everysec");
    freeReplyObject(r);
    const char *info[] = {"INFO", "server"};
    r = cmd(c, info, 2);
    assert_non_null(strstr(r->str, "redis_version:7."));
    freeReplyObject(r);
    redisFree(c);
    floe_config_free(cfg);
}

static void
test_postgres_answers(void **state)
{
    (void)state;
    floe_config *cfg = it_config("test-stores", NULL, 0);
    PGconn *pg = PQconnectdb(cfg->postgres_url);
    if (PQstatus(pg) != CONNECTION_OK)
        fail_msg("postgres %s: %s", cfg->postgres_url, PQerrorMessage(pg));
    assert_true(PQserverVersion(pg) >= 150000);

    PGresult *res = PQexec(pg, "SHOW server_encoding");
    assert_int_equal(PQresultStatus(res), PGRES_TUPLES_OK);
    assert_string_equal(PQgetvalue(res, 0, 0), "UTF8");
    PQclear(res);
    res = PQexec(pg, "SHOW fsync");
    assert_string_equal(PQgetvalue(res, 0, 0), "on");
    PQclear(res);

    /* A parameterised round trip with a hostile-looking value, stored verbatim. */
    res = PQexec(pg, "CREATE TEMP TABLE t (v text)");
    assert_int_equal(PQresultStatus(res), PGRES_COMMAND_OK);
    PQclear(res);
    const char *val = "x'); DROP TABLE t; --";
    res = PQexecParams(pg, "INSERT INTO t VALUES ($1)", 1, NULL, &val, NULL, NULL, 0);
    assert_int_equal(PQresultStatus(res), PGRES_COMMAND_OK);
    PQclear(res);
    res = PQexec(pg, "SELECT v FROM t");
    assert_int_equal(PQntuples(res), 1);
    assert_string_equal(PQgetvalue(res, 0, 0), val);
    PQclear(res);
    PQfinish(pg);
    floe_config_free(cfg);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_redis_answers_with_aof),
        cmocka_unit_test(test_postgres_answers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
