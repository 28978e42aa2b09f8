"""dvc.yaml and .dvc parsing: every stage of a repo as a :class:`_Stage` record.

Mirrors DVC's ``dvc/parsing`` without importing DVC: YAML 1.2 typing, ``vars`` files,
``foreach``, ``matrix`` and ``wdir``; the ``${}`` values come from
:mod:`mvtools.lineage.interpolation`.
"""

from __future__ import annotations

import json
import posixpath
from itertools import product
from pathlib import Path
from typing import Any, Iterable

from mvtools.errors import ConfigError
from mvtools.lineage.interpolation import (
    _Ctx, _has_interp, _is_composite, _key_str, _Resolver, _sources, _to_str,
)
from mvtools.lineage.records import _OUT_FLAGS, _Collected, _Stage
from mvtools.lineage.util import _MISSING, _norm, _norm_dep, _outside
from mvtools.yamlio import read_yaml



STAGE_KEYS = frozenset(
    {"cmd", "wdir", "deps", "params", "outs", "metrics", "plots", "vars", "frozen",
     "meta", "desc", "always_changed", "foreach", "do", "matrix"}
)

TOP_KEYS = frozenset({"stages", "vars", "params", "metrics", "plots", "artifacts", "datasets"})

DEFAULT_PARAMS = "params.yaml"


