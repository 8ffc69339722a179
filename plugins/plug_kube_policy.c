/*
 * plug_kube_policy — what an installation adds to every Pod the Kubernetes executor
 * creates, beyond the task itself: a restricted security context (non-root as
 * kubernetes.run_as_user, no privilege escalation, a read-only root filesystem with an
 * emptyDir at /tmp, every capability dropped, the runtime's default seccomp profile:
 * the Pod Security "restricted" level), the task's GPUs as nvidia.com/gpu, and where the
 * pod may run as SREs set it per resource class (a worker serves one class):
 * kubernetes.node_selector, kubernetes.tolerations, kubernetes.service_account,
 * kubernetes.image_pull_secrets. Pods are checked against the official object models in
 * tests (tests/integration/kube_validate.py).
 */
#include "plug_kube.h"

#include "floe_config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* "a=b,c=d" into an object. */
static json_t *
kv_object(const char *list)
{
    json_t *o = json_object();
    char buf[1024];
    snprintf(buf, sizeof(buf), "%s", list);
    for (char *sp, *t = strtok_r(buf, ",", &sp); t != NULL; t = strtok_r(NULL, ",", &sp)) {
        char *eq = strchr(t, '=');
        if (eq != NULL && eq != t) {
            *eq = '\0';
            json_object_set_new(o, t, json_string(eq + 1));
        }
    }
    return o;
}

/* "key=value:Effect,key:Effect" into tolerations (Equal with a value, else Exists). */
static floe_rc
tolerations(const char *list, json_t **out, floe_err *err)
{
    json_t *a = json_array();
    char buf[1024];
    snprintf(buf, sizeof(buf), "%s", list);
    for (char *sp, *t = strtok_r(buf, ",", &sp); t != NULL; t = strtok_r(NULL, ",", &sp)) {
        char *colon = strrchr(t, ':'), *eq;
        const char *effect = colon != NULL ? colon + 1 : "";
        if (colon != NULL)
            *colon = '\0';
        if (strcmp(effect, "NoSchedule") != 0 && strcmp(effect, "PreferNoSchedule") != 0 &&
            strcmp(effect, "NoExecute") != 0) {
            json_decref(a);
            return floe_err_user(err, FLOE_EINVAL,
                                 "kubernetes.tolerations: \"%.80s\": expected key[=value]:"
                                 "NoSchedule|PreferNoSchedule|NoExecute",
                                 t);
        }
        json_t *tol = json_pack("{s:s}", "effect", effect);
        if ((eq = strchr(t, '=')) != NULL) {
            *eq = '\0';
            json_object_set_new(tol, "value", json_string(eq + 1));
        }
        json_object_set_new(tol, "key", json_string(t));
        json_object_set_new(tol, "operator", json_string(eq != NULL ? "Equal" : "Exists"));
        json_array_append_new(a, tol);
    }
    *out = a;
    return FLOE_OK;
}

