/*
 * Cron parsing into bit sets and next-fire search over local calendar days. The search
 * skips whole months and days that cannot match, so a sparse expression ("0 0 29 2 1")
 * costs a few thousand steps at most; the horizon bounds expressions that never fire.
 */
#include "floe_cron.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef struct cron_field {
    const char *name;
    unsigned lo, hi;
    const char *const *names; /* names[i] stands for lo + i */
} cron_field;

static const char *const month_names[] = {"jan", "feb", "mar", "apr", "may", "jun", "jul",
                                          "aug", "sep", "oct", "nov", "dec", NULL};
static const char *const dow_names[] = {"sun", "mon", "tue", "wed", "thu", "fri", "sat", NULL};

static const cron_field fields[5] = {
    {"minute", 0, 59, NULL},          {"hour", 0, 23, NULL},
    {"day-of-month", 1, 31, NULL},    {"month", 1, 12, month_names},
    {"day-of-week", 0, 7, dow_names},
};

static bool
parse_num(const cron_field *f, const char **pp, unsigned *out)
{
    const char *p = *pp;
    if (*p >= '0' && *p <= '9') {
        unsigned v = 0;
        while (*p >= '0' && *p <= '9' && v < 1000)
            v = v * 10 + (unsigned)(*p++ - '0');
        *out = v;
        *pp = p;
        return true;
    }
    for (size_t i = 0; f->names != NULL && f->names[i] != NULL; i++) {
        if (strncasecmp(p, f->names[i], 3) == 0) {
            *out = f->lo + (unsigned)i;
            *pp = p + 3;
            return true;
        }
    }
    return false;
}

static floe_rc
parse_field(const cron_field *f, const char *s, size_t len, uint64_t *bits, floe_err *err)
{
    char buf[128];
    if (len == 0 || len >= sizeof(buf))
        return floe_err_user(err, FLOE_EINVAL, "cron: %s: empty or too long", f->name);
    memcpy(buf, s, len);
    buf[len] = '\0';
    *bits = 0;
    for (char *item = buf, *next; item != NULL; item = next) {
        next = strchr(item, ',');
        if (next != NULL)
            *next++ = '\0';
        const char *p = item;
        unsigned lo = f->lo, hi = f->hi, step = 1;
        bool range = false;
        if (*p == '*') {
            p++;
            range = true;
        } else {
            if (!parse_num(f, &p, &lo))
                return floe_err_user(err, FLOE_EINVAL, "cron: %s: \"%s\" is not a value", f->name,
                                     item);
            hi = lo;
            if (*p == '-') {
                p++;
                if (!parse_num(f, &p, &hi))
                    return floe_err_user(err, FLOE_EINVAL, "cron: %s: \"%s\": bad range end",
                                         f->name, item);
                range = true;
            }
        }
        if (*p == '/') {
            p++;
            char *e;
            long st = strtol(p, &e, 10);
            if (e == p || st < 1 || st > (long)f->hi)
                return floe_err_user(err, FLOE_EINVAL, "cron: %s: \"%s\": bad step", f->name, item);
            step = (unsigned)st;
            p = e;
            if (!range)
                hi = f->hi; /* "5/15" = 5-max/15 */
        }
        if (*p != '\0')
            return floe_err_user(err, FLOE_EINVAL, "cron: %s: unexpected \"%s\" in \"%s\"", f->name,
                                 p, item);
        if (lo < f->lo || hi > f->hi || lo > hi)
            return floe_err_user(err, FLOE_EINVAL, "cron: %s: \"%s\" is outside %u-%u", f->name,
                                 item, f->lo, f->hi);
        for (unsigned v = lo; v <= hi; v += step)
            *bits |= 1ULL << v;
    }
    return FLOE_OK;
}

