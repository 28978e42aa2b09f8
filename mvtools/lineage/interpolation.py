"""``vars`` and ``${}`` interpolation the way ``dvc.parsing`` does it: the merged variables
of a dvc.yaml (:class:`_Ctx`), the params and vars files they come from
(:class:`_VarsFiles`) and the resolver of one stage's values (:class:`_Resolver`)."""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any, Callable

from mvtools.errors import ConfigError
from mvtools.lineage.util import _MISSING, _dig, _norm, _outside
from mvtools.paramsfile import load_params


def _worktree_reader(root: Path) -> Callable[[str], bytes | None]:
    """A reader of regular files in the work tree under ``root``; None when absent."""
    def read(rel: str) -> bytes | None:
        path = root / rel
        if not path.is_file():
            return None
        try:
            return path.read_bytes()
        except OSError as exc:
            raise ConfigError(f"{rel}: cannot read: {exc.strerror}") from None
    return read


# DVC's interpolation pattern: `${...}`, not preceded by a backslash (the escape).
_KEYCRE = re.compile(r"(?<!\\)\$\{(?P<inner>.*?)\}")


# DVC's expression grammar: word ('.' word | '[' word ']')*, word = chars other than . [ ]
_EXPR = re.compile(r"[^.\[\]]+(?:\.[^.\[\]]+|\[[^.\[\]]+\])*")


class _ResolveError(Exception):
    """An interpolation failure; the caller adds file, stage and key."""


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


def _sources(ctx: _Ctx, expr: str) -> list[str]:
    parts = expr.split(".")
    found = []
    for source, layer in ctx.origin.get(parts[0], ()):
        if source is not None and _dig(layer, parts) is not _MISSING:
            found.append(source)
    return found


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


class _VarsFiles:
    """The params and vars files of one repo (read once) and their merging into a context.

    ``read`` gives a repo-relative file's bytes (None when absent): the work tree, the index
    or a commit, so the hooks read a dvc.yaml's vars as they will be committed."""

    def __init__(self, root: Path | None = None, read: Callable[[str], bytes | None] | None = None) -> None:
        self.root = root
        if read is None:
            assert root is not None
            read = _worktree_reader(root)
        self.read = read
        self._files: dict[str, Any] = {}

    def load_params_file(self, rel: str) -> Any:
        """A params or vars file by repo-relative path (cached); _MISSING if absent."""
        if rel in self._files:
            return self._files[rel]
        if _outside(rel):  # never read files outside the repository
            return _MISSING
        data = self.read(rel)
        self._files[rel] = _MISSING if data is None else load_params(data, rel)
        return self._files[rel]

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
        self.merge_file(ctx, rel, keys, item, where)

    def merge_file(self, ctx: _Ctx, rel: str, keys: list[str] | None, item: str,
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
