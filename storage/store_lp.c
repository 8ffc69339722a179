/*
 * Launch-plan firings in PostgreSQL. Every value is a parameter; arrays go through
 * store_pg_arr literals. Transactions are short: one plan's schedule, one launch, one
 * batch of trigger events (the caller's).
 */
#include "store_lp.h"

#include "floe_mem.h"
#include "store_pg_int.h"
#include "store_lease.h"
#include "store_registry.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EXEC_RUNNING "('QUEUED', 'RUNNING')"

static floe_rc
run(store_pg *pg, const char *sql, int n, const char *const *params, floe_err *err)
{
    PGresult *r;
    floe_rc rc = store_pg_exec(pg, sql, n, params, NULL, NULL, &r, err);
    if (rc == FLOE_OK)
        PQclear(r);
    return rc;
}

floe_rc
store_lp_fence(store_pg *pg, uint64_t epoch, floe_err *err)
{
    char ep[24];
    snprintf(ep, sizeof(ep), "%" PRIu64, epoch);
    const char *params[] = {ep};
    /* No row lock on floe_leader, which would hold up the lease's renewal for as long as
     * this transaction runs (review H7): the shared advisory lock instead, held to commit,
     * which only a change of leader needs exclusively (store_lease_acquire). */
    return run(pg, "SELECT " STORE_PG_FENCE("$1"), 1, params, err);
}

floe_rc
store_lp_active_list(store_pg *pg, size_t max, floe_arena *arena, store_lp_active **out, size_t *n,
                     floe_err *err)
{
    char lim[24];
    snprintf(lim, sizeof(lim), "%zu", max);
    const char *params[] = {lim};
    PGresult *r;
    floe_rc rc = store_pg_exec(
        pg,
        "SELECT l.project, l.domain, l.name, l.version, l.spec,"
        " floor(extract(epoch FROM c.cursor_at))::bigint, c.cursor_at IS NOT NULL,"
        " EXISTS (SELECT 1 FROM lp_firings f WHERE f.project = l.project AND f.domain = l.domain"
        "  AND f.name = l.name AND f.state = 'PENDING')"
        " FROM launch_plans l LEFT JOIN lp_cursors c ON c.project = l.project AND"
        " c.domain = l.domain AND c.name = l.name"
        " WHERE l.active ORDER BY l.project, l.domain, l.name LIMIT $1::bigint",
        1, params, NULL, NULL, &r, err);
    if (rc != FLOE_OK)
        return rc;
    int rows = PQntuples(r);
    store_lp_active *a = floe_arena_alloc(arena, ((size_t)rows + 1) * sizeof(*a));
    if (a == NULL)
        rc = FLOE_ENOMEM;
    for (int i = 0; rc == FLOE_OK && i < rows; i++) {
        a[i].key.project = store_pg_str(r, i, 0, arena, &rc);
        a[i].key.domain = store_pg_str(r, i, 1, arena, &rc);
        a[i].key.name = store_pg_str(r, i, 2, arena, &rc);
        a[i].version = store_pg_str(r, i, 3, arena, &rc);
        a[i].spec = store_pg_bytea(r, i, 4, arena, &a[i].spec_len, &rc);
        a[i].has_cursor = store_pg_bool(r, i, 6);
        a[i].cursor_s = a[i].has_cursor ? store_pg_int64(r, i, 5) : 0;
        a[i].pending = store_pg_bool(r, i, 7);
    }
    PQclear(r);
    if (rc != FLOE_OK)
        return floe_err_sys(err, rc, "out of memory");
    *out = a;
    *n = (size_t)rows;
    return FLOE_OK;
}

/* --- Schedules ------------------------------------------------------------------------- */

