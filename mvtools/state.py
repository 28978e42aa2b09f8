"""A model's current state: a fold over its ledger events (latest version, stage holders,
archived versions, deprecation). Pure: no git, no files."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from mvtools.versioning import Version


@dataclass
class ModelState:
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


def fold(name: str, events: list[dict[str, Any]]) -> ModelState:
    st = ModelState(name=name, events=events)
    for ev in events:
        kind = ev["event"]
        ver = ev.get("version")
        if kind == "register" and isinstance(ver, str):
            st.versions.setdefault(ver, ev)
        elif kind == "sha256" and isinstance(ver, str) and ver in st.versions:
            # the verified sha256 of a version imported without its bytes (record_sha256.py)
            if st.versions[ver].get("sha256") is None:
                st.versions[ver] = {**st.versions[ver], "sha256": ev["sha256"], "size": ev["size"]}
        elif kind == "archive" and isinstance(ver, str):
            st.archived.add(ver)
            for stack in st.stages.values():  # as GTO: an archived version holds no stage
                stack[:] = [v for v in stack if v != ver]
        elif kind == "deprecate":
            st.deprecated = True
        elif kind == "promote" and isinstance(ver, str) and isinstance(ev.get("stage"), str):
            st.stages.setdefault(ev["stage"], []).append(ver)
        elif kind == "rollback" and isinstance(ev.get("stage"), str):
            stack = st.stages.get(ev["stage"], [])
            if ev.get("withdrawn"):  # an earlier holder withdrawn (GTO unassign); the holder stays
                stack[:] = [v for v in stack if v != ev.get("previous")]
            elif stack:
                stack.pop()
    return st
