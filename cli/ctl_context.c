/*
 * floectl contexts — named sets of (url, token, CA, project, domain), as kubectl users
 * know them: one file, $FLOE_CONTEXTS or ~/.config/floe/contexts:
 *
 *   current = prod
 *   [prod]
 *   url = https://floe.example.com
 *   token_file = ~/.config/floe/prod.token
 *   ca_file = /etc/floe/ca.pem
 *   project = analytics
 *   domain = production
 *
 * A context chosen by name (--context NAME, FLOE_CONTEXT) wins over FLOE_* variables; the
 * file's current context fills in only what no variable sets, so a shell with a stack's
 * settings keeps them. -p/-d and --set win over both. A file holding a token must be
 * readable by its owner alone. `floectl config` lists, picks and writes contexts.
 */
#include "ctl.h"

#include "floe_envelope.h"
#include "floe_mem.h"
#include "floe_text.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CTX_MAX 64
#define CTX_NAME_MAX 63
#define CTX_KEYS 6

/* A context's keys, the setting each one is, and the variable that overrides it. */
static const struct {
    const char *key, *setting, *env;
} ctx_keys[CTX_KEYS] = {
    {"url", "api.url", "FLOE_API_URL"},
    {"token", "api.token", "FLOE_TOKEN"},
    {"token_file", "api.token_file", "FLOE_TOKEN_FILE"},
    {"ca_file", "api.ca_file", "FLOE_CA_FILE"},
    {"project", "project", "FLOE_PROJECT"},
    {"domain", "domain", "FLOE_DOMAIN"},
};

typedef struct ctx_entry {
    char name[CTX_NAME_MAX + 1];
    char *val[CTX_KEYS];
} ctx_entry;

typedef struct ctx_file {
    char path[1024];
    char current[CTX_NAME_MAX + 1];
    ctx_entry c[CTX_MAX];
    size_t n;
} ctx_file;

static void
ctx_path(char *out, size_t size)
{
    const char *p = getenv("FLOE_CONTEXTS"), *xdg = getenv("XDG_CONFIG_HOME");
    if (p != NULL && *p != '\0')
        snprintf(out, size, "%s", p);
    else if (xdg != NULL && *xdg != '\0')
        snprintf(out, size, "%s/floe/contexts", xdg);
    else
        snprintf(out, size, "%s/.config/floe/contexts", getenv("HOME") ? getenv("HOME") : ".");
}

static void
ctx_free(ctx_file *f)
{
    for (size_t i = 0; i < f->n; i++)
        for (int k = 0; k < CTX_KEYS; k++)
            floe_free(f->c[i].val[k]);
    f->n = 0;
}

static bool
name_ok(const char *s)
{
    floe_err e;
    return floe_envelope_check_id("context", s, CTX_NAME_MAX, &e) == FLOE_OK;
}

static ctx_entry *
ctx_find(ctx_file *f, const char *name)
{
    for (size_t i = 0; i < f->n; i++)
        if (strcmp(f->c[i].name, name) == 0)
            return &f->c[i];
    return NULL;
}

