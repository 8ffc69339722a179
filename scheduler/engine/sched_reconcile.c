#include "sched_reconcile.h"

#include "store_redis.h"
#include "store_redis_probe.h"
#include "store_state.h"

#include <stdio.h>

floe_rc
sched_reconcile_scan(store_pg *pg, const floe_config *cfg, int64_t *cursor, floe_arena *arena,
                     store_exec **orphans, size_t *n, unsigned *checked, floe_err *err)
{
    *orphans = NULL;
    *n = 0;
    *checked = 0;
    store_exec *rows;
    size_t nr;
    floe_rc rc = store_exec_running(pg, *cursor, cfg->reconcile_every_ms, SCHED_RECONCILE_PAGE,
                                    arena, &rows, &nr, err);
    if (rc != FLOE_OK)
        return rc;
    *cursor = nr == SCHED_RECONCILE_PAGE ? rows[nr - 1].seq : 0;
    if (nr == 0)
        return FLOE_OK;
    /* EXISTS of each execution's hash, on one short connection. */
    const char *const **cmds = floe_arena_alloc(arena, nr * sizeof(*cmds));
    const char **argv = floe_arena_alloc(arena, 2 * nr * sizeof(*argv));
    int *argcs = floe_arena_alloc(arena, nr * sizeof(*argcs));
    store_reply **replies = floe_arena_alloc(arena, nr * sizeof(*replies));
    store_exec *out = floe_arena_alloc(arena, nr * sizeof(*out));
    if (cmds == NULL || argv == NULL || argcs == NULL || replies == NULL || out == NULL)
        return floe_err_sys(err, FLOE_ENOMEM, "reconcile: out of memory");
    for (size_t i = 0; i < nr; i++) {
        char *key = floe_arena_alloc(arena, STORE_KEY_MAX);
        if (key == NULL)
            return floe_err_sys(err, FLOE_ENOMEM, "reconcile: out of memory");
        if (store_key_exec(key, rows[i].id) != FLOE_OK)
            snprintf(key, STORE_KEY_MAX, "floe:{?}"); /* ids are checked on the way in */
        argv[2 * i] = "EXISTS";
        argv[2 * i + 1] = key;
        cmds[i] = &argv[2 * i];
        argcs[i] = 2;
    }
    int timeout = (int)(cfg->redis_timeout_ms < 5000 ? cfg->redis_timeout_ms : 5000);
    if ((rc = store_redis_sync_call(cfg->redis_url, timeout, (int)nr, cmds, argcs, replies, err)) !=
        FLOE_OK)
        return rc;
    size_t k = 0;
    for (size_t i = 0; i < nr; i++) {
        if (store_reply_kind(replies[i]) == STORE_REPLY_INT && store_reply_int(replies[i]) == 0)
            out[k++] = rows[i];
    }
    store_redis_sync_free(replies, (int)nr);
    *orphans = out;
    *n = k;
    *checked = (unsigned)nr;
    return FLOE_OK;
}
