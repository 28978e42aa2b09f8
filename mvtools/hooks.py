"""The git hooks: pre-commit registers, post-commit tags, post-rewrite keeps tags on the
commits that hold their versions. Only light modules are imported here."""

from __future__ import annotations

import os
import re
import sys
from typing import TYPE_CHECKING, Any

from mvtools import ledger as L
from mvtools import transaction as T
from mvtools.artifacts import INDEX, Record, Source, find_record, preload
from mvtools.config import CONFIG_FILE, Config, Model, load_config
from mvtools.errors import CheckFailed, UsageError
from mvtools.gitops import Repo, git_ancestor_pids
from mvtools.hookkit import (Unstaged, amending, commit_dvc_yamls, committed_config, index_files, ledger_of,
                             lock_changed, model_change, relevant, same_as_a_parent, say, touches, watch_regex)
from mvtools.versioning import register_message

if TYPE_CHECKING:  # the hooks import registry only when they register or tag
    from mvtools.registry import Registry

def write_watch_file(repo: Repo, cfg: Config) -> None:
    """The data the shell hooks decide by before starting Python (hooks/pre-commit): the
    regex of watched paths and, beside it, the commit HEAD is as ``cfg`` is read. The hooks
    compare what is staged with that commit, so anything watched that changed since (a
    dvc.yaml brought in by a pull, checkout, merge or rebase) hands over to Python; and
    ``watch.src``, the work-tree files ``cfg`` was read from: one changed since the regex was
    written (`git checkout -- dvc.yaml` undoing a local edit) hands over to Python too."""
    f = repo.watch_file  # per worktree: each has its own HEAD, index and mvtools.yaml
    base = f.with_name("watch.base")
    text = watch_regex(cfg) + "\n"
    try:
        base.unlink(missing_ok=True)  # until all are written, the hooks start Python
        if any("\n" in s or "\r" in s for s in cfg.sources):
            return  # a name the shell cannot read line by line: Python decides every time
        L.atomic_write(f.with_name("watch.src"), "".join(s + "\n" for s in cfg.sources).encode(), durable=False)
        if not f.exists() or f.read_text() != text:
            L.atomic_write(f, text.encode())
        else:
            os.utime(f)
        if repo.head is not None:  # no commit yet: Python decides every time
            # and the git process under way: its post-commit hook moves the base to the new
            # commit, whose configuration was read here (hooks/post-commit)
            owner = next(iter(git_ancestor_pids()), None)
            # no fsync: the shell hooks check it (anything but a commit id hands over to Python)
            L.atomic_write(base, f"{repo.head} {owner or ''}".rstrip().encode() + b"\n", durable=False)
    except Exception:  # noqa: BLE001 - an optimisation only
        pass


def _amended_parents(repo: Repo, head: str) -> list[str]:
    """The parents of the commit an amend replaces (both, for a merge commit)."""
    return repo.out("rev-list", "--parents", "-n", "1", head).split()[1:]


def _said_by_shell(repo: Repo) -> tuple[str | None, list[str] | None]:
    """HEAD and the staged paths as the shell hook (hooks/pre-commit) read them just before it
    started us, when it read them for this ``git commit`` process (``staged.for``: its pid,
    start time and HEAD, from its loose ref): no git process for either. (None, None): ask
    git again."""
    d = repo.worktree_state_dir
    try:
        pid, start, head = (d / "staged.for").read_text().split()
        data = (d / "staged").read_bytes()
    except (OSError, ValueError):
        return None, None
    owner = T.commit_owner()
    if pid != str(owner["pid"]) or start != owner["start"] or len(head) < 40 \
            or head.strip("0123456789abcdef"):
        return None, None
    return head, [p for p in data.decode("utf-8", "surrogateescape").split("\0") if p]


