"""The registry: the Python API over the ledger; the CLI is a thin view of it.

``Registry(path)`` brings the seams together, each in its own module: reading and state
(:mod:`mvtools.reading`, :mod:`mvtools.state`), registering (:mod:`mvtools.registering`),
tag sync (:mod:`mvtools.tagsync`), the lifecycle (:mod:`mvtools.lifecycle`); retrieval and
compare live here. State is loaded once per command and passed along; every write goes
through :meth:`Registry.transaction`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, TYPE_CHECKING

from mvtools.errors import CheckFailed, NotFound, UsageError
from mvtools.lifecycle import Lifecycle
from mvtools.registering import Registering
from mvtools.state import ModelState, fold
from mvtools.versioning import parse_tag

__all__ = ["ModelState", "Registry", "fold"]

if TYPE_CHECKING:
    from mvtools.domain import Comparison, Pushed, Retrieved


class Registry(Lifecycle, Registering):
    """A model registry in the git work tree at ``path``."""

    # -- retrieving and comparing -----------------------------------------------------
    def get(self, spec: str, out: str | Path | None = None) -> Retrieved:
        from mvtools.domain import Retrieved  # off the hooks' import path
        from mvtools import dvcio

        ev = self.resolve(spec)
        commit = self.event_commit(ev, self.repo.tags(ev["tag"]))
        if commit is None:
            from mvtools.transaction import restore_command

            rel = self.config.ledger_path(ev["model"])
            raise NotFound(f"{ev['tag']} is recorded in {rel} in the work tree but in no commit (an interrupted "
                           f"registration?); to drop it run: {restore_command(self.repo, rel)}")
        if ev.get("sha256") is None:  # imported from GTO without its bytes: nothing to check them against yet
            from mvtools.record_sha256 import unreadable

            raise CheckFailed(f"{ev['tag']}: no sha256 recorded (imported from GTO); once the bytes can be fetched "
                              f"run: mvtools record-sha256 {ev['model']}@{ev['version']}" if ev.get("md5") else
                              f"{ev['tag']}: imported from GTO without bytes mvtools can fetch ({unreadable(ev)})")
        dest = Path(out) if out is not None else Path(os.path.basename(ev["path"]))
        if not dest.parent.is_dir():
            raise UsageError(f"{dest.parent}: no such directory")
        dvcio.fetch_version(self.repo, ev, commit, dest)
        return Retrieved(ev["model"], ev["version"], str(dest), ev["sha256"], commit)

    def push(self, remote: str | None = None) -> Pushed:
        """Push the registered artifacts to the DVC remote, then the branch and its registry tags."""
        from mvtools.domain import Pushed  # off the hooks' import path
        from mvtools import dvcio

        repo = self.repo
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
        alltags = repo.tags()
        tags = [t for t in alltags if parse_tag(t) is not None]
        # bytes first: a tag that reaches the remote must have its artifact there already
        events = [ev for st in self.states().values() for ev in st.versions.values()
                  if ev.get("md5") is not None and ev["tag"] in alltags]
        pushed = dvcio.push_events(self, events) if events else 0
        proc = repo.git("push", "--", remote, f"HEAD:refs/heads/{branch}", *[f"refs/tags/{t}" for t in tags],
                        check=False)
        if proc.returncode != 0:
            err = [ln for ln in proc.stderr.decode("utf-8", "replace").strip().splitlines()
                   if ln.startswith("mvtools:")] or proc.stderr.decode("utf-8", "replace").strip().splitlines()
            raise CheckFailed(f"git push failed: {err[-1] if err else proc.returncode}")
        return Pushed(remote, branch, len(tags), pushed)

    def compare(self, name: str, a: str, b: str) -> Comparison:
        """Baseline ``a`` against candidate ``b``: metrics, params, artifact, lineage, verdict."""
        from mvtools.domain import Comparison  # off the hooks' import path
        from mvtools.compare import compare

        st, va = self.version(name, a)
        _, vb = self.version(name, b)
        return Comparison.from_dict(compare(name, st.versions[va], st.versions[vb], self.config.compare))

    def lineage_snapshot(self, spec: str) -> dict[str, Any]:
        """The upstream snapshot the ledger recorded for NAME@VERSION (or NAME's latest)."""
        ev = self.resolve(spec)
        lin = ev.get("lineage") or {}
        return {"model": ev["model"], "version": ev["version"], "path": ev["path"], "sha256": ev["sha256"],
                "stage": lin.get("stage"), "dvc_yaml": lin.get("dvc_yaml"), "deps": lin.get("deps") or {},
                "params": ev.get("params") or {}, "metrics": ev.get("metrics") or {},
                "upstream": lin.get("upstream") or {}, "environment": ev.get("environment")}

    def lineage_diff(self, name: str, a: str, b: str) -> dict[str, Any]:
        """What differs between two versions' lineage snapshots: data, code, params and each
        upstream stage (mvtools.compare.lineage_diff)."""
        from mvtools.compare import lineage_diff

        st, va = self.version(name, a)
        _, vb = self.version(name, b)
        return {"a": va, "b": vb, **lineage_diff(st.versions[va], st.versions[vb])}
