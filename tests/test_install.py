"""`mvtools init`, `install-hooks` and `uninstall-hooks` (issue 2), with real git, DVC and
pre-commit.

init in an existing git repo: writes mvtools.yaml and registry/, runs `dvc init` when the
repo has no DVC, turns DVC analytics off in .dvc/config.local, installs the hooks (plain
scripts into the hooks directory git uses, honouring core.hooksPath and linked worktrees;
a hook already there keeps running, chained) or the mvtools entries of
.pre-commit-config.yaml plus `pre-commit install`. It commits nothing; a second run changes
nothing. uninstall-hooks undoes the hook part.
"""

from __future__ import annotations

import configparser
import hashlib
import os
import stat
from pathlib import Path

import pytest

from conftest import BIN, git, head, mvtools, run, tags, write_model

MARKER = "# mvtools-hook:"
OUR_HOOKS = ("pre-commit", "post-commit", "post-rewrite")


def hooks_dir(r: Path) -> Path:
    p = Path(git(r, "rev-parse", "--git-path", "hooks").stdout.strip())
    return p if p.is_absolute() else r / p


def snapshot(r: Path) -> dict[str, str]:
    """Every file of the work tree and of .git (objects, logs and caches aside), hashed,
    plus the index and refs: what a second `mvtools init` must leave unchanged."""
    files: dict[str, str] = {}
    for dirpath, dirnames, filenames in os.walk(r):
        rel_dir = Path(dirpath).relative_to(r).as_posix()
        dirnames[:] = [d for d in dirnames if not (rel_dir == ".git" and d in ("objects", "logs"))
                       and not (rel_dir == ".dvc" and d in ("tmp", "cache"))]
        for f in filenames:
            p = Path(dirpath) / f
            rel = p.relative_to(r).as_posix()
            if rel.startswith(".git/mvtools/") or rel == ".git/index":
                continue
            mode = stat.S_IMODE(p.lstat().st_mode)
            files[rel] = f"{mode:o} " + hashlib.sha256(p.read_bytes()).hexdigest()
    files["<index>"] = git(r, "ls-files", "-s").stdout
    files["<refs>"] = git(r, "for-each-ref").stdout
    files["<status>"] = git(r, "status", "--porcelain", "--untracked-files=all").stdout
    return files


def declare_clf(r: Path) -> None:
    cfg = r / "mvtools.yaml"
    cfg.write_text(cfg.read_text().replace("models: []", "models:\n  - name: clf\n    path: models/clf.bin"))


def analytics_off(r: Path) -> bool:
    cp = configparser.ConfigParser()
    cp.read(r / ".dvc" / "config.local")
    return cp.get("core", "analytics", fallback=None) == "false"


# -- init ---------------------------------------------------------------------------------------
def test_init_defaults_commit_nothing_and_are_idempotent(repo: Path) -> None:
    r = repo
    h = head(r)
    out = mvtools(r, "init").stdout
    assert "ran: dvc init" in out
    assert "scheme: semver" in (r / "mvtools.yaml").read_text()
    assert (r / "registry").is_dir()
    assert (r / ".dvc" / "config").exists()
    assert analytics_off(r)
    d = hooks_dir(r)
    assert d == r / ".git" / "hooks"
    for h_ in OUR_HOOKS:
        text = (d / h_).read_text()
        assert MARKER in text and "@MVTOOLS@" not in text
        assert os.access(d / h_, os.X_OK)
    assert head(r) == h and git(r, "rev-list", "--count", "HEAD").stdout.strip() == "1"
    before = snapshot(r)
    out = mvtools(r, "init").stdout
    assert "already set up: nothing to do" in out
    assert snapshot(r) == before
    # the set-up repo works: declare a model, commit, it is registered and tagged
    declare_clf(r)
    write_model(r, "models/clf.bin", "v1")
    git(r, "add", "-A")
    proc = git(r, "commit", "-q", "-m", "m1")
    assert "registered clf v0.1.0" in proc.stderr
    assert tags(r)["clf@v0.1.0"] == head(r)


