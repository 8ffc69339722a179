"""bench/peers.py — the same shapes on Dask distributed and Celery (Debian's packages).

Run as `python3 bench/peers.py dask|celery OUT.json [--quick]` with Debian's
/usr/bin/python3: one process per peer, so neither's imports or threads affect the other.
Tasks are a no-op function (the `noop` counterpart) or `subprocess.run(["/bin/true"])`
(the `process` counterpart); dependencies pass the parents' results, as ordering only.
Wall time runs from the first submission to the last result.
"""
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import shapes  # noqa: E402

TIMEOUT = 300
NOOP_RUNS = 3  # as Floe's noop runs: the median of three is reported


def result(peer, workload, executor, tasks, wall, note=None, **extra):
    r = {"system": peer, "workload": workload, "executor": executor, "tasks": tasks}
    if wall is None:
        r["note"] = note
    else:
        r.update({"wall_s": round(wall, 3), "tasks_per_s": round(tasks / wall, 1),
                  "us_per_task": round(wall * 1e6 / tasks, 1)})
        if note:
            r["note"] = note
    r.update(extra)
    return r


# --- Dask ------------------------------------------------------------------------------


def nop(*parents):
    return None


def run_true(*parents):
    subprocess.run(["/bin/true"], check=True)
    return None


DASK_CHUNK = 2000  # nodes per graph handed to the scheduler


def dask_submit(client, fn, shape, prefix):
    """Submits shape as task graphs of DASK_CHUNK nodes, later ones naming the earlier
    ones' futures; returns the futures. Node by node (client.submit), Dask ran the
    fan-out at a third of the speed it reaches with whole graphs; chunks keep each
    graph message a bounded size."""
    futs = {}
    for i in range(0, len(shape), DASK_CHUNK):
        part = shape[i:i + DASK_CHUNK]
        dsk = {prefix + node: (fn,) + tuple(futs.get(p, prefix + p) for p in parents)
               for node, parents in part}
        for (node, _), f in zip(part, client.get(dsk, [prefix + n for n, _ in part],
                                                 sync=False)):
            futs[node] = f
    return list(futs.values())


