"""`git revert` runs no pre-commit hook, so a revert of a registering (or promoting) commit
drops ledger events (I3 broken). verify reports it once, with a repair that works as
printed: `mvtools restore-events NAME` appends the dropped events again in one commit, after
which verify passes; the versions stay taken. Found by the state machine (test_state_machine.py).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from conftest import git, mvtools, run, set_up_mvtools, tags, write_model


def _commit(r: Path, rel: str, content: str, msg: str) -> None:
    write_model(r, rel, content)
    git(r, "add", "-A")
    git(r, "commit", "-q", "-m", msg)


def _verify(r: Path) -> tuple[int, list[dict[str, str]]]:
    proc = mvtools(r, "verify", "--json", check=False)
    return proc.returncode, json.loads(proc.stdout)["problems"]


def _run_repairs(r: Path, problems: list[dict[str, str]]) -> list[str]:
    cmds = sorted({m.group(1) for p in problems for m in [re.search(r"run: (.+)$", p["message"])] if m})
    for cmd in cmds:
        fix = run(["sh", "-c", cmd], r, check=False)
        assert fix.returncode == 0, (cmd, fix.stdout, fix.stderr)
    return cmds


def _registered(r: Path, name: str) -> list[str]:
    doc = json.loads(mvtools(r, "history", name, "--json").stdout)
    evs = doc["events"] if isinstance(doc, dict) else doc
    return [e["version"] for e in evs if e["event"] == "register"]


def test_revert_of_a_registering_commit_is_mended_by_the_printed_repair(repo: Path) -> None:
    r = set_up_mvtools(repo, "models:\n  - name: clf\n    path: models/clf.bin")
    _commit(r, "models/clf.bin", "one\n", "m1")
    _commit(r, "models/clf.bin", "two\n", "m2")
    proc = git(r, "revert", "--no-edit", "HEAD")
    assert "without registering" not in proc.stderr, proc.stderr  # the bytes are v0.1.0's: registered
    rc, problems = _verify(r)
    assert rc == 1 and [p["kind"] for p in problems] == ["rewrite"], problems
    assert _run_repairs(r, problems) == ["mvtools restore-events clf"]
    assert _verify(r) == (0, [])
    assert _registered(r, "clf") == ["v0.1.0", "v0.1.1"]
    _commit(r, "models/clf.bin", "three\n", "m3")  # the next number: v0.1.1 stays taken
    assert _registered(r, "clf") == ["v0.1.0", "v0.1.1", "v0.1.2"]
    assert _verify(r) == (0, [])


def test_revert_of_the_commit_that_made_the_ledger(repo: Path) -> None:
    """The revert deletes the model and its ledger: one problem (no follow-on `unregistered`
    whose `mvtools register` would fail on a deleted model), mended as printed."""
    r = set_up_mvtools(repo, "models:\n  - name: clf\n    path: models/clf.bin")
    _commit(r, "models/clf.bin", "one\n", "m1")
    git(r, "revert", "--no-edit", "HEAD")
    assert not (r / "registry" / "clf.yaml").exists()
    rc, problems = _verify(r)
    assert rc == 1 and [p["kind"] for p in problems] == ["rewrite"], problems
    _run_repairs(r, problems)
    assert _verify(r) == (0, [])
    assert "clf@v0.1.0" in tags(r)


def test_restore_events_with_nothing_dropped_is_a_usage_error(repo: Path) -> None:
    r = set_up_mvtools(repo, "models:\n  - name: clf\n    path: models/clf.bin")
    _commit(r, "models/clf.bin", "one\n", "m1")
    proc = mvtools(r, "restore-events", "clf", check=False)
    assert proc.returncode == 2 and proc.stderr.startswith("mvtools: error: clf: HEAD's ledger holds every event")


def test_the_same_version_archived_in_two_worktrees(repo: Path, tmp_path: Path) -> None:
    """Was exit 3 after the second archive event was committed (the tag existed)."""
    r = set_up_mvtools(repo, "models:\n  - name: clf\n    path: models/clf.bin")
    _commit(r, "models/clf.bin", "one\n", "m1")
    wt = tmp_path / "wt2"
    git(r, "worktree", "add", "-q", "-b", "side", str(wt))
    mvtools(r, "archive", "clf", "v0.1.0")
    proc = mvtools(wt, "archive", "clf", "v0.1.0", check=False)
    assert proc.returncode == 0, proc.stderr
    assert "clf@v0.1.0!" in tags(r)
    assert _verify(r) == (0, []) and _verify(wt) == (0, [])


def test_revert_of_a_promote_gets_one_repair(repo: Path) -> None:
    """Found by the state machine: verify printed `restore-events` and `git tag -d` of the
    promote's stage tag; run both, the tag was missing again. Now only the root cause."""
    r = set_up_mvtools(repo, "models:\n  - name: clf\n    path: models/clf.bin")
    _commit(r, "models/clf.bin", "one\n", "m1")
    mvtools(r, "promote", "clf", "v0.1.0", "production")
    git(r, "revert", "--no-edit", "HEAD")
    rc, problems = _verify(r)
    assert rc == 1 and [p["kind"] for p in problems] == ["rewrite"], problems
    assert _run_repairs(r, problems) == ["mvtools restore-events clf"]
    assert _verify(r) == (0, [])
    assert "clf#production#1" in tags(r)
