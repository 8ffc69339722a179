/*
 * The kubernetes executor end to end, against the stand-in API server
 * (tests/integration/fake_kube_apiserver.py: no real one can run here): pods created
 * through retries, followed by watches, their policy and placement checked against the
 * official object models; and, in the stand-in's runc mode, pods that move their data
 * through presigned urls (kubernetes.helper_image). Runs with either blob store (ctest
 * integration_kube and integration_kube_s3).
 */
#include "floe_config.h"
#include "it_exec.h"
#include "it_fleet.h"
#include "it_util.h"

#include <jansson.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#define API "http://127.0.0.1:18783"
#define W1 "127.0.0.1:18794"

static const char *sched_bin, *worker_bin;
static int pid_sched, pid_w;
static it_fleet fleet;
static char *const sched_env[] = {"FLOE_ATTEMPT_LEASE=2s", NULL};

static int
setup(void **state)
{
    (void)state;
    it_fleet_init(&fleet, "test_kube", "kube", sched_bin, worker_bin, API);
    pid_sched = it_fleet_scheduler(&fleet, "scheduler", API, sched_env, true);
    return 0;
}

static int
teardown(void **state)
{
    (void)state;
    it_fleet_down(&fleet);
    return 0;
}

/* A test failing half-way leaves no worker or stand-in server to the next. */
static int
settle(void **state)
{
    (void)state;
    int keep[] = {pid_sched};
    it_fleet_settle(&fleet, keep, 1);
    return 0;
}

/* How a worker reaches a stand-in API server: FLOE_KUBERNETES_API, _TOKEN_FILE, _CA_FILE. */
typedef struct kube_conn_env {
    char api[64], tok[300], ca[300];
} kube_conn_env;

static void
kube_conn_env_of(kube_conn_env *e, const char *dir, const char *port)
{
    snprintf(e->api, sizeof(e->api), "FLOE_KUBERNETES_API=https://127.0.0.1:%s", port);
    snprintf(e->tok, sizeof(e->tok), "FLOE_KUBERNETES_TOKEN_FILE=%s/token", dir);
    snprintf(e->ca, sizeof(e->ca), "FLOE_KUBERNETES_CA_FILE=%s/cert.pem", dir);
}

/* Starts the stand-in API server on port (HTTPS with a fresh certificate, token
 * "test-token") in a directory of its own (dir), recording what it is sent in record;
 * with runc ("IMAGE=ROOTFS,...") it runs the pods. Its pid. */
static int
fake_kube(char *dir, size_t dir_size, const char *port, const char *runc, char *record,
          size_t record_size)
{
    char cmd[1024];
    snprintf(dir, dir_size, "%s/kube-%s-%s", getenv("FLOE_STATE_DIR"), it.project, port);
    mkdir(dir, 0700);
    snprintf(cmd, sizeof(cmd),
             "openssl req -x509 -newkey rsa:2048 -nodes -keyout %s/key.pem -out %s/cert.pem "
             "-days 1 -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 >/dev/null 2>&1 "
             "&& printf test-token > %s/token",
             dir, dir, dir);
    assert_int_equal(system(cmd), 0);
    snprintf(record, record_size, "%s/record.json", dir);
    char cert[300], key[300], tag[32];
    snprintf(cert, sizeof(cert), "%s/cert.pem", dir);
    snprintf(key, sizeof(key), "%s/key.pem", dir);
    snprintf(tag, sizeof(tag), "fake_kube_%s", port);
    char *fargv[] = {"/usr/bin/python3",
                     FLOE_SOURCE_DIR "/tests/integration/fake_kube_apiserver.py",
                     "--port",
                     (char *)port,
                     "--cert",
                     cert,
                     "--key",
                     key,
                     "--token",
                     "test-token",
                     "--record",
                     record,
                     runc != NULL ? "--runc" : NULL,
                     (char *)runc,
                     NULL};
    int pid = it_fleet_spawn(&fleet, tag, fargv, NULL);
    struct stat st;
    IT_WAIT_UNTIL(stat(record, &st) == 0, 10000,
                  "the fake API server to start (see test_kube.fake_kube_*.log)");
    return pid;
}

