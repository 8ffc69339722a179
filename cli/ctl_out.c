/*
 * Output formats: JSON (indented), YAML (libyaml's emitter over the JSON value) and
 * tables (chosen columns, one row per item; nested values shown as compact JSON).
 */
#include "ctl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#define OUT_MAX_DEPTH 64

/* --- YAML ------------------------------------------------------------------------------ */

static int
emit(yaml_emitter_t *em, yaml_event_t *ev)
{
    return yaml_emitter_emit(em, ev) ? 0 : -1;
}

static int
emit_scalar(yaml_emitter_t *em, const char *s, int plain_ok)
{
    yaml_event_t ev;
    yaml_scalar_event_initialize(
        &ev, NULL, NULL, (yaml_char_t *)s, (int)strlen(s), plain_ok, !plain_ok,
        plain_ok ? YAML_ANY_SCALAR_STYLE : YAML_DOUBLE_QUOTED_SCALAR_STYLE);
    return emit(em, &ev);
}

static int
emit_json(yaml_emitter_t *em, json_t *j, int depth)
{
    yaml_event_t ev;
    char buf[64];
    if (depth > OUT_MAX_DEPTH)
        return emit_scalar(em, "...", 1);
    switch (json_typeof(j)) {
    case JSON_OBJECT: {
        yaml_mapping_start_event_initialize(&ev, NULL, NULL, 1, YAML_BLOCK_MAPPING_STYLE);
        if (emit(em, &ev) != 0)
            return -1;
        const char *key;
        json_t *v;
        json_object_foreach(j, key, v)
        {
            if (emit_scalar(em, key, 1) != 0 || emit_json(em, v, depth + 1) != 0)
                return -1;
        }
        yaml_mapping_end_event_initialize(&ev);
        return emit(em, &ev);
    }
    case JSON_ARRAY: {
        yaml_sequence_start_event_initialize(&ev, NULL, NULL, 1, YAML_BLOCK_SEQUENCE_STYLE);
        if (emit(em, &ev) != 0)
            return -1;
        size_t i;
        json_t *v;
        json_array_foreach(j, i, v)
        {
            if (emit_json(em, v, depth + 1) != 0)
                return -1;
        }
        yaml_sequence_end_event_initialize(&ev);
        return emit(em, &ev);
    }
    case JSON_STRING: {
        /* Quote strings that would read back as another type. */
        const char *s = json_string_value(j);
        char *end;
        int looks_typed = s[0] == '\0' || strcmp(s, "true") == 0 || strcmp(s, "false") == 0 ||
                          strcmp(s, "null") == 0 || strcmp(s, "~") == 0 ||
                          (strtod(s, &end), *end == '\0');
        return emit_scalar(em, s, !looks_typed);
    }
    case JSON_INTEGER:
        snprintf(buf, sizeof(buf), "%" JSON_INTEGER_FORMAT, json_integer_value(j));
        return emit_scalar(em, buf, 1);
    case JSON_REAL:
        snprintf(buf, sizeof(buf), "%.17g", json_real_value(j));
        return emit_scalar(em, buf, 1);
    case JSON_TRUE:
        return emit_scalar(em, "true", 1);
    case JSON_FALSE:
        return emit_scalar(em, "false", 1);
    case JSON_NULL:
        return emit_scalar(em, "null", 1);
    }
    return -1;
}

static void
print_yaml(json_t *j)
{
    yaml_emitter_t em;
    yaml_event_t ev;
    if (!yaml_emitter_initialize(&em))
        return;
    yaml_emitter_set_output_file(&em, stdout);
    yaml_emitter_set_unicode(&em, 1);
    yaml_emitter_set_width(&em, 100);
    int ok = 1;
    yaml_stream_start_event_initialize(&ev, YAML_UTF8_ENCODING);
    ok = ok && emit(&em, &ev) == 0;
    yaml_document_start_event_initialize(&ev, NULL, NULL, NULL, 1);
    ok = ok && emit(&em, &ev) == 0;
    ok = ok && emit_json(&em, j, 0) == 0;
    yaml_document_end_event_initialize(&ev, 1);
    ok = ok && emit(&em, &ev) == 0;
    yaml_stream_end_event_initialize(&ev);
    ok = ok && emit(&em, &ev) == 0;
    if (!ok)
        fprintf(stderr, "floectl: cannot write YAML: %s\n", em.problem ? em.problem : "?");
    yaml_emitter_delete(&em);
}

