"""Where a model's bytes are recorded (a .dvc file, a dvc.lock output, or git itself) and
what describes it (metrics, params, the lineage snapshot from dvc.lock).

Everything is read from a *source*: a commit, the index (``None``) or the work tree, so the
pre-commit hook sees the model exactly as it will be committed.
"""

from __future__ import annotations

import shlex

import posixpath
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Iterator

from mvtools.config import Config, Model
from mvtools.errors import ConfigError
from mvtools.gitops import Repo
from mvtools.paramsfile import load_params
from mvtools.yamlio import load_yaml

if TYPE_CHECKING:  # read_dvcyaml is imported where a dvc.yaml is read: not every hook reads one
    from mvtools.dvcyaml import DvcYaml

WORKTREE = "worktree"
INDEX = ":"


class Source:
    """Reads repo files from a commit, the index or the work tree, memoised per command."""

    def __init__(self, repo: Repo, rev: str | None, *, staged: tuple[str, set[str]] | None = None) -> None:
        self.repo = repo
        self.rev = rev  # commit id, INDEX, or WORKTREE
        self._cache: dict[str, bytes | None] = {}
        # the index as (base, the paths staged against it): any other path is as base has it,
        # read from the commit (git then reads no index: 10-20 ms each in a repository of
        # 100,000 files)
        self._staged = staged
        # paths of this source that match a set of glob patterns, listed by the caller already
        # (the hook lists the top-level environment files with the dvc.yaml files)
        self.listed: dict[tuple[str, ...], list[str]] = {}
        self._yaml: dict[str, Any] = {}
        self._dvcyaml: dict[str, DvcYaml | None] = {}

    def spec(self, rel: str) -> str | None:
        """The object name ``git cat-file`` reads ``rel`` of this source by (None: not a
        git source)."""
        if self.rev in (None, WORKTREE):
            return None
        if self.rev == INDEX:
            if self._staged is not None and rel not in self._staged[1]:
                return f"{self._staged[0]}:{rel}"
            return ":" + rel
        return f"{self.rev}:{rel}"

    def read(self, rel: str) -> bytes | None:
        if rel not in self._cache:
            spec = self.spec(rel)
            if self.rev == WORKTREE:
                try:
                    self._cache[rel] = (self.repo.root / rel).read_bytes()
                except OSError:
                    self._cache[rel] = None
            else:
                self._cache[rel] = None if spec is None else self.repo.show_blob(spec)
        return self._cache[rel]

    def preload(self, rels: list[str]) -> None:
        """Read ``rels`` (of a commit or the index) in one ``git cat-file --batch``, not a
        process per file; :meth:`read` then answers from memory."""
        preload([(self, rel) for rel in rels])

    def yaml(self, rel: str) -> Any:
        if rel not in self._yaml:
            data = self.read(rel)
            self._yaml[rel] = None if data is None else load_yaml(data, rel)
        return self._yaml[rel]

    def dvcyaml(self, rel: str) -> DvcYaml | None:
        """dvc.yaml ``rel`` as DVC resolves it (its vars files read from this source too);
        None when the source has no such file."""
        if rel not in self._dvcyaml:
            from mvtools.dvcyaml import read_dvcyaml

            self._dvcyaml[rel] = None if self.read(rel) is None else read_dvcyaml(rel, self.read)
        return self._dvcyaml[rel]


def preload(wanted: list[tuple[Source, str]]) -> None:
    """Read each (source, path) of ``wanted`` in one ``git cat-file --batch`` for them all."""
    specs: dict[tuple[int, str], str] = {}
    bulk = wanted[0][0].repo.bulk if wanted else None
    for src, rel in wanted:
        spec = src.spec(rel)
        # (cat-file reads names by line, and resolves "." and ".." against the working directory)
        if rel not in src._cache and spec is not None and "\n" not in spec and "\r" not in spec \
                and "." not in rel.split("/") and ".." not in rel.split("/"):
            if bulk is not None and not spec.startswith(":") and bulk.usable(spec):
                continue  # a persistent reader is open (import-gto, sync-tags): read() asks it, no new process
            specs[(id(src), rel)] = spec
    if len(set(specs.values())) < 2:
        return  # one file: read() takes it as it always did
    got = wanted[0][0].repo.read_blobs(specs.values())
    for src, rel in wanted:
        if (id(src), rel) in specs:
            src._cache[rel] = got.get(specs[(id(src), rel)])


@dataclass
class Record:
    """What DVC (or git) records for a model in one source."""

    kind: str  # "dvcfile", "dvclock" or "git"
    file: str | None = None  # the .dvc file or dvc.lock holding the record
    stage: str | None = None  # dvc.yaml stage name (dvclock)
    dvc_yaml: str | None = None
    md5: str | None = None
    hash_name: str | None = None  # "md5" (DVC 3) or "md5-dos2unix" (DVC 2 era)
    size: int | None = None
    deps: dict[str, str | None] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)
    project: str = ""  # the DVC subrepo holding the model ("" for the top project): DVC runs there

    def key(self) -> tuple[Any, ...]:
        return (self.kind, self.md5, self.size)


