"""Queries on a lineage graph: upstream, downstream, impact, the producing stage of an
output, the projection onto stages and the folding of foreach/matrix expansions."""

from __future__ import annotations

import os
import posixpath
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mvtools.errors import NotFound
from mvtools.lineage.exports import to_dot, to_json, to_mermaid, to_svg, to_text
from mvtools.lineage.util import _norm, _overlap, _topo_sorted

if TYPE_CHECKING:  # pragma: no cover
    import networkx as nx


class Lineage:
    """A repo's lineage graph and the queries on it."""

    def __init__(self, graph: nx.DiGraph, root: Path | None = None,
                 templates: dict[tuple[str, str], str] | None = None) -> None:
        self.graph = graph
        self.root = root
        self._templates = templates or {}
        self._paths: dict[str, str] | None = None

    # ---- lookup

    def _path_index(self) -> dict[str, str]:
        if self._paths is None:
            self._paths = {d["path"]: n for n, d in self.graph.nodes(data=True)
                           if d.get("path") is not None and d.get("type") != "stage"}
        return self._paths

    def resolve(self, node: str) -> str:
        """A node id for ``node``: an id as is, else a path (``./`` and trailing ``/`` ignored)."""
        if node in self.graph:
            return node
        norm = _norm("", node.replace(os.sep, "/")) if node else node
        hit = self._path_index().get(norm)
        if hit is not None:
            return hit
        if norm in self.graph:
            return norm
        raise NotFound(f"no node '{node}' in the lineage graph")

    # ---- queries

    def upstream(self, node: str) -> nx.DiGraph:
        """``node`` and everything it is derived from."""
        import networkx as nx

        n = self.resolve(node)
        return self.graph.subgraph({n} | nx.ancestors(self.graph, n)).copy()

    def downstream(self, node: str) -> nx.DiGraph:
        """``node`` and everything derived from it."""
        import networkx as nx

        n = self.resolve(node)
        return self.graph.subgraph({n} | nx.descendants(self.graph, n)).copy()

    def subgraph(self, node: str) -> nx.DiGraph:
        """``node`` with its whole upstream and downstream."""
        import networkx as nx

        n = self.resolve(node)
        nodes = {n} | nx.ancestors(self.graph, n) | nx.descendants(self.graph, n)
        return self.graph.subgraph(nodes).copy()

    def impact(self, path: str) -> dict[str, Any]:
        """Stages and models that change when ``path`` changes.

        ``path`` may be a file or directory (matched against every node path it equals,
        lies inside or contains), a params file, a ``file:key`` params id or a stage id.
        """
        import networkx as nx

        g = self.graph
        norm = _norm("", path.replace(os.sep, "/")) if path else "."
        seeds: set[str] = set()
        if path in g:
            seeds.add(path)
        for n, d in g.nodes(data=True):
            p = d.get("path") if d.get("type") != "stage" else None
            if p is None and d.get("type") == "params":
                p = d.get("file")
            if p is not None and _overlap(p, norm):
                seeds.add(n)
        affected: set[str] = set()
        for s in seeds:
            affected |= nx.descendants(g, s)
        models = {n for n in affected | seeds if g.nodes[n].get("type") == "model"}
        stages = {n for n in affected if g.nodes[n].get("type") == "stage"}
        return {"path": path, "stages": _topo_sorted(g, stages),
                "models": sorted(g.nodes[n].get("path", n) for n in models)}

    def stage_for_output(self, path: str) -> str | None:
        return stage_for_output(self, path)

    def collapse(self) -> Lineage:
        """Fold each foreach/matrix group into one stage node and its templated paths."""
        import networkx as nx

        g = self.graph
        mapping: dict[str, str] = {}
        for n, d in g.nodes(data=True):
            if d.get("type") == "stage" and d.get("group"):
                mapping[n] = d["group"]
        # a path produced (or only consumed) by group members folds into its template
        claimed: dict[str, str] = {}
        for (stage, node), tmpl in self._templates.items():
            if node in mapping:
                continue
            group = mapping.get(stage, stage)
            if claimed.setdefault(tmpl, group) != group:
                tmpl = f"{tmpl} ({group})"  # two groups writing the same template
                claimed.setdefault(tmpl, group)
            producers = [p for p in g.predecessors(node) if g.nodes[p].get("type") == "stage"]
            if producers:
                if all(p in mapping for p in producers) and stage in producers:
                    mapping[node] = tmpl
            else:
                consumers = list(g.successors(node))
                if consumers and all(c in mapping for c in consumers):
                    mapping[node] = tmpl
        h: nx.DiGraph[str] = nx.DiGraph()
        counts: dict[str, int] = {}
        for n, d in g.nodes(data=True):
            m = mapping.get(n, n)
            counts[m] = counts.get(m, 0) + 1
            if m not in h:
                attrs = dict(d)
                if m != n:
                    if d.get("type") == "stage":
                        attrs = {"type": "stage", "file": d.get("file"), "name": m.rsplit(":", 1)[-1],
                                 "wdir": d.get("wdir"), "group": m}
                    else:
                        attrs = {k: v for k, v in d.items() if k not in ("path", "stage", "value")}
                        attrs["path"] = m
                        prod = d.get("stage")
                        if prod:
                            attrs["stage"] = mapping.get(prod, prod)
                h.add_node(m, **attrs)
        for m, c in counts.items():
            if c > 1:
                h.nodes[m]["members"] = c
        for u, v, d in g.edges(data=True):
            mu, mv = mapping.get(u, u), mapping.get(v, v)
            if mu != mv:
                h.add_edge(mu, mv, **d)
        return Lineage(h, self.root)

    # ---- exports

    def to_json(self) -> str:
        return to_json(self.graph)

    def to_dot(self) -> str:
        return to_dot(self.graph)

    def to_mermaid(self) -> str:
        return to_mermaid(self.graph)

    def to_text(self) -> str:
        return to_text(self.graph)

    def to_svg(self) -> str:
        return to_svg(self.graph)


def stage_for_output(lineage: Lineage, path: str) -> str | None:
    """The stage whose output is ``path`` (or a directory holding it), else None."""
    norm = _norm("", path.replace(os.sep, "/"))
    index = lineage._path_index()
    p = norm
    while p:
        node = index.get(p)
        if node is not None:
            producer = lineage.graph.nodes[node].get("stage")
            if producer:
                return producer
        if p in ("/", "."):
            break
        parent = posixpath.dirname(p)
        p = parent if parent != p else ""
    return None


def stage_edges(graph: nx.DiGraph) -> set[tuple[str, str]]:
    """Project the graph onto stages: A -> B when data flows from A to B through
    non-stage nodes (edges of params read only through ``${}`` are not DVC dependencies
    and are left out)."""
    nodes = graph.nodes
    succ = graph.succ
    result: set[tuple[str, str]] = set()
    for a, d in nodes(data=True):
        if d.get("type") != "stage":
            continue
        seen: set[str] = set()
        stack = [v for v in succ[a]]
        while stack:
            v = stack.pop()
            if v in seen:
                continue
            seen.add(v)
            if nodes[v].get("type") == "stage":
                result.add((a, v))
                continue
            for w, ed in succ[v].items():
                if not ed.get("interpolated"):
                    stack.append(w)
    return result
