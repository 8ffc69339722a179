/*
 * The compiler's entry point and the helpers every kind shares: error formatting with
 * file, line and context; field, name and reference checks; interfaces and literals;
 * looking up tasks and workflows in the batch or the registry; packing and digesting.
 */
#include "spec_int.h"

#include "floe_type.h"
#include "floe_value.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* --- errors ------------------------------------------------------------------------- */

floe_rc
spec_fail(spec_ctx *ctx, const spec_y *at, floe_rc code, const char *fmt, ...)
{
    char msg[FLOE_ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    return floe_err_set(ctx->err, code, code == FLOE_ENOMEM ? FLOE_ERR_SYSTEM : FLOE_ERR_USER,
                        false, "%.64s:%u: %s%s%s", ctx->file, at != NULL ? at->line : 1, ctx->where,
                        ctx->where[0] ? ": " : "", msg);
}

floe_rc
spec_fail_err(spec_ctx *ctx, const spec_y *at, const char *field)
{
    char msg[FLOE_ERR_MSG_MAX];
    floe_rc code = ctx->err != NULL ? ctx->err->code : FLOE_EINVAL;
    snprintf(msg, sizeof(msg), "%s", ctx->err != NULL ? ctx->err->msg : "invalid");
    if (field != NULL)
        return spec_fail(ctx, at, code, "%s: %s", field, msg);
    return spec_fail(ctx, at, code, "%s", msg);
}

bool
spec_collect(spec_ctx *ctx, floe_rc rc)
{
    if (ctx->env->problem == NULL || (rc != FLOE_EINVAL && rc != FLOE_ETOOBIG))
        return false;
    if (ctx->err->msg[0] != '\0') {
        ctx->env->problem(ctx->env->problem_arg, ctx->err);
        if (ctx->first_rc == FLOE_OK) {
            ctx->first_rc = rc;
            ctx->first = *ctx->err;
        }
        floe_err_clear(ctx->err);
    }
    return true;
}

bool
spec_stop(spec_ctx *ctx, floe_rc rc, unsigned *bad)
{
    if (rc == FLOE_OK)
        return false;
    (*bad)++;
    return !spec_collect(ctx, rc);
}

floe_rc
spec_reported(spec_ctx *ctx)
{
    floe_err_clear(ctx->err);
    return FLOE_EINVAL;
}

size_t
spec_where_push(spec_ctx *ctx, const char *field)
{
    size_t len = strlen(ctx->where);
    snprintf(ctx->where + len, sizeof(ctx->where) - len, "%s%s", len ? ": " : "", field);
    return len;
}

void
spec_where_pop(spec_ctx *ctx, size_t len)
{
    ctx->where[len] = '\0';
}

char *
spec_strdup(spec_ctx *ctx, const char *s)
{
    return floe_arena_strndup(ctx->arena, s, strlen(s));
}

/* --- names ---------------------------------------------------------------------------- */

static bool
is_alnum(int c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

floe_rc
spec_check_name(const char *what, const char *s, floe_err *err)
{
    size_t n = strlen(s);
    bool ok = n >= 1 && n <= SPEC_NAME_MAX &&
              ((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z'));
    for (size_t i = 0; ok && i < n; i++)
        ok = is_alnum((unsigned char)s[i]) || s[i] == '_' || s[i] == '-' || s[i] == '.';
    if (ok)
        return FLOE_OK;
    return floe_err_user(err, FLOE_EINVAL,
                         "%s \"%.64s%s\" is not a valid name: 1 to %d characters of A-Z a-z 0-9 "
                         "_ - ., starting with a letter",
                         what, s, n > 64 ? "..." : "", SPEC_NAME_MAX);
}

floe_rc
spec_check_version(const char *s, floe_err *err)
{
    size_t n = strlen(s);
    bool ok = n >= 1 && n <= SPEC_VERSION_MAX && is_alnum((unsigned char)s[0]);
    for (size_t i = 0; ok && i < n; i++)
        ok = is_alnum((unsigned char)s[i]) || s[i] == '_' || s[i] == '-' || s[i] == '.' ||
             s[i] == '+';
    if (ok)
        return FLOE_OK;
    return floe_err_user(err, FLOE_EINVAL,
                         "version \"%.64s%s\" is not valid: 1 to %d characters of A-Z a-z 0-9 "
                         "_ - . +, starting with a letter or digit",
                         s, n > 64 ? "..." : "", SPEC_VERSION_MAX);
}

floe_rc
spec_check_ident(const char *what, const char *s, floe_err *err)
{
    size_t n = strlen(s);
    bool ok = n >= 1 && n <= SPEC_IDENT_MAX &&
              ((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z') || s[0] == '_');
    for (size_t i = 0; ok && i < n; i++)
        ok = is_alnum((unsigned char)s[i]) || s[i] == '_';
    if (ok)
        return FLOE_OK;
    return floe_err_user(err, FLOE_EINVAL,
                         "%s \"%.64s%s\" is not a valid identifier: 1 to %d characters of A-Z "
                         "a-z 0-9 _, not starting with a digit",
                         what, s, n > 64 ? "..." : "", SPEC_IDENT_MAX);
}

floe_rc
spec_check_project(const char *s, floe_err *err)
{
    size_t n = strlen(s);
    bool ok = n >= 1 && n <= SPEC_PROJECT_MAX && s[0] >= 'a' && s[0] <= 'z';
    for (size_t i = 0; ok && i < n; i++)
        ok = (s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-';
    if (ok)
        return FLOE_OK;
    return floe_err_user(err, FLOE_EINVAL,
                         "project \"%.64s%s\" is not valid: 1 to %d characters of a-z 0-9 -, "
                         "starting with a letter",
                         s, n > 64 ? "..." : "", SPEC_PROJECT_MAX);
}

const char *
spec_kind_name(spec_kind kind)
{
    switch (kind) {
    case SPEC_TASK:
        return "task";
    case SPEC_WORKFLOW:
        return "workflow";
    case SPEC_LAUNCHPLAN:
        return "launchplan";
    }
    return "?";
}

/* --- fields and scalars ------------------------------------------------------------- */

floe_rc
spec_check_fields(spec_ctx *ctx, const spec_y *map, const char *what, const char *const *allowed)
{
    const char *sep = what != NULL ? ": " : "";
    if (what == NULL)
        what = "";
    if (map->kind != SPEC_Y_MAP)
        return spec_fail(ctx, map, FLOE_EINVAL, "%s%sexpected a mapping", what, sep);
    for (size_t i = 0; i < map->n; i++) {
        const spec_y *k = map->items[2 * i];
        if (k->kind != SPEC_Y_SCALAR)
            return spec_fail(ctx, k, FLOE_EINVAL, "%s%skeys must be plain names", what, sep);
        size_t a;
        for (a = 0; allowed[a] != NULL; a++) {
            if (strcmp(allowed[a], k->str) == 0)
                break;
        }
        if (allowed[a] == NULL) {
            char list[160] = "";
            for (size_t j = 0, len = 0; allowed[j] != NULL && len < sizeof(list); j++)
                len += (size_t)snprintf(list + len, sizeof(list) - len, "%s%s", j ? ", " : "",
                                        allowed[j]);
            return spec_fail(ctx, k, FLOE_EINVAL, "%s%sunknown field \"%.48s\" (expected: %s)",
                             what, sep, k->str, list);
        }
        for (size_t j = 0; j < i; j++) {
            if (strcmp(map->items[2 * j]->str, k->str) == 0)
                return spec_fail(ctx, k, FLOE_EINVAL, "%s%sfield \"%s\" is given twice", what, sep,
                                 k->str);
        }
    }
    return FLOE_OK;
}

static floe_rc
scalar_text(spec_ctx *ctx, const spec_y *y, const char *key, size_t max)
{
    if (y->kind != SPEC_Y_SCALAR)
        return spec_fail(ctx, y, FLOE_EINVAL, "%s: expected a single value, got a %s", key,
                         y->kind == SPEC_Y_MAP ? "mapping" : "list");
    if (memchr(y->str, 0, y->len) != NULL)
        return spec_fail(ctx, y, FLOE_EINVAL, "%s: contains a NUL byte", key);
    if (y->len > max)
        return spec_fail(ctx, y, FLOE_ETOOBIG, "%s: longer than %zu bytes", key, max);
    return FLOE_OK;
}

floe_rc
spec_get_string(spec_ctx *ctx, const spec_y *map, const char *key, size_t max, const char **out)
{
    const spec_y *y = spec_y_get(map, key);
    *out = NULL;
    if (y == NULL || spec_y_is_null(y))
        return FLOE_OK;
    floe_rc rc = scalar_text(ctx, y, key, max);
    if (rc == FLOE_OK)
        *out = y->str;
    return rc;
}

floe_rc
spec_get_uint(spec_ctx *ctx, const spec_y *map, const char *key, uint64_t max, uint64_t *out)
{
    const spec_y *y = spec_y_get(map, key);
    if (y == NULL)
        return FLOE_OK;
    floe_rc rc = scalar_text(ctx, y, key, 32);
    if (rc != FLOE_OK)
        return rc;
    char *end;
    unsigned long long v = strtoull(y->str, &end, 10);
    if (!y->plain || y->str[0] < '0' || y->str[0] > '9' || *end != '\0' || v > max)
        return spec_fail(ctx, y, FLOE_EINVAL, "%s: expected an integer from 0 to %llu, got \"%s\"",
                         key, (unsigned long long)max, y->str);
    *out = v;
    return FLOE_OK;
}

floe_rc
spec_get_duration_ms(spec_ctx *ctx, const spec_y *map, const char *key, uint64_t max_ms,
                     uint64_t *out)
{
    const spec_y *y = spec_y_get(map, key);
    if (y == NULL)
        return FLOE_OK;
    floe_rc rc = scalar_text(ctx, y, key, 64);
    if (rc != FLOE_OK)
        return rc;
    int64_t us;
    if (floe_duration_parse(y->str, &us, ctx->err) != FLOE_OK)
        return spec_fail_err(ctx, y, key);
    if ((uint64_t)us / 1000 > max_ms) {
        char mb[48];
        floe_duration_format((int64_t)max_ms * 1000, mb, sizeof(mb));
        return spec_fail(ctx, y, FLOE_EINVAL, "%s: %s is over the limit of %s", key, y->str, mb);
    }
    *out = (uint64_t)us / 1000;
    return FLOE_OK;
}

floe_rc
spec_get_bool(spec_ctx *ctx, const spec_y *map, const char *key, bool *out)
{
    const spec_y *y = spec_y_get(map, key);
    if (y == NULL)
        return FLOE_OK;
    if (y->kind == SPEC_Y_SCALAR && y->plain && strcmp(y->str, "true") == 0)
        *out = true;
    else if (y->kind == SPEC_Y_SCALAR && y->plain && strcmp(y->str, "false") == 0)
        *out = false;
    else
        return spec_fail(ctx, y, FLOE_EINVAL, "%s: expected true or false", key);
    return FLOE_OK;
}

/* --- interfaces and literals -------------------------------------------------------- */

#define SPEC_IFC_MAX 256 /* inputs or outputs per interface */

static int
input_cmp(const void *a, const void *b)
{
    return strcmp((*(Floe__InputSpec *const *)a)->name, (*(Floe__InputSpec *const *)b)->name);
}

static int
variable_cmp(const void *a, const void *b)
{
    return strcmp((*(Floe__Variable *const *)a)->name, (*(Floe__Variable *const *)b)->name);
}

floe_rc
spec_literal(spec_ctx *ctx, const spec_y *y, const Floe__LiteralType *type, Floe__Value **out)
{
    json_t *j = spec_y_to_json(y, ctx->err);
    if (j == NULL)
        return ctx->err != NULL ? ctx->err->code : FLOE_EINVAL;
    floe_rc rc = floe_value_from_json(type, j, ctx->arena, out, ctx->err);
    json_decref(j);
    return rc;
}

/* A type: "integer" or {type: integer, ...}; returns the node holding the type text. */
static floe_rc
parse_type(spec_ctx *ctx, const spec_y *y, const char *what, Floe__LiteralType **out)
{
    if (y->kind != SPEC_Y_SCALAR || memchr(y->str, 0, y->len) != NULL)
        return spec_fail(ctx, y, FLOE_EINVAL, "%s: type must be text such as \"list<integer>\"",
                         what);
    if (floe_type_parse(y->str, ctx->arena, out, ctx->err) != FLOE_OK)
        return spec_fail_err(ctx, y, what);
    return FLOE_OK;
}

static floe_rc
ifc_section(spec_ctx *ctx, const spec_y *section, const char *label)
{
    if (section->kind != SPEC_Y_MAP)
        return spec_fail(ctx, section, FLOE_EINVAL,
                         "%s must be a mapping of name to type (\"x: integer\")", label);
    if (section->n > SPEC_IFC_MAX)
        return spec_fail(ctx, section, FLOE_ETOOBIG, "more than %d %s", SPEC_IFC_MAX, label);
    for (size_t i = 0; i < section->n; i++) {
        const spec_y *k = section->items[2 * i];
        char what[96];
        snprintf(what, sizeof(what), "%s name", label);
        if (k->kind != SPEC_Y_SCALAR || spec_check_ident(what, k->str, ctx->err) != FLOE_OK)
            return spec_fail_err(ctx, k, NULL);
        for (size_t j = 0; j < i; j++) {
            if (strcmp(section->items[2 * j]->str, k->str) == 0)
                return spec_fail(ctx, k, FLOE_EINVAL, "%s: \"%s\" is declared twice", label,
                                 k->str);
        }
    }
    return FLOE_OK;
}

floe_rc
spec_interface_inputs(spec_ctx *ctx, const spec_y *section, Floe__Interface *ifc)
{
    if (section == NULL)
        return FLOE_OK;
    floe_rc rc = ifc_section(ctx, section, "inputs");
    if (rc != FLOE_OK)
        return rc;
    Floe__InputSpec **in = floe_arena_alloc(ctx->arena, (section->n + 1) * sizeof(*in));
    if (in == NULL)
        return spec_fail(ctx, section, FLOE_ENOMEM, "out of memory");
    for (size_t i = 0; i < section->n; i++) {
        const spec_y *k = section->items[2 * i], *v = section->items[2 * i + 1];
        char what[96];
        snprintf(what, sizeof(what), "input \"%s\"", k->str);
        Floe__InputSpec *is = floe_arena_alloc(ctx->arena, sizeof(*is));
        if (is == NULL)
            return spec_fail(ctx, k, FLOE_ENOMEM, "out of memory");
        floe__input_spec__init(is);
        is->name = (char *)k->str;
        const spec_y *type_y = v, *def_y = NULL;
        if (v->kind == SPEC_Y_MAP) {
            static const char *const fields[] = {"type", "default", "description", NULL};
            if ((rc = spec_check_fields(ctx, v, what, fields)) != FLOE_OK)
                return rc;
            type_y = spec_y_get(v, "type");
            def_y = spec_y_get(v, "default");
            if (type_y == NULL)
                return spec_fail(ctx, v, FLOE_EINVAL, "%s: no type", what);
        }
        if ((rc = parse_type(ctx, type_y, what, &is->type)) != FLOE_OK)
            return rc;
        if (def_y != NULL && spec_literal(ctx, def_y, is->type, &is->default_value) != FLOE_OK) {
            char field[128];
            snprintf(field, sizeof(field), "%s: default", what);
            return spec_fail_err(ctx, def_y, field);
        }
        in[i] = is;
    }
    qsort(in, section->n, sizeof(*in), input_cmp);
    ifc->inputs = in;
    ifc->n_inputs = section->n;
    return FLOE_OK;
}

floe_rc
spec_interface_outputs(spec_ctx *ctx, const spec_y *section, Floe__Interface *ifc)
{
    if (section == NULL)
        return FLOE_OK;
    floe_rc rc = ifc_section(ctx, section, "outputs");
    if (rc != FLOE_OK)
        return rc;
    Floe__Variable **out = floe_arena_alloc(ctx->arena, (section->n + 1) * sizeof(*out));
    if (out == NULL)
        return spec_fail(ctx, section, FLOE_ENOMEM, "out of memory");
    for (size_t i = 0; i < section->n; i++) {
        const spec_y *k = section->items[2 * i], *v = section->items[2 * i + 1];
        char what[96];
        snprintf(what, sizeof(what), "output \"%s\"", k->str);
        Floe__Variable *var = floe_arena_alloc(ctx->arena, sizeof(*var));
        if (var == NULL)
            return spec_fail(ctx, k, FLOE_ENOMEM, "out of memory");
        floe__variable__init(var);
        var->name = (char *)k->str;
        const spec_y *type_y = v;
        if (v->kind == SPEC_Y_MAP) {
            static const char *const fields[] = {"type", "description", NULL};
            if ((rc = spec_check_fields(ctx, v, what, fields)) != FLOE_OK)
                return rc;
            if ((type_y = spec_y_get(v, "type")) == NULL)
                return spec_fail(ctx, v, FLOE_EINVAL, "%s: no type", what);
        }
        if ((rc = parse_type(ctx, type_y, what, &var->type)) != FLOE_OK)
            return rc;
        out[i] = var;
    }
    qsort(out, section->n, sizeof(*out), variable_cmp);
    ifc->outputs = out;
    ifc->n_outputs = section->n;
    return FLOE_OK;
}

const Floe__InputSpec *
spec_ifc_input(const Floe__Interface *ifc, const char *name)
{
    for (size_t i = 0; ifc != NULL && i < ifc->n_inputs; i++) {
        if (strcmp(ifc->inputs[i]->name, name) == 0)
            return ifc->inputs[i];
    }
    return NULL;
}

const Floe__Variable *
spec_ifc_output(const Floe__Interface *ifc, const char *name)
{
    for (size_t i = 0; ifc != NULL && i < ifc->n_outputs; i++) {
        if (strcmp(ifc->outputs[i]->name, name) == 0)
            return ifc->outputs[i];
    }
    return NULL;
}

const char *
spec_ifc_names(const Floe__Interface *ifc, bool outputs, char *buf, size_t size)
{
    size_t len = 0, n = ifc == NULL ? 0 : outputs ? ifc->n_outputs : ifc->n_inputs;
    buf[0] = '\0';
    for (size_t i = 0; i < n && len < size; i++) {
        const char *name = outputs ? ifc->outputs[i]->name : ifc->inputs[i]->name;
        len += (size_t)snprintf(buf + len, size - len, "%s%s", i ? ", " : "", name);
    }
    if (n == 0)
        snprintf(buf, size, "none");
    return buf;
}

/* --- references and look-ups -------------------------------------------------------- */

floe_rc
spec_ref(spec_ctx *ctx, const spec_y *y, const char *field, const char **name, const char **version)
{
    *name = *version = NULL;
    floe_rc rc;
    if (y->kind == SPEC_Y_MAP) {
        static const char *const fields[] = {"name", "version", NULL};
        if ((rc = spec_check_fields(ctx, y, field, fields)) != FLOE_OK)
            return rc;
        if ((rc = spec_get_string(ctx, y, "name", 256, name)) != FLOE_OK ||
            (rc = spec_get_string(ctx, y, "version", 256, version)) != FLOE_OK)
            return rc;
        if (*name == NULL)
            return spec_fail(ctx, y, FLOE_EINVAL, "%s: no name", field);
    } else {
        if ((rc = scalar_text(ctx, y, field, 512)) != FLOE_OK)
            return rc;
        const char *at = strchr(y->str, '@');
        if (at != NULL) {
            *name = floe_arena_strndup(ctx->arena, y->str, (size_t)(at - y->str));
            *version = at + 1;
        } else {
            *name = y->str;
        }
        if (*name == NULL)
            return spec_fail(ctx, y, FLOE_ENOMEM, "out of memory");
    }
    if (spec_check_name(field, *name, ctx->err) != FLOE_OK)
        return spec_fail_err(ctx, y, NULL);
    if (*version != NULL && spec_check_version(*version, ctx->err) != FLOE_OK)
        return spec_fail_err(ctx, y, field);
    return FLOE_OK;
}

Floe__Identifier *
spec_identifier(spec_ctx *ctx, const char *name, const char *version)
{
    Floe__Identifier *id = floe_arena_alloc(ctx->arena, sizeof(*id));
    if (id == NULL)
        return NULL;
    floe__identifier__init(id);
    id->project = spec_strdup(ctx, ctx->env->project);
    id->domain = spec_strdup(ctx, ctx->env->domain);
    id->name = spec_strdup(ctx, name);
    id->version = spec_strdup(ctx, version);
    if (id->project == NULL || id->domain == NULL || id->name == NULL || id->version == NULL)
        return NULL;
    return id;
}

floe_rc
spec_lookup(spec_ctx *ctx, const spec_y *at, spec_kind kind, const char *name, const char *version,
            const ProtobufCMessage **out)
{
    for (size_t i = 0; i < ctx->n_items; i++) {
        const spec_item *it = &ctx->items[i];
        if (it->kind == kind && strcmp(it->name, name) == 0 &&
            (version == NULL || strcmp(it->version, version) == 0)) {
            *out = it->msg;
            return FLOE_OK;
        }
    }
    const uint8_t *data = NULL;
    size_t len = 0;
    floe_rc rc = FLOE_ENOTFOUND;
    if (ctx->env->resolve != NULL)
        rc = ctx->env->resolve(ctx->env->resolve_arg, kind, name, version, ctx->arena, &data, &len,
                               ctx->err);
    if (rc == FLOE_ENOTFOUND)
        return spec_fail(ctx, at, FLOE_EINVAL, "unknown %s \"%s%s%s\" in project %s, domain %s",
                         spec_kind_name(kind), name, version ? "@" : "", version ? version : "",
                         ctx->env->project, ctx->env->domain);
    if (rc != FLOE_OK)
        return rc; /* the registry failed: its message stands */
    const ProtobufCMessageDescriptor *d = kind == SPEC_TASK ? &floe__task_spec__descriptor
                                          : kind == SPEC_WORKFLOW
                                              ? &floe__workflow_spec__descriptor
                                              : &floe__launch_plan_spec__descriptor;
    ProtobufCMessage *m =
        protobuf_c_message_unpack(d, floe_arena_pb_allocator(ctx->arena), len, data);
    if (m == NULL)
        return floe_err_sys(ctx->err, FLOE_EIO, "registered %s \"%s\" does not decode",
                            spec_kind_name(kind), name);
    *out = m;
    return FLOE_OK;
}

/* --- entry ---------------------------------------------------------------------------- */

static floe_rc
doc_kind(spec_ctx *ctx, const spec_y *doc, spec_kind *kind)
{
    if (doc->kind != SPEC_Y_MAP)
        return spec_fail(ctx, doc, FLOE_EINVAL,
                         "a document must be a mapping with kind: task, workflow or launchplan");
    const spec_y *k = spec_y_get(doc, "kind");
    if (k == NULL)
        return spec_fail(ctx, doc, FLOE_EINVAL, "missing \"kind\" (task, workflow or launchplan)");
    if (k->kind == SPEC_Y_SCALAR && strcmp(k->str, "task") == 0)
        *kind = SPEC_TASK;
    else if (k->kind == SPEC_Y_SCALAR && strcmp(k->str, "workflow") == 0)
        *kind = SPEC_WORKFLOW;
    else if (k->kind == SPEC_Y_SCALAR &&
             (strcmp(k->str, "launchplan") == 0 || strcmp(k->str, "launch_plan") == 0))
        *kind = SPEC_LAUNCHPLAN;
    else
        return spec_fail(ctx, k, FLOE_EINVAL,
                         "kind \"%.48s\" is not one of task, workflow, launchplan",
                         k->kind == SPEC_Y_SCALAR ? k->str : "?");
    return FLOE_OK;
}

/* The version of a document that gives none: "c" and the first 12 hex digits of the
 * SHA-256 of its compiled spec without a version (so the same content is the same version
 * wherever and whenever it is compiled). Set into the spec's identifier. */
static floe_rc
derive_version(spec_ctx *ctx, const spec_y *doc, spec_kind kind, const ProtobufCMessage *msg,
               const char **version)
{
    Floe__Identifier *id = NULL;
    if (msg == NULL)
        return spec_fail(ctx, doc, FLOE_EINVAL, "internal: no compiled spec");
    if (kind == SPEC_TASK)
        id = ((Floe__TaskSpec *)msg)->id;
    else if (kind == SPEC_WORKFLOW)
        id = ((Floe__WorkflowSpec *)msg)->id;
    else
        id = ((Floe__LaunchPlanSpec *)msg)->id;
    if (id == NULL)
        return spec_fail(ctx, doc, FLOE_EINVAL, "internal: a compiled spec without its id");
    id->version = "";
    size_t len = protobuf_c_message_get_packed_size(msg);
    uint8_t *data = floe_arena_alloc(ctx->arena, len ? len : 1);
    char *v = floe_arena_alloc(ctx->arena, 14);
    if (data == NULL || v == NULL)
        return spec_fail(ctx, doc, FLOE_ETOOBIG,
                         "the compiled spec needs more memory than the size limit allows");
    protobuf_c_message_pack(msg, data);
    char hex[FLOE_SHA256_HEX_LEN + 1];
    floe_sha256_hex(data, len, hex);
    snprintf(v, 14, "c%.12s", hex);
    id->version = v;
    *version = v;
    return FLOE_OK;
}

static floe_rc
compile_one(spec_ctx *ctx, const spec_y *doc, spec_kind kind, spec_item *it)
{
    const char *name = NULL, *version = NULL;
    const spec_y *ny = spec_y_get(doc, "name");
    ctx->where[0] = '\0';
    floe_rc rc = spec_get_string(ctx, doc, "name", 512, &name);
    if (rc != FLOE_OK)
        return rc;
    if (name == NULL)
        return spec_fail(ctx, doc, FLOE_EINVAL, "%s: missing \"name\"", spec_kind_name(kind));
    if (spec_check_name(spec_kind_name(kind), name, ctx->err) != FLOE_OK)
        return spec_fail_err(ctx, ny, NULL);
    snprintf(ctx->where, sizeof(ctx->where), "%s \"%s\"", spec_kind_name(kind), name);
    const spec_y *vy = spec_y_get(doc, "version");
    if ((rc = spec_get_string(ctx, doc, "version", 512, &version)) != FLOE_OK)
        return rc;
    if (version == NULL)
        version = ctx->env->version;
    /* No version at all: the content names it (below), so an edited file registers as a
     * new version and an unchanged one as the same. */
    bool derived = version == NULL;
    if (derived)
        version = "0";
    else if (spec_check_version(version, ctx->err) != FLOE_OK)
        return spec_fail_err(ctx, vy != NULL ? vy : doc, NULL);

    const ProtobufCMessage *msg = NULL;
    switch (kind) {
    case SPEC_TASK: {
        Floe__TaskSpec *t = NULL;
        rc = spec_task_compile(ctx, doc, name, version, &t);
        msg = (const ProtobufCMessage *)t;
        break;
    }
    case SPEC_WORKFLOW: {
        Floe__WorkflowSpec *w = NULL;
        rc = spec_workflow_compile(ctx, doc, name, version, &w);
        msg = (const ProtobufCMessage *)w;
        break;
    }
    case SPEC_LAUNCHPLAN: {
        Floe__LaunchPlanSpec *lp = NULL;
        rc = spec_launchplan_compile(ctx, doc, name, version, &lp);
        msg = (const ProtobufCMessage *)lp;
        break;
    }
    }
    if (rc != FLOE_OK)
        return rc;
    if (derived && (rc = derive_version(ctx, doc, kind, msg, &version)) != FLOE_OK)
        return rc;
    for (size_t i = 0; i < ctx->n_items; i++) {
        if (ctx->items[i].kind == kind && strcmp(ctx->items[i].name, name) == 0 &&
            strcmp(ctx->items[i].version, version) == 0)
            return spec_fail(ctx, doc, FLOE_EINVAL,
                             "defined twice in this registration (first at line %u)",
                             ctx->items[i].line);
    }
    size_t len = protobuf_c_message_get_packed_size(msg);
    uint8_t *data = floe_arena_alloc(ctx->arena, len ? len : 1);
    if (data == NULL)
        return spec_fail(ctx, doc, FLOE_ETOOBIG,
                         "the compiled spec needs more memory than the size limit allows");
    protobuf_c_message_pack(msg, data);
    *it = (spec_item){.kind = kind,
                      .name = name,
                      .version = version,
                      .line = doc->line,
                      .msg = msg,
                      .data = data,
                      .len = len};
    floe_sha256_hex(data, len, it->digest);
    return FLOE_OK;
}

floe_rc
spec_compile(const spec_env *env, const char *file, const char *text, size_t len, floe_arena *arena,
             spec_item **items, size_t *n_items, floe_err *err)
{
    *items = NULL;
    *n_items = 0;
    spec_y **docs;
    size_t n_docs;
    floe_rc rc = spec_yaml_parse(file, text, len, &env->limits, arena, &docs, &n_docs, err);
    if (rc != FLOE_OK)
        return rc;
    spec_ctx ctx = {.env = env, .file = file, .arena = arena, .err = err};
    if (n_docs == 0)
        return floe_err_user(err, FLOE_EINVAL, "%.64s: no documents", file);
    ctx.items = floe_arena_alloc(arena, n_docs * sizeof(*ctx.items));
    spec_kind *kinds = floe_arena_alloc(arena, n_docs * sizeof(*kinds));
    if (ctx.items == NULL || kinds == NULL)
        return floe_err_sys(err, FLOE_ENOMEM, "out of memory");
    for (size_t i = 0; i < n_docs; i++) {
        if ((rc = doc_kind(&ctx, docs[i], &kinds[i])) != FLOE_OK) {
            if (!spec_collect(&ctx, rc))
                return rc;
            kinds[i] = 0; /* reported; not compiled */
        }
    }
    /* Tasks first, so workflows may call any task of the same registration. */
    for (int pass = 0; pass < 2; pass++) {
        for (size_t i = 0; i < n_docs; i++) {
            if (kinds[i] == 0 || (kinds[i] == SPEC_TASK) != (pass == 0))
                continue;
            ctx.where[0] = '\0';
            rc = compile_one(&ctx, docs[i], kinds[i], &ctx.items[ctx.n_items]);
            if (rc == FLOE_OK) {
                ctx.n_items++;
                continue;
            }
            /* Every document's errors are reported; the first is the answer. */
            if (!spec_collect(&ctx, rc))
                return rc;
        }
    }
    if (ctx.first_rc != FLOE_OK) {
        *err = ctx.first;
        return ctx.first_rc;
    }
    *items = ctx.items;
    *n_items = ctx.n_items;
    return FLOE_OK;
}
