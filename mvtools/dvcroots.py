"""DVC projects inside one git repository, as DVC itself draws their borders.

``dvc init --subdir`` makes a directory its own DVC project (a *subrepo*): it holds its own
``.dvc/`` (config, cache). DVC run anywhere finds the nearest directory above holding
``.dvc/`` (``Repo.find_root``), and its walk for stage files skips every directory below
its root that holds a ``.dvc`` of its own (``dvc/ignore.py``, ``_update_sub_repo``): that
directory belongs to the subrepo, whatever its parent project says.

This module answers the same two questions without importing DVC (it sits on the hook
path): which directories below a root are DVC projects of their own, and which project a
repository path belongs to.
"""

from __future__ import annotations

import os
import posixpath
from pathlib import Path
from typing import Callable

DVC_DIR = ".dvc"


def subrepos(root: Path) -> list[str]:
    """Directories below ``root`` (relative, posix) that hold a ``.dvc/`` of their own, not
    ``root`` itself, shallowest first. Found with ``git ls-files`` (tracked, staged or
    untracked and not ignored: ``dvc init --subdir`` writes ``.dvc/config`` and
    ``.dvc/.gitignore``), so the walk costs what ``git status`` costs; outside git, a walk."""
    import shutil

    from mvtools.gitops import git

    found: set[str] = set()
    args = ["ls-files", "-z", "--cached", "--others", "--exclude-standard", "--",
            ":(glob)**/.dvc/config", ":(glob)**/.dvc/.gitignore"]
    env = {**os.environ, "GIT_LITERAL_PATHSPECS": "0"}
    proc = git(args, root, check=False, env=env) if shutil.which("git") else None
    if proc is not None and proc.returncode == 0:
        for name in proc.stdout.decode("utf-8", "surrogateescape").split("\0"):
            d = posixpath.dirname(posixpath.dirname(name)) if name else ""
            if d and (root / d / DVC_DIR).is_dir():
                found.add(d)
    else:
        for dirpath, dirs, _files in os.walk(root):
            dirs[:] = [d for d in dirs if d not in (".git", DVC_DIR)]
            rel = os.path.relpath(dirpath, root).replace(os.sep, "/")
            if rel != "." and DVC_DIR in os.listdir(dirpath):
                found.add(rel)
    return sorted(found, key=lambda d: (d.count("/"), d))


def project_of(path: str, roots: list[str]) -> str:
    """The DVC project ``path`` (repository-relative) belongs to: the deepest of ``roots``
    holding it, "" for the top project."""
    best = ""
    for r in roots:
        if (path == r or path.startswith(r + "/")) and len(r) > len(best):
            best = r
    return best


def deepest_project(path: str, is_project: Callable[[str], bool]) -> str:
    """The DVC project the repository path ``path`` belongs to: the deepest directory between
    the root (excluded) and ``path`` for which ``is_project`` holds, "" for the top project."""
    parts = path.split("/")
    for i in range(len(parts), 0, -1):
        d = "/".join(parts[:i])
        if d and is_project(d):
            return d
    return ""


def project_at(root: Path, path: str) -> str:
    """:func:`deepest_project` in the working tree (a directory holding ``.dvc/``). A few
    stat calls: cheap enough for the hook path."""
    return deepest_project(path, lambda d: (root / d / DVC_DIR).is_dir())


def outside_subrepos(paths: list[str], roots: list[str]) -> list[str]:
    """``paths`` without those inside one of ``roots`` (what DVC at the top project sees)."""
    return [p for p in paths if not project_of(p, roots)]


def find_project_root(start: Path) -> Path | None:
    """The DVC project ``start`` is in, as ``dvc`` run there finds it: the nearest directory
    at or above ``start`` holding ``.dvc/`` (None: not inside a DVC project)."""
    start = start.resolve()
    for p in (start, *start.parents):
        if (p / DVC_DIR).is_dir():
            return p
    return None
