#!/usr/bin/env python3
"""Layers point one way: no two files of src/ call each other, directly or
through a ring of others.

Reads the library's object files (one per src/*.c), takes the symbols each
defines and the ones it needs (nm), draws an edge A -> B when A.o needs a
symbol B.o defines, and fails listing every circle (a strongly connected
group of more than one file). Headers are where the same rule is written
(a lower file never names a higher one's fields); this check catches the
calls.

  scripts/check-layers.py BUILD_DIR
"""
import glob, os, subprocess, sys


def symbols(obj):
    out = subprocess.run(["nm", "--defined-only", obj], capture_output=True,
                         text=True, check=True).stdout
    defined = {l.split()[-1] for l in out.splitlines()
               if len(l.split()) == 3 and l.split()[1] in "TDBR"}
    out = subprocess.run(["nm", "--undefined-only", obj], capture_output=True,
                         text=True, check=True).stdout
    needed = {l.split()[-1] for l in out.splitlines() if l.strip()}
    return defined, needed


def circles(graph):
    """Tarjan's strongly connected components, those of size > 1."""
    index, low, stack, on, out = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(graph[v]):
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
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def main():
    build = sys.argv[1] if len(sys.argv) > 1 else "build"
    objs = glob.glob(os.path.join(build, "CMakeFiles", "muster_objects.dir",
                                  "src", "*.o"))
    if not objs:
        print(f"check-layers: no object files under {build}", file=sys.stderr)
        return 2
    name = lambda o: os.path.basename(o)[:-2]  # child.c.o -> child.c
    info = {name(o): symbols(o) for o in objs}
    owner = {}
    for f, (defined, _) in info.items():
        for s in defined:
            owner[s] = f
    graph = {f: set() for f in info}
    why = {}
    for f, (_, needed) in info.items():
        for s in needed:
            g = owner.get(s)
            if g and g != f:
                graph[f].add(g)
                why.setdefault((f, g), s)
    found = circles(graph)
    for comp in found:
        print("circle: " + " <-> ".join(comp))
        for a in comp:
            for b in comp:
                if b in graph[a]:
                    print(f"  {a} -> {b} ({why[(a, b)]})")
    print(f"check-layers: {len(info)} files, "
          f"{sum(len(v) for v in graph.values())} edges, "
          f"{len(found)} circle(s)")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
