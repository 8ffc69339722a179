"""bench/bench.py — runs the whole benchmark (started by bench/run): Floe's workloads, the
scheduler profile, the peers, then results.json and summary.txt in the output directory.
"""
import argparse
import json
import os
import platform
import shlex
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import floe_side  # noqa: E402
import shapes  # noqa: E402

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NOOP_CONCURRENCY = 256   # the noop executor holds a slot for a Redis and a Kafka round trip
PROCESS_CONCURRENCY = 4  # worker.concurrency's default: what a user starts with
RUNS = 3  # a run lasts 1-20 s: one JVM pause or checkpoint moves one by a third
# A stack just started runs its first ~50,000 tasks at half speed (Kafka's JIT): bench/run
# on a fresh machine measures the stack as it runs once warm, as a second run would.
WARM_UP_S = {False: 25, True: 8}


def log(msg):
    print("bench: " + msg, flush=True)


def stack_env():
    r = subprocess.run([os.path.join(TOP, "ops/stack"), "env"], capture_output=True, text=True,
                       check=True)
    env = {}
    for line in r.stdout.splitlines():
        if line.startswith("export "):
            k, _, v = line[len("export "):].partition("=")
            env[k] = shlex.split(v)[0] if v else ""  # a value may be quoted (postgres.url)
    return env


