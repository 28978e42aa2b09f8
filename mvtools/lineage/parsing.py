"""Lineage: every dvc.yaml of a repo as one typed networkx graph that agrees with DVC.

Nodes are typed (``stage``, ``data``, ``code``, ``params``, ``model``, ``metrics``,
``plots``) and edges run with the data: dependency -> stage -> output. Stage ids are DVC's
addressing (``train``, ``sub/dvc.yaml:train``, ``name@key``, ``data/raw.dvc``); path nodes
are repo-relative POSIX paths; a params key is ``<params file>:<key>``.

The parser mirrors DVC's own (``dvc/parsing``, ``dvc/repo/graph.py``, ``dvc/repo/trie.py``)
without importing DVC: YAML 1.2 typing, ``vars`` and ``${}`` interpolation, ``foreach``,
``matrix``, ``wdir``, and DVC's edge rule (a dependency that equals, lies inside or contains
an output connects the two stages), computed with a path index instead of pairwise checks.
"""

from __future__ import annotations

import gc
import json
import os
import posixpath
import re
import shlex
import shutil
import subprocess
from bisect import bisect_left
from dataclasses import dataclass, field
from itertools import product
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable

from mvtools.errors import ConfigError, NotFound, UsageError
from mvtools.yamlio import read_yaml

if TYPE_CHECKING:  # pragma: no cover
    import networkx as nx

NODE_TYPES = ("stage", "data", "code", "params", "model", "metrics", "plots")
CODE_SUFFIXES = frozenset(
    ".py .pyx .ipynb .sh .bash .zsh .ps1 .r .jl .js .ts .scala .java .kt .go .rs .c .cc"
    " .cpp .h .hpp .m .sql .jsonnet .libsonnet .rb .pl .lua .rmd .qmd .awk .mk .nf"
    .split()
)
CODE_DIRS = frozenset({"src", "scripts", "code", "lib", "bin", "notebooks"})
STAGE_KEYS = frozenset(
    {"cmd", "wdir", "deps", "params", "outs", "metrics", "plots", "vars", "frozen",
     "meta", "desc", "always_changed", "foreach", "do", "matrix"}
)
TOP_KEYS = frozenset({"stages", "vars", "params", "metrics", "plots", "artifacts", "datasets"})
DEFAULT_PARAMS = "params.yaml"

# DVC's interpolation pattern: `${...}`, not preceded by a backslash (the escape).
_KEYCRE = re.compile(r"(?<!\\)\$\{(?P<inner>.*?)\}")
# DVC's expression grammar: word ('.' word | '[' word ']')*, word = chars other than . [ ]
_EXPR = re.compile(r"[^.\[\]]+(?:\.[^.\[\]]+|\[[^.\[\]]+\])*")
_MISSING = object()


class _ResolveError(Exception):
    """An interpolation failure; the caller adds file, stage and key."""


# --------------------------------------------------------------------------- contexts


def _copy_dicts(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _copy_dicts(v) for k, v in value.items() if isinstance(k, str)}
    return value


class _Ctx:
    """The variables a dvc.yaml's stages see: merged `vars`, each key's source files."""

    __slots__ = ("data", "origin", "imports")

    def __init__(self) -> None:
        self.data: dict[str, Any] = {}
        self.origin: dict[str, list[tuple[str | None, Any]]] = {}
        self.imports: dict[str, list[str] | None] = {}

    def clone(self) -> _Ctx:
        new = _Ctx()
        new.data = _copy_dicts(self.data)
        new.origin = {k: list(v) for k, v in self.origin.items()}
        new.imports = {k: (list(v) if v is not None else None) for k, v in self.imports.items()}
        return new

    def merge(self, update: dict[str, Any], source: str | None, label: str) -> None:
        def rec(into: dict[str, Any], upd: dict[str, Any], prefix: str) -> None:
            for key, val in upd.items():
                if not isinstance(key, str):
                    continue  # DVC's context keeps string keys only
                if isinstance(into.get(key), dict) and isinstance(val, dict):
                    rec(into[key], val, f"{prefix}{key}.")
                elif key in into:
                    raise ConfigError(
                        f"cannot redefine '{prefix}{key}' from '{label}' as it already exists"
                    )
                else:
                    into[key] = _copy_dicts(val)

        rec(self.data, update, "")
        for key in update:
            if isinstance(key, str):
                self.origin.setdefault(key, []).append((source, update))


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


