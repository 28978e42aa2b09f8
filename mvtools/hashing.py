"""Artifact digests: one read per artifact, sha256 and md5 on two threads, a stat cache.

* file: ``sha256`` of the bytes; ``md5`` as DVC computes it (plain md5, or DVC 2's
  ``md5-dos2unix`` when asked: CRLF folded to LF for files that look like text).
* directory: ``sha256`` is the *tree hash*: the sha256 of the lines
  ``"<sha256 of file>  <relative/posix/path>\\n"`` for every regular file below it, sorted
  by path (what ``sha256sum`` prints); ``md5`` is DVC's ``<md5>.dir`` hash of the listing.

Symlinks (the one rule; docs/models.md): a version's sha256 is of the bytes its store gives
back. DVC stores what a link leads to (a link to a file is followed, a link to a directory
inside a directory is skipped, as ``dvc add`` does), so DVC-tracked models are hashed that
way; git stores a link as a link, so a git-tracked model that is or holds one is refused.
"""

from __future__ import annotations

import hashlib
import json
import os
import queue
import stat
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterable, Iterator, NoReturn

from mvtools.errors import InternalError, UsageError
from mvtools.dvcignore import DvcIgnore

if TYPE_CHECKING:
    from mvtools.gitops import Repo

CHUNK = 4 * 1024 * 1024
TEXT_CHARS = bytes(range(32, 127)) + b"\n\r\t\f\b"
PROGRESS_MIN = 128 * 1024 * 1024


@dataclass
class Digest:
    """A model's content as the ledger records it: sha256 and size (and DVC's md5)."""

    sha256: str
    size: int
    md5: str | None = None
    md5_dos2unix: str | None = None
    files: int = 1

    def as_dict(self) -> dict[str, object]:
        return {"sha256": self.sha256, "size": self.size, "md5": self.md5,
                "md5_dos2unix": self.md5_dos2unix, "files": self.files}


def tree_sha256(files: Iterable[tuple[str, str]]) -> str:
    """The tree hash of a directory from its files' ``(relative posix path, sha256)``: the
    sha256 of ``"<sha256>  <path>\\n"`` lines sorted by path (what ``sha256sum`` prints).
    The one definition every reader of directory models uses."""
    tree = hashlib.sha256()
    for rel, sha in sorted(files):
        tree.update(f"{sha}  {rel}\n".encode("utf-8", "surrogateescape"))
    return tree.hexdigest()


def committed_sha256(repo: Repo, commit: str, path: str) -> str | None:
    """The sha256 of a git-tracked model as ``commit`` stores it (a directory: its
    ``tree_sha256``); None when the commit lacks it."""
    ids = repo.blob_ids(commit, [path])
    if not ids:
        return None
    if list(ids) == [path]:
        return hashlib.sha256(repo.show_blob(ids[path]) or b"").hexdigest()
    return tree_sha256((os.path.relpath(rel, path), hashlib.sha256(repo.show_blob(blob) or b"").hexdigest())
                       for rel, blob in ids.items())


def sha256_of(read: Callable[[int], bytes]) -> tuple[str, int]:
    """sha256 and size of a byte stream (no md5, no progress): for bytes not in the work tree."""
    d = hash_stream(read, md5=False)
    return d.sha256, d.size


def istextblock(block: bytes) -> bool:
    """DVC's heuristic (dvc_data.hashfile.istextfile) on the first 512 bytes."""
    if not block:
        return True
    if b"\x00" in block:
        return False
    return len(block.translate(None, TEXT_CHARS)) / len(block) <= 0.30


class _Worker:
    """A second thread that feeds chunks to one hasher; hashlib drops the GIL on big updates."""

    def __init__(self, update: Callable[[bytes], None]) -> None:
        self.q: queue.Queue[bytes | None] = queue.Queue(maxsize=2)
        self.update = update
        self.t = threading.Thread(target=self._run, daemon=True)
        self.t.start()

    def _run(self) -> None:
        while True:
            chunk = self.q.get()
            if chunk is None:
                return
            self.update(chunk)

    def put(self, chunk: bytes) -> None:
        self.q.put(chunk)

    def close(self) -> None:
        self.q.put(None)
        self.t.join()


def _progress(total: int, label: str) -> tuple[Callable[[int], None], Callable[[], None]]:
    if total < PROGRESS_MIN:  # the usual case, a hook's: nothing more to import
        return (lambda n: None), (lambda: None)
    from mvtools import progress  # no bar with --json (progress.quiet), nor off a terminal

    if not progress.wanted(total, PROGRESS_MIN):
        return (lambda n: None), (lambda: None)
    from rich.console import Console
    from rich.progress import BarColumn, DownloadColumn, Progress, TransferSpeedColumn

    prog = Progress("[progress.description]{task.description}", BarColumn(), DownloadColumn(),
                    TransferSpeedColumn(), transient=True, console=Console(stderr=True))
    prog.start()
    task = prog.add_task(f"hashing {label}", total=total)
    return (lambda n: prog.advance(task, n)), prog.stop


