"""Reading the registry: each model's ledger, loaded once per command through the blob-id
keyed cache, folded into its state; the commits and versions events live on.

:class:`RegistryReader` is the base of :class:`mvtools.registry.Registry`; the operations
that write (registering, tag sync, lifecycle) extend it in their own modules and write
through its :meth:`transaction`.
"""

from __future__ import annotations

import re
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator

from mvtools import ledger as L
from mvtools.config import Config, load_config
from mvtools.errors import ConfigError, InternalError, MvtoolsError, NotFound, UsageError
from mvtools.gitops import Repo
from mvtools.gtoconfig import GtoConfig, read_gto_config
from mvtools.ledgercache import LedgerCache
from mvtools.state import ModelState, fold, is_imported
from mvtools.versioning import Version, model_tag_pattern, parse_tag, tag_name_of
from mvtools.yamlio import read_regular

_EVENT_ID = re.compile(rb"\bid:[ \t]*['\"]?([0-9a-f]{64})\b")  # an event's id line in a ledger blob

if TYPE_CHECKING:
    from mvtools.domain import History, ModelView, Show
    from mvtools.transaction import Transaction


def read_ledger_file(root: Path, rel: str) -> bytes | None:
    """The work tree's ledger ``rel``, None when absent; anything unreadable in its place (a
    directory, no permission) is one exit-2 line naming it."""
    try:
        return read_regular(root / rel, rel)
    except FileNotFoundError:
        return None


