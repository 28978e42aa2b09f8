"""The typed domain model the Python API returns: immutable dataclasses for each ledger
event kind, a model version, a model's state, the ``show``/``history`` documents and the
results of ``sync-tags``, ``verify`` and ``deploy status``.

Each object is built from the plain dict the ledger (and the fold over it) uses, with
``from_dict``, in one place per API method; ``to_json()`` gives back exactly that dict, in
its key order, so ``--json`` is the objects' serialisation. Nested mappings are read-only
(``types.MappingProxyType``) and lists are tuples; ``to_json()`` thaws them. Metrics keep
their float values, NaN included (the CLI prints those as strings). Standard library only:
the hooks import this module's users.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, ClassVar, Mapping, TypeVar

if TYPE_CHECKING:
    from mvtools.state import ModelState

__all__ = ["ArchiveEvent", "BrokenModel", "Comparison", "DeployEvent", "DeployStatus", "DeprecateEvent", "Event",
           "Finding", "History", "LedgerRestored", "LedgerSkipped", "ModelSummary", "ModelVersion", "ModelView",
           "PromoteEvent", "Pushed", "RegisterEvent", "Restored", "Retrieved", "RollbackEvent", "Show", "SyncResult",
           "TagChange", "VerifyReport", "api_result", "event_from_dict"]

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
    path: str
    sha256: str
    size: int
    md5: str | None = None
    metrics: Mapping[str, Any] | None = None
    params: Mapping[str, Any] | None = None
    lineage: Mapping[str, Any] | None = None


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


_KINDS: dict[str, type[Event]] = {c.kind: c for c in (RegisterEvent, PromoteEvent, ArchiveEvent,
                                                      DeprecateEvent, RollbackEvent, DeployEvent)}


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


# -- history -------------------------------------------------------------------------------
_HISTORY_KEYS = ("event", "version", "tag", "stage", "sha256", "size", "md5", "timestamp", "actor", "metrics",
                 "params")


@dataclass(frozen=True)
class History:
    """``mvtools history NAME``: the model's events in ledger order, each with ``commit``."""

    model: str
    events: tuple[Event, ...]

    def to_json(self) -> dict[str, Any]:
        rows = []
        for ev in self.events:
            led = ev.ledger_dict()
            row = {k: led.get(k) for k in _HISTORY_KEYS}
            row.update({k: v for k, v in led.items() if k not in row})
            row["commit"] = ev.commit
            rows.append(row)
        return {"model": self.model, "events": rows}


# -- show ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class ModelSummary:
    """One row of ``mvtools show``: ``versions`` counts the registered versions."""

    name: str
    latest: str | None
    versions: int
    stages: Mapping[str, str]
    deprecated: bool
    path: str | None

    def __post_init__(self) -> None:
        object.__setattr__(self, "stages", MappingProxyType(dict(self.stages)))

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "latest": self.latest, "versions": self.versions, "stages": dict(self.stages),
                "deprecated": self.deprecated, "path": self.path}


@dataclass(frozen=True)
class BrokenModel:
    """A model whose ledger cannot be read, with the one-line cause."""

    name: str
    error: str

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "error": self.error}


@dataclass(frozen=True)
class Show:
    models: tuple[ModelSummary, ...]
    broken: tuple[BrokenModel, ...] = ()

    def to_json(self) -> dict[str, Any]:
        doc: dict[str, Any] = {"models": [m.to_json() for m in self.models]}
        if self.broken:
            doc["broken"] = [b.to_json() for b in self.broken]
        return doc


# -- results of retrieving, pushing, restoring ----------------------------------------------
@dataclass(frozen=True)
class Retrieved:
    """``mvtools get``: the version's bytes written to ``path``, checked against ``sha256``."""

    model: str
    version: str
    path: str
    sha256: str
    commit: str

    def to_json(self) -> dict[str, Any]:
        return {"model": self.model, "version": self.version, "path": self.path, "sha256": self.sha256,
                "commit": self.commit}


@dataclass(frozen=True)
class Pushed:
    """``mvtools push``: the branch and ``tags`` registry tags pushed to ``remote``."""

    remote: str
    branch: str
    tags: int
    dvc_files_pushed: int

    def to_json(self) -> dict[str, Any]:
        return {"remote": self.remote, "branch": self.branch, "tags": self.tags,
                "dvc_files_pushed": self.dvc_files_pushed}


@dataclass(frozen=True)
class Restored:
    """``mvtools restore-events``: the ids of the events appended again, in ``commit``."""

    model: str
    restored: tuple[str, ...]
    commit: str

    def to_json(self) -> dict[str, Any]:
        return {"model": self.model, "restored": list(self.restored), "commit": self.commit}


@dataclass(frozen=True)
class Comparison:
    """``mvtools compare NAME A B``: baseline ``a`` against candidate ``b`` (docs/compare.md).
    The per-metric, params, artifact and lineage parts are read-only mappings shaped as
    their JSON; NaN metric values stay floats."""

    model: str
    a: str
    b: str
    metrics: Mapping[str, Mapping[str, Any]]
    params: Mapping[str, Mapping[str, Any]]
    artifact: Mapping[str, Any]
    lineage: Mapping[str, Mapping[str, Any]]
    similarity: float
    importance: float
    relative_change: float | None
    score_basis: str
    threshold: float
    recommendation: str
    nan: Mapping[str, tuple[str, ...]]

    @staticmethod
    def from_dict(doc: Mapping[str, Any]) -> Comparison:
        return Comparison(**{f.name: freeze(doc[f.name]) for f in fields(Comparison)})

    def to_json(self) -> dict[str, Any]:
        return {f.name: thaw(getattr(self, f.name)) for f in fields(self)}


