"""Attacks on the invariants the hook-path optimisations of issue 14 could break: every
model change registered (or refused), tags agreeing with the ledgers, whatever way git is
driven (partial commits, -a, worktrees, GIT_DIR, ...)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from conftest import git, head, mvtools, tags, write_model


def _verified(r: Path, cwd: Path | None = None) -> None:
    proc = mvtools(cwd or r, "verify", check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def _events(r: Path, rev: str = "HEAD") -> str:
    return git(r, "show", f"{rev}:registry/clf.yaml").stdout


def test_partial_commit_registers_and_leaves_the_ledger_in_the_index(git_model_repo: Path) -> None:
    r = git_model_repo
    write_model(r, "models/clf.bin", "v1")
    git(r, "add", "models/clf.bin")
    write_model(r, "notes.txt", "n")
    git(r, "add", "notes.txt")
    write_model(r, "models/clf.bin", "v2")
    proc = git(r, "commit", "-q", "-m", "m", "models/clf.bin")
    assert "registered clf v0.1.0" in proc.stderr, proc.stderr
    assert tags(r)["clf@v0.1.0"] == head(r)
    _verified(r)
    # the next ordinary commit must not take the ledger back
    proc = git(r, "commit", "-q", "-m", "notes", check=False)
    assert proc.returncode == 0, proc.stderr
    assert "register" in _events(r)
    _verified(r)


def test_commit_all_registers(git_model_repo: Path) -> None:
    r = git_model_repo
    write_model(r, "models/clf.bin", "v1")
    git(r, "add", "models/clf.bin")
    git(r, "commit", "-q", "-m", "m1")
    write_model(r, "models/clf.bin", "v2")
    proc = git(r, "commit", "-q", "-a", "-m", "m2")
    assert "registered clf v0.1.1" in proc.stderr, proc.stderr
    assert tags(r)["clf@v0.1.1"] == head(r)
    _verified(r)


def test_a_linked_worktree_registers_and_tags(git_model_repo: Path) -> None:
    r = git_model_repo
    wt = r.parent / "wt2"
    git(r, "worktree", "add", "-q", "-b", "side", str(wt))
    write_model(wt, "models/clf.bin", "w1")
    git(wt, "add", "models/clf.bin")
    proc = git(wt, "commit", "-q", "-m", "w1")
    assert "registered clf v0.1.0" in proc.stderr, proc.stderr
    assert tags(r)["clf@v0.1.0"] == head(wt)
    write_model(wt, "notes.txt", "n")
    git(wt, "add", "notes.txt")
    git(wt, "commit", "-q", "-m", "n")
    write_model(wt, "models/clf.bin", "w2")
    git(wt, "add", "models/clf.bin")
    proc = git(wt, "commit", "-q", "-m", "w2")
    assert "registered clf v0.1.1" in proc.stderr, proc.stderr
    assert tags(r)["clf@v0.1.1"] == head(wt)
    _verified(wt)


def test_git_dir_and_work_tree_in_the_environment(git_model_repo: Path) -> None:
    r = git_model_repo
    env = {"GIT_DIR": str(r / ".git"), "GIT_WORK_TREE": str(r)}
    for i in (1, 2):
        write_model(r, "models/clf.bin", f"e{i}")
        git(r.parent, "add", str(r / "models/clf.bin"), env=env)
        proc = git(r.parent, "commit", "-q", "-m", f"e{i}", env=env)
        assert f"registered clf v0.1.{i-1}" in proc.stderr, proc.stderr
        assert tags(r)[f"clf@v0.1.{i-1}"] == head(r)
    _verified(r)


def test_an_untracked_dvc_yaml_beside_not_above_the_model(git_model_repo: Path) -> None:
    """A declaration the commit does not hold (pipelines/dvc.yaml, untracked, declares
    ../models/gbm.bin) registers nothing, as before issue 14 (the shell hook never saw it
    either); once it is committed, verify names the unregistered content with its repair."""
    r = git_model_repo
    write_model(r, "pipelines/dvc.yaml", "artifacts:\n  gbm:\n    path: ../models/gbm.bin\n    type: model\n")
    write_model(r, "models/gbm.bin", "g1")
    git(r, "add", "models/gbm.bin")
    assert "registered" not in git(r, "commit", "-q", "-m", "gbm").stderr
    git(r, "add", "pipelines/dvc.yaml")
    git(r, "commit", "-q", "-m", "declare")
    proc = mvtools(r, "verify", check=False)
    assert proc.returncode == 1 and "unregistered" in proc.stdout
    assert "run: mvtools register pipelines:gbm" in proc.stdout
    mvtools(r, "register", "pipelines:gbm")
    _verified(r)


def test_a_dvc_yaml_staged_in_the_same_commit(git_model_repo: Path) -> None:
    r = git_model_repo
    write_model(r, "pipelines/dvc.yaml", "artifacts:\n  gbm:\n    path: ../models/gbm.bin\n    type: model\n")
    write_model(r, "models/gbm.bin", "g1")
    git(r, "add", "models/gbm.bin", "pipelines/dvc.yaml")
    proc = git(r, "commit", "-q", "-m", "gbm")
    assert "registered pipelines:gbm v0.1.0" in proc.stderr, proc.stderr
    _verified(r)


def test_an_aborted_commit_then_a_retry(git_model_repo: Path) -> None:
    r = git_model_repo
    hook = r / ".git" / "hooks" / "commit-msg"
    hook.write_text("#!/bin/sh\ngrep -q ok \"$1\"\n")
    hook.chmod(0o755)
    write_model(r, "models/clf.bin", "v1")
    git(r, "add", "models/clf.bin")
    proc = git(r, "commit", "-q", "-m", "bad", check=False)
    assert proc.returncode != 0
    proc = git(r, "commit", "-q", "-m", "ok")
    assert tags(r)["clf@v0.1.0"] == head(r), proc.stderr
    _verified(r)


@pytest.mark.slow
def test_bulk_verify_agrees_on_odd_histories(repo: Path) -> None:
    """Octopus merges, an orphan branch with a ledger of its own, a replace ref and a graft,
    a model path with spaces and unicode, a ledger renamed by hand."""
    from test_verify_bulk import _same

    r = repo
    mvtools(r, "init")
    cfg = (r / "mvtools.yaml").read_text().replace("models: []", "models:\n  - name: clf\n    path: m dir/clf é.bin")
    (r / "mvtools.yaml").write_text(cfg)
    git(r, "add", "-A")
    git(r, "commit", "-q", "-m", "set up")

    def reg(content: str, msg: str) -> None:
        write_model(r, "m dir/clf é.bin", content)
        git(r, "add", "-A")
        git(r, "commit", "-q", "-m", msg)

    reg("v1", "v1")
    assert _same(r) == []
    for b in ("a", "b", "c"):
        git(r, "checkout", "-q", "-b", b, "main")
        write_model(r, f"{b}.txt", b)
        git(r, "add", "-A")
        git(r, "commit", "-q", "-m", b)
    git(r, "checkout", "-q", "main")
    reg("v2", "v2")
    git(r, "merge", "-q", "--no-edit", "a", "b", "c")  # octopus
    _same(r)
    git(r, "checkout", "-q", "--orphan", "lonely")
    git(r, "rm", "-rq", "--cached", ".")
    git(r, "clean", "-fdxq", "-e", "mvtools.yaml")
    git(r, "add", "mvtools.yaml")
    git(r, "commit", "-q", "--no-verify", "-m", "orphan root")
    reg("o1", "orphan v")
    git(r, "checkout", "-q", "-f", "main")
    git(r, "merge", "-q", "--no-edit", "--allow-unrelated-histories", "-X", "ours", "lonely", check=False)
    git(r, "merge", "--abort", check=False)
    _same(r)
    first = git(r, "rev-list", "--max-parents=0", "HEAD").stdout.split()[0]
    v2 = git(r, "log", "-1", "--format=%H", "--grep=^v2$").stdout.strip()
    git(r, "replace", "--graft", v2, first)
    _same(r)
    git(r, "replace", "-d", v2)
    led = [p for p in git(r, "ls-files", "-z").stdout.split("\0") if p.endswith("clf.yaml")][0]
    git(r, "mv", led, led.replace("clf.yaml", "clf2.yaml"))
    git(r, "commit", "-q", "--no-verify", "-m", "renamed")
    _same(r)


@pytest.mark.slow
def test_bulk_verify_sees_a_dropping_merge_in_a_registry_folder_with_a_space(repo: Path) -> None:
    """The per-commit walk before issue 14 split `git diff-tree` output on whitespace (and
    read git's C-quoted unicode names): a merge dropping events of `reg istry/clf.yaml` went
    unreported. The bulk reader reads -z records."""
    r = repo
    mvtools(r, "init")
    cfg = (r / "mvtools.yaml").read_text().replace("models: []", "models:\n  - name: clf\n    path: models/clf.bin")
    (r / "mvtools.yaml").write_text(cfg + "registry_dir: 'reg istry/ü'\n")
    git(r, "add", "-A")
    git(r, "commit", "-q", "-m", "set up")
    git(r, "checkout", "-q", "-b", "side")
    write_model(r, "models/clf.bin", "side")
    git(r, "add", "-A")
    assert "registered clf v0.1.0" in git(r, "commit", "-q", "-m", "side").stderr
    git(r, "checkout", "-q", "main")
    git(r, "merge", "-q", "--no-edit", "-s", "ours", "side")
    proc = mvtools(r, "verify", check=False)
    assert proc.returncode == 1 and "rewrite" in proc.stdout and "restore-events clf" in proc.stdout, proc.stdout


def test_two_worktrees_committing_at_once_get_distinct_versions_and_tags(git_model_repo: Path) -> None:
    """Two `git commit`s registering the same model in two worktrees at once: the registry
    lock and the reservations give each its own version; each post-commit tags its own."""
    import subprocess

    r = git_model_repo
    wts = [r.parent / "w1", r.parent / "w2"]
    for i, wt in enumerate(wts):
        git(r, "worktree", "add", "-q", "-b", f"b{i}", str(wt))
        write_model(wt, "models/clf.bin", f"race {i}")
        git(wt, "add", "models/clf.bin")
    procs = [subprocess.Popen(["git", "commit", "-q", "-m", "race"], cwd=wt, stderr=subprocess.PIPE, text=True)
             for wt in wts]
    errs = [p.communicate()[1] for p in procs]
    assert all(p.returncode == 0 for p in procs), errs
    t = tags(r)
    assert {t.get("clf@v0.1.0"), t.get("clf@v0.1.1")} == {head(wts[0]), head(wts[1])}, (t, errs)
    for wt in wts:
        _verified(wt)


def test_relative_git_dir_from_a_subfolder(git_model_repo: Path) -> None:
    r = git_model_repo
    (r / "src").mkdir()
    env = {"GIT_DIR": "../.git", "GIT_WORK_TREE": ".."}
    write_model(r, "models/clf.bin", "rel")
    git(r / "src", "add", "../models/clf.bin", env=env)
    proc = git(r / "src", "commit", "-q", "-m", "rel", env=env)
    assert "registered clf v0.1.0" in proc.stderr, proc.stderr
    assert tags(r)["clf@v0.1.0"] == head(r)
    _verified(r)


def test_a_commit_killed_after_pre_commit_then_retried(git_model_repo: Path) -> None:
    """git killed between pre-commit and post-commit (its pending plan left behind, its
    version reserved): the retried commit keeps the number and tags it; nothing is lost."""
    r = git_model_repo
    hook = r / ".git" / "hooks" / "commit-msg"
    hook.write_text("#!/bin/sh\nkill -9 $PPID\nsleep 1\n")
    hook.chmod(0o755)
    write_model(r, "models/clf.bin", "v1")
    git(r, "add", "models/clf.bin")
    proc = git(r, "commit", "-q", "-m", "killed", check=False)
    assert proc.returncode != 0
    hook.unlink()
    (r / ".git" / "index.lock").unlink(missing_ok=True)
    proc = git(r, "commit", "-q", "-m", "again")
    assert tags(r)["clf@v0.1.0"] == head(r), proc.stderr
    _verified(r)
    write_model(r, "models/clf.bin", "v2")
    git(r, "add", "models/clf.bin")
    proc = git(r, "commit", "-q", "-m", "v2")
    assert tags(r)["clf@v0.1.1"] == head(r), proc.stderr


def test_a_killed_commit_abandoned_frees_nothing_it_should_not(git_model_repo: Path) -> None:
    """The same, but the user unstages the ledger and commits the model again later: the
    new commit registers (a number the dead commit reserved is not reused for other bytes)."""
    r = git_model_repo
    hook = r / ".git" / "hooks" / "commit-msg"
    hook.write_text("#!/bin/sh\nkill -9 $PPID\nsleep 1\n")
    hook.chmod(0o755)
    write_model(r, "models/clf.bin", "v1")
    git(r, "add", "models/clf.bin")
    git(r, "commit", "-q", "-m", "killed", check=False)
    hook.unlink()
    git(r, "reset", "-q")
    git(r, "checkout", "--", "registry", check=False)
    git(r, "clean", "-fdq", "registry")
    write_model(r, "models/clf.bin", "other")
    git(r, "add", "models/clf.bin")
    proc = git(r, "commit", "-q", "-m", "other")
    assert "registered clf" in proc.stderr, proc.stderr
    _verified(r)


def test_rebase_with_exec_keeps_tags_on_the_rewritten_commits(git_model_repo: Path) -> None:
    r = git_model_repo
    for i in range(2):
        write_model(r, "models/clf.bin", f"v{i}")
        git(r, "add", "models/clf.bin")
        git(r, "commit", "-q", "-m", f"v{i}")
    git(r, "rebase", "-q", "-i", "--force-rebase", "--exec", "true", "HEAD~3",
        env={"GIT_SEQUENCE_EDITOR": "true"})
    t = tags(r)
    assert t["clf@v0.1.1"] == head(r)
    assert t["clf@v0.1.0"] == git(r, "rev-parse", "HEAD~1").stdout.strip()
    _verified(r)


def test_a_submodule_registers_and_tags(git_model_repo: Path, tmp_path: Path) -> None:
    """mvtools in a submodule's checkout (.git is a gitfile into the superproject's modules)."""
    sup = tmp_path / "super"
    sup.mkdir()
    git(sup, "init", "-q", "-b", "main")
    git(sup, "-c", "protocol.file.allow=always", "submodule", "add", "-q", str(git_model_repo), "sub")
    git(sup, "commit", "-q", "-m", "sub")
    sub = sup / "sub"
    assert (sub / ".git").is_file()
    mvtools(sub, "install-hooks")
    for i in range(2):
        write_model(sub, "models/clf.bin", f"s{i}")
        git(sub, "add", "models/clf.bin")
        proc = git(sub, "commit", "-q", "-m", f"s{i}")
        assert f"registered clf v0.1.{i}" in proc.stderr, proc.stderr
        assert tags(sub)[f"clf@v0.1.{i}"] == head(sub)
    _verified(sub)


def test_an_amend_that_changes_the_model_again(git_model_repo: Path) -> None:
    """`git commit -a --amend` with new model bytes: the amended commit's version holds the
    new bytes (one sha256 per version, forever) and its tag points at the new commit."""
    r = git_model_repo
    write_model(r, "models/clf.bin", "v1")
    git(r, "add", "models/clf.bin")
    git(r, "commit", "-q", "-m", "m1")
    write_model(r, "models/clf.bin", "v1 fixed")
    proc = git(r, "commit", "-q", "-a", "--amend", "--no-edit")
    t = tags(r)
    assert any(t.get(f"clf@v0.1.{i}") == head(r) for i in (0, 1)), (t, proc.stderr)
    _verified(r)


def test_stash_then_commit(git_model_repo: Path) -> None:
    r = git_model_repo
    write_model(r, "models/clf.bin", "v1")
    git(r, "add", "models/clf.bin")
    git(r, "stash", "-q")
    write_model(r, "notes.txt", "n")
    git(r, "add", "notes.txt")
    git(r, "commit", "-q", "-m", "notes")
    git(r, "stash", "pop", "-q", "--index")
    proc = git(r, "commit", "-q", "-m", "m1")
    assert "registered clf v0.1.0" in proc.stderr, proc.stderr
    assert tags(r)["clf@v0.1.0"] == head(r)
    _verified(r)


def test_cherry_pick_of_a_registering_commit(git_model_repo: Path) -> None:
    r = git_model_repo
    git(r, "checkout", "-q", "-b", "side")
    write_model(r, "models/clf.bin", "v1")
    git(r, "add", "models/clf.bin")
    git(r, "commit", "-q", "-m", "m1")
    git(r, "checkout", "-q", "main")
    proc = git(r, "cherry-pick", "side", check=False)
    assert proc.returncode == 0, proc.stderr
    _verified(r)


def test_core_hooks_path(git_model_repo: Path) -> None:
    r = git_model_repo
    git(r, "config", "core.hooksPath", ".githooks")
    mvtools(r, "install-hooks")
    write_model(r, "models/clf.bin", "v1")
    git(r, "add", "models/clf.bin")
    proc = git(r, "commit", "-q", "-m", "m1")
    assert "registered clf v0.1.0" in proc.stderr, proc.stderr
    assert tags(r)["clf@v0.1.0"] == head(r)
    write_model(r, "notes.txt", "n")
    git(r, "add", "notes.txt")
    git(r, "commit", "-q", "-m", "n")
    write_model(r, "models/clf.bin", "v2")
    git(r, "add", "models/clf.bin")
    proc = git(r, "commit", "-q", "-m", "m2")
    assert tags(r)["clf@v0.1.1"] == head(r), proc.stderr
    _verified(r)


def _refusing_commit_msg(r: Path) -> Path:
    hook = r / ".git" / "hooks" / "commit-msg"
    hook.write_text("#!/bin/sh\nexit 1\n")
    hook.chmod(0o755)
    return hook


def test_a_refused_message_then_no_verify_tags_from_the_committed_ledger(git_model_repo: Path) -> None:
    r = git_model_repo
    hook = _refusing_commit_msg(r)
    write_model(r, "models/clf.bin", "v1")
    git(r, "add", "models/clf.bin")
    assert git(r, "commit", "-q", "-m", "x", check=False).returncode != 0
    hook.unlink()
    proc = git(r, "commit", "-q", "--no-verify", "-m", "m1")
    assert tags(r).get("clf@v0.1.0") == head(r), proc.stderr
    _verified(r)


def test_a_stale_plan_never_tags_a_commit_without_the_event(git_model_repo: Path) -> None:
    """An aborted registering commit leaves its plan; an unrelated commit (no pre-commit)
    must not get the tag."""
    r = git_model_repo
    hook = _refusing_commit_msg(r)
    write_model(r, "models/clf.bin", "v1")
    git(r, "add", "models/clf.bin")
    assert git(r, "commit", "-q", "-m", "x", check=False).returncode != 0
    hook.unlink()
    git(r, "reset", "-q", "--hard")
    write_model(r, "notes.txt", "n")
    git(r, "add", "notes.txt")
    proc = git(r, "commit", "-q", "--no-verify", "-m", "n")
    assert "clf@v0.1.0" not in tags(r), proc.stderr
    _verified(r)
    write_model(r, "models/clf.bin", "v2")
    git(r, "add", "models/clf.bin")
    proc = git(r, "commit", "-q", "-m", "m2")
    assert "registered clf" in proc.stderr
    _verified(r)


def test_a_partial_commit_of_a_dvc_model(dvc_model_repo: Path) -> None:
    """`git commit PATH` (git's temporary index) and `git commit -a` of a DVC-tracked model."""
    from conftest import dvc

    r = dvc_model_repo
    write_model(r, "models/net.bin", "n1")
    dvc(r, "add", "-q", "models/net.bin")
    git(r, "add", "models/.gitignore", "models/net.bin.dvc")
    git(r, "commit", "-q", "-m", "n1")
    assert tags(r)["net@v0.1.0"] == head(r)
    write_model(r, "models/net.bin", "n2")
    dvc(r, "add", "-q", "models/net.bin")
    write_model(r, "notes.txt", "n")
    git(r, "add", "notes.txt")
    proc = git(r, "commit", "-q", "-m", "net", "models/net.bin.dvc")
    assert "registered net v0.1.1" in proc.stderr, proc.stderr
    assert tags(r)["net@v0.1.1"] == head(r)
    assert "notes.txt" not in git(r, "show", "--name-only", "--format=", "HEAD").stdout
    _verified(r)
    write_model(r, "models/net.bin", "n3")
    dvc(r, "add", "-q", "models/net.bin")
    proc = git(r, "commit", "-q", "-a", "-m", "net3")
    assert "registered net v0.1.2" in proc.stderr, proc.stderr
    assert tags(r)["net@v0.1.2"] == head(r)
    assert "registry/net.yaml" not in git(r, "status", "--porcelain").stdout
    _verified(r)


def test_a_dvc_yaml_restored_after_the_watch_data_was_written(git_model_repo: Path) -> None:
    """The watch data was written while team/dvc.yaml had an unstaged edit dropping gbm;
    `git checkout -- team/dvc.yaml` brings gbm back (HEAD declares it): a change to gbm is
    registered, not skipped by the shell hook."""
    r = git_model_repo
    decl = "artifacts:\n  gbm:\n    path: gbm.bin\n    type: model\n"
    write_model(r, "team/dvc.yaml", decl)
    write_model(r, "team/gbm.bin", "g1")
    git(r, "add", "team")
    assert "registered team:gbm v0.1.0" in git(r, "commit", "-q", "-m", "gbm").stderr
    write_model(r, "team/dvc.yaml", "artifacts: {}\n")  # a local edit, not staged
    write_model(r, "models/clf.bin", "v1")
    git(r, "add", "models/clf.bin")
    assert "registered clf v0.1.0" in git(r, "commit", "-q", "-m", "clf").stderr
    git(r, "checkout", "--", "team/dvc.yaml")
    write_model(r, "team/gbm.bin", "g2")
    git(r, "add", "team/gbm.bin")
    proc = git(r, "commit", "-q", "-m", "gbm2")
    assert "registered team:gbm v0.1.1" in proc.stderr, proc.stderr
    _verified(r)
    # and with the watch data fresh again, a commit touching no model still starts no Python
    note = r / ".git" / "mvtools" / "unwatched"
    note.unlink(missing_ok=True)
    write_model(r, "notes.txt", "n")
    git(r, "add", "notes.txt")
    git(r, "commit", "-q", "-m", "notes")
    assert note.exists()  # written by the shell hook, which decided alone


def test_a_params_file_restored_after_the_watch_data_was_written(git_model_repo: Path) -> None:
    """The same through the params file a dvc.yaml interpolates its artifact's path from."""
    r = git_model_repo
    write_model(r, "team/dvc.yaml", "artifacts:\n  gbm:\n    path: ${gbm_path}\n    type: model\n")
    write_model(r, "team/params.yaml", "gbm_path: gbm.bin\n")
    write_model(r, "team/gbm.bin", "g1")
    git(r, "add", "team")
    assert "registered team:gbm v0.1.0" in git(r, "commit", "-q", "-m", "gbm").stderr
    write_model(r, "team/params.yaml", "gbm_path: elsewhere.bin\n")  # a local edit, not staged
    write_model(r, "models/clf.bin", "v1")
    git(r, "add", "models/clf.bin")
    git(r, "commit", "-q", "-m", "clf")
    git(r, "checkout", "--", "team/params.yaml")
    write_model(r, "team/gbm.bin", "g2")
    git(r, "add", "team/gbm.bin")
    proc = git(r, "commit", "-q", "-m", "gbm2")
    assert "registered team:gbm v0.1.1" in proc.stderr, proc.stderr
    _verified(r)


def test_an_unstaged_edit_of_a_committed_dvc_yaml_does_not_hide_its_model(git_model_repo: Path) -> None:
    r = git_model_repo
    write_model(r, "team/dvc.yaml", "artifacts:\n  gbm:\n    path: gbm.bin\n    type: model\n")
    write_model(r, "team/gbm.bin", "g1")
    git(r, "add", "team")
    assert "registered team:gbm v0.1.0" in git(r, "commit", "-q", "-m", "gbm").stderr
    write_model(r, "team/dvc.yaml", "artifacts: {}\n")  # a local edit, not staged
    write_model(r, "team/gbm.bin", "g2")
    git(r, "add", "team/gbm.bin")
    proc = git(r, "commit", "-q", "-m", "gbm2")  # the commit's dvc.yaml still declares gbm
    assert "registered team:gbm v0.1.1" in proc.stderr, proc.stderr
    assert (r / "team/dvc.yaml").read_text() == "artifacts: {}\n"  # the unstaged edit is left alone
    write_model(r, "team/gbm.bin", "g3")  # the watch data written meanwhile still watches gbm
    git(r, "add", "team/gbm.bin")
    assert "registered team:gbm v0.1.2" in git(r, "commit", "-q", "-m", "gbm3").stderr
    assert json.loads(mvtools(r, "verify", "--json").stdout)["ok"]


@pytest.mark.slow
def test_bulk_verify_agrees_on_a_shallow_clone(git_model_repo: Path, tmp_path: Path) -> None:
    from test_verify_bulk import _same

    r = git_model_repo
    for i in range(4):
        write_model(r, "models/clf.bin", f"v{i}")
        git(r, "add", "models/clf.bin")
        git(r, "commit", "-q", "-m", f"v{i}")
    c = tmp_path / "shallow"
    git(tmp_path, "clone", "-q", "--depth", "2", f"file://{r}", str(c))
    git(c, "fetch", "-q", "--tags", "--depth", "2")
    _same(c)


@pytest.mark.slow
def test_a_separate_git_dir(tmp_path: Path) -> None:
    """`git init --separate-git-dir`: .git is a gitfile; the hooks find the git dir via git."""
    from conftest import set_up_mvtools

    r = tmp_path / "work"
    r.mkdir()
    git(r, "init", "-q", "-b", "main", "--separate-git-dir", str(tmp_path / "store.git"))
    write_model(r, "README.md", "d\n")
    git(r, "add", "README.md")
    git(r, "commit", "-q", "-m", "initial")
    set_up_mvtools(r, "models:\n  - name: clf\n    path: models/clf.bin")
    assert (r / ".git").is_file()
    for i in range(2):
        write_model(r, "models/clf.bin", f"s{i}")
        git(r, "add", "models/clf.bin")
        proc = git(r, "commit", "-q", "-m", f"s{i}")
        assert f"registered clf v0.1.{i}" in proc.stderr, proc.stderr
        assert tags(r)[f"clf@v0.1.{i}"] == head(r)
        write_model(r, "notes.txt", f"n{i}")
        git(r, "add", "notes.txt")
        git(r, "commit", "-q", "-m", f"n{i}")
    assert (tmp_path / "store.git" / "mvtools" / "unwatched").exists()
    _verified(r)
