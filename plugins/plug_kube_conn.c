/*
 * plug_kube_conn — where the Kubernetes executor finds the API server and how it
 * authenticates: a kubeconfig (its current context: server, CA, client certificate or
 * token, inline or by file) or the settings kubernetes.* (in a pod: the service account's
 * files). Tested by tests/unit/test_kubeconfig.c.
 */
#include "plug_kube.h"

#include "floe_mem.h"

#include <errno.h>
#include <limits.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <pthread.h>
#include <sys/stat.h>
#include <yaml.h>

static char *
slurp(const char *path, size_t max)
{
    FILE *f = fopen(path, "re");
    if (f == NULL)
        return NULL;
    char *buf = floe_malloc(max + 1);
    size_t n = buf != NULL ? fread(buf, 1, max, f) : 0;
    fclose(f);
    if (buf == NULL)
        return NULL;
    buf[n] = '\0';
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' '))
        buf[--n] = '\0';
    return buf;
}

struct plug_kube_token {
    pthread_mutex_t mu;
    char *path;
    struct stat seen; /* the file as last read */
};

/* Remembers path as the token's source (c->token was just read from it). */
static floe_rc
token_from_file(plug_kube_conn *c, const char *path, floe_err *err)
{
    plug_kube_token *t = floe_calloc(1, sizeof(*t));
    if (t == NULL || (t->path = floe_strdup(path)) == NULL) {
        floe_free(t);
        return floe_err_sys(err, FLOE_ENOMEM, "out of memory");
    }
    pthread_mutex_init(&t->mu, NULL);
    stat(path, &t->seen);
    c->rotating = t;
    return FLOE_OK;
}

floe_rc
plug_kube_conn_token(const plug_kube_conn *c, char *out, size_t size, floe_err *err)
{
    if (c->token == NULL && c->exec != NULL)
        return plug_kube_exec_token(c->exec, out, size, err);
    plug_kube_conn *m = (plug_kube_conn *)c; /* the token may change under a const conn */
    plug_kube_token *t = c->rotating;
    if (t != NULL) {
        pthread_mutex_lock(&t->mu);
        struct stat st;
        if (stat(t->path, &st) == 0 &&
            (st.st_mtim.tv_sec != t->seen.st_mtim.tv_sec ||
             st.st_mtim.tv_nsec != t->seen.st_mtim.tv_nsec || st.st_ino != t->seen.st_ino ||
             st.st_size != t->seen.st_size)) {
            char *fresh = slurp(t->path, 16384);
            if (fresh != NULL) { /* unreadable for a moment: keep the old one */
                floe_free(m->token);
                m->token = fresh;
                t->seen = st;
            }
        }
    }
    snprintf(out, size, "%s", c->token != NULL ? c->token : "");
    if (t != NULL)
        pthread_mutex_unlock(&t->mu);
    return FLOE_OK;
}

void
plug_kube_conn_unauthorized(const plug_kube_conn *c)
{
    if (c->token == NULL && c->exec != NULL)
        plug_kube_exec_forget(c->exec);
}

static char *
b64_decode(const char *in)
{
    size_t len = strlen(in);
    unsigned char *out = floe_malloc(len + 1);
    if (out == NULL)
        return NULL;
    int n = EVP_DecodeBlock(out, (const unsigned char *)in, (int)len);
    if (n < 0) {
        floe_free(out);
        return NULL;
    }
    while (n > 0 && len > 0 && in[len - 1] == '=') { /* DecodeBlock counts padding bytes */
        n--;
        len--;
    }
    out[n] = '\0';
    return (char *)out;
}

static yaml_node_t *
y_get(yaml_document_t *doc, yaml_node_t *map, const char *key)
{
    if (map == NULL || map->type != YAML_MAPPING_NODE)
        return NULL;
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
         p++) {
        yaml_node_t *k = yaml_document_get_node(doc, p->key);
        if (k != NULL && k->type == YAML_SCALAR_NODE &&
            strcmp((const char *)k->data.scalar.value, key) == 0)
            return yaml_document_get_node(doc, p->value);
    }
    return NULL;
}

