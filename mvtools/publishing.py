"""Publishing to a team's remotes: ``mvtools push`` and ``mvtools resolve``.

``push`` sends the registered artifacts to the DVC remote, then the branch and its registry
tags to the git remote in one atomic ``git push``. When another clone published first —
the branch moved on, or it holds the same version number or stage counter — the push is
resolved here: fetch, replay this clone's unpushed commits onto the remote branch with
their provisional numbers renumbered (:mod:`mvtools.replay`), move their tags, push again;
a bounded number of times. A version any remote ref or tag holds is never renumbered
(invariant I1). ``resolve`` does the same without pushing, and first settles a ``git pull``
stopped on a clash of registrations (only ledgers and models conflicted).
"""

from __future__ import annotations

import os
import random
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from mvtools import ledger as L
from mvtools.errors import MvtoolsError, RemoteError, UsageError
from mvtools.gitops import Repo
from mvtools.replay import Plan, Remote, plan, replay
from mvtools.tagwrite import TagWrite, write_tags
from mvtools.versioning import (archive_message, assign_message, deprecate_message, is_model_tag, parse_tag,
                                register_message, stage_tag, unassign_message)

if TYPE_CHECKING:
    from mvtools.registry import Registry

ATTEMPTS = 25  # a push that lost the race this often gives up (exit 3); each try fetches first
TAG_NS = "refs/mvtools/remote-tags/"
# what git says when another push got there first: fetch, replay and try again
RACE = ("(fetch first)", "(non-fast-forward)", "(already exists)", "(stale info)", "cannot lock ref",
        "failed to update ref", "incorrect old value", "but expected")


@dataclass
class Outcome:
    remote: str
    branch: str
    tags: int = 0
    dvc_files_pushed: int = 0
    renumbered: list[str] = field(default_factory=list)
    retries: int = 0
    upstream_set: bool = False


def target(repo: Repo, remote: str | None) -> tuple[str, str, bool]:
    """(remote, branch, does the branch have an upstream?) for a push from HEAD."""
    branch = repo.out("rev-parse", "--abbrev-ref", "HEAD")
    if branch == "HEAD":
        raise UsageError("detached HEAD: check out the branch to push")
    upstream = repo.out("config", "--get", f"branch.{branch}.remote", check=False)
    if remote is None:
        remote = upstream or "origin"
    if remote.startswith("-"):
        raise UsageError(f"invalid remote {remote!r}")
    remotes = repo.out("remote").split()
    if remote not in remotes:
        raise UsageError(f"no git remote named {remote!r} (remotes: {', '.join(remotes) or 'none'})")
    return remote, branch, bool(upstream)


def _cause(stderr: bytes, stdout: bytes = b"") -> str:
    """git's cause, not only its last hint: the fatal/error lines and every rejected ref."""
    lines = (stdout + b"\n" + stderr).decode("utf-8", "replace").splitlines()
    keep = [ln.strip() for ln in lines if ln.strip().startswith(("fatal:", "error:", "mvtools:", "remote:", "!"))
            or "[rejected]" in ln or "[remote rejected]" in ln]
    keep = [ln.replace("\t", " ") for ln in keep if ln not in ("error: failed to push some refs to",)]
    return "; ".join(dict.fromkeys(keep)) or (lines[-1].strip() if lines else "no output")


def fetch(repo: Repo, remote: str, branch: str) -> Remote:
    """The remote's branches (as remote-tracking refs) and its tags (into a namespace of our
    own, so a clashing local tag is not touched)."""
    ns = f"{TAG_NS}{remote}/"
    proc = repo.git("fetch", "-q", "--no-tags", "--prune", "--no-write-fetch-head", "--", remote,
                    f"+refs/heads/*:refs/remotes/{remote}/*", f"+refs/tags/*:{ns}*", check=False,
                    env=dict(os.environ, GIT_TERMINAL_PROMPT="0"))
    if proc.returncode != 0:
        raise RemoteError(f"git fetch {remote} failed: {_cause(proc.stderr)}")
    tip = repo.rev_parse(f"refs/remotes/{remote}/{branch}")
    text = repo.out("for-each-ref", "--format=%(refname)%00%(objectname)%00%(*objectname)%00%(creatordate:unix)", ns)
    tags, times = {}, {}
    for line in text.splitlines():
        ref, obj, peeled, when = line.split("\0")
        tags[ref[len(ns):]] = peeled or obj
        times[ref[len(ns):]] = int(when or 0)
    return Remote(remote, branch, tip, tags, ns, times)


def _drop_namespace(repo: Repo, ns: str, adopt: bool) -> None:
    """Take the remote's tags this clone lacks (as a fetch would), then forget the namespace."""
    text = repo.out("for-each-ref", "--format=%(refname)%00%(objectname)", ns)
    have = repo.tags()
    cmds = []
    for line in text.splitlines():
        ref, obj = line.split("\0")
        name = ref[len(ns):]
        if adopt and name not in have:
            cmds.append(f"create refs/tags/{name} {obj}")
        cmds.append(f"delete {ref}")
    if cmds:
        repo.git("update-ref", "--stdin", input=("\n".join(cmds) + "\n").encode())


