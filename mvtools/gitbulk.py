"""Reading git history in bulk: a constant number of git processes however long the history.

* :class:`CatFile`: one persistent ``git cat-file --batch`` (contents) and one
  ``--batch-check`` (id and type), each started on first use; ``REV:path`` names are resolved
  by git itself, trees are walked here.
* :func:`log_changes`: one ``git log --full-history -m --raw`` stream: the commits that
  change the given paths, in ``git log``'s order, each with its parents and the paths it
  changes against any parent (the commits ``git log --full-history -- PATHS`` lists).

While a :class:`CatFile` is attached to a :class:`~mvtools.gitops.Repo` (``with
reading_in_bulk(repo)``), ``Repo.show_blob``, ``Repo.blob_ids`` (of a commit) and
``Repo.is_ancestor`` (of HEAD) answer through it instead of a git process per call.
Nothing here is on the hook path (``verify`` uses it).
"""

from __future__ import annotations

import subprocess
import threading
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import IO, TYPE_CHECKING, Any, Generator, Iterator, cast

from mvtools.errors import InternalError

if TYPE_CHECKING:
    from mvtools.gitops import Repo

Object = tuple[str, str, int]  # (object id, type, size)


class CatFile:
    """Objects by name (``REV:path``, an object id), through two persistent git processes."""

    def __init__(self, repo: Repo) -> None:
        self.repo = repo
        self._procs: dict[str, subprocess.Popen[bytes]] = {}
        self._ancestors: set[str] | None = None
        self._known: dict[str, Object | None] = {}  # answers prefetched (commits never change)
        self.memo: dict[str, Any] = {}  # what stays true while this reader is attached (one command)

    def _proc(self, mode: str) -> subprocess.Popen[bytes]:
        proc = self._procs.get(mode)
        if proc is None:
            try:
                proc = subprocess.Popen(["git", "cat-file", mode], cwd=self.repo.root, stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
            except FileNotFoundError:
                raise InternalError("git is not installed or not on PATH") from None
            self._procs[mode] = proc
        return proc

    @staticmethod
    def usable(name: str) -> bool:
        """Can the batch protocol carry this object name (one line)? Not a ``REV:path`` whose
        path has a ``.`` or ``..`` component: git resolves those against the working
        directory and ends the whole batch on one outside the repository."""
        _rev, sep, path = name.partition(":")
        if sep and any(part in (".", "..") for part in path.split("/")):
            return False
        return "\n" not in name and "\r" not in name and bool(name.strip())

    def _ask(self, mode: str, name: str) -> tuple[Object | None, IO[bytes]]:
        proc = self._proc(mode)
        stdin, stdout = cast(IO[bytes], proc.stdin), cast(IO[bytes], proc.stdout)
        stdin.write(name.encode("utf-8", "surrogateescape") + b"\n")
        stdin.flush()
        line = stdout.readline()
        if not line:
            raise InternalError(f"git cat-file {mode} ended unexpectedly")
        bits = line.decode("utf-8", "surrogateescape").rstrip("\n").split(" ")
        if len(bits) == 3 and bits[2].isdigit() and bits[1] in ("blob", "tree", "commit", "tag"):
            return (bits[0], bits[1], int(bits[2])), stdout
        return None, stdout  # "<name> missing" / "ambiguous"

    def check(self, name: str) -> Object | None:
        """Id, type and size of ``name``; None when it names nothing."""
        if name in self._known:
            return self._known[name]
        return self._ask("--batch-check", name)[0]

    def prefetch(self, names: list[str]) -> None:
        """Ask for many names at once (pipelined, in chunks that fit the pipes) and remember
        the answers: ``check`` and ``blob`` of them then cost no round trip."""
        names = [n for n in dict.fromkeys(names) if n not in self._known and self.usable(n)]
        proc = self._proc("--batch-check")
        stdin, stdout = cast(IO[bytes], proc.stdin), cast(IO[bytes], proc.stdout)
        for i in range(0, len(names), 256):
            chunk = names[i:i + 256]
            stdin.write(b"".join(n.encode("utf-8", "surrogateescape") + b"\n" for n in chunk))
            stdin.flush()
            for n in chunk:
                bits = stdout.readline().decode("utf-8", "surrogateescape").rstrip("\n").split(" ")
                ok = len(bits) == 3 and bits[2].isdigit() and bits[1] in ("blob", "tree", "commit", "tag")
                self._known[n] = (bits[0], bits[1], int(bits[2])) if ok else None

    def read(self, name: str) -> tuple[Object, bytes] | None:
        obj, stdout = self._ask("--batch", name)
        if obj is None:
            return None
        data = stdout.read(obj[2])
        stdout.read(1)  # the newline after the contents
        return obj, data

    def blob(self, name: str) -> bytes | None:
        """The blob ``name`` (None: absent, or not a blob) as ``git cat-file blob`` gives it."""
        if name in self._known:
            obj = self._known[name]
            if obj is None or obj[1] != "blob":
                return None
            name = obj[0]
        got = self.read(name)
        return got[1] if got is not None and got[0][1] == "blob" else None

    def blob_ids(self, rev: str, paths: list[str]) -> dict[str, str]:
        """As ``git ls-tree -r REV -- PATHS``: every blob (and gitlink) at or under each path."""
        res: dict[str, str] = {}
        for path in paths:
            obj = self.check(f"{rev}:{path}")
            if obj is None:
                continue
            if obj[1] == "tree":
                self._walk(obj[0], path, res)
            else:
                res[path] = obj[0]
        return dict(sorted(res.items(), key=lambda kv: _tree_order(kv[0])))

    def _walk(self, tree: str, prefix: str, res: dict[str, str]) -> None:
        for name, (mode, oid) in self._entries(tree).items():
            if mode in (b"40000", b"040000"):
                self._walk(oid, f"{prefix}/{name}", res)
            else:
                res[f"{prefix}/{name}"] = oid

    def _entries(self, tree: str) -> dict[str, tuple[bytes, str]]:
        """name -> (mode, object id) of each entry of the tree object ``tree``, in its order."""
        got = self.read(tree)
        res: dict[str, tuple[bytes, str]] = {}
        if got is None or got[0][1] != "tree":
            return res
        data, width, i = got[1], len(got[0][0]) // 2, 0
        while i < len(data):
            sp = data.index(b" ", i)
            nul = data.index(b"\0", sp)
            res[data[sp + 1:nul].decode("utf-8", "surrogateescape")] = (data[i:sp], data[nul + 1:nul + 1 + width].hex())
            i = nul + 1 + width
        return res

    def entries(self, name: str) -> dict[str, bool] | None:
        """Entry name -> is it a directory, of the tree ``name`` names (``REV:dir``,
        ``REV^{tree}``); None when it names no tree."""
        obj = self.check(name) if self.usable(name) else None
        if obj is None or obj[1] != "tree":
            return None
        return {n: mode in (b"40000", b"040000") for n, (mode, _oid) in self._entries(obj[0]).items()}

    def files_named(self, rev: str, name: str) -> list[str] | None:
        """The path of every entry called ``name`` (not a directory) in ``rev``'s tree, in
        ``git ls-tree -r``'s order; None when ``rev`` has no tree. Each distinct tree is read
        once while this reader is attached: the commits of one history share most of theirs."""
        root = self.check(f"{rev}^{{tree}}")
        if root is None or root[1] != "tree":
            return None
        memo: dict[str, list[str]] = self.memo.setdefault(f"files_named:{name}", {})
        return list(self._named(root[0], name, memo))

    def _named(self, tree: str, name: str, memo: dict[str, list[str]]) -> list[str]:
        if tree not in memo:
            res: list[str] = []
            for entry, (mode, oid) in self._entries(tree).items():
                if mode in (b"40000", b"040000"):
                    res.extend(f"{entry}/{p}" for p in self._named(oid, name, memo))
                elif entry == name:
                    res.append(entry)
            memo[tree] = res
        return memo[tree]

    def stream(self, oids: list[str]) -> Generator[tuple[str, bytes], None, None]:
        """The contents of ``oids`` in order (b"" for one that is missing), from one more
        ``git cat-file --batch`` fed by a thread: no round trip per object."""
        try:
            proc = subprocess.Popen(["git", "cat-file", "--batch"], cwd=self.repo.root, stdin=subprocess.PIPE,
                                    stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        except FileNotFoundError:
            raise InternalError("git is not installed or not on PATH") from None
        stdin, stdout = cast(IO[bytes], proc.stdin), cast(IO[bytes], proc.stdout)

        def feed() -> None:
            try:
                for i in range(0, len(oids), 256):
                    stdin.write(b"".join(o.encode() + b"\n" for o in oids[i:i + 256]))
                stdin.close()
            except (BrokenPipeError, ValueError):
                pass  # the reader stopped early

        t = threading.Thread(target=feed, daemon=True)
        t.start()
        try:
            for oid in oids:
                bits = stdout.readline().split()
                if len(bits) == 3 and bits[2].isdigit():
                    data = stdout.read(int(bits[2]))
                    stdout.read(1)
                    yield oid, data
                else:
                    yield oid, b""
        finally:
            stdout.close()
            proc.wait()
            t.join()

    def is_ancestor_of_head(self, commit: str) -> bool:
        """``git merge-base --is-ancestor COMMIT HEAD``, from one ``git rev-list HEAD``."""
        if self._ancestors is None:
            self._ancestors = set(self.repo.out("rev-list", "HEAD", check=False).split())
        return commit in self._ancestors

    def close(self) -> None:
        for proc in self._procs.values():
            for pipe in (proc.stdin, proc.stdout):
                if pipe is not None:
                    pipe.close()
            proc.wait()
        self._procs.clear()


def _tree_order(path: str) -> bytes:
    return path.encode("utf-8", "surrogateescape")  # ls-tree -r lists paths in byte order


@contextmanager
def reading_in_bulk(repo: Repo) -> Iterator[CatFile]:
    """Attach a :class:`CatFile` to ``repo`` for the duration (nested: the outer one serves)."""
    if repo.bulk is not None:
        yield repo.bulk
        return
    cat = CatFile(repo)
    repo.bulk = cat
    try:
        yield cat
    finally:
        repo.bulk = None
        cat.close()


@dataclass
class Change:
    """A commit of :func:`log_changes`: its parents and, per path it changes against some
    parent, the path's blob id in the commit (None: absent there)."""

    commit: str
    parents: list[str]
    paths: dict[str, str | None] = field(default_factory=dict)
    olds: dict[str, list[str | None]] = field(default_factory=dict)  # path -> blob in each parent shown

    def old_blobs(self, cat: CatFile, path: str) -> list[str | None]:
        """The path's blob id in each parent, in parent order (None: absent there)."""
        shown = self.olds[path]
        if len(self.parents) <= 1:
            return shown[:1] if self.parents else []
        out = []
        for p in self.parents:  # a merge: git omits the parents a path does not differ from
            obj = cat.check(f"{p}:{path}")
            out.append(obj[0] if obj is not None and obj[1] == "blob" else None)
        return out


def log_changes(repo: Repo, rev: str, paths: list[str]) -> list[Change]:
    """The commits of ``git log --full-history REV -- PATHS`` in that order, each with the
    paths (under ``paths``) it changes against any of its parents: one git process."""
    if not paths:
        return []
    # -m as "separate" whatever log.diffMerges says (an older git ignores the unknown key)
    proc = repo.git("-c", "log.diffMerges=separate", "log", "--full-history", "-m", "--raw", "-z", "--no-renames",
                    "--no-abbrev", "--root", "--no-ext-diff", "--no-show-signature", "--format=%x01%H %P", rev,
                    "--", *paths, check=False)
    out: dict[str, Change] = {}
    for chunk in proc.stdout.split(b"\x01")[1:]:
        head, _, rest = chunk.partition(b"\0")
        commit, *parents = head.decode().split()
        ch = out.get(commit)
        if ch is None:
            ch = out[commit] = Change(commit, parents)
        toks = rest.lstrip(b"\n").split(b"\0")
        for meta, name in zip(toks[0::2], toks[1::2]):
            if not meta.startswith(b":"):
                continue
            _om, _nm, old, new, _st = meta[1:].decode().split(" ")
            path = name.decode("utf-8", "surrogateescape")
            ch.paths[path] = None if set(new) == {"0"} else new
            ch.olds.setdefault(path, []).append(None if set(old) == {"0"} else old)
    return list(out.values())


def literal(spec: str) -> bool:
    """A pathspec git matches literally (no glob characters, no magic)."""
    return not any(c in spec for c in "*?[\\") and not spec.startswith(":")