static const char *
y_str(yaml_node_t *n)
{
    return n != NULL && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

/* The `key` entry named name in a list of {name, key: {...}}. */
static yaml_node_t *
y_named(yaml_document_t *doc, yaml_node_t *list, const char *name, const char *key)
{
    if (list == NULL || list->type != YAML_SEQUENCE_NODE || name == NULL)
        return NULL;
    for (yaml_node_item_t *i = list->data.sequence.items.start; i < list->data.sequence.items.top;
         i++) {
        yaml_node_t *e = yaml_document_get_node(doc, *i);
        const char *n = y_str(y_get(doc, e, "name"));
        if (n != NULL && strcmp(n, name) == 0)
            return y_get(doc, e, key);
    }
    return NULL;
}

/* A file a kubeconfig names: a relative path is relative to the kubeconfig's directory,
 * as kubectl reads it. */
static char *
kc_path(const char *kubeconfig, const char *p)
{
    if (p[0] == '/')
        return floe_strdup(p);
    const char *slash = strrchr(kubeconfig, '/');
    int dir_len = slash != NULL ? (int)(slash - kubeconfig) : 1;
    size_t n = (size_t)dir_len + strlen(p) + 2;
    char *out = floe_malloc(n);
    if (out != NULL)
        snprintf(out, n, "%.*s/%s", dir_len, slash != NULL ? kubeconfig : ".", p);
    return out;
}

/* The contents of the file a kubeconfig's field names (at most max bytes). */
static floe_rc
kc_read(const char *kubeconfig, const char *field, const char *p, size_t max, char **out,
        floe_err *err)
{
    char *path = kc_path(kubeconfig, p);
    if (path == NULL)
        return floe_err_sys(err, FLOE_ENOMEM, "out of memory");
    floe_free(*out);
    errno = 0;
    *out = slurp(path, max);
    int e = errno;
    floe_rc rc = FLOE_OK;
    if (*out == NULL)
        rc = floe_err_user(err, FLOE_EINVAL, "kubeconfig %s: %s %s: %s", kubeconfig, field, path,
                           e != 0 ? strerror(e) : "cannot be read");
    floe_free(path);
    return rc;
}

/* users[].user.exec: {apiVersion, command, args: [...], env: [{name, value}]}. A
 * relative command with a slash is relative to the kubeconfig's directory; a bare name
 * is looked up on PATH, as kubectl does. */
static floe_rc
load_exec(yaml_document_t *doc, yaml_node_t *ex, const char *path, plug_kube_conn *c, floe_err *err)
{
    const char *cmd = y_str(y_get(doc, ex, "command"));
    const char *api = y_str(y_get(doc, ex, "apiVersion"));
    if (cmd == NULL || cmd[0] == '\0')
        return floe_err_user(err, FLOE_EINVAL, "kubeconfig %s: exec: no command", path);
    const char *args[64], *names[64], *values[64];
    size_t n_args = 0, n_env = 0;
    yaml_node_t *ay = y_get(doc, ex, "args"), *ey = y_get(doc, ex, "env");
    if (ay != NULL && ay->type == YAML_SEQUENCE_NODE)
        for (yaml_node_item_t *i = ay->data.sequence.items.start; i < ay->data.sequence.items.top;
             i++) {
            const char *a = y_str(yaml_document_get_node(doc, *i));
            if (a == NULL || n_args == 64)
                return floe_err_user(err, FLOE_EINVAL,
                                     "kubeconfig %s: exec: args must be at most 64 strings", path);
            args[n_args++] = a;
        }
    if (ey != NULL && ey->type == YAML_SEQUENCE_NODE)
        for (yaml_node_item_t *i = ey->data.sequence.items.start; i < ey->data.sequence.items.top;
             i++) {
            yaml_node_t *e = yaml_document_get_node(doc, *i);
            const char *n = y_str(y_get(doc, e, "name")), *v = y_str(y_get(doc, e, "value"));
            if (n == NULL || v == NULL || n[0] == '\0' || strchr(n, '=') != NULL || n_env == 64)
                return floe_err_user(err, FLOE_EINVAL,
                                     "kubeconfig %s: exec: env must be at most 64 {name, value}",
                                     path);
            names[n_env] = n;
            values[n_env++] = v;
        }
    char *resolved = strchr(cmd, '/') != NULL ? kc_path(path, cmd) : floe_strdup(cmd);
    if (resolved == NULL)
        return floe_err_sys(err, FLOE_ENOMEM, "out of memory");
    c->exec = plug_kube_exec_new(api, resolved, args, n_args, names, values, n_env, err);
    floe_free(resolved);
    return c->exec != NULL ? FLOE_OK : err->code;
}

static floe_rc
load_kubeconfig(const char *path, plug_kube_conn *c, floe_err *err)
{
    FILE *f = fopen(path, "re");
    if (f == NULL)
        return floe_err_user(err, FLOE_ENOTFOUND, "kubeconfig %s: %s", path, strerror(errno));
    yaml_parser_t parser;
    yaml_document_t doc;
    floe_rc rc = FLOE_OK;
    yaml_parser_initialize(&parser);
    yaml_parser_set_input_file(&parser, f);
    if (!yaml_parser_load(&parser, &doc)) {
        yaml_parser_delete(&parser);
        fclose(f);
        return floe_err_user(err, FLOE_EINVAL, "kubeconfig %s: not YAML", path);
    }
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    const char *ctx_name = y_str(y_get(&doc, root, "current-context"));
    yaml_node_t *ctx = y_named(&doc, y_get(&doc, root, "contexts"), ctx_name, "context");
    const char *cluster_name = y_str(y_get(&doc, ctx, "cluster"));
    const char *user_name = y_str(y_get(&doc, ctx, "user"));
    const char *ns = y_str(y_get(&doc, ctx, "namespace"));
    yaml_node_t *cl = y_named(&doc, y_get(&doc, root, "clusters"), cluster_name, "cluster");
    yaml_node_t *us = y_named(&doc, y_get(&doc, root, "users"), user_name, "user");
    const char *server = y_str(y_get(&doc, cl, "server"));
    if (ctx == NULL || cl == NULL || server == NULL) {
        rc = floe_err_user(err, FLOE_EINVAL,
                           "kubeconfig %s: current-context \"%s\" has no cluster with a server",
                           path, ctx_name != NULL ? ctx_name : "");
        goto out;
    }
    snprintf(c->server, sizeof(c->server), "%s", server);
    if (ns != NULL)
        snprintf(c->ns, sizeof(c->ns), "%s", ns);
    const char *v;
    if ((v = y_str(y_get(&doc, cl, "certificate-authority"))) != NULL &&
        (c->ca_file = kc_path(path, v)) == NULL) {
        rc = floe_err_sys(err, FLOE_ENOMEM, "out of memory");
        goto out;
    }
    if ((v = y_str(y_get(&doc, cl, "certificate-authority-data"))) != NULL)
        c->ca_pem = b64_decode(v);
    if ((v = y_str(y_get(&doc, cl, "insecure-skip-tls-verify"))) != NULL)
        c->insecure = strcmp(v, "true") == 0;
    if ((v = y_str(y_get(&doc, us, "token"))) != NULL)
        c->token = floe_strdup(v);
    /* As client-go: token over tokenFile, *-data over the file names. */
    if (c->token == NULL && (v = y_str(y_get(&doc, us, "tokenFile"))) != NULL) {
        char *tf = kc_path(path, v);
        if ((rc = kc_read(path, "tokenFile", v, 16384, &c->token, err)) == FLOE_OK)
            rc = tf != NULL ? token_from_file(c, tf, err)
                            : floe_err_sys(err, FLOE_ENOMEM, "out of memory");
        floe_free(tf);
        if (rc != FLOE_OK)
            goto out;
    }
    yaml_node_t *ex = y_get(&doc, us, "exec");
    if (c->token == NULL && ex != NULL && (rc = load_exec(&doc, ex, path, c, err)) != FLOE_OK)
        goto out;
    if ((v = y_str(y_get(&doc, us, "client-certificate"))) != NULL &&
        (rc = kc_read(path, "client-certificate", v, 65536, &c->cert_pem, err)) != FLOE_OK)
        goto out;
    if ((v = y_str(y_get(&doc, us, "client-key"))) != NULL &&
        (rc = kc_read(path, "client-key", v, 65536, &c->key_pem, err)) != FLOE_OK)
        goto out;
    if ((v = y_str(y_get(&doc, us, "client-certificate-data"))) != NULL) {
        floe_free(c->cert_pem);
        c->cert_pem = b64_decode(v);
    }
    if ((v = y_str(y_get(&doc, us, "client-key-data"))) != NULL) {
        floe_free(c->key_pem);
        c->key_pem = b64_decode(v);
    }
out:
    yaml_document_delete(&doc);
    yaml_parser_delete(&parser);
    fclose(f);
    return rc;
}

floe_rc
plug_kube_conn_load(const floe_config *cfg, plug_kube_conn *c, floe_err *err)
{
    memset(c, 0, sizeof(*c));
    floe_rc rc;
    if (cfg->kube_config[0] != '\0') {
        if ((rc = load_kubeconfig(cfg->kube_config, c, err)) != FLOE_OK) {
            plug_kube_conn_deinit(c); /* what was read before the problem */
            return rc;
        }
    } else {
        const char *host = getenv("KUBERNETES_SERVICE_HOST"),
                   *port = getenv("KUBERNETES_SERVICE_PORT");
        if (cfg->kube_api[0] != '\0')
            snprintf(c->server, sizeof(c->server), "%s", cfg->kube_api);
        else if (host != NULL && port != NULL)
            snprintf(c->server, sizeof(c->server), "https://%s:%s", host, port);
        else
            return floe_err_sys(err, FLOE_ENOTFOUND,
                                "no cluster configured (kubernetes.api, kubernetes.kubeconfig, "
                                "or in-cluster KUBERNETES_SERVICE_HOST)");
        if ((c->token = slurp(cfg->kube_token_file, 16384)) != NULL &&
            (rc = token_from_file(c, cfg->kube_token_file, err)) != FLOE_OK) {
            plug_kube_conn_deinit(c);
            return rc;
        }
        if (access(cfg->kube_ca_file, R_OK) == 0)
            c->ca_file = floe_strdup(cfg->kube_ca_file);
        char *ns = slurp("/var/run/secrets/kubernetes.io/serviceaccount/namespace", 63);
        if (ns != NULL)
            snprintf(c->ns, sizeof(c->ns), "%s", ns);
        floe_free(ns);
    }
    if (cfg->kube_namespace[0] != '\0')
        snprintf(c->ns, sizeof(c->ns), "%s", cfg->kube_namespace);
    if (c->ns[0] == '\0')
        snprintf(c->ns, sizeof(c->ns), "default");
    for (const char *p = c->ns; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-')) {
            plug_kube_conn_deinit(c);
            return floe_err_user(err, FLOE_EINVAL, "kubernetes namespace \"%s\" is not a DNS label",
                                 c->ns);
        }
    return FLOE_OK;
}

void
plug_kube_conn_deinit(plug_kube_conn *c)
{
    plug_kube_exec_free(c->exec);
    c->exec = NULL;
    if (c->rotating != NULL) {
        pthread_mutex_destroy(&c->rotating->mu);
        floe_free(c->rotating->path);
        floe_free(c->rotating);
        c->rotating = NULL;
    }
    floe_free(c->token);
    floe_free(c->ca_file);
    floe_free(c->ca_pem);
    floe_free(c->cert_pem);
    floe_free(c->key_pem);
    c->token = c->ca_file = c->ca_pem = c->cert_pem = c->key_pem = NULL;
}
