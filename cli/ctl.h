/*
 * floectl internals: each verb is one function taking its own arguments (argv[0] is the
 * verb) and the loaded configuration, returning the process exit code: 0 success,
 * 1 the call or the execution failed, 2 bad usage.
 */
#ifndef CTL_H
#define CTL_H

#include "floe_config.h"

typedef enum ctl_output {
    CTL_OUT_TABLE = 0,
    CTL_OUT_JSON = 1,
    CTL_OUT_YAML = 2,
} ctl_output;

typedef struct ctl_ctx {
    const floe_config *cfg;
    ctl_output output;
} ctl_ctx;

int ctl_smoke(const ctl_ctx *ctx, int argc, char **argv);
void ctl_smoke_help(FILE *out);

#endif