floe_rc
store_lp_schedule_record(store_pg *pg, uint64_t epoch, const store_lp_key *k,
                         const store_lp_fire *f, size_t n, int64_t cursor_s, int64_t missed,
                         floe_err *err)
{
    floe_rc rc = store_pg_begin(pg, err);
    if (rc != FLOE_OK)
        return rc;
    if ((rc = store_lp_fence(pg, epoch, err)) != FLOE_OK)
        goto fail;
    for (size_t i = 0; i < n; i++) {
        char key[32], at[24];
        snprintf(key, sizeof(key), "t:%" PRId64, f[i].at_s);
        snprintf(at, sizeof(at), "%" PRId64, f[i].at_s);
        const char *params[] = {k->project, k->domain, k->name, key, at, f[i].state, f[i].reason};
        if ((rc =
                 run(pg,
                     "INSERT INTO lp_firings (project, domain, name, kind, fire_key, scheduled_at,"
                     " state, reason) VALUES ($1, $2, $3, 'schedule', $4, to_timestamp($5::bigint),"
                     " $6, $7) ON CONFLICT (project, domain, name, fire_key) DO NOTHING",
                     7, params, err)) != FLOE_OK)
            goto fail;
    }
    char cur[24], mis[24];
    snprintf(cur, sizeof(cur), "%" PRId64, cursor_s);
    snprintf(mis, sizeof(mis), "%" PRId64, missed);
    const char *params[] = {k->project, k->domain, k->name, cur, mis};
    if ((rc = run(pg,
                  "INSERT INTO lp_cursors (project, domain, name, cursor_at, missed)"
                  " VALUES ($1, $2, $3, to_timestamp($4::bigint), $5::bigint)"
                  " ON CONFLICT (project, domain, name) DO UPDATE SET"
                  " cursor_at = greatest(lp_cursors.cursor_at, excluded.cursor_at),"
                  " missed = lp_cursors.missed + excluded.missed",
                  5, params, err)) != FLOE_OK)
        goto fail;
    return store_pg_commit(pg, err);
fail:
    store_pg_rollback(pg);
    return rc;
}

/* --- Firings --------------------------------------------------------------------------- */

floe_rc
store_lp_pending(store_pg *pg, const store_lp_key *k, unsigned limit, floe_arena *arena,
                 store_lp_firing **out, size_t *n, floe_err *err)
{
    char lim[16];
    snprintf(lim, sizeof(lim), "%u", limit);
    const char *params[] = {k->project, k->domain, k->name, lim};
    PGresult *r;
    floe_rc rc = store_pg_exec(
        pg,
        "SELECT id, kind, coalesce(floor(extract(epoch FROM scheduled_at))::bigint, 0),"
        " partition_key, inputs FROM lp_firings WHERE project = $1 AND domain = $2 AND name = $3"
        " AND state = 'PENDING' ORDER BY id LIMIT $4::bigint",
        4, params, NULL, NULL, &r, err);
    if (rc != FLOE_OK)
        return rc;
    int rows = PQntuples(r);
    store_lp_firing *f = floe_arena_alloc(arena, ((size_t)rows + 1) * sizeof(*f));
    if (f == NULL)
        rc = FLOE_ENOMEM;
    for (int i = 0; rc == FLOE_OK && i < rows; i++) {
        f[i].id = store_pg_int64(r, i, 0);
        f[i].kind = store_pg_str(r, i, 1, arena, &rc);
        f[i].scheduled_s = store_pg_int64(r, i, 2);
        f[i].partition_key = store_pg_str(r, i, 3, arena, &rc);
        f[i].inputs =
            PQgetisnull(r, i, 4) ? NULL : store_pg_bytea(r, i, 4, arena, &f[i].inputs_len, &rc);
    }
    PQclear(r);
    if (rc != FLOE_OK)
        return floe_err_sys(err, rc, "out of memory");
    *out = f;
    *n = (size_t)rows;
    return FLOE_OK;
}

static floe_rc
count(store_pg *pg, const char *sql, int n, const char *const *params, int64_t *out, floe_err *err)
{
    PGresult *r;
    floe_rc rc = store_pg_exec(pg, sql, n, params, NULL, NULL, &r, err);
    if (rc != FLOE_OK)
        return rc;
    *out = store_pg_int64(r, 0, 0);
    PQclear(r);
    return FLOE_OK;
}

