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
        """Push the registered artifacts to the DVC remote, then the branch and its registry
        tags; another clone's earlier push is resolved by renumbering (mvtools.publishing)."""
        from mvtools.domain import Pushed  # off the hooks' import path
        from mvtools import publishing

        o = publishing.push(self, remote)
        return Pushed(o.remote, o.branch, o.tags, o.dvc_files_pushed, tuple(o.renumbered), o.retries, o.upstream_set)

    def resolve_race(self, remote: str | None = None) -> Pushed:
        """Put this clone on the remote branch, renumbering its unpushed clashing versions
        and stage counters (and settling a pull that stopped on them); nothing is pushed."""
        from mvtools.domain import Pushed  # off the hooks' import path
        from mvtools import publishing

        o = publishing.resolve(self, remote)
        return Pushed(o.remote, o.branch, 0, 0, tuple(o.renumbered), 0, False)

    def compare(self, name: str, a: str, b: str) -> Comparison:
        """Baseline ``a`` against candidate ``b``: metrics, params, artifact, lineage, verdict."""
        from mvtools.domain import Comparison  # off the hooks' import path
        from mvtools.compare import compare

        st, va = self.version_or_stage(name, a)
        _, vb = self.version_or_stage(name, b)
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
