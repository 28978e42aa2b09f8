"""Every repair hint mvtools prints works as printed (issue 9, item 9): each test brings
about the situation, takes the command out of the message exactly as printed, runs it in a
shell, and shows the situation repaired. Also: git lock files left by a killed git are named
with their repair, and a broken ledger affects only its own model (item 8)."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from conftest import assert_refused, dvc, git, head, ledger_events, mvtools, run, set_up_mvtools, tags, write_model


def printed(text: str, marker: str = "run: ") -> str:
    """The command after ``marker`` in ``text``: up to the end of its line, a `  (or: ...)`
    alternative, or a closing parenthesis."""
    line = next(ln for ln in text.splitlines() if marker in ln)
    cmd = line.split(marker, 1)[1]
    cmd = re.split(r"\s+\(or: |\)$", cmd)[0]
    return cmd.strip()


def alternative(text: str) -> str:
    """The command of a hint's `(or: CMD ...)` alternative."""
    m = re.search(r"\(or: (.+?)(?: to [a-z ]+)?\)", text)
    assert m, text
    return m.group(1)


def sh(repo: Path, cmd: str) -> subprocess.CompletedProcess[str]:
    """Run a printed command as a user pastes it into a shell."""
    return run(["sh", "-c", cmd], repo)


@pytest.fixture
def two(git_model_repo: Path) -> Path:
    """Models clf and other (git-tracked), each registered as v0.1.0."""
    r = git_model_repo
    cfg = (r / "mvtools.yaml").read_text().replace(
        "models:\n", "models:\n  - name: other\n    path: models/other.bin\n", 1)
    (r / "mvtools.yaml").write_text(cfg)
    write_model(r, "models/clf.bin", b"clf weights 1")
    write_model(r, "models/other.bin", b"other weights 1")
    git(r, "add", "-A")
    git(r, "commit", "-q", "-m", "two models")
    assert {"clf@v0.1.0", "other@v0.1.0"} <= set(tags(r))
    return r


# -- post-commit: a commit that rewrote the ledger -------------------------------------------
def test_revert_of_a_promote_hint_works_as_printed(two: Path) -> None:
    """A revert of a ledger-only commit drops an event; the amend the warning prints makes
    a commit that changes nothing (it needs --allow-empty) and restores the event."""
    r = two
    mvtools(r, "promote", "clf", "v0.1.0", "staging")
    before = ledger_events(r, "clf", "HEAD")
    proc = git(r, "revert", "--no-edit", "HEAD")
    msg = proc.stderr + proc.stdout
    assert "rewrote the ledger" in msg, msg
    sh(r, printed(msg))
    assert ledger_events(r, "clf", "HEAD") == before
    assert git(r, "status", "--porcelain").stdout == ""
    assert mvtools(r, "show", "clf", "--json").stdout.count('"staging": "v0.1.0"') == 1


# -- transaction: an interrupted registry command, git's index lock ---------------------------
def _pause_in_git_commit(r: Path) -> Path:
    """A user pre-commit hook chained before mvtools' that waits: `git commit` holds the
    index lock while it runs. Returns the file it touches when it starts waiting."""
    marker = r.parent / "in-git-commit"
    hook = r / ".git" / "hooks" / "pre-commit.mvtools-chained"
    hook.write_text(f"#!/bin/sh\ntouch '{marker}'\nsleep 60\n")
    hook.chmod(0o755)
    return marker