floe_rc
store_lp_pending_count(store_pg *pg, const store_lp_key *k, const char *kind, int64_t *out,
                       floe_err *err)
{
    const char *params[] = {k->project, k->domain, k->name, kind};
    return count(pg,
                 "SELECT count(*) FROM lp_firings WHERE project = $1 AND domain = $2 AND"
                 " name = $3 AND state = 'PENDING' AND kind = $4",
                 4, params, out, err);
}

floe_rc
store_lp_running(store_pg *pg, const store_lp_key *k, char *buf, size_t size, floe_err *err)
{
    const char *params[] = {k->project, k->domain, k->name};
    PGresult *r;
    floe_rc rc = store_pg_exec(pg,
                               "SELECT id FROM executions WHERE project = $1 AND domain = $2 AND"
                               " launch_plan_name = $3 AND phase IN " EXEC_RUNNING " LIMIT 1",
                               3, params, NULL, NULL, &r, err);
    if (rc != FLOE_OK)
        return rc;
    snprintf(buf, size, "%s", PQntuples(r) == 1 ? PQgetvalue(r, 0, 0) : "");
    PQclear(r);
    return FLOE_OK;
}

floe_rc
store_lp_recent_launches(store_pg *pg, const store_lp_key *k, int64_t *out, floe_err *err)
{
    const char *params[] = {k->project, k->domain, k->name};
    return count(pg,
                 "SELECT count(*) FROM lp_firings WHERE project = $1 AND domain = $2 AND"
                 " name = $3 AND kind = 'trigger' AND state = 'LAUNCHED' AND"
                 " launched_at > now() - interval '1 minute'",
                 3, params, out, err);
}

floe_rc
store_lp_launch(store_pg *pg, uint64_t epoch, int64_t firing_id, const store_exec *ex,
                floe_err *err)
{
    floe_rc rc = store_pg_begin(pg, err);
    if (rc != FLOE_OK)
        return rc;
    if ((rc = store_lp_fence(pg, epoch, err)) != FLOE_OK)
        goto fail;
    char id[24];
    snprintf(id, sizeof(id), "%" PRId64, firing_id);
    const char *params[] = {id, ex->id, ex->launch_plan_version};
    PGresult *r;
    if ((rc = store_pg_exec(pg,
                            "UPDATE lp_firings SET state = 'LAUNCHED', execution_id = $2,"
                            " version = $3, launched_at = now() WHERE id = $1::bigint AND"
                            " state = 'PENDING' RETURNING id",
                            3, params, NULL, NULL, &r, err)) != FLOE_OK)
        goto fail;
    bool updated = PQntuples(r) == 1;
    PQclear(r);
    if (!updated) {
        rc = floe_err_sys(err, FLOE_ECONFLICT, "firing %s is no longer pending", id);
        goto fail;
    }
    if ((rc = store_exec_insert(pg, ex, err)) != FLOE_OK)
        goto fail;
    return store_pg_commit(pg, err);
fail:
    store_pg_rollback(pg);
    return rc;
}

floe_rc
store_lp_skip(store_pg *pg, uint64_t epoch, int64_t firing_id, const char *reason, floe_err *err)
{
    char id[24], ep[24];
    snprintf(id, sizeof(id), "%" PRId64, firing_id);
    snprintf(ep, sizeof(ep), "%" PRIu64, epoch);
    const char *params[] = {id, reason, ep};
    return run(pg,
               "UPDATE lp_firings SET state = 'SKIPPED', reason = $2 WHERE id = $1::bigint AND"
               " state = 'PENDING' AND " STORE_PG_FENCE_HOLDS("$3"),
               3, params, err);
}

