#!/usr/bin/env python3
"""The fault suite: Floe's invariants under kill -9, pauses, lost writes and poison.

    tests/faults/faults.py BUILD_DIR [--json FILE] [--quick] [--shard K/N] [SCENARIO ...]

Against the real local stack (ops/stack up first; tests/faults/run does it), with two
floe-scheduler and two floe-worker processes from BUILD_DIR/bin. Every scenario launches
a burst of executions (a diamond of ledger tasks each, one corner a map node of three
items, hundreds of tasks in flight),
injects its fault once work is under way, launches a probe execution at the moment of
the fault, undoes the fault, and waits (bounded) for every accepted execution to end.

The oracle is outside the system: the ledger the tasks write (tests/faults/task.sh) and
the API's answers. Per scenario it reports
  in_flight      executions accepted before the fault
  lost           accepted executions that did not end SUCCEEDED within the bound (must be 0)
  stuck_unacknowledged  executions recorded but never acknowledged to a client (a replica
                 died answering) that did not end either (must be 0)
  double_effects ledger keys whose effect two runs applied, i.e. one node run twice at
                 the same time (must be 0)
  reruns         extra runs of nodes (at-least-once at work: allowed, counted)
  recovery_s     from the fault to the end of the probe launched at that moment
  probe_accepted_s  from the fault to the probe's 201; with Kafka down it must come before
                 the fault is undone (a launch is answered once PostgreSQL recorded it)
Exit status 1 when any scenario lost an execution or applied an effect twice.
"""

import json
import os
import random
import shlex
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

TOP = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
TASK = os.path.join(TOP, "tests", "faults", "task.sh")
SCHEDS = {"a": 18881, "b": 18882}
WORKERS = {"w1": 18891, "w2": 18892}
WAIT_END_S = 150  # every accepted execution ends within this after the fault is undone
BLOB_FS_MB = 48
PG_FS_MB = 256  # room left in the tablespace that fills up, over what the tables take
LIBFAKETIME = "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1"


def log(msg):
    print("faults: " + msg, flush=True)


def stack_env():
    out = subprocess.run([os.path.join(TOP, "ops", "stack"), "env"], check=True,
                         capture_output=True, text=True).stdout
    env = {}
    for line in out.splitlines():
        if line.startswith("export ") and "=" in line:
            k, v = line[len("export "):].split("=", 1)
            env[k] = shlex.split(v)[0] if v else ""  # a value may be quoted (postgres.url)
    return env

TOKEN = {}  # the Authorization header every API call sends (main fills it from the stack)


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


def http(method, url, body=None, timeout=10.0):
    """(status, parsed JSON or None); status 0 when the server cannot be reached."""
    data = body.encode() if isinstance(body, str) else body
    req = urllib.request.Request(url, data=data, method=method, headers=TOKEN)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            raw = r.read()
            status = r.status
    except urllib.error.HTTPError as e:
        raw = e.read()
        status = e.code
    except (urllib.error.URLError, OSError):
        return 0, None
    try:
        return status, json.loads(raw) if raw else None
    except ValueError:
        return status, None


def metric(base, name):
    try:
        with urllib.request.urlopen(base + "/metrics", timeout=3) as r:
            text = r.read().decode()
    except (urllib.error.URLError, OSError):
        return None
    for line in text.splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{"):
            return float(line.rsplit(" ", 1)[1])
    return None


def wait_until(what, cond, timeout_s, step=0.1):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(step)
    raise TimeoutError("timed out after %.0f s waiting for %s" % (timeout_s, what))


def iso_seconds(ts):
    """Unix seconds of an RFC 3339 time as the API writes it, or None."""
    if not ts:
        return None
    import datetime
    try:
        return datetime.datetime.fromisoformat(ts.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def descendants(pid):
    """pid and every process below it (from /proc)."""
    children = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        children.setdefault(ppid, []).append(int(d))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p, []))
    return out


