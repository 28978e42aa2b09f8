"""`mvtools verify`: everything the registry claims, checked against git and DVC; it fails
closed (what it cannot see is a problem unless an option accepts it).

Problems (exit 1): a ledger that breaks the schema or holds an event whose id does not
match (reported once; that model is checked no further); a commit that changed a ledger
other than by appending (a merge: other than by uniting its parents' events; a revert that
dropped an event included); model content that a commit introduced and no register event
records; a registry tag and the ledger disagreeing (mvtools.verify_tags); registered bytes
that do not match the recorded sha256 (from git, the DVC cache, or with ``--fetch`` the DVC
remote, where bytes that cannot be fetched are a problem too); a shallow clone, unless
``--allow-shallow``. Warnings: events timestamped in the future. Notes: right but worth
knowing (a version tag on a commit outside this branch's history; in a repository adopted
from GTO, the history before adoption: :mod:`mvtools.baseline`). Unchecked: what plain
verify does not check (bytes absent from the DVC cache; with ``--allow-shallow``, the
history beyond the boundary).
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from mvtools import ledger as L
from mvtools.baseline import baseline
from mvtools.domain import VerifyReport
from mvtools.errors import ConfigError, MvtoolsError
from mvtools.gitbulk import CatFile, reading_in_bulk
from mvtools.hashing import sha256_of, tree_sha256
from mvtools.transaction import restore_command
from mvtools.verify_history import Walk, history, unregistered, watched
from mvtools.verify_tags import check_tags, git_sha256

if TYPE_CHECKING:
    from mvtools.registry import Registry


class Report:
    """The findings as the checks collect them; ``verify`` returns them as a ``VerifyReport``."""

    def __init__(self) -> None:
        self.problems: list[dict[str, str]] = []
        self.warnings: list[dict[str, str]] = []
        self.unchecked: list[dict[str, str]] = []
        self.notes: list[dict[str, str]] = []

    def add(self, kind: str, where: str, message: str) -> None:
        self.problems.append({"kind": kind, "where": where, "message": message})

    def warn(self, kind: str, where: str, message: str) -> None:
        self.warnings.append({"kind": kind, "where": where, "message": message})

    def skip(self, kind: str, where: str, message: str) -> None:
        self.unchecked.append({"kind": kind, "where": where, "message": message})

    def note(self, kind: str, where: str, message: str) -> None:
        """Right, but worth knowing (a version tag on a commit outside this branch)."""
        self.notes.append({"kind": kind, "where": where, "message": message})

    def result(self) -> VerifyReport:
        return VerifyReport.from_dict({"problems": self.problems, "warnings": self.warnings, "notes": self.notes,
                                       "unchecked": self.unchecked})


def _ledgers(reg: Registry, rep: Report, walk: Walk | None) -> tuple[dict[str, L.Ledger], set[str]]:
    """The work tree's ledgers that load, and the models whose ledger does not: each of those
    is reported once, as the root cause, and its model is checked no further. One that is
    HEAD's is taken from the ``walk``, which parsed it already."""
    out: dict[str, L.Ledger] = {}
    broken: set[str] = set()
    regdir = reg.config.registry_dir
    for rel in L.ledger_files(reg.root, regdir):
        expected = L.model_of_ledger(regdir, rel)
        try:
            data = (reg.root / rel).read_bytes()
            led = (walk.head_ledger(rel, data) if walk else None) or L.parse(data, rel)
        except (ConfigError, OSError) as exc:
            why = str(exc) if isinstance(exc, ConfigError) else f"cannot read: {exc.strerror}"
            broken.add(expected)
            rep.add("schema", rel, _broken_hint(reg, rel, why.removeprefix(f"{rel}: ")))
            continue
        if led.model != expected:
            broken.add(expected)
            rep.add("schema", rel, f"names model {led.model!r} but the file is for {expected!r}")
            continue
        out[led.model] = led
    return out, broken


def _staged(reg: Registry) -> Callable[[str], bytes | None]:
    """The index's ledger blobs (``git show :PATH``), listed by one ``git ls-files``."""
    proc = reg.repo.git("ls-files", "-s", "-z", "--", reg.config.registry_dir, check=False)
    ids: dict[str, str] = {}
    for rec in proc.stdout.decode("utf-8", "surrogateescape").split("\0"):
        if rec:
            meta, path = rec.split("\t", 1)
            _mode, oid, stage = meta.split()
            if stage == "0":
                ids[path] = oid
    return lambda rel: reg.repo.show_blob(ids[rel]) if rel in ids else None


def _broken_hint(reg: Registry, rel: str, why: str) -> str:
    """A work-tree ledger that breaks while HEAD's loads was edited by hand: restore it."""
    committed = reg.repo.show_blob(f"HEAD:{rel}") if reg.repo.head else None
    if committed is None:
        return why
    try:
        L.parse(committed, rel)
    except ConfigError:
        return why + "; HEAD's copy is broken too (git log -p -- " + rel + " shows the commit that broke it)"
    if reg.repo.operation_in_progress() in ("a merge", "a rebase"):  # a pull stopped on another clone's number
        return f"{why}; this model is checked no further; a pull stopped on it: run: mvtools resolve"
    return f"{why}; this model is checked no further; to restore HEAD's ledger run: {restore_command(reg.repo, rel)}"


