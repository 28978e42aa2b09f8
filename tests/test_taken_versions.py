"""`register` reads the refs once and only what it needs (issue 14 c: register flat in the
number of versions): one unpeeled `git for-each-ref` gives the model's version tags, the
tips whose ledgers may hold its versions (every ref, the tags of other models included,
and HEAD) and the tag names that decide the counter form. These tests hold that path equal
to the one it replaced (every ref tip peeled, the model's tags and all tags read apart) on
the states where a version is held by something other than the work tree's ledger: another
branch, a tag on a commit no branch holds, a detached HEAD, a remote-tracking branch, a
filter-branch backup ref, a ledger only a later tag of the model still reaches."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from conftest import git, head, init_repo, mvtools, write_model
from mvtools.errors import ConfigError
from mvtools.registry import Registry
from mvtools.transaction import live_reservations
from mvtools.versioning import Version, model_tag_pattern, new_tag, parse_tag


def old_taken(reg: Registry, name: str, extra: list[dict[str, Any]] | None = None) -> set[Version]:
    """``taken_versions`` as it was: the model's version tags by pattern, the ledger at every
    ref tip (tags peeled), the reservations."""
    vs = {Version(v) for v in reg.state(name, new_ok=True).versions}
    vs.update(Version(e["version"]) for e in extra or [] if e.get("event") == "register")
    for tag in reg.repo.tags(model_tag_pattern(name, versions_only=True)):
        p = parse_tag(tag)
        if p and p.version and p.model == name:
            vs.add(Version(p.version))
    rel = reg.config.ledger_path(name)  # the ledger at every ref tip, tags peeled, each blob parsed
    text = reg.repo.out("for-each-ref", "--format=%(objectname) %(*objectname)")
    tips = {line.split()[-1] for line in text.splitlines() if line.strip()} | {str(reg.repo.head)}
    blobs = reg.repo.read_blobs(sorted(set(reg.repo.blobs_at(sorted(tips), rel).values())))
    for data in blobs.values():
        try:
            events = reg.cache.load(data, rel, name).events
        except ConfigError:
            continue
        vs.update(Version(e["version"]) for e in events if e["event"] == "register")
    vs.update(Version(r["version"]) for r in live_reservations(reg.repo, name) if isinstance(r.get("version"), str))
    return vs


def same_as_before(r: Path, *names: str) -> None:
    reg = Registry(r)
    refs = reg.repo.refs()
    for name in names:
        assert reg.taken_versions(name) == old_taken(reg, name), name
        assert reg.taken_versions(name, refs=refs) == old_taken(reg, name), name
        tag_names = [ref[10:] for ref, _ in refs if ref.startswith("refs/tags/")]
        for v in ("v9.9.9", "v0.1.0"):
            assert new_tag(tag_names, name, "version", v) == new_tag(reg.repo.tags(), name, "version", v)


def register(r: Path, name: str, content: str) -> str:
    write_model(r, f"models/{name}.bin", content)
    out = mvtools(r, "register", name).stdout
    return out.split()[2]  # "registered NAME vX.Y.Z (...)"


@pytest.fixture
def r(tmp_path: Path) -> Path:
    repo = init_repo(tmp_path / "repo", "  - name: clf\n    path: models/clf.bin\n"
                                         "  - name: other\n    path: models/other.bin\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "set up mvtools")
    register(repo, "clf", "c0")
    register(repo, "other", "o0")
    return repo


def test_a_version_on_another_branch_or_only_on_a_tag_or_a_detached_head(r: Path) -> None:
    git(r, "checkout", "-q", "-b", "side")
    assert register(r, "clf", "side 1") == "v0.1.1"  # held by the branch side
    git(r, "checkout", "-q", "--detach")
    assert register(r, "clf", "detached") == "v0.1.2"  # held by its tag only, once HEAD moves
    git(r, "checkout", "-q", "main")
    same_as_before(r, "clf", "other")
    assert register(r, "clf", "main 1") == "v0.1.3"


def test_a_version_whose_tag_is_gone_held_by_a_ref_that_is_not_a_branch(r: Path) -> None:
    for ref in ("refs/remotes/origin/feature", "refs/original/refs/heads/old", "refs/stash-like/x"):
        git(r, "checkout", "-q", "-b", "tmp")
        v = register(r, "clf", f"bytes for {ref}")
        git(r, "tag", "-d", f"clf@{v}")
        git(r, "update-ref", ref, head(r))
        git(r, "checkout", "-q", "main")
        git(r, "branch", "-q", "-D", "tmp")
        reg = Registry(r)
        assert Version(v) in reg.taken_versions("clf"), ref
        same_as_before(r, "clf", "other")


def test_a_version_whose_tag_and_branch_are_gone_held_by_a_later_tag_of_the_model(r: Path) -> None:
    git(r, "checkout", "-q", "-b", "gone")
    lost = register(r, "clf", "lost tag")
    git(r, "tag", "-d", f"clf@{lost}")
    kept = register(r, "clf", "kept tag")
    git(r, "checkout", "-q", "main")
    git(r, "branch", "-q", "-D", "gone")
    reg = Registry(r)
    assert {Version(lost), Version(kept)} <= reg.taken_versions("clf")
    same_as_before(r, "clf", "other")
    assert register(r, "clf", "next") not in (lost, kept)


def test_many_tags_of_a_model_on_one_line_of_history_read_as_before(r: Path) -> None:
    """Each version tag's commit holds a longer ledger: the prefixes are skipped, the
    versions are the same."""
    for i in range(6):
        register(r, "clf", f"line {i}")
    git(r, "checkout", "-q", "-b", "fork", "HEAD~3")
    register(r, "clf", "fork")
    git(r, "checkout", "-q", "main")
    same_as_before(r, "clf", "other")
    facts = [json.loads(p.read_text()) for p in (r / ".git" / "mvtools" / "cache" / "ledgers").glob("tips-*.json")]
    assert max(len(f["prefix"]) for f in facts) >= 5, facts  # the earlier ledgers are known prefixes
    register(r, "clf", "after")
    same_as_before(r, "clf", "other")


def test_the_counter_form_and_its_counter_are_decided_as_before(r: Path) -> None:
    commit = head(r)
    git(r, "tag", "-a", "-m", "gto", "other@v0.0.9#4", commit)  # GTO's counter form, another model
    git(r, "tag", "-a", "-m", "gto", "clf#prod#7", commit)
    same_as_before(r, "clf", "other")
    reg = Registry(r)
    tag_names = [ref[10:] for ref, _ in reg.repo.refs() if ref.startswith("refs/tags/")]
    assert new_tag(tag_names, "clf", "version", "v0.2.0") == "clf@v0.2.0#8"


def test_register_reads_the_refs_once_and_peels_no_tag_of_another_model(r: Path, tmp_path: Path) -> None:
    """The for-each-ref calls of a `register`, traced: one unpeeled listing of every ref;
    any call that reads tag objects (peels, dates) is limited to the model's own tags."""
    for i in range(3):
        register(r, "other", f"other {i}")
    trace = tmp_path / "trace.txt"
    write_model(r, "models/clf.bin", "traced")
    mvtools(r, "register", "clf", env={"GIT_TRACE": str(trace)})
    calls = [line.split("trace: built-in: git ", 1)[1] for line in trace.read_text().splitlines()
             if "trace: built-in: git for-each-ref" in line]
    listings = [c for c in calls if c == "for-each-ref '--format=%(refname) %(objectname)'"]
    assert len(listings) == 1, calls
    for c in calls:
        if "*objectname" in c or "creatordate" in c:
            assert "refs/tags/clf" in c, c  # the model's own tags only (the new tag's check)


