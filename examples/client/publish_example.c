/*
 * A service announcing a dataset partition to Floe, and asking for an execution of a
 * launch plan (broker-schemas/README.md). Run with the settings of `ops/stack env`:
 *
 *   eval "$(ops/stack env)"
 *   build/bin/floe-publish-example raw_events 2026-11-21 file:///data/raw/2026-11-21.csv
 *   build/bin/floe-publish-example --launch PROJECT DOMAIN LAUNCH_PLAN [NAME=VALUE ...]
 *   build/bin/floe-publish-example --launch-many N PROJECT DOMAIN LAUNCH_PLAN [NAME=VALUE ...]
 *
 * --launch-many requests N executions at once (a backfill) and prints their ids.
 */
#include "floe_client.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* NAME=VALUE arguments from argv[first] on, at most 16. */
static size_t
inputs(int argc, char **argv, int first, floe_kv *in)
{
    size_t n = 0;
    for (int i = first; i < argc && n < 16; i++) {
        char *eq = strchr(argv[i], '=');
        if (eq == NULL)
            continue;
        *eq = '\0';
        in[n++] = (floe_kv){argv[i], eq + 1};
    }
    return n;
}

/* --launch-many N PROJECT DOMAIN LAUNCH_PLAN [NAME=VALUE ...] */
static int
launch_many(floe_client *c, int argc, char **argv)
{
    char err[512], *end;
    long n = strtol(argv[2], &end, 10);
    if (*end != '\0' || n < 1 || n > FLOE_CLIENT_MANY_MAX) {
        fprintf(stderr, "--launch-many: N is 1 to %d\n", FLOE_CLIENT_MANY_MAX);
        return 1;
    }
    floe_kv in[16];
    floe_launch l = {.project = argv[3],
                     .domain = argv[4],
                     .launch_plan = argv[5],
                     .inputs = in,
                     .n_inputs = inputs(argc, argv, 6, in),
                     .requested_by = "publish-example"};
    floe_launch *ls = malloc(sizeof(*ls) * (size_t)n);
    char(*ids)[FLOE_CLIENT_EXEC_ID_SIZE] = malloc(sizeof(*ids) * (size_t)n);
    int ok = -1;
    if (ls != NULL && ids != NULL) {
        for (long i = 0; i < n; i++)
            ls[i] = l;
        ok = floe_client_request_many(c, ls, (size_t)n, ids, err, sizeof(err));
        for (long i = 0; ok > 0 && i < n; i++)
            if (ids[i][0] != '\0')
                printf("%s\n", ids[i]);
    } else {
        snprintf(err, sizeof(err), "out of memory");
    }
    if (ok != n)
        fprintf(stderr, "%d of %ld requested: %s\n", ok < 0 ? 0 : ok, n, err);
    free(ls);
    free(ids);
    return ok == n ? 0 : 1;
}

int
main(int argc, char **argv)
{
    char err[512];
    if (argc < 4) {
        fprintf(stderr,
                "usage: %s DATASET DATE URI\n"
                "       %s --launch PROJECT DOMAIN LAUNCH_PLAN [NAME=VALUE ...]\n"
                "       %s --launch-many N PROJECT DOMAIN LAUNCH_PLAN [NAME=VALUE ...]\n",
                argv[0], argv[0], argv[0]);
        return 2;
    }
    floe_client *c = floe_client_from_env(err, sizeof(err));
    if (c == NULL) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    int rc;
    if (strcmp(argv[1], "--launch-many") == 0 && argc >= 6) {
        rc = launch_many(c, argc, argv);
        floe_client_free(c);
        return rc;
    }
    if (strcmp(argv[1], "--launch") == 0 && argc >= 5) {
        floe_kv in[16];
        size_t n = inputs(argc, argv, 5, in);
        floe_launch l = {.project = argv[2],
                         .domain = argv[3],
                         .launch_plan = argv[4],
                         .inputs = in,
                         .n_inputs = n,
                         .requested_by = "publish-example"};
        char id[32];
        if ((rc = floe_client_request(c, &l, id, err, sizeof(err))) == 0)
            printf("requested execution %s\n", id);
    } else {
        floe_kv part[] = {{"date", argv[2]}};
        floe_data d = {.dataset = argv[1],
                       .partition = part,
                       .n_partition = 1,
                       .uri = argv[3],
                       .producer = "publish-example"};
        char id[FLOE_CLIENT_ID_MAX + 1];
        if ((rc = floe_client_publish(c, &d, id, err, sizeof(err))) == 0)
            printf("published %s date=%s (event %s)\n", argv[1], argv[2], id);
    }
    if (rc != 0)
        fprintf(stderr, "%s\n", err);
    floe_client_free(c);
    return rc == 0 ? 0 : 1;
}