class Proxy:
    """A TCP relay between one process and a service (127.0.0.1 only). partition() stops
    relaying without closing anything, as a network that drops packets does: the process
    sees silence, not a reset, until its own timeouts notice. heal() resumes."""

    def __init__(self, target_host, target_port):
        import socket
        import threading
        self.target = (target_host, target_port)
        self.blocked = threading.Event()
        self.lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.lsock.bind(("127.0.0.1", 0))
        self.lsock.listen(128)
        self.port = self.lsock.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        import socket
        import threading
        while True:
            try:
                c, _ = self.lsock.accept()
            except OSError:
                return
            try:
                u = socket.create_connection(self.target, timeout=5)
                u.settimeout(None)
            except OSError:
                c.close()
                continue
            for a, b in ((c, u), (u, c)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    def _pump(self, src, dst):
        while True:
            while self.blocked.is_set():
                time.sleep(0.05)
            try:
                data = src.recv(65536)
            except OSError:
                data = b""
            while self.blocked.is_set():  # read during the cut: held back, as if dropped
                time.sleep(0.05)
            if not data:
                for sck in (src, dst):
                    try:
                        sck.shutdown(2)
                    except OSError:
                        pass
                return
            try:
                dst.sendall(data)
            except OSError:
                return

    def partition(self):
        self.blocked.set()

    def heal(self):
        self.blocked.clear()


class Cluster:
    """Two schedulers and two workers, restartable one by one. Each scheduler reaches
    PostgreSQL and Redis through proxies of its own, so it can be cut off alone."""

    def __init__(self, build, env, workdir):
        self.bin = os.path.join(build, "bin")
        self.env = env
        self.workdir = workdir
        self.procs = {}
        self.starts = {}
        # The blob store on a small file system of its own, so it can be filled.
        self.blobs = os.path.join(workdir, "blobs")
        os.makedirs(self.blobs)
        self.blobs_mounted = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=%dm" % BLOB_FS_MB, "tmpfs", self.blobs],
            capture_output=True).returncode == 0
        self.proxies = {}
        for name in SCHEDS:
            pg = urllib.parse.urlsplit(env["FLOE_POSTGRES_URL"])
            rd = urllib.parse.urlsplit(env["FLOE_REDIS_URL"])
            self.proxies[name] = {"pg": Proxy(pg.hostname, pg.port),
                                  "redis": Proxy(rd.hostname, rd.port)}
        # Worker w1 reads the time through libfaketime: its clock can be stepped.
        self.faketime = os.path.join(workdir, "w1.faketime")
        with open(self.faketime, "w") as f:
            f.write("+0\n")

    def _env(self, extra):
        e = dict(os.environ)
        e.update(self.env)
        e.update({"FLOE_LEADER_LEASE": "3s", "FLOE_ATTEMPT_LEASE": "2s",
                  "FLOE_RECONCILE_EVERY": "5s", "FLOE_KAFKA_SESSION_TIMEOUT": "6s",
                  "FLOE_REDIS_TIMEOUT": "2s", "FLOE_POSTGRES_TIMEOUT": "10s",
                  "FLOE_LOG_LEVEL": "info"})
        e["FLOE_BLOB_ROOT"] = self.blobs
        e.update(extra)
        return e

    def start(self, name, fault=None):
        """fault: (crash point, after how many passes) for this run of the process."""
        n = self.starts[name] = self.starts.get(name, 0) + 1
        logf = open(os.path.join(self.workdir, "%s.%d.log" % (name, n)), "ab")
        if name in SCHEDS:
            argv = [os.path.join(self.bin, "floe-scheduler")]
            pg = urllib.parse.urlsplit(self.env["FLOE_POSTGRES_URL"])
            pg_url = urllib.parse.urlunsplit(pg._replace(
                netloc=pg.netloc.replace("%s:%d" % (pg.hostname, pg.port),
                                         "127.0.0.1:%d" % self.proxies[name]["pg"].port)))
            extra = {"FLOE_API_URL": "http://127.0.0.1:%d" % SCHEDS[name],
                     "FLOE_POSTGRES_URL": pg_url,
                     "FLOE_REDIS_URL": "redis://127.0.0.1:%d" % self.proxies[name]["redis"].port}
        else:
            argv = [os.path.join(self.bin, "floe-worker"), "--class", "default"]
            extra = {"FLOE_WORKER_HTTP": "127.0.0.1:%d" % WORKERS[name],
                     "FLOE_WORKER_CONCURRENCY": "8", "FLOE_WORKER_GRACE": "1s"}
        if fault is not None:
            extra.update({"FLOE_FAULT_POINT": fault[0], "FLOE_FAULT_AFTER": str(fault[1])})
        if name == "w1" and os.path.exists(LIBFAKETIME):
            # Wall clock only: a real clock step leaves CLOCK_MONOTONIC alone. Tasks are
            # spawned with their own environment and keep the real time.
            extra.update({"LD_PRELOAD": LIBFAKETIME, "FAKETIME_TIMESTAMP_FILE": self.faketime,
                          "FAKETIME_CACHE_DURATION": "1", "FAKETIME_DONT_FAKE_MONOTONIC": "1",
                          "ASAN_OPTIONS": "verify_asan_link_order=0:detect_leaks=0"})
        self.procs[name] = subprocess.Popen(argv, env=self._env(extra), stdout=logf,
                                            stderr=subprocess.STDOUT, start_new_session=True)
        logf.close()
        url = self.url(name)
        # An armed process may reach its crash point before it is seen healthy (work in
        # flight claimed at once): that is what the scenario waits for, not a failed start.
        wait_until("%s to answer /healthz" % name,
                   lambda: (fault is not None and not self.alive(name)) or
                   http("GET", url + "/healthz", timeout=2)[0] == 200, 60)

    def url(self, name):
        port = SCHEDS.get(name) or WORKERS[name]
        return "http://127.0.0.1:%d" % port

    def alive(self, name):
        p = self.procs.get(name)
        return p is not None and p.poll() is None

    def kill9(self, name):
        p = self.procs[name]
        p.send_signal(signal.SIGKILL)
        p.wait()

    def pause(self, name, tree=False):
        pids = descendants(self.procs[name].pid) if tree else [self.procs[name].pid]
        for pid in pids:
            try:
                os.kill(pid, signal.SIGSTOP)
            except ProcessLookupError:
                pass
        return pids

    def resume(self, pids):
        for pid in pids:
            try:
                os.kill(pid, signal.SIGCONT)
            except ProcessLookupError:
                pass

    def leader(self):
        for name in SCHEDS:
            if self.alive(name) and metric(self.url(name), "floe_scheduler_is_leader") == 1:
                return name
        return None

    def api(self):
        """A scheduler that answers (every replica serves the API)."""
        for name in SCHEDS:
            if self.alive(name) and http("GET", self.url(name) + "/healthz", timeout=2)[0] == 200:
                return self.url(name)
        return self.url("a")

    def unmount(self):
        if self.blobs_mounted:
            subprocess.run(["umount", "-l", self.blobs], capture_output=True)
        pgspace = os.path.join(self.workdir, "pgspace")
        if os.path.ismount(pgspace):
            try:
                if pg_has_tablespace(self.env):
                    pg_tables_home(self.env, "pg_default")
                    psql(self.env, "DROP TABLESPACE floe_faults")
            finally:
                subprocess.run(["umount", "-l", pgspace], capture_output=True)

    def stop_all(self):
        for name, p in self.procs.items():
            if p.poll() is None:
                p.send_signal(signal.SIGCONT)
                p.terminate()
        for name, p in self.procs.items():
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


