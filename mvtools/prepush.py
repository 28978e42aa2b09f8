"""The pre-push hook: what a plain ``git push`` publishes carries its tags and DVC bytes.

A registering commit (one whose ledger gains events: register, promote, archive, ...)
that reaches the remote without its tags lets another clone see a version it cannot tag,
order or ``get``. So when a pushed branch holds ledger events the remote does not have
(in the ledgers of the remote's branch tips this clone knows of: the pushed ref's old value
and the remote-tracking branches), the hook looks at the remote's tags (``git ls-remote``)
and the DVC remote, and, as ``push: {on_git_push: ...}`` in ``mvtools.yaml`` says:

* ``send`` (the default): copies the missing artifacts to the DVC remote, then pushes the
  missing tags itself (``git push --no-verify REMOTE refs/tags/...``: ``--no-verify`` so
  this hook does not run again for them) and lets the push through;
* ``refuse``: refuses the push, naming ``mvtools push REMOTE``, which sends all of it.

A tag pushed on its own (``git push --tags``, ``git push origin clf@v0.1.1``: a push that
updates no branch) is checked the same way: the commit that records its event must be on a
branch of the remote, and a version tag's artifact must be in the DVC remote (sent or refused
as above). Either way a version number that the remote's tag binds to another commit
(another clone published it first) is refused: ``mvtools push`` renumbers this clone's
unpushed registrations. ``push: {dvc: off}`` leaves the DVC remote out of it; ``dvc:
auto`` sends missing bytes even under ``refuse``. The shell hook starts Python only when a
pushed branch changes a watched path or a registry tag is pushed (hooks/pre-push).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from mvtools import ledger as L
from mvtools.config import Config, load_config
from mvtools.errors import CheckFailed
from mvtools.gitops import Repo
from mvtools.hookkit import say
from mvtools.versioning import is_tag_of, parse_tag, version_tag

if TYPE_CHECKING:
    from mvtools.registry import Registry

ZERO = "0" * 40


def _updates(repo: Repo, stdin: str) -> list[tuple[str, str, str, str]]:
    """(local ref, local sha, remote ref, remote sha) of every ref the push creates or
    updates (deletions left out). Under the pre-commit framework, which keeps stdin, the
    one ref it passes in PRE_COMMIT_* variables."""
    out = []
    for line in stdin.splitlines():
        parts = line.split()
        if len(parts) == 4 and set(parts[1]) != {"0"}:
            out.append((parts[0], parts[1], parts[2], parts[3]))
    local = os.environ.get("PRE_COMMIT_LOCAL_BRANCH", "")
    if not out and local:
        sha = os.environ.get("PRE_COMMIT_TO_REF") or repo.out("rev-parse", "--verify", "-q", local, check=False)
        rsha = os.environ.get("PRE_COMMIT_FROM_REF") or ZERO
        if sha:
            out.append((local, sha, os.environ.get("PRE_COMMIT_REMOTE_BRANCH") or local, rsha))
    return out


def refuse_rebinding(repo: Repo, remote: str, refs: list[str]) -> None:
    """I1 across clones: an archive tag ``NAME@V!`` whose version the remote already publishes
    on another commit would bind V to other bytes there (git itself refuses only the version
    tag, which exists on the remote by name): this clone's V is provisional and lost the race."""
    for tag in refs:
        pt = parse_tag(tag)
        if pt is None or pt.kind != "archive" or pt.version is None:
            continue
        vtag = version_tag(pt.model, pt.version)  # either form: NAME@V or GTO's NAME@V#N
        mine = next((c for t, (c, _w) in repo.tags(vtag + "*").items()
                     if is_tag_of(t, pt.model, "version", pt.version)), None)
        theirs = _remote_tags(repo, remote, [vtag, vtag + "#*"])
        published = next((c for t, c in theirs.items()
                          if is_tag_of(t, pt.model, "version", pt.version) and c != mine), None)
        if published and mine is not None:
            raise CheckFailed(f"refusing to push {tag}: {remote} publishes {vtag} on commit {published[:12]}, "
                              f"not on this clone's {mine[:12]}: another clone took {pt.version} first, so "
                              "this clone's number is provisional and is not archived there; nothing was pushed")


