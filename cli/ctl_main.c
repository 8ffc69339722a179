/*
 * floectl — the command-line client. Verbs are a table; `floectl VERB --help` explains
 * each. Standard flags (--config, --set, ...) and `-o table|json|yaml` may appear anywhere.
 */
#include "ctl.h"
#include "floe_main.h"
#include "floe_mem.h"

#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int ctl_version(const ctl_ctx *ctx, int argc, char **argv);
static int ctl_main(int argc, char **argv);

static const ctl_verb verbs[] = {
    {"register", "register tasks, workflows and launch plans from YAML",
     "usage: floectl register -f FILE|DIR [--version V] [-p PROJECT] [-d DOMAIN]\n"
     "Compiles and registers every document of FILE, or of each *.yaml/*.yml in DIR (in name\n"
     "order, one registration per file). Documents without a version take --version, or\n"
     "else a version derived from their content (c + 12 hex digits of its digest), so an\n"
     "edited file registers as a new version without a bump.\n"
     "Registering the same version again with the same content changes nothing; with other\n"
     "content it fails (versions are immutable).\n",
     NULL, ctl_register},
    {"validate", "compile YAML and report every problem, storing nothing",
     "usage: floectl validate -f FILE|DIR [--version V] [-p PROJECT] [-d DOMAIN]\n"
     "The checks of register (compile, references, limits, a version registered with other\n"
     "content) without registering anything: every file of DIR is checked and each one\n"
     "that fails is reported. Exit status 0 when all would register.\n",
     NULL, ctl_register},
    {"launch", "start an execution of a workflow or launch plan",
     "usage: floectl launch [workflow/|launchplan/]NAME[@VERSION] [--input NAME=VALUE ...]\n"
     "       [--inputs-file FILE] [--wait [--wait-timeout 1h]] [--no-cache] [--overwrite-cache]\n"
     "       [--label KEY=VALUE ...] [-p PROJECT] [-d DOMAIN]\n"
     "Each --input is parsed against the declared type: 42, 0.5, true, text, 2026-11-21,\n"
     "90s, a blob uri or @FILE (stored in the blob store first), or JSON for lists and\n"
     "maps. --inputs-file holds a YAML or JSON\n"
     "mapping; --input wins over it. Without a version: the latest workflow, or the active\n"
     "launch plan. --label tags the execution (relaunch and recover keep its labels;\n"
     "list executions --label finds it). Exits 0 once accepted; with --wait, 0 only if the\n"
     "execution succeeded.\n",
     NULL, ctl_launch},
    {"wait", "wait until an execution ends; exit 0 only if it succeeded",
     "usage: floectl wait EXECUTION_ID [--timeout 1h]\n"
     "Polls the execution until it ends and prints it. Exit status: 0 it succeeded, 4 it\n"
     "failed (or was aborted, or timed out), 3 it is still running after --timeout, 1 the\n"
     "API could not be asked.\n",
     NULL, ctl_wait},
    {"logs", "print what a node's task wrote to stdout or stderr",
     "usage: floectl logs EXECUTION_ID/NODE [--stderr] [--attempt N] [-f]\n"
     "The node's latest attempt unless --attempt says which, also while it runs (what\n"
     "its task wrote so far) and after it was stopped. -f follows a running attempt,\n"
     "printing lines as the task writes them, until it ends; a node that has not started\n"
     "in a running execution (one just launched) is waited for. Through the API only.\n",
     NULL, ctl_logs},
    {"blob", "store files in the blob store and print their uris; fetch a blob",
     "usage: floectl blob put FILE...\n"
     "       floectl blob get URI [FILE]\n"
     "put stores each file under its content address in the blob store the workers read\n"
     "and prints its uri, usable as a blob input: --input NAME=URI, or directly --input\n"
     "NAME=@FILE at launch. get writes a blob to FILE (which must not exist) or to standard\n"
     "output, its digest checked. Both go through the API (api.url) only.\n",
     NULL, ctl_blob},
    {"get", "show one object: execution, nodes, workflow, task, launchplan",
     "usage: floectl get execution ID\n"
     "       floectl get nodes ID        (each node's phase, attempts and error)\n"
     "       floectl get workflow|task|launchplan NAME[@VERSION] [-p PROJECT] [-d DOMAIN]\n"
     "Without a version: the latest (for a launch plan, the active version if any).\n",
     NULL, ctl_get},
    {"list", "list objects: executions, workflows, tasks, launchplans",
     "usage: floectl list executions [--workflow NAME] [--phase PHASE] [--launch-plan NAME]\n"
     "       [--requested-by WHO] [--label KEY=VALUE[,KEY=VALUE]] [--since TIME] [--until TIME]\n"
     "       floectl list workflows|tasks|launchplans [--name NAME]\n"
     "       [-p PROJECT] [-d DOMAIN] [--limit N] [--token T]\n"
     "Newest first; --token continues from where a page ended. TIME is RFC 3339 or a date\n"
     "(2026-11-21); executions created at or after --since and before --until.\n",
     NULL, ctl_list},
    {"activate", "make a launch plan version the active one",
     "usage: floectl activate launchplan NAME[@VERSION] [-p PROJECT] [-d DOMAIN]\n"
     "Without a version: the latest registered one.\n",
     NULL, ctl_activate},
    {"deactivate", "deactivate a launch plan version",
     "usage: floectl deactivate launchplan NAME[@VERSION] [-p PROJECT] [-d DOMAIN]\n"
     "Without a version: the active one.\n",
     NULL, ctl_activate},
    {"approve", "approve a waiting approve gate (its node succeeds)",
     "usage: floectl approve EXECUTION_ID/NODE [--comment TEXT] [--value VALUE]\n"
     "The gate's outputs record who approved (by) and the comment; --value gives the gate's\n"
     "typed value (JSON, or plain text for a string) when it declares a type.\n",
     NULL, ctl_gate},
    {"reject", "reject a waiting approve gate (its node fails, USER rejected)",
     "usage: floectl reject EXECUTION_ID/NODE [--comment TEXT]\n", NULL, ctl_gate},
    {"signal", "send a waiting signal gate its value",
     "usage: floectl signal EXECUTION_ID/NODE VALUE\n"
     "VALUE is JSON of the gate's type (42, [1, 2], \"text\"), or plain text for a string.\n",
     NULL, ctl_gate},
    {"terminate", "stop a running execution (it ends ABORTED)",
     "usage: floectl terminate EXECUTION_ID [--reason TEXT]\n", NULL, ctl_terminate},
    {"relaunch", "start the same workflow version again, with the same or changed inputs",
     "usage: floectl relaunch EXECUTION_ID [--input NAME=VALUE ...] [--no-cache]\n"
     "       [--overwrite-cache] [--wait]\n"
     "The new execution records where it came from (source_execution). Each --input replaces\n"
     "one input (parsed against its declared type, as launch does); the others stay.\n",
     NULL, ctl_relaunch},
    {"recover", "re-run only what failed: nodes that succeeded are taken over",
     "usage: floectl recover EXECUTION_ID [--no-cache] [--overwrite-cache] [--wait]\n"
     "A new execution of the same version and inputs in which every node that produced\n"
     "outputs in EXECUTION_ID (which must have ended) starts RECOVERED with those outputs;\n"
     "only failed and downstream nodes run.\n",
     NULL, ctl_relaunch},
    {"cache", "list or delete memoized task results",
     "usage: floectl cache list [--task NAME] [--limit N] [-p PROJECT] [-d DOMAIN]\n"
     "       floectl cache delete (--key CACHE_KEY | --task NAME) [-p PROJECT] [-d DOMAIN]\n",
     NULL, ctl_cache},
    {"lineage", "where an artifact came from, or what was made from it",
     "usage: floectl lineage EXECUTION_ID[/NODE[/OUTPUT]] | --artifact ID\n"
     "       [--downstream] [--depth N] [-o table|json|yaml|dot]\n"
     "Upstream (inputs, producers, what was cached or recovered from) by default; the walk\n"
     "crosses executions. -o dot prints a Graphviz digraph: floectl lineage ... -o dot | dot "
     "-Tsvg\n",
     NULL, ctl_lineage},
    {"publish", "announce a published dataset partition (DataPublished)",
     "usage: floectl publish DATASET --partition K=V ... --uri URI [--digest sha256:HEX]\n"
     "       [--size BYTES] [--event-id ID] [--producer NAME] [--kafka] [-p PROJECT]\n"
     "Publishes a DataPublished through the API (or, with --kafka, straight to Kafka at\n"
     "FLOE_KAFKA_BROKERS); launch plans whose trigger matches the dataset and partition fire.\n"
     "--event-id makes a retry a duplicate (ignored). A uri that is not in the blob store is\n"
     "published with a warning: a plan binding it to a blob input would fail.\n",
     NULL, ctl_publish},
    {"token", "create, list and revoke API tokens",
     "usage: floectl token create NAME --grant PROJECT=ROLE... [--expires-in 30d] [-q]\n"
     "       floectl token list\n"
     "       floectl token revoke ID\n"
     "Roles: viewer, launcher, maintainer, admin (each includes the ones before); project *\n"
     "is every project. Granting a role needs admin in its project. The token is printed\n"
     "once (-q: the token alone). floectl sends FLOE_TOKEN, or the file FLOE_TOKEN_FILE.\n",
     NULL, ctl_token},
    {"dataset", "who owns a dataset, and the projects it lets publish or trigger",
     "usage: floectl dataset get NAME\n"
     "       floectl dataset grant NAME PROJECT [--publish] [--trigger]\n"
     "       floectl dataset revoke NAME PROJECT\n"
     "The first project to publish a dataset owns it. Another project publishes into it\n"
     "(--publish) or fires its launch plans on it (--trigger) only with the owner's grant,\n"
     "which needs admin in the owning project.\n",
     NULL, ctl_dataset},
    {"whoami", "the token floectl uses: its principal and roles", "usage: floectl whoami\n", NULL,
     ctl_whoami},
    {"audit", "who changed what, and who was refused",
     "usage: floectl audit [-p PROJECT] [--principal token:ID] [--action NAME]\n"
     "       [--outcome ok|denied|failed] [--limit N]\n"
     "Newest first. Needs admin in PROJECT (without -p: in every project).\n",
     NULL, ctl_audit},
    {"smoke", "round-trip probe messages through Kafka and time them", NULL, ctl_smoke_help,
     ctl_smoke},
    {"admin", "create and check Floe's Kafka topics (admin init)", NULL, ctl_admin_help, ctl_admin},
    {"config", "named contexts: API url, token, CA, project, domain", NULL, ctl_config_help,
     ctl_config},
    {"watch", "an execution's nodes as they change, until it ends", NULL, ctl_watch_help,
     ctl_watch},
    {"completion", "a bash or zsh completion script",
     "usage: floectl completion bash|zsh\n"
     "Prints the script: source <(floectl completion bash), or install it as\n"
     "share/bash-completion/completions/floectl (zsh: site-functions/_floectl).\n",
     NULL, ctl_completion},
    {"man", "this manual page, in troff",
     "usage: floectl man\n"
     "Prints floectl(1) from the same help texts as --help (installed as\n"
     "share/man/man1/floectl.1).\n",
     NULL, ctl_man},
    {"version", "this floectl's version and the scheduler's it talks to",
     "usage: floectl version\n"
     "Prints floectl's version, then the version of the scheduler at FLOE_API_URL (exit\n"
     "status 1 when it does not answer).\n",
     NULL, ctl_version},
};

