"""dvc.yaml and .dvc parsing: every stage of a repo as a :class:`_Stage` record.

Mirrors DVC's ``dvc/parsing`` without importing DVC: YAML 1.2 typing, ``vars`` files,
``foreach``, ``matrix`` and ``wdir``; the ``${}`` values come from
:mod:`mvtools.lineage.interpolation`.
"""

from __future__ import annotations

import posixpath
from itertools import product
from pathlib import Path
from typing import Any, Callable, Iterable

from mvtools.errors import ConfigError
from mvtools.lineage.interpolation import (
    _Ctx, _is_composite, _key_str, _Resolver, _to_str, _VarsFiles,
)
from mvtools.lineage.records import DEFAULT_PARAMS, TOP_KEYS, _OUT_FLAGS, _Collected, _Stage
from mvtools.lineage.stage import _resolve_stage
from mvtools.lineage.util import _MISSING, _norm, _norm_dep
from mvtools.yamlio import load_yaml


class _Parser:
    """Reads the dvc.yaml and .dvc files of one repo into stage records."""

    def __init__(self, root: Path | None = None,
                 read: Callable[[str], bytes | None] | None = None) -> None:
        self.root = root
        self.files = _VarsFiles(root, read)

    def _load(self, rel: str) -> Any:
        data = self.files.read(rel)
        if data is None:
            raise ConfigError(f"{rel}: no such file")
        return load_yaml(data, rel)

    # ---- files

    def parse_dvcyaml(self, rel: str, out: _Collected) -> None:
        data = self._load(rel)
        if data is None:
            return
        if not isinstance(data, dict):
            raise ConfigError(f"{rel}: expected a mapping at the top level")
        unknown = [k for k in data if k not in TOP_KEYS]
        if unknown:
            raise ConfigError(f"{rel}: unknown top-level key '{unknown[0]}'")
        base = posixpath.dirname(rel)
        prefix = "" if rel == "dvc.yaml" else f"{rel}:"
        ctx = self._file_context(rel, base, data)

        stages = data.get("stages") or {}
        if not isinstance(stages, dict):
            raise ConfigError(f"{rel}: 'stages' must be a mapping")
        for name, definition in stages.items():
            name = str(name)
            if not isinstance(definition, dict):
                raise ConfigError(f"{rel}: stage '{name}' must be a mapping")
            self._expand(rel, base, prefix, name, definition, ctx, out)

        res = _Resolver(ctx, rel, None)
        _top_level_entries(res, rel, base, data, out)
        _artifacts(res, rel, base, data, out)

    def _file_context(self, rel: str, base: str, data: dict) -> _Ctx:
        """The variables every stage of the file sees: params.yaml beside it, then `vars`."""
        ctx = _Ctx()
        default = _norm(base, DEFAULT_PARAMS)
        if self.files.load_params_file(default) is not _MISSING:
            self.files.merge_file(ctx, default, None, DEFAULT_PARAMS, f"{rel}: vars")
        vars_ = data.get("vars") or []
        if not isinstance(vars_, list):
            raise ConfigError(f"{rel}: 'vars' must be a list")
        for i, item in enumerate(vars_):
            self.files.merge_vars_item(ctx, item, base, f"{rel}: vars", i, None)
        return ctx

    def _expand(self, rel: str, base: str, prefix: str, name: str, definition: dict,
                ctx: _Ctx, out: _Collected) -> None:
        where = f"{rel}: stage '{name}'"
        if "matrix" in definition:
            if "foreach" in definition or "do" in definition:
                raise ConfigError(f"{where}: 'matrix' cannot be combined with 'foreach'/'do'")
            template = {k: v for k, v in definition.items() if k != "matrix"}
            res = _Resolver(ctx, rel, name)
            res.where = "matrix"
            dims = _matrix_dims(res, definition["matrix"], where)
            shared = res.used
            members = _matrix_members(dims)
            self._members(rel, base, prefix, name, template, ctx, members, shared, out)
        elif "foreach" in definition or "do" in definition:
            if "foreach" not in definition or "do" not in definition:
                raise ConfigError(f"{where}: 'foreach' needs 'do' and 'do' needs 'foreach'")
            extra = set(definition) - {"foreach", "do"}
            if extra:
                raise ConfigError(f"{where}: unknown key '{sorted(extra)[0]}' beside 'foreach'")
            template = definition["do"]
            if not isinstance(template, dict):
                raise ConfigError(f"{where}: 'do' must be a mapping")
            res = _Resolver(ctx, rel, name)
            res.where = "foreach"
            raw = definition["foreach"]
            members = _foreach_members(raw, res.resolve(raw, None), where)
            self._members(rel, base, prefix, name, template, ctx, members, res.used, out)
        else:
            out.stages.append(_resolve_stage(self.files, rel, base, prefix, name, None,
                                             definition, ctx, None, (), False))

    def _members(self, rel: str, base: str, prefix: str, group: str, template: dict,
                 ctx: _Ctx, members: list, shared: Iterable[str], out: _Collected) -> None:
        seen: set[str] = set()
        shared = tuple(shared)
        for key, local in members:
            sname = f"{group}@{key}"
            if sname in seen:
                continue  # DVC keeps one stage per generated name
            seen.add(sname)
            out.stages.append(_resolve_stage(self.files, rel, base, prefix, sname, group,
                                             template, ctx, local, shared, True))

    def parse_dvcfile(self, rel: str, out: _Collected) -> None:
        data = self._load(rel)
        if not isinstance(data, dict):
            raise ConfigError(f"{rel}: expected a mapping")
        base = posixpath.dirname(rel)
        wdir = _norm(base, str(data["wdir"])) if data.get("wdir") else base
        st = _Stage(id=rel, file=rel, name=None, group=None, wdir=wdir, cmd=data.get("cmd"),
                    frozen=bool(data.get("frozen", False)),
                    always_changed=bool(data.get("always_changed", False)),
                    desc=data.get("desc"))
        for dep in data.get("deps") or []:
            if not isinstance(dep, dict) or not isinstance(dep.get("path"), str):
                raise ConfigError(f"{rel}: deps entries need a 'path'")
            repo = dep.get("repo")
            if isinstance(repo, dict):
                st.repo_import = True
                url = repo.get("url", "")
                rev = repo.get("rev")
                ident = f"{url}@{rev}:{dep['path']}" if rev else f"{url}:{dep['path']}"
                st.deps.append((ident, None))
            else:
                st.deps.append((_norm_dep(wdir, dep["path"]), None))
        for o in data.get("outs") or []:
            if not isinstance(o, dict) or not isinstance(o.get("path"), str):
                raise ConfigError(f"{rel}: outs entries need a 'path'")
            flags = {k: v for k, v in o.items() if k in _OUT_FLAGS}
            st.outs.append((_norm(wdir, o["path"]), "outs", flags, None))
        out.stages.append(st)


