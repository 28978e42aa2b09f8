"""The schema of mvtools.yaml: every section typed, checked once when the file is loaded.

The sections are frozen dataclasses; :func:`parse_settings` checks a loaded document
against their annotations and names the whole key path of anything wrong
(``environments.prod.gate.accuracy.mn: unknown key (did you mean min?)``).

Why not a schema library: the hooks load mvtools.yaml on every commit that starts Python,
so the schema sits on the hook path. Measured with ``bench/bench_config.py`` (a fresh
Python importing the hook module and checking a document, as a hook does): pydantic adds
about 140 ms, msgspec about 22 ms (it pulls in ``typing_extensions``), this module about
4 ms, since dataclasses and typing are loaded already. The checker is small because the
schema's vocabulary is: strings, numbers, booleans, lists, string-keyed mappings,
optional values, unions of those and fixed choices.

Rules that need the repository (names, paths inside it, stage names) are checked by
:mod:`mvtools.config` after this; cross-section rules (``promotes_from`` naming known
stages) are checked here.
"""

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Dict, List, Literal, Optional, Tuple, Union, get_args, get_origin, get_type_hints

from mvtools.errors import ConfigError

CONFIG_FILE = "mvtools.yaml"
DEFAULT_STAGES = ("development", "staging", "production")
DEFAULT_WEIGHTS = {"accuracy": 0.7, "latency": -0.3}
DEFAULT_THRESHOLD = 0.05

StrList = Union[List[str], str, None]
ParamKeys = Union[List[str], str, None]
# params as DVC writes them: keys of params.yaml, a whole file, or {file: [keys] | null}
ParamsSpec = Union[List[Union[str, Dict[str, ParamKeys]]], str, Dict[str, ParamKeys], None]


@dataclass(frozen=True)
class ModelEntry:
    """One entry of ``models:``. Without ``path`` it names a model a dvc.yaml ``artifacts:``
    declares and adds mvtools-only settings to it (unset keys here are None)."""

    name: str
    path: Optional[str] = None
    type: Optional[str] = None  # "model" when unset
    description: Optional[str] = None
    desc: Optional[str] = None  # DVC's spelling of description
    labels: StrList = None
    metrics: StrList = None
    params: ParamsSpec = None
    bump: Optional[Literal["major", "minor", "patch"]] = None  # "patch" when unset


@dataclass(frozen=True)
class CompareSettings:
    """``compare:``: how versions are scored (see :mod:`mvtools.compare`)."""

    weights: Dict[str, float] = field(default_factory=lambda: dict(DEFAULT_WEIGHTS))
    threshold: float = field(default=DEFAULT_THRESHOLD, metadata={"min": 0})
    lower_better: List[str] = field(default_factory=list)
    higher_better: List[str] = field(default_factory=list)


@dataclass(frozen=True)
class PolicySettings:
    """``policy:``: who may promote into which stage and deploy where."""

    signed: bool = False
    promote: Dict[str, List[str]] = field(default_factory=dict)
    deploy: Dict[str, List[str]] = field(default_factory=dict)


@dataclass(frozen=True)
class GateRule:
    """One metric's rule in an environment's validation gate."""

    min: Optional[float] = None
    max: Optional[float] = None
    max_regression: Optional[float] = None


@dataclass(frozen=True)
class Environment:
    """One entry of ``environments:`` (a deployment target)."""

    namespace: Optional[str] = None
    format: Optional[str] = None
    storage: Optional[str] = None
    template: Optional[str] = None
    gate: Dict[str, GateRule] = field(default_factory=dict)


@dataclass(frozen=True)
class PushSettings:
    """``push:``: what ``git push`` and ``mvtools push`` do with registry tags and DVC bytes
    (:mod:`mvtools.prepush`)."""

    dvc: Literal["check", "auto", "off"] = "check"
    # a plain `git push` of registering commits: send their tags and bytes too, or refuse
    on_git_push: Literal["send", "refuse"] = "send"


@dataclass(frozen=True)
class Settings:
    """The whole of mvtools.yaml."""

    mvtools: Literal[1] = 1  # the format's version
    scheme: Literal["semver", "timestamp"] = "semver"
    registry_dir: str = "registry"
    stages: List[str] = field(default_factory=lambda: list(DEFAULT_STAGES), metadata={"min_length": 1})
    models: Optional[List[ModelEntry]] = None
    compare: CompareSettings = field(default_factory=CompareSettings)
    policy: PolicySettings = field(default_factory=PolicySettings)
    environments: Dict[str, Optional[Environment]] = field(default_factory=dict)
    push: PushSettings = field(default_factory=PushSettings)
    promotes_from: Dict[str, str] = field(default_factory=dict)
    # a git-tracked model above this size (MiB) gets a warning naming `dvc add`; 0: never
    git_model_warn_mib: float = field(default=100.0, metadata={"min": 0})
    # environment files recorded with each version besides the usual ones (mvtools.environment)
    environment_files: List[str] = field(default_factory=list)


# -- the checker ----------------------------------------------------------------------------
_NAMES: Dict[Any, str] = {str: "a string", float: "a number", int: "an integer", bool: "true or false",
                          type(None): "null", list: "a list", dict: "a mapping"}


def _kind(value: Any) -> str:
    for tp in (bool, type(None), str, int, float, list, dict):  # bool before int: True is an int
        if isinstance(value, tp):
            return _NAMES[tp]
    return type(value).__name__


