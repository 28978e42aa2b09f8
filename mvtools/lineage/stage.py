"""One stage of a dvc.yaml resolved into a :class:`_Stage` record: its keys checked, its
``wdir`` and stage ``vars`` applied, ``${}`` resolved, and its paths and params collected."""

from __future__ import annotations

from typing import Any, Callable, Iterable

from mvtools.errors import ConfigError
from mvtools.lineage.interpolation import _Ctx, _Resolver, _sources, _to_str, _VarsFiles
from mvtools.lineage.records import DEFAULT_PARAMS, STAGE_KEYS, _Stage
from mvtools.lineage.util import _norm, _norm_dep

_Template = Callable[[Any, str], "str | None"]


def _resolve_stage(files: _VarsFiles, rel: str, base: str, prefix: str, name: str,
                   group: str | None, definition: dict, ctx: _Ctx, local: dict | None,
                   shared: Iterable[str], templated: bool) -> _Stage:
    where = f"{rel}: stage '{name}'"
    _check_stage_keys(definition, where)
    res = _Resolver(ctx, rel, name, local)
    raw_wdir = definition.get("wdir")
    wdir = base
    if raw_wdir:
        res.where = "wdir"
        wdir = _norm(base, _to_str(res.resolve_str(str(raw_wdir), None)))
    stage_vars = definition.get("vars") or []
    if stage_vars:
        ctx = _stage_context(files, ctx, stage_vars, wdir, where, name, local)
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

    _stage_deps(st, resolved, definition, wdir, where, tmpl)
    _stage_params(st, resolved.get("params") or [], wdir, where)
    _stage_outs(st, resolved, definition, wdir, where, tmpl)
    # params read through `${}` (DVC tracks them only for `dvc params diff`)
    used = set(res.used)
    used.update(shared)
    for expr in used:
        for file in _sources(ctx, expr):
            st.interp_params.add((file, expr))
    return st


def _check_stage_keys(definition: dict, where: str) -> None:
    unknown = [k for k in definition if k not in STAGE_KEYS or k in ("foreach", "do", "matrix")]
    if unknown:
        raise ConfigError(f"{where}: unknown key '{unknown[0]}'")
    if "cmd" not in definition:
        raise ConfigError(f"{where}: missing 'cmd'")
    for key in ("frozen", "always_changed"):
        if key in definition and not isinstance(definition[key], bool):
            raise ConfigError(f"{where}: '{key}' must be true or false")


def _stage_context(files: _VarsFiles, ctx: _Ctx, stage_vars: Any, wdir: str, where: str,
                   name: str, local: dict | None) -> _Ctx:
    """A copy of the file's context with the stage's own ``vars`` merged in."""
    if not isinstance(stage_vars, list):
        raise ConfigError(f"{where}: 'vars' must be a list")
    before = {k: len(v) for k, v in ctx.origin.items()}
    ctx = ctx.clone()
    for i, item in enumerate(stage_vars):
        files.merge_vars_item(ctx, item, wdir, f"{where}: vars", i, name)
    grown = [k for k in (local or ()) if len(ctx.origin.get(k, ())) > before.get(k, 0)]
    if grown:
        raise ConfigError(f"{where}: attempted to modify reserved key '{grown[0]}'")
    return ctx


def _stage_deps(st: _Stage, resolved: dict[str, Any], definition: dict, wdir: str, where: str,
                tmpl: _Template) -> None:
    deps = resolved.get("deps") or []
    if not isinstance(deps, list):
        raise ConfigError(f"{where}: 'deps' must be a list")
    raw_deps = definition.get("deps") or []
    for i, dep in enumerate(deps):
        if not isinstance(dep, str):
            raise ConfigError(f"{where}: deps entries must be strings")
        raw = raw_deps[i] if isinstance(raw_deps, list) and i < len(raw_deps) else None
        st.deps.append((_norm_dep(wdir, dep), tmpl(raw, dep)))


def _stage_outs(st: _Stage, resolved: dict[str, Any], definition: dict, wdir: str, where: str,
                tmpl: _Template) -> None:
    for kind in ("outs", "metrics", "plots"):
        entries = resolved.get(kind) or []
        if not isinstance(entries, list):
            raise ConfigError(f"{where}: '{kind}' must be a list")
        raw_entries = definition.get(kind) or []
        for i, entry in enumerate(entries):
            raw = raw_entries[i] if isinstance(raw_entries, list) and i < len(raw_entries) else None
            if isinstance(entry, str):
                path, flags = entry, {}  # type: tuple[str, dict[str, Any]]
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
