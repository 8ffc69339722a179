/*
 * Compiles a task document: container, interface, resources (and the resource class
 * they map to), retries, timeout, cache. The resource class rule is documented in
 * docs/spec.md: an explicit resource_class wins; else a GPU asks for "gpu", more than 2
 * CPUs or 4 GiB asks for "large" (when configured), else the default class.
 */
#include "spec_int.h"

#include "floe_envelope.h"

#include "floe_retry.h"
#include "floe_digest.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TASK_ARGS_MAX 256
#define TASK_ARG_BYTES 4096
#define TASK_ENV_MAX 256
#define TASK_DESC_MAX 4096
#define TASK_RETRIES_MAX 100
#define TASK_TIMEOUT_MAX_MS (7ULL * 24 * 3600 * 1000)
#define TASK_CPU_MAX_MILLIS 1024000u
#define TASK_MEMORY_MAX (4ULL << 40)
#define TASK_GPU_MAX 64

static const char *const executors[] = {"process", "oci", "kubernetes", "noop", NULL};

static bool
class_known(const spec_env *env, const char *c)
{
    for (size_t i = 0; i < env->n_resource_classes; i++) {
        if (strcmp(env->resource_classes[i], c) == 0)
            return true;
    }
    return false;
}

static floe_rc
parse_cpu(spec_ctx *ctx, const spec_y *y, uint32_t *out)
{
    /* "500m", "2", 0.5 */
    char *end;
    if (y->kind != SPEC_Y_SCALAR)
        goto bad;
    double v = strtod(y->str, &end);
    if (end == y->str || !isfinite(v) || v < 0)
        goto bad;
    if (strcmp(end, "m") == 0)
        v /= 1000;
    else if (*end != '\0')
        goto bad;
    if (v * 1000 > TASK_CPU_MAX_MILLIS)
        return spec_fail(ctx, y, FLOE_EINVAL, "cpu: %s is over the limit of %u CPUs", y->str,
                         TASK_CPU_MAX_MILLIS / 1000);
    *out = (uint32_t)llround(v * 1000);
    return FLOE_OK;
bad:
    return spec_fail(ctx, y, FLOE_EINVAL,
                     "cpu: expected CPUs (\"2\", 0.5) or millicpus (\"500m\")");
}

static floe_rc
parse_memory(spec_ctx *ctx, const spec_y *y, uint64_t *out)
{
    static const struct {
        const char *sfx;
        uint64_t mul;
    } units[] = {{"", 1},
                 {"Ki", 1ULL << 10},
                 {"Mi", 1ULL << 20},
                 {"Gi", 1ULL << 30},
                 {"Ti", 1ULL << 40},
                 {"K", 1000},
                 {"M", 1000000},
                 {"G", 1000000000},
                 {"KiB", 1ULL << 10},
                 {"MiB", 1ULL << 20},
                 {"GiB", 1ULL << 30}};
    char *end;
    if (y->kind != SPEC_Y_SCALAR || y->str[0] < '0' || y->str[0] > '9')
        goto bad;
    unsigned long long v = strtoull(y->str, &end, 10);
    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
        if (strcmp(end, units[i].sfx) == 0) {
            if (v > TASK_MEMORY_MAX / units[i].mul)
                return spec_fail(ctx, y, FLOE_EINVAL, "memory: %s is over the limit of 4Ti",
                                 y->str);
            *out = v * units[i].mul;
            return FLOE_OK;
        }
    }
bad:
    return spec_fail(ctx, y, FLOE_EINVAL,
                     "memory: expected bytes with an optional unit (\"512Mi\", "
                     "\"2Gi\")");
}

