#!/usr/bin/python3
"""Checks the Pods the Kubernetes executor created (recorded by the stand-in API server,
fake_kube_apiserver.py) against the official Kubernetes object models: Debian's
python3-kubernetes. Each Pod must deserialize into V1Pod with client-side validation on
(required fields, enums), and serialize back to the same document: a field the models do
not know (a typo, a field of another version) is dropped by deserialization, so any
difference fails. Also the restricted Pod Security level Floe promises.

usage: kube_validate.py RECORD.json      exit 0 when every pod passes
"""
import json
import sys

from kubernetes import client


class Body:
    def __init__(self, doc):
        self.data = json.dumps(doc)


def lost(orig, back, path="$"):
    """Where orig has something back does not (or a different value)."""
    if isinstance(orig, dict):
        if not isinstance(back, dict):
            return [path]
        out = []
        for k, v in orig.items():
            out += lost(v, back.get(k), f"{path}.{k}") if k in back else [f"{path}.{k}"]
        return out
    if isinstance(orig, list):
        if not isinstance(back, list) or len(back) != len(orig):
            return [path]
        return [p for i, v in enumerate(orig) for p in lost(v, back[i], f"{path}[{i}]")]
    return [] if orig == back else [f"{path} ({orig!r} became {back!r})"]


def main():
    pods = json.load(open(sys.argv[1]))["created"]
    if not pods:
        print("kube_validate: no pods recorded")
        return 1
    api = client.ApiClient()
    bad = 0
    for doc in pods:
        name = doc.get("metadata", {}).get("name", "?")
        try:
            pod = api.deserialize(Body(doc), "V1Pod")
        except (ValueError, TypeError) as e:
            print(f"kube_validate: {name}: not a valid V1Pod: {e}")
            bad += 1
            continue
        diff = lost(doc, api.sanitize_for_serialization(pod))
        if diff:
            print(f"kube_validate: {name}: fields the models do not know or change: {diff}")
            bad += 1
        c = pod.spec.containers[0].security_context
        if not (c and c.run_as_non_root and c.allow_privilege_escalation is False
                and c.read_only_root_filesystem and c.capabilities and c.capabilities.drop == ["ALL"]
                and pod.spec.security_context.seccomp_profile.type == "RuntimeDefault"):
            print(f"kube_validate: {name}: not at the restricted Pod Security level")
            bad += 1
    print(f"kube_validate: {len(pods)} pods, {bad} bad")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
