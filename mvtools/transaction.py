"""The one write path to the registry: lock, refuse during a git operation, append, commit,
tag, and put everything back when the commit fails.

Registry commands (register, promote, archive, deprecate, rollback), deployments and
import-gto run inside :class:`Transaction`. The commit hooks cannot hold a lock across a
``git commit`` (the pre-commit hook exits before git writes the commit), so for them the
transaction is split at the commit:

* pre-commit, under the lock, picks the version and **reserves** it: a file under the
  common git dir naming the version, its sha256 and the ``git commit`` process that owns
  it. Every other allocation (another worktree's commit, ``mvtools register``) skips
  versions reserved by a live owner, so two commits can never take one version.
* post-commit **confirms** it: writes the tag and drops the reservation. The plain git hook
  does this in shell from ``pending`` lines pre-commit left in the worktree's git dir (no
  Python start for a registering commit's tag); the pre-commit framework's hook does it in
  Python.
* A commit that never happens (a later hook fails, an empty message, Ctrl-C) leaves a
  reservation whose owner process is gone: it counts for nothing and the next writer
  removes it. Its staged event is checked again when the commit is retried, and given a
  new number if another commit took its number meanwhile.

Only light modules are imported: pre-commit uses the reservation functions.
"""

from __future__ import annotations

import hashlib
import json
import os
import shlex
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator, Mapping

from mvtools import ledger as L
from mvtools.errors import CheckFailed, UsageError
from mvtools.gitops import Repo, git_ancestor_pids, locked_error

if TYPE_CHECKING:
    from mvtools.reading import RegistryReader

# -- reservations (the hooks' half of a transaction) ---------------------------------------
def _reservation_file(repo: Repo, tag: str) -> Path:
    """The tag, escaped, as one file name; a tag too long for one (file systems allow 255
    bytes) keeps a readable prefix and the sha256 of the whole tag (the file holds the tag)."""
    name = tag.replace("%", "%25").replace("/", "%2F")
    if len(name.encode()) > 200:
        name = name.encode()[:120].decode("utf-8", "ignore") + "~" + hashlib.sha256(tag.encode()).hexdigest()[:32]
    return repo.reservations_dir / (name + ".json")


