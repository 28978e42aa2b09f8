"""The write transaction (mvtools/transaction.py): registry commands commit and tag under
the lock and put files back on failure; the hooks reserve a version in pre-commit and
confirm it with the tag in post-commit, so two commits can never take one version and an
aborted commit leaves nothing behind."""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import pytest
from conftest import git, mvtools, repo_snapshot, set_up_mvtools, tags, write_model

from mvtools.transaction import _alive

pytestmark = pytest.mark.slow


def _reservations(repo: Path) -> list[dict[str, object]]:
    common = Path(git(repo, "rev-parse", "--git-common-dir").stdout.strip())
    d = (repo / common if not common.is_absolute() else common) / "mvtools" / "reservations"
    return [json.loads(f.read_text()) for f in sorted(d.glob("*.json"))] if d.is_dir() else []


def _registered_events(repo: Path, rev: str = "HEAD") -> list[dict[str, object]]:
    out = json.loads(mvtools(repo, "history", "clf", "--json").stdout)
    return [e for e in out["events"] if e["event"] == "register"]


def _hook(repo: Path, name: str, body: str) -> None:
    hooks = Path(git(repo, "rev-parse", "--git-path", "hooks").stdout.strip())
    p = (repo / hooks) / name
    p.write_text("#!/bin/sh\n" + body)
    p.chmod(0o755)


def test_registering_commit_tags_without_starting_python(git_model_repo: Path) -> None:
    """post-commit confirms the reservation in shell: the tag is there, the reservation and
    the pending lines are gone, and the message says `registered` once."""
    repo = git_model_repo
    write_model(repo, "models/clf.bin", b"v1")
    git(repo, "add", "-A")
    proc = git(repo, "commit", "-q", "-m", "train")
    assert proc.stderr.count("registered clf v0.1.0") == 1, proc.stderr
    assert tags(repo)["clf@v0.1.0"] == git(repo, "rev-parse", "HEAD").stdout.strip()
    assert _reservations(repo) == []
    assert not (repo / ".git" / "mvtools" / "pending").exists()


@pytest.mark.parametrize("abort", ["empty message", "commit-msg hook fails"])
def test_aborted_commit_leaves_nothing_behind(git_model_repo: Path, abort: str) -> None:
    """The commit never happens: no tag, no `registered` line, no live reservation, no lock;
    the retried commit keeps the staged number."""
    repo = git_model_repo
    write_model(repo, "models/clf.bin", b"v1")
    git(repo, "add", "-A")
    if abort == "empty message":
        proc = git(repo, "commit", "-q", "-m", "", check=False)
    else:
        _hook(repo, "commit-msg", "echo 'commit-msg: refused' >&2; exit 1\n")
        proc = git(repo, "commit", "-q", "-m", "train", check=False)
    assert proc.returncode != 0
    assert "registered" not in proc.stderr, proc.stderr
    assert "clf@v0.1.0" not in tags(repo)
    # the reservation's owner (that git commit) is gone: it holds nothing
    assert not any(_alive(r["owner"]) for r in _reservations(repo))
    out = mvtools(repo, "show", "--json")  # no lock held: a reader and a writer run at once
    assert out.returncode == 0
    _hook(repo, "commit-msg", "exit 0\n")
    proc = git(repo, "commit", "-q", "-m", "train")
    assert "registered clf v0.1.0" in proc.stderr
    assert "clf@v0.1.0" in tags(repo) and _reservations(repo) == []


def _paused_commit(repo: Path, go: Path, content: bytes) -> subprocess.Popen[str]:
    """Stage ``content`` as the model and start `git commit`; it stops in its commit-msg hook
    (after pre-commit reserved the version) until ``go`` exists: a user still typing the
    message. Hooks live in the common dir: the hook pauses only the commit that asks it to."""
    _hook(repo, "commit-msg", 'if [ -n "$MVTOOLS_TEST_GO" ]; then i=0; while [ ! -f "$MVTOOLS_TEST_GO" ] '
                              '&& [ $i -lt 600 ]; do sleep 0.1; i=$((i+1)); done; fi\n')
    write_model(repo, "models/clf.bin", content)
    git(repo, "add", "-A")
    proc = subprocess.Popen(["git", "commit", "-q", "-m", "slow"], cwd=repo, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env={**os.environ, "MVTOOLS_TEST_GO": str(go)})
    _wait_for(lambda: len(_reservations(repo)) == 1, "the paused commit's reservation")
    return proc


