/*
 * floe_config_int.h — the settings table's row type, shared by the loader
 * (floe_config.c) and the table itself (floe_config_table.c). Private to floe_config.
 */
#ifndef FLOE_CONFIG_INT_H
#define FLOE_CONFIG_INT_H

#include "floe_config.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum cfg_type {
    CFG_STRING = 1,
    CFG_INT = 2,
    CFG_DURATION = 3, /* milliseconds; "250ms", "5s", "2m", "1h", "7d"; bare numbers are ms */
    CFG_SIZE = 4,     /* bytes; "512KiB", "1MiB"; bare numbers are bytes */
    CFG_ENUM = 5,     /* stored as int, index into values */
} cfg_type;

#define CFG_SECRET 0x1u /* never printed */
#define CFG_URL 0x2u    /* printed with any password redacted */
#define CFG_KV 0x4u     /* k=v list printed with the values of secret-looking keys redacted */

typedef bool (*cfg_check_fn)(const char *value, char *why, size_t why_size);

typedef struct cfg_entry {
    const char *key;
    cfg_type type;
    size_t offset;
    const char *def;
    int64_t min, max; /* CFG_INT/DURATION/SIZE bounds; CFG_STRING max length */
    const char *env;
    unsigned flags;
    const char *const *values; /* CFG_ENUM: NULL-terminated */
    cfg_check_fn check;        /* optional extra validation of strings */
    const char *help;
} cfg_entry;

extern const cfg_entry floe_config_table[];
extern const size_t floe_config_table_n;

#endif
