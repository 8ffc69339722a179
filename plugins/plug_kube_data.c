/*
 * plug_kube_data — how a pod's task gets the same file contract as a `process` or `oci`
 * task ($FLOE_INPUTS/<name>, $FLOE_OUTPUTS/<name>) while the pod holds no credentials:
 * with kubernetes.helper_image set, the Pod runs three containers in order, sharing an
 * emptyDir at /floe:
 *
 *   init floe-fetch   (helper image) each blob input through its presigned GET url,
 *                     its SHA-256 checked; each other input written from the environment
 *   init task         (the task's image) the task itself, FLOE_INPUTS=/floe/inputs,
 *                     FLOE_OUTPUTS=/floe/outputs
 *   floe-upload       (helper image) each output the task wrote, PUT to its presigned
 *                     staging url; the worker fetches what was staged, content-addresses
 *                     it as any output and deletes the staged object
 *
 * Why this shape: init containers run one after another to completion, so the task runs
 * only once its inputs are all there and the upload only once the task exited 0, with no
 * wrapper inside the task's image (which may have no shell and no HTTP client) and no
 * process-namespace sharing. The helper image needs sh, curl and sha256sum.
 */
#include "plug_kube.h"

#include <stdio.h>
#include <string.h>

#define DATA_VOLUME "floe-data"
#define DATA_DIR "/floe"

/* Blob inputs by url (digest checked), the rest from FLOE_IN_<i>_VALUE. The script's text
 * holds no value: names and values reach it through the environment only. */
static const char fetch_script[] =
    "set -eu\n"
    "mkdir -p " DATA_DIR "/inputs " DATA_DIR "/outputs\n"
    "i=0\n"
    "while [ \"$i\" -lt \"$FLOE_N_IN\" ]; do\n"
    "  eval \"name=\\$FLOE_IN_${i}_NAME url=\\${FLOE_IN_${i}_URL:-} "
    "sha=\\${FLOE_IN_${i}_SHA256:-}\"\n"
    "  f=" DATA_DIR "/inputs/$name\n"
    "  if [ -n \"$url\" ]; then\n"
    "    curl -fsS --retry 3 -o \"$f\" \"$url\" || { echo \"input $name: download failed\" >&2; "
    "exit 1; }\n"
    "    echo \"$sha  $f\" | sha256sum -c - >/dev/null || { echo \"input $name: digest "
    "mismatch\" >&2; exit 1; }\n"
    "  else\n"
    "    eval \"printf '%s' \\\"\\$FLOE_IN_${i}_VALUE\\\"\" > \"$f\"\n"
    "  fi\n"
    "  i=$((i + 1))\n"
    "done\n"
    "chmod -R a+rX " DATA_DIR "/inputs\n"
    "chmod 0777 " DATA_DIR "/outputs\n";

/* Every regular file the task left under outputs/ whose name was declared. */
static const char upload_script[] =
    "set -u\n"
    "bad=0 i=0\n"
    "while [ \"$i\" -lt \"$FLOE_N_OUT\" ]; do\n"
    "  eval \"name=\\$FLOE_OUT_${i}_NAME url=\\$FLOE_OUT_${i}_URL\"\n"
    "  f=" DATA_DIR "/outputs/$name\n"
    "  if [ -f \"$f\" ] && [ ! -L \"$f\" ]; then\n"
    "    curl -fsS --retry 3 -T \"$f\" -H 'x-amz-content-sha256: UNSIGNED-PAYLOAD' \"$url\" ||"
    " { echo \"output $name: upload failed\" >&2; bad=1; }\n"
    "  fi\n"
    "  i=$((i + 1))\n"
    "done\n"
    "exit $bad\n";

/* FLOE_<dir>_<i>_<suffix>=value. */
static void
env_add(json_t *env, const char *dir, size_t i, const char *suffix, const char *value)
{
    char name[64];
    snprintf(name, sizeof(name), "FLOE_%s_%zu_%s", dir, i, suffix);
    json_array_append_new(env, json_pack("{s:s, s:s}", "name", name, "value", value));
}

