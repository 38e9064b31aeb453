#!/usr/bin/env python3
"""make lint: the house's measures. No import cycle between the crate's modules (at the depth of
top-level modules, of their submodules, and one level deeper), and no Rust file over 500 lines.

A module is a file (`a/b.rs` or `a/b/mod.rs` is `a::b`); its `_tests.rs` files are not counted,
since tests may reach anywhere. An edge is a `crate::x::y` path or a `super::y` path in the file.
"""
import os
import re
import sys

MAX_LINES = 500
DEPTHS = (1, 2, 3)


def module_of(path):
    parts = path[len("src/"):-len(".rs")].split("/")
    return parts[:-1] if parts[-1] == "mod" else parts


def edges(depth):
    graph = {}
    for root, _, files in os.walk("src"):
        for name in files:
            if not name.endswith(".rs") or name.endswith("_tests.rs") or root.startswith("src/bin"):
                continue
            path = os.path.join(root, name)
            me = module_of(path)
            text = open(path, encoding="utf-8").read()
            src = "::".join(me[:depth])
            targets = [m.split("::") for m in re.findall(r"\bcrate::((?:\w+::)*\w+)", text)]
            parent = me[:-1] if not path.endswith("mod.rs") else me
            targets += [parent + [m] for m in re.findall(r"\bsuper::(\w+)", text)]
            for target in targets:
                dst = "::".join(target[:depth])
                if dst == src or src.startswith(dst + "::") or dst.startswith(src + "::"):
                    continue
                graph.setdefault(src, set()).add(dst)
    return graph


def cycles(graph):
    """Tarjan's strongly connected components of more than one module."""
    index, low, stack, on, found = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in sorted(graph.get(v, ())):
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
                found.append(sorted(comp))

    sys.setrecursionlimit(10000)
    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def long_files():
    out = []
    for top in ("src", "tests", "benches"):
        for root, _, files in os.walk(top):
            for name in files:
                if name.endswith(".rs"):
                    path = os.path.join(root, name)
                    n = sum(1 for _ in open(path, encoding="utf-8"))
                    if n > MAX_LINES:
                        out.append((path, n))
    return out


def main():
    os.chdir(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
    problems = []
    for depth in DEPTHS:
        for comp in cycles(edges(depth)):
            problems.append(f"import cycle (depth {depth}): {' <-> '.join(comp)}")
    for path, n in long_files():
        problems.append(f"{path}: {n} lines (at most {MAX_LINES})")
    for p in problems:
        print(f"house: {p}", file=sys.stderr)
    if problems:
        sys.exit(1)
    print(f"house: no import cycles (depths {', '.join(map(str, DEPTHS))}), no file over {MAX_LINES} lines")


if __name__ == "__main__":
    main()
