/*
 * Conversions recurse along the declared type, never along the input alone: a type is
 * at most FLOE_TYPE_MAX_DEPTH deep, so a hostile document cannot deepen the stack.
 * floe_value_to_json has no type to follow and carries its own depth bound.
 */
#include "floe_value.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define S(x) FLOE__SIMPLE_TYPE__SIMPLE_TYPE_##x
#define K(x) FLOE__VALUE__KIND_##x

/* --- text helpers -------------------------------------------------------------------- */

static bool
all_digits(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
    }
    return true;
}

static int
num2(const char *s)
{
    return (s[0] - '0') * 10 + (s[1] - '0');
}

floe_rc
floe_datetime_parse(const char *s, int64_t *unix_us, floe_err *err)
{
    size_t len = strlen(s);
    /* YYYY-MM-DD, then optionally THH:MM:SS[.f{1,6}](Z|+HH:MM|-HH:MM) */
    if (len < 10 || !all_digits(s, 4) || s[4] != '-' || !all_digits(s + 5, 2) || s[7] != '-' ||
        !all_digits(s + 8, 2))
        goto bad;
    struct tm tm = {0};
    tm.tm_year = atoi(s) - 1900; /* four digits checked above */
    tm.tm_mon = num2(s + 5) - 1;
    tm.tm_mday = num2(s + 8);
    int64_t frac_us = 0, offset_s = 0;
    const char *p = s + 10;
    if (*p != '\0') {
        if ((*p != 'T' && *p != 't' && *p != ' ') || strlen(p) < 9 || !all_digits(p + 1, 2) ||
            p[3] != ':' || !all_digits(p + 4, 2) || p[6] != ':' || !all_digits(p + 7, 2))
            goto bad;
        tm.tm_hour = num2(p + 1);
        tm.tm_min = num2(p + 4);
        tm.tm_sec = num2(p + 7);
        p += 9;
        if (*p == '.') {
            p++;
            int digits = 0;
            int64_t scale = 100000;
            while (*p >= '0' && *p <= '9') {
                if (digits++ < 6) {
                    frac_us += (*p - '0') * scale;
                    scale /= 10;
                }
                p++;
            }
            if (digits == 0 || digits > 9)
                goto bad;
        }
        if (*p == 'Z' || *p == 'z') {
            p++;
        } else if ((*p == '+' || *p == '-') && strlen(p) == 6 && all_digits(p + 1, 2) &&
                   p[3] == ':' && all_digits(p + 4, 2)) {
            int h = num2(p + 1), m = num2(p + 4);
            if (h > 23 || m > 59)
                goto bad;
            offset_s = (int64_t)(h * 3600 + m * 60) * (*p == '-' ? -1 : 1);
            p += 6;
        } else {
            goto bad;
        }
        if (*p != '\0')
            goto bad;
    }
    static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int year = tm.tm_year + 1900;
    bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    if (year < 1 || tm.tm_mon < 0 || tm.tm_mon > 11 || tm.tm_mday < 1 ||
        tm.tm_mday > mdays[tm.tm_mon] || (tm.tm_mon == 1 && tm.tm_mday == 29 && !leap) ||
        tm.tm_hour > 23 || tm.tm_min > 59 || tm.tm_sec > 60)
        goto bad;
    time_t t = timegm(&tm);
    *unix_us = ((int64_t)t - offset_s) * 1000000 + frac_us;
    return FLOE_OK;
bad:
    return floe_err_user(err, FLOE_EINVAL,
                         "\"%.64s\" is not an RFC 3339 date-time (2026-11-21T08:00:00Z) or date "
                         "(2026-11-21)",
                         s);
}

void
floe_datetime_format(int64_t unix_us, char *buf, size_t size)
{
    int64_t sec = unix_us / 1000000, us = unix_us % 1000000;
    if (us < 0) {
        us += 1000000;
        sec--;
    }
    time_t t = (time_t)sec;
    struct tm tm;
    if (gmtime_r(&t, &tm) == NULL) {
        snprintf(buf, size, "?");
        return;
    }
    size_t n = strftime(buf, size, "%Y-%m-%dT%H:%M:%S", &tm);
    if (us != 0)
        snprintf(buf + n, size - n, ".%06lldZ", (long long)us);
    else
        snprintf(buf + n, size - n, "Z");
}

