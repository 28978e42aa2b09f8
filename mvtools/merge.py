"""The git merge driver for ledger files: the merge holds the union of both sides' events.

Installed by ``mvtools init`` (``.gitattributes``: ``registry/*.yaml merge=mvtools-ledger``,
and ``merge.mvtools-ledger.driver`` in the repo's git config). Order is deterministic and
independent of which side is "ours": the events of the merge base in their order, then
every other event sorted by (timestamp, version, id). The same NAME@VERSION registered with
different bytes on the two sides is a conflict: the driver writes the union, names the
conflict and exits 1, so git stops the merge for the user to resolve.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mvtools import ledger as L
from mvtools.errors import ConfigError
from mvtools.gitops import Repo, git_ancestors

if TYPE_CHECKING:  # versioning imports semver; merge imports it only when it sorts
    from mvtools.versioning import SortKey

DRIVER = "mvtools-ledger"


def _order(ev: dict[str, Any]) -> tuple[str, SortKey, str]:
    """Time first (1 s resolution), then versions in semver order, then the id: total and
    independent of which side an event came from."""
    from mvtools.versioning import Version

    ver = ev.get("version")
    vkey: SortKey = (2, "")
    if ev["event"] == "register" and isinstance(ver, str):
        try:
            vkey = Version.parse(ver)._key()
        except Exception:  # noqa: BLE001 - a malformed version sorts last
            pass
    return (ev["timestamp"], vkey, ev["id"])


def union(base: L.Ledger | None, sides: list[L.Ledger]) -> tuple[list[dict[str, Any]], list[str]]:
    seen: set[str] = set()
    out: list[dict[str, Any]] = []
    for ev in base.events if base else []:
        if ev["id"] not in seen:
            seen.add(ev["id"])
            out.append(ev)
    rest: dict[str, dict[str, Any]] = {}
    for side in sides:
        for ev in side.events:
            if ev["id"] not in seen:
                rest[ev["id"]] = ev
    out += sorted(rest.values(), key=_order)
    return out, conflicts_in(out)


def conflicts_in(out: list[dict[str, Any]]) -> list[str]:
    conflicts = []
    by_version: dict[str, dict[str, Any]] = {}
    for ev in out:
        if ev["event"] != "register":
            continue
        prev = by_version.get(ev["version"])
        if prev is not None and L.bytes_key(prev) != L.bytes_key(ev):
            conflicts.append(f"{ev['model']}@{ev['version']} registered twice with different bytes "
                             f"({str(prev['sha256'] or prev['md5'])[:12]} and {str(ev['sha256'] or ev['md5'])[:12]})")
        by_version.setdefault(ev["version"], ev)
    return conflicts


def replay(base: L.Ledger | None, ours: L.Ledger, theirs: L.Ledger) -> list[dict[str, Any]]:
    """Rebase, cherry-pick, revert: the new commit has one parent (ours) and must extend it
    byte for byte, so ours stays a prefix and only the events theirs added follow it."""
    have = set(ours.ids) | set(base.ids if base else [])
    return list(ours.events) + [e for e in theirs.events if e["id"] not in have]


REPLAYS = (b"rebase", b"cherry-pick", b"revert", b"am")


def _replaying() -> bool:
    """Is git replaying commits (rebase, cherry-pick, revert, am) rather than merging?"""
    try:
        gd = Repo.discover(".").git_dir
        if any((gd / m).exists() for m in ("rebase-merge", "rebase-apply", "sequencer",
                                           "CHERRY_PICK_HEAD", "REVERT_HEAD")):
            return True
    except Exception:  # noqa: BLE001 - fall through to the process check
        pass
    for argv in git_ancestors():  # git's own command line, as the amend check reads it
        sub = [a for a in argv[1:] if a and not a.startswith(b"-")]
        if sub and (sub[0] in REPLAYS or (sub[0] == b"pull" and b"--rebase" in argv)):
            return True
    return False


def merge_files(base: Path, ours: Path, theirs: Path, name: str) -> int:
    def load(p: Path) -> L.Ledger | None:
        data = p.read_bytes() if p.exists() else b""
        return L.parse(data, name) if data.strip() else None

    try:
        b, o, t = load(base), load(ours), load(theirs)
    except ConfigError as exc:
        print(f"mvtools: error: merge driver: {exc}", file=sys.stderr)
        return 1
    sides = [x for x in (o, t) if x is not None]
    if not sides:
        return 0
    model = sides[0].model
    events, conflicts = union(b, sides)
    if _replaying() and o is not None and t is not None:
        events = replay(b, o, t)
        conflicts = conflicts_in(events)
        data = (ours.read_bytes() if ours.exists() else L.header(model).encode()) + \
            L.render_events(events[len(o.events):]).encode()
    else:
        data = L.header(model).encode() + L.render_events(events).encode()
    L.atomic_write(ours, data)
    for c in conflicts:
        print(f"mvtools: error: {name}: {c}; this clone's number is provisional: run: mvtools resolve "
              "(renumbers it after the published one; docs/teams.md)", file=sys.stderr)
    return 1 if conflicts else 0


def main(argv: list[str]) -> int:
    if len(argv) != 4:
        print("mvtools: error: usage: mvtools merge-driver BASE OURS THEIRS PATH", file=sys.stderr)
        return 2
    return merge_files(Path(argv[0]), Path(argv[1]), Path(argv[2]), argv[3])
