/*
 * floe_log — the one logger. One line per event, logfmt (default) or JSON:
 *   ts=2026-11-21T08:03:00.123Z level=info comp=bus msg="joined group" exec=... epoch=3
 * Context keys (execution, node, attempt, epoch) come from a floe_log_ctx that the caller
 * keeps with the unit of work, as nginx's ngx_log_t travels with a connection.
 *
 * floe_log() tests the level before its arguments are evaluated. Each line is written with
 * one write(2), so lines from several threads do not interleave. Never call it from a
 * signal handler. floe_log_setup() is called once, before threads start.
 */
#ifndef FLOE_LOG_H
#define FLOE_LOG_H

#include "floe_err.h"

#include <stdint.h>

typedef enum floe_log_level {
    FLOE_LOG_DEBUG = 0,
    FLOE_LOG_INFO = 1,
    FLOE_LOG_WARN = 2,
    FLOE_LOG_ERROR = 3,
} floe_log_level;

typedef enum floe_log_format {
    FLOE_LOG_LOGFMT = 0,
    FLOE_LOG_JSON = 1,
} floe_log_format;

/* Any field may be NULL/0 and is then left out of the line. */
typedef struct floe_log_ctx {
    const char *comp; /* component: "bus", "engine", "api", ... */
    const char *exec;
    const char *node;
    uint32_t attempt;
    uint64_t epoch;
} floe_log_ctx;

/* The process's minimum level; read by the floe_log() macro, set by floe_log_setup(). */
extern floe_log_level floe_log_min_level;

/* Lines go to fd (2 by default). */
void floe_log_setup(floe_log_level min, floe_log_format format, int fd);

#define floe_log(level, ctx, ...)                                                                  \
    do {                                                                                           \
        if ((level) >= floe_log_min_level)                                                         \
            floe_log_write((level), (ctx), __VA_ARGS__);                                           \
    } while (0)

#define floe_log_debug(ctx, ...) floe_log(FLOE_LOG_DEBUG, (ctx), __VA_ARGS__)
#define floe_log_info(ctx, ...) floe_log(FLOE_LOG_INFO, (ctx), __VA_ARGS__)
#define floe_log_warn(ctx, ...) floe_log(FLOE_LOG_WARN, (ctx), __VA_ARGS__)
#define floe_log_error(ctx, ...) floe_log(FLOE_LOG_ERROR, (ctx), __VA_ARGS__)

/* Use floe_log(); this is its out-of-line half. Lines longer than 4 KiB are truncated. */
void floe_log_write(floe_log_level level, const floe_log_ctx *ctx, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* "debug", "info", "warn", "error". */
const char *floe_log_level_name(floe_log_level level);
floe_rc floe_log_level_parse(const char *s, floe_log_level *out);

#endif