static const struct {
    const char *unit;
    int64_t us;
} duration_units[] = {
    {"ms", 1000},        {"us", 1},         {"d", 86400000000LL},
    {"h", 3600000000LL}, {"m", 60000000LL}, {"s", 1000000},
};

floe_rc
floe_duration_parse(const char *s, int64_t *us, floe_err *err)
{
    const char *p = s;
    int64_t total = 0;
    if (*p == '\0')
        goto bad;
    if (strcmp(p, "0") == 0) {
        *us = 0;
        return FLOE_OK;
    }
    while (*p != '\0') {
        if (*p < '0' || *p > '9')
            goto bad;
        errno = 0;
        char *end;
        long long n = strtoll(p, &end, 10);
        if (errno != 0 || n < 0)
            goto bad;
        p = end;
        size_t u;
        for (u = 0; u < sizeof(duration_units) / sizeof(duration_units[0]); u++) {
            size_t ul = strlen(duration_units[u].unit);
            if (strncmp(p, duration_units[u].unit, ul) == 0 &&
                !(ul == 1 && p[0] == 'm' && p[1] == 's'))
                break;
        }
        if (u == sizeof(duration_units) / sizeof(duration_units[0]))
            goto bad;
        int64_t mul = duration_units[u].us;
        if (n > (INT64_MAX - total) / mul)
            return floe_err_user(err, FLOE_EINVAL, "duration \"%.64s\" is too long", s);
        total += n * mul;
        p += strlen(duration_units[u].unit);
    }
    *us = total;
    return FLOE_OK;
bad:
    return floe_err_user(err, FLOE_EINVAL,
                         "\"%.64s\" is not a duration: expected <number><unit>... with units d, "
                         "h, m, s, ms, us (\"90s\", \"1h30m\")",
                         s);
}

void
floe_duration_format(int64_t us, char *buf, size_t size)
{
    static const struct {
        const char *unit;
        int64_t us;
    } order[] = {{"d", 86400000000LL}, {"h", 3600000000LL}, {"m", 60000000LL},
                 {"s", 1000000},       {"ms", 1000},        {"us", 1}};
    size_t len = 0;
    buf[0] = '\0';
    if (us <= 0) {
        snprintf(buf, size, "0s");
        return;
    }
    for (size_t i = 0; i < sizeof(order) / sizeof(order[0]) && us > 0; i++) {
        int64_t n = us / order[i].us;
        if (n == 0)
            continue;
        us -= n * order[i].us;
        if (len < size)
            len += (size_t)snprintf(buf + len, size - len, "%lld%s", (long long)n, order[i].unit);
    }
}

/* --- JSON to value ------------------------------------------------------------------- */

const char *
floe_value_json_kind(const json_t *json)
{
    switch (json_typeof(json)) {
    case JSON_OBJECT:
        return "object";
    case JSON_ARRAY:
        return "list";
    case JSON_STRING:
        return "string";
    case JSON_INTEGER:
        return "integer";
    case JSON_REAL:
        return "float";
    case JSON_TRUE:
    case JSON_FALSE:
        return "boolean";
    case JSON_NULL:
        return "null";
    }
    return "?";
}

static Floe__Value *
value_new(floe_arena *arena)
{
    Floe__Value *v = floe_arena_alloc(arena, sizeof(*v));
    if (v != NULL)
        floe__value__init(v);
    return v;
}

static char *
arena_str(floe_arena *arena, const char *s, size_t len)
{
    return floe_arena_strndup(arena, s, len);
}

static floe_rc
mismatch(floe_err *err, const Floe__LiteralType *type, const json_t *json)
{
    char tb[FLOE_TYPE_TEXT_MAX];
    return floe_err_user(err, FLOE_EINVAL, "expected %s, got %s",
                         floe_type_format(type, tb, sizeof(tb)), floe_value_json_kind(json));
}

static floe_rc
check_string(const char *s, size_t len, floe_err *err)
{
    if (!floe_utf8_valid(s, len))
        return floe_err_user(err, FLOE_EINVAL, "string is not valid UTF-8 or contains NUL");
    return FLOE_OK;
}

static floe_rc
blob_check_digest(const char *d, floe_err *err)
{
    if (d[0] == '\0')
        return FLOE_OK;
    if (strncmp(d, "sha256:", 7) != 0 || strlen(d) != 7 + 64 ||
        strspn(d + 7, "0123456789abcdef") != 64)
        return floe_err_user(err, FLOE_EINVAL,
                             "blob digest must be \"sha256:\" and 64 lower-case hex digits");
    return FLOE_OK;
}

