#!/usr/bin/env python3
"""Import cycles between the modules of each library crate of the workspace.

A module is a file under a crate's src/ (`deliver/batch.rs` is `deliver::batch`,
`deliver.rs` or `deliver/mod.rs` is `deliver`); an edge goes from a module to every
`crate::a::b` path it names in code (comments and doc links excluded), resolved to the
longest module that exists. Prints each cycle's modules (strongly connected groups of
more than one module) and the count; exits 1 when there is any.

    bench/cycles.py            every crate under shared/ and functions/
    bench/cycles.py DIR...     the crates rooted at these directories
"""
import os, re, sys

def modules(src):
    mods = {}
    for root, _, files in os.walk(src):
        for f in files:
            if not f.endswith(".rs"):
                continue
            path = os.path.join(root, f)
            rel = os.path.relpath(path, src)[:-3].split(os.sep)
            if rel[-1] == "mod":
                rel = rel[:-1]
            if rel in (["lib"], ["main"]):
                rel = []
            mods["::".join(rel)] = path
    return mods

def code_of(text):
    text = re.sub(r"(?m)//.*$", "", text)
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    # the test module of a file is the file's own business
    cut = re.search(r"(?m)^#\[cfg\(test\)\]\s*\nmod tests", text)
    return text[: cut.start()] if cut else text

def edges(mods):
    out = {m: set() for m in mods}
    for m, path in mods.items():
        text = code_of(open(path, encoding="utf-8").read())
        here = m.split("::") if m else []
        for hit in re.finditer(r"\b(crate|super)((?:::[a-z_][a-z0-9_]*)+)", text):
            segs = hit.group(2).strip(":").split("::")
            if hit.group(1) == "super":
                own = here if path.endswith(("mod.rs", "lib.rs")) else here[:-1]
                segs = own[:-1] + segs if own else segs
            for n in range(len(segs), 0, -1):
                target = "::".join(segs[:n])
                if target in mods:
                    break
            else:
                continue
            # a module naming its own children or parents is one room
            if target != m and not target.startswith(m + "::") and not m.startswith(target + "::"):
                out[m].add(target)
    return out

def sccs(graph):
    index, low, stack, on, res, i = {}, {}, [], set(), [], [0]
    sys.setrecursionlimit(10000)
    def visit(v):
        index[v] = low[v] = i[0]; i[0] += 1; stack.append(v); on.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w); low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop(); on.discard(w); comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                res.append(sorted(comp))
    for v in graph:
        if v not in index:
            visit(v)
    return res

def main():
    root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
    dirs = sys.argv[1:] or [os.path.join(root, d) for d in ("shared", "shared/explain", "shared/aws", "functions/apikit", "functions/ingest", "functions/deliver", "functions/logs", "functions/admin", "functions/reconcile")]
    total = 0
    for d in dirs:
        src = os.path.join(d, "src")
        if not os.path.isdir(src):
            continue
        cyc = sccs(edges(modules(src)))
        total += len(cyc)
        for c in cyc:
            print(f"{os.path.relpath(d, root)}: cycle of {len(c)} modules: {', '.join(c)}")
    print(f"import cycles: {total}")
    return 1 if total else 0

sys.exit(main())
