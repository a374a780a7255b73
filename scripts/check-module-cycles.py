#!/usr/bin/env python3
"""Fail when modules of a crate under runner/ import each other in a cycle.

Each source file is a module. A reference `crate::a::b::Item` or
`super::b::Item` in a file is an edge to the deepest module file it names.
A parent's own `mod x;` and `pub use x::…` lines are declarations, not
dependencies, so they make no edge. Cycles (strongly connected components of
more than one module) are printed and the script exits 1.
"""

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent / "runner"
PATH = re.compile(r"\b(crate|super)((?:::[a-z_][a-z0-9_]*)+)")
USE_GROUP = re.compile(r"\b(crate|super)::\{([^}]*)\}")


def module_of(src: Path, file: Path) -> tuple:
    parts = list(file.relative_to(src).with_suffix("").parts)
    if parts[-1] in ("mod", "lib", "main"):
        parts = parts[:-1]
    return tuple(parts)


def edges_of(src: Path, file: Path, modules: set) -> set:
    me = module_of(src, file)
    is_parent = file.name in ("mod.rs", "lib.rs", "main.rs")
    # A module's `super` is its parent; mod.rs's own path is the module.
    parent = me[:-1]
    text = file.read_text()
    # Only non-test code: a `#[cfg(test)] mod tests` block is at the end by convention.
    text = text.split("#[cfg(test)]\nmod tests")[0]
    found = set()
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("//"):
            continue
        if is_parent and re.match(r"(pub(\(crate\))? )?(mod|use) ", stripped):
            continue
        refs = [(m.group(1), m.group(2)) for m in PATH.finditer(line)]
        for m in USE_GROUP.finditer(line):
            for name in m.group(2).split(","):
                name = name.strip().split(" as ")[0].split("::")[0]
                if name and name != "self":
                    refs.append((m.group(1), "::" + name))
        for base, rest in refs:
            start = () if base == "crate" else parent
            names = [n for n in rest.split("::") if n]
            target = None
            for depth in range(len(names), 0, -1):
                candidate = start + tuple(names[:depth])
                if candidate in modules:
                    target = candidate
                    break
            if target is not None and target != me and target[: len(me)] != me:
                found.add(target)
    return found


def cycles(graph: dict) -> list:
    index, low, stack, on, out = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                out.append(group)

    for v in graph:
        if v not in index:
            visit(v)
    return out


def main() -> int:
    failed = False
    for src in sorted(ROOT.glob("*/src")):
        files = sorted(src.rglob("*.rs"))
        modules = {module_of(src, f): f for f in files}
        graph = {m: edges_of(src, f, set(modules)) for m, f in modules.items()}
        for group in cycles(graph):
            failed = True
            names = ", ".join("::".join(m) or "(root)" for m in sorted(group))
            print(f"{src.parent.name}: import cycle between {names}")
    if not failed:
        print("no import cycles between modules")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
