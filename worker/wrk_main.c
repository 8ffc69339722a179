/*
 * floe-worker — entry point. Consuming a resource class and running attempts is built in a
 * later step; today the binary validates its configuration and flags.
 */
#include "floe_log.h"
#include "floe_main.h"

#include <stdio.h>

static void
usage(FILE *out)
{
    fputs("usage: floe-worker --class NAME [options]\n"
          "Runs attempts dispatched to resource class NAME.\n\n",
          out);
    floe_main_usage_common(out);
}

int
main(int argc, char **argv)
{
    floe_config *cfg = NULL;
    floe_main_rc mrc = floe_main_init("floe-worker", usage, &argc, argv, NULL, 0, &cfg);
    if (mrc != FLOE_MAIN_RUN)
        return mrc == FLOE_MAIN_EXIT_OK ? 0 : 2;
    floe_log_ctx log = {.comp = "worker"};
    floe_log_error(&log, "running attempts is not part of this build yet");
    floe_config_free(cfg);
    return 1;
}
