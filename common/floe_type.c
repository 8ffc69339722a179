/*
 * Type text is parsed by a small iterative scanner: the grammar is a chain of
 * list</map<string, wrappers around one simple name, so a loop with a depth counter
 * suffices and nothing recurses on input.
 */
#include "floe_type.h"

#include <stdio.h>
#include <string.h>

static const struct {
    const char *name;
    Floe__SimpleType simple;
} simple_names[] = {
    {"integer", FLOE__SIMPLE_TYPE__SIMPLE_TYPE_INTEGER},
    {"float", FLOE__SIMPLE_TYPE__SIMPLE_TYPE_FLOAT},
    {"string", FLOE__SIMPLE_TYPE__SIMPLE_TYPE_STRING},
    {"boolean", FLOE__SIMPLE_TYPE__SIMPLE_TYPE_BOOLEAN},
    {"datetime", FLOE__SIMPLE_TYPE__SIMPLE_TYPE_DATETIME},
    {"duration", FLOE__SIMPLE_TYPE__SIMPLE_TYPE_DURATION},
    {"blob", FLOE__SIMPLE_TYPE__SIMPLE_TYPE_BLOB},
};

#define N_SIMPLE (sizeof(simple_names) / sizeof(simple_names[0]))

static const char *
skip_ws(const char *p)
{
    while (*p == ' ' || *p == '\t')
        p++;
    return p;
}

static Floe__LiteralType *
type_new(floe_arena *arena, Floe__SimpleType simple)
{
    Floe__LiteralType *t = floe_arena_alloc(arena, sizeof(*t));
    if (t == NULL)
        return NULL;
    floe__literal_type__init(t);
    t->simple = simple;
    return t;
}

floe_rc
floe_type_parse(const char *text, floe_arena *arena, Floe__LiteralType **out, floe_err *err)
{
    *out = NULL;
    if (strlen(text) > FLOE_TYPE_TEXT_MAX)
        return floe_err_user(err, FLOE_EINVAL, "type is longer than %d characters",
                             FLOE_TYPE_TEXT_MAX);
    Floe__LiteralType *root = NULL, **slot = &root;
    const char *p = skip_ws(text);
    int depth = 0;
    for (;;) {
        if (++depth > FLOE_TYPE_MAX_DEPTH)
            return floe_err_user(err, FLOE_EINVAL, "type \"%s\" nests deeper than %d levels", text,
                                 FLOE_TYPE_MAX_DEPTH);
        Floe__SimpleType wrap = 0;
        if (strncmp(p, "list", 4) == 0 && *skip_ws(p + 4) == '<') {
            wrap = FLOE__SIMPLE_TYPE__SIMPLE_TYPE_LIST;
            p = skip_ws(skip_ws(p + 4) + 1);
        } else if (strncmp(p, "map", 3) == 0 && *skip_ws(p + 3) == '<') {
            wrap = FLOE__SIMPLE_TYPE__SIMPLE_TYPE_MAP;
            p = skip_ws(skip_ws(p + 3) + 1);
            if (strncmp(p, "string", 6) != 0 || *skip_ws(p + 6) != ',')
                return floe_err_user(err, FLOE_EINVAL,
                                     "type \"%s\": map keys must be strings: map<string, T>", text);
            p = skip_ws(skip_ws(p + 6) + 1);
        }
        if (wrap != 0) {
            if ((*slot = type_new(arena, wrap)) == NULL)
                return floe_err_sys(err, FLOE_ENOMEM, "out of memory parsing a type");
            slot = &(*slot)->element;
            continue;
        }
        size_t n = 0;
        while ((p[n] >= 'a' && p[n] <= 'z'))
            n++;
        size_t i;
        for (i = 0; i < N_SIMPLE; i++) {
            if (strlen(simple_names[i].name) == n && strncmp(p, simple_names[i].name, n) == 0)
                break;
        }
        if (i == N_SIMPLE)
            return floe_err_user(err, FLOE_EINVAL,
                                 "unknown type \"%s\": expected integer, float, string, boolean, "
                                 "datetime, duration, blob, list<T> or map<string, T>",
                                 text);
        if ((*slot = type_new(arena, simple_names[i].simple)) == NULL)
            return floe_err_sys(err, FLOE_ENOMEM, "out of memory parsing a type");
        p = skip_ws(p + n);
        break;
    }
    /* Each wrapper opened one '<'. */
    for (int closing = depth - 1; closing > 0; closing--) {
        if (*p != '>')
            return floe_err_user(err, FLOE_EINVAL, "type \"%s\": expected '>'", text);
        p = skip_ws(p + 1);
    }
    if (*p != '\0')
        return floe_err_user(err, FLOE_EINVAL, "type \"%s\": unexpected \"%s\" at the end", text,
                             p);
    *out = root;
    return FLOE_OK;
}

