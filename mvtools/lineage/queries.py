"""Queries on a lineage graph: upstream, downstream, impact, the producing stage of an
output, the projection onto stages and the folding of foreach/matrix expansions."""

from __future__ import annotations

import os
import posixpath
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mvtools.errors import NotFound, UsageError
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
        self._versions: dict[str, dict[str, list[str]]] | None = None

    # ---- lookup

    def _path_index(self) -> dict[str, str]:
        if self._paths is None:
            self._paths = {d["path"]: n for n, d in self.graph.nodes(data=True)
                           if d.get("path") is not None and d.get("type") != "stage"}
        return self._paths

    def targets(self, target: str, cwd: str = "") -> list[str]:
        """The node ids ``target`` names, resolved from ``cwd`` (a repo-relative directory)
        as ``dvc dag`` resolves a target: a stage of the dvc.yaml there (``train``,
        ``train@key``, a foreach/matrix group), ``FILE:stage`` with FILE a dvc.yaml relative
        to ``cwd``, a ``.dvc`` or dvc.yaml file (its stages); then a params key
        (``params.yaml:train.lr``), a path relative to ``cwd``, a node id, a model name.
        Empty when nothing matches."""
        target = target.replace(os.sep, "/")
        found = _stage_targets(self.graph, target, cwd)
        if found:
            return found
        g = self.graph
        file, sep, key = target.rpartition(":")
        if sep and file and not _is_dvc_file(file):
            n = f"{_norm(cwd, file)}:{key}"
            if n in g:
                return [n]
        if target:
            hit = self._path_index().get(_norm(cwd, target))
            if hit is not None:
                return [hit]
        if target in g:
            return [target]
        norm = _norm("", target) if target else target
        hit = self._path_index().get(norm)
        if hit is not None:
            return [hit]
        if norm in g:
            return [norm]
        return sorted(n for n, d in g.nodes(data=True)
                      if d.get("type") == "model" and target in d.get("names", ()))

    def resolve(self, node: str, cwd: str = "") -> str:
        """The one node id for ``node`` (see :meth:`targets`); NotFound when none, a
        UsageError when it names several (a foreach/matrix group)."""
        found = self.targets(node, cwd)
        if not found:
            raise NotFound(f"no node '{node}' in the lineage graph")
        if len(found) > 1:
            raise UsageError(f"'{node}' names {len(found)} nodes: {', '.join(found[:3])}"
                             f"{', ...' if len(found) > 3 else ''}")
        return found[0]

    def _seeds(self, node: str, cwd: str) -> list[str]:
        found = self.targets(node, cwd)
        if not found:
            raise NotFound(f"no node '{node}' in the lineage graph")
        return found

    # ---- queries

    def upstream(self, node: str, cwd: str = "") -> nx.DiGraph:
        """``node`` (a stage, group, path, params key or model name) and everything it is
        derived from."""
        import networkx as nx

        seeds = self._seeds(node, cwd)
        keep = set(seeds).union(*(nx.ancestors(self.graph, n) for n in seeds))
        return self.graph.subgraph(keep).copy()

    def downstream(self, node: str, cwd: str = "") -> nx.DiGraph:
        """``node`` and everything derived from it."""
        import networkx as nx

        seeds = self._seeds(node, cwd)
        keep = set(seeds).union(*(nx.descendants(self.graph, n) for n in seeds))
        return self.graph.subgraph(keep).copy()

    def subgraph(self, node: str, cwd: str = "") -> nx.DiGraph:
        """``node`` with its whole upstream and downstream."""
        import networkx as nx

        seeds = self._seeds(node, cwd)
        keep = set(seeds).union(*(nx.ancestors(self.graph, n) | nx.descendants(self.graph, n)
                                  for n in seeds))
        return self.graph.subgraph(keep).copy()

    def impact(self, path: str, cwd: str = "") -> dict[str, Any]:
        """Stages and models that change when ``path`` changes.

        ``path`` may be a stage (resolved from ``cwd`` as :meth:`targets` does), a file or
        directory (matched against every node path it equals, lies inside or contains), a
        params file, a ``file:key`` params key or group, or a model name. A params key
        reaches each stage whose declared (or ``${}``-read) params include it, as ``dvc
        status`` sees them: a stage declaring the group ``train`` or the whole file changes
        when ``train.lr`` does; one declaring ``train.epochs`` does not.

        The result: ``{"path", "stages", "models"}``, ``stages`` in dependency order, and
        ``models`` one ``{"name", "path", "versions"}`` per registered name of each model
        node (``versions``: those the registry recorded from that path).
        """
        import networkx as nx

        g = self.graph
        seeds, affected = self._impact_seeds(path, cwd)
        for s in seeds:
            affected |= nx.descendants(g, s)
        models = sorted(n for n in affected | seeds if g.nodes[n].get("type") == "model")
        stages = {n for n in affected if g.nodes[n].get("type") == "stage"}
        return {"path": path, "stages": _topo_sorted(g, stages),
                "models": self.model_entries(models)}

    def _impact_seeds(self, path: str, cwd: str) -> tuple[set[str], set[str]]:
        """The nodes a change of ``path`` starts from, and the stages it changes directly
        (those declaring a whole params file, for a params key)."""
        g = self.graph
        target = path.replace(os.sep, "/")
        stages = _stage_targets(g, target, cwd)
        if stages:
            return set(stages), set()
        file, sep, key = target.rpartition(":")
        if sep and file and not _is_dvc_file(file):
            for f in dict.fromkeys((_norm(cwd, file), _norm("", file))):
                found = _param_seeds(g, f, key)
                if found is not None:
                    return found
        seeds: set[str] = set()
        norm = _norm(cwd, target) if target else (cwd or ".")
        for n, d in g.nodes(data=True):
            p = d.get("path") if d.get("type") != "stage" else None
            if p is None and d.get("type") == "params":
                p = d.get("file")
            if p is not None and _overlap(p, norm):
                seeds.add(n)
        if not seeds and target in g:
            seeds.add(target)  # a node id as the graph spells it
        if not seeds:
            seeds.update(n for n, d in g.nodes(data=True)
                         if d.get("type") == "model" and target in d.get("names", ()))
        return seeds, set()

    def model_entries(self, nodes: list[str]) -> list[dict[str, Any]]:
        """``{"name", "path", "versions"}`` for each registered name of each model node."""
        registered = self.registered_versions()
        entries = []
        for n in nodes:
            d = self.graph.nodes[n]
            p = d.get("path", n)
            by_name = registered.get(p, {})
            for name in sorted({*d.get("names", ()), *by_name}):
                entries.append({"name": name, "path": p, "versions": by_name.get(name, [])})
        return entries

    def registered_versions(self) -> dict[str, dict[str, list[str]]]:
        """path -> model name -> the versions the registry recorded from that path, in
        registration order; empty outside a git repository."""
        if self._versions is None:
            self._versions = _registered_versions(self.root) if self.root is not None else {}
        return self._versions

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