/* Reads the file; a missing file is an empty one. -1 with the reason said. */
static int
ctx_load(ctx_file *f)
{
    memset(f, 0, sizeof(*f));
    ctx_path(f->path, sizeof(f->path));
    FILE *in = fopen(f->path, "re");
    if (in == NULL)
        return errno == ENOENT
                   ? 0
                   : (fprintf(stderr, "floectl: %s: %s\n", f->path, strerror(errno)), -1);
    struct stat st;
    bool open_to_others = fstat(fileno(in), &st) == 0 && (st.st_mode & 077) != 0;
    char line[2048];
    unsigned no = 0;
    ctx_entry *cur = NULL;
    const char *why = NULL;
    while (why == NULL && fgets(line, sizeof(line), in) != NULL) {
        no++;
        char *s = floe_text_trim(line);
        if (*s == '\0' || *s == '#')
            continue;
        if (*s == '[') {
            char *end = strchr(s, ']');
            if (end == NULL || end[1] != '\0') {
                why = "expected [NAME]";
                break;
            }
            *end = '\0';
            if (!name_ok(s + 1))
                why = "a context's name is 1 to 63 of [A-Za-z0-9._-], first a letter or digit";
            else if (ctx_find(f, s + 1) != NULL)
                why = "a context appears twice";
            else if (f->n == CTX_MAX)
                why = "more than 64 contexts";
            else {
                cur = &f->c[f->n++];
                snprintf(cur->name, sizeof(cur->name), "%s", s + 1);
            }
            continue;
        }
        char *eq = strchr(s, '=');
        if (eq == NULL) {
            why = "expected key = value";
            break;
        }
        *eq = '\0';
        char *key = floe_text_trim(s), *val = floe_text_trim(eq + 1);
        size_t vl = strlen(val);
        if (vl >= 2 && val[0] == '"' && val[vl - 1] == '"') {
            val[vl - 1] = '\0';
            val++;
        }
        if (cur == NULL) {
            if (strcmp(key, "current") != 0 || !name_ok(val))
                why = "before the first [NAME], only current = NAME";
            else
                snprintf(f->current, sizeof(f->current), "%s", val);
            continue;
        }
        int k = -1;
        for (int i = 0; i < CTX_KEYS; i++)
            if (strcmp(key, ctx_keys[i].key) == 0)
                k = i;
        if (k < 0)
            why = "a context's keys are url, token, token_file, ca_file, project, domain";
        else if (cur->val[k] != NULL)
            why = "a key appears twice in a context";
        else if ((cur->val[k] = floe_strdup(val)) == NULL)
            why = "out of memory";
        else if (k == 1 && open_to_others)
            why = "holds a token and others may read it: chmod 600 it";
    }
    fclose(in);
    if (why != NULL) {
        fprintf(stderr, "floectl: %s:%u: %s\n", f->path, no, why);
        ctx_free(f);
        return -1;
    }
    return 0;
}

static int
ctx_save(const ctx_file *f)
{
    char tmp[1100], dir[1024];
    snprintf(dir, sizeof(dir), "%s", f->path);
    char *slash = strrchr(dir, '/');
    if (slash != NULL) {
        *slash = '\0';
        for (char *p = dir + 1; *p != '\0'; p++) /* mkdir -p, private */
            if (*p == '/') {
                *p = '\0';
                mkdir(dir, 0700);
                *p = '/';
            }
        mkdir(dir, 0700);
    }
    snprintf(tmp, sizeof(tmp), "%s.tmp", f->path);
    mode_t old = umask(077);
    FILE *out = fopen(tmp, "we");
    umask(old);
    if (out == NULL) {
        fprintf(stderr, "floectl: %s: %s\n", tmp, strerror(errno));
        return -1;
    }
    fprintf(out, "# floectl contexts (floectl config --help)\n");
    if (f->current[0] != '\0')
        fprintf(out, "current = %s\n", f->current);
    for (size_t i = 0; i < f->n; i++) {
        fprintf(out, "\n[%s]\n", f->c[i].name);
        for (int k = 0; k < CTX_KEYS; k++)
            if (f->c[i].val[k] != NULL)
                fprintf(out, "%s = %s\n", ctx_keys[k].key, f->c[i].val[k]);
    }
    if (fclose(out) != 0 || rename(tmp, f->path) != 0) {
        fprintf(stderr, "floectl: writing %s: %s\n", f->path, strerror(errno));
        unlink(tmp);
        return -1;
    }
    return 0;
}

/* "~/x" as $HOME/x, in out. */
static const char *
home_path(const char *v, char *out, size_t size)
{
    if (strncmp(v, "~/", 2) != 0 || getenv("HOME") == NULL)
        return v;
    snprintf(out, size, "%s/%s", getenv("HOME"), v + 2);
    return out;
}

