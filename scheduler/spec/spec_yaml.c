/*
 * YAML text to a small tree (spec_y) with line numbers, built from libyaml's event stream
 * with an explicit stack: nesting is bounded by limits->max_nesting and nothing recurses
 * while parsing. Aliases are refused outright (no billion laughs); tags other than
 * !!str are ignored. The tree lives in the caller's arena; the stack's growing child
 * vectors are heap-owned until their container closes.
 */
#include "spec_int.h"

#include "floe_mem.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

typedef struct y_frame {
    spec_y *node;
    spec_y **kids;
    size_t n, cap;
} y_frame;

static floe_rc y_fail(floe_err *err, floe_rc code, const char *file, unsigned line, const char *fmt,
                      ...) __attribute__((format(printf, 5, 6)));

static floe_rc
y_fail(floe_err *err, floe_rc code, const char *file, unsigned line, const char *fmt, ...)
{
    char msg[FLOE_ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    return floe_err_user(err, code, "%.64s:%u: %s", file, line, msg);
}

static floe_rc
frame_add(y_frame *f, spec_y *y)
{
    if (f->n == f->cap) {
        size_t cap = f->cap ? f->cap * 2 : 8;
        spec_y **k = floe_realloc(f->kids, cap * sizeof(*k));
        if (k == NULL)
            return FLOE_ENOMEM;
        f->kids = k;
        f->cap = cap;
    }
    f->kids[f->n++] = y;
    return FLOE_OK;
}

floe_rc
spec_yaml_parse(const char *file, const char *text, size_t len, const spec_limits *lim,
                floe_arena *arena, spec_y ***docs_out, size_t *n_docs_out, floe_err *err)
{
    *docs_out = NULL;
    *n_docs_out = 0;
    if (len > lim->max_bytes)
        return floe_err_user(err, FLOE_ETOOBIG, "%.64s: %zu bytes is over the limit of %zu bytes",
                             file, len, lim->max_bytes);
    yaml_parser_t parser;
    if (!yaml_parser_initialize(&parser))
        return floe_err_sys(err, FLOE_ENOMEM, "out of memory");
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);

    unsigned depth_max = lim->max_nesting;
    y_frame *stack = floe_calloc(depth_max + 1, sizeof(*stack));
    y_frame docs = {0};
    unsigned depth = 0; /* frames in use */
    floe_rc rc = FLOE_OK;
    if (stack == NULL) {
        rc = floe_err_sys(err, FLOE_ENOMEM, "out of memory");
        goto out;
    }
    for (int done = 0; !done;) {
        yaml_event_t ev;
        if (!yaml_parser_parse(&parser, &ev)) {
            unsigned line = (unsigned)parser.problem_mark.line + 1;
            rc = y_fail(err, FLOE_EINVAL, file, line, "invalid YAML: %s%s%s",
                        parser.problem ? parser.problem : "syntax error", parser.context ? " " : "",
                        parser.context ? parser.context : "");
            goto out;
        }
        unsigned line = (unsigned)ev.start_mark.line + 1;
        spec_y *y = NULL;
        switch (ev.type) {
        case YAML_STREAM_END_EVENT:
            done = 1;
            break;
        case YAML_DOCUMENT_START_EVENT:
            if (docs.n >= lim->max_documents) {
                rc = y_fail(err, FLOE_ETOOBIG, file, line, "more than %u documents",
                            lim->max_documents);
            }
            break;
        case YAML_ALIAS_EVENT:
            rc = y_fail(err, FLOE_EINVAL, file, line,
                        "aliases (*name) are not supported: write the value out");
            break;
        case YAML_SCALAR_EVENT:
        case YAML_SEQUENCE_START_EVENT:
        case YAML_MAPPING_START_EVENT:
            y = floe_arena_alloc(arena, sizeof(*y));
            if (y == NULL) {
                rc = y_fail(err, FLOE_ETOOBIG, file, line,
                            "the spec needs more memory than its size limit allows");
                break;
            }
            memset(y, 0, sizeof(*y));
            y->line = line;
            if (ev.type == YAML_SCALAR_EVENT) {
                y->kind = SPEC_Y_SCALAR;
                y->plain = ev.data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
                           !(ev.data.scalar.tag != NULL &&
                             strcmp((const char *)ev.data.scalar.tag, YAML_STR_TAG) == 0);
                y->len = ev.data.scalar.length;
                y->str = floe_arena_strndup(arena, (const char *)ev.data.scalar.value, y->len);
                if (y->str == NULL) {
                    rc = y_fail(err, FLOE_ETOOBIG, file, line,
                                "the spec needs more memory than its size limit allows");
                    break;
                }
                /* strndup stops at a NUL: keep the real bytes for the NUL check. */
                if (memchr(ev.data.scalar.value, 0, y->len) != NULL) {
                    char *copy = floe_arena_alloc(arena, y->len + 1);
                    if (copy == NULL) {
                        rc = FLOE_ENOMEM;
                        break;
                    }
                    memcpy(copy, ev.data.scalar.value, y->len);
                    copy[y->len] = '\0';
                    y->str = copy;
                }
            } else {
                y->kind = ev.type == YAML_SEQUENCE_START_EVENT ? SPEC_Y_SEQ : SPEC_Y_MAP;
            }
            y_frame *parent = depth > 0 ? &stack[depth - 1] : &docs;
            if (frame_add(parent, y) != FLOE_OK) {
                rc = floe_err_sys(err, FLOE_ENOMEM, "out of memory");
                break;
            }
            if (y->kind != SPEC_Y_SCALAR) {
                if (depth >= depth_max) {
                    rc = y_fail(err, FLOE_ETOOBIG, file, line, "nested deeper than %u levels",
                                depth_max);
                    break;
                }
                stack[depth++] = (y_frame){.node = y};
            }
            break;
        case YAML_SEQUENCE_END_EVENT:
        case YAML_MAPPING_END_EVENT: {
            y_frame *f = &stack[--depth];
            spec_y *node = f->node;
            node->n = node->kind == SPEC_Y_MAP ? f->n / 2 : f->n;
            node->items = floe_arena_alloc(arena, (f->n ? f->n : 1) * sizeof(*node->items));
            if (node->items == NULL) {
                rc = y_fail(err, FLOE_ETOOBIG, file, line,
                            "the spec needs more memory than its size limit allows");
            } else if (f->n > 0) {
                memcpy(node->items, f->kids, f->n * sizeof(*node->items));
            }
            floe_free_clear(&f->kids);
            f->n = f->cap = 0;
            break;
        }
        default:
            break;
        }
        yaml_event_delete(&ev);
        if (rc != FLOE_OK)
            goto out;
    }
    /* Documents that are empty (a lone "---") are skipped. */
    spec_y **out = floe_arena_alloc(arena, (docs.n ? docs.n : 1) * sizeof(*out));
    if (out == NULL) {
        rc = floe_err_sys(err, FLOE_ENOMEM, "out of memory");
        goto out;
    }
    size_t n = 0;
    for (size_t i = 0; i < docs.n; i++) {
        if (!spec_y_is_null(docs.kids[i]))
            out[n++] = docs.kids[i];
    }
    *docs_out = out;
    *n_docs_out = n;
out:
    for (unsigned i = 0; stack != NULL && i < depth; i++)
        floe_free(stack[i].kids);
    floe_free(stack);
    floe_free(docs.kids);
    yaml_parser_delete(&parser);
    return rc;
}

