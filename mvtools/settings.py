"""The schema of mvtools.yaml: every section typed, checked once when the file is loaded.

Typed with msgspec Structs: importing msgspec and building these types costs the hook path
about 3 ms (pydantic costs 77 ms; measured in ``bench/bench_config.py``), and its converter
checks types at C speed. msgspec reports the position of a wrong value but not mapping keys,
so :func:`parse_settings` walks the document itself where mappings nest, and names the
whole key path (``environments.prod.gate.accuracy.mn``) with the nearest known key.

Semantic rules that need the repository (names, paths inside it, stage names) are checked
by :mod:`mvtools.config` after this; cross-section rules (``promotes_from`` naming known
stages) are checked here.
"""

from __future__ import annotations

import difflib
import re
from typing import Annotated, Any, Dict, List, Literal, Optional, Union, get_args, get_origin, get_type_hints

import msgspec
from msgspec import Meta, Struct

from mvtools.errors import ConfigError

CONFIG_FILE = "mvtools.yaml"
DEFAULT_STAGES = ("development", "staging", "production")
DEFAULT_WEIGHTS = {"accuracy": 0.7, "latency": -0.3}
DEFAULT_THRESHOLD = 0.05

StrList = Union[List[str], str, None]
ParamKeys = Union[List[str], str, None]
# params as DVC writes them: keys of params.yaml, a whole file, or {file: [keys] | null}
ParamsSpec = Union[List[Union[str, Dict[str, ParamKeys]]], str, Dict[str, ParamKeys], None]


class _Section(Struct, forbid_unknown_fields=True, omit_defaults=True):
    pass


class ModelEntry(_Section):
    """One entry of ``models:``."""

    name: str
    path: str
    type: str = "model"
    description: Optional[str] = None
    desc: Optional[str] = None  # DVC's spelling of description
    labels: StrList = None
    metrics: StrList = None
    params: ParamsSpec = None
    bump: Literal["major", "minor", "patch"] = "patch"


class CompareSettings(_Section):
    """``compare:``: how versions are scored (see :mod:`mvtools.compare`)."""

    weights: Dict[str, float] = msgspec.field(default_factory=lambda: dict(DEFAULT_WEIGHTS))
    threshold: Annotated[float, Meta(ge=0)] = DEFAULT_THRESHOLD
    lower_better: List[str] = msgspec.field(default_factory=list)
    higher_better: List[str] = msgspec.field(default_factory=list)


class PolicySettings(_Section):
    """``policy:``: who may promote into which stage and deploy where."""

    signed: bool = False
    promote: Dict[str, List[str]] = msgspec.field(default_factory=dict)
    deploy: Dict[str, List[str]] = msgspec.field(default_factory=dict)


class GateRule(_Section):
    """One metric's rule in an environment's validation gate."""

    min: Optional[float] = None
    max: Optional[float] = None
    max_regression: Optional[float] = None


class Environment(_Section):
    """One entry of ``environments:`` (a deployment target)."""

    namespace: Optional[str] = None
    format: Optional[str] = None
    storage: Optional[str] = None
    template: Optional[str] = None
    gate: Dict[str, GateRule] = msgspec.field(default_factory=dict)


class PushSettings(_Section):
    """``push:``: what ``git push`` and ``mvtools push`` do with the DVC bytes."""

    dvc: Literal["check", "auto", "off"] = "check"


class Settings(_Section):
    """The whole of mvtools.yaml."""

    mvtools: Literal[1] = 1  # the format's version
    scheme: Literal["semver", "timestamp"] = "semver"
    registry_dir: str = "registry"
    stages: Annotated[List[str], Meta(min_length=1)] = msgspec.field(default_factory=lambda: list(DEFAULT_STAGES))
    models: Optional[List[ModelEntry]] = None
    compare: CompareSettings = msgspec.field(default_factory=CompareSettings)
    policy: PolicySettings = msgspec.field(default_factory=PolicySettings)
    environments: Dict[str, Optional[Environment]] = msgspec.field(default_factory=dict)
    push: PushSettings = msgspec.field(default_factory=PushSettings)
    promotes_from: Dict[str, str] = msgspec.field(default_factory=dict)


_KINDS = {"str": "a string", "array": "a list", "object": "a mapping", "int": "an integer",
          "float": "a number", "bool": "true or false", "null": "null"}


def _plain(msgspec_text: str) -> str:
    """msgspec's ``Expected `float | null`, got `str``` in a YAML user's words."""
    def kinds(m: re.Match[str]) -> str:
        words = [_KINDS.get(k.strip(), k.strip()) for k in m.group(1).split("|")]
        return " or ".join(words) if len(words) < 3 else ", ".join(words[:-1]) + " or " + words[-1]
    text = re.sub(r"`([^`]*)`", kinds, msgspec_text)
    text = re.sub(r"\s*- at .*$", "", text)
    text = text.replace("Object missing required field", "missing required key")
    return text[:1].lower() + text[1:]


def _join(path: str, key: object) -> str:
    return f"{path}.{key}" if path else str(key)


def _struct_of(tp: Any) -> type[Struct] | None:
    """The Struct a field type holds directly (``X`` or ``Optional[X]``), if any."""
    if isinstance(tp, type) and issubclass(tp, Struct):
        return tp
    if get_origin(tp) is Union:
        found = [a for a in get_args(tp) if isinstance(a, type) and issubclass(a, Struct)]
        return found[0] if len(found) == 1 else None
    return None