def _remote_tags(repo: Repo, remote: str, names: list[str] | None = None) -> dict[str, str]:
    """The remote's tags (all, or ``names``) -> the commit each points at (peeled)."""
    pats = [p for n in names for p in (f"refs/tags/{n}", f"refs/tags/{n}^{{}}")] if names is not None else []
    proc = repo.git("ls-remote", "--tags", "--", remote, *pats, check=False)
    if proc.returncode != 0:
        cause = proc.stderr.decode("utf-8", "replace").strip().replace("\n", " / ")
        raise CheckFailed(f"cannot list the tags of {remote}: {cause or proc.returncode}")
    direct: dict[str, str] = {}
    peeled: dict[str, str] = {}
    for line in proc.stdout.decode("utf-8", "surrogateescape").splitlines():
        obj, _, ref = line.partition("\t")
        name = ref[len("refs/tags/"):]
        if name.endswith("^{}"):
            peeled[name[:-3]] = obj
        else:
            direct[name] = obj
    return {n: peeled.get(n, obj) for n, obj in direct.items()}


def _ledger_names(repo: Repo, cfg: Config, rev: str) -> list[str]:
    out = repo.out("ls-tree", "-r", "--name-only", rev, "--", cfg.registry_dir, check=False)
    return sorted({L.model_of_ledger(cfg.registry_dir, p) for p in out.splitlines()
                   if L.is_ledger_path(cfg.registry_dir, p)})


class _Push:
    """One push: what it publishes, what the remote holds already."""

    def __init__(self, reg: Registry, remote: str, updates: list[tuple[str, str, str, str]]) -> None:
        self.reg, self.repo, self.remote = reg, reg.repo, remote
        self.tags_pushed = {rref[len("refs/tags/"):]: lsha for _l, lsha, rref, _r in updates
                            if rref.startswith("refs/tags/")}
        self.branches = [(lref, lsha) for lref, lsha, rref, _r in updates if not rref.startswith("refs/tags/")]
        known = self.repo.out("for-each-ref", "--format=%(objectname)", f"refs/remotes/{remote}/", check=False)
        tips = {rsha for _l, _s, rref, rsha in updates if not rref.startswith("refs/tags/") and set(rsha) != {"0"}}
        tips.update(known.split())
        # a remote sha this clone has not fetched cannot be read: not counted as held
        order = sorted(tips)
        proc = self.repo.git("cat-file", "--batch-check=%(objecttype)", check=False,
                             input="".join(f"{t}^{{commit}}\n" for t in order).encode())
        kinds = proc.stdout.decode().splitlines()
        self.tips = [t for t, kind in zip(order, kinds) if kind == "commit"]
        self.local_tags = self.repo.tags()

    def _ledgers(self, revs: list[str], name: str) -> list[L.Ledger]:
        rel = self.reg.config.ledger_path(name)
        out = []
        for blob in sorted(set(self.repo.blobs_at(revs, rel).values())):
            try:
                out.append(self.reg.cache.load(self.repo.show_blob(blob) or b"", rel, name))
            except Exception:  # noqa: BLE001 - a broken ledger on the remote holds nothing
                continue
        return out

    def held_ids(self, name: str) -> set[str]:
        return {e["id"] for led in self._ledgers(self.tips, name) for e in led.events}

    def implied(self, name: str, events: list[dict[str, Any]]) -> list[str]:
        """The tags ``events`` (one ledger's) imply (mvtools.tagsync owns the rule)."""
        return [t for t, _c, _m, _ts in self.reg.expected_tags(name, self.local_tags, events)]

    def new_events(self) -> dict[str, tuple[str, list[dict[str, Any]], list[dict[str, Any]]]]:
        """model -> (pushed ref, its ledger's events, the events the remote lacks)."""
        out: dict[str, tuple[str, list[dict[str, Any]], list[dict[str, Any]]]] = {}
        for lref, lsha in self.branches:
            for name in _ledger_names(self.repo, self.reg.config, lsha):
                led = self.reg.ledger_at(lsha, name)
                if led is None:
                    continue
                held = self.held_ids(name)
                new = [e for e in led.events if e["id"] not in held]
                if new and name not in out:
                    out[name] = (lref, led.events, new)
        return out

    def unrecorded_tags(self) -> list[str]:
        """Registry tags pushed on their own whose event no ledger of the remote's branches
        (nor of a branch pushed with them) records."""
        revs = [*self.tips, *(lsha for _l, lsha in self.branches)]
        out, cache = [], {}
        _states, broken = self.reg.readable_states()
        for tag in sorted(self.tags_pushed):
            pt = parse_tag(tag)
            if pt is None:
                continue
            if pt.model in broken:  # a broken ledger holds back its own tags, with its cause
                raise broken[pt.model]
            if pt.model not in cache:
                cache[pt.model] = {t for led in self._ledgers(revs, pt.model) for t in self.implied(pt.model, led.events)}
            if tag not in cache[pt.model]:
                out.append(tag)
        return out

    def branch_holding(self, commit: str) -> str | None:
        """The local branch to push for ``commit``: the current one if it holds it."""
        cur = self.repo.out("symbolic-ref", "-q", "--short", "HEAD", check=False)
        if cur and self.repo.is_ancestor(commit, "HEAD"):
            return cur
        out = self.repo.out("for-each-ref", "--format=%(refname:short)", "--contains", commit, "refs/heads", check=False)
        return out.split()[0] if out.split() else None


