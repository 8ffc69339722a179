/*
 * Internals of the spec compiler, shared by its modules: the YAML tree (spec_yaml.c),
 * the compile context and its error helper, and the per-kind compilers
 * (spec_task.c, spec_workflow.c, spec_launchplan.c). Not for use outside spec_*.c.
 */
#ifndef SPEC_INT_H
#define SPEC_INT_H

#include "spec.h"

#include <jansson.h>
#include <stdbool.h>

/* --- YAML tree (spec_yaml.c) ---------------------------------------------------------- */

typedef enum spec_y_kind {
    SPEC_Y_SCALAR = 1,
    SPEC_Y_SEQ = 2,
    SPEC_Y_MAP = 3,
} spec_y_kind;

typedef struct spec_y spec_y;
struct spec_y {
    spec_y_kind kind;
    unsigned line;   /* 1-based */
    bool plain;      /* scalar written unquoted: may be a number, boolean or null */
    const char *str; /* scalar text, NUL-terminated; may contain NUL (len counts it) */
    size_t len;
    size_t n;       /* SEQ: items; MAP: pairs */
    spec_y **items; /* SEQ: n items; MAP: key0, value0, key1, value1, ... */
};

/* Parses every document. Aliases are refused; nesting, documents and size are bounded. */
floe_rc spec_yaml_parse(const char *file, const char *text, size_t len, const spec_limits *lim,
                        floe_arena *arena, spec_y ***docs, size_t *n_docs, floe_err *err);

/* Map lookup by key (first match); NULL when absent or y is not a map. */
spec_y *spec_y_get(const spec_y *map, const char *key);

/* A scalar that is null: plain "", "~", "null". */
bool spec_y_is_null(const spec_y *y);

/* Converts a literal to JSON with YAML 1.2 core-schema scalars: plain true/false,
 * integers, floats and null resolve; everything else is a string. NULL with err on a
 * duplicate key or a NUL byte. */
json_t *spec_y_to_json(const spec_y *y, floe_err *err);

/* --- compile context ------------------------------------------------------------------ */

typedef struct spec_ctx {
    const spec_env *env;
    const char *file;
    floe_arena *arena;
    floe_err *err;
    char where[192];  /* "workflow \"w\": node \"n\"": prefixes messages */
    spec_item *items; /* compiled so far (tasks, then the rest in document order) */
    size_t n_items;
    floe_rc first_rc; /* the first error handed to env->problem, the answer's */
    floe_err first;
} spec_ctx;

/* With a problem handler (floectl validate, the API's register), a spec error is handed
 * to it and compiling goes on with the next independent part (a document, a section, a
 * node), so that one pass reports every error: returns true then. Without a handler, or
 * for a failure that is not the spec's (memory, the resolver), false: the caller stops
 * and returns rc. An error already handed on (ctx->err empty) is not handed on again. */
bool spec_collect(spec_ctx *ctx, floe_rc rc);

/* A part's outcome when compiling goes on past errors: false when the caller goes on (rc
 * is FLOE_OK, or its error went to the problem handler: *bad counts those), true when it
 * must stop and return rc. */
bool spec_stop(spec_ctx *ctx, floe_rc rc, unsigned *bad);

/* What a part returns after spec_collect took its errors: FLOE_EINVAL, ctx->err empty. */
floe_rc spec_reported(spec_ctx *ctx);