/* secrets: [{name, env | file}]: references only; each worker resolves the values. */
static floe_rc
task_secrets(spec_ctx *ctx, const spec_y *doc, Floe__TaskSpec *t)
{
    const spec_y *sy = spec_y_get(doc, "secrets");
    if (sy == NULL)
        return FLOE_OK;
    if (sy->kind != SPEC_Y_SEQ)
        return spec_fail(ctx, sy, FLOE_EINVAL, "secrets: expected a list of {name, env | file}");
    if (sy->n > FLOE_SECRETS_MAX)
        return spec_fail(ctx, sy, FLOE_ETOOBIG, "secrets: more than %d", FLOE_SECRETS_MAX);
    if (strcmp(t->executor, "noop") == 0)
        return spec_fail(ctx, sy, FLOE_EINVAL, "secrets: a noop task runs nothing to give them to");
    Floe__Container *c = t->container;
    c->secrets = floe_arena_alloc(ctx->arena, (sy->n + 1) * sizeof(*c->secrets));
    if (c->secrets == NULL)
        return spec_fail(ctx, sy, FLOE_ENOMEM, "out of memory");
    static const char *const fields[] = {"name", "env", "file", NULL};
    for (size_t i = 0; i < sy->n; i++) {
        const spec_y *e = sy->items[i];
        const char *name = NULL, *env = NULL, *file = NULL;
        floe_rc rc = spec_check_fields(ctx, e, "secrets", fields);
        if (rc == FLOE_OK)
            rc = spec_get_string(ctx, e, "name", FLOE_SECRET_NAME_MAX, &name);
        if (rc == FLOE_OK)
            rc = spec_get_string(ctx, e, "env", 128, &env);
        if (rc == FLOE_OK)
            rc = spec_get_string(ctx, e, "file", 128, &file);
        if (rc != FLOE_OK)
            return rc;
        floe_err err = {0};
        if (floe_secret_ref_check(name, env, file, &err) != FLOE_OK)
            return spec_fail(ctx, e, FLOE_EINVAL, "secrets[%zu]: %s", i, err.msg);
        for (size_t j = 0; j < i; j++) {
            const Floe__SecretRef *o = c->secrets[j];
            if ((env != NULL && o->env[0] != '\0' && strcmp(o->env, env) == 0) ||
                (file != NULL && o->file[0] != '\0' && strcmp(o->file, file) == 0))
                return spec_fail(ctx, e, FLOE_EINVAL, "secrets[%zu]: %s \"%s\" is given twice", i,
                                 env != NULL ? "env" : "file", env != NULL ? env : file);
        }
        for (size_t j = 0; env != NULL && j < c->n_env; j++)
            if (strcmp(c->env[j]->key, env) == 0)
                return spec_fail(ctx, e, FLOE_EINVAL,
                                 "secrets[%zu]: env \"%s\" is also set in container.env", i, env);
        Floe__SecretRef *r = floe_arena_alloc(ctx->arena, sizeof(*r));
        if (r == NULL)
            return spec_fail(ctx, e, FLOE_ENOMEM, "out of memory");
        floe__secret_ref__init(r);
        r->name = (char *)name;
        r->env = (char *)(env != NULL ? env : "");
        r->file = (char *)(file != NULL ? file : "");
        c->secrets[c->n_secrets++] = r;
    }
    return FLOE_OK;
}

static floe_rc
task_resources(spec_ctx *ctx, const spec_y *doc, Floe__TaskSpec *t)
{
    Floe__Resources *r = floe_arena_alloc(ctx->arena, sizeof(*r));
    if (r == NULL)
        return spec_fail(ctx, doc, FLOE_ENOMEM, "out of memory");
    floe__resources__init(r);
    t->resources = r;
    floe_rc rc = FLOE_OK;
    const spec_y *ry = spec_y_get(doc, "resources");
    if (ry != NULL) {
        static const char *const fields[] = {"cpu", "memory", "gpu", NULL};
        if ((rc = spec_check_fields(ctx, ry, "resources", fields)) != FLOE_OK)
            return rc;
        /* Messages of the three fields read "resources: <field>: ...". */
        size_t mark = spec_where_push(ctx, "resources");
        const spec_y *y;
        uint64_t gpu = 0;
        if ((y = spec_y_get(ry, "cpu")) != NULL)
            rc = parse_cpu(ctx, y, &r->cpu_millis);
        if (rc == FLOE_OK && (y = spec_y_get(ry, "memory")) != NULL)
            rc = parse_memory(ctx, y, &r->memory_bytes);
        if (rc == FLOE_OK)
            rc = spec_get_uint(ctx, ry, "gpu", TASK_GPU_MAX, &gpu);
        spec_where_pop(ctx, mark);
        if (rc != FLOE_OK)
            return rc;
        r->gpu = (uint32_t)gpu;
    }
    const char *cls = NULL;
    const spec_y *cy = spec_y_get(doc, "resource_class");
    if ((rc = spec_get_string(ctx, doc, "resource_class", 64, &cls)) != FLOE_OK)
        return rc;
    if (cls != NULL) {
        if (!class_known(ctx->env, cls)) {
            char list[128] = "";
            for (size_t i = 0, len = 0; i < ctx->env->n_resource_classes && len < sizeof(list); i++)
                len += (size_t)snprintf(list + len, sizeof(list) - len, "%s%s", i ? ", " : "",
                                        ctx->env->resource_classes[i]);
            return spec_fail(ctx, cy, FLOE_EINVAL,
                             "resource_class: unknown resource class \"%s\" (configured: %s)", cls,
                             list);
        }
    } else if (r->gpu > 0) {
        if (!class_known(ctx->env, "gpu"))
            return spec_fail(ctx, ry, FLOE_EINVAL,
                             "resources: asks for a GPU but no resource class \"gpu\" is "
                             "configured");
        cls = "gpu";
    } else if ((r->cpu_millis > 2000 || r->memory_bytes > (4ULL << 30)) &&
               class_known(ctx->env, "large")) {
        cls = "large";
    } else if (class_known(ctx->env, "default")) {
        cls = "default";
    } else {
        cls = ctx->env->resource_classes[0];
    }
    t->resource_class = spec_strdup(ctx, cls);
    return t->resource_class != NULL ? FLOE_OK : spec_fail(ctx, doc, FLOE_ENOMEM, "out of memory");
}

