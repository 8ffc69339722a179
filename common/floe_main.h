/*
 * floe_main — what every Floe program does first: read the standard flags
 * (--config FILE, --set key=value, --print-config, --help-config, --version), load the
 * configuration from defaults, file, environment and flags, report every invalid entry,
 * and set up logging. Program-specific arguments are left for the caller.
 */
#ifndef FLOE_MAIN_H
#define FLOE_MAIN_H

#include "floe_config.h"

/* Outcome of floe_main_init. */
typedef enum floe_main_rc {
    FLOE_MAIN_RUN = 0,  /* go on: *cfg is loaded */
    FLOE_MAIN_EXIT_OK,  /* an informational flag was served: exit 0 */
    FLOE_MAIN_EXIT_BAD, /* bad flags or configuration, already reported: exit 2 */
} floe_main_rc;

/* Consumes the standard flags from argv (removing them, *argc updated; the rest keep
 * their order). When usage is not NULL, --help/-h print it and return FLOE_MAIN_EXIT_OK.
 * extra_overrides ("key=value") are applied after --set flags, e.g. a program's own
 * `--class NAME`. On FLOE_MAIN_RUN, *cfg is owned by the caller. */
floe_main_rc floe_main_init(const char *program, void (*usage)(FILE *out), int *argc, char **argv,
                            const char *const *extra_overrides, size_t n_extra, floe_config **cfg);

/* text as troff lines (inside .nf/.fi): backslashes and leading dots escaped. */
void floe_man_text(FILE *out, const char *text);

/* Help text for the standard flags. */
void floe_main_usage_common(FILE *out);

#endif