int
ctl_context_overrides(int *argc, char **argv, char ***out, size_t *n_out)
{
    *out = NULL;
    *n_out = 0;
    const char *name = NULL;
    int w = 1;
    for (int i = 1; i < *argc; i++) {
        if (strcmp(argv[i], "--context") == 0) {
            if (i + 1 >= *argc || !name_ok(argv[i + 1])) {
                fprintf(stderr, "floectl: --context wants a context's name\n");
                return -1;
            }
            name = argv[++i];
        } else {
            argv[w++] = argv[i];
        }
    }
    *argc = w;
    argv[w] = NULL;
    bool chosen = name != NULL;
    if (name == NULL && getenv("FLOE_CONTEXT") != NULL && *getenv("FLOE_CONTEXT") != '\0') {
        name = getenv("FLOE_CONTEXT");
        chosen = true;
    }
    static ctx_file f;
    if (ctx_load(&f) != 0)
        return -1;
    if (name == NULL)
        name = f.current[0] != '\0' ? f.current : NULL;
    if (name == NULL) {
        ctx_free(&f);
        return 0;
    }
    const ctx_entry *c = ctx_find(&f, name);
    if (c == NULL) {
        fprintf(stderr, "floectl: no context \"%s\" in %s (floectl config get-contexts)\n", name,
                f.path);
        ctx_free(&f);
        return -1;
    }
    char **ov = floe_calloc(CTX_KEYS, sizeof(*ov));
    size_t n = 0;
    for (int k = 0; ov != NULL && k < CTX_KEYS; k++) {
        if (c->val[k] == NULL || (!chosen && getenv(ctx_keys[k].env) != NULL))
            continue;
        char buf[1100];
        const char *v = k == 2 || k == 3 ? home_path(c->val[k], buf, sizeof(buf)) : c->val[k];
        size_t len = strlen(ctx_keys[k].setting) + strlen(v) + 2;
        if ((ov[n] = floe_malloc(len)) != NULL)
            snprintf(ov[n++], len, "%s=%s", ctx_keys[k].setting, v);
    }
    /* A chosen context's token file must not lose to a token in the environment. */
    if (chosen && c->val[2] != NULL && c->val[1] == NULL)
        unsetenv("FLOE_TOKEN");
    ctx_free(&f);
    if (ov == NULL) {
        fprintf(stderr, "floectl: out of memory\n");
        return -1;
    }
    *out = ov;
    *n_out = n;
    return 0;
}

void
ctl_context_overrides_free(char **ov, size_t n)
{
    for (size_t i = 0; i < n; i++)
        floe_free(ov[i]);
    floe_free(ov);
}

/* --- floectl config ------------------------------------------------------------------- */

static int
set_context(ctx_file *f, int argc, char **argv)
{
    if (argc < 3 || !name_ok(argv[2])) {
        fprintf(stderr, "floectl config set-context: wants a NAME (1 to 63 of [A-Za-z0-9._-], "
                        "first a letter or digit)\n");
        return CTL_USAGE;
    }
    ctx_entry *c = ctx_find(f, argv[2]);
    if (c == NULL) {
        if (f->n == CTX_MAX) {
            fprintf(stderr, "floectl config: more than %d contexts\n", CTX_MAX);
            return CTL_FAILED;
        }
        c = &f->c[f->n++];
        snprintf(c->name, sizeof(c->name), "%s", argv[2]);
    }
    for (int i = 3; i < argc; i += 2) { /* a flag and its value */
        int k = -1;
        for (int j = 0; j < CTX_KEYS; j++) {
            char flag[32];
            snprintf(flag, sizeof(flag), "--%s", ctx_keys[j].key);
            for (char *p = flag; *p != '\0'; p++)
                if (*p == '_')
                    *p = '-';
            if (strcmp(argv[i], flag) == 0)
                k = j;
        }
        if (k < 0 || i + 1 >= argc || strchr(argv[i + 1], '\n') != NULL) {
            fprintf(stderr,
                    "floectl config set-context: %s: expected --url, --token, --token-file, "
                    "--ca-file, --project or --domain with a value\n",
                    argv[i]);
            return CTL_USAGE;
        }
        floe_free(c->val[k]);
        c->val[k] = argv[i + 1][0] != '\0' ? floe_strdup(argv[i + 1]) : NULL; /* "": unset */
    }
    if (f->current[0] == '\0')
        snprintf(f->current, sizeof(f->current), "%s", c->name);
    return ctx_save(f) == 0 ? CTL_OK : CTL_FAILED;
}