def test_the_tip_cache_is_never_the_truth(r: Path) -> None:
    """The ledger blob at each tip is cached (an object's blob at a path never changes);
    a garbage, foreign or deleted cache file changes nothing, and a deleted tag's entry
    does not keep its version."""
    git(r, "checkout", "-q", "-b", "side")
    v = register(r, "clf", "side")
    git(r, "checkout", "-q", "main")
    same_as_before(r, "clf", "other")  # fills the cache, then reads through it
    cache = r / ".git" / "mvtools" / "cache" / "ledgers"
    tips = sorted(cache.glob("tips-*.json"))
    assert tips
    tip = git(r, "rev-parse", "HEAD:registry/clf.yaml").stdout.strip()  # a forged cycle ends
    cycle = json.dumps({"format": 4, "blobs": {}, "prefix": {tip: "a" * 40, "a" * 40: "b" * 40, "b" * 40: "a" * 40}})
    for garbage in ('{"format": 4, "blobs": {"x": 1}}', "not json", '{"format": 4, "blobs": []}', "", cycle,
                    '{"format": 4, "blobs": {}, "prefix": {"x": "y", "y": "x"}}'):
        for t in tips:
            t.write_text(garbage)
        same_as_before(r, "clf", "other")
    git(r, "branch", "-q", "-D", "side")
    git(r, "tag", "-d", f"clf@{v}")
    reg = Registry(r)
    assert Version(v) not in reg.taken_versions("clf")  # no ref holds it any more
    same_as_before(r, "clf", "other")


