"""The environment snapshot of a registered version (the ``environment:`` field of its
register event): the platform and Python that registered it, and the environment files the
repository has or declares, each with its sha256 and size, and its text when small.

Files looked for: ``requirements*.txt``, ``environment.y(a)ml``, ``conda.y(a)ml``,
``uv.lock``, ``poetry.lock``, ``Pipfile.lock`` and ``Dockerfile``, at the repository's top
and beside the dvc.yaml that produces the model; plus ``environment_files:`` in mvtools.yaml
(paths or globs). A declared file that is absent is recorded as ``null``. Files are read from
the same source as the model (the index, in the pre-commit hook), a symlink as git stores it
(its target's name, never the file it points to), and listed with one
``git ls-files`` (no DVC import: this runs on the commit path).

``diff`` says what changed between two snapshots; a version recorded without one (imported
from GTO, or registered before mvtools recorded environments) is unknown, never identical.
"""

from __future__ import annotations

import hashlib
import os
import posixpath
import sys
from typing import Any

from mvtools.artifacts import INDEX, WORKTREE, Source
from mvtools.config import ls_files
from mvtools.gitops import EMPTY_TREE

NAMES = ("requirements*.txt", "environment.yaml", "environment.yml", "conda.yaml", "conda.yml", "uv.lock",
         "poetry.lock", "Pipfile.lock", "Dockerfile")
MAX_CONTENT = 4096  # bytes: a file up to this size is recorded whole (text only)
MAX_DIFF_LINES = 40


def top_level(paths: list[str]) -> list[str]:
    """Those of ``paths`` (of a listing that asked for :func:`top_level_specs` among others)
    that are environment files at the repository's top."""
    from fnmatch import fnmatchcase  # the names' only glob is `*`, within one name as git's

    return sorted(p for p in paths if "/" not in p and any(fnmatchcase(p, n) for n in NAMES))


def top_level_specs() -> list[str]:
    """The pathspecs :func:`_listed` asks git for, for the top's environment files."""
    return [f":(glob){n}" for n in NAMES]


def _listed(src: Source, patterns: list[str]) -> list[str]:
    """The files of ``src`` matching the glob ``patterns`` (repo-relative)."""
    if tuple(patterns) in src.listed:  # listed already, with other files (the hook's dvc.yaml files)
        return src.listed[tuple(patterns)]
    specs = [f":(glob){p}" for p in patterns]
    if src.rev in (WORKTREE, INDEX):  # (the hook's GIT_INDEX_FILE stays: a `git commit -a` index)
        return sorted(ls_files(src.repo.root, specs, others=src.rev == WORKTREE))
    if src.rev is None:
        return []
    found = _listed_in_bulk(src, patterns)
    if found is not None:
        return found
    # a commit's files as added to the empty tree: `git ls-tree` refuses glob pathspecs
    proc = src.repo.git("diff-tree", "-r", "-z", "--name-only", "--no-renames", EMPTY_TREE, src.rev, "--", *specs,
                        check=False, env={**os.environ, "GIT_LITERAL_PATHSPECS": "0"})
    return sorted({p for p in proc.stdout.decode("utf-8", "surrogateescape").split("\0") if p})


def _listed_in_bulk(src: Source, patterns: list[str]) -> list[str] | None:
    """:func:`_listed` at a commit through the attached bulk reader (one tree read per
    directory, no git process), where the patterns are plain: a literal directory, then a
    name whose only glob is ``*`` (in git's glob pathspec it never crosses a ``/``: it
    matches within one name). None where git must answer: no bulk reader, another pattern, or a
    directory matched (``ls-tree -r`` would list what is under it)."""
    bulk = src.repo.bulk
    if bulk is None or src.rev is None:
        return None
    wanted: dict[str, list[str]] = {}
    for p in patterns:
        d, _, last = p.rpartition("/")
        if (not last or p != posixpath.normpath(p) or p.startswith(("/", ":", "!")) or ".." in p.split("/")
                or any(c in d for c in "*?[]\\") or any(c in last for c in "[]?\\")):
            return None
        wanted.setdefault(d, []).append(last)
    from fnmatch import fnmatchcase

    found = []
    for d, names in wanted.items():
        entries = bulk.entries(f"{src.rev}:{d}" if d else f"{src.rev}^{{tree}}")
        for name, is_dir in (entries or {}).items():
            if any(fnmatchcase(name, n) for n in names):
                if is_dir:
                    return None
                found.append(f"{d}/{name}" if d else name)
    return sorted(set(found))


