/*
 * The console's files, embedded at build time (console/embed.cmake writes the table).
 */
#ifndef SCHED_API_CONSOLE_H
#define SCHED_API_CONSOLE_H

#include <stddef.h>

typedef struct console_asset {
    const char *name;   /* "app.js": served at /console/app.js ("index.html" also at /) */
    const char *type;   /* Content-Type */
    const char *sha256; /* hex: the ETag */
    const unsigned char *data;
    size_t len;
} console_asset;

extern const console_asset console_assets[];
extern const unsigned console_n_assets;

#endif