floe_rc
floe_cron_parse(const char *expr, floe_cron *out, floe_err *err)
{
    static const struct {
        const char *macro, *expr;
    } macros[] = {{"@yearly", "0 0 1 1 *"}, {"@annually", "0 0 1 1 *"}, {"@monthly", "0 0 1 * *"},
                  {"@weekly", "0 0 * * 0"}, {"@daily", "0 0 * * *"},    {"@midnight", "0 0 * * *"},
                  {"@hourly", "0 * * * *"}};
    memset(out, 0, sizeof(*out));
    if (expr[0] == '@') {
        for (size_t i = 0; i < sizeof(macros) / sizeof(macros[0]); i++) {
            if (strcmp(expr, macros[i].macro) == 0)
                return floe_cron_parse(macros[i].expr, out, err);
        }
        return floe_err_user(err, FLOE_EINVAL,
                             "cron: \"%.32s\" is not @hourly, @daily, @weekly, @monthly or @yearly",
                             expr);
    }
    const char *p = expr;
    uint64_t bits[5];
    bool star[5];
    int n = 0;
    while (*p) {
        while (*p == ' ' || *p == '\t')
            p++;
        if (*p == '\0')
            break;
        const char *s = p;
        while (*p && *p != ' ' && *p != '\t')
            p++;
        if (n == 5)
            return floe_err_user(err, FLOE_EINVAL,
                                 "cron: more than 5 fields (minute hour day-of-month month "
                                 "day-of-week)");
        star[n] = *s == '*';
        floe_rc rc = parse_field(&fields[n], s, (size_t)(p - s), &bits[n], err);
        if (rc != FLOE_OK)
            return rc;
        n++;
    }
    if (n != 5)
        return floe_err_user(err, FLOE_EINVAL,
                             "cron: %d fields; expected 5 (minute hour day-of-month month "
                             "day-of-week)",
                             n);
    out->minute = bits[0];
    out->hour = (uint32_t)bits[1];
    out->dom = (uint32_t)bits[2];
    out->month = (uint16_t)bits[3];
    out->dow = (uint8_t)((bits[4] | (bits[4] >> 7)) & 0x7f); /* 7 is Sunday too */
    out->dom_star = star[2];
    out->dow_star = star[4];
    return FLOE_OK;
}

static bool
day_matches(const floe_cron *c, unsigned dom, unsigned wd)
{
    bool d = (c->dom >> dom) & 1, w = (c->dow >> wd) & 1;
    if (c->dom_star || c->dow_star)
        return d && w;
    return d || w;
}

/* The first (hour, minute) of the day at or after minute-of-day mod; -1 when none. */
static int
first_time(const floe_cron *c, int mod)
{
    for (int h = mod / 60; h < 24; h++) {
        if (!((c->hour >> h) & 1))
            continue;
        for (int m = h == mod / 60 ? mod % 60 : 0; m < 60; m++)
            if ((c->minute >> m) & 1)
                return h * 60 + m;
    }
    return -1;
}

int64_t
floe_cron_next(const floe_cron *c, const floe_tz *tz, int64_t t)
{
    int64_t local = t + floe_tz_offset(tz, t);
    /* Start one minute before the local minute of t: a local time that repeats can map
     * to an instant after t although its wall clock is not later. Candidates not after t
     * are passed over below. */
    int64_t lc = (local - (local % 60 + 60) % 60) - 60;
    int64_t y0, y;
    unsigned m, d;
    int64_t days = lc >= 0 ? lc / 86400 : -((-lc + 86399) / 86400);
    floe_civil_from_days(days, &y0, &m, &d);
    for (int guard = 0; guard < 200000; guard++) {
        days = lc >= 0 ? lc / 86400 : -((-lc + 86399) / 86400);
        floe_civil_from_days(days, &y, &m, &d);
        if (y > y0 + FLOE_CRON_HORIZON_YEARS)
            return -1;
        if (!((c->month >> m) & 1)) {
            unsigned nm = m == 12 ? 1 : m + 1;
            lc = floe_days_from_civil(m == 12 ? y + 1 : y, nm, 1) * 86400;
            continue;
        }
        if (!day_matches(c, d, floe_weekday(days))) {
            lc = (days + 1) * 86400;
            continue;
        }
        int mod = first_time(c, (int)((lc - days * 86400) / 60));
        if (mod < 0) {
            lc = (days + 1) * 86400;
            continue;
        }
        int64_t cand = days * 86400 + (int64_t)mod * 60;
        int64_t at[2];
        /* None (a gap): at[0] is when the clock jumps; two (a repeat): the first. */
        (void)floe_tz_local_to_utc(tz, cand, at);
        if (at[0] > t)
            return at[0];
        lc = cand + 60;
    }
    return -1;
}

int64_t
floe_rate_next(uint64_t rate_s, int64_t t)
{
    if (rate_s == 0)
        return -1;
    int64_t r = (int64_t)rate_s;
    int64_t k = t >= 0 ? t / r : -((-t + r - 1) / r);
    return (k + 1) * r;
}