#define N_VERBS (sizeof(verbs) / sizeof(verbs[0]))

const ctl_verb *
ctl_verbs(size_t *n)
{
    *n = N_VERBS;
    return verbs;
}

void
ctl_usage(FILE *out)
{
    fputs("usage: floectl VERB [args] [-o table|json|yaml|name|jsonpath={...}] [-q] [options]\n\n"
          "verbs:\n",
          out);
    for (size_t i = 0; i < N_VERBS; i++)
        fprintf(out, "  %-10s %s\n", verbs[i].name, verbs[i].summary);
    fputs("\nRun `floectl VERB --help` for a verb's arguments.\n"
          "The API address comes from FLOE_API_URL (default http://127.0.0.1:8780); the\n"
          "project and domain from -p/-d, FLOE_PROJECT/FLOE_DOMAIN, or the config file.\n"
          "-o name (or -q) prints one execution id or KIND/NAME@VERSION a line, for scripts:\n"
          "ID=$(floectl launch wf -q). -o jsonpath='{.items[*].id}' prints what it selects\n"
          "(kubectl's subset: .field, [N], [*]). Output is a table on a terminal, JSON\n"
          "otherwise.\n"
          "Exit status: 0 success, 1 the call failed, 2 bad usage, 3 --wait gave up (the\n"
          "execution is still running), 4 the execution failed (or was aborted, timed out).\n"
          "--context NAME picks a named context (floectl config --help).\n\n",
          out);
    floe_main_usage_common(out);
}

