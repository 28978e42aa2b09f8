"""Where version tags go when commits are made and remade: post-commit tags the versions a
commit registered; after an amend, ``reset --soft`` + commit, a rebase, a squash or a fixup,
a tag follows the rewritten commit only when that commit holds the version's bytes.

The rule, decided by bytes and never by events alone: a version tag moves from its commit
to another only when the other commit's ledger holds the version's register event AND the
model there has the version's bytes (git-tracked: the same sha256; DVC-tracked: the same md5
in its .dvc file or dvc.lock). Otherwise the tag stays on its own commit, which keeps the
bytes reachable: a rewrite never deletes a version tag and never moves one onto other bytes.
Stage and archive tags on the same commit (GTO resolves them through the commit) go where
the model's version tag goes. Only light modules are imported here (the hook path).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mvtools import ledger as L
from mvtools import transaction as T
from mvtools.artifacts import Source, find_record
from mvtools.config import Config, Model, dvc_yaml_files, load_config
from mvtools.gitops import Repo
from mvtools.hookkit import (amending, commit_dvc_yamls, ledger_of, lock_changed, model_change, relevant,
                             same_as_a_parent, say)
from mvtools.hashing import committed_sha256
from mvtools.versioning import parse_tag, register_message

if TYPE_CHECKING:
    from mvtools.registry import Registry


# -- what a commit holds ------------------------------------------------------------------
def ledger_events(repo: Repo, cfg: Config, commit: str, model: str) -> list[dict[str, Any]]:
    """The events of ``model``'s ledger as ``commit`` holds it (none when unreadable)."""
    rel = cfg.ledger_path(model)
    data = repo.show_blob(f"{commit}:{rel}")
    if not data:
        return []
    try:
        return list(ledger_of(repo, data, rel).events)
    except Exception:  # noqa: BLE001 - a broken ledger holds nothing
        return []


def holds_version(repo: Repo, cfg: Config, commit: str, ev: dict[str, Any], dvcy: list[str] | None = None) -> bool:
    """Does ``commit`` hold version ``ev``: its ledger the event, its tree the bytes?"""
    if not any(e["id"] == ev["id"] for e in ledger_events(repo, cfg, commit, ev["model"])):
        return False
    if ev.get("md5"):
        model = cfg.models.get(ev["model"]) or Model(ev["model"], ev["path"])
        rec = find_record(cfg, Source(repo, commit), model, dvc_yaml_files(repo.root) if dvcy is None else dvcy)
        return rec is not None and rec.md5 == ev["md5"]
    if ev.get("sha256") is None or ev.get("path") is None:
        return False  # imported from GTO with neither DVC's md5 nor a sha256: no tree shows its bytes
    return committed_sha256(repo, commit, ev["path"]) == ev["sha256"]


def _event_of(repo: Repo, cfg: Config, commit: str, tag: str, model: str) -> dict[str, Any] | None:
    """The register event of ``tag`` in the ledger of the tag's own commit."""
    return next((e for e in ledger_events(repo, cfg, commit, model)
                 if e["event"] == "register" and e.get("tag") == tag), None)


# -- moving a version tag and the tags that ride on it -------------------------------------
def _retag(repo: Repo, tag: str, commit: str, when: int) -> None:
    """Re-point an annotated tag, keeping its message and its date (GTO orders by it)."""
    msg = repo.out("tag", "-l", "--format=%(contents)", "--", tag).strip()
    if not msg:
        pt = parse_tag(tag)
        msg = register_message(pt.model, pt.version or "") if pt else tag
    env = dict(os.environ, GIT_COMMITTER_DATE=f"@{when} +0000")
    repo.create_tag(tag, commit, msg, force=True, env=env)


def move_version_tag(repo: Repo, tags: dict[str, tuple[str, int]], tag: str, new: str, why: str) -> None:
    """Move ``tag`` to ``new``, and with it the archive tag of its version and, when it is
    the model's only version tag there, the model's stage tags on the same commit."""
    old, when = tags[tag]
    pt = parse_tag(tag)
    assert pt is not None
    same_model = [t for t, (c, _) in tags.items() if c == old and (p := parse_tag(t)) is not None
                  and p.model == pt.model]
    versions_here = [t for t in same_model if parse_tag(t).kind == "version"]  # type: ignore[union-attr]
    riders = []
    for t in same_model:
        p = parse_tag(t)
        assert p is not None
        if (p.kind == "archive" and p.version == pt.version) or \
                (p.kind in ("stage", "unassign") and versions_here == [tag]):
            riders.append(t)
    _retag(repo, tag, new, when)
    tags[tag] = (new, when)
    for t in riders:
        _retag(repo, t, new, tags[t][1])
        tags[t] = (new, tags[t][1])
    also = f" (with {', '.join(riders)})" if riders else ""
    say(f"moved tag {tag} to {new[:12]}{also} ({why})")


