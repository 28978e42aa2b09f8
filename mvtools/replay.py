"""Replaying this clone's unpushed commits onto the remote branch, renumbering provisional
versions and stage counters another clone published first (``mvtools push``/``resolve``).

Only what no remote ref or tag holds is touched (invariant I1): the *unpushed* commits are
those reachable from HEAD and from no remote-tracking branch or remote tag. Each is
re-created with git plumbing (no hooks, no merge driver, the user's index and work tree
untouched until the new history is complete): its ledger events are appended to the new
parent's ledger (renumbered where needed, so every ledger still byte-extends its parent's),
a file both sides changed is merged three-way, and a model file (its ``.dvc`` file,
``dvc.lock``) takes this clone's side, since its register event records those bytes.
"""

from __future__ import annotations

import os
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mvtools import ledger as L
from mvtools.errors import ConfigError, UsageError
from mvtools.gitops import EMPTY_TREE, Repo
from mvtools.versioning import FIRST, ParsedTag, Version, deprecated_tag, next_semver, parse_tag, stage_tag, version_tag

if TYPE_CHECKING:
    from mvtools.registry import Registry

ZERO = "0" * 40
_NO_COUNTER = ParsedTag("", "version")


class ReplayConflict(UsageError):
    """A file other than a ledger or a model changed on both sides and does not merge."""


@dataclass
class Remote:
    """What the remote publishes, as fetched: its branch tip and its tags (name -> commit)."""

    name: str
    branch: str
    tip: str | None
    tags: dict[str, str]
    tag_refs: str  # the refs/ namespace the remote's tags were fetched into
    tag_times: dict[str, int] = field(default_factory=dict)  # tag name -> its tagger (creator) time


@dataclass
class Unpushed:
    commit: str
    parent: str | None
    new_events: dict[str, list[dict[str, Any]]]  # ledger path -> events this commit appended
    by_tag: bool = False  # a remote tag holds it (published, not on the branch): its numbers stay


@dataclass
class Plan:
    commits: list[Unpushed]
    base: str | None  # the new parent of the first unpushed commit
    versions: dict[tuple[str, str], str] = field(default_factory=dict)  # (model, old) -> new version
    counters: dict[str, int] = field(default_factory=dict)  # event id -> new stage counter
    published_ids: set[str] = field(default_factory=set)
    renamed_tags: list[str] = field(default_factory=list)  # "OLD -> NEW", for the user

    @property
    def renames(self) -> list[str]:
        return [f"{version_tag(m, v)} -> {version_tag(m, n)}" for (m, v), n in self.versions.items()] + \
            self.renamed_tags

    def needs_replay(self, head: str | None) -> bool:
        first_parent = self.commits[0].parent if self.commits else head
        return bool(self.versions or self.counters) or (self.base is not None and self.base != first_parent)


def _parents(repo: Repo, rev: str) -> list[str]:
    return repo.out("rev-list", "--parents", "-n", "1", rev).split()[1:]


def unpushed(reg: "Registry", remote: Remote) -> list[Unpushed]:
    """HEAD's commits no remote branch holds, oldest first, with the events each appended to
    each ledger; those a remote tag holds (a tag pushed without its branch) are marked: they
    are replayed onto the branch, but their numbers are published (I1) and stay."""
    repo = reg.repo
    if repo.head is None:
        return []
    out = repo.out("rev-list", "--reverse", "--topo-order", "--parents", "HEAD", "--not",
                   f"--remotes={remote.name}")
    untagged = set(repo.out("rev-list", "HEAD", "--not", f"--remotes={remote.name}",
                            f"--glob={remote.tag_refs}*").split()) if out else set()
    regdir = reg.config.registry_dir
    res = []
    for line in out.splitlines():
        commit, *parents = line.split()
        if len(parents) > 1:
            raise UsageError(f"the unpushed commit {commit[:12]} is a merge; mvtools push replays a linear history "
                             f"only: run git rebase {remote.name}/{remote.branch}, then mvtools push")
        parent = parents[0] if parents else None
        new: dict[str, list[dict[str, Any]]] = {}
        for rel in repo.changed_paths(parent, commit):
            if not L.is_ledger_path(regdir, rel):
                continue
            model = L.model_of_ledger(regdir, rel)
            old = _ledger(reg, parent, rel, model)
            cur = _ledger(reg, commit, rel, model)
            have = {e["id"] for e in old}
            new[rel] = [e for e in cur if e["id"] not in have]
        res.append(Unpushed(commit, parent, new, by_tag=commit not in untagged))
    return res


