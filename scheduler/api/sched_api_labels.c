/*
 * Labels on executions: {key: value} given at launch (`labels`), kept with the execution,
 * copied by relaunch and recover, shown with it and filtered on (`label=k=v,k2=v2`: the
 * execution has all of them). Kubernetes' shape, so they read the same on both sides: at
 * most API_LABELS_MAX, keys 1-63 of A-Z a-z 0-9 . _ - / starting and ending with a letter
 * or digit, values 0-63 of A-Z a-z 0-9 . _ -.
 */
#include "sched_api_int.h"

#include <stdlib.h>
#include <string.h>

#define API_LABELS_MAX 16
#define API_LABEL_MAX 63

static bool
alnum(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

static bool
label_text(const char *s, size_t n, bool key)
{
    if (n > API_LABEL_MAX || (key && n == 0))
        return false;
    for (size_t i = 0; i < n; i++)
        if (!alnum(s[i]) && s[i] != '.' && s[i] != '_' && s[i] != '-' && !(key && s[i] == '/'))
            return false;
    return n == 0 || (alnum(s[0]) && alnum(s[n - 1]));
}

/* Checks o (an object of strings) and writes it compactly into the arena. */
static bool
labels_take(api_req *r, json_t *o, const char **out)
{
    const char *k;
    json_t *v;
    if (!json_is_object(o) || json_object_size(o) > API_LABELS_MAX) {
        api_fail(r, FLOE_EINVAL, "labels: expected an object of at most %d KEY: \"value\"",
                 API_LABELS_MAX);
        return false;
    }
    json_object_foreach(o, k, v)
    {
        const char *s = json_string_value(v);
        if (!label_text(k, strlen(k), true) || s == NULL || !label_text(s, strlen(s), false)) {
            api_fail(r, FLOE_EINVAL,
                     "labels: \"%.64s\": keys are 1-63 of A-Z a-z 0-9 . _ - /, values 0-63 of "
                     "A-Z a-z 0-9 . _ -, each starting and ending with a letter or digit",
                     k);
            return false;
        }
    }
    char *text = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
    *out = text != NULL ? floe_arena_strndup(r->arena, text, strlen(text)) : NULL;
    free(text);
    if (*out == NULL)
        api_fail(r, FLOE_ENOMEM, "out of memory");
    return *out != NULL;
}

bool
api_labels_from_body(api_req *r, json_t *labels, const char **out)
{
    *out = NULL;
    return labels == NULL || json_is_null(labels) || labels_take(r, labels, out);
}

bool
api_labels_from_query(api_req *r, const char **out)
{
    const char *q = api_param(r, "label");
    *out = NULL;
    if (q == NULL)
        return true;
    json_t *o = json_object();
    bool ok = o != NULL;
    for (const char *p = q; ok && *p != '\0';) {
        size_t n = strcspn(p, ",");
        const char *eq = memchr(p, '=', n);
        char key[API_LABEL_MAX + 2], val[API_LABEL_MAX + 2];
        if (eq == NULL || (size_t)(eq - p) > API_LABEL_MAX ||
            n - (size_t)(eq - p) - 1 > API_LABEL_MAX) {
            api_fail(r, FLOE_EINVAL, "label: expected KEY=VALUE[,KEY=VALUE...]");
            ok = false;
            break;
        }
        memcpy(key, p, (size_t)(eq - p));
        key[eq - p] = '\0';
        memcpy(val, eq + 1, n - (size_t)(eq - p) - 1);
        val[n - (size_t)(eq - p) - 1] = '\0';
        json_object_set_new(o, key, json_string(val));
        p += n + (p[n] == ',' ? 1 : 0);
    }
    ok = ok && labels_take(r, o, out);
    json_decref(o);
    return ok;
}

json_t *
api_labels_render(const char *text)
{
    json_t *o = text != NULL ? json_loads(text, 0, NULL) : NULL;
    return json_is_object(o) ? o : (json_decref(o), json_object());
}
