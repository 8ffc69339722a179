"""bench/shapes.py — the benchmark's DAG shapes, one definition for Floe and the peers.

A shape is a list of (node id, [parent ids]) in topological order. Dependencies are
ordering edges: the tasks (`true`, or nothing) produce no data, so Floe expresses them
with `after:` and the peers pass the parents' (empty) results.
"""


def fanout(width):
    nodes = [("s", [])]
    nodes += [("n%d" % i, ["s"]) for i in range(width)]
    nodes.append(("j", ["n%d" % i for i in range(width)]))
    return nodes


def chain(length):
    return [("c%d" % i, ["c%d" % (i - 1)] if i else []) for i in range(length)]


def layered(layers, width, reads=3):
    nodes = []
    for layer in range(layers):
        for j in range(width):
            parents = []
            if layer:
                parents = ["l%d_%d" % (layer - 1, (j + k) % width) for k in range(min(reads, width))]
            nodes.append(("l%d_%d" % (layer, j), parents))
    return nodes


def diamond():
    """5 nodes: a, then b, c and d, then e."""
    return [("a", []), ("b", ["a"]), ("c", ["a"]), ("d", ["a"]), ("e", ["b", "c", "d"])]


def sizes(quick):
    """Workload sizes: the issue's, or scaled down for --quick."""
    if quick:
        return {"fanout": 2000, "chain": 200, "layers": 20, "width": 100, "many": 400,
                "hops": 20, "map": 20000, "sizes": (1000, 10000)}
    return {"fanout": 10000, "chain": 1000, "layers": 100, "width": 100, "many": 2000,
            "hops": 100, "map": 100000, "sizes": (1000, 10000, 100000)}


def workloads(quick):
    """name -> (shape, executions): the DAG each execution runs and how many run at once."""
    s = sizes(quick)
    return {
        "fanout": (fanout(s["fanout"]), 1),
        "chain": (chain(s["chain"]), 1),
        "layered": (layered(s["layers"], s["width"]), 1),
        "many": (diamond(), s["many"]),
    }


def yaml_workflow(name, version, shape, task):
    """A Floe workflow document for shape, every node calling task."""
    out = ["kind: workflow", "name: %s" % name, "version: \"%s\"" % version, "nodes:"]
    for node, parents in shape:
        if parents:
            out.append("  - {id: %s, task: %s, after: [%s]}" % (node, task, ", ".join(parents)))
        else:
            out.append("  - {id: %s, task: %s}" % (node, task))
    return "\n".join(out) + "\n"


def yaml_hops(name, version, length, task):
    """A Floe workflow: a chain of length nodes passing integer x along (Floe only: the
    executors' own overhead, nothing to compare with a peer)."""
    out = ["kind: workflow", "name: %s" % name, "version: \"%s\"" % version,
           "inputs: {x: integer}",
           "outputs: {x: {from: {node: h%d, output: x}}}" % (length - 1), "nodes:"]
    for i in range(length):
        src = "{input: x}" if i == 0 else "{node: h%d, output: x}" % (i - 1)
        out.append("  - {id: h%d, task: %s, inputs: {x: %s}}" % (i, task, src))
    return "\n".join(out) + "\n"