def _ledger(reg: "Registry", rev: str | None, rel: str, model: str) -> list[dict[str, Any]]:
    data = reg.repo.show_blob(f"{rev}:{rel}") if rev else None
    if not data:
        return []
    try:
        return reg.cache.load(data, rel, model).events
    except ConfigError as exc:
        raise ConfigError(f"cannot replay commit {rev[:12] if rev else ''}: {exc}") from None


def _bump_of(v: Version, default: str) -> str:
    """The bump a version was made with, read from its shape (v1.0.0 major, v0.2.0 minor,
    v0.1.1 patch); the first version takes the model's rule."""
    if not v.is_semver or v == FIRST:
        return default
    m = re.match(r"v(\d+)\.(\d+)\.(\d+)", v.text)
    assert m is not None
    if int(m[3]):
        return "patch"
    return "minor" if int(m[2]) else "major"


def plan(reg: "Registry", remote: Remote) -> Plan:
    """Which of this clone's unpushed registrations and stage assignments clash with what
    the remote publishes, and the numbers they take instead."""
    commits = unpushed(reg, remote)
    repo = reg.repo
    base = remote.tip
    if commits and base is not None and commits[0].parent is not None and \
            not repo.is_ancestor(commits[0].parent, base):
        raise UsageError(f"{remote.name}/{remote.branch} does not contain {commits[0].parent[:12]}, the parent of "
                         f"this clone's first unpushed commit; merge it first: git pull --no-rebase {remote.name} "
                         f"{remote.branch}")
    if base is None:
        base = commits[0].parent if commits else repo.head
    p = Plan(commits, base)
    published: dict[str, dict[str, str]] = {}  # model -> version -> event id ("" for a tag alone)
    counters: dict[str, int] = {}
    for tag in remote.tags:
        pt = parse_tag(tag)
        if pt is None:
            continue
        if pt.version:
            published.setdefault(pt.model, {}).setdefault(pt.version, "")
        if pt.counter is not None:
            counters[pt.model] = max(counters.get(pt.model, 0), pt.counter)
    if remote.tip is not None:
        for rel in L.ledger_files(reg.root, reg.config.registry_dir) + [r for c in commits for r in c.new_events]:
            model = L.model_of_ledger(reg.config.registry_dir, rel)
            for ev in _ledger(reg, remote.tip, rel, model):
                p.published_ids.add(ev["id"])
                if ev["event"] == "register":
                    published.setdefault(model, {})[ev["version"]] = ev["id"]
                pt = parse_tag(ev["tag"]) if isinstance(ev.get("tag"), str) else None
                if pt is not None and pt.counter is not None:
                    counters[model] = max(counters.get(model, 0), pt.counter)
    # a commit a remote tag holds is published: its events are replayed but never renumbered
    ours = [ev for c in commits if not c.by_tag for evs in c.new_events.values() for ev in evs]
    # an event naming a version this clone registered and never published is this clone's,
    # even when its text (and so its id) equals one the remote has: two clones promoting
    # "their" v0.1.1 in the same second as the same user write identical events
    own = {(ev["model"], ev["version"]) for ev in ours
           if ev["event"] == "register" and ev["id"] not in p.published_ids}
    for ev in ours:
        if ev["event"] != "register" and (ev["model"], ev.get("version")) in own:
            p.published_ids.discard(ev["id"])
    mine = [ev for ev in ours if ev["id"] not in p.published_ids]
    _renumber_versions(reg, p, mine, published)
    _renumber_counters(p, mine, counters)
    return p


def _renumber_versions(reg: "Registry", p: Plan, mine: list[dict[str, Any]],
                       published: dict[str, dict[str, str]]) -> None:
    regs = [ev for ev in mine if ev["event"] == "register"]
    for model in dict.fromkeys(ev["model"] for ev in regs):
        evs = [ev for ev in regs if ev["model"] == model]
        pub = published.get(model, {})
        first = next((i for i, ev in enumerate(evs) if ev["version"] in pub and pub[ev["version"]] != ev["id"]), None)
        if first is None:
            continue
        moving = evs[first:]
        taken = reg.taken_versions(model) - {Version(ev["version"]) for ev in moving}
        taken |= {Version(v) for v in pub}
        rule = reg.config.models[model].bump if model in reg.config.models else "patch"
        for ev in moving:
            old = Version(ev["version"])
            if not old.is_semver:  # the timestamp scheme: unique by construction
                continue
            new = next_semver(taken, _bump_of(old, rule))
            taken.add(new)
            p.versions[(model, ev["version"])] = str(new)