class Workload:
    def __init__(self, cluster, project, ledger):
        self.c = cluster
        self.project = project
        self.ledger = ledger
        os.makedirs(os.path.join(ledger, "effects"), exist_ok=True)
        open(os.path.join(ledger, "runs"), "a").close()

    def register(self):
        yaml = (
            "kind: task\nname: lt\nversion: v1\n"
            "container: {command: [/bin/sh, %s]}\n"
            "inputs: {ledger: string, after: {type: integer, default: 0}}\n"
            "outputs: {out: integer, note: blob}\nretries: {system: 20}\n"
            "---\nkind: workflow\nname: ledger\nversion: v1\n"
            "inputs: {ledger: string}\noutputs: {out: {from: {node: d, output: out}}}\n"
            "nodes:\n"
            "  - {id: a, task: lt, inputs: {ledger: {input: ledger}}}\n"
            "  - {id: b, task: lt, inputs: {ledger: {input: ledger}, after: {node: a, output: out}}}\n"
            # c maps: its items (c.0, c.1, c.2) live through the faults as task nodes do
            "  - {id: c, task: lt, map: {over: after, concurrency: 2}, after: [a],\n"
            "     inputs: {ledger: {input: ledger}, after: [1, 2, 3]}}\n"
            "  - {id: d, task: lt, inputs: {ledger: {input: ledger}, after: {node: b, output: out}}}\n"
            % TASK)
        st, out = http("POST", self.c.api() + "/api/v1/register?project=%s&domain=development"
                       % self.project, yaml)
        if st not in (200, 201):
            raise RuntimeError("register: HTTP %d %s" % (st, out))

    def launch(self, deadline_s=60.0):
        """One execution; retried while the API cannot take it. Returns its id."""
        body = json.dumps({"project": self.project, "domain": "development",
                           "workflow": {"name": "ledger"}, "inputs": {"ledger": self.ledger}})
        deadline = time.monotonic() + deadline_s
        while True:
            st, out = http("POST", self.c.api() + "/api/v1/executions", body)
            if st == 201:
                return out["id"]
            if time.monotonic() > deadline:
                raise TimeoutError("launch refused for %.0f s (last HTTP %d %s)"
                                   % (deadline_s, st, out))
            time.sleep(0.2)

    def get(self, eid):
        st, out = http("GET", self.c.api() + "/api/v1/executions/" + eid)
        return out if st == 200 and out else None

    def phase(self, eid):
        out = self.get(eid)
        return out.get("phase") if out else None

    def unfinished(self):
        """Executions of the project (acknowledged to a client or not) not ended."""
        n, token = 0, None
        while True:
            q = "/api/v1/executions?project=%s&domain=development&limit=1000" % self.project
            if token:
                q += "&token=" + token
            st, out = http("GET", self.c.api() + q)
            if st != 200 or out is None:
                return None
            n += sum(1 for e in out["items"] if e.get("phase") not in TERMINAL)
            token = out.get("next_token")
            if not token:
                return n

    def runs(self):
        with open(os.path.join(self.ledger, "runs")) as f:
            return [line.split() for line in f if line.strip()]


