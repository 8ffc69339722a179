#!/usr/bin/python3
"""The Kubernetes manifests (ops/k8s), checked offline the way an SRE would before
`kubectl apply -k`: every overlay renders with `kubectl kustomize`; every object
deserializes into the official models (Debian's python3-kubernetes) with client-side
validation and serializes back unchanged (a misspelt or misplaced field is dropped by the
models, so it shows as a difference); each KEDA ScaledObject holds only the fields KEDA's
v1alpha1 API documents, its HPA behaviour validates as the autoscaling model; and what
ties the objects together holds: the scheduler's replicas, probes, spreading and
disruption budget; per class a worker Deployment and a ScaledObject that agree on the
class, its topic and consumer group (as the worker names them), bounded by the topic's
partitions; restricted pods; the RBAC the kubernetes executor needs and no more; every
secret a pod reads among those docs/production.md lists.

usage: test_k8s.py SOURCE_DIR
"""
import json
import os
import subprocess
import sys

import yaml
from kubernetes import client

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
from kube_validate import Body, lost  # noqa: E402

MODELS = {
    "Namespace": "V1Namespace", "ServiceAccount": "V1ServiceAccount", "Role": "V1Role",
    "RoleBinding": "V1RoleBinding", "ConfigMap": "V1ConfigMap", "Service": "V1Service",
    "Deployment": "V1Deployment", "PodDisruptionBudget": "V1PodDisruptionBudget",
    "NetworkPolicy": "V1NetworkPolicy",
}
# KEDA v1alpha1 ScaledObject (keda.sh/docs/2.x/reference/scaledobject-spec, scalers/apache-kafka).
SO_SPEC = {"scaleTargetRef", "pollingInterval", "cooldownPeriod", "initialCooldownPeriod",
           "idleReplicaCount", "minReplicaCount", "maxReplicaCount", "advanced", "fallback",
           "triggers"}
SO_TARGET = {"name", "apiVersion", "kind", "envSourceContainerName"}
SO_ADVANCED = {"restoreToOriginalReplicaCount", "horizontalPodAutoscalerConfig",
               "scalingModifiers"}
SO_TRIGGER = {"type", "metadata", "name", "authenticationRef", "metricType", "useCachedMetrics"}
KAFKA_META = {"bootstrapServers", "bootstrapServersFromEnv", "consumerGroup",
              "consumerGroupFromEnv", "topic", "topicFromEnv", "lagThreshold",
              "activationLagThreshold", "offsetResetPolicy", "allowIdleConsumers",
              "scaleToZeroOnInvalidOffset", "excludePersistentLag", "version",
              "partitionLimitation", "limitToPartitionsWithLag", "sasl", "tls"}
TASKS_PARTITIONS = 8  # ops/stack's FLOE_TASKS_PARTITIONS, what `floectl admin init` makes
SECRETS = {"floe-secrets": {"postgres-url", "admin-token", "s3-access-key-id",
                            "s3-secret-access-key", "kafka-properties"},
           "floe-bus-keys": {"scheduler.keys", "worker.keys"}}
EXECUTOR_RULES = [{"apiGroups": [""], "resources": ["pods"],
                   "verbs": ["create", "get", "list", "watch", "delete"]},
                  {"apiGroups": [""], "resources": ["pods/log"], "verbs": ["get"]}]

errors = []


def fail(where, why):
    errors.append(f"{where}: {why}")


def render(src, overlay):
    r = subprocess.run(["kubectl", "kustomize", os.path.join(src, "ops/k8s/overlays", overlay)],
                       capture_output=True, text=True)
    if r.returncode != 0:
        fail(overlay, "kubectl kustomize failed: " + r.stderr.strip()[-400:])
        return []
    return [d for d in yaml.safe_load_all(r.stdout) if d]


def validate_model(where, doc):
    api = client.ApiClient()
    try:
        obj = api.deserialize(Body(doc), MODELS[doc["kind"]])
    except (ValueError, TypeError) as e:
        fail(where, f"not a valid {MODELS[doc['kind']]}: {e}")
        return
    diff = lost(doc, api.sanitize_for_serialization(obj))
    if diff:
        fail(where, f"fields the models do not know or change: {diff}")


def only(where, d, allowed):
    extra = set(d) - allowed
    if extra:
        fail(where, f"fields KEDA does not define: {sorted(extra)}")