spec_y *
spec_y_get(const spec_y *map, const char *key)
{
    if (map == NULL || map->kind != SPEC_Y_MAP)
        return NULL;
    for (size_t i = 0; i < map->n; i++) {
        const spec_y *k = map->items[2 * i];
        if (k->kind == SPEC_Y_SCALAR && strcmp(k->str, key) == 0 && strlen(k->str) == k->len)
            return map->items[2 * i + 1];
    }
    return NULL;
}

bool
spec_y_is_null(const spec_y *y)
{
    return y->kind == SPEC_Y_SCALAR && y->plain &&
           (y->len == 0 || strcmp(y->str, "~") == 0 || strcmp(y->str, "null") == 0 ||
            strcmp(y->str, "Null") == 0 || strcmp(y->str, "NULL") == 0);
}

/* --- literals to JSON --------------------------------------------------------------- */

static json_t *
scalar_to_json(const spec_y *y)
{
    const char *s = y->str;
    if (!y->plain)
        return json_stringn_nocheck(s, y->len);
    if (spec_y_is_null(y))
        return json_null();
    if (strcmp(s, "true") == 0 || strcmp(s, "True") == 0 || strcmp(s, "TRUE") == 0)
        return json_true();
    if (strcmp(s, "false") == 0 || strcmp(s, "False") == 0 || strcmp(s, "FALSE") == 0)
        return json_false();
    char *end;
    errno = 0;
    const char *digits = (s[0] == '-' || s[0] == '+') ? s + 1 : s;
    if (digits[0] >= '0' && digits[0] <= '9') {
        long long n = strtoll(s, &end, 10);
        if (*end == '\0' && errno == 0)
            return json_integer(n);
        errno = 0;
        double d = strtod(s, &end);
        if (*end == '\0' && errno == 0 && isfinite(d))
            return json_real(d);
    }
    return json_stringn_nocheck(s, y->len);
}

