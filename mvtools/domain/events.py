"""Typed ledger events (one frozen class per kind) and the conversion from the ledger's dicts;
see ``mvtools.domain``."""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from types import MappingProxyType
from typing import Any, ClassVar, Mapping, TypeVar

_EMPTY: Mapping[str, Any] = MappingProxyType({})


def freeze(value: Any) -> Any:
    """A read-only copy: mappings become ``MappingProxyType``, lists tuples."""
    if isinstance(value, Mapping):
        return MappingProxyType({k: freeze(v) for k, v in value.items()})
    if isinstance(value, (list, tuple)):
        return tuple(freeze(v) for v in value)
    return value


def thaw(value: Any) -> Any:
    """The plain JSON-shaped copy of a frozen value (dicts and lists)."""
    if isinstance(value, Mapping):
        return {k: thaw(v) for k, v in value.items()}
    if isinstance(value, tuple):
        return [thaw(v) for v in value]
    return value


# -- events --------------------------------------------------------------------------------
@dataclass(frozen=True, kw_only=True)
class Event:
    """The fields every ledger event has (docs/ledger.md), plus ``commit``: not a ledger
    field, the commit the event's tag names when the API knows it. Keys the kind does not
    name (``imported_from``, a deploy's ``manifest``...) are kept in ``extra``."""

    kind: ClassVar[str] = ""
    model: str
    actor: str
    timestamp: str
    id: str
    tag: str | None = None
    message: str | None = None
    commit: str | None = None
    extra: Mapping[str, Any] = field(default_factory=lambda: _EMPTY, compare=False)
    keys: tuple[str, ...] = field(default=(), repr=False, compare=False)  # the source dict's key order

    def __post_init__(self) -> None:  # built directly with dicts or lists: freeze them too
        for f in fields(self):
            if isinstance(getattr(self, f.name), (dict, list)):
                object.__setattr__(self, f.name, freeze(getattr(self, f.name)))

    @staticmethod
    def from_dict(doc: Mapping[str, Any]) -> Event:
        """The typed event of a ledger event dict (or of an API result: the event plus
        ``commit`` and any other keys), by its ``event`` kind."""
        cls = _KINDS.get(doc.get("event"))  # type: ignore[arg-type]
        if cls is None:
            raise ValueError(f"unknown event kind {doc.get('event')!r}")
        return cls._build(doc)

    @classmethod
    def _build(cls, doc: Mapping[str, Any]) -> Event:
        names = {f.name for f in fields(cls)} - {"extra", "keys"}
        known = {k: freeze(v) for k, v in doc.items() if k in names}
        extra = {k: freeze(v) for k, v in doc.items() if k not in names and k != "event"}
        return cls(**known, extra=MappingProxyType(extra), keys=tuple(doc))

    def _order(self) -> tuple[str, ...]:
        if self.keys:
            return self.keys
        own = [f.name for f in fields(self) if f.name not in _COMMON]
        opt = [k for k in ("tag", "message", "commit") if getattr(self, k) is not None]
        return ("event", "model", *own, *opt[:2], *self.extra, "actor", "timestamp", "id", *opt[2:])

    def _value(self, key: str) -> Any:
        if key == "event":
            return self.kind
        return thaw(self.extra[key] if key in self.extra else getattr(self, key))

    def ledger_dict(self) -> dict[str, Any]:
        """The event as the ledger holds it (no ``commit``)."""
        return {k: self._value(k) for k in self._order() if k != "commit"}

    def to_json(self) -> dict[str, Any]:
        """The JSON document: the ledger event, then ``commit`` when known (as ``mvtools
        register/promote/... --json`` print it)."""
        return {k: self._value(k) for k in self._order()}

    def with_commit(self, commit: str | None) -> Event:
        keys = self.keys if not self.keys or "commit" in self.keys else (*self.keys, "commit")
        return replace(self, commit=commit, keys=keys)

    def get(self, key: str, default: Any = None) -> Any:
        """A field by its JSON name (``ev.get("stage")``), ``default`` when the kind has none."""
        if key in self.extra or any(f.name == key for f in fields(self)) or key == "event":
            return self._value(key)
        return default


_COMMON = ("model", "actor", "timestamp", "id", "tag", "message", "commit", "extra", "keys")


@dataclass(frozen=True, kw_only=True)
class RegisterEvent(Event):
    kind: ClassVar[str] = "register"
    version: str
    path: str | None = None  # None (also sha256, size): imported from GTO, not known at its commit
    sha256: str | None = None
    size: int | None = None
    md5: str | None = None
    metrics: Mapping[str, Any] | None = None
    params: Mapping[str, Any] | None = None
    lineage: Mapping[str, Any] | None = None
    environment: Mapping[str, Any] | None = None  # absent in events older than the field


@dataclass(frozen=True, kw_only=True)
class PromoteEvent(Event):
    kind: ClassVar[str] = "promote"
    version: str
    stage: str


@dataclass(frozen=True, kw_only=True)
class ArchiveEvent(Event):
    kind: ClassVar[str] = "archive"
    version: str


@dataclass(frozen=True, kw_only=True)
class DeprecateEvent(Event):
    kind: ClassVar[str] = "deprecate"


@dataclass(frozen=True, kw_only=True)
class RollbackEvent(Event):
    """``version`` is the holder restored (None: a GTO unassign left the stage empty)."""

    kind: ClassVar[str] = "rollback"
    stage: str
    version: str | None = None
    previous: str | None = None
    withdrawn: bool | None = None


@dataclass(frozen=True, kw_only=True)
class DeployEvent(Event):
    """A deployment step (``env``, ``action``, ``state``) or a publish (``action:
    publish``, ``uri`` in ``extra``, no env); the ledger requires none of these fields."""

    kind: ClassVar[str] = "deploy"
    env: str | None = None
    action: str | None = None
    state: Mapping[str, Any] | None = None
    version: str | None = None


@dataclass(frozen=True, kw_only=True)
class Sha256Event(Event):
    """The verified sha256 of a version imported from GTO without its bytes (``mvtools
    record-sha256``): bytes of DVC md5 ``md5`` and ``size`` hash to ``sha256``."""

    kind: ClassVar[str] = "sha256"
    version: str
    sha256: str
    size: int
    md5: str | None = None


_KINDS: dict[str, type[Event]] = {c.kind: c for c in (RegisterEvent, PromoteEvent, ArchiveEvent,
                                                      DeprecateEvent, RollbackEvent, DeployEvent, Sha256Event)}


def event_from_dict(doc: Mapping[str, Any]) -> Event:
    return Event.from_dict(doc)


_E = TypeVar("_E", bound=Event)


def api_result(ev: Mapping[str, Any], commit: str | None, cls: type[_E], **more: Any) -> _E:
    """What a writing API method returns: the event it appended, typed, with the commit
    its tag names (its JSON is ``{**event, "commit": commit, **more}``, as ``--json`` prints;
    a deploy step adds its ``manifest``)."""
    out = Event.from_dict({**ev, "commit": commit, **more})
    if not isinstance(out, cls):
        raise TypeError(f"{ev.get('event')!r} event is not a {cls.kind}")
    return out