def _is_dvc_file(path: str) -> bool:
    """A file ``dvc dag`` takes a stage from (DVC's ``is_valid_filename``)."""
    return path.endswith(".dvc") or posixpath.basename(path) == "dvc.yaml"


def _stage_targets(g: nx.DiGraph, target: str, cwd: str) -> list[str]:
    """The stages ``target`` names from ``cwd``, as DVC's ``parse_target`` and stage
    collection read it: ``[FILE:]name[@key]`` (FILE a dvc.yaml, default the one in
    ``cwd``), a group name (its members), or a ``.dvc``/dvc.yaml file (its stages)."""
    group, at, key = target.partition("@")
    file, sep, name = group.rpartition(":")
    if sep and ("/" in name or "\\" in name):
        file, name = "", group  # DVC's TARGET_REGEX: a stage name holds no '/', '\\' or ':'
        sep = ""
    if not sep:
        if not at and _is_dvc_file(group):
            f = _norm(cwd, group)
            if f.endswith(".dvc"):
                return [f] if g.nodes.get(f, {}).get("type") == "stage" else []
            return sorted(n for n, d in g.nodes(data=True)
                          if d.get("type") == "stage" and d.get("file") == f)
        file = "dvc.yaml"
    elif not _is_dvc_file(file) or file.endswith(".dvc"):
        return []
    f = _norm(cwd, file)
    sid = ("" if f == "dvc.yaml" else f"{f}:") + name + (f"@{key}" if at else "")
    d = g.nodes.get(sid)
    if d is not None and d.get("type") == "stage":
        return [sid]
    if at:
        return []
    return sorted(n for n, d in g.nodes(data=True)
                  if d.get("type") == "stage" and d.get("group") == sid)


def _param_seeds(g: nx.DiGraph, file: str, key: str) -> tuple[set[str], set[str]] | None:
    """What a change of ``key`` (dotted) in params ``file`` reaches: the params nodes of
    that file whose key is the same, a group holding it or a key inside it; and the stages
    declaring the whole file, which it changes. None when the graph has nothing of ``file``."""
    if file not in g and not any(d.get("file") == file and d.get("type") == "params"
                                 for _n, d in g.nodes(data=True)):
        return None
    seeds: set[str] = set()
    for n, d in g.nodes(data=True):
        if d.get("type") == "params" and d.get("file") == file and d.get("key") is not None:
            k = str(d["key"])
            if k == key or key.startswith(k + ".") or k.startswith(key + "."):
                seeds.add(n)
    whole: set[str] = set()
    if file in g:
        for _f, s, e in g.out_edges(file, data=True):
            if e.get("kind") == "params" and g.nodes[s].get("type") == "stage":
                whole.add(s)  # `- params.yaml:` declares every key of the file
    return seeds | whole, whole


def _registered_versions(root: Path) -> dict[str, dict[str, list[str]]]:
    """path -> name -> versions, from every readable ledger of the repository at ``root``."""
    from mvtools.gitops import Repo
    from mvtools.reading import RegistryReader

    try:
        repo = Repo.discover(root)
    except UsageError:
        return {}  # not a git repository: no registry
    states, _broken = RegistryReader(root, repo=repo).readable_states()
    found: dict[str, dict[str, list[str]]] = {}
    for name, st in states.items():
        for version, ev in st.versions.items():
            if isinstance(ev.get("path"), str):
                found.setdefault(ev["path"], {}).setdefault(name, []).append(version)
    return found
