"""The registry: current state folded from the ledger, and the operations on it.

``Registry(path)`` is the Python API; the CLI is a thin view of it. State is loaded once
per command (ledger files read through a blob-id keyed cache) and passed along.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mvtools import ledger as L
from mvtools.artifacts import (WORKTREE, Record, Source, dvc_fix_command, find_record,
                               flatten_lock_params, read_metrics, read_params, stage_metrics_files)
from mvtools.config import Config, Model, load_config, dvc_yaml_files
from mvtools.errors import CheckFailed, ConfigError, NotFound, UsageError
from mvtools.gitops import Repo
from mvtools.hashing import Digest, StatCache, digest_path
from mvtools.transaction import committing_here
from mvtools.versioning import (Version, archive_message, assign_message, deprecate_message,
                                deprecated_tag, is_model_tag, model_tag_pattern, next_counter, next_semver,
                                parse_tag, register_message, stage_tag, timestamp_version, unassign_message,
                                utc_now, version_tag)

if TYPE_CHECKING:
    from mvtools.transaction import Transaction

@dataclass
class ModelState:
    name: str
    versions: dict[str, dict[str, Any]] = field(default_factory=dict)  # version -> register event
    archived: set[str] = field(default_factory=set)
    stages: dict[str, list[str]] = field(default_factory=dict)  # stage -> stack of versions
    deprecated: bool = False
    events: list[dict[str, Any]] = field(default_factory=list)

    @property
    def latest(self) -> str | None:
        """The highest live version: semver precedence; timestamp versions by time, then by
        registration order (two registered in the same second)."""
        order = {v: i for i, v in enumerate(self.versions)}
        live = [v for v in self.versions if v not in self.archived]
        return max(live, key=lambda v: (Version(v)._key(), order[v])) if live else None

    def stage_holders(self) -> dict[str, str]:
        """Each stage's current holder; as in GTO, an archived version holds no stage."""
        out = {}
        for s, stack in self.stages.items():
            live = [v for v in stack if v not in self.archived]
            if live:
                out[s] = live[-1]
        return out


def fold(name: str, events: list[dict[str, Any]]) -> ModelState:
    st = ModelState(name=name, events=events)
    for ev in events:
        kind = ev["event"]
        ver = ev.get("version")
        if kind == "register" and isinstance(ver, str):
            st.versions.setdefault(ver, ev)
        elif kind == "archive" and isinstance(ver, str):
            st.archived.add(ver)
            for stack in st.stages.values():  # as GTO: an archived version holds no stage
                stack[:] = [v for v in stack if v != ver]
        elif kind == "deprecate":
            st.deprecated = True
        elif kind == "promote" and isinstance(ver, str) and isinstance(ev.get("stage"), str):
            st.stages.setdefault(ev["stage"], []).append(ver)
        elif kind == "rollback" and isinstance(ev.get("stage"), str):
            stack = st.stages.get(ev["stage"], [])
            if ev.get("withdrawn"):  # an earlier holder withdrawn (GTO unassign); the holder stays
                stack[:] = [v for v in stack if v != ev.get("previous")]
            elif stack:
                stack.pop()
    return st