def _start_time(pid: int) -> str | None:
    """A process's start time (field 22 of /proc/PID/stat): with the pid, it names one
    process for ever (pids are reused). None where /proc is absent or the pid is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[19]


def _alive(owner: Mapping[str, Any]) -> bool:
    pid = owner.get("pid")
    if not isinstance(pid, int) or pid <= 0:
        return False
    if Path("/proc/self/stat").exists():
        return _start_time(pid) == owner.get("start")
    try:  # no /proc: a live pid is taken as the owner
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True


def commit_owner() -> dict[str, Any]:
    """The ``git`` process running this hook (the commit's lifetime), else our parent."""
    pid = next(iter(git_ancestor_pids()), os.getppid())
    return {"pid": pid, "start": _start_time(pid)}


def _read(path: Path) -> dict[str, Any] | None:
    try:
        doc = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return doc if isinstance(doc, dict) else None


def live_reservations(repo: Repo, model: str) -> Iterator[dict[str, Any]]:
    """Reservations of ``model`` whose owner still runs; dead ones are removed (callers
    hold the registry lock)."""
    d = repo.reservations_dir
    if not d.is_dir():
        return
    for f in d.iterdir():
        doc = _read(f)
        if doc is None or not _alive(doc.get("owner") or {}):
            f.unlink(missing_ok=True)
            continue
        if doc.get("model") == model:
            yield doc


def committing_here(repo: Repo, model: str) -> bool:
    """Is a commit of this worktree under way with a version of ``model`` reserved?"""
    return any(doc.get("worktree") == str(repo.git_dir) for doc in live_reservations(repo, model))


def reserve(repo: Repo, ev: dict[str, Any], owner: dict[str, Any]) -> Path:
    """Hold ``ev``'s version for ``owner`` until post-commit tags it (or the owner exits)."""
    path = _reservation_file(repo, ev["tag"])
    doc = {"tag": ev["tag"], "model": ev["model"], "version": ev["version"], "sha256": ev["sha256"],
           "id": ev["id"], "owner": owner, "worktree": str(repo.git_dir)}
    # no fsync: a reservation outlives its owner (the git commit) in no crash, power loss included
    L.atomic_write(path, json.dumps(doc, sort_keys=True).encode(), durable=False)
    return path


def release(repo: Repo, ev: dict[str, Any]) -> None:
    """The reservation of ``ev`` is confirmed (its tag exists): drop it, and only it (another
    commit's reservation of the same number, with other bytes, is not ours to drop)."""
    path = _reservation_file(repo, ev["tag"])
    doc = _read(path)
    if doc is not None and doc.get("id") == ev["id"]:
        path.unlink(missing_ok=True)


def version_free(repo: Repo, ledger_rel: str, ev: dict[str, Any], owner: dict[str, Any]) -> bool:
    """May this commit still take ``ev``'s version? Not when another commit holds its tag
    (an amend keeps the tag of the commit it replaces) or another live commit reserved it."""
    tags = repo.tags(ev["tag"])
    if ev["tag"] in tags:
        held = repo.show_blob(f"{tags[ev['tag']][0]}:{ledger_rel}") or b""
        return ev["id"].encode() in held
    for doc in live_reservations(repo, ev["model"]):
        if doc.get("version") == ev["version"] and doc.get("owner") != owner:
            return False
    return True


def registered_line(ev: dict[str, Any]) -> str:
    """What a commit that registered ``ev`` tells the user, once its tag exists."""
    return f"registered {ev['model']} {ev['version']} ({ev['sha256'][:12]}, {ev['size']} bytes)"


def clear_pending(repo: Repo) -> None:
    repo.pending_file.unlink(missing_ok=True)


def add_pending(repo: Repo, ev: dict[str, Any], owner: dict[str, Any], ledger_rel: str, reservation: Path,
                tag_message: str) -> None:
    """One tab-separated line the post-commit shell hook reads: owner pid, tag, event id,
    ledger path, reservation file, what to tell the user, the tag's message."""
    fields = [str(owner["pid"]), ev["tag"], ev["id"], ledger_rel, str(reservation), registered_line(ev),
              tag_message]
    if any("\t" in f or "\n" in f or not f for f in fields):
        return  # cannot be said on one line: post-commit falls back to Python
    if os.path.basename(os.environ.get("GIT_INDEX_FILE", "")).startswith("next-index"):
        return  # `git commit PATH`: Python's post-commit also puts the ledger in the real index
    with open(repo.pending_file, "a", encoding="utf-8") as fh:
        fh.write("\t".join(fields) + "\n")


def require_committed(repo: Repo, rel: str, data: bytes | None) -> None:
    """A registry command builds only on the committed ledger: ``data`` (the work tree's)
    and the index's copy must both be HEAD's. Both, because ``git commit -- PATH`` commits
    the work tree's and a later plain ``git commit`` the index's (a command killed
    mid-commit leaves its event in both)."""
    committed = repo.show_blob(f"HEAD:{rel}") if repo.head else None
    staged = repo.show_blob(":" + rel)
    if data == committed and staged == committed:
        return
    raise UsageError(f"{rel} differs from the committed one in the work tree or the index (an interrupted "
                     f"registration?); to drop what no commit holds run: {restore_command(repo, rel)}")


def restore_command(repo: Repo, rel: str) -> str:
    """The command that puts ledger ``rel`` back as HEAD has it, in the index and the work tree."""
    q = shlex.quote(rel)
    if repo.head and repo.show_blob(f"HEAD:{rel}") is not None:
        return f"git checkout HEAD -- {q}"
    return f"git rm -q -f -- {q}" if repo.show_blob(":" + rel) is not None else f"rm {q}"


# -- the transaction of registry commands -------------------------------------------------
class Transaction:
    """``with Transaction(reg) as txn:`` holds the registry lock; ``txn.commit`` appends
    events and commits them (restoring every file on failure); ``txn.tag`` tags."""

    def __init__(self, reg: "RegistryReader") -> None:
        self.reg = reg
        self.repo = reg.repo
        self._lock = L.lock(self.repo.common_dir)

    def __enter__(self) -> "Transaction":
        self.repo.require_no_operation()
        self._lock.__enter__()
        try:  # after the lock: another registry command's git commit holds it meanwhile
            self.repo.require_index_unlocked()
        except BaseException:
            self._lock.__exit__(None, None, None)
            raise
        self.reg._states = None
        self.reg.committed_only = True
        return self

    def __exit__(self, *exc: object) -> None:
        self.reg._states = None
        self.reg.committed_only = False
        self._lock.__exit__(*exc)

    def commit(self, events: Mapping[str, list[dict[str, Any]]], message: str,
               extra_paths: list[str] | None = None, writes: Mapping[str, bytes | None] | None = None) -> str:
        """Append each model's ``events`` to its ledger, write ``writes`` (path -> bytes, None:
        remove the file), and commit all of it with ``extra_paths``. A failure puts every
        file back as it was."""
        self.repo.require_no_operation()
        self.repo.require_index_unlocked()
        root, cfg = self.repo.root, self.reg.config
        ledgers = {name: cfg.ledger_path(name) for name in events}
        from mvtools.reading import read_ledger_file  # loaded with the registry already

        for rel in ledgers.values():
            require_committed(self.repo, rel, read_ledger_file(root, rel))
        touched = [*ledgers.values(), *(writes or {})]
        saved = {rel: ((root / rel).read_bytes() if (root / rel).exists() else None) for rel in touched}
        paths = [*ledgers.values(), *(extra_paths or []), *(writes or {})]
        try:
            for name, evs in events.items():
                L.append(root / ledgers[name], name, evs, expected=saved[ledgers[name]])
            for rel, data in (writes or {}).items():
                if data is None:
                    (root / rel).unlink(missing_ok=True)
                else:
                    L.atomic_write(root / rel, data)
            self.repo.git("add", "--", *paths)
            env = dict(os.environ, MVTOOLS_REGISTERING="1")
            proc = self.repo.git("commit", "-q", "-m", message, "--", *paths, check=False, env=env)
            if proc.returncode != 0:
                locked = locked_error(proc.stderr, root)
                if locked is not None:
                    raise locked
                text = (proc.stderr or proc.stdout).decode("utf-8", "replace").strip().splitlines()
                raise CheckFailed("git commit failed: " + (text[-1] if text else str(proc.returncode)))
        except BaseException:
            for rel, old in saved.items():
                if old is None:
                    (root / rel).unlink(missing_ok=True)
                else:
                    L.atomic_write(root / rel, old)
            self.repo.git("reset", "-q", "--", *saved, check=False)
            raise
        finally:
            self.reg._states = None
        head = self.repo.rev_parse("HEAD")
        if head is None:  # pragma: no cover - git said the commit succeeded
            raise CheckFailed("git commit left no HEAD")
        return head

    def tag(self, tag: str, commit: str, message: str, env: dict[str, str] | None = None) -> None:
        """Write the event's tag. One another branch or worktree wrote first (the same
        version archived on two branches) stays: its own commit's ledger records it, and
        verify and sync-tags judge it by that."""
        if tag in self.repo.tags(tag):
            return
        self.repo.create_tag(tag, commit, message, env=env)

