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

Watches (GET .../pods?watch=1&fieldSelector=metadata.name=NAME&timeoutSeconds=T): a
chunked stream of MODIFIED events, one JSON object a line, each time the pod's scripted
life moves on (it moves every 100 ms while watched, as it moves at each read), DELETED
when it is gone, until T seconds passed or the client hangs up. Counted in "watches".
"""
import argparse
import json
import re
import ssl
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
        self.reply(201, pod)

    def pod_status(self, entry):
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
                if state["pods"].pop(m.group(2), None) is None:
                    return self.status(404, "NotFound", 'pods "%s" not found' % m.group(2))
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


def main():
    global args
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--cert", required=True)
    p.add_argument("--key", required=True)
    p.add_argument("--token", required=True)
    p.add_argument("--record", required=True)
    args = p.parse_args()
    record()
    srv = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(args.cert, args.key)
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    print("fake kube-apiserver on https://127.0.0.1:%d" % args.port, flush=True)
    srv.serve_forever()


if __name__ == "__main__":
    main()