static floe_rc
id_list(PGresult *r, floe_arena *arena, const char ***ids, size_t *n, floe_err *err)
{
    int rows = PQntuples(r);
    const char **v = floe_arena_alloc(arena, ((size_t)rows + 1) * sizeof(*v));
    floe_rc rc = v != NULL ? FLOE_OK : FLOE_ENOMEM;
    for (int i = 0; rc == FLOE_OK && i < rows; i++)
        v[i] = store_pg_str(r, i, 0, arena, &rc);
    PQclear(r);
    if (rc != FLOE_OK)
        return floe_err_sys(err, rc, "out of memory");
    *ids = v;
    *n = (size_t)rows;
    return FLOE_OK;
}

floe_rc
store_lp_unpublished(store_pg *pg, int older_s, unsigned limit, floe_arena *arena,
                     const char ***ids, size_t *n, floe_err *err)
{
    char old[16], lim[16];
    snprintf(old, sizeof(old), "%d", older_s);
    snprintf(lim, sizeof(lim), "%u", limit);
    const char *params[] = {old, lim};
    PGresult *r;
    floe_rc rc = store_pg_exec(pg,
                               "SELECT execution_id FROM lp_firings WHERE state = 'LAUNCHED' AND"
                               " NOT published AND launched_at <= now() - $1::int * interval"
                               " '1 second' ORDER BY id LIMIT $2::bigint",
                               2, params, NULL, NULL, &r, err);
    return rc != FLOE_OK ? rc : id_list(r, arena, ids, n, err);
}

/* Sets a flag on rows by id, fenced: a demoted leader's marks fail (FLOE_EFENCED). */
static floe_rc
mark(store_pg *pg, uint64_t epoch, const char *sql, const char *const *ids, size_t n, floe_err *err)
{
    if (n == 0)
        return FLOE_OK;
    store_pg_arr a = {0};
    for (size_t i = 0; i < n; i++)
        store_pg_arr_add(&a, ids[i]);
    const char *lit = store_pg_arr_end(&a);
    floe_rc rc = lit != NULL ? FLOE_OK : floe_err_sys(err, FLOE_ENOMEM, "out of memory");
    if (rc == FLOE_OK) {
        char ep[24];
        snprintf(ep, sizeof(ep), "%" PRIu64, epoch);
        const char *params[] = {lit, ep};
        rc = run(pg, sql, 2, params, err);
    }
    floe_free(a.buf.data);
    return rc;
}

floe_rc
store_lp_published(store_pg *pg, uint64_t epoch, const char *const *ids, size_t n, floe_err *err)
{
    return mark(pg, epoch,
                "UPDATE lp_firings SET published = true WHERE " STORE_PG_FENCE(
                    "$2") " AND execution_id = ANY($1::text[]) AND state = 'LAUNCHED'",
                ids, n, err);
}

/* --- Trigger events -------------------------------------------------------------------- */

floe_rc
store_lp_event_put(store_pg *pg, const store_lp_key *k, const store_lp_event *ev, bool *inserted,
                   floe_err *err)
{
    char size[24], pub[24];
    snprintf(size, sizeof(size), "%" PRId64, ev->size);
    snprintf(pub, sizeof(pub), "%" PRId64, ev->published_us);
    const char *params[] = {k->project,
                            k->domain,
                            k->name,
                            ev->dataset,
                            ev->partition_key,
                            ev->event_id,
                            ev->uri,
                            ev->digest,
                            size,
                            ev->partition_json,
                            ev->producer_execution,
                            ev->producer_node,
                            pub};
    PGresult *r;
    floe_rc rc = store_pg_exec(
        pg,
        "INSERT INTO trigger_events (project, domain, name, dataset, partition_key, event_id, uri,"
        " digest, size, partition, producer_execution, producer_node, published_at) VALUES ($1,"
        " $2, $3, $4, $5, $6, $7, $8, $9::bigint, $10, $11, $12, CASE WHEN $13::bigint = 0 THEN"
        " NULL ELSE to_timestamp($13::bigint / 1e6) END) ON CONFLICT DO NOTHING RETURNING 1",
        13, params, NULL, NULL, &r, err);
    if (rc != FLOE_OK)
        return rc;
    *inserted = PQntuples(r) == 1;
    PQclear(r);
    return FLOE_OK;
}