static floe_rc
check_env_name(spec_ctx *ctx, const spec_y *k)
{
    bool ok = k->kind == SPEC_Y_SCALAR && k->len >= 1 && k->len <= 128 &&
              !(k->str[0] >= '0' && k->str[0] <= '9');
    for (size_t i = 0; ok && i < k->len; i++) {
        char c = k->str[i];
        ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
    }
    if (!ok)
        return spec_fail(
            ctx, k, FLOE_EINVAL,
            "container: env: \"%.48s\" is not a variable name ([A-Za-z_][A-Za-z0-9_]*, "
            "at most 128)",
            k->kind == SPEC_Y_SCALAR ? k->str : "?");
    return FLOE_OK;
}

static floe_rc
task_container(spec_ctx *ctx, const spec_y *doc, Floe__TaskSpec *t)
{
    const spec_y *cy = spec_y_get(doc, "container");
    if (cy == NULL && strcmp(t->executor, "noop") == 0) { /* runs nothing: needs nothing */
        Floe__Container *c = floe_arena_alloc(ctx->arena, sizeof(*c));
        if (c == NULL)
            return spec_fail(ctx, doc, FLOE_ENOMEM, "out of memory");
        floe__container__init(c);
        t->container = c;
        return FLOE_OK;
    }
    if (cy == NULL)
        return spec_fail(ctx, doc, FLOE_EINVAL, "missing \"container\"");
    static const char *const fields[] = {"image", "rootfs", "command", "env", NULL};
    floe_rc rc = spec_check_fields(ctx, cy, "container", fields);
    if (rc != FLOE_OK)
        return rc;
    Floe__Container *c = floe_arena_alloc(ctx->arena, sizeof(*c));
    if (c == NULL)
        return spec_fail(ctx, cy, FLOE_ENOMEM, "out of memory");
    floe__container__init(c);
    t->container = c;
    const char *image = NULL, *rootfs = NULL;
    if ((rc = spec_get_string(ctx, cy, "image", 512, &image)) != FLOE_OK ||
        (rc = spec_get_string(ctx, cy, "rootfs", 1024, &rootfs)) != FLOE_OK) {
        return rc;
    }
    if (image != NULL) {
        if (image[0] == '-') /* it becomes an argument of skopeo: never an option */
            return spec_fail(ctx, spec_y_get(cy, "image"), FLOE_EINVAL,
                             "container: image: must not start with '-'");
        for (const char *p = image; *p; p++) {
            if ((unsigned char)*p <= ' ' || *p == 0x7f)
                return spec_fail(ctx, spec_y_get(cy, "image"), FLOE_EINVAL,
                                 "container: image: contains a space or control character");
        }
        c->image = (char *)image;
    }
    if (rootfs != NULL) {
        const spec_y *ry = spec_y_get(cy, "rootfs");
        if (rootfs[0] != '/' || strstr(rootfs, "/../") != NULL ||
            (strlen(rootfs) >= 3 && strcmp(rootfs + strlen(rootfs) - 3, "/..") == 0))
            return spec_fail(ctx, ry, FLOE_EINVAL,
                             "container: rootfs: must be an absolute path without \"..\"");
        for (const char *p = rootfs; *p; p++) {
            if ((unsigned char)*p < ' ' || *p == 0x7f)
                return spec_fail(ctx, ry, FLOE_EINVAL,
                                 "container: rootfs: contains a control character");
        }
        c->rootfs = (char *)rootfs;
    }
    const spec_y *cmd = spec_y_get(cy, "command");
    if (cmd != NULL) {
        if (cmd->kind != SPEC_Y_SEQ || cmd->n == 0)
            return spec_fail(ctx, cmd, FLOE_EINVAL,
                             "container: command: expected a non-empty list of arguments (argv, "
                             "never run through a shell)");
        if (cmd->n > TASK_ARGS_MAX)
            return spec_fail(ctx, cmd, FLOE_ETOOBIG, "container: command: more than %d arguments",
                             TASK_ARGS_MAX);
        c->command = floe_arena_alloc(ctx->arena, cmd->n * sizeof(*c->command));
        if (c->command == NULL)
            return spec_fail(ctx, cmd, FLOE_ENOMEM, "out of memory");
        for (size_t i = 0; i < cmd->n; i++) {
            const spec_y *a = cmd->items[i];
            if (a->kind != SPEC_Y_SCALAR)
                return spec_fail(ctx, a, FLOE_EINVAL,
                                 "container: command: argument %zu is not "
                                 "text",
                                 i);
            if (memchr(a->str, 0, a->len) != NULL)
                return spec_fail(ctx, a, FLOE_EINVAL,
                                 "container: command: argument %zu contains a NUL byte", i);
            if (a->len > TASK_ARG_BYTES)
                return spec_fail(ctx, a, FLOE_ETOOBIG,
                                 "container: command: argument %zu is longer than %d bytes", i,
                                 TASK_ARG_BYTES);
            c->command[i] = (char *)a->str;
        }
        c->n_command = cmd->n;
        if (c->command[0][0] == '\0')
            return spec_fail(ctx, cmd, FLOE_EINVAL, "container: command: the program is empty");
    }
    const spec_y *env = spec_y_get(cy, "env");
    if (env != NULL) {
        if (env->kind != SPEC_Y_MAP)
            return spec_fail(ctx, env, FLOE_EINVAL, "container: env: expected NAME: value pairs");
        if (env->n > TASK_ENV_MAX)
            return spec_fail(ctx, env, FLOE_ETOOBIG, "container: env: more than %d variables",
                             TASK_ENV_MAX);
        c->env = floe_arena_alloc(ctx->arena, (env->n + 1) * sizeof(*c->env));
        if (c->env == NULL)
            return spec_fail(ctx, env, FLOE_ENOMEM, "out of memory");
        for (size_t i = 0; i < env->n; i++) {
            const spec_y *k = env->items[2 * i], *v = env->items[2 * i + 1];
            if ((rc = check_env_name(ctx, k)) != FLOE_OK)
                return rc;
            for (size_t j = 0; j < i; j++) {
                if (strcmp(env->items[2 * j]->str, k->str) == 0)
                    return spec_fail(ctx, k, FLOE_EINVAL, "container: env: \"%s\" is set twice",
                                     k->str);
            }
            if (v->kind != SPEC_Y_SCALAR || memchr(v->str, 0, v->len) != NULL ||
                v->len > TASK_ARG_BYTES)
                return spec_fail(ctx, v, FLOE_EINVAL,
                                 "container: env: \"%s\": expected text without NUL bytes, at "
                                 "most %d bytes",
                                 k->str, TASK_ARG_BYTES);
            Floe__KeyValue *kv = floe_arena_alloc(ctx->arena, sizeof(*kv));
            if (kv == NULL)
                return spec_fail(ctx, v, FLOE_ENOMEM, "out of memory");
            floe__key_value__init(kv);
            kv->key = (char *)k->str;
            kv->value = (char *)v->str;
            c->env[i] = kv;
        }
        c->n_env = env->n;
    }
    /* What each executor needs to start anything. */
    if (strcmp(t->executor, "process") == 0 && c->n_command == 0)
        return spec_fail(ctx, cy, FLOE_EINVAL, "container: executor \"process\" needs a command");
    /* oci: a rootfs on the workers' disk, or an image they unpack (the rootfs wins when
     * both are given: a task may name the image it was made from) */
    bool has_rootfs = c->rootfs != NULL && c->rootfs[0] != '\0';
    bool has_image = c->image != NULL && c->image[0] != '\0';
    if (strcmp(t->executor, "oci") == 0 && ((!has_rootfs && !has_image) || c->n_command == 0))
        return spec_fail(ctx, cy, FLOE_EINVAL,
                         "container: executor \"oci\" needs a command, and a rootfs or an image");
    if (strcmp(t->executor, "kubernetes") == 0 && !has_image)
        return spec_fail(ctx, cy, FLOE_EINVAL, "container: executor \"kubernetes\" needs an image");
    return FLOE_OK;
}