def _wait_for(cond, what: str, timeout: float = 60) -> None:  # type: ignore[no-untyped-def]
    end = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > end:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def test_two_worktrees_committing_at_once_take_distinct_versions(git_model_repo: Path, tmp_path: Path) -> None:
    """Before, the lock was released before the tag existed: a commit in another linked
    worktree took the same version with other bytes. Now the first commit's reservation
    holds the number until its post-commit tags it."""
    repo = git_model_repo
    wt = tmp_path / "wt"
    git(repo, "worktree", "add", "-q", "-b", "other", str(wt))
    go = tmp_path / "go"
    slow = _paused_commit(repo, go, b"bytes of the first worktree")
    assert _reservations(repo)[0]["version"] == "v0.1.0"
    write_model(wt, "models/clf.bin", b"bytes of the second worktree")
    git(wt, "add", "-A")
    fast = git(wt, "commit", "-q", "-m", "fast")
    assert "registered clf v0.1.1" in fast.stderr, fast.stderr  # v0.1.0 is reserved
    go.write_text("")
    out, err = slow.communicate(timeout=120)
    assert slow.returncode == 0, err
    assert "registered clf v0.1.0" in err
    t = tags(repo)
    assert t["clf@v0.1.0"] == git(repo, "rev-parse", "main").stdout.strip()
    assert t["clf@v0.1.1"] == git(repo, "rev-parse", "other").stdout.strip()
    assert _reservations(repo) == []
    shas = {git(repo, "show", f"{tag}:models/clf.bin").stdout for tag in ("clf@v0.1.0", "clf@v0.1.1")}
    assert len(shas) == 2


def test_register_in_another_worktree_skips_a_reserved_version(git_model_repo: Path, tmp_path: Path) -> None:
    """`mvtools register` takes the lock a paused commit no longer holds, but not its number."""
    repo = git_model_repo
    wt = tmp_path / "wt"
    git(repo, "worktree", "add", "-q", "-b", "other", str(wt))
    go = tmp_path / "go"
    slow = _paused_commit(repo, go, b"bytes of the paused commit")
    write_model(wt, "models/clf.bin", b"bytes registered meanwhile")
    out = json.loads(mvtools(wt, "register", "clf", "--json").stdout)
    assert out["version"] == "v0.1.1"  # v0.1.0 is reserved by the paused commit
    go.write_text("")
    _out, err = slow.communicate(timeout=120)
    assert slow.returncode == 0 and "registered clf v0.1.0" in err, err
    t = tags(repo)
    assert t["clf@v0.1.0"] == git(repo, "rev-parse", "main").stdout.strip()
    assert t["clf@v0.1.1"] == git(repo, "rev-parse", "other").stdout.strip()


def test_sync_tags_leaves_a_commit_under_way_alone(git_model_repo: Path, tmp_path: Path) -> None:
    """sync-tags drops staged events no commit will hold (a killed registration), but not
    the one a commit paused in its editor has reserved: that commit still lands, tagged."""
    repo = git_model_repo
    go = tmp_path / "go"
    slow = _paused_commit(repo, go, b"v1")
    out = json.loads(mvtools(repo, "sync-tags", "--json").stdout)
    assert out["restored"] == [], out
    go.write_text("")
    _out, err = slow.communicate(timeout=120)
    assert slow.returncode == 0 and "registered clf v0.1.0" in err, err
    assert tags(repo)["clf@v0.1.0"] == git(repo, "rev-parse", "HEAD").stdout.strip()