def _version_events(reg: Registry, tags: list[str]) -> list[dict[str, Any]]:
    """The register events of the version tags among ``tags`` that record DVC bytes."""
    states, broken = reg.readable_states()  # a broken ledger holds back its own tags only
    out = []
    for tag in tags:
        pt = parse_tag(tag)
        if pt is None or pt.kind != "version":
            continue
        if pt.model in broken:
            raise broken[pt.model]
        st = states.get(pt.model)
        ev = st.versions.get(pt.version or "") if st else None
        if ev is not None and ev.get("md5"):
            out.append(ev)
    return out


def pre_push(repo: Repo, stdin: str, remote: str | None = None) -> int:
    """The pre-push hook (module docstring)."""
    if os.environ.get("MVTOOLS_SKIP") == "1":
        return 0
    remote = remote or os.environ.get("PRE_COMMIT_REMOTE_NAME") or "origin"
    updates = _updates(repo, stdin)
    pushed_tags = [rref[len("refs/tags/"):] for _l, _s, rref, _r in updates if rref.startswith("refs/tags/")]
    refuse_rebinding(repo, remote, pushed_tags)
    cfg = load_config(repo.root)
    from mvtools.registry import Registry

    push = _Push(Registry(repo=repo, config=cfg), remote, updates)
    new = push.new_events() if push.branches else {}
    # tags pushed alone (no branch with them); a push with a branch (mvtools push sends every
    # registry tag with it) is judged by the events the branch adds
    unrecorded = push.unrecorded_tags() if not push.branches else []
    if not new and not unrecorded and not any(parse_tag(t) for t in pushed_tags):
        return 0
    send = cfg.push.on_git_push == "send"
    if unrecorded:
        _refuse_unrecorded(push, unrecorded, send)
    owed: list[str] = []
    racing: list[dict[str, Any]] = []
    wanted = _version_events(push.reg, pushed_tags)
    for name, (_lref, events, added) in new.items():
        owed += [t for t in push.implied(name, events) if t not in push.tags_pushed]
        # a version tag pushed now is refused by git itself when the remote has the name
        racing += [e for e in added if e["event"] == "register" and e.get("tag") not in push.tags_pushed]
        wanted += [e for e in added if e["event"] == "register" and e.get("md5")]
    remote_tags = _remote_tags(repo, remote) if owed or racing else {}
    _refuse_clash(push, remote_tags, racing)
    if new:
        _refuse_behind(push, updates)
    owed = [t for t in owed if t not in remote_tags]
    owed = sorted(set(owed))
    lost = [t for t in owed if t not in push.local_tags]
    if lost:
        raise CheckFailed(f"refusing to push: this clone lacks the tags {', '.join(lost)} that the pushed ledgers "
                          "record (GTO and other clones could not see those versions); run: mvtools sync-tags")
    missing = _missing_bytes(push.reg, wanted) if cfg.push.dvc != "off" else []
    if missing and (send or cfg.push.dvc == "auto"):
        from mvtools import dvcio

        dvcio.push_events(push.reg, missing)
        say(f"sent the artifacts of {', '.join(e['tag'] for e in missing)} to the DVC remote")
        missing = dvcio.missing_in_remote(push.reg, missing)
    if (owed and not send) or missing:
        what = ([f"the tags {', '.join(owed)} ({remote} lacks them)"] if owed and not send else []) + \
               ([f"the artifacts of {', '.join(e['tag'] for e in missing)} (the DVC remote lacks them)"]
                if missing else [])
        raise CheckFailed(f"refusing to push: it would publish registry events without {' and '.join(what)}; "
                          f"run: mvtools push {remote}")
    if owed:
        _send_tags(push, owed)
    return 0


