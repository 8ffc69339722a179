/*
 * TZif reading and POSIX TZ rules. Only the 64-bit (version 2+) section is used; leap
 * second records are skipped (zoneinfo "right/" files are not supported as schedules work
 * in POSIX time). Files are small (a few KiB) and bounded on read.
 */
#include "floe_tz.h"

#include "floe_mem.h"
#include "floe_text.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TZ_FILE_MAX (256 * 1024)
#define TZ_SPAN (30 * 3600) /* beyond any UTC offset: the window local_to_utc searches */

typedef struct tz_rule_pt {
    unsigned month, week, wday; /* Mm.w.d */
    int32_t time;               /* seconds after local midnight (may be < 0 or > 24h) */
} tz_rule_pt;

struct floe_tz {
    char name[FLOE_TZ_NAME_MAX + 1];
    int64_t *trans; /* transition instants, ascending */
    uint8_t *idx;   /* type of each transition */
    int32_t *types; /* UTC offset of each local time type */
    size_t n_trans, n_types;
    /* The footer rule, for instants after the last transition. */
    bool has_rule, rule_dst;
    int32_t std_off, dst_off;
    tz_rule_pt start, end;
};

/* --- Calendar -------------------------------------------------------------------------- */

/* Howard Hinnant's days_from_civil / civil_from_days. */
int64_t
floe_days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

void
floe_civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (int64_t)yoe + era * 400 + (*m <= 2);
}

unsigned
floe_weekday(int64_t days)
{
    int64_t w = (days + 4) % 7; /* 1970-01-01 was a Thursday */
    return (unsigned)(w < 0 ? w + 7 : w);
}

static int64_t
floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

/* --- POSIX TZ footer ------------------------------------------------------------------- */

static const char *
skip_abbr(const char *p)
{
    if (*p == '<') {
        const char *e = strchr(p, '>');
        return e != NULL ? e + 1 : NULL;
    }
    const char *s = p;
    while ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z'))
        p++;
    return p - s >= 3 ? p : NULL;
}

/* [+-]hh[:mm[:ss]] into seconds. */
static const char *
parse_hms(const char *p, int32_t *out)
{
    int sign = 1;
    if (*p == '+' || *p == '-')
        sign = *p++ == '-' ? -1 : 1;
    if (*p < '0' || *p > '9')
        return NULL;
    long v[3] = {0, 0, 0};
    for (int i = 0; i < 3; i++) {
        char *e;
        v[i] = strtol(p, &e, 10);
        if (e == p || v[i] < 0 || v[i] > 167)
            return NULL;
        p = e;
        if (*p != ':' || i == 2)
            break;
        p++;
    }
    *out = sign * (int32_t)(v[0] * 3600 + v[1] * 60 + v[2]);
    return p;
}

static const char *
parse_rule_pt(const char *p, tz_rule_pt *pt)
{
    if (*p != 'M') /* Jn and n forms are not used by current zoneinfo */
        return NULL;
    char *e;
    long m = strtol(p + 1, &e, 10);
    if (*e != '.')
        return NULL;
    long w = strtol(e + 1, &e, 10);
    if (*e != '.')
        return NULL;
    long d = strtol(e + 1, &e, 10);
    if (m < 1 || m > 12 || w < 1 || w > 5 || d < 0 || d > 6)
        return NULL;
    pt->month = (unsigned)m;
    pt->week = (unsigned)w;
    pt->wday = (unsigned)d;
    pt->time = 7200;
    p = e;
    if (*p == '/')
        p = parse_hms(p + 1, &pt->time);
    return p;
}

static bool
parse_footer(floe_tz *tz, const char *s)
{
    const char *p = skip_abbr(s);
    int32_t off;
    if (p == NULL || (p = parse_hms(p, &off)) == NULL)
        return false;
    tz->std_off = -off;
    tz->has_rule = true;
    if (*p == '\0')
        return true;
    if ((p = skip_abbr(p)) == NULL)
        return false;
    tz->dst_off = tz->std_off + 3600;
    if (*p != ',' && *p != '\0') {
        if ((p = parse_hms(p, &off)) == NULL)
            return false;
        tz->dst_off = -off;
    }
    if (*p != ',' || (p = parse_rule_pt(p + 1, &tz->start)) == NULL || *p != ',' ||
        (p = parse_rule_pt(p + 1, &tz->end)) == NULL || *p != '\0')
        return false;
    tz->rule_dst = true;
    return true;
}

/* Local seconds (since 1970, wall clock) of rule point pt in year y. */
static int64_t
rule_local(const tz_rule_pt *pt, int64_t y)
{
    int64_t first = floe_days_from_civil(y, pt->month, 1);
    unsigned wd = floe_weekday(first);
    int64_t day = first + (int64_t)((pt->wday + 7 - wd) % 7) + 7 * (int64_t)(pt->week - 1);
    unsigned mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    unsigned dim =
        mdays[pt->month - 1] + (pt->month == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0));
    while (day >= first + dim) /* week 5 = the last such weekday */
        day -= 7;
    return day * 86400 + pt->time;
}