TERMINAL = {"SUCCEEDED", "FAILED", "ABORTED", "TIMED_OUT"}


def stack(*verb):
    subprocess.run([os.path.join(TOP, "ops", "stack")] + list(verb), check=True,
                   stdout=subprocess.DEVNULL)


def stack_pid(service, env):
    with open(os.path.join(env["FLOE_STATE_DIR"], "run", service + ".pid")) as f:
        return int(f.readline())


def kill_service(service, env):
    pid = stack_pid(service, env)
    os.kill(pid, signal.SIGKILL)


# --- poison -------------------------------------------------------------------------------

def varint(v):
    out = bytearray()
    while v >= 0x80:
        out.append((v & 0x7F) | 0x80)
        v >>= 7
    out.append(v)
    return bytes(out)


def field(num, payload):
    return varint(num << 3 | 2) + varint(len(payload)) + payload


def envelope(msg_type, payload):
    ident = "01" + "".join(random.choice("0123456789ABCDEFGHJKMNPQRSTVWXYZ") for _ in range(24))
    return (varint(1 << 3) + varint(msg_type) + field(2, ident.encode()) + varint(3 << 3)
            + varint(int(time.time() * 1e6)) + field(4, b"faults/poison") + field(5, payload))


def poison_corpus():
    """(name, key, value) of messages every consumer must dead-letter and move past."""
    deep = varint(1 << 3) + varint(7)
    for _ in range(5000):
        deep = field(8, field(1, deep))  # Value.list -> ValueList.items -> Value
    succeeded = field(1, b"01POISON") + field(2, b"n") + varint(3 << 3) + varint(1)
    bad_utf8 = field(1, b"01POISON") + field(2, b"n") + varint(3 << 3) + varint(1) + \
        field(5, b"w\xc3(")
    return [
        ("garbage", b"k", b"\x08\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff"),
        ("empty", b"k", b""),
        ("deep-value", b"01POISON", envelope(4, succeeded + field(6, field(1, b"x") + field(2, deep)))),
        ("invalid-utf8", b"01POISON", envelope(5, bad_utf8)),
        ("huge-key", b"k" * 600000, b"junk"),
        ("empty-key-and-value", b"", b""),
        ("unknown-type", b"k", envelope(99, b"")),
    ]


def produce(build, topic, key, value):
    with tempfile.NamedTemporaryFile() as kf, tempfile.NamedTemporaryFile() as vf:
        kf.write(key)
        kf.flush()
        vf.write(value)
        vf.flush()
        subprocess.run([os.path.join(build, "bin", "fault_produce"), topic, kf.name, vf.name],
                       check=True, capture_output=True, env=dict(os.environ, **stack_env()))