def _renumber_counters(p: Plan, mine: list[dict[str, Any]], counters: dict[str, int]) -> None:
    """GTO's counter (``#N``): stage tags always carry it, and a repository in the counter
    form spells version, archive and deprecation tags with it too (``NAME@V#N``); one
    sequence per model. When this clone's counters are not above the remote's, they take
    the next ones, in order."""
    counted = [ev for ev in mine if isinstance(ev.get("tag"), str)
               and (parse_tag(ev["tag"]) or _NO_COUNTER).counter is not None]
    for model in dict.fromkeys(ev["model"] for ev in counted):
        evs = [ev for ev in counted if ev["model"] == model]
        top = counters.get(model, 0)
        lowest = min((parse_tag(ev["tag"]).counter or 0) - (1 if ev["event"] == "rollback" else 0)  # type: ignore[union-attr]
                     for ev in evs)
        if lowest > top:
            continue
        for ev in evs:
            top += 2 if ev["event"] == "rollback" else 1
            p.counters[ev["id"]] = top
            p.renamed_tags.append(f"{ev['tag']} -> {rewrite_event(p, ev)['tag']}")


def rewrite_event(p: Plan, ev: dict[str, Any]) -> dict[str, Any]:
    """``ev`` with its versions and GTO counter renumbered (and its id recomputed); a tag
    keeps its form (simple, or GTO's counter form)."""
    model = ev["model"]
    out = dict(ev)
    for key in ("version", "previous"):
        if isinstance(ev.get(key), str) and (model, ev[key]) in p.versions:
            out[key] = p.versions[(model, ev[key])]
    pt = parse_tag(ev["tag"]) if isinstance(ev.get("tag"), str) else None
    if pt is not None and (out.get("version") != ev.get("version") or ev["id"] in p.counters):
        counter = p.counters.get(ev["id"], pt.counter)
        suffix = f"#{counter}" if counter is not None else ""
        if pt.kind in ("version", "archive") and ev["event"] in ("register", "archive"):
            out["tag"] = version_tag(model, out["version"], archived=pt.kind == "archive") + suffix
        elif pt.kind == "deprecated":
            out["tag"] = deprecated_tag(model) + suffix
        elif pt.stage is not None and counter is not None:
            out["tag"] = stage_tag(model, pt.stage, counter, unassign=pt.kind == "unassign")
    if out == ev:
        return ev
    out.pop("id")
    out["id"] = L.event_id(out)
    return out


# -- the replay ----------------------------------------------------------------------------
def _entries(repo: Repo, rev: str | None, paths: list[str]) -> dict[str, tuple[str, str]]:
    """path -> (mode, blob) at ``rev`` for ``paths`` that exist there."""
    if rev is None or not paths:
        return {}
    text = repo.git("ls-tree", "-z", "--full-tree", rev, "--", *paths).stdout.decode("utf-8", "surrogateescape")
    res = {}
    for rec in text.split("\0"):
        if rec:
            meta, name = rec.split("\t", 1)
            mode, _kind, blob = meta.split()
            res[name] = (mode, blob)
    return res


def model_path(reg: "Registry", path: str) -> bool:
    """A file whose content a register event records: a declared model's path (or under
    it), its ``.dvc`` file, or a ``dvc.lock``."""
    if path == "dvc.lock" or path.endswith("/dvc.lock"):
        return True
    for m in reg.config.models.values():
        if path in (m.path, m.path + ".dvc") or path.startswith(m.path.rstrip("/") + "/"):
            return True
    return False


def _write_blob(repo: Repo, data: bytes) -> str:
    return repo.git("hash-object", "-w", "--stdin", input=data).stdout.decode().strip()


def _merge3(repo: Repo, base: str | None, ours: str, theirs: str, path: str) -> str:
    with tempfile.TemporaryDirectory(prefix="mvtools-merge-") as d:
        files = []
        for name, blob in (("ours", ours), ("base", base), ("theirs", theirs)):
            f = Path(d) / name
            f.write_bytes(repo.show_blob(blob) or b"" if blob else b"")
            files.append(str(f))
        proc = repo.git("merge-file", "-p", *files, check=False)
        if proc.returncode != 0:
            raise ReplayConflict(f"{path} changed both here and on the remote and the changes overlap; merge by hand "
                                 "(git pull --no-rebase, resolve it, commit), then run mvtools push")
        return _write_blob(repo, proc.stdout)