def _cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def hash_stream(read: Callable[[int], bytes], *, md5: bool, dos2unix: bool = False,
                total: int = 0, label: str = "") -> Digest:
    """Hash a byte stream once: sha256 here, md5 (and dos2unix md5) on a second thread."""
    sha = hashlib.sha256()
    m = hashlib.md5(usedforsecurity=False) if md5 else None
    d2u = None
    size = 0
    advance, stop = _progress(total, label)
    first = read(CHUNK)
    if dos2unix and istextblock(first[:512]):
        d2u = hashlib.md5(usedforsecurity=False)
    worker = None
    if m is not None and _cpus() < 2:  # no second core: a thread hand-off only costs
        sha_update, m_update = sha.update, m.update
        chunk = first
        try:
            while chunk:
                size += len(chunk)
                sha_update(chunk)
                m_update(chunk)
                if d2u is not None:
                    d2u.update(chunk.replace(b"\r\n", b"\n"))
                advance(len(chunk))
                chunk = read(CHUNK)
        finally:
            stop()
        return Digest(sha256=sha.hexdigest(), size=size, md5=m.hexdigest(),
                      md5_dos2unix=d2u.hexdigest() if d2u else None)
    if m is not None:
        if d2u is not None:
            def both(chunk: bytes) -> None:  # m and d2u are not rebound after this
                m.update(chunk)
                d2u.update(chunk.replace(b"\r\n", b"\n"))
            worker = _Worker(both)
        else:
            worker = _Worker(m.update)
    chunk = first
    try:
        while chunk:
            size += len(chunk)
            if worker is not None:
                worker.put(chunk)
            sha.update(chunk)
            advance(len(chunk))
            chunk = read(CHUNK)
    finally:
        if worker is not None:
            worker.close()
        stop()
    return Digest(sha256=sha.hexdigest(), size=size, md5=m.hexdigest() if m else None,
                  md5_dos2unix=d2u.hexdigest() if d2u else None)


def hash_file(path: Path, *, md5: bool = True, dos2unix: bool = False, label: str = "") -> Digest:
    try:
        with open(path, "rb", buffering=0) as fh:
            total = os.fstat(fh.fileno()).st_size
            return hash_stream(fh.read, md5=md5, dos2unix=dos2unix, total=total, label=label or path.name)
    except FileNotFoundError:
        raise UsageError(f"{label or path}: no such file") from None
    except IsADirectoryError:
        raise UsageError(f"{label or path}: is a directory") from None
    except PermissionError:
        raise UsageError(f"{label or path}: permission denied") from None
    except OSError as exc:
        raise InternalError(f"{label or path}: cannot read: {exc.strerror}") from None


def _walk_files(top: Path, root: Path, links: bool = True,
                ignore: DvcIgnore | None = None) -> Iterator[tuple[str, Path]]:
    """Regular files below ``top`` as (relative posix path, path); refuses links leaving
    root, and with ``links=False`` every link (see :func:`refuse_link`); skips what
    ``ignore`` (the repository's .dvcignore) ignores."""
    root_real = root.resolve()
    for dirpath, dirnames, filenames in os.walk(top, followlinks=False):
        dirnames[:] = sorted(d for d in dirnames if d not in (".git", ".dvc"))
        if ignore is not None:
            here = Path(dirpath).relative_to(root).as_posix()
            dirnames[:] = [d for d in dirnames if not ignore.ignored(f"{here}/{d}", True)]
            filenames = [f for f in filenames if not ignore.ignored(f"{here}/{f}")]
        if not links:
            for d in dirnames:
                if (Path(dirpath) / d).is_symlink():
                    refuse_link(root, Path(dirpath) / d, top)
        for name in filenames:
            p = Path(dirpath) / name
            if p.is_symlink():
                if not links:
                    refuse_link(root, p, top)
                try:
                    p.resolve().relative_to(root_real)
                except ValueError:
                    raise UsageError(f"{p.relative_to(root)}: symlink leads outside the repository") from None
            if p.is_file():
                yield p.relative_to(top).as_posix(), p
            elif not p.is_dir():
                raise UsageError(f"{p.relative_to(root)}: not a regular file")


