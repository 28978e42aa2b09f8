"""verify's tag checks (invariant I4): every registry tag agrees with the ledger, by name and
by the commit it points at, and a tag is judged by its own commit's ledger.

* A version tag is right when its commit's ledger registers that version with the sha256
  this branch's ledger records (two clones that registered identical bytes as one version
  hold two events; either commit is right). On a commit outside HEAD's history (another
  branch, a detached HEAD, a commit reset, reverted or squashed away) it is a *note*.
* A version tag this branch's ledger does not record is a note when its own commit's ledger
  registers it (the number stays taken), else a problem whose repair never frees a number
  bound to bytes: ``mvtools import-gto`` when the commit holds the model (a version made by
  ``gto register``); ``git tag -d`` (and the remote's copy) when it holds no bytes at all.
* Stage, unassign, archive and deprecation tags must exist and point at the commit the
  ledger's event puts them on (GTO reads the stage from the commit); ``mvtools sync-tags``
  re-points them. One that no ledger on any ref records is a problem.
"""

from __future__ import annotations

import shlex
from typing import TYPE_CHECKING, Any

from mvtools import ledger as L
from mvtools.artifacts import Source, find_record
from mvtools.config import dvc_yaml_files
from mvtools.errors import MvtoolsError
from mvtools.hashing import committed_sha256, tree_sha256
from mvtools.versioning import ParsedTag, parse_tag, register_message

if TYPE_CHECKING:
    from mvtools.gitops import Repo
    from mvtools.registry import Registry
    from mvtools.verify import Report
    from mvtools.baseline import Baseline
    from mvtools.verify_history import Walk

Tags = dict[str, tuple[str, int]]
SHALLOW = "no tag in this shallow clone (git fetch --unshallow --tags)"


def check_tags(reg: Registry, rep: Report, ledgers: dict[str, L.Ledger], broken: set[str], shallow: bool,
               base: Baseline | None = None, walk: Walk | None = None) -> None:
    """``walk``: HEAD's history read in bulk (mvtools.verify_history), to judge each version
    tag by its commit's ledger without parsing that ledger again."""
    tags = reg.repo.tags()
    accounted: set[str] = set()  # tags an event of this branch's ledgers implies
    for name, led in ledgers.items():
        _version_tags(reg, rep, name, led, tags, shallow, accounted, walk)
        for tag, commit, _msg, _ts in reg.expected_tags(name, tags):
            pt = parse_tag(tag)
            if pt is None or pt.kind == "version":
                continue
            accounted.add(tag)
            have = tags.get(tag)
            if have is None:
                _missing(rep, tag, shallow, "the ledger records it but the tag is missing (GTO cannot see it)")
            elif commit is not None and have[0] != commit and shallow:
                rep.skip("tag-moved", tag, "cannot tell where it belongs in a shallow clone")
            elif commit is not None and have[0] != commit:
                rep.add("tag-moved", tag, f"points at {have[0][:12]}, the ledger's event puts it on {commit[:12]} "
                        "(gto show and mvtools show disagree); run: mvtools sync-tags")
    for tag, (commit, when) in tags.items():
        pt = parse_tag(tag)
        if tag in accounted or pt is None or pt.model in broken:
            continue
        if base is not None and base.judged_by_import(when):
            rep.note("baseline-tag", tag, f"on commit {commit[:12]}, created before the GTO import, which left it out "
                     "(mvtools import-gto --json reports why); the baseline, not an orphan (docs/invariants.md)")
            continue
        _unrecorded(reg, rep, tag, pt, commit)


def _missing(rep: Report, tag: str, shallow: bool, what: str) -> None:
    """A tag the ledger implies is absent: mended by sync-tags, or unknowable in a shallow clone."""
    if shallow:
        rep.skip("tag-missing", tag, SHALLOW)
    else:
        rep.add("tag-missing", tag, f"{what}; run: mvtools sync-tags")


def _registered(led: L.Ledger | None, version: str) -> set[str]:
    """The sha256s ``led`` registers ``version`` with."""
    return {L.bytes_key(e) for e in (led.events if led else []) if e["event"] == "register" and e["version"] == version}


def _version_tags(reg: Registry, rep: Report, name: str, led: L.Ledger, tags: Tags, shallow: bool,
                  accounted: set[str], walk: Walk | None) -> None:
    repo = reg.repo
    by_version: dict[str, list[dict[str, Any]]] = {}
    for ev in led.events:
        if ev["event"] == "register":
            by_version.setdefault(ev["version"], []).append(ev)
    for version, evs in by_version.items():
        tag = evs[0]["tag"]
        accounted.add(tag)
        have = tags.get(tag)
        if have is None:
            _missing(rep, tag, shallow, "the ledger registers it but the tag is missing")
            continue
        commit = have[0]
        held = walk.registered(commit, name, version) if walk else _registered(reg.ledger_at(commit, name), version)
        shas = {L.bytes_key(e) for e in evs}
        if any(e.get("imported_from") for e in evs) or held & shas and _holds_bytes(reg, evs[0], commit):
            if repo.head and not repo.is_ancestor(commit, repo.head):
                rep.note("tag-elsewhere", tag, f"on commit {commit[:12]}, outside this branch's history; "
                         "that commit's ledger registers it")
            continue
        if held and not held & shas:
            rep.add("tag-commit", tag, f"commit {commit[:12]} registers {version} with other bytes "
                    f"(sha256 {sorted(map(str, held))[0][:12]}...): two commits took one number; keep the published one "
                    "and re-register the other bytes as the next version (see docs/merges.md)")
            continue
        target = reg.commit_holding(name, evs[0]["id"])
        msg = f"commit {commit[:12]} does not hold this version's " + ("bytes" if held else "ledger event")
        if target is not None and target != commit and _holds_bytes(reg, evs[0], target):
            msg += (f"; commit {target[:12]} does: run: git tag -f -a -m "
                    f"{shlex.quote(register_message(name, version))} {shlex.quote(tag)} {target[:12]}")
        rep.add("tag-commit", tag, msg)


