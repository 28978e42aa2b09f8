"""mvtools.yaml and the model declarations of every dvc.yaml, read once per command.

mvtools.yaml is ours, so it is checked strictly and once, at load, against the typed schema
in :mod:`mvtools.settings`: an unknown key or a wrong type is one line, exit 2, naming the
file and the key. No other module sees the raw mapping; they get typed settings from
:class:`Config`. dvc.yaml belongs to DVC: its ``artifacts:`` are read as DVC reads them,
keys mvtools does not use are ignored.
"""

from __future__ import annotations

import dataclasses
import os
import posixpath
import re
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, Iterable

from mvtools.errors import ConfigError, NotFound, UsageError
from mvtools.settings import (CONFIG_FILE, DEFAULT_STAGES, CompareSettings, Environment, PolicySettings,
                              PushSettings, Settings, as_dict, parse_settings)
from mvtools.ledger import ledger_path
from mvtools.versioning import tag_name_of
from mvtools.yamlio import load_yaml, read_regular

BUMPS = ("major", "minor", "patch")

# GTO's grammar (gto/constants.py): a name, optionally prefixed "dir:" for dvc.yaml artifacts.
NAME_RE = re.compile(r"^[a-zA-Z0-9](?:[a-zA-Z0-9_/-]*[a-zA-Z0-9])?$")
MAX_NAME_PART = 200  # a ledger file name is the part + ".yaml"; file systems allow 255 bytes
DIRNAME_RE = re.compile(r"^[a-zA-Z0-9_./-]+$")


def validate_name(name: object, what: str = "model name") -> str:
    """Refuse anything GTO could not put in a tag (and anything unsafe in a path)."""
    if not isinstance(name, str) or not name:
        raise UsageError(f"invalid {what} {name!r}: must be a non-empty string")
    prefix, sep, base = name.rpartition(":")
    if sep:
        parts = prefix.split("/")
        if (not DIRNAME_RE.match(prefix) or any(p in ("", ".", "..") for p in parts)):
            raise UsageError(f"invalid {what} {name!r}: bad dvc.yaml folder {prefix!r}")
    if any(len(part.encode()) > MAX_NAME_PART for part in name.replace(":", "/").split("/")):
        raise UsageError(f"invalid {what} {name[:40]!r}...: at most {MAX_NAME_PART} bytes between '/' "
                         "(each part becomes a file name in the registry)")
    if not NAME_RE.match(base) or "//" in base:
        raise UsageError(
            f"invalid {what} {name!r}: use letters, digits, '-', '_' and '/', "
            "starting and ending with a letter or digit"
        )
    return name


def validate_stage(stage: object) -> str:
    if not isinstance(stage, str) or not NAME_RE.match(stage) or "//" in stage:
        raise UsageError(f"invalid stage name {stage!r}")
    return stage


def safe_relpath(root: Path, path: object, what: str = "path") -> str:
    """A repo-relative POSIX path that stays inside ``root`` (symlinks included)."""
    if not isinstance(path, str) or not path.strip():
        raise UsageError(f"invalid {what} {path!r}: must be a non-empty string")
    if "\0" in path or any(ord(c) < 32 for c in path):
        raise UsageError(f"invalid {what} {path!r}: control characters")
    if path.startswith("-"):
        raise UsageError(f"invalid {what} {path!r}: must not start with '-'")
    p = PurePosixPath(path.replace("\\", "/"))
    if p.is_absolute():
        raise UsageError(f"invalid {what} {path!r}: must be relative to the repository root")
    norm = posixpath.normpath(str(p))
    if norm == ".." or norm.startswith("../") or norm == ".":
        raise UsageError(f"invalid {what} {path!r}: outside the repository")
    real = (root / norm).resolve()
    try:
        real.relative_to(root.resolve())
    except ValueError:
        raise UsageError(f"invalid {what} {path!r}: leads outside the repository") from None
    return norm


@dataclass
class Model:
    """A declared model: its name, where it lives, what it is, and where DVC records it."""

    name: str
    path: str  # repo-relative, POSIX
    type: str = "model"
    description: str | None = None
    labels: list[str] = field(default_factory=list)
    metrics: list[str] = field(default_factory=list)
    params: dict[str, list[str] | None] = field(default_factory=dict)  # file -> keys (None: all)
    bump: str = "patch"
    source: str = CONFIG_FILE

    @property
    def tag_name(self) -> str:
        return tag_name_of(self.name)