class RegistryReader:
    """A model registry in the git work tree at ``path``: reading and state."""

    def __init__(self, path: str | Path = ".", *, repo: Repo | None = None, config: Config | None = None) -> None:
        self.repo = repo or Repo.discover(path)
        self.root = self.repo.root
        self.config = config or load_config(self.root)
        self.cache = LedgerCache(self.repo.ledger_cache_dir)
        self._states: dict[str, ModelState] | None = None
        self._broken: dict[str, MvtoolsError] = {}
        self._gto: GtoConfig | None = None
        self.committed_only = False  # set by a write transaction: build only on committed ledgers

    def transaction(self) -> "Transaction":
        """The one write path: lock, guard, append, commit, tag (see mvtools.transaction)."""
        from mvtools.transaction import Transaction

        return Transaction(self)

    def ledger_file(self, name: str) -> Path:
        return self.root / self.config.ledger_path(name)

    def load_ledger(self, name: str) -> L.Ledger:
        data = read_ledger_file(self.root, self.config.ledger_path(name))
        if data is None:
            return L.Ledger(name)
        if self.committed_only:
            from mvtools.transaction import require_committed

            require_committed(self.repo, self.config.ledger_path(name), data)
        try:
            return self.cache.load(data, self.config.ledger_path(name), name)
        except ConfigError:
            # a pull stopped on another clone's registration of the same number: the work
            # tree holds both sides until `mvtools resolve`; read this clone's committed ledger
            committed = self.repo.show_blob(f"HEAD:{self.config.ledger_path(name)}") if self.repo.head else None
            if committed is None or self.repo.operation_in_progress() not in ("a merge", "a rebase"):
                raise
            return self.cache.load(committed, self.config.ledger_path(name), name)

    def states(self) -> dict[str, ModelState]:
        """Every model's state: declared models plus any model with a ledger file. A ledger
        that cannot be read raises its one-line cause (see :meth:`readable_states`)."""
        states, broken = self.readable_states()
        if broken:
            raise next(iter(broken.values()))
        return states

    def readable_states(self) -> tuple[dict[str, ModelState], dict[str, MvtoolsError]]:
        """Every model's state whose ledger can be read, and the error of each one that
        cannot: a broken ledger hides its own model only."""
        if self._states is None:
            regdir = self.config.registry_dir
            names = set(self.config.models)
            names.update(L.model_of_ledger(regdir, rel) for rel in L.ledger_files(self.root, regdir))
            states, self._broken = {}, {}
            for n in sorted(names):
                try:
                    events = self.load_ledger(n).events
                except (ConfigError, InternalError) as exc:
                    self._broken[n] = exc
                    continue
                stages = self._gto_stages(events)  # a broken .gto is the repository's error, not n's
                try:
                    states[n] = fold(n, events, stages)
                except (ConfigError, InternalError) as exc:
                    self._broken[n] = exc
            self._states = states
        return self._states, self._broken

    def state(self, name: str, *, new_ok: bool = False) -> ModelState:
        """One model's state; reads only its own ledger unless all are loaded already.
        An unknown model is NotFound, or an empty state with ``new_ok`` (registering it)."""
        if self._states is not None and name in self._states:
            return self._states[name]
        if name not in self.config.models and not self.ledger_file(name).exists():
            if new_ok:
                return ModelState(name)
            self.config.model(name)  # raises NotFound with the known names
        return self.fold(name, self.load_ledger(name).events)

    def fold(self, name: str, events: list[dict[str, Any]]) -> ModelState:
        """``state.fold``; events imported from GTO see ``.gto``'s stage list, as GTO does."""
        return fold(name, events, self._gto_stages(events))

    def _gto_stages(self, events: list[dict[str, Any]]) -> tuple[str, ...] | None:
        """``.gto``'s stage list where ``events`` hold imported ones (else None: mvtools'
        own events keep mvtools.yaml's stages); read once per reader."""
        if not any(is_imported(e) for e in events):
            return None
        if self._gto is None:
            self._gto = read_gto_config(self.root)
        return self._gto.stages

    def show(self, name: str | None = None, *, include_deprecated: bool = False) -> Show:
        """The models' summaries. All of them: a model whose ledger cannot be read is left
        out and listed under ``broken`` (model and one-line cause); one: its error raises."""
        from mvtools.domain import BrokenModel, ModelSummary, Show  # off the hooks' import path
        broken: dict[str, MvtoolsError] = {}
        if name is not None:
            sel = [self.state(name)]
        else:
            states, broken = self.readable_states()
            sel = [s for s in states.values() if include_deprecated or not s.deprecated]
        return Show(tuple(ModelSummary(
            s.name, s.latest, len(s.versions), s.stage_holders(), s.deprecated,
            self.config.models[s.name].path if s.name in self.config.models else
            (next(iter(s.versions.values()))["path"] if s.versions else None)) for s in sel),
            tuple(BrokenModel(n, str(e)) for n, e in broken.items()))

    def history(self, name: str) -> History:
        """``name``'s events in ledger order, each with the commit its tag names (None
        when it has no tag or the tag is missing)."""
        from mvtools.domain import Event, History  # off the hooks' import path
        st = self.state(name)
        tags = self.repo.tags(model_tag_pattern(name))
        events = []
        for ev in st.events:
            t = ev.get("tag")
            events.append(Event.from_dict(ev).with_commit(tags[t][0] if isinstance(t, str) and t in tags else None))
        return History(name, tuple(events))

    def model_state(self, name: str) -> ModelView:
        """A read-only view of ``name``'s state: versions, stage holders, deprecation."""
        from mvtools.domain import ModelView  # off the hooks' import path
        return ModelView.from_state(self.state(name))

    def version(self, name: str, version: str) -> tuple[ModelState, str]:
        """The state of ``name`` and the canonical form of ``version`` (``v1.2.3``, ``1.2.3``
        or ``latest``); an unknown model or version is NotFound."""
        st = self.state(name)
        if version in ("latest", "greatest"):  # as `get NAME@latest` and GTO's shortcut
            if st.latest is None:
                raise NotFound(f"{name} has no registered version")
            return st, st.latest
        v = str(Version.parse(version))
        if v not in st.versions:
            raise NotFound(f"{name} has no version {v}")
        return st, v

    def version_or_stage(self, name: str, ref: str) -> tuple[ModelState, str]:
        """As :meth:`version`, and a stage of mvtools.yaml's ``stages:`` names the version
        holding it (``compare clf production latest``); an empty stage is NotFound."""
        st = self.state(name)
        if ref in self.config.stages or ref in st.stage_holders():
            return st, self._holder(st, name, ref)
        try:
            return self.version(name, ref)
        except UsageError:  # not a version's form either: say both
            raise UsageError(f"{ref!r} is neither a version nor a stage "
                             f"(stages: {', '.join(self.config.stages)})") from None

    def _holder(self, st: ModelState, name: str, stage: str) -> str:
        holder = st.stage_holders().get(stage)
        if holder is None and stage not in self.config.stages:
            raise UsageError(f"unknown stage {stage!r} (stages: {', '.join(self.config.stages)})")
        if holder is None:
            raise NotFound(f"no version of {name} is in stage {stage!r}")
        return holder

    def resolve(self, spec: str) -> dict[str, Any]:
        """NAME, NAME@VERSION or NAME#STAGE -> the register event."""
        if "#" in spec:
            name, stage = spec.split("#", 1)
            st = self.state(name)
            return st.versions[self._holder(st, name, stage)]
        name, _, ver = spec.partition("@")
        st, v = self.version(name, ver or "latest")
        return st.versions[v]

    def taken_versions(self, name: str, extra_events: list[dict[str, Any]] | None = None,
                       refs: list[tuple[str, str]] | None = None) -> set[Version]:
        """Every version of ``name`` that must not be registered again: in the work tree's
        ledger, ``extra_events``, a version tag of the model, the ledger at any branch,
        remote-tracking branch, other non-tag ref, HEAD or tag of the model, and a live
        reservation. ``refs``: ``Repo.refs()`` when the caller read it already (one read
        of the refs per command, none of them peeled)."""
        st = self.state(name, new_ok=True)
        vs = {Version(v) for v in st.versions}
        for ev in extra_events or []:
            if ev.get("event") == "register":
                vs.add(Version(ev["version"]))
        refs = self.repo.refs() if refs is None else refs
        vprefix = "refs/tags/" + tag_name_of(name) + "@v"  # model_tag_pattern(name, versions_only=True)
        for ref, _oid in refs:
            if ref.startswith(vprefix):
                p = parse_tag(ref[10:])
                if p and p.version and p.model == name:
                    vs.add(Version(p.version))
        for led in self.ledgers_on_refs(name, refs):
            vs.update(Version(e["version"]) for e in led.events if e["event"] == "register")
        from mvtools.transaction import live_reservations

        vs.update(Version(r["version"]) for r in live_reservations(self.repo, name)
                  if isinstance(r.get("version"), str))
        return vs

    def ledger_at(self, rev: str, name: str) -> L.Ledger | None:
        """``name``'s ledger as commit ``rev`` holds it; None when absent or broken there."""
        rel = self.config.ledger_path(name)
        data = self.repo.show_blob(f"{rev}:{rel}")
        if data is None:
            return None
        try:
            return self.cache.load(data, rel, name)
        except ConfigError:
            return None

    def ledgers_on_refs(self, name: str, refs: list[tuple[str, str]] | None = None) -> list[L.Ledger]:
        """``name``'s ledger at the tip of every ref and HEAD (each distinct blob once): a
        version registered on another branch, a detached HEAD or a tagged commit no branch
        holds any more is in one of them. ``refs``: ``Repo.refs()`` when the caller read it
        already (every ref, none peeled by for-each-ref). A ledger that is a byte prefix of
        one read already is not parsed (ledgers grow by appending: its events are the first
        ones of the longer ledger, which passed every check). Both facts are kept in the ledger cache (tip -> blob, blob -> a longer blob
        it starts), so a registration asks git about its new tips and reads the ledgers
        that are not such a prefix: not every ledger at every version tag of the model."""
        rel = self.config.ledger_path(name)
        refs = self.repo.refs() if refs is None else refs
        # every ref's tip, the tags of other models included: a commit that registered this
        # model and another, off every branch, whose own tag of this model was deleted, still
        # holds the version (tests/test_version_reuse.py)
        tips = {oid for _ref, oid in refs}
        tips.update([self.repo.head] if self.repo.head else [])
        known, prefix = self.cache.tip_facts(rel)  # tip -> its ledger blob, "" for none there
        new = sorted(t for t in tips if t not in known)
        absent: set[str] = set()  # new tips whose commit holds no ledger of the model (older ones)
        found = self.repo.blobs_at_tips(new, rel, absent=absent) if new else {}  # git is asked about new tips only
        found.update(dict.fromkeys(absent, ""))
        at = {t: known[t] if t in known else found[t] for t in tips if t in known or t in found}
        ids = set(at.values()) - {""}

        def covered(b: str) -> bool:  # a prefix of a checked ledger at a tip: nothing new in it
            for _ in range(len(prefix)):  # (each step is to a longer blob: no cycle but a forged one)
                if b not in prefix or prefix[b] in ids:
                    break
                b = prefix[b]
            return prefix.get(b) in ids

        blobs = self.repo.read_blobs(sorted(b for b in ids if not covered(b)))
        out: list[L.Ledger] = []
        read: dict[str, bytes] = {}
        facts = {b: p for b, p in prefix.items() if b in ids}
        for b in sorted(blobs, key=lambda b: (-len(blobs[b]), b)):  # the longest first
            data = blobs[b]
            longer = next((r for r, rd in read.items() if rd.startswith(data)), None)
            if longer is not None:
                facts[b] = longer  # its events are the first ones of that ledger
                continue
            led = self._load_or_none(data, rel, name)
            if led is not None:
                out.append(led)
                read[b] = data
        if found or facts != prefix or len(known) > len(at):
            self.cache.save_tip_facts(rel, at, facts)  # the current tips only: it stays small
        return out

    def _load_or_none(self, data: bytes, rel: str, name: str) -> L.Ledger | None:
        try:
            return self.cache.load(data, rel, name)
        except ConfigError:
            return None

    def dropped_events(self, name: str, rev: str = "HEAD") -> list[dict[str, Any]]:
        """Events of ``name`` that some commit of ``rev``'s history recorded and ``rev``'s
        ledger lacks (a ``git revert`` of a registering commit runs no pre-commit hook), in
        the order they were first recorded. Ledgers only grow: these are to be restored."""
        rel = self.config.ledger_path(name)
        now = self.ledger_at(rev, name)
        have = set(now.ids) if now is not None else set()
        commits = self.repo.out("log", "--reverse", "--full-history", "--format=%H", rev, "--", rel,
                                check=False).split()
        out: list[dict[str, Any]] = []
        for commit in commits:
            led = self.ledger_at(commit, name)
            for ev in led.events if led is not None else []:
                if ev["id"] not in have:
                    have.add(ev["id"])
                    out.append(ev)
        return out

    def event_commit(self, ev: dict[str, Any], tags: dict[str, tuple[str, int]]) -> str | None:
        """The commit a register event's version lives on: its tag's, else the first commit
        whose ledger holds the event."""
        if ev["tag"] in tags:
            return tags[ev["tag"]][0]
        return self.commit_holding(ev["model"], ev["id"])

    _gained: dict[str, dict[str, str]] | None = None  # within walking_histories(): model -> commits_gaining

    @contextmanager
    def walking_histories(self) -> Iterator[None]:
        """For a command that asks where many events were gained (``sync-tags``, ``verify
        --policy``): within this, :meth:`commit_holding` of HEAD answers from one walk of
        each model's ledger history (:meth:`commits_gaining`) instead of a ``git log -S``
        per event, every object read through one persistent ``git cat-file``."""
        from mvtools.gitbulk import reading_in_bulk

        outer = self._gained
        self._gained = {} if outer is None else outer
        try:
            with reading_in_bulk(self.repo):
                yield
        finally:
            self._gained = outer

    def commit_holding(self, name: str, event_id: str, rev: str = "HEAD") -> str | None:
        """The oldest commit reachable from ``rev`` whose ledger gained the event: one whose
        parents' ledgers all lack it (a merge that registered new bytes included; a merge
        that only brings it in from a side is not where it was gained)."""
        if self._gained is not None and rev == "HEAD":
            if name not in self._gained:
                self._gained[name] = self.commits_gaining(name)
            found = self._gained[name].get(event_id)
            if found is not None:
                return found  # (an id the walk misses is searched for below)
        rel = self.config.ledger_path(name)
        out = self.repo.out("log", "--full-history", "-m", "--format=%H %P", "-S" + event_id, rev, "--", rel,
                            check=False)
        rows: dict[str, list[str]] = {}
        for line in out.splitlines():
            commit, *parents = line.split()
            rows.setdefault(commit, parents)
        key = event_id.encode()
        for commit, parents in reversed(list(rows.items())):  # oldest first
            if not any(key in (self.repo.show_blob(f"{p}:{rel}") or b"") for p in parents):
                return commit
        return None

    def commits_gaining(self, name: str) -> dict[str, str]:
        """Event id -> the commit :meth:`commit_holding` names for it, for every event of the
        model from one ``git log`` over its ledger's history (not a ``git log -S`` per event):
        ``-m`` lists a merge once per parent its ledger differs from; one it equals holds
        all its ids, so nothing was gained there."""
        rel = self.config.ledger_path(name)
        out = self.repo.git("log", "--full-history", "-m", "--reverse", "--no-renames", "--no-abbrev", "--raw",
                            "--format=%x01%H %P", "HEAD", "--", rel, check=False).stdout
        diffs: dict[str, list[tuple[str, str]]] = {}  # commit -> (old blob, new blob) per differing parent
        nparents: dict[str, int] = {}
        for chunk in out.split(b"\x01")[1:]:
            head, _, raw = chunk.partition(b"\n")
            commit, *parents = head.decode().split()
            nparents[commit] = len(parents)
            for line in raw.splitlines():
                if line.startswith(b":"):
                    _m1, _m2, old, new = line.split(b"\t")[0].split()[:4]
                    diffs.setdefault(commit, []).append((old.decode(), new.decode()))
        gained: dict[str, str] = {}
        for commit, pairs in diffs.items():  # oldest first
            if len(pairs) < max(nparents[commit], 1):
                continue  # its ledger equals a parent's: nothing gained here
            held = set().union(*(self._event_ids(old) for old, _new in pairs))
            for eid in self._event_ids(pairs[0][1]) - held:
                gained.setdefault(eid.decode(), commit)
        return gained

    def _event_ids(self, blob: str) -> set[bytes]:
        return set(_EVENT_ID.findall(self.repo.show_blob(blob) or b"")) if blob.strip("0") else set()