def _holds_bytes(reg: Registry, ev: dict[str, Any], commit: str) -> bool:
    """Does ``commit`` hold the bytes ``ev`` registers: the same DVC md5 in its .dvc file or
    dvc.lock, or for a git-tracked model the same sha256 in its tree?"""
    if ev.get("md5") is None:  # (a GTO version imported with neither md5 nor sha256 binds no bytes)
        return ev.get("sha256") is not None and git_sha256(reg.repo, commit, ev["path"]) == ev["sha256"]
    model = reg.config.models.get(ev["model"])
    if model is None:
        return True  # an undeclared model's record cannot be found: the bytes check decides
    rec = find_record(reg.config, Source(reg.repo, commit), model, dvc_yamls(reg))
    return rec is not None and rec.md5 == ev["md5"]


def dvc_yamls(reg: Registry) -> list[str]:
    """``config.dvc_yaml_files``, once per bulk read (it walks the work tree)."""
    bulk = reg.repo.bulk
    if bulk is None:
        return dvc_yaml_files(reg.root)
    if "dvc_yamls" not in bulk.memo:
        bulk.memo["dvc_yamls"] = dvc_yaml_files(reg.root)
    return list(bulk.memo["dvc_yamls"])


_GIT_SHA256: dict[tuple[str, str, str], str] = {}  # (repo, commit, path): commits never change


def git_sha256(repo: Repo, commit: str, path: str) -> str:
    """The sha256 of a git-tracked model (file or directory) as ``commit`` holds it
    (``hashing.committed_sha256``, memoised: commits never change)."""
    key = (str(repo.common_dir), commit, path)
    if key not in _GIT_SHA256:
        _GIT_SHA256[key] = committed_sha256(repo, commit, path) or tree_sha256([])
    return _GIT_SHA256[key]


def _unrecorded(reg: Registry, rep: Report, tag: str, pt: ParsedTag, commit: str) -> None:
    """A registry tag no event of this branch's ledgers implies."""
    if pt.kind == "version":
        if _registered(reg.ledger_at(commit, pt.model), pt.version or ""):
            rep.note("tag-elsewhere", tag, f"registered by commit {commit[:12]}, which this branch's ledger "
                     "does not include; the number stays taken")
        elif _holds_model(reg, pt.model, commit):
            rep.add("tag-orphan", tag, f"no ledger registers it, but commit {commit[:12]} holds {pt.model}'s "
                    "bytes (a version made by gto register?); to record it run: mvtools import-gto")
        else:
            rep.add("tag-orphan", tag, f"no ledger registers it and commit {commit[:12]} holds no bytes of "
                    f"{pt.model}, so the tag binds nothing; {_delete_hint(reg, tag)}")
        return
    if any(e.get("tag") == tag for led in reg.ledgers_on_refs(pt.model) for e in led.events):
        rep.note("tag-elsewhere", tag, "recorded by the ledger of another branch or tag, not this branch's")
        return
    rep.add("tag-orphan", tag, f"no ledger records this {pt.kind} tag (made by gto beside mvtools?): gto show reads "
            f"it, mvtools show does not{_what_gto_sees(reg, pt)}; to record it run: mvtools import-gto; "
            f"to drop it instead, {_delete_hint(reg, tag)}")


def _what_gto_sees(reg: Registry, pt: ParsedTag) -> str:
    """What the unrecorded tag changes in ``gto show``, when mvtools' state says otherwise."""
    try:
        st = reg.state(pt.model)
    except MvtoolsError:
        return ""
    if pt.kind == "archive" and pt.version in st.versions and pt.version not in st.archived:
        also = " and as latest" if st.latest == pt.version else ""
        return f" (gto deregistered {pt.version}; mvtools still shows it live{also})"
    if pt.kind == "deprecated" and not st.deprecated:
        return " (gto deprecated the model; mvtools still shows it)"
    return ""


def _delete_hint(reg: Registry, tag: str) -> str:
    hint = f"run: git tag -d {shlex.quote(tag)}"
    remotes = reg.repo.remotes()
    if remotes:
        hint += f"; if it was pushed, also run: git push {remotes[0]} {shlex.quote(':refs/tags/' + tag)}"
    return hint


def _holds_model(reg: Registry, name: str, commit: str) -> bool:
    """Does ``commit`` hold bytes of the declared model ``name`` (git-tracked or by DVC)?"""
    model = reg.config.models.get(name)
    if model is None:
        return False
    src = Source(reg.repo, commit)
    return bool(find_record(reg.config, src, model, dvc_yamls(reg)) is not None
                or reg.repo.blob_ids(commit, [model.path]))