_OUT_FLAGS = ("cache", "persist", "push", "remote", "desc", "type", "labels", "meta",
              "checkpoint", "template", "x", "y", "title", "x_label", "y_label", "header")


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


def _sources(ctx: _Ctx, expr: str) -> list[str]:
    parts = expr.split(".")
    found = []
    for source, layer in ctx.origin.get(parts[0], ()):
        if source is not None and _dig(layer, parts) is not _MISSING:
            found.append(source)
    return found


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


def _has_interp(data: Any) -> bool:
    if isinstance(data, str):
        return bool(_KEYCRE.search(data))
    if isinstance(data, dict):
        return any(_has_interp(k) or _has_interp(v) for k, v in data.items())
    if isinstance(data, list):
        return any(_has_interp(v) for v in data)
    return False


def _is_composite(v: Any) -> bool:
    return isinstance(v, (dict, list, tuple))


def _key_str(v: Any, from_ctx: bool) -> str:
    # DVC names members by str() of context values (True -> "True") but by its own
    # to_str for inline values (True -> "true").
    return str(v) if from_ctx else _to_str(v)


def _to_str(obj: Any) -> str:
    if isinstance(obj, bool):
        return "true" if obj else "false"
    if isinstance(obj, dict):
        return _dict_to_args(obj)
    return str(obj)


