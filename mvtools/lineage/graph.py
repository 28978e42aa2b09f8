"""Nodes and edges of the lineage graph: parsed stages to typed nodes (stage, data, code,
params, model, metrics, plots) and edges that run with the data, with DVC's edge rule (a
dependency that equals, lies inside or contains an output) through a path index."""

from __future__ import annotations

import posixpath
from bisect import bisect_left
from typing import Any

from mvtools.lineage.interpolation import _VarsFiles
from mvtools.lineage.records import _OUT_FLAGS, _Stage
from mvtools.lineage.util import _MISSING, _dig, _is_external

CODE_SUFFIXES = frozenset(
    ".py .pyx .ipynb .sh .bash .zsh .ps1 .r .jl .js .ts .scala .java .kt .go .rs .c .cc"
    " .cpp .h .hpp .m .sql .jsonnet .libsonnet .rb .pl .lua .rmd .qmd .awk .mk .nf"
    .split()
)

CODE_DIRS = frozenset({"src", "scripts", "code", "lib", "bin", "notebooks"})


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


class _GraphBuilder:
    """Typed nodes and edges of the parsed stages, in the order the graph keeps them."""

    def __init__(self, files: _VarsFiles, stages: list[_Stage],
                 outs: dict[str, tuple[_Stage, str, dict]], index: _OutIndex,
                 models: dict[str, list[str]], artifact_of: dict[str, str]) -> None:
        self.files = files
        self.stages = stages
        self.outs = outs
        self.index = index
        self.models = models
        self.artifact_of = artifact_of
        self.stage_ids = {st.id for st in stages}
        self.nodes: dict[str, dict[str, Any]] = {}
        self.edges: list[tuple[str, str, dict[str, Any]]] = []
        self.templates: dict[tuple[str, str], str] = {}
        self.param_values: dict[str, Any] = {}

    def build(self, top_level: list[tuple[str, str, str]]) -> tuple[
            dict[str, dict[str, Any]], list[tuple[str, str, dict[str, Any]]],
            dict[tuple[str, str], str]]:
        """Nodes (id -> attributes), edges and the templated paths of expanded stages."""
        for st in self.stages:
            self.nodes[st.id] = _stage_attrs(st)
        self._add_outputs()
        for st in self.stages:
            self._add_deps(st)
            self._add_params(st)
            self._add_outs(st)
        self._mark_top_level(top_level)
        self._mark_models()
        for attrs in self.nodes.values():
            attrs.pop("_linked", None)
        return self.nodes, self.edges, self.templates

    def pid(self, path: str) -> str:
        """A path's node id (``./`` in front when a stage has the same id)."""
        return f"./{path}" if path in self.stage_ids else path

    def _add_outputs(self) -> None:
        for path, (st, kind, flags) in self.outs.items():
            n = self.pid(path)
            typ = "model" if path in self.models else ("data" if kind == "outs" else kind)
            attrs = {"type": typ, "path": path, "stage": st.id}
            if kind != "outs":
                attrs["kind"] = kind
            for k, v in flags.items():
                if k in _OUT_FLAGS:
                    attrs[k] = v
            if path in self.artifact_of:
                attrs["artifact"] = self.artifact_of[path]
            self.nodes[n] = attrs

    def path_node(self, path: str, default_type: str) -> str:
        """The node of a path, added (with edges from the outputs it overlaps) if new."""
        nodes = self.nodes
        n = self.pid(path)
        if n not in nodes:
            attrs: dict[str, Any] = {"type": default_type, "path": path}
            if _is_external(path):
                attrs["external"] = True
            elif path in self.artifact_of:
                attrs["artifact"] = self.artifact_of[path]
                if path in self.models:
                    attrs["type"] = "model"
            nodes[n] = attrs
            if not _is_external(path):
                for o in self.index.overlapping(path):
                    if o != path:
                        self.edges.append((self.pid(o), n, {"kind": "overlap"}))
        return n

    def param_node(self, file: str, key: str | None, interpolated: bool) -> str:
        """The node of a params file or key; a declared key gets its edge from the file."""
        nodes = self.nodes
        fnode = self.path_node(file, "params")
        if key is None:
            return fnode
        n = f"{file}:{key}"
        if n not in nodes:
            attrs: dict[str, Any] = {"type": "params", "file": file, "key": key}
            param_values = self.param_values
            data = (self.files.load_params_file(file) if file not in param_values
                    else param_values[file])
            param_values[file] = data
            if data is not _MISSING:
                v = _dig(data, key.split("."))
                if v is not _MISSING:
                    attrs["value"] = v
            nodes[n] = attrs
        if not interpolated and not nodes[n].get("_linked"):
            nodes[n]["_linked"] = True
            self.edges.append((fnode, n, {"kind": "param"}))
        return n

    def _add_deps(self, st: _Stage) -> None:
        sid = st.id
        for path, tmpl in st.deps:
            if st.repo_import:
                n = self.pid(path)
                self.nodes.setdefault(n, {"type": "data", "path": path, "external": True})
            else:
                n = self.path_node(path, _dep_type(path))
            self.edges.append((n, sid, {"kind": "dep"}))
            if tmpl is not None and st.group:
                self.templates[(sid, n)] = tmpl

    def _add_params(self, st: _Stage) -> None:
        sid = st.id
        declared = set()
        for file, key in st.params:
            n = self.param_node(file, key, False)
            declared.add(n)
            self.edges.append((n, sid, {"kind": "params"}))
        for file, key in sorted(st.interp_params):
            n = f"{file}:{key}"
            if n in declared or file in declared:
                continue
            n = self.param_node(file, key, True)
            self.edges.append((n, sid, {"kind": "params", "interpolated": True}))

    def _add_outs(self, st: _Stage) -> None:
        sid = st.id
        for path, _kind, _flags, tmpl in st.outs:
            n = self.pid(path)
            self.edges.append((sid, n, {"kind": "out"}))
            if tmpl is not None and st.group:
                self.templates[(sid, n)] = tmpl

    def _mark_top_level(self, top_level: list[tuple[str, str, str]]) -> None:
        nodes = self.nodes
        for kind, path, _f in top_level:
            n = self.pid(path)
            if n in nodes:
                nodes[n]["top_level"] = True
                if kind != "params" and nodes[n]["type"] == "data" and "stage" not in nodes[n]:
                    nodes[n]["type"] = kind
            else:
                n = self.path_node(path, kind)
                nodes[n]["top_level"] = True

    def _mark_models(self) -> None:
        """Each model path a ``model`` node carrying the registry's names for it."""
        for path, names in self.models.items():
            if self.pid(path) not in self.nodes:
                self.path_node(path, "model")
            attrs = self.nodes[self.pid(path)]
            attrs["type"] = "model"
            attrs["names"] = list(names)


def _stage_attrs(st: _Stage) -> dict[str, Any]:
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
    return attrs


def _dep_type(path: str) -> str:
    suffix = posixpath.splitext(path)[1].lower()
    if suffix in CODE_SUFFIXES or posixpath.basename(path) in CODE_DIRS:
        return "code"
    return "data"
