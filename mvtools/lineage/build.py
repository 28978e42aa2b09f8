"""The graph build: the repo's dvc.yaml and .dvc files parsed, DVC's output checks
(duplicates, overlaps, stage files inside outputs), then typed nodes and edges
(:mod:`mvtools.lineage.graph`) checked for cycles."""

from __future__ import annotations

import gc
import os
import posixpath
from pathlib import Path

from mvtools.errors import ConfigError, UsageError
from mvtools.lineage.discovery import _dvc_files
from mvtools.lineage.graph import _GraphBuilder, _OutIndex
from mvtools.lineage.parsing import _Parser
from mvtools.lineage.queries import Lineage
from mvtools.lineage.records import _Collected, _Stage
from mvtools.lineage.util import _is_ancestor_dir

NODE_TYPES = ("stage", "data", "code", "params", "model", "metrics", "plots")


def build_lineage(repo_root: str | os.PathLike[str] = ".") -> Lineage:
    """Read every dvc.yaml and .dvc file under ``repo_root`` into a :class:`Lineage`."""
    # The build allocates many small objects and no garbage cycles; the cyclic collector's
    # full passes would make it grow faster than linearly with the pipeline's size.
    enabled = gc.isenabled()
    gc.disable()
    try:
        return _build(repo_root)
    finally:
        if enabled:
            gc.enable()


def _build(repo_root: str | os.PathLike[str]) -> Lineage:
    import networkx as nx

    root = Path(repo_root).resolve()
    if not root.is_dir():
        raise UsageError(f"{repo_root}: not a directory")
    parser = _Parser(root)
    col = _collect(parser, root)
    outs, index = _checked_outputs(col)
    models, artifact_of = _models_and_artifacts(root, col)
    builder = _GraphBuilder(parser.files, col.stages, outs, index, models, artifact_of)
    nodes, edges, templates = builder.build(col.top_level)
    _check_acyclic(nodes, edges)
    g: nx.DiGraph[str] = nx.DiGraph()
    g.add_nodes_from(nodes.items())
    g.add_edges_from(edges)
    return Lineage(g, root, templates)


def _collect(parser: _Parser, root: Path) -> _Collected:
    col = _Collected()
    for rel in _dvc_files(root):
        if posixpath.basename(rel) == "dvc.yaml":
            parser.parse_dvcyaml(rel, col)
        else:
            parser.parse_dvcfile(rel, col)
    return col


def _checked_outputs(col: _Collected) -> tuple[dict[str, tuple[_Stage, str, dict]], _OutIndex]:
    """Outputs by path after DVC's trie checks: duplicates, overlaps, stage files inside
    outputs (the stages of a file inside an output declared from above it are dropped)."""
    outs: dict[str, tuple[_Stage, str, dict]] = {}
    for st in col.stages:
        for path, kind, flags, _t in st.outs:
            if path in outs:
                other = outs[path][0]
                raise ConfigError(
                    f"output '{path}' is defined twice: by stage '{other.id}' and stage '{st.id}'"
                )
            outs[path] = (st, kind, flags)
    index = _OutIndex(outs)
    for path in index.sorted:
        for parent in index.prefixes(path):
            if parent != path:
                raise ConfigError(
                    f"outputs '{parent}' (stage '{outs[parent][0].id}') and '{path}' "
                    f"(stage '{outs[path][0].id}') overlap: outputs must be in separate "
                    "tracked directories"
                )
    dropped = _stage_files_in_outputs(col, outs, index)
    if dropped:
        col.stages = [st for st in col.stages if st.file not in dropped]
        outs = {p: v for p, v in outs.items() if v[0].file not in dropped}
        index = _OutIndex(outs)
    return outs, index


def _stage_files_in_outputs(col: _Collected, outs: dict[str, tuple[_Stage, str, dict]],
                            index: _OutIndex) -> set[str]:
    """The stage files DVC's walk never reaches; an error for any other inside an output."""
    files = dict.fromkeys(st.file for st in col.stages)
    dropped: set[str] = set()
    for f in files:
        for o in index.prefixes(f):
            owner = outs[o][0]
            # DVC's walk never enters an output directory declared from above it
            if _is_ancestor_dir(posixpath.dirname(owner.file), posixpath.dirname(o)) and o != f:
                dropped.add(f)
            else:
                raise ConfigError(f"'{f}' is inside output '{o}' of stage '{owner.id}'")
    return dropped


def _models_and_artifacts(root: Path, col: _Collected) -> tuple[dict[str, list[str]], dict[str, str]]:
    """Each model path with the names the registry knows it by (:func:`mvtools.config.load_config`:
    mvtools.yaml ``models:`` and dvc.yaml ``artifacts:``), and each artifact path's name."""
    import shutil

    from mvtools.config import load_config

    names: dict[str, set[str]] = {}
    # without git the registry cannot list dvc.yaml files; the parser's artifacts name them
    for m in load_config(root, with_dvc=shutil.which("git") is not None).models.values():
        names.setdefault(m.path, set()).add(m.name)
    artifact_of: dict[str, str] = {}
    for name, path, typ, _f in col.artifacts:
        artifact_of.setdefault(path, name)
        if typ in (None, "model"):  # as the registry reads them: no type is a model
            names.setdefault(path, set()).add(name)
    return {p: sorted(n) for p, n in names.items()}, artifact_of


def _check_acyclic(nodes: dict[str, dict], edges: list[tuple[str, str, dict]]) -> None:
    """Kahn's algorithm over DVC's dependencies (not the `${}`-only params edges)."""
    succ: dict[str, list[str]] = {}
    indeg: dict[str, int] = dict.fromkeys(nodes, 0)
    for u, v, d in edges:
        if d.get("interpolated"):
            continue
        succ.setdefault(u, []).append(v)
        indeg[v] += 1
    queue = [n for n, k in indeg.items() if k == 0]
    done = 0
    while queue:
        n = queue.pop()
        done += 1
        for v in succ.get(n, ()):
            indeg[v] -= 1
            if indeg[v] == 0:
                queue.append(v)
    if done == len(nodes):
        return
    import networkx as nx

    rest: nx.DiGraph[str] = nx.DiGraph((u, v) for u, v, d in edges
                      if not d.get("interpolated") and indeg[u] > 0 and indeg[v] > 0)
    cycle = nx.find_cycle(rest)
    stages = [u for u, _v in cycle if nodes[u]["type"] == "stage"]
    if not stages:  # pragma: no cover - every cycle passes through a stage
        stages = [u for u, _v in cycle]
    raise ConfigError(
        "the pipeline has a cycle: " + " -> ".join(f"'{s}'" for s in [*stages, stages[0]])
    )