def _kill_inside_git_commit(r: Path, *args: str) -> None:
    """Run `mvtools ARGS` and SIGKILL it, with its git commit, while git holds the index lock."""
    marker = _pause_in_git_commit(r)
    p = subprocess.Popen([sys.executable, "-m", "mvtools", *args], cwd=r, start_new_session=True,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(600):
        if marker.exists():
            break
        time.sleep(0.05)
    assert marker.exists(), "git commit never started"
    os.killpg(p.pid, signal.SIGKILL)  # the whole command, as a closed terminal or an OOM kill would
    p.wait()
    (r / ".git" / "hooks" / "pre-commit.mvtools-chained").unlink()


@pytest.mark.slow
def test_sigkill_of_promote_inside_git_commit(two: Path) -> None:
    """The stale index.lock is named with its repair; then the uncommitted event is named
    with its repair; both work as printed, and promote then works."""
    r = two
    head0 = head(r)
    _kill_inside_git_commit(r, "promote", "clf", "v0.1.0", "staging")
    lock = r / ".git" / "index.lock"
    assert lock.exists()
    assert head(r) == head0
    for args in (["promote", "clf", "v0.1.0", "staging"], ["register", "other"], ["archive", "other", "v0.1.0"]):
        line = assert_refused(r, *args, code=2)
        assert str(lock) in line and "no git process is running" in line, line
    sh(r, printed(line))
    assert not lock.exists()
    line = assert_refused(r, "promote", "clf", "v0.1.0", "staging", code=2)
    assert "registry/clf.yaml differs from the committed one" in line
    sh(r, printed(line))
    assert git(r, "status", "--porcelain").stdout == ""
    mvtools(r, "promote", "clf", "v0.1.0", "staging")
    assert ledger_events(r, "clf", "HEAD")[-1]["event"] == "promote"
    assert git(r, "status", "--porcelain").stdout == ""


def test_index_lock_of_a_live_git_is_not_to_be_removed(two: Path) -> None:
    """While `git commit PATH` runs (it holds the index lock during its hooks; a plain
    `git commit` has released it by then), mvtools says so and prints no rm."""
    r = two
    marker = _pause_in_git_commit(r)
    write_model(r, "notes.txt", "x")
    git(r, "add", "notes.txt")
    p = subprocess.Popen(["git", "commit", "-q", "-m", "notes", "--", "notes.txt"], cwd=r, start_new_session=True,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(600):
            if marker.exists():
                break
            time.sleep(0.05)
        line = assert_refused(r, "promote", "clf", "v0.1.0", "staging", code=2)
        assert str(r / ".git" / "index.lock") in line and "still running" in line and "rm " not in line, line
    finally:
        os.killpg(p.pid, signal.SIGKILL)
        p.wait()


def test_stale_index_lock_met_by_git_add(two: Path) -> None:
    """The check inside git() itself: any command whose git add meets the lock."""
    from mvtools.errors import UsageError
    from mvtools.gitops import Repo

    r = two
    lock = r / ".git" / "index.lock"
    lock.touch()
    with pytest.raises(UsageError) as exc:
        Repo.discover(r).git("add", "--", "README.md")
    assert str(lock) in str(exc.value) and "run: rm " in str(exc.value)
    sh(r, printed(str(exc.value)))
    assert not lock.exists()


@pytest.mark.parametrize("staged", [True, False], ids=["staged", "work-tree-only"])
def test_interrupted_first_registration_of_a_new_model(two: Path, staged: bool) -> None:
    """A new model's ledger that no commit holds: the printed repair removes it."""
    r = two
    write_model(r, "models/new.bin", b"new")
    (r / "registry" / "new.yaml").write_text("mvtools_ledger: 1\nmodel: \"new\"\nevents:\n")
    if staged:
        git(r, "add", "registry/new.yaml")
    line = assert_refused(r, "register", "new", "--path", "models/new.bin", code=2)
    sh(r, printed(line))
    assert not (r / "registry" / "new.yaml").exists()
    assert "registered new v0.1.0" in mvtools(r, "register", "new", "--path", "models/new.bin").stdout


# -- lifecycle refusals that name an option or a first step ----------------------------------
def test_lifecycle_refusal_hints_work_as_printed(two: Path) -> None:
    r = two
    cfg = (r / "mvtools.yaml").read_text()
    (r / "mvtools.yaml").write_text(cfg + "promotes_from:\n  production: staging\n")
    git(r, "commit", "-qam", "promotes_from")
    line = assert_refused(r, "promote", "clf", "v0.1.0", "production", code=1)
    m = re.search(r"promote it to (\w+) first", line)
    assert m
    mvtools(r, "promote", "clf", "v0.1.0", m.group(1))
    mvtools(r, "promote", "clf", "v0.1.0", "production")
    mvtools(r, "archive", "other", "v0.1.0")
    line = assert_refused(r, "promote", "other", "v0.1.0", "staging", code=2)
    assert "pass --force" in line
    mvtools(r, "promote", "other", "v0.1.0", "staging", "--force")


# -- DVC: the work tree does not hold what DVC records ---------------------------------------
def _dvc_added(r: Path, data: bytes) -> None:
    write_model(r, "models/net.bin", data)
    dvc(r, "add", "-q", "models/net.bin")
    git(r, "add", "-A")
    git(r, "commit", "-q", "-m", "net")


def test_new_bytes_without_dvc_add_hint(dvc_model_repo: Path) -> None:
    r = dvc_model_repo
    _dvc_added(r, b"net 1")
    write_model(r, "models/net.bin", b"net 2, not added to DVC")
    proc = mvtools(r, "register", "net", check=False)
    assert proc.returncode == 1 and "run: dvc add models/net.bin" in proc.stderr, proc.stderr
    sh(r, printed(proc.stderr))
    assert "registered net v0.1.1" in mvtools(r, "register", "net").stdout


PIPELINE = ("stages:\n  train:\n    cmd: python -c \"open('models/m.bin','w').write(open('seed.txt').read())\"\n"
            "    deps: [seed.txt]\n    outs: [models/m.bin]\n"
            "artifacts:\n  m:\n    path: models/m.bin\n    type: model\n")


@pytest.fixture
def pipeline(repo: Path) -> Path:
    r = set_up_mvtools(repo, "models: []")
    (r / "dvc.yaml").write_text(PIPELINE)
    (r / "seed.txt").write_text("one")
    (r / "models").mkdir(exist_ok=True)
    dvc(r, "repro", "-q")
    git(r, "add", "-A")
    git(r, "commit", "-q", "-m", "train")
    assert "m@v0.1.0" in tags(r)
    return r


@pytest.mark.slow
def test_stage_output_edited_by_hand_hints(pipeline: Path, tmp_path: Path) -> None:
    """Both commands of the hint work as printed: `dvc commit` records the new bytes (and
    non-interactively needs --force), `dvc checkout` restores the recorded ones (--force)."""
    r = pipeline
    write_model(r, "models/m.bin", "edited by hand")
    proc = mvtools(r, "register", "m", check=False)
    assert proc.returncode == 1 and "does not match what dvc.lock records" in proc.stderr, proc.stderr
    other = tmp_path / "copy"
    shutil.copytree(r, other, symlinks=True)
    sh(r, printed(proc.stderr))
    assert "registered m v0.1.1" in mvtools(r, "register", "m").stdout
    sh(other, alternative(proc.stderr))
    assert (other / "models" / "m.bin").read_text() == "one"
    assert "nothing to commit" in git(other, "status").stdout or git(other, "status", "--porcelain").stdout == ""


def _pushed_and_cloned(repo: Path, tmp_path: Path) -> tuple[Path, Path]:
    """A DVC model `net` registered and pushed (git remote + DVC remote), and a fresh clone
    of it that has not pulled the bytes: (the repo, the clone)."""
    a = set_up_mvtools(repo, "models:\n  - name: net\n    path: models/net.bin")
    store, bare = tmp_path / "store", tmp_path / "origin.git"
    store.mkdir()
    dvc(a, "remote", "add", "-q", "-d", "store", str(store))
    git(tmp_path, "init", "-q", "--bare", "-b", "main", str(bare))
    git(a, "remote", "add", "origin", str(bare))
    _dvc_added(a, b"net 1")
    mvtools(a, "push")
    b = tmp_path / "b"
    git(tmp_path, "clone", "-q", str(bare), str(b))
    return a, b


@pytest.mark.slow
def test_merge_after_a_pull_takes_the_registered_version(repo: Path, tmp_path: Path) -> None:
    """A conflicted `git pull` brings another clone's new version of a DVC model whose bytes
    are not here yet. The merge takes that side's registered record unchanged: it registers
    nothing, needs no bytes, warns of nothing, and keeps both versions; `dvc pull` then
    brings the bytes (the hint for a commit that does need them: the fresh-clone test)."""
    a, b = _pushed_and_cloned(repo, tmp_path)
    mvtools(b, "init")
    dvc(b, "pull", "-q")
    _dvc_added(a, b"net 2")
    (a / "README.md").write_text("from a\n")
    git(a, "commit", "-qam", "readme a")
    mvtools(a, "push")
    (b / "README.md").write_text("from b\n")
    git(b, "commit", "-qam", "readme b")
    assert git(b, "pull", "-q", "--no-rebase", check=False).returncode != 0  # README conflicts
    (b / "README.md").write_text("from a and b\n")
    git(b, "add", "README.md")
    proc = git(b, "commit", "-q", "--no-edit")
    assert "without registering" not in proc.stderr, proc.stderr
    assert len(git(b, "rev-list", "--parents", "-n", "1", "HEAD").stdout.split()) == 3
    assert [e["version"] for e in ledger_events(b, "net", "HEAD") if e["event"] == "register"] == \
        ["v0.1.0", "v0.1.1"]
    dvc(b, "pull", "-q")
    assert (b / "models" / "net.bin").read_bytes() == b"net 2"
    assert mvtools(b, "verify", check=False).returncode == 0


@pytest.mark.slow
def test_fresh_clone_without_dvc_pull_hint(repo: Path, tmp_path: Path) -> None:
    a, b = _pushed_and_cloned(repo, tmp_path)
    proc = mvtools(b, "register", "net", check=False)
    assert proc.returncode == 1 and "is not in the work tree" in proc.stderr, proc.stderr
    sh(b, printed(proc.stderr))
    assert (b / "models" / "net.bin").read_bytes() == b"net 1"


# -- item 8: a broken ledger affects only its own model ----------------------------------------
def _break_clf(r: Path, how: str) -> str:
    """Break clf's committed ledger by hand; return what its error line must say."""
    p = r / "registry" / "clf.yaml"
    if how == "edited":
        p.write_text(re.sub(r"actor: .*", "actor: Mallory", p.read_text(), count=1))
        git(r, "commit", "-q", "--no-verify", "-am", "hand edit")
        return "registry/clf.yaml: event 1 (register) does not match its id"
    p.unlink()
    p.mkdir()
    return "registry/clf.yaml: cannot read"


@pytest.mark.parametrize("how", ["edited", "directory"])
def test_a_broken_ledger_hides_only_its_own_model(two: Path, tmp_path: Path, how: str) -> None:
    r = two
    why = _break_clf(r, how)
    # all models: the others shown, the broken one named in one line, exit 1
    proc = mvtools(r, "show", check=False)
    assert proc.returncode == 1
    assert re.search(r"^other\s+v0\.1\.0\s", proc.stdout, re.M) and "clf" not in proc.stdout
    assert proc.stderr.splitlines() == [f"mvtools: error: {why}"] if how == "edited" else \
        len(proc.stderr.splitlines()) == 1 and why in proc.stderr
    proc = mvtools(r, "show", "--json", check=False)
    assert proc.returncode == 1
    doc = yaml.safe_load(proc.stdout)
    assert [m["name"] for m in doc["models"]] == ["other"]
    assert [b["name"] for b in doc["broken"]] == ["clf"] and why in doc["broken"][0]["error"]
    # the other model: every command works as usual
    assert mvtools(r, "show", "other").returncode == 0
    assert "register  v0.1.0" in mvtools(r, "history", "other").stdout
    mvtools(r, "get", "other", "-o", str(tmp_path / "other.bin"))
    assert (tmp_path / "other.bin").read_bytes() == b"other weights 1"
    mvtools(r, "promote", "other", "v0.1.0", "staging")
    write_model(r, "models/other.bin", b"other weights 2")
    git(r, "commit", "-q", "-m", "other 2", "--", "models/other.bin")
    assert "other@v0.1.1" in tags(r)
    write_model(r, "models/other.bin", b"other weights 3")
    assert "registered other v0.1.2" in mvtools(r, "register", "other").stdout
    # the broken model itself: one line, the root cause, exit 2
    for args in (["show", "clf"], ["history", "clf"], ["get", "clf", "-o", str(tmp_path / "c.bin")],
                 ["promote", "clf", "v0.1.0", "staging"]):
        assert why in assert_refused(r, *args, code=2)


def test_record_moved_back_without_dvc_checkout_hint(dvc_model_repo: Path) -> None:
    """The .dvc file names older bytes than the work tree holds, both in DVC's cache (a
    `git checkout` of the .dvc file alone): the hint is `dvc checkout`, which needs no remote."""
    r = dvc_model_repo
    _dvc_added(r, b"net 1")
    _dvc_added(r, b"net 2")
    git(r, "checkout", "HEAD~1", "--", "models/net.bin.dvc")
    proc = mvtools(r, "register", "net", check=False)
    assert proc.returncode == 1 and "run: dvc checkout models/net.bin.dvc" in proc.stderr, proc.stderr
    sh(r, printed(proc.stderr))
    assert (r / "models" / "net.bin").read_bytes() == b"net 1"
    assert dvc(r, "status", "models/net.bin.dvc").stdout.strip().endswith("up to date.")


def test_partially_staged_model_hint(git_model_repo: Path) -> None:
    r = git_model_repo
    write_model(r, "models/clf.bin", b"weights 2")
    git(r, "add", "models/clf.bin")
    write_model(r, "models/clf.bin", b"weights 3")
    proc = git(r, "commit", "-q", "-m", "partial", check=False)
    m = re.search(r"stage all of it \((git add [^)]+)\)", proc.stderr)
    assert proc.returncode == 1 and m, proc.stderr
    sh(r, m.group(1))
    proc = git(r, "commit", "-q", "-m", "whole")
    assert "registered clf v0.1.0" in proc.stderr


def test_get_of_a_version_no_commit_holds(git_model_repo: Path, tmp_path: Path) -> None:
    """A commit aborted after its pre-commit hook staged a register event (an empty message):
    `get` of that version names the ledger and the restore, which works as printed."""
    r = git_model_repo
    write_model(r, "models/clf.bin", b"weights 1")
    git(r, "add", "models/clf.bin")
    assert git(r, "commit", "-q", "-m", "", check=False).returncode != 0  # aborted: empty message
    assert "v0.1.0" in (r / "registry" / "clf.yaml").read_text()
    line = assert_refused(r, "get", "clf@v0.1.0", "-o", str(tmp_path / "out.bin"), code=2)
    assert "in no commit" in line
    sh(r, printed(line))
    assert git(r, "diff", "HEAD", "--stat", "--", "registry").stdout == ""
    assert "registered clf v0.1.0" in git(r, "commit", "-q", "-m", "clf").stderr


def test_pre_push_with_another_models_broken_ledger(two: Path, tmp_path: Path) -> None:
    """Item 8 in the pre-push hook: the other model's tags push; the broken model's tag is
    held back with its one-line cause."""
    r = two
    bare = tmp_path / "origin.git"
    git(tmp_path, "init", "-q", "--bare", "-b", "main", str(bare))
    git(r, "remote", "add", "origin", str(bare))
    why = _break_clf(r, "edited")
    git(r, "push", "-q", "origin", "main", "other@v0.1.0")
    assert "other@v0.1.0" in git(bare, "tag").stdout
    proc = git(r, "push", "-q", "origin", "clf@v0.1.0", check=False)
    assert proc.returncode != 0 and why in proc.stderr, proc.stderr
    assert "clf@v0.1.0" not in git(bare, "tag").stdout


@pytest.mark.slow
def test_get_in_a_clone_before_the_bytes_were_pushed(repo: Path, tmp_path: Path) -> None:
    """The tag reached the git remote (its pre-push check skipped) but the bytes never
    reached the DVC remote: `get` in a clone names `mvtools push` where it was registered."""
    a = set_up_mvtools(repo, "models:\n  - name: net\n    path: models/net.bin")
    store, bare = tmp_path / "store", tmp_path / "origin.git"
    store.mkdir()
    dvc(a, "remote", "add", "-q", "-d", "store", str(store))
    git(tmp_path, "init", "-q", "--bare", "-b", "main", str(bare))
    git(a, "remote", "add", "origin", str(bare))
    _dvc_added(a, b"net 1")
    git(a, "push", "-q", "--no-verify", "origin", "main", "net@v0.1.0")
    b = tmp_path / "b"
    git(tmp_path, "clone", "-q", str(bare), str(b))
    proc = mvtools(b, "get", "net@v0.1.0", "-o", "out.bin", check=False)
    m = re.search(r"run '([^']+)'", proc.stderr)
    assert proc.returncode == 1 and m and "where it was registered" in proc.stderr, proc.stderr
    sh(a, m.group(1))
    mvtools(b, "get", "net@v0.1.0", "-o", "out.bin")
    assert (b / "out.bin").read_bytes() == b"net 1"


def test_ledger_without_a_final_newline_hint(repo: Path) -> None:
    """A ledger committed (past the hook) without its final newline: a writing command
    refuses, and the repair it prints, run as printed, lets it proceed."""
    r = set_up_mvtools(repo, "models:\n  - name: clf\n    path: models/clf.bin")
    write_model(r, "models/clf.bin", "one\n")
    git(r, "add", "-A")
    git(r, "commit", "-q", "-m", "m1")
    led = r / "registry" / "clf.yaml"
    led.write_bytes(led.read_bytes().rstrip(b"\n"))
    git(r, "commit", "-q", "--no-verify", "-am", "hand edit")
    proc = mvtools(r, "promote", "clf", "v0.1.0", "staging", check=False)
    assert proc.returncode == 2 and "does not end with a newline" in proc.stderr, proc.stderr
    sh(r, printed(proc.stderr))
    mvtools(r, "promote", "clf", "v0.1.0", "staging")
    assert mvtools(r, "verify", check=False).returncode == 0


def test_verify_names_the_restore_of_a_new_ledger_no_commit_holds(repo: Path) -> None:
    """Found in review: a commit aborted after its hook staged a new model's first ledger.
    verify printed `git checkout HEAD -- registry/m2.yaml` (no such path in HEAD) and a
    follow-on tag-missing; now one problem whose repair runs as printed."""
    r = set_up_mvtools(repo, "models:\n  - name: clf\n    path: models/clf.bin\n  - name: m2\n    path: models/m2.bin")
    write_model(r, "models/clf.bin", "one\n")
    git(r, "add", "-A")
    git(r, "commit", "-q", "-m", "m1")
    write_model(r, "models/m2.bin", "two\n")
    git(r, "add", "-A")
    assert git(r, "commit", "-q", "-m", "", check=False).returncode != 0  # empty message: aborted
    proc = mvtools(r, "verify", "--json", check=False)
    problems = json.loads(proc.stdout)["problems"]
    assert [p["kind"] for p in problems] == ["uncommitted"], problems
    sh(r, printed(problems[0]["message"]))
    assert mvtools(r, "verify", check=False).returncode == 0
