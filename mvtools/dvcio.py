"""DVC as the byte store: fetch any registered version, push registered artifacts.

Objects move by their hash between DVC's local cache and the *current* DVC remote through
DVC's own object databases (``repo.cache.local``, ``repo.cloud.get_remote_odb``). Going by
hash, not by ``dvc push --rev``, matters: DVC resolves remotes from the config of each
old commit, so a remote added after a version was registered would never receive it.
DVC is imported here only, on the code paths that move bytes (never on the hook path).
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from contextlib import nullcontext
from typing import TYPE_CHECKING, Any, ContextManager, Iterator

from mvtools import progress
from mvtools.errors import CheckFailed, InternalError, UsageError
from mvtools.gitops import Repo
from mvtools.hashing import digest_path

if TYPE_CHECKING:
    from dvc.repo import Repo as DvcRepo  # no stubs: Any to mypy, named for the reader
    from dvc_data.hashfile.db import HashFileDB

    from mvtools.registry import Registry


def open_dvc(root: Path) -> DvcRepo:
    os.environ.setdefault("DVC_NO_ANALYTICS", "1")
    import logging

    logging.getLogger("dvc").setLevel(logging.ERROR)
    from dvc.exceptions import DvcException, NotDvcRepoError
    from dvc.repo import Repo as DvcRepo

    try:
        return DvcRepo(str(root))
    except (NotDvcRepoError, DvcException) as exc:
        raise UsageError(f"not a DVC repository ({str(exc).splitlines()[0]}); run: dvc init") from None


def project_root(root: Path, path: str) -> Path:
    """The DVC project holding the repository path ``path``: a DVC subrepo below ``root``
    (``dvc init --subdir``) keeps its own cache and remotes (mvtools.dvcroots)."""
    from mvtools.dvcroots import project_at

    return root / project_at(root, path)


def _by_project(root: Path, events: list[dict[str, Any]]) -> dict[Path, list[dict[str, Any]]]:
    out: dict[Path, list[dict[str, Any]]] = {}
    for ev in events:
        out.setdefault(project_root(root, str(ev.get("path") or "")), []).append(ev)
    return out


def _caches(dvc: DvcRepo) -> list[HashFileDB]:
    return [dvc.cache.local, dvc.cache.legacy]


def _remotes(dvc: DvcRepo, remote: str | None, command: str) -> list[HashFileDB]:
    from dvc.exceptions import DvcException

    from dvc.config import NoRemoteError

    try:
        return [dvc.cloud.get_remote_odb(remote, command, hash_name="md5"),
                dvc.cloud.get_remote_odb(remote, command, hash_name="md5-dos2unix")]
    except NoRemoteError:
        raise UsageError("no DVC remote configured; add one with: dvc remote add -d NAME URL") from None
    except DvcException as exc:
        raise CheckFailed("DVC remote unusable: " + " ".join(str(exc).split())) from None


def _manifest(odb: HashFileDB, oid: str) -> list[dict[str, str]] | None:
    try:
        with odb.fs.open(odb.oid_to_path(oid), "rb") as fh:
            return json.loads(fh.read())
    except (OSError, ValueError):
        return None


def _oids(dvc: DvcRepo, md5: str, odbs: list[HashFileDB]) -> Iterator[str]:
    yield md5
    if md5.endswith(".dir"):
        for odb in odbs:
            entries = _manifest(odb, md5)
            if entries is not None:
                yield from (e["md5"] for e in entries)
                return


def _find(odbs: list[HashFileDB], oid: str) -> HashFileDB | None:
    for odb in odbs:
        if odb.exists(oid):
            return odb
    return None


def _transfer(src: list[HashFileDB], dst: list[HashFileDB], oids: list[str],
              advance: progress.Advance = progress.NOOP) -> tuple[int, list[str]]:
    """Copy ``oids`` from whichever of ``src`` has them into the matching ``dst`` odb,
    reporting the bytes copied to ``advance`` (a progress bar)."""
    moved, missing = 0, []
    for oid in oids:
        have = [i for i, odb in enumerate(dst) if odb.exists(oid)]
        if have:
            continue
        i = next((i for i, odb in enumerate(src) if odb.exists(oid)), None)
        if i is None:
            missing.append(oid)
            continue
        kw = {} if advance is progress.NOOP else {"callback": progress.fsspec_callback(advance)}
        moved += dst[i].add(src[i].oid_to_path(oid), src[i].fs, oid, **kw)
    return moved, missing


def cached(dvc: DvcRepo, md5: str) -> bool:
    """Whether the local cache holds the object (and a directory's entries) whole."""
    local = _caches(dvc)
    return all(_find(local, o) for o in _oids(dvc, md5, local))


def ensure_local(dvc: DvcRepo, md5: str, remote: str | None = None, advance: progress.Advance = progress.NOOP) -> None:
    """Make the object (and a directory's entries) present in the local cache."""
    if cached(dvc, md5):
        return
    local = _caches(dvc)
    remotes = _remotes(dvc, remote, "pull")
    _transfer(remotes, local, [md5], advance)
    oids = list(_oids(dvc, md5, local))
    _, missing = _transfer(remotes, local, oids, advance)
    if missing:  # a remote out of reach reads as one without the object (fsspec's exists())
        where = ", ".join(str(getattr(r, "path", "?")) for r in remotes) or "no remote"
        raise CheckFailed(f"object {missing[0]} is neither in the DVC cache nor found in the DVC remote "
                          f"({where}): if the remote is reachable from here it was never pushed, so run "
                          "'mvtools push' (or 'dvc push') where it was registered")


def in_cache(root: Path, md5s: list[str], path: str = "") -> list[bool]:
    """Which of ``md5s`` the local DVC cache (of the project holding ``path``) holds whole (a
    directory's entries too); all False where DVC cannot open the repository."""
    try:
        dvc = open_dvc(project_root(root, path))
    except UsageError:
        return [False] * len(md5s)
    with dvc:
        local = _caches(dvc)
        return [all(_find(local, o) for o in _oids(dvc, m, local)) for m in md5s]


def _copy(src: str, dest: Path, advance: progress.Advance) -> None:
    if advance is progress.NOOP:
        shutil.copyfile(src, dest)
    else:
        progress.copy_file(src, str(dest), advance)


def _materialize(dvc: DvcRepo, md5: str, dest: Path, advance: progress.Advance = progress.NOOP) -> None:
    local = _caches(dvc)
    if md5.endswith(".dir"):
        odb = _find(local, md5)
        entries = _manifest(odb, md5) if odb else None
        if entries is None:
            raise CheckFailed(f"directory manifest {md5} is missing from the DVC cache")
        dest.mkdir(parents=True)
        for e in entries:
            rel = Path(e["relpath"])
            if rel.is_absolute() or ".." in rel.parts:
                raise CheckFailed(f"directory manifest {md5} has an unsafe path {e['relpath']!r}")
            src = _find(local, e["md5"])
            if src is None:  # ensure_local fetched them all; a cache pruned meanwhile
                raise CheckFailed(f"object {e['md5']} is missing from the DVC cache")
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            _copy(src.oid_to_path(e["md5"]), dest / rel, advance)
    else:
        odb = _find(local, md5)
        if odb is None:
            raise CheckFailed(f"object {md5} is missing from the DVC cache")
        _copy(odb.oid_to_path(md5), dest, advance)


def _git_materialize(repo: Repo, commit: str, path: str, dest: Path) -> None:
    ids = repo.blob_ids(commit, [path])
    if not ids:
        raise CheckFailed(f"{path} is not in commit {commit[:12]}")
    if list(ids) == [path]:
        dest.write_bytes(repo.show_blob(ids[path]) or b"")
        return
    dest.mkdir(parents=True)
    for rel, blob in ids.items():
        target = dest / os.path.relpath(rel, path)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(repo.show_blob(blob) or b"")


def fetch_version(repo: Repo, ev: dict[str, Any], commit: str, dest: Path, check: bool = True) -> None:
    """Write the bytes of version ``ev`` to ``dest`` (from the DVC cache, the DVC remote or
    git), verified against the recorded sha256 before they are moved into place."""
    if dest.exists() or dest.is_symlink():
        raise UsageError(f"{dest}: already exists; pass -o with a new path")
    tmp = dest.with_name(f".{dest.name}.mvtools-tmp")
    _cleanup(tmp)
    try:
        if ev.get("md5"):
            with open_dvc(project_root(repo.root, str(ev.get("path") or ""))) as dvc:
                md5, size = str(ev["md5"]), int(ev.get("size") or 0)
                # one bar: the bytes fetched from the DVC remote (if the cache lacks them), then copied out
                total = size if not progress.wanted(2 * size) or cached(dvc, md5) else 2 * size
                with progress.bar(f"{ev['model']} {ev['version']}", total) as adv:
                    ensure_local(dvc, md5, advance=adv)
                    _materialize(dvc, md5, tmp, adv)
        else:
            _git_materialize(repo, commit, ev["path"], tmp)
        d = digest_path(tmp.parent, tmp.name)
    except OSError as exc:
        _cleanup(tmp)
        raise InternalError(f"cannot fetch {ev['tag']}: {exc}") from None
    except BaseException:
        _cleanup(tmp)
        raise
    if check and d.sha256 != ev["sha256"]:
        _cleanup(tmp)
        raise CheckFailed(f"{ev['tag']}: fetched bytes have sha256 {d.sha256[:12]}..., the ledger records "
                          f"{ev['sha256'][:12]}...; nothing written")
    os.replace(tmp, dest)


def _cleanup(p: Path) -> None:
    if p.is_dir() and not p.is_symlink():
        shutil.rmtree(p, ignore_errors=True)
    elif p.exists() or p.is_symlink():
        p.unlink()


def missing_in_remote(reg: "Registry", events: list[dict[str, Any]], remote: str | None = None) -> list[dict[str, Any]]:
    """The register events whose DVC objects the DVC remote (of each one's project) does not have."""
    out = []
    for root, evs in _by_project(reg.repo.root, events).items():
        with open_dvc(root) as dvc:
            remotes = _remotes(dvc, remote, "push")
            local = _caches(dvc)
            for ev in evs:
                oids = list(_oids(dvc, str(ev["md5"]), local + remotes))
                if not all(_find(remotes, o) for o in oids):
                    out.append(ev)
    return out


def push_events(reg: "Registry", events: list[dict[str, Any]], remote: str | None = None) -> int:
    """Copy the DVC objects of ``events`` from the local cache to the DVC remote (each
    version's through the DVC project holding it)."""
    moved = 0
    for root, evs in _by_project(reg.repo.root, events).items():
        with open_dvc(root) as dvc:
            remotes = _remotes(dvc, remote, "push")
            local = _caches(dvc)
            with _push_bar(remotes, evs) as advance:
                for ev in evs:
                    md5 = str(ev["md5"])
                    n, missing = _transfer(local, remotes, [md5], advance)
                    moved += n
                    n, more = _transfer(local, remotes, list(_oids(dvc, md5, local)), advance)
                    moved += n
                    missing += more
                    if missing and not all(_find(remotes, o) for o in missing):
                        raise CheckFailed(f"cannot push {ev['tag']}: object {missing[0]} is not in the local DVC "
                                          "cache (dvc fetch it, or push from the clone that registered it)")
    return moved


def _push_bar(remotes: list[HashFileDB], evs: list[dict[str, Any]]) -> ContextManager[progress.Advance]:
    """The bar of a push: the bytes of the versions whose object the remote lacks (asked
    of the remote only when a bar could be drawn at all)."""
    total = sum(int(ev.get("size") or 0) for ev in evs)
    if not progress.wanted(total):
        return nullcontext(progress.NOOP)
    todo = [ev for ev in evs if _find(remotes, str(ev["md5"])) is None]
    return progress.bar(f"push {len(todo)} version(s)", sum(int(ev.get("size") or 0) for ev in todo))