def _walk(value: Any, tp: Any, path: str, source: str) -> None:
    """Refuse unknown keys wherever a Struct is expected, naming the full key path.
    Types of leaves are left to msgspec (called once on the whole document after)."""
    if get_origin(tp) is Annotated:
        tp = get_args(tp)[0]
    struct = _struct_of(tp)
    if struct is not None:
        if not isinstance(value, dict):
            return  # msgspec reports the wrong type with the path
        hints = get_type_hints(struct, include_extras=True)
        known = list(struct.__struct_fields__)
        for key, sub in value.items():
            if key not in hints:
                near = difflib.get_close_matches(str(key), known, n=1, cutoff=0.6)
                hint = f" (did you mean {near[0]}?)" if near else f" (known keys: {', '.join(known)})"
                raise ConfigError(f"{source}: {_join(path, key)}: unknown key{hint}")
            _walk(sub, hints[key], _join(path, key), source)
        return
    origin = get_origin(tp)
    if origin is Union:
        for arg in get_args(tp):
            if get_origin(arg) in (dict, list):
                _walk(value, arg, path, source)
    elif origin is dict and isinstance(value, dict):
        for key, sub in value.items():
            _walk(sub, get_args(tp)[1], _join(path, key), source)
    elif origin is list and isinstance(value, list):
        for i, sub in enumerate(value):
            _walk(sub, get_args(tp)[0], f"{path}[{i}]", source)


def _convert(value: Any, tp: Any, path: str, source: str) -> Any:
    """msgspec's strict conversion, its error named by our key path."""
    try:
        return msgspec.convert(value, tp, strict=True)
    except msgspec.ValidationError as exc:
        text = str(exc)
        where = re.search(r"- at `\$(.*)`$", text)
        sub = where.group(1) if where else ""
        if "[...]" in sub or "`key` in" in text:  # a mapping's key: descend to name it
            return _descend(value, tp, path, source, exc)
        full = (path + sub).lstrip(".") or "(top level)"
        m = re.match(r"Invalid enum value (.*?) - at", text)
        if m:
            allowed = _literal_values(tp, sub)
            raise ConfigError(f"{source}: {full}: must be one of {allowed}, not {m.group(1)}") from None
        raise ConfigError(f"{source}: {full}: {_plain(text)}") from None


def _containers(tp: Any) -> list[Any]:
    """The Struct, list and dict types a field type may hold (through Optional/Union)."""
    if get_origin(tp) is Annotated:
        tp = get_args(tp)[0]
    if get_origin(tp) is Union:
        return [c for a in get_args(tp) for c in _containers(a)]
    if _struct_of(tp) is not None or get_origin(tp) in (list, dict):
        return [tp]
    return []


def _descend(value: Any, tp: Any, path: str, source: str, exc: Exception) -> Any:
    """Convert a container item by item, so the failing key or index is named."""
    for c in _containers(tp):
        struct = _struct_of(c)
        if struct is not None and isinstance(value, dict):
            hints = get_type_hints(struct, include_extras=True)
            for key, sub in value.items():
                _convert(sub, hints[key], _join(path, key), source)
        elif get_origin(c) is dict and isinstance(value, dict):
            for key, sub in value.items():
                if not isinstance(key, str):
                    raise ConfigError(f"{source}: {_join(path, key)}: keys must be strings, not {key!r}")
                _convert(sub, get_args(c)[1], _join(path, key), source)
        elif get_origin(c) is list and isinstance(value, list):
            for i, sub in enumerate(value):
                _convert(sub, get_args(c)[0], f"{path}[{i}]", source)
        else:
            continue
        break
    raise ConfigError(f"{source}: {path or '(top level)'}: {_plain(str(exc))}") from None


def _literal_values(tp: Any, sub: str) -> str:
    """The allowed values of the Literal at ``sub`` below ``tp`` (for the message)."""
    for part in re.findall(r"\.(\w+)|\[\d+\]", sub):
        if not part:  # a list index
            tp = next((get_args(c)[0] for c in _containers(tp) if get_origin(c) is list), None)
            continue
        struct = next((_struct_of(c) for c in _containers(tp) if _struct_of(c) is not None), None)
        if struct is None:
            break
        tp = get_type_hints(struct, include_extras=True).get(part)
    if get_origin(tp) is Literal:
        return ", ".join(str(a) for a in get_args(tp))
    return "the documented values"


def parse_settings(doc: Any, source: str = CONFIG_FILE) -> Settings:
    """Check a loaded mvtools.yaml document against the schema; one-line ConfigError (exit 2)
    naming the key path otherwise."""
    if doc is None:
        doc = {}
    if not isinstance(doc, dict):
        raise ConfigError(f"{source}: expected a mapping at the top level")
    _walk(doc, Settings, "", source)
    settings: Settings = _convert(doc, Settings, "", source)
    unknown = sorted((set(settings.promotes_from) | set(settings.promotes_from.values())) - set(settings.stages))
    if unknown:
        raise ConfigError(f"{source}: promotes_from: unknown stage {unknown[0]!r} "
                          f"(stages: {', '.join(settings.stages)})")
    return settings


__all__ = ["CONFIG_FILE", "CompareSettings", "Environment", "GateRule", "ModelEntry", "PolicySettings",
           "PushSettings", "Settings", "parse_settings"]