def _missing_bytes(reg: Registry, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    if not events:
        return []
    from mvtools import dvcio

    uniq = list({e["id"]: e for e in events}.values())
    return dvcio.missing_in_remote(reg, uniq)


def _refuse_clash(push: _Push, remote_tags: dict[str, str], added: list[dict[str, Any]]) -> None:
    """A version the remote's tag binds to another commit: another clone published the
    number first, so this clone's registration is provisional (I1). The version is compared,
    not the tag's name: GTO's counter form spells one version many ways (NAME@V#4, NAME@V#5)."""
    for ev in added:
        tag = ev.get("tag")
        if ev["event"] != "register" or not isinstance(tag, str):
            continue
        mine = push.local_tags.get(tag)
        theirs = next((t for t, c in sorted(remote_tags.items()) if is_tag_of(t, ev["model"], "version", ev["version"])
                       and (mine is None or c != mine[0])), None)
        if theirs is not None:
            tag = theirs
            raise CheckFailed(f"refusing to push: {push.remote} publishes {tag} on commit {remote_tags[tag][:12]}, "
                              f"not on this clone's {(mine[0][:12] if mine else 'registration')}: another clone "
                              f"took {ev['version']} first; run: mvtools push {push.remote} (it renumbers "
                              "unpushed registrations)")


def _refuse_behind(push: _Push, updates: list[tuple[str, str, str, str]]) -> None:
    """A pushed branch that does not contain the remote's tip (the remote value git read at
    this push): git will refuse it as not a fast-forward after this hook has run, so its tags
    and bytes are not sent first (they would publish versions on commits no remote branch
    holds); ``mvtools push`` puts this clone's commits on the remote's and pushes them."""
    for lref, lsha, rref, rsha in updates:
        if rref.startswith("refs/tags/") or set(rsha) == {"0"} or push.repo.is_ancestor(rsha, lsha):
            continue
        branch = lref[len("refs/heads/"):] if lref.startswith("refs/heads/") else lref
        cur = push.repo.out("symbolic-ref", "-q", "--short", "HEAD", check=False)
        run = f"mvtools push {push.remote}" if branch == cur else f"git switch {branch} && mvtools push {push.remote}"
        raise CheckFailed(f"refusing to push: {push.remote}'s {rref.removeprefix('refs/heads/')} has commits this "
                          f"clone lacks, so git would refuse {branch} after its registry tags were sent; nothing "
                          f"was pushed; run: {run} (it puts this clone's commits on {push.remote}'s, renumbering "
                          "what clashes)")


def _refuse_unrecorded(push: _Push, tags: list[str], send: bool) -> None:
    first = tags[0]
    commit = push.local_tags.get(first, (push.tags_pushed.get(first, ""), 0))[0]
    branch = push.branch_holding(commit) if commit else None
    if branch is None:
        hint = "merge it into a branch and push that branch"
    elif send:
        hint = f"run: git push {push.remote} {branch}"
    elif branch == push.repo.out("symbolic-ref", "-q", "--short", "HEAD", check=False):
        hint = f"run: mvtools push {push.remote}"
    else:
        hint = f"run: git switch {branch} && mvtools push {push.remote}"
    raise CheckFailed(f"refusing to push {', '.join(tags)}: no branch of {push.remote} records their events "
                      f"(its clones would see a version their ledgers lack); push the branch first: {hint}")


def _send_tags(push: _Push, tags: list[str]) -> None:
    """Push the tags a registering push owes, from inside the hook (--no-verify: this hook
    does not run again for them)."""
    proc = push.repo.git("push", "--no-verify", "--quiet", "--", push.remote,
                         *[f"refs/tags/{t}:refs/tags/{t}" for t in tags], check=False)
    if proc.returncode != 0:
        cause = " / ".join(ln.strip() for ln in proc.stderr.decode("utf-8", "replace").splitlines() if ln.strip())
        raise CheckFailed(f"refusing to push: sending the tags {', '.join(tags)} to {push.remote} failed ({cause}); "
                          f"nothing else was pushed; run: mvtools push {push.remote}")
    say(f"sent the tags {', '.join(tags)} to {push.remote} with this push")
