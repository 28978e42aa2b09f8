"""DVC as the byte store: fetch any registered version, push registered artifacts.

DVC is imported here only, on the code paths that move bytes (never on the hook path).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mvtools.errors import CheckFailed, InternalError, UsageError
from mvtools.gitops import Repo
from mvtools.hashing import digest_path
from mvtools.versioning import parse_tag

if TYPE_CHECKING:
    from mvtools.registry import Registry


def _quiet_dvc() -> None:
    os.environ.setdefault("DVC_NO_ANALYTICS", "1")
    import logging

    logging.getLogger("dvc").setLevel(logging.ERROR)


def fetch_version(repo: Repo, ev: dict[str, Any], commit: str, dest: Path, check: bool = True) -> None:
    """Copy the bytes of the version ``ev`` (held by ``commit``) to ``dest``, then check them."""
    if dest.exists() or dest.is_symlink():
        raise UsageError(f"{dest}: already exists; pass -o with a new path")
    _quiet_dvc()
    from dvc.exceptions import DvcException
    from dvc.fs import DVCFileSystem

    tmp = dest.with_name(f".{dest.name}.mvtools-tmp")
    if tmp.exists():
        shutil.rmtree(tmp) if tmp.is_dir() else tmp.unlink()
    try:
        fs = DVCFileSystem(repo=str(repo.root), rev=commit)
        path = ev["path"]
        if not fs.exists(path):
            raise CheckFailed(f"{ev['tag']}: {path} is not in commit {commit[:12]}")
        fs.get(path, str(tmp), recursive=fs.isdir(path))
    except DvcException as exc:
        _cleanup(tmp)
        raise CheckFailed(f"cannot fetch {ev['tag']} through DVC: {str(exc).splitlines()[0]} "
                          "(is the DVC remote configured and reachable? 'dvc push' from the repo that has it)") from None
    except FileNotFoundError as exc:
        _cleanup(tmp)
        raise CheckFailed(f"cannot fetch {ev['tag']}: {exc}; the bytes are in neither the DVC cache nor the remote") from None
    except OSError as exc:
        _cleanup(tmp)
        raise InternalError(f"cannot fetch {ev['tag']}: {exc}") from None
    d = digest_path(tmp.parent, tmp.name)
    if check and d.sha256 != ev["sha256"]:
        _cleanup(tmp)
        raise CheckFailed(f"{ev['tag']}: fetched bytes have sha256 {d.sha256[:12]}..., the ledger records "
                          f"{ev['sha256'][:12]}...; nothing written")
    os.replace(tmp, dest)


def _cleanup(p: Path) -> None:
    if p.is_dir():
        shutil.rmtree(p, ignore_errors=True)
    elif p.exists():
        p.unlink()


def push(reg: "Registry", remote: str | None = None) -> dict[str, Any]:
    """git push the branch and its registry tags; dvc push every registered artifact."""
    repo = reg.repo
    branch = repo.out("rev-parse", "--abbrev-ref", "HEAD")
    if branch == "HEAD":
        raise UsageError("detached HEAD: check out the branch to push")
    if remote is None:
        remote = repo.out("config", "--get", f"branch.{branch}.remote", check=False) or "origin"
    if remote.startswith("-"):
        raise UsageError(f"invalid remote {remote!r}")
    remotes = repo.out("remote").split()
    if remote not in remotes:
        raise UsageError(f"no git remote named {remote!r} (remotes: {', '.join(remotes) or 'none'})")
    tags = [t for t in repo.tags() if parse_tag(t) is not None]
    # bytes first: a tag that reaches the remote must have its artifact there already
    by_commit: dict[str, list[str]] = {}
    alltags = repo.tags()
    for name, st in reg.states().items():
        for ev in st.versions.values():
            if ev.get("md5") is None or ev["tag"] not in alltags:
                continue
            by_commit.setdefault(alltags[ev["tag"]][0], []).append(ev["path"])
    pushed = 0
    if by_commit:
        _quiet_dvc()
        from dvc.exceptions import DvcException
        from dvc.repo import Repo as DvcRepo

        try:
            with DvcRepo(str(repo.root)) as dvc:
                for commit, paths in by_commit.items():
                    pushed += dvc.push(targets=sorted(set(paths)), revs=[commit], workspace=False)
        except DvcException as exc:
            raise CheckFailed(f"dvc push failed: {str(exc).splitlines()[0]}") from None
    proc = repo.git("push", "--", remote, f"HEAD:refs/heads/{branch}", *[f"refs/tags/{t}" for t in tags],
                    check=False)
    if proc.returncode != 0:
        err = proc.stderr.decode("utf-8", "replace").strip().splitlines()
        raise CheckFailed(f"git push failed: {err[-1] if err else proc.returncode}")
    return {"remote": remote, "branch": branch, "tags": len(tags), "dvc_files_pushed": pushed}
