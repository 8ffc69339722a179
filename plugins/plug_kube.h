/*
 * plug_kube — the kubernetes executor's pieces that need no cluster, exposed for tests:
 * the connection settings (in-cluster or a kubeconfig) and the Pod built for an attempt.
 */
#ifndef PLUG_KUBE_H
#define PLUG_KUBE_H

#include "floe_config.h"
#include "plug_exec.h"

#include <jansson.h>
#include <stdbool.h>

#define KUBE_SERVER_MAX 512
#define KUBE_NS_MAX 64

/* How to reach the API server. Blobs are PEM text (malloc'd, NUL-terminated). */
typedef struct plug_kube_token plug_kube_token;
typedef struct plug_kube_exec plug_kube_exec;
typedef struct plug_kube_conn {
    char server[KUBE_SERVER_MAX]; /* https://host:port */
    char ns[KUBE_NS_MAX];
    char *token;
    plug_kube_token *rotating; /* the token came from a file: re-read when it changes */
    plug_kube_exec *exec;      /* the token comes from a credential plugin (kubeconfig exec) */
    char *ca_file;
    char *ca_pem, *cert_pem, *key_pem;
    bool insecure;
} plug_kube_conn;

/* From cfg: kubernetes.kubeconfig (its current context: server, CA, token or client
 * certificate, namespace) when set; otherwise kubernetes.api or the in-cluster
 * KUBERNETES_SERVICE_HOST/PORT, with the service account's token, CA and namespace
 * (kubernetes.namespace overrides). FLOE_ENOTFOUND when no cluster is configured. */
floe_rc plug_kube_conn_load(const floe_config *cfg, plug_kube_conn *out, floe_err *err);
void plug_kube_conn_deinit(plug_kube_conn *c);

/* The bearer token to send now, into out (empty: none). A token read from a file (a
 * projected service-account token, a kubeconfig tokenFile) is read again whenever the
 * file changed, as client-go does, since the kubelet rotates it; a kubeconfig `exec`
 * plugin runs when its token is missing or about to expire. Thread-safe. Fails only for
 * a plugin that could not give a token (err says why). */
floe_rc plug_kube_conn_token(const plug_kube_conn *c, char *out, size_t size, floe_err *err);

/* The API server refused the token (401): a plugin's is asked for again next time. */
void plug_kube_conn_unauthorized(const plug_kube_conn *c);

/* plug_kube_exec.c: a kubeconfig exec credential plugin (command, args, env; the
 * ExecCredential apiVersion). */
plug_kube_exec *plug_kube_exec_new(const char *api_version, const char *command,
                                   const char *const *args, size_t n_args,
                                   const char *const *env_names, const char *const *env_values,
                                   size_t n_env, floe_err *err);
void plug_kube_exec_free(plug_kube_exec *x);
/* The plugin's token, run again when it has none or it expires within a minute. */
floe_rc plug_kube_exec_token(plug_kube_exec *x, char *out, size_t size, floe_err *err);
void plug_kube_exec_forget(plug_kube_exec *x);

/* The Pod for an attempt (caller owns it): name floe-<run_id>, labels for execution, node,
 * attempt and the worker slot, restartPolicy Never, one container "task" with the image,
 * argv as command, the task's env plus FLOE_* (inputs as FLOE_INPUTS_JSON) and CPU/memory
 * requests = limits. NULL when out of memory. */
json_t *plug_kube_pod(const plug_spec *spec, const char *ns, const char *slot_label);

/* plug_kube_data.c: the pod moves its data itself (kubernetes.helper_image): init
 * container floe-fetch, the task as init container "task", container floe-upload, an
 * emptyDir at /floe. Applied to a pod from plug_kube_pod, before the policy. */
floe_rc plug_kube_pod_data(json_t *pod, const plug_spec *spec, const char *helper_image,
                           floe_err *err);

/* plug_kube_policy.c: the task's secrets referenced from the Secret secret_name: variables
 * through secretKeyRef, files through a read-only secret volume at /floe/secrets. */
floe_rc plug_kube_pod_secrets(json_t *pod, const plug_spec *spec, const char *secret_name,
                              floe_err *err);
/* plug_kube_policy.c: the security context, GPUs and placement settings added to pod. */
struct floe_config;
floe_rc plug_kube_pod_policy(json_t *pod, const struct floe_config *cfg, uint32_t gpus,
                             floe_err *err);

/* A label value from any text: [A-Za-z0-9._-], at most 63, alphanumeric at both ends. */
void plug_kube_label(const char *in, char out[64]);

#endif
