"""The one reader of dvc.yaml: every tool (the hooks' commit path, the metrics reader, the
model declarations, lineage) sees a dvc.yaml's stages, top-level entries and artifacts as
DVC's ``dvc/parsing`` resolves them: YAML 1.2 typing, ``vars`` and params files, ``${}``
interpolation, ``foreach``/``matrix`` (``build@1000``) and ``wdir``, paths repo-relative.

The resolution itself lives in :mod:`mvtools.lineage.parsing` (pure Python and PyYAML; no
DVC, no networkx), fed by a ``read`` callable so the pre-commit hook reads a dvc.yaml and
its vars files from the index, ``verify`` from a commit, the CLI from the work tree.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from mvtools.lineage.interpolation import _worktree_reader
from mvtools.lineage.parsing import _Parser
from mvtools.lineage.records import _Collected
from mvtools.lineage.util import _overlap

Reader = Callable[[str], "bytes | None"]


@dataclass(frozen=True)
class StageDef:
    """One resolved stage: DVC's name in its file (``train``, ``build@1000``), its working
    directory and its paths, all repo-relative POSIX."""

    name: str
    file: str
    wdir: str  # "" for the repository root
    deps: tuple[str, ...] = ()
    outs: tuple[str, ...] = ()  # every output: outs, metrics and plots
    metrics: tuple[str, ...] = ()
    params: tuple[tuple[str, str | None], ...] = ()  # (file, key or None for the whole file)


@dataclass(frozen=True)
class ArtifactDef:
    """One ``artifacts:`` entry, resolved: its full name (``sub:name`` outside the root)."""

    name: str
    path: str
    spec: dict[str, Any]


@dataclass
class DvcYaml:
    """One dvc.yaml as DVC resolves it."""

    rel: str
    stages: dict[str, StageDef] = field(default_factory=dict)
    metrics: list[str] = field(default_factory=list)  # top-level metrics: (DVCLive's layout)
    params: list[str] = field(default_factory=list)
    artifacts: dict[str, ArtifactDef] = field(default_factory=dict)

    def producer(self, path: str) -> StageDef | None:
        """The stage whose outputs hold ``path``."""
        for st in self.stages.values():
            if path in st.outs:
                return st
        return None

    def downstream(self, name: str) -> list[StageDef]:
        """The stages that depend, directly or not, on the outputs of stage ``name`` (DVC's
        edge rule: a dependency equal to, inside or containing an output), in file order."""
        reached = {name}
        frontier = [name]
        while frontier:
            outs = self.stages[frontier.pop()].outs
            for st in self.stages.values():
                if st.name not in reached and any(_overlap(d, o) for d in st.deps for o in outs):
                    reached.add(st.name)
                    frontier.append(st.name)
        return [st for st in self.stages.values() if st.name in reached and st.name != name]

    def upstream(self, name: str) -> list[StageDef]:
        """The stages whose outputs stage ``name`` depends on, directly or not, in file order."""
        reached = {name}
        frontier = [name]
        while frontier:
            deps = self.stages[frontier.pop()].deps
            for st in self.stages.values():
                if st.name not in reached and any(_overlap(d, o) for d in deps for o in st.outs):
                    reached.add(st.name)
                    frontier.append(st.name)
        return [st for st in self.stages.values() if st.name in reached and st.name != name]

    def metrics_of(self, name: str) -> list[str]:
        """A model's metrics files when stage ``name`` produces it: that stage's metrics
        outputs, those of every stage downstream of it, and the file's top-level metrics."""
        files = list(self.stages[name].metrics)
        for st in self.downstream(name):
            files.extend(st.metrics)
        files.extend(self.metrics)
        return list(dict.fromkeys(files))


def _wdir(w: str) -> str:
    return "" if w == "." else w


def read_dvcyaml(rel: str, read: Reader) -> DvcYaml:
    """dvc.yaml ``rel`` resolved; its vars and params files come through ``read`` too. A file
    DVC could not resolve is one :class:`mvtools.errors.ConfigError` line naming file and key."""
    col = _Collected()
    _Parser(None, read).parse_dvcyaml(rel, col)
    doc = DvcYaml(rel)
    for st in col.stages:
        assert st.name is not None
        doc.stages[st.name] = StageDef(
            name=st.name, file=rel, wdir=_wdir(st.wdir), deps=tuple(d for d, _t in st.deps),
            outs=tuple(p for p, _k, _f, _t in st.outs),
            metrics=tuple(p for p, k, _f, _t in st.outs if k == "metrics"),
            params=tuple(st.params))
    for kind, path, _file in col.top_level:
        if kind == "metrics":
            doc.metrics.append(path)
        elif kind == "params":
            doc.params.append(path)
    for name, path, _typ, _file in col.artifacts:
        doc.artifacts[name] = ArtifactDef(name, path, col.artifact_specs.get(name, {}))
    return doc


def read_worktree_dvcyaml(root: Path, rel: str, read_by: list[str] | None = None) -> DvcYaml:
    """dvc.yaml ``rel`` of the work tree under ``root`` (``read_by``: gets every file read)."""
    read = _worktree_reader(root)
    if read_by is None:
        return read_dvcyaml(rel, read)

    def recording(name: str) -> bytes | None:
        data = read(name)
        if data is not None and name not in read_by:
            read_by.append(name)
        return data
    return read_dvcyaml(rel, recording)
