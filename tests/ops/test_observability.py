#!/usr/bin/python3
"""The observability kit, checked offline: the Prometheus rules pass `promtool check
rules` and their unit tests (`promtool test rules`); every query of the Grafana dashboard
is valid PromQL (each is checked by promtool as a recording rule); every metric the rules
and the dashboard name is one Floe exposes (found where the C sources register it, or a
recording rule of the kit), so a renamed metric breaks this test and not a dashboard in
production; and the dashboard has the panels an SRE looks for first.

usage: test_observability.py SOURCE_DIR
"""
import glob
import json
import os
import re
import subprocess
import sys
import tempfile

import yaml

errors = []
REQUIRED_PANELS = ["Executions finished by phase", "Dispatch latency", "Consumer lag per class",
                   "Worker saturation per class", "Retries and lease expiries", "API latency"]
# Series every Prometheus server has, and the suffixes of a histogram's series.
STANDARD = {"up"}
HIST = ("_bucket", "_sum", "_count")


def fail(why):
    errors.append(why)


def promtool(*args):
    r = subprocess.run(["promtool", *args], capture_output=True, text=True)
    return r.returncode, (r.stdout + r.stderr).strip()


def exposed_metrics(src):
    """Metric names the programs register: string literals passed to floe_metrics_* and
    the process_* names floe_metrics_proc.c writes."""
    names = set()
    for path in glob.glob(os.path.join(src, "**/*.c"), recursive=True):
        if "/build" in path or "/tests/" in path:
            continue
        text = open(path, errors="replace").read()
        names |= set(re.findall(r'"((?:floe|process)_[a-z0-9_]+)"', text))
        names |= set(re.findall(r"# TYPE ((?:floe|process)_[a-z0-9_]+) ", text))
    return names


def names_in(expr):
    expr = re.sub(r'"[^"]*"', '""', expr)  # label values are not names
    expr = re.sub(r"\{\{[^}]*\}\}", "", expr)
    return set(re.findall(r"\b((?:floe|process)_[a-z0-9_]+|floe:[a-z0-9_:]+|up)\b", expr))


def known(name, exposed, recorded):
    if name in STANDARD or name in recorded or name in exposed:
        return True
    return any(name.endswith(s) and name[: -len(s)] in exposed for s in HIST)


def main():
    src = sys.argv[1]
    prom = os.path.join(src, "ops/prometheus")
    rules_path = os.path.join(prom, "floe.rules.yml")
    rc, out = promtool("check", "rules", rules_path)
    if rc != 0:
        fail(f"promtool check rules: {out}")
    cwd = os.getcwd()
    os.chdir(prom)  # the test file names its rule file relative to itself
    rc, out = promtool("test", "rules", "floe.rules.test.yml")
    os.chdir(cwd)
    if rc != 0:
        fail(f"promtool test rules: {out}")

    rules = yaml.safe_load(open(rules_path))
    recorded = {r["record"] for g in rules["groups"] for r in g["rules"] if "record" in r}
    exprs = [("rule " + (r.get("record") or r.get("alert")), r["expr"])
             for g in rules["groups"] for r in g["rules"]]

    dash = json.load(open(os.path.join(src, "ops/grafana/floe.json")))
    for k in ("title", "uid", "panels", "schemaVersion"):
        if k not in dash:
            fail(f"dashboard: no {k}")
    titles = [p.get("title", "") for p in dash["panels"]]
    for want in REQUIRED_PANELS:
        if not any(t.startswith(want) for t in titles):
            fail(f"dashboard: no panel \"{want}\"")
    ids = [p["id"] for p in dash["panels"]]
    if len(ids) != len(set(ids)):
        fail("dashboard: panel ids repeat")
    dash_exprs = []
    for p in dash["panels"]:
        if p["type"] == "row":
            continue
        if not p.get("targets"):
            fail(f"dashboard: panel \"{p['title']}\" has no query")
        for t in p.get("targets", []):
            dash_exprs.append((f"panel \"{p['title']}\" {t['refId']}", t["expr"]))
    # Grafana's variables, as Grafana would fill them in.
    as_rules = {"groups": [{"name": "dashboard", "rules": [
        {"record": f"dashboard:q{i}", "expr": e.replace("$__rate_interval", "5m")
         .replace("$__range", "6h")} for i, (_, e) in enumerate(dash_exprs)]}]}
    with tempfile.NamedTemporaryFile("w", suffix=".yml", delete=False) as f:
        yaml.safe_dump(as_rules, f)
    rc, out = promtool("check", "rules", f.name)
    os.unlink(f.name)
    if rc != 0:
        fail(f"dashboard queries are not valid PromQL: {out}")

    exposed = exposed_metrics(src)
    for where, e in exprs + dash_exprs:
        for n in names_in(e):
            if not known(n, exposed, recorded):
                fail(f"{where}: {n} is not a metric Floe exposes nor a recording rule")
    for e in errors:
        print("test_observability: FAIL " + e)
    if not errors:
        print(f"test_observability: ok ({len(exprs)} rules, {len(dash_exprs)} dashboard queries, "
              f"{len(exposed)} metrics exposed)")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
