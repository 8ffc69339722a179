/*
 * floe_kafka — librdkafka's configuration from Floe's settings, shared by the bus and by
 * floectl admin: the brokers, the client id and kafka.properties (SASL, TLS...).
 */
#include "floe_kafka.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

floe_rc
floe_kafka_set(rd_kafka_conf_t *conf, const char *key, const char *value, floe_err *err)
{
    char errstr[256];
    if (rd_kafka_conf_set(conf, key, value, errstr, sizeof(errstr)) != RD_KAFKA_CONF_OK)
        return floe_err_user(err, FLOE_EINVAL, "kafka property %s=%s: %s", key,
                             floe_config_key_secret(key, strlen(key)) ? "***" : value, errstr);
    return FLOE_OK;
}

/* Applies "k=v,k=v" (already checked by the config table). */
static floe_rc
conf_apply_list(rd_kafka_conf_t *conf, const char *list, floe_err *err)
{
    char kv[512];
    const char *p = list;
    while (*p != '\0') {
        const char *comma = strchr(p, ',');
        size_t len = comma != NULL ? (size_t)(comma - p) : strlen(p);
        if (len >= sizeof(kv))
            return floe_err_user(err, FLOE_EINVAL, "kafka.properties: entry too long");
        memcpy(kv, p, len);
        kv[len] = '\0';
        char *eq = strchr(kv, '=');
        if (eq != NULL) {
            *eq = '\0';
            if (floe_kafka_set(conf, kv, eq + 1, err) != FLOE_OK)
                return FLOE_EINVAL;
        }
        if (comma == NULL)
            break;
        p = comma + 1;
    }
    return FLOE_OK;
}

rd_kafka_conf_t *
floe_kafka_conf(const floe_config *cfg, const char *const *defaults, floe_err *err)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    bool ok = floe_kafka_set(conf, "bootstrap.servers", cfg->kafka_brokers, err) == FLOE_OK &&
              floe_kafka_set(conf, "client.id", cfg->producer_name, err) == FLOE_OK;
    for (size_t i = 0; ok && defaults != NULL && defaults[i] != NULL; i += 2)
        ok = floe_kafka_set(conf, defaults[i], defaults[i + 1], err) == FLOE_OK;
    if (!ok || conf_apply_list(conf, cfg->kafka_properties, err) != FLOE_OK) {
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    return conf;
}
