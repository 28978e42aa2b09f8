"""Safe YAML reading with limits, in two dialects.

* ``load_yaml(..., yaml12=True)`` reads with YAML 1.2 core-schema typing, as DVC reads
  dvc.yaml, dvc.lock and params files (``1e-3`` is a float, ``no``/``on`` are strings,
  no timestamps).
* ``load_yaml(..., yaml12=False)`` reads PyYAML's YAML 1.1 safe schema; mvtools' own
  ledger files are written and read with it.

Every load goes through libyaml's C parser when present, refuses files over a size limit,
alias bombs (more than ``max_aliases`` alias nodes) and nesting deeper than ``max_depth``,
and turns parser errors into one-line :class:`ConfigError` messages.
"""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path
from typing import Any

import yaml

from mvtools import fastyaml
from mvtools.errors import ConfigError

try:  # libyaml is an order of magnitude faster; fall back to pure Python
    from yaml import CSafeDumper as _Dumper
    from yaml import CSafeLoader as _Loader
except ImportError:  # pragma: no cover - depends on the PyYAML build
    # the pure-Python classes stand in for the C ones (same interface, different classes)
    from yaml import SafeDumper as _Dumper  # type: ignore[assignment]
    from yaml import SafeLoader as _Loader  # type: ignore[assignment]

MAX_BYTES = 64 * 1024 * 1024
MAX_DEPTH = 64
MAX_ALIASES = 512
MAX_ALIASED_NODES = 1_000_000  # nodes aliases may repeat in all: no "billion laughs"


class SafeLoader11(_Loader):
    """PyYAML's safe loader (YAML 1.1 typing)."""


class SafeLoader12(_Loader):
    """Safe loader with YAML 1.2 core-schema implicit typing (as DVC reads its files)."""


def _yaml12_resolvers() -> dict[str | None, list[tuple[str, re.Pattern[str]]]]:
    resolvers: dict[str | None, list[tuple[str, re.Pattern[str]]]] = {}

    def add(tag: str, regexp: re.Pattern[str], first: str) -> None:
        for ch in first:
            resolvers.setdefault(ch, []).append((tag, regexp))

    add(
        "tag:yaml.org,2002:bool",
        re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
        "tTfF",
    )
    # ruamel.yaml's YAML 1.2 patterns, which DVC reads with: digits may hold '_' (1_000),
    # 0b/0o/0x prefixes take a sign; the float before the int, as ruamel orders them
    add(
        "tag:yaml.org,2002:float",
        re.compile(
            r"^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?"
            r"|[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)"
            r"|[-+]?\.[0-9_]+(?:[eE][-+][0-9]+)?"
            r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
        ),
        "-+.0123456789",
    )
    add(
        "tag:yaml.org,2002:int",
        re.compile(r"^(?:[-+]?0b[0-1_]+|[-+]?0o?[0-7_]+|[-+]?[0-9_]+|[-+]?0x[0-9a-fA-F_]+)$"),
        "-+0123456789",
    )
    add("tag:yaml.org,2002:null", re.compile(r"^(?:~|null|Null|NULL|)$"), "~nN")
    resolvers.setdefault("", []).append(("tag:yaml.org,2002:null", re.compile(r"^$")))
    add("tag:yaml.org,2002:merge", re.compile(r"^(?:<<)$"), "<")
    return resolvers


SafeLoader12.yaml_implicit_resolvers = _yaml12_resolvers()


def _construct_int12(loader: Any, node: yaml.ScalarNode) -> int:
    value = loader.construct_scalar(node).replace("_", "")
    sign = -1 if value.startswith("-") else 1
    value = value.lstrip("+-")
    for prefix, base in (("0b", 2), ("0x", 16), ("0o", 8)):
        if value.startswith(prefix):
            return sign * int(value[2:], base)
    return sign * int(value)  # "010" is ten in YAML 1.2, not octal


def _construct_float12(loader: Any, node: yaml.ScalarNode) -> float:
    value = loader.construct_scalar(node).replace("_", "").lower()
    sign = -1.0 if value.startswith("-") else 1.0
    value = value.lstrip("+-")
    if value == ".inf":
        return sign * float("inf")
    if value == ".nan":
        return float("nan")
    return sign * float(value)


SafeLoader12.add_constructor("tag:yaml.org,2002:int", _construct_int12)
SafeLoader12.add_constructor("tag:yaml.org,2002:float", _construct_float12)


class StrictLoader11(SafeLoader11):
    """YAML 1.1 safe loading that refuses what a hand edit could hide behind: a repeated key
    (YAML keeps the last one, so lines appended after an event could redefine it) and merge
    keys. Anchors and aliases are refused before construction (``strict`` in load_yaml)."""

    def construct_mapping(self, node: Any, deep: bool = False) -> Any:
        seen: set[Any] = set()
        for key_node, _value in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                raise yaml.constructor.ConstructorError(None, None, "merge keys (<<) are not allowed",
                                                        key_node.start_mark)
            key = self.construct_object(key_node, deep=True)
            if isinstance(key, (str, int, float, bool)) and key in seen:
                raise yaml.constructor.ConstructorError(None, None, f"duplicate key {key!r}", key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep)


_DEEP_INDENT = re.compile(rf"^ {{{MAX_DEPTH},}}", re.M)  # block nesting needs indentation


