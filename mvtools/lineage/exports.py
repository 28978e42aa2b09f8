"""Exports of a lineage graph: node-link JSON, Graphviz dot (and SVG through ``dot``),
Mermaid and plain text."""

from __future__ import annotations

import json
import shutil
import subprocess
from typing import TYPE_CHECKING

from mvtools.errors import UsageError
from mvtools.lineage.util import _topo_sorted

if TYPE_CHECKING:  # pragma: no cover
    import networkx as nx


def to_json(graph: nx.DiGraph) -> str:
    """networkx node-link JSON with keys ``nodes`` and ``edges`` (``edges="edges"``)."""
    doc = {
        "directed": True,
        "multigraph": False,
        "graph": {},
        "nodes": [{"id": n, **d} for n, d in graph.nodes(data=True)],
        "edges": [{"source": u, "target": v, **d} for u, v, d in graph.edges(data=True)],
    }
    return json.dumps(doc, default=str)


_DOT_SHAPES = {"stage": "box", "data": "ellipse", "code": "note", "params": "component",
               "model": "doubleoctagon", "metrics": "tab", "plots": "tab"}


def _dq(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _names(d: dict) -> str:
    """A model node's registry names, for labels ('' for other nodes)."""
    return ", ".join(d.get("names") or ())


def to_dot(graph: nx.DiGraph) -> str:
    lines = ["digraph lineage {", "  rankdir=LR;", "  node [fontsize=10];"]
    for n, d in graph.nodes(data=True):
        typ = d.get("type", "data")
        style = ", style=filled, fillcolor=lightgrey" if typ == "stage" else ""
        if _names(d):
            style += ", label=" + _dq(str(n) + "\n" + _names(d))
        lines.append(f"  {_dq(n)} [shape={_DOT_SHAPES.get(typ, 'ellipse')}{style}];")
    for u, v, d in graph.edges(data=True):
        extra = " [style=dashed]" if d.get("interpolated") else ""
        lines.append(f"  {_dq(u)} -> {_dq(v)}{extra};")
    lines.append("}")
    return "\n".join(lines) + "\n"


_MERMAID_SHAPES = {"stage": ("[", "]"), "data": ("([", "])"), "code": ("[/", "/]"),
                   "params": ("{{", "}}"), "model": ("[[", "]]"), "metrics": ("[(", ")]"),
                   "plots": ("[(", ")]")}


def to_mermaid(graph: nx.DiGraph) -> str:
    ids = {n: f"n{i}" for i, n in enumerate(graph.nodes)}
    lines = ["flowchart LR"]
    for n, d in graph.nodes(data=True):
        o, c = _MERMAID_SHAPES.get(d.get("type", "data"), ("[", "]"))
        label = (f"{n} ({_names(d)})" if _names(d) else str(n)).replace('"', "#quot;")
        lines.append(f'  {ids[n]}{o}"{label}"{c}')
    for u, v, d in graph.edges(data=True):
        arrow = "-.->" if d.get("interpolated") else "-->"
        lines.append(f"  {ids[u]} {arrow} {ids[v]}")
    return "\n".join(lines) + "\n"


def to_text(graph: nx.DiGraph) -> str:
    """Stages in dependency order, each with its inputs and outputs."""
    nodes = graph.nodes
    order = _topo_sorted(graph, {n for n, d in nodes(data=True) if d.get("type") == "stage"})
    lines = []

    def label(n: str) -> str:
        names = _names(nodes[n])
        return f"{n} ({nodes[n].get('type')}{' ' + names if names else ''})"

    for s in order:
        d = nodes[s]
        members = f" ({d['members']} stages)" if d.get("members") else ""
        lines.append(f"stage {s}{members}")
        ins = sorted(graph.predecessors(s))
        outs = sorted(graph.successors(s))
        if ins:
            lines.append("  <- " + ", ".join(label(n) for n in ins))
        if outs:
            lines.append("  -> " + ", ".join(label(n) for n in outs))
    loose = sorted(n for n, d in nodes(data=True)
                   if d.get("type") != "stage" and not any(
                       nodes[x].get("type") == "stage"
                       for x in [*graph.predecessors(n), *graph.successors(n)]))
    if loose:
        lines.append("other nodes")
        lines.extend(f"  {label(n)}" for n in loose)
    if not lines:
        lines.append("no stages")
    return "\n".join(lines) + "\n"


def to_svg(graph: nx.DiGraph) -> str:
    """Render through Graphviz ``dot``; a clear UsageError when it is not installed."""
    exe = shutil.which("dot")
    if exe is None:
        raise UsageError(
            "--format svg needs Graphviz's 'dot' program: install Graphviz "
            "(apt-get install graphviz, brew install graphviz or conda install graphviz) "
            "or use --format dot"
        )
    proc = subprocess.run([exe, "-Tsvg"], input=to_dot(graph).encode(), capture_output=True,
                          check=False)
    if proc.returncode != 0:
        msg = proc.stderr.decode(errors="replace").strip().splitlines()
        raise UsageError(f"dot failed: {msg[0] if msg else 'exit ' + str(proc.returncode)}")
    return proc.stdout.decode("utf-8", errors="replace")
