"""Tags derived from the ledger: the version tag a registering commit gets, and
``sync-tags``, which makes every registry tag agree with HEAD's ledger (creating missing
ones, re-pointing stage, archive and deprecation tags, dropping events no commit holds)."""

from __future__ import annotations

import re
import time
from typing import Any, TYPE_CHECKING

from mvtools import ledger as L
from mvtools.errors import ConfigError, UsageError
from mvtools.gitops import Repo
from mvtools.reading import RegistryReader
from mvtools.transaction import committing_here
from mvtools.versioning import (archive_message, assign_message, deprecate_message, parse_tag,
                                register_message, stage_tag, unassign_message)

if TYPE_CHECKING:
    from mvtools.domain import SyncResult


_BATCH_HEAD = re.compile(rb"^[0-9a-f]{40,64} (\w+) (\d+)$")


def read_blobs(repo: Repo, specs: list[str]) -> dict[str, bytes | None]:
    """``REV:path`` specs -> content (None when absent or not a blob), in one `git cat-file
    --batch` call, not a process per ledger."""
    if not specs:
        return {}
    data = "".join(f"{s}\n" for s in specs).encode("utf-8", "surrogateescape")
    out = repo.git("cat-file", "--batch", input=data, check=False).stdout
    res: dict[str, bytes | None] = {}
    pos = 0
    for spec in specs:
        nl = out.find(b"\n", pos)
        if nl < 0:
            break
        m = _BATCH_HEAD.match(out[pos:nl])
        pos = nl + 1
        res[spec] = None
        if m is not None:  # "<oid> <type> <size>", then the content and a newline
            size = int(m.group(2))
            if m.group(1) == b"blob":
                res[spec] = out[pos: pos + size]
            pos += size + 1
    return res