void
ctl_verb_text(const ctl_verb *v, FILE *out)
{
    if (v->help_fn != NULL)
        v->help_fn(out);
    else
        fputs(v->help, out);
}

static void
verb_help(const ctl_verb *v, FILE *out)
{
    ctl_verb_text(v, out);
    fputs("\n", out);
    floe_main_usage_common(out);
}

/* A newcomer who forgot -p worked in project "default" without knowing (issue 26): the
 * verbs that always work in a project say so when nothing chose it. */
static void
warn_default_project(const ctl_verb *v, const floe_config *cfg, int argc, char **argv)
{
    static const char *const scoped[] = {"register",   "launch", "list",    "activate",
                                         "deactivate", "cache",  "publish", NULL};
    bool uses = false;
    for (size_t i = 0; scoped[i] != NULL; i++)
        uses = uses || strcmp(v->name, scoped[i]) == 0;
    if (!uses || strcmp(cfg->project, "default") != 0 || getenv("FLOE_PROJECT") != NULL)
        return;
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "-p") == 0 || strcmp(argv[i], "--project") == 0)
            return;
    fprintf(stderr,
            "floectl %s: no project given (-p, FLOE_PROJECT or the config file): using "
            "\"default\"\n",
            v->name);
}

/* The server's answer to GET /api/v1/version beside our own version. */
static int
ctl_version(const ctl_ctx *ctx, int argc, char **argv)
{
    if (argc > 1) {
        fprintf(stderr, "floectl version: unexpected \"%s\"\n", argv[1]);
        return 2;
    }
    json_t *server = NULL;
    int rc = ctl_call(ctx, "GET", "/api/v1/version", NULL, NULL, 0, &server);
    json_t *all = json_pack("{s:{s:s, s:s}, s:o?}", "client", "program", "floectl", "version",
                            FLOE_VERSION, "server", rc == CTL_OK ? server : NULL);
    if (ctx->output == CTL_OUT_TABLE) {
        printf("floectl %s\n", FLOE_VERSION);
        if (rc == CTL_OK)
            printf("%s %s (%s)\n", json_string_value(json_object_get(server, "program")),
                   json_string_value(json_object_get(server, "version")), ctx->cfg->api_url);
    } else {
        static const char *const cols[] = {NULL};
        ctl_print(ctx, all, cols);
    }
    json_decref(all);
    return rc;
}

