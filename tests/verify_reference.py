"""The reference for verify's bulk reading (issue 14): verify as it read history before,
one git process per commit, blob and tag. ``reference_verify(reg)`` runs mvtools' verify
with its history checks swapped for the code below (verbatim from before the change) and
no bulk reader attached, so a test can compare the findings of both on the same repository.
"""

from __future__ import annotations

import os
from contextlib import ExitStack, contextmanager, nullcontext
from typing import TYPE_CHECKING, Any, Iterator

from mvtools import ledger as L
from mvtools.artifacts import Source, find_record
from mvtools.baseline import Baseline
from mvtools.config import dvc_yaml_files
from mvtools.errors import ConfigError
from mvtools.verify_tags import git_sha256

if TYPE_CHECKING:
    from mvtools.domain import VerifyReport
    from mvtools.registry import Registry
    from mvtools.verify import Report


def _history(reg: Registry, rep: Report, broken: set[str]) -> set[str]:
    """Every commit's ledger change against its parents' (I3). A commit that dropped events
    is mended once HEAD's ledger holds them again (``mvtools restore-events``). Returns the
    models whose dropped events are still missing (their other findings follow from it)."""
    repo, cfg = reg.repo, reg.config
    skip = {cfg.ledger_path(name) for name in broken}
    dropping: set[str] = set()
    # --full-history: a merge whose ledger equals its first parent's (`merge -s ours`) may
    # still drop the other side's events; default simplification would hide it and that side
    log = repo.out("log", "--full-history", "--format=%H %P", "--", cfg.registry_dir, check=False)
    for line in log.splitlines():
        commit, *parents = line.split()
        names = repo.out("diff-tree", "-r", "-m", "--name-only", "--no-commit-id", "--root", commit).split()
        for p in sorted(set(names)):
            if not L.is_ledger_path(cfg.registry_dir, p) or p in skip:
                continue
            old = [repo.show_blob(f"{par}:{p}") for par in parents]
            why = L.check_ledger_change(old, repo.show_blob(f"{commit}:{p}"), p)
            if not why:
                continue
            name = L.model_of_ledger(cfg.registry_dir, p)
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


def _unregistered(reg: Registry, rep: Report, ledgers: dict[str, L.Ledger], broken: set[str],
                  base: Baseline) -> None:
    """Content a commit introduced for a model that no register event records (before an
    adopted repository's adoption commit: the baseline, one note per model)."""
    repo, cfg = reg.repo, reg.config
    dvcy = dvc_yaml_files(reg.root)
    for model in cfg.models.values():
        if model.name in broken:
            continue
        led = ledgers.get(model.name)
        md5s = {e.get("md5") for e in (led.events if led else []) if e["event"] == "register"}
        shas = {e.get("sha256") for e in (led.events if led else []) if e["event"] == "register"}
        watch = [model.path, model.path + ".dvc", *[os.path.join(os.path.dirname(d), "dvc.lock") for d in dvcy]]
        log = repo.out("log", "--full-history", "--format=%H %P", "--", *watch, check=False)
        before: list[str] = []
        for line in log.splitlines():
            commit, *parents = line.split()
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


@contextmanager
def _patched(obj: Any, name: str, value: Any) -> Iterator[None]:
    old = getattr(obj, name)
    setattr(obj, name, value)
    try:
        yield
    finally:
        setattr(obj, name, old)


class _NoWalk:
    """In place of verify_history.Walk: nothing read in bulk, every ledger parsed by verify."""

    def __init__(self, *args: Any) -> None:
        pass

    def judge(self) -> None:
        pass

    def head_ledger(self, rel: str, data: bytes) -> None:
        return None


def reference_verify(reg: Registry, **kw: Any) -> VerifyReport:
    """``mvtools.verify.verify`` reading history as before (module docstring)."""
    import mvtools.verify as V

    check_tags = V.check_tags
    with ExitStack() as stack:
        for name, value in (
                ("reading_in_bulk", lambda repo: nullcontext(None)),
                ("Walk", _NoWalk),
                ("history", lambda reg, rep, broken, walk: _history(reg, rep, broken)),
                ("unregistered", lambda reg, rep, ledgers, broken, base, walk, dvcy:
                 _unregistered(reg, rep, ledgers, broken, base)),
                ("check_tags", lambda *a: check_tags(*a[:-1], None))):
            stack.enter_context(_patched(V, name, value))
        return V.verify(reg, **kw)
