/*
 * store_dataset — who owns a dataset and who may use it (issue 19). The first project to
 * publish a dataset owns it; the owner grants other projects the right to publish into it
 * and to trigger launch plans on it. A dataset nobody has published with a project is
 * open (events of producers that name no project, from before owners existed).
 */
#ifndef STORE_DATASET_H
#define STORE_DATASET_H

#include "floe_arena.h"
#include "floe_err.h"
#include "store_pg.h"

#include <stdbool.h>
#include <stddef.h>

typedef enum store_ds_right {
    STORE_DS_PUBLISH = 1,
    STORE_DS_TRIGGER,
} store_ds_right;

/* Whether project may use dataset for right; owner (64 bytes) receives the owner, "" for
 * none. With claim, a dataset without owner becomes project's (publishing claims it).
 * project "" (a producer naming none) may use only a dataset without owner. */
floe_rc store_dataset_may(store_pg *pg, const char *dataset, const char *project,
                          store_ds_right right, bool claim, char owner[64], bool *allowed,
                          floe_err *err);

typedef struct store_ds_grant {
    const char *project, *granted_by;
    bool publish, trigger;
    int64_t granted_us;
} store_ds_grant;

/* The owner ("" when none) and the grants of dataset, in arena. */
floe_rc store_dataset_get(store_pg *pg, const char *dataset, char owner[64], floe_arena *arena,
                          store_ds_grant **grants, size_t *n, floe_err *err);

/* Sets (publish or trigger true) or removes (both false) project's grant on dataset;
 * FLOE_ENOTFOUND when the dataset has no owner. */
floe_rc store_dataset_grant(store_pg *pg, const char *dataset, const char *project, bool publish,
                            bool trigger, const char *by, floe_err *err);

#endif