/* The kubernetes executor against a FAKE API server (tests/integration/
 * fake_kube_apiserver.py: no real one can run here), over HTTPS with a token. */
static void
test_kubernetes_fake_apiserver(void **state)
{
    (void)state;
    char dir[256], record[300];
    int pid_fake = fake_kube(dir, sizeof(dir), "18443", NULL, record, sizeof(record));
    kube_conn_env ke;
    kube_conn_env_of(&ke, dir, "18443");
    char *const env[] = {ke.api,
                         ke.tok,
                         ke.ca,
                         "FLOE_KUBERNETES_NAMESPACE=floe-test",
                         "FLOE_KUBERNETES_POLL=100ms",
                         "FLOE_KUBERNETES_NODE_SELECTOR=pool=batch",
                         "FLOE_KUBERNETES_TOLERATIONS=dedicated=floe:NoSchedule,spot:NoExecute",
                         "FLOE_KUBERNETES_SERVICE_ACCOUNT=floe-tasks",
                         "FLOE_KUBERNETES_IMAGE_PULL_SECRETS=regcred",
                         "FLOE_KUBERNETES_SECRET_NAME=floe-task-secrets",
                         NULL};
    pid_w = it_fleet_worker(&fleet, "kube", W1, env);
    it_register("kind: task\nname: kok\nversion: v1\nexecutor: kubernetes\n"
                "container: {image: fake/succeed, command: [/app/run, --fast, '$(touch x)'], "
                "env: {MODE: batch}}\n"
                "resources: {cpu: 250m, memory: 128Mi}\n"
                "secrets: [{name: db_password, env: DB_PASSWORD}, {name: tls.key, file: key.pem}]\n"
                "inputs: {x: integer}\noutputs: {out: integer}\n"
                "---\nkind: task\nname: kfail\nversion: v1\nexecutor: kubernetes\n"
                "container: {image: fake/fail, command: [/app/run]}\n"
                "inputs: {x: integer}\noutputs: {out: integer}\n"
                "---\nkind: task\nname: khang\nversion: v1\nexecutor: kubernetes\n"
                "container: {image: fake/hang, command: [/app/run]}\n"
                "inputs: {x: integer}\noutputs: {out: integer}\n"
                "---\nkind: workflow\nname: kube_ok\nversion: v1\ninputs: {x: integer}\n"
                "outputs: {out: {from: {node: k, output: out}}}\n"
                "nodes:\n  - {id: k, task: kok, inputs: {x: {input: x}}}\n"
                "---\nkind: workflow\nname: kube_fail\nversion: v1\ninputs: {x: integer}\n"
                "outputs: {out: {from: {node: k, output: out}}}\n"
                "nodes:\n  - {id: k, task: kfail, inputs: {x: {input: x}}}\n"
                "---\nkind: workflow\nname: kube_hang\nversion: v1\ninputs: {x: integer}\n"
                "outputs: {out: {from: {node: k, output: out}}}\n"
                "nodes:\n  - {id: k, task: khang, inputs: {x: {input: x}}}\n");
    char ok_id[64], fail_id[64], hang_id[64];
    it_launch("kube_ok", "{\"x\": 41}", ok_id);
    json_t *ex = it_wait_exec(ok_id, 60000);
    it_expect_phase(ex, "SUCCEEDED");
    assert_int_equal(it_output_int(ex, "out"), 42); /* the pod saw x = 41 */
    json_decref(ex);
    it_launch("kube_fail", "{\"x\": 1}", fail_id);
    ex = it_wait_exec(fail_id, 60000);
    it_expect_phase(ex, "FAILED");
    json_decref(ex);
    it_expect_attempt_error(fail_id, "k", "USER", "exit", "the model file is missing");
    it_launch("kube_hang", "{\"x\": 1}", hang_id);
    it_wait_metric("http://" W1, "floe_worker_attempts_running", 1, 30000);
    char path[128];
    snprintf(path, sizeof(path), "/api/v1/executions/%s/terminate", hang_id);
    assert_int_equal(it_http(API, "POST", path, "{}", 2, NULL), 202);
    ex = it_wait_exec(hang_id, 60000);
    it_expect_phase(ex, "ABORTED");
    json_decref(ex);

    /* What the fake received. */
    json_t *rec = NULL;
    /* The hung pod is deleted on the worker's next heartbeat. */
    IT_WAIT_UNTIL((json_decref(rec), rec = json_load_file(record, 0, NULL),
                   json_array_size(json_object_get(rec, "deleted")) >= 3),
                  20000, "the fake API server to record 3 pod deletions");
    assert_non_null(rec);
    assert_int_equal(json_integer_value(json_object_get(rec, "unauthorized")), 0);
    assert_true(json_integer_value(json_object_get(rec, "creates")) >= 5); /* 429, 500, 3 pods */
    /* Each pod was followed through a watch, not read every kubernetes.poll; the hung one
     * was terminated while watched. */
    assert_true(json_integer_value(json_object_get(rec, "watches")) >= 3);
    json_t *created = json_object_get(rec, "created");
    assert_int_equal(json_array_size(created), 3);
    assert_int_equal(json_array_size(json_object_get(rec, "deleted")), 3); /* every pod */
    json_t *pod = json_array_get(created, 0);
    json_t *md = json_object_get(pod, "metadata"), *sp = json_object_get(pod, "spec");
    json_t *labels = json_object_get(md, "labels");
    json_t *c0 = json_array_get(json_object_get(sp, "containers"), 0);
    assert_string_equal(json_string_value(json_object_get(pod, "kind")), "Pod");
    assert_string_equal(json_string_value(json_object_get(md, "namespace")), "floe-test");
    assert_true(strncmp(json_string_value(json_object_get(md, "name")), "floe-", 5) == 0);
    assert_string_equal(json_string_value(json_object_get(labels, "floe.execution")), ok_id);
    assert_string_equal(json_string_value(json_object_get(labels, "floe.node")), "k");
    assert_string_equal(json_string_value(json_object_get(labels, "floe.attempt")), "1");
    assert_string_equal(json_string_value(json_object_get(labels, "app.kubernetes.io/managed-by")),
                        "floe");
    assert_string_equal(json_string_value(json_object_get(sp, "restartPolicy")), "Never");
    assert_string_equal(json_string_value(json_object_get(c0, "image")), "fake/succeed");
    json_t *cmdv = json_object_get(c0, "command");
    assert_int_equal(json_array_size(cmdv), 3);
    assert_string_equal(json_string_value(json_array_get(cmdv, 0)), "/app/run");
    assert_string_equal(json_string_value(json_array_get(cmdv, 1)), "--fast");
    assert_string_equal(json_string_value(json_array_get(cmdv, 2)), "$(touch x)");
    json_t *res = json_object_get(c0, "resources");
    assert_string_equal(json_string_value(json_object_get(json_object_get(res, "requests"), "cpu")),
                        "250m");
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(res, "limits"), "memory")), "134217728");
    bool mode = false, inputs = false, secret_env = false, secrets_dir = false;
    json_t *e;
    size_t i;
    json_array_foreach(json_object_get(c0, "env"), i, e)
    {
        const char *n = json_string_value(json_object_get(e, "name"));
        const char *v = json_string_value(json_object_get(e, "value"));
        json_t *ref = json_object_get(json_object_get(e, "valueFrom"), "secretKeyRef");
        mode |= v != NULL && strcmp(n, "MODE") == 0 && strcmp(v, "batch") == 0;
        inputs |= v != NULL && strcmp(n, "FLOE_INPUTS_JSON") == 0 && strcmp(v, "{\"x\":41}") == 0;
        secrets_dir |=
            v != NULL && strcmp(n, "FLOE_SECRETS") == 0 && strcmp(v, "/floe/secrets") == 0;
        /* a secret as a reference to the Kubernetes Secret: no value in the pod */
        secret_env |=
            strcmp(n, "DB_PASSWORD") == 0 && v == NULL && ref != NULL &&
            strcmp(json_string_value(json_object_get(ref, "name")), "floe-task-secrets") == 0 &&
            strcmp(json_string_value(json_object_get(ref, "key")), "db_password") == 0;
    }
    assert_true(mode);
    assert_true(inputs);
    assert_true(secret_env);
    assert_true(secrets_dir);
    bool secret_vol = false;
    json_array_foreach(json_object_get(sp, "volumes"), i, e)
    {
        json_t *sv = json_object_get(e, "secret");
        json_t *item = json_array_get(json_object_get(sv, "items"), 0);
        secret_vol |= sv != NULL &&
                      strcmp(json_string_value(json_object_get(sv, "secretName")),
                             "floe-task-secrets") == 0 &&
                      strcmp(json_string_value(json_object_get(item, "key")), "tls.key") == 0 &&
                      strcmp(json_string_value(json_object_get(item, "path")), "key.pem") == 0;
    }
    assert_true(secret_vol);
    /* Placement per resource class, and the restricted security context. */
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(sp, "nodeSelector"), "pool")), "batch");
    assert_int_equal(json_array_size(json_object_get(sp, "tolerations")), 2);
    assert_string_equal(json_string_value(json_object_get(sp, "serviceAccountName")), "floe-tasks");
    assert_true(json_is_true(
        json_object_get(json_object_get(c0, "securityContext"), "readOnlyRootFilesystem")));
    json_decref(rec);
    /* Every pod against the official object models (Debian's python3-kubernetes). */
    char validate[600];
    snprintf(validate, sizeof(validate),
             "/usr/bin/python3 " FLOE_SOURCE_DIR "/tests/integration/kube_validate.py %s", record);
    assert_int_equal(system(validate), 0);
    it_stop(pid_fake, 5000);
    assert_int_equal(it_stop(pid_w, 20000), 0);
}

