#!/usr/bin/python3
# SPDX-License-Identifier: BSD-2-Clause
"""Checks that docs/states.dot (and the docs/states.svg drawn from it) shows
exactly the guest engine's connection states. The states come from the C
source: the enum after a comment containing "bv:state-enum" anywhere under
vsock/ (so the engine may move or split files), or, while no file carries the
marker yet, the enum declared as `enum cstate`. Prints what differs and exits
1; exits 2 when the enum cannot be found. Not a C parser: one enum, plain
enumerators."""
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MARKER = "bv:state-enum"
DOT_KEYWORDS = {"graph", "digraph", "node", "edge", "subgraph", "strict"}


def _strip_comments(src):
    src = re.sub(r"/\*.*?\*/", " ", src, flags=re.S)
    return re.sub(r"//[^\n]*", " ", src)


def _sources(root):
    for d, _, files in os.walk(os.path.join(root, "vsock")):
        for f in sorted(files):
            if f.endswith((".c", ".h")):
                yield os.path.join(d, f)


def find_enum(root=ROOT):
    """(path, [enumerator names]) of the state enum, or raise LookupError with
    a message that says what to do."""
    marked, fallback = [], []
    for path in _sources(root):
        src = open(path, encoding="utf-8", errors="replace").read()
        for m in re.finditer(re.escape(MARKER), src):
            e = re.search(r"\benum\b[^{;]*\{(.*?)\}", src[m.end():], re.S)
            if e:
                marked.append((path, e.group(1)))
        for e in re.finditer(r"\benum\s+cstate\s*\{(.*?)\}", src, re.S):
            fallback.append((path, e.group(1)))
    found = marked or fallback
    if not found:
        raise LookupError(
            "cannot find the guest engine's connection state enum under vsock/: put a comment "
            f"containing '{MARKER}' right before it (docs/states.dot is checked against it; "
            "see tools/check_states.py)")
    if len(found) > 1:
        where = ", ".join(os.path.relpath(p, root) for p, _ in found)
        raise LookupError(f"more than one state enum found ({where}): keep '{MARKER}' on exactly one")
    path, body = found[0]
    names = []
    for item in _strip_comments(body).split(","):
        item = item.strip()
        if item:
            names.append(item.split("=")[0].strip())
    if not names or not all(re.fullmatch(r"[A-Za-z_]\w*", n) for n in names):
        raise LookupError(f"{os.path.relpath(path, root)}: cannot read the enumerators of the state enum: {names}")
    return path, names


def state_names(enumerators):
    """Enumerators without their common prefix up to an underscore (C_FREE -> FREE)."""
    prefix = os.path.commonprefix(enumerators)
    prefix = prefix[:prefix.rfind("_") + 1] if "_" in prefix else ""
    return [n[len(prefix):] for n in enumerators]


def dot_graph(text):
    """(nodes, edges) of a dot file: every identifier declared as a node or
    used in an edge."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"', '""', _strip_comments(text))   # labels can say anything
    edges = set(re.findall(r"\b(\w+)\s*->\s*(\w+)", text))
    nodes = {a for e in edges for a in e}
    nodes |= set(re.findall(r"^\s*(\w+)\s*\[", text, re.M))
    return nodes - DOT_KEYWORDS, edges


def svg_graph(text):
    """(nodes, edges) of an svg Graphviz drew (each node's and edge's <title>)."""
    nodes = set(re.findall(r'class="node"[^>]*>\s*<title>([^<]*)</title>', text))
    edges = set()
    for t in re.findall(r'class="edge"[^>]*>\s*<title>([^<]*)</title>', text):
        t = t.replace("&#45;", "-").replace("&gt;", ">")
        a, _, b = t.partition("->")
        edges.add((a.strip(), b.strip()))
    return nodes, edges


def check(root=ROOT):
    """Problems as a list of strings (empty = all good)."""
    try:
        path, enumerators = find_enum(root)
    except LookupError as e:
        return [str(e)], 2
    states = set(state_names(enumerators))
    rel = os.path.relpath(path, root)
    problems = []
    dot_path = os.path.join(root, "docs", "states.dot")
    nodes, edges = dot_graph(open(dot_path).read())
    if nodes - states:
        problems.append(f"docs/states.dot has states the engine ({rel}) does not: {sorted(nodes - states)}")
    if states - nodes:
        problems.append(f"the engine ({rel}) has states docs/states.dot does not draw: {sorted(states - nodes)}")
    for s in sorted(states & nodes):
        if not any(s in e for e in edges):
            problems.append(f"docs/states.dot: state {s} has no transition")
    svg_path = os.path.join(root, "docs", "states.svg")
    if not os.path.exists(svg_path):
        problems.append("docs/states.svg is missing: run 'make docs'")
    else:
        snodes, sedges = svg_graph(open(svg_path).read())
        if (snodes, sedges) != (nodes, edges):
            problems.append("docs/states.svg is not drawn from the current docs/states.dot: run 'make docs'")
    return problems, 1 if problems else 0


if __name__ == "__main__":
    probs, rc = check()
    for p in probs:
        print(f"check_states: {p}", file=sys.stderr)
    if not rc:
        print("check_states: docs/states.dot matches the engine's states")
    sys.exit(rc)
