/*
 * spec — the workflow-spec compiler: YAML documents (tasks, workflows, launch plans; see
 * docs/spec.md) in, validated and compiled protobuf (floe_spec.proto) out. Runs on a
 * pool thread of the scheduler for every registration; pure apart from the resolver,
 * which looks up already-registered versions.
 *
 * Every error names file:line, the entity, node and field, and why. Input is bounded by
 * spec_limits (bytes, documents, YAML nesting, nodes, sub-workflow depth); nothing
 * recurses deeper than those bounds.
 */
#ifndef SPEC_H
#define SPEC_H

#include "floe_arena.h"
#include "floe_digest.h"
#include "floe_err.h"

#include "floe_spec.pb-c.h"

#include <stddef.h>
#include <stdint.h>

typedef enum spec_kind {
    SPEC_TASK = 1,
    SPEC_WORKFLOW = 2,
    SPEC_LAUNCHPLAN = 3,
} spec_kind;

#define SPEC_NAME_MAX 128
#define SPEC_VERSION_MAX 128
#define SPEC_IDENT_MAX 64 /* node ids, input and output names */
#define SPEC_PROJECT_MAX 63

typedef struct spec_limits {
    size_t max_bytes;       /* one registration's YAML */
    unsigned max_documents; /* documents in it */
    unsigned max_nesting;   /* YAML nesting depth */
    unsigned max_nodes;     /* nodes per workflow */
    unsigned max_depth;     /* sub-workflow nesting */
} spec_limits;

/* Looks up a registered task or workflow (version NULL: the latest). On FLOE_OK *data
 * and *len hold its packed spec, valid until the arena is reset. FLOE_ENOTFOUND when
 * there is none; anything else is a failure of the lookup itself. */
typedef floe_rc (*spec_resolve_fn)(void *arg, spec_kind kind, const char *name, const char *version,
                                   floe_arena *arena, const uint8_t **data, size_t *len,
                                   floe_err *err);

typedef struct spec_env {
    const char *project;
    const char *domain;
    const char *version;                 /* for documents without one; may be NULL */
    const char *const *resource_classes; /* configured classes, the first is the default */
    size_t n_resource_classes;
    spec_limits limits;
    spec_resolve_fn resolve; /* may be NULL: only the documents themselves resolve */
    void *resolve_arg;
    /* May be NULL: compiling stops at the first error. Otherwise each document's error is
     * handed here and the next document compiles (a document stops at its first error). */
    void (*problem)(void *arg, const floe_err *err);
    void *problem_arg;
} spec_env;

/* One compiled document. */
typedef struct spec_item {
    spec_kind kind;
    const char *name;
    const char *version;
    unsigned line;               /* where the document starts */
    const ProtobufCMessage *msg; /* Floe__TaskSpec, __WorkflowSpec or __LaunchPlanSpec */
    uint8_t *data;               /* msg packed */
    size_t len;
    char digest[FLOE_SHA256_HEX_LEN + 1]; /* of data */
} spec_item;

/* Compiles every document of text[0..len) (file names them in messages). Tasks compile
 * first, then workflows and launch plans in document order, so a document may refer to
 * any task of the same text and to any workflow before it. On FLOE_OK *items (n_items)
 * and everything they point to live in arena. FLOE_EINVAL or FLOE_ETOOBIG with err saying
 * where and why; FLOE_EIO/FLOE_ENOMEM when the resolver or memory failed. */
floe_rc spec_compile(const spec_env *env, const char *file, const char *text, size_t len,
                     floe_arena *arena, spec_item **items, size_t *n_items, floe_err *err);
/* With env->problem set: the first error is returned in err as without it, and every one
 * (the first included) went to env->problem; FLOE_EIO and FLOE_ENOMEM still stop at once. */

const char *spec_kind_name(spec_kind kind);

/* Parses one YAML (or JSON) document into JSON with YAML 1.2 core-schema scalars, e.g.
 * an inputs file. Bounded like specs. NULL with err on a syntax error or limit. */
struct json_t *spec_yaml_to_json(const char *file, const char *text, size_t len,
                                 const spec_limits *limits,
                                 floe_err *err); /* "task", "workflow", "launchplan" */

/* Name rules, shared with the API's parameter checks. Each returns FLOE_EINVAL with err
 * saying which rule `s` broke; `what` names it in the message. */
floe_rc spec_check_name(const char *what, const char *s, floe_err *err);
floe_rc spec_check_version(const char *s, floe_err *err);
floe_rc spec_check_ident(const char *what, const char *s, floe_err *err);
floe_rc spec_check_project(const char *s, floe_err *err);

#endif
