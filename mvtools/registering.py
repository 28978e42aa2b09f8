"""Registering a version: hash the artifact once, describe it (metrics, params, lineage),
pick the next version number and append the register event (``mvtools register``; the
pre-commit hook uses the same steps)."""

from __future__ import annotations

import os
import posixpath
import shlex
import sys
from pathlib import Path
from typing import Any, TYPE_CHECKING

from mvtools import ledger as L
from mvtools.artifacts import (WORKTREE, Record, Source, dvc_fetch_command, dvc_fix_command, find_record,
                               flatten_lock_params, read_metrics, read_params, stage_metrics_files)
from mvtools.config import Config, Model, dvc_yaml_files, load_config
from mvtools.errors import CheckFailed, UsageError
from mvtools.hashing import Digest, StatCache, digest_path
from mvtools.tagsync import TagSync
from mvtools.versioning import Version, new_tag, next_semver, timestamp_version, utc_now

if TYPE_CHECKING:
    from mvtools.domain import RegisterEvent


def dvc_gitignore(root: Path, rel: str) -> list[str]:
    """The .gitignore DVC writes beside an output it tracks (``dvc add``, ``dvc repro``),
    when it lists the output: committed with the version, as DVC's own hint says to."""
    gi = posixpath.join(posixpath.dirname(rel), ".gitignore")
    try:
        lines = (root / gi).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return []
    return [gi] if "/" + posixpath.basename(rel) in (ln.strip() for ln in lines) else []


def large_git_model(cfg: Config, model: Model, rec: Record | None, d: Digest) -> str | None:
    """A warning for a model committed to git directly above ``git_model_warn_mib``: every
    version stays in git history for ever; DVC keeps the bytes out of it."""
    limit = cfg.git_model_warn_mib
    if rec is not None or not limit or d.size <= limit * 1024 * 1024:
        return None
    path = shlex.quote(model.path)
    return (f"{model.path} is {d.size / 1048576:.0f} MiB and committed to git directly (above "
            f"git_model_warn_mib: {limit:g}); to keep large bytes out of git history run: "
            f"git rm -r -q --cached {path} && dvc add {path}")


