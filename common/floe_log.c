#include "floe_log.h"

#include "floe_time.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

floe_log_level floe_log_min_level = FLOE_LOG_INFO;
static floe_log_format log_format = FLOE_LOG_LOGFMT;
static int log_fd = 2;

#define LOG_LINE_MAX 4096
#define LOG_MSG_MAX 2048

static const char *const level_names[] = {"debug", "info", "warn", "error"};

void
floe_log_setup(floe_log_level min, floe_log_format format, int fd)
{
    floe_log_min_level = min;
    log_format = format;
    log_fd = fd;
}

const char *
floe_log_level_name(floe_log_level level)
{
    if ((unsigned)level < sizeof(level_names) / sizeof(level_names[0]))
        return level_names[level];
    return "unknown";
}

floe_rc
floe_log_level_parse(const char *s, floe_log_level *out)
{
    for (unsigned i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++) {
        if (strcmp(s, level_names[i]) == 0) {
            *out = (floe_log_level)i;
            return FLOE_OK;
        }
    }
    return FLOE_EINVAL;
}

/* --- line building ------------------------------------------------------------------- */

typedef struct log_buf {
    char data[LOG_LINE_MAX];
    size_t len;
} log_buf;

static void
buf_putc(log_buf *b, char c)
{
    /* Keep one byte for the newline. */
    if (b->len < sizeof(b->data) - 1)
        b->data[b->len++] = c;
}

static void
buf_puts(log_buf *b, const char *s)
{
    while (*s != '\0')
        buf_putc(b, *s++);
}

static bool
logfmt_needs_quotes(const char *s)
{
    if (*s == '\0')
        return true;
    for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++) {
        if (*p <= ' ' || *p == '"' || *p == '=' || *p == '\\' || *p == 0x7f)
            return true;
    }
    return false;
}

/* Escapes for both formats: quotes, backslashes and control characters; bytes >= 0x80 are
 * passed through (UTF-8 stays readable). */
static void
buf_put_escaped(log_buf *b, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++) {
        switch (*p) {
        case '"':
            buf_puts(b, "\\\"");
            break;
        case '\\':
            buf_puts(b, "\\\\");
            break;
        case '\n':
            buf_puts(b, "\\n");
            break;
        case '\r':
            buf_puts(b, "\\r");
            break;
        case '\t':
            buf_puts(b, "\\t");
            break;
        default:
            if (*p < 0x20 || *p == 0x7f) {
                buf_puts(b, "\\u00");
                buf_putc(b, hex[*p >> 4]);
                buf_putc(b, hex[*p & 15]);
            } else {
                buf_putc(b, (char)*p);
            }
        }
    }
}

static void
buf_put_str(log_buf *b, const char *key, const char *value, bool first)
{
    if (log_format == FLOE_LOG_JSON) {
        buf_puts(b, first ? "{\"" : ",\"");
        buf_puts(b, key);
        buf_puts(b, "\":\"");
        buf_put_escaped(b, value);
        buf_putc(b, '"');
        return;
    }
    if (!first)
        buf_putc(b, ' ');
    buf_puts(b, key);
    buf_putc(b, '=');
    if (logfmt_needs_quotes(value)) {
        buf_putc(b, '"');
        buf_put_escaped(b, value);
        buf_putc(b, '"');
    } else {
        buf_puts(b, value);
    }
}

static void
buf_put_uint(log_buf *b, const char *key, unsigned long long value)
{
    char num[24];
    snprintf(num, sizeof(num), "%llu", value);
    if (log_format == FLOE_LOG_JSON) {
        buf_puts(b, ",\"");
        buf_puts(b, key);
        buf_puts(b, "\":");
    } else {
        buf_putc(b, ' ');
        buf_puts(b, key);
        buf_putc(b, '=');
    }
    buf_puts(b, num);
}

void
floe_log_write(floe_log_level level, const floe_log_ctx *ctx, const char *fmt, ...)
{
    int saved_errno = errno;
    log_buf b;
    b.len = 0;

    char ts[32];
    floe_time_format(floe_now_us(), ts, sizeof(ts));
    buf_put_str(&b, "ts", ts, true);
    buf_put_str(&b, "level", floe_log_level_name(level), false);
    if (ctx != NULL && ctx->comp != NULL)
        buf_put_str(&b, "comp", ctx->comp, false);

    char msg[LOG_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (n < 0)
        snprintf(msg, sizeof(msg), "(unformattable log message)");
    else if ((size_t)n >= sizeof(msg))
        memcpy(msg + sizeof(msg) - 4, "...", 4);
    buf_put_str(&b, "msg", msg, false);

    if (ctx != NULL) {
        if (ctx->exec != NULL)
            buf_put_str(&b, "exec", ctx->exec, false);
        if (ctx->node != NULL)
            buf_put_str(&b, "node", ctx->node, false);
        if (ctx->attempt != 0)
            buf_put_uint(&b, "attempt", ctx->attempt);
        if (ctx->epoch != 0)
            buf_put_uint(&b, "epoch", ctx->epoch);
    }
    if (log_format == FLOE_LOG_JSON) {
        if (b.len >= sizeof(b.data) - 2)
            b.len = sizeof(b.data) - 2; /* truncated: still close the object */
        b.data[b.len++] = '}';
    }
    b.data[b.len++] = '\n';

    /* One write per line; a short write to a full pipe is retried, never split across
     * other lines' writes from this thread. */
    size_t off = 0;
    while (off < b.len) {
        ssize_t w = write(log_fd, b.data + off, b.len - off);
        if (w == -1) {
            if (errno == EINTR)
                continue;
            break;
        }
        off += (size_t)w;
    }
    errno = saved_errno;
}
