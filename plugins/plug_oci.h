/*
 * plug_oci — the oci executor's bundle generation, exposed for its unit test.
 */
#ifndef PLUG_OCI_H
#define PLUG_OCI_H

#include "plug_exec.h"

#include <jansson.h>

/* The runtime spec (config.json) for spec over the (checked, real) rootfs; NULL when out
 * of memory. Caller owns the reference. */
json_t *plug_oci_config(const plug_spec *spec, const char *rootfs, const char *worker_id);

#endif