@dataclass
class Config:
    """What mvtools.yaml and the dvc.yaml files declare, read once per command or hook."""

    root: Path
    scheme: str = "semver"
    registry_dir: str = "registry"
    stages: list[str] = field(default_factory=lambda: list(DEFAULT_STAGES))
    models: dict[str, Model] = field(default_factory=dict)
    compare: CompareSettings = field(default_factory=CompareSettings)
    policy: PolicySettings = field(default_factory=PolicySettings)
    environments: dict[str, Environment] = field(default_factory=dict)
    push: PushSettings = field(default_factory=PushSettings)
    promotes_from: dict[str, str] = field(default_factory=dict)
    git_model_warn_mib: float = 100.0
    environment_files: list[str] = field(default_factory=list)
    exists: bool = False
    # name-only models: entries of mvtools.yaml (index, set keys), applied to dvc.yaml models
    overrides: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    entry_index: dict[str, int] = field(default_factory=dict)  # model -> its models[i] in mvtools.yaml
    # the work-tree files the declarations were read from (mvtools.yaml, dvc.yaml files and
    # the vars/params files they interpolate): the shell hooks' watch data holds while none changed
    sources: list[str] = field(default_factory=list)

    def model(self, name: str) -> Model:
        validate_name(name)
        try:
            return self.models[name]
        except KeyError:
            known = ", ".join(sorted(self.models)) or "none declared"
            raise NotFound(f"unknown model {name!r} (models: {known})") from None

    def ledger_path(self, model: Model | str) -> str:
        return ledger_path(self.registry_dir, model.name if isinstance(model, Model) else model)

    def watched_paths(self) -> list[str]:
        """What the hooks must look at: model paths and the files that describe them."""
        return sorted({m.path for m in self.models.values()})


def _str_list(value: Any, where: str) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return list(value)
    raise ConfigError(f"{where}: expected a string or a list of strings")


def _params_spec(root: Path, value: Any, where: str, base: str = "") -> dict[str, list[str] | None]:
    """params as DVC writes them: a list of keys of params.yaml, or {file: [keys] | null}."""
    spec: dict[str, list[str] | None] = {}
    if value is None:
        return spec
    items = value if isinstance(value, list) else [value]
    for item in items:
        if isinstance(item, str):
            if item.endswith((".yaml", ".yml", ".json", ".toml", ".py")) and "." in item:
                spec[safe_relpath(root, posixpath.join(base, item), f"{where} params file")] = None
            else:
                keys = spec.setdefault(posixpath.join(base, "params.yaml").lstrip("/"), [])
                if keys is not None:  # None: an earlier entry took the whole file (was an AttributeError)
                    keys.append(item)
        elif isinstance(item, dict):
            for f, keys in item.items():
                if not isinstance(f, str):
                    raise ConfigError(f"{where}: params file names must be strings")
                fpath = safe_relpath(root, posixpath.join(base, f), f"{where} params file")
                spec[fpath] = None if keys is None else _str_list(keys, where)
        else:
            raise ConfigError(f"{where}: params must be keys or {{file: [keys]}}")
    return spec


def _model_from(root: Path, entry: Any, where: str, *, name: str | None = None, base: str = "",
                source: str = CONFIG_FILE, resolved: bool = False) -> Model:
    """A model from a declaration; ``base``: the folder its relative paths start from
    (``resolved``: its path is repo-relative already, as the dvc.yaml reader gives it)."""
    if not isinstance(entry, dict):
        raise ConfigError(f"{where}: each model must be a mapping")
    name = name if name is not None else entry.get("name")
    try:
        validate_name(name)
    except UsageError as exc:
        raise ConfigError(f"{where}: {exc.message}") from None
    assert isinstance(name, str)
    path = entry.get("path")
    if not isinstance(path, str):
        raise ConfigError(f"{where}: model {name!r} needs a 'path' string")
    try:  # a remote location (GTO's `path: s3://...`) is kept as written, never normalised to s3:/
        rel = path if "://" in path else safe_relpath(
            root, posixpath.join(base, path) if base and not resolved else path, f"path of {name!r}")
    except UsageError as exc:
        raise ConfigError(f"{where}: {exc.message}") from None
    bump = entry.get("bump", "patch")
    if bump not in BUMPS:
        raise ConfigError(f"{where}: bump of {name!r} must be one of {', '.join(BUMPS)}")
    mtype = entry.get("type", "model")
    desc = entry.get("description") or entry.get("desc")
    for key, val in (("type", mtype), ("description", desc)):
        if val is not None and not isinstance(val, str):
            raise ConfigError(f"{where}: {key} of {name!r} must be a string")
    metrics = [
        safe_relpath(root, posixpath.join(base, m) if base else m, f"metrics file of {name!r}")
        for m in _str_list(entry.get("metrics"), f"{where}: metrics of {name!r}")
    ]
    return Model(
        name=name, path=rel, type=mtype or "model", description=desc,
        labels=_str_list(entry.get("labels"), f"{where}: labels of {name!r}"),
        metrics=metrics,
        params=_params_spec(root, entry.get("params"), f"{where}: model {name!r}", base),
        bump=bump, source=source,
    )


