/*
 * The settings loader: defaults, file, environment, flags, applied through the table
 * (floe_config_table.c), which owns parsing bounds and checks; programs never read FLOE_*
 * variables themselves.
 */
#include "floe_config_int.h"

#include "floe_mem.h"
#include "floe_text.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* --- reporting ----------------------------------------------------------------------- */

static void report_add(floe_config_report *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
report_add(floe_config_report *r, const char *fmt, ...)
{
    r->count++;
    size_t used = strlen(r->text);
    if (used >= sizeof(r->text) - 1)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(r->text + used, sizeof(r->text) - used, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    used = strlen(r->text);
    if (used < sizeof(r->text) - 1) {
        r->text[used] = '\n';
        r->text[used + 1] = '\0';
    }
}

/* --- parsing ------------------------------------------------------------------------- */

static bool
parse_int(const char *s, int64_t *out)
{
    if (*s == '\0' || isspace((unsigned char)*s))
        return false;
    errno = 0;
    char *end;
    long long v = strtoll(s, &end, 10);
    if (errno != 0 || end == s)
        return false;
    *out = v;
    return *end == '\0';
}

/* number followed by a unit from units[] (name, multiplier), or a bare number. */
typedef struct cfg_unit {
    const char *name;
    int64_t mult;
} cfg_unit;

static const cfg_unit duration_units[] = {{"ms", 1},      {"s", 1000},     {"m", 60000},
                                          {"h", 3600000}, {"d", 86400000}, {NULL, 0}};
static const cfg_unit size_units[] = {
    {"B", 1},    {"KiB", 1024},      {"MiB", 1024 * 1024},      {"GiB", 1024 * 1024 * 1024},
    {"k", 1024}, {"M", 1024 * 1024}, {"G", 1024 * 1024 * 1024}, {NULL, 0}};

static bool
parse_with_unit(const char *s, const cfg_unit *units, int64_t *out)
{
    if (!isdigit((unsigned char)*s))
        return false;
    errno = 0;
    char *end;
    long long v = strtoll(s, &end, 10);
    if (errno != 0)
        return false;
    if (*end == '\0') {
        *out = v;
        return true;
    }
    for (const cfg_unit *u = units; u->name != NULL; u++) {
        if (strcmp(end, u->name) == 0) {
            if (v > INT64_MAX / u->mult)
                return false;
            *out = v * u->mult;
            return true;
        }
    }
    return false;
}

static const char *
type_name(const cfg_entry *e)
{
    switch (e->type) {
    case CFG_STRING:
        return "string";
    case CFG_INT:
        return "integer";
    case CFG_DURATION:
        return "duration";
    case CFG_SIZE:
        return "size";
    case CFG_ENUM:
        return "enum";
    }
    return "?";
}

/* Checks value for e and stores it in cfg. On error, writes why and changes nothing. */
static floe_rc
entry_apply(const cfg_entry *e, floe_config *cfg, const char *value, char *why, size_t why_size)
{
    char *field = (char *)cfg + e->offset;
    int64_t v = 0;
    switch (e->type) {
    case CFG_STRING: {
        size_t len = strlen(value);
        if ((int64_t)len < e->min || (int64_t)len > e->max) {
            snprintf(why, why_size, "length %zu is outside %lld..%lld", len, (long long)e->min,
                     (long long)e->max);
            return FLOE_EINVAL;
        }
        if (e->check != NULL && len > 0 && !e->check(value, why, why_size))
            return FLOE_EINVAL;
        char *copy = floe_strdup(value);
        if (copy == NULL) {
            snprintf(why, why_size, "out of memory");
            return FLOE_ENOMEM;
        }
        char **slot = (char **)(void *)field;
        floe_free(*slot);
        *slot = copy;
        return FLOE_OK;
    }
    case CFG_ENUM:
        for (int i = 0; e->values[i] != NULL; i++) {
            if (strcmp(value, e->values[i]) == 0) {
                *(int *)(void *)field = i;
                return FLOE_OK;
            }
        }
        {
            size_t off = (size_t)snprintf(why, why_size, "expected one of");
            for (int i = 0; e->values[i] != NULL && off < why_size; i++)
                off += (size_t)snprintf(why + off, why_size - off, "%s %s", i ? "," : "",
                                        e->values[i]);
        }
        return FLOE_EINVAL;
    case CFG_INT:
        if (!parse_int(value, &v)) {
            snprintf(why, why_size, "expected an integer");
            return FLOE_EINVAL;
        }
        break;
    case CFG_DURATION:
        if (!parse_with_unit(value, duration_units, &v)) {
            snprintf(why, why_size, "expected a duration such as 250ms, 5s, 2m or 1h");
            return FLOE_EINVAL;
        }
        break;
    case CFG_SIZE:
        if (!parse_with_unit(value, size_units, &v)) {
            snprintf(why, why_size, "expected a size such as 4096, 512KiB or 1MiB");
            return FLOE_EINVAL;
        }
        break;
    }
    if (v < e->min || v > e->max) {
        snprintf(why, why_size, "%lld is outside %lld..%lld", (long long)v, (long long)e->min,
                 (long long)e->max);
        return FLOE_EINVAL;
    }
    *(int64_t *)(void *)field = v;
    return FLOE_OK;
}

static const cfg_entry *
entry_find(const char *key, size_t len)
{
    for (size_t i = 0; i < floe_config_table_n; i++) {
        if (strlen(floe_config_table[i].key) == len &&
            memcmp(floe_config_table[i].key, key, len) == 0)
            return &floe_config_table[i];
    }
    return NULL;
}

static const char *
env_lookup(char *const *env, const char *name)
{
    if (env == NULL)
        return NULL;
    size_t n = strlen(name);
    for (char *const *p = env; *p != NULL; p++) {
        if (strncmp(*p, name, n) == 0 && (*p)[n] == '=')
            return *p + n + 1;
    }
    return NULL;
}

/* --- sources ------------------------------------------------------------------------- */

#define CFG_LINE_MAX 4200

/* Returns FLOE_ENOMEM only; entry errors go to the report. */
static floe_rc
load_file(floe_config *cfg, const char *path, floe_config_report *r)
{
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        report_add(r, "config file %s: cannot open: %s", path, strerror(errno));
        return FLOE_OK;
    }
    char line[CFG_LINE_MAX];
    char why[256];
    unsigned lineno = 0;
    floe_rc rc = FLOE_OK;
    while (fgets(line, sizeof(line), f) != NULL) {
        lineno++;
        size_t len = strlen(line);
        if (len == sizeof(line) - 1 && line[len - 1] != '\n') {
            report_add(r, "%s:%u: line longer than %d bytes", path, lineno, CFG_LINE_MAX - 2);
            int c;
            while ((c = fgetc(f)) != EOF && c != '\n')
                ;
            continue;
        }
        char *s = floe_text_trim(line);
        if (*s == '\0' || *s == '#')
            continue;
        char *eq = strchr(s, '=');
        if (eq == NULL) {
            report_add(r, "%s:%u: expected `key = value`", path, lineno);
            continue;
        }
        *eq = '\0';
        char *key = floe_text_trim(s);
        char *value = floe_text_trim(eq + 1);
        size_t vlen = strlen(value);
        if (vlen >= 2 && value[0] == '"' && value[vlen - 1] == '"') {
            value[vlen - 1] = '\0';
            value++;
        }
        const cfg_entry *e = entry_find(key, strlen(key));
        if (e == NULL) {
            report_add(r, "%s:%u: unknown setting \"%s\"", path, lineno, key);
            continue;
        }
        rc = entry_apply(e, cfg, value, why, sizeof(why));
        if (rc == FLOE_ENOMEM)
            break;
        if (rc != FLOE_OK)
            report_add(r, "%s:%u: %s: %s", path, lineno, key, why);
        rc = FLOE_OK;
    }
    fclose(f);
    return rc;
}

void
floe_config_free(floe_config *cfg)
{
    if (cfg == NULL)
        return;
    for (size_t i = 0; i < floe_config_table_n; i++) {
        if (floe_config_table[i].type == CFG_STRING)
            floe_free(*(char **)(void *)((char *)cfg + floe_config_table[i].offset));
    }
    floe_free(cfg->producer_name);
    floe_free(cfg);
}

floe_rc
floe_config_load(const floe_config_source *src, floe_config **out, floe_config_report *report)
{
    char why[256];
    floe_rc rc = FLOE_OK;
    report->count = 0;
    report->text[0] = '\0';
    *out = NULL;

    floe_config *cfg = floe_calloc(1, sizeof(*cfg));
    if (cfg == NULL)
        goto out_nomem;
    for (size_t i = 0; i < floe_config_table_n; i++) {
        rc = entry_apply(&floe_config_table[i], cfg, floe_config_table[i].def, why, sizeof(why));
        if (rc == FLOE_ENOMEM)
            goto out_nomem;
        if (rc != FLOE_OK) /* a broken table row: caught by test_config */
            report_add(report, "built-in default of %s: %s", floe_config_table[i].key, why);
    }

    const char *file = src->file != NULL ? src->file : env_lookup(src->env, "FLOE_CONFIG");
    if (file != NULL && *file != '\0' && load_file(cfg, file, report) == FLOE_ENOMEM)
        goto out_nomem;

    /* The AWS SDKs' variables, where the FLOE_* ones below are not set: a worker on EC2 or
     * EKS gets its credentials the way every other AWS program does. */
    static const struct {
        const char *env, *key;
    } aliases[] = {{"AWS_ACCESS_KEY_ID", "blob.s3.access_key_id"},
                   {"AWS_SECRET_ACCESS_KEY", "blob.s3.secret_access_key"},
                   {"AWS_SESSION_TOKEN", "blob.s3.session_token"},
                   {"AWS_SHARED_CREDENTIALS_FILE", "blob.s3.credentials_file"},
                   {"AWS_PROFILE", "blob.s3.profile"}};
    for (size_t i = 0; i < sizeof(aliases) / sizeof(aliases[0]); i++) {
        const char *v = env_lookup(src->env, aliases[i].env);
        const cfg_entry *e = entry_find(aliases[i].key, strlen(aliases[i].key));
        if (v == NULL || e == NULL || env_lookup(src->env, e->env) != NULL)
            continue;
        rc = entry_apply(e, cfg, v, why, sizeof(why));
        if (rc == FLOE_ENOMEM)
            goto out_nomem;
        if (rc != FLOE_OK)
            report_add(report, "environment %s: %s", aliases[i].env, why);
    }

    for (size_t i = 0; i < floe_config_table_n; i++) {
        const char *v = env_lookup(src->env, floe_config_table[i].env);
        if (v == NULL)
            continue;
        rc = entry_apply(&floe_config_table[i], cfg, v, why, sizeof(why));
        if (rc == FLOE_ENOMEM)
            goto out_nomem;
        if (rc != FLOE_OK)
            report_add(report, "environment %s: %s", floe_config_table[i].env, why);
    }

    for (size_t i = 0; i < src->n_overrides; i++) {
        const char *kv = src->overrides[i];
        const char *eq = strchr(kv, '=');
        const cfg_entry *e = eq != NULL ? entry_find(kv, (size_t)(eq - kv)) : NULL;
        if (e == NULL) {
            report_add(report, "flag \"%s\": unknown setting (see --help-config)", kv);
            continue;
        }
        rc = entry_apply(e, cfg, eq + 1, why, sizeof(why));
        if (rc == FLOE_ENOMEM)
            goto out_nomem;
        if (rc != FLOE_OK)
            report_add(report, "flag %s: %s", e->key, why);
    }

    cfg->producer_name = floe_strdup(src->program != NULL ? src->program : "floe");
    if (cfg->producer_name == NULL)
        goto out_nomem;

    if (report->count > 0) {
        floe_config_free(cfg);
        return FLOE_EINVAL;
    }
    *out = cfg;
    return FLOE_OK;

out_nomem:
    floe_config_free(cfg);
    report_add(report, "out of memory while loading the configuration");
    return FLOE_ENOMEM;
}

/* --- output -------------------------------------------------------------------------- */

bool
floe_config_key_secret(const char *key, size_t len)
{
    static const char *const words[] = {"password", "secret", "token", "key", "credential"};
    for (size_t w = 0; w < sizeof(words) / sizeof(words[0]); w++) {
        size_t n = strlen(words[w]);
        for (size_t i = 0; i + n <= len; i++)
            if (strncasecmp(key + i, words[w], n) == 0)
                return true;
    }
    return false;
}

/* k=v,k=v with the value of every secret-looking key (sasl.password, ssl.key.password...)
 * shown as *** (review M14). */
static void
print_kv_redacted(FILE *out, const char *list)
{
    const char *p = list;
    while (*p != '\0') {
        const char *comma = strchr(p, ',');
        size_t len = comma != NULL ? (size_t)(comma - p) : strlen(p);
        const char *eq = memchr(p, '=', len);
        if (eq != NULL && floe_config_key_secret(p, (size_t)(eq - p)))
            fprintf(out, "%.*s=***", (int)(eq - p), p);
        else
            fprintf(out, "%.*s", (int)len, p);
        p += len;
        if (*p == ',')
            fputc(*p++, out);
    }
}

static void
print_url_redacted(FILE *out, const char *url)
{
    /* scheme://user:password@host -> scheme://user:***@host; the password may itself hold
     * '@', so the last one before the path ends it. */
    const char *scheme = strstr(url, "://");
    const char *at = NULL;
    if (scheme != NULL) {
        const char *end = strchr(scheme + 3, '/');
        for (const char *q = scheme + 3; *q != '\0' && (end == NULL || q < end); q++)
            if (*q == '@')
                at = q;
    }
    const char *colon = at != NULL ? memchr(scheme + 3, ':', (size_t)(at - scheme - 3)) : NULL;
    if (colon == NULL) {
        /* conninfo form: hide a password=... word, quoted ('...' with \' inside) or not */
        const char *pw = strstr(url, "password");
        const char *v = pw != NULL ? pw + 8 : NULL;
        while (v != NULL && *v == ' ')
            v++;
        if (v == NULL || *v != '=') {
            fputs(url, out);
            return;
        }
        v++;
        while (*v == ' ')
            v++;
        fprintf(out, "%.*spassword=***", (int)(pw - url), url);
        const char *rest = v;
        if (*rest == '\'') {
            for (rest++; *rest != '\0' && *rest != '\''; rest++)
                if (*rest == '\\' && rest[1] != '\0')
                    rest++;
            if (*rest == '\'')
                rest++;
        } else {
            /* a conninfo word ends at a space, a url's query parameter at '&' */
            while (*rest != '\0' && *rest != ' ' && !(scheme != NULL && *rest == '&'))
                rest++;
        }
        fputs(rest, out);
        return;
    }
    fprintf(out, "%.*s:***%s", (int)(colon - url), url, at);
}

void
floe_config_print(const floe_config *cfg, FILE *out)
{
    for (size_t i = 0; i < floe_config_table_n; i++) {
        const cfg_entry *e = &floe_config_table[i];
        const char *field = (const char *)cfg + e->offset;
        fprintf(out, "%s = ", e->key);
        switch (e->type) {
        case CFG_STRING: {
            const char *s = *(char *const *)(const void *)field;
            if (e->flags & CFG_SECRET)
                fputs(*s ? "***" : "", out);
            else if (e->flags & CFG_KV)
                print_kv_redacted(out, s);
            else if (e->flags & CFG_URL)
                print_url_redacted(out, s);
            else
                fputs(s, out);
            break;
        }
        case CFG_ENUM:
            fputs(e->values[*(const int *)(const void *)field], out);
            break;
        case CFG_INT:
            fprintf(out, "%lld", (long long)*(const int64_t *)(const void *)field);
            break;
        case CFG_DURATION:
            fprintf(out, "%lldms", (long long)*(const int64_t *)(const void *)field);
            break;
        case CFG_SIZE:
            fprintf(out, "%lld", (long long)*(const int64_t *)(const void *)field);
            break;
        }
        fputc('\n', out);
    }
}

void
floe_config_help(FILE *out)
{
    for (size_t i = 0; i < floe_config_table_n; i++) {
        const cfg_entry *e = &floe_config_table[i];
        fprintf(out, "  %-24s %-8s default %-22s %s\n      %s\n", e->key, type_name(e),
                *e->def ? e->def : "\"\"", e->env, e->help);
    }
}

floe_rc
floe_config_topic(const floe_config *cfg, const char *suffix, char *buf, size_t size)
{
    int n = snprintf(buf, size, "%s.%s", cfg->topic_prefix, suffix);
    if (n < 0 || (size_t)n >= size)
        return FLOE_ETOOBIG;
    return FLOE_OK;
}