# --- scenarios ----------------------------------------------------------------------------

class Scenario:
    """inject() returns an undo callable (or None when the fault undoes itself)."""

    def __init__(self, name, inject, hold_s=1.0, accept_in_fault=False):
        self.name = name
        self.inject = inject
        self.hold_s = hold_s
        # The probe must be accepted while the fault lasts (before its undo returns): a
        # launch is answered once PostgreSQL has it, whatever Kafka does.
        self.accept_in_fault = accept_in_fault


def sc_leader_kill9(c, env):
    name = c.leader()
    c.kill9(name)
    return lambda: c.start(name)


def sc_worker_kill9(c, env):
    c.kill9("w1")
    return lambda: c.start("w1")


def sc_service_kill9(service):
    def inject(c, env):
        kill_service(service, env)
        return lambda: stack("up")
    return inject


def sc_pg_immediate(c, env):
    data = os.path.realpath(os.path.join(env["FLOE_STATE_DIR"], "pg"))
    bindir = sorted(d for d in os.listdir("/usr/lib/postgresql"))[-1]
    pg_ctl = "/usr/lib/postgresql/%s/bin/pg_ctl" % bindir
    cmd = [pg_ctl, "-D", data, "-m", "immediate", "-w", "stop"]
    if os.getuid() == 0:
        cmd = ["runuser", "-u", "floe", "--"] + cmd
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    return lambda: stack("up")


def sc_leader_pause(c, env):
    pids = c.pause(c.leader())
    return lambda: c.resume(pids)


def sc_worker_pause(c, env):
    # The worker and its running tasks, as when its host or container freezes.
    pids = c.pause("w1", tree=True)
    return lambda: c.resume(pids)


def sc_redis_lose_tail(c, env):
    """Redis loses the writes of its last second: kill -9, cut the AOF's tail, restart."""
    kill_service("redis", env)
    d = os.path.join(env["FLOE_STATE_DIR"], "redis", "appendonlydir")
    incr = sorted((f for f in os.listdir(d) if f.endswith(".incr.aof")),
                  key=lambda f: os.path.getmtime(os.path.join(d, f)))
    if incr:
        path = os.path.join(d, incr[-1])
        size = os.path.getsize(path)
        with open(path, "r+b") as f:
            f.truncate(max(0, size - max(4096, size // 10)))
    return lambda: stack("up")


def sc_poison(c, env):
    prefix = env.get("FLOE_TOPIC_PREFIX", "floe")
    build = os.path.dirname(c.bin)
    for topic in (prefix + ".events", prefix + ".tasks.default"):
        for name, key, value in poison_corpus():
            produce(build, topic, key, value)
    return None


def sc_blob_disk_full(c, env):
    """The blob store's file system full: uploads fail (SYSTEM errors, retried) until
    space is back."""
    if not c.blobs_mounted:
        raise RuntimeError("the blob store's tmpfs could not be mounted (needs root)")
    filler = os.path.join(c.blobs, "filler")
    subprocess.run(["dd", "if=/dev/zero", "of=" + filler, "bs=1M",
                    "count=%d" % (BLOB_FS_MB + 1)], capture_output=True)
    return lambda: os.unlink(filler)


def psql(env, sql):
    r = subprocess.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", env["FLOE_POSTGRES_URL"],
                        "-c", sql], capture_output=True, text=True, timeout=120)
    if r.returncode != 0:
        raise RuntimeError("psql %r: %s" % (sql, r.stderr.strip()))


def pg_has_tablespace(env):
    r = subprocess.run(["psql", "-X", "-At", env["FLOE_POSTGRES_URL"], "-c",
                        "SELECT count(*) FROM pg_tablespace WHERE spcname = 'floe_faults'"],
                       capture_output=True, text=True, timeout=60)
    return r.stdout.strip() == "1"


def pg_tables_home(env, space):
    """Moves every table of the database to tablespace `space` (indexes stay)."""
    other = "floe_faults" if space == "pg_default" else "pg_default"
    psql(env, "ALTER TABLE ALL IN TABLESPACE %s SET TABLESPACE %s" % (other, space))


def sc_pg_disk_full(c, env):
    """PostgreSQL's disk full: the database's tables move to a tablespace on a small file
    system of their own, which is then filled. Every insert and update fails (SQLSTATE
    53100) until space is back; then the tables move home again."""
    space = os.path.join(c.workdir, "pgspace")
    # The tables move there first: room for them (the test suite before may have left
    # hundreds of MB: a map of 100,000 items and its lineage), then PG_FS_MB to fill.
    r = subprocess.run(["psql", "-X", "-At", env["FLOE_POSTGRES_URL"], "-c",
                        "SELECT pg_database_size(current_database())"],
                       capture_output=True, text=True, timeout=60)
    size_mb = PG_FS_MB + (int(r.stdout.strip() or 0) >> 20)
    if not os.path.ismount(space):
        os.chmod(c.workdir, 0o711)  # PostgreSQL's user must reach the tablespace
        os.makedirs(space, exist_ok=True)
        import pwd
        floe = pwd.getpwnam("floe")
        if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=%dm,uid=%d,gid=%d,mode=0700"
                           % (size_mb, floe.pw_uid, floe.pw_gid), "tmpfs", space],
                          capture_output=True).returncode != 0:
            raise RuntimeError("the tablespace's tmpfs could not be mounted (needs root)")
        if not pg_has_tablespace(env):
            psql(env, "CREATE TABLESPACE floe_faults LOCATION '%s'" % space)
    pg_tables_home(env, "floe_faults")
    filler = os.path.join(space, "filler")
    subprocess.run(["dd", "if=/dev/zero", "of=" + filler, "bs=1M",
                    "count=%d" % (size_mb + 1)], capture_output=True)

    def undo():
        os.unlink(filler)
        pg_tables_home(env, "pg_default")
    return undo