def _flatten(d: dict, prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for k, v in d.items():
        if isinstance(v, dict) and v:
            flat.update(_flatten(v, f"{prefix}{k}."))
        else:
            flat[f"{prefix}{k}"] = v
    return flat


def _dict_to_args(obj: dict) -> str:
    """DVC's `${dict}` in cmd: --key value flags (store_true booleans, nargs lists)."""
    result = ""
    for k, v in _flatten(obj).items():
        if isinstance(v, bool):
            if v:
                result += f"--{k} "
        elif isinstance(v, str):
            result += f"--{k} {shlex.quote(v)} "
        elif isinstance(v, (list, tuple)):
            for n, i in enumerate(v):
                if isinstance(i, str):
                    i = shlex.quote(i)
                elif isinstance(i, (list, tuple, dict)):
                    raise _ResolveError(f"cannot interpolate nested iterable in '{k}'")
                result += f"{i} " if n > 0 else f"--{k} {i} "
        else:
            result += f"--{k} {v} "
    return result.rstrip()


class _Resolver:
    """Resolves `${}` in one stage's values the way dvc.parsing.Context does."""

    __slots__ = ("ctx", "file", "stage", "local", "where", "used")

    def __init__(self, ctx: _Ctx, file: str, stage: str | None, local: dict | None = None):
        self.ctx = ctx
        self.file = file
        self.stage = stage
        self.local = local
        self.where = ""
        self.used: set[str] = set()

    def fail(self, msg: str) -> ConfigError:
        stage = f" stage '{self.stage}'," if self.stage else ""
        return ConfigError(f"{self.file}:{stage} key '{self.where}': {msg}")

    def resolve(self, value: Any, key: str | None) -> Any:
        if isinstance(value, str):
            return self.resolve_str(value, key) if "${" in value else value
        if isinstance(value, dict):
            return {self.resolve(k, key): self.resolve(v, key) for k, v in value.items()}
        if isinstance(value, list):
            return [self.resolve(v, key) for v in value]
        return value

    def resolve_str(self, src: str, key: str | None) -> Any:
        matches = list(_KEYCRE.finditer(src))
        if len(matches) == 1 and matches[0].group(0) == src:
            value = self.select(matches[0].group("inner"))
            self.validate(value, key)
            return value
        buf, index = "", 0
        for m in matches:
            value = self.select(m.group("inner"))
            self.validate(value, key)
            try:
                buf += src[index:m.start()] + _to_str(value)
            except _ResolveError as exc:
                raise self.fail(str(exc)) from None
            index = m.end()
        buf += src[index:]
        return buf.replace("\\${", "${")

    def validate(self, value: Any, key: str | None) -> None:
        if value is None or isinstance(value, (int, float, str, bytes, bool)):
            return
        if key is not None and "foreach" not in key:
            if isinstance(value, dict) and key == "cmd":
                return
            raise self.fail(f"cannot interpolate data of type '{type(value).__name__}'")

    def select(self, expr: str) -> Any:
        if not _EXPR.fullmatch(expr):
            raise self.fail(f"invalid expression '${{{expr}}}'")
        parts = [p.strip() for p in expr.replace("[", ".").replace("]", "").split(".")]
        first = parts[0]
        if self.local is not None and first in self.local:
            cur = self.local[first]
        elif first in self.ctx.data:
            cur = self.ctx.data[first]
            self.used.add(".".join(parts))
        else:
            raise self.fail(f"could not find '{expr}'")
        value = _dig(cur, parts[1:])
        if value is _MISSING:
            raise self.fail(f"could not find '{expr}'")
        return value


# --------------------------------------------------------------------------- records


@dataclass
class _Stage:
    id: str
    file: str
    name: str | None
    group: str | None
    wdir: str
    cmd: Any
    frozen: bool = False
    always_changed: bool = False
    desc: Any = None
    meta: Any = None
    repo_import: bool = False
    deps: list[tuple[str, str | None]] = field(default_factory=list)
    params: list[tuple[str, str | None]] = field(default_factory=list)
    outs: list[tuple[str, str, dict, str | None]] = field(default_factory=list)
    interp_params: set[tuple[str, str]] = field(default_factory=set)


@dataclass
class _Collected:
    stages: list[_Stage] = field(default_factory=list)
    top_level: list[tuple[str, str, str]] = field(default_factory=list)
    artifacts: list[tuple[str, str, Any, str]] = field(default_factory=list)


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


# --------------------------------------------------------------------------- discovery


def _dvc_files(root: Path) -> list[str]:
    """dvc.yaml and *.dvc files DVC would collect: not git-ignored, outside .git/.dvc."""
    names: list[str] | None = None
    if shutil.which("git"):
        env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
        try:
            proc = subprocess.run(
                ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard",
                 "--deduplicate", "--", "*dvc.yaml", "*.dvc"],
                cwd=root, env=env, capture_output=True, check=False,
            )
            if proc.returncode == 0:
                names = [n for n in proc.stdout.decode("utf-8", "surrogateescape").split("\0") if n]
        except OSError:
            names = None
    if names is None:
        names = []
        for dirpath, dirs, files in os.walk(root):
            dirs[:] = sorted(d for d in dirs if d not in (".git", ".dvc"))
            reldir = os.path.relpath(dirpath, root)
            for f in files:
                if f == "dvc.yaml" or f.endswith(".dvc"):
                    names.append(f if reldir == "." else f"{reldir}/{f}".replace(os.sep, "/"))
    picked = []
    for n in dict.fromkeys(names):
        base = posixpath.basename(n)
        if base != "dvc.yaml" and not base.endswith(".dvc"):
            continue
        if n.startswith((".dvc/", ".git/")) or "/.git/" in n or not (root / n).is_file():
            continue
        picked.append(n)
    picked.sort(key=lambda p: (p.count("/"), p))
    return picked


def _read_models_config(root: Path) -> list[str]:
    path = root / "mvtools.yaml"
    if not path.is_file():
        return []
    data = read_yaml(path, "mvtools.yaml")
    models = data.get("models") if isinstance(data, dict) else None
    entries: Iterable[Any] = []
    if isinstance(models, list):
        entries = models
    elif isinstance(models, dict):
        entries = models.values()
    paths = []
    for m in entries:
        if isinstance(m, dict) and isinstance(m.get("path"), str):
            paths.append(_norm("", m["path"]))
    return paths


# --------------------------------------------------------------------------- the graph


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
        h = nx.DiGraph()
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


def _is_ancestor_dir(anc: str, d: str) -> bool:
    return anc == "" or d == anc or d.startswith(anc + "/")


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


# --------------------------------------------------------------------------- exports


def to_json(graph: nx.DiGraph) -> str:
    """networkx node-link JSON with keys ``nodes`` and ``edges`` (``edges="edges"``)."""
    doc = {
        "directed": True,
        "multigraph": False,
        "graph": {},
        "nodes": [{"id": n, **d} for n, d in graph.nodes(data=True)],
        "edges": [{"source": u, "target": v, **d} for u, v, d in graph.edges(data=True)],
    }
    return json.dumps(doc, default=str)