class _Parser:
    """Reads the dvc.yaml and .dvc files of one repo into stage records."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._files: dict[str, Any] = {}

    # ---- params / vars files

    def load_params_file(self, rel: str) -> Any:
        """A params or vars file by repo-relative path (cached); _MISSING if absent."""
        if rel in self._files:
            return self._files[rel]
        if _outside(rel):  # never read files outside the repository
            return _MISSING
        path = self.root / rel
        if not path.is_file():
            self._files[rel] = _MISSING
            return _MISSING
        suffix = path.suffix.lower()
        if suffix == ".json":
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
            except (ValueError, OSError) as exc:
                raise ConfigError(f"{rel}: unreadable JSON: {exc}") from None
        elif suffix == ".toml":
            try:
                import tomllib  # type: ignore[import-not-found]
            except ImportError:  # pragma: no cover - Python < 3.11
                import tomli as tomllib  # type: ignore[no-redef]
            try:
                data = tomllib.loads(path.read_text(encoding="utf-8"))
            except (ValueError, OSError) as exc:
                raise ConfigError(f"{rel}: unreadable TOML: {exc}") from None
        elif suffix == ".py":
            raise ConfigError(f"{rel}: Python params files are not supported by mvtools lineage")
        else:
            data = read_yaml(path, rel)
        self._files[rel] = data
        return data

    def merge_vars_item(self, ctx: _Ctx, item: Any, base: str, where: str,
                        index: int, stage: str | None) -> None:
        if isinstance(item, dict):
            if _has_interp(item):
                raise ConfigError(f"{where}: interpolating is not allowed in 'vars'")
            label = f"{stage + '.' if stage else ''}vars[{index}]"
            ctx.merge(item, None, label)
            return
        if not isinstance(item, str):
            raise ConfigError(f"{where}: 'vars' entries must be file names or mappings")
        if "${" in item:
            raise ConfigError(f"{where}: interpolating is not allowed in 'vars'")
        fname, _, keys_str = item.partition(":")
        rel = _norm(base, fname)
        keys = [k for k in keys_str.split(",") if k] or None
        self._merge_file(ctx, rel, keys, item, where)

    def _merge_file(self, ctx: _Ctx, rel: str, keys: list[str] | None, item: str,
                    where: str) -> None:
        if rel in ctx.imports:
            imported = ctx.imports[rel]
            if not keys and imported is None:
                return  # a whole file may be named several times
            if (not keys and isinstance(imported, list)) or (
                keys and isinstance(imported, list) and set(keys) & set(imported)
            ):
                raise ConfigError(f"{where}: cannot load '{item}' as it's partially loaded already")
            if keys and imported is None:
                raise ConfigError(f"{where}: cannot partially load '{item}' as it's already loaded")
        if _outside(rel):
            raise ConfigError(f"{where}: vars file '{rel}' is outside the repository")
        data = self.load_params_file(rel)
        if data is _MISSING:
            raise ConfigError(f"{where}: vars file '{rel}' does not exist")
        if not isinstance(data, dict):
            raise ConfigError(f"{where}: expected a dictionary in vars file '{rel}'")
        if keys:
            missing = [k for k in keys if k not in data]
            if missing:
                raise ConfigError(f"{where}: could not find '{missing[0]}' in '{rel}'")
            data = {k: data[k] for k in keys}
        try:
            ctx.merge(data, rel, rel)
        except ConfigError as exc:
            raise ConfigError(f"{where}: {exc}") from None
        if rel not in ctx.imports:
            ctx.imports[rel] = list(keys) if keys else None
        elif keys:
            prev = ctx.imports[rel]
            if isinstance(prev, list):
                prev.extend(keys)

    # ---- files

    def parse_dvcyaml(self, rel: str, out: _Collected) -> None:
        data = read_yaml(self.root / rel, rel)
        if data is None:
            return
        if not isinstance(data, dict):
            raise ConfigError(f"{rel}: expected a mapping at the top level")
        unknown = [k for k in data if k not in TOP_KEYS]
        if unknown:
            raise ConfigError(f"{rel}: unknown top-level key '{unknown[0]}'")
        base = posixpath.dirname(rel)
        prefix = "" if rel == "dvc.yaml" else f"{rel}:"
        ctx = _Ctx()
        default = _norm(base, DEFAULT_PARAMS)
        if self.load_params_file(default) is not _MISSING:
            self._merge_file(ctx, default, None, DEFAULT_PARAMS, f"{rel}: vars")
        vars_ = data.get("vars") or []
        if not isinstance(vars_, list):
            raise ConfigError(f"{rel}: 'vars' must be a list")
        for i, item in enumerate(vars_):
            self.merge_vars_item(ctx, item, base, f"{rel}: vars", i, None)

        stages = data.get("stages") or {}
        if not isinstance(stages, dict):
            raise ConfigError(f"{rel}: 'stages' must be a mapping")
        for name, definition in stages.items():
            name = str(name)
            if not isinstance(definition, dict):
                raise ConfigError(f"{rel}: stage '{name}' must be a mapping")
            self._expand(rel, base, prefix, name, definition, ctx, out)

        res = _Resolver(ctx, rel, None)
        for kind in ("params", "metrics", "plots"):
            entries = data.get(kind) or []
            if not isinstance(entries, list):
                raise ConfigError(f"{rel}: top-level '{kind}' must be a list")
            for i, entry in enumerate(entries):
                res.where = f"{kind}.{i}"
                entry = res.resolve(entry, None)
                for path in _top_level_files(entry, kind):
                    out.top_level.append((kind, _norm(base, path), rel))
        artifacts = data.get("artifacts") or {}
        if not isinstance(artifacts, dict):
            raise ConfigError(f"{rel}: 'artifacts' must be a mapping")
        for name, spec in artifacts.items():
            res.where = f"artifacts.{name}"
            aname = res.resolve(str(name), None)
            spec = res.resolve(spec, None)
            if not isinstance(spec, dict) or not isinstance(spec.get("path"), str):
                raise ConfigError(f"{rel}: artifact '{name}' needs a 'path'")
            full = aname if rel == "dvc.yaml" else f"{base}:{aname}"
            out.artifacts.append((full, _norm(base, spec["path"]), spec.get("type"), rel))

    def _expand(self, rel: str, base: str, prefix: str, name: str, definition: dict,
                ctx: _Ctx, out: _Collected) -> None:
        where = f"{rel}: stage '{name}'"
        if "matrix" in definition:
            if "foreach" in definition or "do" in definition:
                raise ConfigError(f"{where}: 'matrix' cannot be combined with 'foreach'/'do'")
            template = {k: v for k, v in definition.items() if k != "matrix"}
            res = _Resolver(ctx, rel, name)
            res.where = "matrix"
            raw = definition["matrix"]
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
            shared = res.used
            members = []
            for combo in product(*(list(enumerate(v)) for v in dims.values())):
                item: dict[str, Any] = {}
                frags = []
                for dim, (i, (v, from_ctx)) in zip(dims, combo):
                    item[dim] = v
                    frags.append(f"{dim}{i}" if _is_composite(v) else _key_str(v, from_ctx))
                key = "-".join(frags)
                members.append((key, {"item": item, "key": key}))
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
            data = res.resolve(raw, None)
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
            self._members(rel, base, prefix, name, template, ctx, members, res.used, out)
        else:
            out.stages.append(self._stage(rel, base, prefix, name, None, definition, ctx,
                                          None, (), False))

    def _members(self, rel: str, base: str, prefix: str, group: str, template: dict,
                 ctx: _Ctx, members: list, shared: Iterable[str], out: _Collected) -> None:
        seen: set[str] = set()
        shared = tuple(shared)
        for key, local in members:
            sname = f"{group}@{key}"
            if sname in seen:
                continue  # DVC keeps one stage per generated name
            seen.add(sname)
            out.stages.append(self._stage(rel, base, prefix, sname, group, template, ctx,
                                          local, shared, True))

    def _stage(self, rel: str, base: str, prefix: str, name: str, group: str | None,
               definition: dict, ctx: _Ctx, local: dict | None, shared: Iterable[str],
               templated: bool) -> _Stage:
        where = f"{rel}: stage '{name}'"
        unknown = [k for k in definition if k not in STAGE_KEYS or k in ("foreach", "do", "matrix")]
        if unknown:
            raise ConfigError(f"{where}: unknown key '{unknown[0]}'")
        if "cmd" not in definition:
            raise ConfigError(f"{where}: missing 'cmd'")
        for key in ("frozen", "always_changed"):
            if key in definition and not isinstance(definition[key], bool):
                raise ConfigError(f"{where}: '{key}' must be true or false")
        res = _Resolver(ctx, rel, name, local)
        raw_wdir = definition.get("wdir")
        wdir = base
        if raw_wdir:
            res.where = "wdir"
            wdir = _norm(base, _to_str(res.resolve_str(str(raw_wdir), None)))
        stage_vars = definition.get("vars") or []
        if stage_vars:
            if not isinstance(stage_vars, list):
                raise ConfigError(f"{where}: 'vars' must be a list")
            before = {k: len(v) for k, v in ctx.origin.items()}
            ctx = ctx.clone()
            for i, item in enumerate(stage_vars):
                self.merge_vars_item(ctx, item, wdir, f"{where}: vars", i, name)
            grown = [k for k in (local or ()) if len(ctx.origin.get(k, ())) > before.get(k, 0)]
            if grown:
                raise ConfigError(f"{where}: attempted to modify reserved key '{grown[0]}'")
            res = _Resolver(ctx, rel, name, local)
        resolved: dict[str, Any] = {}
        for key, value in definition.items():
            if key == "vars":
                continue
            res.where = key
            resolved[key] = res.resolve(value, key)

        st = _Stage(
            id=f"{prefix}{name}", file=rel, name=name, group=(f"{prefix}{group}" if group else None),
            wdir=wdir, cmd=resolved.get("cmd"), frozen=bool(resolved.get("frozen", False)),
            always_changed=bool(resolved.get("always_changed", False)), desc=resolved.get("desc"),
            meta=resolved.get("meta"),
        )
        tmpl_wdir = _norm(base, str(raw_wdir)) if (templated and raw_wdir) else wdir

        def tmpl(raw: Any, path: str) -> str | None:
            if templated and isinstance(raw, str) and "${" in raw:
                return _norm(tmpl_wdir, raw)
            return None

        deps = resolved.get("deps") or []
        if not isinstance(deps, list):
            raise ConfigError(f"{where}: 'deps' must be a list")
        raw_deps = definition.get("deps") or []
        for i, dep in enumerate(deps):
            if not isinstance(dep, str):
                raise ConfigError(f"{where}: deps entries must be strings")
            raw = raw_deps[i] if isinstance(raw_deps, list) and i < len(raw_deps) else None
            st.deps.append((_norm_dep(wdir, dep), tmpl(raw, dep)))
        _stage_params(st, resolved.get("params") or [], wdir, where)
        for kind in ("outs", "metrics", "plots"):
            entries = resolved.get(kind) or []
            if not isinstance(entries, list):
                raise ConfigError(f"{where}: '{kind}' must be a list")
            raw_entries = definition.get(kind) or []
            for i, entry in enumerate(entries):
                raw = raw_entries[i] if isinstance(raw_entries, list) and i < len(raw_entries) else None
                if isinstance(entry, str):
                    path, flags = entry, {}
                    raw_path = raw if isinstance(raw, str) else None
                elif isinstance(entry, dict) and len(entry) == 1:
                    path, flags = next(iter(entry.items()))
                    flags = flags if isinstance(flags, dict) else {}
                    raw_path = next(iter(raw)) if isinstance(raw, dict) and raw else None
                    if not isinstance(path, str):
                        raise ConfigError(f"{where}: bad '{kind}' entry {entry!r}")
                else:
                    raise ConfigError(f"{where}: bad '{kind}' entry {entry!r}")
                st.outs.append((_norm(wdir, path), kind, flags, tmpl(raw_path, path)))
        # params read through `${}` (DVC tracks them only for `dvc params diff`)
        used = set(res.used)
        used.update(shared)
        for expr in used:
            for file in _sources(ctx, expr):
                st.interp_params.add((file, expr))
        return st

    def parse_dvcfile(self, rel: str, out: _Collected) -> None:
        data = read_yaml(self.root / rel, rel)
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


def _stage_params(st: _Stage, params: Any, wdir: str, where: str) -> None:
    if not isinstance(params, list):
        raise ConfigError(f"{where}: 'params' must be a list")
    default = _norm(wdir, DEFAULT_PARAMS)
    whole: set[str] = set()
    keys: dict[str, list[str]] = {}
    for entry in params:
        if isinstance(entry, str):
            keys.setdefault(default, []).append(entry)
        elif isinstance(entry, dict):
            for fname, sel in entry.items():
                path = _norm(wdir, str(fname))
                if not sel:
                    whole.add(path)
                elif isinstance(sel, list):
                    keys.setdefault(path, []).extend(str(k) for k in sel)
                else:
                    raise ConfigError(
                        f"{where}: expected a list of params for '{fname}', "
                        f"got '{type(sel).__name__}'"
                    )
        else:
            raise ConfigError(f"{where}: bad 'params' entry {entry!r}")
    for path in whole:
        st.params.append((path, None))
    for path, ks in keys.items():
        if path in whole:
            continue
        for k in dict.fromkeys(ks):
            st.params.append((path, k))


def _top_level_files(entry: Any, kind: str) -> list[str]:
    if isinstance(entry, str):
        return [entry]
    files: list[str] = []
    if kind == "plots" and isinstance(entry, dict):
        for pid, props in entry.items():
            named = []
            if isinstance(props, dict):
                for axis in ("x", "y"):
                    if isinstance(props.get(axis), dict):
                        named.extend(str(f) for f in props[axis])
            files.extend(dict.fromkeys(named or [str(pid)]))
    return files