def _cache_dir(reg: Registry, project: str = "") -> Path:
    """The DVC cache of the project (a DVC subrepo, or "" for the top one)."""
    from mvtools.gto_artifacts import cache_dir

    return cache_dir(reg.root / project)


def _cache_file(cache: Path, md5: str) -> Path | None:
    from mvtools.gto_artifacts import cache_object

    return cache_object(cache, md5)


def _sha256_file(p: Path) -> str:
    with open(p, "rb") as fh:
        return sha256_of(fh.read)[0]


class BadManifest(ValueError):
    """A cached ``.dir`` manifest that is not DVC's (the message says which)."""


def _cached_sha256(cache: Path, md5: str) -> str | None:
    """The sha256 of the cached object ``md5`` (None: not cached); BadManifest when a
    directory's manifest is damaged."""
    if md5.endswith(".dir"):
        manifest = _cache_file(cache, md5)
        if manifest is None:
            return None
        try:
            pairs = [(str(e["relpath"]), str(e["md5"])) for e in json.loads(manifest.read_bytes())]
        except (ValueError, TypeError, KeyError):
            raise BadManifest(f"the cached DVC manifest {md5} is damaged (not DVC's list of "
                              "{md5, relpath})") from None
        files = []
        for relpath, entry_md5 in pairs:
            f = _cache_file(cache, entry_md5)
            if f is None:
                return None
            files.append((relpath, _sha256_file(f)))
        return tree_sha256(files)
    f = _cache_file(cache, md5)
    return _sha256_file(f) if f else None


def _bytes(reg: Registry, rep: Report, ledgers: dict[str, L.Ledger], fetch: bool, shallow: bool) -> None:
    """Each version's bytes against its sha256: git-tracked ones from the commit that holds
    them, DVC-tracked ones from the cache; with ``fetch`` every one the cache lacks must come
    from the DVC remote and match, and one that cannot is a problem."""
    from mvtools.dvcroots import project_at

    tags = reg.repo.tags()
    cache = _cache_dir(reg)
    for name, led in ledgers.items():
        recorded = {e["version"]: e["sha256"] for e in led.events if e["event"] == "sha256"}  # record-sha256
        for ev in led.events:
            if ev["event"] != "register":
                continue
            where = ev["tag"]
            if not ev.get("sha256") and ev["version"] not in recorded:
                project = project_at(reg.root, str(ev.get("path") or "")) if ev.get("path") else ""
                _unhashed(reg, rep, _cache_dir(reg, project) if project else cache, ev, fetch)  # imported from GTO without its bytes: I1 binds md5, size
                continue
            ev = {**ev, "sha256": ev.get("sha256") or recorded[ev["version"]]}
            # (in a shallow clone the boundary commit seems to add every older event: tags only)
            commit = tags[where][0] if where in tags else None if shallow else reg.event_commit(ev, tags)
            got: str | None
            if ev.get("md5") is None:
                if commit is None:
                    rep.skip("bytes", where, "no commit here holds the git-tracked bytes")
                    continue
                if any(p["kind"] == "tag-commit" and p["where"] == where for p in rep.problems):
                    continue  # the tag is on a commit that does not hold them: said once, there
                got = git_sha256(reg.repo, commit, ev["path"])
            else:
                project = project_at(reg.root, str(ev.get("path") or ""))  # a DVC subrepo has its own cache
                try:
                    got = _cached_sha256(_cache_dir(reg, project) if project else cache, str(ev["md5"]))
                except BadManifest as exc:
                    rep.add("bytes", where, str(exc))
                    continue
                if got is None and fetch:
                    got, why = _fetched_sha256(reg, ev, commit)
                    if got is None:
                        rep.add("bytes", where, f"cannot fetch the bytes from the DVC remote: {why}")
                        continue
                if got is None:
                    rep.skip("bytes", where, "not in the DVC cache; use --fetch to check the remote")
                    continue
            if got != ev["sha256"]:
                rep.add("bytes", where, f"stored bytes have sha256 {got[:12]}..., the ledger records {ev['sha256'][:12]}...")