def test_the_ledger_at_tips_peeled_first_is_the_ledger_at_each_tip(tmp_path: Path) -> None:
    """Repo.blobs_at_tips (tips peeled to their commits, the path read once per commit)
    answers as blobs_at (`TIP:path` for each): annotated, nested, lightweight tags, a
    branch, a tag of a tree and of a blob, a commit without the path."""
    from mvtools.gitops import Repo

    r = tmp_path / "r"
    r.mkdir()
    git(r, "init", "-q")
    write_model(r, "other.txt", "no ledger yet")
    git(r, "add", "-A")
    git(r, "commit", "-q", "-m", "before")
    git(r, "tag", "early")
    write_model(r, "registry/m.yaml", "ledger 1\n")
    git(r, "add", "-A")
    git(r, "commit", "-q", "-m", "one")
    git(r, "tag", "-a", "-m", "a", "m@v0.1.0")
    git(r, "tag", "-a", "-m", "b", "other@v0.1.0")
    git(r, "tag", "light")
    git(r, "tag", "-a", "-m", "nested", "nested", "m@v0.1.0")
    tree = git(r, "rev-parse", "HEAD^{tree}").stdout.strip()
    git(r, "tag", "-a", "-m", "tree", "of-tree", tree)
    blob = git(r, "rev-parse", "HEAD:other.txt").stdout.strip()
    git(r, "tag", "-a", "-m", "blob", "of-blob", blob)
    write_model(r, "registry/m.yaml", "ledger 1\nledger 2\n")
    git(r, "commit", "-qam", "two")
    repo = Repo.discover(r)
    tips = [oid for _ref, oid in repo.refs()] + [str(repo.head)]
    want = repo.blobs_at(tips, "registry/m.yaml")
    assert repo.blobs_at_tips(tips, "registry/m.yaml", peel_from=2) == want
    assert repo.blobs_at_tips(tips, "registry/m.yaml") == want
    assert len(set(want.values())) == 2 and len(want) == len(set(tips)) - 2  # not `early`, not of-blob


def test_tips_whose_commit_has_no_ledger_are_said_once(tmp_path: Path) -> None:
    """blobs_at_tips names the tips whose commit is there without the path (`absent`), so the
    tip cache keeps that fact and a later registration does not ask git about them again;
    a tag of a blob (no commit) is not such a fact."""
    from mvtools.gitops import Repo

    r = tmp_path / "r"
    r.mkdir()
    git(r, "init", "-q")
    write_model(r, "other.txt", "no ledger yet")
    git(r, "add", "-A")
    git(r, "commit", "-q", "-m", "before")
    git(r, "tag", "-a", "-m", "early", "early")
    blob = git(r, "rev-parse", "HEAD:other.txt").stdout.strip()
    git(r, "tag", "-a", "-m", "blob", "of-blob", blob)
    write_model(r, "registry/m.yaml", "ledger 1\n")
    git(r, "add", "-A")
    git(r, "commit", "-q", "-m", "one")
    git(r, "tag", "-a", "-m", "a", "m@v0.1.0")
    repo = Repo.discover(r)
    oid = dict(repo.refs())
    absent: set[str] = set()
    found = repo.blobs_at_tips(list(oid.values()), "registry/m.yaml", peel_from=2, absent=absent)
    assert absent == {oid["refs/tags/early"]}
    assert set(found) == {oid["refs/tags/m@v0.1.0"], str(repo.head)}
