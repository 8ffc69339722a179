"""bench/floe_side.py — runs the workloads on Floe: a floe-scheduler and floe-workers
started here against the local stack (ops/stack), specs registered and executions
launched through the HTTP API like any user's, and everything measured from outside
the processes (/proc, /metrics, Redis INFO, PostgreSQL) or from the workers' trace
files (worker.trace: ready, dispatched, arrived, taken, task start and end, and
published times per attempt).
"""
import collections
import hashlib
import http.client
import json
import os
import re
import signal
import socket
import subprocess
import tempfile
import threading
import time
import urllib.parse

import psycopg2
import redis

import shapes

PROJECT = "bench"
DOMAIN = "development"
BUS_LP = "bench_many_bus"  # the launch plan of `many` launched through the bus
ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,128}$")
CLK_TCK = os.sysconf("SC_CLK_TCK")


class BenchError(Exception):
    pass


# One line of a worker's trace (worker.trace), Unix microseconds: ready (the scheduler made
# the node ready), dispatched (produced), arrived (read by the worker), taken (out of its
# backlog: claim starts), run_start / run_end (the executor started / the task ended),
# published (the result produced).
Trace = collections.namedtuple("Trace", "ready dispatched arrived taken run_start run_end published")


def pct(values, q):
    """The q-quantile (nearest rank) of values, or None."""
    if not values:
        return None
    v = sorted(values)
    k = max(0, min(len(v) - 1, int(q * len(v) + 0.999999) - 1))
    return v[k]


def wait_for(what, check, timeout, every=0.05):
    """Polls check() until it returns a true value; BenchError naming `what` on timeout."""
    end = time.monotonic() + timeout
    while True:
        got = check()
        if got:
            return got
        if time.monotonic() > end:
            raise BenchError("timed out after %.0f s waiting for %s" % (timeout, what))
        time.sleep(every)


# --- processes ------------------------------------------------------------------------


