"""What both hook modules (mvtools.hooks, mvtools.rewrite) read: ledgers through the
shared cache, which paths a commit's change can touch (the watch regex the shell hooks
use too), whether a model's content changed, whether the running ``git commit`` is an
amend. Light imports only: the hooks' path."""

from __future__ import annotations

import os
import posixpath
import re
import sys
from pathlib import Path

from mvtools import ledger as L
from mvtools.artifacts import INDEX, Record, Source, find_record
from mvtools.config import DVC_YAML_SPECS, Config, Model, dvc_yaml_files, dvc_yamls_in, ls_files
from mvtools.gitops import Repo, git_ancestors
from mvtools.ledgercache import LedgerCache

STATIC_WATCH = r"(^|/)dvc\.(lock|yaml)$|\.dvc$|^mvtools\.yaml$"


_CACHES: dict[Path, LedgerCache] = {}


def ledger_of(repo: Repo, data: bytes, source: str, model: str | None = None) -> L.Ledger:
    """Parse a ledger blob through the shared cache: the hooks read the same blobs that
    `show`, the next commit's hook and each other read, so each is parsed once."""
    cache = _CACHES.get(repo.common_dir)
    if cache is None:
        cache = _CACHES[repo.common_dir] = LedgerCache(repo.ledger_cache_dir)
    return cache.load(data, source, model)


def index_files(repo: Repo) -> tuple[list[str], list[str]]:
    """The index's dvc.yaml files that the work tree holds (as :func:`dvc_yaml_files` with
    ``staged_only`` lists them) and its environment files at the top
    (:func:`mvtools.environment.top_level`), in one ``git ls-files``: one index read fewer
    for a model registered with no dvc.yaml of its own."""
    from mvtools.environment import top_level, top_level_specs

    names = ls_files(repo.root, [*DVC_YAML_SPECS, *top_level_specs()])
    return dvc_yamls_in(repo.root, names), top_level(sorted(names))


def commit_dvc_yamls(repo: Repo, changed: list[str], listed: list[str] | None = None) -> list[str]:
    """The dvc.yaml files a commit's hook reads declarations from, found without walking the
    work tree (whose cost grows with the repository, not the change): the index's
    (``listed``: :func:`index_files` listed them), and an untracked, not ignored dvc.yaml in
    a folder above a changed path (declared beside the model it stages, not added yet), as
    the walk of ``git ls-files --others`` found it."""
    if listed is None:
        listed = dvc_yaml_files(repo.root, staged_only=True)
    near: set[str] = set()
    for p in changed:
        d = posixpath.dirname(p)
        while True:
            near.add(posixpath.join(d, "dvc.yaml") if d else "dvc.yaml")
            if not d:
                break
            d = posixpath.dirname(d)
    extra = sorted(c for c in near.difference(listed) if (repo.root / c).is_file())
    if extra:  # rare: one git process, for these files only
        proc = repo.git("check-ignore", "-z", "--stdin", input="\0".join(extra).encode("utf-8", "surrogateescape"),
                        check=False, env={**os.environ, "GIT_LITERAL_PATHSPECS": "0"})
        ignored = set(proc.stdout.decode("utf-8", "surrogateescape").split("\0"))
        listed = sorted({*listed, *(c for c in extra if c not in ignored)})
    return listed


def say(msg: str) -> None:
    print(f"mvtools: {msg}", file=sys.stderr)


def ere_escape(text: str) -> str:
    """Escape for POSIX extended regexes (grep -E) and Python alike."""
    return "".join("\\" + c if c in ".[]()*+?{}|^$\\" else c for c in text)


def watch_regex(cfg: Config) -> str:
    parts = [STATIC_WATCH, "^" + ere_escape(cfg.registry_dir) + "/"]
    parts += ["^" + ere_escape(p) + "(/|$)" for p in cfg.watched_paths()]
    return "|".join(parts)


def touches(model: Model, changed: set[str], lock_changed: bool) -> bool:
    """Could this change have changed the model's recorded content?"""
    if lock_changed or model.path + ".dvc" in changed or model.path in changed:
        return True
    prefix = model.path + "/"
    return any(p.startswith(prefix) for p in changed)


def model_change(cfg: Config, model: Model, new: Source, old: Source, dvcy: list[str], changed: set[str],
                  locks: bool) -> tuple[bool, Record | None]:
    """Did the model's content change between ``old`` and ``new``? (and its record in ``new``:
    the .dvc/dvc.lock entry, or None when git tracks the model directly)"""
    if not touches(model, changed, locks):
        return False, None
    rec = find_record(cfg, new, model, dvcy)
    if rec is not None:
        before = find_record(cfg, old, model, dvcy)
        return before is None or before.md5 != rec.md5, rec
    prefix = model.path + "/"
    return any(p == model.path or p.startswith(prefix) for p in changed), None


