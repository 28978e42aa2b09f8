"""Review of the cheaper pre-commit path (issue 14a): attacks on what it now trusts instead
of asking git (the ./.git layout, HEAD and the staged paths the shell hook read, the index
read as the base commit but for the staged paths, one batched `git diff` for "does the
work tree differ from the index", os._exit at the end). Real git only."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from conftest import BIN, git, head, ledger_events, mvtools, set_up_mvtools, tags, write_model


def _verified(r: Path) -> None:
    proc = mvtools(r, "verify", check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def _commit(r: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return git(r, "commit", "-q", *args, check=check)


# -- "does the work tree differ from the index": a content check (git diff), never a stat one
def test_a_work_tree_copy_that_cleans_to_the_index_is_not_a_half_staged_model(git_model_repo: Path) -> None:
    """core.autocrlf: the model rewritten with CRLF after `git add` cleans to the staged blob
    (git diff: no difference); its size differs, so a stat check (`ls-files -m`) calls it
    modified. The
    commit stages all of the model and must register it, as before the listing."""
    r = git_model_repo
    git(r, "config", "core.autocrlf", "true")
    write_model(r, "models/clf.bin", "w1\nw2\n")
    git(r, "add", "models/clf.bin")
    write_model(r, "models/clf.bin", "w1\r\nw2\r\n")
    assert git(r, "diff", "--name-only", "--", "models/clf.bin").stdout == ""
    proc = _commit(r, "-m", "v1", check=False)
    assert proc.returncode == 0, proc.stderr
    assert "registered clf v0.1.0" in proc.stderr
    assert tags(r)["clf@v0.1.0"] == head(r)


@pytest.mark.parametrize("path", ["models/[ab].bin", "models/*.bin", "models/m o d.bin", "models/é.bin",
                                  "models/:(glob)x.bin"])
def test_an_unstaged_edit_of_an_odd_model_path_is_seen_and_a_neighbour_is_not_it(repo: Path, path: str) -> None:
    r = set_up_mvtools(repo, f"models:\n  - name: odd\n    path: '{path}'")
    write_model(r, "models/a.bin", "neighbour")  # matches [ab].bin and *.bin as a glob
    git(r, "add", "models/a.bin")
    _commit(r, "-m", "neighbour")
    write_model(r, path, "v1")
    git(r, "add", "--", path)
    write_model(r, "models/a.bin", "neighbour edited, not staged")
    proc = _commit(r, "-m", "v1", check=False)
    assert proc.returncode == 0, proc.stderr
    assert "registered odd v0.1.0" in proc.stderr
    write_model(r, path, "v2")
    git(r, "add", "--", path)
    write_model(r, path, "v2 and an unstaged edit")
    proc = _commit(r, "-m", "v2", check=False)
    assert proc.returncode != 0 and "differs between the index and the work tree" in proc.stderr
    os.unlink(r / path)  # an unstaged deletion is a difference too
    proc = _commit(r, "-m", "v2", check=False)
    assert proc.returncode != 0 and "differs between the index and the work tree" in proc.stderr


def _dvc_yaml_model_staged(repo: Path) -> Path:
    """A model a dvc.yaml declares, its v1 staged."""
    r = set_up_mvtools(repo, "models: []")
    (r / "dvc.yaml").write_text("artifacts:\n  tok:\n    path: models/tok.txt\n    type: model\n")
    git(r, "add", "dvc.yaml")
    _commit(r, "-m", "declare")
    write_model(r, "models/tok.txt", "v1\n")
    git(r, "add", "models/tok.txt")
    return r


def test_an_unstaged_edit_of_a_model_declared_in_a_dvc_yaml_is_seen(repo: Path) -> None:
    """A dvc.yaml's models are in the hook's one git diff too."""
    r = _dvc_yaml_model_staged(repo)
    write_model(r, "models/tok.txt", "v1 and more\n")
    proc = _commit(r, "-m", "v1", check=False)
    assert proc.returncode != 0 and "differs between the index and the work tree" in proc.stderr
    git(r, "add", "models/tok.txt")
    proc = _commit(r, "-m", "v1", check=False)
    assert "registered tok v0.1.0" in proc.stderr


def test_an_unstaged_edit_of_a_dvc_yaml_declaring_nothing_yet_is_read_from_the_index(repo: Path) -> None:
    """A dvc.yaml whose work-tree copy drops the declaration (unstaged): the commit declares it."""
    r = set_up_mvtools(repo, "models: []")
    (r / "dvc.yaml").write_text("artifacts:\n  tok:\n    path: models/tok.txt\n    type: model\n")
    write_model(r, "models/tok.txt", "v1\n")
    git(r, "add", "dvc.yaml", "models/tok.txt")
    (r / "dvc.yaml").write_text("stages: {}\n")
    proc = _commit(r, "-m", "v1", check=False)
    assert "registered tok v0.1.0" in proc.stderr, proc.stderr


# -- the staged paths the shell listed: anything that changes the index after the listing --------
def test_a_chained_hook_that_stages_the_model_registers_it(git_model_repo: Path) -> None:
    r = git_model_repo
    chained = r / ".git" / "hooks" / "pre-commit.mvtools-chained"
    chained.write_text("#!/bin/sh\nmkdir -p models\nprintf 'made by the chained hook' >models/clf.bin\ngit add models/clf.bin\n")
    chained.chmod(0o755)
    for i in range(2):  # the second: the shell hook's watch data is in place
        write_model(r, "README.md", f"readme {i}")
        git(r, "add", "README.md")
        proc = _commit(r, "-m", f"c{i}", check=False)
        assert proc.returncode == 0, proc.stderr
        chained.write_text(chained.read_text().replace("hook'", f"hook {i}'"))
    assert [e["version"] for e in ledger_events(r) if e["event"] == "register"] == ["v0.1.0", "v0.1.1"]
    _verified(r)


def test_a_model_replaced_by_a_symlink_is_refused_as_one(git_model_repo: Path) -> None:
    """The staged typechange is read from the index (a symlink), not from the base commit."""
    r = git_model_repo
    write_model(r, "models/clf.bin", "v1")
    git(r, "add", "models/clf.bin")
    _commit(r, "-m", "v1")
    write_model(r, "models/real.bin", "real bytes")
    os.unlink(r / "models/clf.bin")
    os.symlink("real.bin", r / "models/clf.bin")
    git(r, "add", "models")
    proc = _commit(r, "-m", "symlinked", check=False)
    assert proc.returncode != 0 and "models/clf.bin: is a symlink" in proc.stderr, proc.stderr
    assert proc.stderr.count("\n") == 1


def test_a_merge_concluded_by_git_commit_reads_the_merged_index(git_model_repo: Path) -> None:
    r = git_model_repo
    git(r, "checkout", "-q", "-b", "side")
    write_model(r, "models/clf.bin", "side")
    git(r, "add", "models/clf.bin")
    _commit(r, "-m", "side")
    git(r, "checkout", "-q", "main")
    write_model(r, "other.txt", "main")
    git(r, "add", "other.txt")
    _commit(r, "-m", "main")
    git(r, "merge", "-q", "--no-commit", "--no-ff", "side")
    write_model(r, "models/clf.bin", "merged differently")
    git(r, "add", "models/clf.bin")
    proc = _commit(r, "--no-edit", check=False)
    assert proc.returncode == 0, proc.stderr
    assert "registered clf v0.1.1" in proc.stderr
    _verified(r)


# -- os._exit at the end of the hook process ----------------------------------------------------
def test_a_hook_run_with_its_output_closed_still_exits_with_its_code(git_model_repo: Path) -> None:
    """Python makes sys.stdout None when fd 1 is closed: the quick exit must not trip on it."""
    r = git_model_repo
    for hook in ("pre-commit", "post-commit"):
        proc = subprocess.run([str(BIN / "mvtools"), "hook", hook], cwd=r, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, text=True, pass_fds=(), close_fds=True,
                              preexec_fn=lambda: os.close(1))
        assert proc.returncode == 0, proc.stderr


# -- the committer's global pathspec settings (git --glob-pathspecs / --icase-pathspecs export them)
@pytest.mark.parametrize("flag", ["--glob-pathspecs", "--icase-pathspecs", "--noglob-pathspecs"])
def test_a_half_staged_model_is_refused_under_any_global_pathspec_setting(git_model_repo: Path, flag: str) -> None:
    """GIT_LITERAL_PATHSPECS=1 with the committer's GIT_GLOB_PATHSPECS or GIT_ICASE_PATHSPECS
    is a fatal git error: an empty answer read as "no difference" registered the work tree's
    unstaged bytes as the committed version's sha256."""
    r = git_model_repo
    write_model(r, "models/clf.bin", "staged")
    git(r, "add", "models/clf.bin")
    write_model(r, "models/clf.bin", "not staged")
    proc = git(r, flag, "commit", "-q", "-m", "half", check=False)
    assert proc.returncode != 0, proc.stderr
    assert "models/clf.bin differs between the index and the work tree" in proc.stderr
    assert "clf@v0.1.0" not in tags(r)


