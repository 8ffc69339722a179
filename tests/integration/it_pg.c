#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "it_pg.h"

#include "floe_time.h"
#include "store_lease.h"
#include "store_migrate.h"
#include "store_pg_int.h"

#include <stdbool.h>
#include <unistd.h>

store_pg *
it_pg_connect(const floe_config *cfg, const char *app, int64_t timeout_ms)
{
    floe_err err = {0};
    store_pg *pg = store_pg_connect(cfg->postgres_url, app, timeout_ms, &err);
    if (pg == NULL)
        fail_msg("postgres: %s", err.msg);
    return pg;
}

store_pg *
it_pg_migrated(const floe_config *cfg, const char *app, int64_t timeout_ms)
{
    store_pg *pg = it_pg_connect(cfg, app, timeout_ms);
    floe_err err = {0};
    unsigned applied;
    if (store_migrate_apply(pg, &applied, &err) != FLOE_OK)
        fail_msg("migrations: %s", err.msg);
    return pg;
}

void
it_pg_sql(store_pg *pg, const char *sql)
{
    PGresult *r;
    floe_err err = {0};
    if (store_pg_exec(pg, sql, 0, NULL, NULL, NULL, &r, &err) != FLOE_OK)
        fail_msg("%s: %s", sql, err.msg);
    PQclear(r);
}

uint64_t
it_pg_lease(store_pg *pg, const char *holder)
{
    int64_t deadline = floe_mono_us() + 20000000;
    for (;;) {
        bool held = false;
        uint64_t epoch = 0;
        char cur[128] = "";
        floe_err err = {0};
        if (store_lease_acquire(pg, "scheduler", holder, 3000, 0, &held, &epoch, cur, &err) !=
            FLOE_OK)
            fail_msg("lease: %s", err.msg);
        if (held)
            return epoch;
        if (floe_mono_us() > deadline)
            fail_msg("timed out after 20000 ms waiting for the lease (held by %s)", cur);
        usleep(100000); /* a lease expires by the clock: nothing to wait on */
    }
}

void
it_pg_lease_release(store_pg *pg, const char *holder, uint64_t epoch)
{
    floe_err err = {0};
    if (store_lease_release(pg, "scheduler", holder, epoch, &err) != FLOE_OK)
        fail_msg("lease release: %s", err.msg);
}