class Daemon:
    def __init__(self, name, argv, env, log_path):
        self.name = name
        self.log_path = log_path
        self.log = open(log_path, "ab")
        self.p = subprocess.Popen(argv, env=env, stdout=self.log, stderr=subprocess.STDOUT)

    def alive(self):
        return self.p.poll() is None

    def cpu_s(self):
        """User + system CPU seconds of the process (all threads, not its children)."""
        with open("/proc/%d/stat" % self.p.pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLK_TCK

    def reset_peak_rss(self):
        with open("/proc/%d/clear_refs" % self.p.pid, "w") as f:
            f.write("5")

    def peak_rss_bytes(self):
        with open("/proc/%d/status" % self.p.pid) as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
        return None

    def stop(self, timeout=60):
        if self.alive():
            self.p.send_signal(signal.SIGTERM)
            try:
                self.p.wait(timeout)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()
        self.log.close()


def bearer(env=os.environ):
    """The Authorization header for the API: FLOE_TOKEN, else the file FLOE_TOKEN_FILE."""
    tok = env.get("FLOE_TOKEN", "")
    if not tok and env.get("FLOE_TOKEN_FILE"):
        try:
            with open(env["FLOE_TOKEN_FILE"]) as f:
                tok = f.read().strip()
        except OSError:
            tok = ""
    return {"Authorization": "Bearer " + tok} if tok else {}


def scrape(url):
    """Prometheus text from url -> {"name{labels}": value}."""
    u = urllib.parse.urlsplit(url)
    c = http.client.HTTPConnection(u.hostname, u.port, timeout=10)
    c.request("GET", "/metrics")
    r = c.getresponse()
    body = r.read().decode()
    c.close()
    out = {}
    for line in body.splitlines():
        if line and not line.startswith("#"):
            k, _, v = line.rpartition(" ")
            try:
                out[k] = float(v)
            except ValueError:
                pass
    return out


def bus_messages(metrics):
    """Messages produced by a process's buses (floe_bus_messages_total)."""
    return sum(v for k, v in metrics.items()
               if k.startswith("floe_bus_messages_total{") and 'dir="produced"' in k)


# --- the API --------------------------------------------------------------------------


class RawConn:
    """One keep-alive HTTP/1.1 connection for the launch loop of `many`: it sends the request
    http.client would (headers and body in one write) and reads the status line, the
    Content-Length and the body. http.client parses each answer's headers with email.parser:
    ~300 us of CPU a launch on the bench's two cores, which the benchmark's client took
    from the system it measures (435-1,080 against 130-150 us a launch, issue 25)."""

    def __init__(self, host, port, timeout):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""

    def close(self):
        self.sock.close()

    def _fill(self):
        d = self.sock.recv(65536)
        if not d:
            raise http.client.RemoteDisconnected("the API closed the connection")
        self.buf += d

    def request(self, head, body):
        """head: the request line and headers (bytes, without Content-Length); answers
        (status, body text, keep): keep false when the server closes the connection."""
        self.sock.sendall(head + b"Content-Length: %d\r\n\r\n" % len(body) + body)
        while b"\r\n\r\n" not in self.buf:
            self._fill()
        end = self.buf.index(b"\r\n\r\n")
        lines = self.buf[:end].decode("latin-1").split("\r\n")
        self.buf = self.buf[end + 4:]
        status, length, keep = int(lines[0].split(" ", 2)[1]), None, True
        for line in lines[1:]:
            k, _, v = line.partition(":")
            k = k.strip().lower()
            if k == "content-length":
                length = int(v)
            elif k == "transfer-encoding":
                raise BenchError("launch: unexpected Transfer-Encoding %s" % v.strip())
            elif k == "connection" and v.strip().lower() == "close":
                keep = False
        if length is None:
            raise BenchError("launch: an answer without Content-Length (HTTP %d)" % status)
        while len(self.buf) < length:
            self._fill()
        text, self.buf = self.buf[:length].decode(), self.buf[length:]
        return status, text, keep


class Api:
    def __init__(self, url):
        u = urllib.parse.urlsplit(url)
        self.host, self.port = u.hostname, u.port
        self.local = threading.local()
        self.auth = {}

    def kept_alive(self, attr, opener, send):
        """send(conn) on this thread's kept-alive connection (self.local.<attr>, opened by
        opener when there is none) -> (status, text, keep). The API closes a connection idle
        for 30 s (a long run in between): a kept-alive one found closed is opened again,
        once; the request never reached the server. keep false: the server closes it."""
        for attempt in (0, 1):
            c = getattr(self.local, attr, None)
            reused = c is not None
            if c is None:
                c = opener()
                setattr(self.local, attr, c)
            try:
                status, text, keep = send(c)
                break
            except (BrokenPipeError, ConnectionResetError, http.client.RemoteDisconnected):
                setattr(self.local, attr, None)
                c.close()
                if not reused or attempt:
                    raise
            except (OSError, http.client.HTTPException):
                setattr(self.local, attr, None)
                c.close()
                raise
        if not keep:
            setattr(self.local, attr, None)
            c.close()
        return status, text

    def call(self, method, path, body=None, ctype="application/json"):
        data = body.encode() if isinstance(body, str) else body

        def send(c):
            c.request(method, path, body=data, headers={"Content-Type": ctype, **self.auth})
            r = c.getresponse()
            return r.status, r.read().decode(), not r.will_close
        status, text = self.kept_alive(
            "conn", lambda: http.client.HTTPConnection(self.host, self.port, timeout=60), send)
        if status >= 300:
            raise BenchError("%s %s: HTTP %d: %s" % (method, path, status, text[:500]))
        return json.loads(text) if text else {}

    def register(self, yaml_text, label):
        q = urllib.parse.urlencode({"project": PROJECT, "domain": DOMAIN, "file": label})
        return self.call("POST", "/api/v1/register?" + q, yaml_text, "application/yaml")

    def post_raw(self, path, body):
        """POST a JSON body on this thread's RawConn; answers the decoded JSON of a 2xx
        answer."""
        head = ("POST %s HTTP/1.1\r\nHost: %s:%d\r\nContent-Type: application/json\r\n%s" % (
            path, self.host, self.port,
            "".join("%s: %s\r\n" % kv for kv in self.auth.items()))).encode()
        status, text = self.kept_alive("raw", lambda: RawConn(self.host, self.port, 60),
                                       lambda c: c.request(head, body))
        if status >= 300:
            raise BenchError("POST %s: HTTP %d: %s" % (path, status, text[:500]))
        return json.loads(text) if text else {}

    def launch(self, workflow, inputs=None):
        body = json.dumps({"project": PROJECT, "domain": DOMAIN, "workflow": workflow,
                           "inputs": inputs or {}, "requested_by": "bench"}).encode()
        got = self.post_raw("/api/v1/executions", body)
        if not ID_RE.match(got.get("id", "")):
            raise BenchError("launch %s: unexpected answer %r" % (workflow, got))
        return got["id"]


# --- the bench ------------------------------------------------------------------------


class FloeBench:
    def __init__(self, top, stack_env, out_dir, quick, log):
        self.top = top
        self.env = dict(os.environ)
        self.env.update(stack_env)
        self.env["FLOE_LOG_LEVEL"] = "warn"
        self.out_dir = out_dir
        self.quick = quick
        self.log = log
        self.api = Api(stack_env["FLOE_API_URL"])
        self.api.auth = bearer(stack_env)
        self.pg = stack_env["FLOE_POSTGRES_URL"]
        self.redis_url = stack_env["FLOE_REDIS_URL"]
        # One connection each, kept: the harness polls while the workload runs, and a
        # process per poll (psql, redis-cli) cost more CPU than the scheduler did.
        self.db = psycopg2.connect(self.pg)
        self.db.autocommit = True
        self.rds = redis.Redis.from_url(self.redis_url)
        self.rds_lock = threading.Lock()
        self.sched = None
        self.workers = []
        self.worker_seq = 0
        self.versions = {}
        self.trace_paths = []
        self.trace_pos = {}  # path -> bytes of it read_traces has read

    # -- daemons --

    def start_scheduler(self):
        env = dict(self.env)
        # The 100,000-node fan-out (issue 25) is over the default spec limits.
        env.update({"FLOE_SPEC_MAX_NODES": "200000", "FLOE_SPEC_MAX_BYTES": "32MiB",
                    "FLOE_API_MAX_BODY_BYTES": "64MiB"})
        self.sched = Daemon("scheduler", [os.path.join(self.top, "build/bin/floe-scheduler")],
                            env, os.path.join(self.out_dir, "scheduler.log"))

        def leading():
            if not self.sched.alive():
                raise BenchError("floe-scheduler exited (log: %s)" % self.sched.log_path)
            try:
                return scrape(self.env["FLOE_API_URL"]).get("floe_scheduler_is_leader") == 1
            except OSError:
                return False
        wait_for("floe-scheduler to lead", leading, 60)

    def start_workers(self, n, concurrency):
        self.stop_workers()
        for i in range(n):
            self.worker_seq += 1
            env = dict(self.env)
            port = 18900 + self.worker_seq
            trace = os.path.join(self.out_dir, "worker-%d.trace" % self.worker_seq)
            env.update({"FLOE_WORKER_NOOP": "on", "FLOE_WORKER_TRACE": trace,
                        "FLOE_WORKER_HTTP": "127.0.0.1:%d" % port,
                        "FLOE_WORKER_CONCURRENCY": str(concurrency)})
            d = Daemon("worker-%d" % self.worker_seq,
                       [os.path.join(self.top, "build/bin/floe-worker"), "--class", "default"],
                       env, os.path.join(self.out_dir, "worker-%d.log" % self.worker_seq))
            d.metrics_url = "http://127.0.0.1:%d" % port
            d.trace = trace
            self.workers.append(d)
            self.trace_paths.append(trace)
        # Consumers join the group one by one (each join rebalances): small executions until
        # every worker has run something, so the measured run starts with a stable group.
        def all_took_part():
            ids = [self.api.launch(self.wf("warmup", "noop")) for _ in range(2)]
            self.wait_finished(ids, 60)
            return all(os.path.exists(w.trace) and os.path.getsize(w.trace) > 0 for w in self.workers)
        for w in self.workers:
            if not w.alive():
                raise BenchError("%s exited (log: %s)" % (w.name, w.log_path))
        wait_for("%d workers to share the work" % n, all_took_part, 120, every=0.2)

    def warm_up(self, seconds):
        """Runs fan-outs and layered DAGs (noop), unmeasured, for `seconds`: on a stack just
        started, Kafka's JVM runs the first ~50,000 tasks at half the speed it reaches once
        it has compiled its hot paths (docs/bench.md, Noise)."""
        end = time.monotonic() + seconds
        runs = 0
        while time.monotonic() < end:
            for name in ("fanout", "layered"):
                self.wait_finished([self.api.launch(self.wf(name, "noop"))], 600)
                runs += 1
        return runs

    def stop_workers(self):
        for w in self.workers:
            w.stop()
        self.workers = []

    def stop(self):
        self.stop_workers()
        if self.sched is not None:
            self.sched.stop()
        self.db.close()
        self.rds.close()

    # -- specs --

    def wf(self, shape, executor):
        return "%s_%s@%s" % (shape, executor, self.versions[(shape, executor)])

    def register(self):
        tasks = ("kind: task\nname: bench_noop\nversion: \"1\"\nexecutor: noop\n"
                 "container: {command: [\"true\"]}\nretries: 0\n---\n"
                 "kind: task\nname: bench_true\nversion: \"1\"\nexecutor: process\n"
                 "container: {command: [/bin/true]}\nretries: 0\n")
        self.api.register(tasks, "bench-tasks.yaml")
        # hops: a chain passing an integer along, each task one cp without a shell, so
        # the time is the executor's and the worker's, not the task's.
        rootfs = os.path.join(self.env.get("FLOE_OCI_ROOTFS_DIR", "/var/lib/floe/rootfs"),
                              "busybox")
        cp = ("kind: task\nname: bench_cp\nversion: \"1\"\nexecutor: process\n"
              "container: {command: [/bin/cp, inputs/x, outputs/x]}\n"
              "inputs: {x: integer}\noutputs: {x: integer}\nretries: 0\n---\n"
              "kind: task\nname: bench_cp_oci\nversion: \"1\"\nexecutor: oci\n"
              "container: {rootfs: %s, command: [/bin/cp, /floe/inputs/x, /floe/outputs/x]}\n"
              "inputs: {x: integer}\noutputs: {x: integer}\nretries: 0\n" % rootfs)
        self.api.register(cp, "bench-cp.yaml")
        n = shapes.sizes(self.quick)["hops"]
        for executor, task in (("process", "bench_cp"), ("oci", "bench_cp_oci")):
            body = shapes.yaml_hops("hops_%s" % executor, "V", n, task)
            version = "b" + hashlib.sha256(body.encode()).hexdigest()[:12]
            self.versions[("hops", executor)] = version
            self.api.register(body.replace('version: "V"', 'version: "%s"' % version, 1),
                              "bench-hops-%s.yaml" % executor)
        shapes_all = dict(shapes.workloads(self.quick))
        shapes_all["warmup"] = (shapes.fanout(16), 1)
        for size in shapes.sizes(self.quick)["sizes"]:
            shapes_all["fanout%d" % size] = (shapes.fanout(size), 1)
        for name, (shape, _) in shapes_all.items():
            for executor, task in (("noop", "bench_noop"), ("process", "bench_true")):
                if name[len("fanout"):].isdigit() and executor != "noop":
                    continue  # the sizes measure Floe's own per-task cost: noop only
                body = shapes.yaml_workflow("%s_%s" % (name, executor), "V", shape, task)
                version = "b" + hashlib.sha256(body.encode()).hexdigest()[:12]
                self.versions[(name, executor)] = version
                self.api.register(body.replace('version: "V"', 'version: "%s"' % version, 1),
                                  "bench-%s-%s.yaml" % (name, executor))
        # many launched through the bus, as a service would (floe_client_request_many): a
        # launch plan of the same workflow, active
        version = self.versions[("many", "noop")]
        self.api.register('kind: launchplan\nname: %s\nversion: "%s"\nworkflow: %s\n' % (
            BUS_LP, version, self.wf("many", "noop")), "bench-many-lp.yaml")
        self.api.call("POST", "/api/v1/launchplans/%s/%s/%s/%s/activate" % (
            PROJECT, DOMAIN, BUS_LP, version), "")

    # -- waiting and reading results --

    # The executions still open, from the partial index executions_by_phase (its predicate,
    # word for word): as many rows as are running, whatever the table holds.
    OPEN_SQL = ("SELECT id FROM executions WHERE phase NOT IN "
                "('SUCCEEDED', 'FAILED', 'ABORTED', 'TIMED_OUT')")
    # The ended ones of a list, a primary-key lookup each: `id = ANY(<2,000 ids>)` was
    # planned as a parallel sequential scan of the whole table (~70 ms and two parallel
    # workers a poll once it held 240,000 executions), the benchmark's own load on the
    # PostgreSQL it measures.
    ENDED_SQL = ("SELECT e.id, e.phase, (extract(epoch FROM e.finished_at) * 1000000)::bigint "
                 "FROM unnest(%s::text[]) AS w(id) JOIN executions e ON e.id = w.id "
                 "WHERE e.finished_at IS NOT NULL")

    def wait_finished(self, ids, timeout):
        """Waits until every execution in ids ended; returns {id: (phase, finished_us)}.
        A poll reads the open executions (cheap); only when none of ids is among them does
        it look up those of ids not yet seen ended (a row launched through the bus may not
        be written yet: then it is neither)."""
        done = {}
        want = set(ids)

        def check():
            with self.db.cursor() as cur:
                cur.execute(self.OPEN_SQL)
                if any(row[0] in want for row in cur.fetchall()):
                    return False
                cur.execute(self.ENDED_SQL, ([i for i in ids if i not in done],))
                for row in cur.fetchall():
                    done[row[0]] = (row[1], int(row[2]))
            return len(done) == len(ids)
        wait_for("%d executions to finish" % len(ids), check, timeout, every=0.1)
        bad = [(i, p) for i, (p, _) in done.items() if p != "SUCCEEDED"]
        if bad:
            raise BenchError("executions did not succeed: %s" % bad[:5])
        return done

    def settle_redis(self):
        """Rewrites Redis's AOF now, so the automatic rewrite (at 100% growth) does not
        fork Redis in the middle of a measurement: it cost up to a third of a run."""
        with self.rds_lock:
            try:
                self.rds.bgrewriteaof()
            except redis.ResponseError:
                pass  # one is already running: waited for below

        def done():
            with self.rds_lock:
                p = self.rds.info("persistence")
            return not p.get("aof_rewrite_in_progress") and not p.get("aof_rewrite_scheduled")
        wait_for("Redis's AOF rewrite", done, 120, every=0.1)

    def redis_used(self):
        with self.rds_lock:
            return int(self.rds.info("memory")["used_memory"])

    def watch_redis_peak(self, start):
        """Samples Redis's used_memory every 50 ms from now: ([peak], stop()); peak[0] is
        the highest seen once stop() returned."""
        peak = [start]
        done = threading.Event()

        def watch():
            while not done.wait(0.05):
                peak[0] = max(peak[0], self.redis_used())
        th = threading.Thread(target=watch, daemon=True)
        th.start()

        def stop():
            done.set()
            th.join()
        return peak, stop

    def read_traces(self, ids):
        """Trace rows of these executions written since the last call: {(exec, node):
        Trace}. Each file is read on from where the last call stopped (its last complete
        line): a run's rows come after the runs before it, and reading every file whole
        after each run made the full bench's last runs read a million lines each."""
        want = set(ids)
        rows = {}
        for path in self.trace_paths:
            if not os.path.exists(path):
                continue
            with open(path, "rb") as f:
                f.seek(self.trace_pos.get(path, 0))
                data = f.read()
            end = data.rfind(b"\n") + 1  # a line being written waits for the next call
            self.trace_pos[path] = self.trace_pos.get(path, 0) + end
            for line in data[:end].decode().splitlines():
                p = line.split()
                if len(p) == 11 and p[0] in want and p[10] == "succeeded":
                    rows[(p[0], p[1])] = Trace(*(int(x) for x in p[3:10]))
        return rows

    # -- one workload --

    @staticmethod
    def count_syscalls():
        """System-wide syscalls until the returned stop() (everything a task costs: the
        daemons, Kafka's JVM, Redis, PostgreSQL); stop() gives the count, or None without
        perf."""
        out = tempfile.NamedTemporaryFile(prefix="floe-syscalls-", suffix=".csv", delete=False)
        out.close()
        try:
            p = subprocess.Popen(["perf", "stat", "-e", "raw_syscalls:sys_enter", "-a", "-x,",
                                  "-o", out.name], stdout=subprocess.DEVNULL,
                                 stderr=subprocess.DEVNULL)
        except OSError:
            os.unlink(out.name)
            return lambda: None

        def stop():
            p.send_signal(signal.SIGINT)
            p.wait(60)
            n = None
            with open(out.name) as f:
                for line in f:
                    parts = line.split(",")
                    if len(parts) > 2 and parts[2] == "raw_syscalls:sys_enter" and parts[0].isdigit():
                        n = int(parts[0])
            os.unlink(out.name)
            return n
        return stop

    def run(self, name, executor, shape, n_exec, profile=None, worker_profile=None,
            count_syscalls=False, bus=False):
        """bus: the executions requested on Kafka together, as a service's backfill would
        (floe_client_request_many through floe-publish-example), not through the API."""
        wf = self.wf(name, executor)
        tasks = len(shape) * n_exec
        self.log("floe: %s (%s executor): %d executions x %d nodes" % (name, executor, n_exec, len(shape)))
        self.settle_redis()
        before = self.sample()
        self.sched.reset_peak_rss()
        base_mem = self.redis_used()
        peak, stop = self.watch_redis_peak(base_mem)
        perf = None
        if profile:
            perf = subprocess.Popen(["perf", "record", "-F", "999", "-g", "-o", profile,
                                     "-p", str(self.sched.p.pid)],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(0.5)  # perf attaches asynchronously; nothing to await
        wperf = None
        if worker_profile and self.workers:
            wperf = subprocess.Popen(["perf", "record", "-F", "999", "-g", "-o", worker_profile,
                                      "-p", str(self.workers[0].p.pid)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(0.5)
        # Counting syscalls traces every one of them (it slows the run): only on request,
        # in a run of its own.
        syscalls = self.count_syscalls() if count_syscalls else (lambda: None)
        through_api = not bus and n_exec > 1
        api0 = self.api_launch_time() if through_api else None
        cpu0 = os.times()  # the benchmark's own CPU while it launches (its client's cost)
        t0 = time.time()
        if bus:
            ids = self.launch_bus(n_exec)
        elif n_exec == 1:
            ids = [self.api.launch(wf)]
        else:
            ids = self.launch_many(wf, n_exec)
        launched = time.time()
        cpu1 = os.times()
        api1 = self.api_launch_time() if through_api else None
        done = self.wait_finished(ids, 600)
        n_syscalls = syscalls()
        stop()
        for pr in (perf, wperf):
            if pr is not None:
                pr.send_signal(signal.SIGINT)
                pr.wait(60)
        wall = max(f for _, f in done.values()) / 1e6 - t0
        after = self.sample()
        traces = self.wait_traces(ids, tasks)
        r = self.figures(name, executor, shape, ids, tasks, wall, launched - t0, before,
                         after, peak[0] - base_mem, traces)
        if bus:
            r["workload"] = name + "_bus"
            r["launched_through"] = "bus: floe_client_request_many"
        r["syscalls_per_task"] = None if n_syscalls is None else round(n_syscalls / tasks, 1)
        if through_api:
            ms = [x * 1000 for x in self.launch_s]
            r["launch_ms"] = {"p50": round(pct(ms, 0.5), 2), "p99": round(pct(ms, 0.99), 2),
                              "n": len(ms)}
            n_api = api1[1] - api0[1]
            r["launch_api_ms_mean"] = round((api1[0] - api0[0]) * 1000 / n_api, 2) if n_api else None
            r["launch_client_cpu_us"] = round((cpu1.user + cpu1.system - cpu0.user - cpu0.system)
                                              * 1e6 / n_exec)
        return r

    def api_launch_time(self):
        """(seconds, count) the API spent on launches so far: request read to reply sent
        (floe_api_request_duration_seconds of route launch)."""
        m = scrape(self.env["FLOE_API_URL"])
        return (m.get('floe_api_request_duration_seconds_sum{route="launch"}', 0.0),
                m.get('floe_api_request_duration_seconds_count{route="launch"}', 0.0))

    def run_map(self, n_items, concurrency=1000):
        """One execution of one map node over n_items noop items (issue 23): its rate, and
        what each item costs the scheduler (peak RSS over the run, less before) and Redis
        (peak over the run, and what stays until the retention ends)."""
        body = ("kind: task\nname: bench_map_item\nversion: \"1\"\nexecutor: noop\n"
                "inputs: {x: integer}\noutputs: {y: integer}\nretries: 0\n---\n"
                "kind: workflow\nname: bench_map\nversion: \"%d\"\n"
                "inputs: {xs: \"list<integer>\"}\noutputs: {ys: {from: {node: m, output: y}}}\n"
                "nodes:\n  - {id: m, task: bench_map_item, map: {over: x, concurrency: %d},"
                " inputs: {x: {input: xs}}}\n" % (concurrency, concurrency))
        self.api.register(body, "bench-map.yaml")
        self.log("floe: map (noop executor): one map node of %d items, %d at once" %
                 (n_items, concurrency))
        self.settle_redis()
        self.sched.reset_peak_rss()
        rss0 = self.sched.peak_rss_bytes()  # the current RSS, right after the reset
        base = self.redis_used()
        peak, stop = self.watch_redis_peak(base)
        before = self.sample()
        t0 = time.time()
        ids = [self.api.launch("bench_map@%d" % concurrency, {"xs": list(range(n_items))})]
        done = self.wait_finished(ids, 900)
        stop()
        wall = max(f for _, f in done.values()) / 1e6 - t0
        after = self.sample()
        held = self.redis_used() - base
        k = n_items / 1000.0
        msgs = (after["sched_msgs"] - before["sched_msgs"]) + \
            (after["worker_msgs"] - before["worker_msgs"])
        return {"system": "floe", "workload": "map", "executor": "noop",
                "workers": len(self.workers), "executions": 1, "tasks": n_items,
                "map_concurrency": concurrency, "wall_s": round(wall, 3),
                "tasks_per_s": round(n_items / wall, 1),
                "sched_cpu_s_per_1000_tasks": round((after["sched_cpu"] - before["sched_cpu"]) / k, 3),
                "worker_cpu_s_per_1000_tasks": round((after["worker_cpu"] - before["worker_cpu"]) / k, 3),
                "sched_peak_rss_mib": round(self.sched.peak_rss_bytes() / 2**20, 1),
                "sched_rss_bytes_per_item": round(max(0, self.sched.peak_rss_bytes() - rss0) / n_items, 1),
                "redis_peak_bytes_per_item": round((peak[0] - base) / n_items, 1),
                "redis_held_bytes_per_item": round(held / n_items, 1),
                "kafka_msgs_per_task": round(msgs / n_items, 2)}

    def run_hops(self, executor):
        """A chain of cp tasks on one worker: per attempt, the time from the dispatch
        arriving to the result published, split into the worker's part before the task
        (claim, inputs, executor start), the task as the executor reports it (for oci:
        runc create, start, the container, runc delete) and the part after (outputs, logs,
        directory removed, result produced)."""
        wf = self.wf("hops", executor)
        n = shapes.sizes(self.quick)["hops"]
        self.log("floe: hops (%s executor): a chain of %d cp tasks" % (executor, n))
        ids = [self.api.launch(wf, {"x": 7})]
        self.wait_finished(ids, 600)
        traces = self.wait_traces(ids, n)
        ms = lambda v: None if v is None else round(v / 1000.0, 3)  # noqa: E731
        parts = {"received_to_published": [t.published - t.taken for t in traces.values()],
                 "before_task": [t.run_start - t.taken for t in traces.values()],
                 "task": [t.run_end - t.run_start for t in traces.values()],
                 "after_task": [t.published - t.run_end for t in traces.values()]}
        out = {"system": "floe", "workload": "hops", "executor": executor, "workers": 1,
               "tasks": len(traces)}
        for k, v in parts.items():
            out[k + "_ms"] = {"p50": ms(pct(v, 0.5)), "p99": ms(pct(v, 0.99)), "n": len(v)}
        return out

    def launch_many(self, wf, n):
        """n launches by four clients, one at a time each; self.launch_s: each one's time."""
        ids, errors, took = [], [], []
        lock = threading.Lock()

        def launcher(k):
            got, t = [], []
            try:
                for _ in range(k):
                    t0 = time.monotonic()
                    got.append(self.api.launch(wf))
                    t.append(time.monotonic() - t0)
            except Exception as e:  # reported below, the run fails
                errors.append(e)
                return
            with lock:
                ids.extend(got)
                took.extend(t)
        self.launch_s = took
        threads = [threading.Thread(target=launcher, args=(n // 4 + (i < n % 4),)) for i in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        if errors:
            raise BenchError("launching: %s" % errors[0])
        return ids

    def launch_bus(self, n):
        p = subprocess.run([os.path.join(self.top, "build/bin/floe-publish-example"),
                            "--launch-many", str(n), PROJECT, DOMAIN, BUS_LP],
                           env=self.env, capture_output=True, text=True, timeout=120)
        ids = p.stdout.split()
        if p.returncode != 0 or len(ids) != n:
            raise BenchError("launching through the bus: %s" % p.stderr.strip())
        return ids

    def wait_traces(self, ids, tasks):
        """Workers write their trace when idle; the last lines may trail the results."""
        got = {}

        def check():
            got.update(self.read_traces(ids))
            return len(got) >= tasks
        try:
            wait_for("trace lines of %d tasks" % tasks, check, 10, every=0.1)
        except BenchError as e:
            self.log("warning: %s (have %d)" % (e, len(got)))
        return got

    def sample(self):
        s = {"sched_cpu": self.sched.cpu_s(), "sched_msgs": bus_messages(scrape(self.env["FLOE_API_URL"])),
             "worker_cpu": 0.0, "worker_msgs": 0.0}
        for w in self.workers:
            s["worker_cpu"] += w.cpu_s()
            s["worker_msgs"] += bus_messages(scrape(w.metrics_url))
        return s

    def figures(self, name, executor, shape, ids, tasks, wall, launch_s, before, after,
                redis_bytes, traces):
        parents = {n: ps for n, ps in shape}
        r2d, c2d = [], []
        for (ex, node), t in traces.items():
            if t.ready > 0:
                r2d.append(t.dispatched - t.ready)
            ps = parents.get(node, [])
            if ps:
                ends = [traces.get((ex, p)) for p in ps]
                if all(e is not None for e in ends):
                    c2d.append(t.arrived - max(e.published for e in ends))
        k = tasks / 1000.0
        msgs = (after["sched_msgs"] - before["sched_msgs"]) + (after["worker_msgs"] - before["worker_msgs"])

        def ms(v):
            return None if v is None else round(v / 1000.0, 3)
        return {
            "system": "floe", "workload": name, "executor": executor, "workers": len(self.workers),
            "executions": len(ids), "tasks": tasks,
            "wall_s": round(wall, 3), "tasks_per_s": round(tasks / wall, 1),
            "launch_s": round(launch_s, 3),
            "us_per_task": round(wall * 1e6 / tasks, 1),
            "ready_to_dispatched_ms": {"p50": ms(pct(r2d, 0.5)), "p99": ms(pct(r2d, 0.99)), "n": len(r2d)},
            "completion_to_downstream_received_ms": {"p50": ms(pct(c2d, 0.5)), "p99": ms(pct(c2d, 0.99)),
                                                     "n": len(c2d)},
            "sched_cpu_s_per_1000_tasks": round((after["sched_cpu"] - before["sched_cpu"]) / k, 3),
            "worker_cpu_s_per_1000_tasks": round((after["worker_cpu"] - before["worker_cpu"]) / k, 3),
            "sched_peak_rss_mib": round(self.sched.peak_rss_bytes() / 2**20, 1),
            "redis_bytes_per_node": round(redis_bytes / tasks, 1),
            "kafka_msgs_per_task": round(msgs / tasks, 2),
        }
