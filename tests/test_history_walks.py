"""Found in review: history walks that git's default simplification (or `log -S` without
`-m`) cut short. Each case reproduced first."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import git, mvtools, set_up_mvtools, tags, write_model


def _commit(r: Path, content: str, msg: str) -> None:
    write_model(r, "models/clf.bin", content)
    git(r, "add", "-A")
    git(r, "commit", "-q", "-m", msg)


def _verify(r: Path) -> tuple[int, list[str]]:
    proc = mvtools(r, "verify", "--json", check=False)
    return proc.returncode, sorted(p["kind"] for p in json.loads(proc.stdout)["problems"])


def _clf(repo: Path) -> Path:
    r = set_up_mvtools(repo, "models:\n  - name: clf\n    path: models/clf.bin")
    _commit(r, "one\n", "m1")
    return r


def test_a_merge_that_keeps_its_first_parents_ledger_and_drops_the_other_sides(repo: Path) -> None:
    """`git merge -s ours` drops the side's register event; the merge's ledger equals its
    first parent's, so `git log -- registry` without --full-history never showed it."""
    r = _clf(repo)
    git(r, "checkout", "-q", "-b", "feat")
    _commit(r, "two\n", "feat")
    git(r, "checkout", "-q", "main")
    git(r, "merge", "-q", "-s", "ours", "--no-edit", "feat")
    rc, problems = _verify(r)
    assert rc == 1 and "rewrite" in problems, problems


def test_a_version_registered_by_a_merge_is_found_again(repo: Path) -> None:
    """A version registered by the merge commit itself (a conflict resolved with new bytes):
    `log -S` without -m never looked at merges, so sync-tags could not recreate its tag."""
    r = _clf(repo)
    git(r, "checkout", "-q", "-b", "feat")
    _commit(r, "feat bytes\n", "feat")
    git(r, "checkout", "-q", "main")
    _commit(r, "main bytes\n", "main")
    assert git(r, "merge", "-q", "--no-edit", "feat", check=False).returncode != 0
    git(r, "checkout", "-q", "--theirs", "--", "registry/clf.yaml")  # the driver has united them
    write_model(r, "models/clf.bin", "merged bytes\n")
    git(r, "add", "-A")
    git(r, "commit", "-q", "--no-edit")
    events = json.loads(mvtools(r, "history", "clf", "--json").stdout)["events"]
    merged = [e["tag"] for e in events if e["event"] == "register"][-1]
    merge_commit = git(r, "rev-parse", "HEAD").stdout.strip()
    assert tags(r)[merged] == merge_commit
    git(r, "tag", "-d", merged)
    mvtools(r, "sync-tags")
    assert tags(r)[merged] == merge_commit
    assert _verify(r) == (0, [])


def test_deprecating_on_two_branches_settles(repo: Path) -> None:
    """Each branch's deprecate event; one shared tag. verify on either branch used to ask
    sync-tags to move it to that branch's commit, flip-flopping for ever."""
    r = _clf(repo)
    git(r, "branch", "b")
    mvtools(r, "deprecate", "clf", "-m", "on main")
    git(r, "checkout", "-q", "b")
    mvtools(r, "deprecate", "clf", "-m", "on b")
    assert _verify(r) == (0, [])
    git(r, "checkout", "-q", "main")
    assert _verify(r) == (0, [])