def test_retried_commit_renumbers_when_its_number_was_taken(git_model_repo: Path, tmp_path: Path) -> None:
    """An aborted commit's staged v0.1.0 is free for others (its owner is gone); when another
    worktree publishes v0.1.0 first, the retried commit takes the next number instead of
    binding v0.1.0 to other bytes."""
    repo = git_model_repo
    wt = tmp_path / "wt"
    git(repo, "worktree", "add", "-q", "-b", "other", str(wt))
    write_model(repo, "models/clf.bin", b"first")
    git(repo, "add", "-A")
    assert git(repo, "commit", "-q", "-m", "", check=False).returncode != 0
    write_model(wt, "models/clf.bin", b"second")
    git(wt, "add", "-A")
    assert "registered clf v0.1.0" in git(wt, "commit", "-q", "-m", "other").stderr
    proc = git(repo, "commit", "-q", "-m", "retry")
    assert "was taken by another commit since it was staged; renumbering" in proc.stderr
    assert "registered clf v0.1.1" in proc.stderr
    t = tags(repo)
    assert t["clf@v0.1.1"] == git(repo, "rev-parse", "main").stdout.strip()
    assert t["clf@v0.1.0"] == git(repo, "rev-parse", "other").stdout.strip()
    ledger = git(repo, "show", "main:registry/clf.yaml").stdout
    assert "v0.1.0" not in ledger and "v0.1.1" in ledger


def test_failed_command_commit_restores_every_file(git_model_repo: Path) -> None:
    """A registry command whose commit fails (here a user's own pre-commit hook, chained
    before mvtools', refuses it) leaves the ledger, the index and the tags as they were."""
    repo = git_model_repo
    with open(repo / "mvtools.yaml", "a") as fh:
        fh.write("environments:\n  prod: {}\n")
    write_model(repo, "models/clf.bin", b"v1")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "train")
    hooks = repo / ".git" / "hooks"
    (hooks / "pre-commit.mvtools-chained").write_text("#!/bin/sh\necho 'no commits today' >&2\nexit 1\n")
    (hooks / "pre-commit.mvtools-chained").chmod(0o755)
    before = repo_snapshot(repo)
    for args in (["promote", "clf", "v0.1.0", "staging"], ["archive", "clf", "v0.1.0"], ["deprecate", "clf"],
                 ["deploy", "start", "clf", "v0.1.0", "--env", "prod", "--strategy", "blue-green"]):
        proc = mvtools(repo, *args, check=False)
        assert proc.returncode == 1 and "git commit failed: no commits today" in proc.stderr, proc.stderr
        assert repo_snapshot(repo) == before, args


def test_release_drops_only_the_confirmed_events_reservation(repo: Path) -> None:
    """A tag confirmed by one event (a cherry-pick, say) does not drop another live commit's
    reservation of the same number for other bytes."""
    from mvtools.gitops import Repo
    from mvtools.transaction import release, reserve

    r = Repo.discover(repo)
    owner = {"pid": os.getpid(), "start": _self_start()}  # this test's process: alive
    mine = {"tag": "clf@v0.1.0", "model": "clf", "version": "v0.1.0", "sha256": "a" * 64, "id": "1" * 64}
    reserve(r, mine, owner)
    release(r, {**mine, "id": "2" * 64})  # another event with the same tag
    assert [d["id"] for d in _reservations(repo)] == ["1" * 64]
    release(r, mine)
    assert _reservations(repo) == []


def _self_start() -> str:
    return Path(f"/proc/{os.getpid()}/stat").read_text().rsplit(")", 1)[1].split()[19]


def test_a_model_name_too_long_for_one_file_name_registers(repo: Path) -> None:
    """A valid name whose tag, as one file name, passes the file system's 255 bytes (the
    reservation file is named after the tag): the commit registers and tags it, no exit 3."""
    name = "abcdefghijklmnopqrstuvwxyz/" * 10 + "m"
    set_up_mvtools(repo, f"models:\n  - name: {name}\n    path: models/m.bin\n")
    write_model(repo, "models/m.bin", "long\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "long name")
    assert f"{name}@v0.1.0" in tags(repo)
    assert git(repo, "status", "--porcelain").stdout == ""
    assert json.loads(mvtools(repo, "verify", "--json").stdout)["ok"]