const char *
floe_type_format(const Floe__LiteralType *type, char *buf, size_t size)
{
    size_t len = 0, closers = 0;
    buf[0] = '\0';
    for (int depth = 0; depth <= FLOE_TYPE_MAX_DEPTH; depth++) {
        const char *piece = "?";
        int wraps = 0;
        if (type != NULL) {
            switch (type->simple) {
            case FLOE__SIMPLE_TYPE__SIMPLE_TYPE_LIST:
                piece = "list<";
                wraps = 1;
                break;
            case FLOE__SIMPLE_TYPE__SIMPLE_TYPE_MAP:
                piece = "map<string, ";
                wraps = 1;
                break;
            default:
                for (size_t i = 0; i < N_SIMPLE; i++) {
                    if (simple_names[i].simple == type->simple)
                        piece = simple_names[i].name;
                }
            }
        }
        len += (size_t)snprintf(buf + (len < size ? len : size), len < size ? size - len : 0, "%s",
                                piece);
        if (!wraps)
            break;
        closers++;
        type = type->element;
    }
    for (; closers > 0; closers--)
        len += (size_t)snprintf(buf + (len < size ? len : size), len < size ? size - len : 0, ">");
    return buf;
}

bool
floe_type_equal(const Floe__LiteralType *a, const Floe__LiteralType *b)
{
    for (int depth = 0; depth <= FLOE_TYPE_MAX_DEPTH; depth++) {
        if (a == NULL || b == NULL)
            return a == b;
        if (a->simple != b->simple)
            return false;
        a = a->element;
        b = b->element;
    }
    return false;
}

Floe__LiteralType *
floe_type_copy(const Floe__LiteralType *type, floe_arena *arena)
{
    Floe__LiteralType *root = NULL, **slot = &root;
    for (int depth = 0; type != NULL && depth <= FLOE_TYPE_MAX_DEPTH; depth++) {
        if ((*slot = type_new(arena, type->simple)) == NULL)
            return NULL;
        slot = &(*slot)->element;
        type = type->element;
    }
    return root;
}

floe_rc
floe_type_check(const Floe__LiteralType *type, floe_err *err)
{
    for (int depth = 0; depth < FLOE_TYPE_MAX_DEPTH; depth++) {
        if (type == NULL || type->simple == FLOE__SIMPLE_TYPE__SIMPLE_TYPE_UNSPECIFIED)
            return floe_err_user(err, FLOE_EINVAL, "type is not set");
        bool wraps = type->simple == FLOE__SIMPLE_TYPE__SIMPLE_TYPE_LIST ||
                     type->simple == FLOE__SIMPLE_TYPE__SIMPLE_TYPE_MAP;
        if (!wraps)
            return type->element == NULL
                       ? FLOE_OK
                       : floe_err_user(err, FLOE_EINVAL, "simple type with an element type");
        type = type->element;
    }
    return floe_err_user(err, FLOE_EINVAL, "type nests deeper than %d levels", FLOE_TYPE_MAX_DEPTH);
}