@pytest.mark.parametrize("flag", ["--glob-pathspecs", "--icase-pathspecs"])
def test_an_unstaged_config_edit_is_seen_under_any_global_pathspec_setting(repo: Path, flag: str) -> None:
    """An unstaged edit of mvtools.yaml that drops the model: the commit declares it."""
    r = set_up_mvtools(repo, "models:\n  - name: clf\n    path: models/clf.bin")
    write_model(r, "models/clf.bin", "v1")
    git(r, "add", "models/clf.bin")
    cfg = (r / "mvtools.yaml").read_text()
    (r / "mvtools.yaml").write_text(cfg.replace("name: clf", "name: renamed_in_work_tree"))
    proc = git(r, flag, "commit", "-q", "-m", "v1", check=False)
    assert "registered clf v0.1.0" in proc.stderr, proc.stderr


@pytest.mark.parametrize("flag", ["--glob-pathspecs", "--icase-pathspecs"])
def test_a_half_staged_dvc_yaml_model_is_refused_under_any_global_pathspec_setting(repo: Path, flag: str) -> None:
    """The hook's git diff runs with literal pathspecs whatever the committer's git exported
    (with GIT_LITERAL_PATHSPECS=1, GIT_GLOB/ICASE_PATHSPECS are fatal: an empty answer)."""
    r = _dvc_yaml_model_staged(repo)
    write_model(r, "models/tok.txt", "v1 and an unstaged edit\n")
    proc = git(r, flag, "commit", "-q", "-m", "v1", check=False)
    assert proc.returncode != 0 and "differs between the index and the work tree" in proc.stderr, proc.stderr
    assert "tok@v0.1.0" not in tags(r)


# -- found while attacking, not made by the hook work (main does the same) ----------------------
@pytest.mark.xfail(strict=True, reason="pre-existing (main too): a git-tracked model is hashed from the work tree; "
                   "under core.autocrlf (or any clean filter) the commit holds other bytes, so the version's sha256 "
                   "is not the committed file's and verify reports the model unregistered. The fix is a design "
                   "choice (hash the index blob? refuse converted files? what of git-lfs, whose work-tree bytes "
                   "are the model) for the lead")
def test_a_git_tracked_text_model_under_autocrlf_registers_the_committed_bytes(git_model_repo: Path) -> None:
    import hashlib

    r = git_model_repo
    git(r, "config", "core.autocrlf", "true")
    write_model(r, "models/clf.bin", "w1\r\nw2\r\n")  # as an editor on Windows writes it; git stores LF
    git(r, "add", "models/clf.bin")
    proc = _commit(r, "-m", "v1", check=False)
    assert proc.returncode == 0, proc.stderr
    committed = git(r, "cat-file", "blob", "HEAD:models/clf.bin").stdout.encode()
    ev = next(e for e in ledger_events(r) if e["event"] == "register")
    assert ev["sha256"] == hashlib.sha256(committed).hexdigest()
    _verified(r)
