#include "floe_main.h"

#include "floe_mem.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

extern char **environ;

#define MAIN_MAX_SETS 64

void
floe_main_usage_common(FILE *out)
{
    fputs("common options:\n"
          "  --config FILE        read settings from FILE (`key = value` lines)\n"
          "  --set KEY=VALUE      set one setting (repeatable); see --help-config\n"
          "  --print-config       print the effective settings (secrets redacted) and exit\n"
          "  --help-config        list every setting with its default and FLOE_* variable\n"
          "  --version            print the version and exit\n",
          out);
}

void
floe_man_text(FILE *out, const char *text)
{
    bool bol = true;
    for (const char *p = text; *p != '\0'; p++) {
        if (bol && (*p == '.' || *p == '\''))
            fputs("\\&", out);
        if (*p == '\\')
            fputs("\\e", out);
        else
            fputc(*p, out);
        bol = *p == '\n';
    }
    if (!bol)
        fputc('\n', out);
}

/* The program's manual page (section 8), from its --help and --help-config texts: one
 * source for both, built into share/man at install. */
static void
man_page(const char *program, void (*usage)(FILE *out))
{
    char *text = NULL, *settings = NULL;
    size_t len = 0, slen = 0;
    FILE *f = open_memstream(&text, &len), *g = open_memstream(&settings, &slen);
    if (f == NULL || g == NULL) {
        if (f != NULL)
            fclose(f);
        if (g != NULL)
            fclose(g);
        free(text);
        free(settings);
        return;
    }
    usage(f);
    fclose(f);
    floe_config_help(g);
    fclose(g);
    printf(".TH %s 8 \"\" \"%s %s\" \"Floe\"\n.SH NAME\n%s \\- %s\n", program, program,
           FLOE_VERSION, program,
           strcmp(program, "floe-worker") == 0 ? "runs the tasks of one resource class"
                                               : "serves the API and, when it leads, schedules");
    printf(".SH DESCRIPTION\n.nf\n");
    floe_man_text(stdout, text);
    printf(".fi\n.SH SETTINGS\nEach setting is a key of the configuration file (--config), a\n"
           "FLOE_* variable, or --set KEY=VALUE, in that order of precedence.\n.nf\n");
    floe_man_text(stdout, settings);
    printf(".fi\n.SH SEE ALSO\nfloectl(1), the documentation in share/doc/floe.\n");
    free(text);
    free(settings);
}

floe_main_rc
floe_main_init(const char *program, void (*usage)(FILE *out), int *argc, char **argv,
               const char *const *extra_overrides, size_t n_extra, floe_config **cfg)
{
    const char *sets[MAIN_MAX_SETS];
    size_t n_sets = 0;
    const char *file = NULL;
    bool print = false;
    int out = 1;

    for (int i = 1; i < *argc; i++) {
        const char *a = argv[i];
        const char *val = NULL;
        if (strcmp(a, "--config") == 0 || strcmp(a, "--set") == 0) {
            if (i + 1 >= *argc) {
                fprintf(stderr, "%s: %s needs a value\n", program, a);
                return FLOE_MAIN_EXIT_BAD;
            }
            val = argv[++i];
            if (a[2] == 'c') {
                file = val;
            } else if (n_sets == MAIN_MAX_SETS) {
                fprintf(stderr, "%s: more than %d --set flags\n", program, MAIN_MAX_SETS);
                return FLOE_MAIN_EXIT_BAD;
            } else {
                sets[n_sets++] = val;
            }
        } else if (usage != NULL && (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0)) {
            usage(stdout);
            return FLOE_MAIN_EXIT_OK;
        } else if (strcmp(a, "--print-config") == 0) {
            print = true;
        } else if (strcmp(a, "--help-config") == 0) {
            printf("settings (file key, type, default, environment variable):\n");
            floe_config_help(stdout);
            return FLOE_MAIN_EXIT_OK;
        } else if (strcmp(a, "--man") == 0 && i == 1 && usage != NULL) {
            man_page(program, usage);
            return FLOE_MAIN_EXIT_OK;
        } else if (strcmp(a, "--version") == 0 && i == 1) {
            /* Only as the first argument: floectl register takes --version V. */
            printf("%s %s\n", program, FLOE_VERSION);
            return FLOE_MAIN_EXIT_OK;
        } else {
            argv[out++] = argv[i];
        }
    }
    *argc = out;
    argv[out] = NULL;

    for (size_t i = 0; i < n_extra && n_sets < MAIN_MAX_SETS; i++)
        sets[n_sets++] = extra_overrides[i];

    floe_config_source src = {
        .program = program,
        .file = file,
        .env = environ,
        .overrides = sets,
        .n_overrides = n_sets,
    };
    floe_config_report report;
    if (floe_config_load(&src, cfg, &report) != FLOE_OK) {
        fprintf(stderr, "%s: invalid configuration (%u problem%s):\n%s", program, report.count,
                report.count == 1 ? "" : "s", report.text);
        return FLOE_MAIN_EXIT_BAD;
    }
    if (print) {
        floe_config_print(*cfg, stdout);
        floe_config_free(*cfg);
        *cfg = NULL;
        return FLOE_MAIN_EXIT_OK;
    }
    floe_log_setup((*cfg)->log_level, (*cfg)->log_format, STDERR_FILENO);
    return FLOE_MAIN_RUN;
}
