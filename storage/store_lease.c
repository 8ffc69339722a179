#include "store_lease.h"

#include "store_pg_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

floe_rc
store_lease_acquire(store_pg *pg, const char *name, const char *holder, int64_t lease_ms,
                    uint64_t floor, bool *held, uint64_t *epoch, char *current_holder,
                    floe_err *err)
{
    char ms[24], fl[24];
    snprintf(ms, sizeof(ms), "%" PRId64, lease_ms);
    snprintf(fl, sizeof(fl), "%" PRIu64, floor);
    const char *params[] = {name, holder, ms, fl};
    PGresult *r;
    /* Renewal keeps the epoch only while the same holder's lease is still live: a holder
     * that let it lapse gets a new epoch, as a new leader would. Every change of epoch
     * needs the leader-change lock (store_lease.h), renewal never waits on anything. */
    floe_rc rc = store_pg_exec(
        pg,
        "UPDATE floe_leader SET"
        " epoch = GREATEST($4::bigint,"
        "   CASE WHEN holder = $2 AND expires_at > now() THEN epoch ELSE epoch + 1 END),"
        " acquired_at = CASE WHEN holder = $2 AND expires_at > now() THEN acquired_at"
        "               ELSE now() END,"
        " holder = $2,"
        " expires_at = now() + $3::bigint * interval '1 millisecond'"
        " WHERE name = $1 AND ((holder = $2 AND expires_at > now() AND epoch >= $4::bigint) OR"
        "   ((holder = $2 OR expires_at <= now()) AND"
        "    pg_try_advisory_xact_lock(" STORE_LEASE_LOCK_KEY ")))"
        " RETURNING epoch",
        4, params, NULL, NULL, &r, err);
    if (rc != FLOE_OK)
        return rc;
    if (PQntuples(r) == 1) {
        *held = true;
        *epoch = (uint64_t)store_pg_int64(r, 0, 0);
        if (current_holder != NULL)
            snprintf(current_holder, 128, "%s", holder);
        PQclear(r);
        return FLOE_OK;
    }
    PQclear(r);
    *held = false;
    rc = store_pg_exec(pg, "SELECT epoch, holder FROM floe_leader WHERE name = $1", 1, params, NULL,
                       NULL, &r, err);
    if (rc != FLOE_OK)
        return rc;
    if (PQntuples(r) != 1) {
        PQclear(r);
        return floe_err_sys(err, FLOE_ENOTFOUND, "lease \"%s\": no such row", name);
    }
    *epoch = (uint64_t)store_pg_int64(r, 0, 0);
    if (current_holder != NULL)
        snprintf(current_holder, 128, "%s", PQgetvalue(r, 0, 1));
    PQclear(r);
    return FLOE_OK;
}

floe_rc
store_lease_release(store_pg *pg, const char *name, const char *holder, uint64_t epoch,
                    floe_err *err)
{
    char ep[24];
    snprintf(ep, sizeof(ep), "%" PRIu64, epoch);
    const char *params[] = {name, holder, ep};
    PGresult *r;
    floe_rc rc = store_pg_exec(pg,
                               "UPDATE floe_leader SET expires_at = now()"
                               " WHERE name = $1 AND holder = $2 AND epoch = $3::bigint",
                               3, params, NULL, NULL, &r, err);
    if (rc == FLOE_OK)
        PQclear(r);
    return rc;
}