# -- settling a pull that stopped on a clash ------------------------------------------------
def settle(reg: "Registry") -> str | None:
    """A merge or rebase stopped with conflicts only in ledgers and models (a ``git pull``
    that brought in another clone's registration of the same number): abort it; the replay
    resolves it. Anything else in progress is the user's to finish."""
    repo = reg.repo
    what = repo.operation_in_progress()
    if what is None:
        return None
    from mvtools.replay import model_path

    text = repo.git("diff", "--name-only", "--diff-filter=U", "-z").stdout.decode("utf-8", "surrogateescape")
    conflicted = [p for p in text.split("\0") if p]
    regdir = reg.config.registry_dir
    ours = conflicted and all(L.is_ledger_path(regdir, p) or model_path(reg, p) for p in conflicted)
    if what not in ("a merge", "a rebase") or not ours:
        raise UsageError(f"{what} is in progress" + (f" with conflicts in {', '.join(conflicted)}" if conflicted else "")
                         + "; finish it (or abort it), then run this again")
    repo.git("merge" if what == "a merge" else "rebase", "--abort")
    return what


# -- push and resolve -----------------------------------------------------------------------
def _integrate(reg: "Registry", rem: Remote, out: Outcome) -> None:
    """Put HEAD on the remote branch with this clone's unpushed commits replayed and their
    clashing numbers renumbered; move (or create) their tags."""
    repo = reg.repo
    p = plan(reg, rem)
    if not p.needs_replay(repo.head):
        return
    new_head, _mapping, events = replay(reg, p)
    old_head = repo.head
    if new_head and new_head != old_head:
        proc = repo.git("reset", "-q", "--keep", new_head, check=False)
        if proc.returncode != 0:
            raise UsageError(f"cannot put this clone's unpushed commits on {rem.name}/{rem.branch}: "
                             f"{_cause(proc.stderr)}; commit or stash your changes, then run this again")
        repo.__dict__.pop("head", None)
    _retag(reg, rem, p, events)
    out.renumbered += [r for r in p.renames if r not in out.renumbered]
    reg._states = None


def _retag(reg: "Registry", rem: Remote, p: Plan, events: list[tuple[str, dict[str, Any]]]) -> None:
    """Drop the tags of the replayed events (provisional: the remote has none of them) and
    tag the replayed events where their commits now are, timed strictly after every tag of
    the model here and on the remote: GTO orders a model's tags by time, so the replayed
    events (appended after the remote's in the ledger) must also come after them in time,
    never share a second with another clone's tags (GTO breaks such ties its own way). All
    of it is one ref transaction (mvtools.tagwrite)."""
    repo = reg.repo
    tags = repo.tags()
    drop = [t for c in p.commits for evs in c.new_events.values() for ev in evs for t in _tag_names(ev)
            if t in tags and tags[t][0] != rem.tags.get(t)]
    for t in drop:
        tags.pop(t, None)
    writes: list[TagWrite] = []
    commit_of: dict[tuple[str, str], str] = {}
    for t, (commit, _when) in {**tags, **{n: (c, 0) for n, c in rem.tags.items()}}.items():
        pt = parse_tag(t)
        if pt is not None and pt.kind == "version" and pt.version:
            commit_of[(pt.model, pt.version)] = commit
    for commit, ev in events:
        if ev["event"] == "register":
            commit_of[(ev["model"], ev["version"])] = commit
    last: dict[str, int] = {}
    for commit, ev in events:
        model, kind, ver = ev["model"], ev["event"], ev.get("version")
        want: list[tuple[str, str | None, str]] = []
        if kind == "register":
            want.append((ev["tag"], commit, register_message(model, ver)))
        elif kind == "promote":
            want.append((ev["tag"], commit_of.get((model, ver or "")), assign_message(model, ver, ev.get("stage"))))
        elif kind == "archive":
            want.append((ev["tag"], commit_of.get((model, ver or "")), archive_message(model, ver)))
        elif kind == "deprecate":
            want.append((ev["tag"], commit, deprecate_message(model)))
        elif kind == "rollback":
            pt = parse_tag(ev["tag"])
            if pt is not None and pt.counter is not None and pt.kind == "stage":
                prev = ev.get("previous")
                want.append((stage_tag(model, str(ev["stage"]), pt.counter - 1, unassign=True),
                             commit_of.get((model, prev or "")), unassign_message(model, prev, ev["stage"])))
            want.append((ev["tag"], commit_of.get((model, ver or "")), assign_message(model, ver, ev.get("stage"))))
        for tag, on, message in want:
            if on is None or tag in tags or tag in rem.tags:
                continue
            if model not in last:
                times = [w for t, (_c, w) in tags.items() if is_model_tag(t, model)]
                last[model] = max(times + [w for t, w in rem.tag_times.items() if is_model_tag(t, model)], default=0)
            when = max(int(time.time()), last[model] + 1)
            last[model] = when
            writes.append(TagWrite(tag, on, message, when))
            tags[tag] = (on, when)
    write_tags(repo, writes, delete=drop)  # one transaction: the old tags dropped and the new written, or nothing


