"""The graph build: parsed stages to typed nodes and edges, with DVC's output checks
(duplicates, overlaps, stage files inside outputs) and its edge rule computed through a
path index (:class:`_OutIndex`) instead of pairwise checks."""

from __future__ import annotations

import gc
import os
import posixpath
from bisect import bisect_left
from pathlib import Path
from typing import Any

from mvtools.errors import ConfigError, UsageError
from mvtools.lineage.discovery import _dvc_files, _read_models_config
from mvtools.lineage.parsing import _Parser
from mvtools.lineage.queries import Lineage
from mvtools.lineage.records import _OUT_FLAGS, _Collected, _Stage
from mvtools.lineage.util import _MISSING, _dig, _is_ancestor_dir, _is_external



NODE_TYPES = ("stage", "data", "code", "params", "model", "metrics", "plots")


CODE_SUFFIXES = frozenset(
    ".py .pyx .ipynb .sh .bash .zsh .ps1 .r .jl .js .ts .scala .java .kt .go .rs .c .cc"
    " .cpp .h .hpp .m .sql .jsonnet .libsonnet .rb .pl .lua .rmd .qmd .awk .mk .nf"
    .split()
)

CODE_DIRS = frozenset({"src", "scripts", "code", "lib", "bin", "notebooks"})


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
    col = _Collected()
    for rel in _dvc_files(root):
        if posixpath.basename(rel) == "dvc.yaml":
            parser.parse_dvcyaml(rel, col)
        else:
            parser.parse_dvcfile(rel, col)

    # ---- outputs: duplicates, overlaps, stage files inside outputs (DVC's trie checks)
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
    if dropped:
        col.stages = [st for st in col.stages if st.file not in dropped]
        outs = {p: v for p, v in outs.items() if v[0].file not in dropped}
        index = _OutIndex(outs)

    models = set(_read_models_config(root))
    artifact_of: dict[str, str] = {}
    for name, path, typ, _f in col.artifacts:
        artifact_of.setdefault(path, name)
        if typ == "model":
            models.add(path)

    # ---- nodes and edges
    stage_ids = {st.id for st in col.stages}
    nodes: dict[str, dict[str, Any]] = {}
    edges: list[tuple[str, str, dict[str, Any]]] = []
    templates: dict[tuple[str, str], str] = {}

    def pid(path: str) -> str:
        return f"./{path}" if path in stage_ids else path

    for st in col.stages:
        attrs: dict[str, Any] = {"type": "stage", "file": st.file, "wdir": st.wdir or ".",
                                 "cmd": st.cmd}
        if st.name is not None:
            attrs["name"] = st.name
        if st.group:
            attrs["group"] = st.group
        if st.frozen:
            attrs["frozen"] = True
        if st.always_changed:
            attrs["always_changed"] = True
        if st.desc is not None:
            attrs["desc"] = st.desc
        if st.meta is not None:
            attrs["meta"] = st.meta
        if st.repo_import:
            attrs["import"] = True
        nodes[st.id] = attrs

    for path, (st, kind, flags) in outs.items():
        n = pid(path)
        typ = "model" if path in models else ("data" if kind == "outs" else kind)
        attrs = {"type": typ, "path": path, "stage": st.id}
        if kind != "outs":
            attrs["kind"] = kind
        for k, v in flags.items():
            if k in _OUT_FLAGS:
                attrs[k] = v
        if path in artifact_of:
            attrs["artifact"] = artifact_of[path]
        nodes[n] = attrs

    def path_node(path: str, default_type: str) -> str:
        n = pid(path)
        if n not in nodes:
            attrs: dict[str, Any] = {"type": default_type, "path": path}
            if _is_external(path):
                attrs["external"] = True
            elif path in artifact_of:
                attrs["artifact"] = artifact_of[path]
                if path in models:
                    attrs["type"] = "model"
            nodes[n] = attrs
            if not _is_external(path):
                for o in index.overlapping(path):
                    if o != path:
                        edges.append((pid(o), n, {"kind": "overlap"}))
        return n

    def dep_type(path: str) -> str:
        suffix = posixpath.splitext(path)[1].lower()
        if suffix in CODE_SUFFIXES or posixpath.basename(path) in CODE_DIRS:
            return "code"
        return "data"

    param_values: dict[str, Any] = {}

    def param_node(file: str, key: str | None, interpolated: bool) -> str:
        fnode = path_node(file, "params")
        if key is None:
            return fnode
        n = f"{file}:{key}"
        if n not in nodes:
            attrs: dict[str, Any] = {"type": "params", "file": file, "key": key}
            data = parser.load_params_file(file) if file not in param_values else param_values[file]
            param_values[file] = data
            if data is not _MISSING:
                v = _dig(data, key.split("."))
                if v is not _MISSING:
                    attrs["value"] = v
            nodes[n] = attrs
        if not interpolated and not nodes[n].get("_linked"):
            nodes[n]["_linked"] = True
            edges.append((fnode, n, {"kind": "param"}))
        return n

    for st in col.stages:
        sid = st.id
        for path, tmpl in st.deps:
            if st.repo_import:
                n = pid(path)
                nodes.setdefault(n, {"type": "data", "path": path, "external": True})
            else:
                n = path_node(path, dep_type(path))
            edges.append((n, sid, {"kind": "dep"}))
            if tmpl is not None and st.group:
                templates[(sid, n)] = tmpl
        declared = set()
        for file, key in st.params:
            n = param_node(file, key, False)
            declared.add(n)
            edges.append((n, sid, {"kind": "params"}))
        for file, key in sorted(st.interp_params):
            n = f"{file}:{key}"
            if n in declared or file in declared:
                continue
            n = param_node(file, key, True)
            edges.append((n, sid, {"kind": "params", "interpolated": True}))
        for path, _kind, _flags, tmpl in st.outs:
            n = pid(path)
            edges.append((sid, n, {"kind": "out"}))
            if tmpl is not None and st.group:
                templates[(sid, n)] = tmpl

    for kind, path, _f in col.top_level:
        n = pid(path)
        if n in nodes:
            nodes[n]["top_level"] = True
            if kind != "params" and nodes[n]["type"] == "data" and "stage" not in nodes[n]:
                nodes[n]["type"] = kind
        else:
            n = path_node(path, kind)
            nodes[n]["top_level"] = True
    for path in models:
        if pid(path) not in nodes:
            path_node(path, "model")
        nodes[pid(path)]["type"] = "model"

    for attrs in nodes.values():
        attrs.pop("_linked", None)

    _check_acyclic(nodes, edges)
    g = nx.DiGraph()
    g.add_nodes_from(nodes.items())
    g.add_edges_from(edges)
    return Lineage(g, root, templates)