def sc_worker_clock_step(c, env):
    """The worker's wall clock jumps an hour ahead, then back."""
    if not os.path.exists(LIBFAKETIME):
        raise RuntimeError("libfaketime missing (Debian package faketime; ops/setup)")

    def set_offset(off):
        with open(c.faketime + ".tmp", "w") as f:
            f.write(off + "\n")
        os.rename(c.faketime + ".tmp", c.faketime)
    set_offset("+1h")
    return lambda: set_offset("+0")


def sc_partition(services):
    """The leader cut off from some services (packets dropped, nothing closed)."""
    def inject(c, env):
        name = c.leader()
        for svc in services:
            c.proxies[name][svc].partition()

        def undo():
            for svc in services:
                c.proxies[name][svc].heal()
        return undo
    return inject


def sc_combined(c, env):
    name = c.leader()
    c.kill9(name)
    c.kill9("w2")
    kill_service("redis", env)

    def undo():
        stack("up")
        c.start(name)
        c.start("w2")
    return undo


def sc_crash_point(point, who, after):
    """Restarts `who` (a worker, or the leader) armed to SIGKILL itself at `point`, waits
    for it to die there, then starts it again unarmed."""
    def inject(c, env):
        name = c.leader() if who == "leader" else who
        c.procs[name].terminate()
        c.procs[name].wait(timeout=30)
        other = None
        if who == "leader":
            # The armed replica must lead: the other one steps aside until it does.
            other = [n for n in SCHEDS if n != name][0]
            c.procs[other].terminate()
            c.procs[other].wait(timeout=30)
        c.start(name, fault=(point, after))
        if other is not None:
            wait_until("the armed replica to lead",
                       lambda: not c.alive(name) or c.leader() == name, 30)
            c.start(other)
        if point.startswith("api."):
            # A launch through that replica: it records the execution and dies before
            # publishing or answering. No client was told of it; it must still end.
            body = json.dumps({"project": c.project, "domain": "development",
                               "workflow": {"name": "ledger"}, "inputs": {"ledger": c.ledger}})
            http("POST", c.url(name) + "/api/v1/executions", body, timeout=10)
        # A worker's point needs claims: the work in flight may have gone to the other
        # worker while this one joined the group, so more is launched until it dies.
        body = json.dumps({"project": c.project, "domain": "development",
                           "workflow": {"name": "ledger"}, "inputs": {"ledger": c.ledger}})
        deadline = time.monotonic() + 60
        while c.procs[name].poll() is None:
            if time.monotonic() > deadline:
                raise RuntimeError("crash point %s was not reached within 60 s" % point)
            if who != "leader":
                http("POST", c.api() + "/api/v1/executions", body, timeout=10)
            time.sleep(0.5)
        return lambda: c.start(name)
    return inject


