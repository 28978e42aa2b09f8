"""`mvtools import-gto`: turn a GTO-tagged repository's tags into ledger events.

Every ``NAME@vX.Y.Z`` tag becomes a ``register`` event (its bytes are read through DVC at
the tagged commit and hashed), ``NAME#STAGE#N`` a ``promote``, ``NAME#STAGE!#N`` a
``rollback`` when it unassigns the stage's current holder, ``NAME@vX.Y.Z!`` an ``archive``
and ``NAME@deprecated`` a ``deprecate``, in GTO's order (tag time, then counter), with the
tagger as actor. The tags stay as they are: they are already in mvtools' grammar. Models
already in the ledger only gain the version tags no ledger records (``gto register`` run
beside mvtools), so running it twice changes nothing.
"""

from __future__ import annotations

import posixpath
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Tuple

from mvtools import ledger as L
from mvtools.errors import CheckFailed, ConfigError
from mvtools.hashing import sha256_of, tree_sha256
from mvtools.versioning import ParsedTag, parse_tag
from mvtools.yamlio import load_yaml

if TYPE_CHECKING:
    from mvtools.registry import Registry


def _artifact_path(reg: "Registry", name: str, commit: str) -> str | None:
    if name in reg.config.models:
        return reg.config.models[name].path
    base, _, art = name.rpartition(":")
    dvc_yaml = posixpath.join(base, "dvc.yaml") if base else "dvc.yaml"
    for rel in (dvc_yaml, "artifacts.yaml"):
        data = reg.repo.show_blob(f"{commit}:{rel}")
        if data is None:
            continue
        if rel == dvc_yaml:  # the one dvc.yaml reader: ${} paths resolved from that commit's vars
            from mvtools.artifacts import Source
            from mvtools.dvcyaml import read_dvcyaml

            try:
                found = read_dvcyaml(rel, Source(reg.repo, commit).read).artifacts.get(name)
            except ConfigError:  # an old commit's dvc.yaml today's DVC schema refuses: its raw entry
                found = None
            if found is not None:
                return found.path
        doc = load_yaml(data, f"{commit[:12]}:{rel}")
        arts = doc.get("artifacts") if rel == dvc_yaml and isinstance(doc, dict) else doc
        entry = arts.get(art if rel == dvc_yaml else name) if isinstance(arts, dict) else None
        if isinstance(entry, dict) and isinstance(entry.get("path"), str):
            return posixpath.normpath(posixpath.join(base, entry["path"]) if rel == dvc_yaml else entry["path"])
    return None


def _dvc_md5(reg: "Registry", name: str, path: str, commit: str) -> str | None:
    """DVC's md5 for the artifact at ``commit`` (None when git tracks it directly)."""
    from mvtools.artifacts import Source, find_record
    from mvtools.config import Model

    model = reg.config.models.get(name) or Model(name=name, path=path)
    dvcy = [p for p in reg.repo.out("ls-tree", "-r", "--name-only", commit).splitlines()
            if p == "dvc.yaml" or p.endswith("/dvc.yaml")]
    rec = find_record(reg.config, Source(reg.repo, commit), model, dvcy)
    return rec.md5 if rec is not None and rec.kind != "git" else None


def _hash_at(reg: "Registry", path: str, commit: str) -> tuple[str, int]:
    from dvc.fs import DVCFileSystem

    fs = DVCFileSystem(repo=str(reg.root), rev=commit)
    if not fs.exists(path):
        raise CheckFailed(f"{path} is not in commit {commit[:12]}")
    if fs.isdir(path):
        files, total = [], 0
        for f in fs.find(path):
            with fs.open(f, "rb") as fh:
                sha, size = sha256_of(fh.read)
            files.append((posixpath.relpath(f, path), sha))
            total += size
        return tree_sha256(files), total
    with fs.open(path, "rb") as fh:
        return sha256_of(fh.read)


def _unrecorded_version(reg: "Registry", versions: dict[str, Any], pt: Any, commit: str) -> bool:
    """A version tag that neither this ledger nor its own commit's ledger records."""
    if pt.kind != "version" or pt.version in versions:
        return False
    held = reg.ledger_at(commit, pt.model)
    return not any(e["event"] == "register" and e["version"] == pt.version for e in (held.events if held else []))


Row = Tuple[int, int, str, ParsedTag, str, str]  # (time, counter, tag, parsed, commit, actor)


