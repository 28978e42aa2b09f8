"""Thin, fast wrappers over the git command line.

The hooks run on every commit, so this module uses plain ``git`` subprocesses (argument
lists, never a shell) instead of GitPython: no import cost, and git's own environment
(GIT_DIR, GIT_INDEX_FILE set by ``git commit -a`` or ``git commit PATH``) is honoured.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import time
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Iterable, Iterator, Sequence

from mvtools.errors import InternalError, UsageError

if TYPE_CHECKING:
    from mvtools.gitbulk import CatFile

EMPTY_TREE = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"
STATE_DIR = "mvtools"  # under the git common dir (shared) and under each worktree's git dir


def state_dir(common_dir: Path, *, create: bool = True) -> Path:
    """mvtools' state shared by linked worktrees, in the git common dir: the registry lock,
    the ledger cache, the stat cache."""
    d = common_dir / STATE_DIR
    if create:
        d.mkdir(exist_ok=True)
    return d


def lock_path(common_dir: Path) -> Path:
    """The registry lock: one writer at a time across processes and linked worktrees."""
    return state_dir(common_dir) / "registry.lock"


class GitError(InternalError):
    """A git command failed unexpectedly (exit 3)."""


class GitLocked(UsageError):
    """A git lock file (``index.lock``, a ref's ``.lock``) is in the way (exit 2)."""


_LOCKED_RE = re.compile(r"Unable to create '(.+?\.lock)': File exists")


def git_processes_in(roots: Iterable[Path]) -> list[int] | None:
    """The pids of ``git`` processes whose working directory is inside one of ``roots``;
    None where /proc cannot tell (no /proc, or a git process whose directory is hidden)."""
    proc = Path("/proc")
    if not (proc / "self" / "cwd").exists():
        return None
    roots = [Path(r) for r in roots]
    found: list[int] = []
    for d in proc.iterdir():
        if not d.name.isdigit():
            continue
        try:
            if (d / "comm").read_text().strip() != "git":
                continue
            cwd = Path(os.readlink(d / "cwd"))
        except FileNotFoundError:
            continue  # exited meanwhile
        except OSError:
            return None  # another user's git: it may be working here
        if any(cwd == r or r in cwd.parents for r in roots):
            found.append(int(d.name))
    return found


def locked_error(stderr: bytes, cwd: str | Path | None) -> GitLocked | None:
    """git's "Unable to create '....lock': File exists" as one line naming the file, whether a
    git process still works in this repository, and the repair (``rm`` only when none does)."""
    m = _LOCKED_RE.search(stderr.decode("utf-8", "surrogateescape"))
    if m is None:
        return None
    return lock_file_error(Path(m.group(1)), cwd)


def lock_owners(path: Path, cwd: str | Path | None) -> list[int] | None:
    """The git processes working in the repository of lock file ``path`` (see
    :func:`git_processes_in`)."""
    roots = {Path(cwd or ".").resolve()}
    if ".git" in path.parts:  # the work tree that holds this .git directory
        roots.add(Path(*path.parts[: path.parts.index(".git")]))
    return git_processes_in(roots)


def lock_file_error(path: Path, cwd: str | Path | None, pids: list[int] | None = None) -> GitLocked:
    if pids is None:
        pids = lock_owners(path, cwd)
    if pids:
        return GitLocked(f"{path} exists: git (pid {', '.join(map(str, sorted(pids)))}) is still running in this "
                         "repository; wait for it to finish, then try again")
    if pids is None:
        return GitLocked(f"{path} exists and whether a git process still uses it cannot be told here; once no git "
                         f"process runs in this repository, remove it: rm {shlex.quote(str(path))}")
    return GitLocked(f"{path} exists but no git process is running in this repository (a git that crashed or was "
                     f"killed left it); run: rm {shlex.quote(str(path))}")


def git(
    args: Sequence[str],
    cwd: str | Path | None = None,
    *,
    check: bool = True,
    input: bytes | None = None,
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[bytes]:
    try:
        proc = subprocess.run(
            ["git", *args], cwd=cwd, input=input, capture_output=True, env=env, check=False
        )
    except FileNotFoundError:
        raise InternalError("git is not installed or not on PATH") from None
    if check and proc.returncode != 0:
        locked = locked_error(proc.stderr, cwd)
        if locked is not None:
            raise locked
        err = proc.stderr.decode("utf-8", "replace").strip().splitlines()
        raise GitError(f"git {args[0]} failed: {err[-1] if err else proc.returncode}")
    return proc


def out(args: Sequence[str], cwd: str | Path | None = None, *, check: bool = True, input: bytes | None = None,
        env: dict[str, str] | None = None) -> str:
    return git(args, cwd, check=check, input=input, env=env).stdout.decode("utf-8", "surrogateescape").strip()


@dataclass
class Repo:
    """A git work tree, located once per command."""

    root: Path
    git_dir: Path
    common_dir: Path
    # a persistent `git cat-file --batch` while attached (mvtools.gitbulk.reading_in_bulk):
    # commits' blobs, trees and HEAD's ancestry are read through it, not a process per call
    bulk: CatFile | None = field(default=None, repr=False, compare=False)

    @classmethod
    def discover(cls, path: str | Path = ".") -> "Repo":
        if not Path(path).is_dir():
            raise UsageError(f"{path}: no such directory")
        proc = git(
            ["rev-parse", "--show-toplevel", "--absolute-git-dir", "--git-common-dir"],
            cwd=path,
            check=False,
        )
        if proc.returncode != 0:
            msg = proc.stderr.decode("utf-8", "replace")
            if "this operation must be run in a work tree" in msg:
                raise UsageError(f"{Path(path).resolve()} is a bare git repository; mvtools needs a work tree")
            raise UsageError(f"not a git repository: {Path(path).resolve()}")
        lines = proc.stdout.decode("utf-8", "surrogateescape").splitlines()
        if len(lines) < 3:
            raise UsageError(f"not inside a git work tree: {Path(path).resolve()}")
        root = Path(lines[0])
        git_dir = Path(lines[1])
        common = Path(lines[2])
        if not common.is_absolute():
            common = (Path(path).resolve() / common).resolve()
        return cls(root=root, git_dir=git_dir, common_dir=common)

    @classmethod
    def for_hook(cls) -> "Repo":
        """The repository a git hook runs in. Git starts hooks at the top of the work tree;
        when that holds the usual ``.git`` folder (not a linked worktree's or submodule's
        ``.git`` file, no ``GIT_DIR``/``GIT_WORK_TREE``, no ``core.worktree``), it is the
        repository, without a git process (what the shell hooks assume too). Else as
        :meth:`discover` finds it."""
        dot = Path(".git")
        if not any(os.environ.get(v) for v in ("GIT_DIR", "GIT_WORK_TREE", "GIT_COMMON_DIR")) \
                and dot.is_dir() and not dot.is_symlink() and not (dot / "commondir").exists():
            try:
                conf = (dot / "config").read_text(errors="replace").lower()
                plain = "worktree" not in conf and "include" not in conf
            except OSError:
                plain = False
            if plain:
                root = Path(os.getcwd())  # the physical path, as git's --show-toplevel
                return cls(root=root, git_dir=root / ".git", common_dir=root / ".git")
        return cls.discover(".")

    # -- plumbing -------------------------------------------------------------------
    def git(self, *args: str, check: bool = True, input: bytes | None = None,
            env: dict[str, str] | None = None) -> subprocess.CompletedProcess[bytes]:
        return git(args, self.root, check=check, input=input, env=env)

    def out(self, *args: str, check: bool = True) -> str:
        return out(args, self.root, check=check)

    # -- mvtools' own state under .git -----------------------------------------------
    @property
    def mvtools_dir(self) -> Path:
        """Per-repository state shared by linked worktrees (lock, caches); created."""
        return state_dir(self.common_dir)

    @property
    def lock_path(self) -> Path:
        return lock_path(self.common_dir)

    @property
    def ledger_cache_dir(self) -> Path:
        """The parsed-ledger cache (not created here: the cache copes with a read-only .git)."""
        return state_dir(self.common_dir, create=False) / "cache" / "ledgers"

    @property
    def stat_cache_path(self) -> Path:
        """The digests of unchanged files (mvtools.hashing.StatCache); every cache lives under
        ``.git/mvtools/cache/``, which may be deleted at any time."""
        d = self.mvtools_dir / "cache"
        d.mkdir(exist_ok=True)
        return d / "statcache.json"

    @property
    def worktree_state_dir(self) -> Path:
        """State of this worktree alone, in its git dir (each may have its own mvtools.yaml); created."""
        d = self.git_dir / STATE_DIR
        d.mkdir(exist_ok=True)
        return d

    @property
    def reservations_dir(self) -> Path:
        """Versions reserved by commits under way, shared by linked worktrees (mvtools.transaction)."""
        return state_dir(self.common_dir, create=False) / "reservations"

    @property
    def pending_file(self) -> Path:
        """What this worktree's post-commit hook must tag (hooks/post-commit: $GIT_DIR/mvtools/pending)."""
        return self.worktree_state_dir / "pending"

    @property
    def watch_file(self) -> Path:
        """The regex the shell hooks match staged paths against (hooks/*: $GIT_DIR/mvtools/watch.re)."""
        return self.worktree_state_dir / "watch.re"

    def rev_parse(self, rev: str) -> str | None:
        proc = self.git("rev-parse", "--verify", "--quiet", rev + "^{commit}", check=False)
        return proc.stdout.decode().strip() or None if proc.returncode == 0 else None

    @cached_property
    def head(self) -> str | None:
        return self.rev_parse("HEAD")

    def assume_head(self, commit: str) -> None:
        """HEAD as the caller knows it already for this process's lifetime (the pre-commit
        shell hook read it for the same ``git commit``): no ``git rev-parse``."""
        self.__dict__["head"] = commit

    def show_blob(self, spec: str) -> bytes | None:
        """Content of ``REV:path`` or ``:path`` (the index), or None when absent."""
        if self.bulk is not None and not spec.startswith(":") and self.bulk.usable(spec):
            return self.bulk.blob(spec)
        proc = self.git("cat-file", "blob", spec, check=False)
        return proc.stdout if proc.returncode == 0 else None

    def blob_ids(self, rev: str | None, paths: Iterable[str]) -> dict[str, str]:
        """Blob ids of ``paths`` at ``rev`` (None: the index); absent paths are left out."""
        paths = list(paths)
        if not paths:
            return {}
        if rev is not None and self.bulk is not None and all(
                self.bulk.usable(f"{rev}:{p}") and p and not p.endswith("/") and p == os.path.normpath(p)
                for p in paths):
            return self.bulk.blob_ids(rev, paths)
        if rev is None:  # "<mode> <blob> <stage>\t<path>"
            proc, field = self.git("ls-files", "-s", "-z", "--", *paths), 1
        else:  # "<mode> blob <blob>\t<path>"
            proc, field = self.git("ls-tree", "-r", "-z", rev, "--", *paths, check=False), 2
        res = {}
        for rec in proc.stdout.decode("utf-8", "surrogateescape").split("\0"):
            if rec:
                meta, name = rec.split("\t", 1)
                res[name] = meta.split()[field]
        return res

    def changed_paths(self, a: str | None, b: str | None = None, *, cached: bool = False) -> list[str]:
        """Paths that differ between commits ``a`` and ``b``, or (cached) ``a`` and the index."""
        base = a or EMPTY_TREE
        args = ["diff", "--no-renames", "--no-ext-diff", "--name-only", "-z"]
        if cached:
            args += ["--cached", base]
        else:
            args += [base, b or "HEAD"]
        text = self.git(*args).stdout.decode("utf-8", "surrogateescape")
        return [p for p in text.split("\0") if p]

    def identity(self) -> str:
        proc = self.git("var", "GIT_COMMITTER_IDENT", check=False)
        if proc.returncode != 0:
            raise UsageError("git has no identity here: set user.name and user.email")
        ident = proc.stdout.decode("utf-8", "replace").strip()
        return ident.rsplit(" ", 2)[0]  # drop "<timestamp> <tz>"

    # -- tags -----------------------------------------------------------------------
    def tags(self, pattern: str | None = None) -> dict[str, tuple[str, int]]:
        """Tag name -> (commit it points at, tagger/creator time) in one git call."""
        args = ["for-each-ref", "--format=%(refname:strip=2)%00%(*objectname)%00%(objectname)%00%(creatordate:unix)",
                "refs/tags/" + (pattern or "")]
        text = self.git(*args).stdout.decode("utf-8", "surrogateescape")
        res: dict[str, tuple[str, int]] = {}
        for line in text.splitlines():
            name, peeled, obj, when = line.split("\0")
            res[name] = (peeled or obj, int(when or 0))
        return res

    def create_tag(self, name: str, commit: str, message: str, *, force: bool = False,
                   env: dict[str, str] | None = None) -> None:
        args = ["tag", "-a", "-m", message]
        if force:
            args.append("-f")
        args += ["--", name, commit]
        self.git(*args, env=env)

    def delete_tag(self, name: str) -> None:
        self.git("tag", "-d", "--", name, check=False)

    def is_ancestor(self, a: str, b: str) -> bool:
        if self.bulk is not None and b == self.head and re.fullmatch(r"[0-9a-f]{40}([0-9a-f]{24})?", a):
            return self.bulk.is_ancestor_of_head(a)
        return self.git("merge-base", "--is-ancestor", a, b, check=False).returncode == 0

    def on_a_branch(self, commit: str) -> bool:
        """Does any local or remote-tracking branch contain ``commit``?"""
        return bool(self.out("for-each-ref", "--count=1", "--contains", commit, "refs/heads", "refs/remotes",
                             check=False))

    def refs(self) -> list[tuple[str, str]]:
        """(ref name, object id) of every ref, unpeeled (an annotated tag's own object id), in
        one git call that reads no object: cheap at any number of tags. A rev of the form
        ``OID:path`` peels a tag's id to its commit's tree (``blobs_at``)."""
        words = iter(self.out("for-each-ref", "--format=%(refname) %(objectname)", check=False).split())
        return list(zip(words, words))  # a ref name holds no whitespace: name, id, name, id, ...

    def blobs_at(self, revs: Iterable[str], path: str) -> dict[str, str]:
        """rev -> blob id of ``path`` at that rev, in one git call; revs without it are left out."""
        revs = list(revs)
        if not revs:
            return {}
        data = "".join(f"{r}:{path}\n" for r in revs).encode("utf-8", "surrogateescape")
        proc = self.git("cat-file", "--batch-check=%(objectname) %(objecttype)", input=data, check=False)
        res = {}
        for rev, line in zip(revs, proc.stdout.decode("utf-8", "surrogateescape").splitlines()):
            bits = line.split()
            if len(bits) == 2 and bits[1] == "blob":
                res[rev] = bits[0]
        return res

    def blobs_at_tips(self, tips: Iterable[str], path: str, peel_from: int = 64,
                      absent: set[str] | None = None) -> dict[str, str]:
        """:meth:`blobs_at` for ref tips, most of them tags and many on one commit: each tip
        peeled to its commit first (one ``cat-file --batch-check``), then ``path`` looked up
        once per distinct commit; a tip that is no commit (a tag of a tree) as before. At
        10,000 version tags resolving ``TAG:path`` for each cost half a second. ``absent``
        gets the tips whose commit is there and holds no ``path`` (a fact that cannot change;
        a tip whose object is missing, in a shallow clone, may still arrive)."""
        tips = list(dict.fromkeys(tips))
        if len(tips) < peel_from:  # a few new tips (a commit's): one process, not two
            return self.blobs_at(tips, path)
        data = "".join(f"{t}^{{commit}}\n" for t in tips).encode("utf-8", "surrogateescape")
        proc = self.git("cat-file", "--batch-check=%(objectname) %(objecttype)", input=data, check=False)
        commit: dict[str, str] = {}
        for tip, line in zip(tips, proc.stdout.decode("utf-8", "surrogateescape").splitlines()):
            bits = line.split()
            if len(bits) == 2 and bits[1] == "commit":
                commit[tip] = bits[0]
        at = self.blobs_at(sorted(set(commit.values())), path)
        res = {t: at[c] for t, c in commit.items() if c in at}
        if absent is not None:
            absent.update(t for t, c in commit.items() if c not in at)
        res.update(self.blobs_at([t for t in tips if t not in commit], path))
        return res

    def read_blobs(self, ids: Iterable[str]) -> dict[str, bytes]:
        """name -> bytes of each blob ``ids`` names (a blob id, ``REV:path``, ``:path``: the
        index), in one ``git cat-file --batch`` (not a process per blob); names that are not
        blobs, or not there, are left out."""
        ids = list(dict.fromkeys(ids))
        if not ids:
            return {}
        data = self.git("cat-file", "--batch", input="".join(i + "\n" for i in ids).encode("utf-8", "surrogateescape"),
                        check=False).stdout
        res, pos = {}, 0
        for i in ids:
            nl = data.find(b"\n", pos)
            if nl < 0:
                break
            head = data[pos:nl].split()
            if len(head) != 3 or not head[2].isdigit():  # "<name> missing", "<name> ambiguous"
                pos = nl + 1
                continue
            size = int(head[2])
            if head[1] == b"blob":
                res[i] = data[nl + 1:nl + 1 + size]
            pos = nl + 1 + size + 1
        return res

    def remotes(self) -> list[str]:
        """The git remotes, ``origin`` first."""
        names = self.out("remote", check=False).split()
        return sorted(names, key=lambda n: (n != "origin", n))

    def operation_in_progress(self) -> str | None:
        """A merge, rebase, cherry-pick, revert or bisect underway, by git's own markers."""
        gd = self.git_dir
        for marker, what in (("rebase-merge", "a rebase"), ("rebase-apply", "a rebase"),
                             ("MERGE_HEAD", "a merge"), ("CHERRY_PICK_HEAD", "a cherry-pick"),
                             ("REVERT_HEAD", "a revert")):
            if (gd / marker).exists():
                return what
        return None

    def require_index_unlocked(self, wait: float = 10.0) -> None:
        """Refuse to start writing while git's index lock is left by a killed git, or held
        for longer than ``wait`` seconds by a live one (a `git status` holds it briefly)."""
        lock = self.git_dir / "index.lock"
        deadline = time.monotonic() + wait
        while lock.exists():
            pids = lock_owners(lock, self.root)
            if not pids or time.monotonic() > deadline:
                raise lock_file_error(lock, self.root, pids)
            time.sleep(0.1)

    def require_no_operation(self) -> None:
        """Refuse to write the registry while git is in the middle of something."""
        what = self.operation_in_progress()
        if what:
            raise UsageError(f"{what} is in progress; finish it first")


def _git_processes() -> Iterator[tuple[int, list[bytes]]]:
    """(pid, argv) of each ``git`` process this one runs under (hooks, merge drivers),
    nearest first, read from /proc. Nothing where /proc is absent."""
    pid = os.getppid()
    for _ in range(8):
        try:
            argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            return
        if argv and os.path.basename(argv[0].decode(errors="replace")) == "git":
            yield pid, argv
        pid = int(stat.rsplit(")", 1)[1].split()[1])
        if pid <= 1:
            return


def git_ancestors() -> Iterator[list[bytes]]:
    """The argv of each ``git`` process this one runs under, nearest first: git tells hooks
    nothing else about ``--amend`` or a rebase."""
    return (argv for _pid, argv in _git_processes())


def git_ancestor_pids() -> Iterator[int]:
    """The pid of each ``git`` process this one runs under, nearest first (a hook's commit)."""
    return (pid for pid, _argv in _git_processes())


def clean_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment without git's per-invocation variables, for git run elsewhere."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    if extra:
        env.update(extra)
    return env