/* Fills ctx->err with "file:line: <where>: <message>" and returns code. */
floe_rc spec_fail(spec_ctx *ctx, const spec_y *at, floe_rc code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Same, with the message taken from ctx->err (set by a helper), prefixed by field. */
floe_rc spec_fail_err(spec_ctx *ctx, const spec_y *at, const char *field);

/* Appends ": field" to ctx->where for the messages of a nested section; returns the old
 * length for spec_where_pop. */
size_t spec_where_push(spec_ctx *ctx, const char *field);
void spec_where_pop(spec_ctx *ctx, size_t len);

/* Checks that map is a mapping whose keys are distinct scalars among `allowed`
 * (NULL-terminated). `what` prefixes the messages; NULL for none. */
floe_rc spec_check_fields(spec_ctx *ctx, const spec_y *map, const char *what,
                          const char *const *allowed);

/* Scalar accessors: a string (NULL when absent), checked for NUL bytes and max length. */
floe_rc spec_get_string(spec_ctx *ctx, const spec_y *map, const char *key, size_t max,
                        const char **out);
floe_rc spec_get_uint(spec_ctx *ctx, const spec_y *map, const char *key, uint64_t max,
                      uint64_t *out);
floe_rc spec_get_duration_ms(spec_ctx *ctx, const spec_y *map, const char *key, uint64_t max_ms,
                             uint64_t *out);
floe_rc spec_get_bool(spec_ctx *ctx, const spec_y *map, const char *key, bool *out);

/* Copies s into the arena. NULL when out of memory. */
char *spec_strdup(spec_ctx *ctx, const char *s);

/* Parses an interface section (inputs with defaults, outputs), sorted by name.
 * outputs_from: workflow outputs carry {type?, from} and are compiled by the caller,
 * so only the names are checked here when set. */
floe_rc spec_interface_inputs(spec_ctx *ctx, const spec_y *section, Floe__Interface *ifc);
floe_rc spec_interface_outputs(spec_ctx *ctx, const spec_y *section, Floe__Interface *ifc);

/* A literal of type from YAML. */
floe_rc spec_literal(spec_ctx *ctx, const spec_y *y, const Floe__LiteralType *type,
                     Floe__Value **out);

/* A reference to a task or workflow: "name", "name@version" or {name, version}.
 * version is NULL when not given. */
floe_rc spec_ref(spec_ctx *ctx, const spec_y *y, const char *field, const char **name,
                 const char **version);

/* Finds a task or workflow: in the documents compiled so far, else through the resolver.
 * The result is unpacked into the arena. */
floe_rc spec_lookup(spec_ctx *ctx, const spec_y *at, spec_kind kind, const char *name,
                    const char *version, const ProtobufCMessage **out);

Floe__Identifier *spec_identifier(spec_ctx *ctx, const char *name, const char *version);

/* Interface lookups. */
const Floe__InputSpec *spec_ifc_input(const Floe__Interface *ifc, const char *name);
const Floe__Variable *spec_ifc_output(const Floe__Interface *ifc, const char *name);
/* "a, b, c" of an interface's inputs or outputs, for "expected one of" messages. */
const char *spec_ifc_names(const Floe__Interface *ifc, bool outputs, char *buf, size_t size);

/* Per-kind compilers: doc is the document's root map. */
floe_rc spec_task_compile(spec_ctx *ctx, const spec_y *doc, const char *name, const char *version,
                          Floe__TaskSpec **out);
floe_rc spec_workflow_compile(spec_ctx *ctx, const spec_y *doc, const char *name,
                              const char *version, Floe__WorkflowSpec **out);
/* The workflow's publish: section, checked against its interface (spec_publish.c). */
/* A node's `map:` section against its task's interface: the MapSpec and the interface the
 * node shows its workflow (the mapped input and every output a list). */
floe_rc spec_map_compile(spec_ctx *ctx, const spec_y *my, const Floe__Interface *task_ifc,
                         Floe__MapSpec **map, const Floe__Interface **shown);
/* A workflow's options: failure_policy, timeout (the execution's). */
floe_rc spec_workflow_options(spec_ctx *ctx, const spec_y *doc, Floe__WorkflowSpec *spec);
floe_rc spec_workflow_publish(spec_ctx *ctx, const spec_y *py, Floe__WorkflowSpec *spec);
floe_rc spec_launchplan_compile(spec_ctx *ctx, const spec_y *doc, const char *name,
                                const char *version, Floe__LaunchPlanSpec **out);

#endif
