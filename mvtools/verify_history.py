"""verify's history checks, read in bulk (issue 14): invariant I3 (every commit's ledger
change keeps the ledger append-only) and I2 (content a commit introduced that no register
event records), over one ``git log --raw`` stream and one persistent ``git cat-file``.

Each ledger blob is parsed once. A blob that byte-extends its parent's, where git's YAML
could only read the appended bytes as more events (the parent ends on a line of its
``events:`` list), has only its appended tail parsed; every other change (a rewrite, a
merge, a deletion, a tail that does not parse alone) is judged on the whole bytes exactly as
:func:`mvtools.ledger.check_ledger_change` judges it, so the findings are those of a full
parse of every commit's ledger.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mvtools import ledger as L
from mvtools.artifacts import Source, find_record
from mvtools.errors import ConfigError
from mvtools.gitbulk import CatFile, Change, literal, log_changes
from mvtools.yamlio import MAX_DEPTH, load_yaml

if TYPE_CHECKING:
    from mvtools.baseline import Baseline
    from mvtools.config import Model
    from mvtools.registry import Registry
    from mvtools.verify import Report


class _Chain:
    """One line of appends: its events, and the versions they register: version -> (index
    of its first register event, its bytes key)."""

    __slots__ = ("versions", "events")

    def __init__(self, versions: dict[str, tuple[int, Any]], events: list[dict[str, Any]]) -> None:
        self.versions, self.events = versions, events

    @property
    def length(self) -> int:
        return len(self.events)


@dataclass
class _State:
    """A ledger blob that parses: its model, its first ``n`` events of ``chain``, and whether
    bytes appended to it after its last line can only be more events."""

    model: str
    chain: _Chain
    n: int
    appendable: bool

    def key(self, version: str) -> Any:
        e = self.chain.versions.get(version)
        return e[1] if e is not None and e[0] < self.n else None


def _appendable(data: bytes, start: int = 0) -> bool | None:
    """Scanning ``data[start:]`` from its end: True when its last top-level line other than
    an events item is ``events:``, False when another, None when it holds none."""
    if not data.endswith(b"\n"):
        return False
    for line in reversed(data[start:].split(b"\n")):
        if not line or line[:1] in (b" ", b"\t", b"#") or line.startswith(b"- ") or line == b"-":
            continue
        return line.rstrip() == b"events:"
    return None


class LedgerBlobs:
    """Ledger blobs by id, each parsed once (a byte-extension: its tail only)."""

    def __init__(self, cat: CatFile) -> None:
        self.cat = cat
        self.states: dict[str, _State | None] = {}  # blob id -> state (None: does not parse)
        self._last: dict[str, tuple[str, bytes]] = {}  # path -> the blob read last for it
        self._parsed: dict[str, L.Ledger | ConfigError] = {}  # full parses of the slow path
        self.ready: tuple[str, bytes] | None = None  # the blob the walk streamed for the change judged now

    def data(self, oid: str, path: str) -> bytes:
        last = self._last.get(path)
        if last is not None and last[0] == oid:
            return last[1]
        if self.ready is not None and self.ready[0] == oid:
            data = self.ready[1]
        else:
            got = self.cat.read(oid)
            data = got[1] if got is not None else b""
        self._last[path] = (oid, data)
        return data

    def state(self, oid: str, path: str) -> _State | None:
        if oid not in self.states:
            data = self.data(oid, path)
            try:
                led = L.parse(data, path)
            except ConfigError:
                self.states[oid] = None
            else:
                versions: dict[str, tuple[int, Any]] = {}
                for i, ev in enumerate(led.events):
                    if ev["event"] == "register":
                        versions.setdefault(ev["version"], (i, L.bytes_key(ev)))
                self.states[oid] = _State(led.model, _Chain(versions, led.events), len(led.events),
                                          bool(_appendable(data)))
        return self.states[oid]

    def _load(self, data: bytes, source: str) -> L.Ledger:
        """``ledger.parse`` memoised (a merge judges each side's ledger once)."""
        key = L.blob_id(data) + "\0" + source
        if key not in self._parsed:
            if len(self._parsed) > 64:
                self._parsed.clear()
            try:
                self._parsed[key] = L.parse(data, source)
            except ConfigError as exc:
                self._parsed[key] = exc
        got = self._parsed[key]
        if isinstance(got, ConfigError):
            raise got
        return got

    def judge(self, path: str, olds: list[str | None], new: str | None) -> str | None:
        """``ledger.check_ledger_change`` on the blobs ``olds`` (each parent's) and ``new``."""
        if new is not None and len(olds) <= 1 and not any(olds):
            return None  # a ledger added (or a root commit's): nothing to extend
        if new is not None and len(olds) == 1 and olds[0] is not None and self._extends(path, olds[0], new):
            return None
        return L.check_ledger_change([self.data(o, path) if o else None for o in olds],
                                     self.data(new, path) if new else None, path, self._load)

    def _extends(self, path: str, old: str, new: str) -> bool:
        """True when ``new`` is ``old`` plus appended events that parse (as a full parse of
        ``new`` would find); False: judge it on the whole bytes."""
        st = self.state(old, path)
        if st is None or not st.appendable:
            return False
        ob = self.data(old, path)
        nb = self.data(new, path)
        if len(nb) > L.MAX_LEDGER_BYTES or not nb.startswith(ob) or not nb[len(ob):].startswith(b"- "):
            return False
        tail = nb[len(ob):]
        try:
            items = load_yaml(tail, path, yaml12=False, strict=True, max_bytes=L.MAX_LEDGER_BYTES,
                              max_depth=MAX_DEPTH - 1)  # one level deeper in the whole file
            if not isinstance(items, list):
                return False
            for i, ev in enumerate(items):
                L._check_event(ev, st.n + i, path, st.model)
        except ConfigError:
            return False
        chain = st.chain if st.chain.length == st.n else _Chain(
            {v: e for v, e in st.chain.versions.items() if e[0] < st.n}, st.chain.events[:st.n])
        added: dict[str, tuple[int, Any]] = {}
        for i, ev in enumerate(items):
            if ev["event"] != "register":
                continue
            key, prev = L.bytes_key(ev), added.get(ev["version"]) or chain.versions.get(ev["version"])
            if prev is not None and prev[1] != key:
                return False  # registered twice with different bytes: the full parse says so
            added.setdefault(ev["version"], (st.n + i, key))
        for v, e in added.items():
            chain.versions.setdefault(v, e)
        chain.events.extend(items)
        self.states[new] = _State(st.model, chain, chain.length, _appendable(nb, len(ob)) is not False)
        return True


class Walk:
    """HEAD's history as verify reads it: one ``git log`` stream of the commits that change a
    ledger or a model's watched paths, and the ledger blobs they hold."""

    def __init__(self, reg: Registry, cat: CatFile, watched: list[str]) -> None:
        self.reg, self.cat = reg, cat
        regdir = reg.config.registry_dir
        # git matches many pathspecs slowly (1.5 s against 0.1 s for 200 of them on 300
        # commits): it is asked for their top folders, and each model picks its own paths
        tops = sorted({s.split("/", 1)[0] if literal(s) and s not in ("", ".") else s for s in [regdir, *watched]})
        self.changes: list[Change] = log_changes(reg.repo, "HEAD", tops)
        self.blobs = LedgerBlobs(cat)
        self.judged: dict[tuple[str, str], str | None] = {}  # (commit, ledger) -> what is wrong
        self._at: dict[tuple[str, str], str | None] = {}  # (commit, ledger) -> blob id
        self._under: dict[str, list[int]] = {}  # a path or folder -> the changes beneath it
        for i, ch in enumerate(self.changes):
            for p, oid in ch.paths.items():
                if L.is_ledger_path(regdir, p):
                    self._at[(ch.commit, p)] = oid
                parts = p.split("/")
                for k in range(1, len(parts) + 1):
                    seen = self._under.setdefault("/".join(parts[:k]), [])
                    if not seen or seen[-1] != i:
                        seen.append(i)

    def judge(self) -> None:
        """Judge every commit's change to every ledger, oldest first (a parent's ledger is
        parsed before its child's): ``judged[(commit, path)]``, what is wrong or None."""
        regdir = self.reg.config.registry_dir
        order = [(ch, p) for ch in reversed(self.changes) for p in sorted(ch.paths) if L.is_ledger_path(regdir, p)]
        news = self.cat.stream([oid for ch, p in order if (oid := ch.paths[p]) is not None])
        for ch, p in order:
            new = ch.paths[p]
            self.blobs.ready = next(news) if new is not None else None  # each new blob streamed in turn
            self.judged[(ch.commit, p)] = self.blobs.judge(p, ch.old_blobs(self.cat, p), new)
        self.blobs.ready = None
        news.close()

    def head_ledger(self, rel: str, data: bytes) -> L.Ledger | None:
        """The ledger ``rel`` whose bytes are ``data`` when HEAD holds the same bytes and the
        walk parsed them (what ``ledger.parse(data)`` gives); None: parse it."""
        obj = self.cat.check(f"HEAD:{rel}") if self.cat.usable(f"HEAD:{rel}") else None
        if obj is None or obj[1] != "blob" or obj[0] != L.blob_id(data):
            return None
        st = self.blobs.states.get(obj[0])
        return None if st is None else L.Ledger(st.model, st.chain.events[:st.n])

    def registered(self, commit: str, name: str, version: str) -> set[Any]:
        """The bytes keys ``commit``'s ledger of ``name`` registers ``version`` with
        (``verify_tags._registered(reg.ledger_at(commit, name), version)``)."""
        rel = self.reg.config.ledger_path(name)
        if (commit, rel) in self._at:
            oid = self._at[(commit, rel)]
        else:
            obj = self.cat.check(f"{commit}:{rel}")
            oid = obj[0] if obj is not None and obj[1] == "blob" else None
        st = self.blobs.state(oid, rel) if oid is not None else None
        if st is None or st.model != name:
            return set()
        key = st.key(version)
        return set() if key is None else {key}

    def touching(self, specs: list[str]) -> list[Change] | None:
        """The changes under the literal pathspecs ``specs`` (None: one is not literal)."""
        if not all(literal(s) and s not in ("", ".") for s in specs):
            return None
        found: set[int] = set()
        for s in specs:
            found.update(self._under.get(s.rstrip("/"), ()))
        return [self.changes[i] for i in sorted(found)]


def watched(model: Model, dvcy: list[str]) -> list[str]:
    """The paths whose change may change ``model``'s bytes (as ``_unregistered`` logs them)."""
    return [model.path, model.path + ".dvc", *[os.path.join(os.path.dirname(d), "dvc.lock") for d in dvcy]]


def history(reg: Registry, rep: Report, broken: set[str], walk: Walk) -> set[str]:
    """Every commit's ledger change against its parents' (I3). A commit that dropped events
    is mended once HEAD's ledger holds them again (``mvtools restore-events``). Returns the
    models whose dropped events are still missing (their other findings follow from it)."""
    cfg = reg.config
    skip = {cfg.ledger_path(name) for name in broken}
    dropping: set[str] = set()
    for ch in walk.changes:  # reported in git log's order, as ever
        for p in sorted(ch.paths):
            why = walk.judged.get((ch.commit, p)) if p not in skip else None
            if not why:
                continue
            commit, name = ch.commit, L.model_of_ledger(cfg.registry_dir, p)
            old = [reg.repo.show_blob(f"{par}:{p}") for par in ch.parents]
            lost = _lost_ids(reg, name, old, commit)
            if lost is not None and lost <= _ids_at(reg, name, "HEAD"):
                continue  # restored since: HEAD's ledger holds every event this commit dropped
            if lost:
                dropping.add(name)
                why += f"; to append them again run: mvtools restore-events {name}"
            rep.add("rewrite", commit[:12], why)
    return dropping


def _ids_at(reg: Registry, name: str, rev: str) -> set[str]:
    led = reg.ledger_at(rev, name)
    return set(led.ids) if led is not None else set()


def _lost_ids(reg: Registry, name: str, parents: list[bytes | None], commit: str) -> set[str] | None:
    """The event ids the parents' ledgers hold and ``commit``'s lacks (None: unreadable)."""
    rel = reg.config.ledger_path(name)
    want: set[str] = set()
    try:
        for data in parents:
            if data:
                want.update(reg.cache.load(data, rel, name).ids)
    except ConfigError:
        return None
    return want - _ids_at(reg, name, commit)


def unregistered(reg: Registry, rep: Report, ledgers: dict[str, L.Ledger], broken: set[str],
                 base: Baseline, walk: Walk, dvcy: list[str]) -> None:
    """Content a commit introduced for a model that no register event records (before an
    adopted repository's adoption commit: the baseline, one note per model)."""
    from mvtools.verify_tags import git_sha256

    repo, cfg = reg.repo, reg.config
    for model in cfg.models.values():
        if model.name in broken:
            continue
        led = ledgers.get(model.name)
        md5s = {e.get("md5") for e in (led.events if led else []) if e["event"] == "register"}
        shas = {e.get("sha256") for e in (led.events if led else []) if e["event"] == "register"}
        watch = watched(model, dvcy)
        changes = walk.touching(watch)
        if changes is None:  # a pathspec git reads as a pattern: ask git, as ever
            log = repo.out("log", "--full-history", "--format=%H %P", "--", *watch, check=False)
            rows = [(line.split()[0], line.split()[1:]) for line in log.splitlines()]
        else:
            rows = [(ch.commit, ch.parents) for ch in changes]
            revs = {c for c, _ in rows} | {p for _, ps in rows for p in ps}
            walk.cat.prefetch([f"{rev}:{w}" for rev in sorted(revs) for w in watch])
        before: list[str] = []
        for commit, parents in rows:
            new = find_record(cfg, Source(repo, commit), model, dvcy)
            olds = [find_record(cfg, Source(repo, p), model, dvcy) for p in parents]
            if new is not None:
                if any(o is not None and o.md5 == new.md5 for o in olds):
                    continue  # as a parent holds it (a merge taking one side: judged on that side)
                if new.md5 in md5s:
                    continue
                what = f"md5 {new.md5}"
            else:
                blob_ids = repo.blob_ids(commit, [model.path])
                if not blob_ids:
                    continue
                if any(repo.blob_ids(p, [model.path]) == blob_ids for p in parents):
                    continue
                sha = git_sha256(repo, commit, model.path)
                if sha in shas:
                    continue
                what = f"sha256 {sha[:12]}"
            if base.before_adoption(commit):
                before.append(commit)
                continue
            rep.add("unregistered", commit[:12],
                    f"{model.name}: {model.path} changed ({what}) with no register event; "
                    f"run: mvtools register {model.name}")
        if before:
            rep.note("before-adoption", model.name, f"{len(before)} commit(s) before the adoption commit "
                     f"{str(base.adoption_commit)[:12]} changed {model.path} and GTO tagged no version of them "
                     f"(the oldest: {before[-1][:12]}); the baseline, not registered (docs/invariants.md)")
