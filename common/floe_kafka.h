/*
 * floe_kafka — librdkafka's configuration from Floe's settings (floe_kafka.c).
 */
#ifndef FLOE_KAFKA_H
#define FLOE_KAFKA_H

#include "floe_config.h"
#include "floe_err.h"

#include <librdkafka/rdkafka.h>

/* One property; the error names it (a secret-looking value shown as ***). */
floe_rc floe_kafka_set(rd_kafka_conf_t *conf, const char *key, const char *value, floe_err *err);

/* A new configuration: bootstrap.servers (kafka.brokers), client.id (the program), the
 * caller's defaults (key, value, ..., NULL), then every kafka.properties entry, which
 * wins. NULL with err when librdkafka refuses one. */
rd_kafka_conf_t *floe_kafka_conf(const floe_config *cfg, const char *const *defaults,
                                 floe_err *err);

#endif