def adopt_tag(repo: Repo, cfg: Config, ev: dict[str, Any], where: str, head: str, why: str) -> bool:
    """post-commit: the event's tag is on ``where``, a commit this one replaced (an amend,
    ``reset --soft`` then commit): on no branch and not in HEAD's history. Move the tag to
    HEAD when HEAD holds the version's bytes; True when moved."""
    if where == head or repo.is_ancestor(where, head) or repo.on_a_branch(where):
        return False
    if not holds_version(repo, cfg, head, ev):
        return False
    move_version_tag(repo, repo.tags(), ev["tag"], head, why)
    return True


# -- post-rewrite -------------------------------------------------------------------------
def after_rewrite(repo: Repo, command: str | None, mapping: str | None) -> int:
    """post-rewrite: each version tag on a rewritten commit moves to the commit that
    replaced it (git's map; without one, the oldest commit of HEAD's history that gained
    the event) when that commit holds the version's bytes, and otherwise stays."""
    head = repo.head
    if head is None:
        return 0
    new_of: dict[str, str] | None = None
    if mapping:
        new_of = {}
        for line in mapping.splitlines():
            parts = line.split()
            if len(parts) >= 2:
                new_of[parts[0]] = parts[1]
    cfg = load_config(repo.root, with_dvc=False)
    why = command or "rewrite"
    tags = repo.tags()
    dvcy: list[str] | None = None
    reg: Registry | None = None
    for tag in sorted(tags):
        old = tags[tag][0]
        pt = parse_tag(tag)
        if pt is None or pt.kind not in ("version", "deprecated"):
            continue
        if new_of is not None and old not in new_of:
            continue
        if pt.kind == "deprecated":
            if new_of is not None:
                _follow_deprecation(repo, cfg, tags, tag, pt.model, new_of[old], why)
            continue
        if repo.is_ancestor(old, head):
            continue
        if new_of is None and repo.on_a_branch(old):
            continue  # still on some branch: not ours to move
        ev = _event_of(repo, cfg, old, tag, pt.model)
        if ev is None:
            continue  # not a version its commit records: verify and sync-tags judge it
        if dvcy is None:
            dvcy = dvc_yaml_files(repo.root)
        target = new_of[old] if new_of is not None else None
        if target is None or not holds_version(repo, cfg, target, ev, dvcy):
            if reg is None:
                from mvtools.registry import Registry

                reg = Registry(repo=repo, config=cfg)
            holding = reg.commit_holding(pt.model, ev["id"])  # a rebase that moved the event
            target = holding if holding and holding != target and holds_version(repo, cfg, holding, ev, dvcy) \
                else None
        if target:
            move_version_tag(repo, tags, tag, target, why)
        else:
            say(f"note: tag {tag} stays on {old[:12]}, which holds its bytes "
                          f"({why} left no commit that holds them)")
    return 0


def _follow_deprecation(repo: Repo, cfg: Config, tags: dict[str, tuple[str, int]], tag: str, model: str,
                        new: str, why: str) -> None:
    """A deprecation tag holds no bytes: it follows its commit when the rewritten commit's
    ledger still records the deprecation."""
    old, when = tags[tag]
    ids = {e["id"] for e in ledger_events(repo, cfg, old, model) if e["event"] == "deprecate"}
    if ids and ids & {e["id"] for e in ledger_events(repo, cfg, new, model)}:
        _retag(repo, tag, new, when)
        tags[tag] = (new, when)
        say(f"moved tag {tag} to {new[:12]} ({why})")


# -- post-commit --------------------------------------------------------------------------
def after_commit(repo: Repo) -> int:
    """Tag the versions HEAD registered; warn when HEAD changed a model without registering."""
    T.clear_pending(repo)  # what the shell hook did not tag is tagged below
    head = repo.head
    if head is None:
        return 0
    parents = repo.out("rev-list", "--parents", "-n", "1", head).split()[1:]
    changed = repo.changed_paths(parents[0] if parents else None, head)
    dvcy = commit_dvc_yamls(repo, changed)  # no walk of the work tree
    cfg = load_config(repo.root, dvc_yamls=dvcy)
    if not relevant(changed, cfg):
        return 0
    from mvtools.registry import Registry

    reg = Registry(repo=repo, config=cfg)
    registered: set[str] = set()
    for p in changed:
        if L.is_ledger_path(cfg.registry_dir, p):
            registered |= _tag_new_versions(repo, reg, head, parents, p)
    if os.environ.get("MVTOOLS_REGISTERING") != "1":
        _warn_unregistered(repo, cfg, head, parents, changed, registered, dvcy)
    return 0