/* DST start and end instants (UTC) of year y. */
static void
rule_year(const floe_tz *tz, int64_t y, int64_t *start, int64_t *end)
{
    *start = rule_local(&tz->start, y) - tz->std_off;
    *end = rule_local(&tz->end, y) - tz->dst_off;
}

static int32_t
rule_offset(const floe_tz *tz, int64_t t)
{
    if (!tz->rule_dst)
        return tz->std_off;
    int64_t y, s, e;
    unsigned m, d;
    floe_civil_from_days(floor_div(t + tz->std_off, 86400), &y, &m, &d);
    rule_year(tz, y, &s, &e);
    bool dst = s < e ? (t >= s && t < e) : !(t >= e && t < s);
    return dst ? tz->dst_off : tz->std_off;
}

static int64_t
rule_next_change(const floe_tz *tz, int64_t t)
{
    if (!tz->rule_dst)
        return INT64_MAX;
    int64_t y, best = INT64_MAX;
    unsigned m, d;
    floe_civil_from_days(floor_div(t, 86400), &y, &m, &d);
    for (int64_t k = y - 1; k <= y + 1; k++) {
        int64_t s, e;
        rule_year(tz, k, &s, &e);
        if (s > t && s < best)
            best = s;
        if (e > t && e < best)
            best = e;
    }
    return best;
}

/* --- TZif ------------------------------------------------------------------------------ */

static uint32_t
be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int64_t
be64(const uint8_t *p)
{
    return (int64_t)((uint64_t)be32(p) << 32 | be32(p + 4));
}

static bool
tzif_parse(floe_tz *tz, const uint8_t *b, size_t len)
{
    if (len < 44 || memcmp(b, "TZif", 4) != 0 || b[4] < '2')
        return false;
    uint32_t c[6];
    for (int i = 0; i < 6; i++)
        c[i] = be32(b + 20 + 4 * i);
    /* v1 block: isut, isstd, leap, time, type, char counts */
    size_t skip = 44 + (size_t)c[3] * 5 + (size_t)c[4] * 6 + c[5] + (size_t)c[2] * 8 + c[1] + c[0];
    if (skip + 44 > len || memcmp(b + skip, "TZif", 4) != 0)
        return false;
    const uint8_t *h = b + skip;
    for (int i = 0; i < 6; i++)
        c[i] = be32(h + 20 + 4 * i);
    size_t ntrans = c[3], ntypes = c[4];
    if (ntypes == 0 || ntypes > 256 || ntrans > 100000)
        return false;
    size_t data = (size_t)ntrans * 9 + ntypes * 6 + c[5] + (size_t)c[2] * 12 + c[1] + c[0];
    const uint8_t *p = h + 44;
    if (skip + 44 + data > len)
        return false;
    tz->trans = floe_malloc((ntrans + 1) * sizeof(*tz->trans));
    tz->idx = floe_malloc(ntrans + 1);
    tz->types = floe_malloc(ntypes * sizeof(*tz->types));
    if (tz->trans == NULL || tz->idx == NULL || tz->types == NULL)
        return false;
    for (size_t i = 0; i < ntrans; i++)
        tz->trans[i] = be64(p + 8 * i);
    p += ntrans * 8;
    for (size_t i = 0; i < ntrans; i++) {
        if (p[i] >= ntypes)
            return false;
        tz->idx[i] = p[i];
    }
    p += ntrans;
    for (size_t i = 0; i < ntypes; i++)
        tz->types[i] = (int32_t)be32(p + 6 * i);
    tz->n_trans = ntrans;
    tz->n_types = ntypes;
    const uint8_t *footer = h + 44 + data, *end = b + len;
    if (footer < end && *footer == '\n') {
        const uint8_t *nl = memchr(footer + 1, '\n', (size_t)(end - footer - 1));
        if (nl != NULL && nl - footer - 1 < 128 && nl > footer + 1) {
            char s[128];
            memcpy(s, footer + 1, (size_t)(nl - footer - 1));
            s[nl - footer - 1] = '\0';
            if (!parse_footer(tz, s))
                tz->has_rule = tz->rule_dst = false; /* fall back to the last transition */
        }
    }
    return true;
}

void
floe_tz_free(floe_tz *tz)
{
    if (tz == NULL)
        return;
    floe_free(tz->trans);
    floe_free(tz->idx);
    floe_free(tz->types);
    floe_free(tz);
}

const char *
floe_tz_name(const floe_tz *tz)
{
    return tz != NULL ? tz->name : "UTC";
}

static bool
name_ok(const char *name)
{
    if (name[0] == '/' || name[0] == '\0' || strstr(name, "..") != NULL ||
        strlen(name) > FLOE_TZ_NAME_MAX)
        return false;
    for (const char *p = name; *p; p++) {
        if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
              *p == '/' || *p == '_' || *p == '-' || *p == '+'))
            return false;
    }
    return true;
}

