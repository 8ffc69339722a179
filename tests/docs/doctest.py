#!/usr/bin/env python3
"""tests/docs/doctest.py SOURCE_DIR BUILD_DIR [FILE.md ...] — the docs, run.

As rustdoc and Python's doctest do, the examples of README.md and docs/*.md are tests:

- every ```sh block runs (bash -euo pipefail), against the local stack (its settings from
  `ops/stack env`, BUILD_DIR/bin first on PATH), in a scratch directory holding links to
  the source tree's top-level entries (so `examples/...` and `ops/...` resolve and what a
  block writes stays out of the tree). Blocks of one file share one shell: a variable set
  in one is seen by the next. A block must exit 0 within 180 s.
- every ```yaml block that is whole documents (a top-level `kind:`, no `...` elision)
  is compiled with `floectl validate`, then registered, in a project of this run where
  examples/*.yaml are registered: a block may use the examples and the blocks before it.
- every ```http request block followed by an ```http response block is sent to the API
  and the answer compared with the documented one (see compare()).

An HTML comment right before a block changes how it runs:

  <!-- doctest: floe -->       a floe-scheduler and a floe-worker --class default run
                               meanwhile (started by this harness, as the text says)
  <!-- doctest: in-tree -->    runs in the source tree itself (cmake configures it)
  <!-- doctest: skip REASON --> not run; REASON is printed (a daemon, an hour of fuzzing)

Exit 0 when every block passed; the report names each block by file:line.
"""
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

BLOCK_TIMEOUT_S = 180
GET_RETRY_S = 30

FENCE = re.compile(r"^```(\S*)\s*$")
DIRECTIVE = re.compile(r"^<!--\s*doctest:\s*(\S+)\s*(.*?)\s*-->\s*$")


def blocks(path):
    """(line, lang, text, directive, arg) of every fenced block of a Markdown file."""
    out = []
    lines = open(path, encoding="utf-8").read().split("\n")
    i = 0
    directive, arg = None, ""
    while i < len(lines):
        m = DIRECTIVE.match(lines[i])
        if m:
            directive, arg = m.group(1), m.group(2)
            i += 1
            continue
        m = FENCE.match(lines[i])
        if m:
            start, lang = i + 1, m.group(1)
            j = i + 1
            while j < len(lines) and not lines[j].startswith("```"):
                j += 1
            out.append((start, lang, "\n".join(lines[i + 1:j]) + "\n", directive, arg))
            directive, arg = None, ""
            i = j + 1
            continue
        if lines[i].strip():
            directive, arg = None, ""
        i += 1
    return out


def stack_env(src, build):
    # One blob store for every block, ops/demo's (the first block of README.md) included:
    # the environment's choice, else S3 as ops/demo's default.
    base = dict(os.environ)
    base.setdefault("FLOE_BLOB_BACKEND", "s3")
    text = subprocess.run([os.path.join(src, "ops/stack"), "env"], check=True,
                          capture_output=True, text=True, env=base).stdout
    env = base
    for line in text.splitlines():
        m = re.match(r"export (\w+)=(.*)$", line)
        if m:
            env[m.group(1)] = m.group(2).strip("'\"")
    env["PATH"] = os.path.join(build, "bin") + ":" + env.get("PATH", "")
    env.setdefault("FLOE_LOG_LEVEL", "warn")
    return env


class Floe:
    """A floe-scheduler and a floe-worker, as README.md says to start them."""

    def __init__(self, build, env, logdir):
        self.build, self.env, self.logdir = build, env, logdir
        self.procs = []

    def up(self):
        if self.procs:
            return
        try:
            with urllib.request.urlopen(self.env["FLOE_API_URL"] + "/healthz", timeout=2):
                raise RuntimeError("something already serves %s: stop it first" %
                                   self.env["FLOE_API_URL"])
        except (urllib.error.URLError, OSError):
            pass
        for name, argv in (("scheduler", ["floe-scheduler"]),
                           ("worker", ["floe-worker", "--class", "default"])):
            log = open(os.path.join(self.logdir, name + ".log"), "ab")
            p = subprocess.Popen([os.path.join(self.build, "bin", argv[0])] + argv[1:],
                                 env=self.env, stdout=log, stderr=subprocess.STDOUT)
            self.procs.append((name, p))
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(self.env["FLOE_API_URL"] + "/readyz", timeout=2):
                    break
            except (urllib.error.URLError, OSError):
                pass
            for name, p in self.procs:
                if p.poll() is not None:
                    raise RuntimeError("%s exited with %s (see %s/%s.log)" %
                                       (name, p.returncode, self.logdir, name))
            if time.monotonic() > deadline:
                raise RuntimeError("the scheduler at %s was not ready within 60 s" %
                                   self.env["FLOE_API_URL"])
            time.sleep(0.2)  # polling the readiness probe: no event to wait on

    def down(self):
        bad = []
        for name, p in reversed(self.procs):
            p.send_signal(signal.SIGTERM)
            try:
                rc = p.wait(timeout=45)
            except subprocess.TimeoutExpired:
                p.kill()
                rc = p.wait()
            if rc != 0:
                bad.append("%s exited %s" % (name, rc))
        self.procs = []
        return bad