def pre_commit(repo: Repo) -> int:
    if os.environ.get("MVTOOLS_SKIP") == "1":
        return 0
    said_head, staged = _said_by_shell(repo)
    if said_head is not None:
        repo.assume_head(said_head)
    head = repo.head
    amend = head is not None and amending(repo)
    parents = _amended_parents(repo, head) if amend and head else [head] if head else []
    base = parents[0] if parents else None
    if staged is None or amend:
        staged = repo.changed_paths(base, cached=True)
    # the dvc.yaml files this commit can declare models in, listed once and without a walk of
    # the work tree (the hook's cost grows with the change, not the repository)
    listed, env_files = index_files(repo)
    dvcy = commit_dvc_yamls(repo, staged, listed)
    cfg = load_config(repo.root, dvc_yamls=dvcy)
    # what the commit declares (the index), not an unstaged edit of the work tree; the shell
    # hooks' watch data is built from it too. One `git diff` says which of its sources and
    # of the models git tracks differ from the index (not `git ls-files --modified`, which
    # stats every file of the index: 0.1 s at 100,000 files)
    unstaged = Unstaged(repo)
    unstaged.ask([*(s for s in cfg.sources if "\n" not in s and "\r" not in s),
                  *(m.path for m in cfg.models.values() if "://" not in m.path)])
    cfg = committed_config(repo, cfg, dvcy, unstaged)
    write_watch_file(repo, cfg)
    if not staged or not relevant(staged, cfg):
        return 0
    merging = not amend and (repo.git_dir / "MERGE_HEAD").exists()  # no git process for the usual case
    merge_head = repo.rev_parse("MERGE_HEAD") if merging else None  # concluding a merge
    if merge_head:
        parents.append(merge_head)
    _check_ledgers(repo, cfg, parents, staged)
    if os.environ.get("MVTOOLS_REGISTERING") == "1":
        return 0  # a commit made by mvtools itself, which holds the registry lock
    from mvtools.registry import Registry

    reg = Registry(repo=repo, config=cfg)
    _driver_hint(repo)  # said here: post-commit tags in shell, without Python
    staged_set = set(staged)
    # the index is the base commit but for the staged paths: the rest is read from the commit
    idx = Source(repo, INDEX, staged=(base, staged_set) if base else None)
    if not cfg.environment_files:  # a model with no dvc.yaml of its own looks at the top only
        from mvtools.environment import NAMES

        idx.listed[NAMES] = env_files
    old = Source(repo, base)
    locks = lock_changed(staged_set)
    # what deciding and registering the models this change touches reads, in one git process
    touched = [m for m in cfg.models.values() if touches(m, staged_set, locks)]
    preload([(src, rel) for m in touched for src in (idx, old) for rel in (m.path + ".dvc", cfg.ledger_path(m))])
    owner = T.commit_owner()
    with L.lock(repo.common_dir):
        T.clear_pending(repo)  # an earlier attempt's (aborted) lines: this attempt decides anew
        if amend:
            _drop_stale_pending(repo, cfg, parents, idx, old, dvcy)
        for model in cfg.models.values():
            changed, rec = model_change(cfg, model, idx, old, dvcy, staged_set, locks)
            if not changed or same_as_a_parent(repo, cfg, model, None, parents[1:], dvcy):
                continue
            if rec is None:
                # committed to git directly: the index must be what gets hashed
                if unstaged.differs(model.path):
                    raise CheckFailed(
                        f"model {model.name}: {model.path} differs between the index and the work tree; "
                        f"stage all of it (git add {model.path}) or none of it")
                if not (repo.root / model.path).exists():
                    continue  # the model was deleted: nothing to register
            _register_staged(repo, reg, cfg, model, rec, idx, old, parents, owner, dvcy)
    return 0


def _parent_ledgers(repo: Repo, parents: list[str], ledger_rel: str,
                    got: dict[str, bytes] | None = None) -> tuple[list[bytes | None], set[str]]:
    """Each parent's ledger bytes (``got``: read already), and the ids of every event they hold."""
    blobs = [got.get(f"{p}:{ledger_rel}") if got is not None else repo.show_blob(f"{p}:{ledger_rel}")
             for p in parents]
    ids: set[str] = set()
    for b in blobs:
        if b:
            ids.update(ledger_of(repo, b, ledger_rel).ids)
    return blobs, ids