floe_rc
plug_kube_pod_policy(json_t *pod, const floe_config *cfg, uint32_t gpus, floe_err *err)
{
    json_t *spec = json_object_get(pod, "spec");
    if (spec == NULL || json_array_size(json_object_get(spec, "containers")) == 0)
        return floe_err_sys(err, FLOE_EINVAL, "kubernetes executor: a pod without a container");
    /* Every container, the helpers' included; the task is the one named "task". */
    json_t *task = NULL;
    static const char *const lists[] = {"initContainers", "containers"};
    for (size_t l = 0; l < 2; l++) {
        size_t i;
        json_t *c;
        json_array_foreach(json_object_get(spec, lists[l]), i, c)
        {
            json_object_set_new(c, "securityContext",
                                json_pack("{s:b,s:I,s:b,s:b,s:{s:[s]}}", "runAsNonRoot", 1,
                                          "runAsUser", (json_int_t)cfg->kube_run_as_user,
                                          "allowPrivilegeEscalation", 0, "readOnlyRootFilesystem",
                                          1, "capabilities", "drop", "ALL"));
            json_t *mounts = json_object_get(c, "volumeMounts");
            if (mounts == NULL) {
                mounts = json_array();
                json_object_set_new(c, "volumeMounts", mounts);
            }
            json_array_append_new(mounts,
                                  json_pack("{s:s,s:s}", "name", "tmp", "mountPath", "/tmp"));
            const char *name = json_string_value(json_object_get(c, "name"));
            if (name != NULL && strcmp(name, "task") == 0)
                task = c;
        }
    }
    json_t *vols = json_object_get(spec, "volumes");
    if (vols == NULL) {
        vols = json_array();
        json_object_set_new(spec, "volumes", vols);
    }
    json_array_insert_new(vols, 0, json_pack("{s:s,s:{}}", "name", "tmp", "emptyDir"));
    json_object_set_new(spec, "securityContext",
                        json_pack("{s:{s:s}}", "seccompProfile", "type", "RuntimeDefault"));
    if (gpus > 0 && task != NULL) {
        json_t *res = json_object_get(task, "resources");
        if (res == NULL) {
            res = json_object();
            json_object_set_new(task, "resources", res);
        }
        char n[16];
        snprintf(n, sizeof(n), "%u", gpus);
        json_t *lim = json_object_get(res, "limits");
        if (lim == NULL) {
            lim = json_object();
            json_object_set_new(res, "limits", lim);
        }
        json_object_set_new(lim, "nvidia.com/gpu", json_string(n));
        json_t *req = json_object_get(res, "requests");
        if (req != NULL && req != lim)
            json_object_set_new(req, "nvidia.com/gpu", json_string(n));
    }
    if (cfg->kube_node_selector[0] != '\0')
        json_object_set_new(spec, "nodeSelector", kv_object(cfg->kube_node_selector));
    if (cfg->kube_tolerations[0] != '\0') {
        json_t *t = NULL;
        floe_rc rc = tolerations(cfg->kube_tolerations, &t, err);
        if (rc != FLOE_OK)
            return rc;
        json_object_set_new(spec, "tolerations", t);
    }
    if (cfg->kube_service_account[0] != '\0')
        json_object_set_new(spec, "serviceAccountName", json_string(cfg->kube_service_account));
    if (cfg->kube_pull_secrets[0] != '\0') {
        json_t *a = json_array();
        char buf[1024];
        snprintf(buf, sizeof(buf), "%s", cfg->kube_pull_secrets);
        for (char *sp, *t = strtok_r(buf, ",", &sp); t != NULL; t = strtok_r(NULL, ",", &sp))
            json_array_append_new(a, json_pack("{s:s}", "name", t));
        json_object_set_new(spec, "imagePullSecrets", a);
    }
    return FLOE_OK;
}

floe_rc
plug_kube_pod_secrets(json_t *pod, const plug_spec *spec, const char *secret_name, floe_err *err)
{
    if (secret_name == NULL || secret_name[0] == '\0')
        return floe_err_sys(err, FLOE_ENOTFOUND,
                            "the task needs secrets and this worker names no Kubernetes Secret "
                            "for them (kubernetes.secret_name)");
    json_t *ps = json_object_get(pod, "spec");
    /* The task's container: the one named "task", in containers or (helpers) initContainers. */
    json_t *task = NULL;
    const char *lists[] = {"containers", "initContainers"};
    for (size_t l = 0; l < 2 && task == NULL; l++) {
        size_t i;
        json_t *c;
        json_array_foreach(json_object_get(ps, lists[l]), i, c)
        {
            const char *name = json_string_value(json_object_get(c, "name"));
            if (name != NULL && strcmp(name, "task") == 0)
                task = c;
        }
    }
    if (task == NULL)
        return floe_err_sys(err, FLOE_EINVAL, "kubernetes executor: the pod has no task container");
    json_t *env = json_object_get(task, "env");
    if (env == NULL)
        json_object_set_new(task, "env", env = json_array());
    json_t *items = json_array();
    for (size_t i = 0; i < spec->n_secrets; i++) {
        const plug_secret *s = &spec->secrets[i];
        if (s->env[0] != '\0')
            json_array_append_new(env,
                                  json_pack("{s:s, s:{s:{s:s, s:s}}}", "name", s->env, "valueFrom",
                                            "secretKeyRef", "name", secret_name, "key", s->name));
        else
            json_array_append_new(items, json_pack("{s:s, s:s}", "key", s->name, "path", s->file));
    }
    if (json_array_size(items) == 0) {
        json_decref(items);
        return FLOE_OK;
    }
    json_array_append_new(
        env, json_pack("{s:s, s:s}", "name", "FLOE_SECRETS", "value", "/floe/secrets"));
    json_t *mounts = json_object_get(task, "volumeMounts");
    if (mounts == NULL)
        json_object_set_new(task, "volumeMounts", mounts = json_array());
    json_array_append_new(mounts, json_pack("{s:s, s:s, s:b}", "name", "floe-secrets", "mountPath",
                                            "/floe/secrets", "readOnly", 1));
    json_t *vols = json_object_get(ps, "volumes");
    if (vols == NULL)
        json_object_set_new(ps, "volumes", vols = json_array());
    json_array_append_new(vols, json_pack("{s:s, s:{s:s, s:o, s:i}}", "name", "floe-secrets",
                                          "secret", "secretName", secret_name, "items", items,
                                          "defaultMode", 0400));
    return FLOE_OK;
}