static floe_rc
blob_check_uri(const char *uri, floe_err *err)
{
    size_t len = strlen(uri);
    if (len == 0 || len > FLOE_VALUE_URI_MAX)
        return floe_err_user(err, FLOE_EINVAL, "blob uri must be 1 to %d bytes",
                             FLOE_VALUE_URI_MAX);
    for (size_t i = 0; i < len; i++) {
        if ((unsigned char)uri[i] < 0x20 || uri[i] == 0x7f)
            return floe_err_user(err, FLOE_EINVAL, "blob uri contains a control character");
    }
    return check_string(uri, len, err);
}

static floe_rc
blob_from_json(const json_t *json, floe_arena *arena, Floe__Blob **out, floe_err *err)
{
    Floe__Blob *b = floe_arena_alloc(arena, sizeof(*b));
    if (b == NULL)
        return floe_err_sys(err, FLOE_ENOMEM, "out of memory");
    floe__blob__init(b);
    if (json_is_string(json)) {
        b->uri = arena_str(arena, json_string_value(json), json_string_length(json));
    } else if (json_is_object(json)) {
        const char *key;
        json_t *v;
        json_object_foreach((json_t *)json, key, v)
        {
            if (strcmp(key, "uri") == 0 && json_is_string(v)) {
                b->uri = arena_str(arena, json_string_value(v), json_string_length(v));
            } else if (strcmp(key, "digest") == 0 && json_is_string(v)) {
                b->digest = arena_str(arena, json_string_value(v), json_string_length(v));
            } else if (strcmp(key, "format") == 0 && json_is_string(v)) {
                if (json_string_length(v) > 64)
                    return floe_err_user(err, FLOE_EINVAL, "blob format is longer than 64 bytes");
                b->format = arena_str(arena, json_string_value(v), json_string_length(v));
            } else if (strcmp(key, "size") == 0 && json_is_integer(v) &&
                       json_integer_value(v) >= 0) {
                b->size = (uint64_t)json_integer_value(v);
            } else {
                return floe_err_user(err, FLOE_EINVAL,
                                     "blob field \"%.64s\": expected uri (string), digest "
                                     "(string), size (integer >= 0) or format (string)",
                                     key);
            }
        }
        if (b->uri == NULL)
            return floe_err_user(err, FLOE_EINVAL, "blob has no \"uri\"");
    } else {
        return floe_err_user(err, FLOE_EINVAL,
                             "expected blob (a uri or {uri, digest, size}), got %s",
                             floe_value_json_kind(json));
    }
    if (b->uri == NULL || floe_arena_exhausted(arena))
        return floe_err_sys(err, FLOE_ENOMEM, "out of memory");
    floe_rc rc = blob_check_uri(b->uri, err);
    if (rc == FLOE_OK && b->digest != NULL)
        rc = blob_check_digest(b->digest, err);
    *out = b;
    return rc;
}

static int
entry_cmp(const void *a, const void *b)
{
    const Floe__NamedValue *x = *(Floe__NamedValue *const *)a, *y = *(Floe__NamedValue *const *)b;
    return strcmp(x->name, y->name);
}

