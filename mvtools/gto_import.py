"""`mvtools import-gto`: turn a GTO-tagged repository's tags into ledger events, tag by tag.

Every registry tag no ledger records becomes one event, appended after the events already
there: ``NAME@vX.Y.Z`` (with or without GTO's ``#N``) a ``register``, ``NAME#STAGE#N`` a
``promote``, ``NAME#STAGE!#N`` a ``rollback``, ``NAME@vX.Y.Z!`` an ``archive`` and
``NAME@deprecated`` a ``deprecate``. Each event keeps the tag's real name in ``tag``, the
tagger as actor and the tag's time as its timestamp; the tags stay as they are.

One tag that cannot be imported never stops the others: it is skipped with one reason.
A version whose bytes are out of reach (a remote ``s3://`` path, DVC data absent from the
local cache) is imported with what its commit records (path, DVC md5 and size) and no
sha256; ``mvtools record-sha256`` records it once the bytes can be fetched. Metrics,
params and lineage are read from the tagged commit (gto_artifacts.py). The import is
incremental: run after mvtools' own registrations, or twice, it adds only what is missing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from mvtools import ledger as L
from mvtools.errors import ConfigError
from mvtools.gto_artifacts import read_artifact
from mvtools.gtoconfig import read_gto_config
from mvtools.versioning import ParsedTag, parse_tag, stage_tag

if TYPE_CHECKING:
    from mvtools.registry import Registry

FOLLOW_UP = "mvtools record-sha256"


@dataclass(frozen=True)
class Row:
    """One registry tag: its time, GTO's counter, name, meaning, commit and tagger."""

    when: int
    counter: int
    tag: str
    pt: ParsedTag
    commit: str
    actor: str

    @property
    def ts(self) -> str:
        return datetime.fromtimestamp(self.when, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def gto_rows(reg: "Registry") -> list[Row]:
    """Every registry tag, in GTO's order (tag time, counter, name)."""
    fmt = "%(refname:strip=2)%00%(*objectname)%00%(objectname)%00%(taggername)%00%(taggeremail)%00%(creatordate:unix)"
    rows = []
    for line in reg.repo.out("for-each-ref", f"--format={fmt}", "refs/tags").splitlines():
        tag, peeled, obj, tname, temail, unix = line.split("\0")
        pt = parse_tag(tag)
        if pt is not None:
            rows.append(Row(int(unix or 0), pt.counter or 0, tag, pt, peeled or obj,
                            f"{tname} {temail}".strip() or "unknown"))
    rows.sort(key=lambda r: (r.when, r.counter, r.tag))
    return rows


@dataclass
class _Model:
    """One model as the import goes: what the ledgers hold, then what this run adds."""

    recorded: set[str] = field(default_factory=set)  # tags some ledger records
    versions: dict[str, str] = field(default_factory=dict)  # version -> commit
    archived: set[str] = field(default_factory=set)
    stacks: dict[str, list[str]] = field(default_factory=dict)  # stage -> holders
    new: list[dict[str, Any]] = field(default_factory=list)


class _Import:
    def __init__(self, reg: "Registry") -> None:
        self.reg = reg
        self.gto = read_gto_config(reg.root)
        self.rows = gto_rows(reg)
        self.tags = reg.repo.tags()
        self.models: dict[str, _Model] = {}
        self.report: list[dict[str, Any]] = []
        self.done: set[str] = set()
        self._dvcy: dict[str, list[str]] = {}
        self._blobs: dict[str, dict[str, str]] = {}  # model -> commit -> its ledger's blob id
        self._held: dict[str, set[str]] = {}  # ledger blob id -> the tags it records

    def model(self, name: str) -> _Model:
        if name not in self.models:
            m = self.models[name] = _Model()
            reg = self.reg
            st = reg.state(name, new_ok=True)
            ledgers = [L.Ledger(name, st.events), *reg.ledgers_on_refs(name)]
            for led in ledgers:
                for e in led.events:
                    pt = parse_tag(e["tag"]) if isinstance(e.get("tag"), str) else None
                    if pt is None:
                        continue
                    m.recorded.add(e["tag"])
                    if e["event"] == "rollback" and pt.kind == "stage" and pt.counter:  # mvtools' rollback
                        m.recorded.add(stage_tag(name, str(pt.stage), pt.counter - 1, unassign=True))
            for v, ev in st.versions.items():
                m.versions[v] = self.tags.get(ev["tag"], ("",))[0]
            m.archived = set(st.archived)
            m.stacks = {s: list(stack) for s, stack in st.stages.items()}
        return self.models[name]

    def recorded(self, row: Row) -> bool:
        """Does a ledger record ``row``'s tag: HEAD's, one on a ref, or its own commit's?"""
        if row.tag in self.model(row.pt.model).recorded:
            return True
        return row.tag in self.tags_at(row.pt.model, row.commit)

    def tags_at(self, name: str, commit: str) -> set[str]:
        """The tags ``name``'s ledger at ``commit`` records (none: absent or broken there).
        Where the ledger is, at every tagged commit of the model, is one git call; each
        distinct ledger blob is read once (a GTO repository has none: no call per tag)."""
        rel = self.reg.config.ledger_path(name)
        if name not in self._blobs:
            commits = sorted({r.commit for r in self.rows if r.pt.model == name})
            self._blobs[name] = self.reg.repo.blobs_at(commits, rel)
        blob = self._blobs[name].get(commit)
        if blob is None:
            return set()
        if blob not in self._held:
            try:
                led = self.reg.cache.load(self.reg.repo.show_blob(blob) or b"", rel, name)
                self._held[blob] = {e["tag"] for e in led.events if isinstance(e.get("tag"), str)}
            except ConfigError:
                self._held[blob] = set()
        return self._held[blob]

    def dvc_yamls(self, commit: str) -> list[str]:
        """Every dvc.yaml at ``commit`` (through the bulk reader: each distinct tree read once)."""
        if commit not in self._dvcy:
            bulk = self.reg.repo.bulk
            found = bulk.files_named(commit, "dvc.yaml") if bulk is not None else None
            if found is None:
                text = self.reg.repo.git("ls-tree", "-r", "-z", "--name-only", commit).stdout
                found = [p for p in text.decode("utf-8", "surrogateescape").split("\0")
                         if p == "dvc.yaml" or p.endswith("/dvc.yaml")]
            self._dvcy[commit] = found
        return self._dvcy[commit]

    def run(self) -> None:
        for row in self.rows:
            if row.tag in self.done:
                continue
            self.done.add(row.tag)
            if self.recorded(row):
                continue
            why = self.one(row)
            if why is not None:
                self.report.append({"tag": row.tag, "model": row.pt.model, "skipped": why})

    def add(self, row: Row, kind: str, **fields: Any) -> dict[str, Any]:
        ev = L.make_event(kind, row.pt.model, row.actor, row.ts, **fields, tag=row.tag, imported_from="gto")
        self.model(row.pt.model).new.append(ev)
        self.model(row.pt.model).recorded.add(row.tag)
        return ev

    def one(self, row: Row) -> str | None:
        """Import one tag; the reason it is skipped, or None."""
        pt, m = row.pt, self.model(row.pt.model)
        if pt.kind == "version":
            return self.version(row, m)
        if pt.kind == "deprecated":
            self.add(row, "deprecate")
            self.report.append({"tag": row.tag, "model": pt.model, "imported": "deprecate"})
            return None
        if pt.kind == "archive":
            ver = str(pt.version)
            if ver not in m.versions and not self.version_of(pt.model, row.commit, ver):
                return f"deregisters {ver}, which no tag registers"
            self.add(row, "archive", version=ver)
            m.archived.add(ver)
            for stack in m.stacks.values():
                stack[:] = [v for v in stack if v != ver]
            self.report.append({"tag": row.tag, "model": pt.model, "imported": "archive", "version": ver})
            return None
        stage = str(pt.stage)
        if not self.gto.allows_stage(stage):
            return f"stage {stage!r} is not in .gto's stages ({', '.join(self.gto.stages or ())}); GTO ignores it"
        held = self.version_of(pt.model, row.commit)
        if held is None:
            return (f"commit {row.commit[:12]} has no version of {pt.model} (GTO shows the stage on an "
                    "unregistered commit); register that commit's model first")
        ver = held
        stack = m.stacks.setdefault(stage, [])
        if pt.kind == "stage":
            stack.append(ver)
            self.add(row, "promote", version=ver, stage=stage)
            self.report.append({"tag": row.tag, "model": pt.model, "imported": "promote", "version": ver,
                                "stage": stage})
            return None
        if ver not in stack:
            return f"unassigns {ver} from {stage}, which it does not hold"
        if stack[-1] == ver:  # the holder leaves: mvtools' rollback (to the earlier holder, or none)
            stack.pop()
            self.add(row, "rollback", stage=stage, version=stack[-1] if stack else None, previous=ver)
        else:  # an earlier holder is withdrawn: the holder stays
            stack[:] = [v for v in stack if v != ver]
            self.add(row, "rollback", stage=stage, version=stack[-1], previous=ver, withdrawn=True)
        self.report.append({"tag": row.tag, "model": pt.model, "imported": "rollback", "version": ver,
                            "stage": stage})
        return None

    def version_of(self, name: str, commit: str, version: str | None = None) -> str | None:
        """The version of ``name`` on ``commit`` (``version`` if given); a version tag GTO
        orders later (a stage tag older than its version tag) is imported now."""
        m = self.model(name)
        for v, c in m.versions.items():
            if c == commit and version in (None, v):
                return v
        for row in self.rows:
            if (row.pt.model == name and row.pt.kind == "version" and row.commit == commit
                    and version in (None, row.pt.version) and row.tag not in self.done):
                self.done.add(row.tag)
                if self.recorded(row):
                    continue
                why = self.version(row, m)
                if why is None:
                    return str(row.pt.version)
                self.report.append({"tag": row.tag, "model": name, "skipped": why})
        return None

    def version(self, row: Row, m: _Model) -> str | None:
        ver = str(row.pt.version)
        if ver in m.versions and ver not in m.archived:
            return f"{row.pt.model}@{ver} is already registered"
        art = read_artifact(self.reg, row.pt.model, row.commit, self.dvc_yamls(row.commit))
        self.add(row, "register", version=ver, path=art.path, sha256=art.sha256, size=art.size, md5=art.md5,
                 **art.info)
        m.versions[ver] = row.commit
        m.archived.discard(ver)  # registered again after a deregistration (GTO's counter forms)
        known = "sha256" if art.sha256 else "md5" if art.md5 else "none"
        out = {"tag": row.tag, "model": row.pt.model, "imported": "register", "version": ver,
               "path": art.path, "bytes": known}
        if art.why and not art.sha256:
            out["unhashed"] = art.why
        self.report.append(out)
        return None


def import_gto(reg: "Registry") -> dict[str, Any]:
    """Import every GTO tag no ledger records (module docstring) in one commit."""
    reg.repo.require_no_operation()
    from mvtools.gitbulk import reading_in_bulk

    with reading_in_bulk(reg.repo):  # each tagged commit's files through one cat-file, not a git per read
        imp = _Import(reg)
        imp.run()
    per_model = {n: m.new for n, m in imp.models.items() if m.new}
    head = None
    if per_model:
        with reg.transaction() as txn:
            head = txn.commit(per_model, "Import the GTO registry into the mvtools ledger")
    tags = imp.report
    unhashed = [t["tag"] for t in tags if t.get("imported") == "register" and t.get("bytes") != "sha256"]
    return {"imported": {k: len(v) for k, v in per_model.items()}, "commit": head, "tags": tags,
            "skipped": sum(1 for t in tags if "skipped" in t), "without_sha256": unhashed,
            "follow_up": FOLLOW_UP if any(t.get("bytes") == "md5" for t in tags) else None}