def validate_scaledobject(where, doc):
    if doc.get("apiVersion") != "keda.sh/v1alpha1":
        fail(where, "apiVersion is not keda.sh/v1alpha1")
    spec = doc.get("spec", {})
    only(where + ".spec", spec, SO_SPEC)
    only(where + ".spec.scaleTargetRef", spec.get("scaleTargetRef", {}), SO_TARGET)
    if not spec.get("scaleTargetRef", {}).get("name"):
        fail(where, "no scaleTargetRef.name")
    for k in ("pollingInterval", "cooldownPeriod", "minReplicaCount", "maxReplicaCount"):
        if k in spec and (not isinstance(spec[k], int) or spec[k] < 0):
            fail(where, f"{k} is not a non-negative integer")
    adv = spec.get("advanced", {})
    only(where + ".spec.advanced", adv, SO_ADVANCED)
    behavior = adv.get("horizontalPodAutoscalerConfig", {}).get("behavior")
    if behavior is not None:
        api = client.ApiClient()
        try:
            b = api.deserialize(Body(behavior), "V2beta2HorizontalPodAutoscalerBehavior")
            diff = lost(behavior, api.sanitize_for_serialization(b))
            if diff:
                fail(where, f"HPA behavior fields the models do not know: {diff}")
        except (ValueError, TypeError) as e:
            fail(where, f"HPA behavior: {e}")
    triggers = spec.get("triggers") or []
    if not triggers:
        fail(where, "no triggers")
    for i, t in enumerate(triggers):
        only(f"{where}.triggers[{i}]", t, SO_TRIGGER)
        meta = t.get("metadata", {})
        if any(not isinstance(v, str) for v in meta.values()):
            fail(where, f"trigger {i}: metadata values must be strings (KEDA's map[string]string)")
        if t.get("type") == "kafka":
            only(f"{where}.triggers[{i}].metadata", meta, KAFKA_META)
            for k in ("consumerGroup", "topic"):
                if k not in meta:
                    fail(where, f"kafka trigger without {k}")
            if "bootstrapServers" not in meta and "bootstrapServersFromEnv" not in meta:
                fail(where, "kafka trigger without bootstrap servers")


def env_of(container):
    return {e["name"]: e for e in container.get("env", [])}


def check_pod_security(where, pod):
    psc = pod.get("securityContext", {})
    if not psc.get("runAsNonRoot") or psc.get("seccompProfile", {}).get("type") != "RuntimeDefault":
        fail(where, "pod not runAsNonRoot with the RuntimeDefault seccomp profile")
    for c in pod["containers"]:
        sc = c.get("securityContext", {})
        if sc.get("allowPrivilegeEscalation") is not False or sc.get("capabilities", {}).get(
                "drop") != ["ALL"] or not sc.get("readOnlyRootFilesystem"):
            fail(where, f"container {c['name']}: not restricted (privilege escalation, "
                 "capabilities, read-only root)")


def check_secrets(where, pod):
    for c in pod["containers"]:
        for e in c.get("env", []):
            ref = e.get("valueFrom", {}).get("secretKeyRef")
            if ref and ref.get("key") not in SECRETS.get(ref.get("name"), set()):
                fail(where, f"env {e['name']} reads secret {ref.get('name')}/{ref.get('key')}, "
                     "which docs/production.md does not list")
    for v in pod.get("volumes", []):
        s = v.get("secret")
        if s:
            for it in s.get("items", []):
                if it["key"] not in SECRETS.get(s["secretName"], set()):
                    fail(where, f"volume {v['name']} reads {s['secretName']}/{it['key']}, "
                         "which docs/production.md does not list")


def probe_path(c, kind):
    return c.get(kind, {}).get("httpGet", {}).get("path")