class Shell:
    """One bash per Markdown file: blocks share variables and the working directory."""

    def __init__(self, env, cwd):
        self.env, self.cwd = env, cwd
        self.state = os.path.join(cwd, ".doctest-env")
        open(self.state, "w").close()

    def run(self, text, cwd=None):
        # The block runs after the variables the blocks before it set, and what it sets
        # (those a fresh shell does not have) is saved for the next.
        script = ('__base=$(compgen -v | sort)\nsource %s\nset -euo pipefail\ncd %s\n%s\n'
                  'set +e\ncomm -13 <(echo "$__base") <(compgen -v | sort) | grep -v "^__" |\n'
                  '  while read -r v; do declare -p "$v"; done > %s\n') % (
                      self.state, cwd or self.cwd, text, self.state)
        try:
            p = subprocess.run(["bash", "-c", script], env=self.env, cwd=cwd or self.cwd,
                               capture_output=True, text=True, timeout=BLOCK_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            return None, "", "timed out after %d s" % BLOCK_TIMEOUT_S
        return p.returncode, p.stdout, p.stderr


# --- API examples ----------------------------------------------------------------------

PLACEHOLDER = re.compile(r"^<([^<>]+)>$")
BOUND = re.compile(r"^[A-Z][A-Z0-9_]*$")


def substitute(text, bound):
    def rep(m):
        name = m.group(1)
        if BOUND.match(name):
            if name not in bound:
                raise KeyError("<%s> is used before an answer bound it" % name)
            return str(bound[name])
        return m.group(0)
    return re.sub(r"<([A-Z][A-Z0-9_]*)>", rep, text)


def compare(doc, real, bound, path="$"):
    """The documented value against the real one: the same keys in every object, the same
    length of every array (a documented array ending in "..." allows more items), equal
    scalars; a string "<lower case words>" matches any value, "<NAME>" binds NAME to the
    real value the first time and must equal it after. Returns the first difference."""
    if isinstance(doc, str):
        m = PLACEHOLDER.match(doc)
        if m:
            name = m.group(1)
            if not BOUND.match(name):
                return None
            if name in bound and bound[name] != real:
                return "%s: <%s> is %r here, %r before" % (path, name, real, bound[name])
            bound[name] = real
            return None
    if isinstance(doc, dict):
        if not isinstance(real, dict):
            return "%s: documented an object, got %s" % (path, json.dumps(real)[:200])
        if set(doc) != set(real):
            return "%s: keys differ: documented only %s, answered only %s" % (
                path, sorted(set(doc) - set(real)), sorted(set(real) - set(doc)))
        for k in doc:
            d = compare(doc[k], real[k], bound, "%s.%s" % (path, k))
            if d:
                return d
        return None
    if isinstance(doc, list):
        if not isinstance(real, list):
            return "%s: documented a list, got %s" % (path, json.dumps(real)[:200])
        more = bool(doc) and doc[-1] == "..."
        items = doc[:-1] if more else doc
        if len(real) < len(items) or (not more and len(real) != len(items)):
            return "%s: documented %d items, got %d" % (path, len(items), len(real))
        for i, d in enumerate(items):
            diff = compare(d, real[i], bound, "%s[%d]" % (path, i))
            if diff:
                return diff
        return None
    if doc != real or type(doc) != type(real):
        return "%s: documented %s, got %s" % (path, json.dumps(doc), json.dumps(real)[:200])
    return None


def parse_http(text):
    head, _, body = text.partition("\n\n")
    lines = head.split("\n")
    headers = {}
    for h in lines[1:]:
        if not h.strip():
            continue
        k, _, v = h.partition(":")
        headers[k.strip()] = v.strip()
    return lines[0].strip(), headers, body.rstrip("\n")


def bearer(env):
    """The Authorization header for the API: FLOE_TOKEN, else the file FLOE_TOKEN_FILE."""
    tok = env.get("FLOE_TOKEN", "")
    if not tok and env.get("FLOE_TOKEN_FILE"):
        try:
            with open(env["FLOE_TOKEN_FILE"]) as f:
                tok = f.read().strip()
        except OSError:
            tok = ""
    return {"Authorization": "Bearer " + tok} if tok else {}


def exchange(api, request, response, bound, env):
    first, headers, body = parse_http(substitute(request, bound))
    # api.md says every request carries the token and leaves it out of the examples.
    if "Authorization" not in headers:
        headers.update(bearer(env))
    method, path = first.split(" ", 1)
    status_line, _, want_body = parse_http(response)
    want_status = int(status_line.split()[1])
    data = body.encode() if body else None
    deadline = time.monotonic() + (GET_RETRY_S if method == "GET" else 0)
    while True:
        req = urllib.request.Request(api + path, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                status, got = r.status, r.read().decode(errors="replace")
        except urllib.error.HTTPError as e:
            status, got = e.code, e.read().decode(errors="replace")
        trial = dict(bound)
        diff = None
        if status != want_status:
            diff = "status %d, documented %d: %s" % (status, want_status, got[:300])
        elif want_body.lstrip().startswith(("{", "[")):
            try:
                diff = compare(json.loads(want_body), json.loads(got), trial)
            except json.JSONDecodeError as e:
                diff = "not JSON (%s): %s" % (e, got[:300])
        elif want_body != got.rstrip("\n"):
            diff = "body %r, documented %r" % (got[:300], want_body[:300])
        if diff is None:
            bound.update(trial)
            return None
        if time.monotonic() > deadline:
            return "%s %s: %s" % (method, path, diff)
        time.sleep(0.5)  # a GET is asked again until the state it documents is reached


# --- the run ---------------------------------------------------------------------------

def main():
    if len(sys.argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    src, build = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    files = sys.argv[3:] or (["README.md"] + sorted(
        os.path.join("docs", f) for f in os.listdir(os.path.join(src, "docs"))
        if f.endswith(".md")))
    env = stack_env(src, build)
    scratch = tempfile.mkdtemp(prefix="floe-doctest-")
    for entry in os.listdir(src):
        if not entry.startswith("."):
            os.symlink(os.path.join(src, entry), os.path.join(scratch, entry))
    env["FLOE_DOCTEST_PROJECT"] = "docs-%d" % int(time.time() * 1000)
    env["FLOE_PROJECT"] = env["FLOE_DOCTEST_PROJECT"]  # where floectl goes without -p
    floe = Floe(build, env, scratch)
    ran = skipped = failed = 0
    try:
        for f in files:
            shell = Shell(env, scratch)
            bound = {"PROJECT": env["FLOE_DOCTEST_PROJECT"]}
            bs = blocks(os.path.join(src, f))
            for k, (line, lang, text, directive, arg) in enumerate(bs):
                where = "%s:%d" % (f, line)
                if lang == "http" and text.startswith("HTTP/"):
                    continue  # a response: compared with the request before it
                runnable = lang in ("sh", "http") or (
                    lang == "yaml" and re.search(r"^kind:", text, re.M) and
                    not re.search(r"^\s*\.\.\.\s*$", text, re.M))
                if not runnable:
                    continue
                if directive == "skip":
                    skipped += 1
                    print("doctest: skip %s: %s" % (where, arg or "(no reason given)"))
                    if not arg:
                        failed += 1
                    continue
                t0 = time.monotonic()
                if directive == "floe" or lang in ("http", "yaml"):
                    floe.up()
                elif floe.procs:
                    bad = floe.down()
                    if bad:
                        print("doctest: FAIL before %s: %s" % (where, "; ".join(bad)))
                        failed += 1
                diff = None
                if lang == "sh":
                    rc, out, err = shell.run(text, cwd=src if directive == "in-tree" else None)
                    if rc != 0:
                        diff = "exit %s\n--- stdout\n%s--- stderr\n%s" % (rc, out[-3000:],
                                                                         err[-3000:])
                elif lang == "yaml":
                    path = os.path.join(scratch, "doctest-%d.yaml" % line)
                    with open(path, "w") as y:
                        y.write(text)
                    rc, out, err = shell.run(
                        'for f in examples/*.yaml; do floectl register -f "$f" -q >/dev/null; done\n'
                        'floectl validate -f "%s" -q >/dev/null\n'
                        'floectl register -f "%s" -q >/dev/null\n' % (path, path))
                    if rc != 0:
                        diff = "floectl validate, register: exit %s: %s" % (rc, (out + err)[-2000:])
                else:
                    resp = bs[k + 1] if k + 1 < len(bs) else None
                    if resp is None or resp[1] != "http" or not resp[2].startswith("HTTP/"):
                        diff = "a request without a documented response after it"
                    else:
                        try:
                            diff = exchange(env["FLOE_API_URL"], text, resp[2], bound, env)
                        except KeyError as e:
                            diff = str(e)
                ran += 1
                secs = time.monotonic() - t0
                if diff:
                    failed += 1
                    print("doctest: FAIL %s (%s, %.1f s): %s" % (where, lang, secs, diff))
                else:
                    print("doctest: ok   %s (%s, %.1f s)" % (where, lang, secs))
                sys.stdout.flush()
    finally:
        bad = floe.down()
        if bad:
            print("doctest: FAIL at the end: %s" % "; ".join(bad))
            failed += 1
        if failed == 0:
            shutil.rmtree(scratch, ignore_errors=True)
        else:
            print("doctest: what the blocks wrote, and the daemons' logs: %s" % scratch)
    print("doctest: %d blocks ran, %d skipped, %d failed" % (ran, skipped, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