def test_init_keeps_an_existing_dvc_setup(repo: Path) -> None:
    r = repo
    run([str(BIN / "dvc"), "init", "-q"], r)
    git(r, "commit", "-q", "-m", "dvc init")
    dvc_config = (r / ".dvc" / "config").read_bytes()
    out = mvtools(r, "init", "--scheme", "timestamp").stdout
    assert "dvc init" not in out
    assert (r / ".dvc" / "config").read_bytes() == dvc_config
    assert analytics_off(r)
    assert "scheme: timestamp" in (r / "mvtools.yaml").read_text()


def test_init_hooks_none_installs_no_hook(repo: Path) -> None:
    r = repo
    mvtools(r, "init", "--hooks", "none")
    assert (r / "mvtools.yaml").exists()
    d = hooks_dir(r)
    assert not any(MARKER in (d / h).read_text() for h in OUR_HOOKS if (d / h).exists())


@pytest.mark.parametrize("args", [["--scheme", "calver"], ["--hooks", "husky"]])
def test_init_bad_option_writes_nothing(repo: Path, args: list[str]) -> None:
    r = repo
    before = snapshot(r)
    proc = mvtools(r, "init", *args, check=False)
    assert proc.returncode == 2 and proc.stderr.startswith("mvtools: error: ")
    assert snapshot(r) == before


def test_init_outside_git_is_refused(tmp_path: Path) -> None:
    d = tmp_path / "plain"
    d.mkdir()
    proc = mvtools(d, "init", check=False)
    assert proc.returncode == 2 and "not a git repository" in proc.stderr
    assert list(d.iterdir()) == []


# -- plain hooks: core.hooksPath, chaining, worktrees, uninstall -------------------------------------
def test_hooks_path_and_existing_hooks_are_chained(repo: Path) -> None:
    r = repo
    git(r, "config", "core.hooksPath", ".githooks")
    d = r / ".githooks"
    d.mkdir()
    log = r.parent / "hook.log"
    user_pre = f"#!/bin/sh\necho user-pre-commit >> '{log}'\n[ -f '{r.parent}/block' ] && exit 7\nexit 0\n"
    user_rw = f"#!/bin/sh\necho \"user-post-rewrite $1\" >> '{log}'\ncat >> '{log}'\n"
    (d / "pre-commit").write_text(user_pre)
    (d / "post-rewrite").write_text(user_rw)
    for f in d.iterdir():
        f.chmod(0o755)
    out = mvtools(r, "init").stdout
    assert "kept your pre-commit hook, chained" in out
    assert not any((r / ".git" / "hooks" / h).exists() for h in OUR_HOOKS)
    assert all(MARKER in (d / h).read_text() for h in OUR_HOOKS)
    assert (d / "pre-commit.mvtools-chained").read_text() == user_pre
    declare_clf(r)
    write_model(r, "models/clf.bin", "v1")
    git(r, "add", "-A")
    proc = git(r, "commit", "-q", "-m", "m1")
    assert "registered clf v0.1.0" in proc.stderr
    assert log.read_text().count("user-pre-commit") == 1
    old = head(r)
    git(r, "commit", "-q", "--amend", "-m", "m1 reworded")
    text = log.read_text()
    assert "user-post-rewrite amend" in text and f"{old} {head(r)}" in text  # stdin reached it
    assert tags(r)["clf@v0.1.0"] == head(r)  # and mvtools' part moved the tag
    # a failing user hook still refuses the commit
    (r.parent / "block").write_text("")
    (r / "notes.txt").write_text("n\n")
    git(r, "add", "notes.txt")
    h = head(r)
    assert git(r, "commit", "-q", "-m", "blocked", check=False).returncode != 0
    assert head(r) == h
    (r.parent / "block").unlink()
    # installing again does not chain mvtools to itself
    before = snapshot(r)
    assert "hooks already installed" in mvtools(r, "install-hooks").stdout
    assert snapshot(r) == before
    # uninstall restores the user's hooks byte for byte and removes ours
    out = mvtools(r, "uninstall-hooks").stdout
    assert "restored your pre-commit hook" in out
    assert (d / "pre-commit").read_text() == user_pre
    assert (d / "post-rewrite").read_text() == user_rw
    assert not (d / "post-commit").exists()
    assert not list(d.glob("*.mvtools-chained"))