/* --- tables ---------------------------------------------------------------------------- */

/* Cell text for a field; "a.b" reaches into objects. Caller frees. */
static char *
cell(json_t *obj, const char *field)
{
    char path[128];
    snprintf(path, sizeof(path), "%s", field);
    json_t *v = obj;
    for (char *part = strtok(path, "."); part != NULL && v != NULL; part = strtok(NULL, "."))
        v = json_object_get(v, part);
    if (v == NULL || json_is_null(v))
        return strdup("-");
    if (json_is_string(v)) {
        const char *s = json_string_value(v);
        if (strcmp(field, "digest") == 0 && strlen(s) > 12)
            return strndup(s, 12);
        return strdup(s);
    }
    return json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
}

static void
print_table(json_t *value, const char *const *columns)
{
    json_t *items = json_object_get(value, "items");
    if (!json_is_array(items))
        items = json_object_get(value, "registered");
    json_t *one = NULL;
    if (!json_is_array(items)) {
        one = json_array();
        json_array_append(one, value);
        items = one;
    }
    size_t ncol = 0;
    while (columns[ncol] != NULL)
        ncol++;
    size_t nrow = json_array_size(items);
    size_t *width = calloc(ncol, sizeof(*width));
    char **cells = calloc((nrow + 1) * ncol, sizeof(*cells));
    if (width == NULL || cells == NULL)
        goto out;
    for (size_t c = 0; c < ncol; c++) {
        /* "workflow.name" is headed WORKFLOW (a plan's own NAME is another column), any
         * other "a.b" B. */
        const char *dot = strrchr(columns[c], '.');
        cells[c] = dot == NULL                 ? strdup(columns[c])
                   : strcmp(dot, ".name") == 0 ? strndup(columns[c], (size_t)(dot - columns[c]))
                                               : strdup(dot + 1);
        for (char *p = cells[c]; p != NULL && *p; p++)
            *p = (char)(*p >= 'a' && *p <= 'z' ? *p - 32 : *p);
    }
    for (size_t r = 0; r < nrow; r++) {
        for (size_t c = 0; c < ncol; c++)
            cells[(r + 1) * ncol + c] = cell(json_array_get(items, r), columns[c]);
    }
    for (size_t i = 0; i < (nrow + 1) * ncol; i++) {
        size_t len = cells[i] != NULL ? strlen(cells[i]) : 0;
        if (len > width[i % ncol])
            width[i % ncol] = len;
    }
    for (size_t r = 0; r <= nrow; r++) {
        for (size_t c = 0; c < ncol; c++) {
            const char *s = cells[r * ncol + c] != NULL ? cells[r * ncol + c] : "";
            if (c + 1 < ncol)
                printf("%-*s  ", (int)width[c], s);
            else
                printf("%s\n", s);
        }
    }
    if (json_is_string(json_object_get(value, "next_token")))
        printf("(more: --token %s)\n", json_string_value(json_object_get(value, "next_token")));
out:
    for (size_t i = 0; cells != NULL && i < (nrow + 1) * ncol; i++)
        free(cells[i]);
    free(cells);
    free(width);
    json_decref(one);
}

/* --- jsonpath ------------------------------------------------------------------------- */

/* kubectl's subset: {.a.b}, {.items[*].id}, {.items[0].name}; several {...} and the text
 * between them are printed in turn. A value is printed as text (strings bare, the rest as
 * compact JSON); [*] prints every element's, space-separated. */