def _matrix_dims(res: _Resolver, raw: Any, where: str) -> dict[str, list[tuple[Any, bool]]]:
    """Each matrix dimension's resolved values, each with whether it came from the context."""
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: 'matrix' must be a mapping")
    dims: dict[str, list[tuple[Any, bool]]] = {}
    for dim, values in raw.items():
        from_ctx = isinstance(values, str)
        values = res.resolve(values, None)
        if isinstance(values, dict):
            values = list(values)  # DVC iterates a mapping's keys
        if not isinstance(values, list):
            raise ConfigError(
                f"{where}: matrix '{dim}' must be a list, got {type(values).__name__}"
            )
        raw_list = raw[dim] if isinstance(raw[dim], list) else None
        dims[str(dim)] = [
            (v, from_ctx or (raw_list is not None and isinstance(raw_list[i], str)
                             and "${" in raw_list[i]))
            for i, v in enumerate(values)
        ]
    return dims


def _matrix_members(dims: dict[str, list[tuple[Any, bool]]]) -> list[tuple[str, dict]]:
    """DVC's member names and local variables (``item``, ``key``) of a matrix."""
    members = []
    for combo in product(*(list(enumerate(v)) for v in dims.values())):
        item: dict[str, Any] = {}
        frags = []
        for dim, (i, (v, from_ctx)) in zip(dims, combo):
            item[dim] = v
            frags.append(f"{dim}{i}" if _is_composite(v) else _key_str(v, from_ctx))
        key = "-".join(frags)
        members.append((key, {"item": item, "key": key}))
    return members


def _foreach_members(raw: Any, data: Any, where: str) -> list[tuple[str, dict]]:
    """DVC's member names and local variables of a foreach over ``data`` (``raw`` resolved)."""
    members = []
    if isinstance(data, dict):
        for k, v in data.items():
            members.append((_to_str(k), {"item": v, "key": _to_str(k)}))
    elif isinstance(data, list):
        if any(_is_composite(v) for v in data):
            members = [(str(i), {"item": v}) for i, v in enumerate(data)]
        else:
            for i, v in enumerate(data):
                from_ctx = isinstance(raw, str) or (
                    isinstance(raw, list) and isinstance(raw[i], str) and "${" in raw[i])
                members.append((_key_str(v, from_ctx), {"item": v}))
    else:
        raise ConfigError(
            f"{where}: failed to resolve 'foreach': expected list/dictionary, "
            f"got {type(data).__name__}"
        )
    return members


def _top_level_entries(res: _Resolver, rel: str, base: str, data: dict,
                       out: _Collected) -> None:
    """The file's top-level params, metrics and plots."""
    for kind in ("params", "metrics", "plots"):
        entries = data.get(kind) or []
        if not isinstance(entries, list):
            raise ConfigError(f"{rel}: top-level '{kind}' must be a list")
        for i, entry in enumerate(entries):
            res.where = f"{kind}.{i}"
            entry = res.resolve(entry, None)
            for path in _top_level_files(entry, kind):
                out.top_level.append((kind, _norm(base, path), rel))


def _artifacts(res: _Resolver, rel: str, base: str, data: dict, out: _Collected) -> None:
    artifacts = data.get("artifacts") or {}
    if not isinstance(artifacts, dict):
        raise ConfigError(f"{rel}: 'artifacts' must be a mapping")
    for name, spec in artifacts.items():
        res.where = f"artifacts.{name}"
        aname = res.resolve(str(name), None)
        spec = res.resolve(spec, None)
        if not isinstance(spec, dict) or not isinstance(spec.get("path"), str):
            raise ConfigError(f"{rel}: artifacts.{name}: needs a 'path' string")
        full = aname if rel == "dvc.yaml" else f"{base}:{aname}"
        out.artifacts.append((full, _norm(base, spec["path"]), spec.get("type"), rel))
        out.artifact_specs[full] = spec


def _top_level_files(entry: Any, kind: str) -> list[str]:
    if isinstance(entry, str):
        return [entry]
    files: list[str] = []
    if kind == "plots" and isinstance(entry, dict):
        for pid, props in entry.items():
            named: list[str] = []
            if isinstance(props, dict):
                for axis in ("x", "y"):
                    if isinstance(props.get(axis), dict):
                        named.extend(str(f) for f in props[axis])
            files.extend(dict.fromkeys(named or [str(pid)]))
    return files