class TagSync(RegistryReader):
    """Tag writing and repair."""

    def tag_event(self, ev: dict[str, Any], commit: str) -> tuple[str, bool]:
        """Create the event's tag on ``commit``; an existing tag is left where it is.
        Returns the commit the tag is on and whether it was created now."""
        tag = ev["tag"]
        existing = self.repo.tags(tag)
        if tag in existing:
            return existing[tag][0], False
        self.repo.create_tag(tag, commit, register_message(ev["model"], ev["version"]))
        return commit, True

    def sync_tags(self) -> SyncResult:
        """Make the registry tags agree with HEAD's ledgers: create missing tags (versions on
        the first commit whose ledger holds the event) and re-point stage, archive and
        deprecation tags that point elsewhere, at the event's time so GTO orders them as the
        ledger does. Events only the work tree or the index holds are never tagged, and no
        tag is deleted: a version tag binds its number (``mvtools verify`` says what to do
        with one no ledger records). The tags are written together, in one ref transaction."""
        from mvtools.domain import SyncResult  # off the hooks' import path
        from mvtools.tagwrite import TagWrite, write_tags
        if self.repo.out("rev-parse", "--is-shallow-repository") == "true":
            raise UsageError("shallow clone: the commits that hold older versions are missing; "
                             "run: git fetch --unshallow --tags")
        made: list[dict[str, str]] = []
        moved: list[dict[str, str]] = []
        skipped: list[dict[str, str]] = []
        restored = self._drop_uncommitted()
        tags = self.repo.tags()
        from calendar import timegm

        writes: list[TagWrite] = []
        with self.walking_histories():  # where each missing tag's event was gained: one walk a model
            for name, events in self._committed_events(skipped).items():
                last = 0  # GTO orders a model's tags by time (1 s): keep them in ledger order
                for tag, commit, message, ts in self.expected_tags(name, tags, events):
                    have = tags.get(tag)
                    pt = parse_tag(tag)
                    if have is not None and (have[0] == commit or commit is None or pt is None
                                             or pt.kind == "version"):
                        last = max(last, have[1])
                        continue
                    if commit is None:
                        continue
                    when = max(timegm(time.strptime(ts, "%Y-%m-%dT%H:%M:%SZ")), last + 1)
                    last = when
                    writes.append(TagWrite(tag, commit, message, when, force=have is not None))
                    tags[tag] = (commit, when)
                    (made if have is None else moved).append({"tag": tag, "commit": commit})
        write_tags(self.repo, writes)  # one transaction: every tag, or none
        return SyncResult.from_dict({"created": made, "moved": moved, "restored": restored, "skipped": skipped})

    def _events_at(self, commit: str, name: str) -> list[dict[str, Any]]:
        led = self.ledger_at(commit, name)
        return led.events if led is not None else []

    def _committed_events(self, skipped: list[dict[str, str]]) -> dict[str, list[dict[str, Any]]]:
        """Each model's events as HEAD's ledger holds them; a broken ledger is skipped (and
        said), the other models are still synced."""
        out: dict[str, list[dict[str, Any]]] = {}
        if self.repo.head is None:
            return out
        regdir = self.config.registry_dir
        names = set(self.config.models)
        names.update(L.model_of_ledger(regdir, rel) for rel in L.ledger_files(self.root, regdir))
        rels = {name: self.config.ledger_path(name) for name in sorted(names)}
        blobs = read_blobs(self.repo, [f"HEAD:{rel}" for rel in rels.values()])
        for name, rel in rels.items():
            data = blobs.get(f"HEAD:{rel}")
            if data is None:
                continue
            try:
                out[name] = self.cache.load(data, rel, name).events
            except ConfigError as exc:
                skipped.append({"ledger": rel, "reason": str(exc)})
        return out

    def _drop_uncommitted(self) -> list[dict[str, str]]:
        """A registration killed between writing the ledger and committing it leaves events
        no commit holds (and so no tag). Their bytes were never committed: drop them by
        restoring HEAD's ledger (work tree and index), when the change is only such an append."""
        out: list[dict[str, str]] = []
        if self.repo.head is None or not (self.root / self.config.registry_dir).is_dir():
            return out
        with L.lock(self.repo.common_dir):
            rels = L.ledger_files(self.root, self.config.registry_dir)
            heads = read_blobs(self.repo, [f"HEAD:{rel}" for rel in rels])
            for rel in rels:
                p = self.root / rel
                L.clean_stale(p)
                committed = heads.get(f"HEAD:{rel}")
                data = p.read_bytes()
                if committed is None or data == committed or not data.startswith(committed):
                    continue
                staged = self.repo.show_blob(":" + rel)
                if staged not in (committed, data):
                    continue  # something else is staged: leave it to the user
                model = L.model_of_ledger(self.config.registry_dir, rel)
                if staged != committed and committing_here(self.repo, model):
                    continue  # a commit under way here holds it (paused in its editor): not ours to drop
                # a staged copy is safe to drop too: the next commit's hook registers the
                # staged model again
                L.atomic_write(p, committed)
                if staged != committed:
                    self.repo.git("reset", "-q", "--", rel)
                out.append({"ledger": rel, "dropped_bytes": str(len(data) - len(committed))})
        self._states = None
        return out

    def expected_tags(self, name: str, tags: dict[str, tuple[str, int]],
                      events: list[dict[str, Any]] | None = None) -> list[tuple[str, str | None, str, str]]:
        """Every tag the ledger of ``name`` (or ``events``) implies: (tag, commit it belongs
        on, message, event timestamp). The commit is None when no commit holds the event."""
        st = self.state(name) if events is None else self.fold(name, events)

        def version_commit(version: str | None) -> str | None:
            ev = st.versions.get(version or "")
            return None if ev is None else self.event_commit(ev, tags)

        out: list[tuple[str, str | None, str, str]] = []
        for ev in st.events:
            kind, tag, ts, ver = ev["event"], ev.get("tag"), ev["timestamp"], ev.get("version")
            if not isinstance(tag, str):
                continue
            if kind == "register":
                out.append((tag, self.event_commit(ev, tags), register_message(name, ver), ts))
            elif kind == "promote":
                out.append((tag, version_commit(ver), assign_message(name, ver, ev.get("stage")), ts))
            elif kind == "archive":
                out.append((tag, version_commit(ver), archive_message(name, ver), ts))
            elif kind == "deprecate":
                # where it is, when that commit's own ledger records a deprecation: GTO put it there
                # (imported), or another branch deprecated the model first (the tag is shared)
                held = tags[tag][0] if tag in tags and (ev.get("imported_from") or any(
                    e["event"] == "deprecate" for e in self._events_at(tags[tag][0], name))) else None
                out.append((tag, held or self.commit_holding(name, ev["id"]), deprecate_message(name), ts))
            elif kind == "rollback":
                stage, prev = ev.get("stage"), ev.get("previous")
                pt = parse_tag(tag)
                if pt is not None and pt.kind == "unassign":  # imported from GTO: the unassign itself
                    out.append((tag, version_commit(prev), unassign_message(name, prev, stage), ts))
                    continue
                if pt is None or pt.counter is None:
                    continue  # not a counted stage tag: nothing to recreate
                out.append((stage_tag(name, str(stage), pt.counter - 1, unassign=True), version_commit(prev),
                            unassign_message(name, prev, stage), ts))
                out.append((tag, version_commit(ver), assign_message(name, ver, stage), ts))
        return out