static floe_rc task_retries_in(spec_ctx *ctx, const spec_y *doc, Floe__TaskSpec *t);

static floe_rc
task_retries(spec_ctx *ctx, const spec_y *doc, Floe__TaskSpec *t)
{
    size_t mark =
        spec_y_get(doc, "retries") != NULL && spec_y_get(doc, "retries")->kind != SPEC_Y_SCALAR
            ? spec_where_push(ctx, "retries")
            : strlen(ctx->where);
    floe_rc rc = task_retries_in(ctx, doc, t);
    spec_where_pop(ctx, mark);
    return rc;
}

static floe_rc
task_retries_in(spec_ctx *ctx, const spec_y *doc, Floe__TaskSpec *t)
{
    Floe__RetryPolicy *r = floe_arena_alloc(ctx->arena, sizeof(*r));
    if (r == NULL)
        return spec_fail(ctx, doc, FLOE_ENOMEM, "out of memory");
    floe__retry_policy__init(r);
    floe_retry_policy_defaults(r);
    t->retries = r;
    const spec_y *ry = spec_y_get(doc, "retries");
    if (ry == NULL)
        return FLOE_OK;
    floe_rc rc;
    uint64_t v;
    if (ry->kind == SPEC_Y_SCALAR) { /* retries: 3 means three user retries */
        v = r->user_retries;
        if ((rc = spec_get_uint(ctx, doc, "retries", TASK_RETRIES_MAX, &v)) != FLOE_OK)
            return rc;
        r->user_retries = (uint32_t)v;
        return FLOE_OK;
    }
    static const char *const fields[] = {"user", "system", "backoff", NULL};
    if ((rc = spec_check_fields(ctx, ry, NULL, fields)) != FLOE_OK)
        return rc;
    v = r->user_retries;
    if ((rc = spec_get_uint(ctx, ry, "user", TASK_RETRIES_MAX, &v)) != FLOE_OK)
        return rc;
    r->user_retries = (uint32_t)v;
    v = r->system_retries;
    if ((rc = spec_get_uint(ctx, ry, "system", TASK_RETRIES_MAX, &v)) != FLOE_OK)
        return rc;
    r->system_retries = (uint32_t)v;
    const spec_y *by = spec_y_get(ry, "backoff");
    if (by == NULL)
        return FLOE_OK;
    static const char *const bfields[] = {"initial", "max", "multiplier", NULL};
    if ((rc = spec_check_fields(ctx, by, "backoff", bfields)) != FLOE_OK)
        return rc;
    uint64_t ms = r->backoff_initial_ms;
    if ((rc = spec_get_duration_ms(ctx, by, "initial", 3600000, &ms)) != FLOE_OK)
        return rc;
    r->backoff_initial_ms = (uint32_t)ms;
    ms = r->backoff_max_ms;
    if ((rc = spec_get_duration_ms(ctx, by, "max", 24 * 3600000, &ms)) != FLOE_OK)
        return rc;
    r->backoff_max_ms = (uint32_t)ms;
    if (r->backoff_max_ms < r->backoff_initial_ms)
        return spec_fail(ctx, by, FLOE_EINVAL, "backoff: max is less than initial");
    const spec_y *my = spec_y_get(by, "multiplier");
    if (my != NULL) {
        char *end;
        double m = my->kind == SPEC_Y_SCALAR ? strtod(my->str, &end) : 0;
        if (my->kind != SPEC_Y_SCALAR || *end != '\0' || !(m >= 1.0 && m <= 10.0))
            return spec_fail(ctx, my, FLOE_EINVAL,
                             "backoff: multiplier: expected a number from 1 to 10");
        r->backoff_multiplier_milli = (uint32_t)llround(m * 1000);
    }
    return FLOE_OK;
}