def _unhashed(reg: Registry, rep: Report, cache: Path, ev: dict[str, Any], fetch: bool) -> None:
    """A version imported from GTO with no sha256 yet: its cached bytes (with ``fetch``, the
    DVC remote's) against the DVC md5 and size its commit recorded; the sha256 is ``mvtools
    record-sha256``'s to record."""
    from mvtools.record_sha256 import fetch_checked, md5_and_size, unreadable

    where, md5 = ev["tag"], ev.get("md5")
    hint = f"no sha256 recorded yet (imported from GTO); once the bytes can be fetched run: mvtools record-sha256 " \
           f"{ev['model']}@{ev['version']}"
    if md5 is None:
        rep.skip("bytes", where, f"imported from GTO without bytes mvtools can read ({unreadable(ev)})")
        return
    f = _cache_file(cache, str(md5))
    if f is None and fetch:
        why = fetch_checked(reg, ev)
        if why:
            rep.add("bytes", where, f"cannot fetch the bytes from the DVC remote: {why}")
            return
        f = _cache_file(cache, str(md5))
    if f is None:
        rep.skip("bytes", where, hint)
        return
    got = md5_and_size(cache, str(md5))
    if got is not None and (got[0] != md5 or (ev.get("size") is not None and got[1] != ev["size"])):
        rep.add("bytes", where, f"cached bytes have md5 {got[0]} and size {got[1]}, the ledger records md5 {md5} "
                f"and size {ev.get('size')}")
    else:
        rep.skip("bytes", where, hint)


def _fetched_sha256(reg: Registry, ev: dict[str, Any], commit: str | None) -> tuple[str | None, str]:
    from mvtools import dvcio
    from mvtools.hashing import digest_path

    if commit is None:
        return None, "no commit here holds the version's .dvc or dvc.lock record"
    with tempfile.TemporaryDirectory(prefix="mvtools-verify-") as tmp:
        dest = Path(tmp) / "artifact"
        try:
            dvcio.fetch_version(reg.repo, ev, commit, dest, check=False)
        except MvtoolsError as exc:
            return None, str(exc)
        if not dest.exists():
            return None, "nothing was fetched"
        return digest_path(Path(tmp), "artifact").sha256, ""


def verify(reg: Registry, *, fetch: bool = False, policy: bool = False, allow_shallow: bool = False) -> VerifyReport:
    """Check everything (module docstring). What cannot be seen fails closed: a shallow
    clone is a problem unless ``allow_shallow`` accepts a partial check. History is read in
    bulk: a constant number of git processes however long it is (mvtools.gitbulk)."""
    with reading_in_bulk(reg.repo) as cat:
        return _verify(reg, cat, fetch, policy, allow_shallow)


def _verify(reg: Registry, cat: CatFile, fetch: bool, policy: bool, allow_shallow: bool) -> VerifyReport:
    rep = Report()
    walk = None
    if reg.repo.head is not None:  # HEAD's history, read once, each ledger blob parsed once
        from mvtools.verify_tags import dvc_yamls

        dvcy = dvc_yamls(reg)
        walk = Walk(reg, cat, [w for m in reg.config.models.values() for w in watched(m, dvcy)])
        walk.judge()
    ledgers, broken = _ledgers(reg, rep, walk)
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 300))
    for name, led in ledgers.items():
        for ev in led.events:
            if ev["timestamp"] > now:
                rep.warn("future-timestamp", f"{name} {ev['event']} {ev.get('version') or ''}".strip(),
                         f"timestamped {ev['timestamp']}, in the future")
    if reg.repo.head is None:
        return rep.result()
    shallow = reg.repo.out("rev-parse", "--is-shallow-repository") == "true"
    if shallow:
        what = ("history before the shallow boundary and the tags of older versions are not here, so they "
                "are not checked")
        if allow_shallow:
            rep.skip("history", "shallow clone", what + " (accepted by --allow-shallow)")
        else:
            rep.add("history", "shallow clone", what + " (--allow-shallow accepts a partial check); "
                    "run: git fetch --unshallow --tags")
    uncommitted = set()
    staged = _staged(reg)
    for name in ledgers:
        rel = reg.config.ledger_path(name)
        committed = reg.repo.show_blob(f"HEAD:{rel}")
        if (reg.root / rel).read_bytes() != committed or staged(rel) != committed:
            uncommitted.add(name)  # its tags follow once it is restored: no follow-on advice
            if reg.repo.operation_in_progress() in ("a merge", "a rebase"):  # a pull stopped on this ledger
                rep.add("uncommitted", rel, f"{reg.repo.operation_in_progress()} stopped on this ledger (another "
                        "clone registered the same number?); run: mvtools resolve")
                continue
            rep.add("uncommitted", rel, "the work-tree or staged ledger differs from HEAD's (an interrupted "
                    f"registration?); run: {restore_command(reg.repo, rel)}")
    assert walk is not None
    dropping = history(reg, rep, broken, walk)
    base = baseline(reg.repo, reg.config.registry_dir, ledgers.values())
    unregistered(reg, rep, ledgers, broken | dropping, base, walk, dvcy)  # content a dropped event records: not unregistered
    # a model whose events a commit dropped: its tags are judged once they are restored (a
    # stage tag of a dropped promote is no orphan to delete: restore-events brings it back)
    skip = broken | dropping | uncommitted
    check_tags(reg, rep, {n: led for n, led in ledgers.items() if n not in skip}, skip, shallow, base, walk)
    _bytes(reg, rep, ledgers, fetch, shallow)
    if policy:
        from mvtools.policy import check_history

        rep.problems += check_history(reg)
    return rep.result()