static void
jp_print_value(json_t *v, bool *first)
{
    if (v == NULL)
        return;
    if (!*first)
        fputc(' ', stdout);
    *first = false;
    if (json_is_string(v)) {
        fputs(json_string_value(v), stdout);
    } else {
        char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
        if (s != NULL)
            fputs(s, stdout);
        free(s);
    }
}

/* Walks path (".a[0].b[*]...", up to end) from v. */
static void
jp_walk(json_t *v, const char *p, const char *end, bool *first)
{
    while (p < end && v != NULL) {
        if (*p == '.') {
            const char *q = ++p;
            while (q < end && *q != '.' && *q != '[')
                q++;
            if (q > p) {
                char key[128];
                snprintf(key, sizeof(key), "%.*s", (int)(q - p), p);
                v = json_object_get(v, key);
            }
            p = q;
        } else if (*p == '[') {
            const char *close = memchr(p, ']', (size_t)(end - p));
            if (close == NULL)
                return;
            if (close == p + 2 && p[1] == '*') {
                size_t i;
                json_t *e;
                json_array_foreach(v, i, e) jp_walk(e, close + 1, end, first);
                return;
            }
            char *num_end;
            long idx = strtol(p + 1, &num_end, 10);
            if (num_end != close || idx < 0)
                return;
            v = json_array_get(v, (size_t)idx);
            p = close + 1;
        } else {
            return;
        }
    }
    jp_print_value(v, first);
}

static void
print_jsonpath(json_t *value, const char *expr)
{
    const char *p = expr;
    while (*p != '\0') {
        const char *open = strchr(p, '{');
        if (open == NULL) {
            fputs(p, stdout);
            break;
        }
        fwrite(p, 1, (size_t)(open - p), stdout);
        const char *close = strchr(open, '}');
        if (close == NULL)
            break;
        bool first = true;
        jp_walk(value, open + 1, close, &first);
        p = close + 1;
    }
    fputc('\n', stdout);
}

/* --- names ----------------------------------------------------------------------------- */

/* What -o name says of an object: an execution's id, [KIND/]NAME[@VERSION], or a stored
 * blob's uri. */
static void
print_name(json_t *obj)
{
    const char *id = json_string_value(json_object_get(obj, "id"));
    const char *name = json_string_value(json_object_get(obj, "name"));
    const char *version = json_string_value(json_object_get(obj, "version"));
    const char *kind = json_string_value(json_object_get(obj, "kind"));
    const char *uri = json_string_value(json_object_get(obj, "uri"));
    if (id != NULL)
        printf("%s\n", id);
    else if (name != NULL)
        printf("%s%s%s%s%s\n", kind != NULL ? kind : "", kind != NULL ? "/" : "", name,
               version != NULL ? "@" : "", version != NULL ? version : "");
    else if (uri != NULL)
        printf("%s\n", uri);
}

static void
print_names(json_t *value)
{
    json_t *items = json_object_get(value, "items");
    if (!json_is_array(items))
        items = json_object_get(value, "registered");
    if (!json_is_array(items)) {
        print_name(value);
        return;
    }
    size_t i;
    json_t *item;
    json_array_foreach(items, i, item) print_name(item);
}

void
ctl_print(const ctl_ctx *ctx, json_t *value, const char *const *columns)
{
    switch (ctx->output) {
    case CTL_OUT_JSON:
    case CTL_OUT_DOT:
        json_dumpf(value, stdout, JSON_INDENT(2));
        fputc('\n', stdout);
        break;
    case CTL_OUT_YAML:
        print_yaml(value);
        break;
    case CTL_OUT_TABLE:
        print_table(value, columns);
        break;
    case CTL_OUT_NAME:
        print_names(value);
        break;
    case CTL_OUT_JSONPATH:
        print_jsonpath(value, ctx->jsonpath != NULL ? ctx->jsonpath : "");
        break;
    }
    fflush(stdout);
}