static floe_rc task_cache_fields(spec_ctx *ctx, const spec_y *cy, Floe__CachePolicy *c);

static floe_rc
task_cache(spec_ctx *ctx, const spec_y *doc, Floe__TaskSpec *t)
{
    Floe__CachePolicy *c = floe_arena_alloc(ctx->arena, sizeof(*c));
    if (c == NULL)
        return spec_fail(ctx, doc, FLOE_ENOMEM, "out of memory");
    floe__cache_policy__init(c);
    t->cache = c;
    const spec_y *cy = spec_y_get(doc, "cache");
    if (cy == NULL)
        return FLOE_OK;
    floe_rc rc;
    if (cy->kind == SPEC_Y_SCALAR) {
        bool on = false;
        if ((rc = spec_get_bool(ctx, doc, "cache", &on)) != FLOE_OK)
            return rc;
        c->enabled = on;
        c->version = on ? "1" : "";
        return FLOE_OK;
    }
    static const char *const fields[] = {"enabled", "version", "ttl", NULL};
    if ((rc = spec_check_fields(ctx, cy, "cache", fields)) != FLOE_OK)
        return rc;
    size_t mark = spec_where_push(ctx, "cache");
    rc = task_cache_fields(ctx, cy, c);
    spec_where_pop(ctx, mark);
    return rc;
}