def lock_changed(changed: set[str]) -> bool:
    return any(p == "dvc.lock" or p.endswith("/dvc.lock") for p in changed)


def relevant(paths: list[str], cfg: Config) -> bool:
    rx = re.compile(watch_regex(cfg))
    return any(rx.search(p) for p in paths)


def amending(repo: Repo) -> bool:
    """Is the running ``git commit`` an ``--amend``? Git tells hooks only through argv."""
    for argv in git_ancestors():
        if b"commit" in argv:
            # git accepts unambiguous prefixes of long options: --am, --ame, --amen, --amend
            return any(a.startswith(b"--am") and b"--amend".startswith(a) for a in argv)
    return False


def same_as_a_parent(repo: Repo, cfg: Config, model: Model, rev: str | None, others: list[str],
                     dvcy: list[str]) -> bool:
    """Does ``rev`` (None: the index) hold ``model`` as one of ``others`` does? A merge that
    takes one side's model registers nothing new: that side's commit registered it."""
    if not others:
        return False
    rec = find_record(cfg, Source(repo, INDEX if rev is None else rev), model, dvcy)
    ids = repo.blob_ids(rev, [model.path]) if rec is None else {}
    for p in others:
        if rec is not None:
            theirs = find_record(cfg, Source(repo, p), model, dvcy)
            if theirs is not None and theirs.md5 == rec.md5:
                return True
        elif ids and ids == repo.blob_ids(p, [model.path]):
            return True
    return False


class Unstaged:
    """Which paths (files or folders) differ between the work tree and the index: one ``git
    diff`` for each batch of paths asked about (the hook asks about the declarations' sources
    and every model path at once; in a repository of 100,000 files each git process that
    reads the index costs 10-20 ms)."""

    def __init__(self, repo: Repo) -> None:
        self.repo = repo
        self.asked: set[str] = set()
        self.changed: set[str] = set()

    def ask(self, paths: list[str]) -> None:
        new = [p for p in dict.fromkeys(paths) if p not in self.asked]
        if not new:
            return
        # literal pathspecs: a path is a name, never a glob
        proc = self.repo.git("diff", "--name-only", "--no-renames", "-z", "--", *new, check=False, env=literal_env())
        if proc.returncode != 0:  # git could not say: each may differ (refused or read from the index)
            self.changed.update(new)
        self.changed.update(p for p in proc.stdout.decode("utf-8", "surrogateescape").split("\0") if p)
        self.asked.update(new)

    def differs(self, path: str) -> bool:
        """Does ``path`` differ, as the batched ``git diff`` said (or, when it failed, may it)?"""
        self.ask([path])
        prefix = path + "/"
        return any(c == path or c.startswith(prefix) for c in self.changed)


def literal_env() -> dict[str, str]:
    """The environment for git with literal pathspecs, whatever the committer's git exported:
    `git --glob-pathspecs` or `--icase-pathspecs` with GIT_LITERAL_PATHSPECS=1 is a fatal
    error (an empty answer)."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("GIT_GLOB_PATHSPECS", "GIT_NOGLOB_PATHSPECS", "GIT_ICASE_PATHSPECS")}
    env["GIT_LITERAL_PATHSPECS"] = "1"
    return env


def committed_config(repo: Repo, cfg: Config, dvc_yamls: list[str], unstaged: Unstaged | None = None) -> Config:
    """The declarations as the commit holds them. ``cfg`` was read from the work tree; when a
    file it was read from (mvtools.yaml, a dvc.yaml, a params file one interpolates) differs
    from the index (an unstaged edit), read them again from the index: an unstaged edit that
    drops a model's declaration must not let the commit change the model unregistered.
    A source the index lacks (an untracked dvc.yaml above a staged path) is read from the
    work tree, as before; every model path is checked against the work tree again."""
    sources = [s for s in cfg.sources if "\n" not in s and "\r" not in s]
    if unstaged is None:
        unstaged = Unstaged(repo)
    unstaged.ask(sources)
    if not any(unstaged.differs(s) for s in sources):
        return cfg
    import dataclasses
    import tempfile

    from mvtools.config import load_config, safe_relpath

    blobs = repo.read_blobs(f":{s}" for s in sources)
    with tempfile.TemporaryDirectory(prefix="mvtools-index-") as tmp:
        for s in sources:
            data = blobs.get(f":{s}")
            if data is None and (repo.root / s).is_file():
                data = (repo.root / s).read_bytes()
            if data is not None:
                dest = Path(tmp, s)
                dest.parent.mkdir(parents=True, exist_ok=True)
                dest.write_bytes(data)
        staged = load_config(Path(tmp), dvc_yamls=[d for d in dvc_yamls if Path(tmp, d).is_file()])
    for m in staged.models.values():
        if "://" not in m.path:
            safe_relpath(repo.root, m.path, f"path of {m.name!r}")
    return dataclasses.replace(staged, root=repo.root, sources=cfg.sources)