floe_rc
store_lp_events_waiting(store_pg *pg, const store_lp_key *k, const char *partition_key,
                        floe_arena *arena, store_lp_event **out, size_t *n, floe_err *err)
{
    const char *params[] = {k->project, k->domain, k->name, partition_key};
    PGresult *r;
    floe_rc rc = store_pg_exec(
        pg,
        "SELECT DISTINCT ON (dataset) dataset, event_id, uri, digest, size, partition,"
        " producer_execution, producer_node,"
        " coalesce((extract(epoch FROM published_at) * 1e6)::bigint, 0)"
        " FROM trigger_events WHERE project = $1 AND domain = $2 AND name = $3 AND"
        " partition_key = $4 AND firing_id IS NULL ORDER BY dataset, received_at, event_id",
        4, params, NULL, NULL, &r, err);
    if (rc != FLOE_OK)
        return rc;
    int rows = PQntuples(r);
    store_lp_event *e = floe_arena_alloc(arena, ((size_t)rows + 1) * sizeof(*e));
    if (e == NULL)
        rc = FLOE_ENOMEM;
    for (int i = 0; rc == FLOE_OK && i < rows; i++) {
        e[i].dataset = store_pg_str(r, i, 0, arena, &rc);
        e[i].partition_key = partition_key;
        e[i].event_id = store_pg_str(r, i, 1, arena, &rc);
        e[i].uri = store_pg_str(r, i, 2, arena, &rc);
        e[i].digest = store_pg_str(r, i, 3, arena, &rc);
        e[i].size = store_pg_int64(r, i, 4);
        e[i].partition_json = store_pg_str(r, i, 5, arena, &rc);
        e[i].producer_execution = store_pg_str(r, i, 6, arena, &rc);
        e[i].producer_node = store_pg_str(r, i, 7, arena, &rc);
        e[i].published_us = store_pg_int64(r, i, 8);
    }
    PQclear(r);
    if (rc != FLOE_OK)
        return floe_err_sys(err, rc, "out of memory");
    *out = e;
    *n = (size_t)rows;
    return FLOE_OK;
}

floe_rc
store_lp_trigger_fire(store_pg *pg, const store_lp_key *k, const store_lp_tfire *f, bool *created,
                      floe_err *err)
{
    store_pg_arr ids = {0}, ds = {0};
    for (size_t i = 0; i < f->n_events; i++) {
        store_pg_arr_add(&ids, f->events[i].event_id);
        store_pg_arr_add(&ds, f->events[i].dataset);
    }
    const char *ids_lit = store_pg_arr_end(&ids), *ds_lit = store_pg_arr_end(&ds);
    floe_rc rc = FLOE_OK;
    if (ids_lit == NULL || ds_lit == NULL) {
        rc = floe_err_sys(err, FLOE_ENOMEM, "out of memory");
        goto out;
    }
    const char *params[] = {k->project,
                            k->domain,
                            k->name,
                            f->fire_key,
                            f->partition_key,
                            ids_lit,
                            (const char *)f->inputs,
                            f->state,
                            f->reason};
    int lens[9] = {0}, fmts[9] = {0};
    lens[6] = (int)f->inputs_len;
    fmts[6] = 1;
    if (f->inputs == NULL)
        params[6] = NULL;
    PGresult *r;
    rc = store_pg_exec(pg,
                       "INSERT INTO lp_firings (project, domain, name, kind, fire_key,"
                       " partition_key, event_ids, inputs, state, reason) VALUES ($1, $2, $3,"
                       " 'trigger', $4, $5, $6::text[], $7, $8, $9)"
                       " ON CONFLICT (project, domain, name, fire_key) DO NOTHING RETURNING id",
                       9, params, lens, fmts, &r, err);
    if (rc != FLOE_OK)
        goto out;
    *created = PQntuples(r) == 1;
    char id[24] = "0";
    if (*created)
        snprintf(id, sizeof(id), "%s", PQgetvalue(r, 0, 0));
    PQclear(r);
    if (*created) {
        const char *p2[] = {k->project, k->domain, k->name, f->partition_key, ids_lit, ds_lit, id};
        rc = run(pg,
                 "UPDATE trigger_events t SET firing_id = $7::bigint FROM unnest($5::text[],"
                 " $6::text[]) AS c(event_id, dataset) WHERE t.project = $1 AND t.domain = $2 AND"
                 " t.name = $3 AND t.partition_key = $4 AND t.event_id = c.event_id AND"
                 " t.dataset = c.dataset",
                 7, p2, err);
    }
out:
    floe_free(ids.buf.data);
    floe_free(ds.buf.data);
    return rc;
}