static floe_rc
task_cache_fields(spec_ctx *ctx, const spec_y *cy, Floe__CachePolicy *c)
{
    floe_rc rc;
    bool on = true;
    if ((rc = spec_get_bool(ctx, cy, "enabled", &on)) != FLOE_OK)
        return rc;
    c->enabled = on;
    const char *version = NULL;
    if ((rc = spec_get_string(ctx, cy, "version", 64, &version)) != FLOE_OK)
        return rc;
    c->version = (char *)(version != NULL ? version : "1");
    uint64_t ttl_ms = 0;
    if ((rc = spec_get_duration_ms(ctx, cy, "ttl", 3650ULL * 86400000, &ttl_ms)) != FLOE_OK)
        return rc;
    c->ttl_s = ttl_ms / 1000;
    return FLOE_OK;
}

floe_rc
spec_task_compile(spec_ctx *ctx, const spec_y *doc, const char *name, const char *version,
                  Floe__TaskSpec **out)
{
    static const char *const fields[] = {
        "kind",   "name",    "version",       "description",    "executor", "container",
        "inputs", "outputs", "resources",     "resource_class", "retries",  "timeout",
        "cache",  "secrets", "queue_timeout", "dynamic",        NULL};
    /* Each section is checked even when another is wrong (spec_stop): bad counts how many
     * were, and the task fails after the last. */
    unsigned bad = 0;
    floe_rc rc = spec_check_fields(ctx, doc, NULL, fields);
    if (spec_stop(ctx, rc, &bad))
        return rc;
    Floe__TaskSpec *t = floe_arena_alloc(ctx->arena, sizeof(*t));
    Floe__Interface *ifc = floe_arena_alloc(ctx->arena, sizeof(*ifc));
    if (t == NULL || ifc == NULL)
        return spec_fail(ctx, doc, FLOE_ENOMEM, "out of memory");
    floe__task_spec__init(t);
    floe__interface__init(ifc);
    t->interface = ifc;
    if ((t->id = spec_identifier(ctx, name, version)) == NULL)
        return spec_fail(ctx, doc, FLOE_ENOMEM, "out of memory");
    const char *desc = NULL;
    if (spec_stop(ctx, rc = spec_get_string(ctx, doc, "description", TASK_DESC_MAX, &desc), &bad))
        return rc;
    if (desc != NULL)
        t->description = (char *)desc;

    const char *ex = NULL;
    const spec_y *ey = spec_y_get(doc, "executor");
    if (spec_stop(ctx, rc = spec_get_string(ctx, doc, "executor", 64, &ex), &bad))
        return rc;
    t->executor = "process";
    bool ex_bad = rc != FLOE_OK;
    if (ex != NULL) {
        size_t i;
        for (i = 0; executors[i] != NULL && strcmp(executors[i], ex) != 0; i++)
            ;
        if (executors[i] == NULL) {
            rc = spec_fail(ctx, ey, FLOE_EINVAL,
                           "executor: unknown executor \"%s\" (expected process, oci, "
                           "kubernetes or noop)",
                           ex);
            if (spec_stop(ctx, rc, &bad))
                return rc;
            ex_bad = true;
        } else {
            t->executor = (char *)executors[i];
        }
    }
    /* The container is checked against its executor: not against a guessed one. */
    if (!ex_bad && spec_stop(ctx, rc = task_container(ctx, doc, t), &bad))
        return rc;
    if (!ex_bad && t->container != NULL && spec_stop(ctx, rc = task_secrets(ctx, doc, t), &bad))
        return rc;
    unsigned ifc_bad = bad;
    if (spec_stop(ctx, rc = spec_interface_inputs(ctx, spec_y_get(doc, "inputs"), ifc), &bad))
        return rc;
    if (spec_stop(ctx, rc = spec_interface_outputs(ctx, spec_y_get(doc, "outputs"), ifc), &bad))
        return rc;
    ifc_bad = bad - ifc_bad;
    if (spec_stop(ctx, rc = task_resources(ctx, doc, t), &bad))
        return rc;
    if (spec_stop(ctx, rc = task_retries(ctx, doc, t), &bad))
        return rc;
    /* The cache is checked against the interface: not against half of one. */
    if (ifc_bad == 0 && spec_stop(ctx, rc = task_cache(ctx, doc, t), &bad))
        return rc;
    uint64_t timeout_ms = 0, queue_ms = 0;
    if (spec_stop(ctx,
                  rc = spec_get_duration_ms(ctx, doc, "timeout", TASK_TIMEOUT_MAX_MS, &timeout_ms),
                  &bad))
        return rc;
    /* how long a dispatch may wait for a worker, apart from how long it may run */
    if (spec_stop(
            ctx,
            rc = spec_get_duration_ms(ctx, doc, "queue_timeout", TASK_TIMEOUT_MAX_MS, &queue_ms),
            &bad))
        return rc;
    t->queue_timeout_ms = (uint32_t)queue_ms;
    bool dyn = false;
    if (spec_stop(ctx, rc = spec_get_bool(ctx, doc, "dynamic", &dyn), &bad))
        return rc;
    t->dynamic = dyn;
    /* Its result is a workflow, not its outputs: there is nothing to memoize (the tasks of
     * the workflow it returns are cached by their own policies). */
    if (dyn && t->cache != NULL && t->cache->enabled &&
        spec_stop(ctx,
                  rc = spec_fail(ctx, spec_y_get(doc, "cache"), FLOE_EINVAL,
                                 "cache: a dynamic task is not cached (the tasks of the "
                                 "workflow it returns are, by their own cache settings)"),
                  &bad))
        return rc;
    if (bad > 0) /* each went to the problem handler */
        return spec_reported(ctx);
    t->timeout_ms = (uint32_t)timeout_ms;

    /* The interface digest keys the cache: a changed interface invalidates entries. */
    size_t n = protobuf_c_message_get_packed_size(&ifc->base);
    uint8_t *buf = floe_arena_alloc(ctx->arena, n ? n : 1);
    char *hex = floe_arena_alloc(ctx->arena, FLOE_SHA256_HEX_LEN + 1);
    if (buf == NULL || hex == NULL)
        return spec_fail(ctx, doc, FLOE_ENOMEM, "out of memory");
    protobuf_c_message_pack(&ifc->base, buf);
    floe_sha256_hex(buf, n, hex);
    t->interface_digest = hex;

    /* What runs (executor, image, command, env...) keys the cache too (review M6): a new
     * version with other code must not read the results of the old one. */
    n = protobuf_c_message_get_packed_size(&t->container->base);
    size_t ex_len = strlen(t->executor) + 1; /* with its NUL: "process" + container != ... */
    buf = floe_arena_alloc(ctx->arena, ex_len + n);
    hex = floe_arena_alloc(ctx->arena, FLOE_SHA256_HEX_LEN + 1);
    if (buf == NULL || hex == NULL)
        return spec_fail(ctx, doc, FLOE_ENOMEM, "out of memory");
    memcpy(buf, t->executor, ex_len);
    protobuf_c_message_pack(&t->container->base, buf + ex_len);
    floe_sha256_hex(buf, ex_len + n, hex);
    t->runtime_digest = hex;
    *out = t;
    return FLOE_OK;
}