DVC_YAML_SPECS = ("dvc.yaml", ":(glob)**/dvc.yaml")  # every dvc.yaml, as git pathspecs


def dvc_yaml_files(root: Path, *, staged_only: bool = False) -> list[str]:
    """Every dvc.yaml git knows of or could add (tracked, staged or untracked, not ignored)
    that the work tree holds. ``staged_only``: those of the index alone, what a commit can
    hold (the hooks' path: an index read, never a walk of the work tree for untracked files,
    whose cost grows with the repository, not the change)."""
    return dvc_yamls_in(root, ls_files(root, DVC_YAML_SPECS, others=not staged_only))


def dvc_yamls_in(root: Path, names: Iterable[str]) -> list[str]:
    """The dvc.yaml files among ``names`` (a listing) that the work tree holds."""
    return sorted(n for n in set(names) if posixpath.basename(n) == "dvc.yaml" and (root / n).is_file())


def ls_files(root: Path, specs: Iterable[str], *, others: bool = False) -> set[str]:
    """The index's paths matching pathspecs ``specs`` (magic on: ``:(glob)``), and with
    ``others`` the untracked, not ignored ones (a walk of the work tree), in one git call."""
    from mvtools.gitops import git

    walk = ["--others", "--exclude-standard"] if others else []
    # pathspec magic on even under `git --literal-pathspecs` (Magit sets GIT_LITERAL_PATHSPECS=1)
    proc = git(["ls-files", "-z", "--cached", *walk, "--", *specs], root,
               check=False, env={**os.environ, "GIT_LITERAL_PATHSPECS": "0"})
    return {p for p in proc.stdout.decode("utf-8", "surrogateescape").split("\0") if p}


def load_config(root: Path, *, with_dvc: bool = True, dvc_yamls: list[str] | None = None) -> Config:
    """Read mvtools.yaml (optional) and the ``artifacts:`` of every dvc.yaml (``dvc_yamls``:
    those the caller listed already, e.g. :func:`dvc_yaml_files` with ``staged_only``)."""
    cfg = Config(root=root)
    path = root / CONFIG_FILE
    if path.exists():
        raw = load_yaml(read_regular(path, CONFIG_FILE), CONFIG_FILE, max_bytes=4 * 1024 * 1024)
        cfg.exists = True
        cfg.sources.append(CONFIG_FILE)
        _apply(cfg, parse_settings(raw))
    if with_dvc:
        for rel in dvc_yaml_files(root) if dvc_yamls is None else dvc_yamls:
            cfg.sources.append(rel)
            _add_dvc_artifacts(cfg, rel)
        _add_gto_artifacts_yaml(cfg)
        _apply_overrides(cfg)
    return cfg


def _apply(cfg: Config, st: Settings) -> None:
    """Typed settings onto ``cfg``, with the checks that need the repository."""
    root = cfg.root
    cfg.scheme = st.scheme
    try:
        cfg.registry_dir = safe_relpath(root, st.registry_dir, "registry_dir")
        cfg.stages = [validate_stage(s) for s in st.stages]
        cfg.environment_files = [safe_relpath(root, p, "environment_files entry") for p in st.environment_files]
    except UsageError as exc:
        raise ConfigError(f"{CONFIG_FILE}: {exc.message}") from None
    cfg.compare, cfg.policy, cfg.push, cfg.promotes_from = st.compare, st.policy, st.push, st.promotes_from
    cfg.git_model_warn_mib = st.git_model_warn_mib
    cfg.environments = {name: env or Environment() for name, env in st.environments.items()}
    for name, env in cfg.environments.items():
        if env.template is not None:  # read at deploy time: it must stay inside the repository
            try:
                rel = safe_relpath(root, env.template, f"environments.{name}.template")
            except UsageError as exc:
                raise ConfigError(f"{CONFIG_FILE}: {exc.message}") from None
            cfg.environments[name] = dataclasses.replace(env, template=rel)
    seen: set[str] = set()
    for i, entry in enumerate(st.models or []):
        fields = {k: v for k, v in as_dict(entry).items() if v is not None}
        if fields["name"] in seen:
            raise ConfigError(f"{CONFIG_FILE}: model {fields['name']!r} declared twice")
        seen.add(fields["name"])
        if "path" not in fields:  # settings for a model a dvc.yaml declares: applied after them
            cfg.overrides.append((i, fields))
            continue
        m = _model_from(root, fields, f"{CONFIG_FILE}: models[{i}]")
        cfg.models[m.name] = m
        cfg.entry_index[m.name] = i


# the keys a name-only mvtools.yaml entry sets on a model declared in a dvc.yaml
_OVERRIDES = ("type", "description", "desc", "labels", "metrics", "params", "bump")