def _tag_new_versions(repo: Repo, reg: "Registry", head: str, parents: list[str], p: str) -> set[str]:
    """Tag the register events HEAD's ledger ``p`` gained over its parents, confirming their
    reservations; warn when a one-parent commit rewrote the ledger. Returns their models."""
    data = repo.show_blob(f"{head}:{p}")
    if data is None:
        return set()
    try:
        led = ledger_of(repo, data, p)
    except Exception as exc:  # noqa: BLE001
        say(f"warning: {exc}")
        return set()
    olds = [repo.show_blob(f"{par}:{p}") for par in parents]
    if len(parents) == 1:  # a merge's union is for the pre-commit hook and verify to judge
        dropped = L.check_ledger_change(olds, data, p, lambda d, src: ledger_of(repo, d, src))
        if dropped:
            say(f"warning: commit {head[:12]} rewrote the ledger ({dropped}); to keep it append-only run: "
                   f"git checkout HEAD^ -- {p} && git commit --amend --no-edit --allow-empty")
    before: set[str] = set()
    for old in olds:
        if old:
            try:
                before.update(ledger_of(repo, old, p).ids)
            except Exception:  # noqa: BLE001
                pass
    models = set()
    amend: bool | None = None
    for ev in led.events:
        if ev["id"] in before or ev["event"] != "register":
            continue
        models.add(ev["model"])
        where, created = reg.tag_event(ev, head)
        T.release(repo, ev)  # the reservation is confirmed by the tag
        if created:
            say(T.registered_line(ev))
            continue
        if where == head:
            continue
        if amend is None:
            amend = amending(repo)
        if adopt_tag(repo, reg.config, ev, where, head, "amend" if amend else "commit"):
            continue
        if not amend and repo.operation_in_progress() != "a rebase":  # post-rewrite decides then
            say(f"note: tag {ev['tag']} stays on {where[:12]}, the commit that first held it")
    _restore_index(repo, p, data)
    return models


def _warn_unregistered(repo: Repo, cfg: Config, head: str, parents: list[str], changed: list[str],
                       registered: set[str], dvcy: list[str]) -> None:
    """A model changed without a register event: the commit skipped the pre-commit hook. A
    merge that takes a model as one of its parents holds it changes nothing."""
    p1 = parents[0] if parents else None
    new_src, old_src = Source(repo, head), Source(repo, p1)
    changed_set = set(changed)
    locks = lock_changed(changed_set)
    for model in cfg.models.values():
        if model.name in registered:
            continue
        model_changed, rec = model_change(cfg, model, new_src, old_src, dvcy, changed_set, locks)
        if not model_changed or (rec is None and not (repo.root / model.path).exists()):
            continue
        if same_as_a_parent(repo, cfg, model, head, parents[1:], dvcy):
            continue
        if _registered_already(repo, cfg, head, model.name, model.path, rec.md5 if rec else None):
            continue  # back to a registered version (a revert, a checkout of old bytes): nothing new
        say(f"warning: commit {head[:12]} changed model {model.name} without registering it; "
               f"run: mvtools register {model.name}")


def _registered_already(repo: Repo, cfg: Config, head: str, name: str, path: str, md5: str | None) -> bool:
    """Does HEAD's ledger register the model's content at HEAD already?"""
    regs = [e for e in ledger_events(repo, cfg, head, name) if e["event"] == "register"]
    if md5 is not None:
        return any(e.get("md5") == md5 for e in regs)
    sha = committed_sha256(repo, head, path)
    return sha is not None and any(e.get("sha256") == sha for e in regs)


def _restore_index(repo: Repo, rel: str, committed: bytes) -> None:
    """After ``git commit PATH`` git keeps its own index; put the committed ledger in it."""
    idx = os.environ.get("GIT_INDEX_FILE")
    if idx and Path(idx if os.path.isabs(idx) else repo.root / idx).resolve() != (repo.git_dir / "index").resolve():
        return  # a temporary index: not the one the user sees
    try:
        wt = (repo.root / rel).read_bytes()
    except OSError:
        return
    if wt == committed and repo.show_blob(":" + rel) != committed:
        repo.git("add", "--", rel, check=False)