/* --- Dataset outbox -------------------------------------------------------------------- */

floe_rc
store_lp_outbox_unsent(store_pg *pg, unsigned limit, floe_arena *arena, store_lp_outbox **out,
                       size_t *n, floe_err *err)
{
    char lim[16];
    snprintf(lim, sizeof(lim), "%u", limit);
    const char *params[] = {lim};
    PGresult *r;
    floe_rc rc = store_pg_exec(pg,
                               "SELECT event_id, payload FROM data_outbox WHERE NOT sent"
                               " ORDER BY created_at LIMIT $1::bigint",
                               1, params, NULL, NULL, &r, err);
    if (rc != FLOE_OK)
        return rc;
    int rows = PQntuples(r);
    store_lp_outbox *o = floe_arena_alloc(arena, ((size_t)rows + 1) * sizeof(*o));
    if (o == NULL)
        rc = FLOE_ENOMEM;
    for (int i = 0; rc == FLOE_OK && i < rows; i++) {
        o[i].event_id = store_pg_str(r, i, 0, arena, &rc);
        o[i].payload = store_pg_bytea(r, i, 1, arena, &o[i].len, &rc);
    }
    PQclear(r);
    if (rc != FLOE_OK)
        return floe_err_sys(err, rc, "out of memory");
    *out = o;
    *n = (size_t)rows;
    return FLOE_OK;
}

floe_rc
store_lp_prune(store_pg *pg, uint64_t epoch, int64_t older_than_s, unsigned limit, int64_t *deleted,
               floe_err *err)
{
    /* ctid batches: DELETE has no LIMIT, and an unbounded delete of a long backlog would
     * hold one transaction (and the tick) for as long as it takes. */
    static const char *const sql[] = {
        "DELETE FROM lp_firings WHERE " STORE_PG_FENCE(
            "$3") " AND ctid IN (SELECT ctid FROM lp_firings WHERE (state ="
                  " 'SKIPPED' OR (state = 'LAUNCHED' AND published)) AND created_at < now() -"
                  " $1::bigint * interval '1 second' LIMIT $2::bigint)",
        "DELETE FROM trigger_events WHERE " STORE_PG_FENCE(
            "$3") " AND ctid IN (SELECT ctid FROM trigger_events WHERE"
                  " firing_id IS NOT NULL AND received_at < now() - $1::bigint * interval '1 "
                  "second'"
                  " LIMIT $2::bigint)",
        ("DELETE FROM data_outbox WHERE " STORE_PG_FENCE(
            "$3") " AND ctid IN (SELECT ctid FROM data_outbox WHERE sent AND"
                  " created_at < now() - $1::bigint * interval '1 second' LIMIT $2::bigint)"),
    };
    char old[24], lim[16], ep[24];
    snprintf(old, sizeof(old), "%lld", (long long)older_than_s);
    snprintf(lim, sizeof(lim), "%u", limit);
    snprintf(ep, sizeof(ep), "%" PRIu64, epoch);
    const char *params[] = {old, lim, ep};
    *deleted = 0;
    for (size_t i = 0; i < sizeof(sql) / sizeof(sql[0]); i++) {
        PGresult *r;
        floe_rc rc = store_pg_exec(pg, sql[i], 3, params, NULL, NULL, &r, err);
        if (rc != FLOE_OK)
            return rc;
        *deleted += strtoll(PQcmdTuples(r), NULL, 10);
        PQclear(r);
    }
    return FLOE_OK;
}