floe_rc
floe_value_from_json(const Floe__LiteralType *type, const json_t *json, floe_arena *arena,
                     Floe__Value **out, floe_err *err)
{
    floe_rc rc = floe_type_check(type, err);
    if (rc != FLOE_OK)
        return rc;
    Floe__Value *v = value_new(arena);
    if (v == NULL)
        return floe_err_sys(err, FLOE_ENOMEM, "out of memory");
    switch (type->simple) {
    case S(INTEGER):
        if (!json_is_integer(json))
            return mismatch(err, type, json);
        v->kind_case = K(INTEGER);
        v->integer = json_integer_value(json);
        break;
    case S(FLOAT):
        if (!json_is_number(json))
            return mismatch(err, type, json);
        v->kind_case = K(FLOAT);
        v->float_ = json_number_value(json);
        if (!isfinite(v->float_))
            return floe_err_user(err, FLOE_EINVAL, "float is not finite");
        break;
    case S(STRING):
        if (!json_is_string(json))
            return mismatch(err, type, json);
        if ((rc = check_string(json_string_value(json), json_string_length(json), err)) != 0)
            return rc;
        v->kind_case = K(STRING);
        v->string = arena_str(arena, json_string_value(json), json_string_length(json));
        if (v->string == NULL)
            return floe_err_sys(err, FLOE_ENOMEM, "out of memory");
        break;
    case S(BOOLEAN):
        if (!json_is_boolean(json))
            return mismatch(err, type, json);
        v->kind_case = K(BOOLEAN);
        v->boolean = json_is_true(json);
        break;
    case S(DATETIME):
        if (!json_is_string(json))
            return mismatch(err, type, json);
        v->kind_case = K(DATETIME_UNIX_US);
        if ((rc = floe_datetime_parse(json_string_value(json), &v->datetime_unix_us, err)) != 0)
            return rc;
        break;
    case S(DURATION):
        if (!json_is_string(json))
            return mismatch(err, type, json);
        v->kind_case = K(DURATION_US);
        if ((rc = floe_duration_parse(json_string_value(json), &v->duration_us, err)) != 0)
            return rc;
        break;
    case S(BLOB):
        v->kind_case = K(BLOB);
        if ((rc = blob_from_json(json, arena, &v->blob, err)) != FLOE_OK)
            return rc;
        break;
    case S(LIST): {
        if (!json_is_array(json))
            return mismatch(err, type, json);
        size_t n = json_array_size(json);
        if (n > FLOE_VALUE_ITEMS_MAX)
            return floe_err_user(err, FLOE_ETOOBIG, "list has more than %d items",
                                 FLOE_VALUE_ITEMS_MAX);
        Floe__ValueList *l = floe_arena_alloc(arena, sizeof(*l));
        Floe__Value **items = floe_arena_alloc(arena, (n ? n : 1) * sizeof(*items));
        if (l == NULL || items == NULL)
            return floe_err_sys(err, FLOE_ENOMEM, "out of memory");
        floe__value_list__init(l);
        for (size_t i = 0; i < n; i++) {
            /* null: an absent item (a map's failed item), of no type */
            if (json_is_null(json_array_get(json, i))) {
                if ((items[i] = value_new(arena)) == NULL)
                    return floe_err_sys(err, FLOE_ENOMEM, "out of memory");
                continue;
            }
            rc =
                floe_value_from_json(type->element, json_array_get(json, i), arena, &items[i], err);
            if (rc != FLOE_OK) {
                floe_err_prefix(err, "item %zu", i);
                return rc;
            }
        }
        l->n_items = n;
        l->items = items;
        v->kind_case = K(LIST);
        v->list = l;
        break;
    }
    case S(MAP): {
        if (!json_is_object(json))
            return mismatch(err, type, json);
        size_t n = json_object_size(json);
        if (n > FLOE_VALUE_ITEMS_MAX)
            return floe_err_user(err, FLOE_ETOOBIG, "map has more than %d entries",
                                 FLOE_VALUE_ITEMS_MAX);
        Floe__ValueMap *m = floe_arena_alloc(arena, sizeof(*m));
        Floe__NamedValue **entries = floe_arena_alloc(arena, (n ? n : 1) * sizeof(*entries));
        if (m == NULL || entries == NULL)
            return floe_err_sys(err, FLOE_ENOMEM, "out of memory");
        floe__value_map__init(m);
        size_t i = 0;
        const char *key;
        json_t *item;
        json_object_foreach((json_t *)json, key, item)
        {
            if ((rc = check_string(key, strlen(key), err)) != FLOE_OK)
                return rc;
            Floe__NamedValue *e = floe_arena_alloc(arena, sizeof(*e));
            if (e == NULL)
                return floe_err_sys(err, FLOE_ENOMEM, "out of memory");
            floe__named_value__init(e);
            if ((e->name = arena_str(arena, key, strlen(key))) == NULL)
                return floe_err_sys(err, FLOE_ENOMEM, "out of memory");
            rc = floe_value_from_json(type->element, item, arena, &e->value, err);
            if (rc != FLOE_OK) {
                floe_err_prefix(err, "key \"%.64s\"", key);
                return rc;
            }
            entries[i++] = e;
        }
        qsort(entries, i, sizeof(*entries), entry_cmp);
        m->n_entries = i;
        m->entries = entries;
        v->kind_case = K(MAP);
        v->map = m;
        break;
    }
    default:
        return floe_err_user(err, FLOE_EINVAL, "type is not set");
    }
    *out = v;
    return FLOE_OK;
}