def _check_structure(text: str, source: str, max_depth: int, max_aliases: int, strict: bool = False) -> None:
    """Walk the parser's event stream (iterative, cheap) before building objects; ``strict``
    refuses anchors and aliases altogether."""
    # Plain files with no flow collections, anchors or aliases cannot nest deeply
    # without indentation, which the size limit bounds; skip the scan for them.
    if ("&" not in text and "*" not in text and "[" not in text and "{" not in text
            and "- -" not in text and not _DEEP_INDENT.search(text)):
        return
    depth = 0
    aliases = 0
    # each open collection's node count (its anchor's, once closed): what an alias repeats
    sizes: list[list[Any]] = [[0, None]]
    anchored: dict[str, int] = {}
    repeated = 0
    try:
        for event in yaml.parse(text, Loader=_Loader):
            if isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
                depth += 1
                if depth > max_depth:
                    raise ConfigError(f"{source}: YAML nested deeper than {max_depth} levels")
                sizes.append([1, event.anchor])
            elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
                depth -= 1
                size, anchor = sizes.pop()
                if anchor is not None:
                    anchored[anchor] = size
                sizes[-1][0] += size
            elif isinstance(event, yaml.ScalarEvent):
                if event.anchor is not None:
                    anchored[event.anchor] = 1
                sizes[-1][0] += 1
            elif isinstance(event, yaml.AliasEvent):
                n = anchored.get(event.anchor or "", 1)
                sizes[-1][0] += n
                repeated += n
                if repeated > MAX_ALIASED_NODES:
                    raise ConfigError(f"{source}: YAML aliases repeat more than {MAX_ALIASED_NODES} nodes")
            if strict and (isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None)):
                raise ConfigError(f"{source}: anchors and aliases are not allowed here")
            if isinstance(event, yaml.AliasEvent):
                aliases += 1
                if aliases > max_aliases:
                    raise ConfigError(f"{source}: YAML uses more than {max_aliases} aliases")
    except yaml.YAMLError as exc:
        raise ConfigError(f"{source}: malformed YAML: {_describe(exc)}") from None


def _describe(exc: yaml.YAMLError) -> str:
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    if mark is not None:
        return f"{problem} (line {mark.line + 1}, column {mark.column + 1})"
    return str(problem)


def _decoded(data: bytes, source: str, max_bytes: int) -> str:
    """A file's bytes as UTF-8 text, refused (one ConfigError line) when too large or not UTF-8."""
    if len(data) > max_bytes:
        raise ConfigError(f"{source}: larger than {max_bytes} bytes")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise ConfigError(f"{source}: not UTF-8 text") from None


def load_yaml(
    text: str | bytes,
    source: str,
    *,
    yaml12: bool = True,
    max_bytes: int = MAX_BYTES,
    max_depth: int = MAX_DEPTH,
    max_aliases: int = MAX_ALIASES,
    strict: bool = False,
) -> Any:
    """Parse ``text`` safely; ``source`` names the file in error messages. ``strict`` (YAML
    1.1, mvtools' own ledgers): no repeated keys, merge keys, anchors or aliases."""
    if isinstance(text, bytes):
        text = _decoded(text, source, max_bytes)
    if len(text) > max_bytes:
        raise ConfigError(f"{source}: larger than {max_bytes} bytes")
    _check_structure(text, source, max_depth, max_aliases, strict)
    try:  # noqa: S506 - safe loaders only
        return yaml.load(text, Loader=StrictLoader11 if strict else SafeLoader12 if yaml12 else SafeLoader11)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{source}: malformed YAML: {_describe(exc)}") from None
    except (RecursionError, ValueError, TypeError) as exc:
        raise ConfigError(f"{source}: unreadable YAML: {exc}") from None


def load_strict(data: bytes, source: str, max_bytes: int = MAX_BYTES) -> tuple[Any, bool]:
    """``load_yaml(data, source, yaml12=False, strict=True, max_bytes=...)``, the same value
    or error, and whether mvtools.fastyaml read it (mvtools' own layout, several times
    faster than libyaml plus the constructors); anything else goes to the safe loader."""
    text = _decoded(data, source, max_bytes)
    if len(text) <= max_bytes:
        doc = fastyaml.read(text)
        if doc is not fastyaml.FALLBACK:
            return doc, True
    return load_yaml(text, source, yaml12=False, strict=True, max_bytes=max_bytes), False


def read_regular(path: str | Path, source: str) -> bytes:
    """The bytes of the file at ``path`` (links followed). What is not a regular file is a
    ConfigError naming ``source`` at once: a directory, and a FIFO or device (a cloned
    symlink to /dev/zero), which a plain read would wait on or read forever. A missing file
    raises FileNotFoundError."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)  # a FIFO without a writer: no wait here
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise ConfigError(f"{source}: cannot read: {exc.strerror}") from None
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        raise ConfigError(f"{source}: cannot read: {'Is a directory' if stat.S_ISDIR(mode) else 'not a regular file'}")
    with os.fdopen(fd, "rb") as fh:
        try:
            return fh.read()
        except OSError as exc:
            raise ConfigError(f"{source}: cannot read: {exc.strerror}") from None


def read_yaml(path: str | Path, source: str | None = None, **kwargs: Any) -> Any:
    """Read and parse a YAML file; a missing or unreadable file is a ConfigError."""
    p = Path(path)
    try:
        data = read_regular(p, source or str(p))
    except FileNotFoundError:
        raise ConfigError(f"{source or p}: no such file") from None
    return load_yaml(data, source or str(p), **kwargs)


class _NoAliasDumper(_Dumper):
    """Never anchors and aliases, even for an object that appears twice: ledgers are loaded
    strictly, and an alias there is refused."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def dump_yaml(data: Any) -> str:
    """Block-style, key order kept, unicode kept; output re-reads with ``yaml12=False``."""
    return yaml.dump(data, Dumper=_NoAliasDumper, sort_keys=False, default_flow_style=False,
                     allow_unicode=True, width=1000)
