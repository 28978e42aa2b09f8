"""Typed API results: history, show, a model's state and versions, retrieval, push, restore,
compare, sync-tags, verify and deploy status; see ``mvtools.domain``."""

from __future__ import annotations

from dataclasses import dataclass, fields
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Mapping

from mvtools.domain.events import Event, RegisterEvent, freeze, thaw

if TYPE_CHECKING:
    from mvtools.state import ModelState


# -- history -------------------------------------------------------------------------------
_HISTORY_KEYS = ("event", "version", "tag", "stage", "sha256", "size", "md5", "timestamp", "actor", "metrics",
                 "params")


@dataclass(frozen=True)
class _Record:
    """A flat result: its JSON document is its fields, in order (frozen values thawed)."""

    def to_json(self) -> dict[str, Any]:
        return {f.name: thaw(getattr(self, f.name)) for f in fields(self)}


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
class BrokenModel(_Record):
    """A model whose ledger cannot be read, with the one-line cause."""

    name: str
    error: str


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
class Retrieved(_Record):
    """``mvtools get``: the version's bytes written to ``path``, checked against ``sha256``."""

    model: str
    version: str
    path: str
    sha256: str
    commit: str


@dataclass(frozen=True)
class Pushed(_Record):
    """``mvtools push``: the branch and ``tags`` registry tags pushed to ``remote``; the
    provisional versions and stage tags renumbered (``OLD -> NEW``), pushes retried after
    losing a race, and whether the branch's upstream was set."""

    remote: str
    branch: str
    tags: int
    dvc_files_pushed: int
    renumbered: tuple[str, ...] = ()
    retries: int = 0
    upstream_set: bool = False


@dataclass(frozen=True)
class Restored(_Record):
    """``mvtools restore-events``: the ids of the events appended again, in ``commit``."""

    model: str
    restored: tuple[str, ...]
    commit: str


@dataclass(frozen=True)
class Comparison(_Record):
    """``mvtools compare NAME A B``: baseline ``a`` against candidate ``b`` (docs/compare.md).
    The per-metric, params, artifact and lineage parts are read-only mappings shaped as
    their JSON; NaN metric values stay floats."""

    model: str
    a: str
    b: str
    metrics: Mapping[str, Mapping[str, Any]]
    params: Mapping[str, Mapping[str, Any]]
    artifact: Mapping[str, Any]
    lineage: Mapping[str, Any]
    environment: Mapping[str, Any]
    unknown: Mapping[str, tuple[str, ...]]  # per side, what the version does not record
    similarity: float | None  # None: nothing both versions record to compare
    importance: float | None  # None: no metric both versions report
    relative_change: float | None
    score_basis: str
    threshold: float
    recommendation: str
    nan: Mapping[str, tuple[str, ...]]

    @staticmethod
    def from_dict(doc: Mapping[str, Any]) -> Comparison:
        return Comparison(**{f.name: freeze(doc[f.name]) for f in fields(Comparison)})


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
class TagChange(_Record):
    """A registry tag ``sync-tags`` created or re-pointed, and the commit it names now."""

    tag: str
    commit: str


@dataclass(frozen=True)
class LedgerRestored(_Record):
    """A ledger reset to HEAD's: ``dropped_bytes`` (a decimal string) of events no commit held."""

    ledger: str
    dropped_bytes: str


@dataclass(frozen=True)
class LedgerSkipped(_Record):
    """A ledger HEAD holds that cannot be read: its model's tags were left alone."""

    ledger: str
    reason: str


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
class Finding(_Record):
    """One line of ``mvtools verify``: what kind of check, where, and what was found (with
    the repair to run, when there is one)."""

    kind: str
    where: str
    message: str


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
class DeployStatus(_Record):
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