SCENARIOS = [
    Scenario("leader-kill9", sc_leader_kill9),
    Scenario("worker-kill9", sc_worker_kill9),
    Scenario("redis-kill9", sc_service_kill9("redis")),
    Scenario("kafka-kill9", sc_service_kill9("kafka"), accept_in_fault=True),
    Scenario("zookeeper-kill9", sc_service_kill9("zookeeper")),
    Scenario("postgres-kill9", sc_service_kill9("postgres")),
    Scenario("postgres-immediate", sc_pg_immediate),
    Scenario("leader-pause", sc_leader_pause, hold_s=7.0),
    Scenario("worker-pause", sc_worker_pause, hold_s=6.0),
    Scenario("redis-lose-tail", sc_redis_lose_tail),
    Scenario("poison", sc_poison),
    Scenario("blob-disk-full", sc_blob_disk_full, hold_s=6.0),
    Scenario("postgres-disk-full", sc_pg_disk_full, hold_s=6.0),
    Scenario("worker-clock-step", sc_worker_clock_step, hold_s=6.0),
    Scenario("leader-partition-pg", sc_partition(["pg"]), hold_s=8.0),
    Scenario("leader-partition-redis", sc_partition(["redis"]), hold_s=8.0),
    Scenario("leader-partition-all", sc_partition(["pg", "redis"]), hold_s=8.0),
    Scenario("combined", sc_combined, hold_s=2.0),
    # Crash points (FLOE_FAULT): the windows a kill -9 from outside rarely hits.
    Scenario("crash:worker.after_claim", sc_crash_point("worker.after_claim", "w1", 5), 0.5),
    Scenario("crash:worker.after_outputs_uploaded",
             sc_crash_point("worker.after_outputs_uploaded", "w1", 5), 0.5),
    Scenario("crash:worker.after_result_produced",
             sc_crash_point("worker.after_result_produced", "w1", 5), 0.5),
    Scenario("crash:sched.after_dispatch_produced",
             sc_crash_point("sched.after_dispatch_produced", "leader", 20), 0.5),
    Scenario("crash:sched.after_redis_write_before_ack",
             sc_crash_point("sched.after_redis_write_before_ack", "leader", 20), 0.5),
    Scenario("crash:sched.after_finish_commit",
             sc_crash_point("sched.after_finish_commit", "leader", 3), 0.5),
    Scenario("crash:api.after_insert_before_publish",
             sc_crash_point("api.after_insert_before_publish", "a", 1), 0.5),
]


def run_scenario(sc, c, env, build_label, n_exec):
    ledger = tempfile.mkdtemp(prefix="floe-faults-ledger-")
    slug = "".join(ch for ch in sc.name.lower() if ch.isalnum())[-30:]
    project = "faults-%s-%d" % (slug, int(time.time() * 1000) % 10**9)
    w = Workload(c, project, ledger)
    c.project, c.ledger = project, ledger
    w.register()
    ids = [w.launch() for _ in range(n_exec)]
    # The fault strikes once work is under way.
    wait_until("tasks to start", lambda: len(w.runs()) >= min(20, n_exec), 60)
    t_fault = time.time()
    undo = sc.inject(c, env)
    probe = [None]
    probe_err = [None]
    probe_at = [None]

    def launch_probe():
        try:
            probe[0] = w.launch(deadline_s=90)
            probe_at[0] = time.time()
        except TimeoutError as e:
            probe_err[0] = str(e)
    # The probe is launched at the fault (retried while the API refuses).
    import threading
    th = threading.Thread(target=launch_probe)
    th.start()
    time.sleep(sc.hold_s)
    if undo is not None:
        undo()
    t_undone = time.time()
    th.join()
    all_ids = ids + ([probe[0]] if probe[0] else [])
    phases = {}
    probe_end = None
    deadline = time.monotonic() + WAIT_END_S
    while time.monotonic() < deadline:
        for eid in all_ids:
            if phases.get(eid) in TERMINAL:
                continue
            ph = w.phase(eid)
            if ph is not None:
                phases[eid] = ph
            if eid == probe[0] and ph in TERMINAL and probe_end is None:
                # When it ended by the system's own record, not when this loop looked.
                rec = w.get(eid) or {}
                probe_end = iso_seconds(rec.get("finished_at")) or time.time()
        if all(phases.get(e) in TERMINAL for e in all_ids) and w.unfinished() == 0:
            break
        time.sleep(0.25)
    runs = w.runs()
    starts, effects = {}, {}
    for r in runs:
        if r[0] == "start":
            starts[r[1]] = starts.get(r[1], 0) + 1
        elif r[0] == "effect":
            effects[r[1]] = effects.get(r[1], 0) + 1
    lost = [e for e in ids if phases.get(e) != "SUCCEEDED"]
    res = {
        "scenario": sc.name,
        "build": build_label,
        "in_flight": len(ids),
        "lost": len(lost),
        "not_ended": sum(1 for e in ids if phases.get(e) not in TERMINAL),
        "stuck_unacknowledged": max(0, (w.unfinished() or 0) -
                                    sum(1 for e in all_ids if phases.get(e) not in TERMINAL)),
        "double_effects": sum(1 for k, v in effects.items() if v > 1),
        "reruns": sum(v - 1 for v in starts.values()),
        "recovery_s": round(probe_end - t_fault, 2) if probe_end else None,
        "probe": phases.get(probe[0]) if probe[0] else ("not accepted: %s" % probe_err[0]),
        "probe_accepted_s": round(probe_at[0] - t_fault, 2) if probe_at[0] else None,
    }
    if sc.accept_in_fault and (probe_at[0] is None or probe_at[0] > t_undone):
        res["accepted_late"] = "the probe was accepted %s s after the fault, its undo took %.2f s" % (
            res["probe_accepted_s"], t_undone - t_fault)
    if lost:
        res["lost_examples"] = {e: phases.get(e) for e in lost[:5]}
    return res


