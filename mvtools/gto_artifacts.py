"""What a GTO version's tagged commit records about its artifact, read from git alone.

GTO finds an artifact's annotation at the tagged commit: ``artifacts:`` in a ``dvc.yaml``
(``dir:name`` for one in a subdirectory) or, before GTO 1.0, the root ``artifacts.yaml``.
A path may be a remote URL (``s3://...``) or missing: GTO shows such versions all the same,
and so the import records them as GTO shows them. Where the commit records the bytes (a
``.dvc`` file or a ``dvc.lock`` output, in the root project or a DVC subrepo), their DVC md5
and size are read, and their sha256 when git or the local DVC cache holds them; the network
is never used here (``mvtools record-sha256`` fetches later).
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mvtools.artifacts import Record, Source, find_record
from mvtools.config import CONFIG_FILE, Model
from mvtools.errors import ConfigError
from mvtools.hashing import committed_sha256

if TYPE_CHECKING:
    from mvtools.registry import Registry


def is_url(path: str) -> bool:
    """A remote location (``s3://bucket/key``, ``https://...``), never a repository path."""
    return "://" in path


@dataclass
class Artifact:
    """One version's artifact as its commit records it."""

    path: str | None = None  # repo-relative, a URL, or None (annotated without a path)
    md5: str | None = None
    size: int | None = None
    sha256: str | None = None
    project: str = ""  # the DVC project holding the record: "" (root) or a subrepo's directory
    why: str | None = None  # why the sha256 is unknown
    info: dict[str, Any] = field(default_factory=lambda: {"metrics": None, "params": None, "lineage": None})


def _annotated_path(src: Source, name: str) -> tuple[bool, str | None]:
    """(annotated?, raw path) for ``name`` at the commit, as GTO reads annotations."""
    base, _, art = name.rpartition(":")
    dvc_yaml = posixpath.join(base, "dvc.yaml") if base else "dvc.yaml"
    try:
        doc = src.yaml(dvc_yaml)
        arts = doc.get("artifacts") if isinstance(doc, dict) else None
        if isinstance(arts, dict) and isinstance(arts.get(art), dict):
            p = arts[art].get("path")
            if isinstance(p, str) and "${" in p:  # templated: the one dvc.yaml reader resolves it
                from mvtools.dvcyaml import read_dvcyaml

                found = read_dvcyaml(dvc_yaml, src.read).artifacts.get(name)
                return True, found.path if found is not None else None
            if isinstance(p, str):
                return True, p if is_url(p) else posixpath.normpath(posixpath.join(base, p))
            return True, None
        if not base:  # the format before GTO 1.0: artifacts.yaml at the root, name -> {path, type}
            old = src.yaml("artifacts.yaml")
            if isinstance(old, dict) and isinstance(old.get(name), dict):
                p = old[name].get("path")
                return True, (p if is_url(p) else posixpath.normpath(p)) if isinstance(p, str) else None
    except ConfigError:
        pass  # a malformed annotation: as unannotated
    return False, None


def dvc_project_of(reg: "Registry", commit: str, path: str) -> str:
    """The DVC project ``path`` belongs to at ``commit``: the deepest directory holding
    ``.dvc/config`` there (a subrepo made by ``dvc init --subdir``), else the root."""
    from mvtools.dvcroots import deepest_project

    return deepest_project(path, lambda d: reg.repo.show_blob(f"{commit}:{d}/.dvc/config") is not None)


def cache_dir(root: Path) -> Path:
    """A DVC project's local cache (``cache.dir`` of its config, else ``.dvc/cache``)."""
    from configparser import ConfigParser, Error

    cp = ConfigParser()
    try:
        cp.read([root / ".dvc" / "config", root / ".dvc" / "config.local"])
        d = cp.get("cache", "dir", fallback=None)
    except Error:
        d = None
    return (root / ".dvc" / d).resolve() if d else root / ".dvc" / "cache"


def cache_object(cache: Path, md5: str) -> Path | None:
    """The object ``md5`` names in a DVC cache (DVC 3's ``files/md5/`` layout, else DVC 2's)."""
    for p in (cache / "files" / "md5" / md5[:2] / md5[2:], cache / md5[:2] / md5[2:]):
        if p.is_file():
            return p
    return None


def read_artifact(reg: "Registry", name: str, commit: str, dvc_yamls: list[str]) -> Artifact:
    """What ``commit`` records about ``name``'s artifact (module docstring)."""
    from mvtools.verify import BadManifest, _cached_sha256

    src = Source(reg.repo, commit)
    declared = reg.config.models.get(name)
    if declared is not None and declared.source == CONFIG_FILE:
        path: str | None = declared.path
    else:
        _, path = _annotated_path(src, name)
        if path is None and declared is not None and not is_url(declared.path):
            path = declared.path
    art = Artifact(path=path)
    if path is None:
        art.why = "annotated without a path"
        return art
    if is_url(path):
        art.why = f"a remote path ({path.split('://')[0]}://), outside the repository"
        return art
    model = Model(name=name, path=path, metrics=declared.metrics if declared else [],
                  params=declared.params if declared else {})
    try:
        rec = find_record(reg.config, src, model, dvc_yamls)
    except ConfigError as exc:
        art.why = f"its DVC record is unreadable: {exc}"
        return art
    art.info = _describe(reg, model, src, rec)
    if rec is None or rec.kind == "git":
        art.sha256 = committed_sha256(reg.repo, commit, path)
        if art.sha256 is None:
            art.why = f"{path} is not in commit {commit[:12]}"
        else:
            art.size = _git_size(reg, commit, path)
        return art
    art.md5, art.size = rec.md5, rec.size
    art.project = dvc_project_of(reg, commit, rec.file or path)
    if rec.md5 is None:
        art.why = f"{rec.file} records no md5"
        return art
    try:
        art.sha256 = _cached_sha256(cache_dir(reg.root / art.project), rec.md5)
    except BadManifest as exc:  # imported with the md5 alone; record-sha256 checks what it fetches
        art.why = str(exc)
        return art
    if art.sha256 is None:
        art.why = "not in the local DVC cache"
    return art


def _git_size(reg: "Registry", commit: str, path: str) -> int:
    ids = reg.repo.blob_ids(commit, [path])
    return sum(len(reg.repo.show_blob(b) or b"") for b in ids.values())


def _describe(reg: "Registry", model: Model, src: Source, rec: Record | None) -> dict[str, Any]:
    """metrics, params and lineage as mvtools' registering reads them at the commit; a
    malformed file leaves them unknown (null), it does not stop the import. The environment
    files are the commit's; the platform and Python GTO's user trained with are unknown
    (null), never the importer's."""
    try:
        info = reg.describe(model, src, rec)  # no warnings: an imported tag's metrics may be unknown
        if isinstance(info.get("environment"), dict):
            info["environment"] = {**info["environment"], "platform": None, "python": None}
        return info
    except ConfigError:
        return {"metrics": None, "params": None, "lineage": None}
