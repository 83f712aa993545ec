#!/usr/bin/env python3
"""The library's structure, checked on every test run (ctest: structure).

1. Layers point one way: no two files of src/ call each other, directly or
   through a ring of others.
2. Files stay short enough to hold in one's head: no file of src/ over
   MAX_LINES lines.

Reads the library's object files (one per src/*.c), takes the symbols each
defines and the ones it needs (nm), draws an edge A -> B when A.o needs a
symbol B.o defines, and fails listing every circle (a strongly connected
group of more than one file). Headers are where the same rule is written
(a lower file never names a higher one's fields); this check catches the
calls.

  scripts/check-structure.py BUILD_DIR [SOURCE_DIR]
"""
import glob, os, subprocess, sys

MAX_LINES = 800

# Circles known when this check landed, each to be broken by a change of
# its own (issue 8): they are reported but do not fail the check. Any other
# circle fails it. Remove a line once its circle is gone. The last two (the
# cluster's primary files, and server <-> worker) went in issue 8: none is
# left, so every circle fails the check.
KNOWN = set()


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


def long_files(src):
    out = []
    for f in sorted(glob.glob(os.path.join(src, "src", "*.[ch]"))):
        with open(f, encoding="utf-8", errors="replace") as fh:
            n = sum(1 for _ in fh)
        if n > MAX_LINES:
            out.append((os.path.relpath(f, src), n))
    return out


def main():
    build = sys.argv[1] if len(sys.argv) > 1 else "build"
    src = sys.argv[2] if len(sys.argv) > 2 else os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..")
    objs = glob.glob(os.path.join(build, "CMakeFiles", "muster_objects.dir",
                                  "src", "*.o"))
    if not objs:
        print(f"check-structure: no object files under {build}",
              file=sys.stderr)
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
    new = [c for c in found if frozenset(c) not in KNOWN]
    for comp in found:
        known = " (known, to be broken)" if frozenset(comp) in KNOWN else ""
        print("circle: " + " <-> ".join(comp) + known)
        for a in comp:
            for b in comp:
                if b in graph[a]:
                    print(f"  {a} -> {b} ({why[(a, b)]})")
    long = long_files(src)
    for f, n in long:
        print(f"too long: {f} has {n} lines (split past {MAX_LINES})")
    print(f"check-structure: {len(info)} files, "
          f"{sum(len(v) for v in graph.values())} calls between them, "
          f"{len(found)} circle(s), {len(new)} new, {len(long)} file(s) over {MAX_LINES} lines")
    for k in KNOWN:
        if list(sorted(k)) not in found:
            print("gone: " + " <-> ".join(sorted(k)) +
                  " (remove it from KNOWN)")
    return 1 if new or long else 0


if __name__ == "__main__":
    sys.exit(main())