def run_floe(out, quick):
    env = stack_env()
    b = floe_side.FloeBench(TOP, env, out, quick, log)
    results = []
    wl = shapes.workloads(quick)
    try:
        b.start_scheduler()
        b.register()
        for executor, conc in (("noop", NOOP_CONCURRENCY), ("process", PROCESS_CONCURRENCY)):
            b.start_workers(2, conc)
            if executor == "noop":
                s = WARM_UP_S[quick]
                log("floe: warming up (%d s of fan-outs and layered DAGs, not measured)" % s)
                log("  %d executions" % b.warm_up(s))
            for name, (shape, n) in wl.items():
                if (name, executor) == ("many", "process"):
                    continue  # 35 s that says what layered (process) says: kept for the 10 min
                prof = os.path.join(out, "scheduler-fanout.perf.data") \
                    if (name, executor) == ("fanout", "noop") else None
                wprof = os.path.join(out, "worker-fanout-process.perf.data") \
                    if (name, executor) == ("fanout", "process") else None
                runs = [b.run(name, executor, shape, n, profile=prof if i == 0 else None,
                              worker_profile=wprof if i == 0 else None)
                        for i in range(RUNS)]
                runs.sort(key=lambda x: x["tasks_per_s"])
                r = runs[len(runs) // 2]  # the median run, all its figures together
                # syscalls counted in a run of their own: tracing them slows a run
                r["syscalls_per_task"] = b.run(name, executor, shape, n,
                                               count_syscalls=True)["syscalls_per_task"]
                r["runs_tasks_per_s"] = [x["tasks_per_s"] for x in runs]
                r["worker_concurrency"] = conc
                results.append(r)
                log("  %.0f tasks/s, wall %.2f s" % (r["tasks_per_s"], r["wall_s"]))
                if (name, executor) == ("many", "noop"):
                    # The same executions requested on the bus together, as a service's
                    # backfill (floe_client_request_many): Dask's client submits its
                    # graphs the same way, without waiting for each.
                    log("floe: many (noop executor), launched through the bus")
                    runs = sorted((b.run(name, executor, shape, n, bus=True) for _ in range(RUNS)),
                                  key=lambda x: x["tasks_per_s"])
                    rb = runs[len(runs) // 2]
                    rb["runs_tasks_per_s"] = [x["tasks_per_s"] for x in runs]
                    rb["worker_concurrency"] = conc
                    results.append(rb)
                    log("  %.0f tasks/s, wall %.2f s" % (rb["tasks_per_s"], rb["wall_s"]))
            if executor == "noop":  # issue 23: one map node of many items
                r = b.run_map(shapes.sizes(quick)["map"])
                results.append(r)
                log("  %.0f items/s, scheduler %.0f B and Redis %.0f B per item" % (
                    r["tasks_per_s"], r["sched_rss_bytes_per_item"], r["redis_peak_bytes_per_item"]))
                # Per-task cost as the DAG grows (issue 25): one fan-out per size, the
                # median of three runs below 100,000 nodes, one run at it.
                first = None
                for size in shapes.sizes(quick)["sizes"]:
                    shape_n = shapes.fanout(size)
                    runs = [b.run("fanout%d" % size, "noop", shape_n, 1)
                            for _ in range(RUNS if size < 100000 else 1)]
                    runs.sort(key=lambda x: x["tasks_per_s"])
                    r = runs[len(runs) // 2]
                    r["workload"] = "size"
                    r["nodes"] = len(shape_n)
                    r["runs_tasks_per_s"] = [x["tasks_per_s"] for x in runs]
                    r["us_per_task_wall"] = 1e6 / r["tasks_per_s"]
                    first = first or r["us_per_task_wall"]
                    r["per_task_vs_smallest"] = r["us_per_task_wall"] / first
                    results.append(r)
                    log("  %d nodes: %.0f tasks/s, %.2fx the smallest's per-task time" % (
                        len(shape_n), r["tasks_per_s"], r["per_task_vs_smallest"]))
        shape, n = wl["fanout"]
        for workers in (1, 2, 4):
            if workers == 2:  # the fanout (process) run above
                r = dict(next(x for x in results if x["workload"] == "fanout" and
                              x["executor"] == "process"))
            else:
                b.start_workers(workers, PROCESS_CONCURRENCY)
                r = b.run("fanout", "process", shape, n)
            r["workload"] = "scale"
            r["worker_concurrency"] = PROCESS_CONCURRENCY
            results.append(r)
            log("  %d workers: %.0f tasks/s" % (workers, r["tasks_per_s"]))
        b.start_workers(1, 1)
        for executor in ("process", "oci"):
            try:
                r = b.run_hops(executor)
            except floe_side.BenchError as e:  # e.g. oci without root or runc
                r = {"system": "floe", "workload": "hops", "executor": executor, "error": str(e)}
                log("  failed: %s" % e)
            else:
                log("  received->published p50 %.2f ms" % r["received_to_published_ms"]["p50"])
            results.append(r)
    finally:
        b.stop()
    return results


PEER_TIMEOUT = 240        # seconds per peer and workload
PEER_MEMORY = 8 << 30     # address space per peer process: a runaway one fails, not the machine


def limit_memory():
    import resource
    resource.setrlimit(resource.RLIMIT_AS, (PEER_MEMORY, PEER_MEMORY))


def run_peers(out, quick):
    """Each peer and workload in a process of its own, bounded in time and memory."""
    results = []
    env = dict(os.environ, FLOE_BENCH_CELERY_URL=stack_env()["FLOE_REDIS_URL"] + "/3")
    for peer in ("dask", "celery"):
        for name in shapes.workloads(quick):
            log("%s: %s" % (peer, name))
            path = os.path.join(out, "%s-%s.json" % (peer, name))
            argv = ["/usr/bin/python3", os.path.join(TOP, "bench/peers.py"), peer, path,
                    "--only", name] + (["--quick"] if quick else [])
            why = None
            with open(os.path.join(out, "%s.log" % peer), "a") as lf:
                p = subprocess.Popen(argv, env=env, stdout=lf, stderr=subprocess.STDOUT,
                                     preexec_fn=limit_memory, start_new_session=True)
                try:
                    rc = p.wait(PEER_TIMEOUT)
                    if rc != 0 or not os.path.exists(path):
                        why = "exit %d (log: %s.log)" % (rc, peer)
                except subprocess.TimeoutExpired:
                    why = "did not finish within %d s" % PEER_TIMEOUT
                finally:  # the peer's own workers (Dask nannies, Celery pool) go too
                    try:
                        os.killpg(p.pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
                    p.wait()
            if why:
                results.append({"system": peer, "workload": name, "error": why})
                continue
            with open(path) as f:
                got = json.load(f)
            for g in got:
                if "error" in g:
                    g["workload"] = name
            results.extend(got)
    return results


def profile_top(out, n=15, name="scheduler-fanout"):
    data = os.path.join(out, name + ".perf.data")
    if not os.path.exists(data):
        return []
    r = subprocess.run(["perf", "report", "-i", data, "--stdio", "--no-children", "-g", "none",
                        "--sort", "symbol", "--percent-limit", "0.5"],
                       capture_output=True, text=True)
    with open(os.path.join(out, name + ".perf.txt"), "w") as f:
        f.write(r.stdout)
    top = []
    for line in r.stdout.splitlines():
        p = line.split()
        if len(p) >= 3 and p[0].endswith("%") and not line.startswith("#"):
            top.append({"percent": float(p[0][:-1]), "symbol": " ".join(p[2:])})
    return top[:n]


def best_peer(peers, workload, executor):
    workload = {"many_bus": "many"}.get(workload, workload)  # the same DAGs, launched otherwise
    cands = [p for p in peers if p.get("workload") == workload and p.get("executor") == executor]
    ok = [p for p in cands if "tasks_per_s" in p]
    if ok:
        return max(ok, key=lambda p: p["tasks_per_s"]), cands
    return None, cands


def summary(res):
    floe = [r for r in res["floe"]]
    peers = res["peers"]
    lines = ["Floe benchmark (%s mode) on %s, %d cores" % (res["mode"], res["host"], res["cores"]),
             "", "Throughput, Floe vs the best peer (same DAG, same machine):", ""]
    hdr = "%-8s %-8s %7s %10s %9s  %-28s %8s" % ("workload", "executor", "tasks", "Floe t/s",
                                                 "wall s", "best peer t/s", "ratio")
    lines += [hdr, "-" * len(hdr)]
    for r in floe:
        if r["workload"] in ("scale", "hops", "size"):
            continue
        bp, cands = best_peer(peers, r["workload"], r["executor"])
        if bp:
            peer = "%s %.0f" % (bp["system"], bp["tasks_per_s"])
            ratio = "%.1fx" % (r["tasks_per_s"] / bp["tasks_per_s"])
        else:
            peer, ratio = ("not run" if not cands else "cannot express"), "-"
        lines.append("%-8s %-8s %7d %10.0f %9.2f  %-28s %8s" % (
            r["workload"], r["executor"], r["tasks"], r["tasks_per_s"], r["wall_s"], peer, ratio))
    notes = [p for p in peers if "note" in p and "tasks_per_s" not in p]
    for p in notes:
        lines.append("  %s %s/%s: %s" % (p["system"], p["workload"], p["executor"], p["note"]))
    for p in peers:
        if "error" in p:
            lines.append("  %s %s: failed: %s" % (p["system"], p.get("workload", ""), p["error"]))
    lines += ["", "Floe inside (latencies in ms; CPU s per 1,000 tasks):", ""]
    hdr = "%-8s %-8s %-2s %15s %17s %8s %6s %6s %6s %8s %6s %7s" % (
        "workload", "executor", "w", "ready>disp p50/99", "done>downstr p50/99", "us/task",
        "schedC", "wrkC", "RSS MiB", "Redis B/n", "msgs/t", "sys/t")
    lines += [hdr, "-" * len(hdr)]

    def pp(d):
        return "%s/%s" % tuple("-" if d[k] is None else ("%.2f" % d[k]) for k in ("p50", "p99"))
    for r in floe:
        if r["workload"] in ("hops", "map", "size"):
            continue
        sc = r.get("syscalls_per_task")
        lines.append("%-8s %-8s %-2d %15s %17s %8.0f %6.3f %6.3f %6.1f %8.0f %6.2f %7s" % (
            r["workload"], r["executor"], r["workers"], pp(r["ready_to_dispatched_ms"]),
            pp(r["completion_to_downstream_received_ms"]), r["us_per_task"],
            r["sched_cpu_s_per_1000_tasks"], r["worker_cpu_s_per_1000_tasks"],
            r["sched_peak_rss_mib"], r["redis_bytes_per_node"], r["kafka_msgs_per_task"],
            "-" if sc is None else "%.0f" % sc))
    for r in floe:  # issue 25: what a launch through the API takes, the client waiting
        if r.get("launch_ms"):
            lines += ["", "Launches through the API (%s, 4 clients, one at a time each): p50 %.2f ms, "
                      "p99 %.2f ms a launch; the API's part (request read to reply sent) %s ms on "
                      "average; the benchmark's client %s us of CPU a launch" % (
                          r["workload"], r["launch_ms"]["p50"], r["launch_ms"]["p99"],
                          "-" if r.get("launch_api_ms_mean") is None
                          else "%.2f" % r["launch_api_ms_mean"],
                          r.get("launch_client_cpu_us", "-"))]
    for r in floe:  # issue 23: one map node of many items
        if r["workload"] == "map":
            lines += ["", "Map: %d noop items, %d at once: %.0f items/s; scheduler %.0f B and Redis "
                      "%.0f B (peak) / %.0f B (held) per item; %.2f messages per item" % (
                          r["tasks"], r["map_concurrency"], r["tasks_per_s"],
                          r["sched_rss_bytes_per_item"], r["redis_peak_bytes_per_item"],
                          r["redis_held_bytes_per_item"], r["kafka_msgs_per_task"])]
    sizes = [r for r in floe if r["workload"] == "size"]
    if sizes:
        lines += ["", "Per-task cost as the DAG grows (fan-out, noop; runs' tasks/s):", ""]
        for r in sizes:
            lines.append("  %7d nodes: %6.0f tasks/s, %6.1f us/task, %.2fx the smallest's; "
                         "scheduler %.1f MiB peak  (%s)" % (
                             r["nodes"], r["tasks_per_s"], r["us_per_task_wall"],
                             r["per_task_vs_smallest"], r["sched_peak_rss_mib"],
                             ", ".join("%.0f" % x for x in r["runs_tasks_per_s"])))
    lines += ["", "Per-task cost of each executor (hops: a chain of cp tasks, one worker; ms p50/p99):",
              ""]
    hdr = "%-8s %6s %18s %15s %15s %15s" % ("executor", "tasks", "received>published",
                                            "before task", "task", "after task")
    lines += [hdr, "-" * len(hdr)]
    for r in floe:
        if r["workload"] != "hops":
            continue
        if "error" in r:
            lines.append("%-8s failed: %s" % (r["executor"], r["error"]))
            continue
        lines.append("%-8s %6d %18s %15s %15s %15s" % (
            r["executor"], r["tasks"], pp(r["received_to_published_ms"]), pp(r["before_task_ms"]),
            pp(r["task_ms"]), pp(r["after_task_ms"])))
    lines += ["", "Targets:"]
    for t in res["targets"]:
        lines.append("  [%s] %s: %s" % ("met" if t["met"] else ("n/a" if t["met"] is None else "MISSED"),
                                        t["target"], t["measured"]))
    if res["profile_top"]:
        lines += ["", "Scheduler profile on fanout (noop), top functions by self time "
                  "(perf, scheduler-fanout.perf.txt):"]
        for p in res["profile_top"]:
            lines.append("  %5.1f%%  %s" % (p["percent"], p["symbol"]))
    if res.get("worker_profile_top"):
        lines += ["", "Worker profile on fanout (process), top functions by self time "
                  "(perf, worker-fanout-process.perf.txt):"]
        for p in res["worker_profile_top"]:
            lines.append("  %5.1f%%  %s" % (p["percent"], p["symbol"]))
    return "\n".join(lines) + "\n"


def targets(floe, peers):
    def find(w, e, workers=None):
        for r in floe:
            if r["workload"] == w and r["executor"] == e and (workers is None or r["workers"] == workers):
                return r
        return None
    def dask(w, e):
        for p in peers:
            if (p.get("system"), p.get("workload"), p.get("executor")) == ("dask", w, e) and \
                    "tasks_per_s" in p:
                return p
        return None
    out = []
    # Issue 25's targets: against Dask in the same run.
    # many twice: launched through the API by four clients one at a time, and requested
    # on the bus together (many_bus) as Dask's client submits its graphs.
    for w, e, want in (("fanout", "noop", 5), ("layered", "noop", 5), ("many", "noop", 3),
                       ("many_bus", "noop", 3), ("fanout", "process", 1.5),
                       ("layered", "process", 1.5)):
        r, d = find(w, e), dask({"many_bus": "many"}.get(w, w), e)
        if r and d:
            ratio = r["tasks_per_s"] / d["tasks_per_s"]
            out.append({"target": "%s (%s) >= %gx Dask" % (w, e, want), "met": ratio >= want,
                        "measured": "%.1fx (%.0f vs %.0f tasks/s)" % (
                            ratio, r["tasks_per_s"], d["tasks_per_s"])})
    r = find("chain", "noop")
    if r:
        out.append({"target": "chain (noop) <= 1 ms per hop", "met": r["us_per_task"] <= 1000,
                    "measured": "%.2f ms" % (r["us_per_task"] / 1000)})
    sizes = [r for r in floe if r["workload"] == "size"]
    if len(sizes) > 1:
        worst = max(r["per_task_vs_smallest"] for r in sizes)
        out.append({"target": "per-task cost flat from %d to %d nodes (<= 1.25x)" % (
            sizes[0]["nodes"], sizes[-1]["nodes"]), "met": worst <= 1.25,
            "measured": "%.2fx at worst" % worst})
    r = find("fanout", "noop")
    if r:
        out.append({"target": "fanout noop >= 10,000 tasks/s", "met": r["tasks_per_s"] >= 10000,
                    "measured": "%.0f tasks/s" % r["tasks_per_s"]})
    for w in ("chain", "fanout"):
        r = find(w, "noop")
        if r and r["ready_to_dispatched_ms"]["p99"] is not None:
            out.append({"target": "ready->dispatched p99 < 1 ms (%s)" % w,
                        "met": r["ready_to_dispatched_ms"]["p99"] < 1,
                        "measured": "%.3f ms" % r["ready_to_dispatched_ms"]["p99"]})
    r = find("chain", "noop")
    if r and r["completion_to_downstream_received_ms"]["p50"] is not None:
        c = r["completion_to_downstream_received_ms"]
        out.append({"target": "completion->downstream received p50 < 1.5 ms, p99 < 5 ms (chain)",
                    "met": c["p50"] < 1.5 and c["p99"] < 5,
                    "measured": "p50 %.2f ms, p99 %.2f ms" % (c["p50"], c["p99"])})
    worst = max((r["redis_bytes_per_node"] for r in floe if "redis_bytes_per_node" in r),
                default=None)
    if worst is not None:
        out.append({"target": "Redis < 300 bytes per node", "met": worst < 300,
                    "measured": "%.0f bytes (worst workload)" % worst})
    s1, s4 = find("scale", "process", 1), find("scale", "process", 4)
    if s1 and s4:
        ratio = s4["tasks_per_s"] / s1["tasks_per_s"]
        out.append({"target": "4 workers >= 1.6x 1 worker (fanout, process)", "met": ratio >= 1.6,
                    "measured": "%.2fx (%.0f vs %.0f tasks/s)" % (ratio, s4["tasks_per_s"], s1["tasks_per_s"])})
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out", required=True)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--no-peers", action="store_true")
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    t0 = time.time()
    floe = run_floe(a.out, a.quick)
    peers = [] if a.no_peers else run_peers(a.out, a.quick)
    res = {"mode": "quick" if a.quick else "full", "host": platform.node(),
           "cores": os.cpu_count(), "sizes": shapes.sizes(a.quick),
           "started_unix": int(t0), "floe": floe, "peers": peers,
           "profile_top": profile_top(a.out),
           "worker_profile_top": profile_top(a.out, name="worker-fanout-process")}
    res["targets"] = targets(floe, peers)
    res["duration_s"] = round(time.time() - t0, 1)
    with open(os.path.join(a.out, "results.json"), "w") as f:
        json.dump(res, f, indent=1)
    text = summary(res)
    with open(os.path.join(a.out, "summary.txt"), "w") as f:
        f.write(text)
    sys.stdout.write("\n" + text)
    log("results: %s/results.json, summary.txt, scheduler-fanout.perf.txt, "
        "worker-fanout-process.perf.txt (%.0f s)" %
        (a.out, res["duration_s"]))


if __name__ == "__main__":
    main()
