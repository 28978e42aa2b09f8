"""The upstream part of a version's lineage snapshot: every stage upstream of the stage that
produces the model, with the hashes ``dvc.lock`` records for its deps and its param values.

Read from ``dvc.lock`` alone (pure YAML, through the same :class:`~mvtools.artifacts.Source`
the hook reads the model's record from): it runs on the commit path, where DVC's and
networkx's imports cost too much. A stage is upstream when one of its outputs is (or holds,
or lies inside) a dependency of a stage already upstream, as DVC links stages.

Stages are named as ``dvc`` addresses them: ``prepare`` in the top ``dvc.yaml``,
``sub/dvc.yaml:prepare`` in another one. Paths are repo-relative.
"""

from __future__ import annotations

import posixpath
from collections import deque
from typing import Any

from mvtools.artifacts import Record, Source, locked_stages


def _norm(base: str, p: str) -> str:
    joined = posixpath.normpath(posixpath.join(base, p)) if base else posixpath.normpath(p)
    return "" if joined == "." else joined


def stage_id(dvc_yaml: str, name: str) -> str:
    return name if dvc_yaml == "dvc.yaml" else f"{dvc_yaml}:{name}"


def _list(v: Any) -> list[Any]:
    return v if isinstance(v, list) else []


def _locked_stages(src: Source, dvc_yamls: list[str]) -> dict[str, tuple[list[str], dict[str, Any]]]:
    """Every stage dvc.lock records: id -> (its outputs, its snapshot {deps, params})."""
    res: dict[str, tuple[list[str], dict[str, Any]]] = {}
    for dy, _lock, name, st, wd in locked_stages(src, dvc_yamls):
        outs = [_norm(wd, o["path"]) for o in _list(st.get("outs"))
                if isinstance(o, dict) and isinstance(o.get("path"), str)]
        deps = {_norm(wd, d["path"]): (str(d["md5"]) if d.get("md5") is not None else None)
                for d in _list(st.get("deps")) if isinstance(d, dict) and isinstance(d.get("path"), str)}
        lp = st.get("params")
        params = {_norm(wd, f): v for f, v in lp.items()
                  if isinstance(f, str) and isinstance(v, dict)} if isinstance(lp, dict) else {}
        res[stage_id(dy, str(name))] = (outs, {"deps": dict(sorted(deps.items())), "params": params})
    return res


def _parents(path: str) -> list[str]:
    parts = path.split("/")
    return ["/".join(parts[:i]) for i in range(len(parts) - 1, 0, -1)]


def upstream_of(src: Source, rec: Record, dvc_yamls: list[str]) -> dict[str, dict[str, Any]]:
    """The snapshot of every stage upstream of the stage ``rec`` names (itself left out: the
    lineage snapshot holds it already), nearest first. An output feeds a dependency when it
    is the same path or one lies inside the other (a directory output, a file dependency
    inside it); looked up by path and parent directories, so large pipelines stay fast."""
    if rec.kind != "dvclock" or rec.dvc_yaml is None or rec.stage is None:
        return {}
    stages = _locked_stages(src, dvc_yamls)
    at: dict[str, set[str]] = {}  # an output path -> the stages writing it
    under: dict[str, set[str]] = {}  # a directory -> the stages writing something inside it
    for sid, (outs, _snap) in stages.items():
        for o in outs:
            at.setdefault(o, set()).add(sid)
            for d in _parents(o):
                under.setdefault(d, set()).add(sid)
    me = stage_id(rec.dvc_yaml, rec.stage)
    found: dict[str, dict[str, Any]] = {}
    todo, seen = deque(rec.deps), set()
    while todo:
        dep = todo.popleft()
        if dep in seen:
            continue
        seen.add(dep)
        writers = set(under.get(dep, ()))
        for p in (dep, *_parents(dep)):
            writers |= at.get(p, set())
        for sid in sorted(writers):
            if sid != me and sid not in found:
                found[sid] = stages[sid][1]
                todo.extend(found[sid]["deps"])
    return found


def flat_params(params: dict[str, Any]) -> dict[str, Any]:
    """``{file: {key: value}}`` (as dvc.lock nests them) as ``{"file:key.sub": value}``."""
    res: dict[str, Any] = {}

    def walk(prefix: str, v: Any) -> None:
        if isinstance(v, dict) and v:
            for k, sub in v.items():
                walk(f"{prefix}.{k}", sub)
        else:
            res[prefix] = v

    for f, values in params.items():
        for k, v in (values.items() if isinstance(values, dict) else ()):
            walk(f"{f}:{k}", v)
    return res