def _out_hash(entry: dict[str, Any]) -> tuple[str | None, str | None, int | None]:
    md5 = entry.get("md5")
    name = entry.get("hash")
    if md5 is not None and name is None:
        name = "md5-dos2unix"  # DVC 2 wrote no "hash:" field
    size = entry.get("size")
    return (str(md5) if md5 is not None else None, name, size if isinstance(size, int) else None)


def _norm(base: str, p: str) -> str:
    n = posixpath.normpath(posixpath.join(base, str(p)))
    return "" if n == "." else n


def locked_stages(src: Source, dvc_yamls: list[str]) -> Iterator[tuple[str, str, str, dict[str, Any], str]]:
    """Every stage each ``dvc.lock`` beside ``dvc_yamls`` records: (dvc.yaml, dvc.lock,
    stage name, its lock entry, its working directory as DVC resolves it, repo-relative)."""
    locks = [posixpath.join(posixpath.dirname(dy), "dvc.lock") for dy in dvc_yamls]
    src.preload([*locks, *dvc_yamls])  # all in one git process, not one per file
    for dy, lock in zip(dvc_yamls, locks):
        base = posixpath.dirname(dy)
        ldata = src.yaml(lock)
        if not isinstance(ldata, dict) or not isinstance(ldata.get("stages"), dict):
            continue
        wdirs = stage_wdirs(src, dy)
        for name, st in ldata["stages"].items():
            if isinstance(st, dict):
                yield dy, lock, str(name), st, wdirs.get(str(name), base)


def stage_wdirs(src: Source, dvc_yaml: str) -> dict[str, str]:
    """Each stage's working directory (repo-relative, "" for the root) as DVC resolves it."""
    doc = src.dvcyaml(dvc_yaml)
    return {} if doc is None else {name: st.wdir for name, st in doc.stages.items()}