def dask_run(quick, variants):
    from dask.distributed import Client, LocalCluster, wait
    out = []
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address=None) as cluster, Client(cluster) as client:
        client.submit(nop).result()  # workers up before the clock starts
        for name, (shape, n_exec) in shapes.workloads(quick).items():
            for executor, fn in variants:
                if (name, executor) not in WANT or (ONLY and name != ONLY):
                    continue
                walls = []
                for run in range(NOOP_RUNS if executor == "noop" else 1):
                    t0 = time.time()
                    finals = []
                    for e in range(n_exec):
                        finals.extend(dask_submit(client, fn, shape,
                                                  "%s-%s-%d-%d-" % (name, executor, run, e)))
                    wait(finals, timeout=TIMEOUT)
                    walls.append(time.time() - t0)
                    bad = [f for f in finals if f.status != "finished"]
                    if bad:
                        raise RuntimeError("dask %s: %d tasks did not finish" % (name, len(bad)))
                    # Released, not cancelled: Dask cancels a finished key's dependents
                    # recursively, path by path, which never ends on the layered shape.
                    del finals
                walls.sort()
                tasks = len(shape) * n_exec
                out.append(result("dask", name, executor, tasks, walls[len(walls) // 2],
                                  runs_tasks_per_s=[round(tasks / w, 1) for w in walls[::-1]]))
    return out


# --- Celery ----------------------------------------------------------------------------


def celery_app(url):
    from celery import Celery
    app = Celery("floe_bench_peer", broker=url, backend=url)
    app.conf.update(worker_prefetch_multiplier=4, task_acks_late=False, result_expires=600,
                    worker_hijack_root_logger=False, broker_connection_retry_on_startup=True)

    @app.task(name="nop")
    def cnop(*parents):
        return None

    @app.task(name="run_true")
    def ctrue(*parents):
        subprocess.run(["/bin/true"], check=True)
        return None

    @app.task(name="join")
    def cjoin(results):
        return None
    return app, {"noop": cnop, "process": ctrue}


def celery_run(quick, url, variants):
    from celery import chain, chord, group
    app, fns = celery_app(url)
    env = dict(os.environ, FLOE_BENCH_CELERY_URL=url)
    here = os.path.dirname(os.path.abspath(__file__))
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "peers:APP", "worker", "-c", "2", "-P", "prefork",
         "--loglevel", "WARNING", "--without-gossip", "--without-mingle", "--without-heartbeat"],
        cwd=here, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    out = []
    try:
        deadline = time.time() + 60
        while True:  # the worker is up once a task round-trips
            try:
                fns["noop"].delay().get(timeout=5)
                break
            except Exception:
                if time.time() > deadline:
                    raise RuntimeError("celery worker did not start")
        s = shapes.sizes(quick)
        for name, (shape, n_exec) in shapes.workloads(quick).items():
            for executor, _ in variants:
                if (name, executor) not in WANT or (ONLY and name != ONLY):
                    continue
                t = fns[executor]
                tasks = len(shape) * n_exec
                if name == "layered":
                    out.append(result("celery", name, executor, tasks, None,
                                      "cannot express: a node reading 3 of the previous layer "
                                      "(canvas has chains, groups and chords: all-of-layer "
                                      "barriers only)"))
                    continue
                note = "chain + chord" if name != "chain" else "chain"
                width = s["fanout"]
                if name == "fanout" and executor == "process" and not quick:
                    # ~60 tasks/s: the full width alone would take half the run's budget
                    width = shapes.sizes(True)["fanout"]
                    tasks = width + 2
                    note += "; %d tasks, the --quick size (10,002 take ~3 min)" % tasks
                t0 = time.time()
                if name == "fanout":
                    sig = chain(t.si(), chord(group(t.si() for _ in range(width)), t.si()))
                    sig.apply_async().get(timeout=TIMEOUT)
                elif name == "chain":
                    chain(*[t.si() for _ in range(s["chain"])]).apply_async().get(timeout=TIMEOUT)
                elif name == "many":
                    rs = [chain(t.si(), chord(group(t.si() for _ in range(3)), t.si())).apply_async()
                          for _ in range(n_exec)]
                    for r in rs:
                        r.get(timeout=TIMEOUT)
                wall = time.time() - t0
                out.append(result("celery", name, executor, tasks, wall, note))
    finally:
        worker.terminate()
        try:
            worker.wait(30)
        except subprocess.TimeoutExpired:
            worker.kill()
    return out


if "FLOE_BENCH_CELERY_URL" in os.environ:  # imported by the celery worker
    APP, _ = celery_app(os.environ["FLOE_BENCH_CELERY_URL"])

# Which (workload, executor) pairs the peers run: every shape with the no-op function, and
# the process counterpart for the shapes whose throughput targets compare executors.
WANT = {(w, "noop") for w in ("fanout", "chain", "layered", "many")} | \
       {("fanout", "process"), ("layered", "process")}

ONLY = None  # one workload per process (bench.py bounds each one's time and memory)

if __name__ == "__main__":
    peer, path = sys.argv[1], sys.argv[2]
    quick = "--quick" in sys.argv
    if "--only" in sys.argv:
        ONLY = sys.argv[sys.argv.index("--only") + 1]
    variants = [("noop", nop), ("process", run_true)]
    try:
        if peer == "dask":
            res = dask_run(quick, variants)
        else:
            res = celery_run(quick, os.environ["FLOE_BENCH_CELERY_URL"], variants)
    except Exception as e:  # recorded, so the report says what failed instead of nothing
        res = [{"system": peer, "error": "%s: %s" % (type(e).__name__, e)}]
    with open(path, "w") as f:
        json.dump(res, f, indent=1)