/* "--name=value" as "--name" "value", as getopt_long reads it: every verb's flags take
 * both forms. A new array (argv's strings stay where they are). */
static char **
split_long_flags(int *argc, char **argv)
{
    char **out = calloc((size_t)*argc * 2 + 1, sizeof(*out));
    if (out == NULL)
        return NULL;
    int n = 0;
    for (int i = 0; i < *argc; i++) {
        char *eq = strncmp(argv[i], "--", 2) == 0 ? strchr(argv[i], '=') : NULL;
        if (i > 0 && eq != NULL && eq > argv[i] + 2) {
            *eq = '\0';
            out[n++] = argv[i];
            out[n++] = eq + 1;
        } else {
            out[n++] = argv[i];
        }
    }
    out[n] = NULL;
    *argc = n;
    return out;
}

int
main(int argc, char **argv)
{
    char **split = split_long_flags(&argc, argv);
    if (split == NULL) {
        fprintf(stderr, "floectl: out of memory\n");
        return 1;
    }
    argv = split;
    int status = ctl_main(argc, argv);
    free(split);
    return status;
}

static int
ctl_main(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        ctl_usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    const ctl_verb *v = NULL;
    for (size_t i = 0; i < N_VERBS; i++) {
        if (strcmp(argv[1], verbs[i].name) == 0)
            v = &verbs[i];
    }
    if (v == NULL && argv[1][0] != '-') {
        fprintf(stderr, "floectl: unknown verb \"%s\" (see floectl --help)\n", argv[1]);
        return 2;
    }
    for (int i = 2; i < argc; i++) {
        if (v != NULL && (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)) {
            verb_help(v, stdout);
            return 0;
        }
    }

    ctl_ctx ctx = {.output = isatty(STDOUT_FILENO) ? CTL_OUT_TABLE : CTL_OUT_JSON};
    /* -o is everyone's: take it out before the verb sees its arguments. */
    int out = 1;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-o") == 0 || strcmp(argv[i], "--output") == 0) {
            const char *f = i + 1 < argc ? argv[++i] : "";
            if (strcmp(f, "table") == 0)
                ctx.output = CTL_OUT_TABLE;
            else if (strcmp(f, "json") == 0)
                ctx.output = CTL_OUT_JSON;
            else if (strcmp(f, "yaml") == 0)
                ctx.output = CTL_OUT_YAML;
            else if (strcmp(f, "name") == 0)
                ctx.output = CTL_OUT_NAME;
            else if (strncmp(f, "jsonpath=", 9) == 0 && f[9] == '{') {
                ctx.output = CTL_OUT_JSONPATH;
                ctx.jsonpath = f + 9;
            } else if (strcmp(f, "dot") == 0 && v != NULL && strcmp(v->name, "lineage") == 0)
                ctx.output = CTL_OUT_DOT;
            else {
                fprintf(stderr,
                        "floectl: -o \"%s\": expected table, json, yaml, name or "
                        "jsonpath={...}%s\n",
                        f, v != NULL && strcmp(v->name, "lineage") == 0 ? " or dot" : "");
                return 2;
            }
        } else if (strcmp(argv[i], "-q") == 0 || strcmp(argv[i], "--quiet") == 0) {
            ctx.output = CTL_OUT_NAME;
        } else {
            argv[out++] = argv[i];
        }
    }
    argc = out;
    argv[argc] = NULL;

    /* The context's settings (ctl_context.c), as overrides; `config` edits the contexts
     * and must work when one of them is broken, as must the verbs that print docs. */
    char **ctx_ov = NULL;
    size_t n_ctx_ov = 0;
    bool offline = v != NULL && (strcmp(v->name, "config") == 0 || strcmp(v->name, "man") == 0 ||
                                 strcmp(v->name, "completion") == 0);
    if (!offline && ctl_context_overrides(&argc, argv, &ctx_ov, &n_ctx_ov) != 0)
        return 2;
    floe_config *cfg = NULL;
    floe_main_rc mrc =
        floe_main_init("floectl", NULL, &argc, argv, (const char *const *)ctx_ov, n_ctx_ov, &cfg);
    ctl_context_overrides_free(ctx_ov, n_ctx_ov);
    if (mrc != FLOE_MAIN_RUN)
        return mrc == FLOE_MAIN_EXIT_OK ? 0 : 2;
    if (v == NULL) {
        fprintf(stderr, "floectl: missing verb (see floectl --help)\n");
        floe_config_free(cfg);
        return 2;
    }
    ctx.cfg = cfg;
    if (ctl_use_token(cfg) != 0) {
        floe_config_free(cfg);
        return 2;
    }
    warn_default_project(v, cfg, argc, argv);
    signal(SIGPIPE, SIG_IGN); /* a server closing early must not kill us mid-request */
    int rc;
    if (v->run == NULL) {
        fprintf(stderr,
                "floectl %s: not available in this build yet (it comes with launch-plan "
                "triggers)\n",
                v->name);
        rc = 1;
    } else {
        rc = v->run(&ctx, argc - 1, argv + 1);
    }
    floe_config_free(cfg);
    return rc;
}