def _tag_names(ev: dict[str, Any]) -> list[str]:
    t = ev.get("tag")
    if not isinstance(t, str):
        return []
    pt = parse_tag(t)
    if ev["event"] == "rollback" and pt is not None and pt.counter is not None and pt.kind == "stage":
        return [t, stage_tag(ev["model"], pt.stage or "", pt.counter - 1, unassign=True)]
    return [t]


def resolve(reg: "Registry", remote: str | None = None) -> Outcome:
    """Bring this clone onto the remote branch, renumbering its unpushed clashing versions
    and stage counters; nothing is pushed."""
    repo = reg.repo
    if repo.operation_in_progress() != "a rebase":
        target(repo, remote)  # bad input is refused before anything is locked or aborted
    with L.lock(repo.common_dir):
        settle(reg)  # a stopped rebase is on a detached HEAD: the branch is known once it is aborted
        remote, branch, _ = target(repo, remote)
        out = Outcome(remote, branch)
        rem = fetch(repo, remote, branch)
        try:
            _integrate(reg, rem, out)
        finally:
            _drop_namespace(repo, rem.tag_refs, adopt=True)
    return out


def push(reg: "Registry", remote: str | None = None) -> Outcome:
    """Bytes to the DVC remote, then branch and registry tags to the git remote, racing
    clones resolved by renumbering this clone's unpushed versions (see the module doc)."""
    repo = reg.repo
    if repo.operation_in_progress() != "a rebase":
        target(repo, remote)  # bad input is refused before anything is locked or aborted
    with L.lock(repo.common_dir):
        settle(reg)  # a pull stopped on a clash (a rebase: on a detached HEAD): the replay resolves it
        remote, branch, has_upstream = target(repo, remote)
        out = Outcome(remote, branch)
        out.dvc_files_pushed = _push_bytes(reg)
        rem = None
        try:
            for attempt in range(ATTEMPTS):
                rem = fetch(repo, remote, branch)
                _integrate(reg, rem, out)
                # the registry tags of this branch (and of the remote's branches), but those the
                # remote holds elsewhere (published first: its own); another local branch's tags
                # wait for their branch, as the pre-push hook has a plain push's wait
                here = _reachable_tags(repo, remote)
                mine = [t for t, (c, _w) in repo.tags().items() if parse_tag(t) is not None
                        and rem.tags.get(t, c) == c and t in here]
                args = ["push", "--atomic", "--porcelain", *([] if has_upstream else ["--set-upstream"]), "--",
                        remote, f"HEAD:refs/heads/{branch}", *[f"refs/tags/{t}" for t in mine]]
                proc = repo.git(*args, check=False, env=dict(os.environ, MVTOOLS_SKIP="1", GIT_TERMINAL_PROMPT="0"))
                if proc.returncode == 0:
                    out.tags, out.upstream_set = len(mine), not has_upstream
                    return out
                text = (proc.stdout + proc.stderr).decode("utf-8", "replace")
                if not any(r in text for r in RACE):
                    raise RemoteError(f"git push to {remote} failed: {_cause(proc.stderr, proc.stdout)}")
                out.retries += 1
                time.sleep(random.uniform(0.05, 0.25) * min(attempt + 1, 8))
            raise RemoteError(f"git push to {remote}: other clones kept publishing first; gave up after {ATTEMPTS} "
                              "tries (nothing was lost: run mvtools push again)")
        finally:
            if rem is not None:
                _drop_namespace(repo, rem.tag_refs, adopt=True)


def _reachable_tags(repo: Repo, remote: str) -> set[str]:
    """The tags on commits HEAD or a branch of ``remote`` (as fetched) holds."""
    tips = ["HEAD", *repo.out("for-each-ref", "--format=%(refname)", f"refs/remotes/{remote}/").split()]
    return set(repo.out("for-each-ref", "--format=%(refname:strip=2)", *[f"--merged={t}" for t in tips],
                        "refs/tags").splitlines())


def _push_bytes(reg: "Registry") -> int:
    """Every registered DVC-tracked version's objects, to the DVC remote, before any tag."""
    events = [ev for st in reg.states().values() for ev in st.versions.values() if ev.get("md5") is not None]
    if not events:
        return 0
    from mvtools import dvcio

    try:
        return dvcio.push_events(reg, events)
    except MvtoolsError:
        raise
    except Exception as exc:  # noqa: BLE001 - the DVC remote's own failure, with its cause
        causes: list[str] = []
        e: BaseException | None = exc
        while e is not None and len(causes) < 3:
            causes.append(f"{type(e).__name__}: {' '.join(str(e).split())}".rstrip(": "))
            e = e.__cause__ or e.__context__
        raise RemoteError("DVC push failed: " + " <- ".join(dict.fromkeys(causes))) from None
