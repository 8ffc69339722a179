/*
 * A service announcing a dataset partition to Floe, and asking for an execution of a
 * launch plan (broker-schemas/README.md). Run with the settings of `ops/stack env`:
 *
 *   eval "$(ops/stack env)"
 *   build/bin/floe-publish-example raw_events 2026-11-21 file:///data/raw/2026-11-21.csv
 *   build/bin/floe-publish-example --launch PROJECT DOMAIN LAUNCH_PLAN [NAME=VALUE ...]
 */
#include "floe_client.h"

#include <stdio.h>
#include <string.h>

int
main(int argc, char **argv)
{
    char err[512];
    if (argc < 4) {
        fprintf(stderr,
                "usage: %s DATASET DATE URI\n"
                "       %s --launch PROJECT DOMAIN LAUNCH_PLAN [NAME=VALUE ...]\n",
                argv[0], argv[0]);
        return 2;
    }
    floe_client *c = floe_client_from_env(err, sizeof(err));
    if (c == NULL) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    int rc;
    if (strcmp(argv[1], "--launch") == 0 && argc >= 5) {
        floe_kv in[16];
        size_t n = 0;
        for (int i = 5; i < argc && n < 16; i++) {
            char *eq = strchr(argv[i], '=');
            if (eq == NULL)
                continue;
            *eq = '\0';
            in[n++] = (floe_kv){argv[i], eq + 1};
        }
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