def _commit_meta(repo: Repo, commit: str) -> tuple[dict[str, str], bytes]:
    raw = repo.git("log", "-1", "--date=raw", "--format=%an%x00%ae%x00%ad%x00%B", commit).stdout
    name, email, date, msg = raw.split(b"\0", 3)
    env = {"GIT_AUTHOR_NAME": name.decode(), "GIT_AUTHOR_EMAIL": email.decode(), "GIT_AUTHOR_DATE": date.decode()}
    return env, msg


def _renumber_message(p: Plan, msg: bytes) -> bytes:
    """``Register clf v0.1.1`` -> ``Register clf v0.1.2``: every renumbered version, in one pass."""
    subs = {f"{m} {old}": f"{m} {new}" for (m, old), new in p.versions.items()}
    if not subs:
        return msg
    pat = re.compile("|".join(re.escape(k) for k in sorted(subs, key=len, reverse=True)) + r"(?![\w.+-])")
    return pat.sub(lambda mt: subs[mt.group(0)], msg.decode("utf-8", "surrogateescape")).encode(
        "utf-8", "surrogateescape")


def replay(reg: "Registry", p: Plan) -> tuple[str | None, dict[str, str], list[tuple[str, dict[str, Any]]]]:
    """Re-create the unpushed commits on ``p.base``: (new HEAD, old commit -> new commit, the
    (new commit, event) of every event they append)."""
    repo = reg.repo
    parent = p.base
    mapping: dict[str, str] = {}
    events: list[tuple[str, dict[str, Any]]] = []
    with tempfile.TemporaryDirectory(prefix="mvtools-replay-") as tmp:
        env = dict(os.environ, GIT_INDEX_FILE=str(Path(tmp) / "index"))
        for c in p.commits:
            new_evs = {rel: [rewrite_event(p, e) for e in evs if e["id"] not in p.published_ids]
                       for rel, evs in c.new_events.items()}
            changed = [path for path in repo.changed_paths(c.parent, c.commit)]
            if parent == c.parent and all(e == o for rel in new_evs for e, o in zip(new_evs[rel], c.new_events[rel])) \
                    and all(len(new_evs[r]) == len(c.new_events[r]) for r in new_evs):
                mapping[c.commit] = c.commit
                parent = c.commit
                events += [(c.commit, e) for evs in new_evs.values() for e in evs]
                continue
            old_e = _entries(repo, c.parent, changed)
            new_e = _entries(repo, c.commit, changed)
            par_e = _entries(repo, parent, changed)
            lines = []
            for path in changed:
                if path in new_evs:
                    base = repo.show_blob(f"{parent}:{path}") if parent else None
                    model = L.model_of_ledger(reg.config.registry_dir, path)
                    data = (base or L.header(model).encode()) + L.render_events(new_evs[path]).encode()
                    lines.append(f"100644 {_write_blob(repo, data)}\t{path}")
                    continue
                want, had, now = new_e.get(path), old_e.get(path), par_e.get(path)
                if now == had or now == want or model_path(reg, path):
                    entry = want
                elif want is None or now is None or had is None or want[0] != now[0]:
                    raise ReplayConflict(f"{path} was changed both here and on the remote (added, removed or its "
                                         "mode changed); merge by hand (git pull --no-rebase), then run mvtools push")
                else:
                    entry = (want[0], _merge3(repo, had[1], now[1], want[1], path))
                if entry == now:
                    continue
                lines.append(f"0 {ZERO}\t{path}" if entry is None else f"{entry[0]} {entry[1]}\t{path}")
            repo.git("read-tree", parent or EMPTY_TREE, env=env)
            if lines:
                repo.git("update-index", "-z", "--index-info", input="\0".join(lines).encode() + b"\0", env=env)
            tree = repo.git("write-tree", env=env).stdout.decode().strip()
            author, msg = _commit_meta(repo, c.commit)
            msg = _renumber_message(p, msg)
            args = ["commit-tree", tree, *(["-p", parent] if parent else []), "-F", "-"]
            new = repo.git(*args, input=msg, env=dict(os.environ, **author)).stdout.decode().strip()
            mapping[c.commit] = new
            parent = new
            events += [(new, e) for evs in new_evs.values() for e in evs]
    return parent, mapping, events