def _expected(tp: Any) -> str:
    """What a type accepts, in a YAML user's words."""
    if dataclasses.is_dataclass(tp):
        return "a mapping"
    if get_origin(tp) is Union:
        words = list(dict.fromkeys(_expected(a) for a in get_args(tp)))
        return " or ".join(words) if len(words) < 3 else ", ".join(words[:-1]) + " or " + words[-1]
    return _NAMES.get(get_origin(tp) or tp, str(tp))


def _join(path: str, key: object) -> str:
    return f"{path}.{key}" if path else str(key)


class _Checker:
    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, path: str, message: str) -> ConfigError:
        return ConfigError(f"{self.source}: {path or '(top level)'}: {message}")

    def check(self, value: Any, tp: Any, path: str, meta: Any = None) -> Any:
        origin = get_origin(tp)
        if dataclasses.is_dataclass(tp):
            return self.record(value, tp, path)
        if origin is Union:
            return self.union(value, tp, path, meta)
        if origin is Literal:
            choices = get_args(tp)
            if not any(value == c and type(value) is type(c) for c in choices):
                raise self.fail(path, f"must be one of {', '.join(map(str, choices))}, not {value!r}")
            return value
        if origin is list:
            if not isinstance(value, list):
                raise self.fail(path, f"expected a list, got {_kind(value)}")
            if meta and len(value) < meta.get("min_length", 0):
                raise self.fail(path, f"expected a list of length >= {meta['min_length']}")
            return [self.check(v, get_args(tp)[0], f"{path}[{i}]") for i, v in enumerate(value)]
        if origin is dict:
            if not isinstance(value, dict):
                raise self.fail(path, f"expected a mapping, got {_kind(value)}")
            for key in value:
                if not isinstance(key, str):
                    raise self.fail(_join(path, key), f"keys must be strings, not {key!r}")
            return {k: self.check(v, get_args(tp)[1], _join(path, k)) for k, v in value.items()}
        return self.scalar(value, tp, path, meta)

    def scalar(self, value: Any, tp: Any, path: str, meta: Any) -> Any:
        if tp is float:
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise self.fail(path, f"expected a number, got {_kind(value)}")
            if value != value or value in (float("inf"), float("-inf")):  # .nan, .inf in YAML
                raise self.fail(path, f"expected a finite number, not {value}")
            if meta and "min" in meta and value < meta["min"]:
                raise self.fail(path, f"expected a number >= {meta['min']}")
            return float(value)
        if tp is type(None):
            if value is not None:
                raise self.fail(path, f"expected null, got {_kind(value)}")
            return None
        if not isinstance(value, tp) or (tp is int and isinstance(value, bool)):
            raise self.fail(path, f"expected {_NAMES.get(tp, tp.__name__)}, got {_kind(value)}")
        return value

    def union(self, value: Any, tp: Any, path: str, meta: Any) -> Any:
        """The member of the union whose kind the value has (YAML values carry their kind)."""
        for arg in get_args(tp):
            shape = dict if dataclasses.is_dataclass(arg) else (get_origin(arg) or arg)
            if shape is Literal:
                shape = type(get_args(arg)[0])
            if isinstance(value, shape) and not (shape in (int, float) and isinstance(value, bool)) \
                    or (shape is float and isinstance(value, int) and not isinstance(value, bool)):
                return self.check(value, arg, path, meta)
        raise self.fail(path, f"expected {_expected(tp)}, got {_kind(value)}")

    def record(self, value: Any, cls: Any, path: str) -> Any:
        if not isinstance(value, dict):
            raise self.fail(path, f"expected a mapping, got {_kind(value)}")
        fields = {f.name: f for f in dataclasses.fields(cls)}
        hints = _hints(cls)
        for key in value:
            if key not in fields:
                import difflib  # only when a key is wrong

                near = difflib.get_close_matches(str(key), list(fields), n=1, cutoff=0.6)
                hint = f"did you mean {near[0]}?" if near else f"known keys: {', '.join(fields)}"
                raise self.fail(_join(path, key), f"unknown key ({hint})")
        for name, f in fields.items():
            required = f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
            if required and name not in value:
                raise self.fail(path, f"missing required key {name}")
        return cls(**{k: self.check(v, hints[k], _join(path, k), fields[k].metadata) for k, v in value.items()})


_HINTS: Dict[type, Dict[str, Any]] = {}


def _hints(cls: type) -> Dict[str, Any]:
    if cls not in _HINTS:
        _HINTS[cls] = get_type_hints(cls)
    return _HINTS[cls]


def parse_settings(doc: Any, source: str = CONFIG_FILE) -> Settings:
    """Check a loaded mvtools.yaml document against the schema; one-line ConfigError (exit 2)
    naming the key path otherwise."""
    if doc is None:
        doc = {}
    if not isinstance(doc, dict):
        raise ConfigError(f"{source}: expected a mapping at the top level")
    settings: Settings = _Checker(source).check(doc, Settings, "")
    unknown = sorted((set(settings.promotes_from) | set(settings.promotes_from.values())) - set(settings.stages))
    if unknown:
        raise ConfigError(f"{source}: promotes_from: unknown stage {unknown[0]!r} "
                          f"(stages: {', '.join(settings.stages)})")
    return settings


def as_dict(section: Any) -> Dict[str, Any]:
    """A section as a plain mapping (for code that reads declarations from either file)."""
    return dataclasses.asdict(section)


__all__: Tuple[str, ...] = ("CONFIG_FILE", "CompareSettings", "Environment", "GateRule", "ModelEntry",
                            "PolicySettings", "PushSettings", "Settings", "as_dict", "parse_settings")