def _gto_rows(reg: "Registry") -> list[Row]:
    """Every registry tag, in GTO's order (time, counter, name)."""
    fmt = "%(refname:strip=2)%00%(*objectname)%00%(objectname)%00%(taggername)%00%(taggeremail)%00%(creatordate:unix)"
    rows = []
    for line in reg.repo.out("for-each-ref", f"--format={fmt}", "refs/tags").splitlines():
        tag, peeled, obj, tname, temail, unix = line.split("\0")
        pt = parse_tag(tag)
        if pt is not None:
            rows.append((int(unix or 0), pt.counter or 0, tag, pt, peeled or obj,
                         f"{tname} {temail}".strip() or "unknown"))
    rows.sort(key=lambda r: (r[0], r[1], r[2]))
    return rows


def _version_on(reg: "Registry", evs: list[dict[str, Any]], commit: str) -> str | None:
    """The version an imported register event put on ``commit`` (GTO's stage tags name a commit)."""
    return next((e["version"] for e in evs if e["event"] == "register"
                 and reg.repo.tags(e["tag"]).get(e["tag"], ("",))[0] == commit), None)


def _event_of(reg: "Registry", row: Row, evs: list[dict[str, Any]],
              stacks: dict[tuple[str, str], list[str]]) -> dict[str, Any] | None:
    """The ledger event one GTO tag stands for (None: nothing to record)."""
    when, _c, tag, pt, commit, actor = row
    ts = datetime.fromtimestamp(when, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    if pt.kind == "version":
        path = _artifact_path(reg, pt.model, commit)
        if path is None:
            raise CheckFailed(f"{tag}: cannot find the artifact's path (declare {pt.model} in mvtools.yaml)")
        sha, size = _hash_at(reg, path, commit)
        md5 = _dvc_md5(reg, pt.model, path, commit)
        return L.make_event("register", pt.model, actor, ts, version=pt.version, tag=tag, path=path,
                            sha256=sha, size=size, md5=md5, metrics=None, params=None, lineage=None,
                            imported_from="gto")
    if pt.kind == "stage":
        ver = _version_on(reg, evs, commit)
        if ver is None:
            return None
        stacks.setdefault((pt.model, pt.stage or ""), []).append(ver)
        return L.make_event("promote", pt.model, actor, ts, version=ver, stage=pt.stage, tag=tag,
                            imported_from="gto")
    if pt.kind == "unassign":
        stack = stacks.get((pt.model, pt.stage or ""), [])
        ver = _version_on(reg, evs, commit)
        if ver is None or ver not in stack:
            return None
        if stack[-1] == ver:  # the holder leaves: mvtools' rollback (to the earlier holder, or none)
            stack.pop()
            return L.make_event("rollback", pt.model, actor, ts, stage=pt.stage,
                                version=stack[-1] if stack else None, previous=ver, tag=tag, imported_from="gto")
        stack[:] = [v for v in stack if v != ver]  # an earlier holder is withdrawn: the holder stays
        return L.make_event("rollback", pt.model, actor, ts, stage=pt.stage, version=stack[-1],
                            previous=ver, withdrawn=True, tag=tag, imported_from="gto")
    if pt.kind == "archive":
        return L.make_event("archive", pt.model, actor, ts, version=pt.version, tag=tag, imported_from="gto")
    if pt.kind == "deprecated":
        return L.make_event("deprecate", pt.model, actor, ts, tag=tag, imported_from="gto")
    return None


def import_gto(reg: "Registry") -> dict[str, Any]:
    reg.repo.require_no_operation()
    existing = {n: st for n, st in reg.states().items() if st.events}
    per_model: dict[str, list[dict[str, Any]]] = {}
    stacks: dict[tuple[str, str], list[str]] = {}
    for row in _gto_rows(reg):
        pt, commit = row[3], row[4]
        if pt.model in existing and not _unrecorded_version(reg, existing[pt.model].versions, pt, commit):
            continue  # a model mvtools tracks: only its version tags no ledger records (gto register)
        evs = per_model.setdefault(pt.model, [])
        ev = _event_of(reg, row, evs, stacks)
        if ev is not None:
            evs.append(ev)
    per_model = {k: v for k, v in per_model.items() if v}
    if not per_model:
        return {"imported": {}, "commit": None}
    with reg.transaction() as txn:
        head = txn.commit(per_model, "Import the GTO registry into the mvtools ledger")
    return {"imported": {k: len(v) for k, v in per_model.items()}, "commit": head}
