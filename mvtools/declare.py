"""Declaring a model where every tool reads it: an entry of a dvc.yaml ``artifacts:``
section, DVC's own model-registry declaration (``dvc artifacts get`` and DVC Studio read
it; mvtools reads it through :func:`mvtools.config.load_config`).

The file belongs to the user and to DVC, so nothing of it may change but the new entry.
It is read with ruamel.yaml's round-trip loader (YAML 1.2, the reader DVC itself edits
dvc.yaml with), whose line positions say where the entry's lines go: after the last entry
of ``artifacts:``, in its indentation, or a new ``artifacts:`` at the end. Every other line
stays byte for byte (a whole-document dump would re-indent the file: it did so for 10 of
the 30 dvc.yaml files of the corpus). When the file's shape leaves no such place (a flow
``artifacts: {...}``, an end marker) ruamel's round-trip dump writes it, comments kept.
Either way the result must read as the old document plus the entry, or nothing is
written. ruamel is imported only here, off the hooks' import path.
"""

from __future__ import annotations

import io
import posixpath
import re
from pathlib import Path
from typing import Any

from mvtools.errors import ConfigError, UsageError

DVC_YAML = "dvc.yaml"


def artifact_file(name: str) -> tuple[str, str]:
    """The dvc.yaml that declares ``name`` and the artifact's name in it: ``clf`` lives in
    the root dvc.yaml, ``sub:enc`` in ``sub/dvc.yaml`` as ``enc`` (as DVC and GTO name it)."""
    folder, sep, base = name.rpartition(":")
    return (posixpath.join(folder, DVC_YAML) if sep else DVC_YAML), base