_DOT_SHAPES = {"stage": "box", "data": "ellipse", "code": "note", "params": "component",
               "model": "doubleoctagon", "metrics": "tab", "plots": "tab"}


def _dq(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def to_dot(graph: nx.DiGraph) -> str:
    lines = ["digraph lineage {", "  rankdir=LR;", "  node [fontsize=10];"]
    for n, d in graph.nodes(data=True):
        typ = d.get("type", "data")
        style = ", style=filled, fillcolor=lightgrey" if typ == "stage" else ""
        lines.append(f"  {_dq(n)} [shape={_DOT_SHAPES.get(typ, 'ellipse')}{style}];")
    for u, v, d in graph.edges(data=True):
        extra = " [style=dashed]" if d.get("interpolated") else ""
        lines.append(f"  {_dq(u)} -> {_dq(v)}{extra};")
    lines.append("}")
    return "\n".join(lines) + "\n"


_MERMAID_SHAPES = {"stage": ("[", "]"), "data": ("([", "])"), "code": ("[/", "/]"),
                   "params": ("{{", "}}"), "model": ("[[", "]]"), "metrics": ("[(", ")]"),
                   "plots": ("[(", ")]")}


def to_mermaid(graph: nx.DiGraph) -> str:
    ids = {n: f"n{i}" for i, n in enumerate(graph.nodes)}
    lines = ["flowchart LR"]
    for n, d in graph.nodes(data=True):
        o, c = _MERMAID_SHAPES.get(d.get("type", "data"), ("[", "]"))
        label = str(n).replace('"', "#quot;")
        lines.append(f'  {ids[n]}{o}"{label}"{c}')
    for u, v, d in graph.edges(data=True):
        arrow = "-.->" if d.get("interpolated") else "-->"
        lines.append(f"  {ids[u]} {arrow} {ids[v]}")
    return "\n".join(lines) + "\n"


def to_text(graph: nx.DiGraph) -> str:
    """Stages in dependency order, each with its inputs and outputs."""
    nodes = graph.nodes
    order = _topo_sorted(graph, {n for n, d in nodes(data=True) if d.get("type") == "stage"})
    lines = []

    def label(n: str) -> str:
        return f"{n} ({nodes[n].get('type')})"

    for s in order:
        d = nodes[s]
        members = f" ({d['members']} stages)" if d.get("members") else ""
        lines.append(f"stage {s}{members}")
        ins = sorted(graph.predecessors(s))
        outs = sorted(graph.successors(s))
        if ins:
            lines.append("  <- " + ", ".join(label(n) for n in ins))
        if outs:
            lines.append("  -> " + ", ".join(label(n) for n in outs))
    loose = sorted(n for n, d in nodes(data=True)
                   if d.get("type") != "stage" and not any(
                       nodes[x].get("type") == "stage"
                       for x in [*graph.predecessors(n), *graph.successors(n)]))
    if loose:
        lines.append("other nodes")
        lines.extend(f"  {label(n)}" for n in loose)
    if not lines:
        lines.append("no stages")
    return "\n".join(lines) + "\n"


def to_svg(graph: nx.DiGraph) -> str:
    """Render through Graphviz ``dot``; a clear UsageError when it is not installed."""
    exe = shutil.which("dot")
    if exe is None:
        raise UsageError(
            "--format svg needs Graphviz's 'dot' program: install Graphviz "
            "(apt-get install graphviz, brew install graphviz or conda install graphviz) "
            "or use --format dot"
        )
    proc = subprocess.run([exe, "-Tsvg"], input=to_dot(graph).encode(), capture_output=True,
                          check=False)
    if proc.returncode != 0:
        msg = proc.stderr.decode(errors="replace").strip().splitlines()
        raise UsageError(f"dot failed: {msg[0] if msg else 'exit ' + str(proc.returncode)}")
    return proc.stdout.decode("utf-8", errors="replace")


__all__ = [
    "Lineage", "NODE_TYPES", "build_lineage", "stage_edges", "stage_for_output",
    "to_dot", "to_json", "to_mermaid", "to_svg", "to_text",
]