void
ctl_config_help(FILE *out)
{
    fputs("usage: floectl config get-contexts\n"
          "       floectl config current-context\n"
          "       floectl config use-context NAME\n"
          "       floectl config set-context NAME [--url URL] [--token-file FILE] [--token T]\n"
          "                                       [--ca-file FILE] [--project P] [--domain D]\n"
          "       floectl config delete-context NAME\n"
          "Contexts live in $FLOE_CONTEXTS (default ~/.config/floe/contexts), written\n"
          "readable by you alone. Every verb takes --context NAME (or FLOE_CONTEXT): that\n"
          "context's settings win over FLOE_* variables; without it the current context\n"
          "fills in what no variable sets. -p/-d win over both. An empty value unsets a key.\n",
          out);
}

int
ctl_config(const ctl_ctx *ctx, int argc, char **argv)
{
    const char *sub = argc > 1 ? argv[1] : "";
    static ctx_file f;
    if (ctx_load(&f) != 0)
        return CTL_FAILED;
    int rc = CTL_OK;
    if (strcmp(sub, "get-contexts") == 0 && argc == 2) {
        json_t *items = json_array();
        for (size_t i = 0; i < f.n; i++) {
            json_t *o =
                json_pack("{s:s,s:s}", "current", strcmp(f.c[i].name, f.current) == 0 ? "*" : "",
                          "name", f.c[i].name);
            for (int k = 0; k < CTX_KEYS; k++)
                if (k != 1) /* a token is never shown */
                    json_object_set_new(o, ctx_keys[k].key,
                                        json_string(f.c[i].val[k] ? f.c[i].val[k] : ""));
            json_array_append_new(items, o);
        }
        json_t *all = json_pack("{s:o}", "items", items);
        static const char *const cols[] = {"current", "name", "url", "project", "domain", NULL};
        ctl_print(ctx, all, cols);
        json_decref(all);
    } else if (strcmp(sub, "current-context") == 0 && argc == 2) {
        if (f.current[0] == '\0') {
            fprintf(stderr, "floectl config: no current context in %s\n", f.path);
            rc = CTL_FAILED;
        } else {
            printf("%s\n", f.current);
        }
    } else if (strcmp(sub, "use-context") == 0 && argc == 3) {
        if (ctx_find(&f, argv[2]) == NULL) {
            fprintf(stderr, "floectl config: no context \"%s\" in %s\n", argv[2], f.path);
            rc = CTL_FAILED;
        } else {
            snprintf(f.current, sizeof(f.current), "%s", argv[2]);
            rc = ctx_save(&f) == 0 ? CTL_OK : CTL_FAILED;
        }
    } else if (strcmp(sub, "delete-context") == 0 && argc == 3) {
        ctx_entry *c = ctx_find(&f, argv[2]);
        if (c == NULL) {
            fprintf(stderr, "floectl config: no context \"%s\" in %s\n", argv[2], f.path);
            rc = CTL_FAILED;
        } else {
            for (int k = 0; k < CTX_KEYS; k++)
                floe_free(c->val[k]);
            size_t at = (size_t)(c - f.c);
            memmove(c, c + 1, (f.n - at - 1) * sizeof(*c));
            f.n--;
            if (strcmp(f.current, argv[2]) == 0)
                f.current[0] = '\0';
            rc = ctx_save(&f) == 0 ? CTL_OK : CTL_FAILED;
        }
    } else if (strcmp(sub, "set-context") == 0) {
        rc = set_context(&f, argc, argv);
    } else {
        ctl_config_help(stderr);
        rc = CTL_USAGE;
    }
    ctx_free(&f);
    return rc;
}