def declare_artifact(root: Path, name: str, path: str) -> tuple[str, bytes]:
    """``(dvc.yaml path, its new bytes)`` with ``name`` declared as a model at ``path``
    (repo-relative), nothing written. A UsageError when the name is taken there or the
    file cannot take the entry."""
    rel, base = artifact_file(name)
    folder = posixpath.dirname(rel)
    art_path = posixpath.relpath(path, folder) if folder else path
    if art_path == ".." or art_path.startswith("../"):
        raise UsageError(f"{name}: {path} is outside {folder}/, the folder of {rel} that declares it")
    if "${" in art_path:  # DVC would read it as interpolation, not as this file's name
        raise UsageError(f"{path}: '${{' in a dvc.yaml path is DVC interpolation; declare {name} "
                         f"in mvtools.yaml instead (models: - name: {name}, path: {path})")
    file = root / rel
    try:
        raw = file.read_bytes() if file.exists() else b""
    except OSError as exc:
        raise ConfigError(f"{rel}: cannot read: {exc.strerror}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ConfigError(f"{rel}: not UTF-8 text") from None
    crlf = "\r\n" in text
    new = _with_artifact(text.replace("\r\n", "\n"), rel, base, art_path)
    return rel, (new.replace("\n", "\r\n") if crlf else new).encode("utf-8")


def _with_artifact(text: str, rel: str, name: str, path: str) -> str:
    """``text`` with the entry added: as lines inserted where a person would write them
    (the end of ``artifacts:``, or a new ``artifacts:`` at the end), every other line kept
    byte for byte; when the file's shape does not allow that (a flow-style section, an
    end marker), ruamel's round-trip dump of the edited document."""
    from ruamel.yaml import YAML
    from ruamel.yaml.comments import CommentedMap
    from ruamel.yaml.error import YAMLError

    # round-trip, YAML 1.2, as DVC reads and edits dvc.yaml; it builds plain data only
    # (CommentedMap, CommentedSeq, scalars), never arbitrary Python objects
    rt = YAML(typ="rt")
    rt.preserve_quotes = True
    rt.width = 4096  # never re-wrap a long cmd
    try:
        doc = rt.load(text) if text.strip() else None
    except YAMLError as exc:
        raise ConfigError(f"{rel}: malformed YAML: {_first_line(exc)}") from None
    if doc is None:
        doc = CommentedMap()
    if not isinstance(doc, CommentedMap):
        raise ConfigError(f"{rel}: expected a mapping at the top level")
    arts = doc.get("artifacts")
    if arts is not None and not isinstance(arts, dict):
        raise ConfigError(f"{rel}: artifacts must be a mapping of name -> {{path, type, ...}}")
    if arts is not None and name in arts:
        entry = arts[name]
        typ = entry.get("type") if isinstance(entry, dict) else None
        raise UsageError(f"{rel}: artifact {name!r} is declared already"
                         + (f" (type {typ})" if typ not in (None, "model") else ""))
    new = _inserted(text, doc, name, path)
    if new is not None and _holds(text, new, name, path):
        return new
    if arts is None:
        arts = doc["artifacts"] = CommentedMap()
    arts[name] = CommentedMap([("path", path), ("type", "model")])
    out = io.StringIO()
    rt.dump(doc, out)
    new = out.getvalue()
    if not _holds(text, new, name, path):  # pragma: no cover - ruamel's own round trip
        raise UsageError(f"cannot add artifact {name!r} to {rel} automatically; add it by hand "
                         f"under artifacts: ({name}: {{path: {path}, type: model}})")
    return new


def _inserted(text: str, doc: Any, name: str, path: str) -> str | None:
    """``text`` with the entry's lines inserted; None when the file has no place for them."""
    lines = text.splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    keys = list(doc)
    step = _step(doc)
    arts = doc.get("artifacts")
    if "artifacts" not in doc:
        block = ["artifacts:\n", *_entry(name, path, step, step)]
        return "".join(lines + block)
    if arts is not None and not (hasattr(arts, "fa") and arts.fa.flow_style() is False):
        return None  # a flow mapping (`artifacts: {}`) or a scalar: ruamel rewrites it
    line = doc.lc.key("artifacts")[0]
    after = keys.index("artifacts") + 1
    stop = doc.lc.key(keys[after])[0] if after < len(keys) else len(lines)
    if arts:
        first = next(iter(arts))
        indent = arts.lc.key(first)[1]
        sub = arts[first]
        inner = (sub.lc.key(next(iter(sub)))[1] - indent
                 if isinstance(sub, dict) and sub and hasattr(sub, "lc") else step)
        at = max(i for i in range(line, stop) if _content(lines[i])) + 1
    else:
        indent, inner, at = step, step, line + 1
    return "".join(lines[:at] + _entry(name, path, indent, max(inner, 1)) + lines[at:])


def _entry(name: str, path: str, indent: int, inner: int) -> list[str]:
    pad, sub = " " * indent, " " * (indent + inner)
    return [f"{pad}{_scalar(name)}:\n", f"{sub}path: {_scalar(path)}\n", f"{sub}type: model\n"]


def _scalar(value: str) -> str:
    """``value`` as a plain YAML scalar when it reads back as the same string, else quoted."""
    from ruamel.yaml import YAML

    if re.fullmatch(r"[A-Za-z0-9_./-][A-Za-z0-9_./ -]*", value) and not value.endswith(" "):
        try:
            if YAML(typ="safe", pure=True).load(f"k: {value}\n") == {"k": value}:
                return value
        except Exception:  # noqa: BLE001 - anything odd is quoted below
            pass
    return "'" + value.replace("'", "''") + "'"


def _step(doc: Any) -> int:
    """The file's mapping indent: the column of the first key nested in a top-level key."""
    for k in doc:
        v = doc[k]
        if isinstance(v, dict) and v and hasattr(v, "lc") and not (
                hasattr(v, "fa") and v.fa.flow_style()):
            col = v.lc.key(next(iter(v)))[1]
            if col > 0:
                return int(col)
    return 2


def _content(line: str) -> bool:
    s = line.strip()
    return bool(s) and not s.startswith("#")


def _holds(old: str, new: str, name: str, path: str) -> bool:
    """``new`` reads (as YAML 1.2, as DVC reads it) as ``old`` plus the entry."""
    from ruamel.yaml import YAML
    from ruamel.yaml.error import YAMLError

    safe = YAML(typ="safe", pure=True)
    try:
        before: Any = (safe.load(old) if old.strip() else None) or {}
        after: Any = safe.load(new)
    except YAMLError:
        return False
    arts = dict(before.get("artifacts") or {})
    arts[name] = {"path": path, "type": "model"}
    return bool(after == {**before, "artifacts": arts})


def _first_line(exc: Exception) -> str:
    return " ".join(str(exc).split())[:200]