def test_install_from_a_linked_worktree_uses_the_common_hooks_dir(repo: Path, tmp_path: Path) -> None:
    r = repo
    mvtools(r, "init", "--hooks", "none")
    git(r, "add", "-A")
    git(r, "commit", "-q", "-m", "setup")
    wt = tmp_path / "wt"
    git(r, "worktree", "add", "-q", str(wt), "-b", "wt")
    mvtools(wt, "install-hooks")
    common = r / ".git" / "hooks"
    assert all(MARKER in (common / h).read_text() for h in OUR_HOOKS)
    assert not (r / ".git" / "worktrees" / "wt" / "hooks").exists()
    declare_clf(wt)
    write_model(wt, "models/clf.bin", "v1")
    git(wt, "add", "-A")
    assert "registered clf v0.1.0" in git(wt, "commit", "-q", "-m", "m1").stderr


def test_uninstall_hooks_git_mode(repo: Path) -> None:
    r = repo
    mvtools(r, "init")
    declare_clf(r)
    git(r, "add", "-A")
    git(r, "commit", "-q", "-m", "setup")
    out = mvtools(r, "uninstall-hooks").stdout
    d = hooks_dir(r)
    assert all(f"removed {d / h}" in out for h in OUR_HOOKS)
    assert not any((d / h).exists() for h in OUR_HOOKS)
    write_model(r, "models/clf.bin", "v1")
    git(r, "add", "-A")
    proc = git(r, "commit", "-q", "-m", "m1")
    assert proc.stderr == "" and tags(r) == {}
    assert "no mvtools hooks installed" in mvtools(r, "uninstall-hooks").stdout


# -- the pre-commit framework ---------------------------------------------------------------------
def validate(r: Path) -> None:
    proc = run([str(BIN / "pre-commit"), "validate-config", ".pre-commit-config.yaml"], r, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.slow
def test_init_pre_commit_mode(repo: Path) -> None:
    r = repo
    out = mvtools(r, "init", "--hooks", "pre-commit").stdout
    assert "pre-commit install" in out
    text = (r / ".pre-commit-config.yaml").read_text()
    assert all(f"entry: mvtools hook {h}" in text for h in OUR_HOOKS)
    validate(r)
    for h in OUR_HOOKS:
        assert "pre-commit" in (r / ".git" / "hooks" / h).read_text()
    before = snapshot(r)
    mvtools(r, "init", "--hooks", "pre-commit")
    assert snapshot(r) == before
    declare_clf(r)
    write_model(r, "models/clf.bin", "v1")
    git(r, "add", "-A")
    git(r, "commit", "-q", "-m", "m1")
    assert tags(r)["clf@v0.1.0"] == head(r)
    assert git(r, "status", "--porcelain").stdout == ""


@pytest.mark.slow
def test_uninstall_pre_commit_mode_keeps_commits_working(repo: Path) -> None:
    r = repo
    mvtools(r, "init", "--hooks", "pre-commit")
    out = mvtools(r, "uninstall-hooks").stdout
    assert "removed the mvtools hooks" in out or "removed .pre-commit-config.yaml" in out
    (r / "notes.txt").write_text("n\n")
    git(r, "add", "notes.txt")
    proc = git(r, "commit", "-q", "-m", "notes", check=False)
    assert proc.returncode == 0, proc.stderr


USER_HOOK = ("  - repo: local\n    hooks:\n      - id: hello\n        name: hello\n"
             "        entry: 'true'\n        language: system\n")
SAMPLE_STYLE = ("-   repo: local\n    hooks:\n    -   id: hello\n        name: hello\n"
                "        entry: 'true'\n        language: system\n")


@pytest.mark.slow
@pytest.mark.parametrize("existing", [
    pytest.param("repos:\n" + USER_HOOK, id="indented"),
    pytest.param("repos:\n" + SAMPLE_STYLE, id="sample-config-style"),
    pytest.param("repos: []\n", id="flow-empty"),
])
def test_init_pre_commit_mode_into_an_existing_config(repo: Path, existing: str) -> None:
    r = repo
    (r / ".pre-commit-config.yaml").write_text(existing)
    mvtools(r, "init", "--hooks", "pre-commit")
    text = (r / ".pre-commit-config.yaml").read_text()
    assert text.startswith(existing.rstrip("\n").replace(" []", ""))
    validate(r)
    mvtools(r, "uninstall-hooks")
    assert (r / ".pre-commit-config.yaml").read_text() == existing
