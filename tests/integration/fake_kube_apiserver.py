#!/usr/bin/env python3
"""FAKE Kubernetes API server, for the kubernetes executor's tests only.

No real API server can run on these machines, so this stands in for one: HTTPS with a
bearer token, the few pod endpoints floe-worker uses, and scripted pod lives chosen by
the image name. It runs nothing. Everything it was sent is written to --record (JSON) so
the test can check the Pod objects field by field.

  fake/succeed   Pending -> Running -> Succeeded (exit 0); its log prints
                 "floe.output out=<x + 1>" with x from FLOE_INPUTS_JSON
  fake/fail      Pending -> Running -> Failed (exit 3); its log ends with an error line
  fake/hang      Running until deleted
  fake/noimage   Pending, waiting on ErrImagePull, until deleted

Faults, to exercise the client's backoff: the first pod creation is answered 429, the
second 500; the first read of every pod is answered 503.

With --runc IMAGE=ROOTFS,... it runs pods instead of scripting them (as root, with runc):
each emptyDir volume a host directory, the init containers one after another, then the
containers, each in its own runc container on the rootfs its image names, with the pod's
environment, command, user and volume mounts, in the host's network (so presigned urls
to the stack's S3 server work); the status and logs are what the containers did.
Deleting a pod kills what runs.

Watches (GET .../pods?watch=1&fieldSelector=metadata.name=NAME&timeoutSeconds=T): a
chunked stream of MODIFIED events, one JSON object a line, each time the pod's scripted
life moves on (it moves every 100 ms while watched, as it moves at each read), DELETED
when it is gone, until T seconds passed or the client hangs up. Counted in "watches".
"""
import argparse
import json
import os
import re
import shutil
import ssl
import subprocess
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlparse, parse_qs

lock = threading.Lock()
state = {"pods": {}, "created": [], "deleted": [], "creates": 0, "unauthorized": 0, "watches": 0}
args = None