# -- a model's state -----------------------------------------------------------------------
@dataclass(frozen=True)
class ModelVersion:
    """A registered version: its register event, whether it is archived and the stages
    it holds now."""

    register: RegisterEvent
    archived: bool
    stages: tuple[str, ...]

    @property
    def version(self) -> str:
        return self.register.version

    def to_json(self) -> dict[str, Any]:
        return {**self.register.to_json(), "archived": self.archived, "stages": list(self.stages)}


@dataclass(frozen=True)
class ModelView:
    """A read-only view of a model's state (the fold of its ledger, mvtools.state)."""

    name: str
    latest: str | None
    deprecated: bool
    stages: Mapping[str, str]  # stage -> current holder
    versions: Mapping[str, ModelVersion]  # in registration order
    events: tuple[Event, ...]

    @staticmethod
    def from_state(st: ModelState) -> ModelView:
        holders = st.stage_holders()
        versions = {v: ModelVersion(_register(ev), v in st.archived,
                                    tuple(s for s, h in holders.items() if h == v))
                    for v, ev in st.versions.items()}
        return ModelView(st.name, st.latest, st.deprecated, MappingProxyType(dict(holders)),
                         MappingProxyType(versions), tuple(Event.from_dict(e) for e in st.events))

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "latest": self.latest, "deprecated": self.deprecated,
                "stages": dict(self.stages), "versions": [v.to_json() for v in self.versions.values()]}


def _register(ev: Mapping[str, Any]) -> RegisterEvent:
    out = Event.from_dict(ev)
    assert isinstance(out, RegisterEvent)
    return out


# -- sync-tags -----------------------------------------------------------------------------
@dataclass(frozen=True)
class TagChange:
    """A registry tag ``sync-tags`` created or re-pointed, and the commit it names now."""

    tag: str
    commit: str

    def to_json(self) -> dict[str, Any]:
        return {"tag": self.tag, "commit": self.commit}


@dataclass(frozen=True)
class LedgerRestored:
    """A ledger reset to HEAD's: ``dropped_bytes`` (a decimal string) of events no commit held."""

    ledger: str
    dropped_bytes: str

    def to_json(self) -> dict[str, Any]:
        return {"ledger": self.ledger, "dropped_bytes": self.dropped_bytes}


@dataclass(frozen=True)
class LedgerSkipped:
    """A ledger HEAD holds that cannot be read: its model's tags were left alone."""

    ledger: str
    reason: str

    def to_json(self) -> dict[str, Any]:
        return {"ledger": self.ledger, "reason": self.reason}


@dataclass(frozen=True)
class SyncResult:
    """``mvtools sync-tags``: what it mended, and the broken ledgers it skipped (exit 1)."""

    created: tuple[TagChange, ...] = ()
    moved: tuple[TagChange, ...] = ()
    restored: tuple[LedgerRestored, ...] = ()
    skipped: tuple[LedgerSkipped, ...] = ()

    @staticmethod
    def from_dict(doc: Mapping[str, Any]) -> SyncResult:
        return SyncResult(tuple(TagChange(**m) for m in doc.get("created", ())),
                          tuple(TagChange(**m) for m in doc.get("moved", ())),
                          tuple(LedgerRestored(**m) for m in doc.get("restored", ())),
                          tuple(LedgerSkipped(**m) for m in doc.get("skipped", ())))

    def to_json(self) -> dict[str, Any]:
        return {"created": [m.to_json() for m in self.created], "moved": [m.to_json() for m in self.moved],
                "restored": [m.to_json() for m in self.restored], "skipped": [m.to_json() for m in self.skipped]}


# -- verify --------------------------------------------------------------------------------
@dataclass(frozen=True)
class Finding:
    """One line of ``mvtools verify``: what kind of check, where, and what was found (with
    the repair to run, when there is one)."""

    kind: str
    where: str
    message: str

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "where": self.where, "message": self.message}


@dataclass(frozen=True)
class VerifyReport:
    """``mvtools verify``: problems (exit 1), warnings, notes, and what was not checked."""

    problems: tuple[Finding, ...] = ()
    warnings: tuple[Finding, ...] = ()
    notes: tuple[Finding, ...] = ()
    unchecked: tuple[Finding, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.problems

    @staticmethod
    def from_dict(doc: Mapping[str, Any]) -> VerifyReport:
        def items(key: str) -> tuple[Finding, ...]:
            return tuple(Finding(**f) for f in doc.get(key, ()))

        return VerifyReport(items("problems"), items("warnings"), items("notes"), items("unchecked"))

    def to_json(self) -> dict[str, Any]:
        return {"ok": self.ok, "problems": [f.to_json() for f in self.problems],
                "warnings": [f.to_json() for f in self.warnings], "notes": [f.to_json() for f in self.notes],
                "unchecked": [f.to_json() for f in self.unchecked]}


# -- deployments ---------------------------------------------------------------------------
@dataclass(frozen=True)
class DeployStatus:
    """``mvtools deploy status``: what runs in ``env`` (the fold of its deploy events)."""

    model: str
    env: str
    strategy: str | None
    stable: str | None
    candidate: str | None
    percent: int
    slots: Mapping[str, str | None]
    live_slot: str | None

    def __post_init__(self) -> None:
        object.__setattr__(self, "slots", freeze(self.slots))

    def to_json(self) -> dict[str, Any]:
        return {f.name: thaw(getattr(self, f.name)) for f in fields(self)}