floe_tz *
floe_tz_load(const char *name, floe_err *err)
{
    floe_tz *tz = floe_calloc(1, sizeof(*tz));
    if (tz == NULL) {
        floe_err_sys(err, FLOE_ENOMEM, "time zone: out of memory");
        return NULL;
    }
    if (name == NULL || name[0] == '\0' || strcmp(name, "UTC") == 0) {
        snprintf(tz->name, sizeof(tz->name), "UTC");
        tz->has_rule = true; /* no transitions: offset 0 */
        return tz;
    }
    if (!name_ok(name)) {
        floe_err_user(err, FLOE_EINVAL,
                      "time zone \"%.64s\" is not an IANA zone name such as Europe/Berlin", name);
        floe_tz_free(tz);
        return NULL;
    }
    floe_free(tz);
    const char *dir = getenv("FLOE_ZONEINFO");
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", dir != NULL && dir[0] ? dir : "/usr/share/zoneinfo",
             name);
    FILE *f = fopen(path, "rb");
    uint8_t *buf = f != NULL ? floe_malloc(TZ_FILE_MAX) : NULL;
    size_t len = buf != NULL ? fread(buf, 1, TZ_FILE_MAX, f) : 0;
    floe_tz *tz_out = NULL;
    if (f == NULL) {
        floe_err_user(err, FLOE_EINVAL, "time zone \"%s\" is unknown (no %s: %s)", name, path,
                      strerror(errno));
    } else if (buf == NULL) {
        floe_err_sys(err, FLOE_ENOMEM, "time zone: out of memory");
    } else if (len == TZ_FILE_MAX) {
        floe_err_user(err, FLOE_EINVAL, "time zone \"%s\": %s is too large", name, path);
    } else if ((tz_out = floe_tz_parse(name, buf, len, err)) == NULL && err != NULL &&
               err->code == FLOE_EINVAL) {
        floe_err_prefix(err, "%s", path);
    }
    if (f != NULL)
        fclose(f);
    floe_free(buf);
    return tz_out;
}

floe_tz *
floe_tz_parse(const char *name, const uint8_t *data, size_t len, floe_err *err)
{
    floe_tz *tz = floe_calloc(1, sizeof(*tz));
    if (tz == NULL) {
        floe_err_sys(err, FLOE_ENOMEM, "time zone: out of memory");
        return NULL;
    }
    floe_text_copy(tz->name, sizeof(tz->name), name, strlen(name));
    if (!tzif_parse(tz, data, len)) {
        floe_err_user(err, FLOE_EINVAL, "time zone \"%s\": not a TZif file we can read", tz->name);
        floe_tz_free(tz);
        return NULL;
    }
    return tz;
}

int32_t
floe_tz_offset(const floe_tz *tz, int64_t t)
{
    if (tz == NULL)
        return 0;
    if (tz->n_trans == 0)
        return tz->has_rule ? rule_offset(tz, t) : tz->types[0];
    if (t < tz->trans[0])
        return tz->types[0];
    if (t >= tz->trans[tz->n_trans - 1] && tz->has_rule)
        return rule_offset(tz, t);
    size_t lo = 0, hi = tz->n_trans; /* last transition <= t */
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (tz->trans[mid] <= t)
            lo = mid;
        else
            hi = mid;
    }
    return tz->types[tz->idx[lo]];
}

int64_t
floe_tz_next_change(const floe_tz *tz, int64_t t)
{
    if (tz == NULL)
        return INT64_MAX;
    for (int guard = 0; guard < 64; guard++) {
        int64_t c = INT64_MAX;
        if (tz->n_trans > 0 && t < tz->trans[tz->n_trans - 1]) {
            size_t lo = 0, hi = tz->n_trans - 1; /* first transition > t */
            while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                if (tz->trans[mid] > t)
                    hi = mid;
                else
                    lo = mid + 1;
            }
            c = tz->trans[lo];
        } else if (tz->has_rule) {
            c = rule_next_change(tz, t);
        }
        if (c == INT64_MAX || floe_tz_offset(tz, c) != floe_tz_offset(tz, c - 1))
            return c;
        t = c; /* only the abbreviation or DST flag changed */
    }
    return INT64_MAX;
}

int
floe_tz_local_to_utc(const floe_tz *tz, int64_t local, int64_t at[2])
{
    if (tz == NULL) {
        at[0] = local;
        return 1;
    }
    /* Offset segments over a window wider than any offset around local. */
    int64_t from = local - TZ_SPAN, to = local + TZ_SPAN;
    int64_t seg_start = from;
    int32_t off = floe_tz_offset(tz, from);
    int n = 0;
    int64_t gap = INT64_MAX;
    for (int guard = 0; guard < 16 && seg_start < to; guard++) {
        int64_t next = floe_tz_next_change(tz, seg_start);
        int64_t seg_end = next < to ? next : to;
        int64_t u = local - off;
        if (u >= seg_start && u < seg_end && n < 2)
            at[n++] = u;
        if (next >= to)
            break;
        int32_t noff = floe_tz_offset(tz, next);
        if (n == 0 && next + off <= local && local < next + noff && gap == INT64_MAX)
            gap = next;
        seg_start = next;
        off = noff;
    }
    if (n == 0)
        at[0] = gap != INT64_MAX ? gap : local - floe_tz_offset(tz, local);
    return n;
}