def _read(src: Source, rel: str) -> bytes | None:
    """``rel`` as git stores it: a symlink is its target's name (what the hook reads from the
    index), never the bytes it points to, which may lie outside the repository."""
    if src.rev == WORKTREE and os.path.islink(src.repo.root / rel):
        return os.fsencode(os.readlink(src.repo.root / rel))
    return src.read(rel)


def _entry(data: bytes) -> dict[str, Any]:
    entry: dict[str, Any] = {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}
    if len(data) <= MAX_CONTENT:
        try:
            entry["content"] = data.decode("utf-8")
        except UnicodeDecodeError:
            pass
    return entry


def snapshot(src: Source, declared: list[str], dirs: list[str]) -> dict[str, Any]:
    """The environment record: ``platform``, ``python`` and ``files`` (path -> entry, or
    None for a declared file that is absent). ``dirs``: directories to look in besides the
    top (the producing dvc.yaml's)."""
    patterns = [posixpath.join(d, n) if d else n for d in dict.fromkeys(["", *dirs]) for n in NAMES]
    found = _listed(src, patterns + declared)
    src.preload([rel for rel in found if not (src.rev == WORKTREE and os.path.islink(src.repo.root / rel))])
    files: dict[str, Any] = {}
    for rel in found:
        data = _read(src, rel)
        if data is not None:
            files[rel] = _entry(data)
    for pat in declared:
        if not any(ch in pat for ch in "*?[") and pat not in files:
            files[pat] = None  # declared, absent: recorded, so a later version that has it differs
    return {"platform": _platform(),
            "python": ".".join(map(str, sys.version_info[:3])),
            "files": dict(sorted(files.items()))}


def _platform() -> str:
    """``platform.system()-platform.machine()``, from ``os.uname`` where there is one: the
    platform module costs a hook several ms to import."""
    if hasattr(os, "uname"):
        u = os.uname()
        return f"{u.sysname}-{u.machine}"
    import platform

    return f"{platform.system()}-{platform.machine()}"


def _changes(a: str, b: str) -> list[str]:
    """The changed lines of a text file, ``-old`` and ``+new`` (no context), at most 40."""
    import difflib  # off the hooks' path: only diffs of two snapshots need it

    lines = [ln for ln in difflib.unified_diff(a.splitlines(), b.splitlines(), lineterm="", n=0)
             if ln[:1] in "+-" and not ln.startswith(("+++", "---"))]
    return lines[:MAX_DIFF_LINES] + ([f"... {len(lines) - MAX_DIFF_LINES} more"] if len(lines) > MAX_DIFF_LINES else [])


def known(ev: dict[str, Any]) -> bool:
    return ev.get("imported_from") != "gto" and isinstance(ev.get("environment"), dict)


def diff(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    """What changed between two versions' environments: ``{"known": False}`` when either has
    no record; else ``platform``/``python`` ({a, b}) when they differ and ``files``: path ->
    {a, b} (sha256, or None when absent) with ``changes`` (the changed lines) when both texts
    are recorded."""
    if not (known(a) and known(b)):
        return {"known": False, "unknown": [side for side, ev in (("a", a), ("b", b)) if not known(ev)]}
    ea, eb = a["environment"], b["environment"]
    res: dict[str, Any] = {"known": True}
    for key in ("platform", "python"):  # null: not recorded (a version imported from GTO)
        if None not in (ea.get(key), eb.get(key)) and ea.get(key) != eb.get(key):
            res[key] = {"a": ea.get(key), "b": eb.get(key)}
    fa, fb = ea.get("files") or {}, eb.get("files") or {}
    files: dict[str, Any] = {}
    for path in sorted(set(fa) | set(fb)):
        xa, xb = fa.get(path) or {}, fb.get(path) or {}
        if xa.get("sha256") == xb.get("sha256"):
            continue
        change: dict[str, Any] = {"a": xa.get("sha256"), "b": xb.get("sha256")}
        if "content" in xa or "content" in xb:
            if (xa and "content" not in xa) or (xb and "content" not in xb):
                pass  # one side too big to record: the hashes say it changed
            else:
                change["changes"] = _changes(xa.get("content", ""), xb.get("content", ""))
        files[path] = change
    res["files"] = files
    return res