def _list_of(value: Any, where: str) -> list[Any]:
    """A list field of a DVC file as DVC's schema has it; anything else is one exit-2 line
    naming the file and key, as DVC itself refuses it."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise ConfigError(f"{where}: expected a list, got {type(value).__name__}")
    return value


def find_record(cfg: Config, src: Source, model: Model, dvc_yamls: list[str]) -> Record | None:
    """The record of ``model`` in ``src``; None when the source does not hold it at all."""
    dvcfile = model.path + ".dvc"
    data = src.yaml(dvcfile)
    if isinstance(data, dict):
        outs = data.get("outs")
        if not isinstance(outs, list) or not outs or not isinstance(outs[0], dict):
            raise ConfigError(f"{dvcfile}: no outs entry")
        md5, name, size = _out_hash(outs[0])
        deps = {}
        for d in _list_of(data.get("deps"), f"{dvcfile}: deps"):
            if isinstance(d, dict) and "path" in d:
                deps[str(d["path"])] = d.get("md5") or d.get("etag") or d.get("checksum")
        return Record("dvcfile", file=dvcfile, md5=md5, hash_name=name, size=size, deps=deps,
                      project=_project(cfg, model.path))
    for dy, lock, sname, st, wd in locked_stages(src, dvc_yamls):
        where = f"{lock}: stages.{sname}"
        for out in _list_of(st.get("outs"), f"{where}.outs"):
            if isinstance(out, dict) and isinstance(out.get("path"), str) and _norm(wd, out["path"]) == model.path:
                md5, name, size = _out_hash(out)
                deps = {
                    _norm(wd, d["path"]): (str(d.get("md5")) if d.get("md5") is not None else None)
                    for d in _list_of(st.get("deps"), f"{where}.deps")
                    if isinstance(d, dict) and isinstance(d.get("path"), str)
                }
                params: dict[str, Any] = {}
                lock_params = st.get("params") or {}
                if not isinstance(lock_params, dict):
                    raise ConfigError(f"{where}.params: expected a mapping, got {type(lock_params).__name__}")
                for pfile, values in lock_params.items():
                    if isinstance(values, dict):
                        params[_norm(wd, pfile)] = values
                return Record("dvclock", file=lock, stage=str(sname), dvc_yaml=dy, md5=md5,
                              hash_name=name, size=size, deps=deps, params=params,
                              project=_project(cfg, model.path))
    return None


def _project(cfg: Config, path: str) -> str:
    """The DVC subrepo holding ``path`` (mvtools.dvcroots; a few stat calls)."""
    from mvtools.dvcroots import project_at

    return project_at(cfg.root, path)


def _flat(data: Any) -> dict[str, Any]:
    res: dict[str, Any] = {}

    def walk(v: Any, key: str) -> None:
        if isinstance(v, dict):
            for k, sub in v.items():
                walk(sub, f"{key}.{k}" if key else str(k))
        elif isinstance(v, (int, float, str, bool)) or v is None:
            res[key] = v
        elif isinstance(v, list) and all(isinstance(x, (int, float, str, bool)) for x in v):
            res[key] = list(v)

    walk(data, "")
    return res


def _load_structured(data: bytes, rel: str) -> Any:
    return load_params(data, rel)


def read_metrics(src_read: Callable[[str], bytes | None], files: list[str]) -> dict[str, Any]:
    res: dict[str, Any] = {}
    for rel in files:
        data = src_read(rel)
        if data is None:
            continue
        flat = _flat(_load_structured(data, rel))
        res.update({k: v for k, v in flat.items() if isinstance(v, (int, float)) or v is None})
    return res


def read_params(src_read: Callable[[str], bytes | None], spec: dict[str, list[str] | None]) -> dict[str, Any]:
    res: dict[str, Any] = {}
    for rel, keys in spec.items():
        data = src_read(rel)
        if data is None:
            continue
        flat = _flat(_load_structured(data, rel))
        prefix = "" if posixpath.basename(rel) == "params.yaml" and "/" not in rel else f"{rel}:"
        if keys is None:
            res.update({prefix + k: v for k, v in flat.items()})
        else:
            for k in keys:
                hits = {fk: fv for fk, fv in flat.items() if fk == k or fk.startswith(k + ".")}
                res.update({prefix + fk: fv for fk, fv in hits.items()})
    return res


def stage_metrics_files(src: Source, rec: Record | None, model: Model) -> list[str]:
    """A model's metrics files from the pipeline that makes it: its producing stage's metrics
    outputs, those of every stage downstream of it in that dvc.yaml and the file's top-level
    ``metrics:``; a model declared in a dvc.yaml's ``artifacts:`` but recorded elsewhere (a
    .dvc file, git: DVCLive's layout) gets that dvc.yaml's top-level ``metrics:``."""
    files: list[str] = []
    if rec is not None and rec.kind == "dvclock" and rec.dvc_yaml is not None and rec.stage is not None:
        doc = src.dvcyaml(rec.dvc_yaml)
        if doc is not None and rec.stage in doc.stages:
            files.extend(doc.metrics_of(rec.stage))
        elif doc is not None:
            files.extend(doc.metrics)
    if model.source.endswith("dvc.yaml") and model.source != (rec.dvc_yaml if rec else None):
        doc = src.dvcyaml(model.source)
        if doc is not None:
            files.extend(doc.metrics)
    return list(dict.fromkeys(files))


def flatten_lock_params(params: dict[str, Any]) -> dict[str, Any]:
    res: dict[str, Any] = {}
    for rel, values in params.items():
        prefix = "" if rel == "params.yaml" else f"{rel}:"
        for k, v in _flat(values).items():
            res[prefix + k] = v
    return res


def dvc_target(rec: Record, model: Model) -> str:
    """What DVC commands take to act on the model's record: its .dvc file or its stage,
    relative to the DVC project holding it (a subrepo's commands run in the subrepo)."""
    def rel(p: str) -> str:
        return posixpath.relpath(p, rec.project) if rec.project else p

    if rec.kind == "dvcfile":
        return shlex.quote(rel(rec.file or model.path + ".dvc"))
    top = posixpath.join(rec.project, "dvc.yaml") if rec.project else "dvc.yaml"
    return shlex.quote(str(rec.stage) if rec.dvc_yaml == top else f"{rel(str(rec.dvc_yaml))}:{rec.stage}")


def _in_project(rec: Record, command: str) -> str:
    return f"cd {shlex.quote(rec.project)} && {command}" if rec.project and rec.kind != "git" else command


def dvc_fix_command(rec: Record, model: Model, *, known: bool, recorded_cached: bool) -> str:
    """The repair when the work tree's bytes are not what ``rec`` records. ``known``: DVC
    checked those bytes out before (they are in its cache), so the record moved (a pull, a
    merge) and the recorded bytes must be fetched; else the bytes are new and DVC must
    record them (or the recorded ones be restored over them, which needs --force)."""
    if rec.kind == "git":
        return f"git add {shlex.quote(model.path)}"
    target = dvc_target(rec, model)
    if known:
        return _in_project(rec, f"dvc checkout {target}" if recorded_cached else f"dvc pull {target}")
    if rec.kind == "dvcfile":
        path = posixpath.relpath(model.path, rec.project) if rec.project else model.path
        return _in_project(rec, f"dvc add {shlex.quote(path)}")
    return _in_project(rec, f"dvc commit --force {target}  (or: dvc checkout --force {target} to restore the "
                            "recorded version)")


def dvc_fetch_command(rec: Record, model: Model, *, recorded_cached: bool) -> str:
    """The repair when the model DVC records is not in the work tree at all (a fresh clone,
    a pull that brought a new version)."""
    return _in_project(rec, f"dvc {'checkout' if recorded_cached else 'pull'} {dvc_target(rec, model)}")
