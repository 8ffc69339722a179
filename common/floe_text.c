#include "floe_text.h"

#include <ctype.h>

#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* Length (1..4) of the well-formed sequence at p with left bytes available; 0 when the
 * bytes there are not one; -1 when they are the start of one cut short by the end. */
static int
seq_len(const unsigned char *p, size_t left)
{
    unsigned c = p[0];
    size_t n;
    unsigned min;
    if (c == 0)
        return 0;
    if (c < 0x80)
        return 1;
    if ((c & 0xE0) == 0xC0)
        n = 1, min = 0x80, c &= 0x1F;
    else if ((c & 0xF0) == 0xE0)
        n = 2, min = 0x800, c &= 0x0F;
    else if ((c & 0xF8) == 0xF0)
        n = 3, min = 0x10000, c &= 0x07;
    else
        return 0;
    size_t have = left - 1 < n ? left - 1 : n;
    for (size_t i = 1; i <= have; i++) {
        if ((p[i] & 0xC0) != 0x80)
            return 0;
        c = (c << 6) | (p[i] & 0x3F);
    }
    if (have < n)
        return -1;
    if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF))
        return 0;
    return (int)n + 1;
}

#define ONES UINT64_C(0x0101010101010101)
#define HIGHS UINT64_C(0x8080808080808080)

bool
floe_utf8_valid(const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    while (i < len) {
        /* Eight bytes at a time while they are ASCII and none is NUL: most of what is
         * checked (ids, names, the array literals of a map's 100,000 rows) is ASCII, and a
         * call a byte was ~4% of the scheduler's time on a map. */
        while (len - i >= 8) {
            uint64_t w;
            memcpy(&w, p + i, 8);
            if (((w | ((w - ONES) & ~w)) & HIGHS) != 0)
                break;
            i += 8;
        }
        if (i == len)
            break;
        int n = seq_len(p + i, len - i);
        if (n <= 0)
            return false;
        i += (size_t)n;
    }
    return true;
}

bool
floe_text_printable(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return false;
    return true;
}

size_t
floe_text_cut(const char *s, size_t len, size_t max)
{
    if (len <= max)
        return len;
    size_t n = max;
    /* Back over continuation bytes to the lead byte of the character at the cut; keep it
     * only when it ends exactly at max. At most 3 steps: longer runs are not UTF-8. */
    const unsigned char *p = (const unsigned char *)s;
    size_t k = 0;
    while (n > 0 && k < 3 && (p[n] & 0xC0) == 0x80)
        n--, k++;
    return n;
}

size_t
floe_text_fix(char *s, size_t len)
{
    unsigned char *p = (unsigned char *)s;
    size_t i = 0, o = 0;
    while (i < len) {
        int n = seq_len(p + i, len - i);
        if (n == -1)
            break; /* cut short by the end: drop it */
        if (n == 0) {
            p[o++] = '?';
            i++;
            continue;
        }
        if (o != i)
            memmove(p + o, p + i, (size_t)n);
        o += (size_t)n;
        i += (size_t)n;
    }
    s[o] = '\0';
    return o;
}

size_t
floe_text_copy(char *out, size_t cap, const char *s, size_t len)
{
    if (cap == 0)
        return 0;
    size_t n = len < cap - 1 ? len : cap - 1;
    memcpy(out, s, n);
    /* A sequence split by the copy is incomplete at the end, and fix drops it. */
    return floe_text_fix(out, n);
}

size_t
floe_text_vfmt(char *out, size_t cap, const char *fmt, va_list ap)
{
    if (cap == 0)
        return 0;
    int n = vsnprintf(out, cap, fmt, ap);
    if (n < 0) {
        out[0] = '\0';
        return 0;
    }
    size_t len = (size_t)n < cap ? (size_t)n : cap - 1;
    /* An argument may hold a NUL-free but broken string; vsnprintf cuts at a byte. */
    len = strnlen(out, len);
    return floe_text_fix(out, len);
}

size_t
floe_text_fmt(char *out, size_t cap, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    size_t n = floe_text_vfmt(out, cap, fmt, ap);
    va_end(ap);
    return n;
}

char *
floe_text_trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    char *end = s + strlen(s);
    while (end > s && isspace((unsigned char)end[-1]))
        *--end = '\0';
    return s;
}