def refuse_link(root: Path, link: Path, model: Path) -> NoReturn:
    """A git-tracked model is or holds a symlink: git would store the link itself (a blob
    naming its target), not the bytes mvtools hashed. DVC stores what a link leads to."""
    import shlex

    rel, top = link.relative_to(root).as_posix(), shlex.quote(model.relative_to(root).as_posix())
    what = "is a symlink" if link == model else f"is a symlink inside git-tracked model {model.relative_to(root).as_posix()}"
    raise UsageError(f"{rel}: {what}; git stores the link, not the bytes it leads to, so nothing is "
                     f"registered; to version those bytes with DVC run: git rm -r -q --cached {top} && dvc add {top}")


class StatCache:
    """Digests keyed by (path, size, mtime_ns, inode): an unchanged file is never rehashed."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.data: dict[str, list[object]] = {}
        self.dirty = False
        if path is not None:
            try:
                self.data = json.loads(path.read_text())
            except (OSError, ValueError):
                self.data = {}

    @staticmethod
    def _key(st: os.stat_result) -> list[object]:
        return [st.st_size, st.st_mtime_ns, st.st_ino]

    def get(self, path: Path, st: os.stat_result, need_d2u: bool) -> Digest | None:
        rec = self.data.get(str(path))
        if not rec or rec[0] != self._key(st):
            return None
        d = rec[1]
        assert isinstance(d, dict)
        if need_d2u and d.get("md5_dos2unix") is None and d.get("text", False):
            return None
        return Digest(sha256=d["sha256"], size=d["size"], md5=d.get("md5"),
                      md5_dos2unix=d.get("md5_dos2unix"))

    def put(self, path: Path, st: os.stat_result, digest: Digest, text: bool) -> None:
        d = digest.as_dict()
        d["text"] = text
        self.data[str(path)] = [self._key(st), d]
        self.dirty = True

    def save(self) -> None:
        if not self.dirty or self.path is None:
            return
        tmp = self.path.with_suffix(f".tmp{os.getpid()}")
        try:
            tmp.write_text(json.dumps(self.data))
            os.replace(tmp, self.path)
        except OSError:
            pass  # a cache; losing it only costs a rehash
        self.dirty = False


def _file_digest(p: Path, cache: StatCache | None, dos2unix: bool, label: str) -> Digest:
    try:
        st = p.stat()
    except FileNotFoundError:
        raise UsageError(f"{label}: no such file") from None
    if not stat.S_ISREG(st.st_mode):
        raise UsageError(f"{label}: not a regular file")
    if cache is not None:
        hit = cache.get(p, st, dos2unix)
        if hit is not None:
            return hit
    d = hash_file(p, md5=True, dos2unix=dos2unix, label=label)
    st2 = p.stat()
    if (st2.st_size, st2.st_mtime_ns) != (st.st_size, st.st_mtime_ns) or d.size != st.st_size:
        raise UsageError(f"{label}: changed while it was being hashed; try again")
    if cache is not None:
        with open(p, "rb") as fh:
            text = istextblock(fh.read(512))
        cache.put(p, st, d, text)
    return d


def digest_path(root: Path, rel: str, *, cache: StatCache | None = None, dos2unix: bool = False,
                links: bool = True, dvcignore: bool = False) -> Digest:
    """Digest of a file or directory artifact in the work tree, read once. ``links=False``
    for a model git tracks: a symlink in it is refused (:func:`refuse_link`). ``dvcignore``
    for a model DVC records: a directory's files that .dvcignore ignores are left out, as
    DVC leaves them out of its hash."""
    p = root / rel
    if not links and p.is_symlink():
        refuse_link(root, p, p)
    if p.is_symlink():
        try:
            p.resolve().relative_to(root.resolve())
        except ValueError:
            raise UsageError(f"{rel}: symlink leads outside the repository") from None
    if p.is_dir():
        shas = []
        listing = []
        listing_d2u = []
        total = 0
        n = 0
        ignore = DvcIgnore(root) if dvcignore and (root / ".dvc").is_dir() else None
        for relp, fp in sorted(_walk_files(p, root, links, ignore)):
            d = _file_digest(fp, cache, dos2unix, f"{rel}/{relp}")
            shas.append((relp, d.sha256))
            listing.append({"md5": d.md5, "relpath": relp})
            listing_d2u.append({"md5": d.md5_dos2unix or d.md5, "relpath": relp})
            total += d.size
            n += 1
        dir_md5 = hashlib.md5(json.dumps(listing, sort_keys=True).encode(), usedforsecurity=False).hexdigest()
        d2u = None
        if dos2unix:
            d2u = hashlib.md5(json.dumps(listing_d2u, sort_keys=True).encode(),
                              usedforsecurity=False).hexdigest() + ".dir"
        return Digest(sha256=tree_sha256(shas), size=total, md5=dir_md5 + ".dir", md5_dos2unix=d2u, files=n)
    if not p.exists():
        raise UsageError(f"{rel}: no such file or directory in the work tree")
    return _file_digest(p, cache, dos2unix, rel)
