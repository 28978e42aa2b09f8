"""`mvtools verify`: everything the registry claims, checked against git and DVC.

Problems (exit 1): a ledger that breaks the schema or holds an event whose id does not
match; a commit that changed a ledger other than by appending (a merge: other than by
uniting its parents' events; a revert that dropped an event included); model content that
a commit introduced and no register event records; tags and ledger disagreeing (a tag
missing, a tag without an event, a tag on a commit that does not hold the event or is not
reachable from HEAD); registered bytes that do not match the recorded sha256 (from the
DVC cache, or the DVC remote with ``--fetch``). Warnings: events timestamped in the future.
Unchecked: what this clone cannot check (bytes absent from the cache, a shallow history).
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mvtools import ledger as L
from mvtools.artifacts import Source, find_record
from mvtools.config import dvc_yaml_files
from mvtools.errors import ConfigError, MvtoolsError
from mvtools.hashing import sha256_of, tree_sha256
from mvtools.versioning import parse_tag

if TYPE_CHECKING:
    from mvtools.gitops import Repo
    from mvtools.registry import Registry


class Report:
    def __init__(self) -> None:
        self.problems: list[dict[str, str]] = []
        self.warnings: list[dict[str, str]] = []
        self.unchecked: list[dict[str, str]] = []

    def add(self, kind: str, where: str, message: str) -> None:
        self.problems.append({"kind": kind, "where": where, "message": message})

    def warn(self, kind: str, where: str, message: str) -> None:
        self.warnings.append({"kind": kind, "where": where, "message": message})

    def skip(self, kind: str, where: str, message: str) -> None:
        self.unchecked.append({"kind": kind, "where": where, "message": message})


def _ledgers(reg: Registry, rep: Report) -> dict[str, L.Ledger]:
    out: dict[str, L.Ledger] = {}
    regdir = reg.config.registry_dir
    for rel in L.ledger_files(reg.root, regdir):
        try:
            led = L.parse((reg.root / rel).read_bytes(), rel)
        except ConfigError as exc:
            rep.add("schema", rel, str(exc))
            continue
        expected = L.model_of_ledger(regdir, rel)
        if led.model != expected:
            rep.add("schema", rel, f"names model {led.model!r} but the file is for {expected!r}")
            continue
        out[led.model] = led
    return out


def _history(reg: Registry, rep: Report) -> None:
    repo, cfg = reg.repo, reg.config
    log = repo.out("log", "--format=%H %P", "--", cfg.registry_dir, check=False)
    for line in log.splitlines():
        commit, *parents = line.split()
        names = repo.out("diff-tree", "-r", "-m", "--name-only", "--no-commit-id", "--root", commit).split()
        for p in sorted(set(names)):
            if not L.is_ledger_path(cfg.registry_dir, p):
                continue
            why = L.check_ledger_change([repo.show_blob(f"{par}:{p}") for par in parents],
                                        repo.show_blob(f"{commit}:{p}"), p)
            if why:
                rep.add("rewrite", commit[:12], why)


def _unregistered(reg: Registry, rep: Report, ledgers: dict[str, L.Ledger]) -> None:
    """Content a commit introduced for a model that no register event records."""
    repo, cfg = reg.repo, reg.config
    dvcy = dvc_yaml_files(reg.root)
    for model in cfg.models.values():
        led = ledgers.get(model.name)
        md5s = {e.get("md5") for e in (led.events if led else []) if e["event"] == "register"}
        shas = {e.get("sha256") for e in (led.events if led else []) if e["event"] == "register"}
        watch = [model.path, model.path + ".dvc", *[os.path.join(os.path.dirname(d), "dvc.lock") for d in dvcy]]
        log = repo.out("log", "--format=%H %P", "--", *watch, check=False)
        for line in log.splitlines():
            commit, *parents = line.split()
            new = find_record(cfg, Source(repo, commit), model, dvcy)
            old = find_record(cfg, Source(repo, parents[0]), model, dvcy) if parents else None
            if new is not None:
                if old is not None and old.md5 == new.md5:
                    continue
                if new.md5 in md5s:
                    continue
                what = f"md5 {new.md5}"
            else:
                blob_ids = repo.blob_ids(commit, [model.path])
                if not blob_ids:
                    continue
                if parents and repo.blob_ids(parents[0], [model.path]) == blob_ids:
                    continue
                sha = _git_sha256(repo, commit, model.path)
                if sha in shas:
                    continue
                what = f"sha256 {sha[:12]}"
            rep.add("unregistered", commit[:12],
                    f"{model.name}: {model.path} changed ({what}) with no register event; "
                    f"run: mvtools register {model.name}")


def _git_sha256(repo: Repo, commit: str, path: str) -> str:
    ids = repo.blob_ids(commit, [path])
    if list(ids) == [path]:
        return hashlib.sha256(repo.show_blob(f"{commit}:{path}") or b"").hexdigest()
    return tree_sha256((os.path.relpath(rel, path), hashlib.sha256(repo.show_blob(blob) or b"").hexdigest())
                       for rel, blob in ids.items())


def _cache_dir(reg: Registry) -> Path:
    try:
        from configparser import ConfigParser

        cp = ConfigParser()
        cp.read([reg.root / ".dvc" / "config", reg.root / ".dvc" / "config.local"])
        d = cp.get("cache", "dir", fallback=None)
        if d:
            return (reg.root / ".dvc" / d).resolve()
    except Exception:  # noqa: BLE001 - fall back to DVC's default
        pass
    return reg.root / ".dvc" / "cache"


def _cache_file(cache: Path, md5: str) -> Path | None:
    for p in (cache / "files" / "md5" / md5[:2] / md5[2:], cache / md5[:2] / md5[2:]):
        if p.exists():
            return p
    return None


def _sha256_file(p: Path) -> str:
    with open(p, "rb") as fh:
        return sha256_of(fh.read)[0]


def _cached_sha256(cache: Path, md5: str) -> str | None:
    if md5.endswith(".dir"):
        manifest = _cache_file(cache, md5)
        if manifest is None:
            return None
        files = []
        for entry in json.loads(manifest.read_bytes()):
            f = _cache_file(cache, entry["md5"])
            if f is None:
                return None
            files.append((entry["relpath"], _sha256_file(f)))
        return tree_sha256(files)
    f = _cache_file(cache, md5)
    return _sha256_file(f) if f else None


def _bytes(reg: Registry, rep: Report, ledgers: dict[str, L.Ledger], fetch: bool) -> None:
    tags = reg.repo.tags()
    cache = _cache_dir(reg)
    for name, led in ledgers.items():
        for ev in led.events:
            if ev["event"] != "register":
                continue
            where = ev["tag"]
            commit = tags.get(ev["tag"], (None,))[0]
            got: str | None
            if ev.get("md5") is None:
                if commit is None:
                    rep.skip("bytes", where, "no tag, so no commit to read the git-tracked bytes from")
                    continue
                got = _git_sha256(reg.repo, commit, ev["path"])
            else:
                got = _cached_sha256(cache, str(ev["md5"]))
                if got is None and fetch and commit is not None:
                    got = _fetched_sha256(reg, ev, commit, rep)
                if got is None:
                    rep.skip("bytes", where, "not in the DVC cache" + ("" if fetch else "; use --fetch to check the remote"))
                    continue
            if got != ev["sha256"]:
                rep.add("bytes", where, f"stored bytes have sha256 {got[:12]}..., the ledger records {ev['sha256'][:12]}...")


def _fetched_sha256(reg: Registry, ev: dict[str, Any], commit: str, rep: Report) -> str | None:
    from mvtools import dvcio
    from mvtools.hashing import digest_path

    with tempfile.TemporaryDirectory(prefix="mvtools-verify-") as tmp:
        dest = Path(tmp) / "artifact"
        try:
            dvcio.fetch_version(reg.repo, ev, commit, dest, check=False)
        except MvtoolsError as exc:
            rep.skip("bytes", ev["tag"], f"cannot fetch: {exc}")
            return None
        return digest_path(Path(tmp), "artifact").sha256


def _tags(reg: Registry, rep: Report, ledgers: dict[str, L.Ledger], shallow: bool = False) -> None:
    repo, cfg = reg.repo, reg.config
    tags = repo.tags()
    head = repo.head
    for name, led in ledgers.items():
        ledger_rel = cfg.ledger_path(name)
        for ev in led.events:
            if ev["event"] != "register":
                continue
            t = tags.get(ev["tag"])
            if t is None:
                if shallow:
                    rep.skip("tag-missing", ev["tag"], "no tag in this shallow clone (git fetch --unshallow --tags)")
                else:
                    rep.add("tag-missing", ev["tag"], "the ledger registers it but the tag is missing; "
                            "run: mvtools sync-tags")
                continue
            blob = repo.show_blob(f"{t[0]}:{ledger_rel}")
            ids: set[str] = set()
            if blob:
                try:
                    ids = set(reg.cache.load(blob, ledger_rel).ids)
                except ConfigError:
                    pass
            if ev["id"] not in ids and not ev.get("imported_from"):
                rep.add("tag-commit", ev["tag"], f"commit {t[0][:12]} does not hold this version's ledger event")
            elif head and not repo.is_ancestor(t[0], head):
                rep.add("tag-unreachable", ev["tag"], f"commit {t[0][:12]} is not reachable from HEAD")
    for name in ledgers:
        for tag, commit, _msg, _ts in reg.expected_tags(name, tags):
            pt = parse_tag(tag)
            if tag in tags or pt is None or pt.kind == "version":
                continue  # version tags are checked above
            if shallow:
                rep.skip("tag-missing", tag, "no tag in this shallow clone (git fetch --unshallow --tags)")
            else:
                rep.add("tag-missing", tag, "the ledger records it but the tag is missing (GTO cannot see it); "
                        "run: mvtools sync-tags")
    for tag in tags:
        pt = parse_tag(tag)
        if pt is None or pt.kind != "version":
            continue
        holder = ledgers.get(pt.model)
        if holder is None or not any(e["event"] == "register" and e["version"] == pt.version for e in holder.events):
            if repo.orphaned(tags[tag][0]):
                rep.add("tag-orphan", tag, "tag without a register event in the ledger; re-register or delete the tag")
            else:  # another branch's version: its own ledger is the judge
                rep.skip("tag-orphan", tag, "tag on a commit outside this branch's history")


def verify(reg: Registry, *, fetch: bool = False, policy: bool = False) -> Report:
    rep = Report()
    ledgers = _ledgers(reg, rep)
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 300))
    for name, led in ledgers.items():
        for ev in led.events:
            if ev["timestamp"] > now:
                rep.warn("future-timestamp", f"{name} {ev['event']} {ev.get('version') or ''}".strip(),
                         f"timestamped {ev['timestamp']}, in the future")
    if reg.repo.head is None:
        return rep
    shallow = reg.repo.out("rev-parse", "--is-shallow-repository") == "true"
    if shallow:
        rep.skip("history", "shallow clone", "history before the shallow boundary is not checked; "
                 "tags may be missing (git fetch --unshallow --tags)")
    for name in ledgers:
        rel = reg.config.ledger_path(name)
        committed = reg.repo.show_blob(f"HEAD:{rel}")
        if (reg.root / rel).read_bytes() != committed:
            rep.add("uncommitted", rel, "the work-tree ledger differs from HEAD's (an interrupted registration?); "
                    f"run: mvtools sync-tags (or git checkout HEAD -- {rel})")
    _history(reg, rep)
    _unregistered(reg, rep, ledgers)
    _tags(reg, rep, ledgers, shallow)
    _bytes(reg, rep, ledgers, fetch)
    if policy:
        from mvtools.policy import check_history

        rep.problems += check_history(reg)
    return rep