static json_t *
mount(void)
{
    return json_pack("[{s:s, s:s}]", "name", DATA_VOLUME, "mountPath", DATA_DIR);
}

floe_rc
plug_kube_pod_data(json_t *pod, const plug_spec *spec, const char *helper_image, floe_err *err)
{
    json_t *ps = json_object_get(pod, "spec");
    json_t *task = json_array_get(json_object_get(ps, "containers"), 0);
    if (ps == NULL || task == NULL)
        return floe_err_sys(err, FLOE_EINVAL, "kubernetes executor: a pod without a container");
    json_incref(task);
    json_t *fetch_env = json_array(), *upload_env = json_array();
    char n[16];
    snprintf(n, sizeof(n), "%zu", spec->n_pod_inputs);
    json_array_append_new(fetch_env, json_pack("{s:s, s:s}", "name", "FLOE_N_IN", "value", n));
    for (size_t i = 0; i < spec->n_pod_inputs; i++) {
        const plug_pod_io *io = &spec->pod_inputs[i];
        env_add(fetch_env, "IN", i, "NAME", io->name);
        if (io->url != NULL) {
            env_add(fetch_env, "IN", i, "URL", io->url);
            env_add(fetch_env, "IN", i, "SHA256", io->sha256 != NULL ? io->sha256 : "");
        } else {
            env_add(fetch_env, "IN", i, "VALUE", io->value != NULL ? io->value : "");
        }
    }
    snprintf(n, sizeof(n), "%zu", spec->n_pod_outputs);
    json_array_append_new(upload_env, json_pack("{s:s, s:s}", "name", "FLOE_N_OUT", "value", n));
    for (size_t i = 0; i < spec->n_pod_outputs; i++) {
        env_add(upload_env, "OUT", i, "NAME", spec->pod_outputs[i].name);
        env_add(upload_env, "OUT", i, "URL", spec->pod_outputs[i].url);
    }
    /* The task: the file contract instead of FLOE_INPUTS_JSON and log lines. */
    json_t *tenv = json_object_get(task, "env");
    for (size_t i = json_array_size(tenv); i-- > 0;) {
        const char *name = json_string_value(json_object_get(json_array_get(tenv, i), "name"));
        if (name != NULL && strcmp(name, "FLOE_INPUTS_JSON") == 0)
            json_array_remove(tenv, i);
    }
    json_array_append_new(
        tenv, json_pack("{s:s, s:s}", "name", "FLOE_INPUTS", "value", DATA_DIR "/inputs"));
    json_array_append_new(
        tenv, json_pack("{s:s, s:s}", "name", "FLOE_OUTPUTS", "value", DATA_DIR "/outputs"));
    json_object_set_new(task, "volumeMounts", mount());
    json_t *fetch = json_pack("{s:s, s:s, s:[s,s,s], s:o, s:o}", "name", "floe-fetch", "image",
                              helper_image, "command", "/bin/sh", "-c", fetch_script, "env",
                              fetch_env, "volumeMounts", mount());
    json_t *upload = json_pack("{s:s, s:s, s:[s,s,s], s:o, s:o}", "name", "floe-upload", "image",
                               helper_image, "command", "/bin/sh", "-c", upload_script, "env",
                               upload_env, "volumeMounts", mount());
    if (fetch == NULL || upload == NULL) {
        json_decref(fetch);
        json_decref(upload);
        json_decref(task);
        return floe_err_sys(err, FLOE_ENOMEM, "out of memory");
    }
    json_object_set_new(ps, "initContainers", json_pack("[o, o]", fetch, task));
    json_object_set_new(ps, "containers", json_pack("[o]", upload));
    json_t *vols = json_object_get(ps, "volumes");
    if (vols == NULL) {
        vols = json_array();
        json_object_set_new(ps, "volumes", vols);
    }
    json_array_append_new(vols, json_pack("{s:s, s:{}}", "name", DATA_VOLUME, "emptyDir"));
    return FLOE_OK;
}