class _OutIndex:
    """Outputs by path, with DVC's trie queries: prefixes of a path and paths under it."""

    def __init__(self, outs: dict[str, Any]) -> None:
        self.by_path = outs
        self.sorted = sorted(outs)

    def prefixes(self, path: str) -> list[str]:
        """Outputs equal to ``path`` or containing it."""
        found = []
        if path in self.by_path:
            found.append(path)
        p = path
        while True:
            p = posixpath.dirname(p)
            if not p or p == "/":
                break
            if p in self.by_path:
                found.append(p)
        if path not in (".", "") and "." in self.by_path:
            found.append(".")
        return found

    def under(self, path: str) -> list[str]:
        """Outputs strictly inside ``path``."""
        if path in (".", ""):
            return [p for p in self.sorted if p != "." and not p.startswith("../")
                    and not p.startswith("/")]
        lo = bisect_left(self.sorted, path + "/")
        hi = bisect_left(self.sorted, path + "0")  # '0' sorts right after '/'
        return self.sorted[lo:hi]

    def overlapping(self, path: str) -> list[str]:
        return self.prefixes(path) + self.under(path)


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

    rest = nx.DiGraph((u, v) for u, v, d in edges
                      if not d.get("interpolated") and indeg[u] > 0 and indeg[v] > 0)
    cycle = nx.find_cycle(rest)
    stages = [u for u, _v in cycle if nodes[u]["type"] == "stage"]
    if not stages:  # pragma: no cover - every cycle passes through a stage
        stages = [u for u, _v in cycle]
    raise ConfigError(
        "the pipeline has a cycle: " + " -> ".join(f"'{s}'" for s in [*stages, stages[0]])
    )