def check_overlay(overlay, docs):
    by = {}
    for d in docs:
        by.setdefault(d["kind"], {})[d["metadata"]["name"]] = d
        where = f"{overlay}: {d['kind']}/{d['metadata']['name']}"
        if d["kind"] in MODELS:
            validate_model(where, d)
        elif d["kind"] == "ScaledObject":
            validate_scaledobject(where, d)
        else:
            fail(where, "a kind this test does not know how to validate")
    deps = by.get("Deployment", {})
    sched = deps.get("floe-scheduler")
    if sched is None:
        fail(overlay, "no floe-scheduler Deployment")
        return
    pod = sched["spec"]["template"]["spec"]
    c = pod["containers"][0]
    where = f"{overlay}: the scheduler"
    if sched["spec"].get("replicas", 1) < 2:
        fail(where, "fewer than 2 replicas: no API during a restart, no leader to fail over to")
    if probe_path(c, "readinessProbe") != "/readyz" or probe_path(c, "livenessProbe") != "/healthz":
        fail(where, "probes are not /readyz (readiness) and /healthz (liveness)")
    aa = pod.get("affinity", {}).get("podAntiAffinity", {})
    if not (aa.get("requiredDuringSchedulingIgnoredDuringExecution")
            or aa.get("preferredDuringSchedulingIgnoredDuringExecution")):
        fail(where, "replicas are not spread (no pod anti-affinity)")
    labels = sched["spec"]["template"]["metadata"]["labels"]
    pdbs = [p for p in by.get("PodDisruptionBudget", {}).values()
            if all(labels.get(k) == v for k, v in p["spec"]["selector"]["matchLabels"].items())]
    if not pdbs:
        fail(where, "no PodDisruptionBudget selects its pods")
    check_pod_security(where, pod)
    check_secrets(where, pod)

    config = by.get("ConfigMap", {}).get("floe-config", {}).get("data", {})
    classes = set(config.get("FLOE_RESOURCE_CLASSES", "default").split(","))
    prefix = config.get("FLOE_TOPIC_PREFIX", "floe")
    sos = {s["spec"]["scaleTargetRef"]["name"]: s for s in by.get("ScaledObject", {}).values()}
    workers = [d for n, d in deps.items() if n.startswith("floe-worker")]
    if not workers:
        fail(overlay, "no worker Deployment")
    seen = set()
    for w in workers:
        name = w["metadata"]["name"]
        where = f"{overlay}: {name}"
        pod = w["spec"]["template"]["spec"]
        c = pod["containers"][0]
        args = c.get("args", [])
        cls = args[args.index("--class") + 1] if "--class" in args else None
        env = env_of(c)
        if cls is None or env.get("FLOE_WORKER_CLASS", {}).get("value") != cls or \
                w["spec"]["template"]["metadata"]["labels"].get("floe.dev/class") != cls or \
                w["spec"]["selector"]["matchLabels"].get("floe.dev/class") != cls:
            fail(where, f"the class is not the same in --class, FLOE_WORKER_CLASS and labels "
                 f"({cls})")
            continue
        if cls in seen:
            fail(where, f"a second Deployment of class {cls}")
        seen.add(cls)
        if cls not in classes:
            fail(where, f"class {cls} is not in floe-config's FLOE_RESOURCE_CLASSES {sorted(classes)}")
        if pod.get("serviceAccountName") != "floe-worker":
            fail(where, "not the floe-worker service account (the executor's RBAC)")
        if probe_path(c, "readinessProbe") != "/readyz" or probe_path(c, "livenessProbe") != "/healthz":
            fail(where, "probes are not /readyz (readiness) and /healthz (liveness)")
        http = env.get("FLOE_WORKER_HTTP", {}).get("value", "")
        if not http.startswith("0.0.0.0:"):
            fail(where, "FLOE_WORKER_HTTP does not listen beyond the pod (probes, scraping)")
        check_pod_security(where, pod)
        check_secrets(where, pod)
        so = sos.get(name)
        if so is None:
            fail(where, "no ScaledObject targets it")
            continue
        spec = so["spec"]
        meta = spec["triggers"][0]["metadata"]
        if meta.get("topic") != f"{prefix}.tasks.{cls}":
            fail(where, f"its ScaledObject watches topic {meta.get('topic')}, not {prefix}.tasks.{cls}")
        if meta.get("consumerGroup") != f"{prefix}-workers-{cls}":  # as floe-worker names it
            fail(where, f"its ScaledObject watches group {meta.get('consumerGroup')}, not "
                 f"{prefix}-workers-{cls}")
        if meta.get("bootstrapServersFromEnv") and meta["bootstrapServersFromEnv"] not in env and \
                meta["bootstrapServersFromEnv"] not in config:
            fail(where, f"bootstrapServersFromEnv {meta['bootstrapServersFromEnv']} is not set")
        if spec.get("maxReplicaCount", 100) > TASKS_PARTITIONS or meta.get("allowIdleConsumers") != "false":
            fail(where, f"may scale past the topic's {TASKS_PARTITIONS} partitions (idle consumers)")
        if spec.get("minReplicaCount", 0) > spec.get("maxReplicaCount", 100):
            fail(where, "minReplicaCount above maxReplicaCount")
        grace = pod.get("terminationGracePeriodSeconds", 30)
        g = env.get("FLOE_WORKER_GRACE", {}).get("value", "30s")
        if not g.endswith("s") or int(g[:-1]) >= grace:
            fail(where, f"terminationGracePeriodSeconds {grace} does not outlast worker.grace {g}")

    role = by.get("Role", {}).get("floe-worker-pods")
    if role is None or role.get("rules") != EXECUTOR_RULES:
        fail(overlay, f"the executor's Role is not exactly {json.dumps(EXECUTOR_RULES)}")
    rb = by.get("RoleBinding", {}).get("floe-worker-pods", {})
    if rb.get("roleRef", {}).get("name") != "floe-worker-pods" or \
            {"kind": "ServiceAccount", "name": "floe-worker"} not in [
                {k: s.get(k) for k in ("kind", "name")} for s in rb.get("subjects", [])]:
        fail(overlay, "the Role is not bound to the floe-worker service account")
    if "floe-worker" not in by.get("ServiceAccount", {}):
        fail(overlay, "no floe-worker service account")
    for np in ("floe-scheduler", "floe-worker", "floe-task-pods"):
        if np not in by.get("NetworkPolicy", {}):
            fail(overlay, f"no NetworkPolicy {np}")
    return seen


def main():
    src = sys.argv[1]
    overlays = sorted(os.listdir(os.path.join(src, "ops/k8s/overlays")))
    for overlay in overlays:
        docs = render(src, overlay)
        if not docs:
            continue
        classes = check_overlay(overlay, docs)
        print(f"test_k8s: {overlay}: {len(docs)} objects, worker classes {sorted(classes or [])}")
    for e in errors:
        print("test_k8s: FAIL " + e)
    if not errors:
        print(f"test_k8s: ok ({', '.join(overlays)})")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