def record():
    with open(args.record + ".tmp", "w") as f:
        json.dump({"created": state["created"], "deleted": state["deleted"],
                   "creates": state["creates"], "unauthorized": state["unauthorized"],
                   "watches": state["watches"]}, f)
    import os
    os.replace(args.record + ".tmp", args.record)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *a):
        pass

    def reply(self, code, obj, extra=None):
        body = json.dumps(obj).encode() if not isinstance(obj, bytes) else obj
        self.send_response(code)
        self.send_header("Content-Type", "application/json" if not isinstance(obj, bytes) else "text/plain")
        self.send_header("Content-Length", str(len(body)))
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def status(self, code, reason, message):
        self.reply(code, {"kind": "Status", "apiVersion": "v1", "status": "Failure",
                          "reason": reason, "message": message, "code": code})

    def authorized(self):
        if self.headers.get("Authorization") != "Bearer " + args.token:
            with lock:
                state["unauthorized"] += 1
                record()
            self.status(401, "Unauthorized", "Unauthorized")
            return False
        return True

    def body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def do_POST(self):
        data = self.body()
        if not self.authorized():
            return
        m = re.fullmatch(r"/api/v1/namespaces/([a-z0-9-]+)/pods", urlparse(self.path).path)
        if not m:
            return self.status(404, "NotFound", "no such path")
        with lock:
            state["creates"] += 1
            n = state["creates"]
        if n == 1:
            return self.reply(429, {"kind": "Status", "code": 429, "message": "slow down"},
                              {"Retry-After": "0"})
        if n == 2:
            return self.status(500, "InternalError", "etcd hiccup")
        pod = json.loads(data)
        name = pod.get("metadata", {}).get("name", "")
        with lock:
            if name in state["pods"]:
                return self.status(409, "AlreadyExists", 'pods "%s" already exists' % name)
            state["pods"][name] = {"pod": pod, "reads": 0}
            state["created"].append(pod)
            record()
            if args.runc:
                entry = state["pods"][name]
                entry["status"] = {"phase": "Pending"}
                threading.Thread(target=run_pod, args=(name, entry), daemon=True).start()
        self.reply(201, pod)

    def pod_status(self, entry):
        if "status" in entry:  # a pod run with runc: what its containers did
            return json.loads(json.dumps(entry["status"]))
        pod = entry["pod"]
        image = pod["spec"]["containers"][0]["image"]
        reads = entry["reads"]
        if image == "fake/noimage":
            return {"phase": "Pending", "containerStatuses": [
                {"name": "task", "state": {"waiting": {"reason": "ErrImagePull"}}}]}
        if reads <= 2:
            return {"phase": "Pending", "containerStatuses": [
                {"name": "task", "state": {"waiting": {"reason": "ContainerCreating"}}}]}
        if reads <= 3 or image == "fake/hang":
            return {"phase": "Running", "containerStatuses": [
                {"name": "task", "state": {"running": {}}}]}
        code = 0 if image == "fake/succeed" else 3
        return {"phase": "Succeeded" if code == 0 else "Failed", "containerStatuses": [
            {"name": "task", "state": {"terminated": {"exitCode": code,
                                                      "reason": "Completed" if code == 0 else "Error"}}}]}

    def pod_object(self, entry):
        obj = dict(entry["pod"])
        obj["metadata"] = dict(obj.get("metadata", {}), resourceVersion=str(entry["reads"]))
        obj["status"] = self.pod_status(entry)
        return obj

    def chunk(self, obj):
        data = (json.dumps(obj) + "\n").encode()
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    def watch(self, query):
        sel = query.get("fieldSelector", [""])[0]
        name = sel[len("metadata.name="):] if sel.startswith("metadata.name=") else ""
        timeout = min(int(query.get("timeoutSeconds", ["60"])[0]), 300)
        with lock:
            state["watches"] += 1
            record()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        last = None
        deadline = time.monotonic() + timeout
        try:
            while time.monotonic() < deadline:
                with lock:
                    entry = state["pods"].get(name)
                    if entry is not None:
                        entry["reads"] += 1  # the scripted life moves on while watched
                        obj = self.pod_object(entry)
                if entry is None:
                    self.chunk({"type": "DELETED", "object": {"kind": "Pod", "metadata": {"name": name}}})
                    break
                if obj["status"] != last:
                    self.chunk({"type": "MODIFIED", "object": obj})
                    last = obj["status"]
                time.sleep(0.1)
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
            pass  # the client had what it waited for, or was told to stop
        self.close_connection = True

    def do_GET(self):
        if not self.authorized():
            return
        u = urlparse(self.path)
        q = parse_qs(u.query)
        if re.fullmatch(r"/api/v1/namespaces/([a-z0-9-]+)/pods", u.path) and q.get("watch", [""])[0] in ("1", "true"):
            return self.watch(q)
        m = re.fullmatch(r"/api/v1/namespaces/([a-z0-9-]+)/pods/([a-z0-9-]+)(/log)?", u.path)
        if not m:
            return self.status(404, "NotFound", "no such path")
        with lock:
            entry = state["pods"].get(m.group(2))
            if entry is None:
                return self.status(404, "NotFound", 'pods "%s" not found' % m.group(2))
            if m.group(3) and "status" in entry:
                c = parse_qs(u.query).get("container", [""])[0]
                path = os.path.join(entry.get("dir", "/nonexistent"), "log-" + c)
                log = open(path, "rb").read() if c and os.path.exists(path) else b""
                return self.reply(200, log)
            if m.group(3):
                pod = entry["pod"]
                env = {e["name"]: e.get("value", "") for e in pod["spec"]["containers"][0].get("env", [])}
                if pod["spec"]["containers"][0]["image"] == "fake/succeed":
                    x = json.loads(env.get("FLOE_INPUTS_JSON", "{}")).get("x", 0)
                    log = "hello from the pod\nfloe.output out=%d\n" % (x + 1)
                else:
                    log = "starting\nerror: the model file is missing\n"
                return self.reply(200, log.encode())
            entry["reads"] += 1
            if entry["reads"] == 1:
                return self.status(503, "ServiceUnavailable", "try again")
            obj = self.pod_object(entry)
        self.reply(200, obj)

    def do_DELETE(self):
        self.body()
        if not self.authorized():
            return
        u = urlparse(self.path)
        m = re.fullmatch(r"/api/v1/namespaces/([a-z0-9-]+)/pods(?:/([a-z0-9-]+))?", u.path)
        if not m:
            return self.status(404, "NotFound", "no such path")
        with lock:
            if m.group(2):
                gone = state["pods"].pop(m.group(2), None)
                if gone is None:
                    return self.status(404, "NotFound", 'pods "%s" not found' % m.group(2))
                gone["deleted"] = True
                if gone.get("running"):
                    runc("kill", gone["running"], "KILL", stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
                state["deleted"].append(m.group(2))
            else:
                sel = parse_qs(u.query).get("labelSelector", [""])[0]
                want = dict(kv.split("=", 1) for kv in sel.split(",") if "=" in kv)
                for name in list(state["pods"]):
                    labels = state["pods"][name]["pod"]["metadata"].get("labels", {})
                    if all(labels.get(k) == v for k, v in want.items()):
                        state["pods"].pop(name)
                        state["deleted"].append(name)
            record()
        self.reply(200, {"kind": "Status", "status": "Success"})


# --- running pods with runc ---------------------------------------------------------------

def runc(*a, **kw):
    return subprocess.run(["runc", "--root", args.runc_root] + list(a), **kw)


def container_config(c, rootfs, volumes, uid):
    env = ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]
    env += ["%s=%s" % (e["name"], e.get("value", "")) for e in c.get("env", [])]
    mounts = [
        {"destination": "/proc", "type": "proc", "source": "proc"},
        {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
         "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
        {"destination": "/sys", "type": "sysfs", "source": "sysfs",
         "options": ["nosuid", "noexec", "nodev", "ro"]},
    ]
    for vm in c.get("volumeMounts", []):
        mounts.append({"destination": vm["mountPath"], "type": "bind",
                       "source": volumes[vm["name"]], "options": ["rbind", "rw"]})
    return {
        "ociVersion": "1.0.2",
        "process": {"terminal": False, "user": {"uid": uid, "gid": uid},
                    "args": c["command"] + c.get("args", []), "env": env, "cwd": "/",
                    "noNewPrivileges": True,
                    "capabilities": {"bounding": [], "effective": [], "permitted": [],
                                     "ambient": []}},
        "root": {"path": rootfs, "readonly": True},
        "hostname": "pod",
        "mounts": mounts,
        # the host's network: the pod reaches the stack's S3 server on 127.0.0.1
        "linux": {"namespaces": [{"type": t} for t in ("pid", "ipc", "uts", "mount")]},
    }


def set_status(entry, **kw):
    with lock:
        st = json.loads(json.dumps(entry["status"]))
        st.update(kw)
        entry["status"] = st


def run_container(entry, c, kind, volumes, uid):
    """Runs one container to its end; its log in <dir>/log-<name>. Its exit code."""
    rootfs = args.runc.get(c["image"])
    statuses = kind + "Statuses"
    def status(state):
        with lock:
            lst = [s for s in entry["status"].get(statuses, []) if s["name"] != c["name"]]
            lst.append({"name": c["name"], "state": state})
            st = dict(entry["status"], **{statuses: lst})
            entry["status"] = st
    if rootfs is None:
        status({"waiting": {"reason": "ErrImagePull"}})
        return None
    bundle = os.path.join(entry["dir"], "bundle-" + c["name"])
    os.makedirs(bundle)
    with open(os.path.join(bundle, "config.json"), "w") as f:
        json.dump(container_config(c, rootfs, volumes, uid), f)
    cid = "fk-%s-%s" % (entry["pod"]["metadata"]["name"][-20:], c["name"])
    entry["running"] = cid
    status({"running": {}})
    with open(os.path.join(entry["dir"], "log-" + c["name"]), "wb") as log:
        p = runc("run", "--bundle", bundle, cid, stdout=log, stderr=subprocess.STDOUT)
    runc("delete", "-f", cid, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    entry["running"] = None
    code = p.returncode if p.returncode >= 0 else 128 - p.returncode
    status({"terminated": {"exitCode": code, "reason": "Completed" if code == 0 else "Error"}})
    return code


def run_pod(name, entry):
    pod = entry["pod"]
    entry["dir"] = tempfile.mkdtemp(prefix="pod-", dir=os.path.dirname(os.path.abspath(args.record)))
    volumes = {}
    for v in pod["spec"].get("volumes", []):
        d = os.path.join(entry["dir"], "vol-" + v["name"])
        os.makedirs(d)
        os.chmod(d, 0o777)
        volumes[v["name"]] = d
    sc = pod["spec"].get("securityContext", {})
    for kind in ("initContainers", "containers"):
        for c in pod["spec"].get(kind, []):
            if entry.get("deleted"):
                return
            uid = c.get("securityContext", {}).get("runAsUser", sc.get("runAsUser", 0))
            if kind == "containers":
                set_status(entry, phase="Running")
            code = run_container(entry, c, kind[:-1], volumes, uid)
            if code is None:
                return  # waits on its image until deleted
            if code != 0:
                set_status(entry, phase="Failed")
                return
    set_status(entry, phase="Succeeded")


def main():
    global args
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--cert", required=True)
    p.add_argument("--key", required=True)
    p.add_argument("--token", required=True)
    p.add_argument("--record", required=True)
    p.add_argument("--runc", default="", help="IMAGE=ROOTFS,...: run pods with runc")
    args = p.parse_args()
    args.runc = dict(kv.split("=", 1) for kv in args.runc.split(",") if "=" in kv)
    args.runc_root = tempfile.mkdtemp(prefix="runc-", dir=os.path.dirname(os.path.abspath(args.record)))
    record()
    srv = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(args.cert, args.key)
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    print("fake kube-apiserver on https://127.0.0.1:%d" % args.port, flush=True)
    srv.serve_forever()


if __name__ == "__main__":
    main()