json_t *
spec_y_to_json(const spec_y *root, floe_err *err)
{
    /* Iterative: an explicit stack of (node, json, next child) pairs. Depth is bounded
     * by the parser's nesting limit, which sizes nothing here: the stack grows. */
    typedef struct {
        const spec_y *y;
        json_t *j;
        size_t next;
    } frame;
    frame *st = NULL;
    size_t depth = 0, cap = 0;
    json_t *result = NULL;

    const spec_y *y = root;
    for (;;) {
        json_t *j;
        if (y->kind == SPEC_Y_SCALAR) {
            if (memchr(y->str, 0, y->len) != NULL) {
                floe_err_user(err, FLOE_EINVAL, "line %u: the value contains a NUL byte", y->line);
                goto fail;
            }
            j = scalar_to_json(y);
        } else {
            j = y->kind == SPEC_Y_SEQ ? json_array() : json_object();
        }
        if (j == NULL) {
            floe_err_sys(err, FLOE_ENOMEM, "out of memory");
            goto fail;
        }
        if (depth > 0) {
            frame *p = &st[depth - 1];
            int bad;
            if (p->y->kind == SPEC_Y_SEQ) {
                bad = json_array_append_new(p->j, j);
            } else {
                const spec_y *k = p->y->items[2 * (p->next - 1)];
                if (k->kind != SPEC_Y_SCALAR || memchr(k->str, 0, k->len) != NULL) {
                    json_decref(j);
                    floe_err_user(err, FLOE_EINVAL, "line %u: map keys must be plain text",
                                  k->line);
                    goto fail;
                }
                if (json_object_get(p->j, k->str) != NULL) {
                    json_decref(j);
                    floe_err_user(err, FLOE_EINVAL, "line %u: duplicate key \"%.64s\"", k->line,
                                  k->str);
                    goto fail;
                }
                bad = json_object_set_new_nocheck(p->j, k->str, j);
            }
            if (bad) {
                floe_err_sys(err, FLOE_ENOMEM, "out of memory");
                goto fail;
            }
        } else {
            result = j;
        }
        if (y->kind != SPEC_Y_SCALAR) {
            if (depth == cap) {
                size_t ncap = cap ? cap * 2 : 8;
                frame *nst = floe_realloc(st, ncap * sizeof(*nst));
                if (nst == NULL) {
                    floe_err_sys(err, FLOE_ENOMEM, "out of memory");
                    goto fail;
                }
                st = nst;
                cap = ncap;
            }
            st[depth++] = (frame){.y = y, .j = j, .next = 0};
        }
        /* Next node: the next child of the innermost unfinished container. */
        y = NULL;
        while (depth > 0) {
            frame *p = &st[depth - 1];
            if (p->next < p->y->n) {
                y = p->y->kind == SPEC_Y_SEQ ? p->y->items[p->next] : p->y->items[2 * p->next + 1];
                p->next++;
                break;
            }
            depth--;
        }
        if (y == NULL)
            break;
    }
    floe_free(st);
    return result;
fail:
    floe_free(st);
    json_decref(result);
    return NULL;
}

json_t *
spec_yaml_to_json(const char *file, const char *text, size_t len, const spec_limits *limits,
                  floe_err *err)
{
    floe_arena *arena = floe_arena_new(16384, 16 * limits->max_bytes + 65536);
    if (arena == NULL) {
        floe_err_sys(err, FLOE_ENOMEM, "out of memory");
        return NULL;
    }
    spec_y **docs;
    size_t n;
    json_t *j = NULL;
    if (spec_yaml_parse(file, text, len, limits, arena, &docs, &n, err) == FLOE_OK) {
        if (n != 1)
            floe_err_user(err, FLOE_EINVAL, "%.64s: expected one document, found %zu", file, n);
        else if ((j = spec_y_to_json(docs[0], err)) == NULL)
            floe_err_prefix(err, "%.64s", file);
    }
    floe_arena_free(arena);
    return j;
}