def main():
    args = sys.argv[1:]
    if not args:
        print(__doc__, file=sys.stderr)
        return 2
    build = os.path.abspath(args.pop(0))
    out_json = None
    n_exec = 100
    if "--json" in args:
        i = args.index("--json")
        out_json = args[i + 1]
        del args[i:i + 2]
    if "--quick" in args:
        args.remove("--quick")
        n_exec = 40
    shard = None  # "K/N": every Nth scenario from the Kth (CI splits the suite across builds)
    if "--shard" in args:
        i = args.index("--shard")
        k, n = (int(x) for x in args[i + 1].split("/"))
        del args[i:i + 2]
        if not 0 <= k < n:
            print("faults: --shard K/N needs 0 <= K < N", file=sys.stderr)
            return 2
        shard = (k, n)
    chosen = [s for s in SCENARIOS if not args or s.name in args]
    if shard is not None:
        chosen = [s for i, s in enumerate(chosen) if i % shard[1] == shard[0]]
    unknown = set(args) - {s.name for s in SCENARIOS}
    if unknown:
        print("faults: unknown scenario(s): %s" % ", ".join(sorted(unknown)), file=sys.stderr)
        return 2
    env = stack_env()
    TOKEN.update(bearer(env))
    workdir = tempfile.mkdtemp(prefix="floe-faults-")
    log("logs in %s; build %s; %d executions per scenario" % (workdir, build, n_exec))
    c = Cluster(build, env, workdir)
    results = []
    failed = False
    try:
        for name in ("a", "b", "w1", "w2"):
            c.start(name)
        wait_until("a leader", lambda: c.leader() is not None, 60)
        for sc in chosen:
            t0 = time.monotonic()
            try:
                res = run_scenario(sc, c, env, os.path.basename(build), n_exec)
            except Exception as e:  # a scenario that cannot run is a failure, named
                res = {"scenario": sc.name, "error": "%s: %s" % (type(e).__name__, e)}
            res["seconds"] = round(time.monotonic() - t0, 1)
            results.append(res)
            bad = ("error" in res or res["lost"] or res["double_effects"] or
                   res["stuck_unacknowledged"] or "accepted_late" in res)
            failed |= bool(bad)
            log(("FAIL " if bad else "ok   ") + json.dumps(res))
            # Whatever a scenario left down comes back before the next one.
            stack("up")
            for name in ("a", "b", "w1", "w2"):
                if not c.alive(name):
                    c.start(name)
    finally:
        c.stop_all()
        c.unmount()
    if out_json:
        with open(out_json, "w") as f:
            json.dump(results, f, indent=1)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
