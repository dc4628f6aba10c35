#!/usr/bin/python3
"""Call cycles between source files, measured from the built objects.

For each object of the galley binary, `nm` gives the symbols it defines and
the ones it needs; file A depends on file B when A needs a symbol B defines
(a call, or a use of B's data). Files that depend on each other, directly or
through others, form a cycle (a strongly connected component). A cycle of
two files (a verb's file and the helpers it shares with its table, say) is
tolerated; anything larger means a change in one file can ripple round a
loop of them.

usage: scripts/cycles.py [BUILD_DIR] [--max N] [--edges]
Prints each cycle of more than one file, largest first, and exits 1 if any
is larger than --max (default 2)."""
import subprocess
import sys
from collections import defaultdict
from pathlib import Path


def symbols(obj):
    out = subprocess.run(["nm", "-P", str(obj)], capture_output=True,
                         text=True, check=True).stdout
    defined, needed = set(), set()
    for line in out.splitlines():
        parts = line.split()
        if len(parts) < 2:
            continue
        name, kind = parts[0], parts[1]
        if kind == "U":
            needed.add(name)
        elif kind in "TDBRCGSVW":
            defined.add(name)
    return defined, needed


def scc(nodes, edges):
    """Tarjan's algorithm, iterative."""
    index, low, onstack, stack, comps = {}, {}, set(), [], []
    counter = [0]
    for root in nodes:
        if root in index:
            continue
        work = [(root, iter(sorted(edges[root])))]
        index[root] = low[root] = counter[0]
        counter[0] += 1
        stack.append(root)
        onstack.add(root)
        while work:
            v, it = work[-1]
            advanced = False
            for w in it:
                if w not in index:
                    index[w] = low[w] = counter[0]
                    counter[0] += 1
                    stack.append(w)
                    onstack.add(w)
                    work.append((w, iter(sorted(edges[w]))))
                    advanced = True
                    break
                if w in onstack:
                    low[v] = min(low[v], index[w])
            if advanced:
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[v])
            if low[v] == index[v]:
                comp = []
                while True:
                    w = stack.pop()
                    onstack.discard(w)
                    comp.append(w)
                    if w == v:
                        break
                comps.append(sorted(comp))
    return comps


def main():
    args = sys.argv[1:]
    limit, show_edges, build = 2, False, "build"
    while args:
        a = args.pop(0)
        if a == "--max":
            limit = int(args.pop(0))
        elif a == "--edges":
            show_edges = True
        else:
            build = a
    objdir = Path(build) / "galley.p"
    objs = sorted(p for p in objdir.glob("src_*.c.o"))
    if not objs:
        sys.exit(f"cycles: no objects in {objdir}: build first")
    owner, needs = {}, {}
    for o in objs:
        name = o.name[len("src_"):-len(".o")]
        d, n = symbols(o)
        needs[name] = n
        for s in d:
            owner[s] = name
    edges = defaultdict(set)
    why = {}
    for f, n in needs.items():
        for s in n:
            g = owner.get(s)
            if g and g != f:
                edges[f].add(g)
                why.setdefault((f, g), s)
    comps = [c for c in scc(sorted(needs), edges) if len(c) > 1]
    comps.sort(key=len, reverse=True)
    worst = len(comps[0]) if comps else 1
    for c in comps:
        print(f"cycle of {len(c)}: {' '.join(c)}")
        if show_edges:
            for f in c:
                for g in sorted(edges[f] & set(c)):
                    print(f"    {f} -> {g} ({why[(f, g)]})")
    print(f"largest cycle: {worst} file{'s' if worst != 1 else ''} "
          f"(limit {limit}) over {len(needs)} objects")
    sys.exit(1 if worst > limit else 0)


if __name__ == "__main__":
    main()