/* Issue 20: a Kubernetes pod moves its data itself (kubernetes.helper_image). Through the
 * stand-in API server in its runc mode (each container of the pod run with runc on a
 * rootfs standing for its image: busybox for the task, busybox + curl for the helper),
 * the example pipeline's middle node runs as a pod: an init container fetches the numbers
 * blob through a presigned url and checks its digest, the task reads $FLOE_INPUTS and
 * writes $FLOE_OUTPUTS, the upload container PUTs the outputs to presigned staging urls,
 * the worker stores them content-addressed. The outputs are byte-identical to the rootfs
 * run's. The pod holds no credentials: none of its environment names the S3 keys. With a
 * local blob store the attempt fails as SYSTEM saying why. */
static void
test_kubernetes_pods_move_data(void **state)
{
    (void)state;
    if (geteuid() != 0 || system("command -v runc >/dev/null && command -v curl >/dev/null"))
        skip();
    const char *backend = getenv("FLOE_BLOB_BACKEND");
    bool s3 = backend != NULL && strcmp(backend, "s3") == 0;
    char dir[256], record[300], helper[300], runc[700], cmd[600];
    snprintf(helper, sizeof(helper), "%s/helper-rootfs-%s", getenv("FLOE_STATE_DIR"), it.project);
    snprintf(cmd, sizeof(cmd), FLOE_SOURCE_DIR "/tests/integration/make_helper_rootfs.sh %s",
             helper);
    assert_int_equal(system(cmd), 0);
    snprintf(runc, sizeof(runc), "floe/helper=%s,busybox=/var/lib/floe/rootfs/busybox", helper);
    int pid_fake = fake_kube(dir, sizeof(dir), "18444", runc, record, sizeof(record));
    kube_conn_env ke;
    kube_conn_env_of(&ke, dir, "18444");
    char *const env[] = {ke.api,
                         ke.tok,
                         ke.ca,
                         "FLOE_KUBERNETES_NAMESPACE=floe-test",
                         "FLOE_KUBERNETES_HELPER_IMAGE=floe/helper",
                         NULL};
    pid_w = it_fleet_worker(&fleet, "pods", W1, env);
    char *yaml = it_read_file(FLOE_SOURCE_DIR "/examples/pipeline.yaml", NULL);
    it_register(yaml);
    char *a =
        it_replace_all(yaml, "executor: oci\ncontainer:\n  rootfs: /var/lib/floe/rootfs/busybox",
                       "executor: kubernetes\ncontainer:\n  image: busybox");
    char *b = it_replace_all(a, "version: \"1\"", "version: \"pod\"");
    char *c = it_replace_all(b, "name: pipeline\n", "name: pipeline_pod\n");
    it_register(c);
    free(yaml);
    free(a);
    free(b);
    free(c);
    char id1[64], id2[64];
    it_launch("pipeline", "{\"n\": 77, \"label\": \"pod\"}", id1);
    it_launch("pipeline_pod", "{\"n\": 77, \"label\": \"pod\"}", id2);
    json_t *e1 = it_wait_exec(id1, 60000), *e2 = it_wait_exec(id2, 120000);
    it_expect_phase(e1, "SUCCEEDED");
    if (!s3) {
        it_expect_phase(e2, "FAILED");
        it_expect_attempt_error(id2, "stats", "SYSTEM", "inputs", "blob.backend=s3");
    } else {
        it_expect_phase(e2, "SUCCEEDED");
        char *t1 = json_dumps(json_object_get(e1, "outputs"), JSON_SORT_KEYS);
        char *t2 = json_dumps(json_object_get(e2, "outputs"), JSON_SORT_KEYS);
        if (strcmp(t1, t2) != 0)
            fail_msg("outputs differ:\n rootfs: %s\n pod:    %s", t1, t2);
        free(t1);
        free(t2);
        /* The pod's containers and what they were given. */
        json_t *rec = json_load_file(record, 0, NULL);
        json_t *pod = json_array_get(json_object_get(rec, "created"), 0);
        char *text = json_dumps(pod, 0);
        /* The secret appears nowhere but where the access key id does (s3rver's are both
         * "S3RVER"): in the presigned urls' credential scope. */
        const char *secret = getenv("FLOE_BLOB_S3_SECRET_ACCESS_KEY");
        size_t n_secret = 0, n_scope = 0;
        for (const char *q = strstr(text, secret); q != NULL; q = strstr(q + 1, secret))
            n_secret++;
        char scope[128];
        snprintf(scope, sizeof(scope), "Credential=%s%%2F", getenv("FLOE_BLOB_S3_ACCESS_KEY_ID"));
        for (const char *q = strstr(text, scope); q != NULL; q = strstr(q + 1, scope))
            n_scope++;
        assert_int_equal(n_secret,
                         strcmp(secret, getenv("FLOE_BLOB_S3_ACCESS_KEY_ID")) == 0 ? n_scope : 0);
        assert_null(strstr(text, "Authorization"));
        assert_non_null(strstr(text, "X-Amz-Signature"));
        json_t *init = json_object_get(json_object_get(pod, "spec"), "initContainers");
        assert_int_equal(json_array_size(init), 2);
        assert_string_equal(json_string_value(json_object_get(json_array_get(init, 1), "name")),
                            "task");
        free(text);
        json_decref(rec);
        /* Every pod against the official object models. */
        char validate[600];
        snprintf(validate, sizeof(validate),
                 "/usr/bin/python3 " FLOE_SOURCE_DIR "/tests/integration/kube_validate.py %s",
                 record);
        assert_int_equal(system(validate), 0);
    }
    json_decref(e1);
    json_decref(e2);
    it_stop(pid_fake, 5000);
    assert_int_equal(it_stop(pid_w, 20000), 0);
    snprintf(cmd, sizeof(cmd), "rm -rf %s", helper);
    (void)!system(cmd);
}

int
main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: test_kube FLOE_SCHEDULER FLOE_WORKER\n");
        return 2;
    }
    sched_bin = argv[1];
    worker_bin = argv[2];
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_kubernetes_fake_apiserver, settle),
        cmocka_unit_test_teardown(test_kubernetes_pods_move_data, settle),
    };
    if (getenv("IT_FILTER") != NULL)
        cmocka_set_test_filter(getenv("IT_FILTER"));
    return cmocka_run_group_tests(tests, setup, teardown);
}