floe_rc
floe_value_from_text(const Floe__LiteralType *type, const char *text, floe_arena *arena,
                     Floe__Value **out, floe_err *err)
{
    floe_rc rc = floe_type_check(type, err);
    if (rc != FLOE_OK)
        return rc;
    json_t *json = NULL;
    json_error_t jerr;
    switch (type->simple) {
    case S(INTEGER): {
        errno = 0;
        char *end;
        long long n = strtoll(text, &end, 10);
        if (text[0] == '\0' || *end != '\0' || errno != 0)
            return floe_err_user(err, FLOE_EINVAL, "expected integer, got \"%.64s\"", text);
        json = json_integer(n);
        break;
    }
    case S(FLOAT): {
        errno = 0;
        char *end;
        double d = strtod(text, &end);
        if (text[0] == '\0' || *end != '\0' || errno != 0 || !isfinite(d))
            return floe_err_user(err, FLOE_EINVAL, "expected float, got \"%.64s\"", text);
        json = json_real(d);
        break;
    }
    case S(BOOLEAN):
        if (strcmp(text, "true") == 0)
            json = json_true();
        else if (strcmp(text, "false") == 0)
            json = json_false();
        else
            return floe_err_user(err, FLOE_EINVAL,
                                 "expected boolean (true or false), got \"%.64s\"", text);
        break;
    case S(STRING):
    case S(DATETIME):
    case S(DURATION):
        json = json_stringn_nocheck(text, strlen(text));
        break;
    case S(BLOB):
        if (text[0] != '{') {
            json = json_stringn_nocheck(text, strlen(text));
            break;
        }
        /* a JSON object */
        __attribute__((fallthrough));
    default:
        json = json_loads(text, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
        if (json == NULL) {
            char tb[FLOE_TYPE_TEXT_MAX];
            return floe_err_user(err, FLOE_EINVAL, "expected %s as JSON: %s (column %d)",
                                 floe_type_format(type, tb, sizeof(tb)), jerr.text, jerr.column);
        }
    }
    if (json == NULL)
        return floe_err_sys(err, FLOE_ENOMEM, "out of memory");
    rc = floe_value_from_json(type, json, arena, out, err);
    json_decref(json);
    return rc;
}

/* --- checking a received value ------------------------------------------------------- */

static const char *
value_kind_name(const Floe__Value *v)
{
    switch (v->kind_case) {
    case K(INTEGER):
        return "integer";
    case K(FLOAT):
        return "float";
    case K(STRING):
        return "string";
    case K(BOOLEAN):
        return "boolean";
    case K(DATETIME_UNIX_US):
        return "datetime";
    case K(DURATION_US):
        return "duration";
    case K(BLOB):
        return "blob";
    case K(LIST):
        return "list";
    case K(MAP):
        return "map";
    default:
        return "nothing";
    }
}

/* A value kept in the blob store: well formed (its value was checked when it was made,
 * and is again where it is read: store_valref). */
static floe_rc
ref_check(const Floe__ValueRef *r, floe_err *err)
{
    if (r == NULL || r->uri == NULL || r->digest == NULL || r->canon == NULL)
        return floe_err_user(err, FLOE_EINVAL, "value reference: uri, digest and canon needed");
    floe_rc rc = blob_check_uri(r->uri, err);
    if (rc == FLOE_OK)
        rc = blob_check_digest(r->digest, err);
    if (rc != FLOE_OK)
        return rc;
    if (strlen(r->canon) != 64 || strspn(r->canon, "0123456789abcdef") != 64)
        return floe_err_user(err, FLOE_EINVAL, "value reference: canon is not 64 hex digits");
    return FLOE_OK;
}

floe_rc
floe_value_check(const Floe__LiteralType *type, const Floe__Value *value, floe_err *err)
{
    floe_rc rc = floe_type_check(type, err);
    if (rc != FLOE_OK)
        return rc;
    if (value != NULL && value->kind_case == FLOE__VALUE__KIND_REF)
        return ref_check(value->ref, err);
    static const Floe__Value__KindCase expect[] = {
        [S(INTEGER)] = K(INTEGER),
        [S(FLOAT)] = K(FLOAT),
        [S(STRING)] = K(STRING),
        [S(BOOLEAN)] = K(BOOLEAN),
        [S(DATETIME)] = K(DATETIME_UNIX_US),
        [S(DURATION)] = K(DURATION_US),
        [S(BLOB)] = K(BLOB),
        [S(LIST)] = K(LIST),
        [S(MAP)] = K(MAP),
    };
    if (value == NULL || (unsigned)type->simple >= sizeof(expect) / sizeof(expect[0]) ||
        value->kind_case != expect[type->simple]) {
        char tb[FLOE_TYPE_TEXT_MAX];
        return floe_err_user(err, FLOE_EINVAL, "expected %s, got %s",
                             floe_type_format(type, tb, sizeof(tb)),
                             value == NULL ? "nothing" : value_kind_name(value));
    }
    switch (value->kind_case) {
    case K(STRING):
        return value->string == NULL ? floe_err_user(err, FLOE_EINVAL, "string not set")
                                     : check_string(value->string, strlen(value->string), err);
    case K(FLOAT):
        return isfinite(value->float_) ? FLOE_OK
                                       : floe_err_user(err, FLOE_EINVAL, "float is not finite");
    case K(DURATION_US):
        return value->duration_us >= 0 ? FLOE_OK
                                       : floe_err_user(err, FLOE_EINVAL, "duration is negative");
    case K(BLOB):
        if (value->blob == NULL || value->blob->uri == NULL)
            return floe_err_user(err, FLOE_EINVAL, "blob has no uri");
        if ((rc = blob_check_uri(value->blob->uri, err)) != FLOE_OK)
            return rc;
        return value->blob->digest != NULL ? blob_check_digest(value->blob->digest, err) : FLOE_OK;
    case K(LIST):
        if (value->list == NULL)
            return FLOE_OK;
        for (size_t i = 0; i < value->list->n_items; i++) {
            const Floe__Value *it = value->list->items[i];
            if (it != NULL && it->kind_case == FLOE__VALUE__KIND__NOT_SET)
                continue; /* an absent item: a map's failed item */
            if (it != NULL && it->kind_case == FLOE__VALUE__KIND_REF)
                return floe_err_user(err, FLOE_EINVAL, "item %zu: a reference inside a list", i);
            if ((rc = floe_value_check(type->element, it, err)) != FLOE_OK) {
                floe_err_prefix(err, "item %zu", i);
                return rc;
            }
        }
        return FLOE_OK;
    case K(MAP):
        if (value->map == NULL)
            return FLOE_OK;
        for (size_t i = 0; i < value->map->n_entries; i++) {
            const Floe__NamedValue *e = value->map->entries[i];
            if (e == NULL || e->name == NULL)
                return floe_err_user(err, FLOE_EINVAL, "map entry without a key");
            if (e->value != NULL && e->value->kind_case == FLOE__VALUE__KIND_REF)
                return floe_err_user(err, FLOE_EINVAL, "key \"%.64s\": a reference inside a map",
                                     e->name);
            if (i > 0 && strcmp(value->map->entries[i - 1]->name, e->name) >= 0)
                return floe_err_user(err, FLOE_EINVAL,
                                     "map keys are not unique and in ascending order");
            if ((rc = floe_value_check(type->element, e->value, err)) != FLOE_OK) {
                floe_err_prefix(err, "key \"%.64s\"", e->name);
                return rc;
            }
        }
        return FLOE_OK;
    default:
        return FLOE_OK;
    }
}

/* --- value to JSON ------------------------------------------------------------------- */

static json_t *
to_json(const Floe__Value *v, int depth)
{
    char buf[64];
    if (v == NULL || depth > FLOE_TYPE_MAX_DEPTH)
        return NULL;
    switch (v->kind_case) {
    case FLOE__VALUE__KIND__NOT_SET: /* an absent list item */
        return json_null();
    case FLOE__VALUE__KIND_REF: /* shown resolved where it can be (the API): else where it is */
        return v->ref != NULL && v->ref->uri != NULL
                   ? json_pack("{s:{s:s,s:s,s:I}}", "ref", "uri", v->ref->uri, "digest",
                               v->ref->digest != NULL ? v->ref->digest : "", "size",
                               (json_int_t)v->ref->size)
                   : NULL;
    case K(INTEGER):
        return json_integer(v->integer);
    case K(FLOAT):
        return json_real(v->float_);
    case K(STRING):
        return v->string != NULL ? json_string(v->string) : NULL;
    case K(BOOLEAN):
        return json_boolean(v->boolean);
    case K(DATETIME_UNIX_US):
        floe_datetime_format(v->datetime_unix_us, buf, sizeof(buf));
        return json_string(buf);
    case K(DURATION_US):
        floe_duration_format(v->duration_us, buf, sizeof(buf));
        return json_string(buf);
    case K(BLOB): {
        if (v->blob == NULL || v->blob->uri == NULL)
            return NULL;
        json_t *o = json_object();
        if (o == NULL || json_object_set_new(o, "uri", json_string(v->blob->uri)) != 0)
            goto fail_blob;
        if (v->blob->digest != NULL && v->blob->digest[0] != '\0' &&
            json_object_set_new(o, "digest", json_string(v->blob->digest)) != 0)
            goto fail_blob;
        if (v->blob->size != 0 &&
            json_object_set_new(o, "size", json_integer((json_int_t)v->blob->size)) != 0)
            goto fail_blob;
        if (v->blob->format != NULL && v->blob->format[0] != '\0' &&
            json_object_set_new(o, "format", json_string(v->blob->format)) != 0)
            goto fail_blob;
        return o;
    fail_blob:
        json_decref(o);
        return NULL;
    }
    case K(LIST): {
        json_t *a = json_array();
        for (size_t i = 0; a != NULL && v->list != NULL && i < v->list->n_items; i++) {
            json_t *item = to_json(v->list->items[i], depth + 1);
            if (item == NULL || json_array_append_new(a, item) != 0) {
                json_decref(a);
                return NULL;
            }
        }
        return a;
    }
    case K(MAP): {
        json_t *o = json_object();
        for (size_t i = 0; o != NULL && v->map != NULL && i < v->map->n_entries; i++) {
            const Floe__NamedValue *e = v->map->entries[i];
            json_t *item = e != NULL && e->name != NULL ? to_json(e->value, depth + 1) : NULL;
            if (item == NULL || json_object_set_new(o, e->name, item) != 0) {
                json_decref(o);
                return NULL;
            }
        }
        return o;
    }
    default:
        return NULL;
    }
}

json_t *
floe_value_to_json(const Floe__Value *value)
{
    return to_json(value, 0);
}

floe_rc
floe_value_zero(const Floe__LiteralType *type, floe_arena *arena, Floe__Value **out, floe_err *err)
{
    Floe__Value *v = floe_arena_alloc(arena, sizeof(*v));
    if (v == NULL)
        return floe_err_sys(err, FLOE_ENOMEM, "out of memory");
    floe__value__init(v);
    switch (type != NULL ? type->simple : FLOE__SIMPLE_TYPE__SIMPLE_TYPE_UNSPECIFIED) {
    case FLOE__SIMPLE_TYPE__SIMPLE_TYPE_INTEGER:
        v->kind_case = FLOE__VALUE__KIND_INTEGER;
        break;
    case FLOE__SIMPLE_TYPE__SIMPLE_TYPE_FLOAT:
        v->kind_case = FLOE__VALUE__KIND_FLOAT;
        break;
    case FLOE__SIMPLE_TYPE__SIMPLE_TYPE_STRING:
        v->kind_case = FLOE__VALUE__KIND_STRING;
        v->string = "";
        break;
    case FLOE__SIMPLE_TYPE__SIMPLE_TYPE_BOOLEAN:
        v->kind_case = FLOE__VALUE__KIND_BOOLEAN;
        break;
    case FLOE__SIMPLE_TYPE__SIMPLE_TYPE_DATETIME:
        v->kind_case = FLOE__VALUE__KIND_DATETIME_UNIX_US;
        break;
    case FLOE__SIMPLE_TYPE__SIMPLE_TYPE_DURATION:
        v->kind_case = FLOE__VALUE__KIND_DURATION_US;
        break;
    case FLOE__SIMPLE_TYPE__SIMPLE_TYPE_LIST:
        if ((v->list = floe_arena_alloc(arena, sizeof(*v->list))) == NULL)
            return floe_err_sys(err, FLOE_ENOMEM, "out of memory");
        floe__value_list__init(v->list);
        v->kind_case = FLOE__VALUE__KIND_LIST;
        break;
    case FLOE__SIMPLE_TYPE__SIMPLE_TYPE_MAP:
        if ((v->map = floe_arena_alloc(arena, sizeof(*v->map))) == NULL)
            return floe_err_sys(err, FLOE_ENOMEM, "out of memory");
        floe__value_map__init(v->map);
        v->kind_case = FLOE__VALUE__KIND_MAP;
        break;
    default:
        return floe_err_user(err, FLOE_EINVAL, "a blob has no zero value");
    }
    *out = v;
    return FLOE_OK;
}
