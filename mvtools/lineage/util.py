"""Small helpers the lineage modules share: repo-relative POSIX paths, nested lookups and
the graph's deterministic dependency order."""

from __future__ import annotations

import posixpath
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    import networkx as nx


_MISSING = object()


def _norm(base: str, path: str) -> str:
    if "://" in path:
        return path
    return posixpath.normpath(posixpath.join(base, path))


def _norm_dep(base: str, path: str) -> str:
    return path if "://" in path else _norm(base, path)


def _outside(rel: str) -> bool:
    return rel == ".." or rel.startswith(("../", "/")) or "://" in rel


def _is_external(path: str) -> bool:
    return "://" in path


def _is_ancestor_dir(anc: str, d: str) -> bool:
    return anc == "" or d == anc or d.startswith(anc + "/")


def _dig(data: Any, parts: list[str]) -> Any:
    cur = data
    for p in parts:
        if isinstance(cur, dict):
            if p not in cur:
                return _MISSING
            cur = cur[p]
        elif isinstance(cur, list):
            try:
                cur = cur[int(p)]
            except (ValueError, IndexError):
                return _MISSING
        else:
            return _MISSING
    return cur


def _overlap(a: str, b: str) -> bool:
    if a == b or b in (".", "") or a in (".", ""):
        return True
    return a.startswith(b + "/") or b.startswith(a + "/")


def _topo_sorted(g: nx.DiGraph, nodes: set[str]) -> list[str]:
    """``nodes`` in the graph's (deterministic) dependency order."""
    import networkx as nx

    if not nodes:
        return []
    try:
        return [n for n in nx.lexicographical_topological_sort(g) if n in nodes]
    except nx.NetworkXUnfeasible:  # pragma: no cover - graphs are acyclic
        return sorted(nodes)