floe_rc
store_lp_outbox_sent(store_pg *pg, uint64_t epoch, const char *const *ids, size_t n, floe_err *err)
{
    return mark(pg, epoch,
                "UPDATE data_outbox SET sent = true WHERE " STORE_PG_FENCE(
                    "$2") " AND event_id = ANY($1::text[])",
                ids, n, err);
}

/* --- Status ---------------------------------------------------------------------------- */

static json_t *
query_json(store_pg *pg, const char *sql, int n, const char *const *params, floe_rc *rc,
           floe_err *err)
{
    PGresult *r;
    if (*rc != FLOE_OK || (*rc = store_pg_exec(pg, sql, n, params, NULL, NULL, &r, err)) != FLOE_OK)
        return NULL;
    json_t *j = NULL;
    if (PQntuples(r) == 1 && !PQgetisnull(r, 0, 0))
        j = json_loads(PQgetvalue(r, 0, 0), JSON_DECODE_ANY, NULL);
    PQclear(r);
    if (j == NULL)
        *rc = floe_err_sys(err, FLOE_EIO, "launch plan status: unexpected answer");
    return j;
}

json_t *
store_lp_status(store_pg *pg, const store_lp_key *k, unsigned n_firings, floe_err *err)
{
    char lim[16];
    snprintf(lim, sizeof(lim), "%u", n_firings);
    const char *params[] = {k->project, k->domain, k->name, lim};
    floe_rc rc = FLOE_OK;
    /* json_build_object keeps the shapes in one place and the values escaped. */
    json_t *head = query_json(
        pg,
        "SELECT json_build_object("
        " 'cursor', (SELECT cursor_at FROM lp_cursors c WHERE c.project = $1 AND c.domain = $2"
        "   AND c.name = $3),"
        " 'missed', coalesce((SELECT missed FROM lp_cursors c WHERE c.project = $1 AND"
        "   c.domain = $2 AND c.name = $3), 0),"
        " 'pending', (SELECT count(*) FROM lp_firings f WHERE f.project = $1 AND f.domain = $2"
        "   AND f.name = $3 AND f.state = 'PENDING'),"
        " 'launched', (SELECT count(*) FROM lp_firings f WHERE f.project = $1 AND f.domain = $2"
        "   AND f.name = $3 AND f.state = 'LAUNCHED'),"
        " 'skipped', (SELECT count(*) FROM lp_firings f WHERE f.project = $1 AND f.domain = $2"
        "   AND f.name = $3 AND f.state = 'SKIPPED'),"
        " 'launched_last_minute', (SELECT count(*) FROM lp_firings f WHERE f.project = $1 AND"
        "   f.domain = $2 AND f.name = $3 AND f.kind = 'trigger' AND f.state = 'LAUNCHED' AND"
        "   f.launched_at > now() - interval '1 minute'),"
        " 'firings', coalesce((SELECT json_agg(x ORDER BY x.id DESC) FROM (SELECT f.id, f.kind,"
        "   f.state, f.reason, f.scheduled_at, f.partition_key, f.event_ids, f.execution_id,"
        "   f.version, f.created_at, f.launched_at, e.phase AS execution_phase"
        "   FROM lp_firings f LEFT JOIN executions e ON e.id = f.execution_id"
        "   WHERE f.project = $1 AND f.domain = $2 AND f.name = $3"
        "   ORDER BY f.id DESC LIMIT $4::bigint) x), '[]'),"
        " 'awaiting', coalesce((SELECT json_agg(w) FROM (SELECT partition_key,"
        "   json_agg(DISTINCT dataset) AS published, min(received_at) AS since"
        "   FROM trigger_events t WHERE t.project = $1 AND t.domain = $2 AND t.name = $3 AND"
        "   t.firing_id IS NULL GROUP BY partition_key ORDER BY min(received_at) LIMIT 50) w),"
        "   '[]'))",
        4, params, &rc, err);
    return head;
}