def _apply_overrides(cfg: Config) -> None:
    """Name-only mvtools.yaml entries onto the dvc.yaml models they name."""
    for i, fields in cfg.overrides:
        name = fields["name"]
        where = f"{CONFIG_FILE}: models[{i}]"
        base = cfg.models.get(name)
        if base is None or base.source == CONFIG_FILE:
            raise ConfigError(f"{where}: model {name!r} needs a 'path' (no dvc.yaml artifacts: or artifacts.yaml declares it)")
        merged: dict[str, Any] = {"path": base.path, "type": base.type, "description": base.description,
                                  "labels": base.labels, "bump": base.bump}
        if "desc" in fields:  # DVC's spelling overrides the declaration's description too
            merged.pop("description")
        merged.update({k: v for k, v in fields.items() if k in _OVERRIDES or k == "name"})
        m = _model_from(cfg.root, merged, where, source=base.source)
        if "metrics" not in fields:
            m.metrics = base.metrics
        if "params" not in fields:
            m.params = base.params
        cfg.models[name] = m


GTO_ARTIFACTS_YAML = "artifacts.yaml"


def _add_gto_artifacts_yaml(cfg: Config) -> None:
    """The models GTO < 1.0's root ``artifacts.yaml`` annotates (name -> {path, type}), as GTO
    still reads them; one declared in mvtools.yaml or a dvc.yaml keeps that declaration. A
    file of that name in another format is not GTO's: it declares nothing (GTO refuses it)."""
    path = cfg.root / GTO_ARTIFACTS_YAML
    if not path.is_file():
        return
    cfg.sources.append(GTO_ARTIFACTS_YAML)
    try:
        data = load_yaml(path.read_bytes(), GTO_ARTIFACTS_YAML)
    except ConfigError:
        return
    if not isinstance(data, dict) or not all(isinstance(e, dict) for e in data.values()):
        return
    for name, entry in data.items():
        if name in cfg.models or entry.get("type", "model") not in ("model", None) or "path" not in entry:
            continue
        cfg.models[name] = _model_from(cfg.root, {k: v for k, v in entry.items() if k in ("path", "type",
                                       "description", "labels")}, f"{GTO_ARTIFACTS_YAML}: {name}", name=name,
                                       source=GTO_ARTIFACTS_YAML)


def _add_dvc_artifacts(cfg: Config, rel: str) -> None:
    """The models a dvc.yaml's ``artifacts:`` declares, resolved as DVC resolves them (a
    ``${}`` path interpolated from its vars and params files)."""
    from mvtools.dvcyaml import read_worktree_dvcyaml

    data = load_yaml((cfg.root / rel).read_bytes(), rel)
    if not isinstance(data, dict) or not data.get("artifacts"):
        return
    if not isinstance(data["artifacts"], dict):
        raise ConfigError(f"{rel}: artifacts must be a mapping of name -> {{path, type, ...}}")
    for aname, entry in data["artifacts"].items():
        if not isinstance(aname, str):
            raise ConfigError(f"{rel}: artifact names must be strings")
        if not isinstance(entry, dict):
            raise ConfigError(f"{rel}: artifacts.{aname}: each model must be a mapping")
        if not isinstance(entry.get("path"), str):
            raise ConfigError(f"{rel}: artifacts.{aname}: model {aname!r} needs a 'path' string")
    doc = read_worktree_dvcyaml(cfg.root, rel, read_by=cfg.sources)
    for full, art in doc.artifacts.items():
        entry = art.spec
        if entry.get("type", "model") not in ("model", None):
            continue  # DVC artifacts of other types (datasets) are not versioned as models
        own = full if rel == "dvc.yaml" else full.partition(":")[2]
        if ":" in own:  # a root "sub:clf" would take the name of sub/dvc.yaml's clf
            raise ConfigError(f"{rel}: artifacts.{own}: invalid model name {own!r}: ':' separates a "
                              "dvc.yaml's folder from its artifact names")
        # the path is resolved and repo-relative already: no base to join
        m = _model_from(cfg.root, {**entry, "path": art.path}, f"{rel}: artifacts.{full.rpartition(':')[2]}",
                        name=full, base=posixpath.dirname(rel), source=rel, resolved=True)
        meta = entry.get("meta")
        if isinstance(meta, dict) and meta.get("bump") in BUMPS:
            m.bump = meta["bump"]
        if full in cfg.models:
            existing = cfg.models[full]
            if existing.path != m.path:
                idx = cfg.entry_index.get(full, 0)
                raise ConfigError(
                    f"{existing.source}: models[{idx}].path: model {full!r} is declared in {rel} artifacts "
                    f"with path {m.path}, not {existing.path} (give only its name here, or the same path)")
            continue
        cfg.models[full] = m