def _with_own_events(model: str, parent_blobs: list[bytes | None], staged: L.Ledger, parent_ids: set[str],
                     own: list[dict[str, Any]]) -> bytes:
    """The ledger this commit stages: its parents' events, then ``own``. One parent: its
    bytes stay a prefix; a merge: the union the driver made, re-rendered."""
    if len(parent_blobs) <= 1:
        base = parent_blobs[0] if parent_blobs else None
        return (base or L.header(model).encode()) + L.render_events(own).encode()
    theirs = [e for e in staged.events if e["id"] in parent_ids]
    return L.header(model).encode() + L.render_events([*theirs, *own]).encode()


def _drop_stale_pending(repo: Repo, cfg: Config, parents: list[str], idx: Source, old: Source,
                        dvcy: list[str]) -> None:
    """An amend that takes a model change back out also takes its pending event out."""
    base = parents[0] if parents else None
    for model in cfg.models.values():
        ledger_rel = cfg.ledger_path(model)
        staged_bytes = repo.show_blob(":" + ledger_rel)
        if not staged_bytes:
            continue
        parent_blobs, parent_ids = _parent_ledgers(repo, parents, ledger_rel)
        staged_led = ledger_of(repo, staged_bytes, ledger_rel, model.name)
        pending = [e for e in staged_led.events if e["id"] not in parent_ids]
        if not any(e["event"] == "register" for e in pending):
            continue
        rec, before = find_record(cfg, idx, model, dvcy), find_record(cfg, old, model, dvcy)
        if rec is not None:
            unchanged = before is not None and before.md5 == rec.md5
        else:
            unchanged = repo.blob_ids(None, [model.path]) == (repo.blob_ids(base, [model.path]) if base else {})
        if not unchanged and not same_as_a_parent(repo, cfg, model, None, parents[1:], dvcy):
            continue
        keep = [e for e in pending if e["event"] != "register"]
        new = _with_own_events(model.name, parent_blobs, staged_led, parent_ids, keep)
        path = repo.root / ledger_rel
        if not any(parent_blobs) and not keep:
            path.unlink(missing_ok=True)
            repo.git("rm", "-q", "--cached", "--", ledger_rel, check=False)
        else:
            L.atomic_write(path, new)
            repo.git("add", "--", ledger_rel)
        say(f"amend: {model.name} no longer changes in this commit; its pending version is dropped")


def _check_ledgers(repo: Repo, cfg: Config, parents: list[str], staged: list[str]) -> None:
    problems = []
    for p in staged:
        if not L.is_ledger_path(cfg.registry_dir, p):
            continue
        new = repo.show_blob(":" + p)
        if new is not None:
            try:
                ledger_of(repo, new, p)
            except Exception as exc:  # noqa: BLE001 - reported as one line
                problems.append(str(exc))
                continue
        olds: list[bytes | None] = [repo.show_blob(f"{rev}:{p}") for rev in parents] or [None]
        why = L.check_ledger_change(olds, new, p, lambda data, src: ledger_of(repo, data, src))
        if why:
            problems.append(why)
    if problems:
        raise CheckFailed("commit refused: " + "; ".join(problems)
                          + " (ledgers are append-only; restore with: git checkout HEAD -- "
                          + cfg.registry_dir + ")")


