/*
 * floe-scheduler — entry point. The engine (leader election, readiness, dispatch) and the
 * HTTP API are built in later steps; today the binary validates its configuration so
 * deployments and `--print-config` can be tried.
 */
#include "floe_log.h"
#include "floe_main.h"

#include <stdio.h>

static void
usage(FILE *out)
{
    fputs(
        "usage: floe-scheduler [options]\n"
        "Runs the Floe scheduler: the API on every replica, the engine on the elected leader.\n\n",
        out);
    floe_main_usage_common(out);
}

int
main(int argc, char **argv)
{
    floe_config *cfg = NULL;
    floe_main_rc mrc = floe_main_init("floe-scheduler", usage, &argc, argv, NULL, 0, &cfg);
    if (mrc != FLOE_MAIN_RUN)
        return mrc == FLOE_MAIN_EXIT_OK ? 0 : 2;
    if (argc > 1) {
        fprintf(stderr, "floe-scheduler: unexpected argument \"%s\" (see --help)\n", argv[1]);
        floe_config_free(cfg);
        return 2;
    }
    floe_log_ctx log = {.comp = "scheduler"};
    floe_log_error(&log, "the scheduling engine is not part of this build yet");
    floe_config_free(cfg);
    return 1;
}
