#!/usr/bin/env python3
"""The engine's shape, checked (issue 22): no call loop among the files of
scheduler/engine and scheduler/launchplans (a file calls a function another defines, and
back, directly or around a cycle), the phase predicates written nowhere but
common/floe_phase.c, and no product source file (not the tests) over 800 lines.

Usage: engine_layers.py SOURCE_DIR. Exits 1 naming what it found."""
import glob
import os
import re
import sys

root = sys.argv[1] if len(sys.argv) > 1 else "."
files = sorted(glob.glob(os.path.join(root, "scheduler/engine/*.c")) +
               glob.glob(os.path.join(root, "scheduler/launchplans/*.c")))
src, defs = {}, {}
for f in files:
    text = re.sub(r"/\*.*?\*/", "", open(f, encoding="utf-8").read(), flags=re.S)
    src[f] = text
    for m in re.finditer(r"\n([a-z_][a-z0-9_]*)\([^;{]*\)\n\{", text):
        defs[m.group(1)] = f
calls = {f: {} for f in files}
for f, text in src.items():
    for name, where in defs.items():
        if where != f and re.search(r"(?<![\w.>])" + name + r"\(", text):
            calls[f].setdefault(where, []).append(name)

# Tarjan's strongly connected components.
index, low, stack, on, loops, n = {}, {}, [], set(), [], [0]


def visit(v):
    index[v] = low[v] = n[0]
    n[0] += 1
    stack.append(v)
    on.add(v)
    for w in calls[v]:
        if w not in index:
            visit(w)
            low[v] = min(low[v], low[w])
        elif w in on:
            low[v] = min(low[v], index[w])
    if low[v] == index[v]:
        comp = []
        while True:
            w = stack.pop()
            on.discard(w)
            comp.append(w)
            if w == v:
                break
        if len(comp) > 1:
            loops.append(comp)


for f in files:
    if f not in index:
        visit(f)
bad = []
for comp in loops:
    names = [os.path.relpath(f, root) for f in comp]
    detail = "; ".join(f"{os.path.basename(a)} calls {os.path.basename(b)} ({', '.join(sorted(set(calls[a][b])))})"
                       for a in comp for b in comp if b in calls[a])
    bad.append(f"call loop among {', '.join(names)}: {detail}")

# The terminal predicate, spelt out in numbers or names, belongs to floe_phase.c alone.
spelt = re.compile(r"phase\s*==\s*4\s*\|\||\"SUCCEEDED\"\)\s*==\s*0\s*\|\||p\s*==\s*4\s*\|\|")
for f in glob.glob(os.path.join(root, "scheduler/**/*.c"), recursive=True) + \
        glob.glob(os.path.join(root, "cli/*.c")):
    if spelt.search(open(f, encoding="utf-8").read()):
        bad.append(f"{os.path.relpath(f, root)}: a phase predicate written out (use floe_phase.h)")

product = ("scheduler", "worker", "common", "storage", "plugins", "cli", "broker-schemas")
for f in [g for d in product for g in glob.glob(os.path.join(root, d, "**/*.[ch]"), recursive=True)]:
    lines = sum(1 for _ in open(f, encoding="utf-8"))
    if lines > 800:
        bad.append(f"{os.path.relpath(f, root)}: {lines} lines (over 800)")

for b in bad:
    print("engine_layers:", b)
print(f"engine_layers: {len(files)} files, {sum(len(c) for c in calls.values())} dependencies, "
      f"{len(loops)} loops")
sys.exit(1 if bad else 0)
