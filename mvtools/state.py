"""A model's current state: a fold over its ledger events (latest version, stage holders,
archived versions, deprecation). Pure: no git, no files.

mvtools' own events fold in ledger order. Events imported from GTO (``imported_from: gto``)
fold in GTO's order, whatever their place in the file: by their tag's time (``timestamp``),
at equal times an addition before its cancellation (GTO's "most recent event" is the last of
``registrations + deregistrations`` and ``assignments + unassignments`` sorted by time, so a
deregistration or unassignment in the same second wins) and then by tag name (GTO reads the
tags sorted by name). The two sequences merge by timestamp, mvtools' own event first on a tie.
An imported event means what the tag means to GTO (gto/base.py):

* a registration makes the version active again after a deregistration imported from GTO
  (mvtools' own archive is final);
* a deregistration makes it inactive: it is not latest and holds no stage, but its stage
  assignments stay, as GTO keeps them;
* an unassignment (an imported ``rollback``, ``previous`` = the version the unassign tag's
  commit holds) takes that version out of the stage, wherever it stood: the stage's holder
  is the version assigned most recently among those still assigned;
* a deprecation imported from GTO lasts until the next imported event of the model (mvtools'
  own deprecation is final);
* with ``stages`` given (``.gto``'s list), stage tags of other stages are ignored, as GTO
  leaves them out of ``gto show``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable

from mvtools.versioning import Version

# GTO's tie order within one second: a deprecation first (any other event of the artifact in
# that second keeps it active), then additions, then cancellations
_RANK = {"deprecate": 0, "register": 1, "promote": 1, "archive": 2, "rollback": 2}


@dataclass
class ModelState:
    """One model's state, folded from its ledger's events."""

    name: str
    versions: dict[str, dict[str, Any]] = field(default_factory=dict)  # version -> register event
    archived: set[str] = field(default_factory=set)
    stages: dict[str, list[str]] = field(default_factory=dict)  # stage -> stack of versions
    deprecated: bool = False
    events: list[dict[str, Any]] = field(default_factory=list)

    @property
    def latest(self) -> str | None:
        """The highest live version: semver precedence; timestamp versions by time, then by
        registration order (two registered in the same second)."""
        order = {v: i for i, v in enumerate(self.versions)}
        live = [v for v in self.versions if v not in self.archived]
        return max(live, key=lambda v: (Version(v)._key(), order[v])) if live else None

    def stage_holders(self) -> dict[str, str]:
        """Each stage's current holder; as in GTO, an archived version holds no stage."""
        out = {}
        for s, stack in self.stages.items():
            live = [v for v in stack if v not in self.archived]
            if live:
                out[s] = live[-1]
        return out


def is_imported(ev: dict[str, Any]) -> bool:
    return ev.get("imported_from") == "gto"


def gto_key(ev: dict[str, Any]) -> tuple[str, int, str]:
    """An imported event's place in GTO's order: tag time, addition before cancellation, tag name."""
    return (str(ev.get("timestamp")), _RANK.get(ev["event"], 1), str(ev.get("tag") or ""))


def fold_order(events: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """The events in the order their meaning is folded (see the module docstring)."""
    native: list[dict[str, Any]] = []
    imported: list[dict[str, Any]] = []
    for ev in events:
        (imported if is_imported(ev) else native).append(ev)
    if not imported:
        return native
    imported.sort(key=gto_key)
    out: list[dict[str, Any]] = []
    i = j = 0
    while i < len(native) and j < len(imported):
        if str(imported[j].get("timestamp", "")) < str(native[i].get("timestamp", "")):
            out.append(imported[j])
            j += 1
        else:
            out.append(native[i])
            i += 1
    return out + native[i:] + imported[j:]


def fold(name: str, events: list[dict[str, Any]], stages: tuple[str, ...] | None = None) -> ModelState:
    st = ModelState(name=name, events=events)
    gto_deprecated = False
    gto_archived: set[str] = set()  # versions archived by GTO only: a GTO registration revives them
    for ev in fold_order(events):
        kind = ev["event"]
        ver = ev.get("version")
        gto = is_imported(ev)
        if gto and kind != "deprecate" and gto_deprecated:
            st.deprecated = gto_deprecated = False  # GTO: deprecated while its last event is the deprecation
        if gto and kind in ("promote", "rollback") and stages is not None and ev.get("stage") not in stages:
            continue
        if kind == "register" and isinstance(ver, str):
            st.versions.setdefault(ver, ev)
            if gto and ver in gto_archived:  # re-registered in GTO (mvtools' own archive is final)
                st.archived.discard(ver)
                gto_archived.discard(ver)
        elif kind == "sha256" and isinstance(ver, str) and ver in st.versions:
            # the verified sha256 of a version imported without its bytes (record_sha256.py)
            if st.versions[ver].get("sha256") is None:
                st.versions[ver] = {**st.versions[ver], "sha256": ev["sha256"], "size": ev["size"]}
        elif kind == "archive" and isinstance(ver, str):
            if gto and ver not in st.archived:
                gto_archived.add(ver)
            elif not gto:
                gto_archived.discard(ver)
            st.archived.add(ver)
            if not gto:  # mvtools' archive is final: the version leaves every stage
                for stack in st.stages.values():
                    stack[:] = [v for v in stack if v != ver]
        elif kind == "deprecate":
            gto_deprecated = gto and (gto_deprecated or not st.deprecated)  # mvtools' own is final
            st.deprecated = True
        elif kind == "promote" and isinstance(ver, str) and isinstance(ev.get("stage"), str):
            st.stages.setdefault(ev["stage"], []).append(ver)
        elif kind == "rollback" and isinstance(ev.get("stage"), str):
            stack = st.stages.get(ev["stage"], [])
            if gto or ev.get("withdrawn"):  # GTO's unassign: that version leaves the stage; mvtools'
                stack[:] = [v for v in stack if v != ev.get("previous")]  # withdrawal: the holder stays
            elif stack:
                stack.pop()
    return st