class Registering(TagSync):
    """Registration."""

    def describe(self, model: Model, src: Source, rec: Record | None,
                 warnings: list[str] | None = None, dvcy: list[str] | None = None) -> dict[str, Any]:
        """metrics, params, lineage (with every upstream stage) and environment of ``model``
        as ``src`` holds them; a model without metrics adds a line to ``warnings``, which the
        caller prints once the registration is written (a refused one prints its error alone)."""
        read = src.read
        metric_files = model.metrics or stage_metrics_files(src, rec, model)
        metrics = read_metrics(read, metric_files)
        if not metrics and warnings is not None:
            warnings.append(f"model {model.name}: no metrics found ("
                            + (f"no number in {', '.join(metric_files)}" if metric_files else
                               "no metrics file declared by its pipeline or in mvtools.yaml") + ")")
        if model.params:
            params = read_params(read, model.params)
        elif rec is not None and rec.params:
            params = flatten_lock_params(rec.params)
        else:
            params = {}
        lineage = None
        if rec is not None and rec.kind == "dvclock":
            from mvtools.upstream import upstream_of

            lineage = {"stage": rec.stage, "dvc_yaml": rec.dvc_yaml, "deps": dict(sorted(rec.deps.items())),
                       "params": rec.params, "upstream": upstream_of(src, rec, dvc_yaml_files(self.root) if dvcy is None else dvcy)}
        elif rec is not None and rec.deps:
            lineage = {"stage": rec.file, "deps": rec.deps, "params": {}, "upstream": {}}
        from mvtools.environment import snapshot

        dirs = [posixpath.dirname(rec.dvc_yaml)] if rec is not None and rec.dvc_yaml else []
        env = snapshot(src, self.config.environment_files, dirs)
        return {"metrics": metrics or None, "params": params or None, "lineage": lineage, "environment": env}

    def digest(self, model: Model, rec: Record | None) -> Digest:
        cache = StatCache(self.repo.stat_cache_path)
        legacy = rec is not None and rec.hash_name == "md5-dos2unix"
        dvc_rec = rec is not None and rec.kind != "git" and rec.md5 is not None
        if rec is not None and dvc_rec and not os.path.lexists(self.root / model.path):
            from mvtools.dvcio import in_cache  # an error path: DVC's import cost is fine here

            raise CheckFailed(f"model {model.name}: {model.path} is not in the work tree ({rec.file} records it); "
                              f"run: {dvc_fetch_command(rec, model, recorded_cached=in_cache(self.root, [str(rec.md5)], model.path)[0])}")
        try:
            d = digest_path(self.root, model.path, cache=cache, dos2unix=legacy,
                            links=rec is not None and rec.kind != "git",  # git stores a link as a link
                            dvcignore=dvc_rec)  # DVC's hash leaves out what .dvcignore ignores
        finally:
            cache.save()
        if rec is not None and dvc_rec:
            got = d.md5_dos2unix if legacy and d.md5_dos2unix else d.md5
            if got != rec.md5:
                from mvtools.dvcio import in_cache

                known, recorded = in_cache(self.root, [str(got), str(rec.md5)], model.path)
                raise CheckFailed(
                    f"model {model.name}: {model.path} in the work tree does not match what "
                    f"{rec.file} records; run: {dvc_fix_command(rec, model, known=known, recorded_cached=recorded)}")
        return d

    def new_event(self, model: Model, d: Digest, rec: Record | None, src: Source, *,
                  version: str | None = None, bump: str | None = None, message: str | None = None,
                  pending: list[dict[str, Any]] | None = None, warnings: list[str] | None = None,
                  dvcy: list[str] | None = None) -> dict[str, Any]:
        """The register event of ``model``'s bytes ``d`` (``dvcy``: the dvc.yaml files to read
        its lineage from, when the caller listed them already: the hook, from the index)."""
        refs = self.repo.refs()  # one read of the refs for the version and its tag's form
        taken = self.taken_versions(model.name, pending, refs)
        if version is not None:
            v = Version.parse(version)
            if v in taken:
                raise UsageError(f"{model.name}@{v} is already taken; pick another version")
        elif self.config.scheme == "timestamp":
            v = timestamp_version(d.sha256)
        else:
            b = bump or os.environ.get("MVTOOLS_BUMP") or model.bump
            if b not in ("major", "minor", "patch"):
                raise UsageError(f"invalid bump {b!r}: expected major, minor or patch")
            v = next_semver(taken, b)
        info = self.describe(model, src, rec, warnings, dvcy)
        tag_names = [ref[10:] for ref, _ in refs if ref.startswith("refs/tags/")]
        fields: dict[str, Any] = {
            "version": str(v), "tag": new_tag(tag_names, model.name, "version", v), "path": model.path,
            "sha256": d.sha256, "size": d.size,
            "md5": rec.md5 if rec is not None and rec.kind != "git" else None,
            "metrics": info["metrics"], "params": info["params"], "lineage": info["lineage"],
            "environment": info["environment"],
        }
        if message:
            fields["message"] = message
        return L.make_event("register", model.name, self.repo.identity(), utc_now(), **fields)

    def register(self, name: str, *, path: str | None = None, bump: str | None = None,
                 version: str | None = None, message: str | None = None) -> RegisterEvent:
        """Register the work tree's bytes of ``name`` as a new version: append, commit, tag."""
        from mvtools.domain import RegisterEvent, api_result  # off the hooks' import path
        if bump is not None and bump not in ("major", "minor", "patch"):
            raise UsageError(f"invalid bump {bump!r}: expected major, minor or patch")
        if version is not None:
            Version.parse(version)
        model = self._model_for_register(name, path)
        dvcy = dvc_yaml_files(self.root)
        wt = Source(self.repo, WORKTREE)
        rec = find_record(self.config, wt, model, dvcy)
        if rec is None and not (self.root / model.path).exists():
            raise UsageError(f"model {name}: {model.path} does not exist")
        warnings: list[str] = []
        with self.transaction() as txn:
            d = self.digest(model, rec)
            warning = large_git_model(self.config, model, rec, d)
            if warning:
                warnings.append(warning)
            st = self.state(name, new_ok=True)
            if st.versions:
                last = st.versions[st.latest or str(max(Version(v) for v in st.versions))]
                if last["sha256"] == d.sha256:
                    raise UsageError(f"{name}: these bytes are already registered as {last['version']}")
            ev = self.new_event(model, d, rec, wt, version=version, bump=bump, message=message, warnings=warnings)
            paths = []
            if rec is not None and rec.file:
                paths.append(rec.file)
            elif rec is None:
                paths.append(model.path)
            if rec is not None and rec.kind != "git":
                paths += dvc_gitignore(self.root, model.path)
            writes: dict[str, bytes | None] = {}
            if name not in self.config.models:  # declared where DVC and Studio read it too
                from mvtools.declare import declare_artifact

                dvcyaml, text = declare_artifact(self.root, name, model.path)
                writes[dvcyaml] = text
                paths.append(dvcyaml)
            head = txn.commit({name: [ev]}, message or f"Register {name} {ev['version']}", paths,
                              writes=writes)
            if writes:
                self.config = load_config(self.root)
            self.tag_event(ev, head)
        for warning in warnings:  # after the write: a refused registration prints its error alone
            print(f"mvtools: warning: {warning}", file=sys.stderr)
        return api_result(ev, head, RegisterEvent)

    def _model_for_register(self, name: str, path: str | None) -> Model:
        from mvtools.config import safe_relpath, validate_name

        validate_name(name)
        if name in self.config.models:
            m = self.config.models[name]
            if path is not None and safe_relpath(self.root, path) != m.path:
                raise UsageError(f"model {name} is declared with path {m.path}, not {path}")
            return m
        if path is None:
            return self.config.model(name)  # raises NotFound
        rel = safe_relpath(self.root, path)
        if not (self.root / rel).exists() and not (self.root / (rel + ".dvc")).exists():
            raise UsageError(f"{rel}: no such file or directory")
        from mvtools.declare import artifact_file, declare_artifact

        declare_artifact(self.root, name, rel)  # refuses now what it could not declare
        return Model(name=name, path=rel, source=artifact_file(name)[0])