class Registry:
    """A model registry in the git work tree at ``path``."""

    def __init__(self, path: str | Path = ".", *, repo: Repo | None = None, config: Config | None = None) -> None:
        self.repo = repo or Repo.discover(path)
        self.root = self.repo.root
        self.config = config or load_config(self.root)
        self.cache = L.LedgerCache(self.repo.ledger_cache_dir)
        self._states: dict[str, ModelState] | None = None

    # -- reading ------------------------------------------------------------------
    def ledger_file(self, name: str) -> Path:
        return self.root / self.config.ledger_path(name)

    def load_ledger(self, name: str) -> L.Ledger:
        p = self.ledger_file(name)
        try:
            data = p.read_bytes()
        except FileNotFoundError:
            return L.Ledger(name)
        except OSError as exc:
            raise ConfigError(f"{self.config.ledger_path(name)}: cannot read: {exc.strerror}") from None
        return self.cache.load(data, self.config.ledger_path(name), name)

    def states(self) -> dict[str, ModelState]:
        """Every model's state: declared models plus any model with a ledger file."""
        if self._states is None:
            regdir = self.config.registry_dir
            names = set(self.config.models)
            names.update(L.model_of_ledger(regdir, rel) for rel in L.ledger_files(self.root, regdir))
            self._states = {n: fold(n, self.load_ledger(n).events) for n in sorted(names)}
        return self._states

    def state(self, name: str, *, new_ok: bool = False) -> ModelState:
        """One model's state; reads only its own ledger unless all are loaded already.
        An unknown model is NotFound, or an empty state with ``new_ok`` (registering it)."""
        if self._states is not None and name in self._states:
            return self._states[name]
        if name not in self.config.models and not self.ledger_file(name).exists():
            if new_ok:
                return ModelState(name)
            self.config.model(name)  # raises NotFound with the known names
        return fold(name, self.load_ledger(name).events)

    def show(self, name: str | None = None, *, include_deprecated: bool = False) -> dict[str, Any]:
        states = self.states()
        if name is not None:
            if name not in states:
                self.config.model(name)
            sel = [states[name]]
        else:
            sel = [s for s in states.values() if include_deprecated or not s.deprecated]
        return {"models": [
            {"name": s.name, "latest": s.latest, "versions": len(s.versions),
             "stages": s.stage_holders(), "deprecated": s.deprecated,
             "path": self.config.models[s.name].path if s.name in self.config.models else
             (next(iter(s.versions.values()))["path"] if s.versions else None)}
            for s in sel
        ]}

    def history(self, name: str) -> dict[str, Any]:
        st = self.state(name)
        tags = self.repo.tags(model_tag_pattern(name))
        events = []
        for ev in st.events:
            row = {k: ev.get(k) for k in ("event", "version", "tag", "stage", "sha256", "size", "md5",
                                          "timestamp", "actor", "metrics", "params")}
            row.update({k: v for k, v in ev.items() if k not in row})
            t = ev.get("tag")
            row["commit"] = tags[t][0] if isinstance(t, str) and t in tags else None
            events.append(row)
        return {"model": name, "events": events}

    def taken_versions(self, name: str, extra_events: list[dict[str, Any]] | None = None) -> set[Version]:
        st = self.state(name, new_ok=True)
        vs = {Version(v) for v in st.versions}
        for ev in extra_events or []:
            if ev.get("event") == "register":
                vs.add(Version(ev["version"]))
        for tag in self.repo.tags(model_tag_pattern(name, versions_only=True)):
            p = parse_tag(tag)
            if p and p.version and p.model == name:
                vs.add(Version(p.version))
        from mvtools.transaction import live_reservations

        vs.update(Version(r["version"]) for r in live_reservations(self.repo, name)
                  if isinstance(r.get("version"), str))
        return vs

    # -- registering ----------------------------------------------------------------
    def describe(self, model: Model, src: Source, rec: Record | None) -> dict[str, Any]:
        """metrics, params and lineage of ``model`` as ``src`` holds them."""
        read = src.read
        metric_files = model.metrics or (stage_metrics_files(src, rec) if rec else [])
        metrics = read_metrics(read, metric_files)
        if model.params:
            params = read_params(read, model.params)
        elif rec is not None and rec.params:
            params = flatten_lock_params(rec.params)
        else:
            params = {}
        lineage = None
        if rec is not None and rec.kind == "dvclock":
            lineage = {"stage": rec.stage, "dvc_yaml": rec.dvc_yaml, "deps": dict(sorted(rec.deps.items())),
                       "params": rec.params}
        elif rec is not None and rec.deps:
            lineage = {"stage": rec.file, "deps": rec.deps, "params": {}}
        return {"metrics": metrics or None, "params": params or None, "lineage": lineage}

    def digest(self, model: Model, rec: Record | None) -> Digest:
        cache = StatCache(self.repo.stat_cache_path)
        legacy = rec is not None and rec.hash_name == "md5-dos2unix"
        try:
            d = digest_path(self.root, model.path, cache=cache, dos2unix=legacy)
        finally:
            cache.save()
        if rec is not None and rec.kind != "git" and rec.md5 is not None:
            got = d.md5_dos2unix if legacy and d.md5_dos2unix else d.md5
            if got != rec.md5:
                raise CheckFailed(
                    f"model {model.name}: {model.path} in the work tree does not match what "
                    f"{rec.file} records; run: {dvc_fix_command(rec, model)}")
        return d

    def new_event(self, model: Model, d: Digest, rec: Record | None, src: Source, *,
                  version: str | None = None, bump: str | None = None, message: str | None = None,
                  pending: list[dict[str, Any]] | None = None) -> dict[str, Any]:
        taken = self.taken_versions(model.name, pending)
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
        info = self.describe(model, src, rec)
        fields: dict[str, Any] = {
            "version": str(v), "tag": version_tag(model.name, v), "path": model.path,
            "sha256": d.sha256, "size": d.size,
            "md5": rec.md5 if rec is not None and rec.kind != "git" else None,
            "metrics": info["metrics"], "params": info["params"], "lineage": info["lineage"],
        }
        if message:
            fields["message"] = message
        return L.make_event("register", model.name, self.repo.identity(), utc_now(), **fields)

    def register(self, name: str, *, path: str | None = None, bump: str | None = None,
                 version: str | None = None, message: str | None = None) -> dict[str, Any]:
        """Register the work tree's bytes of ``name`` as a new version: append, commit, tag."""
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
        with self.transaction() as txn:
            d = self.digest(model, rec)
            st = self.state(name, new_ok=True)
            if st.versions:
                last = st.versions[st.latest or str(max(Version(v) for v in st.versions))]
                if last["sha256"] == d.sha256:
                    raise UsageError(f"{name}: these bytes are already registered as {last['version']}")
            ev = self.new_event(model, d, rec, wt, version=version, bump=bump, message=message)
            paths = []
            if rec is not None and rec.file:
                paths.append(rec.file)
            elif rec is None:
                paths.append(model.path)
            writes: dict[str, bytes | None] = {}
            if name not in self.config.models:
                writes["mvtools.yaml"] = self._declaration(name, model.path)
                paths.append("mvtools.yaml")
            head = txn.commit({name: [ev]}, message or f"Register {name} {ev['version']}", paths,
                              writes=writes)
            if writes:
                self.config = load_config(self.root)
            self.tag_event(ev, head)
        return {**ev, "commit": head}

    def transaction(self) -> "Transaction":
        """The one write path: lock, guard, append, commit, tag (see mvtools.transaction)."""
        from mvtools.transaction import Transaction

        return Transaction(self)

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
        if ":" in name:
            raise UsageError(f"{name}: declare dvc.yaml artifacts in their dvc.yaml")
        return Model(name=name, path=rel)

    def _declaration(self, name: str, rel: str) -> bytes:
        """mvtools.yaml with the model added, as text appended so comments and layout survive."""
        import re

        cfg_path = self.root / "mvtools.yaml"
        text = cfg_path.read_text() if cfg_path.exists() else "mvtools: 1\n"
        entry = f"  - name: {name}\n    path: {rel}\n"
        if re.search(r"^models:[ \t]*\[\][ \t]*$", text, re.M):
            text = re.sub(r"^models:[ \t]*\[\][ \t]*$", "models:", text, count=1, flags=re.M)
        elif not re.search(r"^models:", text, re.M):
            text = text.rstrip("\n") + "\nmodels:\n"
        new = text.rstrip("\n") + "\n" + entry
        from mvtools.yamlio import load_yaml

        doc = load_yaml(new, "mvtools.yaml")
        if not isinstance(doc, dict) or not any(isinstance(m, dict) and m.get("name") == name
                                                for m in doc.get("models") or []):
            raise UsageError("cannot add the model to mvtools.yaml automatically (models: is not the last "
                             "section?); declare it by hand")
        return new.encode()

    def tag_event(self, ev: dict[str, Any], commit: str) -> tuple[str, bool]:
        """Create the event's tag on ``commit``; an existing tag is left where it is.
        Returns the commit the tag is on and whether it was created now."""
        tag = ev["tag"]
        existing = self.repo.tags(tag)
        if tag in existing:
            return existing[tag][0], False
        self.repo.create_tag(tag, commit, register_message(ev["model"], ev["version"]))
        return commit, True

    # -- tags -----------------------------------------------------------------------
    def sync_tags(self) -> dict[str, list[dict[str, str]]]:
        """Make the version tags agree with the ledger: recreate missing tags on the first
        commit whose ledger holds the event; delete version tags that no event records
        (on this branch's history, or on no branch at all; other branches keep theirs)."""
        if self.repo.out("rev-parse", "--is-shallow-repository") == "true":
            raise UsageError("shallow clone: the commits that hold older versions are missing; "
                             "run: git fetch --unshallow --tags")
        made, deleted = [], []
        restored = self._drop_uncommitted()
        tags = self.repo.tags()
        states = self.states()
        from calendar import timegm

        for name in states:
            last = 0  # GTO orders a model's tags by time (1 s): keep them in ledger order
            for tag, commit, message, ts in self.expected_tags(name, tags):
                if tag in tags:
                    last = max(last, tags[tag][1])
                    continue
                if commit is None:
                    continue
                when = max(timegm(time.strptime(ts, "%Y-%m-%dT%H:%M:%SZ")), last + 1)
                last = when
                env = dict(os.environ, GIT_COMMITTER_DATE=f"@{when} +0000")
                self.repo.create_tag(tag, commit, message, env=env)
                made.append({"tag": tag, "commit": commit})
        for tag, (commit, _when) in tags.items():
            pt = parse_tag(tag)
            if pt is None or pt.kind != "version":
                continue
            st = states.get(pt.model)
            if st is not None and pt.version in st.versions:
                continue
            if self.repo.orphaned(commit):
                self.repo.delete_tag(tag)
                deleted.append({"tag": tag, "commit": commit})
        return {"created": made, "deleted": deleted, "restored": restored}

    def _drop_uncommitted(self) -> list[dict[str, str]]:
        """A registration killed between writing the ledger and committing it leaves events
        no commit holds (and so no tag). Their bytes were never committed: drop them by
        restoring HEAD's ledger (work tree and index), when the change is only such an append."""
        out: list[dict[str, str]] = []
        if self.repo.head is None or not (self.root / self.config.registry_dir).is_dir():
            return out
        with L.lock(self.repo.common_dir):
            for rel in L.ledger_files(self.root, self.config.registry_dir):
                p = self.root / rel
                L.clean_stale(p)
                committed = self.repo.show_blob(f"HEAD:{rel}")
                data = p.read_bytes()
                if committed is None or data == committed or not data.startswith(committed):
                    continue
                staged = self.repo.show_blob(":" + rel)
                if staged not in (committed, data):
                    continue  # something else is staged: leave it to the user
                model = L.model_of_ledger(self.config.registry_dir, rel)
                if staged != committed and committing_here(self.repo, model):
                    continue  # a commit under way here holds it (paused in its editor): not ours to drop
                # a staged copy is safe to drop too: the next commit's hook registers the
                # staged model again
                L.atomic_write(p, committed)
                if staged != committed:
                    self.repo.git("reset", "-q", "--", rel)
                out.append({"ledger": rel, "dropped_bytes": str(len(data) - len(committed))})
        self._states = None
        return out

    def expected_tags(self, name: str, tags: dict[str, tuple[str, int]]
                      ) -> list[tuple[str, str | None, str, str]]:
        """Every tag the ledger of ``name`` implies: (tag, commit it belongs on, message,
        event timestamp). The commit is None when no commit holds the event."""
        st = self.state(name)

        def version_commit(version: str | None) -> str | None:
            ev = st.versions.get(version or "")
            return None if ev is None else self.event_commit(ev, tags)

        out: list[tuple[str, str | None, str, str]] = []
        for ev in st.events:
            kind, tag, ts, ver = ev["event"], ev.get("tag"), ev["timestamp"], ev.get("version")
            if not isinstance(tag, str):
                continue
            if kind == "register":
                out.append((tag, self.event_commit(ev, tags), register_message(name, ver), ts))
            elif kind == "promote":
                out.append((tag, version_commit(ver), assign_message(name, ver, ev.get("stage")), ts))
            elif kind == "archive":
                out.append((tag, version_commit(ver), archive_message(name, ver), ts))
            elif kind == "deprecate":
                out.append((tag, self.commit_holding(name, ev["id"]), deprecate_message(name), ts))
            elif kind == "rollback":
                stage, prev = ev.get("stage"), ev.get("previous")
                pt = parse_tag(tag)
                if pt is None or pt.counter is None:
                    continue  # not a stage tag: nothing to recreate
                if pt.kind == "unassign":  # imported from GTO: the unassign itself
                    out.append((tag, version_commit(prev), unassign_message(name, prev, stage), ts))
                    continue
                out.append((stage_tag(name, str(stage), pt.counter - 1, unassign=True), version_commit(prev),
                            unassign_message(name, prev, stage), ts))
                out.append((tag, version_commit(ver), assign_message(name, ver, stage), ts))
        return out

    def event_commit(self, ev: dict[str, Any], tags: dict[str, tuple[str, int]]) -> str | None:
        """The commit a register event's version lives on: its tag's, else the first commit
        whose ledger holds the event."""
        if ev["tag"] in tags:
            return tags[ev["tag"]][0]
        return self.commit_holding(ev["model"], ev["id"])

    def commit_holding(self, name: str, event_id: str, rev: str = "HEAD") -> str | None:
        """The oldest commit reachable from ``rev`` whose ledger gained the event."""
        proc = self.repo.git("log", "--format=%H", "-S" + event_id, rev, "--",
                             self.config.ledger_path(name), check=False)
        lines = proc.stdout.decode().split()
        return lines[-1] if lines else None

    # -- retrieving -----------------------------------------------------------------
    def resolve(self, spec: str) -> dict[str, Any]:
        """NAME, NAME@VERSION or NAME#STAGE -> the register event."""
        if "#" in spec:
            name, stage = spec.split("#", 1)
            st = self.state(name)
            holder = st.stage_holders().get(stage)
            if holder is None:
                raise NotFound(f"no version of {name} is in stage {stage!r}")
            return st.versions[holder]
        name, _, ver = spec.partition("@")
        st, v = self.version(name, ver or "latest")
        return st.versions[v]

    def get(self, spec: str, out: str | Path | None = None) -> dict[str, Any]:
        from mvtools import dvcio

        ev = self.resolve(spec)
        commit = self.event_commit(ev, self.repo.tags(ev["tag"]))
        if commit is None:
            raise NotFound(f"no commit holds {ev['tag']}; run 'mvtools sync-tags'")
        dest = Path(out) if out is not None else Path(os.path.basename(ev["path"]))
        if not dest.parent.is_dir():
            raise UsageError(f"{dest.parent}: no such directory")
        dvcio.fetch_version(self.repo, ev, commit, dest)
        return {"model": ev["model"], "version": ev["version"], "path": str(dest), "sha256": ev["sha256"],
                "commit": commit}

    def push(self, remote: str | None = None) -> dict[str, Any]:
        from mvtools import dvcio

        return dvcio.push(self, remote)

    def version(self, name: str, version: str) -> tuple[ModelState, str]:
        """The state of ``name`` and the canonical form of ``version`` (``v1.2.3``, ``1.2.3``
        or ``latest``); an unknown model or version is NotFound."""
        st = self.state(name)
        if version in ("latest", "greatest"):  # as `get NAME@latest` and GTO's shortcut
            if st.latest is None:
                raise NotFound(f"{name} has no registered version")
            return st, st.latest
        v = str(Version.parse(version))
        if v not in st.versions:
            raise NotFound(f"{name} has no version {v}")
        return st, v

    def compare(self, name: str, a: str, b: str) -> dict[str, Any]:
        """Baseline ``a`` against candidate ``b``: metrics, params, artifact, lineage, verdict."""
        from mvtools.compare import compare

        st, va = self.version(name, a)
        _, vb = self.version(name, b)
        return compare(name, st.versions[va], st.versions[vb], self.config.compare)

    def lineage_snapshot(self, spec: str) -> dict[str, Any]:
        """The upstream snapshot the ledger recorded for NAME@VERSION (or NAME's latest)."""
        ev = self.resolve(spec)
        lin = ev.get("lineage") or {}
        return {"model": ev["model"], "version": ev["version"], "path": ev["path"], "sha256": ev["sha256"],
                "stage": lin.get("stage"), "dvc_yaml": lin.get("dvc_yaml"), "deps": lin.get("deps") or {},
                "params": ev.get("params") or {}, "metrics": ev.get("metrics") or {}}

    def lineage_diff(self, name: str, a: str, b: str) -> dict[str, Any]:
        """What differs between two versions' lineage snapshots: data, code and params."""
        from mvtools.compare import lineage_diff

        st, va = self.version(name, a)
        _, vb = self.version(name, b)
        return {"a": va, "b": vb, **lineage_diff(st.versions[va], st.versions[vb])}

    # -- lifecycle: stages, archive, deprecate, rollback ---------------------------
    def promote(self, name: str, version: str, stage: str, *, force: bool = False,
                message: str | None = None) -> dict[str, Any]:
        from mvtools import policy
        from mvtools.config import validate_stage

        validate_stage(stage)
        if stage not in self.config.stages:
            raise UsageError(f"unknown stage {stage!r} (stages: {', '.join(self.config.stages)})")
        with self.transaction() as txn:
            st, v = self.version(name, version)
            if st.deprecated and not force:
                raise UsageError(f"{name} is deprecated; pass --force to promote anyway")
            if v in st.archived and not force:
                raise UsageError(f"{name}@{v} is archived; pass --force to promote it anyway")
            if st.stage_holders().get(stage) == v:
                raise UsageError(f"{name}@{v} already holds {stage}")
            need = self.config.promotes_from.get(stage)
            if need and not force:
                held = any(e["event"] == "promote" and e.get("version") == v and e.get("stage") == need
                           for e in st.events)
                if not held:
                    raise CheckFailed(f"{name}@{v} may enter {stage} only after {need} "
                                      f"(promotes_from rule); promote it to {need} first")
            actor = self.repo.identity()
            policy.check(self.config, actor, "promote", stage)
            tags = self.repo.tags()
            counter = next_counter(tags, name)
            tag = stage_tag(name, stage, counter)
            ev = L.make_event("promote", name, actor, utc_now(), version=v, stage=stage, tag=tag,
                              **({"message": message} if message else {}))
            commit = _version_commit(self, st.versions[v], tags)
            txn.commit({name: [ev]}, message or f"Promote {name} {v} to {stage}")
            env, _ = Lifecycle.tag_env(tags, name)
            txn.tag(tag, commit, assign_message(name, v, stage), env=env)
        return {**ev, "commit": commit}

    def rollback(self, name: str, stage: str, message: str | None = None) -> dict[str, Any]:
        from mvtools import policy

        if stage not in self.config.stages and stage not in self.state(name).stages:
            raise UsageError(f"unknown stage {stage!r} (stages: {', '.join(self.config.stages)})")
        with self.transaction() as txn:
            st = self.state(name)
            stack = st.stages.get(stage, [])
            if not stack:
                raise UsageError(f"no version of {name} holds {stage}; nothing to roll back")
            if len(stack) < 2:
                raise UsageError(f"{name} {stage}: {stack[-1]} has no earlier holder to roll back to")
            popped, restored = stack[-1], stack[-2]
            actor = self.repo.identity()
            policy.check(self.config, actor, "promote", stage)
            tags = self.repo.tags()
            c1 = next_counter(tags, name)
            un_tag, re_tag = stage_tag(name, stage, c1, unassign=True), stage_tag(name, stage, c1 + 1)
            ev = L.make_event("rollback", name, actor, utc_now(), stage=stage, version=restored,
                              previous=popped, tag=re_tag, **({"message": message} if message else {}))
            txn.commit({name: [ev]}, message or f"Roll back {name} {stage} from {popped} to {restored}")
            env, when = Lifecycle.tag_env(tags, name)
            txn.tag(un_tag, _version_commit(self, st.versions[popped], tags),
                    unassign_message(name, popped, stage), env=env)
            env2 = dict(env, GIT_COMMITTER_DATE=f"@{when + 1} +0000")
            commit = _version_commit(self, st.versions[restored], tags)
            txn.tag(re_tag, commit, assign_message(name, restored, stage), env=env2)
        return {**ev, "commit": commit}

    def archive(self, name: str, version: str, message: str | None = None) -> dict[str, Any]:
        with self.transaction() as txn:
            st, v = self.version(name, version)
            if v in st.archived:
                raise UsageError(f"{name}@{v} is archived already")
            tags = self.repo.tags()
            tag = version_tag(name, v, archived=True)
            ev = L.make_event("archive", name, self.repo.identity(), utc_now(), version=v, tag=tag,
                              **({"message": message} if message else {}))
            commit = _version_commit(self, st.versions[v], tags)
            txn.commit({name: [ev]}, message or f"Archive {name} {v}")
            env, _ = Lifecycle.tag_env(tags, name)
            txn.tag(tag, commit, archive_message(name, v), env=env)
        return {**ev, "commit": commit}

    def deprecate(self, name: str, message: str | None = None) -> dict[str, Any]:
        with self.transaction() as txn:
            st = self.state(name)
            if st.deprecated:
                raise UsageError(f"{name} is deprecated already")
            tags = self.repo.tags()
            tag = deprecated_tag(name)
            ev = L.make_event("deprecate", name, self.repo.identity(), utc_now(), tag=tag,
                              **({"message": message} if message else {}))
            head = txn.commit({name: [ev]}, message or f"Deprecate {name}")
            env, _ = Lifecycle.tag_env(tags, name)
            txn.tag(tag, head, deprecate_message(name), env=env)
        return {**ev, "commit": head}


# -- lifecycle: stages, archive, deprecate, rollback ---------------------------------------
class Lifecycle:
    """Tag timing shared by the lifecycle operations (the counter: versioning.next_counter)."""

    @staticmethod
    def tag_env(tags: dict[str, tuple[str, int]], name: str) -> tuple[dict[str, str], int]:
        """A tagger date strictly after every tag of the model: GTO orders by 1 s times."""
        import time

        last = max((when for t, (_c, when) in tags.items() if is_model_tag(t, name)), default=0)
        when = max(int(time.time()), last + 1)
        return dict(os.environ, GIT_COMMITTER_DATE=f"@{when} +0000"), when


def _version_commit(reg: "Registry", ev: dict[str, Any], tags: dict[str, tuple[str, int]]) -> str:
    c = reg.event_commit(ev, tags)
    if c is None:
        raise NotFound(f"no commit holds {ev['tag']}; run 'mvtools sync-tags'")
    return c