def _register_staged(repo: Repo, reg: Registry, cfg: Config, model: Model, rec: Record | None, idx: Source,
                     old: Source, parents: list[str], owner: dict[str, Any], dvcy: list[str]) -> None:
    """Append the model's register event to the staged ledger and reserve its version for
    this commit; post-commit confirms it with the tag (mvtools.transaction)."""
    from mvtools.reading import read_ledger_file  # loaded with the registry already

    ledger_rel = cfg.ledger_path(model)
    path = repo.root / ledger_rel
    # the staged ledger and the parents' (read with the model's files; a merge's other
    # parents in one more git process)
    staged_bytes = idx.read(ledger_rel)
    got = repo.read_blobs(f"{p}:{ledger_rel}" for p in parents[1:])
    first = old.read(ledger_rel) if parents else None
    if first is not None:
        got[f"{parents[0]}:{ledger_rel}"] = first
    parent_blobs, parent_ids = _parent_ledgers(repo, parents, ledger_rel, got)
    wt_bytes = read_ledger_file(repo.root, ledger_rel)
    if wt_bytes != staged_bytes and wt_bytes is not None and staged_bytes is not None:
        raise CheckFailed(f"{ledger_rel} has unstaged changes; stage or drop them first")
    staged_led = ledger_of(repo, staged_bytes, ledger_rel, model.name) if staged_bytes else L.Ledger(model.name)
    pending = [e for e in staged_led.events if e["id"] not in parent_ids]
    from mvtools.registering import large_git_model  # loaded with the registry already

    d = reg.digest(model, rec)
    warning = large_git_model(cfg, model, rec, d)
    if warning:
        say(f"warning: {warning}")
    mine = next((e for e in pending if e["event"] == "register" and e["sha256"] == d.sha256), None)
    if mine is not None and T.version_free(repo, ledger_rel, mine, owner):
        ev = mine  # staged already (a retried commit, an amend): keep its number
    else:
        if mine is not None:
            say(f"{model.name} {mine['version']} was taken by another commit since it was staged; "
                 "renumbering")
        keep = [e for e in pending if not (e["event"] == "register")]
        warnings: list[str] = []
        ev = reg.new_event(model, d, rec, idx, pending=pending, warnings=warnings, dvcy=dvcy)
        L.atomic_write(path, _with_own_events(model.name, parent_blobs, staged_led, parent_ids, [*keep, ev]))
        repo.git("add", "--", ledger_rel)
        for warning in warnings:  # once the event is written: a refused commit prints its error alone
            say(f"warning: {warning}")
    if ev is mine and ev["tag"] in repo.tags(ev["tag"]):  # (a new event's tag is free: new_event chose it)
        return  # an amend of the commit that holds it: its tag stays (post-rewrite moves it)
    reservation = T.reserve(repo, ev, owner)
    T.add_pending(repo, ev, owner, ledger_rel, reservation, register_message(ev["model"], ev["version"]))


def _driver_hint(repo: Repo) -> None:
    """git config does not travel with a clone: say how to add the merge driver."""
    attrs = repo.root / ".gitattributes"
    try:
        if "merge=mvtools-ledger" not in attrs.read_text():
            return
    except OSError:
        return
    try:  # what `mvtools init` writes to the repository's own config: no git process to read it
        local = (repo.common_dir / "config").read_text(errors="replace")
        if re.search(r'^\[merge "mvtools-ledger"\][ \t]*\n(?:[ \t]*[^\[\s].*\n)*?[ \t]*driver[ \t]*=', local, re.M):
            return
    except OSError:
        pass
    if not repo.out("config", "--get", "merge.mvtools-ledger.driver", check=False):
        say("note: this clone has no ledger merge driver configured; run: mvtools init "
             "(or: mvtools install-merge-driver)")


def post_commit(repo: Repo) -> int:
    if os.environ.get("MVTOOLS_SKIP") == "1":
        return 0
    from mvtools.rewrite import after_commit

    return after_commit(repo)


def post_rewrite(repo: Repo, command: str | None, mapping: str | None) -> int:
    """Keep version tags on commits that hold their versions' bytes after an amend or rebase."""
    if os.environ.get("MVTOOLS_SKIP") == "1":
        return 0
    from mvtools.rewrite import after_rewrite

    return after_rewrite(repo, command, mapping)


def pre_push(repo: Repo, stdin: str, remote: str | None = None) -> int:
    """What a push publishes carries its registry tags and DVC bytes (mvtools.prepush)."""
    from mvtools.prepush import pre_push as check_push

    return check_push(repo, stdin, remote)


def run(hook: str, args: list[str]) -> int:
    repo = Repo.for_hook()
    if hook == "pre-commit":
        return pre_commit(repo)
    if hook == "post-commit":
        return post_commit(repo)
    if hook == "post-rewrite":
        mapping = None if sys.stdin is None or sys.stdin.isatty() else sys.stdin.read()
        command = args[0] if args else os.environ.get("PRE_COMMIT_REWRITE_COMMAND")
        return post_rewrite(repo, command, mapping or None)
    if hook == "pre-push":
        return pre_push(repo, "" if sys.stdin is None or sys.stdin.isatty() else sys.stdin.read(),
                        args[0] if args else None)
    raise UsageError(f"unknown hook {hook!r}: expected pre-commit, post-commit, post-rewrite or pre-push")


__all__ = ["run", "pre_commit", "post_commit", "post_rewrite", "CONFIG_FILE"]
